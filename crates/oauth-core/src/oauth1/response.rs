//! The provider's answers in the three-legged dance: temporary credentials (RFC 5849 §2.1) and
//! token credentials (RFC 5849 §2.3), or the provider's error.
//!
//! [`parse_credentials_response`] takes what any HTTP client received (status, headers, body)
//! and returns the credentials, or a [`ProviderError`] carrying the status and the
//! `oauth_problem` (from the OAuth Problem Reporting extension), never the body.

use std::fmt;
use std::time::{Duration, SystemTime};

use http::{HeaderMap, StatusCode, header::CONTENT_TYPE};

use crate::encode::{form_decode, percent_decode};
use crate::secret::TokenSecret;

/// The longest `oauth_problem` value kept from a provider response; longer values are dropped.
const MAX_PROBLEM_LEN: usize = 64;

/// The longest media type an error names; longer ones are not named.
const MAX_MEDIA_TYPE_LEN: usize = 64;

/// Credentials parsed from a provider's form-encoded answer: the temporary credentials of
/// RFC 5849 §2.1 or the token credentials of §2.3 (the same shape).
///
/// `Debug` shows the token and how many other parameters there are, never the secret, their
/// names or their values (names are the provider's text too).
pub struct CredentialsResponse {
    token: String,
    secret: TokenSecret,
    callback_confirmed: bool,
    extra: Vec<(String, String)>,
}

impl fmt::Debug for CredentialsResponse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CredentialsResponse")
            .field("token", &self.token)
            .field("secret", &self.secret)
            .field("callback_confirmed", &self.callback_confirmed)
            // Names come from the provider's body (a form followed by a page has page text for
            // names): their number only.
            .field("extra_parameters", &self.extra.len())
            .finish()
    }
}

impl CredentialsResponse {
    /// The credentials identifier (`oauth_token`), never empty.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The credentials shared-secret (`oauth_token_secret`).
    pub fn secret(&self) -> &TokenSecret {
        &self.secret
    }

    /// Whether the response says `oauth_callback_confirmed=true` (exactly; RFC 5849 §2.1
    /// requires it of temporary credentials, as the OAuth 1.0a session-fixation fix).
    pub fn callback_confirmed(&self) -> bool {
        self.callback_confirmed
    }

    /// The response's other parameters (for example a user id, or an `oauth_problem` sent
    /// alongside a token), in order.
    pub fn extra(&self) -> &[(String, String)] {
        &self.extra
    }

    /// The token, the secret and the other parameters, by value.
    pub fn into_parts(self) -> (String, TokenSecret, Vec<(String, String)>) {
        (self.token, self.secret, self.extra)
    }
}

/// A provider answered a dance request with an error status, or with an `oauth_problem` and no
/// credentials (RFC 5849 §2, and the OAuth Problem Reporting extension's `oauth_problem`).
///
/// Carries the status and, when the provider sent one in a form body or a
/// `WWW-Authenticate: OAuth` header, the `oauth_problem` value (for example `timestamp_refused`
/// or `nonce_used`). Never the response body itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderError {
    status: StatusCode,
    problem: Option<String>,
    retry_after: Option<Duration>,
}

impl ProviderError {
    fn new(status: StatusCode, problem: Option<String>, retry_after: Option<Duration>) -> Self {
        Self {
            status,
            problem,
            retry_after,
        }
    }

    /// How long the provider asked the client to wait before trying again (its
    /// `Retry-After`, usually with a 429 or a 503), at most an hour.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// Whether trying the same step again later may succeed: the provider was overloaded or
    /// unavailable (429, 502, 503, 504). A temporary credentials request can be retried; a
    /// token credentials request only while the temporary credentials are unspent.
    pub fn is_transient(&self) -> bool {
        matches!(self.status.as_u16(), 429 | 502 | 503 | 504)
    }

