//! OpenID Connect CIBA (poll mode) through `GrantClient`, against a scripted provider on
//! tokio's paused clock: the exact requests, the polling interval, `slow_down`, the final
//! answers, expiry, and requests refused before anything is sent. The real-server run is in
//! `interop-tests` (oidc-provider, `tests/ciba_interop.rs`).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use oauth_core::oauth2::{
    BackchannelAuthentication, BackchannelAuthenticationRequest, Client, Endpoint, ErrorCode,
    Scope, UserHint,
};
use oauth_core::secret::ClientSecret;
use tower::util::BoxCloneSyncService;
use tower_oauth2::GrantClient;
use tower_oauth2::client::{
    BackchannelRequestExpired, GrantClientErrorKind, PollWait, ServerEndpoint,
};

mod common;
use common::json_response;

type Fake = BoxCloneSyncService<Request<Full<Bytes>>, Response<Full<Bytes>>, Infallible>;

const AUTH_REQ_ID: &str = "SENTINEL-auth-req-id";
const STARTED: &str = r#"{"auth_req_id":"SENTINEL-auth-req-id","expires_in":60,"interval":2}"#;
const PENDING: &str = r#"{"error":"authorization_pending"}"#;
const SLOW_DOWN: &str = r#"{"error":"slow_down"}"#;
const TOKEN: &str =
    r#"{"access_token":"at","token_type":"Bearer","expires_in":3600,"id_token":"eyJ.x.y"}"#;

/// A provider that answers the backchannel request with `started` and each token poll with the
/// next of `polls` (then `authorization_pending`); it records when each poll came.
fn server(started: &'static str, polls: Vec<&'static str>) -> (Fake, Arc<Mutex<Vec<Duration>>>) {
    let start = tokio::time::Instant::now();
    let seen: Arc<Mutex<Vec<Duration>>> = Arc::default();
    let log = seen.clone();
    let polls = Arc::new(Mutex::new(polls.into_iter()));
    let svc = tower::service_fn(move |req: Request<Full<Bytes>>| {
        let log = log.clone();
        let polls = polls.clone();
        async move {
            let path = req.uri().path().to_owned();
            assert_eq!(
                req.headers()["authorization"],
                "Basic Y2xpOnNlY3JldA==",
                "client_secret_basic on every request"
            );
            let body = req.into_body().collect().await.unwrap().to_bytes();
            let body = std::str::from_utf8(&body).unwrap().to_owned();
            let (status, json) = if path == "/bc-authorize" {
                assert_eq!(
                    body,
                    "scope=openid+email&login_hint=pippin%40example.com&binding_message=W4SCT\
                     &requested_expiry=60"
                );
                (200, started)
            } else {
                assert_eq!(
                    body,
                    format!(
                        "grant_type=urn%3Aopenid%3Aparams%3Agrant-type%3Aciba&auth_req_id={AUTH_REQ_ID}"
                    )
                );
                log.lock().unwrap().push(start.elapsed());
                let next = polls.lock().unwrap().next().unwrap_or(PENDING);
                if next.contains("error") {
                    (400, next)
                } else {
                    (200, next)
                }
            };
            Ok::<_, Infallible>(json_response(status, json))
        }
    });
    (BoxCloneSyncService::new(svc), seen)
}

fn grants(svc: Fake) -> GrantClient<Fake> {
    GrantClient::new(
        svc,
        Endpoint::new("https://example.com/token").unwrap(),
        Client::secret_basic("cli", ClientSecret::new("secret")),
    )
}

fn request() -> BackchannelAuthenticationRequest {
    BackchannelAuthenticationRequest::new(
        &Scope::parse("openid email"),
        UserHint::login_hint("pippin@example.com"),
    )
    .binding_message("W4SCT")
    .requested_expiry(Duration::from_secs(60))
}

async fn start(grants: &GrantClient<Fake>) -> BackchannelAuthentication {
    let pending = grants
        .backchannel_authentication(
            &Endpoint::new("https://example.com/bc-authorize").unwrap(),
            request(),
        )
        .await
        .unwrap();
    assert!(!format!("{pending:?}").contains(AUTH_REQ_ID));
    pending
}

#[tokio::test(start_paused = true)]
async fn polls_at_the_interval_and_slows_down_when_told() {
    let (svc, seen) = server(STARTED, vec![PENDING, SLOW_DOWN, PENDING, TOKEN]);
    let grants = grants(svc);
    let pending = start(&grants).await;
    let mut waits = Vec::new();
    let token = grants
        .poll_backchannel_token_with(pending, |wait| waits.push(wait))
        .await
        .unwrap();
    assert_eq!(token.access_token().secret(), "at");
    assert!(token.id_token().is_some());
    let secs: Vec<u64> = seen.lock().unwrap().iter().map(Duration::as_secs).collect();
    assert_eq!(secs, [2, 4, 11, 18]);
    let s = Duration::from_secs;
    use PollWait::{First, Pending, SlowDown};
    assert_eq!(
        waits,
        [First(s(2)), Pending(s(2)), SlowDown(s(7)), Pending(s(7))]
    );
}

