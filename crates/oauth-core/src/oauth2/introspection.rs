//! Token introspection (RFC 7662): ask the authorization server whether a token is active and
//! what it stands for — for a resource server that receives opaque tokens, or a client that
//! wants to know about its own.
//!
//! ```
//! use http::{HeaderMap, StatusCode};
//! use oauth_core::oauth2::introspection::{IntrospectionRequest, parse_introspection_response};
//! use oauth_core::oauth2::{Client, Compliance, Endpoint};
//! use oauth_core::secret::{AccessToken, ClientSecret};
//!
//! let endpoint = Endpoint::new("https://server.example.com/introspect")?;
//! let resource_server = Client::secret_basic("rs-1", ClientSecret::new("s3cr3t"));
//! let token = AccessToken::new("mF_9.B5f-4.1JqM");
//! let request = IntrospectionRequest::access_token(&endpoint, &resource_server, &token).build()?;
//! assert_eq!(request.body().as_bytes(), b"token=mF_9.B5f-4.1JqM&token_type_hint=access_token");
//!
//! let mut headers = HeaderMap::new();
//! headers.insert("content-type", "application/json".parse()?);
//! let body = br#"{"active":true,"client_id":"l238j323ds-23ij4","scope":"read write","sub":"Z5O3upPC88QrAjx00dis","exp":1419356238}"#;
//! let info = parse_introspection_response(StatusCode::OK, &headers, body, &Compliance::strict())?;
//! assert!(info.active());
//! assert_eq!(info.client_id(), Some("l238j323ds-23ij4"));
//! assert!(info.scope().unwrap().contains("write"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::{HeaderMap, Request, StatusCode};
use serde_json::{Map, Value};

use super::compliance::Compliance;
use super::endpoint::Endpoint;
use super::grant::{Client, GrantError, TokenRequest};
use super::response::{TokenResponseError, check_error, decode_response, take_string};
use super::sensitive_body::SensitiveBody;
use super::token::Scope;
use crate::secret::{AccessToken, RefreshToken};

/// An introspection request (RFC 7662 §2.1): `token`, `token_type_hint`, and the caller's
/// authentication (the same methods as at the token endpoint).
#[derive(Debug)]
pub struct IntrospectionRequest {
    inner: TokenRequest,
}

impl IntrospectionRequest {
    /// Asks about an access token (`token_type_hint=access_token`).
    pub fn access_token(endpoint: &Endpoint, client: &Client, token: &AccessToken) -> Self {
        Self::new(endpoint, client, token.secret(), "access_token")
    }

    /// Asks about a refresh token (`token_type_hint=refresh_token`).
    pub fn refresh_token(endpoint: &Endpoint, client: &Client, token: &RefreshToken) -> Self {
        Self::new(endpoint, client, token.secret(), "refresh_token")
    }

    fn new(endpoint: &Endpoint, client: &Client, token: &str, hint: &str) -> Self {
        Self {
            inner: TokenRequest::about_token(endpoint, client, token, hint),
        }
    }

    /// Builds the `POST` request.
    ///
    /// # Errors
    ///
    /// Fails as [`TokenRequest::build`] does: [`GrantError::ReservedParameter`] for an extra
    /// parameter the builder sets itself, [`GrantError::ClientAssertion`] when the client's JWT
    /// assertion cannot be made.
    pub fn build(self) -> Result<Request<SensitiveBody>, GrantError> {
        self.inner.build()
    }
}

/// What the server says about a token (RFC 7662 §2.2). An inactive token carries nothing
/// else worth reading: every accessor but [`active`](Self::active) is then `None` (or empty,
/// for [`aud`](Self::aud) and [`extra`](Self::extra)).
#[derive(Clone, PartialEq)]
pub struct Introspection {
    active: bool,
    scope: Option<Scope>,
    client_id: Option<String>,
    username: Option<String>,
    token_type: Option<String>,
    exp: Option<SystemTime>,
    iat: Option<SystemTime>,
    nbf: Option<SystemTime>,
    sub: Option<String>,
    aud: Vec<String>,
    iss: Option<String>,
    jti: Option<String>,
    extra: Map<String, Value>,
}

