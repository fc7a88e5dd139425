//! The server side: checking a signed request (RFC 5849 §3.2).
//!
//! Verification is two steps, because the server must look up the secrets for the client and
//! token the request names: [`UnverifiedRequest::parse`] collects the parameters (from an
//! [`IncomingRequest`], which [`IncomingRequest::from_parts`] builds from a server's request
//! parts), then
//! [`UnverifiedRequest::verify`] recomputes the signature and compares it in constant time.
//! Then check the timestamp window and the nonce for replay (RFC 5849 §3.3) with a
//! [`ReplayGuard`](super::ReplayGuard), or the server's own shared nonce store; and, when the
//! request carries `oauth_body_hash`, the body with [`ProtocolParameters::body_hash_matches`]
//! (the signature covers the hash, not the body).

use std::borrow::Cow;
use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::{Method, Uri};
use sha1::{Digest, Sha1};
use sha2::{Sha256, Sha512};

use super::base_string::{BaseUri, Origin, ParamsBase, base_string};
use super::engine::{Engine, SignatureBuf, digest, is_plaintext_name};
use super::error::{RequestError, VerifyError, bounded_name};
use super::header::AuthorizationHeader;
use super::method::{CustomSignatureMethod, SignatureMethod, SigningSecrets};
use super::params::{EncodedParam, collect_form, sort_params, write_normalized};
use super::rsa_key::RsaPublicKey;
use crate::encode::{percent_decode, percent_encode};
use crate::secret::{Verifier, constant_time_eq};

/// A request as the server received it: the parts RFC 5849 §3.4.1 signs.
#[derive(Clone, Copy)]
pub struct IncomingRequest<'a> {
    method: &'a Method,
    uri: &'a Uri,
    origin: Option<Origin<'a>>,
    authorization: Option<&'a str>,
    form_body: Option<&'a [u8]>,
}

impl fmt::Debug for IncomingRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IncomingRequest")
            .field("method", self.method)
            .field("uri", &self.uri.path())
            .field("origin", &self.origin)
            .field("authorization", &self.authorization.map(|_| "[redacted]"))
            .field("form_body", &self.form_body.map(<[u8]>::len))
            .finish()
    }
}

impl<'a> IncomingRequest<'a> {
    /// A request with this method and URI (absolute, or origin-form plus [`origin`](Self::origin)).
    pub fn new(method: &'a Method, uri: &'a Uri) -> Self {
        Self {
            method,
            uri,
            origin: None,
            authorization: None,
            form_body: None,
        }
    }

