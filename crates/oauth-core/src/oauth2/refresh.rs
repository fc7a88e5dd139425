//! The refresh state machine: when to use, refresh or give up on a token (RFC 6749 §6,
//! RFC 9700 §4.14).
//!
//! [`RefreshState`] is pure data (no locks, no async, no clock reads): the caller passes `now`
//! from its [`Clock`](crate::clock::Clock), asks [`RefreshState::next_action`], performs the I/O
//! the action names, and reports the outcome. The tower layer keeps one `RefreshState` per token
//! behind its single-flight lock.
//!
//! ```
//! use std::time::Duration;
//! use oauth_core::clock::{Clock, ManualClock};
//! use oauth_core::oauth2::{Action, RefreshFailure, RefreshPolicy, RefreshState, Token, TokenType};
//! use oauth_core::secret::{AccessToken, RefreshToken};
//!
//! let clock = ManualClock::at_unix_seconds(1_700_000_000);
//! let token = Token::new(AccessToken::new("at1"), TokenType::Bearer)
//!     .with_expires_at(Some(clock.now() + Duration::from_secs(3600)))
//!     .with_refresh_token(Some(RefreshToken::new("rt1")));
//! let mut state = RefreshState::new(token, clock.now(), RefreshPolicy::default());
//! assert_eq!(state.next_action(clock.now()), Action::UseToken);
//!
//! clock.advance(Duration::from_secs(3600 - 30)); // inside the 60 s margin
//! assert_eq!(state.next_action(clock.now()), Action::RefreshMayUseOld);
//!
//! // The layer sends TokenRequest::refresh_token(.., state.token().refresh_token().unwrap()).
//! state.refresh_started(clock.now());
//! assert_eq!(state.next_action(clock.now()), Action::UseToken); // one refresh in flight
//!
//! // 503 from the token endpoint: keep the old token, back off.
//! state.refresh_failed(RefreshFailure::Transient, clock.now());
//! assert_eq!(state.next_action(clock.now()), Action::UseToken);
//!
//! clock.advance(Duration::from_secs(10));
//! state.refresh_started(clock.now());
//! let new = Token::new(AccessToken::new("at2"), TokenType::Bearer)
//!     .with_expires_at(Some(clock.now() + Duration::from_secs(3600)));
//! let outcome = state.refresh_succeeded(new, clock.now());
//! assert!(!outcome.refresh_token_rotated); // no new refresh token: the old one is kept
//! assert_eq!(state.token().refresh_token().unwrap().secret(), "rt1");
//! ```
//!
//! # Driving it from a layer
//!
//! 1. Under the lock, `next_action(now)`.
//! 2. [`Action::UseToken`]: send with `token()`. [`Action::RefreshMayUseOld`]: call
//!    `refresh_started`, send the refresh in the background (or inline) and meanwhile use
//!    `token()`. [`Action::RefreshThenUse`] / [`Action::FetchNewToken`]: call `refresh_started`,
//!    send the refresh (or client-credentials) request, wait. [`Action::AwaitRefresh`]: wait for
//!    the refresh in flight. [`Action::Wait`]: fail the request as transient (retry after
//!    `until`). [`Action::Reauthorize`] / [`Action::ClientMisconfigured`]: fail (a
//!    client-credentials token is asked for again after the longest back-off).
//! 3. Report `refresh_succeeded` (persist `token()` afterwards), `refresh_failed` with
//!    [`RefreshFailure::from_response_error`], or `refresh_abandoned` if the future was dropped.
//! 4. On a 401 `invalid_token` from the resource server, `token_rejected()`, then go to 1.
//! 5. On `invalid_grant`, re-read the store once: if its refresh token differs (another process
//!    rotated it), `reset` with the stored token.

use std::time::{Duration, SystemTime};

use super::response::{ErrorCode, TokenResponseError};
use super::token::Token;
use crate::clock::deadline_after;

