//! The OAuth 2 authorization server: the authorization endpoint (RFC 6749 §3.1, §4.1.1, §4.2.1)
//! and the token endpoint (§3.2, §4.1.3, §4.3.2, §4.4.2, §6), with PKCE (RFC 7636) and the `iss`
//! callback parameter (RFC 9207).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::header::{
    AUTHORIZATION, CACHE_CONTROL, CONTENT_TYPE, LOCATION, PRAGMA, WWW_AUTHENTICATE,
};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use oauth_core::encode::{form_decode, form_decode_component};
use oauth_core::oauth2::pkce::{PkceMethod, code_challenge, verifier_from_string};
use oauth_core::secret::constant_time_eq;

use super::state::{CodeGrant, Grant, Shared};
use super::{ClientAuthMethod, DEMO_PASSWORD, DEMO_USER, OAuth2Client, Quirk};

/// How long an authorization code lives.
const CODE_LIFETIME: Duration = Duration::from_secs(60);

/// Decodes a query or form body, refusing repeated parameters (RFC 6749 §3.1, §3.2).
fn params(encoded: &str) -> Result<HashMap<String, String>, &'static str> {
    let pairs = form_decode(encoded).map_err(|_| "malformed parameters")?;
    let mut map = HashMap::new();
    for (name, value) in pairs {
        if map.insert(name, value).is_some() {
            return Err("repeated parameter");
        }
    }
    Ok(map)
}

fn bad_request(message: &str) -> Response {
    (StatusCode::BAD_REQUEST, format!("{message}\n")).into_response()
}

/// `redirect_uri` with `params` added to its query (or its fragment, for the implicit grant).
fn redirect(redirect_uri: &str, params: &[(&str, &str)], fragment: bool) -> Response {
    let mut encoded = form_urlencoded::Serializer::new(String::new());
    for (name, value) in params {
        encoded.append_pair(name, value);
    }
    let separator = match (fragment, redirect_uri.contains('?')) {
        (true, _) => '#',
        (false, true) => '&',
        (false, false) => '?',
    };
    let location = format!("{redirect_uri}{separator}{}", encoded.finish());
    (StatusCode::FOUND, [(LOCATION, location)]).into_response()
}

/// `GET /oauth2/authorize`: the resource owner approves at once (a real provider would show a
/// login and consent page here) and is sent back to the redirect URI.
pub(crate) async fn authorize(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
) -> Response {
    let q = match params(query.as_deref().unwrap_or("")) {
        Ok(q) => q,
        Err(e) => return bad_request(e),
    };
    let Some(client) = q.get("client_id").and_then(|id| shared.client(id)) else {
        return bad_request("unknown client_id");
    };
    let Some(redirect_uri) = q.get("redirect_uri") else {
        return bad_request("missing redirect_uri");
    };
    let absolute = redirect_uri.starts_with("https://") || redirect_uri.starts_with("http://");
    if !absolute || redirect_uri.contains('#') {
        return bad_request("redirect_uri must be an absolute http(s) URI without a fragment");
    }
    // From here on, errors go back to the client (RFC 6749 §4.1.2.1).
    let state = q.get("state").map(String::as_str).unwrap_or("");
    let error = |code: &str, description: &str| {
        let mut params = vec![("error", code), ("error_description", description)];
        if !state.is_empty() {
            params.push(("state", state));
        }
        redirect(redirect_uri, &params, false)
    };
    let scope = q.get("scope").cloned();
    match q.get("response_type").map(String::as_str) {
        Some("code") => {
            let challenge = match (q.get("code_challenge"), q.get("code_challenge_method")) {
                (Some(c), Some(m)) if m == PkceMethod::S256.as_str() => Some(c.clone()),
                (Some(_), _) => {
                    return error(
                        "invalid_request",
                        "only code_challenge_method=S256 is supported",
                    );
                }
                (None, _) if client.auth == ClientAuthMethod::None => {
                    return error("invalid_request", "public clients must use PKCE");
                }
                (None, _) => None,
            };
            let code = shared.opaque("code_", 24);
            shared.db().codes.insert(
                code.clone(),
                CodeGrant {
                    client_id: client.id.clone(),
                    redirect_uri: redirect_uri.clone(),
                    code_challenge: challenge,
                    scope,
                    expires_at: SystemTime::now() + CODE_LIFETIME,
                },
            );
            let mut params = vec![("code", code.as_str())];
            if !state.is_empty() {
                params.push(("state", state));
            }
            params.push(("iss", shared.base_url.as_str()));
            redirect(redirect_uri, &params, false)
        }
        Some("token") => {
            if client.auth != ClientAuthMethod::None {
                return error(
                    "unauthorized_client",
                    "the implicit grant is for public clients only",
                );
            }
            let grant = Grant {
                client_id: client.id.clone(),
                user: DEMO_USER.to_owned(),
                scope,
            };
            let (token, _) = issue(&shared, client, grant, false);
            let expires_in = client.token_lifetime.as_secs().to_string();
            let mut params = vec![
                ("access_token", token.as_str()),
                ("token_type", "Bearer"),
                ("expires_in", expires_in.as_str()),
            ];
            if !state.is_empty() {
                params.push(("state", state));
            }
            redirect(redirect_uri, &params, true)
        }
        _ => error(
            "unsupported_response_type",
            "response_type must be code or token",
        ),
    }
}

