//! Forged callbacks, misleading provider answers and a `Host` header carried across a redirect:
//! each test failed before its fix (review 12 of the signing layer and the dance).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::type_complexity)]

mod common;

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response, Uri};
use http_body_util::Full;
use oauth_core::oauth1::{ClientCredentials, Signer};
use oauth_core::secret::{ConsumerSecret, TokenSecret};
use tower::service_fn;
use tower_oauth1::dance::{CallbackError, DanceError, PendingAuthorization};

use common::{CONSUMER_SECRET as CS, dance, temporary};

/// A callback that names another authorization is a `TokenMismatch`, whatever else it says (a
/// forged denial used to be believed first, so a link could end someone's login in progress);
/// one that names no token is an `UnboundDenial`, never a `Denied`.
#[test]
fn a_denial_naming_another_token_is_a_token_mismatch() {
    use CallbackError::{Denied, TokenMismatch, UnboundDenial};
    let pending = PendingAuthorization::new("tmp", TokenSecret::new("tmp-SECRET"));
    let mut wrong = Vec::new();
    for (query, expected) in [
        // Forged: another token named, whatever else is said.
        (
            "oauth_token=ATTACKER&oauth_problem=user_refused",
            TokenMismatch,
        ),
        (
            "oauth_token=ATTACKER&oauth_problem=token_rejected",
            TokenMismatch,
        ),
        ("oauth_token=ATTACKER&denied=ATTACKER", TokenMismatch),
        // Twitter's denial is `denied=<the temporary token>`; this one names another.
        ("denied=ATTACKER", TokenMismatch),
        // Genuine denials are still denials.
        ("denied=tmp", Denied),
        ("oauth_token=tmp&oauth_problem=permission_denied", Denied),
        // No token named: it could be anyone's link.
        ("oauth_problem=user_refused", UnboundDenial),
        ("denied=", UnboundDenial),
        ("oauth_problem=token_rejected", UnboundDenial),
    ] {
        let uri: Uri = format!("https://app.example/cb?{query}").parse().unwrap();
        let got = pending.verifier_from_callback(&uri).err();
        if got.as_ref() != Some(&expected) {
            wrong.push(format!("{query}: {got:?}, expected {expected:?}"));
        }
    }
    assert!(wrong.is_empty(), "{wrong:#?}");
}

/// A provider's response body that fails to read is the dance's `ResponseBody` error, not the
/// signing layer's `BodyReadError` ("reading the request body for signing", as it used to say).
#[tokio::test]
async fn a_failing_response_body_is_not_called_a_request_body() {
    let err = temporary(200, &[], None).await.unwrap_err();
    assert!(matches!(err, DanceError::ResponseBody(_)), "{err:?}");
    let mut chain = err.to_string();
    let mut source = std::error::Error::source(&err);
    while let Some(s) = source {
        chain.push_str(": ");
        chain.push_str(&s.to_string());
        source = s.source();
    }
    assert!(
        !chain.contains("request body") && !chain.contains("for signing"),
        "misleading error chain: {chain}"
    );
    let DanceError::ResponseBody(inner) = &err else {
        unreachable!()
    };
    assert!(
        !inner.is::<tower_oauth1::BodyReadError>(),
        "the response error is the signing layer's request-body error type"
    );
}

/// An authorization endpoint that already carries `oauth_token` is refused: the URL would have
/// two (`?oauth_token=evil&oauth_token=tmp`), and the provider would choose which one the user
/// authorizes.
#[test]
fn authorization_url_refuses_an_endpoint_with_oauth_token() {
    let pending = PendingAuthorization::new("tmp", TokenSecret::new("tmp-SECRET"));
    for endpoint in [
        "https://p.example/authorize?oauth_token=evil",
        "https://p.example/authorize?lang=en&oauth_token",
        "https://p.example/authorize?oauth%5Ftoken=evil",
    ] {
        let url = pending.authorization_url(endpoint);
        assert!(
            matches!(url, Err(DanceError::InvalidRequest { .. })),
            "{endpoint}: {url:?}"
        );
    }
    let url = pending
        .authorization_url("https://p.example/authorize?lang=en&xoauth_token=1")
        .unwrap();
    assert_eq!(url.query(), Some("lang=en&xoauth_token=1&oauth_token=tmp"));
}

