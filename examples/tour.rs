//! The tour: the whole library working end to end, offline, against a provider embedded in this
//! process on `127.0.0.1` (a random port).
//!
//! ```sh
//! cargo run --example tour
//! ```
//!
//! It walks through, printing a short transcript (secrets redacted):
//!
//! 1. **OAuth 1.0a**: the three-legged dance with `tower_oauth1::dance` (temporary credentials
//!    with a callback, the authorization URL, the simulated user's approval, the callback, token
//!    credentials), then signed calls through `tower_oauth1::sign::SignLayer` with the signature
//!    in the header, the query and the body, and a replayed request being refused;
//! 2. **OAuth 2**, requests-oauthlib's four flows: web application (state, PKCE, `iss`, the code
//!    exchange, a call through `OAuth2Layer`), backend (client credentials), legacy (password,
//!    deprecated) and mobile (a public client with PKCE, then the deprecated implicit grant);
//! 3. requests-oauthlib's **three refresh styles** with tokens that live two seconds: by hand,
//!    automatically with a `token_updater` callback, automatically into a `FileStore` (which
//!    a worker with no fetcher follows);
//! 4. **50 concurrent requests** on an expired token sharing one refresh.
//!
//! It needs no network and no configuration, ends with `tour: all N steps passed`, and exits
//! non-zero if any expectation fails. The per-provider examples (`github`, `google`, ...) show
//! the same flows against real providers.

use std::process::ExitCode;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant, SystemTime};

use bytes::Bytes;
use examples::Result;
use examples::flows::{DEMO_REDIRECT_URI, DemoEndpoints, demo_login};
use examples::http::{self as demo_http, HttpClient, collect, consent};
use examples::provider::{DEMO_PASSWORD, DEMO_USER, DemoProvider, clients};
use examples::transcript::{Transcript, check, redact, redact_url};
use http::header::{AUTHORIZATION, CONTENT_TYPE, WWW_AUTHENTICATE};
use http::{Method, Request, StatusCode};
use http_body_util::Full;
use oauth_core::clock::SystemRandom;
use oauth_core::oauth1::{ClientCredentials, Placement, SignOptions, Signer};
use oauth_core::oauth2::challenge::parse_challenges;
use oauth_core::oauth2::{AuthorizationRequest, Client, Scope, Token};
use oauth_core::secret::{ClientSecret, ConsumerSecret, ResourceOwnerPassword};
use tower::{Service, ServiceBuilder, ServiceExt};
use tower_oauth1::SignedBody;
use tower_oauth1::dance::{Callback, Dance};
use tower_oauth1::sign::SignLayer;
use tower_oauth2::store::{CallbackStore, FileStore, TokenStore};
use tower_oauth2::{GrantClient, OAuth2Layer, TokenSource};

#[tokio::main]
async fn main() -> ExitCode {
    let started = Instant::now();
    let mut transcript = Transcript::new();
    println!("tower-oauth tour: every flow against a demo provider on 127.0.0.1");
    match run(&mut transcript).await {
        Ok(()) => {
            println!();
            println!(
                "tour: all {} steps passed in {:.1} s",
                transcript.steps(),
                started.elapsed().as_secs_f64()
            );
            ExitCode::SUCCESS
        }
        Err(error) => {
            eprintln!();
            eprintln!("tour: step {} FAILED: {error}", transcript.steps());
            ExitCode::FAILURE
        }
    }
}

