//! [`StripDpopProof`]: a tower-http `FollowRedirect` policy that drops the `DPoP` proof from
//! redirected requests (feature `tower-http`).
//!
//! A DPoP proof is bound to the method and URI it was made for (`htm`, `htu`, RFC 9449 §4.2),
//! so it is useless after a redirect, and it has no business reaching another origin. tower-http's
//! `FilterCredentials` strips `Authorization`, `Cookie` and `Proxy-Authorization` on cross-origin
//! hops but does not know the `DPoP` header; add this policy next to it when
//! [`OAuth2Layer`](crate::OAuth2Layer) sits *outside* `FollowRedirect`.
//!
//! The better order for DPoP is the other one, `FollowRedirect` outside the token layer: then
//! every hop passes through [`OAuth2Layer`](crate::OAuth2Layer), which checks its origin against
//! the allowlist and makes a proof for that hop's own URI.
//!
//! ```
//! use tower::ServiceBuilder;
//! use tower_http::follow_redirect::FollowRedirectLayer;
//! use tower_http::follow_redirect::policy::{FilterCredentials, Limited, PolicyExt};
//! use tower_oauth2::redirect::StripDpopProof;
//! # use tower_oauth2::{OAuth2Layer, TokenSource};
//! # use oauth_core::oauth2::{Token, TokenType};
//! # use oauth_core::secret::AccessToken;
//! # let source = TokenSource::from_token(Token::new(AccessToken::new("t"), TokenType::Bearer));
//! # let http_client = tower::service_fn(|_: http::Request<http_body_util::Empty<bytes::Bytes>>| async {
//! #     Ok::<_, std::convert::Infallible>(http::Response::new(http_body_util::Empty::<bytes::Bytes>::new()))
//! # });
//!
//! let policy = Limited::default()
//!     .and::<_, (), ()>(FilterCredentials::new())
//!     .and::<_, (), ()>(StripDpopProof::new());
//! let client = ServiceBuilder::new()
//!     .layer(OAuth2Layer::new(source, "https://api.example.com")?)
//!     .layer(FollowRedirectLayer::with_policy(policy))
//!     .service(http_client);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use http::Request;
use http::header::AUTHORIZATION;
use oauth_core::oauth2::dpop::DPOP_HEADER;
use tower_http::follow_redirect::policy::{Action, Attempt, Policy};

/// A `FollowRedirect` policy that removes the `DPoP` header from every redirected request (on
/// any origin: the proof names the URI it was made for), and with it an `Authorization: DPoP`
/// token, which must never go out without its proof. It follows every redirect; combine it
/// with tower-http's `Limited` and `FilterCredentials` through `PolicyExt::and`.
#[derive(Debug, Clone, Copy, Default)]
pub struct StripDpopProof {
    redirected: bool,
}

impl StripDpopProof {
    /// The policy.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }
}

impl<B, E> Policy<B, E> for StripDpopProof {
    fn redirect(&mut self, _attempt: &Attempt<'_>) -> Result<Action, E> {
        self.redirected = true;
        Ok(Action::Follow)
    }

    fn on_request(&mut self, request: &mut Request<B>) {
        if self.redirected {
            let headers = request.headers_mut();
            headers.remove(DPOP_HEADER);
            // A DPoP-bound token must never go out without its proof.
            let dpop_token = headers
                .get(AUTHORIZATION)
                .and_then(|v| v.as_bytes().get(..5))
                .is_some_and(|scheme| scheme.eq_ignore_ascii_case(b"DPoP "));
            if dpop_token {
                headers.remove(AUTHORIZATION);
            }
        }
    }
}
