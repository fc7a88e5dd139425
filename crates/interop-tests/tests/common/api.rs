//! What the OAuth 2 interop tests share, whichever authorization server they run against: the
//! time bounds, a hyper client, the token layer over it, calls through it and the server's
//! `/test/stats` counters.

use std::time::Duration;

use bytes::Bytes;
use http::{Request, StatusCode};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use interop_tests::{OauthlibConfig, OauthlibProvider, OidcOptions, OidcProvider, oauthlib2, oidc};
use oauth_core::clock::SystemRandom;
use oauth_core::oauth2::{
    AuthorizationRequest, Endpoint, PendingAuthorization, RedirectUri, RefreshPolicy, Scope, Token,
    Transport, WellKnown,
};
use serde_json::Value;
use tower::{Layer, ServiceExt};
use tower_oauth2::{OAuth2, OAuth2Layer, TokenSource};

/// Bound for each test as a whole.
pub const TEST_TIMEOUT: Duration = Duration::from_secs(120);
// A server that does not start is reported by the harness with its log (after at most
// READY_TIMEOUT), not cut short by the test's own bound.
const _: () = assert!(TEST_TIMEOUT.as_secs() >= interop_tests::READY_TIMEOUT.as_secs() + 30);
/// Bound for one call through the layer (a refresh included).
pub const CALL_TIMEOUT: Duration = Duration::from_secs(10);

/// The tests' HTTP client.
pub type Http = HyperClient<HttpConnector, Full<Bytes>>;
/// [`Http`] behind the token layer.
pub type Api = OAuth2<Http>;

/// A counter the shared scenarios read from `/test/stats`, whatever the server calls it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Counter {
    /// Requests to the token endpoint, whatever their outcome.
    TokenRequests,
    /// Client credentials grants issued.
    ClientCredentialsOk,
    /// Client credentials grants refused.
    ClientCredentialsError,
    /// Codes exchanged.
    AuthorizationCodeOk,
    /// Refresh grants issued.
    RefreshOk,
    /// Refresh grants refused.
    RefreshError,
    /// Device code grants issued.
    DeviceCodeOk,
    /// Device code polls refused (`authorization_pending` while the user has not decided).
    DeviceCodePending,
    /// Front-channel authorizations approved (a code sent to the redirect URI).
    Authorized,
    /// Calls the protected resource answered with 200.
    ResourceOk,
    /// Calls the protected resource refused with `invalid_token`.
    ResourceInvalidToken,
}

/// A server under test: where it is, where its counters are, and what the scenarios written
/// once for every server (`scenarios`) need to know about it: its endpoints, its clients,
/// the scopes it grants and how its front channels are driven.
pub trait Server {
    /// The confidential client registered for `client_secret_basic`: (id, secret).
    const BASIC_CLIENT: (&'static str, &'static str);
    /// The confidential client registered for `client_secret_post`: (id, secret).
    const POST_CLIENT: (&'static str, &'static str);
    /// A `client_secret_basic` client whose secret needs RFC 6749 §2.3.1's form-encoding.
    const SPECIAL_CLIENT: (&'static str, &'static str);
    /// The public client (PKCE, no secret).
    const PUBLIC_CLIENT_ID: &'static str;
    /// The resource owner the front channel signs in (the `sub` of user tokens).
    const USER: &'static str;
    /// The scope asked for client credentials tokens.
    const CLIENT_CREDENTIALS_SCOPE: &'static str;
    /// The scope the front channel asks for user tokens.
    const USER_SCOPE: &'static str;
    /// The scope asked at the device authorization endpoint.
    const DEVICE_SCOPE: &'static str;
    /// The well-known document that carries the server's metadata.
    const WELL_KNOWN: WellKnown;
    /// Whether the server sends `iss` in authorization responses (RFC 9207).
    const SENDS_ISS: bool;
    /// Whether revoking an access token (RFC 7009) ends its whole grant, refresh token
    /// included.
    const REVOKING_AN_ACCESS_TOKEN_ENDS_THE_GRANT: bool;