/// An error status whose body is over the response limit (a CDN's 503 page of 100 KiB) keeps
/// its status, its `Retry-After` and its `WWW-Authenticate` problem (it used to be a
/// `ResponseTooLarge`, and a 503 or 429 could not be told from a hostile response).
#[tokio::test]
async fn an_error_status_with_a_large_body_keeps_its_status() {
    for status in [503_u16, 429, 302] {
        let page = format!("<html>{}</html>", "x".repeat(100 * 1024));
        let headers = [
            ("content-type", "text/html"),
            ("retry-after", "30"),
            ("www-authenticate", "OAuth oauth_problem=\"nonce_used\""),
        ];
        let err = temporary(status, &headers, Some(page.into_bytes()))
            .await
            .unwrap_err();
        let DanceError::Provider(p) = &err else {
            panic!("{status}: {err:?}");
        };
        assert_eq!(p.status().as_u16(), status);
        assert_eq!(p.retry_after(), Some(std::time::Duration::from_secs(30)));
        assert_eq!(p.problem(), Some("nonce_used"));
        assert_eq!(p.is_transient(), status != 302, "{status}");
        if status == 302 {
            assert!(err.to_string().contains("redirect"), "{err}");
        }
    }
}

/// A form `Content-Type` with a non-ASCII (obs-text) byte in a parameter is a form: its body is
/// buffered and its parameters signed (it used to stream through unsigned, because
/// `HeaderValue::to_str` failed, while the Content-Type still said form).
#[tokio::test]
async fn a_form_content_type_with_obs_text_is_signed_as_a_form() {
    use std::sync::{Arc, Mutex};
    use tower::{Layer, ServiceExt};
    use tower_oauth1::{SignLayer, SignedBody};
    let signer = Signer::builder(ClientCredentials::new("key", ConsumerSecret::new(CS)))
        .build()
        .unwrap();
    let seen: Arc<Mutex<Option<bool>>> = Arc::default();
    let s = Arc::clone(&seen);
    let inner = service_fn(move |req: Request<SignedBody<Full<Bytes>>>| {
        *s.lock().unwrap() = Some(req.body().is_original());
        async { Ok::<_, Infallible>(Response::new(Full::<Bytes>::default())) }
    });
    let svc = SignLayer::new(signer).layer(inner);
    let req = Request::post("https://api.example.com/update")
        .header(
            "content-type",
            http::HeaderValue::from_bytes(b"application/x-www-form-urlencoded; charset=\xe9")
                .unwrap(),
        )
        .body(Full::new(Bytes::from_static(b"status=hello&a=1")))
        .unwrap();
    svc.oneshot(req).await.unwrap();
    assert_eq!(
        *seen.lock().unwrap(),
        Some(false),
        "a body whose Content-Type says form was sent without its parameters in the signature"
    );
}

/// A 2xx that reports a problem (`oauth_problem=consumer_key_rejected`, HTTP 200) is the
/// provider's error with its problem (it used to be a `MalformedResponse`, "oauth_token is
/// missing": an error sent with HTTP 200).
#[tokio::test]
async fn a_problem_reported_with_200_is_a_provider_error() {
    let mut client = service_fn(|_req: Request<Full<Bytes>>| async {
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::from_static(
            b"oauth_problem=consumer_key_rejected",
        ))))
    });
    let err = dance()
        .request_temporary_credentials(&mut client, &tower_oauth1::dance::Callback::OutOfBand)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, DanceError::Provider(p) if p.problem() == Some("consumer_key_rejected")),
        "{err:?}"
    );
}

