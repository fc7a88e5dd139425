//! Signed authorization responses: JWT Secured Authorization Response Mode for OAuth 2.0
//! (JARM, an OpenID Foundation final specification), in the code flow's `query.jwt` mode.
//!
//! The authorization server answers `redirect_uri?response=<JWT>`, a JWT it signs with a key of
//! its JWK set (its `jwks_uri`), holding `iss` (the server), `aud` (the client), `exp`, and the
//! response parameters (`code` and `state`, or `error`, `error_description`...). The client
//! verifies the signature, `iss`, `aud` and `exp` (JARM §2.4), then reads the claims as it
//! reads a plain callback's parameters. Encrypted responses (a JWE) are not supported.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{Map, Value};

use super::callback::{callback_params, split_callback};
use super::{CallbackError, CodeExchange, PendingAuthorization, ResponseType};
use crate::oauth2::callback_target;
use crate::oauth2::jwk::{JwsError, verify_jws};
use crate::oauth2::oidc::{DEFAULT_CLOCK_SKEW, Jwks};
use crate::oauth2::token::truncate;

/// The response mode [`AuthorizationRequest::signed_response`](super::AuthorizationRequest::signed_response)
/// sends: `query.jwt`, the signed response in the redirect URI's query (JARM §2.3.1), the
/// code flow's mode.
pub const JWT_RESPONSE_MODE: &str = "query.jwt";

/// Why a signed authorization response (JARM) was refused. Holds no part of the JWT: no code,
/// no state.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum SignedResponseError {
    /// Not a compact JWS with a JSON header and a JSON object payload, or a header refused
    /// (no `alg`, a `crit` member, a `typ` other than `JWT`, a `kid` not a string). An
    /// encrypted response (a JWE) is not supported, and lands here too.
    #[error("the signed authorization response is not a well-formed JWT")]
    Malformed,
    /// `alg` is `none`, symmetric (`HS256`...: a client secret is no server key), or one this
    /// crate does not verify; the accepted ones are the ID tokens'
    /// ([`oidc`](crate::oauth2::oidc)).
    #[error("the signed authorization response's algorithm is not accepted")]
    UnsupportedAlgorithm,
    /// No key of the server's JWK set can verify it (unknown `kid`, or no key for the
    /// `alg`): fetch the set again once, in case the server rotated its keys
    /// ([`PendingAuthorization::signed_response_key_unknown`] tells before the flow is used).
    #[error("no key of the authorization server's JWK set matches the signed response")]
    UnknownKey,
    /// The key the response names is on a curve this crate cannot verify with.
    #[error(
        "the authorization server's key for the signed response is on curve {curve}, which is not supported"
    )]
    UnsupportedKey {
        /// The JWK's `crv`.
        curve: &'static str,
    },
    /// The signature does not verify: the response was changed on the way, or not signed by
    /// the server.
    #[error("the signed authorization response's signature is invalid")]
    BadSignature,
    /// `iss` is not the issuer the flow is bound to (compared exactly).
    #[error("the signed authorization response was issued by another issuer")]
    IssuerMismatch,
    /// `aud` does not contain the client.
    #[error("the signed authorization response is not for this client")]
    AudienceMismatch,
    /// `exp` has passed (beyond the clock skew, [`DEFAULT_CLOCK_SKEW`]).
    #[error("the signed authorization response has expired")]
    Expired,
    /// `iss`, `aud` or `exp` is missing or of the wrong type.
    #[error("the signed authorization response's claim {0} is missing or invalid")]
    InvalidClaim(&'static str),
}

impl From<JwsError> for SignedResponseError {
    fn from(e: JwsError) -> Self {
        match e {
            JwsError::Malformed => Self::Malformed,
            JwsError::UnsupportedAlgorithm => Self::UnsupportedAlgorithm,
            JwsError::UnknownKey => Self::UnknownKey,
            JwsError::UnsupportedKey { curve } => Self::UnsupportedKey { curve },
            JwsError::BadSignature => Self::BadSignature,
        }
    }
}