    /// Starts the server with access tokens that live `lifetime`.
    fn start_with_token_lifetime(lifetime: Duration) -> impl Future<Output = Self>;
    /// `http://127.0.0.1:PORT`.
    fn base_url(&self) -> String;
    /// Its `/test/stats` URL.
    fn stats_url(&self) -> String;
    /// The issuer.
    fn issuer(&self) -> String;
    /// The authorization endpoint.
    fn authorization_endpoint(&self) -> String;
    /// The token endpoint.
    fn token_endpoint(&self) -> String;
    /// The revocation endpoint (RFC 7009).
    fn revocation_endpoint(&self) -> String;
    /// The introspection endpoint (RFC 7662).
    fn introspection_endpoint(&self) -> String;
    /// The protected resource.
    fn resource_url(&self) -> String;
    /// The device authorization endpoint (RFC 8628 §3.1).
    fn device_authorization_endpoint(&self) -> impl Future<Output = Endpoint>;
    /// The user decides on a device code: approves, or denies.
    fn decide_device(&self, user_code: &str, approve: bool) -> impl Future<Output = ()>;
    /// The name of `counter` in the server's `/test/stats`.
    fn counter(counter: Counter) -> &'static str;
    /// The redirect URI a code flow for `client_id` uses.
    fn redirect_uri(client_id: &str) -> &'static str;
    /// The authorization URL for `client_id` as oauth-core builds it (scope
    /// [`Server::USER_SCOPE`], state, PKCE S256, `iss` expected where the server sends it),
    /// and the flow waiting for its callback.
    fn authorization_url(
        &self,
        client_id: &str,
        redirect_uri: &str,
    ) -> impl Future<Output = (String, PendingAuthorization)>;
    /// The server's answer to an authorization URL (the test user approves), followed to the
    /// redirect URI: the callback URL.
    fn front_channel(&self, url: &str, redirect_uri: &str) -> impl Future<Output = String>;
    /// What the resource says of a caller with a client credentials token, beyond its
    /// `client_id` and `scope`.
    fn assert_client_credentials_caller(me: &Value);
    /// What the resource says of a caller with a user's token, beyond its `client_id`.
    fn assert_user_caller(me: &Value);
    /// What a user's token from the code flow carries, beyond a refresh token and the
    /// scopes asked.
    fn assert_user_token(token: &Token);
}

impl Server for OidcProvider {
    const BASIC_CLIENT: (&'static str, &'static str) =
        (oidc::BASIC_CLIENT_ID, oidc::BASIC_CLIENT_SECRET);
    const POST_CLIENT: (&'static str, &'static str) =
        (oidc::POST_CLIENT_ID, oidc::POST_CLIENT_SECRET);
    const SPECIAL_CLIENT: (&'static str, &'static str) = (
        oidc::BASIC_SPECIAL_CLIENT_ID,
        oidc::BASIC_SPECIAL_CLIENT_SECRET,
    );
    const PUBLIC_CLIENT_ID: &'static str = oidc::PUBLIC_CLIENT_ID;
    const USER: &'static str = oidc::TEST_USER;
    const CLIENT_CREDENTIALS_SCOPE: &'static str = "api:read";
    const USER_SCOPE: &'static str = "openid api:read";
    const DEVICE_SCOPE: &'static str = "openid";
    const WELL_KNOWN: WellKnown = WellKnown::OpenIdConfiguration;
    const SENDS_ISS: bool = true;
    const REVOKING_AN_ACCESS_TOKEN_ENDS_THE_GRANT: bool = true;

