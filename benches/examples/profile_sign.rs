//! A fixed-iteration loop over one signer, for `perf stat` / `perf record` (criterion runs a
//! variable number of iterations, which makes instruction counts hard to compare).
//!
//! `cargo run --release -p benches --example profile_sign -- ours 1000000`
//! (`ours`, `ours-fresh`, `oauth1-request` or `hmac`).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::num::NonZeroU64;
use std::time::Instant;

use hmac::digest::{FixedOutput, KeyInit, Update};
use http::{Method, Uri};
use oauth_core::oauth1::{Placement, SignOptions};

use benches::twitter::{
    BASE_STRING, BODY, CONSUMER_KEY, CONSUMER_SECRET, NONCE, STATUS, TIMESTAMP, TOKEN, TOKEN_SECRET,
};

fn main() {
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_else(|| "ours".into());
    let n: u64 = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);

    let signer = benches::twitter::signer();
    let uri: Uri = "https://api.twitter.com/1/statuses/update.json?include_entities=true"
        .parse()
        .unwrap();
    let fixed = SignOptions::new().nonce(NONCE).timestamp(TIMESTAMP);
    let fresh = SignOptions::new();
    let token =
        oauth1_request::Token::from_parts(CONSUMER_KEY, CONSUMER_SECRET, TOKEN, TOKEN_SECRET);
    let params =
        oauth1_request::ParameterList::new(vec![("include_entities", "true"), ("status", STATUS)]);
    let mut theirs = oauth1_request::Builder::with_token(token, oauth1_request::HmacSha1::new());
    theirs
        .nonce(NONCE)
        .timestamp(NonZeroU64::new(TIMESTAMP))
        .version(true);
    let key = format!("{CONSUMER_SECRET}&{TOKEN_SECRET}");
    let keyed = <hmac::Hmac<sha1::Sha1> as KeyInit>::new_from_slice(key.as_bytes()).unwrap();

    let start = Instant::now();
    for _ in 0..n {
        match which.as_str() {
            "ours" => {
                black_box(
                    signer
                        .sign(
                            &Method::POST,
                            black_box(&uri),
                            Some(black_box(BODY)),
                            &fixed,
                            Placement::Header,
                        )
                        .unwrap()
                        .into_header_value(),
                );
            }
            "ours-fresh" => {
                black_box(
                    signer
                        .sign(
                            &Method::POST,
                            black_box(&uri),
                            Some(black_box(BODY)),
                            &fresh,
                            Placement::Header,
                        )
                        .unwrap()
                        .into_header_value(),
                );
            }
            "oauth1-request" => {
                black_box(theirs.post(
                    black_box("https://api.twitter.com/1/statuses/update.json"),
                    black_box(&params),
                ));
            }
            _ => {
                let mut mac = keyed.clone();
                Update::update(&mut mac, black_box(BASE_STRING).as_bytes());
                black_box(mac.finalize_fixed());
            }
        }
    }
    let elapsed = start.elapsed();
    println!(
        "{which}: {:.1} ns/iter over {n} iterations",
        elapsed.as_nanos() as f64 / n as f64
    );
}
