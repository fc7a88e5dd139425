//! OpenID Connect Client-Initiated Backchannel Authentication (CIBA Core 1.0), poll mode: the
//! backchannel authentication request (§7.1), its response (§7.3) and errors (§13), and the
//! polling rules (§7.3, §11). The token request itself is
//! [`TokenRequest::ciba`](super::TokenRequest::ciba).
//!
//! The client asks the provider to authenticate a user it names (a [`UserHint`]) on the user's
//! own device (a banking app, say); the provider answers with an `auth_req_id` at once, and the
//! client polls the token endpoint with it until the user has decided. Only the poll delivery
//! mode is covered: the ping and push modes need a client notification endpoint (an HTTP
//! server of the client's) that this crate does not provide.
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
use super::compliance::Compliance;
use super::device::{PollAction, on_poll_error, take_interval};
use super::endpoint::Endpoint;
use super::grant::{Client, GrantError, TokenRequest};
use super::response::{TokenResponseError, check_error, decode_response, take_required_expires_in};
use super::token::{IssuedTo, Scope, expires_at};
use crate::secret::{AuthReqId, IdToken};

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
    extra: Vec<(String, String)>,
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
                "extra",
                &self
                    .extra
                    .iter()
                    .map(|(n, _)| n.as_str())
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

impl Drop for BackchannelAuthenticationRequest {
    fn drop(&mut self) {
        if let Some(code) = &mut self.user_code {
            zeroize::Zeroize::zeroize(code);
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
            extra: Vec::new(),
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
        let mut request = TokenRequest::without_grant_type(endpoint, client).scope(&self.scope);
        request = match self.hint.kind {
            HintKind::LoginHint => request.plain("login_hint", self.hint.value.as_str()),
            kind => request.secret(kind.name(), &self.hint.value),
        };
        if let Some(message) = &self.binding_message {
            if message.is_empty() {
                return Err(invalid("binding_message"));
            }
            request = request.plain("binding_message", message.as_str());
        }
        if let Some(code) = &self.user_code {
            if code.is_empty() {
                return Err(invalid("user_code"));
            }
            request = request.secret("user_code", code);
        }
        if let Some(expiry) = self.requested_expiry {
            if expiry.as_secs() == 0 {
                return Err(invalid("requested_expiry"));
            }
            request = request.plain("requested_expiry", expiry.as_secs().to_string());
        }
        if let Some(acr) = &self.acr_values {
            if acr.trim().is_empty() {
                return Err(invalid("acr_values"));
            }
            request = request.plain("acr_values", acr.as_str());
        }
        for (name, value) in &self.extra {
            if [
                "login_hint",
                "id_token_hint",
                "login_hint_token",
                "binding_message",
                "user_code",
                "requested_expiry",
                "acr_values",
            ]
            .contains(&name.as_str())
            {
                return Err(GrantError::ReservedParameter(name.clone()));
            }
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
}
