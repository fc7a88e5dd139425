//! How a request gets its token: the fresh entry on the fast path, the wait for the fetch or
//! look in flight, and what a resource server's refusal of a token starts.

use std::sync::Arc;
use std::sync::atomic::Ordering;

use oauth_core::clock::Clock;
use oauth_core::oauth2::Action;
use tokio::sync::watch;

use super::entry::Entry;
use super::error::{TokenError, TokenErrorKind, no_token, transient, unusable};
use super::{STORE_PROBE_CALLER_WAIT, TokenSource};

impl TokenSource {
    /// The current entry if it can be used now; starts a background refresh when the token is
    /// inside its refresh margin.
    pub(crate) fn fresh_entry(&self) -> Option<Arc<Entry>> {
        let (entry, task) = {
            let mut state = self.inner.lock();
            let now = self.inner.clock.now();
            match state.machine.as_ref()?.next_action(now) {
                Action::UseToken => (state.entry.clone(), None),
                Action::RefreshMayUseOld | Action::FetchNewToken { may_use_old: true } => {
                    let task = self.inner.start_fetch(&mut state, now);
                    (state.entry.clone(), task)
                }
                _ => (None, None),
            }
        };
        if let Some(task) = task {
            task.spawn();
        }
        entry
    }

    /// A usable entry, waiting for a fetch when there is none.
    pub(crate) async fn acquire(&self) -> Result<Arc<Entry>, Arc<TokenError>> {
        if let Some(entry) = self.fresh_entry() {
            return Ok(entry);
        }
        self.wait_for_fetch(None).await?.ok_or_else(transient)
    }

    /// Records that the resource server refused the token of generation `rejected`, without
    /// waiting for a new one: the next request refreshes first. (For a request that could not
    /// be sent again, so no retry waits for the refresh.)
    pub(crate) fn token_rejected(&self, rejected: u64) {
        let mut state = self.inner.lock();
        if state.generation > rejected {
            return;
        }
        // A source that follows its store looks there for a newer token; the refused one
        // stays in use meanwhile (there is no other; see `look_past`).
        if self.inner.follows_store() {
            let now = self.inner.clock.now();
            let look = self
                .inner
                .start_store_probe(&mut state, now, TokenErrorKind::NoToken);
            drop(state);
            if let Some(look) = look {
                look.spawn();
            }
            return;
        }
        if let Some(machine) = state.machine.as_mut() {
            machine.token_rejected();
            if let Some(entry) = &state.entry {
                entry.stale.store(true, Ordering::Release);
            }
        }
    }

    /// Whether this is the first refusal of the token of generation `rejected` heard of for a
    /// request that could not be retried: the warning about it is said once per refused token,
    /// not once per request (a storm of POSTs refused with the same token).
    pub(crate) fn first_refusal_of(&self, rejected: u64) -> bool {
        let mut state = self.inner.lock();
        if state
            .refusal_warned
            .is_some_and(|warned| warned >= rejected)
        {
            return false;
        }
        state.refusal_warned = Some(rejected);
        true
    }

    /// A token newer than `rejected` (which the resource server refused): refreshes unless a
    /// newer one is already there. `None` when refreshes are rate-limited (the token was
    /// refreshed moments ago, [`RefreshPolicy::min_interval`]) and there is no newer token:
    /// the caller answers with the server's refusal itself.
    pub(crate) async fn refresh_after(
        &self,
        rejected: u64,
    ) -> Result<Option<Arc<Entry>>, Arc<TokenError>> {
        if self.inner.follows_store() {
            return Ok(self.look_past(rejected).await);
        }
        self.wait_for_fetch(Some(rejected)).await
    }

    /// For a source that follows its store (a store and no fetcher), past the token of
    /// generation `rejected` (refused by a resource server, or asked to be replaced by
    /// [`refresh`](Self::refresh)): the newer token another process saved in the store, if
    /// there is one (a look, at most once per [`RefreshPolicy::min_interval`], and a second,
    /// or more often when the token ends soon: `Inner::look_interval`; the caller waits for it
    /// at most 5 s). `None` when there is none: the refused token
    /// stays in use, since there is no other to use and it may not be the token's fault (a
    /// resource server that refuses every token); the process that refreshes replaces it.
    async fn look_past(&self, rejected: u64) -> Option<Arc<Entry>> {
        let mut done = self.inner.done.subscribe();
        let (look, epoch, deadline) = {
            let mut state = self.inner.lock();
            if state.generation > rejected {
                return state.entry.clone();
            }
            let now = self.inner.clock.now();
            let look = self
                .inner
                .start_store_probe(&mut state, now, TokenErrorKind::NoToken);
            if !state.in_flight {
                return None;
            }
            (look, state.epoch, state.look_deadline)
        };
        if let Some(look) = look {
            look.spawn();
        }
        wait_past(&mut done, epoch, deadline).await;
        let state = self.inner.lock();
        state
            .entry
            .clone()
            .filter(|entry| state.generation > rejected && entry.generation > rejected)
    }

