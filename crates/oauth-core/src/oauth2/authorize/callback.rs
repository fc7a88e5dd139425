//! The callback: [`PendingAuthorization`] checks what comes back to the redirect URI (RFC 6749
//! §4.1.2, RFC 9207, RFC 9700 §4.7) and yields the [`CodeExchange`] for the token request.

use std::fmt;

use serde_json::{Map, Value};

use super::{AuthorizeError, MAX_CALLBACK_LEN, MAX_CALLBACK_PARAMS, ResponseType};
use crate::oauth2::callback_target;
use crate::oauth2::endpoint::{Issuer, RedirectUri};
use crate::oauth2::pkce::{self, PkceMethod};
use crate::oauth2::response::{OAuthErrorResponse, TokenResponseError};
#[cfg(feature = "legacy")]
use crate::oauth2::token::Token;
use crate::oauth2::token::truncate;
use crate::secret::{AuthorizationCode, PkceCodeVerifier, constant_time_eq};

/// One authorization in flight: what the callback must match and what the token request needs.
///
/// Created by [`AuthorizationRequest::build`](super::AuthorizationRequest::build) and consumed once by
/// [`parse_callback`](Self::parse_callback) (or `token_from_fragment`): it is not `Clone`, so a
/// state or verifier cannot be re-attached to another flow (RFC 9700 §2.1.1, §4.2.4). If it must
/// outlive the process between redirect and callback, serialise it into **server-side** session
/// storage; the serialised form holds the PKCE verifier. Take it out of that storage (read and
/// delete in one step) when the callback arrives, before parsing: a copy left behind would
/// accept the same callback a second time, and `state` is single-use (RFC 9700 §4.7).
#[derive(serde::Deserialize)]
#[serde(try_from = "PendingRepr")]
pub struct PendingAuthorization {
    pub(super) state: String,
    /// `None` only for a flow stored by an older version, which did not record it.
    pub(super) client_id: Option<String>,
    pub(super) pkce_verifier: Option<PkceCodeVerifier>,
    pub(super) pkce_method: Option<PkceMethod>,
    pub(super) redirect_uri: RedirectUri,
    pub(super) issuer: Option<Issuer>,
    pub(super) iss_parameter_supported: bool,
    pub(super) nonce: Option<String>,
    /// The OpenID Connect `max_age` sent, in seconds.
    pub(super) max_age: Option<u64>,
    pub(super) response_type: ResponseType,
    pub(super) dpop_jkt: Option<String>,
    /// Whether the response was asked for as a signed JWT (JARM).
    pub(super) signed_response: bool,
}

#[derive(serde::Deserialize)]
pub(super) struct PendingRepr {
    state: String,
    #[serde(default)]
    client_id: Option<String>,
    #[serde(default)]
    pkce_verifier: Option<PkceCodeVerifier>,
    #[serde(default)]
    pkce_method: Option<PkceMethod>,
    redirect_uri: RedirectUri,
    #[serde(default)]
    issuer: Option<Issuer>,
    #[serde(default)]
    iss_parameter_supported: bool,
    #[serde(default)]
    nonce: Option<String>,
    /// Absent from flows stored by versions that did not send `max_age`.
    #[serde(default)]
    max_age: Option<u64>,
    response_type: ResponseType,
    #[serde(default)]
    dpop_jkt: Option<String>,
    /// Absent from flows stored by versions without signed responses (JARM).
    #[serde(default)]
    signed_response: bool,
}

impl TryFrom<PendingRepr> for PendingAuthorization {
    type Error = &'static str;

    fn try_from(r: PendingRepr) -> Result<Self, Self::Error> {
        if r.state.is_empty() {
            return Err("pending authorization with an empty state");
        }
        if r.pkce_verifier.is_some() != r.pkce_method.is_some() {
            return Err("pending authorization with an incomplete PKCE pair");
        }
        // Sent as is at the code exchange: one the server must refuse would spend the code.
        if r.pkce_verifier
            .as_ref()
            .is_some_and(|v| !pkce::is_valid_verifier(v.secret()))
        {
            return Err("pending authorization with a PKCE verifier RFC 7636 §4.1 does not allow");
        }
        // A signed response is checked against the flow's issuer and client (JARM §2.4).
        if r.signed_response && (r.issuer.is_none() || r.client_id.is_none()) {
            return Err(
                "pending authorization expecting a signed response without its issuer and client",
            );
        }
        Ok(Self {
            state: r.state,
            client_id: r.client_id,
            pkce_verifier: r.pkce_verifier,
            pkce_method: r.pkce_method,
            redirect_uri: r.redirect_uri,
            issuer: r.issuer,
            iss_parameter_supported: r.iss_parameter_supported,
            nonce: r.nonce,
            max_age: r.max_age,
            response_type: r.response_type,
            dpop_jkt: r.dpop_jkt,
            signed_response: r.signed_response,
        })
    }
}

