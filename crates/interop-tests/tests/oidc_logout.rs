//! OpenID Connect RP-Initiated Logout 1.0 against the real npm `oidc-provider`, as a web app
//! runs it for its user's browser: the `end_session_endpoint` from discovery
//! (`AuthorizationServerMetadata::end_session_endpoint`), a code-flow login whose session
//! cookie a small cookie jar keeps (`common::browser`), the logout URL built by
//! `oauth_core::oauth2::LogoutRequest`, the provider's confirmation form answered "yes", and
//! the redirect back to the registered `post_logout_redirect_uri` with the same `state`. A
//! silent authorization (`prompt=none`) is the ground truth for the provider's session: a code
//! while it lasts, `login_required` once it is over.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::api::{CALL_TIMEOUT, Http, bounded, stats};
use common::browser::Browser;
use common::code_flow::{self, authorize_in};
use common::{assert_oauth_error, blocking};
use http::StatusCode;
use hyper_util::client::legacy::Client as HyperClient;
use hyper_util::rt::TokioExecutor;
use interop_tests::oidc::{
    BASIC_CLIENT_ID, BASIC_CLIENT_SECRET, LOOPBACK_REDIRECT_URI, POST_CLIENT_ID,
    POST_LOGOUT_REDIRECT_URI, TEST_USER,
};
use interop_tests::{OidcOptions, OidcProvider};
use oauth_core::oauth2::{
    AuthorizationServerMetadata, CallbackError, Client, Endpoint, LogoutError, LogoutRequest,
    RedirectUri, Token, Transport,
};
use oauth_core::secret::ClientSecret;
use tower_oauth2::GrantClient;

/// One it does not.
const NOT_REGISTERED: &str = "http://127.0.0.1/elsewhere";
/// The provider's session cookie (oidc-provider's default name).
const SESSION_COOKIE: &str = "_session";

async fn start() -> OidcProvider {
    blocking(|| OidcProvider::start(OidcOptions::default()))
        .await
        .unwrap()
}

fn grants(provider: &OidcProvider) -> GrantClient<Http> {
    GrantClient::new(
        HyperClient::builder(TokioExecutor::new()).build_http(),
        Endpoint::with_transport(&provider.token_endpoint(), Transport::AllowLoopbackHttp).unwrap(),
        Client::secret_basic(BASIC_CLIENT_ID, ClientSecret::new(BASIC_CLIENT_SECRET)),
    )
    .timeout(CALL_TIMEOUT)
}

fn loopback_redirect(uri: &str) -> RedirectUri {
    RedirectUri::with_transport(uri, Transport::AllowLoopbackHttp).unwrap()
}

/// Signs the test user in with the code flow in `browser` (which keeps the provider's session
/// cookie) and returns the token response, with its ID token and refresh token.
async fn sign_in(
    browser: &mut Browser,
    provider: &OidcProvider,
    metadata: &AuthorizationServerMetadata,
) -> Token {
    let exchange = authorize_in(
        browser,
        metadata,
        BASIC_CLIENT_ID,
        LOOPBACK_REDIRECT_URI,
        |r| r,
    )
    .await
    .unwrap();
    assert!(
        browser.has_cookie(SESSION_COOKIE),
        "the provider set no session cookie: {browser:?}"
    );
    let token = grants(provider).exchange_code(exchange).await.unwrap();
    assert!(token.id_token().is_some(), "an ID token (scope openid)");
    assert!(token.refresh_token().is_some());
    token
}

/// Whether the provider still has a session for the browser: a silent authorization
/// (`prompt=none`, OpenID Connect Core §3.1.2.1) gets a code while it lasts, and comes back
/// with `login_required` once it is over. Either way it ends at the redirect URI.
async fn signed_in(browser: &mut Browser, metadata: &AuthorizationServerMetadata) -> bool {
    let silent = authorize_in(
        browser,
        metadata,
        BASIC_CLIENT_ID,
        LOOPBACK_REDIRECT_URI,
        |r| r.param("prompt", "none"),
    )
    .await;
    match silent {
        Ok(_) => true,
        Err(CallbackError::AuthorizationDenied(e)) if e.code.as_str() == "login_required" => false,
        Err(e) => panic!("prompt=none: {e}"),
    }
}

/// The value of the attribute `name` in the first tag of `html` that contains `marker`.
fn attribute(html: &str, marker: &str, name: &str) -> String {
    let start = html
        .find(marker)
        .unwrap_or_else(|| panic!("no {marker} in {html}"));
    let tag_start = html[..=start].rfind('<').unwrap();
    let tag = &html[tag_start..tag_start + html[tag_start..].find('>').unwrap()];
    let needle = format!("{name}=\"");
    let value = &tag[tag.find(&needle).unwrap_or_else(|| panic!("{tag}")) + needle.len()..];
    value[..value.find('"').unwrap()].to_owned()
}

