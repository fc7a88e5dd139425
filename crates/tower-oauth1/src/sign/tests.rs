//! Tests of the signing middleware's mechanics, with a transparent fake engine so that every
//! assertion is on the exact outgoing request. The real signer is exercised in
//! `tests/` and in the interop tests.

// The mock clients return `impl Service` tuples; naming them would not make them clearer.
#![allow(clippy::type_complexity)]

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Method, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use tower::{Layer, Service, ServiceBuilder, ServiceExt, service_fn};

use super::*;
use crate::{BodyTooLarge, SignedBody};

/// Signs by describing what it saw: `OAuth n="<count>", m="<method>", u="<uri>", f="<form>",
/// h="<body hash input length>"`, or the same as query/body parameters.
#[derive(Debug)]
struct FakeEngine {
    placement: Placement,
    body_hash: bool,
    count: AtomicUsize,
}

fn fake(placement: Placement) -> Arc<FakeEngine> {
    Arc::new(FakeEngine {
        placement,
        body_hash: false,
        count: AtomicUsize::new(0),
    })
}

impl Engine for FakeEngine {
    fn sign(&self, req: ToSign<'_>, placement: Placement) -> Result<Signed, BoxError> {
        assert_eq!(placement, self.placement);
        let n = self.count.fetch_add(1, Ordering::SeqCst);
        let hash = req.body_for_hash.map(|b| b.len().to_string());
        if req.uri.host() == Some("fail.example") {
            return Err("engine failure".into());
        }
        Ok(match self.placement {
            Placement::Header => Signed::Header(
                HeaderValue::from_str(&format!(
                    "OAuth n=\"{n}\", m=\"{}\", u=\"{}\", f=\"{}\", h=\"{}\"",
                    req.method,
                    req.uri,
                    req.form.unwrap_or("-"),
                    hash.as_deref().unwrap_or("-"),
                ))
                .unwrap(),
            ),
            Placement::Query => {
                let params = format!("oauth_nonce={n}&oauth_signature=sig0");
                let pq = req.uri.path_and_query().map_or("/", |pq| pq.as_str());
                let sep = if req.uri.query().is_some() { '&' } else { '?' };
                let mut parts = req.uri.clone().into_parts();
                parts.path_and_query = Some(format!("{pq}{sep}{params}").parse().unwrap());
                Signed::Uri(Uri::from_parts(parts).unwrap())
            }
            _ => {
                let form = req.form.unwrap_or("");
                let params = format!("oauth_nonce={n}&oauth_signature=sig{}", form.len());
                Signed::Body(Bytes::from(if form.is_empty() {
                    params
                } else {
                    format!("{form}&{params}")
                }))
            }
        })
    }
}

type Seen = Arc<Mutex<Vec<(Method, String, http::HeaderMap, Bytes, bool)>>>;

/// A mock client that records the exact request and answers 200.
fn recorder() -> (
    Seen,
    impl Service<
        Request<SignedBody<Full<Bytes>>>,
        Response = Response<Full<Bytes>>,
        Error = Infallible,
        Future = impl Send,
    > + Clone,
) {
    let seen: Seen = Arc::default();
    let s = Arc::clone(&seen);
    let svc = service_fn(move |req: Request<SignedBody<Full<Bytes>>>| {
        let s = Arc::clone(&s);
        async move {
            let (parts, body) = req.into_parts();
            let original = body.is_original();
            let bytes = body.collect().await.unwrap().to_bytes();
            s.lock().unwrap().push((
                parts.method,
                parts.uri.to_string(),
                parts.headers,
                bytes,
                original,
            ));
            Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(b"ok"))))
        }
    });
    (seen, svc)
}

fn layer(engine: Arc<FakeEngine>) -> SignLayer {
    let mut layer = SignLayer::from_engine(engine.clone());
    let config = Arc::make_mut(&mut layer.config);
    config.placement = engine.placement;
    config.body_hash = engine.body_hash;
    layer
}

fn form_post(uri: &str, body: &'static str) -> Request<Full<Bytes>> {
    Request::post(uri)
        .header(
            CONTENT_TYPE,
            "application/x-www-form-urlencoded; charset=UTF-8",
        )
        .header(CONTENT_LENGTH, body.len())
        .body(Full::new(Bytes::from_static(body.as_bytes())))
        .unwrap()
}

