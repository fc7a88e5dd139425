//! Bad inputs and faults (SECURITY.md §4.8, §4.9, §4.10): typed errors, never a panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use http::{Method, Uri};
use oauth_core::clock::{CountingRandom, ManualClock, RandomError, RandomSource};
use oauth_core::encode::DecodeError;
use oauth_core::oauth1::*;
use oauth_core::secret::{ConsumerSecret, TokenSecret};

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/oauth1");

fn pem(name: &str) -> String {
    std::fs::read_to_string(format!("{VECTORS}/{name}")).unwrap()
}

fn hmac_signer() -> Signer {
    Signer::builder(ClientCredentials::new("key", ConsumerSecret::new("cs")))
        .token(TokenCredentials::new("tok", TokenSecret::new("ts")))
        .build()
        .unwrap()
}

fn sign(
    signer: &Signer,
    method: Method,
    uri: &str,
    body: Option<&[u8]>,
) -> Result<Signed, SignError> {
    let uri: Uri = uri.parse().unwrap();
    signer.sign(&method, &uri, body, &SignOptions::new(), Placement::Header)
}

#[test]
fn malformed_uris_are_typed_errors() {
    let s = hmac_signer();
    for uri in ["/relative/path", "ftp://example.com/x", "example.com:80"] {
        let parsed: Uri = uri.parse().unwrap();
        let err = s
            .sign(
                &Method::GET,
                &parsed,
                None,
                &SignOptions::new(),
                Placement::Header,
            )
            .unwrap_err();
        assert!(
            matches!(err, SignError::InvalidUri { .. }),
            "{uri}: {err:?}"
        );
    }
    // An origin-form URI works once the origin is given.
    let parsed: Uri = "/relative/path".parse().unwrap();
    let opts = SignOptions::new().origin(Origin::new("https", "example.com"));
    assert!(
        s.sign(&Method::GET, &parsed, None, &opts, Placement::Header)
            .is_ok()
    );
}

#[test]
fn invalid_percent_encoding_in_query_or_body() {
    let s = hmac_signer();
    assert_eq!(
        sign(&s, Method::GET, "http://example.com/?a=%zz", None).unwrap_err(),
        SignError::InvalidEncoding(DecodeError::InvalidPercentEncoding { offset: 0 })
    );
    assert_eq!(
        sign(&s, Method::GET, "http://example.com/?a=%FF", None).unwrap_err(),
        SignError::InvalidEncoding(DecodeError::InvalidUtf8)
    );
    assert!(matches!(
        sign(&s, Method::POST, "http://example.com/", Some(b"a=1&b=%4")).unwrap_err(),
        SignError::InvalidEncoding(_)
    ));
    assert_eq!(
        sign(&s, Method::POST, "http://example.com/", Some(b"a=\xff")).unwrap_err(),
        SignError::InvalidEncoding(DecodeError::InvalidUtf8)
    );
}

#[test]
fn duplicate_protocol_parameters_are_refused() {
    let s = hmac_signer();
    for (uri, body) in [
        ("http://example.com/?oauth_token=x", None),
        ("http://example.com/?a=1&oauth_nonce=x", None),
        ("http://example.com/?oauth%5Fsignature=x", None),
        ("http://example.com/", Some(&b"oauth_consumer_key=evil"[..])),
        ("http://example.com/", Some(&b"a=1&oauth_callback=oob"[..])),
    ] {
        let err = sign(&s, Method::POST, uri, body).unwrap_err();
        assert!(
            matches!(err, SignError::DuplicateProtocolParameter { ref name } if name.starts_with("oauth_")),
            "{uri} {body:?}: {err:?}"
        );
    }

    // Server side: the same protocol parameter in two places is refused.
    let uri: Uri = "http://example.com/?oauth_nonce=a".parse().unwrap();
    let header = "OAuth oauth_consumer_key=\"k\", oauth_nonce=\"b\", oauth_timestamp=\"1\", \
                  oauth_signature_method=\"HMAC-SHA1\", oauth_signature=\"x\"";
    let err =
        UnverifiedRequest::parse(IncomingRequest::new(&Method::GET, &uri).authorization(header))
            .unwrap_err();
    assert!(matches!(
        err,
        VerifyError::Request(RequestError::DuplicateProtocolParameter { .. })
    ));
}

#[test]
fn plaintext_over_http_needs_the_explicit_opt_in() {
    let plain = Signer::builder(ClientCredentials::new("key", ConsumerSecret::new("cs")))
        .method(SignatureMethod::Plaintext)
        .build()
        .unwrap();
    assert_eq!(
        sign(&plain, Method::POST, "http://example.com/initiate", None).unwrap_err(),
        SignError::InsecureTransport
    );
    assert_eq!(
        sign(&plain, Method::POST, "HTTP://example.com/initiate", None).unwrap_err(),
        SignError::InsecureTransport
    );
    let signed = sign(&plain, Method::POST, "https://example.com/initiate", None).unwrap();
    assert_eq!(signed.signature(), "cs&");

    let opted_in = Signer::builder(ClientCredentials::new("key", ConsumerSecret::new("cs")))
        .method(SignatureMethod::Plaintext)
        .dangerous_allow_plaintext_over_http()
        .build()
        .unwrap();
    let signed = sign(
        &opted_in,
        Method::POST,
        "http://127.0.0.1:8080/initiate",
        None,
    )
    .unwrap();

    // The verifier refuses it over http too, unless told otherwise.
    let uri: Uri = "http://127.0.0.1:8080/initiate".parse().unwrap();
    let header = signed.authorization().unwrap();
    let cs = ConsumerSecret::new("cs");
    let key = VerifyKey::Secrets(SigningSecrets {
        consumer_secret: &cs,
        token_secret: None,
    });
    let req =
        UnverifiedRequest::parse(IncomingRequest::new(&Method::POST, &uri).authorization(header))
            .unwrap();
    assert_eq!(req.verify(key).unwrap_err(), VerifyError::InsecureTransport);
    let req =
        UnverifiedRequest::parse(IncomingRequest::new(&Method::POST, &uri).authorization(header))
            .unwrap();
    assert!(
        req.dangerous_allow_plaintext_over_http()
            .verify(key)
            .is_ok()
    );

    // HMAC over plain http is allowed (the interop tests use loopback http).
    assert!(sign(&hmac_signer(), Method::GET, "http://127.0.0.1/", None).is_ok());
}

