//! Fault injection at the token endpoint (SECURITY.md §4.1–4.4): a tower service that fails in
//! every way a real one can, behind the GrantClient and the TokenSource. Each case asserts a
//! typed error, the old token kept, no secret in `Display`/`Debug`, and a source that still works
//! afterwards (the single-flight lock was released).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body::{Body, Frame, SizeHint};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use oauth_core::clock::Clock;
use oauth_core::oauth2::{Client, Endpoint, ErrorCode, RefreshPolicy, Token, TokenType};
use oauth_core::secret::{AccessToken, ClientSecret, RefreshToken};
use tower::BoxError;
use tower::util::BoxCloneSyncService;
use tower_oauth2::client::{GrantClientErrorKind, ServerEndpoint};
use tower_oauth2::clock::TokioClock;
use tower_oauth2::source::TokenFetcher;
use tower_oauth2::store::{MemoryStore, TokenStore};
use tower_oauth2::{GrantClient, TokenErrorKind, TokenSource};

const CLIENT_SECRET: &str = "SENTINEL-client-secret";
const OLD_ACCESS: &str = "SENTINEL-old-access-token";
const OLD_REFRESH: &str = "SENTINEL-old-refresh-token";

type ResBody = BoxBody<Bytes, BoxError>;

/// What the fake token endpoint does with each request.
#[derive(Clone, Copy, Debug)]
enum Fault {
    ConnectionRefused,
    NoResponse,
    Trickle,
    Huge,
    HtmlError(u16),
    RetryAfter(u16),
    /// A 503 whose `Retry-After` is an HTTP-date 90 s after its `Date`.
    RetryAfterDate,
    /// A 503 with `Retry-After: 3600`, longer than the source's longest back-off.
    RetryAfterHour,
    Redirect(u16),
    BrokenJson,
    ErrorWith200,
    InvalidGrant,
    InvalidClient,
    InvalidScope,
    /// HTTP 200, JSON, with a rotated refresh token but an `expires_in` that is not a number.
    MalformedToken,
    /// A valid token response of 2 MiB (a large `id_token`, many group claims).
    LargeToken,
    Ok,
}

fn json(status: u16, body: &str) -> Response<ResBody> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(full(body.to_owned()))
        .unwrap()
}

fn full(body: String) -> ResBody {
    BoxBody::new(Full::new(Bytes::from(body)).map_err(|e: Infallible| match e {}))
}

/// A body that sends one byte a second, forever: an idle timeout never fires on it, only a
/// deadline for the whole response does.
struct TrickleBody(Pin<Box<tokio::time::Sleep>>);

impl Body for TrickleBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        match self.0.as_mut().poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(()) => {
                let next = tokio::time::Instant::now() + Duration::from_secs(1);
                self.0.as_mut().reset(next);
                Poll::Ready(Some(Ok(Frame::data(Bytes::from_static(b"{")))))
            }
        }
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::default()
    }
}

/// A body that streams 10 MiB in 64 KiB chunks (never holding it all).
struct HugeBody(usize);

impl Body for HugeBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if self.0 == 0 {
            return Poll::Ready(None);
        }
        self.0 -= 1;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(vec![b' '; 64 * 1024])))))
    }
}

use std::future::Future;

/// The fake token endpoint, type-erased.
type FakeEndpoint = BoxCloneSyncService<Request<Full<Bytes>>, Response<ResBody>, BoxError>;

fn endpoint(fault: Fault, calls: Arc<AtomicUsize>) -> FakeEndpoint {
    BoxCloneSyncService::new(tower::service_fn(move |req: Request<Full<Bytes>>| {
        calls.fetch_add(1, Ordering::SeqCst);
        assert_eq!(req.method(), http::Method::POST);
        Box::pin(async move {
            let response = match fault {
                Fault::ConnectionRefused => {
                    return Err::<_, BoxError>("connection refused (os error 111)".into());
                }
                Fault::NoResponse => std::future::pending().await,
                Fault::Trickle => Response::builder()
                    .header("content-type", "application/json")
                    .body(BoxBody::new(TrickleBody(Box::pin(tokio::time::sleep(
                        Duration::ZERO,
                    )))))
                    .unwrap(),
                Fault::Huge => Response::builder()
                    .header("content-type", "application/json")
                    .body(BoxBody::new(HugeBody(160)))
                    .unwrap(),
                Fault::HtmlError(status) => Response::builder()
                    .status(status)
                    .header("content-type", "text/html")
                    .body(full(format!(
                        "<html><body>{OLD_ACCESS} upstream error</body></html>"
                    )))
                    .unwrap(),
                Fault::RetryAfter(status) => Response::builder()
                    .status(status)
                    .header("retry-after", "120")
                    .header("content-type", "text/plain")
                    .body(full("slow down".into()))
                    .unwrap(),
                Fault::RetryAfterDate => Response::builder()
                    .status(503)
                    .header("date", "Fri, 04 Dec 2026 12:00:00 GMT")
                    .header("retry-after", "Fri, 04 Dec 2026 12:01:30 GMT")
                    .body(full(String::new()))
                    .unwrap(),
                Fault::RetryAfterHour => Response::builder()
                    .status(503)
                    .header("retry-after", "3600")
                    .body(full(String::new()))
                    .unwrap(),
                Fault::Redirect(status) => Response::builder()
                    .status(status)
                    .header("location", "http://169.254.169.254/latest/meta-data/")
                    .body(full(String::new()))
                    .unwrap(),
                Fault::BrokenJson => json(200, r#"{"access_token": "x", broken"#),
                Fault::ErrorWith200 => json(
                    200,
                    r#"{"error":"invalid_grant","error_description":"nope"}"#,
                ),
                Fault::InvalidGrant => json(
                    400,
                    r#"{"error":"invalid_grant","error_description":"refresh token revoked"}"#,
                ),
                Fault::InvalidClient => json(401, r#"{"error":"invalid_client"}"#),
                Fault::InvalidScope => json(400, r#"{"error":"invalid_scope"}"#),
                Fault::MalformedToken => json(
                    200,
                    r#"{"access_token":"rotated-access","token_type":"Bearer","expires_in":"soon","refresh_token":"rotated-refresh"}"#,
                ),
                Fault::LargeToken => json(
                    200,
                    &format!(
                        r#"{{"access_token":"at","token_type":"Bearer","groups":"{}"}}"#,
                        "g".repeat(2 << 20)
                    ),
                ),
                Fault::Ok => json(
                    200,
                    r#"{"access_token":"new-access","token_type":"Bearer","expires_in":3600}"#,
                ),
            };
            Ok(response)
        }) as Pin<Box<dyn Future<Output = _> + Send>>
    }))
}

fn grants(fault: Fault, calls: Arc<AtomicUsize>) -> GrantClient<FakeEndpoint> {
    GrantClient::new(
        endpoint(fault, calls),
        Endpoint::new("https://as.example.com/token").unwrap(),
        Client::secret_basic("client", ClientSecret::new(CLIENT_SECRET)),
    )
    .timeout(Duration::from_secs(5))
}

fn expired_token() -> Token {
    Token::new(AccessToken::new(OLD_ACCESS), TokenType::Bearer)
        .with_expires_at(Some(TokioClock::new().now() - Duration::from_secs(1)))
        .with_refresh_token(Some(RefreshToken::new(OLD_REFRESH)))
}

fn assert_no_secret(text: &str) {
    for secret in [CLIENT_SECRET, OLD_ACCESS, OLD_REFRESH] {
        assert!(!text.contains(secret), "secret leaked: {text}");
    }
}

/// Runs one refresh against `fault`; returns the error kind after checking the invariants.
async fn refresh_through(fault: Fault) -> (TokenErrorKind, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let grants = grants(fault, calls.clone());
    let store = MemoryStore::with_token(expired_token());
    let source = TokenSource::builder()
        .store(store.clone())
        .fetcher(grants.refresh_fetcher())
        .build()
        .await
        .unwrap();
    let error = tokio::time::timeout(Duration::from_secs(60), source.token())
        .await
        .expect("the refresh is bounded in time")
        .expect_err("the fault is an error");
    assert_no_secret(&error.to_string());
    assert_no_secret(&format!("{error:?}"));
    let mut cause: Option<&dyn std::error::Error> = std::error::Error::source(&*error);
    while let Some(e) = cause {
        assert_no_secret(&e.to_string());
        assert_no_secret(&format!("{e:?}"));
        cause = e.source();
    }
    assert_no_secret(&format!("{source:?}"));
    // The old token is kept, in memory and in the store.
    assert_eq!(
        source.current().unwrap().access_token().secret(),
        OLD_ACCESS
    );
    assert_eq!(
        store.get().unwrap().refresh_token().unwrap().secret(),
        OLD_REFRESH
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "one attempt, no retry loop"
    );
    // The lock was released: a second call answers at once (shared failure or back-off).
    let again = tokio::time::timeout(Duration::from_secs(1), source.token()).await;
    assert!(again.expect("not wedged").is_err());
    (error.kind(), calls)
}

#[tokio::test(start_paused = true)]
async fn s4_1_case1_connection_refused_is_transient() {
    assert_eq!(
        refresh_through(Fault::ConnectionRefused).await.0,
        TokenErrorKind::Transient
    );
}

#[tokio::test(start_paused = true)]
async fn s4_1_case2_no_response_headers_times_out() {
    assert_eq!(
        refresh_through(Fault::NoResponse).await.0,
        TokenErrorKind::Transient
    );
}

/// SECURITY.md §4.1 #2, "the refresh lock is released": a refresh whose token endpoint never
/// answered (cut by the grant client's deadline) leaves the store's refresh lock free: after
/// the back-off the next refresh takes it at once, not after `REFRESH_LOCK_WAIT`, and works.
#[tokio::test(start_paused = true)]
async fn s4_1_case2_a_timed_out_refresh_leaves_the_refresh_lock_free() {
    let calls = Arc::new(AtomicUsize::new(0));
    let flaky = {
        let calls = calls.clone();
        let hanging = grants(Fault::NoResponse, Arc::default()).refresh_fetcher();
        let ok = grants(Fault::Ok, Arc::default()).refresh_fetcher();
        move |current: Option<&Token>| {
            if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                TokenFetcher::fetch(&hanging, current)
            } else {
                TokenFetcher::fetch(&ok, current)
            }
        }
    };
    let store = MemoryStore::with_token(expired_token());
    let source = TokenSource::builder()
        .store(store.clone())
        .fetcher(flaky)
        .build()
        .await
        .unwrap();
    let error = source.token().await.unwrap_err();
    assert_eq!(error.kind(), TokenErrorKind::Transient);
    tokio::time::advance(RefreshPolicy::default().initial_backoff).await;
    let started = tokio::time::Instant::now();
    let token = source.token().await.unwrap();
    assert_eq!(token.access_token().secret(), "new-access");
    assert!(started.elapsed() < tower_oauth2::store::REFRESH_LOCK_WAIT);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(store.get().unwrap().access_token().secret(), "new-access");
}

#[tokio::test(start_paused = true)]
async fn s4_1_case3_trickling_body_hits_the_whole_response_deadline() {
    assert_eq!(
        refresh_through(Fault::Trickle).await.0,
        TokenErrorKind::Transient
    );
}

#[tokio::test(start_paused = true)]
async fn s4_1_case4_ten_mib_body_is_cut_at_the_cap() {
    let (kind, _) = refresh_through(Fault::Huge).await;
    assert_eq!(kind, TokenErrorKind::InvalidResponse);
    let error = grants(Fault::Huge, Arc::default())
        .client_credentials(None)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), GrantClientErrorKind::ResponseTooLarge);
}

