//! [`TokenFetcher`]s over a [`GrantClient`]: a user's refresh and a service's client credentials.

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use http_body_util::Full;
use oauth_core::oauth2::dpop::DpopKeyMismatch;
use oauth_core::oauth2::{DpopKey, IssuedTo, Scope, Token};
use tower::BoxError;
use tower_service::Service;

use super::{GrantClient, GrantClientError};
use crate::clock::TokenClock;
use crate::source::{FetchFuture, TokenError, TokenErrorKind, TokenFetcher};

/// Refreshes a user's token with its refresh token; see [`GrantClient::refresh_fetcher`].
#[derive(Clone, Debug)]
pub struct RefreshFetcher<S> {
    pub(super) grants: GrantClient<S>,
    pub(super) scope: Option<Scope>,
}

impl<S> RefreshFetcher<S> {
    /// Asks for `scope` (a subset of the original) on every refresh.
    pub fn scope(mut self, scope: Scope) -> Self {
        self.scope = Some(scope);
        self
    }
}

impl<S, ResBody> TokenFetcher for RefreshFetcher<S>
where
    S: Service<Request<Full<Bytes>>, Response = Response<ResBody>> + Clone + Send + Sync + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send,
    ResBody: Body + Send + 'static,
    ResBody::Data: Send,
    ResBody::Error: Into<BoxError>,
{
    fn fetch(&self, current: Option<&Token>) -> FetchFuture {
        let grants = self.grants.clone();
        let scope = self.scope.clone();
        let refresh_token = current.and_then(|t| t.refresh_token()).cloned();
        // RFC 9449 §5: a bound refresh token is used with its own key, never another.
        let binding = match (current.and_then(Token::dpop_jkt), grants.dpop_key()) {
            (Some(_), None) => Err(DpopKeyMismatch),
            (Some(_), Some(key)) => current.map_or(Ok(()), |t| key.check_binding(t)),
            (None, _) => Ok(()),
        };
        // RFC 6749 §10.4: a refresh token goes back only to the server and client it was
        // issued to (a token file shared by two configurations would leak it otherwise).
        let issued_elsewhere = current.is_some_and(|t| t.issued_elsewhere(&grants.issued_to()));
        Box::pin(async move {
            if let Err(mismatch) = binding {
                return Err(TokenError::new(
                    TokenErrorKind::Configuration,
                    Some(Box::new(mismatch)),
                ));
            }
            if issued_elsewhere {
                return Err(TokenError::new(
                    TokenErrorKind::Reauthorize,
                    Some(Box::new(IssuedElsewhere)),
                ));
            }
            let Some(refresh_token) = refresh_token else {
                return Err(TokenError::new(TokenErrorKind::Reauthorize, None));
            };
            grants
                .refresh(&refresh_token, scope.as_ref())
                .await
                .map_err(GrantClientError::into_token_error)
        })
    }

    fn dpop_key(&self) -> Option<&DpopKey> {
        self.grants.dpop_key()
    }

    fn clock(&self) -> Option<TokenClock> {
        Some(self.grants.clock.clone())
    }

    fn issued_to(&self) -> Option<IssuedTo> {
        Some(self.grants.issued_to())
    }
}

/// A token recorded as issued by another token endpoint, or to another client, than the one
/// asked to refresh it: its refresh token was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "the token was issued by another token endpoint or to another client (a token store shared by two configurations?); its refresh token was not sent: authorize again"
)]
pub struct IssuedElsewhere;

/// Requests new client-credentials tokens; see [`GrantClient::client_credentials_fetcher`].
#[derive(Clone, Debug)]
pub struct ClientCredentialsFetcher<S> {
    pub(super) grants: GrantClient<S>,
    pub(super) scope: Option<Scope>,
}

impl<S, ResBody> TokenFetcher for ClientCredentialsFetcher<S>
where
    S: Service<Request<Full<Bytes>>, Response = Response<ResBody>> + Clone + Send + Sync + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send,
    ResBody: Body + Send + 'static,
    ResBody::Data: Send,
    ResBody::Error: Into<BoxError>,
{
    fn fetch(&self, _current: Option<&Token>) -> FetchFuture {
        let grants = self.grants.clone();
        let scope = self.scope.clone();
        Box::pin(async move {
            grants
                .client_credentials(scope.as_ref())
                .await
                .map_err(GrantClientError::into_token_error)
        })
    }

    fn fetches_new_tokens(&self) -> bool {
        true
    }

    fn dpop_key(&self) -> Option<&DpopKey> {
        self.grants.dpop_key()
    }

    fn clock(&self) -> Option<TokenClock> {
        Some(self.grants.clock.clone())
    }

    fn issued_to(&self) -> Option<IssuedTo> {
        Some(self.grants.issued_to())
    }
}
