//! [`CallbackStore`]: calls your function with each new token (requests-oauthlib's
//! `token_updater`).

use std::fmt;
use std::sync::Arc;

use oauth_core::oauth2::Token;
use oauth_core::secret::RefreshToken;
use tower::BoxError;

use super::memory::MemoryStore;
use super::{RefreshLock, StoreError, StoreFuture, TokenStore};

/// Calls a function with every new token, like requests-oauthlib's `token_updater`; keeps the
/// last token in memory for `load`. Like `token_updater`, it does not hear of the token a
/// source starts with ([`TokenSourceBuilder::token`](crate::source::TokenSourceBuilder::token)):
/// the application has that one already.
///
/// The function runs inside [`std::panic::catch_unwind`]: a panic is reported as a
/// [`StoreError`] (the new token stays in memory and in use), never unwound into the refresh.
/// Clones share the token and the callbacks.
///
/// # Example
///
/// ```
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use std::sync::{Arc, Mutex};
/// use std::time::{Duration, SystemTime};
/// use oauth_core::oauth2::{Token, TokenType};
/// use oauth_core::secret::{AccessToken, RefreshToken};
/// use tower_oauth2::TokenSource;
/// use tower_oauth2::store::CallbackStore;
///
/// let updated = Arc::new(Mutex::new(Vec::new()));
/// let seen = updated.clone();
/// let store = CallbackStore::new(move |token: &Token| {
///     // Save it wherever the application keeps tokens (server-side).
///     seen.lock().unwrap().push(token.access_token().secret().to_owned());
///     Ok(())
/// })
/// .on_revoked(|_token: &Token| eprintln!("the grant was revoked: log in again"));
///
/// let expired = Token::new(AccessToken::new("old"), TokenType::Bearer)
///     .with_expires_at(Some(SystemTime::now() - Duration::from_secs(1)))
///     .with_refresh_token(Some(RefreshToken::new("tGzv3JOkF0XG5Qx2TlKWIA")));
/// // (A `GrantClient::refresh_fetcher` in practice.)
/// let refresh = |_current: Option<&Token>| async {
///     Ok(Token::new(AccessToken::new("new"), TokenType::Bearer))
/// };
/// let source = TokenSource::builder().token(expired).fetcher(refresh).store(store).build().await?;
///
/// source.token().await?;
/// // Told of the refreshed token only, not of the one the source started with.
/// assert_eq!(*updated.lock().unwrap(), ["new"]);
/// # Ok(()) }
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Clone)]
pub struct CallbackStore {
    memory: MemoryStore,
    #[allow(clippy::type_complexity)]
    callback: Arc<dyn Fn(&Token) -> Result<(), BoxError> + Send + Sync>,
    #[allow(clippy::type_complexity)]
    on_revoked: Option<Arc<dyn Fn(&Token) + Send + Sync>>,
}

impl fmt::Debug for CallbackStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CallbackStore")
            .field("memory", &self.memory)
            .finish_non_exhaustive()
    }
}

impl CallbackStore {
    /// Calls `callback` with each token saved.
    pub fn new(callback: impl Fn(&Token) -> Result<(), BoxError> + Send + Sync + 'static) -> Self {
        Self {
            memory: MemoryStore::new(),
            callback: Arc::new(callback),
            on_revoked: None,
        }
    }

    /// Also calls `on_revoked` with the token whose grant the server refused for good (see
    /// [`TokenStore::grant_revoked`]), so that the application can ask the user to authorize
    /// again. A panic in it is caught.
    #[must_use]
    pub fn on_revoked(mut self, on_revoked: impl Fn(&Token) + Send + Sync + 'static) -> Self {
        self.on_revoked = Some(Arc::new(on_revoked));
        self
    }

    fn notify(&self, token: &Token) -> Result<(), StoreError> {
        let callback = &self.callback;
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| callback(token))) {
            Ok(Ok(())) => Ok(()),
            Ok(Err(e)) => Err(StoreError::new("token_updater", Some(e))),
            Err(_) => Err(StoreError::new(
                "token_updater",
                Some("the callback panicked".into()),
            )),
        }
    }
}

impl TokenStore for CallbackStore {
    fn load(&self) -> StoreFuture<'_, Option<Token>> {
        self.memory.load()
    }

    fn saves_starting_token(&self) -> bool {
        false
    }

    fn save<'a>(&'a self, token: &'a Token) -> StoreFuture<'a, ()> {
        *self.memory.slot() = Some(token.clone());
        let result = self.notify(token);
        Box::pin(async move { result })
    }

    fn compare_and_swap<'a>(
        &'a self,
        expected: Option<&'a RefreshToken>,
        token: &'a Token,
    ) -> StoreFuture<'a, bool> {
        let swapped = {
            let mut slot = self.memory.slot();
            let swapped = slot.as_ref().and_then(|t| t.refresh_token()) == expected;
            if swapped {
                *slot = Some(token.clone());
            }
            swapped
        };
        let result = if swapped {
            self.notify(token).map(|()| true)
        } else {
            Ok(false)
        };
        Box::pin(async move { result })
    }

    fn lock_refresh(&self) -> StoreFuture<'_, RefreshLock> {
        self.memory.lock_refresh()
    }

    fn grant_revoked<'a>(&'a self, token: &'a Token) -> StoreFuture<'a, ()> {
        let result = match &self.on_revoked {
            Some(on_revoked) => {
                std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| on_revoked(token)))
                    .map_err(|_| {
                        StoreError::new("on_revoked", Some("the callback panicked".into()))
                    })
            }
            None => Ok(()),
        };
        Box::pin(async move { result })
    }
}
