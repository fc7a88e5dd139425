//! Error types of the OAuth 1.0a module.
//!
//! No error carries a secret, a signature, a PEM document or a raw request: they say what went
//! wrong and where, so that they can be logged as they are.

use crate::clock::{ClockBeforeEpoch, RandomError};
use crate::encode::DecodeError;

/// The longest parameter name an error repeats; longer names are cut (they come from the request).
const MAX_NAME_IN_ERROR: usize = 64;

/// Keeps a request-supplied parameter name short enough to log.
pub(crate) fn bounded_name(name: &str) -> String {
    match name.char_indices().nth(MAX_NAME_IN_ERROR) {
        Some((cut, _)) => format!("{}...", &name[..cut]),
        None => name.to_owned(),
    }
}

/// A request that cannot be turned into an RFC 5849 §3.4.1 signature base string.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum RequestError {
    /// The URI cannot give a base string URI (RFC 5849 §3.4.1.2).
    #[error("invalid request URI: {reason}")]
    InvalidUri {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A query or form-body component is not valid percent-encoded UTF-8.
    #[error("invalid parameter encoding: {0}")]
    InvalidEncoding(DecodeError),
    /// An `oauth_*` protocol parameter is already present in the request (RFC 5849 §3.1, §3.5).
    #[error("protocol parameter `{name}` appears more than once in the request")]
    DuplicateProtocolParameter {
        /// The parameter name (cut to 64 characters).
        name: String,
    },
}

/// Why signing a request failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignError {
    /// The URI cannot give a base string URI (RFC 5849 §3.4.1.2).
    #[error("invalid request URI: {reason}")]
    InvalidUri {
        /// What is wrong with it.
        reason: &'static str,
    },
    /// A query or form-body component is not valid percent-encoded UTF-8.
    #[error("invalid parameter encoding: {0}")]
    InvalidEncoding(DecodeError),
    /// The request already carries an `oauth_*` parameter in its query or body (RFC 5849 §3.5:
    /// protocol parameters are sent in exactly one place, and the signer adds them).
    #[error("protocol parameter `{name}` is already present in the request")]
    DuplicateProtocolParameter {
        /// The parameter name (cut to 64 characters).
        name: String,
    },
    /// PLAINTEXT over a URL that is not `https` (RFC 5849 §3.4.4), without the explicit opt-in.
    #[error("PLAINTEXT signatures are only sent over https")]
    InsecureTransport,
    /// The clock reads a time before 1970, so no `oauth_timestamp` can be formed (RFC 5849 §3.3).
    #[error("cannot form oauth_timestamp: {0}")]
    Clock(ClockBeforeEpoch),
    /// The random source failed while generating `oauth_nonce`.
    #[error("cannot generate oauth_nonce: {0}")]
    Random(RandomError),
    /// `oauth_body_hash` was asked for on a form-encoded request, or with body placement (which
    /// makes the body a form); the Body Hash extension forbids it.
    #[error("oauth_body_hash must not be sent with an application/x-www-form-urlencoded body")]
    BodyHashWithFormBody,
    /// A per-request option value cannot be sent (for example a `realm` with a `"` or a control
    /// character).
    #[error("invalid {option} value")]
    InvalidOption {
        /// Which option.
        option: &'static str,
    },
    /// The RSA private-key operation failed.
    #[error("RSA signing failed")]
    Rsa,
    /// A custom signature method failed.
    #[error("custom signature method failed: {0}")]
    Custom(CustomMethodError),
}

// The wrapped errors below are not `source()`s: the variant's message already says what they
// say, and an error-chain printer (`anyhow`'s `{:#}`) would say it twice. Match the variant to
// reach the inner error.

impl From<DecodeError> for RequestError {
    fn from(e: DecodeError) -> Self {
        Self::InvalidEncoding(e)
    }
}

impl From<ClockBeforeEpoch> for SignError {
    fn from(e: ClockBeforeEpoch) -> Self {
        Self::Clock(e)
    }
}

impl From<RandomError> for SignError {
    fn from(e: RandomError) -> Self {
        Self::Random(e)
    }
}

