//! Smoke tests of the `oidc-provider` OAuth 2 test server and its harness.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use base64::Engine;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use common::{blocking, form, get, post_form};
use http::StatusCode;
use interop_tests::oidc::{
    BASIC_CLIENT_ID, BASIC_CLIENT_SECRET, BASIC_SPECIAL_CLIENT_ID, BASIC_SPECIAL_CLIENT_SECRET,
    LOOPBACK_REDIRECT_URI, POST_CLIENT_ID, POST_CLIENT_SECRET, PUBLIC_CLIENT_ID,
};
use interop_tests::{OidcOptions, OidcProvider};
use sha2::{Digest, Sha256};

/// Bound for each test as a whole.
const TEST_TIMEOUT: Duration = Duration::from_secs(120);
// A server that does not start is reported by the harness with its log (after at most
// READY_TIMEOUT), not cut short by the test's own bound.
const _: () = assert!(TEST_TIMEOUT.as_secs() >= interop_tests::READY_TIMEOUT.as_secs() + 30);

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

async fn start(options: OidcOptions) -> OidcProvider {
    blocking(move || OidcProvider::start(options))
        .await
        .unwrap()
}

/// RFC 6749 §2.3.1: id and secret form-encoded, then base64.
fn basic(id: &str, secret: &str) -> String {
    let enc = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    format!(
        "Basic {}",
        STANDARD.encode(format!("{}:{}", enc(id), enc(secret)))
    )
}

