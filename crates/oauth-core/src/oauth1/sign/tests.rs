use proptest::prelude::*;

use super::*;
use crate::clock::{CountingRandom, ManualClock};
use crate::oauth1::error::CustomMethodError;
use crate::oauth1::method::CustomSignatureMethod;
use crate::oauth1::rsa_key::RsaPrivateKey;
use crate::secret::{ConsumerSecret, TokenSecret, Verifier};

#[derive(Debug)]
struct Stuck;
impl RandomSource for Stuck {
    fn fill(&self, dest: &mut [u8]) -> Result<(), RandomError> {
        dest.fill(0xFF);
        Ok(())
    }
}

#[test]
fn nonce_is_alphanumeric_and_a_stuck_source_is_an_error() {
    let mut buf = [0u8; NONCE_LEN];
    generate_nonce(&CountingRandom::new(1), &mut buf).unwrap();
    assert!(buf.iter().all(u8::is_ascii_alphanumeric));
    assert_eq!(generate_nonce(&Stuck, &mut buf), Err(RandomError));
}

#[test]
fn default_signers_use_the_thread_stream_and_custom_sources_do_not() {
    let credentials = || ClientCredentials::new("k", ConsumerSecret::new("s"));
    let default = Signer::builder(credentials()).build().unwrap();
    assert!(default.pooled_nonces);
    let a = default.next_nonce().unwrap();
    let b = default.clone().next_nonce().unwrap();
    assert_ne!(a, b);
    assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()) && a.len() == NONCE_LEN);
    let custom = Signer::builder(credentials())
        .random(SystemRandom::new())
        .build()
        .unwrap();
    assert!(!custom.pooled_nonces);
    assert!(!custom.with_token(None).pooled_nonces);
    assert!(default.with_token(None).pooled_nonces);
}

/// O1-02 (RFC 5849 §3.3, §4.9): a signer built without a random source draws its nonces
/// from the operating system's CSPRNG (`SystemRandom`, which seeds the thread streams). A
/// predictable default (a counter) would still give nonces that never repeat within one
/// process, so the collision tests cannot tell; this pins the source itself.
#[test]
fn the_default_nonce_source_is_the_system_csprng() {
    let credentials = || ClientCredentials::new("k", ConsumerSecret::new("s"));
    let default = Signer::builder(credentials()).build().unwrap();
    assert_eq!(format!("{:?}", default.random), "SystemRandom");
    assert!(default.pooled_nonces);
    // The next step of the dance keeps it.
    let next = default.with_token(Some(TokenCredentials::new("t", TokenSecret::new("ts"))));
    assert_eq!(format!("{:?}", next.random), "SystemRandom");
}

/// After `fork()` parent and child hold copies of one thread stream and diverge only
/// through what it is mixed with: a custom clock's reading (fixed, or coarse) must not be
/// it, or both would draw the same nonces.
#[test]
fn only_the_system_clock_mixes_the_nonce_stream() {
    let credentials = || ClientCredentials::new("k", ConsumerSecret::new("s"));
    let custom = Signer::builder(credentials())
        .clock(ManualClock::at_unix_seconds(1000))
        .build()
        .unwrap();
    assert!(custom.pooled_nonces && !custom.system_clock);
    assert!(!custom.with_token(None).system_clock);
    let reading = read_clock(custom.clock.now()).1;
    assert_ne!(custom.nonce_mix(Some(reading)), reading);
    let default = Signer::builder(credentials()).build().unwrap();
    assert!(default.system_clock);
    assert_eq!(default.nonce_mix(Some(reading)), reading);

    // The fork: two copies of one stream, each signing at "the same" custom-clock time.
    let random = SystemRandom::new();
    let parent = crate::oauth1::nonce::NonceStream::seeded(&random).unwrap();
    let mut child = parent.clone();
    let mut parent = parent;
    let (mut a, mut b) = ([0u8; NONCE_LEN], [0u8; NONCE_LEN]);
    // What the old code did: the same custom reading on both sides, the same nonce.
    parent.clone().generate(&random, reading, &mut a).unwrap();
    child.clone().generate(&random, reading, &mut b).unwrap();
    assert_eq!(a, b);
    parent
        .generate(&random, custom.nonce_mix(Some(reading)), &mut a)
        .unwrap();
    std::thread::sleep(std::time::Duration::from_micros(5));
    child
        .generate(&random, custom.nonce_mix(Some(reading)), &mut b)
        .unwrap();
    assert_ne!(a, b);
}

