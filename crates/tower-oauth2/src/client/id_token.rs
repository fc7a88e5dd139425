//! [`IdTokenValidator`]: OpenID Connect ID token validation with the provider's JWK set,
//! fetched over any tower HTTP service and cached; the same set verifies signed authorization
//! responses (JARM, [`IdTokenValidator::parse_signed_callback`]).

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::ACCEPT;
use http::{Request, Response, StatusCode};
use http_body::Body;
use http_body_util::Full;
use oauth_core::clock::Clock;
use oauth_core::oauth2::oidc::{IdTokenClaims, IdTokenError, IdTokenVerifier, InvalidJwks, Jwks};
use oauth_core::oauth2::{
    AuthorizationServerMetadata, CallbackError, CodeExchange, Endpoint, PendingAuthorization, Token,
};
use oauth_core::secret::IdToken;
use tower::BoxError;
use tower_service::Service;

use super::transport::{self, Limits, TransportFailure};

/// Validates ID tokens (OpenID Connect Core §3.1.3.7) with the provider's JWK set: fetched
/// from its `jwks_uri` on first use with the token endpoint client's rules (no redirects, a
/// deadline, a size cap), kept for [`DEFAULT_JWKS_MAX_AGE`] (so a key the provider withdraws
/// stops verifying), and fetched once more when a token names a key the set does not have (the
/// provider rotated its keys). Never fetched more often than every [`REFETCH_COOLDOWN`],
/// failed fetches included, so tokens with made-up key ids or a failing `jwks_uri` cannot make
/// it hammer the provider; concurrent callers share one fetch. The checks themselves are
/// oauth-core's [`IdTokenVerifier`].
///
/// The same cached set verifies signed authorization responses (JARM), which the provider signs
/// with the keys of the same `jwks_uri`: [`parse_signed_callback`](Self::parse_signed_callback).
///
/// Only the tokens given to it are checked: an ID token that a refresh returns (kept on the
/// refreshed [`Token`](oauth_core::oauth2::Token) by [`GrantClient::refresh_fetcher`]) is not
/// validated on the way. To rely on one, validate it (and compare its `iss` and `sub` with the
/// login's, OpenID Connect Core §12.2) before use.
///
/// Nor is a UserInfo response (OpenID Connect Core §5.3), where providers often put the
/// claims a scope asked for (`name`, `email`) instead of in the ID token: it is a plain OAuth 2
/// API call (through [`OAuth2Layer`](crate::OAuth2Layer), say), and its `sub` must equal the
/// validated ID token's ([`IdTokenClaims::sub`]) before any of its claims are used (§5.3.2):
/// read it with [`parse_userinfo`](oauth_core::oauth2::parse_userinfo), which checks that.
///
/// [`GrantClient::refresh_fetcher`]: crate::GrantClient::refresh_fetcher
///
/// ```no_run
/// # type Https = hyper_util::client::legacy::Client<
/// #     hyper_util::client::legacy::connect::HttpConnector, http_body_util::Full<bytes::Bytes>>;
/// # async fn run(metadata: oauth_core::oauth2::AuthorizationServerMetadata,
/// #              exchange: oauth_core::oauth2::CodeExchange,
/// #              https: Https,
/// #              grants: tower_oauth2::GrantClient<Https>)
/// # -> Result<(), Box<dyn std::error::Error>> {
/// use tower_oauth2::client::IdTokenValidator;
///
/// // `https`: a hyper-util client with an HTTPS connector (hyper-rustls, say), as `grants`
/// // uses: the JWK set is fetched from the provider's https `jwks_uri`.
/// let validator = IdTokenValidator::from_metadata(https, &metadata, "s6BhdRkqt3")
///     .ok_or("the provider publishes no jwks_uri")?;
/// // The code exchange and the ID token's checks (the nonce the request sent, the access
/// // token against `at_hash`, `auth_time` against the `max_age` it sent) in one call.
/// let (token, claims) = validator.exchange_code(&grants, exchange).await?;
/// println!("signed in: {}", claims.sub());
/// # let _ = token;
/// # Ok(()) }
/// ```
///
/// An ID token checked on its own, with the key set fetched through any tower service (here a
/// stand-in for the provider's `jwks_uri`):
///
/// ```
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use bytes::Bytes;
/// use http::{Request, Response};
/// use http_body_util::Full;
/// use oauth_core::oauth2::oidc::IdTokenVerifier;
/// use oauth_core::oauth2::{Endpoint, Issuer};
/// use tower_oauth2::client::IdTokenValidator;
/// # use oauth_core::oauth2::{DpopKey, EcP256PrivateKey, PrivateKeyJwt};
/// # use oauth_core::secret::IdToken;
/// # let pem = EcP256PrivateKey::generate_pkcs8_pem()?;
/// # let jwk = DpopKey::es256(EcP256PrivateKey::from_pem(&pem)?).jwk();
/// # // A stand-in ID token: an ES256 JWT whose `iss` (and `sub`) is the provider and whose
/// # // `aud` is the client, dated now, which is all the checks without a nonce look at.
/// # let id_token = IdToken::new(
/// #     PrivateKeyJwt::es256(EcP256PrivateKey::from_pem(&pem)?)
/// #         .audience("s6BhdRkqt3")
/// #         .assertion("https://server.example.com", "unused")?
/// #         .as_str(),
/// # );
/// # let http_client = tower::service_fn(move |req: Request<Full<Bytes>>| {
/// #     assert_eq!(req.uri(), "https://server.example.com/jwks");
/// #     let body = serde_json::json!({ "keys": [jwk.clone()] }).to_string();
/// #     async move { Ok::<_, std::convert::Infallible>(Response::new(Full::<Bytes>::from(body))) }
/// # });
///
/// let validator = IdTokenValidator::new(
///     http_client,
///     Endpoint::new("https://server.example.com/jwks")?,
///     IdTokenVerifier::new(Issuer::new("https://server.example.com")?, "s6BhdRkqt3"),
/// );
/// // The nonce is the authorization request's (`CodeExchange::nonce`); this token has none.
/// let claims = validator.validate(&id_token, None).await?;
/// assert_eq!(claims.aud(), ["s6BhdRkqt3"]);
/// # Ok(()) }
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Clone)]
pub struct IdTokenValidator<S> {
    service: S,
    jwks_uri: Endpoint,
    verifier: IdTokenVerifier,
    clock: Arc<dyn Clock>,
    cache_max_age: Duration,
    cache: Arc<Mutex<JwksCache>>,
    /// Held while the set is fetched: callers that need a new set wait for the fetch in flight
    /// instead of starting their own (or failing with `UnknownKey` meanwhile).
    fetching: Arc<tokio::sync::Mutex<()>>,
}

