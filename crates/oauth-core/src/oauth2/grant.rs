//! Token requests (RFC 6749 §4.1.3, §4.3.2, §4.4.2, §6, §4.5; RFC 8628 §3.4; RFC 8693;
//! RFC 7523; OpenID Connect CIBA Core §10.1) and client authentication (RFC 6749 §2.3).
//!
//! Every builder produces an `http::Request<`[`SensitiveBody`]`>`: `POST` to the token endpoint (its query
//! kept), `Content-Type: application/x-www-form-urlencoded`, `Accept: application/json`, a UTF-8
//! form body, and exactly one client authentication method. The client secret never goes in
//! the URI. Send the request with any HTTP client, then parse the response with
//! [`parse_token_response`](super::parse_token_response).
//!
//! ```
//! use oauth_core::oauth2::{Client, Endpoint, Scope, TokenRequest};
//! use oauth_core::secret::ClientSecret;
//!
//! let token_endpoint = Endpoint::new("https://server.example.com/token").unwrap();
//! let client = Client::secret_basic("s6BhdRkqt3", ClientSecret::new("gX1fBat3bV"));
//! let request = TokenRequest::client_credentials(&token_endpoint, &client)
//!     .scope(&Scope::parse("reports"))
//!     .build()
//!     .unwrap();
//! assert_eq!(request.headers()["authorization"], "Basic czZCaGRSa3F0MzpnWDFmQmF0M2JW");
//! assert_eq!(request.body(), b"grant_type=client_credentials&scope=reports");
//! ```

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use http::header::{ACCEPT, AUTHORIZATION, CONTENT_TYPE};
use http::{HeaderValue, Method, Request};

use super::SensitiveBody;

use super::authorize::CodeExchange;
use super::client_assertion::{
    AssertionError, CLIENT_ASSERTION_TYPE, ClientSecretJwt, PrivateKeyJwt,
};
use super::endpoint::Endpoint;
use super::token::Scope;
#[cfg(feature = "legacy")]
use crate::secret::ResourceOwnerPassword;
use crate::secret::{AuthReqId, ClientSecret, DeviceCode, RefreshToken};

/// `grant_type` for RFC 8693 token exchange.
pub const TOKEN_EXCHANGE_GRANT: &str = "urn:ietf:params:oauth:grant-type:token-exchange";
/// `grant_type` for RFC 7523 §2.1 JWT bearer assertions.
pub const JWT_BEARER_GRANT: &str = "urn:ietf:params:oauth:grant-type:jwt-bearer";
/// `grant_type` for RFC 8628 §3.4 device access tokens.
pub const DEVICE_CODE_GRANT: &str = "urn:ietf:params:oauth:grant-type:device_code";
/// `grant_type` for OpenID Connect CIBA Core §10.1 token requests (poll and ping modes).
pub const CIBA_GRANT: &str = "urn:openid:params:grant-type:ciba";

/// Parameters the builders set themselves; [`TokenRequest::param`] refuses them so a caller
/// cannot add a second credential or override the grant.
const RESERVED_TOKEN_PARAMS: &[&str] = &[
    "grant_type",
    "client_id",
    "client_secret",
    "code",
    "code_verifier",
    "redirect_uri",
    "refresh_token",
    "username",
    "password",
    "device_code",
    "scope",
    "resource",
    "client_assertion",
    "client_assertion_type",
];