#[derive(serde::Serialize)]
pub(super) struct PendingReprRef<'a> {
    state: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    client_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pkce_verifier: Option<&'a PkceCodeVerifier>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pkce_method: Option<PkceMethod>,
    redirect_uri: &'a RedirectUri,
    #[serde(skip_serializing_if = "Option::is_none")]
    issuer: Option<&'a Issuer>,
    iss_parameter_supported: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    nonce: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    max_age: Option<u64>,
    response_type: ResponseType,
    #[serde(skip_serializing_if = "Option::is_none")]
    dpop_jkt: Option<&'a str>,
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    signed_response: bool,
}

impl serde::Serialize for PendingAuthorization {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        PendingReprRef {
            state: &self.state,
            client_id: self.client_id.as_deref(),
            pkce_verifier: self.pkce_verifier.as_ref(),
            pkce_method: self.pkce_method,
            redirect_uri: &self.redirect_uri,
            issuer: self.issuer.as_ref(),
            iss_parameter_supported: self.iss_parameter_supported,
            nonce: self.nonce.as_deref(),
            max_age: self.max_age,
            response_type: self.response_type,
            dpop_jkt: self.dpop_jkt.as_deref(),
            signed_response: self.signed_response,
        }
        .serialize(s)
    }
}

impl fmt::Debug for PendingAuthorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingAuthorization")
            .field("state", &"[redacted]")
            .field("client_id", &self.client_id)
            .field("pkce_verifier", &self.pkce_verifier)
            .field("pkce_method", &self.pkce_method)
            .field("redirect_uri", &self.redirect_uri)
            .field("issuer", &self.issuer)
            .field("iss_parameter_supported", &self.iss_parameter_supported)
            .field("nonce", &self.nonce.as_ref().map(|_| "[redacted]"))
            .field("max_age", &self.max_age)
            .field("dpop_jkt", &self.dpop_jkt)
            .field("signed_response", &self.signed_response)
            .finish()
    }
}

