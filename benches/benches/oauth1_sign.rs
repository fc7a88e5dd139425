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
use oauth_core::oauth1::{Placement, SignOptions};

use benches::twitter::{
    BASE_STRING, BODY, CONSUMER_KEY, CONSUMER_SECRET, NONCE, SIGNATURE, SIGNATURE_ENC, STATUS,
    TIMESTAMP, TOKEN, TOKEN_SECRET, URI, URI_NO_QUERY,
};

fn bench_sign(c: &mut Criterion) {
    let signer = benches::twitter::signer();
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
