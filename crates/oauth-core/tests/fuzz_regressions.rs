//! Inputs the fuzz targets in `fuzz/` found, kept as plain tests so they stay fixed.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use http::{Method, Uri};
use oauth_core::clock::{CountingRandom, ManualClock};
use oauth_core::oauth1::{
    ClientCredentials, IncomingRequest, Placement, SignOptions, Signer, SigningSecrets,
    UnverifiedRequest, VerifyKey,
};
use oauth_core::secret::ConsumerSecret;

/// `fuzz/fuzz_targets/oauth1_sign_verify.rs`: a clock at (or within the first second after) the
/// Unix epoch made the signer send `oauth_timestamp="0"`, which RFC 5849 §3.3 does not allow
/// ("a positive integer") and which our own verifier rejects as `InvalidTimestamp`. An RTC-less
/// device that boots at 1970-01-01T00:00:00 does exactly this. The timestamp must be at least 1.
#[test]
fn a_clock_at_the_epoch_still_signs_a_positive_timestamp() {
    let signer = Signer::builder(ClientCredentials::new("key", ConsumerSecret::new("cs")))
        .clock(ManualClock::at_unix_seconds(0))
        .random(CountingRandom::new(0))
        .build()
        .unwrap();
    assert!(signer.next_timestamp().unwrap() >= 1);
    let uri: Uri = "https://api.example.com/".parse().unwrap();
    let signed = signer
        .sign(
            &Method::GET,
            &uri,
            None,
            &SignOptions::new(),
            Placement::Header,
        )
        .unwrap();
    assert!(signed.timestamp() >= 1);
    let secret = ConsumerSecret::new("cs");
    let request = UnverifiedRequest::parse(
        IncomingRequest::new(&Method::GET, &uri).authorization(signed.authorization().unwrap()),
    )
    .unwrap();
    request
        .verify(VerifyKey::Secrets(SigningSecrets {
            consumer_secret: &secret,
            token_secret: None,
        }))
        .unwrap();
}
