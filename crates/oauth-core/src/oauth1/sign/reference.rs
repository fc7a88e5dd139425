//! The signer as it was before the fast path (decode, re-encode into `(Cow, Cow)` pairs, sort,
//! stream through the generic base-string writer), kept as the reference the fast path is
//! property-tested against.

use std::borrow::Cow;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderValue, Method, Uri};
use sha1::{Digest, Sha1};

use super::super::base_string::{BaseUri, ParamsBase, format_u64};
use super::super::credentials::TokenCredentials;
use super::super::engine::SignatureBuf;
use super::super::error::{RequestError, SignError};
use super::super::method::SigningSecrets;
use super::super::params::{EncodedParam, collect_form, encode, sort_params};
use super::parts::{PROTOCOL_NAMES, SIGNATURE};
use super::{
    BODY_HASH, CALLBACK, CONSUMER_KEY, NONCE, NONCE_LEN, Placement, SIGNATURE_METHOD, SignOptions,
    SignedOutput, Signer, TIMESTAMP, TOKEN, VERIFIER, VERSION, generate_nonce,
};
use crate::clock::RandomError;
use crate::encode::percent_encode;

/// What the reference signer returns.
pub(super) struct Reference {
    pub(super) output: SignedOutput,
    pub(super) signature: String,
    pub(super) nonce: String,
    pub(super) timestamp: u64,
}

