//! [`PendingAuthorizations`]: the authorizations a server has in flight for its users, each
//! bound to the browser session that started it, usable once, and forgotten after a while.
//!
//! A web application starts an authorization at `/login` and finishes it at `/callback`, in
//! two requests, possibly with several logins of one user (two tabs) and many users in flight
//! at once. This store keeps each [`PendingAuthorization`] between the two, keyed by the session
//! and the `state`:
//! - a callback is matched only within the session that started the flow, so a callback that
//!   an attacker's page makes the victim's browser follow, carrying the attacker's own `state`
//!   and code (login CSRF, RFC 6749 §10.12, RFC 9700 §4.7), names no flow of the victim's
//!   session and is refused with [`CallbackError::NoPendingFlow`];
//! - a flow is taken out when its callback arrives, whatever the outcome, and a second callback
//!   with the same `state` is [`CallbackError::StateAlreadyUsed`] (RFC 9700 §4.2.4);
//! - a flow not completed within its [lifetime](PendingAuthorizations::lifetime) is
//!   [`CallbackError::FlowExpired`];
//! - the flows in flight are bounded per session ([`max_flows_per_session`], 16 by default)
//!   and in all ([`max_flows`], 10,000): a session that starts one login too many loses its own
//!   oldest one, and a full store makes room by dropping its oldest flow (the first to
//!   expire). Abandoned logins cannot grow memory without bound, and a client that starts
//!   logins in a loop from one session cannot lock the other users out. One that mints
//!   sessions can still push out a flow waiting for its user by starting `max_flows` logins
//!   (from at least `max_flows / max_flows_per_session` sessions) while that user signs in:
//!   rate-limit `/login` per client in front of it. A flow dropped to make room answers its
//!   callback with [`CallbackError::NoPendingFlow`].
//!
//! [`max_flows_per_session`]: PendingAuthorizations::max_flows_per_session
//! [`max_flows`]: PendingAuthorizations::max_flows
//!
//! Only digests of the session and `state` are kept as keys; time comes from the caller
//! (`now`, from a [`Clock`](crate::clock::Clock)).
//!
//! ```
//! use std::time::SystemTime;
//! use oauth_core::clock::SystemRandom;
//! use oauth_core::oauth2::{AuthorizationRequest, CallbackError, Endpoint, PendingAuthorizations, RedirectUri};
//!
//! let flows = PendingAuthorizations::new();
//! let authorize = Endpoint::new("https://as.example.com/authorize")?;
//! let redirect = RedirectUri::new("https://app.example.com/callback")?;
//!
//! // GET /login, in the browser session "sid-1" (a random value kept in a cookie):
//! let (url, pending) = AuthorizationRequest::new(&authorize, "client", &redirect)
//!     .build(&SystemRandom::new())?;
//! let state = pending.state().to_owned();
//! flows.insert("sid-1", pending, SystemTime::now())?;
//! # let _ = url;
//!
//! // GET /callback?code=...&state=... in the same session: the code exchange.
//! let callback = format!("https://app.example.com/callback?code=abc&state={state}");
//! let exchange = flows.complete("sid-1", &callback, SystemTime::now())?;
//! assert_eq!(exchange.code().secret(), "abc");
//!
//! // The same callback again is refused.
//! assert_eq!(
//!     flows.complete("sid-1", &callback, SystemTime::now()).unwrap_err(),
//!     CallbackError::StateAlreadyUsed
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, SystemTime};

use sha2::{Digest, Sha256};

use super::authorize::{CallbackError, CodeExchange, PendingAuthorization, callback_state};

/// How long a flow waits for its callback by default: 10 minutes (the user signs in, maybe
/// with a second factor, and consents).
pub const DEFAULT_FLOW_LIFETIME: Duration = Duration::from_secs(600);

/// How many flows may be in flight at once by default.
pub const DEFAULT_MAX_FLOWS: usize = 10_000;

