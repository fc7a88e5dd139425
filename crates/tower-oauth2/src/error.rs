//! The middleware's own failures, boxed into [`tower::BoxError`] the tower way.

use std::fmt;
use std::sync::Arc;

/// A failure of the OAuth 2 middleware (not of the wrapped service, whose errors pass through).
///
/// Its `Display` names what went wrong and never contains a token or a secret.
#[derive(Clone)]
pub struct Error {
    kind: ErrorKind,
    source: Option<Arc<dyn std::error::Error + Send + Sync + 'static>>,
}

/// What kind of failure an [`Error`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The request's origin is not on the allowlist and the layer is set to reject such requests.
    ForeignOrigin,
    /// The request already carries credentials (an `Authorization` header, or an
    /// `access_token` query parameter) and the layer is set to reject such requests.
    AuthorizationAlreadySet,
    /// No usable token could be had: the refresh or fetch failed, for any reason, transient
    /// ones included. Not the same as [`TokenErrorKind::NoToken`](crate::TokenErrorKind::NoToken)
    /// ("log in first"): [`Error::token_error`] says why and what to do (its `kind()`; its
    /// message is in this error's, and `source()` goes on with its cause).
    NoToken,
    /// The token is DPoP-bound (RFC 9449) and no proof could be made for the request: no DPoP
    /// key is configured, the key is not the one the token is bound to
    /// ([`DpopKeyMismatch`](oauth_core::oauth2::DpopKeyMismatch)), or signing failed. The
    /// request was not sent.
    DpopProof,
    /// The resource server asked for a DPoP nonce (`use_dpop_nonce`) with a `DPoP-Nonce` that
    /// is repeated, empty, or not `NQCHAR` (RFC 9449 §8.1).
    InvalidDpopNonce,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind) -> Self {
        Self { kind, source: None }
    }

    pub(crate) fn no_token(source: Arc<crate::source::TokenError>) -> Self {
        Self {
            kind: ErrorKind::NoToken,
            source: Some(source),
        }
    }

    pub(crate) fn with_source(
        kind: ErrorKind,
        source: impl std::error::Error + Send + Sync + 'static,
    ) -> Self {
        Self {
            kind,
            source: Some(Arc::new(source)),
        }
    }

    /// Why no token could be had, for [`ErrorKind::NoToken`]: its
    /// [`kind`](crate::TokenError::kind) says what to do (try later, authorize again, fix the
    /// configuration). The message includes it; [`source`](std::error::Error::source)
    /// continues from its cause.
    pub fn token_error(&self) -> Option<&crate::source::TokenError> {
        self.source.as_deref()?.downcast_ref()
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Error")
            .field("kind", &self.kind)
            .field("source", &self.source)
            .finish()
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // Why there is no token, in the message itself (a caller that prints `{}` sees the
        // cause); `source` then continues below the token error, so a chain is printed once.
        if let Some(token_error) = self.token_error() {
            return write!(f, "no usable access token: {token_error}");
        }
        f.write_str(match self.kind {
            ErrorKind::ForeignOrigin => {
                "request to an origin that is not on the OAuth 2 layer's allowlist"
            }
            ErrorKind::AuthorizationAlreadySet => {
                "request already carries credentials (an Authorization header or an access_token query parameter)"
            }
            ErrorKind::NoToken => "no usable access token",
            ErrorKind::DpopProof => "no DPoP proof could be made for the request",
            ErrorKind::InvalidDpopNonce => "the resource server sent an invalid DPoP-Nonce",
        })
    }
}

impl std::error::Error for Error {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        // (The token error's own message is in this one's: see `Display`.)
        if let Some(token_error) = self.token_error() {
            return std::error::Error::source(token_error);
        }
        self.source
            .as_deref()
            .map(|e| e as &(dyn std::error::Error + 'static))
    }
}
