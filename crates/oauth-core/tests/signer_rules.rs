//! The OAuth 1.0a signer compared against an independent RFC 5849 reference written from the
//! RFC text, and the key and option rules around it (review 13; the three tests that begin
//! "FINDING" failed before their fixes).
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::too_many_arguments)]

use std::sync::{Arc, Mutex};

use http::{Method, Uri};
use oauth_core::oauth1::*;
use oauth_core::secret::{ConsumerSecret, TokenSecret, Verifier};

// ---------- independent reference, from the RFC 5849 text ----------

/// §3.6: UTF-8, unreserved kept, everything else %XX upper-case.
fn enc(s: &[u8]) -> String {
    let mut out = String::new();
    for &b in s {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// W3C form decoding: `+` is space, %XX decoded.
fn form_dec(s: &str) -> Vec<u8> {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b'%' => {
                let h =
                    u8::from_str_radix(std::str::from_utf8(&b[i + 1..i + 3]).unwrap(), 16).unwrap();
                out.push(h);
                i += 3;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    out
}

fn form_pairs(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|seg| !seg.is_empty())
        .map(|seg| {
            let (n, v) = seg.split_once('=').unwrap_or((seg, ""));
            (enc(&form_dec(n)), enc(&form_dec(v)))
        })
        .collect()
}

fn reference_base(
    method: &str,
    scheme: &str,
    host: &str,
    port: Option<u16>,
    path: &str,
    query: &str,
    body: Option<&str>,
    protocol: &[(&str, &str)],
) -> String {
    let scheme = scheme.to_ascii_lowercase();
    let host = host.to_ascii_lowercase();
    let default = if scheme == "https" { 443 } else { 80 };
    let mut uri = format!("{scheme}://{host}");
    if let Some(p) = port.filter(|&p| p != default) {
        uri.push_str(&format!(":{p}"));
    }
    uri.push_str(if path.is_empty() { "/" } else { path });
    let mut params = form_pairs(query);
    if let Some(body) = body {
        params.extend(form_pairs(body));
    }
    for (n, v) in protocol {
        params.push((enc(n.as_bytes()), enc(v.as_bytes())));
    }
    params.sort();
    let norm = params
        .iter()
        .map(|(n, v)| format!("{n}={v}"))
        .collect::<Vec<_>>()
        .join("&");
    format!(
        "{}&{}&{}",
        enc(method.to_ascii_uppercase().as_bytes()),
        enc(uri.as_bytes()),
        enc(norm.as_bytes())
    )
}

// ---------- capture what the signer actually signs ----------

#[derive(Debug, Default)]
struct Capture(Mutex<Vec<String>>);

impl CustomSignatureMethod for Capture {
    fn name(&self) -> &str {
        "HMAC-SHA1"
    }
    fn sign(
        &self,
        _secrets: SigningSecrets<'_>,
        base_string: &str,
        out: &mut String,
    ) -> Result<(), CustomMethodError> {
        self.0.lock().unwrap().push(base_string.to_owned());
        out.push_str("sig");
        Ok(())
    }
}

const CK: &str = "c k+é%&=";
const CS: &str = "c s&%+é";
const TK: &str = "t%k é+";
const TS: &str = "t s&%+é";

fn hmac_signer() -> Signer {
    Signer::builder(ClientCredentials::new(CK, ConsumerSecret::new(CS)))
        .token(TokenCredentials::new(TK, TokenSecret::new(TS)))
        .build()
        .unwrap()
}

fn capture_signer() -> (Signer, Arc<Capture>) {
    let cap = Arc::new(Capture::default());
    let signer = Signer::builder(ClientCredentials::new(CK, ConsumerSecret::new(CS)))
        .token(TokenCredentials::new(TK, TokenSecret::new(TS)))
        .custom_method(cap.clone())
        .build()
        .unwrap();
    (signer, cap)
}

fn protocol<'a>(nonce: &'a str, ts: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("oauth_consumer_key", CK),
        ("oauth_nonce", nonce),
        ("oauth_signature_method", "HMAC-SHA1"),
        ("oauth_timestamp", ts),
        ("oauth_token", TK),
        ("oauth_version", "1.0"),
    ]
}

fn ref_sig(base: &str) -> String {
    let cs = ConsumerSecret::new(CS);
    let ts = TokenSecret::new(TS);
    sign_base_string(
        SignatureMethod::HmacSha1,
        SigningSecrets {
            consumer_secret: &cs,
            token_secret: Some(&ts),
        },
        base,
    )
    .unwrap()
}

/// (uri, scheme, host, port, path, query, body)
fn check(
    uri: &str,
    scheme: &str,
    host: &str,
    port: Option<u16>,
    path: &str,
    query: &str,
    body: Option<&str>,
) {
    let u: Uri = uri.parse().unwrap_or_else(|e| panic!("{uri}: {e}"));
    let nonce = "n o+n%ce";
    let opts = SignOptions::new().nonce(nonce).timestamp(1234567890);
    let expected = reference_base(
        "POST",
        scheme,
        host,
        port,
        path,
        query,
        body,
        &protocol(nonce, "1234567890"),
    );
    let (cs, cap) = capture_signer();
    cs.sign(
        &Method::POST,
        &u,
        body.map(str::as_bytes),
        &opts,
        Placement::Header,
    )
    .unwrap_or_else(|e| panic!("{uri} {body:?}: {e}"));
    let got = cap.0.lock().unwrap().pop().unwrap();
    assert_eq!(got, expected, "base string for {uri} body {body:?}");
    let signed = hmac_signer()
        .sign(
            &Method::POST,
            &u,
            body.map(str::as_bytes),
            &opts,
            Placement::Header,
        )
        .unwrap();
    assert_eq!(
        signed.signature(),
        ref_sig(&expected),
        "HMAC for {uri} body {body:?}"
    );
}

