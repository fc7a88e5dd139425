//! The signature computations (RFC 5849 §3.4.2–§3.4.4), shared by signing and verification.

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::Hmac;
use hmac::digest::{FixedOutput, KeyInit, Update};
use sha1::Sha1;
use sha2::{Sha256, Sha512};
use zeroize::Zeroizing;

use super::base_string::{DigestSink, WriteBase, to_base_string};
use super::error::{CustomMethodError, SignError};
use super::fast::SmallString;
use super::hmac_sha1::HmacSha1;
use super::method::{CustomSignatureMethod, SignatureMethod, SigningSecrets};
use super::rsa_key::RsaPrivateKey;
use crate::encode::percent_encode_into;

/// A keyed signature method, ready to sign many base strings.
#[derive(Clone)]
pub(crate) enum Engine {
    HmacSha1(HmacSha1),
    HmacSha256(Hmac<Sha256>),
    HmacSha512(Hmac<Sha512>),
    Rsa(SignatureMethod, RsaPrivateKey),
    /// The PLAINTEXT signature, which is the key itself.
    Plaintext(Arc<Zeroizing<String>>),
    Custom(Arc<dyn CustomSignatureMethod>),
}

impl fmt::Debug for Engine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Whether a custom method's `oauth_signature_method` names PLAINTEXT (in any case, as a
/// lenient provider may read it), whose signature is the shared secrets themselves.
pub(crate) fn is_plaintext_name(name: &str) -> bool {
    name.eq_ignore_ascii_case(SignatureMethod::Plaintext.name())
}

/// What a custom method that returned no signature at all fails with: an empty
/// `oauth_signature` authenticates nothing.
pub(crate) const EMPTY_CUSTOM_SIGNATURE: CustomMethodError =
    CustomMethodError::new("the custom signature method returned an empty signature");

/// The HMAC / PLAINTEXT key `enc(consumer_secret) "&" enc(token_secret)` (RFC 5849 §3.4.2, §3.4.4);
/// the `&` is there even when a secret is empty.
pub(crate) fn shared_key(secrets: SigningSecrets<'_>) -> Zeroizing<String> {
    let token = secrets.token_secret.map_or("", |t| t.secret());
    let mut key = Zeroizing::new(String::with_capacity(
        3 * (secrets.consumer_secret.secret().len() + token.len()) + 1,
    ));
    percent_encode_into(&mut key, secrets.consumer_secret.secret());
    key.push('&');
    percent_encode_into(&mut key, token);
    key
}

fn hmac<D>(key: &str) -> Hmac<D>
where
    D: hmac::EagerHash,
    Hmac<D>: KeyInit,
{
    // HMAC accepts keys of any length, so this never fails; an empty-key fallback keeps the
    // function total without a panic path.
    <Hmac<D> as KeyInit>::new_from_slice(key.as_bytes())
        .unwrap_or_else(|_| <Hmac<D> as KeyInit>::new(&Default::default()))
}

impl Engine {
    /// An engine for a shared-secret method (HMAC-* or PLAINTEXT). `None` for RSA methods.
    pub(crate) fn shared(method: SignatureMethod, secrets: SigningSecrets<'_>) -> Option<Self> {
        let key = shared_key(secrets);
        Some(match method {
            SignatureMethod::HmacSha1 => Self::HmacSha1(HmacSha1::new(key.as_bytes())),
            SignatureMethod::HmacSha256 => Self::HmacSha256(hmac::<Sha256>(&key)),
            SignatureMethod::HmacSha512 => Self::HmacSha512(hmac::<Sha512>(&key)),
            SignatureMethod::Plaintext => Self::Plaintext(Arc::new(key)),
            SignatureMethod::RsaSha1 | SignatureMethod::RsaSha256 | SignatureMethod::RsaSha512 => {
                return None;
            }
        })
    }

    /// The `oauth_signature_method` value.
    pub(crate) fn name(&self) -> &str {
        match self {
            Self::HmacSha1(_) => SignatureMethod::HmacSha1.name(),
            Self::HmacSha256(_) => SignatureMethod::HmacSha256.name(),
            Self::HmacSha512(_) => SignatureMethod::HmacSha512.name(),
            Self::Rsa(m, _) => m.name(),
            Self::Plaintext(_) => SignatureMethod::Plaintext.name(),
            Self::Custom(c) => c.name(),
        }
    }

