//! A token whose save failed is saved again in the background (`TokenSource::has_unsaved_token`):
//! after a refresh the server may have rotated the old refresh token away, so until the new
//! token reaches the store a process that stops loses the grant. The tests of the retries
//! failed before they existed (the token stayed unsaved until the next refresh, an hour
//! later); the others pin where the retries stop.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::atomic::AtomicBool;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Condvar, Mutex};
use std::time::Duration;

use oauth_core::oauth2::{RefreshPolicy, Token};
use oauth_core::secret::RefreshToken;
use tower_oauth2::TokenSource;
use tower_oauth2::source::TokenError;
use tower_oauth2::store::{MemoryStore, RefreshLock, StoreError, StoreFuture, TokenStore};

mod common;
use common::bearer_expiring_in;
use common::scripted_store::{Action, Op, ScriptedStore};

/// A memory store holding `token` whose next `failing` writes fail (a full disk, a database
/// fail-over): the first is a save (a refresh's, or `replace_token`'s), the others the
/// background retries' compare-and-swap.
fn failing_saves(token: Token, failing: usize) -> ScriptedStore {
    let store = ScriptedStore::new(MemoryStore::with_token(token));
    store.next(Op::Save, vec![Action::Fail("disk full"); failing.min(1)]);
    store.next(
        Op::CompareAndSwap,
        vec![Action::Fail("disk full"); failing.saturating_sub(1)],
    );
    store
}

fn stored_refresh_token(store: &ScriptedStore) -> String {
    let token = store.inner().get().unwrap();
    token.refresh_token().unwrap().secret().to_owned()
}

fn saves(store: &ScriptedStore) -> usize {
    store.calls(Op::Save) + store.calls(Op::CompareAndSwap)
}

/// The saves asked for so far, and the stored refresh token.
fn seen(store: &ScriptedStore) -> (usize, String) {
    (saves(store), stored_refresh_token(store))
}

fn policy() -> RefreshPolicy {
    RefreshPolicy::default()
        .initial_backoff(Duration::from_secs(5))
        .max_backoff(Duration::from_secs(60))
}

/// A source over `store` (holding an expired token with r1) whose refresh gets a2 / r2.
async fn refreshing_source(store: &ScriptedStore) -> TokenSource {
    TokenSource::builder()
        .store(store.clone())
        .policy(policy())
        .fetcher(|_: Option<&Token>| async {
            Ok::<_, TokenError>(bearer_expiring_in("a2", "r2", 3600))
        })
        .build()
        .await
        .unwrap()
}

#[tokio::test(start_paused = true)]
async fn a_refreshed_token_whose_save_failed_is_saved_again_with_back_off() {
    let store = failing_saves(bearer_expiring_in("a1", "r1", -10), 2);
    let source = refreshing_source(&store).await;
    assert_eq!(source.token().await.unwrap().access_token().secret(), "a2");
    assert!(source.has_unsaved_token());
    assert_eq!(seen(&store), (1, "r1".into()));

    // The first retry, after the initial back-off, fails too.
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(seen(&store), (2, "r1".into()));
    assert!(source.has_unsaved_token());

    // The second comes after twice the back-off, and succeeds.
    tokio::time::sleep(Duration::from_secs(8)).await;
    assert_eq!(saves(&store), 2, "the back-off doubles");
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert_eq!(seen(&store), (3, "r2".into()));
    assert!(!source.has_unsaved_token());

    // Nothing more is saved.
    tokio::time::sleep(Duration::from_secs(600)).await;
    assert_eq!(saves(&store), 3);
}

#[tokio::test(start_paused = true)]
async fn the_retries_keep_going_at_the_longest_back_off() {
    let store = failing_saves(bearer_expiring_in("a1", "r1", -10), 7);
    let source = refreshing_source(&store).await;
    source.token().await.unwrap();
    // The refresh's save and six retries fail; the retries wait 5, 10, 20, 40, 60, 60 s, and
    // then 60 s again for the seventh (at 255 s), which succeeds.
    tokio::time::sleep(Duration::from_secs(250)).await;
    assert_eq!(seen(&store), (7, "r1".into()));
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert_eq!(seen(&store), (8, "r2".into()));
    assert!(!source.has_unsaved_token());
}

/// Another process saved its own token meanwhile: the retry does not write over it.
#[tokio::test(start_paused = true)]
async fn a_token_another_process_stored_meanwhile_is_not_saved_over() {
    let store = failing_saves(bearer_expiring_in("a1", "r1", -10), 1);
    let source = refreshing_source(&store).await;
    source.token().await.unwrap();
    store
        .inner()
        .save(&bearer_expiring_in("b1", "s1", 3600))
        .await
        .unwrap();

    tokio::time::sleep(Duration::from_secs(600)).await;
    assert_eq!(
        saves(&store),
        1,
        "no retry wrote over the other process's token"
    );
    assert_eq!(stored_refresh_token(&store), "s1");
    assert!(source.has_unsaved_token(), "ours is still not in the store");
}

