//! OpenID Connect ID token validation (OpenID Connect Core 1.0 §3.1.3.7): the signature with
//! the provider's published keys (a JWK set), then the claims: `iss` equal to the issuer,
//! `aud` containing the client and no audience it does not trust
//! ([`IdTokenVerifier::trust_audience`]; `azp` the client when there are several), the
//! algorithm the client registered when pinned ([`IdTokenVerifier::expect_algorithm`]), `sub`
//! present, not empty and at most 255 bytes (§2), `exp` in the future, `iat` and `nbf` not in it
//! (all with a clock skew), and the `nonce` of the authorization request. Then, on the verified
//! claims: the access token issued with the ID token against
//! its `at_hash` ([`IdTokenClaims::check_access_token`], §3.1.3.8), and the age of the
//! end user's authentication against a `max_age` ([`IdTokenVerifier::check_max_age`]).
//!
//! The `max_age` is the one the authorization request sent
//! ([`AuthorizationRequest::max_age`](super::AuthorizationRequest::max_age), or a `max_age`
//! parameter): the pending authorization keeps it, stored form included, and hands it on as
//! [`CodeExchange::max_age`](super::CodeExchange::max_age), as it does the nonce.
//! tower-oauth2's `IdTokenValidator::exchange_code` then checks `auth_time` against it
//! automatically; only a caller that verifies the ID token of a code exchange itself calls
//! [`IdTokenVerifier::check_max_age`] with it.
//!
//! Signatures: RS256 (the OpenID Connect default), RS384, RS512, PS256, PS384, PS512 with an
//! RSA key; ES256 with a P-256 key, ES384 with a P-384 key; EdDSA (RFC 8037) and its fully
//! specified name Ed25519 (RFC 9864) with an Ed25519 key. `none` and symmetric algorithms are
//! refused, as are ES512 and Ed448 (ring verifies neither: a typed error, not a panic), and
//! any `alg` the chosen key is not for (its type or curve, or the JWK's own `alg`).
//!
//! ```
//! use std::time::{Duration, UNIX_EPOCH};
//! use oauth_core::oauth2::oidc::{IdTokenError, IdTokenVerifier, Jwks};
//! use oauth_core::oauth2::Issuer;
//! use oauth_core::secret::IdToken;
//!
//! let jwks = Jwks::parse(br#"{"keys":[]}"#)?;
//! let verifier = IdTokenVerifier::new(Issuer::new("https://server.example.com")?, "s6BhdRkqt3");
//! let token = IdToken::new("not.a.jwt");
//! let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
//! assert!(matches!(verifier.verify(&token, &jwks, None, now), Err(IdTokenError::Malformed)));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use serde_json::{Map, Value};

use super::endpoint::Issuer;
pub use super::jwk::{InvalidJwks, Jwks};
use super::jwk::{JwsError, algorithm};
use crate::secret::{AccessToken, IdToken, constant_time_eq};

/// The clock skew allowed by default when checking `exp`, `iat`, `nbf` and a `max_age`: 60
/// seconds.
pub const DEFAULT_CLOCK_SKEW: Duration = Duration::from_secs(60);

/// Why an ID token was refused. Holds no token material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum IdTokenError {
    /// Not a compact JWS with a JSON header and a JSON object payload, or a header this crate
    /// refuses: no `alg`, a `crit` member, a `typ` other than `JWT`, a `kid` not a string.
    #[error("the ID token is not a well-formed JWT")]
    Malformed,
    /// `alg` is `none`, symmetric, or not one this crate verifies (RS256/384/512,
    /// PS256/384/512, ES256, ES384, EdDSA, Ed25519: not ES512, Ed448), or not the one
    /// [`IdTokenVerifier::expect_algorithm`] pinned.
    #[error("the ID token's signature algorithm is not accepted")]
    UnsupportedAlgorithm,
    /// No key of the set can verify it (unknown `kid`, or no key for the `alg`): fetch the set
    /// again once, in case the provider rotated its keys.
    #[error("no key of the provider's JWK set matches the ID token")]
    UnknownKey,
    /// The key the token names (by `kid`; or, for an `EdDSA` token without one, an Ed448 key)
    /// is in the provider's set but on a curve this crate cannot verify with: `P-521`,
    /// `Ed448` or `secp256k1` (the `curve`). Fetching the set again would not help: have the
    /// provider sign this client's ID tokens with another algorithm.
    #[error("the provider's key for the ID token is on curve {curve}, which is not supported")]
    UnsupportedKey {
        /// The JWK's `crv`.
        curve: &'static str,
    },
    /// The signature does not verify.
    #[error("the ID token's signature is invalid")]
    BadSignature,
    /// `iss` is not the expected issuer (compared exactly).
    #[error("the ID token was issued by another issuer")]
    IssuerMismatch,
    /// `aud` does not contain the client or names an audience not trusted
    /// ([`IdTokenVerifier::trust_audience`]), or `azp` names another client (or is missing
    /// while `aud` has several).
    #[error("the ID token is not for this client")]
    AudienceMismatch,
    /// `exp` has passed (beyond the clock skew).
    #[error("the ID token has expired")]
    Expired,
    /// `iat` is in the future (beyond the clock skew).
    #[error("the ID token is issued in the future")]
    IssuedInFuture,
    /// `nbf` is in the future (beyond the clock skew): not valid yet (RFC 7519 §4.1.5).
    #[error("the ID token is not valid yet (nbf)")]
    NotYetValid,
    /// A required claim (`iss`, `sub`, `aud`, `exp`, `iat`) is missing, a claim has the wrong
    /// type or an invalid value (an empty `sub` or one over 255 bytes, a NumericDate before
    /// 1970), or an `auth_time` is ahead of the clock beyond the skew
    /// ([`IdTokenVerifier::check_max_age`]).
    #[error("the ID token's claim {0} is missing or invalid")]
    InvalidClaim(&'static str),
    /// `nonce` is not the one the authorization request sent (or is missing).
    #[error("the ID token's nonce does not match the authorization request")]
    NonceMismatch,
    /// `at_hash` is not the hash of the access token issued with the ID token.
    #[error("the ID token's at_hash does not match the access token")]
    AccessTokenHashMismatch,
    /// The end user authenticated longer ago than the `max_age` asked for (or `auth_time`
    /// is missing).
    #[error("the end user's authentication is older than max_age")]
    AuthenticationTooOld,
}

/// The longest `sub` accepted, in bytes: "It MUST NOT exceed 255 ASCII characters in length"
/// (OpenID Connect Core 1.0 §2).
const MAX_SUB_LEN: usize = 255;

/// The claims of a verified ID token.
#[derive(Clone, PartialEq)]
pub struct IdTokenClaims {
    /// The verified signature algorithm (it picks the `at_hash` hash).
    alg: &'static str,
    sub: String,
    aud: Vec<String>,
    exp: SystemTime,
    iat: SystemTime,
    auth_time: Option<SystemTime>,
    nonce: Option<String>,
    claims: Map<String, Value>,
}

impl fmt::Debug for IdTokenClaims {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdTokenClaims")
            .field("sub", &self.sub)
            .field("aud", &self.aud)
            .field("exp", &unix(self.exp))
            .field("claims", &self.claims.len())
            .finish_non_exhaustive()
    }
}

