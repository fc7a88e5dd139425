//! DPoP-bound tokens (RFC 9449) through the middleware and the grant client, against closure
//! mocks: a proof per request with the right claims, the resource server's nonce retry, key
//! binding, and the token type check. The real-server check is in `interop-tests`
//! (oidc-provider's userinfo endpoint verifies the proofs).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{Empty, Full};
use oauth_core::oauth2::dpop::access_token_hash;
use oauth_core::oauth2::{Client, DpopKey, EcP256PrivateKey, Endpoint, Token, TokenType};
use oauth_core::secret::{ClientSecret, RefreshToken};
use serde_json::Value;
use tower::{BoxError, Service, ServiceExt};
use tower_oauth2::client::GrantClientErrorKind;
use tower_oauth2::policy::{ReplayClone, RetryOn401};
use tower_oauth2::source::TokenErrorKind;
use tower_oauth2::{ErrorKind, GrantClient, OAuth2Layer, TokenSource};

mod common;
use common::{
    API, authorization_of, dpop_key, dpop_source_refreshing_tok_1_to_tok_2, dpop_token,
    json_response, recording_api, unauthorized,
};

/// The decoded header and claims of a proof.
fn proof_parts(proof: &str) -> (Value, Value) {
    let mut parts = proof.split('.');
    let mut next =
        || serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts.next().unwrap()).unwrap()).unwrap();
    (next(), next())
}

/// What the fake resource server saw of one request.
#[derive(Debug, Clone)]
struct Seen {
    authorization: Option<String>,
    proof_count: usize,
    claims: Option<Value>,
    header: Option<Value>,
}

/// The Authorization header and the DPoP proofs of a request.
fn seen_of(req: &Request<Empty<Bytes>>) -> Seen {
    let proofs: Vec<_> = req.headers().get_all("dpop").iter().collect();
    let parts = proofs.first().map(|p| proof_parts(p.to_str().unwrap()));
    Seen {
        authorization: authorization_of(req),
        proof_count: proofs.len(),
        header: parts.as_ref().map(|p| p.0.clone()),
        claims: parts.map(|p| p.1),
    }
}

async fn source_with(token: Token) -> TokenSource {
    TokenSource::builder()
        .token(token)
        .dpop(dpop_key())
        .build()
        .await
        .unwrap()
}

async fn get<S>(svc: &mut S, uri: &str) -> Result<Response<Empty<Bytes>>, BoxError>
where
    S: Service<Request<Empty<Bytes>>, Response = Response<Empty<Bytes>>, Error = BoxError>,
{
    let request = Request::get(uri).body(Empty::new()).unwrap();
    svc.ready().await?.call(request).await
}

#[tokio::test]
async fn each_request_carries_the_dpop_scheme_and_its_own_proof() {
    let (api, log) = recording_api(vec![], seen_of);
    let layer = OAuth2Layer::new(source_with(dpop_token("tok-1")).await, API).unwrap();
    let mut svc = tower::Layer::layer(&layer, api);
    get(&mut svc, "https://api.example.com/v1/items?page=2#top")
        .await
        .unwrap();
    get(&mut svc, "https://api.example.com/v1/items?page=2")
        .await
        .unwrap();
    let log = log.lock().unwrap().clone();
    assert_eq!(log.len(), 2);
    for seen in &log {
        assert_eq!(seen.authorization.as_deref(), Some("DPoP tok-1"));
        assert_eq!(
            seen.proof_count, 1,
            "exactly one DPoP header (RFC 9449 §4.3)"
        );
        let header = seen.header.as_ref().unwrap();
        assert_eq!(header["typ"], "dpop+jwt");
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["jwk"], dpop_key().jwk());
        let claims = seen.claims.as_ref().unwrap();
        assert_eq!(claims["htm"], "GET");
        assert_eq!(
            claims["htu"], "https://api.example.com/v1/items",
            "no query or fragment"
        );
        assert_eq!(claims["ath"], access_token_hash("tok-1"));
        assert!(claims.get("nonce").is_none());
    }
    assert_ne!(
        log[0].claims.as_ref().unwrap()["jti"],
        log[1].claims.as_ref().unwrap()["jti"]
    );
}

#[tokio::test]
async fn use_dpop_nonce_is_retried_once_and_the_nonce_kept_for_the_origin() {
    let nonce_challenge = r#"DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof""#;
    let (api, log) = recording_api(vec![unauthorized(nonce_challenge, &["n-1"])], seen_of);
    let layer = OAuth2Layer::new(source_with(dpop_token("tok-1")).await, API)
        .unwrap()
        .also_for("https://other.example.com")
        .unwrap();
    let mut svc = tower::Layer::layer(&layer, api);
    let response = get(&mut svc, "https://api.example.com/a").await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    {
        let log = log.lock().unwrap();
        assert_eq!(log.len(), 2, "one retry");
        assert!(log[0].claims.as_ref().unwrap().get("nonce").is_none());
        assert_eq!(log[1].claims.as_ref().unwrap()["nonce"], "n-1");
        assert_ne!(
            log[0].claims.as_ref().unwrap()["jti"],
            log[1].claims.as_ref().unwrap()["jti"]
        );
    }
    // The nonce is used at once next time, on this origin only (however its port is spelt).
    get(&mut svc, "https://api.example.com/b").await.unwrap();
    get(&mut svc, "https://other.example.com/c").await.unwrap();
    get(&mut svc, "https://API.example.com:443/d")
        .await
        .unwrap();
    let log = log.lock().unwrap();
    assert_eq!(log.len(), 5);
    assert_eq!(log[4].claims.as_ref().unwrap()["nonce"], "n-1");
    assert_eq!(log[2].claims.as_ref().unwrap()["nonce"], "n-1");
    assert!(
        log[3].claims.as_ref().unwrap().get("nonce").is_none(),
        "nonces are per origin"
    );
}

/// A layer's `Debug` names the per-origin nonce store among its settings, once it holds a
/// nonce too, and shows neither the DPoP-bound token nor the key (SECURITY §4.9 #86).
#[tokio::test]
async fn a_layers_debug_names_its_nonce_store_and_shows_no_token() {
    let challenge = r#"DPoP error="use_dpop_nonce""#;
    let (api, _) = recording_api(vec![unauthorized(challenge, &["n-1"])], seen_of);
    let layer = OAuth2Layer::new(source_with(dpop_token("secret-tok")).await, API).unwrap();
    let mut svc = tower::Layer::layer(&layer, api);
    get(&mut svc, "https://api.example.com/a").await.unwrap();
    let debug = format!("{layer:?}");
    assert!(debug.starts_with("OAuth2Layer"), "{debug}");
    assert!(
        debug.contains("dpop_nonces: DpopNonces {"),
        "nonce store missing from {debug}"
    );
    assert!(!debug.contains("secret-tok"), "{debug}");
}