/// One body limit for the transport and the parser: raising it (either way) lets a larger
/// token response through; `max_response_bytes` wins over the `Compliance`'s in either order.
/// (The parser kept its own 1 MiB cap: `max_response_bytes(4 MiB)` had no effect.)
#[tokio::test(start_paused = true)]
async fn the_response_size_limit_is_one_limit() {
    use oauth_core::oauth2::Compliance;
    const MIB: usize = 1 << 20;
    let large = || grants(Fault::LargeToken, Arc::default());
    let error = large().client_credentials(None).await.unwrap_err();
    assert_eq!(error.kind(), GrantClientErrorKind::ResponseTooLarge);
    for client in [
        large().max_response_bytes(4 * MIB),
        large().compliance(Compliance::strict().max_body_bytes(4 * MIB)),
        large()
            .max_response_bytes(4 * MIB)
            .compliance(Compliance::github()),
    ] {
        let token = client.client_credentials(None).await.unwrap();
        assert_eq!(token.access_token().secret(), "at");
    }
    let error = large()
        .max_response_bytes(MIB)
        .compliance(Compliance::strict().max_body_bytes(4 * MIB))
        .client_credentials(None)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), GrantClientErrorKind::ResponseTooLarge);
}

#[tokio::test(start_paused = true)]
async fn s4_1_case5_server_errors_with_html_are_transient_and_bodiless() {
    for status in [500, 502, 503, 504] {
        assert_eq!(
            refresh_through(Fault::HtmlError(status)).await.0,
            TokenErrorKind::Transient,
            "{status}"
        );
    }
}

#[tokio::test(start_paused = true)]
async fn s4_1_case6_retry_after_is_surfaced() {
    for status in [429, 503] {
        assert_eq!(
            refresh_through(Fault::RetryAfter(status)).await.0,
            TokenErrorKind::Transient
        );
        let error = grants(Fault::RetryAfter(status), Arc::default())
            .client_credentials(None)
            .await
            .unwrap_err();
        assert!(error.is_transient());
        assert_eq!(error.retry_after(), Some(Duration::from_secs(120)));
    }
    // The HTTP-date form, counted from the response's Date.
    let error = grants(Fault::RetryAfterDate, Arc::default())
        .client_credentials(None)
        .await
        .unwrap_err();
    assert!(error.is_transient());
    assert_eq!(error.retry_after(), Some(Duration::from_secs(90)));
}

/// Errors from the server's other endpoints say which endpoint failed, not "token".
#[tokio::test(start_paused = true)]
async fn errors_name_the_endpoint_that_failed() {
    let at = |path: &str| Endpoint::new(&format!("https://as.example.com/{path}")).unwrap();
    let grants = grants(Fault::HtmlError(503), Arc::default());
    let token = expired_token();
    let errors = [
        (
            ServerEndpoint::Token,
            grants.client_credentials(None).await.unwrap_err(),
        ),
        (
            ServerEndpoint::Revocation,
            grants.revoke(&at("revoke"), &token).await.unwrap_err(),
        ),
        (
            ServerEndpoint::Introspection,
            grants
                .introspect(&at("introspect"), token.access_token())
                .await
                .unwrap_err(),
        ),
        (
            ServerEndpoint::DeviceAuthorization,
            grants
                .device_authorization(&at("device"), None)
                .await
                .unwrap_err(),
        ),
    ];
    for (endpoint, error) in errors {
        assert_eq!(error.endpoint(), endpoint);
        assert_eq!(error.kind(), GrantClientErrorKind::Response);
        assert!(error.is_transient());
        let text = error.to_string();
        assert!(
            text.starts_with(&format!("{} request failed", endpoint.as_str())),
            "{text}"
        );
        assert_no_secret(&format!("{text} {error:?}"));
    }
    let unreachable = self::grants(Fault::ConnectionRefused, Arc::default())
        .revoke(&at("revoke"), &token)
        .await
        .unwrap_err();
    // The innermost cause is in the message: it is what says what to fix.
    let text = unreachable.to_string();
    assert!(
        text.starts_with("revocation endpoint unreachable: "),
        "{text}"
    );
    let mut cause: &dyn std::error::Error = &unreachable;
    while let Some(next) = cause.source() {
        cause = next;
    }
    assert!(text.ends_with(&cause.to_string()), "{text}");
}

#[tokio::test(start_paused = true)]
async fn s4_1_case7_redirects_are_never_followed() {
    for status in [301, 302, 307, 308] {
        let calls = Arc::new(AtomicUsize::new(0));
        let error = grants(Fault::Redirect(status), calls.clone())
            .client_credentials(None)
            .await
            .unwrap_err();
        assert_eq!(
            error.kind(),
            GrantClientErrorKind::UnexpectedRedirect(StatusCode::from_u16(status).unwrap())
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1, "not replayed");
        assert!(!error.to_string().contains("169.254"));
        refresh_through(Fault::Redirect(status)).await;
    }
}

#[tokio::test(start_paused = true)]
async fn s4_2_case11_broken_json_is_invalid_response() {
    assert_eq!(
        refresh_through(Fault::BrokenJson).await.0,
        TokenErrorKind::InvalidResponse
    );
}

