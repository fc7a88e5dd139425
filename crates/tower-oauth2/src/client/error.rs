//! [`GrantClientError`]: why a token request produced no token.

use std::fmt;
use std::time::Duration;

use http::{HeaderMap, StatusCode};
use oauth_core::oauth2::{
    AuthorizeError, ErrorCode, GrantError, InvalidDpopNonce, MetadataError, OAuthErrorResponse,
    Token, TokenResponseError,
};
use tower::BoxError;

use super::transport::TransportFailure;
use crate::source::{TokenError, TokenErrorKind};

/// A token request failed. Its `Display` and `Debug` never hold a secret or the response body.
#[derive(Debug)]
pub struct GrantClientError {
    kind: GrantClientErrorKind,
    endpoint: ServerEndpoint,
    retry_after: Option<Duration>,
    source: Option<BoxError>,
}

/// Which of the authorization server's endpoints a [`GrantClientError`] comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ServerEndpoint {
    /// The token endpoint (RFC 6749 §3.2): every grant, refresh, device-code and CIBA poll.
    Token,
    /// The device authorization endpoint (RFC 8628 §3.1).
    DeviceAuthorization,
    /// The backchannel authentication endpoint (OpenID Connect CIBA Core §7).
    BackchannelAuthentication,
    /// The pushed authorization request endpoint (RFC 9126).
    PushedAuthorization,
    /// The revocation endpoint (RFC 7009).
    Revocation,
    /// The introspection endpoint (RFC 7662).
    Introspection,
    /// The metadata document (RFC 8414, OpenID Connect Discovery).
    Metadata,
    /// The JWK set at the provider's `jwks_uri` (for ID tokens).
    Jwks,
}

impl ServerEndpoint {
    /// Its name in error messages: `token`, `revocation`, ...
    #[must_use]
    #[doc(alias = "name")]
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Token => "token",
            Self::DeviceAuthorization => "device authorization",
            Self::BackchannelAuthentication => "backchannel authentication",
            Self::PushedAuthorization => "pushed authorization",
            Self::Revocation => "revocation",
            Self::Introspection => "introspection",
            Self::Metadata => "metadata",
            Self::Jwks => "JWK set",
        }
    }
}

/// What kind of failure a [`GrantClientError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum GrantClientErrorKind {
    /// The request was not sent: it could not be built, or the client refused to send it
    /// ([`GrantClientError::request_error`] says why, and so does the message).
    Request,
    /// The HTTP service failed: connection refused, reset, TLS, DNS.
    Transport,
    /// No complete response within the deadline.
    Timeout,
    /// The server answered with a redirect, which is never followed (at any of its endpoints:
    /// [`GrantClientError::endpoint`] says which).
    UnexpectedRedirect(StatusCode),
    /// The response body is larger than the limit.
    ResponseTooLarge,
    /// The response body failed while being read.
    ResponseBody,
    /// The token endpoint answered, but not with a token (an OAuth error, an HTTP error, or a
    /// malformed body: see [`GrantClientError::response_error`]).
    Response,
    /// DPoP was requested but the token endpoint issued a token of another type (RFC 9449 §5);
    /// see [`GrantClient::accept_unbound_tokens`](crate::GrantClient::accept_unbound_tokens).
    NotDpopBound,
    /// The token endpoint asked for a DPoP nonce but sent an invalid `DPoP-Nonce` (repeated,
    /// empty, or not `NQCHAR`).
    InvalidDpopNonce,
    /// The authorization code is bound to a DPoP key other than this client's (or the client
    /// has none): the exchange was not sent.
    DpopKeyMismatch,
    /// The current tokio runtime has no timers (it was built without `enable_time` or
    /// `enable_all`), or there is no tokio runtime: the response deadline could not be kept,
    /// so nothing was sent. (Tokio cannot be asked whether timers are there: the library
    /// finds out by a probe whose panic it catches, and the process's panic hook prints that
    /// panic, "timers are disabled", before each such error.)
    NoTimer,
}

impl GrantClientError {
    pub(crate) fn request(error: GrantError) -> Self {
        Self {
            kind: GrantClientErrorKind::Request,
            endpoint: ServerEndpoint::Token,
            retry_after: None,
            source: Some(Box::new(error)),
        }
    }

    /// A request this client will not send (kind `Request`), for the reason `source` gives.
    pub(crate) fn refused(source: BoxError) -> Self {
        Self {
            kind: GrantClientErrorKind::Request,
            endpoint: ServerEndpoint::Token,
            retry_after: None,
            source: Some(source),
        }
    }

