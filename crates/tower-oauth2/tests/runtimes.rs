//! The layer's freshness check relies on a tokio timer, spawned on the runtime current when a
//! token is installed, to mark the token stale when its refresh margin begins. When that timer
//! cannot run (its runtime was dropped, or has no time driver), the check reads the clock
//! instead: the token is refreshed ahead of expiry all the same, never sent expired.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Empty;
use oauth_core::clock::Clock;
use oauth_core::oauth2::{RefreshPolicy, Token, TokenType};
use oauth_core::secret::{AccessToken, RefreshToken};
use tower::{Service, ServiceExt};
use tower_oauth2::clock::TokioClock;
use tower_oauth2::source::{TokenError, TokenFetcher};
use tower_oauth2::{OAuth2Layer, TokenSource};

mod common;

/// A refreshable token valid for `valid`.
fn token(access: &str, valid: Duration) -> Token {
    Token::new(AccessToken::new(access), TokenType::Bearer)
        .with_expires_at(Some(TokioClock::new().now() + valid))
        .with_refresh_token(Some(RefreshToken::new("rt")))
}

/// Answers `new<n>`, valid for an hour, counting in `calls`. Uses no tokio timer.
fn counting_fetcher(calls: Arc<AtomicUsize>) -> impl TokenFetcher {
    move |_: Option<&Token>| {
        let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
        async move { Ok::<_, TokenError>(token(&format!("new{n}"), Duration::from_secs(3600))) }
    }
}

/// The last `Authorization` the API saw.
type Seen = Arc<Mutex<Option<String>>>;

/// The layer over `source` around an API that records the `Authorization` it saw.
fn service(
    source: &TokenSource,
) -> (
    impl Service<Request<Empty<Bytes>>, Response = Response<Empty<Bytes>>, Error = tower::BoxError>,
    Seen,
) {
    let seen = Arc::new(Mutex::new(None));
    let log = seen.clone();
    let api = tower::service_fn(move |req: Request<Empty<Bytes>>| {
        *log.lock().unwrap() = req
            .headers()
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_owned());
        async { Ok::<_, Infallible>(Response::new(Empty::<Bytes>::new())) }
    });
    let layer = OAuth2Layer::new(source.clone(), "https://api.example.com").unwrap();
    (tower::Layer::layer(&layer, api), seen)
}

/// Sends one GET through `service` (the same service each time, as an application holds
/// it: the layer keeps the token entry it last used); the `Authorization` the API saw.
async fn send(
    service: &mut (impl Service<Request<Empty<Bytes>>, Error = tower::BoxError> + Send),
    seen: &Mutex<Option<String>>,
) -> String {
    let request = Request::get("https://api.example.com/me")
        .body(Empty::new())
        .unwrap();
    service.ready().await.unwrap().call(request).await.unwrap();
    seen.lock().unwrap().take().unwrap()
}

