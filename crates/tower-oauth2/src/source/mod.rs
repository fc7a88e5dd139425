//! [`TokenSource`]: the current token, and the single refresh that replaces it.
//!
//! However many requests need a new token at once, one fetch is in flight; every waiter gets its
//! result (the same failure too, shared through an `Arc`). The fetch runs as its own tokio task,
//! so a waiter that is dropped cancels nothing and wedges nobody. A failed fetch keeps the old
//! token and is followed by a back-off, not a storm; `invalid_grant` is terminal until a new
//! token is set, here or, with a store, by another process sharing it (the user logged in again
//! there): a refused source (as one whose token expired with no refresh token, or one that has
//! no token yet because the store was empty at start) reads its store
//! again while requests come, at most once per [`RefreshPolicy::min_interval`] (and a second),
//! and takes up a token another process saved, refreshing it if it has expired (a live one
//! with no refresh token is used as it is); the refused refresh token is never sent again, and
//! the request that started a look waits for it at most 5 s (a store that hangs). (A
//! client-credentials source refused, for its client or its grant, asks again
//! after the longest back-off: nothing is spent by asking, and a long-running service recovers
//! once the client is fixed at the server.) A source with a store and no fetcher follows the
//! store, where another process saves the tokens it refreshes: it looks there in the same way
//! from the refresh margin on, and more often as its token's end nears (see
//! [`TokenSourceBuilder::store`]). A fetched token is saved to
//! the store before any request uses it; if the save fails it is used all the same, since the
//! old refresh token may be spent already (a warning, and [`TokenSource::has_unsaved_token`],
//! say so), and saved again in the background, with the refresh policy's back-off, until the
//! store takes it (never over a token another process saved meanwhile: see
//! [`TokenSource::has_unsaved_token`]).
//!
//! On the fast path no clock is read (with tokio's clock, the default; a source given another
//! clock reads it on every request): each token entry carries a flag that a tokio timer raises
//! when the refresh margin begins, and at least a second before expiry (or when a newer token
//! replaces it), so checking freshness is one atomic load (two, with the check that the timer
//! is still alive: a timer whose runtime was dropped, or that has no time driver, never fires,
//! and the clock is read instead).
//!
//! The tasks a source spawns run on the runtime of the call that needed them: a fetch (it
//! holds the source, so dropping every handle does not cancel a fetch in flight: its task ends
//! with the fetch: for a [`GrantClient`](crate::GrantClient) fetcher, at the latest at its
//! deadline), one timer per token (aborted once the token is replaced, or the source dropped,
//! and no request holds it), and, after a failed save, the background save, which notices
//! that the source was dropped at its next attempt (up to [`RefreshPolicy::max_backoff`]
//! later) and ends then. Once all have ended, a dropped source leaves no task behind. A fetch
//! whose runtime shuts down before it ends (a short-lived runtime that asked first) is
//! abandoned, not failed: its waiters hear why, nothing is backed off, and the next call (from
//! a runtime still running) fetches again once [`RefreshPolicy::min_interval`] has passed since
//! the attempt, whose request may have reached the server.

mod acquire;
mod builder;
mod entry;
mod error;
mod fetch;
mod fetcher;
mod shared_store;
mod state;

pub use builder::TokenSourceBuilder;
pub(crate) use entry::Entry;
pub use error::{TokenError, TokenErrorKind, UnsendableToken};
pub use fetcher::{FetchFuture, TokenFetcher};

use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use error::{causes, no_token, transient};
use oauth_core::clock::Clock;
use oauth_core::oauth2::{DpopKey, IssuedTo, RefreshPolicy, RefreshState, Token};
use shared_store::{SaveIfDropped, StoredIdentity};
use state::State;
use tokio::sync::watch;

use crate::clock::TokenClock;
use crate::store::{REFRESH_LOCK_WAIT, STORE_CALL_WAIT, TokenStore, bounded};

