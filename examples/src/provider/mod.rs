//! The demo provider: an OAuth 1.0a provider, an OAuth 2 authorization server and a protected
//! API, served by axum on `127.0.0.1` with a random port, inside the example's own process.
//!
//! It is strict where a real provider is strict, so the examples exercise the real checks:
//!
//! - **OAuth 1.0a** (RFC 5849): temporary credentials with a confirmed callback, an authorization
//!   endpoint that approves at once and redirects to the callback with a verifier, token
//!   credentials; every request's signature is verified with oauth-core's verifier (header, query
//!   or body placement), with a ±5 minute timestamp window and a nonce store against replay.
//! - **OAuth 2** (RFC 6749, 7636, 9207): the authorization endpoint approves at once and `302`s
//!   to the redirect URI (`?code=&state=&iss=`, or `#access_token=` for the implicit grant);
//!   PKCE `S256` is required from public clients and checked whenever a challenge was sent;
//!   clients authenticate exactly as registered (`client_secret_basic`, `client_secret_post`, or
//!   none for public clients); access tokens are opaque with a per-client lifetime, refresh
//!   tokens rotate on every use and a used one is rejected.
//! - **Protected API**: `GET /api/me` wants `Authorization: Bearer`, and answers `401` with
//!   `WWW-Authenticate: Bearer error="invalid_token"` for an unknown or expired token;
//!   `/api/oauth1/me` wants an OAuth 1.0a signature.
//! - **Provider quirks** per client ([`Quirk`]), to exercise oauth-core's compliance hooks:
//!   GitHub's form-encoded token response, Facebook's `expires`, LinkedIn's missing `token_type`.
//!
//! Endpoints (relative to [`DemoProvider::base_url`]):
//!
//! | path | what |
//! |---|---|
//! | `POST /oauth1/request_token`, `GET /oauth1/authorize`, `POST /oauth1/access_token` | RFC 5849 §2 |
//! | `GET /oauth2/authorize`, `POST /oauth2/token` | RFC 6749 §3.1, §3.2 |
//! | `POST /oauth2/device_authorization`, `GET /oauth2/device` | RFC 8628 §3.1, §3.3 (device flow) |
//! | `GET /api/me` | Bearer-protected profile |
//! | `GET/POST /api/oauth1/me` | OAuth 1.0a-protected profile |
//!
//! ```no_run
//! # async fn demo() -> examples::Result<()> {
//! use examples::provider::DemoProvider;
//!
//! let provider = DemoProvider::start().await?;
//! println!("authorize at {}", provider.url("/oauth2/authorize"));
//! let stats = provider.stats(examples::provider::clients::WEB);
//! assert_eq!(stats.refresh_requests, 0);
//! # Ok(()) }
//! ```

mod api;
mod device;
mod oauth1;
mod oauth2;
mod state;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::routing::{any, get, post};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use state::Shared;

/// The resource owner every authorization is granted by.
pub const DEMO_USER: &str = "demo-user";

/// The demo user's password, for the (deprecated) password grant.
pub const DEMO_PASSWORD: &str = "demo-password";

/// How far an `oauth_timestamp` may be from the provider's clock.
pub const TIMESTAMP_WINDOW: Duration = Duration::from_secs(300);

/// The clients registered by [`ProviderConfig::demo`]: `(id, secret)` pairs the examples use.
pub mod clients {
    /// Web application client (`client_secret_basic`, one-hour tokens).
    pub const WEB: &str = "tour-web";
    /// Its secret.
    pub const WEB_SECRET: &str = "tour-web-secret";
    /// Public client (no secret, PKCE required), also allowed the implicit grant.
    pub const PUBLIC: &str = "tour-public";
    /// Backend client for the client credentials grant (`client_secret_basic`).
    pub const BACKEND: &str = "tour-backend";
    /// Its secret.
    pub const BACKEND_SECRET: &str = "tour-backend-secret";
    /// Legacy client for the password grant (`client_secret_post`).
    pub const LEGACY: &str = "tour-legacy";
    /// Its secret.
    pub const LEGACY_SECRET: &str = "tour-legacy-secret";
    /// Client whose access tokens live two seconds (`client_secret_basic`), for refreshing.
    pub const SHORT: &str = "tour-short";
    /// Its secret.
    pub const SHORT_SECRET: &str = "tour-short-secret";
    /// The `cli_login` example's public client (a native app: PKCE, no secret), with
    /// two-second tokens.
    pub const CLI_LOGIN: &str = "cli-login-demo";
    /// OAuth 1.0a consumer key of the tour.
    pub const CONSUMER: &str = "tour-consumer";
    /// Its secret.
    pub const CONSUMER_SECRET: &str = "tour-consumer-secret";
    /// The per-provider examples' clients: `<provider>-demo` with secret
    /// `<provider>-demo-secret` (GitHub, Google, Facebook, LinkedIn, Outlook, web_app; Fitbit
    /// is public), and OAuth 1 consumers `bitbucket-demo` and `tumblr-demo`.
    pub fn demo_secret(client_id: &str) -> String {
        format!("{client_id}-secret")
    }
}

