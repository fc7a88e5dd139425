//! tower-oauth2 against a second, independent authorization server: Python oauthlib's OAuth 2
//! endpoints (`oauthlib_provider/oauth2.py`, served by the OAuth 1 provider's process), through a
//! real hyper-util client: the resource owner password grant (with the `legacy` feature), client
//! credentials with `client_secret_basic`, `client_secret_post` and a secret that needs RFC 6749
//! §2.3.1's form-encoding, the authorization code flow with PKCE S256, refresh-token rotation,
//! the token layer's proactive and 401-driven refresh, revocation and introspection, RFC 8414
//! discovery and the device flow. The server's `/test/stats` counters are the ground truth for
//! what went over the wire.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use bytes::Bytes;
use common::{assert_oauth_error, blocking, error_chain_text, get};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use interop_tests::oauthlib2::{
    BASIC_CLIENT_ID, BASIC_CLIENT_SECRET, POST_CLIENT_ID, POST_CLIENT_SECRET, SPECIAL_CLIENT_ID,
    SPECIAL_CLIENT_SECRET, USER,
};
use interop_tests::{OauthlibConfig, OauthlibProvider};
use oauth_core::oauth2::{Client, Endpoint, ErrorCode, Scope, Transport};
use oauth_core::secret::ClientSecret;
use serde_json::Value;
use tower::{Layer, ServiceExt};
use tower_oauth2::client::GrantClientErrorKind;
use tower_oauth2::{GrantClient, OAuth2, OAuth2Layer, TokenErrorKind, TokenSource};

/// Bound for each test as a whole.
const TEST_TIMEOUT: Duration = Duration::from_secs(120);
// A server that does not start is reported by the harness with its log (after at most
// READY_TIMEOUT), not cut short by the test's own bound.
const _: () = assert!(TEST_TIMEOUT.as_secs() >= interop_tests::READY_TIMEOUT.as_secs() + 30);
/// Bound for one call through the layer (a refresh included).
const CALL_TIMEOUT: Duration = Duration::from_secs(10);
/// The default access-token lifetime for tests that do not need short tokens.
const HOUR: u64 = 3600;

type Http = HyperClient<HttpConnector, Full<Bytes>>;
type Api = OAuth2<Http>;

/// Runs `f` within [`TEST_TIMEOUT`]. Installing the servers' packages comes first and is
/// not counted (pip can take longer than a test on a fresh checkout).
async fn bounded<F: std::future::Future<Output = ()>>(f: F) {
    blocking(interop_tests::ensure_installed)
        .await
        .expect("installing the interop test servers");
    tokio::time::timeout(TEST_TIMEOUT, f)
        .await
        .expect("test took too long");
}

/// The provider with OAuth 2 access tokens that live `lifetime` seconds.
async fn start(lifetime: u64) -> OauthlibProvider {
    let config = OauthlibConfig::builtin().with_oauth2_access_token_lifetime(lifetime);
    blocking(move || OauthlibProvider::start(Some(&config)))
        .await
        .unwrap()
}

fn http() -> Http {
    HyperClient::builder(TokioExecutor::new()).build_http()
}

fn loopback_endpoint(url: &str) -> Endpoint {
    Endpoint::with_transport(url, Transport::AllowLoopbackHttp).unwrap()
}

fn basic_client() -> Client {
    Client::secret_basic(BASIC_CLIENT_ID, ClientSecret::new(BASIC_CLIENT_SECRET))
}

fn post_client() -> Client {
    Client::secret_post(POST_CLIENT_ID, ClientSecret::new(POST_CLIENT_SECRET))
}

fn special_client() -> Client {
    Client::secret_basic(SPECIAL_CLIENT_ID, ClientSecret::new(SPECIAL_CLIENT_SECRET))
}

/// A grant client for the provider's token endpoint over its own hyper client.
fn grants(provider: &OauthlibProvider, client: Client) -> GrantClient<Http> {
    GrantClient::new(
        http(),
        loopback_endpoint(&provider.oauth2_token_endpoint()),
        client,
    )
    .timeout(CALL_TIMEOUT)
}

