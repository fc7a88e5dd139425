//! Token stores: where a token lives between runs, and who hears about a new one.
//!
//! The [`crate::TokenSource`] saves every new token to its store **before** any request uses it,
//! so a crash right after a refresh never loses a rotated refresh token.
//!
//! - [`MemoryStore`]: in memory, shared by clones;
//! - [`FileStore`]: a JSON file replaced atomically, mode 0600, for command-line tools;
//! - [`CallbackStore`]: calls your function with each new token (requests-oauthlib's
//!   `token_updater`).

use std::fmt;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::pin::Pin;
use std::sync::{Arc, Mutex, PoisonError};

use oauth_core::oauth2::Token;
use oauth_core::secret::RefreshToken;
use tower::BoxError;

/// A boxed future returned by [`TokenStore`] methods.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Somewhere a token is kept.
pub trait TokenStore: Send + Sync + 'static {
    /// The stored token, if any.
    fn load(&self) -> StoreFuture<'_, Option<Token>>;

    /// Stores `token`, replacing what was there.
    fn save<'a>(&'a self, token: &'a Token) -> StoreFuture<'a, ()>;

    /// Stores `token` only if the stored refresh token is still `expected`; returns whether it
    /// stored. Two processes sharing a store use it to detect that the other one rotated the
    /// refresh token first.
    fn compare_and_swap<'a>(
        &'a self,
        expected: Option<&'a RefreshToken>,
        token: &'a Token,
    ) -> StoreFuture<'a, bool>;
}

/// A store failed. Its `Display` names the operation, never the token.
#[derive(Debug, thiserror::Error)]
#[error("token store {operation} failed")]
pub struct StoreError {
    operation: &'static str,
    #[source]
    source: Option<BoxError>,
}

impl StoreError {
    /// A failure of `operation` (`"load"`, `"save"`, ...), with a cause that holds no secret.
    pub fn new(operation: &'static str, source: Option<BoxError>) -> Self {
        Self { operation, source }
    }
}

/// Keeps the token in memory; clones share it.
#[derive(Debug, Clone, Default)]
pub struct MemoryStore {
    token: Arc<Mutex<Option<Token>>>,
}

impl MemoryStore {
    /// An empty store.
    pub fn new() -> Self {
        Self::default()
    }

    /// A store holding `token`.
    pub fn with_token(token: Token) -> Self {
        Self {
            token: Arc::new(Mutex::new(Some(token))),
        }
    }

    /// The stored token.
    pub fn get(&self) -> Option<Token> {
        self.slot().clone()
    }

    fn slot(&self) -> std::sync::MutexGuard<'_, Option<Token>> {
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
}

/// Keeps the token in a JSON file, for command-line tools.
///
/// Writes go to a temporary file in the same directory (created with mode 0600 on Unix), which
/// is synced and then renamed over the old file, so a reader never sees half a token.
/// `compare_and_swap` is atomic within this process; across processes it is best effort.
#[derive(Debug, Clone)]
pub struct FileStore {
    path: PathBuf,
    lock: Arc<tokio::sync::Mutex<()>>,
}

impl FileStore {
    /// A store at `path` (the file need not exist yet).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        Self {
            path: path.into(),
            lock: Arc::new(tokio::sync::Mutex::new(())),
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    async fn read(&self) -> Result<Option<Token>, StoreError> {
        let path = self.path.clone();
        blocking("load", move || match std::fs::read(&path) {
            Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
                StoreError::new(
                    "load",
                    Some(format!("invalid token file: line {}", e.line()).into()),
                )
            }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(StoreError::new("load", Some(e.into()))),
        })
        .await
    }

    async fn write(&self, token: &Token) -> Result<(), StoreError> {
        let json = serde_json::to_vec_pretty(token)
            .map_err(|e| StoreError::new("save", Some(e.into())))?;
        let path = self.path.clone();
        blocking("save", move || {
            write_atomically(&path, &json).map_err(|e| StoreError::new("save", Some(e.into())))
        })
        .await
    }
}

async fn blocking<T: Send + 'static>(
    operation: &'static str,
    f: impl FnOnce() -> Result<T, StoreError> + Send + 'static,
) -> Result<T, StoreError> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| StoreError::new(operation, Some(e.into())))?
}

fn write_atomically(path: &Path, bytes: &[u8]) -> std::io::Result<()> {
    use std::io::Write;
    let dir = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}.tmp", std::process::id()));
    let mut options = std::fs::OpenOptions::new();
    options.write(true).create(true).truncate(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let result = (|| {
        let mut file = options.open(&tmp)?;
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

impl TokenStore for FileStore {
    fn load(&self) -> StoreFuture<'_, Option<Token>> {
        Box::pin(async move {
            let _guard = self.lock.lock().await;
            self.read().await
        })
    }

    fn save<'a>(&'a self, token: &'a Token) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let _guard = self.lock.lock().await;
            self.write(token).await
        })
    }

    fn compare_and_swap<'a>(
        &'a self,
        expected: Option<&'a RefreshToken>,
        token: &'a Token,
    ) -> StoreFuture<'a, bool> {
        Box::pin(async move {
            let _guard = self.lock.lock().await;
            let current = self.read().await?;
            if current.as_ref().and_then(|t| t.refresh_token()) != expected {
                return Ok(false);
            }
            self.write(token).await.map(|()| true)
        })
    }
}

/// Calls a function with every new token, like requests-oauthlib's `token_updater`; keeps the
/// last token in memory for `load`.
///
/// The function runs inside [`std::panic::catch_unwind`]: a panic is reported as a
/// [`StoreError`] (the new token stays in memory and in use), never unwound into the refresh.
pub struct CallbackStore {
    memory: MemoryStore,
    #[allow(clippy::type_complexity)]
    callback: Arc<dyn Fn(&Token) -> Result<(), BoxError> + Send + Sync>,
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
        }
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
}
