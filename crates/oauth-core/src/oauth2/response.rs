//! Token endpoint responses: successful ones (RFC 6749 §5.1) and errors (RFC 6749 §5.2).
//!
//! Parsing is strict by default: the body must be JSON with a JSON `Content-Type`, at most
//! [`DEFAULT_MAX_BODY_BYTES`] long, an object without duplicate members; `access_token` and
//! `token_type` are required; an `error` member is an error even with HTTP 200. Deviations some
//! providers need are opted into with a [`Compliance`] profile. No error value holds the raw
//! body or a token.
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use http::{HeaderMap, HeaderValue, StatusCode, header::CONTENT_TYPE};
//! use oauth_core::oauth2::{parse_token_response, Compliance, ErrorCode, TokenResponseError, TokenType};
//!
//! let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
//! let mut headers = HeaderMap::new();
//! headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json;charset=UTF-8"));
//!
//! // RFC 6749 §5.1
//! let body = br#"{"access_token":"2YotnFZFEjr1zCsicMWpAA","token_type":"example",
//!   "expires_in":3600,"refresh_token":"tGzv3JOkF0XG5Qx2TlKWIA","example_parameter":"example_value"}"#;
//! let token = parse_token_response(StatusCode::OK, &headers, body, now, &Compliance::strict()).unwrap();
//! assert_eq!(token.expires_at(), Some(now + Duration::from_secs(3600)));
//! assert_eq!(token.token_type(), &TokenType::Other("example".into()));
//!
//! // RFC 6749 §5.2
//! let err = parse_token_response(StatusCode::BAD_REQUEST, &headers,
//!     br#"{"error":"invalid_request"}"#, now, &Compliance::strict()).unwrap_err();
//! assert_eq!(err.oauth_error().map(|e| &e.code), Some(&ErrorCode::InvalidRequest));
//! ```

use std::cell::RefCell;
use std::fmt;
use std::time::{Duration, SystemTime};

use http::header::CONTENT_TYPE;
use http::{HeaderMap, StatusCode};
use serde::de::{self, DeserializeSeed, MapAccess, SeqAccess, Visitor};
use serde_json::{Map, Number, Value};

use super::compliance::{AppliedFixes, Compliance, ComplianceFix};
use super::token::{Scope, Token, TokenType, expires_at, truncate};
use crate::secret::{AccessToken, IdToken, RefreshToken};

/// The default cap on a token endpoint response body: 1 MiB (as golang/oauth2).
pub const DEFAULT_MAX_BODY_BYTES: usize = 1 << 20;

/// How many characters of an `error_description` are kept.
pub const MAX_DESCRIPTION_CHARS: usize = 256;

/// An OAuth 2 error code: RFC 6749 §4.1.2.1 and §5.2, RFC 8628 §3.5, RFC 8707 §2, RFC 9449 §8,
/// OpenID Connect CIBA Core 1.0 §11 and §13.
#[derive(Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorCode {
    /// `invalid_request`
    InvalidRequest,
    /// `invalid_client`
    InvalidClient,
    /// `invalid_grant`
    InvalidGrant,
    /// `unauthorized_client`
    UnauthorizedClient,
    /// `unsupported_grant_type`
    UnsupportedGrantType,
    /// `invalid_scope`
    InvalidScope,
    /// `access_denied`
    AccessDenied,
    /// `unsupported_response_type`
    UnsupportedResponseType,
    /// `server_error`
    ServerError,
    /// `temporarily_unavailable`
    TemporarilyUnavailable,
    /// `authorization_pending` (RFC 8628 §3.5)
    AuthorizationPending,
    /// `slow_down` (RFC 8628 §3.5)
    SlowDown,
    /// `expired_token` (RFC 8628 §3.5)
    ExpiredToken,
    /// `invalid_target` (RFC 8707 §2)
    InvalidTarget,
    /// `use_dpop_nonce` (RFC 9449 §8)
    UseDpopNonce,
    /// `invalid_dpop_proof` (RFC 9449 §5)
    InvalidDpopProof,
    /// `expired_login_hint_token` (CIBA Core §13): the `login_hint_token` has expired.
    ExpiredLoginHintToken,
    /// `unknown_user_id` (CIBA Core §13): the provider cannot identify the user from the hint.
    UnknownUserId,
    /// `missing_user_code` (CIBA Core §13): the provider requires a `user_code`.
    MissingUserCode,
    /// `invalid_user_code` (CIBA Core §13): the `user_code` is wrong.
    InvalidUserCode,
    /// `invalid_binding_message` (CIBA Core §13): the `binding_message` is refused.
    InvalidBindingMessage,
    /// `transaction_failed` (CIBA Core §11): the authentication failed for another reason
    /// than a denial.
    TransactionFailed,
    /// Any other code, truncated to 64 characters.
    Other(String),
}

