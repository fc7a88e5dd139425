//! oauthlib's own OAuth 1 *client* against oauth-core's *verifier*: the provider-author side.
//!
//! The test starts two small hyper servers on `127.0.0.1:0` in this process that verify every
//! request the way a provider built on oauth-core would: `IncomingRequest::from_parts`,
//! `UnverifiedRequest::parse`, a look-up of the client's secret (or RSA public key) and the
//! token's secret, `verify`, then a `ReplayGuard` (five-minute window). The second server opts
//! in to PLAINTEXT over plain http (`dangerous_allow_plaintext_over_http`); the first does not.
//! Each answers 200 with a JSON of what it verified (client, token, method, placement, realm,
//! callback, whether a verifier came, path and the decoded non-`oauth_` parameters) or 401 with
//! the typed error's kind and text.
//!
//! `oauthlib_provider/client_probe.py`, run with the interop venv's Python (bounded, killed and
//! reaped with its process group on timeout), signs a matrix of requests with
//! `oauthlib.oauth1.Client` and sends them with `urllib`, printing one JSON line per request;
//! this test asserts each line: accepted rows are 200 and the server saw the parameters the
//! client sent (decoded by Python's `parse_qsl`, independently of oauthlib and of us); negative
//! rows are 401 with the expected error. Secrets are the oauthlib provider's built-in ones.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod loopback;

use std::collections::{BTreeMap, HashMap};
use std::fmt::Debug;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::header;
use interop_tests::oauthlib::{
    self, ACCESS_TOKEN, ACCESS_TOKEN_SECRET, CLIENT_KEY, CLIENT_SECRET, SPECIAL_ACCESS_TOKEN,
    SPECIAL_ACCESS_TOKEN_SECRET, SPECIAL_CLIENT_KEY, SPECIAL_CLIENT_SECRET,
};
use interop_tests::{crate_dir, ensure_installed, run_with_timeout};
use oauth_core::oauth1::{
    IncomingRequest, ReplayGuard, RsaPublicKey, SignatureMethod, SigningSecrets, UnverifiedRequest,
    VerifyKey,
};
use oauth_core::secret::{ConsumerSecret, TokenSecret};
use serde_json::{Value, json};

use loopback::{Received, respond};

/// Bound for the Python client (about 400 requests: ten seconds here, debug build).
const PROBE_TIMEOUT: Duration = Duration::from_secs(90);
/// Bound for the test after the install (`setup.sh` has its own bound): the probe is always
/// stopped by its own bound first, and reaped.
const TEST_TIMEOUT: Duration = Duration::from_secs(120);
const _: () = assert!(TEST_TIMEOUT.as_secs() >= PROBE_TIMEOUT.as_secs() + 20);
/// The servers' timestamp window.
const WINDOW: Duration = Duration::from_secs(300);

/// What a provider built on oauth-core keeps: clients, tokens, the RSA key, a replay guard.
struct Provider {
    allow_plaintext_over_http: bool,
    clients: HashMap<&'static str, ConsumerSecret>,
    /// token -> (client, secret).
    tokens: HashMap<&'static str, (&'static str, TokenSecret)>,
    rsa: RsaPublicKey,
    guard: ReplayGuard,
}

/// A refused request: the error's kind (its variant name) and its text.
struct Refusal {
    kind: String,
    message: String,
}

impl Refusal {
    fn typed(error: &(impl Debug + std::fmt::Display)) -> Self {
        // The variant's name: what precedes the first `(`, `{` or space of its Debug form.
        let debug = format!("{error:?}");
        let kind = debug
            .split(['(', '{', ' '])
            .next()
            .unwrap_or_default()
            .to_owned();
        Self {
            kind,
            message: error.to_string(),
        }
    }

    fn own(kind: &str, message: &str) -> Self {
        Self {
            kind: kind.to_owned(),
            message: message.to_owned(),
        }
    }
}

impl Provider {
    fn new(allow_plaintext_over_http: bool) -> Self {
        let pem = std::fs::read_to_string(oauthlib::rsa_public_key_path()).unwrap();
        Self {
            allow_plaintext_over_http,
            clients: HashMap::from([
                (CLIENT_KEY, ConsumerSecret::new(CLIENT_SECRET)),
                (
                    SPECIAL_CLIENT_KEY,
                    ConsumerSecret::new(SPECIAL_CLIENT_SECRET),
                ),
            ]),
            tokens: HashMap::from([
                (
                    ACCESS_TOKEN,
                    (CLIENT_KEY, TokenSecret::new(ACCESS_TOKEN_SECRET)),
                ),
                (
                    SPECIAL_ACCESS_TOKEN,
                    (
                        SPECIAL_CLIENT_KEY,
                        TokenSecret::new(SPECIAL_ACCESS_TOKEN_SECRET),
                    ),
                ),
            ]),
            rsa: RsaPublicKey::from_pem(&pem).unwrap(),
            guard: ReplayGuard::new(WINDOW),
        }
    }