#[tokio::test]
async fn header_placement_get_is_exact_and_sensitive() {
    let (seen, client) = recorder();
    let mut svc = ServiceBuilder::new()
        .layer(layer(fake(Placement::Header)))
        .service(client);
    let req = Request::get("https://api.example/r?b=1")
        .body(Full::default())
        .unwrap();
    let res = svc.ready().await.unwrap().call(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    let seen = seen.lock().unwrap();
    let (method, uri, headers, body, original) = &seen[0];
    assert_eq!(method, Method::GET);
    assert_eq!(uri, "https://api.example/r?b=1");
    assert_eq!(headers.len(), 1);
    let auth = &headers[AUTHORIZATION];
    assert_eq!(
        auth,
        "OAuth n=\"0\", m=\"GET\", u=\"https://api.example/r?b=1\", f=\"-\", h=\"-\""
    );
    assert!(auth.is_sensitive());
    assert!(body.is_empty());
    assert!(
        *original,
        "an empty GET body is passed through, not buffered"
    );
}

#[tokio::test]
async fn header_placement_form_post_signs_the_form_and_sends_the_same_bytes() {
    let (seen, client) = recorder();
    let mut svc = layer(fake(Placement::Header)).layer(client);
    svc.ready()
        .await
        .unwrap()
        .call(form_post("https://api.example/r", "a=1&b=%E2%9C%93"))
        .await
        .unwrap();
    let seen = seen.lock().unwrap();
    let (method, uri, headers, body, original) = &seen[0];
    assert_eq!(method, Method::POST);
    assert_eq!(uri, "https://api.example/r");
    assert_eq!(
        headers[AUTHORIZATION],
        "OAuth n=\"0\", m=\"POST\", u=\"https://api.example/r\", f=\"a=1&b=%E2%9C%93\", h=\"-\""
    );
    assert_eq!(headers[CONTENT_LENGTH], "15");
    assert_eq!(body.as_ref(), b"a=1&b=%E2%9C%93");
    assert!(!original);
}

#[tokio::test]
async fn query_placement_appends_to_the_query() {
    let (seen, client) = recorder();
    let mut svc = layer(fake(Placement::Query)).layer(client);
    for uri in [
        "https://api.example/r?a=1",
        "https://api.example/r",
        "https://api.example",
    ] {
        let req = Request::get(uri).body(Full::<Bytes>::default()).unwrap();
        svc.ready().await.unwrap().call(req).await.unwrap();
    }
    let seen = seen.lock().unwrap();
    assert_eq!(
        seen[0].1,
        "https://api.example/r?a=1&oauth_nonce=0&oauth_signature=sig0"
    );
    assert_eq!(
        seen[1].1,
        "https://api.example/r?oauth_nonce=1&oauth_signature=sig0"
    );
    assert_eq!(
        seen[2].1,
        "https://api.example/?oauth_nonce=2&oauth_signature=sig0"
    );
    assert!(seen.iter().all(|s| !s.2.contains_key(AUTHORIZATION)));
}

#[tokio::test]
async fn body_placement_writes_the_form_and_fixes_content_type_and_length() {
    let (seen, client) = recorder();
    let mut svc = layer(fake(Placement::Body)).layer(client);
    svc.ready()
        .await
        .unwrap()
        .call(form_post("https://api.example/r", "a=1"))
        .await
        .unwrap();
    // An empty body becomes the parameters.
    let req = Request::post("https://api.example/r")
        .body(Full::default())
        .unwrap();
    svc.ready().await.unwrap().call(req).await.unwrap();
    let seen = seen.lock().unwrap();
    let expected = "a=1&oauth_nonce=0&oauth_signature=sig3";
    assert_eq!(seen[0].3.as_ref(), expected.as_bytes());
    assert_eq!(
        seen[0].2[CONTENT_LENGTH],
        expected.len().to_string().as_str()
    );
    assert_eq!(seen[0].2[CONTENT_TYPE], "application/x-www-form-urlencoded");
    assert_eq!(seen[0].1, "https://api.example/r");
    let expected = "oauth_nonce=1&oauth_signature=sig0";
    assert_eq!(seen[1].3.as_ref(), expected.as_bytes());
    assert_eq!(
        seen[1].2[CONTENT_LENGTH],
        expected.len().to_string().as_str()
    );
    assert_eq!(seen[1].2[CONTENT_TYPE], "application/x-www-form-urlencoded");
}

#[tokio::test]
async fn body_placement_drops_a_callers_chunked_framing() {
    let (seen, client) = recorder();
    let mut svc = layer(fake(Placement::Body)).layer(client);
    let req = Request::post("https://api.example/r")
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .header(TRANSFER_ENCODING, "chunked")
        .body(Full::new(Bytes::from_static(b"a=1")))
        .unwrap();
    svc.ready().await.unwrap().call(req).await.unwrap();
    let seen = seen.lock().unwrap();
    let expected = "a=1&oauth_nonce=0&oauth_signature=sig3";
    assert_eq!(seen[0].3.as_ref(), expected.as_bytes());
    assert_eq!(
        seen[0].2[CONTENT_LENGTH],
        expected.len().to_string().as_str()
    );
    assert!(
        !seen[0].2.contains_key(TRANSFER_ENCODING),
        "Content-Length and Transfer-Encoding must not be sent together"
    );
}

#[tokio::test]
async fn body_placement_refuses_a_non_form_body() {
    let (seen, client) = recorder();
    let mut svc = layer(fake(Placement::Body)).layer(client);
    let req = Request::post("https://api.example/r")
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from_static(b"{}")))
        .unwrap();
    let err = svc.ready().await.unwrap().call(req).await.unwrap_err();
    let err = err.downcast_ref::<SignRequestError>().unwrap();
    assert_eq!(err.kind(), SignRequestErrorKind::NotFormBody);
    assert!(seen.lock().unwrap().is_empty());
}

/// Two `Content-Type` headers (one a form): whether the body's parameters are signed would be
/// a guess the provider may make otherwise, so the request is refused, whatever the order.
#[tokio::test]
async fn two_content_types_are_refused() {
    let (seen, client) = recorder();
    let mut svc = layer(fake(Placement::Header)).layer(client);
    for (first, second) in [
        ("application/json", "application/x-www-form-urlencoded"),
        ("application/x-www-form-urlencoded", "application/json"),
    ] {
        let req = Request::post("https://api.example/r")
            .header(CONTENT_TYPE, first)
            .header(CONTENT_TYPE, second)
            .body(Full::new(Bytes::from_static(b"a=1")))
            .unwrap();
        assert_eq!(
            refused(&mut svc, req).await,
            SignRequestErrorKind::AmbiguousContentType
        );
    }
    assert!(seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn form_body_over_the_limit_is_a_typed_error() {
    let (seen, client) = recorder();
    let mut svc = layer(fake(Placement::Header)).body_limit(8).layer(client);
    // Known length over the limit: refused before reading.
    let err = svc
        .ready()
        .await
        .unwrap()
        .call(form_post("https://api.example/r", "a=123456789"))
        .await
        .unwrap_err();
    assert_eq!(err.downcast_ref::<BodyTooLarge>().unwrap().limit(), 8);

    // Unknown length (a stream): refused once the limit is crossed.
    let (mut tx, body) = http_body_util::channel::Channel::<Bytes, Infallible>::new(4);
    let req = Request::post("https://api.example/r")
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body)
        .unwrap();
    let (_, client) = recorder_for_any();
    let mut svc = layer(fake(Placement::Header)).body_limit(8).layer(client);
    let fut = svc.ready().await.unwrap().call(req);
    tx.send_data(Bytes::from_static(b"a=1234")).await.unwrap();
    tx.send_data(Bytes::from_static(b"5678")).await.unwrap();
    // The body ends here: 10 bytes, none of them at the limit exactly.
    drop(tx);
    let err = fut.await.unwrap_err();
    assert!(err.is::<BodyTooLarge>(), "{err}");
    assert!(seen.lock().unwrap().is_empty());
}

/// A form body that fails mid-stream is a `BodyReadError` whose source is the body's own error;
/// the request is not sent, and no byte read before the failure is in the error.
#[tokio::test]
async fn a_form_body_failing_mid_stream_is_a_body_read_error() {
    #[derive(Debug)]
    struct Reset;
    impl std::fmt::Display for Reset {
        fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("connection reset")
        }
    }
    impl std::error::Error for Reset {}

    let (mut tx, body) = http_body_util::channel::Channel::<Bytes, Reset>::new(4);
    let req = Request::post("https://api.example/r")
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body)
        .unwrap();
    let (sent, client) = recorder_for_any();
    let mut svc = layer(fake(Placement::Header)).layer(client);
    let fut = svc.ready().await.unwrap().call(req);
    tx.send_data(Bytes::from_static(b"password=SENTINEL&a="))
        .await
        .unwrap();
    tx.abort(Reset);
    let err = fut.await.unwrap_err();
    let read = err
        .downcast_ref::<crate::BodyReadError>()
        .unwrap_or_else(|| panic!("{err}"));
    assert!(std::error::Error::source(read).unwrap().is::<Reset>());
    assert!(!format!("{err} {err:?}").contains("SENTINEL"));
    assert!(sent.lock().unwrap().is_empty());
}

