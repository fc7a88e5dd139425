//! Token sources sharing a store with another process: what the source accounts for as the
//! store's token must move with the refresh token it spends (review 13; each test failed
//! before the fix).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use oauth_core::clock::Clock;
use oauth_core::oauth2::{Token, TokenType};
use oauth_core::secret::AccessToken;
use tower_oauth2::TokenSource;
use tower_oauth2::clock::TokioClock;
use tower_oauth2::source::{TokenError, TokenErrorKind};
use tower_oauth2::store::{MemoryStore, TokenStore};

mod common;
use common::scripted_store::{Action, Op, ScriptedStore};
use common::{Sent, bearer_expiring_in, recording_fetcher, sent as sent_tokens};

/// A token source whose store another process has rotated (r1 -> r2, and r2's access token
/// has since expired too) picks r2 up for its refresh. If that refresh fails transiently, the
/// next attempt must still use r2: the source must never go back to the rotated-away r1, which
/// a server with refresh-token reuse detection (RFC 9700 §4.14.2) answers by revoking the
/// whole grant, r2 included.
#[tokio::test(start_paused = true)]
async fn a_transient_failure_after_adopting_the_stored_token_never_spends_the_rotated_away_refresh_token()
 {
    let store = MemoryStore::with_token(bearer_expiring_in("a1", "r1", -10));
    let sent: Arc<Mutex<Vec<String>>> = Arc::default();
    let revoked = Arc::new(AtomicBool::new(false));
    let (log, family_revoked) = (sent.clone(), revoked.clone());
    let source = TokenSource::builder()
        .store(store.clone())
        .fetcher(move |current: Option<&Token>| {
            let rt = current
                .and_then(|t| t.refresh_token())
                .map(|r| r.secret().to_owned())
                .unwrap_or_default();
            let first = {
                let mut log = log.lock().unwrap();
                log.push(rt.clone());
                log.len() == 1
            };
            let family_revoked = family_revoked.clone();
            async move {
                if first {
                    // A network blip / 503 on the first refresh.
                    return Err(TokenError::new(TokenErrorKind::Transient, None));
                }
                if rt == "r1" {
                    // Reuse of a rotated-away refresh token: the server revokes the family.
                    family_revoked.store(true, Ordering::SeqCst);
                    return Err(TokenError::new(TokenErrorKind::Reauthorize, None));
                }
                if rt == "r2" && !family_revoked.load(Ordering::SeqCst) {
                    return Ok(bearer_expiring_in("a3", "r3", 3600));
                }
                Err(TokenError::new(TokenErrorKind::Reauthorize, None))
            }
        })
        .build()
        .await
        .unwrap();

    // Another process sharing the store rotated r1 -> r2 and exited; its token expired since.
    store
        .save(&bearer_expiring_in("a2", "r2", -5))
        .await
        .unwrap();

    let first = source.token().await.unwrap_err();
    assert_eq!(first.kind(), TokenErrorKind::Transient);
    assert_eq!(
        *sent.lock().unwrap(),
        ["r2"],
        "the first refresh uses the stored r2"
    );

    // After the back-off, the refresh is tried again.
    tokio::time::advance(Duration::from_secs(30)).await;
    let second = source.token().await;
    let sent = sent.lock().unwrap().clone();
    assert!(
        !sent[1..].contains(&"r1".to_owned()),
        "the rotated-away refresh token r1 was sent again after the store held r2: {sent:?}"
    );
    assert_eq!(
        second
            .expect("the grant survives one transient failure")
            .access_token()
            .secret(),
        "a3"
    );
}

