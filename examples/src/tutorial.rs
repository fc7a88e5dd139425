//! The per-provider examples' shared walk-through, after requests-oauthlib's tutorials.
//!
//! Each example describes its provider (real endpoints, scope, quirks) in an [`OAuth2Tutorial`]
//! or [`OAuth1Tutorial`] and runs it. With the provider's client id and secret in the
//! environment (the id alone for the implicit grant) it talks to the real provider: it prints
//! the authorization URL and reads the redirect URL from standard input. Otherwise it starts
//! [`DemoProvider`] (imitating the provider's quirk for that client) and runs the same code
//! non-interactively, the simulated user approving.

use std::time::SystemTime;

use oauth_core::clock::SystemRandom;
use oauth_core::oauth1::{ClientCredentials, Signer};
use oauth_core::oauth2::{
    AuthorizationRequest, Client, Compliance, Endpoint, Issuer, RedirectUri, Scope, Token,
    Transport,
};
use oauth_core::secret::{ClientSecret, ConsumerSecret};
use tower::{Service, ServiceBuilder, ServiceExt};
use tower_oauth1::SignedBody;
use tower_oauth1::dance::{Callback, Dance};
use tower_oauth1::sign::SignLayer;
use tower_oauth2::{GrantClient, OAuth2Layer, TokenSource};

use crate::Result;
use crate::http::{self as demo_http, HttpClient, collect, consent};
use crate::provider::{DemoProvider, clients};
use crate::real;
use crate::transcript::{Transcript, check, redact, redact_url};

/// How the client authenticates at the real token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuthMethod {
    /// `client_secret_post`.
    Post,
    /// `client_secret_basic`.
    Basic,
}

/// An OAuth 2 provider as a tutorial needs it.
#[derive(Debug, Clone, Copy)]
pub struct OAuth2Tutorial {
    /// Display name (`GitHub`).
    pub name: &'static str,
    /// Environment prefix: `<PREFIX>_CLIENT_ID`, `<PREFIX>_CLIENT_SECRET`,
    /// `<PREFIX>_REDIRECT_URI`.
    pub env_prefix: &'static str,
    /// The real authorization endpoint.
    pub authorize_url: &'static str,
    /// The real token endpoint.
    pub token_url: &'static str,
    /// The real protected resource to fetch.
    pub api_url: &'static str,
    /// The scope requested.
    pub scope: &'static str,
    /// Extra authorization parameters (`access_type=offline`, ...).
    pub extra_params: &'static [(&'static str, &'static str)],
    /// The provider's compliance profile.
    pub compliance: fn() -> Compliance,
    /// Client authentication at the token endpoint.
    pub auth: AuthMethod,
    /// The redirect URI registered with the real provider, unless `<PREFIX>_REDIRECT_URI` says.
    pub redirect_uri: &'static str,
    /// The demo provider's client for this tutorial.
    pub demo_client: &'static str,
}

/// Where a tutorial runs: the demo provider (kept alive here) or the real one.
#[derive(Debug)]
pub enum Mode {
    /// Against the embedded demo provider.
    Demo(DemoProvider),
    /// Against the real provider.
    Real,
}

/// A logged-in session: the token, the grant client, and the API.
#[derive(Debug)]
pub struct Session {
    /// Demo or real.
    pub mode: Mode,
    /// The HTTP client.
    pub http: HttpClient,
    /// The token client (refresh).
    pub grants: GrantClient<HttpClient>,
    /// The token source the API calls draw from (refreshing with `grants`).
    pub source: TokenSource,
    /// The protected resource URL.
    pub api_url: String,
    /// The protected resource's origin.
    pub api_origin: String,
}

impl Session {
    /// `GET` the protected resource through `OAuth2Layer`; returns the JSON body.
    pub async fn fetch_profile(&self) -> Result<serde_json::Value> {
        let layer = match self.mode {
            Mode::Demo(_) => {
                OAuth2Layer::new_dangerous_http_loopback(self.source.clone(), &self.api_origin)?
            }
            Mode::Real => OAuth2Layer::new(self.source.clone(), &self.api_origin)?,
        };
        let api = ServiceBuilder::new()
            .layer(layer)
            .service(self.http.clone());
        let mut request = demo_http::get(&self.api_url)?;
        request.headers_mut().insert(
            http::header::USER_AGENT,
            http::HeaderValue::from_static("tower-oauth-examples"),
        );
        let response = collect(api.oneshot(request).await?).await?;
        check(
            response.status.is_success(),
            format!("{} answered {}", self.api_url, response.status),
        )?;
        response.json()
    }

