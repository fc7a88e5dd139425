//! The refresh state machine, driven by a `ManualClock`: SECURITY.md §4.4 (#35–42) as pure
//! transitions, §4.3 #34 (no refresh storm), and every other transition.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, SystemTime};

use http::{HeaderMap, HeaderValue, StatusCode, header::CONTENT_TYPE};
use oauth_core::clock::{Clock, ManualClock};
use oauth_core::oauth2::{
    Action, Compliance, ErrorCode, Freshness, RefreshFailure, RefreshPolicy, RefreshState, Scope,
    Terminal, Token, TokenType, parse_token_response,
};
use oauth_core::secret::{AccessToken, RefreshToken};

const S: fn(u64) -> Duration = Duration::from_secs;

fn clock() -> ManualClock {
    ManualClock::at_unix_seconds(1_700_000_000)
}

fn token(at: &str, rt: Option<&str>, lifetime: Option<u64>, now: SystemTime) -> Token {
    Token::new(AccessToken::new(at), TokenType::Bearer)
        .with_refresh_token(rt.map(RefreshToken::new))
        .with_expires_at(lifetime.map(|l| now + S(l)))
}

fn user_state(c: &ManualClock, lifetime: u64) -> RefreshState {
    RefreshState::new(
        token("at1", Some("rt1"), Some(lifetime), c.now()),
        c.now(),
        RefreshPolicy::default(),
    )
}

