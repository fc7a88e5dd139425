//! Soak: many GETs through `OAuth2Layer` around a real hyper-util client, against a loopback API
//! server that validates every token, with one-second access tokens from a loopback token
//! endpoint that rotates refresh tokens.
//!
//! Asserts: every client-visible response is 200; no request reached the API without a valid,
//! unexpired token; no refresh token was ever replayed; the number of refreshes matches the
//! elapsed time divided by the refresh period; the resident set does not grow after a warm-up.
//!
//! `SOAK_REQUESTS` overrides the number of requests (default 50,000), `SOAK_SECONDS` the time
//! they are spread over (default 10 s; slower machines simply take longer). CI runs it with the
//! rest of `cargo test --workspace --all-features`, a debug build; a release build
//! (`cargo test --release -p interop-tests --test soak_oauth2`) takes less time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod loopback;

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::Request;
use http_body_util::{BodyExt, Empty};
use oauth_core::oauth2::{Client, Endpoint, RefreshPolicy, Transport};
use oauth_core::secret::{ClientSecret, RefreshToken};
use tower::{Service, ServiceBuilder, ServiceExt};
use tower_oauth2::policy::RetryOn401;
use tower_oauth2::{GrantClient, OAuth2Layer, TokenSource};

use loopback::{Received, form, respond};

const LIFETIME: Duration = Duration::from_secs(1);
const CONCURRENCY: usize = 64;
/// Refresh this long before expiry: room for a request that picked the old token just before the
/// refresh, on a loaded machine, to reach the API while that token is still valid.
const MARGIN: Duration = Duration::from_millis(400);

