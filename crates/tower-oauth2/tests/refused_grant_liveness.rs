//! A source whose refresh token was refused must end either with a token or with
//! `Reauthorize` (the application's cue to log the user in again): never answer `Transient` for
//! ever while the store it can read holds a token to try.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oauth_core::clock::Clock;
use oauth_core::oauth2::Token;
use oauth_core::secret::RefreshToken;
use tower_oauth2::TokenSource;
use tower_oauth2::source::{TokenError, TokenErrorKind};
use tower_oauth2::store::{MemoryStore, StoreError, StoreFuture, TokenStore};

mod common;
use common::{Sent, bearer_expiring_in, fetcher_refusing_dead, recording_fetcher};

/// A memory store whose loads and saves (this source's) fail as scripted (`true`: fail), then
/// succeed; saves fail for ever once `saves_fail` is set.
#[derive(Clone, Default)]
struct Scripted {
    inner: MemoryStore,
    loads: Arc<Mutex<VecDeque<bool>>>,
    saves_fail: Arc<std::sync::atomic::AtomicBool>,
    /// Loads find nothing (the token file was deleted: the user logged out elsewhere).
    emptied: Arc<std::sync::atomic::AtomicBool>,
}

fn injected(operation: &'static str) -> StoreError {
    StoreError::new(operation, Some("injected".into()))
}

impl TokenStore for Scripted {
    fn load(&self) -> StoreFuture<'_, Option<Token>> {
        if self.loads.lock().unwrap().pop_front() == Some(true) {
            return Box::pin(async { Err(injected("load")) });
        }
        if self.emptied.load(std::sync::atomic::Ordering::SeqCst) {
            return Box::pin(async { Ok(None) });
        }
        self.inner.load()
    }

    fn save<'a>(&'a self, token: &'a Token) -> StoreFuture<'a, ()> {
        if self.saves_fail.load(std::sync::atomic::Ordering::SeqCst) {
            return Box::pin(async { Err(injected("save")) });
        }
        self.inner.save(token)
    }

    fn compare_and_swap<'a>(
        &'a self,
        expected: Option<&'a RefreshToken>,
        token: &'a Token,
    ) -> StoreFuture<'a, bool> {
        self.inner.compare_and_swap(expected, token)
    }
}

/// The store could not be read at start-up (the given token is used) nor written (the token is
/// saved again in the background); meanwhile another process rotated r1 into r2 and saved it.
/// r1 is refused, the retry with r2 fails for now. The background save must not then write the
/// token carrying the refused r1 over the store's r2: a dead token, and the other process's
/// live grant lost from the store.
#[tokio::test(start_paused = true)]
async fn a_token_whose_refresh_token_was_refused_is_not_saved_again_over_the_store() {
    let store = Scripted {
        loads: Arc::new(Mutex::new([true].into())),
        ..Scripted::default()
    };
    store
        .saves_fail
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let sent = Sent::default();
    let seen = sent.clone();
    let source = TokenSource::builder()
        .token(bearer_expiring_in("a1", "r1", -10))
        .store(store.clone())
        .fetcher(recording_fetcher(seen, |rt, _| match rt {
            "r2" => Err(TokenError::new(TokenErrorKind::Transient, None)),
            _ => Err(TokenError::new(TokenErrorKind::Reauthorize, None)),
        }))
        .build()
        .await
        .unwrap();
    assert!(source.has_unsaved_token());
    store
        .saves_fail
        .store(false, std::sync::atomic::Ordering::SeqCst);
    TokenStore::save(&store.inner, &bearer_expiring_in("a2", "r2", -10))
        .await
        .unwrap();
    assert_eq!(
        source.token().await.unwrap_err().kind(),
        TokenErrorKind::Transient
    );
    assert_eq!(*sent.lock().unwrap(), ["r1", "r2"]);
    // The background saves' back-off passes.
    for _ in 0..10 {
        tokio::time::advance(Duration::from_secs(60)).await;
        tokio::task::yield_now().await;
    }
    assert_eq!(
        store.inner.get().unwrap().refresh_token().unwrap().secret(),
        "r2"
    );
}

