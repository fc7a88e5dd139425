//! The single fetch in flight: started under the state lock, run as its own task, saved to the
//! store before use, and finished for every waiter at once.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::time::SystemTime;

use oauth_core::clock::{Clock, deadline_after};
use oauth_core::oauth2::{Action, Freshness, IssuedTo, RefreshState, Token};

use super::entry::sendable;
use super::error::{TokenError, TokenErrorKind, causes, no_token, unusable};
use super::fetcher::TokenFetcher;
use super::shared_store::StoredIdentity;
use super::{Inner, State, lock_refresh};
use crate::store::{CatchUnwind, STORE_CALL_WAIT, bounded};

impl Inner {
    /// Marks a fetch in flight, unless one is, and returns its task, to spawn once `state`'s
    /// lock is released.
    #[must_use]
    pub(super) fn start_fetch(
        self: &Arc<Self>,
        state: &mut State,
        now: SystemTime,
    ) -> Option<FetchTask> {
        if state.in_flight {
            return None;
        }
        let Some(fetcher) = self.fetcher.clone() else {
            // A source with a store and no fetcher follows the store: another process (the
            // one that refreshes) saves the new token there.
            let look = self.start_store_probe(state, now, TokenErrorKind::NoToken);
            if look.is_none() {
                // (Outside a tokio runtime a follower cannot look: it says so, as a source
                // with a fetcher does, rather than "authorize first".)
                let no_runtime = self.follows_store()
                    && !state.in_flight
                    && tokio::runtime::Handle::try_current().is_err();
                state.last = Some(Err(if no_runtime {
                    Arc::new(TokenError::new(TokenErrorKind::NoRuntime, None))
                } else {
                    no_token()
                }));
            }
            return look;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            state.last = Some(Err(Arc::new(TokenError::new(
                TokenErrorKind::NoRuntime,
                None,
            ))));
            return None;
        };
        state.in_flight = true;
        state.fetches += 1;
        let (token_endpoint, client_id) = attribution(fetcher.issued_to());
        tracing::debug!(
            fetches = state.fetches,
            refresh = state.machine.is_some(),
            %token_endpoint,
            %client_id,
            "token fetch started"
        );
        if let Some(machine) = state.machine.as_mut() {
            machine.refresh_started(now);
        }
        let current = state.machine.as_ref().map(|m| m.token().clone());
        let mut guard = FetchGuard {
            inner: Some(self.clone()),
            generation: state.generation,
        };
        let generation = state.generation;
        Some(FetchTask {
            runtime,
            future: Box::pin(async move {
                let Some(inner) = guard.inner.clone() else {
                    return;
                };
                // A panicking fetcher (the application's code) is a failed fetch: waiters hear
                // of it and the source backs off. A fetch dropped before it ends (its runtime
                // shut down) is not a failure: `FetchGuard` abandons it.
                let fetch = inner.fetch_and_save(fetcher, current, generation, false);
                let result = CatchUnwind { future: fetch }
                    .await
                    .unwrap_or_else(|_panic| {
                        Err(TokenError::new(
                            TokenErrorKind::Transient,
                            Some("the token fetcher panicked".into()),
                        ))
                    });
                guard.inner = None;
                inner.finish(guard.generation, result);
            }),
        })
    }

