//! A DPoP `use_dpop_nonce` 401 that carries no (valid) nonce, under `RetryOn401::Any`: never
//! a token refusal, whether the request's body could be kept or not; and a DPoP `invalid_token`
//! 401 on a request whose body could not be kept, which is one.
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

/// SECURITY.md §4.11 #92: a `use_dpop_nonce` 401 whose `DPoP-Nonce` is repeated or not
/// `NQCHAR` is an `InvalidDpopNonce` error, as it is for a request that could be sent again.
/// For a body that could not be kept, the 401 used to come back with no word of why (the
/// nonce is never stored, so every later request got the same 401).
#[tokio::test]
async fn an_invalid_nonce_is_an_error_for_unreplayable_bodies_too() {
    for nonces in [&["n-1", "n-2"][..], &["two words"][..]] {
        for body in ["", "x=1"] {
            let (source, _) = dpop_source_refreshing_tok_1_to_tok_2().await;
            let calls = Arc::new(AtomicUsize::new(0));
            let counter = calls.clone();
            let api = tower::service_fn(move |_: Request<Full<Bytes>>| {
                counter.fetch_add(1, Ordering::SeqCst);
                let mut res = Response::new(Full::<Bytes>::default());
                *res.status_mut() = StatusCode::UNAUTHORIZED;
                res.headers_mut().insert(
                    "www-authenticate",
                    http::HeaderValue::from_static(r#"DPoP error="use_dpop_nonce""#),
                );
                for nonce in nonces {
                    res.headers_mut()
                        .append("dpop-nonce", http::HeaderValue::from_static(nonce));
                }
                async move { Ok::<_, Infallible>(res) }
            });
            let layer = OAuth2Layer::new(source, API).unwrap();
            let request = Request::post("https://api.example.com/a")
                .body(Full::from(body))
                .unwrap();
            let error = tower::Layer::layer(&layer, api)
                .oneshot(request)
                .await
                .expect_err(body);
            let error = error.downcast_ref::<tower_oauth2::Error>().unwrap();
            assert_eq!(
                error.kind(),
                tower_oauth2::ErrorKind::InvalidDpopNonce,
                "{nonces:?} body {body:?}"
            );
            assert_eq!(calls.load(Ordering::SeqCst), 1, "no retry");
        }
    }
}

/// Sends a POST whose body the default policy does not keep, answered by a 401 with
/// `challenge`, then a GET; returns the Authorization of each request the server saw, the
/// status of the first answer, and the fetch count.
async fn unreplayable_refusal(challenge: &'static str) -> (Vec<String>, StatusCode, usize) {
    let (source, fetches) = dpop_source_refreshing_tok_1_to_tok_2().await;
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let api = tower::service_fn(move |req: Request<Full<Bytes>>| {
        let authorization = req.headers()["authorization"].to_str().unwrap().to_owned();
        let mut log = log.lock().unwrap();
        let first = log.is_empty();
        log.push(authorization);
        let mut res = Response::new(Full::<Bytes>::default());
        if first {
            *res.status_mut() = StatusCode::UNAUTHORIZED;
            res.headers_mut().insert(
                "www-authenticate",
                http::HeaderValue::from_static(challenge),
            );
        }
        async move { Ok::<_, Infallible>(res) }
    });
    let layer = OAuth2Layer::new(source, API).unwrap();
    let mut svc = tower::Layer::layer(&layer, api);
    let first = Request::post("https://api.example.com/a")
        .body(Full::from("x=1"))
        .unwrap();
    let status = svc
        .ready()
        .await
        .unwrap()
        .call(first)
        .await
        .unwrap()
        .status();
    let second = Request::get("https://api.example.com/b")
        .body(Full::default())
        .unwrap();
    svc.ready().await.unwrap().call(second).await.unwrap();
    let seen = seen.lock().unwrap().clone();
    (seen, status, fetches.load(Ordering::SeqCst))
}

/// A DPoP-bound token refused with `DPoP error="invalid_token"` (RFC 9449 §7.1, RFC 6750 §3.1)
/// on a request whose body could not be kept: the 401 goes back, and the next request has a
/// new token. A 401 that does not say the token is invalid (no error code: RFC 6750 §3.1 says
/// a server omits it when the request had no usable credentials) is not a refusal under the
/// default policy: the token is kept.
#[tokio::test]
async fn an_invalid_dpop_token_is_replaced_after_an_unreplayable_request_and_no_other_401_replaces_it()
 {
    let (seen, status, fetches) = unreplayable_refusal(r#"DPoP error="invalid_token""#).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(fetches, 1);
    assert_eq!(seen, ["DPoP tok-1", "DPoP tok-2"]);

    let (seen, status, fetches) = unreplayable_refusal(r#"DPoP realm="api""#).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert_eq!(fetches, 0);
    assert_eq!(seen, ["DPoP tok-1", "DPoP tok-1"]);
}
