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
use super::fast::{Param, ParamList, collect_params, scratch_len};
use super::method::{SignatureMethod, SigningSecrets};
pub use super::nonce::NONCE_LEN;
use super::nonce::{generate_nonce, generate_pooled, read_clock};
use super::params::encode;
use crate::clock::{Clock, RandomError, RandomSource, SystemClock, SystemRandom, unix_seconds};
use crate::encode::percent_encode;

mod builder;
mod options;
mod output;
mod parts;

pub use builder::SignerBuilder;
use options::NonceBuf;
pub use options::{Placement, SignOptions, Signed, SignedOutput};
use output::{append_form, header_len};
use parts::{
    BODY_HASH, CALLBACK, CONSUMER_KEY, FixedParts, LARGE_SCRATCH, NONCE, SIGNATURE_METHOD,
    SMALL_SCRATCH, SigningBase, TIMESTAMP, TOKEN, VERIFIER, VERSION, sorts_before_protocol,
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
    #[must_use]
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
    #[must_use]
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
    ///
    /// # Errors
    ///
    /// Fails with [`SignError::Clock`] when the clock reads a time before 1970.
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
    ///
    /// # Errors
    ///
    /// Fails with [`SignError::Random`] when the random source fails.
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
    /// # Errors
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
mod tests;
