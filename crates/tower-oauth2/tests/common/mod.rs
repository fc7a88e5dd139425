//! Helpers shared by the integration tests (each test file says `mod common;`): the API origin,
//! the test key and tokens, fake APIs that record what they were sent, a token endpoint's JSON
//! answer, fetchers and sources that count their refreshes, and a store that misbehaves as
//! scripted ([`scripted_store`]).
// Each test binary compiles this module on its own and uses only some of its items; the rest
// would be reported as dead code in that binary.
#![allow(dead_code)]
#![allow(clippy::unwrap_used, clippy::expect_used)]
// The fake APIs return `impl Service` tuples; naming them would add noise, not clarity.
#![allow(clippy::type_complexity)]

pub(crate) mod log_capture;
pub(crate) mod scripted_store;

use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use bytes::Bytes;
use http::{Request, Response, StatusCode};
use http_body_util::{Empty, Full};
use oauth_core::clock::Clock;
use oauth_core::oauth2::{DpopKey, EcP256PrivateKey, Token, TokenType};
use oauth_core::secret::{AccessToken, RefreshToken};
use tower::Service;
use tower_oauth2::TokenSource;
use tower_oauth2::clock::TokioClock;
use tower_oauth2::source::{TokenError, TokenErrorKind, TokenFetcher};

/// The origin the token layer is set up for in most tests.
pub(crate) const API: &str = "https://api.example.com";

/// A P-256 private key (PKCS#8 PEM) from oauth-core's test vectors.
pub(crate) const PEM: &str =
    include_str!("../../../oauth-core/tests/vectors/oauth1/test_ec_p256_pkcs8.pem");

/// The P-256 key of [`PEM`].
pub(crate) fn ec_p256_key() -> EcP256PrivateKey {
    EcP256PrivateKey::from_pem(PEM).unwrap()
}

/// The ES256 DPoP key of [`PEM`].
pub(crate) fn dpop_key() -> DpopKey {
    DpopKey::es256(ec_p256_key())
}

/// A `Bearer` token `value`, with no expiry and no refresh token.
pub(crate) fn bearer(value: &str) -> Token {
    Token::new(AccessToken::new(value), TokenType::Bearer)
}

/// A `Bearer` token with refresh token `refresh`, expiring `expires_in` seconds from now on
/// tokio's clock (expired that many seconds ago when negative).
pub(crate) fn bearer_expiring_in(access: &str, refresh: &str, expires_in: i64) -> Token {
    let now = TokioClock::new().now();
    let expires_at = if expires_in >= 0 {
        now + Duration::from_secs(expires_in.unsigned_abs())
    } else {
        now - Duration::from_secs(expires_in.unsigned_abs())
    };
    Token::new(AccessToken::new(access), TokenType::Bearer)
        .with_refresh_token(Some(RefreshToken::new(refresh)))
        .with_expires_at(Some(expires_at))
}

/// A `DPoP` token `value` bound to [`dpop_key`], with refresh token `rt-{value}`.
pub(crate) fn dpop_token(value: &str) -> Token {
    Token::new(AccessToken::new(value), TokenType::DPoP)
        .with_refresh_token(Some(RefreshToken::new(format!("rt-{value}"))))
        .with_dpop_jkt(Some(dpop_key().thumbprint()))
}

/// A fetcher that answers every fetch with a copy of `token`, and the count of its fetches.
pub(crate) fn counting_fetcher_answering(token: Token) -> (impl TokenFetcher, Arc<AtomicUsize>) {
    let fetches = Arc::new(AtomicUsize::new(0));
    let counter = fetches.clone();
    let fetcher = move |_: Option<&Token>| {
        counter.fetch_add(1, Ordering::SeqCst);
        let token = token.clone();
        async move { Ok::<_, TokenError>(token) }
    };
    (fetcher, fetches)
}

/// A source holding `dpop_token("tok-1")`, bound to [`dpop_key`], whose every refresh answers
/// `dpop_token("tok-2")`; and the count of its refreshes.
pub(crate) async fn dpop_source_refreshing_tok_1_to_tok_2() -> (TokenSource, Arc<AtomicUsize>) {
    let (fetcher, fetches) = counting_fetcher_answering(dpop_token("tok-2"));
    let source = TokenSource::builder()
        .token(dpop_token("tok-1"))
        .dpop(dpop_key())
        .fetcher(fetcher)
        .build()
        .await
        .unwrap();
    (source, fetches)
}

/// The request's `Authorization` header, if it has one.
pub(crate) fn authorization_of<B>(req: &Request<B>) -> Option<String> {
    req.headers()
        .get("authorization")
        .map(|v| v.to_str().unwrap().to_owned())
}

/// The decoded claims (second part) of a compact JWS such as a DPoP proof.
pub(crate) fn jws_claims(jws: &str) -> serde_json::Value {
    let part = jws.split('.').nth(1).unwrap();
    serde_json::from_slice(&URL_SAFE_NO_PAD.decode(part).unwrap()).unwrap()
}

