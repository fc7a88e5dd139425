//! OpenID Connect CIBA in ping mode (CIBA Core §10.2) against the real oidc-provider
//! (`oidc_provider/server.mjs`): the test runs the client's notification endpoint, an https
//! listener on 127.0.0.1 (oidc-provider registers only https notification endpoints; its
//! certificate is `keys/mtls/server.pem`, which the provider trusts for that one URL), and
//! starts the provider with that URL as the `backchannel_client_notification_endpoint` of the
//! ping client. When the user decides (`/test/ciba`), the provider pings the endpoint with the
//! request's `client_notification_token` as a bearer token and the `auth_req_id` as JSON;
//! `verify_ping_notification` checks it, and one token request collects the result.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::convert::Infallible;
use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use common::api::{bounded, stat, stats};
use common::ciba::{CibaProvider, client_key};
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use interop_tests::oidc::{
    CIBA_PING_CLIENT_ID, CIBA_PING_CLIENT_SECRET, CIBA_PING_SIGNED_CLIENT_ID, CIBA_USER, TEST_USER,
};
use interop_tests::{OidcOptions, OidcProvider};
use oauth_core::clock::SystemRandom;
use oauth_core::oauth2::{
    BackchannelAuthenticationRequest, ClientNotificationToken, ErrorCode, PingNotificationError,
    Scope, UserHint, verify_ping_notification,
};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tower_oauth2::GrantClient;
use tower_oauth2::client::{GrantClientErrorKind, ServerEndpoint};

/// How long a ping may take to arrive once the decision was recorded (the provider sends it
/// before it answers `/test/ciba`, so it is already there: this only bounds a failure).
const PING_WAIT: Duration = Duration::from_secs(10);

/// What the notification endpoint received.
struct Ping {
    headers: HeaderMap,
    body: Bytes,
}

/// The client's notification endpoint: https on 127.0.0.1, answering every `POST` with 204
/// and handing it to the test. Stopped when dropped.
struct NotificationEndpoint {
    url: String,
    pings: mpsc::UnboundedReceiver<Ping>,
    task: JoinHandle<()>,
}

impl Drop for NotificationEndpoint {
    fn drop(&mut self) {
        self.task.abort();
    }
}

fn mtls_file(name: &str) -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("keys/mtls")
        .join(name)
}

impl NotificationEndpoint {
    async fn start() -> Self {
        let chain = CertificateDer::pem_file_iter(mtls_file("server.pem"))
            .unwrap()
            .collect::<Result<Vec<_>, _>>()
            .unwrap();
        let key = PrivateKeyDer::from_pem_file(mtls_file("server_key.pem")).unwrap();
        // rustls 0.23.48 deprecates the ring provider for lacking post-quantum key exchange;
        // ring is the workspace's crypto crate and this server only serves a test on loopback.
        #[allow(deprecated)]
        let provider = rustls::crypto::ring::default_provider();
        let config = rustls::ServerConfig::builder_with_provider(Arc::new(provider))
            .with_safe_default_protocol_versions()
            .unwrap()
            .with_no_client_auth()
            .with_single_cert(chain, key)
            .unwrap();
        let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
        let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!(
            "https://127.0.0.1:{}/ciba/notify",
            listener.local_addr().unwrap().port()
        );
        let (sender, pings) = mpsc::unbounded_channel();
        let task = tokio::spawn(async move {
            // Owned by this task: aborting it drops the set, which aborts every connection.
            let mut connections = tokio::task::JoinSet::new();
            loop {
                tokio::select! {
                    accepted = listener.accept() => {
                        let Ok((stream, _)) = accepted else { continue };
                        let acceptor = acceptor.clone();
                        let sender = sender.clone();
                        connections.spawn(async move {
                            let Ok(stream) = acceptor.accept(stream).await else { return };
                            let service = hyper::service::service_fn(move |req: Request<Incoming>| {
                                let sender = sender.clone();
                                async move {
                                    let (parts, body) = req.into_parts();
                                    let body = body.collect().await.map(|b| b.to_bytes());
                                    let status = match (parts.method, parts.uri.path(), body) {
                                        (http::Method::POST, "/ciba/notify", Ok(body)) => {
                                            let _ = sender.send(Ping { headers: parts.headers, body });
                                            StatusCode::NO_CONTENT
                                        }
                                        _ => StatusCode::NOT_FOUND,
                                    };
                                    let mut response = Response::new(Full::new(Bytes::new()));
                                    *response.status_mut() = status;
                                    Ok::<_, Infallible>(response)
                                }
                            });
                            let _ = hyper::server::conn::http1::Builder::new()
                                .serve_connection(TokioIo::new(stream), service)
                                .await;
                        });
                    }
                    Some(_) = connections.join_next(), if !connections.is_empty() => {}
                }
            }
        });
        Self { url, pings, task }
    }