#[tokio::test]
async fn a_second_use_dpop_nonce_is_returned_not_looped() {
    let challenge = r#"DPoP error="use_dpop_nonce""#;
    let (api, log) = recording_api(
        vec![
            unauthorized(challenge, &["n-1"]),
            unauthorized(challenge, &["n-2"]),
            unauthorized(challenge, &["n-3"]),
        ],
        seen_of,
    );
    let layer = OAuth2Layer::new(source_with(dpop_token("tok-1")).await, API).unwrap();
    let mut svc = tower::Layer::layer(&layer, api);
    let response = get(&mut svc, "https://api.example.com/a").await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(log.lock().unwrap().len(), 2);
}

#[tokio::test]
async fn an_invalid_nonce_is_an_error() {
    let challenge = r#"DPoP error="use_dpop_nonce""#;
    for nonces in [&["n-1", "n-2"][..], &["two words"][..]] {
        let (api, log) = recording_api(vec![unauthorized(challenge, nonces)], seen_of);
        let layer = OAuth2Layer::new(source_with(dpop_token("tok-1")).await, API).unwrap();
        let mut svc = tower::Layer::layer(&layer, api);
        let error = get(&mut svc, "https://api.example.com/a")
            .await
            .unwrap_err();
        let error = error.downcast_ref::<tower_oauth2::Error>().unwrap();
        assert_eq!(error.kind(), ErrorKind::InvalidDpopNonce, "{nonces:?}");
        assert_eq!(log.lock().unwrap().len(), 1);
    }
}

