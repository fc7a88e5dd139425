//! Mutual TLS (RFC 8705) against the real npm `oidc-provider`: client authentication with a
//! CA-issued certificate (`tls_client_auth`) and with a self-signed one
//! (`self_signed_tls_client_auth`), certificate-bound access tokens, and the
//! `mtls_endpoint_aliases` from discovery. The certificate is presented by the hyper client's
//! rustls connector (the caller's connector: tower-oauth2 only names the method); the server
//! is oidc-provider's own HTTPS listener, which checks the certificate against the client's
//! registration and binds the tokens to it (`cnf.x5t#S256`), and its userinfo endpoint refuses
//! a bound token over a connection without that certificate.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use common::code_flow::{authorize, metadata};
use common::{assert_oauth_error, blocking, form, post_form};
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_rustls::HttpsConnector;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use interop_tests::oidc::{
    BASIC_CLIENT_ID, BASIC_CLIENT_SECRET, LOOPBACK_REDIRECT_URI, MTLS_CLIENT_ID,
    MTLS_SELF_SIGNED_CLIENT_ID, TEST_USER,
};
use interop_tests::{OidcOptions, OidcProvider};
use oauth_core::oauth2::{Client, Token};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use serde_json::Value;
use sha2::{Digest, Sha256};
use tower::{Layer, ServiceExt};
use tower_oauth2::{GrantClient, OAuth2Layer, TokenSource};

const TEST_TIMEOUT: Duration = Duration::from_secs(120);
// A server that does not start is reported by the harness with its log (after at most
// READY_TIMEOUT), not cut short by the test's own bound.
const _: () = assert!(TEST_TIMEOUT.as_secs() >= interop_tests::READY_TIMEOUT.as_secs() + 30);
const CALL_TIMEOUT: Duration = Duration::from_secs(10);

type Https = HyperClient<HttpsConnector<HttpConnector>, Full<Bytes>>;

/// Runs `f` within [`TEST_TIMEOUT`]. Installing the servers' packages comes first and is
/// not counted: on a fresh checkout `setup.sh` runs pip and npm (bounded by the harness
/// itself), which can take longer than a test.
async fn bounded<F: std::future::Future<Output = ()>>(f: F) {
    blocking(interop_tests::ensure_installed)
        .await
        .expect("installing the interop test servers");
    tokio::time::timeout(TEST_TIMEOUT, f)
        .await
        .expect("test took too long");
}

async fn start() -> OidcProvider {
    let options = OidcOptions::default().access_token_ttl(Duration::from_secs(60));
    blocking(move || OidcProvider::start(options))
        .await
        .unwrap()
}

fn mtls_file(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("keys/mtls")
        .join(name)
}

/// An HTTPS client that trusts the test CA and presents `identity` (certificate and key file
/// names in `keys/mtls`), if any: what an application builds for mutual TLS.
fn https(identity: Option<(&str, &str)>) -> Https {
    tls_client(identity, true, None)
}

/// An HTTPS client presenting `identity`, trusting the test CA or no one, and checking the
/// server's certificate against `server_name` instead of the URL's host when given.
fn tls_client(
    identity: Option<(&str, &str)>,
    trust_test_ca: bool,
    server_name: Option<&'static str>,
) -> Https {
    let mut roots = rustls::RootCertStore::empty();
    if trust_test_ca {
        for cert in CertificateDer::pem_file_iter(mtls_file("ca.pem")).unwrap() {
            roots.add(cert.unwrap()).unwrap();
        }
    }
    // rustls 0.23.48 deprecates the ring provider for lacking post-quantum key exchange; ring
    // is the workspace's crypto crate and this client only talks to a test server on loopback.
    #[allow(deprecated)]
    let provider = rustls::crypto::ring::default_provider();
    let builder = rustls::ClientConfig::builder_with_provider(Arc::new(provider))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots);
    let config = match identity {
        Some((cert, key)) => {
            let chain = CertificateDer::pem_file_iter(mtls_file(cert))
                .unwrap()
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            let key = PrivateKeyDer::from_pem_file(mtls_file(key)).unwrap();
            builder.with_client_auth_cert(chain, key).unwrap()
        }
        None => builder.with_no_client_auth(),
    };
    let builder = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(config)
        .https_only();
    let builder = match server_name {
        Some(name) => {
            builder.with_server_name_resolver(hyper_rustls::FixedServerNameResolver::new(
                rustls::pki_types::ServerName::try_from(name).unwrap(),
            ))
        }
        None => builder,
    };
    let connector = builder.enable_http1().build();
    HyperClient::builder(TokioExecutor::new()).build(connector)
}

