//! OpenID Connect CIBA (Client-Initiated Backchannel Authentication) in poll mode against the
//! real oidc-provider (`oidc_provider/server.mjs`): the backchannel endpoint named in
//! discovery, `authorization_pending` until the user decides (the test server's `/test/ciba`
//! records the decision their authentication device would), then tokens whose ID token
//! verifies with the provider's published keys and whose access token the UserInfo endpoint
//! takes; a denial, an unknown user, a wrong user code and an expired request, each as a typed
//! error. oidc-provider sends no `interval` (so the client waits the default 5 s) and never
//! `slow_down` for CIBA, however fast it is polled.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, SystemTime};

use common::api::{Server, bounded};
use common::ciba::{CibaProvider, client_key};
use http::StatusCode;
use interop_tests::OidcProvider;
use interop_tests::oidc::{
    CIBA_CLIENT_ID, CIBA_CLIENT_SECRET, CIBA_SIGNED_CLIENT_ID, CIBA_USER, CIBA_USER_CODE, TEST_USER,
};
use oauth_core::oauth2::{
    BackchannelAuthenticationRequest, EcP256PrivateKey, ErrorCode, PrivateKeyJwt, Scope, UserHint,
    parse_userinfo,
};
use tower_oauth2::GrantClient;
use tower_oauth2::client::{BackchannelRequestExpired, GrantClientErrorKind, ServerEndpoint};

type Grants = GrantClient<common::api::Http>;

/// The provider and the poll-mode client's grant client.
struct Ciba {
    at: CibaProvider,
    grants: Grants,
}

impl std::ops::Deref for Ciba {
    type Target = CibaProvider;

    fn deref(&self) -> &CibaProvider {
        &self.at
    }
}

impl Ciba {
    async fn start() -> Self {
        let provider = OidcProvider::start_with_token_lifetime(Duration::from_secs(60)).await;
        let at = CibaProvider::new(provider).await;
        let grants = at.grants(CIBA_CLIENT_ID, CIBA_CLIENT_SECRET);
        Self { at, grants }
    }
}

fn request(login_hint: &str) -> BackchannelAuthenticationRequest {
    BackchannelAuthenticationRequest::new(
        &Scope::parse("openid email"),
        UserHint::login_hint(login_hint),
    )
}

/// Approved: `authorization_pending` before (twice in a row: no `slow_down` from
/// oidc-provider), then the tokens; the ID token verifies with the provider's JWK set (no
/// nonce in CIBA) and names the user the hint named; UserInfo takes the access token.
#[tokio::test(flavor = "multi_thread")]
async fn an_approved_request_yields_tokens_with_a_valid_id_token() {
    bounded(async {
        let ciba = Ciba::start().await;
        assert_eq!(
            ciba.metadata.backchannel_token_delivery_modes_supported(),
            ["poll", "ping"]
        );
        assert!(ciba.metadata.backchannel_user_code_parameter_supported());
        let request = request(TEST_USER)
            .binding_message("W4SCT")
            .user_code(CIBA_USER_CODE)
            .acr_values(["urn:mace:incommon:iap:silver"]);
        let pending = ciba
            .grants
            .backchannel_authentication(ciba.endpoint(), request)
            .await
            .unwrap();
        // oidc-provider sends no interval: CIBA Core §7.3's default.
        assert_eq!(pending.interval(), Duration::from_secs(5));
        assert!(pending.expires_at() > SystemTime::now());
        for _ in 0..2 {
            let error = ciba
                .grants
                .poll_backchannel_token_once(&pending)
                .await
                .unwrap_err();
            assert_eq!(error.error_code(), Some(&ErrorCode::AuthorizationPending));
            assert_eq!(error.kind(), GrantClientErrorKind::Response);
        }
        ciba.decide(TEST_USER, true).await;
        let token = ciba.grants.poll_backchannel_token(pending).await.unwrap();

        let claims = ciba.id_token_claims(CIBA_CLIENT_ID, &token).await;
        assert_eq!(claims.sub(), TEST_USER);
        assert_eq!(claims.nonce(), None);

        let userinfo = ciba.metadata.userinfo_endpoint().unwrap().to_string();
        let bearer = format!("Bearer {}", token.access_token().secret());
        let response = common::get(&userinfo, &[("authorization", &bearer)]).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.body);
        let info = parse_userinfo(
            response.status,
            &response.headers,
            response.body.as_bytes(),
            claims.sub(),
        )
        .unwrap();
        assert_eq!(info.sub(), TEST_USER);
    })
    .await;
}

