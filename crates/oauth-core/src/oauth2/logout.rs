//! Signing out at the provider: OpenID Connect RP-Initiated Logout 1.0.
//!
//! Clearing the application's own session leaves the user signed in at the provider, and the
//! next login goes through without a password. A [`LogoutRequest`] builds the URL of the
//! provider's `end_session_endpoint` (from discovery:
//! [`AuthorizationServerMetadata::end_session_endpoint`](super::AuthorizationServerMetadata::end_session_endpoint))
//! to send the user's browser to; the provider ends its session, usually after asking the user,
//! and may send the browser back to a registered `post_logout_redirect_uri` with the `state`
//! given here (§3).
//!
//! Logging out at the provider does not revoke the tokens it issued: revoke the refresh token
//! too (RFC 7009, [`revocation`](super::revocation)), and drop the tokens the application kept.
//!
//! ```
//! use oauth_core::oauth2::{Endpoint, LogoutRequest, RedirectUri};
//! use oauth_core::secret::IdToken;
//!
//! let end_session = Endpoint::new("https://server.example.com/logout")?;
//! let id_token = IdToken::new("eyJhbGciOiJSUzI1NiJ9.e30.c2ln"); // kept from the login's token
//! let after = RedirectUri::new("https://app.example.com/signed-out")?;
//! let url = LogoutRequest::new(&end_session)
//!     .id_token_hint(&id_token)
//!     .post_logout_redirect_uri(&after)
//!     .state("af0ifjsldkj")
//!     .url()?;
//! assert_eq!(
//!     url.to_string(),
//!     "https://server.example.com/logout?id_token_hint=eyJhbGciOiJSUzI1NiJ9.e30.c2ln\
//!      &post_logout_redirect_uri=https%3A%2F%2Fapp.example.com%2Fsigned-out&state=af0ifjsldkj"
//! );
//! // Answer the browser with `303 See Other` and `Location: {url}`.
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;

use http::Uri;

use super::endpoint::{Endpoint, EndpointError, RedirectUri};
use crate::secret::IdToken;

/// A logout request to a provider's `end_session_endpoint` (RP-Initiated Logout 1.0 §2), sent
/// as a URL for the user's browser ([`url`](Self::url)).
///
/// The URL holds the ID token given as [`id_token_hint`](Self::id_token_hint), which carries
/// the user's identity: redirect the browser to it, but do not log it. (This type's `Debug`
/// does not show the token.)
#[derive(Clone)]
pub struct LogoutRequest<'a> {
    endpoint: &'a Endpoint,
    id_token_hint: Option<&'a IdToken>,
    logout_hint: Option<&'a str>,
    client_id: Option<&'a str>,
    post_logout_redirect_uri: Option<&'a RedirectUri>,
    state: Option<&'a str>,
    ui_locales: Option<&'a str>,
}

impl fmt::Debug for LogoutRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LogoutRequest")
            .field("endpoint", &self.endpoint)
            .field("id_token_hint", &self.id_token_hint)
            .field("logout_hint", &self.logout_hint.map(|_| "[redacted]"))
            .field("client_id", &self.client_id)
            .field("post_logout_redirect_uri", &self.post_logout_redirect_uri)
            .field("state", &self.state.map(|_| "[redacted]"))
            .field("ui_locales", &self.ui_locales)
            .finish()
    }
}

/// Why a [`LogoutRequest`] has no URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum LogoutError {
    /// A `post_logout_redirect_uri` was given with neither an `id_token_hint` nor a
    /// `client_id`: the provider could not tell which client registered it, and redirects
    /// nowhere (RP-Initiated Logout 1.0 §2, §3).
    #[error(
        "a post_logout_redirect_uri needs an id_token_hint or a client_id, or the provider cannot tell which client registered it"
    )]
    RedirectWithoutClient,
    /// The end session endpoint's own query already has one of the request's parameters.
    #[error("the end session endpoint cannot take the logout request's parameters: {0}")]
    Endpoint(EndpointError),
}

impl<'a> LogoutRequest<'a> {
    /// A logout request to `end_session_endpoint`, with no parameters yet.
    pub fn new(end_session_endpoint: &'a Endpoint) -> Self {
        Self {
            endpoint: end_session_endpoint,
            id_token_hint: None,
            logout_hint: None,
            client_id: None,
            post_logout_redirect_uri: None,
            state: None,
            ui_locales: None,
        }
    }

    /// `id_token_hint` (RECOMMENDED): the ID token the provider issued at login
    /// ([`Token::id_token`](super::Token::id_token)), which tells it whose session to end and
    /// for which client. An expired one is fine (§2: the provider should accept it).
    #[must_use]
    pub fn id_token_hint(mut self, id_token: &'a IdToken) -> Self {
        self.id_token_hint = Some(id_token);
        self
    }

    /// `logout_hint`: which user to log out, in a form the provider understands (an email
    /// address, say), for when there is no ID token.
    #[must_use]
    pub fn logout_hint(mut self, hint: &'a str) -> Self {
        self.logout_hint = Some(hint);
        self
    }

    /// `client_id`: the client asking, for a `post_logout_redirect_uri` without an
    /// `id_token_hint`. With both, the provider checks that they match.
    #[must_use]
    pub fn client_id(mut self, client_id: &'a str) -> Self {
        self.client_id = Some(client_id);
        self
    }

    /// `post_logout_redirect_uri`: where the provider sends the browser afterwards. It must be
    /// registered for the client, and needs an [`id_token_hint`](Self::id_token_hint) or a
    /// [`client_id`](Self::client_id) ([`LogoutError::RedirectWithoutClient`]).
    #[must_use]
    pub fn post_logout_redirect_uri(mut self, uri: &'a RedirectUri) -> Self {
        self.post_logout_redirect_uri = Some(uri);
        self
    }