fn ca_issued() -> Https {
    https(Some(("client.pem", "client_key.pem")))
}

fn self_signed() -> Https {
    https(Some((
        "self_signed_client.pem",
        "self_signed_client_key.pem",
    )))
}

/// `x5t#S256` of a certificate file: base64url(SHA-256(DER)) (RFC 8705 §3.1).
fn thumbprint(cert: &str) -> String {
    let der = CertificateDer::from_pem_file(mtls_file(cert)).unwrap();
    URL_SAFE_NO_PAD.encode(Sha256::digest(der.as_ref()))
}

/// The provider's view of a token (RFC 7662), asked by another client.
async fn introspect(provider: &OidcProvider, token: &Token) -> Value {
    let auth = format!(
        "Basic {}",
        base64::engine::general_purpose::STANDARD
            .encode(format!("{BASIC_CLIENT_ID}:{BASIC_CLIENT_SECRET}"))
    );
    post_form(
        &provider.introspection_endpoint(),
        &[("authorization", &auth)],
        form(&[("token", token.access_token().secret())]),
    )
    .await
    .json()
}

/// Client credentials over the provider's mutual-TLS alias, for both RFC 8705 methods: each
/// token is bound to the certificate that authenticated the client, and a client presenting
/// the other certificate (or none) is refused.
#[tokio::test(flavor = "multi_thread")]
async fn mutual_tls_clients_get_certificate_bound_tokens() {
    bounded(async {
        let provider = start().await;
        let metadata = metadata(&provider).await;
        assert!(metadata.tls_client_certificate_bound_access_tokens());
        let token_endpoint = metadata.mtls_token_endpoint().unwrap().clone();
        assert_eq!(
            token_endpoint.uri().to_string(),
            format!("{}/token", provider.mtls_base_url()),
            "the alias, not the plain-http token endpoint"
        );

        for (client, http, cert) in [
            (
                Client::tls_client_auth(MTLS_CLIENT_ID),
                ca_issued(),
                "client.pem",
            ),
            (
                Client::self_signed_tls_client_auth(MTLS_SELF_SIGNED_CLIENT_ID),
                self_signed(),
                "self_signed_client.pem",
            ),
        ] {
            let grants = GrantClient::new(http, token_endpoint.clone(), client.clone())
                .timeout(CALL_TIMEOUT);
            let token = grants.client_credentials(None).await.unwrap();
            let introspection = introspect(&provider, &token).await;
            assert_eq!(introspection["active"], true, "{introspection}");
            assert_eq!(introspection["client_id"], client.id(), "{introspection}");
            assert_eq!(
                introspection["cnf"]["x5t#S256"],
                thumbprint(cert),
                "{introspection}"
            );
        }

        // The wrong certificate, and no certificate at all: invalid_client.
        for (client, http) in [
            (Client::tls_client_auth(MTLS_CLIENT_ID), self_signed()),
            (
                Client::self_signed_tls_client_auth(MTLS_SELF_SIGNED_CLIENT_ID),
                ca_issued(),
            ),
            (Client::tls_client_auth(MTLS_CLIENT_ID), https(None)),
        ] {
            let error = GrantClient::new(http, token_endpoint.clone(), client)
                .timeout(CALL_TIMEOUT)
                .client_credentials(None)
                .await
                .unwrap_err();
            assert_oauth_error(&error, "invalid_client");
        }
    })
    .await;
}