/// How a registered client authenticates at the token endpoint (RFC 6749 §2.3).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ClientAuthMethod {
    /// `client_secret_basic`: HTTP Basic.
    SecretBasic,
    /// `client_secret_post`: `client_id` and `client_secret` in the body.
    SecretPost,
    /// A public client: `client_id` only, PKCE required.
    None,
}

/// A provider quirk the token endpoint imitates for one client.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Quirk {
    /// RFC 6749 §5.1 JSON.
    #[default]
    None,
    /// GitHub's legacy answer: `application/x-www-form-urlencoded`, comma-separated `scope`.
    GitHubForm,
    /// Facebook's legacy answer: form-encoded `access_token` and `expires`, no `token_type`.
    FacebookLegacy,
    /// LinkedIn: JSON without `token_type`.
    LinkedInNoTokenType,
}

/// A registered OAuth 2 client.
#[derive(Debug, Clone)]
pub struct OAuth2Client {
    /// `client_id`.
    pub id: String,
    /// The secret, for confidential clients.
    pub secret: Option<String>,
    /// How it must authenticate.
    pub auth: ClientAuthMethod,
    /// Access token lifetime.
    pub token_lifetime: Duration,
    /// Whether refresh tokens are issued.
    pub refresh_tokens: bool,
    /// The token response quirk.
    pub quirk: Quirk,
}

impl OAuth2Client {
    /// A confidential client with one-hour tokens and refresh tokens.
    pub fn confidential(id: &str, secret: &str, auth: ClientAuthMethod) -> Self {
        Self {
            id: id.to_owned(),
            secret: Some(secret.to_owned()),
            auth,
            token_lifetime: Duration::from_secs(3600),
            refresh_tokens: true,
            quirk: Quirk::None,
        }
    }

    /// A public client (no secret, PKCE required) with one-hour tokens and refresh tokens.
    pub fn public(id: &str) -> Self {
        Self {
            id: id.to_owned(),
            secret: None,
            auth: ClientAuthMethod::None,
            token_lifetime: Duration::from_secs(3600),
            refresh_tokens: true,
            quirk: Quirk::None,
        }
    }

    /// Sets the access token lifetime.
    #[must_use]
    pub fn token_lifetime(mut self, lifetime: Duration) -> Self {
        self.token_lifetime = lifetime;
        self
    }

    /// Sets the token response quirk.
    #[must_use]
    pub fn quirk(mut self, quirk: Quirk) -> Self {
        self.quirk = quirk;
        self
    }

    /// Issues no refresh tokens.
    #[must_use]
    pub fn without_refresh_tokens(mut self) -> Self {
        self.refresh_tokens = false;
        self
    }
}

/// The provider's registrations.
#[derive(Debug, Clone, Default)]
pub struct ProviderConfig {
    clients: HashMap<String, OAuth2Client>,
    consumers: HashMap<String, String>,
}

impl ProviderConfig {
    /// No clients at all.
    pub fn empty() -> Self {
        Self::default()
    }