impl ErrorCode {
    /// Parses an `error` value (case-sensitive, as registered).
    pub fn parse(s: &str) -> Self {
        match s {
            "invalid_request" => Self::InvalidRequest,
            "invalid_client" => Self::InvalidClient,
            "invalid_grant" => Self::InvalidGrant,
            "unauthorized_client" => Self::UnauthorizedClient,
            "unsupported_grant_type" => Self::UnsupportedGrantType,
            "invalid_scope" => Self::InvalidScope,
            "access_denied" => Self::AccessDenied,
            "unsupported_response_type" => Self::UnsupportedResponseType,
            "server_error" => Self::ServerError,
            "temporarily_unavailable" => Self::TemporarilyUnavailable,
            "authorization_pending" => Self::AuthorizationPending,
            "slow_down" => Self::SlowDown,
            "expired_token" => Self::ExpiredToken,
            "invalid_target" => Self::InvalidTarget,
            "use_dpop_nonce" => Self::UseDpopNonce,
            "invalid_dpop_proof" => Self::InvalidDpopProof,
            "expired_login_hint_token" => Self::ExpiredLoginHintToken,
            "unknown_user_id" => Self::UnknownUserId,
            "missing_user_code" => Self::MissingUserCode,
            "invalid_user_code" => Self::InvalidUserCode,
            "invalid_binding_message" => Self::InvalidBindingMessage,
            "transaction_failed" => Self::TransactionFailed,
            other => Self::Other(truncate(other, 64).to_owned()),
        }
    }

    /// The wire value.
    pub fn as_str(&self) -> &str {
        match self {
            Self::InvalidRequest => "invalid_request",
            Self::InvalidClient => "invalid_client",
            Self::InvalidGrant => "invalid_grant",
            Self::UnauthorizedClient => "unauthorized_client",
            Self::UnsupportedGrantType => "unsupported_grant_type",
            Self::InvalidScope => "invalid_scope",
            Self::AccessDenied => "access_denied",
            Self::UnsupportedResponseType => "unsupported_response_type",
            Self::ServerError => "server_error",
            Self::TemporarilyUnavailable => "temporarily_unavailable",
            Self::AuthorizationPending => "authorization_pending",
            Self::SlowDown => "slow_down",
            Self::ExpiredToken => "expired_token",
            Self::InvalidTarget => "invalid_target",
            Self::UseDpopNonce => "use_dpop_nonce",
            Self::InvalidDpopProof => "invalid_dpop_proof",
            Self::ExpiredLoginHintToken => "expired_login_hint_token",
            Self::UnknownUserId => "unknown_user_id",
            Self::MissingUserCode => "missing_user_code",
            Self::InvalidUserCode => "invalid_user_code",
            Self::InvalidBindingMessage => "invalid_binding_message",
            Self::TransactionFailed => "transaction_failed",
            Self::Other(s) => s,
        }
    }
}

impl fmt::Debug for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Other(s) => write!(f, "Other({s:?})"),
            _ => f.write_str(self.as_str()),
        }
    }
}

/// Escaped: the value comes from the network.
impl fmt::Display for ErrorCode {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.as_str().escape_debug())
    }
}

/// An OAuth 2 error response (RFC 6749 §5.2 from the token endpoint, §4.1.2.1 in a callback).
///
/// `description` and `uri` are untrusted: the description is truncated to
/// [`MAX_DESCRIPTION_CHARS`] and escaped in `Display`; the URI is never followed and never shown.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct OAuthErrorResponse {
    /// `error`.
    pub code: ErrorCode,
    /// `error_description`, truncated.
    pub description: Option<String>,
    /// `error_uri`, truncated to 512 characters.
    pub uri: Option<String>,
}