    /// Whether this is PLAINTEXT (which needs https): the built-in method, or a custom one sent
    /// under that name (which then sends the shared secrets just as well).
    pub(crate) fn is_plaintext(&self) -> bool {
        match self {
            Self::Plaintext(_) => true,
            Self::Custom(custom) => is_plaintext_name(custom.name()),
            _ => false,
        }
    }

    /// Appends the `oauth_signature` value (not yet percent-encoded) of the request whose base
    /// string `base` writes to `out`.
    pub(crate) fn sign<B: WriteBase>(
        &self,
        secrets: SigningSecrets<'_>,
        base: &B,
        out: &mut SignatureBuf,
    ) -> Result<(), SignError> {
        match self {
            Self::HmacSha1(mac) => out.push_base64(&mac.mac(base)),
            Self::HmacSha256(mac) => out.push_base64(&digest(mac.clone(), base)),
            Self::HmacSha512(mac) => out.push_base64(&digest(mac.clone(), base)),
            Self::Rsa(m, key) => {
                let signature = match m {
                    SignatureMethod::RsaSha256 => {
                        key.sign_prehash(*m, &digest(Sha256::default(), base))
                    }
                    SignatureMethod::RsaSha512 => {
                        key.sign_prehash(*m, &digest(Sha512::default(), base))
                    }
                    _ => key.sign_prehash(*m, &digest(Sha1::default(), base)),
                }
                .map_err(|_| SignError::Rsa)?;
                let mut encoded = String::new();
                base64_into(&signature, &mut encoded);
                out.push_str(&encoded);
            }
            Self::Plaintext(key) => out.push_str(key),
            Self::Custom(custom) => {
                let base = to_base_string(base);
                let mut signature = String::with_capacity(32);
                custom
                    .sign(secrets, &base, &mut signature)
                    .map_err(SignError::Custom)?;
                if signature.is_empty() {
                    return Err(SignError::Custom(EMPTY_CUSTOM_SIGNATURE));
                }
                out.push_str(&signature);
            }
        }
        Ok(())
    }
}

/// Signs a ready-made signature base string with a shared-secret method (HMAC-SHA1/256/512 or
/// PLAINTEXT, RFC 5849 §3.4.2, §3.4.4) and returns the `oauth_signature` value, before
/// percent-encoding. `None` for the RSA methods (use [`RsaPrivateKey::sign_base_string`]).
///
/// [`Signer`](super::Signer) is the usual way to sign; this is for base strings computed
/// elsewhere, such as published test vectors.
///
/// ```
/// use oauth_core::oauth1::{SignatureMethod, SigningSecrets, sign_base_string};
/// use oauth_core::secret::ConsumerSecret;
///
/// let cs = ConsumerSecret::new("cs");
/// let secrets = SigningSecrets { consumer_secret: &cs, token_secret: None };
/// let sig = sign_base_string(SignatureMethod::HmacSha1, secrets, "bs");
/// assert_eq!(sig.as_deref(), Some("egQqG5AJep5sJ7anhXju1unge2I="));
/// ```
pub fn sign_base_string(
    method: SignatureMethod,
    secrets: SigningSecrets<'_>,
    base_string: &str,
) -> Option<String> {
    let mut out = String::new();
    match Engine::shared(method, secrets)? {
        Engine::HmacSha1(mac) => base64_into(&mac.mac(base_string.as_bytes()), &mut out),
        Engine::HmacSha256(mut mac) => {
            mac.update(base_string.as_bytes());
            base64_into(&mac.finalize_fixed(), &mut out);
        }
        Engine::HmacSha512(mut mac) => {
            mac.update(base_string.as_bytes());
            base64_into(&mac.finalize_fixed(), &mut out);
        }
        Engine::Plaintext(key) => out.push_str(&key),
        Engine::Rsa(..) | Engine::Custom(_) => return None,
    }
    Some(out)
}

/// Runs the base string through a digest or MAC.
pub(crate) fn digest<D: Update + FixedOutput, B: WriteBase>(
    mut d: D,
    base: &B,
) -> hmac::digest::Output<D> {
    let mut sink = DigestSink::new(&mut d);
    base.write_to(&mut sink);
    sink.finish();
    d.finalize_fixed()
}

/// An `oauth_signature` value: inline up to the 88 characters of HMAC-SHA512.
pub(crate) type SignatureBuf = SmallString<88>;

fn base64_into(bytes: &[u8], out: &mut String) {
    STANDARD.encode_string(bytes, out);
}
