//! SECURITY.md §4.2 #13: when compat mode accepts a token response that breaks RFC 6749 (here
//! LinkedIn's, with no `token_type`), the grant client says so in a log line, naming the fixes
//! and never a value from the response. A response that follows the RFC logs nothing.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::io::Write;
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use oauth_core::oauth2::{Client, Compliance, Endpoint, TokenType};
use oauth_core::secret::ClientSecret;
use tower::service_fn;
use tower_oauth2::GrantClient;
use tracing::Level;

const ACCESS_TOKEN: &str = "SENTINEL-linkedin-access-token";
const MESSAGE: &str = "token response accepted through compliance fixes";

/// Collects what the subscriber writes.
#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<u8>>>);

impl Write for Log {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Log {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Runs a client-credentials grant against a token endpoint answering `body`, under a TRACE
/// subscriber for this thread; the token type the client got and the log.
async fn grant_with(body: &'static str, compliance: Compliance) -> (TokenType, String) {
    let log = Log::default();
    let writer = log.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_max_level(Level::TRACE)
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .finish();
    let _guard = tracing::subscriber::set_default(subscriber);
    let endpoint = service_fn(move |_: Request<_>| async move {
        Ok::<_, Infallible>(
            Response::builder()
                .header("content-type", "application/json")
                .body(Full::new(Bytes::from_static(body.as_bytes())))
                .unwrap(),
        )
    });
    let grants = GrantClient::new(
        endpoint,
        Endpoint::new("https://www.linkedin.com/oauth/v2/accessToken").unwrap(),
        Client::secret_post("client", ClientSecret::new("SENTINEL-client-secret")),
    )
    .compliance(compliance);
    let token = grants.client_credentials(None).await.unwrap();
    (token.token_type().clone(), log.text())
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
