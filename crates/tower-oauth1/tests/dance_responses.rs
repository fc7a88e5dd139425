//! What users of `tower_oauth1::dance` see from the parsers in oauth-core: error statuses keep
//! their status whatever the body; a 200 that is an HTML page or JSON is named as such (its
//! `Content-Type`, never its body), while a form is credentials under any text type and a
//! page-typed form that holds a token is malformed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::type_complexity
)]

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use oauth_core::secret::{TokenSecret, Verifier};
use tower_oauth1::dance::{Callback, DanceError};

use common::temporary;

/// (Passes: pins that the move kept the status for error replies whose body is large, fails,
/// or holds credentials; and the 8 KiB error-body limit.)
#[tokio::test]
async fn error_statuses_keep_their_status_whatever_the_body() {
    let cases: Vec<(u16, Option<Vec<u8>>, Option<&str>)> = vec![
        (503, Some(b"x".repeat(1 << 20)), None),
        (503, None, None),
        (
            401,
            Some(b"oauth_problem=nonce_used".to_vec()),
            Some("nonce_used"),
        ),
        (
            // The problem past the 8 KiB read is not seen, but the status is.
            401,
            Some({
                let mut v = b"oauth_problem=nonce_used&pad=".to_vec();
                v.extend(b"p".repeat(9 * 1024));
                v
            }),
            None,
        ),
        (
            500,
            Some(b"oauth_token=t&oauth_token_secret=s&oauth_callback_confirmed=true".to_vec()),
            None,
        ),
    ];
    for (status, body, problem) in cases {
        let err = temporary(status, &[("retry-after", "7")], body)
            .await
            .unwrap_err();
        let DanceError::Provider(p) = &err else {
            panic!("{status}: {err:?}");
        };
        assert_eq!(p.status(), StatusCode::from_u16(status).unwrap());
        assert_eq!(p.problem(), problem);
        assert_eq!(p.retry_after(), Some(Duration::from_secs(7)));
    }
    let err = temporary(
        302,
        &[("www-authenticate", "OAuth oauth_problem=\"token_rejected\"")],
        Some(b"<html>moved</html>".to_vec()),
    )
    .await
    .unwrap_err();
    assert_eq!(
        err.to_string(),
        "the provider answered with a redirect (302 Found), which the dance does not follow (oauth_problem=token_rejected)"
    );
    let err = temporary(
        200,
        &[("content-type", "text/html")],
        Some(b"oauth_problem=consumer_key_unknown".to_vec()),
    )
    .await
    .unwrap_err();
    assert!(
        matches!(&err, DanceError::Provider(p) if p.status() == StatusCode::OK),
        "{err:?}"
    );
}

/// A provider that answers step 1 with a `text/html` form (as the docs say providers do) holding
/// its token and secret, plus a screen name with a raw `%`, is told it sent "text/html instead of
/// credentials (no oauth_token)". Before the change it was `MalformedResponse` ("the body is not
/// form-encoded"), as it still is for the same body under `text/plain`.
#[tokio::test]
async fn a_text_html_form_with_a_token_is_not_reported_as_having_none() {
    const BODY: &[u8] =
        b"oauth_token=tmp&oauth_token_secret=s&oauth_callback_confirmed=true&screen_name=100%";
    let plain = temporary(200, &[("content-type", "text/plain")], Some(BODY.to_vec()))
        .await
        .unwrap_err();
    assert!(
        matches!(plain, DanceError::MalformedResponse { .. }),
        "{plain:?}"
    );
    let html = temporary(200, &[("content-type", "text/html")], Some(BODY.to_vec()))
        .await
        .unwrap_err();
    assert!(
        matches!(html, DanceError::MalformedResponse { .. }),
        "a form holding an oauth_token reported as: {html}"
    );
}

/// Step 1 against a provider answering 200 with `content_type` and `body`.
async fn answered_200(
    content_type: &str,
    body: &str,
) -> Result<tower_oauth1::dance::PendingAuthorization, DanceError> {
    temporary(200, &[("content-type", content_type)], Some(body.into())).await
}