/// How many flows one session may have in flight by default (a user with a login open in
/// several tabs needs a few).
pub const DEFAULT_MAX_FLOWS_PER_SESSION: usize = 16;

/// The longest lifetime kept: a hundred years.
const LONGEST_LIFETIME: Duration = Duration::from_secs(100 * 365 * 24 * 3600);

/// A digest of the session and the `state`.
type Key = [u8; 32];

/// Authorizations in flight, each bound to a session and usable once; see the [module
/// docs](self). Shared between requests behind an `Arc` (it locks inside).
pub struct PendingAuthorizations {
    flows: Mutex<Flows>,
    lifetime: Duration,
    max_flows: usize,
    max_flows_per_session: usize,
}

/// A flow in flight.
struct Flow {
    pending: PendingAuthorization,
    expires: SystemTime,
    /// A digest of the session alone, to find the session's other flows.
    session: Key,
    /// Insertion order: the oldest flow is dropped first.
    serial: u64,
}

#[derive(Default)]
struct Flows {
    /// Each flow by a digest of its session and `state`.
    pending: HashMap<Key, Flow>,
    /// The keys of each session's flows, oldest first.
    sessions: HashMap<Key, VecDeque<Key>>,
    /// Every flow's key and serial, oldest first (so also in the order they expire, the
    /// lifetime being the same for all). Completed flows leave stale entries, skipped when met
    /// and swept out when they outnumber the live ones.
    order: VecDeque<(Key, u64)>,
    /// The serial of the next flow.
    next_serial: u64,
    /// Flows completed or expired, until they would have expired, so that a second callback is
    /// told apart from one that never had a flow.
    used: HashMap<Key, SystemTime>,
}

/// Why a flow could not be kept.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum PendingFlowError {
    /// The session already has a flow with this `state` (only possible with a custom state).
    #[error("this session already has an authorization in flight with this state")]
    DuplicateState,
    /// The session is empty: it identifies no user agent, and flows kept under it would be
    /// matched to any browser without a session (login CSRF).
    #[error("an authorization in flight must be kept under a non-empty session")]
    EmptySession,
}

impl Default for PendingAuthorizations {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for PendingAuthorizations {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingAuthorizations")
            .field("in_flight", &self.len())
            .field("lifetime", &self.lifetime)
            .field("max_flows", &self.max_flows)
            .field("max_flows_per_session", &self.max_flows_per_session)
            .finish()
    }
}

impl PendingAuthorizations {
    /// An empty store: flows live [`DEFAULT_FLOW_LIFETIME`], at most [`DEFAULT_MAX_FLOWS`] at
    /// once and [`DEFAULT_MAX_FLOWS_PER_SESSION`] per session.
    #[must_use]
    pub fn new() -> Self {
        Self {
            flows: Mutex::default(),
            lifetime: DEFAULT_FLOW_LIFETIME,
            max_flows: DEFAULT_MAX_FLOWS,
            max_flows_per_session: DEFAULT_MAX_FLOWS_PER_SESSION,
        }
    }

    /// How long a flow waits for its callback.
    #[must_use]
    pub fn lifetime(mut self, lifetime: Duration) -> Self {
        self.lifetime = lifetime;
        self
    }

    /// How many flows may be in flight at once (at least 1). A store that is full drops its
    /// oldest flow, which is also the first to expire, to make room for a new one (in constant
    /// time: a flood of logins costs no scan of the store).
    #[must_use]
    pub fn max_flows(mut self, max_flows: usize) -> Self {
        self.max_flows = max_flows.max(1);
        self
    }

    /// How many flows one session may have in flight (at least 1). A new flow beyond that
    /// drops the session's oldest one, whose callback then fails with
    /// [`CallbackError::NoPendingFlow`].
    #[must_use]
    pub fn max_flows_per_session(mut self, max_flows: usize) -> Self {
        self.max_flows_per_session = max_flows.max(1);
        self
    }

