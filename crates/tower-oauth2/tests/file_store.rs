//! `FileStore` on a real file system: round trip, mode 0600, no temporary files left behind,
//! compare-and-swap, and writes that stay whole and ordered when a save is cancelled half way
//! or two stores of one path write at once; four real processes sharing one token file, which
//! refresh once between them under its lock; a symlinked token file, a removed lock file, an
//! unreadable token file and an unbounded lock wait.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::task::Poll;
use std::time::{Duration, Instant, SystemTime};

use oauth_core::oauth2::{Token, TokenType};
use oauth_core::secret::{AccessToken, RefreshToken};
use tower_oauth2::TokenSource;
use tower_oauth2::store::{CallbackStore, FileStore, MemoryStore, TokenStore};

/// A fresh directory for one test, removed when dropped.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "tower-oauth2-file-store-{test}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).unwrap();
        Self(dir)
    }

    fn entries(&self) -> Vec<String> {
        let mut names: Vec<String> = std::fs::read_dir(&self.0)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn token(n: usize) -> Token {
    Token::new(AccessToken::new(format!("access-{n}")), TokenType::Bearer)
        .with_refresh_token(Some(RefreshToken::new(format!("refresh-{n}"))))
}

fn file(dir: &TempDir) -> PathBuf {
    dir.0.join("token.json")
}

async fn loaded(path: &Path) -> Token {
    FileStore::new(path).load().await.unwrap().unwrap()
}

/// Two stores of the token file in `dir`, made now: while one holds the refresh lock, the
/// other saves at once (its process holds the lock already) instead of waiting out the lock wait.
async fn assert_two_new_stores_share_one_lock(dir: &TempDir) {
    let a = FileStore::new(file(dir)).lock_wait(Duration::from_secs(5));
    let b = FileStore::new(file(dir)).lock_wait(Duration::from_secs(5));
    let refresh = a.lock_refresh().await.unwrap();
    let started = Instant::now();
    b.save(&token(1)).await.unwrap();
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "a save waited {:?} for a lock its own process holds",
        started.elapsed()
    );
    drop(refresh);
    assert_eq!(a.load().await.unwrap(), Some(token(1)));
}

