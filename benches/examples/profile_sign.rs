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
use oauth_core::oauth1::{ClientCredentials, Placement, SignOptions, Signer, TokenCredentials};
use oauth_core::secret::{ConsumerSecret, TokenSecret};

const CONSUMER_KEY: &str = "xvz1evFS4wEEPTGEFPHBog";
const CONSUMER_SECRET: &str = "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw";
const TOKEN: &str = "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb";
const TOKEN_SECRET: &str = "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE";
const NONCE: &str = "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg";
const BODY: &[u8] = b"status=Hello%20Ladies%20%2b%20Gentlemen%2c%20a%20signed%20OAuth%20request%21";
const BASE_STRING: &str = "POST&https%3A%2F%2Fapi.twitter.com%2F1%2Fstatuses%2Fupdate.json&include_entities%3Dtrue%26oauth_consumer_key%3Dxvz1evFS4wEEPTGEFPHBog%26oauth_nonce%3DkYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D1318622958%26oauth_token%3D370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb%26oauth_version%3D1.0%26status%3DHello%2520Ladies%2520%252B%2520Gentlemen%252C%2520a%2520signed%2520OAuth%2520request%2521";

fn main() {
    let mut args = std::env::args().skip(1);
    let which = args.next().unwrap_or_else(|| "ours".into());
    let n: u64 = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(1_000_000);

    let signer = Signer::builder(ClientCredentials::new(
        CONSUMER_KEY,
        ConsumerSecret::new(CONSUMER_SECRET),
    ))
    .token(TokenCredentials::new(TOKEN, TokenSecret::new(TOKEN_SECRET)))
    .build()
    .unwrap();
    let uri: Uri = "https://api.twitter.com/1/statuses/update.json?include_entities=true"
        .parse()
        .unwrap();
    let fixed = SignOptions::new().nonce(NONCE).timestamp(1318622958);
    let fresh = SignOptions::new();
    let token =
        oauth1_request::Token::from_parts(CONSUMER_KEY, CONSUMER_SECRET, TOKEN, TOKEN_SECRET);
    let params = oauth1_request::ParameterList::new(vec![
        ("include_entities", "true"),
        (
            "status",
            "Hello Ladies + Gentlemen, a signed OAuth request!",
        ),
    ]);
    let mut theirs = oauth1_request::Builder::with_token(token, oauth1_request::HmacSha1::new());
    theirs
        .nonce(NONCE)
        .timestamp(NonZeroU64::new(1318622958))
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