/// Two token sources sharing a store (two processes sharing a `FileStore`, or two parts of one
/// program sharing a `MemoryStore`), both holding the same expired token. The store docs say
/// they refresh one at a time "and each one that waited takes the token the other saved
/// instead of spending the same refresh token again". With a server that does not rotate
/// refresh tokens (RFC 6749 §6: the response carries none, the old one is kept), the second
/// source ignores the fresh token the first saved and refreshes again.
#[tokio::test(start_paused = true)]
async fn a_source_that_waited_for_anothers_refresh_takes_its_token_when_the_refresh_token_did_not_rotate()
 {
    let store = MemoryStore::with_token(bearer_expiring_in("a1", "r1", -10));
    let calls = Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let build = |n: usize| {
        let (store, calls) = (store.clone(), calls.clone());
        async move {
            TokenSource::builder()
                .store(store)
                .fetcher(move |_: Option<&Token>| {
                    calls.fetch_add(1, Ordering::SeqCst);
                    async move {
                        tokio::time::sleep(Duration::from_millis(100)).await;
                        // No refresh_token in the response: the old one is kept.
                        Ok::<_, TokenError>(
                            Token::new(AccessToken::new(format!("new-{n}")), TokenType::Bearer)
                                .with_expires_at(Some(
                                    TokioClock::new().now() + Duration::from_secs(3600),
                                )),
                        )
                    }
                })
                .build()
                .await
                .unwrap()
        }
    };
    let (one, two) = (build(1).await, build(2).await);
    let (a, b) = tokio::join!(one.token(), two.token());
    let (a, b) = (a.unwrap(), b.unwrap());
    assert_eq!(
        calls.load(Ordering::SeqCst),
        1,
        "the source that waited for the other's refresh refreshed again (tokens: {} and {})",
        a.access_token().secret(),
        b.access_token().secret()
    );
}

/// `invalid_grant` because another process rotated r1 -> r2 and stored it: the source re-reads
/// the store and refreshes with r2 (good), getting r3; saving r3 fails. The store still holds
/// the other process's token with r2, which this source has now spent. A later refresh must
/// use r3, never switch to the stored token whose refresh token r2 is already spent (with
/// reuse detection, spending r2 again revokes the grant).
#[tokio::test(start_paused = true)]
async fn a_source_never_adopts_a_stored_token_whose_refresh_token_it_already_spent() {
    let memory = MemoryStore::with_token(bearer_expiring_in("a1", "r1", -10));
    // Its next save fails when told to (a full disk, a database blip).
    let store = ScriptedStore::new(memory.clone());
    let flaky = store.clone();
    let sent: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = sent.clone();
    let source = TokenSource::builder()
        .store(store)
        .fetcher(move |current: Option<&Token>| {
            let rt = current
                .and_then(|t| t.refresh_token())
                .map(|r| r.secret().to_owned())
                .unwrap_or_default();
            log.lock().unwrap().push(rt.clone());
            let (memory, flaky) = (memory.clone(), flaky.clone());
            async move {
                match rt.as_str() {
                    "r1" => {
                        // Meanwhile another process rotated r1 -> r2 and saved its token.
                        memory
                            .save(&bearer_expiring_in("a2", "r2", 3600))
                            .await
                            .unwrap();
                        flaky.next(Op::Save, [Action::Fail("disk full")]);
                        Err(TokenError::new(TokenErrorKind::Reauthorize, None))
                    }
                    "r2" => Ok(bearer_expiring_in("a3", "r3", 3600)),
                    "r3" => Ok(bearer_expiring_in("a4", "r4", 3600)),
                    _ => Err(TokenError::new(TokenErrorKind::Reauthorize, None)),
                }
            }
        })
        .build()
        .await
        .unwrap();

    let first = source.token().await.unwrap();
    assert_eq!(first.access_token().secret(), "a3");
    assert!(source.has_unsaved_token(), "the save of r3 failed");

    // Later (the 401 of a resource server, say), a refresh.
    tokio::time::advance(Duration::from_secs(30)).await;
    let next = source.refresh().await.unwrap();
    assert_ne!(
        next.refresh_token().unwrap().secret(),
        "r2",
        "the source switched to the stored token whose refresh token r2 it already spent \
         (refresh tokens sent: {:?})",
        sent.lock().unwrap()
    );
}

