//! The demo provider's endpoints as oauth-core types, and the authorization code flow driven
//! end to end with the simulated user.

use oauth_core::clock::SystemRandom;
use oauth_core::oauth2::{
    AuthorizationRequest, Client, Endpoint, Issuer, RedirectUri, Scope, Token, Transport,
};
use tower_oauth2::GrantClient;

use crate::Result;
use crate::http::{HttpClient, consent};
use crate::provider::DemoProvider;
use crate::transcript::redact_url;

/// The redirect URI the examples register: a loopback URL nobody listens on (the simulated user
/// hands the redirect to the example instead of a browser following it).
pub const DEMO_REDIRECT_URI: &str = "http://127.0.0.1/callback";

/// The demo provider's OAuth 2 endpoints, loopback `http` explicitly allowed.
#[derive(Debug, Clone)]
pub struct DemoEndpoints {
    /// `GET /oauth2/authorize`.
    pub authorize: Endpoint,
    /// `POST /oauth2/token`.
    pub token: Endpoint,
    /// The issuer identifier (RFC 9207 `iss`).
    pub issuer: Issuer,
    /// The redirect URI.
    pub redirect_uri: RedirectUri,
    /// The API origin (`http://127.0.0.1:PORT`).
    pub api_origin: String,
    /// `GET /api/me`.
    pub me: String,
}

impl DemoEndpoints {
    /// The endpoints of `provider`.
    pub fn of(provider: &DemoProvider) -> Result<Self> {
        let loopback = Transport::AllowLoopbackHttp;
        Ok(Self {
            authorize: Endpoint::with_transport(&provider.url("/oauth2/authorize"), loopback)?,
            token: Endpoint::with_transport(&provider.url("/oauth2/token"), loopback)?,
            issuer: Issuer::with_transport(provider.base_url(), loopback)?,
            redirect_uri: RedirectUri::with_transport(DEMO_REDIRECT_URI, loopback)?,
            api_origin: provider.base_url().to_owned(),
            me: provider.url("/api/me"),
        })
    }
}

/// Runs the authorization code flow with state, PKCE and `iss` against the demo provider for
/// `client`, with the simulated user approving, and returns the token. With `verbose`, prints
/// each step (URLs redacted).
pub async fn demo_login(
    http: &HttpClient,
    endpoints: &DemoEndpoints,
    client: &Client,
    scope: &str,
    verbose: bool,
) -> Result<Token> {
    let (url, pending) =
        AuthorizationRequest::new(&endpoints.authorize, client.id(), &endpoints.redirect_uri)
            .scope(Scope::parse(scope))
            // true: this server sends `iss` in callbacks (its metadata says
            // authorization_response_iss_parameter_supported); pass false for one that does not.
            .expect_issuer(endpoints.issuer.clone(), true)
            .build(&SystemRandom::new())?;
    if verbose {
        println!("       authorization URL: {}", redact_url(&url.to_string()));
    }
    let location = consent(http, &url.to_string()).await?;
    if verbose {
        println!("       redirected to:     {}", redact_url(&location));
    }
    let exchange = pending.parse_callback(&location)?;
    let grants = GrantClient::new(http.clone(), endpoints.token.clone(), client.clone());
    Ok(grants.exchange_code(exchange).await?)
}
