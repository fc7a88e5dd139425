//! `Jwks::parse` and `IdTokenVerifier::verify` (then `check_access_token` and `check_max_age`)
//! on ID tokens whose header and payload are fuzzed JSON, signed for real with the crate's test
//! keys (P-256 for ES256, RSA 2048 for RS256 and PS256) when the input says so, so that the
//! claim checks after the signature are reached.
//!
//! Input: a few choice bytes, then the rest: `claims [0x00 jwks [0x00 header]]`. The claims
//! text may be patched (`iss`, `aud`, `exp`, `iat`, `nonce`, `at_hash` set to good values) so
//! that mutations of one member are tried on an otherwise valid token; the JWK set, when given,
//! gets the test keys appended to its `keys` array when the input says so. (A seed in
//! `seeds/id_token` is the choice bytes in `arbitrary`'s encoding, the fields in order: variant
//! `i` of an `n`-variant enum is the little-endian `u32` `ceil(i * 2^32 / n)`, then its fields;
//! a `bool` or `u8` is one byte, an `i16` two, little-endian; then the text.)
//!
//! Invariants: no panic (and no overflow: the profile has overflow checks); a verified token was
//! signed by one of the test keys with the algorithm its header names (and the pinned one, if
//! any), has `iss` the expected issuer, an `aud` with the client and only trusted audiences
//! (an `azp` equal to the client when there are several or when present), the expected nonce
//! when one is expected, `exp` + skew after now, `iat` and `nbf` no later than now + skew;
//! `check_access_token` passes exactly when `at_hash` is absent or the access token's;
//! `check_max_age` passes only with an `auth_time` no more than `max_age` + skew before now (or
//! after it by no more than the skew), and refuses one further ahead as an invalid `auth_time`
//! claim, any other as too old; the ID token, the nonce and the access token never appear in
//! the `Display`/`Debug` of an error, nor the token in its own `Debug`.
#![no_main]

use std::sync::OnceLock;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use oauth_core::oauth2::Issuer;
use oauth_core::oauth2::oidc::{IdTokenError, IdTokenVerifier, Jwks};
use oauth_core::secret::{AccessToken, IdToken};
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair, RSA_PKCS1_SHA256, RSA_PSS_SHA256,
    RsaKeyPair, RsaPublicKeyComponents,
};
use serde_json::{Map, Value, json};

const ISSUER: &str = "https://server.example.com";
const CLIENT: &str = "s6BhdRkqt3";
const TRUSTED: &str = "trusted-api";
const NONCE: &str = "n-0S6_WzA2Mj";
const NOW: u64 = 1_700_000_000;
/// OpenID Connect Core 1.0 Appendix A.4: this access token has `at_hash`
/// `77QmUPtjPfzWtF2AnpK9RQ`.
const ACCESS: &str = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y";
const AT_HASH: &str = "77QmUPtjPfzWtF2AnpK9RQ";

struct Keys {
    ec: EcdsaKeyPair,
    rsa: RsaKeyPair,
    rng: SystemRandom,
    /// The public JWKs of the two keys (`kid` `ec-1` and `rsa-1`).
    ec_jwk: Value,
    rsa_jwk: Value,
}

fn der(pem: &str) -> Vec<u8> {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    STANDARD.decode(body).expect("test key PEM")
}

fn keys() -> &'static Keys {
    static KEYS: OnceLock<Keys> = OnceLock::new();
    KEYS.get_or_init(|| {
        let rng = SystemRandom::new();
        let ec = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            &der(include_str!(
                "../../crates/oauth-core/tests/vectors/oauth1/test_ec_p256_pkcs8.pem"
            )),
            &rng,
        )
        .expect("P-256 test key");
        let rsa = RsaKeyPair::from_pkcs8(&der(include_str!(
            "../../crates/oauth-core/tests/vectors/oauth1/test_rsa_2048_pkcs8.pem"
        )))
        .expect("RSA test key");
        let point = ec.public_key().as_ref();
        let ec_jwk = json!({"kty": "EC", "crv": "P-256", "kid": "ec-1",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65])});
        let parts = RsaPublicKeyComponents::<Vec<u8>>::from(rsa.public());
        let rsa_jwk = json!({"kty": "RSA", "kid": "rsa-1",
            "n": URL_SAFE_NO_PAD.encode(&parts.n), "e": URL_SAFE_NO_PAD.encode(&parts.e)});
        Keys {
            ec,
            rsa,
            rng,
            ec_jwk,
            rsa_jwk,
        }
    })
}

#[derive(Debug, Arbitrary)]
enum Alg {
    Es256,
    Rs256,
    Ps256,
    None,
    Hs256,
    Es384,
    Absent,
    Number,
}

