//! OpenID Connect Client-Initiated Backchannel Authentication (CIBA Core 1.0), poll and ping
//! modes: the backchannel authentication request (§7.1), its response (§7.3) and errors (§13),
//! the polling rules (§7.3, §11), and the ping callback (§10.2). The token request itself is
//! [`TokenRequest::ciba`](super::TokenRequest::ciba).
//!
//! The client asks the provider to authenticate a user it names (a [`UserHint`]) on the user's
//! own device (a banking app, say); the provider answers with an `auth_req_id` at once, and
//! then:
//!
//! - **poll** mode: the client polls the token endpoint with it until the user has decided;
//! - **ping** mode: the client sends a fresh [`ClientNotificationToken`] with the request
//!   ([`BackchannelAuthenticationRequest::client_notification_token`]); once the user has
//!   decided, the provider `POST`s `{"auth_req_id": ...}` to the client's registered
//!   `backchannel_client_notification_endpoint` with that token as a bearer token.
//!   [`verify_ping_notification`] checks that callback (the HTTP server is the
//!   application's), and the client then makes one token request.
//!
//! Either request can be signed (CIBA Core §7.1.1, as FAPI-CIBA requires):
//! [`BackchannelAuthenticationRequest::signed_request`] puts its parameters in a JWT signed
//! with the client's [`PrivateKeyJwt`] key.
//!
//! The push mode (tokens delivered to the client's endpoint) is not offered: FAPI-CIBA forbids
//! it and providers such as oidc-provider do not implement it.
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use http::{HeaderMap, HeaderValue, StatusCode, header::CONTENT_TYPE};
//! use oauth_core::oauth2::{
//!     BackchannelAuthenticationRequest, Client, Compliance, Endpoint, PollAction, Scope,
//!     TokenRequest, UserHint, parse_backchannel_authentication_response, parse_token_response,
//! };
//! use oauth_core::secret::ClientSecret;
//!
//! let client = Client::secret_basic("s6BhdRkqt3", ClientSecret::new("7Fjfp0ZBr1KtDRbnfVdmIw"));
//! let endpoint = Endpoint::new("https://server.example.com/bc-authorize")?;
//! let request = BackchannelAuthenticationRequest::new(
//!     &Scope::parse("openid email"),
//!     UserHint::login_hint("pippin@example.com"),
//! )
//! .binding_message("W4SCT")
//! .build(&endpoint, &client)?;
//! assert_eq!(
//!     request.body(),
//!     b"scope=openid+email&login_hint=pippin%40example.com&binding_message=W4SCT"
//! );
//!
//! let mut headers = HeaderMap::new();
//! headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
//! let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
//! let body = br#"{"auth_req_id":"1c266114-a1be-4252-8ad1-04986c5b9ac1",
//!   "expires_in":120,"interval":2}"#;
//! let mut pending = parse_backchannel_authentication_response(
//!     StatusCode::OK, &headers, body, now, &Compliance::strict())?;
//! assert_eq!(pending.interval(), Duration::from_secs(2));
//! assert!(!format!("{pending:?}").contains("1c266114"));
//!
//! let token_endpoint = Endpoint::new("https://server.example.com/token")?;
//! let poll = TokenRequest::ciba(&token_endpoint, &client, pending.auth_req_id()).build()?;
//! let answer = parse_token_response(StatusCode::BAD_REQUEST, &headers,
//!     br#"{"error":"authorization_pending"}"#, now, &Compliance::strict()).unwrap_err();
//! assert_eq!(pending.on_poll_error(&answer, now), PollAction::Wait(Duration::from_secs(2)));
//! # let _ = poll;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::time::{Duration, SystemTime};

use http::{HeaderMap, Request, StatusCode};

use super::SensitiveBody;
use super::authorize::{DEFAULT_REQUEST_OBJECT_LIFETIME, request_object};
use super::client_assertion::PrivateKeyJwt;
use super::compliance::Compliance;
use super::device::{PollAction, on_poll_error, take_interval};
use super::endpoint::{Endpoint, Issuer};
use super::grant::{Client, GrantError, TokenRequest};
use super::response::{
    TokenResponseError, check_error, decode_response, media_type, parse_strict_json,
    take_required_expires_in,
};
use super::token::{IssuedTo, Scope, expires_at, is_b64token};
use crate::clock::{RandomError, RandomSource, random_urlsafe};
use crate::secret::{AuthReqId, IdToken, constant_time_eq};

/// Who the user to authenticate is (CIBA Core §7.1): exactly one of `login_hint`,
/// `id_token_hint` and `login_hint_token`, which the type makes sure of.
///
/// `Debug` shows which kind of hint it is, never its value (an ID token or a hint token is a
/// credential, a login hint is personal data). The value is zeroized on drop.
pub struct UserHint {
    kind: HintKind,
    value: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum HintKind {
    LoginHint,
    IdTokenHint,
    LoginHintToken,
}

impl HintKind {
    fn name(self) -> &'static str {
        match self {
            Self::LoginHint => "login_hint",
            Self::IdTokenHint => "id_token_hint",
            Self::LoginHintToken => "login_hint_token",
        }
    }
}

impl UserHint {
    /// `login_hint`: a value that identifies the user to the provider (an email address, a
    /// phone number, a user name), in a form the provider defines.
    pub fn login_hint(value: impl Into<String>) -> Self {
        Self {
            kind: HintKind::LoginHint,
            value: value.into(),
        }
    }

    /// `id_token_hint`: an ID token the provider issued earlier to this client for the user.
    pub fn id_token_hint(id_token: &IdToken) -> Self {
        Self {
            kind: HintKind::IdTokenHint,
            value: id_token.secret().to_owned(),
        }
    }

    /// `login_hint_token`: a token that identifies the user, in a format the provider and
    /// client agreed on.
    pub fn login_hint_token(token: impl Into<String>) -> Self {
        Self {
            kind: HintKind::LoginHintToken,
            value: token.into(),
        }
    }

    /// The parameter this hint is sent as: `login_hint`, `id_token_hint` or
    /// `login_hint_token`.
    pub fn parameter(&self) -> &'static str {
        self.kind.name()
    }
}

impl fmt::Debug for UserHint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "UserHint({}: [redacted])", self.kind.name())
    }
}

impl Drop for UserHint {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.value);
    }
}

/// The backchannel authentication request (OpenID Connect CIBA Core §7.1): `scope` (which
/// must include `openid`), one [`UserHint`], and the optional `binding_message`, `user_code`,
/// `requested_expiry` and `acr_values`, sent with the client's authentication as token
/// requests are (every [`Client`] method works).
///
/// `Debug` shows the parameter names only.
pub struct BackchannelAuthenticationRequest {
    scope: Scope,
    hint: UserHint,
    binding_message: Option<String>,
    user_code: Option<String>,
    requested_expiry: Option<Duration>,
    acr_values: Option<String>,
    client_notification_token: Option<String>,
    extra: Vec<(String, String)>,
    signed: Option<(PrivateKeyJwt, Issuer)>,
    signed_lifetime: Duration,
}

impl fmt::Debug for BackchannelAuthenticationRequest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackchannelAuthenticationRequest")
            .field("scope", &self.scope)
            .field("hint", &self.hint)
            .field("binding_message", &self.binding_message.is_some())
            .field("user_code", &self.user_code.as_ref().map(|_| "[redacted]"))
            .field("requested_expiry", &self.requested_expiry)
            .field("acr_values", &self.acr_values)
            .field(
                "client_notification_token",
                &self
                    .client_notification_token
                    .as_ref()
                    .map(|_| "[redacted]"),
            )
            .field("signed", &self.signed.is_some())
            .field("extra", &crate::secret::names_only(&self.extra))
            .finish()
    }
}

impl Drop for BackchannelAuthenticationRequest {
    fn drop(&mut self) {
        if let Some(code) = &mut self.user_code {
            zeroize::Zeroize::zeroize(code);
        }
        if let Some(token) = &mut self.client_notification_token {
            zeroize::Zeroize::zeroize(token);
        }
    }
}

