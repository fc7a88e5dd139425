//! Review of the store-following token source (a store and no fetcher): a look at a store that
//! hangs keeps no request waiting past the 5 s the first one waits, and the error kinds a
//! follower answers with say what is wrong.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Empty;
use oauth_core::clock::ManualClock;
use oauth_core::oauth2::{Token, TokenType};
use oauth_core::secret::{AccessToken, RefreshToken};
use tower::{Layer, ServiceExt};
use tower_oauth2::source::TokenErrorKind;
use tower_oauth2::store::{MemoryStore, StoreError, StoreFuture, TokenStore};
use tower_oauth2::{OAuth2Layer, TokenSource};

mod common;
use common::{API, access_token, api_rejecting_token, bearer_expiring_in};

/// A memory store whose `load` hangs for ever while `hang` is set, and fails while `fail`
/// is, counting loads.
#[derive(Clone, Default)]
struct Hanging {
    inner: MemoryStore,
    hang: Arc<AtomicBool>,
    fail: Arc<AtomicBool>,
    loads: Arc<AtomicUsize>,
}

impl Hanging {
    fn holding(token: Token) -> Self {
        Self {
            inner: MemoryStore::with_token(token),
            ..Self::default()
        }
    }
}

impl TokenStore for Hanging {
    fn load(&self) -> StoreFuture<'_, Option<Token>> {
        self.loads.fetch_add(1, Ordering::SeqCst);
        if self.hang.load(Ordering::SeqCst) {
            return Box::pin(std::future::pending());
        }
        if self.fail.load(Ordering::SeqCst) {
            return Box::pin(async {
                Err(StoreError::new(
                    "load",
                    Some("SENTINEL-permission-denied".into()),
                ))
            });
        }
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
}

async fn follower(store: &Hanging) -> TokenSource {
    TokenSource::builder()
        .store(store.clone())
        .build()
        .await
        .unwrap()
}

fn get() -> Request<Empty<Bytes>> {
    Request::get(format!("{API}/v1/me"))
        .body(Empty::new())
        .unwrap()
}

/// Past expiry, with a look at a hung store in flight, a second request waited for the look
/// itself (up to the store call's 120 s deadline) instead of the 5 s the request that started
/// it waits. Failed before: the second `token()` was still waiting after 6 s.
#[tokio::test(start_paused = true)]
async fn past_expiry_no_request_waits_more_than_5_s_for_a_hung_look() {
    let store = Hanging::holding(bearer_expiring_in("a1", "r1", 10));
    let source = follower(&store).await;
    tokio::time::sleep(Duration::from_secs(11)).await;
    store.hang.store(true, Ordering::SeqCst);

    let first = tokio::spawn({
        let source = source.clone();
        async move { source.token().await }
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    let started = tokio::time::Instant::now();
    let second = tokio::time::timeout(Duration::from_secs(6), source.token())
        .await
        .expect("the second request waits for the hung look no longer than the first");
    assert_eq!(second.unwrap_err().kind(), TokenErrorKind::NoToken);
    assert!(
        started.elapsed() <= Duration::from_secs(4),
        "not past the 5 s the look's first request waits: {:?}",
        started.elapsed()
    );
    let first = first.await.unwrap();
    assert_eq!(first.unwrap_err().kind(), TokenErrorKind::NoToken);
    // Later requests do not wait again for the same hung look.
    let started = tokio::time::Instant::now();
    let third = source.token().await.unwrap_err();
    assert_eq!(third.kind(), TokenErrorKind::NoToken);
    assert_eq!(started.elapsed(), Duration::ZERO);
    assert_eq!(store.loads.load(Ordering::SeqCst), 2, "one look");
}

/// A 401 during a look at a hung store: the first 401 waits for it at most 5 s; a 401 after
/// those 5 s, for the same hung look, goes back at once. Failed before: it waited 5 s more.
#[tokio::test(start_paused = true)]
async fn a_401_does_not_wait_again_for_a_hung_look() {
    let store = Hanging::holding(bearer_expiring_in("a1", "r1", 3600));
    let source = follower(&store).await;
    store.hang.store(true, Ordering::SeqCst);
    let (api, seen) = api_rejecting_token("a1", r#"Bearer error="invalid_token""#);
    let svc = OAuth2Layer::new(source.clone(), API).unwrap().layer(api);

    let started = tokio::time::Instant::now();
    let response = svc.clone().oneshot(get()).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(started.elapsed(), Duration::from_secs(5));

    let started = tokio::time::Instant::now();
    let response = svc.clone().oneshot(get()).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        started.elapsed(),
        Duration::ZERO,
        "the look has hung for 5 s already"
    );
    assert_eq!(seen.lock().unwrap().len(), 2);
    assert_eq!(store.loads.load(Ordering::SeqCst), 2, "one look");
    // The token stays in use.
    assert_eq!(source.current().unwrap().access_token().secret(), "a1");
}

/// Polls `future` to its end on this thread, with no tokio runtime (an application's own
/// executor).
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..1000 {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        std::thread::yield_now();
    }
    panic!("the future did not finish");
}

/// Outside a tokio runtime a follower cannot look at its store: its expired token's error
/// says so (`NoRuntime`, as a source with a fetcher says), not "authorize first" (`NoToken`),
/// and nothing panics or hangs. Failed before: `NoToken`.
#[test]
fn without_a_runtime_a_follower_past_expiry_says_it_needs_one() {
    let clock = ManualClock::at_unix_seconds(1_700_000_000);
    let token = Token::new(AccessToken::new("a1"), TokenType::Bearer).with_expires_at(Some(
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_010),
    ));
    let store = Hanging::holding(token);
    let source = block_on(
        TokenSource::builder()
            .store(store.clone())
            .clock(clock.clone())
            .build(),
    )
    .unwrap();
    assert_eq!(
        block_on(source.token()).unwrap().access_token().secret(),
        "a1"
    );
    clock.advance(Duration::from_secs(11));
    let error = block_on(source.token()).unwrap_err();
    assert_eq!(error.kind(), TokenErrorKind::NoRuntime);
    // Inside a runtime (with timers) it looks, and takes up the store's new token.
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        store
            .inner
            .save(
                &Token::new(AccessToken::new("a2"), TokenType::Bearer).with_expires_at(Some(
                    SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_003_600),
                )),
            )
            .await
            .unwrap();
        assert_eq!(access_token(&source).await, "a2");
    });
}

