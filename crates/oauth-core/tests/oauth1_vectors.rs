//! Published OAuth 1.0a vectors (SECURITY.md §3.8 A–F), driven through the public API.
//!
//! Where a vector is a whole request, it is signed with [`Signer::sign`] (fixed nonce and
//! timestamp), then parsed and verified as a server would. Where a vector is only a base string
//! (oauthlib's RSA and unicode cases, the wiki's `bs`), the signing primitive is used.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use http::{Method, Uri};
use oauth_core::encode::percent_encode;
use oauth_core::oauth1::*;
use oauth_core::secret::{ConsumerSecret, TokenSecret, Verifier};

const VECTORS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/vectors/oauth1");

fn pem(name: &str) -> String {
    std::fs::read_to_string(format!("{VECTORS}/{name}")).unwrap()
}

fn signer(key: &str, cs: &str, token: Option<(&str, &str)>, method: SignatureMethod) -> Signer {
    let mut b =
        Signer::builder(ClientCredentials::new(key, ConsumerSecret::new(cs))).method(method);
    if let Some((t, ts)) = token {
        b = b.token(TokenCredentials::new(t, TokenSecret::new(ts)));
    }
    b.build().unwrap()
}

/// Parses the signed header back, as a server would, and checks the signature verifies.
fn server_view<'a>(
    method: &'a Method,
    uri: &'a Uri,
    header: &'a str,
    body: Option<&'a [u8]>,
) -> UnverifiedRequest<'a> {
    let mut req = IncomingRequest::new(method, uri).authorization(header);
    if let Some(body) = body {
        req = req.form_body(body);
    }
    UnverifiedRequest::parse(req).unwrap()
}

fn secrets<'a>(cs: &'a ConsumerSecret, ts: Option<&'a TokenSecret>) -> VerifyKey<'a> {
    VerifyKey::Secrets(SigningSecrets {
        consumer_secret: cs,
        token_secret: ts,
    })
}

// ---------------------------------------------------------------------------------------------
// A. RFC 5849 §3.4.1.1

const A_URI: &str = "http://example.com/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b";
const A_BODY: &[u8] = b"c2&a3=2+q";
const A_NORMALIZED: &str = "a2=r%20b&a3=2%20q&a3=a&b5=%3D%253D&c%40=&c2=&oauth_consumer_key=9djdj82h48djs9d2&oauth_nonce=7d8f3e4a&oauth_signature_method=HMAC-SHA1&oauth_timestamp=137131201&oauth_token=kkk9d7dh3k39sjv7";
const A_BASE: &str = "POST&http%3A%2F%2Fexample.com%2Frequest&a2%3Dr%2520b%26a3%3D2%2520q%26a3%3Da%26b5%3D%253D%25253D%26c%2540%3D%26c2%3D%26oauth_consumer_key%3D9djdj82h48djs9d2%26oauth_nonce%3D7d8f3e4a%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D137131201%26oauth_token%3Dkkk9d7dh3k39sjv7";

fn sign_a(method: SignatureMethod, version: bool) -> Signed {
    let s = signer(
        "9djdj82h48djs9d2",
        "j49sk3j29djd",
        Some(("kkk9d7dh3k39sjv7", "dh893hdasih9")),
        method,
    );
    let uri: Uri = A_URI.parse().unwrap();
    let opts = SignOptions::new()
        .realm("Example")
        .version(version)
        .nonce("7d8f3e4a")
        .timestamp(137131201);
    s.sign(&Method::POST, &uri, Some(A_BODY), &opts, Placement::Header)
        .unwrap()
}

#[test]
fn a_rfc5849_base_string_normalized_params_and_hmac_sha1_erratum() {
    let signed = sign_a(SignatureMethod::HmacSha1, false);
    // The RFC prints bYT5CMsGcbgUdFHObYMEfcx6bsw=, a known erratum (2550).
    assert_eq!(signed.signature(), "r6/TJjbCOr97/+UU0NsvSne7s5g=");
    let header = signed.authorization().unwrap().to_owned();
    assert!(header.starts_with("OAuth realm=\"Example\", oauth_consumer_key=\"9djdj82h48djs9d2\""));

    let uri: Uri = A_URI.parse().unwrap();
    let req = server_view(&Method::POST, &uri, &header, Some(A_BODY));
    assert_eq!(req.normalized_parameters(), A_NORMALIZED);
    assert_eq!(req.base_string(), A_BASE);
    let (cs, ts) = (
        ConsumerSecret::new("j49sk3j29djd"),
        TokenSecret::new("dh893hdasih9"),
    );
    let verified = req.verify(secrets(&cs, Some(&ts))).unwrap();
    assert_eq!(verified.realm(), Some("Example"));
    assert_eq!(verified.token(), Some("kkk9d7dh3k39sjv7"));

    // The same request from an origin-form URI plus Host, as a server receives it.
    let origin_form: Uri = "/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b".parse().unwrap();
    let req = UnverifiedRequest::parse(
        IncomingRequest::new(&Method::POST, &origin_form)
            .origin(Origin::new("http", "example.com"))
            .authorization(&header)
            .form_body(A_BODY),
    )
    .unwrap();
    assert_eq!(req.base_string(), A_BASE);
    assert!(req.verify(secrets(&cs, Some(&ts))).is_ok());
}