/// How the client authenticates to the token endpoint (RFC 6749 §2.3).
#[derive(Clone)]
#[non_exhaustive]
pub enum ClientAuth {
    /// A public client: sends `client_id` in the body, no secret (RFC 6749 §2.1, §3.2.1).
    None,
    /// `client_secret_basic`: HTTP Basic with the form-urlencoded id and secret
    /// (RFC 6749 §2.3.1).
    SecretBasic(ClientSecret),
    /// `client_secret_post`: `client_id` and `client_secret` in the body (RFC 6749 §2.3.1,
    /// NOT RECOMMENDED there but widely required).
    SecretPost(ClientSecret),
    /// `private_key_jwt`: a fresh JWT signed with the client's private key in the body
    /// (RFC 7523 §2.2, OpenID Connect Core §9); no shared secret at all.
    PrivateKeyJwt(PrivateKeyJwt),
    /// `client_secret_jwt`: a fresh JWT MACed with the client secret (HS256) in the body
    /// (OpenID Connect Core §9, RFC 7523 §2.2); the secret itself is not sent.
    ClientSecretJwt(ClientSecretJwt),
    /// `tls_client_auth` (RFC 8705 §2.1): the client authenticates with a CA-issued certificate
    /// in the TLS handshake, which the HTTP client's connector presents; the body carries
    /// `client_id` only.
    TlsClientAuth,
    /// `self_signed_tls_client_auth` (RFC 8705 §2.2): as [`ClientAuth::TlsClientAuth`], with a
    /// self-signed certificate the server knows from the client's registered JWK set.
    SelfSignedTlsClientAuth,
}

impl fmt::Debug for ClientAuth {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::None => f.write_str("None"),
            Self::SecretBasic(s) => f.debug_tuple("SecretBasic").field(s).finish(),
            Self::SecretPost(s) => f.debug_tuple("SecretPost").field(s).finish(),
            Self::PrivateKeyJwt(k) => f.debug_tuple("PrivateKeyJwt").field(k).finish(),
            Self::ClientSecretJwt(k) => f.debug_tuple("ClientSecretJwt").field(k).finish(),
            Self::TlsClientAuth => f.write_str("TlsClientAuth"),
            Self::SelfSignedTlsClientAuth => f.write_str("SelfSignedTlsClientAuth"),
        }
    }
}

/// An OAuth client: its identifier and its authentication method (RFC 6749 §2).
#[derive(Debug, Clone)]
pub struct Client {
    id: String,
    auth: ClientAuth,
}

impl Client {
    /// A public client (no secret).
    pub fn public(client_id: impl Into<String>) -> Self {
        Self {
            id: client_id.into(),
            auth: ClientAuth::None,
        }
    }

    /// A confidential client using `client_secret_basic`.
    pub fn secret_basic(client_id: impl Into<String>, secret: ClientSecret) -> Self {
        Self {
            id: client_id.into(),
            auth: ClientAuth::SecretBasic(secret),
        }
    }

    /// A confidential client using `client_secret_post`.
    pub fn secret_post(client_id: impl Into<String>, secret: ClientSecret) -> Self {
        Self {
            id: client_id.into(),
            auth: ClientAuth::SecretPost(secret),
        }
    }

    /// A confidential client using `private_key_jwt` (RFC 7523 §2.2): the server knows its
    /// public key; no secret is shared.
    ///
    /// Unless the key sets one ([`PrivateKeyJwt::audience`]), each assertion's `aud` is the URL
    /// of the request it authenticates. That suits token requests; for the server's other
    /// endpoints (revocation, introspection, pushed authorization, device authorization) build
    /// this client with `key.audience_if_unset(token_endpoint_url)` (or the issuer in
    /// `audience`), which servers accept there (RFC 7523 §3), as tower-oauth2's `GrantClient`
    /// does.
    pub fn private_key_jwt(client_id: impl Into<String>, key: PrivateKeyJwt) -> Self {
        Self {
            id: client_id.into(),
            auth: ClientAuth::PrivateKeyJwt(key),
        }
    }

