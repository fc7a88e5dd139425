//! The client side: [`Signer`] signs requests (RFC 5849 §3.1–§3.5).

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{HeaderValue, Method, Uri};
use sha1::{Digest, Sha1};

use super::base_string::{BaseUri, Origin, format_u64};
use super::credentials::{ClientCredentials, TokenCredentials};
use super::engine::Engine;
use super::error::{ConfigError, RequestError, SignError};
use super::method::{CustomSignatureMethod, SignatureMethod, SigningSecrets};
use super::params::{EncodedParam, collect_form, encode, sort_params};
use super::rsa_key::RsaPrivateKey;
use crate::clock::{Clock, RandomError, RandomSource, SystemClock, SystemRandom, unix_seconds};
use crate::encode::percent_encode;
use crate::secret::Verifier;

/// Length of a generated `oauth_nonce`.
pub const NONCE_LEN: usize = 24;

const NONCE_ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// Fills `out` with ASCII alphanumerics drawn uniformly from `random` by rejection sampling
/// (24 characters carry log2(62^24) ≈ 142.9 bits; RFC 5849 §3.3, §4.9).
///
/// Alphanumerics only because Python oauthlib's provider accepts only 20–30 of them by default.
pub(crate) fn generate_nonce(
    random: &dyn RandomSource,
    out: &mut [u8; NONCE_LEN],
) -> Result<(), RandomError> {
    // 248 = 4 * 62: bytes at or above it would bias the draw, so they are skipped.
    const LIMIT: u8 = 248;
    let mut filled = 0;
    let mut buf = [0u8; 32];
    // A healthy source almost never needs a second round; a stuck one must not loop forever.
    for _ in 0..16 {
        random.fill(&mut buf)?;
        for &b in &buf {
            if b < LIMIT {
                out[filled] = NONCE_ALPHABET[usize::from(b % 62)];
                filled += 1;
                if filled == NONCE_LEN {
                    return Ok(());
                }
            }
        }
    }
    Err(RandomError)
}

/// Where the protocol parameters go (RFC 5849 §3.5).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
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
    /// publicly (RFC 5849 §4.4).
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
    callback: Option<&'a str>,
    verifier: Option<&'a Verifier>,
    realm: Option<&'a str>,
    version: bool,
    body_hash: Option<&'a [u8]>,
    nonce: Option<&'a str>,
    timestamp: Option<u64>,
    origin: Option<Origin<'a>>,
}

impl Default for SignOptions<'_> {
    fn default() -> Self {
        Self::new()
    }
}

impl<'a> SignOptions<'a> {
    /// No optional parameters; `oauth_version=1.0` is sent.
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
    /// requests).
    pub const fn callback(mut self, callback: &'a str) -> Self {
        self.callback = Some(callback);
        self
    }

    /// `oauth_verifier` (RFC 5849 §2.3, token-credential requests).
    pub const fn verifier(mut self, verifier: &'a Verifier) -> Self {
        self.verifier = Some(verifier);
        self
    }

    /// The `realm` of the `Authorization` header (RFC 5849 §3.5.1). Not signed, and not sent with
    /// the body or query placements. Printable ASCII without `"` and `\`.
    pub const fn realm(mut self, realm: &'a str) -> Self {
        self.realm = Some(realm);
        self
    }

    /// Whether to send `oauth_version=1.0` (optional per RFC 5849 §3.1; sent by default, as
    /// most libraries do).
    pub const fn version(mut self, send: bool) -> Self {
        self.version = send;
        self
    }

    /// Sends `oauth_body_hash`, the base64 SHA-1 of this (non-form) body (OAuth Request Body
    /// Hash extension), so the body is covered by the signature. Refused for form bodies.
    pub const fn body_hash(mut self, body: &'a [u8]) -> Self {
        self.body_hash = Some(body);
        self
    }

    /// Uses this `oauth_nonce` instead of a fresh random one. For tests and published vectors
    /// only: a repeated nonce lets a server reject the request, or worse (RFC 5849 §4.9).
    pub const fn nonce(mut self, nonce: &'a str) -> Self {
        self.nonce = Some(nonce);
        self
    }

    /// Uses this `oauth_timestamp` instead of the clock. For tests and published vectors only.
    pub const fn timestamp(mut self, timestamp: u64) -> Self {
        self.timestamp = Some(timestamp);
        self
    }

