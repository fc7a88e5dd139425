//! Token requests: the exact method, URI, headers and body of every grant, and client
//! authentication (RFC 6749 §2.3.1 vectors, R6749-01/02/05/06/07, PKCE-05).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use http::Method;
use oauth_core::clock::CountingRandom;
use oauth_core::oauth2::grant::basic_auth_header_value;
use oauth_core::oauth2::{
    AuthorizationRequest, Client, CodeExchange, DeviceAuthorizationRequest, Endpoint, GrantError,
    RedirectUri, Scope, TokenRequest,
};
use oauth_core::secret::{ClientSecret, DeviceCode, RefreshToken};

const TOKEN_URL: &str = "https://server.example.com/token";

fn token_endpoint() -> Endpoint {
    Endpoint::new(TOKEN_URL).unwrap()
}

fn basic() -> Client {
    Client::secret_basic("s6BhdRkqt3", ClientSecret::new("gX1fBat3bV"))
}

/// Asserts the whole request: method, URI, the exact header set and the body.
fn assert_request(
    req: &http::Request<oauth_core::oauth2::SensitiveBody>,
    uri: &str,
    authorization: Option<&str>,
    body: &str,
) {
    assert_eq!(req.method(), Method::POST);
    assert_eq!(req.uri().to_string(), uri);
    let mut names: Vec<&str> = req.headers().keys().map(|k| k.as_str()).collect();
    names.sort_unstable();
    let mut expected = vec!["accept", "content-type"];
    if authorization.is_some() {
        expected.insert(1, "authorization");
    }
    assert_eq!(names, expected);
    assert_eq!(
        req.headers()["content-type"],
        "application/x-www-form-urlencoded"
    );
    assert_eq!(req.headers()["accept"], "application/json");
    if let Some(auth) = authorization {
        assert_eq!(req.headers()["authorization"], auth);
        assert!(req.headers()["authorization"].is_sensitive());
    }
    assert_eq!(std::str::from_utf8(req.body()).unwrap(), body);
    // Logging the request shows no credential: the body's Debug is its length, and the
    // Authorization header is sensitive.
    let debug = format!("{req:?}");
    assert!(
        debug.contains(&format!("SensitiveBody {{ len: {}", body.len())),
        "{debug}"
    );
    for secret in [
        "gX1fBat3bV",
        "tGzv3JOkF0XG5Qx2TlKWIA",
        "SplxlOBeZQQYbYS6WxSbIA",
        "czZCaGRS",
    ] {
        assert!(!debug.contains(secret), "{debug}");
    }
}

fn exchange(pkce: bool) -> CodeExchange {
    let authorize = Endpoint::new("https://server.example.com/authorize").unwrap();
    let redirect = RedirectUri::new("https://client.example.com/cb").unwrap();
    let mut builder = AuthorizationRequest::new(&authorize, "s6BhdRkqt3", &redirect)
        .dangerous_custom_state("xyz");
    if !pkce {
        builder = builder.dangerous_disable_pkce();
    }
    let (_, pending) = builder.build(&CountingRandom::new(1)).unwrap();
    pending
        .parse_callback("https://client.example.com/cb?code=SplxlOBeZQQYbYS6WxSbIA&state=xyz")
        .unwrap()
}

#[test]
fn rfc6749_s2_3_1_basic_vectors() {
    assert_eq!(
        basic_auth_header_value("s6BhdRkqt3", &ClientSecret::new("gX1fBat3bV")),
        "Basic czZCaGRSa3F0MzpnWDFmQmF0M2JW"
    );
    assert_eq!(
        basic_auth_header_value("CLIENT_ID??", &ClientSecret::new("CLIENT_SECRET??")),
        "Basic Q0xJRU5UX0lEJTNGJTNGOkNMSUVOVF9TRUNSRVQlM0YlM0Y="
    );
    // SECURITY.md §3.8 G extra case (and §4.9 #85).
    assert_eq!(
        basic_auth_header_value("client id+&:", &ClientSecret::new("s3cr3t:%/é")),
        "Basic Y2xpZW50K2lkJTJCJTI2JTNBOnMzY3IzdCUzQSUyNSUyRiVDMyVBOQ=="
    );
}