impl PendingAuthorization {
    /// Verifies the callback of a flow that asked for a signed response (JARM,
    /// [`AuthorizationRequest::signed_response`](super::AuthorizationRequest::signed_response))
    /// with the authorization server's JWK set `jwks` (from its `jwks_uri`) at `now`, and
    /// returns what the token request needs.
    ///
    /// `callback_url` is as for [`parse_callback`](Self::parse_callback). Checks, in order:
    /// length and encoding, duplicates, that the callback arrived at the flow's redirect URI,
    /// that it carries `response` and nothing else (but the redirect URI's own query), then the
    /// JWT (JARM §2.4): the signature, by a key of `jwks` allowed for its `alg` (the algorithms
    /// ID tokens are verified with: no `none`, no `HS*`); `iss` equal to the flow's issuer;
    /// `aud` (a string or an array) containing the client; `exp` present and not passed (with
    /// [`DEFAULT_CLOCK_SKEW`]). Then the claims go through
    /// [`parse_callback`](Self::parse_callback)'s checks: `state` (constant-time), tokens in a
    /// code-flow response, `error` (the server's signed error is
    /// [`AuthorizationDenied`](CallbackError::AuthorizationDenied)), then `code`. The pending
    /// authorization is consumed whatever the outcome.
    ///
    /// An error on a key the set lacks ([`SignedResponseError::UnknownKey`]) consumes the flow
    /// too: ask [`signed_response_key_unknown`](Self::signed_response_key_unknown) first, and
    /// fetch the set again when it says so (tower-oauth2's `IdTokenValidator` does both).
    ///
    /// # Errors
    ///
    /// Fails with the [`CallbackError`] of the first check that fails:
    /// [`WrongFlow`](CallbackError::WrongFlow) for an implicit-grant flow,
    /// [`SignedResponseNotRequested`](CallbackError::SignedResponseNotRequested) for a flow
    /// that did not ask for a signed response,
    /// [`MalformedCallback`](CallbackError::MalformedCallback),
    /// [`DuplicateParameter`](CallbackError::DuplicateParameter),
    /// [`RedirectUriMismatch`](CallbackError::RedirectUriMismatch),
    /// [`SignedResponseRequired`](CallbackError::SignedResponseRequired) for a callback without
    /// `response` (a plain `?code=...&state=...`: a downgrade),
    /// [`ParameterOutsideSignedResponse`](CallbackError::ParameterOutsideSignedResponse),
    /// [`SignedResponse`](CallbackError::SignedResponse) for the JWT's checks, then
    /// [`StateMissing`](CallbackError::StateMissing),
    /// [`StateMismatch`](CallbackError::StateMismatch),
    /// [`UnexpectedResponseType`](CallbackError::UnexpectedResponseType),
    /// [`AuthorizationDenied`](CallbackError::AuthorizationDenied) and
    /// [`MissingCode`](CallbackError::MissingCode).
    ///
    /// ```
    /// use std::time::{Duration, UNIX_EPOCH};
    /// use oauth_core::clock::SystemRandom;
    /// use oauth_core::oauth2::oidc::Jwks;
    /// use oauth_core::oauth2::{
    ///     AuthorizationRequest, CallbackError, Endpoint, Issuer, RedirectUri, SignedResponseError,
    /// };
    /// # use base64::Engine as _;
    /// # use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
    /// # use ring::signature::{Ed25519KeyPair, KeyPair};
    ///
    /// let authorize = Endpoint::new("https://as.example.com/authorize")?;
    /// let redirect = RedirectUri::new("https://client.example.com/cb")?;
    /// let request = || {
    ///     AuthorizationRequest::new(&authorize, "s6BhdRkqt3", &redirect)
    ///         .expect_issuer(Issuer::new("https://as.example.com").unwrap(), true)
    ///         .signed_response()
    /// };
    /// let now = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    /// # // The server's Ed25519 key, and its JWK set as its `jwks_uri` would serve it.
    /// # let server = Ed25519KeyPair::from_seed_unchecked(&[7; 32]).unwrap();
    /// # let jwks_json = serde_json::json!({"keys": [{"kty": "OKP", "crv": "Ed25519", "kid": "k1",
    /// #     "x": B64.encode(server.public_key().as_ref())}]}).to_string();
    /// # let sign = |claims: serde_json::Value| {
    /// #     let input = format!("{}.{}", B64.encode(r#"{"alg":"EdDSA","kid":"k1"}"#),
    /// #         B64.encode(claims.to_string()));
    /// #     format!("{input}.{}", B64.encode(server.sign(input.as_bytes())))
    /// # };
    /// // The server's JWK set, fetched from its `jwks_uri`.
    /// let jwks = Jwks::parse(jwks_json.as_bytes())?;
    ///
    /// let (_, pending) = request().build(&SystemRandom::new())?;
    /// // The server signs `iss`, `aud`, `exp`, `code` and `state` with a key of that set.
    /// let response = sign(serde_json::json!({"iss": "https://as.example.com",
    ///     "aud": "s6BhdRkqt3", "exp": 1_800_000_120, "code": "SplxlOBeZQQYbYS6WxSbIA",
    ///     "state": pending.state()}));
    /// let callback = format!("https://client.example.com/cb?response={response}");
    /// let exchange = pending.parse_signed_callback(&callback, &jwks, now)?;
    /// assert_eq!(exchange.code().secret(), "SplxlOBeZQQYbYS6WxSbIA");
    ///
    /// // A response no key of the set signed is refused.
    /// let (_, pending) = request().build(&SystemRandom::new())?;
    /// let forged = "https://client.example.com/cb?response=eyJhbGciOiJFUzI1NiJ9.e30.c2ln";
    /// let refused = pending.parse_signed_callback(forged, &jwks, now);
    /// assert_eq!(
    ///     refused.err(),
    ///     Some(CallbackError::SignedResponse(SignedResponseError::UnknownKey))
    /// );
    ///
    /// // A plain code cannot stand in for the signed response.
    /// let (_, pending) = request().build(&SystemRandom::new())?;
    /// let plain = format!("https://client.example.com/cb?code=c&state={}", pending.state());
    /// let refused = pending.parse_signed_callback(&plain, &jwks, now);
    /// assert_eq!(refused.err(), Some(CallbackError::SignedResponseRequired));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn parse_signed_callback(
        self,
        callback_url: &str,
        jwks: &Jwks,
        now: SystemTime,
    ) -> Result<CodeExchange, CallbackError> {
        let response = self.signed_response_of(callback_url)?;
        let (_, claims) = verify_jws(&response, jwks, None).map_err(SignedResponseError::from)?;
        drop(response);
        // (A flow that asked for a signed response has both: `build` requires the issuer, and a
        // stored one without them does not load.)
        let (Some(issuer), Some(client_id)) = (&self.issuer, &self.client_id) else {
            return Err(CallbackError::NoPendingFlow);
        };
        check_claims(&claims, issuer.as_str(), client_id, now)?;
        // The response parameters, as a plain callback's: an empty value counts as absent
        // (RFC 6749 §3.1).
        let params: Map<String, Value> = claims
            .into_iter()
            .filter(|(_, value)| value.as_str() != Some(""))
            .collect();
        self.code_from(params)
    }

    /// Whether the callback's signed response names a key `jwks` does not have (or has no key
    /// for its algorithm): the server may have rotated its keys, so fetch its JWK set again
    /// (once, rate-limited) before [`parse_signed_callback`](Self::parse_signed_callback),
    /// which would refuse it with [`SignedResponseError::UnknownKey`] and use up the flow.
    /// `false` for any other callback, valid or not (nothing a new set would change).
    pub fn signed_response_key_unknown(&self, callback_url: &str, jwks: &Jwks) -> bool {
        self.signed_response_of(callback_url)
            .is_ok_and(|jwt| verify_jws(&jwt, jwks, None) == Err(JwsError::UnknownKey))
    }

    /// The callback's `response` JWT, after the checks on the callback itself: the flow, the
    /// encoding, where it arrived, and no parameter outside the JWT.
    fn signed_response_of(&self, callback_url: &str) -> Result<String, CallbackError> {
        if self.response_type != ResponseType::Code {
            return Err(CallbackError::WrongFlow);
        }
        if !self.signed_response {
            return Err(CallbackError::SignedResponseNotRequested);
        }
        let (query, _, target) = split_callback(callback_url)?;
        let mut params = callback_params(query.unwrap_or(""))?;
        if !callback_target::arrived_at(&self.redirect_uri, target, &params) {
            return Err(CallbackError::RedirectUriMismatch);
        }
        // No `response`: a plain callback (a downgrade), whatever else it carries.
        let Some(Value::String(jwt)) = params.remove("response") else {
            return Err(CallbackError::SignedResponseRequired);
        };
        // The redirect URI's own query comes back with the response (RFC 6749 §3.1.2);
        // anything else would be an unsigned response parameter.
        let own = self
            .redirect_uri
            .as_str()
            .split_once('?')
            .map(|(_, query)| query.split('#').next().unwrap_or_default())
            .unwrap_or_default();
        let own: Vec<String> = form_urlencoded::parse(own.as_bytes())
            .map(|(name, _)| name.into_owned())
            .collect();
        if let Some(name) = params.keys().find(|name| !own.contains(name)) {
            return Err(CallbackError::ParameterOutsideSignedResponse {
                name: truncate(name, 64).to_owned(),
            });
        }
        Ok(jwt)
    }
}

