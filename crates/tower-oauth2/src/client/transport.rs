//! Sending one request to a token endpoint: no redirects, a whole-response deadline and a body
//! size cap, whatever HTTP service carries it.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body::Body;
use http_body_util::{BodyExt, Full, Limited};
use tower::{BoxError, Service, ServiceExt};

/// Bounds on one token-endpoint exchange.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Limits {
    /// From sending the request to the last byte of the response body (`None`: no deadline).
    pub(crate) timeout: Option<Duration>,
    /// The largest response body read, in bytes.
    pub(crate) max_body: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Self {
            timeout: Some(Duration::from_secs(30)),
            max_body: 1024 * 1024,
        }
    }
}

/// A complete token-endpoint response.
#[derive(Debug)]
pub(crate) struct RawResponse {
    pub(crate) status: StatusCode,
    pub(crate) headers: HeaderMap,
    pub(crate) body: Bytes,
}

/// Why an exchange produced no response to parse.
#[derive(Debug)]
pub(crate) enum TransportFailure {
    /// The HTTP service failed (connection refused, reset, TLS, ...).
    Service(BoxError),
    /// No complete response within the deadline.
    Timeout,
    /// The endpoint answered with a redirect, which a token endpoint client never follows.
    Redirect(StatusCode),
    /// The response body is larger than the cap.
    TooLarge,
    /// The response body failed while being read.
    Body(BoxError),
    /// The tokio runtime has no timers, so the deadline cannot be kept: nothing was sent.
    NoTimer,
}

/// Sends `request` through `service` and reads the whole response within `limits`.
pub(crate) async fn send<S, ResBody>(
    service: S,
    request: Request<impl Into<Vec<u8>>>,
    limits: Limits,
) -> Result<RawResponse, TransportFailure>
where
    S: Service<Request<Full<Bytes>>, Response = Response<ResBody>>,
    S::Error: Into<BoxError>,
    ResBody: Body,
    ResBody::Error: Into<BoxError>,
{
    if limits.timeout.is_some() && !crate::clock::timers_available() {
        return Err(TransportFailure::NoTimer);
    }
    let request = request.map(|body| Full::new(Bytes::from(body.into())));
    let exchange = async move {
        let response = service
            .oneshot(request)
            .await
            .map_err(|e| TransportFailure::Service(e.into()))?;
        let (parts, body) = response.into_parts();
        if parts.status.is_redirection() {
            return Err(TransportFailure::Redirect(parts.status));
        }
        let body = Limited::new(body, limits.max_body)
            .collect()
            .await
            .map_err(|e| {
                if e.is::<http_body_util::LengthLimitError>() {
                    TransportFailure::TooLarge
                } else {
                    TransportFailure::Body(e)
                }
            })?
            .to_bytes();
        Ok(RawResponse {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    };
    match limits.timeout {
        Some(after) => tokio::time::timeout(after, exchange)
            .await
            .unwrap_or(Err(TransportFailure::Timeout)),
        None => exchange.await,
    }
}