/// The shortest wait between two looks at the store by a source whose grant was refused.
const MIN_STORE_PROBE_WAIT: Duration = Duration::from_secs(1);

/// The shortest wait between two looks at the store by a source that follows it, in the last
/// seconds of its token's life (see `Inner::look_interval`).
const MIN_FOLLOWER_LOOK_WAIT: Duration = Duration::from_millis(250);

/// How long a request on a source whose grant was refused waits for the look at the store it
/// started; past it, the refusal is its answer and the look goes on (a store that hangs).
const STORE_PROBE_CALLER_WAIT: Duration = Duration::from_secs(5);

/// How long before its token expires an entry goes stale at the latest, whatever the refresh
/// margin: the fast path trusts the flag a timer raises, and a timer task can run late.
const STALE_LEAD: Duration = Duration::from_secs(1);

/// The shortest wait between two background saves of a token whose save failed.
const MIN_SAVE_RETRY_WAIT: Duration = Duration::from_secs(1);

/// The wait for [`TokenStore::lock_refresh`]: the stores' own wait for another refresh, and
/// then a store call's.
const LOCK_CALL_WAIT: Duration = REFRESH_LOCK_WAIT.saturating_add(STORE_CALL_WAIT);

/// The current access token and the single-flight refresh that replaces it; cheap to clone
/// (clones share everything).
///
/// When to refresh is decided by oauth-core's [`RefreshState`] machine; this type adds the
/// locking, the background fetch task, the store, and the freshness flag the middleware reads.
///
/// # Example
///
/// A user's token, refreshed with its refresh token and saved to a store before use:
///
/// ```
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::{Duration, SystemTime};
/// use bytes::Bytes;
/// use http::{Request, Response};
/// use http_body_util::Full;
/// use oauth_core::oauth2::{Client, Endpoint, Token, TokenType};
/// use oauth_core::secret::{AccessToken, RefreshToken};
/// use tower_oauth2::store::MemoryStore;
/// use tower_oauth2::{GrantClient, TokenSource};
///
/// # let token_http_client = tower::service_fn(|_req: Request<Full<Bytes>>| async move {
/// #     let body = r#"{"access_token":"new-token","token_type":"Bearer","expires_in":3600}"#;
/// #     Ok::<_, std::convert::Infallible>(Response::builder()
/// #         .header("content-type", "application/json")
/// #         .body(Full::new(Bytes::from(body))).unwrap())
/// # });
/// let grants = GrantClient::new(
///     token_http_client,
///     Endpoint::new("https://server.example.com/token")?,
///     Client::public("my-app"),
/// );
/// let expired = Token::new(AccessToken::new("old-token"), TokenType::Bearer)
///     .with_expires_at(Some(SystemTime::now() - Duration::from_secs(1)))
///     .with_refresh_token(Some(RefreshToken::new("tGzv3JOkF0XG5Qx2TlKWIA")));
/// let store = MemoryStore::new();
/// let source = TokenSource::builder()
///     .token(expired)
///     .fetcher(grants.refresh_fetcher())
///     .store(store.clone())
///     .build()
///     .await?;
///
/// // However many callers ask at once, one refresh is sent; the response had no refresh token,
/// // so the old one is kept (RFC 6749 §6), and the store had the new token before we did.
/// let token = source.token().await?;
/// assert_eq!(token.access_token().secret(), "new-token");
/// assert_eq!(token.refresh_token().unwrap().secret(), "tGzv3JOkF0XG5Qx2TlKWIA");
/// assert_eq!(store.get().unwrap().access_token().secret(), "new-token");
/// assert_eq!(source.fetch_count(), 1);
/// # Ok(()) }
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Clone)]
pub struct TokenSource {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
    done: watch::Sender<u64>,
    fetcher: Option<Arc<dyn TokenFetcher>>,
    store: Option<Arc<dyn TokenStore>>,
    /// Held from "is this still the token in use?" to the end of the store write it decides
    /// on (a refresh's save, `replace_token`'s save and switch, telling the store a grant was
    /// revoked), so that this source's own writes never interleave, even with a store whose
    /// [`TokenStore::lock_refresh`] takes no lock.
    store_writes: tokio::sync::Mutex<()>,
    clock: TokenClock,
    timers: bool,
    policy: RefreshPolicy,
    dpop: Option<DpopKey>,
    /// The token endpoint and client this source's tokens are issued by and to, if known:
    /// [`TokenSourceBuilder::issued_to`], or else the fetcher's.
    issued_to: Option<IssuedTo>,
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.inner.lock();
        f.debug_struct("TokenSource")
            .field("token", &state.machine.as_ref().map(|m| m.token()))
            .field("generation", &state.generation)
            .field("in_flight", &state.in_flight)
            .field(
                "terminal",
                &state.machine.as_ref().and_then(|m| m.terminal()),
            )
            .finish_non_exhaustive()
    }
}

