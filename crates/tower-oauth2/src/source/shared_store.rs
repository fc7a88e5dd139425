//! A store other processes share: looking there for the token another process saved, taking
//! it up, and saving this source's own token again after a failed save.

use std::fmt;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use oauth_core::clock::Clock;
use oauth_core::oauth2::{RefreshState, Terminal, Token};
use oauth_core::secret::{AccessToken, RefreshToken};

use super::entry::sendable;
use super::error::{TokenError, TokenErrorKind, causes, no_token};
use super::fetch::{FetchGuard, FetchTask};
use super::{
    Inner, MIN_FOLLOWER_LOOK_WAIT, MIN_SAVE_RETRY_WAIT, MIN_STORE_PROBE_WAIT,
    STORE_PROBE_CALLER_WAIT, State, lock_refresh,
};
use crate::store::{STORE_CALL_WAIT, bounded};

impl Inner {
    /// For a source with a store and a refreshing fetcher whose user grant was refused for
    /// good, or that has no token yet (its store was empty at start); or for a source with a
    /// store and no fetcher whose token needs replacing (it expires, or has expired): marks a
    /// look at the store in flight, unless one is or the last was less than `min_interval`
    /// (and a second; less for a follower whose token ends soon: `look_interval`) ago, and
    /// returns its task. The look takes up a token another process
    /// saved since (the user logged in again there, or the process that refreshes saved its
    /// new token), refreshing it if it has expired (with a fetcher); with none, the error of
    /// kind `nothing` stands (unless a terminal one does already) and nothing is sent.
    #[must_use]
    pub(super) fn start_store_probe(
        self: &Arc<Self>,
        state: &mut State,
        now: SystemTime,
        nothing: TokenErrorKind,
    ) -> Option<FetchTask> {
        if state.in_flight || self.store.is_none() || self.fetches_new_tokens() {
            return None;
        }
        let fetcher = self.fetcher.clone();
        let interval = self.look_interval(state, now);
        // (A clock stepped back since the last look allows another.)
        let recent = state
            .probed_at
            .is_some_and(|at| now.duration_since(at).is_ok_and(|since| since < interval));
        if recent {
            return None;
        }
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        state.probed_at = Some(now);
        state.in_flight = true;
        // (Read from the runtime's clock, which needs no timers: a waiter with none waits for
        // the look instead.)
        state.look_deadline = Some(tokio::time::Instant::now() + STORE_PROBE_CALLER_WAIT);
        let current = state.machine.as_ref().map(|m| m.token().clone());
        let generation = state.generation;
        let mut guard = FetchGuard {
            inner: Some(self.clone()),
            generation,
        };
        Some(FetchTask {
            runtime,
            future: Box::pin(async move {
                let Some(inner) = guard.inner.clone() else {
                    return;
                };
                // A first read outside the store's refresh lock: most looks find nothing new.
                let found = inner.refreshed_elsewhere(current.as_ref(), true).await;
                let result = match (found, fetcher) {
                    (Some(_), Some(fetcher)) => {
                        inner.lock().fetches += 1;
                        inner
                            .fetch_and_save(fetcher, current, generation, true)
                            .await
                    }
                    (Some(stored), None) => inner.take_up(stored, generation),
                    (None, _) => Err(TokenError::new(TokenErrorKind::Reauthorize, None)),
                };
                guard.inner = None;
                match result {
                    Err(error) if error.kind == TokenErrorKind::Reauthorize => {
                        let error = match nothing {
                            TokenErrorKind::Reauthorize => error,
                            kind => TokenError::new(kind, None),
                        };
                        inner.store_probe_found_nothing(guard.generation, error);
                    }
                    result => inner.finish(guard.generation, result),
                }
            }),
        })
    }

    /// The shortest wait between two looks at the store: [`RefreshPolicy::min_interval`], and
    /// a second. A source that follows its store looks more often as its token's end nears: at
    /// most a quarter of the time left (but at most four times a second). Its first look, when
    /// the refresh margin begins, comes as the process that refreshes starts its own refresh,
    /// and finds nothing yet; with a token of a few seconds (whose margin is half its life) a
    /// look a whole `min_interval` later can come after the token's end at a server that counts
    /// lifetimes in whole seconds (and so expires a token up to a second before the expiry
    /// the client computes).
    ///
    /// [`RefreshPolicy::min_interval`]: oauth_core::oauth2::RefreshPolicy::min_interval
    fn look_interval(&self, state: &State, now: SystemTime) -> Duration {
        let interval = self.policy.min_interval.max(MIN_STORE_PROBE_WAIT);
        if !self.follows_store() {
            return interval;
        }
        match state.machine.as_ref().and_then(|m| m.token().expires_at()) {
            Some(expires_at) => {
                let left = expires_at.duration_since(now).unwrap_or_default();
                interval.min((left / 4).max(MIN_FOLLOWER_LOOK_WAIT))
            }
            None => interval,
        }
    }