#[tokio::test(start_paused = true)]
async fn s4_2_case16_error_with_http_200_is_an_error() {
    assert_eq!(
        refresh_through(Fault::ErrorWith200).await.0,
        TokenErrorKind::Reauthorize
    );
}

#[tokio::test(start_paused = true)]
async fn s4_4_case35_invalid_grant_is_terminal_no_retry_token_kept() {
    let (kind, calls) = refresh_through(Fault::InvalidGrant).await;
    assert_eq!(kind, TokenErrorKind::Reauthorize);
    tokio::time::advance(Duration::from_secs(3600)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test(start_paused = true)]
async fn s4_4_case37_invalid_client_is_a_configuration_error() {
    let (kind, _) = refresh_through(Fault::InvalidClient).await;
    assert_eq!(kind, TokenErrorKind::Configuration);
    let error = grants(Fault::InvalidClient, Arc::default())
        .client_credentials(None)
        .await
        .unwrap_err();
    assert_eq!(error.oauth_error().unwrap().code, ErrorCode::InvalidClient);
}

/// Through the layer, the error a caller prints with `{}` says why there is no token (it
/// used to say only "no usable access token", with the cause three `source()`s down), and the
/// chain printed cause by cause says each thing once.
#[tokio::test(start_paused = true)]
async fn the_layers_error_says_why_there_is_no_token() {
    use tower::{Layer, Service, ServiceExt};
    let source = TokenSource::builder()
        .fetcher(grants(Fault::InvalidClient, Arc::default()).client_credentials_fetcher(None))
        .build()
        .await
        .unwrap();
    let api = tower::service_fn(|_req: Request<Full<Bytes>>| async {
        Ok::<_, Infallible>(Response::new(Full::<Bytes>::default()))
    });
    let mut svc = tower_oauth2::OAuth2Layer::new(source, "https://api.example.com")
        .unwrap()
        .layer(api);
    let request = Request::get("https://api.example.com/me")
        .body(Full::default())
        .unwrap();
    let error = svc.ready().await.unwrap().call(request).await.unwrap_err();
    let message = error.to_string();
    assert_eq!(
        message,
        "no usable access token: the client's configuration does not work with the \
         authorization server (invalid_client)"
    );
    let layer_error = error.downcast_ref::<tower_oauth2::Error>().unwrap();
    assert_eq!(
        layer_error.token_error().unwrap().kind(),
        TokenErrorKind::Configuration
    );
    let mut chain = vec![message];
    let mut next = std::error::Error::source(layer_error);
    while let Some(cause) = next {
        chain.push(cause.to_string());
        next = cause.source();
    }
    for (i, a) in chain.iter().enumerate() {
        for b in &chain[i + 1..] {
            assert!(!a.ends_with(b.as_str()), "printed twice: {chain:?}");
        }
    }
    assert!(chain.len() >= 2, "{chain:?}");
    assert_no_secret(&chain.join(" / "));
}

/// Deterministic refusals are terminal, not retried forever: `invalid_scope` (the same
/// request gets the same answer), and a 200 that is JSON but not a valid token (on a refresh,
/// the server may have rotated the refresh token already: spending the old one again could
/// make it revoke the grant).
#[tokio::test(start_paused = true)]
async fn deterministic_refusals_are_terminal() {
    for fault in [Fault::InvalidScope, Fault::MalformedToken] {
        let (kind, _) = refresh_through(fault).await;
        assert_eq!(kind, TokenErrorKind::Configuration);
    }
    // The message says whose fault it is: the client's request, or the server's answers.
    let message = |fault| async move {
        grants(fault, Arc::default())
            .refresh(&RefreshToken::new(OLD_REFRESH), None)
            .await
            .unwrap_err()
            .into_token_error()
            .to_string()
    };
    assert_eq!(
        message(Fault::InvalidScope).await,
        "the client's configuration does not work with the authorization server (invalid_scope)"
    );
    let malformed = message(Fault::MalformedToken).await;
    assert!(
        malformed.starts_with("the token endpoint's responses are not valid tokens"),
        "{malformed}"
    );
    // A body that is not a token response at all (an HTML page with 200) is not.
    assert_eq!(
        refresh_through(Fault::BrokenJson).await.0,
        TokenErrorKind::InvalidResponse
    );
}

/// 429 with `Retry-After: 120`: the source does not ask again before two minutes, although
/// its own first back-off is shorter.
#[tokio::test(start_paused = true)]
async fn s4_1_case6_retry_after_holds_the_source_back() {
    let calls = Arc::new(AtomicUsize::new(0));
    let source = TokenSource::builder()
        .token(expired_token())
        .fetcher(grants(Fault::RetryAfter(429), calls.clone()).refresh_fetcher())
        .build()
        .await
        .unwrap();
    let error = source.token().await.unwrap_err();
    assert_eq!(error.kind(), TokenErrorKind::Transient);
    assert_eq!(error.retry_after(), Some(Duration::from_secs(120)));
    assert!(RefreshPolicy::default().initial_backoff < Duration::from_secs(120));
    tokio::time::advance(Duration::from_secs(119)).await;
    assert!(source.token().await.is_err());
    assert_eq!(calls.load(Ordering::SeqCst), 1, "not before Retry-After");
    tokio::time::advance(Duration::from_secs(2)).await;
    assert!(source.token().await.is_err());
    assert_eq!(calls.load(Ordering::SeqCst), 2, "then once more");
}

/// SECURITY.md §4.1 #6 (a retry honours `Retry-After`, with a cap): a `Retry-After` of an hour
/// holds a refreshing source back for `RefreshPolicy::max_backoff` (5 min), then it asks once
/// more; the caller still sees the server's hour.
#[tokio::test(start_paused = true)]
async fn s4_1_case6_a_retry_after_beyond_the_longest_back_off_is_capped() {
    let calls = Arc::new(AtomicUsize::new(0));
    let source = TokenSource::builder()
        .token(expired_token())
        .fetcher(grants(Fault::RetryAfterHour, calls.clone()).refresh_fetcher())
        .build()
        .await
        .unwrap();
    let error = source.token().await.unwrap_err();
    assert_eq!(error.kind(), TokenErrorKind::Transient);
    assert_eq!(error.retry_after(), Some(Duration::from_secs(3600)));
    let cap = RefreshPolicy::default().max_backoff;
    assert!(cap < Duration::from_secs(3600));
    tokio::time::advance(cap - Duration::from_secs(1)).await;
    assert!(source.token().await.is_err());
    assert_eq!(calls.load(Ordering::SeqCst), 1, "not before the cap");
    tokio::time::advance(Duration::from_secs(1)).await;
    assert!(source.token().await.is_err());
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "at the cap, not after the hour"
    );
}

