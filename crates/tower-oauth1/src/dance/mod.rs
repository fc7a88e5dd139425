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
//! ([`Dance::response_limit`], 64 KiB by default). A provider error becomes a [`ProviderError`]
//! with the status and the `oauth_problem`, never the body.
//!
//! Each step has a deadline ([`Dance::timeout`]) kept by tokio's timers, so a runtime built with
//! `tokio::runtime::Builder` needs `.enable_time()` (`#[tokio::main]` has it); in one without
//! timers a step fails with [`DanceError::NoTimer`] (tokio's panic message is still printed;
//! a build with `panic = "abort"` aborts there instead, so it needs a runtime with timers, or
//! `Dance::timeout(None)`).
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

mod error;

use std::borrow::Borrow;
use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Method, Request, Response, Uri, header};
use http_body::Body;
use oauth_core::secret::{TokenSecret, Verifier};
use tower_service::Service;

use crate::body::{Collect, CollectError};
use crate::{BoxError, Realm};

pub use error::{CallbackError, DanceError, NotCredentials, ProviderError};

/// The default cap on a provider response the dance reads: 64 KiB.
pub const DEFAULT_RESPONSE_LIMIT: usize = 64 * 1024;

/// Where the provider sends the resource owner after authorization (RFC 5849 §2.1
/// `oauth_callback`).
#[derive(Clone, Debug, PartialEq, Eq)]
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

/// Temporary credentials waiting for the resource owner's authorization (RFC 5849 §2.1–2.2).
///
/// Not `Clone`: the provider accepts it once. [`Dance::complete_from_callback`] and
/// [`Dance::request_token_credentials`] take it by value or by reference: a web application
/// that keeps it in the user's session passes `&pending` and removes it once the exchange
/// succeeded, so that a forged or stale callback (refused with
/// [`CallbackError`] before any request) does not spend the user's login in progress.
///
/// Drop it on [`CallbackError::Denied`] or [`CallbackError::Problem`] (the callback named this
/// token), and keep it on [`CallbackError::TokenMismatch`] and
/// [`CallbackError::UnboundDenial`]: anyone can open a callback URL that names another token,
/// or none.
pub struct PendingAuthorization {
    token: String,
    secret: TokenSecret,
    /// Whether a plain-http loopback authorization endpoint is acceptable (the dance's setting).
    allow_http_loopback: bool,
}

impl fmt::Debug for PendingAuthorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingAuthorization")
            .field("token", &self.token)
            .field("secret", &self.secret)
            .finish()
    }
}

impl PendingAuthorization {
    /// Temporary credentials kept from [`Dance::request_temporary_credentials`] (in a web
    /// application's session store, say, when the callback reaches another process): the
    /// `oauth_token` and its secret ([`token`](Self::token) and [`secret`](Self::secret)).
    ///
    /// Keep the secret as you keep token credentials: server side, never in a cookie the
    /// browser can read. Its authorization URL must be `https`; [`Dance::pending`] makes one
    /// under a dance's transport rule instead. An empty token (a session field gone missing)
    /// matches no callback.
    pub fn new(token: impl Into<String>, secret: TokenSecret) -> Self {
        Self {
            token: token.into(),
            secret,
            allow_http_loopback: false,
        }
    }

    /// The temporary credentials identifier (`oauth_token`).
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The temporary credentials shared-secret (`oauth_token_secret`), to keep with
    /// [`token`](Self::token) until the callback comes (see [`new`](Self::new)).
    pub fn secret(&self) -> &TokenSecret {
        &self.secret
    }

    /// The resource-owner authorization URL (RFC 5849 §2.2): `authorize_endpoint` with
    /// `oauth_token` added to its query.
    ///
    /// The endpoint must be `https` (the resource owner signs in there), or loopback `http`
    /// when the dance allowed it ([`Dance::dangerous_allow_http_loopback`]); otherwise
    /// [`DanceError::InsecureTransport`]. An endpoint whose query already has an
    /// `oauth_token` is refused ([`DanceError::InvalidRequest`]): the URL would carry two, and
    /// the provider would choose which one the resource owner authorizes.
    pub fn authorization_url(&self, authorize_endpoint: &str) -> Result<Uri, DanceError> {
        let url = oauth_core::oauth1::authorization_url(
            authorize_endpoint,
            &self.token,
            transport(self.allow_http_loopback),
        )?;
        Ok(url)
    }

    /// Reads the verifier from the callback URL the provider redirected the resource owner to
    /// (RFC 5849 §2.2). The callback's `oauth_token` must equal this pending token.
    pub fn verifier_from_callback(&self, callback: &Uri) -> Result<Verifier, CallbackError> {
        oauth_core::oauth1::parse_callback(callback.query().unwrap_or(""), &self.token)
    }
}

/// Token credentials (RFC 5849 §2.3), with any other parameters the provider returned.
///
/// `Debug` shows the token and how many other parameters there are, never the secret.
#[derive(Debug)]
pub struct TokenCredentials(oauth_core::oauth1::CredentialsResponse);