#[test]
fn base_string_matches_rfc_reference_on_tricky_inputs() {
    let long_pct = "%25".repeat(700);
    let long_mixed: String = (0..900)
        .map(|i| {
            if i % 7 == 0 {
                "%2B"
            } else if i % 5 == 0 {
                "+"
            } else {
                "a"
            }
        })
        .collect();
    let many: String = (0..300)
        .map(|i| format!("k{}={}&", 300 - i, i % 3))
        .collect();
    let queries: Vec<String> = vec![
        "".into(),
        "a=1&a=1".into(),
        "a=2&a=10&a=1".into(),
        "b5=%3D%253D&a3=a&c%40=&a2=r%20b".into(),
        "x!y=a&x=a".into(),
        "a=x!y&a=x+y".into(),
        "a=%2B&a=+&a=%20&a=%2b".into(),
        "a&a=&=&==&=x".into(),
        "a%7e=%7E&a~=~".into(),
        "caf%C3%A9=%c3%a9&z=%E2%82%AC".into(),
        "oauth=1&oauthz=2&oauth-=3&oauth%21=4&oautg=5&oauti=6&oauth.=7&oauth~=8&oauth%7E=9".into(),
        "r=!*'();:@$,/?".into(),
        "v=%00&w=%7F".into(),
        format!("long={long_pct}"),
        format!("mixed={long_mixed}&m2={long_mixed}"),
        many.clone(),
    ];
    for q in &queries {
        let uri = if q.is_empty() {
            "http://example.com/p".to_owned()
        } else {
            format!("http://example.com/p?{q}")
        };
        check(&uri, "http", "example.com", None, "/p", q, None);
        check(
            "https://example.com/",
            "https",
            "example.com",
            None,
            "/",
            "",
            Some(q),
        );
        check(
            &format!("https://example.com/x?{}", "q=1"),
            "https",
            "example.com",
            None,
            "/x",
            "q=1",
            Some(q),
        );
    }
    // URIs
    check(
        "HTTP://EXAMPLE.COM:80/r%20v/X?id=123",
        "http",
        "example.com",
        None,
        "/r%20v/X",
        "id=123",
        None,
    );
    check("HTTPS://Ex.Com:443", "https", "ex.com", None, "/", "", None);
    check(
        "http://ex.com:443/",
        "http",
        "ex.com",
        Some(443),
        "/",
        "",
        None,
    );
    check(
        "https://ex.com:80/",
        "https",
        "ex.com",
        Some(80),
        "/",
        "",
        None,
    );
    check(
        "http://[::1]:8080/a",
        "http",
        "[::1]",
        Some(8080),
        "/a",
        "",
        None,
    );
    check(
        "http://[2001:DB8::A]/a",
        "http",
        "[2001:db8::a]",
        None,
        "/a",
        "",
        None,
    );
    check(
        "http://ex.com/%7e%7Eb/c%2fd",
        "http",
        "ex.com",
        None,
        "/%7e%7Eb/c%2fd",
        "",
        None,
    );
    check(
        "http://ex.com?a=1",
        "http",
        "ex.com",
        None,
        "/",
        "a=1",
        None,
    );
}

