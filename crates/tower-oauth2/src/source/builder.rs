//! [`TokenSourceBuilder`]: a starting token, a fetcher, a store and a refresh policy.

use std::fmt;
use std::sync::{Arc, Mutex};

use oauth_core::clock::Clock;
use oauth_core::oauth2::{DpopKey, IssuedTo, RefreshPolicy, Token};
use tokio::sync::watch;

use super::error::{TokenError, TokenErrorKind, causes};
use super::fetcher::TokenFetcher;
use super::shared_store::StoredIdentity;
use super::{Inner, State, TokenSource};
use crate::clock::TokenClock;
use crate::store::{STORE_CALL_WAIT, TokenStore, bounded};

/// Builds a [`TokenSource`]: a starting token, a fetcher, a store, a refresh policy (each
/// optional). [`TokenSource`]'s example refreshes a user's token into a store.
///
/// # Example
///
/// A service's own token (client credentials), refreshed two minutes before it expires, and
/// asked for again at most a minute after the token endpoint failed:
///
/// ```
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use bytes::Bytes;
/// use http::{Request, Response};
/// use http_body_util::Full;
/// use oauth_core::oauth2::{Client, Endpoint, RefreshPolicy, Scope};
/// use oauth_core::secret::ClientSecret;
/// use tower_oauth2::{GrantClient, TokenSource};
///
/// # let token_http_client = tower::service_fn(|_req: Request<Full<Bytes>>| async move {
/// #     let body = r#"{"access_token":"service-token","token_type":"Bearer","expires_in":3600}"#;
/// #     Ok::<_, std::convert::Infallible>(Response::builder()
/// #         .header("content-type", "application/json")
/// #         .body(Full::new(Bytes::from(body))).unwrap())
/// # });
/// let grants = GrantClient::new(
///     token_http_client,
///     Endpoint::new("https://server.example.com/token")?,
///     Client::secret_basic("my-service", ClientSecret::new("gX1fBat3bV")),
/// );
/// let source = TokenSource::builder()
///     .fetcher(grants.client_credentials_fetcher(Some(Scope::parse("reports:read"))))
///     .policy(
///         RefreshPolicy::default()
///             .margin(Duration::from_secs(120))
///             .max_backoff(Duration::from_secs(60)),
///     )
///     .build()
///     .await?;
///
/// // `build` fetches nothing: the first token is fetched when it is first needed. Asking for
/// // it at start-up makes wrong credentials fail here rather than at the first request.
/// assert_eq!(source.fetch_count(), 0);
/// assert_eq!(source.token().await?.access_token().secret(), "service-token");
/// assert_eq!(source.fetch_count(), 1);
/// # Ok(()) }
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(demo()).unwrap();
/// ```
#[must_use]
pub struct TokenSourceBuilder {
    token: Option<Token>,
    fetcher: Option<Arc<dyn TokenFetcher>>,
    store: Option<Arc<dyn TokenStore>>,
    clock: Option<TokenClock>,
    policy: RefreshPolicy,
    dpop: Option<DpopKey>,
    issued_to: Option<IssuedTo>,
}