    /// A confidential client using `client_secret_jwt` (OpenID Connect Core §9): each request
    /// carries a fresh assertion MACed with the secret (HS256, which needs a secret of 32 bytes
    /// or more), instead of the secret itself. The audience rule is
    /// [`private_key_jwt`](Self::private_key_jwt)'s.
    ///
    /// ```
    /// use oauth_core::oauth2::{Client, ClientSecretJwt, Endpoint, TokenRequest};
    /// use oauth_core::secret::ClientSecret;
    ///
    /// let secret = ClientSecret::new("a client secret of at least 32 bytes, from the server");
    /// let client = Client::client_secret_jwt("s6BhdRkqt3", ClientSecretJwt::new(secret));
    /// let token_endpoint = Endpoint::new("https://server.example.com/token")?;
    /// let request = TokenRequest::client_credentials(&token_endpoint, &client).build()?;
    /// let body = std::str::from_utf8(request.body())?;
    /// assert!(body.contains("&client_assertion=eyJhbGciOiJIUzI1NiIs"));
    /// assert!(!body.contains("client_secret") && !body.contains("from+the+server"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn client_secret_jwt(client_id: impl Into<String>, jwt: ClientSecretJwt) -> Self {
        Self {
            id: client_id.into(),
            auth: ClientAuth::ClientSecretJwt(jwt),
        }
    }

    /// A confidential client authenticated by mutual TLS with a CA-issued certificate
    /// (`tls_client_auth`, RFC 8705 §2.1).
    ///
    /// The certificate is presented by the TLS connector of the HTTP client the requests go
    /// through (a `hyper-rustls` connector built from a `rustls::ClientConfig` with
    /// `with_client_auth_cert`, say): this crate only names the method and sends `client_id`.
    /// Use the same connector for the resource server when the tokens are certificate-bound
    /// (RFC 8705 §3), and the server's `mtls_endpoint_aliases` when it has them
    /// ([`AuthorizationServerMetadata::mtls_token_endpoint`](super::AuthorizationServerMetadata::mtls_token_endpoint)).
    pub fn tls_client_auth(client_id: impl Into<String>) -> Self {
        Self {
            id: client_id.into(),
            auth: ClientAuth::TlsClientAuth,
        }
    }

    /// A confidential client authenticated by mutual TLS with a self-signed certificate
    /// registered with the server (`self_signed_tls_client_auth`, RFC 8705 §2.2); see
    /// [`Client::tls_client_auth`].
    pub fn self_signed_tls_client_auth(client_id: impl Into<String>) -> Self {
        Self {
            id: client_id.into(),
            auth: ClientAuth::SelfSignedTlsClientAuth,
        }
    }

    /// The client identifier.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The authentication method.
    pub fn auth(&self) -> &ClientAuth {
        &self.auth
    }
}

/// The `Authorization: Basic` value for `client_secret_basic`: id and secret are
/// form-urlencoded **before** base64 (RFC 6749 §2.3.1, Appendix B).
///
/// The intermediate copies of the secret are zeroized; the value returned is the header's own
/// (make it a sensitive `HeaderValue`).
pub fn basic_auth_header_value(client_id: &str, secret: &ClientSecret) -> String {
    use zeroize::Zeroizing;
    // Room for the worst case (every byte escaped), so no partial copy is left behind by a
    // reallocation.
    let secret = secret.secret().as_bytes();
    let mut credentials = Zeroizing::new(String::with_capacity(
        3 * client_id.len() + 1 + 3 * secret.len(),
    ));
    credentials.extend(form_urlencoded::byte_serialize(client_id.as_bytes()));
    credentials.push(':');
    credentials.extend(form_urlencoded::byte_serialize(secret));
    let mut value = String::with_capacity(6 + credentials.len().div_ceil(3) * 4);
    value.push_str("Basic ");
    STANDARD.encode_string(credentials.as_bytes(), &mut value);
    value
}

