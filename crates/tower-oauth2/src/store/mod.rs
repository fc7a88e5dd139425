//! Token stores: where a token lives between runs, and who hears about a new one.
//!
//! The [`crate::TokenSource`] saves every new token to its store **before** any request uses it,
//! so a crash right after a refresh does not lose a rotated refresh token. (A token whose save
//! fails is used all the same, and saved again in the background: see
//! [`TokenSource::has_unsaved_token`](crate::TokenSource::has_unsaved_token).) It refreshes
//! under the store's [`TokenStore::lock_refresh`], so token sources sharing a store (several
//! parts of one program, or several processes sharing a [`FileStore`]) refresh one at a time,
//! and each one that waited takes the token the other saved instead of spending the same
//! refresh token again (which a server with refresh-token reuse detection answers by revoking
//! the grant).
//!
//! - [`MemoryStore`]: in memory, shared by clones;
//! - [`FileStore`]: a JSON file replaced atomically, mode 0600, for command-line tools;
//! - [`CallbackStore`]: calls your function with each new token (requests-oauthlib's
//!   `token_updater`).
//!
//! Wherever your own store keeps tokens, keep them server-side: never in a cookie, a URL or a
//! browser's storage, where they leak to everything that can read those (RFC 6750 §5.3).
//!
//! # A store of your own
//!
//! A service keeps its token where it keeps its other state: a database row, say. Implement
//! [`TokenStore`]. The source owns the store it is given (`Arc<YourStore>` is not a
//! `TokenStore`), so a store you want a handle on is cheap to clone, with its state behind an
//! `Arc`, as [`MemoryStore`] is. Here a `Mutex<HashMap>` stands for the table:
//!
//! ```
//! use std::collections::HashMap;
//! use std::sync::{Arc, Mutex};
//!
//! use oauth_core::oauth2::{Token, TokenType};
//! use oauth_core::secret::{AccessToken, RefreshToken};
//! use tower_oauth2::TokenSource;
//! use tower_oauth2::store::{StoreFuture, TokenStore};
//!
//! /// One row of a `tokens` table, keyed by service name.
//! #[derive(Clone)]
//! struct RowStore {
//!     table: Arc<Mutex<HashMap<String, Token>>>,
//!     key: String,
//! }
//!
//! impl TokenStore for RowStore {
//!     fn load(&self) -> StoreFuture<'_, Option<Token>> {
//!         let token = self.table.lock().unwrap().get(&self.key).cloned();
//!         Box::pin(async move { Ok(token) })
//!     }
//!
//!     fn save<'a>(&'a self, token: &'a Token) -> StoreFuture<'a, ()> {
//!         self.table.lock().unwrap().insert(self.key.clone(), token.clone());
//!         Box::pin(async { Ok(()) })
//!     }
//!
//!     // Check and write in one step (a transaction, for a database).
//!     fn compare_and_swap<'a>(
//!         &'a self,
//!         expected: Option<&'a RefreshToken>,
//!         token: &'a Token,
//!     ) -> StoreFuture<'a, bool> {
//!         let mut table = self.table.lock().unwrap();
//!         let swapped = table.get(&self.key).and_then(Token::refresh_token) == expected;
//!         if swapped {
//!             table.insert(self.key.clone(), token.clone());
//!         }
//!         Box::pin(async move { Ok(swapped) })
//!     }
//!
//!     // Several processes refreshing the same row: also implement `lock_refresh`, returning a
//!     // `RefreshLock` that holds the database's own lock (`SELECT ... FOR UPDATE` in an open
//!     // transaction, an advisory lock) until it is dropped.
//! }
//!
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! let store = RowStore { table: Arc::default(), key: "billing-api".into() };
//! let token = Token::new(AccessToken::new("from-login"), TokenType::Bearer);
//! let source = TokenSource::builder().token(token).store(store.clone()).build().await?;
//! // The source saved the token it was given; `store` (a clone) sees the row.
//! assert!(store.table.lock().unwrap().contains_key("billing-api"));
//! # let _ = source;
//! # Ok(()) }
//! # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(demo()).unwrap();
//! ```

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;

use oauth_core::oauth2::Token;
use oauth_core::secret::RefreshToken;
use tower::BoxError;

mod callback;
mod file;
mod memory;

pub use callback::CallbackStore;
pub use file::FileStore;
pub use memory::MemoryStore;

