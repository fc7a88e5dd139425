//! A write that lands late in a store two token sources share must not make one of them give up
//! its live grant. Found by the fault model (seed 781826 of 6,000, `FAULT_MODEL_CASES=6000
//! FAULT_MODEL_BASE=777000`): source 1's background save of its token (a2 / r2), whose first
//! save had failed after writing, read the store, then wrote while the store's refresh lock had
//! failed; its write landed after source 0 had refreshed r2 into a3 / r3 and saved that, so the
//! store went back to r2. Source 0 then took up the store's a2 / r2 as another process's newer
//! token (it expired later than its own a3) and refreshed with r2, which the server had rotated
//! away: the grant ended. Each test failed before.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Mutex};
use std::time::Duration;

use oauth_core::oauth2::{RefreshPolicy, Token};
use tower_oauth2::TokenSource;
use tower_oauth2::source::TokenError;
use tower_oauth2::store::{MemoryStore, TokenStore};

mod common;
use common::bearer_expiring_in;
use common::scripted_store::{Action, Gate, Op, ScriptedStore};

fn stored_refresh_token(store: &ScriptedStore) -> String {
    let token = store.inner().get().unwrap();
    token.refresh_token().unwrap().secret().to_owned()
}

/// The background save of a token whose save failed reads the store, then writes. A token
/// another writer stored between the two (one that takes no refresh lock, or a store whose
/// lock failed) is not written over: the write is a compare-and-swap on what was read.
#[tokio::test(start_paused = true)]
async fn a_token_stored_while_a_save_again_is_on_its_way_is_not_written_over() {
    let store = ScriptedStore::holding(bearer_expiring_in("a1", "r1", -10));
    store.next(Op::Save, [Action::Fail("disk full")]);
    let source = TokenSource::builder()
        .store(store.clone())
        .policy(RefreshPolicy::default().initial_backoff(Duration::from_secs(5)))
        .fetcher(|_: Option<&Token>| async {
            Ok::<_, TokenError>(bearer_expiring_in("a2", "r2", 3600))
        })
        .build()
        .await
        .unwrap();
    assert_eq!(source.token().await.unwrap().access_token().secret(), "a2");
    assert!(source.has_unsaved_token());

    // The retry (after 5 s) has read the store (r1, what this source knew was there); its write
    // waits. Meanwhile another process saves its own token.
    let gate = Gate::default();
    store.next(Op::Save, [Action::WaitFor(gate.clone())]);
    store.next(Op::CompareAndSwap, [Action::WaitFor(gate.clone())]);
    tokio::time::sleep(Duration::from_secs(6)).await;
    gate.entered().await;
    store
        .inner()
        .save(&bearer_expiring_in("b1", "s1", 3600))
        .await
        .unwrap();
    gate.open();
    common::settle().await;

    assert_eq!(
        stored_refresh_token(&store),
        "s1",
        "the other process's token was written over"
    );
    assert!(source.has_unsaved_token(), "ours is still not in the store");
    // And no later retry writes over it either.
    tokio::time::sleep(Duration::from_secs(600)).await;
    assert_eq!(stored_refresh_token(&store), "s1");
}

/// A refresh token this source spent (the server answered its refresh with another refresh
/// token) is dead: a stored token carrying it (a late write of an older token) is never taken
/// up, however much later its access token expires. The source refreshes with its own.
#[tokio::test(start_paused = true)]
async fn a_stored_token_with_a_refresh_token_this_source_spent_is_not_taken_up() {
    let store = ScriptedStore::new(MemoryStore::with_token(bearer_expiring_in("a1", "r1", -10)));
    let sent = Arc::new(Mutex::new(Vec::<String>::new()));
    let source = TokenSource::builder()
        .store(store.clone())
        .policy(RefreshPolicy::default().margin(Duration::from_secs(10)))
        .fetcher({
            let sent = sent.clone();
            move |current: Option<&Token>| {
                let refresh_token = current
                    .and_then(Token::refresh_token)
                    .map(|r| r.secret().to_owned())
                    .unwrap_or_default();
                let mut sent = sent.lock().unwrap();
                sent.push(refresh_token);
                let n = sent.len() + 1;
                async move {
                    Ok::<_, TokenError>(bearer_expiring_in(&format!("a{n}"), &format!("r{n}"), 100))
                }
            }
        })
        .build()
        .await
        .unwrap();
    assert_eq!(source.token().await.unwrap().access_token().secret(), "a2");
    assert_eq!(stored_refresh_token(&store), "r2");

    // A write of the older token lands late (another source's background save, say): the store
    // goes back to r1, with an access token that expires later than ours.
    store
        .inner()
        .save(&bearer_expiring_in("a1", "r1", 3600))
        .await
        .unwrap();

    // At our token's refresh margin the source reads the store before refreshing (in the
    // background: a2 is still good for 5 s, and is what this call gets).
    tokio::time::sleep(Duration::from_secs(95)).await;
    source.token().await.unwrap();
    tokio::time::sleep(Duration::from_secs(1)).await;
    let token = source.token().await.unwrap();
    assert_eq!(
        token.access_token().secret(),
        "a3",
        "the source took up the older token"
    );
    assert_eq!(
        *sent.lock().unwrap(),
        ["r1", "r2"],
        "r1 was sent again or r2 never"
    );
    assert_eq!(stored_refresh_token(&store), "r3");
}
