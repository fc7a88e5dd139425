//! `PendingAuthorizations`: flows matched within their session only (login CSRF), single-use
//! `state` (SECURITY.md BCP-02, RFC 9700 §4.2.4), expiry, a bounded number of flows, and one
//! winner when the same callback arrives twice at once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::{Arc, Barrier};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use oauth_core::clock::SystemRandom;
use oauth_core::oauth2::{
    AuthorizationRequest, CallbackError, Endpoint, PendingAuthorization, PendingAuthorizations,
    PendingFlowError, RedirectUri,
};

const CB: &str = "https://client.example.com/cb";
const NOW: u64 = 1_700_000_000;

fn at(secs: u64) -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(secs)
}

/// A new flow (random state and PKCE) and its state.
fn flow() -> (PendingAuthorization, String) {
    let (_, pending) = AuthorizationRequest::new(
        &Endpoint::new("https://as.example.com/authorize").unwrap(),
        "s6BhdRkqt3",
        &RedirectUri::new(CB).unwrap(),
    )
    .build(&SystemRandom::new())
    .unwrap();
    let state = pending.state().to_owned();
    (pending, state)
}

fn callback(state: &str, code: &str) -> String {
    format!("{CB}?code={code}&state={state}")
}

/// The store checks where the callback arrived too (RFC 9700 §4.4.2), and the flow is used up.
#[test]
fn a_callback_at_another_redirect_uri_uses_up_its_flow() {
    let flows = PendingAuthorizations::new();
    let (pending, state) = flow();
    flows.insert("sid", pending, at(NOW)).unwrap();
    assert_eq!(
        flows
            .complete("sid", &format!("/other?code=c&state={state}"), at(NOW))
            .unwrap_err(),
        CallbackError::RedirectUriMismatch
    );
    assert_eq!(
        flows
            .complete("sid", &callback(&state, "c"), at(NOW))
            .unwrap_err(),
        CallbackError::StateAlreadyUsed
    );
    let (pending, state) = flow();
    flows.insert("sid", pending, at(NOW)).unwrap();
    let exchange = flows
        .complete("sid", &format!("/cb?code=c&state={state}"), at(NOW))
        .unwrap();
    assert_eq!(exchange.code().secret(), "c");
}

#[test]
fn a_callback_completes_its_flow_once_then_the_state_is_used() {
    let flows = PendingAuthorizations::new();
    let (pending, state) = flow();
    flows.insert("sid-1", pending, at(NOW)).unwrap();
    assert_eq!(flows.len(), 1);
    let exchange = flows
        .complete("sid-1", &callback(&state, "code-1"), at(NOW + 5))
        .unwrap();
    assert_eq!(exchange.code().secret(), "code-1");
    assert!(exchange.pkce_verifier().is_some());
    assert!(flows.is_empty());
    // BCP-02: the same state again (even with another code) is refused as used.
    assert_eq!(
        flows
            .complete("sid-1", &callback(&state, "code-2"), at(NOW + 6))
            .unwrap_err(),
        CallbackError::StateAlreadyUsed
    );
}

#[test]
fn a_callback_is_matched_within_its_session_only() {
    let flows = PendingAuthorizations::new();
    let (victims, victim_state) = flow();
    let (attackers, attacker_state) = flow();
    flows.insert("victim", victims, at(NOW)).unwrap();
    flows.insert("attacker", attackers, at(NOW)).unwrap();
    // Login CSRF: the victim's browser is sent to the callback with the attacker's state and
    // code. No flow of the victim's session has that state.
    assert_eq!(
        flows
            .complete(
                "victim",
                &callback(&attacker_state, "attackers-code"),
                at(NOW)
            )
            .unwrap_err(),
        CallbackError::NoPendingFlow
    );
    // The victim's state from another session is refused the same way, and uses nothing up.
    assert_eq!(
        flows
            .complete("attacker", &callback(&victim_state, "x"), at(NOW))
            .unwrap_err(),
        CallbackError::NoPendingFlow
    );
    assert_eq!(flows.len(), 2);
    flows
        .complete("victim", &callback(&victim_state, "c"), at(NOW))
        .unwrap();
    flows
        .complete("attacker", &callback(&attacker_state, "c"), at(NOW))
        .unwrap();
}

