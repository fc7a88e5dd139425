//! The OAuth 2 layer's added cost per request with a fresh token, next to the bare service and
//! tower-http's `AddAuthorization` (a static bearer header), in one run; and the stampede:
//! 10,000 concurrent requests on an expired token against a token endpoint with 10 ms latency;
//! and what a DPoP-bound token costs per request.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{Request, Response};
use http_body_util::Empty;
use oauth_core::oauth2::{DpopKey, EcP256PrivateKey, Token, TokenType};
use oauth_core::secret::{AccessToken, RefreshToken};
use tower::{Layer, ServiceExt};
use tower_http::auth::AddAuthorizationLayer;
use tower_oauth2::source::TokenError;
use tower_oauth2::{OAuth2Layer, TokenSource};

use benches::api::{TOKEN, api, request, send};

fn per_request(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _guard = rt.enter();

    let mut group = c.benchmark_group("oauth2_layer_per_request");
    let mut bare = api();
    group.bench_function("bare_service", |b| b.iter(|| send(&mut bare)));
    let mut add_auth = AddAuthorizationLayer::bearer(TOKEN).layer(api());
    group.bench_function("tower_http_add_authorization", |b| {
        b.iter(|| send(&mut add_auth))
    });
    // A source that can refresh (its fetcher is never called: the token is fresh), so the
    // default layer keeps its copy of each request for a retry after a 401.
    let mut oauth2 =
        benches::api::layer(&rt, tower_oauth2::policy::RetryOn401::InvalidToken).layer(api());
    assert_eq!(
        send(&mut oauth2).status(),
        200,
        "the layer must authorize the bench request"
    );
    group.bench_function("oauth2_layer_fresh_token", |b| b.iter(|| send(&mut oauth2)));
    let mut no_retry = OAuth2Layer::new(
        TokenSource::from_token(Token::new(AccessToken::new(TOKEN), TokenType::Bearer)),
        "https://api.example.com",
    )
    .unwrap()
    .retry_on_401(tower_oauth2::policy::RetryOn401::Never)
    .layer(api());
    group.bench_function("oauth2_layer_fresh_token_no_retry", |b| {
        b.iter(|| send(&mut no_retry))
    });
    group.finish();
}

/// DPoP (RFC 9449): one proof alone (an ES256 signature over a small JWT), and a request
/// through the layer with a DPoP-bound token (the proof, the nonce lookup, the boxed future).
fn dpop(c: &mut Criterion) {
    const PEM: &str =
        include_str!("../../crates/oauth-core/tests/vectors/oauth1/test_ec_p256_pkcs8.pem");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _guard = rt.enter();
    let key = DpopKey::es256(EcP256PrivateKey::from_pem(PEM).unwrap());
    let uri: http::Uri = "https://api.example.com/v1/me".parse().unwrap();
    let mut group = c.benchmark_group("dpop");
    group.bench_function("proof_es256", |b| {
        b.iter(|| {
            key.proof(&http::Method::GET, &uri, Some(TOKEN), None)
                .unwrap()
        })
    });
    let token = Token::new(AccessToken::new(TOKEN), TokenType::DPoP)
        .with_expires_at(Some(SystemTime::now() + Duration::from_secs(3600)));
    let source = rt
        .block_on(TokenSource::builder().token(token).dpop(key).build())
        .unwrap();
    let mut layer = OAuth2Layer::new(source, "https://api.example.com")
        .unwrap()
        .layer(api());
    assert_eq!(send(&mut layer).status(), 200);
    group.bench_function("oauth2_layer_dpop_token", |b| b.iter(|| send(&mut layer)));
    group.finish();
}

fn stampede(c: &mut Criterion) {
    let mut group = c.benchmark_group("oauth2_stampede");
    group.sample_size(10);
    group.bench_function("10000_requests_expired_token_10ms_endpoint", |b| {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .worker_threads(2)
            .enable_all()
            .build()
            .unwrap();
        b.iter_custom(|iters| {
            let mut total = Duration::ZERO;
            for _ in 0..iters {
                let (elapsed, fetches) = rt.block_on(stampede_once(10_000));
                assert_eq!(fetches, 1, "exactly one token request");
                total += elapsed;
            }
            total
        })
    });
    group.finish();
}

async fn stampede_once(n: usize) -> (Duration, usize) {
    let fetches = Arc::new(AtomicUsize::new(0));
    let counter = fetches.clone();
    let fetch = move |_: Option<&Token>| {
        counter.fetch_add(1, Ordering::SeqCst);
        async {
            tokio::time::sleep(Duration::from_millis(10)).await;
            Ok::<_, TokenError>(
                Token::new(AccessToken::new("new-token"), TokenType::Bearer)
                    .with_expires_at(Some(SystemTime::now() + Duration::from_secs(3600))),
            )
        }
    };
    let expired = Token::new(AccessToken::new("old-token"), TokenType::Bearer)
        .with_expires_at(Some(SystemTime::now() - Duration::from_secs(1)))
        .with_refresh_token(Some(RefreshToken::new("rt")));
    let source = TokenSource::builder()
        .token(expired)
        .fetcher(fetch)
        .build()
        .await
        .unwrap();
    let svc = OAuth2Layer::new(source, "https://api.example.com")
        .unwrap()
        .layer(tower::service_fn(|req: Request<Empty<Bytes>>| async move {
            assert_eq!(req.headers()["authorization"], "Bearer new-token");
            Ok::<_, Infallible>(Response::new(Empty::<Bytes>::new()))
        }));
    let start = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        let svc = svc.clone();
        tasks.spawn(async move { svc.oneshot(request()).await.unwrap() });
    }
    while let Some(res) = tasks.join_next().await {
        res.unwrap();
    }
    (start.elapsed(), fetches.load(Ordering::SeqCst))
}

criterion_group!(benches, per_request, dpop, stampede);
criterion_main!(benches);