    async fn start_with_token_lifetime(lifetime: Duration) -> Self {
        let options = OidcOptions::default().access_token_ttl(lifetime);
        super::blocking(move || OidcProvider::start(options))
            .await
            .unwrap()
    }
    fn base_url(&self) -> String {
        OidcProvider::base_url(self)
    }
    fn stats_url(&self) -> String {
        OidcProvider::stats_url(self)
    }
    fn issuer(&self) -> String {
        OidcProvider::issuer(self)
    }
    fn authorization_endpoint(&self) -> String {
        OidcProvider::authorization_endpoint(self)
    }
    fn token_endpoint(&self) -> String {
        OidcProvider::token_endpoint(self)
    }
    fn revocation_endpoint(&self) -> String {
        OidcProvider::revocation_endpoint(self)
    }
    fn introspection_endpoint(&self) -> String {
        OidcProvider::introspection_endpoint(self)
    }
    fn resource_url(&self) -> String {
        OidcProvider::resource_url(self)
    }
    /// The one discovery names.
    async fn device_authorization_endpoint(&self) -> Endpoint {
        let metadata = super::code_flow::metadata(self).await;
        metadata.device_authorization_endpoint().unwrap().clone()
    }
    /// The test server's `/test/device` records the decision the user-code page would.
    async fn decide_device(&self, user_code: &str, approve: bool) {
        let decision = if approve { "approve" } else { "deny" };
        let url = self.url(&format!(
            "/test/device?user_code={user_code}&decision={decision}"
        ));
        let response = super::post_form(&url, &[], String::new()).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    }
    fn counter(counter: Counter) -> &'static str {
        match counter {
            Counter::TokenRequests => "token_requests",
            Counter::ClientCredentialsOk => "grant_client_credentials_ok",
            Counter::ClientCredentialsError => "grant_client_credentials_error",
            Counter::AuthorizationCodeOk => "grant_authorization_code_ok",
            Counter::RefreshOk => "grant_refresh_token_ok",
            Counter::RefreshError => "grant_refresh_token_error",
            Counter::DeviceCodeOk => "grant_urn:ietf:params:oauth:grant-type:device_code_ok",
            Counter::DeviceCodePending => {
                "grant_urn:ietf:params:oauth:grant-type:device_code_error"
            }
            Counter::Authorized => "interaction_ok",
            Counter::ResourceOk => "api_resource_ok",
            Counter::ResourceInvalidToken => "api_resource_invalid_token",
        }
    }
    /// A native public client may use any loopback port (RFC 8252 §7.3).
    fn redirect_uri(client_id: &str) -> &'static str {
        if client_id == oidc::PUBLIC_CLIENT_ID {
            "http://127.0.0.1:49321/callback"
        } else {
            oidc::LOOPBACK_REDIRECT_URI
        }
    }
    /// From the discovery document, `iss` expected (`code_flow::authorization_url`).
    async fn authorization_url(
        &self,
        client_id: &str,
        redirect_uri: &str,
    ) -> (String, PendingAuthorization) {
        super::code_flow::authorization_url(self, client_id, redirect_uri, &self.issuer(), |r| r)
            .await
    }
    /// The provider's redirects followed by hand.
    async fn front_channel(&self, url: &str, redirect_uri: &str) -> String {
        super::code_flow::follow_to_redirect_uri(url, redirect_uri).await
    }
    fn assert_client_credentials_caller(me: &Value) {
        assert_eq!(me["kind"], "client_credentials", "{me}");
    }
    fn assert_user_caller(me: &Value) {
        assert_eq!(me["sub"], oidc::TEST_USER, "{me}");
        assert_eq!(me["kind"], "access_token", "{me}");
    }
    /// An ID token: the scope has `openid`.
    fn assert_user_token(token: &Token) {
        assert!(token.id_token().is_some(), "openid scope");
    }
}