#[tokio::test]
async fn saves_load_back_private_and_leave_no_temporary_file() {
    let dir = TempDir::new("roundtrip");
    let store = FileStore::new(file(&dir));
    assert!(store.load().await.unwrap().is_none());
    store.save(&token(1)).await.unwrap();
    store.save(&token(2)).await.unwrap();
    assert_eq!(loaded(&file(&dir)).await, token(2));
    assert_eq!(dir.entries(), [".token.json.lock", "token.json"]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(file(&dir)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

/// A process killed between writing its temporary file and renaming it leaves the file, with
/// a token in it: a later save removes it once it is ten minutes old (no write takes that
/// long), and leaves a younger one (another process may be writing it now) and every file that
/// is not this store's.
#[tokio::test]
async fn a_save_removes_temporary_files_that_crashed_writes_left() {
    let dir = TempDir::new("abandoned-tmp");
    let write = |name: &str, age: Duration| {
        let path = dir.0.join(name);
        std::fs::write(&path, b"{\"access_token\":\"left-behind\"}").unwrap();
        let file = std::fs::File::options().write(true).open(&path).unwrap();
        file.set_modified(SystemTime::now() - age).unwrap();
    };
    let old = Duration::from_secs(3600);
    write(".token.json.AAAAAAAAAAAAAAAA.tmp", old);
    write(
        ".token.json.b-_9bbbbbbbbbbbb.tmp",
        Duration::from_secs(11 * 60),
    );
    write(".token.json.CCCCCCCCCCCCCCCC.tmp", Duration::from_secs(60));
    // Not this store's: another token file's, other shapes, the user's own.
    write(".other.json.DDDDDDDDDDDDDDDD.tmp", old);
    write(".token.json.short.tmp", old);
    write(".token.json.EEEEEEEEEEEEEEEE.tmp.bak", old);
    write("token.json.tmp", old);
    FileStore::new(file(&dir)).save(&token(1)).await.unwrap();
    assert_eq!(
        dir.entries(),
        [
            ".other.json.DDDDDDDDDDDDDDDD.tmp",
            ".token.json.CCCCCCCCCCCCCCCC.tmp",
            ".token.json.EEEEEEEEEEEEEEEE.tmp.bak",
            ".token.json.lock",
            ".token.json.short.tmp",
            "token.json",
            "token.json.tmp",
        ]
    );
    assert_eq!(loaded(&file(&dir)).await, token(1));
}

/// A command-line tool's first run: the token just exchanged for a code is given to the
/// builder with the store, and is in the file once the source is built, so the next run starts
/// from it (it used to be written only at the first refresh: a new login every run).
#[tokio::test]
async fn a_token_given_to_the_builder_is_saved_and_the_next_run_loads_it() {
    let dir = TempDir::new("given");
    let first_run = TokenSource::builder()
        .token(token(1))
        .store(FileStore::new(file(&dir)))
        .build()
        .await
        .unwrap();
    assert_eq!(loaded(&file(&dir)).await, token(1));
    drop(first_run);
    let next_run = TokenSource::builder()
        .store(FileStore::new(file(&dir)))
        .build()
        .await
        .unwrap();
    assert_eq!(next_run.current().unwrap(), token(1));
    // A given token the store already holds is not written again.
    let modified = std::fs::metadata(file(&dir)).unwrap().modified().unwrap();
    tokio::time::sleep(Duration::from_millis(20)).await;
    TokenSource::builder()
        .token(token(1))
        .store(FileStore::new(file(&dir)))
        .build()
        .await
        .unwrap();
    let after = std::fs::metadata(file(&dir)).unwrap().modified().unwrap();
    assert_eq!(modified, after);
}

#[tokio::test]
async fn compare_and_swap_writes_only_over_the_expected_refresh_token() {
    let dir = TempDir::new("cas");
    let store = FileStore::new(file(&dir));
    store.save(&token(1)).await.unwrap();
    let stale = RefreshToken::new("refresh-0");
    assert!(
        !store
            .compare_and_swap(Some(&stale), &token(2))
            .await
            .unwrap()
    );
    assert_eq!(loaded(&file(&dir)).await, token(1));
    let current = RefreshToken::new("refresh-1");
    assert!(
        store
            .compare_and_swap(Some(&current), &token(2))
            .await
            .unwrap()
    );
    assert_eq!(loaded(&file(&dir)).await, token(2));
}

/// `compare_and_swap` (SECURITY §4.5 #49, lost-update detection) on every store: it stores only
/// when the stored refresh token is the expected one (none expected: an empty store, or a
/// token with no refresh token), and a `CallbackStore` tells its callback of a swap only.
#[tokio::test]
async fn every_store_swaps_only_over_the_expected_refresh_token() {
    async fn check(store: &dyn TokenStore, what: &str) {
        let (stale, current) = (
            RefreshToken::new("refresh-0"),
            RefreshToken::new("refresh-1"),
        );
        // Empty: only "no refresh token" is expected.
        assert!(
            !store
                .compare_and_swap(Some(&stale), &token(1))
                .await
                .unwrap(),
            "{what}"
        );
        assert_eq!(store.load().await.unwrap(), None, "{what}");
        assert!(
            store.compare_and_swap(None, &token(1)).await.unwrap(),
            "{what}"
        );
        assert_eq!(store.load().await.unwrap(), Some(token(1)), "{what}");
        // Holding refresh-1: neither another one nor none is expected.
        for expected in [Some(&stale), None] {
            assert!(
                !store.compare_and_swap(expected, &token(2)).await.unwrap(),
                "{what}"
            );
            assert_eq!(store.load().await.unwrap(), Some(token(1)), "{what}");
        }
        assert!(
            store
                .compare_and_swap(Some(&current), &token(2))
                .await
                .unwrap(),
            "{what}"
        );
        assert_eq!(store.load().await.unwrap(), Some(token(2)), "{what}");
        // A token with no refresh token is replaced when none is expected.
        let bare = Token::new(AccessToken::new("bare"), TokenType::Bearer);
        store.save(&bare).await.unwrap();
        assert!(
            !store
                .compare_and_swap(Some(&current), &token(3))
                .await
                .unwrap(),
            "{what}"
        );
        assert!(
            store.compare_and_swap(None, &token(3)).await.unwrap(),
            "{what}"
        );
        assert_eq!(store.load().await.unwrap(), Some(token(3)), "{what}");
    }
    let dir = TempDir::new("cas-all");
    check(&FileStore::new(file(&dir)), "FileStore").await;
    check(&MemoryStore::new(), "MemoryStore").await;
    let told = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let callback = CallbackStore::new({
        let told = told.clone();
        move |token: &Token| {
            told.lock()
                .unwrap()
                .push(token.access_token().secret().to_owned());
            Ok(())
        }
    });
    check(&callback, "CallbackStore").await;
    // Told of the three swaps and of the one save, in order.
    assert_eq!(
        *told.lock().unwrap(),
        ["access-1", "access-2", "bare", "access-3"]
    );
}

/// A `FileStore` prints its path and a refresh lock whether it is held, a `CallbackStore` the
/// token it keeps, redacted; none prints a secret (SECURITY §4.9 #86).
#[tokio::test]
async fn stores_and_refresh_locks_print_their_state_and_no_secret() {
    let dir = TempDir::new("debug");
    let store = FileStore::new(file(&dir));
    store.save(&token(1)).await.unwrap();
    let printed = format!("{store:?}");
    assert!(printed.starts_with("FileStore"), "{printed}");
    assert!(printed.contains(&format!("{:?}", file(&dir))), "{printed}");
    assert!(!printed.contains("access-1") && !printed.contains("refresh-1"));
    let lock = store.lock_refresh().await.unwrap();
    assert_eq!(format!("{lock:?}"), "RefreshLock { held: true }");
    drop(lock);
    let none = tower_oauth2::store::RefreshLock::none();
    assert_eq!(format!("{none:?}"), "RefreshLock { held: false }");
    // A `CallbackStore` prints the token it keeps with its secrets redacted.
    let callback = CallbackStore::new(|_: &Token| Ok(()));
    callback.save(&token(1)).await.unwrap();
    let printed = format!("{callback:?}");
    assert!(printed.starts_with("CallbackStore"), "{printed}");
    assert!(printed.contains("redacted"), "{printed}");
    assert!(!printed.contains("access-1") && !printed.contains("refresh-1"));
}

/// A save given up on at once still runs to its end before the next one starts, so the last
/// save wins and the file is always a whole token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cancelled_save_never_overwrites_a_later_one() {
    let dir = TempDir::new("cancel");
    let store = FileStore::new(file(&dir));
    for n in 0..50 {
        // Dropped before (or while) its blocking write runs.
        let _ = tokio::time::timeout(Duration::ZERO, store.save(&token(2 * n))).await;
        store.save(&token(2 * n + 1)).await.unwrap();
        assert_eq!(loaded(&file(&dir)).await, token(2 * n + 1), "round {n}");
    }
    // The dropped writes are done by now; none left a temporary file.
    tokio::time::sleep(Duration::from_millis(100)).await;
    assert_eq!(dir.entries(), [".token.json.lock", "token.json"]);
}

/// Two saves asked for one after the other, and then awaited together, land in the order they
/// were asked for: their blocking writes start on two threads in whichever order the threads
/// run, and the later save waits for its turn, so the file ends with the later token.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn saves_asked_one_after_the_other_land_in_that_order() {
    let dir = TempDir::new("order");
    let store = FileStore::new(file(&dir));
    // Without the turns, about one round in a hundred lands out of order here.
    for n in 0..1000 {
        let (earlier, later) = (token(2 * n), token(2 * n + 1));
        let mut saves = [store.save(&earlier), store.save(&later)];
        let mut done = [false; 2];
        // The first poll asks for the earlier save, then the later one.
        std::future::poll_fn(|cx| {
            for (save, done) in saves.iter_mut().zip(&mut done) {
                if !*done && let Poll::Ready(result) = save.as_mut().poll(cx) {
                    result.unwrap();
                    *done = true;
                }
            }
            if done == [true; 2] {
                Poll::Ready(())
            } else {
                Poll::Pending
            }
        })
        .await;
        assert_eq!(loaded(&file(&dir)).await, later, "round {n}");
    }
}

/// A save still waiting for a blocking thread when its runtime is shut down holds up a later
/// save on the path (from another runtime) only until it has run or been dropped, whichever
/// the shut-down runtime does with it: the later one lands after it, promptly.
#[test]
fn a_save_queued_in_a_runtime_shut_down_holds_up_a_later_one_only_briefly() {
    let dir = TempDir::new("unrun");
    let store = FileStore::new(file(&dir));
    let first = tokio::runtime::Builder::new_current_thread()
        .max_blocking_threads(1)
        .enable_all()
        .build()
        .unwrap();
    first.block_on(async {
        // The runtime's one blocking thread is busy, so the save below waits in its queue.
        drop(tokio::task::spawn_blocking(|| {
            std::thread::sleep(Duration::from_millis(300))
        }));
        let _ = tokio::time::timeout(Duration::from_millis(20), store.save(&token(1))).await;
    });
    first.shutdown_background();

    let second = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let started = Instant::now();
    second.block_on(async {
        store.save(&token(2)).await.unwrap();
        assert_eq!(loaded(&file(&dir)).await, token(2));
    });
    // Not the ten seconds and more of waiting for a turn that never comes.
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "{:?}",
        started.elapsed()
    );
}