#[test]
fn rfc6749_s4_1_3_authorization_code_request() {
    let req = TokenRequest::authorization_code(&token_endpoint(), &basic(), exchange(false))
        .build()
        .unwrap();
    assert_request(
        &req,
        TOKEN_URL,
        Some("Basic czZCaGRSa3F0MzpnWDFmQmF0M2JW"),
        "grant_type=authorization_code&code=SplxlOBeZQQYbYS6WxSbIA\
         &redirect_uri=https%3A%2F%2Fclient.example.com%2Fcb",
    );
}

#[test]
fn authorization_code_with_pkce_public_client() {
    let ex = exchange(true);
    let verifier = ex.pkce_verifier().unwrap().secret().to_owned();
    let req =
        TokenRequest::authorization_code(&token_endpoint(), &Client::public("s6BhdRkqt3"), ex)
            .build()
            .unwrap();
    assert_request(
        &req,
        TOKEN_URL,
        None,
        &format!(
            "grant_type=authorization_code&code=SplxlOBeZQQYbYS6WxSbIA\
             &redirect_uri=https%3A%2F%2Fclient.example.com%2Fcb&code_verifier={verifier}\
             &client_id=s6BhdRkqt3"
        ),
    );
}

/// PKCE-05 (RFC 7636 §4.5): the `code_verifier` of a code exchange is the one its pending
/// flow made, never one the caller supplies at exchange time: as an extra parameter (plain or
/// secret) it is refused, for a flow with PKCE and for one without it (which cannot be given
/// a verifier afterwards either).
#[test]
fn pkce_05_the_caller_cannot_supply_a_code_verifier() {
    let verifier = "a".repeat(43);
    for pkce in [true, false] {
        let client = Client::public("s6BhdRkqt3");
        for request in [
            TokenRequest::authorization_code(&token_endpoint(), &client, exchange(pkce))
                .param("code_verifier", verifier.as_str()),
            TokenRequest::authorization_code(&token_endpoint(), &client, exchange(pkce))
                .secret_param("code_verifier", &verifier),
        ] {
            assert_eq!(
                request.build().unwrap_err(),
                GrantError::ReservedParameter("code_verifier".into()),
                "PKCE {pkce}"
            );
        }
    }
}

#[test]
fn client_secret_post_puts_both_in_body_and_nothing_in_headers() {
    let client = Client::secret_post("s6BhdRkqt3", ClientSecret::new("gX1f Bat3bV&"));
    let req = TokenRequest::authorization_code(&token_endpoint(), &client, exchange(false))
        .build()
        .unwrap();
    assert_request(
        &req,
        TOKEN_URL,
        None,
        "grant_type=authorization_code&code=SplxlOBeZQQYbYS6WxSbIA\
         &redirect_uri=https%3A%2F%2Fclient.example.com%2Fcb\
         &client_id=s6BhdRkqt3&client_secret=gX1f+Bat3bV%26",
    );
}

#[test]
fn basic_auth_never_also_sends_the_secret_in_body_or_uri() {
    let req = TokenRequest::client_credentials(&token_endpoint(), &basic())
        .build()
        .unwrap();
    let body = std::str::from_utf8(req.body()).unwrap();
    assert!(!body.contains("client_secret") && !body.contains("gX1fBat3bV"));
    assert!(!req.uri().to_string().contains("gX1fBat3bV"));
}

#[test]
fn token_endpoint_query_is_kept() {
    let e = Endpoint::new("https://server.example.com/token?api-version=2").unwrap();
    let req = TokenRequest::client_credentials(&e, &basic())
        .build()
        .unwrap();
    assert_request(
        &req,
        "https://server.example.com/token?api-version=2",
        Some("Basic czZCaGRSa3F0MzpnWDFmQmF0M2JW"),
        "grant_type=client_credentials",
    );
}

#[test]
fn refresh_token_request_without_and_with_scope() {
    let rt = RefreshToken::new("tGzv3JOkF0XG5Qx2TlKWIA");
    let req = TokenRequest::refresh_token(&token_endpoint(), &basic(), &rt)
        .build()
        .unwrap();
    // RFC 6749 §6 example body.
    assert_request(
        &req,
        TOKEN_URL,
        Some("Basic czZCaGRSa3F0MzpnWDFmQmF0M2JW"),
        "grant_type=refresh_token&refresh_token=tGzv3JOkF0XG5Qx2TlKWIA",
    );
    let req = TokenRequest::refresh_token(&token_endpoint(), &Client::public("pub"), &rt)
        .scope(&Scope::parse("read"))
        .build()
        .unwrap();
    assert_request(
        &req,
        TOKEN_URL,
        None,
        "grant_type=refresh_token&refresh_token=tGzv3JOkF0XG5Qx2TlKWIA&scope=read&client_id=pub",
    );
}

