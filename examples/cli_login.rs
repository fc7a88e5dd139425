//! A command-line tool's login (RFC 8252, OAuth for native apps): the authorization code flow
//! with PKCE, the browser sent back to a one-shot listener on a loopback port, the token kept
//! in a `FileStore` (mode 0600) and reused, and refreshed, on the next runs.
//!
//! ```sh
//! cargo run --example cli_login    # demo: a scripted browser and the embedded demo provider
//! ```
//!
//! The listener binds `127.0.0.1:0` (any free port; RFC 8252 §7.3 lets a native app's loopback
//! redirect use any port), the redirect URI names that port, and the first request to
//! `/callback` carries the authorization response. Against a real provider, print the
//! authorization URL (or open it with the platform's browser launcher) instead of the scripted
//! browser used here, and register `http://127.0.0.1/callback` as a redirect URI.

use std::process::ExitCode;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::extract::State;
use axum::http::HeaderName;
use axum::http::header::REFERRER_POLICY;
use axum::routing::get;
use examples::http::{self as demo_http, HttpClient, collect};
use examples::provider::{DemoProvider, clients};
use examples::transcript::{Transcript, check, finish, redact, redact_url};
use oauth_core::clock::SystemRandom;
use oauth_core::oauth2::{
    AuthorizationRequest, Client, Endpoint, Issuer, RedirectUri, Scope, Token, Transport,
};
use tokio::sync::oneshot;
use tower::ServiceExt;
use tower_oauth2::store::FileStore;
use tower_oauth2::{GrantClient, OAuth2Layer, TokenErrorKind, TokenSource};

/// How long the listener waits for the browser to come back.
const LOGIN_WAIT: Duration = Duration::from_secs(300);

/// The one-shot loopback listener: the callback's URI, once.
type CallbackSlot = Arc<Mutex<Option<oneshot::Sender<String>>>>;

