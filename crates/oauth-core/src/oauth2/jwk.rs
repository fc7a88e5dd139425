//! The provider's signing keys: a JWK set (RFC 7517) read into the public keys ID tokens are
//! verified with ([`oidc`](super::oidc)), and which key may verify which JWS algorithm.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, ECDSA_P384_SHA384_FIXED, ED25519, RSA_PKCS1_2048_8192_SHA256,
    RSA_PKCS1_2048_8192_SHA384, RSA_PKCS1_2048_8192_SHA512, RSA_PSS_2048_8192_SHA256,
    RSA_PSS_2048_8192_SHA384, RSA_PSS_2048_8192_SHA512, RsaParameters, RsaPublicKeyComponents,
    UnparsedPublicKey, VerificationAlgorithm,
};
use serde_json::Value;

/// The JWS algorithms a provider's signature is verified with here: RSASSA-PKCS1-v1_5 and
/// RSASSA-PSS with SHA-256/384/512 (RFC 7518 §3.3, §3.5), ECDSA on P-256 and P-384 (§3.4),
/// and EdDSA on Ed25519 under both its names (`EdDSA`, RFC 8037 §3.1; `Ed25519`, the fully
/// specified name of RFC 9864 §2.2). Not `none`, no symmetric algorithm (`HS*`: the client
/// secret is no provider key), not ES512 (P-521) nor Ed448: ring verifies neither.
pub(crate) const ALGORITHMS: [&str; 10] = [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA", "Ed25519",
];

/// `name` as one of [`ALGORITHMS`], when it is one (compared exactly: JWS names are
/// case-sensitive, RFC 7515 §4.1.1).
pub(crate) fn algorithm(name: &str) -> Option<&'static str> {
    ALGORITHMS.iter().copied().find(|alg| *alg == name)
}

/// A provider's signing keys (RFC 7517 JWK set, from its `jwks_uri`): RSA keys of 2048 to 8192
/// bits, EC keys on P-256 and P-384, OKP keys on Ed25519 (RFC 8037 §2). Other keys are
/// skipped: symmetric ones, RSA keys under 2048 or over 8192 bits, Ed25519 keys of small order
/// (under which signatures can be forged), curves ring does not verify
/// (P-521, Ed448, secp256k1; a token naming one of these keys is refused with
/// [`IdTokenError::UnsupportedKey`](super::oidc::IdTokenError::UnsupportedKey), not taken
/// for an unknown key), keys whose `use`, `key_ops` or `alg` rule out verifying a signature
/// this crate accepts with them (an encryption key, `key_ops` without `verify`, an `alg` the
/// key cannot be used with, a member of the wrong type; RFC 7517 §4.2-4.4), and keys whose
/// `kid` is not a string (§4.5).
#[derive(Debug, Clone, Default)]
pub struct Jwks {
    keys: Vec<Jwk>,
    /// Signing keys on curves this crate cannot verify, by `kid`.
    unsupported: Vec<UnsupportedKey>,
}

/// A signing key of the set on a curve ring does not verify.
#[derive(Debug, Clone)]
struct UnsupportedKey {
    kid: Option<String>,
    curve: &'static str,
}

#[derive(Clone)]
pub(crate) struct Jwk {
    pub(crate) kid: Option<String>,
    alg: Option<String>,
    key: PublicKey,
}

#[derive(Clone)]
enum PublicKey {
    Rsa { n: Vec<u8>, e: Vec<u8> },
    P256 { point: Vec<u8> },
    P384 { point: Vec<u8> },
    Ed25519 { x: Vec<u8> },
}

impl fmt::Debug for Jwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kty = match self.key {
            PublicKey::Rsa { .. } => "RSA",
            PublicKey::P256 { .. } => "EC P-256",
            PublicKey::P384 { .. } => "EC P-384",
            PublicKey::Ed25519 { .. } => "OKP Ed25519",
        };
        f.debug_struct("Jwk")
            .field("kid", &self.kid)
            .field("kty", &kty)
            .field("alg", &self.alg)
            .finish()
    }
}

/// A JWK set that is not one (RFC 7517 §5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a JWK set (a JSON object with a \"keys\" array)")]
#[non_exhaustive]
pub struct InvalidJwks;

/// What one member of a JWK set is, to this crate.
enum Read {
    Usable(Jwk),
    Unsupported(UnsupportedKey),
    Skipped,
}

impl Jwks {
    /// Reads a JWK set document.
    ///
    /// # Errors
    ///
    /// Fails with [`InvalidJwks`] when `body` is not JSON or has no `keys` array; members that
    /// are not usable keys are skipped or listed as unsupported, never an error.
    pub fn parse(body: &[u8]) -> Result<Self, InvalidJwks> {
        let document: Value = serde_json::from_slice(body).map_err(|_| InvalidJwks)?;
        let members = document
            .get("keys")
            .and_then(Value::as_array)
            .ok_or(InvalidJwks)?;
        let mut jwks = Self::default();
        for member in members {
            match Jwk::from_json(member) {
                Read::Usable(jwk) => jwks.keys.push(jwk),
                Read::Unsupported(key) => jwks.unsupported.push(key),
                Read::Skipped => {}
            }
        }
        Ok(jwks)
    }

    /// How many usable signing keys the set has.
    pub fn len(&self) -> usize {
        self.keys.len()
    }