/// Built in a start-up runtime that is then dropped (its timers with it), served from
/// another: past the token's expiry, the next request goes out with a refreshed token. It
/// used to go out with the expired one, and every request after it too.
#[test]
fn a_source_built_in_a_runtime_that_is_gone_still_refreshes_ahead_of_expiry() {
    let calls = Arc::new(AtomicUsize::new(0));
    let startup = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let source = startup.block_on(
        TokenSource::builder()
            .token(token("old", Duration::from_secs(100)))
            .fetcher(counting_fetcher(calls.clone()))
            .build(),
    );
    let source = source.unwrap();
    drop(startup);

    let serving = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .start_paused(true)
        .build()
        .unwrap();
    serving.block_on(async {
        let (mut api, seen) = service(&source);
        assert_eq!(send(&mut api, &seen).await, "Bearer old");
        tokio::time::advance(Duration::from_secs(500)).await;
        // Inside the margin the old token may still go out once while the refresh runs; it
        // had expired here, so the request waits for the refresh.
        assert_eq!(send(&mut api, &seen).await, "Bearer new1");
        assert_eq!(send(&mut api, &seen).await, "Bearer new1");
    });
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// A runtime without a time driver (no `enable_time`): no timer task is started (tokio
/// prints the panic of the probe for timers), and freshness falls back to the clock. (The grant client needs timers for
/// its deadline; this fetcher does not.)
#[test]
fn without_tokio_timers_freshness_reads_the_clock() {
    let calls = Arc::new(AtomicUsize::new(0));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    // (The source's clock is a manual one, so that a loaded machine cannot push the second
    // request past the expiry.)
    let clock = oauth_core::clock::ManualClock::new(TokioClock::new().now());
    runtime.block_on(async {
        // A one-second token with a 400 ms refresh margin.
        let source = manual_clock_source(
            &clock,
            Duration::from_secs(1),
            Duration::from_millis(400),
            &calls,
        )
        .await;
        let (mut api, seen) = service(&source);
        assert_eq!(send(&mut api, &seen).await, "Bearer old");
        clock.advance(Duration::from_millis(700));
        // In the margin: this request still carries the old token and starts the refresh.
        assert_eq!(send(&mut api, &seen).await, "Bearer old");
        settle().await;
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        assert_eq!(send(&mut api, &seen).await, "Bearer new1");
    });
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// On a runtime without timers, a source with a store builds, refreshes and saves (its store
/// calls have no deadline then); both used to panic (tokio's timeout needs timers), and in a
/// refresh the panic dropped the token just fetched.
#[test]
fn without_tokio_timers_a_source_with_a_store_builds_refreshes_and_saves() {
    use tower_oauth2::store::TokenStore;

    let calls = Arc::new(AtomicUsize::new(0));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let store = tower_oauth2::store::MemoryStore::new();
    runtime.block_on(async {
        let source = TokenSource::builder()
            .token(token("old", Duration::ZERO))
            .store(store.clone())
            .fetcher(counting_fetcher(calls.clone()))
            .build()
            .await
            .expect("built without timers");
        let fresh = source.token().await.expect("refreshed without timers");
        assert_eq!(fresh.access_token().secret(), "new1");
        let saved = store.load().await.unwrap().expect("saved");
        assert_eq!(saved.access_token().secret(), "new1");
        assert!(!source.has_unsaved_token());
    });
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// On a runtime without timers, a save that failed is not retried in the background (the
/// retry could not wait out its back-off): no task is left behind, and the token is reported
/// unsaved until the next save.
#[test]
fn without_tokio_timers_a_failed_save_schedules_no_background_retry() {
    use common::scripted_store::{Action, Op, ScriptedStore};

    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let store = ScriptedStore::new(tower_oauth2::store::MemoryStore::new());
    runtime.block_on(async {
        let source = TokenSource::builder()
            .store(store.clone())
            .build()
            .await
            .unwrap();
        store.next(Op::Save, [Action::Fail("disk full")]);
        assert!(
            source
                .replace_token(token("new", Duration::from_secs(3600)))
                .await
                .is_err()
        );
        assert!(source.has_unsaved_token());
        assert_eq!(
            tokio::runtime::Handle::current()
                .metrics()
                .num_alive_tasks(),
            0,
            "no background save"
        );
        assert_eq!(source.current().unwrap().access_token().secret(), "new");
    });
    assert_eq!(store.calls(Op::Save), 1);
}

/// The grant client cannot keep its response deadline on a runtime without timers: a typed
/// error and nothing sent (it used to panic), and a token source fetching through it reports
/// `NoRuntime`.
#[test]
fn without_tokio_timers_the_grant_client_sends_nothing_and_says_why() {
    use bytes::Bytes;
    use http_body_util::Full;
    use oauth_core::oauth2::{Client, Endpoint};
    use oauth_core::secret::ClientSecret;
    use tower_oauth2::client::GrantClientErrorKind;
    use tower_oauth2::source::TokenErrorKind;

    let sent = Arc::new(AtomicUsize::new(0));
    let counter = sent.clone();
    let endpoint = tower::service_fn(move |_: Request<Full<Bytes>>| {
        counter.fetch_add(1, Ordering::SeqCst);
        async { Ok::<_, Infallible>(Response::new(Full::new(Bytes::new()))) }
    });
    let grants = tower_oauth2::GrantClient::new(
        endpoint,
        Endpoint::new("https://as.example.com/token").unwrap(),
        Client::secret_basic("client", ClientSecret::new("s3cret")),
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let error = grants.client_credentials(None).await.unwrap_err();
        assert_eq!(error.kind(), GrantClientErrorKind::NoTimer);
        assert!(error.to_string().contains("enable_all"), "{error}");
        let source = TokenSource::builder()
            .fetcher(grants.client_credentials_fetcher(None))
            .build()
            .await
            .unwrap();
        let error = source.token().await.unwrap_err();
        assert_eq!(error.kind(), TokenErrorKind::NoRuntime);
    });
    assert_eq!(sent.load(Ordering::SeqCst), 0);
}

/// With `no_timeout` the grant client keeps no deadline, so it needs no tokio timers: on a
/// runtime without them the request is sent and its answer read.
#[test]
fn with_no_timeout_the_grant_client_needs_no_timers() {
    use bytes::Bytes;
    use http_body_util::Full;
    use oauth_core::oauth2::{Client, Endpoint};
    use oauth_core::secret::ClientSecret;

    let sent = Arc::new(AtomicUsize::new(0));
    let counter = sent.clone();
    let endpoint = tower::service_fn(move |_: Request<Full<Bytes>>| {
        counter.fetch_add(1, Ordering::SeqCst);
        async {
            let mut response = Response::new(Full::new(Bytes::from_static(
                br#"{"access_token":"at","token_type":"Bearer"}"#,
            )));
            response.headers_mut().insert(
                http::header::CONTENT_TYPE,
                http::HeaderValue::from_static("application/json"),
            );
            Ok::<_, Infallible>(response)
        }
    });
    let grants = tower_oauth2::GrantClient::new(
        endpoint,
        Endpoint::new("https://as.example.com/token").unwrap(),
        Client::secret_basic("client", ClientSecret::new("s3cret")),
    )
    .no_timeout();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let token = runtime.block_on(grants.client_credentials(None)).unwrap();
    assert_eq!(token.access_token().secret(), "at");
    assert_eq!(sent.load(Ordering::SeqCst), 1);
}

/// A runtime too busy to poll the timer that marks a token stale (here: blocked in a
/// `std::thread::sleep`) must not make an expired token read as fresh. A token that expires
/// within a second of being installed is marked stale at once (its timer would fire at most a
/// second before expiry); the layer then asks the source each time, which reads the clock: the
/// request after its expiry waits for a new token. (Left to its timer, the entry read as fresh
/// until the runtime polled that timer, and the expired token went out.)
#[test]
fn a_token_installed_within_a_second_of_expiry_is_not_sent_expired_by_a_busy_runtime() {
    let calls = Arc::new(AtomicUsize::new(0));
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async {
        let source = TokenSource::builder()
            .token(token("old", Duration::from_millis(900)))
            .fetcher(counting_fetcher(calls.clone()))
            .build()
            .await
            .unwrap();
        let (mut api, seen) = service(&source);
        // Normally "Bearer old" (valid, outside its 450 ms margin); "Bearer new1" if this
        // thread stalled past the expiry.
        let first = send(&mut api, &seen).await;
        assert!(
            ["Bearer old", "Bearer new1"].contains(&first.as_str()),
            "{first}"
        );
        // Blocks the runtime's only thread: no spawned task or timer runs meanwhile.
        std::thread::sleep(Duration::from_millis(1000));
        assert_eq!(send(&mut api, &seen).await, "Bearer new1");
    });
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// With a clock of its own (so no timer task), a warm service reads freshness from that clock
/// on each request: up to the instant the refresh margin begins the token goes out with no
/// refresh, and from that very instant the request starts one.
#[tokio::test]
async fn with_its_own_clock_a_warm_service_starts_the_refresh_at_the_instant_the_margin_begins() {
    let calls = Arc::new(AtomicUsize::new(0));
    let clock = oauth_core::clock::ManualClock::new(TokioClock::new().now());
    // A 100 s token with a 10 s margin: the margin begins 90 s on.
    let source = manual_clock_source(
        &clock,
        Duration::from_secs(100),
        Duration::from_secs(10),
        &calls,
    )
    .await;
    let (mut api, seen) = service(&source);
    assert_eq!(send(&mut api, &seen).await, "Bearer old");
    clock.advance(Duration::from_secs(90) - Duration::from_nanos(1));
    assert_eq!(send(&mut api, &seen).await, "Bearer old");
    settle().await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        0,
        "a nanosecond before the margin"
    );
    clock.advance(Duration::from_nanos(1));
    // In the margin: this request still carries the old token and starts the refresh.
    assert_eq!(send(&mut api, &seen).await, "Bearer old");
    settle().await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "at the instant the margin begins"
    );
    assert_eq!(send(&mut api, &seen).await, "Bearer new1");
}

