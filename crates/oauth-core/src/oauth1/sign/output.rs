//! The signed protocol parameters written out: the `Authorization` header (RFC 5849 §3.5.1),
//! and the form appended to the query or the body (§3.5.2, §3.5.3).

use super::super::fast::{encode_into, encode_to_slice, encoded_len};
use super::Signer;
use super::parts::{HEADER_VERSION, PROTOCOL_NAMES, SIGNATURE};

impl Signer {
    /// The `Authorization` header value (RFC 5849 §3.5.1): `OAuth `, the realm, then the
    /// protocol parameters in name order, built in one exactly-sized buffer.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn header(
        &self,
        realm: Option<&str>,
        body_hash: Option<&str>,
        callback: Option<&str>,
        nonce_enc: &[u8],
        signature: &[u8],
        timestamp: &[u8],
        verifier: Option<&str>,
        version: bool,
    ) -> Vec<u8> {
        const REALM: &[u8] = b"realm=\"";
        const BODY_HASH: &[u8] = b"oauth_body_hash=\"";
        const CALLBACK: &[u8] = b"oauth_callback=\"";
        const NEXT: &[u8] = b"\", ";
        const SIGNATURE: &[u8] = b"\", oauth_signature=\"";
        const VERIFIER: &[u8] = b", oauth_verifier=\"";
        let fixed = &*self.fixed;
        // The signature encoded (base64's `+/=` escaped), on the stack unless it is long.
        let mut enc_buf = [0u8; 3 * 88 + 1];
        let enc_heap;
        let signature_enc: &[u8] = if 3 * signature.len() < enc_buf.len() {
            let n = encode_to_slice(signature, &mut enc_buf);
            &enc_buf[..n]
        } else {
            let mut v = Vec::with_capacity(encoded_len(signature));
            encode_into(&mut v, signature);
            enc_heap = v;
            &enc_heap
        };
        let optional = |prefix: &[u8], value: Option<&str>, suffix: &[u8]| {
            value.map_or(0, |v| prefix.len() + v.len() + suffix.len())
        };
        let before = [(REALM, realm), (BODY_HASH, body_hash), (CALLBACK, callback)];
        let any_before = before.iter().any(|(_, value)| value.is_some());
        // With nothing before the consumer key, the precomputed part starts with `OAuth `.
        let before_nonce = if any_before {
            &fixed.header_before_nonce["OAuth ".len()..]
        } else {
            &fixed.header_before_nonce[..]
        };
        // The precomputed end has the version; cut it off if it is not sent or the verifier
        // goes first.
        let after = &fixed.header_after_timestamp;
        let after_timestamp = if verifier.is_none() && version {
            &after[..]
        } else {
            &after[..after.len() - HEADER_VERSION.len()]
        };
        let mut len = before_nonce.len()
            + nonce_enc.len()
            + SIGNATURE.len()
            + signature_enc.len()
            + fixed.header_before_timestamp.len()
            + timestamp.len()
            + after_timestamp.len();
        if any_before {
            len += "OAuth ".len()
                + optional(REALM, realm, NEXT)
                + optional(BODY_HASH, body_hash, NEXT)
                + optional(CALLBACK, callback, NEXT);
        }
        if verifier.is_some() {
            len += optional(VERIFIER, verifier, b"\"")
                + if version { HEADER_VERSION.len() } else { 0 };
        }
        // Exactly sized, so the `HeaderValue` takes the buffer over without reallocating.
        let mut out = Vec::with_capacity(len);
        if any_before {
            out.extend_from_slice(b"OAuth ");
            for (prefix, value) in before {
                if let Some(value) = value {
                    out.extend_from_slice(prefix);
                    out.extend_from_slice(value.as_bytes());
                    out.extend_from_slice(NEXT);
                }
            }
        }
        out.extend_from_slice(before_nonce);
        out.extend_from_slice(nonce_enc);
        out.extend_from_slice(SIGNATURE);
        out.extend_from_slice(signature_enc);
        out.extend_from_slice(&fixed.header_before_timestamp);
        out.extend_from_slice(timestamp);
        out.extend_from_slice(after_timestamp);
        if let Some(verifier) = verifier {
            out.extend_from_slice(VERIFIER);
            out.extend_from_slice(verifier.as_bytes());
            out.extend_from_slice(b"\"");
            if version {
                out.extend_from_slice(HEADER_VERSION);
            }
        }
        debug_assert_eq!(out.len(), len);
        out
    }
}

/// Calls `f` with each protocol parameter (name, encoded value), signature included, in order.
fn for_each_protocol(
    protocol: &[Option<&str>; 10],
    signature_enc: &str,
    mut f: impl FnMut(&str, &str),
) {
    for (i, name) in PROTOCOL_NAMES.iter().enumerate() {
        if i == SIGNATURE {
            f(name, signature_enc);
        } else if let Some(value) = &protocol[i] {
            f(name, value);
        }
    }
}

/// An upper bound for the header or form length of the protocol parameters.
pub(super) fn header_len(protocol: &[Option<&str>; 10], signature_enc: &str) -> usize {
    let mut len = 6;
    for_each_protocol(protocol, signature_enc, |name, value| {
        len += name.len() + value.len() + 5;
    });
    len
}

/// Appends `name=value&...` for the protocol parameters.
pub(super) fn append_form(out: &mut Vec<u8>, protocol: &[Option<&str>; 10], signature_enc: &str) {
    let mut first = true;
    for_each_protocol(protocol, signature_enc, |name, value| {
        if !first {
            out.push(b'&');
        }
        first = false;
        out.extend_from_slice(name.as_bytes());
        out.push(b'=');
        // Already encoded; encoding again would double-escape.
        out.extend_from_slice(value.as_bytes());
    });
}
