//! What the OAuth 2 interop tests share, whichever authorization server they run against: the
//! time bounds, a hyper client, the token layer over it, calls through it and the server's
//! `/test/stats` counters.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use interop_tests::{OauthlibProvider, OidcProvider};
use oauth_core::oauth2::{Endpoint, RefreshPolicy, Transport};
use serde_json::Value;
use tower::{Layer, ServiceExt};
use tower_oauth2::{OAuth2, OAuth2Layer, TokenSource};

/// Bound for each test as a whole.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(120);
// A server that does not start is reported by the harness with its log (after at most
// READY_TIMEOUT), not cut short by the test's own bound.
const _: () = assert!(TEST_TIMEOUT.as_secs() >= interop_tests::READY_TIMEOUT.as_secs() + 30);
/// Bound for one call through the layer (a refresh included).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// The tests' HTTP client.
pub type Http = HyperClient<HttpConnector, Full<Bytes>>;
/// [`Http`] behind the token layer.
pub type Api = OAuth2<Http>;

/// A server under test: where it is, and where its counters are.
pub trait Server {
    /// `http://127.0.0.1:PORT`.
    fn base_url(&self) -> String;
    /// Its `/test/stats` URL.
    fn stats_url(&self) -> String;
}

impl Server for OidcProvider {
    fn base_url(&self) -> String {
        OidcProvider::base_url(self)
    }
    fn stats_url(&self) -> String {
        OidcProvider::stats_url(self)
    }
}

impl Server for OauthlibProvider {
    fn base_url(&self) -> String {
        OauthlibProvider::base_url(self)
    }
    fn stats_url(&self) -> String {
        OauthlibProvider::stats_url(self)
    }
}

/// Runs `f` within [`TEST_TIMEOUT`]. Installing the servers' packages comes first and is
/// not counted: on a fresh checkout `setup.sh` runs pip and npm (bounded by the harness
/// itself), which can take longer than a test.
pub async fn bounded<F: std::future::Future<Output = ()>>(f: F) {
    super::blocking(interop_tests::ensure_installed)
        .await
        .expect("installing the interop test servers");
    tokio::time::timeout(TEST_TIMEOUT, f)
        .await
        .expect("test took too long");
}

/// A hyper client for plain HTTP.
pub fn http() -> Http {
    HyperClient::builder(TokioExecutor::new()).build_http()
}

/// An endpoint on the loopback server, over plain HTTP (opted in).
pub fn loopback_endpoint(url: &str) -> Endpoint {
    Endpoint::with_transport(url, Transport::AllowLoopbackHttp).unwrap()
}

/// A hyper client wrapped in the token layer for `server`'s origin.
pub fn through_layer(server: &impl Server, source: TokenSource) -> Api {
    OAuth2Layer::dangerous_allow_http_loopback(source, &server.base_url())
        .unwrap()
        .layer(http())
}

/// `GET` `url` through the layer: the status and the JSON body (`Null` if none).
pub async fn call(api: &Api, url: &str) -> Result<(StatusCode, Value), tower::BoxError> {
    let request = Request::get(url).body(Full::default()).unwrap();
    let response = tokio::time::timeout(CALL_TIMEOUT, api.clone().oneshot(request))
        .await
        .expect("call timed out")?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
}

/// `server`'s `/test/stats`.
pub async fn stats(server: &impl Server) -> Value {
    super::get(&server.stats_url(), &[]).await.json()
}

/// A counter from `/test/stats` (absent means zero).
pub fn stat(stats: &Value, name: &str) -> u64 {
    stats[name].as_u64().unwrap_or(0)
}

/// Policy for tokens of a few seconds: the default margin (which becomes half the lifetime),
/// but refreshes may follow each other after 1 s instead of 5 s.
pub fn short_token_policy() -> RefreshPolicy {
    RefreshPolicy {
        min_interval: Duration::from_secs(1),
        ..RefreshPolicy::default()
    }
}
