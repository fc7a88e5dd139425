//! [`State`]: what a source holds under its lock, and the few tokens it remembers not to take
//! up from its store.

use std::sync::Arc;
use std::time::SystemTime;

use oauth_core::oauth2::{RefreshState, Token};
use oauth_core::secret::RefreshToken;

use super::entry::Entry;
use super::error::TokenError;
use super::shared_store::StoredIdentity;

/// How many tokens whose save failed a source remembers as possibly its own in the store.
const MAX_UNCONFIRMED: usize = 8;

/// How many refresh tokens the server refused (`invalid_grant`) a source remembers.
const MAX_REFUSED: usize = 8;

/// How many refresh tokens this source spent (the server rotated them away) it remembers.
const MAX_SPENT: usize = 8;

#[derive(Default)]
pub(super) struct State {
    pub(super) machine: Option<RefreshState>,
    pub(super) entry: Option<Arc<Entry>>,
    pub(super) generation: u64,
    pub(super) in_flight: bool,
    /// Number of finished fetches, and the result of the last one.
    pub(super) epoch: u64,
    pub(super) last: Option<Result<Arc<Entry>, Arc<TokenError>>>,
    pub(super) fetches: u64,
    /// For a source with no token yet (client credentials): no new fetch before this, after
    /// `failures` failed ones in a row (doubling back-off, at least the server's Retry-After).
    pub(super) retry_not_before: Option<SystemTime>,
    pub(super) failures: u32,
    /// The stored token this source has accounted for: the one it last read from or wrote
    /// to its store, or built a refresh on that the server answered (`None` until it has
    /// looked; `Some(None)`: the store was empty). Another one in the store means another
    /// process wrote it meanwhile.
    pub(super) store_view: Option<Option<StoredIdentity>>,
    /// This source's tokens whose save failed (the newest [`MAX_UNCONFIRMED`]): a failed save
    /// may have landed all the same (cut off by its deadline, or a store that wrote and then
    /// reported an error), so the store may hold one of them. Such a stored token is this
    /// source's own, older than the one it replaced it with, and its refresh token may be spent:
    /// never another process's token to take up, nor one to keep a newer token from.
    pub(super) unconfirmed: Vec<StoredIdentity>,
    /// The refresh tokens the server refused for good (the newest [`MAX_REFUSED`]): a stored
    /// token carrying one (another access token with the refused refresh token: a server that
    /// does not rotate them, and another process's save that landed, or was retried, after the
    /// refusal) is never taken up, so the refused refresh token is never sent again.
    pub(super) refused: Vec<RefreshToken>,
    /// The refresh tokens this source spent (the newest [`MAX_SPENT`]): the server answered
    /// a refresh with each by issuing another refresh token, so each is dead. A stored token
    /// carrying one is older than this source's own, whatever its access token's expiry (a
    /// late write that took the store back: another source's save, or retried save, that
    /// landed after this source saved its newer token), and is never taken up for it.
    pub(super) spent: Vec<RefreshToken>,
    /// The token in use is not in the store: its save failed, or `set_token` installed it (see
    /// `TokenSource::has_unsaved_token`).
    pub(super) unsaved: bool,
    /// When a source whose grant was refused last looked for another process's token in its
    /// store (`Inner::start_store_probe`).
    pub(super) probed_at: Option<SystemTime>,
    /// Until when requests wait for the look at the store in flight (5 s after it started,
    /// on tokio's clock): a look at a store that hangs keeps no request waiting past it,
    /// however late the request comes. (A request with no tokio timers waits for the look.)
    pub(super) look_deadline: Option<tokio::time::Instant>,
    /// The newest token generation whose refusal for a request that could not be retried was
    /// warned about (`TokenSource::first_refusal_of`): one warning per refused token.
    pub(super) refusal_warned: Option<u64>,
}

impl State {
    /// Remembers that `token`'s save failed: the store may hold it all the same.
    pub(super) fn save_failed(&mut self, token: &Token) {
        remember(
            &mut self.unconfirmed,
            StoredIdentity::of(token),
            MAX_UNCONFIRMED,
        );
    }

    /// Whether `stored` is a token of this source's whose save failed (and landed).
    pub(super) fn saved_unconfirmed(&self, stored: &StoredIdentity) -> bool {
        self.unconfirmed.contains(stored)
    }

    /// Remembers that the server refused `token`'s refresh token for good (see
    /// `Inner::refresh_refused`).
    pub(super) fn refresh_refused(&mut self, token: Option<&Token>) {
        let Some(refresh_token) = token.and_then(Token::refresh_token) else {
            return;
        };
        remember(&mut self.refused, refresh_token.clone(), MAX_REFUSED);
    }

    /// Remembers that this source spent `refresh_token`: the server answered a refresh with it
    /// by issuing another one.
    pub(super) fn refresh_spent(&mut self, refresh_token: RefreshToken) {
        remember(&mut self.spent, refresh_token, MAX_SPENT);
    }

    /// Whether `stored` is not to be taken up from the store as another process's token: one
    /// of this source's whose save failed, or one whose refresh token the server refused, or
    /// that this source spent.
    pub(super) fn not_to_take_up(&self, stored: &Token) -> bool {
        self.saved_unconfirmed(&StoredIdentity::of(stored))
            || stored.refresh_token().is_some_and(|refresh_token| {
                self.refused.contains(refresh_token) || self.spent.contains(refresh_token)
            })
    }
}

/// Adds `item` to `recent` unless it is there, dropping the oldest entry past `max`.
fn remember<T: PartialEq>(recent: &mut Vec<T>, item: T, max: usize) {
    if !recent.contains(&item) {
        if recent.len() == max {
            recent.remove(0);
        }
        recent.push(item);
    }
}
