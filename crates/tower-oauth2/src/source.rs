//! [`TokenSource`]: the current token, and the single refresh that replaces it.
//!
//! However many requests need a new token at once, one fetch is in flight; every waiter gets its
//! result (the same failure too, shared through an `Arc`). The fetch runs as its own tokio task,
//! so a waiter that is dropped cancels nothing and wedges nobody. A failed fetch keeps the old
//! token and is followed by a back-off, not a storm; `invalid_grant` is terminal until a new
//! token is set. A fetched token is saved to the store before any request uses it.
//!
//! On the fast path no clock is read: each token entry carries a flag that a tokio timer raises
//! when the refresh margin begins (or when a newer token replaces it), so checking freshness is
//! one atomic load.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, SystemTime};

use http::HeaderValue;
use oauth_core::clock::Clock;
use oauth_core::oauth2::Token;
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower::BoxError;

use crate::store::TokenStore;

/// A boxed future returning a fetched token.
pub type FetchFuture = Pin<Box<dyn Future<Output = Result<Token, TokenError>> + Send + 'static>>;

/// Where new tokens come from: a refresh-token grant, a client-credentials grant, or anything
/// else (see [`crate::GrantClient`] for the standard ones).
pub trait TokenFetcher: Send + Sync + 'static {
    /// Fetches a token to replace `current` (the token in use, with its refresh token, if any).
    fn fetch(&self, current: Option<&Token>) -> FetchFuture;
}

impl<F, Fut> TokenFetcher for F
where
    F: Fn(Option<&Token>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Token, TokenError>> + Send + 'static,
{
    fn fetch(&self, current: Option<&Token>) -> FetchFuture {
        Box::pin(self(current))
    }
}

/// Why no token could be had. Its `Display` never contains a token or a secret.
#[derive(Debug, thiserror::Error)]
#[error("{kind}")]
pub struct TokenError {
    kind: TokenErrorKind,
    #[source]
    source: Option<BoxError>,
}

/// What kind of failure a [`TokenError`] is, and so what the application should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenErrorKind {
    /// A network failure, timeout, 5xx or 429: try again later; the old token was kept.
    #[error("token endpoint temporarily unavailable")]
    Transient,
    /// The grant is dead (`invalid_grant`): the user must authorize again.
    #[error("the grant is no longer valid (invalid_grant): authorization is needed again")]
    Reauthorize,
    /// The client is misconfigured (`invalid_client`, `unauthorized_client`, bad credentials).
    #[error("the authorization server rejected the client configuration")]
    Configuration,
    /// The token endpoint answered with something that is not a usable token.
    #[error("the token endpoint's response is not a usable token")]
    InvalidResponse,
    /// There is no token and no way to fetch one.
    #[error("no token is available and no fetcher is configured")]
    NoToken,
    /// Saving the token to the store failed.
    #[error("the token store failed")]
    Store,
    /// Refreshing needs a tokio runtime, and there is none.
    #[error("refreshing tokens needs a tokio runtime")]
    NoRuntime,
}

impl TokenError {
    /// A failure of the given kind, with an optional cause (which must not contain secrets).
    pub fn new(kind: TokenErrorKind, source: Option<BoxError>) -> Self {
        Self { kind, source }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> TokenErrorKind {
        self.kind
    }

    /// Whether the failure ends the grant (no further refresh will be tried).
    pub fn is_terminal(&self) -> bool {
        matches!(
            self.kind,
            TokenErrorKind::Reauthorize | TokenErrorKind::Configuration
        )
    }
}

/// When the source refreshes.
#[derive(Debug, Clone, Copy)]
pub struct RefreshTiming {
    /// Refresh this long before the token expires (default 60 s).
    pub margin: Duration,
    /// After a failed fetch, wait this long before trying again (default 5 s); requests in the
    /// meantime get the same failure (or the old token while it is still valid).
    pub failure_backoff: Duration,
    /// Never start fetches closer together than this (default 1 s), so a token that is born
    /// inside the margin cannot cause a refresh storm.
    pub min_interval: Duration,
}

impl Default for RefreshTiming {
    fn default() -> Self {
        Self {
            margin: Duration::from_secs(60),
            failure_backoff: Duration::from_secs(5),
            min_interval: Duration::from_secs(1),
        }
    }
}

/// The current access token and the single-flight refresh that replaces it; cheap to clone
/// (clones share everything).
#[derive(Clone)]
pub struct TokenSource {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
    done: watch::Sender<u64>,
    fetcher: Option<Arc<dyn TokenFetcher>>,
    store: Option<Arc<dyn TokenStore>>,
    clock: Arc<dyn Clock>,
    timers: bool,
    timing: RefreshTiming,
}

#[derive(Default)]
struct State {
    current: Option<Arc<Entry>>,
    generation: u64,
    in_flight: bool,
    /// Number of finished fetches, and the result of the last one.
    epoch: u64,
    last: Option<Result<Arc<Entry>, Arc<TokenError>>>,
    last_started: Option<SystemTime>,
    failed_at: Option<SystemTime>,
    dead: Option<Arc<TokenError>>,
    fetches: u64,
}

/// A token as the middleware uses it: the ready-made header, and the freshness flag.
pub(crate) struct Entry {
    token: Token,
    header: HeaderValue,
    generation: u64,
    refresh_at: Option<SystemTime>,
    stale: AtomicBool,
    /// With a custom clock no timer can raise `stale`, so freshness reads the clock.
    clock: Option<Arc<dyn Clock>>,
    timer: Option<JoinHandle<()>>,
}

impl Entry {
    pub(crate) fn header(&self) -> &HeaderValue {
        &self.header
    }