#[tokio::test(start_paused = true)]
async fn final_answers_stop_polling_as_typed_errors() {
    for (answer, code) in [
        (r#"{"error":"access_denied"}"#, ErrorCode::AccessDenied),
        (r#"{"error":"expired_token"}"#, ErrorCode::ExpiredToken),
        (
            r#"{"error":"transaction_failed"}"#,
            ErrorCode::TransactionFailed,
        ),
    ] {
        let (svc, seen) = server(STARTED, vec![PENDING, answer]);
        let grants = grants(svc);
        let pending = start(&grants).await;
        let error = grants.poll_backchannel_token(pending).await.unwrap_err();
        assert_eq!(error.kind(), GrantClientErrorKind::Response);
        assert_eq!(error.error_code(), Some(&code));
        assert_eq!(error.endpoint(), ServerEndpoint::Token);
        assert_eq!(seen.lock().unwrap().len(), 2);
        let text = format!("{error} {error:?}");
        assert!(!text.contains(AUTH_REQ_ID), "{text}");
    }
    // Never decided: polling ends when the request's lifetime (60 s) is over.
    let (svc, seen) = server(STARTED, vec![]);
    let grants = grants(svc);
    let pending = start(&grants).await;
    let error = grants.poll_backchannel_token(pending).await.unwrap_err();
    assert_eq!(error.error_code(), Some(&ErrorCode::AuthorizationPending));
    assert_eq!(seen.lock().unwrap().len(), 30);
}

#[tokio::test(start_paused = true)]
async fn poll_once_returns_the_providers_answer() {
    let (svc, seen) = server(STARTED, vec![PENDING, TOKEN]);
    let grants = grants(svc);
    let pending = start(&grants).await;
    let error = grants
        .poll_backchannel_token_once(&pending)
        .await
        .unwrap_err();
    assert_eq!(error.error_code(), Some(&ErrorCode::AuthorizationPending));
    let token = grants.poll_backchannel_token_once(&pending).await.unwrap();
    assert_eq!(token.access_token().secret(), "at");
    assert_eq!(seen.lock().unwrap().len(), 2);
}

/// Nothing is sent for a request that expires before its first poll, for one another client
/// started, or for a request that cannot be built; the provider's refusal is typed.
#[tokio::test(start_paused = true)]
async fn refusals_before_and_at_the_backchannel_endpoint() {
    const SHORT: &str = r#"{"auth_req_id":"SENTINEL-auth-req-id","expires_in":1}"#;
    let (svc, seen) = server(SHORT, vec![TOKEN]);
    let grants = grants(svc.clone());
    let pending = start(&grants).await;
    let error = grants.poll_backchannel_token(pending).await.unwrap_err();
    assert_eq!(error.kind(), GrantClientErrorKind::Request);
    assert!(
        error
            .request_error()
            .is_some_and(|e| e.is::<BackchannelRequestExpired>())
    );
    assert!(seen.lock().unwrap().is_empty());

    let pending = start(&grants).await;
    let other = GrantClient::new(
        svc,
        Endpoint::new("https://other.example.com/token").unwrap(),
        Client::secret_basic("cli", ClientSecret::new("secret")),
    );
    let error = other
        .poll_backchannel_token_once(&pending)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), GrantClientErrorKind::Request);
    let error = other.poll_backchannel_token(pending).await.unwrap_err();
    assert_eq!(error.kind(), GrantClientErrorKind::Request);
    assert!(seen.lock().unwrap().is_empty());

    let error = grants
        .backchannel_authentication(
            &Endpoint::new("https://example.com/bc-authorize").unwrap(),
            BackchannelAuthenticationRequest::new(
                &Scope::parse("email"),
                UserHint::login_hint("u"),
            ),
        )
        .await
        .unwrap_err();
    assert_eq!(error.kind(), GrantClientErrorKind::Request);
    assert_eq!(error.endpoint(), ServerEndpoint::BackchannelAuthentication);

    let refusing =
        BoxCloneSyncService::new(tower::service_fn(|_req: Request<Full<Bytes>>| async {
            Ok::<_, Infallible>(json_response(
                400,
                r#"{"error":"unknown_user_id","error_description":"could not identify end-user"}"#,
            ))
        }));
    let refused = self::grants(refusing);
    let error = refused
        .backchannel_authentication(
            &Endpoint::new("https://example.com/bc-authorize").unwrap(),
            request(),
        )
        .await
        .unwrap_err();
    assert_eq!(error.kind(), GrantClientErrorKind::Response);
    assert_eq!(error.error_code(), Some(&ErrorCode::UnknownUserId));
    assert_eq!(error.endpoint(), ServerEndpoint::BackchannelAuthentication);
}
