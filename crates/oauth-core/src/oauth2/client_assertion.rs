//! `private_key_jwt` client authentication (RFC 7523 §2.2 and §3, OpenID Connect Core §9): the
//! client proves who it is with a short-lived JWT signed by its private key instead of a shared
//! secret (RFC 9700 §2.5 recommends asymmetric client authentication). RS256, PS256 (the RSA
//! algorithm FAPI 2.0 allows), ES256, and EdDSA with an Ed25519 key.
//!
//! Also `client_secret_jwt` (OpenID Connect Core §9, [`ClientSecretJwt`]): the same assertion
//! MACed with the client secret (HS256), for servers that ask for it; the secret itself is
//! never sent.
//!
//! ```
//! use oauth_core::oauth1::RsaPrivateKey;
//! use oauth_core::oauth2::{Client, Endpoint, PrivateKeyJwt, TokenRequest};
//!
//! # let pem = include_str!("../../tests/vectors/oauth1/test_rsa_2048_pkcs8.pem");
//! let key = RsaPrivateKey::from_pem(pem)?;
//! let client = Client::private_key_jwt("s6BhdRkqt3", PrivateKeyJwt::rs256(key).key_id("2026-11"));
//! let token_endpoint = Endpoint::new("https://server.example.com/token")?;
//! let request = TokenRequest::client_credentials(&token_endpoint, &client).build()?;
//! let body = std::str::from_utf8(request.body())?;
//! assert!(body.contains(
//!     "client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer"
//! ));
//! assert!(body.contains("&client_assertion=ey"));
//! assert!(!request.headers().contains_key("authorization"));
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use hmac::Hmac;
use hmac::digest::{FixedOutput, KeyInit, Update};
use sha2::{Digest, Sha256};
use zeroize::Zeroizing;

use super::jws::{EcP256PrivateKey, Ed25519PrivateKey, compact, issued_now};
use crate::clock::{Clock, RandomSource, SystemClock, SystemRandom};
use crate::oauth1::{RsaPrivateKey, SignatureMethod};
use crate::secret::ClientSecret;

/// `client_assertion_type` for a JWT client assertion (RFC 7523 §2.2).
pub const CLIENT_ASSERTION_TYPE: &str = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer";

/// The smallest RSA key RS256 and PS256 may be used with (RFC 7518 §3.3 and §3.5: "A key of
/// size 2048 bits or larger MUST be used").
const MIN_RSA_BITS: usize = 2048;

/// The shortest client secret HS256 may be keyed with (RFC 7518 §3.2: "A key of the same size
/// as the hash output (for instance, 256 bits for "HS256") or larger MUST be used").
const MIN_HS256_SECRET_BYTES: usize = 32;

/// How long an assertion is valid by default: one minute, enough for one request.
pub const DEFAULT_ASSERTION_LIFETIME: Duration = Duration::from_secs(60);

/// The key and settings a client signs its `private_key_jwt` assertions with; see
/// [`Client::private_key_jwt`](super::Client::private_key_jwt).
///
/// Each token request carries a fresh assertion: `iss` and `sub` are the client id, `aud` the
/// token endpoint URL (or [`audience`](Self::audience)), `jti` 128 random bits (servers refuse a
/// replayed assertion), `iat` now and `exp` [`lifetime`](Self::lifetime) later.
#[derive(Clone)]
pub struct PrivateKeyJwt {
    key: SigningKey,
    key_id: Option<String>,
    audience: Option<String>,
    lifetime: Duration,
    clock: Arc<dyn Clock>,
    random: Arc<dyn RandomSource>,
}

/// The key an assertion is signed with, and so its `alg`.
#[derive(Clone)]
enum SigningKey {
    Rs256(RsaPrivateKey),
    /// RSASSA-PSS with SHA-256 (RFC 7518 §3.5).
    Ps256(RsaPrivateKey),
    Es256(EcP256PrivateKey),
    /// EdDSA (RFC 8037 §3.1).
    Ed25519(Ed25519PrivateKey),
    /// `client_secret_jwt`: HMAC-SHA256 keyed with the client secret's bytes.
    Hs256(ClientSecret),
}