#[test]
fn a_signer_reports_its_credentials_and_method_and_debug_hides_the_secrets() {
    let signer = Signer::builder(ClientCredentials::new(
        "dpf43f3p2l4k3l03",
        ConsumerSecret::new("kd94hf93k423kf44"),
    ))
    .token(TokenCredentials::new(
        "nnch734d00sl2jdk",
        TokenSecret::new("pfkkdhi9sl3r4s00"),
    ))
    .build()
    .unwrap();
    assert_eq!(signer.client().key(), "dpf43f3p2l4k3l03");
    assert_eq!(
        signer.token().map(TokenCredentials::token),
        Some("nnch734d00sl2jdk")
    );
    assert_eq!(signer.method_name(), "HMAC-SHA1");
    let temporary = signer.with_token(None);
    assert!(temporary.token().is_none());
    assert_eq!(temporary.client().key(), "dpf43f3p2l4k3l03");

    let debug = format!("{signer:?}");
    for shown in [
        "Signer",
        "dpf43f3p2l4k3l03",
        "nnch734d00sl2jdk",
        "HMAC-SHA1",
        "SystemRandom",
        "allow_plaintext_over_http: false",
    ] {
        assert!(debug.contains(shown), "{shown} missing from {debug}");
    }
    for secret in ["kd94hf93k423kf44", "pfkkdhi9sl3r4s00"] {
        assert!(!debug.contains(secret), "{debug}");
    }
}

#[test]
fn sorts_before_protocol_is_byte_order() {
    for name in [
        "", "a", "o", "oauth", "oauth-", "oauth_", "oauth_x", "oauthz", "oa~", "p", "Z", "~",
    ] {
        assert_eq!(
            sorts_before_protocol(name.as_bytes()),
            name.as_bytes() < b"oauth_".as_slice(),
            "{name}"
        );
    }
}

#[test]
fn timestamps_never_decrease() {
    let clock = ManualClock::at_unix_seconds(1000);
    let signer = Signer::builder(ClientCredentials::new("k", ConsumerSecret::new("s")))
        .clock(clock.clone())
        .build()
        .unwrap();
    assert_eq!(signer.next_timestamp().unwrap(), 1000);
    clock.set(std::time::UNIX_EPOCH + std::time::Duration::from_secs(900));
    assert_eq!(signer.next_timestamp().unwrap(), 1000);
    clock.advance(std::time::Duration::from_secs(200));
    assert_eq!(signer.next_timestamp().unwrap(), 1100);
    clock.set(std::time::UNIX_EPOCH - std::time::Duration::from_secs(1));
    assert!(matches!(signer.next_timestamp(), Err(SignError::Clock(_))));
    // The next step of the dance carries the clamp on, both ways.
    clock.set(std::time::UNIX_EPOCH + std::time::Duration::from_secs(500));
    let next = signer.with_token(Some(TokenCredentials::new("t", TokenSecret::new("ts"))));
    assert_eq!(next.next_timestamp().unwrap(), 1100);
    clock.set(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1200));
    assert_eq!(next.next_timestamp().unwrap(), 1200);
    clock.set(std::time::UNIX_EPOCH + std::time::Duration::from_secs(600));
    assert_eq!(signer.next_timestamp().unwrap(), 1200);
}