    /// Fresh: not replaced, not inside the refresh margin.
    pub(crate) fn is_fresh(&self) -> bool {
        if self.stale.load(Ordering::Acquire) {
            return false;
        }
        match (&self.clock, self.refresh_at) {
            (Some(clock), Some(at)) => clock.now() < at,
            _ => true,
        }
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        if let Some(timer) = self.timer.take() {
            timer.abort();
        }
    }
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("token", &self.token)
            .field("generation", &self.generation)
            .field("stale", &self.stale)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.inner.lock();
        f.debug_struct("TokenSource")
            .field("current", &state.current.as_ref().map(|e| &e.token))
            .field("generation", &state.generation)
            .field("in_flight", &state.in_flight)
            .field("dead", &state.dead.as_ref().map(|e| e.kind()))
            .finish_non_exhaustive()
    }
}

/// Builds a [`TokenSource`].
#[must_use]
pub struct TokenSourceBuilder {
    token: Option<Token>,
    fetcher: Option<Arc<dyn TokenFetcher>>,
    store: Option<Arc<dyn TokenStore>>,
    clock: Option<Arc<dyn Clock>>,
    timing: RefreshTiming,
}

impl fmt::Debug for TokenSourceBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSourceBuilder")
            .field("token", &self.token)
            .field("timing", &self.timing)
            .finish_non_exhaustive()
    }
}

impl TokenSourceBuilder {
    /// Starts with this token (otherwise the store's, or the first fetch's).
    pub fn token(mut self, token: Token) -> Self {
        self.token = Some(token);
        self
    }

    /// Fetches new tokens with `fetcher`.
    pub fn fetcher(mut self, fetcher: impl TokenFetcher) -> Self {
        self.fetcher = Some(Arc::new(fetcher));
        self
    }

    /// Saves every new token to `store` before it is used.
    pub fn store(mut self, store: impl TokenStore) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// Reads time from `clock` instead of tokio's clock. Freshness is then checked against the
    /// clock on every request (a few nanoseconds more) instead of by a timer.
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Some(Arc::new(clock));
        self
    }

    /// Sets when to refresh.
    pub fn timing(mut self, timing: RefreshTiming) -> Self {
        self.timing = timing;
        self
    }

    /// Builds the source, loading the store's token when no token was given.
    pub async fn build(self) -> Result<TokenSource, TokenError> {
        let mut token = self.token.clone();
        if token.is_none() {
            if let Some(store) = &self.store {
                token = store
                    .load()
                    .await
                    .map_err(|e| TokenError::new(TokenErrorKind::Store, Some(e.into())))?;
            }
        }
        Ok(self.build_with(token))
    }

    fn build_with(self, token: Option<Token>) -> TokenSource {
        let timers = self.clock.is_none();
        let clock = self
            .clock
            .unwrap_or_else(|| Arc::new(crate::clock::TokioClock::new()));
        let source = TokenSource {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                done: watch::channel(0).0,
                fetcher: self.fetcher,
                store: self.store,
                clock,
                timers,
                timing: self.timing,
            }),
        };
        if let Some(token) = token {
            let mut state = source.inner.lock();
            source.inner.install(&mut state, token);
        }
        source
    }
}

impl TokenSource {
    /// A source holding one token that is never refreshed (useful for tests and static tokens).
    pub fn from_token(token: Token) -> Self {
        Self::builder().build_with(Some(token))
    }

    /// A builder: set a token, a fetcher and a store.
    pub fn builder() -> TokenSourceBuilder {
        TokenSourceBuilder {
            token: None,
            fetcher: None,
            store: None,
            clock: None,
            timing: RefreshTiming::default(),
        }
    }

