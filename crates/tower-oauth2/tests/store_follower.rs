//! A token source with a store and no fetcher follows the store: another process (one with a
//! fetcher) refreshes the token and saves it there, and this one takes it up, from its refresh
//! margin on, when a resource server refuses its token, or when asked to `refresh`. Before,
//! such a source failed with `NoToken` from the moment its token expired until it was
//! restarted, even with a newer token in the store.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use std::time::Duration;

use http::StatusCode;
use oauth_core::clock::Clock;
use oauth_core::oauth2::{IssuedTo, Token, TokenType};
use oauth_core::secret::{AccessToken, RefreshToken};
use tower::{Layer, Service, ServiceExt};
use tower_oauth2::clock::TokioClock;
use tower_oauth2::source::TokenErrorKind;
use tower_oauth2::store::{MemoryStore, TokenStore};
use tower_oauth2::{OAuth2Layer, TokenSource};

mod common;
use common::scripted_store::{Action, Op, ScriptedStore, follower};
use common::{
    API, access_token, api_get, api_rejecting_token, bearer, bearer_expiring_in, dpop_token, settle,
};

/// `can_fetch` says whether a source gets new tokens by itself: one with a fetcher does; a
/// follower (a store and no fetcher) and a source holding one token do not.
#[tokio::test]
async fn only_a_source_with_a_fetcher_can_fetch() {
    let store = ScriptedStore::holding(bearer_expiring_in("a1", "r1", 3600));
    assert!(!follower(&store).await.can_fetch());
    assert!(!TokenSource::from_token(bearer("a1")).can_fetch());
    let (fetcher, _) = common::counting_fetcher_answering(bearer("a2"));
    let fetching = TokenSource::builder()
        .store(store.clone())
        .fetcher(fetcher)
        .build()
        .await
        .unwrap();
    assert!(fetching.can_fetch());
}

/// A memory store shared with "the process that refreshes" (the test, or another source,
/// through `inner()`), counting the follower's loads and saves.
type Counted = ScriptedStore;

fn loads(store: &Counted) -> usize {
    store.calls(Op::Load)
}

fn saves(store: &Counted) -> usize {
    store.calls(Op::Save) + store.calls(Op::CompareAndSwap)
}

/// What the other process does: saves `token` (not counted).
async fn saved_elsewhere(store: &Counted, token: Token) {
    TokenStore::save(store.inner(), &token).await.unwrap();
}

#[tokio::test(start_paused = true)]
async fn a_follower_takes_up_the_token_refreshed_elsewhere_inside_its_refresh_margin() {
    let store = ScriptedStore::holding(bearer_expiring_in("a1", "r1", 3600));
    let source = follower(&store).await;
    assert_eq!(access_token(&source).await, "a1");
    saved_elsewhere(&store, bearer_expiring_in("a2", "r2", 7200)).await;
    // Before the margin (60 s by default) the store is not read again.
    tokio::time::sleep(Duration::from_secs(3000)).await;
    assert_eq!(access_token(&source).await, "a1");
    assert_eq!(loads(&store), 1, "read once, when built");

    // Inside the margin: the valid token is used while the store is read.
    tokio::time::sleep(Duration::from_secs(570)).await;
    assert_eq!(access_token(&source).await, "a1");
    settle().await;
    assert_eq!(access_token(&source).await, "a2");
    assert_eq!(loads(&store), 2);
    assert_eq!(source.fetch_count(), 1);
    assert_eq!(saves(&store), 0, "a follower does not write to the store");
    assert!(!source.has_unsaved_token());
}

/// Past its token's expiry (the process that refreshes is late), a follower reads the store
/// at most four times a second, however many requests come.
#[tokio::test(start_paused = true)]
async fn past_expiry_a_follower_reads_the_store_at_most_four_times_a_second() {
    let store = ScriptedStore::holding(bearer_expiring_in("a1", "r1", 10));
    let source = follower(&store).await;
    tokio::time::sleep(Duration::from_secs(11)).await;
    let error = source.token().await.unwrap_err();
    assert_eq!(error.kind(), TokenErrorKind::NoToken);
    assert_eq!(loads(&store), 2);
    for _ in 0..20 {
        assert_eq!(
            source.token().await.unwrap_err().kind(),
            TokenErrorKind::NoToken
        );
    }
    assert_eq!(loads(&store), 2, "no second read at once");
    tokio::time::sleep(Duration::from_millis(240)).await;
    assert_eq!(
        source.token().await.unwrap_err().kind(),
        TokenErrorKind::NoToken
    );
    assert_eq!(loads(&store), 2, "no second read within 250 ms");
    tokio::time::sleep(Duration::from_millis(10)).await;
    assert_eq!(
        source.token().await.unwrap_err().kind(),
        TokenErrorKind::NoToken
    );
    assert_eq!(loads(&store), 3, "a read 250 ms after the last");

    // The other process saves its new token: taken up at the next look.
    saved_elsewhere(&store, bearer_expiring_in("a2", "r2", 3600)).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(access_token(&source).await, "a2");
    assert_eq!(loads(&store), 4);
    assert_eq!(saves(&store), 0);
}

