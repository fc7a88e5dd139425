//! DPoP proofs (RFC 9449): the client proves possession of a key with each request it sends
//! with a sender-constrained token, so a stolen token is useless without the key.
//!
//! This module makes the proofs (ES256 with a P-256 key, or EdDSA with an Ed25519 key) and the
//! values around them: the key's JWK thumbprint
//! (RFC 7638, for `dpop_jkt` and to compare with a token's `cnf.jkt`) and the access token hash
//! (`ath`), and reads what servers answer: their nonces ([`server_nonce`]) and a resource
//! server's challenges ([`resource_challenge`]). `tower_oauth2::GrantClient::dpop` sends proofs
//! to the token endpoint, and `tower_oauth2::OAuth2Layer` sends DPoP-bound tokens to resource
//! servers with a proof per request (both with the one `use_dpop_nonce` retry).
//!
//! ```
//! use http::{Method, Uri};
//! use oauth_core::oauth2::{DpopKey, EcP256PrivateKey};
//!
//! # let pem = include_str!("../../tests/vectors/oauth1/test_ec_p256_pkcs8.pem");
//! let key = DpopKey::es256(EcP256PrivateKey::from_pem(pem)?);
//! let token_endpoint: Uri = "https://server.example.com/token".parse()?;
//! let proof = key.proof(&Method::POST, &token_endpoint, None, None)?;
//! assert_eq!(proof.to_str()?.split('.').count(), 3);
//! assert_eq!(key.thumbprint().len(), 43);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::fmt;
use std::sync::Arc;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use http::{HeaderMap, HeaderValue, Method, Uri};
use sha2::{Digest, Sha256};

use super::client_assertion::AssertionError;
use super::jws::{EcP256PrivateKey, Ed25519PrivateKey, compact, issued_now};
use super::response::TokenResponseError;
use super::token::Token;
use crate::clock::{Clock, RandomSource, SystemClock, SystemRandom};

/// A DPoP key: proofs are JWTs signed with it (ES256 or EdDSA) carrying its public JWK.
#[derive(Clone)]
pub struct DpopKey {
    key: ProofKey,
    /// The RFC 7638 thumbprint, computed once.
    jkt: Arc<str>,
    clock: Arc<dyn Clock>,
    random: Arc<dyn RandomSource>,
}

/// The private key of a [`DpopKey`], and so the proofs' `alg`.
#[derive(Clone)]
enum ProofKey {
    Es256(EcP256PrivateKey),
    Ed25519(Ed25519PrivateKey),
}

impl fmt::Debug for DpopKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let key: &dyn fmt::Debug = match &self.key {
            ProofKey::Es256(key) => key,
            ProofKey::Ed25519(key) => key,
        };
        f.debug_struct("DpopKey")
            .field("key", key)
            .field("jkt", &self.thumbprint())
            .finish_non_exhaustive()
    }
}

impl DpopKey {
    /// A key whose proofs are signed with ES256 (the algorithm servers support most).
    pub fn es256(key: EcP256PrivateKey) -> Self {
        let (x, y) = coordinates(&key);
        let jkt = jwk_thumbprint_p256(x, y);
        Self::with_key(ProofKey::Es256(key), jkt)
    }