#[test]
fn a_rfc5849_hmac_sha256_and_with_version() {
    assert_eq!(
        sign_a(SignatureMethod::HmacSha256, false).signature(),
        "ypAxjNip++Dm0fTM+gCl8wAo6ufSnseu1WHxL7py3BU="
    );
    // request/oauth-sign "rfc5849 example": the same request with oauth_version=1.0.
    assert_eq!(
        sign_a(SignatureMethod::HmacSha1, true).signature(),
        "OB33pYjWAnf+xtOHN4Gmbdil168="
    );
}

#[test]
fn a_rfc5849_base_string_from_decoded_params() {
    let uri: Uri = "http://example.com/request".parse().unwrap();
    let params = [
        ("b5", "=%3D"),
        ("a3", "a"),
        ("c@", ""),
        ("a2", "r b"),
        ("oauth_consumer_key", "9djdj82h48djs9d2"),
        ("oauth_token", "kkk9d7dh3k39sjv7"),
        ("oauth_signature_method", "HMAC-SHA1"),
        ("oauth_timestamp", "137131201"),
        ("oauth_nonce", "7d8f3e4a"),
        ("c2", ""),
        ("a3", "2 q"),
    ];
    assert_eq!(normalize_parameters(params), A_NORMALIZED);
    assert_eq!(
        signature_base_string("POST", &uri, None, params).unwrap(),
        A_BASE
    );
    assert_eq!(
        signature_base_string("post", &uri, None, params).unwrap(),
        A_BASE
    );
}

// ---------------------------------------------------------------------------------------------
// B. RFC 5849 §1.2

#[test]
fn b_rfc5849_temporary_credentials() {
    let s = signer(
        "dpf43f3p2l4k3l03",
        "kd94hf93k423kf44",
        None,
        SignatureMethod::HmacSha1,
    );
    let uri: Uri = "https://photos.example.net/initiate".parse().unwrap();
    let opts = SignOptions::new()
        .realm("Photos")
        .version(false)
        .callback("http://printer.example.com/ready")
        .nonce("wIjqoS")
        .timestamp(137131200);
    let signed = s
        .sign(&Method::POST, &uri, None, &opts, Placement::Header)
        .unwrap();
    assert_eq!(signed.signature(), "74KNZJeDHnMBp0EMJ9ZHt/XKycU=");
    assert_eq!(
        signed.authorization().unwrap(),
        "OAuth realm=\"Photos\", oauth_callback=\"http%3A%2F%2Fprinter.example.com%2Featy\", \
         oauth_consumer_key=\"dpf43f3p2l4k3l03\", oauth_nonce=\"wIjqoS\", \
         oauth_signature=\"74KNZJeDHnMBp0EMJ9ZHt%2FXKycU%3D\", oauth_signature_method=\"HMAC-SHA1\", \
         oauth_timestamp=\"137131200\""
            .replace("Featy", "Fready")
    );
    let header = signed.authorization().unwrap();
    let req = server_view(&Method::POST, &uri, header, None);
    let cs = ConsumerSecret::new("kd94hf93k423kf44");
    let p = req.verify(secrets(&cs, None)).unwrap();
    assert_eq!(p.callback(), Some("http://printer.example.com/ready"));
    assert_eq!(p.token(), None);
}

#[test]
fn b_rfc5849_token_credentials() {
    let s = signer(
        "dpf43f3p2l4k3l03",
        "kd94hf93k423kf44",
        Some(("hh5s93j4hdidpola", "hdhd0244k9j7ao03")),
        SignatureMethod::HmacSha1,
    );
    let uri: Uri = "https://photos.example.net/token".parse().unwrap();
    let verifier = Verifier::new("hfdp7dh39dks9884");
    let opts = SignOptions::new()
        .realm("Photos")
        .version(false)
        .verifier(&verifier)
        .nonce("walatlh")
        .timestamp(137131201);
    let signed = s
        .sign(&Method::POST, &uri, None, &opts, Placement::Header)
        .unwrap();
    assert_eq!(signed.signature(), "gKgrFCywp7rO0OXSjdot/IHF7IU=");
    let req = server_view(&Method::POST, &uri, signed.authorization().unwrap(), None);
    let (cs, ts) = (
        ConsumerSecret::new("kd94hf93k423kf44"),
        TokenSecret::new("hdhd0244k9j7ao03"),
    );
    let p = req.verify(secrets(&cs, Some(&ts))).unwrap();
    assert_eq!(p.verifier().unwrap().secret(), "hfdp7dh39dks9884");
}