impl From<TokenCredentials> for oauth_core::oauth1::TokenCredentials {
    /// The credentials to sign requests with (`Signer::builder(..).token(..)`), without the
    /// provider's extra parameters.
    fn from(credentials: TokenCredentials) -> Self {
        let (token, secret, _) = credentials.0.into_parts();
        Self::new(token, secret)
    }
}

impl TokenCredentials {
    /// The token identifier (`oauth_token`).
    pub fn token(&self) -> &str {
        self.0.token()
    }

    /// The token shared-secret (`oauth_token_secret`).
    pub fn secret(&self) -> &TokenSecret {
        self.0.secret()
    }

    /// Other parameters of the response (for example a user id), in order.
    pub fn extra(&self) -> &[(String, String)] {
        self.0.extra()
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
    response_limit: usize,
    allow_http_loopback: bool,
    timeout: Option<Duration>,
    realm: Option<Realm>,
}

/// The default bound on each of the dance's exchanges with the provider: 30 s.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

impl Dance {
    /// The dance for the client in `signer` (its client credentials, signature method, clock and
    /// random source; any token credentials in it are ignored), with the provider's temporary
    /// credentials (request token) and token credentials (access token) endpoints.
    pub fn new(
        signer: oauth_core::oauth1::Signer,
        request_token_endpoint: Uri,
        access_token_endpoint: Uri,
    ) -> Self {
        let signer = signer.with_token(None);
        Self::with_signer(
            Arc::new(signer),
            request_token_endpoint,
            access_token_endpoint,
        )
    }

    pub(crate) fn with_signer(
        signer: Arc<dyn DanceSigner>,
        request_token_endpoint: Uri,
        access_token_endpoint: Uri,
    ) -> Self {
        Self {
            signer,
            request_token_endpoint,
            access_token_endpoint,
            response_limit: DEFAULT_RESPONSE_LIMIT,
            allow_http_loopback: false,
            timeout: Some(DEFAULT_TIMEOUT),
            realm: None,
        }
    }

    /// Allows plain `http://` endpoints on a loopback host (`127.0.0.0/8`, `::1`, `localhost`),
    /// for tests and local providers. Other `http://` endpoints are refused either way: the
    /// temporary and token credentials' secrets come back in the responses (RFC 5849 §4.2).
    pub fn dangerous_allow_http_loopback(mut self) -> Self {
        self.allow_http_loopback = true;
        self
    }

    fn check_transport(&self, endpoint: &Uri) -> Result<(), DanceError> {
        check_transport(self.allow_http_loopback, endpoint)
    }

    /// Temporary credentials kept from [`request_temporary_credentials`](Self::request_temporary_credentials)
    /// (see [`PendingAuthorization::new`]), under this dance's transport rule (plain `http`
    /// authorization endpoints on loopback when it allows them).
    pub fn pending(&self, token: impl Into<String>, secret: TokenSecret) -> PendingAuthorization {
        PendingAuthorization {
            allow_http_loopback: self.allow_http_loopback,
            ..PendingAuthorization::new(token, secret)
        }
    }

    /// Caps the bytes read from a provider response ([`DEFAULT_RESPONSE_LIMIT`] by default).
    pub fn response_limit(mut self, limit: usize) -> Self {
        self.response_limit = limit;
        self
    }

    /// Bounds each exchange with the provider, from sending the request to the last byte of
    /// the response ([`DEFAULT_TIMEOUT`] by default): a provider that stops answering, or
    /// sends its response a byte at a time, fails the step with [`DanceError::Timeout`].
    ///
    /// The timer is tokio's: inside a tokio runtime it needs time enabled (`enable_all`, or
    /// `#[tokio::main]`); outside one no bound is applied. `None` turns the bound off (bound
    /// the client yourself then).
    pub fn timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeout = timeout;
        self
    }

    /// Sends `realm="<realm>"` first in the `Authorization` header of both of the dance's
    /// requests (temporary credentials and token credentials; RFC 5849 §3.5.1, not signed), as
    /// requests-oauthlib's `OAuth1Session(..., realm=...)` does. Some providers read it as the
    /// access asked for (oauthlib's `RequestTokenEndpoint` takes it as the space-separated
    /// realms of the request token, and refuses ones it does not know), others require it to
    /// name the account. A text that cannot be sent is refused by [`Realm::new`].
    ///
    /// For the requests made with the token credentials afterwards, set it on the layer too:
    /// [`SignLayer::realm`](crate::SignLayer::realm).
    ///
    /// ```
    /// # fn demo(signer: oauth_core::oauth1::Signer) -> Result<(), Box<dyn std::error::Error>> {
    /// use tower_oauth1::{Dance, Realm};
    ///
    /// let dance = Dance::new(
    ///     signer,
    ///     "https://photos.example.net/request_token".parse()?,
    ///     "https://photos.example.net/access_token".parse()?,
    /// )
    /// .realm(Realm::new("photos")?);
    /// # let _ = dance; Ok(()) }
    /// ```
    pub fn realm(mut self, realm: Realm) -> Self {
        self.realm = Some(realm);
        self
    }

    fn realm_str(&self) -> Option<&str> {
        self.realm.as_ref().map(Realm::as_str)
    }