/// A callback that does not complete the authorization (RFC 6749 §4.1.2, §4.1.2.1; RFC 9207).
///
/// Never holds the code, the state or the callback URL.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallbackError {
    /// Too long, too many parameters, or bad percent-encoding / UTF-8.
    #[error("malformed callback: {0}")]
    MalformedCallback(&'static str),
    /// A parameter appears more than once (RFC 6749 §3.1).
    #[error("callback parameter {name:?} appears more than once")]
    DuplicateParameter {
        /// The parameter name, truncated to 64 characters.
        name: String,
    },
    /// The callback's `iss` differs from the issuer this flow was sent to (RFC 9207 §2.4).
    #[error("callback iss does not match the expected issuer")]
    IssuerMismatch,
    /// No `iss`, but the server advertises `authorization_response_iss_parameter_supported`.
    #[error(
        "callback has no iss, but the flow was told the authorization server sends it (expect_issuer(.., true)): check its metadata's authorization_response_iss_parameter_supported"
    )]
    IssuerMissing,
    /// No `state` (or an empty one).
    #[error("callback has no state")]
    StateMissing,
    /// `state` differs from the one sent.
    #[error("callback state does not match")]
    StateMismatch,
    /// The callback arrived at another address than the flow's `redirect_uri`: another scheme,
    /// host, port or path, or without a parameter of the redirect URI's own query (or with
    /// another value; one with an empty value may be missing). A client that gives each
    /// authorization server its own redirect URI tells their responses apart this way (RFC 9700
    /// §4.4.2).
    #[error("the callback did not arrive at the redirect URI the authorization was sent with")]
    RedirectUriMismatch,
    /// The pending authorization is unusable (e.g. an empty stored state), or no flow of the
    /// session has the callback's `state` ([`PendingAuthorizations`](crate::oauth2::PendingAuthorizations)).
    #[error("no pending authorization to match the callback against")]
    NoPendingFlow,
    /// The flow this `state` names was completed already: `state` is single-use (RFC 9700
    /// §4.2.4). From [`PendingAuthorizations`](crate::oauth2::PendingAuthorizations).
    #[error("the callback's state was used already")]
    StateAlreadyUsed,
    /// The flow this `state` names waited longer than its lifetime for the callback. From
    /// [`PendingAuthorizations`](crate::oauth2::PendingAuthorizations).
    #[error("the authorization took too long: start again")]
    FlowExpired,
    /// The authorization server returned an error (RFC 6749 §4.1.2.1).
    #[error("authorization failed: {0}")]
    AuthorizationDenied(OAuthErrorResponse),
    /// A code-flow callback carries `access_token` or `id_token` (implicit or hybrid response).
    #[error("callback carries tokens, but the code flow was requested")]
    UnexpectedResponseType,
    /// No `code` in the query (parameters in the fragment are ignored).
    #[error("callback has no code")]
    MissingCode,
    /// The pending authorization was created for a different response type.
    #[error("the pending authorization was created for another response type")]
    WrongFlow,
    /// An implicit-flow fragment did not carry a valid token.
    #[error("invalid token in fragment: {0}")]
    InvalidToken(TokenResponseError),
    /// The flow asked for a signed response (JARM,
    /// [`AuthorizationRequest::signed_response`](super::AuthorizationRequest::signed_response)),
    /// but the callback has no `response` parameter (a plain `?code=...&state=...` cannot
    /// stand in for it), or was given to [`PendingAuthorization::parse_callback`] instead of
    /// [`PendingAuthorization::parse_signed_callback`].
    #[error(
        "the flow asked for a signed authorization response (JARM): the callback must carry it as its response parameter, read with parse_signed_callback"
    )]
    SignedResponseRequired,
    /// [`PendingAuthorization::parse_signed_callback`] was given a flow that did not ask for
    /// a signed response: read its callback with
    /// [`parse_callback`](PendingAuthorization::parse_callback).
    #[error("the flow did not ask for a signed authorization response")]
    SignedResponseNotRequested,
    /// A signed-response callback carries another parameter besides `response` (and the
    /// redirect URI's own query): a `code`, `state`, `iss` or `error` outside the signed JWT
    /// would be unsigned, so the callback is refused whole.
    #[error("callback parameter {name:?} is outside the signed authorization response")]
    ParameterOutsideSignedResponse {
        /// The parameter name, truncated to 64 characters.
        name: String,
    },
    /// The signed response (JARM) failed a check: signature, `iss`, `aud` or `exp`.
    #[error(transparent)]
    SignedResponse(#[from] super::SignedResponseError),
}

/// Everything the authorization-code token request needs (RFC 6749 §4.1.3, RFC 7636 §4.5), taken
/// from a verified callback and its pending authorization. Consumed by
/// [`TokenRequest::authorization_code`](crate::oauth2::TokenRequest::authorization_code).
pub struct CodeExchange {
    pub(crate) code: AuthorizationCode,
    pub(crate) client_id: Option<String>,
    pub(crate) pkce_verifier: Option<PkceCodeVerifier>,
    pub(crate) redirect_uri: RedirectUri,
    pub(crate) nonce: Option<String>,
    pub(crate) max_age: Option<u64>,
    pub(crate) dpop_jkt: Option<String>,
}

impl CodeExchange {
    /// The authorization code.
    pub fn code(&self) -> &AuthorizationCode {
        &self.code
    }

    /// The thumbprint of the DPoP key the code is bound to
    /// ([`AuthorizationRequest::dpop_key`](super::AuthorizationRequest::dpop_key)), if any: the exchange must be made with that key.
    pub fn dpop_jkt(&self) -> Option<&str> {
        self.dpop_jkt.as_deref()
    }

    /// The `client_id` the code was requested for (RFC 6749 §4.1.3: it is redeemed by that
    /// client only). `None` for a flow stored by a version that did not record it.
    pub fn client_id(&self) -> Option<&str> {
        self.client_id.as_deref()
    }

    /// The PKCE verifier, unless PKCE was disabled.
    pub fn pkce_verifier(&self) -> Option<&PkceCodeVerifier> {
        self.pkce_verifier.as_ref()
    }

    /// The redirect URI, identical to the one in the authorization request.
    pub fn redirect_uri(&self) -> &RedirectUri {
        &self.redirect_uri
    }

    /// The OpenID Connect nonce sent, to compare with the ID token's `nonce` claim.
    pub fn nonce(&self) -> Option<&str> {
        self.nonce.as_deref()
    }