    /// Keeps `pending` for the browser session `session` until its callback, or until it
    /// expires. `session` must identify the user agent that will follow the authorization URL
    /// (a random value in a cookie, say): flows are matched within a session only. Makes room
    /// as the [limits](Self::max_flows_per_session) say. An empty `session` is refused
    /// ([`PendingFlowError::EmptySession`]).
    ///
    /// # Errors
    ///
    /// Fails with [`PendingFlowError::EmptySession`] for an empty `session`, and
    /// [`PendingFlowError::DuplicateState`] when a kept flow already has `pending`'s `state`.
    pub fn insert(
        &self,
        session: &str,
        pending: PendingAuthorization,
        now: SystemTime,
    ) -> Result<(), PendingFlowError> {
        if session.is_empty() {
            return Err(PendingFlowError::EmptySession);
        }
        let session = session_key(session);
        let key = key(&session, pending.state());
        let mut flows = self.lock();
        if flows.pending.contains_key(&key) {
            return Err(PendingFlowError::DuplicateState);
        }
        let session_flows = flows.sessions.get(&session).map_or(0, VecDeque::len);
        if session_flows >= self.max_flows_per_session {
            let oldest = flows
                .sessions
                .get(&session)
                .and_then(|keys| keys.front().copied());
            if let Some(oldest) = oldest {
                flows.take(&oldest);
            }
        }
        // Full: the oldest flows go first, which are also the first to expire.
        while flows.pending.len() >= self.max_flows {
            let Some((oldest, serial)) = flows.order.pop_front() else {
                break;
            };
            if flows
                .pending
                .get(&oldest)
                .is_some_and(|f| f.serial == serial)
            {
                flows.take(&oldest);
            }
        }
        // (A lifetime too long to add, `Duration::MAX` say, is a century: never `now`.)
        let expires = now
            .checked_add(self.lifetime.min(LONGEST_LIFETIME))
            .unwrap_or(now);
        let serial = flows.next_serial;
        flows.next_serial += 1;
        flows.sessions.entry(session).or_default().push_back(key);
        flows.order.push_back((key, serial));
        flows.pending.insert(
            key,
            Flow {
                pending,
                expires,
                session,
                serial,
            },
        );
        if flows.order.len() > 2 * flows.pending.len() + 64 {
            let Flows { order, pending, .. } = &mut *flows;
            order.retain(|(key, serial)| pending.get(key).is_some_and(|f| f.serial == *serial));
        }
        Ok(())
    }

    /// Takes out the flow the callback's `state` names in `session` and verifies the callback
    /// with it ([`PendingAuthorization::parse_callback`]). The flow is used up whatever the
    /// outcome: after an error, start a new authorization.
    ///
    /// Besides `parse_callback`'s errors: [`CallbackError::StateMissing`] (no `state`),
    /// [`CallbackError::NoPendingFlow`] (no flow of this session has that `state`: forged, or
    /// started in another browser; or `session` is empty), [`CallbackError::StateAlreadyUsed`] (its flow was
    /// completed already), [`CallbackError::FlowExpired`]. A flow that asked for a signed
    /// response (JARM) is found too, and refused
    /// ([`CallbackError::SignedResponseRequired`]): complete it with
    /// [`complete_signed`](Self::complete_signed).
    ///
    /// # Errors
    ///
    /// Fails with the [`CallbackError`]s listed above, and those of
    /// [`PendingAuthorization::parse_callback`].
    pub fn complete(
        &self,
        session: &str,
        callback_url: &str,
        now: SystemTime,
    ) -> Result<CodeExchange, CallbackError> {
        self.take(session, callback_url, now)?
            .parse_callback(callback_url)
    }

