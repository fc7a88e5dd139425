//! Property tests: sign → parse → verify round trips, header round trips, and parsers that never
//! panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::OnceLock;

use http::{Method, Uri};
use oauth_core::clock::CountingRandom;
use oauth_core::encode::percent_encode;
use oauth_core::oauth1::*;
use oauth_core::secret::{ConsumerSecret, TokenSecret, Verifier};
use proptest::prelude::*;

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/oauth1");

fn rsa_key() -> &'static RsaPrivateKey {
    static KEY: OnceLock<RsaPrivateKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let pem =
            std::fs::read_to_string(format!("{VECTORS}/oauthlib_rsa_1024_pkcs1.pem")).unwrap();
        RsaPrivateKey::from_pem_with_min_bits(&pem, 1024).unwrap()
    })
}

fn param_name() -> impl Strategy<Value = String> {
    "\\PC{1,8}".prop_filter("not a protocol parameter", |n| !n.starts_with("oauth_"))
}

fn params() -> impl Strategy<Value = Vec<(String, String)>> {
    prop::collection::vec((param_name(), "\\PC{0,12}"), 0..6)
}

fn form(pairs: &[(String, String)], plus_for_space: bool) -> String {
    pairs
        .iter()
        .map(|(n, v)| {
            let (n, v) = (percent_encode(n), percent_encode(v));
            if plus_for_space {
                format!("{}={}", n.replace("%20", "+"), v.replace("%20", "+"))
            } else {
                format!("{n}={v}")
            }
        })
        .collect::<Vec<_>>()
        .join("&")
}

fn method_strategy() -> impl Strategy<Value = SignatureMethod> {
    prop::sample::select(SignatureMethod::ALL.to_vec())
}

