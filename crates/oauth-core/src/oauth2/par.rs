//! Pushed authorization requests (RFC 9126): the client `POST`s the authorization request to
//! the server first, authenticated like a token request, and sends the user to the
//! authorization endpoint with only its `client_id` and the `request_uri` it got back. The
//! parameters cannot be read or altered in the browser, and the server checks them (and the
//! client) before the user sees anything.
//!
//! Build the request with [`AuthorizationRequest::build_pushed`], read the answer with
//! [`parse_par_response`], and redirect to [`PushedAuthorization::url`]; the callback is
//! checked with the pending authorization as usual. `tower_oauth2::GrantClient::push_authorization`
//! does all three.
//!
//! ```
//! use http::{HeaderMap, StatusCode};
//! use oauth_core::clock::SystemRandom;
//! use oauth_core::oauth2::par::parse_par_response;
//! use oauth_core::oauth2::{AuthorizationRequest, Client, Compliance, Endpoint, RedirectUri};
//! use oauth_core::secret::ClientSecret;
//!
//! let authorize = Endpoint::new("https://server.example.com/authorize")?;
//! let par = Endpoint::new("https://server.example.com/as/par")?;
//! let client = Client::secret_basic("s6BhdRkqt3", ClientSecret::new("gX1fBat3bV"));
//! let redirect = RedirectUri::new("https://client.example.org/cb")?;
//! let (request, pending) = AuthorizationRequest::new(&authorize, "s6BhdRkqt3", &redirect)
//!     .build_pushed(&par, &client, &SystemRandom::new())?;
//! assert_eq!(request.uri(), "https://server.example.com/as/par");
//! // ... POST it, then:
//! let mut headers = HeaderMap::new();
//! headers.insert("content-type", "application/json".parse()?);
//! let body = br#"{"request_uri":"urn:ietf:params:oauth:request_uri:6esc_11ACC5bwc014ltc14eY22c","expires_in":60}"#;
//! let pushed = parse_par_response(StatusCode::CREATED, &headers, body, std::time::SystemTime::now(), &Compliance::strict())?;
//! assert_eq!(
//!     pushed.url(&authorize, "s6BhdRkqt3")?.to_string(),
//!     "https://server.example.com/authorize?client_id=s6BhdRkqt3&request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3A6esc_11ACC5bwc014ltc14eY22c"
//! );
//! # let _ = pending;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`AuthorizationRequest::build_pushed`]: super::AuthorizationRequest::build_pushed

use std::time::SystemTime;

use http::{HeaderMap, StatusCode, Uri};

use super::compliance::Compliance;
use super::endpoint::{Endpoint, EndpointError};
use super::response::{
    TokenResponseError, check_error, decode_response, take_required_expires_in, take_string,
};
use super::token::expires_at;

/// The server's answer to a pushed authorization request (RFC 9126 §2.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushedAuthorization {
    request_uri: String,
    expires_at: SystemTime,
}

impl PushedAuthorization {
    /// The `request_uri` that stands for the pushed parameters.
    pub fn request_uri(&self) -> &str {
        &self.request_uri
    }

    /// When the `request_uri` stops being valid: `expires_in` after the `now` given to
    /// [`parse_par_response`].
    pub fn expires_at(&self) -> SystemTime {
        self.expires_at
    }

    /// The URL to send the user to: `authorization_endpoint` with `client_id` and
    /// `request_uri` (RFC 9126 §4). An endpoint whose own query has either of them is refused
    /// ([`EndpointError::DuplicateQueryParameter`]).
    ///
    /// # Errors
    ///
    /// Fails with [`EndpointError::DuplicateQueryParameter`] as above, and
    /// [`EndpointError::Invalid`] if the result is not a URI.
    pub fn url(
        &self,
        authorization_endpoint: &Endpoint,
        client_id: &str,
    ) -> Result<Uri, EndpointError> {
        authorization_endpoint.with_query([
            ("client_id", client_id),
            ("request_uri", self.request_uri.as_str()),
        ])
    }
}

