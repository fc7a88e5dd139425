//! The client side: [`Signer`] signs requests (RFC 5849 §3.1–§3.5).

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::SystemTime;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderValue, Method, Uri};
use sha1::{Digest, Sha1};

use super::base_string::{BaseUri, format_u64, format_u64_ascii};
use super::credentials::{ClientCredentials, TokenCredentials};
use super::engine::{Engine, SignatureBuf};
use super::error::{RequestError, SignError};
use super::fast::{
    Param, ParamList, collect_params, encode_into, encode_to_slice, encoded_len, scratch_len,
};
use super::method::{SignatureMethod, SigningSecrets};
pub use super::nonce::NONCE_LEN;
use super::nonce::{generate_nonce, generate_pooled, read_clock};
use super::params::encode;
use crate::clock::{Clock, RandomError, RandomSource, SystemClock, SystemRandom, unix_seconds};
use crate::encode::percent_encode;

mod builder;
mod options;
mod parts;

pub use builder::SignerBuilder;
use options::NonceBuf;
pub use options::{Placement, SignOptions, Signed, SignedOutput};
use parts::{
    BODY_HASH, CALLBACK, CONSUMER_KEY, FixedParts, HEADER_VERSION, LARGE_SCRATCH, NONCE,
    PROTOCOL_NAMES, SIGNATURE, SIGNATURE_METHOD, SMALL_SCRATCH, SigningBase, TIMESTAMP, TOKEN,
    VERIFIER, VERSION, sorts_before_protocol,
};

/// Signs requests for one client (and optionally one token) with one signature method
/// (RFC 5849 §3).
///
/// Built once; everything that depends only on the credentials (the keyed HMAC state, the
/// encoded consumer key and token) is computed then, so each [`sign`](Self::sign) is cheap.
/// Every call draws a fresh 24-character nonce from the [`RandomSource`] and a timestamp from the
/// [`Clock`] that never decreases across calls (a clock stepping back is clamped).
///
/// Cloning is cheap and clones share the timestamp clamp, the clock and the random source.
///
/// # Example
///
/// ```
/// use http::{Method, Uri};
/// use oauth_core::oauth1::{ClientCredentials, Placement, SignOptions, Signer, TokenCredentials};
/// use oauth_core::secret::{ConsumerSecret, TokenSecret};
///
/// let signer = Signer::builder(ClientCredentials::new(
///     "xvz1evFS4wEEPTGEFPHBog",
///     ConsumerSecret::new("kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw"),
/// ))
/// .token(TokenCredentials::new(
///     "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb",
///     TokenSecret::new("LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE"),
/// ))
/// .build()?;
///
/// let uri: Uri = "https://api.twitter.com/1/statuses/update.json?include_entities=true".parse()?;
/// let body = b"status=Hello%20Ladies%20%2b%20Gentlemen%2c%20a%20signed%20OAuth%20request%21";
/// // Fixed nonce and timestamp to reproduce Twitter's documented example; leave them out in
/// // real code.
/// let options = SignOptions::new()
///     .nonce("kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg")
///     .timestamp(1318622958);
/// let signed = signer.sign(&Method::POST, &uri, Some(body), &options, Placement::Header)?;
/// assert_eq!(signed.signature(), "tnnArxj06cWHq44gCs1OSKk/jLY=");
/// assert!(signed.authorization().unwrap().starts_with("OAuth oauth_consumer_key=\"xvz1evFS4wEEPTGEFPHBog\", "));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct Signer {
    client: ClientCredentials,
    token: Option<TokenCredentials>,
    fixed: Arc<FixedParts>,
    engine: Engine,
    clock: Arc<dyn Clock>,
    random: Arc<dyn RandomSource>,
    /// Nonces come from the thread's ChaCha stream (default random source only).
    pooled_nonces: bool,
    /// `clock` is the default [`SystemClock`], so its readings can mix the nonce stream.
    system_clock: bool,
    last_timestamp: Arc<AtomicU64>,
    allow_plaintext_over_http: bool,
}

impl fmt::Debug for Signer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Signer")
            .field("client", &self.client)
            .field("token", &self.token)
            .field("method", &self.engine)
            .field("clock", &self.clock)
            .field("random", &self.random)
            .field("allow_plaintext_over_http", &self.allow_plaintext_over_http)
            .finish()
    }
}

impl Signer {
    /// Starts configuring a signer for these client credentials.
    pub fn builder(client: ClientCredentials) -> SignerBuilder {
        SignerBuilder {
            client,
            token: None,
            method: SignatureMethod::HmacSha1,
            rsa_key: None,
            custom: None,
            clock: Arc::new(SystemClock),
            random: Arc::new(SystemRandom::new()),
            default_random: true,
            system_clock: true,
            allow_plaintext_over_http: false,
        }
    }