/// The store could not be read at start-up (the given token is used) nor written since, then
/// recovers; meanwhile another process rotated r1 into r2. r1 is refused, the retry with the
/// store's r2 fails for now (a 503). The next attempts, with the store readable again, must try
/// r2 again (and get a token), not answer "waiting to read the token store" for ever: the source
/// had never accounted for the store's token, so it did not see r2 as another process's.
#[tokio::test(start_paused = true)]
async fn a_refused_refresh_token_waits_for_the_store_only_while_it_cannot_be_read() {
    let store = Scripted {
        loads: Arc::new(Mutex::new([true].into())),
        ..Scripted::default()
    };
    store
        .saves_fail
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let sent = Sent::default();
    let seen = sent.clone();
    let source = TokenSource::builder()
        .token(bearer_expiring_in("a1", "r1", -10))
        .store(store.clone())
        .fetcher(recording_fetcher(seen, |rt, before| match rt {
            "r2" if before == 0 => Err(TokenError::new(TokenErrorKind::Transient, None)),
            "r2" => Ok(bearer_expiring_in("a3", "r3", 3600)),
            _ => Err(TokenError::new(TokenErrorKind::Reauthorize, None)),
        }))
        .build()
        .await
        .unwrap();
    // The store works again; another process rotated r1 into r2 (expired since).
    store
        .saves_fail
        .store(false, std::sync::atomic::Ordering::SeqCst);
    TokenStore::save(&store.inner, &bearer_expiring_in("a2", "r2", -10))
        .await
        .unwrap();
    assert_eq!(
        source.token().await.unwrap_err().kind(),
        TokenErrorKind::Transient
    );
    assert_eq!(*sent.lock().unwrap(), ["r1", "r2"]);
    let mut answers = Vec::new();
    for _ in 0..3 {
        tokio::time::advance(Duration::from_secs(600)).await;
        answers.push(
            source
                .token()
                .await
                .map(|t| t.access_token().secret().to_owned())
                .map_err(|e| e.kind()),
        );
    }
    assert_eq!(
        *sent.lock().unwrap(),
        ["r1", "r2", "r2"],
        "answers: {answers:?}"
    );
    assert_eq!(answers.last().unwrap().as_deref(), Ok("a3"));
    assert_eq!(store.inner.get().unwrap().access_token().secret(), "a3");
}

/// In a runtime without a time driver, a refused source's look at the store neither panics nor
/// hangs: the request that started it waits for it (no deadline to wait with) and gets the
/// token another process saved.
#[test]
fn without_tokio_timers_a_refused_source_takes_up_a_stored_token() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let store = MemoryStore::with_token(bearer_expiring_in("a1", "dead1", -10));
        let sent = Sent::default();
        let source = TokenSource::builder()
            .store(store.clone())
            .fetcher(fetcher_refusing_dead(sent.clone()))
            .build()
            .await
            .unwrap();
        let error = source.token().await.unwrap_err();
        assert_eq!(error.kind(), TokenErrorKind::Reauthorize);
        TokenStore::save(&store, &bearer_expiring_in("a2", "r2", 3600))
            .await
            .unwrap();
        // The looks are a second apart at least (on the wall clock here).
        std::thread::sleep(Duration::from_millis(1100));
        let token = source.token().await.unwrap();
        assert_eq!(token.access_token().secret(), "a2");
        assert_eq!(*sent.lock().unwrap(), ["dead1"]);
    });
}

