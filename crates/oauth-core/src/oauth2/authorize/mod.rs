//! Authorization requests (RFC 6749 §4.1.1 with RFC 7636 PKCE and RFC 8707 resources), the
//! pending authorization they create, and callback parsing (RFC 6749 §4.1.2, RFC 9207).
//!
//! [`AuthorizationRequest::build`] returns the URL to send the user to and a
//! [`PendingAuthorization`] holding `state`, the PKCE verifier, the exact `redirect_uri` and the
//! expected issuer (and the OpenID Connect `nonce` and `max_age` when sent, for the ID token's
//! checks). The pending authorization is consumed once by
//! [`PendingAuthorization::parse_callback`], which checks the redirect URI it arrived at, `iss`,
//! then `state`, then `error`, and
//! returns a [`CodeExchange`] ready for the token request.
//!
//! A flow may ask for the response signed by the server (JARM, `response_mode=query.jwt`,
//! [`AuthorizationRequest::signed_response`]); its callback is then read with
//! [`PendingAuthorization::parse_signed_callback`], which verifies the response JWT with the
//! server's JWK set first, and the plain [`parse_callback`](PendingAuthorization::parse_callback)
//! refuses it.
//!
//! # Example
//!
//! ```
//! use oauth_core::clock::CountingRandom;
//! use oauth_core::oauth2::{
//!     AuthorizationRequest, CallbackError, Client, Endpoint, Issuer, RedirectUri, Scope, TokenRequest,
//! };
//!
//! let authorize = Endpoint::new("https://as.example.com/authorize").unwrap();
//! let redirect = RedirectUri::new("https://client.example.com/cb").unwrap();
//! let random = CountingRandom::new(1); // SystemRandom in production
//!
//! let (url, pending) = AuthorizationRequest::new(&authorize, "s6BhdRkqt3", &redirect)
//!     .scope(Scope::parse("read write"))
//!     .expect_issuer(Issuer::new("https://as.example.com").unwrap(), true)
//!     .build(&random)
//!     .unwrap();
//! assert!(url.to_string().contains("code_challenge_method=S256"));
//!
//! // The user comes back; the web framework hands us the full callback URL.
//! let callback = format!(
//!     "https://client.example.com/cb?code=SplxlOBeZQQYbYS6WxSbIA&state={}&iss=https%3A%2F%2Fas.example.com",
//!     pending.state()
//! );
//! let exchange = pending.parse_callback(&callback).unwrap();
//!
//! let token_endpoint = Endpoint::new("https://as.example.com/token").unwrap();
//! let client = Client::public("s6BhdRkqt3");
//! let request = TokenRequest::authorization_code(&token_endpoint, &client, exchange).build().unwrap();
//! assert_eq!(request.method(), http::Method::POST);
//! ```
#![cfg_attr(
    not(feature = "legacy"),
    doc = r#"
Without the `legacy` feature the implicit grant does not exist (RFC 9700 §2.1.2):

```compile_fail
use oauth_core::clock::CountingRandom;
use oauth_core::oauth2::{AuthorizationRequest, Endpoint, RedirectUri};
let e = Endpoint::new("https://as.example.com/authorize").unwrap();
let r = RedirectUri::new("https://client.example.com/cb").unwrap();
let _ = AuthorizationRequest::new(&e, "c", &r).implicit();
```

nor does the resource owner password grant (RFC 9700 §2.4):

```compile_fail
use oauth_core::oauth2::{Client, Endpoint, TokenRequest};
use oauth_core::secret::ResourceOwnerPassword;
let e = Endpoint::new("https://as.example.com/token").unwrap();
let _ = TokenRequest::password(&e, &Client::public("c"), "u", &ResourceOwnerPassword::new("p"));
```
"#
)]

use std::fmt;

use http::Uri;

use super::endpoint::{Endpoint, EndpointError, Issuer, RedirectUri};
use super::pkce::{self, PkceMethod};
use super::token::Scope;
use crate::clock::{RandomError, RandomSource, random_urlsafe};

mod callback;
mod request_object;
mod signed_response;

pub(crate) use callback::callback_state;
use callback::read_max_age;
pub use callback::{CallbackError, CodeExchange, PendingAuthorization};
pub use request_object::DEFAULT_REQUEST_OBJECT_LIFETIME;
pub(crate) use request_object::request_object;
pub use signed_response::{JWT_RESPONSE_MODE, SignedResponseError};

/// Bytes of randomness in a generated `state`: 32 octets (256 bits; RFC 6749 §10.10 asks for at
/// least 128 and recommends 160).
pub const STATE_BYTES: usize = 32;

/// The longest callback URL [`PendingAuthorization::parse_callback`] reads: 64 KiB.
pub const MAX_CALLBACK_LEN: usize = 64 * 1024;

/// The most parameters a callback may carry.
pub const MAX_CALLBACK_PARAMS: usize = 256;

/// Parameters the builder sets itself; [`AuthorizationRequest::param`] refuses them.
const RESERVED_AUTHORIZE_PARAMS: &[&str] = &[
    "response_type",
    "client_id",
    "redirect_uri",
    "scope",
    "state",
    "code_challenge",
    "code_challenge_method",
    "nonce",
    "resource",
    "client_secret",
    "dpop_jkt",
    // The callback is read from the query: a `fragment` or `form_post` response would never
    // reach `parse_callback`.
    "response_mode",
    // Client authentication adds the assertion (to pushed requests only: a credential never
    // goes through the browser).
    "client_assertion",
    "client_assertion_type",
];