    /// A signer for the same client, method, clock and random source with other token
    /// credentials (or none), for the next step of the OAuth dance. The two share their
    /// timestamp clamp, so timestamps never go back from one step to the next, even when the
    /// clock does (a provider may refuse a timestamp older than the last, RFC 5849 §3.3).
    pub fn with_token(&self, token: Option<TokenCredentials>) -> Signer {
        let engine = match &self.engine {
            Engine::Rsa(..) | Engine::Custom(_) => self.engine.clone(),
            shared => {
                let method =
                    SignatureMethod::from_name(shared.name()).unwrap_or(SignatureMethod::HmacSha1);
                let secrets = SigningSecrets {
                    consumer_secret: self.client.secret(),
                    token_secret: token.as_ref().map(TokenCredentials::secret),
                };
                Engine::shared(method, secrets).unwrap_or_else(|| self.engine.clone())
            }
        };
        Signer {
            client: self.client.clone(),
            fixed: Arc::new(FixedParts::new(
                self.client.key(),
                token.as_ref().map(TokenCredentials::token),
                engine.name(),
            )),
            token,
            engine,
            clock: Arc::clone(&self.clock),
            random: Arc::clone(&self.random),
            pooled_nonces: self.pooled_nonces,
            system_clock: self.system_clock,
            // One clamp for the whole dance: a timestamp never goes back across its steps.
            last_timestamp: Arc::clone(&self.last_timestamp),
            allow_plaintext_over_http: self.allow_plaintext_over_http,
        }
    }

    /// The client credentials.
    pub fn client(&self) -> &ClientCredentials {
        &self.client
    }

    /// The token credentials, if any.
    pub fn token(&self) -> Option<&TokenCredentials> {
        self.token.as_ref()
    }

    /// The `oauth_signature_method` value sent.
    pub fn method_name(&self) -> &str {
        self.engine.name()
    }

    /// The next `oauth_timestamp`: the clock in whole seconds, never less than the previous one,
    /// and at least 1 (RFC 5849 §3.3: a positive integer, even for a clock at the epoch).
    pub fn next_timestamp(&self) -> Result<u64, SignError> {
        self.clamp_timestamp(unix_seconds(self.clock.now())?)
    }

    /// The timestamp for a clock reading of `now` Unix seconds: at least 1, never less than the
    /// previous one.
    fn clamp_timestamp(&self, now: u64) -> Result<u64, SignError> {
        let now = now.max(1);
        // Within the second already recorded (the usual case) a load is enough; the atomic
        // read-modify-write, which makes threads that sign at once contend, only when it moves.
        let previous = self.last_timestamp.load(Ordering::Relaxed);
        if now <= previous {
            return Ok(previous);
        }
        let previous = self.last_timestamp.fetch_max(now, Ordering::Relaxed);
        Ok(previous.max(now))
    }

    /// What the thread's nonce stream is mixed with: `reading`, the request's reading of the
    /// system clock when it took one, or a fresh reading of the system clock.
    ///
    /// Never a custom clock's reading: a process that forks after signing shares its stream
    /// with the child, and the two diverge only through the nanoseconds of their readings; a
    /// fixed or coarse custom clock would make them repeat each other's nonces.
    fn nonce_mix(&self, reading: Option<u64>) -> u64 {
        match reading {
            Some(mix) if self.system_clock => mix,
            _ => read_clock(SystemTime::now()).1,
        }
    }

    /// Fills `out` with a fresh nonce; `reading` is the mix from the request's clock reading,
    /// if it took one.
    fn fill_nonce(
        &self,
        reading: Option<u64>,
        out: &mut [u8; NONCE_LEN],
    ) -> Result<(), RandomError> {
        if self.pooled_nonces {
            generate_pooled(&*self.random, self.nonce_mix(reading), out)
        } else {
            generate_nonce(&*self.random, out)
        }
    }

    /// A fresh `oauth_nonce`: 24 ASCII alphanumerics (≈143 bits) from the random source.
    pub fn next_nonce(&self) -> Result<String, SignError> {
        let mut buf = [0u8; NONCE_LEN];
        self.fill_nonce(None, &mut buf)?;
        Ok(buf.iter().map(|&b| char::from(b)).collect())
    }