/// Timing rules for refreshing (all configurable): start from the default and change what
/// differs, `RefreshPolicy::default().margin(Duration::from_secs(120))`. (More rules may come:
/// the type is `#[non_exhaustive]`, so it is built this way, not with a struct literal.)
///
/// ```
/// use std::time::Duration;
/// use oauth_core::oauth2::RefreshPolicy;
///
/// let policy = RefreshPolicy::default()
///     .margin(Duration::from_secs(120))
///     .max_backoff(Duration::from_secs(60));
/// assert_eq!(policy.margin, Duration::from_secs(120));
/// assert_eq!(policy.min_interval, RefreshPolicy::default().min_interval);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct RefreshPolicy {
    /// Refresh this long before expiry (default 60 s). For tokens whose whole lifetime is
    /// shorter than twice the margin, half the lifetime is used instead, so a 5-second token
    /// does not look "about to expire" the moment it arrives. Keep it above a couple of
    /// seconds: the expiry is reckoned from `expires_in` (tower-oauth2's grant client counts
    /// it from the moment the token request was sent, so a slow answer only makes it earlier),
    /// and a server that counts lifetimes in whole seconds (oidc-provider, for one) expires a
    /// token up to a second before that.
    pub margin: Duration,
    /// The minimum time between two refresh attempts (default 5 s): bounds refresh storms,
    /// including repeated 401s on fresh tokens. For a token whose whole lifetime is shorter
    /// than twice this, half its lifetime is used instead, but at least a second (or this, if
    /// shorter), so that a 4-second token can be refreshed every 2 seconds.
    pub min_interval: Duration,
    /// The wait after the first transient failure (default 5 s), doubled per further failure.
    pub initial_backoff: Duration,
    /// The longest wait after transient failures (default 5 min); also how long a
    /// client-credentials source waits before asking again after its client was refused.
    pub max_backoff: Duration,
}

impl RefreshPolicy {
    /// Sets [`margin`](Self#structfield.margin): refresh this long before expiry.
    #[must_use]
    pub const fn margin(mut self, margin: Duration) -> Self {
        self.margin = margin;
        self
    }

    /// Sets [`min_interval`](Self#structfield.min_interval): the minimum time between two
    /// refresh attempts.
    #[must_use]
    pub const fn min_interval(mut self, min_interval: Duration) -> Self {
        self.min_interval = min_interval;
        self
    }

    /// Sets [`initial_backoff`](Self#structfield.initial_backoff): the wait after the first
    /// transient failure.
    #[must_use]
    pub const fn initial_backoff(mut self, initial_backoff: Duration) -> Self {
        self.initial_backoff = initial_backoff;
        self
    }

    /// Sets [`max_backoff`](Self#structfield.max_backoff): the longest wait after transient
    /// failures.
    #[must_use]
    pub const fn max_backoff(mut self, max_backoff: Duration) -> Self {
        self.max_backoff = max_backoff;
        self
    }

    /// The wait after `failures` transient failures in a row: `initial_backoff`, doubled for
    /// each further failure, at most `max_backoff`; and at least `retry_after` (a server's
    /// `Retry-After`, itself capped at `max_backoff`).
    pub fn backoff(&self, failures: u32, retry_after: Option<Duration>) -> Duration {
        let shift = failures.saturating_sub(1).min(20);
        let doubled = self
            .initial_backoff
            .saturating_mul(1u32 << shift)
            .min(self.max_backoff);
        retry_after.map_or(doubled, |after| doubled.max(after.min(self.max_backoff)))
    }
}

impl Default for RefreshPolicy {
    fn default() -> Self {
        Self {
            margin: Duration::from_secs(60),
            min_interval: Duration::from_secs(5),
            initial_backoff: Duration::from_secs(5),
            max_backoff: Duration::from_secs(300),
        }
    }
}

/// How fresh the access token is at a given time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Freshness {
    /// Valid and outside the refresh margin.
    Fresh,
    /// Valid, but inside the refresh margin.
    RefreshSoon,
    /// Past its expiry, or rejected by a resource server.
    Expired,
    /// The server gave no `expires_in`: use it until a resource server rejects it.
    NoExpiry,
}

/// How the token can be renewed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Renewal {
    /// With its refresh token (if it has one); otherwise the user must authorize again.
    RefreshToken,
    /// By a new client-credentials request.
    ClientCredentials,
}

/// Why a token can no longer be used or renewed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Terminal {
    /// `invalid_grant`, or expired with no refresh token: the user must authorize again.
    ReauthorizationRequired,
    /// `invalid_client`, `unauthorized_client`, `unsupported_grant_type`, `invalid_request`,
    /// `invalid_scope` or `invalid_target`: the client configuration is wrong.
    ClientMisconfigured(ErrorCode),
}

/// What the caller should do next.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Use the current token.
    UseToken,
    /// Refresh now and use the new token (the current one expired or was rejected).
    RefreshThenUse,
    /// Start a refresh; the current token is still valid and may be used meanwhile.
    RefreshMayUseOld,
    /// Client credentials: request a new token. `may_use_old` says whether the current one is
    /// still valid meanwhile.
    FetchNewToken {
        /// Whether the current token is still valid.
        may_use_old: bool,
    },
    /// The token expired and a refresh is already in flight: wait for its outcome.
    AwaitRefresh,
    /// The token expired and renewal is rate-limited or backing off until `until`.
    Wait {
        /// When a renewal may be attempted again.
        until: SystemTime,
    },
    /// Unusable: the user must authorize again. (A client-credentials token, which has no
    /// user, is asked for again once [`RefreshPolicy::max_backoff`] has passed.)
    Reauthorize,
    /// Unusable: the client configuration is wrong. (A client-credentials token is asked for
    /// again once [`RefreshPolicy::max_backoff`] has passed.)
    ClientMisconfigured(ErrorCode),
}

