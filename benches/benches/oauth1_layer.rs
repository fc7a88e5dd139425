//! The OAuth 1.0a signing layer's added cost per request, next to signing alone (the core
//! `Signer` producing the `Authorization` header) and the bare inner service, in one run:
//! a `GET` with header placement, and a small form `POST` (`status=hello+world&x=1`) whose body
//! the layer buffers and signs, with header and with body placement.
//!
//! The services are driven without a runtime: `poll_ready` and one `poll` of the response future
//! with a no-op waker (the inner service answers at once), so the figures are the layer's cost,
//! not an executor's. Added cost = `sign_layer` − `bare_service`.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::hint::black_box;

use bytes::Bytes;
use criterion::{Criterion, criterion_group, criterion_main};
use http::header::{AUTHORIZATION, CONTENT_TYPE};
use http::{Method, Request, Response, Uri};
use http_body_util::{Empty, Full};
use oauth_core::oauth1::{ClientCredentials, Placement, SignOptions, Signer, TokenCredentials};
use oauth_core::secret::{ConsumerSecret, TokenSecret};
use tower::{Layer, Service};
use tower_oauth1::SignedBody;
use tower_oauth1::sign::SignLayer;

const GET_URL: &str =
    "https://api.example.com/1.1/statuses/home_timeline.json?count=20&since_id=12345";
const POST_URL: &str = "https://api.example.com/1.1/statuses/update.json";
const FORM: &[u8] = b"status=hello+world&x=1";
const FORM_TYPE: &str = "application/x-www-form-urlencoded";

type ReqBody = Full<Bytes>;
type ResBody = Empty<Bytes>;

fn signer() -> Signer {
    Signer::builder(ClientCredentials::new(
        "xvz1evFS4wEEPTGEFPHBog",
        ConsumerSecret::new("kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw"),
    ))
    .token(TokenCredentials::new(
        "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb",
        TokenSecret::new("LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE"),
    ))
    .build()
    .unwrap()
}

fn get_request() -> Request<ReqBody> {
    Request::get(GET_URL).body(Full::default()).unwrap()
}

fn post_request() -> Request<ReqBody> {
    Request::post(POST_URL)
        .header(CONTENT_TYPE, FORM_TYPE)
        .body(Full::new(Bytes::from_static(FORM)))
        .unwrap()
}

/// The inner service behind the layer: answers at once, looks at nothing.
fn inner() -> impl Service<
    Request<SignedBody<ReqBody>>,
    Response = Response<ResBody>,
    Error = Infallible,
    Future = std::future::Ready<Result<Response<ResBody>, Infallible>>,
> + Clone {
    tower::service_fn(|req: Request<SignedBody<ReqBody>>| {
        black_box(&req);
        std::future::ready(Ok(Response::new(Empty::new())))
    })
}

/// The same service without the layer, taking the caller's request as it is.
fn bare() -> impl Service<
    Request<ReqBody>,
    Response = Response<ResBody>,
    Error = Infallible,
    Future = std::future::Ready<Result<Response<ResBody>, Infallible>>,
> + Clone {
    tower::service_fn(|req: Request<ReqBody>| {
        black_box(&req);
        std::future::ready(Ok(Response::new(Empty::new())))
    })
}

/// Drives one request: `poll_ready`, `call`, and one poll of the future with a no-op waker.
fn send<S>(svc: &mut S, request: Request<ReqBody>) -> Response<ResBody>
where
    S: Service<Request<ReqBody>, Response = Response<ResBody>>,
    S::Error: std::fmt::Debug,
{
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    assert!(svc.poll_ready(&mut cx).is_ready());
    let mut fut = std::pin::pin!(svc.call(request));
    match fut.as_mut().poll(&mut cx) {
        std::task::Poll::Ready(res) => res.unwrap(),
        std::task::Poll::Pending => unreachable!("the inner service answers at once"),
    }
}

/// Checks once, outside the measurement, that the layer signs what the bench sends.
fn check_layer(placement: Placement, request: Request<ReqBody>) {
    let checking = tower::service_fn(move |req: Request<SignedBody<ReqBody>>| {
        match placement {
            Placement::Body => {
                assert!(!req.headers().contains_key(AUTHORIZATION));
                let body = req.body().buffered_bytes().unwrap();
                let body = std::str::from_utf8(body).unwrap();
                assert!(body.starts_with("status=hello+world&x=1&"), "{body}");
                assert!(body.contains("oauth_signature="), "{body}");
            }
            _ => {
                let auth = req.headers()[AUTHORIZATION].to_str().unwrap();
                assert!(auth.starts_with("OAuth "), "{auth}");
                assert!(auth.contains("oauth_signature=\""), "{auth}");
                if req.method() == Method::POST {
                    assert_eq!(req.body().buffered_bytes().unwrap().as_ref(), FORM);
                }
            }
        }
        std::future::ready(Ok::<_, Infallible>(Response::new(Empty::<Bytes>::new())))
    });
    let mut svc = SignLayer::new(signer())
        .placement(placement)
        .layer(checking);
    let response = send(&mut svc, request);
    assert_eq!(response.status(), 200);
}

fn get_header(c: &mut Criterion) {
    check_layer(Placement::Header, get_request());
    let signer = signer();
    let uri: Uri = GET_URL.parse().unwrap();
    let options = SignOptions::new();

    let mut group = c.benchmark_group("oauth1_get_header");
    let mut bare = bare();
    group.bench_function("bare_service", |b| {
        b.iter(|| send(&mut bare, get_request()))
    });
    group.bench_function("signer_only", |b| {
        b.iter(|| {
            let signed = signer
                .sign(
                    &Method::GET,
                    black_box(&uri),
                    None,
                    &options,
                    Placement::Header,
                )
                .unwrap();
            black_box(signed.into_header_value())
        })
    });
    let mut layered = SignLayer::new(signer.clone()).layer(inner());
    group.bench_function("sign_layer", |b| {
        b.iter(|| send(&mut layered, get_request()))
    });
    group.finish();
}

fn post_form(c: &mut Criterion) {
    check_layer(Placement::Header, post_request());
    check_layer(Placement::Body, post_request());
    let signer = signer();
    let uri: Uri = POST_URL.parse().unwrap();
    let options = SignOptions::new();

    let mut group = c.benchmark_group("oauth1_post_form");
    let mut bare = bare();
    group.bench_function("bare_service", |b| {
        b.iter(|| send(&mut bare, post_request()))
    });
    group.bench_function("signer_only", |b| {
        b.iter(|| {
            let signed = signer
                .sign(
                    &Method::POST,
                    black_box(&uri),
                    Some(black_box(FORM)),
                    &options,
                    Placement::Header,
                )
                .unwrap();
            black_box(signed.into_header_value())
        })
    });
    let mut layered = SignLayer::new(signer.clone()).layer(inner());
    group.bench_function("sign_layer", |b| {
        b.iter(|| send(&mut layered, post_request()))
    });
    let mut layered_body = SignLayer::new(signer.clone())
        .placement(Placement::Body)
        .layer(inner());
    group.bench_function("sign_layer_body_placement", |b| {
        b.iter(|| send(&mut layered_body, post_request()))
    });
    group.finish();
}

criterion_group!(benches, get_header, post_form);
criterion_main!(benches);