    /// [`complete`](Self::complete) for a flow that asked for a signed response (JARM,
    /// [`AuthorizationRequest::signed_response`](super::AuthorizationRequest::signed_response)):
    /// the flow is found by the `state` inside the callback's `response` JWT (read unverified,
    /// to find the flow only), then the callback is verified with
    /// [`PendingAuthorization::parse_signed_callback`] with the server's JWK set `jwks`.
    ///
    /// # Errors
    ///
    /// Fails with the lookup's [`CallbackError`]s (as [`complete`](Self::complete)), and those
    /// of [`PendingAuthorization::parse_signed_callback`].
    pub fn complete_signed(
        &self,
        session: &str,
        callback_url: &str,
        jwks: &super::oidc::Jwks,
        now: SystemTime,
    ) -> Result<CodeExchange, CallbackError> {
        self.take(session, callback_url, now)?
            .parse_signed_callback(callback_url, jwks, now)
    }

    /// Takes out the flow the callback's `state` names in `session` (the `state` of its query,
    /// or, for a signed response, the one inside its `response` JWT, read unverified), without
    /// checking the callback: for a caller that verifies it itself (tower-oauth2's
    /// `IdTokenValidator::parse_signed_callback`, which may fetch the server's keys first).
    /// The flow is used up: verify the callback with it, or start again.
    ///
    /// # Errors
    ///
    /// Fails as [`complete`](Self::complete)'s lookup does:
    /// [`CallbackError::MalformedCallback`], [`CallbackError::DuplicateParameter`],
    /// [`CallbackError::StateMissing`], [`CallbackError::NoPendingFlow`],
    /// [`CallbackError::StateAlreadyUsed`], [`CallbackError::FlowExpired`].
    pub fn take(
        &self,
        session: &str,
        callback_url: &str,
        now: SystemTime,
    ) -> Result<PendingAuthorization, CallbackError> {
        if session.is_empty() {
            return Err(CallbackError::NoPendingFlow);
        }
        let state = callback_state(callback_url)?.ok_or(CallbackError::StateMissing)?;
        let key = key(&session_key(session), &state);
        let mut flows = self.lock();
        let taken = flows.take(&key);
        match taken {
            Some(Flow {
                pending, expires, ..
            }) => {
                flows.remember_used(key, expires, now, self.max_flows);
                if now >= expires {
                    return Err(CallbackError::FlowExpired);
                }
                Ok(pending)
            }
            None if flows.used.get(&key).is_some_and(|until| now < *until) => {
                Err(CallbackError::StateAlreadyUsed)
            }
            None => Err(CallbackError::NoPendingFlow),
        }
    }

    /// How many flows are in flight (expired ones included until they are pruned).
    pub fn len(&self) -> usize {
        self.lock().pending.len()
    }

    /// Whether no flow is in flight.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    fn lock(&self) -> MutexGuard<'_, Flows> {
        self.flows.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Flows {
    /// Takes a flow out, and out of its session's list.
    fn take(&mut self, key: &Key) -> Option<Flow> {
        let flow = self.pending.remove(key)?;
        if let Some(keys) = self.sessions.get_mut(&flow.session) {
            keys.retain(|k| k != key);
            if keys.is_empty() {
                self.sessions.remove(&flow.session);
            }
        }
        Some(flow)
    }

    /// Remembers a used flow until `until`, pruning old entries so the set stays bounded.
    fn remember_used(&mut self, key: Key, until: SystemTime, now: SystemTime, max: usize) {
        if self.used.len() >= max {
            self.used.retain(|_, until| *until > now);
            // Still full of live entries: forget them (a replay then reads as NoPendingFlow,
            // still refused).
            if self.used.len() >= max {
                self.used.clear();
            }
        }
        self.used.insert(key, until);
    }
}

/// SHA-256 of the session.
fn session_key(session: &str) -> Key {
    Sha256::digest(session.as_bytes()).into()
}

/// SHA-256 of the session's digest and the state (no two pairs share an input).
fn key(session: &Key, state: &str) -> Key {
    let mut hash = Sha256::new();
    hash.update(session);
    hash.update(state.as_bytes());
    hash.finalize().into()
}

#[cfg(test)]
mod tests {
    use std::time::UNIX_EPOCH;