/// The code flow for the `tls_client_auth` client (front channel over plain http, token
/// exchange over the mutual-TLS alias), then `OAuth2Layer` over the same mutual-TLS client
/// opens oidc-provider's userinfo endpoint with the certificate-bound token; the same token
/// over a TLS connection without the certificate is refused (`invalid_token`).
#[tokio::test(flavor = "multi_thread")]
async fn certificate_bound_tokens_work_only_with_their_certificate() {
    bounded(async {
        let provider = start().await;
        let metadata = metadata(&provider).await;
        let token_endpoint = metadata.mtls_token_endpoint().unwrap().clone();
        let userinfo = metadata
            .mtls_endpoint_alias("userinfo_endpoint")
            .unwrap()
            .uri()
            .to_string();

        let exchange = authorize(
            &provider,
            MTLS_CLIENT_ID,
            LOOPBACK_REDIRECT_URI,
            &provider.issuer(),
        )
        .await
        .unwrap();
        let grants = GrantClient::new(
            ca_issued(),
            token_endpoint,
            Client::tls_client_auth(MTLS_CLIENT_ID),
        )
        .timeout(CALL_TIMEOUT);
        let token = grants.exchange_code(exchange).await.unwrap();
        let source = TokenSource::builder()
            .token(token.clone())
            .fetcher(grants.refresh_fetcher())
            .build()
            .await
            .unwrap();

        let call = |api: tower_oauth2::OAuth2<Https>| {
            let request = Request::get(userinfo.as_str())
                .body(Full::default())
                .unwrap();
            async move {
                let response = tokio::time::timeout(CALL_TIMEOUT, api.oneshot(request))
                    .await
                    .expect("call timed out")
                    .unwrap();
                let status = response.status();
                let challenge = response
                    .headers()
                    .get("www-authenticate")
                    .map(|v| v.to_str().unwrap().to_owned());
                let body = response.into_body().collect().await.unwrap().to_bytes();
                (
                    status,
                    serde_json::from_slice::<Value>(&body).unwrap_or(Value::Null),
                    challenge,
                )
            }
        };
        let layer = OAuth2Layer::new(source.clone(), &provider.mtls_base_url()).unwrap();
        let (status, body, _) = call(layer.layer(ca_issued())).await;
        assert_eq!(status, StatusCode::OK, "{body}");
        assert_eq!(body["sub"], TEST_USER, "{body}");

        // The same token from a client that has no certificate: refused by the server.
        let without =
            OAuth2Layer::new(TokenSource::from_token(token), &provider.mtls_base_url()).unwrap();
        let (status, _, challenge) = call(without.layer(https(None))).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert!(
            challenge
                .as_deref()
                .unwrap_or_default()
                .contains("invalid_token"),
            "{challenge:?}"
        );
    })
    .await;
}

/// SECURITY.md §4.1 #8: the token endpoint's certificate is from a CA the client does not
/// trust, or is not for the name the client checks. The refresh fails as a transport error
/// naming the certificate problem, with no secret in any message; nothing falls back to
/// another transport, and the old token stays in the store.
#[tokio::test(flavor = "multi_thread")]
async fn tls_failures_at_the_token_endpoint_are_transport_errors_and_keep_the_token() {
    bounded(async {
        let provider = start().await;
        let metadata = metadata(&provider).await;
        let token_endpoint = metadata.mtls_token_endpoint().unwrap().clone();
        let old = Token::new(
            oauth_core::secret::AccessToken::new("SENTINEL-old-access"),
            oauth_core::oauth2::TokenType::Bearer,
        )
        .with_refresh_token(Some(oauth_core::secret::RefreshToken::new(
            "SENTINEL-old-refresh",
        )));
        for (case, http, expected) in [
            ("unknown CA", tls_client(None, false, None), "UnknownIssuer"),
            (
                "wrong host",
                tls_client(None, true, Some("wrong.example.com")),
                "NotValidForName",
            ),
        ] {
            let grants = GrantClient::new(
                http,
                token_endpoint.clone(),
                Client::secret_basic(
                    BASIC_CLIENT_ID,
                    oauth_core::secret::ClientSecret::new(BASIC_CLIENT_SECRET),
                ),
            )
            .timeout(CALL_TIMEOUT);
            let error = grants.client_credentials(None).await.unwrap_err();
            assert_eq!(
                error.kind(),
                tower_oauth2::client::GrantClientErrorKind::Transport,
                "{case}: {error}"
            );
            let chain = common::error_chain_text(&error);
            assert!(chain.contains(expected), "{case}: {chain}");

            let store = tower_oauth2::store::MemoryStore::with_token(old.clone());
            let source = TokenSource::builder()
                .store(store.clone())
                .fetcher(grants.refresh_fetcher())
                .build()
                .await
                .unwrap();
            let error = source.refresh().await.unwrap_err();
            assert_eq!(
                error.kind(),
                tower_oauth2::TokenErrorKind::Transient,
                "{case}: {error}"
            );
            let chain = format!(
                "{}\n{error:?}\n{source:?}",
                common::error_chain_text(&*error)
            );
            for secret in [
                BASIC_CLIENT_SECRET,
                "SENTINEL-old-access",
                "SENTINEL-old-refresh",
            ] {
                assert!(!chain.contains(secret), "{case}: a secret in {chain}");
            }
            let kept = store.get().unwrap();
            assert_eq!(
                kept.access_token().secret(),
                "SENTINEL-old-access",
                "{case}"
            );
            assert_eq!(
                kept.refresh_token().unwrap().secret(),
                "SENTINEL-old-refresh",
                "{case}"
            );
        }
    })
    .await;
}
