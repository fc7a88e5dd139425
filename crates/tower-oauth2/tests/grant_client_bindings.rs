//! What the grant client sends where: a token goes back only to the server and client it was
//! issued to, a grant parameter is sent once, and errors name the endpoint that failed
//! (review 13; each test failed before its fix).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use oauth_core::oauth2::{Client, Endpoint, IssuedTo, Token, TokenRequest, TokenType};
use oauth_core::secret::{AccessToken, ClientSecret, RefreshToken};
use tower::BoxError;
use tower::util::BoxCloneSyncService;
use tower_oauth2::GrantClient;
use tower_oauth2::client::GrantClientErrorKind;

mod common;
use common::json_response;

type Svc = BoxCloneSyncService<Request<Full<Bytes>>, Response<Full<Bytes>>, BoxError>;

/// Every request the fake authorization server received: (URI, body).
type Seen = Arc<Mutex<Vec<(String, String)>>>;

/// An authorization server that records each request and answers 200 with `body`.
fn recording_server(body: &'static str) -> (Svc, Seen) {
    recording_server_answering(move |_| json_response(200, body))
}

/// A grant client of the public client `s6BhdRkqt3` whose token endpoint records every request
/// and answers each with a Bearer token.
fn public_client_grants() -> (GrantClient<Svc>, Seen) {
    let (svc, seen) = recording_server(r#"{"access_token":"at","token_type":"Bearer"}"#);
    let grants = GrantClient::new(
        svc,
        Endpoint::new("https://as.example.com/token").unwrap(),
        Client::public("s6BhdRkqt3"),
    );
    (grants, seen)
}

/// An authorization server that records each request (its URI and body) and answers it with
/// `answer(uri)`.
fn recording_server_answering(
    answer: impl Fn(&str) -> Response<Full<Bytes>> + Clone + Send + Sync + 'static,
) -> (Svc, Seen) {
    let seen: Seen = Arc::default();
    let log = seen.clone();
    let svc = tower::service_fn(move |req: Request<Full<Bytes>>| {
        let (log, answer) = (log.clone(), answer.clone());
        async move {
            let uri = req.uri().to_string();
            let bytes = req.into_body().collect().await.unwrap().to_bytes();
            let response = answer(&uri);
            log.lock()
                .unwrap()
                .push((uri, String::from_utf8_lossy(&bytes).into_owned()));
            Ok::<_, BoxError>(response)
        }
    });
    (BoxCloneSyncService::new(svc), seen)
}

const FOREIGN_REFRESH: &str = "SENTINEL-refresh-token-of-the-other-server";

/// `GrantClient::revoke` refuses a token recorded as issued by another token endpoint or to
/// another client, with nothing sent, as `RefreshFetcher` does (RFC 6749 §10.4: a refresh token
/// goes back only to the server and client it was issued to). It used to send its refresh token
/// to this client's revocation endpoint.
#[tokio::test]
async fn revoke_never_sends_a_token_issued_elsewhere() {
    let (svc, seen) = recording_server("{}");
    let here = GrantClient::new(
        svc,
        Endpoint::new("https://as.example.com/token").unwrap(),
        Client::secret_basic("client", ClientSecret::new("s")),
    );
    let foreign = Token::new(AccessToken::new("at"), TokenType::Bearer)
        .with_refresh_token(Some(RefreshToken::new(FOREIGN_REFRESH)))
        .with_issued_to(Some(IssuedTo::new(
            "https://other-as.example.com/token",
            "client",
        )));
    let revocation = Endpoint::new("https://as.example.com/revoke").unwrap();

    let result = here.revoke(&revocation, &foreign).await;

    let sent = seen.lock().unwrap().clone();
    let leaked = sent.iter().any(|(_, body)| body.contains(FOREIGN_REFRESH));
    assert!(
        !leaked,
        "the refresh token issued by https://other-as.example.com was sent to {:?} (result: {:?})",
        sent.iter().map(|(u, _)| u).collect::<Vec<_>>(),
        result.map_err(|e| e.to_string())
    );
    assert!(
        result.is_err(),
        "revoking a foreign token should be refused"
    );
}

/// Counts `name=` parameters in a form body.
fn count_param(body: &[u8], name: &str) -> usize {
    std::str::from_utf8(body)
        .unwrap()
        .split('&')
        .filter(|pair| pair.split('=').next() == Some(name))
        .count()
}

/// An extra parameter (`param`, `secret_param`) naming one the request's own grant set
/// (`subject_token`, `subject_token_type`, `assertion`) is refused at `build`. The fixed list of
/// reserved names used to miss them, so the request carried the parameter twice (RFC 6749 §3.2:
/// "Request and response parameters MUST NOT be included more than once"), and which value the
/// server used was up to its parser.
#[test]
fn grant_parameters_of_extension_grants_cannot_be_sent_twice() {
    let endpoint = Endpoint::new("https://as.example.com/token").unwrap();
    let client = Client::secret_basic("client", ClientSecret::new("s"));

    let cases: Vec<(&str, TokenRequest)> = vec![
        (
            "subject_token",
            TokenRequest::token_exchange(
                &endpoint,
                &client,
                "the-subject-token",
                "urn:ietf:params:oauth:token-type:access_token",
            )
            .param("subject_token", "another-subject-token"),
        ),
        (
            "subject_token_type",
            TokenRequest::token_exchange(
                &endpoint,
                &client,
                "the-subject-token",
                "urn:ietf:params:oauth:token-type:access_token",
            )
            .param(
                "subject_token_type",
                "urn:ietf:params:oauth:token-type:id_token",
            ),
        ),
        (
            "assertion",
            TokenRequest::jwt_bearer(&endpoint, &client, "eyJ.first.assertion")
                .secret_param("assertion", "eyJ.second.assertion"),
        ),
    ];
    for (name, request) in cases {
        match request.build() {
            Err(_) => {}
            Ok(built) => {
                let n = count_param(built.body(), name);
                assert!(n <= 1, "{name} sent {n} times in one token request");
            }
        }
    }
}

const STS_REFRESH: &str = "SENTINEL-refresh-token-issued-by-the-sts";

/// `GrantClient::send` refuses a `TokenRequest` built for another token endpoint or client,
/// with nothing sent. It used to send it there and record the token it got back as issued by
/// *this* client's endpoint, so that this client's `refresh_fetcher` then sent the other
/// server's refresh token to this server, which is what `IssuedTo` exists to stop (RFC 6749
/// §10.4).
#[tokio::test]
async fn send_refuses_a_request_built_for_another_server_or_client() {
    let body: &'static str = Box::leak(
        format!(
            r#"{{"access_token":"sts-at","token_type":"Bearer","expires_in":60,"refresh_token":"{STS_REFRESH}"}}"#
        )
        .into_boxed_str(),
    );
    let (svc, seen) = recording_server(body);
    let here = GrantClient::new(
        svc,
        Endpoint::new("https://as.example.com/token").unwrap(),
        Client::secret_basic("client", ClientSecret::new("s")),
    );
    let exchange = |endpoint: &str, client: &str| {
        TokenRequest::token_exchange(
            &Endpoint::new(endpoint).unwrap(),
            &Client::secret_basic(client, ClientSecret::new("t")),
            "subject",
            "urn:ietf:params:oauth:token-type:access_token",
        )
    };
    // A token exchange at another security token service, or as another client.
    for (endpoint, client) in [
        ("https://sts.example.net/token", "sts-client"),
        ("https://sts.example.net/token", "client"),
        ("https://as.example.com/token", "sts-client"),
    ] {
        let error = here.send(exchange(endpoint, client)).await.unwrap_err();
        assert_eq!(error.kind(), GrantClientErrorKind::Request);
        assert!(
            error
                .request_error()
                .is_some_and(|s| s.is::<tower_oauth2::client::ForeignTokenRequest>()),
            "{error:?}"
        );
    }
    assert!(
        seen.lock().unwrap().is_empty(),
        "a foreign request was sent"
    );

    // This client's endpoint, written differently, is this client's.
    let token = here
        .send(exchange("https://AS.example.com:443/token", "client"))
        .await
        .unwrap();
    assert!(
        token
            .issued_to()
            .is_some_and(|issued| issued.is_same_as(&here.issued_to()))
    );
}

