//! A `Host` header is part of where a request goes: the token middleware sends the token only
//! when it names an allowed origin too (review 13; the test failed before the fix).
#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(clippy::type_complexity)]

use bytes::Bytes;
use http::Request;
use http_body_util::Empty;
use tower::{Layer, ServiceExt};
use tower_oauth2::policy::ForeignOrigin;
use tower_oauth2::{OAuth2Layer, TokenSource};

mod common;
use common::{API, authorization_of, bearer, recording_api};

/// The Host and Authorization headers of a request.
fn host_and_authorization(req: &Request<Empty<Bytes>>) -> (Option<String>, Option<String>) {
    let host = req
        .headers()
        .get("host")
        .map(|v| v.to_str().unwrap().to_owned());
    (host, authorization_of(req))
}

/// BCP-16 / RFC 9700 §4.9.1, RFC 6750 §5.3: the token goes only to the allowlisted origins.
/// A request whose `Host` header names another authority than its URI is addressed, at the
/// server, to that other origin (RFC 9110 §7.2: hyper sends origin-form with the caller's
/// `Host`; a shared front end routes on it), so it gets no token. The layer used to look at the
/// URI only and add it.
#[tokio::test]
async fn a_host_header_naming_a_foreign_authority_gets_no_token() {
    let (api, seen) = recording_api(vec![], host_and_authorization);
    let layer = OAuth2Layer::new(TokenSource::from_token(bearer("secret-abc")), API).unwrap();
    let svc = layer.layer(api);
    let request = Request::get("https://api.example.com/v1/me")
        .header("host", "evil.example.net")
        .body(Empty::new())
        .unwrap();
    svc.clone().oneshot(request).await.unwrap();
    // The same authority in the Host header (another case, the default port spelt out) is fine.
    for host in ["api.example.com", "API.example.com:443"] {
        let request = Request::get("https://api.example.com/v1/me")
            .header("host", host)
            .body(Empty::new())
            .unwrap();
        svc.clone().oneshot(request).await.unwrap();
    }
    let seen = seen.lock().unwrap().clone();
    assert_eq!(
        seen[0],
        (Some("evil.example.net".into()), None),
        "the token went out on a request whose Host names a foreign origin"
    );
    assert_eq!(seen[1].1.as_deref(), Some("Bearer secret-abc"));
    assert_eq!(seen[2].1.as_deref(), Some("Bearer secret-abc"));

    // Two Host headers, or one with user information, name no allowed origin; a Host naming
    // another allowed origin is allowed.
    let (api, seen) = recording_api(vec![], host_and_authorization);
    let layer = OAuth2Layer::new(TokenSource::from_token(bearer("secret-abc")), API)
        .unwrap()
        .also_for("https://api-eu.example.com")
        .unwrap();
    let svc = layer.layer(api);
    let twice = Request::get("https://api.example.com/v1/me")
        .header("host", "api.example.com")
        .header("host", "evil.example.net")
        .body(Empty::new())
        .unwrap();
    svc.clone().oneshot(twice).await.unwrap();
    let userinfo = Request::get("https://api.example.com/v1/me")
        .header("host", "user@api.example.com")
        .body(Empty::new())
        .unwrap();
    svc.clone().oneshot(userinfo).await.unwrap();
    let other_allowed = Request::get("https://api.example.com/v1/me")
        .header("host", "api-eu.example.com")
        .body(Empty::new())
        .unwrap();
    svc.clone().oneshot(other_allowed).await.unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen[0].1, None, "two Host headers");
    assert_eq!(seen[1].1, None, "user information in Host");
    assert_eq!(seen[2].1.as_deref(), Some("Bearer secret-abc"));

    // Under ForeignOrigin::Reject such a request fails without being sent.
    let (api, seen) = recording_api(vec![], host_and_authorization);
    let layer = OAuth2Layer::new(TokenSource::from_token(bearer("secret-abc")), API)
        .unwrap()
        .foreign_origins(ForeignOrigin::Reject);
    let request = Request::get("https://api.example.com/v1/me")
        .header("host", "evil.example.net")
        .body(Empty::new())
        .unwrap();
    let result = layer.layer(api).oneshot(request).await;
    assert!(result.is_err(), "sent: {:?}", seen.lock().unwrap());
}

/// An empty port is the scheme's default one (RFC 3986 §3.2.3 `port = *DIGIT`, §6.2.3;
/// RFC 9110 §7.2), in the URI and in a `Host` header: `https://api.example.com:/` is the API's
/// origin, as the OAuth 1 side and the DPoP `htu` already read it. The layer compared the
/// authority as written, so such a request went out with no token (or was refused under
/// `ForeignOrigin::Reject`).
#[tokio::test]
async fn an_empty_port_is_the_default_port_in_the_uri_and_in_host() {
    let (api, seen) = recording_api(vec![], host_and_authorization);
    let layer = OAuth2Layer::new(TokenSource::from_token(bearer("secret-abc")), API)
        .unwrap()
        .foreign_origins(ForeignOrigin::Reject);
    let svc = layer.layer(api);
    for (uri, host) in [
        ("https://api.example.com:/v1/me", None),
        ("https://API.example.com:/v1/me", None),
        ("https://api.example.com/v1/me", Some("api.example.com:")),
        ("https://api.example.com:/v1/me", Some("Api.Example.com:")),
    ] {
        let mut request = Request::get(uri);
        if let Some(host) = host {
            request = request.header("host", host);
        }
        let result = svc
            .clone()
            .oneshot(request.body(Empty::new()).unwrap())
            .await;
        assert!(result.is_ok(), "{uri} {host:?}: {result:?}");
    }
    for (_, authorization) in seen.lock().unwrap().iter() {
        assert_eq!(authorization.as_deref(), Some("Bearer secret-abc"));
    }
    // Another port is still another origin, and so is an empty port against a non-default one.
    let (api, seen) = recording_api(vec![], host_and_authorization);
    let layer = OAuth2Layer::new(
        TokenSource::from_token(bearer("secret-abc")),
        "https://api.example.com:8443",
    )
    .unwrap();
    let svc = layer.layer(api);
    for uri in [
        "https://api.example.com:/v1",
        "https://api.example.com:8443/v1",
    ] {
        let request = Request::get(uri).body(Empty::new()).unwrap();
        svc.clone().oneshot(request).await.unwrap();
    }
    let request = Request::get("https://api.example.com:8443/v1")
        .header("host", "api.example.com:")
        .body(Empty::new())
        .unwrap();
    svc.clone().oneshot(request).await.unwrap();
    let seen = seen.lock().unwrap().clone();
    assert_eq!(seen[0].1, None);
    assert_eq!(seen[1].1.as_deref(), Some("Bearer secret-abc"));
    assert_eq!(seen[2].1, None);
}
