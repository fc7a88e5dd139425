//! The request body the signing middleware sends on, and bounded body buffering.
//!
//! Most requests (a `GET` with an empty body, a JSON `POST`) pass through
//! [`Sign`](crate::sign::Sign) with their body untouched and streamed: [`SignedBody`] wraps the
//! original body without copying or boxing it. Only when the middleware must read the body, a
//! single-part `application/x-www-form-urlencoded` body whose parameters are signed (RFC 5849
//! §3.4.1.3.1), or any body when `oauth_body_hash` is asked for, is it buffered, up to a limit
//! ([`DEFAULT_BODY_LIMIT`], 1 MiB, unless configured), and the same bytes (or the rewritten form,
//! for body placement) are sent on.

use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes};
use http_body::{Body, Frame, SizeHint};
use pin_project_lite::pin_project;

use crate::BoxError;

/// The default cap on a request body the middleware buffers: 1 MiB.
pub const DEFAULT_BODY_LIMIT: usize = 1024 * 1024;

pin_project! {
    /// The body of a signed request: either the caller's body, streamed through untouched, or
    /// bytes the middleware buffered (and, for body placement, rewrote).
    ///
    /// Wrapping costs nothing for the common case (no allocation, no boxing). To send it with
    /// `hyper_util::client::legacy::Client`, build the client for this body type, e.g.
    /// `Client::builder(executor).build_http::<SignedBody<Full<Bytes>>>()`.
    ///
    /// It deliberately does not implement `Default`: a redirect-following layer that needs
    /// `Default` (tower-http's `FollowRedirect`) cannot be placed *inside* the signer, where it
    /// would replay one hop's signature on the next; see [`crate::sign`].
    #[derive(Debug)]
    pub struct SignedBody<B> {
        #[pin]
        kind: Kind<B>,
    }
}

pin_project! {
    #[project = KindProj]
    #[derive(Debug)]
    enum Kind<B> {
        Original { #[pin] body: B },
        Buffered { data: Option<Bytes> },
    }
}

impl<B> SignedBody<B> {
    /// The caller's body, sent on as it is.
    pub fn original(body: B) -> Self {
        Self {
            kind: Kind::Original { body },
        }
    }

    /// A body the middleware buffered or rewrote.
    pub fn buffered(data: Bytes) -> Self {
        let data = if data.is_empty() { None } else { Some(data) };
        Self {
            kind: Kind::Buffered { data },
        }
    }

    /// Whether this is the caller's body, untouched.
    pub fn is_original(&self) -> bool {
        matches!(self.kind, Kind::Original { .. })
    }

    /// The buffered bytes, when the middleware buffered the body (`None` for an original body,
    /// or once the bytes have been sent).
    pub fn buffered_bytes(&self) -> Option<&Bytes> {
        match &self.kind {
            Kind::Buffered { data } => data.as_ref(),
            Kind::Original { .. } => None,
        }
    }
}

impl<B> Body for SignedBody<B>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    type Data = Bytes;
    type Error = BoxError;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Self::Data>, Self::Error>>> {
        match self.project().kind.project() {
            KindProj::Original { body } => match ready!(body.poll_frame(cx)) {
                Some(Ok(frame)) => Poll::Ready(Some(Ok(
                    frame.map_data(|mut data| data.copy_to_bytes(data.remaining()))
                ))),
                Some(Err(err)) => Poll::Ready(Some(Err(err.into()))),
                None => Poll::Ready(None),
            },
            KindProj::Buffered { data } => Poll::Ready(data.take().map(|d| Ok(Frame::data(d)))),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Original { body } => body.is_end_stream(),
            Kind::Buffered { data } => data.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Original { body } => body.size_hint(),
            Kind::Buffered { data } => {
                SizeHint::with_exact(data.as_ref().map_or(0, |d| d.len() as u64))
            }
        }
    }
}

/// The request body is larger than the configured buffering limit.
///
/// Returned (boxed into a [`BoxError`]) by [`Sign`](crate::sign::Sign) when it must read a form
/// body, or any body for `oauth_body_hash`, and the body exceeds the limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("request body exceeds the {limit}-byte limit for signing")]
pub struct BodyTooLarge {
    limit: usize,
}

impl BodyTooLarge {
    pub(crate) fn new(limit: usize) -> Self {
        Self { limit }
    }

    /// The limit that was exceeded, in bytes.
    pub fn limit(&self) -> usize {
        self.limit
    }
}

/// Reading the request body failed while buffering it for signing. The source is the body's own
/// error.
#[derive(Debug, thiserror::Error)]
#[error("reading the request body for signing failed")]
pub struct BodyReadError {
    #[source]
    source: BoxError,
}

impl BodyReadError {
    pub(crate) fn new(source: BoxError) -> Self {
        Self { source }
    }
}

pin_project! {
    /// Collects a body into `Bytes`, failing once more than `limit` bytes arrive.
    #[derive(Debug)]
    pub(crate) struct Collect<B> {
        #[pin]
        body: B,
        buf: bytes::BytesMut,
        limit: usize,
    }
}

impl<B> Collect<B> {
    pub(crate) fn new(body: B, limit: usize) -> Self {
        Self {
            body,
            buf: bytes::BytesMut::new(),
            limit,
        }
    }
}

impl<B> Collect<B>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    /// Rejects a body whose declared size is already over the limit, before reading anything.
    pub(crate) fn check_hint(body: &B, limit: usize) -> Result<(), BodyTooLarge> {
        if body.size_hint().lower() > limit as u64 {
            Err(BodyTooLarge::new(limit))
        } else {
            Ok(())
        }
    }

    pub(crate) fn poll_collect(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Result<Bytes, BoxError>> {
        let mut this = self.project();
        loop {
            match ready!(this.body.as_mut().poll_frame(cx)) {
                None => return Poll::Ready(Ok(std::mem::take(this.buf).freeze())),
                Some(Err(err)) => return Poll::Ready(Err(BodyReadError::new(err.into()).into())),
                Some(Ok(frame)) => {
                    // Trailers carry nothing the signature covers; they are dropped, like a
                    // buffered form body has none.
                    if let Ok(mut data) = frame.into_data() {
                        if this.buf.len().saturating_add(data.remaining()) > *this.limit {
                            return Poll::Ready(Err(BodyTooLarge::new(*this.limit).into()));
                        }
                        while data.has_remaining() {
                            let chunk = data.chunk();
                            this.buf.extend_from_slice(chunk);
                            let n = chunk.len();
                            data.advance(n);
                        }
                    }
                }
            }
        }
    }
}