    /// Scheme and host for an origin-form request URI (`/path?query`).
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
    output: SignedOutput,
    signature: String,
    nonce: String,
    timestamp: u64,
}

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
        &self.signature
    }

    /// The `oauth_nonce` sent.
    pub fn nonce(&self) -> &str {
        &self.nonce
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
            .field("nonce", &self.nonce)
            .field("timestamp", &self.timestamp)
            .finish()
    }
}

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
    consumer_key_enc: String,
    token_enc: Option<String>,
    engine: Engine,
    method_name_enc: String,
    clock: Arc<dyn Clock>,
    random: Arc<dyn RandomSource>,
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

/// Configures a [`Signer`]; from [`Signer::builder`].
pub struct SignerBuilder {
    client: ClientCredentials,
    token: Option<TokenCredentials>,
    method: SignatureMethod,
    rsa_key: Option<RsaPrivateKey>,
    custom: Option<Arc<dyn CustomSignatureMethod>>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn RandomSource>,
    allow_plaintext_over_http: bool,
}

impl fmt::Debug for SignerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignerBuilder")
            .field("client", &self.client)
            .field("token", &self.token)
            .field("method", &self.method)
            .field("rsa_key", &self.rsa_key)
            .field("custom", &self.custom)
            .field("allow_plaintext_over_http", &self.allow_plaintext_over_http)
            .finish_non_exhaustive()
    }
}

impl SignerBuilder {
    /// Token (or temporary) credentials. Leave out for a temporary-credential request.
    pub fn token(mut self, token: TokenCredentials) -> Self {
        self.token = Some(token);
        self
    }

    /// The signature method; HMAC-SHA1 by default. The RSA methods also need
    /// [`rsa_key`](Self::rsa_key).
    pub fn method(mut self, method: SignatureMethod) -> Self {
        self.method = method;
        self
    }

    /// The RSA private key for the RSA methods.
    pub fn rsa_key(mut self, key: RsaPrivateKey) -> Self {
        self.rsa_key = Some(key);
        self
    }

    /// A custom signature method, replacing [`method`](Self::method).
    pub fn custom_method(mut self, method: Arc<dyn CustomSignatureMethod>) -> Self {
        self.custom = Some(method);
        self
    }

    /// The clock for `oauth_timestamp`; [`SystemClock`] by default.
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The random source for `oauth_nonce`; [`SystemRandom`] by default.
    pub fn random(mut self, random: impl RandomSource + 'static) -> Self {
        self.random = Arc::new(random);
        self
    }

    /// Allows PLAINTEXT signatures over plain `http://`, which sends the shared secrets in
    /// clear text (RFC 5849 §3.4.4 requires TLS). For local test servers only.
    pub fn dangerous_allow_plaintext_over_http(mut self) -> Self {
        self.allow_plaintext_over_http = true;
        self
    }

    /// Checks the configuration and precomputes the signing state.
    pub fn build(self) -> Result<Signer, ConfigError> {
        let secrets = SigningSecrets {
            consumer_secret: self.client.secret(),
            token_secret: self.token.as_ref().map(TokenCredentials::secret),
        };
        let engine = match (self.custom, self.method.is_rsa(), self.rsa_key) {
            (Some(custom), _, _) => Engine::Custom(custom),
            (None, true, Some(key)) => Engine::Rsa(self.method, key),
            (None, true, None) => return Err(ConfigError::MissingRsaKey),
            (None, false, Some(_)) => return Err(ConfigError::UnusedRsaKey),
            (None, false, None) => {
                Engine::shared(self.method, secrets).ok_or(ConfigError::MissingRsaKey)?
            }
        };
        Ok(Signer {
            consumer_key_enc: percent_encode(self.client.key()).into_owned(),
            token_enc: self
                .token
                .as_ref()
                .map(|t| percent_encode(t.token()).into_owned()),
            method_name_enc: percent_encode(engine.name()).into_owned(),
            engine,
            client: self.client,
            token: self.token,
            clock: self.clock,
            random: self.random,
            last_timestamp: Arc::new(AtomicU64::new(0)),
            allow_plaintext_over_http: self.allow_plaintext_over_http,
        })
    }
}