/// Denied on the user's device: polling ends with `access_denied`, typed; the error's text
/// holds no `auth_req_id`. Another user's request, approved meanwhile, is not affected.
#[tokio::test(flavor = "multi_thread")]
async fn a_denied_request_ends_with_access_denied() {
    bounded(async {
        let ciba = Ciba::start().await;
        let denied = ciba
            .grants
            .backchannel_authentication(ciba.endpoint(), request(CIBA_USER))
            .await
            .unwrap();
        let approved = ciba
            .grants
            .backchannel_authentication(ciba.endpoint(), request(TEST_USER))
            .await
            .unwrap();
        let id = denied.auth_req_id().secret().to_owned();
        ciba.decide(CIBA_USER, false).await;
        ciba.decide(TEST_USER, true).await;
        let (refused, token) = tokio::join!(
            ciba.grants.poll_backchannel_token(denied),
            ciba.grants.poll_backchannel_token(approved),
        );
        let error = refused.unwrap_err();
        assert_eq!(error.error_code(), Some(&ErrorCode::AccessDenied));
        assert_eq!(error.kind(), GrantClientErrorKind::Response);
        assert_eq!(error.endpoint(), ServerEndpoint::Token);
        let text = format!("{error} {error:?} {}", common::error_chain_text(&error));
        assert!(!text.contains(&id), "{text}");
        assert!(token.unwrap().id_token().is_some());
    })
    .await;
}

/// The backchannel endpoint's refusals (CIBA Core §13), typed: an unknown login hint, a wrong
/// user code, a binding message the provider will not show; and a request without `openid`,
/// refused before anything is sent.
#[tokio::test(flavor = "multi_thread")]
async fn the_providers_refusals_are_typed() {
    bounded(async {
        let ciba = Ciba::start().await;
        for (request, code) in [
            (request("nobody-we-know"), ErrorCode::UnknownUserId),
            (
                request(TEST_USER).user_code("0000"),
                ErrorCode::InvalidUserCode,
            ),
            (
                request(TEST_USER).binding_message("far too long a binding message, with spaces"),
                ErrorCode::InvalidBindingMessage,
            ),
        ] {
            let error = ciba
                .grants
                .backchannel_authentication(ciba.endpoint(), request)
                .await
                .unwrap_err();
            assert_eq!(error.kind(), GrantClientErrorKind::Response, "{error}");
            assert_eq!(error.error_code(), Some(&code), "{error}");
            assert_eq!(error.endpoint(), ServerEndpoint::BackchannelAuthentication);
        }
        let no_openid = BackchannelAuthenticationRequest::new(
            &Scope::parse("email"),
            UserHint::login_hint(TEST_USER),
        );
        let error = ciba
            .grants
            .backchannel_authentication(ciba.endpoint(), no_openid)
            .await
            .unwrap_err();
        assert_eq!(error.kind(), GrantClientErrorKind::Request);
    })
    .await;
}

