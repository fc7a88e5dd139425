//! The JWS algorithms beyond RS256 and ES256, against the real npm `oidc-provider`: ID tokens
//! signed with ES384, PS384, RS512, EdDSA and Ed25519 (the `interop-idtoken-*` clients'
//! `id_token_signed_response_alg`, keys generated per run and published in the provider's JWK
//! set) verified with `IdTokenValidator`; DPoP with an Ed25519 key (`EdDSA` proofs); and
//! `private_key_jwt` with an Ed25519 key. Loopback only; every test is bounded in time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, SystemTime};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::api::{Server, bounded, call, http, stat, stats, through_layer};
use common::code_flow::{self, authorize_with};
use common::scenarios::grants;
use common::{form, post_form};
use http::StatusCode;
use interop_tests::OidcProvider;
use interop_tests::oidc::{
    BASIC_CLIENT_ID, BASIC_CLIENT_SECRET, ID_TOKEN_ALG_CLIENT_SECRET, ID_TOKEN_ALG_CLIENTS,
    LOOPBACK_REDIRECT_URI, PRIVATE_KEY_JWT_EDDSA_CLIENT_ID, TEST_USER,
};
use oauth_core::oauth2::oidc::{IdTokenError, IdTokenVerifier};
use oauth_core::oauth2::{Client, DpopKey, Ed25519PrivateKey, ErrorCode, PrivateKeyJwt, Scope};
use oauth_core::secret::{ClientSecret, IdToken};
use serde_json::Value;
use tower_oauth2::TokenSource;
use tower_oauth2::client::{IdTokenValidationError, IdTokenValidator};

async fn start() -> OidcProvider {
    OidcProvider::start_with_token_lifetime(Duration::from_secs(60)).await
}

/// The test Ed25519 key of `keys/` (the `interop-pkjwt-eddsa` client's registered key).
fn ed25519_key() -> Ed25519PrivateKey {
    let pem = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/keys/ed25519_pkcs8.pem"
    ))
    .unwrap();
    Ed25519PrivateKey::from_pem(&pem).unwrap()
}

/// The JSON of part `i` (0 header, 1 claims) of a compact JWS.
fn part(jws: &str, i: usize) -> Value {
    let segment = jws.split('.').nth(i).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).unwrap()).unwrap()
}

/// `jws` with its claims replaced by `edit`'s version, the header and signature kept.
fn with_claims(jws: &str, edit: impl FnOnce(&mut Value)) -> IdToken {
    let mut claims = part(jws, 1);
    edit(&mut claims);
    let mut parts: Vec<String> = jws.split('.').map(str::to_owned).collect();
    parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
    IdToken::new(parts.join("."))
}

/// OpenID Connect with each algorithm oidc-provider signs ID tokens with besides RS256: for
/// every `interop-idtoken-*` client, the code flow's ID token carries the client's registered
/// `alg` and the `kid` of the provider's key for it, and verifies with the JWK set from
/// discovery's `jwks_uri` (`IdTokenValidator`: issuer, audience, expiry, nonce), also with the
/// verifier pinned to the alg. The same token with a changed claim is `BadSignature`, and a
/// verifier pinned to another alg refuses it (`UnsupportedAlgorithm`). Discovery lists each
/// alg in `id_token_signing_alg_values_supported`.
#[tokio::test(flavor = "multi_thread")]
async fn id_tokens_signed_with_es384_ps384_rs512_eddsa_and_ed25519_verify() {
    bounded(async {
        let provider = start().await;
        let metadata = code_flow::metadata(&provider).await;
        let listed = metadata.id_token_signing_alg_values_supported();
        let jwks_uri = metadata.jwks_uri().unwrap().clone();
        for &(alg, client_id) in ID_TOKEN_ALG_CLIENTS {
            assert!(listed.iter().any(|a| a == alg), "{alg} in {listed:?}");
            let exchange = authorize_with(
                &provider,
                client_id,
                LOOPBACK_REDIRECT_URI,
                &provider.issuer(),
                |request| request.oidc_nonce(),
            )
            .await
            .unwrap();
            let nonce = exchange.nonce().unwrap().to_owned();
            let client =
                Client::secret_basic(client_id, ClientSecret::new(ID_TOKEN_ALG_CLIENT_SECRET));
            let token = grants(&provider, client)
                .exchange_code(exchange)
                .await
                .unwrap();
            let id_token = token.id_token().unwrap();
            let header = part(id_token.secret(), 0);
            assert_eq!(header["alg"], alg, "{header}");
            let kid = match alg {
                "EdDSA" | "Ed25519" => "interop-ed25519".to_owned(),
                _ => format!("interop-{}", alg.to_ascii_lowercase()),
            };
            assert_eq!(header["kid"], kid.as_str(), "{header}");

            let validator = IdTokenValidator::from_metadata(http(), &metadata, client_id).unwrap();
            let claims = validator
                .validate_token(&token, Some(&nonce))
                .await
                .unwrap_or_else(|e| panic!("{alg}: {e}"));
            assert_eq!(claims.algorithm(), alg);
            assert_eq!(claims.sub(), TEST_USER);
            assert_eq!(claims.aud(), [client_id]);
            assert!(claims.expires_at() > SystemTime::now());

            let pinned = IdTokenVerifier::new(metadata.issuer().clone(), client_id)
                .expect_algorithm(alg)
                .unwrap();
            let pinned = IdTokenValidator::new(http(), jwks_uri.clone(), pinned);
            assert!(
                pinned.validate(id_token, Some(&nonce)).await.is_ok(),
                "{alg}"
            );
            let other = if alg == "ES384" { "RS512" } else { "ES384" };
            let elsewhere = IdTokenVerifier::new(metadata.issuer().clone(), client_id)
                .expect_algorithm(other)
                .unwrap();
            let elsewhere = IdTokenValidator::new(http(), jwks_uri.clone(), elsewhere);
            assert!(
                matches!(
                    elsewhere.validate(id_token, Some(&nonce)).await,
                    Err(IdTokenValidationError::Invalid(
                        IdTokenError::UnsupportedAlgorithm
                    ))
                ),
                "{alg} pinned to {other}"
            );

            let tampered = with_claims(id_token.secret(), |c| c["sub"] = "someone-else".into());
            let refused = validator.validate(&tampered, Some(&nonce)).await;
            assert!(
                matches!(
                    refused,
                    Err(IdTokenValidationError::Invalid(IdTokenError::BadSignature))
                ),
                "{alg}: {refused:?}"
            );
        }
    })
    .await;
}