    /// Whether the set has no usable signing key.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty()
    }

    /// The usable keys.
    pub(crate) fn keys(&self) -> impl Iterator<Item = &Jwk> {
        self.keys.iter()
    }

    /// The curve of the signing key a token signed with `alg` naming `kid` is for, when the
    /// set has such a key on a curve this crate cannot verify: the key named by `kid`, or
    /// without a `kid`, an Ed448 key for an `EdDSA` token (the one polymorphic name).
    pub(crate) fn unsupported_curve(&self, alg: &str, kid: Option<&str>) -> Option<&'static str> {
        self.unsupported
            .iter()
            .find(|key| match kid {
                Some(kid) => key.kid.as_deref() == Some(kid),
                None => alg == "EdDSA" && key.curve == "Ed448",
            })
            .map(|key| key.curve)
    }

    /// Whether a key with this `kid` is in the set (when not, fetch the set again: the
    /// provider may have rotated its keys).
    pub fn contains_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid.as_deref() == Some(kid))
    }
}

/// Why a provider's JWS was not verified (before any claim is looked at).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum JwsError {
    /// Not a compact JWS with a JSON header and a JSON object payload, or a header refused: no
    /// `alg`, a `crit` member, a `typ` other than `JWT`, a `kid` not a string.
    Malformed,
    /// `alg` is not one of [`ALGORITHMS`], or not the one pinned.
    UnsupportedAlgorithm,
    /// No key of the set for the `alg` (and `kid`).
    UnknownKey,
    /// The key named is on a curve ring does not verify.
    UnsupportedKey {
        /// The JWK's `crv`.
        curve: &'static str,
    },
    /// The signature does not verify with any candidate key.
    BadSignature,
}

/// Verifies a compact JWS signed by a provider (an ID token, a signed authorization response)
/// with `jwks`: the header's `alg` one of [`ALGORITHMS`] (and `pinned`, when given), no `crit`,
/// a `typ`, if any, of `JWT`, a `kid`, if any, a string naming the key; the signature by a key
/// of the set allowed for that `alg` ([`Jwk::allows`]). Returns the algorithm and the claims,
/// unchecked: each caller checks the claims its kind of token needs.
pub(crate) fn verify_jws(
    jws: &str,
    jwks: &Jwks,
    pinned: Option<&'static str>,
) -> Result<(&'static str, serde_json::Map<String, Value>), JwsError> {
    use serde_json::Map;
    let mut parts = jws.split('.');
    let (Some(header), Some(payload), Some(signature), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(JwsError::Malformed);
    };
    let decode = |part: &str| {
        URL_SAFE_NO_PAD
            .decode(part)
            .map_err(|_| JwsError::Malformed)
    };
    let header: Map<String, Value> =
        serde_json::from_slice(&decode(header)?).map_err(|_| JwsError::Malformed)?;
    let claims: Map<String, Value> =
        serde_json::from_slice(&decode(payload)?).map_err(|_| JwsError::Malformed)?;
    let signature = decode(signature)?;

    let alg = match header.get("alg").and_then(Value::as_str) {
        Some(name) => algorithm(name).ok_or(JwsError::UnsupportedAlgorithm)?,
        None => return Err(JwsError::Malformed),
    };
    if pinned.is_some_and(|expected| expected != alg) {
        return Err(JwsError::UnsupportedAlgorithm);
    }
    // RFC 7515 §4.1.11: no extension this code understands may be critical. And a JWT of
    // another kind (`logout+jwt`, `at+jwt`...) is not one of these, whatever it claims.
    // (`typ` is a media type, `application/` implied: `JWT` and `application/jwt` are one,
    // RFC 7515 §4.1.9.)
    if header.contains_key("crit") {
        return Err(JwsError::Malformed);
    }
    let is_jwt =
        |t: &str| t.eq_ignore_ascii_case("JWT") || t.eq_ignore_ascii_case("application/jwt");
    if header
        .get("typ")
        .is_some_and(|t| !t.as_str().is_some_and(is_jwt))
    {
        return Err(JwsError::Malformed);
    }
    // `kid` is a string (RFC 7515 §4.1.4); another type is a malformed header, not "no kid"
    // (which would try every key of the set).
    let kid = match header.get("kid") {
        None => None,
        Some(Value::String(kid)) => Some(kid.as_str()),
        Some(_) => return Err(JwsError::Malformed),
    };
    let candidates: Vec<&Jwk> = jwks
        .keys()
        .filter(|k| k.allows(alg) && kid.is_none_or(|kid| k.kid.as_deref() == Some(kid)))
        .collect();
    if candidates.is_empty() {
        return Err(match jwks.unsupported_curve(alg, kid) {
            Some(curve) => JwsError::UnsupportedKey { curve },
            None => JwsError::UnknownKey,
        });
    }
    let signed = jws
        .rsplit_once('.')
        .map(|(input, _)| input)
        .unwrap_or_default();
    if !candidates
        .iter()
        .any(|k| k.verify(alg, signed.as_bytes(), &signature))
    {
        return Err(JwsError::BadSignature);
    }
    Ok((alg, claims))
}

/// An RSA `n` or `e` (RFC 7518 §6.3.1) as ring reads it: big-endian without leading zero
/// octets. Some providers' libraries write one (RFC 7518 §6.3.1.1 notes it); the integer, and
/// so the key, is the same. `None` for zero.
pub(crate) fn integer(mut octets: Vec<u8>) -> Option<Vec<u8>> {
    let zeros = octets.iter().take_while(|b| **b == 0).count();
    octets.drain(..zeros);
    (!octets.is_empty()).then_some(octets)
}

/// An uncompressed EC point (`04 || x || y`) from a JWK's `x` and `y`, each `len` octets
/// (RFC 7518 §6.2.1.2-3: the full coordinate length of the curve, leading zeros kept).
fn ec_point(x: Option<Vec<u8>>, y: Option<Vec<u8>>, len: usize) -> Option<Vec<u8>> {
    let (x, y) = (x?, y?);
    (x.len() == len && y.len() == len).then(|| [&[4u8][..], &x, &y].concat())
}

impl Jwk {
    fn from_json(value: &Value) -> Read {
        Self::read(value).unwrap_or(Read::Skipped)
    }