impl SigningKey {
    fn alg(&self) -> &'static str {
        match self {
            Self::Rs256(_) => "RS256",
            Self::Ps256(_) => "PS256",
            Self::Es256(_) => "ES256",
            Self::Ed25519(_) => "EdDSA",
            Self::Hs256(_) => "HS256",
        }
    }

    fn sign(&self, input: &[u8]) -> Result<Vec<u8>, AssertionError> {
        match self {
            Self::Rs256(key) | Self::Ps256(key) if key.bits() < MIN_RSA_BITS => {
                Err(AssertionError::RsaKeyTooSmall { bits: key.bits() })
            }
            Self::Rs256(key) => key
                .sign_prehash(SignatureMethod::RsaSha256, &Sha256::digest(input))
                .map_err(|_| AssertionError::Signature),
            Self::Ps256(key) => key
                .sign_pss_sha256_prehash(&Sha256::digest(input))
                .map_err(|_| AssertionError::Signature),
            Self::Es256(key) => key.sign(input),
            Self::Ed25519(key) => Ok(key.sign(input)),
            Self::Hs256(secret) if secret.secret().len() < MIN_HS256_SECRET_BYTES => {
                Err(AssertionError::SecretTooShort {
                    bytes: secret.secret().len(),
                })
            }
            Self::Hs256(secret) => {
                let mut mac = <Hmac<Sha256> as KeyInit>::new_from_slice(secret.secret().as_bytes())
                    .map_err(|_| AssertionError::Signature)?;
                mac.update(input);
                Ok(mac.finalize_fixed().to_vec())
            }
        }
    }
}

impl fmt::Debug for PrivateKeyJwt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key: &dyn fmt::Debug = match &self.key {
            SigningKey::Rs256(key) | SigningKey::Ps256(key) => key,
            SigningKey::Es256(key) => key,
            SigningKey::Ed25519(key) => key,
            SigningKey::Hs256(secret) => secret,
        };
        f.debug_struct("PrivateKeyJwt")
            .field("alg", &self.key.alg())
            .field("key", key)
            .field("key_id", &self.key_id)
            .field("audience", &self.audience)
            .field("lifetime", &self.lifetime)
            .finish_non_exhaustive()
    }
}

/// A client assertion could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AssertionError {
    /// The clock is before 1970, so `iat` and `exp` cannot be written.
    #[error("the clock is before the Unix epoch")]
    ClockBeforeEpoch,
    /// The random source failed (no `jti`).
    #[error("the random source failed")]
    Random,
    /// The signature failed.
    #[error("the signature of the client assertion failed")]
    Signature,
    /// The RSA key is under the 2048 bits RS256 and PS256 require (RFC 7518 §3.3, §3.5), as a
    /// key loaded with a lower [`RsaPrivateKey::from_pem_with_min_bits`] for OAuth 1 can be.
    #[error("the RSA key has {bits} bits; RS256 and PS256 need 2048 or more (RFC 7518 §3.3, §3.5)")]
    RsaKeyTooSmall {
        /// The key's modulus size.
        bits: usize,
    },
    /// The client secret is shorter than the 32 bytes an HS256 key must have (RFC 7518 §3.2),
    /// so `client_secret_jwt` cannot be used with it: the assertion would be open to guessing.
    #[error(
        "the client secret has {bytes} bytes; client_secret_jwt (HS256) needs 32 or more (RFC 7518 §3.2)"
    )]
    SecretTooShort {
        /// The secret's length.
        bytes: usize,
    },
}

impl PrivateKeyJwt {
    /// Assertions signed with RS256 (RSASSA-PKCS1-v1_5 with SHA-256, RFC 7518 §3.3), the
    /// algorithm every server supports. The key must have 2048 bits or more (RFC 7518 §3.3;
    /// [`RsaPrivateKey::from_pem`] refuses smaller ones): a smaller one signs no assertion
    /// ([`AssertionError::RsaKeyTooSmall`]).
    pub fn rs256(key: RsaPrivateKey) -> Self {
        Self::with_key(SigningKey::Rs256(key))
    }

