//! Smoke tests of the `oauthlib` OAuth 1.0a test provider and its harness.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{blocking, get, post_form};
use http::StatusCode;
use interop_tests::oauthlib::{
    self, ACCESS_TOKEN, CLIENT_KEY, Oauth1AccessToken, Oauth1Client, SPECIAL_ACCESS_TOKEN,
    SPECIAL_ACCESS_TOKEN_SECRET, SPECIAL_CLIENT_KEY, SPECIAL_CLIENT_SECRET,
};
use interop_tests::{OauthlibConfig, OauthlibProvider};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Bound for each test as a whole.
const TEST_TIMEOUT: Duration = Duration::from_secs(120);
// A server that does not start is reported by the harness with its log (after at most
// READY_TIMEOUT), not cut short by the test's own bound.
const _: () = assert!(TEST_TIMEOUT.as_secs() >= interop_tests::READY_TIMEOUT.as_secs() + 30);

/// RFC 5849 §3.6: everything but ALPHA, DIGIT and `-._~`.
const RFC5849: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

fn enc(s: &str) -> String {
    utf8_percent_encode(s, RFC5849).to_string()
}

fn now() -> String {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .to_string()
}

/// 24 alphanumerics, unique per call.
fn nonce() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    static N: AtomicU64 = AtomicU64::new(0);
    let n = N.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_nanos();
    format!("N{:011}{:012}", n, nanos % 1_000_000_000_000)
}

/// An Authorization header; values are percent-encoded here (RFC 5849 §3.5.1).
fn oauth_header(params: &[(&str, &str)]) -> String {
    let parts: Vec<String> = params
        .iter()
        .map(|(k, v)| format!("{k}=\"{}\"", enc(v)))
        .collect();
    format!("OAuth {}", parts.join(", "))
}

/// A PLAINTEXT-signed header (RFC 5849 §3.4.4): the "signature" is just the two
/// encoded secrets, so a test can make a valid request without a signer.
fn plaintext_header(client: &str, secret: &str, token: &str, token_secret: &str) -> String {
    let signature = format!("{}&{}", enc(secret), enc(token_secret));
    oauth_header(&[
        ("oauth_consumer_key", client),
        ("oauth_token", token),
        ("oauth_signature_method", "PLAINTEXT"),
        ("oauth_timestamp", &now()),
        ("oauth_nonce", &nonce()),
        ("oauth_version", "1.0"),
        ("oauth_signature", &signature),
    ])
}

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

#[tokio::test(flavor = "multi_thread")]
async fn provider_starts_and_refuses_unsigned_or_badly_signed_requests() {
    bounded(async {
        let provider = blocking(|| OauthlibProvider::start(None)).await.unwrap();
        assert_ne!(provider.port(), 0);

        let health = get(&provider.url("/health"), &[]).await;
        assert_eq!(health.status, StatusCode::OK);
        assert_eq!(health.body.trim(), "ok");

        // No OAuth parameters at all.
        let unsigned = post_form(
            &provider.url("/request_token"),
            &[],
            "oauth_callback=oob".into(),
        )
        .await;
        assert_eq!(unsigned.status, StatusCode::BAD_REQUEST, "{unsigned:?}");
        assert!(unsigned.body.contains("error="), "{unsigned:?}");

        // Everything present, signature wrong.
        let bad = oauth_header(&[
            ("oauth_consumer_key", CLIENT_KEY),
            ("oauth_signature_method", "HMAC-SHA1"),
            ("oauth_timestamp", &now()),
            ("oauth_nonce", &nonce()),
            ("oauth_version", "1.0"),
            ("oauth_callback", "oob"),
            ("oauth_signature", "bm90IGEgc2lnbmF0dXJl"),
        ]);
        let response = post_form(
            &provider.url("/request_token"),
            &[("authorization", &bad)],
            String::new(),
        )
        .await;
        assert_eq!(response.status, StatusCode::UNAUTHORIZED, "{response:?}");
        assert!(response.body.contains("signature"), "{response:?}");

        let resource = get(&provider.url("/resource"), &[]).await;
        assert_eq!(resource.status, StatusCode::UNAUTHORIZED);
        assert!(resource.header("www-authenticate").is_some());
        assert_eq!(resource.json()["error"], "invalid_request");

        let bad = plaintext_header(CLIENT_KEY, "wrong", ACCESS_TOKEN, "wrong");
        let resource = get(&provider.url("/resource/x"), &[("authorization", &bad)]).await;
        assert_eq!(resource.status, StatusCode::UNAUTHORIZED);
        assert_eq!(resource.json()["failed"], serde_json::json!(["signature"]));

        let bearer = get(&provider.url("/resource"), &[("authorization", "Bearer x")]).await;
        assert_eq!(bearer.status, StatusCode::UNAUTHORIZED);

        let missing = get(&provider.url("/nope"), &[]).await;
        assert_eq!(missing.status, StatusCode::NOT_FOUND);

        let stats = get(&provider.url("/test/stats"), &[]).await.json();
        assert_eq!(stats["request_token_fail"], 2, "{stats}");

        blocking(move || provider.stop()).await;
    })
    .await;
}

