//! The UserInfo endpoint's answer (OpenID Connect Core 1.0 §5.3): claims about the signed-in
//! user (`name`, `email`, ...) that the ID token may not carry.
//!
//! The endpoint is an OAuth 2 protected resource: call it with the access token (through
//! `tower_oauth2::OAuth2Layer`, or with a Bearer header), then read the answer with
//! [`parse_userinfo`], which holds it to the ID token of the same login. Its `sub` **must** be
//! the ID token's (§5.3.2): the answer of a token issued for another user, or substituted by an
//! attacker, would otherwise be taken as this user's.
//!
//! ```
//! use http::{HeaderMap, StatusCode, header::CONTENT_TYPE};
//! use oauth_core::oauth2::{UserInfoError, parse_userinfo};
//!
//! let mut headers = HeaderMap::new();
//! headers.insert(CONTENT_TYPE, "application/json".parse()?);
//! let body = br#"{"sub": "248289761001", "name": "Jane Doe", "email": "janedoe@example.com"}"#;
//! // `sub` from the verified ID token (`IdTokenClaims::sub`).
//! let info = parse_userinfo(StatusCode::OK, &headers, body, "248289761001")?;
//! assert_eq!(info.claim("email").and_then(|e| e.as_str()), Some("janedoe@example.com"));
//!
//! let other = parse_userinfo(StatusCode::OK, &headers, body, "90342.ASDFJWFA");
//! assert_eq!(other.unwrap_err(), UserInfoError::SubjectMismatch);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use http::{HeaderMap, StatusCode, header::CONTENT_TYPE};
use serde_json::{Map, Value};

/// The claims of a UserInfo answer whose `sub` is the ID token's.
#[derive(Clone)]
pub struct UserInfo {
    sub: String,
    claims: Map<String, Value>,
}

impl fmt::Debug for UserInfo {
    // (The claims are personal data: only their names.)
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UserInfo")
            .field("sub", &self.sub)
            .field("claims", &self.claims.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl UserInfo {
    /// `sub`: the same as the ID token's.
    pub fn sub(&self) -> &str {
        &self.sub
    }

    /// Any claim by name, as JSON (`name`, `email`, `email_verified`, ...), `sub` included.
    pub fn claim(&self, name: &str) -> Option<&Value> {
        self.claims.get(name)
    }

    /// Every claim.
    pub fn claims(&self) -> &Map<String, Value> {
        &self.claims
    }
}

/// Why a UserInfo answer was not taken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum UserInfoError {
    /// The endpoint answered with another status than 200.
    #[error("the UserInfo endpoint answered HTTP {0}")]
    Status(StatusCode),
    /// The answer is a signed or encrypted JWT (`application/jwt`, §5.3.2), which is not read
    /// here: ask the provider for plain JSON (the default unless the client registered
    /// `userinfo_signed_response_alg`).
    #[error("the UserInfo answer is a JWT (application/jwt), which is not supported")]
    Jwt,
    /// The answer is not a JSON object (or not JSON).
    #[error("the UserInfo answer is not a JSON object")]
    InvalidJson,
    /// The answer has no `sub` string.
    #[error("the UserInfo answer has no sub")]
    MissingSubject,
    /// The answer's `sub` is not the ID token's: it is about another user, and must not be
    /// used (OpenID Connect Core 1.0 §5.3.2).
    #[error("the UserInfo answer is about another user than the ID token (sub differs)")]
    SubjectMismatch,
}

/// Reads a UserInfo answer (status, headers, body), and takes it only if its `sub` is
/// `expected_sub`, the `sub` of the ID token of the same login (OpenID Connect Core 1.0
/// §5.3.2). Read the body under a size limit first (a few KiB are plenty).
///
/// # Errors
///
/// Fails with [`UserInfoError::Status`] for a status other than 200, [`UserInfoError::Jwt`] for
/// an `application/jwt` answer, [`UserInfoError::InvalidJson`] for a body that is not a JSON
/// object, [`UserInfoError::MissingSubject`] without a `sub` string, and
/// [`UserInfoError::SubjectMismatch`] when `sub` is not `expected_sub`.
pub fn parse_userinfo(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    expected_sub: &str,
) -> Result<UserInfo, UserInfoError> {
    if status != StatusCode::OK {
        return Err(UserInfoError::Status(status));
    }
    let is_jwt = headers.get(CONTENT_TYPE).is_some_and(|value| {
        let essence = value.as_bytes().split(|&b| b == b';').next();
        essence.is_some_and(|e| e.trim_ascii().eq_ignore_ascii_case(b"application/jwt"))
    });
    if is_jwt {
        return Err(UserInfoError::Jwt);
    }
    let claims: Map<String, Value> =
        serde_json::from_slice(body).map_err(|_| UserInfoError::InvalidJson)?;
    let sub = match claims.get("sub") {
        Some(Value::String(sub)) => sub.clone(),
        _ => return Err(UserInfoError::MissingSubject),
    };
    // (Exact comparison: `sub` is case-sensitive, OpenID Connect Core 1.0 §2.)
    if sub != expected_sub {
        return Err(UserInfoError::SubjectMismatch);
    }
    Ok(UserInfo { sub, claims })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn json() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(
            CONTENT_TYPE,
            "application/json; charset=utf-8".parse().unwrap(),
        );
        headers
    }

