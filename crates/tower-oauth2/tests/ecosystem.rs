//! The layer in the tower ecosystem, over real sockets on 127.0.0.1: inside an axum
//! application, around a `hyper_util` client, and in a `ServiceBuilder` stack with tower-http's
//! Trace, Timeout and FollowRedirect, where a cross-origin redirect must never receive the token
//! whichever order the layers are in (SECURITY.md §4.6 #53, #54).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::net::SocketAddr;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::IntoResponse;
use axum::routing::{get, post};
use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_TYPE, LOCATION, WWW_AUTHENTICATE};
use http::{Request, Response, StatusCode};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use oauth_core::oauth2::{Endpoint, Token, Transport};
use oauth_core::secret::{ClientSecret, RefreshToken};
use tower::{BoxError, Service, ServiceBuilder, ServiceExt};
use tower_http::follow_redirect::FollowRedirectLayer;
use tower_http::follow_redirect::policy::Limited;
use tower_http::timeout::TimeoutLayer;
use tower_http::trace::TraceLayer;
use tower_oauth2::policy::{ForeignOrigin, ReplayClone};
use tower_oauth2::source::{TokenError, TokenErrorKind};
use tower_oauth2::{ErrorKind, GrantClient, OAuth2, OAuth2Layer, TokenSource};

mod common;
use common::bearer;

/// Bound for each test as a whole.
const TEST_TIMEOUT: Duration = Duration::from_secs(20);

type Http = Client<HttpConnector, Full<Bytes>>;

async fn bounded<F: std::future::Future<Output = ()>>(f: F) {
    tokio::time::timeout(TEST_TIMEOUT, f)
        .await
        .expect("test took too long");
}

fn http() -> Http {
    Client::builder(TokioExecutor::new()).build_http()
}

/// An axum app served on 127.0.0.1:0; stopped when dropped.
struct Server {
    addr: SocketAddr,
    task: tokio::task::JoinHandle<()>,
}

impl Server {
    async fn start(app: Router) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let task = tokio::spawn(async move {
            axum::serve(listener, app).await.unwrap();
        });
        Self { addr, task }
    }

    fn origin(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.origin())
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.task.abort();
    }
}

/// A request as a server saw it: the path and the `Authorization` header.
type Hit = (String, Option<String>);

/// What a server saw, in order.
#[derive(Clone, Default)]
struct Seen(Arc<Mutex<Vec<Hit>>>);

impl Seen {
    fn record(&self, path: &str, headers: &HeaderMap) {
        let auth = headers
            .get(AUTHORIZATION)
            .map(|v| v.to_str().unwrap().to_owned());
        self.0.lock().unwrap().push((path.to_owned(), auth));
    }

    fn all(&self) -> Vec<Hit> {
        self.0.lock().unwrap().clone()
    }
}

async fn body_text<B>(response: Response<B>) -> String
where
    B: http_body::Body,
    B::Error: std::fmt::Debug,
{
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    String::from_utf8(bytes.to_vec()).unwrap()
}

fn get_request(url: &str) -> Request<Full<Bytes>> {
    Request::get(url).body(Full::default()).unwrap()
}

/// A token endpoint that issues `tok-1`, `tok-2`, ... for client credentials.
async fn token_server() -> (Server, Arc<AtomicUsize>) {
    let issued = Arc::new(AtomicUsize::new(0));
    let counter = issued.clone();
    let app = Router::new().route(
        "/token",
        post(move |headers: HeaderMap, body: String| {
            let counter = counter.clone();
            async move {
                assert!(headers.contains_key(AUTHORIZATION), "client_secret_basic");
                assert!(body.contains("grant_type=client_credentials"), "{body}");
                let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
                (
                    [
                        (CONTENT_TYPE, "application/json"),
                        (http::header::CACHE_CONTROL, "no-store"),
                    ],
                    format!(
                        r#"{{"access_token":"tok-{n}","token_type":"Bearer","expires_in":3600}}"#
                    ),
                )
            }
        }),
    );
    (Server::start(app).await, issued)
}

