//! Sentinel test (SECURITY.md §4.9 #86): no OAuth 2 type or error prints a secret with `{:?}`
//! or `{}`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, UNIX_EPOCH};

use http::{HeaderMap, HeaderValue, StatusCode, header::CONTENT_TYPE};
use oauth_core::clock::CountingRandom;
use oauth_core::oauth2::introspection::IntrospectionRequest;
use oauth_core::oauth2::revocation::RevocationRequest;
use oauth_core::oauth2::{
    AuthorizationRequest, CallbackError, Client, ClientAuth, Compliance,
    DeviceAuthorizationRequest, DpopKey, EcP256PrivateKey, Endpoint, PendingAuthorizations,
    PrivateKeyJwt, RedirectUri, RefreshPolicy, RefreshState, RsaPrivateKey, Scope, Token,
    TokenRequest, TokenResponseError, TokenType, parse_device_authorization_response,
    parse_token_response,
};
use oauth_core::secret::{AccessToken, ClientSecret, DeviceCode, IdToken, RefreshToken};

const SENTINEL: &str = "SENTINELx7Q";

fn assert_clean(label: &str, shown: &str) {
    assert!(!shown.contains(SENTINEL), "{label} leaked: {shown}");
}

fn json_headers() -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    h
}

#[test]
fn no_oauth2_value_prints_a_secret() {
    let s = SENTINEL;
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let mut outputs: Vec<(&str, String)> = Vec::new();

    // Tokens, parsed with secrets everywhere (including unknown members).
    let body = format!(
        r#"{{"access_token":"{s}a","token_type":"Bearer","refresh_token":"{s}r","id_token":"{s}i",
            "expires_in":3600,"scope":"read","{s}key":"{s}v","nested":{{"secret":"{s}n"}}}}"#
    );
    let token = parse_token_response(
        StatusCode::OK,
        &json_headers(),
        body.as_bytes(),
        now,
        &Compliance::strict(),
    )
    .unwrap();
    outputs.push(("Token", format!("{token:?} {token:#?}")));
    let built = Token::new(
        AccessToken::new(s),
        TokenType::Other(format!("{s}t").chars().take(3).collect()),
    )
    .with_refresh_token(Some(RefreshToken::new(s)))
    .with_id_token(Some(IdToken::new(s)))
    .with_scope(Some(Scope::parse("a")));
    outputs.push(("Token built", format!("{built:?}")));
    let bad_type = Token::new(AccessToken::new(s), TokenType::Other("mac".into()));
    let use_err = bad_type.authorization_header_value().unwrap_err();
    outputs.push(("TokenUseError", format!("{use_err} {use_err:?}")));
    let header = token.authorization_header().unwrap();
    outputs.push(("HeaderValue", format!("{header:?}")));

    // Refresh state.
    let state = RefreshState::new(token, now, RefreshPolicy::default());
    outputs.push(("RefreshState", format!("{state:?}")));

    // Token response errors whose bodies hold secrets.
    for body in [
        format!(r#"{{"access_token":"{s}","access_token":"{s}2","token_type":"Bearer"}}"#),
        format!(r#"{{"access_token":"{s}" broken"#),
        format!(r#"{{"access_token":"{s}","token_type":"Bearer","expires_in":"{s}"}}"#),
        format!(r#"{{"access_token":"{s}","token_type":"Bearer","scope":["{s}"]}}"#),
        format!(r#"{{"access_token":"{s}","token_type":"Bearer","expires_in":{{"{s}":1}}}}"#),
        format!(r#"{{"error":"invalid_grant","refresh_token":"{s}"}}"#),
        format!(r#"["{s}"]"#),
        format!(r#"{{"token_type":"Bearer","refresh_token":"{s}"}}"#),
    ] {
        let err: TokenResponseError = parse_token_response(
            StatusCode::OK,
            &json_headers(),
            body.as_bytes(),
            now,
            &Compliance::strict(),
        )
        .unwrap_err();
        outputs.push(("TokenResponseError", format!("{err} {err:?}")));
    }
    let err = parse_token_response(
        StatusCode::OK,
        &HeaderMap::new(),
        format!("access_token={s}").as_bytes(),
        now,
        &Compliance::strict(),
    )
    .unwrap_err();
    outputs.push(("TokenResponseError form", format!("{err} {err:?}")));

    // Clients, grant builders.
    let endpoint = Endpoint::new("https://as.example.com/token").unwrap();
    for client in [
        Client::secret_basic("id", ClientSecret::new(s)),
        Client::secret_post("id", ClientSecret::new(s)),
    ] {
        outputs.push(("Client", format!("{client:?}")));
        outputs.push(("ClientAuth", format!("{:?}", client.auth())));
        let rt = RefreshToken::new(s);
        let req =
            TokenRequest::refresh_token(&endpoint, &client, &rt).secret_param("actor_token", s);
        outputs.push(("TokenRequest", format!("{req:?}")));
        #[cfg(feature = "legacy")]
        {
            #[allow(deprecated)]
            let req = TokenRequest::password(
                &endpoint,
                &client,
                "u",
                &oauth_core::secret::ResourceOwnerPassword::new(s),
            );
            outputs.push(("TokenRequest password", format!("{req:?}")));
        }
        let req = TokenRequest::device_code(&endpoint, &client, &DeviceCode::new(s));
        outputs.push(("TokenRequest device", format!("{req:?}")));
        let req = DeviceAuthorizationRequest::new(&endpoint, &client);
        outputs.push(("DeviceAuthorizationRequest", format!("{req:?}")));
        let built = TokenRequest::client_credentials(&endpoint, &client)
            .build()
            .unwrap();
        if let Some(auth) = built.headers().get("authorization") {
            outputs.push(("Basic header", format!("{auth:?}")));
        }
    }
    let _: Option<ClientAuth> = None;

    // Authorization flow.
    let authorize = Endpoint::new("https://as.example.com/authorize").unwrap();
    let redirect = RedirectUri::new("https://client.example.com/cb").unwrap();
    let (_, pending) = AuthorizationRequest::new(&authorize, "c", &redirect)
        .dangerous_custom_state(format!("{s}state"))
        .oidc_nonce()
        .build(&CountingRandom::new(1))
        .unwrap();
    outputs.push(("PendingAuthorization", format!("{pending:?}")));
    let exchange = pending
        .parse_callback(&format!(
            "https://client.example.com/cb?code={s}code&state={s}state"
        ))
        .unwrap();
    outputs.push(("CodeExchange", format!("{exchange:?}")));
    let (_, pending) = AuthorizationRequest::new(&authorize, "c", &redirect)
        .dangerous_custom_state(format!("{s}state"))
        .build(&CountingRandom::new(1))
        .unwrap();
    let err: CallbackError = pending
        .parse_callback(&format!(
            "https://client.example.com/cb?code={s}code&state={s}wrong"
        ))
        .unwrap_err();
    outputs.push(("CallbackError", format!("{err} {err:?}")));

    // Device authorization response.
    let body = format!(
        r#"{{"device_code":"{s}d","user_code":"{s}u","verification_uri":"https://example.com/device",
            "verification_uri_complete":"https://example.com/device?user_code={s}u","expires_in":1800}}"#
    );
    let device = parse_device_authorization_response(
        StatusCode::OK,
        &json_headers(),
        body.as_bytes(),
        now,
        &Compliance::strict(),
    )
    .unwrap();
    outputs.push(("DeviceAuthorization", format!("{device:?}")));

    for (label, shown) in &outputs {
        assert_clean(label, shown);
    }
    assert!(outputs.len() > 25);
}

/// SECURITY.md §4.9 #86: the OAuth 2 types the test above does not build print no secret
/// either, with `{:?}` or `{:#?}` (and `{}` for errors): revocation and introspection requests
/// (the token they are about), `private_key_jwt` (its RSA or P-256 key, and the client
/// assertion of a built request), a DPoP key, the authorization flows kept in
/// `PendingAuthorizations`, and a custom `state` in an `AuthorizationRequest`.
#[test]
fn requests_keys_and_flows_in_flight_print_no_secret() {
    let s = SENTINEL;
    let rsa_pem = include_str!("vectors/oauth1/test_rsa_2048_pkcs8.pem");
    let ec_pem = include_str!("vectors/oauth1/test_ec_p256_pkcs8.pem");
    let small_rsa_pem = include_str!("vectors/oauth1/oauthlib_rsa_1024_pkcs1.pem");
    let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
    let mut outputs: Vec<(&str, String)> = Vec::new();

    // Revocation and introspection requests carry the token they are about.
    let endpoint = Endpoint::new("https://as.example.com/token").unwrap();
    let client = Client::secret_basic("id", ClientSecret::new(format!("{s}cs")));
    let access = AccessToken::new(format!("{s}at"));
    let refresh = RefreshToken::new(format!("{s}rt"));
    push_debug(
        &mut outputs,
        "RevocationRequest(access)",
        &RevocationRequest::access_token(&endpoint, &client, &access),
    );
    push_debug(
        &mut outputs,
        "RevocationRequest(refresh)",
        &RevocationRequest::refresh_token(&endpoint, &client, &refresh),
    );
    push_debug(
        &mut outputs,
        "IntrospectionRequest(access)",
        &IntrospectionRequest::access_token(&endpoint, &client, &access),
    );
    push_debug(
        &mut outputs,
        "IntrospectionRequest(refresh)",
        &IntrospectionRequest::refresh_token(&endpoint, &client, &refresh),
    );
    let built = RevocationRequest::refresh_token(&endpoint, &client, &refresh)
        .build()
        .unwrap();
    // (So that the test means something: the body holds the token.)
    assert!(String::from_utf8_lossy(built.body().as_ref()).contains(&format!("{s}rt")));
    push_debug(&mut outputs, "revocation Request<SensitiveBody>", &built);

    // Private keys: private_key_jwt (RS256, PS256, ES256) and DPoP.
    let ec = EcP256PrivateKey::from_pem(ec_pem).unwrap();
    let rsa = RsaPrivateKey::from_pem(rsa_pem).unwrap();
    push_debug(&mut outputs, "EcP256PrivateKey", &ec);
    let dpop = DpopKey::es256(ec.clone());
    push_debug(&mut outputs, "DpopKey", &dpop);
    let rs256 = PrivateKeyJwt::rs256(rsa.clone());
    let ps256 = PrivateKeyJwt::ps256(rsa);
    let es256 = PrivateKeyJwt::es256(ec);
    push_debug(&mut outputs, "PrivateKeyJwt(RS256)", &rs256);
    push_debug(&mut outputs, "PrivateKeyJwt(PS256)", &ps256);
    push_debug(&mut outputs, "PrivateKeyJwt(ES256)", &es256);
    let mut assertions = Vec::new();
    for jwt in [rs256, ps256, es256] {
        let client = Client::private_key_jwt("id", jwt);
        push_debug(&mut outputs, "Client(private_key_jwt)", &client);
        push_debug(&mut outputs, "ClientAuth::PrivateKeyJwt", client.auth());
        let request = TokenRequest::refresh_token(&endpoint, &client, &refresh);
        push_debug(&mut outputs, "TokenRequest(private_key_jwt)", &request);
        let built = request.build().unwrap();
        let assertion = form_urlencoded::parse(built.body().as_ref())
            .find(|(name, _)| name == "client_assertion")
            .map(|(_, value)| value.into_owned())
            .expect("a client assertion in the body");
        assertions.push(assertion);
        push_debug(
            &mut outputs,
            "Request<SensitiveBody>(private_key_jwt)",
            &built,
        );
    }
    let small = RsaPrivateKey::from_pem_with_min_bits(small_rsa_pem, 1024).unwrap();
    let small_client = Client::private_key_jwt("id", PrivateKeyJwt::rs256(small));
    let err = TokenRequest::client_credentials(&endpoint, &small_client)
        .build()
        .unwrap_err();
    outputs.push((
        "GrantError(ClientAssertion)",
        format!("{err} {err:?} {err:#?}"),
    ));

    // Authorization flows in flight, with a custom state.
    let authorize = Endpoint::new("https://as.example.com/authorize").unwrap();
    let redirect = RedirectUri::new("https://client.example.com/cb").unwrap();
    let request = AuthorizationRequest::new(&authorize, "c", &redirect)
        .dangerous_custom_state(format!("{s}state"))
        .param("login_hint", format!("{s}hint"))
        .oidc_nonce();
    push_debug(&mut outputs, "AuthorizationRequest", &request);
    let (_, pending) = request.build(&CountingRandom::new(7)).unwrap();
    let state = pending.state().to_owned();
    push_debug(&mut outputs, "PendingAuthorization", &pending);
    let flows = PendingAuthorizations::new();
    flows.insert(&format!("{s}session"), pending, now).unwrap();
    push_debug(&mut outputs, "PendingAuthorizations", &flows);
    let exchange = flows
        .complete(
            &format!("{s}session"),
            &format!("https://client.example.com/cb?code={s}code&state={state}"),
            now,
        )
        .unwrap();
    assert_eq!(exchange.code().secret(), format!("{s}code"));
    let pkce_verifier = exchange.pkce_verifier().unwrap().secret().to_owned();
    push_debug(&mut outputs, "CodeExchange", &exchange);
    let err = flows
        .complete(
            &format!("{s}session"),
            &format!("https://client.example.com/cb?code={s}code&state={state}"),
            now,
        )
        .unwrap_err();
    outputs.push(("CallbackError(used)", format!("{err} {err:?} {err:#?}")));

    // A key printed in another encoding than its PEM (the modulus and private exponent in hex,
    // say) is a long run of letters and digits: the key types print none, their public JWK
    // thumbprint (the DPoP key's `jkt`, printed on purpose) aside.
    for (label, shown) in &outputs {
        if ["Key", "Jwt", "private_key_jwt"]
            .iter()
            .any(|k| label.contains(k))
        {
            let shown = shown.replace(&dpop.thumbprint(), "");
            assert!(
                longest_alphanumeric_run(&shown) < 32,
                "{label} prints key material: {shown}"
            );
        }
    }
    let pem_lines: Vec<&str> = [rsa_pem, ec_pem, small_rsa_pem]
        .into_iter()
        .flat_map(str::lines)
        .filter(|l| !l.starts_with("-----") && l.len() >= 16)
        .collect();
    for (label, shown) in &outputs {
        assert_clean(label, shown);
        for line in &pem_lines {
            assert!(!shown.contains(line), "{label} leaked the PEM: {shown}");
        }
        for assertion in &assertions {
            assert!(
                !shown.contains(assertion.as_str()),
                "{label} leaked the client assertion"
            );
        }
        assert!(!shown.contains(&state), "{label} leaked the state: {shown}");
        assert!(
            !shown.contains(&pkce_verifier),
            "{label} leaked the verifier: {shown}"
        );
    }
}

/// `{:?}` and `{:#?}` of `value`, under `label`.
fn push_debug(
    outputs: &mut Vec<(&'static str, String)>,
    label: &'static str,
    value: &dyn std::fmt::Debug,
) {
    outputs.push((label, format!("{value:?}\n{value:#?}")));
}

/// The length of the longest run of ASCII letters and digits in `text`.
fn longest_alphanumeric_run(text: &str) -> usize {
    text.split(|c: char| !c.is_ascii_alphanumeric())
        .map(str::len)
        .max()
        .unwrap_or(0)
}
