//! [`ResponseFuture`]: the token middleware's response future.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};
use std::task::{Context, Poll, ready};

use http::header::AUTHORIZATION;
use http::{Request, Response, StatusCode};
use oauth_core::oauth2::challenge::www_authenticate_challenges;
use pin_project_lite::pin_project;
use tower::{BoxError, ServiceExt};
use tower_service::Service;

use crate::dpop::{self, DpopNonces};
use crate::error::Error;
use crate::policy::{BufferBody, RetryOn401};
use crate::request_copy::RequestCopy;
use crate::source::TokenSource;

type BoxedResponse<ResBody> =
    Pin<Box<dyn Future<Output = Result<Response<ResBody>, BoxError>> + Send + 'static>>;

/// What every retry of one [`crate::OAuth2`] (and its clones) needs besides the request: a
/// clone of the wrapped service and the token source, behind one `Arc`, so that keeping a
/// request ready for a retry costs one reference count however costly the service is to clone
/// (hyper's `Client` is several `Arc`s).
pub(crate) struct RetryContext<S> {
    /// Cloned again for each retry; locked only then.
    service: Mutex<S>,
    /// `S::clone`, captured where `S: Clone` is known.
    clone_service: fn(&S) -> S,
    pub(crate) source: TokenSource,
    /// The resource servers' DPoP nonces, shared by every service of one layer.
    pub(crate) dpop_nonces: Arc<DpopNonces>,
}

impl<S: Clone> RetryContext<S> {
    pub(crate) fn new(service: S, source: TokenSource, dpop_nonces: Arc<DpopNonces>) -> Self {
        Self {
            service: Mutex::new(service),
            clone_service: S::clone,
            source,
            dpop_nonces,
        }
    }
}

impl<S> RetryContext<S> {
    /// A clone of the service for one retry.
    pub(crate) fn service(&self) -> S {
        let guard = self.service.lock().unwrap_or_else(PoisonError::into_inner);
        (self.clone_service)(&guard)
    }
}

impl<S> std::fmt::Debug for RetryContext<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RetryContext").finish_non_exhaustive()
    }
}

/// A request that waits in a boxed future before it is sent.
// (`allow`, not `expect`: whether the lint fires depends on the size of `http`'s types, which
// shrank in http 1.6.)
#[allow(
    clippy::large_enum_variant,
    reason = "`Ready` is the common variant, and a `Pending` is moved into a boxed future at \
              once: boxing its request would add an allocation, not save one"
)]
pub(crate) enum Pending<B> {
    /// Waiting for a token only; `replay` is the copy kept for a retry, if any.
    Ready {
        request: Request<B>,
        replay: Option<RequestCopy<B>>,
    },
    /// Waiting for the body to be read into memory too (see [`ReplayBody::buffer`]).
    ///
    /// [`ReplayBody::buffer`]: crate::policy::ReplayBody::buffer
    Buffering {
        parts: http::request::Parts,
        body: BufferBody<B>,
    },
}

/// What a request needs to be sent once more after a 401: a copy of it, a service to send it
/// with, and the token the server rejected.
pub(crate) struct Retry<S, B> {
    pub(crate) request: RequestCopy<B>,
    pub(crate) context: Arc<RetryContext<S>>,
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
        retry: Option<Retry<S, B>>,
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

    #[inline]
    pub(crate) fn calling(future: S::Future, retry: Option<Retry<S, B>>) -> Self {
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
        context: Arc<RetryContext<S>>,
        service: S,
        pending: Pending<B>,
        policy: RetryOn401,
    ) -> Self {
        let future: BoxedResponse<ResBody> = Box::pin(async move {
            let (mut request, replay) = match pending {
                Pending::Ready { request, replay } => (request, replay),
                Pending::Buffering { parts, body } => {
                    let (send, keep) = body.await?;
                    let request = Request::from_parts(parts, send);
                    let copy = RequestCopy::new(&request, keep);
                    (request, Some(copy))
                }
            };
            let entry = context.source.acquire().await.map_err(Error::no_token)?;
            if entry.needs_proof() {
                return dpop::send(context, service, request, replay, entry, policy).await;
            }
            request
                .headers_mut()
                .insert(AUTHORIZATION, entry.header().clone());
            // With no copy to send again, a refusal is only noted.
            let (retry, unreplayable) = match replay {
                Some(copy) => {
                    let retry = Retry {
                        request: copy,
                        context,
                        rejected: entry.generation(),
                        policy,
                    };
                    (Some(retry), None)
                }
                None => (None, Some((context, request.uri().clone()))),
            };
            // `poll_ready` was called on this service before it was taken.
            let mut service = service;
            let response = service.call(request).await.map_err(Into::into)?;
            match (retry, unreplayable) {
                (Some(retry), _) if retry.wants(&response) => retry.run(response).await,
                (None, Some((context, sent_to))) if refuses_token(policy, &response, &sent_to) => {
                    note_refusal(
                        &context.source,
                        entry.generation(),
                        "refused the access token",
                    );
                    Ok(response)
                }
                _ => Ok(response),
            }
        });
        Self {
            state: State::Boxed { future },
            retry: None,
        }
    }

    /// A request sent with the token of generation `rejected` and no copy to send again: a
    /// 401 that refuses the token is noted ([`note_refusal`]) and returned (boxed: requests
    /// whose bodies cannot be kept are the rare path).
    pub(crate) fn observing(
        future: S::Future,
        context: Arc<RetryContext<S>>,
        sent_to: http::Uri,
        rejected: u64,
        policy: RetryOn401,
    ) -> Self {
        let future: BoxedResponse<ResBody> = Box::pin(async move {
            let response = future.await.map_err(Into::into)?;
            if refuses_token(policy, &response, &sent_to) {
                note_refusal(&context.source, rejected, "refused the access token");
            }
            Ok(response)
        });
        Self {
            state: State::Boxed { future },
            retry: None,
        }
    }