#[test]
fn clock_before_1970_is_an_error() {
    let clock = ManualClock::new(UNIX_EPOCH - Duration::from_secs(5));
    let s = Signer::builder(ClientCredentials::new("key", ConsumerSecret::new("cs")))
        .clock(clock)
        .build()
        .unwrap();
    assert!(matches!(
        sign(&s, Method::GET, "https://example.com/", None).unwrap_err(),
        SignError::Clock(_)
    ));
}

#[test]
fn clock_stepping_backwards_keeps_timestamps_non_decreasing() {
    let clock = ManualClock::at_unix_seconds(1_700_000_000);
    let s = Signer::builder(ClientCredentials::new("key", ConsumerSecret::new("cs")))
        .clock(clock.clone())
        .random(CountingRandom::new(0))
        .build()
        .unwrap();
    let mut last = 0;
    for i in 0..1000u64 {
        if i % 7 == 0 {
            clock.set(UNIX_EPOCH + Duration::from_secs(1_700_000_000 - (i % 13) * 100));
        } else {
            clock.advance(Duration::from_secs(i % 3));
        }
        let t = sign(&s, Method::GET, "https://example.com/", None)
            .unwrap()
            .timestamp();
        assert!(t >= last, "{t} < {last}");
        last = t;
    }
    // Clones share the clamp.
    let clone = s.clone();
    clock.set(UNIX_EPOCH + Duration::from_secs(1));
    assert!(clone.next_timestamp().unwrap() >= last);
}