#[tokio::test(start_paused = true)]
async fn s4_4_case38_transient_failure_then_recovery_after_back_off() {
    let calls = Arc::new(AtomicUsize::new(0));
    let flaky = {
        let calls = calls.clone();
        let ok = grants(Fault::Ok, Arc::default()).refresh_fetcher();
        let failing = grants(Fault::HtmlError(503), Arc::default()).refresh_fetcher();
        move |current: Option<&Token>| {
            let n = calls.fetch_add(1, Ordering::SeqCst);
            if n == 0 {
                tower_oauth2::source::TokenFetcher::fetch(&failing, current)
            } else {
                tower_oauth2::source::TokenFetcher::fetch(&ok, current)
            }
        }
    };
    let source = TokenSource::builder()
        .token(expired_token())
        .fetcher(flaky)
        .build()
        .await
        .unwrap();
    assert!(source.token().await.is_err());
    assert!(source.token().await.is_err(), "backing off: no new attempt");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    tokio::time::advance(RefreshPolicy::default().initial_backoff).await;
    let token = source.token().await.unwrap();
    assert_eq!(token.access_token().secret(), "new-access");
    assert_eq!(
        token.refresh_token().unwrap().secret(),
        OLD_REFRESH,
        "no refresh_token in the response: the old one is kept"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

/// A fetcher that records the refresh tokens it is given and accepts only `accept`; before
/// answering it runs `during` (another process writing the shared store, say).
fn recording_fetcher(
    accept: &'static str,
    during: impl Fn() + Send + Sync + 'static,
) -> (
    impl tower_oauth2::source::TokenFetcher,
    Arc<std::sync::Mutex<Vec<String>>>,
) {
    let used = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = used.clone();
    let fetch = move |current: Option<&Token>| {
        let rt = current
            .unwrap()
            .refresh_token()
            .unwrap()
            .secret()
            .to_owned();
        log.lock().unwrap().push(rt.clone());
        during();
        async move {
            if rt == accept {
                Ok(Token::new(AccessToken::new("fresh"), TokenType::Bearer))
            } else {
                Err(tower_oauth2::TokenError::new(
                    TokenErrorKind::Reauthorize,
                    None,
                ))
            }
        }
    };
    (fetch, used)
}

fn rotated_elsewhere() -> Token {
    expired_token().with_refresh_token(Some(RefreshToken::new("rotated-by-other-process")))
}

#[tokio::test(start_paused = true)]
async fn s4_4_case36_a_rotation_by_another_process_is_seen_before_refreshing() {
    let store = MemoryStore::with_token(expired_token());
    let (fetch, used) = recording_fetcher("rotated-by-other-process", || {});
    let source = TokenSource::builder()
        .store(store.clone())
        .fetcher(fetch)
        .build()
        .await
        .unwrap();
    // Another process refreshes and writes the shared store.
    store.save_blocking(&rotated_elsewhere());
    let token = source.token().await.unwrap();
    assert_eq!(token.access_token().secret(), "fresh");
    // Our stale refresh token was never spent (a server with reuse detection would revoke the
    // whole grant if it were).
    assert_eq!(
        *used.lock().unwrap(),
        ["rotated-by-other-process".to_owned()]
    );
    assert_eq!(store.get().unwrap().access_token().secret(), "fresh");
}

#[tokio::test(start_paused = true)]
async fn s4_4_case36_invalid_grant_during_a_race_rereads_the_store_once() {
    let store = MemoryStore::with_token(expired_token());
    // The other process rotates while our refresh is in flight.
    let writer = store.clone();
    let (fetch, used) = recording_fetcher("rotated-by-other-process", move || {
        if writer.get().unwrap().refresh_token().unwrap().secret() == OLD_REFRESH {
            writer.save_blocking(&rotated_elsewhere());
        }
    });
    let source = TokenSource::builder()
        .store(store.clone())
        .fetcher(fetch)
        .build()
        .await
        .unwrap();
    let token = source.token().await.unwrap();
    assert_eq!(token.access_token().secret(), "fresh");
    assert_eq!(
        *used.lock().unwrap(),
        [
            OLD_REFRESH.to_owned(),
            "rotated-by-other-process".to_owned()
        ]
    );
}

/// SECURITY.md §4.4 #36, "otherwise #35": the store is read again once. When the refresh
/// token found there is refused too, the refusal is final, after exactly two requests, even
/// though the store has changed again meanwhile (here every refresh makes "another process"
/// save a newer one): no loop of re-reads and refreshes.
#[tokio::test(start_paused = true)]
async fn s4_4_case36_the_store_is_read_again_once_then_the_refusal_stands() {
    let store = MemoryStore::with_token(expired_token());
    let writer = store.clone();
    let used = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = used.clone();
    let fetch = move |current: Option<&Token>| {
        let mut used = log.lock().unwrap();
        used.push(
            current
                .unwrap()
                .refresh_token()
                .unwrap()
                .secret()
                .to_owned(),
        );
        let rotated = RefreshToken::new(format!("rotated-{}", used.len()));
        writer.save_blocking(&expired_token().with_refresh_token(Some(rotated)));
        async {
            Err::<Token, _>(tower_oauth2::TokenError::new(
                TokenErrorKind::Reauthorize,
                None,
            ))
        }
    };
    let source = TokenSource::builder()
        .store(store.clone())
        .fetcher(fetch)
        .build()
        .await
        .unwrap();
    let error = source.token().await.unwrap_err();
    assert_eq!(error.kind(), TokenErrorKind::Reauthorize);
    assert_eq!(
        *used.lock().unwrap(),
        [OLD_REFRESH.to_owned(), "rotated-1".to_owned()]
    );
}

/// Four token sources sharing one store (four parts of a program, each with its own source)
/// all find the token expired at once, against a server that rotates refresh tokens and
/// treats a spent one as stolen: one refresh, and the other three take the token it saved.
#[tokio::test(start_paused = true)]
async fn sources_sharing_a_store_refresh_once_and_take_each_others_token() {
    let store = MemoryStore::with_token(expired_token());
    let server = Arc::new(std::sync::Mutex::new((
        OLD_REFRESH.to_owned(),
        0usize,
        false,
    )));
    let fetcher = |server: Arc<std::sync::Mutex<(String, usize, bool)>>| {
        move |current: Option<&Token>| {
            let presented = current
                .unwrap()
                .refresh_token()
                .unwrap()
                .secret()
                .to_owned();
            let server = server.clone();
            async move {
                let answer = {
                    let (accepted, issued, reused) = &mut *server.lock().unwrap();
                    if presented == *accepted {
                        *issued += 1;
                        *accepted = format!("refresh-{issued}");
                        Ok(Token::new(
                            AccessToken::new(format!("access-{issued}")),
                            TokenType::Bearer,
                        )
                        .with_refresh_token(Some(RefreshToken::new(accepted.clone())))
                        .with_expires_at(Some(TokioClock::new().now() + Duration::from_secs(3600))))
                    } else {
                        *reused = true;
                        Err(tower_oauth2::TokenError::new(
                            TokenErrorKind::Reauthorize,
                            None,
                        ))
                    }
                };
                // The network round trip: the others are asking meanwhile.
                tokio::time::sleep(Duration::from_millis(200)).await;
                answer
            }
        }
    };
    let mut sources = Vec::new();
    for _ in 0..4 {
        sources.push(
            TokenSource::builder()
                .store(store.clone())
                .fetcher(fetcher(server.clone()))
                .build()
                .await
                .unwrap(),
        );
    }
    let [a, b, c, d] = &sources[..] else {
        unreachable!()
    };
    let (a, b, c, d) = tokio::join!(a.token(), b.token(), c.token(), d.token());
    for token in [a, b, c, d] {
        assert_eq!(token.unwrap().access_token().secret(), "access-1");
    }
    let (accepted, issued, reused) = server.lock().unwrap().clone();
    assert_eq!(
        (issued, reused),
        (1, false),
        "one refresh, no refresh token spent twice"
    );
    assert_eq!(
        store.get().unwrap().refresh_token().unwrap().secret(),
        accepted
    );
    let fetches: u64 = sources.iter().map(TokenSource::fetch_count).sum();
    assert_eq!(
        fetches, 4,
        "each source asked once; three took the saved token"
    );
}

/// A source whose refresh hangs does not stop another source of the same store for ever: the
/// other waits `REFRESH_LOCK_WAIT`, then refreshes on its own.
#[tokio::test(start_paused = true)]
async fn a_hung_refresh_holds_the_other_sources_of_a_store_back_only_for_the_lock_wait() {
    let store = MemoryStore::with_token(expired_token());
    let hung = TokenSource::builder()
        .store(store.clone())
        .fetcher(|_: Option<&Token>| {
            std::future::pending::<Result<Token, tower_oauth2::TokenError>>()
        })
        .build()
        .await
        .unwrap();
    let (fetch, used) = recording_fetcher(OLD_REFRESH, || {});
    let other = TokenSource::builder()
        .store(store.clone())
        .fetcher(fetch)
        .build()
        .await
        .unwrap();
    let hung_task = tokio::spawn(async move { hung.token().await });
    tokio::task::yield_now().await;
    let started = tokio::time::Instant::now();
    let token = other.token().await.unwrap();
    assert_eq!(token.access_token().secret(), "fresh");
    assert!(started.elapsed() >= tower_oauth2::store::REFRESH_LOCK_WAIT);
    assert_eq!(*used.lock().unwrap(), [OLD_REFRESH.to_owned()]);
    hung_task.abort();
}

/// `IdTokenValidator::exchange_code` refuses a token response without an ID token (the code
/// flow of OpenID Connect needs one): the tokens are not handed over.
#[tokio::test]
async fn the_code_flow_in_one_call_refuses_a_response_without_an_id_token() {
    use oauth_core::oauth2::Issuer;
    use oauth_core::oauth2::oidc::IdTokenVerifier;
    use tower_oauth2::client::{CodeFlowError, IdTokenValidationError, IdTokenValidator};

    let exchange = code_exchange(true);
    let unused_jwks = tower::service_fn(|_: Request<Full<Bytes>>| async {
        Err::<Response<Full<Bytes>>, BoxError>("the JWK set is not needed".into())
    });
    let validator = IdTokenValidator::new(
        unused_jwks,
        Endpoint::new("https://as.example.com/jwks").unwrap(),
        IdTokenVerifier::new(Issuer::new("https://as.example.com").unwrap(), "client"),
    );
    let error = validator
        .exchange_code(&grants(Fault::Ok, Arc::default()), exchange)
        .await
        .unwrap_err();
    assert!(
        matches!(
            error,
            CodeFlowError::IdToken(IdTokenValidationError::Missing)
        ),
        "{error:?}"
    );
}

/// The code exchange of an authorization (state `S`, with an OpenID nonce when `oidc`) whose
/// callback brought the code `c`.
fn code_exchange(oidc: bool) -> oauth_core::oauth2::CodeExchange {
    use oauth_core::clock::CountingRandom;
    use oauth_core::oauth2::{AuthorizationRequest, RedirectUri};

    let redirect = RedirectUri::new("https://client.example.com/cb").unwrap();
    let request = AuthorizationRequest::new(
        &Endpoint::new("https://as.example.com/authorize").unwrap(),
        "client",
        &redirect,
    );
    let request = if oidc { request.oidc_nonce() } else { request };
    let (_, pending) = request
        .dangerous_custom_state("S")
        .build(&CountingRandom::new(1))
        .unwrap();
    pending
        .parse_callback("https://client.example.com/cb?code=c&state=S")
        .unwrap()
}

/// `MemoryStore` writes from synchronous test code.
trait SaveBlocking {
    fn save_blocking(&self, token: &Token);
}

impl SaveBlocking for MemoryStore {
    fn save_blocking(&self, token: &Token) {
        let store = self.clone();
        let token = token.clone();
        futures_lite_block_on(async move {
            tower_oauth2::store::TokenStore::save(&store, &token)
                .await
                .unwrap();
        });
    }
}

/// `MemoryStore::save` completes on its first poll; no executor is needed.
fn futures_lite_block_on(fut: impl std::future::Future<Output = ()>) {
    let mut fut = std::pin::pin!(fut);
    let mut cx = Context::from_waker(std::task::Waker::noop());
    assert!(fut.as_mut().poll(&mut cx).is_ready());
}

#[tokio::test(start_paused = true)]
async fn s4_4_case41_token_updater_panics_are_contained() {
    let store = tower_oauth2::store::CallbackStore::new(|_token| panic!("updater bug"));
    let fetcher = grants(Fault::Ok, Arc::default()).refresh_fetcher();
    let source = TokenSource::builder()
        .token(expired_token())
        .store(store)
        .fetcher(fetcher)
        .build()
        .await
        .unwrap();
    let token = source.token().await.unwrap();
    assert_eq!(token.access_token().secret(), "new-access");
    assert_eq!(source.fetch_count(), 1, "no double refresh");
}

/// SECURITY.md §4.1 #10, RFC 6749 §10.5: an authorization code exchange that fails in transit
/// (a reset after the request went out, a 502, no answer at all) is `Transient`, but it is
/// sent exactly once: the code is single-use, and a replay can make the server revoke tokens.
#[tokio::test(start_paused = true)]
async fn s4_1_case10_a_failed_code_exchange_is_never_sent_twice() {
    for fault in [
        Fault::ConnectionRefused,
        Fault::HtmlError(502),
        Fault::RetryAfter(503),
        Fault::NoResponse,
    ] {
        let exchange = code_exchange(false);
        let calls = Arc::new(AtomicUsize::new(0));
        let error = tokio::time::timeout(
            Duration::from_secs(60),
            grants(fault, calls.clone()).exchange_code(exchange),
        )
        .await
        .expect("bounded by the client's timeout")
        .unwrap_err();
        assert!(error.is_transient(), "{fault:?}: {error:?}");
        assert_no_secret(&format!("{error} {error:?}"));
        // Given time to retry by itself, it has not.
        tokio::time::sleep(Duration::from_secs(600)).await;
        assert_eq!(calls.load(Ordering::SeqCst), 1, "{fault:?}");
    }
}

/// SECURITY.md §4.4 #40 and #41: `token_updater` hears of each new token exactly once, before
/// the token is used; when it fails with an error, the new token stays in memory and is used,
/// the failure is reported without the token, and nothing is refreshed twice.
#[tokio::test(start_paused = true)]
async fn s4_4_case40_41_token_updater_called_once_and_its_errors_contained() {
    for fails in [false, true] {
        let calls = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        let store = tower_oauth2::store::CallbackStore::new(move |token: &Token| {
            log.lock()
                .unwrap()
                .push(token.access_token().secret().to_owned());
            if fails {
                Err("disk full".into())
            } else {
                Ok(())
            }
        });
        let source = TokenSource::builder()
            .token(expired_token())
            .store(store)
            .fetcher(grants(Fault::Ok, calls.clone()).refresh_fetcher())
            .build()
            .await
            .unwrap();
        for _ in 0..3 {
            let token = source.token().await.unwrap();
            assert_eq!(token.access_token().secret(), "new-access", "fails={fails}");
        }
        assert_eq!(*seen.lock().unwrap(), ["new-access"], "fails={fails}");
        assert_eq!(calls.load(Ordering::SeqCst), 1, "fails={fails}");
        assert_eq!(source.fetch_count(), 1, "fails={fails}");
        assert_eq!(
            source.current().unwrap().access_token().secret(),
            "new-access"
        );
    }
}

/// SECURITY.md §4.4 #42 at the token source: a refresh answered with a narrower scope than
/// the token had is accepted (no error), and the token in use and in the store records the
/// new scope; a later refresh answered with no `scope` keeps it (RFC 6749 §5.1).
#[tokio::test(start_paused = true)]
async fn s4_4_case42_a_narrower_scope_from_a_refresh_is_used_and_saved() {
    use oauth_core::oauth2::Scope;
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let svc = BoxCloneSyncService::new(tower::service_fn(move |_req: Request<Full<Bytes>>| {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        let body = if n == 0 {
            r#"{"access_token":"narrow","token_type":"Bearer","expires_in":3600,"scope":"read"}"#
        } else {
            r#"{"access_token":"unscoped","token_type":"Bearer","expires_in":3600}"#
        };
        Box::pin(async move { Ok::<_, BoxError>(json(200, body)) })
            as Pin<Box<dyn Future<Output = _> + Send>>
    }));
    let grants = GrantClient::new(
        svc,
        Endpoint::new("https://as.example.com/token").unwrap(),
        Client::secret_basic("client", ClientSecret::new(CLIENT_SECRET)),
    );
    let store =
        MemoryStore::with_token(expired_token().with_scope(Some(Scope::parse("read write"))));
    let source = TokenSource::builder()
        .store(store.clone())
        .fetcher(grants.refresh_fetcher())
        .build()
        .await
        .unwrap();
    let token = source.token().await.expect("a narrower scope is accepted");
    assert_eq!(token.access_token().secret(), "narrow");
    assert_eq!(token.scope().unwrap().to_string(), "read");
    assert_eq!(store.get().unwrap().scope().unwrap().to_string(), "read");
    tokio::time::advance(Duration::from_secs(3600)).await;
    let token = source.token().await.unwrap();
    assert_eq!(token.access_token().secret(), "unscoped");
    assert_eq!(token.scope().unwrap().to_string(), "read");
    assert_eq!(store.get().unwrap().scope().unwrap().to_string(), "read");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

/// SECURITY.md §4.4 #35: `invalid_grant` on refresh is terminal, the token is kept (not
/// deleted), and the store hears of the revoked grant once: `CallbackStore::on_revoked` here,
/// with the refused token. A panic in it is contained.
#[tokio::test(start_paused = true)]
async fn s4_4_case35_the_store_hears_of_a_revoked_grant_once() {
    for panics in [false, true] {
        let revoked = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = revoked.clone();
        let store = tower_oauth2::store::CallbackStore::new(|_| Ok(())).on_revoked(move |token| {
            log.lock()
                .unwrap()
                .push(token.refresh_token().unwrap().secret().to_owned());
            assert!(!panics, "on_revoked bug");
        });
        TokenStore::save(&store, &expired_token()).await.unwrap();
        let calls = Arc::new(AtomicUsize::new(0));
        let source = TokenSource::builder()
            .store(store.clone())
            .fetcher(grants(Fault::InvalidGrant, calls.clone()).refresh_fetcher())
            .build()
            .await
            .unwrap();
        let error = source.token().await.unwrap_err();
        assert_eq!(error.kind(), TokenErrorKind::Reauthorize);
        assert!(source.token().await.is_err());
        assert_eq!(*revoked.lock().unwrap(), [OLD_REFRESH], "panics={panics}");
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        // Kept, in memory and in the store.
        assert_eq!(
            source.current().unwrap().access_token().secret(),
            OLD_ACCESS
        );
        let stored = TokenStore::load(&store).await.unwrap().unwrap();
        assert_eq!(stored.refresh_token().unwrap().secret(), OLD_REFRESH);
    }
}

/// SECURITY.md §4.10 #88: the system clock is stepped an hour forward between making the grant
/// client and the token source. The source judges expiry by the clock that dated the token
/// (the grant client's, through `TokenFetcher::clock`), so a one-hour token is used for its
/// hour. With a clock of its own it would read the token as already expired and fetch again
/// for every request.
#[tokio::test(start_paused = true)]
async fn s4_10_case88_a_clock_step_between_making_the_client_and_the_source_skews_nothing() {
    let calls = Arc::new(AtomicUsize::new(0));
    // A clock read an hour before the step (what `GrantClient::new` would have read then).
    let before_the_step = TokioClock::starting_at(SystemTime::now() - Duration::from_secs(3600));
    let grants = grants(Fault::Ok, calls.clone()).clock(before_the_step);
    let source = TokenSource::builder()
        .fetcher(grants.client_credentials_fetcher(None))
        .build()
        .await
        .unwrap();
    for _ in 0..5 {
        source.token().await.unwrap();
        tokio::time::advance(Duration::from_secs(60)).await;
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1, "one token for the hour");
    tokio::time::advance(Duration::from_secs(3600)).await;
    source.token().await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2, "and a new one after it");
}

/// Case 88 for a source that refreshes: after the same clock step, a refreshed one-hour token
/// (dated by the grant client's clock through the refresh fetcher's `TokenFetcher::clock`) is
/// used for its hour, then refreshed once more. Judged by a clock of the source's own, an hour
/// ahead, every refreshed token would read as expired and each request would refresh again.
#[tokio::test(start_paused = true)]
async fn s4_10_case88_a_refreshing_source_judges_expiry_by_the_grant_clients_clock() {
    let calls = Arc::new(AtomicUsize::new(0));
    let before_the_step = TokioClock::starting_at(SystemTime::now() - Duration::from_secs(3600));
    let expired = Token::new(AccessToken::new(OLD_ACCESS), TokenType::Bearer)
        .with_expires_at(Some(before_the_step.now() - Duration::from_secs(1)))
        .with_refresh_token(Some(RefreshToken::new(OLD_REFRESH)));
    let grants = grants(Fault::Ok, calls.clone()).clock(before_the_step);
    let source = TokenSource::builder()
        .store(MemoryStore::with_token(expired))
        .fetcher(grants.refresh_fetcher())
        .build()
        .await
        .unwrap();
    for _ in 0..5 {
        let token = source.token().await.unwrap();
        assert_eq!(token.access_token().secret(), "new-access");
        tokio::time::advance(Duration::from_secs(60)).await;
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1, "one refresh for the hour");
    tokio::time::advance(Duration::from_secs(3600)).await;
    source.token().await.unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), 2, "and another after it");
}