    /// Step 1 (RFC 5849 §2.1): obtains temporary credentials, sending `oauth_callback`.
    ///
    /// A response without `oauth_callback_confirmed=true` is [`DanceError::CallbackNotConfirmed`].
    pub async fn request_temporary_credentials<S, ReqB, ResB>(
        &self,
        client: &mut S,
        callback: &Callback,
    ) -> Result<PendingAuthorization, DanceError>
    where
        S: Service<Request<ReqB>, Response = Response<ResB>>,
        S::Error: Into<BoxError>,
        ReqB: From<Bytes>,
        ResB: Body,
        ResB::Error: Into<BoxError>,
    {
        self.check_transport(&self.request_token_endpoint)?;
        if let Callback::Uri(uri) = callback
            && !oauth_core::oauth1::is_valid_callback(uri)
        {
            return Err(DanceError::InvalidRequest {
                reason: "the callback is not oob or an absolute URI without a fragment (with a host, for http and https)",
            });
        }
        let auth = self
            .signer
            .authorization(
                &self.request_token_endpoint,
                None,
                Some(callback.as_str()),
                None,
                self.realm_str(),
            )
            .map_err(DanceError::Sign)?;
        let reply = self
            .send(client, self.request_token_endpoint.clone(), auth)
            .await?;
        let parsed = reply.parse()?;
        if !parsed.callback_confirmed() {
            return Err(DanceError::CallbackNotConfirmed);
        }
        let (token, secret, _) = parsed.into_parts();
        Ok(PendingAuthorization {
            token,
            secret,
            allow_http_loopback: self.allow_http_loopback,
        })
    }

    /// Step 3 (RFC 5849 §2.3): exchanges the authorized temporary credentials and the verifier
    /// for token credentials. Takes the pending authorization by value or by reference (see
    /// [`PendingAuthorization`]).
    pub async fn request_token_credentials<S, ReqB, ResB>(
        &self,
        client: &mut S,
        pending: impl Borrow<PendingAuthorization>,
        verifier: Verifier,
    ) -> Result<TokenCredentials, DanceError>
    where
        S: Service<Request<ReqB>, Response = Response<ResB>>,
        S::Error: Into<BoxError>,
        ReqB: From<Bytes>,
        ResB: Body,
        ResB::Error: Into<BoxError>,
    {
        self.check_transport(&self.access_token_endpoint)?;
        // RFC 5849 §2.3: the verifier is required (one typed in by the user for `oob` too);
        // an empty one would only spend the temporary credentials on a refusal.
        if verifier.secret().trim().is_empty() {
            return Err(CallbackError::MissingVerifier.into());
        }
        let auth = self
            .signer
            .authorization(
                &self.access_token_endpoint,
                Some((&pending.borrow().token, &pending.borrow().secret)),
                None,
                Some(&verifier),
                self.realm_str(),
            )
            .map_err(DanceError::Sign)?;
        let reply = self
            .send(client, self.access_token_endpoint.clone(), auth)
            .await?;
        Ok(TokenCredentials(reply.parse()?))
    }

    /// Steps 2½ and 3 together: reads the verifier from the callback URL (checking its
    /// `oauth_token`), then exchanges for token credentials.
    ///
    /// A callback for another (or no) `oauth_token`, or without a verifier, fails with
    /// [`DanceError::Callback`] before any request. Pass `&pending` to keep it for the real
    /// callback in that case (a web application's callback URL can be opened by anyone):
    ///
    /// ```no_run
    /// # async fn demo(
    /// #     dance: tower_oauth1::Dance,
    /// #     mut client: tower::util::BoxService<http::Request<bytes::Bytes>, http::Response<http_body_util::Full<bytes::Bytes>>, tower::BoxError>,
    /// #     session: &mut std::collections::HashMap<String, tower_oauth1::dance::PendingAuthorization>,
    /// #     callback: http::Uri,
    /// # ) -> Result<(), tower_oauth1::dance::DanceError> {
    /// let Some(pending) = session.get("oauth1") else { return Ok(()) };
    /// let credentials = dance.complete_from_callback(&mut client, pending, &callback).await?;
    /// session.remove("oauth1"); // used: the provider would refuse it now
    /// # let _ = credentials; Ok(()) }
    /// ```
    pub async fn complete_from_callback<S, ReqB, ResB>(
        &self,
        client: &mut S,
        pending: impl Borrow<PendingAuthorization>,
        callback: &Uri,
    ) -> Result<TokenCredentials, DanceError>
    where
        S: Service<Request<ReqB>, Response = Response<ResB>>,
        S::Error: Into<BoxError>,
        ReqB: From<Bytes>,
        ResB: Body,
        ResB::Error: Into<BoxError>,
    {
        let verifier = pending.borrow().verifier_from_callback(callback)?;
        self.request_token_credentials(client, pending, verifier)
            .await
    }