/// An empty scope sends no `scope` (the grant's default, RFC 6749 §3.3), and as a second
/// call it takes back the first one's: the doc of `TokenRequest::scope`.
#[test]
fn an_empty_scope_sends_no_scope_parameter() {
    let rt = RefreshToken::new("tGzv3JOkF0XG5Qx2TlKWIA");
    for empty in ["", "   "] {
        let req = TokenRequest::refresh_token(&token_endpoint(), &Client::public("pub"), &rt)
            .scope(&Scope::parse("read"))
            .scope(&Scope::parse(empty))
            .build()
            .unwrap();
        assert_request(
            &req,
            TOKEN_URL,
            None,
            "grant_type=refresh_token&refresh_token=tGzv3JOkF0XG5Qx2TlKWIA&client_id=pub",
        );
    }
}

/// RFC 8705 §2: with mutual TLS client authentication the body names the client and nothing
/// else authenticates it (the TLS connector presents the certificate).
#[test]
fn mutual_tls_clients_send_their_id_only_rfc8705_s2() {
    for client in [
        Client::tls_client_auth("mtls-client"),
        Client::self_signed_tls_client_auth("mtls-client"),
    ] {
        let req = TokenRequest::client_credentials(&token_endpoint(), &client)
            .build()
            .unwrap();
        assert_request(
            &req,
            TOKEN_URL,
            None,
            "grant_type=client_credentials&client_id=mtls-client",
        );
    }
}

/// A token request says which client it authenticates as and which endpoint it goes to,
/// whatever the client authentication (with `client_secret_basic` the `client_id` is in the
/// header, not the body): a caller keys what it learns from the response (the token, a DPoP
/// nonce) on these, so they are the request's own values, not defaults.
#[test]
fn a_token_request_names_its_client_and_endpoint() {
    let endpoint = Endpoint::new("https://server.example.com/token?tenant=a").unwrap();
    for client in [
        basic(),
        Client::secret_post("post-client", ClientSecret::new("s")),
        Client::public("public client é"),
        Client::tls_client_auth("mtls-client"),
    ] {
        let request = TokenRequest::client_credentials(&endpoint, &client);
        assert_eq!(request.client_id(), client.id());
        assert_eq!(request.endpoint(), &endpoint);
    }
    let request = TokenRequest::refresh_token(&token_endpoint(), &basic(), &RefreshToken::new("r"));
    assert_eq!(request.client_id(), "s6BhdRkqt3");
    assert_eq!(request.endpoint().uri(), TOKEN_URL);
}

#[test]
fn client_credentials_request() {
    let req = TokenRequest::client_credentials(&token_endpoint(), &basic())
        .scope(&Scope::parse("reports:read reports:write"))
        .resource("https://api.example.com/")
        .build()
        .unwrap();
    assert_request(
        &req,
        TOKEN_URL,
        Some("Basic czZCaGRSa3F0MzpnWDFmQmF0M2JW"),
        "grant_type=client_credentials&scope=reports%3Aread+reports%3Awrite\
         &resource=https%3A%2F%2Fapi.example.com%2F",
    );
}

#[cfg(feature = "legacy")]
#[test]
#[allow(deprecated)]
fn password_request_rfc6749_s4_3_2() {
    let req = TokenRequest::password(
        &token_endpoint(),
        &basic(),
        "johndoe",
        &oauth_core::secret::ResourceOwnerPassword::new("A3ddj3w"),
    )
    .build()
    .unwrap();
    assert_request(
        &req,
        TOKEN_URL,
        Some("Basic czZCaGRSa3F0MzpnWDFmQmF0M2JW"),
        "grant_type=password&username=johndoe&password=A3ddj3w",
    );
}

