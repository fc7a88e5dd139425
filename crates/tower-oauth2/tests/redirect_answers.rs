//! With tower-http's `FollowRedirect` inside the token layer, the answer of another origin at
//! the end of the redirects is not taken as the API's: its 401 `invalid_token` forces no
//! refresh and no retry.
#![cfg(feature = "tower-http")]
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::Empty;
use oauth_core::oauth2::{Token, TokenType};
use oauth_core::secret::{AccessToken, RefreshToken};
use tower::{Layer, Service, ServiceExt};
use tower_http::follow_redirect::FollowRedirectLayer;
use tower_oauth2::{OAuth2Layer, TokenSource};

mod common;
use common::{bearer, counting_fetcher_answering};

/// `/a` on the API redirects to `location`; everything else answers 401 `invalid_token`.
fn api(
    location: &'static str,
    hits: Arc<AtomicUsize>,
) -> impl Service<
    Request<Empty<Bytes>>,
    Response = Response<Empty<Bytes>>,
    Error = Infallible,
    Future: Send,
> + Clone
+ Send
+ 'static {
    tower::service_fn(move |req: Request<Empty<Bytes>>| {
        hits.fetch_add(1, Ordering::SeqCst);
        let response = if req.uri().path() == "/a" {
            Response::builder()
                .status(StatusCode::FOUND)
                .header("location", location)
                .body(Empty::new())
                .unwrap()
        } else {
            Response::builder()
                .status(StatusCode::UNAUTHORIZED)
                .header("www-authenticate", r#"Bearer error="invalid_token""#)
                .body(Empty::new())
                .unwrap()
        };
        async move { Ok::<_, Infallible>(response) }
    })
}

#[tokio::test]
async fn another_origins_401_after_a_redirect_forces_no_refresh() {
    for (location, refreshes) in [
        ("https://elsewhere.example.com/b", 0),
        // The API's own 401 after a same-origin redirect is the API's: one refresh, one retry.
        ("https://api.example.com/b", 1),
    ] {
        let (fetcher, fetches) = counting_fetcher_answering(bearer("tok-2"));
        let token = Token::new(AccessToken::new("tok-1"), TokenType::Bearer)
            .with_refresh_token(Some(RefreshToken::new("r")))
            .with_expires_at(Some(SystemTime::now() + Duration::from_secs(3600)));
        let source = TokenSource::builder()
            .token(token)
            .fetcher(fetcher)
            .build()
            .await
            .unwrap();
        let hits = Arc::new(AtomicUsize::new(0));
        let layer = OAuth2Layer::new(source, "https://api.example.com").unwrap();
        let mut svc = layer.layer(FollowRedirectLayer::new().layer(api(location, hits.clone())));
        let request = Request::get("https://api.example.com/a")
            .body(Empty::new())
            .unwrap();
        let response = svc.ready().await.unwrap().call(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "{location}");
        assert_eq!(fetches.load(Ordering::SeqCst), refreshes, "{location}");
        assert_eq!(
            hits.load(Ordering::SeqCst),
            2 * (1 + refreshes),
            "{location}"
        );
    }
}