    /// A request from its `http` parts as a server received them (axum's and hyper's
    /// `Request::into_parts`), the scheme it arrived on (see [`origin`](Self::origin): behind a
    /// proxy that ends TLS, `https`), and its body (empty if it had none). Reads what RFC 5849
    /// §3.4.1 signs and nothing else:
    /// - the origin: `scheme` and the `Host` header, or, with no `Host` header (HTTP/2), the
    ///   URI's authority (the URI's scheme must then be `scheme`);
    /// - the first `Authorization` header whose scheme is `OAuth`; others (a gateway's `Basic`,
    ///   say) are not read;
    /// - the body, only if the `Content-Type` is a single-part form
    ///   ([`is_form_content_type`](super::is_form_content_type)). Any other body is not signed:
    ///   check it with [`ProtocolParameters::body_hash_matches`] when the request carries
    ///   `oauth_body_hash`.
    ///
    /// The request of RFC 5849 §3.4.1, as axum hands it to a handler:
    ///
    /// ```
    /// use oauth_core::oauth1::{IncomingRequest, SigningSecrets, UnverifiedRequest, VerifyKey};
    /// use oauth_core::secret::{ConsumerSecret, TokenSecret};
    ///
    /// let request = http::Request::post("/request?b5=%3D%253D&a3=a&c%40=&a2=r%20b")
    ///     .header("host", "example.com")
    ///     .header("content-type", "application/x-www-form-urlencoded")
    ///     .header(
    ///         "authorization",
    ///         concat!(
    ///             r#"OAuth realm="Example", oauth_consumer_key="9djdj82h48djs9d2", "#,
    ///             r#"oauth_token="kkk9d7dh3k39sjv7", oauth_signature_method="HMAC-SHA1", "#,
    ///             r#"oauth_timestamp="137131201", oauth_nonce="7d8f3e4a", "#,
    ///             r#"oauth_signature="r6%2FTJjbCOr97%2F%2BUU0NsvSne7s5g%3D""#,
    ///         ),
    ///     )
    ///     .body(b"c2&a3=2+q".to_vec())?;
    /// let (parts, body) = request.into_parts();
    /// let unverified = UnverifiedRequest::parse(IncomingRequest::from_parts(&parts, "http", &body))?;
    /// // Look up the secrets of the client and token the request names.
    /// assert_eq!(unverified.consumer_key(), "9djdj82h48djs9d2");
    /// let (consumer_secret, token_secret) = (ConsumerSecret::new("j49sk3j29djd"), TokenSecret::new("dh893hdasih9"));
    /// let verified = unverified.verify(VerifyKey::Secrets(SigningSecrets {
    ///     consumer_secret: &consumer_secret,
    ///     token_secret: Some(&token_secret),
    /// }))?;
    /// assert_eq!(verified.token(), Some("kkk9d7dh3k39sjv7"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_parts(parts: &'a http::request::Parts, scheme: &'a str, body: &'a [u8]) -> Self {
        let mut request = Self::new(&parts.method, &parts.uri);
        let host = match parts.headers.get(http::header::HOST) {
            Some(host) => host.to_str().ok(),
            None => parts.uri.authority().map(http::uri::Authority::as_str),
        };
        if let Some(host) = host {
            request = request.origin(Origin::new(scheme, host));
        }
        let oauth = parts
            .headers
            .get_all(http::header::AUTHORIZATION)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .find(|value| is_oauth_scheme(value));
        if let Some(value) = oauth {
            request = request.authorization(value);
        }
        if parts
            .headers
            .get(http::header::CONTENT_TYPE)
            .is_some_and(super::is_form_content_type)
        {
            request = request.form_body(body);
        }
        request
    }

    /// The scheme the request arrived on and its `Host` header, for an origin-form URI (what
    /// axum and hyper hand a server: `/path?query`). The scheme must be the one the client
    /// signed: behind a proxy that ends TLS it is `https` although the server sees `http`,
    /// and a wrong one fails as a plain signature mismatch.
    ///
    /// Give it for an absolute URI too (an HTTP/1.1 absolute-form target, or an HTTP/2 URI built
    /// from `:scheme` and `:authority`): the URI must then name the same scheme, host and port,
    /// or [`UnverifiedRequest::parse`] fails with [`RequestError::InvalidUri`], so that a client
    /// cannot make a plain-http request pass for https or claim another host. Behind a proxy
    /// that ends TLS and speaks HTTP/2 to the server (the URI then says `http`), pass the path
    /// and query alone (`uri.path_and_query()`) with the origin the client used.
    #[must_use]
    pub fn origin(mut self, origin: Origin<'a>) -> Self {
        self.origin = Some(origin);
        self
    }

    /// The `Authorization` header value, when its scheme is `OAuth` (case-insensitive). Do not
    /// call this for another scheme (`Basic`, `Bearer`): [`UnverifiedRequest::parse`] refuses
    /// such a value ([`HeaderError::NotOAuth`](super::HeaderError::NotOAuth)), even when the
    /// protocol parameters are in the query or the form body.
    #[must_use]
    pub fn authorization(mut self, value: &'a str) -> Self {
        self.authorization = Some(value);
        self
    }

    /// The body, if the request is a single-part `application/x-www-form-urlencoded` one (see
    /// [`is_form_content_type`](super::is_form_content_type)).
    #[must_use]
    pub fn form_body(mut self, body: &'a [u8]) -> Self {
        self.form_body = Some(body);
        self
    }
}

/// Whether an `Authorization` value's scheme is `OAuth` (case-insensitive, RFC 9110 §11.1).
fn is_oauth_scheme(value: &str) -> bool {
    let scheme = value.split(' ').next().unwrap_or_default();
    scheme.eq_ignore_ascii_case("OAuth")
}

/// The protocol parameters of a request (RFC 5849 §3.1), decoded.
pub struct ProtocolParameters {
    consumer_key: String,
    token: Option<String>,
    signature_method: String,
    nonce: Option<String>,
    timestamp: Option<u64>,
    version: Option<String>,
    callback: Option<String>,
    verifier: Option<Verifier>,
    body_hash: Option<String>,
    realm: Option<String>,
    /// Whether these came out of a successful [`UnverifiedRequest::verify`].
    verified: bool,
}

