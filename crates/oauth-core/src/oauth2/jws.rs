//! Signing the JWTs a client makes (RFC 7515 compact serialization): `private_key_jwt`
//! assertions ([`client_assertion`](super::client_assertion)) and DPoP proofs
//! ([`dpop`](super::dpop)), and the key types both can use: P-256 ([`EcP256PrivateKey`], ES256)
//! and Ed25519 ([`Ed25519PrivateKey`], EdDSA).

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use ring::signature::{ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair};
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
    ///
    /// # Errors
    ///
    /// Fails with [`EcKeyError::NotPkcs8Pem`] when `pem` is not a PEM `PRIVATE KEY` document, and
    /// [`EcKeyError::NotP256`] when the document is not a valid P-256 key.
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
    /// # Errors
    ///
    /// Fails with [`EcKeyError::Generation`] when the system's random source fails.
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

/// An Ed25519 private key for EdDSA signatures (RFC 8037 §3.1, RFC 8032), read from a PKCS#8
/// document (`BEGIN PRIVATE KEY`, as `openssl genpkey -algorithm ed25519` writes it; v1 or
/// v2, RFC 5958, whose public key must then match). Its `Debug` is redacted; the DER read from
/// a PEM document is zeroized once parsed. Deterministic signatures, 64 bytes, and the fastest
/// of the key types here.
#[derive(Clone)]
pub struct Ed25519PrivateKey {
    pair: Arc<Ed25519KeyPair>,
}

impl fmt::Debug for Ed25519PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Ed25519PrivateKey([redacted])")
    }
}

/// An Ed25519 key could not be read. Holds no key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Ed25519KeyError {
    /// Not a PEM document, or not a `PRIVATE KEY` (PKCS#8) one.
    #[error("not a PKCS#8 PEM private key (BEGIN PRIVATE KEY)")]
    NotPkcs8Pem,
    /// A PKCS#8 document, but not a valid Ed25519 key (another key type, or a public key
    /// that does not match the private one).
    #[error("not a valid Ed25519 private key (PKCS#8)")]
    NotEd25519,
    /// The system's random number generator failed while generating a key.
    #[error("could not generate an Ed25519 key")]
    Generation,
}

impl Ed25519PrivateKey {
    /// Reads a PKCS#8 PEM document holding an Ed25519 key.
    ///
    /// # Errors
    ///
    /// Fails with [`Ed25519KeyError::NotPkcs8Pem`] for text that is not a PKCS#8 PEM document, and
    /// [`Ed25519KeyError::NotEd25519`] for a key of another type.
    ///
    /// ```
    /// use oauth_core::oauth2::{Ed25519KeyError, Ed25519PrivateKey};
    ///
    /// # let pem = include_str!("../../tests/vectors/oauth1/test_ed25519_pkcs8.pem");
    /// let key = Ed25519PrivateKey::from_pem(pem)?;
    /// assert_eq!(key.public_key().len(), 32);
    /// assert_eq!(format!("{key:?}"), "Ed25519PrivateKey([redacted])");
    /// # let p256 = include_str!("../../tests/vectors/oauth1/test_ec_p256_pkcs8.pem");
    /// assert_eq!(Ed25519PrivateKey::from_pem(p256).err(), Some(Ed25519KeyError::NotEd25519));
    /// # Ok::<(), Ed25519KeyError>(())
    /// ```
    pub fn from_pem(pem: &str) -> Result<Self, Ed25519KeyError> {
        let (label, der) = pem_rfc7468::decode_vec(pem.trim().as_bytes())
            .map_err(|_| Ed25519KeyError::NotPkcs8Pem)?;
        let der = Zeroizing::new(der);
        if label != "PRIVATE KEY" {
            return Err(Ed25519KeyError::NotPkcs8Pem);
        }
        Self::from_pkcs8_der(&der)
    }