impl OAuthErrorResponse {
    pub(crate) fn new(code: &str, description: Option<&str>, uri: Option<&str>) -> Self {
        Self {
            code: ErrorCode::parse(code),
            description: description
                .filter(|d| !d.is_empty())
                .map(|d| truncate(d, MAX_DESCRIPTION_CHARS).to_owned()),
            uri: uri
                .filter(|u| !u.is_empty())
                .map(|u| truncate(u, 512).to_owned()),
        }
    }
}

impl fmt::Display for OAuthErrorResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.code)?;
        if let Some(d) = &self.description {
            write!(f, ": {}", truncate(d, MAX_DESCRIPTION_CHARS).escape_debug())?;
        }
        Ok(())
    }
}

/// `UnexpectedContentType`'s message: the media type as received, and the way out for the
/// usual case (a provider answering form-encoded, as GitHub does without `Accept`).
fn describe_content_type(content_type: Option<&str>) -> String {
    match content_type {
        None => "the token response has no single ASCII Content-Type, and is not JSON".into(),
        Some(form) if form.eq_ignore_ascii_case("application/x-www-form-urlencoded") => format!(
            "the token response is {form}, not JSON (a provider that answers form-encoded needs a Compliance profile that accepts it, such as Compliance::github())"
        ),
        Some(other) => format!("the token response is {other}, not JSON"),
    }
}

/// A token endpoint response that did not yield a token.
///
/// Carries no raw body and no token: only the status, a category and, for §5.2 errors, the
/// truncated error fields.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenResponseError {
    /// The body is longer than the configured limit.
    #[error("token response larger than {limit} bytes")]
    ResponseTooLarge {
        /// The limit in bytes.
        limit: usize,
    },
    /// The `Content-Type` is not JSON (or a form type the compliance profile accepts).
    #[error("{}", describe_content_type(content_type.as_deref()))]
    UnexpectedContentType {
        /// The media type (without parameters), truncated to 64 characters; `None` if absent,
        /// repeated or not ASCII.
        content_type: Option<String>,
    },
    /// The body is not UTF-8.
    #[error("token response is not valid UTF-8")]
    InvalidUtf8,
    /// The body is not valid JSON (or nests deeper than the parser's recursion limit).
    #[error("token response is not valid JSON (line {line}, column {column})")]
    InvalidJson {
        /// Line of the error.
        line: usize,
        /// Column of the error.
        column: usize,
    },
    /// A form-encoded body (accepted through compliance) is malformed.
    #[error("form-encoded token response is malformed")]
    InvalidForm,
    /// The same member appears twice; parsers disagree on which one wins, so none does.
    #[error("duplicate member {name:?} in token response")]
    DuplicateField {
        /// The member name, truncated to 64 characters.
        name: String,
    },
    /// The JSON value is not an object.
    #[error("token response is not a JSON object")]
    NotAnObject,
    /// `access_token` is missing, null or empty.
    #[error("token response has no access_token")]
    MissingAccessToken,
    /// `token_type` is missing, null or empty.
    #[error("token response has no token_type")]
    MissingTokenType,
    /// Another required member is missing.
    #[error("response has no {field}")]
    MissingField {
        /// The member name.
        field: &'static str,
    },
    /// A member has the wrong JSON type.
    #[error("member {field} must be {expected}")]
    InvalidField {
        /// The member name.
        field: &'static str,
        /// What was expected.
        expected: &'static str,
    },
    /// `expires_in` is negative or not a non-negative decimal integer.
    #[error("expires_in must be a non-negative integer")]
    InvalidExpiresIn,
    /// The server returned an OAuth error (RFC 6749 §5.2), possibly with HTTP 200.
    #[error("token endpoint error (HTTP {status}): {error}")]
    OAuth {
        /// The HTTP status.
        status: StatusCode,
        /// The error.
        error: OAuthErrorResponse,
    },
    /// A non-success status without a parseable OAuth error (e.g. a 502 HTML page, a redirect).
    #[error("token endpoint returned HTTP {status}")]
    HttpStatus {
        /// The HTTP status.
        status: StatusCode,
    },
}