impl fmt::Debug for ProtocolParameters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ProtocolParameters")
            .field("consumer_key", &self.consumer_key)
            .field("token", &self.token)
            .field("signature_method", &self.signature_method)
            .field("nonce", &self.nonce)
            .field("timestamp", &self.timestamp)
            .field("version", &self.version)
            .field("callback", &self.callback)
            .field("verifier", &self.verifier)
            .field("body_hash", &self.body_hash)
            .field("realm", &self.realm)
            .finish()
    }
}

impl ProtocolParameters {
    /// Whether the signature of the request these came from verified: true for those
    /// [`UnverifiedRequest::verify`] returns, false for [`UnverifiedRequest::parameters`].
    pub fn is_verified(&self) -> bool {
        self.verified
    }

    /// `oauth_consumer_key`.
    pub fn consumer_key(&self) -> &str {
        &self.consumer_key
    }
    /// `oauth_token`, absent in a temporary-credential request.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }
    /// `oauth_signature_method`.
    pub fn signature_method(&self) -> &str {
        &self.signature_method
    }
    /// `oauth_nonce` (required except with PLAINTEXT): check it for replay.
    pub fn nonce(&self) -> Option<&str> {
        self.nonce.as_deref()
    }
    /// `oauth_timestamp` (required except with PLAINTEXT): check it against your window.
    pub fn timestamp(&self) -> Option<u64> {
        self.timestamp
    }
    /// `oauth_version`, if sent (always `1.0` once verified).
    pub fn version(&self) -> Option<&str> {
        self.version.as_deref()
    }
    /// `oauth_callback` (temporary-credential requests).
    pub fn callback(&self) -> Option<&str> {
        self.callback.as_deref()
    }
    /// `oauth_verifier` (token-credential requests).
    pub fn verifier(&self) -> Option<&Verifier> {
        self.verifier.as_ref()
    }
    /// `oauth_body_hash`, if sent; check it with [`body_hash_matches`](Self::body_hash_matches).
    pub fn body_hash(&self) -> Option<&str> {
        self.body_hash.as_deref()
    }
    /// The `realm` of the `Authorization` header.
    pub fn realm(&self) -> Option<&str> {
        self.realm.as_deref()
    }
    /// Whether `oauth_body_hash` is present and equals the base64 SHA-1 of `body` (OAuth Request
    /// Body Hash extension; an absent body is hashed as the empty one).
    ///
    /// A request whose body is not a form and that carries no `oauth_body_hash` verifies: the
    /// extension (§4.2) lets the provider accept it for interoperability with clients that do not
    /// send the hash, or refuse it. Its body is then not covered by anything (RFC 5849 §4.12), and
    /// this returns false, so a provider that requires the hash refuses the request when this is
    /// false.
    pub fn body_hash_matches(&self, body: &[u8]) -> bool {
        let Some(sent) = &self.body_hash else {
            return false;
        };
        let expected = STANDARD.encode(Sha1::digest(body));
        constant_time_eq(sent.as_bytes(), expected.as_bytes())
    }
}

/// What to check the signature with.
#[derive(Clone, Copy)]
#[non_exhaustive]
pub enum VerifyKey<'a> {
    /// The shared secrets of the client and token: accepts HMAC-SHA1/256/512, and PLAINTEXT
    /// over https. Check [`UnverifiedRequest::signature_method`] first if your policy is
    /// narrower.
    Secrets(SigningSecrets<'a>),
    /// The client's RSA public key: accepts RSA-SHA1/256/512.
    Rsa(&'a RsaPublicKey),
    /// A custom method, accepted when the request names it.
    Custom(&'a dyn CustomSignatureMethod, SigningSecrets<'a>),
}

impl fmt::Debug for VerifyKey<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Secrets(_) => f.write_str("Secrets([redacted])"),
            Self::Rsa(key) => f.debug_tuple("Rsa").field(key).finish(),
            Self::Custom(m, _) => write!(f, "Custom({}, [redacted])", m.name()),
        }
    }
}

/// A request whose parameters are collected but whose signature is not yet checked.
pub struct UnverifiedRequest<'a> {
    method: &'a Method,
    base_uri: BaseUri<'a>,
    params: Vec<EncodedParam<'a>>,
    protocol: ProtocolParameters,
    signature: String,
    allow_plaintext_over_http: bool,
}

