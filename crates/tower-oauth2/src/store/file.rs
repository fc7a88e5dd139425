//! [`FileStore`]: a JSON file replaced atomically, mode 0600, locked across processes for a
//! refresh.

use std::collections::BTreeSet;
use std::fmt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Condvar, Mutex, PoisonError};

use oauth_core::oauth2::Token;
use oauth_core::secret::RefreshToken;

use super::{REFRESH_LOCK_WAIT, RefreshLock, StoreError, StoreFuture, TokenStore, lock_in_process};

/// Keeps the token in a JSON file, for command-line tools.
///
/// Writes go to a new temporary file in the same directory, with a random name, created
/// exclusively (never an existing file or a symlink planted there) with mode 0600 on Unix; it is
/// synced, renamed over the old file, and the directory is synced too, so a reader never sees
/// half a token and a crash right after a refresh does not bring back the rotated-away refresh
/// token. A temporary file left by a crash before its rename is removed by a later save once
/// it is ten minutes old. Each operation (the read, compare and write of `compare_and_swap` included) runs whole
/// on a blocking thread under the store's lock, in the order the operations were asked for
/// (by every store of the path in the process): one that is cancelled, half way or before it
/// began, still runs (or is dropped) before the next begins, so a save given up on never lands
/// over a later one. The blocking threads are tokio's: outside a tokio runtime every
/// operation fails with a [`StoreError`] saying so.
///
/// **Several processes** can share the file (a command-line tool run twice at once): writes,
/// [`compare_and_swap`](TokenStore::compare_and_swap) and refreshes
/// ([`lock_refresh`](TokenStore::lock_refresh)) take an advisory lock on a lock file next to
/// it (`.NAME.lock`, `flock` on Unix, `LockFileEx` on Windows), so only one process refreshes
/// at a time and the others take the token it saved. The lock file is left in place: removing
/// it while another process holds it would let a third one in.
///
/// A token file that is a **symbolic link** (dotfiles kept in a repository, say) is written
/// through: the file it names (when the store is made) is replaced and the link stays, and
/// stores opened by either name share one lock. So keep the token file in a directory only
/// you can write to (`$XDG_CONFIG_HOME/APP`, `~/.config/APP`), never in a shared one such as
/// `/tmp`: there another user could plant a link, before the store is made, naming a file of
/// yours to be replaced by the token (the token stays 0600, but that file is lost).
///
/// The lock never costs a token: where the file system cannot lock (some network mounts), or
/// the lock file is a symbolic link, the store locks within this process only; a process that
/// holds the lock for longer than the [lock wait](Self::lock_wait) (stopped, or hung in a
/// fetch) is waited for no longer. Either way the store writes anyway (the rename keeps the
/// file whole) and says so in a warning, once per path for a file system that cannot lock.
///
/// # Example
///
/// ```
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use oauth_core::oauth2::{Token, TokenType};
/// use oauth_core::secret::{AccessToken, RefreshToken};
/// use tower_oauth2::TokenSource;
/// use tower_oauth2::store::{FileStore, TokenStore};
///
/// # let dir = std::env::temp_dir().join(format!("tower-oauth2-doc-{}", std::process::id()));
/// # std::fs::create_dir_all(&dir)?;
/// // In practice a directory only the user can write to, such as `~/.config/my-tool`.
/// let store = FileStore::new(dir.join("token.json"));
/// let token = Token::new(AccessToken::new("2YotnFZFEjr1zCsicMWpAA"), TokenType::Bearer)
///     .with_refresh_token(Some(RefreshToken::new("tGzv3JOkF0XG5Qx2TlKWIA")));
///
/// // A source built with a token saves it to the store (a code exchange's token outlives the
/// // process), and every token it fetches later replaces it there before it is used.
/// let source = TokenSource::builder().token(token).store(store.clone()).build().await?;
/// # let _ = source;
///
/// // The next run starts from the file (with no `.token(..)`, the source loads the store).
/// let saved = store.load().await?.expect("saved");
/// assert_eq!(saved.access_token().secret(), "2YotnFZFEjr1zCsicMWpAA");
/// #[cfg(unix)]
/// {
///     use std::os::unix::fs::PermissionsExt;
///     let mode = std::fs::metadata(store.path())?.permissions().mode();
///     assert_eq!(mode & 0o777, 0o600);
/// }
/// # std::fs::remove_dir_all(&dir)?;
/// # Ok(()) }
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Clone)]
pub struct FileStore {
    path: PathBuf,
    /// The file read and replaced: `path`, or the file it links to, with its directory's
    /// symbolic links resolved.
    file: PathBuf,
    /// `.NAME.lock` in the token file's directory, with symbolic links resolved.
    lock_path: PathBuf,
    lock_wait: std::time::Duration,
    shared: Arc<PathState>,
}