/// A token request could not be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum GrantError {
    /// An extra parameter uses a name the builder sets itself.
    #[error("parameter {0:?} is set by the builder and cannot be added as an extra parameter")]
    ReservedParameter(String),
    /// A header value (the Basic credentials) is not a valid header.
    #[error("client credentials cannot be encoded in a header")]
    InvalidHeader,
    /// The request could not be assembled.
    #[error("invalid token request")]
    InvalidRequest,
    /// The `private_key_jwt` client assertion could not be made.
    #[error("cannot make the client assertion: {0}")]
    ClientAssertion(AssertionError),
    /// The authorization code was requested for another `client_id` than the client
    /// exchanging it ([`CodeExchange::client_id`]): it was not sent, with its PKCE verifier,
    /// to a server or client it was not meant for (RFC 6749 §4.1.3, §10.5).
    #[error(
        "the authorization code was requested for another client_id than the one exchanging it"
    )]
    CodeForAnotherClient,
    /// A `resource` is not an absolute URI without a fragment (RFC 8707 §2).
    #[error("a resource indicator must be an absolute URI without a fragment (RFC 8707 §2)")]
    InvalidResource,
    /// An OpenID Connect request (a CIBA backchannel authentication request, CIBA Core §7.1)
    /// has no `openid` in its `scope`.
    #[error("the request's scope must include openid (OpenID Connect CIBA Core §7.1)")]
    MissingOpenIdScope,
    /// A parameter has a value the protocol does not allow (empty, or out of range); the
    /// value is not shown.
    #[error("parameter {name} is empty or out of range")]
    InvalidParameter {
        /// The parameter's name.
        name: &'static str,
    },
    /// The signed request object (a signed CIBA request, CIBA Core §7.1.1) could not be made.
    #[error("cannot sign the request object: {0}")]
    RequestObject(AssertionError),
}

// Not a `source()`: the message already says what the assertion error says, and an error-chain
// printer would say it twice. Match the variant to reach it.
impl From<AssertionError> for GrantError {
    fn from(e: AssertionError) -> Self {
        Self::ClientAssertion(e)
    }
}

/// `pairs` form-urlencoded into a buffer allocated once, at its final size: a buffer that
/// grew would leave the part written so far (credentials included) in freed memory, where
/// nothing zeroizes it.
fn encode_form(pairs: &[(&str, &str)]) -> Vec<u8> {
    let encoded_len = |s: &str| {
        form_urlencoded::byte_serialize(s.as_bytes())
            .map(str::len)
            .sum::<usize>()
    };
    let len = pairs
        .iter()
        .map(|(name, value)| encoded_len(name) + 1 + encoded_len(value))
        .sum::<usize>()
        + pairs.len().saturating_sub(1);
    let mut body = form_urlencoded::Serializer::new(String::with_capacity(len));
    body.extend_pairs(pairs);
    body.finish().into_bytes()
}

/// A value in a request body, kept out of `Debug`; a secret is zeroized on drop (a clone too).
#[derive(Clone)]
enum Param {
    Plain(String),
    Secret(String),
}

impl Drop for Param {
    fn drop(&mut self) {
        if let Self::Secret(s) = self {
            zeroize::Zeroize::zeroize(s);
        }
    }
}

/// A token endpoint request builder.
///
/// `Debug` shows the grant type and parameter names only. A clone builds its own request, with
/// a new client assertion for `private_key_jwt` (an assertion is used once: a request sent
/// again, after a DPoP nonce challenge say, is built again).
#[derive(Clone)]
pub struct TokenRequest {
    endpoint: Endpoint,
    client: Client,
    params: Vec<(String, Param)>,
    extra: Vec<(String, String)>,
    /// Why `build` must fail, found while the builder was used.
    refused: Option<GrantError>,
}

impl fmt::Debug for TokenRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenRequest")
            .field("endpoint", &self.endpoint)
            .field("client", &self.client)
            .field("params", &crate::secret::names_only(&self.params))
            .field("extra", &crate::secret::names_only(&self.extra))
            .finish()
    }
}

impl TokenRequest {
    fn new(endpoint: &Endpoint, client: &Client, grant_type: &str) -> Self {
        Self {
            endpoint: endpoint.clone(),
            client: client.clone(),
            params: vec![("grant_type".into(), Param::Plain(grant_type.into()))],
            extra: Vec::new(),
            refused: None,
        }
    }

    /// A request with no `grant_type` (the RFC 8628 §3.1 device authorization request).
    pub(crate) fn without_grant_type(endpoint: &Endpoint, client: &Client) -> Self {
        Self {
            endpoint: endpoint.clone(),
            client: client.clone(),
            params: Vec::new(),
            extra: Vec::new(),
            refused: None,
        }
    }