#[test]
fn nonces_do_not_collide() {
    let s = hmac_signer();
    let mut seen = HashSet::with_capacity(100_000);
    for _ in 0..100_000 {
        let nonce = s.next_nonce().unwrap();
        assert_eq!(nonce.len(), NONCE_LEN);
        assert!(nonce.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert!(seen.insert(nonce), "nonce repeated");
    }
}

#[derive(Debug)]
struct Failing;
impl RandomSource for Failing {
    fn fill(&self, _: &mut [u8]) -> Result<(), RandomError> {
        Err(RandomError::new())
    }
}

#[test]
fn failing_random_source_is_an_error() {
    let s = Signer::builder(ClientCredentials::new("key", ConsumerSecret::new("cs")))
        .random(Failing)
        .build()
        .unwrap();
    assert_eq!(
        sign(&s, Method::GET, "https://example.com/", None).unwrap_err(),
        SignError::Random(RandomError::new())
    );
}

#[test]
fn body_hash_and_form_body_are_exclusive() {
    let s = hmac_signer();
    let uri: Uri = "https://example.com/".parse().unwrap();
    let opts = SignOptions::new().body_hash(b"{\"a\":1}");
    assert_eq!(
        s.sign(&Method::POST, &uri, Some(b"a=1"), &opts, Placement::Header)
            .unwrap_err(),
        SignError::BodyHashWithFormBody
    );
    let signed = s
        .sign(&Method::POST, &uri, None, &opts, Placement::Header)
        .unwrap();
    let header = signed.authorization().unwrap();
    let parsed = AuthorizationHeader::parse(header).unwrap();
    // base64(SHA-1("{\"a\":1}")), checked with `openssl dgst -sha1 -binary | base64`.
    assert_eq!(
        parsed.get("oauth_body_hash"),
        Some("n4nHQM60bXQYySSnisV5QdXpZSA=")
    );
    // The Body Hash extension's own example.
    let spec = s
        .sign(
            &Method::PUT,
            &uri,
            None,
            &SignOptions::new().body_hash(b"Hello World!"),
            Placement::Header,
        )
        .unwrap();
    assert!(
        spec.authorization()
            .unwrap()
            .contains("oauth_body_hash=\"Lve95gjOVATpfV8EL5X4nxwjKHE%3D\"")
    );
    let req =
        UnverifiedRequest::parse(IncomingRequest::new(&Method::POST, &uri).authorization(header))
            .unwrap();
    let cs = ConsumerSecret::new("cs");
    let ts = TokenSecret::new("ts");
    let p = req
        .verify(VerifyKey::Secrets(SigningSecrets {
            consumer_secret: &cs,
            token_secret: Some(&ts),
        }))
        .unwrap();
    assert!(p.body_hash_matches(b"{\"a\":1}"));
    assert!(!p.body_hash_matches(b"{\"a\":2}"));
}

#[test]
fn realm_is_validated() {
    let s = hmac_signer();
    let uri: Uri = "https://example.com/".parse().unwrap();
    for bad in ["a\"b", "a\\b", "a\nb", "caf\u{e9}"] {
        let opts = SignOptions::new().realm(bad);
        assert_eq!(
            s.sign(&Method::GET, &uri, None, &opts, Placement::Header)
                .unwrap_err(),
            SignError::InvalidOption { option: "realm" },
            "{bad:?}"
        );
    }
}

#[test]
fn bad_and_empty_pems_are_parse_errors() {
    let good = pem("oauthlib_rsa_1024_pkcs1.pem");
    let truncated = &good[..good.len() / 2];
    let mut bad_base64 = good.clone();
    bad_base64.replace_range(40..44, "!!!!");
    let no_end = good.replace("-----END RSA PRIVATE KEY-----", "");
    for bad in ["", "   ", "foobar", truncated, &bad_base64, &no_end] {
        let err = RsaPrivateKey::from_pem_with_min_bits(bad, 1024).unwrap_err();
        assert_eq!(err, KeyError::Parse);
        // Neither Display nor Debug echoes any of the PEM.
        for out in [err.to_string(), format!("{err:?}")] {
            assert!(!out.contains("MIIC"), "{out}");
        }
    }
}

#[test]
fn wrong_key_types_and_encrypted_keys() {
    for name in [
        "oauthlib_rsa_1024_public.pem",
        "oauthlib_rsa_1024_public_pkcs1.pem",
        "test_ec_p256_pkcs8.pem",
        "test_ec_p256_sec1.pem",
        "test_ed25519_pkcs8.pem",
    ] {
        assert_eq!(
            RsaPrivateKey::from_pem_with_min_bits(&pem(name), 1024).unwrap_err(),
            KeyError::WrongKeyType {
                expected: "private"
            },
            "{name}"
        );
    }
    for name in [
        "test_rsa_1024_encrypted_pkcs1.pem",
        "test_rsa_2048_encrypted_pkcs8.pem",
    ] {
        assert_eq!(
            RsaPrivateKey::from_pem_with_min_bits(&pem(name), 1024).unwrap_err(),
            KeyError::Encrypted,
            "{name}"
        );
    }
    assert_eq!(
        RsaPublicKey::from_pem_with_min_bits(&pem("wiki_rsa_1024_pkcs8.pem"), 1024).unwrap_err(),
        KeyError::WrongKeyType { expected: "public" }
    );
}

/// A `PUBLIC KEY` (SPKI) block that is not an RSA key for PKCS#1 v1.5 verification gets the
/// error that says why: an EC or Ed25519 key is the wrong type, an RSASSA-PSS key (RFC 4055
/// §1.2, OID id-RSASSA-PSS) may only verify PSS signatures, and a damaged RSA key is
/// unreadable. The PSS key is the public half of `signer_rules`' PSS-only private key.
#[test]
fn public_keys_of_other_kinds_get_the_error_that_says_why() {
    for name in ["test_ec_p256_public.pem", "test_ed25519_public.pem"] {
        assert_eq!(
            RsaPublicKey::from_pem_with_min_bits(&pem(name), 1024).unwrap_err(),
            KeyError::WrongKeyType { expected: "public" },
            "{name}"
        );
    }
    let pss = pem("test_rsa_pss_2048_public.pem");
    assert_eq!(RsaPublicKey::from_pem(&pss).unwrap_err(), KeyError::PssOnly);
    // On one line, as kept in settings, the kind is still told.
    assert_eq!(
        RsaPublicKey::from_pem(&pss.replace('\n', "")).unwrap_err(),
        KeyError::PssOnly
    );
    // An RSA SPKI cut short (whole base64 quanta dropped, so the base64 is still valid).
    let good = pem("wiki_rsa_1024_public.pem");
    let lines: Vec<&str> = good.lines().collect();
    let body: String = lines[1..lines.len() - 1].concat();
    let cut = format!(
        "{}\n{}\n{}\n",
        lines[0],
        &body[..body.len() - 8],
        lines[lines.len() - 1]
    );
    assert_eq!(
        RsaPublicKey::from_pem_with_min_bits(&cut, 1024).unwrap_err(),
        KeyError::Parse
    );
    assert!(RsaPublicKey::from_pem_with_min_bits(&good, 1024).is_ok());
}

#[test]
fn key_size_minimum_is_enforced_and_configurable() {
    assert_eq!(
        RsaPrivateKey::from_pem(&pem("oauthlib_rsa_1024_pkcs1.pem")).unwrap_err(),
        KeyError::TooSmall {
            bits: 1024,
            min_bits: 2048
        }
    );
    assert_eq!(
        RsaPrivateKey::from_pem_with_min_bits(&pem("test_rsa_512_pkcs1.pem"), 1024).unwrap_err(),
        KeyError::TooSmall {
            bits: 512,
            min_bits: 1024
        }
    );
    assert_eq!(
        RsaPrivateKey::from_pem(&pem("test_rsa_2048_pkcs8.pem"))
            .unwrap()
            .bits(),
        2048
    );
    assert_eq!(
        RsaPublicKey::from_pem(&pem("oauthlib_rsa_1024_public.pem")).unwrap_err(),
        KeyError::TooSmall {
            bits: 1024,
            min_bits: 2048
        }
    );
}

#[test]
fn crlf_whitespace_and_multiple_blocks_are_tolerated() {
    let good = pem("wiki_rsa_1024_pkcs8.pem");
    let crlf = format!("\r\n  \t{}\r\n\r\n  ", good.replace('\n', "\r\n"));
    assert!(RsaPrivateKey::from_pem_with_min_bits(&crlf, 1024).is_ok());
    let indented: String = good.lines().map(|l| format!("    {l}  \n")).collect();
    assert!(RsaPrivateKey::from_pem_with_min_bits(&indented, 1024).is_ok());
    // A public key first, then the private key: the private one is used.
    let bundle = format!("{}{}", pem("wiki_rsa_1024_public.pem"), good);
    let key = RsaPrivateKey::from_pem_with_min_bits(&bundle, 1024).unwrap();
    let public = RsaPublicKey::from_pem_with_min_bits(&bundle, 1024).unwrap();
    let sig = key
        .sign_base_string(SignatureMethod::RsaSha1, "bs")
        .unwrap();
    assert!(public.verify_base_string(SignatureMethod::RsaSha1, "bs", &sig));
    // Two private keys (SECURITY.md §4.9 #83): the first one is used, whichever order.
    let other = pem("oauthlib_rsa_1024_pkcs1.pem");
    let other_public =
        RsaPublicKey::from_pem_with_min_bits(&pem("oauthlib_rsa_1024_public.pem"), 1024).unwrap();
    for (bundle, first, second) in [
        (format!("{good}{other}"), &public, &other_public),
        (format!("{other}{good}"), &other_public, &public),
    ] {
        let key = RsaPrivateKey::from_pem_with_min_bits(&bundle, 1024).unwrap();
        let sig = key
            .sign_base_string(SignatureMethod::RsaSha1, "bs")
            .unwrap();
        assert!(first.verify_base_string(SignatureMethod::RsaSha1, "bs", &sig));
        assert!(!second.verify_base_string(SignatureMethod::RsaSha1, "bs", &sig));
    }
}

#[test]
fn rsa_config_errors() {
    let client = || ClientCredentials::new("key", ConsumerSecret::new(""));
    assert_eq!(
        Signer::builder(client())
            .method(SignatureMethod::RsaSha1)
            .build()
            .unwrap_err(),
        ConfigError::MissingRsaKey
    );
    let key = RsaPrivateKey::from_pem_with_min_bits(&pem("wiki_rsa_1024_pkcs8.pem"), 1024).unwrap();
    assert_eq!(
        Signer::builder(client()).rsa_key(key).build().unwrap_err(),
        ConfigError::UnusedRsaKey
    );
}

#[test]
fn verification_errors_are_typed() {
    fn parse(h: &str) -> Result<UnverifiedRequest<'_>, VerifyError> {
        static URI: std::sync::OnceLock<Uri> = std::sync::OnceLock::new();
        static GET: Method = Method::GET;
        let uri = URI.get_or_init(|| "https://example.com/r".parse().unwrap());
        UnverifiedRequest::parse(IncomingRequest::new(&GET, uri).authorization(h))
    }
    let full = "oauth_consumer_key=\"k\", oauth_nonce=\"n\", oauth_timestamp=\"10\", \
                oauth_signature_method=\"HMAC-SHA1\", oauth_signature=\"x\"";
    assert!(parse(&format!("OAuth {full}")).is_ok());
    for (missing, name) in [
        ("oauth_consumer_key=\"k\", ", "oauth_consumer_key"),
        ("oauth_nonce=\"n\", ", "oauth_nonce"),
        ("oauth_timestamp=\"10\", ", "oauth_timestamp"),
        (
            "oauth_signature_method=\"HMAC-SHA1\", ",
            "oauth_signature_method",
        ),
        (", oauth_signature=\"x\"", "oauth_signature"),
    ] {
        let header = format!("OAuth {}", full.replace(missing, ""));
        assert_eq!(
            parse(&header).unwrap_err(),
            VerifyError::MissingParameter(name),
            "{header}"
        );
    }
    assert_eq!(
        parse(&format!("OAuth {full}, oauth_version=\"2.0\"")).unwrap_err(),
        VerifyError::UnsupportedVersion
    );
    assert_eq!(
        parse(
            &full
                .replace("\"10\"", "\"-1\"")
                .replace("oauth_consumer", "OAuth oauth_consumer")
        )
        .unwrap_err(),
        VerifyError::InvalidTimestamp
    );
    assert!(matches!(
        parse("Basic abc").unwrap_err(),
        VerifyError::Header(HeaderError::NotOAuth)
    ));

    let cs = ConsumerSecret::new("cs");
    let shared = VerifyKey::Secrets(SigningSecrets {
        consumer_secret: &cs,
        token_secret: None,
    });
    let unknown = format!("OAuth {}", full.replace("HMAC-SHA1", "HMAC-MD5"));
    assert_eq!(
        parse(&unknown).unwrap().verify(shared).unwrap_err(),
        VerifyError::UnsupportedSignatureMethod
    );
    let rsa = format!("OAuth {}", full.replace("HMAC-SHA1", "RSA-SHA1"));
    assert_eq!(
        parse(&rsa).unwrap().verify(shared).unwrap_err(),
        VerifyError::UnsupportedSignatureMethod
    );
    let public =
        RsaPublicKey::from_pem_with_min_bits(&pem("wiki_rsa_1024_public.pem"), 1024).unwrap();
    assert_eq!(
        parse(&format!("OAuth {full}"))
            .unwrap()
            .verify(VerifyKey::Rsa(&public))
            .unwrap_err(),
        VerifyError::UnsupportedSignatureMethod
    );
    assert_eq!(
        parse(&rsa.replace("\"x\"", "\"%21%21\""))
            .unwrap()
            .verify(VerifyKey::Rsa(&public))
            .unwrap_err(),
        VerifyError::InvalidSignatureEncoding
    );
    assert_eq!(
        parse(&rsa.replace("\"x\"", "\"AAAA\""))
            .unwrap()
            .verify(VerifyKey::Rsa(&public))
            .unwrap_err(),
        VerifyError::SignatureMismatch
    );
    assert_eq!(
        parse(&format!("OAuth {full}"))
            .unwrap()
            .verify(shared)
            .unwrap_err(),
        VerifyError::SignatureMismatch
    );
}