    /// Whether this is the demo provider.
    pub fn is_demo(&self) -> bool {
        matches!(self.mode, Mode::Demo(_))
    }
}

fn origin_of(url: &str) -> Result<String> {
    let uri: http::Uri = url.parse()?;
    let scheme = uri.scheme_str().ok_or("no scheme")?;
    let authority = uri.authority().ok_or("no authority")?;
    Ok(format!("{scheme}://{authority}"))
}

/// Prints the one-line banner of a tutorial.
/// `with_secret`: whether the real provider needs a client secret too (the implicit grant has
/// none).
pub fn banner(t: &mut Transcript, name: &str, mode: &Mode, env_prefix: &str, with_secret: bool) {
    match mode {
        Mode::Demo(p) => {
            t.section(&format!("{name} (demo provider on {})", p.base_url()));
            t.say(if with_secret {
                format!(
                    "set {env_prefix}_CLIENT_ID and {env_prefix}_CLIENT_SECRET to use the real {name}"
                )
            } else {
                format!(
                    "set {env_prefix}_CLIENT_ID to use the real {name} (the implicit grant has no client secret)"
                )
            });
        }
        Mode::Real => t.section(&format!("{name} (real provider)")),
    }
}

/// The web application flow of an OAuth 2 tutorial, up to a token in a [`Session`].
pub async fn code_flow(t: &mut Transcript, tutorial: &OAuth2Tutorial) -> Result<Session> {
    let p = tutorial.env_prefix;
    let http = demo_http::client();
    let creds = real::credentials(&format!("{p}_CLIENT_ID"), &format!("{p}_CLIENT_SECRET"));
    let (mode, client_id, secret) = match creds {
        Some(c) => (Mode::Real, c.client_id, c.client_secret),
        None => {
            let provider = DemoProvider::start().await?;
            let secret = ClientSecret::new(clients::demo_secret(tutorial.demo_client));
            (
                Mode::Demo(provider),
                tutorial.demo_client.to_owned(),
                secret,
            )
        }
    };
    banner(t, tutorial.name, &mode, p, true);
    let client = match tutorial.auth {
        AuthMethod::Post => Client::secret_post(client_id, secret),
        AuthMethod::Basic => Client::secret_basic(client_id, secret),
    };
    let loopback = Transport::AllowLoopbackHttp;
    let (authorize, token_endpoint, redirect, api_url, issuer) = match &mode {
        Mode::Demo(provider) => (
            Endpoint::with_transport(&provider.url("/oauth2/authorize"), loopback)?,
            Endpoint::with_transport(&provider.url("/oauth2/token"), loopback)?,
            RedirectUri::with_transport(crate::flows::DEMO_REDIRECT_URI, loopback)?,
            provider.url("/api/me"),
            Some(Issuer::with_transport(provider.base_url(), loopback)?),
        ),
        Mode::Real => (
            Endpoint::new(tutorial.authorize_url)?,
            Endpoint::new(tutorial.token_url)?,
            RedirectUri::with_transport(
                &real::var_or(&format!("{p}_REDIRECT_URI"), tutorial.redirect_uri),
                loopback,
            )?,
            tutorial.api_url.to_owned(),
            None,
        ),
    };

    t.step("authorization URL (state and PKCE S256 added by default)");
    let mut request = AuthorizationRequest::new(&authorize, client.id(), &redirect)
        .scope(Scope::parse(tutorial.scope));
    for (name, value) in tutorial.extra_params {
        request = request.param(*name, *value);
    }
    if let Some(issuer) = issuer {
        // true: this server sends `iss` in callbacks (its metadata says
        // authorization_response_iss_parameter_supported); pass false for one that does not.
        request = request.expect_issuer(issuer, true);
    }
    let (url, pending) = request.build(&SystemRandom::new())?;
    t.say(redact_url(&url.to_string()));

    t.step("the user authorizes; the redirect comes back");
    let redirect_response = match &mode {
        Mode::Demo(_) => consent(&http, &url.to_string()).await?,
        Mode::Real => real::prompt_for_redirect(&url.to_string())?,
    };
    t.say(redact_url(&redirect_response));

    t.step("callback checked, code exchanged for a token");
    let exchange = pending.parse_callback(&redirect_response)?;
    let grants =
        GrantClient::new(http.clone(), token_endpoint, client).compliance((tutorial.compliance)());
    let token = grants.exchange_code(exchange).await?;
    t.say(describe(&token));
    let source = TokenSource::builder()
        .token(token)
        .fetcher(grants.refresh_fetcher())
        .build()
        .await?;
    Ok(Session {
        mode,
        http,
        grants,
        source,
        api_origin: origin_of(&api_url)?,
        api_url,
    })
}

