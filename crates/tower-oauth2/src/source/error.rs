//! Why a [`TokenSource`](super::TokenSource) has no token: [`TokenError`] and its kind.

use std::sync::Arc;
use std::time::Duration;

use oauth_core::oauth2::{ErrorCode, RefreshFailure, Token, TokenResponseError};
use tower::BoxError;

/// Why no token could be had. Its `Display` never contains a token or a secret.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.headline())]
pub struct TokenError {
    pub(super) kind: TokenErrorKind,
    pub(super) code: Option<ErrorCode>,
    pub(super) retry_after: Option<Duration>,
    #[source]
    pub(super) source: Option<BoxError>,
}

/// What kind of failure a [`TokenError`] is, and so what the application should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum TokenErrorKind {
    /// The token endpoint failed or could not be reached (network, DNS or TLS failure,
    /// timeout, 5xx, 408, 429, `temporarily_unavailable`), or the source is backing off after
    /// such a failure: try again later; the old token was kept.
    #[error(
        "no new token for now (token endpoint failing or unreachable, or backing off): try again later"
    )]
    Transient,
    /// The grant is dead (`invalid_grant`): the user must authorize again. (A
    /// client-credentials source, which has no user, asks again after
    /// [`RefreshPolicy::max_backoff`](oauth_core::oauth2::RefreshPolicy::max_backoff), as for [`Configuration`](Self::Configuration).)
    #[error("the grant can no longer be used: authorization is needed again")]
    Reauthorize,
    /// The client's configuration does not work with this server, and sending the same
    /// request again will not change that: it was refused (`invalid_client`,
    /// `unauthorized_client`, `invalid_scope`, ...), or the server's token responses are not
    /// valid tokens (fix with a compliance hook), or its tokens are not DPoP-bound as asked
    /// (or are, to a source with no DPoP key), or the request cannot be made at all (a client
    /// assertion its key cannot sign). From [`TokenSourceBuilder::build`](super::TokenSourceBuilder::build): the source's
    /// `issued_to` or DPoP key is not its fetcher's.
    /// A client-credentials source asks again after [`RefreshPolicy::max_backoff`](oauth_core::oauth2::RefreshPolicy::max_backoff), in case
    /// the client was fixed at the server; a user grant's refresh is not tried again.
    #[error("the client's configuration does not work with the authorization server")]
    Configuration,
    /// The token endpoint answered with something that is not a usable token; or the token
    /// in use cannot be sent (a token given to the source, or read from its store, that no
    /// header can hold: the message says so, and it stays so until the application gives the
    /// source another token, with [`TokenSource::set_token`](super::TokenSource::set_token) or
    /// [`replace_token`](super::TokenSource::replace_token)).
    #[error("the token endpoint's response is not a usable token")]
    InvalidResponse,
    /// There is no token and no way to fetch one. (A source with a store and a refreshing
    /// fetcher, or with a store and no fetcher, looks at its store again while requests come,
    /// at most once per [`RefreshPolicy::min_interval`](oauth_core::oauth2::RefreshPolicy::min_interval)
    /// (a follower whose token ends soon, or has ended, up to four times a second), and takes up a token saved there by
    /// another process: see [`TokenSourceBuilder::store`](super::TokenSourceBuilder::store).)
    #[error(
        "no token is available, and none can be fetched without one (no fetcher, or one that refreshes): authorize first"
    )]
    NoToken,
    /// The token store could not be read when the source was built with no token given
    /// ([`TokenSourceBuilder::build`](super::TokenSourceBuilder::build)). A failed save is no
    /// error: the token is used all the same (see
    /// [`TokenSource::has_unsaved_token`](super::TokenSource::has_unsaved_token)).
    #[error("the token store failed")]
    Store,
    /// Refreshing needs a tokio runtime with timers (`enable_all` or `enable_time`), and the
    /// current one has none, or there is no runtime at all. Nothing was sent; the next call
    /// from a runtime that has them refreshes.
    #[error("refreshing tokens needs a tokio runtime with timers")]
    NoRuntime,
}

impl TokenError {
    /// A failure of the given kind, with an optional cause (which must not contain secrets).
    #[must_use]
    pub fn new(kind: TokenErrorKind, source: Option<BoxError>) -> Self {
        Self {
            kind,
            code: None,
            retry_after: None,
            source,
        }
    }