/// A client for any body type that reports whether the body was the caller's.
fn recorder_for_any<B>() -> (
    Arc<Mutex<Vec<bool>>>,
    impl Service<Request<SignedBody<B>>, Response = Response<Full<Bytes>>, Error = Infallible> + Clone,
)
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let seen: Arc<Mutex<Vec<bool>>> = Arc::default();
    let s = Arc::clone(&seen);
    let svc = service_fn(move |req: Request<SignedBody<B>>| {
        s.lock().unwrap().push(req.body().is_original());
        async move { Ok::<_, Infallible>(Response::new(Full::default())) }
    });
    (seen, svc)
}

#[tokio::test]
async fn non_form_bodies_stream_through_untouched() {
    let (seen, client) = recorder_for_any();
    let mut svc = layer(fake(Placement::Header)).body_limit(1).layer(client);
    // A stream with no end yet: the inner service is called before any byte is produced,
    // so nothing was buffered (and the 1-byte limit does not apply).
    let (_tx, body) = http_body_util::channel::Channel::<Bytes, Infallible>::new(1);
    let req = Request::post("https://api.example/upload")
        .header(CONTENT_TYPE, "application/octet-stream")
        .body(body)
        .unwrap();
    // (Bounded: a signer that waited for the end of this body would wait forever.)
    let call = svc.ready().await.unwrap().call(req);
    tokio::time::timeout(std::time::Duration::from_secs(5), call)
        .await
        .expect("the inner service was not called before the body ended")
        .unwrap();
    assert_eq!(*seen.lock().unwrap(), [true]);

    // multipart and JSON are not signed either.
    let (seen, client) = recorder();
    let mut svc = layer(fake(Placement::Header)).layer(client);
    for ct in ["multipart/form-data; boundary=x", "application/json"] {
        let req = Request::post("https://api.example/r")
            .header(CONTENT_TYPE, ct)
            .body(Full::new(Bytes::from_static(b"a=1")))
            .unwrap();
        svc.ready().await.unwrap().call(req).await.unwrap();
    }
    for (_, _, headers, body, original) in seen.lock().unwrap().iter() {
        assert!(original);
        assert_eq!(body.as_ref(), b"a=1");
        assert!(headers[AUTHORIZATION].to_str().unwrap().contains("f=\"-\""));
    }
}

#[tokio::test]
async fn body_hash_buffers_a_json_body() {
    let (seen, client) = recorder();
    let engine = Arc::new(FakeEngine {
        placement: Placement::Header,
        body_hash: true,
        count: AtomicUsize::new(0),
    });
    let mut svc = layer(engine).layer(client);
    let req = Request::post("https://api.example/r")
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from_static(b"{\"a\":1}")))
        .unwrap();
    svc.ready().await.unwrap().call(req).await.unwrap();
    let req = Request::get("https://api.example/r")
        .body(Full::<Bytes>::default())
        .unwrap();
    svc.ready().await.unwrap().call(req).await.unwrap();
    let seen = seen.lock().unwrap();
    assert!(
        seen[0].2[AUTHORIZATION]
            .to_str()
            .unwrap()
            .contains("h=\"7\"")
    );
    assert_eq!(seen[0].3.as_ref(), b"{\"a\":1}");
    assert!(!seen[0].4, "the body was buffered to be hashed");
    assert!(
        seen[1].2[AUTHORIZATION]
            .to_str()
            .unwrap()
            .contains("h=\"0\"")
    );
}

#[tokio::test]
async fn existing_credentials_are_refused() {
    let (seen, client) = recorder();
    let mut svc = layer(fake(Placement::Header)).layer(client);
    let req = Request::get("https://api.example/r")
        .header(AUTHORIZATION, "Bearer x")
        .body(Full::default())
        .unwrap();
    let err = svc.ready().await.unwrap().call(req).await.unwrap_err();
    assert_eq!(
        err.downcast_ref::<SignRequestError>().unwrap().kind(),
        SignRequestErrorKind::AlreadyAuthorized
    );
    for uri in [
        "https://api.example/r?oauth_token=x",
        "https://api.example/r?a=1&oauth%5Fnonce=2",
    ] {
        let req = Request::get(uri).body(Full::<Bytes>::default()).unwrap();
        let err = svc.ready().await.unwrap().call(req).await.unwrap_err();
        assert_eq!(
            err.downcast_ref::<SignRequestError>().unwrap().kind(),
            SignRequestErrorKind::DuplicateProtocolParameter
        );
    }
    let err = svc
        .ready()
        .await
        .unwrap()
        .call(form_post("https://api.example/r", "a=1&oauth_verifier=x"))
        .await
        .unwrap_err();
    assert_eq!(
        err.downcast_ref::<SignRequestError>().unwrap().kind(),
        SignRequestErrorKind::DuplicateProtocolParameter
    );
    let req = Request::get("https://fail.example/")
        .body(Full::<Bytes>::default())
        .unwrap();
    let err = svc.ready().await.unwrap().call(req).await.unwrap_err();
    let err = err.downcast_ref::<SignRequestError>().unwrap();
    assert_eq!(err.kind(), SignRequestErrorKind::Signer);
    assert!(std::error::Error::source(err).is_some());
    assert!(seen.lock().unwrap().is_empty());
}