/// A transport failure of `discover` (unreachable, timeout, redirect, too large) names the
/// metadata endpoint, as every other non-token call names its own. A metadata URL that
/// redirected used to be reported as "token endpoint answered with a redirect", with
/// `endpoint()` saying `Token`.
#[tokio::test]
async fn discovery_transport_errors_name_the_metadata_endpoint() {
    use oauth_core::oauth2::{Issuer, WellKnown};
    use tower_oauth2::client::{ServerEndpoint, discover};

    let svc = tower::service_fn(|_req: Request<Full<Bytes>>| async {
        Ok::<_, Infallible>(
            Response::builder()
                .status(302)
                .header(
                    "location",
                    "https://evil.example/.well-known/openid-configuration",
                )
                .body(Full::new(Bytes::new()))
                .unwrap(),
        )
    });
    let issuer = Issuer::new("https://as.example.com").unwrap();
    let error = discover(&svc, &issuer, WellKnown::OpenIdConfiguration)
        .await
        .unwrap_err();
    assert!(matches!(
        error.kind(),
        GrantClientErrorKind::UnexpectedRedirect(_)
    ));
    assert_eq!(
        error.endpoint(),
        ServerEndpoint::Metadata,
        "discovery failure reported as: {error}"
    );
    assert!(!error.to_string().starts_with("token"), "{error}");
}

/// A metadata endpoint that is down says when to come back (`Retry-After`, RFC 9110 §10.2.3)
/// as a token endpoint does: `discover`'s error is transient and carries it, so a caller that
/// discovers at start-up waits as long as the server asked.
#[tokio::test]
async fn discovery_keeps_the_servers_retry_after() {
    use oauth_core::oauth2::{Issuer, WellKnown};
    use tower_oauth2::client::discover;

    let svc = tower::service_fn(|_req: Request<Full<Bytes>>| async {
        Ok::<_, Infallible>(
            Response::builder()
                .status(503)
                .header("retry-after", "120")
                .body(Full::new(Bytes::from_static(b"down for maintenance")))
                .unwrap(),
        )
    });
    let issuer = Issuer::new("https://as.example.com").unwrap();
    let error = discover(&svc, &issuer, WellKnown::OpenIdConfiguration)
        .await
        .unwrap_err();
    assert!(error.is_transient(), "{error}");
    assert_eq!(
        error.retry_after(),
        Some(std::time::Duration::from_secs(120))
    );
}