/// DPoP (RFC 9449) with an Ed25519 key: oidc-provider lists `EdDSA` for DPoP; the code is
/// bound to the key (`dpop_jkt`), the token comes back DPoP-bound to it (introspection's
/// `cnf.jkt` is our RFC 7638 thumbprint of the OKP JWK), and the provider's userinfo endpoint,
/// which verifies each `EdDSA` proof against the token's binding, answers the layer's call.
#[tokio::test(flavor = "multi_thread")]
async fn dpop_with_an_ed25519_key_binds_tokens_and_opens_userinfo() {
    bounded(async {
        let provider = start().await;
        let metadata = code_flow::metadata(&provider).await;
        let key = DpopKey::ed25519(ed25519_key());
        assert_eq!(key.algorithm(), "EdDSA");
        assert!(
            metadata
                .dpop_signing_alg_values_supported()
                .iter()
                .any(|a| a == "EdDSA")
                && metadata.accepts_dpop_key(&key)
        );
        // The code is bound to the key too (dpop_jkt, RFC 9449 §10), and the token.
        let (grants, token) = code_flow::dpop_bound_token(&provider, &key).await;

        let auth = format!(
            "Basic {}",
            STANDARD.encode(format!("{BASIC_CLIENT_ID}:{BASIC_CLIENT_SECRET}"))
        );
        let introspection = post_form(
            &provider.introspection_endpoint(),
            &[("authorization", &auth)],
            form(&[("token", token.access_token().secret())]),
        )
        .await
        .json();
        assert_eq!(introspection["active"], true, "{introspection}");
        assert_eq!(introspection["token_type"], "DPoP", "{introspection}");
        assert_eq!(
            introspection["cnf"]["jkt"],
            key.thumbprint(),
            "{introspection}"
        );

        let source = TokenSource::builder()
            .token(token)
            .fetcher(grants.refresh_fetcher())
            .build()
            .await
            .unwrap();
        let api = through_layer(&provider, source);
        let userinfo = metadata.userinfo_endpoint().unwrap().uri().to_string();
        let (status, body) = call(&api, &userinfo).await.unwrap();
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["sub"], TEST_USER, "{body}");
        let counts = stats(&provider).await;
        assert_eq!(stat(&counts, "userinfo_200"), 1, "{counts}");
    })
    .await;
}

/// `private_key_jwt` (RFC 7523) with an Ed25519 key: oidc-provider verifies our `EdDSA`
/// assertions against the OKP JWK registered for `interop-pkjwt-eddsa`
/// (`token_endpoint_auth_signing_alg` `EdDSA`), twice (two `jti`s); an assertion signed with
/// another Ed25519 key is `invalid_client`.
#[tokio::test(flavor = "multi_thread")]
async fn private_key_jwt_with_an_ed25519_key() {
    bounded(async {
        let provider = start().await;
        let key = PrivateKeyJwt::ed25519(ed25519_key()).key_id(PRIVATE_KEY_JWT_EDDSA_CLIENT_ID);
        let grants = grants(
            &provider,
            Client::private_key_jwt(PRIVATE_KEY_JWT_EDDSA_CLIENT_ID, key),
        );
        for _ in 0..2 {
            let token = grants
                .client_credentials(Some(&Scope::parse("api:read")))
                .await
                .unwrap();
            assert!(!token.access_token().secret().is_empty());
        }
        let (status, me) = call(
            &through_layer(
                &provider,
                TokenSource::builder()
                    .fetcher(grants.client_credentials_fetcher(Some(Scope::parse("api:read"))))
                    .build()
                    .await
                    .unwrap(),
            ),
            &provider.resource_url(),
        )
        .await
        .unwrap();
        assert_eq!(status, StatusCode::OK, "{me}");
        assert_eq!(me["client_id"], PRIVATE_KEY_JWT_EDDSA_CLIENT_ID);

        let pem = Ed25519PrivateKey::generate_pkcs8_pem().unwrap();
        let stranger = PrivateKeyJwt::ed25519(Ed25519PrivateKey::from_pem(&pem).unwrap())
            .key_id(PRIVATE_KEY_JWT_EDDSA_CLIENT_ID);
        let error = self::grants(
            &provider,
            Client::private_key_jwt(PRIVATE_KEY_JWT_EDDSA_CLIENT_ID, stranger),
        )
        .client_credentials(None)
        .await
        .unwrap_err();
        assert_eq!(error.oauth_error().unwrap().code, ErrorCode::InvalidClient);
        let counts = stats(&provider).await;
        assert_eq!(stat(&counts, "grant_client_credentials_ok"), 3, "{counts}");
        assert_eq!(
            stat(&counts, "grant_client_credentials_error"),
            1,
            "{counts}"
        );
    })
    .await;
}
