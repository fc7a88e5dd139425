//! Signed authorization responses (JARM, `response_mode=query.jwt`):
//! `AuthorizationRequest::signed_response` and `PendingAuthorization::parse_signed_callback`.
//! The server's response JWTs are signed here with ring, as a server would sign them.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oauth_core::clock::{CountingRandom, ManualClock};
use oauth_core::encode::form_decode;
use oauth_core::oauth2::oidc::Jwks;
use oauth_core::oauth2::{
    AuthorizationRequest, AuthorizeError, CallbackError, Client, EcP256PrivateKey, Endpoint,
    ErrorCode, Issuer, JWT_RESPONSE_MODE, PendingAuthorization, PrivateKeyJwt, RedirectUri,
    SignedResponseError,
};
use ring::rand::SystemRandom;
use ring::signature::{
    ECDSA_P256_SHA256_FIXED_SIGNING, EcdsaKeyPair, Ed25519KeyPair, KeyPair, RSA_PKCS1_SHA256,
    RsaKeyPair, RsaPublicKeyComponents,
};
use serde_json::{Value, json};

const NOW: u64 = 1_800_000_000;
const ISSUER: &str = "https://as.example.com";
const CLIENT: &str = "s6BhdRkqt3";
const CODE: &str = "SplxlOBeZQQYbYS6WxSbIA";
const RSA_PEM: &str = include_str!("vectors/oauth1/test_rsa_2048_pkcs8.pem");
const ED25519_PEM: &str = include_str!("vectors/oauth1/test_ed25519_pkcs8.pem");

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(NOW)
}

fn b64(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

/// Signs a JWS signing input.
type Sign = Box<dyn Fn(&[u8]) -> Vec<u8>>;

/// A change made to a response's claims before signing.
type Edit = Box<dyn FnOnce(&mut Value)>;

/// The authorization server's signing key: its public JWK and a signing function.
struct ServerKey {
    alg: &'static str,
    jwk: Value,
    sign: Sign,
}

impl ServerKey {
    fn es256(kid: &str) -> Self {
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, &rng).unwrap();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_FIXED_SIGNING, pkcs8.as_ref(), &rng)
            .unwrap();
        let point = pair.public_key().as_ref();
        let jwk = json!({"kty": "EC", "crv": "P-256", "kid": kid, "use": "sig",
            "x": b64(&point[1..33]), "y": b64(&point[33..65])});
        Self {
            alg: "ES256",
            jwk,
            sign: Box::new(move |input| pair.sign(&rng, input).unwrap().as_ref().to_vec()),
        }
    }

    fn rs256(kid: &str) -> Self {
        let (_, der) = pem_rfc7468::decode_vec(RSA_PEM.as_bytes()).unwrap();
        let pair = RsaKeyPair::from_pkcs8(&der).unwrap();
        let public: RsaPublicKeyComponents<Vec<u8>> = pair.public().into();
        let jwk = json!({"kty": "RSA", "kid": kid, "n": b64(&public.n), "e": b64(&public.e)});
        Self {
            alg: "RS256",
            jwk,
            sign: Box::new(move |input| {
                let mut signature = vec![0; pair.public().modulus_len()];
                pair.sign(
                    &RSA_PKCS1_SHA256,
                    &SystemRandom::new(),
                    input,
                    &mut signature,
                )
                .unwrap();
                signature
            }),
        }
    }

    fn eddsa(kid: &str) -> Self {
        let (_, der) = pem_rfc7468::decode_vec(ED25519_PEM.as_bytes()).unwrap();
        let pair = Ed25519KeyPair::from_pkcs8_maybe_unchecked(&der).unwrap();
        let jwk = json!({"kty": "OKP", "crv": "Ed25519", "kid": kid,
            "x": b64(pair.public_key().as_ref())});
        Self {
            alg: "EdDSA",
            jwk,
            sign: Box::new(move |input| pair.sign(input).as_ref().to_vec()),
        }
    }

    fn jwks(&self) -> Jwks {
        Jwks::parse(json!({"keys": [self.jwk]}).to_string().as_bytes()).unwrap()
    }

    fn kid(&self) -> &str {
        self.jwk["kid"].as_str().unwrap()
    }

    /// A compact JWS of `claims` with this key, header `alg` and `kid`.
    fn sign(&self, claims: &Value) -> String {
        self.sign_with_header(&json!({"alg": self.alg, "kid": self.kid()}), claims)
    }

    fn sign_with_header(&self, header: &Value, claims: &Value) -> String {
        let input = format!(
            "{}.{}",
            b64(header.to_string().as_bytes()),
            b64(claims.to_string().as_bytes())
        );
        let signature = (self.sign)(input.as_bytes());
        format!("{input}.{}", b64(&signature))
    }
}