#[tokio::test]
async fn poll_ready_passes_through_and_clones_share_the_config() {
    let ready = Arc::new(AtomicUsize::new(0));
    #[derive(Clone)]
    struct Gate(Arc<AtomicUsize>);
    impl Service<Request<SignedBody<Full<Bytes>>>> for Gate {
        type Response = Response<Full<Bytes>>;
        type Error = &'static str;
        type Future = std::future::Ready<Result<Self::Response, Self::Error>>;
        fn poll_ready(
            &mut self,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Result<(), Self::Error>> {
            match self.0.load(Ordering::SeqCst) {
                0 => std::task::Poll::Pending,
                1 => std::task::Poll::Ready(Ok(())),
                _ => std::task::Poll::Ready(Err("inner not ready")),
            }
        }
        fn call(&mut self, _: Request<SignedBody<Full<Bytes>>>) -> Self::Future {
            std::future::ready(Ok(Response::new(Full::default())))
        }
    }
    let mut svc = layer(fake(Placement::Header)).layer(Gate(Arc::clone(&ready)));
    let waker = std::task::Waker::noop();
    let mut cx = std::task::Context::from_waker(waker);
    assert!(Service::<Request<Full<Bytes>>>::poll_ready(&mut svc, &mut cx).is_pending());
    ready.store(2, Ordering::SeqCst);
    match Service::<Request<Full<Bytes>>>::poll_ready(&mut svc, &mut cx) {
        std::task::Poll::Ready(Err(e)) => assert_eq!(e.to_string(), "inner not ready"),
        other => panic!("{other:?}"),
    }
    ready.store(1, Ordering::SeqCst);
    let mut clone = svc.clone();
    assert!(Arc::ptr_eq(&svc.config, &clone.config));
    let req = Request::get("https://api.example/")
        .body(Full::<Bytes>::default())
        .unwrap();
    clone.ready().await.unwrap().call(req).await.unwrap();
}

/// A mock of two origins: `a.example/start` redirects to `b.example/land` (or to
/// `a.example/land` with `?same`), and every request is recorded.
fn two_origins<B>(
    status: StatusCode,
) -> (
    Arc<Mutex<Vec<(String, Option<String>)>>>,
    impl Service<Request<B>, Response = Response<Full<Bytes>>, Error = Infallible> + Clone,
) {
    let seen: Arc<Mutex<Vec<(String, Option<String>)>>> = Arc::default();
    let s = Arc::clone(&seen);
    let svc = service_fn(move |req: Request<B>| {
        let auth = req
            .headers()
            .get(AUTHORIZATION)
            .map(|v| v.to_str().unwrap().to_owned());
        s.lock().unwrap().push((req.uri().to_string(), auth));
        let res = if req.uri().path() == "/start" {
            let to = if req.uri().query() == Some("same") {
                "https://a.example/land"
            } else {
                "https://b.example/land"
            };
            Response::builder()
                .status(status)
                .header(http::header::LOCATION, to)
                .body(Full::default())
                .unwrap()
        } else {
            Response::new(Full::default())
        };
        async move { Ok::<_, Infallible>(res) }
    });
    (seen, svc)
}

#[tokio::test]
async fn follow_redirect_outside_resigns_each_hop_and_refuses_other_origins() {
    use tower_http::follow_redirect::FollowRedirectLayer;
    let a = Origin::from_uri(&"https://a.example".parse().unwrap()).unwrap();

    // Same origin: each hop is signed for its own URL with a fresh nonce.
    let (seen, client) = two_origins(StatusCode::FOUND);
    let mut svc = ServiceBuilder::new()
        .layer(FollowRedirectLayer::new())
        .layer(layer(fake(Placement::Header)).allowed_origins([a.clone()]))
        .service(client);
    let req = Request::get("https://a.example/start?same")
        .body(Full::<Bytes>::default())
        .unwrap();
    let res = svc.ready().await.unwrap().call(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen.len(), 2);
        let first = seen[0].1.as_deref().unwrap();
        let second = seen[1].1.as_deref().unwrap();
        assert!(first.contains("n=\"0\"") && first.contains("u=\"https://a.example/start?same\""));
        assert!(second.contains("n=\"1\"") && second.contains("u=\"https://a.example/land\""));
    }

    // Cross origin: the hop to b.example is refused before it is sent, so nothing reaches it.
    let (seen, client) = two_origins(StatusCode::FOUND);
    let mut svc = ServiceBuilder::new()
        .layer(FollowRedirectLayer::new())
        .layer(layer(fake(Placement::Header)).allowed_origins([a]))
        .service(client);
    let req = Request::get("https://a.example/start")
        .body(Full::<Bytes>::default())
        .unwrap();
    let err = svc.ready().await.unwrap().call(req).await.unwrap_err();
    assert_eq!(
        err.downcast_ref::<SignRequestError>().unwrap().kind(),
        SignRequestErrorKind::OriginNotAllowed
    );
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1);
    assert!(
        seen.iter()
            .all(|(uri, _)| uri.starts_with("https://a.example/"))
    );
}

#[tokio::test]
async fn follow_redirect_outside_without_allowlist_signs_the_hop_for_its_own_origin() {
    // Documented behaviour without `allowed_origins`: the hop is signed for b.example's URL
    // (never a replay of a.example's signature). This is why the allowlist is recommended.
    use tower_http::follow_redirect::FollowRedirectLayer;
    let (seen, client) = two_origins(StatusCode::FOUND);
    let mut svc = ServiceBuilder::new()
        .layer(FollowRedirectLayer::new())
        .layer(layer(fake(Placement::Header)))
        .service(client);
    let req = Request::get("https://a.example/start")
        .body(Full::<Bytes>::default())
        .unwrap();
    svc.ready().await.unwrap().call(req).await.unwrap();
    let seen = seen.lock().unwrap();
    assert!(
        seen[1]
            .1
            .as_deref()
            .unwrap()
            .contains("u=\"https://b.example/land\"")
    );
    assert!(seen[1].1.as_deref().unwrap().contains("n=\"1\""));
}

#[tokio::test]
async fn follow_redirect_inside_replays_a_stale_header_same_origin_and_is_stripped_cross_origin() {
    // The wrong order does not compile with `SignedBody` (no `Default`); force it by mapping the
    // body back to `Full<Bytes>` to show what would happen.
    use tower_http::follow_redirect::FollowRedirectLayer;
    use tower_http::map_request_body::MapRequestBodyLayer;
    let to_full =
        |b: SignedBody<Full<Bytes>>| Full::new(b.buffered_bytes().cloned().unwrap_or_default());

    let (seen, client) = two_origins::<Full<Bytes>>(StatusCode::FOUND);
    let mut svc = ServiceBuilder::new()
        .layer(layer(fake(Placement::Header)))
        .layer(MapRequestBodyLayer::new(to_full))
        .layer(FollowRedirectLayer::new())
        .service(client);
    let req = Request::get("https://a.example/start")
        .body(Full::<Bytes>::default())
        .unwrap();
    svc.ready().await.unwrap().call(req).await.unwrap();
    {
        let seen = seen.lock().unwrap();
        assert_eq!(seen[0].0, "https://a.example/start");
        assert!(seen[0].1.is_some());
        // FilterCredentials stripped the Authorization header on the cross-origin hop.
        assert_eq!(seen[1], ("https://b.example/land".to_owned(), None));
    }

    let (seen, client) = two_origins::<Full<Bytes>>(StatusCode::FOUND);
    let mut svc = ServiceBuilder::new()
        .layer(layer(fake(Placement::Header)))
        .layer(MapRequestBodyLayer::new(to_full))
        .layer(FollowRedirectLayer::new())
        .service(client);
    let req = Request::get("https://a.example/start?same")
        .body(Full::<Bytes>::default())
        .unwrap();
    svc.ready().await.unwrap().call(req).await.unwrap();
    let seen = seen.lock().unwrap();
    // Same origin: the header signed for /start (same nonce) is replayed to /land, which a
    // provider rejects. Hence: put FollowRedirect outside.
    assert_eq!(seen[1].0, "https://a.example/land");
    assert_eq!(seen[1].1, seen[0].1);
    assert!(
        seen[1]
            .1
            .as_deref()
            .unwrap()
            .contains("u=\"https://a.example/start?same\"")
    );
}