/// Two stores of the same path (two parts of one program) writing at once: every write is
/// whole, and no temporary file is shared or left behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_stores_of_one_path_do_not_interleave() {
    let dir = TempDir::new("two");
    let (a, b) = (FileStore::new(file(&dir)), FileStore::new(file(&dir)));
    let mut tasks = tokio::task::JoinSet::new();
    for n in 0..40 {
        let store = if n % 2 == 0 { a.clone() } else { b.clone() };
        tasks.spawn(async move { store.save(&token(n)).await.unwrap() });
    }
    tasks.join_all().await;
    let last = loaded(&file(&dir)).await;
    assert!((0..40).any(|n| last == token(n)));
    assert_eq!(dir.entries(), [".token.json.lock", "token.json"]);
}

/// Another holder of the token file's lock (here a second handle, as another process would
/// have) that never lets go is waited for the lock wait, then done without: a refresh goes on
/// and a save still writes. Once it lets go, the lock is had at once.
#[tokio::test]
async fn a_lock_held_too_long_elsewhere_is_waited_for_then_done_without() {
    let dir = TempDir::new("held");
    let wait = Duration::from_millis(200);
    let store = FileStore::new(file(&dir)).lock_wait(wait);
    let other = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(store.lock_path())
        .unwrap();
    other.lock().unwrap();
    let started = Instant::now();
    let lock = store.lock_refresh().await.unwrap();
    assert!(started.elapsed() >= wait);
    drop(lock);
    let started = Instant::now();
    store.save(&token(1)).await.unwrap();
    assert!(started.elapsed() >= wait);
    assert_eq!(loaded(&file(&dir)).await, token(1));
    other.unlock().unwrap();
    let held = store.lock_refresh().await.unwrap();
    assert!(other.try_lock().is_err(), "held across processes now");
    drop(held);
    other.try_lock().unwrap();
}

