//! tower-oauth2 against a second, independent authorization server: Python oauthlib's OAuth 2
//! endpoints (`oauthlib_provider/oauth2.py`, served by the OAuth 1 provider's process), through a
//! real hyper-util client: the resource owner password grant (with the `legacy` feature), client
//! credentials with `client_secret_basic`, `client_secret_post` and a secret that needs RFC 6749
//! §2.3.1's form-encoding, the authorization code flow with PKCE S256, refresh-token rotation,
//! the token layer's proactive and 401-driven refresh, revocation and introspection, RFC 8414
//! discovery and the device flow. The server's `/test/stats` counters are the ground truth for
//! what went over the wire.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use common::api::{
    Server as _, oauthlib_authorization_url as authorization_url,
    oauthlib_front_channel as front_channel,
};
use common::api::{
    bounded, call, http, loopback_endpoint, short_token_policy, stat, stats, through_layer,
};
use common::scenarios::{self, grants, resource_ok, user_token};
use common::{assert_oauth_error, form, post_form};
use http::StatusCode;
use interop_tests::OauthlibProvider;
use interop_tests::oauthlib2::{
    BASIC_CLIENT_ID, BASIC_CLIENT_SECRET, DEFAULT_SCOPE, DENIED_SCOPE, POST_CLIENT_ID,
    POST_CLIENT_SECRET, PUBLIC_CLIENT_ID, REDIRECT_URI, USER,
};
use oauth_core::clock::SystemRandom;
use oauth_core::oauth2::{
    AuthorizationRequest, CallbackError, Client, Endpoint, ErrorCode, RedirectUri, Scope, Transport,
};
use oauth_core::secret::ClientSecret;
use tower_oauth2::{GrantClient, TokenSource};

/// The default access-token lifetime for tests that do not need short tokens.
const HOUR: u64 = 3600;

/// The provider with OAuth 2 access tokens that live `lifetime` seconds.
async fn start(lifetime: u64) -> OauthlibProvider {
    OauthlibProvider::start_with_token_lifetime(Duration::from_secs(lifetime)).await
}

fn basic_client() -> Client {
    scenarios::basic_client::<OauthlibProvider>()
}

fn post_client() -> Client {
    scenarios::post_client::<OauthlibProvider>()
}

fn special_client() -> Client {
    scenarios::special_client::<OauthlibProvider>()
}

/// The provider's log (one line per request) names none of `secrets`.
fn assert_log_has_none_of(provider: &OauthlibProvider, secrets: &[String]) {
    let log = std::fs::read_to_string(provider.log_path()).unwrap();
    assert!(
        log.contains("/oauth2/token"),
        "the log is the provider's: {log}"
    );
    for secret in secrets {
        assert!(
            !log.contains(secret.as_str()),
            "a secret is in the provider's log"
        );
    }
}