/// The source refreshes r1 -> r2 and saving r2 fails, so the store still holds r1, which this
/// source has spent. A later refresh with r2 is answered `invalid_grant`: re-reading the store
/// (in case another process rotated the refresh token) finds r1, which no other process wrote:
/// it is the token this source refreshed away. Sending r1 again is a reuse of a rotated
/// refresh token (RFC 9700 §4.14.2); the refusal of r2 is final.
#[tokio::test(start_paused = true)]
async fn invalid_grant_never_retries_with_the_refresh_token_whose_save_failed_to_replace() {
    let memory = MemoryStore::with_token(bearer_expiring_in("a1", "r1", -10));
    // Its next save fails when told to (a full disk, a database blip).
    let store = ScriptedStore::new(memory.clone());
    let flaky = store.clone();
    let sent: Arc<Mutex<Vec<String>>> = Arc::default();
    let log = sent.clone();
    let source = TokenSource::builder()
        .store(store)
        .fetcher(move |current: Option<&Token>| {
            let rt = current
                .and_then(|t| t.refresh_token())
                .map(|r| r.secret().to_owned())
                .unwrap_or_default();
            let first = {
                let mut log = log.lock().unwrap();
                log.push(rt.clone());
                log.len() == 1
            };
            let flaky = flaky.clone();
            async move {
                if first && rt == "r1" {
                    // The disk fills up just as r2 arrives.
                    flaky.next(Op::Save, [Action::Fail("disk full")]);
                    return Ok(bearer_expiring_in("a2", "r2", 3600));
                }
                Err(TokenError::new(TokenErrorKind::Reauthorize, None))
            }
        })
        .build()
        .await
        .unwrap();

    let first = source.token().await.unwrap();
    assert_eq!(first.refresh_token().unwrap().secret(), "r2");
    assert!(source.has_unsaved_token(), "the save of r2 failed");
    assert_eq!(
        memory.get().unwrap().refresh_token().unwrap().secret(),
        "r1"
    );

    // Later (a 401 from a resource server, say), r2 is refused.
    tokio::time::advance(Duration::from_secs(30)).await;
    let refused = source.refresh().await.unwrap_err();
    assert_eq!(refused.kind(), TokenErrorKind::Reauthorize);
    assert_eq!(
        *sent.lock().unwrap(),
        ["r1", "r2"],
        "the refresh token r1, spent by this source, was sent again"
    );
}

/// A source whose save failed (`has_unsaved_token`) and that then takes up the token another
/// process stored (still valid, so nothing is fetched) uses a token that is in the store: it no
/// longer reports an unsaved one.
#[tokio::test(start_paused = true)]
async fn a_source_that_takes_up_the_stored_token_has_no_unsaved_token() {
    let memory = MemoryStore::with_token(bearer_expiring_in("a1", "r1", -10));
    // Its next save fails (a full disk, a database blip).
    let store = ScriptedStore::new(memory.clone());
    store.next(Op::Save, [Action::Fail("disk full")]);
    let source = TokenSource::builder()
        .store(store)
        .fetcher(|_: Option<&Token>| async {
            Ok::<_, TokenError>(bearer_expiring_in("a2", "r2", 10))
        })
        .build()
        .await
        .unwrap();
    assert_eq!(source.token().await.unwrap().access_token().secret(), "a2");
    assert!(source.has_unsaved_token(), "the save of a2 failed");

    // Another process stores a token of its own; ours reaches its refresh margin.
    memory
        .save(&bearer_expiring_in("a3", "r3", 3600))
        .await
        .unwrap();
    tokio::time::advance(Duration::from_secs(11)).await;
    let token = source.token().await.unwrap();
    assert_eq!(
        token.access_token().secret(),
        "a3",
        "the stored token is taken up"
    );
    assert_eq!(source.fetch_count(), 2);
    assert!(
        !source.has_unsaved_token(),
        "the token in use is the store's, yet the source says it is unsaved"
    );
}

/// A token endpoint ([`recording_fetcher`]) that refuses r1 (`invalid_grant`) and answers
/// any other refresh token `rt` with `from-rt`.
fn refusing_r1(sent: &Sent) -> impl tower_oauth2::source::TokenFetcher {
    recording_fetcher(sent.clone(), |rt, _| {
        if rt == "r1" {
            return Err(TokenError::new(TokenErrorKind::Reauthorize, None));
        }
        Ok(bearer_expiring_in(&format!("from-{rt}"), "next", 3600))
    })
}