impl fmt::Debug for UnverifiedRequest<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("UnverifiedRequest")
            .field("method", self.method)
            .field("base_uri", &self.base_uri.to_string())
            .field("protocol", &self.protocol)
            .field("signature", &"[redacted]")
            .finish_non_exhaustive()
    }
}

#[derive(Default)]
struct Found {
    consumer_key: Option<String>,
    token: Option<String>,
    signature_method: Option<String>,
    signature: Option<String>,
    nonce: Option<String>,
    timestamp: Option<String>,
    version: Option<String>,
    callback: Option<String>,
    verifier: Option<String>,
    body_hash: Option<String>,
}

impl<'a> UnverifiedRequest<'a> {
    /// Collects the parameters of `request` from the query, the `Authorization` header (minus
    /// `realm`) and the form body (RFC 5849 §3.4.1.3.1), and extracts the protocol parameters.
    ///
    /// Each protocol parameter must appear once in the whole request (§3.1), and all `oauth_*`
    /// parameters in one place: the header, the form body or the query (§3.5); `oauth_version`, if
    /// present, must be `1.0`; `oauth_timestamp` must be a positive integer. A request with a form
    /// body must not carry `oauth_body_hash` ([`VerifyError::BodyHashWithFormBody`], OAuth Request
    /// Body Hash §4.1.1, §4.2).
    ///
    /// # Errors
    ///
    /// Fails with a [`VerifyError`] for a request that breaks one of these rules (a parameter
    /// repeated or split across places, a bad `oauth_version` or `oauth_timestamp`, a required
    /// protocol parameter missing, a body hash with a form body) or whose URI or parameters do not
    /// decode.
    pub fn parse(request: IncomingRequest<'a>) -> Result<Self, VerifyError> {
        let base_uri = BaseUri::new(request.uri, request.origin)?;
        let mut params: Vec<EncodedParam<'a>> = Vec::new();
        collect_form(request.uri.query().unwrap_or(""), false, &mut params)?;
        let query_end = params.len();
        if let Some(body) = request.form_body {
            let body = std::str::from_utf8(body).map_err(|_| {
                RequestError::InvalidEncoding(crate::encode::DecodeError::InvalidUtf8)
            })?;
            collect_form(body, false, &mut params)?;
        }
        let body_end = params.len();
        let place = |index: usize| {
            if index < query_end {
                "query"
            } else if index < body_end {
                "form body"
            } else {
                "Authorization header"
            }
        };
        let mut realm = None;
        if let Some(value) = request.authorization {
            let header = AuthorizationHeader::parse(value)?;
            realm = header.realm().map(str::to_owned);
            for (name, value) in header.params() {
                params.push((
                    Cow::Owned(percent_encode(name).into_owned()),
                    Cow::Owned(percent_encode(value).into_owned()),
                ));
            }
        }

        let mut found = Found::default();
        let mut signature_index = None;
        // Checked after the loop, so that the same parameter twice reads as a duplicate.
        let mut places = Places::default();
        for (index, (name, value)) in params.iter().enumerate() {
            if !name.starts_with("oauth_") {
                continue;
            }
            let slot = match name.as_ref() {
                "oauth_consumer_key" => &mut found.consumer_key,
                "oauth_token" => &mut found.token,
                "oauth_signature_method" => &mut found.signature_method,
                "oauth_signature" => {
                    signature_index = Some(index);
                    &mut found.signature
                }
                "oauth_nonce" => &mut found.nonce,
                "oauth_timestamp" => &mut found.timestamp,
                "oauth_version" => &mut found.version,
                "oauth_callback" => &mut found.callback,
                "oauth_verifier" => &mut found.verifier,
                "oauth_body_hash" => &mut found.body_hash,
                _ => {
                    places.arrived_in(place(index));
                    continue;
                }
            };
            if slot.is_some() {
                return Err(RequestError::DuplicateProtocolParameter {
                    name: bounded_name(name),
                }
                .into());
            }
            places.arrived_in(place(index));
            *slot = Some(
                percent_decode(value)
                    .map_err(RequestError::from)?
                    .into_owned(),
            );
        }
        if let Some((first, second)) = places.split {
            return Err(VerifyError::ProtocolParametersSplit { first, second });
        }
        // Body Hash §4.1.1, §4.2: a form body is signed as parameters, never hashed.
        if request.form_body.is_some() && found.body_hash.is_some() {
            return Err(VerifyError::BodyHashWithFormBody);
        }
        if let Some(index) = signature_index {
            params.swap_remove(index);
        }
        sort_params(&mut params);

        let consumer_key = found
            .consumer_key
            .ok_or(VerifyError::MissingParameter("oauth_consumer_key"))?;
        let signature_method = found
            .signature_method
            .ok_or(VerifyError::MissingParameter("oauth_signature_method"))?;
        let signature = found
            .signature
            .ok_or(VerifyError::MissingParameter("oauth_signature"))?;
        let plaintext = signature_method == SignatureMethod::Plaintext.name();
        if !plaintext {
            if found.nonce.is_none() {
                return Err(VerifyError::MissingParameter("oauth_nonce"));
            }
            if found.timestamp.is_none() {
                return Err(VerifyError::MissingParameter("oauth_timestamp"));
            }
        }
        let timestamp = match &found.timestamp {
            None => None,
            Some(t) => Some(parse_timestamp(t)?),
        };
        if found.version.as_deref().is_some_and(|v| v != "1.0") {
            return Err(VerifyError::UnsupportedVersion);
        }
        Ok(Self {
            method: request.method,
            base_uri,
            params,
            protocol: ProtocolParameters {
                consumer_key,
                token: found.token,
                signature_method,
                nonce: found.nonce,
                timestamp,
                version: found.version,
                callback: found.callback,
                verifier: found.verifier.map(Verifier::new),
                body_hash: found.body_hash,
                realm,
                verified: false,
            },
            signature,
            allow_plaintext_over_http: false,
        })
    }

