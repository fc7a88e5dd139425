use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::Full;
use tower::service_fn;
use tower_service::Service;

use super::*;

#[derive(Debug)]
struct FakeSigner;

impl DanceSigner for FakeSigner {
    fn authorization(
        &self,
        uri: &Uri,
        token: Option<(&str, &TokenSecret)>,
        callback: Option<&str>,
        verifier: Option<&Verifier>,
        realm: Option<&str>,
    ) -> Result<HeaderValue, BoxError> {
        let realm = realm.map_or(String::new(), |r| format!("r=\"{r}\", "));
        Ok(HeaderValue::from_str(&format!(
            "OAuth {realm}u=\"{uri}\", t=\"{}\", c=\"{}\", v=\"{}\"",
            token.map_or("-", |t| t.0),
            callback.unwrap_or("-"),
            verifier.map_or("-", |v| v.secret()),
        ))?)
    }
}

fn dance() -> Dance {
    Dance::with_signer(
        Arc::new(FakeSigner),
        "http://127.0.0.1:1/request_token".parse().unwrap(),
        "http://127.0.0.1:1/access_token".parse().unwrap(),
    )
    .dangerous_allow_http_loopback()
}

/// Plain http is refused before anything is sent, unless allowed and on loopback; an
/// authorization endpoint with a fragment is refused (the token would land in it).
#[tokio::test]
async fn endpoints_must_be_https_or_allowed_loopback() {
    let (log, mut svc) = provider(
        StatusCode::OK,
        "oauth_token=t&oauth_token_secret=s&oauth_callback_confirmed=true",
    );
    let at = |request: &str, access: &str| {
        Dance::with_signer(
            Arc::new(FakeSigner),
            request.parse().unwrap(),
            access.parse().unwrap(),
        )
    };
    for dance in [
        at(
            "http://127.0.0.1:1/request_token",
            "http://127.0.0.1:1/access_token",
        ),
        at(
            "http://photos.example.net/request_token",
            "https://photos.example.net/access_token",
        )
        .dangerous_allow_http_loopback(),
    ] {
        let error = dance
            .request_temporary_credentials(&mut svc, &Callback::OutOfBand)
            .await
            .unwrap_err();
        assert!(matches!(error, DanceError::InsecureTransport), "{error:?}");
    }
    assert!(log.lock().unwrap().is_empty(), "nothing was sent");
    let pending = at("https://[::1]/r", "https://[::1]/a")
        .request_temporary_credentials(&mut svc, &Callback::OutOfBand)
        .await
        .unwrap();
    assert!(matches!(
        pending.authorization_url("https://photos.example.net/authorize#x"),
        Err(DanceError::InvalidRequest { .. })
    ));
    let loopback = at("http://localhost:1/r", "http://[::1]:1/a").dangerous_allow_http_loopback();
    assert!(
        loopback
            .check_transport(&"http://localhost:1/r".parse().unwrap())
            .is_ok()
    );
    assert!(
        loopback
            .check_transport(&"http://[::1]:1/a".parse().unwrap())
            .is_ok()
    );
    assert!(
        loopback
            .check_transport(&"ftp://127.0.0.1/a".parse().unwrap())
            .is_err()
    );
}

/// A provider that never answers, and one that sends its headers and then nothing more:
/// each step fails with `Timeout` after the bound (30 s by default).
#[tokio::test(start_paused = true)]
async fn a_silent_or_trickling_provider_times_out() {
    let mut silent = service_fn(|_req: Request<Full<Bytes>>| {
        std::future::pending::<Result<Response<Full<Bytes>>, Infallible>>()
    });
    let error = dance()
        .request_temporary_credentials(&mut silent, &Callback::OutOfBand)
        .await
        .unwrap_err();
    assert!(
        matches!(error, DanceError::Timeout { after } if after == DEFAULT_TIMEOUT),
        "{error:?}"
    );
    let senders = Arc::new(Mutex::new(Vec::new()));
    let keep = Arc::clone(&senders);
    let mut trickling = service_fn(move |_req: Request<Full<Bytes>>| {
        let (sender, body) = http_body_util::channel::Channel::<Bytes, Infallible>::new(1);
        keep.lock().unwrap().push(sender);
        async move { Ok::<_, Infallible>(Response::new(body)) }
    });
    let error = dance()
        .timeout(Duration::from_secs(5))
        .request_temporary_credentials(&mut trickling, &Callback::OutOfBand)
        .await
        .unwrap_err();
    assert!(
        matches!(error, DanceError::Timeout { after } if after == Duration::from_secs(5)),
        "{error:?}"
    );
    assert_eq!(senders.lock().unwrap().len(), 1, "the request was sent");
}

