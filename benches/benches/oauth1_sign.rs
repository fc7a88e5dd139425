//! Signing Twitter's documented request (SECURITY.md §3.8 vector E) into a complete
//! `Authorization` header value: ours against `oauth1-request` 0.6.1, plus HMAC-SHA1 alone over
//! the base string. See `benches/README.md`.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::hint::black_box;
use std::num::NonZeroU64;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use criterion::{Criterion, criterion_group, criterion_main};
use hmac::digest::{FixedOutput, KeyInit, Update};
use http::{Method, Uri};
use oauth_core::oauth1::{ClientCredentials, Placement, SignOptions, Signer, TokenCredentials};
use oauth_core::secret::{ConsumerSecret, TokenSecret};

const CONSUMER_KEY: &str = "xvz1evFS4wEEPTGEFPHBog";
const CONSUMER_SECRET: &str = "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw";
const TOKEN: &str = "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb";
const TOKEN_SECRET: &str = "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE";
const NONCE: &str = "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg";
const TIMESTAMP: u64 = 1318622958;
const URI: &str = "https://api.twitter.com/1/statuses/update.json?include_entities=true";
const URI_NO_QUERY: &str = "https://api.twitter.com/1/statuses/update.json";
const BODY: &[u8] = b"status=Hello%20Ladies%20%2b%20Gentlemen%2c%20a%20signed%20OAuth%20request%21";
const STATUS: &str = "Hello Ladies + Gentlemen, a signed OAuth request!";
const BASE_STRING: &str = "POST&https%3A%2F%2Fapi.twitter.com%2F1%2Fstatuses%2Fupdate.json&include_entities%3Dtrue%26oauth_consumer_key%3Dxvz1evFS4wEEPTGEFPHBog%26oauth_nonce%3DkYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D1318622958%26oauth_token%3D370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb%26oauth_version%3D1.0%26status%3DHello%2520Ladies%2520%252B%2520Gentlemen%252C%2520a%2520signed%2520OAuth%2520request%2521";
const SIGNATURE: &str = "tnnArxj06cWHq44gCs1OSKk/jLY=";
const SIGNATURE_ENC: &str = "tnnArxj06cWHq44gCs1OSKk%2FjLY%3D";

fn our_signer() -> Signer {
    Signer::builder(ClientCredentials::new(
        CONSUMER_KEY,
        ConsumerSecret::new(CONSUMER_SECRET),
    ))
    .token(TokenCredentials::new(TOKEN, TokenSecret::new(TOKEN_SECRET)))
    .build()
    .unwrap()
}

fn bench_sign(c: &mut Criterion) {
    let signer = our_signer();
    let uri: Uri = URI.parse().unwrap();
    let fixed = SignOptions::new().nonce(NONCE).timestamp(TIMESTAMP);
    let fresh = SignOptions::new();

    // Bench the right thing: our output is Twitter's documented signature.
    let signed = signer
        .sign(&Method::POST, &uri, Some(BODY), &fixed, Placement::Header)
        .unwrap();
    assert_eq!(signed.signature(), SIGNATURE);
    assert!(signed.authorization().unwrap().contains(SIGNATURE_ENC));

    let token =
        oauth1_request::Token::from_parts(CONSUMER_KEY, CONSUMER_SECRET, TOKEN, TOKEN_SECRET);
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
    let their_header = theirs_fixed.post(URI_NO_QUERY, &params);
    assert!(their_header.contains(SIGNATURE_ENC), "{their_header}");

    let mut group = c.benchmark_group("oauth1_sign");
    group.bench_function("ours/fixed_nonce", |b| {
        b.iter(|| {
            signer
                .sign(
                    &Method::POST,
                    black_box(&uri),
                    Some(black_box(BODY)),
                    &fixed,
                    Placement::Header,
                )
                .unwrap()
                .into_header_value()
        })
    });
    group.bench_function("oauth1-request/fixed_nonce", |b| {
        b.iter(|| theirs_fixed.post(black_box(URI_NO_QUERY), black_box(&params)))
    });
    group.bench_function("ours/fresh_nonce", |b| {
        b.iter(|| {
            signer
                .sign(
                    &Method::POST,
                    black_box(&uri),
                    Some(black_box(BODY)),
                    &fresh,
                    Placement::Header,
                )
                .unwrap()
                .into_header_value()
        })
    });
    group.bench_function("oauth1-request/fresh_nonce", |b| {
        b.iter(|| theirs_fresh.post(black_box(URI_NO_QUERY), black_box(&params)))
    });
    // Like for like with `ours`: from what a tower middleware holds (an `http::Uri` and the raw
    // form body) to an `http::HeaderValue`, so oauth1-request also decodes the query and the
    // body, and its `String` is checked into a header value.
    let theirs_from_request = |builder: &oauth1_request::Builder<'_, _, _>, uri: &Uri, body| {
        let mut pairs: Vec<_> = form_urlencoded::parse(uri.query().unwrap_or("").as_bytes())
            .chain(form_urlencoded::parse(body))
            .collect();
        pairs.sort_unstable();
        let params = oauth1_request::ParameterList::from_sorted(pairs).unwrap();
        let target = format!(
            "{}://{}{}",
            uri.scheme_str().unwrap_or("https"),
            uri.authority().map_or("", |a| a.as_str()),
            uri.path()
        );
        http::HeaderValue::try_from(builder.post(&target, &params)).unwrap()
    };
    let check = theirs_from_request(&theirs_fixed, &uri, BODY);
    assert!(check.to_str().unwrap().contains(SIGNATURE_ENC), "{check:?}");
    group.bench_function("oauth1-request/fixed_nonce_from_request", |b| {
        b.iter(|| theirs_from_request(&theirs_fixed, black_box(&uri), black_box(BODY)))
    });
    group.bench_function("oauth1-request/fresh_nonce_from_request", |b| {
        b.iter(|| theirs_from_request(&theirs_fresh, black_box(&uri), black_box(BODY)))
    });
    group.finish();

    let key = format!("{CONSUMER_SECRET}&{TOKEN_SECRET}");
    let keyed = <hmac::Hmac<sha1::Sha1> as KeyInit>::new_from_slice(key.as_bytes()).unwrap();
    let mut check = keyed.clone();
    Update::update(&mut check, BASE_STRING.as_bytes());
    assert_eq!(
        STANDARD.encode(check.finalize_fixed()),
        SIGNATURE,
        "the HMAC bench signs the documented base string"
    );
    let mut group = c.benchmark_group("hmac_sha1");
    group.bench_function("base_string/keyed_clone", |b| {
        b.iter(|| {
            let mut mac = keyed.clone();
            Update::update(&mut mac, black_box(BASE_STRING).as_bytes());
            mac.finalize_fixed()
        })
    });
    group.bench_function("base_string/new_key", |b| {
        b.iter(|| {
            let mut mac =
                <hmac::Hmac<sha1::Sha1> as KeyInit>::new_from_slice(black_box(key.as_bytes()))
                    .unwrap();
            Update::update(&mut mac, black_box(BASE_STRING).as_bytes());
            mac.finalize_fixed()
        })
    });
    group.finish();
}

criterion_group!(benches, bench_sign);
criterion_main!(benches);