impl BackchannelAuthenticationRequest {
    /// A request to authenticate the user `hint` names, for `scope` (which must include
    /// `openid`, CIBA Core §7.1: [`build`](Self::build) checks it).
    pub fn new(scope: &Scope, hint: UserHint) -> Self {
        Self {
            scope: scope.clone(),
            hint,
            binding_message: None,
            user_code: None,
            requested_expiry: None,
            acr_values: None,
            client_notification_token: None,
            extra: Vec::new(),
            signed: None,
            signed_lifetime: DEFAULT_REQUEST_OBJECT_LIFETIME,
        }
    }

    /// `binding_message`: a short text shown on both the client's screen and the user's
    /// device, so that the user knows which request they approve. Keep it short and plain
    /// (providers refuse long ones with `invalid_binding_message`).
    #[must_use]
    pub fn binding_message(mut self, message: impl Into<String>) -> Self {
        self.binding_message = Some(message.into());
        self
    }

    /// `user_code`: a secret the user gave the client (a PIN), for providers that ask for it
    /// (`backchannel_user_code_parameter_supported`). Zeroized when the builder is dropped.
    #[must_use]
    pub fn user_code(mut self, code: &str) -> Self {
        self.user_code = Some(code.to_owned());
        self
    }

    /// `requested_expiry`: how long the client would like the request to stay valid, in whole
    /// seconds (at least 1 s: a shorter one makes [`build`](Self::build) fail). The provider
    /// answers with the lifetime it grants (`expires_in`).
    #[must_use]
    pub fn requested_expiry(mut self, expiry: Duration) -> Self {
        self.requested_expiry = Some(expiry);
        self
    }

    /// `acr_values`: the authentication context classes asked for, in order of preference.
    #[must_use]
    pub fn acr_values<I, T>(mut self, values: I) -> Self
    where
        I: IntoIterator<Item = T>,
        T: AsRef<str>,
    {
        let joined = values
            .into_iter()
            .map(|v| v.as_ref().to_owned())
            .collect::<Vec<_>>()
            .join(" ");
        self.acr_values = Some(joined);
        self
    }

    /// `client_notification_token` (CIBA Core §7.1): required when the client is registered
    /// for the ping delivery mode. The provider presents it as a bearer token when it pings
    /// the client's notification endpoint; keep `token` to check that callback with
    /// [`verify_ping_notification`]. Use a fresh one per request
    /// ([`ClientNotificationToken::generate`]). Sent as a secret parameter; the copy the
    /// builder holds is zeroized when it is dropped.
    #[must_use]
    pub fn client_notification_token(mut self, token: &ClientNotificationToken) -> Self {
        self.client_notification_token = Some(token.secret().to_owned());
        self
    }

    /// Sends the request signed (CIBA Core §7.1.1, which FAPI-CIBA requires): every parameter
    /// becomes a claim of a JWT signed with `key`, with `iss` the client, `aud` the provider's
    /// `issuer`, a fresh `jti`, `iat` = `nbf` now and `exp` later (see
    /// [`signed_request_lifetime`](Self::signed_request_lifetime)); the form carries only that
    /// `request` and the client's authentication. The provider must know the key (the
    /// client's registered `jwks`), and its metadata's
    /// `backchannel_authentication_request_signing_alg_values_supported` says which algorithms
    /// it takes. `requested_expiry` is a number in the object. Extra parameters named like the
    /// object's own claims (`iss`, `aud`, `iat`, `nbf`, `exp`, `jti`, `sub`) or `request` /
    /// `request_uri` are refused ([`GrantError::ReservedParameter`]).
    ///
    /// ```
    /// use oauth_core::oauth2::{
    ///     BackchannelAuthenticationRequest, Client, EcP256PrivateKey, Endpoint, Issuer,
    ///     PrivateKeyJwt, Scope, UserHint,
    /// };
    ///
    /// # let pem = EcP256PrivateKey::generate_pkcs8_pem()?;
    /// let key = || PrivateKeyJwt::es256(EcP256PrivateKey::from_pem(&pem).unwrap()).key_id("k1");
    /// let client = Client::private_key_jwt("s6BhdRkqt3", key());
    /// let endpoint = Endpoint::new("https://server.example.com/bc-authorize")?;
    /// let request = BackchannelAuthenticationRequest::new(
    ///     &Scope::parse("openid email"),
    ///     UserHint::login_hint("pippin@example.com"),
    /// )
    /// .binding_message("W4SCT")
    /// .signed_request(key(), Issuer::new("https://server.example.com")?)
    /// .build(&endpoint, &client)?;
    /// let body = String::from_utf8(request.body().to_vec())?;
    /// assert!(body.starts_with("request=ey"));
    /// assert!(!body.contains("login_hint") && !body.contains("binding_message"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[must_use]
    pub fn signed_request(mut self, key: PrivateKeyJwt, issuer: Issuer) -> Self {
        self.signed = Some((key, issuer));
        self
    }

    /// How long a signed request object is valid (default [`DEFAULT_REQUEST_OBJECT_LIFETIME`],
    /// five minutes; it is sent at once). Only meaningful with
    /// [`signed_request`](Self::signed_request).
    #[must_use]
    pub fn signed_request_lifetime(mut self, lifetime: Duration) -> Self {
        self.signed_lifetime = lifetime;
        self
    }

    /// Adds an extension parameter (e.g. `request_context`). A name the builder sets itself
    /// makes [`build`](Self::build) fail with [`GrantError::ReservedParameter`].
    #[must_use]
    pub fn param(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.extra.push((name.into(), value.into()));
        self
    }

    /// Builds the `POST` request to `endpoint` (the provider's
    /// `backchannel_authentication_endpoint`) for `client`, with the same headers and client
    /// authentication as token requests.
    ///
    /// # Errors
    ///
    /// Fails with [`GrantError::MissingOpenIdScope`] when the scope has no `openid`,
    /// [`GrantError::InvalidParameter`] for an empty hint, `binding_message`, `user_code` or
    /// `acr_values`, or a `requested_expiry` under one second, and otherwise as
    /// [`TokenRequest::build`] does ([`GrantError::ReservedParameter`] for an extra parameter
    /// the builder sets, [`GrantError::ClientAssertion`] when a JWT assertion cannot be made).
    pub fn build(
        self,
        endpoint: &Endpoint,
        client: &Client,
    ) -> Result<Request<SensitiveBody>, GrantError> {
        if !self.scope.contains("openid") {
            return Err(GrantError::MissingOpenIdScope);
        }
        let invalid = |name| GrantError::InvalidParameter { name };
        if self.hint.value.is_empty() {
            return Err(invalid(self.hint.kind.name()));
        }
        // (name, value, whether the value is a secret), in the order sent.
        let mut params: Vec<(&str, &str, bool)> = Vec::new();
        let scope = self.scope.to_string();
        params.push(("scope", &scope, false));
        params.push((
            self.hint.kind.name(),
            &self.hint.value,
            self.hint.kind != HintKind::LoginHint,
        ));
        if let Some(message) = &self.binding_message {
            if message.is_empty() {
                return Err(invalid("binding_message"));
            }
            params.push(("binding_message", message, false));
        }
        if let Some(code) = &self.user_code {
            if code.is_empty() {
                return Err(invalid("user_code"));
            }
            params.push(("user_code", code, true));
        }
        let expiry = match self.requested_expiry {
            Some(expiry) if expiry.as_secs() == 0 => return Err(invalid("requested_expiry")),
            Some(expiry) => Some(expiry.as_secs().to_string()),
            None => None,
        };
        if let Some(expiry) = &expiry {
            params.push(("requested_expiry", expiry, false));
        }
        if let Some(acr) = &self.acr_values {
            if acr.trim().is_empty() {
                return Err(invalid("acr_values"));
            }
            params.push(("acr_values", acr, false));
        }
        if let Some(token) = &self.client_notification_token {
            params.push(("client_notification_token", token, true));
        }
        for (name, _) in &self.extra {
            if [
                "login_hint",
                "id_token_hint",
                "login_hint_token",
                "binding_message",
                "user_code",
                "requested_expiry",
                "acr_values",
                "client_notification_token",
            ]
            .contains(&name.as_str())
            {
                return Err(GrantError::ReservedParameter(name.clone()));
            }
        }

        let mut request = TokenRequest::without_grant_type(endpoint, client);
        if let Some((key, issuer)) = &self.signed {
            // CIBA Core §7.1.1: every parameter in the signed object, only `request` outside.
            let mut claims: Vec<(String, String)> = params
                .iter()
                .map(|(name, value, _)| ((*name).to_owned(), (*value).to_owned()))
                .chain(self.extra.iter().cloned())
                .collect();
            let object = request_object(
                &claims,
                key,
                client.id(),
                issuer.as_str(),
                self.signed_lifetime,
            );
            for (_, value) in &mut claims {
                zeroize::Zeroize::zeroize(value);
            }
            let object = object.map_err(|e| match e {
                super::AuthorizeError::ReservedParameter(name) => {
                    GrantError::ReservedParameter(name)
                }
                super::AuthorizeError::RequestObject(e) => GrantError::RequestObject(e),
                _ => GrantError::InvalidRequest,
            })?;
            return request.secret("request", &object).build();
        }
        for (name, value, secret) in params {
            request = if secret {
                request.secret(name, value)
            } else {
                request.plain(name, value)
            };
        }
        for (name, value) in &self.extra {
            request = request.param(name.as_str(), value.as_str());
        }
        request.build()
    }
}

