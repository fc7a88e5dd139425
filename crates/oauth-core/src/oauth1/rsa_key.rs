//! RSA keys for the RSA-SHA1/256/512 signature methods (RFC 5849 §3.4.3).

use std::fmt;
use std::sync::Arc;

use rsa::pkcs1::{DecodeRsaPrivateKey, DecodeRsaPublicKey};
use rsa::pkcs8::{DecodePrivateKey, DecodePublicKey};
use rsa::traits::PublicKeyParts;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use super::error::{KeyError, SignError};
use super::method::SignatureMethod;

/// The smallest RSA modulus accepted by default, in bits.
pub const DEFAULT_MIN_RSA_BITS: usize = 2048;

/// An RSA private key for signing (RFC 5849 §3.4.3), from a PKCS#1 (`BEGIN RSA PRIVATE KEY`) or
/// PKCS#8 (`BEGIN PRIVATE KEY`) PEM document.
///
/// The key material is zeroized when the last clone is dropped (the `rsa` crate's key zeroizes
/// itself), `Debug` prints only the modulus size, and there is no `Display`. Clones share one key.
#[derive(Clone)]
pub struct RsaPrivateKey {
    key: Arc<rsa::PrivateKey>,
}

impl RsaPrivateKey {
    /// Loads a private key from PEM, refusing moduli under [`DEFAULT_MIN_RSA_BITS`].
    ///
    /// CRLF line endings, surrounding whitespace and base64 lines of any width (one line, say)
    /// are tolerated. When the document holds several PEM blocks, the first private-key block
    /// is used.
    ///
    /// # Errors
    ///
    /// Fails as [`from_pem_with_min_bits`](Self::from_pem_with_min_bits) does with
    /// [`DEFAULT_MIN_RSA_BITS`]: [`KeyError::Parse`], [`KeyError::Encrypted`],
    /// [`KeyError::WrongKeyType`], [`KeyError::PssOnly`] or [`KeyError::TooSmall`].
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        Self::from_pem_with_min_bits(pem, DEFAULT_MIN_RSA_BITS)
    }

    /// Loads a private key from PEM, refusing moduli under `min_bits` bits.
    ///
    /// Lower the minimum only for published test vectors (which use 1024-bit keys) or a provider
    /// that still issues small keys.
    ///
    /// # Errors
    ///
    /// Fails with [`KeyError::Parse`] for no PEM block or a malformed one,
    /// [`KeyError::Encrypted`] for an encrypted key, [`KeyError::WrongKeyType`] for a public or
    /// non-RSA key, [`KeyError::PssOnly`] for an RSASSA-PSS key, and [`KeyError::TooSmall`] for a
    /// modulus under `min_bits`.
    pub fn from_pem_with_min_bits(pem: &str, min_bits: usize) -> Result<Self, KeyError> {
        let normalised = normalise_pem(pem);
        let blocks = pem_blocks(&normalised);
        let (label, block) = blocks
            .iter()
            .find(|(label, _)| is_private_label(label))
            .or_else(|| blocks.first())
            .ok_or(KeyError::Parse)?;
        let block = &*rewrap(label, block);
        let key = match *label {
            "RSA PRIVATE KEY" => {
                if block.contains("Proc-Type:") || block.contains("DEK-Info:") {
                    return Err(KeyError::Encrypted);
                }
                rsa::PrivateKey::from_pkcs1_pem(block).map_err(|_| KeyError::Parse)?
            }
            "PRIVATE KEY" => {
                refuse_pss_only(block, true)?;
                rsa::PrivateKey::from_pkcs8_pem(block).map_err(pkcs8_error)?
            }
            "ENCRYPTED PRIVATE KEY" => return Err(KeyError::Encrypted),
            label if is_private_label(label) || is_public_label(label) => {
                return Err(KeyError::WrongKeyType {
                    expected: "private",
                });
            }
            _ => return Err(KeyError::Parse),
        };
        check_size(modulus_bits(&key), min_bits)?;
        Ok(Self { key: Arc::new(key) })
    }

    /// The size of the modulus in bits.
    pub fn bits(&self) -> usize {
        modulus_bits(&*self.key)
    }

    /// The matching public key, for verification.
    pub fn public_key(&self) -> RsaPublicKey {
        RsaPublicKey {
            key: Arc::new(self.key.to_public_key()),
        }
    }

    /// Signs a ready-made signature base string (RFC 5849 §3.4.3) with `method` (RSA-SHA1,
    /// RSA-SHA256 or RSA-SHA512; any other method is treated as RSA-SHA1) and returns the base64
    /// `oauth_signature` value.
    ///
    /// # Errors
    ///
    /// Fails with [`SignError::Rsa`] when the RSA signing operation fails.
    pub fn sign_base_string(
        &self,
        method: SignatureMethod,
        base_string: &str,
    ) -> Result<String, SignError> {
        use sha2::Digest as _;
        let bytes = base_string.as_bytes();
        let signature = match method {
            SignatureMethod::RsaSha256 => self.sign_prehash(method, &sha2::Sha256::digest(bytes)),
            SignatureMethod::RsaSha512 => self.sign_prehash(method, &sha2::Sha512::digest(bytes)),
            _ => self.sign_prehash(SignatureMethod::RsaSha1, &sha1::Sha1::digest(bytes)),
        }
        .map_err(|_| SignError::Rsa)?;
        Ok(STANDARD.encode(signature))
    }

    /// Signs a message digest computed with the hash of `method` (PKCS#1 v1.5).
    pub(crate) fn sign_prehash(
        &self,
        method: SignatureMethod,
        digest: &[u8],
    ) -> Result<Vec<u8>, rsa::Error> {
        match method {
            SignatureMethod::RsaSha256 => self.key.pkcs1v15_sign_prehash::<sha2::Sha256>(digest),
            SignatureMethod::RsaSha512 => self.key.pkcs1v15_sign_prehash::<sha2::Sha512>(digest),
            _ => self.key.pkcs1v15_sign_prehash::<sha1::Sha1>(digest),
        }
    }

    /// Signs a SHA-256 digest with RSASSA-PSS: MGF1 with SHA-256 and a 32-byte salt, as JWS
    /// `PS256` requires (RFC 7518 §3.5); the salt and the blinding come from the operating
    /// system's generator.
    pub(crate) fn sign_pss_sha256_prehash(&self, digest: &[u8]) -> Result<Vec<u8>, rsa::Error> {
        self.key.pss_sign_prehash::<sha2::Sha256>(digest)
    }

    /// The public modulus and exponent, big-endian (for tests that verify with ring).
    #[cfg(test)]
    pub(crate) fn public_components(&self) -> (Box<[u8]>, Box<[u8]>) {
        (self.key.n_bytes(), self.key.e_bytes())
    }
}