impl fmt::Debug for FileStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FileStore")
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

/// What every `FileStore` of one path in this process shares.
#[derive(Default)]
struct PathState {
    /// Held (on a blocking thread) for each whole operation on the file.
    operation: Mutex<()>,
    /// The operations asked for and not yet ended, by number: each waits for those before it
    /// (their blocking threads may start in any order).
    queue: Mutex<Queue>,
    /// Signalled when an operation leaves the queue.
    turn: Condvar,
    /// The lock file, and how many in this process hold its cross-process lock.
    cross_process: Mutex<CrossProcess>,
    /// One refresh at a time in this process.
    refresh: Arc<tokio::sync::Mutex<()>>,
}

#[derive(Default)]
struct CrossProcess {
    file: Option<std::fs::File>,
    holders: usize,
    /// Whether "this file cannot be locked" was logged already.
    warned: bool,
}

#[derive(Default)]
struct Queue {
    next: u64,
    waiting: BTreeSet<u64>,
}

/// An operation's place in its path's queue, taken when it is asked for. It is left when the
/// operation ends, or when its blocking task is dropped without running (a runtime shutting
/// down), so it never holds up the ones after it for good.
struct Place {
    shared: Arc<PathState>,
    number: u64,
}

impl Place {
    fn take(shared: &Arc<PathState>) -> Self {
        let mut queue = shared.queue.lock().unwrap_or_else(PoisonError::into_inner);
        let number = queue.next;
        queue.next += 1;
        queue.waiting.insert(number);
        Self {
            shared: shared.clone(),
            number,
        }
    }

    /// Waits (on a blocking thread) until every operation asked for before this one has
    /// ended, or for `wait` at most: then it goes on, with a warning (the operation lock still
    /// keeps the two apart).
    fn wait_turn(&self, wait: std::time::Duration) {
        let queue = self
            .shared
            .queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let (_queue, waited) = self
            .shared
            .turn
            .wait_timeout_while(queue, wait, |queue| {
                queue
                    .waiting
                    .first()
                    .is_some_and(|&first| first < self.number)
            })
            .unwrap_or_else(PoisonError::into_inner);
        if waited.timed_out() {
            tracing::warn!(
                ?wait,
                "an earlier operation on the token file has not ended; going on without waiting for it"
            );
        }
    }
}

impl Drop for Place {
    fn drop(&mut self) {
        let mut queue = self
            .shared
            .queue
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        queue.waiting.remove(&self.number);
        drop(queue);
        self.shared.turn.notify_all();
    }
}

/// How much longer than the lock wait an operation waits for the ones asked for before it.
const TURN_SLACK: std::time::Duration = std::time::Duration::from_secs(10);

/// This process's share of the cross-process lock; the last one released unlocks the file.
struct CrossProcessHold(Arc<PathState>);

impl Drop for CrossProcessHold {
    fn drop(&mut self) {
        let mut cross = self
            .0
            .cross_process
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        cross.holders = cross.holders.saturating_sub(1);
        if cross.holders == 0
            && let Some(file) = &cross.file
        {
            let _ = file.unlock();
        }
    }
}

impl PathState {
    /// Takes a share of the cross-process lock if this process holds it already or it is
    /// free; `None` while another process holds it.
    fn try_hold(self: &Arc<Self>, lock_path: &Path) -> std::io::Result<Option<CrossProcessHold>> {
        let mut cross = self
            .cross_process
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        // A lock file removed (or replaced) since this process opened it excludes no one
        // else: whoever opens the path now locks another file. So after locking, the file is
        // checked to be still the one at the path, and opened again if not.
        let mut attempts = 0;
        while cross.holders == 0 {
            let file = match &mut cross.file {
                Some(file) => file,
                slot @ None => slot.insert(open_lock_file(lock_path)?),
            };
            match file.try_lock() {
                Ok(()) => {}
                Err(std::fs::TryLockError::WouldBlock) => return Ok(None),
                Err(std::fs::TryLockError::Error(e)) => return Err(e),
            }
            if is_at(file, lock_path)? {
                break;
            }
            let _ = file.unlock();
            cross.file = None;
            attempts += 1;
            if attempts == 3 {
                return Err(std::io::Error::other(
                    "the lock file keeps being removed or replaced",
                ));
            }
        }
        cross.holders += 1;
        Ok(Some(CrossProcessHold(self.clone())))
    }
}