/// The user's "Yes, sign me out" on the provider's logout page: its form (`op.logoutForm`,
/// with the `xsrf` the provider put in it) posted with `logout=yes`, the button's name and
/// value. Returns where the provider redirects the browser.
async fn confirm_logout(browser: &mut Browser, page: &str) -> String {
    assert!(
        page.contains(r#"name="logout" value="yes""#),
        "no sign-out button: {page}"
    );
    let action = attribute(page, r#"id="op.logoutForm""#, "action");
    let xsrf = attribute(page, r#"name="xsrf""#, "value");
    let confirmed = browser
        .post_form(&action, &[("xsrf", &xsrf), ("logout", "yes")])
        .await;
    assert_eq!(
        confirmed.status,
        StatusCode::SEE_OTHER,
        "{}",
        confirmed.body
    );
    confirmed.header("location").expect("Location").to_owned()
}

/// The redirect `location` goes to `target` and carries exactly `state`.
fn assert_back_at(location: &str, target: &str, state: &str) {
    let (at, query) = location.split_once('?').expect("a query");
    assert_eq!(at, target);
    let params: Vec<(String, String)> = form_urlencoded::parse(query.as_bytes())
        .into_owned()
        .collect();
    assert_eq!(params, [("state".to_owned(), state.to_owned())]);
}

/// The whole RP-initiated logout with an `id_token_hint`, as a web app runs it for the user's
/// browser, and the provider's session before and after.
#[tokio::test(flavor = "multi_thread")]
async fn logout_with_the_id_token_ends_the_provider_session_and_comes_back_with_the_state() {
    bounded(async {
        let provider = start().await;
        let metadata = code_flow::metadata(&provider).await;
        let end_session = metadata
            .end_session_endpoint()
            .expect("discovery names an end_session_endpoint");
        assert_eq!(end_session.to_string(), provider.url("/session/end"));

        let mut browser = Browser::new();
        let token = sign_in(&mut browser, &provider, &metadata).await;
        let id_token = token.id_token().unwrap();
        assert!(
            signed_in(&mut browser, &metadata).await,
            "prompt=none gets a code while the session lasts"
        );

        let after = loopback_redirect(POST_LOGOUT_REDIRECT_URI);
        // Characters the query must encode, to see them come back as they went.
        let state = "af0ifjsldkj &=/+ é";
        let url = LogoutRequest::new(end_session)
            .id_token_hint(id_token)
            .post_logout_redirect_uri(&after)
            .state(state)
            .url()
            .unwrap();
        let page = browser.get(&url.to_string()).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let location = confirm_logout(&mut browser, &page.body).await;
        assert_back_at(&location, POST_LOGOUT_REDIRECT_URI, state);

        assert!(
            !browser.has_cookie(SESSION_COOKIE),
            "the provider cleared its session cookie"
        );
        assert!(
            !signed_in(&mut browser, &metadata).await,
            "prompt=none is login_required once the session is over"
        );
        assert_eq!(stats(&provider).await["end_session_ok"], 1);
        // Logout ends the provider's session, not the tokens issued in it (`LogoutRequest`'s
        // docs): oidc-provider keeps the ones that do not expire with the session
        // (`expiresWithSession` in server.mjs), so the refresh token still works, until the
        // app revokes it as those docs say (RFC 7009).
        let grants = grants(&provider);
        let refreshed = grants
            .refresh(token.refresh_token().unwrap(), None)
            .await
            .expect("the refresh token outlives the provider's session");
        let revocation = metadata.revocation_endpoint().unwrap();
        grants.revoke(revocation, &refreshed).await.unwrap();
        let refused = grants
            .refresh(refreshed.refresh_token().unwrap(), None)
            .await
            .unwrap_err();
        assert_oauth_error(&refused, "invalid_grant");
    })
    .await;
}

/// A `post_logout_redirect_uri` the client did not register is refused by the provider, which
/// then redirects nowhere and keeps the session (so is a `client_id` the `id_token_hint` was
/// not issued to); one without a client to check it against is
/// dropped (the provider ends the session at its own page), which is why `LogoutRequest`
/// refuses to build it. A `client_id` instead of the `id_token_hint` (RP-Initiated Logout 1.0
/// §2) is enough for a registered one.
#[tokio::test(flavor = "multi_thread")]
async fn an_unregistered_redirect_is_refused_and_a_client_id_can_stand_in_for_the_id_token() {
    bounded(async {
        let provider = start().await;
        let metadata = code_flow::metadata(&provider).await;
        let end_session = metadata.end_session_endpoint().unwrap();
        let mut browser = Browser::new();
        let token = sign_in(&mut browser, &provider, &metadata).await;
        let id_token = token.id_token().unwrap();

        let elsewhere = loopback_redirect(NOT_REGISTERED);
        let url = LogoutRequest::new(end_session)
            .id_token_hint(id_token)
            .post_logout_redirect_uri(&elsewhere)
            .state("s1")
            .url()
            .unwrap();
        let refused = browser.get(&url.to_string()).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
        assert_eq!(refused.header("location"), None);
        assert_eq!(refused.json()["error"], "invalid_request");
        assert_eq!(
            refused.json()["error_description"],
            "post_logout_redirect_uri not registered"
        );
        assert!(!refused.body.contains(NOT_REGISTERED), "{}", refused.body);
        // An id_token_hint and a client_id that does not match its audience: refused too.
        let after = loopback_redirect(POST_LOGOUT_REDIRECT_URI);
        let url = LogoutRequest::new(end_session)
            .id_token_hint(id_token)
            .client_id(POST_CLIENT_ID)
            .post_logout_redirect_uri(&after)
            .url()
            .unwrap();
        let refused = browser.get(&url.to_string()).await;
        assert_eq!(refused.status, StatusCode::BAD_REQUEST, "{}", refused.body);
        assert_eq!(refused.header("location"), None);
        assert_eq!(
            refused.json()["error_description"],
            "client_id does not match the provided id_token_hint"
        );
        assert!(
            signed_in(&mut browser, &metadata).await,
            "a refused logout leaves the session"
        );

        // The same registered redirect with the client_id alone: the provider's form, then
        // back with the state. (oidc-provider takes logout_hint and ui_locales, and uses
        // neither with its own pages.)
        let url = LogoutRequest::new(end_session)
            .client_id(BASIC_CLIENT_ID)
            .logout_hint(TEST_USER)
            .post_logout_redirect_uri(&after)
            .state("s2")
            .ui_locales("en")
            .url()
            .unwrap();
        let page = browser.get(&url.to_string()).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        let location = confirm_logout(&mut browser, &page.body).await;
        assert_back_at(&location, POST_LOGOUT_REDIRECT_URI, "s2");
        assert!(!signed_in(&mut browser, &metadata).await);

        // Neither id_token_hint nor client_id: oauth-core refuses to build it, because the
        // provider would drop the redirect. Sent by hand, the provider still ends the session
        // (nothing to end here: it posts its form straight on) but at its own success page.
        let request = LogoutRequest::new(end_session)
            .post_logout_redirect_uri(&after)
            .state("s3");
        assert_eq!(request.url(), Err(LogoutError::RedirectWithoutClient));
        let by_hand = format!(
            "{}?{}",
            end_session,
            common::form(&[
                ("post_logout_redirect_uri", POST_LOGOUT_REDIRECT_URI),
                ("state", "s3")
            ])
        );
        let page = browser.get(&by_hand).await;
        assert_eq!(page.status, StatusCode::OK, "{}", page.body);
        assert!(!page.body.contains("op.logoutForm"), "no question asked");
        let action = attribute(&page.body, "<form", "action");
        let xsrf = attribute(&page.body, r#"name="xsrf""#, "value");
        let confirmed = browser
            .post_form(&action, &[("xsrf", &xsrf), ("logout", "yes")])
            .await;
        assert_eq!(confirmed.status, StatusCode::SEE_OTHER);
        let location = confirmed.header("location").unwrap();
        assert_eq!(location, provider.url("/session/end/success"));

        let stats = stats(&provider).await;
        assert_eq!(stats["end_session_error"], 2, "{stats}");
        assert_eq!(stats["end_session_ok"], 2, "{stats}");
    })
    .await;
}

/// The cookie jar itself (`common::browser`): kept by path, replaced, and cleared the way
/// oidc-provider clears its session cookie.
#[test]
fn the_cookie_jar_keeps_cookies_by_path_and_clears_them() {
    let mut jar = Browser::new();
    let host = "127.0.0.1";
    jar.store(host, "/auth", "_session=s1; path=/; samesite=lax; httponly");
    jar.store(
        host,
        "/auth",
        "_interaction=i1; path=/interaction/U1; httponly",
    );
    jar.store(host, "/a/b", "plain=p");
    assert_eq!(
        jar.cookie_header(host, "/interaction/U1"),
        "_interaction=i1; _session=s1"
    );
    assert_eq!(jar.cookie_header(host, "/interaction/U10"), "_session=s1");
    assert_eq!(jar.cookie_header(host, "/a/c"), "plain=p; _session=s1");
    assert_eq!(jar.cookie_header("localhost", "/"), "");
    jar.store(host, "/", "_session=s2; path=/");
    assert_eq!(jar.cookie_header(host, "/"), "_session=s2");
    jar.store(
        host,
        "/session/end/confirm",
        "_session=; path=/; expires=Thu, 01 Jan 1970 00:00:00 GMT; httponly",
    );
    assert!(!jar.has_cookie(SESSION_COOKIE));
    jar.store(host, "/a/b", "plain=p; max-age=0");
    assert!(!jar.has_cookie("plain"));
    assert!(!format!("{jar:?}").contains("i1"), "{jar:?}");
}