    async fn next_ping(&mut self) -> Ping {
        tokio::time::timeout(PING_WAIT, self.pings.recv())
            .await
            .expect("no ping from the provider")
            .expect("the notification endpoint stopped")
    }
}

/// The provider (started with the test's notification endpoint), the ping-mode client's
/// grant client, and that endpoint.
struct Ciba {
    at: CibaProvider,
    grants: GrantClient<common::api::Http>,
    notifications: NotificationEndpoint,
}

impl std::ops::Deref for Ciba {
    type Target = CibaProvider;

    fn deref(&self) -> &CibaProvider {
        &self.at
    }
}

impl Ciba {
    async fn start() -> Self {
        let notifications = NotificationEndpoint::start().await;
        let options = OidcOptions::default()
            .access_token_ttl(Duration::from_secs(60))
            .ciba_notification_endpoint(notifications.url.clone());
        let provider = common::blocking(move || OidcProvider::start(options))
            .await
            .unwrap();
        let at = CibaProvider::new(provider).await;
        let grants = at.grants(CIBA_PING_CLIENT_ID, CIBA_PING_CLIENT_SECRET);
        Self {
            at,
            grants,
            notifications,
        }
    }
}

fn request(login_hint: &str, token: &ClientNotificationToken) -> BackchannelAuthenticationRequest {
    BackchannelAuthenticationRequest::new(
        &Scope::parse("openid email"),
        UserHint::login_hint(login_hint),
    )
    .client_notification_token(token)
}

fn fresh_token() -> ClientNotificationToken {
    ClientNotificationToken::generate(&SystemRandom::new()).unwrap()
}

/// Approved: the provider pings the endpoint with the request's token and `auth_req_id`; one
/// token request (no polling before) gets tokens whose ID token verifies with the provider's
/// keys. The same ping checked against another token is refused.
#[tokio::test(flavor = "multi_thread")]
async fn an_approved_request_is_pinged_then_collected_with_one_token_request() {
    bounded(async {
        let mut ciba = Ciba::start().await;
        assert_eq!(
            ciba.metadata.backchannel_token_delivery_modes_supported(),
            ["poll", "ping"]
        );
        let token = fresh_token();
        let pending = ciba
            .grants
            .backchannel_authentication(ciba.endpoint(), request(TEST_USER, &token))
            .await
            .unwrap();
        assert!(
            ciba.notifications.pings.try_recv().is_err(),
            "a ping before the decision"
        );
        ciba.decide(TEST_USER, true).await;

        let ping = ciba.notifications.next_ping().await;
        let id = verify_ping_notification(&ping.headers, &ping.body, &token).unwrap();
        assert!(pending.is_for(&id));
        // A ping checked against the wrong token is refused, before the body is read.
        let error =
            verify_ping_notification(&ping.headers, &ping.body, &fresh_token()).unwrap_err();
        assert_eq!(error, PingNotificationError::WrongToken);
        assert!(error.is_unauthorized());

        let before = stat(&stats(&ciba.provider).await, "token_requests");
        let tokens = ciba
            .grants
            .poll_backchannel_token_once(&pending)
            .await
            .unwrap();
        assert_eq!(
            stat(&stats(&ciba.provider).await, "token_requests"),
            before + 1
        );
        let claims = ciba.id_token_claims(CIBA_PING_CLIENT_ID, &tokens).await;
        assert_eq!(claims.sub(), TEST_USER);
        assert_eq!(stat(&stats(&ciba.provider).await, "ciba_ping_sent"), 1);
    })
    .await;
}

