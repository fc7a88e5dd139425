//! Authorization URLs, state, PKCE and callback parsing: SECURITY.md §4.7 (#57–69), BCP-01..05,
//! RFC 9207, RFC 7636 Appendix B.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashSet;

use oauth_core::clock::{CountingRandom, SystemRandom};
use oauth_core::encode::form_decode;
use oauth_core::oauth2::pkce::{code_challenge, verifier_from_string};
use oauth_core::oauth2::{
    AuthorizationRequest, AuthorizeError, CallbackError, Endpoint, ErrorCode, Issuer,
    PendingAuthorization, PkceMethod, RedirectUri, Scope,
};

const CB: &str = "https://client.example.com/cb";

fn endpoint() -> Endpoint {
    Endpoint::new("https://as.example.com/authorize").unwrap()
}

fn redirect() -> RedirectUri {
    RedirectUri::new(CB).unwrap()
}

fn request() -> AuthorizationRequest {
    AuthorizationRequest::new(&endpoint(), "s6BhdRkqt3", &redirect())
}

fn pending_with_state(state: &str) -> PendingAuthorization {
    request()
        .dangerous_custom_state(state)
        .build(&CountingRandom::new(1))
        .unwrap()
        .1
}

fn pending_with_issuer(supported: bool) -> PendingAuthorization {
    request()
        .dangerous_custom_state("GOOD")
        .expect_issuer(Issuer::new("https://as.example.com").unwrap(), supported)
        .build(&CountingRandom::new(1))
        .unwrap()
        .1
}

fn query_params(url: &http::Uri) -> Vec<(String, String)> {
    form_decode(url.query().unwrap_or("")).unwrap()
}

fn param<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
    params
        .iter()
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.as_str())
}

// ---- authorization URL ----

#[test]
fn rfc6749_s4_1_1_authorization_request() {
    let (url, _) = request()
        .dangerous_custom_state("xyz")
        .dangerous_disable_pkce()
        .build(&CountingRandom::new(1))
        .unwrap();
    assert_eq!(
        url.to_string(),
        "https://as.example.com/authorize?response_type=code&client_id=s6BhdRkqt3\
         &redirect_uri=https%3A%2F%2Fclient.example.com%2Fcb&state=xyz"
    );
}

#[test]
fn default_url_has_state_and_s256_pkce() {
    let (url, pending) = request()
        .scope(Scope::parse("openid profile"))
        .resource("https://api.example.com/")
        .param("prompt", "consent")
        .build(&SystemRandom::new())
        .unwrap();
    let params = query_params(&url);
    assert_eq!(param(&params, "response_type"), Some("code"));
    assert_eq!(param(&params, "client_id"), Some("s6BhdRkqt3"));
    assert_eq!(param(&params, "redirect_uri"), Some(CB));
    assert_eq!(param(&params, "scope"), Some("openid profile"));
    assert_eq!(param(&params, "resource"), Some("https://api.example.com/"));
    assert_eq!(param(&params, "prompt"), Some("consent"));
    assert_eq!(param(&params, "code_challenge_method"), Some("S256"));
    let state = param(&params, "state").unwrap();
    assert_eq!(state, pending.state());
    assert!(state.len() >= 22, "at least 128 bits of base64url");
    assert_eq!(param(&params, "code_challenge").unwrap().len(), 43);
    assert_eq!(pending.pkce_method(), Some(PkceMethod::S256));
    // The challenge matches the verifier handed to the token request.
    let cb = format!("{CB}?code=c&state={state}");
    let exchange = pending.parse_callback(&cb).unwrap();
    let verifier = exchange.pkce_verifier().unwrap();
    assert_eq!(verifier.secret().len(), 43);
    assert_eq!(
        code_challenge(verifier, PkceMethod::S256),
        param(&params, "code_challenge").unwrap()
    );
}

#[test]
fn existing_endpoint_query_is_kept() {
    let e = Endpoint::new("https://as.example.com/authorize?tenant=contoso").unwrap();
    let (url, _) = AuthorizationRequest::new(&e, "c", &redirect())
        .build(&CountingRandom::new(1))
        .unwrap();
    assert!(
        url.to_string()
            .starts_with("https://as.example.com/authorize?tenant=contoso&response_type=code")
    );
}

#[test]
fn pkce_plain_only_when_asked_and_disable_is_explicit() {
    let (url, pending) = request()
        .pkce_plain()
        .build(&CountingRandom::new(1))
        .unwrap();
    let params = query_params(&url);
    assert_eq!(param(&params, "code_challenge_method"), Some("plain"));
    assert_eq!(pending.pkce_method(), Some(PkceMethod::Plain));

    let (url, pending) = request()
        .dangerous_disable_pkce()
        .build(&CountingRandom::new(1))
        .unwrap();
    let params = query_params(&url);
    assert_eq!(param(&params, "code_challenge"), None);
    assert_eq!(pending.pkce_method(), None);
    let exchange = pending
        .parse_callback(&format!(
            "{CB}?code=c&state={}",
            param(&params, "state").unwrap()
        ))
        .unwrap();
    assert!(exchange.pkce_verifier().is_none());
}