/// An RFC 6749 §5.2 error response.
pub(super) fn token_error(status: StatusCode, code: &str, description: &str) -> Response {
    let body = serde_json::json!({ "error": code, "error_description": description });
    let mut response = (
        status,
        [
            (CONTENT_TYPE, "application/json"),
            (CACHE_CONTROL, "no-store"),
        ],
        body.to_string(),
    )
        .into_response();
    if status == StatusCode::UNAUTHORIZED {
        response.headers_mut().insert(
            WWW_AUTHENTICATE,
            axum::http::HeaderValue::from_static("Basic realm=\"demo\""),
        );
    }
    response
}

fn invalid_client(description: &str) -> Box<Response> {
    Box::new(token_error(
        StatusCode::UNAUTHORIZED,
        "invalid_client",
        description,
    ))
}

/// Records and returns a new access token (and refresh token) for `grant`.
pub(super) fn issue(
    shared: &Shared,
    client: &OAuth2Client,
    grant: Grant,
    with_refresh: bool,
) -> (String, Option<String>) {
    let access = shared.opaque("at_", 24);
    let refresh = (with_refresh && client.refresh_tokens).then(|| shared.opaque("rt_", 32));
    let expires_at = SystemTime::now() + client.token_lifetime;
    let mut db = shared.db();
    db.access_tokens
        .insert(access.clone(), (grant.clone(), expires_at));
    if let Some(refresh) = &refresh {
        db.refresh_tokens.insert(refresh.clone(), grant);
    }
    db.stats.entry(client.id.clone()).or_default().tokens_issued += 1;
    (access, refresh)
}

/// The token response, in the client's quirk.
pub(super) fn token_response(
    client: &OAuth2Client,
    access: &str,
    refresh: Option<&str>,
    scope: Option<&str>,
) -> Response {
    let expires_in = client.token_lifetime.as_secs();
    let form = |pairs: &[(&str, &str)]| {
        let mut s = form_urlencoded::Serializer::new(String::new());
        for (n, v) in pairs {
            s.append_pair(n, v);
        }
        (
            StatusCode::OK,
            [
                (CONTENT_TYPE, "application/x-www-form-urlencoded"),
                (CACHE_CONTROL, "no-store"),
            ],
            s.finish(),
        )
            .into_response()
    };
    match client.quirk {
        Quirk::GitHubForm => {
            let scope = scope.unwrap_or("").replace(' ', ",");
            form(&[
                ("access_token", access),
                ("scope", &scope),
                ("token_type", "bearer"),
            ])
        }
        Quirk::FacebookLegacy => form(&[
            ("access_token", access),
            ("expires", &expires_in.to_string()),
        ]),
        Quirk::None | Quirk::LinkedInNoTokenType => {
            let mut body = serde_json::Map::new();
            body.insert("access_token".into(), access.into());
            if client.quirk == Quirk::None {
                body.insert("token_type".into(), "Bearer".into());
            }
            body.insert("expires_in".into(), expires_in.into());
            if let Some(refresh) = refresh {
                body.insert("refresh_token".into(), refresh.into());
            }
            if let Some(scope) = scope {
                body.insert("scope".into(), scope.into());
            }
            (
                StatusCode::OK,
                [
                    (CONTENT_TYPE, "application/json"),
                    (CACHE_CONTROL, "no-store"),
                    (PRAGMA, "no-cache"),
                ],
                serde_json::Value::Object(body).to_string(),
            )
                .into_response()
        }
    }
}

