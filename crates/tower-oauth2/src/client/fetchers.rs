//! [`TokenFetcher`]s over a [`GrantClient`]: a user's refresh and a service's client credentials.

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use http_body_util::Full;
use oauth_core::oauth2::dpop::DpopKeyMismatch;
use oauth_core::oauth2::{DpopKey, IssuedTo, Scope, Token, TokenRequest};
use tower::BoxError;
use tower_service::Service;

use super::{GrantClient, GrantClientError, for_resources, with_scope};
use crate::clock::TokenClock;
use crate::source::{FetchFuture, TokenError, TokenErrorKind, TokenFetcher};

/// Refreshes a user's token with its refresh token; see [`GrantClient::refresh_fetcher`].
#[derive(Clone, Debug)]
pub struct RefreshFetcher<S> {
    pub(super) grants: GrantClient<S>,
    pub(super) scope: Option<Scope>,
    pub(super) resources: Vec<String>,
    pub(super) params: Vec<(String, String)>,
}

impl<S> RefreshFetcher<S> {
    /// Asks for `scope` (a subset of the original) on every refresh.
    #[must_use]
    pub fn scope(mut self, scope: Scope) -> Self {
        self.scope = Some(scope);
        self
    }

    /// Asks on every refresh for a token meant for `resource` (RFC 8707 §2: the API's
    /// absolute URI, with no fragment), so the server can narrow the token's audience (RFC
    /// 9700 §2.3); call again for more than one. A `resource` that is not an absolute URI, or
    /// has a fragment, makes every refresh fail with
    /// [`TokenErrorKind::Configuration`](crate::TokenErrorKind::Configuration) before anything
    /// is sent (its source is a [`GrantClientError`] of kind `Request`, whose source is
    /// [`GrantError::InvalidResource`](oauth_core::oauth2::GrantError::InvalidResource)).
    #[must_use]
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resources.push(resource.into());
        self
    }
    /// Adds an extension parameter to every refresh request (a provider's own, such as
    /// Auth0's `audience`); call again for more. Not for credentials: the fetcher's `Debug`
    /// shows it. A name the request sets itself (`grant_type`, `refresh_token`, `scope`,
    /// `client_id`, ...) makes every refresh fail with
    /// [`TokenErrorKind::Configuration`](crate::TokenErrorKind::Configuration) before anything
    /// is sent ([`GrantError::ReservedParameter`](oauth_core::oauth2::GrantError::ReservedParameter)).
    #[must_use]
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push((name.into(), value.into()));
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
        let resources = self.resources.clone();
        let params = self.params.clone();
        let refresh_token = current.and_then(|t| t.refresh_token()).cloned();
        // RFC 9449 §5: a bound refresh token is used with its own key, never another.
        let binding = match (current.and_then(Token::dpop_jkt), grants.dpop_key()) {
            (Some(_), None) => Err(DpopKeyMismatch::new()),
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
            let request =
                TokenRequest::refresh_token(&grants.endpoint, &grants.client, &refresh_token);
            grants
                .send(with_params(
                    for_resources(with_scope(request, scope.as_ref()), &resources),
                    params,
                ))
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

/// `request` with the extension parameters `params`, in order.
fn with_params(request: TokenRequest, params: Vec<(String, String)>) -> TokenRequest {
    params
        .into_iter()
        .fold(request, |request, (name, value)| request.param(name, value))
}

/// A token recorded as issued by another token endpoint, or to another client, than the one
/// asked to refresh it: its refresh token was not sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "the token was issued by another token endpoint or to another client (a token store shared by two configurations?); its refresh token was not sent: authorize again"
)]
#[non_exhaustive]
pub struct IssuedElsewhere;

/// Requests new client-credentials tokens; see [`GrantClient::client_credentials_fetcher`].
#[derive(Clone, Debug)]
pub struct ClientCredentialsFetcher<S> {
    pub(super) grants: GrantClient<S>,
    pub(super) scope: Option<Scope>,
    pub(super) resources: Vec<String>,
    pub(super) params: Vec<(String, String)>,
}

impl<S> ClientCredentialsFetcher<S> {
    /// Asks for every new token to be meant for `resource` (RFC 8707 §2: the API's absolute
    /// URI, with no fragment), so the server can narrow the token's audience (RFC 9700 §2.3);
    /// call again for more than one. A `resource` that is not an absolute URI, or has a
    /// fragment, makes every fetch fail with
    /// [`TokenErrorKind::Configuration`](crate::TokenErrorKind::Configuration) before anything
    /// is sent (its source is a [`GrantClientError`] of kind `Request`, whose source is
    /// [`GrantError::InvalidResource`](oauth_core::oauth2::GrantError::InvalidResource)).
    #[must_use]
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resources.push(resource.into());
        self
    }
    /// Adds an extension parameter to every token request, such as Auth0's `audience` (the
    /// API the token is for: Auth0 refuses a client-credentials request without it); call
    /// again for more. Not for credentials: the fetcher's `Debug` shows it. A name the request
    /// sets itself (`grant_type`, `scope`, `client_id`, ...) makes every fetch fail with
    /// [`TokenErrorKind::Configuration`](crate::TokenErrorKind::Configuration) before anything
    /// is sent ([`GrantError::ReservedParameter`](oauth_core::oauth2::GrantError::ReservedParameter)).
    ///
    /// ```
    /// use oauth_core::oauth2::{Client, Endpoint};
    /// use oauth_core::secret::ClientSecret;
    /// use tower_oauth2::{GrantClient, TokenSource};
    /// # async fn demo(http: impl tower::Service<http::Request<http_body_util::Full<bytes::Bytes>>, Response = http::Response<http_body_util::Full<bytes::Bytes>>, Error = std::io::Error, Future = impl Send> + Clone + Send + Sync + 'static) -> Result<(), Box<dyn std::error::Error>> {
    ///
    /// let grants = GrantClient::new(
    ///     http,
    ///     Endpoint::new("https://example.eu.auth0.com/oauth/token")?,
    ///     Client::secret_post("billing-worker", ClientSecret::new("...")),
    /// );
    /// let source = TokenSource::builder()
    ///     .fetcher(
    ///         grants
    ///             .client_credentials_fetcher(None)
    ///             .param("audience", "https://api.example.com/"),
    ///     )
    ///     .build()
    ///     .await?;
    /// # let _ = source; Ok(()) }
    /// ```
    #[must_use]
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.params.push((name.into(), value.into()));
        self
    }
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
        let resources = self.resources.clone();
        let params = self.params.clone();
        Box::pin(async move {
            let request = TokenRequest::client_credentials(&grants.endpoint, &grants.client);
            grants
                .send(with_params(
                    for_resources(with_scope(request, scope.as_ref()), &resources),
                    params,
                ))
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
