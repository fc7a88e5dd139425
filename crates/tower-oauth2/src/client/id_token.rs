//! [`IdTokenValidator`]: OpenID Connect ID token validation with the provider's JWK set,
//! fetched over any tower HTTP service and cached.

use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::header::ACCEPT;
use http::{Request, Response, StatusCode};
use http_body::Body;
use http_body_util::Full;
use oauth_core::clock::Clock;
use oauth_core::oauth2::oidc::{IdTokenClaims, IdTokenError, IdTokenVerifier, InvalidJwks, Jwks};
use oauth_core::oauth2::{AuthorizationServerMetadata, Endpoint, Token};
use oauth_core::secret::IdToken;
use tower::BoxError;
use tower_service::Service;

use super::transport::{self, Limits, TransportFailure};

/// Validates ID tokens (OpenID Connect Core §3.1.3.7) with the provider's JWK set: fetched
/// from its `jwks_uri` on first use with the token endpoint client's rules (no redirects, a
/// deadline, a size cap), kept, and fetched once more when a token names a key the set does
/// not have (the provider rotated its keys), but not more often than every
/// [`REFETCH_COOLDOWN`], so tokens with made-up key ids cannot make it hammer the provider.
/// The checks themselves are oauth-core's [`IdTokenVerifier`].
///
/// ```no_run
/// # async fn run(metadata: oauth_core::oauth2::AuthorizationServerMetadata,
/// #              exchange: oauth_core::oauth2::CodeExchange,
/// #              grants: tower_oauth2::GrantClient<hyper_util::client::legacy::Client<
/// #                  hyper_util::client::legacy::connect::HttpConnector, http_body_util::Full<bytes::Bytes>>>)
/// # -> Result<(), Box<dyn std::error::Error>> {
/// use tower_oauth2::client::IdTokenValidator;
///
/// let http = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
///     .build_http();
/// let validator = IdTokenValidator::from_metadata(http, &metadata, "s6BhdRkqt3")
///     .ok_or("the provider publishes no jwks_uri")?;
/// let nonce = exchange.nonce().map(str::to_owned);
/// let token = grants.exchange_code(exchange).await?;
/// // The ID token, and the access token against its `at_hash` when it has one.
/// let claims = validator.validate_token(&token, nonce.as_deref()).await?;
/// println!("signed in: {}", claims.sub());
/// # Ok(()) }
/// ```
#[derive(Clone)]
pub struct IdTokenValidator<S> {
    service: S,
    jwks_uri: Endpoint,
    verifier: IdTokenVerifier,
    clock: Arc<dyn Clock>,
    jwks: Arc<Mutex<Option<CachedJwks>>>,
}

/// The JWK set last fetched, and when.
type CachedJwks = (Arc<Jwks>, SystemTime);

/// The shortest time between two fetches of the JWK set for an unknown key: 30 seconds.
pub const REFETCH_COOLDOWN: Duration = Duration::from_secs(30);

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
    /// The token response has no ID token (was the `openid` scope asked for?).
    #[error("the token response has no ID token")]
    Missing,
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
            clock: Arc::new(crate::clock::TokioClock::new()),
            jwks: Arc::default(),
        }
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

    /// Reads the time from `clock` (default: tokio's clock).
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Validates `id_token`; `expected_nonce` is the authorization request's
    /// ([`CodeExchange::nonce`](oauth_core::oauth2::CodeExchange::nonce)).
    pub async fn validate(
        &self,
        id_token: &IdToken,
        expected_nonce: Option<&str>,
    ) -> Result<IdTokenClaims, IdTokenValidationError> {
        let cached = self
            .jwks
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone();
        let now = self.clock.now();
        let jwks = match cached {
            Some((jwks, _)) => jwks,
            None => self.fetch().await?,
        };
        match self.verifier.verify(id_token, &jwks, expected_nonce, now) {
            // A key the set does not have: the provider may have rotated its keys.
            Err(IdTokenError::UnknownKey) if self.claim_refetch(now) => {
                let jwks = self.fetch().await?;
                Ok(self.verifier.verify(id_token, &jwks, expected_nonce, now)?)
            }
            result => Ok(result?),
        }
    }

    /// Validates the ID token of a token response (as [`validate`](Self::validate) does) and
    /// checks the response's access token against the ID token's `at_hash`, when it has one
    /// (OpenID Connect Core §3.1.3.8).
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

    /// The claim checks, for what they offer besides [`validate`](Self::validate):
    /// [`IdTokenVerifier::check_max_age`] after an authorization request with `max_age`.
    pub fn verifier(&self) -> &IdTokenVerifier {
        &self.verifier
    }

    /// Whether this caller may fetch the set again now: the last fetch (or attempt) is at least
    /// [`REFETCH_COOLDOWN`] old. Claimed under the lock, so that of concurrent callers one
    /// fetches, and a failing `jwks_uri` is not asked again before the cooldown either.
    fn claim_refetch(&self, now: SystemTime) -> bool {
        let mut cache = self.jwks.lock().unwrap_or_else(PoisonError::into_inner);
        match cache.as_mut() {
            Some((_, fetched_at))
                if now
                    .duration_since(*fetched_at)
                    .is_ok_and(|age| age >= REFETCH_COOLDOWN) =>
            {
                *fetched_at = now;
                true
            }
            _ => false,
        }
    }

    async fn fetch(&self) -> Result<Arc<Jwks>, IdTokenValidationError> {
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
        *self.jwks.lock().unwrap_or_else(PoisonError::into_inner) =
            Some((jwks.clone(), self.clock.now()));
        Ok(jwks)
    }
}

fn fetch_failure(failure: TransportFailure) -> BoxError {
    super::GrantClientError::transport(failure).into()
}