#[test]
fn device_authorization_and_polling_requests_rfc8628() {
    let e = Endpoint::new("https://server.example.com/device_authorization").unwrap();
    let client = Client::public("1406020730");
    let req = DeviceAuthorizationRequest::new(&e, &client)
        .scope(&Scope::parse("example_scope"))
        .build()
        .unwrap();
    assert_request(
        &req,
        "https://server.example.com/device_authorization",
        None,
        "scope=example_scope&client_id=1406020730",
    );
    let req = TokenRequest::device_code(
        &token_endpoint(),
        &client,
        &DeviceCode::new("GmRhmhcxhwAzkoEqiMEg_DnyEysNkuNhszIySk9eS"),
    )
    .build()
    .unwrap();
    assert_request(
        &req,
        TOKEN_URL,
        None,
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Adevice_code\
         &device_code=GmRhmhcxhwAzkoEqiMEg_DnyEysNkuNhszIySk9eS&client_id=1406020730",
    );
}

/// RFC 7662 §2.1: the introspection request is a form `POST` of `token` and its
/// `token_type_hint`, authenticated like a token request (the example's Basic credentials and
/// access token).
#[test]
fn introspection_requests_rfc7662_s2_1() {
    use oauth_core::oauth2::introspection::IntrospectionRequest;
    use oauth_core::secret::AccessToken;
    const URL: &str = "https://server.example.com/introspect";
    let endpoint = Endpoint::new(URL).unwrap();
    let req = IntrospectionRequest::access_token(
        &endpoint,
        &basic(),
        &AccessToken::new("mF_9.B5f-4.1JqM"),
    )
    .build()
    .unwrap();
    assert_request(
        &req,
        URL,
        Some("Basic czZCaGRSa3F0MzpnWDFmQmF0M2JW"),
        "token=mF_9.B5f-4.1JqM&token_type_hint=access_token",
    );
    let req = IntrospectionRequest::refresh_token(
        &endpoint,
        &Client::public("s6BhdRkqt3"),
        &RefreshToken::new("tGzv3JOkF0XG5Qx2TlKWIA"),
    )
    .build()
    .unwrap();
    assert_request(
        &req,
        URL,
        None,
        "token=tGzv3JOkF0XG5Qx2TlKWIA&token_type_hint=refresh_token&client_id=s6BhdRkqt3",
    );
}

#[test]
fn token_exchange_request_rfc8693() {
    let req = TokenRequest::token_exchange(
        &token_endpoint(),
        &basic(),
        "accVkjcJyb4BWCxGsndESCJQbdFMogUC5PbRDqceLTC",
        "urn:ietf:params:oauth:token-type:access_token",
    )
    .resource("https://backend.example.com/api")
    .build()
    .unwrap();
    // RFC 8693 §2.3 example (resource before the subject token there; order is irrelevant).
    assert_request(
        &req,
        TOKEN_URL,
        Some("Basic czZCaGRSa3F0MzpnWDFmQmF0M2JW"),
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Atoken-exchange\
         &subject_token=accVkjcJyb4BWCxGsndESCJQbdFMogUC5PbRDqceLTC\
         &subject_token_type=urn%3Aietf%3Aparams%3Aoauth%3Atoken-type%3Aaccess_token\
         &resource=https%3A%2F%2Fbackend.example.com%2Fapi",
    );
}

#[test]
fn jwt_bearer_and_generic_extension_requests() {
    let req = TokenRequest::jwt_bearer(
        &token_endpoint(),
        &Client::public("c"),
        "eyJhbGci.eyJpc3Mi.sig",
    )
    .build()
    .unwrap();
    assert_request(
        &req,
        TOKEN_URL,
        None,
        "grant_type=urn%3Aietf%3Aparams%3Aoauth%3Agrant-type%3Ajwt-bearer\
         &assertion=eyJhbGci.eyJpc3Mi.sig&client_id=c",
    );
    let req = TokenRequest::extension(&token_endpoint(), &basic(), "urn:example:grant")
        .secret_param("ticket", "T-1")
        .param("audience", "api")
        .build()
        .unwrap();
    assert_request(
        &req,
        TOKEN_URL,
        Some("Basic czZCaGRSa3F0MzpnWDFmQmF0M2JW"),
        "grant_type=urn%3Aexample%3Agrant&ticket=T-1&audience=api",
    );
}