fn redirect() -> RedirectUri {
    RedirectUri::new("https://client.example.com/cb").unwrap()
}

fn request() -> AuthorizationRequest {
    AuthorizationRequest::new(
        &Endpoint::new("https://as.example.com/authorize").unwrap(),
        CLIENT,
        &redirect(),
    )
    .expect_issuer(Issuer::new(ISSUER).unwrap(), true)
    .signed_response()
}

fn pending() -> PendingAuthorization {
    request().build(&CountingRandom::new(5)).unwrap().1
}

/// The claims of a successful response to `pending`.
fn claims(pending: &PendingAuthorization) -> Value {
    json!({"iss": ISSUER, "aud": CLIENT, "exp": NOW + 600, "code": CODE,
        "state": pending.state()})
}

fn callback(jwt: &str) -> String {
    format!("https://client.example.com/cb?response={jwt}")
}

/// The error `parse_signed_callback` gives for a response to a fresh flow whose claims
/// `edit` changes, signed by `key`, verified with `jwks`.
fn refusal(key: &ServerKey, jwks: &Jwks, edit: impl FnOnce(&mut Value)) -> CallbackError {
    let pending = pending();
    let mut claims = claims(&pending);
    edit(&mut claims);
    let jwt = key.sign(&claims);
    pending
        .parse_signed_callback(&callback(&jwt), jwks, now())
        .unwrap_err()
}

fn jwt_error(e: SignedResponseError) -> CallbackError {
    CallbackError::SignedResponse(e)
}

/// A response signed with each kind of key (ES256, RS256, EdDSA) verifies; its code goes to
/// the exchange with the flow's verifier and redirect URI; `aud` may be an array holding the
/// client; `exp` just inside the clock skew is still accepted.
#[test]
fn a_signed_response_is_accepted_with_each_key_type() {
    for key in [
        ServerKey::es256("ec-1"),
        ServerKey::rs256("rsa-1"),
        ServerKey::eddsa("ed-1"),
    ] {
        let jwks = key.jwks();
        let flow = pending();
        assert!(flow.expects_signed_response());
        let jwt = key.sign(&claims(&flow));
        assert!(!flow.signed_response_key_unknown(&callback(&jwt), &jwks));
        let exchange = flow
            .parse_signed_callback(&callback(&jwt), &jwks, now())
            .unwrap();
        assert_eq!(exchange.code().secret(), CODE, "{}", key.alg);
        assert_eq!(exchange.client_id(), Some(CLIENT));
        assert_eq!(exchange.redirect_uri(), &redirect());
        assert!(exchange.pkce_verifier().is_some());

        let flow = pending();
        let mut claims = claims(&flow);
        claims["aud"] = json!(["https://rs.example.com", CLIENT]);
        claims["exp"] = json!(NOW - 59);
        let jwt = key.sign(&claims);
        let exchange = flow
            .parse_signed_callback(&callback(&jwt), &jwks, now())
            .unwrap();
        assert_eq!(exchange.code().secret(), CODE);
    }
}