/// How a refresh attempt failed, as far as the state machine cares.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RefreshFailure {
    /// Timeout, transport error, 5xx, 429, or anything not known to be final: keep the tokens and
    /// back off.
    Transient,
    /// `invalid_grant` (RFC 6749 §5.2): the refresh token is dead.
    InvalidGrant,
    /// `invalid_client`, `unauthorized_client`, `unsupported_grant_type`, `invalid_request`,
    /// `invalid_scope` or `invalid_target`: sending the same request again cannot fix it.
    ClientMisconfigured(ErrorCode),
}

impl RefreshFailure {
    /// Classifies a token endpoint error. `invalid_grant` ends the grant; the errors that say
    /// the request itself is wrong (`invalid_client`, `unauthorized_client`,
    /// `unsupported_grant_type`, `invalid_request`, `invalid_scope`, `invalid_target`) are
    /// client configuration errors, which sending the same request again cannot fix. Anything
    /// else is treated as transient (with back-off). No failure deletes a token.
    #[must_use]
    pub fn from_response_error(error: &TokenResponseError) -> Self {
        match error.oauth_error().map(|e| &e.code) {
            Some(ErrorCode::InvalidGrant) => Self::InvalidGrant,
            Some(
                code @ (ErrorCode::InvalidClient
                | ErrorCode::UnauthorizedClient
                | ErrorCode::UnsupportedGrantType
                | ErrorCode::InvalidRequest
                | ErrorCode::InvalidScope
                | ErrorCode::InvalidTarget),
            ) => Self::ClientMisconfigured(code.clone()),
            _ => Self::Transient,
        }
    }
}

/// What a successful refresh changed, for events and persistence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct RefreshOutcome {
    /// The response carried a new refresh token, which replaced the old one.
    pub refresh_token_rotated: bool,
    /// The response's scope differs from the previous one (e.g. narrower); the new scope is
    /// recorded.
    pub scope_changed: bool,
}

/// The refresh bookkeeping for one token.
#[derive(Debug, Clone)]
pub struct RefreshState {
    token: Token,
    renewal: Renewal,
    policy: RefreshPolicy,
    obtained_at: SystemTime,
    last_attempt: Option<SystemTime>,
    in_flight: bool,
    failures: u32,
    retry_at: Option<SystemTime>,
    rejected: bool,
    terminal: Option<Terminal>,
}

impl RefreshState {
    /// Tracks a token from a user grant (authorization code, device…), renewed with its refresh
    /// token. `now` is when it was obtained.
    #[must_use]
    pub fn new(token: Token, now: SystemTime, policy: RefreshPolicy) -> Self {
        Self::with_renewal(token, now, policy, Renewal::RefreshToken)
    }

    /// Tracks a client-credentials token, renewed by requesting a new one.
    pub fn client_credentials(token: Token, now: SystemTime, policy: RefreshPolicy) -> Self {
        Self::with_renewal(token, now, policy, Renewal::ClientCredentials)
    }

    fn with_renewal(
        token: Token,
        now: SystemTime,
        policy: RefreshPolicy,
        renewal: Renewal,
    ) -> Self {
        Self {
            token,
            renewal,
            policy,
            obtained_at: now,
            last_attempt: None,
            in_flight: false,
            failures: 0,
            retry_at: None,
            rejected: false,
            terminal: None,
        }
    }

    /// The current token (also when unusable: it is never deleted here).
    pub fn token(&self) -> &Token {
        &self.token
    }

    /// The policy.
    pub fn policy(&self) -> &RefreshPolicy {
        &self.policy
    }

    /// Why the token is unusable, if it is.
    pub fn terminal(&self) -> Option<&Terminal> {
        self.terminal.as_ref()
    }

    /// Whether the token may still be used or renewed.
    pub fn is_usable(&self) -> bool {
        self.terminal.is_none()
    }

    /// Consecutive transient failures since the last success.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Whether a refresh is in flight.
    pub fn is_refreshing(&self) -> bool {
        self.in_flight
    }