    /// The HTTP status of the response.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The `oauth_problem` the provider reported, if any.
    pub fn problem(&self) -> Option<&str> {
        self.problem.as_deref()
    }
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.status.is_redirection() {
            // (The client used for the dance should not follow redirects: a step's answer
            // comes from the endpoint it was sent to, or not at all.)
            write!(
                f,
                "the provider answered with a redirect ({}), which the dance does not follow",
                self.status
            )?;
        } else {
            write!(f, "the provider rejected the request with {}", self.status)?;
        }
        if let Some(problem) = &self.problem {
            write!(f, " (oauth_problem={problem})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ProviderError {}

/// Why a provider's answer to a temporary or token credentials request yielded no credentials.
///
/// Names the problem, never the body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CredentialsResponseError {
    /// The provider answered with an error status, or with an `oauth_problem` and no token.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// A successful response is missing a field or is not a valid form body.
    #[error("malformed provider response: {reason}")]
    Malformed {
        /// What is wrong.
        reason: &'static str,
    },
    /// A successful response holds no `oauth_token` and is something else: an HTML page (a
    /// login page, a proxy's error page served with 200) or JSON.
    #[error(transparent)]
    NotCredentials(NotCredentials),
}

/// A successful (2xx) answer to a credentials request that holds no `oauth_token` and says it
/// is something else: `Content-Type: text/html`, `application/xhtml+xml` or JSON, or a body
/// that starts with `<`. Usually a login page or a proxy's error page served with 200.
///
/// Names the media type, never the body. (A form body is credentials whatever its
/// `Content-Type`: providers send `text/plain` and `text/html` forms, so the type alone is not
/// checked.)
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NotCredentials {
    content_type: Option<String>,
    starts_with_markup: bool,
}

impl NotCredentials {
    /// The response's media type (lowercase, without parameters), or `None` when it had no
    /// `Content-Type`, several, or one too long or not plain ASCII to repeat.
    pub fn content_type(&self) -> Option<&str> {
        self.content_type.as_deref()
    }

    /// Whether the body starts with `<` (after white space): HTML or XML, whatever the
    /// `Content-Type` says.
    pub fn starts_with_markup(&self) -> bool {
        self.starts_with_markup
    }
}

impl fmt::Display for NotCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the provider answered with ")?;
        match &self.content_type {
            Some(content_type) => f.write_str(content_type)?,
            None => f.write_str("no usable Content-Type")?,
        }
        if self.starts_with_markup {
            f.write_str(" and a body starting with '<'")?;
        }
        f.write_str(" instead of credentials (no oauth_token)")
    }
}

impl std::error::Error for NotCredentials {}

impl NotCredentials {
    /// `Some` when a response without an `oauth_token` says it is a page or JSON (and has no
    /// `oauth_token=` pair either: a form whose decoding failed is malformed, not a page,
    /// whatever its `Content-Type`).
    fn detect(headers: &HeaderMap, body: &[u8]) -> Option<Self> {
        if has_token_pair(body) {
            return None;
        }
        let content_type = media_type(headers);
        let page_or_json = content_type.as_deref().is_some_and(|media| {
            matches!(
                media,
                "text/html" | "application/xhtml+xml" | "application/json"
            ) || media.ends_with("+json")
        });
        // (A UTF-8 byte order mark may come first.)
        let text = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
        let starts_with_markup = text.trim_ascii_start().starts_with(b"<");
        (page_or_json || starts_with_markup).then_some(Self {
            content_type,
            starts_with_markup,
        })
    }
}

/// Whether a form body (raw, possibly undecodable) has an `oauth_token=` pair.
fn has_token_pair(body: &[u8]) -> bool {
    body.trim_ascii()
        .split(|&b| b == b'&')
        .any(|pair| pair.starts_with(b"oauth_token="))
}

/// The single `Content-Type`'s media type, lowercase, when short and printable.
fn media_type(headers: &HeaderMap) -> Option<String> {
    let mut values = headers.get_all(CONTENT_TYPE).iter();
    let (Some(value), None) = (values.next(), values.next()) else {
        return None;
    };
    let media = value.to_str().ok()?.split(';').next()?.trim();
    let printable = !media.is_empty()
        && media.len() <= MAX_MEDIA_TYPE_LEN
        && media
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/+.-_!#$&^".contains(&b));
    printable.then(|| media.to_ascii_lowercase())
}