/// A code requested for another client (a flow mixed up between two servers or clients) is not
/// exchanged: nothing is sent, so neither the code nor its PKCE verifier reaches this server.
#[tokio::test]
async fn exchange_code_refuses_a_code_requested_for_another_client() {
    use oauth_core::clock::CountingRandom;
    use oauth_core::oauth2::{AuthorizationRequest, GrantError, RedirectUri};

    let (svc, seen) = recording_server(r#"{"access_token":"at","token_type":"Bearer"}"#);
    let here = GrantClient::new(
        svc,
        Endpoint::new("https://as.example.com/token").unwrap(),
        Client::secret_basic("client", ClientSecret::new("s")),
    );
    let code_for = |client_id: &str| {
        let (_, pending) = AuthorizationRequest::new(
            &Endpoint::new("https://other-as.example.com/authorize").unwrap(),
            client_id,
            &RedirectUri::new("https://app.example/cb").unwrap(),
        )
        .dangerous_custom_state("xyz")
        .build(&CountingRandom::new(1))
        .unwrap();
        pending
            .parse_callback("https://app.example/cb?code=c&state=xyz")
            .unwrap()
    };
    let error = here
        .exchange_code(code_for("other-client"))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), GrantClientErrorKind::Request);
    assert!(
        error
            .request_error()
            .and_then(|s| s.downcast_ref::<GrantError>())
            .is_some_and(|e| *e == GrantError::CodeForAnotherClient),
        "{error:?}"
    );
    assert!(seen.lock().unwrap().is_empty(), "the code was sent");
    here.exchange_code(code_for("client")).await.unwrap();
    assert_eq!(seen.lock().unwrap().len(), 1);
}

/// A device code is polled for only by the grant client (token endpoint and client) that asked
/// for it: another one refuses it with nothing sent.
#[tokio::test]
async fn a_device_code_is_polled_for_only_at_its_own_server() {
    let (svc, seen) = recording_server(
        r#"{"device_code":"d","user_code":"U","verification_uri":"https://as.example.com/device","expires_in":600}"#,
    );
    let here = GrantClient::new(
        svc.clone(),
        Endpoint::new("https://as.example.com/token").unwrap(),
        Client::secret_basic("client", ClientSecret::new("s")),
    );
    let device = here
        .device_authorization(
            &Endpoint::new("https://as.example.com/device_authorization").unwrap(),
            None,
        )
        .await
        .unwrap();
    assert!(
        device
            .issued_to()
            .is_some_and(|issued| issued.is_same_as(&here.issued_to()))
    );
    let elsewhere = GrantClient::new(
        svc,
        Endpoint::new("https://other-as.example.com/token").unwrap(),
        Client::secret_basic("client", ClientSecret::new("s")),
    );
    let error = elsewhere.poll_device_token(device).await.unwrap_err();
    assert_eq!(error.kind(), GrantClientErrorKind::Request);
    assert!(
        error
            .request_error()
            .is_some_and(|s| s.is::<tower_oauth2::client::ForeignTokenRequest>()),
        "{error:?}"
    );
    assert_eq!(
        seen.lock().unwrap().len(),
        1,
        "only the device request was sent"
    );
}

/// `push_authorization` with an authorization endpoint whose own query already has
/// `client_id` or `request_uri` (the two parameters of the URL the user is sent to, RFC 9126
/// §4) is refused with nothing pushed. The request used to be pushed first, and the failure to
/// make the URL afterwards was reported as "the pushed authorization request was not sent".
#[tokio::test]
async fn a_pushed_request_that_cannot_be_sent_to_is_not_pushed() {
    use oauth_core::oauth2::{AuthorizationRequest, AuthorizeError, RedirectUri};
    let (svc, seen) = recording_server(
        r#"{"request_uri":"urn:ietf:params:oauth:request_uri:x","expires_in":60}"#,
    );
    let grants = GrantClient::new(
        svc,
        Endpoint::new("https://as.example.com/token").unwrap(),
        Client::secret_basic("client", ClientSecret::new("s")),
    );
    let par = Endpoint::new("https://as.example.com/par").unwrap();
    for query in ["client_id=client", "request_uri=urn%3Ax"] {
        let authorize =
            Endpoint::new(&format!("https://as.example.com/authorize?{query}")).unwrap();
        let redirect = RedirectUri::new("https://client.example.org/cb").unwrap();
        let request = AuthorizationRequest::new(&authorize, "client", &redirect);
        let error = grants.push_authorization(request, &par).await.unwrap_err();
        assert_eq!(error.kind(), GrantClientErrorKind::Request);
        assert!(
            error
                .request_error()
                .and_then(|s| s.downcast_ref::<AuthorizeError>())
                .is_some_and(|e| matches!(e, AuthorizeError::EndpointQueryParameter(_))),
            "{error:?}"
        );
        assert!(
            seen.lock().unwrap().is_empty(),
            "{query}: the request was pushed"
        );
    }
}