    /// Classifies the token at `now`.
    pub fn freshness(&self, now: SystemTime) -> Freshness {
        if self.rejected {
            return Freshness::Expired;
        }
        let (Some(expires_at), Some(due_at)) = (self.token.expires_at, self.refresh_due_at())
        else {
            return Freshness::NoExpiry;
        };
        if now >= expires_at {
            Freshness::Expired
        } else if now >= due_at {
            Freshness::RefreshSoon
        } else {
            Freshness::Fresh
        }
    }

    /// When the token enters its refresh margin (becomes [`Freshness::RefreshSoon`]), or `None`
    /// when it has no expiry. A caller can arm a timer for this instant instead of reading the
    /// clock on every request.
    pub fn refresh_due_at(&self) -> Option<SystemTime> {
        let expires_at = self.token.expires_at?;
        let lifetime = expires_at
            .duration_since(self.obtained_at)
            .unwrap_or(Duration::ZERO);
        let margin = self.policy.margin.min(lifetime / 2);
        Some(expires_at.checked_sub(margin).unwrap_or(expires_at))
    }

    /// Decides what to do at `now`. Pure: call the transition methods to change state.
    ///
    /// A client-credentials token refused ([`Action::ClientMisconfigured`], or
    /// [`Action::Reauthorize`] for an `invalid_grant`: there is no user to authorize again) is
    /// asked for again once [`RefreshPolicy::max_backoff`] has passed (nothing is spent by
    /// asking, and the server's administrator may fix the client meanwhile); a user grant's
    /// stays refused.
    pub fn next_action(&self, now: SystemTime) -> Action {
        let misconfigured = match &self.terminal {
            Some(terminal) => {
                let ask_again = self.renewal == Renewal::ClientCredentials
                    && (self.in_flight || self.renewal_allowed_at(now).is_none_or(|at| now >= at));
                if !ask_again {
                    return match terminal {
                        Terminal::ReauthorizationRequired => Action::Reauthorize,
                        Terminal::ClientMisconfigured(code) => {
                            Action::ClientMisconfigured(code.clone())
                        }
                    };
                }
                true
            }
            None => false,
        };
        let expired = match self.freshness(now) {
            // The refused token is not used again, even before it expires.
            _ if misconfigured => true,
            Freshness::Fresh | Freshness::NoExpiry => return Action::UseToken,
            Freshness::RefreshSoon => false,
            Freshness::Expired => true,
        };
        let can_renew = match self.renewal {
            Renewal::RefreshToken => self.token.refresh_token.is_some(),
            Renewal::ClientCredentials => true,
        };
        if !can_renew {
            return if expired {
                Action::Reauthorize
            } else {
                Action::UseToken
            };
        }
        if self.in_flight {
            return if expired {
                Action::AwaitRefresh
            } else {
                Action::UseToken
            };
        }
        if let Some(until) = self.renewal_allowed_at(now).filter(|at| now < *at) {
            return if expired {
                Action::Wait { until }
            } else {
                Action::UseToken
            };
        }
        match (self.renewal, expired) {
            (Renewal::RefreshToken, true) => Action::RefreshThenUse,
            (Renewal::RefreshToken, false) => Action::RefreshMayUseOld,
            (Renewal::ClientCredentials, expired) => Action::FetchNewToken {
                may_use_old: !expired,
            },
        }
    }

    /// The earliest time a renewal may start: after the minimum interval and any back-off.
    ///
    /// A wait longer than any the policy sets (the longest back-off, the minimum interval)
    /// means the wall clock stepped back since the attempt: renewal is allowed at once rather
    /// than after the step (an hour, say).
    fn renewal_allowed_at(&self, now: SystemTime) -> Option<SystemTime> {
        let min_interval = self.effective_min_interval();
        let after_interval = self.last_attempt.map(|t| deadline_after(t, min_interval));
        let at = match (after_interval, self.retry_at) {
            (Some(a), Some(b)) => Some(a.max(b)),
            (a, b) => a.or(b),
        };
        let longest = self.policy.max_backoff.max(min_interval);
        at.filter(|at| at.duration_since(now).is_ok_and(|wait| wait <= longest))
    }

    /// The policy's minimum interval, shortened for short-lived tokens to half their lifetime (so
    /// a 4-second token can be refreshed every 2 seconds), but never below one second (or the
    /// policy's own value, if smaller), so a token born expired cannot cause a refresh loop.
    fn effective_min_interval(&self) -> Duration {
        let lifetime = self
            .token
            .expires_at
            .and_then(|at| at.duration_since(self.obtained_at).ok());
        match lifetime {
            Some(lifetime) => self
                .policy
                .min_interval
                .min((lifetime / 2).max(Duration::from_secs(1))),
            None => self.policy.min_interval,
        }
    }

