//! Open findings from session 11's review A: each test fails on the current code and is ignored
//! until its fix lands (remove the `#[ignore]` then). Run them with `--ignored`.
//! Review A: OAuth 1.0a server-side verification. Each test here FAILS on the reviewed code and
//! documents a defect (see the session 11 note).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, UNIX_EPOCH};

use http::{Method, Uri};
use oauth_core::oauth1::*;
use oauth_core::secret::{ConsumerSecret, TokenSecret};

fn hmac_signer() -> Signer {
    Signer::builder(ClientCredentials::new("key", ConsumerSecret::new("cs")))
        .token(TokenCredentials::new("tok", TokenSecret::new("ts")))
        .build()
        .unwrap()
}

fn hmac_verify(req: UnverifiedRequest<'_>) -> Result<ProtocolParameters, VerifyError> {
    let cs = ConsumerSecret::new("cs");
    let ts = TokenSecret::new("ts");
    req.verify(VerifyKey::Secrets(SigningSecrets {
        consumer_secret: &cs,
        token_secret: Some(&ts),
    }))
}

/// Finding 3. RFC 5849 §3.4.1.1 step 1: "If the request uses a custom HTTP method, it MUST be
/// encoded (Section 3.6)". A custom method is an HTTP token, which may hold `!`, `&`, `%` and
/// other reserved characters; the base string writes it raw.
#[test]
#[ignore = "open finding (session 11 review A): fails until fixed; see the session note"]
fn custom_http_method_is_percent_encoded_in_the_base_string() {
    let method = Method::from_bytes(b"PROP!FIND&X").unwrap();
    let uri: Uri = "https://example.com/r".parse().unwrap();
    let header = "OAuth oauth_consumer_key=\"k\", oauth_nonce=\"n\", oauth_timestamp=\"1\", \
                  oauth_signature_method=\"HMAC-SHA1\", oauth_signature=\"x\"";
    let req = UnverifiedRequest::parse(IncomingRequest::new(&method, &uri).authorization(header))
        .unwrap();
    let base = req.base_string();
    assert!(
        base.starts_with("PROP%21FIND%26X&https%3A%2F%2Fexample.com%2Fr&"),
        "{base}"
    );
}

fn replay_params(nonce: &str, timestamp: u64) -> ProtocolParameters {
    let uri: Uri = "https://api.example.com/r".parse().unwrap();
    let header = format!(
        "OAuth oauth_consumer_key=\"key\", oauth_nonce=\"{nonce}\", oauth_timestamp=\"{timestamp}\", \
         oauth_signature_method=\"PLAINTEXT\", oauth_signature=\"cs%26\""
    );
    let req =
        UnverifiedRequest::parse(IncomingRequest::new(&Method::GET, &uri).authorization(&header))
            .unwrap();
    let cs = ConsumerSecret::new("cs");
    req.verify(VerifyKey::Secrets(SigningSecrets {
        consumer_secret: &cs,
        token_secret: None,
    }))
    .unwrap()
}

/// Finding 4. `ReplayGuard` docs: "Nonces are kept in memory while their timestamp is within
/// the window, then forgotten, and their timestamps refused from then on ... memory is bounded
/// by about twice the requests of two windows". The sweep only runs once the set has doubled
/// since the last sweep, so after a burst the nonces stay in memory indefinitely: here 2000
/// nonces whose timestamps left the window a day ago are still stored (the old request is
/// refused as `NonceReused`, i.e. found in the set, instead of by its timestamp) although only
/// one request arrived in the last two windows.
#[test]
#[ignore = "open finding (session 11 review A): fails until fixed; see the session note"]
fn replay_guard_forgets_nonces_after_their_window() {
    const T: u64 = 1_700_000_000;
    let guard = ReplayGuard::new(Duration::from_secs(300));
    for i in 0..2000 {
        guard
            .check(
                &replay_params(&format!("n{i}"), T),
                UNIX_EPOCH + Duration::from_secs(T),
            )
            .unwrap();
    }
    let later = T + 86_400;
    guard
        .check(
            &replay_params("fresh", later),
            UNIX_EPOCH + Duration::from_secs(later),
        )
        .unwrap();
    // A caller whose clock is behind (or a clock stepped back) replays an old request: per the
    // docs its nonce was forgotten and its timestamp is refused.
    assert_eq!(
        guard.check(&replay_params("n0", T), UNIX_EPOCH + Duration::from_secs(T)),
        Err(ReplayError::TimestampOutOfWindow),
        "the nonce is still in memory a day after its window"
    );
}
