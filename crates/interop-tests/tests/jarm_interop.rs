//! Signed authorization responses (JARM, `response_mode=query.jwt`) against the real npm
//! `oidc-provider` (`features.jwtResponseModes`), for the `interop-jarm*` clients, which may
//! use no other response mode: the callback's `response` JWT (RS256, EdDSA) verifies with the
//! provider's published JWK set (`IdTokenValidator::parse_signed_callback`), the code is
//! exchanged and the ID token validates; the same through JAR and PAR (the FAPI 2.0 Message
//! Signing shape); an edited response, or a plain `?code=...&state=...` instead of it, is
//! refused before any token request; a denial comes back signed and is `AuthorizationDenied`.
//! Loopback only; every test is bounded in time.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::api::{Server, bounded, http, stat, stats};
use common::code_flow::{self, follow_to_redirect_uri};
use common::scenarios::grants;
use interop_tests::OidcProvider;
use interop_tests::oidc::{
    DENY_LOGIN_HINT, JARM_CLIENT_ID, JARM_CLIENT_SECRET, JARM_PKJWT_CLIENT_ID,
    LOOPBACK_REDIRECT_URI, TEST_USER,
};
use oauth_core::clock::SystemRandom;
use oauth_core::oauth2::{
    AuthorizationRequest, AuthorizationServerMetadata, CallbackError, Client, EcP256PrivateKey,
    ErrorCode, PendingAuthorization, PrivateKeyJwt, RedirectUri, Scope, SignedResponseError,
    Transport,
};
use oauth_core::secret::ClientSecret;
use serde_json::Value;
use tower_oauth2::client::{IdTokenValidator, SignedCallbackError};

async fn start() -> OidcProvider {
    OidcProvider::start_with_token_lifetime(Duration::from_secs(60)).await
}

fn redirect() -> RedirectUri {
    RedirectUri::with_transport(LOOPBACK_REDIRECT_URI, Transport::AllowLoopbackHttp).unwrap()
}

/// `interop-jarm-pkjwt`'s key (`keys/ec_p256_pkcs8.pem`), named by the client id.
fn pkjwt_key() -> PrivateKeyJwt {
    let pem = std::fs::read_to_string(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/keys/ec_p256_pkcs8.pem"
    ))
    .unwrap();
    PrivateKeyJwt::es256(EcP256PrivateKey::from_pem(&pem).unwrap()).key_id(JARM_PKJWT_CLIENT_ID)
}

fn basic_client() -> Client {
    Client::secret_basic(JARM_CLIENT_ID, ClientSecret::new(JARM_CLIENT_SECRET))
}

/// The code flow's request for `client_id` from discovery (scope `openid api:read`, a nonce,
/// a signed response), adjusted by `adjust`.
fn request(
    metadata: &AuthorizationServerMetadata,
    client_id: &str,
    adjust: impl FnOnce(AuthorizationRequest) -> AuthorizationRequest,
) -> AuthorizationRequest {
    let request = AuthorizationRequest::from_metadata(metadata, client_id, &redirect())
        .unwrap()
        .scope(Scope::parse("openid api:read"))
        .oidc_nonce()
        .signed_response();
    adjust(request)
}

/// The URL's query parameters.
fn query(url: &str) -> Vec<(String, String)> {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    form_urlencoded::parse(query.as_bytes())
        .map(|(n, v)| (n.into_owned(), v.into_owned()))
        .collect()
}

/// The callback's `response` JWT: its header and its claims. The callback carries nothing else.
fn response_jwt(callback: &str) -> (String, Value, Value) {
    let params = query(callback);
    let names: Vec<&str> = params.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(
        names,
        ["response"],
        "the callback carries only the signed response"
    );
    let jwt = params[0].1.clone();
    let part = |i: usize| -> Value {
        let segment = jwt.split('.').nth(i).unwrap();
        serde_json::from_slice(&URL_SAFE_NO_PAD.decode(segment).unwrap()).unwrap()
    };
    let (header, claims) = (part(0), part(1));
    (jwt, header, claims)
}

