//! The device authorization grant (RFC 8628): the device authorization request (§3.1), its
//! response (§3.2) and the polling rules (§3.5). The token polling request itself is
//! [`TokenRequest::device_code`](super::TokenRequest::device_code).
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use http::{HeaderMap, HeaderValue, StatusCode, header::CONTENT_TYPE};
//! use oauth_core::oauth2::{
//!     parse_device_authorization_response, parse_token_response, Client, Compliance,
//!     DeviceAuthorizationRequest, Endpoint, PollAction, TokenRequest,
//! };
//!
//! let client = Client::public("1406020730");
//! let device_endpoint = Endpoint::new("https://example.com/device_authorization").unwrap();
//! let request = DeviceAuthorizationRequest::new(&device_endpoint, &client).build().unwrap();
//! assert_eq!(request.body(), b"client_id=1406020730");
//!
//! let mut headers = HeaderMap::new();
//! headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
//! let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
//! let body = br#"{"device_code":"GmRhmhcxhwAzkoEqiMEg_DnyEysNkuNhszIySk9eS",
//!   "user_code":"WDJB-MJHT","verification_uri":"https://example.com/device",
//!   "expires_in":1800,"interval":5}"#;
//! let mut device = parse_device_authorization_response(StatusCode::OK, &headers, body, now, &Compliance::strict()).unwrap();
//! assert_eq!(device.user_code(), "WDJB-MJHT");
//!
//! let token_endpoint = Endpoint::new("https://example.com/token").unwrap();
//! let poll = TokenRequest::device_code(&token_endpoint, &client, device.device_code()).build().unwrap();
//! let pending = parse_token_response(StatusCode::BAD_REQUEST, &headers,
//!     br#"{"error":"slow_down"}"#, now, &Compliance::strict()).unwrap_err();
//! assert_eq!(device.on_poll_error(&pending, now), PollAction::Wait(Duration::from_secs(10)));
//! # let _ = poll;
//! ```

use std::fmt;
use std::time::{Duration, SystemTime};

use http::{HeaderMap, Request, StatusCode};
use serde_json::Value;

use super::compliance::Compliance;
use super::endpoint::Endpoint;
use super::grant::{Client, GrantError, TokenRequest};
use super::response::{
    ErrorCode, TokenResponseError, check_error, decode_response, parse_expires_in,
    take_required_expires_in, take_string,
};
use super::token::{IssuedTo, Scope, expires_at};
use crate::secret::DeviceCode;

/// The polling interval when the server sends none (RFC 8628 §3.2).
pub const DEFAULT_POLL_INTERVAL: Duration = Duration::from_secs(5);

/// The longest polling interval believed from a server: 10 minutes.
pub const MAX_POLL_INTERVAL: Duration = Duration::from_secs(600);

/// The device authorization request (RFC 8628 §3.1): `client_id` (or client authentication),
/// optional `scope`.
#[derive(Debug)]
pub struct DeviceAuthorizationRequest {
    inner: TokenRequest,
}

impl DeviceAuthorizationRequest {
    /// A device authorization request to `endpoint` for `client`.
    pub fn new(endpoint: &Endpoint, client: &Client) -> Self {
        Self {
            inner: TokenRequest::without_grant_type(endpoint, client),
        }
    }

    /// Requests `scope`.
    #[must_use]
    pub fn scope(self, scope: &Scope) -> Self {
        Self {
            inner: self.inner.scope(scope),
        }
    }

    /// Adds an extension parameter.
    #[must_use]
    pub fn param(self, name: impl Into<String>, value: impl Into<String>) -> Self {
        Self {
            inner: self.inner.param(name, value),
        }
    }

    /// Builds the `POST` request (same headers and client authentication as token requests).
    ///
    /// # Errors
    ///
    /// Fails as [`TokenRequest::build`] does: [`GrantError::ReservedParameter`] for an extra
    /// parameter the builder sets itself, [`GrantError::ClientAssertion`] when the client's JWT
    /// assertion cannot be made.
    pub fn build(self) -> Result<Request<super::SensitiveBody>, GrantError> {
        self.inner.build()
    }
}

/// A device authorization response (RFC 8628 §3.2), with `expires_in` made absolute.
///
/// Its [`verification_uri`](Self::verification_uri) is the response's `verification_uri`, or,
/// when that is absent (or empty), its `verification_url`, the name Google's device endpoint
/// uses: a non-empty string under the same rules. When both are sent, `verification_uri` is
/// used and `verification_url` is ignored; when neither is, the response is refused with
/// [`MissingField`](TokenResponseError::MissingField) `verification_uri`.
/// `verification_uri_complete` has no such alternative.
pub struct DeviceAuthorization {
    device_code: DeviceCode,
    user_code: String,
    verification_uri: String,
    verification_uri_complete: Option<String>,
    expires_at: SystemTime,
    interval: Duration,
    issued_to: Option<IssuedTo>,
}

impl fmt::Debug for DeviceAuthorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("DeviceAuthorization")
            .field("device_code", &self.device_code)
            .field("user_code", &"[redacted]")
            .field("verification_uri", &self.verification_uri)
            .field(
                "verification_uri_complete",
                &self
                    .verification_uri_complete
                    .as_ref()
                    .map(|_| "[redacted]"),
            )
            .field("expires_at", &self.expires_at)
            .field("interval", &self.interval)
            .field("issued_to", &self.issued_to)
            .finish()
    }
}

/// What to do after a device token poll failed (RFC 8628 §3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum PollAction {
    /// The user has not finished (or the server failed for now): poll again after this long.
    Wait(Duration),
    /// Stop polling: denied, expired, or another error.
    Stop,
}