#[test]
fn b_rfc5849_protected_resource_and_scheme_sensitivity() {
    let s = signer(
        "dpf43f3p2l4k3l03",
        "kd94hf93k423kf44",
        Some(("nnch734d00sl2jdk", "pfkkdhi9sl3r4s00")),
        SignatureMethod::HmacSha1,
    );
    let opts = SignOptions::new()
        .realm("Photos")
        .version(false)
        .nonce("chapoH")
        .timestamp(137131202);
    for (uri, expected) in [
        (
            "http://photos.example.net/photos?file=vacation.jpg&size=original",
            "MdpQcU8iPSUjWoN/UDMsK2sui9I=",
        ),
        (
            "https://photos.example.net/photos?file=vacation.jpg&size=original",
            "91yh92rtXzicpezVYjTDNzieVps=",
        ),
    ] {
        let uri: Uri = uri.parse().unwrap();
        let signed = s
            .sign(&Method::GET, &uri, None, &opts, Placement::Header)
            .unwrap();
        assert_eq!(signed.signature(), expected, "{uri}");
    }
}

// ---------------------------------------------------------------------------------------------
// C. oauthlib test_signatures.py / test_client.py

const C_CS: &str = "ECrDNoq1VYzzzzzzzzzyAK7TwZNtPnkqatqZZZZ";
const C_TS: &str = "just-a-string    asdasd";

#[test]
fn c_oauthlib_hmac_and_plaintext() {
    let (cs, ts) = (ConsumerSecret::new(C_CS), TokenSecret::new(C_TS));
    let s = SigningSecrets {
        consumer_secret: &cs,
        token_secret: Some(&ts),
    };
    let table = [
        (SignatureMethod::HmacSha1, "wsdNmjGB7lvis0UJuPAmjvX/PXw="),
        (
            SignatureMethod::HmacSha256,
            "wdfdHUKXHbOnOGZP8WFAWMSAmWzN3EVBWWgXGlC/Eo4=",
        ),
        (
            SignatureMethod::HmacSha512,
            "u/vlyZFDxOWOZ9UUXwRBJHvq8/T4jCA74ocRmn2ECnjUBTAeJiZIRU8hDTjS88Tz1fGONffMpdZxUkUTW3k1kg==",
        ),
        (
            SignatureMethod::Plaintext,
            "ECrDNoq1VYzzzzzzzzzyAK7TwZNtPnkqatqZZZZ&just-a-string%20%20%20%20asdasd",
        ),
    ];
    for (method, expected) in table {
        assert_eq!(
            sign_base_string(method, s, A_BASE).unwrap(),
            expected,
            "{method}"
        );
    }
    assert_eq!(sign_base_string(SignatureMethod::RsaSha1, s, A_BASE), None);
}

#[test]
fn c_oauthlib_rsa_pkcs1_key() {
    let key =
        RsaPrivateKey::from_pem_with_min_bits(&pem("oauthlib_rsa_1024_pkcs1.pem"), 1024).unwrap();
    assert_eq!(key.bits(), 1024);
    let public =
        RsaPublicKey::from_pem_with_min_bits(&pem("oauthlib_rsa_1024_public.pem"), 1024).unwrap();
    let public_pkcs1 =
        RsaPublicKey::from_pem_with_min_bits(&pem("oauthlib_rsa_1024_public_pkcs1.pem"), 1024)
            .unwrap();
    let table = [
        (
            SignatureMethod::RsaSha1,
            "mFY2KOEnlYWsTvUA+5kxuBIcvBYXu+ljw9ttVJQxKduMueGSVPCB1tK1PlqVLK738HK0t19ecBJfb6rMxUwrriw+MlBO+jpojkZIWccw1J4cAb4qu4M81DbpUAq4j/1w/QyTR4TWCODlEfN7Zfgy8+pf+TjiXfIwRC1jEWbuL1E=",
        ),
        (
            SignatureMethod::RsaSha256,
            "jqKl6m0WS69tiVJV8ZQ6aQEfJqISoZkiPBXRv6Al2+iFSaDpfeXjYm+Hbx6m1azRdrZ/35PM3cvuid3LwW/siAkzb0xQcGnTyAPH8YcGWzmnKGY7LsB7fkqThchNxvRK/N7s9M1WMnfZZ+1dQbbwtTs1TG1+iexUcV7r3M7Heec=",
        ),
        (
            SignatureMethod::RsaSha512,
            "jL1CnjlsNd25qoZVHZ2oJft47IRYTjpF5CvCUjL3LY0NTnbEeVhE4amWXUFBe9GLDWdUh/79ZWNOrCirBFIP26cHLApjYdt4ZG7EVK0/GubS2v8wT1QPRsog8zyiMZkmg4JXdWCGXG8YRvRJTg+QKhXuXwS6TcMNakrgzgFIVhA=",
        ),
    ];
    for (method, expected) in table {
        assert_eq!(
            key.sign_base_string(method, A_BASE).unwrap(),
            expected,
            "{method}"
        );
        assert!(public.verify_base_string(method, A_BASE, expected));
        assert!(public_pkcs1.verify_base_string(method, A_BASE, expected));
        assert!(!public.verify_base_string(method, &A_BASE.replace("POST", "GET"), expected));
    }
    // The derived public key matches the one on file.
    assert!(
        key.public_key()
            .verify_base_string(SignatureMethod::RsaSha1, A_BASE, table[0].1)
    );
}

