//! What the library says in its logs, and what it keeps out of them.
//!
//! SECURITY.md §4.2 #13: when compat mode accepts a token response that breaks RFC 6749 (here
//! LinkedIn's, with no `token_type`), the grant client says so in a log line, naming the fixes
//! and never a value from the response. A response that follows the RFC logs nothing.
//!
//! A request to an origin the layer does not serve goes out without a token (or is refused):
//! the layer says so at `DEBUG`, with scheme, host and port only. A refused token that cannot
//! be retried (the body could not be kept) is a warning that names the fix.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use oauth_core::oauth2::{Client, Compliance, Endpoint, Token, TokenType};
use oauth_core::secret::{AccessToken, ClientSecret};
use tower::{ServiceExt, service_fn};
use tower_oauth2::{GrantClient, OAuth2Layer, TokenSource};

mod common;
use common::log_capture::capture;
use common::{dpop_key, json_response};

const ACCESS_TOKEN: &str = "SENTINEL-linkedin-access-token";
const MESSAGE: &str = "token response accepted through compliance fixes";

/// Runs a client-credentials grant against a token endpoint answering `body`, under a TRACE
/// subscriber for this thread; the token type the client got and the log.
async fn grant_with(body: &'static str, compliance: Compliance) -> (TokenType, String) {
    let (log, _guard) = capture();
    let endpoint =
        service_fn(
            move |_: Request<_>| async move { Ok::<_, Infallible>(json_response(200, body)) },
        );
    let grants = GrantClient::new(
        endpoint,
        Endpoint::new("https://www.linkedin.com/oauth/v2/accessToken").unwrap(),
        Client::secret_post("client", ClientSecret::new("SENTINEL-client-secret")),
    )
    .compliance(compliance);
    let token = grants.client_credentials(None).await.unwrap();
    (token.token_type().clone(), log.text())
}

/// A resource server that refuses every token (RFC 6750 §3.1 `invalid_token`).
async fn refuse_every_token(_: Request<Full<Bytes>>) -> Result<Response<Full<Bytes>>, Infallible> {
    Ok(Response::builder()
        .status(401)
        .header("www-authenticate", r#"Bearer error="invalid_token""#)
        .body(Full::new(Bytes::new()))
        .unwrap())
}

/// The line of `log` that contains `needle`, checked to be a WARN line.
fn warn_line<'a>(log: &'a str, needle: &str) -> &'a str {
    let line = log
        .lines()
        .find(|line| line.contains(needle))
        .unwrap_or_else(|| panic!("no warning in:\n{log}"));
    assert!(line.contains("WARN"), "{line}");
    line
}

#[tokio::test]
async fn an_assumed_token_type_is_logged_by_name_only() {
    let linkedin = r#"{"access_token":"SENTINEL-linkedin-access-token","expires_in":5184000}"#;
    let (token_type, log) = grant_with(linkedin, Compliance::linkedin()).await;
    assert_eq!(token_type, TokenType::Bearer);
    let line = log
        .lines()
        .find(|line| line.contains(MESSAGE))
        .unwrap_or_else(|| panic!("no log line for the assumed token type in:\n{log}"));
    assert!(line.contains("DEBUG"), "{line}");
    assert!(line.contains("fixes=assumed_bearer"), "{line}");
    assert!(
        line.contains("https://www.linkedin.com/oauth/v2/accessToken"),
        "{line}"
    );
    assert!(!log.contains(ACCESS_TOKEN), "{log}");
    assert!(!log.contains("SENTINEL"), "{log}");
}

#[tokio::test]
async fn a_response_that_follows_the_rfc_logs_no_fix_even_under_a_lenient_preset() {
    let rfc = r#"{"access_token":"SENTINEL-linkedin-access-token","token_type":"Bearer"}"#;
    let (token_type, log) = grant_with(rfc, Compliance::linkedin()).await;
    assert_eq!(token_type, TokenType::Bearer);
    assert!(!log.contains(MESSAGE), "{log}");
}

