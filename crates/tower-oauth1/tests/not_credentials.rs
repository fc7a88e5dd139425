//! A provider that answers a dance step with 200 and an HTML page or JSON (a login page, a
//! proxy's error page) is reported as such, naming the `Content-Type` and never the body; a
//! form sent as `text/plain` or `text/html` is still credentials.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use oauth_core::oauth1::{ClientCredentials, Signer};
use oauth_core::secret::ConsumerSecret;
use tower::service_fn;
use tower_oauth1::dance::{Callback, Dance, DanceError, PendingAuthorization};

fn dance() -> Dance {
    Dance::new(
        Signer::builder(ClientCredentials::new("key", ConsumerSecret::new("cs")))
            .build()
            .unwrap(),
        "https://p.example/request_token".parse().unwrap(),
        "https://p.example/access_token".parse().unwrap(),
    )
}

/// Runs step 1 against a provider answering 200 with `content_type` and `body`.
async fn temporary(
    content_type: &'static str,
    body: &'static str,
) -> Result<PendingAuthorization, DanceError> {
    let mut client = service_fn(move |_req: Request<Full<Bytes>>| async move {
        Ok::<_, Infallible>(
            Response::builder()
                .header("content-type", content_type)
                .body(Full::new(Bytes::from_static(body.as_bytes())))
                .unwrap(),
        )
    });
    dance()
        .request_temporary_credentials(&mut client, &Callback::OutOfBand)
        .await
}

#[tokio::test]
async fn a_login_page_served_with_200_is_named_as_such() {
    let err = temporary(
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
    let err = temporary("application/json", r#"{"error":"SENTINEL"}"#)
        .await
        .unwrap_err();
    assert!(
        matches!(&err, DanceError::NotCredentials(n) if n.content_type() == Some("application/json")),
        "{err:?}"
    );
    let err = temporary("text/plain", "\n<html><body>502 SENTINEL</body></html>")
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
        let pending = temporary(
            content_type,
            "oauth_token=tmp&oauth_token_secret=s&oauth_callback_confirmed=true",
        )
        .await
        .unwrap();
        assert_eq!(pending.token(), "tmp");
    }
    // Plain text without a token is still a malformed response.
    let err = temporary("text/plain", "nothing here").await.unwrap_err();
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