/// A follower's first look, when its token enters the refresh margin, comes as the process that
/// refreshes starts its own refresh, and finds nothing new. With a token of a few seconds (its
/// margin is half its life) and the default policy (5 s between looks), the next look used to
/// come only after the token had expired, so the follower sent its token to the end (a server
/// counting lifetimes in whole seconds had already expired it) and then failed. It now looks
/// again after a quarter of the time left (at most four times a second), and takes up the
/// other process's token well before its own expires.
#[tokio::test(start_paused = true)]
async fn a_follower_of_a_short_token_looks_again_before_it_expires() {
    // (Dated by the clock the source reads, as in
    // `a_follower_keeps_working_across_the_refreshes_of_the_process_that_refreshes`.)
    let clock = TokioClock::new();
    let expiring = |access: &str, secs| {
        Token::new(AccessToken::new(access), TokenType::Bearer)
            .with_refresh_token(Some(RefreshToken::new("r")))
            .with_expires_at(Some(clock.now() + Duration::from_secs(secs)))
    };
    let store = ScriptedStore::holding(expiring("a1", 4));
    let source = TokenSource::builder()
        .store(store.clone())
        .clock(clock.clone())
        .build()
        .await
        .unwrap();
    // The refresh margin (2 s, half the lifetime) begins: a look, which finds only a1.
    tokio::time::sleep(Duration::from_millis(2000)).await;
    assert_eq!(access_token(&source).await, "a1");
    settle().await;
    assert_eq!(loads(&store), 2);
    // The other process saves its new token moments later.
    tokio::time::sleep(Duration::from_millis(100)).await;
    saved_elsewhere(&store, expiring("a2", 4)).await;
    assert_eq!(access_token(&source).await, "a1");
    assert_eq!(loads(&store), 2, "1.9 s left: no look within 475 ms");
    // 1.5 s left: a look 500 ms after the first (at least 375 ms) takes a2 up.
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert_eq!(access_token(&source).await, "a1");
    settle().await;
    assert_eq!(loads(&store), 3);
    assert_eq!(access_token(&source).await, "a2");
    assert_eq!(source.fetch_count(), 1);
    assert_eq!(saves(&store), 0);
}

#[tokio::test(start_paused = true)]
async fn a_follower_of_an_empty_store_waits_for_the_first_token() {
    let store = ScriptedStore::new(MemoryStore::new());
    let source = follower(&store).await;
    assert_eq!(
        source.token().await.unwrap_err().kind(),
        TokenErrorKind::NoToken
    );
    saved_elsewhere(&store, bearer("first")).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(access_token(&source).await, "first");
}

#[tokio::test(start_paused = true)]
async fn expired_or_unusable_stored_tokens_are_not_taken_up() {
    let store = ScriptedStore::holding(bearer_expiring_in("a1", "r1", 10));
    let source = follower(&store).await;
    tokio::time::sleep(Duration::from_secs(11)).await;
    // Expired too: there is nothing to refresh it with here.
    saved_elsewhere(&store, bearer_expiring_in("a2", "r2", -1)).await;
    assert_eq!(
        source.token().await.unwrap_err().kind(),
        TokenErrorKind::NoToken
    );
    // Bound to a DPoP key this source does not have: it could not be sent.
    tokio::time::sleep(Duration::from_secs(5)).await;
    saved_elsewhere(&store, dpop_token("bound")).await;
    assert_eq!(
        source.token().await.unwrap_err().kind(),
        TokenErrorKind::NoToken
    );
    assert_eq!(loads(&store), 3);
}