#[test]
fn one_session_can_have_several_flows() {
    let flows = PendingAuthorizations::new();
    let (first, first_state) = flow();
    let (second, second_state) = flow();
    flows.insert("sid", first, at(NOW)).unwrap();
    flows.insert("sid", second, at(NOW)).unwrap();
    // Two tabs: each callback finds its own flow, in either order.
    flows
        .complete("sid", &callback(&second_state, "b"), at(NOW))
        .unwrap();
    flows
        .complete("sid", &callback(&first_state, "a"), at(NOW))
        .unwrap();
}

#[test]
fn a_flow_expires_and_is_then_used_up() {
    let flows = PendingAuthorizations::new().lifetime(Duration::from_secs(60));
    let (pending, state) = flow();
    flows.insert("sid", pending, at(NOW)).unwrap();
    assert_eq!(
        flows
            .complete("sid", &callback(&state, "c"), at(NOW + 60))
            .unwrap_err(),
        CallbackError::FlowExpired
    );
    assert_eq!(
        flows
            .complete("sid", &callback(&state, "c"), at(NOW + 59))
            .unwrap_err(),
        CallbackError::StateAlreadyUsed
    );
}

#[test]
fn an_error_callback_uses_the_flow_up() {
    let flows = PendingAuthorizations::new();
    let (pending, state) = flow();
    flows.insert("sid", pending, at(NOW)).unwrap();
    let denied = format!("{CB}?error=access_denied&state={state}");
    assert!(matches!(
        flows.complete("sid", &denied, at(NOW)).unwrap_err(),
        CallbackError::AuthorizationDenied(_)
    ));
    assert_eq!(
        flows
            .complete("sid", &callback(&state, "c"), at(NOW))
            .unwrap_err(),
        CallbackError::StateAlreadyUsed
    );
}

#[test]
fn callbacks_without_a_state_or_malformed_are_refused_before_any_lookup() {
    let flows = PendingAuthorizations::new();
    let (pending, state) = flow();
    flows.insert("sid", pending, at(NOW)).unwrap();
    assert_eq!(
        flows
            .complete("sid", &format!("{CB}?code=c"), at(NOW))
            .unwrap_err(),
        CallbackError::StateMissing
    );
    assert!(matches!(
        flows
            .complete(
                "sid",
                &format!("{CB}?code=c&state={state}&state=x"),
                at(NOW)
            )
            .unwrap_err(),
        CallbackError::DuplicateParameter { .. }
    ));
    assert!(matches!(
        flows
            .complete("sid", &format!("{CB}?code=%ZZ&state={state}"), at(NOW))
            .unwrap_err(),
        CallbackError::MalformedCallback(_)
    ));
    // None of these used the flow up.
    flows
        .complete("sid", &callback(&state, "c"), at(NOW))
        .unwrap();
}

#[test]
fn a_full_store_drops_expired_flows_then_the_oldest() {
    let flows = PendingAuthorizations::new()
        .max_flows(3)
        .lifetime(Duration::from_secs(60));
    let mut states = Vec::new();
    for i in 0..3 {
        let (pending, state) = flow();
        flows
            .insert(&format!("sid-{i}"), pending, at(NOW + i))
            .unwrap();
        states.push(state);
    }
    // Full: the oldest flow (sid-0's) makes room.
    let (pending, state3) = flow();
    flows.insert("sid-3", pending, at(NOW + 10)).unwrap();
    assert_eq!(flows.len(), 3);
    assert_eq!(
        flows
            .complete("sid-0", &callback(&states[0], "c"), at(NOW + 11))
            .unwrap_err(),
        CallbackError::NoPendingFlow
    );
    flows
        .complete("sid-1", &callback(&states[1], "c"), at(NOW + 11))
        .unwrap();
    // Expired flows make room before any live one is dropped: at NOW + 62, sid-2's flow (from
    // NOW + 2) has expired, sid-3's (from NOW + 10) has not.
    flows.insert("sid-4", flow().0, at(NOW + 62)).unwrap();
    flows.insert("sid-5", flow().0, at(NOW + 62)).unwrap();
    assert_eq!(flows.len(), 3);
    flows
        .complete("sid-3", &callback(&state3, "c"), at(NOW + 63))
        .unwrap();
}