#[test]
fn tampering_is_detected() {
    let s = hmac_signer();
    let uri: Uri = "https://example.com/photos?size=original".parse().unwrap();
    let signed = s
        .sign(
            &Method::GET,
            &uri,
            None,
            &SignOptions::new(),
            Placement::Header,
        )
        .unwrap();
    let header = signed.authorization().unwrap();
    let cs = ConsumerSecret::new("cs");
    let ts = TokenSecret::new("ts");
    let key = VerifyKey::Secrets(SigningSecrets {
        consumer_secret: &cs,
        token_secret: Some(&ts),
    });
    for (method, uri) in [
        (Method::GET, "https://example.com/photos?size=original"),
        (Method::POST, "https://example.com/photos?size=original"),
        (Method::GET, "http://example.com/photos?size=original"),
        (Method::GET, "https://example.com/photos?size=small"),
        (Method::GET, "https://example.com/photos?size=original&x=1"),
        (Method::GET, "https://example.org/photos?size=original"),
    ] {
        let other: Uri = uri.parse().unwrap();
        let result =
            UnverifiedRequest::parse(IncomingRequest::new(&method, &other).authorization(header))
                .unwrap()
                .verify(key);
        if uri == "https://example.com/photos?size=original" && method == Method::GET {
            assert!(result.is_ok());
        } else {
            assert_eq!(
                result.unwrap_err(),
                VerifyError::SignatureMismatch,
                "{method} {uri}"
            );
        }
    }
    let wrong = TokenSecret::new("other");
    let wrong_key = VerifyKey::Secrets(SigningSecrets {
        consumer_secret: &cs,
        token_secret: Some(&wrong),
    });
    let result =
        UnverifiedRequest::parse(IncomingRequest::new(&Method::GET, &uri).authorization(header))
            .unwrap()
            .verify(wrong_key);
    assert_eq!(result.unwrap_err(), VerifyError::SignatureMismatch);
}

#[derive(Debug)]
struct Reverse;
impl CustomSignatureMethod for Reverse {
    fn name(&self) -> &str {
        "X-REVERSE"
    }
    fn sign(
        &self,
        secrets: SigningSecrets<'_>,
        base_string: &str,
        out: &mut String,
    ) -> Result<(), CustomMethodError> {
        out.push_str(secrets.consumer_secret.secret());
        out.extend(base_string.chars().rev().take(16));
        Ok(())
    }
}

#[test]
fn custom_methods_plug_in() {
    let s = Signer::builder(ClientCredentials::new("key", ConsumerSecret::new("cs")))
        .custom_method(Arc::new(Reverse))
        .build()
        .unwrap();
    assert_eq!(s.method_name(), "X-REVERSE");
    let uri: Uri = "https://example.com/a?b=c".parse().unwrap();
    let signed = s
        .sign(
            &Method::GET,
            &uri,
            None,
            &SignOptions::new(),
            Placement::Header,
        )
        .unwrap();
    assert!(
        signed
            .authorization()
            .unwrap()
            .contains("oauth_signature_method=\"X-REVERSE\"")
    );
    let cs = ConsumerSecret::new("cs");
    let secrets = SigningSecrets {
        consumer_secret: &cs,
        token_secret: None,
    };
    let req = UnverifiedRequest::parse(
        IncomingRequest::new(&Method::GET, &uri).authorization(signed.authorization().unwrap()),
    )
    .unwrap();
    assert!(req.verify(VerifyKey::Custom(&Reverse, secrets)).is_ok());
    let req = UnverifiedRequest::parse(
        IncomingRequest::new(&Method::GET, &uri).authorization(signed.authorization().unwrap()),
    )
    .unwrap();
    assert_eq!(
        req.verify(VerifyKey::Secrets(secrets)).unwrap_err(),
        VerifyError::UnsupportedSignatureMethod
    );
}