    /// The first try was `rejected`: refresh, then send the copy (the rare path, boxed).
    #[cold]
    #[inline(never)]
    fn start_retry(
        mut state: Pin<&mut State<S::Future, S::Response>>,
        retry: Retry<S, B>,
        rejected: Response<ResBody>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Response<ResBody>, BoxError>> {
        let mut future: BoxedResponse<ResBody> = Box::pin(retry.run(rejected));
        let poll = future.as_mut().poll(cx);
        state.set(State::Boxed { future });
        poll
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

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        match this.state.as_mut().project() {
            // No copy kept for a retry: the inner future's answer as it is (moved once).
            StateProj::Calling { future } if this.retry.is_none() => {
                future.poll(cx).map_err(Into::into)
            }
            StateProj::Calling { future } => {
                let result = ready!(future.poll(cx));
                match (result, this.retry.take()) {
                    (Ok(response), Some(retry)) if retry.wants(&response) => {
                        Self::start_retry(this.state, retry, response, cx)
                    }
                    (result, _) => Poll::Ready(result.map_err(Into::into)),
                }
            }
            StateProj::Boxed { future } => future.as_mut().poll(cx),
            StateProj::Failed { error } => Poll::Ready(Err(error
                .take()
                .unwrap_or_else(|| "ResponseFuture polled after completion".into()))),
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
        refuses_token(self.policy, response, self.request.uri())
    }

    /// Refreshes past the token `refusal` rejected, then sends the copy once, whatever the
    /// answer. When there is no newer token yet (one was fetched moments ago, and refreshes are
    /// rate-limited), `refusal` itself is the answer: the server's 401, not an error of ours.
    async fn run(self, refusal: Response<ResBody>) -> Result<Response<ResBody>, BoxError> {
        let Self {
            request,
            context,
            rejected,
            policy,
        } = self;
        let mut request = request.into_request();
        // A clone for this retry; the lock is not held across an await.
        let service = context.service();
        let Some(entry) = context
            .source
            .refresh_after(rejected)
            .await
            .map_err(Error::no_token)?
        else {
            return Ok(refusal);
        };
        drop(refusal);
        // (A token of a new type, DPoP, gets its proof, and the server's nonce is kept.)
        dpop::authorize(&mut request, &entry, &context)?;
        let sent_to = request.uri().clone();
        let response = service.oneshot(request).await.map_err(Into::into)?;
        if entry.needs_proof() {
            dpop::remember_nonce(&context, &sent_to, &response);
        }
        // The token fetched for this retry is refused too: the server does not take this
        // client's tokens (their audience or scope, or a clock far off). Said once per token.
        if refuses_token(policy, &response, &sent_to)
            && context.source.first_refusal_of(entry.generation())
        {
            tracing::warn!(
                "the resource server refused the token fetched after its 401 too, so its 401 is \
                 returned: it does not accept this client's tokens (check their audience and \
                 scope, and the clocks)"
            );
        }
        Ok(response)
    }
}

/// Whether `response`, the answer to a request sent to `sent_to`, refuses its token in a way
/// that calls for a refresh under `policy` (RFC 6750 §3.1).
pub(crate) fn refuses_token<ResBody>(
    policy: RetryOn401,
    response: &Response<ResBody>,
    sent_to: &http::Uri,
) -> bool {
    if response.status() != StatusCode::UNAUTHORIZED
        || !crate::policy::answered_by(response, sent_to)
    {
        return false;
    }
    match policy {
        RetryOn401::Never => false,
        RetryOn401::Any => true,
        RetryOn401::InvalidToken => www_authenticate_challenges(response.headers())
            .any(|c| c.is_scheme("Bearer") && c.param("error") == Some("invalid_token")),
    }
}

/// A 401 that refused the token of generation `rejected` for a request that cannot be sent
/// again (its body could not be kept): the token is marked refused, so that the next request
/// gets a new one (a source that follows its store looks there instead), and the 401 goes back
/// to the caller, with a warning (once per refused token) that says how to have such requests
/// retried.
pub(crate) fn note_refusal(source: &TokenSource, rejected: u64, what: &'static str) {
    source.token_rejected(rejected);
    if !source.first_refusal_of(rejected) {
        // (Said once per refused token: the requests that carried it too are only noted.)
        tracing::debug!("the resource server {what} again for a request that could not be kept");
        return;
    }
    let next = if source.can_fetch() {
        "gets a new token"
    } else {
        "uses a newer token if another process saved one to the store"
    };
    warn_not_retried(what, next);
}

/// Says that a 401 asking for something (`what`) is returned because the request's body could
/// not be kept, what the next request does about it, and how to have such requests retried.
pub(crate) fn warn_not_retried(what: &'static str, next: &'static str) {
    tracing::warn!(
        "the resource server {what}, but the request's body could not be kept to send it \
         again: its 401 is returned, and the next request {next} \
         (OAuth2Layer::replay_bodies(ReplayClone), or a ReplayBody that buffers, retries such \
         requests)"
    );
}

impl<S, B> std::fmt::Debug for ResponseFuture<S, B>
where
    S: Service<Request<B>>,
{
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ResponseFuture").finish_non_exhaustive()
    }
}
