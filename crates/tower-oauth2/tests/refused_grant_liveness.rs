//! A source whose refresh token was refused must end either with a token or with
//! `Reauthorize` (the application's cue to log the user in again): never answer `Transient` for
//! ever while the store it can read holds a token to try.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use oauth_core::clock::Clock;
use oauth_core::oauth2::Token;
use oauth_core::secret::RefreshToken;
use tower_oauth2::TokenSource;
use tower_oauth2::source::{TokenError, TokenErrorKind};
use tower_oauth2::store::{MemoryStore, TokenStore};

mod common;
use common::scripted_store::{Action, Op, ScriptedStore};
use common::{Sent, bearer_expiring_in, fetcher_refusing_dead, recording_fetcher};

/// The store could not be read at start-up (the given token is used) nor written (the token is
/// saved again in the background); meanwhile another process rotated r1 into r2 and saved it.
/// r1 is refused, the retry with r2 fails for now. The background save must not then write the
/// token carrying the refused r1 over the store's r2: a dead token, and the other process's
/// live grant lost from the store.
#[tokio::test(start_paused = true)]
async fn a_token_whose_refresh_token_was_refused_is_not_saved_again_over_the_store() {
    let store = ScriptedStore::new(MemoryStore::new());
    store.next(Op::Load, [Action::Fail("injected")]);
    store.always(Op::Save, Action::Fail("injected"));
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
    store.always(Op::Save, Action::Pass);
    TokenStore::save(store.inner(), &bearer_expiring_in("a2", "r2", -10))
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
        store
            .inner()
            .get()
            .unwrap()
            .refresh_token()
            .unwrap()
            .secret(),
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
    let store = ScriptedStore::new(MemoryStore::new());
    store.next(Op::Load, [Action::Fail("injected")]);
    store.always(Op::Save, Action::Fail("injected"));
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
    store.always(Op::Save, Action::Pass);
    TokenStore::save(store.inner(), &bearer_expiring_in("a2", "r2", -10))
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
    assert_eq!(store.inner().get().unwrap().access_token().secret(), "a3");
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
    let store = ScriptedStore::new(MemoryStore::with_token(bearer_expiring_in("a1", "r1", -10)));
    // Build reads it; the refresh's first read fails, its re-read after the refusal works.
    let fail = Action::Fail("injected");
    store.next(Op::Load, [Action::Pass, fail, Action::Pass]);
    let sent = Sent::default();
    let seen = sent.clone();
    let source = TokenSource::builder()
        .store(store.clone())
        .fetcher(recording_fetcher(seen, |rt, _| match rt {
            "r2" => Err(TokenError::new(TokenErrorKind::Transient, None)),
            _ => Err(TokenError::new(TokenErrorKind::Reauthorize, None)),
        }))
        .build()
        .await
        .unwrap();
    TokenStore::save(store.inner(), &bearer_expiring_in("a2", "r2", -10))
        .await
        .unwrap();
    assert_eq!(
        source.token().await.unwrap_err().kind(),
        TokenErrorKind::Transient
    );
    assert_eq!(*sent.lock().unwrap(), ["r1", "r2"]);
    // Loads find nothing (the token file was deleted: the user logged out elsewhere).
    store.always(Op::Load, Action::Skip);
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
    assert_eq!(store.calls(Op::GrantRevoked), 1);
}

/// A refused source over a store whose loads work but whose lock never comes: the request that
/// starts a look gets the refusal after a few seconds; the look goes on without the lock once
/// the lock's deadline passes, and the next request gets the token another process saved.
#[tokio::test(start_paused = true)]
async fn a_refused_source_over_a_store_whose_lock_never_comes_takes_up_a_stored_token() {
    // Its loads work; its lock never comes (a lock file another process holds for ever).
    let store = ScriptedStore::new(MemoryStore::with_token(bearer_expiring_in(
        "a1", "dead1", -10,
    )));
    store.always(Op::LockRefresh, Action::Hang);
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
    TokenStore::save(store.inner(), &bearer_expiring_in("a2", "r2", -10))
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