    fn read(value: &Value) -> Option<Read> {
        let text = |name| value.get(name).and_then(Value::as_str);
        let bytes = |name| text(name).and_then(|s| URL_SAFE_NO_PAD.decode(s).ok());
        // RFC 7517 §4.2-4.4: what the key is for (`use` and `key_ops` must agree, §4.3). `null`
        // reads as absent; a member of another type is a restriction this code cannot read, so
        // the key is not used.
        let member = |name| value.get(name).filter(|v| !v.is_null());
        let for_signatures = member("use").is_none_or(|u| u == "sig")
            && match member("key_ops") {
                None => true,
                Some(Value::Array(ops)) => ops.iter().any(|op| op == "verify"),
                Some(_) => false,
            };
        if !for_signatures {
            return None;
        }
        let alg = match member("alg") {
            None => None,
            Some(Value::String(alg)) => Some(alg.clone()),
            Some(_) => return None,
        };
        // `kid` is a string (RFC 7517 §4.5); a key whose `kid` is of another type is not used,
        // as a token naming a string `kid` could never select it.
        let kid = match member("kid") {
            None => None,
            Some(Value::String(kid)) => Some(kid.clone()),
            Some(_) => return None,
        };
        let key = match (text("kty")?, text("crv")) {
            ("RSA", _) => {
                let (n, e) = (integer(bytes("n")?)?, integer(bytes("e")?)?);
                // RFC 7518 §3.3, §3.5: 2048 bits at least (and ring verifies up to 8192).
                let bits = n.len() * 8 - n[0].leading_zeros() as usize;
                if !(2048..=8192).contains(&bits) {
                    return None;
                }
                PublicKey::Rsa { n, e }
            }
            ("EC", Some("P-256")) => PublicKey::P256 {
                point: ec_point(bytes("x"), bytes("y"), 32)?,
            },
            ("EC", Some("P-384")) => PublicKey::P384 {
                point: ec_point(bytes("x"), bytes("y"), 48)?,
            },
            // RFC 8037 §2: `x` is the 32-octet public key, not one of small order (which
            // ring would take: see `is_small_order`). (X25519 and X448 are key agreement
            // keys, never signing ones: skipped below.)
            ("OKP", Some("Ed25519")) => PublicKey::Ed25519 {
                x: bytes("x").filter(|x| x.len() == 32 && !is_small_order(x))?,
            },
            // Signing keys ring cannot verify with: remembered, so a token naming one is told
            // apart from a token naming a key the set does not have.
            ("EC", Some(curve @ ("P-521" | "secp256k1"))) | ("OKP", Some(curve @ "Ed448")) => {
                let curve = match curve {
                    "P-521" => "P-521",
                    "secp256k1" => "secp256k1",
                    _ => "Ed448",
                };
                return Some(Read::Unsupported(UnsupportedKey { kid, curve }));
            }
            _ => return None,
        };
        let jwk = Self { kid, alg, key };
        // An `alg` the key cannot be used with (`ES384` on a P-256 key, `RS512` on an EC
        // key...): no token can name it, so the key is not a usable one.
        jwk.alg
            .as_deref()
            .is_none_or(|alg| jwk.allows(alg))
            .then_some(Read::Usable(jwk))
    }

    /// Whether this key may verify `alg`: an algorithm of the key's type and curve (RFC 7518
    /// §3.3-3.5, RFC 8037 §3.1), and the JWK's own `alg` when it states one (RFC 7517 §4.4).
    pub(crate) fn allows(&self, alg: &str) -> bool {
        let family = match (&self.key, alg) {
            (PublicKey::Rsa { .. }, alg) => rsa_parameters(alg).is_some(),
            (PublicKey::P256 { .. }, "ES256")
            | (PublicKey::P384 { .. }, "ES384")
            | (PublicKey::Ed25519 { .. }, "EdDSA" | "Ed25519") => true,
            _ => false,
        };
        family && self.alg.as_deref().is_none_or(|a| a == alg)
    }

    /// Whether `signature` is this key's `alg` signature of `input` (`false` for an `alg` of
    /// another key type or curve).
    pub(crate) fn verify(&self, alg: &str, input: &[u8], signature: &[u8]) -> bool {
        let with = |algorithm: &'static dyn VerificationAlgorithm, key: &[u8]| {
            UnparsedPublicKey::new(algorithm, key)
                .verify(input, signature)
                .is_ok()
        };
        match (&self.key, alg) {
            (PublicKey::Rsa { n, e }, alg) => rsa_parameters(alg).is_some_and(|parameters| {
                RsaPublicKeyComponents { n, e }
                    .verify(parameters, input, signature)
                    .is_ok()
            }),
            (PublicKey::P256 { point }, "ES256") => with(&ECDSA_P256_SHA256_FIXED, point),
            (PublicKey::P384 { point }, "ES384") => with(&ECDSA_P384_SHA384_FIXED, point),
            (PublicKey::Ed25519 { x }, "EdDSA" | "Ed25519") => with(&ED25519, x),
            _ => false,
        }
    }
}