#[tokio::test]
async fn a_request_to_an_origin_the_layer_does_not_serve_is_logged_without_user_information() {
    let (log, _guard) = capture();
    let source = TokenSource::from_token(Token::new(
        AccessToken::new("SENTINEL-access-token"),
        TokenType::Bearer,
    ));
    let layer = OAuth2Layer::new(source, "https://api.example.com").unwrap();
    let api = service_fn(|req: Request<Full<Bytes>>| async move {
        assert!(req.headers().get("authorization").is_none());
        Ok::<_, Infallible>(Response::new(Full::new(Bytes::new())))
    });
    let request = Request::get("https://user:SENTINEL-password@localhost:8443/me?key=SENTINEL")
        .body(Full::new(Bytes::new()))
        .unwrap();
    tower::Layer::layer(&layer, api)
        .oneshot(request)
        .await
        .unwrap();
    let log = log.text();
    let line = log
        .lines()
        .find(|line| line.contains("does not serve"))
        .unwrap_or_else(|| panic!("no log line for the foreign origin in:\n{log}"));
    assert!(line.contains("DEBUG"), "{line}");
    assert!(
        line.contains("host=\"localhost\"") || line.contains("host=localhost"),
        "{line}"
    );
    assert!(
        line.contains("port=8443") && line.contains("sent without a token"),
        "{line}"
    );
    assert!(!log.contains("SENTINEL"), "{log}");
}

/// Under `ForeignOrigin::Reject` the same line says the request was refused, not that it went
/// out without a token (it did not go out at all).
#[tokio::test]
async fn a_refused_request_to_an_origin_the_layer_does_not_serve_is_logged_as_refused() {
    let (log, _guard) = capture();
    let source = TokenSource::from_token(Token::new(
        AccessToken::new("SENTINEL-access-token"),
        TokenType::Bearer,
    ));
    let layer = OAuth2Layer::new(source, "https://api.example.com")
        .unwrap()
        .foreign_origins(tower_oauth2::ForeignOrigin::Reject);
    let sent = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let api = service_fn({
        let sent = sent.clone();
        move |_: Request<Full<Bytes>>| {
            sent.store(true, std::sync::atomic::Ordering::SeqCst);
            async { Ok::<_, Infallible>(Response::new(Full::new(Bytes::new()))) }
        }
    });
    let request = Request::get("https://evil.example.com/me")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let error = tower::Layer::layer(&layer, api)
        .oneshot(request)
        .await
        .unwrap_err();
    let error = error.downcast::<tower_oauth2::Error>().unwrap();
    assert_eq!(error.kind(), tower_oauth2::ErrorKind::ForeignOrigin);
    assert!(!sent.load(std::sync::atomic::Ordering::SeqCst));
    let log = log.text();
    let line = log
        .lines()
        .find(|line| line.contains("does not serve"))
        .unwrap_or_else(|| panic!("no log line for the foreign origin in:\n{log}"));
    assert!(line.contains("DEBUG") && line.contains("refused"), "{line}");
    assert!(!line.contains("sent without a token"), "{line}");
    assert!(!log.contains("SENTINEL"), "{log}");
}