/// Discovery lists `query.jwt` and the signing algorithms; for `interop-jarm` (RS256) the
/// callback is `?response=<JWT>` whose claims are the provider's `iss`, the client as `aud`, an
/// `exp`, the code and the flow's state; it verifies with the provider's JWK set, the code is
/// exchanged and the ID token validates (nonce included). The same client asking for a plain
/// response gets no code: the provider holds it to signed responses.
#[tokio::test(flavor = "multi_thread")]
async fn a_signed_response_completes_the_code_flow() {
    bounded(async {
        let provider = start().await;
        let metadata = code_flow::metadata(&provider).await;
        assert!(
            metadata
                .response_modes_supported()
                .iter()
                .any(|m| m == "query.jwt"),
            "{:?}",
            metadata.response_modes_supported()
        );
        let algs = metadata.authorization_signing_alg_values_supported();
        for alg in ["RS256", "EdDSA"] {
            assert!(algs.iter().any(|a| a == alg), "{alg}: {algs:?}");
        }
        let (url, pending) = request(&metadata, JARM_CLIENT_ID, |r| r)
            .build(&SystemRandom::new())
            .unwrap();
        assert!(query(&url.to_string()).contains(&("response_mode".into(), "query.jwt".into())));
        let state = pending.state().to_owned();
        let callback = follow_to_redirect_uri(&url.to_string(), LOOPBACK_REDIRECT_URI).await;
        let (_, header, claims) = response_jwt(&callback);
        assert_eq!(header["alg"], "RS256");
        assert_eq!(claims["iss"], provider.issuer().as_str());
        assert_eq!(claims["aud"], JARM_CLIENT_ID);
        assert!(claims["exp"].is_u64() && claims["code"].is_string());
        assert_eq!(claims["state"], state.as_str());

        let validator = IdTokenValidator::from_metadata(http(), &metadata, JARM_CLIENT_ID).unwrap();
        let exchange = validator
            .parse_signed_callback(pending, &callback)
            .await
            .unwrap();
        let (token, id_claims) = validator
            .exchange_code(&grants(&provider, basic_client()), exchange)
            .await
            .unwrap();
        assert_eq!(id_claims.sub(), TEST_USER);
        assert!(token.scope().unwrap().to_set().contains("api:read"));

        // A plain response for this client: refused by the provider with an (unsigned)
        // `invalid_request` before any sign-in, no code. That unsigned answer is no signed
        // response either: the flow refuses it.
        let (url, pending) = request(&metadata, JARM_CLIENT_ID, |r| r)
            .build(&SystemRandom::new())
            .unwrap();
        let plain = url.to_string().replace("&response_mode=query.jwt", "");
        assert!(!plain.contains("response_mode"));
        let response = common::get(&plain, &[]).await;
        assert!(response.status.is_redirection(), "{}", response.status);
        let location = response.header("location").unwrap().to_owned();
        let params = query(&location);
        assert!(
            params.contains(&("error".into(), "invalid_request".into())),
            "{params:?}"
        );
        assert!(!params.iter().any(|(n, _)| n == "code" || n == "response"));
        assert_eq!(
            pending.parse_callback(&location).unwrap_err(),
            CallbackError::SignedResponseRequired
        );
        let counts = stats(&provider).await;
        assert_eq!(stat(&counts, "interaction_ok"), 1, "{counts}");
        assert_eq!(stat(&counts, "grant_authorization_code_ok"), 1, "{counts}");
    })
    .await;
}

/// JAR and PAR with a signed response, for `interop-jarm-pkjwt` (EdDSA responses): the
/// `response_mode` goes inside the signed request object, in the URL and pushed; both flows
/// complete through the signed response, the `private_key_jwt` exchange and the ID token.
#[tokio::test(flavor = "multi_thread")]
async fn jar_and_par_with_a_signed_response_complete_the_code_flow() {
    bounded(async {
        let provider = start().await;
        let metadata = code_flow::metadata(&provider).await;
        let par = metadata
            .pushed_authorization_request_endpoint()
            .unwrap()
            .clone();
        let grants = grants(
            &provider,
            Client::private_key_jwt(JARM_PKJWT_CLIENT_ID, pkjwt_key()),
        );
        let validator =
            IdTokenValidator::from_metadata(http(), &metadata, JARM_PKJWT_CLIENT_ID).unwrap();
        for pushed in [false, true] {
            let request = request(&metadata, JARM_PKJWT_CLIENT_ID, |r| {
                r.signed_request(pkjwt_key())
            });
            let (url, pending) = if pushed {
                grants.push_authorization(request, &par).await.unwrap()
            } else {
                request.build(&SystemRandom::new()).unwrap()
            };
            let names: Vec<String> = query(&url.to_string())
                .into_iter()
                .map(|(n, _)| n)
                .collect();
            let expected = if pushed { "request_uri" } else { "request" };
            assert_eq!(names, ["client_id", expected]);
            let callback = follow_to_redirect_uri(&url.to_string(), LOOPBACK_REDIRECT_URI).await;
            let (_, header, claims) = response_jwt(&callback);
            assert_eq!(header["alg"], "EdDSA", "pushed: {pushed}");
            assert_eq!(claims["aud"], JARM_PKJWT_CLIENT_ID);
            let exchange = validator
                .parse_signed_callback(pending, &callback)
                .await
                .unwrap();
            let (token, id_claims) = validator.exchange_code(&grants, exchange).await.unwrap();
            assert_eq!(id_claims.sub(), TEST_USER);
            assert!(token.scope().unwrap().to_set().contains("api:read"));
        }
        let counts = stats(&provider).await;
        assert_eq!(stat(&counts, "grant_authorization_code_ok"), 2, "{counts}");
    })
    .await;
}

/// The same stored flow, read back (a copy for each attempt at one callback).
fn copy(pending: &PendingAuthorization) -> PendingAuthorization {
    serde_json::from_str(&serde_json::to_string(pending).unwrap()).unwrap()
}

