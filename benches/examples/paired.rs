//! Paired timing: the ratios the issues ask for, measured so that a shared machine's drifting
//! load cancels out. Criterion times each benchmark for seconds, one after the other, so a
//! load change between two of them moves their ratio (runs on this machine disagreed by 25%).
//! Here every round times a short batch of each variant back to back, in an order that rotates
//! from round to round, and takes the ratio within the round; the median over the rounds is
//! reported, with its interquartile range.
//!
//! ```sh
//! cargo run --release -p benches --example paired -- oauth1 [ROUNDS]
//! cargo run --release -p benches --example paired -- oauth2 [ROUNDS]
//! ```
//!
//! `oauth1`: issue 2's ratio, oauth1-request's time over ours, signing Twitter's documented
//! request into a header value, with the documented nonce and with a fresh one (as in
//! `benches/oauth1_sign.rs`: oauth1-request gets its parameters already decoded).
//! `oauth2`: issue 5's ratio, the cost `OAuth2Layer` adds to a request with a fresh token over
//! the cost tower-http's `AddAuthorization` adds, both over the bare service (as in
//! `benches/oauth2_layer.rs`), for `RetryOn401::Never` and for the default.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::num::NonZeroU64;
use std::time::Instant;

use benches::api::{TOKEN, api, layer, send};
use benches::twitter::{
    BASE_STRING, BODY, CONSUMER_KEY, CONSUMER_SECRET, NONCE, SIGNATURE, SIGNATURE_ENC, STATUS,
    TIMESTAMP, TOKEN as OAUTH1_TOKEN, TOKEN_SECRET, URI, URI_NO_QUERY,
};
use hmac::digest::{FixedOutput, KeyInit, Update};
use http::{Method, Uri};
use oauth_core::oauth1::{Placement, SignOptions};
use tower::Layer;
use tower_http::auth::AddAuthorizationLayer;
use tower_oauth2::policy::RetryOn401;

/// Times `batch` calls of `f`, in nanoseconds per call.
fn time(batch: u32, f: &mut dyn FnMut()) -> f64 {
    let start = Instant::now();
    for _ in 0..batch {
        f();
    }
    start.elapsed().as_nanos() as f64 / f64::from(batch)
}

/// Runs `rounds` rounds over `variants` (rotating their order), returning each variant's
/// per-call time in each round.
fn rounds(rounds: usize, batch: u32, variants: &mut [&mut dyn FnMut()]) -> Vec<Vec<f64>> {
    let n = variants.len();
    // Warm-up: a few batches of each.
    for _ in 0..3 {
        for v in variants.iter_mut() {
            time(batch, *v);
        }
    }
    let mut times = vec![Vec::with_capacity(rounds); n];
    for round in 0..rounds {
        let mut this = vec![0.0; n];
        for k in 0..n {
            let i = (round + k) % n;
            this[i] = time(batch, variants[i]);
        }
        for (i, t) in this.into_iter().enumerate() {
            times[i].push(t);
        }
    }
    times
}

/// Median and quartiles.
fn quartiles(values: &mut [f64]) -> (f64, f64, f64) {
    values.sort_by(f64::total_cmp);
    let at = |q: f64| values[((values.len() - 1) as f64 * q).round() as usize];
    (at(0.25), at(0.5), at(0.75))
}

fn report(name: &str, mut ratios: Vec<f64>) {
    let (q1, median, q3) = quartiles(&mut ratios);
    println!("{name}: median {median:.2}x (interquartile {q1:.2}x to {q3:.2}x)");
}

fn median_of(name: &str, values: &[f64]) {
    let mut v = values.to_vec();
    let (_, median, _) = quartiles(&mut v);
    println!("  {name}: median {median:.1} ns");
}

