//! A fixed-iteration loop over one OAuth 2 layer configuration, for instruction counts with
//! `valgrind --tool=callgrind` (repeatable on a shared machine, unlike times):
//!
//! ```sh
//! cargo build --release -p benches --example profile_oauth2
//! valgrind --tool=callgrind --callgrind-out-file=/tmp/o2 \
//!     target/release/examples/profile_oauth2 oauth2 20000
//! ```
//!
//! Variants: `bare` (the resource server alone), `add-authorization` (tower-http's static
//! bearer), `oauth2-never` (`RetryOn401::Never`), `oauth2` (the default: a copy kept for a
//! retry after a 401). Subtract two variants' totals and divide by the count: the per-request
//! difference, setup included once in both.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::convert::Infallible;
use std::hint::black_box;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Empty;
use oauth_core::oauth2::{Token, TokenType};
use oauth_core::secret::AccessToken;
use tower::{Layer, Service};
use tower_http::auth::AddAuthorizationLayer;
use tower_oauth2::policy::RetryOn401;
use tower_oauth2::source::TokenError;
use tower_oauth2::{OAuth2Layer, TokenErrorKind, TokenSource};

const TOKEN: &str = "2YotnFZFEjr1zCsicMWpAA-some-longer-opaque-access-token-value";

type Ready = std::future::Ready<Result<Response<Empty<Bytes>>, Infallible>>;

/// A resource server that answers at once.
fn api() -> impl Service<
    Request<Empty<Bytes>>,
    Response = Response<Empty<Bytes>>,
    Error = Infallible,
    Future = Ready,
> + Clone {
    tower::service_fn(|req: Request<Empty<Bytes>>| {
        black_box(&req);
        std::future::ready(Ok(Response::new(Empty::new())))
    })
}

fn run<S>(mut svc: S, n: u64)
where
    S: Service<Request<Empty<Bytes>>, Response = Response<Empty<Bytes>>>,
    S::Error: std::fmt::Debug,
{
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    for _ in 0..n {
        assert!(svc.poll_ready(&mut cx).is_ready());
        let request = Request::get("https://api.example.com/v1/me")
            .body(Empty::new())
            .unwrap();
        let mut fut = std::pin::pin!(svc.call(request));
        match fut.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(res) => assert_eq!(black_box(res.unwrap()).status(), 200),
            std::task::Poll::Pending => unreachable!("the API answers at once"),
        }
    }
}

fn main() {
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_else(|| "oauth2".into());
    let n: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _guard = rt.enter();
    let layer = |policy: RetryOn401| {
        let fresh = Token::new(AccessToken::new(TOKEN), TokenType::Bearer)
            .with_expires_at(Some(SystemTime::now() + Duration::from_secs(3600)));
        let source = rt
            .block_on(
                TokenSource::builder()
                    .token(fresh)
                    .fetcher(|_: Option<&Token>| async {
                        Err::<Token, _>(TokenError::new(TokenErrorKind::Transient, None))
                    })
                    .build(),
            )
            .unwrap();
        OAuth2Layer::new(source, "https://api.example.com")
            .unwrap()
            .retry_on_401(policy)
    };
    match which.as_str() {
        "bare" => run(api(), n),
        "add-authorization" => run(AddAuthorizationLayer::bearer(TOKEN).layer(api()), n),
        "oauth2-never" => run(layer(RetryOn401::Never).layer(api()), n),
        "oauth2" => run(layer(RetryOn401::InvalidToken).layer(api()), n),
        other => panic!("unknown variant {other}"),
    }
}
