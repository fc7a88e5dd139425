//! The response future of [`Sign`](super::Sign).

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll, ready};

use http::Request;
use http::request::Parts;
use pin_project_lite::pin_project;
use tower_service::Service;

use super::Config;
use crate::BoxError;
use crate::body::{Collect, SignedBody};

pin_project! {
    /// Response future of [`Sign`](super::Sign).
    ///
    /// When the request body had to be read (a form body, or `oauth_body_hash`), it first
    /// buffers the body, then signs and calls the inner service; otherwise it only drives the
    /// inner service's future.
    pub struct ResponseFuture<B, S, F> {
        #[pin]
        state: State<B, S, F>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<B, S, F> {
        Buffering {
            #[pin]
            collect: Collect<B>,
            parts: Option<Parts>,
            inner: Option<S>,
            config: Arc<Config>,
        },
        Calling { #[pin] future: F },
        Failed { error: Option<BoxError> },
    }
}

impl<B, S, F> ResponseFuture<B, S, F> {
    pub(crate) fn calling(future: F) -> Self {
        Self {
            state: State::Calling { future },
        }
    }

    pub(crate) fn failed(error: BoxError) -> Self {
        Self {
            state: State::Failed { error: Some(error) },
        }
    }

    pub(crate) fn buffering(
        body: B,
        limit: usize,
        parts: Parts,
        inner: S,
        config: Arc<Config>,
    ) -> Self {
        Self {
            state: State::Buffering {
                collect: Collect::new(body, limit),
                parts: Some(parts),
                inner: Some(inner),
                config,
            },
        }
    }
}

impl<B, S, F> std::fmt::Debug for ResponseFuture<B, S, F> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}

impl<B, S, ResBody> Future for ResponseFuture<B, S, S::Future>
where
    B: http_body::Body,
    B::Error: Into<BoxError>,
    S: Service<Request<SignedBody<B>>, Response = http::Response<ResBody>>,
    S::Error: Into<BoxError>,
{
    type Output = Result<http::Response<ResBody>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Buffering {
                    mut collect,
                    parts,
                    inner,
                    config,
                } => {
                    let result = ready!(collect.as_mut().poll_collect(cx))
                        .map_err(crate::body::CollectError::into_request_error);
                    let trailers = collect.take_trailers();
                    let (Some(mut parts), Some(mut inner)) = (parts.take(), inner.take()) else {
                        return Poll::Ready(
                            Err(super::SignRequestError::polled_after_completion()),
                        );
                    };
                    let next =
                        match result.and_then(|bytes| config.sign_buffered(&mut parts, bytes)) {
                            Ok(body) => State::Calling {
                                future: inner
                                    .call(Request::from_parts(parts, body.with_trailers(trailers))),
                            },
                            Err(error) => State::Failed { error: Some(error) },
                        };
                    this.state.set(next);
                }
                StateProj::Calling { future } => {
                    return future.poll(cx).map_err(Into::into);
                }
                StateProj::Failed { error } => {
                    return Poll::Ready(Err(error
                        .take()
                        .unwrap_or_else(super::SignRequestError::polled_after_completion)));
                }
            }
        }
    }
}
