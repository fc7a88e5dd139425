//! SECURITY.md §1 rows that no other test pinned: single-use flow state (no `Clone` on the
//! pending flow, verifier or code exchange; BCP-02/05), `scope` sent once (R6749-04), a DPoP
//! key binding that survives persistence (DPOP-07), and the OAuth 1 nonce's 128 bits
//! (R6749-16, O1-02).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::marker::PhantomData;

use oauth_core::encode::form_decode;
use oauth_core::oauth2::{
    Client, CodeExchange, DpopKey, EcP256PrivateKey, Endpoint, PendingAuthorization, Scope, Token,
    TokenRequest, TokenType,
};
use oauth_core::secret::{AccessToken, ClientSecret, PkceCodeVerifier, RefreshToken};

// ---- "is this type Clone?" without a compile-fail harness ----
//
// An inherent method whose bound is not met is skipped by method resolution, which then falls
// back to the trait method: `Probe::<T>::is_clone()` is `true` exactly when `T: Clone`.
struct Probe<T>(PhantomData<T>);
trait NotClone {
    fn is_clone(&self) -> bool {
        false
    }
}
impl<T> NotClone for Probe<T> {}
impl<T: Clone> Probe<T> {
    fn is_clone(&self) -> bool {
        true
    }
}

/// BCP-02 (state is single use) and BCP-05 (a verifier cannot be re-attached to another flow):
/// the library enforces both by ownership. `parse_callback(self, ..)` consumes the pending
/// flow, and neither it, nor the verifier, nor the code exchange can be duplicated in memory.
/// A `Clone` on any of them would let one state/verifier pair be used twice.
#[test]
fn bcp_02_05_pending_flow_state_and_verifier_cannot_be_duplicated() {
    assert!(
        Probe::<String>(PhantomData).is_clone(),
        "probe sanity check"
    );
    assert!(!Probe::<PendingAuthorization>(PhantomData).is_clone());
    assert!(!Probe::<PkceCodeVerifier>(PhantomData).is_clone());
    assert!(!Probe::<CodeExchange>(PhantomData).is_clone());
}

/// R6749-04 (RFC 6749 §3.2: "Request and response parameters MUST NOT be included more than
/// once"). `TokenRequest::scope` called twice used to send `scope` twice (on a refresh, a
/// narrow and a wide one); the second call now replaces the first.
#[test]
fn r6749_04_token_request_sends_scope_once_the_last_given() {
    let endpoint = Endpoint::new("https://as.example.com/token").unwrap();
    let client = Client::secret_basic("s6BhdRkqt3", ClientSecret::new("gX1fBat3bV"));
    let built = TokenRequest::refresh_token(&endpoint, &client, &RefreshToken::new("rt"))
        .scope(&Scope::parse("read"))
        .scope(&Scope::parse("read write admin"))
        .build();
    let request = built.unwrap();
    let body = std::str::from_utf8(request.body().as_bytes()).unwrap();
    let scopes: Vec<String> = form_decode(body)
        .unwrap()
        .into_iter()
        .filter(|(name, _)| name == "scope")
        .map(|(_, value)| value)
        .collect();
    assert_eq!(scopes, ["read write admin"], "{body}");
}

/// DPOP-07: the key a refresh token is bound to must be the one used for every refresh, also
/// after the token was persisted and loaded again (a new process). The library stores the
/// key's thumbprint with the token (`dpop_jkt`); losing it on the way through the persisted
/// form would let the reloaded refresh token go out with any key.
#[test]
fn dpop_07_the_key_binding_survives_persistence() {
    const PEM: &str = include_str!("vectors/oauth1/test_ec_p256_pkcs8.pem");
    let key = DpopKey::es256(EcP256PrivateKey::from_pem(PEM).unwrap());
    let token = Token::new(AccessToken::new("at"), TokenType::DPoP)
        .with_refresh_token(Some(RefreshToken::new("rt")))
        .with_dpop_jkt(Some(key.thumbprint()));
    let json = serde_json::to_string(&token).unwrap();
    let back: Token = serde_json::from_str(&json).unwrap();
    assert_eq!(back.dpop_jkt(), Some(key.thumbprint().as_str()));
    assert!(key.check_binding(&back).is_ok());
    // Another key is refused for the reloaded token.
    let other = back.with_dpop_jkt(Some("0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I".into()));
    let reloaded: Token = serde_json::from_str(&serde_json::to_string(&other).unwrap()).unwrap();
    assert!(key.check_binding(&reloaded).is_err());
}

/// R6749-16 / O1-02: the OAuth 1 nonce carries at least 128 bits (RFC 6749 §10.10's bound,
/// which SECURITY.md applies to OAuth 1 nonces too). The existing `nonces_do_not_collide`
/// compares the length with the crate's own `NONCE_LEN`, so it would follow a shorter nonce
/// down; this pins the bound itself.
#[test]
fn r6749_16_o1_02_oauth1_nonce_carries_at_least_128_bits() {
    use oauth_core::oauth1::{ClientCredentials, Signer};
    use oauth_core::secret::ConsumerSecret;
    let signer = Signer::builder(ClientCredentials::new("key", ConsumerSecret::new("cs")))
        .build()
        .unwrap();
    for _ in 0..1000 {
        let nonce = signer.next_nonce().unwrap();
        assert!(nonce.bytes().all(|b| b.is_ascii_alphanumeric()), "{nonce}");
        let bits = nonce.len() as f64 * 62f64.log2();
        assert!(bits >= 128.0, "{} characters = {bits:.1} bits", nonce.len());
    }
}
