//! [`OAuth2`]: the token middleware's service.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::header::{AUTHORIZATION, HOST};
use http::{Request, Response};
use oauth_core::oauth2::query_has_access_token;
use tower::BoxError;
use tower_service::Service;

use crate::error::{Error, ErrorKind};
use crate::future::{Pending, ResponseFuture, Retry, RetryContext};
use crate::layer::Config;
use crate::policy::{ExistingAuthorization, ForeignOrigin, ReplayBody, ReplayEmpty, RetryOn401};
use crate::request_copy::RequestCopy;
use crate::source::Entry;

/// Adds a valid access token to requests bound for the API's origins; see [`crate::OAuth2Layer`].
///
/// Each clone keeps the token it last used, so the common case (a fresh token) takes no lock
/// and, with tokio's clock, reads none: two atomic loads and a header insert, and, with a 401
/// retry policy (the default), a copy of the request for the retry when its body can be
/// replayed. (A source given another clock reads it on every request: see
/// [`TokenSourceBuilder::clock`](crate::source::TokenSourceBuilder::clock).)
#[derive(Debug)]
pub struct OAuth2<S, R = ReplayEmpty> {
    inner: S,
    config: Arc<Config>,
    replay: R,
    cached: Option<Arc<Entry>>,
    /// Made on the first request that keeps a copy for a retry; shared by clones.
    retry_context: Option<Arc<RetryContext<S>>>,
}

impl<S: Clone, R: Clone> Clone for OAuth2<S, R> {
    fn clone(&self) -> Self {
        Self {
            inner: self.inner.clone(),
            config: self.config.clone(),
            replay: self.replay.clone(),
            cached: self.cached.clone(),
            retry_context: self.retry_context.clone(),
        }
    }
}

impl<S, R> OAuth2<S, R> {
    pub(crate) fn from_parts(inner: S, config: Arc<Config>, replay: R) -> Self {
        Self {
            inner,
            config,
            replay,
            cached: None,
            retry_context: None,
        }
    }

    /// The wrapped service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// The wrapped service, mutably.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// Unwraps the service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, B, ResBody, R> Service<Request<B>> for OAuth2<S, R>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Clone + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    B: Send + 'static,
    ResBody: Send + 'static,
    R: ReplayBody<B>,
{
    type Response = Response<ResBody>;
    type Error = BoxError;
    type Future = ResponseFuture<S, B>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, mut request: Request<B>) -> Self::Future {
        let config = &*self.config;
        // (A `Host` header names the origin the server and any front end route on, RFC 9110
        // §7.2: it must be an allowed origin too. `get` hashes even with no headers at all.)
        if !config.origins.iter().any(|o| o.matches(request.uri()))
            || (!request.headers().is_empty() && !host_header_allowed(config, &request))
        {
            log_foreign_origin(request.uri(), config.foreign);
            let reject =
                (config.foreign == ForeignOrigin::Reject).then_some(ErrorKind::ForeignOrigin);
            return self.untouched(request, reject);
        }
        // (`contains_key` hashes the name even when there are no headers at all.) A token in
        // the query counts too: a client must not send a token by two methods (RFC 6750 §2).
        if (!request.headers().is_empty() && request.headers().contains_key(AUTHORIZATION))
            || request.uri().query().is_some_and(query_has_access_token)
        {
            let reject = (config.existing == ExistingAuthorization::Reject)
                .then_some(ErrorKind::AuthorizationAlreadySet);
            return self.untouched(request, reject);
        }
        // The common case: a fresh token. With a 401 retry configured (the default), a copy
        // of the request is kept when its body can be replayed.
        match &self.cached {
            Some(entry) if entry.is_fresh() && !entry.needs_proof() => {
                let policy = config.retry;
                if policy == RetryOn401::Never {
                    request
                        .headers_mut()
                        .insert(AUTHORIZATION, entry.header().clone());
                    return ResponseFuture::direct(self.inner.call(request));
                }
                let Some(body) = self.replay.replay(request.body()) else {
                    return self.call_unreplayable(request);
                };
                let retry = Retry {
                    request: RequestCopy::new(&request, body),
                    context: retry_context(&mut self.retry_context, &self.inner, config),
                    rejected: entry.generation(),
                    policy,
                };
                request
                    .headers_mut()
                    .insert(AUTHORIZATION, entry.header().clone());
                ResponseFuture::calling(self.inner.call(request), Some(retry))
            }
            _ => self.call_without_fresh_token(request),
        }
    }
}