    /// Assertions signed with PS256 (RSASSA-PSS with SHA-256 and a 32-byte salt, RFC 7518
    /// §3.5): the RSA algorithm FAPI 2.0 allows (it does not allow RS256) and UK Open Banking
    /// requires. Register the client with `token_endpoint_auth_signing_alg` `PS256`; the same
    /// key as for [`rs256`](Self::rs256), 2048 bits or more. The signatures are randomized
    /// (the salt, from the operating system's generator), so no two are alike.
    ///
    /// ```
    /// use oauth_core::oauth2::{Client, Endpoint, PrivateKeyJwt, RsaPrivateKey, TokenRequest};
    ///
    /// # let pem = include_str!("../../tests/vectors/oauth1/test_rsa_2048_pkcs8.pem");
    /// let key = RsaPrivateKey::from_pem(pem)?;
    /// let assertion = PrivateKeyJwt::ps256(key)
    ///     .key_id("rsa-1")
    ///     .audience("https://server.example.com"); // FAPI 2.0: the issuer
    /// let client = Client::private_key_jwt("s6BhdRkqt3", assertion);
    /// let token_endpoint = Endpoint::new("https://server.example.com/token")?;
    /// let request = TokenRequest::client_credentials(&token_endpoint, &client).build()?;
    /// assert!(std::str::from_utf8(request.body())?.contains("&client_assertion=ey"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn ps256(key: RsaPrivateKey) -> Self {
        Self::with_key(SigningKey::Ps256(key))
    }

    /// Assertions signed with ES256 (ECDSA on P-256 with SHA-256, RFC 7518 §3.4): shorter
    /// keys, smaller and much faster signatures than RS256.
    pub fn es256(key: EcP256PrivateKey) -> Self {
        Self::with_key(SigningKey::Es256(key))
    }

    /// Assertions signed with EdDSA on Ed25519 (RFC 8037 §3.1; `alg` `EdDSA`): register the
    /// client with `token_endpoint_auth_signing_alg` `EdDSA` (where the server asks for one)
    /// and the public key as an OKP JWK, `{"kty":"OKP","crv":"Ed25519","x":…}` with `x` the
    /// base64url of [`Ed25519PrivateKey::public_key`]. Deterministic signatures, small keys.
    ///
    /// ```
    /// use oauth_core::oauth2::{Client, Ed25519PrivateKey, Endpoint, PrivateKeyJwt, TokenRequest};
    ///
    /// # let pem = include_str!("../../tests/vectors/oauth1/test_ed25519_pkcs8.pem");
    /// let key = Ed25519PrivateKey::from_pem(pem)?;
    /// let client = Client::private_key_jwt("s6BhdRkqt3", PrivateKeyJwt::ed25519(key).key_id("ed-1"));
    /// let token_endpoint = Endpoint::new("https://server.example.com/token")?;
    /// let request = TokenRequest::client_credentials(&token_endpoint, &client).build()?;
    /// assert!(std::str::from_utf8(request.body())?.contains("&client_assertion=ey"));
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn ed25519(key: Ed25519PrivateKey) -> Self {
        Self::with_key(SigningKey::Ed25519(key))
    }

    fn with_key(key: SigningKey) -> Self {
        Self {
            key,
            key_id: None,
            audience: None,
            lifetime: DEFAULT_ASSERTION_LIFETIME,
            clock: Arc::new(SystemClock),
            random: Arc::new(SystemRandom::new()),
        }
    }

    /// The `kid` header, naming the key among those the server knows for this client.
    #[must_use]
    pub fn key_id(mut self, kid: impl Into<String>) -> Self {
        self.key_id = Some(kid.into());
        self
    }

    /// The `aud` claim, when the server wants its issuer identifier (or another value) rather
    /// than its token endpoint URL (the default, as OpenID Connect Core §9 recommends).
    ///
    /// **Prefer the issuer identifier where the server accepts it** (most do), and always
    /// when one key is registered at several authorization servers. An assertion whose audience
    /// is a token endpoint URL is also sent to the server's other endpoints (revocation,
    /// introspection, PAR), and these come from its metadata: a malicious server that names
    /// an honest server's token endpoint as its own can replay the assertions it receives
    /// there (the January 2025 "audience injection" findings; the RFC 7523 revision and FAPI 2
    /// require the issuer as the only audience).
    #[must_use]
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = Some(audience.into());
        self
    }

    /// Sets the `aud` claim to `audience` unless [`audience`](Self::audience) set one: for a
    /// request to another endpoint than the token endpoint (revocation, introspection, PAR,
    /// device authorization), where the token endpoint URL is still the audience servers
    /// accept (RFC 7523 §3) rather than the URL called.
    #[must_use]
    pub fn audience_if_unset(mut self, audience: impl Into<String>) -> Self {
        if self.audience.is_none() {
            self.audience = Some(audience.into());
        }
        self
    }

    /// How long each assertion is valid (default [`DEFAULT_ASSERTION_LIFETIME`]).
    #[must_use]
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// The clock for `iat` and `exp` ([`SystemClock`] by default).
    #[must_use]
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// The random source for `jti` ([`SystemRandom`] by default).
    #[must_use]
    pub fn random(mut self, random: impl RandomSource + 'static) -> Self {
        self.random = Arc::new(random);
        self
    }

    /// A fresh signed assertion (a compact JWS) for `client_id` presenting it at
    /// `token_endpoint`. It is a credential: keep it out of logs.
    ///
    /// # Errors
    ///
    /// Fails with [`AssertionError::ClockBeforeEpoch`] for a clock before 1970,
    /// [`AssertionError::Random`] when the random source fails, [`AssertionError::RsaKeyTooSmall`]
    /// for an RSA key under 2048 bits, and [`AssertionError::Signature`] when signing fails.
    pub fn assertion(
        &self,
        client_id: &str,
        token_endpoint: &str,
    ) -> Result<Zeroizing<String>, AssertionError> {
        let mut claims = serde_json::Map::new();
        claims.insert("iss".into(), client_id.into());
        claims.insert("sub".into(), client_id.into());
        claims.insert(
            "aud".into(),
            self.audience.as_deref().unwrap_or(token_endpoint).into(),
        );
        self.sign_claims("JWT", self.lifetime, claims, false)
    }

    /// `claims` signed with this key as a compact JWS of type `typ`, with a fresh `jti`, `iat`
    /// now (and `nbf`, when `not_before`) and `exp` `lifetime` later: what an assertion and a
    /// request object (RFC 9101) have in common.
    pub(crate) fn sign_claims(
        &self,
        typ: &str,
        lifetime: Duration,
        mut claims: serde_json::Map<String, serde_json::Value>,
        not_before: bool,
    ) -> Result<Zeroizing<String>, AssertionError> {
        let (now, jti) = issued_now(&*self.clock, &*self.random)?;
        let mut header = serde_json::json!({ "alg": self.key.alg(), "typ": typ });
        if let Some(kid) = &self.key_id {
            header["kid"] = kid.as_str().into();
        }
        claims.insert("jti".into(), jti.into());
        claims.insert("iat".into(), now.into());
        if not_before {
            claims.insert("nbf".into(), now.into());
        }
        claims.insert(
            "exp".into(),
            now.saturating_add(lifetime.as_secs().max(1)).into(),
        );
        compact(&header, &serde_json::Value::Object(claims), |input| {
            self.key.sign(input)
        })
    }
}

