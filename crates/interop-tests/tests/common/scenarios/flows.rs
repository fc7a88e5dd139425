//! Scenarios of grants and front channels.

use std::time::{Duration, SystemTime};

use oauth_core::oauth2::{CallbackError, Client, ErrorCode, Scope, Token};
use oauth_core::secret::ClientSecret;
use tower_oauth2::client::GrantClientErrorKind;
use tower_oauth2::{TokenErrorKind, TokenSource};

use super::super::api::{Counter, Server, through_layer};
use super::super::assert_oauth_error;
use super::*;

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