/// An API that answers `data for <token>` to a bearer token it knows, and 401
/// `invalid_token` otherwise.
async fn api_server(valid: &'static [&'static str]) -> (Server, Seen) {
    let seen = Seen::default();
    let log = seen.clone();
    let app = Router::new().route(
        "/data",
        get(move |headers: HeaderMap| {
            let log = log.clone();
            async move {
                log.record("/data", &headers);
                let token = headers
                    .get(AUTHORIZATION)
                    .and_then(|v| v.to_str().ok())
                    .and_then(|v| v.strip_prefix("Bearer "))
                    .unwrap_or_default()
                    .to_owned();
                if valid.contains(&token.as_str()) {
                    (
                        StatusCode::OK,
                        HeaderMap::new(),
                        format!("data for {token}"),
                    )
                } else {
                    let mut challenge = HeaderMap::new();
                    challenge.insert(
                        WWW_AUTHENTICATE,
                        "Bearer error=\"invalid_token\"".parse().unwrap(),
                    );
                    (StatusCode::UNAUTHORIZED, challenge, String::new())
                }
            }
        }),
    );
    (Server::start(app).await, seen)
}

#[derive(Clone)]
struct AppState {
    /// The hyper client wrapped in the token layer, shared by every request.
    api: OAuth2<Http>,
    api_url: String,
}

async fn proxy(State(state): State<AppState>) -> impl IntoResponse {
    match state.api.oneshot(get_request(&state.api_url)).await {
        Ok(response) if response.status().is_success() => {
            (StatusCode::OK, body_text(response).await).into_response()
        }
        Ok(response) => (StatusCode::BAD_GATEWAY, response.status().to_string()).into_response(),
        Err(error) => (StatusCode::BAD_GATEWAY, error.to_string()).into_response(),
    }
}

/// An axum handler whose state holds the wrapped client: requests to the app call the API
/// with a client-credentials token fetched once from a local token endpoint.
#[tokio::test(flavor = "multi_thread")]
async fn axum_handler_calls_an_api_through_the_layer() {
    bounded(async {
        let (tokens, issued) = token_server().await;
        let (api, seen) = api_server(&["tok-1"]).await;
        let grants = GrantClient::new(
            http(),
            Endpoint::with_transport(&tokens.url("/token"), Transport::AllowLoopbackHttp).unwrap(),
            oauth_core::oauth2::Client::secret_basic("app", ClientSecret::new("app-secret")),
        );
        let source = TokenSource::builder()
            .fetcher(grants.client_credentials_fetcher(None))
            .build()
            .await
            .unwrap();
        let state = AppState {
            api: ServiceBuilder::new()
                .layer(OAuth2Layer::new_dangerous_http_loopback(source, &api.origin()).unwrap())
                .service(http()),
            api_url: api.url("/data"),
        };
        let app = Server::start(Router::new().route("/", get(proxy)).with_state(state)).await;

        let mut calls = tokio::task::JoinSet::new();
        for _ in 0..10 {
            let url = app.url("/");
            calls.spawn(async move {
                let response = http().request(get_request(&url)).await.unwrap();
                (response.status(), body_text(response).await)
            });
        }
        while let Some(result) = calls.join_next().await {
            let (status, body) = result.unwrap();
            assert_eq!(status, StatusCode::OK, "{body}");
            assert_eq!(body, "data for tok-1");
        }
        assert_eq!(
            issued.load(Ordering::SeqCst),
            1,
            "one token for all requests"
        );
        let seen = seen.all();
        assert_eq!(seen.len(), 10);
        assert!(
            seen.iter()
                .all(|(_, auth)| auth.as_deref() == Some("Bearer tok-1"))
        );
    })
    .await;
}

