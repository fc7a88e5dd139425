//! Token revocation (RFC 7009): tell the authorization server that a token is no longer needed
//! (a user signs out, an application is uninstalled), so that it stops honouring it.
//!
//! Revoking a refresh token also ends the access tokens issued from the same grant on most
//! servers (RFC 7009 §2.1 says it SHOULD); revoke the refresh token when there is one. The
//! request is a form `POST` with the client's authentication, like a token request; a 200 is
//! success whatever its body (§2.2), and the server answers 200 for a token it does not know.
//!
//! ```
//! use http::{HeaderMap, StatusCode};
//! use oauth_core::oauth2::revocation::{RevocationRequest, parse_revocation_response};
//! use oauth_core::oauth2::{Client, Compliance, Endpoint};
//! use oauth_core::secret::{ClientSecret, RefreshToken};
//!
//! let endpoint = Endpoint::new("https://server.example.com/revoke")?;
//! let client = Client::secret_basic("s6BhdRkqt3", ClientSecret::new("gX1fBat3bV"));
//! let refresh_token = RefreshToken::new("45ghiukldjahdnhzdauz");
//! let request = RevocationRequest::refresh_token(&endpoint, &client, &refresh_token).build()?;
//! assert_eq!(
//!     request.body().as_bytes(),
//!     b"token=45ghiukldjahdnhzdauz&token_type_hint=refresh_token"
//! );
//! // ... send it, then:
//! parse_revocation_response(StatusCode::OK, &HeaderMap::new(), b"", &Compliance::strict())?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use http::{HeaderMap, Request, StatusCode};

use super::compliance::Compliance;
use super::endpoint::Endpoint;
use super::grant::{Client, GrantError, TokenRequest};
use super::response::{TokenResponseError, check_error, decode_response};
use super::sensitive_body::SensitiveBody;
use crate::secret::{AccessToken, RefreshToken};

/// A revocation request (RFC 7009 §2.1): `token`, `token_type_hint`, and the client's
/// authentication (the same methods as at the token endpoint).
#[derive(Debug)]
pub struct RevocationRequest {
    inner: TokenRequest,
}

impl RevocationRequest {
    /// Revokes a refresh token (`token_type_hint=refresh_token`).
    pub fn refresh_token(endpoint: &Endpoint, client: &Client, token: &RefreshToken) -> Self {
        Self::new(endpoint, client, token.secret(), "refresh_token")
    }

    /// Revokes an access token (`token_type_hint=access_token`).
    pub fn access_token(endpoint: &Endpoint, client: &Client, token: &AccessToken) -> Self {
        Self::new(endpoint, client, token.secret(), "access_token")
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

/// Reads a revocation response (RFC 7009 §2.2): `Ok` for a 200 (its body is ignored), else
/// the error: an OAuth error such as `unsupported_token_type` (§2.2.1), or the HTTP status (a
/// 503 means the server asks to try again later).
///
/// # Errors
///
/// Fails with [`TokenResponseError::OAuth`] for an OAuth error and
/// [`TokenResponseError::HttpStatus`] for another non-200 status.
pub fn parse_revocation_response(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    compliance: &Compliance,
) -> Result<(), TokenResponseError> {
    if status == StatusCode::OK {
        return Ok(());
    }
    let members = decode_response(status, headers, body, compliance)?;
    check_error(status, &members)?;
    // A success status other than 200 without an error member is not what §2.2 specifies.
    Err(TokenResponseError::HttpStatus { status })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::secret::ClientSecret;

    fn endpoint() -> Endpoint {
        Endpoint::new("https://server.example.com/revoke?tenant=a").unwrap()
    }

    #[test]
    fn requests_carry_the_token_the_hint_and_client_authentication() {
        let basic = Client::secret_basic("s6BhdRkqt3", ClientSecret::new("gX1fBat3bV"));
        let request = RevocationRequest::access_token(&endpoint(), &basic, &AccessToken::new("at"))
            .build()
            .unwrap();
        assert_eq!(request.method(), http::Method::POST);
        assert_eq!(request.uri(), "https://server.example.com/revoke?tenant=a");
        assert_eq!(
            request.headers()["authorization"],
            "Basic czZCaGRSa3F0MzpnWDFmQmF0M2JW"
        );
        assert_eq!(
            request.body().as_bytes(),
            b"token=at&token_type_hint=access_token"
        );
        let public = Client::public("pub");
        let request =
            RevocationRequest::refresh_token(&endpoint(), &public, &RefreshToken::new("r t"))
                .build()
                .unwrap();
        assert_eq!(
            request.body().as_bytes(),
            b"token=r+t&token_type_hint=refresh_token&client_id=pub"
        );
        assert!(!format!("{request:?}").contains("r+t"));
    }

    #[test]
    fn responses_rfc7009_s2_2() {
        let strict = Compliance::strict();
        let json = {
            let mut h = HeaderMap::new();
            h.insert(
                http::header::CONTENT_TYPE,
                "application/json".parse().unwrap(),
            );
            h
        };
        assert!(parse_revocation_response(StatusCode::OK, &HeaderMap::new(), b"", &strict).is_ok());
        assert!(parse_revocation_response(StatusCode::OK, &json, b"not json", &strict).is_ok());
        let error = parse_revocation_response(
            StatusCode::BAD_REQUEST,
            &json,
            br#"{"error":"unsupported_token_type"}"#,
            &strict,
        )
        .unwrap_err();
        assert_eq!(
            error.oauth_error().map(|e| e.code.as_str()),
            Some("unsupported_token_type")
        );
        let unavailable = parse_revocation_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &HeaderMap::new(),
            b"<html>down</html>",
            &strict,
        )
        .unwrap_err();
        assert!(unavailable.is_transient());
        assert!(
            parse_revocation_response(StatusCode::NO_CONTENT, &HeaderMap::new(), b"", &strict)
                .is_err()
        );
    }
}