/// The protocol parameter names in sorted order, so the header lists them sorted.
const BODY_HASH: usize = 0;
const CALLBACK: usize = 1;
const CONSUMER_KEY: usize = 2;
const NONCE: usize = 3;
const SIGNATURE: usize = 4;
const SIGNATURE_METHOD: usize = 5;
const TIMESTAMP: usize = 6;
const TOKEN: usize = 7;
const VERIFIER: usize = 8;
const VERSION: usize = 9;
const PROTOCOL_NAMES: [&str; 10] = [
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
            allow_plaintext_over_http: false,
        }
    }

    /// A signer for the same client, method, clock and random source with other token
    /// credentials (or none), for the next step of the OAuth dance.
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
            token_enc: token
                .as_ref()
                .map(|t| percent_encode(t.token()).into_owned()),
            token,
            consumer_key_enc: self.consumer_key_enc.clone(),
            engine,
            method_name_enc: self.method_name_enc.clone(),
            clock: Arc::clone(&self.clock),
            random: Arc::clone(&self.random),
            last_timestamp: Arc::new(AtomicU64::new(0)),
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
        let now = unix_seconds(self.clock.now())?.max(1);
        let previous = self.last_timestamp.fetch_max(now, Ordering::Relaxed);
        Ok(previous.max(now))
    }

    /// A fresh `oauth_nonce`: 24 ASCII alphanumerics (≈143 bits) from the random source.
    pub fn next_nonce(&self) -> Result<String, SignError> {
        let mut buf = [0u8; NONCE_LEN];
        generate_nonce(&*self.random, &mut buf)?;
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
        if options.body_hash.is_some() && form_body.is_some() {
            return Err(SignError::BodyHashWithFormBody);
        }
        if let Some(realm) = options.realm {
            if !realm
                .bytes()
                .all(|b| (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\')
            {
                return Err(SignError::InvalidOption { option: "realm" });
            }
        }
        let form = match form_body {
            Some(body) => Some(std::str::from_utf8(body).map_err(|_| {
                SignError::InvalidEncoding(crate::encode::DecodeError::InvalidUtf8)
            })?),
            None => None,
        };

        let timestamp = match options.timestamp {
            Some(t) => t,
            None => self.next_timestamp()?,
        };
        let mut nonce_buf = [0u8; NONCE_LEN];
        let nonce: &str = match options.nonce {
            Some(n) => n,
            None => {
                generate_nonce(&*self.random, &mut nonce_buf)?;
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
        protocol[CONSUMER_KEY] = Some(Cow::Borrowed(&self.consumer_key_enc));
        protocol[NONCE] = Some(encode(nonce));
        protocol[SIGNATURE_METHOD] = Some(Cow::Borrowed(&self.method_name_enc));
        protocol[TIMESTAMP] = Some(Cow::Borrowed(timestamp_str));
        protocol[TOKEN] = self.token_enc.as_deref().map(Cow::Borrowed);
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
            consumer_secret: self.client.secret(),
            token_secret: self.token.as_ref().map(TokenCredentials::secret),
        };
        let mut signature = String::with_capacity(32);
        self.engine
            .sign(secrets, method.as_str(), &base_uri, &params, &mut signature)?;
        drop(params);
        let signature_enc = encode(&signature);

        let output = match placement {
            Placement::Header => {
                let mut header = String::with_capacity(
                    header_len(&protocol, &signature_enc)
                        + options.realm.map_or(0, |r| r.len() + 10),
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
                s.push(if uri.query().is_some() { '&' } else { '?' });
                append_form(&mut s, &protocol, &signature_enc);
                let uri = Uri::try_from(s).map_err(|_| RequestError::InvalidUri {
                    reason: "the signed URI does not parse",
                })?;
                SignedOutput::Query(uri)
            }
            Placement::Body => {
                let body = form_body.unwrap_or_default();
                let mut s =
                    String::with_capacity(body.len() + header_len(&protocol, &signature_enc));
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
        Ok(Signed {
            output,
            signature,
            nonce: nonce.to_owned(),
            timestamp,
        })
    }
}

fn count_pairs(s: &str) -> usize {
    if s.is_empty() {
        0
    } else {
        s.bytes().filter(|&b| b == b'&').count() + 1
    }
}

/// Calls `f` with each protocol parameter (name, encoded value), signature included, in order.
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::{CountingRandom, ManualClock};
    use crate::secret::ConsumerSecret;

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
    }

    #[test]
    fn count_pairs_bounds() {
        assert_eq!(count_pairs(""), 0);
        assert_eq!(count_pairs("a"), 1);
        assert_eq!(count_pairs("a=1&b=2"), 2);
    }
}