/// A token entry's timer task ends with the entry: a source whose token is replaced many times
/// (each a long-lived token, its timer an hour away) keeps no sleeping task per token it held.
#[tokio::test]
async fn the_timer_task_of_a_replaced_token_ends_with_it() {
    let calls = Arc::new(AtomicUsize::new(0));
    let source = TokenSource::builder()
        .token(token("t0", Duration::from_secs(3600)))
        .fetcher(counting_fetcher(calls.clone()))
        .build()
        .await
        .unwrap();
    settle().await;
    let metrics = tokio::runtime::Handle::current().metrics();
    let before = metrics.num_alive_tasks();
    for n in 1..=100 {
        source.set_token(token(&format!("t{n}"), Duration::from_secs(3600)));
    }
    settle().await;
    let after = metrics.num_alive_tasks();
    assert!(
        after <= before + 1,
        "alive tasks: {before} before, {after} after"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0);
}

/// A source on `clock` (so with no timer task) holding the refreshable token `old`, valid for
/// `valid` from now, refreshed `margin` before its expiry by a fetcher counting in `calls`.
async fn manual_clock_source(
    clock: &oauth_core::clock::ManualClock,
    valid: Duration,
    margin: Duration,
    calls: &Arc<AtomicUsize>,
) -> TokenSource {
    let old = Token::new(AccessToken::new("old"), TokenType::Bearer)
        .with_expires_at(Some(clock.now() + valid))
        .with_refresh_token(Some(RefreshToken::new("rt")));
    TokenSource::builder()
        .clock(clock.clone())
        .token(old)
        .policy(RefreshPolicy::default().margin(margin))
        .fetcher(counting_fetcher(calls.clone()))
        .build()
        .await
        .unwrap()
}

