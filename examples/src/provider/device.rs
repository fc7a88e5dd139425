//! The device authorization grant (RFC 8628) of the demo authorization server: the device
//! authorization endpoint (§3.1, §3.2), the page where the user enters the code (§3.3; here the
//! demo user approves as soon as it is opened), and the polling at the token endpoint (§3.4,
//! §3.5).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::header::{CACHE_CONTROL, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use oauth_core::encode::form_decode;

use super::oauth2::{authenticate, invalid_grant, issue, token_error, token_response};
use super::state::{DeviceGrant, Grant, Shared};
use super::{DEMO_USER, OAuth2Client};

/// The `grant_type` of the polling requests (RFC 8628 §3.4).
pub(crate) const GRANT_TYPE: &str = "urn:ietf:params:oauth:grant-type:device_code";

/// How long a device code lives.
const DEVICE_CODE_LIFETIME: Duration = Duration::from_secs(300);

/// The polling interval the demo asks for (short, so the examples finish quickly).
const INTERVAL_SECS: u64 = 1;

/// `POST /oauth2/device_authorization`.
pub(crate) async fn authorization(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let (client, form) = match authenticate(&shared, &headers, &body) {
        Ok(authenticated) => authenticated,
        Err(response) => return *response,
    };
    let device_code = shared.opaque("dc-", 32);
    // Eight letters without vowels, shown as XXXX-XXXX (RFC 8628 §6.1).
    let letters: Vec<char> = shared
        .opaque("", 8)
        .bytes()
        .map(|b| char::from(b"BCDFGHJKLMNPQRSTVWXZ"[usize::from(b) % 20]))
        .collect();
    let user_code = format!(
        "{}-{}",
        letters[..4].iter().collect::<String>(),
        letters[4..8].iter().collect::<String>()
    );
    shared.db().devices.insert(
        device_code.clone(),
        DeviceGrant {
            client_id: client.id.clone(),
            user_code: user_code.clone(),
            scope: form.get("scope").cloned(),
            expires_at: SystemTime::now() + DEVICE_CODE_LIFETIME,
            approved: false,
        },
    );
    let verification_uri = format!("{}/oauth2/device", shared.base_url);
    let body = serde_json::json!({
        "device_code": device_code,
        "user_code": user_code,
        "verification_uri": verification_uri,
        "verification_uri_complete": format!("{verification_uri}?user_code={user_code}"),
        "expires_in": DEVICE_CODE_LIFETIME.as_secs(),
        "interval": INTERVAL_SECS,
    });
    (
        StatusCode::OK,
        [
            (CONTENT_TYPE, "application/json"),
            (CACHE_CONTROL, "no-store"),
        ],
        body.to_string(),
    )
        .into_response()
}

/// `GET /oauth2/device?user_code=...`: where the user types the code. The demo user is signed
/// in already and approves at once.
pub(crate) async fn verify(
    State(shared): State<Arc<Shared>>,
    RawQuery(query): RawQuery,
) -> Response {
    let params: HashMap<String, String> = form_decode(query.as_deref().unwrap_or(""))
        .unwrap_or_default()
        .into_iter()
        .collect();
    // RFC 8628 §6.1: compare case-insensitively and without the punctuation the user may or
    // may not type ("bcdf ghjk", "BCDFGHJK" and "BCDF-GHJK" are one code).
    let canonical = |code: &str| -> String {
        code.chars()
            .filter(char::is_ascii_alphanumeric)
            .map(|c| c.to_ascii_uppercase())
            .collect()
    };
    let typed = params.get("user_code").map(|c| canonical(c));
    let mut db = shared.db();
    let device = db
        .devices
        .values_mut()
        .find(|d| Some(canonical(&d.user_code)) == typed && SystemTime::now() < d.expires_at);
    match device {
        Some(device) => {
            device.approved = true;
            (
                StatusCode::OK,
                format!(
                    "{DEMO_USER} approved the request of {}.\n",
                    device.client_id
                ),
            )
                .into_response()
        }
        None => (StatusCode::NOT_FOUND, "unknown or expired code\n").into_response(),
    }
}

/// A polling request at the token endpoint (RFC 8628 §3.4, §3.5).
pub(super) fn poll(
    shared: &Shared,
    client: &OAuth2Client,
    form: &HashMap<String, String>,
) -> Response {
    let Some(device_code) = form.get("device_code") else {
        return token_error(
            StatusCode::BAD_REQUEST,
            "invalid_request",
            "missing device_code",
        );
    };
    let mut db = shared.db();
    let Some(device) = db.devices.get(device_code) else {
        return invalid_grant("unknown or used device code");
    };
    if device.client_id != client.id {
        return invalid_grant("the device code was issued to another client");
    }
    if SystemTime::now() >= device.expires_at {
        db.devices.remove(device_code);
        return token_error(
            StatusCode::BAD_REQUEST,
            "expired_token",
            "the device code expired",
        );
    }
    if !device.approved {
        return token_error(
            StatusCode::BAD_REQUEST,
            "authorization_pending",
            "the user has not approved yet",
        );
    }
    let Some(device) = db.devices.remove(device_code) else {
        return invalid_grant("unknown or used device code");
    };
    drop(db);
    let scope = device.scope.clone();
    let grant = Grant {
        client_id: client.id.clone(),
        user: DEMO_USER.to_owned(),
        scope: device.scope,
    };
    let (access, refresh) = issue(shared, client, grant, true);
    token_response(client, &access, refresh.as_deref(), scope.as_deref())
}
