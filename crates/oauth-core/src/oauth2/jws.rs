//! Signing the JWTs a client makes (RFC 7515 compact serialization): `private_key_jwt`
//! assertions ([`client_assertion`](super::client_assertion)) and DPoP proofs
//! ([`dpop`](super::dpop)), and the P-256 key type both can use.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, KeyPair};
use zeroize::Zeroizing;

use super::client_assertion::AssertionError;
use crate::clock::{Clock, RandomSource, unix_seconds};

/// A P-256 private key for ES256 assertions (ECDSA with SHA-256, RFC 7518 §3.4), read from a
/// PKCS#8 PEM document (`BEGIN PRIVATE KEY`). Its `Debug` is redacted; the DER is zeroized
/// once parsed.
#[derive(Clone)]
pub struct EcP256PrivateKey {
    pair: Arc<EcdsaKeyPair>,
    rng: ring::rand::SystemRandom,
}

impl fmt::Debug for EcP256PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("EcP256PrivateKey([redacted])")
    }
}

/// A P-256 key could not be read. Holds no key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EcKeyError {
    /// Not a PEM document, or not a `PRIVATE KEY` (PKCS#8) one.
    #[error("not a PKCS#8 PEM private key (BEGIN PRIVATE KEY)")]
    NotPkcs8Pem,
    /// A PKCS#8 document, but not a valid P-256 key.
    #[error("not a valid P-256 (prime256v1) private key")]
    NotP256,
    /// The system's random number generator failed while generating a key.
    #[error("could not generate a P-256 key")]
    Generation,
}

impl EcP256PrivateKey {
    /// Reads a PKCS#8 PEM document holding a P-256 key.
    pub fn from_pem(pem: &str) -> Result<Self, EcKeyError> {
        let (label, der) =
            pem_rfc7468::decode_vec(pem.trim().as_bytes()).map_err(|_| EcKeyError::NotPkcs8Pem)?;
        let der = Zeroizing::new(der);
        if label != "PRIVATE KEY" {
            return Err(EcKeyError::NotPkcs8Pem);
        }
        let rng = ring::rand::SystemRandom::new();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &der, &rng)
            .map_err(|_| EcKeyError::NotP256)?;
        Ok(Self {
            pair: Arc::new(pair),
            rng,
        })
    }

    /// Generates a new P-256 key from the system's CSPRNG, as a PKCS#8 PEM document: store it
    /// (it is a secret: a file readable by its owner only, say, next to the token store; a
    /// DPoP-bound refresh token is usable only with its key) and read it with
    /// [`from_pem`](Self::from_pem). The string is zeroized when dropped.
    ///
    /// ```
    /// use oauth_core::oauth2::{DpopKey, EcP256PrivateKey};
    ///
    /// let pem = EcP256PrivateKey::generate_pkcs8_pem()?;
    /// assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    /// let key = DpopKey::es256(EcP256PrivateKey::from_pem(&pem)?);
    /// assert_eq!(key.thumbprint().len(), 43);
    /// # Ok::<(), oauth_core::oauth2::EcKeyError>(())
    /// ```
    pub fn generate_pkcs8_pem() -> Result<Zeroizing<String>, EcKeyError> {
        let rng = ring::rand::SystemRandom::new();
        let document = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng)
            .map_err(|_| EcKeyError::Generation)?;
        pem_rfc7468::encode_string(
            "PRIVATE KEY",
            pem_rfc7468::LineEnding::LF,
            document.as_ref(),
        )
        .map(Zeroizing::new)
        .map_err(|_| EcKeyError::Generation)
    }

    /// The public key, as the uncompressed point (`04 || x || y`, 65 bytes).
    pub fn public_key(&self) -> &[u8] {
        self.pair.public_key().as_ref()
    }

    /// The JWS signature (`r || s`, 64 bytes, RFC 7518 §3.4).
    pub(crate) fn sign(&self, input: &[u8]) -> Result<Vec<u8>, AssertionError> {
        self.pair
            .sign(&self.rng, input)
            .map(|signature| signature.as_ref().to_vec())
            .map_err(|_| AssertionError::Signature)
    }
}

