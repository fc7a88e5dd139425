//! The request body the signing middleware sends on, and bounded body buffering.
//!
//! Most requests (a `GET` with an empty body, a JSON `POST`) pass through
//! [`Sign`](crate::sign::Sign) with their body untouched and streamed: [`SignedBody`] wraps the
//! original body without copying or boxing it. Only when the middleware must read the body, a
//! single-part `application/x-www-form-urlencoded` body whose parameters are signed (RFC 5849
//! §3.4.1.3.1), or any body when `oauth_body_hash` is asked for, is it buffered, up to a limit
//! ([`DEFAULT_BODY_LIMIT`], 1 MiB, unless configured), and the same bytes (or the rewritten form,
//! for body placement) are sent on, followed by the body's trailers, if it had any.

use std::fmt;
use std::pin::Pin;
use std::task::{Context, Poll, ready};

use bytes::{Buf, Bytes};
use http::HeaderMap;
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
    /// `Client::builder(executor).build::<_, SignedBody<Full<Bytes>>>(https_connector)` with
    /// an HTTPS connector such as hyper-rustls's (`build_http()` makes a client that cannot
    /// reach an https URL, and plain http is signed only with an explicit opt-in).
    ///
    /// It deliberately does not implement `Default`: a redirect-following layer that needs
    /// `Default` (tower-http's `FollowRedirect`) cannot be placed *inside* the signer, where it
    /// would replay one hop's signature on the next; see [`crate::sign`].
    ///
    /// `Debug` shows the length of buffered bytes, never the bytes: with body placement they
    /// hold the signature, which for PLAINTEXT is the secrets themselves.
    pub struct SignedBody<B> {
        #[pin]
        kind: Kind<B>,
    }
}

pin_project! {
    #[project = KindProj]
    enum Kind<B> {
        Original { #[pin] body: B },
        Buffered { data: Option<Bytes>, trailers: Option<HeaderMap> },
    }
}

impl<B: fmt::Debug> fmt::Debug for SignedBody<B> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.kind {
            Kind::Original { body } => f.debug_tuple("SignedBody::Original").field(body).finish(),
            Kind::Buffered { data, trailers } => f
                .debug_struct("SignedBody::Buffered")
                .field("len", &data.as_ref().map_or(0, Bytes::len))
                .field("trailers", &trailers.as_ref().map(HeaderMap::len))
                .finish(),
        }
    }
}

