//! OAuth 2 for tower: a Layer that injects the access token into every request to the API's
//! origins and refreshes it (ahead of expiry, and once on a 401), with a single refresh in flight
//! however many requests wait, sending DPoP-bound tokens with a proof per request; token stores
//! the application can persist; and a grant client for every flow over any tower HTTP service.
//!
//! The protocol decisions come from [`oauth_core::oauth2`]; this crate adds the tower mechanics.
//! Coming from the `oauth2` crate (oauth2-rs)? The crate's README (on crates.io and in the
//! repository) maps its calls and types to these, with a before/after example.
//!
//! | module | what it holds |
//! |---|---|
//! | [`OAuth2Layer`], [`OAuth2`], [`future`] | the middleware |
//! | [`source`] | [`TokenSource`]: the current token and the single-flight refresh |
//! | [`store`] | [`TokenStore`](store::TokenStore): memory, file, callback |
//! | [`policy`] | origins, foreign origins, existing `Authorization`, 401 retries, body replay |
//! | [`client`] | [`GrantClient`]: every grant (device-code and CIBA polling too), DPoP, PAR, revocation, introspection; [`discover`](client::discover); [`IdTokenValidator`](client::IdTokenValidator) (ID tokens, and signed authorization responses: JARM) |
//! | `redirect` | `StripDpopProof`, a tower-http `FollowRedirect` policy (feature `tower-http`) |
//! | [`error`] | the middleware's failures |
//! | [`clock`] | [`TokioClock`](clock::TokioClock), [`TokenClock`](clock::TokenClock): the time tokens are dated and judged by |
//!
//! Features, all off by default: `tower-http` (the `redirect` module's `StripDpopProof`; and,
//! with tower-http's `FollowRedirect` inside the layer, a 401 or `DPoP-Nonce` from another
//! origin at the end of the redirects is ignored), `legacy` (`GrantClient::password`, the
//! password grant RFC 9700 §2.4 says MUST NOT be used, `#[deprecated]` even then; it turns on
//! oauth-core's `legacy` too).
//!
//! The grant client's deadlines, device-code polling and the file store's lock wait use
//! tokio's timers: a runtime from `#[tokio::main]` has them; one built with
//! `tokio::runtime::Builder` needs `.enable_time()` (or `.enable_all()`). Without them every
//! request of a [`GrantClient`] fails before it is sent, with
//! [`GrantClientErrorKind::NoTimer`](client::GrantClientErrorKind::NoTimer) (a token source
//! fetching through it reports [`TokenErrorKind::NoRuntime`]), and a token source calls its
//! store with no deadline. (Tokio has no way to ask whether timers are there: the panic hook
//! prints the panic of the probe that finds out, and a build with `panic = "abort"` aborts
//! there instead, so such a build needs a runtime with timers.) Refreshing ahead of expiry uses a timer too,
//! but does not depend on it: where the timer cannot run (no time driver, or a source built in
//! a runtime that has since been dropped), each request reads the clock instead.
//!
//! # Errors, and logging in again
//!
//! The layer's errors are boxed ([`tower::BoxError`]) the tower way. Its own are an [`Error`];
//! a request that found no usable token says why in its message, and
//! [`Error::token_error`] says what to do: [`TokenErrorKind::Reauthorize`] (the grant is dead:
//! log the user in again), [`TokenErrorKind::Configuration`] (fix the client's settings; a
//! client-credentials source asks again by itself once per
//! [`RefreshPolicy::max_backoff`](oauth_core::oauth2::RefreshPolicy::max_backoff), so a service
//! recovers when the client is fixed at the server), [`TokenErrorKind::Transient`] (try later),
//! [`TokenErrorKind::NoToken`] (there is no token yet, and the source cannot fetch one without
//! it: log the user in first). A command-line tool can ask before its first request:
//!
//! ```
//! # use oauth_core::oauth2::{Token, TokenType};
//! # use oauth_core::secret::AccessToken;
//! # async fn login() -> Token { Token::new(AccessToken::new("from-login"), TokenType::Bearer) }
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! # // A source with a refresh fetcher and no token yet: `token()` is `NoToken`.
//! # let refresh = |_: Option<&Token>| async { Ok(Token::new(AccessToken::new("x"), TokenType::Bearer)) };
//! # let source = tower_oauth2::TokenSource::builder().fetcher(refresh).build().await?;
//! use tower_oauth2::TokenErrorKind;
//!
//! match source.token().await {
//!     Ok(_) => {}
//!     Err(error) if matches!(error.kind(), TokenErrorKind::Reauthorize | TokenErrorKind::NoToken) => {
//!         // The code flow again; the new token is used and saved to the source's store.
//!         source.replace_token(login().await).await?;
//!     }
//!     Err(error) => return Err(error.into()),
//! }
//! # assert_eq!(source.token().await?.access_token().secret(), "from-login");
//! # Ok(()) }
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(run()).unwrap();
//! ```
//!
//! In a handler, after a request through the layer failed:
//!
//! ```
//! # fn handle(error: tower::BoxError) {
//! use tower_oauth2::{Error, TokenErrorKind};
//!
//! let reauthorize = error
//!     .downcast_ref::<Error>()
//!     .and_then(Error::token_error)
//!     .is_some_and(|e| e.kind() == TokenErrorKind::Reauthorize);
//! # let _ = reauthorize;
//! # }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// Every public fallible function says when it fails (C-FAILURE).
#![warn(clippy::missing_errors_doc)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod clock;
mod dpop;
pub mod error;
pub mod future;
mod layer;
pub mod policy;
#[cfg(feature = "tower-http")]
pub mod redirect;
mod request_copy;
mod service;
pub mod source;
pub mod store;

pub mod client;

pub use client::{GrantClient, GrantClientError};
pub use error::{Error, ErrorKind};
pub use layer::{OAuth2Layer, OriginError};
pub use oauth_core;
pub use policy::{
    ExistingAuthorization, ForeignOrigin, ReplayBuffered, ReplayClone, ReplayEmpty, RetryOn401,
};
pub use service::OAuth2;
pub use source::{TokenError, TokenErrorKind, TokenSource};