impl From<RequestError> for SignError {
    fn from(e: RequestError) -> Self {
        match e {
            RequestError::InvalidUri { reason } => Self::InvalidUri { reason },
            RequestError::InvalidEncoding(e) => Self::InvalidEncoding(e),
            RequestError::DuplicateProtocolParameter { name } => {
                Self::DuplicateProtocolParameter { name }
            }
        }
    }
}

/// The error a [`CustomSignatureMethod`](super::CustomSignatureMethod) returns: a fixed message,
/// so that it cannot carry key material by accident.
///
/// Made with [`CustomMethodError::new`]; the message is read back with
/// [`CustomMethodError::reason`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct CustomMethodError(&'static str);

impl CustomMethodError {
    /// An error with a fixed message (shown by `Display`; it must not contain a secret).
    #[must_use]
    pub const fn new(reason: &'static str) -> Self {
        Self(reason)
    }

    /// The fixed message this error was made with.
    #[must_use]
    pub const fn reason(&self) -> &'static str {
        self.0
    }
}

/// A signer configuration that cannot work.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ConfigError {
    /// An RSA signature method was chosen but no RSA private key was given.
    #[error("an RSA signature method needs an RSA private key")]
    MissingRsaKey,
    /// An RSA private key was given but the signature method is not RSA, or is a custom
    /// method (which is given the shared secrets only, never the key).
    #[error("an RSA private key was given for a non-RSA signature method")]
    UnusedRsaKey,
    /// A custom signature method's name cannot be sent as `oauth_signature_method`: it is
    /// empty, or has a character outside the RFC 7230 `tchar` set (a space, a quote, a comma,
    /// a control character, anything not ASCII).
    #[error("the custom signature method's name is empty or not a token")]
    InvalidCustomMethodName,
}

/// An RSA key that cannot be loaded (RFC 5849 §3.4.3 keys, PKCS#1 or PKCS#8 PEM).
///
/// No variant repeats any part of the PEM.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum KeyError {
    /// Not a PEM document, bad base64, truncated, or malformed DER.
    #[error("the key is not a valid PEM-encoded RSA key")]
    Parse,
    /// A well-formed key of the wrong kind: a public key where a private key is needed (or the
    /// reverse), or a non-RSA (EC, Ed25519, ...) key.
    #[error("the key is not of the expected type (an RSA {expected} key)")]
    WrongKeyType {
        /// `"private"` or `"public"`.
        expected: &'static str,
    },
    /// The key is encrypted; decrypt it before loading (no passphrase support here).
    #[error("the private key is encrypted")]
    Encrypted,
    /// An RSASSA-PSS key (PKCS#8 or SPKI algorithm id-RSASSA-PSS): RFC 4055 §1.2 keeps it
    /// to PSS signatures, and the RSA-SHA* methods make and check PKCS#1 v1.5 ones: a
    /// provider holding that key refuses them, and a verifier given it refuses to load it.
    #[error(
        "the key is an RSASSA-PSS key, which may not make or check the PKCS#1 v1.5 signatures of RSA-SHA*"
    )]
    PssOnly,
    /// The modulus is shorter than the configured minimum.
    #[error("the RSA key has {bits} bits, fewer than the minimum of {min_bits}")]
    TooSmall {
        /// Size of the key's modulus.
        bits: usize,
        /// The configured minimum.
        min_bits: usize,
    },
}

/// A malformed `Authorization: OAuth` header value (RFC 5849 §3.5.1).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum HeaderError {
    /// The value does not start with the `OAuth` scheme.
    #[error("the authorization scheme is not OAuth")]
    NotOAuth,
    /// Longer than the parser accepts.
    #[error("the authorization header is longer than {max} bytes")]
    TooLong {
        /// The limit.
        max: usize,
    },
    /// More parameters than the parser accepts.
    #[error("the authorization header has more than {max} parameters")]
    TooManyParameters {
        /// The limit.
        max: usize,
    },
    /// A syntax error at this byte offset.
    #[error("malformed authorization header at byte {offset}: {reason}")]
    Malformed {
        /// Byte offset in the header value.
        offset: usize,
        /// What was expected.
        reason: &'static str,
    },
    /// A parameter value is not valid percent-encoded UTF-8.
    #[error("invalid encoding in authorization header parameter `{name}`: {error}")]
    InvalidEncoding {
        /// The parameter name (cut to 64 characters).
        name: String,
        /// The decoding problem.
        error: DecodeError,
    },
    /// A parameter appears twice.
    #[error("authorization header parameter `{name}` appears more than once")]
    DuplicateParameter {
        /// The parameter name (cut to 64 characters).
        name: String,
    },
    /// [`AuthorizationHeader::new`](super::AuthorizationHeader::new) was given a parameter
    /// named `realm`; the realm is its own argument (it is not a signed parameter).
    #[error("`realm` was given as a parameter; pass it as the header's realm")]
    RealmAsParameter,
    /// [`AuthorizationHeader::new`](super::AuthorizationHeader::new) was given a parameter
    /// with an empty name.
    #[error("an authorization header parameter has an empty name")]
    EmptyParameterName,
}

