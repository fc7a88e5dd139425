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
use common::api::{
    Api, CALL_TIMEOUT, Http, Server as _, bounded, call, http, loopback_endpoint,
    short_token_policy, stat, stats, through_layer,
};
use common::code_flow::{self, authorize, authorize_with, follow_to_redirect_uri};
use common::scenarios::{self, grants, user_token};
use common::{assert_oauth_error, form, get, post_form};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use interop_tests::OidcProvider;
use interop_tests::oidc::{
    BASIC_CLIENT_ID, BASIC_CLIENT_SECRET, LOOPBACK_REDIRECT_URI, POST_CLIENT_ID, PUBLIC_CLIENT_ID,
    TEST_USER,
};
use oauth_core::oauth2::{
    AuthorizationRequest, CallbackError, Client, ErrorCode, Issuer, RedirectUri, Scope, Token,
    Transport, UserInfoError, parse_userinfo,
};
use oauth_core::secret::ClientSecret;
use serde_json::Value;
use tokio::task::JoinSet;
use tower::ServiceExt;
use tower_oauth2::store::{CallbackStore, FileStore, TokenStore};
use tower_oauth2::{ErrorKind, GrantClient, TokenErrorKind, TokenSource};

async fn start(access_token_ttl: Duration) -> OidcProvider {
    OidcProvider::start_with_token_lifetime(access_token_ttl).await
}

fn basic_client() -> Client {
    scenarios::basic_client::<OidcProvider>()
}