impl fmt::Debug for TokenSourceBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSourceBuilder")
            .field("token", &self.token)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl TokenSourceBuilder {
    /// A builder with nothing set and the default refresh policy.
    pub(super) fn new() -> Self {
        Self {
            token: None,
            fetcher: None,
            store: None,
            clock: None,
            policy: RefreshPolicy::default(),
            dpop: None,
            issued_to: None,
        }
    }

    /// Starts with this token (otherwise the store's, or the first fetch's). With a
    /// [`store`](Self::store) too, [`build`](Self::build) saves it there (unless the store
    /// holds it already, or is a [`CallbackStore`](crate::store::CallbackStore); see
    /// [`TokenStore::saves_starting_token`]), as [`TokenSource::replace_token`] does: a token
    /// just exchanged for an authorization code outlives the process (a failed save is logged,
    /// and the token used all the same). The given token is used as it is: unlike a stored
    /// one, it is not checked against the fetcher's token endpoint and client, nor against the
    /// DPoP key (a token bound to another key fails each request with a DPoP proof error, and
    /// a [`GrantClient`](crate::GrantClient) refuses to refresh it, a configuration error).
    pub fn token(mut self, token: Token) -> Self {
        self.token = Some(token);
        self
    }

    /// Fetches new tokens with `fetcher`.
    pub fn fetcher(mut self, fetcher: impl TokenFetcher) -> Self {
        self.fetcher = Some(Arc::new(fetcher));
        self
    }

    /// Saves every new token to `store` before it is used (the one given to
    /// [`token`](Self::token) too), and starts with the stored token when none is given. A
    /// token whose save fails is used all the same (see [`TokenSource::has_unsaved_token`]).
    ///
    /// A source with a store and **no fetcher follows the store**: another process (one with
    /// a fetcher, sharing the store) refreshes the token and saves it there, and this source
    /// takes it up. From the refresh margin on (and once its token has expired, or when the
    /// store was empty at start), it reads the store again while requests come, at most once
    /// per [`RefreshPolicy::min_interval`] (and a second; in the last seconds of its token,
    /// once per a quarter of the time left, at most four times a second, since its first look
    /// comes as the other process starts refreshing), and takes up a token it has not
    /// seen there before that has not expired (a request that needs it waits for the read at
    /// most 5 s). Until then it uses its token while that is valid; past expiry a request fails
    /// with [`TokenErrorKind::NoToken`]. A 401 from a resource server (with
    /// [`OAuth2Layer`](crate::OAuth2Layer)'s retry policy) or [`TokenSource::refresh`] makes it
    /// look too, and the request is sent again with a newer stored token; with none, the
    /// refused token stays in use. It writes to the store only the tokens the application
    /// gives it ([`token`](Self::token), [`TokenSource::replace_token`]).
    ///
    /// ```
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::{Duration, SystemTime};
    /// use oauth_core::oauth2::{Token, TokenType};
    /// use oauth_core::secret::AccessToken;
    /// use tower_oauth2::store::{MemoryStore, TokenStore};
    /// use tower_oauth2::TokenSource;
    ///
    /// let expiring = |value: &str, secs| {
    ///     Token::new(AccessToken::new(value), TokenType::Bearer)
    ///         .with_expires_at(Some(SystemTime::now() + Duration::from_secs(secs)))
    /// };
    /// // Shared with the process that refreshes (a `FileStore`, or a database, in practice).
    /// let store = MemoryStore::with_token(expiring("first", 3600));
    /// let follower = TokenSource::builder().store(store.clone()).build().await?;
    /// assert_eq!(follower.token().await?.access_token().secret(), "first");
    ///
    /// // The other process refreshes and saves its new token. The follower takes it up from
    /// // its refresh margin on (the last 60 s by default); a 401, or `refresh`, makes it look
    /// // at once.
    /// store.save(&expiring("second", 7200)).await?;
    /// assert_eq!(follower.refresh().await?.access_token().secret(), "second");
    /// assert_eq!(follower.token().await?.access_token().secret(), "second");
    /// # Ok(()) }
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(demo()).unwrap();
    /// ```
    pub fn store(mut self, store: impl TokenStore) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// Reads time from `clock` instead of tokio's clock. Freshness is then checked against the
    /// clock on every request instead of by a timer, unless `clock` is a [`TokioClock`] (see
    /// [`TokenClock::new`]).
    ///
    /// Without it, the source uses its fetcher's clock ([`TokenFetcher::clock`]), or else a
    /// new [`TokioClock`].
    ///
    /// [`TokioClock`]: crate::clock::TokioClock
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Some(TokenClock::new(clock));
        self
    }

    /// When to refresh, how to back off (oauth-core's [`RefreshPolicy`]).
    pub fn policy(mut self, policy: RefreshPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The DPoP key the tokens are bound to (RFC 9449), for a source whose fetcher does not
    /// name one (a [`GrantClient::dpop`](crate::GrantClient::dpop) fetcher does; with one that
    /// does, it must be the same key, or [`build`](Self::build) fails with
    /// [`TokenErrorKind::Configuration`]): the
    /// middleware sends DPoP tokens with a proof made with it, and refuses tokens bound to
    /// another key. A stored token bound to another key (or a DPoP-bound one, for a source with
    /// no key) is not loaded, nor taken up later: it could be neither sent nor refreshed. (Nor
    /// does a source with no key use a DPoP token its fetcher gets: see [`UnsendableToken`](super::UnsendableToken).)
    pub fn dpop(mut self, key: DpopKey) -> Self {
        self.dpop = Some(key);
        self
    }

    /// The token endpoint and client this source's tokens are issued by and to, for a source
    /// whose fetcher does not say ([`TokenFetcher::issued_to`]; a
    /// [`GrantClient`](crate::GrantClient)'s fetchers do), or that has none: a source that
    /// follows a store another process refreshes (see [`store`](Self::store)). A stored token
    /// recorded as issued by another endpoint or to another client (a store shared with another
    /// configuration) is then not loaded, nor taken up later: its access token would go to
    /// the wrong API (RFC 6749 §10.4). With a fetcher that says, it must be the same
    /// ([`IssuedTo::is_same_as`]): [`build`](Self::build) fails with
    /// [`TokenErrorKind::Configuration`] otherwise (the source would refuse its own tokens).
    ///
    /// ```
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use oauth_core::oauth2::{IssuedTo, Token, TokenType};
    /// use oauth_core::secret::AccessToken;
    /// use tower_oauth2::store::MemoryStore;
    /// use tower_oauth2::{TokenErrorKind, TokenSource};
    ///
    /// let elsewhere = Token::new(AccessToken::new("theirs"), TokenType::Bearer)
    ///     .with_issued_to(Some(IssuedTo::new("https://other.example/token", "other-app")));
    /// let worker = TokenSource::builder()
    ///     .store(MemoryStore::with_token(elsewhere))
    ///     .issued_to(IssuedTo::new("https://server.example.com/token", "my-app"))
    ///     .build()
    ///     .await?;
    /// assert_eq!(worker.token().await.unwrap_err().kind(), TokenErrorKind::NoToken);
    /// # Ok(()) }
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(demo()).unwrap();
    /// ```
    pub fn issued_to(mut self, issued_to: IssuedTo) -> Self {
        self.issued_to = Some(issued_to);
        self
    }

    /// Builds the source, loading the store's token when no token was given, and saving the
    /// given one when the store does not hold it. Fails with [`TokenErrorKind::Store`] when
    /// no token was given and the store cannot be read, and with
    /// [`TokenErrorKind::Configuration`] when [`issued_to`](Self::issued_to) or
    /// [`dpop`](Self::dpop) is not the fetcher's. A given token is never dropped: when
    /// the store cannot be read (a corrupt token file, say), or the token cannot be saved, it
    /// is used all the same, with a warning (as a refreshed one is); a store that can be
    /// written again gets it (but, when it could not be read at build, not over a token that
    /// expires later than the given one: another process saved that one since).
    ///
    /// Nothing is fetched here: a source with no token yet (client credentials, say) fetches
    /// its first one for the first request, so wrong credentials show up there. To fail at
    /// start-up instead, call [`TokenSource::token`] once after building.
    ///
    /// # Errors
    ///
    /// Fails with [`TokenErrorKind::Store`](super::TokenErrorKind::Store) or
    /// [`TokenErrorKind::Configuration`](super::TokenErrorKind::Configuration), as above.
    pub async fn build(self) -> Result<TokenSource, TokenError> {
        // A source that would refuse the tokens its own fetcher gets (once stored) is a
        // configuration error, not a grant to lose at the next start.
        if let (Some(given), Some(fetchers)) = (
            &self.issued_to,
            self.fetcher.as_ref().and_then(|f| f.issued_to()),
        ) && !given.is_same_as(&fetchers)
        {
            return Err(TokenError::new(
                TokenErrorKind::Configuration,
                Some(
                    "TokenSourceBuilder::issued_to names another token endpoint or client than \
                     the fetcher's"
                        .into(),
                ),
            ));
        }
        // Nor a key other than the one its fetcher binds the tokens to.
        if let (Some(given), Some(fetchers)) =
            (&self.dpop, self.fetcher.as_ref().and_then(|f| f.dpop_key()))
            && given.thumbprint() != fetchers.thumbprint()
        {
            return Err(TokenError::new(
                TokenErrorKind::Configuration,
                Some("TokenSourceBuilder::dpop names another key than the fetcher's".into()),
            ));
        }
        let mut token = self.token.clone();
        let mut store_view = None;
        let mut to_save = None;
        let mut in_store = false;
        if let Some(store) = &self.store {
            let stored = match bounded("load", STORE_CALL_WAIT, || store.load()).await {
                Ok(stored) => {
                    store_view = Some(stored.as_ref().map(StoredIdentity::of));
                    stored
                }
                Err(error) if token.is_some() => {
                    // The given token (just exchanged for a single-use code, say) is newer
                    // than anything the store held: it replaces what cannot be read.
                    let cause = causes(&error);
                    tracing::warn!(%error, %cause, "the token store cannot be read; using the given token and saving it over the store's");
                    None
                }
                Err(error) => {
                    return Err(TokenError::new(TokenErrorKind::Store, Some(error.into())));
                }
            };
            // A stored token another server or client issued is not this source's: its
            // access token would go to the wrong API, its refresh token to the wrong server.
            // Nor is one bound to another DPoP key: it could be neither sent nor refreshed.
            let here = self
                .issued_to
                .clone()
                .or_else(|| self.fetcher.as_ref()?.issued_to());
            let dpop = self
                .dpop
                .as_ref()
                .or_else(|| self.fetcher.as_ref()?.dpop_key());
            let stored = match stored {
                Some(stored) if !stored.usable_by(here.as_ref(), dpop) => {
                    tracing::warn!(
                        "the token store holds a token issued by another token endpoint, to \
                         another client, or bound to another DPoP key (or to one, for a source \
                         with none); not using it (authorize again to replace it)"
                    );
                    None
                }
                stored => stored,
            };
            // (A token the store holds is not an unsaved one.)
            in_store = stored.is_some()
                && token
                    .as_ref()
                    .is_none_or(|given| stored.as_ref() == Some(given));
            match token.take() {
                None => token = stored,
                // A given token the store does not hold yet is saved (below) before use.
                Some(given) if store.saves_starting_token() && stored.as_ref() != Some(&given) => {
                    to_save = Some(given)
                }
                given => token = given,
            }
        }
        let source = self.build_with(token);
        {
            let mut state = source.inner.lock();
            state.store_view = store_view;
            if in_store {
                state.unsaved = false;
            }
        }
        if let Some(given) = to_save
            && let Err(error) = source.replace_token(given).await
        {
            // As after a refresh: the token stays in use, in memory.
            let cause = causes(&error);
            tracing::warn!(%error, %cause, "saving the given token failed; keeping it in memory");
        }
        Ok(source)
    }

    pub(super) fn build_with(self, token: Option<Token>) -> TokenSource {
        let clock = self
            .clock
            .or_else(|| self.fetcher.as_ref()?.clock())
            .unwrap_or_default();
        let timers = clock.is_tokio();
        let dpop = self
            .dpop
            .or_else(|| self.fetcher.as_ref()?.dpop_key().cloned());
        let issued_to = self
            .issued_to
            .or_else(|| self.fetcher.as_ref()?.issued_to());
        let source = TokenSource {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                done: watch::channel(0).0,
                dpop,
                issued_to,
                fetcher: self.fetcher,
                store: self.store,
                store_writes: tokio::sync::Mutex::new(()),
                clock,
                timers,
                policy: self.policy,
            }),
        };
        if let Some(token) = token {
            source.set_token(token);
        }
        source
    }
}
