//! `IssuedTo` (RFC 6749 §10.4) in a store shared by two configurations: a source never takes
//! the other configuration's token, neither when it is built nor when it re-reads the store
//! before a refresh (it used to, there: the other's access token went to this API), its own
//! refresh goes on, and the refusal of a foreign refresh token does not claim `invalid_grant`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full};
use oauth_core::clock::Clock;
use oauth_core::oauth2::{Client, Endpoint, IssuedTo, Token, TokenType};
use oauth_core::secret::{AccessToken, ClientSecret, RefreshToken};
use tower::BoxError;
use tower::util::BoxCloneSyncService;
use tower_oauth2::clock::TokioClock;
use tower_oauth2::store::{MemoryStore, TokenStore};
use tower_oauth2::{GrantClient, TokenSource};

type ResBody = BoxBody<Bytes, BoxError>;
type FakeEndpoint = BoxCloneSyncService<Request<Full<Bytes>>, Response<ResBody>, BoxError>;

/// Configuration B's token endpoint: answers every refresh with a new token.
fn endpoint_b(calls: Arc<AtomicUsize>) -> FakeEndpoint {
    BoxCloneSyncService::new(tower::service_fn(move |_req: Request<Full<Bytes>>| {
        calls.fetch_add(1, Ordering::SeqCst);
        Box::pin(async move {
            let body = r#"{"access_token":"B-new-access","token_type":"Bearer","expires_in":3600,"refresh_token":"B-new-refresh"}"#;
            Ok::<_, BoxError>(
                Response::builder()
                    .header("content-type", "application/json")
                    .body(BoxBody::new(
                        Full::new(Bytes::from(body))
                            .map_err(|e: Infallible| -> BoxError { match e {} }),
                    ))
                    .unwrap(),
            )
        })
            as Pin<
                Box<dyn std::future::Future<Output = Result<Response<ResBody>, BoxError>> + Send>,
            >
    }))
}

fn grants_b(calls: Arc<AtomicUsize>) -> GrantClient<FakeEndpoint> {
    GrantClient::new(
        endpoint_b(calls),
        Endpoint::new("https://b.example.com/token").unwrap(),
        Client::secret_basic("client-b", ClientSecret::new("secret-b")),
    )
}

/// B's own token: expired, with a refresh token that B's server accepts.
fn b_token(grants: &GrantClient<FakeEndpoint>) -> Token {
    Token::new(AccessToken::new("B-old-access"), TokenType::Bearer)
        .with_expires_at(Some(TokioClock::new().now() - Duration::from_secs(1)))
        .with_refresh_token(Some(RefreshToken::new("B-refresh")))
        .with_issued_to(Some(grants.issued_to()))
}

/// A's token, as configuration A (another server, another client) writes it to the shared file.
fn a_token(lifetime_from_now: i64) -> Token {
    let now = TokioClock::new().now();
    let expires = if lifetime_from_now >= 0 {
        now + Duration::from_secs(lifetime_from_now as u64)
    } else {
        now - Duration::from_secs((-lifetime_from_now) as u64)
    };
    Token::new(AccessToken::new("A-access"), TokenType::Bearer)
        .with_expires_at(Some(expires))
        .with_refresh_token(Some(RefreshToken::new("A-refresh")))
        .with_issued_to(Some(IssuedTo::new(
            "https://a.example.com/token",
            "client-a",
        )))
}

/// A valid token of configuration A, saved to the shared store after B's source was built, is
/// not taken by B's source (it was, and A's access token went out for B's API).
#[tokio::test(start_paused = true)]
async fn a_token_saved_by_another_configuration_is_not_used() {
    let calls = Arc::new(AtomicUsize::new(0));
    let grants = grants_b(calls.clone());
    let store = MemoryStore::new();
    let source = TokenSource::builder()
        .store(store.clone())
        .fetcher(grants.refresh_fetcher())
        .token(b_token(&grants))
        .build()
        .await
        .unwrap();
    // Configuration A (another process, same token file) saves its token.
    store.save(&a_token(3600)).await.unwrap();
    let token = source.token().await.unwrap();
    assert_ne!(
        token.access_token().secret(),
        "A-access",
        "configuration A's access token is used by B's source (issued_to {:?})",
        token.issued_to()
    );
}

