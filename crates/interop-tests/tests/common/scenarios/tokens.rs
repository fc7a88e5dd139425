//! Scenarios of refresh, revocation, introspection and discovery.

use std::time::{Duration, SystemTime};

use http::StatusCode;
use oauth_core::oauth2::introspection::Introspection;
use oauth_core::oauth2::{
    AuthorizationServerMetadata, Client, Endpoint, ErrorCode, Issuer, Token, Transport,
};
use oauth_core::secret::{AccessToken, ClientSecret};
use tower_oauth2::client::GrantClientErrorKind;
use tower_oauth2::{TokenErrorKind, TokenSource};

use super::super::api::{Counter, Server, call, http, loopback_endpoint, through_layer};
use super::super::assert_oauth_error;
use super::*;

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

/// A user's token whose access token is revoked at the server (RFC 7009, with the library's
/// revocation request) after a first call: the resource's one 401 `invalid_token` makes the
/// layer refresh once. Where that revocation ends the grant
/// ([`Server::REVOKING_AN_ACCESS_TOKEN_ENDS_THE_GRANT`]) the refresh is refused and reported
/// as Reauthorize, and nothing is sent after that; elsewhere the request is sent again with
/// the new token, and later ones go with it.
pub async fn a_401_on_a_revoked_access_token_refreshes_once<S: Server>(server: &S) {
    let token = user_token(server).await;
    let access = token.access_token().clone();
    let source = refreshing_source(server, token).await;
    let api = through_layer(server, source.clone());
    resource_ok(server, &api).await;

    let revocation = loopback_endpoint(&server.revocation_endpoint());
    grants(server, basic_client::<S>())
        .revoke_access_token(&revocation, &access)
        .await
        .unwrap();
    if S::REVOKING_AN_ACCESS_TOKEN_ENDS_THE_GRANT {
        for _ in 0..2 {
            assert_no_token(server, &api, TokenErrorKind::Reauthorize).await;
        }
        assert_counts(server, &[(Counter::RefreshError, 1)]).await;
    } else {
        resource_ok(server, &api).await;
        resource_ok(server, &api).await;
        assert_counts(server, &[(Counter::RefreshOk, 1), (Counter::ResourceOk, 3)]).await;
    }
    assert_counts(
        server,
        &[
            (Counter::ResourceInvalidToken, 1),
            (Counter::TokenRequests, 2),
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