    /// Fetches, merges the result into the current state (on a copy of the machine) and saves
    /// it, so that the token is in the store before any request uses it. With the new state,
    /// whether its save failed: `finish` marks it unsaved when it installs it, not before (the
    /// `unsaved` flag is about the token in use, which a background save may clear meanwhile).
    /// With `stored_only` (a look at the store after a refused grant), it builds only on a token
    /// another process stored: the refused refresh token is never sent again.
    pub(super) async fn fetch_and_save(
        &self,
        fetcher: Arc<dyn TokenFetcher>,
        current: Option<Token>,
        generation: u64,
        stored_only: bool,
    ) -> Result<(RefreshState, bool), TokenError> {
        // Token sources sharing the store (here or in another process) refresh one at a time:
        // the lock is held until the new token is saved.
        let _refresh_lock = match &self.store {
            Some(store) => lock_refresh(store.as_ref(), "refreshing").await,
            None => None,
        };
        // `set_token`/`replace_token` replaced the token while this fetch waited for the lock:
        // its result would be discarded (`finish`), so spend no refresh token on it.
        if self.lock().generation != generation {
            return Err(TokenError::new(TokenErrorKind::Transient, None));
        }
        let mut base = current;
        // The stored token this fetch builds on, if it does. It is accounted for
        // (`store_view`) once the server has answered for its refresh token, and not before:
        // after a transient failure the next attempt must pick it up again, never fall back
        // to the refresh token it replaced (which a server with reuse detection answers by
        // revoking the grant). And once spent, it is never adopted from the store again.
        let mut from_store = None;
        // Another source sharing the store may have refreshed since we last looked (while we
        // waited for the lock, say): use its token, or build on it rather than spend (and,
        // with reuse detection, burn) a rotated refresh token.
        if let Some(stored) = self.refreshed_elsewhere(base.as_ref(), stored_only).await {
            let now = self.clock.now();
            if !stored.is_expired(now) {
                self.lock().store_view = Some(Some(StoredIdentity::of(&stored)));
                let machine = match sendable(self.new_machine(stored, now), self.dpop.as_ref()) {
                    // A look after a refused grant that finds a token this library cannot send
                    // (another program's) found nothing to take up: the refusal stands, and
                    // the looks go on (it is not this client's configuration that failed).
                    Err(error) if stored_only => {
                        tracing::warn!(%error, "the token store holds a token that cannot be sent; not using it");
                        return Err(TokenError::new(TokenErrorKind::Reauthorize, None));
                    }
                    machine => machine?,
                };
                // The token taken up is the store's: the one in use is no longer unsaved
                // (unless `set_token` replaced it meanwhile; `finish` then drops this one).
                let mut state = self.lock();
                if state.generation == generation {
                    state.unsaved = false;
                }
                return Ok((machine, false));
            }
            // (A look's live token with no refresh token that has expired since it was read:
            // there is nothing to refresh it with.)
            if stored.refresh_token().is_some() {
                from_store = Some(StoredIdentity::of(&stored));
                base = Some(stored);
            }
        }
        if stored_only && from_store.is_none() {
            return Err(TokenError::new(TokenErrorKind::Reauthorize, None));
        }
        // A refresh token the server refused is not sent again. The token in use carries one
        // after a refusal whose retry with the store's newer token failed for now: that retry
        // is made again with the store's token (read as after the refusal: the source may not
        // have accounted for the store's token yet, `store_view`); when the store cannot be
        // read, the source waits for it rather than send the refused one (a second
        // `invalid_grant`, which would declare the grant dead while the store holds a live
        // one); when it holds nothing else to try, the refusal stands, as after the re-read.
        let refused = base
            .as_ref()
            .and_then(Token::refresh_token)
            .is_some_and(|refresh_token| self.lock().refused.contains(refresh_token));
        if refused {
            match self.read_rotated(base.as_ref()).await {
                Ok(Some(stored)) => {
                    from_store = Some(StoredIdentity::of(&stored));
                    base = Some(stored);
                }
                Ok(None) => {
                    self.tell_store_grant_revoked(base.as_ref(), generation)
                        .await;
                    return Err(TokenError::new(TokenErrorKind::Reauthorize, None));
                }
                Err(()) => {
                    return Err(TokenError::new(
                        TokenErrorKind::Transient,
                        Some(
                            "the refresh token was refused; waiting to read the token store".into(),
                        ),
                    ));
                }
            }
        }
        // The token was replaced while the store was read (by `replace_token` without the
        // store's lock): the stored token may be the replacing one, and this fetch's result
        // would be dropped (`finish`), its refresh token spent for nothing.
        if self.lock().generation != generation {
            return Err(TokenError::new(TokenErrorKind::Transient, None));
        }
        let fetched = match fetcher.fetch(base.as_ref()).await {
            Err(error) if error.kind == TokenErrorKind::Reauthorize => {
                self.refresh_refused(base.as_ref(), generation);
                // Another process sharing the store may have rotated the refresh token: re-read
                // once and try with the stored one before declaring the grant dead (unless the
                // token was replaced meanwhile, as above).
                match self.rotated_in_store(base.as_ref()).await {
                    Some(stored) if self.lock().generation == generation => {
                        let result = fetcher.fetch(Some(&stored)).await;
                        from_store = Some(StoredIdentity::of(&stored));
                        base = Some(stored);
                        result
                    }
                    _ => Err(error),
                }
            }
            other => other,
        };
        let answered = match &fetched {
            Ok(_) => true,
            Err(error) => error.kind == TokenErrorKind::Reauthorize,
        };
        if answered && let Some(spent) = from_store {
            self.lock().store_view = Some(Some(spent));
        }
        let fetched = match fetched {
            Err(error) if error.kind == TokenErrorKind::Reauthorize => {
                self.refresh_refused(base.as_ref(), generation);
                self.tell_store_grant_revoked(base.as_ref(), generation)
                    .await;
                return Err(error);
            }
            other => other?,
        };
        let now = self.clock.now();
        // The refresh builds on `base`: on the token in use, or on a stored one (also when this
        // source had none, its store empty at start). A response without a refresh token keeps
        // the one sent (RFC 6749 §6); one with another rotated the sent one away, and a stored
        // token still carrying it is never taken up again.
        let current = {
            let state = self.lock();
            match (&state.machine, base) {
                (Some(machine), Some(base)) => {
                    let mut machine = machine.clone();
                    if machine.token() != &base {
                        machine.reset(base, now);
                    }
                    Some(machine)
                }
                (None, Some(base)) => Some(self.new_machine(base, now)),
                (_, None) => None,
            }
        };
        let machine = match current {
            Some(mut machine) => {
                let sent = machine.token().refresh_token().cloned();
                let outcome = machine.refresh_succeeded(fetched, now);
                // (A fetch of a brand-new token, client credentials, sends none.)
                if let Some(sent) = sent
                    && outcome.refresh_token_rotated
                    && !self.fetches_new_tokens()
                {
                    self.lock().refresh_spent(sent);
                }
                machine
            }
            None => self.new_machine(fetched, now),
        };
        // A token that cannot be sent (a token type this library does not send, an access
        // token with characters no header can hold) must not replace the one in use, in
        // memory or in the store.
        let machine = sendable(machine, self.dpop.as_ref())?;
        let mut save_failed = false;
        if let Some(store) = &self.store {
            let _writes = self.store_writes.lock().await;
            // `set_token` replaced the token while this fetch ran: the caller's token wins,
            // in the store too (`finish` discards this result).
            if self.lock().generation != generation {
                return Ok((machine, false));
            }
            match bounded("save", STORE_CALL_WAIT, || store.save(machine.token())).await {
                Ok(()) => {
                    let mut state = self.lock();
                    state.store_view = Some(Some(StoredIdentity::of(machine.token())));
                    state.unsaved = false;
                }
                // The new token stays in memory; the old grant may already be rotated away.
                Err(error) => {
                    save_failed = true;
                    self.lock().save_failed(machine.token());
                    let cause = causes(&error);
                    tracing::warn!(%error, %cause, "saving the new token failed; keeping it in memory")
                }
            }
        }
        Ok((machine, save_failed))
    }

