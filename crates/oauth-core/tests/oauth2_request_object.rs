//! Signed authorization requests (JAR, RFC 9101): `AuthorizationRequest::signed_request`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use oauth_core::clock::{CountingRandom, ManualClock};
use oauth_core::encode::form_decode;
use oauth_core::oauth2::{
    AuthorizationRequest, AuthorizeError, Client, DEFAULT_REQUEST_OBJECT_LIFETIME,
    EcP256PrivateKey, Endpoint, Issuer, PrivateKeyJwt, RedirectUri, Scope,
};
use oauth_core::secret::ClientSecret;
use serde_json::Value;

const NOW: u64 = 1_800_000_000;

fn redirect() -> RedirectUri {
    RedirectUri::new("https://client.example.com/cb").unwrap()
}

fn issuer() -> Issuer {
    Issuer::new("https://as.example.com").unwrap()
}

fn ec_key() -> (PrivateKeyJwt, Vec<u8>) {
    let (key, public, _) = ec_key_and_pem();
    (key, public)
}

fn ec_key_and_pem() -> (PrivateKeyJwt, Vec<u8>, String) {
    let pem = EcP256PrivateKey::generate_pkcs8_pem().unwrap().to_string();
    let key = EcP256PrivateKey::from_pem(&pem).unwrap();
    let public = key.public_key().to_vec();
    let jwt = PrivateKeyJwt::es256(key)
        .key_id("client-key-1")
        .clock(ManualClock::at_unix_seconds(NOW));
    (jwt, public, pem)
}

/// The request every test starts from: scope, resources, an OpenID nonce and max_age, an
/// extension parameter, bound to the issuer.
fn request(endpoint: &str) -> AuthorizationRequest {
    AuthorizationRequest::new(&Endpoint::new(endpoint).unwrap(), "s6BhdRkqt3", &redirect())
        .scope(Scope::parse("openid accounts"))
        .resource("https://rs1.example/")
        .resource("https://rs2.example/")
        .oidc_nonce()
        .max_age(Duration::from_secs(900))
        .param("login_hint", "alice@example.com")
        .expect_issuer(issuer(), true)
}

fn query_pairs(url: &http::Uri) -> Vec<(String, String)> {
    form_decode(url.query().unwrap_or_default()).unwrap()
}

fn part(jws: &str, i: usize) -> Value {
    let segment = jws.split('.').nth(i).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).unwrap()).unwrap()
}

/// The URL carries `client_id` and `request` only; the request object carries exactly the
/// parameters the unsigned URL would (same random source, so the same state, PKCE challenge
/// and nonce), with their JSON types, plus `iss`, `aud` (the issuer), `iat` = `nbf`, `exp`
/// five minutes later and a `jti`; it is ES256-signed with the client's key (checked with
/// ring, as a server would), `typ` `oauth-authz-req+jwt`, `kid` the key's. The pending
/// authorization is the unsigned flow's.
#[test]
fn the_url_carries_only_client_id_and_a_signed_object_with_every_parameter() {
    let (key, public) = ec_key();
    let (plain_url, plain_pending) = request("https://as.example.com/authorize")
        .build(&CountingRandom::new(7))
        .unwrap();
    let (url, pending) = request("https://as.example.com/authorize")
        .signed_request(key)
        .build(&CountingRandom::new(7))
        .unwrap();

    let pairs = query_pairs(&url);
    assert_eq!(pairs.len(), 2, "{pairs:?}");
    assert_eq!(pairs[0], ("client_id".into(), "s6BhdRkqt3".into()));
    assert_eq!(pairs[1].0, "request");
    let jws = &pairs[1].1;

    let header = part(jws, 0);
    assert_eq!(header["alg"], "ES256");
    assert_eq!(header["typ"], "oauth-authz-req+jwt");
    assert_eq!(header["kid"], "client-key-1");
    let (input, signature) = jws.rsplit_once('.').unwrap();
    ring::signature::UnparsedPublicKey::new(&ring::signature::ECDSA_P256_SHA256_FIXED, &public)
        .verify(
            input.as_bytes(),
            &URL_SAFE_NO_PAD.decode(signature).unwrap(),
        )
        .expect("the request object verifies with the client's public key");

    let claims = part(jws, 1);
    let claims = claims.as_object().unwrap();
    let mut expected = serde_json::Map::new();
    for (name, value) in query_pairs(&plain_url) {
        let value = match name.as_str() {
            "max_age" => Value::from(value.parse::<u64>().unwrap()),
            _ => Value::from(value),
        };
        match expected.get_mut(&name) {
            Some(Value::Array(values)) => values.push(value),
            Some(first) => *first = Value::Array(vec![first.take(), value]),
            None => {
                expected.insert(name, value);
            }
        }
    }
    for (name, value) in &expected {
        assert_eq!(claims.get(name), Some(value), "{name}");
    }
    assert_eq!(
        expected["resource"],
        serde_json::json!(["https://rs1.example/", "https://rs2.example/"])
    );
    assert_eq!(claims["iss"], "s6BhdRkqt3");
    assert_eq!(claims["aud"], "https://as.example.com");
    assert_eq!(claims["iat"], NOW);
    assert_eq!(claims["nbf"], NOW);
    assert_eq!(
        claims["exp"],
        NOW + DEFAULT_REQUEST_OBJECT_LIFETIME.as_secs()
    );
    assert!(!claims["jti"].as_str().unwrap().is_empty());
    assert_eq!(claims.len(), expected.len() + 6, "{claims:?}");

    assert_eq!(pending.state(), plain_pending.state());
    assert_eq!(pending.max_age(), Some(Duration::from_secs(900)));
}

