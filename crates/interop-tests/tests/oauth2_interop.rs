//! tower-oauth2 against the real npm `oidc-provider`, through a real hyper-util client:
//! client credentials with every client authentication method, the authorization code flow
//! with PKCE (redirects followed by hand, callback checked with `iss`), refresh-token
//! rotation, proactive and 401-driven refresh on short-lived tokens, and single-flight
//! refresh under concurrency. Counters from the server's `/test/stats` are the ground truth
//! for how many grants went over the wire.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use common::{blocking, form, get, post_form};
use http::{Request, StatusCode, Uri};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use interop_tests::oidc::{
    BASIC_CLIENT_ID, BASIC_CLIENT_SECRET, BASIC_SPECIAL_CLIENT_ID, BASIC_SPECIAL_CLIENT_SECRET,
    LOOPBACK_REDIRECT_URI, POST_CLIENT_ID, POST_CLIENT_SECRET, PUBLIC_CLIENT_ID, TEST_USER,
};
use interop_tests::{OidcOptions, OidcProvider};
use oauth_core::clock::SystemRandom;
use oauth_core::oauth2::{
    AuthorizationRequest, CallbackError, Client, CodeExchange, Endpoint, ErrorCode, Issuer,
    RedirectUri, RefreshPolicy, Scope, Token, Transport,
};
use oauth_core::secret::ClientSecret;
use serde_json::Value;
use tokio::task::JoinSet;
use tower::{Layer, ServiceExt};
use tower_oauth2::client::GrantClientErrorKind;
use tower_oauth2::store::{CallbackStore, FileStore, TokenStore};
use tower_oauth2::{ErrorKind, GrantClient, OAuth2, OAuth2Layer, TokenErrorKind, TokenSource};

/// Bound for each test as a whole.
const TEST_TIMEOUT: Duration = Duration::from_secs(60);
/// Bound for one call through the layer (a refresh included).
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// Most redirects followed from `/auth` to the redirect URI (the server needs three).
const MAX_HOPS: usize = 10;

type Http = HyperClient<HttpConnector, Full<Bytes>>;
type Api = OAuth2<Http>;

async fn bounded<F: std::future::Future<Output = ()>>(f: F) {
    tokio::time::timeout(TEST_TIMEOUT, f)
        .await
        .expect("test took too long");
}

async fn start(access_token_ttl: Duration) -> OidcProvider {
    let options = OidcOptions::default().access_token_ttl(access_token_ttl);
    blocking(move || OidcProvider::start(options))
        .await
        .unwrap()
}

fn http() -> Http {
    HyperClient::builder(TokioExecutor::new()).build_http()
}

fn loopback_endpoint(url: &str) -> Endpoint {
    Endpoint::with_transport(url, Transport::AllowLoopbackHttp).unwrap()
}

/// A grant client for the provider's token endpoint over its own hyper client (never the
/// API's: no token layer and no redirect layer on the token endpoint).
fn grants(provider: &OidcProvider, client: Client) -> GrantClient<Http> {
    GrantClient::new(
        http(),
        loopback_endpoint(&provider.token_endpoint()),
        client,
    )
    .timeout(CALL_TIMEOUT)
}

fn basic_client() -> Client {
    Client::secret_basic(BASIC_CLIENT_ID, ClientSecret::new(BASIC_CLIENT_SECRET))
}

/// A hyper client wrapped in the token layer for the provider's origin.
fn through_layer(provider: &OidcProvider, source: TokenSource) -> Api {
    OAuth2Layer::dangerous_allow_http_loopback(source, &provider.base_url())
        .unwrap()
        .layer(http())
}

/// `GET /api/resource` through the layer: the status and the JSON body (`Null` if none).
async fn call(api: &Api, url: &str) -> Result<(StatusCode, Value), tower::BoxError> {
    let request = Request::get(url).body(Full::default()).unwrap();
    let response = tokio::time::timeout(CALL_TIMEOUT, api.clone().oneshot(request))
        .await
        .expect("call timed out")?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
}