/// `GET /callback`: hands the authorization response to the waiting login, and tells the user
/// to go back to the terminal. Any later request finds the slot empty. The page's address holds
/// the authorization code: `Referrer-Policy: no-referrer` keeps it out of any request the page
/// leads to (RFC 9700 §4.2.4).
async fn callback(
    State(slot): State<CallbackSlot>,
    uri: axum::http::Uri,
) -> ([(HeaderName, &'static str); 1], &'static str) {
    let sender = slot.lock().unwrap_or_else(|e| e.into_inner()).take();
    let page = match sender.map(|sender| sender.send(uri.to_string())) {
        Some(Ok(())) => "Signed in. You can close this window and go back to the terminal.",
        _ => "This login is over. Go back to the terminal.",
    };
    ([(REFERRER_POLICY, "no-referrer")], page)
}

/// What the tool needs to log in: where the provider is and who it is.
struct Login {
    http: HttpClient,
    grants: GrantClient<HttpClient>,
    authorize: Endpoint,
    issuer: Issuer,
    scope: Scope,
}

impl Login {
    /// Logs in with the code flow: a loopback listener, the authorization URL for the browser,
    /// the callback checked (where it arrived, `iss`, state), the code exchanged with the PKCE
    /// verifier. `browser` stands for the user's browser (here, scripted).
    async fn run(
        &self,
        t: &mut Transcript,
        browser: impl AsyncFnOnce(String) -> examples::Result<()>,
    ) -> examples::Result<Token> {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
        let port = listener.local_addr()?.port();
        // http: only for a loopback host, and only with this explicit opt-in.
        let redirect = RedirectUri::with_transport(
            &format!("http://127.0.0.1:{port}/callback"),
            Transport::AllowLoopbackHttp,
        )?;
        let (send, receive) = oneshot::channel();
        let slot: CallbackSlot = Arc::new(Mutex::new(Some(send)));
        let app = Router::new()
            .route("/callback", get(callback))
            .with_state(slot);
        let server = tokio::spawn(axum::serve(listener, app).into_future());

        let (url, pending) =
            AuthorizationRequest::new(&self.authorize, self.grants.client().id(), &redirect)
                .scope(self.scope.clone())
                // true: this server sends `iss` in callbacks (its metadata says
                // authorization_response_iss_parameter_supported); pass false for one that does not.
                .expect_issuer(self.issuer.clone(), true)
                .build(&SystemRandom::new())?;
        t.say(format!("listening on 127.0.0.1:{port} for the callback"));
        t.say(format!(
            "open in a browser: {}",
            redact_url(&url.to_string())
        ));
        browser(url.to_string()).await?;

        let callback = tokio::time::timeout(LOGIN_WAIT, receive).await;
        server.abort();
        let callback = callback
            .map_err(|_| "no callback: the login took too long")?
            .map_err(|_| "the listener stopped")?;
        t.say(format!("callback: {}", redact_url(&callback)));
        let exchange = pending.parse_callback(&callback)?;
        Ok(self.grants.exchange_code(exchange).await?)
    }

    /// The saved token's source; a new login first when there is none or its grant is dead.
    async fn source(
        &self,
        t: &mut Transcript,
        store: &FileStore,
        browser: impl AsyncFnOnce(String) -> examples::Result<()>,
    ) -> examples::Result<TokenSource> {
        let source = TokenSource::builder()
            .fetcher(self.grants.refresh_fetcher())
            .store(store.clone())
            .build()
            .await?;
        match source.token().await {
            Ok(_) => t.say("a saved token: no login needed"),
            Err(e)
                if matches!(
                    e.kind(),
                    TokenErrorKind::NoToken | TokenErrorKind::Reauthorize
                ) =>
            {
                t.say(format!("no usable saved token ({e}): logging in"));
                let token = self.run(t, browser).await?;
                source.replace_token(token).await?;
            }
            Err(e) => return Err(e.into()),
        }
        Ok(source)
    }
}

#[tokio::main]
async fn main() -> ExitCode {
    let mut t = Transcript::new();
    let result = demo(&mut t).await;
    finish("cli_login", &t, result)
}

async fn demo(t: &mut Transcript) -> examples::Result<()> {
    let provider = DemoProvider::start().await?;
    let loopback = Transport::AllowLoopbackHttp;
    let http = demo_http::client();
    let login = Login {
        grants: GrantClient::new(
            http.clone(),
            Endpoint::with_transport(&provider.url("/oauth2/token"), loopback)?,
            // A native app is a public client: no secret, PKCE (RFC 8252 §8.4, §8.1).
            Client::public(clients::CLI_LOGIN),
        ),
        http: http.clone(),
        authorize: Endpoint::with_transport(&provider.url("/oauth2/authorize"), loopback)?,
        issuer: Issuer::with_transport(provider.base_url(), loopback)?,
        scope: Scope::parse("profile"),
    };
    let dir = std::env::temp_dir().join(format!("cli-login-demo-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let store = FileStore::new(dir.join("token.json"));
    t.section(&format!(
        "cli_login against the demo provider on {}; token file {}",
        provider.base_url(),
        store.path().display()
    ));

    // The user's browser, scripted: the provider asks nothing (the demo user consents at once)
    // and redirects to our listener, which the browser then visits.
    let browser = |http: HttpClient| {
        async move |url: String| -> examples::Result<()> {
            let callback = demo_http::consent(&http, &url).await?;
            let page = collect(http.request(demo_http::get(&callback)?).await?).await?;
            check(page.text().starts_with("Signed in"), "the listener's page")?;
            check(
                page.header("referrer-policy") == Some("no-referrer"),
                "the listener's page sends no Referer",
            )?;
            Ok(())
        }
    };

    t.step("first run: no saved token, so a login through the browser");
    let source = login.source(t, &store, browser(login.http.clone())).await?;
    let saved = std::fs::read_to_string(store.path())?;
    check(saved.contains("refresh_token"), "the token was saved")?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(store.path())?.permissions().mode() & 0o777;
        t.say(format!("token file mode {mode:o}"));
        check(mode == 0o600, "the token file is private")?;
    }
    call_api(t, &provider, &source, &login.http).await?;
    drop(source);

    t.step("second run: the saved token is used, no browser");
    let source = login
        .source(t, &store, async |_url: String| {
            Err("the second run must not open a browser".into())
        })
        .await?;
    call_api(t, &provider, &source, &login.http).await?;

    t.step("the 2-second token expires: refreshed, and the rotated token saved");
    let before = source.current().and_then(|t| t.refresh_token().cloned());
    tokio::time::sleep(Duration::from_millis(2300)).await;
    call_api(t, &provider, &source, &login.http).await?;
    let saved: Token = serde_json::from_str(&std::fs::read_to_string(store.path())?)?;
    check(
        saved.refresh_token() != before.as_ref(),
        "the rotated refresh token is in the file",
    )?;
    t.say(format!(
        "refresh token in the file: {}",
        redact(saved.refresh_token().map_or("", |r| r.secret()))
    ));
    let _ = std::fs::remove_dir_all(&dir);
    Ok(())
}

/// `GET /api/me` through the layer.
async fn call_api(
    t: &mut Transcript,
    provider: &DemoProvider,
    source: &TokenSource,
    http: &HttpClient,
) -> examples::Result<()> {
    let layer = OAuth2Layer::new_dangerous_http_loopback(source.clone(), provider.base_url())?;
    let api = tower::Layer::layer(&layer, http.clone());
    let response = collect(
        api.oneshot(demo_http::get(&provider.url("/api/me"))?)
            .await?,
    )
    .await?;
    check(
        response.status.is_success(),
        format!("/api/me answered {}", response.status),
    )?;
    t.say(format!("/api/me: {}", response.text().trim()));
    Ok(())
}
