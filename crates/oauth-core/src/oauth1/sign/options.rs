//! What a signature is asked for ([`SignOptions`], [`Placement`]) and what it gives ([`Signed`]).

use std::fmt;

use http::{HeaderValue, Uri};

use super::super::base_string::Origin;
use super::super::engine::SignatureBuf;
use super::super::fast::SmallString;
use crate::secret::Verifier;

/// Where the protocol parameters go (RFC 5849 §3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum Placement {
    /// The `Authorization: OAuth ...` header (§3.5.1); the default and the only placement that
    /// keeps the parameters out of URLs, logs and caches.
    #[default]
    Header,
    /// Appended to a form body (§3.5.2). The request must be (or become) a single-part
    /// `application/x-www-form-urlencoded` request.
    Body,
    /// Appended to the query string (§3.5.3). Responses to such requests must not be cached
    /// publicly (RFC 5849 §4.4). With PLAINTEXT the signature is the shared secrets
    /// themselves, which this puts in the URL, where logs and `Referer` headers see it: prefer
    /// the header (tower-oauth1's layer refuses PLAINTEXT in the query).
    Query,
}

/// Per-request signing options: the optional protocol parameters, the realm, and test overrides.
///
/// ```
/// use oauth_core::oauth1::SignOptions;
/// use oauth_core::secret::Verifier;
///
/// let verifier = Verifier::new("hfdp7dh39dks9884");
/// let options = SignOptions::new().verifier(&verifier).realm("Photos");
/// # let _ = options;
/// ```
#[derive(Clone, Copy)]
pub struct SignOptions<'a> {
    pub(super) callback: Option<&'a str>,
    pub(super) verifier: Option<&'a Verifier>,
    pub(super) realm: Option<&'a str>,
    pub(super) version: bool,
    pub(super) body_hash: Option<&'a [u8]>,
    pub(super) nonce: Option<&'a str>,
    pub(super) timestamp: Option<u64>,
    pub(super) origin: Option<Origin<'a>>,
}

impl Default for SignOptions<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a> SignOptions<'a> {
    /// No optional parameters; `oauth_version=1.0` is sent.
    #[must_use]
    pub const fn new() -> Self {
        Self {
            callback: None,
            verifier: None,
            realm: None,
            version: true,
            body_hash: None,
            nonce: None,
            timestamp: None,
            origin: None,
        }
    }

    /// `oauth_callback`: an absolute URI, or `oob` (RFC 5849 §2.1, temporary-credential
    /// requests; see [`is_valid_callback`](super::is_valid_callback)).
    #[must_use]
    pub const fn callback(mut self, callback: &'a str) -> Self {
        self.callback = Some(callback);
        self
    }

    /// `oauth_verifier` (RFC 5849 §2.3, token-credential requests).
    #[must_use]
    pub const fn verifier(mut self, verifier: &'a Verifier) -> Self {
        self.verifier = Some(verifier);
        self
    }

    /// The `realm` of the `Authorization` header (RFC 5849 §3.5.1). Not signed, and not sent with
    /// the body or query placements. Printable ASCII without `"` and `\`
    /// ([`is_valid_realm`](super::is_valid_realm)).
    #[must_use]
    pub const fn realm(mut self, realm: &'a str) -> Self {
        self.realm = Some(realm);
        self
    }

    /// Whether to send `oauth_version=1.0` (optional per RFC 5849 §3.1; sent by default, as
    /// most libraries do).
    #[must_use]
    pub const fn version(mut self, send: bool) -> Self {
        self.version = send;
        self
    }

    /// Sends `oauth_body_hash`, the base64 SHA-1 of this (non-form) body (OAuth Request Body
    /// Hash extension), so the body is covered by the signature. Refused for form bodies.
    #[must_use]
    pub const fn body_hash(mut self, body: &'a [u8]) -> Self {
        self.body_hash = Some(body);
        self
    }

    /// Uses this `oauth_nonce` instead of a fresh random one. For tests and published vectors
    /// only: a nonce must be unique across requests with the same timestamp, credentials and
    /// token (RFC 5849 §3.3), so a repeated one gets the request rejected, or replayed.
    #[must_use]
    pub const fn nonce(mut self, nonce: &'a str) -> Self {
        self.nonce = Some(nonce);
        self
    }

    /// Uses this `oauth_timestamp` instead of the clock. For tests and published vectors only.
    /// It must be positive (RFC 5849 §3.3): signing with `0` fails with
    /// [`SignError::InvalidOption`](crate::oauth1::SignError::InvalidOption).
    #[must_use]
    pub const fn timestamp(mut self, timestamp: u64) -> Self {
        self.timestamp = Some(timestamp);
        self
    }

    /// Scheme and host for an origin-form request URI (`/path?query`).
    #[must_use]
    pub const fn origin(mut self, origin: Origin<'a>) -> Self {
        self.origin = Some(origin);
        self
    }
}

impl fmt::Debug for SignOptions<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignOptions")
            .field("callback", &self.callback)
            .field("verifier", &self.verifier)
            .field("realm", &self.realm)
            .field("version", &self.version)
            .field("body_hash", &self.body_hash.map(|b| b.len()))
            .field("nonce", &self.nonce)
            .field("timestamp", &self.timestamp)
            .field("origin", &self.origin)
            .finish()
    }
}