#[test]
fn with_token_rekeys_for_the_next_step() {
    let temp = Signer::builder(ClientCredentials::new("key", ConsumerSecret::new("cs")))
        .method(SignatureMethod::HmacSha256)
        .build()
        .unwrap();
    let with = temp.with_token(Some(TokenCredentials::new("tok", TokenSecret::new("ts"))));
    assert_eq!(with.method_name(), "HMAC-SHA256");
    let uri: Uri = "https://example.com/".parse().unwrap();
    let opts = SignOptions::new().nonce("n").timestamp(1);
    let a = with
        .sign(&Method::GET, &uri, None, &opts, Placement::Header)
        .unwrap();
    let b = Signer::builder(ClientCredentials::new("key", ConsumerSecret::new("cs")))
        .method(SignatureMethod::HmacSha256)
        .token(TokenCredentials::new("tok", TokenSecret::new("ts")))
        .build()
        .unwrap()
        .sign(&Method::GET, &uri, None, &opts, Placement::Header)
        .unwrap();
    assert_eq!(a.authorization(), b.authorization());
}

#[test]
fn get_with_form_body_signs_the_body_parameters() {
    // Decision (SECURITY.md §4.8 #75): RFC 5849 §3.4.1.3.1 includes a form body whatever the
    // method, so a GET with a form body signs its parameters (oauthlib refuses the request).
    let s = hmac_signer();
    let uri: Uri = "https://example.com/".parse().unwrap();
    let opts = SignOptions::new().nonce("n").timestamp(1);
    let with = s
        .sign(&Method::GET, &uri, Some(b"a=1"), &opts, Placement::Header)
        .unwrap();
    let without = s
        .sign(&Method::GET, &uri, None, &opts, Placement::Header)
        .unwrap();
    assert_ne!(with.signature(), without.signature());
}