#[test]
fn c_rsa_through_the_signer_and_verifier() {
    let key =
        RsaPrivateKey::from_pem_with_min_bits(&pem("oauthlib_rsa_1024_pkcs1.pem"), 1024).unwrap();
    let public = key.public_key();
    for method in [
        SignatureMethod::RsaSha1,
        SignatureMethod::RsaSha256,
        SignatureMethod::RsaSha512,
    ] {
        let s = Signer::builder(ClientCredentials::new(
            "9djdj82h48djs9d2",
            ConsumerSecret::new(""),
        ))
        .token(TokenCredentials::new(
            "kkk9d7dh3k39sjv7",
            TokenSecret::new(""),
        ))
        .method(method)
        .rsa_key(key.clone())
        .build()
        .unwrap();
        let uri: Uri = A_URI.parse().unwrap();
        let opts = SignOptions::new()
            .version(false)
            .nonce("7d8f3e4a")
            .timestamp(137131201);
        let signed = s
            .sign(&Method::POST, &uri, Some(A_BODY), &opts, Placement::Header)
            .unwrap();
        let req = server_view(
            &Method::POST,
            &uri,
            signed.authorization().unwrap(),
            Some(A_BODY),
        );
        // The base string is vector A's with the RSA method name.
        assert_eq!(
            req.base_string(),
            A_BASE.replace("HMAC-SHA1", method.name())
        );
        assert_eq!(
            key.sign_base_string(method, &req.base_string()).unwrap(),
            signed.signature()
        );
        assert!(req.verify(VerifyKey::Rsa(&public)).is_ok());
    }
}

/// oauthlib `test_client.py::test_sign_unicode`. oauthlib signs with `timestamp='abc'`, which
/// our typed timestamp refuses, so the base string is built from the decoded parameters here.
#[test]
fn c_oauthlib_unicode_bodies() {
    let uri: Uri = "http://i.b/path".parse().unwrap();
    let cs = ConsumerSecret::new("");
    let s = SigningSecrets {
        consumer_secret: &cs,
        token_secret: None,
    };
    for (status, expected) in [
        ("\u{5566}\u{5566}", "yrtSqp88m/c5UDaucI8BXK4oEtk="),
        ("\u{e6}\u{e5}\u{f8}", "oG5t3Eg/XO5FfQgUUlTtUeeZzvk="),
    ] {
        let params = [
            ("status", status),
            ("oauth_nonce", "abc"),
            ("oauth_timestamp", "abc"),
            ("oauth_version", "1.0"),
            ("oauth_signature_method", "HMAC-SHA1"),
            ("oauth_consumer_key", "client_key"),
        ];
        let base = signature_base_string("POST", &uri, None, params).unwrap();
        assert_eq!(
            sign_base_string(SignatureMethod::HmacSha1, s, &base).unwrap(),
            expected,
            "{status}"
        );
        // And the verifier refuses the non-numeric timestamp.
        let header = format!(
            "OAuth oauth_nonce=\"abc\", oauth_timestamp=\"abc\", oauth_version=\"1.0\", \
             oauth_signature_method=\"HMAC-SHA1\", oauth_consumer_key=\"client_key\", \
             oauth_signature=\"{}\"",
            percent_encode(expected)
        );
        let body = format!("status={}", percent_encode(status));
        let err = UnverifiedRequest::parse(
            IncomingRequest::new(&Method::POST, &uri)
                .authorization(&header)
                .form_body(body.as_bytes()),
        )
        .unwrap_err();
        assert_eq!(err, VerifyError::InvalidTimestamp);
    }
}

// ---------------------------------------------------------------------------------------------
// D. OAuth Core 1.0 / wiki.oauth.net TestCases

#[test]
fn d_wiki_parameter_encoding() {
    let table = [
        ("abcABC123", "abcABC123"),
        ("-._~", "-._~"),
        ("%", "%25"),
        ("+", "%2B"),
        ("&=*", "%26%3D%2A"),
        ("\n", "%0A"),
        (" ", "%20"),
        ("\x7F", "%7F"),
        ("\u{80}", "%C2%80"),
        ("\u{3001}", "%E3%80%81"),
    ];
    for (input, expected) in table {
        assert_eq!(percent_encode(input), expected);
        // The same encoding ends up in the header.
        let header = AuthorizationHeader::new(None, vec![("p".into(), input.into())]).unwrap();
        assert_eq!(header.to_header_string(), format!("OAuth p=\"{expected}\""));
    }
}