#[test]
fn rfc7636_appendix_b_vector() {
    let v = verifier_from_string("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk").unwrap();
    assert_eq!(
        code_challenge(&v, PkceMethod::S256),
        "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"
    );
}

#[test]
fn n_requests_give_n_distinct_states_and_verifiers() {
    let random = SystemRandom::new();
    let mut states = HashSet::new();
    let mut challenges = HashSet::new();
    for _ in 0..200 {
        let (url, pending) = request().build(&random).unwrap();
        let params = query_params(&url);
        assert!(states.insert(pending.state().to_owned()));
        assert!(challenges.insert(param(&params, "code_challenge").unwrap().to_owned()));
    }
    // The deterministic test source also never repeats.
    let counting = CountingRandom::new(0);
    let mut states = HashSet::new();
    for _ in 0..200 {
        let (_, pending) = request().build(&counting).unwrap();
        assert!(states.insert(pending.state().to_owned()));
    }
}

#[test]
fn oidc_nonce_is_sent_and_returned() {
    let (url, pending) = request()
        .oidc_nonce()
        .build(&CountingRandom::new(3))
        .unwrap();
    let params = query_params(&url);
    let nonce = param(&params, "nonce").unwrap().to_owned();
    let exchange = pending
        .parse_callback(&format!(
            "{CB}?code=c&state={}",
            param(&params, "state").unwrap()
        ))
        .unwrap();
    assert_eq!(exchange.nonce(), Some(nonce.as_str()));
}

#[test]
fn callback_returns_code_verifier_and_exact_redirect_uri() {
    let redirect = RedirectUri::new("https://client.example.com/cb?x=%2Fy").unwrap();
    let (url, pending) = AuthorizationRequest::new(&endpoint(), "c", &redirect)
        .build(&CountingRandom::new(1))
        .unwrap();
    let state = param(&query_params(&url), "state").unwrap().to_owned();
    let exchange = pending
        .parse_callback(&format!(
            "https://client.example.com/cb?x=%2Fy&code=SplxlOBeZQQYbYS6WxSbIA&state={state}"
        ))
        .unwrap();
    assert_eq!(exchange.code().secret(), "SplxlOBeZQQYbYS6WxSbIA");
    assert_eq!(
        exchange.redirect_uri().as_str(),
        "https://client.example.com/cb?x=%2Fy"
    );
}

#[test]
fn callback_accepts_path_and_query_only() {
    let p = pending_with_state("s");
    assert!(p.parse_callback("/cb?state=s&code=c").is_ok());
}

/// RFC 9700 §4.4.2: a client that gives each authorization server its own redirect URI tells
/// their responses apart only if it checks where the response arrived. A code that reaches
/// another path, host, port or scheme than the flow's redirect URI is refused, before its state
/// or code is looked at.
#[test]
fn a_callback_at_another_redirect_uri_is_refused() {
    for callback in [
        "https://client.example.com/cb-b?code=x&state=S",
        "https://evil.example/cb?code=x&state=S",
        "http://client.example.com/cb?code=x&state=S",
        "https://client.example.com:8443/cb?code=x&state=S",
        "/cb-b?code=x&state=S",
        "?code=x&state=S",
        "code=x&state=S",
    ] {
        assert_eq!(
            pending_with_state("S")
                .parse_callback(callback)
                .unwrap_err(),
            CallbackError::RedirectUriMismatch,
            "{callback}"
        );
    }
    let message = CallbackError::RedirectUriMismatch.to_string();
    assert!(message.contains("redirect URI"), "{message}");
    // The same address written differently is the same redirect URI.
    for callback in [
        "HTTPS://Client.Example.com:443/cb?code=x&state=S",
        "/cb?code=x&state=S#ignored",
    ] {
        assert!(
            pending_with_state("S").parse_callback(callback).is_ok(),
            "{callback}"
        );
    }
}

/// Two authorization servers distinguished by a parameter of the redirect URI's own query
/// (which RFC 6749 §3.1.2 keeps in the redirection): a response without it, or with the other
/// server's value, is refused.
#[test]
fn the_redirect_uris_own_query_must_come_back() {
    let with_query = |redirect: &str| {
        AuthorizationRequest::new(&endpoint(), "c", &RedirectUri::new(redirect).unwrap())
            .dangerous_custom_state("S")
            .build(&CountingRandom::new(1))
            .unwrap()
            .1
    };
    let redirect = "https://client.example.com/cb?idp=a";
    let exchange = with_query(redirect)
        .parse_callback("https://client.example.com/cb?idp=a&code=x&state=S")
        .unwrap();
    assert_eq!(exchange.redirect_uri().as_str(), redirect);
    for callback in ["/cb?idp=b&code=x&state=S", "/cb?code=x&state=S"] {
        assert_eq!(
            with_query(redirect).parse_callback(callback).unwrap_err(),
            CallbackError::RedirectUriMismatch,
            "{callback}"
        );
    }
}