/// A hyper client wrapped in the token layer for the provider's origin.
fn through_layer(provider: &OauthlibProvider, source: TokenSource) -> Api {
    OAuth2Layer::dangerous_allow_http_loopback(source, &provider.base_url())
        .unwrap()
        .layer(http())
}

/// `GET` `url` through the layer: the status and the JSON body (`Null` if none).
async fn call(api: &Api, url: &str) -> Result<(StatusCode, Value), tower::BoxError> {
    let request = Request::get(url).body(Full::default()).unwrap();
    let response = tokio::time::timeout(CALL_TIMEOUT, api.clone().oneshot(request))
        .await
        .expect("call timed out")?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
}

/// A call to the protected resource that must succeed with 200; returns its JSON.
async fn resource_ok(provider: &OauthlibProvider, api: &Api) -> Value {
    let (status, body) = call(api, &provider.oauth2_resource_url())
        .await
        .expect("call failed");
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

async fn stats(provider: &OauthlibProvider) -> Value {
    get(&provider.stats_url(), &[]).await.json()
}

/// A counter from `/test/stats` (absent means zero).
fn stat(stats: &Value, name: &str) -> u64 {
    stats[name].as_u64().unwrap_or(0)
}

#[cfg(feature = "legacy")]
#[allow(deprecated)] // The password grant is deprecated (RFC 9700 §2.4); it is what is tested.
#[tokio::test(flavor = "multi_thread")]
async fn password_grant_with_basic_post_and_special_client_auth() {
    use interop_tests::oauthlib2::PASSWORD;
    use oauth_core::secret::ResourceOwnerPassword;

    bounded(async {
        let provider = start(HOUR).await;
        let password = ResourceOwnerPassword::new(PASSWORD);
        for client in [basic_client(), post_client(), special_client()] {
            let client_id = client.id().to_owned();
            let grants = grants(&provider, client);
            let token = grants
                .password(USER, &password, Some(&Scope::parse("read write")))
                .await
                .unwrap();
            assert_eq!(
                token.scope().unwrap().to_string(),
                "read write",
                "{client_id}"
            );
            assert!(token.refresh_token().is_some(), "{client_id}");
            let api = through_layer(&provider, TokenSource::from_token(token));
            let me = resource_ok(&provider, &api).await;
            assert_eq!(me["client_id"], client_id.as_str());
            assert_eq!(me["user"], USER);
            assert_eq!(me["scope"], "read write");
        }

        // A wrong password: the server's invalid_grant, typed, with no password in any text of
        // the error or of the request the library would send.
        let grants = grants(&provider, basic_client());
        let wrong = ResourceOwnerPassword::new("wr0ng-p@ssword-9f3k");
        let error = grants.password(USER, &wrong, None).await.unwrap_err();
        assert_eq!(error.kind(), GrantClientErrorKind::Response);
        assert_eq!(error.error_code(), Some(&ErrorCode::InvalidGrant));
        assert_oauth_error(&error, "invalid_grant");
        let text = error_chain_text(&error);
        let request = oauth_core::oauth2::TokenRequest::password(
            grants.endpoint(),
            grants.client(),
            USER,
            &wrong,
        );
        let text = format!("{text}{request:?}{request:#?}{password:?}{wrong:?}");
        for secret in [PASSWORD, "wr0ng-p@ssword-9f3k", BASIC_CLIENT_SECRET] {
            assert!(!text.contains(secret), "{secret:?} printed: {text}");
        }
        let error = error.into_token_error();
        assert_eq!(error.kind(), TokenErrorKind::Reauthorize);

        let stats = stats(&provider).await;
        assert_eq!(stat(&stats, "oauth2_grant_password_ok"), 3, "{stats}");
        assert_eq!(
            stat(&stats, "oauth2_grant_password_invalid_grant"),
            1,
            "{stats}"
        );
        assert_eq!(stat(&stats, "oauth2_resource_ok"), 3, "{stats}");
    })
    .await;
}