impl fmt::Debug for RsaPrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RsaPrivateKey({} bits, [redacted])", self.bits())
    }
}

/// An RSA public key for verifying RSA-SHA1/256/512 signatures (RFC 5849 §3.4.3), from an SPKI
/// (`BEGIN PUBLIC KEY`) or PKCS#1 (`BEGIN RSA PUBLIC KEY`) PEM document.
#[derive(Clone)]
pub struct RsaPublicKey {
    key: Arc<rsa::PublicKey>,
}

impl RsaPublicKey {
    /// Loads a public key from PEM, refusing moduli under [`DEFAULT_MIN_RSA_BITS`].
    ///
    /// An SPKI key whose algorithm is id-RSASSA-PSS is refused with [`KeyError::PssOnly`]
    /// (RFC 4055 §1.2: it checks PSS signatures only, and RSA-SHA* signatures are PKCS#1 v1.5).
    /// CRLF line endings, surrounding whitespace and base64 lines of any width are tolerated.
    /// When the document holds several PEM blocks, the first public-key block is used
    /// (certificates are skipped).
    ///
    /// # Errors
    ///
    /// Fails as [`from_pem_with_min_bits`](Self::from_pem_with_min_bits) does with
    /// [`DEFAULT_MIN_RSA_BITS`]: [`KeyError::Parse`], [`KeyError::WrongKeyType`],
    /// [`KeyError::PssOnly`] or [`KeyError::TooSmall`].
    pub fn from_pem(pem: &str) -> Result<Self, KeyError> {
        Self::from_pem_with_min_bits(pem, DEFAULT_MIN_RSA_BITS)
    }

