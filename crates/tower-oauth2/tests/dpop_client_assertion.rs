//! `private_key_jwt` client assertions with DPoP at the token endpoint: the try after a
//! `use_dpop_nonce` challenge carries a new assertion (an assertion is single-use), so a nonce
//! rotation does not end a session. (The real-server check is in `interop-tests`.)
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use oauth_core::oauth2::{Client, Endpoint, PrivateKeyJwt};
use tower_oauth2::GrantClient;

mod common;
use common::{dpop_key, ec_p256_key, json_response, jws_claims};

/// OpenID Connect Core §9 (private_key_jwt): the assertion's `jti` "MUST only be used once";
/// RFC 7523 §3 lets the AS refuse a replayed `jti`. When the token endpoint answers
/// `use_dpop_nonce` (RFC 9449 §8), the request sent again has a new proof and a new
/// assertion (it used to be a copy of the first body, with the same assertion).
#[tokio::test]
async fn the_nonce_retry_carries_a_new_client_assertion() {
    let assertions: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = assertions.clone();
    let svc = tower::service_fn(move |req: Request<Full<Bytes>>| {
        let seen = seen.clone();
        async move {
            let body = req.into_body().collect().await.unwrap().to_bytes();
            let assertion = form_urlencoded_get(&body, "client_assertion").unwrap();
            let first = {
                let mut seen = seen.lock().unwrap();
                seen.push(assertion);
                seen.len() == 1
            };
            let response: Response<Full<Bytes>> = if first {
                Response::builder()
                    .status(400)
                    .header("content-type", "application/json")
                    .header("dpop-nonce", "n-1")
                    .body(Full::from(r#"{"error":"use_dpop_nonce"}"#))
                    .unwrap()
            } else {
                json_response(
                    200,
                    r#"{"access_token":"a","token_type":"DPoP","expires_in":60}"#,
                )
            };
            Ok::<_, Infallible>(response)
        }
    });
    let client = Client::private_key_jwt("s6BhdRkqt3", PrivateKeyJwt::es256(ec_p256_key()));
    let grants = GrantClient::new(
        svc,
        Endpoint::new("https://server.example.com/token").unwrap(),
        client,
    )
    .dpop(dpop_key());
    grants.client_credentials(None).await.unwrap();
    let assertions = assertions.lock().unwrap();
    assert_eq!(assertions.len(), 2, "one use_dpop_nonce retry");
    assert_ne!(
        assertions[0], assertions[1],
        "the retry re-sent the same client assertion (same jti)"
    );
}

fn form_urlencoded_get(body: &[u8], name: &str) -> Option<String> {
    std::str::from_utf8(body)
        .unwrap()
        .split('&')
        .filter_map(|p| p.split_once('='))
        .find(|(n, _)| *n == name)
        .map(|(_, v)| v.to_owned())
}

/// What a repeated assertion cost a token source: a server that refuses a replayed assertion
/// `jti` (oidc-provider does) answered the nonce retry of a *refresh* with `invalid_client`, a
/// terminal configuration error, so a DPoP nonce rotation ended the session.
#[tokio::test]
async fn a_refresh_survives_a_nonce_rotation_at_a_server_that_refuses_replayed_assertions() {
    use oauth_core::oauth2::{Token, TokenType};
    use oauth_core::secret::{AccessToken, RefreshToken};
    let seen_jti: Arc<Mutex<Vec<String>>> = Arc::default();
    let svc = tower::service_fn(move |req: Request<Full<Bytes>>| {
        let seen_jti = seen_jti.clone();
        async move {
            let proof = req.headers()["dpop"].to_str().unwrap().to_owned();
            let has_nonce = jws_claims(&proof).get("nonce").is_some();
            let body = req.into_body().collect().await.unwrap().to_bytes();
            let assertion = form_urlencoded_get(&body, "client_assertion").unwrap();
            let jti = jws_claims(&assertion)["jti"].as_str().unwrap().to_owned();
            let replay = {
                let mut seen = seen_jti.lock().unwrap();
                let replay = seen.contains(&jti);
                seen.push(jti);
                replay
            };
            // Client authentication first (as oidc-provider does), then the DPoP nonce.
            let (status, extra, body): (u16, Option<&str>, &str) = if replay {
                (401, None, r#"{"error":"invalid_client"}"#)
            } else if !has_nonce {
                (400, Some("n-2"), r#"{"error":"use_dpop_nonce"}"#)
            } else {
                (
                    200,
                    None,
                    r#"{"access_token":"b","token_type":"DPoP","expires_in":60}"#,
                )
            };
            let mut response = Response::builder()
                .status(status)
                .header("content-type", "application/json");
            if let Some(nonce) = extra {
                response = response.header("dpop-nonce", nonce);
            }
            let response: Response<Full<Bytes>> = response.body(Full::from(body)).unwrap();
            Ok::<_, Infallible>(response)
        }
    });
    let dpop = dpop_key();
    let grants = GrantClient::new(
        svc,
        Endpoint::new("https://server.example.com/token").unwrap(),
        Client::private_key_jwt("s6BhdRkqt3", PrivateKeyJwt::es256(ec_p256_key())),
    )
    .dpop(dpop.clone());
    let current = Token::new(AccessToken::new("a"), TokenType::DPoP)
        .with_refresh_token(Some(RefreshToken::new("rt-1")))
        .with_dpop_jkt(Some(dpop.thumbprint()));
    let result =
        tower_oauth2::source::TokenFetcher::fetch(&grants.refresh_fetcher(), Some(&current)).await;
    let error = result
        .err()
        .map(|e| (e.kind(), e.is_terminal(), e.to_string()));
    assert!(
        error.is_none(),
        "refresh after a DPoP nonce rotation failed: {error:?}"
    );
}
