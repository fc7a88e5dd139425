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
//! retry after a 401); and the same four as `post-*`, for a `POST` with a JSON body that the
//! default cannot keep (the layer's slow path). Subtract two variants' totals and divide by the
//! count: the per-request difference, setup included once in both.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;

use benches::api::{TOKEN, api, layer, request};
use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{Empty, Full};
use tower::{Layer, Service};
use tower_http::auth::AddAuthorizationLayer;
use tower_oauth2::policy::RetryOn401;

/// The loop, written out here (not `benches::api::send`): the instruction counts in
/// `benches/README.md` were taken with it, and a harness's inlining moves them by ~10%.
fn run<S>(mut svc: S, n: u64)
where
    S: Service<Request<Empty<Bytes>>, Response = Response<Empty<Bytes>>>,
    S::Error: std::fmt::Debug,
{
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    for _ in 0..n {
        assert!(svc.poll_ready(&mut cx).is_ready());
        let mut fut = std::pin::pin!(svc.call(request()));
        match fut.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(res) => assert_eq!(black_box(res.unwrap()).status(), 200),
            std::task::Poll::Pending => unreachable!("the API answers at once"),
        }
    }
}

/// The same loop for a `POST` with a small JSON body (`Full<Bytes>`), which the default
/// `ReplayEmpty` cannot keep for a retry: such requests take the layer's slow path (a boxed
/// future that notes a 401 refusal).
fn run_post<S>(mut svc: S, n: u64)
where
    S: Service<Request<Full<Bytes>>, Response = Response<Empty<Bytes>>>,
    S::Error: std::fmt::Debug,
{
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    for _ in 0..n {
        assert!(svc.poll_ready(&mut cx).is_ready());
        let request = Request::post("https://api.example.com/v1/items")
            .body(Full::new(Bytes::from_static(br#"{"name":"x"}"#)))
            .unwrap();
        let mut fut = std::pin::pin!(svc.call(request));
        match fut.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(res) => assert_eq!(black_box(res.unwrap()).status(), 200),
            std::task::Poll::Pending => unreachable!("the API answers at once"),
        }
    }
}

/// The resource server for `run_post`.
fn post_api() -> impl Service<
    Request<Full<Bytes>>,
    Response = Response<Empty<Bytes>>,
    Error = std::convert::Infallible,
    Future = benches::api::Ready,
> + Clone {
    tower::service_fn(|req: Request<Full<Bytes>>| {
        black_box(&req);
        std::future::ready(Ok(Response::new(Empty::new())))
    })
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
    match which.as_str() {
        "bare" => run(api(), n),
        "add-authorization" => run(AddAuthorizationLayer::bearer(TOKEN).layer(api()), n),
        "oauth2-never" => run(layer(&rt, RetryOn401::Never).layer(api()), n),
        "oauth2" => run(layer(&rt, RetryOn401::InvalidToken).layer(api()), n),
        "post-bare" => run_post(post_api(), n),
        "post-add-authorization" => {
            run_post(AddAuthorizationLayer::bearer(TOKEN).layer(post_api()), n)
        }
        "post-oauth2-never" => run_post(layer(&rt, RetryOn401::Never).layer(post_api()), n),
        "post-oauth2" => run_post(layer(&rt, RetryOn401::InvalidToken).layer(post_api()), n),
        other => panic!("unknown variant {other}"),
    }
}
