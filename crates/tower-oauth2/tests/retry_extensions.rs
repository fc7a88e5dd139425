//! The request sent again after a 401 carries the original's `http::Extensions` (tracing
//! context, request ids, per-request client settings, ...), on every path that keeps a copy:
//! the fast path (a fresh token in the service), the first request of a service, a request that
//! waits for a token, a body read into memory first (`ReplayBuffered`), and DPoP-bound tokens
//! (nonce retry and refreshed token). The copy used to keep only the method, URI, version,
//! headers and body, so the retry reached the inner service with no extensions (the tests failed
//! before the fix).
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::type_complexity)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{Empty, Full};
use oauth_core::clock::Clock;
use oauth_core::oauth2::{RefreshPolicy, Token, TokenType};
use oauth_core::secret::{AccessToken, RefreshToken};
use tower::{Layer, Service, ServiceExt};
use tower_oauth2::clock::TokioClock;
use tower_oauth2::policy::{ReplayBuffered, ReplayClone};
use tower_oauth2::source::TokenError;
use tower_oauth2::{OAuth2Layer, TokenSource};

mod common;
use common::{
    API, authorization_of, dpop_source_refreshing_tok_1_to_tok_2, recording_api, unauthorized,
};

/// What a caller or an outer layer puts in a request's extensions (a request id, say).
#[derive(Debug, Clone, PartialEq)]
struct RequestId(String);

/// A second extension, of another type: every extension is copied, not just one.
#[derive(Debug, Clone, PartialEq)]
struct Attempt(u32);

/// What the API saw of one request: its Authorization header and the two extensions.
type Seen = (Option<String>, Option<RequestId>, Option<Attempt>);

/// The Authorization header and the two extensions of a request.
fn seen_of(req: &Request<Full<Bytes>>) -> Seen {
    (
        authorization_of(req),
        req.extensions().get::<RequestId>().cloned(),
        req.extensions().get::<Attempt>().cloned(),
    )
}