/// The `y` encodings (RFC 8032 §5.1.2, the sign bit of `x` cleared) of the eight Ed25519
/// points of order 1, 2, 4 or 8: `y` = 0 (order 4), 1 (the identity), p - 1 (order 2), and
/// the `y` of the points of order 8 and its negation (`y² = (√(1 + d) - 1) / d`); then 0 and
/// 1 written unreduced, as p and p + 1. Computed from the curve equation (p = 2²⁵⁵ - 19,
/// d = -121665/121666), each checked to give the identity when doubled three times.
const SMALL_ORDER_Y: [[u8; 32]; 7] = [
    le_255_bits(0x00, 0x00, 0x00),
    le_255_bits(0x01, 0x00, 0x00),
    le_255_bits(0xec, 0xff, 0x7f),
    [
        0x26, 0xe8, 0x95, 0x8f, 0xc2, 0xb2, 0x27, 0xb0, 0x45, 0xc3, 0xf4, 0x89, 0xf2, 0xef, 0x98,
        0xf0, 0xd5, 0xdf, 0xac, 0x05, 0xd3, 0xc6, 0x33, 0x39, 0xb1, 0x38, 0x02, 0x88, 0x6d, 0x53,
        0xfc, 0x05,
    ],
    [
        0xc7, 0x17, 0x6a, 0x70, 0x3d, 0x4d, 0xd8, 0x4f, 0xba, 0x3c, 0x0b, 0x76, 0x0d, 0x10, 0x67,
        0x0f, 0x2a, 0x20, 0x53, 0xfa, 0x2c, 0x39, 0xcc, 0xc6, 0x4e, 0xc7, 0xfd, 0x77, 0x92, 0xac,
        0x03, 0x7a,
    ],
    le_255_bits(0xed, 0xff, 0x7f),
    le_255_bits(0xee, 0xff, 0x7f),
];

/// 32 little-endian octets: `low`, then 30 times `middle`, then `high`.
const fn le_255_bits(low: u8, middle: u8, high: u8) -> [u8; 32] {
    let mut octets = [middle; 32];
    octets[0] = low;
    octets[31] = high;
    octets
}

/// Whether the Ed25519 public key `x` (32 octets) is a point of small order. ring verifies
/// against such a key without complaint, and under it a signature is easy to forge for any
/// message (under the identity, `R` = the identity and `S` = 0 always verifies): a JWK set
/// holding one would accept tokens nobody signed. A provider never publishes one; a set that
/// does is not trusted with it.
fn is_small_order(x: &[u8]) -> bool {
    let mut y = [0u8; 32];
    y.copy_from_slice(x);
    y[31] &= 0x7f;
    SMALL_ORDER_Y.contains(&y)
}