/// With a clock of the application's (not tokio's), the looks are rate-limited on that clock
/// and take up the stored token once it allows.
#[tokio::test]
async fn with_a_manual_clock_a_refused_source_looks_on_that_clock() {
    let clock = oauth_core::clock::ManualClock::new(std::time::SystemTime::now());
    let expired = Token::new(
        oauth_core::secret::AccessToken::new("a1"),
        oauth_core::oauth2::TokenType::Bearer,
    )
    .with_refresh_token(Some(RefreshToken::new("dead1")))
    .with_expires_at(Some(clock.now() - Duration::from_secs(10)));
    let store = MemoryStore::with_token(expired);
    let sent = Sent::default();
    let source = TokenSource::builder()
        .store(store.clone())
        .clock(clock.clone())
        .fetcher(fetcher_refusing_dead(sent.clone()))
        .build()
        .await
        .unwrap();
    // Refused, then a look that finds nothing.
    for _ in 0..2 {
        assert_eq!(
            source.token().await.unwrap_err().kind(),
            TokenErrorKind::Reauthorize
        );
    }
    let live = Token::new(
        oauth_core::secret::AccessToken::new("a2"),
        oauth_core::oauth2::TokenType::Bearer,
    )
    .with_refresh_token(Some(RefreshToken::new("r2")))
    .with_expires_at(Some(clock.now() + Duration::from_secs(3600)));
    TokenStore::save(&store, &live).await.unwrap();
    // Not yet on the application's clock (whatever tokio's says).
    assert_eq!(
        source.token().await.unwrap_err().kind(),
        TokenErrorKind::Reauthorize
    );
    clock.advance(Duration::from_secs(600));
    assert_eq!(source.token().await.unwrap().access_token().secret(), "a2");
    assert_eq!(*sent.lock().unwrap(), ["dead1"]);
}

/// A token the application gives is the application's: used as given, even bound to another
/// DPoP key than the source's (a stored one is not loaded then): requests with it fail with a
/// DPoP proof error (see the layer) rather than the source silently starting with another token.
#[tokio::test(start_paused = true)]
async fn a_given_token_bound_to_another_dpop_key_is_used_as_given() {
    let expires_at = bearer_expiring_in("-", "-", 3600).expires_at();
    let elsewhere = common::dpop_token("a1")
        .with_dpop_jkt(Some("another-keys-thumbprint".into()))
        .with_expires_at(expires_at);
    let mine = common::dpop_token("a2").with_expires_at(expires_at);
    let store = MemoryStore::with_token(mine);
    let source = TokenSource::builder()
        .token(elsewhere.clone())
        .store(store.clone())
        .dpop(common::dpop_key())
        .build()
        .await
        .unwrap();
    assert_eq!(source.current().as_ref(), Some(&elsewhere));
    assert_eq!(source.token().await.unwrap(), elsewhere);
}

/// r1 is refused, the retry with the store's r2 (another process rotated r1) fails for now; then
/// the store is emptied (the user logged out elsewhere and the token file was deleted). The
/// source has nothing left to try: it must say so (`Reauthorize`, and the store hears that the
/// grant was revoked, once), not answer "waiting to read the token store" for ever while it
/// reads the store fine.
#[tokio::test(start_paused = true)]
async fn a_refused_refresh_token_with_nothing_else_in_the_store_ends_in_reauthorize() {
    let store = Scripted {
        inner: MemoryStore::with_token(bearer_expiring_in("a1", "r1", -10)),
        // Build reads it; the refresh's first read fails, its re-read after the refusal works.
        loads: Arc::new(Mutex::new([false, true, false].into())),
        ..Scripted::default()
    };
    let revoked = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let sent = Sent::default();
    let seen = sent.clone();
    let source = TokenSource::builder()
        .store(RevokedCounting {
            inner: store.clone(),
            revoked: revoked.clone(),
        })
        .fetcher(recording_fetcher(seen, |rt, _| match rt {
            "r2" => Err(TokenError::new(TokenErrorKind::Transient, None)),
            _ => Err(TokenError::new(TokenErrorKind::Reauthorize, None)),
        }))
        .build()
        .await
        .unwrap();
    TokenStore::save(&store.inner, &bearer_expiring_in("a2", "r2", -10))
        .await
        .unwrap();
    assert_eq!(
        source.token().await.unwrap_err().kind(),
        TokenErrorKind::Transient
    );
    assert_eq!(*sent.lock().unwrap(), ["r1", "r2"]);
    store
        .emptied
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let mut answers = Vec::new();
    for _ in 0..3 {
        tokio::time::advance(Duration::from_secs(600)).await;
        answers.push(source.token().await.map(|_| ()).map_err(|e| e.kind()));
    }
    assert_eq!(
        answers.last(),
        Some(&Err(TokenErrorKind::Reauthorize)),
        "{answers:?}"
    );
    assert_eq!(*sent.lock().unwrap(), ["r1", "r2"]);
    assert_eq!(revoked.load(std::sync::atomic::Ordering::SeqCst), 1);
}

