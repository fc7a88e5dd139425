//! What users of `tower_oauth1::dance` see from the parsers in oauth-core: error statuses keep
//! their status whatever the body, and a page-typed form that holds a token is malformed.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::type_complexity
)]

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{Either, Full};
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

struct FailingBody;

impl http_body::Body for FailingBody {
    type Data = Bytes;
    type Error = std::io::Error;
    fn poll_frame(
        self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<http_body::Frame<Bytes>, std::io::Error>>> {
        Poll::Ready(Some(Err(std::io::Error::other("connection reset"))))
    }
}

async fn temporary(
    status: u16,
    headers: &'static [(&'static str, &'static str)],
    body: Option<Vec<u8>>,
) -> Result<PendingAuthorization, DanceError> {
    let mut client = service_fn(move |_req: Request<Full<Bytes>>| {
        let body = body.clone();
        async move {
            let mut response = Response::builder().status(status);
            for (name, value) in headers {
                response = response.header(*name, *value);
            }
            let body = match body {
                Some(bytes) => Either::Left(Full::new(Bytes::from(bytes))),
                None => Either::Right(FailingBody),
            };
            Ok::<_, Infallible>(response.body(body).unwrap())
        }
    });
    dance()
        .request_temporary_credentials(&mut client, &Callback::OutOfBand)
        .await
}

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