/// A custom method whose signature is the base string itself, so comparing signatures
/// compares base strings.
#[derive(Debug)]
struct EchoBase;
impl CustomSignatureMethod for EchoBase {
    fn name(&self) -> &str {
        "ECHO+BASE"
    }
    fn sign(
        &self,
        _: SigningSecrets<'_>,
        base_string: &str,
        out: &mut String,
    ) -> Result<(), CustomMethodError> {
        out.push_str(base_string);
        Ok(())
    }
}

/// A custom method whose signature is longer than any built-in one and is all characters
/// that percent-encoding triples.
#[derive(Debug)]
struct Escaped;
impl CustomSignatureMethod for Escaped {
    fn name(&self) -> &str {
        "X-ESCAPED"
    }
    fn sign(
        &self,
        _: SigningSecrets<'_>,
        _: &str,
        out: &mut String,
    ) -> Result<(), CustomMethodError> {
        out.push_str(&"+/".repeat(50));
        out.push('=');
        Ok(())
    }
}

/// However long the signature and however many of its characters need escaping, the
/// header carries all of it, percent-encoded (RFC 5849 §3.5.1, §3.6).
#[test]
fn a_long_signature_needing_escapes_is_sent_whole_in_the_header() {
    let signer = Signer::builder(ClientCredentials::new("k", ConsumerSecret::new("s")))
        .custom_method(Arc::new(Escaped))
        .build()
        .unwrap();
    let uri: Uri = "https://example.com/p".parse().unwrap();
    let options = SignOptions::new().nonce("n").timestamp(1);
    let signed = signer
        .sign(&Method::GET, &uri, None, &options, Placement::Header)
        .unwrap();
    let raw = format!("{}=", "+/".repeat(50));
    assert_eq!(signed.signature(), raw);
    assert_eq!(
        signed.authorization().unwrap(),
        format!(
            "OAuth oauth_consumer_key=\"k\", oauth_nonce=\"n\", oauth_signature=\"{}%3D\", \
             oauth_signature_method=\"X-ESCAPED\", oauth_timestamp=\"1\", \
             oauth_version=\"1.0\"",
            "%2B%2F".repeat(50)
        )
    );
}

fn rsa_key() -> RsaPrivateKey {
    static KEY: std::sync::OnceLock<RsaPrivateKey> = std::sync::OnceLock::new();
    KEY.get_or_init(|| {
        let pem = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/oauth1/oauthlib_rsa_1024_pkcs1.pem"
        ))
        .unwrap();
        RsaPrivateKey::from_pem_with_min_bits(&pem, 1024).unwrap()
    })
    .clone()
}

fn test_signer(method: usize, consumer_key: &str, token: Option<&str>) -> Signer {
    let mut builder = Signer::builder(ClientCredentials::new(
        consumer_key,
        ConsumerSecret::new("c s€"),
    ))
    .clock(ManualClock::at_unix_seconds(1_300_000_000))
    .random(CountingRandom::new(3));
    if let Some(token) = token {
        builder = builder.token(TokenCredentials::new(token, TokenSecret::new("t&s")));
    }
    builder = match method {
        0 => builder,
        1 => builder.method(SignatureMethod::HmacSha256),
        2 => builder.method(SignatureMethod::HmacSha512),
        3 => builder
            .method(SignatureMethod::Plaintext)
            .dangerous_allow_plaintext_over_http(),
        4 => builder.method(SignatureMethod::RsaSha1).rsa_key(rsa_key()),
        _ => builder.custom_method(Arc::new(EchoBase)),
    };
    builder.build().unwrap()
}

fn output_bytes(output: &SignedOutput) -> (u8, Vec<u8>, bool) {
    match output {
        SignedOutput::Header(v) => (0, v.as_bytes().to_vec(), v.is_sensitive()),
        SignedOutput::Query(u) => (1, u.to_string().into_bytes(), false),
        SignedOutput::Body(b) => (2, b.clone(), false),
    }
}