impl fmt::Debug for Introspection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Introspection")
            .field("active", &self.active)
            .field("scope", &self.scope)
            .field("client_id", &self.client_id)
            .field("token_type", &self.token_type)
            .field("exp", &self.exp.map(unix))
            .field("sub", &self.sub)
            .field("aud", &self.aud)
            .field("iss", &self.iss)
            .field("extra_members", &self.extra.len())
            .finish_non_exhaustive()
    }
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl Introspection {
    /// `active`: whether the token is currently active (RFC 7662 §2.2, REQUIRED).
    pub fn active(&self) -> bool {
        self.active
    }

    /// `scope`.
    pub fn scope(&self) -> Option<&Scope> {
        self.scope.as_ref()
    }

    /// `client_id`: the client the token was issued to.
    pub fn client_id(&self) -> Option<&str> {
        self.client_id.as_deref()
    }

    /// `username`: the resource owner, human-readable.
    pub fn username(&self) -> Option<&str> {
        self.username.as_deref()
    }

    /// `token_type` (e.g. `Bearer`, `DPoP`).
    pub fn token_type(&self) -> Option<&str> {
        self.token_type.as_deref()
    }

    /// `exp`: when the token expires.
    pub fn expires_at(&self) -> Option<SystemTime> {
        self.exp
    }

    /// `iat`: when the token was issued.
    pub fn issued_at(&self) -> Option<SystemTime> {
        self.iat
    }

    /// `nbf`: the token is not to be used before this time.
    pub fn not_before(&self) -> Option<SystemTime> {
        self.nbf
    }

    /// `sub`: the subject, usually a machine-readable user id.
    pub fn sub(&self) -> Option<&str> {
        self.sub.as_deref()
    }

    /// `aud`: the audiences (a single string is a one-element list).
    pub fn aud(&self) -> &[String] {
        &self.aud
    }

    /// `iss`: the issuer.
    pub fn iss(&self) -> Option<&str> {
        self.iss.as_deref()
    }

    /// `jti`: the token's identifier.
    pub fn jti(&self) -> Option<&str> {
        self.jti.as_deref()
    }

    /// The JWK thumbprint a DPoP-bound token is bound to (`cnf.jkt`, RFC 9449 §6.2), for a
    /// resource server that checks the proof's key against it.
    pub fn cnf_jkt(&self) -> Option<&str> {
        self.extra.get("cnf")?.get("jkt")?.as_str()
    }

    /// Every other member (e.g. `cnf` for sender-constrained tokens, RFC 9449 §6.2 and
    /// RFC 8705 §3.2).
    pub fn extra(&self) -> &Map<String, Value> {
        &self.extra
    }
}