/// Parameters a pushed request may not carry as extra parameters (RFC 9126 §2.1: `request_uri`
/// is the answer; a request object is pushed with [`AuthorizationRequest::signed_request`],
/// which signs the other parameters into it); [`AuthorizationRequest::build`] accepts them (a
/// JAR `request` made elsewhere, RFC 9101, or a `request_uri` obtained elsewhere).
const RESERVED_PUSHED_PARAMS: &[&str] = &["request_uri", "request"];

/// How the authorization request uses PKCE.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum PkceMode {
    Method(PkceMethod),
    Disabled,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
enum ResponseType {
    #[serde(rename = "code")]
    Code,
    #[serde(rename = "token")]
    Token,
}

/// The authorization request could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthorizeError {
    /// The random source failed.
    #[error(transparent)]
    Random(#[from] RandomError),
    /// A custom `state` was empty; an empty state would make the CSRF check meaningless.
    #[error("state must not be empty")]
    EmptyState,
    /// An extra parameter uses a name the builder sets itself.
    #[error("parameter {0:?} is set by the builder and cannot be added as an extra parameter")]
    ReservedParameter(String),
    /// The authorization endpoint's own query has a parameter the request sets too (a
    /// `response_type=token` there, say): the URL would carry it twice, and a server that
    /// reads the first would not see the request's.
    #[error("the authorization endpoint's query already has the parameter {0:?}")]
    EndpointQueryParameter(String),
    /// The server's metadata names no `authorization_endpoint`.
    #[error("the authorization server's metadata names no authorization_endpoint")]
    NoAuthorizationEndpoint,
    /// The resulting URL is invalid.
    #[error(transparent)]
    Endpoint(#[from] EndpointError),
    /// A pushed authorization request was given a client other than the one it names.
    #[error("the pushed authorization request names another client_id than its client")]
    ClientMismatch,
    /// The pushed authorization request could not be built (a client assertion could not be
    /// signed, say).
    #[error("the pushed authorization request could not be built")]
    InvalidPushedRequest,
    /// A `resource` is not an absolute URI without a fragment (RFC 8707 §2).
    #[error("a resource indicator must be an absolute URI without a fragment (RFC 8707 §2)")]
    InvalidResource,
    /// A `max_age` given as an extra parameter (or in the authorization endpoint's query) is
    /// not a whole number of seconds (ASCII digits without leading zeros, at most `u64::MAX`),
    /// or `max_age` is given more than once ([`AuthorizationRequest::max_age`] and a
    /// parameter, say): the ID token's `auth_time` could not be checked against the value the
    /// server reads.
    #[error(
        "max_age must be given once, as a whole number of seconds (OpenID Connect Core §3.1.2.1)"
    )]
    InvalidMaxAge,
    /// A signed request ([`AuthorizationRequest::signed_request`]) has no audience: the flow
    /// is not bound to an issuer ([`AuthorizationRequest::expect_issuer`], or start from
    /// [`AuthorizationRequest::from_metadata`]), whose identifier is the request object's `aud`
    /// (RFC 9101 §4).
    #[error(
        "a signed request object needs the authorization server's issuer as its audience: bind the flow to it (expect_issuer or from_metadata)"
    )]
    RequestObjectWithoutIssuer,
    /// The request object could not be signed.
    #[error("cannot sign the request object: {0}")]
    RequestObject(#[source] super::AssertionError),
    /// A signed response ([`AuthorizationRequest::signed_response`], JARM) was asked for, but
    /// the flow is not bound to an issuer ([`AuthorizationRequest::expect_issuer`], or start
    /// from [`AuthorizationRequest::from_metadata`]): the response's `iss` could not be
    /// checked.
    #[error(
        "a signed authorization response needs the authorization server's issuer to check its iss: bind the flow to it (expect_issuer or from_metadata)"
    )]
    SignedResponseWithoutIssuer,
}

/// A builder for the authorization request URL (RFC 6749 §4.1.1).
///
/// Defaults: `response_type=code`, a fresh random `state`, PKCE `S256` with a fresh 256-bit
/// verifier. Existing query parameters of the authorization endpoint are kept. The
/// [module docs](self#example) have a runnable example, from the URL to the token request.
pub struct AuthorizationRequest {
    endpoint: Endpoint,
    client_id: String,
    redirect_uri: RedirectUri,
    scope: Option<Scope>,
    resources: Vec<String>,
    extra: Vec<(String, String)>,
    pkce: PkceMode,
    issuer: Option<(Issuer, bool)>,
    nonce: bool,
    /// OpenID Connect `max_age`, in seconds.
    max_age: Option<u64>,
    custom_state: Option<String>,
    response_type: ResponseType,
    dpop_jkt: Option<String>,
    /// The key that signs the request object (JAR).
    signed: Option<super::PrivateKeyJwt>,
    signed_lifetime: std::time::Duration,
    /// Whether the response is asked for as a signed JWT (JARM, `response_mode=query.jwt`).
    signed_response: bool,
}

impl fmt::Debug for AuthorizationRequest {
    /// A custom `state` and the values of extension parameters (`id_token_hint`,
    /// `login_hint`…) are left out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AuthorizationRequest")
            .field("endpoint", &self.endpoint)
            .field("client_id", &self.client_id)
            .field("redirect_uri", &self.redirect_uri)
            .field("scope", &self.scope)
            .field("resources", &self.resources)
            .field("extra", &crate::secret::names_only(&self.extra))
            .field("pkce", &self.pkce)
            .field("issuer", &self.issuer)
            .field("nonce", &self.nonce)
            .field("max_age", &self.max_age)
            .field(
                "custom_state",
                &self.custom_state.as_ref().map(|_| "[redacted]"),
            )
            .field("response_type", &self.response_type)
            .field("dpop_jkt", &self.dpop_jkt)
            .field("signed", &self.signed)
            .field("signed_lifetime", &self.signed_lifetime)
            .field("signed_response", &self.signed_response)
            .finish()
    }
}