/// A backchannel authentication response (OpenID Connect CIBA Core §7.3), with `expires_in`
/// made absolute: the `auth_req_id` to poll with, until when, and how often.
///
/// `Debug` never shows the `auth_req_id`.
pub struct BackchannelAuthentication {
    auth_req_id: AuthReqId,
    expires_at: SystemTime,
    interval: Duration,
    issued_to: Option<IssuedTo>,
}

impl fmt::Debug for BackchannelAuthentication {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BackchannelAuthentication")
            .field("auth_req_id", &self.auth_req_id)
            .field("expires_at", &self.expires_at)
            .field("interval", &self.interval)
            .field("issued_to", &self.issued_to)
            .finish()
    }
}

impl BackchannelAuthentication {
    /// Records the token endpoint and client the request is for (the grant client that sent
    /// it does), so that it is polled for there only.
    #[must_use]
    pub fn with_issued_to(mut self, issued_to: Option<IssuedTo>) -> Self {
        self.issued_to = issued_to;
        self
    }

    /// The token endpoint and client the request is for, when recorded.
    pub fn issued_to(&self) -> Option<&IssuedTo> {
        self.issued_to.as_ref()
    }

    /// The `auth_req_id`, for [`TokenRequest::ciba`].
    pub fn auth_req_id(&self) -> &AuthReqId {
        &self.auth_req_id
    }

    /// Whether `auth_req_id` (from a ping, [`verify_ping_notification`]) is this request's,
    /// compared in constant time. A ping for another request (or one the provider no longer
    /// knows) is `false`: do not make a token request for this one on its account.
    pub fn is_for(&self, auth_req_id: &AuthReqId) -> bool {
        self.auth_req_id == *auth_req_id
    }

    /// When the request expires (`expires_in` after it was sent).
    pub fn expires_at(&self) -> SystemTime {
        self.expires_at
    }

    /// The current polling interval: the provider's `interval`, 5 s when it sent none (CIBA
    /// Core §7.3), longer after each `slow_down`.
    pub fn interval(&self) -> Duration {
        self.interval
    }

    /// Classifies a failed poll (CIBA Core §11), as
    /// [`DeviceAuthorization::on_poll_error`](super::DeviceAuthorization::on_poll_error)
    /// does: `authorization_pending` and transient failures wait one interval, `slow_down`
    /// adds 5 s to it for this and all later polls; `expired_token`, `access_denied`,
    /// `transaction_failed`, any other error, or any error once the request has expired, stop.
    pub fn on_poll_error(&mut self, error: &TokenResponseError, now: SystemTime) -> PollAction {
        on_poll_error(error, now, self.expires_at, &mut self.interval)
    }
}

/// Parses a backchannel authentication response (OpenID Connect CIBA Core §7.3) or its error
/// (§13), with the same strictness as [`parse_token_response`](super::parse_token_response).
/// `expires_in` is reckoned from `now`: pass the moment the request was sent.
///
/// # Errors
///
/// Fails with a [`TokenResponseError`]: [`OAuth`](TokenResponseError::OAuth) for an error
/// answer (its [`ErrorCode`](super::ErrorCode) is typed: `unknown_user_id`,
/// `invalid_binding_message`, `invalid_user_code`, ...), [`HttpStatus`](TokenResponseError::HttpStatus)
/// for a failure without one, the body errors of
/// [`parse_token_response`](super::parse_token_response), and
/// [`MissingField`](TokenResponseError::MissingField) or
/// [`InvalidField`](TokenResponseError::InvalidField) when `auth_req_id` or `expires_in` is
/// missing or a member has the wrong type. No error holds the `auth_req_id`.
pub fn parse_backchannel_authentication_response(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
    now: SystemTime,
    compliance: &Compliance,
) -> Result<BackchannelAuthentication, TokenResponseError> {
    let mut members = decode_response(status, headers, body, compliance)?;
    check_error(status, &members)?;
    let auth_req_id = match members.remove("auth_req_id") {
        Some(serde_json::Value::String(id)) if !id.is_empty() => AuthReqId::new(id),
        None | Some(serde_json::Value::Null) | Some(serde_json::Value::String(_)) => {
            return Err(TokenResponseError::MissingField {
                field: "auth_req_id",
            });
        }
        Some(_) => {
            return Err(TokenResponseError::InvalidField {
                field: "auth_req_id",
                expected: "a string",
            });
        }
    };
    let lifetime = take_required_expires_in(&mut members)?;
    let interval = take_interval(&mut members)?;
    Ok(BackchannelAuthentication {
        auth_req_id,
        expires_at: expires_at(now, lifetime),
        interval,
        issued_to: None,
    })
}

/// The longest `client_notification_token` CIBA Core §7.1 allows: 1024 characters.
pub const MAX_CLIENT_NOTIFICATION_TOKEN_LEN: usize = 1024;

/// Random bytes in a [`ClientNotificationToken::generate`]d token: 256 bits.
const NOTIFICATION_TOKEN_BYTES: usize = 32;

/// A `client_notification_token` (OpenID Connect CIBA Core §7.1): the bearer token the
/// provider presents when it pings the client's notification endpoint (§10.2). Whoever knows
/// it can send the client forged pings, so it is a secret: `Debug` is redacted, there is no
/// `Display`, it is compared in constant time and zeroized on drop. Not `Clone`.
///
/// It is always an RFC 6750 §2.1 `b64token` of at most
/// [`MAX_CLIENT_NOTIFICATION_TOKEN_LEN`] characters: [`new`](Self::new) checks it.
pub struct ClientNotificationToken(String);

impl ClientNotificationToken {
    /// Wraps a token the application chose.
    ///
    /// # Errors
    ///
    /// Fails with [`InvalidClientNotificationToken`] when `value` is not an RFC 6750 §2.1
    /// `b64token` (empty, a space, a `,`, a non-ASCII character...) or is longer than
    /// [`MAX_CLIENT_NOTIFICATION_TOKEN_LEN`]; the error does not hold the value.
    pub fn new(value: impl Into<String>) -> Result<Self, InvalidClientNotificationToken> {
        let token = Self(value.into());
        if token.0.len() > MAX_CLIENT_NOTIFICATION_TOKEN_LEN {
            return Err(InvalidClientNotificationToken::TooLong {
                limit: MAX_CLIENT_NOTIFICATION_TOKEN_LEN,
            });
        }
        if !is_b64token(&token.0) {
            return Err(InvalidClientNotificationToken::NotB64Token);
        }
        Ok(token)
    }

    /// A fresh token of 256 random bits from `random` (the operating system's CSPRNG:
    /// [`SystemRandom`](crate::clock::SystemRandom)), as 43 base64url characters.
    ///
    /// # Errors
    ///
    /// Fails with [`RandomError`] when `random` fails.
    pub fn generate(random: &dyn RandomSource) -> Result<Self, RandomError> {
        random_urlsafe(random, NOTIFICATION_TOKEN_BYTES).map(Self)
    }