    /// A request about a token (RFC 7009 revocation, RFC 7662 introspection): `token` and
    /// `token_type_hint`, with the client's authentication.
    pub(crate) fn about_token(
        endpoint: &Endpoint,
        client: &Client,
        token: &str,
        hint: &str,
    ) -> Self {
        Self::without_grant_type(endpoint, client)
            .secret("token", token)
            .plain("token_type_hint", hint)
    }

    pub(crate) fn plain(mut self, name: &str, value: impl Into<String>) -> Self {
        self.params.push((name.into(), Param::Plain(value.into())));
        self
    }

    pub(crate) fn secret(mut self, name: &str, value: &str) -> Self {
        self.params.push((name.into(), Param::Secret(value.into())));
        self
    }

    /// The authorization code grant (RFC 6749 §4.1.3) with the PKCE verifier (RFC 7636 §4.5) and
    /// the byte-identical `redirect_uri`, all taken from the verified callback.
    ///
    /// A code requested for another `client_id` than `client`'s makes [`build`](Self::build)
    /// fail with [`GrantError::CodeForAnotherClient`], so that a flow mixed up between two
    /// servers or clients does not hand the code and its verifier to the wrong one.
    pub fn authorization_code(
        endpoint: &Endpoint,
        client: &Client,
        exchange: CodeExchange,
    ) -> Self {
        let mut request = Self::new(endpoint, client, "authorization_code")
            .secret("code", exchange.code.secret())
            .plain("redirect_uri", exchange.redirect_uri.as_str());
        if let Some(verifier) = &exchange.pkce_verifier {
            request = request.secret("code_verifier", verifier.secret());
        }
        if exchange.client_id().is_some_and(|id| id != client.id()) {
            request.refused = Some(GrantError::CodeForAnotherClient);
        }
        request
    }

    /// The refresh token grant (RFC 6749 §6). No `scope` is sent unless [`scope`](Self::scope)
    /// narrows it: the library never widens a scope on its own.
    pub fn refresh_token(
        endpoint: &Endpoint,
        client: &Client,
        refresh_token: &RefreshToken,
    ) -> Self {
        Self::new(endpoint, client, "refresh_token").secret("refresh_token", refresh_token.secret())
    }

    /// The client credentials grant (RFC 6749 §4.4.2). Meant for confidential clients.
    pub fn client_credentials(endpoint: &Endpoint, client: &Client) -> Self {
        Self::new(endpoint, client, "client_credentials")
    }