    /// The OpenID Connect `max_age` sent ([`AuthorizationRequest::max_age`](super::AuthorizationRequest::max_age)), if any: the ID
    /// token must then carry an `auth_time` no older than it
    /// ([`IdTokenVerifier::check_max_age`](crate::oauth2::oidc::IdTokenVerifier::check_max_age), which
    /// tower-oauth2's `IdTokenValidator::exchange_code` calls with it).
    pub fn max_age(&self) -> Option<std::time::Duration> {
        self.max_age.map(std::time::Duration::from_secs)
    }
}

impl fmt::Debug for CodeExchange {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CodeExchange")
            .field("code", &self.code)
            .field("client_id", &self.client_id)
            .field("pkce_verifier", &self.pkce_verifier)
            .field("redirect_uri", &self.redirect_uri)
            .field("nonce", &self.nonce.as_ref().map(|_| "[redacted]"))
            .field("max_age", &self.max_age)
            .field("dpop_jkt", &self.dpop_jkt)
            .finish()
    }
}

impl PendingAuthorization {
    /// The `state` sent in the authorization URL (to key server-side storage of this flow).
    pub fn state(&self) -> &str {
        &self.state
    }

    /// The redirect URI sent.
    pub fn redirect_uri(&self) -> &RedirectUri {
        &self.redirect_uri
    }

    /// The issuer this flow is bound to, if any.
    pub fn issuer(&self) -> Option<&Issuer> {
        self.issuer.as_ref()
    }

    /// The PKCE method used, if any.
    pub fn pkce_method(&self) -> Option<PkceMethod> {
        self.pkce_method
    }

    /// Whether the flow asked for a signed response (JARM,
    /// [`AuthorizationRequest::signed_response`](super::AuthorizationRequest::signed_response)):
    /// its callback is then read with [`parse_signed_callback`](Self::parse_signed_callback)
    /// only.
    pub fn expects_signed_response(&self) -> bool {
        self.signed_response
    }

    /// The OpenID Connect `max_age` sent, if any ([`AuthorizationRequest::max_age`](super::AuthorizationRequest::max_age), or given
    /// as a parameter); carried on to [`CodeExchange::max_age`].
    pub fn max_age(&self) -> Option<std::time::Duration> {
        self.max_age.map(std::time::Duration::from_secs)
    }

    /// Verifies a code-flow callback and returns what the token request needs.
    ///
    /// `callback_url` is the full URL the user agent was redirected to, or its path and query
    /// as a server receives them (`/callback?code=...`). The parameters are read from the query;
    /// fragment parameters are ignored. Checks, in order: length and encoding, duplicates, that
    /// the callback arrived at the flow's redirect URI (scheme, host, port and path of a full
    /// URL, the path of a path and query; [`CallbackError::RedirectUriMismatch`]), `iss`
    /// (RFC 9207), `state` (constant-time), tokens in a code-flow response, `error`, then
    /// `code`. The pending authorization is consumed whatever the outcome: restart the flow
    /// after an error.
    ///
    /// Behind a proxy that rewrites the path, pass the URL as the browser requested it.
    ///
    /// # Errors
    ///
    /// Fails with the [`CallbackError`] of the first check that fails, in the order above:
    /// [`MalformedCallback`](CallbackError::MalformedCallback),
    /// [`DuplicateParameter`](CallbackError::DuplicateParameter),
    /// [`RedirectUriMismatch`](CallbackError::RedirectUriMismatch),
    /// [`IssuerMismatch`](CallbackError::IssuerMismatch) or
    /// [`IssuerMissing`](CallbackError::IssuerMissing),
    /// [`StateMissing`](CallbackError::StateMissing) or
    /// [`StateMismatch`](CallbackError::StateMismatch),
    /// [`AuthorizationDenied`](CallbackError::AuthorizationDenied) for an error response, and
    /// [`MissingCode`](CallbackError::MissingCode). Before any of these, a flow that asked for
    /// a signed response fails with
    /// [`SignedResponseRequired`](CallbackError::SignedResponseRequired) (read it with
    /// [`parse_signed_callback`](Self::parse_signed_callback)).
    pub fn parse_callback(self, callback_url: &str) -> Result<CodeExchange, CallbackError> {
        if self.response_type != ResponseType::Code {
            return Err(CallbackError::WrongFlow);
        }
        // A flow that asked for a signed response takes nothing else (downgrade).
        if self.signed_response {
            return Err(CallbackError::SignedResponseRequired);
        }
        let (query, _, target) = split_callback(callback_url)?;
        let params = callback_params(query.unwrap_or(""))?;
        if !callback_target::arrived_at(&self.redirect_uri, target, &params) {
            return Err(CallbackError::RedirectUriMismatch);
        }
        self.code_from(params)
    }