/// A 401 `invalid_token` for a request whose body the layer could not keep (a POST body, under
/// the default `ReplayEmpty`) goes back to the caller with a WARN line that says how to have
/// such requests retried, and never a token; once per refused token, not per request.
#[tokio::test]
async fn a_refusal_that_cannot_be_retried_is_a_warning_that_names_the_fix() {
    let (log, _guard) = capture();
    let source = TokenSource::builder()
        .token(Token::new(
            AccessToken::new("SENTINEL-old-token"),
            TokenType::Bearer,
        ))
        .fetcher(|_: Option<&Token>| async {
            Ok(Token::new(
                AccessToken::new("SENTINEL-new-token"),
                TokenType::Bearer,
            ))
        })
        .build()
        .await
        .unwrap();
    let layer = OAuth2Layer::new(source, "https://api.example.com").unwrap();
    let api = service_fn(refuse_every_token);
    let post = || {
        Request::post("https://api.example.com/items")
            .body(Full::new(Bytes::from_static(b"{}")))
            .unwrap()
    };
    let api = tower::Layer::layer(&layer, api);
    // Two requests carrying the same token (both sent before either answer is read), both
    // refused: one warning, not one per request.
    let (mut a, mut b) = (api.clone(), api.clone());
    let first = tower::Service::call(a.ready().await.unwrap(), post());
    let second = tower::Service::call(b.ready().await.unwrap(), post());
    let (first, second) = tokio::join!(first, second);
    assert_eq!(first.unwrap().status(), 401);
    assert_eq!(second.unwrap().status(), 401);
    let log = log.text();
    let line = warn_line(&log, "could not be kept");
    assert!(line.contains("replay_bodies(ReplayClone)"), "{line}");
    let warnings = log.lines().filter(|l| l.contains("WARN")).count();
    assert_eq!(warnings, 1, "{log}");
    assert!(
        log.contains("again for a request that could not be kept"),
        "{log}"
    );
    assert!(!log.contains("SENTINEL"), "{log}");
}

/// SECURITY.md §4.11 #93: lenient mode (`accept_unbound_tokens`) uses a Bearer token
/// returned to a DPoP request, and says so in a WARN line that names the token type and never
/// the token.
#[tokio::test]
async fn s4_11_case93_an_unbound_token_in_lenient_mode_is_a_warning() {
    let (log, _guard) = capture();
    let endpoint = service_fn(move |_: Request<_>| async move {
        Ok::<_, Infallible>(json_response(
            200,
            r#"{"access_token":"SENTINEL-unbound-access-token","token_type":"Bearer","expires_in":60}"#,
        ))
    });
    let key = dpop_key();
    let grants = GrantClient::new(
        endpoint,
        Endpoint::new("https://as.example.com/token").unwrap(),
        Client::secret_post("client", ClientSecret::new("SENTINEL-client-secret")),
    )
    .dpop(key)
    .accept_unbound_tokens();
    let token = grants.client_credentials(None).await.unwrap();
    assert_eq!(token.token_type(), &TokenType::Bearer);
    assert_eq!(token.dpop_jkt(), None);
    let log = log.text();
    let line = warn_line(&log, "not bound to the key");
    assert!(line.contains("Bearer"), "{line}");
    assert!(!log.contains("SENTINEL"), "{log}");
}

/// A store's failure is logged with its whole chain of causes, outermost first, each once and
/// separated by ": ", so the operator reads why the store failed, not only that it did. Here
/// the given token cannot be saved when the source is built: the WARN line says so, and its
/// `cause` is the store's reason followed by that reason's own cause. (No token in it.)
#[tokio::test]
async fn a_store_failure_is_logged_with_its_causes_in_order() {
    use oauth_core::secret::RefreshToken;
    use tower_oauth2::store::{StoreError, StoreFuture, TokenStore};

    /// The store's reason for failing, with a cause of its own.
    #[derive(Debug, thiserror::Error)]
    #[error("the database refused the write")]
    struct Refused(#[source] std::io::Error);

    fn refused(operation: &'static str) -> StoreError {
        let disk = std::io::Error::other("disk quota exceeded");
        StoreError::new(operation, Some(Box::new(Refused(disk))))
    }

    /// Holds nothing, and can write nothing.
    struct ReadOnly;

    impl TokenStore for ReadOnly {
        fn load(&self) -> StoreFuture<'_, Option<Token>> {
            Box::pin(async { Ok(None) })
        }
        fn save<'a>(&'a self, _: &'a Token) -> StoreFuture<'a, ()> {
            Box::pin(async { Err(refused("save")) })
        }
        fn compare_and_swap<'a>(
            &'a self,
            _: Option<&'a RefreshToken>,
            _: &'a Token,
        ) -> StoreFuture<'a, bool> {
            Box::pin(async { Err(refused("compare_and_swap")) })
        }
    }

    let (log, _guard) = capture();
    let source = TokenSource::builder()
        .token(
            Token::new(AccessToken::new("SENTINEL-given-at"), TokenType::Bearer)
                .with_refresh_token(Some(RefreshToken::new("SENTINEL-given-rt"))),
        )
        .store(ReadOnly)
        .build()
        .await
        .expect("a token that cannot be saved is still used");
    assert_eq!(
        source.token().await.unwrap().access_token().secret(),
        "SENTINEL-given-at"
    );
    let log = log.text();
    let line = warn_line(&log, "saving the given token failed");
    assert!(line.contains("token store save failed"), "{line}");
    assert!(
        line.contains("cause=the database refused the write: disk quota exceeded"),
        "{line}"
    );
    assert!(!log.contains("SENTINEL"), "{log}");
}

