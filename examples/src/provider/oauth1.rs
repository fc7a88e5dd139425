//! The OAuth 1.0a provider (RFC 5849): the three endpoints of the dance (§2) and a protected
//! resource, each request verified with oauth-core's verifier (§3.2), plus the timestamp window
//! and nonce replay checks the verifier leaves to the server (§3.3).

use std::sync::Arc;
use std::time::SystemTime;

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE, HOST, LOCATION, WWW_AUTHENTICATE};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use oauth_core::encode::form_decode;
use oauth_core::oauth1::{
    IncomingRequest, ProtocolParameters, ReplayError, SigningSecrets, UnverifiedRequest, VerifyKey,
    is_form_content_type,
};
use oauth_core::secret::{ConsumerSecret, TokenSecret, constant_time_eq};

use super::DEMO_USER;
use super::state::{AccessCredentials, Shared, TempCredentials};

/// Which credentials a request must be signed with.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Stage {
    /// Client credentials only (§2.1).
    Temporary,
    /// Authorized temporary credentials (§2.3).
    TokenRequest,
    /// Token credentials (§3).
    Resource,
}

/// A 401 carrying an `oauth_problem` (the OAuth Problem Reporting extension).
fn problem(status: StatusCode, problem: &'static str) -> Response {
    let mut response = (
        status,
        [(CONTENT_TYPE, "application/x-www-form-urlencoded")],
        format!("oauth_problem={problem}"),
    )
        .into_response();
    if let Ok(value) = HeaderValue::from_str(&format!(
        "OAuth realm=\"demo\", oauth_problem=\"{problem}\""
    )) {
        response.headers_mut().insert(WWW_AUTHENTICATE, value);
    }
    response
}

fn form_response(pairs: &[(&str, &str)]) -> Response {
    let mut s = form_urlencoded::Serializer::new(String::new());
    for (n, v) in pairs {
        s.append_pair(n, v);
    }
    (
        StatusCode::OK,
        [(CONTENT_TYPE, "application/x-www-form-urlencoded")],
        s.finish(),
    )
        .into_response()
}

/// A verified request.
struct Verified {
    params: ProtocolParameters,
    placement: &'static str,
}

/// Verifies the signature of a request at `stage`, then its timestamp and nonce.
fn verify(
    shared: &Shared,
    stage: Stage,
    parts: &Parts,
    body: &[u8],
) -> Result<Verified, Box<Response>> {
    let unauthorized = |p| Box::new(problem(StatusCode::UNAUTHORIZED, p));
    if !parts.headers.contains_key(HOST) {
        return Err(Box::new(problem(
            StatusCode::BAD_REQUEST,
            "parameter_absent",
        )));
    }
    // The demo serves plain http on 127.0.0.1.
    let incoming = IncomingRequest::from_parts(parts, "http", body);
    let placement = if parts
        .headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.len() > 6 && v[..6].eq_ignore_ascii_case("OAuth "))
    {
        "header"
    } else if parts
        .uri
        .query()
        .is_some_and(|q| q.contains("oauth_signature="))
    {
        "query"
    } else {
        "body"
    };
    let request =
        UnverifiedRequest::parse(incoming).map_err(|_| unauthorized("parameter_absent"))?;
    let consumer_key = request.consumer_key().to_owned();
    let consumer_secret = shared
        .consumer_secret(&consumer_key)
        .map(ConsumerSecret::new)
        .ok_or_else(|| unauthorized("consumer_key_unknown"))?;
    let token_secret = {
        let db = shared.db();
        match (stage, request.token()) {
            (Stage::Temporary, None) => None,
            (Stage::Temporary, Some(_)) => return Err(unauthorized("token_rejected")),
            (Stage::TokenRequest, Some(token)) => match db.temp.get(token) {
                Some(temp) if temp.consumer_key == consumer_key && temp.verifier.is_some() => {
                    Some(TokenSecret::new(temp.secret.clone()))
                }
                _ => return Err(unauthorized("token_rejected")),
            },
            (Stage::Resource, Some(token)) => match db.oauth1_tokens.get(token) {
                Some(creds) if creds.consumer_key == consumer_key => {
                    Some(TokenSecret::new(creds.secret.clone()))
                }
                _ => return Err(unauthorized("token_rejected")),
            },
            (_, None) => return Err(unauthorized("parameter_absent")),
        }
    };
    let params = request
        .verify(VerifyKey::Secrets(SigningSecrets {
            consumer_secret: &consumer_secret,
            token_secret: token_secret.as_ref(),
        }))
        .map_err(|_| unauthorized("signature_invalid"))?;
    // The timestamp window and replay (RFC 5849 §3.3), after the signature, so unsigned
    // requests cannot use up nonces.
    shared
        .replay
        .check(&params, SystemTime::now())
        .map_err(|error| {
            unauthorized(match error {
                ReplayError::TimestampOutOfWindow => "timestamp_refused",
                ReplayError::NonceReused => "nonce_used",
                ReplayError::NonceTooLong => "parameter_rejected",
                _ => "parameter_absent",
            })
        })?;
    Ok(Verified { params, placement })
}

