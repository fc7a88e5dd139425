//! A user grant refused for good (`invalid_grant`) stays refused in this process, but another
//! process sharing the store may save a new one since (the user logged in again there): the
//! refused source looks at its store again while requests come, at most once per
//! `min_interval`, takes up such a token (refreshing it if it has expired), and never sends the
//! refused refresh token again. Before, it stayed refused until restarted.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oauth_core::oauth2::Token;
use oauth_core::secret::RefreshToken;
use tower_oauth2::TokenSource;
use tower_oauth2::source::{TokenError, TokenErrorKind};
use tower_oauth2::store::{MemoryStore, TokenStore};

mod common;
use common::scripted_store::{Action, Gate, Op, ScriptedStore};
use common::{
    Sent, access_token, bearer_expiring_in, fetcher_refusing_dead, recording_fetcher, refused, sent,
};

/// A memory store holding `token`, shared with "another process" (the test, through
/// `inner()`); its loads are counted, and can be made to hang (a database that stopped
/// answering).
fn holding(token: Token) -> ScriptedStore {
    ScriptedStore::new(MemoryStore::with_token(token))
}

fn stored_access_token(store: &ScriptedStore) -> String {
    store
        .inner()
        .get()
        .unwrap()
        .access_token()
        .secret()
        .to_owned()
}

/// A source over `store` whose token endpoint is [`fetcher_refusing_dead`].
async fn source_over(store: &ScriptedStore) -> (TokenSource, Sent) {
    let sent = Sent::default();
    let source = TokenSource::builder()
        .store(store.clone())
        .fetcher(fetcher_refusing_dead(sent.clone()))
        .build()
        .await
        .unwrap();
    (source, sent)
}

#[tokio::test(start_paused = true)]
async fn a_refused_source_takes_up_a_live_token_another_process_saved() {
    let store = holding(bearer_expiring_in("a1", "dead1", -10));
    let (source, sent_tokens) = source_over(&store).await;
    refused(&source).await;
    assert_eq!(sent(&sent_tokens), ["dead1"]);

    // The user logs in again through another process, which saves its token.
    TokenStore::save(&store, &bearer_expiring_in("a2", "r2", 3600))
        .await
        .unwrap();
    assert_eq!(access_token(&source).await, "a2");
    assert_eq!(
        sent(&sent_tokens),
        ["dead1"],
        "nothing sent: the token was live"
    );
    assert!(!source.has_unsaved_token());
    // And it is this source's token from then on (refreshed in time, say).
    // (Past its expiry: within the refresh margin the old token is used while it refreshes.)
    tokio::time::sleep(Duration::from_secs(3601)).await;
    assert_eq!(access_token(&source).await, "from-r2");
    assert_eq!(sent(&sent_tokens), ["dead1", "r2"]);
    assert_eq!(stored_access_token(&store), "from-r2");
}

#[tokio::test(start_paused = true)]
async fn an_expired_token_another_process_saved_is_refreshed_with_its_own_refresh_token() {
    let store = holding(bearer_expiring_in("a1", "dead1", -10));
    let (source, sent_tokens) = source_over(&store).await;
    refused(&source).await;
    TokenStore::save(&store, &bearer_expiring_in("a2", "r2", -10))
        .await
        .unwrap();
    assert_eq!(access_token(&source).await, "from-r2");
    assert_eq!(sent(&sent_tokens), ["dead1", "r2"]);
    assert_eq!(stored_access_token(&store), "from-r2", "saved before use");
}

#[tokio::test(start_paused = true)]
async fn with_nothing_new_in_the_store_the_refusal_stands_and_looks_are_rate_limited() {
    let store = holding(bearer_expiring_in("a1", "dead1", -10));
    let (source, sent_tokens) = source_over(&store).await;
    refused(&source).await;
    let loads = store.calls(Op::Load);
    // The first request after the refusal looks; those within min_interval (5 s) do not.
    for _ in 0..10 {
        refused(&source).await;
    }
    assert_eq!(store.calls(Op::Load), loads + 1);
    tokio::time::advance(Duration::from_secs(6)).await;
    refused(&source).await;
    refused(&source).await;
    assert_eq!(store.calls(Op::Load), loads + 2);
    assert_eq!(
        sent(&sent_tokens),
        ["dead1"],
        "the refused grant is never sent again"
    );
}