    /// OpenID Connect Core 1.0 §5.3.2's example response.
    const EXAMPLE: &[u8] = br#"{
        "sub": "248289761001",
        "name": "Jane Doe",
        "given_name": "Jane",
        "family_name": "Doe",
        "preferred_username": "j.doe",
        "email": "janedoe@example.com",
        "picture": "http://example.com/janedoe/me.jpg"
    }"#;

    #[test]
    fn the_example_answer_is_read_when_its_sub_is_the_id_tokens() {
        let info = parse_userinfo(StatusCode::OK, &json(), EXAMPLE, "248289761001").unwrap();
        assert_eq!(info.sub(), "248289761001");
        assert_eq!(
            info.claim("preferred_username"),
            Some(&Value::from("j.doe"))
        );
        assert_eq!(info.claims().len(), 7);
        // No content type at all is read as JSON too (many servers omit the charset or more).
        assert!(parse_userinfo(StatusCode::OK, &HeaderMap::new(), EXAMPLE, "248289761001").is_ok());
    }

    /// §5.3.2: "the sub Claim in the UserInfo Response MUST be verified to exactly match the
    /// sub Claim in the ID Token; if they do not match, the UserInfo Response values MUST NOT be
    /// used". Exact: another case or trailing space is another user.
    #[test]
    fn another_users_answer_is_refused() {
        for expected in ["248289761002", "248289761001 ", "", "248289761001\u{0}"] {
            assert_eq!(
                parse_userinfo(StatusCode::OK, &json(), EXAMPLE, expected).unwrap_err(),
                UserInfoError::SubjectMismatch,
                "{expected:?}"
            );
        }
        let upper = br#"{"sub": "Alice"}"#;
        assert_eq!(
            parse_userinfo(StatusCode::OK, &json(), upper, "alice").unwrap_err(),
            UserInfoError::SubjectMismatch
        );
    }

    #[test]
    fn bad_answers_get_typed_errors() {
        let cases: [(StatusCode, &[u8], UserInfoError); 6] = [
            (
                StatusCode::UNAUTHORIZED,
                EXAMPLE,
                UserInfoError::Status(StatusCode::UNAUTHORIZED),
            ),
            (StatusCode::OK, b"", UserInfoError::InvalidJson),
            (StatusCode::OK, b"[1]", UserInfoError::InvalidJson),
            (
                StatusCode::OK,
                b"{\"name\": \"x\"}",
                UserInfoError::MissingSubject,
            ),
            (
                StatusCode::OK,
                b"{\"sub\": 42}",
                UserInfoError::MissingSubject,
            ),
            (
                StatusCode::OK,
                b"{\"sub\": null}",
                UserInfoError::MissingSubject,
            ),
        ];
        for (status, body, error) in cases {
            assert_eq!(
                parse_userinfo(status, &json(), body, "42").unwrap_err(),
                error
            );
        }
        let mut jwt = HeaderMap::new();
        jwt.insert(CONTENT_TYPE, "Application/JWT".parse().unwrap());
        assert_eq!(
            parse_userinfo(StatusCode::OK, &jwt, b"eyJ.eyJ.sig", "42").unwrap_err(),
            UserInfoError::Jwt
        );
    }

    #[test]
    fn debug_names_the_claims_but_shows_none_of_their_values() {
        let info = parse_userinfo(StatusCode::OK, &json(), EXAMPLE, "248289761001").unwrap();
        let debug = format!("{info:?}");
        assert!(
            debug.contains("email") && !debug.contains("janedoe@"),
            "{debug}"
        );
    }
}