    /// Remembers that the server refused `token`'s refresh token for good, for a fetcher that
    /// refreshes, unless `set_token` or `replace_token` replaced the token meanwhile (the
    /// application's token is the application's to try, even if it is the same one).
    pub(super) fn refresh_refused(&self, token: Option<&Token>, generation: u64) {
        if self.fetches_new_tokens() {
            return;
        }
        let mut state = self.lock();
        if state.generation == generation {
            state.refresh_refused(token);
        }
    }

    /// Tells the store that `token`'s grant was refused for good, unless `set_token` replaced
    /// the token meanwhile (the refusal is then about a token no longer in use).
    pub(super) async fn tell_store_grant_revoked(&self, token: Option<&Token>, generation: u64) {
        let (Some(store), Some(token)) = (&self.store, token) else {
            return;
        };
        let _writes = self.store_writes.lock().await;
        if self.lock().generation != generation {
            return;
        }
        if let Err(error) = bounded("grant_revoked", STORE_CALL_WAIT, || {
            store.grant_revoked(token)
        })
        .await
        {
            let cause = causes(&error);
            tracing::warn!(%error, %cause, "the token store failed to hear of the revoked grant");
        }
    }

    /// Ends a fetch whose task was dropped before it finished: its runtime shut down (a
    /// short-lived runtime that asked first, a test's). The token endpoint did not fail, so
    /// there is no failure to count and no back-off: the attempt counts toward the minimum
    /// interval only (its request may have reached the server), and the next call, from a
    /// runtime that is still running, fetches again. The waiters hear why (kind
    /// `Transient`: try again).
    fn abandon(self: &Arc<Self>, generation: u64) {
        let mut state = self.lock();
        state.in_flight = false;
        if state.generation == generation {
            if let Some(machine) = state.machine.as_mut() {
                machine.refresh_abandoned();
            }
            tracing::warn!(
                "the token fetch was dropped before it finished (the tokio runtime running it shut down); the next call fetches again"
            );
            state.last = Some(Err(Arc::new(TokenError::new(
                TokenErrorKind::Transient,
                Some(
                    "the token fetch was dropped before it finished: the tokio runtime that ran it shut down"
                        .into(),
                ),
            ))));
        }
        state.epoch += 1;
        let epoch = state.epoch;
        drop(state);
        self.done.send_replace(epoch);
    }