#[tokio::test(start_paused = true)]
async fn refresh_reads_the_store_and_keeps_the_token_when_there_is_nothing_newer() {
    let store = ScriptedStore::holding(bearer_expiring_in("a1", "r1", 3600));
    let source = follower(&store).await;
    let error = source.refresh().await.unwrap_err();
    assert_eq!(error.kind(), TokenErrorKind::Transient);
    // Not given up: the token is still the one in use.
    assert_eq!(access_token(&source).await, "a1");

    saved_elsewhere(&store, bearer_expiring_in("a2", "r2", 3600)).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    let refreshed = source.refresh().await.unwrap();
    assert_eq!(refreshed.access_token().secret(), "a2");
    assert_eq!(access_token(&source).await, "a2");
    assert_eq!(saves(&store), 0);
}

/// `refresh` on a follower with no token yet (its store was empty at start) whose look finds
/// nothing is `NoToken`, as its doc says, not the `Transient` of a follower that has a token;
/// the token the other process saves is then taken up by the next look.
#[tokio::test(start_paused = true)]
async fn refresh_on_a_follower_of_an_empty_store_is_no_token() {
    let store = ScriptedStore::new(MemoryStore::new());
    let source = follower(&store).await;
    let error = source.refresh().await.unwrap_err();
    assert_eq!(error.kind(), TokenErrorKind::NoToken);
    assert_eq!(loads(&store), 2);

    saved_elsewhere(&store, bearer_expiring_in("a1", "r1", 3600)).await;
    tokio::time::sleep(Duration::from_secs(5)).await;
    assert_eq!(
        source.refresh().await.unwrap().access_token().secret(),
        "a1"
    );
}