impl TokenSource {
    /// A source holding one token that is never refreshed (useful for tests and static tokens).
    #[must_use]
    pub fn from_token(token: Token) -> Self {
        Self::builder().build_with(Some(token))
    }

    /// A builder: set a token, a fetcher, a store and the refresh policy.
    pub fn builder() -> TokenSourceBuilder {
        TokenSourceBuilder::new()
    }

    /// The token in use now, if any (fresh or not; also after a terminal failure, since a
    /// token is never deleted).
    pub fn current(&self) -> Option<Token> {
        self.inner
            .lock()
            .machine
            .as_ref()
            .map(|m| m.token().clone())
    }

    /// Whether the token in use failed to reach the store: its last save (after a refresh, or
    /// by [`replace_token`](Self::replace_token) or [`TokenSourceBuilder::build`]) failed or
    /// panicked (or the `replace_token` call was dropped during it), and a later one has not
    /// succeeded; or it was installed with
    /// [`set_token`](Self::set_token), which does not save, on a source with a store (as is a
    /// token given to the builder with a store that does not take the starting token, a
    /// [`CallbackStore`](crate::store::CallbackStore): until its first save). The
    /// token is used all the same (after a refresh the server may already have rotated the old
    /// refresh token away, so the new one is the only good copy), with a warning in the log;
    /// a process that stops now loses it, and the next start reloads the store's older token.
    ///
    /// After a failed save (or a `replace_token` dropped during it; not after `set_token`) the
    /// source saves the token again in the
    /// background, after [`RefreshPolicy::initial_backoff`], doubled after each failure up to
    /// [`RefreshPolicy::max_backoff`] (but at least a second apart), under the store's
    /// refresh lock, until a save succeeds, the token is replaced, or the server refuses its
    /// grant for good. It does not save over a token another process stored meanwhile: then
    /// this stays true until the next save. (When the source could not read the store at
    /// build, a stored token that expires later than its own counts as another process's;
    /// a source that follows its store, with no expiry to compare on either token, takes
    /// every stored token as another process's and leaves it.) (The retries need a tokio
    /// runtime with timers, and stop at their next attempt after the source is dropped.) A
    /// health check can report this, or the application can save [`current`](Self::current)
    /// somewhere else.
    pub fn has_unsaved_token(&self) -> bool {
        self.inner.lock().unsaved
    }

    /// Replaces the token in memory only, clearing any failure: it is **not saved** to the
    /// source's store (this call does no I/O). After a login, on a source with a store, use
    /// [`replace_token`](Self::replace_token), which saves it. On a source
    /// with a store, [`has_unsaved_token`](Self::has_unsaved_token) is true until a save.
    pub fn set_token(&self, token: Token) {
        let mut state = self.inner.lock();
        self.install_token(&mut state, token);
        state.unsaved = self.inner.store.is_some();
    }