/// RFC 8252 §7.1: a native app's private-use scheme redirect.
#[test]
fn a_private_use_scheme_callback_is_matched_by_scheme_and_path() {
    let app = |redirect: &str| {
        AuthorizationRequest::new(
            &endpoint(),
            "c",
            &RedirectUri::private_use_scheme(redirect).unwrap(),
        )
        .dangerous_custom_state("S")
        .build(&CountingRandom::new(1))
        .unwrap()
        .1
    };
    let redirect = "com.example.app:/oauth2redirect";
    assert!(
        app(redirect)
            .parse_callback("com.example.app:/oauth2redirect?code=x&state=S")
            .is_ok()
    );
    assert_eq!(
        app(redirect)
            .parse_callback("com.attacker.app:/oauth2redirect?code=x&state=S")
            .unwrap_err(),
        CallbackError::RedirectUriMismatch
    );
}

// ---- §4.7 callback parsing ----

#[test]
fn s4_7_case57_missing_state() {
    let p = pending_with_state("GOOD");
    assert_eq!(
        p.parse_callback(&format!("{CB}?code=x")).unwrap_err(),
        CallbackError::StateMissing
    );
    let p = pending_with_state("GOOD");
    assert_eq!(
        p.parse_callback(&format!("{CB}?code=x&state="))
            .unwrap_err(),
        CallbackError::StateMissing
    );
}

#[test]
fn s4_7_case58_state_mismatch() {
    let p = pending_with_state("GOOD");
    assert_eq!(
        p.parse_callback(&format!("{CB}?code=x&state=WRONG"))
            .unwrap_err(),
        CallbackError::StateMismatch
    );
    // No normalisation: case and prefixes matter.
    for wrong in ["good", "GOOD ", "GOO", "GOODD"] {
        let p = pending_with_state("GOOD");
        assert_eq!(
            p.parse_callback(&format!("{CB}?code=x&state={wrong}"))
                .unwrap_err(),
            CallbackError::StateMismatch,
            "{wrong}"
        );
    }
}

#[test]
fn s4_7_case59_empty_expected_state_is_an_error() {
    let err = request()
        .dangerous_custom_state("")
        .build(&CountingRandom::new(1))
        .unwrap_err();
    assert_eq!(err, AuthorizeError::EmptyState);
    // A stored pending flow with an empty state cannot be loaded either.
    let json = serde_json::to_string(&pending_with_state("GOOD")).unwrap();
    let tampered = json.replace("\"GOOD\"", "\"\"");
    assert!(serde_json::from_str::<PendingAuthorization>(&tampered).is_err());
}

#[test]
fn s4_7_case60_duplicate_parameters() {
    for cb in [
        format!("{CB}?state=a&state=a&code=x"),
        format!("{CB}?state=a&code=a&code=b"),
        format!("{CB}?state=a&code=a&foo=1&foo=2"),
    ] {
        let p = pending_with_state("a");
        assert!(
            matches!(
                p.parse_callback(&cb),
                Err(CallbackError::DuplicateParameter { .. })
            ),
            "{cb}"
        );
    }
}

#[test]
fn s4_7_case61_error_only_after_state_check() {
    let p = pending_with_state("GOOD");
    let err = p
        .parse_callback(&format!(
            "{CB}?error=access_denied&error_description=The+user+said+no&state=GOOD"
        ))
        .unwrap_err();
    match err {
        CallbackError::AuthorizationDenied(e) => {
            assert_eq!(e.code, ErrorCode::AccessDenied);
            assert_eq!(e.description.as_deref(), Some("The user said no"));
        }
        other => panic!("{other:?}"),
    }
    let p = pending_with_state("GOOD");
    assert_eq!(
        p.parse_callback(&format!("{CB}?error=access_denied&state=BAD"))
            .unwrap_err(),
        CallbackError::StateMismatch
    );
}

#[test]
fn s4_7_case62_issuer_mismatch() {
    let p = pending_with_issuer(false);
    assert_eq!(
        p.parse_callback(&format!(
            "{CB}?code=x&state=GOOD&iss=https%3A%2F%2Fevil.example"
        ))
        .unwrap_err(),
        CallbackError::IssuerMismatch
    );
    // iss is checked before state and error (RFC 9207, oauth4webapi order).
    let p = pending_with_issuer(false);
    assert_eq!(
        p.parse_callback(&format!(
            "{CB}?error=access_denied&state=BAD&iss=https%3A%2F%2Fevil.example"
        ))
        .unwrap_err(),
        CallbackError::IssuerMismatch
    );
    let p = pending_with_issuer(true);
    let ok = p.parse_callback(&format!(
        "{CB}?code=x&state=GOOD&iss=https%3A%2F%2Fas.example.com"
    ));
    assert!(ok.is_ok());
}

