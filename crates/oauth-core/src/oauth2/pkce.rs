//! PKCE (RFC 7636): code verifiers and challenges.
//!
//! ```
//! use oauth_core::oauth2::pkce::{code_challenge, verifier_from_string, PkceMethod};
//!
//! // RFC 7636 Appendix B
//! let verifier = verifier_from_string("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk").unwrap();
//! assert_eq!(code_challenge(&verifier, PkceMethod::S256), "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM");
//! ```

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use sha2::{Digest, Sha256};

use crate::clock::{RandomError, RandomSource, random_urlsafe};
use crate::secret::PkceCodeVerifier;

/// A `code_challenge_method` (RFC 7636 §4.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
pub enum PkceMethod {
    /// `S256`: `BASE64URL(SHA256(ASCII(code_verifier)))`. The default, and the only method a
    /// client able to compute SHA-256 may use (RFC 7636 §4.2, RFC 9700 §2.1.1).
    S256,
    /// `plain`: the challenge is the verifier. Only when explicitly configured.
    #[serde(rename = "plain")]
    Plain,
}

impl PkceMethod {
    /// The wire value.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::S256 => "S256",
            Self::Plain => "plain",
        }
    }
}

/// A code verifier that is not 43–128 characters of `[A-Za-z0-9-._~]` (RFC 7636 §4.1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("a PKCE code verifier must be 43 to 128 characters of [A-Za-z0-9-._~]")]
#[non_exhaustive]
pub struct InvalidPkceVerifier;

/// Bytes of randomness in a generated verifier: 32 octets, 256 bits, 43 characters
/// (RFC 7636 §4.1 and §7.1).
pub const VERIFIER_BYTES: usize = 32;

/// A fresh verifier from `random`.
///
/// # Errors
///
/// Fails with [`RandomError`] when `random` fails to produce bytes.
pub fn new_verifier(random: &dyn RandomSource) -> Result<PkceCodeVerifier, RandomError> {
    random_urlsafe(random, VERIFIER_BYTES).map(PkceCodeVerifier::new)
}

/// Checks a caller-supplied verifier against RFC 7636 §4.1.
///
/// # Errors
///
/// Fails with [`InvalidPkceVerifier`] unless `verifier` is 43 to 128 characters of
/// `[A-Za-z0-9-._~]`.
pub fn verifier_from_string(verifier: &str) -> Result<PkceCodeVerifier, InvalidPkceVerifier> {
    if is_valid_verifier(verifier) {
        Ok(PkceCodeVerifier::new(verifier))
    } else {
        Err(InvalidPkceVerifier)
    }
}

/// Whether `verifier` is 43 to 128 characters of `[A-Za-z0-9-._~]` (RFC 7636 §4.1).
pub(crate) fn is_valid_verifier(verifier: &str) -> bool {
    (43..=128).contains(&verifier.len())
        && verifier
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~".contains(&b))
}

/// The `code_challenge` for `verifier` (RFC 7636 §4.2).
pub fn code_challenge(verifier: &PkceCodeVerifier, method: PkceMethod) -> String {
    match method {
        PkceMethod::S256 => URL_SAFE_NO_PAD.encode(Sha256::digest(verifier.secret().as_bytes())),
        PkceMethod::Plain => verifier.secret().to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::CountingRandom;

    #[test]
    fn rfc7636_appendix_b() {
        let v = verifier_from_string("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk").unwrap();
        assert_eq!(
            code_challenge(&v, PkceMethod::S256),
            "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
        );
        assert_eq!(
            code_challenge(&v, PkceMethod::Plain),
            "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
        );
    }

    #[test]
    fn verifier_length_and_alphabet() {
        assert!(verifier_from_string(&"a".repeat(42)).is_err());
        assert!(verifier_from_string(&"a".repeat(43)).is_ok());
        assert!(verifier_from_string(&"a".repeat(128)).is_ok());
        assert!(verifier_from_string(&"a".repeat(129)).is_err());
        assert!(verifier_from_string(&format!("{}+", "a".repeat(43))).is_err());
        let v = new_verifier(&CountingRandom::new(1)).unwrap();
        assert_eq!(v.secret().len(), 43);
        assert!(verifier_from_string(v.secret()).is_ok());
    }
}