    /// A refresh (or client-credentials request) is being sent at `now`.
    pub fn refresh_started(&mut self, now: SystemTime) {
        self.in_flight = true;
        self.last_attempt = Some(now);
    }

    /// The refresh in flight was dropped without an outcome (e.g. its future was cancelled). The
    /// attempt still counts toward the minimum interval.
    pub fn refresh_abandoned(&mut self) {
        self.in_flight = false;
    }

    /// A refresh returned `new` at `now`. A new refresh token replaces the old one; a response
    /// without one keeps the old (RFC 6749 §6). A response without `scope` keeps the old scope
    /// (RFC 6749 §5.1); a different (e.g. narrower) scope is accepted and recorded. A response
    /// without an ID token keeps the old one.
    pub fn refresh_succeeded(&mut self, mut new: Token, now: SystemTime) -> RefreshOutcome {
        // (The same refresh token sent back was not rotated.)
        let refresh_token_rotated =
            new.refresh_token.is_some() && new.refresh_token != self.token.refresh_token;
        if new.refresh_token.is_none() {
            new.refresh_token = self.token.refresh_token.take();
        }
        // Refresh responses seldom carry an ID token (OIDC Core §12.2): keep the one we have,
        // for `id_token_hint` at logout, say.
        if new.id_token.is_none() {
            new.id_token = self.token.id_token.take();
        }
        let scope_changed = match (&new.scope, &self.token.scope) {
            (None, _) => {
                new.scope = self.token.scope.take();
                false
            }
            (Some(n), Some(o)) => n.to_set() != o.to_set(),
            (Some(_), None) => false,
        };
        self.token = new;
        self.obtained_at = now;
        self.in_flight = false;
        self.failures = 0;
        self.retry_at = None;
        self.rejected = false;
        self.terminal = None;
        RefreshOutcome {
            refresh_token_rotated,
            scope_changed,
        }
    }

    /// A refresh failed at `now`. Transient failures keep the tokens and back off (the old access
    /// token stays in use while it has not actually expired); `invalid_grant` and client
    /// configuration errors are terminal, and the token is marked unusable but kept. (For a
    /// client-credentials token, either holds until [`RefreshPolicy::max_backoff`] has passed;
    /// see [`next_action`](Self::next_action).)
    pub fn refresh_failed(&mut self, failure: RefreshFailure, now: SystemTime) {
        self.in_flight = false;
        match failure {
            RefreshFailure::Transient => {
                self.failures = self.failures.saturating_add(1);
                let backoff = self.policy.backoff(self.failures, None);
                self.retry_at = Some(deadline_after(now, backoff));
            }
            RefreshFailure::InvalidGrant => {
                self.terminal = Some(Terminal::ReauthorizationRequired);
                self.client_credentials_ask_again_later(now);
            }
            RefreshFailure::ClientMisconfigured(code) => {
                self.terminal = Some(Terminal::ClientMisconfigured(code));
                self.client_credentials_ask_again_later(now);
            }
        }
    }

    /// For a client-credentials token refused for good: asked again after the longest
    /// back-off, never in a storm, and with no restart needed once the client is fixed at the
    /// server. (A user grant's refusal stays.)
    fn client_credentials_ask_again_later(&mut self, now: SystemTime) {
        if self.renewal == Renewal::ClientCredentials {
            self.retry_at = Some(deadline_after(now, self.policy.max_backoff));
        }
    }

    /// After a transient failure, no refresh before `at` (a server's `Retry-After`), however
    /// short the back-off; at most [`RefreshPolicy::max_backoff`] after `now`.
    pub fn retry_not_before(&mut self, at: SystemTime, now: SystemTime) {
        let latest = deadline_after(now, self.policy.max_backoff);
        let at = at.min(latest);
        if self.terminal.is_none() && self.retry_at.is_none_or(|retry_at| retry_at < at) {
            self.retry_at = Some(at);
        }
    }

    /// A resource server rejected the current token (401 `invalid_token`): treat it as expired.
    /// The minimum interval still applies, so a token rejected right after a refresh leads to
    /// [`Action::Wait`], not a refresh loop.
    pub fn token_rejected(&mut self) {
        self.rejected = true;
    }

    /// Replaces the token wholesale (a fresh authorization, or a token another process stored
    /// after rotating the refresh token) and clears every failure and terminal state.
    pub fn reset(&mut self, token: Token, now: SystemTime) {
        *self = Self::with_renewal(token, now, self.policy, self.renewal);
    }

    /// Gives the token back.
    pub fn into_token(self) -> Token {
        self.token
    }
}