    /// For a source with no fetcher: `stored`, another process's token found by a look at the
    /// store, as the new token in use, if it has not expired and can be sent (there is no
    /// refreshing it here). Otherwise the look found nothing (`Reauthorize`, as
    /// `fetch_and_save` answers a look).
    pub(super) fn take_up(
        &self,
        stored: Token,
        generation: u64,
    ) -> Result<(RefreshState, bool), TokenError> {
        let now = self.clock.now();
        let nothing = || TokenError::new(TokenErrorKind::Reauthorize, None);
        if stored.is_expired(now) {
            return Err(nothing());
        }
        let identity = StoredIdentity::of(&stored);
        let machine = match sendable(self.new_machine(stored, now), self.dpop.as_ref()) {
            Ok(machine) => machine,
            Err(error) => {
                tracing::warn!(%error, "the token store holds a token that cannot be sent; not using it");
                return Err(nothing());
            }
        };
        let mut state = self.lock();
        state.store_view = Some(Some(identity));
        state.fetches += 1;
        // The token taken up is the store's (unless `set_token` replaced the one in use
        // meanwhile; `finish` then drops this one).
        if state.generation == generation {
            state.unsaved = false;
        }
        Ok((machine, false))
    }

    /// A look at the store after a refused grant found no token to take up (or the one it
    /// found was refused too): the refusal stands, and the waiters hear it.
    pub(super) fn store_probe_found_nothing(self: &Arc<Self>, generation: u64, error: TokenError) {
        let mut state = self.lock();
        if state.generation != generation {
            // `set_token` replaced the token meanwhile: as after any fetch it overtook.
            drop(state);
            return self.finish(generation, Err(error));
        }
        state.in_flight = false;
        let refused = match &state.last {
            Some(Err(last)) if last.is_terminal() => last.clone(),
            // A source with no token yet: still none.
            _ if state.machine.is_none() => no_token(),
            _ => Arc::new(error),
        };
        state.last = Some(Err(refused));
        state.epoch += 1;
        let epoch = state.epoch;
        drop(state);
        self.done.send_replace(epoch);
    }

    /// Saves `token` again in the background, after the policy's back-off (doubled after each
    /// failure, at most `max_backoff`), for as long as it is the token in use and unsaved: the
    /// server may have rotated the refresh token it replaced, so until it reaches the store a
    /// process that stops loses the grant. Gives up when the store holds a token another
    /// process wrote meanwhile (it is not overwritten), or when the source is dropped. Needs a
    /// tokio runtime with timers; without one the token waits for the next save.
    pub(super) fn save_later(self: &Arc<Self>, token: &Token) {
        if self.store.is_none() || !crate::clock::timers_available() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (source, saving, policy) =
            (Arc::downgrade(self), StoredIdentity::of(token), self.policy);
        drop(runtime.spawn(async move {
            let mut failures = 1u32;
            loop {
                // At least a second: a policy with no back-off would make this a busy loop
                // (a store call and a warning per timer tick) against a store that keeps failing.
                let wait = policy.backoff(failures, None).max(MIN_SAVE_RETRY_WAIT);
                tokio::time::sleep(wait).await;
                let Some(inner) = source.upgrade() else {
                    return;
                };
                if inner.save_again(&saving).await {
                    return;
                }
                failures = failures.saturating_add(1);
            }
        }));
    }

