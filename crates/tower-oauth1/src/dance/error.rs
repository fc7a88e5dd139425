//! Errors of the three-legged dance.

use oauth_core::oauth1::{AuthorizationUrlError, CredentialsResponseError};

use crate::BoxError;

// The provider's error and why a callback cannot be used are pure parse errors: defined in
// `oauth_core::oauth1`, re-exported at their `tower_oauth1::dance` paths.
pub use oauth_core::oauth1::{CallbackError, NotCredentials, ProviderError};

/// Why a dance step failed.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DanceError {
    /// The HTTP client (the tower service) failed.
    #[error("the HTTP client failed")]
    Transport(#[source] BoxError),
    /// The provider refused the request: it answered with an error status, with a redirect
    /// (which the dance does not follow), or with a success whose body has an `oauth_problem`
    /// and no `oauth_token`. Its status and `oauth_problem`, never the body;
    /// [`ProviderError::is_transient`] says whether the step may succeed later.
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
    /// A successful response holds no `oauth_token` and is an HTML page (a login page, a
    /// proxy's error page served with 200) or JSON: names its `Content-Type`, never the body.
    #[error(transparent)]
    NotCredentials(NotCredentials),
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
    /// kept: build it with `enable_time()`, or call [`Dance::no_timeout`](super::Dance::no_timeout) and bound the client.
    #[error(
        "the tokio runtime has no timers for the dance's timeout: build it with enable_time(), or call Dance::no_timeout()"
    )]
    NoTimer,
}

impl From<CredentialsResponseError> for DanceError {
    fn from(error: CredentialsResponseError) -> Self {
        match error {
            CredentialsResponseError::Provider(error) => Self::Provider(error),
            CredentialsResponseError::Malformed { reason } => Self::MalformedResponse { reason },
            CredentialsResponseError::NotCredentials(error) => Self::NotCredentials(error),
            _ => Self::MalformedResponse {
                reason: "the response holds no credentials",
            },
        }
    }
}

impl From<AuthorizationUrlError> for DanceError {
    fn from(error: AuthorizationUrlError) -> Self {
        let reason = match error {
            AuthorizationUrlError::InsecureTransport => return Self::InsecureTransport,
            AuthorizationUrlError::Fragment => "the authorization endpoint has a fragment",
            AuthorizationUrlError::TokenAlreadyPresent => {
                "the authorization endpoint already has an oauth_token parameter"
            }
            AuthorizationUrlError::InvalidUri => "the authorization endpoint is not a valid URI",
            AuthorizationUrlError::EmptyToken => "the temporary credentials identifier is empty",
            _ => "the authorization endpoint cannot be used",
        };
        Self::InvalidRequest { reason }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The parse errors that moved to oauth-core are the same types at their old paths.
    #[test]
    fn moved_errors_keep_their_paths() {
        fn same<T>(_: Option<T>, _: Option<T>) {}
        same(
            None::<crate::dance::ProviderError>,
            None::<oauth_core::oauth1::ProviderError>,
        );
        same(
            None::<crate::dance::CallbackError>,
            None::<oauth_core::oauth1::CallbackError>,
        );
        let error = DanceError::from(AuthorizationUrlError::TokenAlreadyPresent);
        assert_eq!(
            error.to_string(),
            "invalid dance request: the authorization endpoint already has an oauth_token parameter"
        );
        assert!(matches!(
            DanceError::from(AuthorizationUrlError::InsecureTransport),
            DanceError::InsecureTransport
        ));
    }

    /// Each reason an authorization URL cannot be made is named in the dance's error as
    /// oauth-core names it; a non-https endpoint is the dance's `InsecureTransport`.
    #[test]
    fn authorization_url_errors_keep_their_reason() {
        for error in [
            AuthorizationUrlError::Fragment,
            AuthorizationUrlError::TokenAlreadyPresent,
            AuthorizationUrlError::InvalidUri,
            AuthorizationUrlError::EmptyToken,
        ] {
            let expected = format!("invalid dance request: {error}");
            let dance = DanceError::from(error);
            assert!(
                matches!(dance, DanceError::InvalidRequest { .. }),
                "{dance:?}"
            );
            assert_eq!(dance.to_string(), expected);
        }
    }

    /// A malformed credentials response keeps oauth-core's reason.
    #[test]
    fn a_malformed_response_keeps_its_reason() {
        let error = DanceError::from(CredentialsResponseError::Malformed {
            reason: "oauth_token is missing",
        });
        assert!(
            matches!(
                error,
                DanceError::MalformedResponse {
                    reason: "oauth_token is missing"
                }
            ),
            "{error:?}"
        );
    }
}
