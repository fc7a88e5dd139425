//! Signed authorization requests (JAR, RFC 9101) against the real npm `oidc-provider`
//! (`features.requestObjects`): the request objects `AuthorizationRequest::signed_request`
//! makes, with RS256, ES256 and EdDSA keys, are verified with the `private_key_jwt` clients'
//! registered keys; the code flow completes through the URL and through a pushed request
//! (RFC 9126 §3, the FAPI 2.0 Message Signing shape); parameters added outside the object are
//! ignored; an edited or foreign object is refused. Loopback only; every test is bounded in
//! time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::api::{Server, bounded, stat, stats};
use common::code_flow::{self, follow_to_redirect_uri, query_value, refusal};
use common::scenarios::grants;
use interop_tests::OidcProvider;
use interop_tests::oidc::{
    LOOPBACK_REDIRECT_URI, PRIVATE_KEY_JWT_CLIENT_ID, PRIVATE_KEY_JWT_EDDSA_CLIENT_ID,
    PRIVATE_KEY_JWT_ES256_CLIENT_ID,
};
use oauth_core::oauth1::RsaPrivateKey;
use oauth_core::oauth2::{
    AuthorizationRequest, Client, EcP256PrivateKey, Ed25519PrivateKey, PrivateKeyJwt, RedirectUri,
    Scope, Transport,
};
use serde_json::Value;

async fn start() -> OidcProvider {
    OidcProvider::start_with_token_lifetime(Duration::from_secs(60)).await
}

fn key_file(name: &str) -> String {
    std::fs::read_to_string(format!("{}/keys/{name}", env!("CARGO_MANIFEST_DIR"))).unwrap()
}

/// The three `private_key_jwt` clients and their keys (the public halves are their registered
/// `jwks`), each key named by its client id as `kid`.
fn signing_clients() -> Vec<(&'static str, PrivateKeyJwt)> {
    vec![
        (
            PRIVATE_KEY_JWT_CLIENT_ID,
            PrivateKeyJwt::rs256(
                RsaPrivateKey::from_pem(&key_file("rsa_private_pkcs8.pem")).unwrap(),
            )
            .key_id(PRIVATE_KEY_JWT_CLIENT_ID),
        ),
        (
            PRIVATE_KEY_JWT_ES256_CLIENT_ID,
            PrivateKeyJwt::es256(
                EcP256PrivateKey::from_pem(&key_file("ec_p256_pkcs8.pem")).unwrap(),
            )
            .key_id(PRIVATE_KEY_JWT_ES256_CLIENT_ID),
        ),
        (
            PRIVATE_KEY_JWT_EDDSA_CLIENT_ID,
            PrivateKeyJwt::ed25519(
                Ed25519PrivateKey::from_pem(&key_file("ed25519_pkcs8.pem")).unwrap(),
            )
            .key_id(PRIVATE_KEY_JWT_EDDSA_CLIENT_ID),
        ),
    ]
}

/// The authorization URL for `client_id`'s code flow (scope `openid api:read`, state, PKCE),
/// sent as a request object signed with `key`, and the flow waiting for its callback.
async fn signed_url(
    provider: &OidcProvider,
    client_id: &str,
    key: PrivateKeyJwt,
) -> (String, oauth_core::oauth2::PendingAuthorization) {
    code_flow::authorization_url(
        provider,
        client_id,
        LOOPBACK_REDIRECT_URI,
        &provider.issuer(),
        |request| request.signed_request(key),
    )
    .await
}

/// Follows `url` to the callback, exchanges the code with `client_id`'s assertion signed by
/// `key`, and returns the granted scope.
async fn complete(
    provider: &OidcProvider,
    url: &str,
    pending: oauth_core::oauth2::PendingAuthorization,
    client_id: &str,
    key: PrivateKeyJwt,
) -> std::collections::BTreeSet<String> {
    let callback = follow_to_redirect_uri(url, LOOPBACK_REDIRECT_URI).await;
    let exchange = pending.parse_callback(&callback).unwrap();
    let token = grants(provider, Client::private_key_jwt(client_id, key))
        .exchange_code(exchange)
        .await
        .unwrap();
    let scope = token.scope().unwrap().to_set();
    scope.into_iter().map(str::to_owned).collect()
}

fn query_names(url: &str) -> Vec<String> {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    form_urlencoded::parse(query.as_bytes())
        .map(|(n, _)| n.into_owned())
        .collect()
}