    pub(crate) fn transport(failure: TransportFailure) -> Self {
        let (kind, source) = match failure {
            TransportFailure::Service(e) => (GrantClientErrorKind::Transport, Some(e)),
            TransportFailure::Timeout => (GrantClientErrorKind::Timeout, None),
            TransportFailure::Redirect(status) => {
                (GrantClientErrorKind::UnexpectedRedirect(status), None)
            }
            TransportFailure::TooLarge => (GrantClientErrorKind::ResponseTooLarge, None),
            TransportFailure::Body(e) => (GrantClientErrorKind::ResponseBody, Some(e)),
            TransportFailure::NoTimer => (GrantClientErrorKind::NoTimer, None),
        };
        Self {
            kind,
            endpoint: ServerEndpoint::Token,
            retry_after: None,
            source,
        }
    }

    pub(crate) fn not_dpop_bound(token: Token) -> Self {
        Self {
            kind: GrantClientErrorKind::NotDpopBound,
            endpoint: ServerEndpoint::Token,
            retry_after: None,
            source: Some(Box::new(UnboundToken(token))),
        }
    }

    /// For [`GrantClientErrorKind::NotDpopBound`]: the token the server issued unbound. It is
    /// not used, but it is live (and may carry a rotated refresh token, the only one left):
    /// revoke it ([`GrantClient::revoke`](crate::GrantClient::revoke)), or keep it if the
    /// application accepts Bearer tokens after all. From a [`TokenSource`](crate::TokenSource)
    /// refresh, this error is the source of its terminal
    /// ([`Configuration`](TokenErrorKind::Configuration)) [`TokenError`]: downcast it.
    pub fn unbound_token(&self) -> Option<&Token> {
        self.source
            .as_ref()?
            .downcast_ref::<UnboundToken>()
            .map(|u| &u.0)
    }

    pub(crate) fn authorize(error: AuthorizeError) -> Self {
        Self {
            kind: GrantClientErrorKind::Request,
            endpoint: ServerEndpoint::Token,
            retry_after: None,
            source: Some(Box::new(error)),
        }
    }

    pub(crate) fn dpop_key_mismatch() -> Self {
        Self {
            kind: GrantClientErrorKind::DpopKeyMismatch,
            endpoint: ServerEndpoint::Token,
            retry_after: None,
            source: Some(Box::new(oauth_core::oauth2::DpopKeyMismatch::new())),
        }
    }

    pub(crate) fn nonce(error: InvalidDpopNonce) -> Self {
        Self {
            kind: GrantClientErrorKind::InvalidDpopNonce,
            endpoint: ServerEndpoint::Token,
            retry_after: None,
            source: Some(Box::new(error)),
        }
    }

    /// The same failure, at `endpoint` (errors are made for the token endpoint).
    pub(crate) fn at(mut self, endpoint: ServerEndpoint) -> Self {
        self.endpoint = endpoint;
        self
    }

    /// Which of the server's endpoints failed.
    pub fn endpoint(&self) -> ServerEndpoint {
        self.endpoint
    }

    /// A metadata document that could not be fetched or was refused (kind `Response`, or
    /// `Request` when its URL could not be built).
    pub(crate) fn metadata(error: MetadataError) -> Self {
        let kind = match error {
            MetadataError::Url(_) => GrantClientErrorKind::Request,
            _ => GrantClientErrorKind::Response,
        };
        Self {
            kind,
            endpoint: ServerEndpoint::Metadata,
            retry_after: None,
            source: Some(Box::new(error)),
        }
    }

    /// The same failure, with the `Retry-After` of the response that caused it.
    pub(crate) fn with_retry_after_from(mut self, headers: &HeaderMap) -> Self {
        self.retry_after = retry_after(headers);
        self
    }

    /// The metadata error, for a failed [`discover`](super::discover).
    pub fn metadata_error(&self) -> Option<&MetadataError> {
        self.source.as_ref()?.downcast_ref()
    }