impl<S, R> OAuth2<S, R> {
    /// A request with a fresh token whose body [`ReplayBody::replay`] could not copy: it is
    /// read into memory first when [`ReplayBody::buffer`] says so, or else sent with no retry.
    #[inline(never)]
    fn call_unreplayable<B, ResBody>(&mut self, request: Request<B>) -> ResponseFuture<S, B>
    where
        S: Service<Request<B>, Response = Response<ResBody>> + Clone + Send + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
        B: Send + 'static,
        ResBody: Send + 'static,
        R: ReplayBody<B>,
    {
        match (self.buffered(request), &self.cached) {
            (Pending::Ready { mut request, .. }, Some(entry)) if !entry.needs_proof() => {
                request
                    .headers_mut()
                    .insert(AUTHORIZATION, entry.header().clone());
                let sent_to = request.uri().clone();
                let rejected = entry.generation();
                let context = retry_context(&mut self.retry_context, &self.inner, &self.config);
                ResponseFuture::observing(
                    self.inner.call(request),
                    context,
                    sent_to,
                    rejected,
                    self.config.retry,
                )
            }
            (pending, _) => self.acquire_then_call(pending),
        }
    }

    /// A request whose body [`ReplayBody::replay`] could not copy: waiting for its body to be
    /// read into memory, when [`ReplayBody::buffer`] says so, or else ready with no copy.
    fn buffered<B>(&self, request: Request<B>) -> Pending<B>
    where
        R: ReplayBody<B>,
    {
        let (parts, body) = request.into_parts();
        match self.replay.buffer(body) {
            Ok(body) => Pending::Buffering { parts, body },
            Err(body) => Pending::Ready {
                request: Request::from_parts(parts, body),
                replay: None,
            },
        }
    }

    /// A request that needs a new token first (or a refresh to start).
    #[inline(never)]
    fn call_without_fresh_token<B, ResBody>(&mut self, request: Request<B>) -> ResponseFuture<S, B>
    where
        S: Service<Request<B>, Response = Response<ResBody>> + Clone + Send + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
        B: Send + 'static,
        ResBody: Send + 'static,
        R: ReplayBody<B>,
    {
        let config = &*self.config;
        let retry_policy = config.retry;
        // DPoP requests keep a copy for a `use_dpop_nonce` retry whatever the 401 policy.
        let keep_copy = retry_policy != RetryOn401::Never || config.source.dpop_key().is_some();
        let pending = match keep_copy {
            false => Pending::Ready {
                request,
                replay: None,
            },
            true => match self.replay.replay(request.body()) {
                Some(body) => Pending::Ready {
                    replay: Some(RequestCopy::new(&request, body)),
                    request,
                },
                None => self.buffered(request),
            },
        };
        let source = &config.source;
        self.cached = source.fresh_entry();
        match (&self.cached, pending) {
            (
                Some(entry),
                Pending::Ready {
                    mut request,
                    replay,
                },
            ) if !entry.needs_proof() => {
                request
                    .headers_mut()
                    .insert(AUTHORIZATION, entry.header().clone());
                let rejected = entry.generation();
                match replay {
                    None if retry_policy == RetryOn401::Never => {
                        ResponseFuture::direct(self.inner.call(request))
                    }
                    Some(copy) => {
                        let retry = Retry {
                            request: copy,
                            context: retry_context(&mut self.retry_context, &self.inner, config),
                            rejected,
                            policy: retry_policy,
                        };
                        ResponseFuture::calling(self.inner.call(request), Some(retry))
                    }
                    None => {
                        let sent_to = request.uri().clone();
                        let context = retry_context(&mut self.retry_context, &self.inner, config);
                        ResponseFuture::observing(
                            self.inner.call(request),
                            context,
                            sent_to,
                            rejected,
                            retry_policy,
                        )
                    }
                }
            }
            (_, pending) => self.acquire_then_call(pending),
        }
    }