#[derive(Debug, Arbitrary)]
enum Kid {
    Matching,
    Absent,
    Other,
    Swapped,
    Number,
}

#[derive(Debug, Arbitrary)]
enum Typ {
    Absent,
    Jwt,
    ApplicationJwt,
    LogoutJwt,
    Number,
}

#[derive(Debug, Arbitrary)]
enum Signature {
    /// With the key of the header's algorithm: the only kind that may verify.
    Genuine,
    /// With the other family's key (RSA for ES256, P-256 for RS256/PS256).
    OtherKey,
    /// Over another input.
    OtherInput,
    /// Genuine, with one bit flipped.
    Flipped(u16),
    Empty,
    Raw(Vec<u8>),
}

#[derive(Debug, Arbitrary)]
enum JwkSet {
    /// Both test keys, with their `kid`s.
    Both,
    /// The P-256 key only, with extra members (`use`, `key_ops`, `alg`) from the bits.
    Ec(u8),
    /// The RSA key only, its modulus written with leading zero octets.
    RsaPadded(u8),
    /// Both keys without `kid`.
    NoKids,
    /// The set given after the claims (with the test keys appended when `true`).
    Given(bool),
}

#[derive(Debug, Arbitrary)]
struct Input<'a> {
    alg: Alg,
    kid: Kid,
    typ: Typ,
    crit: bool,
    signature: Signature,
    jwks: JwkSet,
    /// Bits: which claims to set to good values before signing.
    patch: u8,
    /// Bits: expect the nonce; trust `TRUSTED`; pin the algorithm; tamper with the segments.
    options: u8,
    pinned: Alg,
    now_offset: i16,
    huge_now: bool,
    skew: u8,
    max_age: u8,
    rest: &'a [u8],
}

fn alg_name(alg: &Alg) -> Option<&'static str> {
    match alg {
        Alg::Es256 => Some("ES256"),
        Alg::Rs256 => Some("RS256"),
        Alg::Ps256 => Some("PS256"),
        Alg::None => Some("none"),
        Alg::Hs256 => Some("HS256"),
        Alg::Es384 => Some("ES384"),
        Alg::Absent | Alg::Number => None,
    }
}

fn sign(keys: &Keys, rsa: bool, pss: bool, input: &[u8]) -> Vec<u8> {
    if rsa {
        let mut out = vec![0; keys.rsa.public().modulus_len()];
        let padding: &dyn ring::signature::RsaEncoding = if pss {
            &RSA_PSS_SHA256
        } else {
            &RSA_PKCS1_SHA256
        };
        keys.rsa
            .sign(padding, &keys.rng, input, &mut out)
            .expect("RSA signing");
        out
    } else {
        keys.ec
            .sign(&keys.rng, input)
            .expect("ECDSA signing")
            .as_ref()
            .to_vec()
    }
}

fn jwk_set(input: &Input<'_>, keys: &Keys, given: Option<&[u8]>) -> Vec<u8> {
    let mut ec = keys.ec_jwk.clone();
    let mut rsa = keys.rsa_jwk.clone();
    let set = match &input.jwks {
        JwkSet::Both => vec![ec, rsa],
        JwkSet::Ec(bits) => {
            let uses = [Value::Null, json!("sig"), json!("enc"), json!(["sig"])];
            let ops = [
                Value::Null,
                json!(["verify"]),
                json!(["sign"]),
                json!("verify"),
            ];
            let algs = [Value::Null, json!("ES256"), json!("RS256"), json!(5)];
            let pick = |shift: u8| usize::from((bits >> shift) & 3);
            for (name, value) in [
                ("use", &uses[pick(0)]),
                ("key_ops", &ops[pick(2)]),
                ("alg", &algs[pick(4)]),
            ] {
                if !value.is_null() || bits & 0x40 != 0 {
                    ec[name] = value.clone();
                }
            }
            vec![ec]
        }
        JwkSet::RsaPadded(zeros) => {
            let n = URL_SAFE_NO_PAD
                .decode(rsa["n"].as_str().unwrap_or_default())
                .unwrap_or_default();
            let padded = [vec![0; usize::from(zeros % 4)], n].concat();
            rsa["n"] = URL_SAFE_NO_PAD.encode(padded).into();
            vec![rsa]
        }
        JwkSet::NoKids => {
            ec.as_object_mut().map(|o| o.remove("kid"));
            rsa.as_object_mut().map(|o| o.remove("kid"));
            vec![ec, rsa]
        }
        JwkSet::Given(append) => {
            let given = given.unwrap_or_default();
            if !append {
                return given.to_vec();
            }
            match serde_json::from_slice::<Value>(given) {
                Ok(Value::Object(mut doc)) => {
                    if let Some(Value::Array(list)) = doc.get_mut("keys") {
                        list.extend([ec, rsa]);
                    }
                    return Value::Object(doc).to_string().into_bytes();
                }
                _ => return given.to_vec(),
            }
        }
    };
    json!({ "keys": set }).to_string().into_bytes()
}