/// A call that must succeed with 200; returns the resource's JSON.
async fn call_ok(api: &Api, url: &str) -> Value {
    let (status, body) = call(api, url).await.expect("call failed");
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn stats(provider: &OidcProvider) -> Value {
    get(&provider.stats_url(), &[]).await.json()
}

/// A counter from `/test/stats` (absent means zero).
fn stat(stats: &Value, name: &str) -> u64 {
    stats[name].as_u64().unwrap_or(0)
}

/// Resolves a `Location` against the URL it came from (RFC 3986 §5.2, the cases a server
/// sends: absolute, network-path, absolute-path and relative-path references).
fn resolve(base: &str, location: &str) -> String {
    if location.contains("://") {
        return location.to_owned();
    }
    let base: Uri = base.parse().unwrap();
    let scheme = base.scheme_str().unwrap();
    let authority = base.authority().unwrap();
    if let Some(rest) = location.strip_prefix("//") {
        format!("{scheme}://{rest}")
    } else if location.starts_with('/') {
        format!("{scheme}://{authority}{location}")
    } else {
        let dir = &base.path()[..=base.path().rfind('/').unwrap_or(0)];
        format!("{scheme}://{authority}{dir}{location}")
    }
}

/// Follows the provider's redirects from `url` with a plain client (no OAuth layer, no
/// redirect layer, no cookie jar) until one points at `redirect_uri`; returns that URL.
async fn follow_to_redirect_uri(url: &str, redirect_uri: &str) -> String {
    let mut url = url.to_owned();
    for _ in 0..MAX_HOPS {
        let response = get(&url, &[]).await;
        assert!(
            response.status.is_redirection(),
            "{url} answered {}: {}",
            response.status,
            response.body
        );
        let location = resolve(&url, response.header("location").expect("Location"));
        let (target, query) = location.split_once('?').unwrap_or((&location, ""));
        if target == redirect_uri && !query.is_empty() {
            return location;
        }
        url = location;
    }
    panic!("no redirect to {redirect_uri} within {MAX_HOPS} hops");
}

/// Runs the front-channel half of the code flow as oauth-core builds it: the authorization
/// URL (state, PKCE S256, `iss` expected as `expected_issuer`), the provider's redirects, and
/// the checked callback.
async fn authorize(
    provider: &OidcProvider,
    client_id: &str,
    redirect_uri: &str,
    expected_issuer: &str,
) -> Result<CodeExchange, CallbackError> {
    let discovery = get(&provider.discovery_url(), &[]).await.json();
    let iss_supported = discovery["authorization_response_iss_parameter_supported"] == true;
    assert!(iss_supported, "oidc-provider sends iss (RFC 9207)");
    let endpoint = loopback_endpoint(discovery["authorization_endpoint"].as_str().unwrap());
    let redirect = RedirectUri::with_transport(redirect_uri, Transport::AllowLoopbackHttp).unwrap();
    let issuer = Issuer::with_transport(expected_issuer, Transport::AllowLoopbackHttp).unwrap();
    let (url, pending) = AuthorizationRequest::new(&endpoint, client_id, &redirect)
        .scope(Scope::parse("openid api:read"))
        .expect_issuer(issuer, iss_supported)
        .build(&SystemRandom::new())
        .unwrap();
    let callback = follow_to_redirect_uri(&url.to_string(), redirect_uri).await;
    pending.parse_callback(&callback)
}

/// The whole code flow for `interop-basic`: a token with a refresh token.
async fn user_token(provider: &OidcProvider) -> Token {
    let exchange = authorize(
        provider,
        BASIC_CLIENT_ID,
        LOOPBACK_REDIRECT_URI,
        &provider.issuer(),
    )
    .await
    .unwrap();
    let token = grants(provider, basic_client())
        .exchange_code(exchange)
        .await
        .unwrap();
    assert!(token.refresh_token().is_some());
    token
}

/// `client_secret_basic` as a test writes it by hand (RFC 6749 §2.3.1).
fn basic_header(id: &str, secret: &str) -> String {
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", enc(id), enc(secret)))
    )
}

/// Policy for tokens of a few seconds: the default 60 s margin (which becomes half the
/// lifetime), but refreshes may follow each other after 1 s instead of 5 s.
fn short_token_policy() -> RefreshPolicy {
    RefreshPolicy {
        min_interval: Duration::from_secs(1),
        ..RefreshPolicy::default()
    }
}