/// The client's credentials as sent: (client_id, method, secret).
fn presented_credentials(
    headers: &HeaderMap,
    form: &HashMap<String, String>,
) -> Result<(String, ClientAuthMethod, Option<String>), Box<Response>> {
    let basic = headers
        .get(AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Basic "));
    match (basic, form.get("client_secret")) {
        (Some(_), Some(_)) => Err(Box::new(token_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "more than one client authentication method",
        ))),
        (Some(b64), None) => {
            let decoded = STANDARD
                .decode(b64.trim())
                .ok()
                .and_then(|d| String::from_utf8(d).ok())
                .ok_or_else(|| invalid_client("malformed Basic credentials"))?;
            let (id, secret) = decoded
                .split_once(':')
                .ok_or_else(|| invalid_client("malformed Basic credentials"))?;
            // RFC 6749 §2.3.1: both parts are form-urlencoded before base64.
            let id = form_decode_component(id).map_err(|_| invalid_client("bad encoding"))?;
            let secret =
                form_decode_component(secret).map_err(|_| invalid_client("bad encoding"))?;
            Ok((
                id.into_owned(),
                ClientAuthMethod::SecretBasic,
                Some(secret.into_owned()),
            ))
        }
        (None, Some(secret)) => {
            let id = form
                .get("client_id")
                .ok_or_else(|| invalid_client("client_secret without client_id"))?;
            Ok((
                id.clone(),
                ClientAuthMethod::SecretPost,
                Some(secret.clone()),
            ))
        }
        (None, None) => {
            let id = form
                .get("client_id")
                .ok_or_else(|| invalid_client("no client authentication"))?;
            Ok((id.clone(), ClientAuthMethod::None, None))
        }
    }
}

/// `POST /oauth2/token`.
pub(crate) async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (client, form) = match authenticate(&shared, &headers, &body) {
        Ok(authenticated) => authenticated,
        Err(response) => return *response,
    };
    match form.get("grant_type").map(String::as_str) {
        Some(super::device::GRANT_TYPE) => super::device::poll(&shared, &client, &form),
        Some("authorization_code") => authorization_code(&shared, &client, &form),
        Some("refresh_token") => {
            shared.count(&client.id, |s| s.refresh_requests += 1);
            refresh_token(&shared, &client, &form)
        }
        Some("client_credentials") => {
            if client.auth == ClientAuthMethod::None {
                return token_error(
                    StatusCode::BAD_REQUEST,
                    "unauthorized_client",
                    "public clients cannot use client credentials",
                );
            }
            let scope = form.get("scope").cloned();
            let grant = Grant {
                client_id: client.id.clone(),
                user: client.id.clone(),
                scope: scope.clone(),
            };
            let (access, _) = issue(&shared, &client, grant, false);
            token_response(&client, &access, None, scope.as_deref())
        }
        Some("password") => {
            let ok = form.get("username").is_some_and(|u| u == DEMO_USER)
                && form
                    .get("password")
                    .is_some_and(|p| constant_time_eq(p.as_bytes(), DEMO_PASSWORD.as_bytes()));
            if !ok {
                return token_error(
                    StatusCode::BAD_REQUEST,
                    "invalid_grant",
                    "wrong username or password",
                );
            }
            let scope = form.get("scope").cloned();
            let grant = Grant {
                client_id: client.id.clone(),
                user: DEMO_USER.to_owned(),
                scope: scope.clone(),
            };
            let (access, refresh) = issue(&shared, &client, grant, true);
            token_response(&client, &access, refresh.as_deref(), scope.as_deref())
        }
        _ => token_error(
            StatusCode::BAD_REQUEST,
            "unsupported_grant_type",
            "unsupported grant_type",
        ),
    }
}