fn header(input: &Input<'_>, given: Option<&[u8]>) -> Vec<u8> {
    let mut header = match given.map(serde_json::from_slice::<Value>) {
        Some(Ok(Value::Object(members))) => members,
        Some(_) => return given.unwrap_or_default().to_vec(),
        None => Map::new(),
    };
    match (&input.alg, alg_name(&input.alg)) {
        (_, Some(name)) => {
            header.insert("alg".into(), name.into());
        }
        (Alg::Number, _) => {
            header.insert("alg".into(), 256.into());
        }
        _ => {}
    }
    let kid = match (&input.kid, &input.alg) {
        (Kid::Matching, Alg::Rs256 | Alg::Ps256) | (Kid::Swapped, Alg::Es256) => json!("rsa-1"),
        (Kid::Matching, _) | (Kid::Swapped, _) => json!("ec-1"),
        (Kid::Other, _) => json!("rotated"),
        (Kid::Number, _) => json!(1),
        (Kid::Absent, _) => Value::Null,
    };
    if !kid.is_null() {
        header.insert("kid".into(), kid);
    }
    let typ = match input.typ {
        Typ::Absent => Value::Null,
        Typ::Jwt => json!("JWT"),
        Typ::ApplicationJwt => json!("application/jwt"),
        Typ::LogoutJwt => json!("logout+jwt"),
        Typ::Number => json!(7),
    };
    if !typ.is_null() {
        header.insert("typ".into(), typ);
    }
    if input.crit {
        header.insert("crit".into(), json!(["exp"]));
    }
    Value::Object(header).to_string().into_bytes()
}

fn claims(input: &Input<'_>, given: &[u8]) -> Vec<u8> {
    if input.patch == 0 {
        return given.to_vec();
    }
    let mut claims = match serde_json::from_slice::<Value>(given) {
        Ok(Value::Object(members)) => members,
        _ => Map::new(),
    };
    let mut set = |bit: u8, name: &str, value: Value| {
        if input.patch & bit != 0 {
            claims.insert(name.into(), value);
        }
    };
    set(0x01, "iss", ISSUER.into());
    set(0x02, "aud", CLIENT.into());
    set(0x04, "exp", (NOW + 600).into());
    set(0x08, "iat", NOW.into());
    set(0x10, "nonce", NONCE.into());
    set(0x20, "sub", "24400320".into());
    set(0x40, "at_hash", AT_HASH.into());
    set(0x80, "auth_time", (NOW - 10).into());
    Value::Object(claims).to_string().into_bytes()
}

fn verifier(input: &Input<'_>) -> Option<IdTokenVerifier> {
    let mut verifier = IdTokenVerifier::new(Issuer::new(ISSUER).ok()?, CLIENT);
    if input.options & 0x02 != 0 {
        verifier = verifier.trust_audience(TRUSTED);
    }
    if input.options & 0x04 != 0 {
        match alg_name(&input.pinned).map(|alg| verifier.clone().expect_algorithm(alg)) {
            Some(Ok(pinned)) => verifier = pinned,
            Some(Err(error)) => assert_eq!(error, IdTokenError::UnsupportedAlgorithm),
            None => {}
        }
    }
    let skew = [0, 1, 60, 3600, u64::MAX][usize::from(input.skew % 5)];
    Some(verifier.clock_skew(Duration::from_secs(skew)))
}

/// A NumericDate as the verifier reads it (whole seconds), when it is one.
fn date(value: &Value) -> Option<SystemTime> {
    let secs = value.as_f64().filter(|s| s.is_finite() && *s >= 0.0)?;
    UNIX_EPOCH.checked_add(Duration::from_secs(secs as u64))
}