#[test]
fn s4_7_case63_issuer_missing_when_advertised() {
    let p = pending_with_issuer(true);
    assert_eq!(
        p.parse_callback(&format!("{CB}?code=x&state=GOOD"))
            .unwrap_err(),
        CallbackError::IssuerMissing
    );
    // Not advertised: a missing iss is accepted.
    let p = pending_with_issuer(false);
    assert!(p.parse_callback(&format!("{CB}?code=x&state=GOOD")).is_ok());
}

#[test]
fn s4_7_case64_issuer_trailing_slash_is_a_mismatch() {
    let p = pending_with_issuer(true);
    assert_eq!(
        p.parse_callback(&format!(
            "{CB}?code=x&state=GOOD&iss=https%3A%2F%2Fas.example.com%2F"
        ))
        .unwrap_err(),
        CallbackError::IssuerMismatch
    );
    let p = pending_with_issuer(true);
    assert_eq!(
        p.parse_callback(&format!(
            "{CB}?code=x&state=GOOD&iss=https%3A%2F%2FAS.example.com"
        ))
        .unwrap_err(),
        CallbackError::IssuerMismatch
    );
}

/// ISS-01, ISS-02 (RFC 9207 §2.4): the issuer a flow is bound to, and whether its server sends
/// `iss`, belong to the flow's stored form too: a flow stored between the redirect and the
/// callback (serialised into session storage, as `PendingAuthorization`'s docs say) and read
/// back still refuses another issuer's `iss` and a missing one, and accepts its own.
#[test]
fn iss_01_02_the_issuer_binding_survives_a_stored_flow() {
    let stored = || {
        let json = serde_json::to_string(&pending_with_issuer(true)).unwrap();
        serde_json::from_str::<PendingAuthorization>(&json).unwrap()
    };
    assert_eq!(
        stored().issuer().map(Issuer::as_str),
        Some("https://as.example.com")
    );
    assert_eq!(
        stored()
            .parse_callback(&format!(
                "{CB}?code=x&state=GOOD&iss=https%3A%2F%2Fevil.example"
            ))
            .unwrap_err(),
        CallbackError::IssuerMismatch
    );
    assert_eq!(
        stored()
            .parse_callback(&format!("{CB}?code=x&state=GOOD"))
            .unwrap_err(),
        CallbackError::IssuerMissing
    );
    stored()
        .parse_callback(&format!(
            "{CB}?code=x&state=GOOD&iss=https%3A%2F%2Fas.example.com"
        ))
        .unwrap();
}

#[test]
fn s4_7_case65_tokens_in_code_flow_callback() {
    for extra in ["access_token=y", "id_token=eyJ.a.b"] {
        let p = pending_with_state("s");
        assert_eq!(
            p.parse_callback(&format!("{CB}?code=x&state=s&{extra}"))
                .unwrap_err(),
            CallbackError::UnexpectedResponseType,
            "{extra}"
        );
    }
}

#[test]
fn s4_7_case66_percent_encoding_edge_cases() {
    for bad in ["%zz", "abc%", "%FF", "%C3"] {
        let p = pending_with_state("s");
        assert!(
            matches!(
                p.parse_callback(&format!("{CB}?code=x&state={bad}")),
                Err(CallbackError::MalformedCallback(_))
            ),
            "{bad}"
        );
    }
    // `%00` decodes (and then mismatches).
    let p = pending_with_state("s");
    assert_eq!(
        p.parse_callback(&format!("{CB}?code=x&state=%00"))
            .unwrap_err(),
        CallbackError::StateMismatch
    );
    // `+` is a space; %2B and %2b are `+`; %20 is a space. The decoded value is compared.
    for (sent, expected) in [
        ("a+b", "a b"),
        ("a%20b", "a b"),
        ("a%2Bb", "a+b"),
        ("a%2bb", "a+b"),
    ] {
        let p = pending_with_state(expected);
        assert!(
            p.parse_callback(&format!("{CB}?code=x&state={sent}"))
                .is_ok(),
            "{sent}"
        );
    }
    let p = pending_with_state("a+b");
    assert_eq!(
        p.parse_callback(&format!("{CB}?code=x&state=a+b"))
            .unwrap_err(),
        CallbackError::StateMismatch
    );
}

#[test]
fn s4_7_case67_fragment_parameters_ignored() {
    let p = pending_with_state("s");
    assert_eq!(
        p.parse_callback(&format!("{CB}?state=s#code=x"))
            .unwrap_err(),
        CallbackError::MissingCode
    );
    let p = pending_with_state("s");
    assert_eq!(
        p.parse_callback(&format!("{CB}#code=x&state=s"))
            .unwrap_err(),
        CallbackError::StateMissing
    );
}