fn placement_strategy() -> impl Strategy<Value = Placement> {
    prop::sample::select(vec![Placement::Header, Placement::Query, Placement::Body])
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn sign_then_verify_round_trips(
        method in method_strategy(),
        placement in placement_strategy(),
        query in params(),
        body in params(),
        plus in any::<bool>(),
        use_body in any::<bool>(),
        cs in "\\PC{0,16}",
        ts in prop::option::of("\\PC{0,16}"),
        callback in prop::option::of("\\PC{0,16}"),
        verifier in prop::option::of("\\PC{1,16}"),
        realm in prop::option::of("[ -!#-\\[\\]-~]{0,10}"),
        path in "(/[a-zA-Z0-9%20._~-]{0,6}){0,3}",
    ) {
        let mut builder = Signer::builder(ClientCredentials::new("consumer key ☃", ConsumerSecret::new(cs.clone())))
            .method(method)
            .random(CountingRandom::new(7));
        if method.is_rsa() {
            builder = builder.rsa_key(rsa_key().clone());
        }
        if let Some(ts) = &ts {
            builder = builder.token(TokenCredentials::new("tøken", TokenSecret::new(ts.clone())));
        }
        let signer = builder.build().unwrap();

        let query_str = form(&query, plus);
        let uri: Uri = if query_str.is_empty() {
            format!("https://Example.COM:443{path}")
        } else {
            format!("https://Example.COM:443{path}?{query_str}")
        }
        .parse()
        .unwrap();
        let body_str = form(&body, plus);
        let form_body = use_body.then_some(body_str.as_bytes());
        let verifier = verifier.map(Verifier::new);
        let mut options = SignOptions::new();
        if let Some(c) = &callback { options = options.callback(c); }
        if let Some(v) = &verifier { options = options.verifier(v); }
        if let Some(r) = &realm { options = options.realm(r); }

        let signed = signer.sign(&Method::POST, &uri, form_body, &options, placement).unwrap();

        // The server's view of the signed request.
        let (new_uri, new_body, header) = match signed.output() {
            SignedOutput::Header(h) => (uri.clone(), form_body.map(<[u8]>::to_vec), Some(h.to_str().unwrap().to_owned())),
            SignedOutput::Query(u) => (u.clone(), form_body.map(<[u8]>::to_vec), None),
            SignedOutput::Body(b) => (uri.clone(), Some(b.clone()), None),
            _ => unreachable!(),
        };
        let mut incoming = IncomingRequest::new(&Method::POST, &new_uri);
        if let Some(h) = &header { incoming = incoming.authorization(h); }
        if let Some(b) = &new_body { incoming = incoming.form_body(b); }
        let request = UnverifiedRequest::parse(incoming).unwrap();
        prop_assert_eq!(request.consumer_key(), "consumer key ☃");
        let cs = ConsumerSecret::new(cs);
        let ts = ts.map(TokenSecret::new);
        let secrets = SigningSecrets { consumer_secret: &cs, token_secret: ts.as_ref() };
        let public = rsa_key().public_key();
        let key = if method.is_rsa() { VerifyKey::Rsa(&public) } else { VerifyKey::Secrets(secrets) };
        let verified = request.verify(key).unwrap();
        prop_assert_eq!(verified.nonce(), Some(signed.nonce()));
        prop_assert_eq!(verified.timestamp(), Some(signed.timestamp()));
        prop_assert_eq!(verified.callback(), callback.as_deref());
        prop_assert_eq!(verified.verifier().map(Verifier::secret), verifier.as_ref().map(Verifier::secret));
        prop_assert_eq!(verified.token().is_some(), ts.is_some());
        if placement == Placement::Header {
            prop_assert_eq!(verified.realm(), realm.as_deref());
        }
    }

    #[test]
    fn header_format_parse_round_trip(
        realm in prop::option::of("[ -!#-\\[\\]-~]{0,20}"),
        params in prop::collection::btree_map("\\PC{1,10}", "\\PC{0,20}", 0..10),
    ) {
        let params: Vec<(String, String)> =
            params.into_iter().filter(|(n, _)| n != "realm").collect();
        let header = AuthorizationHeader::new(realm, params).unwrap();
        let formatted = header.to_header_string();
        prop_assert_eq!(AuthorizationHeader::parse(&formatted).unwrap(), header);
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn header_parsing_never_panics(s in ".{0,200}") {
        let _ = AuthorizationHeader::parse(&s);
        let _ = AuthorizationHeader::parse(&format!("OAuth {s}"));
    }

    #[test]
    fn header_parsing_never_panics_on_near_misses(
        parts in prop::collection::vec(prop::sample::select(vec![
            "OAuth", " ", ",", "=", "\"", "\\", "%", "%2", "%zz", "realm", "oauth_nonce", "a", "\t", "\r\n", "é",
        ]), 0..30)
    ) {
        let s: String = parts.concat();
        let _ = AuthorizationHeader::parse(&s);
    }

    #[test]
    fn request_parsing_never_panics(
        header in ".{0,120}",
        body in prop::collection::vec(any::<u8>(), 0..60),
        query in "[a-zA-Z0-9%=&+_.-]{0,40}",
    ) {
        let uri: Uri = format!("http://example.com/p?{query}").parse().unwrap();
        let incoming = IncomingRequest::new(&Method::POST, &uri)
            .authorization(&header)
            .form_body(&body);
        if let Ok(request) = UnverifiedRequest::parse(incoming) {
            let cs = ConsumerSecret::new("cs");
            let _ = request.base_string();
            let _ = request.verify(VerifyKey::Secrets(SigningSecrets { consumer_secret: &cs, token_secret: None }));
        }
        let signer = Signer::builder(ClientCredentials::new("k", ConsumerSecret::new("s"))).build().unwrap();
        let _ = signer.sign(&Method::POST, &uri, Some(&body), &SignOptions::new().realm(&header), Placement::Header);
    }

    #[test]
    fn pem_parsing_never_panics(s in ".{0,300}", prefix in prop::sample::select(vec![
        "", "-----BEGIN RSA PRIVATE KEY-----\n", "-----BEGIN PRIVATE KEY-----\n", "-----BEGIN PUBLIC KEY-----\n",
    ])) {
        let doc = format!("{prefix}{s}");
        let _ = RsaPrivateKey::from_pem(&doc);
        let _ = RsaPublicKey::from_pem(&doc);
    }
}