#[tokio::test(start_paused = true)]
async fn a_401_makes_a_follower_retry_with_the_newer_stored_token() {
    let store = ScriptedStore::holding(bearer_expiring_in("a1", "r1", 3600));
    let source = follower(&store).await;
    // The other process was refused a1 too, and refreshed.
    saved_elsewhere(&store, bearer_expiring_in("a2", "r2", 3600)).await;
    let (api, seen) = api_rejecting_token("a1", r#"Bearer error="invalid_token""#);
    let svc = OAuth2Layer::new(source.clone(), API).unwrap().layer(api);
    let response = svc.oneshot(api_get()).await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(
        *seen.lock().unwrap(),
        [Some("Bearer a1".to_owned()), Some("Bearer a2".to_owned())]
    );
    assert_eq!(saves(&store), 0);
}

/// Two requests sent with a1 are both refused: the first one's retry looks at the store and
/// takes up a2; the second one's finds a2 already in use (a newer token than the one refused)
/// and is sent again with it, without a second look (which `min_interval` would not allow yet).
#[tokio::test(start_paused = true)]
async fn two_requests_refused_with_one_token_both_retry_with_the_newer_stored_token() {
    let store = ScriptedStore::holding(bearer_expiring_in("a1", "r1", 3600));
    let source = follower(&store).await;
    let (api, seen) = api_rejecting_token("a1", r#"Bearer error="invalid_token""#);
    let svc = OAuth2Layer::new(source.clone(), API).unwrap().layer(api);
    let (mut first, mut second) = (svc.clone(), svc);
    let first = first.ready().await.unwrap().call(api_get());
    let second = second.ready().await.unwrap().call(api_get());
    saved_elsewhere(&store, bearer_expiring_in("a2", "r2", 3600)).await;
    assert_eq!(first.await.unwrap().status(), StatusCode::OK);
    assert_eq!(second.await.unwrap().status(), StatusCode::OK);
    assert_eq!(
        *seen.lock().unwrap(),
        ["a1", "a1", "a2", "a2"].map(|t| Some(format!("Bearer {t}")))
    );
    assert_eq!(loads(&store), 2, "one look, besides the build's");
}

#[tokio::test(start_paused = true)]
async fn a_401_with_nothing_newer_in_the_store_goes_back_and_the_token_stays() {
    let store = ScriptedStore::holding(bearer_expiring_in("a1", "r1", 3600));
    let source = follower(&store).await;
    let (api, seen) = api_rejecting_token("a1", r#"Bearer error="invalid_token""#);
    let svc = OAuth2Layer::new(source.clone(), API).unwrap().layer(api);
    let response = svc.clone().oneshot(api_get()).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(loads(&store), 2);
    // The next request still goes out with the token (a resource server that refuses every
    // token must not leave the follower failing on its own).
    let response = svc.clone().oneshot(api_get()).await.unwrap();
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(seen.lock().unwrap().len(), 2);
    assert_eq!(loads(&store), 2, "no second read within min_interval");
    assert_eq!(access_token(&source).await, "a1");
}

#[tokio::test(start_paused = true)]
async fn a_follower_keeps_working_across_the_refreshes_of_the_process_that_refreshes() {
    // The process that refreshes: a fetcher answering tokens valid for 10 minutes.
    let store = ScriptedStore::holding(bearer_expiring_in("a0", "r0", 600));
    let counter = Arc::new(AtomicUsize::new(0));
    let fetched = counter.clone();
    // (Dated by one clock made now: a clock made later, as `bearer_expiring_in` makes, reads
    // the system time, which the paused tokio clock does not move.)
    let clock = TokioClock::new();
    let refresher = TokenSource::builder()
        .store(store.inner().clone())
        .fetcher(move |_: Option<&Token>| {
            let n = fetched.fetch_add(1, Ordering::SeqCst) + 1;
            let token = Token::new(AccessToken::new(format!("a{n}")), TokenType::Bearer)
                .with_refresh_token(Some(RefreshToken::new(format!("r{n}"))))
                .with_expires_at(Some(clock.now() + Duration::from_secs(600)));
            async move { Ok(token) }
        })
        .build()
        .await
        .unwrap();
    let source = follower(&store).await;
    let (api, seen) = api_rejecting_token("never", "Bearer");
    let follower_api = OAuth2Layer::new(source.clone(), API).unwrap().layer(api);
    // An hour of requests every 10 s from the follower; the refresher is used every 30 s.
    for step in 0..360 {
        if step % 3 == 0 {
            refresher.token().await.unwrap();
        }
        let response = follower_api.clone().oneshot(api_get()).await;
        let response = response.unwrap_or_else(|e| {
            panic!(
                "step {step}: {e}; store {:?}, follower {:?}",
                store
                    .inner()
                    .get()
                    .map(|t| t.access_token().secret().to_owned()),
                source
                    .current()
                    .map(|t| t.access_token().secret().to_owned())
            )
        });
        assert_eq!(response.status(), StatusCode::OK, "step {step}");
        tokio::time::sleep(Duration::from_secs(10)).await;
    }
    let refreshes = counter.load(Ordering::SeqCst);
    assert!((5..=7).contains(&refreshes), "{refreshes} refreshes");
    // No request failed for want of a token, and the follower moved on to the refresher's
    // tokens as they came.
    let seen = seen.lock().unwrap();
    assert_eq!(seen.len(), 360);
    let last = seen.last().unwrap().clone().unwrap();
    assert_eq!(last, format!("Bearer a{refreshes}"));
    assert_eq!(saves(&store), 0);
}

#[tokio::test(start_paused = true)]
async fn a_follower_told_its_issuer_and_client_leaves_another_configurations_tokens_alone() {
    let here = IssuedTo::new("https://server.example.com/token", "my-app");
    let elsewhere = IssuedTo::new("https://other.example/token", "other-app");
    let store = ScriptedStore::holding(
        bearer_expiring_in("a1", "r1", 10).with_issued_to(Some(here.clone())),
    );
    let source = TokenSource::builder()
        .store(store.clone())
        .issued_to(here.clone())
        .build()
        .await
        .unwrap();
    assert_eq!(access_token(&source).await, "a1");
    tokio::time::sleep(Duration::from_secs(11)).await;
    // Another configuration sharing the store saves its token: not this source's.
    saved_elsewhere(
        &store,
        bearer_expiring_in("theirs", "r-theirs", 3600).with_issued_to(Some(elsewhere)),
    )
    .await;
    assert_eq!(
        source.token().await.unwrap_err().kind(),
        TokenErrorKind::NoToken
    );
    // This configuration's refresher saves one (and one with no record is taken up too).
    tokio::time::sleep(Duration::from_secs(5)).await;
    saved_elsewhere(
        &store,
        bearer_expiring_in("ours", "r-ours", 3600).with_issued_to(Some(here)),
    )
    .await;
    assert_eq!(access_token(&source).await, "ours");
}

#[tokio::test(start_paused = true)]
async fn a_keyless_source_neither_loads_nor_takes_up_a_dpop_token_with_no_key_record() {
    // A DPoP token whose key thumbprint was not recorded: it needs a proof, and there is no
    // key to make one with.
    let dpop_unrecorded = |value: &str| {
        Token::new(AccessToken::new(value), TokenType::DPoP)
            .with_expires_at(Some(TokioClock::new().now() + Duration::from_secs(3600)))
    };
    let at_build = ScriptedStore::holding(dpop_unrecorded("d0"));
    let source = follower(&at_build).await;
    assert_eq!(
        source.token().await.unwrap_err().kind(),
        TokenErrorKind::NoToken
    );

    let store = ScriptedStore::holding(bearer_expiring_in("a1", "r1", 10));
    let source = follower(&store).await;
    tokio::time::sleep(Duration::from_secs(11)).await;
    saved_elsewhere(&store, dpop_unrecorded("d1")).await;
    assert_eq!(
        source.token().await.unwrap_err().kind(),
        TokenErrorKind::NoToken
    );
    assert_eq!(loads(&store), 2);
}

/// Found by the fault model (`fault_model.rs`, seed 1592590370, followers' waits): past its
/// token's expiry, a follower's caller that arrived while a look at the store another caller
/// started was in flight waited for that look for as long as the store call lasted (up to
/// `STORE_CALL_WAIT`, 120 s, for a store that hangs), not at most 5 s as
/// `TokenSourceBuilder::store` says. Every waiter now stops at the look's own deadline.
#[tokio::test(start_paused = true)]
async fn a_callers_wait_for_a_look_another_caller_started_is_at_most_5_s() {
    let store = ScriptedStore::holding(bearer_expiring_in("a1", "r1", 10));
    let source = follower(&store).await;
    tokio::time::sleep(Duration::from_secs(11)).await;
    // The store hangs from now on (the source's deadline cuts each call after 120 s).
    store.always(Op::Load, Action::Hang);
    let first = tokio::spawn({
        let source = source.clone();
        async move {
            let start = tokio::time::Instant::now();
            let result = source.token().await;
            (result.map(drop), start.elapsed())
        }
    });
    tokio::time::sleep(Duration::from_secs(1)).await;
    assert_eq!(loads(&store), 2, "the first caller's look is in flight");
    let start = tokio::time::Instant::now();
    let second = source.token().await;
    let waited = start.elapsed();
    let (first, first_waited) = first.await.unwrap();
    assert_eq!(first.unwrap_err().kind(), TokenErrorKind::NoToken);
    assert!(first_waited <= Duration::from_secs(5), "{first_waited:?}");
    assert_eq!(second.unwrap_err().kind(), TokenErrorKind::NoToken);
    assert!(
        waited <= Duration::from_secs(5),
        "the second caller waited {waited:?} for the look the first started"
    );
}

/// Found by the fault model (`fault_model.rs`, seed 1592590469, a follower built late over a
/// store holding an expired token, with nothing newer saved until the end): a source built
/// with the store's token said that token was unsaved (`has_unsaved_token`), because `build`
/// installs it with `set_token`, which marks a source with a store unsaved. The token came
/// from the store; nothing is unsaved. A follower's application that saves an "unsaved" token
/// (on shutdown, say) would write the follower's old token over the newer one the refreshing
/// process saved. (The same holds for a source with a fetcher built from the store, until its
/// first refresh; and for a given token the store already holds.)
#[tokio::test(start_paused = true)]
async fn a_token_loaded_from_the_store_is_not_unsaved() {
    let store = ScriptedStore::holding(bearer_expiring_in("a1", "r1", 3600));
    let source = follower(&store).await;
    assert_eq!(access_token(&source).await, "a1");
    assert!(
        !source.has_unsaved_token(),
        "a follower built from the store reports its token unsaved"
    );
    // Past expiry with nothing newer in the store: still the store's token.
    tokio::time::sleep(Duration::from_secs(3601)).await;
    assert_eq!(
        source.token().await.unwrap_err().kind(),
        TokenErrorKind::NoToken
    );
    assert!(!source.has_unsaved_token());
    assert_eq!(saves(&store), 0);

    // A source with a fetcher, built from the store the same way.
    let store = ScriptedStore::holding(bearer_expiring_in("a1", "r1", 3600));
    let (fetcher, fetches) =
        common::counting_fetcher_answering(bearer_expiring_in("a2", "r2", 3600));
    let source = TokenSource::builder()
        .store(store.clone())
        .fetcher(fetcher)
        .build()
        .await
        .unwrap();
    assert_eq!(access_token(&source).await, "a1");
    assert_eq!(fetches.load(Ordering::SeqCst), 0);
    assert!(
        !source.has_unsaved_token(),
        "a source built from the store reports its token unsaved"
    );
}

/// Found while extending the fault model to followers (a follower given a token, whose store
/// cannot be read at build; not drawn by the model, whose followers are given none): the build
/// cannot save the given token either, and the background save that retried it later wrote
/// it over whatever the store held then, since the source never knew what the store held
/// (`store_view` is unknown, which `save_again` took as "nobody else wrote since"). It now
/// saves over a token it never saw only if that token does not expire later than its own. Here the
/// process that refreshes saved a newer token (an hour) a second after the build; the
/// follower writes its given token (100 s) over it, then, past that token's expiry, has
/// nothing to take up: `NoToken`, with a live token lost from the store (a refreshing process
/// that restarts, or builds on the store's token, gets the follower's old refresh token back).
#[tokio::test(start_paused = true)]
async fn a_given_tokens_background_save_does_not_overwrite_a_newer_token_saved_since() {
    let store = ScriptedStore::holding(bearer_expiring_in("a0", "r0", 50));
    // The store is down at build: the load and the save of the given token fail.
    store.next(Op::Load, [Action::Fail("down")]);
    store.next(Op::Save, [Action::Fail("down")]);
    let source = TokenSource::builder()
        .token(bearer_expiring_in("a1", "r1", 100))
        .store(store.clone())
        .build()
        .await
        .unwrap();
    assert!(source.has_unsaved_token());
    // The store is back; the process that refreshes saves its new token.
    tokio::time::sleep(Duration::from_secs(1)).await;
    saved_elsewhere(&store, bearer_expiring_in("a2", "r2", 3600)).await;
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(
        store.inner().get().unwrap().access_token().secret(),
        "a2",
        "the newer token saved since is kept"
    );
    // Until then its own token is still unsaved (the store holds another).
    assert!(source.has_unsaved_token());
    // Past a1's expiry the follower takes a2 up: the token in use is the store's, so nothing
    // is unsaved any more (an application saving "unsaved" tokens on shutdown would write a2
    // back for nothing, or a token older than the store's).
    tokio::time::sleep(Duration::from_secs(45)).await;
    assert_eq!(access_token(&source).await, "a2");
    assert!(!source.has_unsaved_token());
}

/// Found while extending the fault model to followers (warm services, margin 0): with a
/// refresh margin of 0 the entry went stale at the very instant its token expired, by a timer
/// task. A service whose cached entry is warm from an earlier call trusts that flag on its
/// fast path (`Entry::is_fresh`): a request polled at that instant before the timer task ran
/// (here the test's own task; on a busy multi-threaded runtime, any request until the timer
/// task gets a thread) went out with the expired token, and took a 401. The flag now goes up
/// at least a second before expiry, after which the slow path reads the clock.
#[tokio::test(start_paused = true)]
async fn with_margin_0_a_warm_service_does_not_send_the_token_at_the_instant_it_expires() {
    use oauth_core::oauth2::RefreshPolicy;
    use tower::Service;
    // (Dated by the clock the source reads, as in
    // `a_follower_keeps_working_across_the_refreshes_of_the_process_that_refreshes`.)
    let clock = TokioClock::new();
    let expires_at = clock.now() + Duration::from_secs(10);
    let store = ScriptedStore::holding(
        Token::new(AccessToken::new("a1"), TokenType::Bearer).with_expires_at(Some(expires_at)),
    );
    let source = TokenSource::builder()
        .store(store.clone())
        .clock(clock.clone())
        .policy(RefreshPolicy::default().margin(Duration::ZERO))
        .build()
        .await
        .unwrap();
    let (api, seen) = api_rejecting_token("never", "Bearer");
    let mut svc = OAuth2Layer::new(source.clone(), API).unwrap().layer(api);
    // An earlier call warms the service's cached entry.
    svc.ready().await.unwrap();
    svc.call(api_get()).await.unwrap();
    tokio::time::sleep(Duration::from_secs(10)).await;
    assert!(clock.now() >= expires_at, "the token has expired");
    svc.ready().await.unwrap();
    let result = svc.call(api_get()).await;
    assert_eq!(
        *seen.lock().unwrap(),
        [Some("Bearer a1".to_owned())],
        "only the first request carried a1"
    );
    assert!(result.is_err(), "no token to send: {result:?}");
}