    pub(crate) fn response(error: TokenResponseError, headers: &HeaderMap) -> Self {
        Self {
            kind: GrantClientErrorKind::Response,
            endpoint: ServerEndpoint::Token,
            retry_after: retry_after(headers),
            source: Some(Box::new(error)),
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> GrantClientErrorKind {
        self.kind
    }

    /// Why the request was not sent, for [`GrantClientErrorKind::Request`]: an
    /// [`oauth_core::oauth2::GrantError`] (it could not be built), an
    /// [`oauth_core::oauth2::AuthorizeError`], or another refusal; downcast it to tell them
    /// apart. It is not the error's `source()`: the message already says it (an error-chain
    /// printer would say it twice), and the chain goes on from its own source.
    pub fn request_error(&self) -> Option<&(dyn std::error::Error + Send + Sync + 'static)> {
        match self.kind {
            GrantClientErrorKind::Request => self.source.as_deref(),
            _ => None,
        }
    }

    /// The parsed token endpoint response error, for [`GrantClientErrorKind::Response`].
    pub fn response_error(&self) -> Option<&TokenResponseError> {
        self.source.as_ref()?.downcast_ref()
    }

    /// The OAuth error (RFC 6749 §5.2) the token endpoint sent, if any.
    pub fn oauth_error(&self) -> Option<&OAuthErrorResponse> {
        self.response_error()?.oauth_error()
    }

    /// The OAuth error code the token endpoint sent, if any (`invalid_grant`, ...), as
    /// [`TokenError::error_code`] gives it.
    pub fn error_code(&self) -> Option<&ErrorCode> {
        self.oauth_error().map(|e| &e.code)
    }

    /// The server's `Retry-After` (429, 503): delay-seconds, or an HTTP-date counted from the
    /// response's `Date` (else the local clock); capped at an hour.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// Whether trying again later may succeed (network trouble, timeouts, 5xx, 408, 429).
    pub fn is_transient(&self) -> bool {
        match self.kind {
            GrantClientErrorKind::Transport
            | GrantClientErrorKind::Timeout
            | GrantClientErrorKind::ResponseBody => true,
            GrantClientErrorKind::Response => {
                self.response_error().is_some_and(|e| e.is_transient())
                    || self.metadata_error().is_some_and(|e| {
                        matches!(e, MetadataError::Status(s) if s.is_server_error()
                            || *s == StatusCode::TOO_MANY_REQUESTS
                            || *s == StatusCode::REQUEST_TIMEOUT)
                    })
            }
            _ => false,
        }
    }

    /// The [`TokenError`] a [`TokenSource`](crate::TokenSource) acts on.
    pub fn into_token_error(self) -> TokenError {
        let retry_after = self.retry_after;
        if self.kind == GrantClientErrorKind::Response {
            if let Some(source) = self.source
                && let Ok(error) = source.downcast::<TokenResponseError>()
            {
                return TokenError::from_response(*error).with_retry_after(retry_after);
            }
            return TokenError::new(TokenErrorKind::InvalidResponse, None)
                .with_retry_after(retry_after);
        }
        // A server that does not bind tokens to the key, or a key that is not the token's,
        // will not change on its own: terminal, not retried. (Retrying a refresh would also
        // spend the old refresh token again after the server rotated it into the unbound
        // answer, which stays reachable through `unbound_token` on this error, the
        // `TokenError`'s source.) Nor will a request this client cannot make (a client
        // assertion its key cannot sign, say): nothing was sent, and nothing would be.
        let kind = if self.is_transient() {
            TokenErrorKind::Transient
        } else if self.kind == GrantClientErrorKind::NoTimer {
            TokenErrorKind::NoRuntime
        } else if matches!(
            self.kind,
            GrantClientErrorKind::DpopKeyMismatch
                | GrantClientErrorKind::NotDpopBound
                | GrantClientErrorKind::Request
        ) {
            TokenErrorKind::Configuration
        } else {
            TokenErrorKind::InvalidResponse
        };
        TokenError::new(kind, Some(Box::new(self))).with_retry_after(retry_after)
    }
}

impl fmt::Display for GrantClientError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let at = self.endpoint.as_str();
        match self.kind {
            // (The reason is the whole point here: a refusal, or what could not be encoded.)
            GrantClientErrorKind::Request => match &self.source {
                Some(reason) => write!(f, "the {at} request was not sent: {reason}"),
                None => write!(f, "the {at} request was not sent"),
            },
            // (The innermost cause says what to fix: "Connection refused", "invalid URL,
            // scheme is not http", a DNS or TLS failure; the layers between say little.)
            GrantClientErrorKind::Transport => match self.source.as_deref().map(innermost) {
                Some(cause) => write!(f, "{at} endpoint unreachable: {cause}"),
                None => write!(f, "{at} endpoint unreachable"),
            },
            GrantClientErrorKind::Timeout => write!(f, "{at} endpoint timed out"),
            GrantClientErrorKind::UnexpectedRedirect(status) => write!(
                f,
                "{at} endpoint answered with a redirect ({status}), which is not followed"
            ),
            GrantClientErrorKind::ResponseTooLarge => write!(f, "{at} endpoint response too large"),
            GrantClientErrorKind::ResponseBody => {
                write!(f, "{at} endpoint response could not be read")
            }
            GrantClientErrorKind::NotDpopBound => {
                f.write_str("DPoP was requested but the token endpoint issued an unbound token")
            }
            GrantClientErrorKind::InvalidDpopNonce => {
                write!(f, "the {at} endpoint sent an invalid DPoP-Nonce")
            }
            GrantClientErrorKind::DpopKeyMismatch => f.write_str(
                "the authorization code is bound to another DPoP key: the exchange was not sent",
            ),
            GrantClientErrorKind::NoTimer => write!(
                f,
                "the {at} request was not sent: its deadline needs a tokio runtime with timers (`enable_all` or `enable_time`)"
            ),
            GrantClientErrorKind::Response => {
                match (self.response_error(), self.metadata_error()) {
                    // (The parser's messages for these two name the token endpoint: the answer
                    // of another endpoint names that one.)
                    (Some(TokenResponseError::HttpStatus { status }), _) => {
                        write!(
                            f,
                            "{at} request failed: {at} endpoint returned HTTP {status}"
                        )
                    }
                    (Some(TokenResponseError::OAuth { status, error }), _) => write!(
                        f,
                        "{at} request failed: {at} endpoint error (HTTP {status}): {error}"
                    ),
                    (Some(e), _) => write!(f, "{at} request failed: {e}"),
                    (None, Some(e)) => write!(f, "{at} request failed: {e}"),
                    (None, None) => write!(f, "{at} request failed"),
                }
            }
        }?;
        if let Some(after) = self.retry_after {
            write!(f, " (retry after {} s)", after.as_secs())?;
        }
        Ok(())
    }
}