/// Open finding B3 of session 11: one session (a client hitting `/login` in a loop) could take
/// every slot, and every other user's login then failed for the flows' whole lifetime. Now a
/// session's flows beyond its cap push out its own oldest ones.
#[test]
fn one_session_cannot_lock_out_every_other_login() {
    let flows = PendingAuthorizations::new().max_flows(100);
    for _ in 0..1_000 {
        flows.insert("attacker", flow().0, at(NOW)).unwrap();
    }
    assert_eq!(flows.len(), 16);
    let (pending, state) = flow();
    flows.insert("victim", pending, at(NOW + 1)).unwrap();
    for _ in 0..1_000 {
        flows.insert("attacker", flow().0, at(NOW + 2)).unwrap();
    }
    assert_eq!(flows.len(), 17);
    flows
        .complete("victim", &callback(&state, "c"), at(NOW + 3))
        .unwrap();
}

/// A user with a login open in several tabs: each completes, up to the per-session cap; past
/// it, the session's oldest login is the one dropped.
#[test]
fn a_session_keeps_its_newest_flows_up_to_its_cap() {
    let flows = PendingAuthorizations::new().max_flows_per_session(2);
    let mut states = Vec::new();
    for i in 0..3 {
        let (pending, state) = flow();
        flows.insert("sid", pending, at(NOW + i)).unwrap();
        states.push(state);
    }
    flows.insert("other", flow().0, at(NOW + 3)).unwrap();
    assert_eq!(flows.len(), 3);
    assert_eq!(
        flows
            .complete("sid", &callback(&states[0], "c"), at(NOW + 4))
            .unwrap_err(),
        CallbackError::NoPendingFlow
    );
    for state in &states[1..] {
        flows
            .complete("sid", &callback(state, "c"), at(NOW + 4))
            .unwrap();
    }
    // Completed flows leave the session's count: two new ones fit again.
    for i in 0..2 {
        flows.insert("sid", flow().0, at(NOW + 5 + i)).unwrap();
    }
    assert_eq!(flows.len(), 3);
}

#[test]
fn a_custom_state_cannot_be_in_flight_twice_in_one_session() {
    let flows = PendingAuthorizations::new();
    let custom = || {
        AuthorizationRequest::new(
            &Endpoint::new("https://as.example.com/authorize").unwrap(),
            "s6BhdRkqt3",
            &RedirectUri::new(CB).unwrap(),
        )
        .dangerous_custom_state("fixed")
        .build(&SystemRandom::new())
        .unwrap()
        .1
    };
    flows.insert("sid", custom(), at(NOW)).unwrap();
    assert_eq!(
        flows.insert("sid", custom(), at(NOW)).unwrap_err(),
        PendingFlowError::DuplicateState
    );
    flows.insert("other-sid", custom(), at(NOW)).unwrap();
}

#[test]
fn the_same_callback_twice_at_once_completes_once() {
    for _ in 0..50 {
        let flows = Arc::new(PendingAuthorizations::new());
        let (pending, state) = flow();
        flows.insert("sid", pending, at(NOW)).unwrap();
        let url = callback(&state, "c");
        let barrier = Arc::new(Barrier::new(2));
        let racers: Vec<_> = (0..2)
            .map(|_| {
                let (flows, url, barrier) = (flows.clone(), url.clone(), barrier.clone());
                std::thread::spawn(move || {
                    barrier.wait();
                    flows.complete("sid", &url, at(NOW)).is_ok()
                })
            })
            .collect();
        let wins = racers
            .into_iter()
            .map(|r| r.join().unwrap())
            .filter(|won| *won)
            .count();
        assert_eq!(wins, 1);
    }
}

#[test]
fn debug_shows_no_state_or_verifier() {
    let flows = PendingAuthorizations::new();
    let (pending, state) = flow();
    flows.insert("session-secret", pending, at(NOW)).unwrap();
    let debug = format!("{flows:?}");
    assert!(debug.contains("in_flight: 1"), "{debug}");
    assert!(!debug.contains(&state) && !debug.contains("session-secret"));
}