/// A grant client offers its sources the clock it dates tokens by: the default one (a token's
/// `expires_at` is that clock's time of receipt plus `expires_in`, exactly, in paused time),
/// or one it was given, which the source then reads on every request unless it is tokio's.
#[tokio::test(start_paused = true)]
async fn the_grant_clients_clock_is_offered_to_its_sources() {
    let grants = grants(Fault::Ok, Arc::default());
    let offered = grants.refresh_fetcher().clock().unwrap();
    assert!(offered.is_tokio());
    let token = grants.client_credentials(None).await.unwrap();
    assert_eq!(
        token.expires_at(),
        Some(offered.now() + Duration::from_secs(3600))
    );
    let offered = grants.client_credentials_fetcher(None).clock().unwrap();
    assert_eq!(
        token.expires_at(),
        Some(offered.now() + Duration::from_secs(3600))
    );

    let custom = grants.clone().clock(oauth_core::clock::SystemClock);
    assert!(!custom.refresh_fetcher().clock().unwrap().is_tokio());
    let shared = grants.clock(Arc::new(TokioClock::new()));
    assert!(shared.refresh_fetcher().clock().unwrap().is_tokio());
}

/// An error printed with its causes (`{:#}` in anyhow, or any chain walker) says each thing
/// once: the server's answer is in the grant client's own message, and the chain goes on from
/// there rather than repeating it; the answer stays at hand through `response_error`.
#[tokio::test(start_paused = true)]
async fn an_error_chain_says_the_servers_answer_once() {
    for fault in [
        Fault::InvalidGrant,
        Fault::BrokenJson,
        Fault::HtmlError(500),
    ] {
        let error = grants(fault, Arc::default())
            .refresh(&RefreshToken::new(OLD_REFRESH), None)
            .await
            .unwrap_err();
        assert!(error.response_error().is_some(), "{fault:?}");
        let mut levels = vec![error.to_string()];
        let mut next = std::error::Error::source(&error);
        while let Some(cause) = next {
            levels.push(cause.to_string());
            next = cause.source();
        }
        for (i, level) in levels.iter().enumerate().skip(1) {
            assert!(
                !levels[i - 1].contains(level.as_str()),
                "{fault:?}: said twice: {levels:?}"
            );
        }
        assert_no_secret(&levels.join(": "));
    }
    let error = grants(Fault::InvalidGrant, Arc::default())
        .refresh(&RefreshToken::new(OLD_REFRESH), None)
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "token request failed: token endpoint error (HTTP 400 Bad Request): invalid_grant: refresh token revoked"
    );
    assert!(std::error::Error::source(&error).is_none());
    assert_eq!(error.error_code(), Some(&ErrorCode::InvalidGrant));
}