/// The same with A's token expired: B refreshes with its own refresh token (it used to take
/// A's token as the base, have it refused, and end in "authorize again").
#[tokio::test(start_paused = true)]
async fn another_configurations_expired_token_does_not_end_this_grant() {
    let calls = Arc::new(AtomicUsize::new(0));
    let grants = grants_b(calls.clone());
    let store = MemoryStore::new();
    let source = TokenSource::builder()
        .store(store.clone())
        .fetcher(grants.refresh_fetcher())
        .token(b_token(&grants))
        .build()
        .await
        .unwrap();
    store.save(&a_token(-10)).await.unwrap();
    let result = source.token().await;
    assert!(
        result.is_ok(),
        "B's refresh failed ({:?}) with {} request(s) to B's token endpoint; B's refresh token was never sent",
        result.as_ref().err().map(|e| e.to_string()),
        calls.load(Ordering::SeqCst)
    );
    assert_eq!(result.unwrap().access_token().secret(), "B-new-access");
}

/// The same through a token file shared by two configurations: B's source never hands out A's
/// access token, even once A has written the file.
#[tokio::test]
async fn a_shared_token_file_never_gives_b_the_token_of_a() {
    use tower_oauth2::store::FileStore;
    let dir = std::env::temp_dir().join(format!("review-g-issued-to-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("token.json");
    let _ = std::fs::remove_file(&path);
    let calls = Arc::new(AtomicUsize::new(0));
    let grants = grants_b(calls.clone());
    let source = TokenSource::builder()
        .store(FileStore::new(&path))
        .fetcher(grants.refresh_fetcher())
        .token(b_token(&grants))
        .build()
        .await
        .unwrap();
    // Configuration A, in another process, writes the same file.
    FileStore::new(&path).save(&a_token(3600)).await.unwrap();
    let token = source.token().await.unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_ne!(
        token.access_token().secret(),
        "A-access",
        "B's source uses A's token from the shared file (issued_to {:?})",
        token.issued_to()
    );
}

/// The refusal of a foreign refresh token, made without any request, does not say the server
/// answered `invalid_grant` (the `Reauthorize` kind's message used to); the cause
/// (`IssuedElsewhere`) is in `source()`.
#[tokio::test]
async fn the_issued_elsewhere_refusal_does_not_claim_invalid_grant() {
    use tower_oauth2::source::TokenFetcher;
    let calls = Arc::new(AtomicUsize::new(0));
    let grants = grants_b(calls.clone());
    let error = grants
        .refresh_fetcher()
        .fetch(Some(&a_token(-10)))
        .await
        .unwrap_err();
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    let message = error.to_string();
    assert!(
        !message.contains("invalid_grant"),
        "no server said invalid_grant, nothing was sent: {message}"
    );
}

/// The same server and client, with the endpoint written another way in the configuration
/// that saved the token (host case, an explicit default port): the stored token is this
/// configuration's own, refreshed with its refresh token. It used to be taken as foreign (the
/// endpoints were compared as text), which ends the user's grant: log in again.
#[tokio::test(start_paused = true)]
async fn an_endpoint_written_differently_is_the_same_endpoint() {
    let calls = Arc::new(AtomicUsize::new(0));
    let grants = grants_b(calls.clone());
    let store = MemoryStore::new();
    let saved = b_token(&grants).with_issued_to(Some(IssuedTo::new(
        "https://B.Example.com:443/token",
        "client-b",
    )));
    store.save(&saved).await.unwrap();
    let source = TokenSource::builder()
        .store(store.clone())
        .fetcher(grants.refresh_fetcher())
        .build()
        .await
        .unwrap();
    let token = source.token().await.unwrap();
    assert_eq!(token.access_token().secret(), "B-new-access");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// A client-credentials source finds configuration A's valid token in the shared store (at
/// build, and later when a token is needed): it does not send A's access token to B's API but
/// gets its own from B's token endpoint, recorded as B's. (Mutant: client/fetchers.rs
/// `<TokenFetcher for ClientCredentialsFetcher>::issued_to -> None`: the source, knowing no
/// issuer, took A's token.)
#[tokio::test(start_paused = true)]
async fn a_client_credentials_source_never_takes_another_configurations_token() {
    let calls = Arc::new(AtomicUsize::new(0));
    let grants = grants_b(calls.clone());
    let store = MemoryStore::new();
    store.save(&a_token(3600)).await.unwrap();
    let source = TokenSource::builder()
        .store(store.clone())
        .fetcher(grants.client_credentials_fetcher(None))
        .build()
        .await
        .unwrap();
    let token = source.token().await.unwrap();
    assert_eq!(token.access_token().secret(), "B-new-access");
    assert!(
        token
            .issued_to()
            .is_some_and(|issued| issued.is_same_as(&grants.issued_to()))
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}