/// The application replaced the token (`set_token`): the failed one is not saved any more.
#[tokio::test(start_paused = true)]
async fn a_replaced_token_is_not_saved_again() {
    let store = failing_saves(bearer_expiring_in("a1", "r1", -10), 1);
    let source = refreshing_source(&store).await;
    source.token().await.unwrap();
    source.set_token(bearer_expiring_in("c1", "q1", 3600));

    tokio::time::sleep(Duration::from_secs(600)).await;
    assert_eq!(saves(&store), 1);
    assert_eq!(stored_refresh_token(&store), "r1");
}

/// The same when the application replaces the token while a retry waits for the store's
/// refresh lock: the retry, once it has the lock, checks again and saves nothing (neither the
/// failed token nor the application's, which `set_token` does not save).
#[tokio::test(start_paused = true)]
async fn a_token_replaced_while_a_retry_waits_for_the_lock_is_not_saved() {
    use common::scripted_store::Gate;

    let store = failing_saves(bearer_expiring_in("a1", "r1", -10), 1);
    let source = refreshing_source(&store).await;
    source.token().await.unwrap();
    assert!(source.has_unsaved_token());
    let gate = Gate::default();
    store.next(Op::LockRefresh, [Action::WaitFor(gate.clone())]);
    let entered = gate.entered();
    tokio::time::sleep(Duration::from_secs(6)).await;
    entered.await;
    source.set_token(bearer_expiring_in("c1", "q1", 3600));
    gate.open();

    tokio::time::sleep(Duration::from_secs(600)).await;
    assert_eq!(saves(&store), 1);
    assert_eq!(stored_refresh_token(&store), "r1");
    assert_eq!(source.current().unwrap().access_token().secret(), "c1");
}

/// A dropped source stops retrying.
#[tokio::test(start_paused = true)]
async fn a_dropped_source_stops_retrying() {
    let store = failing_saves(bearer_expiring_in("a1", "r1", -10), 1);
    let source = refreshing_source(&store).await;
    source.token().await.unwrap();
    drop(source);

    tokio::time::sleep(Duration::from_secs(600)).await;
    assert_eq!(saves(&store), 1);
    assert_eq!(stored_refresh_token(&store), "r1");
}

/// `replace_token` reports its failed save, and the token is saved later all the same.
#[tokio::test(start_paused = true)]
async fn replace_token_saves_again_after_a_failed_save() {
    let store = failing_saves(bearer_expiring_in("a1", "r1", 3600), 1);
    let source = refreshing_source(&store).await;
    let failed = source
        .replace_token(bearer_expiring_in("d1", "p1", 3600))
        .await;
    assert!(failed.is_err());
    assert!(source.has_unsaved_token());

    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(seen(&store), (2, "p1".into()));
    assert!(!source.has_unsaved_token());
}

/// A source (over a store holding a1) whose `replace_token(d1)` save failed after it landed
/// (cut off by its deadline), and whose `replace_token(e1)` save then failed outright: the
/// store holds d1, this source's own older token, and e1 is in use, unsaved.
async fn ours_landed_under_a_failed_save() -> (ScriptedStore, TokenSource) {
    let store = ScriptedStore::new(MemoryStore::with_token(bearer_expiring_in(
        "a1", "r1", 3600,
    )));
    store.next(
        Op::Save,
        [Action::FailAfter("deadline"), Action::Fail("disk full")],
    );
    let source = refreshing_source(&store).await;
    for (access, refresh) in [("d1", "p1"), ("e1", "q1")] {
        let replaced = source
            .replace_token(bearer_expiring_in(access, refresh, 3600))
            .await;
        assert!(replaced.is_err());
    }
    assert_eq!(stored_refresh_token(&store), "p1");
    assert_eq!(source.current().unwrap().access_token().secret(), "e1");
    assert!(source.has_unsaved_token());
    (store, source)
}

/// The background save of e1 finds d1 in the store: not another process's token (which it
/// would leave), but this source's own, whose save failed and landed: e1 is saved over it.
#[tokio::test(start_paused = true)]
async fn a_token_of_ours_whose_failed_save_landed_is_saved_over() {
    let (store, source) = ours_landed_under_a_failed_save().await;
    tokio::time::sleep(Duration::from_secs(6)).await;
    assert_eq!(stored_refresh_token(&store), "q1");
    assert!(!source.has_unsaved_token());
}

