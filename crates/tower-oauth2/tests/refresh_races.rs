//! The token source when a refresh goes wrong in the middle of something else: a token that
//! cannot be sent, `set_token` while a refresh is in flight (the refresh's result is dropped,
//! and a set token that needs a refresh gets its own), `replace_token` against a refresh's save
//! with a store that takes no lock, a store that never answers, a runtime shutting down as a
//! fetch starts, and a source with no token yet backing off.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Empty;

use oauth_core::clock::Clock;
use oauth_core::oauth2::{RefreshPolicy, Token, TokenType};
use oauth_core::secret::{AccessToken, RefreshToken};
use tower::ServiceExt;
use tower_oauth2::clock::TokioClock;
use tower_oauth2::source::{
    FetchFuture, TokenError, TokenErrorKind, TokenFetcher, UnsendableToken,
};
use tower_oauth2::store::{MemoryStore, TokenStore};
use tower_oauth2::{OAuth2Layer, TokenSource};

mod common;
use common::scripted_store::{Action, Op, ScriptedStore};
use common::{api_rejecting_token, bearer_expiring_in};

/// The same when the unsendable token is found in the store, saved there by another program
/// with the grant's next refresh token, just before this source refreshes: it is not taken up
/// and the source's own refresh token is not spent (another process may have rotated it away);
/// the failure is the same terminal `unsendable_token` (the server issues such tokens), not
/// "authorize again", and the token in use is kept.
#[tokio::test(start_paused = true)]
async fn an_unsendable_token_found_in_the_store_before_a_refresh_is_not_taken_up() {
    let old = bearer_expiring_in("old-access", "r1", -1);
    let store = MemoryStore::with_token(old.clone());
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let source = TokenSource::builder()
        .store(store.clone())
        .fetcher(move |_: Option<&Token>| {
            counter.fetch_add(1, Ordering::SeqCst);
            async { Ok::<_, TokenError>(bearer_expiring_in("new", "r9", 3600)) }
        })
        .build()
        .await
        .unwrap();
    let unsendable = Token::new(AccessToken::new("abc def"), TokenType::Bearer)
        .with_expires_at(Some(TokioClock::new().now() + Duration::from_secs(3600)))
        .with_refresh_token(Some(RefreshToken::new("r2")));
    store.save(&unsendable).await.unwrap();
    let error = source.token().await.unwrap_err();
    assert_eq!(error.kind(), TokenErrorKind::Configuration);
    assert_eq!(
        error.error_code(),
        Some(&oauth_core::oauth2::ErrorCode::Other(
            "unsendable_token".into()
        ))
    );
    assert!(!format!("{error} {error:?}").contains("abc def"));
    assert_eq!(calls.load(Ordering::SeqCst), 0, "r1 is not spent");
    assert_eq!(source.current().unwrap(), old);
}
/// A refresh answered with a token this library cannot send (a space in the access token, or
/// an unknown token type) does not replace the good token, in memory or in the store: the
/// failure is terminal (no refresh storm) and the issued token stays reachable.
#[tokio::test(start_paused = true)]
async fn a_token_that_cannot_be_sent_replaces_nothing() {
    for (access, token_type) in [
        ("abc def", TokenType::Bearer),
        ("abc", TokenType::Other("mac".into())),
    ] {
        let old = bearer_expiring_in("old-access", "old-refresh", -1);
        let store = MemoryStore::with_token(old.clone());
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = calls.clone();
        let issued = Token::new(AccessToken::new(access), token_type)
            .with_refresh_token(Some(RefreshToken::new("rotated-refresh")));
        let source = TokenSource::builder()
            .store(store.clone())
            .fetcher(move |_: Option<&Token>| {
                counter.fetch_add(1, Ordering::SeqCst);
                let issued = issued.clone();
                async move { Ok::<_, TokenError>(issued) }
            })
            .build()
            .await
            .unwrap();
        let error = source.token().await.unwrap_err();
        assert_eq!(error.kind(), TokenErrorKind::Configuration);
        let unsendable = std::error::Error::source(&*error)
            .and_then(|e| e.downcast_ref::<UnsendableToken>())
            .expect("the issued token is reachable");
        assert_eq!(
            unsendable.token().refresh_token().unwrap().secret(),
            "rotated-refresh"
        );
        assert!(!format!("{error} {error:?}").contains(access));
        assert_eq!(
            error.error_code(),
            Some(&oauth_core::oauth2::ErrorCode::Other(
                "unsendable_token".into()
            ))
        );
        assert_eq!(source.current().unwrap(), old, "the old token is kept");
        assert_eq!(store.get().unwrap(), old, "and the store still holds it");
        assert!(source.token().await.is_err());
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "terminal: not fetched again"
        );
    }
}