fn error_response(code: &str, status: StatusCode) -> oauth_core::oauth2::TokenResponseError {
    let mut h = HeaderMap::new();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    parse_token_response(
        status,
        &h,
        format!(r#"{{"error":"{code}"}}"#).as_bytes(),
        std::time::UNIX_EPOCH,
        &Compliance::strict(),
    )
    .unwrap_err()
}

#[test]
fn freshness_classification() {
    let c = clock();
    let s = user_state(&c, 3600);
    assert_eq!(s.freshness(c.now()), Freshness::Fresh);
    assert_eq!(s.freshness(c.now() + S(3540)), Freshness::RefreshSoon);
    assert_eq!(s.freshness(c.now() + S(3539)), Freshness::Fresh);
    assert_eq!(s.freshness(c.now() + S(3600)), Freshness::Expired);
    let s = RefreshState::new(
        token("a", Some("r"), None, c.now()),
        c.now(),
        RefreshPolicy::default(),
    );
    assert_eq!(s.freshness(c.now() + S(1_000_000)), Freshness::NoExpiry);
    assert_eq!(s.next_action(c.now()), Action::UseToken);
}

#[test]
fn margin_is_configurable() {
    let c = clock();
    let policy = RefreshPolicy::default().margin(S(600));
    let s = RefreshState::new(token("a", Some("r"), Some(3600), c.now()), c.now(), policy);
    assert_eq!(s.freshness(c.now() + S(3000)), Freshness::RefreshSoon);
}

#[test]
fn actions_for_each_freshness() {
    let c = clock();
    let s = user_state(&c, 3600);
    assert_eq!(s.next_action(c.now()), Action::UseToken);
    assert_eq!(s.next_action(c.now() + S(3570)), Action::RefreshMayUseOld);
    assert_eq!(s.next_action(c.now() + S(3600)), Action::RefreshThenUse);
}

#[test]
fn expired_without_refresh_token_needs_reauthorization() {
    let c = clock();
    let s = RefreshState::new(
        token("a", None, Some(100), c.now()),
        c.now(),
        RefreshPolicy::default(),
    );
    assert_eq!(s.next_action(c.now() + S(60)), Action::UseToken);
    assert_eq!(s.next_action(c.now() + S(100)), Action::Reauthorize);
}

#[test]
fn client_credentials_fetch_new_token() {
    let c = clock();
    let mut s = RefreshState::client_credentials(
        token("a", None, Some(3600), c.now()),
        c.now(),
        RefreshPolicy::default(),
    );
    assert_eq!(s.next_action(c.now()), Action::UseToken);
    assert_eq!(
        s.next_action(c.now() + S(3570)),
        Action::FetchNewToken { may_use_old: true }
    );
    c.advance(S(3600));
    assert_eq!(
        s.next_action(c.now()),
        Action::FetchNewToken { may_use_old: false }
    );
    s.refresh_started(c.now());
    assert_eq!(s.next_action(c.now()), Action::AwaitRefresh);
    s.refresh_succeeded(token("b", None, Some(3600), c.now()), c.now());
    assert_eq!(s.token().access_token().secret(), "b");
    assert_eq!(s.next_action(c.now()), Action::UseToken);
}

#[test]
fn in_flight_refresh_is_single() {
    let c = clock();
    let mut s = user_state(&c, 3600);
    c.advance(S(3570));
    s.refresh_started(c.now());
    assert!(s.is_refreshing());
    assert_eq!(s.next_action(c.now()), Action::UseToken);
    c.advance(S(30));
    assert_eq!(s.next_action(c.now()), Action::AwaitRefresh);
}

#[test]
fn abandoned_refresh_releases_but_respects_min_interval() {
    let c = clock();
    let mut s = user_state(&c, 3600);
    c.advance(S(3600));
    s.refresh_started(c.now());
    s.refresh_abandoned();
    assert!(!s.is_refreshing());
    assert_eq!(
        s.next_action(c.now()),
        Action::Wait {
            until: c.now() + S(5)
        }
    );
    c.advance(S(5));
    assert_eq!(s.next_action(c.now()), Action::RefreshThenUse);
}

#[test]
fn s4_3_case34_short_lifetime_no_refresh_storm() {
    let c = clock();
    let mut s = user_state(&c, 5);
    // A 5 s token under a 60 s margin is not "about to expire" on arrival.
    assert_eq!(s.next_action(c.now()), Action::UseToken);
    let mut refreshes = 0;
    // Simulate 60 s of traffic, one request every 100 ms.
    for _ in 0..600 {
        match s.next_action(c.now()) {
            Action::RefreshMayUseOld | Action::RefreshThenUse => {
                refreshes += 1;
                s.refresh_started(c.now());
                let t = token("next", None, Some(5), c.now());
                s.refresh_succeeded(t, c.now());
            }
            Action::UseToken | Action::Wait { .. } => {}
            other => panic!("unexpected {other:?}"),
        }
        c.advance(Duration::from_millis(100));
    }
    // At most one refresh per token: each 5 s token is refreshed once, at half its life
    // (the effective margin and minimum interval of a short token): ≤ 24 in 60 s, not 600.
    assert!(refreshes <= 24, "{refreshes} refreshes");
    assert!(refreshes >= 12, "{refreshes} refreshes");
}

#[test]
fn short_tokens_can_be_refreshed_at_half_life_despite_the_default_min_interval() {
    let c = clock();
    let mut s = user_state(&c, 4);
    s.refresh_started(c.now());
    s.refresh_succeeded(token("at2", None, Some(4), c.now()), c.now());
    c.advance(S(2));
    // The default min_interval is 5 s, but a 4 s token may be refreshed every 2 s.
    assert_eq!(s.next_action(c.now()), Action::RefreshMayUseOld);
}

#[test]
fn a_token_born_expired_is_refreshed_at_most_once_a_second() {
    let c = clock();
    let mut s = user_state(&c, 0);
    s.refresh_started(c.now());
    s.refresh_succeeded(token("at2", None, Some(0), c.now()), c.now());
    assert!(matches!(s.next_action(c.now()), Action::Wait { .. }));
    c.advance(Duration::from_millis(999));
    assert!(matches!(s.next_action(c.now()), Action::Wait { .. }));
    c.advance(Duration::from_millis(1));
    assert_eq!(s.next_action(c.now()), Action::RefreshThenUse);
}

#[test]
fn s4_4_case35_invalid_grant_is_terminal_and_keeps_the_token() {
    let c = clock();
    let mut s = user_state(&c, 3600);
    c.advance(S(3600));
    s.refresh_started(c.now());
    let failure = RefreshFailure::from_response_error(&error_response(
        "invalid_grant",
        StatusCode::BAD_REQUEST,
    ));
    assert_eq!(failure, RefreshFailure::InvalidGrant);
    s.refresh_failed(failure, c.now());
    assert_eq!(s.terminal(), Some(&Terminal::ReauthorizationRequired));
    assert!(!s.is_usable());
    // Not deleted.
    assert_eq!(s.token().access_token().secret(), "at1");
    assert_eq!(s.token().refresh_token().unwrap().secret(), "rt1");
    // No retry loop, ever.
    for _ in 0..10 {
        c.advance(S(3600));
        assert_eq!(s.next_action(c.now()), Action::Reauthorize);
    }
}

#[test]
fn s4_4_case36_rotation_race_reset_with_stored_token() {
    let c = clock();
    let mut s = user_state(&c, 3600);
    c.advance(S(3600));
    s.refresh_started(c.now());
    s.refresh_failed(RefreshFailure::InvalidGrant, c.now());
    // The layer re-reads the store: another process rotated the refresh token.
    let stored = token("at-other", Some("rt-other"), Some(3600), c.now());
    assert_ne!(stored.refresh_token(), s.token().refresh_token());
    s.reset(stored, c.now());
    assert!(s.is_usable());
    assert_eq!(s.next_action(c.now()), Action::UseToken);
    assert_eq!(s.token().refresh_token().unwrap().secret(), "rt-other");
}

#[test]
fn s4_4_case37_invalid_client_is_a_distinct_terminal_error() {
    for code in ["invalid_client", "unauthorized_client"] {
        let c = clock();
        let mut s = user_state(&c, 3600);
        c.advance(S(3600));
        s.refresh_started(c.now());
        let failure =
            RefreshFailure::from_response_error(&error_response(code, StatusCode::UNAUTHORIZED));
        s.refresh_failed(failure, c.now());
        let expected = ErrorCode::parse(code);
        assert_eq!(
            s.terminal(),
            Some(&Terminal::ClientMisconfigured(expected.clone()))
        );
        assert_eq!(
            s.next_action(c.now()),
            Action::ClientMisconfigured(expected)
        );
        assert_ne!(s.next_action(c.now()), Action::Reauthorize);
    }
}

/// A user grant refused for its client stays refused (SECURITY.md #37), however long one
/// waits: only the application can change its configuration.
#[test]
fn a_user_grants_client_misconfiguration_is_never_retried() {
    let c = clock();
    let mut s = user_state(&c, 3600);
    c.advance(S(3600));
    s.refresh_started(c.now());
    s.refresh_failed(
        RefreshFailure::ClientMisconfigured(ErrorCode::InvalidClient),
        c.now(),
    );
    for wait in [S(1), S(300), S(86_400 * 365)] {
        assert_eq!(
            s.next_action(c.now() + wait),
            Action::ClientMisconfigured(ErrorCode::InvalidClient)
        );
    }
}

/// A client-credentials source refused for its client asks again after the longest back-off,
/// once (nothing is spent, and the client may have been fixed at the server): a long-running
/// service recovers without a restart, and without a storm. Meanwhile the refused token is
/// not used, even before it expires.
#[test]
fn client_credentials_refused_for_the_client_ask_again_after_the_longest_backoff() {
    let c = clock();
    let policy = RefreshPolicy::default();
    let mut s =
        RefreshState::client_credentials(token("a", None, Some(3600), c.now()), c.now(), policy);
    // A proactive fetch, 30 s before expiry, is refused.
    c.advance(S(3570));
    assert_eq!(
        s.next_action(c.now()),
        Action::FetchNewToken { may_use_old: true }
    );
    s.refresh_started(c.now());
    s.refresh_failed(
        RefreshFailure::ClientMisconfigured(ErrorCode::InvalidClient),
        c.now(),
    );
    let refused = Action::ClientMisconfigured(ErrorCode::InvalidClient);
    assert_eq!(s.next_action(c.now()), refused);
    assert!(!s.is_usable());
    c.advance(policy.max_backoff - S(1));
    assert_eq!(s.next_action(c.now()), refused);
    c.advance(S(1));
    assert_eq!(
        s.next_action(c.now()),
        Action::FetchNewToken { may_use_old: false }
    );
    s.refresh_started(c.now());
    assert_eq!(s.next_action(c.now()), Action::AwaitRefresh);
    // Refused again: another full wait.
    s.refresh_failed(
        RefreshFailure::ClientMisconfigured(ErrorCode::UnauthorizedClient),
        c.now(),
    );
    c.advance(policy.max_backoff - S(1));
    assert_eq!(
        s.next_action(c.now()),
        Action::ClientMisconfigured(ErrorCode::UnauthorizedClient)
    );
    c.advance(S(1));
    s.refresh_started(c.now());
    s.refresh_succeeded(token("b", None, Some(3600), c.now()), c.now());
    assert!(s.is_usable());
    assert_eq!(s.next_action(c.now()), Action::UseToken);
    // A clock stepped back by an hour does not hold the next attempt back for the hour.
    let mut s =
        RefreshState::client_credentials(token("a", None, Some(3600), c.now()), c.now(), policy);
    c.advance(S(3600));
    s.refresh_started(c.now());
    s.refresh_failed(
        RefreshFailure::ClientMisconfigured(ErrorCode::InvalidClient),
        c.now(),
    );
    assert_eq!(
        s.next_action(c.now() - S(3600)),
        Action::FetchNewToken { may_use_old: false }
    );
}

/// A client-credentials request answered `invalid_grant` (some servers answer so for a
/// client that may not use the grant) has no user to authorize again: like a refused client,
/// it is asked again once the longest back-off has passed, as a source's first fetch is.
#[test]
fn client_credentials_answered_invalid_grant_ask_again_after_the_longest_backoff() {
    let c = clock();
    let policy = RefreshPolicy::default();
    let mut s =
        RefreshState::client_credentials(token("a", None, Some(3600), c.now()), c.now(), policy);
    c.advance(S(3600));
    s.refresh_started(c.now());
    s.refresh_failed(RefreshFailure::InvalidGrant, c.now());
    assert_eq!(s.next_action(c.now()), Action::Reauthorize);
    assert_eq!(s.terminal(), Some(&Terminal::ReauthorizationRequired));
    c.advance(policy.max_backoff - S(1));
    assert_eq!(s.next_action(c.now()), Action::Reauthorize);
    c.advance(S(1));
    assert_eq!(
        s.next_action(c.now()),
        Action::FetchNewToken { may_use_old: false }
    );
    s.refresh_started(c.now());
    assert_eq!(s.next_action(c.now()), Action::AwaitRefresh);
    s.refresh_succeeded(token("b", None, Some(3600), c.now()), c.now());
    assert_eq!(s.next_action(c.now()), Action::UseToken);
    // A user grant's `invalid_grant` stays terminal.
    let mut s = user_state(&c, 10);
    c.advance(S(10));
    s.refresh_started(c.now());
    s.refresh_failed(RefreshFailure::InvalidGrant, c.now());
    c.advance(S(86_400));
    assert_eq!(s.next_action(c.now()), Action::Reauthorize);
}

/// Policy durations too long to add to a `SystemTime` (`Duration::MAX`, meant as "no limit"
/// or "never") hold renewal back as long as they say; they used to overflow and wrap round to
/// "now", which allowed a renewal at once: a refresh after every 401, a refused client asked
/// again after the minimum interval, a `Retry-After` ignored.
#[test]
fn policy_durations_too_long_for_the_clock_never_mean_at_once() {
    let c = clock();
    let forever = RefreshPolicy::default()
        .initial_backoff(Duration::MAX)
        .max_backoff(Duration::MAX)
        .min_interval(Duration::MAX);
    // A token with no expiry, refreshed and then rejected at once: the minimum interval holds.
    let mut s = RefreshState::new(token("a", Some("r"), None, c.now()), c.now(), forever);
    s.token_rejected();
    assert_eq!(s.next_action(c.now()), Action::RefreshThenUse);
    s.refresh_started(c.now());
    s.refresh_succeeded(token("b", None, None, c.now()), c.now());
    s.token_rejected();
    c.advance(S(86_400));
    assert!(
        matches!(s.next_action(c.now()), Action::Wait { .. }),
        "min_interval = MAX: {:?}",
        s.next_action(c.now())
    );

    // A transient failure backs off for as long as the policy says.
    let mut s = RefreshState::new(token("a", Some("r"), Some(10), c.now()), c.now(), forever);
    c.advance(S(10));
    s.refresh_started(c.now());
    s.refresh_failed(RefreshFailure::Transient, c.now());
    c.advance(S(86_400));
    assert!(
        matches!(s.next_action(c.now()), Action::Wait { .. }),
        "backoff = MAX: {:?}",
        s.next_action(c.now())
    );

    // A refused client-credentials client is not asked again within a day.
    let mut s =
        RefreshState::client_credentials(token("a", None, Some(10), c.now()), c.now(), forever);
    c.advance(S(10));
    s.refresh_started(c.now());
    s.refresh_failed(
        RefreshFailure::ClientMisconfigured(ErrorCode::InvalidClient),
        c.now(),
    );
    c.advance(S(86_400));
    assert_eq!(
        s.next_action(c.now()),
        Action::ClientMisconfigured(ErrorCode::InvalidClient)
    );

    // A server's Retry-After is honoured when the longest back-off is unbounded.
    let policy = RefreshPolicy::default().max_backoff(Duration::MAX);
    let mut s = RefreshState::new(token("a", Some("r"), Some(10), c.now()), c.now(), policy);
    c.advance(S(10));
    s.refresh_started(c.now());
    s.refresh_failed(RefreshFailure::Transient, c.now());
    s.retry_not_before(c.now() + S(3600), c.now());
    c.advance(S(60));
    assert!(
        matches!(s.next_action(c.now()), Action::Wait { .. }),
        "Retry-After with max_backoff = MAX: {:?}",
        s.next_action(c.now())
    );
}

/// SECURITY.md §4.1 #6 (a retry honours `Retry-After`, with a cap): a server's `Retry-After`
/// beyond `RefreshPolicy::max_backoff` holds the next refresh back for `max_backoff` only.
#[test]
fn s4_1_case6_a_retry_after_beyond_the_longest_backoff_is_capped() {
    let c = clock();
    let max = RefreshPolicy::default().max_backoff;
    let mut s = user_state(&c, 10);
    c.advance(S(10));
    s.refresh_started(c.now());
    s.refresh_failed(RefreshFailure::Transient, c.now());
    s.retry_not_before(c.now() + S(3600), c.now());
    assert_eq!(
        s.next_action(c.now()),
        Action::Wait {
            until: c.now() + max
        }
    );
    c.advance(max);
    assert_eq!(s.next_action(c.now()), Action::RefreshThenUse);
}

#[test]
fn s4_4_case38_transient_failure_keeps_tokens_and_backs_off() {
    let c = clock();
    let mut s = user_state(&c, 3600);
    // Inside the margin, the old token still valid.
    c.advance(S(3570));
    assert_eq!(s.next_action(c.now()), Action::RefreshMayUseOld);
    s.refresh_started(c.now());
    let failure = RefreshFailure::from_response_error(&error_response(
        "temporarily_unavailable",
        StatusCode::SERVICE_UNAVAILABLE,
    ));
    assert_eq!(failure, RefreshFailure::Transient);
    s.refresh_failed(failure, c.now());
    assert_eq!(s.failures(), 1);
    assert_eq!(s.token().access_token().secret(), "at1");
    assert_eq!(s.token().refresh_token().unwrap().secret(), "rt1");
    // Old token not actually expired: keep using it during back-off.
    assert_eq!(s.next_action(c.now()), Action::UseToken);
    c.advance(S(5));
    assert_eq!(s.next_action(c.now()), Action::RefreshMayUseOld);
    s.refresh_started(c.now());
    s.refresh_failed(RefreshFailure::Transient, c.now());
    // Expired now: wait out the doubled back-off (10 s), no refresh storm.
    c.advance(S(25));
    assert_eq!(s.freshness(c.now()), Freshness::Expired);
    let failed_at = c.now() - S(25);
    assert_eq!(
        s.next_action(c.now()),
        Action::RefreshThenUse,
        "back-off (10 s from {failed_at:?}) has passed"
    );
    s.refresh_started(c.now());
    s.refresh_failed(RefreshFailure::Transient, c.now());
    assert_eq!(
        s.next_action(c.now()),
        Action::Wait {
            until: c.now() + S(20)
        }
    );
    assert!(s.is_usable());
}

#[test]
fn transient_backoff_is_capped() {
    let c = clock();
    let mut s = user_state(&c, 10);
    c.advance(S(10));
    for _ in 0..40 {
        s.refresh_started(c.now());
        s.refresh_failed(RefreshFailure::Transient, c.now());
    }
    assert_eq!(
        s.next_action(c.now()),
        Action::Wait {
            until: c.now() + S(300)
        }
    );
    // Unknown errors (e.g. a malformed 200) are transient, never terminal.
    assert_eq!(
        RefreshFailure::from_response_error(
            &oauth_core::oauth2::TokenResponseError::MissingAccessToken
        ),
        RefreshFailure::Transient
    );
}

#[test]
fn s4_4_case39_response_without_refresh_token_keeps_the_old_one() {
    let c = clock();
    let mut s = user_state(&c, 3600);
    c.advance(S(3600));
    s.refresh_started(c.now());
    let outcome = s.refresh_succeeded(token("at2", None, Some(3600), c.now()), c.now());
    assert!(!outcome.refresh_token_rotated);
    assert_eq!(s.token().access_token().secret(), "at2");
    assert_eq!(s.token().refresh_token().unwrap().secret(), "rt1");
    // An empty refresh_token in the response is absent too (parsed as None).
    let mut h = HeaderMap::new();
    h.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let parsed = parse_token_response(
        StatusCode::OK,
        &h,
        br#"{"access_token":"at3","token_type":"Bearer","refresh_token":""}"#,
        c.now(),
        &Compliance::strict(),
    )
    .unwrap();
    s.refresh_succeeded(parsed, c.now());
    assert_eq!(s.token().refresh_token().unwrap().secret(), "rt1");
}

#[test]
fn s4_4_case40_new_refresh_token_replaces_the_old_one() {
    let c = clock();
    let mut s = user_state(&c, 3600);
    c.advance(S(3600));
    s.refresh_started(c.now());
    let outcome = s.refresh_succeeded(token("at2", Some("rt2"), Some(3600), c.now()), c.now());
    assert!(outcome.refresh_token_rotated);
    assert_eq!(s.token().refresh_token().unwrap().secret(), "rt2");
    assert_eq!(s.next_action(c.now()), Action::UseToken);
}

/// A response that sends the same refresh token back (servers that do not rotate often do)
/// did not rotate it: the outcome says so, so an application that persists only on rotation,
/// or counts rotations, is not misled.
#[test]
fn the_same_refresh_token_sent_back_is_no_rotation() {
    let c = clock();
    let mut s = user_state(&c, 3600);
    c.advance(S(3600));
    s.refresh_started(c.now());
    let outcome = s.refresh_succeeded(token("at2", Some("rt1"), Some(3600), c.now()), c.now());
    assert!(!outcome.refresh_token_rotated);
    assert_eq!(s.token().refresh_token().unwrap().secret(), "rt1");
}

#[test]
fn s4_4_case41_new_token_stays_in_memory_without_double_refresh() {
    // Whatever the persistence callback does after `refresh_succeeded`, the state already holds
    // the new token and asks for no second refresh.
    let c = clock();
    let mut s = user_state(&c, 3600);
    c.advance(S(3600));
    assert_eq!(s.next_action(c.now()), Action::RefreshThenUse);
    s.refresh_started(c.now());
    s.refresh_succeeded(token("at2", Some("rt2"), Some(3600), c.now()), c.now());
    let persist = |_t: &Token| -> Result<(), &'static str> { Err("disk full") };
    assert!(persist(s.token()).is_err());
    assert_eq!(s.token().access_token().secret(), "at2");
    assert_eq!(s.next_action(c.now()), Action::UseToken);
}

#[test]
fn s4_4_case42_narrower_scope_accepted_and_recorded() {
    let c = clock();
    let mut s = RefreshState::new(
        token("at1", Some("rt1"), Some(3600), c.now()).with_scope(Some(Scope::parse("read write"))),
        c.now(),
        RefreshPolicy::default(),
    );
    c.advance(S(3600));
    s.refresh_started(c.now());
    let narrower = token("at2", None, Some(3600), c.now()).with_scope(Some(Scope::parse("read")));
    let outcome = s.refresh_succeeded(narrower, c.now());
    assert!(outcome.scope_changed);
    assert_eq!(s.token().scope().unwrap().to_string(), "read");
    // A response without scope keeps the previous one (RFC 6749 §5.1).
    c.advance(S(3600));
    s.refresh_started(c.now());
    let outcome = s.refresh_succeeded(token("at3", None, Some(3600), c.now()), c.now());
    assert!(!outcome.scope_changed);
    assert_eq!(s.token().scope().unwrap().to_string(), "read");
}

#[test]
fn rejected_token_forces_one_refresh_then_waits() {
    let c = clock();
    let mut s = RefreshState::new(
        token("at1", Some("rt1"), None, c.now()),
        c.now(),
        RefreshPolicy::default(),
    );
    // No expiry: a 401 invalid_token is the only refresh trigger.
    s.token_rejected();
    assert_eq!(s.next_action(c.now()), Action::RefreshThenUse);
    s.refresh_started(c.now());
    s.refresh_succeeded(token("at2", None, None, c.now()), c.now());
    assert_eq!(s.next_action(c.now()), Action::UseToken);
    // The new token is rejected at once: no loop, wait for the minimum interval.
    s.token_rejected();
    assert_eq!(
        s.next_action(c.now()),
        Action::Wait {
            until: c.now() + S(5)
        }
    );
}

#[test]
fn clock_going_backwards_does_not_panic() {
    let c = clock();
    let mut s = user_state(&c, 3600);
    c.set(std::time::UNIX_EPOCH);
    assert_eq!(s.next_action(c.now()), Action::UseToken);
    s.refresh_started(c.now());
    s.refresh_failed(RefreshFailure::Transient, c.now());
    let _ = s.next_action(c.now());
}

/// The wall clock stepped back an hour after a failed refresh: the renewal is not held back
/// for the hour (a wait longer than any back-off means the clock moved).
#[test]
fn a_clock_stepped_back_does_not_hold_renewal_back_for_the_step() {
    let c = clock();
    let mut s = user_state(&c, 3600);
    s.token_rejected();
    s.refresh_started(c.now());
    s.refresh_failed(RefreshFailure::Transient, c.now());
    assert_eq!(
        s.next_action(c.now()),
        Action::Wait {
            until: c.now() + S(5)
        }
    );
    c.set(c.now() - S(3600));
    assert_eq!(s.next_action(c.now()), Action::RefreshThenUse);
}

/// A refresh response without an ID token (the usual case) keeps the one the token had; one
/// with `"scope":""` keeps the scope.
#[test]
fn a_refresh_keeps_the_id_token_and_an_empty_scope_means_unchanged() {
    let c = clock();
    let first = token("at1", Some("rt1"), Some(3600), c.now())
        .with_id_token(Some(oauth_core::secret::IdToken::new("eyJ.id.token")))
        .with_scope(Some(Scope::parse("read write")));
    let mut s = RefreshState::new(first, c.now(), RefreshPolicy::default());
    s.token_rejected();
    s.refresh_started(c.now());
    let body = br#"{"access_token":"at2","token_type":"Bearer","expires_in":3600,"scope":""}"#;
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static("application/json"));
    let new = parse_token_response(
        StatusCode::OK,
        &headers,
        body,
        c.now(),
        &Compliance::strict(),
    )
    .unwrap();
    assert!(new.scope().is_none());
    let outcome = s.refresh_succeeded(new, c.now());
    assert!(!outcome.scope_changed);
    assert_eq!(s.token().access_token().secret(), "at2");
    assert_eq!(s.token().id_token().unwrap().secret(), "eyJ.id.token");
    assert_eq!(s.token().scope().unwrap().to_string(), "read write");
    assert_eq!(s.token().refresh_token().unwrap().secret(), "rt1");
}