    /// The kind's message, or, for a server whose token responses are not valid tokens, one
    /// that does not blame the client's configuration.
    fn headline(&self) -> std::borrow::Cow<'static, str> {
        let malformed_token = self.kind == TokenErrorKind::Configuration
            && self
                .source
                .as_deref()
                .and_then(|source| source.downcast_ref::<TokenResponseError>())
                .is_some_and(TokenResponseError::is_malformed_token);
        let unsendable_in_use = self.kind == TokenErrorKind::InvalidResponse
            && self
                .source
                .as_deref()
                .is_some_and(|source| source.is::<TokenInUseUnsendable>());
        if unsendable_in_use {
            return "the token in use cannot be sent: give the source another token".into();
        }
        if malformed_token {
            return "the token endpoint's responses are not valid tokens (see the cause; a \
                    compliance hook may accept this server's format): not retried"
                .into();
        }
        match &self.code {
            Some(code) => format!("{} ({code})", self.kind).into(),
            None => self.kind.to_string().into(),
        }
    }

    /// The same failure, with the server's `Retry-After`: a [`TokenSource`](super::TokenSource) does not try
    /// again before it has passed (within its maximum back-off).
    #[must_use]
    pub fn with_retry_after(mut self, retry_after: Option<Duration>) -> Self {
        self.retry_after = retry_after;
        self
    }

    /// The server's `Retry-After`, if it sent one.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// Classifies a token endpoint's failure (RFC 6749 §5.2): `invalid_grant` is
    /// [`TokenErrorKind::Reauthorize`]; client errors (see
    /// [`RefreshFailure::from_response_error`]) are [`TokenErrorKind::Configuration`], and so
    /// is a success response that is JSON but not a valid token (a member missing or of the
    /// wrong type): the server answers that way every time, needs a
    /// [`ComplianceHook`](oauth_core::oauth2::ComplianceHook), and on a refresh it may already
    /// have rotated the refresh token, which must not be spent again. Any other OAuth error
    /// code, and any other answer at 5xx, 408 or 429, is [`TokenErrorKind::Transient`]; a body
    /// that is not a token response at all at another status (an HTML page at 200, a 404) is
    /// [`TokenErrorKind::InvalidResponse`]; both back off and keep the old token.
    #[must_use]
    pub fn from_response(error: TokenResponseError) -> Self {
        let code = error.oauth_error().map(|e| e.code.clone());
        let kind = match RefreshFailure::from_response_error(&error) {
            RefreshFailure::InvalidGrant => TokenErrorKind::Reauthorize,
            RefreshFailure::ClientMisconfigured(_) => TokenErrorKind::Configuration,
            RefreshFailure::Transient if error.is_malformed_token() => {
                TokenErrorKind::Configuration
            }
            RefreshFailure::Transient if error.is_transient() || code.is_some() => {
                TokenErrorKind::Transient
            }
            RefreshFailure::Transient => TokenErrorKind::InvalidResponse,
        };
        Self {
            kind,
            code,
            retry_after: None,
            source: Some(Box::new(error)),
        }
    }

    /// The OAuth error code the token endpoint sent, if any; `unsendable_token` for a token
    /// this library cannot send ([`UnsendableToken`]), which no server sends.
    pub fn error_code(&self) -> Option<&ErrorCode> {
        self.code.as_ref()
    }

    pub(super) fn failure(&self) -> RefreshFailure {
        match self.kind {
            TokenErrorKind::Reauthorize => RefreshFailure::InvalidGrant,
            TokenErrorKind::Configuration => RefreshFailure::ClientMisconfigured(
                self.code.clone().unwrap_or(ErrorCode::InvalidClient),
            ),
            _ => RefreshFailure::Transient,
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> TokenErrorKind {
        self.kind
    }

    /// Whether the failure ends the grant: no further refresh will be tried (for a
    /// client-credentials source, none before [`RefreshPolicy::max_backoff`](oauth_core::oauth2::RefreshPolicy::max_backoff) has passed).
    pub fn is_terminal(&self) -> bool {
        matches!(
            self.kind,
            TokenErrorKind::Reauthorize | TokenErrorKind::Configuration
        )
    }
}

/// `error`'s causes, for a log line. (No error of this crate or a store holds a token; a
/// server's `error_description` is shown truncated and escaped.)
pub(super) fn causes(error: &dyn std::error::Error) -> String {
    let mut text = String::new();
    let mut previous = String::new();
    let mut next = error.source();
    while let Some(cause) = next {
        let said = cause.to_string();
        // (A cause the one before it already quoted, as the grant client's "unreachable:
        // <innermost cause>" does, is said once.)
        if !previous.contains(&said) {
            if !text.is_empty() {
                text.push_str(": ");
            }
            text.push_str(&said);
        }
        previous = said;
        next = cause.source();
    }
    text
}

pub(super) fn no_token() -> Arc<TokenError> {
    Arc::new(TokenError::new(TokenErrorKind::NoToken, None))
}

pub(super) fn transient() -> Arc<TokenError> {
    Arc::new(TokenError::new(TokenErrorKind::Transient, None))
}

/// The token in use (given to the source, or read from its store) cannot be sent: no
/// `Authorization` header can hold it.
pub(super) fn unusable() -> Arc<TokenError> {
    Arc::new(TokenError::new(
        TokenErrorKind::InvalidResponse,
        Some(Box::new(TokenInUseUnsendable)),
    ))
}

/// Why [`unusable`] has no token to give: the one in use came from the application or the
/// store, not from the token endpoint, so the endpoint is not the one to blame.
#[derive(Debug, thiserror::Error)]
#[error(
    "no Authorization header can hold it (a token given to the source, or read from its store)"
)]
struct TokenInUseUnsendable;