    pub(super) fn finish(
        self: &Arc<Self>,
        generation: u64,
        result: Result<(RefreshState, bool), TokenError>,
    ) {
        let mut state = self.lock();
        let now = self.clock.now();
        state.in_flight = false;
        if state.generation != generation {
            // `set_token` replaced the token while the fetch ran: the caller's token wins, and
            // this result (success or failure) belongs to the token it replaced. The waiters
            // want a token they can use: if the new one needs a fetch too (it came expired,
            // or a resource server has rejected it since), they wait for that fetch instead.
            let needs_fetch = state.machine.as_ref().is_some_and(|machine| {
                matches!(
                    machine.next_action(now),
                    Action::RefreshThenUse | Action::FetchNewToken { may_use_old: false }
                )
            });
            if needs_fetch && let Some(task) = self.start_fetch(&mut state, now) {
                drop(state);
                task.spawn();
                return;
            }
        }
        state.last = Some(match result {
            _ if state.generation != generation => state.entry.clone().ok_or_else(unusable),
            Ok((machine, save_failed)) => {
                (state.failures, state.retry_not_before) = (0, None);
                // Its save failed (`fetch_and_save`): try again in the background. (Marked
                // here, with the install: a background save of the token it replaces may have
                // cleared `unsaved` since, and must not count for this one.)
                if save_failed {
                    state.unsaved = true;
                    self.save_later(machine.token());
                }
                tracing::debug!(
                    expires_in_secs = machine
                        .token()
                        .expires_at()
                        .and_then(|at| at.duration_since(now).ok())
                        .map(|left| left.as_secs()),
                    "token fetch succeeded; the new token is in use"
                );
                self.install(&mut state, machine).ok_or_else(unusable)
            }
            Err(error) => {
                if state.machine.is_none() {
                    // No token yet: back off here (there is no refresh state to do it). A
                    // refused client is asked again after the longest back-off, as
                    // `RefreshState` does once there is a token.
                    state.failures = state.failures.saturating_add(1);
                    let wait = if error.is_terminal() {
                        self.policy.max_backoff
                    } else {
                        self.policy.backoff(state.failures, error.retry_after)
                    };
                    state.retry_not_before = Some(deadline_after(now, wait));
                }
                if let Some(machine) = state.machine.as_mut() {
                    machine.refresh_failed(error.failure(), now);
                    if let Some(retry_after) = error.retry_after {
                        machine.retry_not_before(deadline_after(now, retry_after), now);
                    }
                }
                self.log_failure(&state, &error, now);
                Err(Arc::new(error))
            }
        });
        state.epoch += 1;
        let epoch = state.epoch;
        drop(state);
        self.done.send_replace(epoch);
    }

    /// Logs a failed fetch so that an operator can tell its causes apart from the line alone
    /// (a timeout, a refused connection, a 5xx, a refused grant: the error's whole chain, and
    /// its kind), which source it was (token endpoint and client, when the fetcher knows
    /// them), and whether requests still have a token. A failure that needs the application
    /// (`Reauthorize`, `Configuration`) is an ERROR; one the source retries by itself, a WARN.
    fn log_failure(&self, state: &State, error: &TokenError, now: SystemTime) {
        let cause = causes(error);
        let kind = error.kind();
        let (token_endpoint, client_id) =
            attribution(self.fetcher.as_ref().and_then(|f| f.issued_to()));
        let token_still_valid = state.entry.is_some()
            && state
                .machine
                .as_ref()
                .is_some_and(|m| m.freshness(now) != Freshness::Expired);
        if error.is_terminal() {
            tracing::error!(
                %error, %cause, ?kind, %token_endpoint, %client_id, token_still_valid,
                "token fetch failed for good: no new token until the application acts"
            );
        } else if token_still_valid {
            tracing::warn!(
                %error, %cause, ?kind, %token_endpoint, %client_id,
                "token fetch failed; the current token is still valid and stays in use"
            );
        } else {
            tracing::warn!(
                %error, %cause, ?kind, %token_endpoint, %client_id,
                "token fetch failed; no valid token until a later fetch succeeds"
            );
        }
    }
}

/// The token endpoint and client a fetcher names, as log fields (empty when it names none).
fn attribution(issued_to: Option<IssuedTo>) -> (String, String) {
    issued_to.map_or_else(Default::default, |i| (i.token_endpoint, i.client_id))
}

/// A fetch marked in flight, to spawn once the state lock is released.
pub(super) struct FetchTask {
    pub(super) runtime: tokio::runtime::Handle,
    pub(super) future: Pin<Box<dyn Future<Output = ()> + Send + 'static>>,
}

impl FetchTask {
    pub(super) fn spawn(self) {
        // (A runtime shutting down drops the future at once: its `FetchGuard` abandons the
        // fetch.)
        drop(self.runtime.spawn(self.future));
    }
}

/// Abandons the fetch if its task is dropped before it finishes (the runtime that runs it shut
/// down, or never ran it), so that waiters are never wedged.
pub(super) struct FetchGuard {
    pub(super) inner: Option<Arc<Inner>>,
    pub(super) generation: u64,
}

impl Drop for FetchGuard {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            inner.abandon(self.generation);
        }
    }
}