/// The implicit flow of an OAuth 2 tutorial (deprecated; Fitbit's tutorial uses it).
#[allow(deprecated)] // The implicit grant is the point of this tutorial.
pub async fn implicit_flow(t: &mut Transcript, tutorial: &OAuth2Tutorial) -> Result<Session> {
    let p = tutorial.env_prefix;
    let http = demo_http::client();
    let real_id = std::env::var(format!("{p}_CLIENT_ID"))
        .ok()
        .filter(|v| !v.is_empty());
    let (mode, client_id) = match real_id {
        Some(id) => (Mode::Real, id),
        None => (
            Mode::Demo(DemoProvider::start().await?),
            tutorial.demo_client.to_owned(),
        ),
    };
    banner(t, tutorial.name, &mode, p, false);
    let loopback = Transport::AllowLoopbackHttp;
    let (authorize, redirect, api_url) = match &mode {
        Mode::Demo(provider) => (
            Endpoint::with_transport(&provider.url("/oauth2/authorize"), loopback)?,
            RedirectUri::with_transport(crate::flows::DEMO_REDIRECT_URI, loopback)?,
            provider.url("/api/me"),
        ),
        Mode::Real => (
            Endpoint::new(tutorial.authorize_url)?,
            RedirectUri::with_transport(
                &real::var_or(&format!("{p}_REDIRECT_URI"), tutorial.redirect_uri),
                loopback,
            )?,
            tutorial.api_url.to_owned(),
        ),
    };
    t.step("authorization URL for the implicit grant (response_type=token)");
    t.say("DEPRECATED: RFC 9700 §2.1.2: clients SHOULD NOT use the implicit grant;");
    t.say("prefer the code flow with PKCE, which Fitbit also supports.");
    let mut request = AuthorizationRequest::new(&authorize, client_id.clone(), &redirect)
        .scope(Scope::parse(tutorial.scope))
        .implicit();
    for (name, value) in tutorial.extra_params {
        request = request.param(*name, *value);
    }
    let (url, pending) = request.build(&SystemRandom::new())?;
    t.say(redact_url(&url.to_string()));

    t.step("the user authorizes; the token comes back in the fragment");
    let redirect_response = match &mode {
        Mode::Demo(_) => consent(&http, &url.to_string()).await?,
        Mode::Real => real::prompt_for_redirect(&url.to_string())?,
    };
    t.say(redact_url(&redirect_response));
    let token = pending.token_from_fragment(&redirect_response, SystemTime::now())?;
    t.say(describe(&token));
    let grants = GrantClient::new(
        http.clone(),
        Endpoint::new("https://token.invalid/unused")?,
        Client::public(client_id),
    );
    Ok(Session {
        mode,
        http,
        grants,
        source: TokenSource::from_token(token),
        api_origin: origin_of(&api_url)?,
        api_url,
    })
}

/// A token, redacted, with its expiry and whether it can be refreshed.
pub fn describe(token: &Token) -> String {
    let expiry = token
        .expires_at()
        .and_then(|at| at.duration_since(SystemTime::now()).ok())
        .map_or("no expiry".to_owned(), |d| {
            format!("expires in {} s", d.as_secs_f64().round())
        });
    format!(
        "token {} ({}), {}, refresh token: {}",
        redact(token.access_token().secret()),
        token.token_type().as_str(),
        expiry,
        token
            .refresh_token()
            .map_or("none".to_owned(), |r| redact(r.secret()))
    )
}

/// An OAuth 1.0a provider as a tutorial needs it.
#[derive(Debug, Clone, Copy)]
pub struct OAuth1Tutorial {
    /// Display name.
    pub name: &'static str,
    /// Environment prefix: `<PREFIX>_CLIENT_KEY`, `<PREFIX>_CLIENT_SECRET`,
    /// `<PREFIX>_CALLBACK_URI`.
    pub env_prefix: &'static str,
    /// The real temporary credentials (request token) endpoint.
    pub request_token_url: &'static str,
    /// The real resource-owner authorization endpoint.
    pub authorize_url: &'static str,
    /// The real token credentials (access token) endpoint.
    pub access_token_url: &'static str,
    /// The real protected resource.
    pub api_url: &'static str,
    /// The callback registered with the real provider, unless `<PREFIX>_CALLBACK_URI` says.
    pub callback: &'static str,
    /// The demo provider's consumer key.
    pub demo_consumer: &'static str,
}