#[test]
fn d_wiki_normalization() {
    let table: [(&[(&str, &str)], &str); 6] = [
        (&[("name", "")], "name="),
        (&[("a", "b")], "a=b"),
        (&[("a", "b"), ("c", "d")], "a=b&c=d"),
        (&[("a", "x!y"), ("a", "x y")], "a=x%20y&a=x%21y"),
        (&[("x!y", "a"), ("x", "a")], "x=a&x%21y=a"),
        (
            &[
                ("a", "1"),
                ("c", "hi there"),
                ("f", "25"),
                ("f", "50"),
                ("f", "a"),
                ("z", "p"),
                ("z", "t"),
            ],
            "a=1&c=hi%20there&f=25&f=50&f=a&z=p&z=t",
        ),
    ];
    for (pairs, expected) in table {
        assert_eq!(normalize_parameters(pairs.iter().copied()), expected);
    }
    // The same through the signer's own query collector (`+` is a space in a query), and an
    // exact duplicate kept twice (SECURITY.md §4.8 #70). The expected signatures were computed
    // outside this crate (Python's `hmac` over a base string built with `urllib.parse.quote`).
    let s = signer("k", "s", None, SignatureMethod::HmacSha1);
    let opts = SignOptions::new().version(false).nonce("n").timestamp(1);
    for (uri, expected) in [
        (
            "http://example.com/?a=x!y&a=x+y",
            "sMehP5ZlZtJLbe16FY+E3XRDFFc=",
        ),
        (
            "http://example.com/?a=1&a=1",
            "SJpuOu/AqhBr5t+aVVX0cok21ys=",
        ),
    ] {
        let uri: Uri = uri.parse().unwrap();
        let signed = s
            .sign(&Method::GET, &uri, None, &opts, Placement::Header)
            .unwrap();
        assert_eq!(signed.signature(), expected, "{uri}");
    }
}

/// SECURITY.md §4.8 #72: a path with percent-encoded UTF-8 is carried as sent (its `%`
/// encoded again), and secrets holding `&`, `%`, `+`, `=`, a space and a non-ASCII letter are
/// encoded into the HMAC key. The expected signature was computed outside this crate (Python's
/// `hmac`, `urllib.parse.quote(safe="-._~")`), so this is not the signer agreeing with itself.
#[test]
fn unicode_paths_and_secrets_with_delimiters() {
    let s = signer(
        "ck",
        "c&s%+ \u{e9}",
        Some(("tk", "t&s=+%")),
        SignatureMethod::HmacSha1,
    );
    let uri: Uri = "https://example.com/caf%C3%A9/%E2%82%AC?x=1"
        .parse()
        .unwrap();
    let opts = SignOptions::new().nonce("n0nce").timestamp(1_700_000_000);
    let signed = s
        .sign(&Method::GET, &uri, None, &opts, Placement::Header)
        .unwrap();
    assert_eq!(
        signature_base_string(
            "GET",
            &uri,
            None,
            [
                ("oauth_consumer_key", "ck"),
                ("oauth_nonce", "n0nce"),
                ("oauth_signature_method", "HMAC-SHA1"),
                ("oauth_timestamp", "1700000000"),
                ("oauth_token", "tk"),
                ("oauth_version", "1.0"),
                ("x", "1"),
            ]
        )
        .unwrap(),
        "GET&https%3A%2F%2Fexample.com%2Fcaf%25C3%25A9%2F%25E2%2582%25AC&oauth_consumer_key%3Dck%26oauth_nonce%3Dn0nce%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D1700000000%26oauth_token%3Dtk%26oauth_version%3D1.0%26x%3D1"
    );
    assert_eq!(signed.signature(), "D0y1DZGPpZ3h83RUt3ku+TG+Oyw=");
}

#[test]
fn d_wiki_base_strings() {
    for uri in ["http://example.com/", "http://example.com"] {
        let uri: Uri = uri.parse().unwrap();
        assert_eq!(
            signature_base_string("GET", &uri, None, [("n", "v")]).unwrap(),
            "GET&http%3A%2F%2Fexample.com%2F&n%3Dv"
        );
    }

    // PLAINTEXT request_token; the signed request's base string excludes oauth_signature.
    let s = signer(
        "dpf43f3p2l4k3l03",
        "kd94hf93k423kf44",
        None,
        SignatureMethod::Plaintext,
    );
    let uri: Uri = "https://photos.example.net/request_token".parse().unwrap();
    let opts = SignOptions::new()
        .nonce("hsu94j3884jdopsl")
        .timestamp(1191242090);
    let signed = s
        .sign(&Method::POST, &uri, None, &opts, Placement::Header)
        .unwrap();
    assert_eq!(signed.signature(), "kd94hf93k423kf44&");
    let req = server_view(&Method::POST, &uri, signed.authorization().unwrap(), None);
    assert_eq!(
        req.base_string(),
        "POST&https%3A%2F%2Fphotos.example.net%2Frequest_token&oauth_consumer_key%3Ddpf43f3p2l4k3l03%26oauth_nonce%3Dhsu94j3884jdopsl%26oauth_signature_method%3DPLAINTEXT%26oauth_timestamp%3D1191242090%26oauth_version%3D1.0"
    );
    let cs = ConsumerSecret::new("kd94hf93k423kf44");
    assert!(req.verify(secrets(&cs, None)).is_ok());

    // The same with an explicit oauth_signature=ignored parameter in the header.
    let header = "OAuth oauth_version=\"1.0\", oauth_consumer_key=\"dpf43f3p2l4k3l03\", \
                  oauth_timestamp=\"1191242090\", oauth_nonce=\"hsu94j3884jdopsl\", \
                  oauth_signature_method=\"PLAINTEXT\", oauth_signature=\"ignored\"";
    let req = server_view(&Method::POST, &uri, header, None);
    // The whole string: an `oauth_signature=ignored` kept in it would still end the same way.
    assert_eq!(
        req.base_string(),
        "POST&https%3A%2F%2Fphotos.example.net%2Frequest_token&oauth_consumer_key%3Ddpf43f3p2l4k3l03%26oauth_nonce%3Dhsu94j3884jdopsl%26oauth_signature_method%3DPLAINTEXT%26oauth_timestamp%3D1191242090%26oauth_version%3D1.0"
    );
    assert_eq!(
        req.verify(secrets(&cs, None)).unwrap_err(),
        VerifyError::SignatureMismatch
    );
}

