//! [`MemoryStore`]: the token in memory, shared by clones.

use std::sync::{Arc, Mutex, PoisonError};

use oauth_core::oauth2::Token;
use oauth_core::secret::RefreshToken;

use super::{REFRESH_LOCK_WAIT, RefreshLock, StoreFuture, TokenStore, lock_in_process};

/// Keeps the token in memory; clones share it (and refresh one at a time, see
/// [`TokenStore::lock_refresh`]).
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    token: Arc<Mutex<Option<Token>>>,
    refresh: Arc<tokio::sync::Mutex<()>>,
}

impl MemoryStore {
    /// An empty store.
    #[must_use]
    pub fn new() -> Self {
        Self::default()
    }

    /// A store holding `token`.
    #[must_use]
    pub fn with_token(token: Token) -> Self {
        Self {
            token: Arc::new(Mutex::new(Some(token))),
            refresh: Arc::default(),
        }
    }

    /// The stored token.
    pub fn get(&self) -> Option<Token> {
        self.slot().clone()
    }

    pub(super) fn slot(&self) -> std::sync::MutexGuard<'_, Option<Token>> {
        self.token.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl TokenStore for MemoryStore {
    fn load(&self) -> StoreFuture<'_, Option<Token>> {
        let token = self.get();
        Box::pin(async move { Ok(token) })
    }

    fn save<'a>(&'a self, token: &'a Token) -> StoreFuture<'a, ()> {
        *self.slot() = Some(token.clone());
        Box::pin(async { Ok(()) })
    }

    fn compare_and_swap<'a>(
        &'a self,
        expected: Option<&'a RefreshToken>,
        token: &'a Token,
    ) -> StoreFuture<'a, bool> {
        let mut slot = self.slot();
        let current = slot.as_ref().and_then(|t| t.refresh_token());
        let swapped = current == expected;
        if swapped {
            *slot = Some(token.clone());
        }
        Box::pin(async move { Ok(swapped) })
    }

    fn lock_refresh(&self) -> StoreFuture<'_, RefreshLock> {
        let refresh = self.refresh.clone();
        Box::pin(async move {
            Ok(RefreshLock::new(
                lock_in_process(refresh, REFRESH_LOCK_WAIT).await,
            ))
        })
    }
}