    /// The checks on a code-flow response's parameters (from the query, or from a verified
    /// signed response's claims): `iss`, `state`, tokens, `error`, then `code`.
    pub(super) fn code_from(
        self,
        mut params: Map<String, Value>,
    ) -> Result<CodeExchange, CallbackError> {
        self.check_response(&mut params)?;
        if params.contains_key("access_token") || params.contains_key("id_token") {
            return Err(CallbackError::UnexpectedResponseType);
        }
        check_error_param(&params)?;
        let code = match params.remove("code") {
            Some(Value::String(code)) => code,
            _ => return Err(CallbackError::MissingCode),
        };
        Ok(CodeExchange {
            code: AuthorizationCode::new(code),
            client_id: self.client_id,
            pkce_verifier: self.pkce_verifier,
            redirect_uri: self.redirect_uri,
            nonce: self.nonce,
            max_age: self.max_age,
            dpop_jkt: self.dpop_jkt,
        })
    }

    /// Reads an implicit-grant token from the callback's fragment (RFC 6749 §4.2.2), after the
    /// same `iss` and `state` checks as the code flow. A `refresh_token` is dropped (§4.2.2 forbids
    /// one). Only with the `legacy` feature.
    #[cfg(feature = "legacy")]
    #[deprecated(
        note = "RFC 9700 §2.1.2: clients SHOULD NOT use the implicit grant; use the code flow with PKCE"
    )]
    ///
    /// # Errors
    ///
    /// Fails with the [`CallbackError`]s of [`parse_callback`](Self::parse_callback)'s `iss` and
    /// `state` checks, [`CallbackError::WrongFlow`] for a flow that was not started for the
    /// implicit grant, and [`CallbackError::InvalidToken`] for a fragment without a usable token.
    pub fn token_from_fragment(
        self,
        callback_url: &str,
        now: std::time::SystemTime,
    ) -> Result<Token, CallbackError> {
        if self.response_type != ResponseType::Token {
            return Err(CallbackError::WrongFlow);
        }
        if self.signed_response {
            return Err(CallbackError::SignedResponseRequired);
        }
        let (query, fragment, target) = split_callback(callback_url)?;
        let mut params = callback_params(fragment.unwrap_or(""))?;
        let query = callback_params(query.unwrap_or(""))?;
        if !callback_target::arrived_at(&self.redirect_uri, target, &query) {
            return Err(CallbackError::RedirectUriMismatch);
        }
        self.check_response(&mut params)?;
        check_error_param(&params)?;
        params.remove("refresh_token");
        for name in ["state", "iss"] {
            params.remove(name);
        }
        crate::oauth2::response::extract_token(params, now).map_err(CallbackError::InvalidToken)
    }

    /// The `iss` then `state` checks (RFC 9207 §2.4, RFC 6749 §10.12, RFC 9700 §4.7).
    fn check_response(&self, params: &mut Map<String, Value>) -> Result<(), CallbackError> {
        if let Some(expected) = &self.issuer {
            match params.get("iss").and_then(Value::as_str) {
                Some(iss) if iss == expected.as_str() => {}
                Some(_) => return Err(CallbackError::IssuerMismatch),
                None if self.iss_parameter_supported => return Err(CallbackError::IssuerMissing),
                None => {}
            }
        }
        if self.state.is_empty() {
            return Err(CallbackError::NoPendingFlow);
        }
        match params.get("state").and_then(Value::as_str) {
            None => Err(CallbackError::StateMissing),
            Some(got) if constant_time_eq(got.as_bytes(), self.state.as_bytes()) => Ok(()),
            Some(_) => Err(CallbackError::StateMismatch),
        }
    }
}

/// The one `max_age`: `known` (already given), or else the single one of `values` (the
/// values of parameters named `max_age`); [`AuthorizeError::InvalidMaxAge`] for a second one or
/// an invalid one.
pub(super) fn read_max_age(
    known: Option<u64>,
    values: impl Iterator<Item = impl AsRef<str>>,
) -> Result<Option<u64>, AuthorizeError> {
    let mut max_age = known;
    for value in values {
        if max_age.is_some() {
            return Err(AuthorizeError::InvalidMaxAge);
        }
        max_age = Some(parse_max_age(value.as_ref())?);
    }
    Ok(max_age)
}

