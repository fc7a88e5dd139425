//! Errors of the three-legged dance.

use std::fmt;
use std::time::Duration;

use http::StatusCode;

use crate::BoxError;

/// The longest `oauth_problem` value kept from a provider response; longer values are dropped.
const MAX_PROBLEM_LEN: usize = 64;

/// A provider answered a dance request with an error status, or with an `oauth_problem` and no
/// credentials (RFC 5849 §2, and the OAuth Problem Reporting extension's `oauth_problem`).
///
/// Carries the status and, when the provider sent one in a form body or a
/// `WWW-Authenticate: OAuth` header, the `oauth_problem` value (for example `timestamp_refused`
/// or `nonce_used`). Never the response body itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderError {
    status: StatusCode,
    problem: Option<String>,
    retry_after: Option<Duration>,
}

impl ProviderError {
    pub(crate) fn new(
        status: StatusCode,
        problem: Option<String>,
        retry_after: Option<Duration>,
    ) -> Self {
        Self {
            status,
            problem,
            retry_after,
        }
    }

    /// How long the provider asked the client to wait before trying again (its
    /// `Retry-After`, usually with a 429 or a 503), at most an hour.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// Whether trying the same step again later may succeed: the provider was overloaded or
    /// unavailable (429, 502, 503, 504). A temporary credentials request can be retried; a
    /// token credentials request only while the temporary credentials are unspent.
    pub fn is_transient(&self) -> bool {
        matches!(self.status.as_u16(), 429 | 502 | 503 | 504)
    }

    /// The HTTP status of the response.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The `oauth_problem` the provider reported, if any.
    pub fn problem(&self) -> Option<&str> {
        self.problem.as_deref()
    }
}

impl fmt::Display for ProviderError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.status.is_redirection() {
            // (The client given to the dance should not follow redirects: a step's answer
            // comes from the endpoint it was sent to, or not at all.)
            write!(
                f,
                "the provider answered with a redirect ({}), which the dance does not follow",
                self.status
            )?;
        } else {
            write!(f, "the provider rejected the request with {}", self.status)?;
        }
        if let Some(problem) = &self.problem {
            write!(f, " (oauth_problem={problem})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ProviderError {}

/// Keeps an `oauth_problem` only if it is a short token of safe characters, so that an error
/// never repeats arbitrary response content.
pub(crate) fn sanitize_problem(value: &str) -> Option<String> {
    let ok = !value.is_empty()
        && value.len() <= MAX_PROBLEM_LEN
        && value
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b));
    ok.then(|| value.to_owned())
}

/// Why the authorization callback cannot be used (RFC 5849 §2.2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallbackError {
    /// The callback has no `oauth_token`.
    #[error("the callback has no oauth_token")]
    MissingToken,
    /// The callback names another temporary token than the pending one (in `oauth_token`, or
    /// in `denied=<token>`), or the pending token is empty: a callback for another
    /// authorization (possible CSRF), rejected whatever else it says.
    #[error("the callback's oauth_token does not match the pending authorization")]
    TokenMismatch,
    /// The callback has no `oauth_verifier` (RFC 5849 §2.2: required for OAuth 1.0a).
    #[error("the callback has no oauth_verifier")]
    MissingVerifier,
    /// The resource owner denied the authorization (`denied=<the pending token>`, or
    /// `oauth_problem=user_refused` / `permission_denied` with the pending `oauth_token`).
    #[error("the resource owner denied the authorization")]
    Denied,
    /// The callback reports a denial or a problem (`denied`, `oauth_problem`) but names no
    /// temporary token, so it cannot be told from a forged link that anyone could open. Tell
    /// the user, but keep the pending authorization: the real callback may still come.
    #[error("the callback reports a denial or problem without naming the pending authorization")]
    UnboundDenial,
    /// The provider reported a problem in the callback (`oauth_problem`, with the pending
    /// `oauth_token`).
    #[error("the provider reported a problem in the callback: {problem}")]
    Problem {
        /// The `oauth_problem` value (only short tokens of `[A-Za-z0-9_.-]` are kept).
        problem: String,
    },
    /// A parameter appears twice, or the query is not valid percent-encoded UTF-8.
    #[error("the callback query is malformed")]
    Malformed,
}

/// Why a dance step failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DanceError {
    /// The HTTP client (the tower service) failed.
    #[error("the HTTP client failed")]
    Transport(#[source] BoxError),
    /// The provider answered with an error status.
    #[error(transparent)]
    Provider(#[from] ProviderError),
    /// The temporary-credentials response lacks `oauth_callback_confirmed=true` (RFC 5849 §2.1; the
    /// OAuth 1.0a session-fixation fix).
    #[error("the provider did not confirm the callback (oauth_callback_confirmed=true missing)")]
    CallbackNotConfirmed,
    /// A successful response is missing a field or is not a valid form body. Names the problem,
    /// never the body.
    #[error("malformed provider response: {reason}")]
    MalformedResponse {
        /// What is wrong.
        reason: &'static str,
    },
    /// The provider's response body is larger than the configured limit.
    #[error("the provider's response exceeds the {limit}-byte limit")]
    ResponseTooLarge {
        /// The limit, in bytes.
        limit: usize,
    },
    /// Reading the provider's response body failed.
    #[error("reading the provider's response failed")]
    ResponseBody(#[source] BoxError),
    /// The authorization callback cannot be used.
    #[error(transparent)]
    Callback(#[from] CallbackError),
    /// Signing the dance request failed.
    #[error("signing the dance request failed")]
    Sign(#[source] BoxError),
    /// An endpoint URI or a dance request cannot be built.
    #[error("invalid dance request: {reason}")]
    InvalidRequest {
        /// What is wrong.
        reason: &'static str,
    },
    /// An endpoint is not `https` (the token secrets come back in the response): plain `http`
    /// only to a loopback host, with [`Dance::dangerous_allow_http_loopback`](super::Dance::dangerous_allow_http_loopback).
    #[error(
        "the dance endpoint is not https (plain http only to a loopback host, with Dance::dangerous_allow_http_loopback)"
    )]
    InsecureTransport,
    /// The provider did not answer in time (see [`Dance::timeout`](super::Dance::timeout)).
    #[error("the provider did not answer within {after:?}")]
    Timeout {
        /// The bound that passed.
        after: std::time::Duration,
    },
    /// The tokio runtime has no timers, so [`Dance::timeout`](super::Dance::timeout) cannot be
    /// kept: build it with `enable_time()`, or set `Dance::timeout(None)` and bound the client.
    #[error(
        "the tokio runtime has no timers for the dance's timeout: build it with enable_time(), or set Dance::timeout(None)"
    )]
    NoTimer,
}
