//! The middleware against closure mocks: origins, existing credentials, 401 retries, and the
//! single-flight refresh under load, on tokio's paused clock.
#![allow(clippy::unwrap_used, clippy::expect_used)]
// Test helpers return `impl Service` tuples; naming them would add noise, not clarity.
#![allow(clippy::type_complexity)]

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{Empty, Full};
use oauth_core::clock::Clock;
use oauth_core::oauth2::RefreshPolicy;
use oauth_core::oauth2::Token;
use oauth_core::secret::RefreshToken;
use tower::{BoxError, Service, ServiceBuilder, ServiceExt};
use tower_oauth2::clock::TokioClock;
use tower_oauth2::policy::{ExistingAuthorization, ForeignOrigin, Origin, ReplayClone, RetryOn401};
use tower_oauth2::source::{TokenError, TokenErrorKind, TokenFetcher};
use tower_oauth2::store::MemoryStore;
use tower_oauth2::{ErrorKind, OAuth2Layer, OriginError, TokenSource};

mod common;
use common::{
    API, api_rejecting_token, api_rejecting_token_with, authorization_of, bearer, dpop_key,
    dpop_token, recording_api,
};

/// `layer.layer_service(inner)`: `Layer::layer` by value, for builder chains.
trait LayerService: Sized {
    fn layer_service<S>(self, inner: S) -> <Self as tower::Layer<S>>::Service
    where
        Self: tower::Layer<S>,
    {
        tower::Layer::layer(&self, inner)
    }
}

impl<R> LayerService for OAuth2Layer<R> {}

fn expiring(value: &str, now: SystemTime, secs: u64) -> Token {
    bearer(value)
        .with_expires_at(Some(now + Duration::from_secs(secs)))
        .with_refresh_token(Some(RefreshToken::new(format!("rt-{value}"))))
}

/// A source holding `Bearer old` (with a refresh token) that refreshes with `fetch`.
async fn old_token_source(fetch: impl TokenFetcher) -> TokenSource {
    TokenSource::builder()
        .token(bearer("old").with_refresh_token(Some(RefreshToken::new("rt"))))
        .fetcher(fetch)
        .build()
        .await
        .unwrap()
}

fn get(uri: &str) -> Request<Empty<Bytes>> {
    Request::get(uri).body(Empty::new()).unwrap()
}

#[tokio::test]
async fn fresh_token_is_added_as_sensitive_bearer_header() {
    let api = tower::service_fn(|req: Request<Empty<Bytes>>| async move {
        let value = req.headers().get("authorization").unwrap();
        assert!(value.is_sensitive());
        assert_eq!(value, "Bearer abc");
        Ok::<_, Infallible>(Response::new(Empty::<Bytes>::new()))
    });
    let svc = ServiceBuilder::new()
        .layer(OAuth2Layer::new(TokenSource::from_token(bearer("abc")), API).unwrap())
        .service(api);
    svc.oneshot(get("https://api.example.com/me"))
        .await
        .unwrap();
}

#[tokio::test]
async fn other_origins_get_no_token_or_are_rejected() {
    let (api, seen) = recording_api(vec![], authorization_of);
    let layer = OAuth2Layer::new(TokenSource::from_token(bearer("abc")), API).unwrap();
    let mut svc = layer.clone().layer_service(api.clone());
    for uri in [
        "https://evil.example.com/",
        "http://api.example.com/",
        "https://api.example.com:8443/",
        "https://api.example.com.evil.example/",
    ] {
        svc.ready().await.unwrap().call(get(uri)).await.unwrap();
    }
    svc.ready()
        .await
        .unwrap()
        .call(get("https://API.example.com:443/x"))
        .await
        .unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        [None, None, None, None, Some("Bearer abc".into())]
    );

    let strict = layer
        .foreign_origins(ForeignOrigin::Reject)
        .layer_service(api);
    let err = strict
        .oneshot(get("https://evil.example.com/"))
        .await
        .unwrap_err();
    let err = err.downcast::<tower_oauth2::Error>().unwrap();
    assert_eq!(err.kind(), ErrorKind::ForeignOrigin);
}

/// BCP-16 (RFC 9700 §4.9.1): an origin matches its own authority only, every byte of it (up
/// to ASCII case). A host of any length with one byte changed, wherever (at the end or in the
/// middle, where look-alike hosts differ), matches neither through `Origin::matches` nor, so
/// gets no token, through the layer.
#[tokio::test]
async fn a_host_one_byte_off_an_origin_never_matches_at_any_length() {
    // (Distinct letters, and one letter repeated: a comparison of the wrong bytes can look
    // right on one of them.)
    let hosts = (1..=24).flat_map(|len| {
        let letters: String = (b'a'..=b'z').cycle().take(len).map(char::from).collect();
        [letters, "a".repeat(len)]
    });
    for host in hosts {
        let len = host.len();
        let origin = Origin::parse(&format!("https://{host}")).unwrap();
        for port in ["", ":443"] {
            let uri = |h: &str| format!("https://{h}{port}/x").parse::<http::Uri>().unwrap();
            assert!(origin.matches(&uri(&host)), "{host}{port}");
            assert!(origin.matches(&uri(&host.to_uppercase())), "{host}{port}");
            for at in 0..len {
                let mut other = host.clone().into_bytes();
                other[at] = b'0';
                let other = String::from_utf8(other).unwrap();
                assert!(
                    !origin.matches(&uri(&other)),
                    "{host} matched {other}{port}"
                );
                let other_origin = Origin::parse(&format!("https://{other}")).unwrap();
                assert!(
                    !other_origin.matches(&uri(&host)),
                    "{other} matched {host}{port}"
                );
            }
        }
    }

    let (api, seen) = recording_api(vec![], authorization_of);
    let svc = OAuth2Layer::new(TokenSource::from_token(bearer("abc")), API)
        .unwrap()
        .layer_service(api);
    for uri in [
        "https://api.example.org/",
        "https://api.exampl0.com/",
        "https://apI.example.com/",
    ] {
        svc.clone().oneshot(get(uri)).await.unwrap();
    }
    assert_eq!(
        *seen.lock().unwrap(),
        [None, None, Some("Bearer abc".into())]
    );
}

/// An origin prints (`Display` and `Debug` alike, as in a layer's `Debug`) as its scheme, host
/// in lower case, and effective port: nothing else of the URI it was parsed from.
#[test]
fn an_origin_prints_as_scheme_host_and_port() {
    for (parsed, printed) in [
        ("https://API.example.com", "https://api.example.com:443"),
        (
            "https://api.example.com:8443/",
            "https://api.example.com:8443",
        ),
        ("http://[::1]:8080", "http://[::1]:8080"),
    ] {
        let origin = Origin::parse(parsed).unwrap();
        assert_eq!(origin.to_string(), printed);
        assert_eq!(format!("{origin:?}"), printed);
    }
}

/// The service's `Debug`, once it has sent a request (and so holds the token it used and what
/// a retry needs), shows that state and its origins, and its response future's names the
/// type; neither shows the access or refresh token (SECURITY §4.9 #86).
#[tokio::test]
async fn the_service_debug_shows_its_state_but_never_a_token() {
    let token = bearer("secret-access").with_refresh_token(Some(RefreshToken::new("secret-rt")));
    let api = tower::service_fn(|_: Request<Empty<Bytes>>| async {
        Ok::<_, Infallible>(Response::new(Empty::<Bytes>::new()))
    });
    let (fetch, _) = counting_fetcher(Duration::from_millis(5), 3600);
    let source = TokenSource::builder()
        .token(token)
        .fetcher(fetch)
        .build()
        .await
        .unwrap();
    let mut svc = OAuth2Layer::new(source, API).unwrap().layer_service(api);
    let future = svc
        .ready()
        .await
        .unwrap()
        .call(get("https://api.example.com/"));
    // (The response future holds the request, its token and a copy for a retry.)
    let debug = format!("{future:?}");
    assert!(debug.starts_with("ResponseFuture"), "{debug}");
    assert!(!debug.contains("secret"), "{debug}");
    future.await.unwrap();
    let debug = format!("{svc:?}");
    assert!(!debug.contains("secret"), "{debug}");
    // (The token entry it used: the token redacted, its generation and freshness.)
    for part in [
        "https://api.example.com:443",
        "RetryContext",
        "cached: Some(Entry { token: Token {",
        "generation: 1, stale: false",
    ] {
        assert!(debug.contains(part), "{part} missing from {debug}");
    }
}

/// A token source's `Debug` shows its state (its token as a `Token` prints, redacted; the
/// token generation; whether a fetch is in flight; the terminal failure), and its builder's
/// the token and the refresh policy; neither shows the access or refresh token (SECURITY §4.9
/// #86).
#[tokio::test]
async fn a_token_source_and_its_builder_debug_show_their_state_but_never_a_token() {
    let token = bearer("secret-access").with_refresh_token(Some(RefreshToken::new("secret-rt")));
    let builder = TokenSource::builder()
        .token(token)
        .policy(RefreshPolicy::default().margin(Duration::from_secs(77)));
    let debug = format!("{builder:?}");
    assert!(debug.starts_with("TokenSourceBuilder"), "{debug}");
    assert!(!debug.contains("secret"), "{debug}");
    for part in [
        "token: Some(Token {",
        "policy: RefreshPolicy {",
        "margin: 77s",
    ] {
        assert!(debug.contains(part), "{part} missing from {debug}");
    }
    let source = builder.build().await.unwrap();
    let debug = format!("{source:?}");
    assert!(debug.starts_with("TokenSource"), "{debug}");
    assert!(!debug.contains("secret"), "{debug}");
    for part in [
        "token: Some(Token {",
        "generation: ",
        "in_flight: false",
        "terminal: None",
    ] {
        assert!(debug.contains(part), "{part} missing from {debug}");
    }
}