/// A boxed future returned by [`TokenStore`] methods.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Somewhere a token is kept.
///
/// A [`TokenSource`](crate::TokenSource) gives up on a call that has not answered within
/// [`STORE_CALL_WAIT`] and treats it as failed, so a store that hangs delays a refresh but
/// cannot stop it for good; implementations should still bound their own I/O. A call that
/// panics (making its future or polling it) is a failed call too: a refreshed token whose save
/// panicked stays in use, as one whose save returned an error does.
pub trait TokenStore: Send + Sync + 'static {
    /// The stored token, if any.
    fn load(&self) -> StoreFuture<'_, Option<Token>>;

    /// Stores `token`, replacing what was there.
    fn save<'a>(&'a self, token: &'a Token) -> StoreFuture<'a, ()>;

    /// Stores `token` only if the stored refresh token is still `expected`; returns whether it
    /// stored: for an application that writes a shared store itself, to detect that another
    /// writer rotated the refresh token first. Check and write must be one step (under the
    /// store's own lock or transaction). A [`TokenSource`](crate::TokenSource) refreshes under
    /// [`lock_refresh`](Self::lock_refresh) and reads the store again instead; it calls this
    /// only to save again, in the background, a token whose save failed (with the refresh
    /// token it has just read there), so that a token another writer stored since is never
    /// written over, even when the refresh lock failed or the store has none.
    ///
    /// `expected` is compared with the stored token's refresh token, both `Option`s
    /// (`RefreshToken`'s `PartialEq` is constant-time): `None` matches an empty store and a
    /// stored token without a refresh token (a client-credentials token), as in
    /// [`MemoryStore`] and [`FileStore`].
    fn compare_and_swap<'a>(
        &'a self,
        expected: Option<&'a RefreshToken>,
        token: &'a Token,
    ) -> StoreFuture<'a, bool>;

    /// Waits until no other user of this store is refreshing, and keeps the others waiting
    /// until the returned lock is dropped. The [`crate::TokenSource`] holds it around
    /// "re-read the store, fetch, save". The default takes no lock (each source refreshes on
    /// its own), for stores that only one source uses.
    ///
    /// Implementations should bound the wait (see [`REFRESH_LOCK_WAIT`]): a refresh that hangs
    /// elsewhere must not stop this one for ever. An error makes the source refresh without
    /// the lock.
    fn lock_refresh(&self) -> StoreFuture<'_, RefreshLock> {
        Box::pin(async { Ok(RefreshLock::none()) })
    }

    /// Hears that the authorization server refused `token`'s grant for good: a refresh ended
    /// with `invalid_grant` (after the store was read again, in case another process had
    /// rotated the refresh token), so the user must authorize again (RFC 6749 §5.2).
    ///
    /// The token is not deleted: the source keeps it, and this is the place to mark it
    /// unusable, or to tell the user. The default does nothing. Called under the refresh lock,
    /// once per refused refresh (a user's grant is not tried again, not even after a 401, until
    /// a new token is set: by the application, or by another process saving one to this store,
    /// which the refused source looks for, at most once per
    /// [`RefreshPolicy::min_interval`](oauth_core::oauth2::RefreshPolicy::min_interval)). An
    /// error is logged and changes nothing.
    fn grant_revoked<'a>(&'a self, token: &'a Token) -> StoreFuture<'a, ()> {
        let _ = token;
        Box::pin(async { Ok(()) })
    }

    /// Whether a token a source is built with
    /// ([`TokenSourceBuilder::token`](crate::source::TokenSourceBuilder::token)) is saved here
    /// when the store does not hold it yet (default: yes, so that a token just exchanged for a
    /// code outlives the process). [`CallbackStore`] says no: like requests-oauthlib's
    /// `token_updater`, it hears only of tokens the source gets.
    fn saves_starting_token(&self) -> bool {
        true
    }
}

