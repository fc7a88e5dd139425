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

mod builder;
mod entry;
mod error;
mod fetch;
mod fetcher;
mod shared_store;

pub use builder::TokenSourceBuilder;
pub(crate) use entry::Entry;
pub use error::{TokenError, TokenErrorKind, UnsendableToken};
pub use fetcher::{FetchFuture, TokenFetcher};

use std::fmt;
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use error::{causes, no_token, transient, unusable};
use oauth_core::clock::Clock;
use oauth_core::oauth2::{Action, DpopKey, IssuedTo, RefreshPolicy, RefreshState, Token};
use oauth_core::secret::RefreshToken;
use shared_store::{SaveIfDropped, StoredIdentity};
use tokio::sync::watch;

use crate::clock::TokenClock;
use crate::store::{REFRESH_LOCK_WAIT, STORE_CALL_WAIT, TokenStore, bounded};

/// How many tokens whose save failed a source remembers as possibly its own in the store.
const MAX_UNCONFIRMED: usize = 8;

/// How many refresh tokens the server refused (`invalid_grant`) a source remembers.
const MAX_REFUSED: usize = 8;

/// How many refresh tokens this source spent (the server rotated them away) it remembers.
const MAX_SPENT: usize = 8;

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

#[derive(Default)]
struct State {
    machine: Option<RefreshState>,
    entry: Option<Arc<Entry>>,
    generation: u64,
    in_flight: bool,
    /// Number of finished fetches, and the result of the last one.
    epoch: u64,
    last: Option<Result<Arc<Entry>, Arc<TokenError>>>,
    fetches: u64,
    /// For a source with no token yet (client credentials): no new fetch before this, after
    /// `failures` failed ones in a row (doubling back-off, at least the server's Retry-After).
    retry_not_before: Option<SystemTime>,
    failures: u32,
    /// The stored token this source has accounted for: the one it last read from or wrote
    /// to its store, or built a refresh on that the server answered (`None` until it has
    /// looked; `Some(None)`: the store was empty). Another one in the store means another
    /// process wrote it meanwhile.
    store_view: Option<Option<StoredIdentity>>,
    /// This source's tokens whose save failed (the newest [`MAX_UNCONFIRMED`]): a failed save
    /// may have landed all the same (cut off by its deadline, or a store that wrote and then
    /// reported an error), so the store may hold one of them. Such a stored token is this
    /// source's own, older than the one it replaced it with, and its refresh token may be spent:
    /// never another process's token to take up, nor one to keep a newer token from.
    unconfirmed: Vec<StoredIdentity>,
    /// The refresh tokens the server refused for good (the newest [`MAX_REFUSED`]): a stored
    /// token carrying one (another access token with the refused refresh token: a server that
    /// does not rotate them, and another process's save that landed, or was retried, after the
    /// refusal) is never taken up, so the refused refresh token is never sent again.
    refused: Vec<RefreshToken>,
    /// The refresh tokens this source spent (the newest [`MAX_SPENT`]): the server answered
    /// a refresh with each by issuing another refresh token, so each is dead. A stored token
    /// carrying one is older than this source's own, whatever its access token's expiry (a
    /// late write that took the store back: another source's save, or retried save, that
    /// landed after this source saved its newer token), and is never taken up for it.
    spent: Vec<RefreshToken>,
    /// The token in use is not in the store: its save failed, or `set_token` installed it (see
    /// `TokenSource::has_unsaved_token`).
    unsaved: bool,
    /// When a source whose grant was refused last looked for another process's token in its
    /// store (`Inner::start_store_probe`).
    probed_at: Option<SystemTime>,
    /// Until when requests wait for the look at the store in flight (5 s after it started,
    /// on tokio's clock): a look at a store that hangs keeps no request waiting past it,
    /// however late the request comes. (A request with no tokio timers waits for the look.)
    look_deadline: Option<tokio::time::Instant>,
    /// The newest token generation whose refusal for a request that could not be retried was
    /// warned about (`TokenSource::first_refusal_of`): one warning per refused token.
    refusal_warned: Option<u64>,
}

impl State {
    /// Remembers that `token`'s save failed: the store may hold it all the same.
    fn save_failed(&mut self, token: &Token) {
        remember(
            &mut self.unconfirmed,
            StoredIdentity::of(token),
            MAX_UNCONFIRMED,
        );
    }

    /// Whether `stored` is a token of this source's whose save failed (and landed).
    fn saved_unconfirmed(&self, stored: &StoredIdentity) -> bool {
        self.unconfirmed.contains(stored)
    }

