//! The OAuth 2 scenarios both authorization servers run (npm `oidc-provider` in
//! `tests/oauth2_interop.rs`, Python oauthlib in `tests/oauthlib_oauth2_interop.rs`), written
//! once over [`Server`]. Each test calls its scenario, then makes the assertions only its own
//! server warrants.

use std::time::{Duration, SystemTime};

use http::StatusCode;
use oauth_core::oauth2::introspection::Introspection;
use oauth_core::oauth2::{
    AuthorizationServerMetadata, CallbackError, Client, CodeExchange, Endpoint, ErrorCode, Issuer,
    Scope, Token, Transport,
};
use oauth_core::secret::{AccessToken, ClientSecret};
use serde_json::Value;
use tower_oauth2::client::GrantClientErrorKind;
use tower_oauth2::{ErrorKind, GrantClient, TokenErrorKind, TokenSource};

use super::api::{
    Api, CALL_TIMEOUT, Counter, Http, Server, call, http, loopback_endpoint, stat, stats,
    through_layer,
};
use super::assert_oauth_error;

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

/// A callback whose state belongs to another flow (of the public client) is refused, and
/// nothing is sent to the token endpoint.
pub async fn a_callback_with_another_flows_state_is_refused<S: Server>(server: &S) {
    let client_id = S::PUBLIC_CLIENT_ID;
    let redirect_uri = S::redirect_uri(client_id);
    let (url_a, _pending_a) = server.authorization_url(client_id, redirect_uri).await;
    let (_url_b, pending_b) = server.authorization_url(client_id, redirect_uri).await;
    let callback_a = server.front_channel(&url_a, redirect_uri).await;
    assert_eq!(
        pending_b.parse_callback(&callback_a).unwrap_err(),
        CallbackError::StateMismatch
    );
    assert_counts(server, &[(Counter::TokenRequests, 0)]).await;
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

/// Client credentials for the basic, the post and the special-secret client (on a server
/// whose access tokens live `lifetime`): each source fetches one token (no refresh token,
/// the server's lifetime), reused for two calls the resource answers for that client and
/// scope. Then a wrong secret: the grant client's `invalid_client` is a configuration error,
/// not transient, and through the layer it is reported, not retried.
pub async fn client_credentials_open_the_resource<S: Server>(server: &S, lifetime: Duration) {
    let scope = S::CLIENT_CREDENTIALS_SCOPE;
    for client in [
        basic_client::<S>(),
        post_client::<S>(),
        special_client::<S>(),
    ] {
        let client_id = client.id().to_owned();
        let grants = grants(server, client);
        let source = TokenSource::builder()
            .fetcher(grants.client_credentials_fetcher(Some(Scope::parse(scope))))
            .build()
            .await
            .unwrap();
        let api = through_layer(server, source.clone());
        for _ in 0..2 {
            let me = resource_ok(server, &api).await;
            assert_eq!(me["client_id"], client_id.as_str());
            assert_eq!(me["scope"], scope);
            S::assert_client_credentials_caller(&me);
        }
        assert_eq!(source.fetch_count(), 1, "{client_id}: the token is reused");
        let token = source.current().unwrap();
        assert!(token.refresh_token().is_none(), "RFC 6749 §4.4.3");
        let expires_at = token.expires_at().unwrap();
        assert!(expires_at > SystemTime::now() + lifetime - Duration::from_secs(10));
    }
    assert_counts(
        server,
        &[
            (Counter::ClientCredentialsOk, 3),
            (Counter::TokenRequests, 3),
            (Counter::ResourceOk, 6),
        ],
    )
    .await;

    let (client_id, _) = S::BASIC_CLIENT;
    let wrong = grants(
        server,
        Client::secret_basic(client_id, ClientSecret::new("wrong")),
    );
    let error = wrong.client_credentials(None).await.unwrap_err();
    assert_eq!(error.kind(), GrantClientErrorKind::Response);
    assert_eq!(error.oauth_error().unwrap().code, ErrorCode::InvalidClient);
    assert!(!error.is_transient());
    assert_eq!(
        error.into_token_error().kind(),
        TokenErrorKind::Configuration
    );
    let source = TokenSource::builder()
        .fetcher(wrong.client_credentials_fetcher(None))
        .build()
        .await
        .unwrap();
    let api = through_layer(server, source);
    for _ in 0..2 {
        assert_no_token(server, &api, TokenErrorKind::Configuration).await;
    }
    assert_counts(
        server,
        &[
            (Counter::ClientCredentialsError, 2),
            (Counter::TokenRequests, 5),
        ],
    )
    .await;
}

/// Asserts that `token`'s scope holds each scope in [`Server::USER_SCOPE`].
fn assert_user_scopes<S: Server>(scope: Option<&Scope>) {
    let scope = scope.expect("scope");
    for asked in S::USER_SCOPE.split(' ') {
        assert!(scope.contains(asked), "{asked} in {scope}");
    }
}

/// The authorization code flow with PKCE for the public, the basic and the post client (on a
/// server whose access tokens live `lifetime`): the callback names the flow's redirect URI and
/// carries a verifier; the code is exchanged for a token with the scopes asked and a refresh
/// token, which the resource takes for the user through a source that does not need to
/// refresh; then the refresh grant with the client's authentication (the public client names
/// itself with `client_id`), and the resource takes the new token too. Returns every secret
/// seen (codes, verifiers, tokens), for the caller to look for in the server's log.
pub async fn code_flow_with_pkce<S: Server>(server: &S, lifetime: Duration) -> Vec<String> {
    let cases = [
        Client::public(S::PUBLIC_CLIENT_ID),
        basic_client::<S>(),
        post_client::<S>(),
    ];
    let mut secrets = Vec::new();
    for client in cases {
        let client_id = client.id().to_owned();
        let redirect_uri = S::redirect_uri(&client_id);
        let exchange = authorize(server, &client_id, redirect_uri).await;
        assert_eq!(exchange.redirect_uri().as_str(), redirect_uri);
        let verifier = exchange.pkce_verifier().expect("PKCE");
        secrets.push(verifier.secret().to_owned());
        secrets.push(exchange.code().secret().to_owned());
        let grants = grants(server, client);
        let token = grants.exchange_code(exchange).await.unwrap();
        assert_user_scopes::<S>(token.scope());
        S::assert_user_token(&token);
        let expires_at = token.expires_at().unwrap();
        assert!(expires_at > SystemTime::now() + lifetime.saturating_sub(Duration::from_secs(60)));
        let refresh_token = token.refresh_token().expect("refresh token").clone();

        let source = TokenSource::builder()
            .token(token.clone())
            .fetcher(grants.refresh_fetcher())
            .build()
            .await
            .unwrap();
        let me = resource_ok(server, &through_layer(server, source.clone())).await;
        assert_eq!(me["client_id"], client_id.as_str());
        S::assert_user_caller(&me);
        assert_eq!(source.fetch_count(), 0);

        let refreshed = grants.refresh(&refresh_token, None).await.unwrap();
        secrets.extend([
            token.access_token().secret().to_owned(),
            refresh_token.secret().to_owned(),
            refreshed.access_token().secret().to_owned(),
        ]);
        let api = through_layer(server, TokenSource::from_token(refreshed));
        let me = resource_ok(server, &api).await;
        assert_eq!(me["client_id"], client_id.as_str());
        S::assert_user_caller(&me);
    }
    assert_counts(
        server,
        &[
            (Counter::Authorized, 3),
            (Counter::AuthorizationCodeOk, 3),
            (Counter::RefreshOk, 3),
            (Counter::ResourceOk, 6),
        ],
    )
    .await;
    secrets
}

/// A user's token (the basic client's), refreshed: the refresh token and the access token are
/// new; the spent refresh token is then refused with `invalid_grant`, typed as "authorize
/// again" and terminal. Returns the first token and the refreshed one.
pub async fn refresh_rotates<S: Server>(server: &S) -> (Token, Token) {
    let token1 = user_token(server).await;
    let rt1 = token1.refresh_token().unwrap().clone();
    let grants = grants(server, basic_client::<S>());

    let token2 = grants.refresh(&rt1, None).await.unwrap();
    let rt2 = token2.refresh_token().expect("rotated").clone();
    assert_ne!(rt2.secret(), rt1.secret());
    assert_ne!(
        token2.access_token().secret(),
        token1.access_token().secret()
    );

    let error = grants.refresh(&rt1, None).await.unwrap_err();
    assert_eq!(error.kind(), GrantClientErrorKind::Response);
    assert_eq!(error.error_code(), Some(&ErrorCode::InvalidGrant));
    assert_eq!(error.oauth_error().unwrap().code, ErrorCode::InvalidGrant);
    let error = error.into_token_error();
    assert_eq!(error.kind(), TokenErrorKind::Reauthorize);
    assert_eq!(error.error_code(), Some(&ErrorCode::InvalidGrant));
    assert!(error.is_terminal());
    (token1, token2)
}

/// Calls the resource through `source` (which refreshes ahead of expiry) every 100 ms until
/// `done`: the server answers every call with 200 and never sees an expired token, counts the
/// refreshes the source made and refuses none, and each refresh brings a new access token
/// (none comes back). Returns the access tokens the source held, in order (how many of them a
/// call saw depends on the machine's speed).
pub async fn calls_while_refreshed_ahead_of_expiry<S: Server>(
    server: &S,
    source: &TokenSource,
    mut done: impl FnMut(&TokenSource) -> bool,
) -> Vec<String> {
    let api = through_layer(server, source.clone());
    let current = || source.current().unwrap().access_token().secret().to_owned();
    let mut calls = 0;
    let mut tokens_seen = vec![current()];
    // Bounded by the test's own timeout.
    while !done(source) {
        resource_ok(server, &api).await;
        calls += 1;
        let current = current();
        if tokens_seen.last() != Some(&current) {
            tokens_seen.push(current);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_counts(
        server,
        &[
            (Counter::RefreshOk, source.fetch_count()),
            (Counter::RefreshError, 0),
            (Counter::ResourceOk, calls),
            (Counter::ResourceInvalidToken, 0),
        ],
    )
    .await;
    let distinct: std::collections::HashSet<_> = tokens_seen.iter().collect();
    assert_eq!(distinct.len(), tokens_seen.len());
    assert!(tokens_seen.len() >= 2, "a refreshed token was used");
    tokens_seen
}

/// A user's token whose expiry the client does not know (on a server whose tokens live
/// `lifetime`) is used until the server rejects it: the resource's 401 `invalid_token` makes
/// the layer refresh once and send the request again, and the caller sees only the 200.
pub async fn a_401_on_a_token_the_server_expired_refreshes_once<S: Server>(
    server: &S,
    lifetime: Duration,
) {
    let token = user_token(server).await.with_expires_at(None);
    let source = refreshing_source(server, token).await;
    let api = through_layer(server, source.clone());
    resource_ok(server, &api).await;

    // Server-side expiry: wall-clock time, not machine speed.
    tokio::time::sleep(lifetime + Duration::from_millis(100)).await;
    resource_ok(server, &api).await;
    resource_ok(server, &api).await;

    assert_counts(
        server,
        &[
            (Counter::ResourceInvalidToken, 1),
            (Counter::RefreshOk, 1),
            (Counter::ResourceOk, 3),
        ],
    )
    .await;
    assert_eq!(source.fetch_count(), 1);
}

/// Token revocation (RFC 7009) and introspection (RFC 7662) with the basic client: an active
/// user's token introspects with its client, subject, type, scopes and expiry; once its
/// access token is revoked it introspects inactive and the resource refuses it. Revoking
/// another user's token (its refresh token) ends that grant: its access token goes inactive
/// and the refresh token no longer refreshes. An unknown token is revoked "successfully"
/// (§2.2), and a client with the wrong secret is refused. Returns the first token and what
/// introspection said of it while it was active.
pub async fn revoked_tokens_are_refused_and_introspect_inactive<S: Server>(
    server: &S,
) -> (Token, Introspection) {
    let grants = grants(server, basic_client::<S>());
    let revocation = loopback_endpoint(&server.revocation_endpoint());
    let introspection = loopback_endpoint(&server.introspection_endpoint());
    let (client_id, _) = S::BASIC_CLIENT;

    let token = user_token(server).await;
    let api = through_layer(server, TokenSource::from_token(token.clone()));
    resource_ok(server, &api).await;
    let active = grants
        .introspect(&introspection, token.access_token())
        .await
        .unwrap();
    assert!(active.active(), "{active:?}");
    assert_eq!(active.client_id(), Some(client_id));
    assert_eq!(active.sub(), Some(S::USER));
    assert_eq!(active.token_type(), Some("Bearer"));
    assert_user_scopes::<S>(active.scope());
    assert!(active.expires_at().unwrap() > SystemTime::now());

    // The access token alone.
    grants
        .revoke_access_token(&revocation, token.access_token())
        .await
        .unwrap();
    let info = grants
        .introspect(&introspection, token.access_token())
        .await
        .unwrap();
    assert!(!info.active(), "revoked: {info:?}");
    let (status, _) = call(&api, &server.resource_url()).await.unwrap();
    assert_eq!(status, StatusCode::UNAUTHORIZED);

    // A grant, by its refresh token: its access token ends too (RFC 7009 §2.1).
    let other = user_token(server).await;
    grants.revoke(&revocation, &other).await.unwrap();
    let info = grants
        .introspect(&introspection, other.access_token())
        .await
        .unwrap();
    assert!(
        !info.active(),
        "the grant ended with its refresh token: {info:?}"
    );
    let error = grants
        .refresh(other.refresh_token().unwrap(), None)
        .await
        .unwrap_err();
    assert_oauth_error(&error, "invalid_grant");

    grants
        .revoke_access_token(&revocation, &AccessToken::new("never-issued"))
        .await
        .unwrap();
    let impostor = self::grants(
        server,
        Client::secret_basic(client_id, ClientSecret::new("wrong")),
    );
    let error = impostor
        .revoke_access_token(&revocation, &AccessToken::new("never-issued"))
        .await
        .unwrap_err();
    assert_oauth_error(&error, "invalid_client");
    (token, active)
}

/// Discovery (RFC 8414, or OpenID Connect Discovery where that is the server's document): the
/// issuer matches exactly, the endpoints named are the server's, PKCE S256 is listed, and
/// RFC 9207's `iss` is announced if the server sends it. Returns the metadata.
pub async fn discovered_metadata_names_the_issuer_and_its_endpoints<S: Server>(
    server: &S,
) -> AuthorizationServerMetadata {
    let issuer = Issuer::with_transport(&server.issuer(), Transport::AllowLoopbackHttp).unwrap();
    let metadata = tower_oauth2::client::discover(&http(), &issuer, S::WELL_KNOWN)
        .await
        .unwrap();
    assert_eq!(metadata.issuer(), &issuer);
    let endpoint = |e: Option<&Endpoint>| e.unwrap().to_string();
    assert_eq!(endpoint(metadata.token_endpoint()), server.token_endpoint());
    assert_eq!(
        endpoint(metadata.authorization_endpoint()),
        server.authorization_endpoint()
    );
    assert_eq!(
        endpoint(metadata.revocation_endpoint()),
        server.revocation_endpoint()
    );
    assert_eq!(
        endpoint(metadata.introspection_endpoint()),
        server.introspection_endpoint()
    );
    assert!(metadata.supports_pkce_s256());
    assert_eq!(
        metadata.authorization_response_iss_parameter_supported(),
        S::SENDS_ISS
    );
    metadata
}

/// The device authorization grant (RFC 8628) for the public client: two requests (scope
/// [`Server::DEVICE_SCOPE`]) whose verification URI is on the server; the user denies one at
/// once and approves the other once the server has answered a poll with
/// `authorization_pending`. Both are polled at once: one ends with a token (returned), the
/// other with `access_denied`.
pub async fn device_flow_polls_until_the_user_decides<S: Server>(server: &S) -> Token {
    let device_endpoint = server.device_authorization_endpoint().await;
    let grants = grants(server, Client::public(S::PUBLIC_CLIENT_ID));
    let scope = Scope::parse(S::DEVICE_SCOPE);
    let approved = grants
        .device_authorization(&device_endpoint, Some(&scope))
        .await
        .unwrap();
    let denied = grants
        .device_authorization(&device_endpoint, Some(&scope))
        .await
        .unwrap();
    assert!(approved.verification_uri().starts_with(&server.base_url()));
    let approved_code = approved.user_code().to_owned();
    server.decide_device(denied.user_code(), false).await;
    let approving = async {
        // Approve once the server has told the client to keep waiting.
        while count(server, Counter::DeviceCodePending).await == 0 {
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        server.decide_device(&approved_code, true).await;
    };
    let (token, refused, ()) = tokio::join!(
        grants.poll_device_token(approved),
        grants.poll_device_token(denied),
        approving,
    );
    let token = token.unwrap();
    let error = refused.unwrap_err();
    assert_oauth_error(&error, "access_denied");
    assert_counts(server, &[(Counter::DeviceCodeOk, 1)]).await;
    token
}