/// A `hyper_util` legacy client wrapped with the layer: the token goes to the API's origin
/// only, and a 401 `invalid_token` on a POST refreshes once and re-sends the (cloned) body.
#[tokio::test(flavor = "multi_thread")]
async fn hyper_client_wrapped_with_the_layer() {
    bounded(async {
        let (api, api_seen) = api_server(&["tok-2"]).await;
        let (other, other_seen) = api_server(&[]).await;
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let log = bodies.clone();
        let upload = Server::start(Router::new().route(
            "/upload",
            post(move |headers: HeaderMap, body: String| {
                let log = log.clone();
                async move {
                    let auth = headers.get(AUTHORIZATION).unwrap().to_str().unwrap();
                    log.lock().unwrap().push((auth.to_owned(), body));
                    if auth == "Bearer tok-2" {
                        (StatusCode::CREATED, HeaderMap::new())
                    } else {
                        let mut challenge = HeaderMap::new();
                        challenge.insert(
                            WWW_AUTHENTICATE,
                            "Bearer error=\"invalid_token\"".parse().unwrap(),
                        );
                        (StatusCode::UNAUTHORIZED, challenge)
                    }
                }
            }),
        ))
        .await;

        let fetches = Arc::new(AtomicUsize::new(0));
        let counter = fetches.clone();
        let fetcher = move |current: Option<&Token>| {
            let n = counter.fetch_add(1, Ordering::SeqCst) + 2;
            let refresh = current.and_then(|t| t.refresh_token()).cloned();
            async move {
                assert_eq!(refresh.unwrap().secret(), "rt");
                Ok::<_, TokenError>(
                    bearer(&format!("tok-{n}"))
                        .with_expires_at(Some(SystemTime::now() + Duration::from_secs(3600))),
                )
            }
        };
        let first = bearer("tok-1")
            .with_expires_at(Some(SystemTime::now() + Duration::from_secs(3600)))
            .with_refresh_token(Some(RefreshToken::new("rt")));
        let source = TokenSource::builder()
            .token(first)
            .fetcher(fetcher)
            .build()
            .await
            .unwrap();
        let mut client = ServiceBuilder::new()
            .layer(
                OAuth2Layer::new_dangerous_http_loopback(source.clone(), &upload.origin())
                    .unwrap()
                    .replay_bodies(ReplayClone),
            )
            .service(http());

        let request = Request::post(upload.url("/upload"))
            .body(Full::new(Bytes::from_static(b"payload")))
            .unwrap();
        let response = client.ready().await.unwrap().call(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::CREATED);
        assert_eq!(
            *bodies.lock().unwrap(),
            [
                ("Bearer tok-1".to_owned(), "payload".to_owned()),
                ("Bearer tok-2".to_owned(), "payload".to_owned()),
            ]
        );
        assert_eq!(fetches.load(Ordering::SeqCst), 1);

        // The same client, other origins: no token, whatever the path looks like.
        for url in [api.url("/data"), other.url("/data")] {
            let response = client.clone().oneshot(get_request(&url)).await.unwrap();
            assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
        }
        assert_eq!(api_seen.all(), [("/data".to_owned(), None)]);
        assert_eq!(other_seen.all(), [("/data".to_owned(), None)]);
        assert_eq!(
            fetches.load(Ordering::SeqCst),
            1,
            "no refresh for foreign 401s"
        );
    })
    .await;
}

/// Origin A (the API, allowed) redirects `/cross` to origin B and `/same` to its own
/// `/landing`; both record what they see.
async fn redirecting_origins() -> (Server, Seen, Server, Seen) {
    let (b_seen, a_seen) = (Seen::default(), Seen::default());
    let log = b_seen.clone();
    let b = Server::start(Router::new().route(
        "/landing",
        get(move |headers: HeaderMap| {
            let log = log.clone();
            async move {
                log.record("/landing", &headers);
                "landed on B"
            }
        }),
    ))
    .await;
    let b_landing = b.url("/landing");
    let (log1, log2, log3) = (a_seen.clone(), a_seen.clone(), a_seen.clone());
    let a = Server::start(
        Router::new()
            .route(
                "/cross",
                get(move |headers: HeaderMap| {
                    log1.record("/cross", &headers);
                    let location = b_landing.clone();
                    async move { (StatusCode::FOUND, [(LOCATION, location)]) }
                }),
            )
            .route(
                "/same",
                get(move |headers: HeaderMap| {
                    log2.record("/same", &headers);
                    async move { (StatusCode::FOUND, [(LOCATION, "/landing".to_owned())]) }
                }),
            )
            .route(
                "/landing",
                get(move |headers: HeaderMap| {
                    log3.record("/landing", &headers);
                    async move { "landed on A" }
                }),
            ),
    )
    .await;
    (a, a_seen, b, b_seen)
}