/// The lifetime applies whichever order the two builder calls come in.
#[test]
fn the_lifetime_is_kept_in_either_order() {
    for lifetime_first in [true, false] {
        let (key, _) = ec_key();
        let mut request = request("https://as.example.com/authorize");
        if lifetime_first {
            request = request
                .signed_request_lifetime(Duration::from_secs(30))
                .signed_request(key);
        } else {
            request = request
                .signed_request(key)
                .signed_request_lifetime(Duration::from_secs(30));
        }
        let (url, _) = request.build(&CountingRandom::new(1)).unwrap();
        let claims = part(&query_pairs(&url)[1].1, 1);
        assert_eq!(claims["exp"], NOW + 30);
    }
}

/// Without an issuer there is no audience: refused, not sent with a guess.
#[test]
fn a_request_object_needs_the_issuer() {
    let (key, _) = ec_key();
    let request = AuthorizationRequest::new(
        &Endpoint::new("https://as.example.com/authorize").unwrap(),
        "s6BhdRkqt3",
        &redirect(),
    )
    .signed_request(key);
    assert_eq!(
        request.build(&CountingRandom::new(1)).unwrap_err(),
        AuthorizeError::RequestObjectWithoutIssuer
    );
}

/// Names the object uses itself are refused as extra parameters; so is an endpoint whose own
/// query has `request` (the URL would carry two).
#[test]
fn reserved_names_and_endpoint_collisions_are_refused() {
    for name in [
        "iss",
        "aud",
        "exp",
        "nbf",
        "iat",
        "jti",
        "sub",
        "request_uri",
    ] {
        let (key, _) = ec_key();
        let err = request("https://as.example.com/authorize")
            .param(name, "x")
            .signed_request(key)
            .build(&CountingRandom::new(1))
            .unwrap_err();
        assert_eq!(
            err,
            AuthorizeError::ReservedParameter(name.into()),
            "{name}"
        );
    }
    let (key, _) = ec_key();
    let err = request("https://as.example.com/authorize?request=old")
        .signed_request(key)
        .build(&CountingRandom::new(1))
        .unwrap_err();
    assert_eq!(
        err,
        AuthorizeError::EndpointQueryParameter("request".into())
    );
    // The endpoint's other query parameters stay (the server reads none of them).
    let (key, _) = ec_key();
    let (url, _) = request("https://as.example.com/authorize?tenant=t1")
        .signed_request(key)
        .build(&CountingRandom::new(1))
        .unwrap();
    let names: Vec<String> = query_pairs(&url).into_iter().map(|(n, _)| n).collect();
    assert_eq!(names, ["tenant", "client_id", "request"]);
}

/// Pushed (RFC 9126 §3, FAPI 2.0 Message Signing): the body is the request object and the
/// client's authentication (`client_id` named once: by the body with HTTP Basic, by the
/// authentication otherwise), nothing else.
#[test]
fn a_pushed_request_object_carries_the_parameters() {
    let par = Endpoint::new("https://as.example.com/par").unwrap();
    let (key, _) = ec_key();
    let client = Client::secret_basic("s6BhdRkqt3", ClientSecret::new("secret"));
    let (pushed, pending) = request("https://as.example.com/authorize")
        .signed_request(key)
        .build_pushed(&par, &client, &CountingRandom::new(3))
        .unwrap();
    assert!(pushed.headers().contains_key(http::header::AUTHORIZATION));
    let body = form_decode(std::str::from_utf8(pushed.body().as_bytes()).unwrap()).unwrap();
    let names: Vec<&str> = body.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["client_id", "request"]);
    let claims = part(&body[1].1, 1);
    assert_eq!(claims["state"], pending.state());
    assert_eq!(claims["client_id"], "s6BhdRkqt3");
    assert_eq!(claims["redirect_uri"], "https://client.example.com/cb");

    let (key, _) = ec_key();
    let post = Client::secret_post("s6BhdRkqt3", ClientSecret::new("secret"));
    let (pushed, _) = request("https://as.example.com/authorize")
        .signed_request(key)
        .build_pushed(&par, &post, &CountingRandom::new(3))
        .unwrap();
    let body = form_decode(std::str::from_utf8(pushed.body().as_bytes()).unwrap()).unwrap();
    let names: Vec<&str> = body.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names, ["request", "client_id", "client_secret"]);
}

/// The request's `Debug` shows that it is signed, never the key.
#[test]
fn debug_shows_no_key_material() {
    let (key, _, pem) = ec_key_and_pem();
    let debug = format!(
        "{:?}",
        request("https://as.example.com/authorize").signed_request(key)
    );
    assert!(debug.contains("signed"), "{debug}");
    assert!(debug.contains("[redacted]"), "{debug}");
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    for window in body.as_bytes().windows(12) {
        assert!(!debug.contains(std::str::from_utf8(window).unwrap()));
    }
}