/// The secret and settings of a `client_secret_jwt` client (OpenID Connect Core §9); see
/// [`Client::client_secret_jwt`](super::Client::client_secret_jwt).
///
/// Each token request carries a fresh assertion with the claims of a [`PrivateKeyJwt`] one,
/// MACed with HS256 keyed by the client secret, which must have at least 32 bytes (RFC 7518
/// §3.2; a shorter one fails the request with [`AssertionError::SecretTooShort`]). The secret
/// never leaves the client, unlike with `client_secret_basic`/`_post`; but the server holds
/// it too, so prefer `private_key_jwt` where the server offers it (RFC 9700 §2.5).
#[derive(Clone)]
pub struct ClientSecretJwt(PrivateKeyJwt);

impl fmt::Debug for ClientSecretJwt {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientSecretJwt")
            .field("audience", &self.0.audience)
            .field("lifetime", &self.0.lifetime)
            .finish_non_exhaustive()
    }
}

impl ClientSecretJwt {
    /// Assertions MACed with `secret` (HS256).
    #[must_use]
    pub fn new(secret: ClientSecret) -> Self {
        Self(PrivateKeyJwt::with_key(SigningKey::Hs256(secret)))
    }

    /// The `aud` claim; see [`PrivateKeyJwt::audience`].
    #[must_use]
    pub fn audience(self, audience: impl Into<String>) -> Self {
        Self(self.0.audience(audience))
    }