/// A fetcher that waits for `go` before answering `answer`.
fn gated(go: Arc<tokio::sync::Notify>, answer: Result<Token, TokenErrorKind>) -> impl TokenFetcher {
    move |_: Option<&Token>| {
        let (go, answer) = (go.clone(), answer.clone());
        async move {
            go.notified().await;
            answer.map_err(|kind| TokenError::new(kind, None))
        }
    }
}

/// A source over `store` whose refresh (to `refreshed-access`) waits for `go`, and the task
/// that asked it for a token: the refresh is in flight, holding the store's lock.
async fn refresh_in_flight(
    store: &MemoryStore,
    go: &Arc<tokio::sync::Notify>,
) -> (
    TokenSource,
    tokio::task::JoinHandle<Result<Token, Arc<TokenError>>>,
) {
    let source = TokenSource::builder()
        .store(store.clone())
        .fetcher(gated(
            go.clone(),
            Ok(bearer_expiring_in(
                "refreshed-access",
                "refreshed-refresh",
                3600,
            )),
        ))
        .build()
        .await
        .unwrap();
    let waiting = tokio::spawn({
        let source = source.clone();
        async move { source.token().await }
    });
    tokio::task::yield_now().await;
    (source, waiting)
}

/// The user authorizes again while a refresh with a revoked refresh token is in flight: the
/// refresh's `invalid_grant` belongs to the replaced token, not to the new one.
#[tokio::test(start_paused = true)]
async fn a_failed_refresh_does_not_poison_a_token_set_meanwhile() {
    let go = Arc::new(tokio::sync::Notify::new());
    let source = TokenSource::builder()
        .token(bearer_expiring_in("old-access", "revoked-refresh", -1))
        .fetcher(gated(go.clone(), Err(TokenErrorKind::Reauthorize)))
        .build()
        .await
        .unwrap();
    let waiting = tokio::spawn({
        let source = source.clone();
        async move { source.token().await }
    });
    tokio::task::yield_now().await;
    let new = bearer_expiring_in("new-access", "new-refresh", 3600);
    source.set_token(new.clone());
    go.notify_one();
    // The waiter sees the outcome of its fetch, or the new token; either way the source now
    // serves the new one.
    let _ = waiting.await.unwrap();
    assert_eq!(source.token().await.unwrap(), new);
    assert_eq!(source.fetch_count(), 1);
}

/// The same race with a refresh that succeeds: the caller saved its token to the store before
/// `set_token`, and the refresh does not overwrite it there.
#[tokio::test(start_paused = true)]
async fn a_refresh_does_not_overwrite_in_the_store_a_token_set_meanwhile() {
    let go = Arc::new(tokio::sync::Notify::new());
    let store = MemoryStore::with_token(bearer_expiring_in("old-access", "old-refresh", -1));
    let (source, waiting) = refresh_in_flight(&store, &go).await;
    let new = bearer_expiring_in("new-access", "new-refresh", 3600);
    store.save(&new).await.unwrap();
    source.set_token(new.clone());
    go.notify_one();
    let _ = waiting.await.unwrap();
    assert_eq!(source.token().await.unwrap(), new);
    assert_eq!(store.get().unwrap(), new);
}

/// A fetch started from inside a runtime that has shut down (its task is dropped at once)
/// fails the call; it used to deadlock on the source's own lock.
#[test]
fn a_fetch_started_as_the_runtime_shuts_down_fails_instead_of_deadlocking() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let source = TokenSource::builder()
        .token(bearer_expiring_in("old-access", "old-refresh", -1))
        .fetcher(|_: Option<&Token>| async {
            Ok::<_, TokenError>(bearer_expiring_in("new-access", "new-refresh", 3600))
        });
    let source = runtime.block_on(source.build()).unwrap();
    let handle = runtime.handle().clone();
    runtime.shutdown_background();
    let (done, result) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _entered = handle.enter();
        let mut call = std::pin::pin!(source.token());
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        let outcome = loop {
            if let std::task::Poll::Ready(outcome) = call.as_mut().poll(&mut cx) {
                break outcome;
            }
            std::thread::sleep(Duration::from_millis(1));
        };
        let _ = done.send(outcome.map(|_| ()).map_err(|e| e.kind()));
    });
    let outcome = result
        .recv_timeout(Duration::from_secs(10))
        .expect("the call must end, not deadlock");
    assert_eq!(outcome, Err(TokenErrorKind::Transient));
}

