//! Signature method names (RFC 5849 §3.4) and the trait for custom methods.

use std::fmt;

use super::error::CustomMethodError;
use crate::secret::{ConsumerSecret, TokenSecret};

/// A signature method (RFC 5849 §3.4), by its `oauth_signature_method` name.
///
/// HMAC-SHA1 (§3.4.2), RSA-SHA1 (§3.4.3) and PLAINTEXT (§3.4.4) are the RFC's. The SHA-256 and
/// SHA-512 variants are not in the RFC but widely deployed (oauthlib has them); prefer them where
/// the provider accepts them (RFC 5849 §4.11 on SHA-1).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum SignatureMethod {
    /// `HMAC-SHA1` (RFC 5849 §3.4.2).
    HmacSha1,
    /// `HMAC-SHA256`.
    HmacSha256,
    /// `HMAC-SHA512`.
    HmacSha512,
    /// `RSA-SHA1`: RSASSA-PKCS1-v1_5 with SHA-1 (RFC 5849 §3.4.3).
    RsaSha1,
    /// `RSA-SHA256`: RSASSA-PKCS1-v1_5 with SHA-256.
    RsaSha256,
    /// `RSA-SHA512`: RSASSA-PKCS1-v1_5 with SHA-512.
    RsaSha512,
    /// `PLAINTEXT` (RFC 5849 §3.4.4): the key itself is the signature; https only.
    Plaintext,
}

impl SignatureMethod {
    /// Every built-in method.
    pub const ALL: [SignatureMethod; 7] = [
        Self::HmacSha1,
        Self::HmacSha256,
        Self::HmacSha512,
        Self::RsaSha1,
        Self::RsaSha256,
        Self::RsaSha512,
        Self::Plaintext,
    ];

    /// The `oauth_signature_method` value.
    pub const fn name(self) -> &'static str {
        match self {
            Self::HmacSha1 => "HMAC-SHA1",
            Self::HmacSha256 => "HMAC-SHA256",
            Self::HmacSha512 => "HMAC-SHA512",
            Self::RsaSha1 => "RSA-SHA1",
            Self::RsaSha256 => "RSA-SHA256",
            Self::RsaSha512 => "RSA-SHA512",
            Self::Plaintext => "PLAINTEXT",
        }
    }

    /// The method with this `oauth_signature_method` value (exact, case-sensitive match).
    #[must_use]
    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|m| m.name() == name)
    }

    /// Whether this is one of the RSA methods (which need an RSA key instead of the secrets).
    pub const fn is_rsa(self) -> bool {
        matches!(self, Self::RsaSha1 | Self::RsaSha256 | Self::RsaSha512)
    }
}

impl fmt::Display for SignatureMethod {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// The shared secrets a signature is keyed with (RFC 5849 §3.4.2, §3.4.4).
#[derive(Clone, Copy)]
pub struct SigningSecrets<'a> {
    /// The client (consumer) shared-secret.
    pub consumer_secret: &'a ConsumerSecret,
    /// The token shared-secret; `None` for a temporary-credential request.
    pub token_secret: Option<&'a TokenSecret>,
}

impl fmt::Debug for SigningSecrets<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SigningSecrets([redacted])")
    }
}

/// Whether `name` can be sent as `oauth_signature_method`: a non-empty RFC 7230 `token`, as
/// every method name in use is (`HMAC-SHA1`, `RSA-SHA256`, `PLAINTEXT`).
pub(crate) fn is_valid_method_name(name: &str) -> bool {
    !name.is_empty() && name.bytes().all(crate::auth_syntax::is_tchar)
}

/// A signature method this crate does not implement, plugged into a
/// [`Signer`](super::Signer) or a verification.
///
/// The implementation receives the signature base string (RFC 5849 §3.4.1) and appends the
/// `oauth_signature` value, before percent-encoding, to `out`. Verification recomputes the
/// signature and compares it in constant time, so the method must be deterministic.
///
/// An empty signature is an error, when signing ([`SignError::Custom`](super::SignError::Custom))
/// and when verifying ([`VerifyError::Internal`](super::VerifyError::Internal)). A method named
/// `PLAINTEXT` (in any case) is held to PLAINTEXT's transport rule: `https` only, unless the
/// signer or the verifier allows plain `http` explicitly (RFC 5849 §3.4.4).
pub trait CustomSignatureMethod: Send + Sync + fmt::Debug {
    /// The `oauth_signature_method` value: a non-empty RFC 7230 token (letters, digits and
    /// ``!#$%&'*+-.^_`|~``), checked when the [`Signer`](super::Signer) is built
    /// ([`ConfigError::InvalidCustomMethodName`](super::ConfigError::InvalidCustomMethodName)).
    /// It must not change afterwards.
    fn name(&self) -> &str;

    /// Appends the signature of `base_string` to `out`.
    ///
    /// # Errors
    ///
    /// Returns a [`CustomMethodError`] (a fixed message, never a secret) when the method cannot
    /// sign; the signer reports it as [`SignError::Custom`](super::SignError::Custom) and a
    /// verification as [`VerifyError::Internal`](super::VerifyError::Internal).
    fn sign(
        &self,
        secrets: SigningSecrets<'_>,
        base_string: &str,
        out: &mut String,
    ) -> Result<(), CustomMethodError>;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for m in SignatureMethod::ALL {
            assert_eq!(SignatureMethod::from_name(m.name()), Some(m));
            assert_eq!(m.to_string(), m.name());
        }
        assert_eq!(SignatureMethod::from_name("hmac-sha1"), None);
        assert_eq!(SignatureMethod::from_name("HMAC-MD5"), None);
        assert!(SignatureMethod::RsaSha256.is_rsa());
        assert!(!SignatureMethod::Plaintext.is_rsa());
    }
}