/// Opens (creating it if need be) the lock file, refusing a symbolic link planted there.
///
/// Created with `create_new` (`O_CREAT | O_EXCL`, which never follows a symbolic link, so a
/// dangling link planted there cannot make us create its target); an existing file is opened
/// without `O_CREAT`, and then checked not to be a link.
fn open_lock_file(path: &Path) -> std::io::Result<std::fs::File> {
    let mut options = std::fs::OpenOptions::new();
    // Never truncated or written: only locked.
    options.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    let file = match options.open(path) {
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
            std::fs::OpenOptions::new().write(true).open(path)?
        }
        other => other?,
    };
    #[cfg(unix)]
    if std::fs::symlink_metadata(path)?.file_type().is_symlink() || !is_at(&file, path)? {
        return Err(std::io::Error::other("the lock file is a symbolic link"));
    }
    Ok(file)
}

/// Whether `file` is the file `path` names now (not one removed or replaced since it was
/// opened).
fn is_at(file: &std::fs::File, path: &Path) -> std::io::Result<bool> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        let opened = file.metadata()?;
        match std::fs::symlink_metadata(path) {
            Ok(named) => Ok((opened.dev(), opened.ino()) == (named.dev(), named.ino())),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(e),
        }
    }
    #[cfg(not(unix))]
    {
        // (Windows does not remove a file that is open without delete sharing.)
        let _ = (file, path);
        Ok(true)
    }
}

/// How often a lock held by another process is tried again.
const LOCK_POLL: std::time::Duration = std::time::Duration::from_millis(20);

impl FileStore {
    /// How long an operation waits for another process to release the token file's lock,
    /// unless [`lock_wait`](Self::lock_wait) says otherwise.
    pub const DEFAULT_LOCK_WAIT: std::time::Duration = REFRESH_LOCK_WAIT;

    /// A store at `path` (the file need not exist yet).
    pub fn new(path: impl Into<PathBuf>) -> Self {
        let path = path.into();
        let real = real_path(&link_target(&path));
        let name = real
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Self {
            lock_path: real.with_file_name(format!(".{}.lock", name_part(&name, 6))),
            lock_wait: Self::DEFAULT_LOCK_WAIT,
            shared: state_for(real.clone()),
            file: real,
            path,
        }
    }

    /// Waits at most `wait` for another process (or another refresh in this one) to release
    /// the token file, then goes on without it (default [`DEFAULT_LOCK_WAIT`](Self::DEFAULT_LOCK_WAIT)).
    /// A token source stops waiting for any one store call after [`STORE_CALL_WAIT`](super::STORE_CALL_WAIT) (plus
    /// this default, for the refresh lock), so a longer wait is cut off there.
    #[must_use]
    #[doc(alias = "with_lock_wait")]
    pub fn lock_wait(mut self, wait: std::time::Duration) -> Self {
        self.lock_wait = wait;
        self
    }

    /// The file's path.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The lock file's path: `.NAME.lock` next to the token file.
    pub fn lock_path(&self) -> &Path {
        &self.lock_path
    }

    /// Runs `f` with the path on a blocking thread, after the operations asked for before it
    /// (by any store of this path in the process), under the lock shared by those stores, and,
    /// when `cross_process`, under the lock shared with other processes too, if it can be had
    /// (see the type's docs).
    async fn locked<T: Send + 'static>(
        &self,
        operation: &'static str,
        cross_process: bool,
        f: impl FnOnce(&Path) -> Result<T, StoreError> + Send + 'static,
    ) -> Result<T, StoreError> {
        let (path, shared, lock_path, wait) = (
            self.file.clone(),
            self.shared.clone(),
            self.lock_path.clone(),
            self.lock_wait,
        );
        // Taken now, in the order operations are asked for; the blocking threads may start in
        // any order.
        let runtime = tokio::runtime::Handle::try_current()
            .map_err(|_| StoreError::new(operation, Some(Box::new(NoRuntime))))?;
        let place = Place::take(&shared);
        runtime
            .spawn_blocking(move || {
                place.wait_turn(wait.saturating_add(TURN_SLACK));
                let _guard = shared
                    .operation
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                let _hold = cross_process
                    .then(|| hold_blocking(&shared, &lock_path, wait))
                    .flatten();
                f(&path)
            })
            .await
            .map_err(|e| StoreError::new(operation, Some(e.into())))?
    }
}