/// A shared store is a store: keep an `Arc` of your own store (to read or administer what it
/// holds) and give the source a clone, or give several sources one `Arc<dyn TokenStore>`.
/// Every method, the provided ones included, is the inner store's.
///
/// ```
/// use std::sync::Arc;
/// use tower_oauth2::store::MemoryStore;
/// use tower_oauth2::TokenSource;
///
/// # async fn run() -> Result<(), tower_oauth2::TokenError> {
/// let store = Arc::new(MemoryStore::new());
/// let source = TokenSource::builder().store(store.clone()).build().await?;
/// # let _ = source;
/// # Ok(()) }
/// ```
impl<T: TokenStore + ?Sized> TokenStore for Arc<T> {
    fn load(&self) -> StoreFuture<'_, Option<Token>> {
        (**self).load()
    }

    fn save<'a>(&'a self, token: &'a Token) -> StoreFuture<'a, ()> {
        (**self).save(token)
    }

    fn compare_and_swap<'a>(
        &'a self,
        expected: Option<&'a RefreshToken>,
        token: &'a Token,
    ) -> StoreFuture<'a, bool> {
        (**self).compare_and_swap(expected, token)
    }

    fn lock_refresh(&self) -> StoreFuture<'_, RefreshLock> {
        (**self).lock_refresh()
    }

    fn grant_revoked<'a>(&'a self, token: &'a Token) -> StoreFuture<'a, ()> {
        (**self).grant_revoked(token)
    }

    fn saves_starting_token(&self) -> bool {
        (**self).saves_starting_token()
    }
}

/// How long the stores here wait for another source's refresh (and a [`FileStore`], for another
/// process's hold on the file) before they go on without it, with a warning.
pub const REFRESH_LOCK_WAIT: std::time::Duration = std::time::Duration::from_secs(60);

/// How long a [`TokenSource`](crate::TokenSource) waits for one call to its store (`load`,
/// `save`, `compare_and_swap`, `grant_revoked`; `lock_refresh` gets [`REFRESH_LOCK_WAIT`]
/// more) before it treats the call as failed. A backstop, longer than the stores' own waits: a
/// store that never answers (a database connection with no timeout, say) must not hold the
/// refresh, and every request waiting for it, for ever. A `save` cut off is a failed save (the
/// new token stays in memory, with a warning), and may still land later. (A [`FileStore`]
/// given a lock wait longer than this is cut off here.)
pub const STORE_CALL_WAIT: std::time::Duration = std::time::Duration::from_secs(120);

/// The store's answer to `call`, failed as `operation` if it has not answered within `wait`
/// or if it panicked (making its future or polling it): a store is the application's code,
/// and a panic there (a database driver's, an `unwrap`) must not unwind through a refresh,
/// which would drop the token the server just issued, and may have rotated the refresh token
/// for.
pub(crate) async fn bounded<'a, T>(
    operation: &'static str,
    wait: std::time::Duration,
    call: impl FnOnce() -> StoreFuture<'a, T>,
) -> Result<T, StoreError> {
    let panicked = || StoreError::new(operation, Some("the store panicked".into()));
    let future =
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(call)).map_err(|_| panicked())?;
    let future = CatchUnwind { future };
    if !crate::clock::timers_available() {
        tracing::warn!(
            operation,
            "the tokio runtime has no timers (build it with `enable_all` or `enable_time`): calling the token store with no deadline"
        );
        return future.await.unwrap_or_else(|_panic| Err(panicked()));
    }
    match tokio::time::timeout(wait, future).await {
        Ok(Ok(result)) => result,
        Ok(Err(_panic)) => Err(panicked()),
        Err(_) => Err(StoreError::new(
            operation,
            Some(format!("the store did not answer within {wait:?}").into()),
        )),
    }
}

pin_project_lite::pin_project! {
    /// `future`'s output, or the payload of a panic while polling it.
    pub(crate) struct CatchUnwind<F> {
        #[pin]
        pub(crate) future: F,
    }
}

impl<F: Future> Future for CatchUnwind<F> {
    type Output = std::thread::Result<F::Output>;

    fn poll(
        self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Self::Output> {
        let future = self.project().future;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| future.poll(cx))) {
            Ok(poll) => poll.map(Ok),
            Err(panic) => std::task::Poll::Ready(Err(panic)),
        }
    }
}

/// Held while a token source refreshes the token of a shared store (see
/// [`TokenStore::lock_refresh`]); dropping it lets the next refresh begin.
pub struct RefreshLock {
    _guard: Option<Box<dyn std::any::Any + Send + Sync>>,
}

impl RefreshLock {
    /// A lock held for as long as `guard` lives (it is dropped with the lock).
    pub fn new(guard: impl std::any::Any + Send + Sync) -> Self {
        Self {
            _guard: Some(Box::new(guard)),
        }
    }