/// "Never expire" spelt `Duration::MAX`: the lifetime is capped (a century) instead of
/// overflowing into "expired at once" (every login was `FlowExpired`).
#[test]
fn an_unbounded_lifetime_does_not_expire_every_flow_at_once() {
    let flows = PendingAuthorizations::new().lifetime(Duration::MAX);
    let (pending, state) = flow();
    flows.insert("sid", pending, at(NOW)).unwrap();
    flows
        .complete("sid", &callback(&state, "c"), at(NOW + 1))
        .unwrap();
}

/// The cap on a lifetime is the century the docs state: a flow kept "forever" still completes
/// 99 years on, and has expired 101 years on (never "at once", never overflowing).
#[test]
fn an_unbounded_lifetime_is_a_century() {
    const YEAR: u64 = 365 * 24 * 3600;
    let flows = PendingAuthorizations::new().lifetime(Duration::MAX);
    let (pending, state) = flow();
    flows.insert("sid", pending, at(NOW)).unwrap();
    flows
        .complete("sid", &callback(&state, "c"), at(NOW + 99 * YEAR))
        .unwrap();
    let (pending, state) = flow();
    flows.insert("sid", pending, at(NOW)).unwrap();
    assert_eq!(
        flows
            .complete("sid", &callback(&state, "c"), at(NOW + 101 * YEAR))
            .unwrap_err(),
        CallbackError::FlowExpired
    );
}

/// An empty session identifies no user agent (a request without the session cookie, say):
/// flows kept under it would all share one "session", and an attacker's flow started without
/// a cookie would complete in a victim's cookie-less browser (login CSRF), the binding the
/// store exists for skipped as silently as an empty `state` would skip the CSRF check.
#[test]
fn an_empty_session_binds_nothing() {
    let flows = PendingAuthorizations::new();
    let (attackers, attacker_state) = flow();
    assert!(flows.insert("", attackers, at(NOW)).is_err());
    assert!(flows.is_empty());
    assert!(
        flows
            .complete("", &callback(&attacker_state, "attackers-code"), at(NOW))
            .is_err()
    );
}

/// The defaults the README states: a flow waits 10 minutes for its callback, and a session
/// keeps at most 16 flows, its oldest dropped first.
#[test]
fn readme_defaults_ten_minutes_and_sixteen_flows_per_session() {
    let flows = PendingAuthorizations::new();
    let (pending, in_time) = flow();
    flows.insert("sid-a", pending, at(NOW)).unwrap();
    let (pending, late) = flow();
    flows.insert("sid-b", pending, at(NOW)).unwrap();
    flows
        .complete("sid-a", &callback(&in_time, "c"), at(NOW + 599))
        .unwrap();
    assert_eq!(
        flows
            .complete("sid-b", &callback(&late, "c"), at(NOW + 601))
            .unwrap_err(),
        CallbackError::FlowExpired
    );

    let mut states = Vec::new();
    for i in 0..17 {
        let (pending, state) = flow();
        flows.insert("tabs", pending, at(NOW + i)).unwrap();
        states.push(state);
    }
    assert_eq!(flows.len(), 16);
    assert_eq!(
        flows
            .complete("tabs", &callback(&states[0], "c"), at(NOW + 20))
            .unwrap_err(),
        CallbackError::NoPendingFlow
    );
    flows
        .complete("tabs", &callback(&states[1], "c"), at(NOW + 20))
        .unwrap();
}

/// A full store drops its oldest flow in flight, also when a (custom) `state` is used again
/// in a session after its first flow completed: the new flow is the newest, not the oldest,
/// and the completed one's place in the queue does not count for it.
#[test]
fn a_full_store_drops_the_oldest_flow_even_when_a_state_was_used_again() {
    let custom = || {
        AuthorizationRequest::new(
            &Endpoint::new("https://as.example.com/authorize").unwrap(),
            "s6BhdRkqt3",
            &RedirectUri::new(CB).unwrap(),
        )
        .dangerous_custom_state("fixed")
        .build(&SystemRandom::new())
        .unwrap()
        .1
    };
    let flows = PendingAuthorizations::new().max_flows(2);
    flows.insert("sid", custom(), at(NOW)).unwrap();
    flows
        .complete("sid", &callback("fixed", "c1"), at(NOW + 1))
        .unwrap();
    let (pending, oldest) = flow();
    flows.insert("other", pending, at(NOW + 2)).unwrap();
    flows.insert("sid", custom(), at(NOW + 3)).unwrap();
    // Full: the next flow pushes out the oldest in flight ("other"), not the reused state.
    let (pending, _) = flow();
    flows.insert("third", pending, at(NOW + 4)).unwrap();
    assert_eq!(flows.len(), 2);
    assert_eq!(
        flows
            .complete("other", &callback(&oldest, "c"), at(NOW + 5))
            .unwrap_err(),
        CallbackError::NoPendingFlow
    );
    let exchange = flows
        .complete("sid", &callback("fixed", "c2"), at(NOW + 5))
        .unwrap();
    assert_eq!(exchange.code().secret(), "c2");
}