#[cfg(feature = "legacy")]
#[allow(deprecated)] // The password grant is deprecated (RFC 9700 §2.4); it is what is tested.
#[tokio::test(flavor = "multi_thread")]
async fn password_grant_with_basic_post_and_special_client_auth() {
    use common::error_chain_text;
    use interop_tests::oauthlib2::{PASSWORD, SPECIAL_CLIENT_SECRET};
    use oauth_core::secret::ResourceOwnerPassword;
    use std::time::SystemTime;
    use tower_oauth2::TokenErrorKind;
    use tower_oauth2::client::GrantClientErrorKind;
    const WRONG_PASSWORD: &str = "wr0ng-p@ssword-9f3k";

    bounded(async {
        let provider = start(HOUR).await;
        let password = ResourceOwnerPassword::new(PASSWORD);
        for client in [basic_client(), post_client(), special_client()] {
            let client_id = client.id().to_owned();
            let grants = grants(&provider, client);
            let token = grants
                .password(USER, &password, Some(&Scope::parse("read write")))
                .await
                .unwrap();
            assert_eq!(
                token.scope().unwrap().to_string(),
                "read write",
                "{client_id}"
            );
            // Held by a source that refreshes it (as requests-oauthlib's LegacyApplicationClient
            // with auto-refresh), expired on the client's side: refreshed before the call.
            let expired = token.with_expires_at(Some(SystemTime::now()));
            let source = TokenSource::builder()
                .token(expired)
                .fetcher(grants.refresh_fetcher())
                .build()
                .await
                .unwrap();
            let api = through_layer(&provider, source.clone());
            let me = resource_ok(&provider, &api).await;
            assert_eq!(me["client_id"], client_id.as_str());
            assert_eq!(me["user"], USER);
            assert_eq!(me["scope"], "read write");
            assert_eq!(source.fetch_count(), 1, "{client_id}");
        }

        // A wrong password: the server's invalid_grant, typed, with no password in any text of
        // the error or of the request the library would send.
        let grants = grants(&provider, basic_client());
        let wrong = ResourceOwnerPassword::new(WRONG_PASSWORD);
        let error = grants.password(USER, &wrong, None).await.unwrap_err();
        assert_eq!(error.kind(), GrantClientErrorKind::Response);
        assert_eq!(error.error_code(), Some(&ErrorCode::InvalidGrant));
        assert_oauth_error(&error, "invalid_grant");
        let text = error_chain_text(&error);
        let request = oauth_core::oauth2::TokenRequest::password(
            grants.endpoint(),
            grants.client(),
            USER,
            &wrong,
        );
        let text = format!("{text}{request:?}{request:#?}{password:?}{wrong:?}");
        for secret in [PASSWORD, WRONG_PASSWORD, BASIC_CLIENT_SECRET] {
            assert!(!text.contains(secret), "{secret:?} printed: {text}");
        }
        let error = error.into_token_error();
        assert_eq!(error.kind(), TokenErrorKind::Reauthorize);

        let stats = stats(&provider).await;
        assert_eq!(stat(&stats, "oauth2_grant_password_ok"), 3, "{stats}");
        assert_eq!(stat(&stats, "oauth2_grant_refresh_token_ok"), 3, "{stats}");
        assert_eq!(
            stat(&stats, "oauth2_grant_password_invalid_grant"),
            1,
            "{stats}"
        );
        assert_eq!(stat(&stats, "oauth2_resource_ok"), 3, "{stats}");
        let secrets = [
            PASSWORD,
            WRONG_PASSWORD,
            SPECIAL_CLIENT_SECRET,
            POST_CLIENT_SECRET,
        ];
        assert_log_has_none_of(&provider, &secrets.map(str::to_owned));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn client_credentials_with_basic_post_and_special_secret_open_the_resource() {
    bounded(async {
        let provider = start(HOUR).await;
        scenarios::client_credentials_open_the_resource(&provider, Duration::from_secs(HOUR)).await;

        // No scope asked: the client's default one.
        for client in [basic_client(), post_client(), special_client()] {
            let token = grants(&provider, client)
                .client_credentials(None)
                .await
                .unwrap();
            assert_eq!(token.scope().unwrap().to_string(), DEFAULT_SCOPE);
        }

        // The right secret sent with the other method than the one registered: invalid_client
        // (as the wrong secret of the shared part, twice there).
        let cases = [
            Client::secret_post(BASIC_CLIENT_ID, ClientSecret::new(BASIC_CLIENT_SECRET)),
            Client::secret_basic(POST_CLIENT_ID, ClientSecret::new(POST_CLIENT_SECRET)),
        ];
        for client in cases {
            let error = grants(&provider, client)
                .client_credentials(None)
                .await
                .unwrap_err();
            assert_oauth_error(&error, "invalid_client");
        }

        let stats = stats(&provider).await;
        assert_eq!(
            stat(&stats, "oauth2_grant_client_credentials_ok"),
            6,
            "{stats}"
        );
        assert_eq!(
            stat(&stats, "oauth2_grant_client_credentials_invalid_client"),
            4,
            "{stats}"
        );
        assert_eq!(stat(&stats, "oauth2_resource_ok"), 6, "{stats}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn code_flow_with_pkce_for_public_and_confidential_clients() {
    bounded(async {
        let provider = start(HOUR).await;
        let mut secrets =
            scenarios::code_flow_with_pkce(&provider, Duration::from_secs(HOUR)).await;
        secrets.extend([
            BASIC_CLIENT_SECRET.to_owned(),
            POST_CLIENT_SECRET.to_owned(),
        ]);
        assert_log_has_none_of(&provider, &secrets);
    })
    .await;
}

/// A code is good for one exchange: the second is refused by the server (and the tokens of the
/// first are revoked, RFC 6749 §4.1.2). A code sent with another flow's PKCE verifier is refused
/// by the server too (RFC 7636 §4.6), and then exchanged with its own.
#[tokio::test(flavor = "multi_thread")]
async fn codes_are_single_use_and_bound_to_the_pkce_verifier() {
    bounded(async {
        let provider = start(HOUR).await;
        // CodeExchange is not Clone (it holds the code and the verifier): the same callback,
        // parsed by two pending authorizations with the same state and no PKCE (the basic
        // client does not need it), gives the same code twice.
        let confidential = grants(&provider, basic_client());
        let same_state = |r: AuthorizationRequest| {
            r.dangerous_custom_state("interop-same-state-for-both-flows")
                .dangerous_disable_pkce()
        };
        let (url, first) = authorization_url(&provider, BASIC_CLIENT_ID, same_state);
        let (_, second) = authorization_url(&provider, BASIC_CLIENT_ID, same_state);
        let callback = front_channel(&url).await;
        let exchange = first.parse_callback(&callback).unwrap();
        let replay = second.parse_callback(&callback).unwrap();
        let token = confidential.exchange_code(exchange).await.unwrap();
        let error = confidential.exchange_code(replay).await.unwrap_err();
        assert_oauth_error(&error, "invalid_grant");
        let api = through_layer(&provider, TokenSource::from_token(token));
        let (status, _) = call(&api, &provider.oauth2_resource_url()).await.unwrap();
        assert_eq!(status, StatusCode::UNAUTHORIZED, "revoked with the replay");

        // Two flows with the same state (only so that one's callback parses with the other's
        // pending authorization): the code of the first with the verifier of the second.
        let state = "interop-same-state-for-both-flows";
        let (url, first) = authorization_url(&provider, PUBLIC_CLIENT_ID, |r| {
            r.dangerous_custom_state(state)
        });
        let (_, second) = authorization_url(&provider, PUBLIC_CLIENT_ID, |r| {
            r.dangerous_custom_state(state)
        });
        let callback = front_channel(&url).await;
        let public = grants(&provider, Client::public(PUBLIC_CLIENT_ID));
        let mismatched = second.parse_callback(&callback).unwrap();
        let error = public.exchange_code(mismatched).await.unwrap_err();
        assert_oauth_error(&error, "invalid_grant");
        // The verifier was the reason: with its own verifier the code is exchanged.
        let exchange = first.parse_callback(&callback).unwrap();
        public.exchange_code(exchange).await.unwrap();

        let stats = stats(&provider).await;
        assert_eq!(
            stat(&stats, "oauth2_grant_authorization_code_ok"),
            2,
            "{stats}"
        );
        assert_eq!(
            stat(&stats, "oauth2_grant_authorization_code_invalid_grant"),
            2,
            "{stats}"
        );
    })
    .await;
}

/// The user says no (the test user denies the scope `deny`), or the server refuses the scope: the
/// callback's `access_denied` or `invalid_scope` (with the flow's state) is reported by the
/// library; a callback with another state is refused before anything is sent.
#[tokio::test(flavor = "multi_thread")]
async fn denied_authorizations_and_foreign_callbacks_are_refused() {
    bounded(async {
        let provider = start(HOUR).await;
        // A callback whose state belongs to another flow; no token request.
        scenarios::a_callback_with_another_flows_state_is_refused(&provider).await;

        // The user says no; the server does not know the scope (oauthlib's own error redirect).
        let cases = [
            (DENIED_SCOPE, ErrorCode::AccessDenied),
            ("unknown-scope", ErrorCode::InvalidScope),
        ];
        for (scope, code) in cases {
            let (url, pending) = authorization_url(&provider, BASIC_CLIENT_ID, |r| {
                r.scope(Scope::parse(&format!("read {scope}")))
            });
            let error = pending
                .parse_callback(&front_channel(&url).await)
                .unwrap_err();
            match error {
                CallbackError::AuthorizationDenied(e) => assert_eq!(e.code, code),
                other => panic!("{scope}: {other:?}"),
            }
        }

        let stats = stats(&provider).await;
        assert_eq!(stat(&stats, "oauth2_authorize_denied"), 1, "{stats}");
        assert_eq!(stat(&stats, "oauth2_authorize_error"), 1, "{stats}");
        assert_eq!(stat(&stats, "oauth2_token_requests"), 0, "{stats}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn refresh_rotates_and_the_used_refresh_token_is_refused() {
    bounded(async {
        let provider = start(HOUR).await;
        let (_, token2) = scenarios::refresh_rotates(&provider).await;
        assert_eq!(token2.scope().unwrap().to_string(), "read write");
        let rt2 = token2.refresh_token().unwrap().clone();
        let other_client = grants(&provider, post_client());
        let grants = grants(&provider, basic_client());

        // Another client cannot use it.
        let error = other_client.refresh(&rt2, None).await.unwrap_err();
        assert_oauth_error(&error, "invalid_grant");

        // The rotated one works (oauthlib does not end the grant on the replay), once; a
        // narrower scope is granted as asked (RFC 6749 §6).
        let token3 = grants
            .refresh(&rt2, Some(&Scope::parse("read")))
            .await
            .unwrap();
        assert_eq!(token3.scope().unwrap().to_string(), "read");
        let rt3 = token3.refresh_token().unwrap();
        assert_ne!(rt3.secret(), rt2.secret());
        let error = grants.refresh(&rt2, None).await.unwrap_err();
        assert_oauth_error(&error, "invalid_grant");
        let api = through_layer(&provider, TokenSource::from_token(token3));
        assert_eq!(resource_ok(&provider, &api).await["scope"], "read");

        let stats = stats(&provider).await;
        assert_eq!(stat(&stats, "oauth2_grant_refresh_token_ok"), 2, "{stats}");
        assert_eq!(
            stat(&stats, "oauth2_grant_refresh_token_invalid_grant"),
            3,
            "{stats}"
        );
    })
    .await;
}

/// 2-second tokens: the source refreshes ahead of expiry (half the lifetime), so the resource
/// never sees an expired token, and each rotated refresh token is the one used next.
#[tokio::test(flavor = "multi_thread")]
async fn short_tokens_are_refreshed_ahead_of_expiry() {
    bounded(async {
        let provider = start(2).await;
        let source = TokenSource::builder()
            .token(user_token(&provider).await)
            .fetcher(grants(&provider, basic_client()).refresh_fetcher())
            .policy(short_token_policy())
            .build()
            .await
            .unwrap();
        // Two refreshes come within about two seconds.
        scenarios::calls_while_refreshed_ahead_of_expiry(&provider, &source, |source| {
            source.fetch_count() >= 2
        })
        .await;
        assert_eq!(source.fetch_count(), 2);
    })
    .await;
}

/// A token the client believes valid but the server has expired: the resource's 401
/// `invalid_token` makes the layer refresh once and send the request again.
#[tokio::test(flavor = "multi_thread")]
async fn a_401_on_a_token_the_server_expired_refreshes_once_and_retries() {
    bounded(async {
        let provider = start(2).await;
        scenarios::a_401_on_a_token_the_server_expired_refreshes_once(
            &provider,
            Duration::from_secs(2),
        )
        .await;
    })
    .await;
}

/// An access token revoked at the server (RFC 7009, with the library's revocation request)
/// while the grant lives on: one 401, one refresh, the request sent again.
#[tokio::test(flavor = "multi_thread")]
async fn a_401_on_a_revoked_access_token_refreshes_once_and_retries() {
    bounded(async {
        let provider = start(HOUR).await;
        scenarios::a_401_on_a_revoked_access_token_refreshes_once(&provider).await;
        let stats = stats(&provider).await;
        assert_eq!(stat(&stats, "oauth2_revoke_ok"), 1, "{stats}");
    })
    .await;
}

/// A client-credentials token revoked at the server: the 401 makes the source ask for a new one
/// (client credentials again, not a refresh) and the request is sent again.
#[tokio::test(flavor = "multi_thread")]
async fn a_401_on_a_revoked_client_credentials_token_fetches_a_new_one() {
    bounded(async {
        let provider = start(HOUR).await;
        let grants = grants(&provider, post_client());
        let source = TokenSource::builder()
            .fetcher(grants.client_credentials_fetcher(None))
            .build()
            .await
            .unwrap();
        let api = through_layer(&provider, source.clone());
        resource_ok(&provider, &api).await;
        let revocation = loopback_endpoint(&provider.oauth2_revocation_endpoint());
        let first = source.current().unwrap();
        grants
            .revoke_access_token(&revocation, first.access_token())
            .await
            .unwrap();
        let me = resource_ok(&provider, &api).await;
        assert_eq!(me["client_id"], POST_CLIENT_ID);
        assert_ne!(
            source.current().unwrap().access_token().secret(),
            first.access_token().secret()
        );

        let stats = stats(&provider).await;
        assert_eq!(stat(&stats, "oauth2_resource_invalid_token"), 1, "{stats}");
        assert_eq!(
            stat(&stats, "oauth2_grant_client_credentials_ok"),
            2,
            "{stats}"
        );
        assert_eq!(stat(&stats, "oauth2_resource_ok"), 2, "{stats}");
        assert_eq!(source.fetch_count(), 2);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn revoked_tokens_are_refused_and_introspect_inactive() {
    bounded(async {
        let provider = start(HOUR).await;
        let (token, active) =
            scenarios::revoked_tokens_are_refused_and_introspect_inactive(&provider).await;
        assert_eq!(active.username(), Some(USER));
        assert_eq!(active.scope().unwrap().to_string(), "read write");
        let post = grants(&provider, post_client());
        let grants = grants(&provider, basic_client());
        let revocation = loopback_endpoint(&provider.oauth2_revocation_endpoint());
        let introspection = loopback_endpoint(&provider.oauth2_introspection_endpoint());

        // oauthlib does not end the grant with its access token: the refresh token still
        // refreshes, and revoking the refreshed token's grant (its refresh token) ends the
        // access tokens issued with it too (RFC 7009 §2.1).
        let token2 = grants
            .refresh(token.refresh_token().unwrap(), None)
            .await
            .unwrap();
        grants.revoke(&revocation, &token2).await.unwrap();
        let info = grants
            .introspect(&introspection, token2.access_token())
            .await
            .unwrap();
        assert!(!info.active(), "ended with its refresh token: {info:?}");
        let error = grants
            .refresh(token2.refresh_token().unwrap(), None)
            .await
            .unwrap_err();
        assert_oauth_error(&error, "invalid_grant");

        // Client authentication is checked at both endpoints, with either method.
        let own = post.client_credentials(None).await.unwrap();
        let info = post
            .introspect(&introspection, own.access_token())
            .await
            .unwrap();
        assert!(info.active(), "{info:?}");
        let impostor = GrantClient::new(
            http(),
            loopback_endpoint(&provider.oauth2_token_endpoint()),
            Client::secret_basic(BASIC_CLIENT_ID, ClientSecret::new("wrong")),
        );
        let error = impostor
            .introspect(&introspection, own.access_token())
            .await
            .unwrap_err();
        assert_oauth_error(&error, "invalid_client");
    })
    .await;
}

/// RFC 8414 discovery against oauthlib's MetadataEndpoint: the issuer matches exactly, and the
/// endpoints it names carry a whole code flow, a revocation and the device authorization.
#[tokio::test(flavor = "multi_thread")]
async fn discovered_metadata_names_the_issuer_and_its_endpoints_work() {
    bounded(async {
        let provider = start(HOUR).await;
        let metadata =
            scenarios::discovered_metadata_names_the_issuer_and_its_endpoints(&provider).await;
        let endpoint = |e: Option<&Endpoint>| e.unwrap().to_string();
        assert_eq!(
            endpoint(metadata.device_authorization_endpoint()),
            provider.oauth2_device_authorization_endpoint()
        );

        let redirect =
            RedirectUri::with_transport(REDIRECT_URI, Transport::AllowLoopbackHttp).unwrap();
        let (url, pending) =
            AuthorizationRequest::from_metadata(&metadata, PUBLIC_CLIENT_ID, &redirect)
                .unwrap()
                .build(&SystemRandom::new())
                .unwrap();
        let exchange = pending
            .parse_callback(&front_channel(&url.to_string()).await)
            .unwrap();
        let grants = GrantClient::new(
            http(),
            metadata.token_endpoint().unwrap().clone(),
            Client::public(PUBLIC_CLIENT_ID),
        );
        let token = grants.exchange_code(exchange).await.unwrap();
        assert_eq!(token.scope().unwrap().to_string(), DEFAULT_SCOPE);
        grants
            .revoke(metadata.revocation_endpoint().unwrap(), &token)
            .await
            .unwrap();

        let stats = stats(&provider).await;
        assert_eq!(stat(&stats, "oauth2_metadata"), 1, "{stats}");
        assert_eq!(stat(&stats, "oauth2_revoke_ok"), 1, "{stats}");
    })
    .await;
}

/// RFC 8628 with oauthlib's device authorization endpoint and device code grant: the public
/// client polls (`authorization_pending`) until the user approves one code and denies another;
/// a confidential client gets its token with HTTP Basic authentication at both endpoints; the
/// extra `scope` member oauthlib 4 sends is ignored, and an unknown scope is refused at once.
#[tokio::test(flavor = "multi_thread")]
async fn device_flow_polls_until_the_user_decides() {
    bounded(async {
        let provider = start(HOUR).await;
        let token = scenarios::device_flow_polls_until_the_user_decides(&provider).await;
        assert_eq!(token.scope().unwrap().to_string(), "read write");
        let api = through_layer(&provider, TokenSource::from_token(token));
        let me = resource_ok(&provider, &api).await;
        assert_eq!(me["client_id"], PUBLIC_CLIENT_ID);
        assert_eq!(me["user"], USER);

        let device_endpoint = loopback_endpoint(&provider.oauth2_device_authorization_endpoint());
        let confidential = grants(&provider, basic_client());
        let grants = grants(&provider, Client::public(PUBLIC_CLIENT_ID));
        // A confidential client authenticates at both endpoints (HTTP Basic).
        let device = confidential
            .device_authorization(&device_endpoint, None)
            .await
            .unwrap();
        provider.decide_device(device.user_code(), true).await;
        let token = confidential.poll_device_token(device).await.unwrap();
        let api = through_layer(&provider, TokenSource::from_token(token));
        assert_eq!(
            resource_ok(&provider, &api).await["client_id"],
            BASIC_CLIENT_ID
        );

        // Since oauthlib 4.0 the device authorization response also carries the scopes the
        // server resolved, as `scope` (not a member of RFC 8628 §3.2): the responses parsed
        // above had it, and the client ignored it. Pinned here, so that those parses keep
        // proving it.
        let raw = post_form(
            &provider.oauth2_device_authorization_endpoint(),
            &[],
            form(&[("client_id", PUBLIC_CLIENT_ID), ("scope", "read write")]),
        )
        .await;
        assert_eq!(raw.status, StatusCode::OK, "{}", raw.body);
        // (The body holds a device code: not printed.)
        assert_eq!(raw.json()["scope"], "read write");
        // And since 4.0 it checks the scopes there (3.3.1 took any): an unknown one is the
        // server's invalid_scope, typed, before any polling.
        let error = grants
            .device_authorization(&device_endpoint, Some(&Scope::parse("read admin")))
            .await
            .unwrap_err();
        assert_oauth_error(&error, "invalid_scope");

        let stats = stats(&provider).await;
        assert_eq!(stat(&stats, "oauth2_grant_device_code_ok"), 2, "{stats}");
        assert_eq!(
            stat(&stats, "oauth2_grant_device_code_access_denied"),
            1,
            "{stats}"
        );
    })
    .await;
}