    /// Every client the examples use (see [`clients`]).
    pub fn demo() -> Self {
        use ClientAuthMethod::{SecretBasic, SecretPost};
        let mut config = Self::empty()
            .client(OAuth2Client::confidential(
                clients::WEB,
                clients::WEB_SECRET,
                SecretBasic,
            ))
            .client(OAuth2Client::public(clients::PUBLIC))
            .client(
                OAuth2Client::confidential(clients::BACKEND, clients::BACKEND_SECRET, SecretBasic)
                    .without_refresh_tokens(),
            )
            .client(OAuth2Client::confidential(
                clients::LEGACY,
                clients::LEGACY_SECRET,
                SecretPost,
            ))
            .client(
                OAuth2Client::confidential(clients::SHORT, clients::SHORT_SECRET, SecretBasic)
                    .token_lifetime(Duration::from_secs(2)),
            )
            .consumer(clients::CONSUMER, clients::CONSUMER_SECRET);
        let per_provider = [
            ("github-demo", Quirk::GitHubForm),
            ("google-demo", Quirk::None),
            ("facebook-demo", Quirk::FacebookLegacy),
            ("linkedin-demo", Quirk::LinkedInNoTokenType),
            ("outlook-demo", Quirk::None),
        ];
        for (id, quirk) in per_provider {
            let secret = clients::demo_secret(id);
            let mut client = OAuth2Client::confidential(id, &secret, SecretPost).quirk(quirk);
            if quirk == Quirk::GitHubForm {
                client = client.without_refresh_tokens();
            }
            config = config.client(client);
        }
        config = config.client(
            OAuth2Client::public(clients::CLI_LOGIN).token_lifetime(Duration::from_secs(2)),
        );
        config = config.client(OAuth2Client::public("fitbit-demo")).client(
            OAuth2Client::confidential(
                "web-app-demo",
                &clients::demo_secret("web-app-demo"),
                SecretBasic,
            )
            .token_lifetime(Duration::from_secs(2)),
        );
        for key in ["bitbucket-demo", "tumblr-demo"] {
            config = config.consumer(key, &clients::demo_secret(key));
        }
        config
    }

    /// Registers an OAuth 2 client (replacing one with the same id).
    #[must_use]
    pub fn client(mut self, client: OAuth2Client) -> Self {
        self.clients.insert(client.id.clone(), client);
        self
    }

    /// Registers an OAuth 1.0a consumer.
    #[must_use]
    pub fn consumer(mut self, key: &str, secret: &str) -> Self {
        self.consumers.insert(key.to_owned(), secret.to_owned());
        self
    }
}

/// What the provider saw from one client (a snapshot).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ClientStats {
    /// Token endpoint requests, all grants, successful or not.
    pub token_requests: u64,
    /// `grant_type=refresh_token` requests.
    pub refresh_requests: u64,
    /// Tokens issued.
    pub tokens_issued: u64,
    /// Protected API calls that were authorized.
    pub api_calls: u64,
    /// Protected API calls refused with 401.
    pub api_rejections: u64,
}

/// The running demo provider. Dropping it shuts the server down.
#[derive(Debug)]
pub struct DemoProvider {
    addr: SocketAddr,
    shared: Arc<Shared>,
    shutdown: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<()>>,
}

impl DemoProvider {
    /// Starts the provider with [`ProviderConfig::demo`] on `127.0.0.1` and a random port.
    pub async fn start() -> std::io::Result<Self> {
        Self::start_with(ProviderConfig::demo()).await
    }

    /// Starts the provider with `config` on `127.0.0.1` and a random port.
    pub async fn start_with(config: ProviderConfig) -> std::io::Result<Self> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared::new(format!("http://{addr}"), config));
        let app = router(shared.clone());
        let (tx, rx) = oneshot::channel::<()>();
        let task = tokio::spawn(async move {
            let serve = axum::serve(listener, app).with_graceful_shutdown(async {
                let _ = rx.await;
            });
            if let Err(error) = serve.await {
                eprintln!("demo provider stopped: {error}");
            }
        });
        Ok(Self {
            addr,
            shared,
            shutdown: Some(tx),
            task: Some(task),
        })
    }

    /// `http://127.0.0.1:PORT`: the issuer identifier, and the origin of every endpoint.
    pub fn base_url(&self) -> &str {
        &self.shared.base_url
    }

    /// The socket address.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `base_url` followed by `path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.shared.base_url)
    }

    /// A snapshot of what the provider saw from `client_id` (OAuth 2 client or OAuth 1 consumer).
    pub fn stats(&self, client_id: &str) -> ClientStats {
        self.shared.stats(client_id)
    }

    /// Stops the server and waits for it.
    pub async fn shutdown(mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        if let Some(task) = self.task.take() {
            let _ = task.await;
        }
    }
}

impl Drop for DemoProvider {
    fn drop(&mut self) {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
    }
}

fn router(shared: Arc<Shared>) -> Router {
    Router::new()
        .route("/oauth1/request_token", post(oauth1::request_token))
        .route("/oauth1/authorize", get(oauth1::authorize))
        .route("/oauth1/access_token", post(oauth1::access_token))
        .route("/api/oauth1/me", any(oauth1::protected))
        .route("/oauth2/authorize", get(oauth2::authorize))
        .route("/oauth2/token", post(oauth2::token))
        .route("/oauth2/device_authorization", post(device::authorization))
        .route("/oauth2/device", get(device::verify))
        .route("/api/me", get(api::me))
        .with_state(shared)
}