/// A `status` answer of a token endpoint: content type `application/json`, `body`.
pub(crate) fn json_response(status: u16, body: impl Into<Bytes>) -> Response<Full<Bytes>> {
    Response::builder()
        .status(status)
        .header("content-type", "application/json")
        .body(Full::new(body.into()))
        .unwrap()
}

/// A 401 with `challenge` in `WWW-Authenticate` and one `DPoP-Nonce` header per `nonces`.
pub(crate) fn unauthorized(challenge: &str, nonces: &[&str]) -> Response<Empty<Bytes>> {
    let mut response = Response::builder()
        .status(StatusCode::UNAUTHORIZED)
        .header("www-authenticate", challenge);
    for nonce in nonces {
        response = response.header("dpop-nonce", *nonce);
    }
    response.body(Empty::new()).unwrap()
}

/// An API that records `record(request)` of every request and answers each with the next of
/// `answers` (then 200s).
pub(crate) fn recording_api<B, T>(
    answers: Vec<Response<Empty<Bytes>>>,
    record: impl Fn(&Request<B>) -> T + Clone + Send + 'static,
) -> (
    impl Service<Request<B>, Response = Response<Empty<Bytes>>, Error = Infallible, Future: Send>
    + Clone
    + Send
    + 'static,
    Arc<Mutex<Vec<T>>>,
)
where
    B: Send + 'static,
    T: Send + 'static,
{
    let log: Arc<Mutex<Vec<T>>> = Arc::default();
    let seen = log.clone();
    let answers = Arc::new(Mutex::new(answers.into_iter()));
    let svc = tower::service_fn(move |req: Request<B>| {
        seen.lock().unwrap().push(record(&req));
        let answer = answers.lock().unwrap().next();
        async move { Ok::<_, Infallible>(answer.unwrap_or_else(|| Response::new(Empty::new()))) }
    });
    (svc, log)
}

/// An API that answers `Bearer {rejected}` with a 401 carrying `challenge` in
/// `WWW-Authenticate`, anything else with a 200, and records the Authorization header of every
/// request.
pub(crate) fn api_rejecting_token<B: Send + 'static>(
    rejected: &'static str,
    challenge: &'static str,
) -> (
    impl Service<Request<B>, Response = Response<Empty<Bytes>>, Error = Infallible, Future: Send>
    + Clone
    + Send
    + 'static,
    Arc<Mutex<Vec<Option<String>>>>,
) {
    api_rejecting_token_with(rejected, StatusCode::UNAUTHORIZED, Some(challenge))
}

/// An API that answers `Bearer {rejected}` with `status` (and `challenge` in
/// `WWW-Authenticate`, if any), anything else with a 200, and records the Authorization header
/// of every request.
pub(crate) fn api_rejecting_token_with<B: Send + 'static>(
    rejected: &'static str,
    status: StatusCode,
    challenge: Option<&'static str>,
) -> (
    impl Service<Request<B>, Response = Response<Empty<Bytes>>, Error = Infallible, Future: Send>
    + Clone
    + Send
    + 'static,
    Arc<Mutex<Vec<Option<String>>>>,
) {
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = seen.clone();
    let svc = tower::service_fn(move |req: Request<B>| {
        let auth = authorization_of(&req);
        let reject = auth.as_deref() == Some(&format!("Bearer {rejected}"));
        log.lock().unwrap().push(auth);
        let mut res = Response::new(Empty::new());
        if reject {
            *res.status_mut() = status;
            if let Some(challenge) = challenge {
                res.headers_mut()
                    .insert("www-authenticate", challenge.parse().unwrap());
            }
        }
        async move { Ok::<_, Infallible>(res) }
    });
    (svc, seen)
}

/// The refresh tokens a test token endpoint ([`recording_fetcher`]) was sent, in order.
pub(crate) type Sent = Arc<Mutex<Vec<String>>>;

/// What `sent` holds now.
pub(crate) fn sent(sent: &Sent) -> Vec<String> {
    sent.lock().unwrap().clone()
}

/// A token endpoint that records in `sent` the refresh token of each request (empty for none)
/// and answers `answer(refresh_token, times_it_was_sent_before)`.
pub(crate) fn recording_fetcher(
    sent: Sent,
    answer: impl Fn(&str, usize) -> Result<Token, TokenError> + Send + Sync + 'static,
) -> impl TokenFetcher {
    move |current: Option<&Token>| {
        let rt = current
            .and_then(|t| t.refresh_token())
            .map(|r| r.secret().to_owned())
            .unwrap_or_default();
        let before = {
            let mut sent = sent.lock().unwrap();
            let before = sent.iter().filter(|s| **s == rt).count();
            sent.push(rt.clone());
            before
        };
        let answer = answer(&rt, before);
        async move { answer }
    }
}