/// With a fresh token the request is handed to the inner service within `call`, on a
/// service's first request and on the next ones: the fast path, the inner service's own
/// future, nothing boxed and nothing awaited on the token source.
#[tokio::test]
async fn a_request_with_a_fresh_token_reaches_the_inner_service_within_call() {
    let (api, seen) = recording_api(vec![], authorization_of);
    let mut svc = OAuth2Layer::new(TokenSource::from_token(bearer("abc")), API)
        .unwrap()
        .layer_service(api);
    for sent in 1..=3 {
        let future = svc
            .ready()
            .await
            .unwrap()
            .call(get("https://api.example.com/"));
        assert_eq!(seen.lock().unwrap().len(), sent, "sent before being polled");
        future.await.unwrap();
    }
    assert_eq!(
        *seen.lock().unwrap(),
        vec![Some("Bearer abc".to_owned()); 3]
    );
}

#[tokio::test]
async fn existing_authorization_is_kept_or_rejected_never_doubled() {
    let (api, seen) = recording_api(vec![], authorization_of);
    let layer = OAuth2Layer::new(TokenSource::from_token(bearer("abc")), API).unwrap();
    let mut req = get("https://api.example.com/");
    req.headers_mut()
        .insert("authorization", "Basic dXNlcjpwYXNz".parse().unwrap());
    layer
        .clone()
        .layer_service(api.clone())
        .oneshot(req)
        .await
        .unwrap();
    assert_eq!(*seen.lock().unwrap(), [Some("Basic dXNlcjpwYXNz".into())]);

    let mut req = get("https://api.example.com/");
    req.headers_mut()
        .insert("authorization", "Basic dXNlcjpwYXNz".parse().unwrap());
    let err = layer
        .existing_authorization(ExistingAuthorization::Reject)
        .layer_service(api)
        .oneshot(req)
        .await
        .unwrap_err();
    assert_eq!(
        err.downcast::<tower_oauth2::Error>().unwrap().kind(),
        ErrorKind::AuthorizationAlreadySet
    );
}

/// SECURITY.md §4.6 #55, "never two headers" (RFC 6750 §2): a request that brings its own
/// `Authorization` leaves the layer with exactly that one header, whether the layer holds a
/// Bearer token or a DPoP-bound one (which adds no `DPoP` proof either).
#[tokio::test]
async fn s4_6_case55_a_request_with_its_own_authorization_gets_no_second_one() {
    let record = |req: &Request<Empty<Bytes>>| {
        let all: Vec<String> = req
            .headers()
            .get_all("authorization")
            .iter()
            .map(|value| value.to_str().unwrap().to_owned())
            .collect();
        (all, req.headers().contains_key("dpop"))
    };
    let dpop_source = TokenSource::builder()
        .token(dpop_token("tok-1"))
        .dpop(dpop_key())
        .build()
        .await
        .unwrap();
    for source in [TokenSource::from_token(bearer("abc")), dpop_source] {
        let (api, seen) = recording_api(vec![], record);
        let mut req = get("https://api.example.com/");
        req.headers_mut()
            .insert("authorization", "Basic dXNlcjpwYXNz".parse().unwrap());
        OAuth2Layer::new(source, API)
            .unwrap()
            .layer_service(api)
            .oneshot(req)
            .await
            .unwrap();
        assert_eq!(
            *seen.lock().unwrap(),
            [(vec!["Basic dXNlcjpwYXNz".to_owned()], false)]
        );
    }
}

/// RFC 6750 §2: a client must not send a token by more than one method. A request that
/// carries `access_token` in its query already has credentials, like one with `Authorization`.
#[tokio::test]
async fn a_token_in_the_query_counts_as_existing_credentials() {
    let (api, seen) = recording_api(vec![], authorization_of);
    let layer = OAuth2Layer::new(TokenSource::from_token(bearer("abc")), API).unwrap();
    for uri in [
        "https://api.example.com/?access_token=theirs",
        "https://api.example.com/?a=1&access_token=theirs&b",
        "https://api.example.com/?access_token",
        "https://api.example.com/?access%5Ftoken=theirs",
        "https://api.example.com/?access%5ftoken=theirs",
        // Not the parameter: other names, and the name inside a value.
        "https://api.example.com/?my_access_token=x",
        "https://api.example.com/?access_tokens=x",
        "https://api.example.com/?q=access_token",
        "https://api.example.com/?q=x%26access_token%3Dy",
        "https://api.example.com/?",
    ] {
        layer
            .clone()
            .layer_service(api.clone())
            .oneshot(get(uri))
            .await
            .unwrap();
    }
    let ours = Some("Bearer abc".to_owned());
    let expected = [vec![None; 5], vec![ours; 5]].concat();
    assert_eq!(*seen.lock().unwrap(), expected);

    let err = layer
        .existing_authorization(ExistingAuthorization::Reject)
        .layer_service(api)
        .oneshot(get("https://api.example.com/?access_token=theirs"))
        .await
        .unwrap_err();
    let err = err.downcast::<tower_oauth2::Error>().unwrap();
    assert_eq!(err.kind(), ErrorKind::AuthorizationAlreadySet);
    assert!(!err.to_string().contains("theirs"));
}

#[tokio::test]
async fn plain_http_origins_need_the_loopback_opt_in() {
    let source = TokenSource::from_token(bearer("abc"));
    assert!(OAuth2Layer::new(source.clone(), "http://api.example.com").is_err());
    let refused = OAuth2Layer::new(source.clone(), "http://127.0.0.1:8080").unwrap_err();
    // The message names the opt-in, and every host it admits (`localhost` too).
    let message = refused.to_string();
    assert!(
        message.contains("OAuth2Layer::new_dangerous_http_loopback"),
        "{message}"
    );
    assert!(
        ["127.0.0.0/8", "[::1]", "localhost"]
            .iter()
            .all(|host| message.contains(host)),
        "{message}"
    );
    assert!(
        OAuth2Layer::new_dangerous_http_loopback(source.clone(), "http://127.0.0.1:8080").is_ok()
    );
    assert!(OAuth2Layer::new_dangerous_http_loopback(source.clone(), "http://10.1.2.3").is_err());
    // `also_for` follows the layer's opt-in: a second loopback port (two local services),
    // never a remote http host.
    let https_only = OAuth2Layer::new(source.clone(), "https://api.example.com").unwrap();
    assert!(matches!(
        https_only.also_for("http://127.0.0.1:9090"),
        Err(OriginError::Insecure)
    ));
    let loopback =
        OAuth2Layer::new_dangerous_http_loopback(source, "http://127.0.0.1:8080").unwrap();
    assert!(matches!(
        loopback.clone().also_for("http://api.example.com"),
        Err(OriginError::Insecure)
    ));
    let both = loopback
        .also_for("http://localhost:9090")
        .unwrap()
        .also_for("https://api.example.com")
        .unwrap();
    let api = tower::service_fn(|req: Request<Empty<Bytes>>| async move {
        Ok::<_, Infallible>(Response::new(
            req.headers().contains_key("authorization").to_string(),
        ))
    });
    let mut svc = both.layer_service(api);
    for (uri, token) in [
        ("http://127.0.0.1:8080/", "true"),
        ("http://localhost:9090/", "true"),
        ("https://api.example.com/", "true"),
        ("http://api.example.com/", "false"),
    ] {
        let req = Request::get(uri).body(Empty::<Bytes>::new()).unwrap();
        let answer = svc.ready().await.unwrap().call(req).await.unwrap();
        assert_eq!(answer.body(), token, "{uri}");
    }
}

/// A token endpoint stand-in: counts fetches, takes `latency`, issues `tok-N` tokens.
fn counting_fetcher(
    latency: Duration,
    lifetime: u64,
) -> (
    impl Fn(
        Option<&Token>,
    )
        -> std::pin::Pin<Box<dyn std::future::Future<Output = Result<Token, TokenError>> + Send>>
    + Send
    + Sync
    + 'static,
    Arc<AtomicUsize>,
) {
    let count = Arc::new(AtomicUsize::new(0));
    let counter = count.clone();
    let clock = TokioClock::new();
    let fetch = move |_current: Option<&Token>| {
        let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
        let clock = clock.clone();
        Box::pin(async move {
            tokio::time::sleep(latency).await;
            Ok(expiring(&format!("tok-{n}"), clock.now(), lifetime))
        }) as std::pin::Pin<Box<dyn std::future::Future<Output = _> + Send>>
    };
    (fetch, count)
}