#[test]
fn utf8_values_are_percent_encoded() {
    let req = TokenRequest::client_credentials(&token_endpoint(), &Client::public("clïent"))
        .build()
        .unwrap();
    assert_eq!(
        std::str::from_utf8(req.body()).unwrap(),
        "grant_type=client_credentials&client_id=cl%C3%AFent"
    );
}

mod device_response {
    use std::time::{Duration, UNIX_EPOCH};

    use http::{HeaderMap, HeaderValue, StatusCode, header::CONTENT_TYPE};
    use oauth_core::oauth2::{
        Compliance, PollAction, TokenResponseError, parse_device_authorization_response,
        parse_token_response,
    };

    fn headers() -> HeaderMap {
        let mut h = HeaderMap::new();
        h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
        h
    }

    #[test]
    fn rfc8628_s3_2_response_and_polling() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let body = br#"{"device_code":"GmRhmhcxhwAzkoEqiMEg_DnyEysNkuNhszIySk9eS",
            "user_code":"WDJB-MJHT","verification_uri":"https://example.com/device",
            "verification_uri_complete":"https://example.com/device?user_code=WDJB-MJHT",
            "expires_in":1800}"#;
        let mut d = parse_device_authorization_response(
            StatusCode::OK,
            &headers(),
            body,
            now,
            &Compliance::strict(),
        )
        .unwrap();
        assert_eq!(d.interval(), Duration::from_secs(5));
        assert_eq!(d.expires_at(), now + Duration::from_secs(1800));
        assert_eq!(d.verification_uri(), "https://example.com/device");
        let err = |code: &str| {
            parse_token_response(
                StatusCode::BAD_REQUEST,
                &headers(),
                format!(r#"{{"error":"{code}"}}"#).as_bytes(),
                now,
                &Compliance::strict(),
            )
            .unwrap_err()
        };
        assert_eq!(
            d.on_poll_error(&err("authorization_pending"), now),
            PollAction::Wait(Duration::from_secs(5))
        );
        assert_eq!(
            d.on_poll_error(&err("slow_down"), now),
            PollAction::Wait(Duration::from_secs(10))
        );
        assert_eq!(
            d.on_poll_error(&err("authorization_pending"), now),
            PollAction::Wait(Duration::from_secs(10))
        );
        assert_eq!(
            d.on_poll_error(&err("access_denied"), now),
            PollAction::Stop
        );
        assert_eq!(
            d.on_poll_error(&err("expired_token"), now),
            PollAction::Stop
        );
        assert_eq!(
            d.on_poll_error(
                &err("authorization_pending"),
                now + Duration::from_secs(1800)
            ),
            PollAction::Stop
        );
    }

    fn rfc8628_example(now: std::time::SystemTime) -> oauth_core::oauth2::DeviceAuthorization {
        parse_device_authorization_response(
            StatusCode::OK,
            &headers(),
            br#"{"device_code":"GmRhmhcxhwAzkoEqiMEg_DnyEysNkuNhszIySk9eS",
                "user_code":"WDJB-MJHT","verification_uri":"https://example.com/device",
                "verification_uri_complete":"https://example.com/device?user_code=WDJB-MJHT",
                "expires_in":1800,"interval":5}"#,
            now,
            &Compliance::strict(),
        )
        .unwrap()
    }

    /// RFC 8628 §3.2's example: the user code to show is the response's, the device code the
    /// one the poll sends; which token endpoint and client the code belongs to is unknown
    /// until recorded, and then kept.
    #[test]
    fn rfc8628_s3_2_user_code_device_code_and_recorded_issuer() {
        use oauth_core::oauth2::IssuedTo;
        let d = rfc8628_example(UNIX_EPOCH);
        assert_eq!(d.user_code(), "WDJB-MJHT");
        assert_eq!(
            d.device_code().secret(),
            "GmRhmhcxhwAzkoEqiMEg_DnyEysNkuNhszIySk9eS"
        );
        assert_eq!(d.issued_to(), None);
        let here = IssuedTo::new("https://example.com/token", "1406020730");
        let d = d.with_issued_to(Some(here.clone()));
        assert_eq!(d.issued_to(), Some(&here));
    }

    /// A poll that fails for a passing reason (a 5xx or 429 status, `temporarily_unavailable`)
    /// does not end the flow while the device code is unexpired: the client polls again after
    /// the interval (RFC 8628 §3.5 has polling stop on `access_denied` and `expired_token`).
    #[test]
    fn transient_poll_failures_wait_one_interval() {
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let mut d = rfc8628_example(now);
        for (status, body) in [
            (
                StatusCode::SERVICE_UNAVAILABLE,
                r#"{"error":"temporarily_unavailable"}"#,
            ),
            (
                StatusCode::BAD_REQUEST,
                r#"{"error":"temporarily_unavailable"}"#,
            ),
            (StatusCode::TOO_MANY_REQUESTS, r#"{"error":"rate_limited"}"#),
            (StatusCode::BAD_GATEWAY, "<html>bad gateway</html>"),
        ] {
            let err = parse_token_response(
                status,
                &headers(),
                body.as_bytes(),
                now,
                &Compliance::strict(),
            )
            .unwrap_err();
            assert_eq!(
                d.on_poll_error(&err, now),
                PollAction::Wait(Duration::from_secs(5)),
                "{status} {body}"
            );
        }
        // But not once the device code has expired.
        let err = parse_token_response(
            StatusCode::SERVICE_UNAVAILABLE,
            &headers(),
            br#"{"error":"temporarily_unavailable"}"#,
            now,
            &Compliance::strict(),
        )
        .unwrap_err();
        assert_eq!(
            d.on_poll_error(&err, now + Duration::from_secs(1800)),
            PollAction::Stop
        );
    }

    /// The `Debug` of a device authorization shows what is safe to log (where the user goes,
    /// the timing, the recorded issuer) and redacts the device code, the user code and the
    /// complete URI, which carries the user code.
    #[test]
    fn device_authorization_debug_shows_its_public_parts_only() {
        let d = rfc8628_example(UNIX_EPOCH).with_issued_to(Some(
            oauth_core::oauth2::IssuedTo::new("https://example.com/token", "1406020730"),
        ));
        let shown = format!("{d:?}");
        for part in [
            "DeviceAuthorization",
            "verification_uri: \"https://example.com/device\"",
            "verification_uri_complete: Some(\"[redacted]\")",
            "user_code: \"[redacted]\"",
            "interval: 5s",
            "expires_at",
            "https://example.com/token",
        ] {
            assert!(shown.contains(part), "{part} not in {shown}");
        }
        for secret in ["GmRhmhcxhwAzkoEqiMEg", "WDJB-MJHT"] {
            assert!(!shown.contains(secret), "{secret} in {shown}");
        }
    }

    /// Google's device endpoint sends `verification_url` instead of RFC 8628's
    /// `verification_uri`: it is taken when `verification_uri` is absent (or empty), under the
    /// same rules (a non-empty string); `verification_uri` wins when both are sent, and a
    /// response with neither is still missing `verification_uri`.
    #[test]
    fn google_verification_url_stands_in_for_verification_uri() {
        let parse = |fields: &str| {
            let body = format!(r#"{{"device_code":"d","user_code":"u",{fields}"expires_in":10}}"#);
            parse_device_authorization_response(
                StatusCode::OK,
                &headers(),
                body.as_bytes(),
                UNIX_EPOCH,
                &Compliance::strict(),
            )
        };
        let uri = |fields: &str| parse(fields).map(|d| d.verification_uri().to_owned());
        let google = "https://www.google.com/device";
        assert_eq!(
            uri(r#""verification_url":"https://www.google.com/device","#).as_deref(),
            Ok(google)
        );
        assert_eq!(
            uri(r#""verification_uri":"","verification_url":"https://www.google.com/device","#)
                .as_deref(),
            Ok(google)
        );
        assert_eq!(
            uri(r#""verification_url":"https://e/url","verification_uri":"https://e/uri","#)
                .as_deref(),
            Ok("https://e/uri")
        );
        // `verification_uri` wins: a `verification_url` beside it is not looked at.
        assert_eq!(
            uri(r#""verification_uri":"https://e/uri","verification_url":7,"#).as_deref(),
            Ok("https://e/uri")
        );
        let d = parse(
            r#""verification_url":"https://e/d","verification_uri_complete":"https://e/d?c=u","#,
        )
        .unwrap();
        assert_eq!(d.verification_uri_complete(), Some("https://e/d?c=u"));
        assert_eq!(
            uri(r#""verification_url":7,"#),
            Err(TokenResponseError::InvalidField {
                field: "verification_url",
                expected: "a string"
            })
        );
        for fields in [
            "",
            r#""verification_url":"","#,
            r#""verification_url":null,"#,
        ] {
            assert_eq!(
                uri(fields),
                Err(TokenResponseError::MissingField {
                    field: "verification_uri"
                }),
                "{fields}"
            );
        }
    }

    #[test]
    fn rfc8628_missing_fields_are_typed() {
        let err = parse_device_authorization_response(
            StatusCode::OK,
            &headers(),
            br#"{"device_code":"d","verification_uri":"https://e/d","expires_in":10}"#,
            UNIX_EPOCH,
            &Compliance::strict(),
        )
        .unwrap_err();
        assert_eq!(err, TokenResponseError::MissingField { field: "user_code" });
        let err = parse_device_authorization_response(
            StatusCode::OK,
            &headers(),
            br#"{"device_code":"d","user_code":"u","verification_uri":"https://e/d"}"#,
            UNIX_EPOCH,
            &Compliance::strict(),
        )
        .unwrap_err();
        assert_eq!(
            err,
            TokenResponseError::MissingField {
                field: "expires_in"
            }
        );
    }
}

/// RFC 7523 §2.2: `private_key_jwt` puts `client_assertion_type` and a signed, fresh
/// `client_assertion` in the body (after `client_id`), and no `Authorization` header.
#[test]
fn private_key_jwt_client_authentication_rfc7523_s2_2() {
    use base64::Engine as _;
    use base64::engine::general_purpose::URL_SAFE_NO_PAD;
    use oauth_core::clock::ManualClock;
    use oauth_core::oauth1::RsaPrivateKey;
    use oauth_core::oauth2::PrivateKeyJwt;

    let pem = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/vectors/oauth1/test_rsa_2048_pkcs8.pem"
    ))
    .unwrap();
    let key = PrivateKeyJwt::rs256(RsaPrivateKey::from_pem(&pem).unwrap())
        .key_id("k1")
        .clock(ManualClock::at_unix_seconds(1_700_000_000))
        .random(CountingRandom::new(9));
    let client = Client::private_key_jwt("s6BhdRkqt3", key);
    let debug = format!("{client:?}");
    assert!(
        debug.contains("[redacted]") && !debug.contains("MII"),
        "{debug}"
    );

    let first = TokenRequest::client_credentials(&token_endpoint(), &client)
        .build()
        .unwrap();
    let second = TokenRequest::client_credentials(&token_endpoint(), &client)
        .build()
        .unwrap();
    let body = std::str::from_utf8(first.body()).unwrap();
    let prefix = "grant_type=client_credentials&client_id=s6BhdRkqt3\
        &client_assertion_type=urn%3Aietf%3Aparams%3Aoauth%3Aclient-assertion-type%3Ajwt-bearer\
        &client_assertion=";
    assert!(body.starts_with(prefix), "{body}");
    let jws = &body[prefix.len()..];
    assert!(!jws.contains('&'));
    let claims: serde_json::Value = serde_json::from_slice(
        &URL_SAFE_NO_PAD
            .decode(jws.split('.').nth(1).unwrap())
            .unwrap(),
    )
    .unwrap();
    assert_eq!(claims["aud"], TOKEN_URL);
    assert_eq!(claims["iss"], "s6BhdRkqt3");
    assert_eq!(claims["sub"], "s6BhdRkqt3");
    assert!(!first.headers().contains_key("authorization"));
    // A new assertion (new jti) for every request: servers refuse a replayed one.
    assert_ne!(first.body(), second.body());
    // A caller cannot add a second assertion.
    let err = TokenRequest::client_credentials(&token_endpoint(), &client)
        .param("client_assertion", "x")
        .build()
        .unwrap_err();
    assert_eq!(
        err,
        oauth_core::oauth2::GrantError::ReservedParameter("client_assertion".into())
    );
}

/// A code is redeemed only by the client it was requested for (RFC 6749 §4.1.3): exchanged as
/// another client (a flow mixed up between two servers or clients), the request is not built,
/// so the code and its PKCE verifier go nowhere. A flow stored before the client id was
/// recorded still works.
#[test]
fn a_code_is_exchanged_only_by_the_client_it_was_requested_for() {
    let token = Endpoint::new("https://server.example.com/token").unwrap();
    let other = Client::secret_basic("another-client", ClientSecret::new("s"));
    assert_eq!(exchange(true).client_id(), Some("s6BhdRkqt3"));
    let err = TokenRequest::authorization_code(&token, &other, exchange(true))
        .build()
        .unwrap_err();
    assert_eq!(err, GrantError::CodeForAnotherClient);
    let own = Client::secret_basic("s6BhdRkqt3", ClientSecret::new("s"));
    TokenRequest::authorization_code(&token, &own, exchange(true))
        .build()
        .unwrap();

    // A pending authorization stored without `client_id` (an older version) is exchanged as
    // before; one stored now keeps it.
    let authorize = Endpoint::new("https://server.example.com/authorize").unwrap();
    let redirect = RedirectUri::new("https://client.example.com/cb").unwrap();
    let (_, pending) = AuthorizationRequest::new(&authorize, "s6BhdRkqt3", &redirect)
        .dangerous_custom_state("xyz")
        .build(&CountingRandom::new(1))
        .unwrap();
    let mut stored: serde_json::Value = serde_json::to_value(&pending).unwrap();
    assert_eq!(stored["client_id"], "s6BhdRkqt3");
    stored.as_object_mut().unwrap().remove("client_id");
    let old: oauth_core::oauth2::PendingAuthorization = serde_json::from_value(stored).unwrap();
    let code = old
        .parse_callback("https://client.example.com/cb?code=c&state=xyz")
        .unwrap();
    assert_eq!(code.client_id(), None);
    TokenRequest::authorization_code(&token, &other, code)
        .build()
        .unwrap();
}

/// RFC 8707 §2: a `resource` MUST be an absolute URI, with no fragment; the token request
/// carrying one that is not is refused before it goes out.
#[test]
fn a_resource_must_be_an_absolute_uri_without_a_fragment_rfc8707_s2() {
    for bad in ["api", "/api", "https://api.example.com/#part", ""] {
        assert!(
            TokenRequest::client_credentials(&token_endpoint(), &basic())
                .resource(bad)
                .build()
                .is_err(),
            "{bad:?}"
        );
    }
    for good in [
        "https://api.example.com/v1?tenant=a",
        "urn:example:resource",
    ] {
        assert!(
            TokenRequest::client_credentials(&token_endpoint(), &basic())
                .resource(good)
                .build()
                .is_ok(),
            "{good:?}"
        );
    }
}

/// R6749-07 (RFC 6749 §4.1.3, §10.6): the token request repeats the authorization request's
/// `redirect_uri` byte for byte as configured (its case, default port, escapes and query
/// kept, nothing normalised), taken from the pending flow: both requests carry one identical
/// string.
#[test]
fn r6749_07_the_token_request_repeats_the_redirect_uri_byte_for_byte() {
    use oauth_core::encode::form_decode;
    let configured = "https://Client.Example.com:443/cb/%7Euser?x=%2Fy&y=a+b";
    let authorize = Endpoint::new("https://server.example.com/authorize").unwrap();
    let redirect = RedirectUri::new(configured).unwrap();
    let (url, pending) = AuthorizationRequest::new(&authorize, "s6BhdRkqt3", &redirect)
        .dangerous_custom_state("xyz")
        .build(&CountingRandom::new(1))
        .unwrap();
    let sent = |query: &str| -> Vec<String> {
        form_decode(query)
            .unwrap()
            .into_iter()
            .filter(|(name, _)| name == "redirect_uri")
            .map(|(_, value)| value)
            .collect()
    };
    assert_eq!(sent(url.query().unwrap()), [configured]);
    let exchange = pending
        .parse_callback(&format!(
            "{configured}&code=SplxlOBeZQQYbYS6WxSbIA&state=xyz"
        ))
        .unwrap();
    let req = TokenRequest::authorization_code(&token_endpoint(), &basic(), exchange)
        .build()
        .unwrap();
    assert_eq!(sent(std::str::from_utf8(req.body()).unwrap()), [configured]);
}
