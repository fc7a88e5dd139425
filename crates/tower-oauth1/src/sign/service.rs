//! [`Sign`]: the service half of the signing middleware.

use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_service::Service;

use super::{Config, Origin, ResponseFuture};
use crate::body::{Collect, SignedBody};
use crate::{BoxError, Realm};

/// Middleware that signs every request with OAuth 1.0a (RFC 5849) before calling the inner
/// service. See the [module docs](super).
#[derive(Clone, Debug)]
pub struct Sign<S> {
    pub(crate) inner: S,
    pub(crate) config: Arc<Config>,
}

impl<S> Sign<S> {
    /// Caps the bytes buffered from a request body; see [`SignLayer::body_limit`](super::SignLayer::body_limit).
    #[must_use]
    pub fn body_limit(mut self, limit: usize) -> Self {
        Arc::make_mut(&mut self.config).body_limit = limit;
        self
    }

    /// Signs only requests to these origins; see [`SignLayer::allowed_origins`](super::SignLayer::allowed_origins).
    #[must_use]
    pub fn allowed_origins<I>(mut self, origins: I) -> Self
    where
        I: IntoIterator<Item = Origin>,
    {
        Arc::make_mut(&mut self.config).allowed_origins = Some(origins.into_iter().collect());
        self
    }

    /// Sends this realm in every `Authorization` header; see [`SignLayer::realm`](super::SignLayer::realm).
    #[must_use]
    pub fn realm(mut self, realm: Realm) -> Self {
        Arc::make_mut(&mut self.config).realm = Some(realm);
        self
    }

    /// Allows plain `http://` to loopback hosts; see [`SignLayer::dangerous_allow_http_loopback`](super::SignLayer::dangerous_allow_http_loopback).
    #[must_use]
    pub fn dangerous_allow_http_loopback(mut self) -> Self {
        Arc::make_mut(&mut self.config).allow_http = super::AllowHttp::Loopback;
        self
    }

    /// Signs plain `http://` to any host; see [`SignLayer::dangerous_allow_http`](super::SignLayer::dangerous_allow_http).
    #[must_use]
    pub fn dangerous_allow_http(mut self) -> Self {
        Arc::make_mut(&mut self.config).allow_http = super::AllowHttp::Any;
        self
    }

    /// A reference to the inner service.
    pub fn get_ref(&self) -> &S {
        &self.inner
    }

    /// A mutable reference to the inner service.
    pub fn get_mut(&mut self) -> &mut S {
        &mut self.inner
    }

    /// The inner service.
    pub fn into_inner(self) -> S {
        self.inner
    }
}

impl<S, B, ResBody> Service<Request<B>> for Sign<S>
where
    S: Service<Request<SignedBody<B>>, Response = Response<ResBody>> + Clone,
    S::Error: Into<BoxError>,
    B: http_body::Body,
    B::Error: Into<BoxError>,
{
    type Response = Response<ResBody>;
    type Error = BoxError;
    type Future = ResponseFuture<B, S, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx).map_err(Into::into)
    }

    fn call(&mut self, req: Request<B>) -> Self::Future {
        let (mut parts, body) = req.into_parts();
        let body_empty = body.size_hint().exact() == Some(0);
        let needs_body = match self.config.precheck(&parts, body_empty) {
            Ok(needs_body) => needs_body,
            Err(error) => return ResponseFuture::failed(error),
        };
        if needs_body {
            let limit = self.config.body_limit;
            if let Err(error) = Collect::check_hint(&body, limit) {
                return ResponseFuture::failed(error.into());
            }
            // The body must be read before the inner service is called: keep the service that
            // `poll_ready` made ready for this request, and leave a fresh clone in its place.
            let clone = self.inner.clone();
            let inner = std::mem::replace(&mut self.inner, clone);
            return ResponseFuture::buffering(body, limit, parts, inner, Arc::clone(&self.config));
        }
        match self.config.sign_unbuffered(&mut parts) {
            Ok(None) => ResponseFuture::calling(
                self.inner
                    .call(Request::from_parts(parts, SignedBody::original(body))),
            ),
            // Body placement on an empty body: the parameters become the body.
            Ok(Some(form)) => ResponseFuture::calling(
                self.inner
                    .call(Request::from_parts(parts, SignedBody::buffered(form))),
            ),
            Err(error) => ResponseFuture::failed(error),
        }
    }
}