    fn install_token(&self, state: &mut State, token: Token) {
        // The application gave this token: its refresh token is tried (again) when it is due.
        if let Some(refresh_token) = token.refresh_token() {
            state.refused.retain(|refused| refused != refresh_token);
        }
        let now = self.inner.clock.now();
        let machine = self.inner.new_machine(token, now);
        self.inner.install(state, machine);
    }

    /// Replaces the token and saves it to the source's store, under the store's refresh lock
    /// ([`TokenStore::lock_refresh`]): a refresh running meanwhile (here, or in another
    /// process sharing the store) ends first, and this token is saved after its token, so the
    /// store ends with this one (this source's refresh result is not used either). Within one
    /// source that holds also for a store whose `lock_refresh` takes no lock: the source
    /// orders its own writes. The token is in use from the moment the store's lock is held,
    /// before it is saved, and stays in use even if saving it fails (the error says so) or the
    /// call is dropped during the save: [`has_unsaved_token`](Self::has_unsaved_token) is then
    /// true, and the save is done again in the background.
    ///
    /// Never call it from a fetcher: it would wait for the refresh that fetcher is part of.
    /// (The stores here give up waiting after [`REFRESH_LOCK_WAIT`].)
    ///
    /// # Errors
    ///
    /// Fails with the [`StoreError`](crate::store::StoreError) of the store's lock or save.
    pub async fn replace_token(&self, token: Token) -> Result<(), crate::store::StoreError> {
        let Some(store) = &self.inner.store else {
            self.set_token(token);
            return Ok(());
        };
        let _lock = lock_refresh(store.as_ref(), "replacing the token").await;
        let _writes = self.inner.store_writes.lock().await;
        // In use before it is in the store: a refresh that runs without the store's lock (it
        // failed, or the store takes none) and finds this token there has seen it replace the
        // one it refreshes, and does not spend its refresh token on a result it would drop.
        let generation = {
            let mut state = self.inner.lock();
            self.install_token(&mut state, token.clone());
            state.unsaved = true;
            state.generation
        };
        // A caller that gives up during the save leaves the token in use and unsaved: it is
        // then saved again in the background, as after a failed save.
        let mut dropped_during_save = SaveIfDropped {
            inner: &self.inner,
            token: Some(&token),
        };
        let saved = bounded("save", STORE_CALL_WAIT, || store.save(&token)).await;
        dropped_during_save.token = None;
        let mut state = self.inner.lock();
        match &saved {
            Ok(()) => {
                state.store_view = Some(Some(StoredIdentity::of(&token)));
                if state.generation == generation {
                    state.unsaved = false;
                }
            }
            Err(_) => {
                state.save_failed(&token);
                self.inner.save_later(&token);
            }
        }
        saved
    }

    /// The DPoP key this source's tokens are bound to: [`TokenSourceBuilder::dpop`], or else
    /// the fetcher's.
    pub fn dpop_key(&self) -> Option<&DpopKey> {
        self.inner.dpop.as_ref()
    }

    /// Whether this source can get a new token by itself (it has a fetcher). Without one, a
    /// token the server rejects cannot be replaced but by [`set_token`](Self::set_token), or,
    /// for a source with a store, by a token another process saves there (see
    /// [`TokenSourceBuilder::store`]).
    pub fn can_fetch(&self) -> bool {
        self.inner.fetcher.is_some()
    }

    /// Whether a token the resource server refuses may be replaced: the source can fetch one,
    /// or follows its store (another process may have saved a newer one there).
    pub(crate) fn can_replace_refused(&self) -> bool {
        self.inner.fetcher.is_some() || self.inner.follows_store()
    }

    /// How many fetches this source has started, counting one that ended without a request
    /// because, after waiting for the store's refresh lock, it found a token another source had
    /// just saved (or, after its refresh token was refused, could not read the store's newer
    /// one, and waits for it rather than send the refused one again), and a look at the store
    /// (after a refused grant, or by a source that follows its store) that found a token to
    /// take up. The token endpoint's own count is the one to watch for refresh storms.
    pub fn fetch_count(&self) -> u64 {
        self.inner.lock().fetches
    }

