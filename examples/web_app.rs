//! requests-oauthlib's "Web App Example of OAuth 2 web application flow", as an axum app:
//! `/login` starts the authorization (state and PKCE kept server-side in `PendingAuthorizations`,
//! bound to a session cookie), `/callback` checks the callback and exchanges the code (once: a
//! replayed callback is refused), `/profile` calls the
//! API through `OAuth2Layer` (refreshing automatically when the token expired), `/refresh`
//! refreshes by hand.
//!
//! ```sh
//! cargo run --example web_app            # demo: drives itself through a login, then exits
//! cargo run --example web_app -- --serve # demo provider and app stay up; open the printed /login
//! GITHUB_CLIENT_ID=... GITHUB_CLIENT_SECRET=... cargo run --example web_app
//! ```
//!
//! With the variables set it serves on `http://127.0.0.1:5000` (`WEB_APP_PORT`) against GitHub;
//! register `http://127.0.0.1:5000/callback` as the OAuth app's callback URL and open
//! `http://127.0.0.1:5000/login` in a browser. The demo provider's client for this example has
//! two-second tokens, so automatic refresh is easy to watch.

use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::extract::State;
use axum::http::header::{COOKIE, LOCATION, REFERRER_POLICY, SET_COOKIE};
use axum::http::{HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use examples::http::{self as demo_http, HttpClient, collect};
use examples::provider::{DemoProvider, clients};
use examples::transcript::{Transcript, check, finish, redact, redact_url};
use oauth_core::clock::{SystemRandom, random_urlsafe};
use oauth_core::oauth2::{
    AuthorizationRequest, Client, Compliance, Endpoint, Issuer, PendingAuthorizations, RedirectUri,
    RefreshPolicy, Scope, Transport,
};
use oauth_core::secret::ClientSecret;
use tower::ServiceExt;
use tower_oauth2::store::MemoryStore;
use tower_oauth2::{GrantClient, OAuth2Layer, TokenSource};

/// One browser session, kept server-side.
#[derive(Default)]
struct Session {
    /// After `/callback`: the user's token, refreshed on demand.
    source: Option<TokenSource>,
}

struct App {
    http: HttpClient,
    grants: GrantClient<HttpClient>,
    authorize: Endpoint,
    issuer: Option<Issuer>,
    redirect_uri: RedirectUri,
    scope: Scope,
    api_url: String,
    api_origin: String,
    demo: bool,
    /// Between `/login` and `/callback`: each login's state, PKCE verifier and redirect URI,
    /// bound to its session, single-use, expiring after 10 minutes.
    logins: PendingAuthorizations,
    sessions: Mutex<HashMap<String, Session>>,
}

impl App {
    fn sessions(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.sessions.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

fn session_id(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| c.trim().strip_prefix("sid=").map(str::to_owned))
}

fn error(status: StatusCode, message: impl std::fmt::Display) -> Response {
    (status, format!("{message}\n")).into_response()
}

/// `GET /login`: a session (new unless the browser has one), then off to the authorization
/// server.
async fn login(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let random = SystemRandom::new();
    let sid = match session_id(&headers).filter(|sid| app.sessions().contains_key(sid)) {
        Some(sid) => sid,
        None => match random_urlsafe(&random, 32) {
            Ok(sid) => sid,
            Err(_) => return error(StatusCode::INTERNAL_SERVER_ERROR, "no randomness"),
        },
    };
    let mut request =
        AuthorizationRequest::new(&app.authorize, app.grants.client().id(), &app.redirect_uri)
            .scope(app.scope.clone());
    if let Some(issuer) = &app.issuer {
        // true: this server sends `iss` in callbacks (its metadata says
        // authorization_response_iss_parameter_supported); pass false for one that does not.
        request = request.expect_issuer(issuer.clone(), true);
    }
    let (url, pending) = match request.build(&random) {
        Ok(built) => built,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    if let Err(e) = app.logins.insert(&sid, pending, SystemTime::now()) {
        return error(StatusCode::SERVICE_UNAVAILABLE, e);
    }
    app.sessions().entry(sid.clone()).or_default();
    (
        StatusCode::FOUND,
        [
            (LOCATION, url.to_string()),
            (
                SET_COOKIE,
                format!("sid={sid}; Path=/; HttpOnly; SameSite=Lax"),
            ),
        ],
    )
        .into_response()
}

/// `GET /callback`: the state check and the code exchange. Every answer, the redirect and the
/// error pages alike, says `Referrer-Policy: no-referrer`: this address holds the authorization
/// code, which must not reach whatever the answer leads to (RFC 9700 §4.2.4).
async fn callback(
    State(app): State<Arc<App>>,
    headers: HeaderMap,
    uri: axum::http::Uri,
) -> Response {
    let mut response = complete_login(app, headers, uri).await;
    response
        .headers_mut()
        .insert(REFERRER_POLICY, HeaderValue::from_static("no-referrer"));
    response
}

/// The state check and the code exchange of `/callback`, then the logged-in session.
async fn complete_login(app: Arc<App>, headers: HeaderMap, uri: axum::http::Uri) -> Response {
    let Some(sid) = session_id(&headers) else {
        return error(StatusCode::BAD_REQUEST, "no session: start at /login");
    };
    // The login this callback's state names in this session, taken out (single-use).
    let exchange = match app
        .logins
        .complete(&sid, &uri.to_string(), SystemTime::now())
    {
        Ok(exchange) => exchange,
        Err(e) => return error(StatusCode::BAD_REQUEST, e),
    };
    let token = match app.grants.exchange_code(exchange).await {
        Ok(token) => token,
        Err(e) => return error(StatusCode::BAD_GATEWAY, e),
    };
    let source = TokenSource::builder()
        .token(token)
        .fetcher(app.grants.refresh_fetcher())
        .store(MemoryStore::new())
        .policy(if app.demo {
            // The demo client's tokens live 2 s: let it refresh every second. Keep the
            // default (at most one refresh per 5 s) for real providers.
            RefreshPolicy::default().min_interval(Duration::from_secs(1))
        } else {
            RefreshPolicy::default()
        })
        .build()
        .await;
    match source {
        Ok(source) => {
            // A new session id for the logged-in session (the old one may have been planted
            // in this browser by someone else: session fixation).
            let Ok(new_sid) = random_urlsafe(&SystemRandom::new(), 32) else {
                return error(StatusCode::INTERNAL_SERVER_ERROR, "no randomness");
            };
            {
                let mut sessions = app.sessions();
                sessions.remove(&sid);
                sessions.insert(
                    new_sid.clone(),
                    Session {
                        source: Some(source),
                    },
                );
            }
            (
                StatusCode::FOUND,
                [
                    (LOCATION, "/profile".to_owned()),
                    (
                        SET_COOKIE,
                        format!("sid={new_sid}; Path=/; HttpOnly; SameSite=Lax"),
                    ),
                ],
            )
                .into_response()
        }
        Err(e) => error(StatusCode::INTERNAL_SERVER_ERROR, e),
    }
}

/// The logged-in session's token source, if any.
fn user_source(app: &App, headers: &HeaderMap) -> Option<TokenSource> {
    let sid = session_id(headers)?;
    app.sessions().get(&sid).and_then(|s| s.source.clone())
}

/// `GET /profile`: the API through `OAuth2Layer`, which refreshes an expired token itself.
async fn profile(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let Some(source) = user_source(&app, &headers) else {
        return error(StatusCode::UNAUTHORIZED, "log in first: /login");
    };
    let layer = if app.demo {
        OAuth2Layer::new_dangerous_http_loopback(source, &app.api_origin)
    } else {
        OAuth2Layer::new(source, &app.api_origin)
    };
    let layer = match layer {
        Ok(layer) => layer,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    let api = tower::ServiceBuilder::new()
        .layer(layer)
        .service(app.http.clone());
    let request = axum::http::Request::get(&app.api_url)
        .header("user-agent", "tower-oauth-web-app")
        .body(http_body_util::Full::default());
    let result = match request {
        Ok(request) => api.oneshot(request).await,
        Err(e) => return error(StatusCode::INTERNAL_SERVER_ERROR, e),
    };
    match result {
        Ok(response) => match collect(response).await {
            Ok(r) => (
                r.status,
                [("content-type", "application/json")],
                r.body.to_vec(),
            )
                .into_response(),
            Err(e) => error(StatusCode::BAD_GATEWAY, e),
        },
        Err(e) => error(StatusCode::BAD_GATEWAY, e),
    }
}

/// `GET /refresh`: refresh by hand, now.
async fn refresh(State(app): State<Arc<App>>, headers: HeaderMap) -> Response {
    let Some(source) = user_source(&app, &headers) else {
        return error(StatusCode::UNAUTHORIZED, "log in first: /login");
    };
    match source.refresh().await {
        Ok(token) => {
            let body = serde_json::json!({
                "refreshed": true,
                "access_token": redact(token.access_token().secret()),
                "expires_at": token.expires_at().and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok()).map(|d| d.as_secs()),
            });
            (StatusCode::OK, body.to_string()).into_response()
        }
        Err(e) => error(StatusCode::BAD_GATEWAY, e),
    }
}

fn router(app: Arc<App>) -> Router {
    Router::new()
        .route("/login", get(login))
        .route("/callback", get(callback))
        .route("/profile", get(profile))
        .route("/refresh", get(refresh))
        .with_state(app)
}

#[tokio::main]
async fn main() -> ExitCode {
    let serve = std::env::args().any(|a| a == "--serve");
    let mut t = Transcript::new();
    let result = match examples::real::credentials("GITHUB_CLIENT_ID", "GITHUB_CLIENT_SECRET") {
        Some(creds) => real_github(creds).await,
        None => demo(&mut t, serve).await,
    };
    finish("web_app", &t, result)
}

/// Against GitHub: serve until interrupted.
async fn real_github(creds: examples::real::RealCredentials) -> examples::Result<()> {
    let port: u16 = examples::real::var_or("WEB_APP_PORT", "5000").parse()?;
    let http = demo_http::client();
    let loopback = Transport::AllowLoopbackHttp;
    let app = Arc::new(App {
        grants: GrantClient::new(
            http.clone(),
            Endpoint::new("https://github.com/login/oauth/access_token")?,
            Client::secret_post(creds.client_id, creds.client_secret),
        )
        .compliance(Compliance::github()),
        http,
        authorize: Endpoint::new("https://github.com/login/oauth/authorize")?,
        issuer: None,
        redirect_uri: RedirectUri::with_transport(
            &format!("http://127.0.0.1:{port}/callback"),
            loopback,
        )?,
        scope: Scope::parse("read:user"),
        api_url: "https://api.github.com/user".to_owned(),
        api_origin: "https://api.github.com".to_owned(),
        demo: false,
        logins: PendingAuthorizations::new(),
        sessions: Mutex::default(),
    });
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", port)).await?;
    println!("web_app: open http://127.0.0.1:{port}/login (Ctrl-C to stop)");
    axum::serve(listener, router(app)).await?;
    Ok(())
}

/// Against the demo provider: log in with a scripted browser, or serve with `--serve`.
async fn demo(t: &mut Transcript, serve: bool) -> examples::Result<()> {
    let provider = DemoProvider::start().await?;
    let listener = tokio::net::TcpListener::bind(("127.0.0.1", 0)).await?;
    let base = format!("http://{}", listener.local_addr()?);
    let loopback = Transport::AllowLoopbackHttp;
    let http = demo_http::client();
    let client_id = "web-app-demo";
    let app = Arc::new(App {
        grants: GrantClient::new(
            http.clone(),
            Endpoint::with_transport(&provider.url("/oauth2/token"), loopback)?,
            Client::secret_basic(
                client_id,
                ClientSecret::new(clients::demo_secret(client_id)),
            ),
        ),
        http: http.clone(),
        authorize: Endpoint::with_transport(&provider.url("/oauth2/authorize"), loopback)?,
        issuer: Some(Issuer::with_transport(provider.base_url(), loopback)?),
        redirect_uri: RedirectUri::with_transport(&format!("{base}/callback"), loopback)?,
        scope: Scope::parse("profile"),
        api_url: provider.url("/api/me"),
        api_origin: provider.base_url().to_owned(),
        demo: true,
        logins: PendingAuthorizations::new(),
        sessions: Mutex::default(),
    });
    let server = tokio::spawn(axum::serve(listener, router(app)).into_future());
    t.section(&format!(
        "web_app on {base}, demo provider on {}",
        provider.base_url()
    ));
    if serve {
        println!("web_app: open {base}/login in a browser (Ctrl-C to stop)");
        server.await??;
        return Ok(());
    }

    // A scripted browser: follows redirects by hand and keeps the session cookie.
    t.step("GET /login: a session cookie and a redirect to the authorization server");
    let response = collect(
        http.request(demo_http::get(&format!("{base}/login"))?)
            .await?,
    )
    .await?;
    let cookie = response
        .header("set-cookie")
        .and_then(|c| c.split(';').next())
        .ok_or("no session cookie")?
        .to_owned();
    let authorize = response.header("location").ok_or("no redirect")?.to_owned();
    t.say(format!(
        "cookie sid={}",
        redact(cookie.trim_start_matches("sid="))
    ));
    t.say(redact_url(&authorize));

    t.step("the user consents; the provider redirects to /callback");
    let callback = demo_http::consent(&http, &authorize).await?;
    t.say(redact_url(&callback));

    let browse_with = |url: String, cookie: String| {
        let http = http.clone();
        async move {
            let request = axum::http::Request::get(url)
                .header(COOKIE, cookie)
                .body(http_body_util::Full::default())?;
            collect(http.request(request).await?).await
        }
    };
    t.step("GET /callback: state checked, code exchanged, a new session id, redirect to /profile");
    let response = browse_with(callback.clone(), cookie.clone()).await?;
    check(
        response.status == StatusCode::FOUND && response.header("location") == Some("/profile"),
        format!(
            "callback answered {}: {}",
            response.status,
            response.text().trim()
        ),
    )?;
    check(
        response.header("referrer-policy") == Some("no-referrer"),
        "the callback's answer sends no Referer",
    )?;
    let login_cookie = cookie;
    let cookie = response
        .header("set-cookie")
        .and_then(|c| c.split(';').next())
        .ok_or("no new session cookie after the login")?
        .to_owned();
    check(cookie != login_cookie, "the session id changed at login")?;
    let browse = |url: String| browse_with(url, cookie.clone());
    // The id the browser had before the login (which someone could have planted) opens nothing.
    let response = browse_with(format!("{base}/profile"), login_cookie.clone()).await?;
    check(
        response.status == StatusCode::UNAUTHORIZED,
        format!("the old session id answered {}", response.status),
    )?;

    t.step("the same callback again: refused, the state was used");
    let response = browse_with(callback, login_cookie).await?;
    check(
        response.status == StatusCode::BAD_REQUEST && response.text().contains("used already"),
        format!(
            "replayed callback answered {}: {}",
            response.status,
            response.text().trim()
        ),
    )?;
    t.say(response.text().trim());

    t.step("GET /profile");
    let response = browse(format!("{base}/profile")).await?;
    check(
        response.status == StatusCode::OK,
        format!("profile answered {}", response.status),
    )?;
    t.say(response.text());

    t.step("GET /refresh: refresh by hand");
    let response = browse(format!("{base}/refresh")).await?;
    check(
        response.status == StatusCode::OK,
        format!("refresh answered {}", response.status),
    )?;
    t.say(response.text());
    check(
        provider.stats(client_id).refresh_requests == 1,
        "one refresh request",
    )?;

    t.step("wait for the 2-second token to expire; GET /profile refreshes automatically");
    tokio::time::sleep(Duration::from_millis(2300)).await;
    let response = browse(format!("{base}/profile")).await?;
    check(
        response.status == StatusCode::OK,
        format!("profile answered {}", response.status),
    )?;
    let refreshes = provider.stats(client_id).refresh_requests;
    t.say(format!(
        "200 OK; the provider has now seen {refreshes} refresh requests"
    ));
    check(
        refreshes == 2,
        "the expired token was refreshed automatically",
    )?;
    server.abort();
    Ok(())
}