    /// Remembers that the server refused `token`'s refresh token for good (see
    /// `Inner::refresh_refused`).
    fn refresh_refused(&mut self, token: Option<&Token>) {
        let Some(refresh_token) = token.and_then(Token::refresh_token) else {
            return;
        };
        remember(&mut self.refused, refresh_token.clone(), MAX_REFUSED);
    }

    /// Remembers that this source spent `refresh_token`: the server answered a refresh with it
    /// by issuing another one.
    fn refresh_spent(&mut self, refresh_token: RefreshToken) {
        remember(&mut self.spent, refresh_token, MAX_SPENT);
    }

    /// Whether `stored` is not to be taken up from the store as another process's token: one
    /// of this source's whose save failed, or one whose refresh token the server refused, or
    /// that this source spent.
    fn not_to_take_up(&self, stored: &Token) -> bool {
        self.saved_unconfirmed(&StoredIdentity::of(stored))
            || stored.refresh_token().is_some_and(|refresh_token| {
                self.refused.contains(refresh_token) || self.spent.contains(refresh_token)
            })
    }
}

/// Adds `item` to `recent` unless it is there, dropping the oldest entry past `max`.
fn remember<T: PartialEq>(recent: &mut Vec<T>, item: T, max: usize) {
    if !recent.contains(&item) {
        if recent.len() == max {
            recent.remove(0);
        }
        recent.push(item);
    }
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
    pub async fn refresh(&self) -> Result<Token, Arc<TokenError>> {
        let generation = self.inner.lock().generation;
        match self.refresh_after(generation).await? {
            Some(entry) => Ok(entry.token.clone()),
            // (A source that follows an empty store.)
            None if self.inner.lock().machine.is_none() => Err(no_token()),
            None => Err(transient()),
        }
    }

    /// The current entry if it can be used now; starts a background refresh when the token is
    /// inside its refresh margin.
    pub(crate) fn fresh_entry(&self) -> Option<Arc<Entry>> {
        let (entry, task) = {
            let mut state = self.inner.lock();
            let now = self.inner.clock.now();
            match state.machine.as_ref()?.next_action(now) {
                Action::UseToken => (state.entry.clone(), None),
                Action::RefreshMayUseOld | Action::FetchNewToken { may_use_old: true } => {
                    let task = self.inner.start_fetch(&mut state, now);
                    (state.entry.clone(), task)
                }
                _ => (None, None),
            }
        };
        if let Some(task) = task {
            task.spawn();
        }
        entry
    }

    /// A usable entry, waiting for a fetch when there is none.
    pub(crate) async fn acquire(&self) -> Result<Arc<Entry>, Arc<TokenError>> {
        if let Some(entry) = self.fresh_entry() {
            return Ok(entry);
        }
        self.wait_for_fetch(None).await?.ok_or_else(transient)
    }

    /// Records that the resource server refused the token of generation `rejected`, without
    /// waiting for a new one: the next request refreshes first. (For a request that could not
    /// be sent again, so no retry waits for the refresh.)
    pub(crate) fn token_rejected(&self, rejected: u64) {
        let mut state = self.inner.lock();
        if state.generation > rejected {
            return;
        }
        // A source that follows its store looks there for a newer token; the refused one
        // stays in use meanwhile (there is no other; see `look_past`).
        if self.inner.follows_store() {
            let now = self.inner.clock.now();
            let look = self
                .inner
                .start_store_probe(&mut state, now, TokenErrorKind::NoToken);
            drop(state);
            if let Some(look) = look {
                look.spawn();
            }
            return;
        }
        if let Some(machine) = state.machine.as_mut() {
            machine.token_rejected();
            if let Some(entry) = &state.entry {
                entry.stale.store(true, Ordering::Release);
            }
        }
    }

    /// Whether this is the first refusal of the token of generation `rejected` heard of for a
    /// request that could not be retried: the warning about it is said once per refused token,
    /// not once per request (a storm of POSTs refused with the same token).
    pub(crate) fn first_refusal_of(&self, rejected: u64) -> bool {
        let mut state = self.inner.lock();
        if state
            .refusal_warned
            .is_some_and(|warned| warned >= rejected)
        {
            return false;
        }
        state.refusal_warned = Some(rejected);
        true
    }

    /// A token newer than `rejected` (which the resource server refused): refreshes unless a
    /// newer one is already there. `None` when refreshes are rate-limited (the token was
    /// refreshed moments ago, [`RefreshPolicy::min_interval`]) and there is no newer token:
    /// the caller answers with the server's refusal itself.
    pub(crate) async fn refresh_after(
        &self,
        rejected: u64,
    ) -> Result<Option<Arc<Entry>>, Arc<TokenError>> {
        if self.inner.follows_store() {
            return Ok(self.look_past(rejected).await);
        }
        self.wait_for_fetch(Some(rejected)).await
    }

    /// For a source that follows its store (a store and no fetcher), past the token of
    /// generation `rejected` (refused by a resource server, or asked to be replaced by
    /// [`refresh`](Self::refresh)): the newer token another process saved in the store, if
    /// there is one (a look, at most once per [`RefreshPolicy::min_interval`], and a second,
    /// or more often when the token ends soon: `Inner::look_interval`; the caller waits for it
    /// at most 5 s). `None` when there is none: the refused token
    /// stays in use, since there is no other to use and it may not be the token's fault (a
    /// resource server that refuses every token); the process that refreshes replaces it.
    async fn look_past(&self, rejected: u64) -> Option<Arc<Entry>> {
        let mut done = self.inner.done.subscribe();
        let (look, epoch, deadline) = {
            let mut state = self.inner.lock();
            if state.generation > rejected {
                return state.entry.clone();
            }
            let now = self.inner.clock.now();
            let look = self
                .inner
                .start_store_probe(&mut state, now, TokenErrorKind::NoToken);
            if !state.in_flight {
                return None;
            }
            (look, state.epoch, state.look_deadline)
        };
        if let Some(look) = look {
            look.spawn();
        }
        wait_past(&mut done, epoch, deadline).await;
        let state = self.inner.lock();
        state
            .entry
            .clone()
            .filter(|entry| state.generation > rejected && entry.generation > rejected)
    }

    /// A usable entry, fetching one first if needed; `None` only past a `rejected` token whose
    /// refresh is rate-limited.
    async fn wait_for_fetch(
        &self,
        rejected: Option<u64>,
    ) -> Result<Option<Arc<Entry>>, Arc<TokenError>> {
        let mut done = self.inner.done.subscribe();
        let mut task = None;
        // The refusal a look at the store (after a refused grant) stands on, for a caller
        // that stops waiting for the look.
        let mut refusal = None;
        let (epoch, look_deadline) = {
            let mut state = self.inner.lock();
            let now = self.inner.clock.now();
            if let Some(rejected) = rejected {
                if state.generation > rejected {
                    if let Some(entry) = state.entry.clone() {
                        return Ok(Some(entry));
                    }
                } else if let Some(machine) = state.machine.as_mut() {
                    machine.token_rejected();
                    if let Some(entry) = &state.entry {
                        entry.stale.store(true, Ordering::Release);
                    }
                }
            }
            let action = match &state.machine {
                Some(machine) => machine.next_action(now),
                None if self.inner.fetches_new_tokens() => match &state.last {
                    // No machine records a failure of the first fetch: it backs off here, or
                    // every call would send the request again. A transient failure backs off
                    // like any other, a refused client for the longest back-off (see `finish`).
                    // (A wait longer than the longest back-off means the clock stepped back.)
                    Some(Err(error))
                        if state.retry_not_before.is_some_and(|at| {
                            at.duration_since(now).is_ok_and(|wait| {
                                !wait.is_zero() && wait <= self.inner.policy.max_backoff
                            })
                        }) =>
                    {
                        return Err(error.clone());
                    }
                    _ => Action::FetchNewToken { may_use_old: false },
                },
                // No token yet (the store was empty at start): another process sharing the
                // store may have saved one since (the user logged in there).
                None => match self
                    .inner
                    .start_store_probe(&mut state, now, TokenErrorKind::NoToken)
                {
                    Some(probe) => {
                        task = Some(probe);
                        refusal = Some(no_token());
                        Action::AwaitRefresh
                    }
                    None => return Err(no_token()),
                },
            };
            match action {
                Action::UseToken => return state.entry.clone().map(Some).ok_or_else(unusable),
                Action::RefreshThenUse
                | Action::RefreshMayUseOld
                | Action::FetchNewToken { .. } => {
                    task = self.inner.start_fetch(&mut state, now);
                    // With no fetcher, that is a look at the store (this one, or one already
                    // in flight), which may hang.
                    if state.in_flight && self.inner.follows_store() {
                        refusal = Some(no_token());
                    }
                }
                Action::AwaitRefresh => {}
                // Rate-limited or backing off: share the last outcome rather than fetch again
                // (a token born expired is used rather than refreshed in a loop).
                Action::Wait { .. } => {
                    return match state.last.clone() {
                        // Never send the token the resource server just rejected again.
                        Some(Ok(entry)) if rejected.is_some_and(|r| entry.generation <= r) => {
                            Ok(None)
                        }
                        Some(last) => last.map(Some),
                        None => Err(transient()),
                    };
                }
                Action::Reauthorize | Action::ClientMisconfigured(_) => {
                    // A user grant refused for good: another process sharing the store may
                    // have saved a new one since (the user logged in again there). (The last
                    // outcome is not the refusal after a failure for now: a look's, or, for a
                    // client-credentials source, that of the request asking its refused client
                    // again; the refusal still stands, and a service has no user to authorize
                    // again.)
                    let refused = match &state.last {
                        Some(Err(error)) if error.is_terminal() => error.clone(),
                        _ if matches!(action, Action::ClientMisconfigured(_)) => {
                            Arc::new(TokenError::new(TokenErrorKind::Configuration, None))
                        }
                        _ => Arc::new(TokenError::new(TokenErrorKind::Reauthorize, None)),
                    };
                    let probe = matches!(action, Action::Reauthorize)
                        .then(|| {
                            self.inner.start_store_probe(
                                &mut state,
                                now,
                                TokenErrorKind::Reauthorize,
                            )
                        })
                        .flatten();
                    if probe.is_none() {
                        return Err(refused);
                    }
                    task = probe;
                    refusal = Some(refused);
                }
            }
            if !state.in_flight {
                return state
                    .last
                    .clone()
                    .map_or_else(|| Err(no_token()), |l| l.map(Some));
            }
            (state.epoch, state.look_deadline)
        };
        // Spawned with the lock released: a runtime that is shutting down drops the task at
        // once, and its guard then takes the lock to abandon the fetch.
        if let Some(task) = task {
            task.spawn();
        }
        // A caller waiting for a look has the refusal the look stands on at most 5 s after the
        // look started.
        let deadline = refusal.as_ref().map(|_| {
            look_deadline.unwrap_or_else(|| tokio::time::Instant::now() + STORE_PROBE_CALLER_WAIT)
        });
        match (wait_past(&mut done, epoch, deadline).await, refusal) {
            (Some(true), _) => {}
            (None, Some(refused)) => return Err(refused),
            _ => return Err(no_token()),
        }
        self.inner
            .lock()
            .last
            .clone()
            .map_or_else(|| Err(no_token()), |last| last.map(Some))
    }
}

