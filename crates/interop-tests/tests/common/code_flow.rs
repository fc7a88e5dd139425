//! The front-channel half of the authorization code flow against oidc-provider, as a client
//! without a browser runs it: the authorization URL built by oauth-core, the provider's
//! redirects followed by hand, and the checked callback.

use http::Uri;
use interop_tests::OidcProvider;
use interop_tests::oidc::{BASIC_CLIENT_ID, BASIC_CLIENT_SECRET, LOOPBACK_REDIRECT_URI};
use oauth_core::clock::SystemRandom;
use oauth_core::oauth2::{
    AuthorizationRequest, AuthorizationServerMetadata, CallbackError, Client, CodeExchange,
    DpopKey, Endpoint, Issuer, PendingAuthorization, RedirectUri, Scope, Token, TokenType,
    Transport, WellKnown,
};
use oauth_core::secret::ClientSecret;

use super::browser::Browser;
use super::get;

/// Most redirects followed from `/auth` to the redirect URI (the server needs three).
const MAX_HOPS: usize = 10;

/// The provider's issuer (loopback http, explicitly allowed).
pub fn issuer(provider: &OidcProvider) -> Issuer {
    Issuer::with_transport(&provider.issuer(), Transport::AllowLoopbackHttp).unwrap()
}

/// The provider's OpenID Connect Discovery document, fetched and checked by tower-oauth2.
pub async fn metadata(provider: &OidcProvider) -> AuthorizationServerMetadata {
    let http = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build_http::<http_body_util::Full<bytes::Bytes>>();
    tower_oauth2::client::discover(&http, &issuer(provider), WellKnown::OpenIdConfiguration)
        .await
        .unwrap()
}

fn loopback_endpoint(url: &str) -> Endpoint {
    Endpoint::with_transport(url, Transport::AllowLoopbackHttp).unwrap()
}

/// Resolves a `Location` against the URL it came from (RFC 3986 §5.2, the cases a server
/// sends: absolute, network-path, absolute-path and relative-path references).
pub fn resolve(base: &str, location: &str) -> String {
    if location.contains("://") {
        return location.to_owned();
    }
    let base: Uri = base.parse().unwrap();
    let scheme = base.scheme_str().unwrap();
    let authority = base.authority().unwrap();
    if let Some(rest) = location.strip_prefix("//") {
        format!("{scheme}://{rest}")
    } else if location.starts_with('/') {
        format!("{scheme}://{authority}{location}")
    } else {
        let dir = &base.path()[..=base.path().rfind('/').unwrap_or(0)];
        format!("{scheme}://{authority}{dir}{location}")
    }
}

/// Follows the provider's redirects from `url` with a plain client (no OAuth layer, no
/// redirect layer, no cookie jar) until one points at `redirect_uri`; returns that URL.
pub async fn follow_to_redirect_uri(url: &str, redirect_uri: &str) -> String {
    let mut url = url.to_owned();
    for _ in 0..MAX_HOPS {
        let response = get(&url, &[]).await;
        assert!(
            response.status.is_redirection(),
            "{url} answered {}: {}",
            response.status,
            response.body
        );
        let location = resolve(&url, response.header("location").expect("Location"));
        let (target, query) = location.split_once('?').unwrap_or((&location, ""));
        if target == redirect_uri && !query.is_empty() {
            return location;
        }
        url = location;
    }
    panic!("no redirect to {redirect_uri} within {MAX_HOPS} hops");
}

/// Runs the front-channel half of the code flow as oauth-core builds it: the authorization
/// URL (state, PKCE S256, `iss` expected as `expected_issuer`), the provider's redirects, and
/// the checked callback.
pub async fn authorize(
    provider: &OidcProvider,
    client_id: &str,
    redirect_uri: &str,
    expected_issuer: &str,
) -> Result<CodeExchange, CallbackError> {
    authorize_with(provider, client_id, redirect_uri, expected_issuer, |r| r).await
}

/// [`authorize`], with the authorization request adjusted by `adjust` (a `dpop_jkt`, say).
pub async fn authorize_with(
    provider: &OidcProvider,
    client_id: &str,
    redirect_uri: &str,
    expected_issuer: &str,
    adjust: impl FnOnce(AuthorizationRequest) -> AuthorizationRequest,
) -> Result<CodeExchange, CallbackError> {
    let (url, pending) =
        authorization_url(provider, client_id, redirect_uri, expected_issuer, adjust).await;
    let callback = follow_to_redirect_uri(&url, redirect_uri).await;
    pending.parse_callback(&callback)
}