// ---- SECURITY.md §4.1 #1–#3, §4.10 #87 ----

/// SECURITY.md §4.1 #1, #2, #3: the grant client names the fault, not only "transient": a
/// refused connection is `Transport`, no response headers and a trickling body are `Timeout`
/// (a whole-response deadline), each retryable and sent once.
#[tokio::test(start_paused = true)]
async fn s4_1_case1_2_3_transport_and_timeout_kinds_are_distinct() {
    for (fault, kind) in [
        (Fault::ConnectionRefused, GrantClientErrorKind::Transport),
        (Fault::NoResponse, GrantClientErrorKind::Timeout),
        (Fault::Trickle, GrantClientErrorKind::Timeout),
    ] {
        let calls = Arc::new(AtomicUsize::new(0));
        let started = tokio::time::Instant::now();
        let error = tokio::time::timeout(
            Duration::from_secs(60),
            grants(fault, calls.clone()).client_credentials(None),
        )
        .await
        .expect("bounded by the client's timeout")
        .unwrap_err();
        assert_eq!(error.kind(), kind, "{fault:?}: {error:?}");
        assert!(error.is_transient(), "{fault:?}");
        assert_eq!(calls.load(Ordering::SeqCst), 1, "{fault:?}");
        if kind == GrantClientErrorKind::Timeout {
            // The 5 s deadline of `grants()`, not the 60 s guard.
            assert!(started.elapsed() <= Duration::from_secs(6), "{fault:?}");
        }
        assert_no_secret(&format!("{error} {error:?}"));
    }
}

