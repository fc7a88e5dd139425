//! Token requests over the examples' HTTP client.
//!
//! oauth-core builds every token request as an `http::Request<Vec<u8>>` and parses every
//! response; [`Grants`] only carries the bytes between them, and [`Grants::refresher`] turns the
//! refresh grant into a [`TokenFetcher`] for `tower_oauth2::TokenSource`.
//!
//! This is a stand-in for `tower_oauth2`'s `GrantClient`, which was not published yet when these
//! examples were written; it does the same exchange (no redirects, bounded body, compliance
//! hooks on both sides).

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http_body_util::Full;
use oauth_core::oauth2::{
    Client, Compliance, Endpoint, GrantError, RefreshFailure, Token, TokenRequest,
    TokenResponseError, parse_token_response,
};
use oauth_core::secret::RefreshToken;
use tower_oauth2::source::{FetchFuture, TokenFetcher};
use tower_oauth2::{TokenError, TokenErrorKind};

use crate::http::{HttpClient, collect};

/// The longest a token exchange may take.
pub const TOKEN_TIMEOUT: Duration = Duration::from_secs(10);

/// Why a token request produced no token. Its `Display` holds no secret and no response body.
#[derive(Debug)]
#[non_exhaustive]
pub enum GrantFailure {
    /// The request could not be built.
    Build(GrantError),
    /// The request could not be sent, or the response not read, in time.
    Transport(crate::Error),
    /// The response is an error or not a usable token.
    Response(TokenResponseError),
}

impl fmt::Display for GrantFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Build(e) => write!(f, "token request: {e}"),
            Self::Transport(e) => write!(f, "token endpoint unreachable: {e}"),
            Self::Response(e) => write!(f, "token response: {e}"),
        }
    }
}

impl std::error::Error for GrantFailure {}

impl GrantFailure {
    /// The matching `tower_oauth2` error, for a [`TokenFetcher`].
    pub fn into_token_error(self) -> TokenError {
        let kind = match &self {
            Self::Build(_) => TokenErrorKind::Configuration,
            Self::Transport(_) => TokenErrorKind::Transient,
            Self::Response(e) => match RefreshFailure::from_response_error(e) {
                RefreshFailure::InvalidGrant => TokenErrorKind::Reauthorize,
                RefreshFailure::ClientMisconfigured(_) => TokenErrorKind::Configuration,
                RefreshFailure::Transient if e.oauth_error().is_none() && !e.is_transient() => {
                    TokenErrorKind::InvalidResponse
                }
                _ => TokenErrorKind::Transient,
            },
        };
        TokenError::new(kind, Some(Box::new(self)))
    }
}

/// One client of one token endpoint: sends token requests and parses the answers.
#[derive(Clone)]
pub struct Grants {
    http: HttpClient,
    token_endpoint: Endpoint,
    client: Client,
    compliance: Arc<Compliance>,
}

impl fmt::Debug for Grants {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Grants")
            .field("token_endpoint", &self.token_endpoint)
            .field("client", &self.client)
            .finish_non_exhaustive()
    }
}

impl Grants {
    /// Token requests for `client` at `token_endpoint`, strict RFC 6749 parsing.
    pub fn new(http: HttpClient, token_endpoint: Endpoint, client: Client) -> Self {
        Self {
            http,
            token_endpoint,
            client,
            compliance: Arc::new(Compliance::strict()),
        }
    }

    /// Uses a provider's compliance profile (`Compliance::github()`, ...).
    pub fn compliance(mut self, compliance: Compliance) -> Self {
        self.compliance = Arc::new(compliance);
        self
    }

    /// The token endpoint.
    pub fn endpoint(&self) -> &Endpoint {
        &self.token_endpoint
    }

    /// The client and its authentication method.
    pub fn client(&self) -> &Client {
        &self.client
    }

    /// Builds `request`, sends it, and parses the response.
    pub async fn send(&self, request: TokenRequest) -> Result<Token, GrantFailure> {
        let mut request = request.build().map_err(GrantFailure::Build)?;
        self.compliance.adjust_token_request(&mut request);
        let request = request.map(|body| Full::new(Bytes::from(body)));
        let exchange = async {
            let response = self.http.request(request).await?;
            collect(response).await
        };
        let response = tokio::time::timeout(TOKEN_TIMEOUT, exchange)
            .await
            .map_err(|_| GrantFailure::Transport("timed out".into()))?
            .map_err(GrantFailure::Transport)?;
        parse_token_response(
            response.status,
            &response.headers,
            &response.body,
            SystemTime::now(),
            &self.compliance,
        )
        .map_err(GrantFailure::Response)
    }

    /// The refresh token grant (RFC 6749 §6).
    pub async fn refresh(&self, refresh_token: &RefreshToken) -> Result<Token, GrantFailure> {
        self.send(TokenRequest::refresh_token(
            &self.token_endpoint,
            &self.client,
            refresh_token,
        ))
        .await
    }

    /// The client credentials grant (RFC 6749 §4.4).
    pub async fn client_credentials(&self) -> Result<Token, GrantFailure> {
        self.send(TokenRequest::client_credentials(
            &self.token_endpoint,
            &self.client,
        ))
        .await
    }

    /// A [`TokenFetcher`] that renews the current token with its refresh token.
    pub fn refresher(&self) -> impl TokenFetcher + use<> {
        Refresher(self.clone())
    }

    /// A [`TokenFetcher`] that fetches a new client-credentials token each time.
    pub fn client_credentials_fetcher(&self) -> impl TokenFetcher + use<> {
        ClientCredentialsFetcher(self.clone())
    }
}

struct Refresher(Grants);

impl TokenFetcher for Refresher {
    fn fetch(&self, current: Option<&Token>) -> FetchFuture {
        let grants = self.0.clone();
        let refresh_token = current.and_then(|t| t.refresh_token()).cloned();
        Box::pin(async move {
            let refresh_token =
                refresh_token.ok_or_else(|| TokenError::new(TokenErrorKind::Reauthorize, None))?;
            grants
                .refresh(&refresh_token)
                .await
                .map_err(GrantFailure::into_token_error)
        })
    }
}

struct ClientCredentialsFetcher(Grants);

impl TokenFetcher for ClientCredentialsFetcher {
    fn fetch(&self, _current: Option<&Token>) -> FetchFuture {
        let grants = self.0.clone();
        Box::pin(async move {
            grants
                .client_credentials()
                .await
                .map_err(GrantFailure::into_token_error)
        })
    }
}