/// A client-credentials fetcher that fails with `Retry-After` (`retry_after`) or without.
struct Failing {
    calls: Arc<AtomicUsize>,
    retry_after: Option<Duration>,
}

impl TokenFetcher for Failing {
    fn fetch(&self, _current: Option<&Token>) -> FetchFuture {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let error =
            TokenError::new(TokenErrorKind::Transient, None).with_retry_after(self.retry_after);
        Box::pin(async move { Err(error) })
    }

    fn fetches_new_tokens(&self) -> bool {
        true
    }
}

/// With no token yet, failed fetches back off like refreshes do: doubling from
/// `initial_backoff`, and never sooner than the server's `Retry-After`.
#[tokio::test(start_paused = true)]
async fn a_source_with_no_token_yet_backs_off_doubling_and_honours_retry_after() {
    let calls = Arc::new(AtomicUsize::new(0));
    let source = TokenSource::builder()
        .fetcher(Failing {
            calls: calls.clone(),
            retry_after: None,
        })
        .build()
        .await
        .unwrap();
    let mut expected = 0;
    for wait in [5, 10, 20] {
        assert!(source.token().await.is_err());
        expected += 1;
        assert_eq!(calls.load(Ordering::SeqCst), expected);
        tokio::time::advance(Duration::from_secs(wait - 1)).await;
        assert!(source.token().await.is_err());
        assert_eq!(calls.load(Ordering::SeqCst), expected, "still backing off");
        tokio::time::advance(Duration::from_secs(1)).await;
    }

    let calls = Arc::new(AtomicUsize::new(0));
    let source = TokenSource::builder()
        .fetcher(Failing {
            calls: calls.clone(),
            retry_after: Some(Duration::from_secs(120)),
        })
        .build()
        .await
        .unwrap();
    let error = source.token().await.unwrap_err();
    assert_eq!(error.retry_after(), Some(Duration::from_secs(120)));
    tokio::time::advance(Duration::from_secs(119)).await;
    assert!(source.token().await.is_err());
    assert_eq!(calls.load(Ordering::SeqCst), 1, "not before Retry-After");
    tokio::time::advance(Duration::from_secs(1)).await;
    assert!(source.token().await.is_err());
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

/// `replace_token` waits for a refresh in flight to save its token, then saves the caller's
/// over it: the store and the source end with the caller's token.
#[tokio::test(start_paused = true)]
async fn replace_token_wins_over_a_refresh_in_flight_in_the_store_too() {
    let go = Arc::new(tokio::sync::Notify::new());
    let store = MemoryStore::with_token(bearer_expiring_in("old-access", "old-refresh", -1));
    let (source, waiting) = refresh_in_flight(&store, &go).await;
    let new = bearer_expiring_in("new-access", "new-refresh", 3600);
    let replacing = tokio::spawn({
        let (source, new) = (source.clone(), new.clone());
        async move { source.replace_token(new).await }
    });
    tokio::task::yield_now().await;
    go.notify_one();
    let _ = waiting.await.unwrap();
    replacing.await.unwrap().unwrap();
    assert_eq!(store.get().unwrap(), new);
    assert_eq!(source.token().await.unwrap(), new);
}

/// With no token yet, a back-off longer than any the policy sets means the wall clock stepped
/// back: the source fetches again rather than wait out the step.
#[tokio::test]
async fn a_clock_stepped_back_does_not_hold_the_first_fetch_back() {
    let clock = oauth_core::clock::ManualClock::at_unix_seconds(1_700_000_000);
    let calls = Arc::new(AtomicUsize::new(0));
    let source = TokenSource::builder()
        .clock(clock.clone())
        .fetcher(Failing {
            calls: calls.clone(),
            retry_after: None,
        })
        .build()
        .await
        .unwrap();
    assert!(source.token().await.is_err());
    assert!(source.token().await.is_err());
    assert_eq!(calls.load(Ordering::SeqCst), 1, "backing off");
    clock.set(clock.now() - Duration::from_secs(3600));
    assert!(source.token().await.is_err());
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "not held back for the hour"
    );
}

