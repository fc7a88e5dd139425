//! [`GrantClient`]: token requests for every grant, over any tower HTTP service.
//!
//! The requests are built and the responses parsed by [`oauth_core::oauth2`]; this client sends
//! them with the rules a token endpoint client must follow: it never follows a redirect (a 3xx is
//! an error, so a secret or a PKCE verifier is never replayed elsewhere), it bounds the whole
//! exchange in time and the response in size, and it never retries an authorization-code
//! exchange (the code is single-use, RFC 6749 §10.5), but for the one DPoP `use_dpop_nonce`
//! retry ([`GrantClient::dpop`]). Plain-`http` token endpoints are refused unless the
//! [`Endpoint`] was built with the loopback opt-in.
//!
//! The same rules apply to the other requests to the authorization server: metadata
//! ([`discover`]), pushed authorization requests, revocation, introspection, device
//! authorization, CIBA backchannel authentication (poll and ping modes), and the JWK set
//! ([`IdTokenValidator`]).
//!
//! Use one HTTP client for the token endpoint and another (wrapped in
//! [`OAuth2Layer`](crate::OAuth2Layer)) for the API: the token client must not carry the
//! token layer itself, nor a redirect-following layer.
//!
//! # CIBA ping mode
//!
//! A client registered with `backchannel_token_delivery_mode` `ping` (OpenID Connect CIBA
//! Core §5, §10.2) sends a fresh [`ClientNotificationToken`] with each backchannel request.
//! When the user has decided, the provider `POST`s the request's `auth_req_id` to the
//! client's `backchannel_client_notification_endpoint`, with that token as a bearer token.
//! The endpoint (an HTTP server of the application's) checks the callback with
//! [`verify_ping_notification`], finds the pending request it names
//! ([`BackchannelAuthentication::is_for`], constant time; a ping for a request it does not
//! know gets a 401 and no token request), answers at once, and makes one token request with
//! [`GrantClient::poll_backchannel_token_once`]: the tokens when the user approved,
//! `access_denied` when they refused. No blind polling. (The push mode is not offered: FAPI-CIBA
//! forbids it and providers such as oidc-provider do not implement it.)
//!
//! An axum notification endpoint:
//!
//! ```no_run
//! use std::sync::{Arc, Mutex};
//!
//! use axum::{Router, body::Bytes, extract::State, http::{HeaderMap, StatusCode}, routing::post};
//! use oauth_core::oauth2::{
//!     BackchannelAuthentication, ClientNotificationToken, verify_ping_notification,
//! };
//!
//! type Grants = tower_oauth2::GrantClient<tower::util::BoxCloneSyncService<
//!     http::Request<http_body_util::Full<Bytes>>,
//!     http::Response<http_body_util::Full<Bytes>>,
//!     tower::BoxError,
//! >>;
//!
//! /// A request sent with `client_notification_token(&token)`.
//! struct Pending {
//!     token: ClientNotificationToken,
//!     request: BackchannelAuthentication,
//! }
//!
//! #[derive(Clone)]
//! struct App {
//!     grants: Grants,
//!     pending: Arc<Mutex<Vec<Pending>>>,
//! }
//!
//! async fn ciba_notify(State(app): State<App>, headers: HeaderMap, body: Bytes) -> StatusCode {
//!     // The token authenticates the provider; the id it sends must be that request's.
//!     let found = {
//!         let mut pending = app.pending.lock().unwrap();
//!         let index = pending.iter().position(|p| {
//!             verify_ping_notification(&headers, &body, &p.token)
//!                 .is_ok_and(|id| p.request.is_for(&id))
//!         });
//!         index.map(|i| pending.swap_remove(i))
//!     };
//!     let Some(found) = found else { return StatusCode::UNAUTHORIZED };
//!     // Answer the provider at once; collect the result with one token request.
//!     tokio::spawn(async move {
//!         match app.grants.poll_backchannel_token_once(&found.request).await {
//!             Ok(token) => { /* the user approved: check the ID token, keep the tokens */ }
//!             Err(error) => { /* access_denied, expired_token, transaction_failed, ... */ }
//!         }
//!     });
//!     StatusCode::NO_CONTENT
//! }
//!
//! # fn app() -> App { unimplemented!() }
//! let router: Router = Router::new().route("/ciba/notify", post(ciba_notify)).with_state(app());
//! # let _ = router;
//! ```
//!
//! [`ClientNotificationToken`]: oauth_core::oauth2::ClientNotificationToken
//! [`verify_ping_notification`]: oauth_core::oauth2::verify_ping_notification
//! [`BackchannelAuthentication::is_for`]: oauth_core::oauth2::BackchannelAuthentication::is_for