/// Form data that exercises every branch of the collector: escapes of reserved, unreserved
/// and non-ASCII bytes, bad escapes, `+`, empty segments, `oauth_` names.
const FORM: &str =
    "(%[0-9a-fA-F]{2}|%[0-9a-fA-F]?|[+=&a-zA-Z0-9._~!*'(),;:@/?$]|oauth_|oauth%5F|%C3|é){0,16}";
/// Mostly valid form data (escapes of ASCII and of whole UTF-8 characters).
const VALID_FORM: &str =
    "(%[0-7][0-9a-fA-F]|%C3%A9|[+=&a-zA-Z0-9._~!*'(),;:@/?$]|oauth|%5F|é){0,16}";

fn form_data() -> impl Strategy<Value = String> {
    prop_oneof![4 => VALID_FORM, 1 => FORM]
}

/// The body is checked for UTF-8 only when it has bytes that are not ASCII, yet a body
/// that is not UTF-8 is still reported before the query's errors, as the reference does.
#[test]
fn utf8_errors_keep_their_place() {
    let cases: [(&str, &[u8]); 5] = [
        ("https://e.example/?oauth_x=1", b"a=\xff"),
        ("https://e.example/?a=%zz", b"b=\xc3"),
        ("https://e.example/", b"a=\xff&oauth_y=2"),
        ("https://e.example/", "a=\u{e9}t\u{e9}&b=%C3%A9".as_bytes()),
        ("https://e.example/?q=1", b"a=%ff\xff"),
    ];
    for (uri, body) in cases {
        // Fresh signers: a failed signature may have drawn a nonce on one side only.
        let signer = test_signer(0, "k", Some("t"));
        let reference = test_signer(0, "k", Some("t"));
        let uri: Uri = uri.parse().unwrap();
        let options = SignOptions::new();
        let fast = signer.sign(&Method::POST, &uri, Some(body), &options, Placement::Body);
        let slow = reference::sign_reference(
            &reference,
            &Method::POST,
            &uri,
            Some(body),
            &options,
            Placement::Body,
        );
        match (fast, slow) {
            (Ok(a), Ok(b)) => assert_eq!(output_bytes(&a.output), output_bytes(&b.output)),
            (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
            (a, b) => panic!("{uri}: {:?} vs {:?}", a.err(), b.err()),
        }
    }
}

/// Many parameters (past the inline parameter list) and long values (past the stack
/// scratch buffer and the digest buffer).
#[test]
fn large_requests_equal_reference() {
    // Past the small stack scratch buffer, then past the large one.
    for (params, repeat) in [(5, 15), (40, 150)] {
        let query: String = (0..params)
            .map(|i| format!("q{}=%2B{i}&", 40 - i))
            .collect();
        let uri: Uri = format!("https://example.com/p?{query}z=1").parse().unwrap();
        let body = format!(
            "a=%20{}&b=x+y&{}",
            "%E2%82%AC".repeat(repeat),
            "v&".repeat(30)
        );
        large_request_equals_reference(&uri, &body);
    }
}

fn large_request_equals_reference(uri: &Uri, body: &str) {
    for method in 0..6 {
        let fast = test_signer(method, "k", Some("t"));
        let slow = test_signer(method, "k", Some("t"));
        for placement in [Placement::Header, Placement::Query, Placement::Body] {
            let options = SignOptions::new().callback("https://c.example/?a=1");
            let a = fast
                .sign(
                    &Method::POST,
                    uri,
                    Some(body.as_bytes()),
                    &options,
                    placement,
                )
                .unwrap();
            let b = reference::sign_reference(
                &slow,
                &Method::POST,
                uri,
                Some(body.as_bytes()),
                &options,
                placement,
            )
            .unwrap();
            assert_eq!(output_bytes(&a.output), output_bytes(&b.output));
            assert_eq!(a.signature(), b.signature);
            assert_eq!(a.nonce(), b.nonce);
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    /// The fast signer equals the reference one (the pre-optimisation implementation) on
    /// arbitrary requests: same output bytes, signature, nonce and timestamp, or the same
    /// error.
    #[test]
    fn fast_path_equals_reference(
        method in 0..6usize,
        consumer_key in "\\PC{0,6}",
        token in prop::option::of("\\PC{0,6}"),
        http_method in prop::sample::select(vec!["GET", "POST", "patch", "M-SEARCH"]),
        scheme in prop::sample::select(vec!["http", "HTTPS", "https"]),
        host in prop::sample::select(vec!["example.com", "EXAMPLE.org", "[::1]", "a-b.c", "u:p@Ex.com"]),
        port in prop::option::of(prop::sample::select(vec![80u16, 443, 8080])),
        path in "(/[a-zA-Z0-9%._~!$'()*+,;=:@-]{0,6}){0,3}",
        query in prop::option::of(form_data()),
        body in prop::option::of(prop_oneof![
            4 => form_data().prop_map(String::into_bytes),
            1 => "\\PC{0,12}".prop_map(String::into_bytes),
            1 => prop::collection::vec(any::<u8>(), 0..12),
        ]),
        callback in prop::option::of("\\PC{0,8}"),
        verifier in prop::option::of("\\PC{0,8}"),
        realm in prop::option::of(prop_oneof![4 => "[ -~]{0,6}", 1 => "\\PC{0,4}"]),
        version in any::<bool>(),
        body_hash in prop::option::weighted(0.2, prop::collection::vec(any::<u8>(), 0..8)),
        nonce in prop::option::of("\\PC{0,50}"),
        timestamp in prop::option::of(any::<u64>()),
        placement in prop::sample::select(vec![Placement::Header, Placement::Query, Placement::Body]),
    ) {
        let port = port.map_or(String::new(), |p| format!(":{p}"));
        let query = query.map_or(String::new(), |q| format!("?{q}"));
        let uri = format!("{scheme}://{host}{port}{path}{query}");
        let Ok(uri) = uri.parse::<Uri>() else {
            return Ok(());
        };
        let http_method = Method::from_bytes(http_method.as_bytes()).unwrap();
        let verifier = verifier.map(Verifier::new);
        let mut options = SignOptions::new().version(version);
        if let Some(callback) = &callback {
            options = options.callback(callback);
        }
        if let Some(verifier) = &verifier {
            options = options.verifier(verifier);
        }
        if let Some(realm) = &realm {
            options = options.realm(realm);
        }
        if let Some(body_hash) = &body_hash {
            options = options.body_hash(body_hash);
        }
        if let Some(nonce) = &nonce {
            options = options.nonce(nonce);
        }
        if let Some(timestamp) = timestamp {
            options = options.timestamp(timestamp);
        }
        // Identical signers, so both draw the same nonce and timestamp.
        let fast_signer = test_signer(method, &consumer_key, token.as_deref());
        let reference_signer = test_signer(method, &consumer_key, token.as_deref());
        for _ in 0..2 {
            let fast = fast_signer.sign(&http_method, &uri, body.as_deref(), &options, placement);
            let slow = reference::sign_reference(&reference_signer, &http_method, &uri, body.as_deref(), &options, placement);
            match (fast, slow) {
                (Ok(fast), Ok(slow)) => {
                    prop_assert_eq!(output_bytes(&fast.output), output_bytes(&slow.output));
                    prop_assert_eq!(fast.signature(), slow.signature.as_str());
                    prop_assert_eq!(fast.nonce(), slow.nonce.as_str());
                    prop_assert_eq!(fast.timestamp(), slow.timestamp);
                }
                (Err(fast), Err(slow)) => prop_assert_eq!(fast, slow),
                (fast, slow) => prop_assert!(false, "fast {:?}, reference {:?}", fast.map(|s| s.signature().to_owned()), slow.map(|s| s.signature)),
            }
        }
    }
}