/// Reads the pushed authorization response: `201 Created` with `request_uri` and `expires_in`
/// (RFC 9126 §2.2), or an OAuth error (§2.3). `expires_in` is reckoned from `now`: pass the
/// moment the request was sent (as tower-oauth2's grant client does), not the response's arrival.
///
/// # Errors
///
/// Fails with [`TokenResponseError::OAuth`] for an OAuth error, [`TokenResponseError::HttpStatus`]
/// for another status than 201 without one, and the other [`TokenResponseError`] variants for a
/// body that is not such a JSON object (a member missing or invalid).
pub fn parse_par_response(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
    compliance: &Compliance,
) -> Result<PushedAuthorization, TokenResponseError> {
    let mut members = decode_response(status, headers, body, compliance)?;
    check_error(status, &members)?;
    if status != StatusCode::CREATED {
        return Err(TokenResponseError::HttpStatus { status });
    }
    let request_uri =
        take_string(&mut members, "request_uri")?.ok_or(TokenResponseError::MissingField {
            field: "request_uri",
        })?;
    let lifetime = take_required_expires_in(&mut members)?;
    Ok(PushedAuthorization {
        request_uri,
        expires_at: expires_at(now, lifetime),
    })
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;
    use crate::clock::CountingRandom;
    use crate::oauth2::{AuthorizationRequest, AuthorizeError, Client, RedirectUri};
    use crate::secret::ClientSecret;

    fn json() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(
            http::header::CONTENT_TYPE,
            "application/json".parse().unwrap(),
        );
        h
    }

    fn request() -> AuthorizationRequest {
        let authorize = Endpoint::new("https://server.example.com/authorize").unwrap();
        let redirect = RedirectUri::new("https://client.example.org/cb").unwrap();
        AuthorizationRequest::new(&authorize, "CLIENT1234", &redirect)
            .dangerous_custom_state("af0ifjsldkj")
    }

    #[test]
    fn the_pushed_request_carries_the_parameters_and_client_authentication_rfc9126_s2_1() {
        let par = Endpoint::new("https://server.example.com/as/par").unwrap();
        let basic = Client::secret_basic("CLIENT1234", ClientSecret::new("secret"));
        let (req, pending) = request()
            .build_pushed(&par, &basic, &CountingRandom::new(1))
            .unwrap();
        assert_eq!(req.method(), http::Method::POST);
        assert!(req.headers().contains_key("authorization"));
        let body = std::str::from_utf8(req.body().as_bytes())
            .unwrap()
            .to_owned();
        assert!(body.starts_with(
            "response_type=code&client_id=CLIENT1234&redirect_uri=https%3A%2F%2Fclient.example.org%2Fcb&state=af0ifjsldkj&code_challenge="
        ), "{body}");
        assert!(body.ends_with("&code_challenge_method=S256"), "{body}");
        assert!(
            pending
                .parse_callback("https://client.example.org/cb?code=c&state=af0ifjsldkj")
                .is_ok()
        );
        // client_secret_post names the client once (its authentication adds client_id).
        let post = Client::secret_post("CLIENT1234", ClientSecret::new("secret"));
        let (req, _) = request()
            .build_pushed(&par, &post, &CountingRandom::new(1))
            .unwrap();
        let body = std::str::from_utf8(req.body().as_bytes())
            .unwrap()
            .to_owned();
        assert_eq!(body.matches("client_id=CLIENT1234").count(), 1, "{body}");
        assert!(
            body.ends_with("&client_id=CLIENT1234&client_secret=secret"),
            "{body}"
        );
        // Another client than the request names.
        let other = Client::public("other");
        assert_eq!(
            request()
                .build_pushed(&par, &other, &CountingRandom::new(1))
                .unwrap_err(),
            AuthorizeError::ClientMismatch
        );
    }

    /// `build_pushed` refuses, before anything is pushed, an authorization endpoint whose own
    /// query names `client_id` or `request_uri` (the URL the user is then sent to carries both,
    /// RFC 9126 §4), and keeps one whose query has other parameters.
    #[test]
    fn pushing_refuses_an_endpoint_query_that_names_client_id_or_request_uri() {
        let par = Endpoint::new("https://server.example.com/as/par").unwrap();
        let client = Client::public("CLIENT1234");
        let redirect = RedirectUri::new("https://client.example.org/cb").unwrap();
        let push = |query: &str| {
            let authorize =
                Endpoint::new(format!("https://server.example.com/authorize?{query}").as_str())
                    .unwrap();
            AuthorizationRequest::new(&authorize, "CLIENT1234", &redirect).build_pushed(
                &par,
                &client,
                &CountingRandom::new(1),
            )
        };
        for (query, name) in [
            ("client_id=other", "client_id"),
            ("tenant=1&request_uri=x", "request_uri"),
        ] {
            assert_eq!(
                push(query).unwrap_err(),
                AuthorizeError::EndpointQueryParameter(name.into()),
                "{query}"
            );
        }
        assert!(push("tenant=1").is_ok());
    }

    /// Open finding B2 of session 11: an authorization endpoint whose own query names
    /// `client_id` or `request_uri` gave a URL with the parameter twice (RFC 6749 §3.1).
    #[test]
    fn the_url_refuses_an_endpoint_query_that_names_its_parameters() {
        let pushed = PushedAuthorization {
            request_uri: "urn:ietf:params:oauth:request_uri:abc".into(),
            expires_at: SystemTime::UNIX_EPOCH,
        };
        for endpoint in [
            "https://as.example.com/authorize?client_id=other",
            "https://as.example.com/authorize?tenant=1&request_uri=x",
        ] {
            let endpoint = Endpoint::new(endpoint).unwrap();
            assert_eq!(
                pushed.url(&endpoint, "s6BhdRkqt3"),
                Err(EndpointError::DuplicateQueryParameter),
                "{endpoint:?}"
            );
        }
        let endpoint = Endpoint::new("https://as.example.com/authorize?tenant=1").unwrap();
        assert_eq!(
            pushed.url(&endpoint, "s6BhdRkqt3").unwrap().to_string(),
            "https://as.example.com/authorize?tenant=1&client_id=s6BhdRkqt3&request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3Aabc"
        );
    }

    #[test]
    fn responses_rfc9126_s2_2_and_s2_3() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_000);
        let strict = Compliance::strict();
        let ok = parse_par_response(
            StatusCode::CREATED,
            &json(),
            br#"{"request_uri":"urn:ietf:params:oauth:request_uri:x","expires_in":60}"#,
            now,
            &strict,
        )
        .unwrap();
        assert_eq!(ok.request_uri(), "urn:ietf:params:oauth:request_uri:x");
        assert_eq!(ok.expires_at(), now + Duration::from_secs(60));
        let error = parse_par_response(
            StatusCode::BAD_REQUEST,
            &json(),
            br#"{"error":"invalid_request","error_description":"redirect_uri not registered"}"#,
            now,
            &strict,
        )
        .unwrap_err();
        assert_eq!(
            error.oauth_error().map(|e| e.code.as_str()),
            Some("invalid_request")
        );
        for (status, body) in [
            (StatusCode::CREATED, r#"{"expires_in":60}"#),
            (StatusCode::CREATED, r#"{"request_uri":"u"}"#),
            (StatusCode::OK, r#"{"request_uri":"u","expires_in":60}"#),
        ] {
            assert!(
                parse_par_response(status, &json(), body.as_bytes(), now, &strict).is_err(),
                "{body}"
            );
        }
    }
}