/// A call that must succeed with 200; returns the resource's JSON.
async fn call_ok(api: &Api, url: &str) -> Value {
    let (status, body) = call(api, url).await.expect("call failed");
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// `client_secret_basic` as a test writes it by hand (RFC 6749 §2.3.1).
fn basic_header(id: &str, secret: &str) -> String {
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", enc(id), enc(secret)))
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn client_credentials_with_basic_post_and_special_secret_open_the_resource() {
    bounded(async {
        let provider = start(Duration::from_secs(60)).await;
        scenarios::client_credentials_open_the_resource(&provider, Duration::from_secs(60)).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn code_flow_with_pkce_for_public_and_confidential_clients() {
    bounded(async {
        let provider = start(Duration::from_secs(60)).await;
        scenarios::code_flow_with_pkce(&provider, Duration::from_secs(60)).await;
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

        // A callback whose state belongs to another flow; no token request.
        scenarios::a_callback_with_another_flows_state_is_refused(&provider).await;
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_rotates_and_the_used_refresh_token_is_refused() {
    bounded(async {
        let provider = start(Duration::from_secs(60)).await;
        let (token1, token2) = scenarios::refresh_rotates(&provider).await;
        let rt2 = token2.refresh_token().unwrap().clone();
        let grants = grants(&provider, basic_client());

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
        let started = tokio::time::Instant::now();
        let tokens_seen =
            scenarios::calls_while_refreshed_ahead_of_expiry(&provider, &source, |_| {
                started.elapsed() >= Duration::from_millis(5000)
            })
            .await;

        assert_eq!(source.fetch_count(), 2);
        assert_eq!(tokens_seen.len(), 3, "one access token per lifetime");
        let saved = saved.lock().unwrap().clone();
        assert_eq!(saved.len(), 2, "each rotation saved once");
        assert_ne!(saved[0], saved[1]);
        assert!(!saved.contains(&token1.refresh_token().unwrap().secret().to_owned()));
    })
    .await;
}

/// 4-second tokens shared through a `FileStore` by two processes' token sources: one refreshes
/// (it has a fetcher), the other follows the file (a store and no fetcher, a worker). Both
/// call the resource every 100 ms for 6 s: the worker takes up each rotated token from the
/// file in time, never sends an expired one, and never asks the token endpoint for anything.
#[tokio::test(flavor = "multi_thread")]
async fn a_worker_with_no_fetcher_follows_the_file_store_the_refresher_rotates() {
    bounded(async {
        let provider = start(Duration::from_secs(4)).await;
        let dir = std::env::temp_dir().join(format!(
            "tower-oauth2-interop-follow-{}-{}",
            std::process::id(),
            provider.port()
        ));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("token.json");
        let refresher = TokenSource::builder()
            .token(user_token(&provider).await)
            .fetcher(grants(&provider, basic_client()).refresh_fetcher())
            .store(FileStore::new(&path))
            .policy(short_token_policy())
            .build()
            .await
            .unwrap();
        let worker = TokenSource::builder()
            .store(FileStore::new(&path))
            .policy(short_token_policy())
            .build()
            .await
            .unwrap();
        let refresher_api = through_layer(&provider, refresher.clone());
        let worker_api = through_layer(&provider, worker.clone());
        let resource = provider.resource_url();

        let started = tokio::time::Instant::now();
        let mut calls = 0;
        let mut worker_tokens = Vec::new();
        while started.elapsed() < Duration::from_millis(6000) {
            call_ok(&refresher_api, &resource).await;
            call_ok(&worker_api, &resource).await;
            calls += 2;
            let current = worker.current().unwrap().access_token().secret().to_owned();
            if worker_tokens.last() != Some(&current) {
                worker_tokens.push(current);
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }

        let stats = stats(&provider).await;
        let refreshes = stat(&stats, "grant_refresh_token_ok");
        assert_eq!(refreshes, refresher.fetch_count(), "{stats}");
        assert!(refreshes >= 2, "{stats}");
        assert_eq!(stat(&stats, "grant_refresh_token_error"), 0, "{stats}");
        assert_eq!(stat(&stats, "api_resource_ok"), calls, "{stats}");
        assert_eq!(stat(&stats, "api_resource_invalid_token"), 0, "{stats}");
        assert!(
            worker_tokens.len() as u64 > refreshes,
            "the worker moved on to each rotated token: {} tokens, {refreshes} refreshes",
            worker_tokens.len()
        );
        assert!(!worker.has_unsaved_token());
        std::fs::remove_dir_all(&dir).unwrap();
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
        scenarios::a_401_on_a_token_the_server_expired_refreshes_once(
            &provider,
            Duration::from_secs(2),
        )
        .await;
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
        scenarios::a_401_on_a_revoked_access_token_refreshes_once(&provider).await;
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
        assert_client_refused(&provider, &grants_with_key(&provider, &other), 4).await;
    })
    .await;
}

/// `grants`' client-credentials request is refused as `invalid_client`, a configuration error,
/// after `granted` successful grants and no other refusal (the server's counters).
async fn assert_client_refused(provider: &OidcProvider, grants: &GrantClient<Http>, granted: u64) {
    let error = grants.client_credentials(None).await.unwrap_err();
    assert_eq!(error.oauth_error().unwrap().code, ErrorCode::InvalidClient);
    assert_eq!(
        error.into_token_error().kind(),
        TokenErrorKind::Configuration
    );
    let stats = stats(provider).await;
    assert_eq!(
        stat(&stats, "grant_client_credentials_ok"),
        granted,
        "{stats}"
    );
    assert_eq!(stat(&stats, "grant_client_credentials_error"), 1, "{stats}");
}

/// `client_secret_jwt` (OpenID Connect Core §9): oidc-provider checks our HS256 assertions
/// with the client's secret (which is never sent), at the token endpoint and, with the token
/// endpoint as audience, at the revocation endpoint; a wrong secret is `invalid_client`.
#[tokio::test(flavor = "multi_thread")]
async fn client_credentials_with_client_secret_jwt_open_the_resource() {
    use interop_tests::oidc::{CLIENT_SECRET_JWT_CLIENT_ID, CLIENT_SECRET_JWT_SECRET};
    use oauth_core::oauth2::ClientSecretJwt;

    bounded(async {
        let provider = start(Duration::from_secs(60)).await;
        let client = |secret: &str| {
            Client::client_secret_jwt(
                CLIENT_SECRET_JWT_CLIENT_ID,
                ClientSecretJwt::new(ClientSecret::new(secret)),
            )
        };
        let grants = grants(&provider, client(CLIENT_SECRET_JWT_SECRET));
        // Two grants, two assertions (the server refuses a jti it has seen).
        for _ in 0..2 {
            grants.client_credentials(None).await.unwrap();
        }
        let token = grants
            .client_credentials(Some(&Scope::parse("api:read")))
            .await
            .unwrap();
        let source = TokenSource::builder()
            .token(token.clone())
            .fetcher(grants.client_credentials_fetcher(Some(Scope::parse("api:read"))))
            .build()
            .await
            .unwrap();
        let me = call_ok(&through_layer(&provider, source), &provider.resource_url()).await;
        assert_eq!(me["client_id"], CLIENT_SECRET_JWT_CLIENT_ID);
        // The revocation endpoint authenticates the client the same way.
        let metadata = code_flow::metadata(&provider).await;
        grants
            .revoke(metadata.revocation_endpoint().unwrap(), &token)
            .await
            .unwrap();

        // MACed with another secret: invalid_client, a configuration error.
        let wrong = self::grants(&provider, client(&CLIENT_SECRET_JWT_SECRET.to_uppercase()));
        assert_client_refused(&provider, &wrong, 3).await;
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
        let metadata =
            scenarios::discovered_metadata_names_the_issuer_and_its_endpoints(&provider).await;
        let issuer =
            Issuer::with_transport(&provider.issuer(), Transport::AllowLoopbackHttp).unwrap();
        let token_endpoint = metadata.token_endpoint().unwrap().clone();
        assert_eq!(token_endpoint.uri().to_string(), provider.token_endpoint());
        let dpop_key = dpop_key();
        assert!(
            !metadata.dpop_signing_alg_values_supported().is_empty()
                && metadata.accepts_dpop_key(&dpop_key),
            "oidc-provider lists ES256 for DPoP"
        );
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
        assert!(matches!(
            error.metadata_error(),
            Some(MetadataError::IssuerMismatch { found: Some(found), .. }) if *found == provider.issuer()
        ));
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

/// The test DPoP key (ES256), from `keys/`.
fn dpop_key() -> oauth_core::oauth2::DpopKey {
    let pem = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/keys/ec_p256_pkcs8.pem"
    ))
    .unwrap();
    oauth_core::oauth2::DpopKey::es256(
        oauth_core::oauth2::EcP256PrivateKey::from_pem(&pem).unwrap(),
    )
}

/// DPoP (RFC 9449) at the token endpoint: the grant client's first proof is answered with
/// `use_dpop_nonce` and a nonce, it sends the request once more with it, and the token comes
/// back bound to our key (token type `DPoP`, `cnf.jkt` = our JWK thumbprint, per
/// introspection); the next grant reuses the nonce at once. A `private_key_jwt` client's
/// retry carries a new assertion.
#[tokio::test(flavor = "multi_thread")]
async fn dpop_bound_tokens_after_one_nonce_round_trip() {
    use oauth_core::oauth2::TokenType;

    bounded(async {
        let provider = start(Duration::from_secs(60)).await;
        let key = dpop_key();
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

        // A `private_key_jwt` client (ES256) with a new grant client, so no nonce yet: the
        // server refuses an assertion `jti` it has seen, so the try after `use_dpop_nonce`
        // must carry a new assertion (a copy of the first was `invalid_client`).
        let pem = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/keys/ec_p256_pkcs8.pem"
        ))
        .unwrap();
        let assertion_key = oauth_core::oauth2::PrivateKeyJwt::es256(
            oauth_core::oauth2::EcP256PrivateKey::from_pem(&pem).unwrap(),
        )
        .key_id(interop_tests::oidc::PRIVATE_KEY_JWT_ES256_CLIENT_ID);
        let client = Client::private_key_jwt(
            interop_tests::oidc::PRIVATE_KEY_JWT_ES256_CLIENT_ID,
            assertion_key,
        );
        let token = self::grants(&provider, client)
            .dpop(key.clone())
            .client_credentials(None)
            .await
            .unwrap();
        assert_eq!(token.token_type(), &TokenType::DPoP);
        let stats = stats(&provider).await;
        assert_eq!(stat(&stats, "token_requests"), 5, "{stats}");
    })
    .await;
}

/// DPoP-bound tokens at a real resource server: oidc-provider's userinfo endpoint verifies
/// each proof (signature, `htm`, `htu`, `ath`, its own nonce, and the key the token is bound
/// to). The layer's first request is answered `use_dpop_nonce` (a resource server nonce is
/// never taken from the token endpoint), the retry succeeds, and later requests carry the
/// nonce at once. When the token expires, the layer refreshes it with the same key (the
/// refresh token is bound to it too) and sends a proof for the new token.
#[tokio::test(flavor = "multi_thread")]
async fn dpop_bound_tokens_open_userinfo_through_the_layer() {
    use oauth_core::oauth2::TokenType;

    bounded(async {
        let provider = start(Duration::from_secs(2)).await;
        let key = dpop_key();
        // The code is bound to the key too (dpop_jkt, RFC 9449 §10), and the token.
        let (grants, token) = code_flow::dpop_bound_token(&provider, &key).await;
        let first_access_token = token.access_token().secret().to_owned();
        let source = TokenSource::builder()
            .token(token)
            .policy(short_token_policy())
            .fetcher(grants.refresh_fetcher())
            .build()
            .await
            .unwrap();
        assert!(
            source.dpop_key().is_some(),
            "the key comes with the fetcher"
        );
        let api = through_layer(&provider, source.clone());
        let discovery = get(&provider.discovery_url(), &[]).await.json();
        let userinfo = discovery["userinfo_endpoint"].as_str().unwrap().to_owned();

        let body = call_ok(&api, &userinfo).await;
        assert_eq!(body["sub"], TEST_USER, "{body}");
        let counts = stats(&provider).await;
        assert_eq!(
            stat(&counts, "userinfo_401"),
            1,
            "one use_dpop_nonce: {counts}"
        );
        assert_eq!(stat(&counts, "userinfo_200"), 1, "{counts}");

        call_ok(&api, &userinfo).await;
        let counts = stats(&provider).await;
        assert_eq!(
            stat(&counts, "userinfo_401"),
            1,
            "the nonce was kept: {counts}"
        );
        assert_eq!(stat(&counts, "userinfo_200"), 2, "{counts}");

        tokio::time::sleep(Duration::from_millis(2100)).await;
        let body = call_ok(&api, &userinfo).await;
        assert_eq!(body["sub"], TEST_USER, "{body}");
        let counts = stats(&provider).await;
        // At least one refresh: a slow machine may also have refreshed ahead of expiry (the
        // margin is half the 2 s lifetime) before the token expired.
        assert!(stat(&counts, "grant_refresh_token_ok") >= 1, "{counts}");
        assert_eq!(stat(&counts, "userinfo_200"), 3, "{counts}");
        assert_eq!(stat(&counts, "userinfo_401"), 1, "{counts}");
        assert!(source.fetch_count() >= 1);
        let refreshed = source.current().unwrap();
        assert_eq!(refreshed.token_type(), &TokenType::DPoP);
        assert_ne!(refreshed.access_token().secret(), first_access_token);
        assert_eq!(refreshed.dpop_jkt(), Some(key.thumbprint().as_str()));
    })
    .await;
}

/// A DPoP token whose expiry the client does not know is used until userinfo refuses it
/// (`401`, `WWW-Authenticate: DPoP error="invalid_token"`): the layer refreshes it once
/// (with a proof, keeping the binding) and sends the request again with the new token and a
/// new proof; the caller sees the 200.
#[tokio::test(flavor = "multi_thread")]
async fn a_dpop_token_userinfo_refuses_is_refreshed_once_and_the_request_sent_again() {
    use oauth_core::oauth2::TokenType;

    bounded(async {
        let provider = start(Duration::from_secs(2)).await;
        let key = dpop_key();
        let grants = grants(&provider, basic_client()).dpop(key.clone());
        let exchange = authorize_with(
            &provider,
            BASIC_CLIENT_ID,
            LOOPBACK_REDIRECT_URI,
            &provider.issuer(),
            |request| request,
        )
        .await
        .unwrap();
        let token = grants.exchange_code(exchange).await.unwrap();
        assert_eq!(token.token_type(), &TokenType::DPoP);
        let first_access_token = token.access_token().secret().to_owned();
        let source = TokenSource::builder()
            .token(token.with_expires_at(None))
            .fetcher(grants.refresh_fetcher())
            .build()
            .await
            .unwrap();
        let api = through_layer(&provider, source.clone());
        let discovery = get(&provider.discovery_url(), &[]).await.json();
        let userinfo = discovery["userinfo_endpoint"].as_str().unwrap().to_owned();
        call_ok(&api, &userinfo).await;
        let before = stats(&provider).await;
        assert_eq!(stat(&before, "userinfo_401"), 1, "the nonce: {before}");

        tokio::time::sleep(Duration::from_millis(2100)).await;
        let body = call_ok(&api, &userinfo).await;
        assert_eq!(body["sub"], TEST_USER, "{body}");
        let after = stats(&provider).await;
        assert_eq!(
            stat(&after, "userinfo_401"),
            2,
            "one invalid_token: {after}"
        );
        assert_eq!(stat(&after, "userinfo_200"), 2, "{after}");
        assert_eq!(stat(&after, "grant_refresh_token_ok"), 1, "{after}");
        assert_eq!(source.fetch_count(), 1);
        let refreshed = source.current().unwrap();
        assert_eq!(refreshed.token_type(), &TokenType::DPoP);
        assert_eq!(refreshed.dpop_jkt(), Some(key.thumbprint().as_str()));
        assert_ne!(refreshed.access_token().secret(), first_access_token);
    })
    .await;
}

/// Token revocation (RFC 7009) and introspection (RFC 7662) at oidc-provider: a revoked
/// access token is refused by the resource and introspects as inactive; an active one
/// introspects with its client, subject, type, scope and expiry; revoking a user's token (its
/// refresh token) ends the grant, so its access token goes inactive and the refresh token no
/// longer refreshes; an unknown token is revoked "successfully" (§2.2);
/// a client with the wrong secret is refused.
#[tokio::test(flavor = "multi_thread")]
async fn revoked_tokens_are_refused_and_introspect_inactive() {
    bounded(async {
        let provider = start(Duration::from_secs(60)).await;
        scenarios::revoked_tokens_are_refused_and_introspect_inactive(&provider).await;
        let revocation = loopback_endpoint(&provider.revocation_endpoint());
        let introspection = loopback_endpoint(&provider.introspection_endpoint());

        // A private_key_jwt client authenticates at the revocation and introspection endpoints
        // too (its assertion's audience stays the token endpoint).
        let pem = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/keys/rsa_private_pkcs8.pem"
        ))
        .unwrap();
        let pkjwt = grants_with_key(&provider, &pem);
        let own = pkjwt.client_credentials(None).await.unwrap();
        let info = pkjwt
            .introspect(&introspection, own.access_token())
            .await
            .unwrap();
        assert!(info.active(), "{info:?}");
        pkjwt
            .revoke_access_token(&revocation, own.access_token())
            .await
            .unwrap();
        let info = pkjwt
            .introspect(&introspection, own.access_token())
            .await
            .unwrap();
        assert!(!info.active(), "{info:?}");
    })
    .await;
}

/// A refresh token kept on its own (a database column, with no access token beside it) is
/// introspected and revoked as itself (RFC 7662 and RFC 7009 with
/// `token_type_hint=refresh_token`): active with its client and subject before, inactive
/// after, the grant's access token ended with it, and it no longer refreshes.
#[tokio::test(flavor = "multi_thread")]
async fn a_refresh_token_alone_is_introspected_and_revoked() {
    bounded(async {
        let provider = start(Duration::from_secs(60)).await;
        let grants = grants(&provider, basic_client());
        let revocation = loopback_endpoint(&provider.revocation_endpoint());
        let introspection = loopback_endpoint(&provider.introspection_endpoint());

        let token = user_token(&provider).await;
        let refresh_token = token.refresh_token().unwrap().clone();
        let info = grants
            .introspect_refresh_token(&introspection, &refresh_token)
            .await
            .unwrap();
        assert!(info.active(), "{info:?}");
        assert_eq!(info.client_id(), Some(BASIC_CLIENT_ID));
        assert_eq!(info.sub(), Some(TEST_USER));

        grants
            .revoke_refresh_token(&revocation, &refresh_token)
            .await
            .unwrap();
        let info = grants
            .introspect_refresh_token(&introspection, &refresh_token)
            .await
            .unwrap();
        assert!(!info.active(), "revoked: {info:?}");
        let info = grants
            .introspect(&introspection, token.access_token())
            .await
            .unwrap();
        assert!(!info.active(), "the grant ended with it: {info:?}");
        let error = grants.refresh(&refresh_token, None).await.unwrap_err();
        assert_oauth_error(&error, "invalid_grant");
    })
    .await;
}

/// Pushed authorization requests (RFC 9126) at oidc-provider: the parameters go to the PAR
/// endpoint named in discovery (authenticated like a token request), the browser URL carries
/// only `client_id` and `request_uri`, and the flow completes with the usual callback checks
/// and code exchange; for a confidential and a public client. A wrong secret is refused at
/// the PAR endpoint, before any user interaction.
#[tokio::test(flavor = "multi_thread")]
async fn pushed_authorization_requests_complete_the_code_flow() {
    bounded(async {
        let provider = start(Duration::from_secs(60)).await;
        let issuer = code_flow::issuer(&provider);
        let metadata = code_flow::metadata(&provider).await;
        let par = metadata
            .pushed_authorization_request_endpoint()
            .unwrap()
            .clone();
        let authorize = metadata.authorization_endpoint().unwrap().clone();
        let redirect =
            RedirectUri::with_transport(LOOPBACK_REDIRECT_URI, Transport::AllowLoopbackHttp)
                .unwrap();
        for (client, grants) in [
            (BASIC_CLIENT_ID, grants(&provider, basic_client())),
            (
                PUBLIC_CLIENT_ID,
                grants(&provider, Client::public(PUBLIC_CLIENT_ID)),
            ),
        ] {
            let request = AuthorizationRequest::new(&authorize, client, &redirect)
                .scope(Scope::parse("openid api:read"))
                .expect_issuer(issuer.clone(), true);
            let (url, pending) = grants.push_authorization(request, &par).await.unwrap();
            let query: Vec<String> = url
                .query()
                .unwrap()
                .split('&')
                .map(|p| p.split('=').next().unwrap().to_owned())
                .collect();
            assert_eq!(query, ["client_id", "request_uri"], "{url}");
            let callback = follow_to_redirect_uri(&url.to_string(), LOOPBACK_REDIRECT_URI).await;
            let exchange = pending.parse_callback(&callback).unwrap();
            let token = grants.exchange_code(exchange).await.unwrap();
            assert!(token.refresh_token().is_some(), "{client}");
        }

        let impostor = GrantClient::new(
            http(),
            loopback_endpoint(&provider.token_endpoint()),
            Client::secret_basic(BASIC_CLIENT_ID, ClientSecret::new("wrong")),
        );
        let request = AuthorizationRequest::new(&authorize, BASIC_CLIENT_ID, &redirect)
            .scope(Scope::parse("openid"));
        let error = impostor
            .push_authorization(request, &par)
            .await
            .unwrap_err();
        assert_oauth_error(&error, "invalid_client");
    })
    .await;
}

/// The device authorization grant (RFC 8628) at oidc-provider, for the public client: the
/// codes come from the endpoint named in discovery, the client polls at the default 5 s
/// interval, gets `authorization_pending` until the user approves (the test server's
/// `/test/device` records the decision the user-code page would), then the token; a denied
/// request ends with `access_denied`. Both flows run at once.
#[tokio::test(flavor = "multi_thread")]
async fn device_flow_polls_until_the_user_decides() {
    bounded(async {
        let provider = start(Duration::from_secs(60)).await;
        let token = scenarios::device_flow_polls_until_the_user_decides(&provider).await;
        assert!(token.refresh_token().is_some());
    })
    .await;
}

/// The code flow's last step in one call (`IdTokenValidator::exchange_code`): the nonce and the
/// `max_age` the authorization request sent are carried from the exchange to the ID token
/// check by the library, against oidc-provider's real ID token (its `auth_time` passes). The
/// provider's UserInfo answer is then read for that ID token's `sub`.
#[tokio::test(flavor = "multi_thread")]
async fn exchange_code_with_the_validator_checks_the_nonce_it_carries() {
    use tower_oauth2::client::IdTokenValidator;

    bounded(async {
        let provider = start(Duration::from_secs(60)).await;
        let metadata = code_flow::metadata(&provider).await;
        let exchange = authorize_with(
            &provider,
            BASIC_CLIENT_ID,
            LOOPBACK_REDIRECT_URI,
            &provider.issuer(),
            |request| request.oidc_nonce().max_age(Duration::from_secs(300)),
        )
        .await
        .unwrap();
        let nonce = exchange.nonce().unwrap().to_owned();
        assert_eq!(exchange.max_age(), Some(Duration::from_secs(300)));
        let validator =
            IdTokenValidator::from_metadata(http(), &metadata, BASIC_CLIENT_ID).unwrap();
        // The max_age the flow carries is checked too: the provider's auth_time (added for
        // it) is the sign-in just made.
        let (token, claims) = validator
            .exchange_code(&grants(&provider, basic_client()), exchange)
            .await
            .unwrap();
        assert_eq!(claims.nonce(), Some(nonce.as_str()));
        assert!(
            claims.auth_time().is_some(),
            "max_age makes auth_time required"
        );
        assert_eq!(claims.sub(), TEST_USER);
        assert!(token.id_token().is_some());

        // UserInfo through the layer, held to the ID token's `sub` (OpenID Connect Core
        // §5.3.2): the provider's answer is taken for this user and refused for another.
        let source = TokenSource::builder().token(token).build().await.unwrap();
        let api = through_layer(&provider, source);
        let userinfo = metadata.userinfo_endpoint().unwrap().to_string();
        let request = Request::get(&userinfo).body(Full::default()).unwrap();
        let response = tokio::time::timeout(CALL_TIMEOUT, api.oneshot(request))
            .await
            .expect("userinfo timed out")
            .unwrap();
        let (parts, body) = response.into_parts();
        let body = body.collect().await.unwrap().to_bytes();
        let info = parse_userinfo(parts.status, &parts.headers, &body, claims.sub()).unwrap();
        assert_eq!(info.sub(), TEST_USER);
        assert_eq!(
            parse_userinfo(parts.status, &parts.headers, &body, "another-user").unwrap_err(),
            UserInfoError::SubjectMismatch
        );
    })
    .await;
}

/// OpenID Connect: the ID token oidc-provider issues with a code (RS256, signed with a key
/// generated per run) verifies with its JWK set fetched from the `jwks_uri` in discovery:
/// issuer, audience, expiry and the authorization request's nonce; the request's `max_age`
/// against the `auth_time` the provider adds for it. The same token checked with another
/// nonce, or for another client, is refused. (oidc-provider puts `at_hash` only in ID tokens
/// from the authorization endpoint, so `validate_token`'s access token check is pinned by the
/// OpenID Connect Core example in oauth-core.)
#[tokio::test(flavor = "multi_thread")]
async fn id_tokens_verify_with_the_providers_published_keys() {
    use oauth_core::oauth2::oidc::IdTokenError;
    use tower_oauth2::client::{IdTokenValidationError, IdTokenValidator};

    bounded(async {
        let provider = start(Duration::from_secs(60)).await;
        let metadata = code_flow::metadata(&provider).await;
        let exchange = authorize_with(
            &provider,
            BASIC_CLIENT_ID,
            LOOPBACK_REDIRECT_URI,
            &provider.issuer(),
            |request| request.oidc_nonce().param("max_age", "300"),
        )
        .await
        .unwrap();
        let nonce = exchange.nonce().unwrap().to_owned();
        let token = grants(&provider, basic_client())
            .exchange_code(exchange)
            .await
            .unwrap();
        let id_token = token.id_token().unwrap();

        let validator =
            IdTokenValidator::from_metadata(http(), &metadata, BASIC_CLIENT_ID).unwrap();
        let claims = validator
            .validate_token(&token, Some(&nonce))
            .await
            .unwrap();
        assert_eq!(claims.sub(), TEST_USER);
        assert_eq!(claims.aud(), [BASIC_CLIENT_ID]);
        assert_eq!(claims.nonce(), Some(nonce.as_str()));
        assert_eq!(claims.algorithm(), "RS256");
        assert!(claims.expires_at() > SystemTime::now());
        // max_age=300: the user signed in just now; ten minutes on, that is too old.
        let max_age = Duration::from_secs(300);
        let verifier = validator.verifier();
        assert!(
            claims.auth_time().is_some(),
            "max_age makes auth_time required"
        );
        verifier
            .check_max_age(&claims, max_age, SystemTime::now())
            .unwrap();
        assert_eq!(
            verifier.check_max_age(
                &claims,
                max_age,
                SystemTime::now() + Duration::from_secs(600)
            ),
            Err(IdTokenError::AuthenticationTooOld)
        );

        let refused = validator.validate(id_token, Some("another-nonce")).await;
        assert!(matches!(
            refused,
            Err(IdTokenValidationError::Invalid(IdTokenError::NonceMismatch))
        ));
        let other_client =
            IdTokenValidator::from_metadata(http(), &metadata, POST_CLIENT_ID).unwrap();
        let refused = other_client.validate(id_token, Some(&nonce)).await;
        assert!(matches!(
            refused,
            Err(IdTokenValidationError::Invalid(
                IdTokenError::AudienceMismatch
            ))
        ));
    })
    .await;
}