    /// Loads a public key from PEM, refusing moduli under `min_bits` bits.
    ///
    /// # Errors
    ///
    /// Fails with [`KeyError::Parse`] for no PEM block or a malformed one,
    /// [`KeyError::WrongKeyType`] for a private or non-RSA key, [`KeyError::PssOnly`] for an
    /// RSASSA-PSS key, and [`KeyError::TooSmall`] for a modulus under `min_bits`.
    pub fn from_pem_with_min_bits(pem: &str, min_bits: usize) -> Result<Self, KeyError> {
        let normalised = normalise_pem(pem);
        let blocks = pem_blocks(&normalised);
        // A public-key block wherever it is (a certificate may come first in a bundle), else
        // the first block that is public-ish, else the first block, for the error.
        let (label, block) = blocks
            .iter()
            .find(|(label, _)| matches!(*label, "PUBLIC KEY" | "RSA PUBLIC KEY"))
            .or_else(|| blocks.iter().find(|(label, _)| is_public_label(label)))
            .or_else(|| blocks.first())
            .ok_or(KeyError::Parse)?;
        let block = &*rewrap(label, block);
        let key = match *label {
            "PUBLIC KEY" => {
                refuse_pss_only(block, false)?;
                rsa::PublicKey::from_public_key_pem(block).map_err(|e| match e {
                    rsa::pkcs8::spki::Error::OidUnknown { .. } => {
                        KeyError::WrongKeyType { expected: "public" }
                    }
                    _ => KeyError::Parse,
                })?
            }
            "RSA PUBLIC KEY" => {
                rsa::PublicKey::from_pkcs1_pem(block).map_err(|_| KeyError::Parse)?
            }
            label if is_private_label(label) || label == "ENCRYPTED PRIVATE KEY" => {
                return Err(KeyError::WrongKeyType { expected: "public" });
            }
            _ => return Err(KeyError::Parse),
        };
        check_size(modulus_bits(&key), min_bits)?;
        Ok(Self { key: Arc::new(key) })
    }

    /// The size of the modulus in bits.
    pub fn bits(&self) -> usize {
        modulus_bits(&*self.key)
    }

    /// Checks a base64 `oauth_signature` over a ready-made signature base string (RFC 5849
    /// §3.4.3) with `method` (RSA-SHA1, RSA-SHA256 or RSA-SHA512; any other is RSA-SHA1).
    pub fn verify_base_string(
        &self,
        method: SignatureMethod,
        base_string: &str,
        signature: &str,
    ) -> bool {
        use sha2::Digest as _;
        let Ok(signature) = STANDARD.decode(signature) else {
            return false;
        };
        let bytes = base_string.as_bytes();
        match method {
            SignatureMethod::RsaSha256 => {
                self.verify_prehash(method, &sha2::Sha256::digest(bytes), &signature)
            }
            SignatureMethod::RsaSha512 => {
                self.verify_prehash(method, &sha2::Sha512::digest(bytes), &signature)
            }
            _ => self.verify_prehash(
                SignatureMethod::RsaSha1,
                &sha1::Sha1::digest(bytes),
                &signature,
            ),
        }
    }

    /// Checks a PKCS#1 v1.5 signature over a digest computed with the hash of `method`.
    pub(crate) fn verify_prehash(
        &self,
        method: SignatureMethod,
        digest: &[u8],
        signature: &[u8],
    ) -> bool {
        let result = match method {
            SignatureMethod::RsaSha256 => self
                .key
                .pkcs1v15_verify_prehash::<sha2::Sha256>(digest, signature),
            SignatureMethod::RsaSha512 => self
                .key
                .pkcs1v15_verify_prehash::<sha2::Sha512>(digest, signature),
            _ => self
                .key
                .pkcs1v15_verify_prehash::<sha1::Sha1>(digest, signature),
        };
        result.is_ok()
    }
}

impl fmt::Debug for RsaPublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "RsaPublicKey({} bits)", self.bits())
    }
}

/// The modulus's length in bits, exactly (`size()` is in whole bytes: a 2047-bit modulus is
/// 256 bytes).
fn modulus_bits(key: &impl PublicKeyParts) -> usize {
    key.n().bit_width() as usize
}

