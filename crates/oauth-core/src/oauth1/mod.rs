//! OAuth 1.0a (RFC 5849): signing and verifying requests, and the pure half of the
//! three-legged dance (§2).
//!
//! A [`Signer`] is built once from the client credentials (and token credentials, once the
//! dance has produced them) and signs each request: it collects the query and form-body
//! parameters (§3.4.1.3), adds a fresh `oauth_nonce` and a non-decreasing `oauth_timestamp`
//! (§3.3), computes the signature (§3.4) and returns the protocol parameters as an
//! `Authorization` header, a new query string or a new form body (§3.5). It takes the method,
//! `&http::Uri` and the form body bytes, never the request itself, so a tower middleware can sign
//! without copying anything.
//!
//! Servers (and test providers) use [`UnverifiedRequest`] to collect the parameters of an
//! incoming request, look up the secrets for its consumer key and token, and
//! [`verify`](UnverifiedRequest::verify) the signature in constant time.
//!
//! | RFC 5849 | here |
//! |---|---|
//! | §2.1, §2.3 credentials responses | [`parse_credentials_response`], [`CredentialsResponse`], [`ProviderError`] |
//! | §2.2 resource owner authorization | [`authorization_url`], [`parse_callback`], [`CallbackError`] |
//! | §3.1 making requests, §3.5 placement | [`Signer::sign`], [`SignOptions`], [`Placement`] |
//! | §3.2 verifying requests | [`UnverifiedRequest`], [`VerifyKey`] |
//! | §3.3 nonce and timestamp (replay) | [`ReplayGuard`], [`ReplayError`] |
//! | §3.4 signature methods | [`SignatureMethod`], [`RsaPrivateKey`], [`CustomSignatureMethod`] |
//! | §3.4.1.2 base string URI | [`base_string_uri`] |
//! | §3.4.1.3.1 form bodies | [`is_form_content_type`] |
//! | §3.4.1.3.2 normalisation | [`normalize_parameters`] |
//! | §3.5.1 `Authorization` header | [`AuthorizationHeader`] |
//!
//! The dance's requests are signed like any other; the tower crate `tower-oauth1` sends them
//! and feeds the answers to the §2 parsers here.
//!
//! The signature covers the method, the URI and the query and form parameters only: other
//! bodies and headers are not authenticated (§4.12) unless the body-hash option is used.
//!
//! # Example
//!
//! Sign the third request of RFC 5849 §1.2 (whose vector uses plain `http`), then verify it as the
//! server would:
//!
//! ```
//! use http::{Method, Uri};
//! use oauth_core::oauth1::{
//!     ClientCredentials, IncomingRequest, Placement, SignOptions, Signer, SigningSecrets,
//!     TokenCredentials, UnverifiedRequest, VerifyKey,
//! };
//! use oauth_core::secret::{ConsumerSecret, TokenSecret};
//!
//! let signer = Signer::builder(ClientCredentials::new(
//!     "dpf43f3p2l4k3l03",
//!     ConsumerSecret::new("kd94hf93k423kf44"),
//! ))
//! .token(TokenCredentials::new("nnch734d00sl2jdk", TokenSecret::new("pfkkdhi9sl3r4s00")))
//! .build()?;
//!
//! let uri: Uri = "http://photos.example.net/photos?file=vacation.jpg&size=original".parse()?;
//! let options = SignOptions::new()
//!     .realm("Photos")
//!     .version(false)
//!     .nonce("chapoH")
//!     .timestamp(137131202);
//! let signed = signer.sign(&Method::GET, &uri, None, &options, Placement::Header)?;
//! assert_eq!(signed.signature(), "MdpQcU8iPSUjWoN/UDMsK2sui9I=");
//!
//! // Server side.
//! let header = signed.authorization().unwrap_or_default();
//! let request = UnverifiedRequest::parse(IncomingRequest::new(&Method::GET, &uri).authorization(header))?;
//! assert_eq!(request.consumer_key(), "dpf43f3p2l4k3l03");
//! let consumer_secret = ConsumerSecret::new("kd94hf93k423kf44");
//! let token_secret = TokenSecret::new("pfkkdhi9sl3r4s00");
//! let verified = request.verify(VerifyKey::Secrets(SigningSecrets {
//!     consumer_secret: &consumer_secret,
//!     token_secret: Some(&token_secret),
//! }))?;
//! assert_eq!(verified.nonce(), Some("chapoH"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod authorize;
mod base_string;
mod credentials;
mod engine;
mod error;
mod fast;
mod header;
mod hmac_sha1;
mod method;
mod nonce;
mod params;
mod replay;
mod response;
mod rsa_key;
mod sign;
mod verify;

/// The transport rule for the dance's endpoints and the authorization URL (the same as OAuth 2's).
pub use crate::oauth2::Transport;
pub use authorize::{AuthorizationUrlError, CallbackError, authorization_url, parse_callback};
pub use base_string::{Origin, base_string_uri, signature_base_string};
pub use credentials::{ClientCredentials, TokenCredentials};
pub use engine::sign_base_string;
pub use error::{
    ConfigError, CustomMethodError, HeaderError, KeyError, RequestError, SignError, VerifyError,
};
pub use header::{AuthorizationHeader, MAX_HEADER_LEN, MAX_HEADER_PARAMS};
pub use method::{CustomSignatureMethod, SignatureMethod, SigningSecrets};
pub use params::{
    FORM_CONTENT_TYPE, has_protocol_parameter, is_form_content_type, normalize_parameters,
};
pub use replay::{MAX_NONCE_LEN, ReplayError, ReplayGuard};
pub use response::{
    CredentialsResponse, CredentialsResponseError, NotCredentials, ProviderError,
    parse_credentials_response,
};
pub use rsa_key::{DEFAULT_MIN_RSA_BITS, RsaPrivateKey, RsaPublicKey};
pub use sign::{
    NONCE_LEN, Placement, SignOptions, Signed, SignedOutput, Signer, SignerBuilder,
    is_valid_callback, is_valid_realm,
};
pub use verify::{IncomingRequest, ProtocolParameters, UnverifiedRequest, VerifyKey};