/// Two sources sharing a store: while one refreshes (holding the store's lock), the other
/// replaces the token; the store ends with the replacement, saved after the refresh's token.
#[tokio::test(start_paused = true)]
async fn replace_token_on_one_source_wins_over_another_sources_refresh_in_the_store() {
    let go = Arc::new(tokio::sync::Notify::new());
    let store = MemoryStore::with_token(bearer_expiring_in("old-access", "old-refresh", -1));
    let (_refreshing, waiting) = refresh_in_flight(&store, &go).await;
    let replacing = TokenSource::builder()
        .store(store.clone())
        .build()
        .await
        .unwrap();
    let new = bearer_expiring_in("new-access", "new-refresh", 3600);
    let replace = tokio::spawn({
        let new = new.clone();
        async move { replacing.replace_token(new).await }
    });
    tokio::task::yield_now().await;
    assert_eq!(
        store.get().unwrap().access_token().secret(),
        "old-access",
        "the replacement waits for the refresh in flight"
    );
    go.notify_one();
    assert_eq!(
        waiting.await.unwrap().unwrap().access_token().secret(),
        "refreshed-access"
    );
    replace.await.unwrap().unwrap();
    assert_eq!(store.get().unwrap(), new);
}

/// SECURITY.md §4.10 #89: a stored token whose expiry is as far as a `SystemTime` goes (a
/// corrupted or hostile store) neither panics in the timer arithmetic nor stops a 401 from
/// replacing it; in real time (not paused) and in paused time.
#[test]
fn a_token_expiring_at_the_end_of_time_is_used_without_panic() {
    for paused in [false, true] {
        let mut rt = tokio::runtime::Builder::new_current_thread();
        rt.enable_all().start_paused(paused);
        rt.build().unwrap().block_on(async {
            let far = std::time::UNIX_EPOCH + Duration::from_secs(i64::MAX as u64 - 1);
            let json = format!(
                r#"{{"access_token":"far","token_type":"Bearer","expires_at":{},"refresh_token":"rt"}}"#,
                i64::MAX as u64 - 1
            );
            let stored: Token = serde_json::from_str(&json).unwrap();
            let store = MemoryStore::new();
            store.save(&stored).await.unwrap();
            let token = Token::new(AccessToken::new("far"), TokenType::Bearer)
                .with_expires_at(Some(far))
                .with_refresh_token(Some(RefreshToken::new("rt")));
            let fetches = Arc::new(AtomicUsize::new(0));
            let count = fetches.clone();
            for from_store in [false, true] {
                let count = count.clone();
                let builder = TokenSource::builder()
                    .fetcher(move |_: Option<&Token>| {
                        count.fetch_add(1, Ordering::SeqCst);
                        async { Ok::<_, TokenError>(Token::new(AccessToken::new("new"), TokenType::Bearer)) }
                    });
                let builder = if from_store {
                    builder.store(store.clone())
                } else {
                    builder.token(token.clone())
                };
                let source = builder.build().await.unwrap();
                assert_eq!(source.token().await.unwrap().access_token().secret(), "far");
                tokio::time::sleep(Duration::from_millis(if paused { 3_600_000 } else { 10 })).await;
                assert_eq!(source.token().await.unwrap().access_token().secret(), "far");
                // A 401 still replaces it.
                assert_eq!(source.refresh().await.unwrap().access_token().secret(), "new");
            }
            assert_eq!(fetches.load(Ordering::SeqCst), 2);
        });
    }
}

/// A fetcher whose first fetch waits for `go`; each answers `new<n>` (valid for an hour, with
/// refresh token `rt<n>`), and counts in `calls`.
fn first_fetch_gated(go: Arc<tokio::sync::Notify>, calls: Arc<AtomicUsize>) -> impl TokenFetcher {
    move |_: Option<&Token>| {
        let (go, calls) = (go.clone(), calls.clone());
        async move {
            let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
            if n == 1 {
                go.notified().await;
            }
            Ok::<_, TokenError>(bearer_expiring_in(
                &format!("new{n}"),
                &format!("rt{n}"),
                3600,
            ))
        }
    }
}

