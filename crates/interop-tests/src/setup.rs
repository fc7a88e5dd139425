//! Installing the servers' dependencies (`setup.sh`) once, under a cross-process lock.

use std::fs::OpenOptions;
use std::path::Path;
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

use crate::HarnessError;
use crate::process::run_with_timeout;

/// Longest `setup.sh` may run (a from-scratch install takes well under a minute).
const SETUP_TIMEOUT: Duration = Duration::from_secs(600);

/// This crate's directory (where `setup.sh`, the server sources and `.venv` live).
pub fn crate_dir() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

/// Makes sure the Python venv and `node_modules` are installed and up to date.
///
/// Runs `setup.sh` (idempotent, well under a second when nothing changed) at most once
/// per process, holding an exclusive lock on `.setup.lock` in this crate's directory so
/// that test binaries running in parallel do not install concurrently. Called by the
/// `start` functions; call it yourself only to install without starting anything.
///
/// # Errors
///
/// [`HarnessError::Setup`] with the end of the script's output if it failed; the
/// failure is remembered for the rest of the process.
pub fn ensure_installed() -> Result<(), HarnessError> {
    static RESULT: OnceLock<Result<(), String>> = OnceLock::new();
    RESULT
        .get_or_init(run_setup_locked)
        .clone()
        .map_err(HarnessError::Setup)
}

fn run_setup_locked() -> Result<(), String> {
    let dir = crate_dir();
    let lock_path = dir.join(".setup.lock");
    let lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| format!("opening {}: {e}", lock_path.display()))?;
    lock.lock()
        .map_err(|e| format!("locking {}: {e}", lock_path.display()))?;
    let mut command = Command::new("bash");
    // setup.sh stops its process group if this process dies (see the script).
    command
        .arg(dir.join("setup.sh"))
        .current_dir(dir)
        .env("INTEROP_SETUP_PARENT", std::process::id().to_string());
    let result = run_with_timeout(command, SETUP_TIMEOUT);
    // Dropping `lock` (the file) releases the lock; be explicit about when.
    drop(lock);
    let output = result.map_err(|e| e.to_string())?;
    if output.status.success() {
        Ok(())
    } else {
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&output.stdout),
            String::from_utf8_lossy(&output.stderr)
        );
        let tail: String = text
            .chars()
            .rev()
            .take(4000)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        Err(format!("{}:\n{tail}", output.status))
    }
}