/// An authorization server that answers every request with `status`, `content_type` (if any),
/// `extra` headers and `body`.
fn answering(
    status: u16,
    content_type: Option<&'static str>,
    extra: &'static [(&'static str, &'static str)],
    body: &'static str,
) -> GrantClient<Svc> {
    let svc = tower::service_fn(move |_: Request<Full<Bytes>>| async move {
        let mut response = Response::builder().status(status);
        if let Some(content_type) = content_type {
            response = response.header("content-type", content_type);
        }
        for (name, value) in extra {
            response = response.header(*name, *value);
        }
        Ok::<_, BoxError>(
            response
                .body(Full::new(Bytes::from_static(body.as_bytes())))
                .unwrap(),
        )
    });
    GrantClient::new(
        BoxCloneSyncService::new(svc),
        Endpoint::new("https://as.example.com/token").unwrap(),
        Client::secret_basic("client", ClientSecret::new("SENTINEL-client-secret")),
    )
}

/// Pins (pass; no fix needed) for the server's other endpoints, through the grant client.
/// RFC 7009 §2.2: a 200 is success whatever its body (HTML, empty, even an error member); a
/// 503 is transient with its `Retry-After`; `unsupported_token_type` is a typed, terminal
/// error. RFC 7662 §2.2: an inactive token yields no claims, whatever else the server sent.
/// RFC 9126 §2.2: only a 201 with `request_uri` and `expires_in` is a pushed request.
#[tokio::test]
async fn revocation_introspection_and_par_answers() {
    use oauth_core::oauth2::{AuthorizationRequest, ErrorCode, RedirectUri};
    let revoke = Endpoint::new("https://as.example.com/revoke").unwrap();
    let token = Token::new(AccessToken::new("SENTINEL-at"), TokenType::Bearer)
        .with_refresh_token(Some(RefreshToken::new("SENTINEL-rt")));
    for (content_type, body) in [
        (Some("text/html"), "<html>revoked</html>"),
        (None, ""),
        (Some("application/json"), r#"{"error":"invalid_request"}"#),
    ] {
        answering(200, content_type, &[], body)
            .revoke(&revoke, &token)
            .await
            .unwrap();
    }
    let error = answering(503, Some("text/html"), &[("retry-after", "30")], "<p>x</p>")
        .revoke(&revoke, &token)
        .await
        .unwrap_err();
    assert!(error.is_transient());
    assert_eq!(
        error.retry_after(),
        Some(std::time::Duration::from_secs(30))
    );
    let error = answering(
        400,
        Some("application/json"),
        &[],
        r#"{"error":"unsupported_token_type"}"#,
    )
    .revoke(&revoke, &token)
    .await
    .unwrap_err();
    assert!(!error.is_transient());
    assert_eq!(
        error.error_code(),
        Some(&ErrorCode::Other("unsupported_token_type".into()))
    );
    let text = format!("{error} {error:?}");
    assert!(!text.contains("SENTINEL"), "{text}");

    let info = answering(
        200,
        Some("application/json"),
        &[],
        r#"{"active":false,"sub":"someone","scope":"admin","exp":4102444800,"cnf":{"jkt":"x"}}"#,
    )
    .introspect(
        &Endpoint::new("https://as.example.com/introspect").unwrap(),
        token.access_token(),
    )
    .await
    .unwrap();
    assert!(!info.active());
    assert!(info.sub().is_none() && info.scope().is_none() && info.expires_at().is_none());
    assert!(info.cnf_jkt().is_none() && info.extra().is_empty());

    let par = Endpoint::new("https://as.example.com/par").unwrap();
    let request = || {
        AuthorizationRequest::new(
            &Endpoint::new("https://as.example.com/authorize").unwrap(),
            "client",
            &RedirectUri::new("https://client.example.org/cb").unwrap(),
        )
    };
    let created = r#"{"request_uri":"urn:ietf:params:oauth:request_uri:6esc_11ACC5bwc014ltc14eY22c","expires_in":60}"#;
    let (url, _) = answering(201, Some("application/json"), &[], created)
        .push_authorization(request(), &par)
        .await
        .unwrap();
    assert_eq!(
        url.to_string(),
        "https://as.example.com/authorize?client_id=client&request_uri=urn%3Aietf%3Aparams%3Aoauth%3Arequest_uri%3A6esc_11ACC5bwc014ltc14eY22c"
    );
    for (status, body) in [
        (200, created),
        (201, r#"{"expires_in":60}"#),
        (201, r#"{"request_uri":"urn:x"}"#),
    ] {
        let error = answering(status, Some("application/json"), &[], body)
            .push_authorization(request(), &par)
            .await
            .unwrap_err();
        assert_eq!(
            error.kind(),
            GrantClientErrorKind::Response,
            "{status} {body}"
        );
    }
}

/// `revoke_refresh_token` and `introspect_refresh_token` send the refresh token itself, with
/// `token_type_hint=refresh_token` (RFC 7009 §2.1, RFC 7662 §2.1), to the endpoint given, as
/// this client; the server's answer is what they return: its introspection claims, or the
/// revocation endpoint's error. (Mutants: client/mod.rs `revoke_refresh_token -> Ok(())`,
/// which sent nothing and reported success, survived every test but the interop ones.)
#[tokio::test]
async fn a_refresh_token_kept_alone_is_revoked_and_introspected_as_one() {
    let (svc, seen) = recording_server_answering(|uri| {
        if uri.ends_with("/introspect") {
            json_response(200, r#"{"active":true,"sub":"24400320","scope":"read"}"#)
        } else {
            json_response(200, "")
        }
    });
    let grants = GrantClient::new(
        svc,
        Endpoint::new("https://as.example.com/token").unwrap(),
        Client::public("s6BhdRkqt3"),
    );
    let refresh = RefreshToken::new("SENTINEL-rt");
    grants
        .revoke_refresh_token(
            &Endpoint::new("https://as.example.com/revoke").unwrap(),
            &refresh,
        )
        .await
        .unwrap();
    let info = grants
        .introspect_refresh_token(
            &Endpoint::new("https://as.example.com/introspect").unwrap(),
            &refresh,
        )
        .await
        .unwrap();
    assert!(info.active());
    assert_eq!(info.sub(), Some("24400320"));
    let sent = seen.lock().unwrap().clone();
    assert_eq!(sent.len(), 2, "{sent:?}");
    for ((uri, body), path) in sent.iter().zip(["revoke", "introspect"]) {
        assert_eq!(uri, &format!("https://as.example.com/{path}"));
        // No value here needs percent-encoding.
        let mut form: Vec<&str> = body.split('&').collect();
        form.sort_unstable();
        assert_eq!(
            form,
            [
                "client_id=s6BhdRkqt3",
                "token=SENTINEL-rt",
                "token_type_hint=refresh_token"
            ],
            "{path}"
        );
    }

    // The revocation endpoint's refusal is the caller's error, not a success.
    let error = answering(
        400,
        Some("application/json"),
        &[],
        r#"{"error":"unsupported_token_type"}"#,
    )
    .revoke_refresh_token(
        &Endpoint::new("https://as.example.com/revoke").unwrap(),
        &refresh,
    )
    .await
    .unwrap_err();
    assert_eq!(error.kind(), GrantClientErrorKind::Response);
    assert!(!format!("{error} {error:?}").contains("SENTINEL"));
}

/// An HTTP status or an OAuth error from the revocation, introspection, pushed authorization
/// or device authorization endpoint is reported as that endpoint's answer. The message used to
/// say "revocation request failed: token endpoint returned HTTP 503", sending whoever reads it
/// to the wrong endpoint.
#[tokio::test]
async fn other_endpoints_answers_do_not_blame_the_token_endpoint() {
    use oauth_core::oauth2::{AuthorizationRequest, RedirectUri};
    let at = |path: &str| Endpoint::new(&format!("https://as.example.com/{path}")).unwrap();
    let token = Token::new(AccessToken::new("at"), TokenType::Bearer);
    let request = || {
        AuthorizationRequest::new(
            &at("authorize"),
            "client",
            &RedirectUri::new("https://client.example.org/cb").unwrap(),
        )
    };
    for (status, body) in [
        (503, "<html>down</html>"),
        (
            400,
            r#"{"error":"invalid_request","error_description":"no"}"#,
        ),
    ] {
        let grants = answering(status, Some("application/json"), &[], body);
        let errors = [
            grants.revoke(&at("revoke"), &token).await.unwrap_err(),
            grants
                .introspect(&at("introspect"), token.access_token())
                .await
                .unwrap_err(),
            grants
                .push_authorization(request(), &at("par"))
                .await
                .unwrap_err(),
            grants
                .device_authorization(&at("device"), None)
                .await
                .unwrap_err(),
        ];
        for error in errors {
            let text = error.to_string();
            let name = error.endpoint().as_str();
            assert!(!text.contains("token endpoint"), "{text}");
            assert!(
                text.contains(&format!("{name} endpoint")) && text.contains(&status.to_string()),
                "{text}"
            );
        }
    }
    // The token endpoint's own answers read as before.
    let error = answering(503, None, &[], "")
        .client_credentials(None)
        .await
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "token request failed: token endpoint returned HTTP 503 Service Unavailable"
    );
}

/// A metadata endpoint answering 408 Request Timeout (the server gave up waiting for the
/// request; RFC 9110 §15.5.9: the client may repeat it) is transient, as it is from the token
/// endpoint. `discover` called it permanent, while a 404 stays permanent.
#[tokio::test]
async fn discovery_408_is_transient_as_at_the_token_endpoint() {
    use oauth_core::oauth2::{Issuer, WellKnown};
    use tower_oauth2::client::discover;

    for (status, transient) in [(408, true), (429, true), (502, true), (404, false)] {
        let svc = tower::service_fn(move |_req: Request<Full<Bytes>>| async move {
            Ok::<_, Infallible>(
                Response::builder()
                    .status(status)
                    .body(Full::new(Bytes::new()))
                    .unwrap(),
            )
        });
        let issuer = Issuer::new("https://as.example.com").unwrap();
        let error = discover(&svc, &issuer, WellKnown::OpenIdConfiguration)
            .await
            .unwrap_err();
        assert_eq!(error.is_transient(), transient, "{status}: {error}");
        let token_endpoint = answering(status, None, &[], "")
            .client_credentials(None)
            .await
            .unwrap_err();
        assert_eq!(token_endpoint.is_transient(), transient, "{status}");
    }
}

/// A `private_key_jwt` client's assertion names the token endpoint as its audience at the
/// server's other endpoints too (revocation, introspection, pushed authorization), as
/// `PrivateKeyJwt::audience_if_unset` documents: RFC 7523 §3 and OpenID Connect Core §9 name
/// the token endpoint as the audience servers accept, not the URL called. An audience the
/// caller set (the issuer) is kept. (Mutant: client/mod.rs `client_elsewhere`, the
/// `PrivateKeyJwt` arm deleted: the assertions named the revocation, introspection and PAR
/// URLs.)
#[tokio::test]
async fn a_client_assertion_names_the_token_endpoint_at_the_other_endpoints() {
    use oauth_core::oauth2::PrivateKeyJwt;
    assert_token_endpoint_is_the_audience_elsewhere(|audience| {
        let key = PrivateKeyJwt::es256(common::ec_p256_key());
        let key = match audience {
            Some(audience) => key.audience(audience),
            None => key,
        };
        Client::private_key_jwt("client", key)
    })
    .await;
}

/// The same rule for a `client_secret_jwt` client (`Client::client_secret_jwt`, whose doc
/// gives it `private_key_jwt`'s audience rule). (Mutant: client/mod.rs `client_elsewhere`, the
/// `ClientSecretJwt` arm deleted: the assertions named the URLs called.)
#[tokio::test]
async fn a_client_secret_jwt_assertion_names_the_token_endpoint_at_the_other_endpoints() {
    use oauth_core::oauth2::ClientSecretJwt;
    assert_token_endpoint_is_the_audience_elsewhere(|audience| {
        let jwt = ClientSecretJwt::new(ClientSecret::new("0123456789abcdef0123456789abcdef"));
        let jwt = match audience {
            Some(audience) => jwt.audience(audience),
            None => jwt,
        };
        Client::client_secret_jwt("client", jwt)
    })
    .await;
}

/// Revokes and introspects an access token, then a refresh token, and pushes an authorization
/// request with the client `client` makes (given the audience the caller sets, if any), and
/// checks each assertion's `aud`: the token endpoint, or the audience the caller set.
async fn assert_token_endpoint_is_the_audience_elsewhere(client: impl Fn(Option<&str>) -> Client) {
    use oauth_core::oauth2::{AuthorizationRequest, RedirectUri};
    let (svc, seen) = recording_server_answering(|uri| {
        if uri.ends_with("/par") {
            json_response(201, r#"{"request_uri":"urn:x","expires_in":60}"#)
        } else {
            json_response(200, r#"{"active":false}"#)
        }
    });
    let at = AccessToken::new("at");
    let audiences = |audience: Option<&str>| {
        seen.lock().unwrap().clear();
        let grants = GrantClient::new(
            svc.clone(),
            Endpoint::new("https://as.example.com/token").unwrap(),
            client(audience),
        );
        let at = at.clone();
        let seen = seen.clone();
        async move {
            grants
                .revoke_access_token(
                    &Endpoint::new("https://as.example.com/revoke").unwrap(),
                    &at,
                )
                .await
                .unwrap();
            grants
                .introspect(
                    &Endpoint::new("https://as.example.com/introspect").unwrap(),
                    &at,
                )
                .await
                .unwrap();
            let rt = RefreshToken::new("rt");
            grants
                .revoke_refresh_token(
                    &Endpoint::new("https://as.example.com/revoke").unwrap(),
                    &rt,
                )
                .await
                .unwrap();
            grants
                .introspect_refresh_token(
                    &Endpoint::new("https://as.example.com/introspect").unwrap(),
                    &rt,
                )
                .await
                .unwrap();
            let request = AuthorizationRequest::new(
                &Endpoint::new("https://as.example.com/authorize").unwrap(),
                "client",
                &RedirectUri::new("https://client.example.org/cb").unwrap(),
            );
            grants
                .push_authorization(
                    request,
                    &Endpoint::new("https://as.example.com/par").unwrap(),
                )
                .await
                .unwrap();
            assertion_audiences(&seen.lock().unwrap())
        }
    };
    let token_endpoint = "https://as.example.com/token";
    assert_eq!(
        audiences(None).await,
        ["revoke", "introspect", "revoke", "introspect", "par"].map(|path| (
            format!("https://as.example.com/{path}"),
            token_endpoint.into()
        ))
    );
    let issuer = "https://as.example.com";
    assert!(
        audiences(Some(issuer))
            .await
            .iter()
            .all(|(_, aud)| aud == issuer),
        "an audience the caller set was replaced"
    );
}

/// The `aud` of the client assertion in each recorded request body, with the URL it went to.
fn assertion_audiences(sent: &[(String, String)]) -> Vec<(String, serde_json::Value)> {
    sent.iter()
        .map(|(uri, body)| {
            // A compact JWS: base64url and dots, nothing percent-encoded.
            let assertion = body
                .split('&')
                .find_map(|pair| pair.strip_prefix("client_assertion="))
                .unwrap_or_else(|| panic!("{uri}: no client_assertion in {body}"));
            (uri.clone(), common::jws_claims(assertion)["aud"].clone())
        })
        .collect()
}

/// A `GrantClient`'s `Debug` says which token endpoint and client it is, and the limits it
/// keeps, for whoever reads a log; never the client secret (SECURITY.md §4.9 #86). (Mutant:
/// client/mod.rs `<Debug for GrantClient>::fmt -> Ok(Default)`, which printed nothing.)
#[test]
fn a_grant_clients_debug_names_its_endpoint_and_client_and_no_secret() {
    let (svc, _) = recording_server("{}");
    let grants = GrantClient::new(
        svc,
        Endpoint::new("https://as.example.com/token").unwrap(),
        Client::secret_basic("s6BhdRkqt3", ClientSecret::new("SENTINEL-client-secret")),
    )
    .timeout(std::time::Duration::from_secs(7))
    .max_response_bytes(4096);
    let debug = format!("{grants:?}");
    assert!(debug.starts_with("GrantClient"), "{debug}");
    assert!(debug.contains("https://as.example.com/token"), "{debug}");
    assert!(debug.contains("s6BhdRkqt3"), "{debug}");
    assert!(debug.contains("7s") && debug.contains("4096"), "{debug}");
    assert!(!debug.contains("SENTINEL"), "{debug}");
}

/// An issuer whose metadata URL cannot be made into a request (here an issuer just under the
/// longest HTTP URI, which the well-known suffix takes over it) is a `Request` error of the metadata endpoint, not a server answer, as
/// `GrantClientErrorKind::Request` says ("the request could not be built"): nothing is sent,
/// and it is not transient. (Mutant: client/error.rs `GrantClientError::metadata`, the
/// `MetadataError::Url` arm deleted: it was reported as `Response`.)
#[tokio::test]
async fn a_metadata_url_that_cannot_be_requested_is_a_request_error() {
    use oauth_core::oauth2::{Issuer, WellKnown};
    use tower_oauth2::client::{ServerEndpoint, discover};

    let (svc, seen) = recording_server("{}");
    let issuer = Issuer::new(&format!("https://as.example.com/{}", "a".repeat(65_500)))
        .expect("a long issuer is still an issuer");
    let error = discover(&svc, &issuer, WellKnown::OpenIdConfiguration)
        .await
        .unwrap_err();
    assert_eq!(error.kind(), GrantClientErrorKind::Request, "{error}");
    assert_eq!(error.endpoint(), ServerEndpoint::Metadata);
    assert!(!error.is_transient());
    assert!(seen.lock().unwrap().is_empty());
}

/// The fetchers ask for the scope they were given on every request, and for none otherwise:
/// `refresh_fetcher().scope(..)` on each refresh (RFC 6749 §6: a scope no wider than the
/// original grant; omitted, the server keeps the original), `client_credentials_fetcher(Some(..))`
/// on each new client-credentials token (RFC 6749 §4.4.2). (Hand mutants of client/fetchers.rs,
/// which cargo-mutants cannot make in the boxed futures: the scope dropped from either request,
/// or not kept by `RefreshFetcher::scope`.)
#[tokio::test]
async fn the_fetchers_ask_for_their_scope_on_every_request_and_for_none_unless_given() {
    use oauth_core::oauth2::Scope;
    use tower_oauth2::source::TokenFetcher;

    let (grants, seen) = public_client_grants();
    let current = Token::new(AccessToken::new("old"), TokenType::Bearer)
        .with_refresh_token(Some(RefreshToken::new("rt-1")));
    let narrowed = grants.refresh_fetcher().scope(Scope::parse("read"));
    let machine = grants.client_credentials_fetcher(Some(Scope::parse("read write")));
    for _ in 0..2 {
        narrowed.fetch(Some(&current)).await.unwrap();
        machine.fetch(None).await.unwrap();
    }
    grants
        .refresh_fetcher()
        .fetch(Some(&current))
        .await
        .unwrap();
    grants
        .client_credentials_fetcher(None)
        .fetch(None)
        .await
        .unwrap();
    let bodies: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|(_, b)| b.clone())
        .collect();
    let refresh = "grant_type=refresh_token&refresh_token=rt-1";
    let credentials = "grant_type=client_credentials";
    assert_eq!(
        bodies,
        [
            format!("{refresh}&scope=read&client_id=s6BhdRkqt3"),
            format!("{credentials}&scope=read+write&client_id=s6BhdRkqt3"),
            format!("{refresh}&scope=read&client_id=s6BhdRkqt3"),
            format!("{credentials}&scope=read+write&client_id=s6BhdRkqt3"),
            format!("{refresh}&client_id=s6BhdRkqt3"),
            format!("{credentials}&client_id=s6BhdRkqt3"),
        ]
    );
}

/// BCP-12 (RFC 9700 §2.3, RFC 8707 §2): both fetchers ask for the resource indicators they
/// were given, each as its own `resource` parameter, in order, on every request; a resource
/// that is not an absolute URI (or has a fragment) is a configuration error on every fetch, and
/// nothing is sent; as `resource()` documents, the error's source is a `GrantClientError` of
/// kind `Request`, whose source is `GrantError::InvalidResource`.
#[tokio::test]
async fn the_fetchers_ask_for_their_resources_on_every_request() {
    use oauth_core::oauth2::Scope;
    use tower_oauth2::TokenErrorKind;
    use tower_oauth2::source::TokenFetcher;

    let (grants, seen) = public_client_grants();
    let current = Token::new(AccessToken::new("old"), TokenType::Bearer)
        .with_refresh_token(Some(RefreshToken::new("rt-1")));
    let user = grants
        .refresh_fetcher()
        .scope(Scope::parse("read"))
        .resource("https://api.example.com/")
        .resource("https://files.example.com/v2?x=1");
    let machine = grants
        .client_credentials_fetcher(None)
        .resource("https://api.example.com/");
    for _ in 0..2 {
        user.fetch(Some(&current)).await.unwrap();
        machine.fetch(None).await.unwrap();
    }
    let bodies: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|(_, b)| b.clone())
        .collect();
    let refresh = "grant_type=refresh_token&refresh_token=rt-1&scope=read\
                   &resource=https%3A%2F%2Fapi.example.com%2F\
                   &resource=https%3A%2F%2Ffiles.example.com%2Fv2%3Fx%3D1&client_id=s6BhdRkqt3";
    let credentials = "grant_type=client_credentials\
                       &resource=https%3A%2F%2Fapi.example.com%2F&client_id=s6BhdRkqt3";
    assert_eq!(bodies, [refresh, credentials, refresh, credentials]);

    seen.lock().unwrap().clear();
    for bad in ["/relative", "https://api.example.com/#frag"] {
        let errors = [
            grants
                .refresh_fetcher()
                .resource(bad)
                .fetch(Some(&current))
                .await
                .unwrap_err(),
            grants
                .client_credentials_fetcher(None)
                .resource(bad)
                .fetch(None)
                .await
                .unwrap_err(),
        ];
        for error in errors {
            assert_eq!(
                error.kind(),
                TokenErrorKind::Configuration,
                "{bad}: {error}"
            );
            assert!(error.is_terminal(), "{bad}: {error}");
            let grant_error = std::error::Error::source(&error)
                .and_then(|e| e.downcast_ref::<tower_oauth2::GrantClientError>())
                .expect("the source is the grant client's error");
            assert_eq!(grant_error.kind(), GrantClientErrorKind::Request, "{bad}");
            assert!(
                matches!(
                    grant_error
                        .request_error()
                        .and_then(|e| e.downcast_ref::<oauth_core::oauth2::GrantError>()),
                    Some(oauth_core::oauth2::GrantError::InvalidResource)
                ),
                "{bad}"
            );
        }
    }
    assert!(seen.lock().unwrap().is_empty());
}

/// Both fetchers send the extension parameters they were given (Auth0's `audience`, say) on
/// every request, after the grant's own, in order; a name the request sets itself is a
/// configuration error on every fetch, and nothing is sent.
#[tokio::test]
async fn the_fetchers_send_their_extension_parameters_on_every_request() {
    use tower_oauth2::TokenErrorKind;
    use tower_oauth2::source::TokenFetcher;

    let (grants, seen) = public_client_grants();
    let current = Token::new(AccessToken::new("old"), TokenType::Bearer)
        .with_refresh_token(Some(RefreshToken::new("rt-1")));
    let user = grants
        .refresh_fetcher()
        .param("audience", "https://api.example.com/")
        .param("prompt", "none");
    let machine = grants
        .client_credentials_fetcher(None)
        .resource("https://files.example.com/")
        .param("audience", "https://api.example.com/");
    for _ in 0..2 {
        user.fetch(Some(&current)).await.unwrap();
        machine.fetch(None).await.unwrap();
    }
    let bodies: Vec<String> = seen
        .lock()
        .unwrap()
        .iter()
        .map(|(_, b)| b.clone())
        .collect();
    let refresh = "grant_type=refresh_token&refresh_token=rt-1&client_id=s6BhdRkqt3\
                   &audience=https%3A%2F%2Fapi.example.com%2F&prompt=none";
    let credentials = "grant_type=client_credentials&resource=https%3A%2F%2Ffiles.example.com%2F\
                       &client_id=s6BhdRkqt3&audience=https%3A%2F%2Fapi.example.com%2F";
    assert_eq!(bodies, [refresh, credentials, refresh, credentials]);

    seen.lock().unwrap().clear();
    let errors = [
        grants
            .refresh_fetcher()
            .param("grant_type", "password")
            .fetch(Some(&current))
            .await
            .unwrap_err(),
        grants
            .client_credentials_fetcher(None)
            .param("client_id", "someone-else")
            .fetch(None)
            .await
            .unwrap_err(),
    ];
    for error in errors {
        assert_eq!(error.kind(), TokenErrorKind::Configuration, "{error}");
    }
    assert!(seen.lock().unwrap().is_empty());
}

/// A refresh fetcher with no refresh token to send (the token has none, or there is no token)
/// sends nothing and asks for a new authorization (`Reauthorize`, terminal: RFC 6749 §6, only a
/// refresh token is refreshed), rather than a failure to try again later. (Hand mutant of
/// client/fetchers.rs, which cargo-mutants cannot make in the boxed future: the kind made
/// `Transient`.)
#[tokio::test]
async fn a_refresh_without_a_refresh_token_sends_nothing_and_asks_for_authorization() {
    use tower_oauth2::TokenErrorKind;
    use tower_oauth2::source::TokenFetcher;

    let (grants, seen) = public_client_grants();
    let bare = Token::new(AccessToken::new("old"), TokenType::Bearer);
    for current in [Some(&bare), None] {
        let error = grants.refresh_fetcher().fetch(current).await.unwrap_err();
        assert_eq!(error.kind(), TokenErrorKind::Reauthorize, "{current:?}");
        assert!(error.is_terminal(), "{current:?}");
    }
    assert!(seen.lock().unwrap().is_empty());
}