/// A source starting with `first` over [`first_fetch_gated`]: its gate and fetch count.
async fn gated_source(first: Token) -> (TokenSource, Arc<tokio::sync::Notify>, Arc<AtomicUsize>) {
    let go = Arc::new(tokio::sync::Notify::new());
    let calls = Arc::new(AtomicUsize::new(0));
    let source = TokenSource::builder()
        .token(first)
        .fetcher(first_fetch_gated(go.clone(), calls.clone()))
        .build()
        .await
        .unwrap();
    (source, go, calls)
}

/// `set_token` with a token that is already expired while a refresh of the old one is in
/// flight: the refresh's result is dropped (it belongs to the replaced token), and the waiters
/// get the set token refreshed, not the expired token as it was set.
#[tokio::test(start_paused = true)]
async fn an_expired_token_set_during_a_refresh_is_refreshed_before_it_is_handed_out() {
    let (source, go, calls) = gated_source(bearer_expiring_in("a", "rt-a", -1)).await;
    let first = tokio::spawn({
        let source = source.clone();
        async move { source.token().await }
    });
    tokio::task::yield_now().await;
    source.set_token(bearer_expiring_in("b", "rt-b", -1));
    let second = tokio::spawn({
        let source = source.clone();
        async move { source.token().await }
    });
    tokio::task::yield_now().await;
    go.notify_one();
    let now = TokioClock::new().now();
    for waiter in [first, second] {
        let got = waiter.await.unwrap().unwrap();
        assert_eq!(got.access_token().secret(), "new2");
        assert!(!got.is_expired(now));
    }
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn the_retry_after_a_401_never_resends_a_set_token_the_server_just_rejected() {
    let (source, go, calls) = gated_source(bearer_expiring_in("a", "rt-a", 3600)).await;
    let refreshing = tokio::spawn({
        let source = source.clone();
        async move { source.refresh().await }
    });
    tokio::task::yield_now().await;
    source.set_token(bearer_expiring_in("b", "rt-b", 3600));
    let (api, seen) = api_rejecting_token("b", r#"Bearer error="invalid_token""#);
    let layer = OAuth2Layer::new(source.clone(), "https://api.example.com").unwrap();
    let request = tokio::spawn(
        tower::Layer::layer(&layer, api).oneshot(
            Request::get("https://api.example.com/x")
                .body(Empty::<Bytes>::new())
                .unwrap(),
        ),
    );
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
    go.notify_one();
    let _ = refreshing.await.unwrap();
    let response = request.await.unwrap().unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        *seen.lock().unwrap(),
        [Some("Bearer b".to_owned()), Some("Bearer new2".to_owned())]
    );
    // The old refresh, then one for the rejected token.
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

/// `replace_token` while the source's own refresh is saving, with a store that takes no
/// refresh lock: the source orders its own writes, so the store ends with the replacement (it
/// used to end with whichever save finished last: the refreshed token of the old grant).
#[tokio::test(start_paused = true)]
async fn replace_token_wins_in_a_store_that_takes_no_lock() {
    // It keeps the trait's default `lock_refresh` (no lock); its first save is slow.
    let store = ScriptedStore::new(MemoryStore::with_token(bearer_expiring_in(
        "old", "rt-old", -1,
    )));
    store.next(Op::Save, [Action::Delay(Duration::from_millis(100))]);
    let source = TokenSource::builder()
        .store(store.clone())
        .fetcher(|_: Option<&Token>| async {
            Ok::<_, TokenError>(bearer_expiring_in("refreshed", "rt-refreshed", 3600))
        })
        .build()
        .await
        .unwrap();
    let waiting = tokio::spawn({
        let source = source.clone();
        async move { source.token().await }
    });
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(store.calls(Op::Save), 1, "the refresh is saving");
    let new = bearer_expiring_in("reauthorized", "rt-new", 3600);
    source.replace_token(new.clone()).await.unwrap();
    let _ = waiting.await.unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert_eq!(source.current().unwrap(), new);
    assert_eq!(store.inner().get().unwrap(), new);
}

/// A store that stops answering (its load, save and lock hang for ever) does not hold the
/// refresh for ever: each call is given up after `STORE_CALL_WAIT` (the lock after
/// `REFRESH_LOCK_WAIT` more), the refreshed token is used (kept in memory only), and the
/// source keeps working.
#[tokio::test(start_paused = true)]
async fn a_store_that_never_answers_does_not_wedge_the_refresh() {
    use tower_oauth2::store::{REFRESH_LOCK_WAIT, STORE_CALL_WAIT};
    for hang_lock in [false, true] {
        // It answers its first load (the source's build), and then never answers again.
        let store = ScriptedStore::new(MemoryStore::with_token(bearer_expiring_in(
            "old", "rt-old", -1,
        )));
        store.next(Op::Load, [Action::Pass]);
        for op in [Op::Load, Op::Save, Op::CompareAndSwap] {
            store.always(op, Action::Hang);
        }
        if hang_lock {
            store.always(Op::LockRefresh, Action::Hang);
        }
        let calls = Arc::new(AtomicUsize::new(0));
        let count = calls.clone();
        let source = TokenSource::builder()
            .store(store.clone())
            .fetcher(move |_: Option<&Token>| {
                let n = count.fetch_add(1, Ordering::SeqCst) + 1;
                async move {
                    Ok::<_, TokenError>(bearer_expiring_in(&format!("new{n}"), "rt-new", 3600))
                }
            })
            .build()
            .await
            .unwrap();
        let started = tokio::time::Instant::now();
        let got = source.token().await.unwrap();
        assert_eq!(got.access_token().secret(), "new1");
        // The lock (if it hangs), the store re-read, and the save: each given up in turn.
        let lock = if hang_lock {
            REFRESH_LOCK_WAIT + STORE_CALL_WAIT
        } else {
            Duration::ZERO
        };
        assert_eq!(started.elapsed(), lock + STORE_CALL_WAIT * 2);
        assert_eq!(source.current().unwrap().access_token().secret(), "new1");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
    }
}

/// A source shared by two runtimes: a short-lived one (a `current_thread` runtime made for one
/// job, or one `#[tokio::test]` of several sharing a source) starts a refresh and is dropped
/// before the refresh ends. Its fetch task is dropped unfinished; that is no failure of the token
/// endpoint (oauth-core's driving contract: `refresh_abandoned` if the future was dropped), so
/// the source does not back off: once the minimum interval since the attempt has passed, the
/// runtime still running refreshes. (It used to count a transient failure: every caller got "no
/// new token for now (token endpoint failing or unreachable, or backing off)" for
/// `initial_backoff`, an hour here, with the token endpoint never asked again.) Meanwhile a
/// caller hears that the runtime shut down, not that the token endpoint failed.
#[test]
fn a_refresh_dropped_with_its_runtime_does_not_back_off_the_other_runtimes() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let fetcher = move |_: Option<&Token>| {
        let first = counted.fetch_add(1, Ordering::SeqCst) == 0;
        async move {
            if first {
                // Never ends: its runtime is dropped first.
                std::future::pending::<()>().await;
            }
            Ok::<_, TokenError>(bearer_expiring_in("new-access", "new-refresh", 3600))
        }
    };
    let policy = RefreshPolicy::default()
        .initial_backoff(Duration::from_secs(3600))
        .min_interval(Duration::from_millis(200));
    let long_lived = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let source = long_lived
        .block_on(
            TokenSource::builder()
                .token(bearer_expiring_in("old-access", "old-refresh", -1))
                .fetcher(fetcher)
                .policy(policy)
                .build(),
        )
        .unwrap();

    let short_lived = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let started = short_lived
        .block_on(async { tokio::time::timeout(Duration::from_millis(50), source.token()).await });
    assert!(
        started.is_err(),
        "the first refresh must still be in flight"
    );
    drop(short_lived);
    assert_eq!(calls.load(Ordering::SeqCst), 1);

    let outcome = long_lived.block_on(async {
        tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                match source.token().await {
                    Ok(token) => return token.access_token().secret().to_owned(),
                    Err(error) => {
                        // Within the minimum interval: why, and no back-off.
                        assert_eq!(error.kind(), TokenErrorKind::Transient);
                        let chain = format!("{error} <- {:?}", std::error::Error::source(&error));
                        assert!(chain.contains("runtime"), "{chain}");
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                }
            }
        })
        .await
        .expect("a new token well before the hour-long back-off")
    });
    assert_eq!(outcome, "new-access");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}
