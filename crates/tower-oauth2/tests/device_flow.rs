//! The device authorization grant (RFC 8628) through `GrantClient`, against a scripted token
//! endpoint on tokio's paused clock: the polling interval, `slow_down`, denial and expiry. The
//! real-server run is in `interop-tests` (oidc-provider).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use oauth_core::oauth2::{Client, Endpoint};
use tower::util::BoxCloneSyncService;
use tower_oauth2::GrantClient;

mod common;
use common::json_response;

type Fake = BoxCloneSyncService<Request<Full<Bytes>>, Response<Full<Bytes>>, Infallible>;

/// A server that answers the device authorization request with `device` and each token poll
/// with the next of `polls`; it records when each poll came (tokio time since the start).
fn server(device: &'static str, polls: Vec<&'static str>) -> (Fake, Arc<Mutex<Vec<Duration>>>) {
    let start = tokio::time::Instant::now();
    let seen: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let log = seen.clone();
    let polls = Arc::new(Mutex::new(polls.into_iter()));
    let svc = tower::service_fn(move |req: Request<Full<Bytes>>| {
        let log = log.clone();
        let polls = polls.clone();
        async move {
            let path = req.uri().path().to_owned();
            let body = req.into_body().collect().await.unwrap().to_bytes();
            let body = std::str::from_utf8(&body).unwrap().to_owned();
            let (status, json) =
                if path == "/device" {
                    assert_eq!(body, "scope=read&client_id=cli");
                    (200, device)
                } else {
                    assert!(body.contains(
                        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code"
                    ));
                    assert!(body.contains("device_code=dc-1"));
                    log.lock().unwrap().push(start.elapsed());
                    let next = polls
                        .lock()
                        .unwrap()
                        .next()
                        .unwrap_or(r#"{"error":"authorization_pending"}"#);
                    match next.strip_prefix("503 ") {
                        Some(body) => (503, body),
                        None if next.contains("error") => (400, next),
                        None => (200, next),
                    }
                };
            Ok::<_, Infallible>(json_response(status, json))
        }
    });
    (BoxCloneSyncService::new(svc), seen)
}

const DEVICE: &str = r#"{"device_code":"dc-1","user_code":"WDJB-MJHT","verification_uri":"https://example.com/device","expires_in":60,"interval":2}"#;
const PENDING: &str = r#"{"error":"authorization_pending"}"#;
const SLOW_DOWN: &str = r#"{"error":"slow_down"}"#;
const TOKEN: &str = r#"{"access_token":"at","token_type":"Bearer","expires_in":3600}"#;

fn grants(svc: Fake) -> GrantClient<Fake> {
    GrantClient::new(
        svc,
        Endpoint::new("https://example.com/token").unwrap(),
        Client::public("cli"),
    )
}

async fn start(grants: &GrantClient<Fake>) -> oauth_core::oauth2::DeviceAuthorization {
    let device = grants
        .device_authorization(
            &Endpoint::new("https://example.com/device").unwrap(),
            Some(&oauth_core::oauth2::Scope::parse("read")),
        )
        .await
        .unwrap();
    assert_eq!(device.user_code(), "WDJB-MJHT");
    device
}

#[tokio::test(start_paused = true)]
async fn polls_at_the_interval_and_slows_down_when_told() {
    let (svc, seen) = server(DEVICE, vec![PENDING, SLOW_DOWN, PENDING, TOKEN]);
    let grants = grants(svc);
    let device = start(&grants).await;
    let token = grants.poll_device_token(device).await.unwrap();
    assert_eq!(token.access_token().secret(), "at");
    let secs: Vec<u64> = seen.lock().unwrap().iter().map(Duration::as_secs).collect();
    // 2 s, then 2 s, then slow_down: 7 s from then on.
    assert_eq!(secs, [2, 4, 11, 18]);
}

#[tokio::test(start_paused = true)]
async fn a_denial_or_an_expired_code_stops_polling() {
    for (polls, code) in [
        (
            vec![PENDING, r#"{"error":"access_denied"}"#],
            "access_denied",
        ),
        (vec![r#"{"error":"expired_token"}"#], "expired_token"),
    ] {
        let n = polls.len();
        let (svc, seen) = server(DEVICE, polls);
        let grants = grants(svc);
        let device = start(&grants).await;
        let error = grants.poll_device_token(device).await.unwrap_err();
        assert_eq!(error.oauth_error().map(|e| e.code.as_str()), Some(code));
        assert_eq!(seen.lock().unwrap().len(), n);
    }
    // Never approved: polling ends when the code's lifetime (60 s) is over.
    let (svc, seen) = server(DEVICE, vec![]);
    let grants = grants(svc);
    let device = start(&grants).await;
    let error = grants.poll_device_token(device).await.unwrap_err();
    assert_eq!(
        error.oauth_error().map(|e| e.code.as_str()),
        Some("authorization_pending")
    );
    assert_eq!(seen.lock().unwrap().len(), 30);
}

/// RFC 8628 §3.5: after a server failure the client polls less often (twice the last wait),
/// and the next answer brings it back to the interval.
#[tokio::test(start_paused = true)]
async fn server_failures_double_the_wait() {
    let (svc, seen) = server(
        DEVICE,
        vec![
            r#"503 {"error":"temporarily_unavailable"}"#,
            "503 <html>down</html>",
            PENDING,
            TOKEN,
        ],
    );
    let grants = grants(svc);
    let device = start(&grants).await;
    grants.poll_device_token(device).await.unwrap();
    let secs: Vec<u64> = seen.lock().unwrap().iter().map(Duration::as_secs).collect();
    // 2 s (503), 4 s more (503), 8 s more (pending), then the 2 s interval again.
    assert_eq!(secs, [2, 6, 14, 16]);
}

/// `poll_device_token_with` says before each wait how long and why: the interval first, then
/// pending, a server failure (doubled), slow_down (5 s more).
#[tokio::test(start_paused = true)]
async fn each_wait_is_reported_with_its_reason() {
    use tower_oauth2::client::PollWait::{self, First, Pending, SlowDown, Trouble};
    let (svc, _) = server(
        DEVICE,
        vec![
            PENDING,
            r#"503 {"error":"temporarily_unavailable"}"#,
            SLOW_DOWN,
            TOKEN,
        ],
    );
    let grants = grants(svc);
    let device = start(&grants).await;
    let mut waits: Vec<PollWait> = Vec::new();
    grants
        .poll_device_token_with(device, |wait| waits.push(wait))
        .await
        .unwrap();
    let s = Duration::from_secs;
    assert_eq!(
        waits,
        [First(s(2)), Pending(s(2)), Trouble(s(4)), SlowDown(s(7))]
    );
    assert_eq!(waits[3].duration(), s(7));
}

/// RFC 8628 §3.2, §3.5: polling stops when the device code expires. A wait that would end past
/// the code's lifetime (a server failure doubled it, here 32 s with 30 s left) is cut to end at
/// the expiry, where the last poll is made, never past it; the interval is still kept between
/// polls. The client used to sleep the whole wait and poll once more after the code had
/// expired (at 62 s here; with the 10-minute cap, up to 10 minutes after the expiry).
#[tokio::test(start_paused = true)]
async fn no_poll_is_made_after_the_device_code_expired() {
    let (svc, seen) = server(DEVICE, vec!["503 <html>down</html>"; 10]);
    let grants = grants(svc);
    let device = start(&grants).await;
    let started = tokio::time::Instant::now();
    let error = grants.poll_device_token(device).await.unwrap_err();
    assert!(error.is_transient());
    let secs: Vec<u64> = seen.lock().unwrap().iter().map(Duration::as_secs).collect();
    // 2 s, 4 s, 8 s, 16 s, then 30 s (the 32 s wait cut to the code's last 30 s).
    assert_eq!(secs, [2, 6, 14, 30, 60]);
    assert_eq!(started.elapsed(), Duration::from_secs(60));

    // With less than one interval left, there is no last poll: it would come too early for
    // the interval or too late for the code. (slow_down: 2 s, then 7, 12, 17 s; at 38 s the
    // interval is 22 s, and this code, of 58 s, has 20 s left.)
    const SHORT: &str = r#"{"device_code":"dc-1","user_code":"WDJB-MJHT","verification_uri":"https://example.com/device","expires_in":58,"interval":2}"#;
    let (svc, seen) = server(SHORT, vec![SLOW_DOWN; 10]);
    let short = self::grants(svc);
    let device = start(&short).await;
    let error = short.poll_device_token(device).await.unwrap_err();
    assert_eq!(
        error.oauth_error().map(|e| e.code.as_str()),
        Some("slow_down")
    );
    let secs: Vec<u64> = seen.lock().unwrap().iter().map(Duration::as_secs).collect();
    assert_eq!(secs, [2, 9, 21, 38]);
}

/// The same with a server failure whose `Retry-After` is more than the code has left: no last
/// poll sooner than the server asked (here 40 s, with 18 s left after the poll at 42 s).
#[tokio::test(start_paused = true)]
async fn no_last_poll_sooner_than_retry_after() {
    let start = tokio::time::Instant::now();
    let seen: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let log = seen.clone();
    let svc = tower::service_fn(move |req: Request<Full<Bytes>>| {
        let log = log.clone();
        async move {
            if req.uri().path() == "/device" {
                return Ok::<_, Infallible>(json_response(200, DEVICE));
            }
            log.lock().unwrap().push(start.elapsed());
            let mut response = json_response(503, r#"{"error":"temporarily_unavailable"}"#);
            response
                .headers_mut()
                .insert("retry-after", http::HeaderValue::from_static("40"));
            Ok(response)
        }
    });
    let grants = grants(BoxCloneSyncService::new(svc));
    let device = grants
        .device_authorization(&Endpoint::new("https://example.com/device").unwrap(), None)
        .await
        .unwrap();
    let error = grants.poll_device_token(device).await.unwrap_err();
    assert_eq!(error.retry_after(), Some(Duration::from_secs(40)));
    let secs: Vec<u64> = seen.lock().unwrap().iter().map(Duration::as_secs).collect();
    assert_eq!(secs, [2, 42]);
}

/// The same rule for the first poll: when the server's `interval` is already longer than the
/// code's lifetime, the first poll would come either sooner than the interval (§3.5 MUST) or
/// after the code expired, so none is made and polling ends at once with the typed
/// `DeviceCodeExpired`. The client used to wait the interval and poll the dead code (at 5 s
/// for this 3 s code). An interval equal to the lifetime still gets its one poll, at the expiry.
#[tokio::test(start_paused = true)]
async fn no_first_poll_when_the_interval_outlasts_the_device_code() {
    const BRIEF: &str = r#"{"device_code":"dc-1","user_code":"WDJB-MJHT","verification_uri":"https://example.com/device","expires_in":3,"interval":5}"#;
    let (svc, seen) = server(BRIEF, vec![]);
    let grants = grants(svc);
    let device = start(&grants).await;
    let started = tokio::time::Instant::now();
    let mut waits = Vec::new();
    let error = grants
        .poll_device_token_with(device, |wait| waits.push(wait))
        .await
        .unwrap_err();
    assert!(
        error
            .request_error()
            .is_some_and(|s| s.is::<tower_oauth2::client::DeviceCodeExpired>()),
        "{error:?}"
    );
    assert!(!error.is_transient());
    assert!(seen.lock().unwrap().is_empty());
    assert!(waits.is_empty());
    assert_eq!(started.elapsed(), Duration::ZERO);

    const EVEN: &str = r#"{"device_code":"dc-1","user_code":"WDJB-MJHT","verification_uri":"https://example.com/device","expires_in":5,"interval":5}"#;
    let (svc, seen) = server(EVEN, vec![]);
    let even = self::grants(svc);
    let device = start(&even).await;
    let error = even.poll_device_token(device).await.unwrap_err();
    assert_eq!(
        error.oauth_error().map(|e| e.code.as_str()),
        Some("authorization_pending")
    );
    let secs: Vec<u64> = seen.lock().unwrap().iter().map(Duration::as_secs).collect();
    assert_eq!(secs, [5]);
}

/// RFC 8628 §3.2 at the edges: no `verification_uri` is an error naming it (the user would
/// have nowhere to go); no `interval` is 5 s; an interval of 0 is 1 s (never a busy loop) and
/// a huge one is capped at 10 minutes; a negative one is an error. None panics.
#[tokio::test(start_paused = true)]
async fn device_authorization_responses_at_the_edges() {
    use oauth_core::oauth2::TokenResponseError;
    let answer = |body: String| async move {
        let svc = tower::service_fn(move |_: Request<Full<Bytes>>| {
            let body = body.clone();
            async move { Ok::<_, Infallible>(json_response(200, body)) }
        });
        grants(BoxCloneSyncService::new(svc))
            .device_authorization(&Endpoint::new("https://example.com/device").unwrap(), None)
            .await
    };
    let error = answer(r#"{"device_code":"d","user_code":"u","expires_in":60}"#.into())
        .await
        .unwrap_err();
    assert!(matches!(
        error.response_error(),
        Some(TokenResponseError::MissingField {
            field: "verification_uri"
        })
    ));
    for (interval, expected) in [
        ("", Some(5)),
        (r#","interval":null"#, Some(5)),
        (r#","interval":0"#, Some(1)),
        (r#","interval":1e30"#, Some(600)),
        (r#","interval":18446744073709551616"#, Some(600)),
        (r#","interval":-3"#, None),
        (r#","interval":"soon""#, None),
    ] {
        let body = format!(
            r#"{{"device_code":"d","user_code":"u","verification_uri":"https://example.com/device","expires_in":60{interval}}}"#
        );
        let got = answer(body).await;
        assert_eq!(
            got.as_ref().ok().map(|d| d.interval().as_secs()),
            expected,
            "{interval}: {got:?}"
        );
    }
}

/// One scripted poll answer: a response, or a failure of the HTTP service (no response).
enum Poll {
    Answer(u16, &'static str),
    ConnectionRefused,
}

/// A server as `server`'s, whose token polls can also fail without a response or redirect
/// (`Answer(302, ..)` carries a `location`).
fn unreliable_server(polls: Vec<Poll>) -> (Unreliable, Arc<Mutex<Vec<Duration>>>) {
    let start = tokio::time::Instant::now();
    let seen: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let log = seen.clone();
    let polls = Arc::new(Mutex::new(polls.into_iter()));
    let svc = tower::service_fn(move |req: Request<Full<Bytes>>| {
        let log = log.clone();
        let polls = polls.clone();
        async move {
            if req.uri().path() == "/device" {
                return Ok(json_response(200, DEVICE));
            }
            log.lock().unwrap().push(start.elapsed());
            let next = polls.lock().unwrap().next();
            match next {
                Some(Poll::ConnectionRefused) => {
                    Err::<_, tower::BoxError>("connection refused".into())
                }
                Some(Poll::Answer(302, _)) => Ok(Response::builder()
                    .status(302)
                    .header("location", "https://elsewhere.example/token")
                    .body(Full::new(Bytes::new()))
                    .unwrap()),
                Some(Poll::Answer(status, body)) => Ok(json_response(status, body)),
                None => Ok(json_response(400, PENDING)),
            }
        }
    });
    (BoxCloneSyncService::new(svc), seen)
}

type Unreliable = BoxCloneSyncService<Request<Full<Bytes>>, Response<Full<Bytes>>, tower::BoxError>;

async fn poll_unreliable(
    polls: Vec<Poll>,
) -> (
    Result<oauth_core::oauth2::Token, tower_oauth2::GrantClientError>,
    Vec<u64>,
) {
    let (svc, seen) = unreliable_server(polls);
    let grants = GrantClient::new(
        svc,
        Endpoint::new("https://example.com/token").unwrap(),
        Client::public("cli"),
    );
    let device = grants
        .device_authorization(&Endpoint::new("https://example.com/device").unwrap(), None)
        .await
        .unwrap();
    let result = grants.poll_device_token(device).await;
    let secs = seen.lock().unwrap().iter().map(Duration::as_secs).collect();
    (result, secs)
}

/// RFC 8628 §3.5: a poll that gets no answer (here the connection is refused) is a reason to
/// poll less often, not to give up: the wait doubles, as after a server failure, and the next
/// answer brings it back to the interval. (Mutants: client/device.rs 143, the guard of a failure
/// with no server answer -> false, and `now < expires_at` -> `>` / `==`: polling stopped at the
/// first refused connection.)
#[tokio::test(start_paused = true)]
async fn a_poll_with_no_answer_doubles_the_wait() {
    let (result, secs) = poll_unreliable(vec![
        Poll::ConnectionRefused,
        Poll::ConnectionRefused,
        Poll::Answer(400, PENDING),
        Poll::Answer(200, TOKEN),
    ])
    .await;
    assert_eq!(result.unwrap().access_token().secret(), "at");
    // 2 s (refused), 4 s more (refused), 8 s more (pending), then the 2 s interval again.
    assert_eq!(secs, [2, 6, 14, 16]);
}

/// A poll that fails for a reason that will not go away by itself (here the token endpoint
/// redirects, which the grant client never follows) stops polling with that error: no second
/// poll. (Mutants: client/device.rs 143, the same guard -> true, and `&&` -> `||`: polling went
/// on after the redirect.)
#[tokio::test(start_paused = true)]
async fn a_poll_that_fails_for_good_stops_polling() {
    let (result, secs) =
        poll_unreliable(vec![Poll::Answer(302, ""), Poll::Answer(200, TOKEN)]).await;
    let error = result.unwrap_err();
    assert_eq!(
        error.kind(),
        tower_oauth2::client::GrantClientErrorKind::UnexpectedRedirect(http::StatusCode::FOUND)
    );
    assert_eq!(secs, [2]);
}

/// A server failure with exactly one interval left of the code's lifetime: the doubled wait is
/// cut to end at the expiry and that last poll is made ("if at least an interval ... is left"),
/// here answered with the token. (Mutant: client/device.rs 179 `left < interval.max(least)` ->
/// `<=`: polling stopped at the 503 with the token one poll away.)
#[tokio::test(start_paused = true)]
async fn a_last_poll_is_made_with_exactly_one_interval_left() {
    const SHORT: &str = r#"{"device_code":"dc-1","user_code":"WDJB-MJHT","verification_uri":"https://example.com/device","expires_in":16,"interval":2}"#;
    let failure = r#"503 {"error":"temporarily_unavailable"}"#;
    let (svc, seen) = server(SHORT, vec![failure, failure, failure, TOKEN]);
    let grants = grants(svc);
    let device = start(&grants).await;
    let token = grants.poll_device_token(device).await.unwrap();
    assert_eq!(token.access_token().secret(), "at");
    let secs: Vec<u64> = seen.lock().unwrap().iter().map(Duration::as_secs).collect();
    // 2 s, 4 s more, 8 s more; the next 16 s wait is cut to the 2 s left.
    assert_eq!(secs, [2, 6, 14, 16]);
}
