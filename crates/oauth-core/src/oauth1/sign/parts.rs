//! What every signature of one signer shares: the protocol parameters laid out once as the base
//! string and the header carry them, and the writer that streams a base string into the HMAC.

use super::super::base_string::{BaseUri, Sink, WriteBase, put_method};
use super::super::fast::Param;
use crate::encode::percent_encode;

/// The parts of every request's protocol parameters that depend only on the signer, laid out
/// as the base string and the `Authorization` header carry them, so that signing copies them
/// whole (RFC 5849 §3.4.1.3.2, §3.5.1).
pub(super) struct FixedParts {
    pub(super) consumer_key_enc: String,
    pub(super) token_enc: Option<String>,
    pub(super) method_name_enc: String,
    /// `oauth_consumer_key%3D<key>%26oauth_nonce%3D` (values encoded twice).
    pub(super) base_before_nonce: Box<[u8]>,
    /// `%26oauth_signature_method%3D<method>%26oauth_timestamp%3D`.
    pub(super) base_before_timestamp: Box<[u8]>,
    /// `%26oauth_token%3D<token>%26oauth_version%3D1.0` (without the token part when there is
    /// no token); the version part is left out when not sent or when `oauth_verifier` comes
    /// between them.
    pub(super) base_after_timestamp: Box<[u8]>,
    /// `OAuth oauth_consumer_key="<key>", oauth_nonce="`; without `OAuth ` when a realm or an
    /// earlier protocol parameter comes first.
    pub(super) header_before_nonce: Box<[u8]>,
    /// `", oauth_signature_method="<method>", oauth_timestamp="`.
    pub(super) header_before_timestamp: Box<[u8]>,
    /// `", oauth_token="<token>", oauth_version="1.0"` (without the token part when there is no
    /// token); cut before the version as for `base_after_timestamp`.
    pub(super) header_after_timestamp: Box<[u8]>,
}

pub(super) const BASE_VERSION: &[u8] = b"%26oauth_version%3D1.0";
pub(super) const HEADER_VERSION: &[u8] = b", oauth_version=\"1.0\"";

impl FixedParts {
    pub(super) fn new(consumer_key: &str, token: Option<&str>, method_name: &str) -> Self {
        let consumer_key_enc = percent_encode(consumer_key).into_owned();
        let token_enc = token.map(|t| percent_encode(t).into_owned());
        let method_name_enc = percent_encode(method_name).into_owned();
        let twice = |s: &str| percent_encode(s).into_owned();
        let base_after_timestamp = token_enc
            .as_deref()
            .map_or(String::new(), |t| format!("%26oauth_token%3D{}", twice(t)))
            + "%26oauth_version%3D1.0";
        let header_after_timestamp = token_enc
            .as_deref()
            .map_or("\"".to_owned(), |t| format!("\", oauth_token=\"{t}\""))
            + ", oauth_version=\"1.0\"";
        Self {
            base_before_nonce: format!(
                "oauth_consumer_key%3D{}%26oauth_nonce%3D",
                twice(&consumer_key_enc)
            )
            .into_bytes()
            .into(),
            base_before_timestamp: format!(
                "%26oauth_signature_method%3D{}%26oauth_timestamp%3D",
                twice(&method_name_enc)
            )
            .into_bytes()
            .into(),
            base_after_timestamp: base_after_timestamp.into_bytes().into(),
            header_before_nonce: format!(
                "OAuth oauth_consumer_key=\"{consumer_key_enc}\", oauth_nonce=\""
            )
            .into_bytes()
            .into(),
            header_before_timestamp: format!(
                "\", oauth_signature_method=\"{method_name_enc}\", oauth_timestamp=\""
            )
            .into_bytes()
            .into(),
            header_after_timestamp: header_after_timestamp.into_bytes().into(),
            consumer_key_enc,
            token_enc,
            method_name_enc,
        }
    }
}