/// With a caller-set `Host` (a virtual host reached by address) and `FollowRedirect` outside
/// the signer (the documented order), a cross-origin redirect hop keeps the `Host` header. With
/// no allowlist the signer used to sign that hop for the *original* host and send it to the
/// redirect target, which could replay it at the original host. Now such a request needs an
/// allowlist, which refuses the hop.
#[tokio::test]
async fn a_cross_origin_hop_with_a_host_header_is_not_signed_for_the_first_host() {
    use http::StatusCode;
    use oauth_core::oauth1::{
        IncomingRequest, Origin, SigningSecrets, TokenCredentials, UnverifiedRequest, VerifyKey,
    };
    use std::sync::{Arc, Mutex};
    use tower::{Service, ServiceBuilder, ServiceExt};
    use tower_http::follow_redirect::FollowRedirectLayer;
    use tower_oauth1::{SignLayer, SignedBody};

    use tower_oauth1::sign::{SignRequestError, SignRequestErrorKind};

    let signer = || {
        Signer::builder(ClientCredentials::new("key", ConsumerSecret::new(CS)))
            .token(TokenCredentials::new(
                "tok",
                TokenSecret::new("SENTINEL-ts"),
            ))
            .build()
            .unwrap()
    };
    // (uri, headers, method) of every request that left the signer.
    let seen: Arc<Mutex<Vec<(Uri, http::HeaderMap, http::Method)>>> = Arc::default();
    let s = Arc::clone(&seen);
    let client = service_fn(move |req: Request<SignedBody<Full<Bytes>>>| {
        s.lock().unwrap().push((
            req.uri().clone(),
            req.headers().clone(),
            req.method().clone(),
        ));
        let first = req.uri().host() == Some("203.0.113.7");
        async move {
            let mut res = Response::new(Full::<Bytes>::default());
            if first {
                // The API host (an open redirect on it, or a compromised edge) sends it away.
                *res.status_mut() = StatusCode::FOUND;
                res.headers_mut().insert(
                    "location",
                    http::HeaderValue::from_static("https://evil.example/1.1/account/settings"),
                );
            }
            Ok::<_, Infallible>(res)
        }
    });
    let request = || {
        Request::get("https://203.0.113.7/1.1/statuses")
            .header("host", "api.example.com")
            .body(Full::<Bytes>::default())
            .unwrap()
    };
    let kind = |e: &tower_oauth1::BoxError| e.downcast_ref::<SignRequestError>().map(|e| e.kind());

    // No allowlist: refused before anything is sent.
    let mut svc = ServiceBuilder::new()
        .layer(FollowRedirectLayer::new())
        .layer(SignLayer::new(signer()))
        .service(client.clone());
    let error = svc
        .ready()
        .await
        .unwrap()
        .call(request())
        .await
        .unwrap_err();
    assert_eq!(
        kind(&error),
        Some(SignRequestErrorKind::HostNeedsAllowedOrigins)
    );
    assert!(seen.lock().unwrap().is_empty());

    // With the address allowed: the first hop is signed for the Host and sent; the hop to
    // evil.example is refused.
    let mut svc = ServiceBuilder::new()
        .layer(FollowRedirectLayer::new())
        .layer(SignLayer::new(signer()).allowed_origins(["https://203.0.113.7".parse().unwrap()]))
        .service(client);
    let error = svc
        .ready()
        .await
        .unwrap()
        .call(request())
        .await
        .unwrap_err();
    assert_eq!(kind(&error), Some(SignRequestErrorKind::OriginNotAllowed));
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 1, "only the first hop was sent");
    let Some((uri, headers, method)) = seen.iter().find(|(u, ..)| u.host() == Some("evil.example"))
    else {
        return; // no signed request reached evil.example
    };
    // evil.example replays what it received at api.example.com.
    let origin_form: Uri = uri.path_and_query().unwrap().as_str().parse().unwrap();
    let auth = headers["authorization"].to_str().unwrap();
    let parsed = UnverifiedRequest::parse(
        IncomingRequest::new(method, &origin_form)
            .origin(Origin::new("https", "api.example.com"))
            .authorization(auth),
    )
    .unwrap();
    let cs = ConsumerSecret::new(CS);
    let ts = TokenSecret::new("SENTINEL-ts");
    let replay = parsed.verify(VerifyKey::Secrets(SigningSecrets {
        consumer_secret: &cs,
        token_secret: Some(&ts),
    }));
    assert!(
        replay.is_err(),
        "evil.example received a request signed for https://api.example.com{origin_form} \
         (Host: {:?}); replayed there it verifies",
        headers.get("host")
    );
}

/// A pending authorization restored with an empty token (a session store's missing field)
/// matches no callback (an empty `oauth_token` used to match it: "" compared with "").
#[test]
fn an_empty_oauth_token_never_matches() {
    let restored = PendingAuthorization::new("", TokenSecret::new("s"));
    let forged: Uri = "https://app.example/cb?oauth_token=&oauth_verifier=attacker-verifier"
        .parse()
        .unwrap();
    let got = restored.verifier_from_callback(&forged);
    assert!(
        matches!(
            got,
            Err(CallbackError::MissingToken | CallbackError::TokenMismatch)
        ),
        "{got:?}"
    );
}

/// A response body that is always ready with another empty frame, and never ends.
struct EndlessEmptyFrames;

impl http_body::Body for EndlessEmptyFrames {
    type Data = Bytes;
    type Error = Infallible;
    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, Infallible>>> {
        Poll::Ready(Some(Ok(http_body::Frame::data(Bytes::new()))))
    }
}

/// A body that never stops being ready (an in-process one; a socket returns `Pending`) cannot
/// hold the task: reading it yields now and then, so the dance's timeout fires (it used to
/// spin forever on a current-thread runtime).
#[test]
fn an_endless_ready_body_meets_the_timeout() {
    // On its own thread, so that a regression (a spinning task) fails this test instead of
    // hanging the suite.
    let (done, result) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .build()
            .unwrap();
        let err = runtime.block_on(async {
            let mut client = service_fn(|_req: Request<Full<Bytes>>| async {
                Ok::<_, Infallible>(Response::new(EndlessEmptyFrames))
            });
            let dance = dance().timeout(std::time::Duration::from_millis(100));
            dance
                .request_temporary_credentials(
                    &mut client,
                    &tower_oauth1::dance::Callback::OutOfBand,
                )
                .await
                .unwrap_err()
        });
        let _ = done.send(err);
    });
    let err = result
        .recv_timeout(std::time::Duration::from_secs(30))
        .expect("the dance's own timeout did not fire");
    assert!(matches!(err, DanceError::Timeout { .. }), "{err:?}");
}
