//! [`ResponseFuture`]: the token middleware's response future.

use std::future::Future;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use http::{Request, Response, StatusCode};
use oauth_core::oauth2::challenge::parse_challenges;
use pin_project_lite::pin_project;
use tower::{BoxError, ServiceExt};
use tower_service::Service;

use crate::error::Error;
use crate::policy::RetryOn401;
use crate::source::TokenSource;

type BoxedResponse<ResBody> =
    Pin<Box<dyn Future<Output = Result<Response<ResBody>, BoxError>> + Send + 'static>>;

/// What a request needs to be sent once more after a 401: a copy of it, a service to send it
/// with, and the token the server rejected.
pub(crate) struct Retry<S, B> {
    pub(crate) request: Request<B>,
    pub(crate) service: S,
    pub(crate) source: TokenSource,
    /// The generation of the token sent with the first try.
    pub(crate) rejected: u64,
    pub(crate) policy: RetryOn401,
}

pin_project! {
    /// Response future of [`crate::OAuth2`].
    pub struct ResponseFuture<S, B>
    where
        S: Service<Request<B>>,
    {
        #[pin]
        state: State<S::Future, S::Response>,
        // Boxed: it is large (a copy of the request), and the future is moved several times
        // between `call` and its first poll; a pointer is cheaper to move than the copy.
        retry: Option<Box<Retry<S, B>>>,
    }
}

pin_project! {
    #[project = StateProj]
    enum State<F, Res> {
        // The inner service's own future: the fast path, with no allocation.
        Calling { #[pin] future: F },
        // Token acquisition, refresh-and-retry: the rare paths, boxed.
        Boxed { future: Pin<Box<dyn Future<Output = Result<Res, BoxError>> + Send + 'static>> },
        Failed { error: Option<BoxError> },
    }
}

impl<S, B, ResBody> ResponseFuture<S, B>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    B: Send + 'static,
    ResBody: Send + 'static,
{
    pub(crate) fn direct(future: S::Future) -> Self {
        Self::calling(future, None)
    }

    pub(crate) fn calling(future: S::Future, retry: Option<Box<Retry<S, B>>>) -> Self {
        Self {
            state: State::Calling { future },
            retry,
        }
    }

    pub(crate) fn error(error: BoxError) -> Self {
        Self {
            state: State::Failed { error: Some(error) },
            retry: None,
        }
    }

    pub(crate) fn acquire_then_call(
        source: TokenSource,
        service: S,
        mut request: Request<B>,
        replay: Option<Request<B>>,
        policy: RetryOn401,
    ) -> Self
    where
        S: Clone,
    {
        let future: BoxedResponse<ResBody> = Box::pin(async move {
            let entry = source.acquire().await.map_err(Error::no_token)?;
            request
                .headers_mut()
                .insert(AUTHORIZATION, entry.header().clone());
            let retry = replay.map(|request| Retry {
                request,
                service: service.clone(),
                source: source.clone(),
                rejected: entry.generation(),
                policy,
            });
            let mut service = service;
            let response = service.call(request).await.map_err(Into::into)?;
            match retry {
                Some(retry) if retry.wants(&response) => retry.run().await,
                _ => Ok(response),
            }
        });
        Self {
            state: State::Boxed { future },
            retry: None,
        }
    }
}

impl<S, B, ResBody> Future for ResponseFuture<S, B>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    B: Send + 'static,
    ResBody: Send + 'static,
{
    type Output = Result<Response<ResBody>, BoxError>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        loop {
            match this.state.as_mut().project() {
                StateProj::Calling { future } => {
                    let response = ready!(future.poll(cx)).map_err(Into::into)?;
                    match this.retry.take() {
                        Some(retry) if retry.wants(&response) => {
                            this.state.set(State::Boxed {
                                future: Box::pin((*retry).run()),
                            });
                        }
                        _ => return Poll::Ready(Ok(response)),
                    }
                }
                StateProj::Boxed { future } => return future.as_mut().poll(cx),
                StateProj::Failed { error } => {
                    return Poll::Ready(Err(error
                        .take()
                        .unwrap_or_else(|| "ResponseFuture polled after completion".into())));
                }
            }
        }
    }
}

impl<S, B, ResBody> Retry<S, B>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    B: Send + 'static,
    ResBody: Send + 'static,
{
    /// Whether `response` asks for a refresh and one more try (RFC 6750 §3.1).
    fn wants(&self, response: &Response<ResBody>) -> bool {
        if response.status() != StatusCode::UNAUTHORIZED {
            return false;
        }
        match self.policy {
            RetryOn401::Never => false,
            RetryOn401::Any => true,
            RetryOn401::InvalidToken => response
                .headers()
                .get_all(WWW_AUTHENTICATE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .filter_map(|v| parse_challenges(v).ok())
                .flatten()
                .any(|c| c.is_scheme("Bearer") && c.param("error") == Some("invalid_token")),
        }
    }

    /// Refreshes past the rejected token, then sends the copy once, whatever the answer.
    async fn run(self) -> Result<Response<ResBody>, BoxError> {
        let Self {
            mut request,
            service,
            source,
            rejected,
            ..
        } = self;
        let entry = source
            .refresh_after(rejected)
            .await
            .map_err(Error::no_token)?;
        request
            .headers_mut()
            .insert(AUTHORIZATION, entry.header().clone());
        service.oneshot(request).await.map_err(Into::into)
    }
}

impl<S, B> std::fmt::Debug for ResponseFuture<S, B>
where
    S: Service<Request<B>>,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