fn requests() -> usize {
    std::env::var("SOAK_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000)
}

/// The requests are spread over at least this long (a release build could send 50,000 in under a
/// second, which would leave no room for the one-second tokens to expire and be refreshed).
fn duration() -> Duration {
    let secs = std::env::var("SOAK_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10.0);
    Duration::from_secs_f64(secs)
}

/// The authorization server's view: live access tokens, the one valid refresh token, counters.
#[derive(Default)]
struct Authority {
    access: Mutex<HashMap<String, Instant>>,
    refresh: Mutex<String>,
    issued: AtomicU64,
    refreshes: AtomicU64,
    replayed_refresh: AtomicU64,
    api_ok: AtomicU64,
    api_missing: AtomicU64,
    api_invalid: AtomicU64,
}

impl Authority {
    fn token_endpoint(&self, req: Received) -> http::Response<http_body_util::Full<Bytes>> {
        let params = form(&req.body);
        let get = |name: &str| {
            params
                .iter()
                .find(|(n, _)| n == name)
                .map(|(_, v)| v.as_str())
        };
        if get("grant_type") != Some("refresh_token") {
            return respond(
                400,
                "application/json",
                r#"{"error":"unsupported_grant_type"}"#,
            );
        }
        let mut current = self.refresh.lock().unwrap();
        if get("refresh_token") != Some(current.as_str()) {
            self.replayed_refresh.fetch_add(1, Ordering::Relaxed);
            return respond(400, "application/json", r#"{"error":"invalid_grant"}"#);
        }
        let n = self.issued.fetch_add(1, Ordering::Relaxed) + 1;
        self.refreshes.fetch_add(1, Ordering::Relaxed);
        let access = format!("at-{n}");
        let refresh = format!("rt-{n}");
        *current = refresh.clone();
        drop(current);
        let now = Instant::now();
        let mut live = self.access.lock().unwrap();
        // Forget tokens long expired, so the map stays small.
        live.retain(|_, expiry| *expiry + Duration::from_secs(5) > now);
        live.insert(access.clone(), now + LIFETIME);
        drop(live);
        respond(
            200,
            "application/json",
            format!(
                r#"{{"access_token":"{access}","token_type":"Bearer","expires_in":1,"refresh_token":"{refresh}"}}"#
            ),
        )
    }

    fn api(&self, req: Received) -> http::Response<http_body_util::Full<Bytes>> {
        let token = req
            .parts
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "));
        let Some(token) = token else {
            self.api_missing.fetch_add(1, Ordering::Relaxed);
            return respond(401, "text/plain", "no token");
        };
        let valid = self
            .access
            .lock()
            .unwrap()
            .get(token)
            .is_some_and(|expiry| Instant::now() < *expiry);
        if valid {
            self.api_ok.fetch_add(1, Ordering::Relaxed);
            respond(200, "text/plain", "ok")
        } else {
            self.api_invalid.fetch_add(1, Ordering::Relaxed);
            let mut response = respond(401, "text/plain", "expired");
            response.headers_mut().insert(
                "www-authenticate",
                http::HeaderValue::from_static(r#"Bearer error="invalid_token""#),
            );
            response
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_thousand_requests_with_one_second_tokens() {
    tokio::time::timeout(Duration::from_secs(170), soak())
        .await
        .expect("the soak test did not finish in time");
}

async fn soak() {
    let total = requests();
    let authority = Arc::new(Authority::default());
    *authority.refresh.lock().unwrap() = "rt-0".into();
    let token_server = {
        let a = authority.clone();
        loopback::serve(move |req| {
            let response = a.token_endpoint(req);
            async move { response }
        })
        .await
    };
    let api_server = {
        let a = authority.clone();
        loopback::serve(move |req| {
            let response = a.api(req);
            async move { response }
        })
        .await
    };

    let endpoint =
        Endpoint::with_transport(&token_server.url("/token"), Transport::AllowLoopbackHttp)
            .unwrap();
    let grants = GrantClient::new(
        loopback::client(),
        endpoint,
        Client::secret_basic("soak-client", ClientSecret::new("soak-secret")),
    )
    .timeout(Duration::from_secs(5));
    let first = grants
        .refresh(&RefreshToken::new("rt-0"), None)
        .await
        .unwrap();
    let source = TokenSource::builder()
        .token(first)
        .fetcher(grants.refresh_fetcher())
        .policy(
            RefreshPolicy::default()
                .margin(MARGIN)
                .min_interval(Duration::from_millis(100))
                .initial_backoff(Duration::from_millis(100))
                .max_backoff(Duration::from_secs(1)),
        )
        .build()
        .await
        .unwrap();
    let layer = OAuth2Layer::new_dangerous_http_loopback(source.clone(), &api_server.origin())
        .unwrap()
        .retry_on_401(RetryOn401::InvalidToken);
    let svc = ServiceBuilder::new()
        .layer(layer)
        .service(loopback::client::<Empty<Bytes>>());
    let url = api_server.url("/resource");

    let warm_up = total / 10;
    let non_200 = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    // Open-loop pacing: request `i` of a batch starts no earlier than `start + i * gap`, with at
    // most CONCURRENCY in flight.
    let gap = duration().div_f64(total as f64);
    let run = |count: usize| {
        let next = Arc::new(AtomicUsize::new(0));
        let start = tokio::time::Instant::now();
        let mut workers = tokio::task::JoinSet::new();
        for _ in 0..CONCURRENCY {
            let (mut svc, next, url) = (svc.clone(), next.clone(), url.clone());
            let (non_200, errors) = (non_200.clone(), errors.clone());
            workers.spawn(async move {
                loop {
                    let i = next.fetch_add(1, Ordering::Relaxed);
                    if i >= count {
                        break;
                    }
                    tokio::time::sleep_until(start + gap * i as u32).await;
                    let request = Request::get(&url).body(Empty::<Bytes>::new()).unwrap();
                    match svc.ready().await.unwrap().call(request).await {
                        Ok(response) => {
                            if response.status() != 200 {
                                non_200.fetch_add(1, Ordering::Relaxed);
                            }
                            response.into_body().collect().await.unwrap();
                        }
                        Err(_) => {
                            errors.fetch_add(1, Ordering::Relaxed);
                        }
                    }
                }
            });
        }
        async move { while workers.join_next().await.is_some() {} }
    };

    let rss_start = loopback::rss_bytes();
    let started = Instant::now();
    run(warm_up).await;
    let rss_warm = loopback::rss_bytes();
    let refreshes_warm = authority.refreshes.load(Ordering::Relaxed);
    let warm_elapsed = started.elapsed();
    run(total - warm_up).await;
    let elapsed = started.elapsed();
    let rss_end = loopback::rss_bytes();

    let refreshes = authority.refreshes.load(Ordering::Relaxed) - 1; // minus the first token
    let period = LIFETIME - MARGIN;
    let expected = elapsed.as_secs_f64() / period.as_secs_f64();
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    println!(
        "soak_oauth2: {total} requests (at most {CONCURRENCY} in flight, paced over {:.0}s) in {:.2}s ({:.0} req/s); \
         warm-up {warm_up} in {:.2}s",
        duration().as_secs_f64(),
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
        warm_elapsed.as_secs_f64(),
    );
    println!(
        "soak_oauth2: refreshes {refreshes} (source fetches {}), expected about {expected:.1} \
         = {:.2}s / ({}s lifetime - {}s margin); {} during warm-up",
        source.fetch_count(),
        elapsed.as_secs_f64(),
        LIFETIME.as_secs_f64(),
        MARGIN.as_secs_f64(),
        refreshes_warm - 1,
    );
    println!(
        "soak_oauth2: API ok {}, rejected: no token {}, invalid/expired {}; client non-200 {}, \
         errors {}; replayed refresh tokens {}",
        authority.api_ok.load(Ordering::Relaxed),
        authority.api_missing.load(Ordering::Relaxed),
        authority.api_invalid.load(Ordering::Relaxed),
        non_200.load(Ordering::Relaxed),
        errors.load(Ordering::Relaxed),
        authority.replayed_refresh.load(Ordering::Relaxed),
    );
    println!(
        "soak_oauth2: RSS start {:.1} MiB, after warm-up {:.1} MiB, end {:.1} MiB (growth {:.1} MiB)",
        mib(rss_start),
        mib(rss_warm),
        mib(rss_end),
        mib(rss_end.saturating_sub(rss_warm)),
    );

    assert_eq!(errors.load(Ordering::Relaxed), 0, "requests failed");
    assert_eq!(non_200.load(Ordering::Relaxed), 0, "client saw non-200");
    assert_eq!(authority.api_missing.load(Ordering::Relaxed), 0);
    assert_eq!(
        authority.api_invalid.load(Ordering::Relaxed),
        0,
        "requests reached the API with an expired or unknown token"
    );
    assert_eq!(authority.api_ok.load(Ordering::Relaxed), total as u64);
    assert_eq!(authority.replayed_refresh.load(Ordering::Relaxed), 0);
    assert_eq!(source.fetch_count(), refreshes);
    // One refresh per period, give or take scheduling: never a storm, never a stall.
    assert!(
        (refreshes as f64) <= expected * 1.5 + 2.0,
        "refresh storm: {refreshes} refreshes, expected about {expected:.1}"
    );
    assert!(
        (refreshes as f64) >= expected * 0.5 - 2.0,
        "too few refreshes: {refreshes}, expected about {expected:.1}"
    );
    assert!(
        rss_end.saturating_sub(rss_warm) < 20 * 1024 * 1024,
        "RSS grew by {:.1} MiB after the warm-up",
        mib(rss_end.saturating_sub(rss_warm))
    );
    drop(svc);
    drop(source);
}