/// Nor is d1 taken up by a refresh as a token another process saved: the refresh is made with
/// e1, the token in use, and its result (a2) is the new token, not the older d1.
#[tokio::test(start_paused = true)]
async fn a_token_of_ours_whose_failed_save_landed_is_not_taken_up() {
    let (store, source) = ours_landed_under_a_failed_save().await;
    let refreshed = source.refresh().await.unwrap();
    assert_eq!(refreshed.access_token().secret(), "a2");
    assert_eq!(source.fetch_count(), 1);
    assert_eq!(stored_refresh_token(&store), "r2");
    assert!(!source.has_unsaved_token());
}

/// What [`WindowStore`] has seen, shared with its lock guards.
#[derive(Default)]
struct WindowShared {
    /// How many saves of each access token were asked for.
    saves: Mutex<Vec<String>>,
    /// The refresh's save of a3 has failed.
    a3_failed: AtomicBool,
    /// The retry's save of a2 went through.
    a2_saved: AtomicBool,
    /// The retry has released its refresh lock (its work is done).
    retry_done: Mutex<bool>,
    retry_done_now: Condvar,
}

/// A store (its refresh lock excludes nobody) where the first save of a2 fails at once, the
/// first save of a3 fails after 1.5 s, and the refresh lock taken for the a3 refresh is
/// released slowly (a remote lock's release, say), until the retry of a2 is done.
#[derive(Clone)]
struct WindowStore {
    inner: MemoryStore,
    shared: Arc<WindowShared>,
}

struct SlowRelease(Arc<WindowShared>);

impl Drop for SlowRelease {
    fn drop(&mut self) {
        let shared = &self.0;
        if shared.a2_saved.load(Ordering::SeqCst) {
            // The retry's lock: it has saved a2 and updated the source.
            *shared.retry_done.lock().unwrap() = true;
            shared.retry_done_now.notify_all();
        } else if shared.a3_failed.load(Ordering::SeqCst) {
            // The refresh's lock, released before the refresh installs a3: let the retry
            // finish first. (Blocks this worker; its queued tasks move to another thread.)
            tokio::task::block_in_place(|| {
                let done = shared.retry_done.lock().unwrap();
                let _unused = shared
                    .retry_done_now
                    .wait_timeout_while(done, Duration::from_secs(3), |done| !*done)
                    .unwrap();
            });
        }
    }
}

impl TokenStore for WindowStore {
    fn load(&self) -> StoreFuture<'_, Option<Token>> {
        self.inner.load()
    }

    fn save<'a>(&'a self, token: &'a Token) -> StoreFuture<'a, ()> {
        let access = token.access_token().secret().to_owned();
        let earlier = {
            let mut saves = self.shared.saves.lock().unwrap();
            let earlier = saves.iter().filter(|s| **s == access).count();
            saves.push(access.clone());
            earlier
        };
        Box::pin(async move {
            match (access.as_str(), earlier) {
                ("a2", 0) => return Err(StoreError::new("save", Some("disk full".into()))),
                ("a3", 0) => {
                    tokio::time::sleep(Duration::from_millis(1500)).await;
                    self.shared.a3_failed.store(true, Ordering::SeqCst);
                    return Err(StoreError::new("save", Some("disk full".into())));
                }
                _ => {}
            }
            self.inner.save(token).await?;
            if access == "a2" {
                self.shared.a2_saved.store(true, Ordering::SeqCst);
            }
            Ok(())
        })
    }

    fn compare_and_swap<'a>(
        &'a self,
        expected: Option<&'a RefreshToken>,
        token: &'a Token,
    ) -> StoreFuture<'a, bool> {
        self.inner.compare_and_swap(expected, token)
    }

    fn lock_refresh(&self) -> StoreFuture<'_, RefreshLock> {
        let guard = SlowRelease(self.shared.clone());
        Box::pin(async move { Ok(RefreshLock::new(guard)) })
    }
}