    fn handle(&self, req: &Received) -> http::Response<http_body_util::Full<bytes::Bytes>> {
        match self.verify(req) {
            Ok(answer) => respond(200, "application/json", answer.to_string()),
            Err(refusal) => respond(
                401,
                "application/json",
                json!({"error": refusal.kind, "message": refusal.message}).to_string(),
            ),
        }
    }

    fn verify(&self, req: &Received) -> Result<Value, Refusal> {
        let incoming = IncomingRequest::from_parts(&req.parts, "http", &req.body);
        let mut unverified = UnverifiedRequest::parse(incoming).map_err(|e| Refusal::typed(&e))?;
        if self.allow_plaintext_over_http {
            unverified = unverified.dangerous_allow_plaintext_over_http();
        }
        let params = decoded_params(&unverified.normalized_parameters());
        let consumer_key = unverified.consumer_key();
        let consumer_secret = self
            .clients
            .get(consumer_key)
            .ok_or_else(|| Refusal::own("UnknownClient", "unknown oauth_consumer_key"))?;
        let token_secret = match unverified.token() {
            None => None,
            Some(token) => match self.tokens.get(token) {
                Some((client, secret)) if *client == consumer_key => Some(secret),
                _ => return Err(Refusal::own("UnknownToken", "unknown oauth_token")),
            },
        };
        let rsa = SignatureMethod::from_name(unverified.signature_method())
            .is_some_and(SignatureMethod::is_rsa);
        let key = if rsa {
            VerifyKey::Rsa(&self.rsa)
        } else {
            VerifyKey::Secrets(SigningSecrets {
                consumer_secret,
                token_secret,
            })
        };
        let verified = unverified.verify(key).map_err(|e| Refusal::typed(&e))?;
        self.guard
            .check(&verified, SystemTime::now())
            .map_err(|e| Refusal::typed(&e))?;
        Ok(json!({
            "consumer_key": verified.consumer_key(),
            "token": verified.token(),
            "signature_method": verified.signature_method(),
            "method": req.parts.method.as_str(),
            "placement": placement(req),
            "realm": verified.realm(),
            "callback": verified.callback(),
            // Whether it carried one (a verifier is a secret: never echoed).
            "has_verifier": verified.verifier().is_some(),
            "path": req.parts.uri.path(),
            "params": params,
        }))
    }
}

/// The non-`oauth_` parameters of normalised parameters (`a=b&c=d`, RFC 5849 §3.4.1.3.2),
/// decoded: what the signature covered.
fn decoded_params(normalized: &str) -> Vec<[String; 2]> {
    let decode = |s: &str| {
        percent_encoding::percent_decode_str(s)
            .decode_utf8()
            .unwrap()
            .into_owned()
    };
    normalized
        .split('&')
        .filter(|pair| !pair.is_empty())
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            [decode(name), decode(value)]
        })
        .filter(|[name, _]| !name.starts_with("oauth_"))
        .collect()
}

/// Where the protocol parameters were: `header`, `query` or `body`.
fn placement(req: &Received) -> &'static str {
    let oauth_header = req
        .parts
        .headers
        .get_all(header::AUTHORIZATION)
        .iter()
        .any(|v| {
            v.as_bytes()
                .get(..6)
                .is_some_and(|s| s.eq_ignore_ascii_case(b"OAuth "))
        });
    let in_query = form_urlencoded::parse(req.parts.uri.query().unwrap_or("").as_bytes())
        .any(|(name, _)| name == "oauth_signature");
    if oauth_header {
        "header"
    } else if in_query {
        "query"
    } else {
        "body"
    }
}

async fn start(allow_plaintext_over_http: bool) -> loopback::Server {
    let provider = Arc::new(Provider::new(allow_plaintext_over_http));
    loopback::serve(move |req| {
        let response = provider.handle(&req);
        async move { response }
    })
    .await
}

/// The `oauth_verifier` the probe sends in its token-credential rows.
const PROBE_VERIFIER: &str = "interop-verifier-1";

/// The secrets the answers must never contain (as is and percent-encoded).
fn secrets() -> Vec<String> {
    let mut all = Vec::new();
    for secret in [
        PROBE_VERIFIER,
        CLIENT_SECRET,
        SPECIAL_CLIENT_SECRET,
        ACCESS_TOKEN_SECRET,
        SPECIAL_ACCESS_TOKEN_SECRET,
    ] {
        all.push(secret.to_owned());
        all.push(oauth_core::encode::percent_encode(secret).into_owned());
    }
    all
}