    /// A usable entry, fetching one first if needed; `None` only past a `rejected` token whose
    /// refresh is rate-limited.
    async fn wait_for_fetch(
        &self,
        rejected: Option<u64>,
    ) -> Result<Option<Arc<Entry>>, Arc<TokenError>> {
        let mut done = self.inner.done.subscribe();
        let mut task = None;
        // The refusal a look at the store (after a refused grant) stands on, for a caller
        // that stops waiting for the look.
        let mut refusal = None;
        let (epoch, look_deadline) = {
            let mut state = self.inner.lock();
            let now = self.inner.clock.now();
            if let Some(rejected) = rejected {
                if state.generation > rejected {
                    if let Some(entry) = state.entry.clone() {
                        return Ok(Some(entry));
                    }
                } else if let Some(machine) = state.machine.as_mut() {
                    machine.token_rejected();
                    if let Some(entry) = &state.entry {
                        entry.stale.store(true, Ordering::Release);
                    }
                }
            }
            let action = match &state.machine {
                Some(machine) => machine.next_action(now),
                None if self.inner.fetches_new_tokens() => match &state.last {
                    // No machine records a failure of the first fetch: it backs off here, or
                    // every call would send the request again. A transient failure backs off
                    // like any other, a refused client for the longest back-off (see `finish`).
                    // (A wait longer than the longest back-off means the clock stepped back.)
                    Some(Err(error))
                        if state.retry_not_before.is_some_and(|at| {
                            at.duration_since(now).is_ok_and(|wait| {
                                !wait.is_zero() && wait <= self.inner.policy.max_backoff
                            })
                        }) =>
                    {
                        return Err(error.clone());
                    }
                    _ => Action::FetchNewToken { may_use_old: false },
                },
                // No token yet (the store was empty at start): another process sharing the
                // store may have saved one since (the user logged in there).
                None => match self
                    .inner
                    .start_store_probe(&mut state, now, TokenErrorKind::NoToken)
                {
                    Some(probe) => {
                        task = Some(probe);
                        refusal = Some(no_token());
                        Action::AwaitRefresh
                    }
                    None => return Err(no_token()),
                },
            };
            match action {
                Action::UseToken => return state.entry.clone().map(Some).ok_or_else(unusable),
                Action::RefreshThenUse
                | Action::RefreshMayUseOld
                | Action::FetchNewToken { .. } => {
                    task = self.inner.start_fetch(&mut state, now);
                    // With no fetcher, that is a look at the store (this one, or one already
                    // in flight), which may hang.
                    if state.in_flight && self.inner.follows_store() {
                        refusal = Some(no_token());
                    }
                }
                Action::AwaitRefresh => {}
                // Rate-limited or backing off: share the last outcome rather than fetch again
                // (a token born expired is used rather than refreshed in a loop).
                Action::Wait { .. } => {
                    return match state.last.clone() {
                        // Never send the token the resource server just rejected again.
                        Some(Ok(entry)) if rejected.is_some_and(|r| entry.generation <= r) => {
                            Ok(None)
                        }
                        Some(last) => last.map(Some),
                        None => Err(transient()),
                    };
                }
                Action::Reauthorize | Action::ClientMisconfigured(_) => {
                    // A user grant refused for good: another process sharing the store may
                    // have saved a new one since (the user logged in again there). (The last
                    // outcome is not the refusal after a failure for now: a look's, or, for a
                    // client-credentials source, that of the request asking its refused client
                    // again; the refusal still stands, and a service has no user to authorize
                    // again.)
                    let refused = match &state.last {
                        Some(Err(error)) if error.is_terminal() => error.clone(),
                        _ if matches!(action, Action::ClientMisconfigured(_)) => {
                            Arc::new(TokenError::new(TokenErrorKind::Configuration, None))
                        }
                        _ => Arc::new(TokenError::new(TokenErrorKind::Reauthorize, None)),
                    };
                    let probe = matches!(action, Action::Reauthorize)
                        .then(|| {
                            self.inner.start_store_probe(
                                &mut state,
                                now,
                                TokenErrorKind::Reauthorize,
                            )
                        })
                        .flatten();
                    if probe.is_none() {
                        return Err(refused);
                    }
                    task = probe;
                    refusal = Some(refused);
                }
            }
            if !state.in_flight {
                return state
                    .last
                    .clone()
                    .map_or_else(|| Err(no_token()), |l| l.map(Some));
            }
            (state.epoch, state.look_deadline)
        };
        // Spawned with the lock released: a runtime that is shutting down drops the task at
        // once, and its guard then takes the lock to abandon the fetch.
        if let Some(task) = task {
            task.spawn();
        }
        // A caller waiting for a look has the refusal the look stands on at most 5 s after the
        // look started.
        let deadline = refusal.as_ref().map(|_| {
            look_deadline.unwrap_or_else(|| tokio::time::Instant::now() + STORE_PROBE_CALLER_WAIT)
        });
        match (wait_past(&mut done, epoch, deadline).await, refusal) {
            (Some(true), _) => {}
            (None, Some(refused)) => return Err(refused),
            _ => return Err(no_token()),
        }
        self.inner
            .lock()
            .last
            .clone()
            .map_or_else(|| Err(no_token()), |last| last.map(Some))
    }
}

