//! Criterion benchmarks (`cargo bench -p benches`) and the profiling examples, with the
//! fixtures they share: Twitter's documented OAuth 1 request, and the OAuth 2 resource server
//! and layers the per-request benchmarks drive.
#![allow(clippy::unwrap_used, clippy::expect_used)]

/// Twitter's documented request (SECURITY.md §3.8 vector E): the credentials, nonce and
/// timestamp of its documentation, and the signature it shows.
pub mod twitter {
    use oauth_core::oauth1::{ClientCredentials, Signer, TokenCredentials};
    use oauth_core::secret::{ConsumerSecret, TokenSecret};

    /// `oauth_consumer_key`.
    pub const CONSUMER_KEY: &str = "xvz1evFS4wEEPTGEFPHBog";
    /// The consumer secret.
    pub const CONSUMER_SECRET: &str = "kAcSOqF21Fu85e7zjz7ZN2U4ZRhfV3WpwPAoE3Z7kBw";
    /// `oauth_token`.
    pub const TOKEN: &str = "370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb";
    /// The token secret.
    pub const TOKEN_SECRET: &str = "LswwdoUaIvS8ltyTt5jkRh4J50vUPVVHtR2YPi5kE";
    /// The documented `oauth_nonce`.
    pub const NONCE: &str = "kYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg";
    /// The documented `oauth_timestamp`.
    pub const TIMESTAMP: u64 = 1318622958;
    /// The request URI, with its query.
    pub const URI: &str = "https://api.twitter.com/1/statuses/update.json?include_entities=true";
    /// The request URI without its query (what oauth1-request takes).
    pub const URI_NO_QUERY: &str = "https://api.twitter.com/1/statuses/update.json";
    /// The form body, as sent.
    pub const BODY: &[u8] =
        b"status=Hello%20Ladies%20%2b%20Gentlemen%2c%20a%20signed%20OAuth%20request%21";
    /// The `status` parameter, decoded.
    pub const STATUS: &str = "Hello Ladies + Gentlemen, a signed OAuth request!";
    /// The signature base string (the `/1/` URL: 450 bytes).
    pub const BASE_STRING: &str = "POST&https%3A%2F%2Fapi.twitter.com%2F1%2Fstatuses%2Fupdate.json&include_entities%3Dtrue%26oauth_consumer_key%3Dxvz1evFS4wEEPTGEFPHBog%26oauth_nonce%3DkYjzVBB8Y0ZFabxSWbWovY3uYSQ2pTgmZeNu2VS4cg%26oauth_signature_method%3DHMAC-SHA1%26oauth_timestamp%3D1318622958%26oauth_token%3D370773112-GmHxMAgYyLbNEtIKZeRNFsMKPR9EyMZeS9weJAEb%26oauth_version%3D1.0%26status%3DHello%2520Ladies%2520%252B%2520Gentlemen%252C%2520a%2520signed%2520OAuth%2520request%2521";
    /// The documented signature.
    pub const SIGNATURE: &str = "tnnArxj06cWHq44gCs1OSKk/jLY=";
    /// The signature, percent-encoded as it appears in the header.
    pub const SIGNATURE_ENC: &str = "tnnArxj06cWHq44gCs1OSKk%2FjLY%3D";

    /// Our HMAC-SHA1 signer with these credentials.
    pub fn signer() -> Signer {
        Signer::builder(ClientCredentials::new(
            CONSUMER_KEY,
            ConsumerSecret::new(CONSUMER_SECRET),
        ))
        .token(TokenCredentials::new(TOKEN, TokenSecret::new(TOKEN_SECRET)))
        .build()
        .unwrap()
    }
}

/// The OAuth 2 per-request fixtures: a resource server that answers at once, one request
/// driven through a service by a single poll, and `OAuth2Layer` over a fresh token.
pub mod api {
    use std::convert::Infallible;
    use std::hint::black_box;
    use std::time::{Duration, SystemTime};

    use bytes::Bytes;
    use http::{Request, Response};
    use http_body_util::Empty;
    use oauth_core::oauth2::{Token, TokenType};
    use oauth_core::secret::AccessToken;
    use tower::Service;
    use tower_oauth2::policy::RetryOn401;
    use tower_oauth2::source::TokenError;
    use tower_oauth2::{OAuth2Layer, TokenErrorKind, TokenSource};

    /// The access token (also AddAuthorization's static one).
    pub const TOKEN: &str = "2YotnFZFEjr1zCsicMWpAA-some-longer-opaque-access-token-value";

    /// The resource server's future.
    pub type Ready = std::future::Ready<Result<Response<Empty<Bytes>>, Infallible>>;

    /// A resource server that answers at once: what remains is the layers' own cost.
    pub fn api() -> impl Service<
        Request<Empty<Bytes>>,
        Response = Response<Empty<Bytes>>,
        Error = Infallible,
        Future = Ready,
    > + Clone {
        tower::service_fn(|req: Request<Empty<Bytes>>| {
            black_box(&req);
            std::future::ready(Ok(Response::new(Empty::new())))
        })
    }

    /// `GET https://api.example.com/v1/me`, built fresh.
    pub fn request() -> Request<Empty<Bytes>> {
        Request::get("https://api.example.com/v1/me")
            .body(Empty::new())
            .unwrap()
    }

    /// Drives one request through an always-ready service whose futures complete on first
    /// poll.
    pub fn send<S>(svc: &mut S) -> Response<Empty<Bytes>>
    where
        S: Service<Request<Empty<Bytes>>, Response = Response<Empty<Bytes>>>,
        S::Error: std::fmt::Debug,
    {
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        assert!(svc.poll_ready(&mut cx).is_ready());
        let mut fut = std::pin::pin!(svc.call(request()));
        match fut.as_mut().poll(&mut cx) {
            std::task::Poll::Ready(res) => res.unwrap(),
            std::task::Poll::Pending => unreachable!("the API answers at once"),
        }
    }

    /// `OAuth2Layer` for `https://api.example.com` over a token valid for an hour, from a
    /// source that could refresh it (its fetcher is never called), so the default policy keeps
    /// its copy of each request for a retry. Needs a tokio runtime entered.
    pub fn layer(rt: &tokio::runtime::Runtime, policy: RetryOn401) -> OAuth2Layer {
        let fresh = Token::new(AccessToken::new(TOKEN), TokenType::Bearer)
            .with_expires_at(Some(SystemTime::now() + Duration::from_secs(3600)));
        let source = rt
            .block_on(
                TokenSource::builder()
                    .token(fresh)
                    .fetcher(|_: Option<&Token>| async {
                        Err::<Token, _>(TokenError::new(TokenErrorKind::Transient, None))
                    })
                    .build(),
            )
            .unwrap();
        OAuth2Layer::new(source, "https://api.example.com")
            .unwrap()
            .retry_on_401(policy)
    }
}