fn sorted_pairs(value: &Value) -> Vec<(String, String)> {
    let mut pairs: Vec<(String, String)> = value
        .as_array()
        .unwrap_or_else(|| panic!("not a list of pairs: {value}"))
        .iter()
        .map(|pair| {
            (
                pair[0].as_str().unwrap().to_owned(),
                pair[1].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    pairs.sort();
    pairs
}

/// The path of `url` (`http://host:port/path?query`), as sent.
fn path_of(url: &str) -> &str {
    let after_scheme = url.split_once("://").unwrap().1;
    let path_and_query = &after_scheme[after_scheme.find('/').unwrap()..];
    path_and_query.split('?').next().unwrap()
}

/// Checks one line of the probe; returns a description of what is wrong, if anything.
fn check_row(row: &Value) -> Result<(), String> {
    let expect = row["expect"].as_str().unwrap();
    let status = row["status"].as_u64().unwrap();
    let answer = &row["answer"];
    if expect != "ok" {
        if status != 401 || answer["error"] != expect {
            return Err(format!("expected a 401 {expect}, got {status} {answer}"));
        }
        return Ok(());
    }
    if status != 200 {
        return Err(format!("expected 200, got {status} {answer}"));
    }
    for field in [
        "consumer_key",
        "token",
        "signature_method",
        "method",
        "placement",
        "realm",
        "callback",
        "has_verifier",
    ] {
        if answer[field] != row[field] {
            return Err(format!(
                "{field}: the client sent {}, the server saw {}",
                row[field], answer[field]
            ));
        }
    }
    let path = path_of(row["url"].as_str().unwrap());
    if answer["path"] != path {
        return Err(format!(
            "path: sent {path}, the server saw {}",
            answer["path"]
        ));
    }
    let (sent, seen) = (sorted_pairs(&row["sent"]), sorted_pairs(&answer["params"]));
    if sent != seen {
        return Err(format!(
            "parameters: sent {sent:?}, the server saw {seen:?}"
        ));
    }
    Ok(())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn oauthlib_client_requests_verify_with_oauth_core() {
    tokio::task::spawn_blocking(ensure_installed)
        .await
        .unwrap()
        .expect("installing the interop venv");
    tokio::time::timeout(TEST_TIMEOUT, run())
        .await
        .expect("the test did not finish in time");
}

async fn run() {
    let strict = start(false).await;
    let lenient = start(true).await;

    let mut command = std::process::Command::new(oauthlib::venv_python());
    command
        .arg("-u")
        .arg(
            crate_dir()
                .join("oauthlib_provider")
                .join("client_probe.py"),
        )
        .arg("--base-url")
        .arg(strict.origin())
        .arg("--plaintext-base-url")
        .arg(lenient.origin())
        .arg("--rsa-key")
        .arg(oauthlib::rsa_private_key_pkcs8_path());
    // Blocking (bounded, the process group killed and reaped on timeout), off the runtime's
    // threads so that the servers keep serving.
    let output = tokio::task::spawn_blocking(move || run_with_timeout(command, PROBE_TIMEOUT))
        .await
        .unwrap()
        .expect("running client_probe.py");
    let stdout = String::from_utf8(output.stdout).unwrap();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "client_probe.py failed ({}):\n{stderr}\n{stdout}",
        output.status
    );
    drop((strict, lenient));

    for secret in secrets() {
        assert!(
            !stdout.contains(&secret),
            "a secret appears in the probe's output or the servers' answers"
        );
    }

    let lines: Vec<Value> = stdout
        .lines()
        .map(|line| serde_json::from_str(line).unwrap_or_else(|e| panic!("{e}: {line}")))
        .collect();
    let (done, rows) = lines.split_last().expect("no output");
    assert_eq!(done["done"].as_u64(), Some(rows.len() as u64), "{stdout}");

    let mut failures = Vec::new();
    let mut by_expect: BTreeMap<&str, usize> = BTreeMap::new();
    for row in rows {
        *by_expect
            .entry(row["expect"].as_str().unwrap())
            .or_default() += 1;
        if let Err(problem) = check_row(row) {
            failures.push(format!(
                "{} ({} {}, body {}): {problem}",
                row["id"], row["method"], row["url"], row["body"]
            ));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} rows failed:\n{}",
        failures.len(),
        rows.len(),
        failures.join("\n")
    );

    // Every kind of row ran (a script that silently skipped a part would pass otherwise).
    let ids: Vec<&str> = rows.iter().map(|r| r["id"].as_str().unwrap()).collect();
    for method in [
        "HMAC-SHA1",
        "HMAC-SHA256",
        "HMAC-SHA512",
        "RSA-SHA1",
        "RSA-SHA256",
        "RSA-SHA512",
    ] {
        for placement in ["header", "query", "body"] {
            let prefix = format!("{method}/{placement}/");
            let n = ids.iter().filter(|id| id.starts_with(&prefix)).count();
            let want = if placement == "body" { 6 } else { 25 };
            assert_eq!(n, want, "rows {prefix}*");
        }
    }
    assert_eq!(
        by_expect,
        BTreeMap::from([
            ("InsecureTransport", 3),
            ("NonceReused", 6),
            // 12 tampered, 12 wrong secrets, 2 oauthlib-quirk rows (see client_probe.py).
            ("SignatureMismatch", 26),
            ("TimestampOutOfWindow", 4),
            ("UnknownClient", 1),
            ("ok", by_expect["ok"]),
        ]),
    );
    assert!(by_expect["ok"] >= 365, "{by_expect:?}");
}