impl TokenResponseError {
    /// The OAuth error, if the server sent one.
    pub fn oauth_error(&self) -> Option<&OAuthErrorResponse> {
        match self {
            Self::OAuth { error, .. } => Some(error),
            _ => None,
        }
    }

    /// Whether this is a success response that is JSON but not a valid token (a member
    /// missing, repeated or of the wrong type). A server answers that way every time (it needs
    /// a [`ComplianceHook`](super::ComplianceHook)), and after a refresh it may already have
    /// rotated the refresh token: not a failure to retry.
    pub fn is_malformed_token(&self) -> bool {
        matches!(
            self,
            Self::MissingAccessToken
                | Self::MissingTokenType
                | Self::MissingField { .. }
                | Self::InvalidField { .. }
                | Self::InvalidExpiresIn
                | Self::DuplicateField { .. }
        )
    }

    /// Whether trying again later may succeed: the `server_error`/`temporarily_unavailable`
    /// codes, and HTTP 408, 429 and 5xx without an error code or with an unregistered one (a
    /// 503 with `invalid_grant` is not transient). Everything else needs a change first.
    pub fn is_transient(&self) -> bool {
        let status_transient = |s: &StatusCode| {
            s.is_server_error()
                || *s == StatusCode::TOO_MANY_REQUESTS
                || *s == StatusCode::REQUEST_TIMEOUT
        };
        match self {
            Self::HttpStatus { status } => status_transient(status),
            Self::OAuth { status, error } => {
                matches!(
                    error.code,
                    ErrorCode::ServerError | ErrorCode::TemporarilyUnavailable
                ) || (status_transient(status) && matches!(error.code, ErrorCode::Other(_)))
            }
            _ => false,
        }
    }
}

/// Parses a token endpoint response (RFC 6749 §5.1, §5.2), reckoning its expiry from `now`.
///
/// Pass the moment the request was sent (as tower-oauth2's grant client does), not the
/// response's arrival: the server starts counting `expires_in` in between, so the token never
/// seems to live longer than the server lets it.
///
/// The body is JSON (RFC 8259) in UTF-8 with no byte-order mark: a body that starts with one
/// is [`TokenResponseError::InvalidJson`], as RFC 8259 §8.1 forbids sending it.
///
/// `expires_in` becomes an absolute expiry `now + expires_in` (clamped to
/// [`MAX_EXPIRES_IN`](super::token::MAX_EXPIRES_IN)). Accepted `expires_in` forms: a JSON
/// integer, a strict decimal-integer string (`"3600"`, not `" 3600"` or `"3.6e3"`), and a
/// non-negative JSON float, which is floored (`3600.7` → 3600 s); `0` means already expired;
/// negative values and other types are errors. A JSON number too large for a float (`1e309`)
/// clamps like any other huge value.
///
/// # Errors
///
/// Fails with [`TokenResponseError::OAuth`] for an OAuth error response,
/// [`TokenResponseError::HttpStatus`] for an error status without one, and the other
/// [`TokenResponseError`] variants for a body that is not a valid token response (content type,
/// encoding, JSON, a member missing, repeated or invalid, too large).
pub fn parse_token_response(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
    compliance: &Compliance,
) -> Result<Token, TokenResponseError> {
    parse_token_response_with_fixes(status, headers, body, now, compliance).map(|(token, _)| token)
}

/// [`parse_token_response`], also saying which of `compliance`'s fixes the response needed
/// (none for a response that follows RFC 6749), so the caller can log them (a compatibility
/// mode that assumes `token_type: Bearer`, say, should say so).
///
/// # Errors
///
/// Fails as [`parse_token_response`] does.
///
/// ```
/// use std::time::UNIX_EPOCH;
/// use http::{HeaderMap, HeaderValue, StatusCode, header::CONTENT_TYPE};
/// use oauth_core::oauth2::{parse_token_response_with_fixes, Compliance, ComplianceFix};
///
/// let mut headers = HeaderMap::new();
/// headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
/// let body = br#"{"access_token":"AQXdSP_example","expires_in":5183999}"#;
/// let (token, fixes) = parse_token_response_with_fixes(
///     StatusCode::OK, &headers, body, UNIX_EPOCH, &Compliance::linkedin(),
/// ).unwrap();
/// assert_eq!(token.token_type().as_str(), "Bearer");
/// assert!(fixes.contains(ComplianceFix::AssumedBearer));
/// assert_eq!(fixes.to_string(), "assumed_bearer");
/// ```
pub fn parse_token_response_with_fixes(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
    compliance: &Compliance,
) -> Result<(Token, AppliedFixes), TokenResponseError> {
    let mut members = decode_response(status, headers, body, compliance)?;
    let mut fixes = compliance.normalize_token_response(&mut members);
    if is_form_media_type(headers) {
        // decode_response accepted a form body, so the compliance allows one.
        fixes.insert(ComplianceFix::FormEncodedResponse);
    }
    check_error(status, &members)?;
    Ok((extract_token(members, now)?, fixes))
}