#[tokio::test(start_paused = true)]
async fn a_token_another_process_saved_that_is_refused_too_is_sent_once() {
    let store = holding(bearer_expiring_in("a1", "dead1", -10));
    let (source, sent_tokens) = source_over(&store).await;
    refused(&source).await;
    TokenStore::save(&store, &bearer_expiring_in("a2", "dead2", -10))
        .await
        .unwrap();
    refused(&source).await;
    assert_eq!(sent(&sent_tokens), ["dead1", "dead2"]);
    for _ in 0..3 {
        tokio::time::advance(Duration::from_secs(60)).await;
        refused(&source).await;
    }
    assert_eq!(sent(&sent_tokens), ["dead1", "dead2"]);
}

#[tokio::test(start_paused = true)]
async fn concurrent_requests_on_a_refused_source_make_one_look() {
    let store = holding(bearer_expiring_in("a1", "dead1", -10));
    let (source, _) = source_over(&store).await;
    refused(&source).await;
    TokenStore::save(&store, &bearer_expiring_in("a2", "r2", 3600))
        .await
        .unwrap();
    let loads = store.calls(Op::Load);
    let calls = (0..50).map(|_| {
        let source = source.clone();
        tokio::spawn(async move {
            source
                .token()
                .await
                .map(|t| t.access_token().secret().to_owned())
        })
    });
    let results = futures_results(calls).await;
    // The request that looked got the token; the others got it or the refusal, never worse.
    assert!(results.iter().any(|r| r.as_deref() == Ok("a2")));
    assert!(results.iter().all(|r| match r {
        Ok(token) => token == "a2",
        Err(kind) => *kind == TokenErrorKind::Reauthorize,
    }));
    assert_eq!(
        store.calls(Op::Load),
        loads + 2,
        "one look: a first read and one under the lock"
    );
    assert_eq!(access_token(&source).await, "a2");
}

async fn futures_results(
    calls: impl Iterator<Item = tokio::task::JoinHandle<Result<String, Arc<TokenError>>>>,
) -> Vec<Result<String, TokenErrorKind>> {
    let mut out = Vec::new();
    for call in calls {
        out.push(call.await.unwrap().map_err(|e| e.kind()));
    }
    out
}

/// A token saved to the store after the refusal may carry the refused refresh token with
/// another access token: a server that does not rotate refresh tokens, and another process's
/// refresh whose save landed late or was retried in the background after the grant was
/// revoked. Its refresh token is the refused one, and must not be sent again.
#[tokio::test(start_paused = true)]
async fn a_stored_token_carrying_the_refused_refresh_token_is_not_refreshed() {
    let store = holding(bearer_expiring_in("a1", "dead1", -10));
    let (source, sent_tokens) = source_over(&store).await;
    refused(&source).await;
    assert_eq!(sent(&sent_tokens), ["dead1"]);

    // Expired: taking it up would send `dead1` at once.
    TokenStore::save(&store, &bearer_expiring_in("a1b", "dead1", -10))
        .await
        .unwrap();
    refused(&source).await;
    // Live: taking it up would send `dead1` once it expires.
    tokio::time::advance(Duration::from_secs(6)).await;
    TokenStore::save(&store, &bearer_expiring_in("a1c", "dead1", 3600))
        .await
        .unwrap();
    let _ = source.token().await;
    tokio::time::sleep(Duration::from_secs(3601)).await;
    let _ = source.token().await;
    assert_eq!(
        sent(&sent_tokens),
        ["dead1"],
        "the refused refresh token is never sent again"
    );
}

/// The same for a refresh token refused on a look at the store (another process's token,
/// refused too): stored again with another access token, it is not sent a second time.
#[tokio::test(start_paused = true)]
async fn a_stored_token_carrying_a_refresh_token_refused_on_a_look_is_not_refreshed() {
    let store = holding(bearer_expiring_in("a1", "dead1", -10));
    let (source, sent_tokens) = source_over(&store).await;
    refused(&source).await;
    TokenStore::save(&store, &bearer_expiring_in("a2", "dead2", -10))
        .await
        .unwrap();
    refused(&source).await;
    assert_eq!(sent(&sent_tokens), ["dead1", "dead2"]);
    tokio::time::advance(Duration::from_secs(6)).await;
    TokenStore::save(&store, &bearer_expiring_in("a2b", "dead2", -10))
        .await
        .unwrap();
    refused(&source).await;
    assert_eq!(
        sent(&sent_tokens),
        ["dead1", "dead2"],
        "a refused refresh token is never sent again"
    );
}