    /// A key whose proofs are signed with EdDSA on Ed25519 (RFC 8037 §3.1; `alg` `EdDSA`, as
    /// servers list it in `dpop_signing_alg_values_supported`): deterministic, small and fast
    /// signatures. Its JWK is `{"crv":"Ed25519","kty":"OKP","x":…}` (RFC 8037 §2), and its
    /// thumbprint the RFC 7638 one of these three members ([`jwk_thumbprint_ed25519`]).
    ///
    /// ```
    /// use http::{Method, Uri};
    /// use oauth_core::oauth2::{DpopKey, Ed25519PrivateKey};
    ///
    /// # let pem = include_str!("../../tests/vectors/oauth1/test_ed25519_pkcs8.pem");
    /// let key = DpopKey::ed25519(Ed25519PrivateKey::from_pem(pem)?);
    /// assert_eq!(key.algorithm(), "EdDSA");
    /// assert_eq!(key.jwk()["kty"], "OKP");
    /// let token_endpoint: Uri = "https://server.example.com/token".parse()?;
    /// let proof = key.proof(&Method::POST, &token_endpoint, None, None)?;
    /// assert_eq!(proof.to_str()?.split('.').count(), 3);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn ed25519(key: Ed25519PrivateKey) -> Self {
        let jkt = jwk_thumbprint_ed25519(key.public_key());
        Self::with_key(ProofKey::Ed25519(key), jkt)
    }

    fn with_key(key: ProofKey, jkt: String) -> Self {
        Self {
            key,
            jkt: jkt.into(),
            clock: Arc::new(SystemClock),
            random: Arc::new(SystemRandom::new()),
        }
    }

    /// The clock for `iat` ([`SystemClock`] by default).
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

    /// The JWS algorithm of the proofs (`ES256` or `EdDSA`), as servers list it in
    /// `dpop_signing_alg_values_supported`.
    pub fn algorithm(&self) -> &'static str {
        match self.key {
            ProofKey::Es256(_) => "ES256",
            ProofKey::Ed25519(_) => "EdDSA",
        }
    }

    /// The public key as a JWK: `kty` `EC`, `crv` `P-256`, `x`, `y` for an ES256 key; `kty`
    /// `OKP`, `crv` `Ed25519`, `x` for an Ed25519 one.
    pub fn jwk(&self) -> serde_json::Value {
        match &self.key {
            ProofKey::Es256(key) => {
                let (x, y) = coordinates(key);
                serde_json::json!({
                    "kty": "EC",
                    "crv": "P-256",
                    "x": URL_SAFE_NO_PAD.encode(x),
                    "y": URL_SAFE_NO_PAD.encode(y),
                })
            }
            ProofKey::Ed25519(key) => serde_json::json!({
                "kty": "OKP",
                "crv": "Ed25519",
                "x": URL_SAFE_NO_PAD.encode(key.public_key()),
            }),
        }
    }

    /// The JWK SHA-256 thumbprint (RFC 7638), base64url: the `dpop_jkt` authorization request
    /// parameter (RFC 9449 §10) and the `cnf.jkt` of tokens bound to this key.
    pub fn thumbprint(&self) -> String {
        self.jkt.to_string()
    }

    /// A proof for one request (RFC 9449 §4.2): `htm` the method, `htu` the URI without query
    /// and fragment, a fresh `jti`, `iat` now, and for a resource request `ath`, the hash of
    /// the access token sent with it; `nonce` when the server asked for one.
    ///
    /// # Errors
    ///
    /// Fails with [`AssertionError::ClockBeforeEpoch`] for a clock before 1970,
    /// [`AssertionError::Random`] when the random source fails, and [`AssertionError::Signature`]
    /// when signing fails.
    pub fn proof(
        &self,
        method: &Method,
        uri: &Uri,
        access_token: Option<&str>,
        nonce: Option<&str>,
    ) -> Result<HeaderValue, AssertionError> {
        let (now, jti) = issued_now(&*self.clock, &*self.random)?;
        let header =
            serde_json::json!({ "typ": "dpop+jwt", "alg": self.algorithm(), "jwk": self.jwk() });
        let mut claims = serde_json::json!({
            "jti": jti,
            "htm": method.as_str(),
            "htu": target_uri(uri),
            "iat": now,
        });
        if let Some(token) = access_token {
            claims["ath"] = access_token_hash(token).into();
        }
        if let Some(nonce) = nonce {
            claims["nonce"] = nonce.into();
        }
        let jws = compact(&header, &claims, |input| match &self.key {
            ProofKey::Es256(key) => key.sign(input),
            ProofKey::Ed25519(key) => Ok(key.sign(input)),
        })?;
        let mut value =
            HeaderValue::try_from(jws.as_str()).map_err(|_| AssertionError::Signature)?;
        value.set_sensitive(true);
        Ok(value)
    }
}

/// The request header that carries a proof (RFC 9449 §4.1).
pub const DPOP_HEADER: &str = "dpop";

/// The response header that carries a server's nonce (RFC 9449 §8, §9).
pub const DPOP_NONCE_HEADER: &str = "dpop-nonce";

/// A `DPoP-Nonce` a client must not use: sent twice, empty, or with characters outside
/// `NQCHAR` (RFC 9449 §8.1: printable ASCII but `"` and `\`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the server's DPoP-Nonce is invalid (repeated, empty, or outside NQCHAR)")]
#[non_exhaustive]
pub struct InvalidDpopNonce;