/// Waits until the fetch or look in flight after `epoch` ends: `Some(true)` when it has,
/// `Some(false)` when the source is gone, `None` when `deadline` came first (a look at a store
/// that hangs goes on without this caller). With no deadline, or no tokio timers here (a caller
/// on another runtime than the look's, or on none, where a tokio timer would panic), it waits
/// for the end.
async fn wait_past(
    done: &mut watch::Receiver<u64>,
    epoch: u64,
    deadline: Option<tokio::time::Instant>,
) -> Option<bool> {
    let finished = done.wait_for(|e| *e > epoch);
    match deadline.filter(|_| crate::clock::timers_available()) {
        Some(deadline) => tokio::time::timeout_at(deadline, finished)
            .await
            .ok()
            .map(|finished| finished.is_ok()),
        None => Some(finished.await.is_ok()),
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    /// Far longer than any wait below takes: a waiter still waiting then never ends.
    const BOUND: Duration = Duration::from_secs(60);

    /// `wait_past` ends once the fetch or look of `epoch` has ended (the epoch moved past it),
    /// and at once when it has already: every caller waiting for a refresh stands on this.
    #[tokio::test(start_paused = true)]
    async fn wait_past_ends_once_the_epoch_has_moved_past() {
        let (done, mut waiter) = watch::channel(3u64);
        let waiting = tokio::spawn(async move { wait_past(&mut waiter, 3, None).await });
        tokio::task::yield_now().await;
        assert!(!waiting.is_finished(), "the fetch of epoch 3 has not ended");
        done.send(4).unwrap();
        let ended = tokio::time::timeout(BOUND, waiting)
            .await
            .expect("the waiter ends once the epoch moves past")
            .unwrap();
        assert_eq!(ended, Some(true));
        // Already past: no wait.
        let mut waiter = done.subscribe();
        let ended = tokio::time::timeout(BOUND, wait_past(&mut waiter, 2, None)).await;
        assert_eq!(ended.expect("already past"), Some(true));
    }

    /// A deadline that comes first ends the wait with `None`; a source that is gone (the
    /// sender dropped) with `Some(false)`.
    #[tokio::test(start_paused = true)]
    async fn wait_past_ends_at_its_deadline_or_when_the_source_is_gone() {
        let (done, mut waiter) = watch::channel(3u64);
        let deadline = tokio::time::Instant::now() + STORE_PROBE_CALLER_WAIT;
        let ended = tokio::time::timeout(BOUND, wait_past(&mut waiter, 3, Some(deadline))).await;
        assert_eq!(ended.expect("bounded by its deadline"), None);
        assert_eq!(tokio::time::Instant::now(), deadline);
        drop(done);
        let ended = tokio::time::timeout(BOUND, wait_past(&mut waiter, 3, None)).await;
        assert_eq!(ended.expect("the source is gone"), Some(false));
    }
}