/// Decodes the body into members, mapping failures on non-success statuses to `HttpStatus`.
pub(crate) fn decode_response(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    compliance: &Compliance,
) -> Result<Map<String, Value>, TokenResponseError> {
    let limit = compliance.body_limit();
    if body.len() > limit {
        return Err(TokenResponseError::ResponseTooLarge { limit });
    }
    match decode_body(headers, body, compliance) {
        Ok(members) => Ok(members),
        Err(_) if !status.is_success() => Err(TokenResponseError::HttpStatus { status }),
        Err(e) => Err(e),
    }
}

/// An `error` member makes the response an error, whatever the status; a non-success status
/// without one is an `HttpStatus` error.
pub(crate) fn check_error(
    status: StatusCode,
    members: &Map<String, Value>,
) -> Result<(), TokenResponseError> {
    match members.get("error") {
        None | Some(Value::Null) => {}
        Some(Value::String(code)) if !code.is_empty() => {
            let text = |name| members.get(name).and_then(Value::as_str);
            return Err(TokenResponseError::OAuth {
                status,
                error: OAuthErrorResponse::new(code, text("error_description"), text("error_uri")),
            });
        }
        Some(_) if status.is_success() => {
            return Err(TokenResponseError::InvalidField {
                field: "error",
                expected: "a non-empty string",
            });
        }
        Some(_) => return Err(TokenResponseError::HttpStatus { status }),
    }
    if !status.is_success() {
        return Err(TokenResponseError::HttpStatus { status });
    }
    Ok(())
}

fn decode_body(
    headers: &HeaderMap,
    body: &[u8],
    compliance: &Compliance,
) -> Result<Map<String, Value>, TokenResponseError> {
    let media_type = media_type(headers);
    let is_json = media_type.as_deref().is_some_and(|m| {
        m == "application/json" || (m.starts_with("application/") && m.ends_with("+json"))
    });
    let is_form = media_type.as_deref().is_some_and(is_form_media);
    let form_ok = is_form && compliance.accepts_form_encoded();
    if !is_json && !form_ok {
        return Err(TokenResponseError::UnexpectedContentType {
            content_type: media_type.map(|m| truncate(&m, 64).to_owned()),
        });
    }
    let text = std::str::from_utf8(body).map_err(|_| TokenResponseError::InvalidUtf8)?;
    if is_json {
        match parse_strict_json(text)? {
            Value::Object(map) => Ok(map),
            _ => Err(TokenResponseError::NotAnObject),
        }
    } else {
        form_members(text.trim_end_matches(['\r', '\n']))
    }
}

fn is_form_media(media_type: &str) -> bool {
    media_type == "application/x-www-form-urlencoded" || media_type == "text/plain"
}

fn is_form_media_type(headers: &HeaderMap) -> bool {
    media_type(headers).as_deref().is_some_and(is_form_media)
}

/// The media type of the one `Content-Type` header, lower case, without parameters.
pub(crate) fn media_type(headers: &HeaderMap) -> Option<String> {
    let mut values = headers.get_all(CONTENT_TYPE).iter();
    let first = values.next()?;
    if values.next().is_some() {
        return None;
    }
    let s = first.to_str().ok()?;
    Some(
        s.split(';')
            .next()
            .unwrap_or("")
            .trim()
            .to_ascii_lowercase(),
    )
}