/// The nonce a server asks proofs to carry, from its `DPoP-Nonce` response header (RFC 9449
/// §8, §9): `Ok(None)` when there is none, an error when there are several or the value is
/// not `1*NQCHAR`.
///
/// # Errors
///
/// Fails with [`InvalidDpopNonce`] for several `DPoP-Nonce` headers, an empty one, or one outside
/// `NQCHAR`.
pub fn server_nonce(headers: &HeaderMap) -> Result<Option<&str>, InvalidDpopNonce> {
    let mut values = headers.get_all(DPOP_NONCE_HEADER).iter();
    let Some(value) = values.next() else {
        return Ok(None);
    };
    let is_nqchar = |b: &u8| *b == 0x21 || (0x23..=0x5b).contains(b) || (0x5d..=0x7e).contains(b);
    if values.next().is_some() || value.is_empty() || !value.as_bytes().iter().all(is_nqchar) {
        return Err(InvalidDpopNonce);
    }
    value.to_str().map(Some).map_err(|_| InvalidDpopNonce)
}

/// Whether a token endpoint error asks for a proof with a (new) server nonce: `use_dpop_nonce`
/// (RFC 9449 §8). The server refused the request before looking at the grant, so it may be
/// sent once more with a proof carrying [`server_nonce`].
pub fn is_use_dpop_nonce(error: &TokenResponseError) -> bool {
    error
        .oauth_error()
        .is_some_and(|e| e.code.as_str() == "use_dpop_nonce")
}

/// What a resource server's 401 asks of a client that sent a DPoP-bound token (RFC 9449 §7.1,
/// §9), read from its `WWW-Authenticate` challenges (scheme names compared case-insensitively).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ResourceChallenge {
    /// `DPoP error="use_dpop_nonce"`: send the request once more with a proof carrying the
    /// response's `DPoP-Nonce`.
    UseDpopNonce,
    /// `error="invalid_token"` (under the `DPoP` or `Bearer` scheme): the token was rejected.
    InvalidToken,
    /// Anything else (no challenge, another error, a malformed header).
    Other,
}

/// Classifies a 401 from a resource server; see [`ResourceChallenge`]. Never panics on a
/// malformed header.
pub fn resource_challenge(headers: &HeaderMap) -> ResourceChallenge {
    let mut invalid_token = false;
    for challenge in super::challenge::www_authenticate_challenges(headers) {
        match challenge.param("error") {
            Some("use_dpop_nonce") if challenge.is_scheme("DPoP") => {
                return ResourceChallenge::UseDpopNonce;
            }
            Some("invalid_token")
                if challenge.is_scheme("DPoP") || challenge.is_scheme("Bearer") =>
            {
                invalid_token = true;
            }
            _ => {}
        }
    }
    if invalid_token {
        ResourceChallenge::InvalidToken
    } else {
        ResourceChallenge::Other
    }
}

/// A DPoP-bound token met a key that is not the one it is bound to (or no key at all): it is
/// neither sent nor refreshed (RFC 9449 §5: a bound refresh token is used with the same key).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the token is bound to a different DPoP key than the one configured (or none is)")]
#[non_exhaustive]
pub struct DpopKeyMismatch;

impl DpopKeyMismatch {
    /// The error for a DPoP-bound token met with another key, or with no key at all (what a
    /// client that holds no [`DpopKey`] reports for a bound token).
    #[must_use]
    pub const fn new() -> Self {
        Self
    }
}

impl Default for DpopKeyMismatch {
    fn default() -> Self {
        Self::new()
    }
}

impl DpopKey {
    /// Checks that `token` may be used with this key: `Ok` unless it records the thumbprint
    /// of another key ([`Token::dpop_jkt`]).
    ///
    /// # Errors
    ///
    /// Fails with [`DpopKeyMismatch`] when `token` is bound to another key's thumbprint.
    pub fn check_binding(&self, token: &Token) -> Result<(), DpopKeyMismatch> {
        match token.dpop_jkt() {
            Some(jkt) if jkt != self.jkt.as_ref() => Err(DpopKeyMismatch),
            _ => Ok(()),
        }
    }
}

/// The coordinates of the key's public point.
fn coordinates(key: &EcP256PrivateKey) -> (&[u8], &[u8]) {
    // An uncompressed point: 0x04, x (32 bytes), y (32 bytes).
    let point = key.public_key();
    let x = point.get(1..33).unwrap_or_default();
    let y = point.get(33..65).unwrap_or_default();
    (x, y)
}

