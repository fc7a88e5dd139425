//! Review of the store-following token source (a store and no fetcher): a look at a store that
//! hangs keeps no request waiting past the 5 s the first one waits; the error kinds and logs
//! of a follower say what is wrong; 401s at once make one look; and a seeded walk of saves,
//! store faults, `set_token`, refusals and requests keeps every answer timely and live.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::future::Future;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::Empty;
use oauth_core::clock::{Clock, ManualClock};
use oauth_core::oauth2::{Token, TokenType};
use oauth_core::secret::{AccessToken, RefreshToken};
use tower::{Layer, ServiceExt};
use tower_oauth2::source::TokenErrorKind;
use tower_oauth2::store::{MemoryStore, TokenStore};
use tower_oauth2::{OAuth2Layer, TokenSource};

mod common;
use common::log_capture::capture;
use common::scripted_store::{Action, Op, ScriptedStore, follower};
use common::{
    API, access_token, api_get, api_rejecting_token, bearer_expiring_in, dpop_key, dpop_token,
    settle,
};

/// The store of these tests: a memory store whose loads (counted) and saves go as scripted.
type Hanging = ScriptedStore;

/// Loads from now on hang for ever (`hang`), or else fail (`fail`), or else answer after a
/// second (`slow`), or else pass.
fn script_loads(store: &Hanging, hang: bool, fail: bool, slow: bool) {
    let action = if hang {
        Action::Hang
    } else if fail {
        Action::Fail("SENTINEL-permission-denied")
    } else if slow {
        Action::Delay(Duration::from_secs(1))
    } else {
        Action::Pass
    };
    store.always(Op::Load, action);
}

/// Past expiry, with a look at a hung store in flight, a second request waited for the look
/// itself (up to the store call's 120 s deadline) instead of the 5 s the request that started
/// it waits. Failed before: the second `token()` was still waiting after 6 s.
#[tokio::test(start_paused = true)]
async fn past_expiry_no_request_waits_more_than_5_s_for_a_hung_look() {
    let store = ScriptedStore::holding(bearer_expiring_in("a1", "r1", 10));
    let source = follower(&store).await;
    tokio::time::sleep(Duration::from_secs(11)).await;
    script_loads(&store, true, false, false);

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
    assert_eq!(store.calls(Op::Load), 2, "one look");
}

/// A 401 during a look at a hung store: the first 401 waits for it at most 5 s; a 401 after
/// those 5 s, for the same hung look, goes back at once. Failed before: it waited 5 s more.
#[tokio::test(start_paused = true)]
async fn a_401_does_not_wait_again_for_a_hung_look() {
    let store = ScriptedStore::holding(bearer_expiring_in("a1", "r1", 3600));
    let source = follower(&store).await;
    script_loads(&store, true, false, false);
    let (api, seen) = api_rejecting_token("a1", r#"Bearer error="invalid_token""#);
    let svc = OAuth2Layer::new(source.clone(), API).unwrap().layer(api);

    let started = tokio::time::Instant::now();
    let response = svc.clone().oneshot(api_get()).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(started.elapsed(), Duration::from_secs(5));

    let started = tokio::time::Instant::now();
    let response = svc.clone().oneshot(api_get()).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        started.elapsed(),
        Duration::ZERO,
        "the look has hung for 5 s already"
    );
    assert_eq!(seen.lock().unwrap().len(), 2);
    assert_eq!(store.calls(Op::Load), 2, "one look");
    // The token stays in use.
    assert_eq!(source.current().unwrap().access_token().secret(), "a1");
}

/// Polls `future` to its end on this thread, with no tokio runtime (an application's own
/// executor).
fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    // (Polled every millisecond, for at most 10 s.)
    for _ in 0..10_000 {
        if let Poll::Ready(output) = future.as_mut().poll(&mut cx) {
            return output;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    panic!("the future did not finish");
}

/// A follower (a store, no fetcher, its own clock) whose token served before its expiry,
/// asked again past it outside a tokio runtime: it cannot look at its store, and its error
/// says so (`NoRuntime`, as a source with a fetcher says), not "authorize first" (`NoToken`).
fn follower_past_expiry_outside_a_runtime() -> (ScriptedStore, TokenSource) {
    let clock = ManualClock::at_unix_seconds(1_700_000_000);
    let token = Token::new(AccessToken::new("a1"), TokenType::Bearer).with_expires_at(Some(
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_700_000_010),
    ));
    let store = ScriptedStore::holding(token);
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
    (store, source)
}