/// A `FileStore` was used outside a tokio runtime: its file work runs on tokio's blocking
/// threads.
#[derive(Debug, Clone, Copy, thiserror::Error)]
#[error(
    "the token file is read and written on tokio's blocking threads: call it within a tokio runtime"
)]
struct NoRuntime;

/// Waits (on a blocking thread) up to `wait` for a share of the cross-process lock; `None`,
/// with a warning, when it is held elsewhere for longer or the file cannot be locked.
fn hold_blocking(
    shared: &Arc<PathState>,
    lock_path: &Path,
    wait: std::time::Duration,
) -> Option<CrossProcessHold> {
    // (No deadline for a wait too long to add to an instant: `Duration::MAX`, say.)
    let deadline = std::time::Instant::now().checked_add(wait);
    loop {
        match shared.try_hold(lock_path) {
            Ok(Some(hold)) => return Some(hold),
            Ok(None) if deadline.is_none_or(|d| std::time::Instant::now() < d) => {
                std::thread::sleep(LOCK_POLL)
            }
            Ok(None) => {
                tracing::warn!(
                    lock = %lock_path.display(),
                    ?wait,
                    "another process has held the token file's lock for longer than the lock wait; going on without it"
                );
                return None;
            }
            Err(error) => {
                let mut cross = shared
                    .cross_process
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
                if !std::mem::replace(&mut cross.warned, true) {
                    tracing::warn!(
                        lock = %lock_path.display(),
                        %error,
                        "the token file cannot be locked against other processes; locking within this process only"
                    );
                }
                return None;
            }
        }
    }
}

/// The file `path` names when it is a symbolic link (followed through a chain of links),
/// else `path`. A dangling link names the file it would create.
fn link_target(path: &Path) -> PathBuf {
    let mut path = path.to_path_buf();
    // (As many links as Linux follows before it gives up with ELOOP.)
    for _ in 0..40 {
        let is_link = std::fs::symlink_metadata(&path).is_ok_and(|m| m.file_type().is_symlink());
        let Some(target) = is_link.then(|| std::fs::read_link(&path).ok()).flatten() else {
            break;
        };
        path = match path.parent() {
            Some(dir) if target.is_relative() => dir.join(target),
            _ => target,
        };
    }
    path
}

/// `path` with its directory's symbolic links and `..` resolved (when the directory exists), so
/// that every spelling of one token file shares one lock.
fn real_path(path: &Path) -> PathBuf {
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(Path::new("."));
    match (std::fs::canonicalize(parent), path.file_name()) {
        (Ok(dir), Some(name)) => dir.join(name),
        _ => std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf()),
    }
}

/// The state every `FileStore` of `path` in this process shares, so that two of them do not
/// interleave their writes or refresh at once.
fn state_for(key: PathBuf) -> Arc<PathState> {
    static STATES: Mutex<Vec<(PathBuf, std::sync::Weak<PathState>)>> = Mutex::new(Vec::new());
    let mut states = STATES.lock().unwrap_or_else(PoisonError::into_inner);
    states.retain(|(_, state)| state.strong_count() > 0);
    if let Some(state) = states
        .iter()
        .find(|(p, _)| *p == key)
        .and_then(|(_, state)| state.upgrade())
    {
        return state;
    }
    let state = Arc::new(PathState::default());
    states.push((key, Arc::downgrade(&state)));
    state
}