fn unix(t: SystemTime) -> u64 {
    t.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

impl IdTokenClaims {
    /// `sub`: the end user's identifier at the issuer.
    pub fn sub(&self) -> &str {
        &self.sub
    }

    /// `aud`.
    pub fn aud(&self) -> &[String] {
        &self.aud
    }

    /// `exp`.
    pub fn expires_at(&self) -> SystemTime {
        self.exp
    }

    /// `iat`.
    pub fn issued_at(&self) -> SystemTime {
        self.iat
    }

    /// `auth_time`, when present.
    pub fn auth_time(&self) -> Option<SystemTime> {
        self.auth_time
    }

    /// `nonce`, when present.
    pub fn nonce(&self) -> Option<&str> {
        self.nonce.as_deref()
    }

    /// Any claim by name, as JSON (`email`, `name`, `acr`, ...), the ones above included.
    pub fn claim(&self, name: &str) -> Option<&Value> {
        self.claims.get(name)
    }

    /// The signature algorithm the token was verified with, as its header names it: `RS256`,
    /// `RS384`, `RS512`, `PS256`, `PS384`, `PS512`, `ES256`, `ES384`, `EdDSA` or `Ed25519`.
    pub fn algorithm(&self) -> &'static str {
        self.alg
    }

    /// Checks `access_token`, issued in the same token response, against the `at_hash` claim
    /// (OpenID Connect Core §3.1.3.8, §3.2.2.9): the left half of the token's hash with the
    /// hash function of the ID token's `alg` (SHA-256 for `*256`, SHA-384 for `*384`, SHA-512
    /// for `*512`, and SHA-512 for EdDSA on Ed25519, as the OpenID Connect working group
    /// settled in connect issue #1125), base64url-encoded, compared in constant time. A token
    /// without `at_hash` passes (the claim is optional in the code flow); an `at_hash` that is
    /// not a string fails.
    ///
    /// # Errors
    ///
    /// Fails with [`IdTokenError::AccessTokenHashMismatch`] when the hash differs, and
    /// [`IdTokenError::UnsupportedAlgorithm`] for an `alg` with no known hash function.
    pub fn check_access_token(&self, access_token: &AccessToken) -> Result<(), IdTokenError> {
        let Some(claim) = self.claims.get("at_hash") else {
            return Ok(());
        };
        let claim = claim
            .as_str()
            .ok_or(IdTokenError::InvalidClaim("at_hash"))?;
        let digest = ring::digest::digest(token_hash(self.alg), access_token.secret().as_bytes());
        let expected = URL_SAFE_NO_PAD.encode(&digest.as_ref()[..digest.as_ref().len() / 2]);
        match constant_time_eq(claim.as_bytes(), expected.as_bytes()) {
            true => Ok(()),
            false => Err(IdTokenError::AccessTokenHashMismatch),
        }
    }
}

/// The hash function of the `*_hash` claims of an ID token signed with `alg` (one of
/// [`ALGORITHMS`](super::jwk::ALGORITHMS)).
fn token_hash(alg: &str) -> &'static ring::digest::Algorithm {
    match alg {
        "RS384" | "PS384" | "ES384" => &ring::digest::SHA384,
        "RS512" | "PS512" | "EdDSA" | "Ed25519" => &ring::digest::SHA512,
        _ => &ring::digest::SHA256,
    }
}

/// Checks ID tokens for one client of one issuer.
#[derive(Debug, Clone)]
pub struct IdTokenVerifier {
    issuer: Issuer,
    client_id: String,
    clock_skew: Duration,
    /// Other audiences a token may name besides the client (OpenID Connect Core §3.1.3.7 #3).
    trusted_audiences: Vec<String>,
    /// The client's registered `id_token_signed_response_alg`, when pinned.
    algorithm: Option<&'static str>,
}

impl IdTokenVerifier {
    /// A verifier for tokens `issuer` issues to `client_id`.
    pub fn new(issuer: Issuer, client_id: impl Into<String>) -> Self {
        Self {
            issuer,
            client_id: client_id.into(),
            clock_skew: DEFAULT_CLOCK_SKEW,
            trusted_audiences: Vec::new(),
            algorithm: None,
        }
    }

    /// Accepts tokens that also name `audience` (besides the client, which must be there and
    /// be the `azp`). Without it a token naming any other audience is refused (OpenID Connect
    /// Core §3.1.3.7 #3: "additional audiences not trusted by the Client").
    #[must_use]
    pub fn trust_audience(mut self, audience: impl Into<String>) -> Self {
        self.trusted_audiences.push(audience.into());
        self
    }