/// Refuses a PKCS#8 (`private`) or SPKI key whose algorithm is id-RSASSA-PSS, which `rsa`
/// loads as any RSA key (RFC 4055 §1.2: such a key makes PSS signatures only).
fn refuse_pss_only(block: &str, private: bool) -> Result<(), KeyError> {
    let Ok((_, der)) = pem_rfc7468::decode_vec(block.as_bytes()) else {
        return Ok(()); // (the key's own parser reports it)
    };
    let der = zeroize::Zeroizing::new(der);
    let oid = if private {
        rsa::pkcs8::PrivateKeyInfoRef::try_from(der.as_slice())
            .ok()
            .map(|info| info.algorithm.oid)
    } else {
        rsa::pkcs8::spki::SubjectPublicKeyInfoRef::try_from(der.as_slice())
            .ok()
            .map(|info| info.algorithm.oid)
    };
    match oid {
        Some(oid) if oid == ID_RSASSA_PSS => Err(KeyError::PssOnly),
        _ => Ok(()),
    }
}

/// id-RSASSA-PSS (RFC 4055 §3.1).
const ID_RSASSA_PSS: rsa::pkcs8::ObjectIdentifier =
    rsa::pkcs8::ObjectIdentifier::new_unwrap("1.2.840.113549.1.1.10");

fn check_size(bits: usize, min_bits: usize) -> Result<(), KeyError> {
    if bits < min_bits {
        Err(KeyError::TooSmall { bits, min_bits })
    } else {
        Ok(())
    }
}

fn pkcs8_error(e: rsa::pkcs8::Error) -> KeyError {
    match e {
        rsa::pkcs8::Error::PublicKey(rsa::pkcs8::spki::Error::OidUnknown { .. }) => {
            KeyError::WrongKeyType {
                expected: "private",
            }
        }
        _ => KeyError::Parse,
    }
}

fn is_private_label(label: &str) -> bool {
    matches!(
        label,
        "RSA PRIVATE KEY"
            | "PRIVATE KEY"
            | "ENCRYPTED PRIVATE KEY"
            | "EC PRIVATE KEY"
            | "DSA PRIVATE KEY"
            | "OPENSSH PRIVATE KEY"
    )
}

fn is_public_label(label: &str) -> bool {
    matches!(label, "PUBLIC KEY" | "RSA PUBLIC KEY" | "CERTIFICATE")
}