/// The defaults the docs and the README state: a 60 s margin, refreshes at least 5 s apart, a
/// back-off from 5 s doubling up to 5 min.
#[test]
fn the_default_policy_is_the_documented_one() {
    let policy = RefreshPolicy::default();
    assert_eq!(policy.margin, S(60));
    assert_eq!(policy.min_interval, S(5));
    assert_eq!(policy.initial_backoff, S(5));
    assert_eq!(policy.max_backoff, S(300));
    let waits: Vec<_> = (1..=8).map(|n| policy.backoff(n, None)).collect();
    assert_eq!(
        waits,
        [S(5), S(10), S(20), S(40), S(80), S(160), S(300), S(300)]
    );
    // A server's Retry-After lengthens the wait, up to the longest back-off.
    assert_eq!(policy.backoff(1, Some(S(30))), S(30));
    assert_eq!(policy.backoff(1, Some(S(3600))), S(300));
}

/// `policy()` gives back the policy the state was made with (the layer reads its margin and
/// back-off from it), not the default one.
#[test]
fn the_state_keeps_the_policy_it_was_given() {
    let c = clock();
    let policy = RefreshPolicy::default()
        .margin(S(120))
        .min_interval(S(7))
        .initial_backoff(S(3))
        .max_backoff(S(90));
    let s = RefreshState::new(token("a", Some("r"), Some(3600), c.now()), c.now(), policy);
    assert_eq!(*s.policy(), policy);
    let s =
        RefreshState::client_credentials(token("a", None, Some(3600), c.now()), c.now(), policy);
    assert_eq!(*s.policy(), policy);
}