    /// Signs a request (RFC 5849 §3.1) and returns the protocol parameters in `placement`.
    ///
    /// `form_body` is the body if, and only if, the request is a single-part
    /// `application/x-www-form-urlencoded` one (see
    /// [`is_form_content_type`](super::is_form_content_type)); its parameters are signed
    /// (§3.4.1.3.1), whatever the method. Other bodies are not covered by the signature unless
    /// [`SignOptions::body_hash`] is used.
    ///
    /// Fails with [`SignError::DuplicateProtocolParameter`] if the query or the body already has
    /// an `oauth_*` parameter, and with [`SignError::InsecureTransport`] for PLAINTEXT over
    /// `http://` unless the signer allows it.
    pub fn sign(
        &self,
        method: &Method,
        uri: &Uri,
        form_body: Option<&[u8]>,
        options: &SignOptions<'_>,
        placement: Placement,
    ) -> Result<Signed, SignError> {
        let base_uri = BaseUri::new(uri, options.origin)?;
        if self.engine.is_plaintext() && !base_uri.is_https() && !self.allow_plaintext_over_http {
            return Err(SignError::InsecureTransport);
        }
        // (Body placement makes the body a form: the hashed body would not be the one sent.)
        if options.body_hash.is_some() && (form_body.is_some() || placement == Placement::Body) {
            return Err(SignError::BodyHashWithFormBody);
        }
        if options.realm.is_some_and(|realm| !is_valid_realm(realm)) {
            return Err(SignError::InvalidOption { option: "realm" });
        }
        // RFC 5849 §3.3: a positive integer (and the verifier refuses 0).
        if options.timestamp == Some(0) {
            return Err(SignError::InvalidOption {
                option: "timestamp",
            });
        }
        let form = form_body;
        // A form body that is not UTF-8 is reported before any later error; the body itself
        // is only checked when the collector below meets a byte that is not ASCII, or here on
        // the way out of an error.
        let utf8_first = |error: SignError| match form {
            Some(form) if std::str::from_utf8(form).is_err() => {
                SignError::InvalidEncoding(crate::encode::DecodeError::InvalidUtf8)
            }
            _ => error,
        };

        let mut mix = None;
        let timestamp = match options.timestamp {
            Some(t) => t,
            None => {
                let (seconds, reading_mix) = read_clock(self.clock.now());
                mix = Some(reading_mix);
                self.clamp_timestamp(seconds.map_err(|e| utf8_first(e.into()))?)
                    .map_err(utf8_first)?
            }
        };
        let mut nonce_buf = [0u8; NONCE_LEN];
        // The encoded nonce as bytes: a generated one is alphanumeric, so it is kept as it is,
        // without a UTF-8 check (only the query and body placements need it as `&str`).
        let nonce_enc: Cow<'_, [u8]> = match options.nonce {
            Some(n) => match encode(n) {
                Cow::Borrowed(e) => Cow::Borrowed(e.as_bytes()),
                Cow::Owned(e) => Cow::Owned(e.into_bytes()),
            },
            None => {
                self.fill_nonce(mix, &mut nonce_buf)
                    .map_err(|e| utf8_first(e.into()))?;
                // Alphanumeric: nothing to encode.
                Cow::Borrowed(&nonce_buf[..])
            }
        };
        // The nonce as `Signed` keeps it, copied now rather than at the end: there, moving
        // `Signed` read the copy back before its stores had landed (a store-forwarding stall).
        let nonce = match options.nonce {
            Some(n) => NonceBuf::from_str(n),
            None => NonceBuf::from_ascii(&nonce_buf),
        };
        let mut ts_buf = [0u8; 20];
        let timestamp_digits = format_u64_ascii(timestamp, &mut ts_buf);
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

        let callback = options.callback.map(encode);
        let verifier = options.verifier.map(|v| encode(v.secret()));

        // The query and form parameters, canonical and encoded again, in `scratch`.
        let query = uri.query().unwrap_or("").as_bytes();
        let need = scratch_len(query.len()) + form.map_or(0, |f| scratch_len(f.len()));
        // Only the buffer chosen is zeroed.
        let mut small;
        let mut large;
        let mut heap;
        let scratch: &mut [u8] = if need <= SMALL_SCRATCH {
            small = [0u8; SMALL_SCRATCH];
            &mut small
        } else if need <= LARGE_SCRATCH {
            large = [0u8; LARGE_SCRATCH];
            &mut large
        } else {
            heap = vec![0u8; need];
            &mut heap
        };
        let mut pos = 0;
        let mut list = ParamList::new();
        collect_params(query, scratch, &mut pos, &mut list, &mut false)
            .map_err(|e| utf8_first(e.into()))?;
        if let Some(form) = form {
            // The form body must be UTF-8. The collector only notes bytes that are not ASCII
            // (the usual case has none); the body is checked when it has some, or when the
            // collector failed (the UTF-8 error comes first).
            let mut non_ascii = false;
            let collected = collect_params(form, scratch, &mut pos, &mut list, &mut non_ascii);
            if non_ascii || collected.is_err() {
                collected.map_err(|e| utf8_first(e.into()))?;
                // Bytes that are not ASCII but decoded fine: still the whole body must be UTF-8.
                std::str::from_utf8(form).map_err(|_| {
                    SignError::InvalidEncoding(crate::encode::DecodeError::InvalidUtf8)
                })?;
            }
        }
        let scratch = &*scratch;
        let params = list.as_mut_slice();
        let by_name_then_value = |a: &Param, b: &Param| {
            let (a_name, b_name) = (a.name(scratch), b.name(scratch));
            // Names mostly differ in their first byte, which then decides without a `memcmp`
            // call.
            match (a_name.first(), b_name.first()) {
                (Some(x), Some(y)) if x != y => x.cmp(y),
                _ => a_name
                    .cmp(b_name)
                    .then_with(|| a.value(scratch).cmp(b.value(scratch))),
            }
        };
        match params {
            [] | [_] => {}
            // Two parameters (a common case) need one comparison, not the sort's insertion
            // pass. Equal ones are the same bytes, so their order does not matter.
            [a, b] => {
                if by_name_then_value(a, b).is_gt() {
                    params.swap(0, 1);
                }
            }
            _ => params.sort_unstable_by(by_name_then_value),
        }
        let split = params.partition_point(|p| sorts_before_protocol(p.name(scratch)));