    /// `state`: given back as a query parameter of the `post_logout_redirect_uri` (§3).
    #[must_use]
    pub fn state(mut self, state: &'a str) -> Self {
        self.state = Some(state);
        self
    }

    /// `ui_locales`: the languages, in order of preference, of the provider's logout pages
    /// (BCP 47 tags separated by spaces, such as `"fr-CA fr en"`).
    #[must_use]
    pub fn ui_locales(mut self, locales: &'a str) -> Self {
        self.ui_locales = Some(locales);
        self
    }

    /// The URL to send the user's browser to: the endpoint with the parameters given,
    /// form-urlencoded into its query (any query it has is kept).
    ///
    /// # Errors
    ///
    /// Fails with [`LogoutError::RedirectWithoutClient`] for a `post_logout_redirect_uri` with
    /// neither an `id_token_hint` nor a `client_id`, and [`LogoutError::Endpoint`]
    /// ([`EndpointError::DuplicateQueryParameter`]) when the endpoint's own query already has
    /// one of the parameters sent.
    pub fn url(&self) -> Result<Uri, LogoutError> {
        if self.post_logout_redirect_uri.is_some()
            && self.id_token_hint.is_none()
            && self.client_id.is_none()
        {
            return Err(LogoutError::RedirectWithoutClient);
        }
        let params = [
            ("id_token_hint", self.id_token_hint.map(IdToken::secret)),
            ("logout_hint", self.logout_hint),
            ("client_id", self.client_id),
            (
                "post_logout_redirect_uri",
                self.post_logout_redirect_uri.map(RedirectUri::as_str),
            ),
            ("state", self.state),
            ("ui_locales", self.ui_locales),
        ];
        self.endpoint
            .with_query(
                params
                    .into_iter()
                    .filter_map(|(name, value)| Some((name, value?))),
            )
            .map_err(LogoutError::Endpoint)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn endpoint(url: &str) -> Endpoint {
        Endpoint::new(url).unwrap()
    }

    #[test]
    fn every_parameter_is_form_encoded_into_the_query_in_order() {
        let end_session = endpoint("https://op.example.com/session/end?tenant=a%20b");
        let id_token = IdToken::new("h.p.s");
        let after = RedirectUri::new("https://rp.example.com/bye?x=1&y=2").unwrap();
        let url = LogoutRequest::new(&end_session)
            .id_token_hint(&id_token)
            .logout_hint("jane@example.com")
            .client_id("client 1")
            .post_logout_redirect_uri(&after)
            .state("s&t=1")
            .ui_locales("fr-CA en")
            .url()
            .unwrap();
        assert_eq!(
            url.to_string(),
            "https://op.example.com/session/end?tenant=a%20b&id_token_hint=h.p.s\
             &logout_hint=jane%40example.com&client_id=client+1\
             &post_logout_redirect_uri=https%3A%2F%2Frp.example.com%2Fbye%3Fx%3D1%26y%3D2\
             &state=s%26t%3D1&ui_locales=fr-CA+en"
        );
        // With nothing given, the endpoint alone (a provider then asks the user).
        assert_eq!(
            LogoutRequest::new(&endpoint("https://op.example.com/logout"))
                .url()
                .unwrap()
                .to_string(),
            "https://op.example.com/logout"
        );
    }

    /// RP-Initiated Logout 1.0 §2/§3: a provider redirects only to a
    /// `post_logout_redirect_uri` registered for the client the `id_token_hint` or `client_id`
    /// names; without either, the request is refused here instead of failing there.
    #[test]
    fn a_redirect_needs_an_id_token_hint_or_a_client_id() {
        let end_session = endpoint("https://op.example.com/logout");
        let after = RedirectUri::new("https://rp.example.com/bye").unwrap();
        let request = LogoutRequest::new(&end_session).post_logout_redirect_uri(&after);
        assert_eq!(request.url(), Err(LogoutError::RedirectWithoutClient));
        assert!(request.clone().client_id("rp").url().is_ok());
        let id_token = IdToken::new("h.p.s");
        assert!(request.id_token_hint(&id_token).url().is_ok());
    }

    #[test]
    fn a_parameter_the_endpoint_query_has_already_is_refused() {
        let end_session = endpoint("https://op.example.com/logout?state=fixed");
        assert_eq!(
            LogoutRequest::new(&end_session).state("mine").url(),
            Err(LogoutError::Endpoint(
                EndpointError::DuplicateQueryParameter
            ))
        );
    }

    #[test]
    fn debug_shows_no_token_hint_or_state() {
        let end_session = endpoint("https://op.example.com/logout");
        let id_token = IdToken::new("SENTINEL-ID-TOKEN");
        let request = LogoutRequest::new(&end_session)
            .id_token_hint(&id_token)
            .logout_hint("SENTINEL-HINT")
            .state("SENTINEL-STATE");
        let debug = format!("{request:?} {request:#?}");
        assert!(!debug.contains("SENTINEL"), "{debug}");
        // What is not secret is shown, to tell requests apart in a log: the endpoint, the
        // client, the locales, and which of the hidden parameters were given.
        let request = request.client_id("rp-client").ui_locales("fr-CA en");
        let debug = format!("{request:?}");
        assert!(debug.starts_with("LogoutRequest {"), "{debug}");
        assert!(debug.contains("https://op.example.com/logout"), "{debug}");
        assert!(
            debug.contains("\"rp-client\"") && debug.contains("\"fr-CA en\""),
            "{debug}"
        );
        assert!(
            debug.contains("logout_hint: Some(\"[redacted]\")")
                && debug.contains("state: Some(\"[redacted]\")"),
            "{debug}"
        );
        assert!(!debug.contains("SENTINEL"), "{debug}");
    }
}