    /// The token in use now, if any (fresh or not).
    pub fn current(&self) -> Option<Token> {
        self.inner.lock().current.as_ref().map(|e| e.token.clone())
    }

    /// Replaces the token (after the user authorized again, say). Clears a terminal failure.
    pub fn set_token(&self, token: Token) {
        let mut state = self.inner.lock();
        state.dead = None;
        state.failed_at = None;
        self.inner.install(&mut state, token);
    }

    /// How many fetches this source has started.
    pub fn fetch_count(&self) -> u64 {
        self.inner.lock().fetches
    }

    /// A valid token, fetching one first if needed (and waiting for a fetch in flight).
    pub async fn token(&self) -> Result<Token, Arc<TokenError>> {
        self.acquire().await.map(|e| e.token.clone())
    }

    /// The current entry if it can be used now; starts a background refresh when the token is
    /// inside its refresh margin.
    pub(crate) fn fresh_entry(&self) -> Option<Arc<Entry>> {
        let mut state = self.inner.lock();
        let entry = state.current.clone()?;
        if entry.is_fresh() {
            return Some(entry);
        }
        let now = self.inner.clock.now();
        if state.dead.is_some() || entry.token.is_expired(now) {
            return None;
        }
        // Inside the margin: refresh in the background, keep using the valid old token.
        self.inner.start_fetch(&mut state, now);
        Some(entry)
    }

    /// A usable entry, waiting for a fetch when there is none.
    pub(crate) async fn acquire(&self) -> Result<Arc<Entry>, Arc<TokenError>> {
        if let Some(entry) = self.fresh_entry() {
            return Ok(entry);
        }
        self.wait_for_fetch(None).await
    }

    /// A token newer than `rejected` (which the resource server refused): refreshes unless a
    /// newer one is already there.
    pub(crate) async fn refresh_after(
        &self,
        rejected: &Arc<Entry>,
    ) -> Result<Arc<Entry>, Arc<TokenError>> {
        self.wait_for_fetch(Some(rejected.generation)).await
    }