/// Parses a provider's answer to a temporary credentials request (RFC 5849 §2.1) or a token
/// credentials request (§2.3), received at `now` (for an HTTP-date `Retry-After`).
///
/// A non-success status is a [`ProviderError`] with the `oauth_problem` from the form body or
/// from `WWW-Authenticate: OAuth ...` when present. A success must be a form body (whatever its
/// `Content-Type`: providers send `text/plain` and `text/html` as often as
/// `application/x-www-form-urlencoded`) with a non-empty `oauth_token` and an
/// `oauth_token_secret`, each at most once (and `oauth_callback_confirmed` at most once);
/// other parameters are kept as [`extra`](CredentialsResponse::extra). A success body with an
/// `oauth_problem` and no token is the provider's error too. One with no token that is an HTML
/// page or JSON (by its `Content-Type`, or a body starting with `<`) is [`NotCredentials`],
/// naming the media type.
///
/// Checking `oauth_callback_confirmed` is the caller's part: it is required of temporary
/// credentials only. Bounding the body is the caller's part too: this reads all of `body`
/// (`tower-oauth1`'s dance reads at most 64 KiB of a success and 8 KiB of an error).
///
/// # Errors
///
/// Fails with [`CredentialsResponseError::Provider`] for a non-success status (or an
/// `oauth_problem` without a token), [`NotCredentials`](CredentialsResponseError::NotCredentials)
/// for an HTML or JSON page, and [`Malformed`](CredentialsResponseError::Malformed) for a body
/// without a usable `oauth_token` and `oauth_token_secret` or with a parameter repeated.
///
/// # Example
///
/// ```
/// use std::time::SystemTime;
/// use http::{HeaderMap, StatusCode};
/// use oauth_core::oauth1::{CredentialsResponseError, parse_credentials_response};
///
/// let body = b"oauth_token=hh5s93j4hdidpola&oauth_token_secret=hdhd0244k9j7ao03&oauth_callback_confirmed=true";
/// let temporary =
///     parse_credentials_response(StatusCode::OK, &HeaderMap::new(), body, SystemTime::now())?;
/// assert_eq!(temporary.token(), "hh5s93j4hdidpola");
/// assert_eq!(temporary.secret().secret(), "hdhd0244k9j7ao03");
/// assert!(temporary.callback_confirmed());
///
/// let refused = parse_credentials_response(
///     StatusCode::UNAUTHORIZED,
///     &HeaderMap::new(),
///     b"oauth_problem=timestamp_refused",
///     SystemTime::now(),
/// );
/// let Err(CredentialsResponseError::Provider(error)) = refused else { panic!() };
/// assert_eq!(error.problem(), Some("timestamp_refused"));
/// # Ok::<(), CredentialsResponseError>(())
/// ```
pub fn parse_credentials_response(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> Result<CredentialsResponse, CredentialsResponseError> {
    if !status.is_success() {
        return Err(provider_error(status, headers, body, now).into());
    }
    parse_credentials(status, headers, body)
}

/// Turns a non-success response into a [`ProviderError`], with the `oauth_problem` from the form
/// body or from `WWW-Authenticate: OAuth ...` when present.
fn provider_error(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
) -> ProviderError {
    let problem = std::str::from_utf8(body)
        .ok()
        .and_then(|s| form_decode(s.trim()).ok())
        .and_then(|pairs| {
            pairs
                .into_iter()
                .find(|(n, _)| n == "oauth_problem")
                .map(|(_, v)| v)
        })
        .and_then(|v| sanitize_problem(&v))
        .or_else(|| problem_from_www_authenticate(headers));
    let retry_after = crate::retry::parse_retry_after(headers, now);
    ProviderError::new(status, problem, retry_after)
}

/// Finds `oauth_problem` in an `OAuth` challenge of the `WWW-Authenticate` fields (`OAuth
/// realm="...", oauth_problem="..."`), read by the shared challenge parser: quoted commas,
/// several challenges in one value and bytes past ASCII in a quoted realm are read right, and
/// a malformed value has no problem.
fn problem_from_www_authenticate(headers: &HeaderMap) -> Option<String> {
    crate::oauth2::challenge::www_authenticate_challenges(headers)
        .filter(|challenge| challenge.is_scheme("OAuth"))
        .find_map(|challenge| {
            let raw = challenge.param("oauth_problem")?;
            sanitize_problem(&percent_decode(raw).ok()?)
        })
}

/// Parses a successful credentials response: `oauth_token`, `oauth_token_secret`, and
/// `oauth_callback_confirmed`, each at most once; other parameters are kept as `extra`. A
/// body with an `oauth_problem` and no token is the provider's error, whatever the status.
///
/// A body that yields no `oauth_token` and is a page or JSON is [`NotCredentials`].
fn parse_credentials(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> Result<CredentialsResponse, CredentialsResponseError> {
    let malformed = |reason| CredentialsResponseError::Malformed { reason };
    let no_token = |reason| {
        NotCredentials::detect(headers, body)
            .map_or(malformed(reason), CredentialsResponseError::NotCredentials)
    };
    let text = std::str::from_utf8(body).map_err(|_| no_token("the body is not UTF-8"))?;
    let pairs = form_decode(text.trim()).map_err(|_| no_token("the body is not form-encoded"))?;
    let mut token = None;
    let mut secret = None;
    let mut confirmed = None;
    let mut extra = Vec::new();
    for (name, value) in pairs {
        let slot = match name.as_str() {
            "oauth_token" => &mut token,
            "oauth_token_secret" => &mut secret,
            "oauth_callback_confirmed" => &mut confirmed,
            _ => {
                extra.push((name, value));
                continue;
            }
        };
        if slot.replace(value).is_some() {
            return Err(malformed("a credentials parameter appears more than once"));
        }
    }
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        if let Some((_, problem)) = extra.iter().find(|(name, _)| name == "oauth_problem") {
            return Err(ProviderError::new(status, sanitize_problem(problem), None).into());
        }
        return Err(no_token("oauth_token is missing"));
    };
    let secret = secret.ok_or(malformed("oauth_token_secret is missing"))?;
    Ok(CredentialsResponse {
        token,
        secret: TokenSecret::new(secret),
        callback_confirmed: confirmed.as_deref() == Some("true"),
        extra,
    })
}

/// Keeps an `oauth_problem` only if it is a short token of safe characters, so that an error
/// never repeats arbitrary response content.
pub(crate) fn sanitize_problem(value: &str) -> Option<String> {
    let ok = !value.is_empty()
        && value.len() <= MAX_PROBLEM_LEN
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
    ok.then(|| value.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;
    use http::header::WWW_AUTHENTICATE;

    fn parse_ok(body: &[u8]) -> Result<CredentialsResponse, CredentialsResponseError> {
        parse_credentials_response(StatusCode::OK, &HeaderMap::new(), body, SystemTime::now())
    }

    #[test]
    fn credentials_parse_and_confirmation() {
        let body = b"oauth_token=hh5s93j4hdidpola&oauth_token_secret=hdhd0244k9j7ao03&oauth_callback_confirmed=true";
        let c = parse_ok(body).unwrap();
        assert_eq!(c.token(), "hh5s93j4hdidpola");
        assert_eq!(c.secret().secret(), "hdhd0244k9j7ao03");
        assert!(c.callback_confirmed());

        assert!(
            !parse_ok(b"oauth_token=a&oauth_token_secret=b")
                .unwrap()
                .callback_confirmed()
        );
        assert!(
            !parse_ok(b"oauth_token=a&oauth_token_secret=b&oauth_callback_confirmed=TRUE")
                .unwrap()
                .callback_confirmed()
        );
    }

    #[test]
    fn credentials_keep_extra_parameters_and_never_print_the_secret() {
        let c = parse_ok(b"oauth_token=tok&oauth_token_secret=SENTINEL&user_id=SENTINEL2").unwrap();
        assert_eq!(c.extra(), [("user_id".to_owned(), "SENTINEL2".to_owned())]);
        let debug = format!("{c:?}");
        assert!(!debug.contains("SENTINEL"), "{debug}");
        let (token, secret, extra) = c.into_parts();
        assert_eq!((token.as_str(), secret.secret()), ("tok", "SENTINEL"));
        assert_eq!(extra.len(), 1);
    }

    #[test]
    fn credentials_missing_or_duplicate_fields_are_errors_without_the_body() {
        for body in [
            &b"oauth_token_secret=SENTINEL"[..],
            b"oauth_token=&oauth_token_secret=SENTINEL",
            b"oauth_token=a",
            b"oauth_token=a&oauth_token=b&oauth_token_secret=SENTINEL",
            b"oauth_token=%zz&oauth_token_secret=SENTINEL",
            b"\xff\xfe",
        ] {
            let err = parse_ok(body).err().unwrap();
            assert!(
                matches!(err, CredentialsResponseError::Malformed { .. }),
                "{err:?}"
            );
            assert!(!format!("{err} {err:?}").contains("SENTINEL"));
        }
    }

    #[test]
    fn www_authenticate_is_read_by_the_challenge_parser() {
        let problem = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.insert(WWW_AUTHENTICATE, HeaderValue::from_static(value));
            provider_error(StatusCode::UNAUTHORIZED, &headers, b"", SystemTime::now())
                .problem()
                .map(str::to_owned)
        };
        // A comma inside the quoted realm is not a parameter separator.
        assert_eq!(
            problem(r#"OAuth realm="a, oauth_problem=forged", oauth_problem="nonce_used""#),
            Some("nonce_used".into())
        );
        // The OAuth challenge after another one in the same value.
        assert_eq!(
            problem(r#"Basic realm="x", OAuth oauth_problem=token_expired"#),
            Some("token_expired".into())
        );
        assert_eq!(problem(r#"OAuth oauth_problem="unterminated"#), None);
        // Bytes past ASCII in a quoted realm (UTF-8 or Latin-1) do not hide the problem.
        for realm in ["Z\u{fc}rich".as_bytes(), b"Z\xfcrich"] {
            let mut value = b"OAuth realm=\"".to_vec();
            value.extend_from_slice(realm);
            value.extend_from_slice(b"\", oauth_problem=\"nonce_used\"");
            let mut headers = HeaderMap::new();
            headers.insert(WWW_AUTHENTICATE, HeaderValue::from_bytes(&value).unwrap());
            let error = provider_error(StatusCode::UNAUTHORIZED, &headers, b"", SystemTime::now());
            assert_eq!(error.problem(), Some("nonce_used"));
        }
    }

    #[test]
    fn provider_problem_from_body_or_www_authenticate() {
        let now = SystemTime::now();
        let headers = HeaderMap::new();
        let e = provider_error(
            StatusCode::UNAUTHORIZED,
            &headers,
            b"oauth_problem=timestamp_refused&oauth_acceptable_timestamps=1-2",
            now,
        );
        assert_eq!(e.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(e.problem(), Some("timestamp_refused"));
        assert_eq!(
            e.to_string(),
            "the provider rejected the request with 401 Unauthorized (oauth_problem=timestamp_refused)"
        );

        let mut headers = HeaderMap::new();
        headers.insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("OAuth realm=\"api\", oauth_problem=\"nonce_used\""),
        );
        let e = provider_error(
            StatusCode::UNAUTHORIZED,
            &headers,
            b"<html>SENTINEL</html>",
            now,
        );
        assert_eq!(e.problem(), Some("nonce_used"));
        assert!(!format!("{e} {e:?}").contains("SENTINEL"));

        // Arbitrary content is never repeated.
        let e = provider_error(
            StatusCode::BAD_REQUEST,
            &HeaderMap::new(),
            b"oauth_problem=<script>SENTINEL</script>",
            now,
        );
        assert_eq!(e.problem(), None);
        let e = provider_error(
            StatusCode::BAD_REQUEST,
            &HeaderMap::new(),
            b"Invalid signature SENTINEL",
            now,
        );
        assert_eq!(e.problem(), None);
        let mut headers = HeaderMap::new();
        headers.insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer oauth_problem=\"x\""),
        );
        assert_eq!(
            provider_error(StatusCode::UNAUTHORIZED, &headers, b"", now).problem(),
            None
        );
    }

    fn parse_with(
        content_type: &'static str,
        body: &[u8],
    ) -> Result<CredentialsResponse, CredentialsResponseError> {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        parse_credentials_response(StatusCode::OK, &headers, body, SystemTime::now())
    }

    /// A 200 that is a page or JSON without a token names its media type, never the body; a
    /// form is credentials whatever its `Content-Type`.
    #[test]
    fn a_page_or_json_without_a_token_is_not_credentials() {
        for (content_type, body, named, markup) in [
            (
                "text/html; charset=utf-8",
                &b"<!doctype html><p>SENTINEL sign in</p>"[..],
                Some("text/html"),
                true,
            ),
            ("TEXT/HTML", b"Sign in SENTINEL", Some("text/html"), false),
            (
                "application/json",
                br#"{"error":"SENTINEL"}"#,
                Some("application/json"),
                false,
            ),
            (
                "application/problem+json",
                br#"{"title":"SENTINEL"}"#,
                Some("application/problem+json"),
                false,
            ),
            (
                "text/plain",
                b"  <html>SENTINEL %zz</html>",
                Some("text/plain"),
                true,
            ),
            ("text/html", b"\xff<html>SENTINEL", Some("text/html"), false),
        ] {
            let err = parse_with(content_type, body).unwrap_err();
            let CredentialsResponseError::NotCredentials(not) = &err else {
                panic!("{content_type}: {err:?}");
            };
            assert_eq!(
                (not.content_type(), not.starts_with_markup()),
                (named, markup)
            );
            let printed = format!("{err} {err:?}");
            assert!(!printed.contains("SENTINEL"), "{printed}");
        }
        let err = parse_with("text/html", b"<html>").unwrap_err();
        assert_eq!(
            err.to_string(),
            "the provider answered with text/html and a body starting with '<' instead of credentials (no oauth_token)"
        );
        // Forms are credentials whatever their type; other text without a token stays malformed.
        for content_type in [
            "text/plain",
            "text/html",
            "application/x-www-form-urlencoded",
        ] {
            let c = parse_with(content_type, b"oauth_token=t&oauth_token_secret=s").unwrap();
            assert_eq!(c.token(), "t");
        }
        assert!(matches!(
            parse_with("text/plain", b"hello"),
            Err(CredentialsResponseError::Malformed {
                reason: "oauth_token is missing"
            })
        ));
        // A token present with a field missing is a malformed answer, not a page.
        assert!(matches!(
            parse_with("text/html", b"oauth_token=t"),
            Err(CredentialsResponseError::Malformed { .. })
        ));
        // A page with a problem is still the provider's error.
        assert!(matches!(
            parse_with("text/html", b"oauth_problem=token_rejected"),
            Err(CredentialsResponseError::Provider(_))
        ));
    }

    /// `ProviderError::is_transient` is true for exactly the statuses its doc names (429, 502,
    /// 503, 504): a 500, a 501, a 4xx refusal or a redirect needs a change before trying again.
    #[test]
    fn provider_error_is_transient_for_429_502_503_504_only() {
        for code in 100..=599u16 {
            let status = StatusCode::from_u16(code).unwrap();
            if status.is_success() {
                continue;
            }
            let error = provider_error(status, &HeaderMap::new(), b"", SystemTime::now());
            assert_eq!(
                error.is_transient(),
                matches!(code, 429 | 502 | 503 | 504),
                "{status}"
            );
        }
    }

    /// An error status goes through `provider_error` even when its body holds credentials, and
    /// an `oauth_problem` with HTTP 200 and no token is the provider's error.
    #[test]
    fn status_decides_before_the_body() {
        let err = parse_credentials_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &HeaderMap::new(),
            b"oauth_token=t&oauth_token_secret=s",
            SystemTime::now(),
        )
        .unwrap_err();
        assert!(
            matches!(&err, CredentialsResponseError::Provider(p) if p.is_transient()),
            "{err:?}"
        );
        let err = parse_ok(b"oauth_problem=consumer_key_rejected").unwrap_err();
        assert!(
            matches!(&err, CredentialsResponseError::Provider(p)
                if p.status() == StatusCode::OK && p.problem() == Some("consumer_key_rejected")),
            "{err:?}"
        );
    }
}
