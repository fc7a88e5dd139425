//! Helpers shared by the dance's integration tests (each test file says `mod common;`): a
//! dance against `p.example`, a response body that fails, and step 1 against a provider that
//! answers with a given status, headers and body.
// Each test binary compiles this module on its own and uses only some of its items.
#![allow(dead_code)]
#![allow(clippy::unwrap_used)]

use std::convert::Infallible;
use std::pin::Pin;
use std::task::{Context, Poll};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{Either, Full};
use oauth_core::oauth1::{ClientCredentials, Signer};
use oauth_core::secret::ConsumerSecret;
use tower::service_fn;
use tower_oauth1::dance::{Callback, Dance, DanceError, PendingAuthorization};

/// The consumer secret of [`dance`]: a marker that printed output can be searched for.
pub(crate) const CONSUMER_SECRET: &str = "SENTINEL-cs";

/// A dance with the consumer key `key` against `https://p.example`.
pub(crate) fn dance() -> Dance {
    Dance::new(
        Signer::builder(ClientCredentials::new(
            "key",
            ConsumerSecret::new(CONSUMER_SECRET),
        ))
        .build()
        .unwrap(),
        "https://p.example/request_token".parse().unwrap(),
        "https://p.example/access_token".parse().unwrap(),
    )
}

/// A response body whose first frame is an error.
pub(crate) struct FailingBody;

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

/// Runs step 1 (temporary credentials) against a provider answering `status` with `headers`
/// and `body` (`None`: a body that fails).
pub(crate) async fn temporary(
    status: u16,
    headers: &[(&str, &str)],
    body: Option<Vec<u8>>,
) -> Result<PendingAuthorization, DanceError> {
    let headers: Vec<(String, String)> = headers
        .iter()
        .map(|(name, value)| (name.to_string(), value.to_string()))
        .collect();
    let mut client = service_fn(move |_req: Request<Full<Bytes>>| {
        let (headers, body) = (headers.clone(), body.clone());
        async move {
            let mut response = Response::builder().status(status);
            for (name, value) in headers {
                response = response.header(name, value);
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