    /// A valid token, fetching one first if needed (and waiting for a fetch in flight).
    ///
    /// A token a resource server refused is replaced first, but not within
    /// [`RefreshPolicy::min_interval`] of the last refresh: until then this is the refused token
    /// (as on the requests the layer sends meanwhile).
    ///
    /// # Errors
    ///
    /// Fails with a [`TokenError`] when no valid token can be had; its [`kind`](TokenError::kind) says why:
    /// [`Transient`](TokenErrorKind::Transient) (try later), [`Reauthorize`](TokenErrorKind::Reauthorize)
    /// (the grant is dead), [`Configuration`](TokenErrorKind::Configuration),
    /// [`InvalidResponse`](TokenErrorKind::InvalidResponse), [`NoToken`](TokenErrorKind::NoToken)
    /// (no token and no way to fetch one).
    pub async fn token(&self) -> Result<Token, Arc<TokenError>> {
        self.acquire().await.map(|e| e.token.clone())
    }

    /// Forces a refresh past the current token (as after a 401) and returns the new token.
    ///
    /// Refreshes are at least [`RefreshPolicy::min_interval`] apart: within it of the last one,
    /// this is an error ([`TokenErrorKind::Transient`], or the last refresh's failure) rather
    /// than another refresh.
    ///
    /// A source that follows its store (a store and no fetcher: see
    /// [`TokenSourceBuilder::store`]) looks there instead (at most once per `min_interval`, and
    /// a second, or as often as that builder method says when the token ends soon; waiting for
    /// the look at most 5 s): the newer token another process saved, or,
    /// with none, [`TokenErrorKind::Transient`] ([`TokenErrorKind::NoToken`] for a source with
    /// no token yet), and the token in use stays.
    ///
    /// # Errors
    ///
    /// Fails with the [`TokenError`] of the refresh (shared by every caller that waited for it), or
    /// [`TokenErrorKind::Transient`] within [`RefreshPolicy::min_interval`] of the last refresh, as
    /// above.
    pub async fn refresh(&self) -> Result<Token, Arc<TokenError>> {
        let generation = self.inner.lock().generation;
        match self.refresh_after(generation).await? {
            Some(entry) => Ok(entry.token.clone()),
            // (A source that follows an empty store.)
            None if self.inner.lock().machine.is_none() => Err(no_token()),
            None => Err(transient()),
        }
    }
}