/// `POST /oauth1/request_token` (RFC 5849 §2.1).
pub(crate) async fn request_token(
    State(shared): State<Arc<Shared>>,
    parts: Parts,
    body: Bytes,
) -> Response {
    let verified = match verify(&shared, Stage::Temporary, &parts, &body) {
        Ok(v) => v,
        Err(response) => return *response,
    };
    let Some(callback) = verified.params.callback().map(str::to_owned) else {
        return problem(StatusCode::BAD_REQUEST, "parameter_absent");
    };
    let absolute = callback.starts_with("http://") || callback.starts_with("https://");
    if callback != "oob" && !absolute {
        return problem(StatusCode::BAD_REQUEST, "parameter_rejected");
    }
    let consumer_key = verified.params.consumer_key().to_owned();
    shared.count(&consumer_key, |s| s.token_requests += 1);
    let token = shared.opaque("tmp_", 16);
    let secret = shared.opaque("", 24);
    shared.db().temp.insert(
        token.clone(),
        TempCredentials {
            consumer_key,
            secret: secret.clone(),
            callback,
            verifier: None,
        },
    );
    form_response(&[
        ("oauth_token", &token),
        ("oauth_token_secret", &secret),
        ("oauth_callback_confirmed", "true"),
    ])
}

/// `GET /oauth1/authorize?oauth_token=...` (RFC 5849 §2.2): the resource owner approves at
/// once and is sent to the callback with a verifier.
pub(crate) async fn authorize(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
) -> Response {
    let pairs = form_decode(query.as_deref().unwrap_or("")).unwrap_or_default();
    let Some((_, token)) = pairs.into_iter().find(|(n, _)| n == "oauth_token") else {
        return (StatusCode::BAD_REQUEST, "missing oauth_token\n").into_response();
    };
    let verifier = shared.opaque("v_", 16);
    let callback = {
        let mut db = shared.db();
        let Some(temp) = db.temp.get_mut(&token) else {
            return (StatusCode::BAD_REQUEST, "unknown oauth_token\n").into_response();
        };
        temp.verifier = Some(verifier.clone());
        temp.callback.clone()
    };
    if callback == "oob" {
        return (
            StatusCode::OK,
            format!("Authorized. Your verifier is: {verifier}\n"),
        )
            .into_response();
    }
    let mut query = form_urlencoded::Serializer::new(String::new());
    query.append_pair("oauth_token", &token);
    query.append_pair("oauth_verifier", &verifier);
    let separator = if callback.contains('?') { '&' } else { '?' };
    let location = format!("{callback}{separator}{}", query.finish());
    (StatusCode::FOUND, [(LOCATION, location)]).into_response()
}