    /// Sets the `aud` claim unless one was set; see [`PrivateKeyJwt::audience_if_unset`].
    #[must_use]
    pub fn audience_if_unset(self, audience: impl Into<String>) -> Self {
        Self(self.0.audience_if_unset(audience))
    }

    /// How long each assertion is valid (default [`DEFAULT_ASSERTION_LIFETIME`]).
    #[must_use]
    pub fn lifetime(self, lifetime: Duration) -> Self {
        Self(self.0.lifetime(lifetime))
    }

    /// The clock for `iat` and `exp` ([`SystemClock`] by default).
    #[must_use]
    pub fn clock(self, clock: impl Clock + 'static) -> Self {
        Self(self.0.clock(clock))
    }

    /// The random source for `jti` ([`SystemRandom`] by default).
    #[must_use]
    pub fn random(self, random: impl RandomSource + 'static) -> Self {
        Self(self.0.random(random))
    }

    /// A fresh assertion (a compact JWS, HS256) for `client_id` presenting it at
    /// `token_endpoint`. It is a credential: keep it out of logs.
    ///
    /// # Errors
    ///
    /// Fails with [`AssertionError::SecretTooShort`] for a secret under 32 bytes,
    /// [`AssertionError::ClockBeforeEpoch`] for a clock before 1970, [`AssertionError::Random`]
    /// when the random source fails, and [`AssertionError::Signature`] when the MAC fails.
    pub fn assertion(
        &self,
        client_id: &str,
        token_endpoint: &str,
    ) -> Result<Zeroizing<String>, AssertionError> {
        self.0.assertion(client_id, token_endpoint)
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;

    use super::super::jws::{EcKeyError, part};
    use super::*;
    use crate::clock::{CountingRandom, ManualClock};

    const PEM: &str = include_str!("../../tests/vectors/oauth1/test_rsa_2048_pkcs8.pem");

    #[test]
    fn assertion_has_the_rfc7523_claims_and_verifies_with_the_public_key() {
        let key = RsaPrivateKey::from_pem(PEM).unwrap();
        let public = key.public_key();
        let jwt = PrivateKeyJwt::rs256(key)
            .key_id("k1")
            .clock(ManualClock::at_unix_seconds(1_700_000_000))
            .random(CountingRandom::new(3));
        let jws = jwt
            .assertion("client-1", "https://as.example/token")
            .unwrap();
        assert_eq!(jws.split('.').count(), 3);
        let header = part(&jws, 0);
        assert_eq!(header["alg"], "RS256");
        assert_eq!(header["typ"], "JWT");
        assert_eq!(header["kid"], "k1");
        let claims = part(&jws, 1);
        assert_eq!(claims["iss"], "client-1");
        assert_eq!(claims["sub"], "client-1");
        assert_eq!(claims["aud"], "https://as.example/token");
        assert_eq!(claims["iat"], 1_700_000_000u64);
        assert_eq!(claims["exp"], 1_700_000_060u64);
        assert_eq!(claims["jti"].as_str().unwrap().len(), 22);
        // The signature is RS256 over `header.claims`.
        let (input, signature) = jws.rsplit_once('.').unwrap();
        let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
        assert!(public.verify_prehash(
            SignatureMethod::RsaSha256,
            &Sha256::digest(input.as_bytes()),
            &signature
        ));
        // Every assertion has its own jti; the audience can be the issuer instead.
        let again = jwt
            .clone()
            .audience("https://as.example")
            .assertion("client-1", "https://as.example/token")
            .unwrap();
        assert_ne!(part(&again, 1)["jti"], claims["jti"]);
        assert_eq!(part(&again, 1)["aud"], "https://as.example");
        // For another endpoint: the token endpoint as audience, unless one was chosen.
        let elsewhere = jwt
            .clone()
            .audience_if_unset("https://as.example/token")
            .assertion("client-1", "https://as.example/revoke")
            .unwrap();
        assert_eq!(part(&elsewhere, 1)["aud"], "https://as.example/token");
        let chosen = jwt
            .clone()
            .audience("https://as.example")
            .audience_if_unset("https://as.example/token")
            .assertion("client-1", "https://as.example/revoke")
            .unwrap();
        assert_eq!(part(&chosen, 1)["aud"], "https://as.example");
    }

    /// PS256 (RFC 7518 §3.5): verified by ring's RSASSA-PSS (SHA-256, MGF1 SHA-256, salt the
    /// hash's length) with the public key; randomized, so two assertions over the same claims
    /// differ; the 2048-bit floor applies as for RS256.
    #[test]
    fn ps256_assertions_verify_with_ring_and_are_randomized() {
        let key = RsaPrivateKey::from_pem(PEM).unwrap();
        let (n, e) = key.public_components();
        let jwt = PrivateKeyJwt::ps256(key)
            .key_id("ps")
            .clock(ManualClock::at_unix_seconds(1_700_000_000))
            .random(CountingRandom::new(3));
        let jws = jwt.assertion("c", "https://as.example/token").unwrap();
        assert_eq!(part(&jws, 0)["alg"], "PS256");
        assert_eq!(part(&jws, 0)["kid"], "ps");
        let (input, signature) = jws.rsplit_once('.').unwrap();
        let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
        let public = ring::signature::RsaPublicKeyComponents { n: &n, e: &e };
        public
            .verify(
                &ring::signature::RSA_PSS_2048_8192_SHA256,
                input.as_bytes(),
                &signature,
            )
            .unwrap();
        // Not PKCS#1 v1.5: the RS256 verifier refuses it.
        assert!(
            public
                .verify(
                    &ring::signature::RSA_PKCS1_2048_8192_SHA256,
                    input.as_bytes(),
                    &signature
                )
                .is_err()
        );
        // The same claims again (same clock, same jti source): another signature.
        let same_claims = PrivateKeyJwt::ps256(RsaPrivateKey::from_pem(PEM).unwrap())
            .key_id("ps")
            .clock(ManualClock::at_unix_seconds(1_700_000_000))
            .random(CountingRandom::new(3))
            .assertion("c", "https://as.example/token")
            .unwrap();
        assert_eq!(same_claims.rsplit_once('.').unwrap().0, input);
        assert_ne!(*same_claims, *jws);

        let small = include_str!("../../tests/vectors/oauth1/oauthlib_rsa_1024_pkcs1.pem");
        let small = RsaPrivateKey::from_pem_with_min_bits(small, 1024).unwrap();
        assert_eq!(
            PrivateKeyJwt::ps256(small).assertion("c", "https://as.example/token"),
            Err(AssertionError::RsaKeyTooSmall { bits: 1024 })
        );
        assert!(format!("{jwt:?}").contains("PS256"));
    }

    #[test]
    fn es256_assertions_verify_with_the_p256_public_key() {
        let pem = include_str!("../../tests/vectors/oauth1/test_ec_p256_pkcs8.pem");
        let key = EcP256PrivateKey::from_pem(pem).unwrap();
        let public = key.public_key().to_vec();
        assert_eq!(public.len(), 65);
        let jws = PrivateKeyJwt::es256(key)
            .assertion("client-2", "https://as.example/token")
            .unwrap();
        assert_eq!(part(&jws, 0)["alg"], "ES256");
        assert_eq!(part(&jws, 1)["sub"], "client-2");
        let (input, signature) = jws.rsplit_once('.').unwrap();
        let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
        assert_eq!(signature.len(), 64);
        ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_FIXED, public)
            .verify(input.as_bytes(), &signature)
            .unwrap();
        // Other PEM documents are typed errors, with no key material in them.
        assert_eq!(
            EcP256PrivateKey::from_pem(PEM).unwrap_err(),
            EcKeyError::NotP256
        );
        let rsa_pkcs1 = include_str!("../../tests/vectors/oauth1/oauthlib_rsa_1024_pkcs1.pem");
        assert_eq!(
            EcP256PrivateKey::from_pem(rsa_pkcs1).unwrap_err(),
            EcKeyError::NotPkcs8Pem
        );
        assert_eq!(
            EcP256PrivateKey::from_pem("-----BEGIN PRIVATE KEY-----\nAAAA").unwrap_err(),
            EcKeyError::NotPkcs8Pem
        );
        assert_eq!(
            format!("{:?}", EcP256PrivateKey::from_pem(pem).unwrap()),
            "EcP256PrivateKey([redacted])"
        );
    }