/// PLAINTEXT needs no signer, so the positive path is checked from Rust too: a valid
/// request to /resource, the unicode echo, and the refusal of its replay.
#[tokio::test(flavor = "multi_thread")]
async fn plaintext_resource_request_is_echoed_and_its_replay_refused() {
    bounded(async {
        let provider = blocking(|| OauthlibProvider::start(None)).await.unwrap();
        let header = plaintext_header(
            SPECIAL_CLIENT_KEY,
            SPECIAL_CLIENT_SECRET,
            SPECIAL_ACCESS_TOKEN,
            SPECIAL_ACCESS_TOKEN_SECRET,
        );
        let value = "caf\u{e9} \u{2603} a+b&c=%41";
        let url = provider.url(
            &format!("/resource/r\u{e9}sum\u{e9}?q={}&e=", enc(value)).replace('\u{e9}', "%C3%A9"),
        );
        let ok = get(&url, &[("authorization", &header)]).await;
        assert_eq!(ok.status, StatusCode::OK, "{ok:?}");
        let echo = ok.json();
        assert_eq!(echo["client_key"], SPECIAL_CLIENT_KEY);
        assert_eq!(echo["token"], SPECIAL_ACCESS_TOKEN);
        assert_eq!(echo["user"], oauthlib::TEST_USER);
        assert_eq!(echo["signature_method"], "PLAINTEXT");
        assert_eq!(echo["signature_type"], "auth_header");
        assert_eq!(echo["path"], "/resource/r%C3%A9sum%C3%A9");
        assert_eq!(echo["query"], serde_json::json!([["q", value], ["e", ""]]));

        let replay = get(&url, &[("authorization", &header)]).await;
        assert_eq!(replay.status, StatusCode::UNAUTHORIZED);
        assert_eq!(replay.json()["failed"], serde_json::json!(["nonce"]));
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn provider_takes_a_config_from_rust() {
    bounded(async {
        let mut config = OauthlibConfig::builtin();
        config.clients.push(Oauth1Client {
            key: "rust-client".into(),
            secret: Some("rust secret/\u{fc}".into()),
            rsa_public_key_file: Some("rsa_public.pem".into()),
            rsa_public_key: None,
            default_realms: vec![],
            callback_prefixes: None,
        });
        config.access_tokens.push(Oauth1AccessToken {
            client: "rust-client".into(),
            token: "rust-token".into(),
            secret: "rust token secret".into(),
            user: "someone".into(),
            realms: vec!["photos".into()],
        });
        let provider = blocking(move || OauthlibProvider::start(Some(&config)))
            .await
            .unwrap();
        let header = plaintext_header(
            "rust-client",
            "rust secret/\u{fc}",
            "rust-token",
            "rust token secret",
        );
        let ok = get(&provider.url("/resource"), &[("authorization", &header)]).await;
        assert_eq!(ok.status, StatusCode::OK, "{ok:?}");
        assert_eq!(ok.json()["user"], "someone");
        assert_eq!(ok.json()["realms"], serde_json::json!(["photos"]));
    })
    .await;
}

/// oauthlib's own client runs the whole protocol against the provider: every signature
/// method × placement, the three-legged dance with a callback and with oob, resource
/// GET/POST with unicode, replay, tampering, denial; and oauthlib's OAuth 2 clients through every
/// grant of the OAuth 2 endpoints with their negative cases. Proves the provider accepts correct
/// requests (and refuses bad ones) independently of our library.
#[tokio::test(flavor = "multi_thread")]
async fn oauthlib_client_selfcheck_passes() {
    bounded(async {
        let provider = blocking(|| OauthlibProvider::start(None)).await.unwrap();
        let (provider, output) = blocking(move || {
            let output = provider.run_selfcheck(Duration::from_secs(100));
            (provider, output)
        })
        .await;
        let output = output.unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(
            output.status.success(),
            "selfcheck failed ({}):\n{stdout}\n{stderr}\nprovider log: {}",
            output.status,
            provider.log_path().display()
        );
        let summary = stdout.lines().last().unwrap_or_default();
        assert!(summary.ends_with(" passed, 0 failed"), "{stdout}");
    })
    .await;
}

#[tokio::test(flavor = "multi_thread")]
async fn dropping_the_provider_stops_it() {
    bounded(async {
        let provider = blocking(|| OauthlibProvider::start(None)).await.unwrap();
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