/// Denied: a ping too, then `access_denied` from the one token request. With two requests
/// pending (each with its own token), the ping names the denied one only: the other
/// request's token refuses it, and the other request does not match its `auth_req_id`.
#[tokio::test(flavor = "multi_thread")]
async fn a_denied_request_is_pinged_then_answers_access_denied() {
    bounded(async {
        let mut ciba = Ciba::start().await;
        let (denied_token, other_token) = (fresh_token(), fresh_token());
        let denied = ciba
            .grants
            .backchannel_authentication(ciba.endpoint(), request(CIBA_USER, &denied_token))
            .await
            .unwrap();
        let other = ciba
            .grants
            .backchannel_authentication(ciba.endpoint(), request(TEST_USER, &other_token))
            .await
            .unwrap();
        let secret_id = denied.auth_req_id().secret().to_owned();
        ciba.decide(CIBA_USER, false).await;

        let ping = ciba.notifications.next_ping().await;
        assert_eq!(
            verify_ping_notification(&ping.headers, &ping.body, &other_token),
            Err(PingNotificationError::WrongToken)
        );
        let id = verify_ping_notification(&ping.headers, &ping.body, &denied_token).unwrap();
        assert!(denied.is_for(&id));
        assert!(!other.is_for(&id));

        let error = ciba
            .grants
            .poll_backchannel_token_once(&denied)
            .await
            .unwrap_err();
        assert_eq!(error.error_code(), Some(&ErrorCode::AccessDenied));
        assert_eq!(error.kind(), GrantClientErrorKind::Response);
        assert_eq!(error.endpoint(), ServerEndpoint::Token);
        let text = format!("{error} {error:?} {}", common::error_chain_text(&error));
        assert!(!text.contains(&secret_id), "{text}");
        // The other request is still pending, and was not pinged.
        let error = ciba
            .grants
            .poll_backchannel_token_once(&other)
            .await
            .unwrap_err();
        assert_eq!(error.error_code(), Some(&ErrorCode::AuthorizationPending));
        assert!(ciba.notifications.pings.try_recv().is_err());
    })
    .await;
}

/// A ping-mode client must send a `client_notification_token` (CIBA Core §7.1): without one
/// the provider refuses the request, typed.
#[tokio::test(flavor = "multi_thread")]
async fn a_ping_client_without_a_notification_token_is_refused() {
    bounded(async {
        let ciba = Ciba::start().await;
        let without = BackchannelAuthenticationRequest::new(
            &Scope::parse("openid"),
            UserHint::login_hint(TEST_USER),
        );
        let error = ciba
            .grants
            .backchannel_authentication(ciba.endpoint(), without)
            .await
            .unwrap_err();
        assert_eq!(
            error.error_code(),
            Some(&ErrorCode::InvalidRequest),
            "{error}"
        );
        assert_eq!(error.endpoint(), ServerEndpoint::BackchannelAuthentication);
    })
    .await;
}

/// Ping mode with signed requests (CIBA Core §7.1.1 and §10.2 together), for a client
/// registered to send only signed ones: the `client_notification_token` travels inside the
/// request object, and the provider pings with it; the same request unsigned is refused, and
/// one signed without a token too.
#[tokio::test(flavor = "multi_thread")]
async fn a_signed_ping_request_carries_its_token_inside_the_object() {
    bounded(async {
        let mut ciba = Ciba::start().await;
        let grants = ciba.signed_grants(CIBA_PING_SIGNED_CLIENT_ID);
        let issuer = ciba.metadata.issuer().clone();
        let token = fresh_token();

        let unsigned = grants
            .backchannel_authentication(ciba.endpoint(), request(TEST_USER, &token))
            .await
            .unwrap_err();
        assert_eq!(
            unsigned.error_code(),
            Some(&ErrorCode::InvalidRequest),
            "{unsigned}"
        );
        assert!(
            unsigned.to_string().contains("Request Object must be used"),
            "{unsigned}"
        );
        let without_token = BackchannelAuthenticationRequest::new(
            &Scope::parse("openid"),
            UserHint::login_hint(TEST_USER),
        )
        .signed_request(client_key(CIBA_PING_SIGNED_CLIENT_ID), issuer.clone());
        let error = grants
            .backchannel_authentication(ciba.endpoint(), without_token)
            .await
            .unwrap_err();
        assert!(
            error.to_string().contains("client_notification_token"),
            "{error}"
        );
        assert_eq!(
            error.error_code(),
            Some(&ErrorCode::InvalidRequest),
            "{error}"
        );

        let signed = request(TEST_USER, &token)
            .signed_request(client_key(CIBA_PING_SIGNED_CLIENT_ID), issuer);
        let pending = grants
            .backchannel_authentication(ciba.endpoint(), signed)
            .await
            .unwrap();
        ciba.decide(TEST_USER, true).await;
        let ping = ciba.notifications.next_ping().await;
        let id = verify_ping_notification(&ping.headers, &ping.body, &token).unwrap();
        assert!(pending.is_for(&id));

        let tokens = grants.poll_backchannel_token_once(&pending).await.unwrap();
        let claims = ciba
            .id_token_claims(CIBA_PING_SIGNED_CLIENT_ID, &tokens)
            .await;
        assert_eq!(claims.sub(), TEST_USER);
        assert_eq!(stat(&stats(&ciba.provider).await, "ciba_ping_sent"), 1);
    })
    .await;
}
