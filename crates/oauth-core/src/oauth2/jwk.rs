//! The provider's signing keys: a JWK set (RFC 7517) read into the public keys ID tokens are
//! verified with ([`oidc`](super::oidc)), and which key may verify which JWS algorithm.

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED, RSA_PKCS1_2048_8192_SHA256, RSA_PSS_2048_8192_SHA256,
    RsaPublicKeyComponents, UnparsedPublicKey,
};
use serde_json::Value;

/// A provider's signing keys (RFC 7517 JWK set, from its `jwks_uri`). Keys of types this
/// crate cannot use (symmetric, OKP, other curves, RSA under 2048 or over 8192 bits) are
/// skipped, as are keys whose `use`, `key_ops` or `alg` rule out verifying ES256, RS256 or
/// PS256 signatures with them (an encryption key, `key_ops` without `verify`, a member of the
/// wrong type; RFC 7517 §4.2-4.4), and keys whose `kid` is not a string (§4.5).
#[derive(Debug, Clone, Default)]
pub struct Jwks {
    keys: Vec<Jwk>,
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
}

impl fmt::Debug for Jwk {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kty = match self.key {
            PublicKey::Rsa { .. } => "RSA",
            PublicKey::P256 { .. } => "EC P-256",
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
pub struct InvalidJwks;

impl Jwks {
    /// Reads a JWK set document.
    pub fn parse(body: &[u8]) -> Result<Self, InvalidJwks> {
        let document: Value = serde_json::from_slice(body).map_err(|_| InvalidJwks)?;
        let keys = document
            .get("keys")
            .and_then(Value::as_array)
            .ok_or(InvalidJwks)?;
        Ok(Self {
            keys: keys.iter().filter_map(Jwk::from_json).collect(),
        })
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

    /// Whether a key with this `kid` is in the set (when not, fetch the set again: the
    /// provider may have rotated its keys).
    pub fn contains_kid(&self, kid: &str) -> bool {
        self.keys.iter().any(|k| k.kid.as_deref() == Some(kid))
    }
}

/// An RSA `n` or `e` (RFC 7518 §6.3.1) as ring reads it: big-endian without leading zero
/// octets. Some providers' libraries write one (RFC 7518 §6.3.1.1 notes it); the integer, and
/// so the key, is the same. `None` for zero.
pub(crate) fn integer(mut octets: Vec<u8>) -> Option<Vec<u8>> {
    let zeros = octets.iter().take_while(|b| **b == 0).count();
    octets.drain(..zeros);
    (!octets.is_empty()).then_some(octets)
}

impl Jwk {
    fn from_json(value: &Value) -> Option<Self> {
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
            ("EC", Some("P-256")) => {
                let (x, y) = (bytes("x")?, bytes("y")?);
                if x.len() != 32 || y.len() != 32 {
                    return None;
                }
                PublicKey::P256 {
                    point: [&[4u8][..], &x, &y].concat(),
                }
            }
            _ => return None,
        };
        // `kid` is a string (RFC 7517 §4.5); a key whose `kid` is of another type is not used,
        // as a token naming a string `kid` could never select it.
        let kid = match member("kid") {
            None => None,
            Some(Value::String(kid)) => Some(kid.clone()),
            Some(_) => return None,
        };
        let jwk = Self { kid, alg, key };
        // An `alg` the key cannot be used with (`ES384` on a P-256 key, `RS512`...): no token
        // can name it, so the key is not a usable one.
        jwk.alg
            .as_deref()
            .is_none_or(|alg| jwk.allows(alg))
            .then_some(jwk)
    }

    /// Whether this key may verify `alg`.
    pub(crate) fn allows(&self, alg: &str) -> bool {
        let family = match self.key {
            PublicKey::Rsa { .. } => matches!(alg, "RS256" | "PS256"),
            PublicKey::P256 { .. } => alg == "ES256",
        };
        family && self.alg.as_deref().is_none_or(|a| a == alg)
    }

    pub(crate) fn verify(&self, alg: &str, input: &[u8], signature: &[u8]) -> bool {
        match (&self.key, alg) {
            (PublicKey::Rsa { n, e }, "RS256") => RsaPublicKeyComponents { n, e }
                .verify(&RSA_PKCS1_2048_8192_SHA256, input, signature)
                .is_ok(),
            (PublicKey::Rsa { n, e }, "PS256") => RsaPublicKeyComponents { n, e }
                .verify(&RSA_PSS_2048_8192_SHA256, input, signature)
                .is_ok(),
            (PublicKey::P256 { point }, "ES256") => {
                UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, point)
                    .verify(input, signature)
                    .is_ok()
            }
            _ => false,
        }
    }
}