/// Waits until the fetch or look in flight after `epoch` ends: `Some(true)` when it has,
/// `Some(false)` when the source is gone, `None` when `deadline` came first (a look at a store
/// that hangs goes on without this caller). With no deadline, or no tokio timers here (a caller
/// on another runtime than the look's, or on none, where a tokio timer would panic), it waits
/// for the end.
async fn wait_past(
    done: &mut watch::Receiver<u64>,
    epoch: u64,
    deadline: Option<tokio::time::Instant>,
) -> Option<bool> {
    let finished = done.wait_for(|e| *e > epoch);
    match deadline.filter(|_| crate::clock::timers_available()) {
        Some(deadline) => tokio::time::timeout_at(deadline, finished)
            .await
            .ok()
            .map(|finished| finished.is_ok()),
        None => Some(finished.await.is_ok()),
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

    /// Far longer than any wait below takes: a waiter still waiting then never ends.
    const BOUND: Duration = Duration::from_secs(60);

    /// `wait_past` ends once the fetch or look of `epoch` has ended (the epoch moved past it),
    /// and at once when it has already: every caller waiting for a refresh stands on this.
    #[tokio::test(start_paused = true)]
    async fn wait_past_ends_once_the_epoch_has_moved_past() {
        let (done, mut waiter) = watch::channel(3u64);
        let waiting = tokio::spawn(async move { wait_past(&mut waiter, 3, None).await });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "the fetch of epoch 3 has not ended");
        done.send(4).unwrap();
        let ended = tokio::time::timeout(BOUND, waiting)
            .await
            .expect("the waiter ends once the epoch moves past")
            .unwrap();
        assert_eq!(ended, Some(true));
        // Already past: no wait.
        let mut waiter = done.subscribe();
        let ended = tokio::time::timeout(BOUND, wait_past(&mut waiter, 2, None)).await;
        assert_eq!(ended.expect("already past"), Some(true));
    }

    /// A deadline that comes first ends the wait with `None`; a source that is gone (the
    /// sender dropped) with `Some(false)`.
    #[tokio::test(start_paused = true)]
    async fn wait_past_ends_at_its_deadline_or_when_the_source_is_gone() {
        let (done, mut waiter) = watch::channel(3u64);
        let deadline = tokio::time::Instant::now() + STORE_PROBE_CALLER_WAIT;
        let ended = tokio::time::timeout(BOUND, wait_past(&mut waiter, 3, Some(deadline))).await;
        assert_eq!(ended.expect("bounded by its deadline"), None);
        assert_eq!(tokio::time::Instant::now(), deadline);
        drop(done);
        let ended = tokio::time::timeout(BOUND, wait_past(&mut waiter, 3, None)).await;
        assert_eq!(ended.expect("the source is gone"), Some(false));
    }

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