fn oauth1(n: usize) {
    let signer = benches::twitter::signer();
    let uri: Uri = URI.parse().unwrap();
    let fixed = SignOptions::new().nonce(NONCE).timestamp(TIMESTAMP);
    let fresh = SignOptions::new();
    let token = oauth1_request::Token::from_parts(
        CONSUMER_KEY,
        CONSUMER_SECRET,
        OAUTH1_TOKEN,
        TOKEN_SECRET,
    );
    let params =
        oauth1_request::ParameterList::new(vec![("include_entities", "true"), ("status", STATUS)]);
    let mut theirs_fixed =
        oauth1_request::Builder::with_token(token, oauth1_request::HmacSha1::new());
    theirs_fixed
        .nonce(NONCE)
        .timestamp(NonZeroU64::new(TIMESTAMP))
        .version(true);
    let mut theirs_fresh =
        oauth1_request::Builder::with_token(token, oauth1_request::HmacSha1::new());
    theirs_fresh.version(true);
    // The same signature from both.
    let ours = signer
        .sign(&Method::POST, &uri, Some(BODY), &fixed, Placement::Header)
        .unwrap();
    assert!(ours.authorization().unwrap().contains(SIGNATURE_ENC));
    assert!(
        theirs_fixed
            .post(URI_NO_QUERY, &params)
            .contains(SIGNATURE_ENC)
    );

    let sign = |options: &SignOptions<'_>| {
        black_box(
            signer
                .sign(
                    &Method::POST,
                    black_box(&uri),
                    Some(black_box(BODY)),
                    options,
                    Placement::Header,
                )
                .unwrap()
                .into_header_value(),
        );
    };
    let mut ours_fixed = || sign(&fixed);
    let mut ours_fresh = || sign(&fresh);
    let mut their_fixed = || {
        black_box(theirs_fixed.post(black_box(URI_NO_QUERY), black_box(&params)));
    };
    let mut their_fresh = || {
        black_box(theirs_fresh.post(black_box(URI_NO_QUERY), black_box(&params)));
    };
    // Two yardsticks the issue measured on its own machine (HMAC-SHA1 alone over the base
    // string: ~0.32 us with RustCrypto's SHA-1, ~1.15 us with ring's), timed in the same
    // rounds, so the machine's speed relative to that one can be read off.
    let key = format!("{CONSUMER_SECRET}&{TOKEN_SECRET}");
    let keyed = <hmac::Hmac<sha1::Sha1> as KeyInit>::new_from_slice(key.as_bytes()).unwrap();
    let ring_key = ring::hmac::Key::new(ring::hmac::HMAC_SHA1_FOR_LEGACY_USE_ONLY, key.as_bytes());
    let rust_crypto = |mac: &hmac::Hmac<sha1::Sha1>| {
        let mut mac = mac.clone();
        mac.update(black_box(BASE_STRING.as_bytes()));
        mac.finalize_fixed()
    };
    let expected =
        base64::Engine::decode(&base64::engine::general_purpose::STANDARD, SIGNATURE).unwrap();
    assert_eq!(rust_crypto(&keyed)[..], expected[..]);
    assert_eq!(
        ring::hmac::sign(&ring_key, BASE_STRING.as_bytes()).as_ref(),
        &expected[..]
    );
    let mut hmac_rust_crypto = || {
        black_box(rust_crypto(black_box(&keyed)));
    };
    let mut hmac_ring = || {
        black_box(ring::hmac::sign(
            black_box(&ring_key),
            black_box(BASE_STRING.as_bytes()),
        ));
    };
    let t = rounds(
        n,
        2_000,
        &mut [
            &mut ours_fixed,
            &mut their_fixed,
            &mut ours_fresh,
            &mut their_fresh,
            &mut hmac_rust_crypto,
            &mut hmac_ring,
        ],
    );
    println!("oauth1 ({n} rounds of 2,000 signatures per variant)");
    median_of("ours, fixed nonce", &t[0]);
    median_of("oauth1-request, fixed nonce", &t[1]);
    median_of("ours, fresh nonce", &t[2]);
    median_of("oauth1-request, fresh nonce", &t[3]);
    median_of("HMAC-SHA1 alone, RustCrypto (pre-keyed)", &t[4]);
    median_of("HMAC-SHA1 alone, ring (pre-keyed)", &t[5]);
    report(
        "oauth1-request / ours, fixed nonce",
        (0..n).map(|r| t[1][r] / t[0][r]).collect(),
    );
    report(
        "oauth1-request / ours, fresh nonce",
        (0..n).map(|r| t[3][r] / t[2][r]).collect(),
    );
    // Ours on the issue's machine, scaled by each yardstick's time there over its time here
    // (RustCrypto HMAC 320 ns, ring HMAC 1,150 ns, oauth1-request ~1,100 ns).
    for (name, i, there) in [
        ("RustCrypto HMAC-SHA1", 4, 320.0),
        ("ring HMAC-SHA1", 5, 1_150.0),
        ("oauth1-request, fixed nonce", 1, 1_100.0),
    ] {
        let mut fixed: Vec<f64> = (0..n).map(|r| t[0][r] * there / t[i][r]).collect();
        let mut fresh: Vec<f64> = (0..n).map(|r| t[2][r] * there / t[i][r]).collect();
        let (_, fixed, _) = quartiles(&mut fixed);
        let (_, fresh, _) = quartiles(&mut fresh);
        println!(
            "  ours scaled to the issue's machine by {name}: {fixed:.0} ns fixed, {fresh:.0} ns fresh"
        );
    }
}

fn oauth2(n: usize) {
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let _guard = rt.enter();
    let mut bare = api();
    let mut add_auth = AddAuthorizationLayer::bearer(TOKEN).layer(api());
    let mut never = layer(&rt, RetryOn401::Never).layer(api());
    let mut default = layer(&rt, RetryOn401::InvalidToken).layer(api());
    let t = rounds(
        n,
        20_000,
        &mut [
            &mut || {
                send(&mut bare);
            },
            &mut || {
                send(&mut add_auth);
            },
            &mut || {
                send(&mut never);
            },
            &mut || {
                send(&mut default);
            },
        ],
    );
    println!("oauth2 ({n} rounds of 20,000 requests per variant)");
    median_of("bare service", &t[0]);
    median_of("AddAuthorization", &t[1]);
    median_of("OAuth2Layer, RetryOn401::Never", &t[2]);
    median_of("OAuth2Layer, default", &t[3]);
    let added = |i: usize, r: usize| t[i][r] - t[0][r];
    report(
        "added cost, RetryOn401::Never / AddAuthorization",
        (0..n).map(|r| added(2, r) / added(1, r)).collect(),
    );
    report(
        "added cost, default / AddAuthorization",
        (0..n).map(|r| added(3, r) / added(1, r)).collect(),
    );
}

fn main() {
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_else(|| "oauth1".into());
    let n: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(200);
    match which.as_str() {
        "oauth1" => oauth1(n),
        "oauth2" => oauth2(n),
        other => panic!("unknown comparison {other}: oauth1 or oauth2"),
    }
}
