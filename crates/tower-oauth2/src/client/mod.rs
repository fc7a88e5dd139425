//! [`GrantClient`]: token requests for every grant, over any tower HTTP service.
//!
//! The requests are built and the responses parsed by [`oauth_core::oauth2`]; this client sends
//! them with the rules a token endpoint client must follow: it never follows a redirect (a 3xx is
//! an error, so a secret or a PKCE verifier is never replayed elsewhere), it bounds the whole
//! exchange in time and the response in size, and it never retries an authorization-code
//! exchange (the code is single-use, RFC 6749 §10.5). Plain-`http` token endpoints are refused
//! unless the [`Endpoint`] was built with the loopback opt-in.
//!
//! Use one HTTP client for the token endpoint and another (wrapped in
//! [`OAuth2Layer`](crate::OAuth2Layer)) for the API: the token client must not carry the
//! token layer itself, nor a redirect-following layer.

mod discovery;
mod error;
pub(crate) mod transport;

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use http_body_util::Full;
use oauth_core::clock::Clock;
use oauth_core::oauth2::{
    Client, CodeExchange, Compliance, DpopKey, Endpoint, GrantError, Scope, Token, TokenRequest,
    dpop, parse_token_response,
};
use oauth_core::secret::RefreshToken;
#[cfg(feature = "legacy")]
use oauth_core::secret::ResourceOwnerPassword;
use tower::BoxError;
use tower_service::Service;

pub use discovery::discover;
pub use error::{GrantClientError, GrantClientErrorKind};

use crate::source::{FetchFuture, TokenError, TokenErrorKind, TokenFetcher};
use transport::Limits;

/// Sends token requests (RFC 6749 §4, §6; RFC 8628; RFC 8693) through an HTTP service.
///
/// # Example
///
/// ```
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use bytes::Bytes;
/// use http::{Request, Response};
/// use http_body_util::Full;
/// use oauth_core::oauth2::{Client, Endpoint};
/// use oauth_core::secret::ClientSecret;
/// use tower_oauth2::GrantClient;
///
/// # let http_client = tower::service_fn(|req: Request<Full<Bytes>>| async move {
/// #     assert_eq!(req.headers()["authorization"], "Basic czZCaGRSa3F0MzpnWDFmQmF0M2JW");
/// #     let body = r#"{"access_token":"2YotnFZFEjr1zCsicMWpAA","token_type":"Bearer","expires_in":3600}"#;
/// #     Ok::<_, std::convert::Infallible>(Response::builder()
/// #         .header("content-type", "application/json")
/// #         .body(Full::new(Bytes::from(body))).unwrap())
/// # });
/// let grants = GrantClient::new(
///     http_client,
///     Endpoint::new("https://server.example.com/token")?,
///     Client::secret_basic("s6BhdRkqt3", ClientSecret::new("gX1fBat3bV")),
/// );
/// let token = grants.client_credentials(None).await?;
/// assert!(token.expires_at().is_some());
/// # Ok(()) }
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Clone)]
pub struct GrantClient<S> {
    service: S,
    endpoint: Endpoint,
    client: Client,
    compliance: Compliance,
    limits: Limits,
    clock: Arc<dyn Clock>,
    dpop: Option<Arc<Dpop>>,
}

/// A DPoP key and the last nonce the authorization server gave (RFC 9449 §8).
#[derive(Debug)]
struct Dpop {
    key: DpopKey,
    nonce: std::sync::Mutex<Option<String>>,
}

impl Dpop {
    fn nonce(&self) -> Option<String> {
        self.nonce
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Keeps the server's `DPoP-Nonce`; whether it is a new one.
    fn remember_nonce(&self, headers: &http::HeaderMap) -> bool {
        let Some(nonce) = dpop::server_nonce(headers) else {
            return false;
        };
        let mut slot = self
            .nonce
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let new = slot.as_deref() != Some(nonce);
        *slot = Some(nonce.to_owned());
        new
    }
}

impl<S> fmt::Debug for GrantClient<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("GrantClient")
            .field("endpoint", &self.endpoint)
            .field("client", &self.client)
            .field("compliance", &self.compliance)
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}