    /// Returns the token.
    ///
    /// # Security
    ///
    /// The returned string is the live credential. Do not log it, put it in an error
    /// message, or send it anywhere but to the provider.
    pub fn secret(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for ClientNotificationToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("ClientNotificationToken([redacted])")
    }
}

impl PartialEq for ClientNotificationToken {
    fn eq(&self, other: &Self) -> bool {
        constant_time_eq(self.0.as_bytes(), other.0.as_bytes())
    }
}

impl Eq for ClientNotificationToken {}

impl Drop for ClientNotificationToken {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

/// Why a value cannot be a [`ClientNotificationToken`] (CIBA Core §7.1). Never holds the value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum InvalidClientNotificationToken {
    /// Longer than CIBA Core §7.1's limit.
    #[error("the client notification token is longer than {limit} characters")]
    TooLong {
        /// [`MAX_CLIENT_NOTIFICATION_TOKEN_LEN`].
        limit: usize,
    },
    /// Not an RFC 6750 §2.1 `b64token` (empty, or a character a bearer token cannot hold).
    #[error("the client notification token is not an RFC 6750 b64token")]
    NotB64Token,
}

/// The largest ping body [`verify_ping_notification`] reads: 16 KiB (a ping is
/// `{"auth_req_id": "..."}`).
pub const MAX_PING_BODY: usize = 16 * 1024;

/// Why a ping callback was refused ([`verify_ping_notification`]). Never holds the bearer
/// token, the expected token or the `auth_req_id`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PingNotificationError {
    /// No `Authorization` header.
    #[error("the ping has no Authorization header")]
    MissingAuthorization,
    /// The `Authorization` scheme is not `Bearer` (compared case-insensitively).
    #[error("the ping's Authorization header is not a Bearer credential")]
    NotBearer,
    /// More than one `Authorization` header, or a `Bearer` credential that is not one RFC 6750
    /// §2.1 `b64token`.
    #[error("the ping's Authorization header is malformed")]
    MalformedAuthorization,
    /// The bearer token is not the expected client notification token.
    #[error("the ping's bearer token is not the client notification token")]
    WrongToken,
    /// The content type is not `application/json` (or there are several).
    #[error("the ping's content type is not application/json")]
    UnexpectedContentType,
    /// The body is larger than [`MAX_PING_BODY`].
    #[error("the ping's body is larger than {limit} bytes")]
    TooLarge {
        /// [`MAX_PING_BODY`].
        limit: usize,
    },
    /// The body is not UTF-8 JSON.
    #[error("the ping's body is not valid JSON")]
    InvalidJson,
    /// The body is JSON but not an object.
    #[error("the ping's body is not a JSON object")]
    NotAnObject,
    /// A member appears twice.
    #[error("the ping's body has a duplicate member")]
    DuplicateMember,
    /// `auth_req_id` is missing, `null` or empty.
    #[error("the ping's body has no auth_req_id")]
    MissingAuthReqId,
    /// `auth_req_id` is not a string.
    #[error("the ping's auth_req_id is not a string")]
    InvalidAuthReqId,
}

impl PingNotificationError {
    /// Whether the caller failed to authenticate (no, a malformed, a non-`Bearer` or a wrong
    /// token): answer `401 Unauthorized`; the others deserve `400 Bad Request`.
    pub fn is_unauthorized(&self) -> bool {
        matches!(
            self,
            Self::MissingAuthorization
                | Self::NotBearer
                | Self::MalformedAuthorization
                | Self::WrongToken
        )
    }
}