/// A retry of a2 that saves it while a refresh whose own save (of a3) failed is finishing
/// must not mark a3 as saved: a3 is the token in use a moment later, and the only good copy
/// of the rotated grant. Before, the refresh recorded its failed save in the flag the retry
/// clears, so a3 was reported saved, never retried, and the store kept a2 (whose refresh
/// token the server had rotated away).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_retry_finishing_while_a_refresh_with_a_failed_save_ends_does_not_hide_it() {
    let store = WindowStore {
        inner: MemoryStore::with_token(bearer_expiring_in("a1", "r1", -10)),
        shared: Arc::default(),
    };
    let fetches = Arc::new(AtomicUsize::new(0));
    let counter = fetches.clone();
    let source = TokenSource::builder()
        .store(store.clone())
        .policy(
            RefreshPolicy::default()
                .initial_backoff(Duration::from_millis(200))
                .max_backoff(Duration::from_millis(200))
                .min_interval(Duration::ZERO),
        )
        .fetcher(move |_: Option<&Token>| {
            let n = counter.fetch_add(1, Ordering::SeqCst) + 2;
            async move {
                Ok::<_, TokenError>(bearer_expiring_in(&format!("a{n}"), &format!("r{n}"), 3600))
            }
        })
        .build()
        .await
        .unwrap();
    assert_eq!(source.token().await.unwrap().access_token().secret(), "a2");
    assert!(source.has_unsaved_token());
    // The retry of a2 is due in 1 s (the shortest wait); this refresh's save of a3 fails at 1.5 s.
    assert_eq!(
        source.refresh().await.unwrap().access_token().secret(),
        "a3"
    );

    tokio::time::sleep(Duration::from_secs(2)).await;
    let stored = store.inner.get().unwrap();
    assert!(
        stored.access_token().secret() == "a3" || source.has_unsaved_token(),
        "the store holds {} while a3 is in use, and a3 is reported saved (saves: {:?})",
        stored.access_token().secret(),
        store.shared.saves.lock().unwrap(),
    );
    // Its own retry (due a second after the failed save) saves it; polled, within a bound,
    // since this test runs on real time.
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while store.inner.get().unwrap().access_token().secret() != "a3" || source.has_unsaved_token() {
        assert!(
            std::time::Instant::now() < deadline,
            "a3 is never saved again"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

/// A policy with no back-off at all (its fields are public) must not turn the retries against a
/// store that keeps failing into a busy loop, a store call and a warning per timer tick. Before,
/// this test saw hundreds of saves in 300 ms; the retries now wait at least a second.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_back_off_in_the_policy_does_not_make_the_retries_a_busy_loop() {
    let store = failing_saves(bearer_expiring_in("a1", "r1", -10), 0);
    store.always(Op::Save, Action::Fail("disk full"));
    store.always(Op::CompareAndSwap, Action::Fail("disk full"));
    let source = TokenSource::builder()
        .store(store.clone())
        .policy(
            RefreshPolicy::default()
                .initial_backoff(Duration::ZERO)
                .max_backoff(Duration::ZERO),
        )
        .fetcher(|_: Option<&Token>| async {
            Ok::<_, TokenError>(bearer_expiring_in("a2", "r2", 3600))
        })
        .build()
        .await
        .unwrap();
    source.token().await.unwrap();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(saves(&store) <= 2, "{} saves in 300 ms", saves(&store));
    assert!(source.has_unsaved_token());
}

/// The server refused the unsaved token's grant for good (`invalid_grant`): saving it would
/// only hand the store (a `CallbackStore`'s application, say) a dead token after it heard of
/// the revocation. The retries stop.
#[tokio::test(start_paused = true)]
async fn a_token_whose_grant_was_revoked_is_not_saved_again() {
    let store = failing_saves(bearer_expiring_in("a1", "r1", -10), 1);
    let source = TokenSource::builder()
        .store(store.clone())
        .policy(policy().initial_backoff(Duration::from_secs(60)))
        .fetcher(|current: Option<&Token>| {
            let first = current.and_then(|t| t.refresh_token()).unwrap().secret() == "r1";
            async move {
                if first {
                    Ok(bearer_expiring_in("a2", "r2", 3600))
                } else {
                    Err(TokenError::new(
                        tower_oauth2::source::TokenErrorKind::Reauthorize,
                        None,
                    ))
                }
            }
        })
        .build()
        .await
        .unwrap();
    source.token().await.unwrap();
    assert!(source.has_unsaved_token());

    tokio::time::sleep(Duration::from_secs(10)).await;
    let refused = source.refresh().await.unwrap_err();
    assert_eq!(
        refused.kind(),
        tower_oauth2::source::TokenErrorKind::Reauthorize
    );

    tokio::time::sleep(Duration::from_secs(600)).await;
    assert_eq!(saves(&store), 1, "the revoked token was saved again");
    assert_eq!(stored_refresh_token(&store), "r1");
}

/// `replace_token` puts the token in use before saving it; a caller that gives up during the
/// save (a request timeout) must not leave it unsaved for good: the save is done again in the
/// background, as after a failed one. Failed before: the token stayed unsaved until the next
/// refresh.
#[tokio::test(start_paused = true)]
async fn a_replace_token_dropped_during_its_save_is_saved_in_the_background() {
    // Its first save never answers (a hung database connection); later saves work.
    let store = ScriptedStore::new(MemoryStore::with_token(bearer_expiring_in(
        "a1", "r1", 3600,
    )));
    store.next(Op::Save, [Action::Hang]);
    let source = TokenSource::builder()
        .store(store.clone())
        .policy(policy())
        .build()
        .await
        .unwrap();
    let replacing = source.replace_token(bearer_expiring_in("a2", "r2", 3600));
    let gave_up = tokio::time::timeout(Duration::from_millis(10), replacing).await;
    assert!(gave_up.is_err(), "the save hangs");
    assert_eq!(source.token().await.unwrap().access_token().secret(), "a2");
    assert!(source.has_unsaved_token());

    tokio::time::sleep(Duration::from_secs(10)).await;
    let stored = store.inner().get().unwrap();
    assert_eq!(stored.refresh_token().unwrap().secret(), "r2");
    assert!(!source.has_unsaved_token());
}

/// A source that refreshes, given its token while its store could be neither read nor written
/// at build, has no record of what the store held: the background save tells another process's
/// token saved since from the one there before by expiry. One that expires later than the
/// given token is another process's, and is kept; one that expires sooner was there before,
/// and the given token replaces it.
#[tokio::test(start_paused = true)]
async fn a_given_tokens_background_save_keeps_a_stored_token_that_expires_later() {
    // Another process saves a2 (expiring in 2 h) after the build, or nothing: the store holds
    // a0 (10 min) from before.
    for saved_since in [true, false] {
        let store =
            ScriptedStore::new(MemoryStore::with_token(bearer_expiring_in("a0", "r0", 600)));
        store.next(Op::Load, [Action::Fail("down")]);
        store.next(Op::Save, [Action::Fail("down")]);
        let source = TokenSource::builder()
            .token(bearer_expiring_in("a1", "r1", 3600))
            .store(store.clone())
            .policy(policy())
            .fetcher(|_: Option<&Token>| async {
                Ok::<_, TokenError>(bearer_expiring_in("a9", "r9", 3600))
            })
            .build()
            .await
            .unwrap();
        assert!(source.has_unsaved_token());
        if saved_since {
            TokenStore::save(store.inner(), &bearer_expiring_in("a2", "r2", 7200))
                .await
                .unwrap();
        }
        tokio::time::sleep(Duration::from_secs(60)).await;
        let expected = if saved_since { "r2" } else { "r1" };
        assert_eq!(stored_refresh_token(&store), expected);
        assert_eq!(source.has_unsaved_token(), saved_since);
        assert_eq!(source.current().unwrap().access_token().secret(), "a1");
    }
}

/// As above, with tokens the server gave no `expires_in`: there is no expiry to tell another
/// process's token saved since from the one there before. A source that refreshes is the
/// process whose token belongs in the store: its given token replaces the stored one. A
/// follower (a store, no fetcher) defers to the process that refreshes, whose newer token the
/// stored one may be: it keeps it, and its own stays in use, reported unsaved.
#[tokio::test(start_paused = true)]
async fn with_no_expiry_to_compare_a_refresher_saves_its_given_token_and_a_follower_does_not() {
    let no_expiry = |access: &str, refresh: &str| {
        common::bearer(access).with_refresh_token(Some(RefreshToken::new(refresh)))
    };
    for refreshes in [true, false] {
        let store = ScriptedStore::new(MemoryStore::with_token(no_expiry("a0", "r0")));
        store.next(Op::Load, [Action::Fail("down")]);
        store.next(Op::Save, [Action::Fail("down")]);
        let builder = TokenSource::builder()
            .token(no_expiry("a1", "r1"))
            .store(store.clone())
            .policy(policy());
        let source = if refreshes {
            builder
                .fetcher(|_: Option<&Token>| async {
                    Ok::<_, TokenError>(bearer_expiring_in("a9", "r9", 3600))
                })
                .build()
                .await
                .unwrap()
        } else {
            builder.build().await.unwrap()
        };
        assert!(source.has_unsaved_token());
        tokio::time::sleep(Duration::from_secs(60)).await;
        let (expected, unsaved) = if refreshes {
            ("r1", false)
        } else {
            ("r0", true)
        };
        assert_eq!(
            stored_refresh_token(&store),
            expected,
            "refreshes: {refreshes}"
        );
        assert_eq!(
            source.has_unsaved_token(),
            unsaved,
            "refreshes: {refreshes}"
        );
        assert_eq!(source.current().unwrap().access_token().secret(), "a1");
    }
}