    async fn send<S, ReqB, ResB>(
        &self,
        client: &mut S,
        uri: Uri,
        authorization: http::HeaderValue,
    ) -> Result<Reply, DanceError>
    where
        S: Service<Request<ReqB>, Response = Response<ResB>>,
        S::Error: Into<BoxError>,
        ReqB: From<Bytes>,
        ResB: Body,
        ResB::Error: Into<BoxError>,
    {
        let exchange = self.exchange(client, uri, authorization);
        // (Outside a tokio runtime there is no timer to use: the client's own bounds apply.)
        match self
            .timeout
            .filter(|_| tokio::runtime::Handle::try_current().is_ok())
        {
            Some(after) => {
                // tokio panics when the timer is made in a runtime without timers; that is a
                // configuration error to report, not a reason to take the caller's task down.
                let bounded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    tokio::time::timeout(after, exchange)
                }))
                .map_err(|_| DanceError::NoTimer)?;
                bounded.await.map_err(|_| DanceError::Timeout { after })?
            }
            None => exchange.await,
        }
    }

    /// One request and its whole response (of an error status, only the start of the body).
    async fn exchange<S, ReqB, ResB>(
        &self,
        client: &mut S,
        uri: Uri,
        authorization: http::HeaderValue,
    ) -> Result<Reply, DanceError>
    where
        S: Service<Request<ReqB>, Response = Response<ResB>>,
        S::Error: Into<BoxError>,
        ReqB: From<Bytes>,
        ResB: Body,
        ResB::Error: Into<BoxError>,
    {
        let mut request = Request::new(ReqB::from(Bytes::new()));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = uri;
        request
            .headers_mut()
            .insert(header::AUTHORIZATION, authorization);
        request
            .headers_mut()
            .insert(header::CONTENT_LENGTH, http::HeaderValue::from_static("0"));
        std::future::poll_fn(|cx| client.poll_ready(cx))
            .await
            .map_err(|e| DanceError::Transport(e.into()))?;
        let response = client
            .call(request)
            .await
            .map_err(|e| DanceError::Transport(e.into()))?;
        let (parts, body) = response.into_parts();
        if !parts.status.is_success() {
            // Only an `oauth_problem` is taken from an error's body, so little of it is read,
            // and a large or broken one (a CDN's error page) does not hide the status.
            let limit = self.response_limit.min(ERROR_BODY_LIMIT);
            let bytes = match Collect::check_hint(&body, limit) {
                Ok(()) => collect(body, limit).await.unwrap_or_default(),
                Err(_) => Bytes::new(),
            };
            // (The parser makes the provider's error of it.)
            return Ok(Reply {
                status: parts.status,
                headers: parts.headers,
                body: bytes,
            });
        }
        let limit = self.response_limit;
        if Collect::check_hint(&body, limit).is_err() {
            return Err(DanceError::ResponseTooLarge { limit });
        }
        let body = collect(body, limit).await.map_err(|e| match e {
            CollectError::TooLarge(_) => DanceError::ResponseTooLarge { limit },
            CollectError::Body(e) => DanceError::ResponseBody(e),
        })?;
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }
}

/// The most of an error response's body the dance reads, for its `oauth_problem`.
const ERROR_BODY_LIMIT: usize = 8 * 1024;

/// A provider's answer to a dance request, read.
struct Reply {
    status: http::StatusCode,
    headers: http::HeaderMap,
    body: Bytes,
}

impl Reply {
    /// The credentials in the answer, or the provider's error (oauth-core's parser).
    fn parse(&self) -> Result<oauth_core::oauth1::CredentialsResponse, DanceError> {
        let parsed = oauth_core::oauth1::parse_credentials_response(
            self.status,
            &self.headers,
            &self.body,
            SystemTime::now(),
        )?;
        Ok(parsed)
    }
}