impl<B> From<Bytes> for SignedBody<B> {
    /// A body of these bytes (as [`SignedBody::buffered`]).
    fn from(data: Bytes) -> Self {
        Self::buffered(data)
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
            kind: Kind::Buffered {
                data,
                trailers: None,
            },
        }
    }

    /// The same body, with `trailers` sent after buffered bytes (an original body keeps its
    /// own).
    pub(crate) fn with_trailers(mut self, new: Option<HeaderMap>) -> Self {
        if let Kind::Buffered { trailers, .. } = &mut self.kind {
            *trailers = new;
        }
        self
    }

    /// Whether this is the caller's body, untouched.
    pub fn is_original(&self) -> bool {
        matches!(self.kind, Kind::Original { .. })
    }

    /// The buffered bytes, when the middleware buffered the body (`None` for an original body,
    /// or once the bytes have been sent).
    pub fn buffered_bytes(&self) -> Option<&Bytes> {
        match &self.kind {
            Kind::Buffered { data, .. } => data.as_ref(),
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
            KindProj::Buffered { data, trailers } => Poll::Ready(
                data.take()
                    .map(Frame::data)
                    .or_else(|| trailers.take().map(Frame::trailers))
                    .map(Ok),
            ),
        }
    }

    fn is_end_stream(&self) -> bool {
        match &self.kind {
            Kind::Original { body } => body.is_end_stream(),
            Kind::Buffered { data, trailers } => data.is_none() && trailers.is_none(),
        }
    }

    fn size_hint(&self) -> SizeHint {
        match &self.kind {
            Kind::Original { body } => body.size_hint(),
            Kind::Buffered { data, .. } => {
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

/// Why [`Collect`] stopped: each user of it names the body it was reading in its own error.
#[derive(Debug)]
pub(crate) enum CollectError {
    /// More than the limit arrived.
    TooLarge(BodyTooLarge),
    /// The body's own error.
    Body(BoxError),
}

impl CollectError {
    /// The error of the signing middleware, which buffers a request body.
    pub(crate) fn into_request_error(self) -> BoxError {
        match self {
            Self::TooLarge(error) => error.into(),
            Self::Body(error) => BodyReadError::new(error).into(),
        }
    }
}

/// How many frames [`Collect`] takes in one poll before it lets other tasks (and a timer
/// around it) run: an in-process body that is always ready must not hold the thread.
const FRAMES_PER_POLL: usize = 64;

pin_project! {
    /// Collects a body into `Bytes`, failing once more than `limit` bytes arrive; keeps its
    /// trailers.
    #[derive(Debug)]
    pub(crate) struct Collect<B> {
        #[pin]
        body: B,
        buf: bytes::BytesMut,
        limit: usize,
        trailers: Option<HeaderMap>,
    }
}

impl<B> Collect<B> {
    pub(crate) fn new(body: B, limit: usize) -> Self {
        Self {
            body,
            buf: bytes::BytesMut::new(),
            limit,
            trailers: None,
        }
    }

    /// The body's trailers, once collected.
    pub(crate) fn take_trailers(self: Pin<&mut Self>) -> Option<HeaderMap> {
        self.project().trailers.take()
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
    ) -> Poll<Result<Bytes, CollectError>> {
        let mut this = self.project();
        for _ in 0..FRAMES_PER_POLL {
            match ready!(this.body.as_mut().poll_frame(cx)) {
                None => return Poll::Ready(Ok(std::mem::take(this.buf).freeze())),
                Some(Err(err)) => return Poll::Ready(Err(CollectError::Body(err.into()))),
                Some(Ok(frame)) => {
                    // Trailers carry nothing the signature covers; they are kept and sent
                    // after the buffered bytes.
                    let frame = match frame.into_trailers() {
                        Ok(trailers) => {
                            match this.trailers {
                                Some(kept) => kept.extend(trailers),
                                None => *this.trailers = Some(trailers),
                            }
                            continue;
                        }
                        Err(frame) => frame,
                    };
                    if let Ok(mut data) = frame.into_data() {
                        if this.buf.len().saturating_add(data.remaining()) > *this.limit {
                            return Poll::Ready(Err(CollectError::TooLarge(BodyTooLarge::new(
                                *this.limit,
                            ))));
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
        cx.waker().wake_by_ref();
        Poll::Pending
    }
}

#[cfg(test)]
mod tests {
    use http_body_util::{BodyExt, Full};

    use super::*;

    type Fixed = Full<Bytes>;

    /// Buffered bytes are given back as they are; an original body, or an empty buffer, has none.
    #[test]
    fn buffered_bytes_are_the_bytes_given() {
        let body = SignedBody::<Fixed>::buffered(Bytes::from_static(b"a=1&b=2"));
        assert_eq!(
            body.buffered_bytes().map(Bytes::as_ref),
            Some(&b"a=1&b=2"[..])
        );
        assert!(!body.is_original());
        let original = SignedBody::original(Full::new(Bytes::from_static(b"a=1")));
        assert_eq!(original.buffered_bytes(), None);
        assert!(original.is_original());
        assert_eq!(
            SignedBody::<Fixed>::buffered(Bytes::new()).buffered_bytes(),
            None
        );
    }

    /// `Debug` of buffered bytes names their length (and the trailers' count), never the bytes.
    #[test]
    fn debug_shows_the_length_not_the_bytes() {
        let body = SignedBody::<Fixed>::buffered(Bytes::from_static(b"oauth_signature=SENTINEL"));
        let shown = format!("{body:?}");
        assert_eq!(shown, "SignedBody::Buffered { len: 24, trailers: None }");
        let original = SignedBody::original(String::from("caller"));
        assert_eq!(format!("{original:?}"), "SignedBody::Original(\"caller\")");
    }

    /// A buffered body reports its exact length and ends only once its bytes and then its
    /// trailers were sent; an original body reports its own.
    #[tokio::test]
    async fn buffered_body_size_and_end_follow_what_is_left() {
        let mut trailers = HeaderMap::new();
        trailers.insert("x-checksum", http::HeaderValue::from_static("1"));
        let mut body =
            SignedBody::<Fixed>::buffered(Bytes::from_static(b"a=1")).with_trailers(Some(trailers));
        assert_eq!(body.size_hint().exact(), Some(3));
        assert!(!body.is_end_stream());
        let data = body.frame().await.unwrap().unwrap();
        assert_eq!(data.into_data().unwrap(), Bytes::from_static(b"a=1"));
        // The trailers are still to come.
        assert!(!body.is_end_stream());
        assert_eq!(body.size_hint().exact(), Some(0));
        let frame = body.frame().await.unwrap().unwrap();
        assert!(frame.is_trailers());
        assert!(body.is_end_stream());
        assert!(body.frame().await.is_none());

        // Bytes without trailers: not ended until the bytes are taken.
        let mut body = SignedBody::<Fixed>::buffered(Bytes::from_static(b"a"));
        assert!(!body.is_end_stream());
        body.frame().await.unwrap().unwrap();
        assert!(body.is_end_stream());

        let original = SignedBody::original(Full::new(Bytes::from_static(b"abcde")));
        assert_eq!(original.size_hint().exact(), Some(5));
        assert!(!original.is_end_stream());
        let empty = SignedBody::original(Full::<Bytes>::default());
        assert!(empty.is_end_stream());
        assert_eq!(empty.size_hint().exact(), Some(0));
    }

    /// A body whose declared size is over the limit is refused without being read; one at the
    /// limit is not.
    #[test]
    fn a_declared_size_over_the_limit_is_refused() {
        let body = Full::new(Bytes::from_static(b"123456789"));
        assert_eq!(
            Collect::check_hint(&body, 8),
            Err(BodyTooLarge::new(8)),
            "9 bytes declared, 8 allowed"
        );
        assert_eq!(Collect::check_hint(&body, 9), Ok(()));
    }
}
