//! The OAuth 1.0a three-legged dance (RFC 5849 §2) over any tower HTTP service.
//!
//! The tower counterpart of requests-oauthlib's `OAuth1Session`:
//!
//! 1. [`Dance::request_temporary_credentials`] asks the provider for temporary credentials,
//!    with a callback URL or `oob` (§2.1), and insists on `oauth_callback_confirmed=true`;
//! 2. [`PendingAuthorization::authorization_url`] is where the resource owner goes (§2.2);
//! 3. [`PendingAuthorization::verifier_from_callback`] checks the callback URL (its `oauth_token`
//!    must be the pending one, compared in constant time; `oauth_verifier` is required; a denial
//!    or an `oauth_problem` is a [`CallbackError`], believed only when the callback names the
//!    pending token);
//! 4. [`Dance::request_token_credentials`] exchanges them for token credentials (§2.3),
//!    consuming the pending authorization.
//!
//! | requests-oauthlib `OAuth1Session` | here |
//! |---|---|
//! | `fetch_request_token(url)` | [`Dance::request_temporary_credentials`] |
//! | `authorization_url(url)` | [`PendingAuthorization::authorization_url`] |
//! | `parse_authorization_response(url)` | [`PendingAuthorization::verifier_from_callback`] |
//! | `fetch_access_token(url)` | [`Dance::request_token_credentials`] (or steps 3 and 4 in one: [`Dance::complete_from_callback`]) |
//! | `fetch_access_token(url, verifier=typed)` (`oob`) | [`Dance::request_token_credentials`] with `oauth_core::secret::Verifier::new(typed)` |
//! | `OAuth1Session(..., realm=r)` | [`Dance::realm`] with [`Realm::new(r)`](crate::Realm::new), and [`SignLayer::realm`](crate::SignLayer::realm) for the session's requests |
//! | `session.get(..)`, `session.post(..)` | [`SignLayer`](crate::SignLayer) with a signer for the token credentials: `signer.with_token(Some(credentials.into()))` ([`Signer::with_token`](oauth_core::oauth1::Signer::with_token)) |
//!
//! Each step is one signed `POST` sent through the service given to it, which must accept
//! `http::Request<B>` for a body type `B: From<Bytes>` (for example `http_body_util::Full<Bytes>`
//! or [`SignedBody`](crate::SignedBody)). Responses are read up to a limit
//! ([`Dance::max_response_bytes`], 64 KiB by default). A provider error becomes a [`ProviderError`]
//! with the status and the `oauth_problem`, never the body.
//!
//! Each step has a deadline ([`Dance::timeout`]) kept by tokio's timers, so a runtime built with
//! `tokio::runtime::Builder` needs `.enable_time()` (`#[tokio::main]` has it); in one without
//! timers a step fails with [`DanceError::NoTimer`] (tokio's panic message is still printed;
//! a build with `panic = "abort"` aborts there instead, so it needs a runtime with timers, or
//! [`Dance::no_timeout`]).
//!
//! The client given to the dance should not follow redirects.
//!
//! What the answers and the callback mean is decided without I/O in
//! [`oauth_core::oauth1`]: [`parse_credentials_response`](oauth_core::oauth1::parse_credentials_response),
//! [`authorization_url`](oauth_core::oauth1::authorization_url) and
//! [`parse_callback`](oauth_core::oauth1::parse_callback), for a web framework or a test
//! provider that needs them without this crate's HTTP steps.
//!
//! # Example
//!
//! ```
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use bytes::Bytes;
//! use http::{Request, Response};
//! use http_body_util::Full;
//! use oauth_core::oauth1::{ClientCredentials, Signer};
//! use oauth_core::secret::ConsumerSecret;
//! use tower_oauth1::dance::{Callback, Dance};
//!
//! // A stand-in for the provider's two endpoints; use a real HTTP client in practice.
//! let mut client = tower::service_fn(|req: Request<Full<Bytes>>| async move {
//!     let auth = req.headers()["authorization"].to_str().unwrap().to_owned();
//!     assert!(auth.starts_with("OAuth ") && auth.contains("oauth_signature="));
//!     let body = if req.uri().path() == "/request_token" {
//!         "oauth_token=hh5s93j4hdidpola&oauth_token_secret=hdhd0244k9j7ao03&oauth_callback_confirmed=true"
//!     } else {
//!         assert!(auth.contains("oauth_verifier=\"hfdp7dh39dks9884\""));
//!         "oauth_token=nnch734d00sl2jdk&oauth_token_secret=pfkkdhi9sl3r4s00"
//!     };
//!     Ok::<_, std::convert::Infallible>(
//!         Response::builder()
//!             .header("content-type", "application/x-www-form-urlencoded")
//!             .body(Full::new(Bytes::from(body)))
//!             .unwrap(),
//!     )
//! });
//!
//! let signer = Signer::builder(ClientCredentials::new(
//!     "dpf43f3p2l4k3l03",
//!     ConsumerSecret::new("kd94hf93k423kf44"),
//! ))
//! .build()?;
//! let dance = Dance::new(
//!     signer,
//!     "https://photos.example.net/request_token".parse()?,
//!     "https://photos.example.net/access_token".parse()?,
//! );
//! let callback = Callback::Uri("https://printer.example.com/ready".into());
//! let pending = dance.request_temporary_credentials(&mut client, &callback).await?;
//! let url = pending.authorization_url("https://photos.example.net/authorize")?;
//! assert_eq!(url, "https://photos.example.net/authorize?oauth_token=hh5s93j4hdidpola");
//!
//! // The resource owner approves; the provider redirects to the callback.
//! let back = "https://printer.example.com/ready?oauth_token=hh5s93j4hdidpola&oauth_verifier=hfdp7dh39dks9884";
//! let credentials = dance
//!     .complete_from_callback(&mut client, pending, &back.parse()?)
//!     .await?;
//! assert_eq!(credentials.token(), "nnch734d00sl2jdk");
//! # Ok(()) }
//! # tokio::runtime::Builder::new_current_thread().enable_time().build().unwrap().block_on(demo()).unwrap();
//! ```