#[tokio::test(flavor = "multi_thread")]
async fn client_credentials_with_basic_post_and_special_secret_open_the_resource() {
    bounded(async {
        let provider = start(Duration::from_secs(60)).await;
        let resource = provider.resource_url();
        let cases = [
            (basic_client(), BASIC_CLIENT_ID),
            (
                Client::secret_post(POST_CLIENT_ID, ClientSecret::new(POST_CLIENT_SECRET)),
                POST_CLIENT_ID,
            ),
            (
                Client::secret_basic(
                    BASIC_SPECIAL_CLIENT_ID,
                    ClientSecret::new(BASIC_SPECIAL_CLIENT_SECRET),
                ),
                BASIC_SPECIAL_CLIENT_ID,
            ),
        ];
        for (client, client_id) in cases {
            let grants = grants(&provider, client);
            let source = TokenSource::builder()
                .fetcher(grants.client_credentials_fetcher(Some(Scope::parse("api:read"))))
                .build()
                .await
                .unwrap();
            let api = through_layer(&provider, source.clone());
            for _ in 0..2 {
                let me = call_ok(&api, &resource).await;
                assert_eq!(me["client_id"], client_id);
                assert_eq!(me["kind"], "client_credentials");
                assert_eq!(me["scope"], "api:read");
            }
            assert_eq!(source.fetch_count(), 1, "{client_id}: the token is reused");
            let token = source.current().unwrap();
            assert!(token.refresh_token().is_none());
            assert!(token.expires_at().unwrap() > SystemTime::now() + Duration::from_secs(50));
        }
        let stats = stats(&provider).await;
        assert_eq!(stat(&stats, "grant_client_credentials_ok"), 3, "{stats}");
        assert_eq!(stat(&stats, "token_requests"), 3, "{stats}");
        assert_eq!(stat(&stats, "api_resource_ok"), 6, "{stats}");

        // A wrong secret is a configuration error, typed, both from the grant client and
        // through the layer, and is not retried.
        let wrong = grants(
            &provider,
            Client::secret_basic(BASIC_CLIENT_ID, ClientSecret::new("wrong")),
        );
        let error = wrong.client_credentials(None).await.unwrap_err();
        assert_eq!(error.kind(), GrantClientErrorKind::Response);
        assert_eq!(error.oauth_error().unwrap().code, ErrorCode::InvalidClient);
        assert!(!error.is_transient());
        assert_eq!(
            error.into_token_error().kind(),
            TokenErrorKind::Configuration
        );
        let source = TokenSource::builder()
            .fetcher(wrong.client_credentials_fetcher(None))
            .build()
            .await
            .unwrap();
        let api = through_layer(&provider, source);
        for _ in 0..2 {
            let error = call(&api, &resource).await.unwrap_err();
            let error = error.downcast_ref::<tower_oauth2::Error>().unwrap();
            assert_eq!(error.kind(), ErrorKind::NoToken);
            assert_eq!(
                error.token_error().unwrap().kind(),
                TokenErrorKind::Configuration
            );
        }
        let stats = self::stats(&provider).await;
        assert_eq!(stat(&stats, "grant_client_credentials_error"), 2, "{stats}");
        assert_eq!(stat(&stats, "token_requests"), 5, "{stats}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn code_flow_with_pkce_for_public_and_confidential_clients() {
    bounded(async {
        let provider = start(Duration::from_secs(60)).await;
        let issuer = provider.issuer();
        // A native public client may use any loopback port (RFC 8252 §7.3).
        let native_redirect = "http://127.0.0.1:49321/callback";
        let cases = [
            (Client::public(PUBLIC_CLIENT_ID), native_redirect),
            (basic_client(), LOOPBACK_REDIRECT_URI),
            (
                Client::secret_post(POST_CLIENT_ID, ClientSecret::new(POST_CLIENT_SECRET)),
                LOOPBACK_REDIRECT_URI,
            ),
        ];
        for (client, redirect_uri) in cases {
            let client_id = client.id().to_owned();
            let exchange = authorize(&provider, &client_id, redirect_uri, &issuer)
                .await
                .unwrap();
            assert_eq!(exchange.redirect_uri().as_str(), redirect_uri);
            assert!(exchange.pkce_verifier().is_some());
            let grants = grants(&provider, client);
            let token = grants.exchange_code(exchange).await.unwrap();
            assert!(token.refresh_token().is_some(), "{client_id}");
            assert!(token.id_token().is_some(), "{client_id}: openid scope");
            assert!(token.scope().unwrap().contains("api:read"));

            let source = TokenSource::builder()
                .token(token)
                .fetcher(grants.refresh_fetcher())
                .build()
                .await
                .unwrap();
            let api = through_layer(&provider, source.clone());
            let me = call_ok(&api, &provider.resource_url()).await;
            assert_eq!(me["sub"], TEST_USER);
            assert_eq!(me["client_id"], client_id.as_str());
            assert_eq!(me["kind"], "access_token");
            assert_eq!(source.fetch_count(), 0);
        }
        let stats = stats(&provider).await;
        assert_eq!(stat(&stats, "interaction_ok"), 3, "{stats}");
        assert_eq!(stat(&stats, "grant_authorization_code_ok"), 3, "{stats}");
        assert_eq!(stat(&stats, "api_resource_ok"), 3, "{stats}");
    })
    .await;
}

/// RFC 9207 mix-up defence and the CSRF check against real callbacks.
#[tokio::test(flavor = "multi_thread")]
async fn callbacks_from_another_issuer_or_with_another_state_are_refused() {
    bounded(async {
        let provider = start(Duration::from_secs(60)).await;
        // The flow was sent to what the client believes is another server.
        let elsewhere = "http://127.0.0.1:1";
        let refused = authorize(
            &provider,
            PUBLIC_CLIENT_ID,
            LOOPBACK_REDIRECT_URI,
            elsewhere,
        )
        .await
        .unwrap_err();
        assert_eq!(refused, CallbackError::IssuerMismatch);

        // A callback whose state belongs to another flow.
        let discovery = get(&provider.discovery_url(), &[]).await.json();
        let endpoint = loopback_endpoint(discovery["authorization_endpoint"].as_str().unwrap());
        let redirect =
            RedirectUri::with_transport(LOOPBACK_REDIRECT_URI, Transport::AllowLoopbackHttp)
                .unwrap();
        let issuer =
            Issuer::with_transport(&provider.issuer(), Transport::AllowLoopbackHttp).unwrap();
        let random = SystemRandom::new();
        let build = || {
            AuthorizationRequest::new(&endpoint, PUBLIC_CLIENT_ID, &redirect)
                .expect_issuer(issuer.clone(), true)
                .build(&random)
                .unwrap()
        };
        let (url_a, _pending_a) = build();
        let (_url_b, pending_b) = build();
        let callback_a = follow_to_redirect_uri(&url_a.to_string(), LOOPBACK_REDIRECT_URI).await;
        assert_eq!(
            pending_b.parse_callback(&callback_a).unwrap_err(),
            CallbackError::StateMismatch
        );
        let stats = stats(&provider).await;
        assert_eq!(stat(&stats, "token_requests"), 0, "{stats}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_rotates_and_the_used_refresh_token_is_refused() {
    bounded(async {
        let provider = start(Duration::from_secs(60)).await;
        let token1 = user_token(&provider).await;
        let rt1 = token1.refresh_token().unwrap().clone();
        let grants = grants(&provider, basic_client());

        let token2 = grants.refresh(&rt1, None).await.unwrap();
        let rt2 = token2.refresh_token().expect("rotated").clone();
        assert_ne!(rt2.secret(), rt1.secret());
        assert_ne!(
            token2.access_token().secret(),
            token1.access_token().secret()
        );

        // The consumed refresh token: invalid_grant, typed as "authorize again".
        let error = grants.refresh(&rt1, None).await.unwrap_err();
        assert_eq!(error.kind(), GrantClientErrorKind::Response);
        assert_eq!(error.oauth_error().unwrap().code, ErrorCode::InvalidGrant);
        let error = error.into_token_error();
        assert_eq!(error.kind(), TokenErrorKind::Reauthorize);
        assert_eq!(error.error_code(), Some(&ErrorCode::InvalidGrant));
        assert!(error.is_terminal());

        // oidc-provider treats the replay as theft and revokes the grant: the rotated
        // refresh token is dead too.
        let error = grants.refresh(&rt2, None).await.unwrap_err();
        assert_eq!(error.oauth_error().unwrap().code, ErrorCode::InvalidGrant);

        // A source holding the consumed refresh token reports Reauthorize, once: later calls
        // fail the same way without another token request.
        let source = TokenSource::builder()
            .token(token1.with_expires_at(Some(SystemTime::now())))
            .fetcher(grants.refresh_fetcher())
            .build()
            .await
            .unwrap();
        let api = through_layer(&provider, source.clone());
        for _ in 0..3 {
            let error = call(&api, &provider.resource_url()).await.unwrap_err();
            let error = error.downcast_ref::<tower_oauth2::Error>().unwrap();
            assert_eq!(error.kind(), ErrorKind::NoToken);
            assert_eq!(
                error.token_error().unwrap().kind(),
                TokenErrorKind::Reauthorize
            );
        }
        assert_eq!(source.fetch_count(), 1);

        let stats = stats(&provider).await;
        assert_eq!(stat(&stats, "grant_refresh_token_ok"), 1, "{stats}");
        assert_eq!(stat(&stats, "grant_refresh_token_error"), 3, "{stats}");
        assert_eq!(stat(&stats, "token_requests"), 5, "{stats}");
        assert_eq!(stat(&stats, "api_resource_ok"), 0, "{stats}");
    })
    .await;
}

/// The rotated refresh token is in the store before it is used, and a "restarted"
/// application that loads the store can refresh with it.
#[tokio::test(flavor = "multi_thread")]
async fn rotated_refresh_tokens_are_saved_and_work_after_a_restart() {
    bounded(async {
        let provider = start(Duration::from_secs(60)).await;
        let dir = std::env::temp_dir().join(format!(
            "tower-oauth2-interop-{}-{}",
            std::process::id(),
            provider.port()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("token.json");
        let grants = grants(&provider, basic_client());

        let token1 = user_token(&provider).await;
        let source = TokenSource::builder()
            .token(token1.clone())
            .fetcher(grants.refresh_fetcher())
            .store(FileStore::new(&path))
            .build()
            .await
            .unwrap();
        let token2 = source.refresh().await.unwrap();
        let saved = FileStore::new(&path).load().await.unwrap().unwrap();
        assert_eq!(saved.refresh_token(), token2.refresh_token());
        assert_ne!(saved.refresh_token(), token1.refresh_token());
        drop(source);

        let restarted = TokenSource::builder()
            .fetcher(grants.refresh_fetcher())
            .store(FileStore::new(&path))
            .build()
            .await
            .unwrap();
        let api = through_layer(&provider, restarted.clone());
        call_ok(&api, &provider.resource_url()).await;
        let token3 = restarted.refresh().await.unwrap();
        assert_ne!(token3.refresh_token(), token2.refresh_token());
        call_ok(&api, &provider.resource_url()).await;
        let saved = FileStore::new(&path).load().await.unwrap().unwrap();
        assert_eq!(saved.refresh_token(), token3.refresh_token());

        let stats = stats(&provider).await;
        assert_eq!(stat(&stats, "grant_refresh_token_ok"), 2, "{stats}");
        assert_eq!(stat(&stats, "grant_refresh_token_error"), 0, "{stats}");
        assert_eq!(stat(&stats, "api_resource_ok"), 2, "{stats}");
        std::fs::remove_dir_all(&dir).unwrap();
    })
    .await;
}

/// 4-second tokens, default 60 s margin (so the refresh starts at half the lifetime), calls
/// every 100 ms for 5 s: two proactive refreshes, each started once, while every call goes
/// through with a valid token and the server never sees an expired one.
#[tokio::test(flavor = "multi_thread")]
async fn short_tokens_are_refreshed_ahead_of_expiry_once_per_lifetime() {
    bounded(async {
        let provider = start(Duration::from_secs(4)).await;
        let token1 = user_token(&provider).await;
        let saved = Arc::new(Mutex::new(Vec::new()));
        let log = saved.clone();
        let store = CallbackStore::new(move |token: &Token| {
            let rt = token.refresh_token().unwrap().secret().to_owned();
            log.lock().unwrap().push(rt);
            Ok(())
        });
        let source = TokenSource::builder()
            .token(token1.clone())
            .fetcher(grants(&provider, basic_client()).refresh_fetcher())
            .store(store)
            .policy(short_token_policy())
            .build()
            .await
            .unwrap();
        let api = through_layer(&provider, source.clone());
        let resource = provider.resource_url();

        let started = tokio::time::Instant::now();
        let mut calls = 0;
        let mut tokens_seen = Vec::new();
        while started.elapsed() < Duration::from_millis(5000) {
            call_ok(&api, &resource).await;
            calls += 1;
            let current = source.current().unwrap().access_token().secret().to_owned();
            if tokens_seen.last() != Some(&current) {
                tokens_seen.push(current);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        let stats = stats(&provider).await;
        assert_eq!(stat(&stats, "grant_refresh_token_ok"), 2, "{stats}");
        assert_eq!(stat(&stats, "grant_refresh_token_error"), 0, "{stats}");
        assert_eq!(stat(&stats, "api_resource_ok"), calls, "{stats}");
        assert_eq!(stat(&stats, "api_resource_invalid_token"), 0, "{stats}");
        assert_eq!(source.fetch_count(), 2);
        assert_eq!(tokens_seen.len(), 3, "one access token per lifetime");
        let saved = saved.lock().unwrap().clone();
        assert_eq!(saved.len(), 2, "each rotation saved once");
        assert_ne!(saved[0], saved[1]);
        assert!(!saved.contains(&token1.refresh_token().unwrap().secret().to_owned()));
    })
    .await;
}

/// A token whose expiry the client does not know (no `expires_in`) is used until the server
/// rejects it: the 401 `invalid_token` makes the layer refresh once and retry, and the
/// caller sees only the 200.
#[tokio::test(flavor = "multi_thread")]
async fn a_401_on_a_token_the_server_expired_refreshes_once_and_retries() {
    bounded(async {
        let provider = start(Duration::from_secs(2)).await;
        let token = user_token(&provider).await.with_expires_at(None);
        let source = TokenSource::builder()
            .token(token)
            .fetcher(grants(&provider, basic_client()).refresh_fetcher())
            .build()
            .await
            .unwrap();
        let api = through_layer(&provider, source.clone());
        let resource = provider.resource_url();
        call_ok(&api, &resource).await;

        tokio::time::sleep(Duration::from_millis(2100)).await;
        call_ok(&api, &resource).await;
        call_ok(&api, &resource).await;

        let stats = stats(&provider).await;
        assert_eq!(stat(&stats, "api_resource_invalid_token"), 1, "{stats}");
        assert_eq!(stat(&stats, "grant_refresh_token_ok"), 1, "{stats}");
        assert_eq!(stat(&stats, "api_resource_ok"), 3, "{stats}");
        assert_eq!(source.fetch_count(), 1);
    })
    .await;
}

/// Revoking the access token at the provider revokes the whole grant (oidc-provider): the
/// 401 leads to one refresh attempt, which fails with `invalid_grant`, reported as
/// Reauthorize, and nothing is retried after that.
#[tokio::test(flavor = "multi_thread")]
async fn a_401_after_the_grant_was_revoked_is_reported_as_reauthorize() {
    bounded(async {
        let provider = start(Duration::from_secs(60)).await;
        let token = user_token(&provider).await;
        let access = token.access_token().secret().to_owned();
        let source = TokenSource::builder()
            .token(token)
            .fetcher(grants(&provider, basic_client()).refresh_fetcher())
            .build()
            .await
            .unwrap();
        let api = through_layer(&provider, source.clone());
        let resource = provider.resource_url();
        call_ok(&api, &resource).await;

        let auth = basic_header(BASIC_CLIENT_ID, BASIC_CLIENT_SECRET);
        let revoked = post_form(
            &provider.revocation_endpoint(),
            &[("authorization", &auth)],
            form(&[("token", &access), ("token_type_hint", "access_token")]),
        )
        .await;
        assert_eq!(revoked.status, StatusCode::OK, "{revoked:?}");

        for _ in 0..2 {
            let error = call(&api, &resource).await.unwrap_err();
            let error = error.downcast_ref::<tower_oauth2::Error>().unwrap();
            assert_eq!(error.kind(), ErrorKind::NoToken);
            assert_eq!(
                error.token_error().unwrap().kind(),
                TokenErrorKind::Reauthorize
            );
        }
        let stats = stats(&provider).await;
        assert_eq!(stat(&stats, "api_resource_invalid_token"), 1, "{stats}");
        assert_eq!(stat(&stats, "grant_refresh_token_error"), 1, "{stats}");
        assert_eq!(stat(&stats, "token_requests"), 2, "{stats}");
        assert_eq!(source.fetch_count(), 1);
    })
    .await;
}

/// 50 calls at once on an expired token: one refresh grant at the provider, and all 50 are
/// sent with the new token. The same for 50 calls on a client-credentials source with no
/// token yet.
#[tokio::test(flavor = "multi_thread")]
async fn fifty_concurrent_calls_on_an_expired_token_make_one_grant() {
    bounded(async {
        let provider = start(Duration::from_secs(2)).await;
        let token = user_token(&provider).await;
        let expires_at = token.expires_at().unwrap();
        let source = TokenSource::builder()
            .token(token)
            .fetcher(grants(&provider, basic_client()).refresh_fetcher())
            .build()
            .await
            .unwrap();
        let wait = expires_at
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        tokio::time::sleep(wait + Duration::from_millis(100)).await;

        let resource = provider.resource_url();
        let api = through_layer(&provider, source.clone());
        let mut calls = JoinSet::new();
        for _ in 0..50 {
            let (api, resource) = (api.clone(), resource.clone());
            calls.spawn(async move { call_ok(&api, &resource).await });
        }
        let mut exps = Vec::new();
        while let Some(me) = calls.join_next().await {
            exps.push(me.unwrap()["exp"].clone());
        }
        assert!(exps.iter().all(|e| *e == exps[0]), "one token for all");
        let stats = stats(&provider).await;
        assert_eq!(stat(&stats, "grant_refresh_token_ok"), 1, "{stats}");
        assert_eq!(stat(&stats, "api_resource_ok"), 50, "{stats}");
        assert_eq!(stat(&stats, "api_resource_invalid_token"), 0, "{stats}");
        assert_eq!(source.fetch_count(), 1);

        let source = TokenSource::builder()
            .fetcher(grants(&provider, basic_client()).client_credentials_fetcher(None))
            .build()
            .await
            .unwrap();
        let api = through_layer(&provider, source.clone());
        let mut calls = JoinSet::new();
        for _ in 0..50 {
            let (api, resource) = (api.clone(), resource.clone());
            calls.spawn(async move { call_ok(&api, &resource).await });
        }
        while let Some(me) = calls.join_next().await {
            assert_eq!(me.unwrap()["kind"], "client_credentials");
        }
        let stats = self::stats(&provider).await;
        assert_eq!(stat(&stats, "grant_client_credentials_ok"), 1, "{stats}");
        assert_eq!(stat(&stats, "api_resource_ok"), 100, "{stats}");
        assert_eq!(source.fetch_count(), 1);
    })
    .await;
}

/// Two processes share a token file; A rotates the refresh token, then B, still holding the
/// consumed one in memory, must refresh. oidc-provider (like every server with refresh-token
/// reuse detection) revokes the whole grant if B replays the consumed refresh token, so B reads
/// the store before refreshing, sees A's rotation, and builds on A's token instead.
#[tokio::test(flavor = "multi_thread")]
async fn a_second_process_sharing_the_store_does_not_replay_a_rotated_refresh_token() {
    bounded(async {
        let provider = start(Duration::from_secs(60)).await;
        let dir = std::env::temp_dir().join(format!(
            "tower-oauth2-interop-shared-{}-{}",
            std::process::id(),
            provider.port()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("token.json");
        let grants = grants(&provider, basic_client());
        let token = user_token(&provider).await;
        FileStore::new(&path).save(&token).await.unwrap();
        let process = || {
            TokenSource::builder()
                .fetcher(grants.refresh_fetcher())
                .store(FileStore::new(&path))
                .build()
        };
        let (a, b) = (process().await.unwrap(), process().await.unwrap());
        a.refresh().await.unwrap();
        let result = b.refresh().await;
        std::fs::remove_dir_all(&dir).unwrap();
        let stats = stats(&provider).await;
        assert!(result.is_ok(), "{:?} {stats}", result.map(|_| ()));
        assert_eq!(stat(&stats, "grant_refresh_token_error"), 0, "{stats}");
    })
    .await;
}

/// `private_key_jwt` (RFC 7523): oidc-provider verifies our RS256 and ES256 assertions against the
/// client's registered public key, its `aud` (the token endpoint), `iss`/`sub`, `exp` and the
/// single use of its `jti`; a key the server does not know is `invalid_client`.
#[tokio::test(flavor = "multi_thread")]
async fn client_credentials_with_private_key_jwt_open_the_resource() {
    use interop_tests::oidc::{PRIVATE_KEY_JWT_CLIENT_ID, PRIVATE_KEY_JWT_ES256_CLIENT_ID};
    use oauth_core::oauth1::RsaPrivateKey;
    use oauth_core::oauth2::{EcP256PrivateKey, PrivateKeyJwt};

    bounded(async {
        let provider = start(Duration::from_secs(60)).await;
        let resource = provider.resource_url();
        let keys = concat!(env!("CARGO_MANIFEST_DIR"), "/keys");
        let pem = std::fs::read_to_string(format!("{keys}/rsa_private_pkcs8.pem")).unwrap();
        let key = PrivateKeyJwt::rs256(RsaPrivateKey::from_pem(&pem).unwrap())
            .key_id(PRIVATE_KEY_JWT_CLIENT_ID);
        let grants = grants(
            &provider,
            Client::private_key_jwt(PRIVATE_KEY_JWT_CLIENT_ID, key),
        );
        // Two grants, two assertions (the server refuses a jti it has seen).
        for _ in 0..2 {
            let token = grants
                .client_credentials(Some(&Scope::parse("api:read")))
                .await
                .unwrap();
            assert!(token.refresh_token().is_none());
        }
        let source = TokenSource::builder()
            .fetcher(grants.client_credentials_fetcher(Some(Scope::parse("api:read"))))
            .build()
            .await
            .unwrap();
        let me = call_ok(&through_layer(&provider, source), &resource).await;
        assert_eq!(me["client_id"], PRIVATE_KEY_JWT_CLIENT_ID);
        assert_eq!(me["kind"], "client_credentials");

        // ES256, with the P-256 key of the second client.
        let ec = std::fs::read_to_string(format!("{keys}/ec_p256_pkcs8.pem")).unwrap();
        let key = PrivateKeyJwt::es256(EcP256PrivateKey::from_pem(&ec).unwrap())
            .key_id(PRIVATE_KEY_JWT_ES256_CLIENT_ID);
        self::grants(
            &provider,
            Client::private_key_jwt(PRIVATE_KEY_JWT_ES256_CLIENT_ID, key),
        )
        .client_credentials(None)
        .await
        .unwrap();

        // Signed with another key: invalid_client, a configuration error.
        let other = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/../oauth-core/tests/vectors/oauth1/test_rsa_2048_pkcs8.pem"
        ))
        .unwrap();
        let wrong = grants_with_key(&provider, &other);
        let error = wrong.client_credentials(None).await.unwrap_err();
        assert_eq!(error.oauth_error().unwrap().code, ErrorCode::InvalidClient);
        assert_eq!(
            error.into_token_error().kind(),
            TokenErrorKind::Configuration
        );
        let stats = stats(&provider).await;
        assert_eq!(stat(&stats, "grant_client_credentials_ok"), 4, "{stats}");
        assert_eq!(stat(&stats, "grant_client_credentials_error"), 1, "{stats}");
    })
    .await;
}

fn grants_with_key(provider: &OidcProvider, pem: &str) -> GrantClient<Http> {
    use oauth_core::oauth1::RsaPrivateKey;
    use oauth_core::oauth2::PrivateKeyJwt;
    let key = PrivateKeyJwt::rs256(RsaPrivateKey::from_pem(pem).unwrap())
        .key_id(interop_tests::oidc::PRIVATE_KEY_JWT_CLIENT_ID);
    grants(
        provider,
        Client::private_key_jwt(interop_tests::oidc::PRIVATE_KEY_JWT_CLIENT_ID, key),
    )
}

/// RFC 8414 / OpenID Connect Discovery: the metadata oidc-provider publishes is read, its issuer
/// checked byte for byte, and its token endpoint used for a grant; a configured issuer that
/// differs only by a trailing slash, or an issuer the server does not publish, is refused.
#[tokio::test(flavor = "multi_thread")]
async fn discovered_metadata_names_the_issuer_and_its_endpoints_work() {
    use oauth_core::oauth2::{MetadataError, WellKnown};
    use tower_oauth2::client::discover;

    bounded(async {
        let provider = start(Duration::from_secs(60)).await;
        let http = http();
        let issuer =
            Issuer::with_transport(&provider.issuer(), Transport::AllowLoopbackHttp).unwrap();
        let metadata = discover(&http, &issuer, WellKnown::OpenIdConfiguration)
            .await
            .unwrap();
        assert_eq!(metadata.issuer(), &issuer);
        let token_endpoint = metadata.token_endpoint().unwrap().clone();
        assert_eq!(token_endpoint.uri().to_string(), provider.token_endpoint());
        assert_eq!(
            metadata.authorization_endpoint().unwrap().uri().to_string(),
            provider.authorization_endpoint()
        );
        assert!(metadata.supports_pkce_s256());
        assert!(metadata.authorization_response_iss_parameter_supported());
        assert!(
            metadata
                .token_endpoint_auth_methods_supported()
                .iter()
                .any(|m| m == "private_key_jwt")
        );
        let token = GrantClient::new(http.clone(), token_endpoint, basic_client())
            .timeout(CALL_TIMEOUT)
            .client_credentials(None)
            .await
            .unwrap();
        assert!(!token.access_token().secret().is_empty());

        let with_slash = Issuer::with_transport(
            &format!("{}/", provider.issuer()),
            Transport::AllowLoopbackHttp,
        )
        .unwrap();
        let error = discover(&http, &with_slash, WellKnown::OpenIdConfiguration)
            .await
            .unwrap_err();
        assert_eq!(error.metadata_error(), Some(&MetadataError::IssuerMismatch));
        // oidc-provider publishes the RFC 8414 document too, with the same contents.
        let oauth = discover(&http, &issuer, WellKnown::OAuthAuthorizationServer)
            .await
            .unwrap();
        assert_eq!(
            oauth.token_endpoint().unwrap().uri().to_string(),
            provider.token_endpoint()
        );
        let elsewhere = Issuer::with_transport(
            &format!("{}/no-such-tenant", provider.issuer()),
            Transport::AllowLoopbackHttp,
        )
        .unwrap();
        let error = discover(&http, &elsewhere, WellKnown::OpenIdConfiguration)
            .await
            .unwrap_err();
        assert_eq!(
            error.metadata_error(),
            Some(&MetadataError::Status(StatusCode::NOT_FOUND))
        );
        assert!(!error.is_transient());
        assert_eq!(
            error.to_string(),
            "metadata request failed: HTTP status 404 Not Found"
        );
    })
    .await;
}

/// DPoP (RFC 9449) at the token endpoint: the grant client's first proof is answered with
/// `use_dpop_nonce` and a nonce, it sends the request once more with it, and the token comes
/// back bound to our key (token type `DPoP`, `cnf.jkt` = our JWK thumbprint, per
/// introspection); the next grant reuses the nonce at once.
#[tokio::test(flavor = "multi_thread")]
async fn dpop_bound_tokens_after_one_nonce_round_trip() {
    use oauth_core::oauth2::{DpopKey, EcP256PrivateKey, TokenType};

    bounded(async {
        let provider = start(Duration::from_secs(60)).await;
        let pem = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/keys/ec_p256_pkcs8.pem"
        ))
        .unwrap();
        let key = DpopKey::es256(EcP256PrivateKey::from_pem(&pem).unwrap());
        let grants = grants(&provider, basic_client()).dpop(key.clone());
        let token = grants.client_credentials(None).await.unwrap();
        assert_eq!(token.token_type(), &TokenType::DPoP);
        assert_eq!(stat(&stats(&provider).await, "token_requests"), 2);

        let auth = basic_header(BASIC_CLIENT_ID, BASIC_CLIENT_SECRET);
        let introspection = post_form(
            &provider.introspection_endpoint(),
            &[("authorization", &auth)],
            form(&[("token", token.access_token().secret())]),
        )
        .await;
        let introspection = introspection.json();
        assert_eq!(introspection["active"], true, "{introspection}");
        assert_eq!(introspection["token_type"], "DPoP", "{introspection}");
        assert_eq!(
            introspection["cnf"]["jkt"],
            key.thumbprint(),
            "{introspection}"
        );

        // The nonce is remembered: one request this time.
        let again = grants.client_credentials(None).await.unwrap();
        assert_eq!(again.token_type(), &TokenType::DPoP);
        assert_eq!(stat(&stats(&provider).await, "token_requests"), 3);
    })
    .await;
}