/// Every check refuses what it should, each with its error: a key not in the set, another
/// key under the set's `kid`, a changed payload, `alg` `none` and `HS256`, another issuer, an
/// audience without the client, an expired response, missing claims.
#[test]
fn every_check_refuses_what_it_should() {
    let key = ServerKey::es256("ec-1");
    let jwks = key.jwks();

    // Signed by a key the set does not have: unknown (the set may be refetched first).
    let stranger = ServerKey::es256("ec-2");
    let pending_flow = pending();
    let jwt = stranger.sign(&claims(&pending_flow));
    assert!(pending_flow.signed_response_key_unknown(&callback(&jwt), &jwks));
    assert_eq!(
        pending_flow
            .parse_signed_callback(&callback(&jwt), &jwks, now())
            .unwrap_err(),
        jwt_error(SignedResponseError::UnknownKey)
    );
    // Another key under the set's `kid`: the signature does not verify.
    let impostor = ServerKey::es256("ec-1");
    assert_eq!(
        refusal(&impostor, &jwks, |_| {}),
        jwt_error(SignedResponseError::BadSignature)
    );

    // The payload changed on the way (the code swapped for another), signature kept.
    let pending_flow = pending();
    let jwt = key.sign(&claims(&pending_flow));
    let mut parts: Vec<String> = jwt.split('.').map(str::to_owned).collect();
    let mut edited = claims(&pending_flow);
    edited["code"] = json!("attacker-code");
    parts[1] = b64(edited.to_string().as_bytes());
    let tampered = parts.join(".");
    assert!(!pending_flow.signed_response_key_unknown(&callback(&tampered), &jwks));
    assert_eq!(
        pending_flow
            .parse_signed_callback(&callback(&tampered), &jwks, now())
            .unwrap_err(),
        jwt_error(SignedResponseError::BadSignature)
    );
    // One character of the payload changed.
    let pending_flow = pending();
    let jwt = key.sign(&claims(&pending_flow));
    let at = jwt.find('.').unwrap() + 5;
    let mut bytes = jwt.into_bytes();
    bytes[at] = if bytes[at] == b'A' { b'B' } else { b'A' };
    let tampered = String::from_utf8(bytes).unwrap();
    let err = pending_flow
        .parse_signed_callback(&callback(&tampered), &jwks, now())
        .unwrap_err();
    assert!(
        err == jwt_error(SignedResponseError::BadSignature)
            || err == jwt_error(SignedResponseError::Malformed),
        "{err:?}"
    );

    // `alg: none` and HS256 (keyed with anything: a client secret is no server key).
    for header in [
        json!({"alg": "none", "kid": "ec-1"}),
        json!({"alg": "HS256", "kid": "ec-1"}),
    ] {
        let pending_flow = pending();
        let body = b64(claims(&pending_flow).to_string().as_bytes());
        let head = b64(header.to_string().as_bytes());
        for signature in ["", "c2lnbmF0dXJl"] {
            let jwt = format!("{head}.{body}.{signature}");
            let pending_flow = pending_flow_with_state(&pending_flow);
            assert_eq!(
                pending_flow
                    .parse_signed_callback(&callback(&jwt), &jwks, now())
                    .unwrap_err(),
                jwt_error(SignedResponseError::UnsupportedAlgorithm),
                "{header}"
            );
        }
    }
    // The header's alg must fit the key: RS256 over the EC key's kid.
    let rsa = ServerKey::rs256("ec-1");
    assert_eq!(
        refusal(&rsa, &jwks, |_| {}),
        jwt_error(SignedResponseError::UnknownKey)
    );

    // Claims.
    let cases: Vec<(Edit, SignedResponseError)> = vec![
        (
            Box::new(|c| c["iss"] = json!("https://evil.example.com")),
            SignedResponseError::IssuerMismatch,
        ),
        (
            Box::new(|c| c["iss"] = json!("https://as.example.com/")),
            SignedResponseError::IssuerMismatch,
        ),
        (
            Box::new(|c| drop(c.as_object_mut().unwrap().remove("iss"))),
            SignedResponseError::InvalidClaim("iss"),
        ),
        (
            Box::new(|c| c["aud"] = json!("another-client")),
            SignedResponseError::AudienceMismatch,
        ),
        (
            Box::new(|c| c["aud"] = json!(["another-client", "https://rs.example.com"])),
            SignedResponseError::AudienceMismatch,
        ),
        (
            Box::new(|c| c["aud"] = json!([CLIENT, 7])),
            SignedResponseError::InvalidClaim("aud"),
        ),
        (
            Box::new(|c| drop(c.as_object_mut().unwrap().remove("aud"))),
            SignedResponseError::InvalidClaim("aud"),
        ),
        (
            Box::new(|c| c["exp"] = json!(NOW - 60)),
            SignedResponseError::Expired,
        ),
        (
            Box::new(|c| c["exp"] = json!(NOW - 3600)),
            SignedResponseError::Expired,
        ),
        (
            Box::new(|c| c["exp"] = json!("1800000600")),
            SignedResponseError::InvalidClaim("exp"),
        ),
        // A NumericDate before 1970, or one past any real date, is no expiry time.
        (
            Box::new(|c| c["exp"] = json!(-1)),
            SignedResponseError::InvalidClaim("exp"),
        ),
        (
            Box::new(|c| c["exp"] = json!(1e15)),
            SignedResponseError::InvalidClaim("exp"),
        ),
        (
            Box::new(|c| drop(c.as_object_mut().unwrap().remove("exp"))),
            SignedResponseError::InvalidClaim("exp"),
        ),
    ];
    for (edit, expected) in cases {
        assert_eq!(refusal(&key, &jwks, edit), jwt_error(expected.clone()));
    }
}