/// Where FollowRedirect sits relative to the token layer.
#[derive(Debug, Clone, Copy)]
enum Order {
    /// `FollowRedirect` wraps the token layer: every hop goes through the layer, whose origin
    /// allowlist decides.
    RedirectOutside,
    /// The token layer wraps `FollowRedirect`: the token is added once, and tower-http's
    /// `FilterCredentials` strips it on cross-origin hops.
    RedirectInside,
}

type Stack = tower::util::BoxCloneSyncService<
    Request<Full<Bytes>>,
    Response<BoxBody<Bytes, hyper::Error>>,
    BoxError,
>;

/// Trace, Timeout, FollowRedirect (standard policy) and the token layer around a hyper
/// client, in the given order. The body is boxed under Timeout, which needs a `Default` body,
/// and again over Trace, so that both orders have one type.
fn stack(order: Order, token_layer: OAuth2Layer) -> Stack {
    let boxed = |response: Response<hyper::body::Incoming>| response.map(BodyExt::boxed);
    let timeout =
        TimeoutLayer::with_status_code(StatusCode::GATEWAY_TIMEOUT, Duration::from_secs(5));
    match order {
        Order::RedirectOutside => Stack::new(
            ServiceBuilder::new()
                .map_response(|r: Response<_>| r.map(BodyExt::boxed))
                .layer(TraceLayer::new_for_http())
                .layer(timeout)
                .layer(FollowRedirectLayer::new())
                .layer(token_layer)
                .map_response(boxed)
                .service(http()),
        ),
        Order::RedirectInside => Stack::new(
            ServiceBuilder::new()
                .map_response(|r: Response<_>| r.map(BodyExt::boxed))
                .layer(TraceLayer::new_for_http())
                .layer(timeout)
                .layer(token_layer)
                .layer(FollowRedirectLayer::new())
                .map_response(boxed)
                .service(http()),
        ),
    }
}