/// A failed token fetch is logged so that an operator can tell what failed from the line alone:
/// the whole cause chain (here the transport's own error), the kind, and which source it was
/// (token endpoint and client). One the source retries by itself is a WARN that says whether
/// requests still have a valid token; one that needs the application (a refused client) is an
/// ERROR. No secret in either.
#[tokio::test]
async fn a_failed_fetch_is_logged_with_its_causes_kind_and_source() {
    use tower_oauth2::TokenErrorKind;

    async fn fetch_through(
        endpoint: impl tower::Service<
            Request<Full<Bytes>>,
            Response = Response<Full<Bytes>>,
            Error = std::io::Error,
            Future = impl Send,
        > + Clone
        + Send
        + Sync
        + 'static,
    ) -> (TokenErrorKind, String) {
        let (log, _guard) = capture();
        let grants = GrantClient::new(
            endpoint,
            Endpoint::new("https://as.example.com/token").unwrap(),
            Client::secret_basic(
                "billing-worker",
                ClientSecret::new("SENTINEL-client-secret"),
            ),
        );
        let source = TokenSource::builder()
            .fetcher(grants.client_credentials_fetcher(None))
            .build()
            .await
            .unwrap();
        let kind = source.token().await.unwrap_err().kind();
        (kind, log.text())
    }

    let unreachable = service_fn(|_: Request<Full<Bytes>>| async {
        Err::<Response<Full<Bytes>>, _>(std::io::Error::other("connect: no route to the test host"))
    });
    let (kind, log) = fetch_through(unreachable).await;
    assert_eq!(kind, TokenErrorKind::Transient);
    let line = warn_line(&log, "token fetch failed");
    assert!(
        line.contains("no valid token until a later fetch succeeds"),
        "{line}"
    );
    assert!(line.contains("no route to the test host"), "{line}");
    assert!(line.contains("kind=Transient"), "{line}");
    assert!(
        line.contains("token_endpoint=https://as.example.com/token"),
        "{line}"
    );
    assert!(line.contains("client_id=billing-worker"), "{line}");
    assert!(!log.contains("SENTINEL"), "{log}");

    let refused = service_fn(|_: Request<Full<Bytes>>| async {
        Ok::<_, std::io::Error>(json_response(401, r#"{"error":"invalid_client"}"#))
    });
    let (kind, log) = fetch_through(refused).await;
    assert_eq!(kind, TokenErrorKind::Configuration);
    let line = log
        .lines()
        .find(|line| line.contains("token fetch failed for good"))
        .unwrap_or_else(|| panic!("no error line in:\n{log}"));
    assert!(line.contains("ERROR"), "{line}");
    assert!(line.contains("kind=Configuration"), "{line}");
    assert!(line.contains("invalid_client"), "{line}");
    assert!(!log.contains("SENTINEL"), "{log}");
}

/// A refresh ahead of expiry that fails while the current token is still valid says so: the
/// requests go on with that token (the WARN says it stays in use, and the caller gets it), not
/// "no valid token".
#[tokio::test(start_paused = true)]
async fn a_failed_refresh_ahead_of_expiry_says_the_current_token_stays_in_use() {
    use oauth_core::clock::Clock;
    use oauth_core::secret::RefreshToken;
    use std::time::Duration;
    use tower_oauth2::clock::TokioClock;

    let (log, _guard) = capture();
    let unreachable = service_fn(|_: Request<Full<Bytes>>| async {
        Err::<Response<Full<Bytes>>, _>(std::io::Error::other("connect: no route to the test host"))
    });
    let grants = GrantClient::new(
        unreachable,
        Endpoint::new("https://as.example.com/token").unwrap(),
        Client::secret_basic("mail-sync", ClientSecret::new("SENTINEL-client-secret")),
    );
    let token = Token::new(AccessToken::new("SENTINEL-expiring"), TokenType::Bearer)
        .with_expires_at(Some(TokioClock::new().now() + Duration::from_secs(200)))
        .with_refresh_token(Some(RefreshToken::new("SENTINEL-refresh")));
    let source = TokenSource::builder()
        .token(token)
        .fetcher(grants.refresh_fetcher())
        .build()
        .await
        .unwrap();
    // 50 seconds left: inside the default 60-second margin, so the source refreshes (and
    // fails), while requests are still served with the current token.
    tokio::time::advance(Duration::from_secs(150)).await;
    let token = source.token().await.unwrap();
    assert_eq!(token.access_token().secret(), "SENTINEL-expiring");

    let logged = tokio::time::timeout(Duration::from_secs(10), async {
        while !log.text().contains("token fetch failed") {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await;
    let log = log.text();
    assert!(logged.is_ok(), "no fetch failure logged:\n{log}");
    let line = warn_line(&log, "token fetch failed");
    assert!(
        line.contains("the current token is still valid and stays in use"),
        "{line}"
    );
    assert!(line.contains("no route to the test host"), "{line}");
    assert!(line.contains("client_id=mail-sync"), "{line}");
    assert!(!log.contains("SENTINEL"), "{log}");
}

/// A resource server that refuses every token: the layer refreshes once after the first 401
/// and sends the request again; when the new token is refused too, the 401 is returned with one
/// WARN that says the server does not take this client's tokens (and names none).
#[tokio::test]
async fn a_token_refused_right_after_its_refresh_is_a_warning() {
    use oauth_core::secret::RefreshToken;

    let (log, _guard) = capture();
    let fetched = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let count = fetched.clone();
    let source = TokenSource::builder()
        .token(
            Token::new(AccessToken::new("SENTINEL-old"), TokenType::Bearer)
                .with_refresh_token(Some(RefreshToken::new("SENTINEL-rt"))),
        )
        .fetcher(move |_: Option<&Token>| {
            count.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
            async {
                Ok(Token::new(
                    AccessToken::new("SENTINEL-new"),
                    TokenType::Bearer,
                ))
            }
        })
        .build()
        .await
        .unwrap();
    let layer = OAuth2Layer::new(source, "https://api.example.com").unwrap();
    let api = service_fn(refuse_every_token);
    let api = tower::Layer::layer(&layer, api);
    for _ in 0..3 {
        let request = Request::get("https://api.example.com/me")
            .body(Full::new(Bytes::new()))
            .unwrap();
        assert_eq!(api.clone().oneshot(request).await.unwrap().status(), 401);
    }
    assert_eq!(
        fetched.load(std::sync::atomic::Ordering::SeqCst),
        1,
        "rate-limited"
    );
    let log = log.text();
    let line = warn_line(&log, "refused the token fetched after its 401 too");
    assert!(line.contains("audience"), "{line}");
    let warnings = log.lines().filter(|l| l.contains("WARN")).count();
    assert_eq!(warnings, 1, "{log}");
    assert!(!log.contains("SENTINEL"), "{log}");
}