#[tokio::test]
async fn a_login_page_served_with_200_is_named_as_such() {
    let err = answered_200(
        "text/html; charset=utf-8",
        "<!DOCTYPE html><html><form>Sign in SENTINEL</form></html>",
    )
    .await
    .unwrap_err();
    let DanceError::NotCredentials(not) = &err else {
        panic!("{err:?}");
    };
    assert_eq!(not.content_type(), Some("text/html"));
    assert!(not.starts_with_markup());
    let printed = format!("{err} {err:?}");
    assert!(printed.contains("text/html"), "{printed}");
    assert!(!printed.contains("oauth_token is missing"), "{printed}");
    assert!(!printed.contains("SENTINEL"), "{printed}");
}

#[tokio::test]
async fn json_or_markup_under_any_type_is_named() {
    let err = answered_200("application/json", r#"{"error":"SENTINEL"}"#)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, DanceError::NotCredentials(n) if n.content_type() == Some("application/json")),
        "{err:?}"
    );
    let err = answered_200("text/plain", "\n<html><body>502 SENTINEL</body></html>")
        .await
        .unwrap_err();
    assert!(
        matches!(&err, DanceError::NotCredentials(n) if n.starts_with_markup()),
        "{err:?}"
    );
    assert!(!format!("{err} {err:?}").contains("SENTINEL"));
}

#[tokio::test]
async fn forms_under_text_types_are_still_credentials() {
    for content_type in [
        "text/plain",
        "text/html",
        "application/x-www-form-urlencoded",
    ] {
        let pending = answered_200(
            content_type,
            "oauth_token=tmp&oauth_token_secret=s&oauth_callback_confirmed=true",
        )
        .await
        .unwrap();
        assert_eq!(pending.token(), "tmp");
    }
    // Plain text without a token is still a malformed response.
    let err = answered_200("text/plain", "nothing here")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            DanceError::MalformedResponse {
                reason: "oauth_token is missing"
            }
        ),
        "{err:?}"
    );
}

/// SECURITY.md §4.10 #90: a provider that refuses our timestamp (401 with
/// `oauth_problem=timestamp_refused`, in a `WWW-Authenticate: OAuth` header or in the body)
/// is a `DanceError::Provider` naming that problem, after one request: neither step 1 nor step
/// 3 re-signs and sends again by itself.
#[tokio::test]
async fn s4_10_case90_a_refused_timestamp_is_reported_after_one_request() {
    for in_header in [true, false] {
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = Arc::clone(&calls);
        let mut provider = tower::service_fn(move |_: Request<Full<Bytes>>| {
            counter.fetch_add(1, Ordering::SeqCst);
            let mut response = Response::builder().status(401);
            let body = if in_header {
                response = response.header(
                    "www-authenticate",
                    r#"OAuth realm="p", oauth_problem="timestamp_refused""#,
                );
                Bytes::new()
            } else {
                response = response.header("content-type", "application/x-www-form-urlencoded");
                Bytes::from_static(b"oauth_problem=timestamp_refused")
            };
            async move { Ok::<_, std::convert::Infallible>(response.body(Full::new(body)).unwrap()) }
        });
        let dance = common::dance();
        let step1 = dance
            .request_temporary_credentials(&mut provider, &Callback::OutOfBand)
            .await
            .unwrap_err();
        let pending = dance.pending("tmp", TokenSecret::new("SENTINEL-tmp"));
        let step3 = dance
            .request_token_credentials(&mut provider, pending, Verifier::new("v"))
            .await
            .unwrap_err();
        for err in [step1, step3] {
            let DanceError::Provider(p) = &err else {
                panic!("in_header={in_header}: {err:?}");
            };
            assert_eq!(p.status(), StatusCode::UNAUTHORIZED);
            assert_eq!(
                p.problem(),
                Some("timestamp_refused"),
                "in_header={in_header}"
            );
            assert!(!p.is_transient());
            assert!(!format!("{err} {err:?}").contains("SENTINEL"));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 2, "one request per step");
    }
}