/// Lets the tasks spawned meanwhile run.
async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

/// On a runtime without timers, the in-memory stores' refresh lock still works, with no
/// deadline (none can be kept): it is taken without a panic, a clone's `lock_refresh` waits
/// while it is held, and takes it once it is dropped. So token sources over clones of one
/// store still refresh one at a time there. (Bounded: a fixed number of scheduler turns, no
/// wait for ever.)
#[test]
fn without_tokio_timers_clones_of_a_memory_store_still_refresh_one_at_a_time() {
    use tower_oauth2::store::{CallbackStore, MemoryStore, TokenStore};

    async fn turns(n: usize) {
        for _ in 0..n {
            tokio::task::yield_now().await;
        }
    }

    /// A store and a clone of it, named.
    type Clones = (&'static str, Box<dyn TokenStore>, Box<dyn TokenStore>);

    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    runtime.block_on(async {
        let memory = MemoryStore::new();
        let callback = CallbackStore::new(|_: &Token| Ok(()));
        let stores: [Clones; 2] = [
            ("MemoryStore", Box::new(memory.clone()), Box::new(memory)),
            (
                "CallbackStore",
                Box::new(callback.clone()),
                Box::new(callback),
            ),
        ];
        for (what, store, clone) in stores {
            let held = store.lock_refresh().await.expect("locked without timers");
            assert_eq!(format!("{held:?}"), "RefreshLock { held: true }", "{what}");
            let waiting = tokio::spawn(async move {
                let lock = clone.lock_refresh().await.unwrap();
                format!("{lock:?}")
            });
            turns(50).await;
            assert!(!waiting.is_finished(), "{what}: both hold the refresh lock");
            drop(held);
            turns(50).await;
            assert!(waiting.is_finished(), "{what}: the lock was not handed on");
            assert_eq!(
                waiting.await.expect("no panic taking the lock"),
                "RefreshLock { held: true }",
                "{what}"
            );
        }
    });
}