/// Discovery says the provider takes request objects, with each of our algorithms; the code
/// flow then runs for each client with a signed request (the URL carries only `client_id` and
/// `request`), the code is exchanged with the client's `private_key_jwt` assertion, and the
/// token has the scope the object asked for.
#[tokio::test(flavor = "multi_thread")]
async fn signed_requests_complete_the_code_flow_with_rs256_es256_and_eddsa() {
    bounded(async {
        let provider = start().await;
        let metadata = code_flow::metadata(&provider).await;
        assert!(metadata.request_parameter_supported());
        assert!(!metadata.require_signed_request_object());
        let algs = metadata.request_object_signing_alg_values_supported();
        for alg in ["RS256", "ES256", "EdDSA"] {
            assert!(algs.iter().any(|a| a == alg), "{alg}: {algs:?}");
        }
        for (client_id, key) in signing_clients() {
            let (url, pending) = signed_url(&provider, client_id, key.clone()).await;
            assert_eq!(query_names(&url), ["client_id", "request"], "{client_id}");
            let scope = complete(&provider, &url, pending, client_id, key).await;
            assert!(scope.contains("api:read"), "{client_id}: {scope:?}");
        }
        let counts = stats(&provider).await;
        assert_eq!(stat(&counts, "grant_authorization_code_ok"), 3, "{counts}");
    })
    .await;
}

/// What JAR is for: a scope and a redirect URI appended to the URL on its way through the
/// browser are not read (RFC 9101 §5): the callback goes to the signed `redirect_uri`, and the
/// token has the signed scope only.
#[tokio::test(flavor = "multi_thread")]
async fn parameters_outside_the_object_are_ignored() {
    bounded(async {
        let provider = start().await;
        let (client_id, key) = signing_clients().remove(1);
        let (url, pending) = signed_url(&provider, client_id, key.clone()).await;
        let elsewhere = provider.callback_url();
        let tampered = format!(
            "{url}&scope=openid%20api%3Awrite&redirect_uri={}&state=forged",
            form_urlencoded::byte_serialize(elsewhere.as_bytes()).collect::<String>()
        );
        let scope = complete(&provider, &tampered, pending, client_id, key).await;
        assert!(scope.contains("api:read"), "{scope:?}");
        assert!(!scope.contains("api:write"), "{scope:?}");
    })
    .await;
}

/// A request object whose claims were edited after signing (a wider scope), or one signed
/// with a key the provider does not know for the client, is `invalid_request_object`: nothing
/// reaches the user.
#[tokio::test(flavor = "multi_thread")]
async fn an_edited_or_foreign_request_object_is_refused() {
    bounded(async {
        let provider = start().await;
        let (client_id, key) = signing_clients().remove(0);
        let (url, _) = signed_url(&provider, client_id, key).await;
        let object = query_value(&url, "request").unwrap();
        let mut parts: Vec<String> = object.split('.').map(str::to_owned).collect();
        let mut claims: Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(&parts[1]).unwrap()).unwrap();
        claims["scope"] = "openid api:read api:write".into();
        parts[1] = URL_SAFE_NO_PAD.encode(claims.to_string());
        let edited = format!(
            "{}?client_id={client_id}&request={}",
            url.split_once('?').unwrap().0,
            parts.join(".")
        );
        assert_eq!(refusal(&edited).await, "invalid_request_object");

        let stranger = PrivateKeyJwt::rs256(
            RsaPrivateKey::from_pem(include_str!(
                "../../oauth-core/tests/vectors/oauth1/test_rsa_2048_pkcs8.pem"
            ))
            .unwrap(),
        )
        .key_id(client_id);
        let (url, _) = signed_url(&provider, client_id, stranger).await;
        assert_eq!(refusal(&url).await, "invalid_request_object");
        let counts = stats(&provider).await;
        assert_eq!(stat(&counts, "interaction_ok"), 0, "{counts}");
    })
    .await;
}

/// PAR with a request object (RFC 9126 §3; FAPI 2.0 Message Signing): the pushed body is the
/// signed object and the client's assertion; the user is sent with `client_id` and
/// `request_uri` only, and the flow completes.
#[tokio::test(flavor = "multi_thread")]
async fn a_pushed_signed_request_completes_the_code_flow() {
    bounded(async {
        let provider = start().await;
        let metadata = code_flow::metadata(&provider).await;
        let par = metadata
            .pushed_authorization_request_endpoint()
            .unwrap()
            .clone();
        let redirect =
            RedirectUri::with_transport(LOOPBACK_REDIRECT_URI, Transport::AllowLoopbackHttp)
                .unwrap();
        for (client_id, key) in signing_clients() {
            let grants = grants(&provider, Client::private_key_jwt(client_id, key.clone()));
            let request = AuthorizationRequest::from_metadata(&metadata, client_id, &redirect)
                .unwrap()
                .scope(Scope::parse("openid api:read"))
                .signed_request(key);
            let (url, pending) = grants.push_authorization(request, &par).await.unwrap();
            assert_eq!(
                query_names(&url.to_string()),
                ["client_id", "request_uri"],
                "{client_id}"
            );
            let callback = follow_to_redirect_uri(&url.to_string(), LOOPBACK_REDIRECT_URI).await;
            let exchange = pending.parse_callback(&callback).unwrap();
            let token = grants.exchange_code(exchange).await.unwrap();
            assert!(token.scope().unwrap().to_set().contains("api:read"));
        }
    })
    .await;
}