/// A realm given to `AuthorizationHeader::new` cannot close its quotes and add parameters:
/// the bytes a quoted value cannot hold are percent-encoded when the header is written.
#[test]
fn a_realm_cannot_inject_parameters_into_the_header() {
    let header = AuthorizationHeader::new(
        Some(r#"x", oauth_token="evil"#.to_owned()),
        vec![("oauth_consumer_key".to_owned(), "ck".to_owned())],
    )
    .unwrap();
    let text = header.to_header_string();
    assert_eq!(
        text,
        r#"OAuth realm="x%22, oauth_token=%22evil", oauth_consumer_key="ck""#
    );
    let reparsed = AuthorizationHeader::parse(&text).unwrap();
    assert!(reparsed.get("oauth_token").is_none());
    assert_eq!(reparsed.get("oauth_consumer_key"), Some("ck"));
}

/// `AuthorizationHeader::new` refuses what would be written as a header that `parse` refuses or
/// reads differently: a parameter named `realm` (it used to be written as a second `realm=`), a
/// name given twice, and more parameters than the parser takes.
#[test]
fn authorization_header_new_refuses_what_parse_would_not_read_back() {
    let param = |n: &str, v: &str| (n.to_owned(), v.to_owned());
    assert_eq!(
        AuthorizationHeader::new(Some("r".into()), vec![param("realm", "other")]),
        Err(HeaderError::RealmAsParameter)
    );
    assert_eq!(
        AuthorizationHeader::new(
            None,
            vec![param("oauth_consumer_key", "a"), param("realm", "r")]
        ),
        Err(HeaderError::RealmAsParameter)
    );
    assert_eq!(
        AuthorizationHeader::new(
            None,
            vec![param("a", "1"), param("b", "2"), param("a", "3")]
        ),
        Err(HeaderError::DuplicateParameter { name: "a".into() })
    );
    let many: Vec<(String, String)> = (0..MAX_HEADER_PARAMS)
        .map(|i| param(&format!("p{i}"), "v"))
        .collect();
    // 64 parameters are read back; 64 and a realm are one too many.
    let header = AuthorizationHeader::new(None, many.clone()).unwrap();
    assert_eq!(
        AuthorizationHeader::parse(&header.to_header_string()),
        Ok(header)
    );
    assert_eq!(
        AuthorizationHeader::new(Some("r".into()), many),
        Err(HeaderError::TooManyParameters {
            max: MAX_HEADER_PARAMS
        })
    );
    assert_eq!(
        AuthorizationHeader::new(None, vec![param("", "v")]),
        Err(HeaderError::EmptyParameterName)
    );
    // Length, as written (`OAuth k="..."` is 10 bytes around the value; a space takes 3).
    for (value, fits) in [
        ("k".repeat(MAX_HEADER_LEN - 10), true),
        ("k".repeat(MAX_HEADER_LEN - 9), false),
        ("k".repeat(MAX_HEADER_LEN - 13) + " ", true),
        ("k".repeat(MAX_HEADER_LEN - 12) + " ", false),
    ] {
        let made = AuthorizationHeader::new(None, vec![param("k", &value)]);
        if fits {
            let header = made.unwrap();
            let text = header.to_header_string();
            assert_eq!(text.len(), MAX_HEADER_LEN);
            assert_eq!(AuthorizationHeader::parse(&text), Ok(header));
        } else {
            assert_eq!(
                made,
                Err(HeaderError::TooLong {
                    max: MAX_HEADER_LEN
                })
            );
        }
    }
    // The messages name no value.
    let message = AuthorizationHeader::new(None, vec![param("realm", "s3cr3t")])
        .unwrap_err()
        .to_string();
    assert!(!message.contains("s3cr3t"), "{message}");
}

/// `AuthorizationHeader::new` counts a realm in the length as it is written: `realm=""`, the
/// `, ` after it, and three bytes for each byte it percent-encodes. A header written at exactly
/// `MAX_HEADER_LEN` bytes is made and read back; one byte more is refused, as `parse` would.
#[test]
fn authorization_header_new_counts_the_realm_in_the_length() {
    // `OAuth realm="` realm `", k="` value `"`: 20 bytes around the realm and the value.
    for (realm, written) in [("r", 1), ("Photos", 6), ("a\"b", 5)] {
        for (extra, fits) in [(0, true), (1, false)] {
            let value = "v".repeat(MAX_HEADER_LEN - 20 - written + extra);
            let made = AuthorizationHeader::new(Some(realm.into()), vec![("k".into(), value)]);
            if fits {
                let header = made.unwrap();
                let text = header.to_header_string();
                assert_eq!(text.len(), MAX_HEADER_LEN, "{realm:?}");
                let read = AuthorizationHeader::parse(&text).unwrap();
                assert_eq!(read.params(), header.params(), "{realm:?}");
            } else {
                assert_eq!(
                    made,
                    Err(HeaderError::TooLong {
                        max: MAX_HEADER_LEN
                    }),
                    "{realm:?}"
                );
            }
        }
    }
}

// ---- SECURITY.md §4.8 #80, §4.9 #84 ----

/// SECURITY.md §4.8 #80: 10⁵ full signatures (not only `next_nonce`) in a tight loop, with a
/// wall clock that steps backwards every so often: no nonce repeats, the timestamp never
/// decreases, no panic.
#[test]
fn s4_8_case80_a_hundred_thousand_signatures_unique_nonces_monotonic_timestamps() {
    let clock = ManualClock::at_unix_seconds(1_700_000_000);
    let s = Signer::builder(ClientCredentials::new("key", ConsumerSecret::new("cs")))
        .token(TokenCredentials::new("tok", TokenSecret::new("ts")))
        .clock(clock.clone())
        .build()
        .unwrap();
    let uri: Uri = "https://example.com/r?a=1".parse().unwrap();
    let mut nonces = HashSet::with_capacity(100_000);
    let mut last = 0;
    for i in 0..100_000u64 {
        if i % 1000 == 0 {
            // Step back by up to an hour.
            clock.set(UNIX_EPOCH + Duration::from_secs(1_700_000_000 - (i % 3600)));
        } else if i % 10 == 0 {
            clock.advance(Duration::from_secs(1));
        }
        let signed = s
            .sign(
                &Method::GET,
                &uri,
                None,
                &SignOptions::new(),
                Placement::Header,
            )
            .unwrap();
        let t = signed.timestamp();
        assert!(t > 0 && t >= last, "{t} < {last} at {i}");
        last = t;
        let header = AuthorizationHeader::parse(signed.authorization().unwrap()).unwrap();
        let nonce = header.get("oauth_nonce").unwrap().to_owned();
        assert!(nonces.insert(nonce), "nonce repeated at {i}");
    }
}

/// SECURITY.md §4.9 #84: a very large RSA key (16384 bits: above the `rsa` crate's default
/// 8192-bit `PublicKey::MAX_SIZE`) is accepted and signs; the time is printed (a possible DoS
/// when keys come from configuration).
#[test]
fn s4_9_case84_very_large_rsa_keys_are_accepted() {
    let started = std::time::Instant::now();
    let key = RsaPrivateKey::from_pem(&pem("test_rsa_16384_pkcs1.pem"));
    let key = key.expect("a 16384-bit key is accepted");
    assert_eq!(key.bits(), 16384);
    let sig = key
        .sign_base_string(SignatureMethod::RsaSha1, "bs")
        .unwrap();
    assert_eq!(sig.len(), 2732); // base64 of 2048 bytes
    eprintln!("16384-bit load and sign: {:?}", started.elapsed());
}

/// SECURITY.md §4.8 #70, #71, #73 in the query string (vector A has `c2` in the body):
/// a bare name `c2` normalises as `c2=`, duplicates are kept and sorted by value, and
/// `b5=%3D%253D` is decoded once and encoded again; the signer and verifier agree.
#[test]
fn s4_8_case70_71_73_query_edge_cases() {
    let s = hmac_signer();
    let uri: Uri = "http://example.com/request?c2&a3=a&b5=%3D%253D&a3=2%20q&c%40="
        .parse()
        .unwrap();
    let opts = SignOptions::new().nonce("n").timestamp(1);
    let signed = s
        .sign(&Method::GET, &uri, None, &opts, Placement::Header)
        .unwrap();
    let req = UnverifiedRequest::parse(
        IncomingRequest::new(&Method::GET, &uri).authorization(signed.authorization().unwrap()),
    )
    .unwrap();
    let base = req.base_string().to_owned();
    assert!(
        base.starts_with(
            "GET&http%3A%2F%2Fexample.com%2Frequest&a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_key%3Dkey"
        ),
        "{base}"
    );
    let cs = ConsumerSecret::new("cs");
    let ts = TokenSecret::new("ts");
    assert!(
        req.verify(VerifyKey::Secrets(SigningSecrets {
            consumer_secret: &cs,
            token_secret: Some(&ts),
        }))
        .is_ok()
    );
}

/// A custom method that returns a fixed result: a signature (possibly empty) or an error.
#[derive(Debug)]
struct Fixed {
    name: &'static str,
    result: Result<&'static str, CustomMethodError>,
}
impl CustomSignatureMethod for Fixed {
    fn name(&self) -> &str {
        self.name
    }
    fn sign(
        &self,
        _: SigningSecrets<'_>,
        _: &str,
        out: &mut String,
    ) -> Result<(), CustomMethodError> {
        out.push_str(self.result?);
        Ok(())
    }
}

/// A custom method that fails, or that returns an empty signature, signs nothing and verifies
/// nothing. An empty `oauth_signature` was sent as it was, and a verifier whose custom method
/// returned "" accepted any request carrying `oauth_signature=""`, whatever its parameters.
#[test]
fn custom_method_errors_and_empty_signatures_are_refused() {
    let uri: Uri = "https://example.com/r?a=1".parse().unwrap();
    let cs = ConsumerSecret::new("cs");
    let secrets = SigningSecrets {
        consumer_secret: &cs,
        token_secret: None,
    };
    let failing = Fixed {
        name: "X-FIXED",
        result: Err(CustomMethodError::new("hsm unavailable")),
    };
    let empty = Fixed {
        name: "X-FIXED",
        result: Ok(""),
    };
    for method in [failing, empty] {
        let method = Arc::new(method);
        let signer = Signer::builder(ClientCredentials::new("key", ConsumerSecret::new("cs")))
            .custom_method(method.clone())
            .build()
            .unwrap();
        for placement in [Placement::Header, Placement::Query, Placement::Body] {
            let err = signer
                .sign(&Method::POST, &uri, None, &SignOptions::new(), placement)
                .unwrap_err();
            assert!(matches!(err, SignError::Custom(_)), "{method:?}: {err:?}");
        }
        // A forged request with an empty signature.
        let header = "OAuth oauth_consumer_key=\"key\", oauth_nonce=\"n\", oauth_signature=\"\", \
                      oauth_signature_method=\"X-FIXED\", oauth_timestamp=\"1\"";
        let req = UnverifiedRequest::parse(
            IncomingRequest::new(&Method::POST, &uri).authorization(header),
        )
        .unwrap();
        assert_eq!(
            req.verify(VerifyKey::Custom(&*method, secrets))
                .unwrap_err(),
            VerifyError::Internal,
            "{method:?}"
        );
    }
}

/// A custom method named `PLAINTEXT` (say, one that sends the key without encoding it, as
/// some legacy providers want) sends the shared secrets as the signature, so it is refused
/// over plain `http` like the built-in one (RFC 5849 §3.4.4), on both sides. It was signed and
/// accepted over `http://` without the opt-in.
#[test]
fn a_custom_plaintext_method_needs_https_too() {
    let http: Uri = "http://example.com/initiate".parse().unwrap();
    let https: Uri = "https://example.com/initiate".parse().unwrap();
    let method = Arc::new(Fixed {
        name: "PLAINTEXT",
        result: Ok("cs&"),
    });
    let builder = || {
        Signer::builder(ClientCredentials::new("key", ConsumerSecret::new("cs")))
            .custom_method(method.clone())
    };
    let signer = builder().build().unwrap();
    let opts = SignOptions::new();
    for placement in [Placement::Header, Placement::Query, Placement::Body] {
        assert_eq!(
            signer
                .sign(&Method::POST, &http, None, &opts, placement)
                .unwrap_err(),
            SignError::InsecureTransport
        );
    }
    let signed = signer
        .sign(&Method::POST, &https, None, &opts, Placement::Header)
        .unwrap();
    assert_eq!(signed.signature(), "cs&");
    let opted_in = builder()
        .dangerous_allow_plaintext_over_http()
        .build()
        .unwrap();
    let signed = opted_in
        .sign(&Method::POST, &http, None, &opts, Placement::Header)
        .unwrap();

    let cs = ConsumerSecret::new("cs");
    let secrets = SigningSecrets {
        consumer_secret: &cs,
        token_secret: None,
    };
    let parse = || {
        UnverifiedRequest::parse(
            IncomingRequest::new(&Method::POST, &http)
                .authorization(signed.authorization().unwrap()),
        )
        .unwrap()
    };
    assert_eq!(
        parse()
            .verify(VerifyKey::Custom(&*method, secrets))
            .unwrap_err(),
        VerifyError::InsecureTransport
    );
    assert!(
        parse()
            .dangerous_allow_plaintext_over_http()
            .verify(VerifyKey::Custom(&*method, secrets))
            .is_ok()
    );
}

/// SECURITY.md O1-01: `oauth_timestamp` is a positive integer (RFC 5849 §3.3), and this crate's
/// verifier refuses `0`. A `SignOptions::timestamp(0)` override was sent as `oauth_timestamp="0"`,
/// a request no server (this crate's included) accepts; it is now refused when signing.
#[test]
fn a_zero_timestamp_override_is_refused() {
    let s = hmac_signer();
    let uri: Uri = "https://example.com/r".parse().unwrap();
    for placement in [Placement::Header, Placement::Query, Placement::Body] {
        let opts = SignOptions::new().nonce("n").timestamp(0);
        assert_eq!(
            s.sign(&Method::GET, &uri, None, &opts, placement)
                .unwrap_err(),
            SignError::InvalidOption {
                option: "timestamp"
            }
        );
    }
    // The smallest valid override is signed, and verifies.
    let opts = SignOptions::new().nonce("n").timestamp(1);
    let signed = s
        .sign(&Method::GET, &uri, None, &opts, Placement::Header)
        .unwrap();
    let cs = ConsumerSecret::new("cs");
    let ts = TokenSecret::new("ts");
    let verified = UnverifiedRequest::parse(
        IncomingRequest::new(&Method::GET, &uri).authorization(signed.authorization().unwrap()),
    )
    .unwrap()
    .verify(VerifyKey::Secrets(SigningSecrets {
        consumer_secret: &cs,
        token_secret: Some(&ts),
    }))
    .unwrap();
    assert_eq!(verified.timestamp(), Some(1));
}

/// SECURITY.md §4.9 #83, verifying side: a PEM bundle with a certificate before the public key
/// (as a provider's key file may come) loads the public key. `RsaPublicKey::from_pem` took the
/// first block whose label was public-ish, the certificate, and failed with `KeyError::Parse`
/// although the document held a usable key.
#[test]
fn a_certificate_before_the_public_key_is_skipped() {
    let cert = pem("test_ec_p256_selfsigned_cert.pem");
    let public = pem("wiki_rsa_1024_public.pem");
    let private = pem("wiki_rsa_1024_pkcs8.pem");
    let key = RsaPrivateKey::from_pem_with_min_bits(&private, 1024).unwrap();
    let sig = key
        .sign_base_string(SignatureMethod::RsaSha1, "bs")
        .unwrap();
    for bundle in [
        format!("{cert}{public}"),
        format!("{public}{cert}"),
        format!("{cert}{private}{public}"),
    ] {
        let loaded = RsaPublicKey::from_pem_with_min_bits(&bundle, 1024).unwrap();
        assert!(loaded.verify_base_string(SignatureMethod::RsaSha1, "bs", &sig));
    }
    // A certificate alone is still refused, as before, and so is a private key alone.
    assert_eq!(
        RsaPublicKey::from_pem_with_min_bits(&cert, 1024).unwrap_err(),
        KeyError::Parse
    );
    assert_eq!(
        RsaPublicKey::from_pem_with_min_bits(&format!("{cert}{private}"), 1024).unwrap_err(),
        KeyError::Parse
    );
}

/// SECURITY.md §4.9 #83 (whitespace tolerated): a PEM whose base64 is not wrapped at 64
/// columns loads. RFC 7468 §2 binds generators to 64-character lines and lets parsers take
/// others; keys kept in one-line settings, or written by MIME encoders (76 columns), came out
/// as `KeyError::Parse`. Encrypted PKCS#1 (with its headers) is still `Encrypted`.
#[test]
fn pem_base64_wrapped_at_other_widths_loads() {
    for (private, public) in [
        (
            "oauthlib_rsa_1024_pkcs1.pem",
            "oauthlib_rsa_1024_public.pem",
        ),
        ("wiki_rsa_1024_pkcs8.pem", "wiki_rsa_1024_public.pem"),
        (
            "oauthlib_rsa_1024_pkcs1.pem",
            "oauthlib_rsa_1024_public_pkcs1.pem",
        ),
    ] {
        let public_key = RsaPublicKey::from_pem_with_min_bits(&pem(public), 1024).unwrap();
        let key = RsaPrivateKey::from_pem_with_min_bits(&pem(private), 1024).unwrap();
        let sig = key
            .sign_base_string(SignatureMethod::RsaSha1, "bs")
            .unwrap();
        for (name, pem_text) in [(private, pem(private)), (public, pem(public))] {
            let lines: Vec<&str> = pem_text.lines().collect();
            let (begin, end) = (lines[0], lines[lines.len() - 1]);
            let body: String = lines[1..lines.len() - 1].concat();
            let wrapped = |width: usize| -> String {
                body.as_bytes()
                    .chunks(width)
                    .map(|c| format!("{}\n", std::str::from_utf8(c).unwrap()))
                    .collect()
            };
            for variant in [
                format!("{begin}\n{body}\n{end}\n"),
                format!("{begin}\r\n{}{end}\r\n", wrapped(76)),
                format!("{begin}\n{}{end}", wrapped(40)),
                format!("{begin}{body}{end}"),
                format!("  {begin} {body} {end}  "),
            ] {
                if name == private {
                    let loaded = RsaPrivateKey::from_pem_with_min_bits(&variant, 1024)
                        .unwrap_or_else(|e| panic!("{name} {variant:?}: {e}"));
                    assert_eq!(
                        loaded
                            .sign_base_string(SignatureMethod::RsaSha1, "bs")
                            .unwrap(),
                        sig
                    );
                } else {
                    let loaded = RsaPublicKey::from_pem_with_min_bits(&variant, 1024)
                        .unwrap_or_else(|e| panic!("{name} {variant:?}: {e}"));
                    assert!(loaded.verify_base_string(SignatureMethod::RsaSha1, "bs", &sig));
                    assert!(public_key.verify_base_string(SignatureMethod::RsaSha1, "bs", &sig));
                }
            }
        }
    }
    // Still refused: bad base64 once joined, and an encrypted key on one line.
    let good = pem("oauthlib_rsa_1024_pkcs1.pem");
    let one_line_bad = good.replacen('\n', "", 1).replace("MII", "M!I");
    assert_eq!(
        RsaPrivateKey::from_pem_with_min_bits(&one_line_bad, 1024).unwrap_err(),
        KeyError::Parse
    );
    let encrypted = pem("test_rsa_1024_encrypted_pkcs1.pem");
    assert_eq!(
        RsaPrivateKey::from_pem_with_min_bits(&encrypted.replace('\n', "  "), 1024).unwrap_err(),
        KeyError::Encrypted
    );
}

/// A custom method's name is sent as `oauth_signature_method`: an empty one names no method,
/// and one with characters outside the RFC 7230 `tchar` set (a space, a quote, a comma, a
/// control character, non-ASCII) is not a method name any provider knows. Both were accepted
/// and sent as they were; the builder now refuses them.
#[test]
fn custom_method_names_that_cannot_be_sent_are_refused_at_build() {
    let build = |name: &'static str| {
        Signer::builder(ClientCredentials::new("key", ConsumerSecret::new("cs")))
            .custom_method(Arc::new(Fixed {
                name,
                result: Ok("sig"),
            }))
            .build()
    };
    for name in [
        "", " ", "X CUSTOM", "X\"Y", "X,Y", "X\tY", "X\nY", "X\u{7f}", "X\u{0}", "é", "X;Y", "X=Y",
        "X\\Y", "(X)",
    ] {
        assert_eq!(
            build(name).unwrap_err(),
            ConfigError::InvalidCustomMethodName,
            "{name:?}"
        );
    }
    for name in [
        "X-REVERSE",
        "ECHO+BASE",
        "HMAC-SHA1",
        "x_y.z~1",
        "PLAINTEXT",
    ] {
        assert_eq!(build(name).unwrap().method_name(), name);
    }
}