#[tokio::test(start_paused = true)]
async fn stampede_of_1000_requests_on_an_expired_token_makes_one_fetch() {
    let (fetch, fetches) = counting_fetcher(Duration::from_millis(10), 3600);
    let now = TokioClock::new().now();
    let source = TokenSource::builder()
        .token(expiring("old", now, 0))
        .fetcher(fetch)
        .build()
        .await
        .unwrap();
    let (api, seen) = recording_api(vec![], authorization_of);
    let svc = OAuth2Layer::new(source.clone(), API)
        .unwrap()
        .layer_service(api);
    let mut tasks = Vec::new();
    for _ in 0..1000 {
        let svc = svc.clone();
        tasks.push(tokio::spawn(async move {
            svc.oneshot(get("https://api.example.com/x")).await.unwrap();
        }));
    }
    for t in tasks {
        t.await.unwrap();
    }
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1000);
    assert!(seen.iter().all(|h| h.as_deref() == Some("Bearer tok-1")));
}

#[tokio::test(start_paused = true)]
async fn token_is_refreshed_ahead_of_expiry_while_the_old_one_is_still_used() {
    let (fetch, fetches) = counting_fetcher(Duration::from_millis(10), 3600);
    let now = TokioClock::new().now();
    let source = TokenSource::builder()
        .token(expiring("old", now, 120))
        .fetcher(fetch)
        .build()
        .await
        .unwrap();
    let (api, seen) = recording_api(vec![], authorization_of);
    let mut svc = OAuth2Layer::new(source.clone(), API)
        .unwrap()
        .layer_service(api);
    svc.ready()
        .await
        .unwrap()
        .call(get("https://api.example.com/"))
        .await
        .unwrap();
    tokio::time::advance(Duration::from_secs(61)).await; // inside the 60 s margin
    tokio::task::yield_now().await; // let the timer task raise the stale flag
    svc.ready()
        .await
        .unwrap()
        .call(get("https://api.example.com/"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await; // the background refresh lands
    svc.ready()
        .await
        .unwrap()
        .call(get("https://api.example.com/"))
        .await
        .unwrap();
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
    assert_eq!(
        *seen.lock().unwrap(),
        [
            Some("Bearer old".into()),
            Some("Bearer old".into()),
            Some("Bearer tok-1".into())
        ]
    );
}

/// SECURITY.md §4.5 #45: the caller that started a refresh is dropped mid-fetch. The fetch
/// goes on (one fetch in all), and the next caller gets its token; a wedged refresh is a
/// failure within the test's time limit, not a hung test.
#[tokio::test(start_paused = true)]
async fn dropped_leader_does_not_cancel_or_wedge_the_refresh() {
    let (fetch, fetches) = counting_fetcher(Duration::from_secs(1), 3600);
    let now = TokioClock::new().now();
    let source = TokenSource::builder()
        .token(expiring("old", now, 0))
        .fetcher(fetch)
        .build()
        .await
        .unwrap();
    let leader = tokio::spawn({
        let source = source.clone();
        async move { source.token().await }
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    leader.abort();
    let waiter = tokio::time::timeout(Duration::from_secs(60), source.token())
        .await
        .expect("not wedged")
        .unwrap();
    assert_eq!(waiter.access_token().secret(), "tok-1");
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
}

/// SECURITY.md §4.5 #45 (no poisoned state): a fetcher that panics while it refreshes (the
/// application's code) fails that refresh for everyone waiting on it instead of wedging them,
/// and poisons nothing: after the back-off the next refresh runs and its token is used.
#[tokio::test(start_paused = true)]
async fn s4_5_case45_a_fetcher_that_panics_wedges_and_poisons_nothing() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let clock = TokioClock::new();
    let fetch = move |_: Option<&Token>| {
        let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
        let clock = clock.clone();
        async move {
            tokio::time::sleep(Duration::from_millis(10)).await;
            assert!(n > 1, "a fetcher bug on its first call");
            Ok::<_, TokenError>(expiring(&format!("tok-{n}"), clock.now(), 3600))
        }
    };
    let now = TokioClock::new().now();
    let source = TokenSource::builder()
        .token(expiring("old", now, 0))
        .fetcher(fetch)
        .build()
        .await
        .unwrap();
    let waiters: Vec<_> = (0..10)
        .map(|_| {
            let source = source.clone();
            tokio::spawn(async move { source.token().await })
        })
        .collect();
    for waiter in waiters {
        let outcome = tokio::time::timeout(Duration::from_secs(60), waiter)
            .await
            .expect("not wedged")
            .unwrap();
        assert_eq!(outcome.unwrap_err().kind(), TokenErrorKind::Transient);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    tokio::time::advance(RefreshPolicy::default().initial_backoff).await;
    let token = tokio::time::timeout(Duration::from_secs(60), source.token())
        .await
        .expect("not wedged")
        .unwrap();
    assert_eq!(token.access_token().secret(), "tok-2");
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

/// SECURITY.md §4.5 #46: a refresh that fails while 100 callers wait for it hands them all the
/// same failure, one `TokenError` shared through its `Arc` (not a copy each, not an attempt
/// each), and a caller within the back-off gets that same failure too; the token is kept, and
/// after the back-off there is one new attempt.
#[tokio::test(start_paused = true)]
async fn a_failed_refresh_is_shared_keeps_the_token_and_backs_off() {
    let attempts = Arc::new(AtomicUsize::new(0));
    let counter = attempts.clone();
    let fetch = move |_: Option<&Token>| {
        counter.fetch_add(1, Ordering::SeqCst);
        async move {
            tokio::time::sleep(Duration::from_millis(10)).await;
            Err::<Token, _>(TokenError::new(
                TokenErrorKind::Transient,
                Some("503".into()),
            ))
        }
    };
    let now = TokioClock::new().now();
    let store = MemoryStore::with_token(expiring("old", now, 0));
    let source = TokenSource::builder()
        .store(store.clone())
        .fetcher(fetch)
        .build()
        .await
        .unwrap();
    let mut waiters = Vec::new();
    for _ in 0..100 {
        let source = source.clone();
        waiters.push(tokio::spawn(async move { source.token().await }));
    }
    let mut errors = Vec::new();
    for w in waiters {
        errors.push(w.await.unwrap().unwrap_err());
    }
    assert_eq!(attempts.load(Ordering::SeqCst), 1);
    let first = &errors[0];
    assert_eq!(first.kind(), TokenErrorKind::Transient);
    assert!(errors.iter().all(|e| Arc::ptr_eq(e, first)));
    // Within the back-off: the same failure, no new attempt.
    let later = source.token().await.unwrap_err();
    assert!(
        Arc::ptr_eq(&later, first),
        "the same failure in the back-off"
    );
    assert_eq!(attempts.load(Ordering::SeqCst), 1);
    // The token was kept, in memory and in the store.
    assert_eq!(source.current().unwrap().access_token().secret(), "old");
    assert_eq!(store.get().unwrap().access_token().secret(), "old");
    // After the back-off, one new attempt.
    tokio::time::advance(RefreshPolicy::default().initial_backoff).await;
    assert!(source.token().await.is_err());
    assert_eq!(attempts.load(Ordering::SeqCst), 2);
}

#[tokio::test(start_paused = true)]
async fn invalid_grant_is_terminal_and_keeps_the_token() {
    let attempts = Arc::new(AtomicUsize::new(0));
    let counter = attempts.clone();
    let fetch = move |_: Option<&Token>| {
        counter.fetch_add(1, Ordering::SeqCst);
        async { Err::<Token, _>(TokenError::new(TokenErrorKind::Reauthorize, None)) }
    };
    let now = TokioClock::new().now();
    let source = TokenSource::builder()
        .token(expiring("old", now, 0))
        .fetcher(fetch)
        .build()
        .await
        .unwrap();
    assert_eq!(
        source.token().await.unwrap_err().kind(),
        TokenErrorKind::Reauthorize
    );
    tokio::time::advance(Duration::from_secs(3600)).await;
    assert_eq!(
        source.token().await.unwrap_err().kind(),
        TokenErrorKind::Reauthorize
    );
    assert_eq!(attempts.load(Ordering::SeqCst), 1);
    assert_eq!(source.current().unwrap().access_token().secret(), "old");
    // A new authorization revives the source.
    source.set_token(bearer("new"));
    assert_eq!(source.token().await.unwrap().access_token().secret(), "new");
}

#[tokio::test(start_paused = true)]
async fn refresh_keeps_the_old_refresh_token_when_none_is_returned_and_saves_before_use() {
    let store = MemoryStore::new();
    let observed = store.clone();
    let fetch = move |current: Option<&Token>| {
        assert_eq!(current.unwrap().refresh_token().unwrap().secret(), "rt-old");
        async { Ok::<_, TokenError>(bearer("new")) }
    };
    let now = TokioClock::new().now();
    let source = TokenSource::builder()
        .token(expiring("old", now, 0))
        .store(store)
        .fetcher(fetch)
        .build()
        .await
        .unwrap();
    let token = source.token().await.unwrap();
    assert_eq!(token.access_token().secret(), "new");
    assert_eq!(token.refresh_token().unwrap().secret(), "rt-old");
    let saved = observed.get().unwrap();
    assert_eq!(saved.access_token().secret(), "new");
    assert_eq!(saved.refresh_token().unwrap().secret(), "rt-old");
}

/// 401 with `challenge` for `Bearer old`, 200 for anything else.
fn reject_old(authorization: Option<&str>, challenge: &str) -> Response<Empty<Bytes>> {
    reject_old_with(authorization, StatusCode::UNAUTHORIZED, Some(challenge))
}

/// `status` (with `challenge` in `WWW-Authenticate`, if any) for `Bearer old`; 200 otherwise.
fn reject_old_with(
    authorization: Option<&str>,
    status: StatusCode,
    challenge: Option<&str>,
) -> Response<Empty<Bytes>> {
    let mut res = Response::new(Empty::new());
    if authorization == Some("Bearer old") {
        *res.status_mut() = status;
        if let Some(challenge) = challenge {
            res.headers_mut()
                .insert("www-authenticate", challenge.parse().unwrap());
        }
    }
    res
}

#[tokio::test(start_paused = true)]
async fn a_401_invalid_token_forces_one_refresh_and_one_retry() {
    let (fetch, fetches) = counting_fetcher(Duration::from_millis(5), 3600);
    let source = old_token_source(fetch).await;
    let (api, seen) = api_rejecting_token("old", r#"Bearer error="invalid_token""#);
    let svc = OAuth2Layer::new(source, API).unwrap().layer_service(api);
    let res = svc.oneshot(get("https://api.example.com/")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
    assert_eq!(
        *seen.lock().unwrap(),
        [Some("Bearer old".into()), Some("Bearer tok-1".into())]
    );
}

#[tokio::test(start_paused = true)]
async fn a_401_is_retried_at_most_once_and_not_for_other_challenges() {
    // The refreshed token is rejected too: the second 401 goes back to the caller.
    let fetch = |_: Option<&Token>| async { Ok::<_, TokenError>(bearer("old")) };
    let source = old_token_source(fetch).await;
    let (api, seen) = api_rejecting_token("old", r#"Bearer error="invalid_token""#);
    let svc = OAuth2Layer::new(source.clone(), API)
        .unwrap()
        .layer_service(api);
    let res = svc.oneshot(get("https://api.example.com/")).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(seen.lock().unwrap().len(), 2);

    // insufficient_scope (or no challenge) is passed through with no refresh.
    for challenge in [r#"Bearer error="insufficient_scope""#, r#"Bearer error=""#] {
        let (api, seen) = api_rejecting_token("old", challenge);
        let svc = OAuth2Layer::new(source.clone(), API)
            .unwrap()
            .layer_service(api);
        let res = svc.oneshot(get("https://api.example.com/")).await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(seen.lock().unwrap().len(), 1);
    }
}

/// Which rejections of the old token make the layer refresh and retry, under each policy
/// (RFC 6750 §3.1): only a 401 (with `invalid_token` by default, any 401 with `Any`); a 403
/// `insufficient_scope` never, since a new token would not have more scope.
#[tokio::test(start_paused = true)]
async fn which_rejections_refresh_and_retry_under_each_policy() {
    let cases: [(StatusCode, Option<&'static str>, RetryOn401, bool); 9] = [
        (
            StatusCode::UNAUTHORIZED,
            None,
            RetryOn401::InvalidToken,
            false,
        ),
        (StatusCode::UNAUTHORIZED, None, RetryOn401::Any, true),
        (
            StatusCode::UNAUTHORIZED,
            Some("Basic realm=\"api\""),
            RetryOn401::InvalidToken,
            false,
        ),
        (
            StatusCode::UNAUTHORIZED,
            Some("Basic realm=\"api\""),
            RetryOn401::Any,
            true,
        ),
        (
            StatusCode::UNAUTHORIZED,
            Some(r#"Bearer error="invalid_token""#),
            RetryOn401::Never,
            false,
        ),
        (
            StatusCode::FORBIDDEN,
            Some(r#"Bearer error="insufficient_scope", scope="write""#),
            RetryOn401::InvalidToken,
            false,
        ),
        (
            StatusCode::FORBIDDEN,
            Some(r#"Bearer error="insufficient_scope", scope="write""#),
            RetryOn401::Any,
            false,
        ),
        // Even a 403 that (wrongly) says invalid_token: only a 401 is a rejected token.
        (
            StatusCode::FORBIDDEN,
            Some(r#"Bearer error="invalid_token""#),
            RetryOn401::Any,
            false,
        ),
        (StatusCode::FORBIDDEN, None, RetryOn401::Any, false),
    ];
    for (status, challenge, policy, retried) in cases {
        let (fetch, fetches) = counting_fetcher(Duration::from_millis(5), 3600);
        let source = old_token_source(fetch).await;
        let (api, seen) = api_rejecting_token_with("old", status, challenge);
        let svc = OAuth2Layer::new(source, API)
            .unwrap()
            .retry_on_401(policy)
            .layer_service(api);
        let res = svc.oneshot(get("https://api.example.com/")).await.unwrap();
        let case = format!("{status} {challenge:?} {policy:?}");
        if retried {
            assert_eq!(res.status(), StatusCode::OK, "{case}");
            assert_eq!(fetches.load(Ordering::SeqCst), 1, "{case}");
            assert_eq!(
                *seen.lock().unwrap(),
                [Some("Bearer old".into()), Some("Bearer tok-1".into())],
                "{case}"
            );
        } else {
            assert_eq!(res.status(), status, "{case}");
            assert_eq!(fetches.load(Ordering::SeqCst), 0, "{case}");
            assert_eq!(*seen.lock().unwrap(), [Some("Bearer old".into())], "{case}");
        }
    }
}

#[tokio::test(start_paused = true)]
async fn streaming_bodies_are_not_retried_clone_bodies_are_when_asked() {
    let (fetch, _) = counting_fetcher(Duration::from_millis(5), 3600);
    let source = old_token_source(fetch).await;
    let (api, seen) = api_rejecting_token::<Full<Bytes>>("old", r#"Bearer error="invalid_token""#);
    let post = || {
        Request::post("https://api.example.com/")
            .body(Full::new(Bytes::from("x=1")))
            .unwrap()
    };
    // Default policy: only empty bodies are replayed. The 401 goes back to the caller, but the
    // refusal is noted: the next request gets a new token first (it used to send the refused
    // one again, until the token expired).
    let layer = OAuth2Layer::new(source.clone(), API).unwrap();
    let res = layer
        .clone()
        .layer_service(api.clone())
        .oneshot(post())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(*seen.lock().unwrap(), [Some("Bearer old".into())]);
    let res = layer
        .clone()
        .layer_service(api.clone())
        .oneshot(post())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(seen.lock().unwrap()[1..], [Some("Bearer tok-1".into())]);
    assert_eq!(source.fetch_count(), 1);

    // ReplayClone: the POST is retried once with the new token.
    let (fetch, _) = counting_fetcher(Duration::from_millis(5), 3600);
    let source = old_token_source(fetch).await;
    let (api, seen) = api_rejecting_token::<Full<Bytes>>("old", r#"Bearer error="invalid_token""#);
    let res = OAuth2Layer::new(source, API)
        .unwrap()
        .replay_bodies(ReplayClone)
        .layer_service(api)
        .oneshot(post())
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        *seen.lock().unwrap(),
        [Some("Bearer old".into()), Some("Bearer tok-1".into())]
    );
}

/// A request whose body cannot be kept, sent with a token fetched for it (the source's had
/// expired): a 401 `invalid_token` refusing that token is noted, so the next request (past
/// `RefreshPolicy::min_interval`) gets a new one; a 200 is not a refusal, and the next request
/// keeps the token (RFC 6750 §3.1).
#[tokio::test(start_paused = true)]
async fn only_a_refusal_of_a_token_fetched_for_an_unreplayable_request_is_noted() {
    let post = || {
        Request::post("https://api.example.com/")
            .body(Full::new(Bytes::from("x=1")))
            .unwrap()
    };
    let past_min_interval = RefreshPolicy::default().min_interval + Duration::from_secs(1);
    for (rejected, first_status, second) in [
        ("tok-1", StatusCode::UNAUTHORIZED, "Bearer tok-2"),
        ("nobody", StatusCode::OK, "Bearer tok-1"),
    ] {
        let (fetch, fetches) = counting_fetcher(Duration::from_millis(5), 3600);
        let now = TokioClock::new().now();
        let source = TokenSource::builder()
            .token(expiring("old", now, 0))
            .fetcher(fetch)
            .build()
            .await
            .unwrap();
        let (api, seen) =
            api_rejecting_token::<Full<Bytes>>(rejected, r#"Bearer error="invalid_token""#);
        let layer = OAuth2Layer::new(source, API).unwrap();
        let res = layer
            .clone()
            .layer_service(api.clone())
            .oneshot(post())
            .await
            .unwrap();
        assert_eq!(res.status(), first_status);
        tokio::time::advance(past_min_interval).await;
        layer.layer_service(api).oneshot(post()).await.unwrap();
        assert_eq!(
            *seen.lock().unwrap(),
            [Some("Bearer tok-1".into()), Some(second.into())],
            "first answer {first_status}"
        );
        let expected_fetches = if first_status == StatusCode::OK { 1 } else { 2 };
        assert_eq!(fetches.load(Ordering::SeqCst), expected_fetches);
    }
}

/// An API that reads each body and records (Authorization, body); rejects `Bearer old` with
/// 401 invalid_token.
fn body_recording_api() -> (
    impl Service<
        Request<axum::body::Body>,
        Response = Response<Empty<Bytes>>,
        Error = BoxError,
        Future: Send,
    > + Clone
    + Send
    + 'static,
    Arc<std::sync::Mutex<Vec<(Option<String>, Bytes)>>>,
) {
    use http_body_util::BodyExt;
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = seen.clone();
    let svc = tower::service_fn(move |req: Request<axum::body::Body>| {
        let log = log.clone();
        async move {
            let auth = authorization_of(&req);
            let body = req.into_body().collect().await?.to_bytes();
            log.lock().unwrap().push((auth.clone(), body));
            Ok::<_, BoxError>(reject_old(
                auth.as_deref(),
                r#"Bearer error="invalid_token""#,
            ))
        }
    });
    (svc, seen)
}

#[tokio::test(start_paused = true)]
async fn bodies_of_known_small_size_are_buffered_and_replayed() {
    use tower_oauth2::policy::ReplayBuffered;
    let (fetch, fetches) = counting_fetcher(Duration::from_millis(5), 3600);
    let source = old_token_source(fetch).await;
    let (api, seen) = body_recording_api();
    let svc = OAuth2Layer::new(source.clone(), API)
        .unwrap()
        .replay_bodies(ReplayBuffered::new(16))
        .layer_service(api.clone());
    // Not `Clone`, but of known size under the limit: read, sent, rejected, sent again.
    let post = |body: axum::body::Body| {
        Request::post("https://api.example.com/upload")
            .body(body)
            .unwrap()
    };
    let res = svc
        .clone()
        .oneshot(post(axum::body::Body::from("x=1&y=2")))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
    assert_eq!(
        *seen.lock().unwrap(),
        [
            (Some("Bearer old".into()), Bytes::from("x=1&y=2")),
            (Some("Bearer tok-1".into()), Bytes::from("x=1&y=2")),
        ]
    );

    // Over the limit, or of unknown size: sent as they are, and the 401 is not retried.
    let (api, seen) = body_recording_api();
    let old = TokenSource::from_token(bearer("old"));
    let svc = OAuth2Layer::new(old, API)
        .unwrap()
        .replay_bodies(ReplayBuffered::new(16))
        .layer_service(api);
    let large = post(axum::body::Body::from("z".repeat(17)));
    assert_eq!(svc.clone().oneshot(large).await.unwrap().status(), 401);
    let streamed = post(axum::body::Body::new(UnknownSize(Some(Bytes::from("a=1")))));
    assert_eq!(svc.clone().oneshot(streamed).await.unwrap().status(), 401);
    assert_eq!(
        seen.lock()
            .unwrap()
            .iter()
            .map(|(_, b)| b.len())
            .collect::<Vec<_>>(),
        [17, 3]
    );
}

/// A buffered request that the API accepts is sent once, with no refresh: only a refusal of
/// the token is retried (RFC 6750 §3.1), whichever path the request took.
#[tokio::test(start_paused = true)]
async fn a_buffered_request_that_is_accepted_is_sent_once_and_fetches_nothing() {
    use tower_oauth2::policy::ReplayBuffered;
    let (fetch, fetches) = counting_fetcher(Duration::from_millis(5), 3600);
    let source = TokenSource::builder()
        .token(bearer("fine").with_refresh_token(Some(RefreshToken::new("rt"))))
        .fetcher(fetch)
        .build()
        .await
        .unwrap();
    let (api, seen) = body_recording_api();
    let request = Request::post("https://api.example.com/upload")
        .body(axum::body::Body::from("x=1&y=2"))
        .unwrap();
    let res = OAuth2Layer::new(source, API)
        .unwrap()
        .replay_bodies(ReplayBuffered::new(16))
        .layer_service(api)
        .oneshot(request)
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(
        *seen.lock().unwrap(),
        [(Some("Bearer fine".into()), Bytes::from("x=1&y=2"))]
    );
    assert_eq!(fetches.load(Ordering::SeqCst), 0);
}

#[tokio::test(start_paused = true)]
async fn a_buffered_body_waits_for_the_first_token_too() {
    use tower_oauth2::policy::ReplayBuffered;
    let (fetch, fetches) = counting_fetcher(Duration::from_millis(5), 3600);
    // An expired token: the body is read, then the token refreshed, then the request sent.
    let now = TokioClock::new().now();
    let source = TokenSource::builder()
        .token(expiring("old", now, 0))
        .fetcher(fetch)
        .build()
        .await
        .unwrap();
    let (api, seen) = body_recording_api();
    let svc = OAuth2Layer::new(source, API)
        .unwrap()
        .replay_bodies(ReplayBuffered::new(1024))
        .layer_service(api);
    let req = Request::put("https://api.example.com/doc")
        .body(axum::body::Body::from("payload"))
        .unwrap();
    let res = svc.oneshot(req).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
    assert_eq!(
        *seen.lock().unwrap(),
        [(Some("Bearer tok-1".into()), Bytes::from("payload"))]
    );
}

/// A body of unknown size (as a stream's would be).
struct UnknownSize(Option<Bytes>);

impl http_body::Body for UnknownSize {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        std::task::Poll::Ready(self.0.take().map(|b| Ok(http_body::Frame::data(b))))
    }
}

#[tokio::test(start_paused = true)]
async fn retry_on_401_never_passes_the_401_through() {
    let (fetch, fetches) = counting_fetcher(Duration::from_millis(5), 3600);
    let source = TokenSource::builder()
        .token(bearer("old"))
        .fetcher(fetch)
        .build()
        .await
        .unwrap();
    let (api, _) = api_rejecting_token("old", r#"Bearer error="invalid_token""#);
    let svc = OAuth2Layer::new(source, API)
        .unwrap()
        .retry_on_401(RetryOn401::Never)
        .layer_service(api);
    let res = svc.oneshot(get("https://api.example.com/")).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(fetches.load(Ordering::SeqCst), 0);
}

#[tokio::test]
async fn no_token_and_no_fetcher_is_a_typed_error() {
    let source = TokenSource::builder().build().await.unwrap();
    let (api, seen) = recording_api(vec![], authorization_of);
    let err = OAuth2Layer::new(source, API)
        .unwrap()
        .layer_service(api)
        .oneshot(get("https://api.example.com/"))
        .await
        .unwrap_err();
    let err = err.downcast::<tower_oauth2::Error>().unwrap();
    assert_eq!(err.kind(), ErrorKind::NoToken);
    assert_eq!(err.token_error().unwrap().kind(), TokenErrorKind::NoToken);
    assert!(
        seen.lock().unwrap().is_empty(),
        "never sent without a token"
    );
}

#[allow(dead_code)]
fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn public_types_are_send_sync() {
    assert_send_sync::<TokenSource>();
    assert_send_sync::<OAuth2Layer>();
    let _: Option<BoxError> = None;
}

#[tokio::test(start_paused = true)]
async fn a_static_token_rejected_once_is_not_lost() {
    // A token with no way to refresh it: the 401 goes back to the caller as it is, and the
    // token keeps being sent (the server may accept it again).
    let source = TokenSource::from_token(bearer("old"));
    let (api, seen) = api_rejecting_token("old", r#"Bearer error="invalid_token""#);
    let svc = OAuth2Layer::new(source.clone(), API)
        .unwrap()
        .layer_service(api);
    let res = svc
        .clone()
        .oneshot(get("https://api.example.com/"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.headers().contains_key("www-authenticate"));
    let res = svc.oneshot(get("https://api.example.com/")).await.unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(
        *seen.lock().unwrap(),
        [Some("Bearer old".into()), Some("Bearer old".into())]
    );
}

/// A body whose size hint lies (says 3 bytes, yields more) fails the request instead of being
/// buffered past the limit; a body that errors fails the request with its own error. Neither
/// reaches the service.
#[tokio::test(start_paused = true)]
async fn buffered_bodies_that_lie_or_fail_fail_the_request() {
    use tower_oauth2::policy::ReplayBuffered;

    struct Lying {
        hint: u64,
        chunks: Vec<Result<Bytes, std::io::Error>>,
    }
    impl http_body::Body for Lying {
        type Data = Bytes;
        type Error = std::io::Error;
        fn poll_frame(
            mut self: std::pin::Pin<&mut Self>,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
            let next = if self.chunks.is_empty() {
                None
            } else {
                Some(self.chunks.remove(0).map(http_body::Frame::data))
            };
            std::task::Poll::Ready(next)
        }
        fn size_hint(&self) -> http_body::SizeHint {
            http_body::SizeHint::with_exact(self.hint)
        }
    }

    let (fetch, _) = counting_fetcher(Duration::from_millis(5), 3600);
    let source = old_token_source(fetch).await;
    let (api, seen) = body_recording_api();
    let svc = OAuth2Layer::new(source, API)
        .unwrap()
        .replay_bodies(ReplayBuffered::new(8))
        .layer_service(api);
    let send = |body: Lying| {
        svc.clone().oneshot(
            Request::post("https://api.example.com/upload")
                .body(axum::body::Body::new(body))
                .unwrap(),
        )
    };
    let lying = Lying {
        hint: 3,
        chunks: vec![Ok(Bytes::from("0123456789"))],
    };
    assert!(send(lying).await.is_err());
    let failing = Lying {
        hint: 4,
        chunks: vec![
            Ok(Bytes::from("ab")),
            Err(std::io::Error::other("disk gone")),
        ],
    };
    let error = send(failing).await.unwrap_err();
    assert!(error.to_string().contains("disk gone"), "{error}");
    assert!(seen.lock().unwrap().is_empty());
}

/// SECURITY.md §4.5 #48: with the wrapped service at its capacity (a concurrency limit of one,
/// the first request held at the API), requests on an expired token neither deadlock nor
/// refresh twice: the refresh does not need the wrapped service, and every request goes out,
/// one at a time, with the new token.
#[tokio::test(start_paused = true)]
async fn backpressure_from_the_wrapped_service_does_not_block_the_refresh() {
    let (fetch, fetches) = counting_fetcher(Duration::from_millis(50), 3600);
    let clock = TokioClock::new();
    let source = TokenSource::builder()
        .token(expiring("old", clock.now(), 0).with_refresh_token(Some(RefreshToken::new("rt"))))
        .fetcher(fetch)
        .build()
        .await
        .unwrap();
    let in_flight = Arc::new(AtomicUsize::new(0));
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let (counter, log) = (in_flight.clone(), seen.clone());
    let api = tower::service_fn(move |req: Request<Empty<Bytes>>| {
        let (counter, log) = (counter.clone(), log.clone());
        async move {
            assert_eq!(counter.fetch_add(1, Ordering::SeqCst), 0, "over the limit");
            log.lock().unwrap().push(authorization_of(&req));
            tokio::time::sleep(Duration::from_millis(100)).await;
            counter.fetch_sub(1, Ordering::SeqCst);
            Ok::<_, Infallible>(Response::new(Empty::<Bytes>::new()))
        }
    });
    let svc = ServiceBuilder::new()
        .layer(OAuth2Layer::new(source, API).unwrap())
        .concurrency_limit(1)
        .service(api);
    let requests: Vec<_> = (0..5)
        .map(|_| tokio::spawn(svc.clone().oneshot(get("https://api.example.com/"))))
        .collect();
    for request in requests {
        let res = tokio::time::timeout(Duration::from_secs(60), request)
            .await
            .expect("no deadlock");
        assert_eq!(res.unwrap().unwrap().status(), StatusCode::OK);
    }
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
    assert_eq!(
        *seen.lock().unwrap(),
        vec![Some("Bearer tok-1".to_owned()); 5]
    );
}

/// SECURITY.md §4.6 #52 through the layer: a 401 whose `WWW-Authenticate` is
/// malformed (an unterminated quote, 64 KiB of parameters, bytes that are not UTF-8) is a
/// generic 401: no panic; passed through under the default policy, one refresh and one retry
/// under `RetryOn401::Any`.
#[tokio::test(start_paused = true)]
async fn s4_6_case52_malformed_challenges_are_a_generic_401_at_the_layer() {
    let huge = format!("Bearer {}", "a=b, ".repeat(13_000));
    let challenges: Vec<http::HeaderValue> = vec![
        http::HeaderValue::from_static(r#"Bearer error=""#),
        http::HeaderValue::from_str(&huge).unwrap(),
        http::HeaderValue::from_bytes(b"Bearer error=\"invalid_token\xff\"").unwrap(),
    ];
    for challenge in challenges {
        for (policy, retried) in [(RetryOn401::InvalidToken, false), (RetryOn401::Any, true)] {
            let (fetch, fetches) = counting_fetcher(Duration::from_millis(5), 3600);
            let source = old_token_source(fetch).await;
            let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
            let log = seen.clone();
            let value = challenge.clone();
            let api = tower::service_fn(move |req: Request<Empty<Bytes>>| {
                let auth = authorization_of(&req);
                log.lock().unwrap().push(auth.clone());
                let mut res = Response::new(Empty::<Bytes>::new());
                if auth.as_deref() == Some("Bearer old") {
                    *res.status_mut() = StatusCode::UNAUTHORIZED;
                    res.headers_mut().insert("www-authenticate", value.clone());
                }
                async move { Ok::<_, Infallible>(res) }
            });
            let svc = OAuth2Layer::new(source, API)
                .unwrap()
                .retry_on_401(policy)
                .layer_service(api);
            let res = svc.oneshot(get("https://api.example.com/")).await.unwrap();
            let case = format!(
                "{policy:?} {:?}",
                &challenge.as_bytes()[..20.min(challenge.len())]
            );
            if retried {
                assert_eq!(res.status(), StatusCode::OK, "{case}");
                assert_eq!(fetches.load(Ordering::SeqCst), 1, "{case}");
                assert_eq!(seen.lock().unwrap().len(), 2, "{case}");
            } else {
                assert_eq!(res.status(), StatusCode::UNAUTHORIZED, "{case}");
                assert_eq!(fetches.load(Ordering::SeqCst), 0, "{case}");
                assert_eq!(seen.lock().unwrap().len(), 1, "{case}");
            }
        }
    }
}

/// A `Bearer error="invalid_token"` challenge whose other parameters hold bytes outside ASCII
/// (a UTF-8 `realm`, a Latin-1 `error_description`): `obs-text` is valid in an HTTP
/// quoted-string (RFC 9110 §5.6.4) and RFC 6750 puts no limit on `realm`'s characters, so the
/// token is refused all the same: one refresh and one retry. (The header used to be read only
/// when it was visible ASCII, so this 401 went back with no refresh.)
#[tokio::test(start_paused = true)]
async fn an_invalid_token_challenge_with_non_ascii_parameters_is_retried() {
    let challenges: [&[u8]; 2] = [
        "Bearer realm=\"Z\u{fc}rich API\", error=\"invalid_token\"".as_bytes(),
        b"Basic realm=\"x\", Bearer error=\"invalid_token\", error_description=\"expir\xe9\"",
    ];
    for challenge in challenges {
        let challenge = http::HeaderValue::from_bytes(challenge).unwrap();
        let (fetch, fetches) = counting_fetcher(Duration::from_millis(5), 3600);
        let source = old_token_source(fetch).await;
        let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
        let log = seen.clone();
        let value = challenge.clone();
        let api = tower::service_fn(move |req: Request<Empty<Bytes>>| {
            let auth = authorization_of(&req);
            log.lock().unwrap().push(auth.clone());
            let mut res = Response::new(Empty::<Bytes>::new());
            if auth.as_deref() == Some("Bearer old") {
                *res.status_mut() = StatusCode::UNAUTHORIZED;
                res.headers_mut().insert("www-authenticate", value.clone());
            }
            async move { Ok::<_, Infallible>(res) }
        });
        let svc = OAuth2Layer::new(source, API).unwrap().layer_service(api);
        let res = svc.oneshot(get("https://api.example.com/")).await.unwrap();
        assert_eq!(res.status(), StatusCode::OK, "{challenge:?}");
        assert_eq!(fetches.load(Ordering::SeqCst), 1, "{challenge:?}");
        assert_eq!(
            *seen.lock().unwrap(),
            [Some("Bearer old".into()), Some("Bearer tok-1".into())],
            "{challenge:?}"
        );
    }
}

/// A source holding an expired `start` whose first refresh issues `old` and later ones `tok-N`
/// (each valid for an hour); and the count of its refreshes.
async fn source_refreshing_to_old_then_tok_n() -> (TokenSource, Arc<AtomicUsize>) {
    let fetches = Arc::new(AtomicUsize::new(0));
    let counter = fetches.clone();
    let clock = TokioClock::new();
    let fetch = move |_: Option<&Token>| {
        let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
        let name = if n == 1 {
            "old".to_owned()
        } else {
            format!("tok-{n}")
        };
        let token = expiring(&name, clock.now(), 3600);
        async move { Ok::<_, TokenError>(token) }
    };
    let source = TokenSource::builder()
        .token(expiring("start", TokioClock::new().now(), 0))
        .fetcher(fetch)
        .build()
        .await
        .unwrap();
    (source, fetches)
}

/// A token refreshed moments ago and refused at once (a resource server that has not seen it
/// yet, say): refreshes are rate-limited (`RefreshPolicy::min_interval`), so there is no new
/// token to retry with, and the caller gets the server's own 401, challenge and all, not an
/// error of ours (it used to get a "backing off" error). Once the interval has passed, the
/// refused token is replaced before the next request goes out.
#[tokio::test(start_paused = true)]
async fn a_401_just_after_a_refresh_returns_the_servers_answer() {
    // The first refresh issues `old`, which the API refuses; later ones `tok-N`.
    let (source, fetches) = source_refreshing_to_old_then_tok_n().await;
    let (api, seen) = api_rejecting_token("old", r#"Bearer error="invalid_token""#);
    let svc = OAuth2Layer::new(source.clone(), API)
        .unwrap()
        .layer_service(api);
    let res = svc
        .clone()
        .oneshot(get("https://api.example.com/"))
        .await
        .expect("the server's 401, not an error");
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert!(res.headers().contains_key("www-authenticate"));
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
    assert_eq!(*seen.lock().unwrap(), [Some("Bearer old".into())]);

    tokio::time::advance(RefreshPolicy::default().min_interval + Duration::from_secs(1)).await;
    let res = svc.oneshot(get("https://api.example.com/")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(fetches.load(Ordering::SeqCst), 2);
    assert_eq!(seen.lock().unwrap()[1..], [Some("Bearer tok-2".into())]);
}

/// Within `RefreshPolicy::min_interval` of a refresh whose token the server refused, requests
/// that are not retries still go out with the refused token, and each gets its own 401 (not
/// retried: there is still nothing newer): refreshes stay rate-limited, which is what bounds the
/// refresh storm against a server that refuses every token. The token is marked refused, so the
/// first request after the interval refreshes before it is sent (no further 401 needed). This
/// pins the documented behaviour (`OAuth2Layer::retry_on_401`).
#[tokio::test(start_paused = true)]
async fn within_min_interval_of_a_refused_refresh_requests_carry_the_refused_token() {
    // The first refresh issues `old`, which the API refuses; later ones `tok-N`.
    let (source, fetches) = source_refreshing_to_old_then_tok_n().await;
    let (api, seen) = api_rejecting_token("old", r#"Bearer error="invalid_token""#);
    let layer = OAuth2Layer::new(source.clone(), API).unwrap();
    let svc = layer.clone().layer_service(api.clone());
    let res = svc
        .clone()
        .oneshot(get("https://api.example.com/"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(fetches.load(Ordering::SeqCst), 1);

    // Inside the interval: a clone of the service, a new one, and the source itself all still
    // hand out the refused token; no refresh.
    let interval = RefreshPolicy::default().min_interval;
    tokio::time::advance(interval / 2).await;
    for svc in [svc.clone(), layer.clone().layer_service(api.clone())] {
        let res = svc.oneshot(get("https://api.example.com/")).await.unwrap();
        assert_eq!(res.status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(source.token().await.unwrap().access_token().secret(), "old");
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
    assert_eq!(
        *seen.lock().unwrap(),
        [
            Some("Bearer old".into()),
            Some("Bearer old".into()),
            Some("Bearer old".into())
        ],
        "one attempt each, no retry"
    );

    // Past it: the next request refreshes first.
    tokio::time::advance(interval).await;
    let res = svc.oneshot(get("https://api.example.com/")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(fetches.load(Ordering::SeqCst), 2);
    assert_eq!(seen.lock().unwrap()[3..], [Some("Bearer tok-2".into())]);
}

/// A refusal that arrives late, for a token already replaced (a slow request sent with `old`,
/// answered 401 after another refusal of `old` got `tok-1` fetched), says nothing about the new
/// token: `tok-1` stays in use, with no further fetch.
#[tokio::test(start_paused = true)]
async fn a_late_refusal_of_a_replaced_token_leaves_the_new_one_alone() {
    let (fetch, fetches) = counting_fetcher(Duration::from_millis(5), 3600);
    let source = old_token_source(fetch).await;
    let gate = Arc::new(tokio::sync::Notify::new());
    let first = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let seen = Arc::new(std::sync::Mutex::new(Vec::new()));
    let api = tower::service_fn({
        let (gate, first, seen) = (gate.clone(), first.clone(), seen.clone());
        move |req: Request<Full<Bytes>>| {
            let auth = authorization_of(&req);
            seen.lock().unwrap().push(auth.clone());
            let hold = first.swap(false, Ordering::SeqCst);
            let gate = gate.clone();
            async move {
                if hold {
                    gate.notified().await;
                }
                Ok::<_, Infallible>(reject_old(
                    auth.as_deref(),
                    r#"Bearer error="invalid_token""#,
                ))
            }
        }
    });
    // (Bodies the default policy cannot keep: refusals are noted, not retried.)
    let post = || {
        Request::post("https://api.example.com/")
            .body(Full::new(Bytes::from("x=1")))
            .unwrap()
    };
    let layer = OAuth2Layer::new(source, API).unwrap();
    let slow = tokio::spawn(layer.clone().layer_service(api.clone()).oneshot(post()));
    tokio::task::yield_now().await;
    let res = layer
        .clone()
        .layer_service(api.clone())
        .oneshot(post())
        .await;
    assert_eq!(res.unwrap().status(), StatusCode::UNAUTHORIZED);
    let past_min_interval = RefreshPolicy::default().min_interval + Duration::from_secs(1);
    tokio::time::advance(past_min_interval).await;
    let res = layer
        .clone()
        .layer_service(api.clone())
        .oneshot(post())
        .await;
    assert_eq!(res.unwrap().status(), StatusCode::OK);
    assert_eq!(fetches.load(Ordering::SeqCst), 1);

    gate.notify_one();
    assert_eq!(
        slow.await.unwrap().unwrap().status(),
        StatusCode::UNAUTHORIZED
    );
    tokio::time::advance(past_min_interval).await;
    let res = layer.layer_service(api).oneshot(post()).await;
    assert_eq!(res.unwrap().status(), StatusCode::OK);
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        1,
        "the new token was refreshed too"
    );
    assert_eq!(
        *seen.lock().unwrap(),
        [
            Some("Bearer old".into()),
            Some("Bearer old".into()),
            Some("Bearer tok-1".into()),
            Some("Bearer tok-1".into()),
        ]
    );
}

/// Two requests sent with `old` are both refused and retried: the first retry's refresh gets
/// `tok-1`, and the second retry, finding a token newer than the one refused, is sent with it
/// and leaves it alone: past `min_interval`, `tok-1` is still in use, with no second fetch.
#[tokio::test(start_paused = true)]
async fn two_retries_after_refusals_of_one_token_make_one_refresh() {
    let (fetch, fetches) = counting_fetcher(Duration::from_millis(5), 3600);
    let source = old_token_source(fetch).await;
    let (api, seen) = api_rejecting_token("old", r#"Bearer error="invalid_token""#);
    let svc = OAuth2Layer::new(source, API).unwrap().layer_service(api);
    let (mut first, mut second) = (svc.clone(), svc.clone());
    let first = first
        .ready()
        .await
        .unwrap()
        .call(get("https://api.example.com/"));
    let second = second
        .ready()
        .await
        .unwrap()
        .call(get("https://api.example.com/"));
    assert_eq!(first.await.unwrap().status(), StatusCode::OK);
    assert_eq!(second.await.unwrap().status(), StatusCode::OK);
    tokio::time::advance(RefreshPolicy::default().min_interval + Duration::from_secs(1)).await;
    let res = svc.oneshot(get("https://api.example.com/")).await.unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
    assert_eq!(
        *seen.lock().unwrap(),
        ["old", "old", "tok-1", "tok-1", "tok-1"].map(|t| Some(format!("Bearer {t}")))
    );
}

/// The tower contract (`poll_ready` before each `call`, on that very value; a clone is not
/// ready) on every path that sends: a stand-in that fails the test when called unready, and
/// whose clones start unready. The first request (which waits for a token), the fast path, a
/// buffered body, a body that cannot be kept, and the DPoP nonce and refresh retries: each
/// retry goes through a clone made ready for it.
#[tokio::test(start_paused = true)]
async fn every_path_calls_only_a_service_made_ready_for_that_call() {
    use std::sync::Mutex;
    use tower_oauth2::policy::ReplayBuffered;

    /// Answers `answers` in turn (then 200s); panics when called without `poll_ready`.
    struct Strict {
        ready: bool,
        calls: Arc<AtomicUsize>,
        answers: Arc<Mutex<Vec<Response<Empty<Bytes>>>>>,
    }
    impl Clone for Strict {
        fn clone(&self) -> Self {
            let (calls, answers) = (self.calls.clone(), self.answers.clone());
            Self {
                ready: false,
                calls,
                answers,
            }
        }
    }
    impl<B> Service<Request<B>> for Strict {
        type Response = Response<Empty<Bytes>>;
        type Error = Infallible;
        type Future = std::future::Ready<Result<Self::Response, Infallible>>;
        fn poll_ready(
            &mut self,
            _: &mut std::task::Context<'_>,
        ) -> std::task::Poll<Result<(), Infallible>> {
            self.ready = true;
            std::task::Poll::Ready(Ok(()))
        }
        fn call(&mut self, _: Request<B>) -> Self::Future {
            assert!(std::mem::take(&mut self.ready), "called without poll_ready");
            self.calls.fetch_add(1, Ordering::SeqCst);
            let mut answers = self.answers.lock().unwrap();
            let next = (!answers.is_empty()).then(|| answers.remove(0));
            std::future::ready(Ok(next.unwrap_or_else(|| Response::new(Empty::new()))))
        }
    }
    fn strict(answers: Vec<Response<Empty<Bytes>>>) -> (Strict, Arc<AtomicUsize>) {
        let calls = Arc::new(AtomicUsize::new(0));
        let answers = Arc::new(Mutex::new(answers));
        let counted = calls.clone();
        let strict = Strict {
            ready: false,
            calls,
            answers,
        };
        (strict, counted)
    }
    let refused = || common::unauthorized(r#"Bearer error="invalid_token""#, &[]);
    let post = |body: &'static str| {
        Request::post("https://api.example.com/")
            .body(Full::new(Bytes::from(body)))
            .unwrap()
    };

    // Bearer, `ReplayClone`: the first request (refused, retried), then the fast path (the
    // same). Then `ReplayBuffered` on the fast path, and a body too large to keep.
    let (fetch, _) = counting_fetcher(Duration::from_millis(5), 3600);
    let source = old_token_source(fetch).await;
    let (api, calls) = strict(vec![refused()]);
    let mut svc = OAuth2Layer::new(source.clone(), API)
        .unwrap()
        .replay_bodies(ReplayClone)
        .layer_service(api);
    let res = ServiceExt::<Request<Full<Bytes>>>::ready(&mut svc)
        .await
        .unwrap()
        .call(post("a"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    // (Past the refresh interval, so that the next refusal gets a new token.)
    tokio::time::sleep(Duration::from_secs(600)).await;
    let (api, calls) = strict(vec![]);
    let mut svc = OAuth2Layer::new(source.clone(), API)
        .unwrap()
        .replay_bodies(ReplayClone)
        .layer_service(api);
    ServiceExt::<Request<Full<Bytes>>>::ready(&mut svc)
        .await
        .unwrap()
        .call(post("a"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(600)).await;
    svc.get_mut().answers.lock().unwrap().push(refused());
    let res = ServiceExt::<Request<Full<Bytes>>>::ready(&mut svc)
        .await
        .unwrap()
        .call(post("b"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK);
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    tokio::time::sleep(Duration::from_secs(600)).await;
    let (api, calls) = strict(vec![refused(), Response::new(Empty::new()), refused()]);
    let mut svc = OAuth2Layer::new(source, API)
        .unwrap()
        .replay_bodies(ReplayBuffered::new(4))
        .layer_service(api);
    let res = ServiceExt::<Request<Full<Bytes>>>::ready(&mut svc)
        .await
        .unwrap()
        .call(post("c"))
        .await
        .unwrap();
    assert_eq!(res.status(), StatusCode::OK, "a buffered body is retried");
    let res = ServiceExt::<Request<Full<Bytes>>>::ready(&mut svc)
        .await
        .unwrap()
        .call(post("too long"))
        .await;
    assert_eq!(res.unwrap().status(), StatusCode::UNAUTHORIZED, "not kept");
    assert_eq!(calls.load(Ordering::SeqCst), 3);

    // DPoP: a nonce retry, then a refresh retry.
    let (source, _) = common::dpop_source_refreshing_tok_1_to_tok_2().await;
    let (api, calls) = strict(vec![
        common::unauthorized(r#"DPoP error="use_dpop_nonce""#, &["n-1"]),
        Response::new(Empty::new()),
        common::unauthorized(r#"DPoP error="invalid_token""#, &[]),
    ]);
    let mut svc = OAuth2Layer::new(source, API).unwrap().layer_service(api);
    for _ in 0..2 {
        let res = ServiceExt::<Request<Full<Bytes>>>::ready(&mut svc)
            .await
            .unwrap()
            .call(post(""))
            .await
            .unwrap();
        assert_eq!(res.status(), StatusCode::OK);
    }
    assert_eq!(calls.load(Ordering::SeqCst), 4);
}

/// R6750-04 (RFC 6750 §3.1): a 400 `invalid_request` says the request is malformed, not that
/// the token is bad: it goes back to the caller as is, with no refresh and no retry, under
/// every policy, and the token stays in use.
#[tokio::test(start_paused = true)]
async fn r6750_04_a_400_invalid_request_is_passed_through_with_no_refresh() {
    const CHALLENGE: &str = r#"Bearer error="invalid_request""#;
    for policy in [RetryOn401::InvalidToken, RetryOn401::Any] {
        let (fetch, fetches) = counting_fetcher(Duration::from_millis(5), 3600);
        let source = old_token_source(fetch).await;
        let (api, seen) = api_rejecting_token_with("old", StatusCode::BAD_REQUEST, Some(CHALLENGE));
        let mut svc = OAuth2Layer::new(source.clone(), API)
            .unwrap()
            .retry_on_401(policy)
            .layer_service(api);
        for _ in 0..2 {
            let res = svc
                .ready()
                .await
                .unwrap()
                .call(get("https://api.example.com/"))
                .await
                .unwrap();
            assert_eq!(res.status(), StatusCode::BAD_REQUEST, "{policy:?}");
            assert_eq!(res.headers()["www-authenticate"], CHALLENGE, "{policy:?}");
            // Past `min_interval`: a refusal noted would now make the next request refresh.
            tokio::time::advance(Duration::from_secs(60)).await;
        }
        assert_eq!(fetches.load(Ordering::SeqCst), 0, "{policy:?}");
        assert_eq!(
            *seen.lock().unwrap(),
            [Some("Bearer old".into()), Some("Bearer old".into())],
            "{policy:?}"
        );
        assert_eq!(source.current().unwrap().access_token().secret(), "old");
    }
}

/// R6750-01 and R6750-09 (RFC 6750 §2, §5.3): the token goes in the `Authorization` header
/// only. The URI (path and query) and the body reach the API exactly as given: the token is
/// never put in a URL or a form body, on a request's first pass or on the fast path after it.
#[tokio::test]
async fn r6750_01_09_the_token_goes_in_the_header_only_never_in_the_uri_or_body() {
    use http_body_util::BodyExt;
    let (api, seen) = recording_api(vec![], |req: &Request<Full<Bytes>>| {
        (
            req.uri().to_string(),
            authorization_of(req),
            req.body().clone(),
        )
    });
    let layer = OAuth2Layer::new(TokenSource::from_token(bearer("abc")), API).unwrap();
    let mut svc = layer.layer_service(api);
    let requests = [
        ("https://api.example.com/v1/items?a=1&b=%20c", ""),
        ("https://api.example.com/v1/items", "x=1&y=2"),
        ("https://api.example.com/v1/items?q=access", "grant=no"),
    ];
    for _ in 0..2 {
        for (uri, body) in requests {
            let req = Request::post(uri)
                .header("content-type", "application/x-www-form-urlencoded")
                .body(Full::new(Bytes::from(body)))
                .unwrap();
            svc.ready().await.unwrap().call(req).await.unwrap();
        }
    }
    let seen = std::mem::take(&mut *seen.lock().unwrap());
    assert_eq!(seen.len(), 2 * requests.len());
    for ((uri, auth, body), (sent_uri, sent_body)) in seen.into_iter().zip(requests.repeat(2)) {
        assert_eq!(uri, sent_uri);
        assert_eq!(auth.as_deref(), Some("Bearer abc"), "{uri}");
        let body = body.collect().await.unwrap().to_bytes();
        assert_eq!(body, sent_body.as_bytes(), "{uri}");
    }
}

/// BCP-11 (RFC 9700 §4.14.2, RFC 6749 §6): `token_updater` (a `CallbackStore`) hears of a
/// rotated refresh token with its access token; when a refresh response carries no refresh
/// token, it hears of the new access token with the old refresh token kept; and each refresh
/// sends the refresh token it heard of last.
#[tokio::test(start_paused = true)]
async fn bcp_11_token_updater_hears_each_rotation_and_the_kept_refresh_token() {
    let heard = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = heard.clone();
    let store = tower_oauth2::store::CallbackStore::new(move |token: &Token| {
        log.lock().unwrap().push((
            token.access_token().secret().to_owned(),
            token.refresh_token().map(|rt| rt.secret().to_owned()),
        ));
        Ok(())
    });
    let sent = Arc::new(std::sync::Mutex::new(Vec::new()));
    let sent_log = sent.clone();
    let fetches = Arc::new(AtomicUsize::new(0));
    let clock = TokioClock::new();
    let fetch = move |current: Option<&Token>| {
        let used = current
            .unwrap()
            .refresh_token()
            .unwrap()
            .secret()
            .to_owned();
        sent_log.lock().unwrap().push(used);
        let n = fetches.fetch_add(1, Ordering::SeqCst) + 1;
        let issued = bearer(&format!("at-{n}"))
            .with_expires_at(Some(clock.now() + Duration::from_secs(3600)));
        // The first refresh rotates the refresh token, the second carries none.
        let issued = match n {
            1 => issued.with_refresh_token(Some(RefreshToken::new("rt-1"))),
            _ => issued,
        };
        async move { Ok::<_, TokenError>(issued) }
    };
    let now = TokioClock::new().now();
    let source = TokenSource::builder()
        .token(
            bearer("at-0")
                .with_expires_at(Some(now))
                .with_refresh_token(Some(RefreshToken::new("rt-0"))),
        )
        .store(store.clone())
        .fetcher(fetch)
        .build()
        .await
        .unwrap();
    assert_eq!(
        source.token().await.unwrap().access_token().secret(),
        "at-1"
    );
    tokio::time::advance(Duration::from_secs(3600)).await;
    let token = source.token().await.unwrap();
    assert_eq!(token.access_token().secret(), "at-2");
    assert_eq!(token.refresh_token().unwrap().secret(), "rt-1");
    assert_eq!(
        *heard.lock().unwrap(),
        [
            ("at-1".to_owned(), Some("rt-1".to_owned())),
            ("at-2".to_owned(), Some("rt-1".to_owned())),
        ]
    );
    assert_eq!(*sent.lock().unwrap(), ["rt-0", "rt-1"]);
}