/// With the bound off, or outside any tokio runtime, a dance runs unbounded (and does not
/// panic for want of a timer).
#[test]
fn without_a_tokio_runtime_the_dance_runs_unbounded() {
    let (_, mut client) = provider(
        StatusCode::OK,
        "oauth_token=tmp&oauth_token_secret=s&oauth_callback_confirmed=true",
    );
    let run = |dance: Dance, client: &mut _| {
        let mut step = std::pin::pin!(async move {
            dance
                .request_temporary_credentials(client, &Callback::OutOfBand)
                .await
        });
        let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
        match step.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(result) => result,
            std::task::Poll::Pending => panic!("the fake provider answers at once"),
        }
    };
    assert_eq!(run(dance(), &mut client).unwrap().token(), "tmp");
    assert_eq!(
        run(dance().no_timeout(), &mut client).unwrap().token(),
        "tmp"
    );
}

/// `oauth_callback` must be an absolute URI without a fragment (custom schemes are fine;
/// http and https ones need a host); nothing is sent otherwise.
#[tokio::test]
async fn callbacks_must_be_absolute_without_a_fragment() {
    let (log, mut client) = provider(
        StatusCode::OK,
        "oauth_token=tmp&oauth_token_secret=s&oauth_callback_confirmed=true",
    );
    for bad in [
        "app/cb",
        "/cb",
        "https://app/cb#frag",
        "",
        "1http://x",
        "https://app/c b",
        "https://",
        "https:///cb",
        "http://:8080/cb",
    ] {
        let error = dance()
            .request_temporary_credentials(&mut client, &Callback::Uri(bad.into()))
            .await
            .unwrap_err();
        assert!(
            matches!(error, DanceError::InvalidRequest { .. }),
            "{bad}: {error:?}"
        );
    }
    assert!(log.lock().unwrap().is_empty());
    for good in [
        "https://app/cb?x=1",
        "com.example.app:/cb",
        "myapp://cb",
        "oob",
    ] {
        dance()
            .request_temporary_credentials(&mut client, &Callback::Uri(good.into()))
            .await
            .unwrap();
    }
}