/// `inner`, counting the grants it hears were revoked.
#[derive(Clone)]
struct RevokedCounting {
    inner: Scripted,
    revoked: Arc<std::sync::atomic::AtomicUsize>,
}

impl TokenStore for RevokedCounting {
    fn load(&self) -> StoreFuture<'_, Option<Token>> {
        self.inner.load()
    }

    fn save<'a>(&'a self, token: &'a Token) -> StoreFuture<'a, ()> {
        self.inner.save(token)
    }

    fn compare_and_swap<'a>(
        &'a self,
        expected: Option<&'a RefreshToken>,
        token: &'a Token,
    ) -> StoreFuture<'a, bool> {
        self.inner.compare_and_swap(expected, token)
    }

    fn grant_revoked<'a>(&'a self, _token: &'a Token) -> StoreFuture<'a, ()> {
        self.revoked
            .fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Box::pin(async { Ok(()) })
    }
}

/// A memory store whose loads work and whose `lock_refresh` never answers (a lock file another
/// process holds for ever).
#[derive(Clone, Default)]
struct StuckLock {
    inner: MemoryStore,
}

impl TokenStore for StuckLock {
    fn load(&self) -> StoreFuture<'_, Option<Token>> {
        self.inner.load()
    }

    fn save<'a>(&'a self, token: &'a Token) -> StoreFuture<'a, ()> {
        self.inner.save(token)
    }

    fn compare_and_swap<'a>(
        &'a self,
        expected: Option<&'a RefreshToken>,
        token: &'a Token,
    ) -> StoreFuture<'a, bool> {
        self.inner.compare_and_swap(expected, token)
    }

    fn lock_refresh(&self) -> StoreFuture<'_, tower_oauth2::store::RefreshLock> {
        Box::pin(std::future::pending())
    }
}

/// A refused source over a store whose loads work but whose lock never comes: the request that
/// starts a look gets the refusal after a few seconds; the look goes on without the lock once
/// the lock's deadline passes, and the next request gets the token another process saved.
#[tokio::test(start_paused = true)]
async fn a_refused_source_over_a_store_whose_lock_never_comes_takes_up_a_stored_token() {
    let store = StuckLock {
        inner: MemoryStore::with_token(bearer_expiring_in("a1", "dead1", -10)),
    };
    let sent = Sent::default();
    let source = TokenSource::builder()
        .store(store.clone())
        .fetcher(fetcher_refusing_dead(sent.clone()))
        .build()
        .await
        .unwrap();
    assert_eq!(
        source.token().await.unwrap_err().kind(),
        TokenErrorKind::Reauthorize
    );
    TokenStore::save(&store.inner, &bearer_expiring_in("a2", "r2", -10))
        .await
        .unwrap();
    tokio::time::advance(Duration::from_secs(600)).await;
    let started = tokio::time::Instant::now();
    assert_eq!(
        source.token().await.unwrap_err().kind(),
        TokenErrorKind::Reauthorize
    );
    assert!(started.elapsed() <= Duration::from_secs(5));
    tokio::time::sleep(Duration::from_secs(300)).await;
    assert_eq!(
        source.token().await.unwrap().access_token().secret(),
        "from-r2"
    );
    assert_eq!(*sent.lock().unwrap(), ["dead1", "r2"]);
}