    /// No lock: for stores that nobody else refreshes.
    pub fn none() -> Self {
        Self { _guard: None }
    }
}

impl fmt::Debug for RefreshLock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RefreshLock")
            .field("held", &self._guard.is_some())
            .finish()
    }
}

/// Waits up to `wait` for the in-process refresh lock; `None` (with a warning) after that.
pub(super) async fn lock_in_process(
    lock: Arc<tokio::sync::Mutex<()>>,
    wait: std::time::Duration,
) -> Option<tokio::sync::OwnedMutexGuard<()>> {
    if !crate::clock::timers_available() {
        // No deadline can be kept (see `bounded`).
        return Some(lock.lock_owned().await);
    }
    match tokio::time::timeout(wait, lock.lock_owned()).await {
        Ok(guard) => Some(guard),
        Err(_) => {
            tracing::warn!(
                ?wait,
                "another token source's refresh of this store has not ended within the lock wait; refreshing without waiting for it"
            );
            None
        }
    }
}

/// A store failed. Its `Display` names the operation, never the token.
#[derive(Debug, thiserror::Error)]
#[error("token store {operation} failed")]
pub struct StoreError {
    operation: &'static str,
    #[source]
    source: Option<BoxError>,
}

impl StoreError {
    /// A failure of `operation` (`"load"`, `"save"`, ...), with a cause that holds no secret.
    #[must_use]
    pub fn new(operation: &'static str, source: Option<BoxError>) -> Self {
        Self { operation, source }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use oauth_core::oauth2::TokenType;
    use oauth_core::secret::AccessToken;

    use super::*;

    /// A store that records which of its methods were called, its provided ones overridden.
    #[derive(Default)]
    struct Recording(Mutex<Vec<&'static str>>);

    impl Recording {
        fn note(&self, call: &'static str) {
            self.0.lock().unwrap().push(call);
        }
    }

    impl TokenStore for Recording {
        fn load(&self) -> StoreFuture<'_, Option<Token>> {
            self.note("load");
            Box::pin(async { Ok(None) })
        }
        fn save<'a>(&'a self, _: &'a Token) -> StoreFuture<'a, ()> {
            self.note("save");
            Box::pin(async { Ok(()) })
        }
        fn compare_and_swap<'a>(
            &'a self,
            _: Option<&'a RefreshToken>,
            _: &'a Token,
        ) -> StoreFuture<'a, bool> {
            self.note("compare_and_swap");
            Box::pin(async { Ok(true) })
        }
        fn lock_refresh(&self) -> StoreFuture<'_, RefreshLock> {
            self.note("lock_refresh");
            Box::pin(async { Ok(RefreshLock::new(())) })
        }
        fn grant_revoked<'a>(&'a self, _: &'a Token) -> StoreFuture<'a, ()> {
            self.note("grant_revoked");
            Box::pin(async { Ok(()) })
        }
        fn saves_starting_token(&self) -> bool {
            self.note("saves_starting_token");
            false
        }
    }

    async fn call_each(store: &impl TokenStore) {
        let token = Token::new(AccessToken::new("a"), TokenType::Bearer);
        store.load().await.unwrap();
        store.save(&token).await.unwrap();
        assert!(store.compare_and_swap(None, &token).await.unwrap());
        drop(store.lock_refresh().await.unwrap());
        store.grant_revoked(&token).await.unwrap();
        assert!(!store.saves_starting_token());
    }

    /// An `Arc` of a store (or an `Arc<dyn TokenStore>`) is the store: every method goes to
    /// it, the provided ones (`lock_refresh`, `grant_revoked`, `saves_starting_token`)
    /// included, not to the trait's defaults.
    #[tokio::test]
    async fn an_arc_of_a_store_is_that_store() {
        let all = [
            "load",
            "save",
            "compare_and_swap",
            "lock_refresh",
            "grant_revoked",
            "saves_starting_token",
        ];
        let store = Arc::new(Recording::default());
        call_each(&store.clone()).await;
        assert_eq!(*store.0.lock().unwrap(), all);

        let shared = Arc::new(Recording::default());
        let dynamic: Arc<dyn TokenStore> = shared.clone();
        call_each(&dynamic).await;
        assert_eq!(*shared.0.lock().unwrap(), all);
    }
}