/// `iat` (now, in Unix seconds) and a fresh `jti` (128 random bits, base64url) for a JWT.
pub(crate) fn issued_now(
    clock: &dyn Clock,
    random: &dyn RandomSource,
) -> Result<(u64, String), AssertionError> {
    let now = unix_seconds(clock.now()).map_err(|_| AssertionError::ClockBeforeEpoch)?;
    let mut jti = [0u8; 16];
    random.fill(&mut jti).map_err(|_| AssertionError::Random)?;
    Ok((now, URL_SAFE_NO_PAD.encode(jti)))
}

/// `base64url(header) "." base64url(claims) "." base64url(sign(those two))`.
pub(crate) fn compact(
    header: &serde_json::Value,
    claims: &serde_json::Value,
    sign: impl FnOnce(&[u8]) -> Result<Vec<u8>, AssertionError>,
) -> Result<Zeroizing<String>, AssertionError> {
    let mut jws = Zeroizing::new(String::with_capacity(1024));
    URL_SAFE_NO_PAD.encode_string(header.to_string(), &mut jws);
    jws.push('.');
    URL_SAFE_NO_PAD.encode_string(claims.to_string(), &mut jws);
    let signature = sign(jws.as_bytes())?;
    jws.push('.');
    URL_SAFE_NO_PAD.encode_string(signature, &mut jws);
    Ok(jws)
}

/// The JSON of part `i` (0 header, 1 claims) of a compact JWS.
#[cfg(test)]
pub(crate) fn part(jws: &str, i: usize) -> serde_json::Value {
    let segment = jws.split('.').nth(i).unwrap_or_default();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).unwrap_or_default()).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use ring::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};

    use super::*;

    const PEM: &str = include_str!("../../tests/vectors/oauth1/test_ec_p256_pkcs8.pem");

    /// SECURITY.md §4.9 #83: a key pasted with CRLF line endings or with blank lines and spaces
    /// around it is the same key.
    #[test]
    fn a_p256_pem_with_crlf_or_surrounding_whitespace_is_the_same_key() {
        let key = EcP256PrivateKey::from_pem(PEM).unwrap();
        let crlf = PEM.trim_end().replace('\n', "\r\n");
        let padded = format!("\n\n  {}  \n\t\n", PEM.trim());
        for variant in [crlf.as_str(), padded.as_str(), PEM.trim()] {
            let read = EcP256PrivateKey::from_pem(variant).unwrap();
            assert_eq!(read.public_key(), key.public_key());
        }
    }

    /// A generated key is a PKCS#8 `PRIVATE KEY` PEM document that reads back as a P-256 key
    /// whose ES256 signatures (64 bytes `r || s`, RFC 7518 §3.4) verify with its public key;
    /// each call makes a new key.
    #[test]
    fn a_generated_key_is_a_usable_pkcs8_p256_key_and_new_each_time() {
        let pem = EcP256PrivateKey::generate_pkcs8_pem().unwrap();
        assert!(
            pem.starts_with("-----BEGIN PRIVATE KEY-----\n"),
            // The first line only: the rest is the key.
            "{:?}",
            pem.lines().next()
        );
        assert!(pem.trim_end().ends_with("-----END PRIVATE KEY-----"));
        let key = EcP256PrivateKey::from_pem(&pem).unwrap();
        assert_eq!(key.public_key().len(), 65);
        assert_eq!(key.public_key()[0], 0x04, "an uncompressed point");
        let signature = key.sign(b"eyJhbGciOiJFUzI1NiJ9.e30").unwrap();
        assert_eq!(signature.len(), 64);
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, key.public_key())
            .verify(b"eyJhbGciOiJFUzI1NiJ9.e30", &signature)
            .unwrap();
        let other = EcP256PrivateKey::generate_pkcs8_pem().unwrap();
        assert_ne!(*other, *pem);
        assert_ne!(
            EcP256PrivateKey::from_pem(&other).unwrap().public_key(),
            key.public_key()
        );
    }
}