    use super::*;
    use crate::clock::SystemRandom;
    use crate::oauth2::{AuthorizationRequest, Endpoint, RedirectUri};

    /// The index of flows by age stays within a constant factor of the flows in flight,
    /// however many complete, and the per-session index holds only sessions with flows.
    #[test]
    fn the_indexes_stay_bounded_and_consistent() {
        let flows = PendingAuthorizations::new().max_flows(50);
        let endpoint = Endpoint::new("https://as.example.com/authorize").unwrap();
        let redirect = RedirectUri::new("https://client.example.com/cb").unwrap();
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        for i in 0..5_000 {
            let (_, pending) = AuthorizationRequest::new(&endpoint, "c", &redirect)
                .build(&SystemRandom::new())
                .unwrap();
            let state = pending.state().to_owned();
            let session = format!("sid-{}", i % 97);
            flows.insert(&session, pending, now).unwrap();
            if i % 3 != 0 {
                let callback = format!("/cb?code=c&state={state}");
                flows.complete(&session, &callback, now).unwrap();
            }
            let inner = flows.lock();
            assert!(inner.pending.len() <= 50);
            assert!(inner.order.len() <= 2 * inner.pending.len() + 65);
            let indexed: usize = inner.sessions.values().map(VecDeque::len).sum();
            assert_eq!(indexed, inner.pending.len());
            assert!(inner.sessions.values().all(|keys| !keys.is_empty()));
        }
    }

    /// The used states remembered (to tell a replayed callback from a forged one) stay within
    /// `max_flows`, however many flows complete within one lifetime.
    #[test]
    fn the_used_states_stay_bounded() {
        let flows = PendingAuthorizations::new().max_flows(5);
        let endpoint = Endpoint::new("https://as.example.com/authorize").unwrap();
        let redirect = RedirectUri::new("https://client.example.com/cb").unwrap();
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        for i in 0..40 {
            let (_, pending) = AuthorizationRequest::new(&endpoint, "c", &redirect)
                .build(&SystemRandom::new())
                .unwrap();
            let state = pending.state().to_owned();
            let session = format!("sid-{i}");
            flows.insert(&session, pending, now).unwrap();
            let callback = format!("/cb?code=c&state={state}");
            flows.complete(&session, &callback, now).unwrap();
            assert!(flows.lock().used.len() <= 5, "after {i}");
        }
    }

    /// Completed flows are swept from the index of flows by age also when the store is never
    /// full (where the eviction loop, which skips them too, never runs): many logins completed,
    /// then one more, leave an index of about the flows in flight.
    #[test]
    fn the_age_index_is_swept_when_the_store_is_not_full() {
        let flows = PendingAuthorizations::new();
        let endpoint = Endpoint::new("https://as.example.com/authorize").unwrap();
        let redirect = RedirectUri::new("https://client.example.com/cb").unwrap();
        let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
        let start = |session: &str| {
            let (_, pending) = AuthorizationRequest::new(&endpoint, "c", &redirect)
                .build(&SystemRandom::new())
                .unwrap();
            let state = pending.state().to_owned();
            flows.insert(session, pending, now).unwrap();
            state
        };
        let states: Vec<_> = (0..100).map(|i| start(&format!("sid-{i}"))).collect();
        for (i, state) in states.iter().enumerate() {
            let callback = format!("/cb?code=c&state={state}");
            flows.complete(&format!("sid-{i}"), &callback, now).unwrap();
        }
        start("sid-last");
        let inner = flows.lock();
        assert_eq!(inner.pending.len(), 1);
        assert!(
            inner.order.len() <= 2 * inner.pending.len() + 65,
            "{}",
            inner.order.len()
        );
    }
}