fn runtime_with_timers() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
}

/// Outside a tokio runtime a follower past expiry says it needs one, and nothing panics or
/// hangs (failed before: `NoToken`). Inside a runtime (with timers) it looks, and takes up
/// the store's new token.
#[test]
fn without_a_runtime_a_follower_past_expiry_says_it_needs_one() {
    let (store, source) = follower_past_expiry_outside_a_runtime();
    runtime_with_timers().block_on(async {
        store
            .inner()
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

/// The same follower, inside a runtime, with nothing new in its store: the error is now
/// `NoToken` (its look found nothing), not the `NoRuntime` it got outside one, which would
/// tell the application to fix a runtime it already has.
#[test]
fn a_follower_that_needed_a_runtime_says_no_token_once_it_has_one() {
    let (store, source) = follower_past_expiry_outside_a_runtime();
    let loads = store.calls(Op::Load);
    let error = runtime_with_timers().block_on(source.token()).unwrap_err();
    assert_eq!(store.calls(Op::Load), loads + 1, "it looked");
    assert_eq!(error.kind(), TokenErrorKind::NoToken);
}

/// A runtime without timers: a follower looks (with no deadline, as every store call there)
/// and takes up the new token; no panic.
#[test]
fn without_timers_a_follower_takes_up_the_new_token() {
    let clock = ManualClock::at_unix_seconds(1_700_000_000);
    let at = |secs| SystemTime::UNIX_EPOCH + Duration::from_secs(secs);
    let store = ScriptedStore::holding(
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
            .inner()
            .save(
                &Token::new(AccessToken::new("a2"), TokenType::Bearer)
                    .with_expires_at(Some(at(1_700_003_600))),
            )
            .await
            .unwrap();
        assert_eq!(access_token(&source).await, "a2");
    });
}

/// A follower whose store cannot be read fails past expiry with `NoToken` ("authorize
/// first"): the log must say why, with the store's error, or an operator has nothing to go
/// on. (No token in it.) Failed before: the look's failed read was dropped without a word.
#[tokio::test(start_paused = true)]
async fn a_look_that_cannot_read_the_store_says_so_in_the_log() {
    let (log, _guard) = capture();
    let store = ScriptedStore::holding(bearer_expiring_in("SENTINEL-a1", "SENTINEL-r1", 10));
    let source = follower(&store).await;
    script_loads(&store, false, true, false);
    tokio::time::sleep(Duration::from_secs(11)).await;
    let error = source.token().await.unwrap_err();
    assert_eq!(error.kind(), TokenErrorKind::NoToken);
    let text = log.text();
    assert!(
        text.contains("WARN") && text.contains("SENTINEL-permission-denied"),
        "{text}"
    );
    assert!(!text.contains("SENTINEL-a1") && !text.contains("SENTINEL-r1"));
}

/// Twenty requests refused at once (while the look at a slow store is in flight): one look,
/// and every request sent again with the store's new token; no storm. (Passes before.)
#[tokio::test(start_paused = true)]
async fn many_401s_at_once_make_one_look_and_every_request_retries_with_the_new_token() {
    let store = ScriptedStore::holding(bearer_expiring_in("a1", "r1", 3600));
    let source = follower(&store).await;
    TokenStore::save(store.inner(), &bearer_expiring_in("a2", "r2", 7200))
        .await
        .unwrap();
    script_loads(&store, false, false, true);
    let (api, seen) = api_rejecting_token("a1", r#"Bearer error="invalid_token""#);
    let svc = OAuth2Layer::new(source.clone(), API).unwrap().layer(api);
    let requests: Vec<_> = (0..20)
        .map(|_| tokio::spawn(svc.clone().oneshot(api_get())))
        .collect();
    for request in requests {
        assert_eq!(request.await.unwrap().unwrap().status(), StatusCode::OK);
    }
    assert_eq!(store.calls(Op::Load), 2, "one look");
    let seen = seen.lock().unwrap();
    let with = |token: &str| {
        seen.iter()
            .filter(|auth| auth.as_deref() == Some(&format!("Bearer {token}")))
            .count()
    };
    assert_eq!((with("a1"), with("a2")), (20, 20));
}

/// A follower with the DPoP key takes up a token bound to it (a follower without it does
/// not: store_follower.rs). (Passes before.)
#[tokio::test(start_paused = true)]
async fn a_follower_with_the_dpop_key_takes_up_a_token_bound_to_it() {
    let store = ScriptedStore::holding(dpop_token("tok-1"));
    let source = TokenSource::builder()
        .store(store.clone())
        .dpop(dpop_key())
        .build()
        .await
        .unwrap();
    TokenStore::save(store.inner(), &dpop_token("tok-2"))
        .await
        .unwrap();
    let token = source.refresh().await.unwrap();
    assert_eq!(token.access_token().secret(), "tok-2");
    assert_eq!(*token.token_type(), TokenType::DPoP);
}

/// A seeded walk: another process saves new tokens (some expired, some short-lived) while the
/// store is sometimes slow or failing, and the application asks a follower for tokens and
/// refreshes. Each answer comes within 5 s, is never an expired token nor one the store never
/// held, and once the store answers again, a follower whose token has expired takes up the
/// store's live token at the next request that is a look interval after the last. (Passes
/// before, but for the waits fixed above.)
#[tokio::test(start_paused = true)]
async fn a_follower_survives_a_seeded_walk_of_saves_and_store_faults() {
    for seed in 1..=40u64 {
        seeded_walk(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15)).await;
    }
}

async fn seeded_walk(mut seed: u64) {
    let mut next = |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    // (Tokens dated by one clock made now, as the follower's: a clock made later, as
    // `bearer_expiring_in` makes, reads the system time, which the paused tokio clock does
    // not move.)
    let clock = tower_oauth2::clock::TokioClock::new();
    let dated = |name: &str, life: i64| {
        let now = clock.now();
        let at = if life >= 0 {
            now + Duration::from_secs(life.unsigned_abs())
        } else {
            now - Duration::from_secs(life.unsigned_abs())
        };
        Token::new(AccessToken::new(name), TokenType::Bearer)
            .with_refresh_token(Some(RefreshToken::new("r")))
            .with_expires_at(Some(at))
    };
    let store = ScriptedStore::holding(dated("t0", 30));
    let source = follower(&store).await;
    // An API that refuses tokens whose name ends in 0, 4 or 8 (and `t0`).
    let refused = |auth: &str| auth.ends_with(['0', '4', '8']);
    let seen: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
    let api = {
        let seen = seen.clone();
        tower::service_fn(move |request: Request<Empty<Bytes>>| {
            let auth = common::authorization_of(&request).unwrap_or_default();
            let mut response = http::Response::new(Empty::<Bytes>::new());
            if refused(&auth) {
                *response.status_mut() = StatusCode::UNAUTHORIZED;
                response.headers_mut().insert(
                    "www-authenticate",
                    r#"Bearer error="invalid_token""#.parse().unwrap(),
                );
            }
            seen.lock().unwrap().push(auth);
            async move { Ok::<_, std::convert::Infallible>(response) }
        })
    };
    let svc = OAuth2Layer::new(source.clone(), API).unwrap().layer(api);
    let mut saved = vec!["t0".to_owned()];
    for step in 0..1500 {
        match next(10) {
            0 => {
                let name = format!("t{step}");
                // Mostly live for 20 s to 2 min; sometimes born expired.
                let life = if next(8) == 0 {
                    -1
                } else {
                    20 + next(100) as i64
                };
                TokenStore::save(store.inner(), &dated(&name, life))
                    .await
                    .unwrap();
                saved.push(name);
            }
            1 => {
                let (slow, fail, hang) = (next(3) == 0, next(4) == 0, next(10) == 0);
                script_loads(&store, hang, fail, slow);
            }
            2 if next(10) == 0 => {
                // The application sets a token of its own (not saved).
                let name = format!("set{step}");
                source.set_token(dated(&name, 20 + next(100) as i64));
                saved.push(name);
            }
            3 => {
                // A request through the layer to an API that refuses some tokens (every
                // fourth one saved): at most one retry, with another token, within 10 s (a
                // wait for the token, a wait for the look after the 401).
                let before = seen.lock().unwrap().len();
                let started = tokio::time::Instant::now();
                let response = svc.clone().oneshot(api_get()).await;
                assert!(started.elapsed() <= Duration::from_secs(10), "step {step}");
                let seen = seen.lock().unwrap();
                let sent = &seen[before..];
                match response {
                    Ok(response) => {
                        assert!(sent.len() == 1 || sent.len() == 2, "step {step}: {sent:?}");
                        if let [first, second] = sent {
                            assert_ne!(first, second, "step {step}");
                        }
                        if response.status() == StatusCode::UNAUTHORIZED {
                            assert!(refused(sent.last().unwrap()), "step {step}");
                        }
                    }
                    Err(_) => assert!(sent.is_empty(), "step {step}"),
                }
            }
            2..=7 => {
                let started = tokio::time::Instant::now();
                let answer = if next(5) == 0 {
                    source.refresh().await
                } else {
                    source.token().await
                };
                assert!(
                    started.elapsed() <= Duration::from_secs(5),
                    "step {step}: {:?}",
                    started.elapsed()
                );
                if let Ok(token) = answer {
                    assert!(!token.is_expired(clock.now()), "step {step}");
                    assert!(
                        saved.iter().any(|s| s == token.access_token().secret()),
                        "step {step}"
                    );
                }
            }
            _ => {
                tokio::time::sleep(Duration::from_millis(100 * (1 + next(40)))).await;
            }
        }
        // Liveness: a store that answers, holding a live token, is followed.
        if step % 100 == 99 {
            script_loads(&store, false, false, false);
            let live = dated(&format!("live{step}"), 600);
            TokenStore::save(store.inner(), &live).await.unwrap();
            saved.push(format!("live{step}"));
            // (Past the look interval, and past any token the follower holds: at most 2 min.)
            tokio::time::sleep(Duration::from_secs(121)).await;
            // (A token held outside its refresh margin is used as it is.)
            let renewing = source.current().is_none_or(|held| {
                held.expires_at()
                    .is_some_and(|at| at <= clock.now() + Duration::from_secs(60))
            });
            let token = source.token().await.unwrap();
            if renewing {
                settle().await;
                let token = source.token().await.unwrap();
                assert_eq!(token.access_token().secret(), format!("live{step}"));
            } else {
                assert!(!token.is_expired(clock.now()));
            }
        }
    }
}

/// A follower given a token at start, whose store could not be read then (a database not up
/// yet) and cannot be written (read-only to this process): the given token is used, and once
/// the store answers, the tokens another process saves there are taken up as they come.
/// Failed before: the source had never seen the store (`store_view` unknown), and a look that
/// knows nothing of the store found nothing in it, ever: `NoToken` from the given token's
/// expiry on, until restarted.
#[tokio::test(start_paused = true)]
async fn a_follower_whose_store_could_not_be_read_at_start_follows_it_later() {
    let store = ScriptedStore::new(MemoryStore::new());
    script_loads(&store, false, true, false);
    store.always(Op::Save, Action::Fail("read-only"));
    let source = TokenSource::builder()
        .token(bearer_expiring_in("given", "r0", 10))
        .store(store.clone())
        .build()
        .await
        .unwrap();
    assert_eq!(access_token(&source).await, "given");
    assert!(source.has_unsaved_token());
    script_loads(&store, false, false, false);
    TokenStore::save(store.inner(), &bearer_expiring_in("a2", "r2", 3600))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(11)).await;
    assert_eq!(access_token(&source).await, "a2");
    assert!(!source.has_unsaved_token());
}

/// A 401 (here `refresh()`) on a thread with no tokio runtime, while a look started in a
/// runtime is in flight: the caller waits for the look, with no timer (it has none), and
/// nothing panics. Failed before the fix (of the hung-look waits, which made the caller wait
/// until the look's deadline with a tokio timer it could not have): a panic, "there is no
/// reactor running".
#[test]
fn a_caller_with_no_runtime_waits_for_a_look_in_flight_without_a_timer() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .unwrap();
    let store = ScriptedStore::holding(bearer_expiring_in("a1", "r1", 3600));
    let source = runtime.block_on(follower(&store));
    script_loads(&store, false, false, true);
    runtime.block_on(async {
        TokenStore::save(store.inner(), &bearer_expiring_in("a2", "r2", 7200))
            .await
            .unwrap();
    });
    // A look, started in the runtime, reads the slow store (a second).
    let looking = runtime.spawn({
        let source = source.clone();
        async move { source.refresh().await }
    });
    std::thread::sleep(Duration::from_millis(200));
    let token = block_on(source.refresh()).unwrap();
    assert_eq!(token.access_token().secret(), "a2");
    let token = runtime.block_on(looking).unwrap().unwrap();
    assert_eq!(token.access_token().secret(), "a2");
}