    /// Reads a PKCS#8 DER document holding an Ed25519 key (the bytes stay the caller's: zeroize
    /// them once read).
    ///
    /// # Errors
    ///
    /// Fails with [`Ed25519KeyError::NotEd25519`] when `der` is not a PKCS#8 Ed25519 key (another
    /// key type, malformed DER, or a public key that does not match the private one).
    pub fn from_pkcs8_der(der: &[u8]) -> Result<Self, Ed25519KeyError> {
        // v1 documents (OpenSSL's) hold no public key; a v2 one's must match the private key.
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(der)
            .map_err(|_| Ed25519KeyError::NotEd25519)?;
        Ok(Self {
            pair: Arc::new(pair),
        })
    }

    /// Generates a new Ed25519 key from the system's CSPRNG, as a PKCS#8 (v2) PEM document:
    /// store it as a secret, and read it with [`from_pem`](Self::from_pem). The string is
    /// zeroized when dropped.
    ///
    /// # Errors
    ///
    /// Fails with [`Ed25519KeyError::Generation`] when the system's random source fails.
    ///
    /// ```
    /// use oauth_core::oauth2::{DpopKey, Ed25519PrivateKey};
    ///
    /// let pem = Ed25519PrivateKey::generate_pkcs8_pem()?;
    /// assert!(pem.starts_with("-----BEGIN PRIVATE KEY-----"));
    /// let key = DpopKey::ed25519(Ed25519PrivateKey::from_pem(&pem)?);
    /// assert_eq!(key.algorithm(), "EdDSA");
    /// # Ok::<(), oauth_core::oauth2::Ed25519KeyError>(())
    /// ```
    pub fn generate_pkcs8_pem() -> Result<Zeroizing<String>, Ed25519KeyError> {
        let rng = ring::rand::SystemRandom::new();
        let document =
            Ed25519KeyPair::generate_pkcs8(&rng).map_err(|_| Ed25519KeyError::Generation)?;
        pem_rfc7468::encode_string(
            "PRIVATE KEY",
            pem_rfc7468::LineEnding::LF,
            document.as_ref(),
        )
        .map(Zeroizing::new)
        .map_err(|_| Ed25519KeyError::Generation)
    }

    /// The public key (32 bytes, RFC 8032 §5.1.5): a JWK's `x` (RFC 8037 §2).
    pub fn public_key(&self) -> &[u8] {
        self.pair.public_key().as_ref()
    }

