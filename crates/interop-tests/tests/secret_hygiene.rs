//! Secret hygiene across the three crates (SECURITY.md §4.9 #86): sentinel secrets pushed through
//! every public type's `Debug` (and `Display`, where there is one), through the errors they
//! provoke, and through real flows on loopback with all `tracing` output captured at TRACE:
//!
//! * OAuth 2: authorization request and callback, code exchange, a failing client-credentials
//!   grant, `TokenSource` refreshes that fail (503 HTML, broken JSON) and then succeed, and an
//!   `OAuth2Layer` request that gets a 401 `invalid_token`, refreshes and retries;
//! * OAuth 1: requests signed by `SignLayer` (HMAC-SHA1, a header and a form body) and verified by
//!   the server, the three-legged dance against a mock provider, a provider error;
//! * tower-http's `TraceLayer` (headers included, every event at TRACE) outside the auth layers,
//!   and between the auth layers and the hyper-util client, where the `Authorization` header must
//!   show as `Sensitive`; also around the token endpoint client (its Basic header).
//!
//! hyper-util's own tracing (its legacy client and connector) is captured too. hyper's own
//! events need `--cfg hyper_unstable_tracing`, which this workspace does not set.
//!
//! None of the sentinels may appear anywhere.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod loopback;

use std::io::Write;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, SystemTime};

use base64::Engine as _;
use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use oauth_core::clock::SystemRandom;
use oauth_core::oauth1::{
    AuthorizationHeader, ClientCredentials, IncomingRequest, Origin, Placement, RsaPrivateKey,
    SignOptions, SignatureMethod, Signer, SigningSecrets, TokenCredentials, UnverifiedRequest,
    VerifyKey,
};
use oauth_core::oauth2::{
    AuthorizationRequest, Client, Compliance, DpopKey, EcP256PrivateKey, Endpoint, RedirectUri,
    RefreshPolicy, RefreshState, Scope, Token, TokenRequest, TokenType, Transport,
    parse_token_response,
};
use oauth_core::secret::{
    AccessToken, AuthorizationCode, ClientSecret, ConsumerSecret, IdToken, PkceCodeVerifier,
    RefreshToken, TokenSecret, Verifier,
};
use tower::{Layer, ServiceBuilder, ServiceExt};
use tower_http::trace::{DefaultMakeSpan, DefaultOnRequest, DefaultOnResponse, TraceLayer};
use tower_oauth1::dance::{Callback, Dance};
use tower_oauth1::sign::SignLayer;
use tower_oauth2::policy::{ExistingAuthorization, RetryOn401};
use tower_oauth2::store::{CallbackStore, FileStore, MemoryStore};
use tower_oauth2::{GrantClient, OAuth2Layer, TokenSource};
use tracing::Level;

use loopback::{Received, form, respond};

const CONSUMER_SECRET: &str = "SENTINEL-consumer-secret-7f3a";
const TOKEN_SECRET: &str = "SENTINEL-token-secret-91bc";
const TEMP_SECRET: &str = "SENTINEL-temporary-secret-d00d";
const FINAL_SECRET: &str = "SENTINEL-final-token-secret-beef";
const OAUTH1_VERIFIER: &str = "SENTINEL-oauth-verifier-44aa";
const CLIENT_SECRET: &str = "SENTINEL-client-secret-0d4e";
const ACCESS_1: &str = "SENTINEL-access-token-5a1f";
const ACCESS_2: &str = "SENTINEL-access-token-two-6b2e";
const ACCESS_3: &str = "SENTINEL-access-token-three-7c3f";
const REFRESH_3: &str = "SENTINEL-refresh-token-three-e4fb";
const REFRESH_1: &str = "SENTINEL-refresh-token-c2d9";
const REFRESH_2: &str = "SENTINEL-refresh-token-two-d3ea";
const AUTH_CODE: &str = "SENTINEL-auth-code-8e77";
const ID_TOKEN: &str = "SENTINEL.id-token.9f01";
const ACCESS_DPOP: &str = "SENTINEL-dpop-bound-access-token-5a1e";
const RSA_PEM: &str = include_str!("../keys/rsa_private_pkcs1.pem");
const EC_PEM: &str = include_str!("../keys/ec_p256_pkcs8.pem");
const ED25519_PEM: &str = include_str!("../keys/ed25519_pkcs8.pem");

/// Everything written by the global TRACE subscriber.
static LOG: Mutex<Vec<u8>> = Mutex::new(Vec::new());
/// Secrets generated at run time (state, PKCE verifier).
static DYNAMIC: Mutex<Vec<String>> = Mutex::new(Vec::new());

struct LogWriter;

impl Write for LogWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        LOG.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Installs the global subscriber once: every event and span field, TRACE and up, into `LOG`.
/// Global rather than scoped, so that tasks spawned on other runtime threads are captured too.
fn capture_tracing() {
    static INSTALLED: OnceLock<()> = OnceLock::new();
    INSTALLED.get_or_init(|| {
        let subscriber = tracing_subscriber::fmt()
            .with_max_level(Level::TRACE)
            .with_ansi(false)
            .with_target(true)
            .with_writer(|| LogWriter)
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
    });
}

fn log_text() -> String {
    String::from_utf8_lossy(&LOG.lock().unwrap()).into_owned()
}