#[cfg(feature = "legacy")]
#[test]
#[allow(deprecated)]
fn s4_7_case67_implicit_fragment_is_read_only_by_token_from_fragment() {
    let (_, pending) = request()
        .implicit()
        .dangerous_custom_state("s")
        .build(&CountingRandom::new(1))
        .unwrap();
    let now = std::time::UNIX_EPOCH;
    let token = pending
        .token_from_fragment(
            &format!("{CB}#access_token=2YotnFZFEjr1zCsicMWpAA&state=s&token_type=example&expires_in=3600&refresh_token=nope"),
            now,
        )
        .unwrap();
    assert_eq!(token.access_token().secret(), "2YotnFZFEjr1zCsicMWpAA");
    assert!(token.refresh_token().is_none());
    assert!(token.extra().is_empty());

    let (_, pending) = request()
        .implicit()
        .dangerous_custom_state("s")
        .build(&CountingRandom::new(1))
        .unwrap();
    assert_eq!(
        pending
            .token_from_fragment(
                &format!("{CB}#access_token=a&token_type=Bearer&state=BAD"),
                now
            )
            .unwrap_err(),
        CallbackError::StateMismatch
    );
    // A code-flow pending flow refuses fragments, and vice versa.
    let (_, pending) = request()
        .implicit()
        .dangerous_custom_state("s")
        .build(&CountingRandom::new(1))
        .unwrap();
    assert_eq!(
        pending
            .parse_callback(&format!("{CB}?code=x&state=s"))
            .unwrap_err(),
        CallbackError::WrongFlow
    );
}

#[test]
fn s4_7_case68_huge_callback_bounded() {
    let p = pending_with_state("s");
    let huge = format!("{CB}?code=x&state=s&pad={}", "a".repeat(1 << 20));
    assert!(matches!(
        p.parse_callback(&huge),
        Err(CallbackError::MalformedCallback(_))
    ));
    let p = pending_with_state("s");
    let many: String = (0..10_000).map(|i| format!("&p{i}=1")).collect();
    let cb = format!("{CB}?code=x&state=s{many}");
    assert!(matches!(
        p.parse_callback(&cb),
        Err(CallbackError::MalformedCallback(_))
    ));
}

/// The length bound is the documented one, inclusive: a callback URL of exactly
/// `MAX_CALLBACK_LEN` bytes is read, one byte more is refused.
#[test]
fn a_callback_of_exactly_the_longest_length_is_read() {
    use oauth_core::oauth2::authorize::MAX_CALLBACK_LEN;
    let prefix = format!("{CB}?code=x&state=s&pad=");
    let longest = format!("{prefix}{}", "a".repeat(MAX_CALLBACK_LEN - prefix.len()));
    assert_eq!(longest.len(), MAX_CALLBACK_LEN);
    let exchange = pending_with_state("s").parse_callback(&longest).unwrap();
    assert_eq!(exchange.code().secret(), "x");
    let too_long = format!("{longest}a");
    assert!(matches!(
        pending_with_state("s").parse_callback(&too_long),
        Err(CallbackError::MalformedCallback(_))
    ));
}

#[test]
fn s4_7_case69_unicode_and_long_state_round_trip() {
    for state in ["état", "🦀🔐", &"é🦀x".repeat(150)] {
        assert!(state.len() >= 4);
        let (url, pending) = request()
            .dangerous_custom_state(state)
            .build(&CountingRandom::new(1))
            .unwrap();
        let params = query_params(&url);
        assert_eq!(param(&params, "state"), Some(state));
        // The AS echoes the value form-encoded as it received it.
        let echoed: String = form_urlencoded::byte_serialize(state.as_bytes()).collect();
        assert_eq!(pending.state(), state);
        assert!(
            pending
                .parse_callback(&format!("{CB}?code=x&state={echoed}"))
                .is_ok(),
            "{state}"
        );
    }
}

#[test]
fn callback_errors_hold_no_code_or_state() {
    let p = pending_with_state("SENTINEL-state");
    let err = p
        .parse_callback(&format!("{CB}?code=SENTINEL-code&state=SENTINEL-wrong"))
        .unwrap_err();
    let shown = format!("{err} {err:?}");
    assert!(!shown.contains("SENTINEL"), "{shown}");
}

#[test]
fn missing_code() {
    let p = pending_with_state("s");
    assert_eq!(
        p.parse_callback(&format!("{CB}?state=s&code="))
            .unwrap_err(),
        CallbackError::MissingCode
    );
}

