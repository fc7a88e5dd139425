//! The Bearer-protected API (RFC 6750).

use std::sync::Arc;
use std::time::SystemTime;

use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};

use super::state::Shared;

/// A 401 with an RFC 6750 §3 challenge.
fn unauthorized(challenge: &'static str) -> Response {
    let mut response = (StatusCode::UNAUTHORIZED, "unauthorized\n").into_response();
    response
        .headers_mut()
        .insert(WWW_AUTHENTICATE, HeaderValue::from_static(challenge));
    response
}

/// `GET /api/me`: the profile of the user the token stands for.
pub(crate) async fn me(State(shared): State<Arc<Shared>>, headers: HeaderMap) -> Response {
    let token = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let Some(token) = token else {
        // RFC 6750 §3.1: no error code when the request had no credentials.
        return unauthorized("Bearer realm=\"demo\"");
    };
    let found = shared.db().access_tokens.get(token).cloned();
    let Some((grant, expires_at)) = found else {
        return unauthorized(
            "Bearer realm=\"demo\", error=\"invalid_token\", error_description=\"unknown token\"",
        );
    };
    if SystemTime::now() >= expires_at {
        shared.count(&grant.client_id, |s| s.api_rejections += 1);
        return unauthorized(
            "Bearer realm=\"demo\", error=\"invalid_token\", error_description=\"the access token expired\"",
        );
    }
    shared.count(&grant.client_id, |s| s.api_calls += 1);
    let body = serde_json::json!({
        "sub": grant.user,
        "name": if grant.user == super::DEMO_USER { "Demo User" } else { "Demo Service" },
        "login": grant.user,
        "email": "demo-user@example.invalid",
        "client_id": grant.client_id,
        "scope": grant.scope,
    });
    (
        StatusCode::OK,
        [(CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}
