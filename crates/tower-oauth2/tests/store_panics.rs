//! A token store is the application's code; a panic in it (a database driver's, an `unwrap`)
//! is a failed store call, never an unwind through the refresh: the token the server just
//! issued (and rotated the refresh token for) stays in use, and the next refresh presents the
//! new refresh token. Panics while making the store's future and while polling it are both
//! caught, for every store call a source makes.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::{BodyExt, Full};
use oauth_core::clock::Clock;
use oauth_core::oauth2::{Client, Endpoint, Token, TokenType};
use oauth_core::secret::{AccessToken, ClientSecret, RefreshToken};
use tower::BoxError;
use tower::util::BoxCloneSyncService;
use tower_oauth2::clock::TokioClock;
use tower_oauth2::store::MemoryStore;
use tower_oauth2::{GrantClient, TokenErrorKind, TokenSource};

mod common;
use common::json_response;
use common::scripted_store::{Action, Op, ScriptedStore};

type TokenEndpoint = BoxCloneSyncService<Request<Full<Bytes>>, Response<Full<Bytes>>, BoxError>;

/// A token endpoint that rotates: response n carries `at-n` and `rt-n`. Records the bodies.
fn rotating(bodies: Arc<Mutex<Vec<String>>>) -> TokenEndpoint {
    let calls = Arc::new(AtomicUsize::new(0));
    BoxCloneSyncService::new(tower::service_fn(move |req: Request<Full<Bytes>>| {
        let n = calls.fetch_add(1, Ordering::SeqCst) + 1;
        let bodies = bodies.clone();
        async move {
            let body = req.into_body().collect().await.unwrap().to_bytes();
            bodies
                .lock()
                .unwrap()
                .push(String::from_utf8(body.to_vec()).unwrap());
            let json = format!(
                r#"{{"access_token":"at-{n}","token_type":"Bearer","expires_in":3600,"refresh_token":"rt-{n}"}}"#
            );
            Ok::<_, BoxError>(json_response(200, json))
        }
    }))
}

fn expired() -> Token {
    Token::new(AccessToken::new("at-0"), TokenType::Bearer)
        .with_expires_at(Some(TokioClock::new().now() - Duration::from_secs(1)))
        .with_refresh_token(Some(RefreshToken::new("rt-0")))
}

/// A source over `store` with the expired token given, refreshing at the rotating endpoint.
async fn source(store: ScriptedStore, bodies: &Arc<Mutex<Vec<String>>>) -> TokenSource {
    source_with(store, Some(expired()), bodies).await.unwrap()
}

async fn source_with(
    store: ScriptedStore,
    token: Option<Token>,
    bodies: &Arc<Mutex<Vec<String>>>,
) -> Result<TokenSource, tower_oauth2::TokenError> {
    let grants = GrantClient::new(
        rotating(bodies.clone()),
        Endpoint::new("https://as.example.com/token").unwrap(),
        Client::secret_basic("app", ClientSecret::new("SENTINEL-secret")),
    );
    let mut builder = TokenSource::builder()
        .store(store)
        .fetcher(grants.refresh_fetcher());
    if let Some(token) = token {
        builder = builder.token(token);
    }
    builder.build().await
}

/// A memory store (taking its refresh lock) whose `ops` panic `how`: [`Action::PanicOnCall`]
/// when the call is made (before a future exists), [`Action::PanicOnPoll`] when its future is
/// polled.
fn store(how: &Action, ops: &[Op]) -> ScriptedStore {
    let store = ScriptedStore::new(MemoryStore::new());
    store.always(Op::LockRefresh, Action::Pass);
    for op in ops {
        store.always(*op, how.clone());
    }
    store
}

#[tokio::test(start_paused = true)]
async fn a_store_that_panics_on_save_does_not_lose_the_rotated_token() {
    for how in [Action::PanicOnCall, Action::PanicOnPoll] {
        let bodies = Arc::default();
        let s = store(&how, &[Op::Save]);
        // (Its save of the given token at build panics too: logged, the token used all the
        // same.)
        let source = source(s, &bodies).await;
        let token = source.token().await.unwrap();
        assert_eq!(token.access_token().secret(), "at-1", "{how:?}");
        let current = source.current().unwrap();
        assert_eq!(current.refresh_token().unwrap().secret(), "rt-1", "{how:?}");
        // The next refresh presents the rotated refresh token, not the spent one.
        tokio::time::advance(Duration::from_secs(3600)).await;
        assert_eq!(
            source.token().await.unwrap().access_token().secret(),
            "at-2"
        );
        let sent = bodies.lock().unwrap();
        assert!(sent[0].contains("refresh_token=rt-0"), "{sent:?}");
        assert!(sent[1].contains("refresh_token=rt-1"), "{how:?}: {sent:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_store_that_panics_on_lock_or_load_is_a_failed_call() {
    for how in [Action::PanicOnCall, Action::PanicOnPoll] {
        // lock_refresh panics: the refresh goes on without the lock.
        let bodies = Arc::default();
        let s = store(&how, &[Op::LockRefresh]);
        let source = source(s, &bodies).await;
        assert_eq!(
            source.token().await.unwrap().access_token().secret(),
            "at-1"
        );
        // load panics at build: with a token given, it is used (and saved over the store).
        let s = store(&how, &[Op::Load]);
        let source = source_with(s, Some(expired()), &bodies).await.unwrap();
        assert!(source.token().await.is_ok());
        // Without one, the build fails with a store error, not a panic.
        let s = store(&how, &[Op::Load]);
        let error = source_with(s, None, &bodies).await.unwrap_err();
        assert_eq!(error.kind(), TokenErrorKind::Store);
    }
}

/// A save that fails (here: panics) is visible to the application, not only in the log: the
/// token in use is not in the store until a later save succeeds.
#[tokio::test(start_paused = true)]
async fn a_failed_save_is_reported_until_a_later_one_succeeds() {
    let bodies = Arc::default();
    let s = store(&Action::PanicOnPoll, &[Op::Save]);
    let source = source(s, &bodies).await;
    assert!(
        source.has_unsaved_token(),
        "the given token's save at build failed"
    );
    source.token().await.unwrap();
    assert!(
        source.has_unsaved_token(),
        "the refreshed token's save failed"
    );
    // A store that works: saving clears it.
    let source = self::source(store(&Action::PanicOnPoll, &[]), &bodies).await;
    assert!(!source.has_unsaved_token());
    source.token().await.unwrap();
    assert!(!source.has_unsaved_token());
    // `set_token` does not save: the token in use is not in the store (it used to report the
    // state of the token it replaced), until `replace_token` saves one.
    let token = source.current().unwrap();
    source.set_token(token.clone());
    assert!(source.has_unsaved_token());
    source.replace_token(token.clone()).await.unwrap();
    assert!(!source.has_unsaved_token());
    // With no store there is nothing to save to.
    let storeless = TokenSource::from_token(token.clone());
    storeless.set_token(token);
    assert!(!storeless.has_unsaved_token());
}