/// SECURITY.md §4.10 #87: the authorization server's clock is an hour ahead or behind ours
/// (its `Date` header says so). The expiry is our receipt time plus `expires_in`, whatever the
/// server's `Date`: a one-hour token is used for an hour, not refetched at once nor kept for
/// two.
#[tokio::test(start_paused = true)]
async fn s4_10_case87_the_servers_date_does_not_move_the_expiry() {
    for offset in [3600i64, -3600] {
        let server_now = if offset > 0 {
            SystemTime::now() + Duration::from_secs(offset as u64)
        } else {
            SystemTime::now() - Duration::from_secs(offset.unsigned_abs())
        };
        let date = httpdate::fmt_http_date(server_now);
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = calls.clone();
        let svc = BoxCloneSyncService::new(tower::service_fn(move |_req: Request<Full<Bytes>>| {
            counter.fetch_add(1, Ordering::SeqCst);
            let date = date.clone();
            Box::pin(async move {
                Ok::<_, BoxError>(
                    Response::builder()
                        .header("content-type", "application/json")
                        .header("date", date)
                        .body(full(
                            r#"{"access_token":"new-access","token_type":"Bearer","expires_in":3600}"#
                                .into(),
                        ))
                        .unwrap(),
                )
            }) as Pin<Box<dyn Future<Output = _> + Send>>
        }));
        let clock = TokioClock::new();
        let grants = GrantClient::new(
            svc,
            Endpoint::new("https://as.example.com/token").unwrap(),
            Client::secret_basic("client", ClientSecret::new(CLIENT_SECRET)),
        )
        .clock(clock.clone());
        let token = grants.client_credentials(None).await.unwrap();
        assert_eq!(
            token.expires_at(),
            Some(clock.now() + Duration::from_secs(3600)),
            "offset {offset}"
        );
        let source = TokenSource::builder()
            .fetcher(grants.client_credentials_fetcher(None))
            .build()
            .await
            .unwrap();
        calls.store(0, Ordering::SeqCst);
        for _ in 0..5 {
            source.token().await.unwrap();
            tokio::time::advance(Duration::from_secs(60)).await;
        }
        assert_eq!(
            calls.load(Ordering::SeqCst),
            1,
            "offset {offset}: one token for the hour"
        );
    }
}

/// A one-hour token in `store`, refreshed through a grant client whose token endpoint answers
/// with `fault`, and the count of its requests.
async fn one_hour_token_source(
    fault: Fault,
    store: &MemoryStore,
) -> (TokenSource, Arc<AtomicUsize>) {
    let calls = Arc::new(AtomicUsize::new(0));
    let fresh = Token::new(AccessToken::new(OLD_ACCESS), TokenType::Bearer)
        .with_expires_at(Some(TokioClock::new().now() + Duration::from_secs(3600)))
        .with_refresh_token(Some(RefreshToken::new(OLD_REFRESH)));
    TokenStore::save(store, &fresh).await.unwrap();
    let source = TokenSource::builder()
        .store(store.clone())
        .fetcher(grants(fault, calls.clone()).refresh_fetcher())
        .build()
        .await
        .unwrap();
    (source, calls)
}

/// SECURITY.md §4.4 #38 at the token source, with the refresh really made: a one-hour token
/// enters its 60 s margin and the refresh started then is answered 503. Callers keep getting
/// the old, still valid token (no error), there is one attempt per back-off window, and both
/// old tokens stay in the store.
#[tokio::test(start_paused = true)]
async fn s4_4_case38_a_503_on_a_refresh_inside_the_margin_keeps_serving_the_old_token() {
    let store = MemoryStore::new();
    let (source, calls) = one_hour_token_source(Fault::HtmlError(503), &store).await;
    assert_eq!(
        source.token().await.unwrap().access_token().secret(),
        OLD_ACCESS
    );
    tokio::time::advance(Duration::from_secs(3600 - 30)).await;
    for _ in 0..4 {
        let token = source.token().await.expect("the old token is still valid");
        assert_eq!(token.access_token().secret(), OLD_ACCESS);
        tokio::time::sleep(Duration::from_millis(500)).await;
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "refreshed once, then backing off"
    );
    tokio::time::sleep(RefreshPolicy::default().initial_backoff).await;
    let token = source.token().await.expect("the old token is still valid");
    assert_eq!(token.access_token().secret(), OLD_ACCESS);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "once more after the back-off"
    );
    let stored = store.get().unwrap();
    assert_eq!(stored.access_token().secret(), OLD_ACCESS);
    assert_eq!(stored.refresh_token().unwrap().secret(), OLD_REFRESH);
}

/// SECURITY.md §4.4 #35 inside the margin: a refresh of a still valid token answered
/// `invalid_grant` marks the token unusable at once (the grant is gone), rather than using it
/// until it expires; it is kept, not deleted, and not refreshed again.
#[tokio::test(start_paused = true)]
async fn s4_4_case35_invalid_grant_inside_the_margin_marks_the_valid_token_unusable() {
    let store = MemoryStore::new();
    let (source, calls) = one_hour_token_source(Fault::InvalidGrant, &store).await;
    tokio::time::advance(Duration::from_secs(3600 - 30)).await;
    let token = source.token().await.expect("used while the refresh runs");
    assert_eq!(token.access_token().secret(), OLD_ACCESS);
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    for _ in 0..3 {
        let error = source.token().await.unwrap_err();
        assert_eq!(error.kind(), TokenErrorKind::Reauthorize);
        tokio::time::sleep(Duration::from_secs(5)).await;
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1, "not refreshed again");
    assert_eq!(
        source.current().unwrap().access_token().secret(),
        OLD_ACCESS
    );
    assert_eq!(
        store.get().unwrap().refresh_token().unwrap().secret(),
        OLD_REFRESH
    );
}

/// SECURITY.md §4.3 #29 and #34 at the token source: a token endpoint that answers
/// `expires_in: 0` (expired on arrival) or `5` (inside the 60 s margin) does not make the
/// source fetch on every call: 200 calls in one second make at most two fetches, and every
/// call gets a token.
#[tokio::test(start_paused = true)]
async fn s4_3_case29_34_born_expired_tokens_cause_no_refresh_storm() {
    for lifetime in [0u64, 5] {
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = calls.clone();
        let body: &'static str = if lifetime == 0 {
            r#"{"access_token":"short","token_type":"Bearer","expires_in":0}"#
        } else {
            r#"{"access_token":"short","token_type":"Bearer","expires_in":5}"#
        };
        let svc = BoxCloneSyncService::new(tower::service_fn(move |_req: Request<Full<Bytes>>| {
            counter.fetch_add(1, Ordering::SeqCst);
            Box::pin(async move { Ok::<_, BoxError>(json(200, body)) })
                as Pin<Box<dyn Future<Output = _> + Send>>
        }));
        let grants = GrantClient::new(
            svc,
            Endpoint::new("https://as.example.com/token").unwrap(),
            Client::secret_basic("client", ClientSecret::new(CLIENT_SECRET)),
        );
        let source = TokenSource::builder()
            .fetcher(grants.client_credentials_fetcher(None))
            .build()
            .await
            .unwrap();
        let mut ok = 0;
        for _ in 0..200 {
            if source.token().await.is_ok() {
                ok += 1;
            }
            tokio::time::advance(Duration::from_millis(5)).await;
        }
        let fetches = calls.load(Ordering::SeqCst);
        assert_eq!(ok, 200, "lifetime {lifetime}: every call got a token");
        assert!(
            fetches <= 2,
            "lifetime {lifetime}: {fetches} fetches in one second"
        );
    }
}

/// A body of `left` 64 KiB chunks that counts the chunks it was asked for.
struct CountingBody {
    left: usize,
    polled: Arc<AtomicUsize>,
}

impl Body for CountingBody {
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, BoxError>>> {
        if self.left == 0 {
            return Poll::Ready(None);
        }
        self.left -= 1;
        self.polled.fetch_add(1, Ordering::SeqCst);
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(vec![b' '; 64 * 1024])))))
    }
}

/// SECURITY.md §4.1 #4: with an unbounded body (here 1 GiB in 64 KiB chunks), reading
/// stops at the 1 MiB cap: at most the chunks that cross it are pulled, not the whole body.
#[tokio::test(start_paused = true)]
async fn s4_1_case4_reading_stops_at_the_cap() {
    let polled = Arc::new(AtomicUsize::new(0));
    let counter = polled.clone();
    let svc = BoxCloneSyncService::new(tower::service_fn(move |_req: Request<Full<Bytes>>| {
        let polled = counter.clone();
        Box::pin(async move {
            Ok::<_, BoxError>(
                Response::builder()
                    .header("content-type", "application/json")
                    .body(BoxBody::new(CountingBody {
                        left: 16 * 1024,
                        polled,
                    }))
                    .unwrap(),
            )
        }) as Pin<Box<dyn Future<Output = _> + Send>>
    }));
    let error = GrantClient::new(
        svc,
        Endpoint::new("https://as.example.com/token").unwrap(),
        Client::secret_basic("client", ClientSecret::new(CLIENT_SECRET)),
    )
    .client_credentials(None)
    .await
    .unwrap_err();
    assert_eq!(error.kind(), GrantClientErrorKind::ResponseTooLarge);
    let n = polled.load(Ordering::SeqCst);
    assert!(n <= 17, "{n} chunks of 64 KiB read for a 1 MiB cap");
}