#[test]
fn d_wiki_hmac_sha1() {
    // Full request: GET /photos with file=vacation.jpg, oauth_version=1.0.
    let s = signer(
        "dpf43f3p2l4k3l03",
        "kd94hf93k423kf44",
        Some(("nnch734d00sl2jdk", "pfkkdhi9sl3r4s00")),
        SignatureMethod::HmacSha1,
    );
    let uri: Uri = "http://photos.example.net/photos?file=vacation.jpg&size=original"
        .parse()
        .unwrap();
    let opts = SignOptions::new()
        .nonce("kllo9940pd9333jh")
        .timestamp(1191242096);
    let signed = s
        .sign(&Method::GET, &uri, None, &opts, Placement::Header)
        .unwrap();
    assert_eq!(signed.signature(), "tR3+Ty81lMeYAr/Fid0kMTYa/WM=");
    let req = server_view(&Method::GET, &uri, signed.authorization().unwrap(), None);
    assert_eq!(
        req.base_string(),
        "GET&http%3A%2F%2Fphotos.example.net%2Fphotos&file%3Dvacation.jpg%26oauth_consumer_key%3Ddpf43f3p2l4k3l03%26oauth_nonce%3Dkllo9940pd9333jh%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D1191242096%26oauth_token%3Dnnch734d00sl2jdk%26oauth_version%3D1.0%26size%3Doriginal"
    );

    // Raw `bs` with and without a token secret: the `&` is always there.
    let cs = ConsumerSecret::new("cs");
    let ts = TokenSecret::new("ts");
    let without = SigningSecrets {
        consumer_secret: &cs,
        token_secret: None,
    };
    let with = SigningSecrets {
        consumer_secret: &cs,
        token_secret: Some(&ts),
    };
    assert_eq!(
        sign_base_string(SignatureMethod::HmacSha1, without, "bs").unwrap(),
        "egQqG5AJep5sJ7anhXju1unge2I="
    );
    assert_eq!(
        sign_base_string(SignatureMethod::HmacSha1, with, "bs").unwrap(),
        "VZVjXceV7JgPq/dOTnNmEfO0Fv8="
    );
}

#[test]
fn d_wiki_rsa_sha1_pkcs8_key() {
    let key = RsaPrivateKey::from_pem_with_min_bits(&pem("wiki_rsa_1024_pkcs8.pem"), 1024).unwrap();
    let s = Signer::builder(ClientCredentials::new(
        "dpf43f3p2l4k3l03",
        ConsumerSecret::new(""),
    ))
    .method(SignatureMethod::RsaSha1)
    .rsa_key(key)
    .build()
    .unwrap();
    // "vacaction" is the wiki's spelling, kept on purpose.
    let uri: Uri = "http://photos.example.net/photos?file=vacaction.jpg&size=original"
        .parse()
        .unwrap();
    let opts = SignOptions::new()
        .nonce("13917289812797014437")
        .timestamp(1196666512);
    let signed = s
        .sign(&Method::GET, &uri, None, &opts, Placement::Header)
        .unwrap();
    let expected = "jvTp/wX1TYtByB1m+Pbyo0lnCOLIsyGCH7wke8AUs3BpnwZJtAuEJkvQL2/9n4s5wUmUl4aCI4BwpraNx4RtEXMe5qg5T1LVTGliMRpKasKsW//e+RinhejgCuzoH26dyF8iY2ZZ/5D1ilgeijhV/vBka5twt399mXwaYdCwFYE=";
    assert_eq!(signed.signature(), expected);
    let req = server_view(&Method::GET, &uri, signed.authorization().unwrap(), None);
    assert_eq!(
        req.base_string(),
        "GET&http%3A%2F%2Fphotos.example.net%2Fphotos&file%3Dvacaction.jpg%26oauth_consumer_key%3Ddpf43f3p2l4k3l03%26oauth_nonce%3D13917289812797014437%26oauth_signature_method%3DRSA-SHA1%26oauth_timestamp%3D1196666512%26oauth_version%3D1.0%26size%3Doriginal"
    );
    let public =
        RsaPublicKey::from_pem_with_min_bits(&pem("wiki_rsa_1024_public.pem"), 1024).unwrap();
    assert!(req.verify(VerifyKey::Rsa(&public)).is_ok());
}

