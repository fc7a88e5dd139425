//! The OAuth 2 scenarios both authorization servers run (npm `oidc-provider` in
//! `tests/oauth2_interop.rs`, Python oauthlib in `tests/oauthlib_oauth2_interop.rs`), written
//! once over [`Server`]. Each test calls its scenario, then makes the assertions only its own
//! server warrants. The scenarios are in [`flows`] (grants and front channels) and
//! [`tokens`] (refresh, revocation, introspection, discovery); this module holds what they share.

mod flows;
mod tokens;

// Unused in the test binaries that include `common` but run no scenario.
#[allow(unused_imports)]
pub use flows::*;
#[allow(unused_imports)]
pub use tokens::*;

use http::StatusCode;
use oauth_core::oauth2::{Client, CodeExchange, Scope, Token};
use oauth_core::secret::ClientSecret;
use serde_json::Value;
use tower_oauth2::{ErrorKind, GrantClient, TokenErrorKind, TokenSource};

use super::api::{
    Api, CALL_TIMEOUT, Counter, Http, Server, call, http, loopback_endpoint, stat, stats,
};

/// `counter` in `server`'s `/test/stats` (absent means zero).
pub async fn count<S: Server>(server: &S, counter: Counter) -> u64 {
    stat(&stats(server).await, S::counter(counter))
}

/// Asserts each of `expected` against `server`'s `/test/stats`.
pub async fn assert_counts<S: Server>(server: &S, expected: &[(Counter, u64)]) {
    let stats = stats(server).await;
    for (counter, value) in expected {
        assert_eq!(
            stat(&stats, S::counter(*counter)),
            *value,
            "{counter:?}: {stats}"
        );
    }
}

/// The `client_secret_basic` client.
pub fn basic_client<S: Server>() -> Client {
    let (id, secret) = S::BASIC_CLIENT;
    Client::secret_basic(id, ClientSecret::new(secret))
}

/// The `client_secret_post` client.
pub fn post_client<S: Server>() -> Client {
    let (id, secret) = S::POST_CLIENT;
    Client::secret_post(id, ClientSecret::new(secret))
}

/// The `client_secret_basic` client whose secret needs form-encoding.
pub fn special_client<S: Server>() -> Client {
    let (id, secret) = S::SPECIAL_CLIENT;
    Client::secret_basic(id, ClientSecret::new(secret))
}

/// A grant client for the server's token endpoint over its own hyper client (never the API's:
/// no token layer on the token endpoint).
pub fn grants<S: Server>(server: &S, client: Client) -> GrantClient<Http> {
    GrantClient::new(http(), loopback_endpoint(&server.token_endpoint()), client)
        .timeout(CALL_TIMEOUT)
}

/// A call to the protected resource that must succeed with 200; returns its JSON.
pub async fn resource_ok<S: Server>(server: &S, api: &Api) -> Value {
    let (status, body) = call(api, &server.resource_url())
        .await
        .expect("call failed");
    assert_eq!(status, StatusCode::OK, "{body}");
    body
}

/// The front channel of the code flow for `client_id` to `redirect_uri` (scope
/// [`Server::USER_SCOPE`], state, PKCE S256): the server's answer, and the callback checked.
pub async fn authorize<S: Server>(server: &S, client_id: &str, redirect_uri: &str) -> CodeExchange {
    let (url, pending) = server.authorization_url(client_id, redirect_uri).await;
    assert!(url.contains("code_challenge_method=S256"), "{url}");
    let callback = server.front_channel(&url, redirect_uri).await;
    pending.parse_callback(&callback).unwrap()
}

/// The whole code flow for the basic client: a token with a refresh token.
pub async fn user_token<S: Server>(server: &S) -> Token {
    let (client_id, _) = S::BASIC_CLIENT;
    let exchange = authorize(server, client_id, S::redirect_uri(client_id)).await;
    let token = grants(server, basic_client::<S>())
        .exchange_code(exchange)
        .await
        .unwrap();
    assert!(token.refresh_token().is_some());
    token
}

/// A token source holding `token` that refreshes with the basic client.
pub async fn refreshing_source<S: Server>(server: &S, token: Token) -> TokenSource {
    TokenSource::builder()
        .token(token)
        .fetcher(grants(server, basic_client::<S>()).refresh_fetcher())
        .build()
        .await
        .unwrap()
}

/// Asserts that a call through the layer failed before any request, for want of a token, and
/// that the token source's error is `kind`.
pub async fn assert_no_token<S: Server>(server: &S, api: &Api, kind: TokenErrorKind) {
    let error = call(api, &server.resource_url()).await.unwrap_err();
    let error = error.downcast_ref::<tower_oauth2::Error>().unwrap();
    assert_eq!(error.kind(), ErrorKind::NoToken);
    assert_eq!(error.token_error().unwrap().kind(), kind);
}

/// Asserts that `token`'s scope holds each scope in [`Server::USER_SCOPE`].
fn assert_user_scopes<S: Server>(scope: Option<&Scope>) {
    let scope = scope.expect("scope");
    for asked in S::USER_SCOPE.split(' ') {
        assert!(scope.contains(asked), "{asked} in {scope}");
    }
}