/// Verifies a ping callback (OpenID Connect CIBA Core §10.2) that the client's notification
/// endpoint received, and returns the `auth_req_id` it names: then make the token request
/// for that request (after checking it is one of yours:
/// [`BackchannelAuthentication::is_for`]).
///
/// `headers` and `body` are the callback's; `expected` is the token sent with the request
/// ([`BackchannelAuthenticationRequest::client_notification_token`]). The caller is
/// authenticated first: exactly one `Authorization` header, scheme `Bearer` (any case), one
/// `b64token` equal to `expected` (compared in constant time); nothing of the body is read
/// before. Then the body: `application/json`, at most [`MAX_PING_BODY`] bytes, a JSON object
/// without duplicate members whose `auth_req_id` is a non-empty string (other members are
/// ignored).
///
/// # Errors
///
/// Fails with a [`PingNotificationError`], which never holds either token or the
/// `auth_req_id`; [`PingNotificationError::is_unauthorized`] tells a 401 from a 400.
///
/// ```
/// use http::{HeaderMap, HeaderValue, header::{AUTHORIZATION, CONTENT_TYPE}};
/// use oauth_core::clock::SystemRandom;
/// use oauth_core::oauth2::{ClientNotificationToken, verify_ping_notification};
///
/// let token = ClientNotificationToken::generate(&SystemRandom::new())?;
/// let mut headers = HeaderMap::new();
/// headers.insert(AUTHORIZATION, format!("Bearer {}", token.secret()).parse()?);
/// headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
/// let id = verify_ping_notification(&headers, br#"{"auth_req_id":"1c266114"}"#, &token)?;
/// assert_eq!(id.secret(), "1c266114");
///
/// let other = ClientNotificationToken::new("not-the-one")?;
/// let error = verify_ping_notification(&headers, br#"{"auth_req_id":"1c266114"}"#, &other)
///     .unwrap_err();
/// assert!(error.is_unauthorized());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub fn verify_ping_notification(
    headers: &HeaderMap,
    body: &[u8],
    expected: &ClientNotificationToken,
) -> Result<AuthReqId, PingNotificationError> {
    let mut values = headers.get_all(http::header::AUTHORIZATION).iter();
    let value = values
        .next()
        .ok_or(PingNotificationError::MissingAuthorization)?;
    if values.next().is_some() {
        return Err(PingNotificationError::MalformedAuthorization);
    }
    let value = value
        .to_str()
        .map_err(|_| PingNotificationError::MalformedAuthorization)?;
    let (scheme, credential) = value.split_once(' ').unwrap_or((value, ""));
    if !scheme.eq_ignore_ascii_case("Bearer") {
        return Err(PingNotificationError::NotBearer);
    }
    // RFC 6750 §2.1: "Bearer" 1*SP b64token.
    let credential = credential.trim_start_matches(' ');
    if !is_b64token(credential) {
        return Err(PingNotificationError::MalformedAuthorization);
    }
    if !constant_time_eq(credential.as_bytes(), expected.secret().as_bytes()) {
        return Err(PingNotificationError::WrongToken);
    }

    if media_type(headers).as_deref() != Some("application/json") {
        return Err(PingNotificationError::UnexpectedContentType);
    }
    if body.len() > MAX_PING_BODY {
        return Err(PingNotificationError::TooLarge {
            limit: MAX_PING_BODY,
        });
    }
    let text = std::str::from_utf8(body).map_err(|_| PingNotificationError::InvalidJson)?;
    let mut members = match parse_strict_json(text) {
        Ok(serde_json::Value::Object(members)) => members,
        Ok(_) => return Err(PingNotificationError::NotAnObject),
        Err(TokenResponseError::DuplicateField { .. }) => {
            return Err(PingNotificationError::DuplicateMember);
        }
        Err(_) => return Err(PingNotificationError::InvalidJson),
    };
    match members.remove("auth_req_id") {
        Some(serde_json::Value::String(id)) if !id.is_empty() => Ok(AuthReqId::new(id)),
        None | Some(serde_json::Value::Null) | Some(serde_json::Value::String(_)) => {
            Err(PingNotificationError::MissingAuthReqId)
        }
        Some(_) => Err(PingNotificationError::InvalidAuthReqId),
    }
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use http::HeaderValue;
    use http::header::{AUTHORIZATION, CONTENT_TYPE};

    use super::*;
    use crate::oauth2::device::{DEFAULT_POLL_INTERVAL, MAX_POLL_INTERVAL};
    use crate::oauth2::response::parse_token_response;
    use crate::oauth2::token::MAX_EXPIRES_IN;
    use crate::oauth2::{ClientSecretJwt, ErrorCode};
    use crate::secret::ClientSecret;

    const SECRET_ID: &str = "SENTINEL-auth-req-id-1c266114";

    fn now() -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(1_700_000_000)
    }

    fn json() -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        headers
    }

    fn endpoint() -> Endpoint {
        Endpoint::new("https://server.example.com/bc-authorize").unwrap()
    }

    fn client() -> Client {
        Client::secret_basic("s6BhdRkqt3", ClientSecret::new("7Fjfp0ZBr1KtDRbnfVdmIw"))
    }

    fn openid() -> Scope {
        Scope::parse("openid")
    }

    fn parse(
        status: StatusCode,
        body: &str,
    ) -> Result<BackchannelAuthentication, TokenResponseError> {
        parse_backchannel_authentication_response(
            status,
            &json(),
            body.as_bytes(),
            now(),
            &Compliance::strict(),
        )
    }

    fn body(request: &Request<SensitiveBody>) -> String {
        String::from_utf8(request.body().to_vec()).unwrap()
    }

    /// CIBA Core §7.1.1's example request (with client_secret_basic instead of its JWT
    /// assertion): form body in order, client authentication in the header.
    #[test]
    fn builds_the_request_of_ciba_s7_1_1() {
        let request = BackchannelAuthenticationRequest::new(
            &Scope::parse("openid email example-scope"),
            UserHint::login_hint("john@example.com"),
        )
        .binding_message("W4SCT")
        .build(&endpoint(), &client())
        .unwrap();
        assert_eq!(request.method(), http::Method::POST);
        assert_eq!(
            request.uri().to_string(),
            "https://server.example.com/bc-authorize"
        );
        assert_eq!(
            request.headers()[CONTENT_TYPE],
            "application/x-www-form-urlencoded"
        );
        assert!(request.headers()[AUTHORIZATION].is_sensitive());
        assert_eq!(
            body(&request),
            "scope=openid+email+example-scope&login_hint=john%40example.com&binding_message=W4SCT"
        );
    }

    #[test]
    fn every_optional_parameter_and_each_hint_kind() {
        let request = BackchannelAuthenticationRequest::new(
            &openid(),
            UserHint::id_token_hint(&IdToken::new("eyJ.hint.sig")),
        )
        .user_code("1234")
        .requested_expiry(Duration::from_millis(120_900))
        .acr_values(["urn:acr:high", "urn:acr:low"])
        .param("request_context", "{}")
        .build(&endpoint(), &Client::public("public"))
        .unwrap();
        assert_eq!(
            body(&request),
            "scope=openid&id_token_hint=eyJ.hint.sig&user_code=1234&requested_expiry=120\
             &acr_values=urn%3Aacr%3Ahigh+urn%3Aacr%3Alow&client_id=public&request_context=%7B%7D"
        );
        let request = BackchannelAuthenticationRequest::new(
            &openid(),
            UserHint::login_hint_token("hint-token"),
        )
        .build(
            &endpoint(),
            &Client::secret_post("c", ClientSecret::new("s")),
        )
        .unwrap();
        assert_eq!(
            body(&request),
            "scope=openid&login_hint_token=hint-token&client_id=c&client_secret=s"
        );
    }

    #[test]
    fn jwt_clients_authenticate_with_an_assertion() {
        let secret = ClientSecret::new("a client secret of at least 32 bytes, from the server");
        let client = Client::client_secret_jwt("c", ClientSecretJwt::new(secret));
        let request = BackchannelAuthenticationRequest::new(&openid(), UserHint::login_hint("u"))
            .build(&endpoint(), &client)
            .unwrap();
        let body = body(&request);
        assert!(
            body.starts_with("scope=openid&login_hint=u&client_id=c&client_assertion_type="),
            "{body}"
        );
        assert!(!body.contains("from+the+server"), "{body}");
    }

    #[test]
    fn bad_requests_are_typed_errors() {
        let hint = || UserHint::login_hint("user");
        let build = |request: BackchannelAuthenticationRequest| {
            request.build(&endpoint(), &client()).unwrap_err()
        };
        assert_eq!(
            build(BackchannelAuthenticationRequest::new(
                &Scope::parse("email profile"),
                hint()
            )),
            GrantError::MissingOpenIdScope
        );
        assert_eq!(
            build(BackchannelAuthenticationRequest::new(
                &Scope::parse(""),
                hint()
            )),
            GrantError::MissingOpenIdScope
        );
        let invalid = |name| GrantError::InvalidParameter { name };
        assert_eq!(
            build(BackchannelAuthenticationRequest::new(
                &openid(),
                UserHint::login_hint("")
            )),
            invalid("login_hint")
        );
        assert_eq!(
            build(BackchannelAuthenticationRequest::new(
                &openid(),
                UserHint::login_hint_token("")
            )),
            invalid("login_hint_token")
        );
        assert_eq!(
            build(BackchannelAuthenticationRequest::new(&openid(), hint()).binding_message("")),
            invalid("binding_message")
        );
        assert_eq!(
            build(BackchannelAuthenticationRequest::new(&openid(), hint()).user_code("")),
            invalid("user_code")
        );
        assert_eq!(
            build(
                BackchannelAuthenticationRequest::new(&openid(), hint())
                    .requested_expiry(Duration::from_millis(999))
            ),
            invalid("requested_expiry")
        );
        assert_eq!(
            build(
                BackchannelAuthenticationRequest::new(&openid(), hint())
                    .acr_values(Vec::<String>::new())
            ),
            invalid("acr_values")
        );
        for reserved in [
            "login_hint",
            "id_token_hint",
            "scope",
            "client_secret",
            "user_code",
        ] {
            assert_eq!(
                build(
                    BackchannelAuthenticationRequest::new(&openid(), hint()).param(reserved, "x")
                ),
                GrantError::ReservedParameter(reserved.into()),
                "{reserved}"
            );
        }
    }

    #[test]
    fn hints_and_user_codes_stay_out_of_debug() {
        let request = BackchannelAuthenticationRequest::new(
            &openid(),
            UserHint::login_hint_token("SENTINEL-hint"),
        )
        .user_code("SENTINEL-code")
        .binding_message("SENTINEL-message");
        let debug = format!("{request:?} {request:#?}");
        assert!(!debug.contains("SENTINEL"), "{debug}");
        assert!(debug.contains("login_hint_token"), "{debug}");
        let hint = UserHint::id_token_hint(&IdToken::new("SENTINEL"));
        assert_eq!(format!("{hint:?}"), "UserHint(id_token_hint: [redacted])");
        assert_eq!(hint.parameter(), "id_token_hint");
    }

    /// CIBA Core §7.3's example response.
    #[test]
    fn parses_the_response_of_ciba_s7_3() {
        let pending = parse(
            StatusCode::OK,
            r#"{"auth_req_id":"1c266114-a1be-4252-8ad1-04986c5b9ac1","expires_in":120,"interval":2}"#,
        )
        .unwrap();
        assert_eq!(
            pending.auth_req_id().secret(),
            "1c266114-a1be-4252-8ad1-04986c5b9ac1"
        );
        assert_eq!(pending.expires_at(), now() + Duration::from_secs(120));
        assert_eq!(pending.interval(), Duration::from_secs(2));
        assert!(pending.issued_to().is_none());
    }

    #[test]
    fn interval_defaults_to_5_s_and_is_bounded() {
        let interval = |extra: &str| {
            parse(
                StatusCode::OK,
                &format!(r#"{{"auth_req_id":"a","expires_in":60{extra}}}"#),
            )
            .map(|p| p.interval())
        };
        assert_eq!(interval(""), Ok(DEFAULT_POLL_INTERVAL));
        assert_eq!(interval(r#","interval":null"#), Ok(DEFAULT_POLL_INTERVAL));
        assert_eq!(interval(r#","interval":0"#), Ok(Duration::from_secs(1)));
        assert_eq!(interval(r#","interval":"7""#), Ok(Duration::from_secs(7)));
        assert_eq!(
            interval(r#","interval":99999999999999999999999"#),
            Ok(MAX_POLL_INTERVAL)
        );
        assert_eq!(interval(r#","interval":1e400"#), Ok(MAX_POLL_INTERVAL));
        let wrong = Err(TokenResponseError::InvalidField {
            field: "interval",
            expected: "a non-negative integer",
        });
        assert_eq!(interval(r#","interval":-1"#), wrong);
        assert_eq!(interval(r#","interval":"soon""#), wrong);
        assert_eq!(interval(r#","interval":[5]"#), wrong);
    }

    #[test]
    fn huge_lifetimes_clamp() {
        let pending = parse(
            StatusCode::OK,
            r#"{"auth_req_id":"a","expires_in":18446744073709551616000}"#,
        )
        .unwrap();
        assert_eq!(pending.expires_at(), now() + MAX_EXPIRES_IN);
    }

    #[test]
    fn malformed_responses_are_typed_errors_without_the_id() {
        let cases: &[(&str, TokenResponseError)] = &[
            (
                r#"{"expires_in":120}"#,
                TokenResponseError::MissingField {
                    field: "auth_req_id",
                },
            ),
            (
                r#"{"auth_req_id":"","expires_in":120}"#,
                TokenResponseError::MissingField {
                    field: "auth_req_id",
                },
            ),
            (
                r#"{"auth_req_id":null,"expires_in":120}"#,
                TokenResponseError::MissingField {
                    field: "auth_req_id",
                },
            ),
            (
                r#"{"auth_req_id":12345,"expires_in":120}"#,
                TokenResponseError::InvalidField {
                    field: "auth_req_id",
                    expected: "a string",
                },
            ),
            (
                &format!(r#"{{"auth_req_id":"{SECRET_ID}"}}"#),
                TokenResponseError::MissingField {
                    field: "expires_in",
                },
            ),
            (
                &format!(r#"{{"auth_req_id":"{SECRET_ID}","expires_in":-5}}"#),
                TokenResponseError::InvalidExpiresIn,
            ),
            (
                &format!(r#"{{"auth_req_id":"{SECRET_ID}","expires_in":{{}}}}"#),
                TokenResponseError::InvalidField {
                    field: "expires_in",
                    expected: "a number",
                },
            ),
            (
                &format!(
                    r#"{{"auth_req_id":"{SECRET_ID}","auth_req_id":"{SECRET_ID}","expires_in":1}}"#
                ),
                TokenResponseError::DuplicateField {
                    name: "auth_req_id".into(),
                },
            ),
            (
                &format!(r#"["{SECRET_ID}"]"#),
                TokenResponseError::NotAnObject,
            ),
        ];
        for (body, expected) in cases {
            let error = parse(StatusCode::OK, body).unwrap_err();
            assert_eq!(&error, expected, "{body}");
            let text = format!("{error} {error:?}");
            assert!(!text.contains(SECRET_ID), "{text}");
        }
        let error =
            parse(StatusCode::OK, &format!(r#"{{"auth_req_id":"{SECRET_ID}""#)).unwrap_err();
        assert!(
            matches!(error, TokenResponseError::InvalidJson { .. }),
            "{error:?}"
        );
        assert!(!format!("{error} {error:?}").contains(SECRET_ID));
        // Not JSON at all, and too large.
        let error = parse_backchannel_authentication_response(
            StatusCode::OK,
            &HeaderMap::new(),
            SECRET_ID.as_bytes(),
            now(),
            &Compliance::strict(),
        )
        .unwrap_err();
        assert!(matches!(
            error,
            TokenResponseError::UnexpectedContentType { .. }
        ));
        let huge = format!(
            r#"{{"auth_req_id":"{}","expires_in":1}}"#,
            "a".repeat(2 << 20)
        );
        assert!(matches!(
            parse(StatusCode::OK, &huge).unwrap_err(),
            TokenResponseError::ResponseTooLarge { .. }
        ));
        // A success whose auth_req_id is printed in Debug of the value stays redacted.
        let pending = parse(
            StatusCode::OK,
            &format!(r#"{{"auth_req_id":"{SECRET_ID}","expires_in":1}}"#),
        )
        .unwrap();
        let debug = format!("{pending:?} {pending:#?}");
        assert!(!debug.contains(SECRET_ID), "{debug}");
        assert!(debug.contains("AuthReqId([redacted])"), "{debug}");
    }

    /// CIBA Core §13: the backchannel endpoint's errors, typed.
    #[test]
    fn errors_of_ciba_s13_are_typed() {
        for (status, code, expected) in [
            (400, "invalid_request", ErrorCode::InvalidRequest),
            (400, "invalid_scope", ErrorCode::InvalidScope),
            (
                400,
                "expired_login_hint_token",
                ErrorCode::ExpiredLoginHintToken,
            ),
            (400, "unknown_user_id", ErrorCode::UnknownUserId),
            (400, "unauthorized_client", ErrorCode::UnauthorizedClient),
            (400, "missing_user_code", ErrorCode::MissingUserCode),
            (400, "invalid_user_code", ErrorCode::InvalidUserCode),
            (
                400,
                "invalid_binding_message",
                ErrorCode::InvalidBindingMessage,
            ),
            (401, "invalid_client", ErrorCode::InvalidClient),
            (403, "access_denied", ErrorCode::AccessDenied),
        ] {
            let status = StatusCode::from_u16(status).unwrap();
            let body = format!(r#"{{"error":"{code}","error_description":"said so"}}"#);
            let error = parse(status, &body).unwrap_err();
            let oauth = error.oauth_error().unwrap();
            assert_eq!(oauth.code, expected);
            assert_eq!(oauth.code.as_str(), code);
            assert_eq!(ErrorCode::parse(code), expected);
            assert!(!error.is_transient(), "{code}");
        }
        // A failure without a body: the status only.
        let error = parse_backchannel_authentication_response(
            StatusCode::BAD_GATEWAY,
            &HeaderMap::new(),
            b"<html>",
            now(),
            &Compliance::strict(),
        )
        .unwrap_err();
        assert_eq!(
            error,
            TokenResponseError::HttpStatus {
                status: StatusCode::BAD_GATEWAY
            }
        );
    }

    #[test]
    fn the_token_request_carries_the_grant_and_the_id() {
        let pending = parse(
            StatusCode::OK,
            &format!(r#"{{"auth_req_id":"{SECRET_ID}","expires_in":120}}"#),
        )
        .unwrap();
        let token_endpoint = Endpoint::new("https://server.example.com/token").unwrap();
        let request = TokenRequest::ciba(&token_endpoint, &client(), pending.auth_req_id());
        assert!(!format!("{request:?}").contains(SECRET_ID));
        let request = request.build().unwrap();
        assert_eq!(
            body(&request),
            format!("grant_type=urn%3Aopenid%3Aparams%3Agrant-type%3Aciba&auth_req_id={SECRET_ID}")
        );
        let request = TokenRequest::ciba(&token_endpoint, &client(), pending.auth_req_id())
            .param("auth_req_id", "other")
            .build();
        assert_eq!(
            request.unwrap_err(),
            GrantError::ReservedParameter("auth_req_id".into())
        );
    }

    /// CIBA Core §11 poll outcomes: pending waits, slow_down adds 5 s, everything final stops,
    /// and nothing is polled once the request expired.
    #[test]
    fn poll_outcomes_follow_ciba_s11() {
        let mut pending = parse(
            StatusCode::OK,
            r#"{"auth_req_id":"a","expires_in":120,"interval":2}"#,
        )
        .unwrap();
        let answer = |code: &str| {
            parse_token_response(
                StatusCode::BAD_REQUEST,
                &json(),
                format!(r#"{{"error":"{code}"}}"#).as_bytes(),
                now(),
                &Compliance::strict(),
            )
            .unwrap_err()
        };
        let wait = |s| PollAction::Wait(Duration::from_secs(s));
        assert_eq!(
            pending.on_poll_error(&answer("authorization_pending"), now()),
            wait(2)
        );
        assert_eq!(pending.on_poll_error(&answer("slow_down"), now()), wait(7));
        assert_eq!(
            pending.on_poll_error(&answer("authorization_pending"), now()),
            wait(7)
        );
        assert_eq!(pending.interval(), Duration::from_secs(7));
        assert_eq!(
            pending.on_poll_error(&answer("temporarily_unavailable"), now()),
            wait(7)
        );
        for code in [
            "expired_token",
            "access_denied",
            "transaction_failed",
            "invalid_grant",
            "unauthorized_client",
        ] {
            assert_eq!(
                pending.on_poll_error(&answer(code), now()),
                PollAction::Stop,
                "{code}"
            );
        }
        assert_eq!(
            answer("transaction_failed").oauth_error().unwrap().code,
            ErrorCode::TransactionFailed
        );
        let later = now() + Duration::from_secs(120);
        assert_eq!(
            pending.on_poll_error(&answer("authorization_pending"), later),
            PollAction::Stop
        );
    }

    const PING_TOKEN: &str = "SENTINEL-ping-token_8Zx.~+/==";

    fn ping_token() -> ClientNotificationToken {
        ClientNotificationToken::new(PING_TOKEN).unwrap()
    }

    fn ping_headers(authorization: &str, content_type: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(AUTHORIZATION, HeaderValue::from_str(authorization).unwrap());
        headers.insert(CONTENT_TYPE, HeaderValue::from_str(content_type).unwrap());
        headers
    }

    fn ping(authorization: &str, body: &str) -> Result<AuthReqId, PingNotificationError> {
        verify_ping_notification(
            &ping_headers(authorization, "application/json"),
            body.as_bytes(),
            &ping_token(),
        )
    }

    fn id_body() -> String {
        format!(r#"{{"auth_req_id":"{SECRET_ID}"}}"#)
    }

    /// CIBA Core §7.1: a b64token of at most 1024 characters; a generated one is 256 bits.
    #[test]
    fn client_notification_tokens_are_b64tokens_of_at_most_1024_chars() {
        assert!(ClientNotificationToken::new("a".repeat(1024)).is_ok());
        assert!(ClientNotificationToken::new("8Zx.~+/-_==").is_ok());
        assert_eq!(
            ClientNotificationToken::new("a".repeat(1025)).unwrap_err(),
            InvalidClientNotificationToken::TooLong { limit: 1024 }
        );
        for bad in ["", "a b", "a,b", "é", "a\r\nb", "==", "a=b", "\"a\""] {
            let error = ClientNotificationToken::new(bad).unwrap_err();
            assert_eq!(
                error,
                InvalidClientNotificationToken::NotB64Token,
                "{bad:?}"
            );
        }
        let error = ClientNotificationToken::new("SENTINEL with a space").unwrap_err();
        assert!(!format!("{error} {error:?}").contains("SENTINEL"));

        let random = crate::clock::CountingRandom::new(7);
        let a = ClientNotificationToken::generate(&random).unwrap();
        let b = ClientNotificationToken::generate(&random).unwrap();
        assert_eq!(a.secret().len(), 43);
        assert!(is_b64token(a.secret()));
        assert_ne!(a, b);
        assert_eq!(a, ClientNotificationToken::new(a.secret()).unwrap());
        let system = ClientNotificationToken::generate(&crate::clock::SystemRandom::new()).unwrap();
        assert_eq!(format!("{system:?}"), "ClientNotificationToken([redacted])");
    }

    /// The token goes in the form as a secret parameter, never in Debug; it is reserved.
    #[test]
    fn the_request_carries_the_notification_token() {
        let token = ping_token();
        let builder = BackchannelAuthenticationRequest::new(&openid(), UserHint::login_hint("u"))
            .client_notification_token(&token);
        let debug = format!("{builder:?} {builder:#?}");
        assert!(!debug.contains("SENTINEL"), "{debug}");
        assert!(debug.contains("client_notification_token"), "{debug}");
        let request = builder.build(&endpoint(), &client()).unwrap();
        assert_eq!(
            body(&request),
            "scope=openid&login_hint=u\
             &client_notification_token=SENTINEL-ping-token_8Zx.%7E%2B%2F%3D%3D"
        );
        assert!(!format!("{request:?}").contains("SENTINEL"));
        let error = BackchannelAuthenticationRequest::new(&openid(), UserHint::login_hint("u"))
            .param("client_notification_token", "x")
            .build(&endpoint(), &client())
            .unwrap_err();
        assert_eq!(
            error,
            GrantError::ReservedParameter("client_notification_token".into())
        );
    }

    /// CIBA Core §10.2's example ping, and the scheme in any case with one or more spaces.
    #[test]
    fn verifies_the_ping_of_ciba_s10_2() {
        for authorization in [
            format!("Bearer {PING_TOKEN}"),
            format!("bearer {PING_TOKEN}"),
            format!("BEARER   {PING_TOKEN}"),
        ] {
            let id = ping(&authorization, &id_body()).unwrap();
            assert_eq!(id.secret(), SECRET_ID);
        }
        let with_charset = verify_ping_notification(
            &ping_headers(
                &format!("Bearer {PING_TOKEN}"),
                "Application/JSON; charset=utf-8",
            ),
            br#"{"auth_req_id":"1c266114-a1be-4252-8ad1-04986c5b9ac1","extra":[1]}"#,
            &ping_token(),
        )
        .unwrap();
        assert_eq!(
            with_charset.secret(),
            "1c266114-a1be-4252-8ad1-04986c5b9ac1"
        );
        let pending = parse(
            StatusCode::OK,
            &format!(r#"{{"auth_req_id":"{SECRET_ID}","expires_in":120}}"#),
        )
        .unwrap();
        assert!(!pending.is_for(&with_charset));
        assert!(pending.is_for(&ping(&format!("Bearer {PING_TOKEN}"), &id_body()).unwrap()));
    }

    /// The caller is authenticated before the body is read; every failure is typed, and no
    /// error text holds the token, the expected token or the id.
    #[test]
    fn refused_pings_are_typed_errors_without_secrets() {
        use PingNotificationError as E;
        let bearer = format!("Bearer {PING_TOKEN}");
        let wrong = "Bearer SENTINEL-other-token";
        let cases: Vec<(HeaderMap, String, E)> = vec![
            (HeaderMap::new(), id_body(), E::MissingAuthorization),
            (
                ping_headers(wrong, "application/json"),
                id_body(),
                E::WrongToken,
            ),
            // A wrong token with a broken body: still WrongToken, the body is not read.
            (
                ping_headers(wrong, "text/html"),
                "<html>".into(),
                E::WrongToken,
            ),
            (
                ping_headers(&format!("Bearer x{PING_TOKEN}"), "application/json"),
                id_body(),
                E::WrongToken,
            ),
            (
                ping_headers(&format!("Bearer {}", &PING_TOKEN[..10]), "application/json"),
                id_body(),
                E::WrongToken,
            ),
            (
                ping_headers(&format!("Basic {PING_TOKEN}"), "application/json"),
                id_body(),
                E::NotBearer,
            ),
            (
                ping_headers(&format!("Bearer{PING_TOKEN}"), "application/json"),
                id_body(),
                E::NotBearer,
            ),
            (
                ping_headers(PING_TOKEN, "application/json"),
                id_body(),
                E::NotBearer,
            ),
            (
                ping_headers("Bearer", "application/json"),
                id_body(),
                E::MalformedAuthorization,
            ),
            (
                ping_headers(&format!("Bearer {PING_TOKEN} x"), "application/json"),
                id_body(),
                E::MalformedAuthorization,
            ),
            (
                ping_headers(&format!("Bearer {PING_TOKEN},"), "application/json"),
                id_body(),
                E::MalformedAuthorization,
            ),
            (
                ping_headers(&bearer, "text/plain"),
                id_body(),
                E::UnexpectedContentType,
            ),
            (
                ping_headers(&bearer, "application/x-www-form-urlencoded"),
                format!("auth_req_id={SECRET_ID}"),
                E::UnexpectedContentType,
            ),
            (
                ping_headers(&bearer, "application/json"),
                "".into(),
                E::InvalidJson,
            ),
            (
                ping_headers(&bearer, "application/json"),
                format!(r#"{{"auth_req_id":"{SECRET_ID}""#),
                E::InvalidJson,
            ),
            (
                ping_headers(&bearer, "application/json"),
                format!(r#"["{SECRET_ID}"]"#),
                E::NotAnObject,
            ),
            (
                ping_headers(&bearer, "application/json"),
                format!(r#"{{"auth_req_id":"{SECRET_ID}","auth_req_id":"{SECRET_ID}"}}"#),
                E::DuplicateMember,
            ),
            (
                ping_headers(&bearer, "application/json"),
                "{}".into(),
                E::MissingAuthReqId,
            ),
            (
                ping_headers(&bearer, "application/json"),
                r#"{"auth_req_id":""}"#.into(),
                E::MissingAuthReqId,
            ),
            (
                ping_headers(&bearer, "application/json"),
                r#"{"auth_req_id":null}"#.into(),
                E::MissingAuthReqId,
            ),
            (
                ping_headers(&bearer, "application/json"),
                r#"{"auth_req_id":1234}"#.into(),
                E::InvalidAuthReqId,
            ),
            (
                ping_headers(&bearer, "application/json"),
                format!(r#"{{"auth_req_id":["{SECRET_ID}"]}}"#),
                E::InvalidAuthReqId,
            ),
            (
                ping_headers(&bearer, "application/json"),
                format!(r#"{{"auth_req_id":"{}"}}"#, "a".repeat(MAX_PING_BODY)),
                E::TooLarge {
                    limit: MAX_PING_BODY,
                },
            ),
        ];
        for (headers, body, expected) in cases {
            let error =
                verify_ping_notification(&headers, body.as_bytes(), &ping_token()).unwrap_err();
            assert_eq!(error, expected, "{headers:?} {body}");
            assert_eq!(
                error.is_unauthorized(),
                matches!(
                    expected,
                    E::MissingAuthorization
                        | E::NotBearer
                        | E::MalformedAuthorization
                        | E::WrongToken
                )
            );
            let text = format!("{error} {error:?} {error:#?}");
            assert!(!text.contains("SENTINEL"), "{text}");
        }
        // Two Authorization headers, even if one is right.
        let mut headers = ping_headers(&bearer, "application/json");
        headers.append(AUTHORIZATION, HeaderValue::from_str(&bearer).unwrap());
        assert_eq!(
            verify_ping_notification(&headers, id_body().as_bytes(), &ping_token()),
            Err(E::MalformedAuthorization)
        );
        // Two content types.
        let mut headers = ping_headers(&bearer, "application/json");
        headers.append(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        assert_eq!(
            verify_ping_notification(&headers, id_body().as_bytes(), &ping_token()),
            Err(E::UnexpectedContentType)
        );
        // Not UTF-8, and a header value that is not visible ASCII.
        let headers = ping_headers(&bearer, "application/json");
        assert_eq!(
            verify_ping_notification(&headers, b"{\"auth_req_id\":\"\xff\"}", &ping_token()),
            Err(E::InvalidJson)
        );
        let mut headers = HeaderMap::new();
        headers.insert(
            AUTHORIZATION,
            HeaderValue::from_bytes(b"Bearer \xfftoken").unwrap(),
        );
        assert_eq!(
            verify_ping_notification(&headers, id_body().as_bytes(), &ping_token()),
            Err(E::MalformedAuthorization)
        );
    }

    fn signing_key() -> PrivateKeyJwt {
        let pem = crate::oauth2::jws::EcP256PrivateKey::generate_pkcs8_pem().unwrap();
        PrivateKeyJwt::es256(crate::oauth2::jws::EcP256PrivateKey::from_pem(&pem).unwrap())
            .key_id("k1")
            .clock(crate::clock::ManualClock::at_unix_seconds(1_700_000_000))
            .random(crate::clock::CountingRandom::new(3))
    }

    fn issuer() -> Issuer {
        Issuer::new("https://server.example.com").unwrap()
    }

    /// CIBA Core §7.1.1: every parameter a claim of the signed object, with iss, aud, iat, nbf,
    /// exp and jti; only `request` (and the client's authentication) in the form.
    #[test]
    fn signed_requests_carry_every_parameter_in_the_object_of_ciba_s7_1_1() {
        let token = ping_token();
        let request = BackchannelAuthenticationRequest::new(
            &Scope::parse("openid email example-scope"),
            UserHint::login_hint_token("SENTINEL-hint-token"),
        )
        .binding_message("W4SCT")
        .user_code("SENTINEL-code")
        .requested_expiry(Duration::from_secs(120))
        .acr_values(["urn:acr:high"])
        .client_notification_token(&token)
        .param("request_context", "{}")
        .signed_request(signing_key(), issuer())
        .signed_request_lifetime(Duration::from_secs(60));
        let debug = format!("{request:?}");
        assert!(debug.contains("signed: true"), "{debug}");
        let request = request.build(&endpoint(), &client()).unwrap();
        assert!(request.headers()[AUTHORIZATION].is_sensitive());
        let form = body(&request);
        let jwt = form.strip_prefix("request=").unwrap();
        assert!(!jwt.contains('&'), "{form}");
        let header = crate::oauth2::jws::part(jwt, 0);
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["kid"], "k1");
        let claims = crate::oauth2::jws::part(jwt, 1);
        assert_eq!(claims["iss"], "s6BhdRkqt3");
        assert_eq!(claims["aud"], "https://server.example.com");
        assert_eq!(claims["iat"], 1_700_000_000u64);
        assert_eq!(claims["nbf"], 1_700_000_000u64);
        assert_eq!(claims["exp"], 1_700_000_060u64);
        assert!(claims["jti"].as_str().is_some_and(|j| !j.is_empty()));
        assert_eq!(claims["scope"], "openid email example-scope");
        assert_eq!(claims["login_hint_token"], "SENTINEL-hint-token");
        assert_eq!(claims["binding_message"], "W4SCT");
        assert_eq!(claims["user_code"], "SENTINEL-code");
        assert_eq!(claims["requested_expiry"], 120);
        assert_eq!(claims["acr_values"], "urn:acr:high");
        assert_eq!(claims["client_notification_token"], PING_TOKEN);
        assert_eq!(claims["request_context"], "{}");
        assert!(claims.get("client_id").is_none() && claims.get("sub").is_none());
        assert!(!format!("{request:?}").contains("SENTINEL"));

        // With private_key_jwt client authentication, the assertion goes beside the object.
        let client = Client::private_key_jwt("c", signing_key());
        let request = BackchannelAuthenticationRequest::new(&openid(), UserHint::login_hint("u"))
            .signed_request(signing_key(), issuer())
            .build(&endpoint(), &client)
            .unwrap();
        let form = body(&request);
        assert!(form.starts_with("request=ey"), "{form}");
        assert!(
            form.contains("&client_id=c&client_assertion_type="),
            "{form}"
        );
        assert!(!form.contains("login_hint"), "{form}");
    }

    #[test]
    fn signed_requests_refuse_the_objects_own_claim_names() {
        for name in ["iss", "aud", "exp", "jti", "request", "request_uri"] {
            let error = BackchannelAuthenticationRequest::new(&openid(), UserHint::login_hint("u"))
                .param(name, "x")
                .signed_request(signing_key(), issuer())
                .build(&endpoint(), &client())
                .unwrap_err();
            assert_eq!(error, GrantError::ReservedParameter(name.into()), "{name}");
        }
        // The checks of unsigned requests come first.
        let error = BackchannelAuthenticationRequest::new(
            &Scope::parse("email"),
            UserHint::login_hint("u"),
        )
        .signed_request(signing_key(), issuer())
        .build(&endpoint(), &client())
        .unwrap_err();
        assert_eq!(error, GrantError::MissingOpenIdScope);
        let error = BackchannelAuthenticationRequest::new(&openid(), UserHint::login_hint("u"))
            .signed_request(
                signing_key().clock(crate::clock::ManualClock::new(
                    UNIX_EPOCH - Duration::from_secs(1),
                )),
                issuer(),
            )
            .build(&endpoint(), &client())
            .unwrap_err();
        assert_eq!(
            error,
            GrantError::RequestObject(crate::oauth2::AssertionError::ClockBeforeEpoch)
        );
    }
}