/// A symbolic link planted where the lock file goes is not followed into: the store locks
/// within the process only, and still saves.
#[cfg(unix)]
#[tokio::test]
async fn a_symlink_at_the_lock_file_is_refused_and_the_store_still_works() {
    let dir = TempDir::new("symlink");
    let store = FileStore::new(file(&dir));
    let target = dir.0.join("elsewhere");
    std::fs::write(&target, "keep").unwrap();
    std::os::unix::fs::symlink(&target, store.lock_path()).unwrap();
    let lock = store.lock_refresh().await.unwrap();
    store.save(&token(1)).await.unwrap();
    drop(lock);
    assert_eq!(loaded(&file(&dir)).await, token(1));
    assert_eq!(std::fs::read_to_string(&target).unwrap(), "keep");
    // Not locked through the link.
    std::fs::File::open(&target).unwrap().try_lock().unwrap();
}

/// A dangling symbolic link at the lock file's name does not get its target created: the lock
/// falls back to the process, and the token is still saved.
#[cfg(unix)]
#[tokio::test]
async fn a_dangling_symlink_at_the_lock_file_creates_nothing() {
    let dir = TempDir::new("dangling");
    let store = FileStore::new(file(&dir));
    let target = dir.0.join("planted");
    std::os::unix::fs::symlink(&target, store.lock_path()).unwrap();
    let lock = store.lock_refresh().await.unwrap();
    store.save(&token(1)).await.unwrap();
    drop(lock);
    assert_eq!(loaded(&file(&dir)).await, token(1));
    assert!(!target.exists(), "the link's target was created");
}

/// Two spellings of one token file (through `..`, or a symbolic link to its directory) share
/// one lock file.
#[cfg(unix)]
#[tokio::test]
async fn every_spelling_of_the_path_shares_one_lock() {
    let dir = TempDir::new("spellings");
    std::fs::create_dir(dir.0.join("sub")).unwrap();
    std::os::unix::fs::symlink(&dir.0, dir.0.join("link")).unwrap();
    let plain = FileStore::new(file(&dir));
    for other in [
        dir.0.join("sub/../token.json"),
        dir.0.join("link/token.json"),
    ] {
        assert_eq!(FileStore::new(other).lock_path(), plain.lock_path());
    }
}

/// Set in the child processes of `processes_sharing_a_file_store_refresh_once`: the directory
/// they share.
const CHILD_DIR: &str = "TOWER_OAUTH2_FILE_STORE_CHILD_DIR";
const CHILDREN: usize = 4;

/// The authorization server the child processes share, kept in files under their directory:
/// the refresh token it accepts now, how many refreshes it answered, and whether a spent
/// refresh token was presented again (a server with reuse detection would revoke the grant).
struct FileServer(PathBuf);

impl FileServer {
    fn refresh(&self, presented: &str) -> Result<Token, tower_oauth2::TokenError> {
        let lock = std::fs::File::create(self.0.join("server.lock")).unwrap();
        lock.lock().unwrap();
        let accepted = std::fs::read_to_string(self.0.join("accepted")).unwrap();
        if presented != accepted {
            std::fs::write(self.0.join("reused"), presented).unwrap();
            return Err(tower_oauth2::TokenError::new(
                tower_oauth2::TokenErrorKind::Reauthorize,
                None,
            ));
        }
        let issued = self.issued() + 1;
        std::fs::write(self.0.join("issued"), issued.to_string()).unwrap();
        std::fs::write(self.0.join("accepted"), format!("refresh-{issued}")).unwrap();
        Ok(token(issued).with_expires_at(Some(SystemTime::now() + Duration::from_secs(3600))))
    }

    fn issued(&self) -> usize {
        std::fs::read_to_string(self.0.join("issued")).map_or(0, |n| n.parse().unwrap())
    }
}

