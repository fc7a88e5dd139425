//! Errors of the three-legged dance.

use std::fmt;

use http::StatusCode;

use crate::BoxError;

/// The longest `oauth_problem` value kept from a provider response; longer values are dropped.
const MAX_PROBLEM_LEN: usize = 64;

/// A provider answered a dance request with an error status (RFC 5849 §2, and the OAuth Problem
/// Reporting extension's `oauth_problem`).
///
/// Carries the status and, when the provider sent one in a form body or a
/// `WWW-Authenticate: OAuth` header, the `oauth_problem` value (for example `timestamp_refused`
/// or `nonce_used`). Never the response body itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProviderError {
    status: StatusCode,
    problem: Option<String>,
}

impl ProviderError {
    pub(crate) fn new(status: StatusCode, problem: Option<String>) -> Self {
        Self { status, problem }
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
        write!(f, "the provider rejected the request with {}", self.status)?;
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
    /// The callback's `oauth_token` is not the pending temporary token: a callback for another
    /// authorization (possible CSRF), rejected.
    #[error("the callback's oauth_token does not match the pending authorization")]
    TokenMismatch,
    /// The callback has no `oauth_verifier` (RFC 5849 §2.2: required for OAuth 1.0a).
    #[error("the callback has no oauth_verifier")]
    MissingVerifier,
    /// The resource owner denied the authorization (`denied=...`, or
    /// `oauth_problem=user_refused` / `permission_denied`).
    #[error("the resource owner denied the authorization")]
    Denied,
    /// The provider reported a problem in the callback (`oauth_problem`).
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
