//! No oauth1 type prints a secret: every `Debug` (and `Display` of errors) is grepped for
//! sentinel values (SECURITY.md §4.9 #86, O1-13).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use http::{Method, Uri};
use oauth_core::oauth1::*;
use oauth_core::secret::{ConsumerSecret, TokenSecret, Verifier};

const CS: &str = "SENTINELconsumerSECRET";
const TS: &str = "SENTINELtokenSECRET";
const VERIFIER: &str = "SENTINELverifierVALUE";
const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/oauth1");

fn assert_clean(what: &str, out: &str, pem_lines: &[String]) {
    for sentinel in [CS, TS, VERIFIER] {
        assert!(!out.contains(sentinel), "{what} leaked {sentinel}: {out}");
    }
    for line in pem_lines {
        assert!(!out.contains(line.as_str()), "{what} leaked PEM: {out}");
    }
}

#[derive(Debug)]
struct Custom;
impl CustomSignatureMethod for Custom {
    fn name(&self) -> &str {
        "X-CUSTOM"
    }
    fn sign(
        &self,
        s: SigningSecrets<'_>,
        _: &str,
        out: &mut String,
    ) -> Result<(), CustomMethodError> {
        out.push_str(s.consumer_secret.secret());
        Ok(())
    }
}

#[test]
fn debug_and_display_never_print_secrets() {
    let pem = std::fs::read_to_string(format!("{VECTORS}/oauthlib_rsa_1024_pkcs1.pem")).unwrap();
    let pem_lines: Vec<String> = pem
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .map(str::to_owned)
        .collect();
    let key = RsaPrivateKey::from_pem_with_min_bits(&pem, 1024).unwrap();
    let public = key.public_key();

    let client = ClientCredentials::new("consumer-key", ConsumerSecret::new(CS));
    let token = TokenCredentials::new("token", TokenSecret::new(TS));
    let verifier = Verifier::new(VERIFIER);
    let builder = Signer::builder(client.clone())
        .token(token.clone())
        .method(SignatureMethod::Plaintext);
    let builder_debug = format!("{builder:?}");
    let plain = builder.build().unwrap();
    let rsa_builder = Signer::builder(client.clone())
        .method(SignatureMethod::RsaSha1)
        .rsa_key(key.clone());
    let rsa_builder_debug = format!("{rsa_builder:#?}");
    let rsa = rsa_builder.build().unwrap();
    let custom = Signer::builder(client.clone())
        .custom_method(Arc::new(Custom))
        .build()
        .unwrap();

    let uri: Uri = "https://example.com/p?a=1".parse().unwrap();
    let options = SignOptions::new()
        .verifier(&verifier)
        .realm("r")
        .body_hash(CS.as_bytes());
    let header = plain
        .sign(&Method::POST, &uri, None, &options, Placement::Header)
        .unwrap();
    let query = plain
        .sign(&Method::POST, &uri, None, &options, Placement::Query)
        .unwrap();
    // (Body placement takes no body hash: the body becomes a form.)
    let body_options = SignOptions::new().verifier(&verifier).realm("r");
    let body = plain
        .sign(&Method::POST, &uri, None, &body_options, Placement::Body)
        .unwrap();
    // The PLAINTEXT signature really holds the secrets (so the test means something).
    assert!(header.authorization().unwrap().contains(CS));
    assert!(header.signature().contains(TS));

    let header_str = header.authorization().unwrap().to_owned();
    let parsed = AuthorizationHeader::parse(&header_str).unwrap();
    let incoming = IncomingRequest::new(&Method::POST, &uri).authorization(&header_str);
    let unverified = UnverifiedRequest::parse(incoming).unwrap();
    let unverified_debug = format!("{unverified:?}");
    let cs = ConsumerSecret::new(CS);
    let ts = TokenSecret::new(TS);
    let secrets = SigningSecrets {
        consumer_secret: &cs,
        token_secret: Some(&ts),
    };
    let verified = unverified.verify(VerifyKey::Secrets(secrets)).unwrap();
    assert_eq!(verified.verifier().unwrap().secret(), VERIFIER);

    let outputs = [
        ("ClientCredentials", format!("{client:?}")),
        ("TokenCredentials", format!("{token:#?}")),
        ("SignerBuilder", builder_debug),
        ("SignerBuilder(rsa)", rsa_builder_debug),
        ("Signer(plaintext)", format!("{plain:?}")),
        ("Signer(rsa)", format!("{rsa:#?}")),
        ("Signer(custom)", format!("{custom:?}")),
        ("SignOptions", format!("{options:?}")),
        ("Signed(header)", format!("{header:?}")),
        ("Signed(query)", format!("{query:#?}")),
        ("Signed(body)", format!("{body:?}")),
        ("SignedOutput", format!("{:?}", header.output())),
        ("SigningSecrets", format!("{secrets:?}")),
        (
            "VerifyKey::Secrets",
            format!("{:?}", VerifyKey::Secrets(secrets)),
        ),
        (
            "VerifyKey::Custom",
            format!("{:?}", VerifyKey::Custom(&Custom, secrets)),
        ),
        ("VerifyKey::Rsa", format!("{:?}", VerifyKey::Rsa(&public))),
        ("RsaPrivateKey", format!("{key:?}")),
        ("RsaPublicKey", format!("{public:#?}")),
        ("AuthorizationHeader", format!("{parsed:?}")),
        ("IncomingRequest", format!("{incoming:?}")),
        ("UnverifiedRequest", unverified_debug),
        ("ProtocolParameters", format!("{verified:?}")),
        (
            "SignatureMethod",
            format!(
                "{:?} {}",
                SignatureMethod::RsaSha1,
                SignatureMethod::Plaintext
            ),
        ),
        (
            "Origin",
            format!("{:?}", Origin::new("https", "example.com")),
        ),
    ];
    for (what, out) in &outputs {
        assert_clean(what, out, &pem_lines);
    }
    assert!(format!("{key:?}").contains("[redacted]"));
    // A key printed in another encoding than its PEM (its modulus and exponents in hex, say)
    // is a long run of letters and digits, which no RSA key output has.
    for (what, out) in outputs
        .iter()
        .filter(|(what, _)| what.to_ascii_lowercase().contains("rsa"))
    {
        let longest = out
            .split(|c: char| !c.is_ascii_alphanumeric())
            .map(str::len)
            .max()
            .unwrap_or(0);
        assert!(longest < 32, "{what} prints key material: {out}");
    }

    // Errors: Display and Debug of every variant, including ones from real failures.
    let mut errors: Vec<(String, String)> = Vec::new();
    let mut push = |e: &dyn std::error::Error, d: String| errors.push((e.to_string(), d));
    for e in [
        KeyError::Parse,
        KeyError::Encrypted,
        KeyError::WrongKeyType {
            expected: "private",
        },
        KeyError::TooSmall {
            bits: 1024,
            min_bits: 2048,
        },
        RsaPrivateKey::from_pem(&pem[..pem.len() / 2]).unwrap_err(),
        RsaPrivateKey::from_pem(&pem).unwrap_err(),
    ] {
        push(&e, format!("{e:?}"));
    }
    let http_uri: Uri = "http://example.com/?oauth_token=SENTINELconsumerSECRET"
        .parse()
        .unwrap();
    for e in [
        plain
            .sign(&Method::GET, &http_uri, None, &options, Placement::Header)
            .unwrap_err(),
        Signer::builder(client.clone())
            .build()
            .unwrap()
            .sign(&Method::GET, &http_uri, None, &options, Placement::Header)
            .unwrap_err(),
        SignError::InsecureTransport,
        SignError::Rsa,
        SignError::BodyHashWithFormBody,
        SignError::InvalidOption { option: "realm" },
        SignError::Custom(CustomMethodError::new("custom failure")),
        SignError::Random(oauth_core::clock::RandomError::new()),
        SignError::Clock(
            oauth_core::clock::unix_seconds(UNIX_EPOCH - Duration::from_secs(1)).unwrap_err(),
        ),
    ] {
        push(&e, format!("{e:?}"));
    }
    let bad_header = format!("OAuth oauth_signature=\"{CS}%zz\"");
    for e in [
        AuthorizationHeader::parse(&bad_header).unwrap_err(),
        AuthorizationHeader::parse(&format!("OAuth a=\"{CS}\", a=\"{TS}\"")).unwrap_err(),
        AuthorizationHeader::parse(&format!("OAuth a=\"{CS}")).unwrap_err(),
        AuthorizationHeader::parse(&format!("Basic {CS}")).unwrap_err(),
    ] {
        push(&e, format!("{e:?}"));
    }
    let wrong = TokenSecret::new("wrong");
    for e in [
        UnverifiedRequest::parse(
            IncomingRequest::new(&Method::POST, &uri).authorization(&header_str),
        )
        .unwrap()
        .verify(VerifyKey::Secrets(SigningSecrets {
            consumer_secret: &cs,
            token_secret: Some(&wrong),
        }))
        .unwrap_err(),
        VerifyError::MissingParameter("oauth_nonce"),
        VerifyError::UnsupportedSignatureMethod,
        VerifyError::UnsupportedVersion,
        VerifyError::InvalidTimestamp,
        VerifyError::InvalidSignatureEncoding,
        VerifyError::InsecureTransport,
        VerifyError::SignatureMismatch,
        VerifyError::Internal,
        VerifyError::BodyHashWithFormBody,
        VerifyError::Header(HeaderError::NotOAuth),
    ] {
        push(&e, format!("{e:?}"));
    }
    for e in [
        ConfigError::MissingRsaKey,
        ConfigError::UnusedRsaKey,
        ConfigError::InvalidCustomMethodName,
    ] {
        push(&e, format!("{e:?}"));
    }
    for (display, debug) in &errors {
        assert_clean("error Display", display, &pem_lines);
        assert_clean("error Debug", debug, &pem_lines);
    }
}

/// The secrets handed to a signature method show as redacted, not as nothing: a log line still
/// says which value was there (with and without a token secret), and never the secrets.
#[test]
fn signing_secrets_debug_says_redacted_without_the_secrets() {
    let consumer = ConsumerSecret::new(CS);
    let token = TokenSecret::new(TS);
    for token_secret in [Some(&token), None] {
        let secrets = SigningSecrets {
            consumer_secret: &consumer,
            token_secret,
        };
        let out = format!("{secrets:?}");
        assert!(out.contains("SigningSecrets"), "{out}");
        assert!(out.contains("redacted"), "{out}");
        assert_clean("SigningSecrets", &out, &[]);
    }
}