    /// `oauth_consumer_key`: look up the client's secret or public key with it.
    pub fn consumer_key(&self) -> &str {
        &self.protocol.consumer_key
    }

    /// `oauth_token`, if any: look up the token secret with it.
    pub fn token(&self) -> Option<&str> {
        self.protocol.token.as_deref()
    }

    /// `oauth_signature_method` as sent.
    pub fn signature_method(&self) -> &str {
        &self.protocol.signature_method
    }

    /// All protocol parameters (not yet authenticated).
    pub fn parameters(&self) -> &ProtocolParameters {
        &self.protocol
    }

    /// The normalised request parameters (RFC 5849 §3.4.1.3.2), `oauth_signature` excluded.
    pub fn normalized_parameters(&self) -> String {
        let mut out = String::new();
        write_normalized(&mut out, &self.params);
        out
    }

    /// The signature base string (RFC 5849 §3.4.1.1) the signature must cover.
    pub fn base_string(&self) -> String {
        base_string(self.method.as_str(), &self.base_uri, &self.params)
    }

    /// Accepts PLAINTEXT over plain `http://`, where the shared secrets travel in clear text.
    /// For local test servers only.
    #[must_use]
    pub fn dangerous_allow_plaintext_over_http(mut self) -> Self {
        self.allow_plaintext_over_http = true;
        self
    }