        let base = SigningBase {
            method: method.as_str(),
            uri: &base_uri,
            scratch,
            params,
            split,
            body_hash: body_hash.as_deref(),
            callback: callback.as_deref(),
            nonce: &nonce_enc,
            timestamp: timestamp_digits,
            verifier: verifier.as_deref(),
            version: options.version,
            fixed: &self.fixed,
        };
        let secrets = SigningSecrets {
            consumer_secret: self.client.secret(),
            token_secret: self.token.as_ref().map(TokenCredentials::secret),
        };
        let mut signature = SignatureBuf::new();
        self.engine.sign(secrets, &base, &mut signature)?;

        let output = match placement {
            Placement::Header => {
                let header = self.header(
                    options.realm,
                    body_hash.as_deref(),
                    callback.as_deref(),
                    &nonce_enc,
                    signature.as_bytes(),
                    timestamp_digits,
                    verifier.as_deref(),
                    options.version,
                );
                let mut value = HeaderValue::try_from(header)
                    .map_err(|_| SignError::InvalidOption { option: "realm" })?;
                value.set_sensitive(true);
                SignedOutput::Header(value)
            }
            placement => {
                let mut ts_buf = [0u8; 20];
                let timestamp_str = format_u64(timestamp, &mut ts_buf);
                let signature_enc = encode(signature.as_str());
                let mut protocol: [Option<&str>; 10] = Default::default();
                protocol[BODY_HASH] = body_hash.as_deref();
                protocol[CALLBACK] = callback.as_deref();
                protocol[CONSUMER_KEY] = Some(&self.fixed.consumer_key_enc);
                // ASCII (encoded or alphanumeric), so this never fails.
                let nonce_enc = std::str::from_utf8(&nonce_enc).map_err(|_| RandomError)?;
                protocol[NONCE] = Some(nonce_enc);
                protocol[SIGNATURE_METHOD] = Some(&self.fixed.method_name_enc);
                protocol[TIMESTAMP] = Some(timestamp_str);
                protocol[TOKEN] = self.fixed.token_enc.as_deref();
                protocol[VERIFIER] = verifier.as_deref();
                if options.version {
                    protocol[VERSION] = Some("1.0");
                }
                if placement == Placement::Query {
                    let mut s = uri.to_string().into_bytes();
                    // No empty component before the parameters (`?&`, `&&`): the signer
                    // skipped it, and a strict parser would refuse it.
                    match uri.query() {
                        None => s.push(b'?'),
                        Some(q) if q.is_empty() || q.ends_with('&') => {}
                        Some(_) => s.push(b'&'),
                    }
                    append_form(&mut s, &protocol, &signature_enc);
                    let uri = Uri::try_from(s).map_err(|_| RequestError::InvalidUri {
                        reason: "the signed URI does not parse",
                    })?;
                    SignedOutput::Query(uri)
                } else {
                    let body = form_body.unwrap_or_default();
                    let mut s =
                        Vec::with_capacity(body.len() + header_len(&protocol, &signature_enc));
                    if let Some(form) = form {
                        s.extend_from_slice(form);
                        if !form.is_empty() && !form.ends_with(b"&") {
                            s.push(b'&');
                        }
                    }
                    append_form(&mut s, &protocol, &signature_enc);
                    SignedOutput::Body(s)
                }
            }
        };
        Ok(Signed {
            output,
            signature,
            nonce,
            timestamp,
        })
    }

    /// The `Authorization` header value (RFC 5849 §3.5.1): `OAuth `, the realm, then the
    /// protocol parameters in name order, built in one exactly-sized buffer.
    #[allow(clippy::too_many_arguments)]
    fn header(
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
fn header_len(protocol: &[Option<&str>; 10], signature_enc: &str) -> usize {
    let mut len = 6;
    for_each_protocol(protocol, signature_enc, |name, value| {
        len += name.len() + value.len() + 5;
    });
    len
}

/// Appends `name=value&...` for the protocol parameters.
fn append_form(out: &mut Vec<u8>, protocol: &[Option<&str>; 10], signature_enc: &str) {
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

/// Whether `realm` can be sent as the `Authorization` header's `realm` (RFC 5849 §3.5.1, a
/// quoted string) as it is: printable ASCII (`' '` to `'~'`) without `"` and `\`. The rule
/// [`SignOptions::realm`] is held to; an empty realm is allowed.
///
/// ```
/// use oauth_core::oauth1::is_valid_realm;
///
/// assert!(is_valid_realm("http://sp.example.com/ Photos"));
/// assert!(!is_valid_realm("say \"hi\""));
/// assert!(!is_valid_realm("caf\u{e9}"));
/// assert!(!is_valid_realm("line\nbreak"));
/// ```
pub fn is_valid_realm(realm: &str) -> bool {
    realm
        .bytes()
        .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\')
}

/// Whether `callback` can be sent as `oauth_callback` (RFC 5849 §2.1): `oob`, or an absolute
/// URI (any scheme: custom schemes of native apps too) with no fragment, space or control
/// character. An `http` or `https` URI also needs a non-empty host (RFC 9110 §4.2.1, §4.2.2):
/// `https://` or `https:///cb` is refused.
pub fn is_valid_callback(callback: &str) -> bool {
    if callback == "oob" {
        return true;
    }
    let Ok((scheme, rest)) = crate::oauth2::endpoint::split_absolute(callback) else {
        return false;
    };
    if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
        return true;
    }
    let Some(after) = rest.strip_prefix("//") else {
        return false;
    };
    let authority = after.split(['/', '?']).next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    match host_port.strip_prefix('[') {
        Some(literal) => literal
            .split_once(']')
            .is_some_and(|(ip, _)| !ip.is_empty()),
        None => !host_port.split(':').next().unwrap_or_default().is_empty(),
    }
}

#[cfg(test)]
mod reference;

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;
    use crate::clock::{CountingRandom, ManualClock};
    use crate::oauth1::error::CustomMethodError;
    use crate::oauth1::method::CustomSignatureMethod;
    use crate::oauth1::rsa_key::RsaPrivateKey;
    use crate::secret::{ConsumerSecret, TokenSecret, Verifier};

    #[derive(Debug)]
    struct Stuck;
    impl RandomSource for Stuck {
        fn fill(&self, dest: &mut [u8]) -> Result<(), RandomError> {
            dest.fill(0xFF);
            Ok(())
        }
    }

    #[test]
    fn nonce_is_alphanumeric_and_a_stuck_source_is_an_error() {
        let mut buf = [0u8; NONCE_LEN];
        generate_nonce(&CountingRandom::new(1), &mut buf).unwrap();
        assert!(buf.iter().all(u8::is_ascii_alphanumeric));
        assert_eq!(generate_nonce(&Stuck, &mut buf), Err(RandomError));
    }

    #[test]
    fn default_signers_use_the_thread_stream_and_custom_sources_do_not() {
        let credentials = || ClientCredentials::new("k", ConsumerSecret::new("s"));
        let default = Signer::builder(credentials()).build().unwrap();
        assert!(default.pooled_nonces);
        let a = default.next_nonce().unwrap();
        let b = default.clone().next_nonce().unwrap();
        assert_ne!(a, b);
        assert!(a.bytes().all(|c| c.is_ascii_alphanumeric()) && a.len() == NONCE_LEN);
        let custom = Signer::builder(credentials())
            .random(SystemRandom::new())
            .build()
            .unwrap();
        assert!(!custom.pooled_nonces);
        assert!(!custom.with_token(None).pooled_nonces);
        assert!(default.with_token(None).pooled_nonces);
    }

    /// O1-02 (RFC 5849 §3.3, §4.9): a signer built without a random source draws its nonces
    /// from the operating system's CSPRNG (`SystemRandom`, which seeds the thread streams). A
    /// predictable default (a counter) would still give nonces that never repeat within one
    /// process, so the collision tests cannot tell; this pins the source itself.
    #[test]
    fn the_default_nonce_source_is_the_system_csprng() {
        let credentials = || ClientCredentials::new("k", ConsumerSecret::new("s"));
        let default = Signer::builder(credentials()).build().unwrap();
        assert_eq!(format!("{:?}", default.random), "SystemRandom");
        assert!(default.pooled_nonces);
        // The next step of the dance keeps it.
        let next = default.with_token(Some(TokenCredentials::new("t", TokenSecret::new("ts"))));
        assert_eq!(format!("{:?}", next.random), "SystemRandom");
    }

    /// After `fork()` parent and child hold copies of one thread stream and diverge only
    /// through what it is mixed with: a custom clock's reading (fixed, or coarse) must not be
    /// it, or both would draw the same nonces.
    #[test]
    fn only_the_system_clock_mixes_the_nonce_stream() {
        let credentials = || ClientCredentials::new("k", ConsumerSecret::new("s"));
        let custom = Signer::builder(credentials())
            .clock(ManualClock::at_unix_seconds(1000))
            .build()
            .unwrap();
        assert!(custom.pooled_nonces && !custom.system_clock);
        assert!(!custom.with_token(None).system_clock);
        let reading = read_clock(custom.clock.now()).1;
        assert_ne!(custom.nonce_mix(Some(reading)), reading);
        let default = Signer::builder(credentials()).build().unwrap();
        assert!(default.system_clock);
        assert_eq!(default.nonce_mix(Some(reading)), reading);

        // The fork: two copies of one stream, each signing at "the same" custom-clock time.
        let random = SystemRandom::new();
        let parent = crate::oauth1::nonce::NonceStream::seeded(&random).unwrap();
        let mut child = parent.clone();
        let mut parent = parent;
        let (mut a, mut b) = ([0u8; NONCE_LEN], [0u8; NONCE_LEN]);
        // What the old code did: the same custom reading on both sides, the same nonce.
        parent.clone().generate(&random, reading, &mut a).unwrap();
        child.clone().generate(&random, reading, &mut b).unwrap();
        assert_eq!(a, b);
        parent
            .generate(&random, custom.nonce_mix(Some(reading)), &mut a)
            .unwrap();
        std::thread::sleep(std::time::Duration::from_micros(5));
        child
            .generate(&random, custom.nonce_mix(Some(reading)), &mut b)
            .unwrap();
        assert_ne!(a, b);
    }

    #[test]
    fn a_signer_reports_its_credentials_and_method_and_debug_hides_the_secrets() {
        let signer = Signer::builder(ClientCredentials::new(
            "dpf43f3p2l4k3l03",
            ConsumerSecret::new("kd94hf93k423kf44"),
        ))
        .token(TokenCredentials::new(
            "nnch734d00sl2jdk",
            TokenSecret::new("pfkkdhi9sl3r4s00"),
        ))
        .build()
        .unwrap();
        assert_eq!(signer.client().key(), "dpf43f3p2l4k3l03");
        assert_eq!(
            signer.token().map(TokenCredentials::token),
            Some("nnch734d00sl2jdk")
        );
        assert_eq!(signer.method_name(), "HMAC-SHA1");
        let temporary = signer.with_token(None);
        assert!(temporary.token().is_none());
        assert_eq!(temporary.client().key(), "dpf43f3p2l4k3l03");

        let debug = format!("{signer:?}");
        for shown in [
            "Signer",
            "dpf43f3p2l4k3l03",
            "nnch734d00sl2jdk",
            "HMAC-SHA1",
            "SystemRandom",
            "allow_plaintext_over_http: false",
        ] {
            assert!(debug.contains(shown), "{shown} missing from {debug}");
        }
        for secret in ["kd94hf93k423kf44", "pfkkdhi9sl3r4s00"] {
            assert!(!debug.contains(secret), "{debug}");
        }
    }

    #[test]
    fn sorts_before_protocol_is_byte_order() {
        for name in [
            "", "a", "o", "oauth", "oauth-", "oauth_", "oauth_x", "oauthz", "oa~", "p", "Z", "~",
        ] {
            assert_eq!(
                sorts_before_protocol(name.as_bytes()),
                name.as_bytes() < b"oauth_".as_slice(),
                "{name}"
            );
        }
    }

    #[test]
    fn timestamps_never_decrease() {
        let clock = ManualClock::at_unix_seconds(1000);
        let signer = Signer::builder(ClientCredentials::new("k", ConsumerSecret::new("s")))
            .clock(clock.clone())
            .build()
            .unwrap();
        assert_eq!(signer.next_timestamp().unwrap(), 1000);
        clock.set(std::time::UNIX_EPOCH + std::time::Duration::from_secs(900));
        assert_eq!(signer.next_timestamp().unwrap(), 1000);
        clock.advance(std::time::Duration::from_secs(200));
        assert_eq!(signer.next_timestamp().unwrap(), 1100);
        clock.set(std::time::UNIX_EPOCH - std::time::Duration::from_secs(1));
        assert!(matches!(signer.next_timestamp(), Err(SignError::Clock(_))));
        // The next step of the dance carries the clamp on, both ways.
        clock.set(std::time::UNIX_EPOCH + std::time::Duration::from_secs(500));
        let next = signer.with_token(Some(TokenCredentials::new("t", TokenSecret::new("ts"))));
        assert_eq!(next.next_timestamp().unwrap(), 1100);
        clock.set(std::time::UNIX_EPOCH + std::time::Duration::from_secs(1200));
        assert_eq!(next.next_timestamp().unwrap(), 1200);
        clock.set(std::time::UNIX_EPOCH + std::time::Duration::from_secs(600));
        assert_eq!(signer.next_timestamp().unwrap(), 1200);
    }

    /// A custom method whose signature is the base string itself, so comparing signatures
    /// compares base strings.
    #[derive(Debug)]
    struct EchoBase;
    impl CustomSignatureMethod for EchoBase {
        fn name(&self) -> &str {
            "ECHO+BASE"
        }
        fn sign(
            &self,
            _: SigningSecrets<'_>,
            base_string: &str,
            out: &mut String,
        ) -> Result<(), CustomMethodError> {
            out.push_str(base_string);
            Ok(())
        }
    }

    /// A custom method whose signature is longer than any built-in one and is all characters
    /// that percent-encoding triples.
    #[derive(Debug)]
    struct Escaped;
    impl CustomSignatureMethod for Escaped {
        fn name(&self) -> &str {
            "X-ESCAPED"
        }
        fn sign(
            &self,
            _: SigningSecrets<'_>,
            _: &str,
            out: &mut String,
        ) -> Result<(), CustomMethodError> {
            out.push_str(&"+/".repeat(50));
            out.push('=');
            Ok(())
        }
    }

    /// However long the signature and however many of its characters need escaping, the
    /// header carries all of it, percent-encoded (RFC 5849 §3.5.1, §3.6).
    #[test]
    fn a_long_signature_needing_escapes_is_sent_whole_in_the_header() {
        let signer = Signer::builder(ClientCredentials::new("k", ConsumerSecret::new("s")))
            .custom_method(Arc::new(Escaped))
            .build()
            .unwrap();
        let uri: Uri = "https://example.com/p".parse().unwrap();
        let options = SignOptions::new().nonce("n").timestamp(1);
        let signed = signer
            .sign(&Method::GET, &uri, None, &options, Placement::Header)
            .unwrap();
        let raw = format!("{}=", "+/".repeat(50));
        assert_eq!(signed.signature(), raw);
        assert_eq!(
            signed.authorization().unwrap(),
            format!(
                "OAuth oauth_consumer_key=\"k\", oauth_nonce=\"n\", oauth_signature=\"{}%3D\", \
                 oauth_signature_method=\"X-ESCAPED\", oauth_timestamp=\"1\", \
                 oauth_version=\"1.0\"",
                "%2B%2F".repeat(50)
            )
        );
    }

    fn rsa_key() -> RsaPrivateKey {
        static KEY: std::sync::OnceLock<RsaPrivateKey> = std::sync::OnceLock::new();
        KEY.get_or_init(|| {
            let pem = std::fs::read_to_string(concat!(
                env!("CARGO_MANIFEST_DIR"),
                "/tests/vectors/oauth1/oauthlib_rsa_1024_pkcs1.pem"
            ))
            .unwrap();
            RsaPrivateKey::from_pem_with_min_bits(&pem, 1024).unwrap()
        })
        .clone()
    }

    fn test_signer(method: usize, consumer_key: &str, token: Option<&str>) -> Signer {
        let mut builder = Signer::builder(ClientCredentials::new(
            consumer_key,
            ConsumerSecret::new("c s€"),
        ))
        .clock(ManualClock::at_unix_seconds(1_300_000_000))
        .random(CountingRandom::new(3));
        if let Some(token) = token {
            builder = builder.token(TokenCredentials::new(token, TokenSecret::new("t&s")));
        }
        builder = match method {
            0 => builder,
            1 => builder.method(SignatureMethod::HmacSha256),
            2 => builder.method(SignatureMethod::HmacSha512),
            3 => builder
                .method(SignatureMethod::Plaintext)
                .dangerous_allow_plaintext_over_http(),
            4 => builder.method(SignatureMethod::RsaSha1).rsa_key(rsa_key()),
            _ => builder.custom_method(Arc::new(EchoBase)),
        };
        builder.build().unwrap()
    }

    fn output_bytes(output: &SignedOutput) -> (u8, Vec<u8>, bool) {
        match output {
            SignedOutput::Header(v) => (0, v.as_bytes().to_vec(), v.is_sensitive()),
            SignedOutput::Query(u) => (1, u.to_string().into_bytes(), false),
            SignedOutput::Body(b) => (2, b.clone(), false),
        }
    }

    /// Form data that exercises every branch of the collector: escapes of reserved, unreserved
    /// and non-ASCII bytes, bad escapes, `+`, empty segments, `oauth_` names.
    const FORM: &str =
        "(%[0-9a-fA-F]{2}|%[0-9a-fA-F]?|[+=&a-zA-Z0-9._~!*'(),;:@/?$]|oauth_|oauth%5F|%C3|é){0,16}";
    /// Mostly valid form data (escapes of ASCII and of whole UTF-8 characters).
    const VALID_FORM: &str =
        "(%[0-7][0-9a-fA-F]|%C3%A9|[+=&a-zA-Z0-9._~!*'(),;:@/?$]|oauth|%5F|é){0,16}";

    fn form_data() -> impl Strategy<Value = String> {
        prop_oneof![4 => VALID_FORM, 1 => FORM]
    }

    /// The body is checked for UTF-8 only when it has bytes that are not ASCII, yet a body
    /// that is not UTF-8 is still reported before the query's errors, as the reference does.
    #[test]
    fn utf8_errors_keep_their_place() {
        let cases: [(&str, &[u8]); 5] = [
            ("https://e.example/?oauth_x=1", b"a=\xff"),
            ("https://e.example/?a=%zz", b"b=\xc3"),
            ("https://e.example/", b"a=\xff&oauth_y=2"),
            ("https://e.example/", "a=\u{e9}t\u{e9}&b=%C3%A9".as_bytes()),
            ("https://e.example/?q=1", b"a=%ff\xff"),
        ];
        for (uri, body) in cases {
            // Fresh signers: a failed signature may have drawn a nonce on one side only.
            let signer = test_signer(0, "k", Some("t"));
            let reference = test_signer(0, "k", Some("t"));
            let uri: Uri = uri.parse().unwrap();
            let options = SignOptions::new();
            let fast = signer.sign(&Method::POST, &uri, Some(body), &options, Placement::Body);
            let slow = reference::sign_reference(
                &reference,
                &Method::POST,
                &uri,
                Some(body),
                &options,
                Placement::Body,
            );
            match (fast, slow) {
                (Ok(a), Ok(b)) => assert_eq!(output_bytes(&a.output), output_bytes(&b.output)),
                (Err(a), Err(b)) => assert_eq!(a.to_string(), b.to_string()),
                (a, b) => panic!("{uri}: {:?} vs {:?}", a.err(), b.err()),
            }
        }
    }

    /// Many parameters (past the inline parameter list) and long values (past the stack
    /// scratch buffer and the digest buffer).
    #[test]
    fn large_requests_equal_reference() {
        // Past the small stack scratch buffer, then past the large one.
        for (params, repeat) in [(5, 15), (40, 150)] {
            let query: String = (0..params)
                .map(|i| format!("q{}=%2B{i}&", 40 - i))
                .collect();
            let uri: Uri = format!("https://example.com/p?{query}z=1").parse().unwrap();
            let body = format!(
                "a=%20{}&b=x+y&{}",
                "%E2%82%AC".repeat(repeat),
                "v&".repeat(30)
            );
            large_request_equals_reference(&uri, &body);
        }
    }

    fn large_request_equals_reference(uri: &Uri, body: &str) {
        for method in 0..6 {
            let fast = test_signer(method, "k", Some("t"));
            let slow = test_signer(method, "k", Some("t"));
            for placement in [Placement::Header, Placement::Query, Placement::Body] {
                let options = SignOptions::new().callback("https://c.example/?a=1");
                let a = fast
                    .sign(
                        &Method::POST,
                        uri,
                        Some(body.as_bytes()),
                        &options,
                        placement,
                    )
                    .unwrap();
                let b = reference::sign_reference(
                    &slow,
                    &Method::POST,
                    uri,
                    Some(body.as_bytes()),
                    &options,
                    placement,
                )
                .unwrap();
                assert_eq!(output_bytes(&a.output), output_bytes(&b.output));
                assert_eq!(a.signature(), b.signature);
                assert_eq!(a.nonce(), b.nonce);
            }
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(512))]

        /// The fast signer equals the reference one (the pre-optimisation implementation) on
        /// arbitrary requests: same output bytes, signature, nonce and timestamp, or the same
        /// error.
        #[test]
        fn fast_path_equals_reference(
            method in 0..6usize,
            consumer_key in "\\PC{0,6}",
            token in prop::option::of("\\PC{0,6}"),
            http_method in prop::sample::select(vec!["GET", "POST", "patch", "M-SEARCH"]),
            scheme in prop::sample::select(vec!["http", "HTTPS", "https"]),
            host in prop::sample::select(vec!["example.com", "EXAMPLE.org", "[::1]", "a-b.c", "u:p@Ex.com"]),
            port in prop::option::of(prop::sample::select(vec![80u16, 443, 8080])),
            path in "(/[a-zA-Z0-9%._~!$'()*+,;=:@-]{0,6}){0,3}",
            query in prop::option::of(form_data()),
            body in prop::option::of(prop_oneof![
                4 => form_data().prop_map(String::into_bytes),
                1 => "\\PC{0,12}".prop_map(String::into_bytes),
                1 => prop::collection::vec(any::<u8>(), 0..12),
            ]),
            callback in prop::option::of("\\PC{0,8}"),
            verifier in prop::option::of("\\PC{0,8}"),
            realm in prop::option::of(prop_oneof![4 => "[ -~]{0,6}", 1 => "\\PC{0,4}"]),
            version in any::<bool>(),
            body_hash in prop::option::weighted(0.2, prop::collection::vec(any::<u8>(), 0..8)),
            nonce in prop::option::of("\\PC{0,50}"),
            timestamp in prop::option::of(any::<u64>()),
            placement in prop::sample::select(vec![Placement::Header, Placement::Query, Placement::Body]),
        ) {
            let port = port.map_or(String::new(), |p| format!(":{p}"));
            let query = query.map_or(String::new(), |q| format!("?{q}"));
            let uri = format!("{scheme}://{host}{port}{path}{query}");
            let Ok(uri) = uri.parse::<Uri>() else {
                return Ok(());
            };
            let http_method = Method::from_bytes(http_method.as_bytes()).unwrap();
            let verifier = verifier.map(Verifier::new);
            let mut options = SignOptions::new().version(version);
            if let Some(callback) = &callback {
                options = options.callback(callback);
            }
            if let Some(verifier) = &verifier {
                options = options.verifier(verifier);
            }
            if let Some(realm) = &realm {
                options = options.realm(realm);
            }
            if let Some(body_hash) = &body_hash {
                options = options.body_hash(body_hash);
            }
            if let Some(nonce) = &nonce {
                options = options.nonce(nonce);
            }
            if let Some(timestamp) = timestamp {
                options = options.timestamp(timestamp);
            }
            // Identical signers, so both draw the same nonce and timestamp.
            let fast_signer = test_signer(method, &consumer_key, token.as_deref());
            let reference_signer = test_signer(method, &consumer_key, token.as_deref());
            for _ in 0..2 {
                let fast = fast_signer.sign(&http_method, &uri, body.as_deref(), &options, placement);
                let slow = reference::sign_reference(&reference_signer, &http_method, &uri, body.as_deref(), &options, placement);
                match (fast, slow) {
                    (Ok(fast), Ok(slow)) => {
                        prop_assert_eq!(output_bytes(&fast.output), output_bytes(&slow.output));
                        prop_assert_eq!(fast.signature(), slow.signature.as_str());
                        prop_assert_eq!(fast.nonce(), slow.nonce.as_str());
                        prop_assert_eq!(fast.timestamp(), slow.timestamp);
                    }
                    (Err(fast), Err(slow)) => prop_assert_eq!(fast, slow),
                    (fast, slow) => prop_assert!(false, "fast {:?}, reference {:?}", fast.map(|s| s.signature().to_owned()), slow.map(|s| s.signature)),
                }
            }
        }
    }
}