/// A request granted 1 s (`requested_expiry`) expires before the provider's 5 s interval is
/// up: `poll_backchannel_token` sends nothing ([`BackchannelRequestExpired`]). Polled once
/// after its expiry, the provider answers `expired_token`, typed.
#[tokio::test(flavor = "multi_thread")]
async fn an_expired_request_answers_expired_token() {
    bounded(async {
        let ciba = Ciba::start().await;
        let short = || request(TEST_USER).requested_expiry(Duration::from_secs(1));
        let pending = ciba
            .grants
            .backchannel_authentication(ciba.endpoint(), short())
            .await
            .unwrap();
        let error = ciba
            .grants
            .poll_backchannel_token(pending)
            .await
            .unwrap_err();
        assert_eq!(error.kind(), GrantClientErrorKind::Request);
        assert!(
            error
                .request_error()
                .is_some_and(|e| e.is::<BackchannelRequestExpired>())
        );

        let pending = ciba
            .grants
            .backchannel_authentication(ciba.endpoint(), short())
            .await
            .unwrap();
        // Past the expiry the provider declared (its clock has whole seconds: one more).
        let left = pending
            .expires_at()
            .duration_since(SystemTime::now())
            .unwrap_or_default();
        tokio::time::sleep(left + Duration::from_secs(1)).await;
        let error = ciba
            .grants
            .poll_backchannel_token_once(&pending)
            .await
            .unwrap_err();
        assert_eq!(
            error.error_code(),
            Some(&ErrorCode::ExpiredToken),
            "{error}"
        );
    })
    .await;
}

/// Signed backchannel requests (CIBA Core §7.1.1), for a client registered to send only those
/// (`backchannel_authentication_request_signing_alg` ES256), with `private_key_jwt`: the
/// provider advertises the algorithm, takes the request object (every parameter inside, user
/// code and binding message checked), and the approved request yields tokens; the same request
/// unsigned is refused, and so is one signed with another key (`invalid_request`: CIBA Core
/// §13 has no `invalid_request_object`).
#[tokio::test(flavor = "multi_thread")]
async fn a_signed_request_is_accepted_and_an_unsigned_one_refused() {
    bounded(async {
        let ciba = Ciba::start().await;
        assert!(
            ciba.metadata
                .backchannel_authentication_request_signing_alg_values_supported()
                .iter()
                .any(|alg| alg == "ES256")
        );
        let grants = ciba.signed_grants(CIBA_SIGNED_CLIENT_ID);
        let issuer = ciba.metadata.issuer().clone();
        let signed = || {
            request(CIBA_USER)
                .binding_message("W4SCT")
                .requested_expiry(Duration::from_secs(60))
                .user_code(CIBA_USER_CODE)
        };

        let error = grants
            .backchannel_authentication(ciba.endpoint(), signed())
            .await
            .unwrap_err();
        assert_eq!(
            error.error_code(),
            Some(&ErrorCode::InvalidRequest),
            "{error}"
        );
        assert!(
            error.to_string().contains("Request Object must be used"),
            "{error}"
        );

        let other_key = EcP256PrivateKey::generate_pkcs8_pem().unwrap();
        let forged = PrivateKeyJwt::es256(EcP256PrivateKey::from_pem(&other_key).unwrap())
            .key_id(CIBA_SIGNED_CLIENT_ID);
        let error = grants
            .backchannel_authentication(
                ciba.endpoint(),
                signed().signed_request(forged, issuer.clone()),
            )
            .await
            .unwrap_err();
        // CIBA Core §13 has no invalid_request_object: oidc-provider answers invalid_request.
        assert_eq!(
            error.error_code(),
            Some(&ErrorCode::InvalidRequest),
            "{error}"
        );
        assert!(
            error
                .to_string()
                .contains("could not validate Request Object"),
            "{error}"
        );

        // Inside the object, the user code is still checked.
        let error = grants
            .backchannel_authentication(
                ciba.endpoint(),
                request(CIBA_USER)
                    .user_code("0000")
                    .signed_request(client_key(CIBA_SIGNED_CLIENT_ID), issuer.clone()),
            )
            .await
            .unwrap_err();
        assert_eq!(
            error.error_code(),
            Some(&ErrorCode::InvalidUserCode),
            "{error}"
        );

        let pending = grants
            .backchannel_authentication(
                ciba.endpoint(),
                signed().signed_request(client_key(CIBA_SIGNED_CLIENT_ID), issuer.clone()),
            )
            .await
            .unwrap();
        assert!(pending.expires_at() <= SystemTime::now() + Duration::from_secs(60));
        ciba.decide(CIBA_USER, true).await;
        let token = grants.poll_backchannel_token(pending).await.unwrap();
        let claims = ciba.id_token_claims(CIBA_SIGNED_CLIENT_ID, &token).await;
        assert_eq!(claims.sub(), CIBA_USER);
    })
    .await;
}