    /// Sends the request from a boxed future: after waiting for a token, or for the body to
    /// be read into memory.
    fn acquire_then_call<B, ResBody>(&mut self, pending: Pending<B>) -> ResponseFuture<S, B>
    where
        S: Service<Request<B>, Response = Response<ResBody>> + Clone + Send + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
        B: Send + 'static,
        ResBody: Send + 'static,
    {
        // Take the service that poll_ready made ready; leave a clone in its place.
        let clone = self.inner.clone();
        let ready = std::mem::replace(&mut self.inner, clone);
        let context = retry_context(&mut self.retry_context, &self.inner, &self.config);
        ResponseFuture::acquire_then_call(context, ready, pending, self.config.retry)
    }

    /// A request sent on untouched (no token), or failed with `reject` without being sent:
    /// for foreign origins and requests that already carry credentials.
    #[cold]
    #[inline(never)]
    fn untouched<B, ResBody>(
        &mut self,
        request: Request<B>,
        reject: Option<ErrorKind>,
    ) -> ResponseFuture<S, B>
    where
        S: Service<Request<B>, Response = Response<ResBody>> + Send + 'static,
        S::Error: Into<BoxError>,
        S::Future: Send + 'static,
        B: Send + 'static,
        ResBody: Send + 'static,
    {
        match reject {
            None => ResponseFuture::direct(self.inner.call(request)),
            Some(kind) => ResponseFuture::error(Error::new(kind).into()),
        }
    }
}

/// Whether the request's `Host` header, if it has one, names an allowed origin of the
/// request's scheme (up to case and a default port). Two `Host` headers never do.
#[inline(never)]
fn host_header_allowed<B>(config: &Config, request: &Request<B>) -> bool {
    let mut hosts = request.headers().get_all(HOST).iter();
    let Some(host) = hosts.next() else {
        return true;
    };
    if hosts.next().is_some() {
        return false;
    }
    let https = request.uri().scheme() == Some(&http::uri::Scheme::HTTPS);
    config
        .origins
        .iter()
        .any(|o| o.is_https() == https && o.matches_host(host.as_bytes()))
}

/// Says at `DEBUG` that a request went to an origin the layer does not serve: the likeliest
/// cause of an API's puzzling 401 (`localhost` against a layer made for `127.0.0.1`, say).
/// Scheme, host and port only: user information in the URI stays out of the log.
#[cold]
#[inline(never)]
fn log_foreign_origin(uri: &http::Uri, policy: ForeignOrigin) {
    let outcome = match policy {
        ForeignOrigin::Reject => "refused",
        _ => "sent without a token",
    };
    tracing::debug!(
        scheme = uri.scheme_str().unwrap_or(""),
        host = uri.host().unwrap_or(""),
        port = uri.port_u16(),
        "request to an origin the OAuth2 layer does not serve: {outcome}"
    );
}

/// The shared [`RetryContext`]: a clone of `inner` and the token source, made once.
#[inline]
fn retry_context<S: Clone>(
    slot: &mut Option<Arc<RetryContext<S>>>,
    inner: &S,
    config: &Config,
) -> Arc<RetryContext<S>> {
    slot.get_or_insert_with(|| {
        Arc::new(RetryContext::new(
            inner.clone(),
            config.source.clone(),
            config.dpop_nonces.clone(),
        ))
    })
    .clone()
}