pub(super) fn sign_reference(
    signer: &Signer,
    method: &Method,
    uri: &Uri,
    form_body: Option<&[u8]>,
    options: &SignOptions<'_>,
    placement: Placement,
) -> Result<Reference, SignError> {
    let base_uri = BaseUri::new(uri, options.origin)?;
    if signer.engine.is_plaintext() && !base_uri.is_https() && !signer.allow_plaintext_over_http {
        return Err(SignError::InsecureTransport);
    }
    if options.body_hash.is_some() && (form_body.is_some() || placement == Placement::Body) {
        return Err(SignError::BodyHashWithFormBody);
    }
    if let Some(realm) = options.realm
        && !realm
            .bytes()
            .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\')
    {
        return Err(SignError::InvalidOption { option: "realm" });
    }
    // RFC 5849 §3.3: a positive integer (and the verifier refuses 0).
    if options.timestamp == Some(0) {
        return Err(SignError::InvalidOption {
            option: "timestamp",
        });
    }
    let form = match form_body {
        Some(body) => Some(
            std::str::from_utf8(body)
                .map_err(|_| SignError::InvalidEncoding(crate::encode::DecodeError::InvalidUtf8))?,
        ),
        None => None,
    };

    let timestamp = match options.timestamp {
        Some(t) => t,
        None => signer.next_timestamp()?,
    };
    let mut nonce_buf = [0u8; NONCE_LEN];
    let nonce: &str = match options.nonce {
        Some(n) => n,
        None => {
            generate_nonce(&*signer.random, &mut nonce_buf)?;
            std::str::from_utf8(&nonce_buf).map_err(|_| RandomError)?
        }
    };
    let mut ts_buf = [0u8; 20];
    let timestamp_str = format_u64(timestamp, &mut ts_buf);
    let mut hash_buf = [0u8; 28];
    let body_hash = match options.body_hash {
        Some(body) => {
            let n = STANDARD
                .encode_slice(Sha1::digest(body), &mut hash_buf)
                .map_err(|_| SignError::InvalidOption {
                    option: "body_hash",
                })?;
            let b64 =
                std::str::from_utf8(&hash_buf[..n]).map_err(|_| SignError::InvalidOption {
                    option: "body_hash",
                })?;
            Some(percent_encode(b64))
        }
        None => None,
    };

    // The protocol parameters, encoded, in name order; the signature slot stays empty.
    let mut protocol: [Option<Cow<'_, str>>; 10] = Default::default();
    protocol[BODY_HASH] = body_hash;
    protocol[CALLBACK] = options.callback.map(encode);
    protocol[CONSUMER_KEY] = Some(Cow::Borrowed(&signer.fixed.consumer_key_enc));
    protocol[NONCE] = Some(encode(nonce));
    protocol[SIGNATURE_METHOD] = Some(Cow::Borrowed(&signer.fixed.method_name_enc));
    protocol[TIMESTAMP] = Some(Cow::Borrowed(timestamp_str));
    protocol[TOKEN] = signer.fixed.token_enc.as_deref().map(Cow::Borrowed);
    protocol[VERIFIER] = options.verifier.map(|v| encode(v.secret()));
    if options.version {
        protocol[VERSION] = Some(Cow::Borrowed("1.0"));
    }

    let query = uri.query().unwrap_or("");
    let mut params: Vec<EncodedParam<'_>> =
        Vec::with_capacity(count_pairs(query) + form.map_or(0, count_pairs) + protocol.len());
    collect_form(query, true, &mut params).map_err(SignError::from)?;
    if let Some(form) = form {
        collect_form(form, true, &mut params).map_err(SignError::from)?;
    }
    for (name, value) in PROTOCOL_NAMES.iter().zip(&protocol) {
        if let Some(value) = value {
            params.push((Cow::Borrowed(name), Cow::Borrowed(value.as_ref())));
        }
    }
    sort_params(&mut params);

    let secrets = SigningSecrets {
        consumer_secret: signer.client.secret(),
        token_secret: signer.token.as_ref().map(TokenCredentials::secret),
    };
    let mut signature_buf = SignatureBuf::new();
    signer.engine.sign(
        secrets,
        &ParamsBase {
            method: method.as_str(),
            uri: &base_uri,
            params: &params,
        },
        &mut signature_buf,
    )?;
    let signature = signature_buf.as_str().to_owned();
    drop(params);
    let signature_enc = encode(&signature);

    let output = match placement {
        Placement::Header => {
            let mut header = String::with_capacity(
                header_len(&protocol, &signature_enc) + options.realm.map_or(0, |r| r.len() + 10),
            );
            header.push_str("OAuth ");
            let mut first = true;
            if let Some(realm) = options.realm {
                header.push_str("realm=\"");
                header.push_str(realm);
                header.push('"');
                first = false;
            }
            for_each_protocol(&protocol, &signature_enc, |name, value| {
                if !first {
                    header.push_str(", ");
                }
                first = false;
                header.push_str(name);
                header.push_str("=\"");
                header.push_str(value);
                header.push('"');
            });
            let mut value = HeaderValue::try_from(header)
                .map_err(|_| SignError::InvalidOption { option: "realm" })?;
            value.set_sensitive(true);
            SignedOutput::Header(value)
        }
        Placement::Query => {
            let mut s = uri.to_string();
            match uri.query() {
                None => s.push('?'),
                Some(q) if q.is_empty() || q.ends_with('&') => {}
                Some(_) => s.push('&'),
            }
            append_form(&mut s, &protocol, &signature_enc);
            let uri = Uri::try_from(s).map_err(|_| RequestError::InvalidUri {
                reason: "the signed URI does not parse",
            })?;
            SignedOutput::Query(uri)
        }
        Placement::Body => {
            let body = form_body.unwrap_or_default();
            let mut s = String::with_capacity(body.len() + header_len(&protocol, &signature_enc));
            if let Some(form) = form {
                s.push_str(form);
                if !form.is_empty() && !form.ends_with('&') {
                    s.push('&');
                }
            }
            append_form(&mut s, &protocol, &signature_enc);
            SignedOutput::Body(s.into_bytes())
        }
    };
    Ok(Reference {
        output,
        signature,
        nonce: nonce.to_owned(),
        timestamp,
    })
}

fn count_pairs(s: &str) -> usize {
    if s.is_empty() {
        0
    } else {
        s.bytes().filter(|&b| b == b'&').count() + 1
    }
}

fn for_each_protocol(
    protocol: &[Option<Cow<'_, str>>; 10],
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
fn header_len(protocol: &[Option<Cow<'_, str>>; 10], signature_enc: &str) -> usize {
    let mut len = 6;
    for_each_protocol(protocol, signature_enc, |name, value| {
        len += name.len() + value.len() + 5;
    });
    len
}

/// Appends `name=value&...` for the protocol parameters.
fn append_form(out: &mut String, protocol: &[Option<Cow<'_, str>>; 10], signature_enc: &str) {
    let mut first = true;
    for_each_protocol(protocol, signature_enc, |name, value| {
        if !first {
            out.push('&');
        }
        first = false;
        out.push_str(name);
        out.push('=');
        // Already encoded; encoding again would double-escape.
        out.push_str(value);
    });
}