mod ciba;
mod device;
mod discovery;
mod error;
mod fetchers;
mod id_token;
pub(crate) mod transport;

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Request, Response, Uri};
use http_body::Body;
use http_body_util::Full;
use oauth_core::clock::Clock;
use oauth_core::clock::SystemRandom;
use oauth_core::oauth2::introspection::{
    Introspection, IntrospectionRequest, parse_introspection_response,
};
use oauth_core::oauth2::par::parse_par_response;
use oauth_core::oauth2::revocation::{RevocationRequest, parse_revocation_response};
use oauth_core::oauth2::{AuthorizationRequest, AuthorizeError, PendingAuthorization};
use oauth_core::oauth2::{
    Client, ClientAuth, CodeExchange, Compliance, DpopKey, Endpoint, GrantError, InvalidDpopNonce,
    IssuedTo, Scope, Token, TokenRequest, TokenType, dpop, parse_token_response_with_fixes,
};
use oauth_core::secret::AccessToken;
use oauth_core::secret::RefreshToken;
#[cfg(feature = "legacy")]
use oauth_core::secret::ResourceOwnerPassword;
use tower::BoxError;
use tower_service::Service;

pub use ciba::BackchannelRequestExpired;
pub use device::{DeviceCodeExpired, PollWait};
pub use discovery::discover;
pub use error::{GrantClientError, GrantClientErrorKind, ServerEndpoint};
pub use fetchers::{ClientCredentialsFetcher, IssuedElsewhere, RefreshFetcher};
pub use id_token::{
    CodeFlowError, DEFAULT_JWKS_MAX_AGE, IdTokenValidationError, IdTokenValidator,
    REFETCH_COOLDOWN, SignedCallbackError,
};

use crate::clock::TokenClock;
use transport::Limits;

/// Sends token requests (RFC 6749 §4, §6; RFC 8628; RFC 8693) through an HTTP service.
///
/// Every request method fails with a [`GrantClientError`] whose [`kind`](GrantClientError::kind)
/// ([`GrantClientErrorKind`]) says why and whose [`endpoint`](GrantClientError::endpoint) says
/// where: [`Request`](GrantClientErrorKind::Request) when the request could not be built or was
/// refused before sending (a token issued elsewhere, a client assertion that cannot be signed;
/// [`GrantClientError::request_error`] has the reason), [`Transport`](GrantClientErrorKind::Transport)
/// when the HTTP service fails, [`Timeout`](GrantClientErrorKind::Timeout) past the deadline,
/// [`UnexpectedRedirect`](GrantClientErrorKind::UnexpectedRedirect) for a 3xx answer,
/// [`ResponseTooLarge`](GrantClientErrorKind::ResponseTooLarge) or
/// [`ResponseBody`](GrantClientErrorKind::ResponseBody) when the body is over the limit or fails,
/// [`Response`](GrantClientErrorKind::Response) for an OAuth error, an HTTP error status or a
/// malformed body ([`GrantClientError::oauth_error`], [`GrantClientError::response_error`]), the
/// DPoP kinds ([`NotDpopBound`](GrantClientErrorKind::NotDpopBound),
/// [`InvalidDpopNonce`](GrantClientErrorKind::InvalidDpopNonce),
/// [`DpopKeyMismatch`](GrantClientErrorKind::DpopKeyMismatch)) when DPoP is used, and
/// [`NoTimer`](GrantClientErrorKind::NoTimer) outside a tokio runtime with timers.
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
    /// Whether [`max_response_bytes`](Self::max_response_bytes) set the body limit (it then
    /// wins over the [`Compliance`]'s, in whichever order the two were set).
    max_body_set: bool,
    /// Also offered to token sources ([`TokenFetcher::clock`]).
    clock: TokenClock,
    dpop: Option<Arc<Dpop>>,
    /// [`accept_unbound_tokens`](Self::accept_unbound_tokens) was called (before or after
    /// [`dpop`](Self::dpop)).
    accept_unbound: bool,
}