/// The code flow with a DPoP key (RFC 9449) for the `client_secret_basic` client: the code is
/// bound to the key (`dpop_jkt`, §10), the exchange sends a proof, and the token comes back
/// DPoP-bound to the key's thumbprint (all three checked). Returns the grant client (with the
/// key) and the token.
pub async fn dpop_bound_token(
    provider: &OidcProvider,
    key: &DpopKey,
) -> (tower_oauth2::GrantClient<super::api::Http>, Token) {
    let client = Client::secret_basic(BASIC_CLIENT_ID, ClientSecret::new(BASIC_CLIENT_SECRET));
    let grants = super::scenarios::grants(provider, client).dpop(key.clone());
    let exchange = authorize_with(
        provider,
        BASIC_CLIENT_ID,
        LOOPBACK_REDIRECT_URI,
        &provider.issuer(),
        |request| request.dpop_key(key),
    )
    .await
    .unwrap();
    assert_eq!(exchange.dpop_jkt(), Some(key.thumbprint().as_str()));
    let token = grants.exchange_code(exchange).await.unwrap();
    assert_eq!(token.token_type(), &TokenType::DPoP);
    assert_eq!(token.dpop_jkt(), Some(key.thumbprint().as_str()));
    (grants, token)
}

/// The authorization URL as oauth-core builds it from the provider's discovery document
/// (scope `openid api:read`, state, PKCE S256, `iss` expected as `expected_issuer`), adjusted
/// by `adjust`, and the flow waiting for its callback.
pub async fn authorization_url(
    provider: &OidcProvider,
    client_id: &str,
    redirect_uri: &str,
    expected_issuer: &str,
    adjust: impl FnOnce(AuthorizationRequest) -> AuthorizationRequest,
) -> (String, PendingAuthorization) {
    let discovery = get(&provider.discovery_url(), &[]).await.json();
    let iss_supported = discovery["authorization_response_iss_parameter_supported"] == true;
    assert!(iss_supported, "oidc-provider sends iss (RFC 9207)");
    let endpoint = loopback_endpoint(discovery["authorization_endpoint"].as_str().unwrap());
    let redirect = RedirectUri::with_transport(redirect_uri, Transport::AllowLoopbackHttp).unwrap();
    let issuer = Issuer::with_transport(expected_issuer, Transport::AllowLoopbackHttp).unwrap();
    let request = AuthorizationRequest::new(&endpoint, client_id, &redirect)
        .scope(Scope::parse("openid api:read"))
        .expect_issuer(issuer, iss_supported);
    let (url, pending) = adjust(request).build(&SystemRandom::new()).unwrap();
    (url.to_string(), pending)
}

/// The front channel of the code flow as a browser runs it: the authorization URL built from
/// the discovered `metadata` (its endpoint and issuer; scope `openid api:read`, state, PKCE
/// S256), adjusted by `adjust` (a `prompt`, say), and the provider's redirects followed in
/// `browser`, whose cookies go with every hop and which keeps the ones the provider sets (its
/// session cookie, at a login). Returns the checked callback.
pub async fn authorize_in(
    browser: &mut Browser,
    metadata: &AuthorizationServerMetadata,
    client_id: &str,
    redirect_uri: &str,
    adjust: impl FnOnce(AuthorizationRequest) -> AuthorizationRequest,
) -> Result<CodeExchange, CallbackError> {
    let redirect = RedirectUri::with_transport(redirect_uri, Transport::AllowLoopbackHttp).unwrap();
    let request = AuthorizationRequest::from_metadata(metadata, client_id, &redirect)
        .unwrap()
        .scope(Scope::parse("openid api:read"));
    let (url, pending) = adjust(request).build(&SystemRandom::new()).unwrap();
    let callback = browser.follow_to(&url.to_string(), redirect_uri).await;
    pending.parse_callback(&callback)
}

/// The value of the query parameter `name` in `url`, if it has one.
pub fn query_value(url: &str, name: &str) -> Option<String> {
    let query = url.split_once('?').map_or("", |(_, q)| q);
    form_urlencoded::parse(query.as_bytes())
        .find(|(n, _)| n == name)
        .map(|(_, v)| v.into_owned())
}

/// The first answer of the authorization endpoint to `url`: an error it renders itself (no
/// redirect URI it can trust) or the redirect carrying one.
pub async fn refusal(url: &str) -> String {
    refusal_with_description(url).await.0
}

/// [`refusal`]'s `error` and its `error_description` (empty if none).
pub async fn refusal_with_description(url: &str) -> (String, String) {
    let response = get(url, &[]).await;
    if response.status.is_redirection() {
        let location = resolve(url, response.header("location").unwrap());
        let description = query_value(&location, "error_description").unwrap_or_default();
        return (
            query_value(&location, "error").unwrap_or(location),
            description,
        );
    }
    assert!(response.status.is_client_error(), "{}", response.status);
    let body: serde_json::Value = serde_json::from_str(&response.body).unwrap();
    let text = |name: &str| body[name].as_str().unwrap_or_default().to_owned();
    (text("error"), text("error_description"))
}