    /// EdDSA assertions (RFC 8037 §3.1): `alg` `EdDSA`, the RFC 7523 claims, a 64-byte
    /// signature that verifies with the Ed25519 public key (RFC 8037 A.1's key here), and the
    /// same assertion for the same claims (Ed25519 is deterministic); `Debug` redacts the key.
    #[test]
    fn ed25519_assertions_verify_with_the_public_key() {
        use ring::signature::{ED25519, UnparsedPublicKey};

        let key = super::super::jws::tests::rfc8037_key();
        let public = key.public_key().to_vec();
        let jwt = PrivateKeyJwt::ed25519(key)
            .key_id("ed-1")
            .clock(ManualClock::at_unix_seconds(1_700_000_000))
            .random(CountingRandom::new(9));
        let jws = jwt
            .assertion("client-3", "https://as.example/token")
            .unwrap();
        let header = part(&jws, 0);
        assert_eq!(header["alg"], "EdDSA");
        assert_eq!(header["kid"], "ed-1");
        assert_eq!(header["typ"], "JWT");
        let claims = part(&jws, 1);
        assert_eq!(claims["iss"], "client-3");
        assert_eq!(claims["sub"], "client-3");
        assert_eq!(claims["aud"], "https://as.example/token");
        assert_eq!(claims["exp"], 1_700_000_060u64);
        let (input, signature) = jws.rsplit_once('.').unwrap();
        let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
        assert_eq!(signature.len(), 64);
        UnparsedPublicKey::new(&ED25519, &public)
            .verify(input.as_bytes(), &signature)
            .unwrap();
        let twin = PrivateKeyJwt::ed25519(super::super::jws::tests::rfc8037_key())
            .key_id("ed-1")
            .clock(ManualClock::at_unix_seconds(1_700_000_000))
            .random(CountingRandom::new(9));
        assert_eq!(
            *twin
                .assertion("client-3", "https://as.example/token")
                .unwrap(),
            *jws
        );
        let debug = format!("{jwt:?}");
        assert!(
            debug.contains("EdDSA") && debug.contains("Ed25519PrivateKey([redacted])"),
            "{debug}"
        );
    }