fuzz_target!(|input: Input<'_>| {
    let keys = keys();
    let mut parts = input.rest.splitn(3, |b| *b == 0);
    let claims_text = parts.next().unwrap_or_default();
    let jwks_text = parts.next();
    let header_text = parts.next();

    let jwks_doc = jwk_set(&input, keys, jwks_text);
    let jwks = match Jwks::parse(&jwks_doc) {
        Ok(jwks) => {
            let listed = serde_json::from_slice::<Value>(&jwks_doc)
                .ok()
                .and_then(|d| d.get("keys").and_then(Value::as_array).map(Vec::len));
            assert!(listed.is_some_and(|n| jwks.len() <= n), "{jwks:?}");
            if jwks.is_empty() {
                assert!(!jwks.contains_kid("ec-1") && !jwks.contains_kid("rsa-1"));
            }
            // RFC 7517 §4.2-4.4: the built sets' keys are usable exactly when `use`, `key_ops`
            // and `alg` allow verifying with them.
            let usable = match input.jwks {
                JwkSet::Both | JwkSet::NoKids => Some(2),
                JwkSet::RsaPadded(_) => Some(1),
                JwkSet::Ec(bits) => {
                    let ok = |shift: u8| (bits >> shift) & 3 <= 1;
                    Some(usize::from(ok(0) && ok(2) && ok(4)))
                }
                JwkSet::Given(_) => None,
            };
            if let Some(usable) = usable {
                assert_eq!(jwks.len(), usable, "{input:?}");
            }
            jwks
        }
        Err(error) => {
            // The sets built here are JWK sets; only a given one may not be.
            assert!(matches!(input.jwks, JwkSet::Given(_)), "{error}");
            return;
        }
    };

    let header = header(&input, header_text);
    let payload = claims(&input, claims_text);
    let mut signing_input = URL_SAFE_NO_PAD.encode(&header);
    signing_input.push('.');
    signing_input.push_str(&URL_SAFE_NO_PAD.encode(&payload));
    let header_alg = serde_json::from_slice::<Value>(&header)
        .ok()
        .and_then(|h| h.get("alg").and_then(Value::as_str).map(str::to_owned));
    let (rsa, pss) = match header_alg.as_deref() {
        Some("RS256") => (true, false),
        Some("PS256") => (true, true),
        _ => (false, false),
    };
    let mut genuine = false;
    let signature = match &input.signature {
        Signature::Genuine => {
            genuine = true;
            sign(keys, rsa, pss, signing_input.as_bytes())
        }
        Signature::OtherKey => sign(keys, !rsa, pss, signing_input.as_bytes()),
        Signature::OtherInput => sign(keys, rsa, pss, b"eyJhbGciOiJFUzI1NiJ9.e30"),
        Signature::Flipped(at) => {
            let mut signature = sign(keys, rsa, pss, signing_input.as_bytes());
            let bit = usize::from(*at) % (signature.len() * 8);
            signature[bit / 8] ^= 1 << (bit % 8);
            signature
        }
        Signature::Empty => Vec::new(),
        Signature::Raw(bytes) => bytes.clone(),
    };
    let mut token = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(&signature));
    // Tampering after signing: an extra segment, padding, a changed payload.
    match input.options >> 4 {
        1 => token.push_str(".e30"),
        2 => token.push('='),
        3 => token = token.replacen('.', ".e", 1),
        4 => token = token.replacen('.', "..", 1),
        _ => {}
    }
    let tampered = input.options >> 4 != 0 && input.options >> 4 <= 4;

    let Some(verifier) = verifier(&input) else {
        return;
    };
    let expected_nonce = (input.options & 0x01 != 0).then_some(NONCE);
    let now = if input.huge_now {
        UNIX_EPOCH.checked_add(Duration::from_secs(i64::MAX as u64 - 1))
    } else {
        UNIX_EPOCH.checked_add(Duration::from_secs(
            NOW.saturating_add_signed(i64::from(input.now_offset) * 7),
        ))
    };
    let Some(now) = now else {
        return;
    };
    let skew = [0, 1, 60, 3600, u64::MAX][usize::from(input.skew % 5)];
    let skew = Duration::from_secs(skew);

    let id_token = IdToken::new(token.as_str());
    assert!(!format!("{id_token:?}").contains(&token), "token printed");
    let access = AccessToken::new(ACCESS);
    let result = verifier.verify(&id_token, &jwks, expected_nonce, now);
    let claims = match result {
        Ok(claims) => claims,
        Err(error) => {
            let printed = format!("{error} {error:?}");
            assert!(!printed.contains(&token), "token printed: {printed}");
            assert!(!printed.contains(NONCE), "nonce printed: {printed}");
            assert!(!printed.contains(ACCESS), "access token printed: {printed}");
            for segment in token.split('.').filter(|s| s.len() >= 8) {
                assert!(!printed.contains(segment), "segment printed: {printed}");
            }
            return;
        }
    };

    // The signature: only a genuine one, over the token as sent, for the header's algorithm.
    assert!(genuine && !tampered, "verified a token not signed: {token}");
    let alg = header_alg.expect("verified without an alg");
    assert_eq!(claims.algorithm(), alg);
    assert!(matches!(alg.as_str(), "ES256" | "RS256" | "PS256"));
    if input.options & 0x04 != 0
        && let Some(pinned) =
            alg_name(&input.pinned).filter(|a| ["ES256", "RS256", "PS256"].contains(a))
    {
        assert_eq!(alg, pinned, "a pinned algorithm was not enforced");
    }
    let header_json: Map<String, Value> =
        serde_json::from_slice(&header).expect("verified a header that is not an object");
    assert!(!header_json.contains_key("crit"));

    // The claims, as a JSON parser reads them (the last of duplicate members).
    let doc: Map<String, Value> =
        serde_json::from_slice(&payload).expect("verified a payload that is not an object");
    assert_eq!(doc.get("iss").and_then(Value::as_str), Some(ISSUER));
    assert_eq!(doc.get("sub").and_then(Value::as_str), Some(claims.sub()));
    let aud = claims.aud();
    assert!(aud.iter().any(|a| a == CLIENT), "aud without the client");
    let trusted = input.options & 0x02 != 0;
    assert!(
        aud.iter().all(|a| a == CLIENT || (trusted && a == TRUSTED)),
        "an untrusted audience: {aud:?}"
    );
    match doc.get("azp") {
        Some(azp) => assert_eq!(azp.as_str(), Some(CLIENT)),
        None => assert!(aud.len() == 1 || aud.iter().all(|a| a == CLIENT), "{aud:?}"),
    }
    if let Some(nonce) = expected_nonce {
        assert_eq!(claims.nonce(), Some(nonce));
        assert_eq!(doc.get("nonce").and_then(Value::as_str), Some(nonce));
    }
    let exp = doc.get("exp").and_then(date).expect("verified without exp");
    assert_eq!(claims.expires_at(), exp);
    if let Some(end) = exp.checked_add(skew) {
        assert!(now < end, "verified an expired token");
    }
    let iat = doc.get("iat").and_then(date).expect("verified without iat");
    assert_eq!(claims.issued_at(), iat);
    if let Some(latest) = now.checked_add(skew) {
        assert!(iat <= latest, "verified a token issued in the future");
        if let Some(nbf) = doc.get("nbf") {
            let nbf = date(nbf).expect("verified an nbf that is not a date");
            assert!(nbf <= latest, "verified a token not valid yet");
        }
    }
    assert_eq!(
        claims.auth_time(),
        doc.get("auth_time").map(|t| date(t).expect("auth_time"))
    );

    // at_hash, on the verified claims.
    let at_hash = doc.get("at_hash");
    match claims.check_access_token(&access) {
        Ok(()) => assert!(at_hash.is_none_or(|h| h == AT_HASH)),
        Err(error) => {
            assert!(at_hash.is_some_and(|h| h != AT_HASH), "{error}");
            assert!(!format!("{error} {error:?}").contains(ACCESS));
        }
    }
    assert_eq!(
        claims
            .check_access_token(&AccessToken::new("another"))
            .is_ok(),
        at_hash.is_none()
    );

    // max_age.
    let max_age = match input.max_age % 6 {
        0 => Duration::ZERO,
        1 => Duration::from_secs(1),
        2 => Duration::from_secs(300),
        3 => Duration::from_secs(u64::MAX),
        4 => Duration::MAX,
        _ => Duration::from_secs(u64::from(input.max_age) * 100),
    };
    match verifier.check_max_age(&claims, max_age, now) {
        Ok(()) => {
            let auth_time = claims
                .auth_time()
                .expect("max_age passed without auth_time");
            match now.duration_since(auth_time) {
                Ok(age) => assert!(
                    age <= max_age.saturating_add(skew),
                    "authentication too old"
                ),
                Err(ahead) => assert!(ahead.duration() <= skew, "auth_time ahead of the skew"),
            }
        }
        // An `auth_time` ahead of now by more than the skew is refused as a bad claim.
        Err(IdTokenError::InvalidClaim("auth_time")) => {
            let auth_time = claims.auth_time().expect("auth_time refused without one");
            let ahead = auth_time.duration_since(now).expect("auth_time not ahead");
            assert!(ahead > skew, "auth_time refused within the skew");
        }
        Err(error) => assert_eq!(error, IdTokenError::AuthenticationTooOld),
    }

    // What the claims print: no nonce (unless another printed claim carries it).
    let printed = format!("{claims:?} {claims:#?}");
    if !claims.sub().contains(NONCE) && !aud.iter().any(|a| a.contains(NONCE)) {
        assert!(!printed.contains(NONCE), "nonce printed: {printed}");
    }
    assert!(!printed.contains(&token));
});