    /// One attempt of [`save_later`](Self::save_later): `true` when there is nothing more to
    /// do (saved, or no longer this source's to save).
    pub(super) async fn save_again(&self, saving: &StoredIdentity) -> bool {
        let Some(store) = &self.store else {
            return true;
        };
        // (A token whose grant the server refused for good is dead: saving it would only
        // hand the store a token after it heard of the revocation. So is one whose refresh
        // token was refused while a retry with the store's token failed for now: saved, it
        // would replace that token, another process's live grant.)
        let still_unsaved = |state: &State| {
            state.unsaved
                && state.machine.as_ref().is_some_and(|m| {
                    StoredIdentity::of(m.token()) == *saving
                        && m.terminal() != Some(&Terminal::ReauthorizationRequired)
                        && !m
                            .token()
                            .refresh_token()
                            .is_some_and(|refresh_token| state.refused.contains(refresh_token))
                })
        };
        if !still_unsaved(&self.lock()) {
            return true;
        }
        let _lock = lock_refresh(store.as_ref(), "saving the token again").await;
        let _writes = self.store_writes.lock().await;
        let (token, known, unconfirmed) = {
            let state = self.lock();
            match &state.machine {
                Some(machine) if still_unsaved(&state) => (
                    machine.token().clone(),
                    state.store_view.clone(),
                    state.unconfirmed.clone(),
                ),
                _ => return true,
            }
        };
        let stored_token = match bounded("load", STORE_CALL_WAIT, || store.load()).await {
            Ok(stored) => stored,
            Err(error) => {
                let cause = causes(&error);
                tracing::warn!(%error, %cause, "saving the token again: the token store cannot be read");
                return false;
            }
        };
        let stored = stored_token.as_ref().map(StoredIdentity::of);
        // Ours (a store that kept it although the save failed, or an older token of ours whose
        // save failed too), or the one this source knew was there: nobody else wrote since.
        // Anything else is another process's newer token. When this source never read the
        // store (it could not at build, and was given its token), what the store holds was
        // there before (the given token replaces it) unless it expires later than ours: then
        // another process saved it since. With no expiry to compare (a server that sends no
        // `expires_in`), a source that follows its store defers to the process that refreshes,
        // whose newer token it may be: a token saved over is lost, while ours stays in use,
        // reported unsaved. A source that refreshes is that process: its token replaces it.
        let follower = self.follows_store();
        let older_than_ours = |stored: &Token| match (stored.expires_at(), token.expires_at()) {
            (Some(stored), Some(ours)) => stored <= ours,
            _ => !follower,
        };
        let ours_or_known = stored.as_ref() == Some(saving)
            || stored.as_ref().is_some_and(|s| unconfirmed.contains(s))
            || match &known {
                Some(known) => *known == stored,
                None => stored_token.as_ref().is_none_or(older_than_ours),
            };
        if !ours_or_known {
            tracing::warn!(
                "the token store holds a token another process saved; not saving over it (the token in use stays unsaved)"
            );
            return true;
        }
        // Written only if the store still holds what was just read: without the refresh lock
        // (a store whose lock failed, or that takes none), another writer may have stored its
        // token since, and a plain save would put ours, older, back over it.
        let expected = stored_token.as_ref().and_then(Token::refresh_token);
        match bounded("compare_and_swap", STORE_CALL_WAIT, || {
            store.compare_and_swap(expected, &token)
        })
        .await
        {
            Ok(true) => {
                let mut state = self.lock();
                state.store_view = Some(Some(saving.clone()));
                if still_unsaved(&state) {
                    state.unsaved = false;
                }
                tracing::info!("the token whose save had failed is saved now");
                true
            }
            Ok(false) => {
                tracing::warn!(
                    "another process saved a token while this one was being saved again; not saving over it (the token in use stays unsaved)"
                );
                true
            }
            Err(error) => {
                let cause = causes(&error);
                tracing::warn!(%error, %cause, "saving the token again failed; trying later");
                false
            }
        }
    }