/// Protocol-parameter variations (callback, verifier, body hash, no version, no token, realm,
/// odd nonces), every placement, long values that cross the digest buffer.
#[test]
fn protocol_parameters_match_rfc_reference() {
    let long_cb: String = format!(
        "https://cb.example/?{}",
        (0..400)
            .map(|i| if i % 3 == 0 {
                "%"
            } else if i % 11 == 0 {
                "é"
            } else {
                "a&"
            })
            .collect::<String>()
    );
    let long_nonce: String = "%x+y ".repeat(150);
    let verifiers = ["hfdp7dh39dks9884", "v v+%&=é", &"%%%%%%%%a".repeat(90)];
    let nonces = ["n", "n o+n%ce", &long_nonce];
    let callbacks = [
        None,
        Some("oob"),
        Some("http://printer.example.com/ready?x=1&y=%20"),
        Some(long_cb.as_str()),
    ];
    for with_token in [true, false] {
        for version in [true, false] {
            for cb in callbacks {
                for v in [
                    None,
                    Some(verifiers[0]),
                    Some(verifiers[1]),
                    Some(verifiers[2]),
                ] {
                    for nonce in nonces {
                        for body_hash in [None, Some(&b"{\"x\":1}"[..])] {
                            let verifier = v.map(Verifier::new);
                            let mut opts = SignOptions::new()
                                .nonce(nonce)
                                .timestamp(99)
                                .version(version)
                                .realm("R e");
                            if let Some(cb) = cb {
                                opts = opts.callback(cb);
                            }
                            if let Some(v) = &verifier {
                                opts = opts.verifier(v);
                            }
                            if let Some(b) = body_hash {
                                opts = opts.body_hash(b);
                            }
                            let bh = body_hash.map(|b| {
                                use base64::Engine as _;
                                use sha1::Digest as _;
                                base64::engine::general_purpose::STANDARD
                                    .encode(sha1::Sha1::digest(b))
                            });
                            let mut proto: Vec<(&str, &str)> = vec![
                                ("oauth_consumer_key", CK),
                                ("oauth_nonce", nonce),
                                ("oauth_signature_method", "HMAC-SHA1"),
                                ("oauth_timestamp", "99"),
                            ];
                            if with_token {
                                proto.push(("oauth_token", TK));
                            }
                            if version {
                                proto.push(("oauth_version", "1.0"));
                            }
                            if let Some(cb) = cb {
                                proto.push(("oauth_callback", cb));
                            }
                            if let Some(v) = v {
                                proto.push(("oauth_verifier", v));
                            }
                            if let Some(bh) = &bh {
                                proto.push(("oauth_body_hash", bh));
                            }
                            let expected = reference_base(
                                "GET",
                                "https",
                                "h",
                                None,
                                "/p",
                                "z=1&a=2&oauth=3&p=%7E",
                                None,
                                &proto,
                            );
                            let uri: Uri = "https://h/p?z=1&a=2&oauth=3&p=%7E".parse().unwrap();
                            let cap = Arc::new(Capture::default());
                            let mut b = Signer::builder(ClientCredentials::new(
                                CK,
                                ConsumerSecret::new(CS),
                            ))
                            .custom_method(cap.clone());
                            let mut h = Signer::builder(ClientCredentials::new(
                                CK,
                                ConsumerSecret::new(CS),
                            ));
                            if with_token {
                                b = b.token(TokenCredentials::new(TK, TokenSecret::new(TS)));
                                h = h.token(TokenCredentials::new(TK, TokenSecret::new(TS)));
                            }
                            let (b, h) = (b.build().unwrap(), h.build().unwrap());
                            for placement in [Placement::Header, Placement::Query, Placement::Body]
                            {
                                if placement == Placement::Body && body_hash.is_some() {
                                    continue;
                                }
                                b.sign(&Method::GET, &uri, None, &opts, placement).unwrap();
                                let got = cap.0.lock().unwrap().pop().unwrap();
                                assert_eq!(
                                    got, expected,
                                    "{with_token} {version} {cb:?} {v:?} {nonce:?} {placement:?}"
                                );
                                let signed =
                                    h.sign(&Method::GET, &uri, None, &opts, placement).unwrap();
                                let cs = ConsumerSecret::new(CS);
                                let ts = TokenSecret::new(TS);
                                let want = sign_base_string(
                                    SignatureMethod::HmacSha1,
                                    SigningSecrets {
                                        consumer_secret: &cs,
                                        token_secret: with_token.then_some(&ts),
                                    },
                                    &expected,
                                )
                                .unwrap();
                                assert_eq!(
                                    signed.signature(),
                                    want,
                                    "{with_token} {version} {cb:?} {v:?} {nonce:?} {placement:?}"
                                );
                                // The header, parsed as a provider would, carries exactly these parameters.
                                if placement == Placement::Header {
                                    let hdr =
                                        AuthorizationHeader::parse(signed.authorization().unwrap())
                                            .unwrap();
                                    assert_eq!(hdr.realm(), Some("R e"));
                                    let mut got: Vec<(String, String)> = hdr.params().to_vec();
                                    got.sort();
                                    let mut want_p: Vec<(String, String)> = proto
                                        .iter()
                                        .map(|(n, v)| (n.to_string(), v.to_string()))
                                        .collect();
                                    want_p.push(("oauth_signature".into(), want.clone()));
                                    want_p.sort();
                                    assert_eq!(got, want_p);
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

#[test]
fn raw_non_ascii_in_uri_matches_reference() {
    check(
        "http://ex.com/é?a=é&é=%C3%A9",
        "http",
        "ex.com",
        None,
        "/é",
        "a=é&é=%C3%A9",
        None,
    );
    check(
        "http://ex.com/",
        "http",
        "ex.com",
        None,
        "/",
        "",
        Some("a=é&é=%C3%A9+x"),
    );
}

#[test]
fn custom_methods_match_reference() {
    let uri: Uri = "http://ex.com/p?a=1".parse().unwrap();
    for m in ["get", "M-SEARCH", "P!ATCH", "x%y", "GET", "DELETE"] {
        let method = Method::from_bytes(m.as_bytes()).unwrap();
        let opts = SignOptions::new().nonce("n").timestamp(1);
        let expected = reference_base(
            m,
            "http",
            "ex.com",
            None,
            "/p",
            "a=1",
            None,
            &protocol("n", "1"),
        );
        let (cs, cap) = capture_signer();
        cs.sign(&method, &uri, None, &opts, Placement::Header)
            .unwrap();
        assert_eq!(cap.0.lock().unwrap().pop().unwrap(), expected, "{m}");
        let signed = hmac_signer()
            .sign(&method, &uri, None, &opts, Placement::Header)
            .unwrap();
        assert_eq!(signed.signature(), ref_sig(&expected), "{m}");
    }
}

const K_RSA2047: &str = r"-----BEGIN PRIVATE KEY-----
MIIEugIBADANBgkqhkiG9w0BAQEFAASCBKQwggSgAgEAAoIBAFIyA0KQfPb6g6Xm
n8kJ4BDXME+rI2IQk45oLQj+kq1vh0LV772ivpf/pFqRYSYrcN1eKON3i0dirUm+
FJe3cjMAZqkwyQ8EtQhi21JWHNIpG/WY/RZrsnVVwyMgtycEGyiev08cfi0+HErs
jHfRMrs2r3Rr7E4BBxB/B7I8H8fM6z3in7GPUhTxC0oW9UCjfZwqc479cPzPjZGp
XA3TzPofbR/gFGNJITzczlJYj3YdX1hm1Wh94yRFfiysmlYTBrcAPtq6TIz5p+fv
gNxsiIb9qlmzfO41tF7uHDB06sMurHinND4Lf9emVj9cdiGVr3cWZtmt1uHh5h6g
A03dMasCAwEAAQKCAQBQ/7YUt5xeKrrnFyEpFVE4Z0bVi7m/nsQ6VtDihzR2M2zg
4UBy6VjXIvaMxa0t1ytPCsZSenDHdSd9fxJ9/CpOtjt0yX2pDiN0Uy78sZ2PQTGr
Ugs+N/1SAaTeDhRPH42/9shiJpr07Lsm3nsCbCaJNTesC9p/eCXFDNnBu9w5oL3y
Caxo2L9W+d/tbKGJd5ZldO2VoIW3seuOisDWfHKTA/uhHe5IzJ1ENhvAcLd9PGXC
McCvTrfw9F/8BuLY4+KHjyoRCy+/ERlZcRSK8Nma/vgk11v9DCyzEBVFGU6/9OO0
YYeJmCPKPlpu0HLmq3xmxT974Cjh6x1BSBGAhEd5AoGBAMFyGs7z7eF4xDVzgxXT
RLH07RLE7KgpOPv9ksp3ccJe1HGHfYdJoyze3tKoUzEwoEpCUuNjZNpgd/m1Bo+L
rJCtKMBblzlnTFqwZH00dL1dwpugnzcroMVXh0uPynCzcNlUkpLCcAvmvdJd/CTj
9Z2rw4g3HNXaVN6sD4awQcntAoGAbMZW8RqWVA8qsfe+yTeXeMasEMy8nyxPNa6G
rY0+vSBl7kSsXHfg14TF+jYQOsZlEbLgI0dpfwx1rYgdeIIQcmrrLyuf7yp6VAtr
U7X2f8vTxhfkuvJr3GG/W+n/5TJN2aL917tvYoGfFt1hkCm+rKePFIYNNaVYcofN
OO4NFvcCgYARZbevgRSVwIy02eyiG9wDvSlNFNTL0tlDIG0BNHjQqEKm6y6I6kB4
mpqji2vf8qWXyBs4RAof8akYlgU/B6q/YDNYCWSyTu35AgAnmn4dQb9sy6dGCPBu
jw6l5wqn1BuEEC0WcdIt39SWhMlWcAH46ietqnc3bGlRlVvYGyXviQKBgB2HTkzP
eeXB5EZByhIXvE/2Jvm8iqvvPGWHRlpQ0KpI5ELlc6D6jhgTnCcLjCZYe1FtrLkH
BtWNjViZbd6r+EkHS2cXwagMcP7lxrIH4K3aqFfLXrV9X9iI1IjgIi6XFFkzjROG
d3tXUtfDK1wWaQO3zPi2V1mr1DHrOcPto7ILAoGAUS2f98e0HeP3PxPPpfa7GEi0
aUqSYJEYStXMJTNWO2p5StFU5CnUyAHooyB24fxdwwg2QCdTSammbZosK1k4YKjR
D+k9D4TRlaCKy+4TsieQqBIu1uOH2gUu0+nkzZpHX0NpH8zkplXj033Xdc6zxJyU
mBYvhP4OlrtZbO33a4A=
-----END PRIVATE KEY-----";

/// FINDING 1: `bits()` is the modulus length in bytes times eight, so a 2047-bit key reports
/// 2048 bits and passes the default 2048-bit minimum (SECURITY.md #84: "Reject under 2048").
#[test]
fn rsa_key_size_is_the_modulus_bit_length() {
    // `openssl pkey -text` says: Private-Key: (2047 bit, 2 primes)
    match RsaPrivateKey::from_pem(K_RSA2047) {
        Ok(key) => panic!(
            "2047-bit key accepted under the 2048-bit minimum; bits() = {}",
            key.bits()
        ),
        Err(e) => assert_eq!(
            e,
            KeyError::TooSmall {
                bits: 2047,
                min_bits: 2048
            }
        ),
    }
    let key = RsaPrivateKey::from_pem_with_min_bits(K_RSA2047, 1024).unwrap();
    assert_eq!(key.bits(), 2047);
    assert_eq!(key.public_key().bits(), 2047);
}

/// FINDING 2: `body_hash` (for a non-form body) with `Placement::Body` is accepted and produces a
/// form body that carries `oauth_body_hash` of a body that is no longer sent. The body-hash
/// extension forbids `oauth_body_hash` on form-encoded requests, which `Placement::Body`
/// creates; the signer already refuses `body_hash` with a form body (`BodyHashWithFormBody`).
#[test]
fn body_hash_with_body_placement_is_refused() {
    let signer = hmac_signer();
    let uri: Uri = "https://ex.com/upload".parse().unwrap();
    let opts = SignOptions::new().body_hash(b"{\"json\":true}");
    let result = signer.sign(&Method::POST, &uri, None, &opts, Placement::Body);
    assert!(
        result.is_err(),
        "signed a form body holding oauth_body_hash of another body: {:?}",
        result
            .as_ref()
            .ok()
            .and_then(|s| s.body())
            .map(String::from_utf8_lossy)
    );
}

/// `None` when the data is not valid form encoding of UTF-8 (bad escape, invalid UTF-8).
fn checked_pairs(s: &str) -> Option<Vec<(String, String)>> {
    let dec = |c: &str| -> Option<Vec<u8>> {
        let b = c.as_bytes();
        let mut out = Vec::new();
        let mut i = 0;
        while i < b.len() {
            match b[i] {
                b'+' => {
                    out.push(b' ');
                    i += 1;
                }
                b'%' => {
                    let h = b.get(i + 1..i + 3)?;
                    let h = std::str::from_utf8(h).ok()?;
                    if !h.bytes().all(|c| c.is_ascii_hexdigit()) {
                        return None;
                    }
                    out.push(u8::from_str_radix(h, 16).ok()?);
                    i += 3;
                }
                c => {
                    out.push(c);
                    i += 1;
                }
            }
        }
        String::from_utf8(out.clone()).ok()?;
        Some(out)
    };
    let mut v = Vec::new();
    for seg in s.split('&').filter(|x| !x.is_empty()) {
        let (n, val) = seg.split_once('=').unwrap_or((seg, ""));
        v.push((enc(&dec(n)?), enc(&dec(val)?)));
    }
    Some(v)
}

proptest::proptest! {
    #![proptest_config(proptest::prelude::ProptestConfig::with_cases(3000))]
    #[test]
    fn fuzz_signer_against_reference(
        q in "(%[0-9a-fA-F]{2}|%[0-9a-fA-F]?|[+=&aAzZ09._~!*'()%éx]|%C3%A9|%E2%82|oauth|b5){0,30}",
        body in proptest::option::of("(%[0-9a-fA-F]{2}|%|[+=&aAzZ09._~!*'() %é\u{20ac}]|%C3%A9|%E2%82|oauth|b5){0,30}"),
    ) {
        let Ok(uri) = format!("http://ex.com/p?{q}").parse::<Uri>() else { return Ok(()); };
        let qp = checked_pairs(&q);
        let bp = body.as_deref().map(checked_pairs);
        let opts = SignOptions::new().nonce("n").timestamp(1);
        let (cs, cap) = capture_signer();
        let r = cs.sign(&Method::POST, &uri, body.as_deref().map(str::as_bytes), &opts, Placement::Header);
        let hm = hmac_signer().sign(&Method::POST, &uri, body.as_deref().map(str::as_bytes), &opts, Placement::Header);
        let valid = qp.is_some() && bp.as_ref().is_none_or(|b| b.is_some());
        let has_oauth = valid && qp.iter().flatten().chain(bp.iter().flatten().flatten()).any(|(n, _)| n.starts_with("oauth_"));
        if !valid || has_oauth {
            proptest::prop_assert!(r.is_err(), "accepted invalid q={q:?} body={body:?}");
            proptest::prop_assert!(hm.is_err());
        } else {
            proptest::prop_assert!(r.is_ok(), "refused q={q:?} body={body:?}: {:?}", r.err());
            let expected = reference_base("POST", "http", "ex.com", None, "/p", &q, body.as_deref(), &protocol("n", "1"));
            let got = cap.0.lock().unwrap().pop().unwrap();
            proptest::prop_assert_eq!(&got, &expected);
            let hm = hm.unwrap();
            proptest::prop_assert_eq!(hm.signature(), ref_sig(&expected));
        }
    }
}

fn strip_sig(form: &str) -> String {
    form.split('&')
        .filter(|s| !s.starts_with("oauth_signature="))
        .collect::<Vec<_>>()
        .join("&")
}

/// What a provider reads back from the Query and Body placements signs to the same base string.
#[test]
fn placement_outputs_reparse_to_the_signed_base_string() {
    let v = Verifier::new("v+ %é");
    let opts = SignOptions::new()
        .nonce("n+ %")
        .timestamp(7)
        .callback("http://cb/?a=1&b=%20")
        .verifier(&v);
    for q in [
        "",
        "a=1",
        "a=1&",
        "a",
        "=",
        "x=+%2b%2B",
        "c%40=&a2=r%20b",
        "é=é",
    ] {
        for body in [
            None,
            Some(""),
            Some("&"),
            Some("c2&a3=2+q"),
            Some("a=1&&"),
            Some("=x"),
            Some("é=%C3%A9"),
        ] {
            let uri: Uri = if q.is_empty() {
                "https://h/p".parse().unwrap()
            } else {
                format!("https://h/p?{q}").parse().unwrap()
            };
            let (cs, cap) = capture_signer();
            let hdr = cs
                .sign(
                    &Method::POST,
                    &uri,
                    body.map(str::as_bytes),
                    &opts,
                    Placement::Header,
                )
                .unwrap();
            let base = cap.0.lock().unwrap().pop().unwrap();
            let _ = hdr;
            // Query placement
            let s = cs
                .sign(
                    &Method::POST,
                    &uri,
                    body.map(str::as_bytes),
                    &opts,
                    Placement::Query,
                )
                .unwrap();
            assert_eq!(cap.0.lock().unwrap().pop().unwrap(), base);
            let new = s.uri().unwrap();
            assert_eq!(new.path(), "/p");
            let reparsed = reference_base(
                "POST",
                "https",
                "h",
                None,
                "/p",
                &strip_sig(new.query().unwrap()),
                body,
                &[],
            );
            assert_eq!(reparsed, base, "query placement {q:?} {body:?}: {new}");
            // Body placement
            let s = cs
                .sign(
                    &Method::POST,
                    &uri,
                    body.map(str::as_bytes),
                    &opts,
                    Placement::Body,
                )
                .unwrap();
            assert_eq!(cap.0.lock().unwrap().pop().unwrap(), base);
            let nb = std::str::from_utf8(s.body().unwrap()).unwrap();
            let reparsed = reference_base(
                "POST",
                "https",
                "h",
                None,
                "/p",
                q,
                Some(&strip_sig(nb)),
                &[],
            );
            assert_eq!(reparsed, base, "body placement {q:?} {body:?}: {nb}");
        }
    }
}
const K_RSA8: &str = r"-----BEGIN PRIVATE KEY-----
MIIEvgIBADANBgkqhkiG9w0BAQEFAASCBKgwggSkAgEAAoIBAQDATVjNzLgsJwlH
enM5WK6PG3xRgKz4sfyxwTCQO1clgaVnAVJc/8VrDDPXiMgoQ7RITUty9PWZruEZ
jVGPFIU1yU5C0MpYn8hm0NsVUcqmDz9jTrdCjFsb68PGQv+bPjbH3xsrFzMiu0+G
XPkkcJECZmqhAXFJIlq0srH1Sti6zpN4oZA4N2Wxvy/SfWLuby/GgjlXI1pvZtlo
AAbWnJKiRpQAjZE8GvJDPM5we/6dtvZRQhV4eRzzsbCWdNol1f581sC7DTGjKgwU
ltsXNekd5YpxCU4ADBxd9mPgFIFu08goJd9lzRXGd8yfd7naUyVTC+UH3kozky/M
cg1Kx8u1AgMBAAECggEAEAPhC3KrO/IcUbme8v2xu/VcCyWeQjAAjYU7WCe5AESl
08hGZbxfYqTnhGG92ayZzROy3uYLtjrcQFaGnlXlKi+TtvjQgUT9WaK3PDVNnTrT
2p9pn780r0SZT1+xDerGgSrRhmsuNQxIeTYxAZnmWb7RzoriNmcICth+/aC4IAaC
/EHnsApcoKmGqi4NlRv3qv392CR8eSFPSTLUQwWqj2Ml/gHHlP8bjO+0yJU6EhYn
AroSBAsyj2GkZ0xXHXWOQRGlH4vIMgbyQZQKl5I5lD1iHlOLXyUMFAYx0jnKNeD1
pkmSqkog9OEvysnwrKX9Fc6DWza+mcgnl/TaiIg1GQKBgQD76+sQIB3dIQU015xW
oRYttvraLqHVZAhdCWVPMXmeq7js9/LGPxbb1PipWGJTe2eIjE7/wcjvXjFYnCTD
O/wbsqN+8K2ZtvffByeZ1JGJYX4OjEA/25WwvVUbGLYsdPZhTB2FgMDWXAgk/kew
SwuPsWjE8+p/FygysefdprIKjwKBgQDDalZxvoLxBMJEWd9G4I1o7BXrZM75wjWo
/3p5FSVRWIB0atTg/yQk3/7VoDbP2EkvoLByY8yqyh4jNsicySy7LIPUEvARmX+N
vj9PuY0mTdqpl2kCwmoTBe3WmHusU31dg5vdg0NxFhjB/Zmwgk2ZxL1uO3DA3H/v
3yOJuYg3ewKBgQCRtYjGUO01A25RfAwPByke0+EP5TzxgeRce5y/S2x+2/AgD+G5
zK/aArq4qEhm5M+jaRQgVeN0n9SG3fldewp8srxiJa8jY3LG6wp6rTpobZ1NqM1Y
ohdYnInnHEnyOMxwxmek2i2vTpffXbv1OdK8D+77S+FsFObJO6FS0KHV/QKBgCou
D86pcpYXkt8yDvG7koptOyX+MnbSpsZ9rq/oEpAGbGO0k5KlP+X9u4Hc/TfL1bBE
HRHz3L+YtPyg3JiLC+6y4xmppMwHt/KeeAf7Yy47a9FjbzU7Ra4pf3bsnvVJaCwB
NmmP5cTJIjrtRHlHBv0D7GeYyPO4JJ1gKsmVlIN1AoGBAJXlVhfXyVRMqenfuziG
xCNibtXB1ThWLGDZ4rKN1glxjRjL1FwWFczjlBcZC9XvDx74INLBPrd570CDvn1x
53ShFQGg+J1m1b0tJMfJdCVgh6Yj2FF1IVQ2ynps0LThpqiuv2+17+TQNbUanAnE
VycQWhrMwqJLWX4oJyQYW8EU
-----END PRIVATE KEY-----";

/// Every built-in method signs exactly the reference base string, on inputs longer than the
/// digest sink's buffer.
#[test]
fn all_methods_sign_the_reference_base_string() {
    let key = RsaPrivateKey::from_pem(K_RSA8).unwrap();
    let q: String = (0..200).map(|i| format!("k{i}=%25{}+&", i % 7)).collect();
    let body: String = (0..200)
        .map(|i| format!("b{i}=%E2%82%AC{}&", "%".repeat(0) + "x"))
        .collect();
    let uri: Uri = format!("https://h/p?{q}").parse().unwrap();
    let cs = ConsumerSecret::new(CS);
    let ts = TokenSecret::new(TS);
    for m in SignatureMethod::ALL {
        let nonce = "n%+ ".repeat(40);
        let opts = SignOptions::new().nonce(&nonce).timestamp(5);
        let mut b = Signer::builder(ClientCredentials::new(CK, ConsumerSecret::new(CS)))
            .token(TokenCredentials::new(TK, TokenSecret::new(TS)))
            .method(m);
        if m.is_rsa() {
            b = b.rsa_key(key.clone());
        }
        let signer = b.build().unwrap();
        let signed = signer
            .sign(
                &Method::POST,
                &uri,
                Some(body.as_bytes()),
                &opts,
                Placement::Header,
            )
            .unwrap();
        let proto = vec![
            ("oauth_consumer_key", CK),
            ("oauth_nonce", nonce.as_str()),
            ("oauth_signature_method", m.name()),
            ("oauth_timestamp", "5"),
            ("oauth_token", TK),
            ("oauth_version", "1.0"),
        ];
        let expected = reference_base("POST", "https", "h", None, "/p", &q, Some(&body), &proto);
        let want = if m.is_rsa() {
            key.sign_base_string(m, &expected).unwrap()
        } else {
            sign_base_string(
                m,
                SigningSecrets {
                    consumer_secret: &cs,
                    token_secret: Some(&ts),
                },
                &expected,
            )
            .unwrap()
        };
        assert_eq!(signed.signature(), want, "{m}");
    }
}
const K_PSS: &str = r"-----BEGIN PRIVATE KEY-----
MIIEvAIBADALBgkqhkiG9w0BAQoEggSoMIIEpAIBAAKCAQEApYeYxnzxVSi0f7aW
pnUGeiuCGXBUc6Xg9WJzJTOc8uG64w4rvMVKMcbawlwLkSkTbmst3Uu2T2TVk8JS
PUpPHzoPoF0Qmti4OSM6KYu/aS5siiH3ZSQFpbU+vfGZW1uNdM4eWbEGVVY+zD+v
wTHivR9xY5V1v8Y2KDpmM5vVDl7GkOv4JNkDav0zZzplsZGR3L21yHXgOs3PFHFI
a7rCbsT5L4lwOZj2DGjblFyOw990Z0vSCZAfPUQSmoWciSDCPxR80LlhbrCAgiEX
BLTAuAT3wLC3BJcSXZCDimLg1JLei7BdMNcPOzCLgiP+wCcNBum+AqbAr9RhfV57
dDf1SQIDAQABAoIBAC87PbCFPidacgZvBxWAFtUNTRYNI0vMbSAXc1uOGp6DIlxf
UsOOV9lUMF98/B/zZIQBORkH3YFR+E8tB2JNrb3vRz4uz+ofJJHJJ3NrWLaedIIF
px3I5YOe78QrB+M1gGtv1OEqze/TqB+HnJK3tUbZjfUoVGzgFdvsrfTT5jsvAjeW
MYJgTod5qMMTp6o5ZNU5FEeG2d0WnwyVBWyFlZsGW4ZC9LjlkSuV0sFjP61Z3+dq
IXU3HpdqUS1mHD5KMXin18ELVtQLa69ixx96KheHgSHjh3J42T+T/w4eR+Ypjk+T
cnCWhloRxAiZaLJ7zi0fdssQLjv+BCXLieYcRTECgYEA2dYikszCzdiuhHQa5aK8
epetUSVBRY0PY1Jv13YHKVYWODhCADXg8lr58JSEMPQ1Rfqs2fCq5xWPb9z5cTAy
0iUwfAKEajS0LZ82dYO21GrjznPwvdXkTh2YqTnVAxWCdXD7R1SiIBhLvn0ZEZ0a
t3rku3g/NNRnEfn/W00+UysCgYEAwoeGvR2UMrodZY/ktLXxhh8k9koDr2Do6Y0N
Z/VG7STI8tfeNDglnUb+rxp8TSf4alA6Tzp0ePSaSdCrFfxaT1fqPXd7ATN+RXyX
oteMfrRiQtp1Q2ihMVMd7eO6oblZZfexK31ZsTIBd0n3B+prjTl5ifsO+5BZNkWN
dMmir1sCgYEAsn+bWPtcbVyutG6HU8Aj/bioFqQWdi1+fH6iksVuXNrj3jGLM6zy
pOUThaXNJGgX9z3Pwc5J3I14OcuywqMiIbzDm/pcEsMZGYErGORTPoBQJ24tyQCp
0bDC1XhEKgDII//uh6a8Ktx9xJuxnRNFPy/+mfeQo3Og+cQHEQOcnH0CgYEAiIMh
G//w6zROwuIa5nI0HyImByxjr6R7bsKMoOKwtmS1HC4/AjhQtTGIMwuMJX0iSEEq
2kS0TdmhmKF2HoSsP7f7as05JdukBlFr/Fv1fUlLF41E81wumnWwsCu64hk3UmZj
D5j043OrMbJXSFfKyB2IXDsyBXoEESD4JvgFUbcCgYBlVq/x9bPjz/YQ26AUAJsD
YzLEq8kBtPKOuYlzoImzomdwuct7uQJVtV6S92OQ6qR1X5uQKpGOlO4DPEoHNDqJ
yhD91xC1e7oDCVLRoUPIkPoj712i/31/yCo1vLqL6BHGb2HlDM4bx7oqb/m5+1OD
bCvUDbudmIhKr6ye/tSbYA==
-----END PRIVATE KEY-----";

/// FINDING 3: a PKCS#8 key whose algorithm is id-RSASSA-PSS (made with
/// `openssl genpkey -algorithm RSA-PSS`) is loaded and used for RSASSA-PKCS1-v1_5 signatures.
/// RFC 4055 §1.2 restricts such a key to RSASSA-PSS; OpenSSL refuses it ("PKCS#1 padding not
/// allowed with RSA-PSS"), and the matching SPKI (OID rsassaPss) will not verify PKCS#1 v1.5
/// signatures at a provider. A key of the wrong kind gets a typed error (`PssOnly`).
#[test]
fn rsa_pss_only_key_is_refused_for_pkcs1_v15_signing() {
    assert_eq!(
        RsaPrivateKey::from_pem(K_PSS).map(|k| k.bits()),
        Err(KeyError::PssOnly)
    );
}

/// The HMAC key computed independently: enc(consumer secret) & enc(token secret) (§3.4.2), and
/// the PLAINTEXT signature (§3.4.4), with secrets holding `&`, `%`, `+`, space and non-ASCII.
#[test]
fn shared_key_matches_rfc() {
    use base64::Engine as _;
    use hmac::Hmac;
    use hmac::digest::{FixedOutput, KeyInit, Update};
    let key = format!("{}&{}", enc(CS.as_bytes()), enc(TS.as_bytes()));
    let base = "GET&x&y";
    let mut mac = <Hmac<sha1::Sha1> as KeyInit>::new_from_slice(key.as_bytes()).unwrap();
    mac.update(base.as_bytes());
    let want = base64::engine::general_purpose::STANDARD.encode(mac.finalize_fixed());
    assert_eq!(ref_sig(base), want);
    let p = Signer::builder(ClientCredentials::new(CK, ConsumerSecret::new(CS)))
        .token(TokenCredentials::new(TK, TokenSecret::new(TS)))
        .method(SignatureMethod::Plaintext)
        .build()
        .unwrap();
    let s = p
        .sign(
            &Method::GET,
            &"https://h/".parse().unwrap(),
            None,
            &SignOptions::new(),
            Placement::Header,
        )
        .unwrap();
    assert_eq!(s.signature(), key);
    assert!(
        s.authorization()
            .unwrap()
            .contains(&format!("oauth_signature=\"{}\"", enc(key.as_bytes())))
    );
    // No token: the `&` stays.
    let p = Signer::builder(ClientCredentials::new(CK, ConsumerSecret::new(CS)))
        .method(SignatureMethod::Plaintext)
        .build()
        .unwrap();
    let s = p
        .sign(
            &Method::GET,
            &"https://h/".parse().unwrap(),
            None,
            &SignOptions::new(),
            Placement::Header,
        )
        .unwrap();
    assert_eq!(s.signature(), format!("{}&", enc(CS.as_bytes())));
    assert!(
        p.sign(
            &Method::GET,
            &"http://h/".parse().unwrap(),
            None,
            &SignOptions::new(),
            Placement::Header
        )
        .is_err()
    );
}

/// O1-01 / #80 / #88: the clock before 1970 is an error; a clock stepping back is clamped across
/// clones and `with_token`; nonces do not repeat.
#[test]
fn timestamps_and_nonces() {
    use oauth_core::clock::ManualClock;
    use std::time::{Duration, UNIX_EPOCH};
    let clock = ManualClock::at_unix_seconds(2_000);
    let s = Signer::builder(ClientCredentials::new(CK, ConsumerSecret::new(CS)))
        .clock(clock.clone())
        .build()
        .unwrap();
    let uri: Uri = "https://h/".parse().unwrap();
    let o = SignOptions::new();
    assert_eq!(
        s.sign(&Method::GET, &uri, None, &o, Placement::Header)
            .unwrap()
            .timestamp(),
        2_000
    );
    clock.set(UNIX_EPOCH + Duration::from_secs(10));
    assert_eq!(
        s.clone()
            .sign(&Method::GET, &uri, None, &o, Placement::Header)
            .unwrap()
            .timestamp(),
        2_000
    );
    let t = s.with_token(Some(TokenCredentials::new(TK, TokenSecret::new(TS))));
    assert_eq!(
        t.sign(&Method::GET, &uri, None, &o, Placement::Header)
            .unwrap()
            .timestamp(),
        2_000
    );
    clock.set(UNIX_EPOCH - Duration::from_secs(1));
    assert!(
        s.sign(&Method::GET, &uri, None, &o, Placement::Header)
            .is_err()
    );
    assert!(s.next_timestamp().is_err());
    clock.set(UNIX_EPOCH);
    let fresh = Signer::builder(ClientCredentials::new(CK, ConsumerSecret::new(CS)))
        .clock(clock.clone())
        .build()
        .unwrap();
    assert_eq!(fresh.next_timestamp().unwrap(), 1);
    let mut seen = std::collections::HashSet::new();
    for _ in 0..100_000 {
        let n = s.next_nonce().unwrap();
        assert!(n.len() == NONCE_LEN && n.bytes().all(|b| b.is_ascii_alphanumeric()));
        assert!(seen.insert(n));
    }
}

/// Query and body placement join the protocol parameters to what is already there without an
/// empty component: not `?&oauth_` for a bare `?`, nor `&&oauth_` after a trailing `&`
/// (failed before the fix for the query). The signer skips empty components (as oauthlib's
/// `urldecode` does), so the output is exactly the input plus the parameters it signed, and a
/// strict parser (Python's `parse_qsl(strict_parsing=True)` refuses an empty field) reads the
/// same parameters.
#[test]
fn placement_appends_without_an_empty_component() {
    let opts = SignOptions::new().nonce("n").timestamp(7);
    for (uri, prefix) in [
        ("https://h/p?", "https://h/p?"),
        ("https://h/p?a=1&", "https://h/p?a=1&"),
        ("https://h/p?a=1&b=2&", "https://h/p?a=1&b=2&"),
        ("https://h/p?&", "https://h/p?&"),
        ("https://h/p?a=1", "https://h/p?a=1&"),
        ("https://h/p", "https://h/p?"),
    ] {
        let uri: Uri = uri.parse().unwrap();
        let (cs, cap) = capture_signer();
        cs.sign(&Method::GET, &uri, None, &opts, Placement::Header)
            .unwrap();
        let base = cap.0.lock().unwrap().pop().unwrap();
        let signed = cs
            .sign(&Method::GET, &uri, None, &opts, Placement::Query)
            .unwrap();
        assert_eq!(cap.0.lock().unwrap().pop().unwrap(), base);
        let out = signed.uri().unwrap().to_string();
        let rest = out
            .strip_prefix(prefix)
            .unwrap_or_else(|| panic!("{uri}: {out}"));
        assert!(rest.starts_with("oauth_"), "{uri}: {out}");
        assert!(!rest.contains("&&"), "{uri}: {out}");
        assert!(!out.contains("&&oauth_"), "{uri}: {out}");
    }
    let uri: Uri = "https://h/p".parse().unwrap();
    for (body, prefix) in [
        ("", ""),
        ("&", "&"),
        ("a=1&", "a=1&"),
        ("a=1", "a=1&"),
        ("c2&a3=2+q&", "c2&a3=2+q&"),
    ] {
        let (cs, cap) = capture_signer();
        cs.sign(
            &Method::POST,
            &uri,
            Some(body.as_bytes()),
            &opts,
            Placement::Header,
        )
        .unwrap();
        let base = cap.0.lock().unwrap().pop().unwrap();
        let signed = cs
            .sign(
                &Method::POST,
                &uri,
                Some(body.as_bytes()),
                &opts,
                Placement::Body,
            )
            .unwrap();
        assert_eq!(cap.0.lock().unwrap().pop().unwrap(), base);
        let out = std::str::from_utf8(signed.body().unwrap()).unwrap();
        let rest = out
            .strip_prefix(prefix)
            .unwrap_or_else(|| panic!("{body:?}: {out}"));
        assert!(rest.starts_with("oauth_"), "{body:?}: {out}");
        assert!(!out.contains("&&oauth_"), "{body:?}: {out}");
        assert!(!rest.contains("&&"), "{body:?}: {out}");
    }
}