/// `POST /oauth1/access_token` (RFC 5849 §2.3).
pub(crate) async fn access_token(
    State(shared): State<Arc<Shared>>,
    parts: Parts,
    body: Bytes,
) -> Response {
    let verified = match verify(&shared, Stage::TokenRequest, &parts, &body) {
        Ok(v) => v,
        Err(response) => return *response,
    };
    let Some(token) = verified.params.token().map(str::to_owned) else {
        return problem(StatusCode::UNAUTHORIZED, "parameter_absent");
    };
    let Some(sent) = verified.params.verifier() else {
        return problem(StatusCode::UNAUTHORIZED, "parameter_absent");
    };
    let consumer_key = verified.params.consumer_key().to_owned();
    let mut db = shared.db();
    // The temporary credentials are spent whatever the outcome.
    let Some(temp) = db.temp.remove(&token) else {
        return problem(StatusCode::UNAUTHORIZED, "token_used");
    };
    let expected = temp.verifier.unwrap_or_default();
    if !constant_time_eq(expected.as_bytes(), sent.secret().as_bytes()) {
        return problem(StatusCode::UNAUTHORIZED, "verifier_invalid");
    }
    let access = shared.opaque("tok_", 16);
    let secret = shared.opaque("", 24);
    db.oauth1_tokens.insert(
        access.clone(),
        AccessCredentials {
            consumer_key: consumer_key.clone(),
            secret: secret.clone(),
            user: DEMO_USER.to_owned(),
        },
    );
    db.stats.entry(consumer_key).or_default().tokens_issued += 1;
    drop(db);
    form_response(&[
        ("oauth_token", &access),
        ("oauth_token_secret", &secret),
        ("user_id", DEMO_USER),
        ("screen_name", "Demo User"),
    ])
}

/// `/api/oauth1/me` (any method): the user's profile, and what the provider saw.
pub(crate) async fn protected(
    State(shared): State<Arc<Shared>>,
    parts: Parts,
    body: Bytes,
) -> Response {
    let verified = match verify(&shared, Stage::Resource, &parts, &body) {
        Ok(v) => v,
        Err(response) => {
            if let Some(key) = consumer_key_hint(&parts.headers) {
                shared.count(&key, |s| s.api_rejections += 1);
            }
            return *response;
        }
    };
    let consumer_key = verified.params.consumer_key().to_owned();
    let user = verified
        .params
        .token()
        .and_then(|t| shared.db().oauth1_tokens.get(t).map(|c| c.user.clone()))
        .unwrap_or_default();
    shared.count(&consumer_key, |s| s.api_calls += 1);
    // The request's own (non-protocol) parameters, from the query and a form body.
    let mut params = serde_json::Map::new();
    let form = parts
        .headers
        .get(CONTENT_TYPE)
        .is_some_and(is_form_content_type);
    let body_text = if form {
        std::str::from_utf8(&body).unwrap_or("")
    } else {
        ""
    };
    for source in [parts.uri.query().unwrap_or(""), body_text] {
        for (name, value) in form_decode(source).unwrap_or_default() {
            if !name.starts_with("oauth_") {
                params.insert(name, value.into());
            }
        }
    }
    let body = serde_json::json!({
        "user": user,
        "method": parts.method.as_str(),
        "placement": verified.placement,
        "signature_method": verified.params.signature_method(),
        "params": params,
    });
    (
        StatusCode::OK,
        [(CONTENT_TYPE, "application/json")],
        body.to_string(),
    )
        .into_response()
}

/// The consumer key of a header-signed request, for counting rejections.
fn consumer_key_hint(headers: &HeaderMap) -> Option<String> {
    let value = headers.get(AUTHORIZATION)?.to_str().ok()?;
    let start = value.find("oauth_consumer_key=\"")? + "oauth_consumer_key=\"".len();
    let end = value[start..].find('"')?;
    Some(value[start..start + end].to_owned())
}