/// Why a signed request was not accepted (RFC 5849 §3.2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum VerifyError {
    /// The request itself is malformed.
    #[error(transparent)]
    Request(#[from] RequestError),
    /// The `Authorization` header is malformed.
    #[error(transparent)]
    Header(#[from] HeaderError),
    /// A required protocol parameter is absent.
    #[error("missing protocol parameter `{0}`")]
    MissingParameter(&'static str),
    /// `oauth_*` parameters arrived in more than one place: RFC 5849 §3.5 has them sent in one
    /// only (the `Authorization` header, the form body or the query).
    #[error(
        "protocol parameters arrived both in the {first} and in the {second}: RFC 5849 §3.5 allows one place"
    )]
    ProtocolParametersSplit {
        /// Where the first `oauth_*` parameter was: `query`, `form body` or `Authorization header`.
        first: &'static str,
        /// Where another one was.
        second: &'static str,
    },
    /// `oauth_signature_method` names a method this verifier does not support or the key given
    /// cannot check.
    #[error("unsupported signature method")]
    UnsupportedSignatureMethod,
    /// `oauth_version` is present and is not `1.0`.
    #[error("unsupported oauth_version (only 1.0 is accepted)")]
    UnsupportedVersion,
    /// `oauth_timestamp` is not a positive decimal integer.
    #[error("oauth_timestamp is not a positive integer")]
    InvalidTimestamp,
    /// `oauth_signature` is not valid base64 (HMAC and RSA methods).
    #[error("oauth_signature is not valid base64")]
    InvalidSignatureEncoding,
    /// A PLAINTEXT request arrived over plain http (RFC 5849 §3.4.4).
    #[error("PLAINTEXT signatures are only accepted over https")]
    InsecureTransport,
    /// The signature does not match.
    #[error("signature mismatch")]
    SignatureMismatch,
    /// A request with a form-encoded body carries `oauth_body_hash`: the signature covers such a
    /// body itself, and the OAuth Request Body Hash extension (§4.1.1, §4.2) has the provider
    /// check that no `oauth_body_hash` is present.
    #[error("oauth_body_hash is not accepted with an application/x-www-form-urlencoded body")]
    BodyHashWithFormBody,
    /// The recomputation failed (a custom method's error, an RSA failure).
    #[error("signature computation failed")]
    Internal,
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A wrapped error is said in the message, not given again as `source()`: an error-chain
    /// printer (`anyhow`'s `{:#}`) printed "cannot form oauth_timestamp: the clock is before
    /// the Unix epoch: the clock is before the Unix epoch".
    #[test]
    fn wrapped_errors_are_said_once() {
        let cases: [(&dyn std::error::Error, String); 4] = [
            (
                &RequestError::from(DecodeError::InvalidUtf8),
                DecodeError::InvalidUtf8.to_string(),
            ),
            (
                &SignError::from(ClockBeforeEpoch),
                ClockBeforeEpoch.to_string(),
            ),
            (&SignError::from(RandomError), RandomError.to_string()),
            (
                &SignError::from(RequestError::from(DecodeError::InvalidUtf8)),
                DecodeError::InvalidUtf8.to_string(),
            ),
        ];
        for (error, inner) in cases {
            assert!(error.to_string().contains(&inner), "{error}");
            assert!(error.source().is_none(), "{error}");
        }
    }
}