/// A custom method never sees the RSA key (it is given the shared secrets only), so a key
/// given with one was dropped silently, whatever `method` said: the signer signed with the
/// custom method and the caller believed the key was in use. The builder now refuses it, in
/// either order, as it refuses a key for a non-RSA built-in method.
#[test]
fn an_rsa_key_with_a_custom_method_is_refused() {
    let key = RsaPrivateKey::from_pem_with_min_bits(&pem("wiki_rsa_1024_pkcs8.pem"), 1024).unwrap();
    let client = || ClientCredentials::new("key", ConsumerSecret::new("cs"));
    let custom = || Arc::new(Reverse);
    for method in [
        None,
        Some(SignatureMethod::RsaSha1),
        Some(SignatureMethod::HmacSha1),
    ] {
        let with = |b: SignerBuilder| match method {
            Some(m) => b.method(m),
            None => b,
        };
        let key_first = with(Signer::builder(client()))
            .rsa_key(key.clone())
            .custom_method(custom());
        let custom_first = with(Signer::builder(client()))
            .custom_method(custom())
            .rsa_key(key.clone());
        for builder in [key_first, custom_first] {
            assert_eq!(
                builder.build().unwrap_err(),
                ConfigError::UnusedRsaKey,
                "{method:?}"
            );
        }
    }
    // Without the key, the custom method replaces an RSA `method` as documented.
    let signer = Signer::builder(client())
        .method(SignatureMethod::RsaSha1)
        .custom_method(custom())
        .build()
        .unwrap();
    assert_eq!(signer.method_name(), "X-REVERSE");
}

