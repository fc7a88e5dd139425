//! [`OAuth2Layer`]: configuration of the token middleware.

use std::sync::Arc;

use tower_layer::Layer;

use crate::OAuth2;
use crate::dpop::DpopNonces;
use crate::policy::{
    ExistingAuthorization, ForeignOrigin, InvalidOrigin, Origin, ReplayEmpty, RetryOn401,
};
use crate::source::TokenSource;

/// Adds a valid access token to every request bound for the API's origins, refreshing it ahead
/// of expiry and once after a 401.
///
/// The token goes only to the origins named here (RFC 9700 §4.9.1): a request to any other
/// origin is sent untouched (or rejected, see [`OAuth2Layer::foreign_origins`]). A request's
/// own `Host` header counts too: the server and any front end route on it, so it must name an
/// allowed origin as well (up to case and a default port). That keeps the
/// token from a redirect target whatever order the layers are in, provided a redirect layer
/// inside this one drops credentials on cross-origin hops (tower-http's standard policy does).
/// With tower-http's `FollowRedirect` inside (feature `tower-http`), a 401 or `DPoP-Nonce` from
/// another origin at the end of the redirects neither forces a refresh nor sets a nonce.
///
/// A DPoP-bound token (RFC 9449; token type `DPoP`, from a
/// [`GrantClient::dpop`](crate::GrantClient::dpop) fetcher or a source given
/// [`TokenSourceBuilder::dpop`](crate::source::TokenSourceBuilder::dpop)) goes out as
/// `Authorization: DPoP <token>` with a new `DPoP` proof for each request and each retry. The
/// nonce a resource server asks for is kept per origin; a 401 `use_dpop_nonce` is retried once
/// with it (when the body can be replayed). A DPoP token is never sent as a Bearer token, nor
/// with a key other than the one it is bound to ([`ErrorKind::DpopProof`](crate::ErrorKind)).
///
/// # Example
///
/// ```
/// # async fn demo() -> Result<(), tower::BoxError> {
/// use bytes::Bytes;
/// use http::{Request, Response};
/// use http_body_util::Full;
/// use oauth_core::oauth2::{Token, TokenType};
/// use oauth_core::secret::AccessToken;
/// use tower::{ServiceBuilder, ServiceExt};
/// use tower_oauth2::{OAuth2Layer, TokenSource};
///
/// # let http_client = tower::service_fn(|req: Request<Full<Bytes>>| async move {
/// #     assert_eq!(req.headers()["authorization"], "Bearer 2YotnFZFEjr1zCsicMWpAA");
/// #     Ok::<_, std::convert::Infallible>(Response::new(Full::<Bytes>::default()))
/// # });
/// let token = Token::new(AccessToken::new("2YotnFZFEjr1zCsicMWpAA"), TokenType::Bearer);
/// let source = TokenSource::from_token(token);
/// let client = ServiceBuilder::new()
///     .layer(OAuth2Layer::new(source, "https://api.example.com")?)
///     .service(http_client);
/// let response = client
///     .oneshot(Request::get("https://api.example.com/v1/me").body(Full::default())?)
///     .await?;
/// assert!(response.status().is_success());
/// # Ok(()) }
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Debug, Clone)]
pub struct OAuth2Layer<R = ReplayEmpty> {
    pub(crate) config: Arc<Config>,
    pub(crate) replay: R,
}

#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) source: TokenSource,
    pub(crate) origins: Vec<Origin>,
    pub(crate) foreign: ForeignOrigin,
    pub(crate) existing: ExistingAuthorization,
    /// The retry policy as applied: `Never` when the source cannot replace a refused token
    /// (no fetcher, and no store to follow: `TokenSource::can_replace_refused`).
    pub(crate) retry: RetryOn401,
    /// The nonces resource servers gave for DPoP proofs.
    pub(crate) dpop_nonces: Arc<DpopNonces>,
    /// Made with [`OAuth2Layer::new_dangerous_http_loopback`]: `http` loopback origins are
    /// accepted by [`OAuth2Layer::also_for`] too.
    pub(crate) http_loopback: bool,
}

impl Config {
    fn effective_retry(source: &TokenSource, policy: RetryOn401) -> RetryOn401 {
        if source.can_replace_refused() {
            policy
        } else {
            RetryOn401::Never
        }
    }
}

/// An `http://` origin given without the loopback opt-in, or an origin that does not parse.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum OriginError {
    /// The string is not an origin.
    #[error(transparent)]
    Invalid(#[from] InvalidOrigin),
    /// Tokens are sent only over TLS (RFC 6750 §5.3): `http://` needs
    /// [`OAuth2Layer::new_dangerous_http_loopback`], and then only for loopback hosts.
    #[error(
        "refusing to send tokens to a plain-http origin: use https (http only to a loopback host, 127.0.0.0/8, [::1] or localhost, on a layer made with OAuth2Layer::new_dangerous_http_loopback)"
    )]
    Insecure,
}

impl OAuth2Layer {
    /// A layer that authorizes requests to `api_origin` (e.g. `https://api.example.com`) with
    /// tokens from `source`.
    ///
    /// # Errors
    ///
    /// Fails with [`OriginError::Invalid`] when `api_origin` does not parse as an origin (see
    /// [`Origin::parse`](crate::policy::Origin::parse)), and [`OriginError::Insecure`] for any
    /// `http://` origin (use [`OAuth2Layer::new_dangerous_http_loopback`] for a loopback one).
    pub fn new(source: TokenSource, api_origin: &str) -> Result<Self, OriginError> {
        let origin = Origin::parse(api_origin)?;
        if !origin.is_https() {
            return Err(OriginError::Insecure);
        }
        Ok(Self::with_origin(source, origin, false))
    }