/// The store's refresh lock (within [`LOCK_CALL_WAIT`]); `None`, with a warning that `doing`
/// goes on without it, when the store fails to give it.
async fn lock_refresh(store: &dyn TokenStore, doing: &str) -> Option<crate::store::RefreshLock> {
    match bounded("lock_refresh", LOCK_CALL_WAIT, || store.lock_refresh()).await {
        Ok(lock) => Some(lock),
        Err(error) => {
            let cause = causes(&error);
            tracing::warn!(%error, %cause, "{doing} without the token store's lock");
            None
        }
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether this source follows its store: it has one and no fetcher, so new tokens come
    /// from another process that saves them there.
    fn follows_store(&self) -> bool {
        self.fetcher.is_none() && self.store.is_some()
    }

    fn fetches_new_tokens(&self) -> bool {
        self.fetcher
            .as_ref()
            .is_some_and(|f| f.fetches_new_tokens())
    }

    /// The refresh state of `token`. A source that follows its store (a store and no fetcher)
    /// renews every token as a client-credentials source does, whether it has a refresh token
    /// or not: by looking for a newer one, in the store, ahead of expiry.
    fn new_machine(&self, token: Token, now: SystemTime) -> RefreshState {
        if self.fetches_new_tokens() || self.follows_store() {
            RefreshState::client_credentials(token, now, self.policy)
        } else {
            RefreshState::new(token, now, self.policy)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::MemoryStore;
    use oauth_core::oauth2::TokenType;
    use oauth_core::secret::AccessToken;

    /// `refresh` on a source that follows its store, with nothing new there: one look, the
    /// token in use stays, and the answer is `Transient` (as `refresh` documents). Run on a
    /// thread of its own, so that a source that deadlocks on its own state lock (a look's
    /// task dropped under it) fails this test instead of hanging the run.
    #[test]
    fn a_follower_asked_to_refresh_with_nothing_new_in_the_store_answers_transient() {
        let (answer, answered) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let runtime = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .unwrap();
            let outcome = runtime.block_on(async {
                let token = Token::new(AccessToken::new("a1"), TokenType::Bearer)
                    .with_expires_at(Some(SystemTime::now() + Duration::from_secs(3600)));
                let source = TokenSource::builder()
                    .store(MemoryStore::with_token(token))
                    .build()
                    .await
                    .unwrap();
                let refreshed = source.refresh().await.map(|t| t.access_token().clone());
                let current = source.current().map(|t| t.access_token().clone());
                (
                    refreshed.map_err(|e| e.kind()),
                    current,
                    source.fetch_count(),
                )
            });
            answer.send(outcome).unwrap();
        });
        let (refreshed, current, fetches) = answered
            .recv_timeout(Duration::from_secs(10))
            .expect("refresh answered (not stuck)");
        assert_eq!(refreshed.unwrap_err(), TokenErrorKind::Transient);
        assert_eq!(current.unwrap().secret(), "a1");
        assert_eq!(fetches, 0, "a look that found nothing to take up");
    }

    /// A token given to the source that no header can hold (`TokenErrorKind::InvalidResponse`
    /// says so): it is never sent, and every call is `InvalidResponse`, with or without a
    /// fetcher (the token has no expiry, so nothing is fetched to replace it).
    #[tokio::test]
    async fn a_given_token_that_cannot_be_sent_is_invalid_response() {
        let unsendable = || Token::new(AccessToken::new("a b"), TokenType::Bearer);
        let fetcher =
            |_: Option<&Token>| async { Err(TokenError::new(TokenErrorKind::Transient, None)) };
        let sources = [
            TokenSource::from_token(unsendable()),
            TokenSource::builder()
                .token(unsendable())
                .fetcher(fetcher)
                .build()
                .await
                .unwrap(),
        ];
        for source in sources {
            let error = source.token().await.unwrap_err();
            assert_eq!(error.kind(), TokenErrorKind::InvalidResponse);
            assert_eq!(source.fetch_count(), 0);
        }
    }

    /// That error does not blame the token endpoint, which was never asked: it says the
    /// token in use cannot be sent, and that the source needs another; once it has one, that
    /// one is used.
    #[tokio::test]
    async fn a_given_token_that_cannot_be_sent_is_not_blamed_on_the_token_endpoint() {
        let source =
            TokenSource::from_token(Token::new(AccessToken::new("a b"), TokenType::Bearer));
        let error = source.token().await.unwrap_err();
        let chain = anyhow_like(&*error);
        assert!(!chain.contains("token endpoint"), "{chain}");
        assert!(chain.contains("the token in use cannot be sent"), "{chain}");
        assert!(chain.contains("given to the source"), "{chain}");
        source.set_token(Token::new(AccessToken::new("ab"), TokenType::Bearer));
        let token = source.token().await.unwrap();
        assert_eq!(token.access_token().secret(), "ab");
    }

    /// `error` and its causes, one after another (what `anyhow`'s `{:#}` prints).
    fn anyhow_like(error: &dyn std::error::Error) -> String {
        let mut text = error.to_string();
        let mut next = error.source();
        while let Some(cause) = next {
            text.push_str(": ");
            text.push_str(&cause.to_string());
            next = cause.source();
        }
        text
    }
}