/// The last error of `error`'s source chain (`error` itself if it has none).
fn innermost<'a>(
    error: &'a (dyn std::error::Error + Send + Sync + 'static),
) -> &'a (dyn std::error::Error + 'static) {
    let mut current: &(dyn std::error::Error + 'static) = error;
    while let Some(next) = current.source() {
        current = next;
    }
    current
}

impl std::error::Error for GrantClientError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        let source = self.source.as_deref()?;
        // `Display` already says what the server answered, or why nothing was sent (see
        // above): the chain goes on from that error's cause, so that `{:#}` printers do not say
        // it twice. The error itself stays at hand as `response_error` / `metadata_error` /
        // `request_error`.
        if self.kind == GrantClientErrorKind::Request {
            return source.source();
        }
        if self.kind == GrantClientErrorKind::Response {
            if let Some(e) = self.response_error() {
                return e.source();
            }
            if let Some(e) = self.metadata_error() {
                return e.source();
            }
        }
        Some(source as &(dyn std::error::Error + 'static))
    }
}

/// The response's `Retry-After`, counted from its `Date` or else the local clock.
fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    oauth_core::retry::parse_retry_after(headers, std::time::SystemTime::now())
}

/// A token the server issued without binding it to the DPoP key that was asked for.
struct UnboundToken(Token);

impl fmt::Debug for UnboundToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("UnboundToken").field(&self.0).finish()
    }
}

impl fmt::Display for UnboundToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "token type {:?}", self.0.token_type())
    }
}

impl std::error::Error for UnboundToken {}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::{DATE, RETRY_AFTER};

    /// The reason a request was not sent is in the message once: it is not also the
    /// `source()` (an `anyhow` `{:#}` chain said "the token request was not sent: cannot make
    /// the client assertion: ...: cannot make the client assertion: ..."), and it stays at
    /// hand as `request_error()`.
    #[test]
    fn a_request_not_sent_says_why_once() {
        use oauth_core::oauth2::{AssertionError, GrantError};
        let reason = GrantError::from(AssertionError::RsaKeyTooSmall { bits: 1024 });
        let error = GrantClientError::request(reason.clone());
        let mut chain = Vec::new();
        let mut next: Option<&(dyn std::error::Error + 'static)> = Some(&error);
        while let Some(e) = next {
            chain.push(e.to_string());
            next = e.source();
        }
        assert_eq!(
            chain,
            [
                "the token request was not sent: cannot make the client assertion: the RSA key has 1024 bits; RS256 and PS256 need 2048 or more (RFC 7518 §3.3, §3.5)"
            ]
        );
        assert_eq!(
            error
                .request_error()
                .and_then(|e| e.downcast_ref::<GrantError>()),
            Some(&reason)
        );
        let refused = GrantClientError::refused(Box::new(super::super::ForeignTokenRequest));
        assert!(std::error::Error::source(&refused).is_none());
        assert!(
            refused
                .to_string()
                .contains("built for another token endpoint")
        );
        assert!(
            GrantClientError::transport(TransportFailure::Timeout)
                .request_error()
                .is_none()
        );
    }

    #[test]
    fn retry_after_comes_from_the_response() {
        let mut headers = HeaderMap::new();
        headers.insert(RETRY_AFTER, http::HeaderValue::from_static("120"));
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(120)));
        headers.insert(
            DATE,
            http::HeaderValue::from_static("Fri, 31 Dec 1999 23:59:00 GMT"),
        );
        headers.insert(
            RETRY_AFTER,
            http::HeaderValue::from_static("Fri, 31 Dec 1999 23:59:59 GMT"),
        );
        assert_eq!(retry_after(&headers), Some(Duration::from_secs(59)));
    }
}