/// A live token with no refresh token that another program saved over a refreshing source's
/// token is not taken up in its place: it could not be refreshed, and taking it would drop the
/// source's own refresh token, and with it the grant, at the stored token's expiry. The source
/// refreshes with its own (only a look after a refused grant, with nothing else left, takes
/// such a token up).
#[tokio::test(start_paused = true)]
async fn a_stored_token_without_a_refresh_token_does_not_replace_a_refreshable_one() {
    let store = MemoryStore::with_token(bearer_expiring_in("a1", "r1", -10));
    let sent = Sent::default();
    let source = TokenSource::builder()
        .store(store.clone())
        .fetcher(recording_fetcher(sent.clone(), |rt, _| {
            Ok(bearer_expiring_in(&format!("from-{rt}"), "r2", 3600))
        }))
        .build()
        .await
        .unwrap();
    let live_without_refresh = bearer_expiring_in("x1", "unused", 3600).with_refresh_token(None);
    TokenStore::save(&store, &live_without_refresh)
        .await
        .unwrap();
    let token = source.token().await.unwrap();
    assert_eq!(token.access_token().secret(), "from-r1");
    assert_eq!(sent_tokens(&sent), ["r1"]);
    assert_eq!(
        source.current().unwrap().refresh_token().unwrap().secret(),
        "r2"
    );
}

/// On `invalid_grant` the source re-reads its store once for a refresh token another process
/// rotated in, but the token it read there itself (at build) is no such token: when the
/// application's own token (`set_token`) is refused, the store's older one is not sent in its
/// place, and the refusal stands.
#[tokio::test(start_paused = true)]
async fn a_refused_set_token_does_not_fall_back_to_the_token_read_from_the_store_at_build() {
    let store = MemoryStore::with_token(bearer_expiring_in("a0", "r0", 3600));
    let sent = Sent::default();
    let source = TokenSource::builder()
        .store(store.clone())
        .fetcher(refusing_r1(&sent))
        .build()
        .await
        .unwrap();
    source.set_token(bearer_expiring_in("a1", "r1", -10));
    let error = source.token().await.unwrap_err();
    assert_eq!(error.kind(), TokenErrorKind::Reauthorize);
    assert_eq!(sent_tokens(&sent), ["r1"], "r0 is not sent");
}

/// After `invalid_grant` the source re-reads its store for a rotated refresh token; when the
/// application replaced the token (`set_token`) during that read, the retry is not made: its
/// result would be dropped for the application's token, and the stored refresh token, another
/// process's live grant, spent (and with rotation, lost) for nothing.
#[tokio::test(start_paused = true)]
async fn a_token_set_during_the_re_read_after_a_refusal_stops_the_retry() {
    use common::scripted_store::Gate;

    let store = ScriptedStore::new(MemoryStore::with_token(bearer_expiring_in("a1", "r1", -10)));
    let sent = Sent::default();
    let source = TokenSource::builder()
        .store(store.clone())
        .fetcher(refusing_r1(&sent))
        .build()
        .await
        .unwrap();
    let gate = Gate::default();
    // The look before the refresh passes; the re-read after the refusal waits at the gate.
    store.next(Op::Load, [Action::Pass, Action::WaitFor(gate.clone())]);
    let entered = gate.entered();
    let waiting = tokio::spawn({
        let source = source.clone();
        async move { source.token().await }
    });
    entered.await;
    // Another process rotated r1 to r2 a moment ago; the application sets its own token.
    TokenStore::save(store.inner(), &bearer_expiring_in("a2", "r2", -10))
        .await
        .unwrap();
    source.set_token(bearer_expiring_in("app", "q1", 3600));
    gate.open();
    let _ = waiting.await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(sent_tokens(&sent), ["r1"], "r2 is not spent");
    let stored = store.inner().get().unwrap();
    assert_eq!(stored.refresh_token().unwrap().secret(), "r2");
    assert_eq!(source.current().unwrap().access_token().secret(), "app");
}