mod config;
mod credentials;
mod error;
mod pending;
mod steps;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use http::Uri;
use oauth_core::secret::{TokenSecret, Verifier};

use crate::{BoxError, Realm};

pub use credentials::TokenCredentials;
pub use error::{CallbackError, DanceError, NotCredentials, ProviderError};
pub use pending::PendingAuthorization;

/// The default cap on a provider response the dance reads: 64 KiB.
pub const DEFAULT_MAX_RESPONSE_BYTES: usize = 64 * 1024;

/// Where the provider sends the resource owner after authorization (RFC 5849 §2.1
/// `oauth_callback`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub enum Callback {
    /// An absolute URI the provider redirects to with `oauth_token` and `oauth_verifier`.
    Uri(String),
    /// Out of band (`oob`): the provider shows the verifier to the resource owner, who types it in.
    OutOfBand,
}

impl Callback {
    fn as_str(&self) -> &str {
        match self {
            Self::Uri(uri) => uri,
            Self::OutOfBand => "oob",
        }
    }
}

/// Whether `endpoint` may be called: `https`, or loopback `http` when allowed (oauth-core's
/// transport rule, as for OAuth 2 endpoints).
fn check_transport(allow_http_loopback: bool, endpoint: &Uri) -> Result<(), DanceError> {
    if transport(allow_http_loopback).allows(endpoint) {
        Ok(())
    } else {
        Err(DanceError::InsecureTransport)
    }
}

/// The transport rule for the dance's endpoints (and the authorization endpoint).
fn transport(allow_http_loopback: bool) -> oauth_core::oauth2::Transport {
    if allow_http_loopback {
        oauth_core::oauth2::Transport::AllowLoopbackHttp
    } else {
        oauth_core::oauth2::Transport::HttpsOnly
    }
}

/// Signs the dance's requests.
pub(crate) trait DanceSigner: Send + Sync + fmt::Debug {
    /// The `Authorization` header value for a `POST` to `uri` with an empty body.
    fn authorization(
        &self,
        uri: &Uri,
        token: Option<(&str, &TokenSecret)>,
        callback: Option<&str>,
        verifier: Option<&Verifier>,
        realm: Option<&str>,
    ) -> Result<http::HeaderValue, BoxError>;
}

/// The three-legged dance with one client's credentials (RFC 5849 §2).
///
/// Cheap to clone (the signer is shared): a web app keeps one in its state and clones it into
/// each handler. The [module docs](crate::dance#example) have a runnable example of the whole
/// dance.
#[derive(Debug, Clone)]
pub struct Dance {
    signer: Arc<dyn DanceSigner>,
    request_token_endpoint: Uri,
    access_token_endpoint: Uri,
    max_response_bytes: usize,
    allow_http_loopback: bool,
    timeout: Option<Duration>,
    realm: Option<Realm>,
}

/// The default bound on each of the dance's exchanges with the provider: 30 s.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

#[cfg(test)]
mod tests;