/// RFC 9449 §10: `dpop_jkt` binds the code to a DPoP key; the pending authorization keeps the
/// thumbprint (also when stored and loaded again) and hands it to the code exchange.
#[test]
fn dpop_key_binds_the_code_rfc9449_s10() {
    use oauth_core::oauth2::{DpopKey, EcP256PrivateKey};
    let pem = include_str!("vectors/oauth1/test_ec_p256_pkcs8.pem");
    let key = DpopKey::es256(EcP256PrivateKey::from_pem(pem).unwrap());
    let (url, pending) = request()
        .dpop_key(&key)
        .dangerous_custom_state("S")
        .build(&CountingRandom::new(1))
        .unwrap();
    let params = query_params(&url);
    assert_eq!(param(&params, "dpop_jkt"), Some(key.thumbprint().as_str()));
    let json = serde_json::to_string(&pending).unwrap();
    let pending: PendingAuthorization = serde_json::from_str(&json).unwrap();
    let pending_debug = format!("{pending:?}");
    let exchange = pending
        .parse_callback(&format!("{CB}?code=c&state=S"))
        .unwrap();
    assert_eq!(exchange.dpop_jkt(), Some(key.thumbprint().as_str()));
    // A public key's thumbprint, which `Debug` shows as the pending authorization's does.
    for debug in [pending_debug, format!("{exchange:?}")] {
        let shown = format!("dpop_jkt: Some({:?})", key.thumbprint());
        assert!(debug.contains(&shown), "{debug}");
    }
    // Without a key, nothing is bound; and the parameter cannot be smuggled in by hand.
    let exchange = pending_with_state("S")
        .parse_callback(&format!("{CB}?code=c&state=S"))
        .unwrap();
    assert_eq!(exchange.dpop_jkt(), None);
    for name in ["dpop_jkt", "client_assertion"] {
        assert_eq!(
            request()
                .param(name, "x")
                .build(&CountingRandom::new(1))
                .unwrap_err(),
            AuthorizeError::ReservedParameter(name.into())
        );
    }
    // A JAR request object (RFC 9101) or a request_uri from elsewhere go on a plain request,
    // never in a pushed one (RFC 9126 §2.1).
    for name in ["request_uri", "request"] {
        let (url, _) = request()
            .param(name, "x")
            .build(&CountingRandom::new(1))
            .unwrap();
        assert!(url.query().unwrap().contains(&format!("{name}=x")));
        let client = oauth_core::oauth2::Client::public("s6BhdRkqt3");
        let par = oauth_core::oauth2::Endpoint::new("https://as.example.com/par").unwrap();
        assert_eq!(
            request()
                .param(name, "x")
                .build_pushed(&par, &client, &CountingRandom::new(1))
                .unwrap_err(),
            AuthorizeError::ReservedParameter(name.into())
        );
    }
}

// ---- session 5 review ----

/// `from_metadata` binds the flow to the server's issuer: a callback from another issuer, or
/// without `iss` when the server says it sends one, is refused.
#[test]
fn from_metadata_binds_the_issuer() {
    let issuer = Issuer::new("https://as.example.com").unwrap();
    let body = br#"{"issuer":"https://as.example.com",
        "authorization_endpoint":"https://as.example.com/authorize",
        "authorization_response_iss_parameter_supported":true}"#;
    let metadata = oauth_core::oauth2::parse_metadata(http::StatusCode::OK, body, &issuer).unwrap();
    let start = || {
        AuthorizationRequest::from_metadata(&metadata, "s6BhdRkqt3", &redirect())
            .unwrap()
            .dangerous_custom_state("GOOD")
            .build(&CountingRandom::new(1))
            .unwrap()
    };
    let (url, pending) = start();
    assert!(
        url.to_string()
            .starts_with("https://as.example.com/authorize?")
    );
    assert_eq!(pending.issuer(), Some(&issuer));
    assert_eq!(pending_with_state("GOOD").issuer(), None);
    assert!(matches!(
        pending.parse_callback(&format!(
            "{CB}?code=c&state=GOOD&iss=https%3A%2F%2Fevil.example"
        )),
        Err(CallbackError::IssuerMismatch)
    ));
    assert!(matches!(
        start().1.parse_callback(&format!("{CB}?code=c&state=GOOD")),
        Err(CallbackError::IssuerMissing)
    ));
    start()
        .1
        .parse_callback(&format!(
            "{CB}?code=c&state=GOOD&iss=https%3A%2F%2Fas.example.com"
        ))
        .unwrap();
    let bare = oauth_core::oauth2::parse_metadata(
        http::StatusCode::OK,
        br#"{"issuer":"https://as.example.com","token_endpoint":"https://as.example.com/token"}"#,
        &issuer,
    )
    .unwrap();
    assert!(matches!(
        AuthorizationRequest::from_metadata(&bare, "c", &redirect()),
        Err(AuthorizeError::NoAuthorizationEndpoint)
    ));
}

/// A parameter the request sets must not also be in the endpoint's own query (it would be
/// sent twice; `response_type=token` there would turn the flow implicit for servers that read
/// the first); other endpoint parameters are kept.
#[test]
fn endpoint_query_parameters_the_request_sets_are_refused() {
    let at = |url: &str| {
        AuthorizationRequest::new(&Endpoint::new(url).unwrap(), "c", &redirect())
            .param("prompt", "login")
    };
    for (url, name) in [
        (
            "https://as.example.com/authorize?response_type=token",
            "response_type",
        ),
        ("https://as.example.com/authorize?x=1&state=s", "state"),
        ("https://as.example.com/authorize?prompt=none", "prompt"),
    ] {
        assert!(
            matches!(
                at(url).build(&CountingRandom::new(1)),
                Err(AuthorizeError::EndpointQueryParameter(n)) if n == name
            ),
            "{url}"
        );
    }
    // Names the request does not send here (no nonce asked for) are kept. (A `client_secret`
    // there is refused by `Endpoint::new` itself: a secret never goes in a URI.)
    let (url, _) = at("https://as.example.com/authorize?tenant=t1&nonce=x")
        .build(&CountingRandom::new(1))
        .unwrap();
    assert_eq!(param(&query_params(&url), "tenant"), Some("t1"));
    assert_eq!(param(&query_params(&url), "nonce"), Some("x"));
}