    /// RFC 7523 §3 (4): `exp` limits the window the assertion can be used in. It is `iat` plus
    /// the configured lifetime, at least one second later than `iat` (an assertion that expires
    /// as it is issued is refused by every server), and a huge lifetime saturates instead of
    /// overflowing.
    #[test]
    fn an_assertion_expires_its_lifetime_after_it_is_issued() {
        let pem = include_str!("../../tests/vectors/oauth1/test_ec_p256_pkcs8.pem");
        let jwt = PrivateKeyJwt::es256(EcP256PrivateKey::from_pem(pem).unwrap())
            .clock(ManualClock::at_unix_seconds(1_700_000_000))
            .random(CountingRandom::new(5));
        let exp = |lifetime: Duration| {
            let jws = jwt
                .clone()
                .lifetime(lifetime)
                .assertion("c", "https://as.example/token")
                .unwrap();
            let claims = part(&jws, 1);
            assert_eq!(claims["iat"], 1_700_000_000u64);
            claims["exp"].as_u64().unwrap()
        };
        assert_eq!(exp(Duration::from_secs(300)), 1_700_000_300);
        assert_eq!(exp(Duration::from_millis(90_900)), 1_700_000_090);
        assert_eq!(exp(Duration::ZERO), 1_700_000_001);
        assert_eq!(exp(Duration::from_millis(999)), 1_700_000_001);
        assert_eq!(exp(Duration::MAX), u64::MAX);
    }

    #[test]
    fn debug_hides_the_key_and_failures_are_typed() {
        let key = RsaPrivateKey::from_pem(PEM).unwrap();
        let jwt = PrivateKeyJwt::rs256(key);
        let debug = format!("{jwt:?}");
        assert!(
            debug.contains("redacted") && debug.contains("RS256"),
            "{debug}"
        );
        assert!(!debug.contains("MII"), "{debug}");
        // RFC 7518 §3.3: RS256 needs a key of 2048 bits or more. A 1024-bit key (loadable
        // for OAuth 1's RSA-SHA1 with from_pem_with_min_bits) signs no assertion.
        let small = include_str!("../../tests/vectors/oauth1/oauthlib_rsa_1024_pkcs1.pem");
        let small = RsaPrivateKey::from_pem_with_min_bits(small, 1024).unwrap();
        assert_eq!(
            PrivateKeyJwt::rs256(small).assertion("c", "https://as.example/token"),
            Err(AssertionError::RsaKeyTooSmall { bits: 1024 })
        );
        let before_epoch = jwt.clone().clock(ManualClock::new(
            std::time::UNIX_EPOCH - Duration::from_secs(1),
        ));
        assert_eq!(
            before_epoch.assertion("c", "https://as.example/token"),
            Err(AssertionError::ClockBeforeEpoch)
        );
    }