/// The token endpoint issued a token this library cannot send (an unknown token type, a DPoP
/// token to a source with no DPoP key, or an access token that no header can hold). The token
/// in use is kept; this one is neither used nor stored, but stays reachable here (the server
/// may have rotated the refresh token into it): downcast the [`TokenError`]'s source.
#[derive(Debug, thiserror::Error)]
#[error("the token endpoint issued a token that cannot be sent")]
pub struct UnsendableToken {
    pub(super) token: Token,
    #[source]
    pub(super) source: oauth_core::oauth2::TokenUseError,
}

impl UnsendableToken {
    /// The token as issued.
    pub fn token(&self) -> &Token {
        &self.token
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::{HeaderMap, HeaderValue, StatusCode, header::CONTENT_TYPE};
    use oauth_core::oauth2::{Compliance, parse_token_response};

    /// The token endpoint's answer `body` (with `content_type`) at `status`, as the error
    /// a token source acts on.
    fn classify(status: u16, content_type: &'static str, body: &str) -> TokenError {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
        let error = parse_token_response(
            StatusCode::from_u16(status).unwrap(),
            &headers,
            body.as_bytes(),
            std::time::SystemTime::UNIX_EPOCH,
            &Compliance::default(),
        )
        .expect_err("not a token");
        TokenError::from_response(error)
    }

    const JSON: &str = "application/json";
    const HTML: &str = "text/html";

    /// `from_response` as documented: `invalid_grant` is Reauthorize (RFC 6749 §5.2); the
    /// client errors are Configuration, with their code; `temporarily_unavailable` is
    /// Transient; so is any other OAuth error code, with its code, even at 400 (here
    /// `access_denied`, defined for the authorization response, §4.1.2.1, not for the token
    /// endpoint): the old token is kept and the source backs off; a 5xx, 408 or 429 page is
    /// Transient; a 200 that is JSON but not a token is Configuration too, but says the server's
    /// answers are at fault, not the client's configuration; a 200 or 404 that is not a token
    /// response at all is InvalidResponse.
    #[test]
    fn token_endpoint_failures_are_classified_as_documented() {
        let oauth = |status, code: &str| {
            let error = classify(status, JSON, &format!(r#"{{"error":"{code}"}}"#));
            (
                error.kind(),
                error.error_code().map(ErrorCode::as_str).map(str::to_owned),
            )
        };
        let coded = |kind, code: &str| (kind, Some(code.to_owned()));
        assert_eq!(
            oauth(400, "invalid_grant"),
            coded(TokenErrorKind::Reauthorize, "invalid_grant")
        );
        for code in ["invalid_client", "unauthorized_client", "invalid_scope"] {
            assert_eq!(oauth(400, code), coded(TokenErrorKind::Configuration, code));
            assert_eq!(
                classify(400, JSON, &format!(r#"{{"error":"{code}"}}"#)).to_string(),
                format!(
                    "the client's configuration does not work with the authorization server ({code})"
                )
            );
        }
        assert_eq!(
            oauth(503, "temporarily_unavailable"),
            coded(TokenErrorKind::Transient, "temporarily_unavailable")
        );
        assert_eq!(
            oauth(400, "access_denied"),
            coded(TokenErrorKind::Transient, "access_denied")
        );

        let down = classify(503, HTML, "<html>down for maintenance</html>");
        assert_eq!(
            (down.kind(), down.error_code()),
            (TokenErrorKind::Transient, None)
        );
        let page = classify(200, HTML, "<html>sign in</html>");
        assert_eq!(
            (page.kind(), page.error_code()),
            (TokenErrorKind::InvalidResponse, None)
        );
        // A page at 408 or 429 is Transient too; at any other status, InvalidResponse.
        for status in [408, 429] {
            assert_eq!(
                classify(status, HTML, "<html>slow down</html>").kind(),
                TokenErrorKind::Transient
            );
        }
        let not_found = classify(404, HTML, "<html>not found</html>");
        assert_eq!(not_found.kind(), TokenErrorKind::InvalidResponse);
        let malformed = classify(200, JSON, r#"{"access_token":"SENTINEL-at"}"#);
        assert_eq!(malformed.kind(), TokenErrorKind::Configuration);
        let text = malformed.to_string();
        assert!(
            text.starts_with("the token endpoint's responses are not valid tokens"),
            "{text}"
        );
        assert!(!text.contains("SENTINEL"), "{text}");
    }
}