/// Another process rotated r1 into r2 while this source could not read the store: r1 is
/// refused, the retry with the store's r2 fails for now (a 503), and the next attempt cannot
/// read the store either. It must not send the refused r1 again (a second `invalid_grant`,
/// which, with the store unreadable, declares the grant dead and tells the store so while the
/// store holds the live r2): it waits for the store, and then refreshes with r2.
#[tokio::test(start_paused = true)]
async fn a_refused_refresh_token_is_not_sent_again_when_the_store_cannot_be_read() {
    let inner = MemoryStore::with_token(bearer_expiring_in("a1", "r1", -10));
    // Build reads it; the refresh's first read fails, its re-read after the refusal works, the
    // next refresh's read fails.
    let store = ScriptedStore::new(inner.clone());
    let fail = Action::Fail("injected");
    store.next(Op::Load, [Action::Pass, fail.clone(), Action::Pass, fail]);
    let sent_tokens = Sent::default();
    let seen = sent_tokens.clone();
    let source = TokenSource::builder()
        .store(store.clone())
        .fetcher(recording_fetcher(seen, |rt, before| match rt {
            "r2" if before == 0 => Err(TokenError::new(TokenErrorKind::Transient, None)),
            "r2" => Ok(bearer_expiring_in("a3", "r3", 3600)),
            _ => Err(TokenError::new(TokenErrorKind::Reauthorize, None)),
        }))
        .build()
        .await
        .unwrap();
    // Another process rotates r1 into r2 (expired since).
    TokenStore::save(&inner, &bearer_expiring_in("a2", "r2", -10))
        .await
        .unwrap();
    assert_eq!(
        source.token().await.unwrap_err().kind(),
        TokenErrorKind::Transient
    );
    assert_eq!(sent(&sent_tokens), ["r1", "r2"]);
    tokio::time::advance(Duration::from_secs(600)).await;
    let second = source.token().await;
    tokio::time::advance(Duration::from_secs(600)).await;
    let third = source.token().await;
    assert_eq!(
        sent(&sent_tokens),
        ["r1", "r2", "r2"],
        "the refused r1 is not sent again ({:?}, {:?})",
        second.map(|t| t.access_token().secret().to_owned()),
        third.map(|t| t.access_token().secret().to_owned()),
    );
    assert_eq!(access_token(&source).await, "a3");
    assert_eq!(inner.get().unwrap().access_token().secret(), "a3");
}

/// A token endpoint with one grant whose refresh tokens rotate: `live` is the one it accepts.
#[derive(Clone, Default)]
struct RotatingServer {
    live: Arc<Mutex<Option<String>>>,
    issued: Arc<AtomicUsize>,
    /// (source, refresh token) in the order sent.
    sent: Arc<Mutex<Vec<(usize, String)>>>,
}

impl RotatingServer {
    fn fetcher(
        &self,
        id: usize,
    ) -> impl Fn(Option<&Token>) -> std::future::Ready<Result<Token, TokenError>> + Send + Sync + 'static
    {
        let server = self.clone();
        move |current: Option<&Token>| {
            let rt = current
                .and_then(|t| t.refresh_token())
                .map(|r| r.secret().to_owned())
                .unwrap_or_default();
            server.sent.lock().unwrap().push((id, rt.clone()));
            let mut live = server.live.lock().unwrap();
            std::future::ready(if live.as_deref() == Some(rt.as_str()) {
                let n = server.issued.fetch_add(1, Ordering::SeqCst) + 10;
                *live = Some(format!("r{n}"));
                Ok(bearer_expiring_in(&format!("a{n}"), &format!("r{n}"), 3600))
            } else {
                Err(TokenError::new(TokenErrorKind::Reauthorize, None))
            })
        }
    }
}

