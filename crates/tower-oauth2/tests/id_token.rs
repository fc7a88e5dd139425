//! `IdTokenValidator`'s JWK set cache against a scripted `jwks_uri`, on tokio's paused clock:
//! fetched once, kept, and fetched again when a token needs a key the set does not have (key
//! rotation), at most once per cooldown. The claim
//! checks are oauth-core's (unit tests there); the real provider run is in `interop-tests`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http::{Method, Request, Response};
use http_body_util::Full;
use oauth_core::oauth2::oidc::{IdTokenError, IdTokenVerifier};
use oauth_core::oauth2::{
    DpopKey, EcP256PrivateKey, Endpoint, Issuer, PrivateKeyJwt, Token, TokenType,
};
use oauth_core::secret::{AccessToken, IdToken};
use tower_oauth2::client::{IdTokenValidationError, IdTokenValidator};

const PEM: &str = include_str!("../../oauth-core/tests/vectors/oauth1/test_ec_p256_pkcs8.pem");

#[tokio::test(start_paused = true)]
async fn the_key_set_is_cached_and_fetched_again_for_an_unknown_key() {
    let key = DpopKey::es256(EcP256PrivateKey::from_pem(PEM).unwrap());
    // The provider publishes no key at first, then (rotated) the key that signs.
    let fetches = Arc::new(AtomicUsize::new(0));
    let jwk = key.jwk();
    let counter = fetches.clone();
    let jwks_uri = tower::service_fn(move |req: Request<Full<Bytes>>| {
        assert_eq!(req.method(), Method::GET);
        assert_eq!(req.headers()["accept"], "application/json");
        let body = match counter.fetch_add(1, Ordering::SeqCst) {
            0 => r#"{"keys":[]}"#.to_owned(),
            _ => serde_json::json!({ "keys": [jwk] }).to_string(),
        };
        async move { Ok::<_, Infallible>(Response::new(Full::<Bytes>::from(body))) }
    });
    let validator = IdTokenValidator::new(
        jwks_uri,
        Endpoint::new("https://server.example.com/jwks").unwrap(),
        IdTokenVerifier::new(Issuer::new("https://server.example.com").unwrap(), "client"),
    );
    // An ES256 JWT made with the key: a private_key_jwt client assertion whose issuer is the
    // provider and whose audience is the client, which is all an ID token needs.
    let assertion = PrivateKeyJwt::es256(EcP256PrivateKey::from_pem(PEM).unwrap())
        .audience("client")
        .assertion("https://server.example.com", "unused")
        .unwrap();
    let token = IdToken::new(assertion.as_str());
    let check = |expect_ok: bool, fetched: usize| {
        let validator = validator.clone();
        let token = token.clone();
        let fetches = fetches.clone();
        async move {
            let result = validator.validate(&token, None).await;
            if expect_ok {
                assert_eq!(result.unwrap().sub(), "https://server.example.com");
            } else {
                assert!(
                    matches!(
                        result,
                        Err(IdTokenValidationError::Invalid(IdTokenError::UnknownKey))
                    ),
                    "{result:?}"
                );
            }
            assert_eq!(fetches.load(Ordering::SeqCst), fetched);
        }
    };
    // First use: the set is fetched; it does not have the key.
    check(false, 1).await;
    // Within the cooldown: no new fetch, however many tokens name unknown keys.
    check(false, 1).await;
    tokio::time::advance(tower_oauth2::client::REFETCH_COOLDOWN).await;
    // After it: fetched again, and the rotated key verifies the token.
    check(true, 2).await;
    // The new set is kept.
    check(true, 2).await;

    // A token response: its ID token is validated (this one has no at_hash to check the
    // access token against); a response without one is refused as such.
    let response = Token::new(AccessToken::new("at"), TokenType::Bearer).with_id_token(Some(token));
    let claims = validator.validate_token(&response, None).await.unwrap();
    assert_eq!(claims.sub(), "https://server.example.com");
    let no_id_token = Token::new(AccessToken::new("at"), TokenType::Bearer);
    assert!(matches!(
        validator.validate_token(&no_id_token, None).await,
        Err(IdTokenValidationError::Missing)
    ));
    assert_eq!(fetches.load(Ordering::SeqCst), 2);
}