impl<S, ResBody> GrantClient<S>
where
    S: Service<Request<Full<Bytes>>, Response = Response<ResBody>> + Clone + Send + Sync + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send,
    ResBody: Body + Send,
    ResBody::Data: Send,
    ResBody::Error: Into<BoxError>,
{
    /// A client for `token_endpoint`, authenticating as `client`.
    pub fn new(service: S, token_endpoint: Endpoint, client: Client) -> Self {
        Self {
            service,
            endpoint: token_endpoint,
            client,
            compliance: Compliance::strict(),
            limits: Limits::default(),
            clock: Arc::new(crate::clock::TokioClock::new()),
            dpop: None,
        }
    }

    /// Asks for DPoP-bound tokens (RFC 9449): every token request carries a `DPoP` proof made
    /// with `key`, and when the server answers `use_dpop_nonce` the request is sent once more
    /// with the nonce it gave (§8; the server refused it before looking at the grant, so this
    /// holds for a code exchange too). The tokens come back with token type `DPoP`.
    ///
    /// Sending DPoP-bound tokens to resource servers (a proof per request) is not done by
    /// [`OAuth2Layer`](crate::OAuth2Layer) yet.
    pub fn dpop(mut self, key: DpopKey) -> Self {
        self.dpop = Some(Arc::new(Dpop {
            key,
            nonce: std::sync::Mutex::new(None),
        }));
        self
    }

    /// Provider quirks to tolerate (default: strict RFC 6749).
    pub fn compliance(mut self, compliance: Compliance) -> Self {
        self.compliance = compliance;
        self
    }

    /// The deadline for a whole exchange, from sending to the last body byte (default 30 s).
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.limits.timeout = timeout;
        self
    }

    /// The largest response body read (default 1 MiB).
    pub fn max_response_bytes(mut self, limit: usize) -> Self {
        self.limits.max_body = limit;
        self
    }

    /// Reads the receipt time of tokens from `clock` (default: tokio's clock).
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The token endpoint.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The client identity.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Exchanges an authorization code (RFC 6749 §4.1.3), with the PKCE verifier and the
    /// `redirect_uri` of the pending authorization. Never retried automatically.
    pub async fn exchange_code(&self, exchange: CodeExchange) -> Result<Token, GrantClientError> {
        self.send(TokenRequest::authorization_code(
            &self.endpoint,
            &self.client,
            exchange,
        ))
        .await
    }

    /// Requests a token for the client itself (RFC 6749 §4.4).
    pub async fn client_credentials(
        &self,
        scope: Option<&Scope>,
    ) -> Result<Token, GrantClientError> {
        let request = TokenRequest::client_credentials(&self.endpoint, &self.client);
        self.send(with_scope(request, scope)).await
    }

    /// Refreshes (RFC 6749 §6). `scope`, if given, must not exceed the original grant's; the
    /// library never widens it.
    pub async fn refresh(
        &self,
        refresh_token: &RefreshToken,
        scope: Option<&Scope>,
    ) -> Result<Token, GrantClientError> {
        let request = TokenRequest::refresh_token(&self.endpoint, &self.client, refresh_token);
        self.send(with_scope(request, scope)).await
    }

    /// The resource owner password grant (RFC 6749 §4.3). Only with the `legacy` feature.
    #[cfg(feature = "legacy")]
    #[deprecated(note = "RFC 9700 §2.4: the password grant MUST NOT be used")]
    pub async fn password(
        &self,
        username: &str,
        password: &ResourceOwnerPassword,
        scope: Option<&Scope>,
    ) -> Result<Token, GrantClientError> {
        #[allow(deprecated)]
        let request = TokenRequest::password(&self.endpoint, &self.client, username, password);
        self.send(with_scope(request, scope)).await
    }

    /// Sends any token request built with [`TokenRequest`] (device code, token exchange, JWT
    /// bearer, extension grants).
    pub async fn send(&self, request: TokenRequest) -> Result<Token, GrantClientError> {
        let mut request = request.build().map_err(GrantClientError::request)?;
        self.compliance.adjust_token_request(&mut request);
        let Some(dpop_state) = &self.dpop else {
            let raw = transport::send(self.service.clone(), request, self.limits)
                .await
                .map_err(GrantClientError::transport)?;
            return self.parse(&raw);
        };
        let (parts, body) = request.into_parts();
        let mut nonce_retried = false;
        loop {
            let mut request = Request::from_parts(parts.clone(), body.clone());
            let proof = dpop_state
                .key
                .proof(
                    &parts.method,
                    &parts.uri,
                    None,
                    dpop_state.nonce().as_deref(),
                )
                .map_err(|e| GrantClientError::request(GrantError::ClientAssertion(e)))?;
            request.headers_mut().insert(dpop::DPOP_HEADER, proof);
            let raw = transport::send(self.service.clone(), request, self.limits)
                .await
                .map_err(GrantClientError::transport)?;
            let new_nonce = dpop_state.remember_nonce(&raw.headers);
            let result = self.parse(&raw);
            let asks_for_nonce = result
                .as_ref()
                .is_err_and(|e| e.response_error().is_some_and(dpop::is_use_dpop_nonce));
            if nonce_retried || !new_nonce || !asks_for_nonce {
                return result;
            }
            nonce_retried = true;
        }
    }

    fn parse(&self, raw: &transport::RawResponse) -> Result<Token, GrantClientError> {
        let now = self.clock.now();
        parse_token_response(raw.status, &raw.headers, &raw.body, now, &self.compliance)
            .map_err(|e| GrantClientError::response(e, &raw.headers))
    }

    /// A [`TokenFetcher`] that refreshes with the current token's refresh token (for a
    /// [`TokenSource`](crate::TokenSource) holding a user's token).
    pub fn refresh_fetcher(&self) -> RefreshFetcher<S> {
        RefreshFetcher {
            grants: self.clone(),
            scope: None,
        }
    }

    /// A [`TokenFetcher`] that requests a new client-credentials token whenever one is needed.
    pub fn client_credentials_fetcher(&self, scope: Option<Scope>) -> ClientCredentialsFetcher<S> {
        ClientCredentialsFetcher {
            grants: self.clone(),
            scope,
        }
    }
}