/// Decodes `application/x-www-form-urlencoded` members (all strings), rejecting duplicates.
pub(crate) fn form_members(text: &str) -> Result<Map<String, Value>, TokenResponseError> {
    let pairs = crate::encode::form_decode(text).map_err(|_| TokenResponseError::InvalidForm)?;
    let mut map = Map::new();
    for (name, value) in pairs {
        if map.contains_key(&name) {
            return Err(TokenResponseError::DuplicateField {
                name: truncate(&name, 64).to_owned(),
            });
        }
        map.insert(name, Value::String(value));
    }
    Ok(map)
}

/// Builds a [`Token`] from normalised members.
pub(crate) fn extract_token(
    mut members: Map<String, Value>,
    now: SystemTime,
) -> Result<Token, TokenResponseError> {
    let access_token =
        take_string(&mut members, "access_token")?.ok_or(TokenResponseError::MissingAccessToken)?;
    let token_type =
        take_string(&mut members, "token_type")?.ok_or(TokenResponseError::MissingTokenType)?;
    let expires_in = match members.remove("expires_in") {
        None | Some(Value::Null) => None,
        Some(v) => Some(parse_expires_in(&v)?),
    };
    let scope = match members.remove("scope") {
        // An empty string (not a valid scope, RFC 6749 §3.3) means "not given", as an absent
        // `scope` does: the requested scope (§5.1). (`null` is refused, SECURITY.md §4.2 #22.)
        None => None,
        Some(Value::String(s)) if s.trim_matches(' ').is_empty() => None,
        Some(Value::String(s)) => Some(Scope::parse(&s)),
        Some(_) => {
            return Err(TokenResponseError::InvalidField {
                field: "scope",
                expected: "a space-delimited string",
            });
        }
    };
    let refresh_token = take_string(&mut members, "refresh_token")?;
    let id_token = take_string(&mut members, "id_token")?;
    Ok(Token {
        access_token: AccessToken::new(access_token),
        token_type: TokenType::parse(&token_type),
        expires_at: expires_in.map(|d| expires_at(now, d)),
        refresh_token: refresh_token.map(RefreshToken::new),
        scope,
        id_token: id_token.map(IdToken::new),
        dpop_jkt: None,
        issued_to: None,
        extra: members,
    })
}

/// Removes a string member; `null` and `""` count as absent (RFC 6749 §3.1: empty = omitted).
pub(crate) fn take_string(
    members: &mut Map<String, Value>,
    field: &'static str,
) -> Result<Option<String>, TokenResponseError> {
    match members.remove(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(s)) if s.is_empty() => Ok(None),
        Some(Value::String(s)) => Ok(Some(s)),
        Some(_) => Err(TokenResponseError::InvalidField {
            field,
            expected: "a string",
        }),
    }
}

/// An `expires_in` value as a lifetime (see [`parse_token_response`] for the accepted forms).
/// Removes `expires_in`, which this response must have (RFC 8628 §3.2, RFC 9126 §2.2).
pub(crate) fn take_required_expires_in(
    members: &mut Map<String, Value>,
) -> Result<Duration, TokenResponseError> {
    match members.remove("expires_in") {
        None | Some(Value::Null) => Err(TokenResponseError::MissingField {
            field: "expires_in",
        }),
        Some(v) => parse_expires_in(&v),
    }
}

pub(crate) fn parse_expires_in(value: &Value) -> Result<Duration, TokenResponseError> {
    match value {
        Value::Number(n) => {
            if let Some(secs) = n.as_u64() {
                Ok(Duration::from_secs(secs))
            } else if n.as_i64().is_some() {
                Err(TokenResponseError::InvalidExpiresIn)
            } else {
                match n.as_f64() {
                    Some(f) if f.is_finite() && f >= 0.0 => {
                        // Saturating float-to-int conversion; clamped again by `expires_at`.
                        Ok(Duration::from_secs(f.floor() as u64))
                    }
                    _ => Err(TokenResponseError::InvalidExpiresIn),
                }
            }
        }
        Value::String(s) => {
            if !is_decimal_digits(s) {
                return Err(TokenResponseError::InvalidExpiresIn);
            }
            // All digits, however many: only overflow can fail, and that clamps.
            Ok(Duration::from_secs(s.parse::<u64>().unwrap_or(u64::MAX)))
        }
        _ => Err(TokenResponseError::InvalidField {
            field: "expires_in",
            expected: "a number",
        }),
    }
}

