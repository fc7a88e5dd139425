//! A DPoP `use_dpop_nonce` 401 that carries no (valid) nonce, under `RetryOn401::Any`: never
//! a token refusal, whether the request's body could be kept or not.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use tower::{Service, ServiceExt};
use tower_oauth2::OAuth2Layer;
use tower_oauth2::policy::RetryOn401;

mod common;
use common::{API, dpop_source_refreshing_tok_1_to_tok_2};

/// Runs a first request (`body` empty: replayable; else a POST body the default policy
/// does not keep) answered by `DPoP error="use_dpop_nonce"` with no `DPoP-Nonce`, then a second
/// request; returns the Authorization of each request the server saw and the fetch count.
async fn run(body: &'static str) -> (Vec<String>, usize) {
    let (source, fetches) = dpop_source_refreshing_tok_1_to_tok_2().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let n = Arc::new(AtomicUsize::new(0));
    let api = tower::service_fn(move |req: Request<Full<Bytes>>| {
        log.lock().unwrap().push(
            req.headers()
                .get("authorization")
                .unwrap()
                .to_str()
                .unwrap()
                .to_owned(),
        );
        let first = n.fetch_add(1, Ordering::SeqCst) == 0;
        async move {
            let mut res = Response::new(Full::<Bytes>::default());
            if first {
                *res.status_mut() = StatusCode::UNAUTHORIZED;
                res.headers_mut().insert(
                    "www-authenticate",
                    http::HeaderValue::from_static(r#"DPoP error="use_dpop_nonce""#),
                );
            }
            Ok::<_, Infallible>(res)
        }
    });
    let layer = OAuth2Layer::new(source.clone(), API)
        .unwrap()
        .retry_on_401(RetryOn401::Any);
    let mut svc = tower::Layer::layer(&layer, api);
    let first = Request::post("https://api.example.com/a")
        .body(Full::from(body))
        .unwrap();
    let r = svc.ready().await.unwrap().call(first).await.unwrap();
    let _ = r;
    let second = Request::get("https://api.example.com/b")
        .body(Full::default())
        .unwrap();
    svc.ready().await.unwrap().call(second).await.unwrap();
    let seen = seen.lock().unwrap().clone();
    (seen, fetches.load(Ordering::SeqCst))
}

/// With an empty (replayable) body, the nonce challenge with no nonce is returned and the token
/// is kept (no refresh). With a body that could not be kept, the same (it used to mark the
/// token refused, so the next request refreshed).
#[tokio::test]
async fn a_nonce_challenge_is_not_a_token_refusal_for_unreplayable_bodies() {
    let (replayable, replayable_fetches) = run("").await;
    assert_eq!(replayable_fetches, 0, "replayable path: {replayable:?}");
    let (unreplayable, unreplayable_fetches) = run("x=1").await;
    assert_eq!(
        (unreplayable_fetches, unreplayable.last().cloned()),
        (0, Some("DPoP tok-1".to_owned())),
        "unreplayable path refreshed after a use_dpop_nonce 401: {unreplayable:?} (replayable path: {replayable:?})"
    );
}