    /// Recomputes the signature with `key` and compares it in constant time. On success returns
    /// the protocol parameters; the caller still checks the nonce and timestamp.
    ///
    /// # Errors
    ///
    /// Fails with [`VerifyError::SignatureMismatch`] when the signature does not match,
    /// [`VerifyError::UnsupportedSignatureMethod`] when `oauth_signature_method` is not one `key`
    /// can check, [`VerifyError::InsecureTransport`] for PLAINTEXT over plain `http` without
    /// [`dangerous_allow_plaintext_over_http`](Self::dangerous_allow_plaintext_over_http),
    /// [`VerifyError::InvalidSignatureEncoding`] for an RSA signature that is not base64, and
    /// [`VerifyError::Internal`] when recomputing fails (an HMAC failure, or a custom method that
    /// fails or produces an empty signature).
    pub fn verify(self, key: VerifyKey<'_>) -> Result<ProtocolParameters, VerifyError> {
        let name = self.protocol.signature_method.as_str();
        let method_str = self.method.as_str();
        let params_base = ParamsBase {
            method: method_str,
            uri: &self.base_uri,
            params: &self.params,
        };
        let ok = match key {
            VerifyKey::Secrets(secrets) => {
                let method = SignatureMethod::from_name(name)
                    .filter(|m| !m.is_rsa())
                    .ok_or(VerifyError::UnsupportedSignatureMethod)?;
                if method == SignatureMethod::Plaintext
                    && !self.base_uri.is_https()
                    && !self.allow_plaintext_over_http
                {
                    return Err(VerifyError::InsecureTransport);
                }
                let engine = Engine::shared(method, secrets)
                    .ok_or(VerifyError::UnsupportedSignatureMethod)?;
                let mut expected = SignatureBuf::new();
                engine
                    .sign(secrets, &params_base, &mut expected)
                    .map_err(|_| VerifyError::Internal)?;
                constant_time_eq(expected.as_bytes(), self.signature.as_bytes())
            }
            VerifyKey::Rsa(public) => {
                let method = SignatureMethod::from_name(name)
                    .filter(|m| m.is_rsa())
                    .ok_or(VerifyError::UnsupportedSignatureMethod)?;
                let signature = STANDARD
                    .decode(&self.signature)
                    .map_err(|_| VerifyError::InvalidSignatureEncoding)?;
                match method {
                    SignatureMethod::RsaSha256 => public.verify_prehash(
                        method,
                        &digest(Sha256::default(), &params_base),
                        &signature,
                    ),
                    SignatureMethod::RsaSha512 => public.verify_prehash(
                        method,
                        &digest(Sha512::default(), &params_base),
                        &signature,
                    ),
                    _ => public.verify_prehash(
                        method,
                        &digest(Sha1::default(), &params_base),
                        &signature,
                    ),
                }
            }
            VerifyKey::Custom(custom, secrets) => {
                if custom.name() != name {
                    return Err(VerifyError::UnsupportedSignatureMethod);
                }
                if is_plaintext_name(name)
                    && !self.base_uri.is_https()
                    && !self.allow_plaintext_over_http
                {
                    return Err(VerifyError::InsecureTransport);
                }
                let base = self.base_string();
                let mut expected = String::new();
                custom
                    .sign(secrets, &base, &mut expected)
                    .map_err(|_| VerifyError::Internal)?;
                // An empty signature would match any request that sends `oauth_signature=""`.
                if expected.is_empty() {
                    return Err(VerifyError::Internal);
                }
                constant_time_eq(expected.as_bytes(), self.signature.as_bytes())
            }
        };
        if ok {
            let mut protocol = self.protocol;
            protocol.verified = true;
            Ok(protocol)
        } else {
            Err(VerifyError::SignatureMismatch)
        }
    }
}

/// Where the `oauth_*` parameters of a request arrived (RFC 5849 §3.5 allows one place).
#[derive(Default)]
struct Places {
    first: Option<&'static str>,
    split: Option<(&'static str, &'static str)>,
}

impl Places {
    fn arrived_in(&mut self, here: &'static str) {
        match self.first {
            None => self.first = Some(here),
            Some(first) if first != here && self.split.is_none() => {
                self.split = Some((first, here));
            }
            Some(_) => {}
        }
    }
}

/// `oauth_timestamp`: a positive integer of decimal digits (RFC 5849 §3.3).
fn parse_timestamp(value: &str) -> Result<u64, VerifyError> {
    if value.is_empty() || value.len() > 20 || !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err(VerifyError::InvalidTimestamp);
    }
    match value.parse::<u64>() {
        Ok(t) if t > 0 => Ok(t),
        _ => Err(VerifyError::InvalidTimestamp),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timestamp_parsing() {
        assert_eq!(parse_timestamp("137131201"), Ok(137131201));
        for bad in [
            "",
            "0",
            "abc",
            "-1",
            "+1",
            " 1",
            "1.0",
            "99999999999999999999999",
            // Longer than any u64 is refused before parsing, zero-padded or not.
            "000000000000000000001",
            "018446744073709551615",
        ] {
            assert_eq!(
                parse_timestamp(bad),
                Err(VerifyError::InvalidTimestamp),
                "{bad}"
            );
        }
    }

    /// Up to 20 digits (as long as `u64::MAX`) are read as the number they spell.
    #[test]
    fn timestamps_of_up_to_twenty_digits_parse() {
        assert_eq!(parse_timestamp("18446744073709551615"), Ok(u64::MAX));
        assert_eq!(parse_timestamp("00000000000137131201"), Ok(137131201));
        assert_eq!(parse_timestamp("1"), Ok(1));
    }
}