/// As `RetryOn401` and `ErrorKind::InvalidDpopNonce` say: the `use_dpop_nonce` retry does not
/// depend on the 401 policy (a source that could refresh, told never to retry a 401, still
/// sends the request once more with the nonce, and refreshes nothing), and an empty
/// `DPoP-Nonce` is as invalid as a repeated one.
#[tokio::test]
async fn the_nonce_retry_ignores_the_401_policy_and_an_empty_nonce_is_invalid() {
    let challenge = r#"DPoP error="use_dpop_nonce""#;
    let (source, fetches) = dpop_source_refreshing_tok_1_to_tok_2().await;
    let (api, log) = recording_api(vec![unauthorized(challenge, &["n-1"])], seen_of);
    let layer = OAuth2Layer::new(source, API)
        .unwrap()
        .retry_on_401(RetryOn401::Never);
    let mut svc = tower::Layer::layer(&layer, api);
    let response = get(&mut svc, "https://api.example.com/a").await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    {
        let log = log.lock().unwrap();
        assert_eq!(log.len(), 2, "one retry");
        assert_eq!(log[1].claims.as_ref().unwrap()["nonce"], "n-1");
        assert_eq!(log[1].authorization.as_deref(), Some("DPoP tok-1"));
    }
    assert_eq!(fetches.load(Ordering::SeqCst), 0);

    let (api, log) = recording_api(vec![unauthorized(challenge, &[""])], seen_of);
    let layer = OAuth2Layer::new(source_with(dpop_token("tok-1")).await, API).unwrap();
    let mut svc = tower::Layer::layer(&layer, api);
    let error = get(&mut svc, "https://api.example.com/a")
        .await
        .unwrap_err();
    let error = error.downcast_ref::<tower_oauth2::Error>().unwrap();
    assert_eq!(error.kind(), ErrorKind::InvalidDpopNonce);
    assert_eq!(log.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_bound_token_is_never_sent_without_its_key() {
    // No key at all: the token must not go out as a Bearer token, nor without a proof.
    let (api, log) = recording_api(vec![], seen_of);
    let source = TokenSource::from_token(dpop_token("tok-1"));
    let mut svc = tower::Layer::layer(&OAuth2Layer::new(source, API).unwrap(), api.clone());
    let error = get(&mut svc, "https://api.example.com/a")
        .await
        .unwrap_err();
    let error = error.downcast_ref::<tower_oauth2::Error>().unwrap();
    assert_eq!(error.kind(), ErrorKind::DpopProof);
    assert!(!error.to_string().contains("tok-1"));
    // Another key than the one the token is bound to.
    let other = dpop_token("tok-1")
        .with_dpop_jkt(Some("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I".into()));
    let mut svc = tower::Layer::layer(
        &OAuth2Layer::new(source_with(other).await, API).unwrap(),
        api,
    );
    let error = get(&mut svc, "https://api.example.com/a")
        .await
        .unwrap_err();
    let error = error.downcast_ref::<tower_oauth2::Error>().unwrap();
    assert_eq!(error.kind(), ErrorKind::DpopProof);
    assert!(log.lock().unwrap().is_empty(), "nothing was sent");
}

#[tokio::test]
async fn a_rejected_dpop_token_is_refreshed_and_sent_with_a_new_proof() {
    let (source, fetches) = dpop_source_refreshing_tok_1_to_tok_2().await;
    let (api, log) = recording_api(
        vec![unauthorized(r#"DPoP error="invalid_token""#, &[])],
        seen_of,
    );
    let layer = OAuth2Layer::new(source, API)
        .unwrap()
        .replay_bodies(ReplayClone);
    let mut svc = tower::Layer::layer(
        &layer,
        tower::util::MapRequest::new(api, |r: Request<Full<Bytes>>| r.map(|_| Empty::new())),
    );
    let request = Request::post("https://api.example.com/a")
        .body(Full::from("x"))
        .unwrap();
    let response = svc.ready().await.unwrap().call(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
    let log = log.lock().unwrap();
    assert_eq!(log.len(), 2);
    assert_eq!(log[1].authorization.as_deref(), Some("DPoP tok-2"));
    let claims = log[1].claims.as_ref().unwrap();
    assert_eq!(claims["ath"], access_token_hash("tok-2"));
    assert_eq!(claims["htm"], "POST");
}

/// A 401 the policy does not cover goes back as it is, with no refresh and no retry: under the
/// default policy, one whose challenge has no `invalid_token` (RFC 6750 §3.1: no error code
/// when the request had no usable credentials; RFC 9449 §7.1); under `RetryOn401::Never`, even
/// `DPoP error="invalid_token"`.
#[tokio::test]
async fn a_401_outside_the_retry_policy_is_returned_without_a_refresh() {
    for (policy, challenge) in [
        (RetryOn401::InvalidToken, r#"DPoP realm="api""#),
        (
            RetryOn401::InvalidToken,
            r#"DPoP error="insufficient_scope""#,
        ),
        (RetryOn401::Never, r#"DPoP error="invalid_token""#),
    ] {
        let (source, fetches) = dpop_source_refreshing_tok_1_to_tok_2().await;
        let (api, log) = recording_api(vec![unauthorized(challenge, &[])], seen_of);
        let layer = OAuth2Layer::new(source, API).unwrap().retry_on_401(policy);
        let mut svc = tower::Layer::layer(&layer, api);
        let response = get(&mut svc, "https://api.example.com/a").await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{challenge}");
        assert_eq!(fetches.load(Ordering::SeqCst), 0, "{policy:?} {challenge}");
        assert_eq!(log.lock().unwrap().len(), 1, "{policy:?} {challenge}");
    }
}

/// A Bearer token refused and replaced by a DPoP-bound one (a source with a key whose server
/// starts binding tokens): the retry carries `DPoP <token>` with a proof (RFC 9449 §7.1), and
/// the `DPoP-Nonce` the API sends with its answer to that retry is kept for the origin and
/// used in the next proof (§9).
#[tokio::test]
async fn a_bearer_token_refreshed_into_a_dpop_token_keeps_the_nonce_of_the_retrys_answer() {
    let (fetcher, fetches) = common::counting_fetcher_answering(dpop_token("tok-2"));
    let source = TokenSource::builder()
        .token(common::bearer_expiring_in("tok-1", "rt-1", 3600))
        .dpop(dpop_key())
        .fetcher(fetcher)
        .build()
        .await
        .unwrap();
    let with_nonce = Response::builder()
        .header("dpop-nonce", "n-1")
        .body(Empty::new())
        .unwrap();
    let (api, log) = recording_api(
        vec![
            unauthorized(r#"Bearer error="invalid_token""#, &[]),
            with_nonce,
        ],
        seen_of,
    );
    let layer = OAuth2Layer::new(source, API).unwrap();
    let mut svc = tower::Layer::layer(&layer, api);
    let response = get(&mut svc, "https://api.example.com/a").await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    get(&mut svc, "https://api.example.com/b").await.unwrap();
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
    let log = log.lock().unwrap();
    let sent: Vec<_> = log.iter().map(|s| s.authorization.as_deref()).collect();
    assert_eq!(
        sent,
        [Some("Bearer tok-1"), Some("DPoP tok-2"), Some("DPoP tok-2")]
    );
    assert_eq!(log[0].proof_count, 0, "a Bearer token goes with no proof");
    let retry = log[1].claims.as_ref().unwrap();
    assert_eq!(retry["ath"], access_token_hash("tok-2"));
    assert!(retry.get("nonce").is_none(), "no nonce was given yet");
    assert_eq!(
        log[2].claims.as_ref().unwrap()["nonce"],
        "n-1",
        "the nonce of the retry's answer is used next"
    );
}

/// The refreshed token refused moments after the refresh: refreshes are rate-limited, so the
/// caller gets the server's 401 itself (it used to get a "backing off" error of ours).
#[tokio::test]
async fn a_dpop_token_refused_just_after_its_refresh_returns_the_servers_401() {
    let (source, fetches) = dpop_source_refreshing_tok_1_to_tok_2().await;
    let refusal = || unauthorized(r#"DPoP error="invalid_token""#, &[]);
    let (api, log) = recording_api(
        vec![refusal(), Response::new(Empty::new()), refusal()],
        seen_of,
    );
    let layer = OAuth2Layer::new(source, API).unwrap();
    let mut svc = tower::Layer::layer(&layer, api);
    let first = get(&mut svc, "https://api.example.com/a").await.unwrap();
    assert_eq!(first.status(), StatusCode::OK);
    let second = get(&mut svc, "https://api.example.com/a")
        .await
        .expect("the server's 401, not an error");
    assert_eq!(second.status(), StatusCode::UNAUTHORIZED);
    assert!(second.headers().contains_key("www-authenticate"));
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
    let log = log.lock().unwrap();
    let sent: Vec<_> = log.iter().map(|s| s.authorization.as_deref()).collect();
    assert_eq!(
        sent,
        [Some("DPoP tok-1"), Some("DPoP tok-2"), Some("DPoP tok-2")]
    );
}

/// A token endpoint that answers every request with `body` (and counts the requests).
fn token_endpoint(
    body: &'static str,
    calls: Arc<AtomicUsize>,
) -> impl Service<
    Request<Full<Bytes>>,
    Response = Response<Full<Bytes>>,
    Error = Infallible,
    Future: Send,
> + Clone
+ Send
+ Sync
+ 'static {
    tower::service_fn(move |req: Request<Full<Bytes>>| {
        calls.fetch_add(1, Ordering::SeqCst);
        assert!(
            req.headers().contains_key("dpop"),
            "every token request has a proof"
        );
        async move { Ok::<_, Infallible>(json_response(200, body)) }
    })
}

fn endpoint() -> Endpoint {
    Endpoint::new("https://server.example.com/token").unwrap()
}

fn client() -> Client {
    Client::secret_basic("s6BhdRkqt3", ClientSecret::new("gX1fBat3bV"))
}

/// `accept_unbound_tokens` holds whichever order it is called in, before `dpop` or after (it
/// used to be dropped silently when called first).
#[tokio::test]
async fn unbound_tokens_are_accepted_in_either_builder_order() {
    let calls = Arc::new(AtomicUsize::new(0));
    let bearer = r#"{"access_token":"a","token_type":"Bearer","expires_in":60}"#;
    let new = || GrantClient::new(token_endpoint(bearer, calls.clone()), endpoint(), client());
    for grants in [
        new().dpop(dpop_key()).accept_unbound_tokens(),
        new().accept_unbound_tokens().dpop(dpop_key()),
    ] {
        let token = grants.client_credentials(None).await.unwrap();
        assert_eq!(token.token_type(), &TokenType::Bearer);
        assert_eq!(token.dpop_jkt(), None);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

#[tokio::test]
async fn the_grant_client_binds_dpop_tokens_and_refuses_unbound_ones() {
    let calls = Arc::new(AtomicUsize::new(0));
    let dpop = r#"{"access_token":"a","token_type":"DPoP","expires_in":60}"#;
    let grants = GrantClient::new(token_endpoint(dpop, calls.clone()), endpoint(), client())
        .dpop(dpop_key());
    let token = grants.client_credentials(None).await.unwrap();
    assert_eq!(token.dpop_jkt(), Some(dpop_key().thumbprint().as_str()));

    let bearer = r#"{"access_token":"a","token_type":"Bearer","expires_in":60}"#;
    let grants = GrantClient::new(token_endpoint(bearer, calls.clone()), endpoint(), client())
        .dpop(dpop_key());
    let error = grants.client_credentials(None).await.unwrap_err();
    assert_eq!(error.kind(), GrantClientErrorKind::NotDpopBound);
    // The live token is handed back (to revoke, or to keep), and not printed.
    let unbound = error.unbound_token().unwrap();
    assert_eq!(unbound.token_type(), &TokenType::Bearer);
    assert_eq!(unbound.access_token().secret(), "a");
    assert!(!format!("{error:?}").contains("\"a\""));
    assert!(
        !error
            .to_string()
            .contains('a'.to_string().repeat(2).as_str())
    );
    // Through a token source: terminal (never retried with the refresh token the server may
    // have rotated into the unbound answer), and the unbound token still reachable.
    let refresh = tower_oauth2::source::TokenFetcher::fetch(
        &grants.refresh_fetcher(),
        Some(&dpop_token("tok-1").with_refresh_token(Some(RefreshToken::new("rt-1")))),
    )
    .await
    .unwrap_err();
    assert_eq!(refresh.kind(), TokenErrorKind::Configuration);
    assert!(refresh.is_terminal());
    let source = std::error::Error::source(&refresh)
        .and_then(|e| e.downcast_ref::<tower_oauth2::GrantClientError>())
        .expect("the grant client's error is the source");
    assert_eq!(source.unbound_token().unwrap().access_token().secret(), "a");
    let lenient = grants.accept_unbound_tokens();
    let token = lenient.client_credentials(None).await.unwrap();
    assert_eq!(token.token_type(), &TokenType::Bearer);
    assert_eq!(token.dpop_jkt(), None);
}

/// A `NotDpopBound` error's cause is the unbound token: it says the token type the server
/// issued (what a log reader needs), and its `Debug` names it as the unbound token and shows no
/// access token. (Mutants: client/error.rs `<Display for UnboundToken>::fmt` and
/// `<Debug for UnboundToken>::fmt -> Ok(Default)`, which printed nothing.)
#[tokio::test]
async fn an_unbound_token_error_says_the_token_type_and_no_token() {
    let calls = Arc::new(AtomicUsize::new(0));
    let bearer = r#"{"access_token":"SENTINEL-unbound-at","token_type":"Bearer","expires_in":60}"#;
    let grants =
        GrantClient::new(token_endpoint(bearer, calls), endpoint(), client()).dpop(dpop_key());
    let error = grants.client_credentials(None).await.unwrap_err();
    assert_eq!(error.kind(), GrantClientErrorKind::NotDpopBound);
    let cause = std::error::Error::source(&error).expect("the unbound token is the cause");
    assert_eq!(cause.to_string(), "token type Bearer");
    let debug = format!("{cause:?}");
    assert!(debug.starts_with("UnboundToken("), "{debug}");
    assert!(debug.contains("Bearer"), "{debug}");
    let everything = format!("{error} {error:?} {cause} {debug}");
    assert!(!everything.contains("SENTINEL"), "{everything}");
}

#[tokio::test]
async fn a_bound_refresh_token_is_never_used_with_another_key() {
    let calls = Arc::new(AtomicUsize::new(0));
    let body = r#"{"access_token":"b","token_type":"DPoP","expires_in":60}"#;
    let other = dpop_token("tok-1")
        .with_dpop_jkt(Some("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I".into()));
    for grants in [
        GrantClient::new(token_endpoint(body, calls.clone()), endpoint(), client())
            .dpop(dpop_key()),
        GrantClient::new(token_endpoint(body, calls.clone()), endpoint(), client()),
    ] {
        let fetcher = grants.refresh_fetcher();
        let error = tower_oauth2::source::TokenFetcher::fetch(&fetcher, Some(&other))
            .await
            .unwrap_err();
        assert_eq!(error.kind(), TokenErrorKind::Configuration);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0, "nothing was sent");
    // With its own key, the refresh goes out and the new token is bound too.
    let grants = GrantClient::new(token_endpoint(body, calls.clone()), endpoint(), client())
        .dpop(dpop_key());
    let token = tower_oauth2::source::TokenFetcher::fetch(
        &grants.refresh_fetcher(),
        Some(&dpop_token("tok-1")),
    )
    .await
    .unwrap();
    assert_eq!(token.dpop_jkt(), Some(dpop_key().thumbprint().as_str()));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // The source takes the key from the fetcher.
    let source = TokenSource::builder()
        .fetcher(grants.refresh_fetcher())
        .build()
        .await
        .unwrap();
    assert_eq!(
        source.dpop_key().map(DpopKey::thumbprint),
        Some(dpop_key().thumbprint())
    );
}

/// Each hop's URI, Authorization and proof claims.
#[cfg(feature = "tower-http")]
type Hops = Arc<Mutex<Vec<(String, Option<String>, Option<Value>)>>>;

/// A resource server that redirects `/a` to `location` and answers 200 elsewhere, recording
/// each hop.
#[cfg(feature = "tower-http")]
fn redirecting(
    location: &'static str,
) -> (
    impl Service<
        Request<Empty<Bytes>>,
        Response = Response<Empty<Bytes>>,
        Error = Infallible,
        Future: Send,
    > + Clone
    + Send
    + 'static,
    Hops,
) {
    let log: Hops = Arc::default();
    let seen = log.clone();
    let svc = tower::service_fn(move |req: Request<Empty<Bytes>>| {
        let proof = req
            .headers()
            .get("dpop")
            .map(|p| proof_parts(p.to_str().unwrap()).1);
        let auth = req
            .headers()
            .get("authorization")
            .map(|v| v.to_str().unwrap().to_owned());
        seen.lock()
            .unwrap()
            .push((req.uri().to_string(), auth, proof));
        let response = if req.uri().path() == "/a" {
            Response::builder()
                .status(StatusCode::FOUND)
                .header("location", location)
                .body(Empty::new())
                .unwrap()
        } else {
            Response::new(Empty::new())
        };
        async move { Ok::<_, Infallible>(response) }
    });
    (svc, log)
}

/// Token layer outside `FollowRedirect`: the proof made for `/a` is dropped from the redirected
/// request by `StripDpopProof` (tower-http's `FilterCredentials` does not know the header), and
/// so is the `DPoP` token, even on the same origin: it never goes out without its proof.
#[cfg(feature = "tower-http")]
#[tokio::test]
async fn strip_dpop_proof_drops_the_proof_on_redirects() {
    use tower_http::follow_redirect::FollowRedirectLayer;
    use tower_http::follow_redirect::policy::{FilterCredentials, Limited, PolicyExt};
    use tower_oauth2::redirect::StripDpopProof;

    for location in [
        "https://api.example.com/b",
        "https://elsewhere.example.com/b",
    ] {
        let (api, log) = redirecting(location);
        let policy = Limited::default()
            .and::<_, Empty<Bytes>, Infallible>(FilterCredentials::new())
            .and::<_, Empty<Bytes>, Infallible>(StripDpopProof::new());
        let layer = OAuth2Layer::new(source_with(dpop_token("tok-1")).await, API).unwrap();
        let mut svc = tower::Layer::layer(
            &layer,
            tower::Layer::layer(&FollowRedirectLayer::with_policy(policy), api),
        );
        let response = get(&mut svc, "https://api.example.com/a").await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let log = log.lock().unwrap();
        assert_eq!(log.len(), 2);
        assert!(log[0].2.is_some(), "the first hop has its proof");
        assert!(
            log[1].2.is_none(),
            "no proof after the redirect: {location}"
        );
        assert!(log[1].1.is_none(), "no token without its proof: {location}");
    }
}

/// `FollowRedirect` outside the token layer (the better order for DPoP): every hop passes
/// through the layer, gets a proof for its own URI when its origin is on the allowlist, and
/// nothing at all otherwise.
#[cfg(feature = "tower-http")]
#[tokio::test]
async fn with_follow_redirect_outside_each_hop_gets_its_own_proof() {
    use tower_http::follow_redirect::FollowRedirectLayer;

    for (location, on_allowlist) in [
        ("https://api.example.com/b", true),
        ("https://elsewhere.example.com/b", false),
    ] {
        let (api, log) = redirecting(location);
        let layer = OAuth2Layer::new(source_with(dpop_token("tok-1")).await, API).unwrap();
        let mut svc = tower::Layer::layer(
            &FollowRedirectLayer::new(),
            tower::Layer::layer(&layer, api),
        );
        let request = Request::get("https://api.example.com/a")
            .body(Empty::new())
            .unwrap();
        let response = svc.ready().await.unwrap().call(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        let log = log.lock().unwrap();
        assert_eq!(log.len(), 2);
        assert_eq!(
            log[0].2.as_ref().unwrap()["htu"],
            "https://api.example.com/a"
        );
        if on_allowlist {
            assert_eq!(log[1].1.as_deref(), Some("DPoP tok-1"));
            assert_eq!(log[1].2.as_ref().unwrap()["htu"], location);
        } else {
            assert!(log[1].1.is_none() && log[1].2.is_none(), "{:?}", log[1]);
        }
    }
}

/// A code bound to a DPoP key (`dpop_jkt`) is never exchanged with another key or none: the
/// exchange is not sent, so the single-use code is not burned.
#[tokio::test]
async fn a_code_bound_to_a_key_is_exchanged_only_with_that_key() {
    use oauth_core::oauth2::{AuthorizationRequest, RedirectUri};
    let calls = Arc::new(AtomicUsize::new(0));
    let body = r#"{"access_token":"a","token_type":"DPoP","expires_in":60}"#;
    let authorize = Endpoint::new("https://server.example.com/authorize").unwrap();
    let redirect = RedirectUri::new("https://client.example.com/cb").unwrap();
    let exchange = || {
        let (_, pending) = AuthorizationRequest::new(&authorize, "s6BhdRkqt3", &redirect)
            .dpop_key(&dpop_key())
            .dangerous_custom_state("S")
            .build(&oauth_core::clock::SystemRandom::new())
            .unwrap();
        pending
            .parse_callback("https://client.example.com/cb?code=c&state=S")
            .unwrap()
    };
    let other = DpopKey::es256(
        EcP256PrivateKey::from_pem(&EcP256PrivateKey::generate_pkcs8_pem().unwrap()).unwrap(),
    );
    for grants in [
        GrantClient::new(token_endpoint(body, calls.clone()), endpoint(), client()).dpop(other),
        GrantClient::new(token_endpoint(body, calls.clone()), endpoint(), client()),
    ] {
        let error = grants.exchange_code(exchange()).await.unwrap_err();
        assert_eq!(error.kind(), GrantClientErrorKind::DpopKeyMismatch);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0, "nothing was sent");
    let grants = GrantClient::new(token_endpoint(body, calls.clone()), endpoint(), client())
        .dpop(dpop_key());
    let token = grants.exchange_code(exchange()).await.unwrap();
    assert_eq!(token.dpop_jkt(), Some(dpop_key().thumbprint().as_str()));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// Two token requests in flight at once, both sent without a nonce, both answered
/// `use_dpop_nonce` with the same new nonce: each retries once with it (the second must not
/// take the nonce the first stored for one it already tried).
#[tokio::test]
async fn concurrent_token_requests_each_retry_with_the_new_nonce() {
    let calls = Arc::new(AtomicUsize::new(0));
    let both_arrived = Arc::new(tokio::sync::Barrier::new(2));
    let counter = calls.clone();
    let endpoint_svc = tower::service_fn(move |req: Request<Full<Bytes>>| {
        counter.fetch_add(1, Ordering::SeqCst);
        let both_arrived = both_arrived.clone();
        async move {
            let proof = req.headers()["dpop"].to_str().unwrap().to_owned();
            let claims = proof_parts(&proof).1;
            let response: Response<Full<Bytes>> = if claims.get("nonce").is_none() {
                both_arrived.wait().await;
                Response::builder()
                    .status(400)
                    .header("content-type", "application/json")
                    .header("dpop-nonce", "n-1")
                    .body(Full::from(r#"{"error":"use_dpop_nonce"}"#))
                    .unwrap()
            } else {
                assert_eq!(claims["nonce"], "n-1");
                json_response(
                    200,
                    r#"{"access_token":"a","token_type":"DPoP","expires_in":60}"#,
                )
            };
            Ok::<_, Infallible>(response)
        }
    });
    let grants = GrantClient::new(endpoint_svc, endpoint(), client()).dpop(dpop_key());
    let (a, b) = tokio::join!(
        grants.client_credentials(None),
        grants.client_credentials(None)
    );
    a.unwrap();
    b.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 4);
}

/// With `FollowRedirect` inside the layer, a `DPoP-Nonce` from another origin at the end of
/// the redirects is not kept as the API's nonce; the API's own is.
#[cfg(feature = "tower-http")]
#[tokio::test]
async fn a_nonce_from_another_origin_after_a_redirect_is_not_kept() {
    use tower_http::follow_redirect::FollowRedirectLayer;

    let proofs: Arc<Mutex<Vec<Value>>> = Arc::default();
    let seen = proofs.clone();
    let api = tower::service_fn(move |req: Request<Empty<Bytes>>| {
        // (The API's proofs only: without `StripDpopProof` the first one also rides the hop.)
        if let (Some(proof), Some("api.example.com")) =
            (req.headers().get("dpop"), req.uri().host())
        {
            seen.lock()
                .unwrap()
                .push(proof_parts(proof.to_str().unwrap()).1);
        }
        let response = match (req.uri().host(), req.uri().path()) {
            (Some("api.example.com"), "/a") => Response::builder()
                .status(StatusCode::FOUND)
                .header("location", "https://elsewhere.example.com/b")
                .body(Empty::new())
                .unwrap(),
            (Some("api.example.com"), _) => Response::builder()
                .header("dpop-nonce", "api-nonce")
                .body(Empty::new())
                .unwrap(),
            _ => Response::builder()
                .header("dpop-nonce", "foreign-nonce")
                .body(Empty::new())
                .unwrap(),
        };
        async move { Ok::<_, Infallible>(response) }
    });
    let layer = OAuth2Layer::new(source_with(dpop_token("tok-1")).await, API).unwrap();
    let mut svc = tower::Layer::layer(
        &layer,
        tower::Layer::layer(&FollowRedirectLayer::new(), api),
    );
    for path in ["/a", "/c", "/d"] {
        let response = get(&mut svc, &format!("{API}{path}")).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    let proofs = proofs.lock().unwrap();
    let nonces: Vec<_> = proofs.iter().map(|p| p.get("nonce").cloned()).collect();
    // `/a` (no nonce yet), `/c` (none: the foreign one was not kept), `/d` (the API's).
    assert_eq!(nonces, [None, None, Some(Value::from("api-nonce"))]);
}

/// SECURITY.md §4.11 #91/#92 at the token endpoint: a server that asks for a new nonce every
/// time gets two requests, not a loop; a `use_dpop_nonce` whose nonce is unusable (two
/// `DPoP-Nonce` headers, or one with a character RFC 9449 §8.1 does not allow) is
/// `InvalidDpopNonce` after one request.
#[tokio::test]
async fn the_token_endpoint_gets_one_nonce_retry_and_bad_nonces_are_refused() {
    let cases: [(&[&'static str], usize, Option<GrantClientErrorKind>); 3] = [
        (&["fresh"], 2, None),
        (
            &["n-1", "n-2"],
            1,
            Some(GrantClientErrorKind::InvalidDpopNonce),
        ),
        (
            &["bad nonce"],
            1,
            Some(GrantClientErrorKind::InvalidDpopNonce),
        ),
    ];
    for (nonces, expected_calls, expected_kind) in cases {
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = calls.clone();
        let endpoint_svc = tower::service_fn(move |_: Request<Full<Bytes>>| {
            let n = counter.fetch_add(1, Ordering::SeqCst);
            let mut response = Response::builder()
                .status(400)
                .header("content-type", "application/json");
            for nonce in nonces {
                // A new nonce each time for the single-nonce case.
                let nonce = if nonces.len() == 1 && *nonce == "fresh" {
                    format!("fresh-{n}")
                } else {
                    (*nonce).to_owned()
                };
                response = response.header("dpop-nonce", nonce);
            }
            let response: Response<Full<Bytes>> = response
                .body(Full::from(r#"{"error":"use_dpop_nonce"}"#))
                .unwrap();
            async move { Ok::<_, Infallible>(response) }
        });
        let grants = GrantClient::new(endpoint_svc, endpoint(), client()).dpop(dpop_key());
        let error = grants.client_credentials(None).await.unwrap_err();
        assert_eq!(calls.load(Ordering::SeqCst), expected_calls, "{nonces:?}");
        match expected_kind {
            Some(kind) => assert_eq!(error.kind(), kind, "{nonces:?}"),
            None => assert!(
                error
                    .response_error()
                    .is_some_and(|e| e.to_string().contains("use_dpop_nonce")),
                "{nonces:?}: {error:?}"
            ),
        }
    }
}

/// An unusable `DPoP-Nonce` (two headers, or a character RFC 9449 §8.1 does not allow) on an
/// answer that does not ask for a nonce is ignored, with a warning: the token is used, a refusal
/// is reported as the refusal it is, and the bad nonce is not kept for the next proof
/// (`Dpop::remember_nonce`: "an invalid one is not kept"). Only a `use_dpop_nonce` answer
/// with it is `InvalidDpopNonce`. (Mutant: client/mod.rs 545 guard `asks_for_nonce` -> true,
/// which failed every answer carrying a bad nonce, the token included.)
#[tokio::test]
async fn an_unusable_nonce_on_an_answer_that_asks_for_none_is_ignored() {
    let proofs: Arc<Mutex<Vec<String>>> = Arc::default();
    let seen = proofs.clone();
    let endpoint_svc = tower::service_fn(move |req: Request<Full<Bytes>>| {
        let n = {
            let mut seen = seen.lock().unwrap();
            seen.push(req.headers()["dpop"].to_str().unwrap().to_owned());
            seen.len()
        };
        let (status, body, nonces): (u16, &str, &[&str]) = match n {
            1 => (
                200,
                r#"{"access_token":"a","token_type":"DPoP","expires_in":60}"#,
                &["bad nonce"],
            ),
            2 => (400, r#"{"error":"invalid_grant"}"#, &["n-1", "n-2"]),
            _ => (
                200,
                r#"{"access_token":"b","token_type":"DPoP","expires_in":60}"#,
                &[],
            ),
        };
        let mut response = Response::builder()
            .status(status)
            .header("content-type", "application/json");
        for nonce in nonces {
            response = response.header("dpop-nonce", *nonce);
        }
        let response: Response<Full<Bytes>> = response.body(Full::from(body)).unwrap();
        async move { Ok::<_, Infallible>(response) }
    });
    let grants = GrantClient::new(endpoint_svc, endpoint(), client()).dpop(dpop_key());

    let token = grants.client_credentials(None).await.unwrap();
    assert_eq!(token.access_token().secret(), "a");
    assert_eq!(token.dpop_jkt(), Some(dpop_key().thumbprint().as_str()));
    let error = grants.client_credentials(None).await.unwrap_err();
    assert_eq!(error.kind(), GrantClientErrorKind::Response, "{error:?}");
    assert!(
        error
            .response_error()
            .is_some_and(|e| e.to_string().contains("invalid_grant")),
        "{error:?}"
    );
    grants.client_credentials(None).await.unwrap();
    let proofs = proofs.lock().unwrap();
    assert_eq!(proofs.len(), 3, "no retry: no answer asked for a nonce");
    for proof in proofs.iter() {
        assert_eq!(
            proof_parts(proof).1.get("nonce"),
            None,
            "a bad nonce was kept"
        );
    }
}

// ---- SECURITY.md §4.4 #43, §4.11 #91 ----

/// SECURITY.md §4.4 #43: a DPoP-bound refresh token whose key is unavailable (the grant client
/// has none) or rotated (another key) fails with `DpopKeyMismatch` as the typed cause, before
/// anything is sent; it is not a silent refresh with the new key.
#[tokio::test]
async fn s4_4_case43_bound_refresh_with_missing_or_rotated_key_is_dpop_key_mismatch() {
    let calls = Arc::new(AtomicUsize::new(0));
    let body = r#"{"access_token":"b","token_type":"DPoP","expires_in":60}"#;
    // Bound to a key we do not hold (the RFC 9449 example key's thumbprint).
    let rotated = dpop_token("tok-1")
        .with_dpop_jkt(Some("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I".into()));
    for (case, grants, current) in [
        (
            "rotated key",
            GrantClient::new(token_endpoint(body, calls.clone()), endpoint(), client())
                .dpop(dpop_key()),
            rotated.clone(),
        ),
        (
            "key unavailable",
            GrantClient::new(token_endpoint(body, calls.clone()), endpoint(), client()),
            dpop_token("tok-1"),
        ),
    ] {
        let error =
            tower_oauth2::source::TokenFetcher::fetch(&grants.refresh_fetcher(), Some(&current))
                .await
                .unwrap_err();
        assert_eq!(error.kind(), TokenErrorKind::Configuration, "{case}");
        assert!(error.is_terminal(), "{case}");
        let cause = std::error::Error::source(&error).expect("a typed cause");
        assert!(
            cause.is::<oauth_core::oauth2::DpopKeyMismatch>(),
            "{case}: cause is {cause:?}"
        );
        assert!(!format!("{error} {error:?}").contains("rt-tok-1"), "{case}");
    }
    assert_eq!(calls.load(Ordering::SeqCst), 0, "nothing was sent");
}

/// SECURITY.md §4.11 #91 with a body that cannot be replayed: the resource server's
/// `use_dpop_nonce` on a POST is returned unchanged after one request (the default policy
/// replays only empty bodies); with `ReplayClone` it is retried once with a fresh proof that
/// carries the nonce.
#[tokio::test]
async fn s4_11_case91_nonce_retry_needs_a_replayable_body() {
    let challenge = r#"DPoP error="use_dpop_nonce""#;
    for replay in [false, true] {
        let (api, log) = recording_api(vec![unauthorized(challenge, &["n-1"])], seen_of);
        let api =
            tower::util::MapRequest::new(api, |r: Request<Full<Bytes>>| r.map(|_| Empty::new()));
        let layer = OAuth2Layer::new(source_with(dpop_token("tok-1")).await, API).unwrap();
        let request = Request::post("https://api.example.com/a")
            .body(Full::from("x=1"))
            .unwrap();
        let response = if replay {
            let mut svc = tower::Layer::layer(&layer.replay_bodies(ReplayClone), api);
            svc.ready().await.unwrap().call(request).await.unwrap()
        } else {
            let mut svc = tower::Layer::layer(&layer, api);
            svc.ready().await.unwrap().call(request).await.unwrap()
        };
        let log = log.lock().unwrap();
        if replay {
            assert_eq!(response.status(), StatusCode::OK);
            assert_eq!(log.len(), 2);
            assert_eq!(log[1].claims.as_ref().unwrap()["nonce"], "n-1");
            assert_ne!(
                log[0].claims.as_ref().unwrap()["jti"],
                log[1].claims.as_ref().unwrap()["jti"]
            );
        } else {
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
            assert_eq!(log.len(), 1, "not replayed");
        }
    }
}

// ---- SECURITY.md DPOP-05, DPOP-10, §4.11 #91 ----

/// What a token endpoint saw of one request: its `grant_type` and the claims of its proof.
type TokenTries = Arc<Mutex<Vec<(String, Value)>>>;

/// A token endpoint that records the `grant_type` and the proof claims of every request
/// (asserting there is exactly one `DPoP` header) and answers each with the next of `answers`
/// (status, body, `DPoP-Nonce`), the last one again once they run out.
fn proof_recording_endpoint(
    answers: Vec<(u16, &'static str, Option<&'static str>)>,
) -> (
    impl Service<
        Request<Full<Bytes>>,
        Response = Response<Full<Bytes>>,
        Error = Infallible,
        Future: Send,
    > + Clone
    + Send
    + Sync
    + 'static,
    TokenTries,
) {
    use http_body_util::BodyExt as _;
    let tries: TokenTries = Arc::default();
    let seen = tries.clone();
    let answers = Arc::new(answers);
    let svc = tower::service_fn(move |req: Request<Full<Bytes>>| {
        let (seen, answers) = (seen.clone(), answers.clone());
        async move {
            let proofs: Vec<_> = req.headers().get_all("dpop").iter().cloned().collect();
            assert_eq!(proofs.len(), 1, "exactly one proof per token request");
            let claims = proof_parts(proofs[0].to_str().unwrap()).1;
            let body = req.into_body().collect().await.unwrap().to_bytes();
            let grant_type = oauth_core::encode::form_decode(std::str::from_utf8(&body).unwrap())
                .unwrap()
                .into_iter()
                .find(|(name, _)| name == "grant_type")
                .map(|(_, value)| value)
                .unwrap();
            let n = {
                let mut seen = seen.lock().unwrap();
                seen.push((grant_type, claims));
                seen.len() - 1
            };
            let (status, body, nonce) = answers[n.min(answers.len() - 1)];
            let mut response = Response::builder()
                .status(status)
                .header("content-type", "application/json");
            if let Some(nonce) = nonce {
                response = response.header("dpop-nonce", nonce);
            }
            Ok::<_, Infallible>(response.body(Full::from(body)).unwrap())
        }
    });
    (svc, tries)
}

/// SECURITY.md DPOP-05 (RFC 9449 §5): a proof goes with every token request the grant client
/// sends, whatever the grant: the authorization code, refresh and client-credentials grants,
/// and the extension grants sent through `GrantClient::send` (device code, token exchange,
/// JWT bearer, any other `grant_type`). Each proof names the token endpoint (`htm` `POST`,
/// `htu`) and carries no `ath` (no access token goes with a token request).
#[tokio::test]
async fn dpop_05_every_grant_sends_a_proof_to_the_token_endpoint() {
    use oauth_core::clock::CountingRandom;
    use oauth_core::oauth2::{AuthorizationRequest, RedirectUri, TokenRequest};
    use oauth_core::secret::DeviceCode;

    let dpop = r#"{"access_token":"a","token_type":"DPoP","expires_in":60}"#;
    let (endpoint_svc, tries) = proof_recording_endpoint(vec![(200, dpop, None)]);
    let grants = GrantClient::new(endpoint_svc, endpoint(), client()).dpop(dpop_key());
    let bound = Some(dpop_key().thumbprint());

    let authorize = Endpoint::new("https://server.example.com/authorize").unwrap();
    let redirect = RedirectUri::new("https://client.example.com/cb").unwrap();
    let (_, pending) = AuthorizationRequest::new(&authorize, "s6BhdRkqt3", &redirect)
        .dangerous_custom_state("S")
        .build(&CountingRandom::new(1))
        .unwrap();
    let exchange = pending
        .parse_callback("https://client.example.com/cb?code=c&state=S")
        .unwrap();
    let mut tokens = vec![
        grants.exchange_code(exchange).await.unwrap(),
        grants
            .refresh(&RefreshToken::new("rt"), None)
            .await
            .unwrap(),
        grants.client_credentials(None).await.unwrap(),
    ];
    let extension_grants = [
        TokenRequest::device_code(&endpoint(), &client(), &DeviceCode::new("dc")),
        TokenRequest::token_exchange(
            &endpoint(),
            &client(),
            "subject",
            "urn:ietf:params:oauth:token-type:access_token",
        ),
        TokenRequest::jwt_bearer(&endpoint(), &client(), "eyJ.a.b"),
        TokenRequest::extension(&endpoint(), &client(), "urn:example:grant"),
    ];
    for request in extension_grants {
        tokens.push(grants.send(request).await.unwrap());
    }
    for token in &tokens {
        assert_eq!(token.dpop_jkt(), bound.as_deref());
    }
    let tries = tries.lock().unwrap();
    let grant_types: Vec<&str> = tries.iter().map(|(grant, _)| grant.as_str()).collect();
    assert_eq!(
        grant_types,
        [
            "authorization_code",
            "refresh_token",
            "client_credentials",
            "urn:ietf:params:oauth:grant-type:device_code",
            "urn:ietf:params:oauth:grant-type:token-exchange",
            "urn:ietf:params:oauth:grant-type:jwt-bearer",
            "urn:example:grant",
        ]
    );
    for (grant, claims) in tries.iter() {
        assert_eq!(claims["htm"], "POST", "{grant}");
        assert_eq!(claims["htu"], "https://server.example.com/token", "{grant}");
        assert!(claims.get("ath").is_none(), "{grant}");
    }
}

/// SECURITY.md DPOP-10 (RFC 9449 §4.2, §11.1) and §4.11 #91 at the token endpoint: every try of
/// a token request carries a proof of its own, with a new `jti`: the one retry after
/// `use_dpop_nonce` (which carries the nonce given), and the request made again after a
/// transient failure (a 503), which carries the nonce kept from before.
#[tokio::test]
async fn dpop_10_every_try_of_a_token_request_has_a_fresh_proof() {
    let (endpoint_svc, tries) = proof_recording_endpoint(vec![
        (400, r#"{"error":"use_dpop_nonce"}"#, Some("n-1")),
        (503, r#"{"error":"temporarily_unavailable"}"#, None),
        (
            200,
            r#"{"access_token":"a","token_type":"DPoP","expires_in":60}"#,
            None,
        ),
    ]);
    let grants = GrantClient::new(endpoint_svc, endpoint(), client()).dpop(dpop_key());
    grants.client_credentials(None).await.unwrap_err();
    let token = grants.client_credentials(None).await.unwrap();
    assert_eq!(token.dpop_jkt(), Some(dpop_key().thumbprint().as_str()));
    let tries = tries.lock().unwrap();
    let nonces: Vec<Option<&str>> = tries
        .iter()
        .map(|(_, claims)| claims.get("nonce").and_then(Value::as_str))
        .collect();
    assert_eq!(nonces, [None, Some("n-1"), Some("n-1")]);
    let jtis: std::collections::HashSet<&str> = tries
        .iter()
        .map(|(_, claims)| claims["jti"].as_str().unwrap())
        .collect();
    assert_eq!(jtis.len(), 3, "a proof was sent twice: {tries:?}");
}

/// SECURITY.md §4.11 #95 (OIDF `happy-path-no-dpop-nonce`) at the token endpoint: a server
/// that never asks for a nonce gets exactly one request per token request, each with a proof
/// of its own (a new `jti`) that carries no `nonce` claim, and the tokens are bound.
#[tokio::test]
async fn s4_11_case95_a_token_endpoint_that_asks_for_no_nonce_gets_one_proof_each_without_one() {
    let dpop = r#"{"access_token":"a","token_type":"DPoP","expires_in":60}"#;
    let (endpoint_svc, tries) = proof_recording_endpoint(vec![(200, dpop, None)]);
    let grants = GrantClient::new(endpoint_svc, endpoint(), client()).dpop(dpop_key());
    for _ in 0..3 {
        let token = grants.client_credentials(None).await.unwrap();
        assert_eq!(token.dpop_jkt(), Some(dpop_key().thumbprint().as_str()));
    }
    let tries = tries.lock().unwrap();
    assert_eq!(tries.len(), 3, "one request per call: {tries:?}");
    for (_, claims) in tries.iter() {
        assert!(claims.get("nonce").is_none(), "{claims}");
    }
    let jtis: std::collections::HashSet<&str> = tries
        .iter()
        .map(|(_, claims)| claims["jti"].as_str().unwrap())
        .collect();
    assert_eq!(jtis.len(), 3, "a proof was sent twice: {tries:?}");
}