/// `htu`: the request URI without its query and fragment (RFC 9449 §4.2), normalised as the
/// server compares it (§4.3, RFC 3986 §6.2.2–6.2.3): scheme and host in lower case, the default
/// port left out, and never a `user:password@` (which the server's view of the request does
/// not have, and which must not travel inside a signed proof).
fn target_uri(uri: &Uri) -> String {
    let (Some(scheme), Some(authority)) = (uri.scheme_str(), uri.authority()) else {
        return uri.path().to_owned();
    };
    let scheme = scheme.to_ascii_lowercase();
    let host = authority.host().to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => Some(443),
        "http" => Some(80),
        _ => None,
    };
    match authority.port_u16() {
        Some(port) if Some(port) != default_port => {
            format!("{scheme}://{host}:{port}{}", uri.path())
        }
        _ => format!("{scheme}://{host}{}", uri.path()),
    }
}

/// `ath`: base64url of the SHA-256 of the access token's ASCII (RFC 9449 §4.2).
pub fn access_token_hash(access_token: &str) -> String {
    URL_SAFE_NO_PAD.encode(Sha256::digest(access_token.as_bytes()))
}

/// The RFC 7638 thumbprint of a P-256 public key given its coordinates: base64url of the
/// SHA-256 of `{"crv":"P-256","kty":"EC","x":…,"y":…}` (members in that order, no spaces).
pub fn jwk_thumbprint_p256(x: &[u8], y: &[u8]) -> String {
    let canonical = format!(
        r#"{{"crv":"P-256","kty":"EC","x":"{}","y":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(x),
        URL_SAFE_NO_PAD.encode(y)
    );
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

/// The RFC 7638 thumbprint of an Ed25519 public key (`x`, 32 bytes): base64url of the SHA-256
/// of `{"crv":"Ed25519","kty":"OKP","x":…}` (RFC 8037 §2 names the members; in that order, no
/// spaces).
pub fn jwk_thumbprint_ed25519(x: &[u8]) -> String {
    let canonical = format!(
        r#"{{"crv":"Ed25519","kty":"OKP","x":"{}"}}"#,
        URL_SAFE_NO_PAD.encode(x)
    );
    URL_SAFE_NO_PAD.encode(Sha256::digest(canonical.as_bytes()))
}

#[cfg(test)]
mod tests {
    use super::super::jws::part;
    use super::*;
    use crate::clock::{CountingRandom, ManualClock};

    const PEM: &str = include_str!("../../tests/vectors/oauth1/test_ec_p256_pkcs8.pem");

    #[test]
    fn nonce_requests_are_recognised() {
        use super::super::{Compliance, parse_token_response};
        let mut headers = HeaderMap::new();
        assert_eq!(server_nonce(&headers), Ok(None));
        headers.insert(
            "DPoP-Nonce",
            HeaderValue::from_static("eyJ7S_zG.eyJH0-Z.HX4w-7v"),
        );
        assert_eq!(server_nonce(&headers), Ok(Some("eyJ7S_zG.eyJH0-Z.HX4w-7v")));
        headers.insert(
            http::header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        let parse = |body: &str| {
            parse_token_response(
                http::StatusCode::BAD_REQUEST,
                &headers,
                body.as_bytes(),
                std::time::UNIX_EPOCH,
                &Compliance::strict(),
            )
            .unwrap_err()
        };
        assert!(is_use_dpop_nonce(&parse(
            r#"{"error":"use_dpop_nonce","error_description":"Authorization server requires nonce in DPoP proof"}"#
        )));
        assert!(!is_use_dpop_nonce(&parse(
            r#"{"error":"invalid_dpop_proof"}"#
        )));
    }

    #[test]
    fn htu_is_normalised_and_never_carries_userinfo() {
        let htu = |uri: &str| target_uri(&uri.parse().unwrap());
        assert_eq!(
            htu("https://server.example.com/token?x=1#f"),
            "https://server.example.com/token"
        );
        assert_eq!(
            htu("https://user:pw@API.Example.com:443/a/b?q"),
            "https://api.example.com/a/b"
        );
        assert_eq!(htu("HTTP://h.example:80"), "http://h.example/");
        assert_eq!(htu("http://127.0.0.1:8443/r"), "http://127.0.0.1:8443/r");
        assert_eq!(htu("https://[::1]:8443/r"), "https://[::1]:8443/r");
        assert_eq!(htu("https://[::1]/r"), "https://[::1]/r");
    }

    /// RFC 9449's examples: the key of §4.1 has the `cnf.jkt` of §6.1, and the access token of
    /// §7.1 the `ath` shown there.
    #[test]
    fn rfc9449_thumbprint_and_ath_vectors() {
        let x = URL_SAFE_NO_PAD
            .decode("l8tFrhx-34tV3hRICRDY9zCkDlpBhF42UQUfWVAWBFs")
            .unwrap();
        let y = URL_SAFE_NO_PAD
            .decode("9VE4jf_Ok_o64zbTTlcuNJajHmt6v9TDVrU0CdvGRDA")
            .unwrap();
        assert_eq!(
            jwk_thumbprint_p256(&x, &y),
            "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
        );
        assert_eq!(
            access_token_hash("Kz~8mXK1EalYznwH-LC-1fBAo.4Ljp~zsPE_NeO.gxU"),
            "fUHyO2r2Z3DZ53EsNrWBb0xWXoaNy59IiKCAqksmQEo"
        );
    }

    #[test]
    fn proofs_carry_the_rfc9449_claims_and_verify_with_their_jwk() {
        let key = DpopKey::es256(EcP256PrivateKey::from_pem(PEM).unwrap())
            .clock(ManualClock::at_unix_seconds(1_700_000_000))
            .random(CountingRandom::new(1));
        let uri: Uri = "https://Resource.example.org/protected?x=1#frag"
            .parse()
            .unwrap();
        let proof = key
            .proof(&Method::GET, &uri, Some("token-1"), Some("n-1"))
            .unwrap();
        let proof = proof.to_str().unwrap();
        let header = part(proof, 0);
        assert_eq!(header["typ"], "dpop+jwt");
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["jwk"], key.jwk());
        assert!(header["jwk"].get("d").is_none(), "no private part");
        let claims = part(proof, 1);
        assert_eq!(claims["htm"], "GET");
        // Without query and fragment, the host in lower case (RFC 3986 §6.2.2, as servers
        // normalise before comparing, RFC 9449 §4.3).
        assert_eq!(claims["htu"], "https://resource.example.org/protected");
        assert_eq!(claims["iat"], 1_700_000_000u64);
        assert_eq!(claims["ath"], access_token_hash("token-1"));
        assert_eq!(claims["nonce"], "n-1");
        assert_eq!(claims["jti"].as_str().unwrap().len(), 22);
        let (input, signature) = proof.rsplit_once('.').unwrap();
        ring::signature::UnparsedPublicKey::new(
            &ring::signature::ECDSA_P256_SHA256_FIXED,
            EcP256PrivateKey::from_pem(PEM).unwrap().public_key(),
        )
        .verify(
            input.as_bytes(),
            &URL_SAFE_NO_PAD.decode(signature).unwrap(),
        )
        .unwrap();
        // A token request: no ath, no nonce; each proof has its own jti.
        let again = key.proof(&Method::POST, &uri, None, None).unwrap();
        let again = part(again.to_str().unwrap(), 1);
        assert!(again.get("ath").is_none() && again.get("nonce").is_none());
        assert_ne!(again["jti"], claims["jti"]);
        // The thumbprint is the RFC 7638 one of the JWK it sends.
        let jwk = key.jwk();
        let x = URL_SAFE_NO_PAD.decode(jwk["x"].as_str().unwrap()).unwrap();
        let y = URL_SAFE_NO_PAD.decode(jwk["y"].as_str().unwrap()).unwrap();
        assert_eq!(key.thumbprint(), jwk_thumbprint_p256(&x, &y));
        assert!(format!("{key:?}").contains("[redacted]"));
    }

    /// RFC 9449 §4.3: a server verifies a proof's signature with the public key in the
    /// proof's own `jwk` header and nothing else, so that JWK must be the public half of the
    /// signing key; and the key's RFC 7638 thumbprint is the one of that public key. The
    /// coordinates and the thumbprint of the test key were computed apart from this crate
    /// (`openssl ec -pubout`, then SHA-256 of the canonical JWK in Python).
    #[test]
    fn a_proof_verifies_with_the_jwk_in_its_own_header() {
        let key = DpopKey::es256(EcP256PrivateKey::from_pem(PEM).unwrap());
        let uri: Uri = "https://server.example.com/token".parse().unwrap();
        let proof = key.proof(&Method::POST, &uri, None, None).unwrap();
        let proof = proof.to_str().unwrap();
        let jwk = &part(proof, 0)["jwk"];
        assert_eq!(jwk["kty"], "EC");
        assert_eq!(jwk["crv"], "P-256");
        assert_eq!(jwk["x"], "CHyQPsrFEDXZBGU63D_BoVzP7cR8qu-aGqXTxl3Aj5U");
        assert_eq!(jwk["y"], "1qHzsqDcSsMsGEJ6tHOkxbRYwS29cYavbxPbhCrA-Uo");
        let mut point = vec![4u8];
        for c in ["x", "y"] {
            point.extend(URL_SAFE_NO_PAD.decode(jwk[c].as_str().unwrap()).unwrap());
        }
        let (input, signature) = proof.rsplit_once('.').unwrap();
        ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_FIXED, &point)
            .verify(
                input.as_bytes(),
                &URL_SAFE_NO_PAD.decode(signature).unwrap(),
            )
            .unwrap();
        assert_eq!(
            key.thumbprint(),
            "zB2rmO6Pzq_FyqsgOSay6A-iWVOorh1e9qF1UUxgepM"
        );
    }

    #[test]
    fn server_nonces_are_nqchar_and_single() {
        let with = |values: &[&'static [u8]]| {
            let mut headers = HeaderMap::new();
            for v in values {
                headers.append("dpop-nonce", HeaderValue::from_bytes(v).unwrap());
            }
            headers
        };
        assert_eq!(server_nonce(&with(&[b"a!#[]~"])), Ok(Some("a!#[]~")));
        for bad in [
            &b"two words"[..],
            b"q\"",
            b"back\\slash",
            b"",
            b"caf\xc3\xa9",
        ] {
            assert_eq!(
                server_nonce(&with(&[bad])),
                Err(InvalidDpopNonce),
                "{bad:?}"
            );
        }
        assert_eq!(server_nonce(&with(&[b"n1", b"n2"])), Err(InvalidDpopNonce));
    }

    #[test]
    fn resource_challenges_are_read_case_insensitively() {
        let with = |value: &'static str| {
            let mut headers = HeaderMap::new();
            headers.append(
                http::header::WWW_AUTHENTICATE,
                HeaderValue::from_static(value),
            );
            headers
        };
        use ResourceChallenge::*;
        for (value, expected) in [
            (
                r#"DPoP error="use_dpop_nonce", error_description="Resource server requires nonce in DPoP proof""#,
                UseDpopNonce,
            ),
            (r#"dpop algs="ES256", error="use_dpop_nonce""#, UseDpopNonce),
            (r#"DPoP error="invalid_token""#, InvalidToken),
            (r#"Bearer error="invalid_token""#, InvalidToken),
            (r#"Bearer error="use_dpop_nonce""#, Other),
            (r#"DPoP error="insufficient_scope""#, Other),
            (r#"DPoP error=""#, Other),
            ("", Other),
        ] {
            assert_eq!(resource_challenge(&with(value)), expected, "{value}");
        }
        assert_eq!(resource_challenge(&HeaderMap::new()), Other);
        let mut both = with(r#"Bearer realm="x""#);
        both.append(
            http::header::WWW_AUTHENTICATE,
            HeaderValue::from_static(r#"DPoP error="use_dpop_nonce""#),
        );
        assert_eq!(resource_challenge(&both), UseDpopNonce);
    }

    /// `invalid_token` is an error code of the `Bearer` (RFC 6750 §3.1) and `DPoP` (RFC 9449
    /// §7.1) schemes: the same word under another scheme says nothing about the OAuth token
    /// sent, so it does not make the client give the token up.
    #[test]
    fn invalid_token_counts_only_under_the_bearer_and_dpop_schemes() {
        use ResourceChallenge::*;
        for (value, expected) in [
            (r#"Basic realm="x", error="invalid_token""#, Other),
            (r#"Newauth error="invalid_token""#, Other),
            (r#"Newauth error="invalid_token", Bearer realm="x""#, Other),
            (
                r#"Newauth error="invalid_token", bearer error="invalid_token""#,
                InvalidToken,
            ),
            (r#"dPoP error="invalid_token""#, InvalidToken),
        ] {
            let mut headers = HeaderMap::new();
            headers.append(
                http::header::WWW_AUTHENTICATE,
                HeaderValue::from_static(value),
            );
            assert_eq!(resource_challenge(&headers), expected, "{value}");
        }
    }

    /// `obs-text` in a challenge's quoted-string (RFC 9110 §5.6.4: a UTF-8 or Latin-1
    /// `realm` or `error_description`) does not hide the error code next to it; it used to
    /// (the value was read only when it was visible ASCII).
    #[test]
    fn challenges_with_non_ascii_parameters_are_read() {
        use ResourceChallenge::*;
        for (value, expected) in [
            (
                "DPoP realm=\"Z\u{fc}rich\", error=\"use_dpop_nonce\"".as_bytes(),
                UseDpopNonce,
            ),
            (
                b"DPoP error=\"invalid_token\", error_description=\"expir\xe9\"",
                InvalidToken,
            ),
            // Outside a quoted string, such bytes are still malformed.
            (b"DPoP\xe9 error=\"use_dpop_nonce\"", Other),
            (b"DPoP error=\"use_dpop_nonce\xe9\"", Other),
        ] {
            let mut headers = HeaderMap::new();
            headers.append(
                http::header::WWW_AUTHENTICATE,
                HeaderValue::from_bytes(value).unwrap(),
            );
            assert_eq!(
                resource_challenge(&headers),
                expected,
                "{}",
                String::from_utf8_lossy(value)
            );
        }
    }

    #[test]
    fn tokens_bound_to_another_key_are_refused() {
        use crate::oauth2::{Token, TokenType};
        use crate::secret::AccessToken;
        let key = DpopKey::es256(EcP256PrivateKey::from_pem(PEM).unwrap());
        let token = Token::new(AccessToken::new("t"), TokenType::DPoP);
        assert_eq!(key.check_binding(&token), Ok(()));
        let mine = token.clone().with_dpop_jkt(Some(key.thumbprint()));
        assert_eq!(key.check_binding(&mine), Ok(()));
        let other = token.with_dpop_jkt(Some("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I".into()));
        assert_eq!(key.check_binding(&other), Err(DpopKeyMismatch));
        assert_eq!(
            mine.dpop_authorization_header().unwrap().to_str().unwrap(),
            "DPoP t"
        );
        assert!(mine.dpop_authorization_header().unwrap().is_sensitive());
        assert!(mine.authorization_header().is_err(), "never sent as Bearer");
        let bearer = Token::new(AccessToken::new("t"), TokenType::Bearer);
        assert!(bearer.dpop_authorization_header().is_err());
        let json = serde_json::to_string(&mine).unwrap();
        let back: Token = serde_json::from_str(&json).unwrap();
        assert_eq!(back.dpop_jkt(), Some(key.thumbprint().as_str()));
    }
    /// `Token::usable_by` for a client with a key: a token bound to that key, or to none, is
    /// usable; one bound to another key is not (RFC 9449 §5), whatever its type.
    #[test]
    fn a_client_with_a_key_uses_tokens_bound_to_that_key_or_to_none() {
        use crate::oauth2::{Token, TokenType};
        use crate::secret::AccessToken;
        let key = DpopKey::es256(EcP256PrivateKey::from_pem(PEM).unwrap());
        for token_type in [TokenType::DPoP, TokenType::Bearer] {
            let token = Token::new(AccessToken::new("t"), token_type);
            assert!(token.usable_by(None, Some(&key)));
            let mine = token.clone().with_dpop_jkt(Some(key.thumbprint()));
            assert!(mine.usable_by(None, Some(&key)));
            let other =
                token.with_dpop_jkt(Some("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I".into()));
            assert!(!other.usable_by(None, Some(&key)));
        }
    }

    /// SECURITY.md §3.8 G: the RFC 9449 §4.1 example proof verifies with the JWK in
    /// its own header (a verify vector: ES256 is randomised), that JWK's thumbprint is the
    /// spec's `cnf.jkt`, and its header and claims have the shape this crate's proofs have.
    #[test]
    fn rfc9449_example_proof_verifies_with_its_embedded_jwk() {
        const PROOF: &str = "eyJ0eXAiOiJkcG9wK2p3dCIsImFsZyI6IkVTMjU2IiwiandrIjp7Imt0eSI6IkVDIiwieCI6Imw4dEZyaHgtMzR0VjNoUklDUkRZOXpDa0RscEJoRjQyVVFVZldWQVdCRnMiLCJ5IjoiOVZFNGpmX09rX282NHpiVFRsY3VOSmFqSG10NnY5VERWclUwQ2R2R1JEQSIsImNydiI6IlAtMjU2In19.eyJqdGkiOiItQndDM0VTYzZhY2MybFRjIiwiaHRtIjoiUE9TVCIsImh0dSI6Imh0dHBzOi8vc2VydmVyLmV4YW1wbGUuY29tL3Rva2VuIiwiaWF0IjoxNTYyMjYyNjE2fQ.2-GxA6T8lP4vfrg8v-FdWP0A0zdrj8igiMLvqRMUvwnQg4PtFLbdLXiOSsX0x7NVY-FNyJK70nfbV37xRZT3Lg";
        let header = part(PROOF, 0);
        let claims = part(PROOF, 1);
        assert_eq!(header["typ"], "dpop+jwt");
        assert_eq!(header["alg"], "ES256");
        assert_eq!(header["jwk"]["kty"], "EC");
        assert_eq!(header["jwk"]["crv"], "P-256");
        assert!(header["jwk"].get("d").is_none());
        assert_eq!(claims["jti"], "-BwC3ESc6acc2lTc");
        assert_eq!(claims["htm"], "POST");
        assert_eq!(claims["htu"], "https://server.example.com/token");
        assert_eq!(claims["iat"], 1_562_262_616u64);
        let x = URL_SAFE_NO_PAD
            .decode(header["jwk"]["x"].as_str().unwrap())
            .unwrap();
        let y = URL_SAFE_NO_PAD
            .decode(header["jwk"]["y"].as_str().unwrap())
            .unwrap();
        assert_eq!(
            jwk_thumbprint_p256(&x, &y),
            "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
        );
        let mut point = vec![4u8];
        point.extend_from_slice(&x);
        point.extend_from_slice(&y);
        let (input, signature) = PROOF.rsplit_once('.').unwrap();
        let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
        let verifier = ring::signature::UnparsedPublicKey::new(
            &ring::signature::ECDSA_P256_SHA256_FIXED,
            &point,
        );
        verifier.verify(input.as_bytes(), &signature).unwrap();
        // And a flipped byte does not verify (the check is real).
        let mut tampered = input.as_bytes().to_vec();
        tampered[10] ^= 1;
        assert!(verifier.verify(&tampered, &signature).is_err());
    }

    /// RFC 8037 Appendix A.3: the thumbprint of A.2's public key, as a DPoP key made from
    /// A.1's private key has it; its proofs are EdDSA JWTs carrying that JWK (and no private
    /// part) that verify with it, deterministic for the same claims, and refused once changed.
    #[test]
    fn ed25519_proofs_and_the_rfc8037_thumbprint() {
        use ring::signature::{ED25519, UnparsedPublicKey};

        const X: &str = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo";
        const JKT: &str = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k";
        assert_eq!(
            jwk_thumbprint_ed25519(&URL_SAFE_NO_PAD.decode(X).unwrap()),
            JKT
        );
        let key = DpopKey::ed25519(super::super::jws::tests::rfc8037_key())
            .clock(ManualClock::at_unix_seconds(1_700_000_000))
            .random(CountingRandom::new(1));
        assert_eq!(key.thumbprint(), JKT);
        assert_eq!(key.algorithm(), "EdDSA");
        assert_eq!(
            key.jwk(),
            serde_json::json!({"kty": "OKP", "crv": "Ed25519", "x": X})
        );
        let uri: Uri = "https://resource.example.org/protected".parse().unwrap();
        let proof = key
            .proof(&Method::GET, &uri, Some("token-1"), Some("n-1"))
            .unwrap();
        assert!(proof.is_sensitive());
        let proof = proof.to_str().unwrap();
        let header = part(proof, 0);
        assert_eq!(header["typ"], "dpop+jwt");
        assert_eq!(header["alg"], "EdDSA");
        assert_eq!(header["jwk"], key.jwk());
        assert!(header["jwk"].get("d").is_none(), "no private part");
        let claims = part(proof, 1);
        assert_eq!(claims["htm"], "GET");
        assert_eq!(claims["ath"], access_token_hash("token-1"));
        assert_eq!(claims["nonce"], "n-1");
        let (input, signature) = proof.rsplit_once('.').unwrap();
        let signature = URL_SAFE_NO_PAD.decode(signature).unwrap();
        assert_eq!(signature.len(), 64);
        let public = URL_SAFE_NO_PAD.decode(X).unwrap();
        let verifier = UnparsedPublicKey::new(&ED25519, &public);
        verifier.verify(input.as_bytes(), &signature).unwrap();
        let mut tampered = input.as_bytes().to_vec();
        tampered[10] ^= 1;
        assert!(verifier.verify(&tampered, &signature).is_err());
        // The same claims (the same clock and jti source), the same proof.
        let twin = DpopKey::ed25519(super::super::jws::tests::rfc8037_key())
            .clock(ManualClock::at_unix_seconds(1_700_000_000))
            .random(CountingRandom::new(1));
        let again = twin
            .proof(&Method::GET, &uri, Some("token-1"), Some("n-1"))
            .unwrap();
        assert_eq!(again.to_str().unwrap(), proof);
        // Bound tokens: this key's thumbprint, not the ES256 key's.
        let es256 = DpopKey::es256(EcP256PrivateKey::from_pem(PEM).unwrap());
        assert_ne!(es256.thumbprint(), key.thumbprint());
        let debug = format!("{key:?}");
        assert!(debug.contains("Ed25519PrivateKey([redacted])"), "{debug}");
    }
}
