//! The token as the middleware uses it: its ready-made header and the flag that says it is
//! fresh, raised by a timer when the refresh margin begins.

use std::fmt;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Weak};
use std::time::SystemTime;

use http::HeaderValue;
use oauth_core::clock::Clock;
use oauth_core::oauth2::{DpopKey, ErrorCode, RefreshState, Token, TokenType};
use tokio::task::JoinHandle;

use super::error::{TokenError, TokenErrorKind, UnsendableToken};
use super::{Inner, STALE_LEAD, State};
use crate::clock::TokenClock;

/// A token as the middleware uses it: the ready-made header, and the freshness flag.
pub(crate) struct Entry {
    pub(super) token: Token,
    /// `Bearer <token>`, or `DPoP <token>` for a token that needs a proof with each request.
    pub(super) header: HeaderValue,
    pub(super) needs_proof: bool,
    pub(super) generation: u64,
    pub(super) refresh_at: Option<SystemTime>,
    pub(super) stale: AtomicBool,
    /// Read for freshness when there is no timer (custom clock, or no runtime yet), or when
    /// the timer ended without raising `stale` (its runtime was dropped, or has no time
    /// driver). `Some` whenever `refresh_at` is.
    pub(super) clock: Option<TokenClock>,
    pub(super) timer: Option<JoinHandle<()>>,
}

impl Entry {
    #[inline]
    pub(crate) fn header(&self) -> &HeaderValue {
        &self.header
    }

    /// Whether the token is DPoP-bound: [`header`](Self::header) goes out only with a proof.
    #[inline]
    pub(crate) fn needs_proof(&self) -> bool {
        self.needs_proof
    }

    pub(crate) fn token(&self) -> &Token {
        &self.token
    }

    #[inline]
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// Fresh: not replaced, not rejected, not inside the refresh margin.
    #[inline]
    pub(crate) fn is_fresh(&self) -> bool {
        if self.stale.load(Ordering::Acquire) {
            return false;
        }
        // A running timer raises `stale` in time. One that finished without raising it died
        // with its runtime (a source built in one runtime and used in another), or panicked
        // (a runtime without timers): then the clock decides.
        if self
            .timer
            .as_ref()
            .is_some_and(|timer| !timer.is_finished())
        {
            return true;
        }
        match (&self.clock, self.refresh_at) {
            (Some(clock), Some(at)) => clock.now() < at,
            _ => true,
        }
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        if let Some(timer) = self.timer.take() {
            timer.abort();
        }
    }
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("token", &self.token)
            .field("generation", &self.generation)
            .field("stale", &self.stale)
            .finish_non_exhaustive()
    }
}

/// The `Authorization` value `token` goes out with: `DPoP <token>` for a DPoP-bound token
/// (with a proof per request), `Bearer <token>` otherwise.
pub(super) fn authorization_header(
    token: &Token,
) -> Result<HeaderValue, oauth_core::oauth2::TokenUseError> {
    match token.token_type() {
        TokenType::DPoP => token.dpop_authorization_header(),
        _ => token.authorization_header(),
    }
}

/// `machine`, if its token can be sent by a source with DPoP key `dpop`; a terminal
/// `Configuration` error holding the token (see [`UnsendableToken`]) if not. A DPoP token
/// cannot go out from a source with no key (no proof can be made: RFC 6749 §7.1), which does
/// not take one up from its store either (`issued_here`).
pub(super) fn sendable(
    machine: RefreshState,
    dpop: Option<&DpopKey>,
) -> Result<RefreshState, TokenError> {
    let header = match machine.token().token_type() {
        TokenType::DPoP if dpop.is_none() => {
            Err(oauth_core::oauth2::TokenUseError::UnsupportedTokenType {
                token_type: TokenType::DPoP.as_str().to_owned(),
            })
        }
        _ => authorization_header(machine.token()),
    };
    match header {
        Ok(_) => Ok(machine),
        Err(source) => Err(TokenError {
            kind: TokenErrorKind::Configuration,
            // Not the server's code (there is none): the refresh state records this one, not
            // a misleading `invalid_client`.
            code: Some(ErrorCode::Other("unsendable_token".into())),
            retry_after: None,
            source: Some(Box::new(UnsendableToken {
                token: machine.token().clone(),
                source,
            })),
        }),
    }
}

/// Raises `stale` on the entry when its refresh margin begins.
pub(super) fn spawn_stale_timer(
    entry: Weak<Entry>,
    at: SystemTime,
    now: SystemTime,
) -> Option<JoinHandle<()>> {
    let runtime = tokio::runtime::Handle::try_current().ok()?;
    // With no timers the task would panic at once: freshness reads the clock instead.
    if !crate::clock::timers_available() {
        return None;
    }
    // The deadline is fixed now, not when the task is first polled.
    let deadline = tokio::time::Instant::now() + at.duration_since(now).unwrap_or_default();
    Some(runtime.spawn(async move {
        tokio::time::sleep_until(deadline).await;
        if let Some(entry) = entry.upgrade() {
            entry.stale.store(true, Ordering::Release);
        }
    }))
}

impl Inner {
    /// Makes `machine` current, with a fresh entry for its token; the old entry goes stale.
    pub(super) fn install(
        self: &Arc<Self>,
        state: &mut State,
        machine: RefreshState,
    ) -> Option<Arc<Entry>> {
        state.generation += 1;
        let token = machine.token();
        let needs_proof = *token.token_type() == TokenType::DPoP;
        let header = authorization_header(token);
        let entry = match header {
            Ok(header) => Some(self.new_entry(&machine, header, needs_proof, state.generation)),
            Err(error) => {
                tracing::warn!(%error, "the token cannot be sent");
                None
            }
        };
        state.machine = Some(machine);
        if let Some(old) = std::mem::replace(&mut state.entry, entry.clone()) {
            old.stale.store(true, Ordering::Release);
        }
        entry
    }

    pub(super) fn new_entry(
        &self,
        machine: &RefreshState,
        header: HeaderValue,
        needs_proof: bool,
        generation: u64,
    ) -> Arc<Entry> {
        let now = self.clock.now();
        // The flag goes up at the refresh margin, and at least `STALE_LEAD` before expiry
        // (a margin of 0, say): a request that comes while the timer task has yet to run (a
        // busy runtime) must not send a token that has just expired. Past the flag, the
        // slow path reads the clock and decides.
        let refresh_at = machine
            .refresh_due_at()
            .map(|at| match machine.token().expires_at() {
                Some(expires_at) => at.min(expires_at.checked_sub(STALE_LEAD).unwrap_or(at)),
                None => at,
            });
        let born_stale = refresh_at.is_some_and(|at| at <= now);
        Arc::new_cyclic(|weak: &Weak<Entry>| {
            let timer = match (self.timers, refresh_at) {
                (true, Some(at)) if !born_stale => spawn_stale_timer(weak.clone(), at, now),
                _ => None,
            };
            let clock = refresh_at.is_some().then(|| self.clock.clone());
            Entry {
                token: machine.token().clone(),
                header,
                needs_proof,
                generation,
                refresh_at,
                stale: AtomicBool::new(born_stale),
                clock,
                timer,
            }
        })
    }
}