/// `Debug` of the request shows neither a custom state nor extension parameter values.
#[test]
fn the_request_debug_leaves_out_state_and_parameter_values() {
    let request = request()
        .dangerous_custom_state("SENTINEL-state")
        .param("id_token_hint", "SENTINEL-hint");
    let debug = format!("{request:?}");
    assert!(!debug.contains("SENTINEL"), "{debug}");
    assert!(debug.contains("id_token_hint"));
}

/// `Debug` of a code exchange shows what it is for (the client, the redirect URI) and neither
/// the code, the PKCE verifier nor the nonce.
#[test]
fn the_code_exchange_debug_shows_the_client_and_no_secret() {
    let (_, pending) = request()
        .dangerous_custom_state("s")
        .oidc_nonce()
        .build(&CountingRandom::new(1))
        .unwrap();
    let exchange = pending
        .parse_callback(&format!("{CB}?code=SENTINEL-code&state=s"))
        .unwrap();
    let nonce = exchange.nonce().unwrap().to_owned();
    let verifier = exchange.pkce_verifier().unwrap().secret().to_owned();
    let debug = format!("{exchange:?}");
    assert!(debug.starts_with("CodeExchange {"), "{debug}");
    assert!(
        debug.contains(r#"client_id: Some("s6BhdRkqt3")"#),
        "{debug}"
    );
    assert!(debug.contains(CB), "{debug}");
    for secret in ["SENTINEL", &nonce, &verifier] {
        assert!(!debug.contains(secret), "{debug}");
    }
}

/// RFC 6749 §3.1: an empty-valued parameter counts as absent, for the duplicate check too:
/// `state=&state=GOOD` carries one state. Two non-empty ones are still a duplicate (§4.7 #60).
#[test]
fn an_empty_parameter_is_no_duplicate() {
    let endpoint = Endpoint::new("https://as.example.com/authorize").unwrap();
    let redirect = RedirectUri::new("https://client.example.com/cb").unwrap();
    let pending = || {
        AuthorizationRequest::new(&endpoint, "c", &redirect)
            .dangerous_custom_state("GOOD")
            .build(&CountingRandom::new(1))
            .unwrap()
            .1
    };
    assert!(
        pending()
            .parse_callback("https://client.example.com/cb?state=&state=GOOD&code=x")
            .is_ok()
    );
    assert!(matches!(
        pending().parse_callback("https://client.example.com/cb?state=GOOD&state=GOOD&code=x"),
        Err(CallbackError::DuplicateParameter { .. })
    ));
}

// ---- more SECURITY.md §4 cases ----

/// SECURITY.md §4.7 #66 beyond `state`: invalid percent-encoding or invalid UTF-8 in the code,
/// in a parameter name, or in `error_description` is a typed error (or decodes), never a
/// panic; and a bare `state` with no `=` counts as missing (#57).
#[test]
fn s4_7_case66_bad_encoding_in_other_parameters_and_bare_names() {
    for cb in [
        format!("{CB}?code=%FF&state=s"),
        format!("{CB}?code=%zz&state=s"),
        format!("{CB}?%FF=1&code=x&state=s"),
        format!("{CB}?error=access_denied&error_description=%FF%FE&state=s"),
        format!("{CB}?error=%C3&state=s"),
        format!("{CB}?code=x&state=s&iss=%"),
    ] {
        let p = pending_with_state("s");
        let result = std::panic::catch_unwind(|| p.parse_callback(&cb));
        let result = result.unwrap_or_else(|_| panic!("panicked on {cb}"));
        assert!(
            matches!(
                result,
                Err(CallbackError::MalformedCallback(_))
                    | Err(CallbackError::AuthorizationDenied(_))
            ),
            "{cb}: {result:?}"
        );
    }
    let p = pending_with_state("s");
    assert_eq!(
        p.parse_callback(&format!("{CB}?code=x&state")).unwrap_err(),
        CallbackError::StateMissing
    );
}

/// SECURITY.md §4.7 #61 with RFC 9207: when the AS advertises `iss`, an error
/// response is attributed to it only after the `iss` check: a denial with no `iss` is
/// `IssuerMissing`, with a foreign `iss` `IssuerMismatch`, with the right one
/// `AuthorizationDenied`.
#[test]
fn s4_7_case61_error_after_the_iss_check_too() {
    let p = pending_with_issuer(true);
    assert_eq!(
        p.parse_callback(&format!("{CB}?error=access_denied&state=GOOD"))
            .unwrap_err(),
        CallbackError::IssuerMissing
    );
    let p = pending_with_issuer(true);
    assert_eq!(
        p.parse_callback(&format!(
            "{CB}?error=access_denied&state=GOOD&iss=https%3A%2F%2Fevil.example"
        ))
        .unwrap_err(),
        CallbackError::IssuerMismatch
    );
    let p = pending_with_issuer(true);
    assert!(matches!(
        p.parse_callback(&format!(
            "{CB}?error=access_denied&state=GOOD&iss=https%3A%2F%2Fas.example.com"
        ))
        .unwrap_err(),
        CallbackError::AuthorizationDenied(_)
    ));
}

/// RFC 8707 §2: a `resource` MUST be an absolute URI, with no fragment. One that is not was
/// sent as given, for the server to refuse with `invalid_target` after the user signed in.
#[test]
fn a_resource_must_be_an_absolute_uri_without_a_fragment_rfc8707_s2() {
    for bad in [
        "api",
        "/api",
        "https://api.example.com/#part",
        "https://api.example.com/a b",
        "",
    ] {
        assert!(
            request()
                .resource(bad)
                .build(&CountingRandom::new(1))
                .is_err(),
            "{bad:?}"
        );
    }
    for good in [
        "https://api.example.com/",
        "https://api.example.com/v1?tenant=a",
        "urn:example:resource",
    ] {
        let (url, _) = request()
            .resource(good)
            .build(&CountingRandom::new(1))
            .unwrap();
        assert_eq!(param(&query_params(&url), "resource"), Some(good));
    }
}

/// R6749-09 (RFC 6749 §4.1.2.1, §10.14): an authorization error response is a typed error
/// whose `error_description` is untrusted: kept truncated to `MAX_DESCRIPTION_CHARS`, shown
/// escaped on one line in `Display`; its `error_uri` is kept as data (truncated), never shown.
#[test]
fn r6749_09_a_callback_error_description_is_truncated_and_escaped_and_its_uri_never_shown() {
    use oauth_core::oauth2::response::MAX_DESCRIPTION_CHARS;
    let description = format!(
        "line1\nline2 \"<script>alert(1)</script>\" {}",
        "x".repeat(5000)
    );
    let uri = format!("https://evil.example/explain?{}", "u".repeat(5000));
    let encode = |s: &str| form_urlencoded::byte_serialize(s.as_bytes()).collect::<String>();
    let err = pending_with_state("GOOD")
        .parse_callback(&format!(
            "{CB}?error=invalid_scope&error_description={}&error_uri={}&state=GOOD",
            encode(&description),
            encode(&uri)
        ))
        .unwrap_err();
    let CallbackError::AuthorizationDenied(denied) = &err else {
        panic!("{err:?}");
    };
    assert_eq!(denied.code, ErrorCode::InvalidScope);
    let kept = denied.description.as_deref().unwrap();
    assert_eq!(kept.chars().count(), MAX_DESCRIPTION_CHARS);
    assert!(description.starts_with(kept));
    let kept_uri = denied.uri.as_deref().unwrap();
    assert!(kept_uri.starts_with("https://evil.example/explain?"));
    assert!(kept_uri.len() <= 512, "{}", kept_uri.len());
    let shown = err.to_string();
    assert!(!shown.contains('\n'), "{shown}");
    assert!(shown.contains(r#"line1\nline2 \"<script>"#), "{shown}");
    assert!(!shown.contains("evil.example"), "{shown}");
    assert!(shown.len() < 2 * MAX_DESCRIPTION_CHARS, "{}", shown.len());
}

/// BCP-01 (RFC 9700 §2.1, §4.7.1): PKCE never stands in for `state`. With PKCE turned off, or
/// `plain`, the URL still carries a fresh `state` and a callback without it, or with another,
/// is refused just the same.
#[test]
fn bcp_01_the_state_check_holds_whatever_the_pkce_setting() {
    let builds: [fn() -> AuthorizationRequest; 3] = [
        || request(),
        || request().pkce_plain(),
        || request().dangerous_disable_pkce(),
    ];
    for build in builds {
        let start = || {
            let (url, pending) = build().build(&SystemRandom::new()).unwrap();
            let state = param(&query_params(&url), "state").unwrap().to_owned();
            assert_eq!(state, pending.state());
            (pending, state)
        };
        let (pending, state) = start();
        assert!(state.len() >= 22, "{state}");
        assert_eq!(
            pending.parse_callback(&format!("{CB}?code=x")).unwrap_err(),
            CallbackError::StateMissing
        );
        let (pending, state) = start();
        assert_eq!(
            pending
                .parse_callback(&format!("{CB}?code=x&state={state}x"))
                .unwrap_err(),
            CallbackError::StateMismatch
        );
        let (pending, state) = start();
        assert!(
            pending
                .parse_callback(&format!("{CB}?code=x&state={state}"))
                .is_ok()
        );
    }
}