/// A `max_age` parameter's value: a non-negative whole number of seconds, in ASCII digits
/// (OpenID Connect Core §3.1.2.1), without leading zeros (which some servers' integer
/// parsers read as octal: `0300` is 192 seconds to Ruby's `Integer()`).
pub(super) fn parse_max_age(value: &str) -> Result<u64, AuthorizeError> {
    if value.is_empty()
        || !value.bytes().all(|b| b.is_ascii_digit())
        || (value.len() > 1 && value.starts_with('0'))
    {
        return Err(AuthorizeError::InvalidMaxAge);
    }
    value.parse().map_err(|_| AuthorizeError::InvalidMaxAge)
}

pub(super) fn check_error_param(params: &Map<String, Value>) -> Result<(), CallbackError> {
    if let Some(code) = params.get("error").and_then(Value::as_str) {
        let text = |name| params.get(name).and_then(Value::as_str);
        return Err(CallbackError::AuthorizationDenied(OAuthErrorResponse::new(
            code,
            text("error_description"),
            text("error_uri"),
        )));
    }
    Ok(())
}

/// Splits a callback URL into (query, fragment, what comes before both), bounded in length.
pub(super) fn split_callback(
    url: &str,
) -> Result<(Option<&str>, Option<&str>, &str), CallbackError> {
    if url.len() > MAX_CALLBACK_LEN {
        return Err(CallbackError::MalformedCallback("callback URL too long"));
    }
    let (before_fragment, fragment) = match url.split_once('#') {
        Some((a, f)) => (a, Some(f)),
        None => (url, None),
    };
    let (target, query) = match before_fragment.split_once('?') {
        Some((target, query)) => (target, Some(query)),
        None => (before_fragment, None),
    };
    Ok((query, fragment, target))
}

/// The `state` of a code-flow callback (read from its query), after the same checks of length,
/// encoding and duplicates as [`PendingAuthorization::parse_callback`]; for a callback without
/// one that carries a signed response (JARM), the `state` claim of its `response` JWT, read
/// without verifying it: only to find the flow, which then verifies it.
pub(crate) fn callback_state(callback_url: &str) -> Result<Option<String>, CallbackError> {
    use base64::Engine as _;
    let query = split_callback(callback_url)?.0;
    let mut params = callback_params(query.unwrap_or(""))?;
    Ok(match (params.remove("state"), params.remove("response")) {
        (Some(Value::String(state)), _) => Some(state),
        (None, Some(Value::String(jwt))) => jwt
            .split('.')
            .nth(1)
            .and_then(|payload| {
                base64::engine::general_purpose::URL_SAFE_NO_PAD
                    .decode(payload)
                    .ok()
            })
            .and_then(|json| serde_json::from_slice::<Map<String, Value>>(&json).ok())
            .and_then(|mut claims| match claims.remove("state") {
                Some(Value::String(state)) if !state.is_empty() => Some(state),
                _ => None,
            }),
        _ => None,
    })
}

/// Form-decodes callback parameters strictly: bad escapes and non-UTF-8 are errors, duplicates
/// are errors, empty values count as absent (RFC 6749 §3.1).
pub(super) fn callback_params(encoded: &str) -> Result<Map<String, Value>, CallbackError> {
    let mut seen = std::collections::HashSet::new();
    let mut params = Map::new();
    for (i, segment) in encoded.split('&').filter(|s| !s.is_empty()).enumerate() {
        if i >= MAX_CALLBACK_PARAMS {
            return Err(CallbackError::MalformedCallback("too many parameters"));
        }
        let (name, value) = segment.split_once('=').unwrap_or((segment, ""));
        let name = crate::encode::form_decode_component(name).map_err(|_| {
            CallbackError::MalformedCallback("invalid encoding in a parameter name")
        })?;
        let value = crate::encode::form_decode_component(value).map_err(|_| {
            CallbackError::MalformedCallback("invalid encoding in a parameter value")
        })?;
        // An empty value counts as absent (RFC 6749 §3.1), also for the duplicate check:
        // `state=&state=GOOD` carries one state.
        if value.is_empty() {
            continue;
        }
        if !seen.insert(name.to_string()) {
            return Err(CallbackError::DuplicateParameter {
                name: truncate(&name, 64).to_owned(),
            });
        }
        params.insert(name.into_owned(), Value::String(value.into_owned()));
    }
    Ok(params)
}
