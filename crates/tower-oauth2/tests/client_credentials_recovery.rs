//! A client-credentials source whose client the token endpoint refuses (`invalid_client`, a
//! response that is not a valid token) recovers by itself once the server is fixed: it asks
//! again once per longest back-off, never in a storm, and never needs a restart. A user grant's
//! refusal stays terminal (SECURITY.md #37).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use oauth_core::clock::Clock;
use oauth_core::oauth2::{Client, Endpoint, RefreshPolicy, Token, TokenType};
use oauth_core::secret::{AccessToken, ClientSecret, RefreshToken};
use tower::BoxError;
use tower::util::BoxCloneSyncService;
use tower_oauth2::clock::TokioClock;
use tower_oauth2::{GrantClient, TokenErrorKind, TokenSource};

mod common;
use common::json_response;

/// What the fake token endpoint answers.
const REFUSE: u8 = 0;
const MALFORMED: u8 = 1;
const ISSUE: u8 = 2;
const INVALID_GRANT: u8 = 3;
const UNAVAILABLE: u8 = 4;

type Endpoint_ = BoxCloneSyncService<Request<Full<Bytes>>, Response<Full<Bytes>>, BoxError>;

/// A token endpoint whose answer the test switches, counting requests.
fn endpoint(mode: Arc<AtomicU8>, calls: Arc<AtomicUsize>) -> Endpoint_ {
    BoxCloneSyncService::new(tower::service_fn(move |_req: Request<Full<Bytes>>| {
        let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
        let (status, body) = match mode.load(Ordering::SeqCst) {
            REFUSE => (401, r#"{"error":"invalid_client"}"#.to_owned()),
            INVALID_GRANT => (400, r#"{"error":"invalid_grant"}"#.to_owned()),
            UNAVAILABLE => (503, r#"{"error":"temporarily_unavailable"}"#.to_owned()),
            MALFORMED => (
                200,
                r#"{"access_token":"x","token_type":"Bearer","expires_in":"soon"}"#.to_owned(),
            ),
            _ => (
                200,
                format!(
                    r#"{{"access_token":"issued-{n}","token_type":"Bearer","expires_in":3600}}"#
                ),
            ),
        };
        let response = json_response(status, body);
        std::future::ready(Ok::<_, BoxError>(response))
    }))
}

fn grants(mode: &Arc<AtomicU8>, calls: &Arc<AtomicUsize>) -> GrantClient<Endpoint_> {
    GrantClient::new(
        endpoint(mode.clone(), calls.clone()),
        Endpoint::new("https://as.example.com/token").unwrap(),
        Client::secret_basic("service", ClientSecret::new("SENTINEL-secret")),
    )
}

/// Many calls while refused, then the wait: exactly one more request per longest back-off.
async fn refused_for(
    source: &TokenSource,
    calls: &AtomicUsize,
    calls_before: usize,
    kind: TokenErrorKind,
) {
    let max_backoff = RefreshPolicy::default().max_backoff;
    for _ in 0..50 {
        assert_eq!(source.token().await.unwrap_err().kind(), kind);
    }
    assert_eq!(calls.load(Ordering::SeqCst), calls_before, "no storm");
    tokio::time::advance(max_backoff - Duration::from_secs(1)).await;
    assert_eq!(source.token().await.unwrap_err().kind(), kind);
    assert_eq!(
        calls.load(Ordering::SeqCst),
        calls_before,
        "not before the wait"
    );
    tokio::time::advance(Duration::from_secs(1)).await;
}

#[tokio::test(start_paused = true)]
async fn a_refused_first_fetch_is_asked_again_after_the_longest_backoff() {
    let (mode, calls) = (Arc::new(AtomicU8::new(REFUSE)), Arc::default());
    let source = TokenSource::builder()
        .fetcher(grants(&mode, &calls).client_credentials_fetcher(None))
        .build()
        .await
        .unwrap();
    assert_eq!(
        source.token().await.unwrap_err().kind(),
        TokenErrorKind::Configuration
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    refused_for(&source, &calls, 1, TokenErrorKind::Configuration).await;
    // Asked again (still refused), then the administrator fixes the client.
    assert_eq!(
        source.token().await.unwrap_err().kind(),
        TokenErrorKind::Configuration
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    mode.store(ISSUE, Ordering::SeqCst);
    refused_for(&source, &calls, 2, TokenErrorKind::Configuration).await;
    let token = source.token().await.unwrap();
    assert_eq!(token.access_token().secret(), "issued-3");
    assert_eq!(calls.load(Ordering::SeqCst), 3);
}

#[tokio::test(start_paused = true)]
async fn a_refused_renewal_is_asked_again_and_the_refused_token_is_not_used() {
    for refusal in [REFUSE, MALFORMED] {
        let (mode, calls) = (Arc::new(AtomicU8::new(ISSUE)), Arc::default());
        let source = TokenSource::builder()
            .fetcher(grants(&mode, &calls).client_credentials_fetcher(None))
            .build()
            .await
            .unwrap();
        assert_eq!(
            source.token().await.unwrap().access_token().secret(),
            "issued-1"
        );
        mode.store(refusal, Ordering::SeqCst);
        tokio::time::advance(Duration::from_secs(3600)).await;
        let error = source.token().await.unwrap_err();
        assert_eq!(error.kind(), TokenErrorKind::Configuration);
        assert_eq!(calls.load(Ordering::SeqCst), 2);
        refused_for(&source, &calls, 2, TokenErrorKind::Configuration).await;
        mode.store(ISSUE, Ordering::SeqCst);
        let token = source.token().await.unwrap();
        assert_eq!(token.access_token().secret(), "issued-3");
        assert_eq!(calls.load(Ordering::SeqCst), 3);
    }
}

/// A client-credentials source refused (for its client, or `invalid_grant`) asks again after
/// the longest back-off; meanwhile every request hears the refusal itself (its kind and the
/// server's code). When the request asking again fails for now (a 503), that request hears
/// the failure, and the requests during the back-off that follows hear the refusal's kind,
/// which still stands: a refused client is never told `Reauthorize` (a user must authorize
/// again: a service has none, and the server did not say `invalid_grant`). Failed before: a
/// refused client got `Reauthorize` there.
#[tokio::test(start_paused = true)]
async fn a_refused_client_whose_next_ask_fails_for_now_is_never_told_to_reauthorize() {
    for (refusal, kind, code) in [
        (REFUSE, TokenErrorKind::Configuration, "invalid_client"),
        (INVALID_GRANT, TokenErrorKind::Reauthorize, "invalid_grant"),
    ] {
        let (mode, calls) = (Arc::new(AtomicU8::new(ISSUE)), Arc::default());
        let source = TokenSource::builder()
            .fetcher(grants(&mode, &calls).client_credentials_fetcher(None))
            .build()
            .await
            .unwrap();
        source.token().await.unwrap();
        mode.store(refusal, Ordering::SeqCst);
        tokio::time::advance(Duration::from_secs(3600)).await;
        assert_eq!(source.token().await.unwrap_err().kind(), kind);
        let error = source.token().await.unwrap_err();
        assert_eq!(error.kind(), kind);
        assert_eq!(error.error_code().map(|c| c.as_str()), Some(code));
        mode.store(UNAVAILABLE, Ordering::SeqCst);
        tokio::time::advance(RefreshPolicy::default().max_backoff).await;
        let error = source.token().await.unwrap_err();
        assert_eq!(error.kind(), TokenErrorKind::Transient);
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        for _ in 0..10 {
            assert_eq!(source.token().await.unwrap_err().kind(), kind);
        }
        assert_eq!(calls.load(Ordering::SeqCst), 3, "no storm");
        // Once the server is fixed, the next ask gets a token.
        mode.store(ISSUE, Ordering::SeqCst);
        tokio::time::advance(RefreshPolicy::default().max_backoff).await;
        let token = source.token().await.unwrap();
        assert_eq!(token.access_token().secret(), "issued-4");
    }
}

/// A client-credentials request answered `invalid_grant` (as some servers answer a client
/// that may not use the grant) is asked again after the longest back-off, whether it was the
/// first fetch or a renewal: there is no user to authorize again, and a service whose client
/// is fixed at the server recovers without a restart.
#[tokio::test(start_paused = true)]
async fn a_client_credentials_invalid_grant_is_asked_again_on_renewal_as_on_the_first_fetch() {
    let (mode, calls) = (Arc::new(AtomicU8::new(INVALID_GRANT)), Arc::default());
    let source = TokenSource::builder()
        .fetcher(grants(&mode, &calls).client_credentials_fetcher(None))
        .build()
        .await
        .unwrap();
    assert_eq!(
        source.token().await.unwrap_err().kind(),
        TokenErrorKind::Reauthorize
    );
    refused_for(&source, &calls, 1, TokenErrorKind::Reauthorize).await;
    mode.store(ISSUE, Ordering::SeqCst);
    assert_eq!(
        source.token().await.unwrap().access_token().secret(),
        "issued-2"
    );

    // The renewal is refused the same way.
    mode.store(INVALID_GRANT, Ordering::SeqCst);
    tokio::time::advance(Duration::from_secs(3600)).await;
    assert_eq!(
        source.token().await.unwrap_err().kind(),
        TokenErrorKind::Reauthorize
    );
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    refused_for(&source, &calls, 3, TokenErrorKind::Reauthorize).await;
    mode.store(ISSUE, Ordering::SeqCst);
    let token = source
        .token()
        .await
        .expect("asked again after the longest back-off");
    assert_eq!(token.access_token().secret(), "issued-4");
    assert_eq!(calls.load(Ordering::SeqCst), 4);
}

/// A client-credentials source whose policy sets no limit to the back-off
/// (`max_backoff: Duration::MAX`) and whose first fetch is refused does not ask again on every
/// call: the wait used to overflow the clock and wrap round to "now".
#[tokio::test(start_paused = true)]
async fn an_unbounded_backoff_after_a_refused_first_fetch_is_no_storm() {
    let (mode, calls) = (
        Arc::new(AtomicU8::new(REFUSE)),
        Arc::<AtomicUsize>::default(),
    );
    let source = TokenSource::builder()
        .fetcher(grants(&mode, &calls).client_credentials_fetcher(None))
        .policy(RefreshPolicy::default().max_backoff(Duration::MAX))
        .build()
        .await
        .unwrap();
    for _ in 0..20 {
        assert_eq!(
            source.token().await.unwrap_err().kind(),
            TokenErrorKind::Configuration
        );
    }
    tokio::time::advance(Duration::from_secs(86_400)).await;
    assert!(source.token().await.is_err());
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "a refused client was asked again"
    );
}

/// A user grant refused for its client (`invalid_client` on a refresh) is not asked again:
/// the refresh token is the user's, and only the application can fix its configuration.
#[tokio::test(start_paused = true)]
async fn a_user_grant_refused_for_its_client_stays_refused() {
    let (mode, calls) = (
        Arc::new(AtomicU8::new(REFUSE)),
        Arc::<AtomicUsize>::default(),
    );
    let expired = Token::new(AccessToken::new("SENTINEL-old"), TokenType::Bearer)
        .with_expires_at(Some(TokioClock::new().now() - Duration::from_secs(1)))
        .with_refresh_token(Some(RefreshToken::new("SENTINEL-refresh")));
    let source = TokenSource::builder()
        .token(expired)
        .fetcher(grants(&mode, &calls).refresh_fetcher())
        .build()
        .await
        .unwrap();
    assert_eq!(
        source.token().await.unwrap_err().kind(),
        TokenErrorKind::Configuration
    );
    mode.store(ISSUE, Ordering::SeqCst);
    tokio::time::advance(Duration::from_secs(86_400)).await;
    assert_eq!(
        source.token().await.unwrap_err().kind(),
        TokenErrorKind::Configuration
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// A refused client-credentials source with a store does not look there for another
/// process's token while it waits (that is for a user grant, which only the user can renew;
/// this one renews itself after the back-off): no store reads while refused, and the token it
/// gets once the server is fixed is saved.
#[tokio::test(start_paused = true)]
async fn a_refused_client_credentials_source_does_not_read_its_store_while_it_waits() {
    use common::scripted_store::{Op, ScriptedStore};
    use tower_oauth2::store::MemoryStore;

    let (mode, calls) = (Arc::new(AtomicU8::new(INVALID_GRANT)), Arc::default());
    let store = ScriptedStore::new(MemoryStore::new());
    let source = TokenSource::builder()
        .store(store.clone())
        .fetcher(grants(&mode, &calls).client_credentials_fetcher(None))
        .build()
        .await
        .unwrap();
    assert_eq!(
        source.token().await.unwrap_err().kind(),
        TokenErrorKind::Reauthorize
    );
    let loads = store.calls(Op::Load);
    for _ in 0..20 {
        tokio::time::advance(Duration::from_secs(6)).await;
        assert_eq!(
            source.token().await.unwrap_err().kind(),
            TokenErrorKind::Reauthorize
        );
    }
    assert_eq!(store.calls(Op::Load), loads, "no look at the store");
    mode.store(ISSUE, Ordering::SeqCst);
    tokio::time::advance(RefreshPolicy::default().max_backoff).await;
    assert_eq!(
        source.token().await.unwrap().access_token().secret(),
        "issued-2"
    );
    let saved = store.inner().get().unwrap();
    assert_eq!(saved.access_token().secret(), "issued-2");
}