/// One child process: a token source over the shared file, which waits for the others to be
/// ready, then asks for a token (the stored one is expired) and prints it. Does nothing when
/// not started as a child.
#[tokio::test]
async fn child_process_sharing_a_file_store() {
    let Some(dir) = std::env::var_os(CHILD_DIR).map(PathBuf::from) else {
        return;
    };
    let server = std::sync::Arc::new(FileServer(dir.clone()));
    let fetch = move |current: Option<&Token>| {
        let presented = current
            .unwrap()
            .refresh_token()
            .unwrap()
            .secret()
            .to_owned();
        let answer = server.refresh(&presented);
        async move {
            // The network round trip: the other processes are asking meanwhile.
            tokio::time::sleep(Duration::from_millis(300)).await;
            answer
        }
    };
    let source = TokenSource::builder()
        .store(FileStore::new(dir.join("token.json")))
        .fetcher(fetch)
        .build()
        .await
        .unwrap();
    std::fs::write(dir.join(format!("ready-{}", std::process::id())), "").unwrap();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !dir.join("go").exists() {
        assert!(Instant::now() < deadline, "never told to go");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    let token = source.token().await.unwrap();
    println!("CHILD-TOKEN {}", token.access_token().secret());
}

/// Four processes share one token file whose token has expired, against a server that
/// rotates refresh tokens: they refresh one at a time under the file's lock, so the server
/// answers one refresh, no refresh token is presented twice, and all four use the same new
/// token.
#[test]
fn processes_sharing_a_file_store_refresh_once() {
    let dir = TempDir::new("processes");
    let expired = token(0).with_expires_at(Some(SystemTime::now() - Duration::from_secs(60)));
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap()
        .block_on(FileStore::new(file(&dir)).save(&expired))
        .unwrap();
    std::fs::write(dir.0.join("accepted"), "refresh-0").unwrap();

    let exe = std::env::current_exe().unwrap();
    let mut children: Vec<_> = (0..CHILDREN)
        .map(|_| {
            Command::new(&exe)
                .args([
                    "--exact",
                    "child_process_sharing_a_file_store",
                    "--nocapture",
                ])
                .env(CHILD_DIR, &dir.0)
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    // Bounded: children that do not finish are killed, and the test fails.
    let deadline = Instant::now() + Duration::from_secs(60);
    let ready = || {
        dir.entries()
            .iter()
            .filter(|n| n.starts_with("ready-"))
            .count()
    };
    while ready() < CHILDREN && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(5));
    }
    std::fs::write(dir.0.join("go"), "").unwrap();
    let mut tokens = Vec::new();
    for child in &mut children {
        while child.try_wait().unwrap().is_none() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(10));
        }
        let _ = child.kill();
    }
    for child in children {
        let output = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&output.stdout);
        assert!(
            output.status.success(),
            "child failed: {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        tokens.extend(
            stdout
                .lines()
                .filter_map(|l| l.strip_prefix("CHILD-TOKEN "))
                .map(str::to_owned),
        );
    }
    assert_eq!(tokens, vec!["access-1"; CHILDREN]);
    let server = FileServer(dir.0.clone());
    assert_eq!(server.issued(), 1, "one refresh for all the processes");
    assert!(
        !dir.0.join("reused").exists(),
        "a spent refresh token was presented again"
    );
    let stored = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap()
        .block_on(FileStore::new(file(&dir)).load())
        .unwrap()
        .unwrap();
    assert_eq!(stored.refresh_token().unwrap().secret(), "refresh-1");
}

/// A token file that is a symbolic link (dotfiles managed with stow, a shared config dir): a
/// save through the link replaces the file it names and keeps the link (it used to replace the
/// link by a regular file, so a store opened on the real path kept the rotated-away refresh
/// token), and both names share one lock.
#[cfg(unix)]
#[tokio::test]
async fn a_save_through_a_symlinked_token_file_replaces_the_file_it_names() {
    let dir = TempDir::new("symlinked-file");
    let real = dir.0.join("real.json");
    let link = dir.0.join("token.json");
    FileStore::new(&real).save(&token(1)).await.unwrap();
    std::os::unix::fs::symlink(&real, &link).unwrap();

    let via_link = FileStore::new(&link);
    let via_real = FileStore::new(&real);
    via_link.save(&token(2)).await.unwrap();
    let is_link = std::fs::symlink_metadata(&link)
        .unwrap()
        .file_type()
        .is_symlink();
    let at_real = via_real.load().await.unwrap().unwrap();
    assert!(
        is_link && at_real == token(2),
        "save through the link: link still a symlink = {is_link}, real file holds {:?}",
        at_real.refresh_token().map(|r| r.secret().to_owned())
    );
}

/// The same through a *relative* link (`token.json -> tokens/real.json`, as dotfile managers
/// make them): the target is found from the link's own directory, not from the working
/// directory.
#[cfg(unix)]
#[tokio::test]
async fn a_relative_symlink_is_followed_from_its_own_directory() {
    let dir = TempDir::new("relative-link");
    std::fs::create_dir(dir.0.join("tokens")).unwrap();
    let real = dir.0.join("tokens").join("real.json");
    let link = dir.0.join("token.json");
    FileStore::new(&real).save(&token(1)).await.unwrap();
    std::os::unix::fs::symlink("tokens/real.json", &link).unwrap();
    let via_link = FileStore::new(&link);
    assert_eq!(via_link.load().await.unwrap(), Some(token(1)));
    via_link.save(&token(2)).await.unwrap();
    assert!(
        std::fs::symlink_metadata(&link)
            .unwrap()
            .file_type()
            .is_symlink()
    );
    assert_eq!(FileStore::new(&real).load().await.unwrap(), Some(token(2)));
    assert_eq!(via_link.lock_path(), FileStore::new(&real).lock_path());
}

/// A token file that cannot be read (here a symbolic link to itself: `ELOOP`) is a load error,
/// not "no token stored": only a missing file is that.
#[cfg(unix)]
#[tokio::test]
async fn an_unreadable_token_file_is_a_load_error_not_an_empty_store() {
    let dir = TempDir::new("unreadable");
    let path = file(&dir);
    std::os::unix::fs::symlink("token.json", &path).unwrap();
    let loaded = FileStore::new(&path).load().await;
    assert!(
        loaded.is_err(),
        "an unreadable token file loaded as {loaded:?}"
    );
    let missing = FileStore::new(dir.0.join("missing.json")).load().await;
    assert_eq!(missing.unwrap(), None);
}

/// A save whose temporary file cannot be made (its directory does not exist) fails at once with
/// a store error; it does not try again for ever. (On a thread of its own, so that a save that
/// never ends fails the test instead of hanging it.)
#[test]
fn a_save_into_a_missing_directory_fails_at_once() {
    let dir = TempDir::new("no-dir");
    let store = FileStore::new(dir.0.join("missing").join("token.json"));
    let (done, result) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let saved = runtime.block_on(store.save(&token(1)));
        let _ = done.send(saved.map_err(|e| format!("{e} {e:?}")));
    });
    let saved = result
        .recv_timeout(Duration::from_secs(10))
        .expect("the save ended");
    let error = saved.unwrap_err();
    assert!(!error.contains("access-1"), "{error}");
}