/// A copy of `pending` (same state): the tests that need several flows with one state.
fn pending_flow_with_state(pending: &PendingAuthorization) -> PendingAuthorization {
    serde_json::from_str(&serde_json::to_string(pending).unwrap()).unwrap()
}

/// The server's signed error response is `AuthorizationDenied` (after the state check); the
/// `state` inside the JWT is checked as a plain callback's is.
#[test]
fn signed_errors_and_the_state_are_read_from_the_claims() {
    let key = ServerKey::rs256("rsa-1");
    let jwks = key.jwks();
    let pending_flow = pending();
    let jwt = key.sign(&json!({"iss": ISSUER, "aud": CLIENT, "exp": NOW + 600,
        "error": "access_denied", "error_description": "The user said no",
        "state": pending_flow.state()}));
    match pending_flow.parse_signed_callback(&callback(&jwt), &jwks, now()) {
        Err(CallbackError::AuthorizationDenied(e)) => {
            assert_eq!(e.code, ErrorCode::AccessDenied);
            assert_eq!(e.description.as_deref(), Some("The user said no"));
        }
        other => panic!("{other:?}"),
    }
    // An error for another state is a state mismatch, not a denial.
    let err = refusal(&key, &jwks, |c| {
        c["state"] = json!("another-state");
        c["error"] = json!("access_denied");
        drop(c.as_object_mut().unwrap().remove("code"));
    });
    assert_eq!(err, CallbackError::StateMismatch);
    assert_eq!(
        refusal(&key, &jwks, |c| c["state"] = json!("another-state")),
        CallbackError::StateMismatch
    );
    assert_eq!(
        refusal(&key, &jwks, |c| drop(
            c.as_object_mut().unwrap().remove("state")
        )),
        CallbackError::StateMissing
    );
    assert_eq!(
        refusal(&key, &jwks, |c| c["state"] = json!("")),
        CallbackError::StateMissing
    );
    assert_eq!(
        refusal(&key, &jwks, |c| drop(
            c.as_object_mut().unwrap().remove("code")
        )),
        CallbackError::MissingCode
    );
    assert_eq!(
        refusal(&key, &jwks, |c| c["access_token"] = json!("at")),
        CallbackError::UnexpectedResponseType
    );
}