/// A token endpoint ([`recording_fetcher`]) that refuses (`invalid_grant`) refresh tokens
/// starting with `dead` and answers any other `rt` with `from-rt` (an hour) and refresh token
/// `next-rt`.
pub(crate) fn fetcher_refusing_dead(sent: Sent) -> impl TokenFetcher {
    recording_fetcher(sent, |rt, _| {
        if rt.starts_with("dead") {
            return Err(TokenError::new(TokenErrorKind::Reauthorize, None));
        }
        Ok(bearer_expiring_in(
            &format!("from-{rt}"),
            &format!("next-{rt}"),
            3600,
        ))
    })
}

/// `source.token()` fails with `Reauthorize`.
pub(crate) async fn refused(source: &TokenSource) {
    let error = source.token().await.unwrap_err();
    assert_eq!(error.kind(), TokenErrorKind::Reauthorize);
}

/// The access token `source.token()` gives.
pub(crate) async fn access_token(source: &TokenSource) -> String {
    let token = source.token().await.unwrap();
    token.access_token().secret().to_owned()
}

/// `GET {API}/v1/me`, with no body.
pub(crate) fn api_get() -> Request<Empty<Bytes>> {
    Request::get(format!("{API}/v1/me"))
        .body(Empty::new())
        .unwrap()
}

/// Lets tasks spawned meanwhile (a look at the store, say) run.
pub(crate) async fn settle() {
    for _ in 0..10 {
        tokio::task::yield_now().await;
    }
}

/// The RSA key of oauth-core's test vectors, which signs the test JWTs (RS256 is
/// RSASSA-PKCS1-v1_5 with SHA-256, OAuth 1's RSA-SHA256), and its modulus, base64url
/// (`openssl rsa -in test_rsa_2048_pkcs8.pem -noout -modulus`); the exponent is 65537.
pub(crate) const RSA_PEM: &str =
    include_str!("../../../oauth-core/tests/vectors/oauth1/test_rsa_2048_pkcs8.pem");
pub(crate) const RSA_N: &str = "wBi2OrohtZbQwwuy_3x5O5FTxr9koYrBmRzA7gZEXM74zwtFLic2ZawDr-26wnI9xuBl_y-LPFEkSa3kcJ9nGtk8xXX3LFX_aFFzPvoo2qAC-mtZh6GHvyLgdkZNdjPLbo4MCuMuqWiCjX7LyxU5DjAR8EZSsBxrq5c4l7jL540ZTTA8gZVNQDfI---0VSAyJ-btEPEGJu0bp5xUyb3OgiyauUp2MBsowS8lWYWRA7D5DejZ-SyvZPaDMvsTv3bAs43uh6yLhhnOXY8yfFf_8kL-WCB6DJfFy3xKCQS4znEdeivzvQIqmZYggQgObj5x4BcvxufUU0VOHQv0GHTvyQ";

/// The JWK set holding [`RSA_PEM`]'s public key, `kid` `rsa-1`.
pub(crate) fn rsa_jwks() -> String {
    serde_json::json!({"keys": [{"kty": "RSA", "kid": "rsa-1", "n": RSA_N, "e": "AQAB"}]})
        .to_string()
}

/// An RS256 JWS of `claims`, signed with [`RSA_PEM`], `kid` `rsa-1`.
pub(crate) fn rs256_jws(claims: &serde_json::Value) -> String {
    use base64::engine::general_purpose::STANDARD;
    use oauth_core::oauth1::{RsaPrivateKey, SignatureMethod};

    let header = URL_SAFE_NO_PAD.encode(br#"{"alg":"RS256","kid":"rsa-1"}"#);
    let input = format!("{header}.{}", URL_SAFE_NO_PAD.encode(claims.to_string()));
    let signature = RsaPrivateKey::from_pem(RSA_PEM)
        .unwrap()
        .sign_base_string(SignatureMethod::RsaSha256, &input)
        .unwrap();
    let signature = URL_SAFE_NO_PAD.encode(STANDARD.decode(signature).unwrap());
    format!("{input}.{signature}")
}

/// An ID token validator for `https://server.example.com`'s tokens issued to `client`, with
/// keys from `jwks_uri` (served at `https://server.example.com/jwks`).
pub(crate) fn validator<S>(jwks_uri: S) -> tower_oauth2::client::IdTokenValidator<S>
where
    S: Service<Request<Full<Bytes>>, Response = Response<Full<Bytes>>> + Clone,
    S::Error: Into<tower::BoxError>,
{
    use oauth_core::oauth2::oidc::IdTokenVerifier;
    use oauth_core::oauth2::{Endpoint, Issuer};

    tower_oauth2::client::IdTokenValidator::new(
        jwks_uri,
        Endpoint::new("https://server.example.com/jwks").unwrap(),
        IdTokenVerifier::new(Issuer::new("https://server.example.com").unwrap(), "client"),
    )
}