/// Three processes share a token file; the grant is revoked and each is refused. The user logs
/// in again through a fourth, whose token has expired by the time the three look: one of them
/// refreshes it (under the file's lock), the others take up its result, and nobody sends a
/// refused or rotated-away refresh token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn three_refused_processes_sharing_a_token_file_take_up_a_new_login_with_one_refresh() {
    use tower_oauth2::store::FileStore;
    let dir =
        std::env::temp_dir().join(format!("tower-oauth2-refused-three-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("token.json");
    FileStore::new(&path)
        .save(&bearer_expiring_in("a1", "dead1", -10))
        .await
        .unwrap();
    let server = RotatingServer::default();
    let mut sources = Vec::new();
    for id in 0..3 {
        let source = TokenSource::builder()
            .store(FileStore::new(&path))
            .fetcher(server.fetcher(id))
            .build()
            .await
            .unwrap();
        refused(&source).await;
        sources.push(source);
    }
    // The login through another process.
    *server.live.lock().unwrap() = Some("r2".to_owned());
    FileStore::new(&path)
        .save(&bearer_expiring_in("a2", "r2", -10))
        .await
        .unwrap();
    let calls = sources.iter().map(|source| {
        let source = source.clone();
        tokio::spawn(async move { access_token(&source).await })
    });
    let mut tokens = Vec::new();
    for call in calls {
        tokens.push(call.await.unwrap());
    }
    assert_eq!(tokens, ["a10", "a10", "a10"]);
    let sent: Vec<String> = server
        .sent
        .lock()
        .unwrap()
        .iter()
        .map(|(_, rt)| rt.clone())
        .collect();
    assert_eq!(sent, ["dead1", "dead1", "dead1", "r2"]);
    assert_eq!(
        FileStore::new(&path)
            .load()
            .await
            .unwrap()
            .unwrap()
            .access_token()
            .secret(),
        "a10"
    );
    let _ = std::fs::remove_dir_all(&dir);
}

/// `token` without its refresh token (a server that issues none).
fn without_refresh_token(token: Token) -> Token {
    token.with_refresh_token(None)
}

/// A source whose token expired with no refresh token to renew it looks at its store too (the
/// refusal is the same: authorize again), and takes up a live token another process saved
/// after the user logged in there, although that token has no refresh token either (a server
/// that issues none): it needs no refresh to be used.
#[tokio::test(start_paused = true)]
async fn an_expired_source_takes_up_a_live_token_without_a_refresh_token() {
    let store = holding(without_refresh_token(bearer_expiring_in("a1", "-", -10)));
    let (source, sent_tokens) = source_over(&store).await;
    refused(&source).await;
    TokenStore::save(
        &store,
        &without_refresh_token(bearer_expiring_in("a2", "-", 3600)),
    )
    .await
    .unwrap();
    tokio::time::advance(Duration::from_secs(6)).await;
    assert_eq!(access_token(&source).await, "a2");
    assert!(sent(&sent_tokens).is_empty(), "nothing to send");
    assert!(!source.has_unsaved_token());
}

/// The same with a refused grant: the live token another process saved, with no refresh token,
/// is taken up.
#[tokio::test(start_paused = true)]
async fn a_refused_source_takes_up_a_live_token_without_a_refresh_token() {
    let store = holding(bearer_expiring_in("a1", "dead1", -10));
    let (source, sent_tokens) = source_over(&store).await;
    refused(&source).await;
    TokenStore::save(
        &store,
        &without_refresh_token(bearer_expiring_in("a2", "-", 3600)),
    )
    .await
    .unwrap();
    assert_eq!(access_token(&source).await, "a2");
    assert_eq!(sent(&sent_tokens), ["dead1"]);
}

/// An expired token another process saved with no refresh token is not refreshed (there is
/// nothing to refresh it with) and the refusal stands.
#[tokio::test(start_paused = true)]
async fn an_expired_stored_token_without_a_refresh_token_is_not_taken_up() {
    let store = holding(bearer_expiring_in("a1", "dead1", -10));
    let (source, sent_tokens) = source_over(&store).await;
    refused(&source).await;
    TokenStore::save(
        &store,
        &without_refresh_token(bearer_expiring_in("a2", "-", -10)),
    )
    .await
    .unwrap();
    refused(&source).await;
    assert_eq!(sent(&sent_tokens), ["dead1"]);
}

/// A token in the store that this library cannot send (another program's, with a token type
/// it does not know) is not taken up by a look, and does not end the looks: the refusal
/// stands (not a configuration error of this client's), and a good token saved later is taken
/// up.
#[tokio::test(start_paused = true)]
async fn an_unsendable_stored_token_does_not_end_the_looks() {
    let store = holding(bearer_expiring_in("a1", "dead1", -10));
    let (source, sent_tokens) = source_over(&store).await;
    refused(&source).await;
    let mac = Token::new(
        oauth_core::secret::AccessToken::new("a2"),
        oauth_core::oauth2::TokenType::Other("mac".into()),
    )
    .with_refresh_token(Some(RefreshToken::new("r2")))
    .with_expires_at(bearer_expiring_in("-", "-", 3600).expires_at());
    TokenStore::save(&store, &mac).await.unwrap();
    refused(&source).await;
    tokio::time::advance(Duration::from_secs(6)).await;
    TokenStore::save(&store, &bearer_expiring_in("a3", "r3", 3600))
        .await
        .unwrap();
    assert_eq!(access_token(&source).await, "a3");
    assert_eq!(sent(&sent_tokens), ["dead1"]);
}

/// A token in the store bound to another DPoP key (another configuration's, sharing the store)
/// is not this source's to take up: it could be neither sent nor refreshed with this source's
/// key (RFC 9449 §5), and the source would hold it instead of looking on. The refusal stands,
/// and a token saved later for this key is taken up.
#[tokio::test(start_paused = true)]
async fn a_stored_token_bound_to_another_dpop_key_is_not_taken_up() {
    let store = holding(
        common::dpop_token("a1").with_expires_at(bearer_expiring_in("-", "-", -10).expires_at()),
    );
    let sent_tokens = Sent::default();
    let seen = sent_tokens.clone();
    let source = TokenSource::builder()
        .store(store.clone())
        .dpop(common::dpop_key())
        .fetcher(recording_fetcher(seen, |_, _| {
            Err(TokenError::new(TokenErrorKind::Reauthorize, None))
        }))
        .build()
        .await
        .unwrap();
    refused(&source).await;
    let elsewhere = common::dpop_token("a2")
        .with_dpop_jkt(Some("another-keys-thumbprint".into()))
        .with_expires_at(bearer_expiring_in("-", "-", 3600).expires_at());
    TokenStore::save(&store, &elsewhere).await.unwrap();
    refused(&source).await;
    tokio::time::advance(Duration::from_secs(6)).await;
    let mine =
        common::dpop_token("a3").with_expires_at(bearer_expiring_in("-", "-", 3600).expires_at());
    TokenStore::save(&store, &mine).await.unwrap();
    assert_eq!(access_token(&source).await, "a3");
    assert_eq!(sent(&sent_tokens), ["rt-a1"]);
}

/// The same at start-up: a source does not load a stored token bound to another DPoP key (or a
/// DPoP-bound one when it has no key), as it does not load one issued to another client.
/// Before, it loaded it, and every request failed with a DPoP proof error.
#[tokio::test(start_paused = true)]
async fn a_stored_token_bound_to_another_dpop_key_is_not_loaded() {
    let elsewhere = common::dpop_token("a1")
        .with_dpop_jkt(Some("another-keys-thumbprint".into()))
        .with_expires_at(bearer_expiring_in("-", "-", 3600).expires_at());
    let mine =
        common::dpop_token("a2").with_expires_at(bearer_expiring_in("-", "-", 3600).expires_at());
    for (stored, key, loaded) in [
        (&elsewhere, Some(common::dpop_key()), false),
        (&mine, Some(common::dpop_key()), true),
        (&mine, None, false),
    ] {
        let store = holding(stored.clone());
        let mut builder = TokenSource::builder().store(store.clone());
        if let Some(key) = key {
            builder = builder.dpop(key);
        }
        let source = builder.build().await.unwrap();
        assert_eq!(source.current().is_some(), loaded);
    }
}

/// Through the layer: requests on a refused source fail (nothing reaches the API) until another
/// process saves a token; the next request after that carries it, and the same service keeps
/// using it.
#[tokio::test(start_paused = true)]
async fn the_layer_sends_the_token_a_refused_source_took_up() {
    use bytes::Bytes;
    use http::Request;
    use http_body_util::Full;
    use tower::{Layer, Service, ServiceExt};
    use tower_oauth2::OAuth2Layer;

    let store = holding(bearer_expiring_in("a1", "dead1", -10));
    let (source, sent_tokens) = source_over(&store).await;
    let (api, seen) = common::recording_api(Vec::new(), common::authorization_of);
    let service = OAuth2Layer::new(source.clone(), common::API)
        .unwrap()
        .layer(api);
    let get = || {
        Request::get(format!("{}/me", common::API))
            .body(Full::<Bytes>::default())
            .unwrap()
    };
    assert!(service.clone().oneshot(get()).await.is_err());
    assert!(service.clone().oneshot(get()).await.is_err());
    assert!(seen.lock().unwrap().is_empty());
    TokenStore::save(&store, &bearer_expiring_in("a2", "r2", 3600))
        .await
        .unwrap();
    tokio::time::advance(Duration::from_secs(6)).await;
    let mut svc = service.clone();
    for _ in 0..3 {
        let response = svc.ready().await.unwrap().call(get()).await.unwrap();
        assert_eq!(response.status(), http::StatusCode::OK);
    }
    assert_eq!(
        *seen.lock().unwrap(),
        [
            Some("Bearer a2".to_owned()),
            Some("Bearer a2".to_owned()),
            Some("Bearer a2".to_owned())
        ]
    );
    assert_eq!(sent(&sent_tokens), ["dead1"]);
    assert_eq!(
        source.fetch_count(),
        2,
        "the refused refresh, and the look that found a2"
    );
}

/// `set_token` while a look at the store is in flight (its read hangs): the application's token
/// wins. It is used at once; the caller that started the look gets it too, and the look's find
/// is not installed.
#[tokio::test(start_paused = true)]
async fn set_token_during_a_look_wins_over_what_the_look_finds() {
    let store = holding(bearer_expiring_in("a1", "dead1", -10));
    let sent_tokens = Sent::default();
    let seen = sent_tokens.clone();
    let source = TokenSource::builder()
        .store(store.clone())
        .fetcher(fetcher_refusing_dead(seen))
        .build()
        .await
        .unwrap();
    refused(&source).await;
    // Another process saves a live token; this source's look hangs reading it.
    TokenStore::save(store.inner(), &bearer_expiring_in("a2", "r2", 3600))
        .await
        .unwrap();
    tokio::time::advance(Duration::from_secs(6)).await;
    let gate = Gate::default();
    store.always(Op::Load, Action::WaitFor(gate.clone()));
    let looking = tokio::spawn({
        let source = source.clone();
        async move {
            source
                .token()
                .await
                .map(|t| t.access_token().secret().to_owned())
        }
    });
    gate.entered().await;
    // The application sets a token of its own meanwhile.
    source.set_token(bearer_expiring_in("a5", "r5", 3600));
    assert_eq!(access_token(&source).await, "a5");
    gate.open();
    assert_eq!(looking.await.unwrap().as_deref().ok(), Some("a5"));
    assert_eq!(access_token(&source).await, "a5");
    assert_eq!(sent(&sent_tokens), ["dead1"]);
}

/// The application sets the same token again while its refresh is being refused (reloaded from
/// its own database, say): its refresh token is the application's to try again, and its next
/// refresh sends it once more and is refused (Reauthorize), not held back as a transient error
/// for ever.
#[tokio::test(start_paused = true)]
async fn a_token_the_application_sets_during_its_refusal_is_tried_again() {
    let store = holding(bearer_expiring_in("a1", "dead1", -10));
    let sent_tokens = Sent::default();
    let seen = sent_tokens.clone();
    let gate = Arc::new(tokio::sync::Notify::new());
    let entered = Arc::new(tokio::sync::Notify::new());
    let (gate_in, entered_in) = (gate.clone(), entered.clone());
    let source = TokenSource::builder()
        .store(store.clone())
        .fetcher(move |current: Option<&Token>| {
            let rt = current
                .and_then(|t| t.refresh_token())
                .map(|r| r.secret().to_owned())
                .unwrap_or_default();
            let first = {
                let mut seen = seen.lock().unwrap();
                seen.push(rt);
                seen.len() == 1
            };
            let (gate, entered) = (gate_in.clone(), entered_in.clone());
            async move {
                if first {
                    entered.notify_one();
                    gate.notified().await;
                }
                Err(TokenError::new(TokenErrorKind::Reauthorize, None))
            }
        })
        .build()
        .await
        .unwrap();
    let refreshing = tokio::spawn({
        let source = source.clone();
        async move { source.token().await.map(|_| ()) }
    });
    entered.notified().await;
    source.set_token(bearer_expiring_in("a1", "dead1", -10));
    gate.notify_one();
    let _ = refreshing.await.unwrap();
    tokio::time::advance(Duration::from_secs(600)).await;
    let error = source.token().await.unwrap_err();
    assert_eq!(error.kind(), TokenErrorKind::Reauthorize);
    assert_eq!(sent(&sent_tokens), ["dead1", "dead1"]);
}

/// The same once the refusal is recorded: the application sets the refused token again (it
/// reloaded it, or the user insists): `set_token` clears the refusal of the refresh token it
/// carries, so the next request sends it once more (refused again: Reauthorize), rather than
/// answer Reauthorize without asking the server.
#[tokio::test(start_paused = true)]
async fn a_refused_token_the_application_sets_again_is_tried_again() {
    let store = holding(bearer_expiring_in("a1", "dead1", -10));
    let (source, sent_tokens) = source_over(&store).await;
    refused(&source).await;
    assert_eq!(sent(&sent_tokens), ["dead1"]);
    source.set_token(bearer_expiring_in("a1", "dead1", -10));
    refused(&source).await;
    assert_eq!(sent(&sent_tokens), ["dead1", "dead1"]);
}

/// A look at a store that hangs does not hold the request that started it for the store's own
/// deadline (two minutes): past a few seconds the refusal is its answer, as before the looks
/// existed, and the look goes on by itself. Once the store answers again, a token saved there
/// is taken up.
#[tokio::test(start_paused = true)]
async fn a_request_waits_only_seconds_for_a_look_at_a_hanging_store() {
    let store = holding(bearer_expiring_in("a1", "dead1", -10));
    let (source, sent_tokens) = source_over(&store).await;
    refused(&source).await;
    store.always(Op::Load, Action::Hang);
    let started = tokio::time::Instant::now();
    refused(&source).await;
    assert!(
        started.elapsed() <= Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
    // Others meanwhile get the refusal at once.
    let started = tokio::time::Instant::now();
    refused(&source).await;
    assert_eq!(started.elapsed(), Duration::ZERO);

    store.always(Op::Load, Action::Pass);
    TokenStore::save(&store, &bearer_expiring_in("a2", "r2", 3600))
        .await
        .unwrap();
    // The hung look ends at the store's deadline; the next one finds the token.
    tokio::time::sleep(Duration::from_secs(130)).await;
    assert_eq!(access_token(&source).await, "a2");
    assert_eq!(sent(&sent_tokens), ["dead1"]);
}

/// A service started before anyone logged in (an empty store) picks up the token the login,
/// in another process, saves to the store later: it looks while requests come, as a refused
/// source does. Before, it answered `NoToken` until restarted.
#[tokio::test(start_paused = true)]
async fn a_source_started_with_an_empty_store_takes_up_a_token_saved_later() {
    let store = ScriptedStore::new(MemoryStore::new());
    let (source, sent_tokens) = source_over(&store).await;
    let error = source.token().await.unwrap_err();
    assert_eq!(error.kind(), TokenErrorKind::NoToken);

    TokenStore::save(&store, &bearer_expiring_in("a1", "r1", 3600))
        .await
        .unwrap();
    tokio::time::advance(Duration::from_secs(6)).await;
    assert_eq!(access_token(&source).await, "a1");
    assert_eq!(sent(&sent_tokens), Vec::<String>::new());
}

/// The same with an expired token saved: it is refreshed with its own refresh token, and the
/// result saved.
#[tokio::test(start_paused = true)]
async fn an_expired_token_saved_to_an_empty_store_later_is_refreshed() {
    let store = ScriptedStore::new(MemoryStore::new());
    let (source, sent_tokens) = source_over(&store).await;
    let loads = store.calls(Op::Load);
    for _ in 0..5 {
        let error = source.token().await.unwrap_err();
        assert_eq!(error.kind(), TokenErrorKind::NoToken);
    }
    assert_eq!(
        store.calls(Op::Load),
        loads + 1,
        "one look per min_interval"
    );
    TokenStore::save(&store, &bearer_expiring_in("a1", "r1", -10))
        .await
        .unwrap();
    tokio::time::advance(Duration::from_secs(6)).await;
    assert_eq!(access_token(&source).await, "from-r1");
    assert_eq!(sent(&sent_tokens), ["r1"]);
    assert_eq!(stored_access_token(&store), "from-r1");
}

/// The same when the token endpoint's answer carries no refresh token (a server that does not
/// rotate them): the stored token's refresh token is kept (RFC 6749 §6), in memory and in the
/// store, as it is for a source that had a token. Before, the source that started with an
/// empty store dropped it, so at the new token's expiry the live grant read as ended.
#[tokio::test(start_paused = true)]
async fn a_refresh_of_a_token_taken_up_from_an_empty_start_keeps_its_refresh_token() {
    let store = ScriptedStore::new(MemoryStore::new());
    let source = TokenSource::builder()
        .store(store.clone())
        .fetcher(|_: Option<&Token>| async {
            Ok::<_, TokenError>(without_refresh_token(bearer_expiring_in(
                "a2", "unused", 3600,
            )))
        })
        .build()
        .await
        .unwrap();
    assert_eq!(
        source.token().await.unwrap_err().kind(),
        TokenErrorKind::NoToken
    );
    TokenStore::save(&store, &bearer_expiring_in("a1", "r1", -10))
        .await
        .unwrap();
    tokio::time::advance(Duration::from_secs(6)).await;
    assert_eq!(access_token(&source).await, "a2");
    let current = source.current().unwrap();
    assert_eq!(current.refresh_token().unwrap().secret(), "r1");
    let stored = store.inner().get().unwrap();
    assert_eq!(stored.refresh_token().unwrap().secret(), "r1");
}

/// A look that finds another process's expired token but cannot refresh it because the token
/// endpoint is down reports the outage (`Transient`: try again later), not the old refusal
/// (which would send the user to log in again for nothing); once the endpoint answers, the
/// stored token's grant is refreshed and used.
#[tokio::test(start_paused = true)]
async fn a_look_whose_refresh_meets_an_outage_reports_the_outage() {
    let store = holding(bearer_expiring_in("a1", "dead1", -10));
    let sent_tokens = Sent::default();
    let down = Arc::new(std::sync::atomic::AtomicBool::new(true));
    let endpoint_down = down.clone();
    let source = TokenSource::builder()
        .store(store.clone())
        .fetcher(recording_fetcher(sent_tokens.clone(), move |rt, _| {
            if rt.starts_with("dead") {
                return Err(TokenError::new(TokenErrorKind::Reauthorize, None));
            }
            if endpoint_down.load(Ordering::SeqCst) {
                return Err(TokenError::new(TokenErrorKind::Transient, None));
            }
            Ok(bearer_expiring_in(&format!("from-{rt}"), "next", 3600))
        }))
        .build()
        .await
        .unwrap();
    refused(&source).await;
    TokenStore::save(&store, &bearer_expiring_in("a2", "r2", -10))
        .await
        .unwrap();
    let error = source.token().await.unwrap_err();
    assert_eq!(error.kind(), TokenErrorKind::Transient);
    assert_eq!(sent(&sent_tokens), ["dead1", "r2"]);

    down.store(false, Ordering::SeqCst);
    tokio::time::advance(Duration::from_secs(60)).await;
    assert_eq!(access_token(&source).await, "from-r2");
    assert_eq!(stored_access_token(&store), "from-r2");
}

/// The refusal a look leaves standing is the server's own, cause and all (what it said is what
/// the application logs), not a bare "reauthorize".
#[tokio::test(start_paused = true)]
async fn a_look_that_finds_nothing_keeps_the_refusal_and_its_cause() {
    let store = holding(bearer_expiring_in("a1", "dead1", -10));
    let source = TokenSource::builder()
        .store(store.clone())
        .fetcher(|_: Option<&Token>| async {
            Err::<Token, _>(TokenError::new(
                TokenErrorKind::Reauthorize,
                Some("the user revoked the grant".into()),
            ))
        })
        .build()
        .await
        .unwrap();
    let cause = |error: &TokenError| std::error::Error::source(error).map(ToString::to_string);
    let error = source.token().await.unwrap_err();
    assert_eq!(cause(&error).as_deref(), Some("the user revoked the grant"));
    let loads = store.calls(Op::Load);
    tokio::time::advance(Duration::from_secs(6)).await;
    let error = source.token().await.unwrap_err();
    assert_eq!(store.calls(Op::Load), loads + 1, "a look was made");
    assert_eq!(error.kind(), TokenErrorKind::Reauthorize);
    assert_eq!(cause(&error).as_deref(), Some("the user revoked the grant"));
}