fn token_layer(a: &Server) -> OAuth2Layer {
    OAuth2Layer::new_dangerous_http_loopback(TokenSource::from_token(bearer("tok-a")), &a.origin())
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_cross_origin_redirect_never_receives_the_token_in_either_order() {
    bounded(async {
        for order in [Order::RedirectOutside, Order::RedirectInside] {
            let (a, a_seen, _b, b_seen) = redirecting_origins().await;
            let response = stack(order, token_layer(&a))
                .oneshot(get_request(&a.url("/cross")))
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{order:?}");
            assert_eq!(body_text(response).await, "landed on B");
            assert_eq!(
                a_seen.all(),
                [("/cross".to_owned(), Some("Bearer tok-a".to_owned()))],
                "{order:?}"
            );
            assert_eq!(b_seen.all(), [("/landing".to_owned(), None)], "{order:?}");
        }
    })
    .await;
}

/// With FollowRedirect outside, the allowlist alone protects the token: even a redirect
/// policy that filters no credentials leaks nothing, and `ForeignOrigin::Reject` stops the
/// hop before it is sent.
#[tokio::test(flavor = "multi_thread")]
async fn outside_the_token_layer_the_origin_allowlist_is_what_protects_the_token() {
    bounded(async {
        let (a, a_seen, _b, b_seen) = redirecting_origins().await;
        let unfiltered = ServiceBuilder::new()
            .layer(FollowRedirectLayer::with_policy(Limited::default()))
            .layer(token_layer(&a))
            .service(http());
        let response = unfiltered
            .oneshot(get_request(&a.url("/cross")))
            .await
            .unwrap();
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(b_seen.all(), [("/landing".to_owned(), None)]);

        let rejecting = ServiceBuilder::new()
            .layer(FollowRedirectLayer::new())
            .layer(token_layer(&a).foreign_origins(ForeignOrigin::Reject))
            .service(http());
        let error = rejecting
            .oneshot(get_request(&a.url("/cross")))
            .await
            .unwrap_err();
        let error = error.downcast_ref::<tower_oauth2::Error>().unwrap();
        assert_eq!(error.kind(), ErrorKind::ForeignOrigin);
        assert_eq!(b_seen.all().len(), 1, "the rejected hop was never sent");
        assert_eq!(
            a_seen.all(),
            [
                ("/cross".to_owned(), Some("Bearer tok-a".to_owned())),
                ("/cross".to_owned(), Some("Bearer tok-a".to_owned())),
            ]
        );
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn a_same_origin_redirect_keeps_the_token_in_either_order() {
    bounded(async {
        for order in [Order::RedirectOutside, Order::RedirectInside] {
            let (a, a_seen, _b, b_seen) = redirecting_origins().await;
            let response = stack(order, token_layer(&a))
                .oneshot(get_request(&a.url("/same")))
                .await
                .unwrap();
            assert_eq!(response.status(), StatusCode::OK, "{order:?}");
            assert_eq!(body_text(response).await, "landed on A");
            let with_token = Some("Bearer tok-a".to_owned());
            assert_eq!(
                a_seen.all(),
                [
                    ("/same".to_owned(), with_token.clone()),
                    ("/landing".to_owned(), with_token),
                ],
                "{order:?}"
            );
            assert!(b_seen.all().is_empty());
        }
    })
    .await;
}

/// The token layer's own failure (no token) comes out of the whole stack as a typed error.
#[tokio::test(flavor = "multi_thread")]
async fn a_token_failure_surfaces_through_the_stack_as_a_typed_error() {
    bounded(async {
        let (a, a_seen, _b, _b_seen) = redirecting_origins().await;
        let failing = |_: Option<&Token>| async {
            Err::<Token, _>(TokenError::new(TokenErrorKind::Transient, None))
        };
        let expired = bearer("old")
            .with_expires_at(Some(SystemTime::now() - Duration::from_secs(1)))
            .with_refresh_token(Some(RefreshToken::new("rt")));
        let source = TokenSource::builder()
            .token(expired)
            .fetcher(failing)
            .build()
            .await
            .unwrap();
        for order in [Order::RedirectOutside, Order::RedirectInside] {
            let layer =
                OAuth2Layer::new_dangerous_http_loopback(source.clone(), &a.origin()).unwrap();
            let error = stack(order, layer)
                .oneshot(get_request(&a.url("/same")))
                .await
                .unwrap_err();
            let error = error.downcast_ref::<tower_oauth2::Error>().unwrap();
            assert_eq!(error.kind(), ErrorKind::NoToken, "{order:?}");
            assert_eq!(
                error.token_error().unwrap().kind(),
                TokenErrorKind::Transient
            );
        }
        assert!(a_seen.all().is_empty(), "nothing sent without a token");
    })
    .await;
}

/// The README's warning, pinned: a client made with `build_http()` (no TLS) against an https
/// token endpoint fails at run time, the error says the token endpoint is unreachable, and the
/// innermost cause is hyper-util's "invalid URL, scheme is not http".
#[tokio::test]
async fn readme_a_build_http_client_cannot_reach_an_https_token_endpoint() {
    bounded(async {
        let grants = GrantClient::new(
            http(),
            Endpoint::new("https://127.0.0.1:9/token").unwrap(),
            oauth_core::oauth2::Client::secret_basic("app", ClientSecret::new("app-secret")),
        );
        let source = TokenSource::builder()
            .fetcher(grants.client_credentials_fetcher(None))
            .build()
            .await
            .unwrap();
        let error = source.token().await.unwrap_err();
        assert_eq!(error.kind(), TokenErrorKind::Transient);
        let mut chain = vec![error.to_string()];
        let mut cause = std::error::Error::source(&*error);
        while let Some(c) = cause {
            chain.push(c.to_string());
            cause = c.source();
        }
        assert!(chain.iter().any(|m| m.contains("unreachable")), "{chain:?}");
        assert!(
            chain
                .iter()
                .any(|m| m.contains("invalid URL, scheme is not http")),
            "{chain:?}"
        );
    })
    .await;
}