    /// Accepts only tokens signed with `alg` (`RS256`, `RS384`, `RS512`, `PS256`, `PS384`,
    /// `PS512`, `ES256`, `ES384`, `EdDSA` or `Ed25519`): the client's registered
    /// `id_token_signed_response_alg` (OpenID Connect Core §3.1.3.7 #7). Without it any of
    /// these is accepted, with a key the provider publishes for it. `EdDSA` and `Ed25519`
    /// are two names, each pinned alone: pin the one the provider writes in its tokens.
    /// `Err(UnsupportedAlgorithm)` for any other name (a typo would otherwise refuse every
    /// token).
    ///
    /// # Errors
    ///
    /// Fails with [`IdTokenError::UnsupportedAlgorithm`] for an `alg` not in that list.
    ///
    /// ```
    /// use oauth_core::oauth2::oidc::{IdTokenError, IdTokenVerifier};
    /// use oauth_core::oauth2::Issuer;
    ///
    /// let issuer = Issuer::new("https://server.example.com")?;
    /// let verifier = IdTokenVerifier::new(issuer.clone(), "s6BhdRkqt3").expect_algorithm("ES384")?;
    /// # let _ = verifier;
    /// let p521 = IdTokenVerifier::new(issuer, "s6BhdRkqt3").expect_algorithm("ES512");
    /// assert!(matches!(p521, Err(IdTokenError::UnsupportedAlgorithm)));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn expect_algorithm(mut self, alg: &str) -> Result<Self, IdTokenError> {
        let alg = algorithm(alg).ok_or(IdTokenError::UnsupportedAlgorithm)?;
        self.algorithm = Some(alg);
        Ok(self)
    }

    /// The clock skew tolerated on every time check (default [`DEFAULT_CLOCK_SKEW`]): `exp`,
    /// `iat` and `nbf` in [`verify`](Self::verify), and the age of `auth_time` (and an
    /// `auth_time` ahead of the clock) in [`check_max_age`](Self::check_max_age).
    #[must_use]
    pub fn clock_skew(mut self, skew: Duration) -> Self {
        self.clock_skew = skew;
        self
    }

    /// The issuer.
    pub fn issuer(&self) -> &Issuer {
        &self.issuer
    }

    /// For an authorization request sent with `max_age` (OpenID Connect Core §3.1.2.1): checks
    /// that `claims` has an `auth_time` (§2: required then) no more than `max_age` before
    /// `now`, with the clock skew. `Err(AuthenticationTooOld)` means: ask the user to sign in
    /// again (`prompt=login`). An `auth_time` later than `now` by more than the skew is
    /// `Err(InvalidClaim("auth_time"))`. `max_age` is the flow's
    /// [`CodeExchange::max_age`](super::CodeExchange::max_age); tower-oauth2's
    /// `IdTokenValidator::exchange_code` makes this check itself.
    ///
    /// # Errors
    ///
    /// Fails with [`IdTokenError::AuthenticationTooOld`] or [`IdTokenError::InvalidClaim`]
    /// (`auth_time` missing or in the future), as above.
    pub fn check_max_age(
        &self,
        claims: &IdTokenClaims,
        max_age: Duration,
        now: SystemTime,
    ) -> Result<(), IdTokenError> {
        let auth_time = claims.auth_time.ok_or(IdTokenError::AuthenticationTooOld)?;
        let limit = max_age.saturating_add(self.clock_skew);
        match now.duration_since(auth_time) {
            Ok(age) if age > limit => Err(IdTokenError::AuthenticationTooOld),
            Ok(_) => Ok(()),
            // An authentication in the future, beyond the skew, is not a time the provider can
            // have seen: nothing to measure `max_age` against.
            Err(ahead) if ahead.duration() > self.clock_skew => {
                Err(IdTokenError::InvalidClaim("auth_time"))
            }
            Err(_) => Ok(()),
        }
    }

    /// Verifies `token` at `now` with the provider's keys: signature first, then the claims.
    /// `expected_nonce` is the nonce of the authorization request
    /// ([`CodeExchange::nonce`](super::CodeExchange::nonce)); when it is `Some`, the token must
    /// carry the same one.
    ///
    /// # Errors
    ///
    /// Fails with the first [`IdTokenError`] found: [`Malformed`](IdTokenError::Malformed), an
    /// algorithm or key problem ([`UnsupportedAlgorithm`](IdTokenError::UnsupportedAlgorithm),
    /// [`UnknownKey`](IdTokenError::UnknownKey), [`UnsupportedKey`](IdTokenError::UnsupportedKey)),
    /// [`BadSignature`](IdTokenError::BadSignature), then a claim check
    /// ([`IssuerMismatch`](IdTokenError::IssuerMismatch),
    /// [`AudienceMismatch`](IdTokenError::AudienceMismatch), [`Expired`](IdTokenError::Expired),
    /// [`IssuedInFuture`](IdTokenError::IssuedInFuture),
    /// [`NotYetValid`](IdTokenError::NotYetValid), [`NonceMismatch`](IdTokenError::NonceMismatch),
    /// [`InvalidClaim`](IdTokenError::InvalidClaim)).
    pub fn verify(
        &self,
        token: &IdToken,
        jwks: &Jwks,
        expected_nonce: Option<&str>,
        now: SystemTime,
    ) -> Result<IdTokenClaims, IdTokenError> {
        let (alg, claims) =
            super::jwk::verify_jws(token.secret(), jwks, self.algorithm).map_err(|e| match e {
                JwsError::Malformed => IdTokenError::Malformed,
                JwsError::UnsupportedAlgorithm => IdTokenError::UnsupportedAlgorithm,
                JwsError::UnknownKey => IdTokenError::UnknownKey,
                JwsError::UnsupportedKey { curve } => IdTokenError::UnsupportedKey { curve },
                JwsError::BadSignature => IdTokenError::BadSignature,
            })?;
        self.check_claims(alg, claims, expected_nonce, now)
    }

    fn check_claims(
        &self,
        alg: &'static str,
        claims: Map<String, Value>,
        expected_nonce: Option<&str>,
        now: SystemTime,
    ) -> Result<IdTokenClaims, IdTokenError> {
        let text = |name: &'static str| {
            claims
                .get(name)
                .and_then(Value::as_str)
                .ok_or(IdTokenError::InvalidClaim(name))
        };
        // NumericDate (RFC 7519 §2): seconds, possibly fractional (the fraction is dropped).
        let time = |name: &'static str| {
            claims
                .get(name)
                .map(|v| {
                    v.as_f64()
                        .filter(|secs| secs.is_finite() && *secs >= 0.0 && *secs < 1e15)
                        .and_then(|secs| UNIX_EPOCH.checked_add(Duration::from_secs(secs as u64)))
                        .ok_or(IdTokenError::InvalidClaim(name))
                })
                .transpose()
        };
        if text("iss")? != self.issuer.as_str() {
            return Err(IdTokenError::IssuerMismatch);
        }
        // The end user's identifier (§2): an application keys its accounts on it, so an empty
        // one (every such user the same account) or one past the 255 characters §2 allows is
        // refused, not handed on.
        let sub = text("sub")?;
        if sub.is_empty() || sub.len() > MAX_SUB_LEN {
            return Err(IdTokenError::InvalidClaim("sub"));
        }
        let sub = sub.to_owned();
        let aud: Vec<String> = match claims.get("aud") {
            Some(Value::String(aud)) => vec![aud.clone()],
            Some(Value::Array(values)) => values
                .iter()
                .map(|v| v.as_str().map(str::to_owned))
                .collect::<Option<_>>()
                .ok_or(IdTokenError::InvalidClaim("aud"))?,
            _ => return Err(IdTokenError::InvalidClaim("aud")),
        };
        if !aud.contains(&self.client_id)
            || aud
                .iter()
                .any(|a| *a != self.client_id && !self.trusted_audiences.contains(a))
        {
            return Err(IdTokenError::AudienceMismatch);
        }
        match claims.get("azp") {
            Some(Value::String(azp)) if *azp != self.client_id => {
                return Err(IdTokenError::AudienceMismatch);
            }
            None if aud.len() > 1 => return Err(IdTokenError::AudienceMismatch),
            Some(Value::String(_)) | None => {}
            Some(_) => return Err(IdTokenError::InvalidClaim("azp")),
        }
        let exp = time("exp")?.ok_or(IdTokenError::InvalidClaim("exp"))?;
        let iat = time("iat")?.ok_or(IdTokenError::InvalidClaim("iat"))?;
        if exp
            .checked_add(self.clock_skew)
            .is_some_and(|end| now >= end)
        {
            return Err(IdTokenError::Expired);
        }
        let latest = now.checked_add(self.clock_skew);
        if latest.is_some_and(|latest| iat > latest) {
            return Err(IdTokenError::IssuedInFuture);
        }
        // RFC 7519 §4.1.5: not accepted before `nbf` (optional in an ID token).
        if let (Some(nbf), Some(latest)) = (time("nbf")?, latest)
            && nbf > latest
        {
            return Err(IdTokenError::NotYetValid);
        }
        let nonce = claims
            .get("nonce")
            .and_then(Value::as_str)
            .map(str::to_owned);
        if let Some(expected) = expected_nonce {
            let matches = nonce
                .as_deref()
                .is_some_and(|n| constant_time_eq(n.as_bytes(), expected.as_bytes()));
            if !matches {
                return Err(IdTokenError::NonceMismatch);
            }
        }
        Ok(IdTokenClaims {
            alg,
            sub,
            aud,
            exp,
            iat,
            auth_time: time("auth_time")?,
            nonce,
            claims,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth2::EcP256PrivateKey;
    use crate::oauth2::jwk::integer;
    use crate::oauth2::jws::compact;

    const EC_PEM: &str = include_str!("../../tests/vectors/oauth1/test_ec_p256_pkcs8.pem");
    const NOW: u64 = 1_700_000_000;

    fn key() -> EcP256PrivateKey {
        EcP256PrivateKey::from_pem(EC_PEM).unwrap()
    }

    fn jwks() -> Jwks {
        let point = key().public_key().to_vec();
        let doc = serde_json::json!({"keys": [
            {"kty": "oct", "k": "c2VjcmV0", "kid": "hmac"},
            {"kty": "EC", "crv": "P-256", "kid": "ec-1", "use": "sig",
             "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65])},
        ]});
        Jwks::parse(doc.to_string().as_bytes()).unwrap()
    }

    fn sign(header: Value, claims: Value) -> IdToken {
        IdToken::new(
            compact(&header, &claims, |input| key().sign(input))
                .unwrap()
                .as_str(),
        )
    }

    fn claims() -> Value {
        serde_json::json!({"iss": "https://server.example.com", "sub": "24400320",
            "aud": "s6BhdRkqt3", "nonce": "n-0S6_WzA2Mj", "exp": NOW + 600, "iat": NOW,
            "auth_time": NOW - 10, "email": "janedoe@example.com"})
    }

    fn verifier() -> IdTokenVerifier {
        IdTokenVerifier::new(
            Issuer::new("https://server.example.com").unwrap(),
            "s6BhdRkqt3",
        )
    }

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    fn es256() -> Value {
        serde_json::json!({"alg": "ES256", "kid": "ec-1"})
    }

    /// What `verifier` says at `now` (no nonce expected) of a token with the test claims as
    /// `edit` leaves them, signed with the test key.
    fn verify_edited(
        verifier: &IdTokenVerifier,
        edit: &dyn Fn(&mut Value),
        now: u64,
    ) -> Result<(), IdTokenError> {
        let mut c = claims();
        edit(&mut c);
        verifier
            .verify(&sign(es256(), c), &jwks(), None, at(now))
            .map(|_| ())
    }

    #[test]
    fn a_valid_token_gives_its_claims() {
        assert_eq!(jwks().len(), 1, "the symmetric key is skipped");
        let claims = verifier()
            .verify(
                &sign(es256(), claims()),
                &jwks(),
                Some("n-0S6_WzA2Mj"),
                at(NOW),
            )
            .unwrap();
        assert_eq!(claims.sub(), "24400320");
        assert_eq!(claims.aud(), ["s6BhdRkqt3"]);
        assert_eq!(claims.nonce(), Some("n-0S6_WzA2Mj"));
        assert_eq!(claims.auth_time(), Some(at(NOW - 10)));
        assert_eq!(claims.claim("email").unwrap(), "janedoe@example.com");
        assert!(!format!("{claims:?}").contains("janedoe"));
    }

    /// OpenID Connect Core 1.0, Appendix A.4 (`response_type=id_token token`): the access
    /// token `jHkWEdUX...` has `at_hash` `77QmUPtjPfzWtF2AnpK9RQ`.
    #[test]
    fn at_hash_pins_the_access_token() {
        const ACCESS: &str = "jHkWEdUXMU1BwAsC4vtUsZwnNvTIxEl0z9K3vx5KF0Y";
        let verify = |c: Value| {
            verifier()
                .verify(&sign(es256(), c), &jwks(), None, at(NOW))
                .unwrap()
        };
        let mut with_hash = claims();
        with_hash["at_hash"] = "77QmUPtjPfzWtF2AnpK9RQ".into();
        let claims_with_hash = verify(with_hash);
        assert_eq!(claims_with_hash.algorithm(), "ES256");
        assert_eq!(
            claims_with_hash.check_access_token(&AccessToken::new(ACCESS)),
            Ok(())
        );
        assert_eq!(
            claims_with_hash.check_access_token(&AccessToken::new("another-token")),
            Err(IdTokenError::AccessTokenHashMismatch)
        );
        // No at_hash: nothing to check (optional in the code flow).
        assert_eq!(
            verify(claims()).check_access_token(&AccessToken::new("any")),
            Ok(())
        );
        let mut not_text = claims();
        not_text["at_hash"] = 42.into();
        assert_eq!(
            verify(not_text).check_access_token(&AccessToken::new(ACCESS)),
            Err(IdTokenError::InvalidClaim("at_hash"))
        );
    }

    #[test]
    fn max_age_needs_a_recent_auth_time() {
        let v = verifier();
        let claims = v
            .verify(&sign(es256(), claims()), &jwks(), None, at(NOW))
            .unwrap();
        // auth_time is NOW - 10; the skew is 60 s.
        let max_age = Duration::from_secs(300);
        assert_eq!(v.check_max_age(&claims, max_age, at(NOW)), Ok(()));
        assert_eq!(
            v.check_max_age(&claims, max_age, at(NOW - 10 + 360)),
            Ok(())
        );
        assert_eq!(
            v.check_max_age(&claims, max_age, at(NOW - 10 + 361)),
            Err(IdTokenError::AuthenticationTooOld)
        );
        let mut no_auth_time = super::tests::claims();
        no_auth_time.as_object_mut().unwrap().remove("auth_time");
        let without = v
            .verify(&sign(es256(), no_auth_time), &jwks(), None, at(NOW))
            .unwrap();
        assert_eq!(
            v.check_max_age(&without, max_age, at(NOW)),
            Err(IdTokenError::AuthenticationTooOld)
        );
        // An auth_time ahead of the clock: within the skew it is a clock difference, beyond it
        // no authentication the provider can have seen.
        assert_eq!(v.check_max_age(&claims, max_age, at(NOW - 70)), Ok(()));
        assert_eq!(
            v.check_max_age(&claims, max_age, at(NOW - 71)),
            Err(IdTokenError::InvalidClaim("auth_time"))
        );
    }

    #[test]
    fn a_key_whose_kid_is_not_a_string_is_not_used() {
        for kid in [serde_json::json!(1), serde_json::json!(["ec-1"])] {
            let set = jwks_with(serde_json::json!({ "kid": kid }));
            assert!(!set.contains_kid("ec-1"));
            let header = serde_json::json!({"alg": "ES256"});
            assert_eq!(
                verifier()
                    .verify(&sign(header, claims()), &set, None, at(NOW))
                    .unwrap_err(),
                IdTokenError::UnknownKey,
                "{kid}"
            );
        }
        // A null kid reads as none: the key is used for a token that names no kid.
        let set = jwks_with(serde_json::json!({ "kid": null }));
        let header = serde_json::json!({"alg": "ES256"});
        assert!(
            verifier()
                .verify(&sign(header, claims()), &set, None, at(NOW))
                .is_ok()
        );
    }

    /// An EC JWK like `jwks()`'s, with `members` added.
    fn jwks_with(members: Value) -> Jwks {
        let point = key().public_key().to_vec();
        let mut jwk = serde_json::json!({"kty": "EC", "crv": "P-256", "kid": "ec-1",
            "x": URL_SAFE_NO_PAD.encode(&point[1..33]), "y": URL_SAFE_NO_PAD.encode(&point[33..65])});
        for (name, value) in members.as_object().unwrap() {
            jwk[name] = value.clone();
        }
        let doc = serde_json::json!({ "keys": [jwk] });
        Jwks::parse(doc.to_string().as_bytes()).unwrap()
    }

    /// RFC 7517 §4.2-4.4: `use`, `key_ops` and `alg` say what a key is for. A key whose
    /// `key_ops` leaves out `verify`, or whose members are not of their type (a restriction
    /// this code cannot read), does not verify ID tokens.
    #[test]
    fn jwk_use_key_ops_and_alg_restrict_the_key() {
        let token = sign(es256(), claims());
        let check = |jwks: &Jwks| verifier().verify(&token, jwks, None, at(NOW)).map(|_| ());
        for usable in [
            serde_json::json!({}),
            serde_json::json!({"use": "sig"}),
            serde_json::json!({"use": null, "alg": null, "key_ops": null}),
            serde_json::json!({"key_ops": ["verify"]}),
            serde_json::json!({"key_ops": ["sign", "verify"], "alg": "ES256"}),
        ] {
            let jwks = jwks_with(usable.clone());
            assert_eq!(jwks.len(), 1, "{usable}");
            assert_eq!(check(&jwks), Ok(()), "{usable}");
        }
        for unusable in [
            serde_json::json!({"use": "enc"}),
            serde_json::json!({"use": 5}),
            serde_json::json!({"use": ["sig"]}),
            serde_json::json!({"alg": 5}),
            serde_json::json!({"alg": "ES384"}),
            serde_json::json!({"key_ops": ["encrypt"]}),
            serde_json::json!({"key_ops": []}),
            serde_json::json!({"key_ops": "verify"}),
            serde_json::json!({"use": "sig", "key_ops": ["sign"]}),
        ] {
            let jwks = jwks_with(unusable.clone());
            assert_eq!(jwks.len(), 0, "{unusable}");
            assert_eq!(check(&jwks), Err(IdTokenError::UnknownKey), "{unusable}");
        }
    }

    /// An RS256 ID token signed with the PEM key, and the key's `n` and `e` (big-endian, as
    /// the `rsa` crate writes them).
    fn rs256(pem: &str) -> (IdToken, Vec<u8>, Vec<u8>) {
        use rsa::pkcs1::DecodeRsaPrivateKey as _;
        use rsa::pkcs8::DecodePrivateKey as _;
        use rsa::traits::PublicKeyParts as _;
        use sha2::Digest as _;
        let parts = rsa::PrivateKey::from_pkcs8_pem(pem)
            .or_else(|_| rsa::PrivateKey::from_pkcs1_pem(pem))
            .unwrap();
        let key = crate::oauth1::RsaPrivateKey::from_pem_with_min_bits(pem, 512).unwrap();
        let token = compact(&serde_json::json!({"alg": "RS256"}), &claims(), |input| {
            key.sign_prehash(
                crate::oauth1::SignatureMethod::RsaSha256,
                &sha2::Sha256::digest(input),
            )
            .map_err(|_| super::super::client_assertion::AssertionError::Signature)
        })
        .unwrap();
        (
            IdToken::new(token.as_str()),
            parts.n().to_be_bytes().to_vec(),
            parts.e().to_be_bytes().to_vec(),
        )
    }

    fn rsa_jwks(n: &[u8], e: &[u8]) -> Jwks {
        let doc = serde_json::json!({"keys": [{"kty": "RSA", "kid": "rsa-1",
            "n": URL_SAFE_NO_PAD.encode(n), "e": URL_SAFE_NO_PAD.encode(e)}]});
        Jwks::parse(doc.to_string().as_bytes()).unwrap()
    }

    /// `n` and `e` are integers (RFC 7518 §6.3.1): a provider whose library writes a leading
    /// zero octet (a 257-octet modulus for a 2048-bit key; RFC 7518 §6.3.1.1 notes these
    /// libraries) publishes the same key, and its tokens verify. An RSA key under 2048 bits
    /// (RFC 7518 §3.3, §3.5) is not a usable key: the set does not count it, and a token it
    /// signed finds no key rather than a bad signature.
    #[test]
    fn rsa_jwks_are_integers_of_at_least_2048_bits() {
        let (token, n, e) = rs256(include_str!(
            "../../tests/vectors/oauth1/test_rsa_2048_pkcs8.pem"
        ));
        let n = n.into_iter().skip_while(|b| *b == 0).collect::<Vec<_>>();
        let e = e.into_iter().skip_while(|b| *b == 0).collect::<Vec<_>>();
        let check = |jwks: &Jwks| verifier().verify(&token, jwks, None, at(NOW)).map(|_| ());
        assert_eq!(check(&rsa_jwks(&n, &e)), Ok(()));
        assert_eq!(check(&rsa_jwks(&[&[0u8][..], &n].concat(), &e)), Ok(()));
        assert_eq!(check(&rsa_jwks(&n, &[&[0u8, 0][..], &e].concat())), Ok(()));
        // Zero is no modulus nor exponent.
        assert!(rsa_jwks(&[0], &e).is_empty() && rsa_jwks(&n, &[0, 0]).is_empty());

        let (weak_token, weak_n, weak_e) = rs256(include_str!(
            "../../tests/vectors/oauth1/oauthlib_rsa_1024_pkcs1.pem"
        ));
        let weak = rsa_jwks(&weak_n, &weak_e);
        assert!(weak.is_empty(), "a 1024-bit key is not usable");
        assert_eq!(
            verifier()
                .verify(&weak_token, &weak, None, at(NOW))
                .map(|_| ()),
            Err(IdTokenError::UnknownKey)
        );
    }

    #[test]
    fn every_check_refuses_what_it_should() {
        use IdTokenError::*;
        let v = verifier();
        let with = |f: &dyn Fn(&mut Value)| {
            let mut c = claims();
            f(&mut c);
            sign(es256(), c)
        };
        let check =
            |token: &IdToken, now: u64| v.verify(token, &jwks(), Some("n-0S6_WzA2Mj"), at(now));
        assert_eq!(
            check(
                &with(&|c| c["iss"] = "https://server.example.com/".into()),
                NOW
            ),
            Err(IssuerMismatch)
        );
        assert_eq!(
            check(&with(&|c| c["aud"] = "other".into()), NOW),
            Err(AudienceMismatch)
        );
        assert_eq!(
            check(
                &with(&|c| c["aud"] = serde_json::json!(["s6BhdRkqt3", "other"])),
                NOW
            ),
            Err(AudienceMismatch)
        );
        // Another audience, even with `azp` the client: refused unless trusted (§3.1.3.7 #3).
        let two_audiences = with(&|c| {
            c["aud"] = serde_json::json!(["s6BhdRkqt3", "other"]);
            c["azp"] = "s6BhdRkqt3".into();
        });
        assert_eq!(check(&two_audiences, NOW), Err(AudienceMismatch));
        let trusting = verifier().trust_audience("other");
        assert!(
            trusting
                .verify(&two_audiences, &jwks(), Some("n-0S6_WzA2Mj"), at(NOW))
                .is_ok()
        );
        // Pinned to the client's registered algorithm: an ES256 token is refused for RS256.
        let pinned = verifier().expect_algorithm("RS256").unwrap();
        assert_eq!(
            pinned.verify(&with(&|_| {}), &jwks(), Some("n-0S6_WzA2Mj"), at(NOW)),
            Err(UnsupportedAlgorithm)
        );
        assert_eq!(
            verifier().expect_algorithm("HS256").err(),
            Some(UnsupportedAlgorithm)
        );
        assert!(
            verifier()
                .expect_algorithm("ES256")
                .unwrap()
                .verify(&with(&|_| {}), &jwks(), Some("n-0S6_WzA2Mj"), at(NOW))
                .is_ok()
        );
        assert_eq!(
            check(&with(&|c| c["nonce"] = "other".into()), NOW),
            Err(NonceMismatch)
        );
        assert_eq!(
            check(
                &with(&|c| {
                    c.as_object_mut().unwrap().remove("nonce");
                }),
                NOW
            ),
            Err(NonceMismatch)
        );
        assert_eq!(
            check(
                &with(&|c| {
                    c.as_object_mut().unwrap().remove("sub");
                }),
                NOW
            ),
            Err(InvalidClaim("sub"))
        );
        // OpenID Connect Core §2: `sub` is an identifier of at most 255 ASCII characters; an
        // empty one would make every such user the same account.
        assert_eq!(
            check(&with(&|c| c["sub"] = "".into()), NOW),
            Err(InvalidClaim("sub"))
        );
        assert_eq!(
            check(&with(&|c| c["sub"] = "s".repeat(256).into()), NOW),
            Err(InvalidClaim("sub"))
        );
        assert_eq!(
            check(&with(&|c| c["sub"] = 24400320.into()), NOW),
            Err(InvalidClaim("sub"))
        );
        let longest = "s".repeat(255);
        assert_eq!(
            check(&with(&|c| c["sub"] = longest.clone().into()), NOW).map(|c| c.sub().len()),
            Ok(255)
        );
        assert_eq!(
            check(&with(&|c| c["exp"] = "soon".into()), NOW),
            Err(InvalidClaim("exp"))
        );
        assert_eq!(
            check(&sign(es256(), claims()), NOW + 600 + 60),
            Err(Expired)
        );
        assert!(
            check(&sign(es256(), claims()), NOW + 600 + 59).is_ok(),
            "within the skew"
        );
        assert_eq!(
            check(&sign(es256(), claims()), NOW - 61),
            Err(IssuedInFuture)
        );
        // `nbf` (RFC 7519 §4.1.5), with the same skew; a value that is not a NumericDate is
        // refused too.
        let not_before = with(&|c| {
            c["nbf"] = (NOW + 3600).into();
            c["exp"] = (NOW + 7200).into();
        });
        assert_eq!(check(&not_before, NOW), Err(NotYetValid));
        assert_eq!(check(&not_before, NOW + 3600 - 61), Err(NotYetValid));
        assert!(
            check(&not_before, NOW + 3600 - 60).is_ok(),
            "within the skew"
        );
        assert_eq!(
            check(&with(&|c| c["nbf"] = "later".into()), NOW),
            Err(InvalidClaim("nbf"))
        );
        // Header and signature.
        assert_eq!(
            check(&sign(serde_json::json!({"alg": "none"}), claims()), NOW),
            Err(UnsupportedAlgorithm)
        );
        assert_eq!(
            check(
                &sign(serde_json::json!({"alg": "HS256", "kid": "hmac"}), claims()),
                NOW
            ),
            Err(UnsupportedAlgorithm)
        );
        assert_eq!(
            check(
                &sign(
                    serde_json::json!({"alg": "ES256", "kid": "rotated"}),
                    claims()
                ),
                NOW
            ),
            Err(UnknownKey)
        );
        assert_eq!(
            check(
                &sign(serde_json::json!({"alg": "RS256", "kid": "ec-1"}), claims()),
                NOW
            ),
            Err(UnknownKey)
        );
        let token = sign(es256(), claims());
        let (input, _) = token.secret().rsplit_once('.').unwrap();
        let forged = IdToken::new(format!("{input}.{}", URL_SAFE_NO_PAD.encode([7u8; 64])));
        assert_eq!(check(&forged, NOW), Err(BadSignature));
        let tampered = token.secret().replacen('.', ".e", 1);
        assert!(check(&IdToken::new(tampered), NOW).is_err());
        assert_eq!(
            check(
                &sign(
                    serde_json::json!({"alg": "ES256", "kid": "ec-1", "crit": ["exp"], "exp": 1}),
                    claims()
                ),
                NOW
            ),
            Err(Malformed)
        );
        assert_eq!(
            check(
                &sign(
                    serde_json::json!({"alg": "ES256", "kid": "ec-1", "typ": "logout+jwt"}),
                    claims()
                ),
                NOW
            ),
            Err(Malformed)
        );
        // A `kid` that is not a string (RFC 7515 §4.1.4) is a malformed header, not a token
        // without one (which any key of the set may verify).
        for kid in [
            serde_json::json!(1),
            serde_json::json!(null),
            serde_json::json!(["ec-1"]),
        ] {
            assert_eq!(
                check(
                    &sign(serde_json::json!({"alg": "ES256", "kid": kid}), claims()),
                    NOW
                ),
                Err(Malformed),
                "{kid}"
            );
        }
        assert!(
            check(&sign(serde_json::json!({"alg": "ES256"}), claims()), NOW).is_ok(),
            "no kid: the keys for the algorithm are tried"
        );
        for typ in ["JWT", "jwt", "application/jwt", "Application/JWT"] {
            assert!(
                check(
                    &sign(
                        serde_json::json!({"alg": "ES256", "kid": "ec-1", "typ": typ}),
                        claims()
                    ),
                    NOW
                )
                .is_ok(),
                "{typ}"
            );
        }
        assert!(
            check(
                &with(&|c| c["exp"] = serde_json::json!((NOW + 600) as f64 + 0.5)),
                NOW
            )
            .is_ok(),
            "fractional NumericDate"
        );
        assert_eq!(
            check(&with(&|c| c["exp"] = serde_json::json!(u64::MAX)), NOW),
            Err(InvalidClaim("exp"))
        );
        for malformed in ["", "a.b", "a.b.c.d", "!!.e30.e30", "e30.bm90IGpzb24.e30"] {
            assert_eq!(
                check(&IdToken::new(malformed), NOW),
                Err(Malformed),
                "{malformed}"
            );
        }
        // No nonce expected: a token without one is fine.
        let no_nonce = with(&|c| {
            c.as_object_mut().unwrap().remove("nonce");
        });
        assert!(v.verify(&no_nonce, &jwks(), None, at(NOW)).is_ok());
        assert!(Jwks::parse(b"[]").is_err() && Jwks::parse(b"{}").is_err());
    }

    /// The set answers for the keys it holds: `contains_kid` finds a listed `kid` (and not
    /// another), and a set with a usable key is not empty.
    #[test]
    fn a_jwk_set_reports_the_keys_it_holds() {
        let set = jwks();
        assert!(set.contains_kid("ec-1"));
        assert!(!set.contains_kid("hmac"), "the skipped symmetric key");
        assert!(!set.contains_kid("rotated"));
        assert!(!set.is_empty());
        // Debug names each usable key by `kid` and type, and nothing of the skipped one.
        let debug = format!("{set:?}");
        assert!(
            debug.contains("ec-1") && debug.contains("EC P-256"),
            "{debug}"
        );
        assert!(!debug.contains("hmac"), "{debug}");
    }

    /// The claims' accessors and `Debug`: `sub`, `aud` and `exp` (as Unix seconds) are shown,
    /// the other claims (the nonce, personal data) are not.
    #[test]
    fn verified_claims_expose_their_times_and_debug_shows_only_sub_aud_exp() {
        let claims = verifier()
            .verify(&sign(es256(), claims()), &jwks(), None, at(NOW))
            .unwrap();
        assert_eq!(claims.expires_at(), at(NOW + 600));
        assert_eq!(claims.issued_at(), at(NOW));
        let debug = format!("{claims:?}");
        for shown in ["24400320", "s6BhdRkqt3", &(NOW + 600).to_string()] {
            assert!(debug.contains(shown), "{shown} in {debug}");
        }
        for hidden in ["n-0S6_WzA2Mj", "janedoe"] {
            assert!(!debug.contains(hidden), "{hidden} in {debug}");
        }
    }

    /// A PS256 token (RSASSA-PSS, RFC 7518 §3.5) verifies with the provider's RSA key.
    #[test]
    fn a_ps256_token_verifies_with_an_rsa_key() {
        use ring::signature::{RSA_PSS_SHA256, RsaKeyPair};
        const PEM: &str = include_str!("../../tests/vectors/oauth1/test_rsa_2048_pkcs8.pem");
        let (_, der) = pem_rfc7468::decode_vec(PEM.as_bytes()).unwrap();
        let pair = RsaKeyPair::from_pkcs8(&der).unwrap();
        let (_, n, e) = rs256(PEM);
        let (n, e) = (integer(n).unwrap(), integer(e).unwrap());
        let (n, e) = (n.as_slice(), e.as_slice());
        let header = serde_json::json!({"alg": "PS256", "kid": "rsa-1"});
        let token = compact(&header, &claims(), |input| {
            let mut signature = vec![0; pair.public().modulus_len()];
            pair.sign(
                &RSA_PSS_SHA256,
                &ring::rand::SystemRandom::new(),
                input,
                &mut signature,
            )
            .unwrap();
            Ok(signature)
        })
        .unwrap();
        let claims = verifier()
            .verify(
                &IdToken::new(token.as_str()),
                &rsa_jwks(n, e),
                None,
                at(NOW),
            )
            .unwrap();
        assert_eq!(claims.algorithm(), "PS256");
        let pinned = verifier().expect_algorithm("PS256").unwrap();
        assert!(
            pinned
                .verify(
                    &IdToken::new(token.as_str()),
                    &rsa_jwks(n, e),
                    None,
                    at(NOW)
                )
                .is_ok()
        );
    }

    /// RFC 7518 §3.3, §3.5: "A key of size 2048 bits or larger MUST be used". A 256-octet
    /// modulus whose top bit is clear has 2047 bits, under the minimum; one of 1025 octets
    /// starting 0x01 has 8193, over what ring verifies.
    #[test]
    fn an_rsa_modulus_is_counted_in_bits_not_octets() {
        let e = [1u8, 0, 1];
        let with_top = |octets: usize, top: u8| {
            let mut n = vec![0xff; octets];
            n[0] = top;
            n
        };
        assert_eq!(rsa_jwks(&with_top(256, 0x7f), &e).len(), 0, "2047 bits");
        assert_eq!(rsa_jwks(&with_top(256, 0x80), &e).len(), 1, "2048 bits");
        assert_eq!(rsa_jwks(&with_top(1024, 0xff), &e).len(), 1, "8192 bits");
        assert_eq!(rsa_jwks(&with_top(1025, 0x01), &e).len(), 0, "8193 bits");
    }

    /// An EC P-256 key's `x` and `y` are 32 octets each (RFC 7518 §6.2.1.2, §6.2.1.3): a key
    /// with either of another length is not usable.
    #[test]
    fn ec_coordinates_are_32_octets_each() {
        let point = key().public_key().to_vec();
        let x = URL_SAFE_NO_PAD.encode(&point[1..33]);
        let y = URL_SAFE_NO_PAD.encode(&point[33..65]);
        let short = URL_SAFE_NO_PAD.encode(&point[33..64]);
        let long = URL_SAFE_NO_PAD.encode([&point[33..65], &[0u8][..]].concat());
        for (x, y) in [(&x, &short), (&short, &y), (&x, &long), (&long, &y)] {
            let set = jwks_with(serde_json::json!({"x": x, "y": y}));
            assert!(set.is_empty(), "x {x} y {y}");
        }
        assert_eq!(jwks_with(serde_json::json!({"x": x, "y": y})).len(), 1);
    }

    /// OpenID Connect Core §3.1.3.7 #4 and #5: with several audiences the token must name the
    /// client as `azp`; an `azp` naming another client is refused even with the client the
    /// only audience; an `azp` that is not a string is an invalid claim.
    #[test]
    fn azp_must_be_the_client() {
        use IdTokenError::*;
        let trusting = verifier().trust_audience("other");
        let check = |v: &IdTokenVerifier, f: &dyn Fn(&mut Value)| verify_edited(v, f, NOW);
        assert_eq!(
            check(&trusting, &|c| {
                c["aud"] = serde_json::json!(["s6BhdRkqt3", "other"]);
            }),
            Err(AudienceMismatch),
            "several audiences, no azp"
        );
        assert_eq!(
            check(&trusting, &|c| c["azp"] = "other".into()),
            Err(AudienceMismatch),
            "azp another client"
        );
        assert_eq!(
            check(&verifier(), &|c| c["azp"] = 5.into()),
            Err(InvalidClaim("azp"))
        );
        assert_eq!(
            check(&verifier(), &|c| c["azp"] = "s6BhdRkqt3".into()),
            Ok(())
        );
    }

    /// `iat` may be ahead of the clock by the skew, no more (as `nbf`); a NumericDate before
    /// 1970 is refused as invalid rather than read as the epoch.
    #[test]
    fn iat_is_allowed_the_skew_and_times_are_not_negative() {
        use IdTokenError::*;
        let check = |f: &dyn Fn(&mut Value), now: u64| verify_edited(&verifier(), f, now);
        assert_eq!(
            check(&|_| {}, NOW - 60),
            Ok(()),
            "iat exactly the skew ahead"
        );
        assert_eq!(check(&|_| {}, NOW - 61), Err(IssuedInFuture));
        for (name, error) in [("iat", InvalidClaim("iat")), ("exp", InvalidClaim("exp"))] {
            assert_eq!(
                check(&|c| c[name] = serde_json::json!(-1), NOW),
                Err(error.clone()),
                "{name}"
            );
            assert_eq!(
                check(&|c| c[name] = serde_json::json!(-0.5), NOW),
                Err(error),
                "{name}"
            );
        }
    }

    /// The skew given to [`IdTokenVerifier::clock_skew`] is the one every time check uses
    /// (OpenID Connect Core 1.0 §3.1.3.7 #9, #10 and #13; RFC 7519 §4.1.5): with none, a token
    /// is expired at its `exp`, refused a second before its `iat` or `nbf`, and an
    /// authentication a second past `max_age` (or a second in the future) fails.
    #[test]
    fn a_clock_skew_set_on_the_verifier_is_the_one_every_time_check_uses() {
        use IdTokenError::*;
        let strict = verifier().clock_skew(Duration::ZERO);
        let check = |f: &dyn Fn(&mut Value), now: u64| verify_edited(&strict, f, now);
        // exp is NOW + 600, iat NOW.
        assert_eq!(check(&|_| {}, NOW + 599), Ok(()));
        assert_eq!(check(&|_| {}, NOW + 600), Err(Expired));
        assert_eq!(check(&|_| {}, NOW), Ok(()));
        assert_eq!(check(&|_| {}, NOW - 1), Err(IssuedInFuture));
        let nbf = |c: &mut Value| c["nbf"] = (NOW + 10).into();
        assert_eq!(check(&nbf, NOW + 9), Err(NotYetValid));
        assert_eq!(check(&nbf, NOW + 10), Ok(()));
        // auth_time is NOW - 10.
        let verified = strict
            .verify(&sign(es256(), claims()), &jwks(), None, at(NOW))
            .unwrap();
        let max_age = Duration::from_secs(300);
        let age_check = |now: u64| strict.check_max_age(&verified, max_age, at(now));
        assert_eq!(age_check(NOW - 10 + 300), Ok(()));
        assert_eq!(age_check(NOW - 10 + 301), Err(AuthenticationTooOld));
        assert_eq!(age_check(NOW - 11), Err(InvalidClaim("auth_time")));
    }

    /// A NumericDate is read only below 10^15 seconds (some 31 million years after 1970): one
    /// from there on is refused as invalid, as `u64::MAX` is, not taken as a time.
    #[test]
    fn a_numeric_date_of_ten_to_the_fifteen_seconds_is_invalid() {
        let check = |exp: Value| verify_edited(&verifier(), &|c| c["exp"] = exp.clone(), NOW);
        assert_eq!(
            check(serde_json::json!(1e15)),
            Err(IdTokenError::InvalidClaim("exp"))
        );
        assert_eq!(check(serde_json::json!(999_999_999_999_999u64)), Ok(()));
    }

    /// OpenID Connect Core 1.0 §2: `iss`, `sub`, `aud`, `exp` and `iat` are REQUIRED, and
    /// §3.1.3.7 #2, #3 and #9 check them: a token without one, or with one of another type (an
    /// `aud` array with a member that is not a string among them), is refused as an invalid
    /// claim, not read as "no issuer", "no audience" or "never expires".
    #[test]
    fn every_required_claim_must_be_present_and_of_its_type() {
        let check = |f: &dyn Fn(&mut Value)| verify_edited(&verifier(), f, NOW);
        for name in ["iss", "sub", "aud", "exp", "iat"] {
            assert_eq!(
                check(&|c| {
                    c.as_object_mut().unwrap().remove(name);
                }),
                Err(IdTokenError::InvalidClaim(name)),
                "without {name}"
            );
        }
        for (name, value) in [
            ("iss", serde_json::json!(5)),
            ("aud", serde_json::json!(5)),
            ("aud", serde_json::json!(["s6BhdRkqt3", 5])),
            ("aud", serde_json::json!({"client": "s6BhdRkqt3"})),
            ("iat", serde_json::json!("now")),
        ] {
            assert_eq!(
                check(&|c| c[name] = value.clone()),
                Err(IdTokenError::InvalidClaim(name)),
                "{name}: {value}"
            );
        }
        // An empty list names no audience, the client included.
        assert_eq!(
            check(&|c| c["aud"] = serde_json::json!([])),
            Err(IdTokenError::AudienceMismatch)
        );
    }

    /// OpenID Connect Core 1.0 §3.1.3.7 #3: `aud` MUST contain the client; an audience the
    /// verifier trusts is accepted besides the client, never instead of it (with `azp` the
    /// client or not).
    #[test]
    fn a_trusted_audience_does_not_stand_in_for_the_client() {
        let trusting = verifier().trust_audience("other");
        for azp in [None, Some("s6BhdRkqt3")] {
            let only_other = |c: &mut Value| {
                c["aud"] = serde_json::json!(["other"]);
                if let Some(azp) = azp {
                    c["azp"] = azp.into();
                }
            };
            assert_eq!(
                verify_edited(&trusting, &only_other, NOW),
                Err(IdTokenError::AudienceMismatch),
                "azp {azp:?}"
            );
        }
    }

    /// `verify` checks the signature first, then the claims (as its doc says): a token whose
    /// signature does not verify is `BadSignature` whatever its claims, so nothing about the
    /// claim checks is learned from a forged token.
    #[test]
    fn a_bad_signature_is_reported_before_any_claim_check() {
        let forge = |edit: &dyn Fn(&mut Value)| {
            let mut c = claims();
            edit(&mut c);
            let token = sign(es256(), c);
            let (input, _) = token.secret().rsplit_once('.').unwrap();
            IdToken::new(format!("{input}.{}", URL_SAFE_NO_PAD.encode([7u8; 64])))
        };
        let edits: [&dyn Fn(&mut Value); 4] = [
            &|c| c["iss"] = "https://attacker.example".into(),
            &|c| c["aud"] = "other".into(),
            &|c| c["exp"] = (NOW - 3600).into(),
            &|c| c["nonce"] = "other".into(),
        ];
        for edit in edits {
            assert_eq!(
                verifier()
                    .verify(&forge(edit), &jwks(), Some("n-0S6_WzA2Mj"), at(NOW))
                    .map(|_| ()),
                Err(IdTokenError::BadSignature)
            );
        }
    }

    /// OpenID Connect Core 1.0 §3.1.3.7 #6: the signature covers the header and the claims. A
    /// well-formed header or payload of another token the provider signed, put in front of this
    /// token's signature, is a bad signature.
    #[test]
    fn the_signature_covers_the_header_and_the_claims() {
        let parts = |token: &IdToken| {
            let parts: Vec<String> = token.secret().split('.').map(str::to_owned).collect();
            <[String; 3]>::try_from(parts).unwrap()
        };
        let [header, payload, signature] = parts(&sign(es256(), claims()));
        let mut other_claims = claims();
        other_claims["sub"] = "someone-else".into();
        let [_, other_payload, _] = parts(&sign(es256(), other_claims));
        let typed = serde_json::json!({"alg": "ES256", "kid": "ec-1", "typ": "JWT"});
        let [other_header, _, _] = parts(&sign(typed, claims()));
        for spliced in [
            format!("{header}.{other_payload}.{signature}"),
            format!("{other_header}.{payload}.{signature}"),
        ] {
            assert_eq!(
                verifier()
                    .verify(&IdToken::new(spliced), &jwks(), None, at(NOW))
                    .map(|_| ()),
                Err(IdTokenError::BadSignature)
            );
        }
        let genuine = format!("{header}.{payload}.{signature}");
        assert!(
            verifier()
                .verify(&IdToken::new(genuine), &jwks(), None, at(NOW))
                .is_ok()
        );
    }
}
