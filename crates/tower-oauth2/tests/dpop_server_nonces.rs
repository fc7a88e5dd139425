//! SECURITY.md DPOP-09: the authorization server's `DPoP-Nonce` is taken from a successful
//! token response too (RFC 9449 §8.2), and the authorization server's and the resource
//! server's nonces are never mixed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{Empty, Full};
use oauth_core::oauth2::{Client, Endpoint};
use oauth_core::secret::ClientSecret;
use serde_json::Value;
use tower::util::BoxCloneSyncService;
use tower::{Service, ServiceExt};
use tower_oauth2::{GrantClient, OAuth2Layer, TokenSource};

mod common;
use common::{authorization_of, dpop_key, dpop_token, jws_claims, unauthorized};

type Nonces = Arc<Mutex<Vec<Option<String>>>>;

/// The `Authorization` header and the proof's nonce of each request a server saw.
type Seen = Arc<Mutex<Vec<(Option<String>, Option<String>)>>>;

fn nonce_of(req_headers: &http::HeaderMap) -> Option<String> {
    let proof = req_headers["dpop"].to_str().unwrap();
    jws_claims(proof)
        .get("nonce")
        .and_then(Value::as_str)
        .map(str::to_owned)
}

/// A token endpoint, as a `GrantClient` takes it.
type TokenEndpoint = BoxCloneSyncService<Request<Full<Bytes>>, Response<Full<Bytes>>, Infallible>;

/// A DPoP grant client whose token endpoint records each proof's nonce in `seen` and answers
/// 200 with a DPoP token `access_token`, and with `DPoP-Nonce: nonce` when one is given.
fn recording_grants(
    seen: &Nonces,
    nonce: Option<&'static str>,
    access_token: &'static str,
) -> GrantClient<TokenEndpoint> {
    let seen = seen.clone();
    let token_endpoint = tower::service_fn(move |req: Request<Full<Bytes>>| {
        seen.lock().unwrap().push(nonce_of(req.headers()));
        let mut response = Response::builder().header("content-type", "application/json");
        if let Some(nonce) = nonce {
            response = response.header("dpop-nonce", nonce);
        }
        let body =
            format!(r#"{{"access_token":"{access_token}","token_type":"DPoP","expires_in":3600}}"#);
        let response = response.body(Full::<Bytes>::from(body)).unwrap();
        async move { Ok::<_, Infallible>(response) }
    });
    GrantClient::new(
        BoxCloneSyncService::new(token_endpoint),
        Endpoint::new("https://server.example.com/token").unwrap(),
        Client::secret_basic("s6BhdRkqt3", ClientSecret::new("gX1fBat3bV")),
    )
    .dpop(dpop_key())
}

#[tokio::test]
async fn dpop_09_as_nonce_from_a_200_is_used_next_time_and_never_sent_to_the_rs() {
    // Token endpoint: always 200 with a DPoP token and `DPoP-Nonce: as-nonce-1`.
    let as_seen: Nonces = Arc::default();
    let grants = recording_grants(&as_seen, Some("as-nonce-1"), "at-1");

    // Two token requests: the second proof carries the nonce the first (successful) answer gave,
    // with no `use_dpop_nonce` round trip (RFC 9449 §8.2).
    grants.client_credentials(None).await.unwrap();
    grants.client_credentials(None).await.unwrap();
    assert_eq!(
        *as_seen.lock().unwrap(),
        [None, Some("as-nonce-1".to_owned())]
    );

    // The same grant client behind the layer: the resource server never sees the AS's nonce.
    let rs_seen: Nonces = Arc::default();
    let seen = rs_seen.clone();
    let api = tower::service_fn(move |req: Request<Empty<Bytes>>| {
        seen.lock().unwrap().push(nonce_of(req.headers()));
        async move { Ok::<_, Infallible>(Response::new(Empty::<Bytes>::new())) }
    });
    let source = TokenSource::builder()
        .fetcher(grants.client_credentials_fetcher(None))
        .build()
        .await
        .unwrap();
    let layer = OAuth2Layer::new(source, "https://api.example.com").unwrap();
    let mut svc = tower::Layer::layer(&layer, api);
    let request = Request::get("https://api.example.com/v1/me")
        .body(Empty::new())
        .unwrap();
    svc.ready().await.unwrap().call(request).await.unwrap();
    assert_eq!(
        *rs_seen.lock().unwrap(),
        [None],
        "AS nonce leaked to the RS"
    );
    // (and the AS got its own nonce again on the fetch the source made)
    assert_eq!(
        as_seen.lock().unwrap().last().cloned().flatten().as_deref(),
        Some("as-nonce-1")
    );
}

/// DPOP-09 the other way round: a resource server's nonce is kept for that server only. After
/// the API asked for `rs-nonce-1` (and got it), the refresh its `invalid_token` forces goes to
/// the authorization server without that nonce, and the API keeps getting its own.
#[tokio::test]
async fn dpop_09_an_rs_nonce_is_never_sent_to_the_as() {
    let as_seen: Nonces = Arc::default();
    let grants = recording_grants(&as_seen, None, "tok-2");
    let source = TokenSource::builder()
        .token(dpop_token("tok-1"))
        .fetcher(grants.refresh_fetcher())
        .build()
        .await
        .unwrap();

    // The API: asks for a nonce first, then refuses the token once.
    let rs_seen: Seen = Arc::default();
    let seen = rs_seen.clone();
    let api = tower::service_fn(move |req: Request<Empty<Bytes>>| {
        let n = {
            let mut seen = seen.lock().unwrap();
            seen.push((authorization_of(&req), nonce_of(req.headers())));
            seen.len()
        };
        let response = match n {
            1 => unauthorized(r#"DPoP error="use_dpop_nonce""#, &["rs-nonce-1"]),
            3 => unauthorized(r#"DPoP error="invalid_token""#, &[]),
            _ => Response::new(Empty::new()),
        };
        async move { Ok::<_, Infallible>(response) }
    });
    let layer = OAuth2Layer::new(source, "https://api.example.com").unwrap();
    let mut svc = tower::Layer::layer(&layer, api);
    for _ in 0..2 {
        let request = Request::get("https://api.example.com/v1/me")
            .body(Empty::new())
            .unwrap();
        let response = svc.ready().await.unwrap().call(request).await.unwrap();
        assert_eq!(response.status(), 200);
    }
    let (tok_1, tok_2) = (Some("DPoP tok-1".to_owned()), Some("DPoP tok-2".to_owned()));
    let rs_nonce = Some("rs-nonce-1".to_owned());
    assert_eq!(
        *rs_seen.lock().unwrap(),
        [
            (tok_1.clone(), None),
            (tok_1.clone(), rs_nonce.clone()),
            (tok_1, rs_nonce.clone()),
            (tok_2, rs_nonce),
        ]
    );
    assert_eq!(
        *as_seen.lock().unwrap(),
        [None],
        "RS nonce leaked to the AS"
    );
}