    /// The resource owner password credentials grant (RFC 6749 §4.3.2). Only with the `legacy`
    /// feature.
    #[cfg(feature = "legacy")]
    #[deprecated(
        note = "RFC 9700 §2.4: the resource owner password credentials grant MUST NOT be used"
    )]
    pub fn password(
        endpoint: &Endpoint,
        client: &Client,
        username: &str,
        password: &ResourceOwnerPassword,
    ) -> Self {
        Self::new(endpoint, client, "password")
            .plain("username", username)
            .secret("password", password.secret())
    }

    /// The device access token request (RFC 8628 §3.4), to poll while the user approves.
    pub fn device_code(endpoint: &Endpoint, client: &Client, device_code: &DeviceCode) -> Self {
        Self::new(endpoint, client, DEVICE_CODE_GRANT).secret("device_code", device_code.secret())
    }

    /// The CIBA token request (OpenID Connect CIBA Core §10.1), to poll while the user
    /// authenticates on their own device: `grant_type=urn:openid:params:grant-type:ciba` and
    /// the `auth_req_id` from the backchannel authentication response
    /// ([`BackchannelAuthentication::auth_req_id`](super::ciba::BackchannelAuthentication::auth_req_id)).
    pub fn ciba(endpoint: &Endpoint, client: &Client, auth_req_id: &AuthReqId) -> Self {
        Self::new(endpoint, client, CIBA_GRANT).secret("auth_req_id", auth_req_id.secret())
    }

    /// An extension grant (RFC 6749 §4.5): `grant_type` is an absolute URI; add its parameters
    /// with [`param`](Self::param) or [`secret_param`](Self::secret_param).
    pub fn extension(endpoint: &Endpoint, client: &Client, grant_type: &str) -> Self {
        Self::new(endpoint, client, grant_type)
    }

    /// RFC 8693 token exchange of `subject_token` of type `subject_token_type` (e.g.
    /// `urn:ietf:params:oauth:token-type:access_token`).
    pub fn token_exchange(
        endpoint: &Endpoint,
        client: &Client,
        subject_token: &str,
        subject_token_type: &str,
    ) -> Self {
        Self::extension(endpoint, client, TOKEN_EXCHANGE_GRANT)
            .secret("subject_token", subject_token)
            .plain("subject_token_type", subject_token_type)
    }

    /// RFC 7523 §2.1 JWT bearer grant with a signed `assertion`.
    pub fn jwt_bearer(endpoint: &Endpoint, client: &Client, assertion: &str) -> Self {
        Self::extension(endpoint, client, JWT_BEARER_GRANT).secret("assertion", assertion)
    }

    /// Requests `scope` (RFC 6749 §3.3). On refresh it must not exceed the original grant.
    /// A second call replaces the first; an empty scope sends none (the grant's default).
    #[must_use]
    pub fn scope(mut self, scope: &Scope) -> Self {
        // Once at most (RFC 6749 §3.2): a second call replaces the first, as on
        // `AuthorizationRequest`, instead of sending a narrow and a wide scope together.
        self.params.retain(|(name, _)| name != "scope");
        if scope.is_empty() {
            return self;
        }
        self.plain("scope", scope.to_string())
    }

    /// Adds a `resource` indicator (RFC 8707 §2), an absolute URI; may be repeated. One with a
    /// fragment, or not absolute, makes [`build`](Self::build) fail with
    /// [`GrantError::InvalidResource`].
    #[must_use]
    pub fn resource(mut self, resource: &str) -> Self {
        if super::endpoint::split_absolute(resource).is_err() {
            self.refused.get_or_insert(GrantError::InvalidResource);
        }
        self.plain("resource", resource)
    }

    /// Adds an extension parameter (e.g. `audience`, `requested_token_type`, `actor_token_type`).
    ///
    /// Each call adds one parameter, so a name given twice is sent twice: RFC 8693 allows that
    /// for `audience` (and RFC 8707 for `resource`), but RFC 6749 §3.2 forbids it for other
    /// parameters, so give those once.
    #[must_use]
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra.push((name.into(), value.into()));
        self
    }

    /// Adds an extension parameter holding a credential (e.g. RFC 8693 `actor_token`); it is
    /// zeroized when the builder is dropped.
    #[must_use]
    pub fn secret_param(mut self, name: &str, value: &str) -> Self {
        if self.sets(name) {
            // Not kept: `build` refuses the request.
            self.refused
                .get_or_insert(GrantError::ReservedParameter(name.into()));
            return self;
        }
        self.params.push((name.into(), Param::Secret(value.into())));
        self
    }

    /// The token endpoint this request is for.
    pub fn endpoint(&self) -> &Endpoint {
        &self.endpoint
    }

    /// The `client_id` of the client this request authenticates as.
    pub fn client_id(&self) -> &str {
        self.client.id()
    }

    /// Whether the builder sets `name` itself: a grant or client parameter, or one this
    /// request's grant set (`subject_token`, `assertion`, ...) or a secret parameter already
    /// added. An extra parameter of that name would send it twice (RFC 6749 §3.2).
    fn sets(&self, name: &str) -> bool {
        RESERVED_TOKEN_PARAMS.contains(&name) || self.params.iter().any(|(n, _)| n == name)
    }

    /// Builds the request.
    ///
    /// # Errors
    ///
    /// Fails with [`GrantError::ReservedParameter`] when an extra parameter
    /// ([`param`](Self::param), [`secret_param`](Self::secret_param)) names one the builder
    /// sets: a second credential, or a second value of the grant's own parameters.
    pub fn build(self) -> Result<Request<SensitiveBody>, GrantError> {
        if let Some(refused) = &self.refused {
            return Err(refused.clone());
        }
        if let Some((name, _)) = self.extra.iter().find(|(n, _)| self.sets(n)) {
            return Err(GrantError::ReservedParameter(name.clone()));
        }
        let mut authorization = None;
        let mut client_params = Vec::new();
        // The audience is the token endpoint URL (OpenID Connect Core §9).
        let assertion = match &self.client.auth {
            ClientAuth::PrivateKeyJwt(key) => {
                Some(key.assertion(&self.client.id, &self.endpoint.uri().to_string())?)
            }
            ClientAuth::ClientSecretJwt(jwt) => {
                Some(jwt.assertion(&self.client.id, &self.endpoint.uri().to_string())?)
            }
            _ => None,
        };
        match &self.client.auth {
            // RFC 8705 §2: with mutual TLS the body names the client; the handshake proves it.
            ClientAuth::None | ClientAuth::TlsClientAuth | ClientAuth::SelfSignedTlsClientAuth => {
                client_params.push(("client_id", self.client.id.as_str()));
            }
            ClientAuth::SecretBasic(secret) => {
                let mut value =
                    HeaderValue::try_from(basic_auth_header_value(&self.client.id, secret))
                        .map_err(|_| GrantError::InvalidHeader)?;
                value.set_sensitive(true);
                authorization = Some(value);
            }
            ClientAuth::SecretPost(secret) => {
                client_params.push(("client_id", self.client.id.as_str()));
                client_params.push(("client_secret", secret.secret()));
            }
            ClientAuth::PrivateKeyJwt(_) | ClientAuth::ClientSecretJwt(_) => {
                client_params.push(("client_id", self.client.id.as_str()));
                client_params.push(("client_assertion_type", CLIENT_ASSERTION_TYPE));
                client_params.push((
                    "client_assertion",
                    assertion.as_deref().map_or("", |a| a.as_str()),
                ));
            }
        }
        // grant_type first, then grant parameters, then client authentication, then extras.
        let pairs: Vec<(&str, &str)> = self
            .params
            .iter()
            .map(|(name, value)| match value {
                Param::Plain(v) | Param::Secret(v) => (name.as_str(), v.as_str()),
            })
            .chain(client_params)
            .chain(self.extra.iter().map(|(n, v)| (n.as_str(), v.as_str())))
            .collect();
        let body = SensitiveBody::from(encode_form(&pairs));
        let mut builder = Request::builder()
            .method(Method::POST)
            .uri(self.endpoint.uri().clone())
            .header(CONTENT_TYPE, "application/x-www-form-urlencoded")
            .header(ACCEPT, "application/json");
        if let Some(value) = authorization {
            builder = builder.header(AUTHORIZATION, value);
        }
        builder.body(body).map_err(|_| GrantError::InvalidRequest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn basic_auth_vectors() {
        assert_eq!(
            basic_auth_header_value("s6BhdRkqt3", &ClientSecret::new("gX1fBat3bV")),
            "Basic czZCaGRSa3F0MzpnWDFmQmF0M2JW"
        );
        assert_eq!(
            basic_auth_header_value("CLIENT_ID??", &ClientSecret::new("CLIENT_SECRET??")),
            "Basic Q0xJRU5UX0lEJTNGJTNGOkNMSUVOVF9TRUNSRVQlM0YlM0Y="
        );
        assert_eq!(
            basic_auth_header_value("client id+&:", &ClientSecret::new("s3cr3t:%/é")),
            "Basic Y2xpZW50K2lkJTJCJTI2JTNBOnMzY3IzdCUzQSUyNSUyRiVDMyVBOQ=="
        );
    }

    #[test]
    fn reserved_extra_params_refused() {
        let e = Endpoint::new("https://as.example.com/token").unwrap();
        let c = Client::secret_basic("id", ClientSecret::new("s"));
        let err = TokenRequest::client_credentials(&e, &c)
            .param("client_secret", "again")
            .build()
            .unwrap_err();
        assert_eq!(err, GrantError::ReservedParameter("client_secret".into()));
        let err = TokenRequest::client_credentials(&e, &c)
            .secret_param("client_secret", "again")
            .build()
            .unwrap_err();
        assert_eq!(err, GrantError::ReservedParameter("client_secret".into()));
        // A secret parameter once, then again (either way): sent twice, so refused.
        for request in [
            TokenRequest::client_credentials(&e, &c)
                .secret_param("actor_token", "a")
                .secret_param("actor_token", "b"),
            TokenRequest::client_credentials(&e, &c)
                .secret_param("actor_token", "a")
                .param("actor_token", "b"),
        ] {
            assert_eq!(
                request.build().unwrap_err(),
                GrantError::ReservedParameter("actor_token".into())
            );
        }
        // Repeatable extension parameters stay repeatable (RFC 8693 `audience`).
        let built = TokenRequest::client_credentials(&e, &c)
            .param("audience", "a")
            .param("audience", "b")
            .build()
            .unwrap();
        let body = std::str::from_utf8(built.body().as_bytes()).unwrap();
        assert_eq!(body.matches("audience=").count(), 2);
    }

    /// The form is written into a buffer sized for it once: a buffer that grew would have left
    /// the credentials written before the growth (the code, the refresh token, the client
    /// secret…) in freed memory, unzeroized, which the secret types and `SensitiveBody` exist
    /// to prevent.
    #[test]
    fn the_form_is_written_without_a_reallocation() {
        let e = Endpoint::new("https://as.example.com/token").unwrap();
        let secret = "s3cr3t-".repeat(40);
        let post = Client::secret_post("client id", ClientSecret::new(secret.as_str()));
        let public = Client::public("pub");
        let requests = [
            TokenRequest::refresh_token(&e, &public, &RefreshToken::new(secret.as_str()))
                .scope(&Scope::parse("read write"))
                .param("audience", "https://api.example.com/ä"),
            TokenRequest::client_credentials(&e, &post).resource("https://rs.example.com/"),
            TokenRequest::token_exchange(&e, &public, &secret, "urn:x")
                .secret_param("actor_token", "a&b=c d"),
            TokenRequest::device_code(&e, &post, &DeviceCode::new(secret.as_str())),
        ];
        for request in requests {
            let built = request.build().unwrap();
            let body = built.body();
            assert_eq!(body.capacity(), body.len());
        }
    }

    /// The Basic value is written into a buffer sized for it once, as the form is: it is the
    /// credentials in base64, and `HeaderValue::try_from(String)` keeps that buffer, so a growth
    /// would leave a partial copy behind in freed memory.
    #[test]
    fn the_basic_value_is_written_without_a_reallocation() {
        let long = "é+&:% ".repeat(50);
        for (id, secret) in [
            ("s6BhdRkqt3", "gX1fBat3bV"),
            ("", ""),
            ("a", "bc"),
            ("ab", "c"),
            (long.as_str(), long.as_str()),
        ] {
            let value = basic_auth_header_value(id, &ClientSecret::new(secret));
            assert!(value.starts_with("Basic "));
            assert_eq!(value.capacity(), value.len(), "{id:?}");
        }
    }

    #[test]
    fn debug_shows_names_only() {
        let e = Endpoint::new("https://as.example.com/token").unwrap();
        let c = Client::secret_post("id", ClientSecret::new("SENTINEL-secret"));
        let r = TokenRequest::refresh_token(&e, &c, &RefreshToken::new("SENTINEL-rt"));
        let shown = format!("{r:?}");
        assert!(!shown.contains("SENTINEL"), "{shown}");
        assert!(shown.contains("refresh_token"));
    }
}