async fn run(t: &mut Transcript) -> Result<()> {
    let provider = DemoProvider::start().await?;
    t.say(format!(
        "demo provider listening on {}",
        provider.base_url()
    ));
    let http = demo_http::client();
    let endpoints = DemoEndpoints::of(&provider)?;

    oauth1(t, &provider, &http).await?;
    web_application(t, &endpoints, &http).await?;
    backend(t, &provider, &endpoints, &http).await?;
    legacy(t, &endpoints, &http).await?;
    mobile(t, &endpoints, &http).await?;
    refresh_styles(t, &provider, &endpoints, &http).await?;
    provider.shutdown().await;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// OAuth 1.0a

async fn oauth1(t: &mut Transcript, provider: &DemoProvider, http: &HttpClient) -> Result<()> {
    t.section("OAuth 1.0a: the three-legged dance (RFC 5849 §2)");
    let client_credentials = ClientCredentials::new(
        clients::CONSUMER,
        ConsumerSecret::new(clients::CONSUMER_SECRET),
    );
    let dance = Dance::new(
        Signer::builder(client_credentials.clone()).build()?,
        provider.url("/oauth1/request_token").parse()?,
        provider.url("/oauth1/access_token").parse()?,
    )
    .dangerous_allow_http_loopback();
    let mut client = http.clone();

    t.step("temporary credentials, with a callback");
    let callback = Callback::Uri(format!("{DEMO_REDIRECT_URI}/oauth1"));
    let pending = dance
        .request_temporary_credentials(&mut client, &callback)
        .await?;
    t.say(format!(
        "oauth_token={} (callback confirmed)",
        redact(pending.token())
    ));

    t.step("authorization URL");
    let url = pending.authorization_url(&provider.url("/oauth1/authorize"))?;
    t.say(redact_url(&url.to_string()));

    t.step("the user approves (simulated: GET the authorize URL, read the redirect)");
    let location = consent(http, &url.to_string()).await?;
    t.say(format!("redirected to {}", redact_url(&location)));

    t.step("callback parsed, verifier exchanged for token credentials");
    let verifier = pending.verifier_from_callback(&location.parse()?)?;
    let credentials = dance
        .request_token_credentials(&mut client, pending, verifier)
        .await?;
    t.say(format!(
        "token credentials: oauth_token={}, secret {}",
        redact(credentials.token()),
        redact(credentials.secret().secret())
    ));
    let user = credentials
        .extra()
        .iter()
        .find(|(n, _)| n == "user_id")
        .map(|(_, v)| v.as_str());
    check(user == Some(DEMO_USER), "the provider names the demo user")?;

    let signer = Signer::builder(client_credentials)
        .token(credentials.into())
        .build()?;
    let api = provider.url("/api/oauth1/me");
    let cases = [
        (Placement::Header, "header", Method::GET, "?view=full", None),
        (Placement::Query, "query", Method::GET, "?count=2", None),
        (
            Placement::Body,
            "body",
            Method::POST,
            "",
            Some("status=Hello%20Ladies%20%2B%20Gentlemen"),
        ),
    ];
    for (placement, name, method, query, body) in cases {
        t.step(&format!(
            "signed {method} through SignLayer, signature in the {name}"
        ));
        let mut signed = ServiceBuilder::new()
            .layer(
                SignLayer::new(signer.clone())
                    .placement(placement)
                    .dangerous_allow_http_loopback(),
            )
            .service(demo_http::client_for::<SignedBody<Full<Bytes>>>());
        let mut request = Request::builder()
            .method(method.clone())
            .uri(format!("{api}{query}"));
        if body.is_some() {
            request = request.header(CONTENT_TYPE, "application/x-www-form-urlencoded");
        }
        let request = request.body(Full::new(Bytes::from(body.unwrap_or(""))))?;
        let response = collect(signed.ready().await?.call(request).await?).await?;
        check(
            response.status == StatusCode::OK,
            format!("signed call answered {}", response.status),
        )?;
        let json = response.json()?;
        t.say(format!(
            "200 OK: user={}, provider saw the signature in the {}, params {}",
            json["user"], json["placement"], json["params"]
        ));
        check(json["placement"] == name, "the provider saw the placement")?;
        check(json["user"] == DEMO_USER, "the provider knows the user")?;
    }

    t.step("a replayed request (same nonce) is refused");
    let uri: http::Uri = api.parse()?;
    let signed = signer.sign(
        &Method::GET,
        &uri,
        None,
        &SignOptions::new(),
        Placement::Header,
    )?;
    let header = signed.into_header_value().ok_or("no header")?;
    let mut statuses = Vec::new();
    for _ in 0..2 {
        let request = Request::get(uri.clone())
            .header(AUTHORIZATION, header.clone())
            .body(Full::default())?;
        let response = collect(http.request(request).await?).await?;
        statuses.push((
            response.status,
            response.header("www-authenticate").unwrap_or("").to_owned(),
        ));
    }
    t.say(format!(
        "first: {}, replay: {} ({})",
        statuses[0].0, statuses[1].0, statuses[1].1
    ));
    check(statuses[0].0 == StatusCode::OK, "the first request passes")?;
    check(
        statuses[1].0 == StatusCode::UNAUTHORIZED && statuses[1].1.contains("nonce_used"),
        "the replay is refused with oauth_problem=nonce_used",
    )?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// OAuth 2: the four flows

/// `GET /api/me` through `OAuth2Layer`, drawing tokens from `source`; returns the status and body.
async fn call_api(
    source: &TokenSource,
    endpoints: &DemoEndpoints,
    http: &HttpClient,
) -> Result<(StatusCode, serde_json::Value)> {
    let api = ServiceBuilder::new()
        .layer(OAuth2Layer::new_dangerous_http_loopback(
            source.clone(),
            &endpoints.api_origin,
        )?)
        .service(http.clone());
    let response = collect(api.oneshot(demo_http::get(&endpoints.me)?).await?).await?;
    let json = if response.status.is_success() {
        response.json()?
    } else {
        serde_json::Value::Null
    };
    Ok((response.status, json))
}

fn describe(token: &Token) -> String {
    let lifetime = token
        .expires_at()
        .and_then(|at| at.duration_since(SystemTime::now()).ok())
        .map_or("no expiry".to_owned(), |d| {
            format!("expires in {} s", d.as_secs_f64().round())
        });
    format!(
        "access token {}, {}, refresh token {}",
        redact(token.access_token().secret()),
        lifetime,
        token
            .refresh_token()
            .map_or("none".to_owned(), |r| redact(r.secret()))
    )
}

async fn web_application(
    t: &mut Transcript,
    endpoints: &DemoEndpoints,
    http: &HttpClient,
) -> Result<()> {
    t.section("OAuth 2 web application flow (authorization code + state + PKCE + iss)");
    let client = Client::secret_basic(clients::WEB, ClientSecret::new(clients::WEB_SECRET));

    t.step("authorization URL with state and a PKCE S256 challenge");
    let (url, pending) =
        AuthorizationRequest::new(&endpoints.authorize, client.id(), &endpoints.redirect_uri)
            .scope(Scope::parse("profile email"))
            // true: this server sends `iss` in callbacks (its metadata says
            // authorization_response_iss_parameter_supported); pass false for one that does not.
            .expect_issuer(endpoints.issuer.clone(), true)
            .build(&SystemRandom::new())?;
    t.say(redact_url(&url.to_string()));
    check(
        url.to_string().contains("code_challenge_method=S256"),
        "PKCE S256 is on by default",
    )?;

    t.step("the user consents (simulated: the provider auto-approves and 302s; not followed)");
    let location = consent(http, &url.to_string()).await?;
    t.say(format!("Location: {}", redact_url(&location)));

    t.step("callback parsed: redirect URI, iss, then state (constant time), then code");
    let exchange = pending.parse_callback(&location)?;
    t.say(format!("code {}", redact(exchange.code().secret())));

    t.step("code exchanged for a token (client_secret_basic, code_verifier)");
    let grants = GrantClient::new(http.clone(), endpoints.token.clone(), client.clone());
    let token = grants.exchange_code(exchange).await?;
    t.say(describe(&token));

    t.step("protected call through OAuth2Layer");
    let source = TokenSource::builder()
        .token(token)
        .fetcher(grants.refresh_fetcher())
        .build()
        .await?;
    let (status, me) = call_api(&source, endpoints, http).await?;
    t.say(format!("GET /api/me -> {status}: {me}"));
    check(status == StatusCode::OK, "the API accepts the token")?;
    check(me["sub"] == DEMO_USER, "the API knows the user")?;
    Ok(())
}

async fn backend(
    t: &mut Transcript,
    provider: &DemoProvider,
    endpoints: &DemoEndpoints,
    http: &HttpClient,
) -> Result<()> {
    t.section("OAuth 2 backend application flow (client credentials)");
    let client = Client::secret_basic(clients::BACKEND, ClientSecret::new(clients::BACKEND_SECRET));
    let grants = GrantClient::new(http.clone(), endpoints.token.clone(), client);

    t.step("no token yet: the layer fetches one with client credentials on first use");
    let source = TokenSource::builder()
        .fetcher(grants.client_credentials_fetcher(None))
        .build()
        .await?;
    let (status, me) = call_api(&source, endpoints, http).await?;
    t.say(format!("GET /api/me -> {status}: {me}"));
    check(status == StatusCode::OK, "the API accepts the token")?;
    check(
        me["sub"] == clients::BACKEND,
        "the token stands for the client itself",
    )?;
    let token = source.current().ok_or("the source holds no token")?;
    t.say(describe(&token));
    check(
        token.refresh_token().is_none(),
        "client credentials issue no refresh token",
    )?;
    check(
        provider.stats(clients::BACKEND).tokens_issued == 1,
        "exactly one token was fetched",
    )?;
    Ok(())
}

#[allow(deprecated)] // The point of this step: the password grant, flagged as deprecated.
async fn legacy(t: &mut Transcript, endpoints: &DemoEndpoints, http: &HttpClient) -> Result<()> {
    t.section("OAuth 2 legacy application flow (resource owner password)");
    t.step("password grant (client_secret_post)");
    t.say("DEPRECATED: RFC 9700 §2.4 says the password grant MUST NOT be used;");
    t.say("GrantClient::password is #[deprecated]. Use the web application flow.");
    let client = Client::secret_post(clients::LEGACY, ClientSecret::new(clients::LEGACY_SECRET));
    let grants = GrantClient::new(http.clone(), endpoints.token.clone(), client);
    let password = ResourceOwnerPassword::new(DEMO_PASSWORD);
    let token = grants.password(DEMO_USER, &password, None).await?;
    t.say(describe(&token));
    let (status, _) = call_api(&TokenSource::from_token(token), endpoints, http).await?;
    t.say(format!("GET /api/me -> {status}"));
    check(status == StatusCode::OK, "the API accepts the token")?;
    Ok(())
}

#[allow(deprecated)] // The implicit grant, shown and flagged as deprecated.
async fn mobile(t: &mut Transcript, endpoints: &DemoEndpoints, http: &HttpClient) -> Result<()> {
    t.section("OAuth 2 mobile application flow");
    let client = Client::public(clients::PUBLIC);

    t.step("recommended: a public client, code flow with PKCE, no secret");
    let token = demo_login(http, endpoints, &client, "profile", false).await?;
    t.say(describe(&token));
    let (status, _) = call_api(&TokenSource::from_token(token), endpoints, http).await?;
    check(status == StatusCode::OK, "the API accepts the token")?;

    t.step("legacy: the implicit grant, token in the redirect's fragment");
    t.say("DEPRECATED: RFC 9700 §2.1.2 says clients SHOULD NOT use the implicit grant;");
    t.say("AuthorizationRequest::implicit is #[deprecated]. Use the code flow with PKCE.");
    let (url, pending) =
        AuthorizationRequest::new(&endpoints.authorize, client.id(), &endpoints.redirect_uri)
            .scope(Scope::parse("profile"))
            .implicit()
            .build(&SystemRandom::new())?;
    let location = consent(http, &url.to_string()).await?;
    t.say(format!("Location: {}", redact_url(&location)));
    let token = pending.token_from_fragment(&location, SystemTime::now())?;
    t.say(describe(&token));
    check(
        token.refresh_token().is_none(),
        "no refresh token in an implicit grant",
    )?;
    let (status, _) = call_api(&TokenSource::from_token(token), endpoints, http).await?;
    t.say(format!("GET /api/me -> {status}"));
    check(status == StatusCode::OK, "the API accepts the token")?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Refreshing

async fn refresh_styles(
    t: &mut Transcript,
    provider: &DemoProvider,
    endpoints: &DemoEndpoints,
    http: &HttpClient,
) -> Result<()> {
    t.section("Refreshing tokens: requests-oauthlib's three styles, then a stampede");
    let client = Client::secret_basic(clients::SHORT, ClientSecret::new(clients::SHORT_SECRET));
    let grants = GrantClient::new(http.clone(), endpoints.token.clone(), client.clone());

    t.step("four logins for a client whose tokens live 2 s; then wait for them to expire");
    let mut tokens = Vec::new();
    for _ in 0..4 {
        tokens.push(demo_login(http, endpoints, &client, "profile", false).await?);
    }
    t.say(describe(&tokens[0]));
    let expiry = tokens
        .iter()
        .filter_map(Token::expires_at)
        .max()
        .ok_or("tokens without expiry")?;
    let wait = expiry.duration_since(SystemTime::now()).unwrap_or_default();
    tokio::time::sleep(wait + Duration::from_millis(200)).await;
    check(
        tokens.iter().all(|t| t.is_expired(SystemTime::now())),
        "all four tokens expired",
    )?;
    let mut tokens = tokens.into_iter();
    let mut next = || tokens.next().ok_or("no token left");

    // 1. By hand.
    t.step("style 1: handle the expiry yourself (catch the 401, refresh, retry)");
    let token = next()?;
    let call = |token: &Token| -> Result<Request<Full<Bytes>>> {
        let mut request = demo_http::get(&endpoints.me)?;
        request
            .headers_mut()
            .insert(AUTHORIZATION, token.authorization_header()?);
        Ok(request)
    };
    let response = collect(http.request(call(&token)?).await?).await?;
    let challenge = response.header(WWW_AUTHENTICATE.as_str()).unwrap_or("");
    t.say(format!("GET /api/me -> {}: {challenge}", response.status));
    let invalid_token = parse_challenges(challenge)?
        .iter()
        .any(|c| c.is_scheme("bearer") && c.param("error") == Some("invalid_token"));
    check(
        response.status == StatusCode::UNAUTHORIZED && invalid_token,
        "an expired token gets 401 invalid_token",
    )?;
    let refresh_token = token.refresh_token().ok_or("no refresh token")?;
    let refreshed = grants.refresh(refresh_token, None).await?;
    t.say(format!("refreshed by hand: {}", describe(&refreshed)));
    check(
        refreshed.refresh_token() != token.refresh_token(),
        "the refresh token rotated",
    )?;
    let retry = grants.refresh(refresh_token, None).await;
    check(
        retry.is_err(),
        "the spent refresh token is refused (rotation)",
    )?;
    let response = collect(http.request(call(&refreshed)?).await?).await?;
    t.say(format!("retry -> {}", response.status));
    check(response.status == StatusCode::OK, "the retry succeeds")?;

    // 2. Automatically, and be told.
    t.step("style 2: refresh automatically and be told (CallbackStore = token_updater)");
    let updates = Arc::new(AtomicUsize::new(0));
    let seen = updates.clone();
    let store = CallbackStore::new(move |token: &Token| {
        seen.fetch_add(1, Ordering::SeqCst);
        println!(
            "       token_updater called: new access token {}",
            redact(token.access_token().secret())
        );
        Ok(())
    });
    let source = TokenSource::builder()
        .token(next()?)
        .fetcher(grants.refresh_fetcher())
        .store(store)
        .build()
        .await?;
    let (status, _) = call_api(&source, endpoints, http).await?;
    t.say(format!("GET /api/me through OAuth2Layer -> {status}"));
    check(
        status == StatusCode::OK,
        "the call succeeds after the refresh",
    )?;
    check(
        updates.load(Ordering::SeqCst) == 1,
        "the callback heard of exactly one new token",
    )?;

    // 3. Automatically, into a store.
    t.step("style 3: refresh automatically into a store (FileStore in a temp dir)");
    let dir = std::env::temp_dir().join(format!("tower-oauth-tour-{}", std::process::id()));
    std::fs::create_dir_all(&dir)?;
    let store = FileStore::new(dir.join("token.json"));
    let old = next()?;
    let source = TokenSource::builder()
        .token(old.clone())
        .fetcher(grants.refresh_fetcher())
        .store(store.clone())
        .build()
        .await?;
    // A worker that shares the file and leaves refreshing to the process above: a store and no
    // fetcher. It starts with the expired token the file holds now.
    let worker = TokenSource::builder().store(store.clone()).build().await?;
    let (status, _) = call_api(&source, endpoints, http).await?;
    let stored = store.load().await?.ok_or("nothing stored")?;
    t.say(format!(
        "GET /api/me -> {status}; {} now holds access token {}",
        store.path().display(),
        redact(stored.access_token().secret())
    ));
    check(
        status == StatusCode::OK,
        "the call succeeds after the refresh",
    )?;
    check(
        stored.access_token() != old.access_token()
            && Some(stored.access_token()) == source.current().as_ref().map(|t| t.access_token()),
        "the store holds the new token",
    )?;

    t.step("a worker with the same FileStore and no fetcher follows it");
    let (status, _) = call_api(&worker, endpoints, http).await?;
    let _ = std::fs::remove_dir_all(&dir);
    t.say(format!(
        "worker: GET /api/me -> {status} with access token {}",
        redact(worker.current().ok_or("no token")?.access_token().secret())
    ));
    check(
        status == StatusCode::OK && worker.current().as_ref() == Some(&stored),
        "the worker took up the token the other process refreshed, without a refresh of its own",
    )?;

    // 4. A stampede.
    t.step("50 concurrent requests on an expired token through one OAuth2Layer");
    let before = provider.stats(clients::SHORT).refresh_requests;
    let source = TokenSource::builder()
        .token(next()?)
        .fetcher(grants.refresh_fetcher())
        .build()
        .await?;
    let api = ServiceBuilder::new()
        .layer(OAuth2Layer::new_dangerous_http_loopback(
            source.clone(),
            &endpoints.api_origin,
        )?)
        .service(http.clone());
    let mut calls = tokio::task::JoinSet::new();
    for _ in 0..50 {
        let api = api.clone();
        let request = demo_http::get(&endpoints.me)?;
        calls.spawn(async move { api.oneshot(request).await.map(|r| r.status()) });
    }
    let mut ok = 0;
    while let Some(result) = calls.join_next().await {
        if result?? == StatusCode::OK {
            ok += 1;
        }
    }
    let refreshes = provider.stats(clients::SHORT).refresh_requests - before;
    t.say(format!(
        "{ok}/50 answered 200; the provider counted {refreshes} refresh request(s)"
    ));
    check(ok == 50, "all 50 requests succeed")?;
    check(refreshes == 1, "one refresh served all 50 requests")?;
    Ok(())
}