    async fn wait_for_fetch(&self, rejected: Option<u64>) -> Result<Arc<Entry>, Arc<TokenError>> {
        let mut done = self.inner.done.subscribe();
        let epoch = {
            let mut state = self.inner.lock();
            if let Some(dead) = &state.dead {
                return Err(dead.clone());
            }
            let now = self.inner.clock.now();
            match (rejected, &state.current) {
                (Some(rejected), Some(current)) if current.generation > rejected => {
                    return Ok(current.clone());
                }
                (Some(_), Some(current)) => current.stale.store(true, Ordering::Release),
                // Another waiter may have installed a token since fresh_entry() looked.
                (None, Some(current)) if !current.token.is_expired(now) => {
                    return Ok(current.clone());
                }
                _ => {}
            }
            if !self.inner.start_fetch(&mut state, now) {
                // Backing off or rate-limited: share the last result instead of fetching again
                // (a token born expired is used rather than refreshed in a loop).
                return state.last.clone().unwrap_or_else(|| {
                    Err(Arc::new(TokenError::new(TokenErrorKind::NoToken, None)))
                });
            }
            state.epoch
        };
        loop {
            if done.wait_for(|e| *e > epoch).await.is_err() {
                return Err(Arc::new(TokenError::new(TokenErrorKind::NoToken, None)));
            }
            let state = self.inner.lock();
            if let Some(last) = &state.last {
                return last.clone();
            }
        }
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Installs `token` as current and marks the previous entry stale.
    fn install(self: &Arc<Self>, state: &mut State, token: Token) -> Option<Arc<Entry>> {
        let header = match token.authorization_header() {
            Ok(header) => header,
            Err(error) => {
                tracing::warn!(%error, "token cannot be used as a Bearer token");
                return None;
            }
        };
        state.generation += 1;
        let refresh_at = token
            .expires_at()
            .map(|at| at.checked_sub(self.timing.margin).unwrap_or(at));
        let now = self.clock.now();
        let born_stale = refresh_at.is_some_and(|at| at <= now);
        let entry = Arc::new_cyclic(|weak: &Weak<Entry>| {
            let timer = match (self.timers, refresh_at) {
                (true, Some(at)) if !born_stale => spawn_stale_timer(weak.clone(), at, now),
                _ => None,
            };
            // Without a timer (custom clock, or no runtime yet) freshness reads the clock.
            let clock = (timer.is_none() && refresh_at.is_some()).then(|| self.clock.clone());
            Entry {
                header,
                generation: state.generation,
                refresh_at,
                stale: AtomicBool::new(born_stale),
                clock,
                timer,
                token,
            }
        });
        if let Some(old) = state.current.replace(entry.clone()) {
            old.stale.store(true, Ordering::Release);
        }
        Some(entry)
    }

    /// Starts a fetch unless one is in flight or the back-off or rate limit forbids it.
    /// Returns whether a fetch is (now) in flight.
    fn start_fetch(self: &Arc<Self>, state: &mut State, now: SystemTime) -> bool {
        if state.in_flight {
            return true;
        }
        if state.dead.is_some() {
            return false;
        }
        if let Some(failed) = state.failed_at {
            if now < failed + self.timing.failure_backoff {
                return false;
            }
        }
        if let Some(started) = state.last_started {
            if now < started + self.timing.min_interval {
                return false;
            }
        }
        let Some(fetcher) = self.fetcher.clone() else {
            state.last = Some(Err(Arc::new(TokenError::new(
                TokenErrorKind::NoToken,
                None,
            ))));
            state.failed_at = Some(now);
            return false;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            state.last = Some(Err(Arc::new(TokenError::new(
                TokenErrorKind::NoRuntime,
                None,
            ))));
            return false;
        };
        state.in_flight = true;
        state.last_started = Some(now);
        state.fetches += 1;
        let current = state.current.as_ref().map(|e| e.token.clone());
        let inner = self.clone();
        runtime.spawn(async move {
            let result = inner.fetch_and_save(fetcher, current).await;
            inner.finish(result);
        });
        true
    }

    async fn fetch_and_save(
        &self,
        fetcher: Arc<dyn TokenFetcher>,
        current: Option<Token>,
    ) -> Result<Token, TokenError> {
        let fetched = fetcher.fetch(current.as_ref()).await;
        let token = match fetched {
            Ok(token) => token,
            Err(error) if error.kind == TokenErrorKind::Reauthorize => {
                // Another process sharing the store may have rotated the refresh token.
                match self.rotated_in_store(current.as_ref()).await {
                    Some(stored) => fetcher.fetch(Some(&stored)).await?,
                    None => return Err(error),
                }
            }
            Err(error) => return Err(error),
        };
        // RFC 6749 §6: a response without a refresh token keeps the old one.
        let token = match (
            token.refresh_token(),
            current.as_ref().and_then(|c| c.refresh_token()),
        ) {
            (None, Some(old)) => token.with_refresh_token(Some(old.clone())),
            _ => token,
        };
        if let Some(store) = &self.store {
            if let Err(error) = store.save(&token).await {
                // The new token stays in memory; the old grant may already be rotated away.
                tracing::warn!(%error, "saving the refreshed token failed; keeping it in memory");
            }
        }
        Ok(token)
    }

    async fn rotated_in_store(&self, current: Option<&Token>) -> Option<Token> {
        let stored = self.store.as_ref()?.load().await.ok()??;
        let used = current.and_then(|c| c.refresh_token());
        (stored.refresh_token().is_some() && stored.refresh_token() != used).then_some(stored)
    }

    fn finish(self: &Arc<Self>, result: Result<Token, TokenError>) {
        let mut state = self.lock();
        let now = self.clock.now();
        state.in_flight = false;
        state.last = Some(match result {
            Ok(token) => {
                state.failed_at = None;
                match self.install(&mut state, token) {
                    Some(entry) => Ok(entry),
                    None => Err(Arc::new(TokenError::new(
                        TokenErrorKind::InvalidResponse,
                        None,
                    ))),
                }
            }
            Err(error) => {
                let error = Arc::new(error);
                if error.is_terminal() {
                    // The token is kept (not deleted) but no longer refreshed.
                    state.dead = Some(error.clone());
                }
                state.failed_at = Some(now);
                tracing::warn!(error = %error, "token fetch failed");
                Err(error)
            }
        });
        state.epoch += 1;
        let epoch = state.epoch;
        drop(state);
        self.done.send_replace(epoch);
    }
}

/// Raises `stale` on the entry when its refresh margin begins.
fn spawn_stale_timer(
    entry: Weak<Entry>,
    at: SystemTime,
    now: SystemTime,
) -> Option<JoinHandle<()>> {
    let runtime = tokio::runtime::Handle::try_current().ok()?;
    // The deadline is fixed now, not when the task is first polled.
    let deadline = tokio::time::Instant::now() + at.duration_since(now).unwrap_or_default();
    Some(runtime.spawn(async move {
        tokio::time::sleep_until(deadline).await;
        if let Some(entry) = entry.upgrade() {
            entry.stale.store(true, Ordering::Release);
        }
    }))
}