impl AuthorizationRequest {
    /// Starts an authorization request to the server `metadata` describes (RFC 8414): its
    /// `authorization_endpoint`, with the flow bound to its issuer
    /// ([`expect_issuer`](Self::expect_issuer) with the server's
    /// `authorization_response_iss_parameter_supported`), the RFC 9207 mix-up defence.
    ///
    /// # Errors
    ///
    /// Fails with [`AuthorizeError::NoAuthorizationEndpoint`] when the metadata names no
    /// `authorization_endpoint`.
    pub fn from_metadata(
        metadata: &super::AuthorizationServerMetadata,
        client_id: impl Into<String>,
        redirect_uri: &RedirectUri,
    ) -> Result<Self, AuthorizeError> {
        let endpoint = metadata
            .authorization_endpoint()
            .ok_or(AuthorizeError::NoAuthorizationEndpoint)?;
        Ok(Self::new(endpoint, client_id, redirect_uri).expect_issuer(
            metadata.issuer().clone(),
            metadata.authorization_response_iss_parameter_supported(),
        ))
    }

    /// Starts an authorization request for `client_id`, redirecting to `redirect_uri`.
    ///
    /// The callback's `iss` (RFC 9207) is checked only once the flow is bound to an issuer:
    /// call [`expect_issuer`](Self::expect_issuer), or start from
    /// [`from_metadata`](Self::from_metadata), which does, whenever the client talks to more
    /// than one authorization server (RFC 9700 §4.4).
    pub fn new(
        endpoint: &Endpoint,
        client_id: impl Into<String>,
        redirect_uri: &RedirectUri,
    ) -> Self {
        Self {
            endpoint: endpoint.clone(),
            client_id: client_id.into(),
            redirect_uri: redirect_uri.clone(),
            scope: None,
            resources: Vec::new(),
            extra: Vec::new(),
            pkce: PkceMode::Method(PkceMethod::S256),
            issuer: None,
            nonce: false,
            max_age: None,
            custom_state: None,
            response_type: ResponseType::Code,
            dpop_jkt: None,
            signed: None,
            signed_lifetime: DEFAULT_REQUEST_OBJECT_LIFETIME,
            signed_response: false,
        }
    }

    /// Requests `scope` (RFC 6749 §3.3).
    #[must_use]
    pub fn scope(mut self, scope: Scope) -> Self {
        self.scope = Some(scope);
        self
    }

    /// Adds a `resource` indicator (RFC 8707 §2), an absolute URI; may be repeated. One with a
    /// fragment, or not absolute, makes [`build`](Self::build) fail with
    /// [`AuthorizeError::InvalidResource`].
    #[must_use]
    pub fn resource(mut self, resource: impl Into<String>) -> Self {
        self.resources.push(resource.into());
        self
    }

    /// The authorization endpoint.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// Binds the authorization code to a DPoP key (RFC 9449 §10): sends `dpop_jkt`, the key's
    /// thumbprint, so that the server accepts the code only with a proof made with that key.
    /// The pending authorization remembers it, and the code exchange refuses to go out with
    /// another key (tower-oauth2's `GrantClient::exchange_code`), which would burn the code.
    #[must_use]
    pub fn dpop_key(mut self, key: &super::DpopKey) -> Self {
        self.dpop_jkt = Some(key.thumbprint());
        self
    }

