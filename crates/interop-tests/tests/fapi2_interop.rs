//! The FAPI 2.0 Security Profile against the real npm `oidc-provider` with its FAPI 2.0 profile
//! on (`features.fapi`, profile `2.0`, for the client `interop-fapi2` only): the client this
//! library makes when the profile's rules are followed (pushed authorization requests, PKCE
//! S256, `iss` checked, `private_key_jwt` with the issuer as `aud`, DPoP-bound tokens) completes
//! the code flow, calls the resource through the layer and refreshes, with the pushed request
//! signed too (FAPI 2.0 Message Signing's request side); what the profile forbids is refused by
//! the provider. Loopback only; every test is bounded in time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::api::{Server, bounded, call, http, through_layer};
use common::code_flow::{self, follow_to_redirect_uri, query_value, refusal_with_description};
use common::scenarios::grants;
use interop_tests::OidcProvider;
use interop_tests::oidc::{
    FAPI2_CLIENT_ID, FAPI2_PS256_CLIENT_ID, LOOPBACK_REDIRECT_URI, TEST_USER,
};
use oauth_core::clock::SystemRandom;
use oauth_core::oauth2::{
    AuthorizationRequest, AuthorizationServerMetadata, CallbackError, Client, CodeExchange,
    DpopKey, EcP256PrivateKey, Endpoint, ErrorCode, PrivateKeyJwt, RedirectUri, RsaPrivateKey,
    Scope, TokenType, Transport,
};
use tower_oauth2::TokenSource;
use tower_oauth2::client::{IdTokenValidator, SignedCallbackError};

/// The two clients under the profile: ES256 and PS256 assertions (and request objects).
const CLIENTS: [&str; 2] = [FAPI2_CLIENT_ID, FAPI2_PS256_CLIENT_ID];

