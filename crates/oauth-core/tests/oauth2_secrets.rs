//! Sentinel test (SECURITY.md §4.9 #86): no OAuth 2 type or error prints a secret with `{:?}`
//! or `{}`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, UNIX_EPOCH};

use http::{HeaderMap, HeaderValue, StatusCode, header::CONTENT_TYPE};
use oauth_core::clock::CountingRandom;
use oauth_core::oauth2::{
    AuthorizationRequest, CallbackError, Client, ClientAuth, Compliance,
    DeviceAuthorizationRequest, Endpoint, RedirectUri, RefreshPolicy, RefreshState, Scope, Token,
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