fn read_token(path: &Path) -> Result<Option<Token>, StoreError> {
    // Not a regular file (a named pipe, a device, a directory): reading could block for ever,
    // holding the path's lock, or never end.
    if std::fs::metadata(path).is_ok_and(|m| !m.is_file()) {
        return Err(StoreError::new(
            "load",
            Some("the token path is not a regular file".into()),
        ));
    }
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
    let name = name_part(&name, TMP_NAME_EXTRA);
    let random = oauth_core::clock::SystemRandom::new();
    let mut attempt = 0;
    let (tmp, mut file) = loop {
        let suffix = oauth_core::clock::random_urlsafe(&random, TMP_SUFFIX_BYTES)
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
    remove_abandoned_temporaries(dir, name);
    Ok(())
}

/// Random bytes in a temporary file's name: 16 base64url characters.
const TMP_SUFFIX_BYTES: usize = 12;

/// What a temporary file's name adds to the token file's: `.`, `.`, the suffix, `.tmp`.
const TMP_NAME_EXTRA: usize = 6 + (TMP_SUFFIX_BYTES * 4).div_ceil(3);

/// The longest file name (in bytes) most file systems take: Linux's `NAME_MAX`.
const NAME_MAX: usize = 255;

/// `name`, cut at a character boundary so that a file name made of it and `extra` more bytes
/// stays within [`NAME_MAX`]: the temporary and lock files beside a token file whose own name
/// is near the limit. (Two such token files in one directory whose names start alike may then
/// share a lock file, which only makes them wait for each other.)
fn name_part(name: &str, extra: usize) -> &str {
    let mut end = name.len().min(NAME_MAX.saturating_sub(extra));
    while !name.is_char_boundary(end) {
        end -= 1;
    }
    &name[..end]
}

/// How old a temporary file must be to count as abandoned: no write takes that long, so it was
/// left by a process that crashed or was killed between writing and renaming it.
const ABANDONED_AFTER: std::time::Duration = std::time::Duration::from_secs(600);

/// Removes the temporary files (`.NAME.<16 characters>.tmp`) that crashed writes of this token
/// file left in `dir`: each holds a token, some a refresh token, which should not pile up.
/// Best effort: a file that cannot be read or removed is left.
fn remove_abandoned_temporaries(dir: &Path, name: &str) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    let prefix = format!(".{name}.");
    let suffix_len = (TMP_SUFFIX_BYTES * 4).div_ceil(3);
    let now = std::time::SystemTime::now();
    for entry in entries.flatten() {
        let file_name = entry.file_name();
        let Some(middle) = file_name
            .to_str()
            .and_then(|n| n.strip_prefix(&prefix))
            .and_then(|n| n.strip_suffix(".tmp"))
        else {
            continue;
        };
        let ours = middle.len() == suffix_len
            && middle
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_');
        // `symlink_metadata`: a symlink planted with that name is not followed (and is
        // not a file this store wrote).
        let abandoned = ours
            && entry.path().symlink_metadata().is_ok_and(|meta| {
                meta.is_file()
                    && meta.modified().is_ok_and(|at| {
                        now.duration_since(at)
                            .is_ok_and(|age| age >= ABANDONED_AFTER)
                    })
            });
        if abandoned {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

impl TokenStore for FileStore {
    fn load(&self) -> StoreFuture<'_, Option<Token>> {
        // (The file is only ever replaced whole: reading needs no cross-process lock.)
        Box::pin(self.locked("load", false, read_token))
    }

    fn save<'a>(&'a self, token: &'a Token) -> StoreFuture<'a, ()> {
        let json = serde_json::to_vec_pretty(token);
        Box::pin(async move {
            let json = json.map_err(|e| StoreError::new("save", Some(e.into())))?;
            self.locked("save", true, move |path| write_token(path, &json))
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
            self.locked("save", true, move |path| {
                let current = read_token(path)?;
                if current.as_ref().and_then(|t| t.refresh_token()) != expected.as_ref() {
                    return Ok(false);
                }
                write_token(path, &json).map(|()| true)
            })
            .await
        })
    }

    fn lock_refresh(&self) -> StoreFuture<'_, RefreshLock> {
        let (shared, lock_path, wait) =
            (self.shared.clone(), self.lock_path.clone(), self.lock_wait);
        Box::pin(async move {
            let in_process = lock_in_process(shared.refresh.clone(), wait).await;
            // (On a blocking thread: opening the lock file may block, on a network mount say.)
            let runtime = tokio::runtime::Handle::try_current()
                .map_err(|_| StoreError::new("lock_refresh", Some(Box::new(NoRuntime))))?;
            let hold = match runtime
                .spawn_blocking(move || hold_blocking(&shared, &lock_path, wait))
                .await
            {
                Ok(hold) => hold,
                Err(error) => {
                    tracing::warn!(
                        %error,
                        "taking the token file's lock failed; refreshing without it"
                    );
                    None
                }
            };
            Ok(RefreshLock::new((in_process, hold)))
        })
    }
}