/// Two `FileStore`s made for one path in one process are one store: while one holds the
/// refresh lock (a refresh saving its new token through the other, say), the other's save
/// shares this process's hold on the file instead of waiting for it as for another process.
#[tokio::test]
async fn two_stores_of_one_path_in_one_process_share_its_lock() {
    let dir = TempDir::new("same-path");
    assert_two_new_stores_share_one_lock(&dir).await;
}

/// The process forgets a path once every store of it is dropped; stores of that path made
/// afterwards share one lock again (not each its own, which would make a save wait the whole
/// lock wait for a refresh of the same program).
#[tokio::test]
async fn stores_of_a_path_made_after_the_earlier_ones_were_dropped_share_its_lock() {
    let dir = TempDir::new("remade");
    drop(FileStore::new(file(&dir)));
    assert_two_new_stores_share_one_lock(&dir).await;
}

#[cfg(unix)]
#[tokio::test]
async fn a_symlinked_token_file_and_its_target_share_one_lock() {
    let dir = TempDir::new("symlinked-lock");
    let real = dir.0.join("real.json");
    let link = dir.0.join("token.json");
    FileStore::new(&real).save(&token(1)).await.unwrap();
    std::os::unix::fs::symlink(&real, &link).unwrap();
    assert_eq!(
        FileStore::new(&link).lock_path(),
        FileStore::new(&real).lock_path(),
        "two spellings of one token file lock different lock files"
    );
}

/// The lock file is left in place; if it is removed (a cleaner, a user tidying `.lock` files)
/// while a process keeps its store open, that process must not go on locking the removed file,
/// which excludes no one: it opens the new one and waits for the process holding it.
#[tokio::test]
async fn a_lock_file_removed_while_held_open_is_opened_again() {
    let dir = TempDir::new("lock-removed");
    let wait = Duration::from_millis(300);
    let store = FileStore::new(dir.0.join("token.json")).lock_wait(wait);
    // First refresh: the lock file is created and kept open by this process.
    drop(store.lock_refresh().await.unwrap());
    std::fs::remove_file(store.lock_path()).unwrap();
    // Another process (here a separate open file description) creates the lock file anew
    // and holds it for its refresh.
    let other = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(store.lock_path())
        .unwrap();
    other.lock().unwrap();
    let started = Instant::now();
    let held = store.lock_refresh().await.unwrap();
    let waited = started.elapsed();
    drop(held);
    assert!(
        waited >= wait,
        "lock_refresh returned after {waited:?} while another process holds the lock file: both refresh at once"
    );
}

/// A lock file removed between two operations, with no other process making it again, is
/// made and locked again by the next one: a refresh never goes on unlocked for want of it.
#[tokio::test]
async fn a_lock_file_removed_between_operations_is_made_and_locked_again() {
    let dir = TempDir::new("lock-gone");
    let store = FileStore::new(dir.0.join("token.json")).lock_wait(Duration::from_secs(5));
    drop(store.lock_refresh().await.unwrap());
    std::fs::remove_file(store.lock_path()).unwrap();
    let held = store.lock_refresh().await.unwrap();
    let other = std::fs::OpenOptions::new()
        .write(true)
        .open(store.lock_path())
        .expect("the lock file is made again");
    assert!(other.try_lock().is_err(), "the refresh holds no lock");
    drop(held);
    other.try_lock().unwrap();
}

/// A save made while this process holds the refresh lock (a refresh saving its new token)
/// takes and gives back its own share of the lock: the lock stays held for other processes
/// until the refresh lets go.
#[tokio::test]
async fn a_save_during_a_refresh_leaves_the_lock_held_for_other_processes() {
    let dir = TempDir::new("nested");
    let store = FileStore::new(file(&dir)).lock_wait(Duration::from_secs(5));
    let refresh = store.lock_refresh().await.unwrap();
    store.save(&token(1)).await.unwrap();
    let other = std::fs::OpenOptions::new()
        .write(true)
        .open(store.lock_path())
        .unwrap();
    assert!(
        other.try_lock().is_err(),
        "the save's end unlocked the file while the refresh still held it"
    );
    drop(refresh);
    other.try_lock().unwrap();
}

/// Another refresh of the same store in this process that never ends is waited for only for
/// the lock wait (SECURITY §4.5 #45: no wedged waiters), by the store itself: a `FileStore`'s
/// [`lock_wait`](FileStore::lock_wait), a `MemoryStore`'s `REFRESH_LOCK_WAIT`.
#[tokio::test]
async fn a_refresh_lock_held_too_long_in_this_process_is_waited_for_then_done_without() {
    let dir = TempDir::new("held-here");
    let wait = Duration::from_millis(200);
    let store = FileStore::new(file(&dir)).lock_wait(wait);
    let held = store.lock_refresh().await.unwrap();
    let started = Instant::now();
    let second = tokio::time::timeout(Duration::from_secs(10), store.lock_refresh()).await;
    assert!(
        second.is_ok(),
        "still waiting for the other refresh after 10 s"
    );
    assert!(started.elapsed() >= wait);
    drop(held);

    let memory = MemoryStore::new();
    let held = memory.lock_refresh().await.unwrap();
    tokio::time::pause();
    let started = tokio::time::Instant::now();
    let wait = tower_oauth2::store::REFRESH_LOCK_WAIT;
    let second = tokio::time::timeout(2 * wait, memory.lock_refresh()).await;
    assert!(
        second.is_ok(),
        "still waiting for the other refresh after twice the lock wait"
    );
    assert!(started.elapsed() >= wait);
    drop(held);
}