impl Server for OauthlibProvider {
    const BASIC_CLIENT: (&'static str, &'static str) =
        (oauthlib2::BASIC_CLIENT_ID, oauthlib2::BASIC_CLIENT_SECRET);
    const POST_CLIENT: (&'static str, &'static str) =
        (oauthlib2::POST_CLIENT_ID, oauthlib2::POST_CLIENT_SECRET);
    const SPECIAL_CLIENT: (&'static str, &'static str) = (
        oauthlib2::SPECIAL_CLIENT_ID,
        oauthlib2::SPECIAL_CLIENT_SECRET,
    );
    const PUBLIC_CLIENT_ID: &'static str = oauthlib2::PUBLIC_CLIENT_ID;
    const USER: &'static str = oauthlib2::USER;
    const CLIENT_CREDENTIALS_SCOPE: &'static str = "write";
    const USER_SCOPE: &'static str = "read write";
    const DEVICE_SCOPE: &'static str = "read write";
    const WELL_KNOWN: WellKnown = WellKnown::OAuthAuthorizationServer;
    const SENDS_ISS: bool = false;
    const REVOKING_AN_ACCESS_TOKEN_ENDS_THE_GRANT: bool = false;

    async fn start_with_token_lifetime(lifetime: Duration) -> Self {
        let config =
            OauthlibConfig::builtin().with_oauth2_access_token_lifetime(lifetime.as_secs());
        super::blocking(move || OauthlibProvider::start(Some(&config)))
            .await
            .unwrap()
    }
    fn base_url(&self) -> String {
        OauthlibProvider::base_url(self)
    }
    fn stats_url(&self) -> String {
        OauthlibProvider::stats_url(self)
    }
    fn issuer(&self) -> String {
        self.oauth2_issuer()
    }
    fn authorization_endpoint(&self) -> String {
        self.oauth2_authorization_endpoint()
    }
    fn token_endpoint(&self) -> String {
        self.oauth2_token_endpoint()
    }
    fn revocation_endpoint(&self) -> String {
        self.oauth2_revocation_endpoint()
    }
    fn introspection_endpoint(&self) -> String {
        self.oauth2_introspection_endpoint()
    }
    fn resource_url(&self) -> String {
        self.oauth2_resource_url()
    }
    async fn device_authorization_endpoint(&self) -> Endpoint {
        loopback_endpoint(&self.oauth2_device_authorization_endpoint())
    }
    async fn decide_device(&self, user_code: &str, approve: bool) {
        let url = self.oauth2_device_decision_url(user_code, !approve);
        let response = super::get(&url, &[]).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    }
    fn counter(counter: Counter) -> &'static str {
        match counter {
            Counter::TokenRequests => "oauth2_token_requests",
            Counter::ClientCredentialsOk => "oauth2_grant_client_credentials_ok",
            Counter::ClientCredentialsError => "oauth2_grant_client_credentials_error",
            Counter::AuthorizationCodeOk => "oauth2_grant_authorization_code_ok",
            Counter::RefreshOk => "oauth2_grant_refresh_token_ok",
            Counter::RefreshError => "oauth2_grant_refresh_token_error",
            Counter::DeviceCodeOk => "oauth2_grant_device_code_ok",
            Counter::DeviceCodePending => "oauth2_grant_device_code_authorization_pending",
            Counter::Authorized => "oauth2_authorize_ok",
            Counter::ResourceOk => "oauth2_resource_ok",
            Counter::ResourceInvalidToken => "oauth2_resource_invalid_token",
        }
    }
    fn redirect_uri(_client_id: &str) -> &'static str {
        oauthlib2::REDIRECT_URI
    }
    async fn authorization_url(
        &self,
        client_id: &str,
        redirect_uri: &str,
    ) -> (String, PendingAuthorization) {
        assert_eq!(redirect_uri, oauthlib2::REDIRECT_URI);
        oauthlib_authorization_url(self, client_id, |r| r)
    }
    /// The provider approves at once: one 302 to the redirect URI.
    async fn front_channel(&self, url: &str, redirect_uri: &str) -> String {
        assert_eq!(redirect_uri, oauthlib2::REDIRECT_URI);
        oauthlib_front_channel(url).await
    }
    fn assert_client_credentials_caller(me: &Value) {
        assert_eq!(me["user"], Value::Null, "no resource owner: {me}");
    }
    fn assert_user_caller(me: &Value) {
        assert_eq!(me["user"], oauthlib2::USER, "{me}");
        assert_eq!(me["scope"], "read write", "{me}");
    }
    /// The scope granted is the one asked, exactly.
    fn assert_user_token(token: &Token) {
        assert_eq!(token.scope().unwrap().to_string(), "read write");
    }
}