#[tokio::test(flavor = "multi_thread")]
async fn discovery_names_the_real_issuer() {
    bounded(async {
        let provider = start(OidcOptions::default()).await;
        let response = get(&provider.discovery_url(), &[]).await;
        assert_eq!(response.status, StatusCode::OK);
        let doc = response.json();
        assert_eq!(doc["issuer"], provider.issuer());
        assert_eq!(doc["token_endpoint"], provider.token_endpoint());
        assert_eq!(
            doc["authorization_endpoint"],
            provider.authorization_endpoint()
        );
        assert_eq!(
            doc["introspection_endpoint"],
            provider.introspection_endpoint()
        );
        assert_eq!(doc["revocation_endpoint"], provider.revocation_endpoint());
        assert_eq!(
            doc["code_challenge_methods_supported"],
            serde_json::json!(["S256"])
        );
        let grants = doc["grant_types_supported"].as_array().unwrap();
        assert!(grants.iter().any(|g| g == "client_credentials"));
        assert!(grants.iter().any(|g| g == "refresh_token"));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn client_credentials_token_opens_the_resource_and_a_bogus_one_does_not() {
    bounded(async {
        let provider =
            start(OidcOptions::default().access_token_ttl(Duration::from_secs(60))).await;
        let auth = basic(BASIC_CLIENT_ID, BASIC_CLIENT_SECRET);
        let body = form(&[("grant_type", "client_credentials"), ("scope", "api:read")]);
        let response = post_form(
            &provider.token_endpoint(),
            &[("authorization", &auth)],
            body,
        )
        .await;
        assert_eq!(response.status, StatusCode::OK, "{response:?}");
        let token = response.json();
        assert_eq!(token["token_type"], "Bearer");
        assert_eq!(token["expires_in"], 60);
        let access_token = token["access_token"].as_str().unwrap().to_owned();

        let bearer = format!("Bearer {access_token}");
        let ok = get(&provider.resource_url(), &[("authorization", &bearer)]).await;
        assert_eq!(ok.status, StatusCode::OK, "{ok:?}");
        let ok = ok.json();
        assert_eq!(ok["client_id"], BASIC_CLIENT_ID);
        assert_eq!(ok["scope"], "api:read");
        assert_eq!(ok["kind"], "client_credentials");

        let bogus = get(
            &provider.resource_url(),
            &[("authorization", "Bearer bogus-token")],
        )
        .await;
        assert_eq!(bogus.status, StatusCode::UNAUTHORIZED);
        let challenge = bogus.header("www-authenticate").unwrap();
        assert!(challenge.starts_with("Bearer "), "{challenge}");
        assert!(challenge.contains("error=\"invalid_token\""), "{challenge}");

        let none = get(&provider.resource_url(), &[]).await;
        assert_eq!(none.status, StatusCode::UNAUTHORIZED);
        assert!(none.header("www-authenticate").is_some());

        let stats = get(&provider.stats_url(), &[]).await.json();
        assert_eq!(stats["token_requests"], 1, "{stats}");
        assert_eq!(stats["grant_client_credentials_ok"], 1, "{stats}");

        // Introspection (RFC 7662) sees it; after revocation (RFC 7009) it is gone.
        let body = form(&[("token", &access_token)]);
        let introspection = post_form(
            &provider.introspection_endpoint(),
            &[("authorization", &auth)],
            body.clone(),
        )
        .await;
        assert_eq!(introspection.status, StatusCode::OK, "{introspection:?}");
        assert_eq!(introspection.json()["active"], true);
        let revoked = post_form(
            &provider.revocation_endpoint(),
            &[("authorization", &auth)],
            body,
        )
        .await;
        assert_eq!(revoked.status, StatusCode::OK, "{revoked:?}");
        let after = get(&provider.resource_url(), &[("authorization", &bearer)]).await;
        assert_eq!(after.status, StatusCode::UNAUTHORIZED);
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn post_auth_and_form_encoded_basic_secrets_work() {
    bounded(async {
        let provider = start(OidcOptions::default()).await;
        let body = form(&[
            ("grant_type", "client_credentials"),
            ("client_id", POST_CLIENT_ID),
            ("client_secret", POST_CLIENT_SECRET),
        ]);
        let post = post_form(&provider.token_endpoint(), &[], body).await;
        assert_eq!(post.status, StatusCode::OK, "{post:?}");

        let body = form(&[("grant_type", "client_credentials")]);
        let auth = basic(BASIC_SPECIAL_CLIENT_ID, BASIC_SPECIAL_CLIENT_SECRET);
        let special = post_form(
            &provider.token_endpoint(),
            &[("authorization", &auth)],
            body.clone(),
        )
        .await;
        assert_eq!(special.status, StatusCode::OK, "{special:?}");

        // The same secret without the §2.3.1 form-encoding is refused.
        let raw = format!(
            "Basic {}",
            STANDARD.encode(format!(
                "{BASIC_SPECIAL_CLIENT_ID}:{BASIC_SPECIAL_CLIENT_SECRET}"
            ))
        );
        let refused = post_form(&provider.token_endpoint(), &[("authorization", &raw)], body).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{refused:?}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn access_tokens_expire_after_the_configured_ttl() {
    bounded(async {
        let provider = start(OidcOptions::default().access_token_ttl(Duration::from_secs(1))).await;
        let auth = basic(BASIC_CLIENT_ID, BASIC_CLIENT_SECRET);
        let body = form(&[("grant_type", "client_credentials")]);
        let token = post_form(
            &provider.token_endpoint(),
            &[("authorization", &auth)],
            body,
        )
        .await
        .json();
        assert_eq!(token["expires_in"], 1);
        let bearer = format!("Bearer {}", token["access_token"].as_str().unwrap());
        tokio::time::sleep(Duration::from_millis(2100)).await;
        let expired = get(&provider.resource_url(), &[("authorization", &bearer)]).await;
        assert_eq!(expired.status, StatusCode::UNAUTHORIZED);
        assert!(
            expired
                .header("www-authenticate")
                .unwrap()
                .contains("invalid_token")
        );
    })
    .await;
}

/// The authorization code flow with PKCE needs no browser and no cookie jar: follow the
/// 303s to the redirect URI. Then refresh once (rotated) and replay the old refresh
/// token (refused).
#[tokio::test(flavor = "multi_thread")]
async fn code_flow_by_following_redirects_then_rotating_refresh() {
    bounded(async {
        let provider =
            start(OidcOptions::default().access_token_ttl(Duration::from_secs(60))).await;
        let verifier = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk0123456789";
        let challenge = URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.as_bytes()));
        let query = form(&[
            ("response_type", "code"),
            ("client_id", PUBLIC_CLIENT_ID),
            ("redirect_uri", LOOPBACK_REDIRECT_URI),
            ("scope", "openid api:read"),
            ("state", "st-123"),
            ("code_challenge", &challenge),
            ("code_challenge_method", "S256"),
        ]);
        let mut url = format!("{}?{query}", provider.authorization_endpoint());
        let mut hops = 0;
        let location = loop {
            let response = get(&url, &[]).await;
            assert_eq!(
                response.status,
                StatusCode::SEE_OTHER,
                "{url}: {response:?}"
            );
            let location = response.header("location").unwrap().to_owned();
            if location.starts_with(LOOPBACK_REDIRECT_URI) {
                break location;
            }
            url = if location.starts_with('/') {
                provider.url(&location)
            } else {
                location
            };
            hops += 1;
            assert!(hops < 5, "too many redirects");
        };
        let params: std::collections::HashMap<String, String> =
            form_urlencoded::parse(location.split_once('?').unwrap().1.as_bytes())
                .into_owned()
                .collect();
        assert_eq!(params["state"], "st-123");
        assert_eq!(params["iss"], provider.issuer());

        let body = form(&[
            ("grant_type", "authorization_code"),
            ("code", &params["code"]),
            ("redirect_uri", LOOPBACK_REDIRECT_URI),
            ("code_verifier", verifier),
            ("client_id", PUBLIC_CLIENT_ID),
        ]);
        let tokens = post_form(&provider.token_endpoint(), &[], body).await;
        assert_eq!(tokens.status, StatusCode::OK, "{tokens:?}");
        let tokens = tokens.json();
        let refresh = tokens["refresh_token"].as_str().unwrap().to_owned();
        let bearer = format!("Bearer {}", tokens["access_token"].as_str().unwrap());
        let me = get(&provider.resource_url(), &[("authorization", &bearer)])
            .await
            .json();
        assert_eq!(me["sub"], "interop-user");
        assert_eq!(me["client_id"], PUBLIC_CLIENT_ID);

        let refresh_body = form(&[
            ("grant_type", "refresh_token"),
            ("refresh_token", &refresh),
            ("client_id", PUBLIC_CLIENT_ID),
        ]);
        let rotated = post_form(&provider.token_endpoint(), &[], refresh_body.clone()).await;
        assert_eq!(rotated.status, StatusCode::OK, "{rotated:?}");
        assert_ne!(rotated.json()["refresh_token"].as_str().unwrap(), refresh);

        let reused = post_form(&provider.token_endpoint(), &[], refresh_body).await;
        assert_eq!(reused.status, StatusCode::BAD_REQUEST);
        assert_eq!(reused.json()["error"], "invalid_grant");

        let stats = get(&provider.stats_url(), &[]).await.json();
        assert_eq!(stats["grant_refresh_token_ok"], 1, "{stats}");
        assert_eq!(stats["grant_refresh_token_error"], 1, "{stats}");
        assert_eq!(stats["token_requests"], 3, "{stats}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn dropping_the_server_stops_it() {
    bounded(async {
        let provider = start(OidcOptions::default()).await;
        let port = provider.port();
        let pid = provider.pid();
        blocking(move || drop(provider)).await;
        assert!(std::net::TcpStream::connect(("127.0.0.1", port)).is_err());
        if cfg!(target_os = "linux") {
            assert!(!std::path::Path::new(&format!("/proc/{pid}")).exists());
        }
    })
    .await;
}