    /// The store's token, if another process wrote one since this source last accounted for
    /// the store's (its access or refresh token differs from the one we know is there, and it
    /// is not a token of ours whose save failed but landed, nor one carrying a refresh token
    /// the server refused), and it can be refreshed; or, for a look after a refused grant
    /// (`probing`), used as it is (live, with no refresh token: a server that issues none).
    pub(super) async fn refreshed_elsewhere(
        &self,
        current: Option<&Token>,
        probing: bool,
    ) -> Option<Token> {
        let store = self.store.as_ref()?;
        let known = match self.lock().store_view.clone() {
            Some(known) => known,
            // A source that follows its store, which it could not read at start (it was given
            // a token, whose save failed too): every live token there that is not its own is
            // another process's, and its only way to a new token.
            None if self.follows_store() => None,
            None => return None,
        };
        let stored = match bounded("load", STORE_CALL_WAIT, || store.load()).await {
            Ok(stored) => stored?,
            Err(error) => {
                // For a source that follows its store, the store is where its tokens come
                // from: a read that fails is why its requests fail, and must be heard.
                if self.follows_store() {
                    let cause = causes(&error);
                    tracing::warn!(%error, %cause, "looking for a new token: the token store cannot be read");
                }
                return None;
            }
        };
        let seen = StoredIdentity::of(&stored);
        let usable =
            stored.refresh_token().is_some() || (probing && !stored.is_expired(self.clock.now()));
        let changed = usable
            && known.as_ref() != Some(&seen)
            && !self.lock().not_to_take_up(&stored)
            && current.map(StoredIdentity::of).as_ref() != Some(&seen);
        if changed && !self.issued_here(&stored) {
            // (Or the source fails with nothing to say why, while the store holds a live
            // token: a mistyped `issued_to`, a refresher with another client or DPoP key.)
            tracing::warn!(
                "the token store holds a token issued by another token endpoint, to another \
                 client, or bound to another DPoP key (or to one, for a source with none); not \
                 taking it up"
            );
            return None;
        }
        changed.then_some(stored)
    }

    /// The store's token, if its refresh token is not the one `current` was just refused with
    /// and another process wrote it: not the stored token this source has accounted for
    /// (`store_view`), which it has read, or spent (a refresh whose save failed leaves the
    /// refresh token it rotated away in the store), nor one of its own whose save failed but
    /// landed (`unconfirmed`), nor one carrying a refresh token the server refused (`refused`),
    /// and never sends again.
    pub(super) async fn rotated_in_store(&self, current: Option<&Token>) -> Option<Token> {
        self.read_rotated(current).await.ok().flatten()
    }

    /// [`rotated_in_store`](Self::rotated_in_store), telling a store that cannot be read
    /// (`Err`) from one that holds no such token.
    pub(super) async fn read_rotated(&self, current: Option<&Token>) -> Result<Option<Token>, ()> {
        let Some(store) = self.store.as_ref() else {
            return Ok(None);
        };
        let known = self.lock().store_view.clone();
        let Some(stored) = bounded("load", STORE_CALL_WAIT, || store.load())
            .await
            .map_err(drop)?
        else {
            return Ok(None);
        };
        let used = current.and_then(|c| c.refresh_token());
        let seen = StoredIdentity::of(&stored);
        let accounted_for = known.is_some_and(|known| known == Some(seen.clone()))
            || self.lock().not_to_take_up(&stored);
        Ok((stored.refresh_token().is_some()
            && stored.refresh_token() != used
            && !accounted_for
            && self.issued_here(&stored))
        .then_some(stored))
    }

    /// Whether `token` may be this source's: not recorded as issued by another token endpoint
    /// or to another client than its own (`issued_to`: the builder's, or else its fetcher's;
    /// RFC 6749 §10.4), nor as bound to another DPoP key than its own (or, when it has none,
    /// to any key, or a DPoP token at all), which could neither send nor refresh it
    /// (RFC 9449 §5). A store shared with another configuration must not hand this source that
    /// configuration's tokens.
    pub(super) fn issued_here(&self, token: &Token) -> bool {
        token.usable_by(self.issued_to.as_ref(), self.dpop.as_ref())
    }
}

/// What tells one stored token from another: its access and refresh tokens. (Not the whole
/// `Token`: a store may not give back every field exactly as it was saved.)
#[derive(Clone, PartialEq, Eq)]
pub(super) struct StoredIdentity {
    pub(super) access_token: AccessToken,
    pub(super) refresh_token: Option<RefreshToken>,
}

impl StoredIdentity {
    pub(super) fn of(token: &Token) -> Self {
        Self {
            access_token: token.access_token().clone(),
            refresh_token: token.refresh_token().cloned(),
        }
    }
}

impl fmt::Debug for StoredIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredIdentity").finish_non_exhaustive()
    }
}

/// Hands the token of a [`TokenSource::replace_token`] dropped during its save to the
/// background saves (the save may have landed or not).
pub(super) struct SaveIfDropped<'a> {
    pub(super) inner: &'a Arc<Inner>,
    /// `None` once the save has an outcome.
    pub(super) token: Option<&'a Token>,
}

impl Drop for SaveIfDropped<'_> {
    fn drop(&mut self) {
        if let Some(token) = self.token.take() {
            self.inner.lock().save_failed(token);
            self.inner.save_later(token);
        }
    }
}