/// Reads a whole response body, up to `limit` bytes.
async fn collect<B>(body: B, limit: usize) -> Result<Bytes, CollectError>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    let mut collect = std::pin::pin!(Collect::new(body, limit));
    std::future::poll_fn(|cx| collect.as_mut().poll_collect(cx)).await
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::sync::{Arc, Mutex};

    use http::{HeaderValue, StatusCode};
    use http_body_util::Full;
    use tower::service_fn;

    use super::*;

    #[derive(Debug)]
    struct FakeSigner;

    impl DanceSigner for FakeSigner {
        fn authorization(
            &self,
            uri: &Uri,
            token: Option<(&str, &TokenSecret)>,
            callback: Option<&str>,
            verifier: Option<&Verifier>,
            realm: Option<&str>,
        ) -> Result<HeaderValue, BoxError> {
            let realm = realm.map_or(String::new(), |r| format!("r=\"{r}\", "));
            Ok(HeaderValue::from_str(&format!(
                "OAuth {realm}u=\"{uri}\", t=\"{}\", c=\"{}\", v=\"{}\"",
                token.map_or("-", |t| t.0),
                callback.unwrap_or("-"),
                verifier.map_or("-", |v| v.secret()),
            ))?)
        }
    }

    fn dance() -> Dance {
        Dance::with_signer(
            Arc::new(FakeSigner),
            "http://127.0.0.1:1/request_token".parse().unwrap(),
            "http://127.0.0.1:1/access_token".parse().unwrap(),
        )
        .dangerous_allow_http_loopback()
    }

    /// Plain http is refused before anything is sent, unless allowed and on loopback; an
    /// authorization endpoint with a fragment is refused (the token would land in it).
    #[tokio::test]
    async fn endpoints_must_be_https_or_allowed_loopback() {
        let (log, mut svc) = provider(
            StatusCode::OK,
            "oauth_token=t&oauth_token_secret=s&oauth_callback_confirmed=true",
        );
        let at = |request: &str, access: &str| {
            Dance::with_signer(
                Arc::new(FakeSigner),
                request.parse().unwrap(),
                access.parse().unwrap(),
            )
        };
        for dance in [
            at(
                "http://127.0.0.1:1/request_token",
                "http://127.0.0.1:1/access_token",
            ),
            at(
                "http://photos.example.net/request_token",
                "https://photos.example.net/access_token",
            )
            .dangerous_allow_http_loopback(),
        ] {
            let error = dance
                .request_temporary_credentials(&mut svc, &Callback::OutOfBand)
                .await
                .unwrap_err();
            assert!(matches!(error, DanceError::InsecureTransport), "{error:?}");
        }
        assert!(log.lock().unwrap().is_empty(), "nothing was sent");
        let pending = at("https://[::1]/r", "https://[::1]/a")
            .request_temporary_credentials(&mut svc, &Callback::OutOfBand)
            .await
            .unwrap();
        assert!(matches!(
            pending.authorization_url("https://photos.example.net/authorize#x"),
            Err(DanceError::InvalidRequest { .. })
        ));
        let loopback =
            at("http://localhost:1/r", "http://[::1]:1/a").dangerous_allow_http_loopback();
        assert!(
            loopback
                .check_transport(&"http://localhost:1/r".parse().unwrap())
                .is_ok()
        );
        assert!(
            loopback
                .check_transport(&"http://[::1]:1/a".parse().unwrap())
                .is_ok()
        );
        assert!(
            loopback
                .check_transport(&"ftp://127.0.0.1/a".parse().unwrap())
                .is_err()
        );
    }

    /// A provider that never answers, and one that sends its headers and then nothing more:
    /// each step fails with `Timeout` after the bound (30 s by default).
    #[tokio::test(start_paused = true)]
    async fn a_silent_or_trickling_provider_times_out() {
        let mut silent = service_fn(|_req: Request<Full<Bytes>>| {
            std::future::pending::<Result<Response<Full<Bytes>>, Infallible>>()
        });
        let error = dance()
            .request_temporary_credentials(&mut silent, &Callback::OutOfBand)
            .await
            .unwrap_err();
        assert!(
            matches!(error, DanceError::Timeout { after } if after == DEFAULT_TIMEOUT),
            "{error:?}"
        );
        let senders = Arc::new(Mutex::new(Vec::new()));
        let keep = Arc::clone(&senders);
        let mut trickling = service_fn(move |_req: Request<Full<Bytes>>| {
            let (sender, body) = http_body_util::channel::Channel::<Bytes, Infallible>::new(1);
            keep.lock().unwrap().push(sender);
            async move { Ok::<_, Infallible>(Response::new(body)) }
        });
        let error = dance()
            .timeout(Some(Duration::from_secs(5)))
            .request_temporary_credentials(&mut trickling, &Callback::OutOfBand)
            .await
            .unwrap_err();
        assert!(
            matches!(error, DanceError::Timeout { after } if after == Duration::from_secs(5)),
            "{error:?}"
        );
        assert_eq!(senders.lock().unwrap().len(), 1, "the request was sent");
    }

    /// With the bound off, or outside any tokio runtime, a dance runs unbounded (and does not
    /// panic for want of a timer).
    #[test]
    fn without_a_tokio_runtime_the_dance_runs_unbounded() {
        let (_, mut client) = provider(
            StatusCode::OK,
            "oauth_token=tmp&oauth_token_secret=s&oauth_callback_confirmed=true",
        );
        let run = |dance: Dance, client: &mut _| {
            let mut step = std::pin::pin!(async move {
                dance
                    .request_temporary_credentials(client, &Callback::OutOfBand)
                    .await
            });
            let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
            match step.as_mut().poll(&mut cx) {
                std::task::Poll::Ready(result) => result,
                std::task::Poll::Pending => panic!("the fake provider answers at once"),
            }
        };
        assert_eq!(run(dance(), &mut client).unwrap().token(), "tmp");
        assert_eq!(
            run(dance().timeout(None), &mut client).unwrap().token(),
            "tmp"
        );
    }

    /// `oauth_callback` must be an absolute URI without a fragment (custom schemes are fine;
    /// http and https ones need a host); nothing is sent otherwise.
    #[tokio::test]
    async fn callbacks_must_be_absolute_without_a_fragment() {
        let (log, mut client) = provider(
            StatusCode::OK,
            "oauth_token=tmp&oauth_token_secret=s&oauth_callback_confirmed=true",
        );
        for bad in [
            "app/cb",
            "/cb",
            "https://app/cb#frag",
            "",
            "1http://x",
            "https://app/c b",
            "https://",
            "https:///cb",
            "http://:8080/cb",
        ] {
            let error = dance()
                .request_temporary_credentials(&mut client, &Callback::Uri(bad.into()))
                .await
                .unwrap_err();
            assert!(
                matches!(error, DanceError::InvalidRequest { .. }),
                "{bad}: {error:?}"
            );
        }
        assert!(log.lock().unwrap().is_empty());
        for good in [
            "https://app/cb?x=1",
            "com.example.app:/cb",
            "myapp://cb",
            "oob",
        ] {
            dance()
                .request_temporary_credentials(&mut client, &Callback::Uri(good.into()))
                .await
                .unwrap();
        }
    }

    /// The authorization endpoint follows the dance's transport rule; a pending authorization
    /// kept as its two parts (in a session store) completes the dance.
    #[tokio::test]
    async fn authorization_url_transport_and_pending_authorization_from_its_parts() {
        let pending = temporary(
            dance(),
            StatusCode::OK,
            "oauth_token=tmp&oauth_token_secret=SENTINEL1&oauth_callback_confirmed=true",
        )
        .await
        .unwrap();
        assert!(
            pending
                .authorization_url("http://127.0.0.1:1/authorize")
                .is_ok()
        );
        assert!(matches!(
            pending.authorization_url("http://photos.example.net/authorize"),
            Err(DanceError::InsecureTransport)
        ));
        let (token, secret) = (pending.token().to_owned(), pending.secret().clone());
        assert_eq!(secret.secret(), "SENTINEL1");
        let restored = PendingAuthorization::new(token, secret);
        assert!(matches!(
            restored.authorization_url("http://127.0.0.1:1/authorize"),
            Err(DanceError::InsecureTransport)
        ));
        assert!(!format!("{restored:?}").contains("SENTINEL1"));
        // Restored by the dance that allows loopback http, it may use a local provider.
        let local = dance().pending("tmp", TokenSecret::new("SENTINEL1"));
        assert!(
            local
                .authorization_url("http://127.0.0.1:1/authorize")
                .is_ok()
        );
        let (log, mut client) = provider(StatusCode::OK, "oauth_token=tok&oauth_token_secret=s2");
        let credentials = dance()
            .complete_from_callback(
                &mut client,
                restored,
                &"https://app/cb?oauth_token=tmp&oauth_verifier=ver"
                    .parse()
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(credentials.token(), "tok");
        assert!(log.lock().unwrap()[0].contains("t=\"tmp\""));
    }

    /// A callback for another `oauth_token` (a forged link, a stale tab) is refused before any
    /// request, and a pending authorization lent by reference survives it: the real callback
    /// completes the dance afterwards.
    #[tokio::test]
    async fn a_refused_callback_does_not_spend_a_lent_pending_authorization() {
        let pending = dance().pending("tmp", TokenSecret::new("SENTINEL1"));
        let (log, mut client) = provider(StatusCode::OK, "oauth_token=tok&oauth_token_secret=s2");
        for forged in [
            "https://app/cb?oauth_token=attacker&oauth_verifier=v",
            "https://app/cb?oauth_verifier=v",
            "https://app/cb?oauth_token=tmp",
        ] {
            let error = dance()
                .complete_from_callback(&mut client, &pending, &forged.parse().unwrap())
                .await
                .unwrap_err();
            assert!(
                matches!(error, DanceError::Callback(_)),
                "{forged}: {error:?}"
            );
        }
        assert!(log.lock().unwrap().is_empty(), "nothing sent");
        let credentials = dance()
            .complete_from_callback(
                &mut client,
                &pending,
                &"https://app/cb?oauth_token=tmp&oauth_verifier=ver"
                    .parse()
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(credentials.token(), "tok");
        assert_eq!(log.lock().unwrap().len(), 1);
    }

    type Log = Arc<Mutex<Vec<String>>>;

    fn provider(
        status: StatusCode,
        body: &'static str,
    ) -> (
        Log,
        impl Service<Request<Full<Bytes>>, Response = Response<Full<Bytes>>, Error = Infallible>,
    ) {
        let log: Log = Arc::default();
        let l = Arc::clone(&log);
        let svc = service_fn(move |req: Request<Full<Bytes>>| {
            assert_eq!(req.method(), Method::POST);
            l.lock().unwrap().push(
                req.headers()[header::AUTHORIZATION]
                    .to_str()
                    .unwrap()
                    .to_owned(),
            );
            let res = Response::builder()
                .status(status)
                .body(Full::new(Bytes::from_static(body.as_bytes())))
                .unwrap();
            async move { Ok::<_, Infallible>(res) }
        });
        (log, svc)
    }

    /// Step 1 with `dance`, out of band, against a provider answering `status` and `body`.
    async fn temporary(
        dance: Dance,
        status: StatusCode,
        body: &'static str,
    ) -> Result<PendingAuthorization, DanceError> {
        let (_, mut client) = provider(status, body);
        dance
            .request_temporary_credentials(&mut client, &Callback::OutOfBand)
            .await
    }

    #[tokio::test]
    async fn full_dance_with_callback() {
        let (log, mut client) = provider(
            StatusCode::OK,
            "oauth_token=tmp&oauth_token_secret=SENTINEL1&oauth_callback_confirmed=true",
        );
        let d = dance();
        let pending = d
            .request_temporary_credentials(&mut client, &Callback::Uri("https://app/cb".into()))
            .await
            .unwrap();
        assert_eq!(pending.token(), "tmp");
        assert!(!format!("{pending:?}").contains("SENTINEL1"));
        assert_eq!(
            pending
                .authorization_url("https://p.example/authorize?x=1")
                .unwrap(),
            "https://p.example/authorize?x=1&oauth_token=tmp"
        );
        let (log2, mut client2) = provider(
            StatusCode::OK,
            "oauth_token=tok&oauth_token_secret=SENTINEL2&user_id=42",
        );
        let creds = d
            .complete_from_callback(
                &mut client2,
                pending,
                &"https://app/cb?oauth_token=tmp&oauth_verifier=ver"
                    .parse()
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(creds.token(), "tok");
        assert_eq!(creds.secret().secret(), "SENTINEL2");
        assert_eq!(creds.extra(), [("user_id".to_owned(), "42".to_owned())]);
        assert!(!format!("{creds:?}").contains("SENTINEL2"));
        assert_eq!(
            log.lock().unwrap()[0],
            "OAuth u=\"http://127.0.0.1:1/request_token\", t=\"-\", c=\"https://app/cb\", v=\"-\""
        );
        assert_eq!(
            log2.lock().unwrap()[0],
            "OAuth u=\"http://127.0.0.1:1/access_token\", t=\"tmp\", c=\"-\", v=\"ver\""
        );
    }

    #[tokio::test]
    async fn unconfirmed_callback_is_an_error() {
        let err = temporary(
            dance(),
            StatusCode::OK,
            "oauth_token=tmp&oauth_token_secret=s",
        )
        .await
        .unwrap_err();
        assert!(matches!(err, DanceError::CallbackNotConfirmed), "{err:?}");
    }

    #[tokio::test]
    async fn provider_errors_carry_status_and_problem_only() {
        let err = temporary(
            dance(),
            StatusCode::UNAUTHORIZED,
            "oauth_problem=signature_invalid&debug=SENTINEL",
        )
        .await
        .unwrap_err();
        let DanceError::Provider(p) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(p.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(p.problem(), Some("signature_invalid"));
        assert!(!format!("{err} {err:?}").contains("SENTINEL"));
    }

    #[tokio::test]
    async fn oversized_response_is_refused() {
        let err = temporary(
            dance().response_limit(16),
            StatusCode::OK,
            "oauth_token=tmp&oauth_token_secret=s&oauth_callback_confirmed=true",
        )
        .await
        .unwrap_err();
        assert!(
            matches!(err, DanceError::ResponseTooLarge { limit: 16 }),
            "{err:?}"
        );
    }

    #[tokio::test]
    async fn callback_errors_stop_before_the_exchange() {
        let (_, mut client) = provider(
            StatusCode::OK,
            "oauth_token=tmp&oauth_token_secret=s&oauth_callback_confirmed=true",
        );
        let d = dance();
        for (callback, expected) in [
            (
                "https://app/cb?oauth_token=other&oauth_verifier=v",
                CallbackError::TokenMismatch,
            ),
            (
                "https://app/cb?oauth_token=tmp",
                CallbackError::MissingVerifier,
            ),
            ("https://app/cb?denied=tmp", CallbackError::Denied),
        ] {
            let pending = d
                .request_temporary_credentials(&mut client, &Callback::OutOfBand)
                .await
                .unwrap();
            let (log, mut exchange) = provider(StatusCode::OK, "");
            let err = d
                .complete_from_callback(&mut exchange, pending, &callback.parse().unwrap())
                .await
                .unwrap_err();
            assert!(
                matches!(&err, DanceError::Callback(e) if *e == expected),
                "{err:?}"
            );
            assert!(log.lock().unwrap().is_empty());
        }
    }

    /// An out-of-band verifier typed in empty (or blank) is refused before anything is sent.
    #[tokio::test]
    async fn an_empty_verifier_is_refused_before_the_exchange() {
        for typed in ["", "  "] {
            let pending = temporary(
                dance(),
                StatusCode::OK,
                "oauth_token=tmp&oauth_token_secret=s&oauth_callback_confirmed=true",
            )
            .await
            .unwrap();
            let (log, mut exchange) =
                provider(StatusCode::OK, "oauth_token=t&oauth_token_secret=s");
            let err = dance()
                .request_token_credentials(&mut exchange, pending, Verifier::new(typed))
                .await
                .unwrap_err();
            assert!(
                matches!(&err, DanceError::Callback(CallbackError::MissingVerifier)),
                "{err:?}"
            );
            assert!(log.lock().unwrap().is_empty());
        }
    }

    /// `body` padded with an `x=...` parameter to exactly `len` bytes.
    fn padded(body: &str, len: usize) -> &'static str {
        let pad = len - body.len() - "&x=".len();
        format!("{body}&x={}", "y".repeat(pad)).leak()
    }

    /// The default response limit is the documented 64 KiB: a response of exactly that size is
    /// read, one byte more is `ResponseTooLarge` naming 64 KiB.
    #[tokio::test]
    async fn the_default_response_limit_is_64_kib() {
        let form = "oauth_token=tmp&oauth_token_secret=s&oauth_callback_confirmed=true";
        let pending = temporary(dance(), StatusCode::OK, padded(form, 64 * 1024))
            .await
            .unwrap();
        assert_eq!(pending.token(), "tmp");
        let err = temporary(dance(), StatusCode::OK, padded(form, 64 * 1024 + 1))
            .await
            .unwrap_err();
        assert!(
            matches!(err, DanceError::ResponseTooLarge { limit: 65_536 }),
            "{err:?}"
        );
    }

    /// An error response's body is read up to 8 KiB for its `oauth_problem`: one of exactly
    /// 8 KiB still names the problem; a longer one keeps only its status.
    #[tokio::test]
    async fn an_error_body_is_read_up_to_8_kib_for_its_problem() {
        for (len, problem) in [(8 * 1024, Some("token_rejected")), (8 * 1024 + 1, None)] {
            let body = padded("oauth_problem=token_rejected", len);
            let err = temporary(dance(), StatusCode::UNAUTHORIZED, body)
                .await
                .unwrap_err();
            let DanceError::Provider(p) = &err else {
                panic!("{err:?}")
            };
            assert_eq!(p.status(), StatusCode::UNAUTHORIZED);
            assert_eq!(p.problem(), problem, "{len} bytes");
        }
    }

    /// A pending authorization's `Debug` shows its token, to tell flows apart in logs, and
    /// never its secret.
    #[test]
    fn pending_authorization_debug_shows_the_token_not_the_secret() {
        let pending = PendingAuthorization::new("tmp-token", TokenSecret::new("SENTINEL"));
        let shown = format!("{pending:?}");
        assert_eq!(
            shown,
            "PendingAuthorization { token: \"tmp-token\", secret: TokenSecret([redacted]) }"
        );
    }

    /// A dance with a realm sends it in both requests (temporary and token credentials), as
    /// requests-oauthlib's `OAuth1Session(realm=...)` does (without one, neither has it:
    /// `full_dance_with_callback`).
    #[tokio::test]
    async fn a_realm_is_sent_in_both_requests() {
        let (log, mut client) = provider(
            StatusCode::OK,
            "oauth_token=tmp&oauth_token_secret=s&oauth_callback_confirmed=true",
        );
        let d = dance().realm(Realm::new("photos printer").unwrap());
        let pending = d
            .request_temporary_credentials(&mut client, &Callback::OutOfBand)
            .await
            .unwrap();
        d.request_token_credentials(&mut client, pending, Verifier::new("ver"))
            .await
            .unwrap();
        let log = log.lock().unwrap();
        assert_eq!(
            log[0],
            "OAuth r=\"photos printer\", u=\"http://127.0.0.1:1/request_token\", t=\"-\", c=\"oob\", v=\"-\""
        );
        assert_eq!(
            log[1],
            "OAuth r=\"photos printer\", u=\"http://127.0.0.1:1/access_token\", t=\"tmp\", c=\"-\", v=\"ver\""
        );
    }

    /// With oauth-core's signer the realm comes first in the header, before the protocol
    /// parameters, in both requests; a dance's `Debug` shows it (a realm is not a secret).
    #[tokio::test]
    async fn the_real_signer_writes_the_realm_first() {
        use oauth_core::oauth1::{ClientCredentials, Signer};
        use oauth_core::secret::ConsumerSecret;
        let signer = Signer::builder(ClientCredentials::new(
            "key",
            ConsumerSecret::new("SENTINEL-cs"),
        ))
        .build()
        .unwrap();
        let d = Dance::new(
            signer,
            "http://127.0.0.1:1/request_token".parse().unwrap(),
            "http://127.0.0.1:1/access_token".parse().unwrap(),
        )
        .dangerous_allow_http_loopback()
        .realm("Photos".parse().unwrap());
        let (log, mut client) = provider(
            StatusCode::OK,
            "oauth_token=tmp&oauth_token_secret=s&oauth_callback_confirmed=true",
        );
        let pending = d
            .request_temporary_credentials(&mut client, &Callback::OutOfBand)
            .await
            .unwrap();
        let (log2, mut client2) = provider(StatusCode::OK, "oauth_token=tok&oauth_token_secret=s2");
        d.request_token_credentials(&mut client2, pending, Verifier::new("ver"))
            .await
            .unwrap();
        let first = &log.lock().unwrap()[0];
        let second = &log2.lock().unwrap()[0];
        assert!(
            first.starts_with("OAuth realm=\"Photos\", oauth_callback=\"oob\", "),
            "{first}"
        );
        assert!(
            second.starts_with("OAuth realm=\"Photos\", oauth_consumer_key=\"key\", "),
            "{second}"
        );
        assert!(
            second.contains("oauth_token=\"tmp\"") && second.contains("oauth_verifier=\"ver\"")
        );
        let shown = format!("{d:?}");
        assert!(shown.contains("realm: Some(Realm(\"Photos\"))"), "{shown}");
        assert!(!shown.contains("SENTINEL"), "{shown}");
    }
}