/// The base string of a request being signed: the collected query and form parameters
/// (`params`, sorted, encoded twice in `scratch`) around the protocol parameters.
///
/// Query and form parameters never start with `oauth_` (the signer refuses them), so in the
/// sorted order the protocol parameters form one block between the parameters whose names sort
/// before `oauth_` (`params[..split]`) and the rest.
pub(super) struct SigningBase<'a> {
    pub(super) method: &'a str,
    pub(super) uri: &'a BaseUri<'a>,
    pub(super) scratch: &'a [u8],
    pub(super) params: &'a [Param],
    pub(super) split: usize,
    /// The protocol parameter values, §3.6-encoded once.
    pub(super) body_hash: Option<&'a str>,
    pub(super) callback: Option<&'a str>,
    pub(super) nonce: &'a [u8],
    pub(super) timestamp: &'a [u8],
    pub(super) verifier: Option<&'a str>,
    pub(super) version: bool,
    pub(super) fixed: &'a FixedParts,
}

impl WriteBase for SigningBase<'_> {
    fn write_to<S: Sink>(&self, sink: &mut S) {
        put_method(sink, self.method);
        sink.put(b"&");
        self.uri.write_encoded(sink);
        sink.put(b"&");
        let (before, after) = self.params.split_at(self.split);
        for param in before {
            sink.put(param.pair(self.scratch));
            sink.put(b"%26");
        }
        if let Some(value) = self.body_hash {
            sink.put(b"oauth_body_hash%3D");
            sink.put_reencoded(value.as_bytes());
            sink.put(b"%26");
        }
        if let Some(value) = self.callback {
            sink.put(b"oauth_callback%3D");
            sink.put_reencoded(value.as_bytes());
            sink.put(b"%26");
        }
        sink.put(&self.fixed.base_before_nonce);
        sink.put_reencoded(self.nonce);
        sink.put(&self.fixed.base_before_timestamp);
        sink.put(self.timestamp);
        let tail = &self.fixed.base_after_timestamp;
        if self.verifier.is_none() && self.version {
            sink.put(tail);
        } else {
            sink.put(&tail[..tail.len() - BASE_VERSION.len()]);
            if let Some(value) = self.verifier {
                sink.put(b"%26oauth_verifier%3D");
                sink.put_reencoded(value.as_bytes());
            }
            if self.version {
                sink.put(BASE_VERSION);
            }
        }
        for param in after {
            sink.put(b"%26");
            sink.put(param.pair(self.scratch));
        }
    }
}

/// Whether a (collected, hence not `oauth_`-prefixed) parameter name sorts before the
/// protocol parameters, i.e. before `oauth_`; compared inline rather than through `memcmp`.
#[inline]
pub(super) fn sorts_before_protocol(name: &[u8]) -> bool {
    const PREFIX: &[u8; 6] = b"oauth_";
    for (i, &p) in PREFIX.iter().enumerate() {
        match name.get(i) {
            None => return true,
            Some(&b) if b != p => return b < p,
            Some(_) => {}
        }
    }
    false
}

/// Scratch space on the stack for the collected parameters (two sizes, so that small requests
/// zero less of it); larger requests use the heap.
pub(super) const SMALL_SCRATCH: usize = 512;
pub(super) const LARGE_SCRATCH: usize = 2048;

/// The protocol parameter names in sorted order, so the header lists them sorted.
pub(super) const BODY_HASH: usize = 0;
pub(super) const CALLBACK: usize = 1;
pub(super) const CONSUMER_KEY: usize = 2;
pub(super) const NONCE: usize = 3;
pub(super) const SIGNATURE: usize = 4;
pub(super) const SIGNATURE_METHOD: usize = 5;
pub(super) const TIMESTAMP: usize = 6;
pub(super) const TOKEN: usize = 7;
pub(super) const VERIFIER: usize = 8;
pub(super) const VERSION: usize = 9;
pub(super) const PROTOCOL_NAMES: [&str; 10] = [
    "oauth_body_hash",
    "oauth_callback",
    "oauth_consumer_key",
    "oauth_nonce",
    "oauth_signature",
    "oauth_signature_method",
    "oauth_timestamp",
    "oauth_token",
    "oauth_verifier",
    "oauth_version",
];