/// A runtime without timers: a follower looks (with no deadline, as every store call there)
/// and takes up the new token; no panic.
#[test]
fn without_timers_a_follower_takes_up_the_new_token() {
    let clock = ManualClock::at_unix_seconds(1_700_000_000);
    let at = |secs| SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
    let store = Hanging::holding(
        Token::new(AccessToken::new("a1"), TokenType::Bearer)
            .with_expires_at(Some(at(1_700_000_010))),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let source = TokenSource::builder()
            .store(store.clone())
            .clock(clock.clone())
            .build()
            .await
            .unwrap();
        clock.advance(Duration::from_secs(11));
        store
            .inner
            .save(
                &Token::new(AccessToken::new("a2"), TokenType::Bearer)
                    .with_expires_at(Some(at(1_700_003_600))),
            )
            .await
            .unwrap();
        assert_eq!(access_token(&source).await, "a2");
    });
}

/// Collects what the log subscriber writes.
#[derive(Clone, Default)]
struct Log(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Log {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// A follower whose store cannot be read fails past expiry with `NoToken` ("authorize
/// first"): the log must say why, with the store's error, or an operator has nothing to go
/// on. (No token in it.) Failed before: the look's failed read was dropped without a word.
#[tokio::test(start_paused = true)]
async fn a_look_that_cannot_read_the_store_says_so_in_the_log() {
    let log = Log::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let store = Hanging::holding(bearer_expiring_in("SENTINEL-a1", "SENTINEL-r1", 10));
    let source = follower(&store).await;
    store.fail.store(true, Ordering::SeqCst);
    tokio::time::sleep(Duration::from_secs(11)).await;
    let error = source.token().await.unwrap_err();
    assert_eq!(error.kind(), TokenErrorKind::NoToken);
    let text = String::from_utf8(log.0.lock().unwrap().clone()).unwrap();
    assert!(
        text.contains("WARN") && text.contains("SENTINEL-permission-denied"),
        "{text}"
    );
    assert!(!text.contains("SENTINEL-a1") && !text.contains("SENTINEL-r1"));
}