    /// `client_secret_jwt` (OpenID Connect Core §9): the claims of a `private_key_jwt`
    /// assertion, `alg` HS256, and a MAC that is HMAC-SHA256 over `header.claims` keyed with the
    /// secret's bytes (RFC 7518 §3.2), checked here with the `hmac` crate as a server would.
    #[test]
    fn client_secret_jwt_is_hs256_over_the_same_claims() {
        const SECRET: &str = "0123456789abcdef0123456789abcdef";
        let jwt = ClientSecretJwt::new(ClientSecret::new(SECRET))
            .clock(ManualClock::at_unix_seconds(1_700_000_000))
            .random(CountingRandom::new(3));
        let jws = jwt
            .assertion("client-1", "https://as.example/token")
            .unwrap();
        let header = part(&jws, 0);
        assert_eq!(header, serde_json::json!({"alg": "HS256", "typ": "JWT"}));
        let claims = part(&jws, 1);
        assert_eq!(claims["iss"], "client-1");
        assert_eq!(claims["sub"], "client-1");
        assert_eq!(claims["aud"], "https://as.example/token");
        assert_eq!(claims["exp"], 1_700_000_060u64);
        // The `jti` is 16 bytes of the random source given, base64url.
        let mut jti = [0u8; 16];
        CountingRandom::new(3).fill(&mut jti).unwrap();
        assert_eq!(claims["jti"], URL_SAFE_NO_PAD.encode(jti));
        let (input, mac) = jws.rsplit_once('.').unwrap();
        let mut expected = <Hmac<Sha256> as KeyInit>::new_from_slice(SECRET.as_bytes()).unwrap();
        expected.update(input.as_bytes());
        assert_eq!(
            URL_SAFE_NO_PAD.decode(mac).unwrap(),
            expected.finalize_fixed().to_vec()
        );
        // Another secret gives another MAC; the audience can be set.
        let other = ClientSecretJwt::new(ClientSecret::new(SECRET.to_uppercase()))
            .clock(ManualClock::at_unix_seconds(1_700_000_000))
            .random(CountingRandom::new(3))
            .audience("https://as.example")
            .lifetime(Duration::from_secs(30));
        let other = other
            .assertion("client-1", "https://as.example/token")
            .unwrap();
        assert_ne!(other.rsplit_once('.').unwrap().1, mac);
        assert_eq!(part(&other, 1)["aud"], "https://as.example");
        assert_eq!(part(&other, 1)["exp"], 1_700_000_030u64);
    }

    /// RFC 7518 §3.2: an HS256 key must have at least 256 bits. A shorter client secret makes
    /// no assertion (a typed error that does not print the secret), 32 bytes do.
    #[test]
    fn client_secret_jwt_needs_a_secret_of_32_bytes() {
        let short = ClientSecretJwt::new(ClientSecret::new("SENTINEL-31-bytes-long-secret!!"));
        let error = short
            .assertion("c", "https://as.example/token")
            .unwrap_err();
        assert_eq!(error, AssertionError::SecretTooShort { bytes: 31 });
        assert!(!format!("{error} {error:?}").contains("SENTINEL"));
        assert!(!format!("{short:?}").contains("SENTINEL"), "{short:?}");
        // What is not secret is shown: the settings a log reader needs to tell clients apart.
        let shown = format!(
            "{:?}",
            short
                .clone()
                .audience("https://as.example")
                .lifetime(Duration::from_secs(30))
        );
        assert!(shown.starts_with("ClientSecretJwt {"), "{shown}");
        assert!(
            shown.contains("Some(\"https://as.example\")") && shown.contains("30s"),
            "{shown}"
        );
        assert!(!shown.contains("SENTINEL"), "{shown}");
        let enough = ClientSecretJwt::new(ClientSecret::new("x".repeat(32)));
        assert!(enough.assertion("c", "https://as.example/token").is_ok());
    }
}
