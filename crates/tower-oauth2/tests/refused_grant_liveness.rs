//! A source whose refresh token was refused must end either with a token or with
//! `Reauthorize` (the application's cue to log the user in again): never answer `Transient` for
//! ever while the store it can read holds a token to try.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oauth_core::oauth2::Token;
use oauth_core::secret::RefreshToken;
use tower_oauth2::TokenSource;
use tower_oauth2::source::{TokenError, TokenErrorKind};
use tower_oauth2::store::{MemoryStore, StoreError, StoreFuture, TokenStore};

mod common;
use common::bearer_expiring_in;

/// A memory store whose loads and saves (this source's) fail as scripted (`true`: fail), then
/// succeed; saves fail for ever once `saves_fail` is set.
#[derive(Clone, Default)]
struct Scripted {
    inner: MemoryStore,
    loads: Arc<Mutex<VecDeque<bool>>>,
    saves_fail: Arc<std::sync::atomic::AtomicBool>,
}

fn injected(operation: &'static str) -> StoreError {
    StoreError::new(operation, Some("injected".into()))
}

impl TokenStore for Scripted {
    fn load(&self) -> StoreFuture<'_, Option<Token>> {
        if self.loads.lock().unwrap().pop_front() == Some(true) {
            return Box::pin(async { Err(injected("load")) });
        }
        self.inner.load()
    }

    fn save<'a>(&'a self, token: &'a Token) -> StoreFuture<'a, ()> {
        if self.saves_fail.load(std::sync::atomic::Ordering::SeqCst) {
            return Box::pin(async { Err(injected("save")) });
        }
        self.inner.save(token)
    }

    fn compare_and_swap<'a>(
        &'a self,
        expected: Option<&'a RefreshToken>,
        token: &'a Token,
    ) -> StoreFuture<'a, bool> {
        self.inner.compare_and_swap(expected, token)
    }
}

type Sent = Arc<Mutex<Vec<String>>>;

fn refresh_token_of(current: Option<&Token>) -> String {
    current
        .and_then(|t| t.refresh_token())
        .map(|r| r.secret().to_owned())
        .unwrap_or_default()
}

/// The store could not be read at start-up (the given token is used) nor written (the token is
/// saved again in the background); meanwhile another process rotated r1 into r2 and saved it.
/// r1 is refused, the retry with r2 fails for now. The background save must not then write the
/// token carrying the refused r1 over the store's r2: a dead token, and the other process's
/// live grant lost from the store.
#[tokio::test(start_paused = true)]
async fn a_token_whose_refresh_token_was_refused_is_not_saved_again_over_the_store() {
    let store = Scripted {
        loads: Arc::new(Mutex::new([true].into())),
        ..Scripted::default()
    };
    store
        .saves_fail
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let sent = Sent::default();
    let seen = sent.clone();
    let source = TokenSource::builder()
        .token(bearer_expiring_in("a1", "r1", -10))
        .store(store.clone())
        .fetcher(move |current: Option<&Token>| {
            let rt = refresh_token_of(current);
            seen.lock().unwrap().push(rt.clone());
            async move {
                match rt.as_str() {
                    "r2" => Err(TokenError::new(TokenErrorKind::Transient, None)),
                    _ => Err(TokenError::new(TokenErrorKind::Reauthorize, None)),
                }
            }
        })
        .build()
        .await
        .unwrap();
    assert!(source.has_unsaved_token());
    store
        .saves_fail
        .store(false, std::sync::atomic::Ordering::SeqCst);
    TokenStore::save(&store.inner, &bearer_expiring_in("a2", "r2", -10))
        .await
        .unwrap();
    assert_eq!(
        source.token().await.unwrap_err().kind(),
        TokenErrorKind::Transient
    );
    assert_eq!(*sent.lock().unwrap(), ["r1", "r2"]);
    // The background saves' back-off passes.
    for _ in 0..10 {
        tokio::time::advance(Duration::from_secs(60)).await;
        tokio::task::yield_now().await;
    }
    assert_eq!(
        store.inner.get().unwrap().refresh_token().unwrap().secret(),
        "r2"
    );
}

/// The store could not be read at start-up (the given token is used) nor written since, then
/// recovers; meanwhile another process rotated r1 into r2. r1 is refused, the retry with the
/// store's r2 fails for now (a 503). The next attempts, with the store readable again, must try
/// r2 again (and get a token), not answer "waiting to read the token store" for ever: the source
/// had never accounted for the store's token, so it did not see r2 as another process's.
#[tokio::test(start_paused = true)]
async fn a_refused_refresh_token_waits_for_the_store_only_while_it_cannot_be_read() {
    let store = Scripted {
        loads: Arc::new(Mutex::new([true].into())),
        ..Scripted::default()
    };
    store
        .saves_fail
        .store(true, std::sync::atomic::Ordering::SeqCst);
    let sent = Sent::default();
    let seen = sent.clone();
    let source = TokenSource::builder()
        .token(bearer_expiring_in("a1", "r1", -10))
        .store(store.clone())
        .fetcher(move |current: Option<&Token>| {
            let rt = refresh_token_of(current);
            let r2_before = {
                let mut seen = seen.lock().unwrap();
                let before = seen.iter().filter(|s| *s == "r2").count();
                seen.push(rt.clone());
                before
            };
            async move {
                match rt.as_str() {
                    "r2" if r2_before == 0 => Err(TokenError::new(TokenErrorKind::Transient, None)),
                    "r2" => Ok(bearer_expiring_in("a3", "r3", 3600)),
                    _ => Err(TokenError::new(TokenErrorKind::Reauthorize, None)),
                }
            }
        })
        .build()
        .await
        .unwrap();
    // The store works again; another process rotated r1 into r2 (expired since).
    store
        .saves_fail
        .store(false, std::sync::atomic::Ordering::SeqCst);
    TokenStore::save(&store.inner, &bearer_expiring_in("a2", "r2", -10))
        .await
        .unwrap();
    assert_eq!(
        source.token().await.unwrap_err().kind(),
        TokenErrorKind::Transient
    );
    assert_eq!(*sent.lock().unwrap(), ["r1", "r2"]);
    let mut answers = Vec::new();
    for _ in 0..3 {
        tokio::time::advance(Duration::from_secs(600)).await;
        answers.push(
            source
                .token()
                .await
                .map(|t| t.access_token().secret().to_owned())
                .map_err(|e| e.kind()),
        );
    }
    assert_eq!(
        *sent.lock().unwrap(),
        ["r1", "r2", "r2"],
        "answers: {answers:?}"
    );
    assert_eq!(answers.last().unwrap().as_deref(), Ok("a3"));
    assert_eq!(store.inner.get().unwrap().access_token().secret(), "a3");
}