fn with_scope(request: TokenRequest, scope: Option<&Scope>) -> TokenRequest {
    match scope {
        Some(scope) => request.scope(scope),
        None => request,
    }
}

/// Refreshes a user's token with its refresh token; see [`GrantClient::refresh_fetcher`].
#[derive(Clone, Debug)]
pub struct RefreshFetcher<S> {
    grants: GrantClient<S>,
    scope: Option<Scope>,
}

impl<S> RefreshFetcher<S> {
    /// Asks for `scope` (a subset of the original) on every refresh.
    pub fn scope(mut self, scope: Scope) -> Self {
        self.scope = Some(scope);
        self
    }
}

impl<S, ResBody> TokenFetcher for RefreshFetcher<S>
where
    S: Service<Request<Full<Bytes>>, Response = Response<ResBody>> + Clone + Send + Sync + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send,
    ResBody: Body + Send + 'static,
    ResBody::Data: Send,
    ResBody::Error: Into<BoxError>,
{
    fn fetch(&self, current: Option<&Token>) -> FetchFuture {
        let grants = self.grants.clone();
        let scope = self.scope.clone();
        let refresh_token = current.and_then(|t| t.refresh_token()).cloned();
        Box::pin(async move {
            let Some(refresh_token) = refresh_token else {
                return Err(TokenError::new(TokenErrorKind::Reauthorize, None));
            };
            grants
                .refresh(&refresh_token, scope.as_ref())
                .await
                .map_err(GrantClientError::into_token_error)
        })
    }
}

/// Requests new client-credentials tokens; see [`GrantClient::client_credentials_fetcher`].
#[derive(Clone, Debug)]
pub struct ClientCredentialsFetcher<S> {
    grants: GrantClient<S>,
    scope: Option<Scope>,
}

impl<S, ResBody> TokenFetcher for ClientCredentialsFetcher<S>
where
    S: Service<Request<Full<Bytes>>, Response = Response<ResBody>> + Clone + Send + Sync + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send,
    ResBody: Body + Send + 'static,
    ResBody::Data: Send,
    ResBody::Error: Into<BoxError>,
{
    fn fetch(&self, _current: Option<&Token>) -> FetchFuture {
        let grants = self.grants.clone();
        let scope = self.scope.clone();
        Box::pin(async move {
            grants
                .client_credentials(scope.as_ref())
                .await
                .map_err(GrantClientError::into_token_error)
        })
    }

    fn fetches_new_tokens(&self) -> bool {
        true
    }
}