/// Every secret, including the base64 lines of the RSA key and the Basic credentials.
fn sentinels() -> Vec<String> {
    let mut all: Vec<String> = [
        CONSUMER_SECRET,
        TOKEN_SECRET,
        TEMP_SECRET,
        FINAL_SECRET,
        OAUTH1_VERIFIER,
        CLIENT_SECRET,
        ACCESS_1,
        ACCESS_2,
        ACCESS_3,
        REFRESH_1,
        REFRESH_3,
        REFRESH_2,
        AUTH_CODE,
        ID_TOKEN,
        ACCESS_DPOP,
    ]
    .into_iter()
    .map(str::to_owned)
    .collect();
    // Any 24-character piece of the keys' base64 bodies.
    for line in RSA_PEM
        .lines()
        .chain(EC_PEM.lines())
        .chain(ED25519_PEM.lines())
        .filter(|l| !l.starts_with("-----"))
    {
        all.extend(
            line.as_bytes()
                .chunks(24)
                .filter(|c| c.len() == 24)
                .map(|c| String::from_utf8(c.to_vec()).unwrap()),
        );
    }
    all.push(
        base64::engine::general_purpose::STANDARD.encode(format!("hygiene-client:{CLIENT_SECRET}")),
    );
    all.extend(DYNAMIC.lock().unwrap().iter().cloned());
    all
}

fn assert_clean(what: &str, text: &str) {
    for secret in sentinels() {
        assert!(
            !text.contains(&secret),
            "{what} leaks {secret:?}:\n{}",
            excerpt(text, &secret)
        );
    }
}

fn report(name: &str, out: &str, log: &str) {
    let lines = |level: &str| log.lines().filter(|l| l.contains(level)).count();
    println!(
        "secret_hygiene/{name}: {} sentinels; {} bytes of Debug/Display output; TRACE log so far \
         {} lines (TRACE {}, DEBUG {}, WARN {}, ERROR {}; hyper_util {}, tower_http {}, \
         tower_oauth2 {}); `Sensitive` header values logged: {}",
        sentinels().len(),
        out.len(),
        log.lines().count(),
        lines(" TRACE "),
        lines(" DEBUG "),
        lines(" WARN "),
        lines(" ERROR "),
        lines("hyper_util"),
        lines("tower_http"),
        lines("tower_oauth2"),
        log.matches("Sensitive").count(),
    );
    if let Some(path) = std::env::var_os("SECRET_HYGIENE_LOG") {
        std::fs::write(path, log).unwrap();
    }
}

fn excerpt(text: &str, secret: &str) -> String {
    let at = text.find(secret).unwrap_or(0);
    let start = text[..at]
        .char_indices()
        .rev()
        .nth(300)
        .map_or(0, |(i, _)| i);
    let end = text[at..]
        .char_indices()
        .nth(300)
        .map_or(text.len(), |(i, _)| at + i);
    text[start..end].to_owned()
}

/// `Debug`, alternate `Debug`, and logs it at TRACE so the subscriber sees it too.
fn debug<T: std::fmt::Debug>(out: &mut String, value: &T) {
    let text = format!("{value:?}\n{value:#?}\n");
    tracing::trace!(value = ?value, "debug output");
    out.push_str(&text);
}