    /// The JWS signature (64 bytes, RFC 8037 §3.1).
    pub(crate) fn sign(&self, input: &[u8]) -> Vec<u8> {
        self.pair.sign(input).as_ref().to_vec()
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
pub(crate) mod tests {
    use ring::signature::{ECDSA_P256_SHA256_FIXED, UnparsedPublicKey};

    use super::*;

    const PEM: &str = include_str!("../../tests/vectors/oauth1/test_ec_p256_pkcs8.pem");
    const ED25519_PEM: &str = include_str!("../../tests/vectors/oauth1/test_ed25519_pkcs8.pem");

    /// RFC 8037 Appendix A.1's private key (`d`) as a PKCS#8 v1 document: the RFC 8410 §7
    /// prefix, then the 32-byte seed.
    pub(crate) fn rfc8037_key() -> Ed25519PrivateKey {
        let seed = URL_SAFE_NO_PAD
            .decode("nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A")
            .unwrap();
        let prefix = [
            0x30, 0x2e, 0x02, 0x01, 0x00, 0x30, 0x05, 0x06, 0x03, 0x2b, 0x65, 0x70, 0x04, 0x22,
            0x04, 0x20,
        ];
        Ed25519PrivateKey::from_pkcs8_der(&[&prefix[..], &seed].concat()).unwrap()
    }

    /// RFC 8037 Appendix A.2 and A.4: the key of A.1 has the public key of A.2 and signs
    /// A.4's input into A.4's signature (Ed25519 is deterministic: a signing vector).
    #[test]
    fn rfc8037_key_signs_the_appendix_a4_example() {
        let key = rfc8037_key();
        assert_eq!(
            URL_SAFE_NO_PAD.encode(key.public_key()),
            "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
        );
        let signature = key.sign(b"eyJhbGciOiJFZERTQSJ9.RXhhbXBsZSBvZiBFZDI1NTE5IHNpZ25pbmc");
        assert_eq!(
            URL_SAFE_NO_PAD.encode(signature),
            "hgyY0il_MGCjP0JzlnLWG1PPOt7-09PGcvMg3AIbQR6dWbhijcNR4ki4iylGjg5BhVsPt9g7sVvpAr_MuM0KAg"
        );
    }

    /// An Ed25519 key reads from OpenSSL's PKCS#8 v1 PEM (CRLF or padded too) and from a
    /// generated v2 one (a new key at each call); a P-256 key, an RSA key, a public key, a PKCS#8 v2 document whose
    /// public key is another key's, garbage: typed errors that print no key material.
    #[test]
    fn ed25519_keys_read_from_pkcs8_and_bad_ones_are_typed_errors() {
        let key = Ed25519PrivateKey::from_pem(ED25519_PEM).unwrap();
        assert_eq!(key.public_key().len(), 32);
        let crlf = ED25519_PEM.trim_end().replace('\n', "\r\n");
        let padded = format!("\n  {}  \n", ED25519_PEM.trim());
        for variant in [crlf.as_str(), padded.as_str()] {
            let read = Ed25519PrivateKey::from_pem(variant).unwrap();
            assert_eq!(read.public_key(), key.public_key());
        }
        let generated = Ed25519PrivateKey::generate_pkcs8_pem().unwrap();
        let other = Ed25519PrivateKey::from_pem(&generated).unwrap();
        assert_ne!(other.public_key(), key.public_key());
        // Each call makes a new key.
        let again = Ed25519PrivateKey::generate_pkcs8_pem().unwrap();
        assert_ne!(*again, *generated);
        assert_ne!(
            Ed25519PrivateKey::from_pem(&again).unwrap().public_key(),
            other.public_key()
        );
        // A v2 document (ring's) with the public key swapped for another key's.
        let (_, mut der) = pem_rfc7468::decode_vec(generated.as_bytes()).unwrap();
        let at = der
            .windows(32)
            .position(|w| w == other.public_key())
            .unwrap();
        der[at..at + 32].copy_from_slice(key.public_key());
        assert_eq!(
            Ed25519PrivateKey::from_pkcs8_der(&der).err(),
            Some(Ed25519KeyError::NotEd25519)
        );
        let rsa = include_str!("../../tests/vectors/oauth1/test_rsa_2048_pkcs8.pem");
        let public = include_str!("../../tests/vectors/oauth1/test_ed25519_public.pem");
        for (pem, error) in [
            (PEM, Ed25519KeyError::NotEd25519),
            (rsa, Ed25519KeyError::NotEd25519),
            (public, Ed25519KeyError::NotPkcs8Pem),
            ("not a key", Ed25519KeyError::NotPkcs8Pem),
            ("", Ed25519KeyError::NotPkcs8Pem),
        ] {
            let err = Ed25519PrivateKey::from_pem(pem).err().unwrap();
            assert_eq!(err, error);
            let text = format!("{err} {err:?}");
            // No line of any PEM body (the label in the message is no key material).
            let bodies = [PEM, rsa, public, ED25519_PEM];
            let mut lines = bodies.iter().flat_map(|pem| pem.lines());
            assert!(
                lines.all(|line| line.starts_with("-----") || !text.contains(line)),
                "{text}"
            );
        }
        // And the other way: an Ed25519 key is no P-256 key.
        assert_eq!(
            EcP256PrivateKey::from_pem(ED25519_PEM).err(),
            Some(EcKeyError::NotP256)
        );
    }

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