/// A DPoP key and the last nonce the authorization server gave (RFC 9449 §8).
#[derive(Debug)]
struct Dpop {
    key: DpopKey,
    nonce: std::sync::Mutex<Option<String>>,
    accept_unbound: bool,
}

impl Dpop {
    fn nonce(&self) -> Option<String> {
        self.nonce
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone()
    }

    /// Keeps the server's `DPoP-Nonce`, and returns it. An invalid one is not kept.
    fn remember_nonce(
        &self,
        headers: &http::HeaderMap,
    ) -> Result<Option<String>, InvalidDpopNonce> {
        let Some(nonce) = dpop::server_nonce(headers)? else {
            return Ok(None);
        };
        *self
            .nonce
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner) = Some(nonce.to_owned());
        Ok(Some(nonce.to_owned()))
    }

    /// RFC 9449 §5: a DPoP request answered with another token type is an error, unless the
    /// client accepts unbound tokens (then it is used as it is, with a warning); a DPoP token
    /// records the thumbprint of the key it is bound to.
    fn bind(&self, token: Token) -> Result<Token, GrantClientError> {
        match token.token_type() {
            TokenType::DPoP => Ok(token.with_dpop_jkt(Some(self.key.thumbprint()))),
            other if self.accept_unbound => {
                tracing::warn!(
                    token_type = other.as_str(),
                    "DPoP was requested but the token is not bound to the key; using it as it is"
                );
                Ok(token)
            }
            _ => Err(GrantClientError::not_dpop_bound(token)),
        }
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
    ///
    /// `service` sends `Request<Full<Bytes>>`: for hyper, a
    /// `hyper_util::client::legacy::Client<_, Full<Bytes>>` with an HTTPS connector (such as
    /// `hyper_rustls::HttpsConnector`), since endpoints must be `https://`. It is cloned for
    /// each request and must be `Sync`; to name a layered stack, box it as
    /// `tower::util::BoxCloneSyncService` (not `BoxCloneService`, which is not `Sync`).
    ///
    /// `service` must not follow redirects itself: this client refuses the 3xx responses it
    /// sees, but one that `service` followed never reaches it, and the request, body included
    /// (a `client_secret_post` secret, a code and its PKCE verifier), has then been sent again
    /// to wherever the redirect pointed. hyper's client follows none; reqwest follows them by
    /// default (build it with `redirect(reqwest::redirect::Policy::none())`), and so does a
    /// stack with tower-http's `FollowRedirect`.
    pub fn new(service: S, token_endpoint: Endpoint, client: Client) -> Self {
        Self {
            service,
            endpoint: token_endpoint,
            client,
            compliance: Compliance::strict(),
            limits: Limits::default(),
            max_body_set: false,
            clock: TokenClock::default(),
            dpop: None,
            accept_unbound: false,
        }
    }

    /// Asks for DPoP-bound tokens (RFC 9449): every token request carries a `DPoP` proof made
    /// with `key`, and when the server answers `use_dpop_nonce` the request is sent once more
    /// with the nonce it gave (§8; the server refused it before looking at the grant, so this
    /// holds for a code exchange too).
    ///
    /// The tokens must come back with token type `DPoP` (RFC 9449 §5): any other type is an
    /// error ([`GrantClientErrorKind::NotDpopBound`](crate::client::GrantClientErrorKind)),
    /// unless [`accept_unbound_tokens`](Self::accept_unbound_tokens) was called. Each token
    /// records the key's thumbprint ([`Token::dpop_jkt`]), and a refresh of it with another key
    /// by [`refresh_fetcher`](Self::refresh_fetcher) is refused before anything is sent
    /// ([`refresh`](Self::refresh) is given a bare refresh token, and cannot tell). The
    /// fetchers made from this client hand the key to their
    /// [`TokenSource`](crate::TokenSource), so [`OAuth2Layer`](crate::OAuth2Layer) sends the
    /// tokens to resource servers with a proof per request.
    #[must_use]
    pub fn dpop(mut self, key: DpopKey) -> Self {
        self.dpop = Some(Arc::new(Dpop {
            key,
            nonce: std::sync::Mutex::new(None),
            accept_unbound: self.accept_unbound,
        }));
        self
    }

    /// With [`dpop`](Self::dpop): accept a token the server did not bind to the key (token
    /// type `Bearer`), with a warning event, instead of failing (RFC 9449 §5's lenient mode,
    /// for servers that ignore DPoP). Without DPoP this does nothing. (Before or after
    /// `dpop`, either order.)
    #[must_use]
    pub fn accept_unbound_tokens(mut self) -> Self {
        self.accept_unbound = true;
        if let Some(dpop) = &self.dpop {
            self.dpop = Some(Arc::new(Dpop {
                key: dpop.key.clone(),
                nonce: std::sync::Mutex::new(dpop.nonce()),
                accept_unbound: true,
            }));
        }
        self
    }

    /// The DPoP key set with [`dpop`](Self::dpop).
    pub fn dpop_key(&self) -> Option<&DpopKey> {
        self.dpop.as_ref().map(|d| &d.key)
    }

    /// Provider quirks to tolerate (default: strict RFC 6749).
    ///
    /// A token response that needed one of the fixes is logged at `DEBUG` ("token response
    /// accepted through compliance fixes", with the fixes' names, such as `assumed_bearer`, and
    /// the endpoint), so a deployment can see which fixes its provider still relies on.
    ///
    /// Its [`max_body_bytes`](Compliance::max_body_bytes) is the largest response read, unless
    /// [`max_response_bytes`](Self::max_response_bytes) is set.
    #[must_use]
    pub fn compliance(mut self, compliance: Compliance) -> Self {
        self.compliance = if self.max_body_set {
            compliance.max_body_bytes(self.limits.max_body)
        } else {
            self.limits.max_body = compliance.body_limit();
            compliance
        };
        self
    }

    /// The deadline for a whole exchange, from sending to the last body byte (default 30 s).
    /// It is kept with tokio's timers: on a runtime without them nothing is sent
    /// ([`GrantClientErrorKind::NoTimer`]). [`no_timeout`](Self::no_timeout) turns it off. The
    /// same shape as `tower_oauth1`'s `Dance::timeout`.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.limits.timeout = Some(timeout);
        self
    }

    /// No deadline for the exchanges (the default is 30 s): bound the service given to
    /// [`GrantClient::new`] yourself then. The exchanges themselves then need no tokio timers
    /// (device-code and CIBA polling still wait with them).
    #[must_use]
    pub fn no_timeout(mut self) -> Self {
        self.limits.timeout = None;
        self
    }

    /// The largest response body read, from every endpoint this client calls (default 1 MiB;
    /// a larger body is [`GrantClientErrorKind::ResponseTooLarge`]). It wins over a
    /// [`Compliance`]'s [`max_body_bytes`](Compliance::max_body_bytes), in whichever order the
    /// two are set.
    #[must_use]
    pub fn max_response_bytes(mut self, limit: usize) -> Self {
        self.limits.max_body = limit;
        self.compliance = self.compliance.max_body_bytes(limit);
        self.max_body_set = true;
        self
    }

    /// Dates tokens by `clock` (default: tokio's clock): a token's expiry is reckoned from the
    /// moment its request was sent, read from this clock.
    ///
    /// Token sources built on this client's fetchers with no clock of their own use this one
    /// too ([`TokenFetcher::clock`](crate::source::TokenFetcher::clock)).
    #[must_use]
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = TokenClock::new(clock);
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
    /// `redirect_uri` of the pending authorization. Never retried automatically, but for the
    /// one DPoP `use_dpop_nonce` retry (see [`dpop`](Self::dpop)).
    ///
    /// A code bound to a DPoP key ([`AuthorizationRequest::dpop_key`]) is exchanged only with
    /// that key: with another key, or none, nothing is sent
    /// ([`GrantClientErrorKind::DpopKeyMismatch`]) and the code stays usable.
    ///
    /// [`AuthorizationRequest::dpop_key`]: oauth_core::oauth2::AuthorizationRequest::dpop_key
    ///
    /// # Errors
    ///
    /// Fails with a [`GrantClientError`]: see [`GrantClientErrorKind`] for the kinds (a DPoP key
    /// mismatch is [`GrantClientErrorKind::DpopKeyMismatch`], nothing sent).
    pub async fn exchange_code(&self, exchange: CodeExchange) -> Result<Token, GrantClientError> {
        if let Some(jkt) = exchange.dpop_jkt()
            && self.dpop_key().map(DpopKey::thumbprint).as_deref() != Some(jkt)
        {
            return Err(GrantClientError::dpop_key_mismatch());
        }
        self.send(TokenRequest::authorization_code(
            &self.endpoint,
            &self.client,
            exchange,
        ))
        .await
    }

    /// Requests a token for the client itself (RFC 6749 §4.4).
    ///
    /// # Errors
    ///
    /// Fails with a [`GrantClientError`] as described under [`GrantClient`].
    #[doc(alias = "exchange_client_credentials")]
    pub async fn client_credentials(
        &self,
        scope: Option<&Scope>,
    ) -> Result<Token, GrantClientError> {
        let request = TokenRequest::client_credentials(&self.endpoint, &self.client);
        self.send(with_scope(request, scope)).await
    }

    /// Refreshes (RFC 6749 §6). `scope`, if given, must not exceed the original grant's; the
    /// library never widens it.
    ///
    /// # Errors
    ///
    /// Fails with a [`GrantClientError`] as described under [`GrantClient`].
    #[doc(alias = "exchange_refresh_token")]
    pub async fn refresh(
        &self,
        refresh_token: &RefreshToken,
        scope: Option<&Scope>,
    ) -> Result<Token, GrantClientError> {
        let request = TokenRequest::refresh_token(&self.endpoint, &self.client, refresh_token);
        self.send(with_scope(request, scope)).await
    }

    /// The resource owner password grant (RFC 6749 §4.3). Only with the `legacy` feature.
    ///
    /// # Errors
    ///
    /// Fails with a [`GrantClientError`]: see [`GrantClientErrorKind`] for the kinds.
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

    /// Pushes an authorization request (RFC 9126) to `par_endpoint` (the server's
    /// `pushed_authorization_request_endpoint`) with this client's authentication, and returns
    /// the URL to send the user to (the authorization endpoint with `client_id` and the
    /// `request_uri`) and the pending authorization to check the callback with, as
    /// [`AuthorizationRequest::build`] does. Same transport rules as token requests; not
    /// retried.
    ///
    /// [`AuthorizationRequest::build`]: oauth_core::oauth2::AuthorizationRequest::build
    ///
    /// # Errors
    ///
    /// Fails with a [`GrantClientError`] as described under [`GrantClient`]; an authorization
    /// request that cannot be built is kind [`Request`](GrantClientErrorKind::Request).
    pub async fn push_authorization(
        &self,
        request: AuthorizationRequest,
        par_endpoint: &Endpoint,
    ) -> Result<(Uri, PendingAuthorization), GrantClientError> {
        async {
            let authorization_endpoint = request.endpoint().clone();
            let (par_request, pending) = request
                .build_pushed(par_endpoint, &self.client_elsewhere(), &SystemRandom::new())
                .map_err(GrantClientError::authorize)?;
            // (`expires_in` of the `request_uri` reckoned from the sending, as for tokens.)
            let sent_at = self.clock.now();
            let raw = transport::send(self.service.clone(), par_request, self.limits)
                .await
                .map_err(GrantClientError::transport)?;
            let pushed = parse_par_response(
                raw.status,
                &raw.headers,
                &raw.body,
                sent_at,
                &self.compliance,
            )
            .map_err(|e| GrantClientError::response(e, &raw.headers))?;
            let url = pushed
                .url(&authorization_endpoint, self.client.id())
                .map_err(|e| GrantClientError::authorize(AuthorizeError::Endpoint(e)))?;
            Ok((url, pending))
        }
        .await
        .map_err(|e: GrantClientError| e.at(ServerEndpoint::PushedAuthorization))
    }

    /// Revokes `token` at `revocation_endpoint` (RFC 7009), as when a user signs out: its
    /// refresh token when it has one (a server that can revoke access tokens should then end
    /// the grant's access tokens too, §2.1), else its access token. Sent with this client's
    /// authentication and the same rules as token requests (no redirects, a deadline, a size
    /// cap); never retried. A server that does not know the token answers with success too.
    ///
    /// At sign-out, revoke the session's current token ([`TokenSource::current`](crate::TokenSource::current)),
    /// not the one the login returned: a refresh may have rotated its refresh token since, and
    /// a server that does not end the grant for a rotated-out refresh token still answers
    /// with success.
    ///
    /// To revoke only the access token, use
    /// [`revoke_access_token`](Self::revoke_access_token).
    ///
    /// A token recorded as issued by another token endpoint or to another client
    /// ([`Token::issued_elsewhere`]) is refused, with nothing sent (RFC 6749 §10.4: its
    /// refresh token goes back only to its own server): revoke it with that server's client.
    ///
    /// # Errors
    ///
    /// Fails with a [`GrantClientError`] at [`ServerEndpoint::Revocation`]: see
    /// [`GrantClientErrorKind`] for the kinds.
    #[doc(alias = "revoke_token")]
    pub async fn revoke(
        &self,
        revocation_endpoint: &Endpoint,
        token: &Token,
    ) -> Result<(), GrantClientError> {
        if token.issued_elsewhere(&self.issued_to()) {
            return Err(
                GrantClientError::refused(Box::new(IssuedElsewhere)).at(ServerEndpoint::Revocation)
            );
        }
        let request = match token.refresh_token() {
            Some(refresh_token) => RevocationRequest::refresh_token(
                revocation_endpoint,
                &self.client_elsewhere(),
                refresh_token,
            ),
            None => RevocationRequest::access_token(
                revocation_endpoint,
                &self.client_elsewhere(),
                token.access_token(),
            ),
        };
        self.send_revocation(request).await
    }

    /// Revokes an access token only (`token_type_hint=access_token`, RFC 7009 §2.1).
    ///
    /// # Errors
    ///
    /// Fails with a [`GrantClientError`] as described under [`GrantClient`].
    pub async fn revoke_access_token(
        &self,
        revocation_endpoint: &Endpoint,
        access_token: &AccessToken,
    ) -> Result<(), GrantClientError> {
        self.send_revocation(RevocationRequest::access_token(
            revocation_endpoint,
            &self.client_elsewhere(),
            access_token,
        ))
        .await
    }

    /// Revokes a refresh token kept on its own (`token_type_hint=refresh_token`, RFC 7009
    /// §2.1): one stored apart from its access token, say in a database column. A server that
    /// can revoke access tokens should end the grant's access tokens too. [`revoke`](Self::revoke)
    /// does this for a whole [`Token`], and also checks where it was issued.
    ///
    /// # Errors
    ///
    /// Fails with a [`GrantClientError`] as described under [`GrantClient`].
    pub async fn revoke_refresh_token(
        &self,
        revocation_endpoint: &Endpoint,
        refresh_token: &RefreshToken,
    ) -> Result<(), GrantClientError> {
        self.send_revocation(RevocationRequest::refresh_token(
            revocation_endpoint,
            &self.client_elsewhere(),
            refresh_token,
        ))
        .await
    }

    /// Asks `introspection_endpoint` about an access token (RFC 7662), authenticated as this
    /// client: whether it is active, and its scope, client, subject and expiry. Same transport
    /// rules as token requests. (A resource server uses a `GrantClient` with its own client
    /// credentials for this.)
    ///
    /// # Errors
    ///
    /// Fails with a [`GrantClientError`] as described under [`GrantClient`].
    pub async fn introspect(
        &self,
        introspection_endpoint: &Endpoint,
        access_token: &AccessToken,
    ) -> Result<Introspection, GrantClientError> {
        self.send_introspection(IntrospectionRequest::access_token(
            introspection_endpoint,
            &self.client_elsewhere(),
            access_token,
        ))
        .await
    }

    /// Asks `introspection_endpoint` about a refresh token (RFC 7662,
    /// `token_type_hint=refresh_token`): whether the grant is still alive, for one. Same rules
    /// as [`introspect`](Self::introspect).
    ///
    /// # Errors
    ///
    /// Fails with a [`GrantClientError`] as described under [`GrantClient`].
    pub async fn introspect_refresh_token(
        &self,
        introspection_endpoint: &Endpoint,
        refresh_token: &RefreshToken,
    ) -> Result<Introspection, GrantClientError> {
        self.send_introspection(IntrospectionRequest::refresh_token(
            introspection_endpoint,
            &self.client_elsewhere(),
            refresh_token,
        ))
        .await
    }

    async fn send_introspection(
        &self,
        request: IntrospectionRequest,
    ) -> Result<Introspection, GrantClientError> {
        async {
            let request = request.build().map_err(GrantClientError::request)?;
            let raw = transport::send(self.service.clone(), request, self.limits)
                .await
                .map_err(GrantClientError::transport)?;
            parse_introspection_response(raw.status, &raw.headers, &raw.body, &self.compliance)
                .map_err(|e| GrantClientError::response(e, &raw.headers))
        }
        .await
        .map_err(|e: GrantClientError| e.at(ServerEndpoint::Introspection))
    }

    /// The client as it authenticates at the server's other endpoints: a `private_key_jwt` or
    /// `client_secret_jwt` assertion keeps the token endpoint as its audience (RFC 7523 §3),
    /// unless one was set.
    fn client_elsewhere(&self) -> Client {
        match self.client.auth() {
            ClientAuth::PrivateKeyJwt(key) => Client::private_key_jwt(
                self.client.id(),
                key.clone()
                    .audience_if_unset(self.endpoint.uri().to_string()),
            ),
            ClientAuth::ClientSecretJwt(jwt) => Client::client_secret_jwt(
                self.client.id(),
                jwt.clone()
                    .audience_if_unset(self.endpoint.uri().to_string()),
            ),
            _ => self.client.clone(),
        }
    }

    async fn send_revocation(&self, request: RevocationRequest) -> Result<(), GrantClientError> {
        async {
            let request = request.build().map_err(GrantClientError::request)?;
            let raw = transport::send(self.service.clone(), request, self.limits)
                .await
                .map_err(GrantClientError::transport)?;
            parse_revocation_response(raw.status, &raw.headers, &raw.body, &self.compliance)
                .map_err(|e| GrantClientError::response(e, &raw.headers))
        }
        .await
        .map_err(|e: GrantClientError| e.at(ServerEndpoint::Revocation))
    }

    /// Sends any token request built with [`TokenRequest`] (device code, token exchange, JWT
    /// bearer, extension grants), built for this client's token endpoint and client.
    ///
    /// A request built for another token endpoint or client is refused, with nothing sent
    /// ([`ForeignTokenRequest`]): the tokens this client receives are recorded as issued by
    /// its own endpoint ([`Token::issued_to`]), and a refresh token recorded under the wrong
    /// server would be sent to it. Use a `GrantClient` for that server (a separate security
    /// token service, say).
    ///
    /// # Errors
    ///
    /// Fails with a [`GrantClientError`]: [`GrantClientErrorKind::Request`] for a foreign request
    /// (nothing sent), else see [`GrantClientErrorKind`].
    pub async fn send(&self, request: TokenRequest) -> Result<Token, GrantClientError> {
        let addressed = IssuedTo::new(request.endpoint().to_string(), request.client_id());
        if !addressed.is_same_as(&self.issued_to()) {
            return Err(GrantClientError::refused(Box::new(ForeignTokenRequest)));
        }
        let build = |request: TokenRequest| {
            let mut request = request.build().map_err(GrantClientError::request)?;
            self.compliance.adjust_token_request(&mut request);
            Ok::<_, GrantClientError>(request)
        };
        let Some(dpop_state) = &self.dpop else {
            let request = build(request)?;
            let sent_at = self.clock.now();
            let raw = transport::send(self.service.clone(), request, self.limits)
                .await
                .map_err(GrantClientError::transport)?;
            return self.parse(&raw, sent_at);
        };
        let mut nonce_retried = false;
        loop {
            // Built for each try: a `private_key_jwt` assertion is single-use (OpenID Connect
            // Core §9, RFC 7523 §3: a server may refuse a `jti` it has seen), so the try after a
            // nonce challenge carries a new one, not a copy of the first.
            let mut request = build(request.clone())?;
            let sent_nonce = dpop_state.nonce();
            let proof = dpop_state
                .key
                .proof(request.method(), request.uri(), None, sent_nonce.as_deref())
                .map_err(|e| GrantClientError::request(GrantError::ClientAssertion(e)))?;
            request.headers_mut().insert(dpop::DPOP_HEADER, proof);
            let sent_at = self.clock.now();
            let raw = transport::send(self.service.clone(), request, self.limits)
                .await
                .map_err(GrantClientError::transport)?;
            // New to this request: another request may have stored the same nonce meanwhile.
            let new_nonce = dpop_state
                .remember_nonce(&raw.headers)
                .map(|nonce| nonce.is_some_and(|n| Some(&n) != sent_nonce.as_ref()));
            let result = self.parse(&raw, sent_at);
            let asks_for_nonce = result
                .as_ref()
                .is_err_and(|e| e.response_error().is_some_and(dpop::is_use_dpop_nonce));
            match new_nonce {
                Err(invalid) if asks_for_nonce => return Err(GrantClientError::nonce(invalid)),
                Err(invalid) => {
                    tracing::warn!(error = %invalid, "ignoring the token endpoint's DPoP-Nonce")
                }
                Ok(true) if asks_for_nonce && !nonce_retried => {
                    nonce_retried = true;
                    continue;
                }
                Ok(_) => {}
            }
            return result.and_then(|token| dpop_state.bind(token));
        }
    }

    /// Reads the token response to a request sent at `sent_at`. The expiry is reckoned from
    /// the moment the request went out, not from the response's arrival: the server started
    /// counting `expires_in` in between, so the token never seems to live longer than the
    /// server lets it, however long the exchange took.
    fn parse(
        &self,
        raw: &transport::RawResponse,
        sent_at: SystemTime,
    ) -> Result<Token, GrantClientError> {
        let (token, fixes) = parse_token_response_with_fixes(
            raw.status,
            &raw.headers,
            &raw.body,
            sent_at,
            &self.compliance,
        )
        .map_err(|e| GrantClientError::response(e, &raw.headers))?;
        if !fixes.is_empty() {
            // SECURITY.md §4.2 #13: say when compat mode made up a field (names only).
            tracing::debug!(
                %fixes,
                endpoint = %self.endpoint,
                "token response accepted through compliance fixes"
            );
        }
        Ok(token.with_issued_to(Some(self.issued_to())))
    }

    /// This client at its token endpoint, as recorded on the tokens it receives.
    pub fn issued_to(&self) -> IssuedTo {
        IssuedTo::new(self.endpoint.to_string(), self.client.id())
    }

    /// A [`TokenFetcher`](crate::source::TokenFetcher) that refreshes with the current token's refresh token (for a
    /// [`TokenSource`](crate::TokenSource) holding a user's token).
    pub fn refresh_fetcher(&self) -> RefreshFetcher<S> {
        RefreshFetcher {
            grants: self.clone(),
            scope: None,
            resources: Vec::new(),
            params: Vec::new(),
        }
    }

    /// A [`TokenFetcher`](crate::source::TokenFetcher) that requests a new client-credentials
    /// token whenever one is needed; [`resource`](ClientCredentialsFetcher::resource) and
    /// [`param`](ClientCredentialsFetcher::param) add to each request.
    pub fn client_credentials_fetcher(&self, scope: Option<Scope>) -> ClientCredentialsFetcher<S> {
        ClientCredentialsFetcher {
            grants: self.clone(),
            scope,
            resources: Vec::new(),
            params: Vec::new(),
        }
    }
}

fn with_scope(request: TokenRequest, scope: Option<&Scope>) -> TokenRequest {
    match scope {
        Some(scope) => request.scope(scope),
        None => request,
    }
}

/// `request` with a `resource` parameter (RFC 8707 §2) for each of `resources`, in order.
fn for_resources(request: TokenRequest, resources: &[String]) -> TokenRequest {
    resources
        .iter()
        .fold(request, |request, r| request.resource(r))
}

/// A [`TokenRequest`] given to [`GrantClient::send`] was built for another token endpoint or
/// client than the `GrantClient`'s: it was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "the token request was built for another token endpoint or client than this GrantClient's; it was not sent (use a GrantClient for that server)"
)]
#[non_exhaustive]
pub struct ForeignTokenRequest;
