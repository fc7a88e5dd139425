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
/// Writes go to a new temporary file in the same directory, with a random name, created
/// exclusively (never an existing file or a symlink planted there) with mode 0600 on Unix; it is
/// synced, renamed over the old file, and the directory is synced too, so a reader never sees
/// half a token and a crash right after a refresh does not bring back the rotated-away refresh
/// token. Each operation (the read, compare and write of `compare_and_swap` included) runs whole
/// on a blocking thread under the store's lock, so one that is cancelled half way still ends
/// before the next begins. `compare_and_swap` is atomic within this process (for every
/// `FileStore` of the same path); across processes it is best effort.
#[derive(Debug, Clone)]
pub struct FileStore {
    path: PathBuf,
    lock: Arc<Mutex<()>>,
}

impl FileStore {
    /// A store at `path` (the file need not exist yet).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        Self {
            lock: lock_for(&path),
            path,
        }
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Runs `f` with the path on a blocking thread, under the lock shared by every store of
    /// this path in the process.
    async fn locked<T: Send + 'static>(
        &self,
        operation: &'static str,
        f: impl FnOnce(&Path) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (path, lock) = (self.path.clone(), self.lock.clone());
        tokio::task::spawn_blocking(move || {
            let _guard = lock.lock().unwrap_or_else(PoisonError::into_inner);
            f(&path)
        })
        .await
        .map_err(|e| StoreError::new(operation, Some(e.into())))?
    }
}

/// One lock per token file in this process, so that two `FileStore`s of the same path do not
/// interleave their writes.
fn lock_for(path: &Path) -> Arc<Mutex<()>> {
    static LOCKS: Mutex<Vec<(PathBuf, std::sync::Weak<Mutex<()>>)>> = Mutex::new(Vec::new());
    let key = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut locks = LOCKS.lock().unwrap_or_else(PoisonError::into_inner);
    locks.retain(|(_, lock)| lock.strong_count() > 0);
    if let Some(lock) = locks
        .iter()
        .find(|(p, _)| *p == key)
        .and_then(|(_, lock)| lock.upgrade())
    {
        return lock;
    }
    let lock = Arc::new(Mutex::new(()));
    locks.push((key, Arc::downgrade(&lock)));
    lock
}

fn read_token(path: &Path) -> Result<Option<Token>, StoreError> {
    match std::fs::read(path) {
        Ok(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            StoreError::new(
                "load",
                Some(format!("invalid token file: line {}", e.line()).into()),
            )
        }),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(StoreError::new("load", Some(e.into()))),
    }
}

fn write_token(path: &Path, token: &[u8]) -> Result<(), StoreError> {
    write_atomically(path, token).map_err(|e| StoreError::new("save", Some(e.into())))
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
    let random = oauth_core::clock::SystemRandom::new();
    let mut attempt = 0;
    let (tmp, mut file) = loop {
        let suffix = oauth_core::clock::random_urlsafe(&random, 12)
            .map_err(|_| std::io::Error::other("no randomness for a temporary file name"))?;
        let tmp = dir.join(format!(".{name}.{suffix}.tmp"));
        let mut options = std::fs::OpenOptions::new();
        // `create_new`: O_CREAT | O_EXCL, which also refuses a symlink at that name.
        options.write(true).create_new(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        match options.open(&tmp) {
            Ok(file) => break (tmp, file),
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && attempt < 8 => {
                attempt += 1;
            }
            Err(e) => return Err(e),
        }
    };
    let result = (|| {
        file.write_all(bytes)?;
        file.sync_all()?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
        return result;
    }
    // The rename itself is durable once the directory is synced. (Some file systems cannot
    // sync a directory; the file's own data was synced already.)
    #[cfg(unix)]
    if let Ok(dir) = std::fs::File::open(dir) {
        let _ = dir.sync_all();
    }
    Ok(())
}

impl TokenStore for FileStore {
    fn load(&self) -> StoreFuture<'_, Option<Token>> {
        Box::pin(self.locked("load", read_token))
    }

    fn save<'a>(&'a self, token: &'a Token) -> StoreFuture<'a, ()> {
        let json = serde_json::to_vec_pretty(token);
        Box::pin(async move {
            let json = json.map_err(|e| StoreError::new("save", Some(e.into())))?;
            self.locked("save", move |path| write_token(path, &json))
                .await
        })
    }

    fn compare_and_swap<'a>(
        &'a self,
        expected: Option<&'a RefreshToken>,
        token: &'a Token,
    ) -> StoreFuture<'a, bool> {
        let json = serde_json::to_vec_pretty(token);
        let expected = expected.cloned();
        Box::pin(async move {
            let json = json.map_err(|e| StoreError::new("save", Some(e.into())))?;
            self.locked("save", move |path| {
                let current = read_token(path)?;
                if current.as_ref().and_then(|t| t.refresh_token()) != expected.as_ref() {
                    return Ok(false);
                }
                write_token(path, &json).map(|()| true)
            })
            .await
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