/// Downgrades: a flow that asked for a signed response refuses `parse_callback` (whatever the
/// callback) and a plain `?code=...&state=...` in `parse_signed_callback`; a flow that did not
/// ask for one refuses `parse_signed_callback`; a callback with `response` and an unsigned
/// `code` (or `state`, `iss`, `error`) is refused whole.
#[test]
fn downgrades_and_mixed_callbacks_are_refused() {
    let key = ServerKey::es256("ec-1");
    let jwks = key.jwks();

    let pending_flow = pending();
    let plain = format!(
        "https://client.example.com/cb?code={CODE}&state={}&iss=https%3A%2F%2Fas.example.com",
        pending_flow.state()
    );
    let copy = pending_flow_with_state(&pending_flow);
    assert_eq!(
        copy.parse_callback(&plain).unwrap_err(),
        CallbackError::SignedResponseRequired
    );
    let jwt = key.sign(&claims(&pending_flow));
    let copy = pending_flow_with_state(&pending_flow);
    assert_eq!(
        copy.parse_callback(&callback(&jwt)).unwrap_err(),
        CallbackError::SignedResponseRequired
    );
    assert_eq!(
        pending_flow
            .parse_signed_callback(&plain, &jwks, now())
            .unwrap_err(),
        CallbackError::SignedResponseRequired
    );

    // A flow that did not ask for a signed response.
    let (_, unsigned) = request_without_jarm()
        .build(&CountingRandom::new(5))
        .unwrap();
    assert!(!unsigned.expects_signed_response());
    let jwt = key.sign(&claims(&unsigned));
    assert!(!unsigned.signed_response_key_unknown(&callback(&jwt), &jwks));
    assert_eq!(
        unsigned
            .parse_signed_callback(&callback(&jwt), &jwks, now())
            .unwrap_err(),
        CallbackError::SignedResponseNotRequested
    );

    // `response` plus an unsigned parameter.
    for extra in [
        format!("code={CODE}"),
        "state=x".to_owned(),
        "iss=https%3A%2F%2Fas.example.com".to_owned(),
        "error=access_denied".to_owned(),
    ] {
        let pending_flow = pending();
        let jwt = key.sign(&claims(&pending_flow));
        for url in [
            format!("{}&{extra}", callback(&jwt)),
            format!("https://client.example.com/cb?{extra}&response={jwt}"),
        ] {
            let copy = pending_flow_with_state(&pending_flow);
            let name = extra.split('=').next().unwrap().to_owned();
            assert_eq!(
                copy.parse_signed_callback(&url, &jwks, now()).unwrap_err(),
                CallbackError::ParameterOutsideSignedResponse { name }
            );
        }
    }
    // Twice `response`.
    let pending_flow = pending();
    let jwt = key.sign(&claims(&pending_flow));
    let twice = format!("{}&response={jwt}", callback(&jwt));
    assert!(matches!(
        pending_flow.parse_signed_callback(&twice, &jwks, now()),
        Err(CallbackError::DuplicateParameter { .. })
    ));
    // Another redirect target.
    let pending_flow = pending();
    let jwt = key.sign(&claims(&pending_flow));
    let elsewhere = format!("https://client.example.com/other?response={jwt}");
    assert_eq!(
        pending_flow
            .parse_signed_callback(&elsewhere, &jwks, now())
            .unwrap_err(),
        CallbackError::RedirectUriMismatch
    );
}

fn request_without_jarm() -> AuthorizationRequest {
    AuthorizationRequest::new(
        &Endpoint::new("https://as.example.com/authorize").unwrap(),
        CLIENT,
        &redirect(),
    )
    .expect_issuer(Issuer::new(ISSUER).unwrap(), true)
}

/// The redirect URI's own query comes back with the response and is not "outside" it.
#[test]
fn the_redirect_uris_own_query_is_allowed() {
    let key = ServerKey::eddsa("ed-1");
    let jwks = key.jwks();
    let redirect = RedirectUri::new("https://client.example.com/cb?tenant=blue").unwrap();
    let (_, pending) = AuthorizationRequest::new(
        &Endpoint::new("https://as.example.com/authorize").unwrap(),
        CLIENT,
        &redirect,
    )
    .expect_issuer(Issuer::new(ISSUER).unwrap(), false)
    .signed_response()
    .build(&CountingRandom::new(1))
    .unwrap();
    let jwt = key.sign(&claims(&pending));
    let url = format!("https://client.example.com/cb?tenant=blue&response={jwt}");
    let exchange = pending.parse_signed_callback(&url, &jwks, now()).unwrap();
    assert_eq!(exchange.code().secret(), CODE);
}