/// `failures()` counts the transient failures in a row: none at first, one more per failure,
/// and none again after a success.
#[test]
fn failures_count_transient_failures_in_a_row_and_a_success_clears_them() {
    let c = clock();
    let mut s = user_state(&c, 10);
    assert_eq!(s.failures(), 0);
    c.advance(S(10));
    for n in 1..=3 {
        s.refresh_started(c.now());
        s.refresh_failed(RefreshFailure::Transient, c.now());
        assert_eq!(s.failures(), n);
        c.advance(S(60));
    }
    s.refresh_started(c.now());
    s.refresh_succeeded(token("at2", None, Some(3600), c.now()), c.now());
    assert_eq!(s.failures(), 0);
}

/// A server's `Retry-After` lengthens the wait but never shortens a longer back-off already
/// running: an early `Retry-After` after three failures in a row still waits out the 20 s.
#[test]
fn retry_after_never_shortens_a_longer_backoff() {
    let c = clock();
    let mut s = user_state(&c, 10);
    c.advance(S(10));
    for _ in 0..3 {
        s.refresh_started(c.now());
        s.refresh_failed(RefreshFailure::Transient, c.now());
    }
    let backoff_until = c.now() + S(20);
    assert_eq!(
        s.next_action(c.now()),
        Action::Wait {
            until: backoff_until
        }
    );
    s.retry_not_before(c.now() + S(1), c.now());
    assert_eq!(
        s.next_action(c.now()),
        Action::Wait {
            until: backoff_until
        }
    );
    // A later one does lengthen it.
    s.retry_not_before(c.now() + S(45), c.now());
    assert_eq!(
        s.next_action(c.now()),
        Action::Wait {
            until: c.now() + S(45)
        }
    );
}