/// Many logins completed while one waits (its user slow to sign in): when the store then
/// fills, the waiting flow is still known as the oldest and is the one dropped, however the
/// store tidied its bookkeeping of the completed ones meanwhile.
#[test]
fn a_full_store_drops_its_oldest_flow_after_many_completed_logins() {
    let flows = PendingAuthorizations::new().max_flows(3);
    let (pending, waiting) = flow();
    flows.insert("slow-user", pending, at(NOW)).unwrap();
    for i in 0..200 {
        let (pending, state) = flow();
        let session = format!("sid-{i}");
        flows.insert(&session, pending, at(NOW + 1)).unwrap();
        flows
            .complete(&session, &callback(&state, "c"), at(NOW + 1))
            .unwrap();
    }
    let (pending, a) = flow();
    flows.insert("a", pending, at(NOW + 2)).unwrap();
    let (pending, b) = flow();
    flows.insert("b", pending, at(NOW + 2)).unwrap();
    assert_eq!(flows.len(), 3);
    flows.insert("c", flow().0, at(NOW + 3)).unwrap();
    assert_eq!(flows.len(), 3);
    assert_eq!(
        flows
            .complete("slow-user", &callback(&waiting, "c"), at(NOW + 4))
            .unwrap_err(),
        CallbackError::NoPendingFlow
    );
    flows
        .complete("a", &callback(&a, "c"), at(NOW + 4))
        .unwrap();
    flows
        .complete("b", &callback(&b, "c"), at(NOW + 4))
        .unwrap();
}

/// A completed flow's `state` reads as used until the flow would have expired, and from that
/// instant on as unknown (the same boundary as the flow's own expiry).
#[test]
fn a_used_state_is_remembered_until_the_flow_would_have_expired() {
    let flows = PendingAuthorizations::new().lifetime(Duration::from_secs(60));
    assert!(flows.is_empty());
    let (pending, state) = flow();
    flows.insert("sid", pending, at(NOW)).unwrap();
    assert!(!flows.is_empty());
    flows
        .complete("sid", &callback(&state, "c"), at(NOW + 1))
        .unwrap();
    assert!(flows.is_empty());
    assert_eq!(
        flows
            .complete("sid", &callback(&state, "c"), at(NOW + 59))
            .unwrap_err(),
        CallbackError::StateAlreadyUsed
    );
    assert_eq!(
        flows
            .complete("sid", &callback(&state, "c"), at(NOW + 60))
            .unwrap_err(),
        CallbackError::NoPendingFlow
    );
}

/// When the memory of used states is full, the ones whose flows have expired make room, and
/// those still within their lifetime are kept: a replay of one of them is still told apart
/// as `StateAlreadyUsed` (BCP-02).
#[test]
fn a_full_memory_of_used_states_forgets_the_expired_ones_first() {
    let flows = PendingAuthorizations::new()
        .max_flows(2)
        .lifetime(Duration::from_secs(60));
    let complete_at = |session: &str, t: u64| {
        let (pending, state) = flow();
        flows.insert(session, pending, at(NOW + t)).unwrap();
        flows
            .complete(session, &callback(&state, "c"), at(NOW + t))
            .unwrap();
        state
    };
    let _expired = complete_at("a", 0); // remembered until NOW + 60
    let live = complete_at("b", 30); // until NOW + 90
    let _ = complete_at("c", 70); // the memory is full: "a" makes room
    assert_eq!(
        flows
            .complete("b", &callback(&live, "c"), at(NOW + 71))
            .unwrap_err(),
        CallbackError::StateAlreadyUsed
    );
}