/// What signing produced, in the requested [`Placement`].
#[derive(Clone)]
#[non_exhaustive]
pub enum SignedOutput {
    /// The `Authorization` header value (marked sensitive).
    Header(HeaderValue),
    /// The request URI with the protocol parameters appended to its query.
    Query(Uri),
    /// The form body with the protocol parameters appended.
    Body(Vec<u8>),
}

impl fmt::Debug for SignedOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // A PLAINTEXT signature is the shared secret, so the output is never printed.
        f.write_str(match self {
            Self::Header(_) => "Header([redacted])",
            Self::Query(_) => "Query([redacted])",
            Self::Body(_) => "Body([redacted])",
        })
    }
}

/// A signed request: the output to put on the request, plus the values used.
#[derive(Clone)]
pub struct Signed {
    pub(super) output: SignedOutput,
    pub(super) signature: SignatureBuf,
    pub(super) nonce: NonceBuf,
    pub(super) timestamp: u64,
}

/// A nonce as sent: inline up to 48 bytes (generated ones have [`NONCE_LEN`]).
pub(super) type NonceBuf = SmallString<48>;

impl Signed {
    /// The output in the requested placement.
    pub fn output(&self) -> &SignedOutput {
        &self.output
    }

    /// Takes the output.
    pub fn into_output(self) -> SignedOutput {
        self.output
    }

    /// The `Authorization` header value, if the placement was [`Placement::Header`].
    pub fn into_header_value(self) -> Option<HeaderValue> {
        match self.output {
            SignedOutput::Header(value) => Some(value),
            _ => None,
        }
    }

    /// The header value as a string, if the placement was [`Placement::Header`].
    pub fn authorization(&self) -> Option<&str> {
        match &self.output {
            SignedOutput::Header(value) => value.to_str().ok(),
            _ => None,
        }
    }

    /// The new URI, if the placement was [`Placement::Query`].
    pub fn uri(&self) -> Option<&Uri> {
        match &self.output {
            SignedOutput::Query(uri) => Some(uri),
            _ => None,
        }
    }

    /// The new body, if the placement was [`Placement::Body`].
    pub fn body(&self) -> Option<&[u8]> {
        match &self.output {
            SignedOutput::Body(body) => Some(body),
            _ => None,
        }
    }

    /// The `oauth_signature` value, before percent-encoding.
    ///
    /// # Security
    ///
    /// With PLAINTEXT this is the shared-secret key itself.
    pub fn signature(&self) -> &str {
        self.signature.as_str()
    }

    /// The `oauth_nonce` sent.
    pub fn nonce(&self) -> &str {
        self.nonce.as_str()
    }

    /// The `oauth_timestamp` sent.
    pub fn timestamp(&self) -> u64 {
        self.timestamp
    }
}

impl fmt::Debug for Signed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signed")
            .field("output", &self.output)
            .field("signature", &"[redacted]")
            .field("nonce", &self.nonce())
            .field("timestamp", &self.timestamp)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use http::Method;

    use super::*;
    use crate::clock::{CountingRandom, ManualClock};
    use crate::oauth1::{ClientCredentials, Signer};
    use crate::secret::ConsumerSecret;

    fn sign(options: &SignOptions<'_>, placement: Placement) -> Signed {
        let signer = Signer::builder(ClientCredentials::new(
            "dpf43f3p2l4k3l03",
            ConsumerSecret::new("kd94hf93k423kf44"),
        ))
        .clock(ManualClock::at_unix_seconds(1_191_242_096))
        .random(CountingRandom::new(1))
        .build()
        .unwrap();
        let uri: Uri = "https://photos.example.net/photos?size=original"
            .parse()
            .unwrap();
        signer
            .sign(&Method::POST, &uri, Some(b"a=1"), options, placement)
            .unwrap()
    }

    /// `Debug` says which options are set (the body hash only by its length) and what a
    /// signature produced, but never the output (PLAINTEXT puts the secrets in it) nor the
    /// signature.
    #[test]
    fn debug_shows_the_options_and_values_used_but_not_the_output_or_signature() {
        let verifier = Verifier::new("hfdp7dh39dks9884");
        let options = SignOptions::new()
            .callback("http://printer.example.com/ready")
            .verifier(&verifier)
            .realm("Photos")
            .version(false)
            .body_hash(b"Hello World!")
            .nonce("wIjqoS")
            .timestamp(137_131_200)
            .origin(Origin::new("https", "photos.example.net"));
        let debug = format!("{options:?}");
        for shown in [
            "SignOptions",
            "callback: Some(\"http://printer.example.com/ready\")",
            "realm: Some(\"Photos\")",
            "version: false",
            "body_hash: Some(12)",
            "nonce: Some(\"wIjqoS\")",
            "timestamp: Some(137131200)",
            "photos.example.net",
        ] {
            assert!(debug.contains(shown), "{shown} missing from {debug}");
        }
        assert!(!debug.contains("hfdp7dh39dks9884") && !debug.contains("Hello"));

        let options = SignOptions::new().nonce("kllo9940pd9333jh");
        for (placement, output) in [
            (Placement::Header, "Header([redacted])"),
            (Placement::Query, "Query([redacted])"),
            (Placement::Body, "Body([redacted])"),
        ] {
            let signed = sign(&options, placement);
            assert_eq!(format!("{:?}", signed.output()), output);
            let debug = format!("{signed:?}");
            assert_eq!(
                debug,
                format!(
                    "Signed {{ output: {output}, signature: \"[redacted]\", nonce: \
                     \"kllo9940pd9333jh\", timestamp: 1191242096 }}"
                )
            );
            assert!(!debug.contains(signed.signature()));
        }
    }
}