/// A token file that is empty (a crash of an older non-atomic writer, disk full, `touch`) or
/// truncated does not cost a fresh login: the token just exchanged for a single-use code,
/// given to the builder, is used and saved over the file (the build used to fail, dropping it,
/// and every later run failed too until the file was deleted by hand).
#[tokio::test]
async fn a_given_token_replaces_a_token_file_that_cannot_be_read() {
    let dir = TempDir::new("empty-file");
    let path = dir.0.join("token.json");
    for content in [&b""[..], &b"{\"access_token\":\"acc"[..]] {
        std::fs::write(&path, content).unwrap();
        let built = TokenSource::builder()
            .token(token(1))
            .store(FileStore::new(&path))
            .build()
            .await;
        let source = built.unwrap_or_else(|e| {
            panic!(
                "content {:?}: the freshly exchanged token is dropped: {e}",
                String::from_utf8_lossy(content)
            )
        });
        assert_eq!(source.current(), Some(token(1)));
        assert_eq!(
            loaded(&path).await,
            token(1),
            "the given token is saved over"
        );
    }
}

/// "Wait as long as it takes" for the other process's lock: `Instant::now() + wait` used to
/// overflow and panic on the blocking thread, so every save (and compare-and-swap) failed and
/// no token was ever written to the file.
#[tokio::test]
async fn an_unbounded_lock_wait_still_saves() {
    let dir = TempDir::new("lock-wait-max");
    let store = FileStore::new(dir.0.join("token.json")).lock_wait(Duration::MAX);
    let saved = store.save(&token(1)).await;
    assert!(saved.is_ok(), "save failed: {:?}", saved.err());
    let swapped = store
        .compare_and_swap(Some(&RefreshToken::new("refresh-1")), &token(2))
        .await;
    assert!(matches!(swapped, Ok(true)), "compare_and_swap: {swapped:?}");
}

/// The same overflow in `lock_refresh`: the panic was swallowed, so the refresh went on
/// without the cross-process lock, and without a warning.
#[tokio::test]
async fn an_unbounded_lock_wait_still_takes_the_lock_file() {
    let dir = TempDir::new("lock-wait-max-refresh");
    let store = FileStore::new(dir.0.join("token.json")).lock_wait(Duration::MAX);
    let held = store.lock_refresh().await.unwrap();
    let other = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .open(store.lock_path())
        .unwrap();
    let free = other.try_lock().is_ok();
    drop(held);
    assert!(
        !free,
        "lock_refresh returned, yet another process can take the lock file"
    );
}

/// A token path that is not a regular file (a named pipe planted there, a directory) is an
/// error at once: reading a pipe would block for ever, holding the path's lock.
#[cfg(unix)]
#[tokio::test]
async fn a_token_path_that_is_not_a_regular_file_is_an_error_not_a_hang() {
    let dir = TempDir::new("not-a-file");
    let pipe = dir.0.join("pipe.json");
    let made = Command::new("mkfifo").arg(&pipe).status().unwrap();
    assert!(made.success());
    let directory = dir.0.join("dir.json");
    std::fs::create_dir(&directory).unwrap();
    for path in [pipe, directory] {
        let loaded = tokio::time::timeout(Duration::from_secs(10), FileStore::new(&path).load())
            .await
            .expect("load returns");
        let error = loaded.unwrap_err();
        assert!(
            std::error::Error::source(&error)
                .unwrap()
                .to_string()
                .contains("not a regular file"),
            "{error}"
        );
    }
}

/// A token file whose name is near the file system's limit (255 bytes on Linux): the
/// temporary file and the lock file beside it get shortened names rather than failing every
/// save with "file name too long" (or every lock). Failed before: each save was an error.
#[tokio::test]
async fn a_token_file_with_a_name_at_the_length_limit_saves_and_locks() {
    let dir = TempDir::new("long-name");
    for name in ["t".repeat(255), format!("{}.json", "é".repeat(125))] {
        let path = dir.0.join(&name);
        let store = FileStore::new(&path);
        store.save(&token(1)).await.unwrap();
        let _lock = store.lock_refresh().await.unwrap();
        store.save(&token(2)).await.unwrap();
        assert_eq!(loaded(&path).await, token(2));
        assert!(store.lock_path().exists(), "the lock file was made");
        assert!(
            store.lock_path().file_name().unwrap().len() <= 255,
            "{:?}",
            store.lock_path()
        );
    }
    let temporaries = dir.entries().into_iter().filter(|e| e.ends_with(".tmp"));
    assert_eq!(temporaries.count(), 0, "no temporary file left behind");
}

