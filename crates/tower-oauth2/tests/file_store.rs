//! `FileStore` on a real file system: round trip, mode 0600, no temporary files left behind,
//! compare-and-swap, and writes that stay whole and ordered when a save is cancelled half way
//! or two stores of one path write at once.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};
use std::time::Duration;

use oauth_core::oauth2::{Token, TokenType};
use oauth_core::secret::{AccessToken, RefreshToken};
use tower_oauth2::store::{FileStore, TokenStore};

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

#[tokio::test]
async fn saves_load_back_private_and_leave_no_temporary_file() {
    let dir = TempDir::new("roundtrip");
    let store = FileStore::new(file(&dir));
    assert!(store.load().await.unwrap().is_none());
    store.save(&token(1)).await.unwrap();
    store.save(&token(2)).await.unwrap();
    assert_eq!(loaded(&file(&dir)).await, token(2));
    assert_eq!(dir.entries(), ["token.json"]);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(file(&dir)).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
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
    assert_eq!(dir.entries(), ["token.json"]);
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
    assert_eq!(dir.entries(), ["token.json"]);
}