fn invalid_token() -> Response<Empty<Bytes>> {
    unauthorized(r#"Bearer error="invalid_token""#, &[])
}

/// A `POST` of `body` with both extensions (an empty body is one the default `ReplayEmpty`
/// keeps for a retry).
fn request_with_extensions(body: &'static str) -> Request<Full<Bytes>> {
    let mut request = Request::post("https://api.example.com/v1/items")
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap();
    request
        .extensions_mut()
        .insert(RequestId("req-42".to_owned()));
    request.extensions_mut().insert(Attempt(7));
    request
}

/// What the API should see of such a request sent with `auth`.
fn with_extensions(auth: &str) -> Seen {
    (
        Some(auth.to_owned()),
        Some(RequestId("req-42".to_owned())),
        Some(Attempt(7)),
    )
}

fn bearer(value: &str, expires_at: Option<SystemTime>) -> Token {
    Token::new(AccessToken::new(value), TokenType::Bearer)
        .with_expires_at(expires_at)
        .with_refresh_token(Some(RefreshToken::new(format!("rt-{value}"))))
}

/// A source holding a fresh `old` whose refreshes issue `tok-N`.
async fn source() -> (TokenSource, Arc<AtomicUsize>) {
    source_with(false, RefreshPolicy::default().min_interval).await
}

/// A source holding `old` (expired when `expired`) whose refreshes issue `tok-N`, at least
/// `min_interval` apart.
async fn source_with(expired: bool, min_interval: Duration) -> (TokenSource, Arc<AtomicUsize>) {
    let fetches = Arc::new(AtomicUsize::new(0));
    let counter = fetches.clone();
    let clock = TokioClock::new();
    let expires_at = expired.then(|| clock.now() - Duration::from_secs(1));
    let source = TokenSource::builder()
        .token(bearer("old", expires_at))
        .fetcher(move |_current: Option<&Token>| {
            let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
            let now = clock.now();
            async move {
                Ok::<_, TokenError>(bearer(
                    &format!("tok-{n}"),
                    Some(now + Duration::from_secs(3600)),
                ))
            }
        })
        .policy(RefreshPolicy::default().min_interval(min_interval))
        .build()
        .await
        .unwrap();
    (source, fetches)
}

async fn send<S>(svc: &mut S, request: Request<Full<Bytes>>) -> StatusCode
where
    S: Service<Request<Full<Bytes>>, Response = Response<Empty<Bytes>>>,
    S::Error: std::fmt::Debug,
{
    let response = svc.ready().await.unwrap().call(request).await.unwrap();
    response.status()
}

/// The fast path: the service already holds a fresh token (from a first request), and keeps a
/// copy of the next request for a retry.
#[tokio::test(start_paused = true)]
async fn the_retry_on_the_fast_path_carries_the_requests_extensions() {
    let (source, fetches) = source().await;
    let (api, log) = recording_api(vec![Response::new(Empty::new()), invalid_token()], seen_of);
    let mut svc = OAuth2Layer::new(source, API).unwrap().layer(api);
    // A first request (no extensions) leaves the fresh token in the service.
    let warm_up = Request::get("https://api.example.com/")
        .body(Full::default())
        .unwrap();
    assert_eq!(send(&mut svc, warm_up).await, StatusCode::OK);
    assert_eq!(send(&mut svc, request_with_extensions("")).await, 200);
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
    let log = log.lock().unwrap().clone();
    assert_eq!(
        log[1..],
        [
            with_extensions("Bearer old"),
            with_extensions("Bearer tok-1")
        ],
        "both attempts carry the request's extensions"
    );
}

/// The first request of a service (no token in it yet), and a `Clone` body (`ReplayClone`).
#[tokio::test(start_paused = true)]
async fn the_retry_of_a_first_request_carries_the_requests_extensions() {
    for body in ["", "x=1"] {
        let (source, fetches) = source().await;
        let (api, log) = recording_api(vec![invalid_token()], seen_of);
        let layer = OAuth2Layer::new(source, API)
            .unwrap()
            .replay_bodies(ReplayClone);
        let mut svc = layer.layer(api);
        assert_eq!(send(&mut svc, request_with_extensions(body)).await, 200);
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        assert_eq!(
            *log.lock().unwrap(),
            [
                with_extensions("Bearer old"),
                with_extensions("Bearer tok-1")
            ],
            "body {body:?}"
        );
    }
}

/// A request that waits for a token (the one held has expired), then is refused and sent again
/// (refreshes are not rate-limited here, so that the token fetched for it can be refreshed at
/// once); with an empty body, and with one read into memory first (`ReplayBuffered`).
#[tokio::test(start_paused = true)]
async fn the_retry_of_a_request_that_waited_for_a_token_carries_its_extensions() {
    for body in ["", "x=1"] {
        let (source, fetches) = source_with(true, Duration::ZERO).await;
        let (api, log) = recording_api(vec![invalid_token()], seen_of);
        let layer = OAuth2Layer::new(source, API)
            .unwrap()
            .replay_bodies(ReplayBuffered::new(1024));
        let mut svc = layer.layer(api);
        assert_eq!(send(&mut svc, request_with_extensions(body)).await, 200);
        assert_eq!(fetches.load(Ordering::SeqCst), 2, "body {body:?}");
        assert_eq!(
            *log.lock().unwrap(),
            [
                with_extensions("Bearer tok-1"),
                with_extensions("Bearer tok-2")
            ],
            "body {body:?}"
        );
    }
}

/// A body read into memory before it is sent (`ReplayBuffered`), with a fresh token.
#[tokio::test(start_paused = true)]
async fn the_retry_of_a_buffered_body_carries_the_requests_extensions() {
    let (source, fetches) = source().await;
    let (api, log) = recording_api(vec![invalid_token()], seen_of);
    let layer = OAuth2Layer::new(source, API)
        .unwrap()
        .replay_bodies(ReplayBuffered::new(1024));
    let mut svc = layer.layer(api);
    assert_eq!(send(&mut svc, request_with_extensions("x=1")).await, 200);
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
    assert_eq!(
        *log.lock().unwrap(),
        [
            with_extensions("Bearer old"),
            with_extensions("Bearer tok-1")
        ]
    );
}

#[tokio::test]
async fn dpop_retries_carry_the_requests_extensions() {
    let cases = [
        (
            unauthorized(r#"DPoP error="use_dpop_nonce""#, &["n-1"]),
            "DPoP tok-1",
            0,
        ),
        (
            unauthorized(r#"DPoP error="invalid_token""#, &[]),
            "DPoP tok-2",
            1,
        ),
    ];
    for (refusal, retried_with, refreshes) in cases {
        let (source, fetches) = dpop_source_refreshing_tok_1_to_tok_2().await;
        let (api, log) = recording_api(vec![refusal], seen_of);
        let layer = OAuth2Layer::new(source, API)
            .unwrap()
            .replay_bodies(ReplayClone);
        let mut svc = layer.layer(api);
        assert_eq!(send(&mut svc, request_with_extensions("x=1")).await, 200);
        assert_eq!(fetches.load(Ordering::SeqCst), refreshes);
        assert_eq!(
            *log.lock().unwrap(),
            [with_extensions("DPoP tok-1"), with_extensions(retried_with)],
            "retried with {retried_with}"
        );
    }
}