/// The authorization endpoint follows the dance's transport rule; a pending authorization
/// kept as its two parts (in a session store) completes the dance.
#[tokio::test]
async fn authorization_url_transport_and_pending_authorization_from_its_parts() {
    let pending = temporary(
        dance(),
        StatusCode::OK,
        "oauth_token=tmp&oauth_token_secret=SENTINEL1&oauth_callback_confirmed=true",
    )
    .await
    .unwrap();
    assert!(
        pending
            .authorization_url("http://127.0.0.1:1/authorize")
            .is_ok()
    );
    assert!(matches!(
        pending.authorization_url("http://photos.example.net/authorize"),
        Err(DanceError::InsecureTransport)
    ));
    let (token, secret) = (pending.token().to_owned(), pending.secret().clone());
    assert_eq!(secret.secret(), "SENTINEL1");
    let restored = PendingAuthorization::new(token, secret);
    assert!(matches!(
        restored.authorization_url("http://127.0.0.1:1/authorize"),
        Err(DanceError::InsecureTransport)
    ));
    assert!(!format!("{restored:?}").contains("SENTINEL1"));
    // Restored by the dance that allows loopback http, it may use a local provider.
    let local = dance().pending("tmp", TokenSecret::new("SENTINEL1"));
    assert!(
        local
            .authorization_url("http://127.0.0.1:1/authorize")
            .is_ok()
    );
    let (log, mut client) = provider(StatusCode::OK, "oauth_token=tok&oauth_token_secret=s2");
    let credentials = dance()
        .complete_from_callback(
            &mut client,
            restored,
            &"https://app/cb?oauth_token=tmp&oauth_verifier=ver"
                .parse()
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(credentials.token(), "tok");
    assert!(log.lock().unwrap()[0].contains("t=\"tmp\""));
}

/// A callback for another `oauth_token` (a forged link, a stale tab) is refused before any
/// request, and a pending authorization lent by reference survives it: the real callback
/// completes the dance afterwards.
#[tokio::test]
async fn a_refused_callback_does_not_spend_a_lent_pending_authorization() {
    let pending = dance().pending("tmp", TokenSecret::new("SENTINEL1"));
    let (log, mut client) = provider(StatusCode::OK, "oauth_token=tok&oauth_token_secret=s2");
    for forged in [
        "https://app/cb?oauth_token=attacker&oauth_verifier=v",
        "https://app/cb?oauth_verifier=v",
        "https://app/cb?oauth_token=tmp",
    ] {
        let error = dance()
            .complete_from_callback(&mut client, &pending, &forged.parse().unwrap())
            .await
            .unwrap_err();
        assert!(
            matches!(error, DanceError::Callback(_)),
            "{forged}: {error:?}"
        );
    }
    assert!(log.lock().unwrap().is_empty(), "nothing sent");
    let credentials = dance()
        .complete_from_callback(
            &mut client,
            &pending,
            &"https://app/cb?oauth_token=tmp&oauth_verifier=ver"
                .parse()
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(credentials.token(), "tok");
    assert_eq!(log.lock().unwrap().len(), 1);
}

type Log = Arc<Mutex<Vec<String>>>;

fn provider(
    status: StatusCode,
    body: &'static str,
) -> (
    Log,
    impl Service<Request<Full<Bytes>>, Response = Response<Full<Bytes>>, Error = Infallible>,
) {
    let log: Log = Arc::default();
    let l = Arc::clone(&log);
    let svc = service_fn(move |req: Request<Full<Bytes>>| {
        assert_eq!(req.method(), Method::POST);
        l.lock().unwrap().push(
            req.headers()[header::AUTHORIZATION]
                .to_str()
                .unwrap()
                .to_owned(),
        );
        let res = Response::builder()
            .status(status)
            .body(Full::new(Bytes::from_static(body.as_bytes())))
            .unwrap();
        async move { Ok::<_, Infallible>(res) }
    });
    (log, svc)
}

/// Step 1 with `dance`, out of band, against a provider answering `status` and `body`.
async fn temporary(
    dance: Dance,
    status: StatusCode,
    body: &'static str,
) -> Result<PendingAuthorization, DanceError> {
    let (_, mut client) = provider(status, body);
    dance
        .request_temporary_credentials(&mut client, &Callback::OutOfBand)
        .await
}

#[tokio::test]
async fn full_dance_with_callback() {
    let (log, mut client) = provider(
        StatusCode::OK,
        "oauth_token=tmp&oauth_token_secret=SENTINEL1&oauth_callback_confirmed=true",
    );
    let d = dance();
    let pending = d
        .request_temporary_credentials(&mut client, &Callback::Uri("https://app/cb".into()))
        .await
        .unwrap();
    assert_eq!(pending.token(), "tmp");
    assert!(!format!("{pending:?}").contains("SENTINEL1"));
    assert_eq!(
        pending
            .authorization_url("https://p.example/authorize?x=1")
            .unwrap(),
        "https://p.example/authorize?x=1&oauth_token=tmp"
    );
    let (log2, mut client2) = provider(
        StatusCode::OK,
        "oauth_token=tok&oauth_token_secret=SENTINEL2&user_id=42",
    );
    let creds = d
        .complete_from_callback(
            &mut client2,
            pending,
            &"https://app/cb?oauth_token=tmp&oauth_verifier=ver"
                .parse()
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(creds.token(), "tok");
    assert_eq!(creds.secret().secret(), "SENTINEL2");
    assert_eq!(creds.extra(), [("user_id".to_owned(), "42".to_owned())]);
    assert!(!format!("{creds:?}").contains("SENTINEL2"));
    assert_eq!(
        log.lock().unwrap()[0],
        "OAuth u=\"http://127.0.0.1:1/request_token\", t=\"-\", c=\"https://app/cb\", v=\"-\""
    );
    assert_eq!(
        log2.lock().unwrap()[0],
        "OAuth u=\"http://127.0.0.1:1/access_token\", t=\"tmp\", c=\"-\", v=\"ver\""
    );
}

#[tokio::test]
async fn unconfirmed_callback_is_an_error() {
    let err = temporary(
        dance(),
        StatusCode::OK,
        "oauth_token=tmp&oauth_token_secret=s",
    )
    .await
    .unwrap_err();
    assert!(matches!(err, DanceError::CallbackNotConfirmed), "{err:?}");
}

#[tokio::test]
async fn provider_errors_carry_status_and_problem_only() {
    let err = temporary(
        dance(),
        StatusCode::UNAUTHORIZED,
        "oauth_problem=signature_invalid&debug=SENTINEL",
    )
    .await
    .unwrap_err();
    let DanceError::Provider(p) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(p.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(p.problem(), Some("signature_invalid"));
    assert!(!format!("{err} {err:?}").contains("SENTINEL"));
}

#[tokio::test]
async fn oversized_response_is_refused() {
    let err = temporary(
        dance().max_response_bytes(16),
        StatusCode::OK,
        "oauth_token=tmp&oauth_token_secret=s&oauth_callback_confirmed=true",
    )
    .await
    .unwrap_err();
    assert!(
        matches!(err, DanceError::ResponseTooLarge { limit: 16 }),
        "{err:?}"
    );
}

#[tokio::test]
async fn callback_errors_stop_before_the_exchange() {
    let (_, mut client) = provider(
        StatusCode::OK,
        "oauth_token=tmp&oauth_token_secret=s&oauth_callback_confirmed=true",
    );
    let d = dance();
    for (callback, expected) in [
        (
            "https://app/cb?oauth_token=other&oauth_verifier=v",
            CallbackError::TokenMismatch,
        ),
        (
            "https://app/cb?oauth_token=tmp",
            CallbackError::MissingVerifier,
        ),
        ("https://app/cb?denied=tmp", CallbackError::Denied),
    ] {
        let pending = d
            .request_temporary_credentials(&mut client, &Callback::OutOfBand)
            .await
            .unwrap();
        let (log, mut exchange) = provider(StatusCode::OK, "");
        let err = d
            .complete_from_callback(&mut exchange, pending, &callback.parse().unwrap())
            .await
            .unwrap_err();
        assert!(
            matches!(&err, DanceError::Callback(e) if *e == expected),
            "{err:?}"
        );
        assert!(log.lock().unwrap().is_empty());
    }
}

/// An out-of-band verifier typed in empty (or blank) is refused before anything is sent.
#[tokio::test]
async fn an_empty_verifier_is_refused_before_the_exchange() {
    for typed in ["", "  "] {
        let pending = temporary(
            dance(),
            StatusCode::OK,
            "oauth_token=tmp&oauth_token_secret=s&oauth_callback_confirmed=true",
        )
        .await
        .unwrap();
        let (log, mut exchange) = provider(StatusCode::OK, "oauth_token=t&oauth_token_secret=s");
        let err = dance()
            .request_token_credentials(&mut exchange, pending, Verifier::new(typed))
            .await
            .unwrap_err();
        assert!(
            matches!(&err, DanceError::Callback(CallbackError::MissingVerifier)),
            "{err:?}"
        );
        assert!(log.lock().unwrap().is_empty());
    }
}

/// `body` padded with an `x=...` parameter to exactly `len` bytes.
fn padded(body: &str, len: usize) -> &'static str {
    let pad = len - body.len() - "&x=".len();
    format!("{body}&x={}", "y".repeat(pad)).leak()
}

/// The default response limit is the documented 64 KiB: a response of exactly that size is
/// read, one byte more is `ResponseTooLarge` naming 64 KiB.
#[tokio::test]
async fn the_default_max_response_bytes_is_64_kib() {
    let form = "oauth_token=tmp&oauth_token_secret=s&oauth_callback_confirmed=true";
    let pending = temporary(dance(), StatusCode::OK, padded(form, 64 * 1024))
        .await
        .unwrap();
    assert_eq!(pending.token(), "tmp");
    let err = temporary(dance(), StatusCode::OK, padded(form, 64 * 1024 + 1))
        .await
        .unwrap_err();
    assert!(
        matches!(err, DanceError::ResponseTooLarge { limit: 65_536 }),
        "{err:?}"
    );
}

/// An error response's body is read up to 8 KiB for its `oauth_problem`: one of exactly
/// 8 KiB still names the problem; a longer one keeps only its status.
#[tokio::test]
async fn an_error_body_is_read_up_to_8_kib_for_its_problem() {
    for (len, problem) in [(8 * 1024, Some("token_rejected")), (8 * 1024 + 1, None)] {
        let body = padded("oauth_problem=token_rejected", len);
        let err = temporary(dance(), StatusCode::UNAUTHORIZED, body)
            .await
            .unwrap_err();
        let DanceError::Provider(p) = &err else {
            panic!("{err:?}")
        };
        assert_eq!(p.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(p.problem(), problem, "{len} bytes");
    }
}

/// A pending authorization's `Debug` shows its token, to tell flows apart in logs, and
/// never its secret.
#[test]
fn pending_authorization_debug_shows_the_token_not_the_secret() {
    let pending = PendingAuthorization::new("tmp-token", TokenSecret::new("SENTINEL"));
    let shown = format!("{pending:?}");
    assert_eq!(
        shown,
        "PendingAuthorization { token: \"tmp-token\", secret: TokenSecret([redacted]) }"
    );
}

/// A dance with a realm sends it in both requests (temporary and token credentials), as
/// requests-oauthlib's `OAuth1Session(realm=...)` does (without one, neither has it:
/// `full_dance_with_callback`).
#[tokio::test]
async fn a_realm_is_sent_in_both_requests() {
    let (log, mut client) = provider(
        StatusCode::OK,
        "oauth_token=tmp&oauth_token_secret=s&oauth_callback_confirmed=true",
    );
    let d = dance().realm(Realm::new("photos printer").unwrap());
    let pending = d
        .request_temporary_credentials(&mut client, &Callback::OutOfBand)
        .await
        .unwrap();
    d.request_token_credentials(&mut client, pending, Verifier::new("ver"))
        .await
        .unwrap();
    let log = log.lock().unwrap();
    assert_eq!(
        log[0],
        "OAuth r=\"photos printer\", u=\"http://127.0.0.1:1/request_token\", t=\"-\", c=\"oob\", v=\"-\""
    );
    assert_eq!(
        log[1],
        "OAuth r=\"photos printer\", u=\"http://127.0.0.1:1/access_token\", t=\"tmp\", c=\"-\", v=\"ver\""
    );
}

/// With oauth-core's signer the realm comes first in the header, before the protocol
/// parameters, in both requests; a dance's `Debug` shows it (a realm is not a secret).
#[tokio::test]
async fn the_real_signer_writes_the_realm_first() {
    use oauth_core::oauth1::{ClientCredentials, Signer};
    use oauth_core::secret::ConsumerSecret;
    let signer = Signer::builder(ClientCredentials::new(
        "key",
        ConsumerSecret::new("SENTINEL-cs"),
    ))
    .build()
    .unwrap();
    let d = Dance::new(
        signer,
        "http://127.0.0.1:1/request_token".parse().unwrap(),
        "http://127.0.0.1:1/access_token".parse().unwrap(),
    )
    .dangerous_allow_http_loopback()
    .realm("Photos".parse().unwrap());
    let (log, mut client) = provider(
        StatusCode::OK,
        "oauth_token=tmp&oauth_token_secret=s&oauth_callback_confirmed=true",
    );
    let pending = d
        .request_temporary_credentials(&mut client, &Callback::OutOfBand)
        .await
        .unwrap();
    let (log2, mut client2) = provider(StatusCode::OK, "oauth_token=tok&oauth_token_secret=s2");
    d.request_token_credentials(&mut client2, pending, Verifier::new("ver"))
        .await
        .unwrap();
    let first = &log.lock().unwrap()[0];
    let second = &log2.lock().unwrap()[0];
    assert!(
        first.starts_with("OAuth realm=\"Photos\", oauth_callback=\"oob\", "),
        "{first}"
    );
    assert!(
        second.starts_with("OAuth realm=\"Photos\", oauth_consumer_key=\"key\", "),
        "{second}"
    );
    assert!(second.contains("oauth_token=\"tmp\"") && second.contains("oauth_verifier=\"ver\""));
    let shown = format!("{d:?}");
    assert!(shown.contains("realm: Some(Realm(\"Photos\"))"), "{shown}");
    assert!(!shown.contains("SENTINEL"), "{shown}");
}