/// RFC 6749 §10.4: a refresh token goes back only to the token endpoint and client it was
/// issued to. Tokens from the grant client record both (`IssuedTo`, persisted with the token);
/// a stored token recorded as issued elsewhere (one token file for two configurations) is not
/// used, and a refresh of such a token is refused without a request. A token with no record
/// (from elsewhere, or saved by an older version) is refreshed as before.
#[tokio::test(start_paused = true)]
async fn a_token_issued_elsewhere_is_never_sent_to_this_server() {
    use oauth_core::oauth2::IssuedTo;
    use tower_oauth2::client::IssuedElsewhere;

    let calls = Arc::new(AtomicUsize::new(0));
    let here = grants(Fault::Ok, calls.clone());
    let token = here.client_credentials(None).await.unwrap();
    assert_eq!(
        token.issued_to(),
        Some(&IssuedTo::new("https://as.example.com/token", "client"))
    );
    let elsewhere = expired_token().with_issued_to(Some(IssuedTo::new(
        "https://other-as.example.com/token",
        "client",
    )));
    let other_client =
        expired_token().with_issued_to(Some(IssuedTo::new("https://as.example.com/token", "x")));

    // Refreshing it: refused before any request, as "authorize again".
    for foreign in [&elsewhere, &other_client] {
        let before = calls.load(Ordering::SeqCst);
        let error = here
            .refresh_fetcher()
            .fetch(Some(foreign))
            .await
            .unwrap_err();
        assert_eq!(error.kind(), TokenErrorKind::Reauthorize);
        let cause = std::error::Error::source(&error).unwrap();
        assert!(cause.downcast_ref::<IssuedElsewhere>().is_some(), "{cause}");
        assert_eq!(calls.load(Ordering::SeqCst), before, "nothing was sent");
        assert_no_secret(&error.to_string());
    }

    // Stored: not used (no token for the API), and a token given after a new login replaces it.
    let store = MemoryStore::with_token(elsewhere.clone());
    let source = TokenSource::builder()
        .store(store.clone())
        .fetcher(here.refresh_fetcher())
        .build()
        .await
        .unwrap();
    assert!(source.current().is_none());
    let error = source.token().await.unwrap_err();
    assert_eq!(error.kind(), TokenErrorKind::NoToken);
    let fresh = here.client_credentials(None).await.unwrap();
    TokenSource::builder()
        .store(store.clone())
        .fetcher(here.refresh_fetcher())
        .token(fresh.clone())
        .build()
        .await
        .unwrap();
    assert_eq!(store.get(), Some(fresh));

    // No record: refreshed as before.
    let before = calls.load(Ordering::SeqCst);
    here.refresh_fetcher()
        .fetch(Some(&expired_token()))
        .await
        .unwrap();
    assert_eq!(calls.load(Ordering::SeqCst), before + 1);
}

/// A token request that cannot be made (here: a `private_key_jwt` client whose RSA key is too
/// small for RS256, RFC 7518 §3.3) is sent nowhere, and it is a configuration error: the same
/// request will never be made, so a user grant's refresh is not tried again. It used to be
/// `InvalidResponse` ("the token endpoint's response is not a usable token", although nothing
/// was sent), which backs off and tries again for ever.
#[tokio::test(start_paused = true)]
async fn a_token_request_that_cannot_be_made_is_a_configuration_error() {
    use oauth_core::oauth2::{PrivateKeyJwt, RsaPrivateKey};
    let key = RsaPrivateKey::from_pem_with_min_bits(
        include_str!("../../oauth-core/tests/vectors/oauth1/oauthlib_rsa_1024_pkcs1.pem"),
        1024,
    )
    .unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let grants = GrantClient::new(
        endpoint(Fault::Ok, calls.clone()),
        Endpoint::new("https://as.example.com/token").unwrap(),
        Client::private_key_jwt("client", PrivateKeyJwt::rs256(key)),
    );
    let error = grants.client_credentials(None).await.unwrap_err();
    assert_eq!(error.kind(), GrantClientErrorKind::Request);
    assert!(!error.is_transient());
    assert_eq!(
        error.into_token_error().kind(),
        TokenErrorKind::Configuration
    );
    let source = TokenSource::builder()
        .token(expired_token())
        .fetcher(grants.refresh_fetcher())
        .build()
        .await
        .unwrap();
    let error = source.token().await.unwrap_err();
    assert_eq!(error.kind(), TokenErrorKind::Configuration, "{error}");
    assert!(error.is_terminal());
    assert_eq!(calls.load(Ordering::SeqCst), 0, "nothing was sent");
}

/// The defaults `GrantClient::timeout` and `GrantClient::max_response_bytes` state: 30 s for a
/// whole exchange, and a response body of 1 MiB read (one byte more refused).
#[tokio::test(start_paused = true)]
async fn the_grant_clients_default_deadline_and_body_limit_are_the_documented_ones() {
    let token_endpoint = || Endpoint::new("https://as.example.com/token").unwrap();
    let client = || Client::secret_basic("client", ClientSecret::new(CLIENT_SECRET));

    let silent = tower::service_fn(|_req: Request<Full<Bytes>>| async {
        std::future::pending::<Result<Response<Full<Bytes>>, Infallible>>().await
    });
    let started = tokio::time::Instant::now();
    let error = GrantClient::new(silent, token_endpoint(), client())
        .client_credentials(None)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), GrantClientErrorKind::Timeout);
    let waited = started.elapsed();
    assert!(
        (Duration::from_secs(30)..Duration::from_secs(31)).contains(&waited),
        "{waited:?}"
    );

    // A valid token response padded to exactly `len` bytes.
    let sized = |len: usize| {
        tower::service_fn(move |_req: Request<Full<Bytes>>| async move {
            let head = r#"{"access_token":"at","token_type":"Bearer","pad":""#;
            let tail = r#""}"#;
            let body = format!("{head}{}{tail}", "x".repeat(len - head.len() - tail.len()));
            assert_eq!(body.len(), len);
            Ok::<_, Infallible>(
                Response::builder()
                    .header("content-type", "application/json")
                    .body(Full::new(Bytes::from(body)))
                    .unwrap(),
            )
        })
    };
    const MIB: usize = 1 << 20;
    let token = GrantClient::new(sized(MIB), token_endpoint(), client())
        .client_credentials(None)
        .await
        .unwrap();
    assert_eq!(token.access_token().secret(), "at");
    let error = GrantClient::new(sized(MIB + 1), token_endpoint(), client())
        .client_credentials(None)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), GrantClientErrorKind::ResponseTooLarge);
}

/// What `TokenStore::grant_revoked` says of how often it is called: once per refused refresh.
/// A user grant refused with `invalid_grant` is not tried again (not for a 401 either, however
/// long after), so its store hears of it once.
#[tokio::test(start_paused = true)]
async fn a_revoked_user_grant_is_not_tried_again_after_a_401() {
    let revoked = Arc::new(AtomicUsize::new(0));
    let count = revoked.clone();
    let store = tower_oauth2::store::CallbackStore::new(|_| Ok(())).on_revoked(move |_| {
        count.fetch_add(1, Ordering::SeqCst);
    });
    TokenStore::save(&store, &expired_token()).await.unwrap();
    let calls = Arc::new(AtomicUsize::new(0));
    let source = TokenSource::builder()
        .store(store)
        .fetcher(grants(Fault::InvalidGrant, calls.clone()).refresh_fetcher())
        .build()
        .await
        .unwrap();
    let error = source.token().await.unwrap_err();
    assert_eq!(error.kind(), TokenErrorKind::Reauthorize);
    for _ in 0..3 {
        tokio::time::advance(Duration::from_secs(3600)).await;
        // What the layer does after a 401.
        let error = source.refresh().await.unwrap_err();
        assert_eq!(error.kind(), TokenErrorKind::Reauthorize);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(revoked.load(Ordering::SeqCst), 1);
}
