//! The device authorization grant (RFC 8628), for command line tools and devices without a
//! browser: the tool shows a code, the user approves it on another device, and the tool polls
//! until the token arrives; then it calls the API through `OAuth2Layer`, refreshing as needed.
//!
//! ```sh
//! cargo run --example device_flow
//! ```
//!
//! Against the demo provider, "the user" is a task that opens the verification URL (where the
//! demo user approves at once) after a second and a half, so the tool sees
//! `authorization_pending` first. The same code works against any RFC 8628 server (GitHub,
//! Google, Microsoft, Okta...): give `GrantClient::device_authorization` its device
//! authorization endpoint, print the code, and poll, with the client authentication the server
//! wants (Google's polls need the client secret).

use std::process::ExitCode;
use std::time::{Duration, Instant};

use examples::flows::DemoEndpoints;
use examples::http::{self as demo_http, collect};
use examples::provider::{DEMO_USER, DemoProvider, clients};
use examples::transcript::{Transcript, check, finish, redact};
use http::Request;
use http_body_util::Full;
use oauth_core::oauth2::{Client, Endpoint, Scope, Transport};
use tower::ServiceExt;
use tower_oauth2::{GrantClient, OAuth2Layer, TokenSource};

#[tokio::main]
async fn main() -> ExitCode {
    let mut t = Transcript::new();
    let result = run(&mut t).await;
    finish("device_flow", &t, result)
}

async fn run(t: &mut Transcript) -> examples::Result<()> {
    let provider = DemoProvider::start().await?;
    let endpoints = DemoEndpoints::of(&provider)?;
    let device_endpoint = Endpoint::with_transport(
        &provider.url("/oauth2/device_authorization"),
        Transport::AllowLoopbackHttp,
    )?;
    let http = demo_http::client();
    // A command line tool is a public client: it cannot keep a secret.
    let grants = GrantClient::new(
        http.clone(),
        endpoints.token.clone(),
        Client::public(clients::PUBLIC),
    );

    t.section("OAuth 2 device authorization grant (RFC 8628)");
    t.step("ask for a device code");
    let device = grants
        .device_authorization(&device_endpoint, Some(&Scope::parse("profile")))
        .await?;
    t.say(format!(
        "To sign in, open {} and enter the code {}",
        device.verification_uri(),
        device.user_code()
    ));
    t.say(format!(
        "(polling every {} s, the code expires in {} s)",
        device.interval().as_secs(),
        device
            .expires_at()
            .duration_since(std::time::SystemTime::now())
            .map_or(0, |d| d.as_secs())
    ));

    // The user, on their phone: opens the link a moment later and approves.
    let complete = device
        .verification_uri_complete()
        .ok_or("the server gave no verification_uri_complete")?
        .to_owned();
    let user = {
        let http = http.clone();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(1500)).await;
            let response = http.request(demo_http::get(&complete)?).await?;
            collect(response).await.map(|r| r.text())
        })
    };

    t.step("poll the token endpoint until the user has approved");
    let started = Instant::now();
    let token = grants
        .poll_device_token_with(device, |wait| {
            t.say(format!("waiting {:?} ({wait:?})", wait.duration()));
        })
        .await?;
    let approval = user.await??;
    t.say(format!("the user: {}", approval.trim()));
    t.say(format!(
        "token after {:.1} s: {} (refresh token {})",
        started.elapsed().as_secs_f32(),
        redact(token.access_token().secret()),
        token
            .refresh_token()
            .map_or("none".to_owned(), |r| redact(r.secret())),
    ));
    check(
        started.elapsed() >= Duration::from_millis(1500),
        "the client waited for the user",
    )?;
    let stats = provider.stats(clients::PUBLIC);
    check(
        stats.token_requests >= 2,
        "the first poll was answered authorization_pending",
    )?;

    t.step("call the API through OAuth2Layer");
    let source = TokenSource::builder()
        .token(token)
        .fetcher(grants.refresh_fetcher())
        .build()
        .await?;
    let api = tower::Layer::layer(
        &OAuth2Layer::new_dangerous_http_loopback(source, &endpoints.api_origin)?,
        http,
    );
    let response = api
        .oneshot(Request::get(&endpoints.me).body(Full::default())?)
        .await?;
    let me = collect(response).await?.json()?;
    check(me["sub"] == DEMO_USER, "the API sees the demo user")?;
    t.say(format!("GET /api/me -> {me}"));
    Ok(())
}