/// The OAuth 1.0a dance of a tutorial, then one signed `GET` of the protected resource; returns
/// its JSON.
pub async fn oauth1_flow(
    t: &mut Transcript,
    tutorial: &OAuth1Tutorial,
) -> Result<serde_json::Value> {
    let p = tutorial.env_prefix;
    let http = demo_http::client();
    let creds = real::credentials(&format!("{p}_CLIENT_KEY"), &format!("{p}_CLIENT_SECRET"));
    let (mode, key, secret) = match creds {
        Some(c) => (
            Mode::Real,
            c.client_id,
            ConsumerSecret::new(c.client_secret.secret()),
        ),
        None => (
            Mode::Demo(DemoProvider::start().await?),
            tutorial.demo_consumer.to_owned(),
            ConsumerSecret::new(clients::demo_secret(tutorial.demo_consumer)),
        ),
    };
    match &mode {
        Mode::Demo(provider) => {
            t.section(&format!(
                "{} (demo provider on {})",
                tutorial.name,
                provider.base_url()
            ));
            t.say(format!(
                "set {p}_CLIENT_KEY and {p}_CLIENT_SECRET to use the real {}",
                tutorial.name
            ));
        }
        Mode::Real => t.section(&format!("{} (real provider)", tutorial.name)),
    }
    let (request_token, authorize, access_token, api, callback) = match &mode {
        Mode::Demo(provider) => (
            provider.url("/oauth1/request_token"),
            provider.url("/oauth1/authorize"),
            provider.url("/oauth1/access_token"),
            provider.url("/api/oauth1/me"),
            format!("{}/oauth1", crate::flows::DEMO_REDIRECT_URI),
        ),
        Mode::Real => (
            tutorial.request_token_url.to_owned(),
            tutorial.authorize_url.to_owned(),
            tutorial.access_token_url.to_owned(),
            tutorial.api_url.to_owned(),
            real::var_or(&format!("{p}_CALLBACK_URI"), tutorial.callback),
        ),
    };
    let client_credentials = ClientCredentials::new(key, secret);
    let mut dance = Dance::new(
        Signer::builder(client_credentials.clone()).build()?,
        request_token.parse()?,
        access_token.parse()?,
    );
    if let Mode::Demo(_) = mode {
        // The demo provider listens on plain http, on loopback.
        dance = dance.dangerous_allow_http_loopback();
    }
    let mut client = http.clone();

    t.step("temporary credentials (request token), with a callback");
    let pending = dance
        .request_temporary_credentials(&mut client, &Callback::Uri(callback))
        .await?;
    t.say(format!("oauth_token={}", redact(pending.token())));

    t.step("the user authorizes; the redirect comes back");
    let url = pending.authorization_url(&authorize)?.to_string();
    t.say(redact_url(&url));
    let redirect_response = match &mode {
        Mode::Demo(_) => consent(&http, &url).await?,
        Mode::Real => real::prompt_for_redirect(&url)?,
    };
    t.say(redact_url(&redirect_response));

    t.step("verifier exchanged for token credentials (access token)");
    let verifier = pending.verifier_from_callback(&redirect_response.parse()?)?;
    let credentials = dance
        .request_token_credentials(&mut client, pending, verifier)
        .await?;
    t.say(format!(
        "oauth_token={}, secret {}",
        redact(credentials.token()),
        redact(credentials.secret().secret())
    ));

    t.step("signed GET of the protected resource through SignLayer");
    let signer = Signer::builder(client_credentials)
        .token(credentials.into())
        .build()?;
    // Signed only for the API's origin: a redirect elsewhere is refused, not signed.
    let mut layer = SignLayer::new(signer).allowed_origins([origin_of(&api)?.parse()?]);
    if let Mode::Demo(_) = mode {
        layer = layer.dangerous_allow_http_loopback();
    }
    let mut signed = ServiceBuilder::new()
        .layer(layer)
        .service(demo_http::client_for::<
            SignedBody<http_body_util::Full<bytes::Bytes>>,
        >());
    let request = http::Request::get(&api)
        .header(http::header::USER_AGENT, "tower-oauth-examples")
        .body(http_body_util::Full::default())?;
    let response = collect(signed.ready().await?.call(request).await?).await?;
    check(
        response.status.is_success(),
        format!("{api} answered {}", response.status),
    )?;
    response.json()
}