/// Reads an introspection response (RFC 7662 §2.2, §2.3): a JSON object with a boolean
/// `active`. An inactive token gives an [`Introspection`] with only `active: false`, whatever
/// else the server sent (§2.2: it should send nothing else).
///
/// # Errors
///
/// Fails with a [`TokenResponseError`]: [`OAuth`](TokenResponseError::OAuth) or
/// [`HttpStatus`](TokenResponseError::HttpStatus) for an error answer, the body errors of
/// [`parse_token_response`](super::parse_token_response) (content type, JSON, duplicate
/// members), [`MissingField`](TokenResponseError::MissingField) without `active`, and
/// [`InvalidField`](TokenResponseError::InvalidField) for a member of the wrong type (`active`
/// not a boolean, a time not a non-negative integer, ...).
pub fn parse_introspection_response(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    compliance: &Compliance,
) -> Result<Introspection, TokenResponseError> {
    let mut members = decode_response(status, headers, body, compliance)?;
    check_error(status, &members)?;
    let active = match members.remove("active") {
        Some(Value::Bool(active)) => active,
        None | Some(Value::Null) => {
            return Err(TokenResponseError::MissingField { field: "active" });
        }
        Some(_) => {
            return Err(TokenResponseError::InvalidField {
                field: "active",
                expected: "a boolean",
            });
        }
    };
    if !active {
        return Ok(Introspection {
            active,
            scope: None,
            client_id: None,
            username: None,
            token_type: None,
            exp: None,
            iat: None,
            nbf: None,
            sub: None,
            aud: Vec::new(),
            iss: None,
            jti: None,
            extra: Map::new(),
        });
    }
    let scope = take_string(&mut members, "scope")?.map(|s| Scope::parse(&s));
    let time = |members: &mut Map<String, Value>, field: &'static str| match members.remove(field) {
        None | Some(Value::Null) => Ok(None),
        // (A time past what `SystemTime` holds is an error, not "absent": an `nbf` that
        // overflows must not read as "no restriction".)
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|secs| UNIX_EPOCH.checked_add(Duration::from_secs(secs)))
            .map(Some)
            .ok_or(TokenResponseError::InvalidField {
                field,
                expected: "a non-negative integer number of seconds",
            }),
        Some(_) => Err(TokenResponseError::InvalidField {
            field,
            expected: "a non-negative integer number of seconds",
        }),
    };
    let exp = time(&mut members, "exp")?;
    let iat = time(&mut members, "iat")?;
    let nbf = time(&mut members, "nbf")?;
    let aud = match members.remove("aud") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(aud)) => vec![aud],
        Some(Value::Array(values)) => values
            .into_iter()
            .map(|v| match v {
                Value::String(s) => Ok(s),
                _ => Err(TokenResponseError::InvalidField {
                    field: "aud",
                    expected: "a string or an array of strings",
                }),
            })
            .collect::<Result<_, _>>()?,
        Some(_) => {
            return Err(TokenResponseError::InvalidField {
                field: "aud",
                expected: "a string or an array of strings",
            });
        }
    };
    Ok(Introspection {
        active,
        scope,
        client_id: take_string(&mut members, "client_id")?,
        username: take_string(&mut members, "username")?,
        token_type: take_string(&mut members, "token_type")?,
        exp,
        iat,
        nbf,
        sub: take_string(&mut members, "sub")?,
        aud,
        iss: take_string(&mut members, "iss")?,
        jti: take_string(&mut members, "jti")?,
        extra: members,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            http::header::CONTENT_TYPE,
            "application/json".parse().unwrap(),
        );
        h
    }

    fn parse(status: StatusCode, body: &str) -> Result<Introspection, TokenResponseError> {
        parse_introspection_response(status, &json(), body.as_bytes(), &Compliance::strict())
    }

    /// A time past what `SystemTime` holds is refused, not read as absent (an `nbf` that
    /// overflowed would otherwise mean "no restriction").
    #[test]
    fn times_that_overflow_are_refused() {
        for field in ["nbf", "exp", "iat"] {
            let body = format!(r#"{{"active":true,"{field}":18446744073709551615}}"#);
            assert!(
                matches!(
                    parse(StatusCode::OK, &body),
                    Err(TokenResponseError::InvalidField { field: f, .. }) if f == field
                ),
                "{field}"
            );
        }
    }

    /// RFC 7662 §2.2's example response.
    #[test]
    fn rfc7662_s2_2_example() {
        let info = parse(
            StatusCode::OK,
            r#"{"active": true, "client_id": "l238j323ds-23ij4", "username": "jdoe",
                "scope": "read write dolphin", "sub": "Z5O3upPC88QrAjx00dis",
                "aud": "https://protected.example.net/resource",
                "iss": "https://server.example.com/", "exp": 1419356238, "iat": 1419350238,
                "extension_field": "twenty-seven"}"#,
        )
        .unwrap();
        assert!(info.active());
        assert_eq!(info.username(), Some("jdoe"));
        assert_eq!(info.scope().unwrap().iter().count(), 3);
        assert_eq!(info.aud(), ["https://protected.example.net/resource"]);
        assert_eq!(
            info.expires_at(),
            Some(UNIX_EPOCH + Duration::from_secs(1_419_356_238))
        );
        assert_eq!(
            info.issued_at(),
            Some(UNIX_EPOCH + Duration::from_secs(1_419_350_238))
        );
        assert_eq!(info.extra()["extension_field"], "twenty-seven");
        assert_eq!(info.cnf_jkt(), None);
    }

    /// RFC 9449 §6.2's example: a DPoP-bound token's key thumbprint.
    #[test]
    fn rfc9449_s6_2_cnf_jkt() {
        let info = parse(
            StatusCode::OK,
            r#"{"active": true, "sub": "someone@example.com", "token_type": "DPoP",
                "cnf": {"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}}"#,
        )
        .unwrap();
        assert_eq!(
            info.cnf_jkt(),
            Some("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I")
        );
    }

    /// Every member RFC 7662 §2.2 defines is read, each into its own accessor (the
    /// example's members plus `token_type`, `nbf` and `jti`), and none is left in `extra`.
    #[test]
    fn every_rfc7662_s2_2_member_is_read() {
        let info = parse(
            StatusCode::OK,
            r#"{"active": true, "client_id": "l238j323ds-23ij4", "username": "jdoe",
                "scope": "read write dolphin", "token_type": "Bearer",
                "exp": 1419356238, "iat": 1419350238, "nbf": 1419350000,
                "sub": "Z5O3upPC88QrAjx00dis", "aud": "https://protected.example.net/resource",
                "iss": "https://server.example.com/", "jti": "JlbmMiOiJBMTI4Q0JDLUhTMjU2In"}"#,
        )
        .unwrap();
        assert_eq!(info.client_id(), Some("l238j323ds-23ij4"));
        assert_eq!(info.username(), Some("jdoe"));
        assert_eq!(info.token_type(), Some("Bearer"));
        assert_eq!(
            info.not_before(),
            Some(UNIX_EPOCH + Duration::from_secs(1_419_350_000))
        );
        assert_eq!(info.sub(), Some("Z5O3upPC88QrAjx00dis"));
        assert_eq!(info.iss(), Some("https://server.example.com/"));
        assert_eq!(info.jti(), Some("JlbmMiOiJBMTI4Q0JDLUhTMjU2In"));
        assert!(info.extra().is_empty(), "{:?}", info.extra());
        // Absent members are `None`, not empty strings.
        let bare = parse(StatusCode::OK, r#"{"active": true}"#).unwrap();
        assert_eq!(
            (bare.client_id(), bare.token_type(), bare.sub()),
            (None, None, None)
        );
        assert_eq!(
            (bare.iss(), bare.jti(), bare.not_before()),
            (None, None, None)
        );
    }

    /// The `Debug` of an introspection result names the token's metadata, `exp` as Unix
    /// seconds, and counts the extension members without printing their values (a `cnf` or a
    /// custom claim may be anything).
    #[test]
    fn debug_shows_the_metadata_and_counts_the_extension_members() {
        let info = parse(
            StatusCode::OK,
            r#"{"active": true, "client_id": "l238j323ds-23ij4", "scope": "read",
                "token_type": "DPoP", "exp": 1419356238, "sub": "Z5O3upPC88QrAjx00dis",
                "aud": "https://protected.example.net/resource",
                "iss": "https://server.example.com/", "extension_field": "twenty-seven",
                "cnf": {"jkt": "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"}}"#,
        )
        .unwrap();
        let shown = format!("{info:?}");
        for part in [
            "Introspection { active: true",
            "client_id: Some(\"l238j323ds-23ij4\")",
            "token_type: Some(\"DPoP\")",
            "exp: Some(1419356238)",
            "sub: Some(\"Z5O3upPC88QrAjx00dis\")",
            "aud: [\"https://protected.example.net/resource\"]",
            "iss: Some(\"https://server.example.com/\")",
            "extra_members: 2",
        ] {
            assert!(shown.contains(part), "{part} not in {shown}");
        }
        assert!(
            !shown.contains("twenty-seven") && !shown.contains("0ZcOCORZ"),
            "{shown}"
        );
    }

    #[test]
    fn inactive_and_malformed_responses() {
        let inactive = parse(StatusCode::OK, r#"{"active": false, "sub": "ignored"}"#).unwrap();
        assert!(!inactive.active());
        assert_eq!(inactive.sub(), None);
        for body in [
            r#"{}"#,
            r#"{"active": "true"}"#,
            r#"{"active": true, "exp": -1}"#,
            r#"{"active": true, "aud": [1]}"#,
            r#"{"active": true, "client_id": 7}"#,
        ] {
            assert!(parse(StatusCode::OK, body).is_err(), "{body}");
        }
        let error = parse(StatusCode::UNAUTHORIZED, r#"{"error": "invalid_client"}"#).unwrap_err();
        assert_eq!(
            error.oauth_error().map(|e| e.code.as_str()),
            Some("invalid_client")
        );
        let info = parse(StatusCode::OK, r#"{"active": true, "aud": ["a", "b"]}"#).unwrap();
        assert_eq!(info.aud(), ["a", "b"]);
    }
}