/// A strict decimal integer: one or more ASCII digits and nothing else.
pub(crate) fn is_decimal_digits(s: &str) -> bool {
    !s.is_empty() && s.bytes().all(|b| b.is_ascii_digit())
}

/// Parses JSON into a `Value`, rejecting duplicate object members at any depth. serde_json's
/// recursion limit (128) bounds the nesting, so deep input is an error, not a stack overflow.
///
/// A number beyond the range of a float (`1e309`, which serde_json refuses) is read as the
/// largest finite float of its sign, so that an absurd `expires_in` clamps instead of costing the whole response, and with it a possibly rotated refresh token.
pub(crate) fn parse_strict_json(text: &str) -> Result<Value, TokenResponseError> {
    let first = parse_strict_json_as_is(text);
    if first.is_ok() {
        return first;
    }
    match saturate_huge_numbers(text) {
        Some(saturated) => parse_strict_json_as_is(&saturated),
        None => first,
    }
}

/// `text` with every number token that overflows a float replaced by `±f64::MAX`, or `None`
/// when it has none. Strings are skipped whole (escapes included), so only real number tokens
/// are touched; anything else is left for the parser to accept or refuse.
fn saturate_huge_numbers(text: &str) -> Option<String> {
    let bytes = text.as_bytes();
    let (mut out, mut copied, mut i) = (None::<String>, 0, 0);
    while i < bytes.len() {
        match bytes[i] {
            b'"' => {
                i += 1;
                while i < bytes.len() && bytes[i] != b'"' {
                    i += if bytes[i] == b'\\' { 2 } else { 1 };
                }
                i += 1;
            }
            b'-' | b'0'..=b'9' => {
                let start = i;
                while i < bytes.len()
                    && matches!(bytes[i], b'0'..=b'9' | b'+' | b'-' | b'.' | b'e' | b'E')
                {
                    i += 1;
                }
                let token = &text[start..i];
                if is_json_number(token)
                    && let Ok(f) = token.parse::<f64>()
                    && f.is_infinite()
                {
                    let out = out.get_or_insert_with(|| String::with_capacity(text.len()));
                    out.push_str(&text[copied..start]);
                    out.push_str(if f < 0.0 {
                        "-1.7976931348623157e308"
                    } else {
                        "1.7976931348623157e308"
                    });
                    copied = i;
                }
            }
            _ => i += 1,
        }
    }
    let mut out = out?;
    out.push_str(&text[copied..]);
    Some(out)
}

/// Whether `token` is a number in JSON's grammar (RFC 8259 §6). serde_json checks it without
/// computing its value when the value is ignored, so an overflowing number passes.
fn is_json_number(token: &str) -> bool {
    serde_json::from_str::<serde::de::IgnoredAny>(token).is_ok()
}

fn parse_strict_json_as_is(text: &str) -> Result<Value, TokenResponseError> {
    let duplicate = RefCell::new(None);
    let mut de = serde_json::Deserializer::from_str(text);
    let result = StrictSeed(&duplicate)
        .deserialize(&mut de)
        .and_then(|v| de.end().map(|()| v));
    match result {
        Ok(v) => Ok(v),
        Err(e) => match duplicate.into_inner() {
            Some(name) => Err(TokenResponseError::DuplicateField { name }),
            None => Err(TokenResponseError::InvalidJson {
                line: e.line(),
                column: e.column(),
            }),
        },
    }
}

#[derive(Clone, Copy)]
struct StrictSeed<'a>(&'a RefCell<Option<String>>);