#[test]
fn origin_parsing() {
    let o = |s: &str| Origin::from_uri(&s.parse().unwrap());
    assert_eq!(o("http://A.example"), o("http://a.example:80/x"));
    assert_ne!(o("http://a.example"), o("https://a.example"));
    assert_ne!(o("https://a.example:8443"), o("https://a.example"));
    assert_eq!(o("/relative"), None);
    assert_eq!(o("ftp://a.example"), None);
}

fn real_signer() -> oauth_core::oauth1::Signer {
    use oauth_core::clock::{CountingRandom, ManualClock};
    use oauth_core::oauth1::{ClientCredentials, Signer, TokenCredentials};
    use oauth_core::secret::{ConsumerSecret, TokenSecret};
    Signer::builder(ClientCredentials::new(
        "key",
        ConsumerSecret::new("SENTINEL-cs"),
    ))
    .token(TokenCredentials::new(
        "tok",
        TokenSecret::new("SENTINEL-ts"),
    ))
    .clock(ManualClock::at_unix_seconds(1_318_622_958))
    .random(CountingRandom::new(1))
    .build()
    .unwrap()
}

/// The real signer through the layer: the `Authorization` header by default, the query or the
/// form body when asked, and each in that one place only (SECURITY.md O1-10, O1-15; RFC 5849
/// §3.5); a fresh nonce per request, and no secret in what is sent or printed.
#[tokio::test]
async fn real_signer_header_query_and_body() {
    let (seen, client) = recorder();
    let mut svc = SignLayer::new(real_signer()).layer(client.clone());
    let req = Request::get("https://api.example/r?a=1")
        .body(Full::<Bytes>::default())
        .unwrap();
    svc.ready().await.unwrap().call(req).await.unwrap();
    let req = Request::get("https://api.example/r?a=1")
        .body(Full::<Bytes>::default())
        .unwrap();
    svc.ready().await.unwrap().call(req).await.unwrap();
    let mut q = SignLayer::new(real_signer())
        .placement(Placement::Query)
        .layer(client.clone());
    let req = Request::get("https://api.example/r?a=1")
        .body(Full::<Bytes>::default())
        .unwrap();
    q.ready().await.unwrap().call(req).await.unwrap();
    let mut b = SignLayer::new(real_signer())
        .placement(Placement::Body)
        .layer(client);
    b.ready()
        .await
        .unwrap()
        .call(form_post("https://api.example/r", "a=1"))
        .await
        .unwrap();

    let seen = seen.lock().unwrap();
    let h0 = seen[0].2[AUTHORIZATION].to_str().unwrap().to_owned();
    let h1 = seen[1].2[AUTHORIZATION].to_str().unwrap().to_owned();
    assert!(h0.starts_with("OAuth "), "{h0}");
    assert!(h0.contains("oauth_consumer_key=\"key\"") && h0.contains("oauth_token=\"tok\""));
    assert!(h0.contains("oauth_timestamp=\"1318622958\""));
    assert!(seen[0].2[AUTHORIZATION].is_sensitive());
    let nonce = |h: &str| {
        h.split("oauth_nonce=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap()
            .to_owned()
    };
    assert_ne!(nonce(&h0), nonce(&h1), "a fresh nonce per request");
    assert!(
        seen[2].1.starts_with("https://api.example/r?a=1&oauth_"),
        "{}",
        seen[2].1
    );
    assert!(seen[2].1.contains("oauth_signature="));
    let body = std::str::from_utf8(&seen[3].3).unwrap();
    assert!(
        body.starts_with("a=1&oauth_") && body.contains("oauth_signature="),
        "{body}"
    );
    assert_eq!(seen[3].2[CONTENT_LENGTH], body.len().to_string().as_str());
    // One place only: the header placement leaves the query and the body alone, the query
    // and body placements send no `Authorization` header, and the body placement leaves the
    // query alone.
    for s in &seen[..2] {
        assert_eq!(s.1, "https://api.example/r?a=1");
        assert!(s.3.is_empty(), "{:?}", s.3);
    }
    for s in &seen[2..] {
        assert!(!s.2.contains_key(AUTHORIZATION), "{:?}", s.2);
    }
    assert!(seen[2].3.is_empty(), "{:?}", seen[2].3);
    assert_eq!(seen[3].1, "https://api.example/r");
    for s in seen.iter() {
        let all = format!("{:?} {:?}", s.1, s.2);
        assert!(!all.contains("SENTINEL"));
    }
    assert!(!format!("{:?}", SignLayer::new(real_signer())).contains("SENTINEL"));
}

/// PLAINTEXT's "signature" is the two secrets: without an origin allowlist (which keeps a
/// redirect to another origin from receiving them) nothing is signed or sent.
#[tokio::test]
async fn plaintext_needs_allowed_origins() {
    use oauth_core::oauth1::{ClientCredentials, SignatureMethod, Signer};
    use oauth_core::secret::ConsumerSecret;
    let plaintext = || {
        Signer::builder(ClientCredentials::new(
            "key",
            ConsumerSecret::new("SENTINEL-cs"),
        ))
        .method(SignatureMethod::Plaintext)
        .build()
        .unwrap()
    };
    let (seen, client) = recorder();
    let mut open = SignLayer::new(plaintext()).layer(client.clone());
    let req = Request::get("https://api.example/r")
        .body(Full::<Bytes>::default())
        .unwrap();
    let err = open.ready().await.unwrap().call(req).await.unwrap_err();
    let err = err.downcast_ref::<SignRequestError>().unwrap();
    assert_eq!(err.kind(), SignRequestErrorKind::AllowedOriginsRequired);
    assert!(seen.lock().unwrap().is_empty(), "nothing was sent");
    let origin = Origin::from_uri(&"https://api.example/".parse().unwrap()).unwrap();
    let mut allowed = SignLayer::new(plaintext())
        .allowed_origins([origin])
        .layer(client);
    let req = Request::get("https://api.example/r")
        .body(Full::<Bytes>::default())
        .unwrap();
    allowed.ready().await.unwrap().call(req).await.unwrap();
    assert_eq!(seen.lock().unwrap().len(), 1);
}

/// The kind of the error a request to `svc` fails with, and that nothing was sent.
async fn refused<S>(svc: &mut S, req: Request<Full<Bytes>>) -> SignRequestErrorKind
where
    S: Service<Request<Full<Bytes>>, Error = BoxError>,
{
    let err = svc.ready().await.unwrap().call(req).await.err().unwrap();
    err.downcast_ref::<SignRequestError>().unwrap().kind()
}

/// `oauth_body_hash` is for bodies that are not forms: a bodiless request with body placement,
/// or an empty form, is signed without it (the real signer refuses the two together).
#[tokio::test]
async fn body_hash_with_an_empty_form_signs_without_a_hash() {
    let (seen, client) = recorder();
    let mut body = SignLayer::new(real_signer())
        .placement(Placement::Body)
        .body_hash(true)
        .layer(client.clone());
    let req = Request::post("https://api.example/r")
        .body(Full::<Bytes>::default())
        .unwrap();
    body.ready().await.unwrap().call(req).await.unwrap();
    let mut header = SignLayer::new(real_signer())
        .body_hash(true)
        .layer(client.clone());
    header
        .ready()
        .await
        .unwrap()
        .call(form_post("https://api.example/r", ""))
        .await
        .unwrap();
    // A JSON body still gets its hash.
    let req = Request::post("https://api.example/r")
        .header(CONTENT_TYPE, "application/json")
        .body(Full::new(Bytes::from_static(b"{}")))
        .unwrap();
    header.ready().await.unwrap().call(req).await.unwrap();
    let seen = seen.lock().unwrap();
    let body = std::str::from_utf8(&seen[0].3).unwrap();
    assert!(body.starts_with("oauth_consumer_key="), "{body}");
    assert!(!body.contains("oauth_body_hash"));
    let auth = seen[1].2[AUTHORIZATION].to_str().unwrap();
    assert!(!auth.contains("oauth_body_hash"), "{auth}");
    let auth = seen[2].2[AUTHORIZATION].to_str().unwrap();
    // SHA-1 of `{}`, base64.
    assert!(
        auth.contains("oauth_body_hash=\"vyGp6PvFo4RvsFtPoIWeCReyIC8%3D\""),
        "{auth}"
    );
}

/// Body placement on GET, HEAD or DELETE (whose bodies have no defined semantics and servers
/// may ignore or refuse, RFC 9110 §9.3.1, §9.3.2, §9.3.5), TRACE (which must carry none) or
/// CONNECT, and PLAINTEXT in the query (secrets in the URL), are refused before anything is
/// sent. (TRACE, CONNECT and then DELETE used to be signed into a body the server would not
/// read.)
#[tokio::test]
async fn placements_that_would_lose_the_parameters_or_leak_secrets_are_refused() {
    use oauth_core::oauth1::{ClientCredentials, SignatureMethod, Signer};
    use oauth_core::secret::ConsumerSecret;
    let (seen, client) = recorder();
    let mut body = SignLayer::new(real_signer())
        .placement(Placement::Body)
        .layer(client.clone());
    for method in [
        http::Method::GET,
        http::Method::HEAD,
        http::Method::DELETE,
        http::Method::TRACE,
        http::Method::CONNECT,
    ] {
        let req = Request::builder()
            .method(method)
            .uri("https://api.example/r")
            .body(Full::<Bytes>::default())
            .unwrap();
        assert_eq!(
            refused(&mut body, req).await,
            SignRequestErrorKind::BodyPlacementWithoutBody
        );
    }
    let plaintext = Signer::builder(ClientCredentials::new(
        "key",
        ConsumerSecret::new("SENTINEL-cs"),
    ))
    .method(SignatureMethod::Plaintext)
    .build()
    .unwrap();
    let origin = Origin::from_uri(&"https://api.example/".parse().unwrap()).unwrap();
    let mut query = SignLayer::new(plaintext)
        .allowed_origins([origin])
        .placement(Placement::Query)
        .layer(client);
    let req = Request::get("https://api.example/r")
        .body(Full::<Bytes>::default())
        .unwrap();
    assert_eq!(
        refused(&mut query, req).await,
        SignRequestErrorKind::SecretsInQuery
    );
    assert!(seen.lock().unwrap().is_empty(), "nothing was sent");
}

/// Plain http is refused (RFC 5849 §4.2), except to a loopback host after
/// `dangerous_allow_http_loopback`.
#[tokio::test]
async fn plain_http_only_to_loopback_and_only_when_allowed() {
    let (seen, client) = recorder();
    let get = |uri: &str| Request::get(uri).body(Full::<Bytes>::default()).unwrap();
    let mut strict = SignLayer::new(real_signer()).layer(client.clone());
    for uri in ["http://api.example/r", "http://127.0.0.1:8080/r"] {
        assert_eq!(
            refused(&mut strict, get(uri)).await,
            SignRequestErrorKind::InsecureTransport
        );
    }
    let mut local = SignLayer::new(real_signer())
        .dangerous_allow_http_loopback()
        .layer(client);
    assert_eq!(
        refused(&mut local, get("http://api.example/r")).await,
        SignRequestErrorKind::InsecureTransport
    );
    assert!(seen.lock().unwrap().is_empty());
    for uri in [
        "http://127.0.0.1:8080/r",
        "http://localhost/r",
        "http://[::1]:1/r",
    ] {
        local.ready().await.unwrap().call(get(uri)).await.unwrap();
    }
    assert_eq!(seen.lock().unwrap().len(), 3);
    // A legacy http-only provider, with HMAC: allowed when asked for.
    let (seen, client) = recorder();
    let mut legacy = SignLayer::new(real_signer())
        .dangerous_allow_http()
        .layer(client);
    legacy
        .ready()
        .await
        .unwrap()
        .call(get("HTTP://api.example/r"))
        .await
        .unwrap();
    assert_eq!(seen.lock().unwrap().len(), 1);
}

/// `dangerous_allow_http` never sends PLAINTEXT's signature (the secrets) in clear text to
/// another host, even with a signer that allows PLAINTEXT over http.
#[tokio::test]
async fn plaintext_is_never_sent_over_http_to_another_host() {
    use oauth_core::oauth1::{ClientCredentials, SignatureMethod, Signer};
    use oauth_core::secret::ConsumerSecret;
    let plaintext = Signer::builder(ClientCredentials::new(
        "key",
        ConsumerSecret::new("SENTINEL-cs"),
    ))
    .method(SignatureMethod::Plaintext)
    .dangerous_allow_plaintext_over_http()
    .build()
    .unwrap();
    let origin = Origin::from_uri(&"http://api.example/".parse().unwrap()).unwrap();
    let (seen, client) = recorder();
    let mut svc = SignLayer::new(plaintext)
        .allowed_origins([origin])
        .dangerous_allow_http()
        .layer(client);
    let req = Request::get("http://api.example/r")
        .body(Full::<Bytes>::default())
        .unwrap();
    assert_eq!(
        refused(&mut svc, req).await,
        SignRequestErrorKind::InsecureTransport
    );
    assert!(seen.lock().unwrap().is_empty(), "nothing was sent");
}

/// SECURITY.md §4.10 #90: a provider's 401 (`oauth_problem="timestamp_refused"`, say) comes
/// back to the caller as it is, from one request: the layer never re-signs and resends by
/// itself (a resend could only repeat the refusal, or replay a nonce).
#[tokio::test]
async fn a_provider_401_is_returned_as_is_from_one_request() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&calls);
    let client = service_fn(move |_: Request<SignedBody<Full<Bytes>>>| {
        counter.fetch_add(1, Ordering::SeqCst);
        let res = Response::builder()
            .status(StatusCode::UNAUTHORIZED)
            .header(
                "www-authenticate",
                r#"OAuth realm="api", oauth_problem="timestamp_refused", oauth_acceptable_timestamps="1-2""#,
            )
            .body(Full::new(Bytes::from_static(
                b"oauth_problem=timestamp_refused",
            )))
            .unwrap();
        async move { Ok::<_, Infallible>(res) }
    });
    let svc = ServiceBuilder::new()
        .layer(layer(fake(Placement::Header)))
        .service(client);
    let res = svc
        .oneshot(
            Request::get("https://api.example/r")
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(
        res.headers()["www-authenticate"]
            .to_str()
            .unwrap()
            .contains("timestamp_refused")
    );
    assert_eq!(
        res.into_body().collect().await.unwrap().to_bytes(),
        "oauth_problem=timestamp_refused"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[test]
fn origins_parse_from_text_and_nothing_else() {
    use super::{InvalidOrigin, Origin};
    let origin = |text: &str| text.parse::<Origin>();
    let uri = |text: &str| Origin::from_uri(&text.parse().unwrap()).unwrap();
    assert_eq!(
        origin("https://API.example.com/"),
        Ok(uri("https://api.example.com/x"))
    );
    assert_eq!(
        origin("http://127.0.0.1:8080"),
        Ok(uri("http://127.0.0.1:8080/y"))
    );
    assert_eq!(origin("https://[::1]:8443"), Ok(uri("https://[::1]:8443")));
    for bad in [
        "https://api.example.com/1.1",
        "https://api.example.com?x=1",
        "https://user:pw@api.example.com",
        "ftp://api.example.com",
        "api.example.com",
        "",
    ] {
        assert_eq!(origin(bad), Err(InvalidOrigin), "{bad}");
    }
}

/// SECURITY.md §4.8 #76: a streaming form body (unknown length, in chunks) under the
/// limit is buffered and signed with its parameters, and the same bytes are sent; it is never
/// signed without them.
#[tokio::test]
async fn s4_8_case76_a_streaming_form_body_is_buffered_and_signed() {
    type Rec = Arc<Mutex<Vec<(http::HeaderMap, Bytes)>>>;
    let seen: Rec = Arc::default();
    let s = Arc::clone(&seen);
    let client = service_fn(
        move |req: Request<SignedBody<http_body_util::channel::Channel<Bytes, Infallible>>>| {
            let s = Arc::clone(&s);
            async move {
                let (parts, body) = req.into_parts();
                let bytes = body.collect().await.unwrap().to_bytes();
                s.lock().unwrap().push((parts.headers, bytes));
                Ok::<_, Infallible>(Response::new(Full::<Bytes>::default()))
            }
        },
    );
    let mut svc = layer(fake(Placement::Header)).body_limit(64).layer(client);
    let (mut tx, body) = http_body_util::channel::Channel::<Bytes, Infallible>::new(4);
    let req = Request::post("https://api.example/r")
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(body)
        .unwrap();
    let fut = svc.ready().await.unwrap().call(req);
    let sender = tokio::spawn(async move {
        tx.send_data(Bytes::from_static(b"a=1&")).await.unwrap();
        tx.send_data(Bytes::from_static(b"b=%E2%9C%93"))
            .await
            .unwrap();
        drop(tx);
    });
    fut.await.unwrap();
    sender.await.unwrap();
    let seen = seen.lock().unwrap();
    let (headers, body) = &seen[0];
    assert_eq!(
        headers[AUTHORIZATION],
        "OAuth n=\"0\", m=\"POST\", u=\"https://api.example/r\", f=\"a=1&b=%E2%9C%93\", h=\"-\""
    );
    assert_eq!(body.as_ref(), b"a=1&b=%E2%9C%93");
}

/// The default buffering limit is the documented 1 MiB: a form body of exactly that size is
/// read and signed, one byte more is `BodyTooLarge` naming 1 MiB.
#[tokio::test]
async fn the_default_body_limit_is_one_mebibyte() {
    let (seen, client) = recorder();
    let mut svc = layer(fake(Placement::Header)).layer(client);
    let form = |len: usize| {
        let body = format!("a={}", "x".repeat(len - 2));
        Request::post("https://api.example/r")
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Full::new(Bytes::from(body)))
            .unwrap()
    };
    svc.ready()
        .await
        .unwrap()
        .call(form(1 << 20))
        .await
        .unwrap();
    assert_eq!(seen.lock().unwrap()[0].3.len(), 1 << 20);
    let err = svc
        .ready()
        .await
        .unwrap()
        .call(form((1 << 20) + 1))
        .await
        .unwrap_err();
    assert_eq!(err.downcast_ref::<BodyTooLarge>().unwrap().limit(), 1 << 20);
    assert_eq!(seen.lock().unwrap().len(), 1);
}

/// A body whose declared length is already over the limit is refused without reading a byte
/// of it (a sender announcing gigabytes is not read up to the limit first).
#[tokio::test]
async fn a_body_declared_over_the_limit_is_not_read() {
    /// Declares 100 bytes; reading it fails the test's expectations.
    struct Declared(Arc<AtomicUsize>);
    impl http_body::Body for Declared {
        type Data = Bytes;
        type Error = Infallible;
        fn poll_frame(
            self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
            self.0.fetch_add(1, Ordering::SeqCst);
            std::task::Poll::Ready(None)
        }
        fn size_hint(&self) -> http_body::SizeHint {
            http_body::SizeHint::with_exact(100)
        }
    }
    let polls = Arc::new(AtomicUsize::new(0));
    let (sent, client) = recorder_for_any();
    let mut svc = layer(fake(Placement::Header)).body_limit(99).layer(client);
    let req = Request::post("https://api.example/r")
        .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
        .body(Declared(Arc::clone(&polls)))
        .unwrap();
    let err = svc.ready().await.unwrap().call(req).await.unwrap_err();
    assert_eq!(err.downcast_ref::<BodyTooLarge>().unwrap().limit(), 99);
    assert_eq!(polls.load(Ordering::SeqCst), 0, "the body was read");
    assert!(sent.lock().unwrap().is_empty());
}

/// The response future's `Debug` names the type and nothing it holds: while it buffers a form
/// body, the body and the request's headers are in it.
#[tokio::test]
async fn the_response_future_debug_shows_nothing_it_holds() {
    let (_, client) = recorder();
    let mut svc = layer(fake(Placement::Header)).layer(client);
    let mut req = form_post("https://api.example/r", "password=SENTINEL");
    req.headers_mut()
        .insert("cookie", HeaderValue::from_static("session=SENTINEL"));
    let fut = svc.ready().await.unwrap().call(req);
    assert_eq!(format!("{fut:?}"), "ResponseFuture { .. }");
    fut.await.unwrap();
}

/// `Sign`'s own settings (for a service built without the layer's builder) take effect like
/// the layer's, on that service only; `get_ref`, `get_mut` and `into_inner` reach the inner
/// service.
#[tokio::test]
async fn the_services_own_settings_take_effect() {
    let (seen, client) = recorder();
    let get = |uri: &str| Request::get(uri).body(Full::<Bytes>::default()).unwrap();
    let base = layer(fake(Placement::Header));

    let mut only_a = base
        .clone()
        .layer(client.clone())
        .allowed_origins(["https://a.example".parse::<Origin>().unwrap()]);
    assert_eq!(
        refused(&mut only_a, get("https://b.example/r")).await,
        SignRequestErrorKind::OriginNotAllowed
    );
    only_a
        .ready()
        .await
        .unwrap()
        .call(get("https://a.example/r"))
        .await
        .unwrap();

    let mut small = base.clone().layer(client.clone()).body_limit(8);
    let err = small
        .ready()
        .await
        .unwrap()
        .call(form_post("https://api.example/r", "a=1234567"))
        .await
        .unwrap_err();
    assert_eq!(err.downcast_ref::<BodyTooLarge>().unwrap().limit(), 8);

    let mut local = base
        .clone()
        .layer(client.clone())
        .dangerous_allow_http_loopback();
    assert_eq!(
        refused(&mut local, get("http://api.example/r")).await,
        SignRequestErrorKind::InsecureTransport
    );
    local
        .ready()
        .await
        .unwrap()
        .call(get("http://127.0.0.1:8080/r"))
        .await
        .unwrap();

    let mut legacy = base.clone().layer(client.clone()).dangerous_allow_http();
    legacy
        .ready()
        .await
        .unwrap()
        .call(get("http://api.example/r"))
        .await
        .unwrap();
    assert_eq!(seen.lock().unwrap().len(), 3);

    // The layer, and services made from it, kept the defaults.
    let mut plain = base.layer(client);
    assert_eq!(
        refused(&mut plain, get("http://127.0.0.1:8080/r")).await,
        SignRequestErrorKind::InsecureTransport
    );

    let mut svc = layer(fake(Placement::Header)).layer(7_u8);
    assert_eq!(*svc.get_ref(), 7);
    *svc.get_mut() = 8;
    assert_eq!(svc.into_inner(), 8);
}

/// A configured realm is sent first in the `Authorization` header of every request (with and
/// without a form body, through the layer and through `Sign::realm`), and is not signed: the
/// rest of the header is the one the same signer writes without a realm (RFC 5849 §3.5.1,
/// §3.4.1.3.1).
#[tokio::test]
async fn a_realm_is_sent_first_in_every_header_and_not_signed() {
    let (seen, client) = recorder();
    let realm = Realm::new("http://sp.example.com/ 123456_SB1").unwrap();
    let mut with = SignLayer::new(real_signer())
        .realm(realm.clone())
        .layer(client.clone());
    let mut without = SignLayer::new(real_signer()).layer(client.clone());
    let mut service = SignLayer::new(real_signer())
        .layer(client.clone())
        .realm(realm);
    for svc in [&mut with, &mut without, &mut service] {
        let get = Request::get("https://api.example/r?a=1")
            .body(Full::<Bytes>::default())
            .unwrap();
        svc.ready().await.unwrap().call(get).await.unwrap();
        let post = form_post("https://api.example/r", "b=2");
        svc.ready().await.unwrap().call(post).await.unwrap();
    }
    let seen = seen.lock().unwrap();
    let header = |i: usize| seen[i].2[AUTHORIZATION].to_str().unwrap().to_owned();
    for i in 0..2 {
        let plain = header(2 + i);
        let rest = plain.strip_prefix("OAuth ").unwrap();
        assert!(rest.starts_with("oauth_consumer_key=\"key\", "), "{plain}");
        let expected = format!("OAuth realm=\"http://sp.example.com/ 123456_SB1\", {rest}");
        assert_eq!(header(i), expected, "the layer's realm");
        assert_eq!(header(4 + i), expected, "Sign::realm");
        assert!(seen[i].2[AUTHORIZATION].is_sensitive());
    }
    // Only in the header: the query and the form are as the caller sent them.
    assert_eq!(seen[0].1, "https://api.example/r?a=1");
    assert_eq!(seen[1].3, "b=2");
}

/// RFC 5849 defines the realm for the `Authorization` header only (§3.5.1): with query or body
/// placement a layer with a realm refuses every request before anything is sent, instead of
/// sending it without the realm. The refusal comes first, whatever the request.
#[tokio::test]
async fn a_realm_needs_header_placement() {
    let (seen, client) = recorder();
    let realm = || Realm::new("Photos").unwrap();
    for placement in [Placement::Query, Placement::Body] {
        let mut svc = SignLayer::new(real_signer())
            .placement(placement)
            .realm(realm())
            .layer(client.clone());
        let get = Request::get("https://api.example/r")
            .body(Full::<Bytes>::default())
            .unwrap();
        assert_eq!(
            refused(&mut svc, get).await,
            SignRequestErrorKind::RealmNeedsHeaderPlacement,
            "{placement:?}"
        );
        // The order of the builder calls does not matter, nor the request.
        let mut svc = SignLayer::new(real_signer())
            .realm(realm())
            .placement(placement)
            .layer(client.clone());
        assert_eq!(
            refused(&mut svc, form_post("https://api.example/r", "a=1")).await,
            SignRequestErrorKind::RealmNeedsHeaderPlacement,
            "{placement:?}"
        );
    }
    assert!(seen.lock().unwrap().is_empty(), "nothing was sent");
    let error = SignRequestError {
        kind: SignRequestErrorKind::RealmNeedsHeaderPlacement,
        source: None,
    };
    assert_eq!(
        error.to_string(),
        "a realm is sent only in the Authorization header: it needs header placement"
    );
}

/// `Realm::new` accepts exactly the realms oauth-core's signer sends: a realm that cannot be
/// sent is refused when the layer or dance is configured, never at signing time.
#[test]
fn realm_checks_agree_with_the_core_signer() {
    use oauth_core::oauth1::SignOptions;
    let signer = real_signer();
    let uri: Uri = "https://api.example/r".parse().unwrap();
    let mut texts: Vec<String> = (0u8..=0x7f).map(|b| format!("a{}b", b as char)).collect();
    texts.extend(["", "\u{e9}", "\u{85}", "\u{1f600}", "a\u{2028}"].map(String::from));
    for text in texts {
        let core = signer.sign(
            &Method::GET,
            &uri,
            None,
            &SignOptions::new().realm(&text),
            Placement::Header,
        );
        assert_eq!(
            Realm::new(text.as_str()).is_ok(),
            core.is_ok(),
            "{text:?}: {:?}",
            core.err()
        );
    }
}