/// The request: `response_mode=query.jwt` in the URL; inside the request object with JAR
/// (and not beside it); in the pushed body with PAR. Without an issuer it is refused, and
/// `param("response_mode", ..)` stays refused.
#[test]
fn the_request_asks_for_query_jwt_in_every_shape() {
    assert_eq!(JWT_RESPONSE_MODE, "query.jwt");
    let (url, _) = request().build(&CountingRandom::new(1)).unwrap();
    let query = form_decode(url.query().unwrap()).unwrap();
    let modes: Vec<&str> = query
        .iter()
        .filter(|(n, _)| n == "response_mode")
        .map(|(_, v)| v.as_str())
        .collect();
    assert_eq!(modes, ["query.jwt"]);

    let pem = EcP256PrivateKey::generate_pkcs8_pem().unwrap();
    let key = PrivateKeyJwt::es256(EcP256PrivateKey::from_pem(&pem).unwrap())
        .key_id("client-1")
        .clock(ManualClock::at_unix_seconds(NOW));
    let (url, pending) = request()
        .signed_request(key.clone())
        .build(&CountingRandom::new(1))
        .unwrap();
    assert!(pending.expects_signed_response());
    let query = form_decode(url.query().unwrap()).unwrap();
    let names: Vec<&str> = query.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["client_id", "request"]);
    let object = query[1].1.split('.').nth(1).unwrap();
    let object: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(object).unwrap()).unwrap();
    assert_eq!(object["response_mode"], "query.jwt");

    let par = Endpoint::new("https://as.example.com/par").unwrap();
    let client = Client::public(CLIENT);
    for signed in [false, true] {
        let mut request = request();
        if signed {
            request = request.signed_request(key.clone());
        }
        let (pushed, pending) = request
            .build_pushed(&par, &client, &CountingRandom::new(1))
            .unwrap();
        assert!(pending.expects_signed_response());
        let body = form_decode(std::str::from_utf8(pushed.body().as_bytes()).unwrap()).unwrap();
        let mode = body.iter().find(|(n, _)| n == "response_mode");
        if signed {
            assert!(mode.is_none(), "{body:?}");
            let object = &body.iter().find(|(n, _)| n == "request").unwrap().1;
            let object = object.split('.').nth(1).unwrap();
            let object: Value =
                serde_json::from_slice(&URL_SAFE_NO_PAD.decode(object).unwrap()).unwrap();
            assert_eq!(object["response_mode"], "query.jwt");
        } else {
            assert_eq!(mode.unwrap().1, "query.jwt");
        }
    }

    let unbound = AuthorizationRequest::new(
        &Endpoint::new("https://as.example.com/authorize").unwrap(),
        CLIENT,
        &redirect(),
    )
    .signed_response();
    assert_eq!(
        unbound.build(&CountingRandom::new(1)).unwrap_err(),
        AuthorizeError::SignedResponseWithoutIssuer
    );
    let err = request()
        .param("response_mode", "query.jwt")
        .build(&CountingRandom::new(1))
        .unwrap_err();
    assert_eq!(
        err,
        AuthorizeError::ReservedParameter("response_mode".into())
    );
    assert!(format!("{:?}", request()).contains("signed_response: true"));
}

/// A stored flow keeps that a signed response is due; a flow stored by an older version
/// (without the member) loads as one that did not ask; a flow that did not ask is stored as
/// before (no new member).
#[test]
fn the_stored_flow_keeps_the_signed_response_and_older_ones_load() {
    let pending_flow = pending();
    let json = serde_json::to_string(&pending_flow).unwrap();
    assert!(json.contains("\"signed_response\":true"), "{json}");
    let back: PendingAuthorization = serde_json::from_str(&json).unwrap();
    assert!(back.expects_signed_response());
    assert_eq!(
        back.parse_callback("https://client.example.com/cb?code=c")
            .unwrap_err(),
        CallbackError::SignedResponseRequired
    );

    // A stored flow that expects a signed response has its issuer and client (the claims
    // are checked against them): one without either does not load.
    let stored: Value = serde_json::from_str(&json).unwrap();
    for member in ["issuer", "client_id"] {
        let mut damaged = stored.clone();
        damaged.as_object_mut().unwrap().remove(member).unwrap();
        assert!(
            serde_json::from_value::<PendingAuthorization>(damaged).is_err(),
            "{member}"
        );
    }

    let (_, plain) = request_without_jarm()
        .build(&CountingRandom::new(5))
        .unwrap();
    let json = serde_json::to_string(&plain).unwrap();
    assert!(!json.contains("signed_response"), "{json}");
    let older: PendingAuthorization = serde_json::from_str(&json).unwrap();
    assert!(!older.expects_signed_response());
    let state = older.state().to_owned();
    let url = format!(
        "https://client.example.com/cb?code=c&state={state}&iss=https%3A%2F%2Fas.example.com"
    );
    assert!(older.parse_callback(&url).is_ok());
}