/// LF line endings, each line trimmed, blank lines outside blocks dropped. The result holds key
/// material, so it is zeroized on drop.
fn normalise_pem(pem: &str) -> zeroize::Zeroizing<String> {
    let mut out = zeroize::Zeroizing::new(String::with_capacity(pem.len()));
    for line in pem.lines() {
        let line = line.trim();
        if !line.is_empty() {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// `block` (a normalised block labelled `label`) with its base64 wrapped at 64 columns, as the
/// PEM parser wants it: RFC 7468 §2 binds generators to that width and lets parsers take
/// others, and keys kept in one-line settings or written by MIME encoders (76 columns) have
/// them. A block with encapsulated headers (`Proc-Type: ...`) is left as it is. Key material,
/// so zeroized on drop (and sized up front, so never reallocated).
fn rewrap(label: &str, block: &str) -> zeroize::Zeroizing<String> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let inner = block
        .strip_prefix(begin.as_str())
        .and_then(|rest| rest.strip_suffix(end.as_str()));
    let mut out =
        zeroize::Zeroizing::new(String::with_capacity(block.len() + block.len() / 64 + 4));
    match inner {
        Some(inner) if !inner.contains(':') => {
            out.push_str(&begin);
            out.push('\n');
            let mut column = 0;
            for c in inner.chars().filter(|c| !c.is_ascii_whitespace()) {
                out.push(c);
                column += 1;
                if column == 64 {
                    out.push('\n');
                    column = 0;
                }
            }
            if column > 0 {
                out.push('\n');
            }
            out.push_str(&end);
            out.push('\n');
        }
        _ => out.push_str(block),
    }
    out
}

/// The PEM blocks of a normalised document, as (label, whole block text).
fn pem_blocks(doc: &str) -> Vec<(&str, &str)> {
    let mut blocks = Vec::new();
    let mut rest = doc;
    while let Some(start) = rest.find("-----BEGIN ") {
        let from_begin = &rest[start..];
        let Some(label_end) = from_begin["-----BEGIN ".len()..].find("-----") else {
            break;
        };
        let label = &from_begin["-----BEGIN ".len().."-----BEGIN ".len() + label_end];
        let end_marker = format!("-----END {label}-----");
        let Some(end) = from_begin.find(&end_marker) else {
            break;
        };
        let block_len = end + end_marker.len();
        blocks.push((label, &from_begin[..block_len]));
        rest = &from_begin[block_len..];
    }
    blocks
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pem_block_splitting() {
        let doc = normalise_pem(
            "  \r\n-----BEGIN PUBLIC KEY-----\r\nAAAA\r\n-----END PUBLIC KEY-----\r\n\
             -----BEGIN RSA PRIVATE KEY-----\nBBBB\n-----END RSA PRIVATE KEY-----\n  ",
        );
        let blocks = pem_blocks(&doc);
        assert_eq!(blocks.len(), 2);
        assert_eq!(blocks[0].0, "PUBLIC KEY");
        assert_eq!(blocks[1].0, "RSA PRIVATE KEY");
        assert!(blocks[1].1.ends_with("-----END RSA PRIVATE KEY-----"));
        assert!(pem_blocks("-----BEGIN X-----\nAAAA\n").is_empty());
        assert!(pem_blocks("-----BEGIN X").is_empty());
    }

    /// RFC 7468 §2: generators wrap base64 at exactly 64 characters, the last line shorter,
    /// with no blank line; `rewrap` lays any width out so, whether the base64 ends on a
    /// partial line or exactly on the 64th column.
    #[test]
    fn rewrap_lays_base64_out_in_lines_of_64() {
        let begin = "-----BEGIN PUBLIC KEY-----";
        let end = "-----END PUBLIC KEY-----";
        for len in [1, 4, 63, 64, 65, 128, 130] {
            let base64: String = "ABCD".chars().cycle().take(len).collect();
            let mut want = format!("{begin}\n");
            for chunk in base64.as_bytes().chunks(64) {
                want.push_str(std::str::from_utf8(chunk).unwrap_or_default());
                want.push('\n');
            }
            want.push_str(end);
            want.push('\n');
            for input in [
                format!("{begin}{base64}{end}"),
                format!("{begin}\n{base64}\n{end}"),
                format!("{begin}\n{}\n{end}", base64.replace("AB", "AB\n ")),
            ] {
                assert_eq!(*rewrap("PUBLIC KEY", &input), want, "{len}: {input:?}");
            }
        }
    }

    /// O1-13 (RFC 5849 §4.1): RSA-SHA1 rests on the private key staying secret, so the key
    /// this type holds must wipe itself when the last clone goes. The `rsa` crate's key does
    /// (`ZeroizeOnDrop`); holding the key in any type that does not fails to compile here.
    #[test]
    fn the_private_key_is_held_in_a_type_that_zeroizes_on_drop() {
        fn zeroizes_on_drop<T: zeroize::ZeroizeOnDrop + ?Sized>(_: &T) {}
        let pem = std::fs::read_to_string(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/vectors/oauth1/wiki_rsa_1024_pkcs8.pem"
        ))
        .unwrap();
        let key = RsaPrivateKey::from_pem_with_min_bits(&pem, 1024).unwrap();
        zeroizes_on_drop(&*key.key);
        assert_eq!(key.bits(), 1024);
    }

    #[test]
    fn garbage_is_a_parse_error() {
        for bad in ["", "foobar", "-----BEGIN X-----\nAAAA\n-----END X-----"] {
            assert_eq!(
                RsaPrivateKey::from_pem(bad).unwrap_err(),
                KeyError::Parse,
                "{bad}"
            );
            assert_eq!(
                RsaPublicKey::from_pem(bad).unwrap_err(),
                KeyError::Parse,
                "{bad}"
            );
        }
        let bad_base64 = "-----BEGIN RSA PRIVATE KEY-----\n!!!\n-----END RSA PRIVATE KEY-----";
        assert_eq!(
            RsaPrivateKey::from_pem(bad_base64).unwrap_err(),
            KeyError::Parse
        );
        assert_eq!(
            RsaPublicKey::from_pem(bad_base64).unwrap_err(),
            KeyError::WrongKeyType { expected: "public" }
        );
    }
}