    fn with_origin(source: TokenSource, origin: Origin, http_loopback: bool) -> Self {
        let retry = Config::effective_retry(&source, RetryOn401::default());
        Self {
            config: Arc::new(Config {
                source,
                origins: vec![origin],
                foreign: ForeignOrigin::default(),
                existing: ExistingAuthorization::default(),
                retry,
                dpop_nonces: Arc::default(),
                http_loopback,
            }),
            replay: ReplayEmpty,
        }
    }

    /// A layer for a plain-`http` origin on a loopback host (tests, local development).
    ///
    /// # Security
    ///
    /// Anyone on the path can read a token sent over plain HTTP. Only loopback hosts are
    /// accepted (`127.0.0.0/8`, `[::1]`, `localhost`), here and by
    /// [`also_for`](OAuth2Layer::also_for) on the layer this makes.
    ///
    /// # Errors
    ///
    /// Fails with [`OriginError::Invalid`] when `api_origin` is not an origin, and
    /// [`OriginError::Insecure`] for plain `http` to a host that is not a loopback one.
    #[doc(alias = "dangerous_allow_http_loopback")]
    pub fn new_dangerous_http_loopback(
        source: TokenSource,
        api_origin: &str,
    ) -> Result<Self, OriginError> {
        let origin = Origin::parse(api_origin)?;
        if !origin.is_https() && !origin.is_loopback() {
            return Err(OriginError::Insecure);
        }
        Ok(Self::with_origin(source, origin, true))
    }
}

impl<R> OAuth2Layer<R> {
    fn config_mut(&mut self) -> &mut Config {
        Arc::make_mut(&mut self.config)
    }

    /// Also sends the token to `origin`: HTTPS only, or `http` on a loopback host for a layer
    /// made with [`new_dangerous_http_loopback`](OAuth2Layer::new_dangerous_http_loopback).
    ///
    /// # Errors
    ///
    /// Fails with [`OriginError::Invalid`] when `origin` is not an origin, and
    /// [`OriginError::Insecure`] for plain `http` where it is not allowed.
    pub fn also_for(mut self, origin: &str) -> Result<Self, OriginError> {
        let origin = Origin::parse(origin)?;
        let loopback_allowed = self.config.http_loopback && origin.is_loopback();
        if !origin.is_https() && !loopback_allowed {
            return Err(OriginError::Insecure);
        }
        self.config_mut().origins.push(origin);
        Ok(self)
    }

    /// What to do with requests to other origins (default: pass them through with no token).
    #[must_use]
    pub fn foreign_origins(mut self, policy: ForeignOrigin) -> Self {
        self.config_mut().foreign = policy;
        self
    }

    /// What to do with requests that already carry credentials: `Authorization`, or an
    /// `access_token` query parameter (default: leave them alone, and add no token).
    #[must_use]
    pub fn existing_authorization(mut self, policy: ExistingAuthorization) -> Self {
        self.config_mut().existing = policy;
        self
    }

    /// When a 401 triggers one refresh and one retry (default: `Bearer error="invalid_token"`).
    ///
    /// The request sent again is a copy of the first, made before it was sent: the same method,
    /// URI, version, headers and extensions (cloned, so a tracing context, a request id or a
    /// client's per-request settings reach the inner service on the retry too), with the new
    /// token and the body kept by [`replay_bodies`](Self::replay_bodies).
    ///
    /// With a token source that cannot fetch tokens ([`TokenSource::can_fetch`], e.g.
    /// [`TokenSource::from_token`]) and has no store, there is nothing to retry with: every 401
    /// goes back to the caller as it is, and no copy of the request is kept (except with a
    /// DPoP-bound token: the `use_dpop_nonce` retry does not depend on this policy). A source
    /// with a store and no fetcher (one that follows a store another process refreshes) looks
    /// there for a newer token, and sends the request again with it if there is one; if not,
    /// the 401 goes back as it is and the token stays in use. Nor is there a new token when the
    /// refused one was fetched moments ago (refreshes are at least
    /// [`RefreshPolicy::min_interval`](oauth_core::oauth2::RefreshPolicy::min_interval) apart):
    /// that 401 goes back as it is too. Until the interval has passed, other requests still go
    /// out with the refused token, and their 401s go back as they are, with no retry: the rate
    /// limit is what bounds the refreshes against a server that refuses every token. The first
    /// request after the interval gets a new token before it is sent.
    #[must_use]
    pub fn retry_on_401(mut self, policy: RetryOn401) -> Self {
        let config = self.config_mut();
        config.retry = Config::effective_retry(&config.source, policy);
        self
    }

    /// Which request bodies can be replayed after a 401 (default: [`ReplayEmpty`]).
    ///
    /// [`ReplayClone`](crate::policy::ReplayClone) copies `Clone` bodies such as
    /// `Full<Bytes>`; [`ReplayBuffered`](crate::policy::ReplayBuffered) reads bodies of a known,
    /// small size into memory before sending them.
    pub fn replay_bodies<R2>(self, replay: R2) -> OAuth2Layer<R2> {
        OAuth2Layer {
            config: self.config,
            replay,
        }
    }

    /// The token source this layer draws from.
    pub fn source(&self) -> &TokenSource {
        &self.config.source
    }
}

impl<S, R: Clone> Layer<S> for OAuth2Layer<R> {
    type Service = OAuth2<S, R>;

    fn layer(&self, inner: S) -> Self::Service {
        OAuth2::from_parts(inner, self.config.clone(), self.replay.clone())
    }
}