/// The authorization URL at oauthlib for `client_id` as oauth-core builds it (state, PKCE
/// S256, the registered redirect URI, scope `read write`), adjusted by `adjust`.
pub fn oauthlib_authorization_url(
    provider: &OauthlibProvider,
    client_id: &str,
    adjust: impl FnOnce(AuthorizationRequest) -> AuthorizationRequest,
) -> (String, PendingAuthorization) {
    let endpoint = loopback_endpoint(&provider.oauth2_authorization_endpoint());
    let redirect =
        RedirectUri::with_transport(oauthlib2::REDIRECT_URI, Transport::AllowLoopbackHttp).unwrap();
    let request = AuthorizationRequest::new(&endpoint, client_id, &redirect)
        .scope(Scope::parse("read write"));
    let (url, pending) = adjust(request).build(&SystemRandom::new()).unwrap();
    (url.to_string(), pending)
}

/// GETs an authorization URL at oauthlib (the provider approves at once) and returns the
/// callback URL from the 302's `Location`, which must point at the redirect URI.
pub async fn oauthlib_front_channel(url: &str) -> String {
    let response = super::get(url, &[]).await;
    assert_eq!(response.status, StatusCode::FOUND, "{}", response.body);
    let location = response.header("location").expect("Location").to_owned();
    assert!(
        location.starts_with(&format!("{}?", oauthlib2::REDIRECT_URI)),
        "{location}"
    );
    location
}

/// Runs `f` within [`TEST_TIMEOUT`]. Installing the servers' packages comes first and is
/// not counted: on a fresh checkout `setup.sh` runs pip and npm (bounded by the harness
/// itself), which can take longer than a test.
pub async fn bounded<F: std::future::Future<Output = ()>>(f: F) {
    super::blocking(interop_tests::ensure_installed)
        .await
        .expect("installing the interop test servers");
    tokio::time::timeout(TEST_TIMEOUT, f)
        .await
        .expect("test took too long");
}

/// A hyper client for plain HTTP.
pub fn http() -> Http {
    HyperClient::builder(TokioExecutor::new()).build_http()
}

/// An endpoint on the loopback server, over plain HTTP (opted in).
pub fn loopback_endpoint(url: &str) -> Endpoint {
    Endpoint::with_transport(url, Transport::AllowLoopbackHttp).unwrap()
}

/// A hyper client wrapped in the token layer for `server`'s origin.
pub fn through_layer(server: &impl Server, source: TokenSource) -> Api {
    OAuth2Layer::new_dangerous_http_loopback(source, &server.base_url())
        .unwrap()
        .layer(http())
}

/// `GET` `url` through the layer: the status and the JSON body (`Null` if none).
pub async fn call(api: &Api, url: &str) -> Result<(StatusCode, Value), tower::BoxError> {
    let request = Request::get(url).body(Full::default()).unwrap();
    let response = tokio::time::timeout(CALL_TIMEOUT, api.clone().oneshot(request))
        .await
        .expect("call timed out")?;
    let status = response.status();
    let body = response.into_body().collect().await?.to_bytes();
    Ok((status, serde_json::from_slice(&body).unwrap_or(Value::Null)))
}

/// `server`'s `/test/stats`.
pub async fn stats(server: &impl Server) -> Value {
    super::get(&server.stats_url(), &[]).await.json()
}

/// A counter from `/test/stats` (absent means zero).
pub fn stat(stats: &Value, name: &str) -> u64 {
    stats[name].as_u64().unwrap_or(0)
}

/// Policy for tokens of a few seconds: the default margin (which becomes half the lifetime),
/// but refreshes may follow each other after 1 s instead of 5 s.
pub fn short_token_policy() -> RefreshPolicy {
    RefreshPolicy::default().min_interval(Duration::from_secs(1))
}