/// `Display` + `Debug` of an error and of its whole `source()` chain, logged at ERROR too; the
/// chain must say each thing once.
fn error(out: &mut String, error: &(dyn std::error::Error + 'static)) {
    tracing::error!(error = %error, debug = ?error, "provoked error");
    out.push_str(&common::error_chain_text(error));
    common::assert_chain_says_each_thing_once(error);
}

/// The error of a call expected to fail (the response type need not be `Debug`).
fn failed<T>(result: Result<T, tower::BoxError>) -> tower::BoxError {
    match result {
        Ok(_) => panic!("expected the call to fail"),
        Err(e) => e,
    }
}

fn trace_layer() -> TraceLayer<
    tower_http::classify::SharedClassifier<tower_http::classify::ServerErrorsAsFailures>,
    DefaultMakeSpan,
    DefaultOnRequest,
    DefaultOnResponse,
> {
    TraceLayer::new_for_http()
        .make_span_with(
            DefaultMakeSpan::new()
                .level(Level::TRACE)
                .include_headers(true),
        )
        .on_request(DefaultOnRequest::new().level(Level::TRACE))
        .on_response(
            DefaultOnResponse::new()
                .level(Level::TRACE)
                .include_headers(true),
        )
}

// ---------------------------------------------------------------------------------------------
// OAuth 2

fn full_token() -> Token {
    Token::new(AccessToken::new(ACCESS_1), TokenType::Bearer)
        .with_refresh_token(Some(RefreshToken::new(REFRESH_1)))
        .with_id_token(Some(IdToken::new(ID_TOKEN)))
        .with_expires_at(Some(SystemTime::now()))
}

/// The mock authorization server: code exchange, refreshes that fail twice then succeed, and a
/// client-credentials grant that is refused.
struct AuthServer {
    refresh_calls: AtomicUsize,
    verifier: Mutex<Option<String>>,
}

impl AuthServer {
    fn token(&self, req: Received) -> http::Response<Full<Bytes>> {
        let basic = req
            .parts
            .headers
            .get("authorization")
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Basic "))
            .and_then(|v| base64::engine::general_purpose::STANDARD.decode(v).ok());
        if basic.as_deref() != Some(format!("hygiene-client:{CLIENT_SECRET}").as_bytes()) {
            return respond(401, "application/json", r#"{"error":"invalid_client"}"#);
        }
        let params = form(&req.body);
        let get = |n: &str| params.iter().find(|(k, _)| k == n).map(|(_, v)| v.clone());
        match get("grant_type").as_deref() {
            Some("authorization_code") => {
                let verifier_ok = get("code_verifier") == *self.verifier.lock().unwrap();
                if get("code").as_deref() == Some(AUTH_CODE) && verifier_ok {
                    respond(
                        200,
                        "application/json",
                        format!(
                            r#"{{"access_token":"{ACCESS_1}","token_type":"Bearer","expires_in":3600,"refresh_token":"{REFRESH_1}","id_token":"{ID_TOKEN}","scope":"read"}}"#
                        ),
                    )
                } else {
                    respond(400, "application/json", r#"{"error":"invalid_grant"}"#)
                }
            }
            Some("refresh_token") => match self.refresh_calls.fetch_add(1, Ordering::SeqCst) {
                0 => respond(
                    503,
                    "text/html",
                    format!("<html><body>maintenance {REFRESH_1}</body></html>"),
                ),
                1 => respond(
                    200,
                    "application/json",
                    format!(r#"{{"access_token":"{ACCESS_2}","token_type":"#),
                ),
                _ if get("refresh_token").as_deref() == Some(REFRESH_1) => respond(
                    200,
                    "application/json",
                    format!(
                        r#"{{"access_token":"{ACCESS_2}","token_type":"Bearer","expires_in":3600,"refresh_token":"{REFRESH_2}"}}"#
                    ),
                ),
                _ if get("refresh_token").as_deref() == Some(REFRESH_2) => respond(
                    200,
                    "application/json",
                    format!(
                        r#"{{"access_token":"{ACCESS_3}","token_type":"Bearer","expires_in":3600,"refresh_token":"{REFRESH_3}"}}"#
                    ),
                ),
                _ => respond(400, "application/json", r#"{"error":"invalid_grant"}"#),
            },
            Some("client_credentials") => {
                respond(401, "application/json", r#"{"error":"invalid_client"}"#)
            }
            _ => respond(
                400,
                "application/json",
                r#"{"error":"unsupported_grant_type"}"#,
            ),
        }
    }
}

/// The resource server: only the third access token is good.
fn api(req: Received, seen: &Mutex<Vec<String>>) -> http::Response<Full<Bytes>> {
    let auth = req
        .parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_owned();
    let ok = auth == format!("Bearer {ACCESS_3}");
    seen.lock().unwrap().push(auth);
    if ok {
        respond(200, "text/plain", "hello")
    } else {
        let mut response = respond(401, "text/plain", "expired");
        response.headers_mut().insert(
            "www-authenticate",
            http::HeaderValue::from_static(r#"Bearer error="invalid_token""#),
        );
        response
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth2_types_errors_and_flows_never_print_a_secret() {
    capture_tracing();
    tokio::time::timeout(Duration::from_secs(60), oauth2_flows())
        .await
        .expect("the OAuth 2 hygiene flows did not finish in time");
}

/// A signed-response (JARM) flow: its `Debug`, and the refusals of a response whose signature
/// does not verify, of a plain code in its place, and of a code beside it; none shows the code
/// or the state.
fn signed_response_refusals(out: &mut String, authorize: &Endpoint, redirect: &RedirectUri) {
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use oauth_core::oauth2::oidc::Jwks;

    let issuer = oauth_core::oauth2::Issuer::new("https://as.example.com").unwrap();
    let mut jwk = DpopKey::es256(EcP256PrivateKey::from_pem(EC_PEM).unwrap()).jwk();
    jwk["kid"] = "as-key".into();
    let jwks = Jwks::parse(serde_json::json!({ "keys": [jwk] }).to_string().as_bytes()).unwrap();
    let flow = || {
        let (_, pending) = AuthorizationRequest::new(authorize, "hygiene-client", redirect)
            .expect_issuer(issuer.clone(), true)
            .signed_response()
            .build(&SystemRandom::new())
            .unwrap();
        DYNAMIC.lock().unwrap().push(pending.state().to_owned());
        pending
    };
    let pending = flow();
    debug(out, &pending);
    let claims = serde_json::json!({"iss": issuer.as_str(), "aud": "hygiene-client",
        "exp": 4_000_000_000u64, "code": AUTH_CODE, "state": pending.state()});
    let jwt = format!(
        "{}.{}.{}",
        URL_SAFE_NO_PAD.encode(br#"{"alg":"ES256","kid":"as-key"}"#),
        URL_SAFE_NO_PAD.encode(claims.to_string()),
        URL_SAFE_NO_PAD.encode([7u8; 64])
    );
    DYNAMIC.lock().unwrap().push(jwt.clone());
    let state = pending.state().to_owned();
    let callbacks = [
        format!("/cb?response={jwt}"),
        format!("/cb?code={AUTH_CODE}&state={state}"),
        format!("/cb?response={jwt}&code={AUTH_CODE}"),
    ];
    let expected = [
        "the signed authorization response's signature is invalid",
        "the flow asked for a signed authorization response",
        "callback parameter \"code\" is outside the signed authorization response",
    ];
    let mut pending = Some(pending);
    for (callback, expected) in callbacks.iter().zip(expected) {
        let pending = pending.take().unwrap_or_else(flow);
        let refused = pending
            .parse_signed_callback(callback, &jwks, SystemTime::now())
            .unwrap_err();
        assert!(refused.to_string().starts_with(expected), "{refused}");
        error(out, &refused);
    }
}

async fn oauth2_flows() {
    let mut out = String::new();
    let auth = Arc::new(AuthServer {
        refresh_calls: AtomicUsize::new(0),
        verifier: Mutex::new(None),
    });
    let token_server = {
        let auth = auth.clone();
        loopback::serve(move |req| {
            let response = auth.token(req);
            async move { response }
        })
        .await
    };
    let api_seen = Arc::new(Mutex::new(Vec::new()));
    let api_server = {
        let seen = api_seen.clone();
        loopback::serve(move |req| {
            let response = api(req, &seen);
            async move { response }
        })
        .await
    };

    // Authorization request and callback.
    let authorize = Endpoint::new("https://as.example.com/authorize").unwrap();
    let redirect = RedirectUri::new("https://client.example.com/cb").unwrap();
    let request = AuthorizationRequest::new(&authorize, "hygiene-client", &redirect).oidc_nonce();
    debug(&mut out, &request);
    let (_url, pending) = request.build(&SystemRandom::new()).unwrap();
    DYNAMIC.lock().unwrap().push(pending.state().to_owned());
    debug(&mut out, &pending);
    let (_, wrong) = AuthorizationRequest::new(&authorize, "hygiene-client", &redirect)
        .build(&SystemRandom::new())
        .unwrap();
    DYNAMIC.lock().unwrap().push(wrong.state().to_owned());
    let mismatch = wrong
        .parse_callback(&format!(
            "https://client.example.com/cb?code={AUTH_CODE}&state={}",
            pending.state()
        ))
        .unwrap_err();
    error(&mut out, &mismatch);
    let callback = format!(
        "https://client.example.com/cb?code={AUTH_CODE}&state={}",
        pending.state()
    );
    let exchange = pending.parse_callback(&callback).unwrap();
    let verifier = exchange.pkce_verifier().unwrap().secret().to_owned();
    DYNAMIC.lock().unwrap().push(verifier.clone());
    *auth.verifier.lock().unwrap() = Some(verifier);
    debug(&mut out, &exchange);
    signed_response_refusals(&mut out, &authorize, &redirect);

    // The token endpoint client, with a TraceLayer that logs its (Basic) Authorization header.
    let token_http = ServiceBuilder::new()
        .layer(trace_layer())
        .service(loopback::client::<Full<Bytes>>());
    let endpoint =
        Endpoint::with_transport(&token_server.url("/token"), Transport::AllowLoopbackHttp)
            .unwrap();
    let client = Client::secret_basic("hygiene-client", ClientSecret::new(CLIENT_SECRET));
    debug(&mut out, &client);
    let grants = GrantClient::new(token_http, endpoint.clone(), client.clone());
    debug(&mut out, &grants);
    debug(&mut out, &grants.refresh_fetcher());
    debug(
        &mut out,
        &grants.client_credentials_fetcher(Some(Scope::parse("read"))),
    );
    let built = TokenRequest::refresh_token(&endpoint, &client, &RefreshToken::new(REFRESH_1))
        .build()
        .unwrap();
    debug(&mut out, built.headers());

    let token = grants.exchange_code(exchange).await.unwrap();
    assert_eq!(token.access_token().secret(), ACCESS_1);
    debug(&mut out, &token);
    let refused = grants.client_credentials(None).await.unwrap_err();
    error(&mut out, &refused);
    let refused_code = grants
        .exchange_code(
            AuthorizationRequest::new(&authorize, "hygiene-client", &redirect)
                .build(&SystemRandom::new())
                .map(|(_, p)| {
                    DYNAMIC.lock().unwrap().push(p.state().to_owned());
                    let state = p.state().to_owned();
                    p.parse_callback(&format!("/cb?code={AUTH_CODE}-old&state={state}"))
                        .unwrap()
                })
                .unwrap(),
        )
        .await
        .unwrap_err();
    error(&mut out, &refused_code);

    // The token source: two failed refreshes, then the layer's 401 retry succeeds.
    let saved = Arc::new(AtomicUsize::new(0));
    let store = {
        let saved = saved.clone();
        CallbackStore::new(move |token: &Token| {
            tracing::trace!(?token, "store callback");
            saved.fetch_add(1, Ordering::SeqCst);
            Ok(())
        })
    };
    debug(&mut out, &store);
    let builder = TokenSource::builder()
        .token(token.clone())
        .fetcher(grants.refresh_fetcher())
        .store(store)
        .policy(
            RefreshPolicy::default()
                .margin(Duration::from_secs(60))
                .min_interval(Duration::from_millis(10))
                .initial_backoff(Duration::from_millis(20))
                .max_backoff(Duration::from_millis(40)),
        );
    debug(&mut out, &builder);
    let source = builder.build().await.unwrap();
    debug(&mut out, &source);
    for _ in 0..2 {
        let failed = source.refresh().await.unwrap_err();
        error(&mut out, &*failed);
        tokio::time::sleep(Duration::from_millis(80)).await;
    }
    assert_eq!(source.current().unwrap().access_token().secret(), ACCESS_1);
    // The failures marked the token for replacement: the next use refreshes (third call).
    let second = source.token().await.unwrap();
    assert_eq!(second.access_token().secret(), ACCESS_2);
    // Past the policy's minimum interval between refreshes, so the 401 below may refresh.
    tokio::time::sleep(Duration::from_millis(50)).await;

    let layer = OAuth2Layer::new_dangerous_http_loopback(source.clone(), &api_server.origin())
        .unwrap()
        .retry_on_401(RetryOn401::InvalidToken);
    debug(&mut out, &layer);
    let svc = ServiceBuilder::new()
        .layer(trace_layer())
        .layer(layer.clone())
        .layer(trace_layer())
        .service(loopback::client::<Full<Bytes>>());
    debug(&mut out, &svc);
    let response = svc
        .clone()
        .oneshot(
            Request::get(api_server.url("/me"))
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let (parts, body) = response.into_parts();
    debug(&mut out, &parts);
    body.collect().await.unwrap();
    assert_eq!(
        *api_seen.lock().unwrap(),
        [format!("Bearer {ACCESS_2}"), format!("Bearer {ACCESS_3}")]
    );
    let current = source.current().unwrap();
    assert_eq!(current.refresh_token().unwrap().secret(), REFRESH_3);
    assert!(saved.load(Ordering::SeqCst) >= 1);
    debug(&mut out, &current);
    debug(&mut out, &source);

    // Layer errors: a request that already carries credentials.
    let strict = layer.existing_authorization(ExistingAuthorization::Reject);
    let mut req = Request::get(api_server.url("/me"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let mut value = http::HeaderValue::from_str(&format!("Bearer {ACCESS_1}")).unwrap();
    value.set_sensitive(true);
    req.headers_mut().insert("authorization", value);
    let rejected = ServiceBuilder::new()
        .layer(strict.clone())
        .service(loopback::client::<Full<Bytes>>())
        .oneshot(req)
        .await
        .unwrap_err();
    error(&mut out, &*rejected);
    debug(&mut out, &strict);

    // A DPoP-bound token (RFC 9449): the resource server first asks for a nonce, then
    // accepts; the TraceLayer between the token layer and the client must show both the
    // Authorization and the DPoP headers as Sensitive.
    let dpop_server = loopback::serve(|req: Received| {
        let proof = req.parts.headers.get("dpop").cloned();
        let nonce = proof
            .as_ref()
            .and_then(|p| p.to_str().ok())
            .and_then(|p| p.split('.').nth(1).map(str::to_owned))
            .and_then(|claims| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(claims)
                    .ok()
            })
            .and_then(|claims| serde_json::from_slice::<serde_json::Value>(&claims).ok())
            .and_then(|claims| claims.get("nonce").cloned());
        let response = if nonce.is_some() {
            respond(200, "text/plain", "hello")
        } else {
            let mut response = respond(401, "text/plain", "nonce");
            response.headers_mut().insert(
                "www-authenticate",
                http::HeaderValue::from_static(r#"DPoP error="use_dpop_nonce""#),
            );
            response.headers_mut().insert(
                "dpop-nonce",
                http::HeaderValue::from_static("hygiene-nonce"),
            );
            response
        };
        async move { response }
    })
    .await;
    let dpop_key = DpopKey::es256(EcP256PrivateKey::from_pem(EC_PEM).unwrap());
    debug(&mut out, &dpop_key);
    // The Ed25519 key type, as a DPoP key and as a private_key_jwt key.
    let ed25519 = oauth_core::oauth2::Ed25519PrivateKey::from_pem(ED25519_PEM).unwrap();
    debug(&mut out, &ed25519);
    debug(&mut out, &DpopKey::ed25519(ed25519.clone()));
    debug(
        &mut out,
        &oauth_core::oauth2::PrivateKeyJwt::ed25519(ed25519),
    );
    let dpop_token = Token::new(AccessToken::new(ACCESS_DPOP), TokenType::DPoP)
        .with_dpop_jkt(Some(dpop_key.thumbprint()));
    debug(&mut out, &dpop_token);
    let dpop_source = TokenSource::builder()
        .token(dpop_token.clone())
        .dpop(dpop_key.clone())
        .build()
        .await
        .unwrap();
    debug(&mut out, &dpop_source);
    let dpop_layer =
        OAuth2Layer::new_dangerous_http_loopback(dpop_source, &dpop_server.origin()).unwrap();
    let response = ServiceBuilder::new()
        .layer(trace_layer())
        .layer(dpop_layer)
        .layer(trace_layer())
        .service(loopback::client::<Full<Bytes>>())
        .oneshot(
            Request::get(dpop_server.url("/me?x=1"))
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    debug(&mut out, &response.into_parts().0);
    // A token bound to another key is refused before anything is sent.
    let other_key = TokenSource::builder()
        .token(dpop_token.with_dpop_jkt(Some("another-key-thumbprint".into())))
        .dpop(dpop_key)
        .build()
        .await
        .unwrap();
    let mismatch = OAuth2Layer::new_dangerous_http_loopback(other_key, &dpop_server.origin())
        .unwrap()
        .layer(loopback::client::<Full<Bytes>>())
        .oneshot(
            Request::get(dpop_server.url("/me"))
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
        .await
        .unwrap_err();
    error(&mut out, &*mismatch);
    // A token request built by oauth-core, logged whole.
    debug(
        &mut out,
        &TokenRequest::client_credentials(
            &Endpoint::new("https://as.example.com/token").unwrap(),
            &Client::secret_post("hygiene-client", ClientSecret::new(CLIENT_SECRET)),
        )
        .build()
        .unwrap(),
    );

    // Configuration errors.
    error(
        &mut out,
        &AuthorizationRequest::new(&authorize, "hygiene-client", &redirect)
            .param("state", AUTH_CODE)
            .build(&SystemRandom::new())
            .unwrap_err(),
    );
    error(
        &mut out,
        &Endpoint::new(&format!(
            "https://user:{CLIENT_SECRET}@as.example.com/token"
        ))
        .unwrap_err(),
    );
    error(
        &mut out,
        &OAuth2Layer::new(source.clone(), &format!("http://{ACCESS_1}.example.com")).unwrap_err(),
    );
    debug(
        &mut out,
        &RefreshState::new(full_token(), SystemTime::now(), RefreshPolicy::default()),
    );

    // A token the source cannot send (an unknown type): the error keeps it for the caller
    // (`UnsendableToken`, the source of the `TokenError`), and prints none of its secrets.
    let unsendable = Token::new(AccessToken::new(ACCESS_3), TokenType::Other("mac".into()))
        .with_refresh_token(Some(RefreshToken::new(REFRESH_3)))
        .with_id_token(Some(IdToken::new(ID_TOKEN)));
    let unsendable_source = TokenSource::builder()
        .token(full_token())
        .fetcher(move |_: Option<&Token>| {
            let issued = unsendable.clone();
            async move { Ok::<_, tower_oauth2::TokenError>(issued) }
        })
        .build()
        .await
        .unwrap();
    let failed = unsendable_source.token().await.unwrap_err();
    let kept = std::error::Error::source(&*failed)
        .and_then(|e| e.downcast_ref::<tower_oauth2::source::UnsendableToken>())
        .expect("the unsendable token is the error's source");
    assert_eq!(kept.token().refresh_token().unwrap().secret(), REFRESH_3);
    error(&mut out, &*failed);
    debug(&mut out, kept);

    // Stores and tokens.
    let full = full_token();
    debug(&mut out, &full);
    debug(&mut out, &MemoryStore::with_token(full.clone()));
    debug(
        &mut out,
        &FileStore::new(std::env::temp_dir().join("hygiene-never-written.json")),
    );
    debug(&mut out, &TokenSource::from_token(full.clone()));
    let broken = Token::new(
        AccessToken::new(format!("{ACCESS_1}\r\nX-Evil: 1")),
        TokenType::Bearer,
    );
    error(&mut out, &broken.authorization_header().unwrap_err());
    for secret in [
        AuthorizationCode::new(AUTH_CODE),
        AuthorizationCode::new(ACCESS_2),
    ] {
        debug(&mut out, &secret);
    }
    debug(&mut out, &PkceCodeVerifier::new(AUTH_CODE));

    // Token responses that carry secrets but fail to parse.
    let mut json = HeaderMap::new();
    json.insert("content-type", "application/json".parse().unwrap());
    for body in [
        format!(r#"{{"access_token":"{ACCESS_1}"}}"#),
        format!(
            r#"{{"access_token":"{ACCESS_1}","access_token":"{ACCESS_2}","token_type":"Bearer"}}"#
        ),
        format!(
            r#"{{"access_token":"{ACCESS_1}","token_type":"Bearer","expires_in":"{REFRESH_1}"}}"#
        ),
        format!(r#"{{"access_token":"{ACCESS_1}","token_type":"mac"}}"#),
        format!(r#"{{"access_token":"{ACCESS_1}","token_type":"Bearer","refresh_token":7}}"#),
        format!(r#"{{"access_token":"{ACCESS_1}","token_type":"Bearer","scope":["{REFRESH_1}"]}}"#),
        format!(r#"{{"access_token":"{ACCESS_1}" "token_type":"Bearer"}}"#),
        format!(r#"{{"access_token":"{ACCESS_1}","token_type":"Bearer"}}{REFRESH_1}"#),
        format!("<html>{ACCESS_1}</html>"),
    ] {
        for status in [
            StatusCode::OK,
            StatusCode::BAD_REQUEST,
            StatusCode::BAD_GATEWAY,
        ] {
            let now = SystemTime::now();
            let compliance = Compliance::strict();
            match parse_token_response(status, &json, body.as_bytes(), now, &compliance) {
                Ok(token) => debug(&mut out, &token),
                Err(e) => error(&mut out, &e),
            }
        }
    }

    assert_clean("OAuth 2 Debug/Display output", &out);
    let log = log_text();
    assert!(
        log.contains("token fetch failed"),
        "the refresh failures were not logged"
    );
    assert!(
        log.contains("authorization\": Sensitive"),
        "the inner TraceLayer did not log the Authorization header as Sensitive"
    );
    assert!(
        log.contains("\"dpop\": Sensitive"),
        "the inner TraceLayer did not log the DPoP proof as Sensitive"
    );
    assert!(log.contains("hyper_util"), "no hyper-util events captured");
    assert_clean("TRACE log", &log);
    report("oauth2", &out, &log);
    drop((token_server, api_server));
}

// ---------------------------------------------------------------------------------------------
// OAuth 1

fn hmac_signer() -> Signer {
    Signer::builder(ClientCredentials::new(
        "hygiene-key",
        ConsumerSecret::new(CONSUMER_SECRET),
    ))
    .token(TokenCredentials::new(
        "hygiene-token",
        TokenSecret::new(TOKEN_SECRET),
    ))
    .build()
    .unwrap()
}

/// Verifies HMAC-SHA1 requests for the resource, and plays the provider for the dance.
fn provider(req: Received) -> http::Response<Full<Bytes>> {
    let parts = &req.parts;
    let header = parts
        .headers
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    match parts.uri.path() {
        "/request_token" => {
            let parsed = AuthorizationHeader::parse(header).unwrap();
            assert_eq!(
                parsed.get("oauth_callback"),
                Some("https://client.example.com/cb")
            );
            respond(
                200,
                "application/x-www-form-urlencoded",
                format!(
                    "oauth_token=temp-token&oauth_token_secret={TEMP_SECRET}&oauth_callback_confirmed=true"
                ),
            )
        }
        "/access_token" => {
            let parsed = AuthorizationHeader::parse(header).unwrap();
            if parsed.get("oauth_verifier") == Some(OAUTH1_VERIFIER) {
                respond(
                    200,
                    "application/x-www-form-urlencoded",
                    format!("oauth_token=final-token&oauth_token_secret={FINAL_SECRET}&user_id=42"),
                )
            } else {
                respond(401, "text/plain", "oauth_problem=verifier_invalid")
            }
        }
        "/fail" => respond(
            401,
            "application/x-www-form-urlencoded",
            format!("oauth_problem=signature_invalid&debug_sbs={TOKEN_SECRET}"),
        ),
        _ => {
            let host = parts.headers["host"].to_str().unwrap();
            let mut incoming = IncomingRequest::new(&parts.method, &parts.uri)
                .origin(Origin::new("http", host))
                .authorization(header);
            if parts.method == Method::POST {
                incoming = incoming.form_body(&req.body);
            }
            let consumer = ConsumerSecret::new(CONSUMER_SECRET);
            let token = TokenSecret::new(TOKEN_SECRET);
            let verified = UnverifiedRequest::parse(incoming).and_then(|r| {
                r.verify(VerifyKey::Secrets(SigningSecrets {
                    consumer_secret: &consumer,
                    token_secret: Some(&token),
                }))
            });
            match verified {
                Ok(_) => respond(200, "text/plain", "ok"),
                Err(_) => respond(401, "text/plain", "oauth_problem=signature_invalid"),
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauth1_types_errors_and_flows_never_print_a_secret() {
    capture_tracing();
    tokio::time::timeout(Duration::from_secs(60), oauth1_flows())
        .await
        .expect("the OAuth 1 hygiene flows did not finish in time");
}

async fn oauth1_flows() {
    let mut out = String::new();
    let server = loopback::serve(|req| {
        let response = provider(req);
        async move { response }
    })
    .await;

    // Signers and their parts.
    let signer = hmac_signer();
    debug(&mut out, &signer);
    debug(&mut out, signer.client());
    debug(&mut out, signer.token().unwrap());
    let rsa = RsaPrivateKey::from_pem_with_min_bits(RSA_PEM, 1024).unwrap();
    debug(&mut out, &rsa);
    let rsa_signer = Signer::builder(ClientCredentials::new(
        "hygiene-key",
        ConsumerSecret::new(CONSUMER_SECRET),
    ))
    .method(SignatureMethod::RsaSha1)
    .rsa_key(rsa.clone())
    .build()
    .unwrap();
    debug(&mut out, &rsa_signer);
    let truncated: String = RSA_PEM.lines().take(8).collect::<Vec<_>>().join("\n");
    error(&mut out, &RsaPrivateKey::from_pem(&truncated).unwrap_err());
    error(
        &mut out,
        &RsaPrivateKey::from_pem(&RSA_PEM.replace("MII", "M!I")).unwrap_err(),
    );

    // Configuration and signing errors.
    error(
        &mut out,
        &Signer::builder(ClientCredentials::new(
            "hygiene-key",
            ConsumerSecret::new(CONSUMER_SECRET),
        ))
        .method(SignatureMethod::RsaSha256)
        .build()
        .unwrap_err(),
    );

    // PLAINTEXT: the signature *is* the secrets.
    let plaintext = Signer::builder(ClientCredentials::new(
        "hygiene-key",
        ConsumerSecret::new(CONSUMER_SECRET),
    ))
    .token(TokenCredentials::new(
        "hygiene-token",
        TokenSecret::new(TOKEN_SECRET),
    ))
    .method(SignatureMethod::Plaintext)
    .build()
    .unwrap();
    let insecure: Uri = "http://api.example.com/x".parse().unwrap();
    error(
        &mut out,
        &plaintext
            .sign(
                &Method::GET,
                &insecure,
                None,
                &SignOptions::new(),
                Placement::Header,
            )
            .unwrap_err(),
    );
    let uri: Uri = "https://api.example.com/x".parse().unwrap();
    let verifier = Verifier::new(OAUTH1_VERIFIER);
    let options = SignOptions::new().verifier(&verifier);
    debug(&mut out, &options);
    for placement in [Placement::Header, Placement::Query, Placement::Body] {
        let signed = plaintext
            .sign(&Method::POST, &uri, None, &options, placement)
            .unwrap();
        debug(&mut out, &signed);
        debug(&mut out, signed.output());
    }
    let signed = plaintext
        .sign(&Method::GET, &uri, None, &options, Placement::Header)
        .unwrap();
    let header = signed.authorization().unwrap().to_owned();
    let unverified =
        UnverifiedRequest::parse(IncomingRequest::new(&Method::GET, &uri).authorization(&header))
            .unwrap();
    debug(&mut out, &unverified);
    let wrong = ConsumerSecret::new("wrong");
    let mismatch = unverified
        .verify(VerifyKey::Secrets(SigningSecrets {
            consumer_secret: &wrong,
            token_secret: None,
        }))
        .unwrap_err();
    error(&mut out, &mismatch);
    let consumer = ConsumerSecret::new(CONSUMER_SECRET);
    let token_secret = TokenSecret::new(TOKEN_SECRET);
    let key = VerifyKey::Secrets(SigningSecrets {
        consumer_secret: &consumer,
        token_secret: Some(&token_secret),
    });
    debug(&mut out, &key);
    let verified =
        UnverifiedRequest::parse(IncomingRequest::new(&Method::GET, &uri).authorization(&header))
            .unwrap()
            .verify(key)
            .unwrap();
    debug(&mut out, &verified);
    debug(&mut out, &AuthorizationHeader::parse(&header).unwrap());
    for bad in [
        format!("OAuth oauth_signature=\"{CONSUMER_SECRET}\", oauth_signature=\"{TOKEN_SECRET}\""),
        format!("OAuth oauth_signature=\"%zz{CONSUMER_SECRET}\""),
        format!("OAuth oauth_signature=\"{CONSUMER_SECRET}"),
        format!("OAuth oauth_signature={CONSUMER_SECRET}\""),
        format!("Bearer {ACCESS_1}"),
    ] {
        error(&mut out, &AuthorizationHeader::parse(&bad).unwrap_err());
    }
    // A bare token value is valid HTTP (RFC 9110 §11.2) and is read; its Debug names only.
    let unquoted = format!("OAuth oauth_signature={CONSUMER_SECRET}");
    debug(&mut out, &AuthorizationHeader::parse(&unquoted).unwrap());

    // SignLayer over hyper, TraceLayers outside and inside.
    let layer = SignLayer::new(signer.clone()).dangerous_allow_http_loopback();
    debug(&mut out, &layer);
    let svc = ServiceBuilder::new()
        .layer(trace_layer())
        .layer(layer.clone())
        .layer(trace_layer())
        .service(loopback::client::<tower_oauth1::SignedBody<Full<Bytes>>>());
    debug(&mut out, &svc);
    let get = Request::get(server.url("/resource?a=1&b=x+y"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    let response = svc.clone().oneshot(get).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let post = Request::post(server.url("/resource"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from_static(b"status=hello+world")))
        .unwrap();
    let response = svc.clone().oneshot(post).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);

    // SignLayer errors.
    let mut preauthorized = Request::get(server.url("/resource"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    // The caller's own credentials: marked sensitive, as any header built from a secret must be.
    let mut value =
        http::HeaderValue::from_str(&format!("OAuth oauth_signature=\"{CONSUMER_SECRET}\""))
            .unwrap();
    value.set_sensitive(true);
    preauthorized.headers_mut().insert("authorization", value);
    let err = failed(svc.clone().oneshot(preauthorized).await);
    error(&mut out, &*err);
    let small = ServiceBuilder::new()
        .layer(
            SignLayer::new(signer.clone())
                .body_limit(8)
                .dangerous_allow_http_loopback(),
        )
        .service(loopback::client::<tower_oauth1::SignedBody<Full<Bytes>>>());
    let big = Request::post(server.url("/resource"))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(format!("secret={TOKEN_SECRET}"))))
        .unwrap();
    error(&mut out, &*small.oneshot(big).await.unwrap_err());
    let query_oauth = Request::get(server.url("/resource?oauth_token=caller-token"))
        .body(Full::new(Bytes::new()))
        .unwrap();
    error(&mut out, &*failed(svc.clone().oneshot(query_oauth).await));

    // The dance against the mock provider, through a TraceLayer.
    let mut dance_http = ServiceBuilder::new()
        .layer(trace_layer())
        .service(loopback::client::<Full<Bytes>>());
    let dance = Dance::new(
        signer.clone(),
        server.url("/request_token").parse().unwrap(),
        server.url("/access_token").parse().unwrap(),
    )
    .dangerous_allow_http_loopback();
    debug(&mut out, &dance);
    let callback = Callback::Uri("https://client.example.com/cb".into());
    let pending = dance
        .request_temporary_credentials(&mut dance_http, &callback)
        .await
        .unwrap();
    debug(&mut out, &pending);
    let _ = pending
        .authorization_url("https://provider.example.com/authorize")
        .unwrap();
    let wrong_token: Uri =
        format!("https://client.example.com/cb?oauth_token=other&oauth_verifier={OAUTH1_VERIFIER}")
            .parse()
            .unwrap();
    error(
        &mut out,
        &pending.verifier_from_callback(&wrong_token).unwrap_err(),
    );
    let denied: Uri = "https://client.example.com/cb?denied=temp-token"
        .parse()
        .unwrap();
    error(
        &mut out,
        &pending.verifier_from_callback(&denied).unwrap_err(),
    );
    let good: Uri = format!(
        "https://client.example.com/cb?oauth_token=temp-token&oauth_verifier={OAUTH1_VERIFIER}"
    )
    .parse()
    .unwrap();
    let credentials = dance
        .complete_from_callback(&mut dance_http, pending, &good)
        .await
        .unwrap();
    assert_eq!(credentials.secret().secret(), FINAL_SECRET);
    debug(&mut out, &credentials);
    let failing = Dance::new(
        signer.clone(),
        server.url("/fail").parse().unwrap(),
        server.url("/fail").parse().unwrap(),
    )
    .dangerous_allow_http_loopback();
    let provider_error = failing
        .request_temporary_credentials(&mut dance_http, &Callback::OutOfBand)
        .await
        .unwrap_err();
    error(&mut out, &provider_error);
    let pending = dance
        .request_temporary_credentials(&mut dance_http, &callback)
        .await
        .unwrap();
    let refused = dance
        .request_token_credentials(&mut dance_http, pending, Verifier::new(TEMP_SECRET))
        .await
        .unwrap_err();
    error(&mut out, &refused);

    assert_clean("OAuth 1 Debug/Display output", &out);
    let log = log_text();
    assert!(
        log.contains("authorization\": Sensitive"),
        "the inner TraceLayer did not log the Authorization header as Sensitive"
    );
    assert_clean("TRACE log", &log);
    report("oauth1", &out, &log);
    drop(server);
}