#[test]
fn d_base_string_uri_table() {
    for (input, expected) in [
        (
            "HTTP://Example.com:80/resource?id=123",
            "http://example.com/resource",
        ),
        (
            "HTTPS://Example.com:443/resource",
            "https://example.com/resource",
        ),
        (
            "http://example.com:8080/resource",
            "http://example.com:8080/resource",
        ),
        (
            "https://example.com:8443/resource",
            "https://example.com:8443/resource",
        ),
        ("http://[::1]:8080/r%20v/X", "http://[::1]:8080/r%20v/X"),
    ] {
        assert_eq!(
            base_string_uri(&input.parse().unwrap(), None).unwrap(),
            expected
        );
    }
}

// ---------------------------------------------------------------------------------------------
// E. Twitter "Creating a signature"

const E_BODY: &[u8] =
    b"status=Hello%20Ladies%20%2b%20Gentlemen%2c%20a%20signed%20OAuth%20request%21";

fn twitter_signer() -> Signer {
    signer(
        "xvz1evFS4wEEPTGEFPHBog",
        "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw",
        Some((
            "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb",
            "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE",
        )),
        SignatureMethod::HmacSha1,
    )
}

const E_OPTS: SignOptions<'static> = SignOptions::new()
    .nonce("kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg")
    .timestamp(1318622958);

#[test]
fn e_twitter_v1_exact_header() {
    let uri: Uri = "https://api.twitter.com/1/statuses/update.json?include_entities=true"
        .parse()
        .unwrap();
    let signed = twitter_signer()
        .sign(
            &Method::POST,
            &uri,
            Some(E_BODY),
            &E_OPTS,
            Placement::Header,
        )
        .unwrap();
    assert_eq!(signed.signature(), "tnnArxj06cWHq44gCs1OSKk/jLY=");
    assert_eq!(
        signed.authorization().unwrap(),
        "OAuth oauth_consumer_key=\"xvz1evFS4wEEPTGEFPHBog\", oauth_nonce=\"kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg\", oauth_signature=\"tnnArxj06cWHq44gCs1OSKk%2FjLY%3D\", oauth_signature_method=\"HMAC-SHA1\", oauth_timestamp=\"1318622958\", oauth_token=\"370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb\", oauth_version=\"1.0\""
    );
    let header = signed.clone().into_header_value().unwrap();
    assert!(header.is_sensitive());
    let req = server_view(
        &Method::POST,
        &uri,
        signed.authorization().unwrap(),
        Some(E_BODY),
    );
    // Twitter's documented base string: 450 bytes for `/1/` (452 for the later `/1.1/` URL).
    assert_eq!(
        req.base_string(),
        "POST&https%3A%2F%2Fapi.twitter.com%2F1%2Fstatuses%2Fupdate.json&include_entities%3Dtrue%26oauth_consumer_key%3Dxvz1evFS4wEEPTGEFPHBog%26oauth_nonce%3DkYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D1318622958%26oauth_token%3D370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb%26oauth_version%3D1.0%26status%3DHello%2520Ladies%2520%252B%2520Gentlemen%252C%2520a%2520signed%2520OAuth%2520request%2521"
    );
    assert_eq!(req.base_string().len(), 450);
}

#[test]
fn e_twitter_v1_1() {
    let uri: Uri = "https://api.twitter.com/1.1/statuses/update.json?include_entities=true"
        .parse()
        .unwrap();
    let signed = twitter_signer()
        .sign(
            &Method::POST,
            &uri,
            Some(E_BODY),
            &E_OPTS,
            Placement::Header,
        )
        .unwrap();
    assert_eq!(signed.signature(), "hCtSmYh+iHYCEqBWrE7C7hYmtUk=");
}

#[test]
fn e_twitter_query_and_body_placements_verify() {
    let uri: Uri = "https://api.twitter.com/1/statuses/update.json?include_entities=true"
        .parse()
        .unwrap();
    let s = twitter_signer();
    let cs = ConsumerSecret::new("kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw");
    let ts = TokenSecret::new("LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE");

    let signed = s
        .sign(&Method::POST, &uri, Some(E_BODY), &E_OPTS, Placement::Query)
        .unwrap();
    assert_eq!(signed.signature(), "tnnArxj06cWHq44gCs1OSKk/jLY=");
    let new_uri = signed.uri().unwrap().clone();
    assert!(
        new_uri
            .query()
            .unwrap()
            .starts_with("include_entities=true&oauth_consumer_key=")
    );
    assert!(
        new_uri
            .query()
            .unwrap()
            .contains("oauth_signature=tnnArxj06cWHq44gCs1OSKk%2FjLY%3D")
    );
    let req =
        UnverifiedRequest::parse(IncomingRequest::new(&Method::POST, &new_uri).form_body(E_BODY))
            .unwrap();
    assert!(req.verify(secrets(&cs, Some(&ts))).is_ok());

    let signed = s
        .sign(&Method::POST, &uri, Some(E_BODY), &E_OPTS, Placement::Body)
        .unwrap();
    let body = signed.body().unwrap().to_vec();
    assert!(body.starts_with(E_BODY));
    let req = UnverifiedRequest::parse(IncomingRequest::new(&Method::POST, &uri).form_body(&body))
        .unwrap();
    assert!(req.verify(secrets(&cs, Some(&ts))).is_ok());
}