/// `oauth_callback` is an absolute URI the provider redirects to, or `oob` (RFC 5849 §2.1); an
/// `http` or `https` URI has a non-empty host (RFC 9110 §4.2.1, §4.2.2: a recipient must
/// reject one without). `https://`, `https:///cb` and the like were accepted and sent.
#[test]
fn callbacks_without_a_host_are_refused() {
    for callback in [
        "https://",
        "http://",
        "HTTPS://",
        "https:///cb",
        "https://?a=1",
        "https://:443/cb",
        "https://user@/cb",
        "https://user@:8080",
        "https://[]/cb",
        "https:/cb",
        "https:cb",
        "http:",
        "",
        "OOB",
        "https://app.example/cb#frag",
    ] {
        assert!(!is_valid_callback(callback), "{callback:?}");
    }
    for callback in [
        "oob",
        "https://app.example/cb?next=%2Fa",
        "http://localhost:8080",
        "https://u:p@h.example:1/",
        "https://[::1]:8443/cb",
        "HTTPS://App.Example",
        "https://h?x",
        // Native apps' custom schemes need no host (RFC 8252 §7.1).
        "com.example.app:/oauth/cb",
        "myapp://callback",
        "urn:ietf:wg:oauth:2.0:oob",
    ] {
        assert!(is_valid_callback(callback), "{callback:?}");
    }
}