/// A `CallbackStore` runs its functions inside `catch_unwind` (its docs): a panic in the token
/// updater or in `on_revoked` comes back from the store call as a `StoreError` naming which
/// function failed, caused by "the callback panicked", never unwound into the caller (with no
/// token source around it to catch it), and the token saved or swapped in stays in memory. An
/// updater's own error is the `StoreError`'s cause. (Hand mutants of store/callback.rs, which
/// cargo-mutants cannot make in the boxed futures: the panic of `on_revoked` unwound or taken
/// for success, the updater's panic or error taken for success.)
#[tokio::test]
async fn a_callback_stores_panics_and_updater_errors_are_store_errors() {
    use std::error::Error as _;

    let store = CallbackStore::new(|_: &Token| panic!("updater bug"))
        .on_revoked(|_: &Token| panic!("on_revoked bug"));
    let error = store.save(&token(1)).await.unwrap_err();
    assert_eq!(error.to_string(), "token store token_updater failed");
    assert_eq!(error.source().unwrap().to_string(), "the callback panicked");
    assert_eq!(store.load().await.unwrap(), Some(token(1)));
    let (refresh, next) = (RefreshToken::new("refresh-1"), token(2));
    let error = store
        .compare_and_swap(Some(&refresh), &next)
        .await
        .unwrap_err();
    assert_eq!(error.to_string(), "token store token_updater failed");
    assert_eq!(store.load().await.unwrap(), Some(token(2)));
    let error = store.grant_revoked(&token(2)).await.unwrap_err();
    assert_eq!(error.to_string(), "token store on_revoked failed");
    assert_eq!(error.source().unwrap().to_string(), "the callback panicked");

    let failing = CallbackStore::new(|_: &Token| Err("the disk is full".into()));
    let error = failing.save(&token(1)).await.unwrap_err();
    assert_eq!(error.to_string(), "token store token_updater failed");
    assert_eq!(error.source().unwrap().to_string(), "the disk is full");
    assert_eq!(failing.load().await.unwrap(), Some(token(1)));
    // Without `on_revoked`, there is nobody to tell: not a failure.
    failing.grant_revoked(&token(1)).await.unwrap();
}

/// Clones of a `MemoryStore` or a `CallbackStore` (which keeps its token in one) share one
/// refresh lock (`TokenStore::lock_refresh`: "keeps the others waiting until the returned lock
/// is dropped"), so that token sources over clones of one store refresh one at a time instead of
/// spending the same refresh token twice: a clone's `lock_refresh` waits while the lock is
/// held (up to `REFRESH_LOCK_WAIT`), and takes it once it is dropped. (Hand mutant of
/// store/callback.rs, which cargo-mutants cannot make in the boxed future: `lock_refresh`
/// returning `RefreshLock::none()`.)
#[tokio::test(start_paused = true)]
async fn clones_of_an_in_memory_store_refresh_one_at_a_time() {
    async fn check(store: Box<dyn TokenStore>, clone: Box<dyn TokenStore>, what: &str) {
        let held = store.lock_refresh().await.unwrap();
        let waiting = tokio::spawn(async move {
            let started = tokio::time::Instant::now();
            let lock = clone.lock_refresh().await.unwrap();
            (format!("{lock:?}"), started.elapsed())
        });
        tokio::time::sleep(tower_oauth2::store::REFRESH_LOCK_WAIT / 2).await;
        assert!(!waiting.is_finished(), "{what}: both hold the refresh lock");
        drop(held);
        let (lock, waited) = waiting.await.unwrap();
        assert_eq!(lock, "RefreshLock { held: true }", "{what}");
        assert_eq!(waited, tower_oauth2::store::REFRESH_LOCK_WAIT / 2, "{what}");
    }
    let memory = MemoryStore::new();
    check(Box::new(memory.clone()), Box::new(memory), "MemoryStore").await;
    let callback = CallbackStore::new(|_: &Token| Ok(()));
    check(
        Box::new(callback.clone()),
        Box::new(callback),
        "CallbackStore",
    )
    .await;
}

/// Outside a tokio runtime (another executor, or a plain poll), the file store's operations
/// fail with a `StoreError` that says what is needed, instead of panicking in tokio's
/// `spawn_blocking`; nothing is written.
#[test]
fn outside_a_tokio_runtime_the_file_store_fails_instead_of_panicking() {
    let dir = TempDir::new("no-runtime");
    let store = FileStore::new(file(&dir));
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    let token = token(1);
    let mut save = store.save(&token);
    let Poll::Ready(Err(error)) = save.as_mut().poll(&mut cx) else {
        panic!("the save did not fail at once");
    };
    drop(save);
    assert_eq!(error.to_string(), "token store save failed");
    let cause = std::error::Error::source(&error).unwrap().to_string();
    assert!(cause.contains("within a tokio runtime"), "{cause}");
    let Poll::Ready(Err(error)) = store.load().as_mut().poll(&mut cx) else {
        panic!("the load did not fail at once");
    };
    assert_eq!(error.to_string(), "token store load failed");
    let Poll::Ready(Err(error)) = store.lock_refresh().as_mut().poll(&mut cx) else {
        panic!("the refresh lock did not fail at once");
    };
    assert_eq!(error.to_string(), "token store lock_refresh failed");
    assert!(!file(&dir).exists());
}