    /// Adds an extension parameter (`prompt`, `login_hint`, `audience`…). Names the builder
    /// sets itself are refused at [`build`](Self::build).
    ///
    /// Each call adds one parameter, so a name given twice is sent twice; RFC 6749 §3.1 forbids
    /// that, so give each name once. (Several `resource`s, which RFC 8707 sends this way, are
    /// given with [`resource`](Self::resource).) A `max_age` is the exception: it is read back
    /// for the ID token's `auth_time` check, as one given with [`max_age`](Self::max_age) is,
    /// and a second one makes [`build`](Self::build) fail with
    /// [`AuthorizeError::InvalidMaxAge`].
    ///
    /// `response_mode` is refused too: the callback is read from the query, so the response
    /// must come back there (RFC 6749 §4.1.2), not in a fragment or a `form_post` body. (A
    /// signed response in the query, JARM's `query.jwt`, is asked for with
    /// [`signed_response`](Self::signed_response).)
    #[must_use]
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra.push((name.into(), value.into()));
        self
    }

    /// Sends the request as a signed request object (JAR, RFC 9101): every parameter goes into
    /// a JWT signed with `key` (its `kid` and algorithm, `typ` `oauth-authz-req+jwt`; `iss`
    /// the client, `aud` the issuer the flow is bound to, `iat`, `nbf`, `exp` and a fresh
    /// `jti`), and the URL carries only `client_id` and `request`, so nothing on the way
    /// through the browser can change a parameter unnoticed. With
    /// [`build_pushed`](Self::build_pushed) the object is pushed instead (RFC 9126 §3): the
    /// form FAPI 2.0 Message Signing uses.
    ///
    /// The flow must be bound to the server's issuer ([`expect_issuer`](Self::expect_issuer),
    /// or [`from_metadata`](Self::from_metadata)), the object's audience; without it
    /// [`build`](Self::build) fails with [`AuthorizeError::RequestObjectWithoutIssuer`]. The
    /// object is valid for [`DEFAULT_REQUEST_OBJECT_LIFETIME`] unless
    /// [`signed_request_lifetime`](Self::signed_request_lifetime) says otherwise. The server
    /// must know the key (the client's registered `jwks` or `jwks_uri`); its metadata's
    /// `request_object_signing_alg_values_supported` says which algorithms it takes. Extra
    /// parameters named like the object's own claims (`iss`, `aud`, `iat`, `nbf`, `exp`,
    /// `jti`, `sub`) or `request` / `request_uri` are refused
    /// ([`AuthorizeError::ReservedParameter`]).
    ///
    /// ```
    /// use oauth_core::clock::SystemRandom;
    /// use oauth_core::oauth2::{
    ///     AuthorizationRequest, EcP256PrivateKey, Endpoint, Issuer, PrivateKeyJwt, RedirectUri,
    ///     Scope,
    /// };
    ///
    /// # let pem = EcP256PrivateKey::generate_pkcs8_pem()?;
    /// let key = PrivateKeyJwt::es256(EcP256PrivateKey::from_pem(&pem)?).key_id("2026-12");
    /// let authorize = Endpoint::new("https://as.example.com/authorize")?;
    /// let redirect = RedirectUri::new("https://client.example.com/cb")?;
    /// let (url, _pending) = AuthorizationRequest::new(&authorize, "s6BhdRkqt3", &redirect)
    ///     .scope(Scope::parse("openid accounts"))
    ///     .expect_issuer(Issuer::new("https://as.example.com")?, true)
    ///     .signed_request(key)
    ///     .build(&SystemRandom::new())?;
    /// let query = url.query().unwrap_or_default();
    /// assert!(query.starts_with("client_id=s6BhdRkqt3&request=ey"));
    /// assert!(!query.contains("redirect_uri") && !query.contains("code_challenge"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn signed_request(mut self, key: super::PrivateKeyJwt) -> Self {
        self.signed = Some(key);
        self
    }

    /// Asks for the authorization response as a JWT signed by the authorization server (JWT
    /// Secured Authorization Response Mode, JARM, §2.3.1: `response_mode=`[`query.jwt`](JWT_RESPONSE_MODE)):
    /// the callback then carries one `response` parameter, a JWT holding `code` and `state`
    /// (or `error`...) with the server's `iss`, the client as `aud`, and an `exp`. It must be
    /// read with [`PendingAuthorization::parse_signed_callback`], which checks the signature
    /// with the server's JWK set (its `jwks_uri`) before anything else; the pending
    /// authorization remembers that a signed response is due, and
    /// [`parse_callback`](PendingAuthorization::parse_callback) refuses the flow
    /// ([`CallbackError::SignedResponseRequired`]): a plain `?code=...&state=...` cannot stand
    /// in for it.
    ///
    /// The flow must be bound to the server's issuer ([`expect_issuer`](Self::expect_issuer),
    /// or [`from_metadata`](Self::from_metadata)), the response's `iss`; without it
    /// [`build`](Self::build) fails with [`AuthorizeError::SignedResponseWithoutIssuer`]. Works
    /// with a [signed request](Self::signed_request) (`response_mode` goes into the request
    /// object) and with [`build_pushed`](Self::build_pushed) (into the pushed body): FAPI 2.0
    /// Message Signing's shape. The server's metadata lists `query.jwt` in
    /// [`response_modes_supported`](super::AuthorizationServerMetadata::response_modes_supported),
    /// and its signing algorithms in
    /// [`authorization_signing_alg_values_supported`](super::AuthorizationServerMetadata::authorization_signing_alg_values_supported).
    ///
    /// ```
    /// use oauth_core::clock::SystemRandom;
    /// use oauth_core::oauth2::{AuthorizationRequest, AuthorizeError, Endpoint, Issuer, RedirectUri};
    ///
    /// let authorize = Endpoint::new("https://as.example.com/authorize")?;
    /// let redirect = RedirectUri::new("https://client.example.com/cb")?;
    /// let (url, pending) = AuthorizationRequest::new(&authorize, "s6BhdRkqt3", &redirect)
    ///     .expect_issuer(Issuer::new("https://as.example.com")?, true)
    ///     .signed_response()
    ///     .build(&SystemRandom::new())?;
    /// assert!(url.query().unwrap_or_default().contains("response_mode=query.jwt"));
    /// assert!(pending.expects_signed_response());
    ///
    /// // Without the issuer, the response's `iss` could not be checked.
    /// let unbound = AuthorizationRequest::new(&authorize, "s6BhdRkqt3", &redirect)
    ///     .signed_response()
    ///     .build(&SystemRandom::new());
    /// assert_eq!(unbound.err(), Some(AuthorizeError::SignedResponseWithoutIssuer));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[doc(alias = "jarm")]
    #[doc(alias = "jwt_response_mode")]
    #[must_use]
    pub fn signed_response(mut self) -> Self {
        self.signed_response = true;
        self
    }

    /// How long a signed request object is valid, from [`build`](Self::build) to the
    /// browser's arrival at the authorization endpoint (default
    /// [`DEFAULT_REQUEST_OBJECT_LIFETIME`], five minutes; FAPI 2.0 allows at most an hour).
    /// Only meaningful with [`signed_request`](Self::signed_request).
    #[must_use]
    pub fn signed_request_lifetime(mut self, lifetime: std::time::Duration) -> Self {
        self.signed_lifetime = lifetime;
        self
    }

    /// Uses the `plain` PKCE method. Only for servers that cannot do `S256` (RFC 7636 §4.2).
    #[must_use]
    pub fn pkce_plain(mut self) -> Self {
        self.pkce = PkceMode::Method(PkceMethod::Plain);
        self
    }

    /// Sends no PKCE challenge.
    ///
    /// # Security
    ///
    /// RFC 9700 §2.1.1: PKCE MUST be used by public clients and is RECOMMENDED for confidential
    /// ones; it is what stops authorization code injection. Only for servers that reject it.
    #[must_use]
    pub fn dangerous_disable_pkce(mut self) -> Self {
        self.pkce = PkceMode::Disabled;
        self
    }

    /// Binds the flow to `issuer` (RFC 9207, RFC 9700 §4.4 mix-up defence): a callback `iss`
    /// must equal it exactly. `iss_parameter_supported` is the server's
    /// `authorization_response_iss_parameter_supported` metadata: when `true`, a callback without
    /// `iss` is rejected.
    #[must_use]
    pub fn expect_issuer(mut self, issuer: Issuer, iss_parameter_supported: bool) -> Self {
        self.issuer = Some((issuer, iss_parameter_supported));
        self
    }

    /// Sends an OpenID Connect `nonce` (random, 256 bits), kept in the pending authorization for
    /// ID token validation.
    #[must_use]
    pub fn oidc_nonce(mut self) -> Self {
        self.nonce = true;
        self
    }

    /// Sends the OpenID Connect `max_age` (Core §3.1.2.1), in whole seconds (a fraction of a
    /// second is dropped): the end user must have authenticated at most that long ago, and
    /// `Duration::ZERO` asks the provider to authenticate them again now, as `prompt=login`
    /// does. The pending authorization keeps the value sent
    /// ([`PendingAuthorization::max_age`], [`CodeExchange::max_age`]), and tower-oauth2's
    /// `IdTokenValidator::exchange_code` checks the ID token's `auth_time` against it (required
    /// then, §2) with [`IdTokenVerifier::check_max_age`](super::oidc::IdTokenVerifier::check_max_age).
    ///
    /// A `max_age` given with [`param`](Self::param) instead is read back the same way; one
    /// that is not a whole number of seconds, or a second `max_age`, makes
    /// [`build`](Self::build) fail with [`AuthorizeError::InvalidMaxAge`].
    #[must_use]
    pub fn max_age(mut self, max_age: std::time::Duration) -> Self {
        self.max_age = Some(max_age.as_secs());
        self
    }

    /// Uses a caller-chosen `state` instead of a random one.
    ///
    /// # Security
    ///
    /// `state` is the CSRF defence (RFC 6749 §10.12): it must be unguessable (at least 128 bits
    /// from a CSPRNG, §10.10) and, since it travels in URLs through the browser, must not carry
    /// sensitive data in clear. Prefer the random default and keep application state
    /// server-side, in the pending authorization's storage.
    #[must_use]
    pub fn dangerous_custom_state(mut self, state: impl Into<String>) -> Self {
        self.custom_state = Some(state.into());
        self
    }

    /// Switches to the implicit grant (`response_type=token`, RFC 6749 §4.2), without PKCE. The
    /// callback must then be read with `PendingAuthorization::token_from_fragment`. Only with
    /// the `legacy` feature.
    #[cfg(feature = "legacy")]
    #[deprecated(
        note = "RFC 9700 §2.1.2: clients SHOULD NOT use the implicit grant; use the code flow with PKCE"
    )]
    #[must_use]
    pub fn implicit(mut self) -> Self {
        self.response_type = ResponseType::Token;
        self.pkce = PkceMode::Disabled;
        self
    }

    /// Generates `state` (and the PKCE verifier, and the nonce) and returns the authorization URL
    /// and the pending authorization to keep until the callback.
    ///
    /// # Errors
    ///
    /// Fails with [`AuthorizeError::Random`] when `random` fails, [`AuthorizeError::EmptyState`]
    /// for an empty custom `state`, [`AuthorizeError::ReservedParameter`] for an extra parameter
    /// the builder sets itself, [`AuthorizeError::InvalidResource`] for a `resource` that is not an
    /// absolute URI without a fragment, [`AuthorizeError::InvalidMaxAge`] for a bad or repeated
    /// `max_age`, [`AuthorizeError::EndpointQueryParameter`] when the endpoint's own query has a
    /// parameter the request sets, [`AuthorizeError::Endpoint`] when the URL cannot be built,
    /// and, for a [signed request](Self::signed_request),
    /// [`AuthorizeError::RequestObjectWithoutIssuer`] when the flow is bound to no issuer and
    /// [`AuthorizeError::RequestObject`] when the object cannot be signed; for a
    /// [signed response](Self::signed_response),
    /// [`AuthorizeError::SignedResponseWithoutIssuer`] when the flow is bound to no issuer.
    #[doc(alias = "authorize_url")]
    pub fn build(
        self,
        random: &dyn RandomSource,
    ) -> Result<(Uri, PendingAuthorization), AuthorizeError> {
        let endpoint = self.endpoint.clone();
        let signed = self.signed.is_some();
        let (params, mut pending) = self.prepare(random)?;
        // A name in both the endpoint's query and the request would be sent twice.
        if let Some(query) = endpoint.uri().query() {
            if let Some((name, _)) = form_urlencoded::parse(query.as_bytes())
                .find(|(name, _)| params.iter().any(|(n, _)| n == name))
            {
                return Err(AuthorizeError::EndpointQueryParameter(name.into_owned()));
            }
            // A `max_age` of the endpoint's own goes out with the request: the flow keeps it,
            // for the ID token's `auth_time` check. (Not with a request object: the server
            // reads no parameter outside it, RFC 9101 §5.)
            if !signed {
                let in_query = form_urlencoded::parse(query.as_bytes())
                    .filter(|(name, _)| name == "max_age")
                    .map(|(_, value)| value);
                pending.max_age = read_max_age(pending.max_age, in_query)?;
            }
        }
        let url = endpoint.with_query(params.iter().map(|(n, v)| (n.as_str(), v.as_str())))?;
        Ok((url, pending))
    }

    /// Pushes the authorization request (RFC 9126): instead of putting the parameters in the
    /// URL, they go in a `POST` to the server's `pushed_authorization_request_endpoint`, made
    /// with the client's authentication like a token request. Send the request, read the answer
    /// with [`parse_par_response`](super::par::parse_par_response), and send the user to
    /// [`PushedAuthorization::url`](super::par::PushedAuthorization::url) (just
    /// `client_id` and the `request_uri`). The pending authorization is the same as with
    /// [`build`](Self::build).
    ///
    /// `client` must be the client this request names (its `client_id`). An authorization
    /// endpoint whose own query has `client_id` or `request_uri` cannot carry that URL, and is
    /// refused here ([`AuthorizeError::EndpointQueryParameter`]).
    ///
    /// # Errors
    ///
    /// Fails as [`build`](Self::build) does ([`AuthorizeError`]), with
    /// [`AuthorizeError::ClientMismatch`] when `client` is not the one the request was started
    /// for, [`AuthorizeError::EndpointQueryParameter`] when the authorization endpoint's query
    /// has `client_id` or `request_uri`, and [`AuthorizeError::ReservedParameter`] for an extra
    /// parameter a pushed request sets itself.
    pub fn build_pushed(
        self,
        par_endpoint: &Endpoint,
        client: &super::Client,
        random: &dyn RandomSource,
    ) -> Result<(http::Request<super::SensitiveBody>, PendingAuthorization), AuthorizeError> {
        if client.id() != self.client_id {
            return Err(AuthorizeError::ClientMismatch);
        }
        // The user is sent to the authorization endpoint with `client_id` and `request_uri`
        // (RFC 9126 §4): an endpoint whose own query has either is refused now, before the
        // request is pushed, not when that URL is made.
        if let Some(query) = self.endpoint.uri().query()
            && let Some((name, _)) = form_urlencoded::parse(query.as_bytes())
                .find(|(name, _)| name == "client_id" || name == "request_uri")
        {
            return Err(AuthorizeError::EndpointQueryParameter(name.into_owned()));
        }
        if let Some((name, _)) = self
            .extra
            .iter()
            .find(|(n, _)| RESERVED_PUSHED_PARAMS.contains(&n.as_str()))
        {
            return Err(AuthorizeError::ReservedParameter(name.clone()));
        }
        let (params, pending) = self.prepare(random)?;
        // The client's authentication adds `client_id` itself, except with HTTP Basic.
        let names_itself = !matches!(client.auth(), super::ClientAuth::SecretBasic(_));
        let mut request = super::grant::TokenRequest::without_grant_type(par_endpoint, client);
        for (name, value) in &params {
            if name == "client_id" && names_itself {
                continue;
            }
            request = request.plain(name, value.as_str());
        }
        let request = request
            .build()
            .map_err(|_| AuthorizeError::InvalidPushedRequest)?;
        Ok((request, pending))
    }

    /// The parameters of the request (generating `state`, the PKCE verifier and the nonce), and
    /// the pending authorization.
    fn prepare(
        self,
        random: &dyn RandomSource,
    ) -> Result<(Vec<(String, String)>, PendingAuthorization), AuthorizeError> {
        if let Some((name, _)) = self
            .extra
            .iter()
            .find(|(n, _)| RESERVED_AUTHORIZE_PARAMS.contains(&n.as_str()))
        {
            return Err(AuthorizeError::ReservedParameter(name.clone()));
        }
        if self
            .resources
            .iter()
            .any(|r| super::endpoint::split_absolute(r).is_err())
        {
            return Err(AuthorizeError::InvalidResource);
        }
        // A `max_age` given as an extra parameter is read back, so that the value the flow
        // keeps (and the ID token is checked against) is the one sent, and sent once.
        let extra = self.extra.iter().filter(|(n, _)| n == "max_age");
        let max_age = read_max_age(self.max_age, extra.map(|(_, value)| value))?;
        let state = match self.custom_state {
            Some(s) if s.is_empty() => return Err(AuthorizeError::EmptyState),
            Some(s) => s,
            None => random_urlsafe(random, STATE_BYTES)?,
        };
        let (verifier, challenge) = match self.pkce {
            PkceMode::Method(method) => {
                let verifier = pkce::new_verifier(random)?;
                let challenge = pkce::code_challenge(&verifier, method);
                (Some((verifier, method)), Some(challenge))
            }
            PkceMode::Disabled => (None, None),
        };
        if self.signed_response && self.issuer.is_none() {
            return Err(AuthorizeError::SignedResponseWithoutIssuer);
        }
        // `query.jwt` is the code flow's mode (JARM §2.3.1): an implicit-grant token must not
        // come back in a query, signed or not.
        if self.signed_response && self.response_type != ResponseType::Code {
            return Err(AuthorizeError::ReservedParameter("response_mode".into()));
        }
        let nonce = if self.nonce {
            Some(random_urlsafe(random, STATE_BYTES)?)
        } else {
            None
        };
        let response_type = match self.response_type {
            ResponseType::Code => "code",
            ResponseType::Token => "token",
        };
        let mut params: Vec<(String, String)> = vec![
            ("response_type".into(), response_type.to_owned()),
            ("client_id".into(), self.client_id.clone()),
            ("redirect_uri".into(), self.redirect_uri.as_str().to_owned()),
        ];
        if let Some(scope) = self.scope.as_ref().map(Scope::to_string)
            && !scope.is_empty()
        {
            params.push(("scope".into(), scope));
        }
        params.push(("state".into(), state.clone()));
        if let (Some(challenge), Some((_, method))) = (challenge, verifier.as_ref()) {
            params.push(("code_challenge".into(), challenge));
            params.push(("code_challenge_method".into(), method.as_str().to_owned()));
        }
        if let Some(nonce) = &nonce {
            params.push(("nonce".into(), nonce.clone()));
        }
        if let Some(max_age) = self.max_age {
            params.push(("max_age".into(), max_age.to_string()));
        }
        for resource in &self.resources {
            params.push(("resource".into(), resource.clone()));
        }
        if let Some(jkt) = &self.dpop_jkt {
            params.push(("dpop_jkt".into(), jkt.clone()));
        }
        if self.signed_response {
            params.push(("response_mode".into(), JWT_RESPONSE_MODE.to_owned()));
        }
        params.extend(self.extra);
        // A signed request: the parameters go into the request object, and only `client_id`
        // and `request` are sent (RFC 9101 §5).
        if let Some(key) = &self.signed {
            let (issuer, _) = self
                .issuer
                .as_ref()
                .ok_or(AuthorizeError::RequestObjectWithoutIssuer)?;
            let object = request_object::request_object(
                &params,
                key,
                &self.client_id,
                issuer.as_str(),
                self.signed_lifetime,
            )?;
            params = vec![
                ("client_id".into(), self.client_id.clone()),
                ("request".into(), object.to_string()),
            ];
        }
        let (pkce_verifier, pkce_method) = match verifier {
            Some((v, m)) => (Some(v), Some(m)),
            None => (None, None),
        };
        let pending = PendingAuthorization {
            state,
            client_id: Some(self.client_id.clone()),
            pkce_verifier,
            pkce_method,
            redirect_uri: self.redirect_uri,
            issuer: self.issuer.as_ref().map(|(i, _)| i.clone()),
            iss_parameter_supported: self.issuer.as_ref().is_some_and(|(_, s)| *s),
            nonce,
            max_age,
            response_type: self.response_type,
            dpop_jkt: self.dpop_jkt,
            signed_response: self.signed_response,
        };
        Ok((params, pending))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::clock::CountingRandom;

    fn pending() -> PendingAuthorization {
        let e = Endpoint::new("https://as.example.com/authorize").unwrap();
        let r = RedirectUri::new("https://client.example.com/cb").unwrap();
        AuthorizationRequest::new(&e, "c", &r)
            .build(&CountingRandom::new(9))
            .unwrap()
            .1
    }

    #[test]
    fn reserved_params_refused() {
        let e = Endpoint::new("https://as.example.com/authorize").unwrap();
        let r = RedirectUri::new("https://client.example.com/cb").unwrap();
        let err = AuthorizationRequest::new(&e, "c", &r)
            .param("state", "x")
            .build(&CountingRandom::new(1))
            .unwrap_err();
        assert_eq!(err, AuthorizeError::ReservedParameter("state".into()));
        for mode in ["fragment", "form_post", "query"] {
            let err = AuthorizationRequest::new(&e, "c", &r)
                .param("response_mode", mode)
                .build(&CountingRandom::new(1))
                .unwrap_err();
            assert_eq!(
                err,
                AuthorizeError::ReservedParameter("response_mode".into())
            );
        }
    }

    #[cfg(feature = "legacy")]
    #[test]
    fn code_flow_pending_refuses_fragment_reader() {
        #[allow(deprecated)]
        let r = pending().token_from_fragment("https://c/cb#access_token=a", std::time::UNIX_EPOCH);
        assert_eq!(r.unwrap_err(), CallbackError::WrongFlow);
    }

    #[test]
    fn serialised_pending_round_trips_and_rejects_empty_state() {
        let p = pending();
        let state = p.state().to_owned();
        let json = serde_json::to_string(&p).unwrap();
        let back: PendingAuthorization = serde_json::from_str(&json).unwrap();
        assert_eq!(back.state(), state);
        let tampered = json.replace(&state, "");
        assert!(serde_json::from_str::<PendingAuthorization>(&tampered).is_err());
    }

    fn request() -> AuthorizationRequest {
        let e = Endpoint::new("https://as.example.com/authorize").unwrap();
        let r = RedirectUri::new("https://client.example.com/cb").unwrap();
        AuthorizationRequest::new(&e, "c", &r).dangerous_custom_state("S")
    }

    fn sent(url: &Uri, name: &str) -> Vec<String> {
        form_urlencoded::parse(url.query().unwrap_or("").as_bytes())
            .filter(|(n, _)| n == name)
            .map(|(_, v)| v.into_owned())
            .collect()
    }

    /// OpenID Connect Core §3.1.2.1: `max_age` goes out in whole seconds (0 is legal: sign in
    /// again now) and the pending flow, its stored form and the code exchange keep the value
    /// sent, so the ID token's `auth_time` can be checked against it.
    #[test]
    fn max_age_is_sent_and_kept_through_the_pending_flow() {
        use std::time::Duration;
        for (given, expected) in [
            (Duration::ZERO, 0),
            (Duration::from_millis(300_900), 300),
            (Duration::from_secs(u64::MAX), u64::MAX),
        ] {
            let (url, pending) = request()
                .oidc_nonce()
                .max_age(given)
                .build(&CountingRandom::new(1))
                .unwrap();
            assert_eq!(sent(&url, "max_age"), [expected.to_string()]);
            let secs = Some(Duration::from_secs(expected));
            assert_eq!(pending.max_age(), secs);
            let json = serde_json::to_string(&pending).unwrap();
            let stored: PendingAuthorization = serde_json::from_str(&json).unwrap();
            assert_eq!(stored.max_age(), secs);
            let debug = format!("{stored:?}");
            assert!(
                debug.contains("max_age") && !debug.contains("\"S\""),
                "{debug}"
            );
            let exchange = stored
                .parse_callback("https://client.example.com/cb?code=c&state=S")
                .unwrap();
            assert_eq!(exchange.max_age(), secs);
        }
        // Without it: nothing sent, nothing kept, and the stored form is the one older
        // versions wrote (and read back as before).
        let (url, pending) = request()
            .oidc_nonce()
            .build(&CountingRandom::new(1))
            .unwrap();
        assert!(sent(&url, "max_age").is_empty());
        assert_eq!(pending.max_age(), None);
        let json = serde_json::to_string(&pending).unwrap();
        assert!(!json.contains("max_age"), "{json}");
        let older: PendingAuthorization = serde_json::from_str(&json).unwrap();
        assert_eq!(older.max_age(), None);
        let exchange = older
            .parse_callback("https://client.example.com/cb?code=c&state=S")
            .unwrap();
        assert_eq!(exchange.max_age(), None);
        // A stored max_age that is no number of seconds is refused, not read as none.
        for bad in ["-1", "\"300\"", "1.5", "null"] {
            let stored = json.replacen('{', &format!("{{\"max_age\":{bad},"), 1);
            let read = serde_json::from_str::<PendingAuthorization>(&stored);
            assert_eq!(read.is_ok(), bad == "null", "{bad}");
        }
    }

    /// `max_age` given as an extra parameter (`param("max_age", "300")`) is read back into the
    /// pending flow, so what is checked is what was sent; a value that is not a whole number
    /// of seconds, or a second `max_age`, is refused rather than sent unchecked.
    #[test]
    fn max_age_as_an_extra_parameter_is_read_back_or_refused() {
        use std::time::Duration;
        let (url, pending) = request()
            .param("max_age", "300")
            .build(&CountingRandom::new(1))
            .unwrap();
        assert_eq!(sent(&url, "max_age"), ["300"]);
        assert_eq!(pending.max_age(), Some(Duration::from_secs(300)));
        let (url, pending) = request()
            .param("max_age", "0")
            .build(&CountingRandom::new(1))
            .unwrap();
        assert_eq!(sent(&url, "max_age"), ["0"]);
        assert_eq!(pending.max_age(), Some(Duration::ZERO));
        for bad in [
            "",
            "-1",
            "+5",
            " 300",
            // Leading zeros: some servers' integer parsers read them as octal (`0300` is 192
            // seconds to Ruby's `Integer()`).
            "0300",
            "00",
            "1.5",
            "300s",
            "1e3",
            "١٢",
            "18446744073709551616",
        ] {
            let err = request()
                .param("max_age", bad)
                .build(&CountingRandom::new(1))
                .unwrap_err();
            assert_eq!(err, AuthorizeError::InvalidMaxAge, "{bad:?}");
        }
        let twice = request().param("max_age", "300").param("max_age", "300");
        assert_eq!(
            twice.build(&CountingRandom::new(1)).unwrap_err(),
            AuthorizeError::InvalidMaxAge
        );
        let both = request()
            .max_age(Duration::from_secs(60))
            .param("max_age", "300");
        assert_eq!(
            both.build(&CountingRandom::new(1)).unwrap_err(),
            AuthorizeError::InvalidMaxAge
        );
        // The same rules for a pushed request.
        let par = Endpoint::new("https://as.example.com/par").unwrap();
        let client = super::super::Client::public("c");
        let (_, pending) = request()
            .param("max_age", "120")
            .build_pushed(&par, &client, &CountingRandom::new(1))
            .unwrap();
        assert_eq!(pending.max_age(), Some(Duration::from_secs(120)));
        let err = request()
            .param("max_age", "soon")
            .build_pushed(&par, &client, &CountingRandom::new(1))
            .unwrap_err();
        assert_eq!(err, AuthorizeError::InvalidMaxAge);
    }

    /// An authorization endpoint whose own query carries `max_age` sends it with every
    /// request built for it: the pending flow keeps that value too (and a request that sets
    /// one as well is refused, as for any parameter both carry).
    #[test]
    fn max_age_in_the_endpoint_query_is_kept_too() {
        use std::time::Duration;
        let r = RedirectUri::new("https://client.example.com/cb").unwrap();
        let e = Endpoint::new("https://as.example.com/authorize?max_age=600").unwrap();
        let (_, pending) = AuthorizationRequest::new(&e, "c", &r)
            .build(&CountingRandom::new(1))
            .unwrap();
        assert_eq!(pending.max_age(), Some(Duration::from_secs(600)));
        let err = AuthorizationRequest::new(&e, "c", &r)
            .max_age(Duration::from_secs(60))
            .build(&CountingRandom::new(1))
            .unwrap_err();
        assert_eq!(
            err,
            AuthorizeError::EndpointQueryParameter("max_age".into())
        );
        let e = Endpoint::new("https://as.example.com/authorize?max_age=later").unwrap();
        let err = AuthorizationRequest::new(&e, "c", &r)
            .build(&CountingRandom::new(1))
            .unwrap_err();
        assert_eq!(err, AuthorizeError::InvalidMaxAge);
    }

    /// A stored flow is read back with a verifier RFC 7636 §4.1 allows only (43 to 128
    /// characters of `[A-Za-z0-9-._~]`), as `verifier_from_string` checks a caller's: a
    /// damaged one would go out at the code exchange, be refused, and spend the code.
    #[test]
    fn a_stored_flow_with_an_invalid_verifier_is_refused() {
        let p = pending();
        let json = serde_json::to_string(&p).unwrap();
        let verifier = p.pkce_verifier.as_ref().unwrap().secret().to_owned();
        assert_eq!(verifier.len(), 43);
        for bad in [
            "short".to_owned(),
            format!("{}+", &verifier[..42]),
            format!("{}é", &verifier[..41]),
            "a".repeat(129),
            String::new(),
        ] {
            let tampered = json.replace(&verifier, &bad);
            assert!(
                serde_json::from_str::<PendingAuthorization>(&tampered).is_err(),
                "{bad:?}"
            );
        }
        for good in ["a".repeat(43), "a-._~Z9".repeat(18)] {
            let stored = json.replace(&verifier, &good);
            assert!(
                serde_json::from_str::<PendingAuthorization>(&stored).is_ok(),
                "{good:?}"
            );
        }
    }
}