/// The JWK set last fetched and when, and when a fetch was last tried (failed ones too).
#[derive(Default)]
struct JwksCache {
    jwks: Option<(Arc<Jwks>, SystemTime)>,
    last_attempt: Option<SystemTime>,
}

/// The shortest time between two fetches of the JWK set (for an unknown key, after a failed
/// fetch, or when the cached set is too old): 30 seconds.
pub const REFETCH_COOLDOWN: Duration = Duration::from_secs(30);

/// How long a fetched JWK set is used before it is fetched again (so that a key the provider
/// withdrew stops verifying tokens), unless set with
/// [`IdTokenValidator::cache_max_age`]: 10 minutes.
pub const DEFAULT_JWKS_MAX_AGE: Duration = Duration::from_secs(600);

impl<S> std::fmt::Debug for IdTokenValidator<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("IdTokenValidator")
            .field("jwks_uri", &self.jwks_uri)
            .field("verifier", &self.verifier)
            .finish_non_exhaustive()
    }
}

/// Why an ID token was not accepted.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum IdTokenValidationError {
    /// The token failed a check (signature, issuer, audience, expiry, nonce...).
    #[error(transparent)]
    Invalid(#[from] IdTokenError),
    /// The JWK set could not be fetched.
    #[error("the provider's JWK set could not be fetched")]
    Fetch(#[source] BoxError),
    /// The JWK set answered with another status than 200.
    #[error("the provider's JWK set answered {0}")]
    Status(StatusCode),
    /// The JWK set is not one.
    #[error(transparent)]
    Jwks(#[from] InvalidJwks),
    /// There is no usable JWK set: the last fetch failed (or the cached set is too old and
    /// could not be fetched again) less than [`REFETCH_COOLDOWN`] ago.
    #[error("the provider's JWK set is unavailable; it is not fetched again before the cooldown")]
    Unavailable,
    /// The token response has no ID token (was the `openid` scope asked for?).
    #[error("the token response has no ID token")]
    Missing,
}

/// Why [`IdTokenValidator::parse_signed_callback`] refused a callback.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SignedCallbackError {
    /// The callback failed a check: the signed response's own
    /// ([`CallbackError::SignedResponse`]: signature, `iss`, `aud`, `exp`), or the usual ones
    /// on its claims (`state`, an error response as [`CallbackError::AuthorizationDenied`]...),
    /// or it was no signed response at all ([`CallbackError::SignedResponseRequired`]).
    #[error(transparent)]
    Callback(#[from] CallbackError),
    /// The provider's JWK set, needed to verify the response, could not be had (a failed
    /// fetch, or none at hand within the cooldown): one of
    /// [`IdTokenValidationError`]'s fetch errors.
    #[error("the provider's JWK set is needed to verify the signed response: {0}")]
    Keys(#[source] IdTokenValidationError),
}

/// Why [`IdTokenValidator::exchange_code`] failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum CodeFlowError {
    /// The code exchange failed.
    #[error(transparent)]
    Grant(super::GrantClientError),
    /// The token response's ID token is missing or does not validate: the response is refused.
    #[error(transparent)]
    IdToken(IdTokenValidationError),
}

impl<S, ResBody> IdTokenValidator<S>
where
    S: Service<Request<Full<Bytes>>, Response = Response<ResBody>> + Clone,
    S::Error: Into<BoxError>,
    ResBody: Body,
    ResBody::Error: Into<BoxError>,
{
    /// A validator for tokens checked by `verifier`, with keys from `jwks_uri`.
    pub fn new(service: S, jwks_uri: Endpoint, verifier: IdTokenVerifier) -> Self {
        Self {
            service,
            jwks_uri,
            verifier,
            clock: Arc::new(oauth_core::clock::SystemClock),
            cache_max_age: DEFAULT_JWKS_MAX_AGE,
            cache: Arc::default(),
            fetching: Arc::default(),
        }
    }

    /// How long a fetched JWK set is used before it is fetched again (default
    /// [`DEFAULT_JWKS_MAX_AGE`]; at least [`REFETCH_COOLDOWN`], which it is raised to when
    /// shorter). A set that is too old and cannot be fetched again is not used: tokens are
    /// refused ([`IdTokenValidationError::Unavailable`]) until a fetch works.
    #[must_use]
    pub fn cache_max_age(mut self, max_age: Duration) -> Self {
        self.cache_max_age = max_age.max(REFETCH_COOLDOWN);
        self
    }

    /// A validator for the provider `metadata` describes (its issuer and `jwks_uri`), for
    /// tokens issued to `client_id`; `None` when it publishes no `jwks_uri`.
    pub fn from_metadata(
        service: S,
        metadata: &AuthorizationServerMetadata,
        client_id: &str,
    ) -> Option<Self> {
        let jwks_uri = metadata.jwks_uri()?.clone();
        let verifier = IdTokenVerifier::new(metadata.issuer().clone(), client_id);
        Some(Self::new(service, jwks_uri, verifier))
    }

    /// Reads the time from `clock` (default: the system clock, [`SystemClock`]).
    ///
    /// An ID token's `exp` and `iat` are instants on the provider's wall clock, so
    /// they are compared with the system's wall clock as it is now; a clock read once at
    /// start-up and advanced by a monotonic one (a [`TokioClock`]) would keep whatever error the
    /// system clock had then, after the system corrected it. The key set's cache age is
    /// measured with the same clock and survives it stepping: a set fetched "in the future"
    /// counts as old. (Tests with tokio's paused time pass a [`TokioClock`].)
    ///
    /// [`SystemClock`]: oauth_core::clock::SystemClock
    /// [`TokioClock`]: crate::clock::TokioClock
    #[must_use]
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Validates `id_token`; `expected_nonce` is the authorization request's
    /// ([`CodeExchange::nonce`](oauth_core::oauth2::CodeExchange::nonce)).
    ///
    /// # Errors
    ///
    /// Fails with [`IdTokenValidationError::Invalid`] when the token fails a check (signature,
    /// issuer, audience, expiry, nonce, or a key the JWK set still lacks after a refetch), and,
    /// when the JWK set has to be fetched, [`IdTokenValidationError::Fetch`],
    /// [`IdTokenValidationError::Status`] or [`IdTokenValidationError::Jwks`] for a failed fetch,
    /// or [`IdTokenValidationError::Unavailable`] when no usable set is at hand and the last
    /// fetch attempt was less than [`REFETCH_COOLDOWN`] ago.
    pub async fn validate(
        &self,
        id_token: &IdToken,
        expected_nonce: Option<&str>,
    ) -> Result<IdTokenClaims, IdTokenValidationError> {
        let now = self.clock.now();
        let jwks = match self.fresh_set(now) {
            Some(jwks) => jwks,
            None => self.newer_set(None).await?,
        };
        match self.verifier.verify(id_token, &jwks, expected_nonce, now) {
            // A key the set does not have: the provider may have rotated its keys.
            Err(IdTokenError::UnknownKey) => {
                let newer = self.newer_set(Some(&jwks)).await?;
                Ok(self
                    .verifier
                    .verify(id_token, &newer, expected_nonce, now)?)
            }
            result => Ok(result?),
        }
    }

    /// Validates the ID token of a token response (as [`validate`](Self::validate) does) and
    /// checks the response's access token against the ID token's `at_hash`, when it has one
    /// (OpenID Connect Core §3.1.3.8).
    ///
    /// # Errors
    ///
    /// Fails with [`IdTokenValidationError::Missing`] for a response without an ID token, and as
    /// [`validate`](Self::validate) does; a wrong `at_hash` is [`IdTokenValidationError::Invalid`].
    pub async fn validate_token(
        &self,
        token: &Token,
        expected_nonce: Option<&str>,
    ) -> Result<IdTokenClaims, IdTokenValidationError> {
        let id_token = token.id_token().ok_or(IdTokenValidationError::Missing)?;
        let claims = self.validate(id_token, expected_nonce).await?;
        claims.check_access_token(token.access_token())?;
        Ok(claims)
    }

    /// The OpenID Connect code flow's last step in one call: exchanges the code with `grants`,
    /// then validates the response's ID token against the nonce the authorization request
    /// sent (read from `exchange` before the exchange spends it, so it cannot be forgotten)
    /// and its access token (`at_hash`), as [`validate_token`](Self::validate_token) does.
    /// When the request was sent with a `max_age`
    /// ([`AuthorizationRequest::max_age`](oauth_core::oauth2::AuthorizationRequest::max_age),
    /// kept as [`CodeExchange::max_age`](oauth_core::oauth2::CodeExchange::max_age)), the ID
    /// token's `auth_time` must be there and no older than it, with the verifier's clock skew
    /// ([`IdTokenVerifier::check_max_age`], OpenID Connect Core §3.1.3.7 #13 and §2);
    /// otherwise the response is refused with [`IdTokenError::AuthenticationTooOld`]: ask the
    /// user to sign in again.
    ///
    /// A response whose ID token does not validate is refused, tokens and all
    /// ([`CodeFlowError::IdToken`]); OpenID Connect Core §3.1.3.7.
    ///
    /// # Errors
    ///
    /// Fails with [`CodeFlowError::Grant`] when the exchange fails
    /// ([`GrantClient::exchange_code`](super::GrantClient::exchange_code)), and
    /// [`CodeFlowError::IdToken`] when the ID token is missing or does not validate.
    pub async fn exchange_code<G, GBody>(
        &self,
        grants: &super::GrantClient<G>,
        exchange: oauth_core::oauth2::CodeExchange,
    ) -> Result<(Token, IdTokenClaims), CodeFlowError>
    where
        G: Service<Request<Full<Bytes>>, Response = Response<GBody>>
            + Clone
            + Send
            + Sync
            + 'static,
        G::Error: Into<BoxError>,
        G::Future: Send,
        GBody: Body + Send,
        GBody::Data: Send,
        GBody::Error: Into<BoxError>,
    {
        let nonce = exchange.nonce().map(str::to_owned);
        let max_age = exchange.max_age();
        let token = grants
            .exchange_code(exchange)
            .await
            .map_err(CodeFlowError::Grant)?;
        let claims = self
            .validate_token(&token, nonce.as_deref())
            .await
            .map_err(CodeFlowError::IdToken)?;
        if let Some(max_age) = max_age {
            self.verifier
                .check_max_age(&claims, max_age, self.clock.now())
                .map_err(|e| CodeFlowError::IdToken(e.into()))?;
        }
        Ok((token, claims))
    }

    /// Verifies the callback of a flow that asked for a signed authorization response (JARM,
    /// [`AuthorizationRequest::signed_response`](oauth_core::oauth2::AuthorizationRequest::signed_response))
    /// with the provider's JWK set, the one ID tokens are verified with: cached, and fetched
    /// again when the response names a key the set lacks (the provider rotated its keys), at
    /// most once per [`REFETCH_COOLDOWN`], as for ID tokens. The checks are oauth-core's
    /// [`PendingAuthorization::parse_signed_callback`] (signature, `iss`, `aud` the client,
    /// `exp`, then `state`, `error` and `code`), at the validator's [clock](Self::clock)'s
    /// time. The pending authorization is consumed whatever the outcome.
    ///
    /// The response is checked against the flow's own issuer and client; the validator's are
    /// used only to find the keys, so give the flow and the validator the same provider. A web
    /// application keeping its flows in
    /// [`PendingAuthorizations`](oauth_core::oauth2::PendingAuthorizations) takes the flow out
    /// with its `take` (which finds it by the `state` inside the response), then calls this.
    ///
    /// ```no_run
    /// # type Https = hyper_util::client::legacy::Client<
    /// #     hyper_util::client::legacy::connect::HttpConnector, http_body_util::Full<bytes::Bytes>>;
    /// # async fn run(metadata: oauth_core::oauth2::AuthorizationServerMetadata,
    /// #              https: Https,
    /// #              grants: tower_oauth2::GrantClient<Https>)
    /// # -> Result<(), Box<dyn std::error::Error>> {
    /// use oauth_core::clock::SystemRandom;
    /// use oauth_core::oauth2::{AuthorizationRequest, RedirectUri};
    /// use tower_oauth2::client::IdTokenValidator;
    ///
    /// let redirect = RedirectUri::new("https://client.example.com/cb")?;
    /// let (url, pending) = AuthorizationRequest::from_metadata(&metadata, "s6BhdRkqt3", &redirect)?
    ///     .oidc_nonce()
    ///     .signed_response()
    ///     .build(&SystemRandom::new())?;
    /// // ... the user signs in at `url`, and comes back to
    /// // `https://client.example.com/cb?response=eyJ...`:
    /// # let callback_url = String::new();
    /// let validator = IdTokenValidator::from_metadata(https, &metadata, "s6BhdRkqt3")
    ///     .ok_or("the provider publishes no jwks_uri")?;
    /// let exchange = validator.parse_signed_callback(pending, &callback_url).await?;
    /// let (token, claims) = validator.exchange_code(&grants, exchange).await?;
    /// # let _ = (url, token, claims);
    /// # Ok(()) }
    /// ```
    ///
    /// # Errors
    ///
    /// Fails with [`SignedCallbackError::Callback`] for a callback that fails a check (with
    /// [`CallbackError::SignedResponseNotRequested`], before any fetch, for a flow that did
    /// not ask for a signed response), and [`SignedCallbackError::Keys`] when the JWK set is
    /// needed and cannot be fetched.
    pub async fn parse_signed_callback(
        &self,
        pending: PendingAuthorization,
        callback_url: &str,
    ) -> Result<CodeExchange, SignedCallbackError> {
        if !pending.expects_signed_response() {
            return Err(CallbackError::SignedResponseNotRequested.into());
        }
        let now = self.clock.now();
        let mut jwks = match self.fresh_set(now) {
            Some(jwks) => jwks,
            None => self
                .newer_set(None)
                .await
                .map_err(SignedCallbackError::Keys)?,
        };
        // A key the set does not have: the provider may have rotated its keys. Asked before
        // the flow is consumed.
        if pending.signed_response_key_unknown(callback_url, &jwks) {
            jwks = self
                .newer_set(Some(&jwks))
                .await
                .map_err(SignedCallbackError::Keys)?;
        }
        Ok(pending.parse_signed_callback(callback_url, &jwks, now)?)
    }

    /// The claim checks, for what they offer besides [`validate`](Self::validate):
    /// [`IdTokenVerifier::check_max_age`] after an authorization request with `max_age`, for a
    /// code exchanged without [`exchange_code`](Self::exchange_code) (which checks it itself):
    /// give it [`CodeExchange::max_age`](oauth_core::oauth2::CodeExchange::max_age) and the
    /// system clock's time, `SystemTime::now()`, as `validate` uses by default.
    pub fn verifier(&self) -> &IdTokenVerifier {
        &self.verifier
    }

    /// The cached set, if it is younger than the cache's maximum age.
    fn fresh_set(&self, now: SystemTime) -> Option<Arc<Jwks>> {
        let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
        let (jwks, fetched_at) = cache.jwks.as_ref()?;
        (age(now, *fetched_at) < self.cache_max_age).then(|| jwks.clone())
    }

    /// A set to verify with, other than `seen` (the set a token's key was not found in), or
    /// any fresh one when `seen` is `None`. Fetched at most once per [`REFETCH_COOLDOWN`],
    /// failed attempts included; concurrent callers wait for the fetch in flight and share it.
    /// Within the cooldown, `seen` comes back (the token's key is still unknown then).
    async fn newer_set(
        &self,
        seen: Option<&Arc<Jwks>>,
    ) -> Result<Arc<Jwks>, IdTokenValidationError> {
        let _fetching = self.fetching.lock().await;
        // Read after the wait: a caller that held the lock recorded its fetch at a later time
        // than this caller's first reading.
        let now = self.clock.now();
        {
            let cache = self.cache.lock().unwrap_or_else(PoisonError::into_inner);
            if let Some((jwks, fetched_at)) = &cache.jwks {
                // Fetched by another caller while this one waited (or before it looked).
                let fresh = age(now, *fetched_at) < self.cache_max_age;
                if fresh && seen.is_none_or(|seen| !Arc::ptr_eq(seen, jwks)) {
                    return Ok(jwks.clone());
                }
            }
            let cooling = cache
                .last_attempt
                .is_some_and(|last| age(now, last) < REFETCH_COOLDOWN);
            if cooling {
                return seen.cloned().ok_or(IdTokenValidationError::Unavailable);
            }
        }
        let result = self.fetch(now).await;
        // Recorded once the fetch has ended, failed or not (a fetch dropped half way, by a
        // caller that went away, starts no cooldown: the next caller fetches).
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .last_attempt = Some(now);
        result
    }

    /// Fetches the set and caches it as fetched at `now`.
    async fn fetch(&self, now: SystemTime) -> Result<Arc<Jwks>, IdTokenValidationError> {
        let request = Request::get(self.jwks_uri.uri().clone())
            .header(ACCEPT, "application/json")
            .body(Vec::new())
            .map_err(|e| IdTokenValidationError::Fetch(e.into()))?;
        let raw = transport::send(self.service.clone(), request, Limits::default())
            .await
            .map_err(|failure| IdTokenValidationError::Fetch(fetch_failure(failure)))?;
        if raw.status != StatusCode::OK {
            return Err(IdTokenValidationError::Status(raw.status));
        }
        let jwks = Arc::new(Jwks::parse(&raw.body)?);
        self.cache
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .jwks = Some((jwks.clone(), now));
        Ok(jwks)
    }
}

/// How long ago `then` was; a `then` in the future (the clock went back) counts as long ago,
/// so a cached set is not kept, nor a fetch held back, by a clock that stepped backwards.
fn age(now: SystemTime, then: SystemTime) -> Duration {
    now.duration_since(then).unwrap_or(Duration::MAX)
}

fn fetch_failure(failure: TransportFailure) -> BoxError {
    super::GrantClientError::transport(failure)
        .at(super::ServerEndpoint::Jwks)
        .into()
}