/// JARM §2.4's claim checks: `iss`, `aud`, `exp`.
fn check_claims(
    claims: &Map<String, Value>,
    issuer: &str,
    client_id: &str,
    now: SystemTime,
) -> Result<(), SignedResponseError> {
    match claims.get("iss") {
        Some(Value::String(iss)) if iss == issuer => {}
        Some(Value::String(_)) => return Err(SignedResponseError::IssuerMismatch),
        _ => return Err(SignedResponseError::InvalidClaim("iss")),
    }
    let names_client = match claims.get("aud") {
        Some(Value::String(aud)) => aud == client_id,
        Some(Value::Array(values)) => {
            let mut auds = values.iter().map(Value::as_str);
            if auds.clone().any(|a| a.is_none()) {
                return Err(SignedResponseError::InvalidClaim("aud"));
            }
            auds.any(|a| a == Some(client_id))
        }
        _ => return Err(SignedResponseError::InvalidClaim("aud")),
    };
    if !names_client {
        return Err(SignedResponseError::AudienceMismatch);
    }
    // NumericDate (RFC 7519 §2): seconds, possibly fractional (the fraction is dropped).
    let exp = claims
        .get("exp")
        .and_then(Value::as_f64)
        .filter(|secs| secs.is_finite() && *secs >= 0.0 && *secs < 1e15)
        .and_then(|secs| UNIX_EPOCH.checked_add(Duration::from_secs(secs as u64)))
        .ok_or(SignedResponseError::InvalidClaim("exp"))?;
    if exp
        .checked_add(DEFAULT_CLOCK_SKEW)
        .is_some_and(|end| now >= end)
    {
        return Err(SignedResponseError::Expired);
    }
    Ok(())
}