/// `client_id`'s registered key (`keys/ec_p256_pkcs8.pem` for ES256, `keys/rsa_private_pkcs8.pem`
/// for PS256), named by the client id as `kid`.
fn client_key(client_id: &str) -> PrivateKeyJwt {
    let pem = |name: &str| {
        std::fs::read_to_string(format!("{}/keys/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
    };
    let key = if client_id == FAPI2_PS256_CLIENT_ID {
        PrivateKeyJwt::ps256(RsaPrivateKey::from_pem(&pem("rsa_private_pkcs8.pem")).unwrap())
    } else {
        PrivateKeyJwt::es256(EcP256PrivateKey::from_pem(&pem("ec_p256_pkcs8.pem")).unwrap())
    };
    key.key_id(client_id)
}

/// A fresh DPoP key (ES256), as a client makes one per installation.
fn dpop_key() -> DpopKey {
    let pem = EcP256PrivateKey::generate_pkcs8_pem().unwrap();
    DpopKey::es256(EcP256PrivateKey::from_pem(&pem).unwrap())
}

/// The provider, its discovery document and its PAR endpoint.
struct Fapi {
    provider: OidcProvider,
    metadata: AuthorizationServerMetadata,
    par: Endpoint,
}

impl Fapi {
    async fn start() -> Self {
        let provider = OidcProvider::start_with_token_lifetime(Duration::from_secs(60)).await;
        let metadata = code_flow::metadata(&provider).await;
        let par = metadata
            .pushed_authorization_request_endpoint()
            .unwrap()
            .clone();
        Self {
            provider,
            metadata,
            par,
        }
    }

    /// The client as FAPI 2.0 wants it: its assertions name the issuer as their only audience.
    fn client(&self, client_id: &str) -> Client {
        Client::private_key_jwt(
            client_id,
            client_key(client_id).audience(self.metadata.issuer().as_str()),
        )
    }

    /// The authorization request: the discovered endpoint and issuer (`iss` expected), scope
    /// `openid api:read`, state and PKCE S256 (the builder's defaults), the code bound to
    /// `dpop` if given.
    fn request(&self, client_id: &str, dpop: Option<&DpopKey>) -> AuthorizationRequest {
        let redirect =
            RedirectUri::with_transport(LOOPBACK_REDIRECT_URI, Transport::AllowLoopbackHttp)
                .unwrap();
        let request = AuthorizationRequest::from_metadata(&self.metadata, client_id, &redirect)
            .unwrap()
            .scope(Scope::parse("openid api:read"));
        match dpop {
            Some(key) => request.dpop_key(key),
            None => request,
        }
    }

    /// [`request`](Self::request) as FAPI 2.0 Message Signing sends it: a signed request
    /// object (JAR) asking for a signed response (JARM).
    fn message_signing_request(&self, client_id: &str, dpop: &DpopKey) -> AuthorizationRequest {
        self.request(client_id, Some(dpop))
            .signed_request(client_key(client_id))
            .signed_response()
    }

    /// Pushes `request` with `grants`, follows the provider's redirects to the callback and
    /// checks it: the URL the user was sent to, and the code to exchange.
    async fn authorize(
        &self,
        grants: &Grants,
        request: AuthorizationRequest,
    ) -> (String, CodeExchange) {
        let (url, pending) = grants.push_authorization(request, &self.par).await.unwrap();
        let url = url.to_string();
        let callback = follow_to_redirect_uri(&url, LOOPBACK_REDIRECT_URI).await;
        (url, pending.parse_callback(&callback).unwrap())
    }
}

type Grants = tower_oauth2::GrantClient<common::api::Http>;

/// The whole flow under the profile, for the ES256 and the PS256 client: the request is
/// pushed (the user is sent with `client_id` and `request_uri` only), the callback's `iss` and
/// `state` are checked, the code is exchanged with a DPoP proof and an assertion for the
/// issuer, and the token is bound to the DPoP key. Through the layer, userinfo (which checks the binding) answers; after a
/// refresh (the refresh token is bound to the key too) it answers again, with the new token.
#[tokio::test(flavor = "multi_thread")]
async fn the_profiles_code_flow_completes_and_the_token_opens_userinfo() {
    bounded(async {
        let fapi = Fapi::start().await;
        for client_id in CLIENTS {
            let dpop = dpop_key();
            let grants = grants(&fapi.provider, fapi.client(client_id)).dpop(dpop.clone());

            let (url, exchange) = fapi
                .authorize(&grants, fapi.request(client_id, Some(&dpop)))
                .await;
            let query = url.split_once('?').unwrap().1;
            let names: Vec<_> = form_urlencoded::parse(query.as_bytes())
                .map(|(n, _)| n.into_owned())
                .collect();
            assert_eq!(names, ["client_id", "request_uri"], "{client_id}");
            let token = grants.exchange_code(exchange).await.unwrap();
            assert_eq!(token.token_type(), &TokenType::DPoP);
            assert_eq!(token.dpop_jkt(), Some(dpop.thumbprint().as_str()));
            let first = token.access_token().secret().to_owned();

            let source = TokenSource::builder()
                .token(token)
                .fetcher(grants.refresh_fetcher())
                .build()
                .await
                .unwrap();
            let api = through_layer(&fapi.provider, source.clone());
            let userinfo = fapi
                .metadata
                .userinfo_endpoint()
                .unwrap()
                .as_str()
                .to_owned();
            let (status, body) = call(&api, &userinfo).await.unwrap();
            assert_eq!(status, http::StatusCode::OK, "{body}");
            assert_eq!(body["sub"], TEST_USER, "{body}");

            let refreshed = source.refresh().await.unwrap();
            assert_ne!(refreshed.access_token().secret(), first);
            assert_eq!(refreshed.dpop_jkt(), Some(dpop.thumbprint().as_str()));
            let (status, body) = call(&api, &userinfo).await.unwrap();
            assert_eq!(status, http::StatusCode::OK, "{body}");
        }
    })
    .await;
}

/// FAPI 2.0 Message Signing: the pushed request is a signed request object (JAR, RFC 9101)
/// with the claims the profile checks (`aud` the issuer, `nbf`, `exp` at most an hour later),
/// signed with ES256 and with PS256, and asks for a signed response (JARM): the provider takes
/// the object, answers with an EdDSA-signed `response` that `IdTokenValidator` verifies with
/// its published keys, and the flow completes with a DPoP-bound token whose ID token
/// validates. A plain `code` and `state` in place of the signed response is refused.
#[tokio::test(flavor = "multi_thread")]
async fn message_signing_jar_and_jarm_complete_under_the_profile() {
    bounded(async {
        let fapi = Fapi::start().await;
        for client_id in CLIENTS {
            let dpop = dpop_key();
            let grants = grants(&fapi.provider, fapi.client(client_id)).dpop(dpop.clone());
            let request = fapi.message_signing_request(client_id, &dpop);
            let (url, pending) = grants.push_authorization(request, &fapi.par).await.unwrap();
            let callback = follow_to_redirect_uri(&url.to_string(), LOOPBACK_REDIRECT_URI).await;
            let query = callback.split_once('?').unwrap().1;
            let jwt = query_value(&callback, "response").expect("a signed response");
            let header: serde_json::Value = serde_json::from_slice(
                &URL_SAFE_NO_PAD
                    .decode(jwt.split('.').next().unwrap())
                    .unwrap(),
            )
            .unwrap();
            assert_eq!(header["alg"], "EdDSA", "{client_id}");
            assert_eq!(query.split('&').count(), 1, "{client_id}: only `response`");
            let validator =
                IdTokenValidator::from_metadata(http(), &fapi.metadata, client_id).unwrap();
            let exchange = validator
                .parse_signed_callback(pending, &callback)
                .await
                .unwrap();
            let (token, claims) = validator.exchange_code(&grants, exchange).await.unwrap();
            assert_eq!(token.dpop_jkt(), Some(dpop.thumbprint().as_str()));
            assert!(token.scope().unwrap().to_set().contains("api:read"));
            assert_eq!(claims.sub(), TEST_USER);
        }

        // The downgrade: the code and state of a real signed response, sent as plain
        // parameters, are refused before anything is exchanged.
        let client_id = FAPI2_CLIENT_ID;
        let dpop = dpop_key();
        let grants = grants(&fapi.provider, fapi.client(client_id)).dpop(dpop.clone());
        let request = fapi.message_signing_request(client_id, &dpop);
        let (url, pending) = grants.push_authorization(request, &fapi.par).await.unwrap();
        let state = pending.state().to_owned();
        let callback = follow_to_redirect_uri(&url.to_string(), LOOPBACK_REDIRECT_URI).await;
        let jwt = query_value(&callback, "response").unwrap();
        let payload = jwt.split('.').nth(1).unwrap();
        let claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(payload).unwrap()).unwrap();
        let code = claims["code"].as_str().unwrap();
        let plain = format!(
            "{LOOPBACK_REDIRECT_URI}?code={code}&state={state}&iss={}",
            form_urlencoded::byte_serialize(fapi.metadata.issuer().as_str().as_bytes())
                .collect::<String>()
        );
        let validator = IdTokenValidator::from_metadata(http(), &fapi.metadata, client_id).unwrap();
        let error = validator
            .parse_signed_callback(pending, &plain)
            .await
            .unwrap_err();
        assert!(
            matches!(
                error,
                SignedCallbackError::Callback(CallbackError::SignedResponseRequired)
            ),
            "{error}"
        );
    })
    .await;
}

/// What the profile forbids, refused by the provider: an authorization request sent through
/// the browser instead of pushed; a client assertion whose audience is the endpoint's URL
/// (`PrivateKeyJwt`'s default, RFC 7523) rather than the issuer (`invalid_client`); and a
/// flow without DPoP, whose code the token endpoint will not exchange for a bearer token
/// (`invalid_grant`). Each differs from the flow that completes above in that one point.
#[tokio::test(flavor = "multi_thread")]
async fn what_the_profile_forbids_is_refused() {
    bounded(async {
        let fapi = Fapi::start().await;
        let dpop = dpop_key();

        let (url, _) = fapi
            .request(FAPI2_CLIENT_ID, Some(&dpop))
            .build(&SystemRandom::new())
            .unwrap();
        let (error, description) = refusal_with_description(&url.to_string()).await;
        assert_eq!(error, "invalid_request");
        assert_eq!(description, "Pushed Authorization Request must be used");

        let endpoint_audience =
            Client::private_key_jwt(FAPI2_CLIENT_ID, client_key(FAPI2_CLIENT_ID));
        let error = grants(&fapi.provider, endpoint_audience)
            .dpop(dpop.clone())
            .push_authorization(fapi.request(FAPI2_CLIENT_ID, Some(&dpop)), &fapi.par)
            .await
            .unwrap_err();
        assert_eq!(
            error.error_code(),
            Some(&ErrorCode::InvalidClient),
            "{error}"
        );

        // A bearer token: the code flow without DPoP (no dpop_jkt, no proof at the exchange).
        let bearer = grants(&fapi.provider, fapi.client(FAPI2_CLIENT_ID));
        let (_, exchange) = fapi
            .authorize(&bearer, fapi.request(FAPI2_CLIENT_ID, None))
            .await;
        let error = bearer.exchange_code(exchange).await.unwrap_err();
        assert_eq!(
            error.error_code(),
            Some(&ErrorCode::InvalidGrant),
            "{error}"
        );
    })
    .await;
}