/// Checks a form `POST` to the token (or device authorization) endpoint and the client's
/// authentication; the client and the form, or the error response.
pub(super) fn authenticate(
    shared: &Shared,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<(OAuth2Client, HashMap<String, String>), Box<Response>> {
    let is_form = headers
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.starts_with("application/x-www-form-urlencoded"));
    if !is_form {
        return Err(Box::new(token_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "the body must be application/x-www-form-urlencoded",
        )));
    }
    let form = std::str::from_utf8(body)
        .map_err(|_| "not UTF-8")
        .and_then(params)
        .map_err(|e| Box::new(token_error(StatusCode::BAD_REQUEST, "invalid_request", e)))?;
    let (client_id, method, secret) = presented_credentials(headers, &form)?;
    let Some(client) = shared.client(&client_id).cloned() else {
        return Err(invalid_client("unknown client"));
    };
    shared.count(&client.id, |s| s.token_requests += 1);
    if method != client.auth {
        return Err(invalid_client("the client must authenticate as registered"));
    }
    if let (Some(expected), Some(given)) = (&client.secret, &secret)
        && !constant_time_eq(expected.as_bytes(), given.as_bytes())
    {
        return Err(invalid_client("wrong client secret"));
    }
    Ok((client, form))
}

pub(super) fn invalid_grant(description: &str) -> Response {
    token_error(StatusCode::BAD_REQUEST, "invalid_grant", description)
}

fn authorization_code(
    shared: &Shared,
    client: &OAuth2Client,
    form: &HashMap<String, String>,
) -> Response {
    let Some(code) = form.get("code") else {
        return token_error(StatusCode::BAD_REQUEST, "invalid_request", "missing code");
    };
    // Single use: removed whatever happens next.
    let Some(grant) = shared.db().codes.remove(code) else {
        return invalid_grant("unknown or used authorization code");
    };
    if grant.client_id != client.id {
        return invalid_grant("the code was issued to another client");
    }
    if SystemTime::now() > grant.expires_at {
        return invalid_grant("the code expired");
    }
    if form.get("redirect_uri") != Some(&grant.redirect_uri) {
        return invalid_grant("redirect_uri differs from the authorization request");
    }
    if let Some(challenge) = &grant.code_challenge {
        let Some(verifier) = form.get("code_verifier") else {
            return invalid_grant("missing code_verifier");
        };
        let Ok(verifier) = verifier_from_string(verifier) else {
            return invalid_grant("malformed code_verifier");
        };
        let computed = code_challenge(&verifier, PkceMethod::S256);
        if !constant_time_eq(computed.as_bytes(), challenge.as_bytes()) {
            return invalid_grant("PKCE verification failed");
        }
    }
    let scope = grant.scope.clone();
    let (access, refresh) = issue(
        shared,
        client,
        Grant {
            client_id: client.id.clone(),
            user: super::DEMO_USER.to_owned(),
            scope: grant.scope,
        },
        true,
    );
    token_response(client, &access, refresh.as_deref(), scope.as_deref())
}

fn refresh_token(
    shared: &Shared,
    client: &OAuth2Client,
    form: &HashMap<String, String>,
) -> Response {
    let Some(presented) = form.get("refresh_token") else {
        return token_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "missing refresh_token",
        );
    };
    // Rotation: the presented refresh token is spent now; reusing it is an invalid_grant.
    let Some(grant) = shared.db().refresh_tokens.remove(presented) else {
        return invalid_grant("unknown or already used refresh token");
    };
    if grant.client_id != client.id {
        return invalid_grant("the refresh token was issued to another client");
    }
    let scope = grant.scope.clone();
    let (access, refresh) = issue(shared, client, grant, true);
    token_response(client, &access, refresh.as_deref(), scope.as_deref())
}