impl DeviceAuthorization {
    /// Records the token endpoint and client the device code is for (the grant client that
    /// asked for it does), so that it is polled for there only.
    #[must_use]
    pub fn with_issued_to(mut self, issued_to: Option<IssuedTo>) -> Self {
        self.issued_to = issued_to;
        self
    }

    /// The token endpoint and client the device code is for, when recorded.
    pub fn issued_to(&self) -> Option<&IssuedTo> {
        self.issued_to.as_ref()
    }

    /// The device code, for [`TokenRequest::device_code`].
    pub fn device_code(&self) -> &DeviceCode {
        &self.device_code
    }

    /// The code to show the user.
    pub fn user_code(&self) -> &str {
        &self.user_code
    }

    /// Where the user enters the code (`verification_uri`, or Google's `verification_url`).
    pub fn verification_uri(&self) -> &str {
        &self.verification_uri
    }

    /// A URI that already includes the user code (for a QR code), if sent.
    pub fn verification_uri_complete(&self) -> Option<&str> {
        self.verification_uri_complete.as_deref()
    }

    /// When the device code expires.
    pub fn expires_at(&self) -> SystemTime {
        self.expires_at
    }

    /// The current polling interval.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Classifies a failed poll: `authorization_pending` waits one interval; `slow_down` adds
    /// 5 seconds to the interval for this and all later polls (up to [`MAX_POLL_INTERVAL`]); a
    /// transient failure ([`TokenResponseError::is_transient`]: a 5xx or 429,
    /// `temporarily_unavailable`) waits one interval too; an expired device code (or any error
    /// once it has expired), a denial or any other error stops.
    pub fn on_poll_error(&mut self, error: &TokenResponseError, now: SystemTime) -> PollAction {
        on_poll_error(error, now, self.expires_at, &mut self.interval)
    }
}

/// The polling rules both decoupled grants share (RFC 8628 §3.5, CIBA Core §7.3 and §11):
/// wait one `interval` on `authorization_pending` or a transient failure, add 5 s to it on
/// `slow_down` (up to [`MAX_POLL_INTERVAL`]), stop on anything else or once `expires_at` passed.
pub(crate) fn on_poll_error(
    error: &TokenResponseError,
    now: SystemTime,
    expires_at: SystemTime,
    interval: &mut Duration,
) -> PollAction {
    if now >= expires_at {
        return PollAction::Stop;
    }
    match error.oauth_error().map(|e| &e.code) {
        Some(ErrorCode::AuthorizationPending) => PollAction::Wait(*interval),
        Some(ErrorCode::SlowDown) => {
            *interval = (*interval + Duration::from_secs(5)).min(MAX_POLL_INTERVAL);
            PollAction::Wait(*interval)
        }
        _ if error.is_transient() => PollAction::Wait(*interval),
        _ => PollAction::Stop,
    }
}

/// Removes `interval` (RFC 8628 §3.2, CIBA Core §7.3): [`DEFAULT_POLL_INTERVAL`] when absent,
/// else a non-negative integer number of seconds, kept within 1 s and [`MAX_POLL_INTERVAL`].
pub(crate) fn take_interval(
    members: &mut serde_json::Map<String, Value>,
) -> Result<Duration, TokenResponseError> {
    match members.remove("interval") {
        None | Some(Value::Null) => Ok(DEFAULT_POLL_INTERVAL),
        Some(v) => Ok(parse_expires_in(&v)
            .map_err(|_| TokenResponseError::InvalidField {
                field: "interval",
                expected: "a non-negative integer",
            })?
            .clamp(Duration::from_secs(1), MAX_POLL_INTERVAL)),
    }
}

/// Parses a device authorization response (RFC 8628 §3.2), with the same strictness as
/// [`parse_token_response`](super::parse_token_response). The device code's `expires_in` is
/// reckoned from `now`: pass the moment the request was sent (as tower-oauth2's grant client
/// does), not the response's arrival.
///
/// # Errors
///
/// Fails with a [`TokenResponseError`]: [`OAuth`](TokenResponseError::OAuth) or
/// [`HttpStatus`](TokenResponseError::HttpStatus) for an error answer, the body errors of
/// [`parse_token_response`](super::parse_token_response) (content type, JSON, duplicate
/// members), and
/// [`MissingField`](TokenResponseError::MissingField) or
/// [`InvalidField`](TokenResponseError::InvalidField) when `device_code`, `user_code`,
/// `verification_uri` or `expires_in` is missing, or a member (such as `interval`) has the wrong
/// type.
pub fn parse_device_authorization_response(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
    compliance: &Compliance,
) -> Result<DeviceAuthorization, TokenResponseError> {
    let mut members = decode_response(status, headers, body, compliance)?;
    check_error(status, &members)?;
    let required = |v: Option<String>, field| v.ok_or(TokenResponseError::MissingField { field });
    let device_code = required(take_string(&mut members, "device_code")?, "device_code")?;
    let user_code = required(take_string(&mut members, "user_code")?, "user_code")?;
    // Google's device endpoint names it `verification_url`: taken when `verification_uri`
    // is absent, under the same rules.
    let verification_uri = match take_string(&mut members, "verification_uri")? {
        Some(uri) => Some(uri),
        None => take_string(&mut members, "verification_url")?,
    };
    let verification_uri = required(verification_uri, "verification_uri")?;
    let verification_uri_complete = take_string(&mut members, "verification_uri_complete")?;
    let lifetime = take_required_expires_in(&mut members)?;
    let interval = take_interval(&mut members)?;
    Ok(DeviceAuthorization {
        device_code: DeviceCode::new(device_code),
        user_code,
        verification_uri,
        verification_uri_complete,
        expires_at: expires_at(now, lifetime),
        interval,
        issued_to: None,
    })
}