// ---------------------------------------------------------------------------------------------
// F. request/oauth-sign Twitter vectors

const F_CS: &str = "MCD8BKwGdgPHvAuvgvz4EQpqDAtx89grbuNMRd7Eh98";
const F_KEY: &str = "GDdmIQH6jhtmLUypg82g";

#[test]
fn f_request_token() {
    let uri: Uri = "https://api.twitter.com/oauth/request_token"
        .parse()
        .unwrap();
    for (method, expected) in [
        (SignatureMethod::HmacSha1, "8wUi7m5HFQy76nowoCThusfgB+Q="),
        (
            SignatureMethod::HmacSha256,
            "N0KBpiPbuPIMx2B77eIg7tNfGNF81iq3bcO9RO6lH+k=",
        ),
    ] {
        let s = signer(F_KEY, F_CS, None, method);
        let opts = SignOptions::new()
            .callback("http://localhost:3005/the_dance/process_callback?service_provider_id=11")
            .nonce("QP70eNmVz8jvdPevU3oJD2AfF7R7odC2XJcn4XlZJqk")
            .timestamp(1272323042);
        let signed = s
            .sign(&Method::POST, &uri, None, &opts, Placement::Header)
            .unwrap();
        assert_eq!(signed.signature(), expected, "{method}");
    }
}

#[test]
fn f_access_token() {
    let uri: Uri = "https://api.twitter.com/oauth/access_token"
        .parse()
        .unwrap();
    let verifier = Verifier::new("pDNg57prOHapMbhv25RNf75lVRd6JDsni1AJJIDYoTY");
    for (method, expected) in [
        (SignatureMethod::HmacSha1, "PUw/dHA4fnlJYM6RhXk5IU/0fCc="),
        (
            SignatureMethod::HmacSha256,
            "y7S9eUhA0tC9/YfRzCPqkg3/bUdYRDpZ93Xi51AvhjQ=",
        ),
    ] {
        let s = signer(
            F_KEY,
            F_CS,
            Some((
                "8ldIZyxQeVrFZXFOZH5tAwj6vzJYuLQpl0WUEYtWc",
                "x6qpRnlEmW9JbQn4PQVVeVG8ZLPEx6A0TOebgwcuA",
            )),
            method,
        );
        let opts = SignOptions::new()
            .verifier(&verifier)
            .nonce("9zWH6qe0qG7Lc1telCn7FhUbLyVdjEaL3MO5uHxn8")
            .timestamp(1272323047);
        let signed = s
            .sign(&Method::POST, &uri, None, &opts, Placement::Header)
            .unwrap();
        assert_eq!(signed.signature(), expected, "{method}");
    }
}

#[test]
fn f_status_update_non_ascii() {
    let uri: Uri = "http://api.twitter.com/1/statuses/update.json"
        .parse()
        .unwrap();
    let body = format!(
        "status={}",
        percent_encode("setting up my twitter 私のさえずりを設定する")
    );
    // A browser-style form body (`+` for spaces) must give the same signature.
    let plus_body = body.replace("%20", "+");
    for (method, expected) in [
        (SignatureMethod::HmacSha1, "yOahq5m0YjDDjfjxHaXEsW9D+X0="),
        (
            SignatureMethod::HmacSha256,
            "xYhKjozxc3NYef7C26WU+gORdhEURdZRxSDzRttEKH0=",
        ),
    ] {
        let s = signer(
            F_KEY,
            F_CS,
            Some((
                "819797-Jxq8aYUDRmykzVKrgoLhXSq67TEa5ruc4GJC2rWimw",
                "J6zix3FfA9LofH0awS24M3HcBYXO5nI1iYe8EfBA",
            )),
            method,
        );
        let opts = SignOptions::new()
            .nonce("oElnnMTQIZvqvlfXM56aBLAf5noGD0AQR3Fmi7Q6Y")
            .timestamp(1272325550);
        for body in [&body, &plus_body] {
            let signed = s
                .sign(
                    &Method::POST,
                    &uri,
                    Some(body.as_bytes()),
                    &opts,
                    Placement::Header,
                )
                .unwrap();
            assert_eq!(signed.signature(), expected, "{method} {body}");
        }
    }
}