/// No error or `Debug` shows the code, the state or the JWT.
#[test]
fn errors_and_debug_hold_no_code_state_or_jwt() {
    let key = ServerKey::es256("ec-1");
    let jwks = key.jwks();
    let mut outputs = Vec::new();
    let mut secrets = Vec::new();
    let edits: Vec<Edit> = vec![
        Box::new(|_| {}),
        Box::new(|c| c["iss"] = json!("https://evil.example.com")),
        Box::new(|c| c["aud"] = json!("x")),
        Box::new(|c| c["exp"] = json!(1)),
        Box::new(|c| c["state"] = json!("wrong-state-value")),
        Box::new(|c| c["error"] = json!("access_denied")),
    ];
    for edit in edits {
        let pending_flow = pending();
        let mut claims = claims(&pending_flow);
        edit(&mut claims);
        let jwt = key.sign(&claims);
        secrets.push(pending_flow.state().to_owned());
        secrets.push(jwt.clone());
        secrets.push(jwt.split('.').nth(1).unwrap().to_owned());
        outputs.push(format!("{pending_flow:?}"));
        match pending_flow.parse_signed_callback(&callback(&jwt), &jwks, now()) {
            Ok(exchange) => outputs.push(format!("{exchange:?}")),
            Err(e) => outputs.push(format!("{e} {e:?}")),
        }
    }
    let pending_flow = pending();
    secrets.push(pending_flow.state().to_owned());
    let plain = format!(
        "https://client.example.com/cb?response=x&code={CODE}&state={}",
        pending_flow.state()
    );
    let e = pending_flow
        .parse_signed_callback(&plain, &jwks, now())
        .unwrap_err();
    outputs.push(format!("{e} {e:?}"));
    for output in &outputs {
        assert!(!output.contains(CODE), "{output}");
        for secret in &secrets {
            assert!(!output.contains(secret.as_str()), "{output}");
        }
    }
}

/// A web application's flows in flight (`PendingAuthorizations`): a signed-response flow is
/// found by the `state` inside the response and completed with `complete_signed`, once; in
/// another session it is no flow; `complete` finds it but refuses it (a signed response is
/// due); `take` hands the flow out for a caller that verifies the callback itself.
#[test]
fn the_flows_in_flight_complete_a_signed_response_once() {
    use oauth_core::oauth2::PendingAuthorizations;

    let key = ServerKey::es256("ec-1");
    let jwks = key.jwks();
    let flows = PendingAuthorizations::new();
    let flow = pending();
    let url = callback(&key.sign(&claims(&flow)));
    flows.insert("sid-1", flow, now()).unwrap();
    assert_eq!(
        flows
            .complete_signed("sid-2", &url, &jwks, now())
            .unwrap_err(),
        CallbackError::NoPendingFlow
    );
    let exchange = flows.complete_signed("sid-1", &url, &jwks, now()).unwrap();
    assert_eq!(exchange.code().secret(), CODE);
    assert_eq!(
        flows
            .complete_signed("sid-1", &url, &jwks, now())
            .unwrap_err(),
        CallbackError::StateAlreadyUsed
    );

    let flow = pending();
    let url = callback(&key.sign(&claims(&flow)));
    flows.insert("sid-1", flow, now()).unwrap();
    assert_eq!(
        flows.complete("sid-1", &url, now()).unwrap_err(),
        CallbackError::SignedResponseRequired
    );

    let flow = pending();
    let url = callback(&key.sign(&claims(&flow)));
    flows.insert("sid-1", flow, now()).unwrap();
    let taken = flows.take("sid-1", &url, now()).unwrap();
    assert!(taken.expects_signed_response());
    assert!(taken.parse_signed_callback(&url, &jwks, now()).is_ok());
    // A response without a state, or not a JWT: no flow to find.
    let no_state = callback(&key.sign(&json!({"iss": ISSUER, "aud": CLIENT, "exp": NOW + 600})));
    assert_eq!(
        flows.take("sid-1", &no_state, now()).unwrap_err(),
        CallbackError::StateMissing
    );
    assert_eq!(
        flows
            .take("sid-1", &callback("not-a-jwt"), now())
            .unwrap_err(),
        CallbackError::StateMissing
    );
    // An empty `state` claim counts as none (RFC 6749 §3.1), as an empty query value does.
    let empty_state =
        callback(&key.sign(
            &json!({"iss": ISSUER, "aud": CLIENT, "exp": NOW + 600, "state": "", "code": CODE}),
        ));
    assert_eq!(
        flows.take("sid-1", &empty_state, now()).unwrap_err(),
        CallbackError::StateMissing
    );
}
