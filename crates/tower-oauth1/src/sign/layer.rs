//! [`SignLayer`]: the configuration half of the signing middleware.

use std::sync::Arc;

use tower_layer::Layer;

use super::{Config, Origin, Placement, Sign};
use crate::Realm;

/// Layer that applies [`Sign`], signing every request with OAuth 1.0a (RFC 5849).
///
/// Cloning is cheap: the signer and options are shared behind an `Arc`. The
/// [module docs](crate::sign#example) have a runnable example; with a redirect layer outside
/// the signer, set [`allowed_origins`](Self::allowed_origins) (see
/// [Redirects](crate::sign#redirects-put-followredirect-outside-the-signer)).
#[derive(Clone, Debug)]
pub struct SignLayer {
    pub(crate) config: Arc<Config>,
}

impl SignLayer {
    /// Signs every request with `signer` (its credentials and signature method), in the
    /// `Authorization` header, buffering form bodies up to
    /// [`DEFAULT_BODY_LIMIT`](crate::body::DEFAULT_BODY_LIMIT).
    #[must_use]
    pub fn new(signer: oauth_core::oauth1::Signer) -> Self {
        Self::from_engine(Arc::new(signer))
    }

    /// Where the protocol parameters go (RFC 5849 §3.5): [`Placement::Header`] (the default),
    /// [`Placement::Query`] or [`Placement::Body`].
    #[must_use]
    pub fn placement(mut self, placement: Placement) -> Self {
        Arc::make_mut(&mut self.config).placement = placement;
        self
    }

    /// Adds `oauth_body_hash` (the OAuth Request Body Hash extension) to requests whose body is
    /// not a form, buffering that body (bounded by [`SignLayer::body_limit`]) to hash it.
    #[must_use]
    pub fn body_hash(mut self, enabled: bool) -> Self {
        Arc::make_mut(&mut self.config).body_hash = enabled;
        self
    }

    /// Allows plain `http://` requests to a loopback host (`127.0.0.0/8`, `::1`,
    /// `localhost`), for tests and local providers. Other `http://` requests fail with
    /// [`InsecureTransport`](super::SignRequestErrorKind::InsecureTransport) either way
    /// (RFC 5849 §4.2).
    #[must_use]
    pub fn dangerous_allow_http_loopback(mut self) -> Self {
        Arc::make_mut(&mut self.config).allow_http = super::AllowHttp::Loopback;
        self
    }

    /// Signs plain `http://` requests to any host, for legacy providers that offer nothing
    /// else. The token and consumer key then travel in the clear and the responses are not
    /// authenticated (RFC 5849 §4.2); the signature itself still covers the request.
    /// PLAINTEXT, whose signature is the secrets, is refused over http to any host but
    /// loopback ([`InsecureTransport`](super::SignRequestErrorKind::InsecureTransport)), even
    /// with a signer built with `dangerous_allow_plaintext_over_http`.
    #[must_use]
    pub fn dangerous_allow_http(mut self) -> Self {
        Arc::make_mut(&mut self.config).allow_http = super::AllowHttp::Any;
        self
    }

    /// Sends `realm="<realm>"` first in every request's `Authorization` header (RFC 5849
    /// §3.5.1; the realm is not signed), as requests-oauthlib's `OAuth1(..., realm=...)` does.
    /// Some providers require one (NetSuite's token-based authentication wants the account id).
    ///
    /// The realm is a parameter of the header only: with [`Placement::Query`] or
    /// [`Placement::Body`] every request fails with
    /// [`RealmNeedsHeaderPlacement`](super::SignRequestErrorKind::RealmNeedsHeaderPlacement)
    /// before anything is sent, instead of going out without the realm. A text that cannot be
    /// sent as a realm is refused by [`Realm::new`], before the layer is built.
    ///
    /// ```
    /// use bytes::Bytes;
    /// use http::{Request, Response, header::AUTHORIZATION};
    /// use http_body_util::Full;
    /// use oauth_core::oauth1::{ClientCredentials, Signer, TokenCredentials};
    /// use oauth_core::secret::{ConsumerSecret, TokenSecret};
    /// use tower::{Service, ServiceBuilder, ServiceExt};
    /// use tower_oauth1::{Realm, SignLayer, SignedBody};
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() -> Result<(), tower_oauth1::BoxError> {
    /// # let client = tower::service_fn(|req: Request<SignedBody<Full<Bytes>>>| async move {
    /// #     let header = req.headers()[AUTHORIZATION].to_str()?;
    /// #     assert!(header.starts_with(r#"OAuth realm="123456_SB1", oauth_consumer_key="key""#));
    /// #     Ok::<_, tower_oauth1::BoxError>(Response::new(Full::<Bytes>::default()))
    /// # });
    /// let signer = Signer::builder(ClientCredentials::new("key", ConsumerSecret::new("secret")))
    ///     .token(TokenCredentials::new("token", TokenSecret::new("token-secret")))
    ///     .build()?;
    /// let layer = SignLayer::new(signer).realm(Realm::new("123456_SB1")?);
    /// let mut svc = ServiceBuilder::new().layer(layer).service(client);
    /// let request = Request::get("https://api.example.com/record").body(Full::<Bytes>::default())?;
    /// // Sent with `Authorization: OAuth realm="123456_SB1", oauth_consumer_key="key", ...`
    /// svc.ready().await?.call(request).await?;
    /// # Ok(())
    /// # }
    /// ```
    #[must_use]
    pub fn realm(mut self, realm: Realm) -> Self {
        Arc::make_mut(&mut self.config).realm = Some(realm);
        self
    }

    pub(crate) fn from_engine(engine: Arc<dyn super::Engine>) -> Self {
        Self {
            config: Arc::new(Config::with_engine(engine)),
        }
    }

    /// Caps the bytes the middleware buffers from a request body (form bodies, and any body
    /// with `oauth_body_hash`). A larger body fails the request with
    /// [`BodyTooLarge`](crate::BodyTooLarge).
    #[must_use]
    pub fn body_limit(mut self, limit: usize) -> Self {
        Arc::make_mut(&mut self.config).body_limit = limit;
        self
    }

    /// Signs only requests to these origins; a request to any other origin fails with
    /// [`SignRequestError`](super::SignRequestError) before anything is sent.
    ///
    /// Set it whenever a redirect-following layer sits outside the signer, so that a redirect to
    /// another origin is refused instead of being signed for that origin (see the
    /// [module docs](super)). With PLAINTEXT, whose "signature" is the secrets themselves, it is
    /// required: without it every request fails with
    /// [`AllowedOriginsRequired`](super::SignRequestErrorKind::AllowedOriginsRequired).
    ///
    /// ```
    /// use tower_oauth1::sign::{InvalidOrigin, Origin};
    /// # fn layer(signer: oauth_core::oauth1::Signer) -> Result<(), InvalidOrigin> {
    /// let layer = tower_oauth1::SignLayer::new(signer)
    ///     .allowed_origins(["https://api.example.com".parse::<Origin>()?]);
    /// # Ok(()) }
    /// ```
    #[must_use]
    pub fn allowed_origins<I>(mut self, origins: I) -> Self
    where
        I: IntoIterator<Item = Origin>,
    {
        Arc::make_mut(&mut self.config).allowed_origins = Some(origins.into_iter().collect());
        self
    }
}

impl<S> Layer<S> for SignLayer {
    type Service = Sign<S>;

    fn layer(&self, inner: S) -> Self::Service {
        Sign {
            inner,
            config: Arc::clone(&self.config),
        }
    }
}