/// The RSA signature scheme of `alg` (RFC 7518 §3.3 PKCS#1 v1.5, §3.5 PSS), for keys of 2048
/// to 8192 bits.
fn rsa_parameters(alg: &str) -> Option<&'static RsaParameters> {
    Some(match alg {
        "RS256" => &RSA_PKCS1_2048_8192_SHA256,
        "RS384" => &RSA_PKCS1_2048_8192_SHA384,
        "RS512" => &RSA_PKCS1_2048_8192_SHA512,
        "PS256" => &RSA_PSS_2048_8192_SHA256,
        "PS384" => &RSA_PSS_2048_8192_SHA384,
        "PS512" => &RSA_PSS_2048_8192_SHA512,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use std::time::{Duration, SystemTime, UNIX_EPOCH};

    use ring::rand::SystemRandom;
    use ring::signature::{
        ECDSA_P256_SHA256_FIXED_SIGNING, ECDSA_P384_SHA384_FIXED_SIGNING, EcdsaKeyPair,
        Ed25519KeyPair, KeyPair as _, RSA_PKCS1_SHA256, RSA_PKCS1_SHA384, RSA_PKCS1_SHA512,
        RSA_PSS_SHA256, RSA_PSS_SHA384, RSA_PSS_SHA512, RsaKeyPair, RsaPublicKeyComponents,
    };
    use serde_json::json;

    use super::*;
    use crate::oauth2::Issuer;
    use crate::oauth2::jws::compact;
    use crate::oauth2::oidc::{IdTokenError, IdTokenVerifier};
    use crate::secret::{AccessToken, IdToken};

    const RSA_PEM: &str = include_str!("../../tests/vectors/oauth1/test_rsa_2048_pkcs8.pem");
    const ED25519_PEM: &str = include_str!("../../tests/vectors/oauth1/test_ed25519_pkcs8.pem");
    const NOW: u64 = 1_700_000_000;

    /// RFC 7520 §3.4: the RSA public key of its signature examples.
    const RFC7520_RSA: &str = "n4EPtAOCc9AlkeQHPzHStgAbgs7bTZLwUBZdR8_KuKPEHLd4rHVTeT-O-XV2jRojdNhxJWTDvNd7nqQ0VEiZQHz_AJmSCpMaJMRBSFKrKb2wqVwGU_NsYOYL-QtiWN2lbzcEe6XC0dApr5ydQLrHqkHHig3RBordaZ6Aj-oBHqFEHYpPe7Tpe-OfVfHd1E6cS6M1FZcD1NNLYD5lFHpPI9bTwJlsde3uhGqC0ZCuEHg8lhzwOHrtIQbS0FVbb9k3-tVTU4fg_3L_vniUFAKwuCLqKnS2BYwdq_mzSnbLY7h_qixoR7jig3__kRhuaxwUkRz5iaiQkqgc5gHdrNP5zw";
    /// RFC 7520 §4 (Figure 8): the payload of its signature examples, base64url.
    const RFC7520_PAYLOAD: &str = "SXTigJlzIGEgZGFuZ2Vyb3VzIGJ1c2luZXNzLCBGcm9kbywgZ29pbmcgb3V0IHlvdXIgZG9vci4gWW91IHN0ZXAgb250byB0aGUgcm9hZCwgYW5kIGlmIHlvdSBkb24ndCBrZWVwIHlvdXIgZmVldCwgdGhlcmXigJlzIG5vIGtub3dpbmcgd2hlcmUgeW91IG1pZ2h0IGJlIHN3ZXB0IG9mZiB0by4";
    /// RFC 7520 §4.1.2 (Figure 11, 13): the RS256 protected header and signature.
    const RFC7520_RS256: (&str, &str) = (
        "eyJhbGciOiJSUzI1NiIsImtpZCI6ImJpbGJvLmJhZ2dpbnNAaG9iYml0b24uZXhhbXBsZSJ9",
        "MRjdkly7_-oTPTS3AXP41iQIGKa80A0ZmTuV5MEaHoxnW2e5CZ5NlKtainoFmKZopdHM1O2U4mwzJdQx996ivp83xuglII7PNDi84wnB-BDkoBwA78185hX-Es4JIwmDLJK3lfWRa-XtL0RnltuYv746iYTh_qHRD68BNt1uSNCrUCTJDt5aAE6x8wW1Kt9eRo4QPocSadnHXFxnt8Is9UzpERV0ePPQdLuW3IS_de3xyIrDaLGdjluPxUAhb6L2aXic1U12podGU0KLUQSE_oI-ZnmKJ3F4uOZDnd6QZWJushZ41Axf_fcIe8u9ipH84ogoree7vjbU5y18kDquDg",
    );
    /// RFC 7520 §4.2.2 (Figure 17, 19): the PS384 protected header and signature.
    const RFC7520_PS384: (&str, &str) = (
        "eyJhbGciOiJQUzM4NCIsImtpZCI6ImJpbGJvLmJhZ2dpbnNAaG9iYml0b24uZXhhbXBsZSJ9",
        "cu22eBqkYDKgIlTpzDXGvaFfz6WGoz7fUDcfT0kkOy42miAh2qyBzk1xEsnk2IpN6-tPid6VrklHkqsGqDqHCdP6O8TTB5dDDItllVo6_1OLPpcbUrhiUSMxbbXUvdvWXzg-UD8biiReQFlfz28zGWVsdiNAUf8ZnyPEgVFn442ZdNqiVJRmBqrYRXe8P_ijQ7p8Vdz0TTrxUeT3lm8d9shnr2lfJT8ImUjvAA2Xez2Mlp8cBE5awDzT0qI0n6uiP1aCN_2_jLAeQTlqRHtfa64QQSUmFAAjVKPbByi7xho0uTOcbH510a6GYmJUAfmWjwZ6oD4ifKo8DYM-X72Eaw",
    );
    /// RFC 7520 §3.2: the P-521 public key of its ES512 example (§4.3).
    const RFC7520_P521: (&str, &str) = (
        "AHKZLLOsCOzz5cY97ewNUajB957y-C-U88c3v13nmGZx6sYl_oJXu9A5RkTKqjqvjyekWF-7ytDyRXYgCF5cj0Kt",
        "AdymlHvOiLxXkEhayXQnNCvDX4h9htZaCJN34kfmC6pV5OhQHiraVySsUdaQkAgDPrwQrJmbnX9cwlGfP-HqHZR1",
    );
    /// RFC 8037 Appendix A.2 (the public half of A.1's key) and A.4: an Ed25519 JWS.
    const RFC8037_X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
    const RFC8037_JWS: &str = "eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc.hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg";

    fn set(keys: Value) -> Jwks {
        Jwks::parse(json!({ "keys": keys }).to_string().as_bytes()).unwrap()
    }

    fn b64(bytes: &[u8]) -> String {
        URL_SAFE_NO_PAD.encode(bytes)
    }

    /// Whether the only usable key of `jwks` verifies the compact JWS `jws` as `alg`.
    fn verifies(jwks: &Jwks, alg: &str, jws: &str) -> bool {
        let (input, signature) = jws.rsplit_once('.').unwrap();
        let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
        assert_eq!(jwks.len(), 1);
        jwks.keys()
            .all(|key| key.verify(alg, input.as_bytes(), &signature))
    }

    /// RFC 7520 §4.1 (RS256) and §4.2 (PS384): the published signatures verify with the
    /// published key, and only under their own algorithm (a PS384 header on the RS256
    /// signature, an RS384 one on the PS384 signature, fail).
    #[test]
    fn rfc7520_rs256_and_ps384_examples_verify() {
        let jwks = set(
            json!([{"kty": "RSA", "kid": "bilbo.baggins@hobbiton.example",
            "use": "sig", "n": RFC7520_RSA, "e": "AQAB"}]),
        );
        let jws =
            |(header, signature): (&str, &str)| format!("{header}.{RFC7520_PAYLOAD}.{signature}");
        assert!(verifies(&jwks, "RS256", &jws(RFC7520_RS256)));
        assert!(verifies(&jwks, "PS384", &jws(RFC7520_PS384)));
        for alg in [
            "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "EdDSA",
        ] {
            assert!(!verifies(&jwks, alg, &jws(RFC7520_RS256)), "{alg}");
        }
        for alg in ["RS256", "RS384", "PS256", "PS512", "ES384"] {
            assert!(!verifies(&jwks, alg, &jws(RFC7520_PS384)), "{alg}");
        }
    }

    /// RFC 8037 Appendix A.4/A.5: the Ed25519 JWS of A.4 verifies with the key of A.2 (as
    /// `EdDSA` and as its RFC 9864 name `Ed25519`); a changed payload does not.
    #[test]
    fn rfc8037_ed25519_example_verifies() {
        let jwks = set(json!([{"kty": "OKP", "crv": "Ed25519", "x": RFC8037_X}]));
        assert!(verifies(&jwks, "EdDSA", RFC8037_JWS));
        assert!(verifies(&jwks, "Ed25519", RFC8037_JWS));
        assert!(!verifies(&jwks, "ES256", RFC8037_JWS));
        let tampered = RFC8037_JWS.replacen(".RXhh", ".RXhi", 1);
        assert!(!verifies(&jwks, "EdDSA", &tampered));
        // An `x` that is not 32 octets is no Ed25519 key.
        for x in [&RFC8037_X[..42], "AA"] {
            assert!(set(json!([{"kty": "OKP", "crv": "Ed25519", "x": x}])).is_empty());
        }
    }

    /// Signs a JWS signing input with a provider's test key.
    type Sign = Box<dyn Fn(&[u8]) -> Vec<u8>>;

    /// A provider's key (its public JWK and a signing function) for one algorithm.
    struct Signer {
        jwk: Value,
        sign: Sign,
    }

    fn rsa_signer(alg: &str) -> Signer {
        let (_, der) = pem_rfc7468::decode_vec(RSA_PEM.as_bytes()).unwrap();
        let pair = RsaKeyPair::from_pkcs8(&der).unwrap();
        let public: RsaPublicKeyComponents<Vec<u8>> = pair.public().into();
        let jwk = json!({"kty": "RSA", "kid": "rsa", "n": b64(&public.n), "e": b64(&public.e)});
        let padding: &'static dyn ring::signature::RsaEncoding = match alg {
            "RS256" => &RSA_PKCS1_SHA256,
            "RS384" => &RSA_PKCS1_SHA384,
            "RS512" => &RSA_PKCS1_SHA512,
            "PS256" => &RSA_PSS_SHA256,
            "PS384" => &RSA_PSS_SHA384,
            _ => &RSA_PSS_SHA512,
        };
        let sign = move |input: &[u8]| {
            let mut signature = vec![0; pair.public().modulus_len()];
            pair.sign(padding, &SystemRandom::new(), input, &mut signature)
                .unwrap();
            signature
        };
        Signer {
            jwk,
            sign: Box::new(sign),
        }
    }

    fn ec_signer(alg: &str) -> Signer {
        let (signing, crv) = match alg {
            "ES256" => (&ECDSA_P256_SHA256_FIXED_SIGNING, "P-256"),
            _ => (&ECDSA_P384_SHA384_FIXED_SIGNING, "P-384"),
        };
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(signing, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(signing, pkcs8.as_ref(), &rng).unwrap();
        let point = pair.public_key().as_ref();
        let half = (point.len() - 1) / 2;
        let jwk = json!({"kty": "EC", "kid": "ec", "crv": crv,
            "x": b64(&point[1..=half]), "y": b64(&point[1 + half..])});
        let sign = move |input: &[u8]| pair.sign(&rng, input).unwrap().as_ref().to_vec();
        Signer {
            jwk,
            sign: Box::new(sign),
        }
    }

    fn ed25519_signer() -> Signer {
        let (_, der) = pem_rfc7468::decode_vec(ED25519_PEM.as_bytes()).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der).unwrap();
        let jwk = json!({"kty": "OKP", "kid": "ed", "crv": "Ed25519",
            "x": b64(pair.public_key().as_ref())});
        let sign = move |input: &[u8]| pair.sign(input).as_ref().to_vec();
        Signer {
            jwk,
            sign: Box::new(sign),
        }
    }

    fn signer(alg: &str) -> Signer {
        match alg {
            "ES256" | "ES384" => ec_signer(alg),
            "EdDSA" | "Ed25519" => ed25519_signer(),
            _ => rsa_signer(alg),
        }
    }

    impl Signer {
        /// A valid ID token, its header `alg` (and `kid`) as given.
        fn token(&self, header: Value) -> IdToken {
            let claims = json!({"iss": "https://server.example.com", "sub": "24400320",
                "aud": "s6BhdRkqt3", "exp": NOW + 600, "iat": NOW,
                "at_hash": "x7vk7f6BvQj0jQHYFIk4ag"});
            let jws = compact(&header, &claims, |input| Ok((self.sign)(input))).unwrap();
            IdToken::new(jws.as_str())
        }

        fn jwks(&self) -> Jwks {
            set(json!([self.jwk]))
        }

        fn kid(&self) -> &str {
            self.jwk["kid"].as_str().unwrap()
        }
    }

    fn verifier() -> IdTokenVerifier {
        IdTokenVerifier::new(
            Issuer::new("https://server.example.com").unwrap(),
            "s6BhdRkqt3",
        )
    }

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(NOW)
    }

    /// Every algorithm of [`ALGORITHMS`]: a token signed with it verifies with the provider's
    /// key (with and without a `kid`, with and without the verifier pinned to it), reports
    /// it, and is refused once a byte of its claims changes, or when the verifier is pinned
    /// to another algorithm.
    #[test]
    fn every_supported_algorithm_verifies_an_id_token() {
        for alg in ALGORITHMS {
            let signer = signer(alg);
            let jwks = signer.jwks();
            assert_eq!(jwks.len(), 1, "{alg}");
            let token = signer.token(json!({"alg": alg, "kid": signer.kid()}));
            let claims = verifier().verify(&token, &jwks, None, now()).unwrap();
            assert_eq!(claims.algorithm(), alg);
            assert_eq!(claims.sub(), "24400320");
            let pinned = verifier().expect_algorithm(alg).unwrap();
            assert!(pinned.verify(&token, &jwks, None, now()).is_ok(), "{alg}");
            let no_kid = signer.token(json!({"alg": alg}));
            assert!(
                verifier().verify(&no_kid, &jwks, None, now()).is_ok(),
                "{alg}"
            );
            // With the JWK's own `alg` stated, the same.
            let mut stated = signer.jwk.clone();
            stated["alg"] = alg.into();
            assert!(
                verifier()
                    .verify(&token, &set(json!([stated])), None, now())
                    .is_ok()
            );

            let (input, signature) = token.secret().rsplit_once('.').unwrap();
            let (header, payload) = input.split_once('.').unwrap();
            let mut changed = URL_SAFE_NO_PAD.decode(payload).unwrap();
            let at = changed.iter().position(|b| *b == b'2').unwrap();
            changed[at] = b'3';
            let tampered = IdToken::new(format!("{header}.{}.{signature}", b64(&changed)));
            assert_eq!(
                verifier().verify(&tampered, &jwks, None, now()).err(),
                Some(IdTokenError::BadSignature),
                "{alg}"
            );
            let other = if alg == "RS256" { "ES256" } else { "RS256" };
            assert_eq!(
                verifier()
                    .expect_algorithm(other)
                    .unwrap()
                    .verify(&token, &jwks, None, now())
                    .err(),
                Some(IdTokenError::UnsupportedAlgorithm),
                "{alg}"
            );
        }
    }

    /// `at_hash` is the left half of the access token's hash with the hash of the ID token's
    /// algorithm. Vectors from the oidc-token-hash package's README (RS256: SHA-256; EdDSA on
    /// Ed25519: SHA-512, OpenID connect issue #1125); the SHA-384 value computed with Python's
    /// hashlib.
    #[test]
    fn at_hash_uses_the_hash_of_the_algorithm() {
        const ACCESS: &str = "YmJiZTAwYmYtMzgyOC00NzhkLTkyOTItNjJjNDM3MGYzOWIy9sFhvH8K_x8UIHj1osisS57f5DduL-ar_qw5jl3lthwpMjm283aVMQXDmoqqqydDSqJfbhptzw8rUVwkuQbolw";
        const SHA256: &str = "x7vk7f6BvQj0jQHYFIk4ag";
        const SHA384: &str = "ups_76_7CCye_J1WIyGHKVG7AAs2olYm";
        const SHA512: &str = "EGEAhGYyfuwDaVTifvrWSoD5MSy_5hZPy6I7Vm-7pTQ";
        for alg in ALGORITHMS {
            let expected = match alg {
                "RS256" | "PS256" | "ES256" => SHA256,
                "RS384" | "PS384" | "ES384" => SHA384,
                _ => SHA512,
            };
            let signer = signer(alg);
            for at_hash in [SHA256, SHA384, SHA512] {
                let claims = json!({"iss": "https://server.example.com", "sub": "24400320",
                    "aud": "s6BhdRkqt3", "exp": NOW + 600, "iat": NOW, "at_hash": at_hash});
                let jws = compact(&json!({"alg": alg}), &claims, |input| {
                    Ok((signer.sign)(input))
                })
                .unwrap();
                let claims = verifier()
                    .verify(&IdToken::new(jws.as_str()), &signer.jwks(), None, now())
                    .unwrap();
                let checked = claims.check_access_token(&AccessToken::new(ACCESS));
                match at_hash == expected {
                    true => assert_eq!(checked, Ok(()), "{alg}"),
                    false => assert_eq!(
                        checked,
                        Err(IdTokenError::AccessTokenHashMismatch),
                        "{alg} {at_hash}"
                    ),
                }
            }
        }
    }

    /// The algorithm must fit the key: an ES384 token is not verified with a P-256 key (nor
    /// ES256 with a P-384 one), EdDSA not with an RSA or EC key, an RS* or PS* token not with
    /// an EC or OKP key; a JWK whose `alg` names another algorithm than the token's is not
    /// used (EdDSA and Ed25519 included: each is the JWK's `alg` alone); a JWK whose `alg`
    /// its key cannot be used with is skipped. All `UnknownKey`: no key of the set is for
    /// the token.
    #[test]
    fn the_algorithm_must_fit_the_key_type_and_the_jwk_alg() {
        let p256 = signer("ES256");
        let p384 = signer("ES384");
        let rsa = signer("RS256");
        let ed = signer("EdDSA");
        let unknown = Some(IdTokenError::UnknownKey);
        // A token of `alg` under the set `keys`, signed by `by`, naming no `kid`.
        let check = |by: &Signer, alg: &str, keys: &Jwks| {
            verifier()
                .verify(&by.token(json!({ "alg": alg })), keys, None, now())
                .err()
        };
        assert_eq!(check(&p384, "ES384", &p256.jwks()), unknown);
        assert_eq!(check(&p256, "ES384", &p256.jwks()), unknown);
        assert_eq!(check(&p256, "ES256", &p384.jwks()), unknown);
        assert_eq!(check(&ed, "EdDSA", &rsa.jwks()), unknown);
        assert_eq!(check(&ed, "Ed25519", &p256.jwks()), unknown);
        assert_eq!(check(&rsa, "RS256", &ed.jwks()), unknown);
        assert_eq!(check(&p256, "ES256", &ed.jwks()), unknown);
        for alg in ["RS384", "PS512"] {
            assert_eq!(check(&rsa, alg, &p384.jwks()), unknown, "{alg}");
        }
        // A PS384 header on an RS384 signature, with the right key: the signature fails.
        let rs384 = signer("RS384");
        assert_eq!(
            check(&rs384, "PS384", &rs384.jwks()),
            Some(IdTokenError::BadSignature)
        );
        // The JWK's own `alg` rules.
        let with_alg = |signer: &Signer, alg: &str| {
            let mut jwk = signer.jwk.clone();
            jwk["alg"] = alg.into();
            set(json!([jwk]))
        };
        assert_eq!(check(&rs384, "RS384", &with_alg(&rs384, "RS512")), unknown);
        assert_eq!(check(&rsa, "PS256", &with_alg(&rsa, "RS256")), unknown);
        assert_eq!(check(&ed, "EdDSA", &with_alg(&ed, "Ed25519")), unknown);
        assert_eq!(check(&ed, "Ed25519", &with_alg(&ed, "EdDSA")), unknown);
        for (signer, alg) in [
            (&p256, "ES384"),
            (&p384, "ES256"),
            (&ed, "ES256"),
            (&rsa, "EdDSA"),
        ] {
            assert!(with_alg(signer, alg).is_empty(), "{alg}");
        }
    }

    /// RFC 7520 §4.3 signs with ES512 (P-521), which ring does not verify: the token is
    /// refused as `UnsupportedAlgorithm` (its P-521 key, of §3.2, is no usable key), and so is
    /// Ed448 under its RFC 9864 name. A token naming an unusable key by `kid` (P-521, Ed448,
    /// secp256k1), or an `EdDSA` token without `kid` under a set with an Ed448 key, is
    /// refused with the key's curve (`UnsupportedKey`), not as a key the set lacks; nothing
    /// panics.
    #[test]
    fn es512_ed448_and_their_keys_are_typed_errors() {
        const KID: &str = "bilbo.baggins@hobbiton.example";
        let (x, y) = RFC7520_P521;
        let jwks = set(json!([
            {"kty": "EC", "kid": KID, "use": "sig", "crv": "P-521", "x": x, "y": y},
            {"kty": "OKP", "kid": "ed448", "crv": "Ed448", "x": b64(&[7; 57])},
            {"kty": "EC", "kid": "k1", "crv": "secp256k1", "x": b64(&[1; 32]), "y": b64(&[2; 32])},
            {"kty": "OKP", "kid": "x25519", "crv": "X25519", "x": b64(&[3; 32])},
        ]));
        assert!(jwks.is_empty());
        let p256 = signer("ES256");
        let check = |header: Value| {
            verifier()
                .verify(&p256.token(header), &jwks, None, now())
                .err()
        };
        assert_eq!(
            check(json!({"alg": "ES512", "kid": KID})),
            Some(IdTokenError::UnsupportedAlgorithm)
        );
        assert_eq!(
            verifier().expect_algorithm("ES512").err(),
            Some(IdTokenError::UnsupportedAlgorithm)
        );
        for alg in ["Ed448", "ES256K", "HS256", "none", "eddsa", "es384"] {
            assert_eq!(
                check(json!({ "alg": alg })),
                Some(IdTokenError::UnsupportedAlgorithm),
                "{alg}"
            );
            assert!(verifier().expect_algorithm(alg).is_err(), "{alg}");
        }
        let unsupported = |curve| Some(IdTokenError::UnsupportedKey { curve });
        assert_eq!(
            check(json!({"alg": "ES256", "kid": KID})),
            unsupported("P-521")
        );
        assert_eq!(
            check(json!({"alg": "EdDSA", "kid": "ed448"})),
            unsupported("Ed448")
        );
        assert_eq!(check(json!({"alg": "EdDSA"})), unsupported("Ed448"));
        assert_eq!(
            check(json!({"alg": "ES256", "kid": "k1"})),
            unsupported("secp256k1")
        );
        // A key agreement key, an unknown `kid`, an ES256 token with no `kid`: no key.
        for header in [
            json!({"alg": "EdDSA", "kid": "x25519"}),
            json!({"alg": "ES256", "kid": "other"}),
            json!({"alg": "ES256"}),
        ] {
            assert_eq!(check(header), Some(IdTokenError::UnknownKey));
        }
        let text = IdTokenError::UnsupportedKey { curve: "Ed448" }.to_string();
        assert!(text.contains("Ed448"), "{text}");
    }

    /// P-384 coordinates are 48 octets each (RFC 7518 §6.2.1.2: the full coordinate size).
    #[test]
    fn p384_coordinates_are_48_octets_each() {
        let p384 = signer("ES384");
        assert_eq!(p384.jwks().len(), 1);
        for (x, y) in [(47, 48), (48, 49), (32, 32), (66, 66)] {
            let jwk =
                json!({"kty": "EC", "crv": "P-384", "x": b64(&vec![1; x]), "y": b64(&vec![1; y])});
            assert!(set(json!([jwk])).is_empty(), "{x} {y}");
        }
        let debug = format!("{:?}", p384.jwks());
        assert!(debug.contains("EC P-384"), "{debug}");
    }

    /// An Ed25519 JWK whose key is of small order is not used: under the identity (x =
    /// `AQAA…`), the signature `R` = identity, `S` = 0 verifies with ring for any message, so
    /// such a key would accept a token nobody signed (here: one that would verify if the key
    /// were used). Each of the eight small-order points, under each encoding (sign bit set or
    /// not, unreduced `y`), is refused; the RFC 8037 key is not.
    #[test]
    fn ed25519_keys_of_small_order_are_not_used() {
        use ring::signature::{ED25519, UnparsedPublicKey};

        let mut identity = [0u8; 32];
        identity[0] = 1;
        let mut forged = [0u8; 64];
        forged[0] = 1;
        let claims = json!({"iss": "https://server.example.com", "sub": "24400320",
            "aud": "s6BhdRkqt3", "exp": NOW + 600, "iat": NOW});
        let token = compact(&json!({"alg": "EdDSA"}), &claims, |_| Ok(forged.to_vec())).unwrap();
        let (input, _) = token.rsplit_once('.').unwrap();
        // What ring says of that signature under that key.
        assert!(
            UnparsedPublicKey::new(&ED25519, &identity)
                .verify(input.as_bytes(), &forged)
                .is_ok()
        );
        let jwks = set(json!([{"kty": "OKP", "crv": "Ed25519", "x": b64(&identity)}]));
        assert!(jwks.is_empty());
        assert_eq!(
            verifier()
                .verify(&IdToken::new(token.as_str()), &jwks, None, now())
                .err(),
            Some(IdTokenError::UnknownKey)
        );
        for y in SMALL_ORDER_Y {
            for sign in [0, 0x80] {
                let mut x = y;
                x[31] |= sign;
                assert!(is_small_order(&x));
                let jwk = json!({"kty": "OKP", "crv": "Ed25519", "x": b64(&x)});
                assert!(set(json!([jwk])).is_empty(), "{x:?}");
            }
        }
        let rfc8037 = URL_SAFE_NO_PAD.decode(RFC8037_X).unwrap();
        assert!(!is_small_order(&rfc8037));
        assert_eq!(ed25519_signer().jwks().len(), 1, "the test key is used");
    }
}