impl<'de> DeserializeSeed<'de> for StrictSeed<'_> {
    type Value = Value;

    fn deserialize<D: de::Deserializer<'de>>(self, d: D) -> Result<Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for StrictSeed<'_> {
    type Value = Value;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_bool<E>(self, v: bool) -> Result<Value, E> {
        Ok(Value::Bool(v))
    }

    fn visit_i64<E>(self, v: i64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_u64<E>(self, v: u64) -> Result<Value, E> {
        Ok(Value::Number(v.into()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<Value, E> {
        Number::from_f64(v)
            .map(Value::Number)
            .ok_or_else(|| E::custom("non-finite number"))
    }

    fn visit_str<E>(self, v: &str) -> Result<Value, E> {
        Ok(Value::String(v.to_owned()))
    }

    fn visit_string<E>(self, v: String) -> Result<Value, E> {
        Ok(Value::String(v))
    }

    fn visit_unit<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_none<E>(self) -> Result<Value, E> {
        Ok(Value::Null)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Value, A::Error> {
        let mut items = Vec::new();
        while let Some(item) = seq.next_element_seed(self)? {
            items.push(item);
        }
        Ok(Value::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut access: A) -> Result<Value, A::Error> {
        let mut map = Map::new();
        while let Some(key) = access.next_key::<String>()? {
            if map.contains_key(&key) {
                *self.0.borrow_mut() = Some(truncate(&key, 64).to_owned());
                return Err(de::Error::custom("duplicate member"));
            }
            let value = access.next_value_seed(self)?;
            map.insert(key, value);
        }
        Ok(Value::Object(map))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn strict_json_rejects_nested_duplicates() {
        assert!(matches!(
            parse_strict_json(r#"{"a":{"b":1,"b":2}}"#),
            Err(TokenResponseError::DuplicateField { name }) if name == "b"
        ));
        assert!(parse_strict_json(r#"{"a":[{"b":1},{"b":2}]}"#).is_ok());
        assert!(matches!(
            parse_strict_json(r#"{"a":1} x"#),
            Err(TokenResponseError::InvalidJson { .. })
        ));
    }

    #[test]
    fn numbers_beyond_a_float_saturate() {
        assert_eq!(
            parse_strict_json(r#"{"a":1e309,"b":-2E+400,"c":"1e309","d":[1e999]}"#).unwrap(),
            serde_json::json!({"a": f64::MAX, "b": -f64::MAX, "c": "1e309", "d": [f64::MAX]})
        );
        // Strings with escaped quotes are skipped whole.
        assert_eq!(
            saturate_huge_numbers(r#"{"x\"1e999":"\\","y":1e999}"#).as_deref(),
            Some(r#"{"x\"1e999":"\\","y":1.7976931348623157e308}"#)
        );
        assert_eq!(saturate_huge_numbers(r#"{"a":1e300}"#), None);
        // Still invalid JSON is still refused, and a dangling string does not panic.
        assert!(parse_strict_json(r#"{"a":1e309,}"#).is_err());
        assert!(parse_strict_json(r#"{"a":1e309,"b":"\"#).is_err());
        for bad in ["01e309", "1.e309", "1e+", "--1e309", "1e309.5", ".1e999"] {
            assert!(
                parse_strict_json(&format!(r#"{{"a":{bad}}}"#)).is_err(),
                "{bad}"
            );
            assert!(!is_json_number(bad), "{bad}");
        }
        for good in ["0", "-0.5e-3", "1E+999", "123.456"] {
            assert!(is_json_number(good), "{good}");
        }
    }

    #[test]
    fn expires_in_forms() {
        let ok = |v: Value| parse_expires_in(&v).map(|d| d.as_secs());
        assert_eq!(ok(Value::from(3600)), Ok(3600));
        assert_eq!(ok(Value::from("3600")), Ok(3600));
        assert_eq!(ok(Value::from(3600.7)), Ok(3600));
        assert_eq!(
            ok(Value::from(-5)),
            Err(TokenResponseError::InvalidExpiresIn)
        );
        assert_eq!(
            ok(Value::from(-0.5)),
            Err(TokenResponseError::InvalidExpiresIn)
        );
        for bad in ["3600abc", " 3600", "3.6e3", "", "-1", "+1"] {
            assert_eq!(
                ok(Value::from(bad)),
                Err(TokenResponseError::InvalidExpiresIn),
                "{bad}"
            );
        }
        assert_eq!(ok(Value::from("99999999999999999999999")), Ok(u64::MAX));
    }

    #[test]
    fn error_code_display_is_escaped() {
        let e = OAuthErrorResponse::new("weird\"\ncode", Some("line1\nline2 <b>"), None);
        let shown = e.to_string();
        assert!(!shown.contains('\n'));
        assert!(shown.contains("\\n"));
    }
}