/// A real signed response with one character of its code changed, the response replaced by
/// a plain `?code=...&state=...&iss=...` made of its own claims (a downgrade), or the response
/// with an unsigned `code` beside it: each refused, and no token request is sent. The genuine
/// callback then completes (the refusals spent nothing).
#[tokio::test(flavor = "multi_thread")]
async fn an_edited_or_downgraded_response_is_refused_before_any_token_request() {
    bounded(async {
        let provider = start().await;
        let metadata = code_flow::metadata(&provider).await;
        let validator = IdTokenValidator::from_metadata(http(), &metadata, JARM_CLIENT_ID).unwrap();
        let (url, pending) = request(&metadata, JARM_CLIENT_ID, |r| r)
            .build(&SystemRandom::new())
            .unwrap();
        let callback = follow_to_redirect_uri(&url.to_string(), LOOPBACK_REDIRECT_URI).await;
        let (jwt, _, claims) = response_jwt(&callback);
        let code = claims["code"].as_str().unwrap().to_owned();

        // One character of the payload's code changed; the signature kept.
        let mut edited = claims.clone();
        let last = code.chars().last().unwrap();
        let other = if last == 'A' { 'B' } else { 'A' };
        edited["code"] = format!("{}{other}", &code[..code.len() - 1]).into();
        let mut parts: Vec<String> = jwt.split('.').map(str::to_owned).collect();
        parts[1] = URL_SAFE_NO_PAD.encode(edited.to_string());
        let tampered = format!("{LOOPBACK_REDIRECT_URI}?response={}", parts.join("."));
        let refused = validator
            .parse_signed_callback(copy(&pending), &tampered)
            .await;
        assert!(
            matches!(
                refused,
                Err(SignedCallbackError::Callback(
                    CallbackError::SignedResponse(SignedResponseError::BadSignature)
                ))
            ),
            "{refused:?}"
        );

        // The downgrade: the response's own code and state, unsigned.
        let plain = format!(
            "{LOOPBACK_REDIRECT_URI}?code={code}&state={}&iss={}",
            form_urlencoded::byte_serialize(claims["state"].as_str().unwrap().as_bytes())
                .collect::<String>(),
            form_urlencoded::byte_serialize(provider.issuer().as_bytes()).collect::<String>()
        );
        let refused = validator
            .parse_signed_callback(copy(&pending), &plain)
            .await;
        assert!(
            matches!(
                refused,
                Err(SignedCallbackError::Callback(
                    CallbackError::SignedResponseRequired
                ))
            ),
            "{refused:?}"
        );
        assert_eq!(
            copy(&pending).parse_callback(&plain).unwrap_err(),
            CallbackError::SignedResponseRequired
        );
        // The response with an unsigned code beside it.
        let mixed = format!("{callback}&code={code}");
        let refused = validator
            .parse_signed_callback(copy(&pending), &mixed)
            .await;
        assert!(
            matches!(
                refused,
                Err(SignedCallbackError::Callback(
                    CallbackError::ParameterOutsideSignedResponse { .. }
                ))
            ),
            "{refused:?}"
        );
        // Nothing reached the token endpoint, and nothing printed the code.
        for error in [&tampered, &plain, &mixed] {
            let text = format!(
                "{:?}",
                validator.parse_signed_callback(copy(&pending), error).await
            );
            assert!(!text.contains(&code), "{text}");
        }
        assert_eq!(stat(&stats(&provider).await, "token_requests"), 0);

        // The genuine callback still completes.
        let exchange = validator
            .parse_signed_callback(pending, &callback)
            .await
            .unwrap();
        let (_, id_claims) = validator
            .exchange_code(&grants(&provider, basic_client()), exchange)
            .await
            .unwrap();
        assert_eq!(id_claims.sub(), TEST_USER);
        assert_eq!(stat(&stats(&provider).await, "token_requests"), 1);
    })
    .await;
}

/// The user denies (the test provider's interaction does for `login_hint=interop-deny`): the
/// provider's `access_denied` comes back inside a signed response, which verifies, and is
/// `AuthorizationDenied`; no token request follows.
#[tokio::test(flavor = "multi_thread")]
async fn a_denial_comes_back_signed() {
    bounded(async {
        let provider = start().await;
        let metadata = code_flow::metadata(&provider).await;
        let validator = IdTokenValidator::from_metadata(http(), &metadata, JARM_CLIENT_ID).unwrap();
        let (url, pending) = request(&metadata, JARM_CLIENT_ID, |r| {
            r.param("login_hint", DENY_LOGIN_HINT)
        })
        .build(&SystemRandom::new())
        .unwrap();
        let callback = follow_to_redirect_uri(&url.to_string(), LOOPBACK_REDIRECT_URI).await;
        let (_, _, claims) = response_jwt(&callback);
        assert_eq!(claims["error"], "access_denied");
        assert!(claims.get("code").is_none());
        match validator.parse_signed_callback(pending, &callback).await {
            Err(SignedCallbackError::Callback(CallbackError::AuthorizationDenied(e))) => {
                assert_eq!(e.code, ErrorCode::AccessDenied);
            }
            other => panic!("{other:?}"),
        }
        let counts = stats(&provider).await;
        assert_eq!(stat(&counts, "interaction_denied"), 1, "{counts}");
        assert_eq!(stat(&counts, "token_requests"), 0, "{counts}");
    })
    .await;
}
