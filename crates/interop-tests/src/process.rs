//! Child processes: a server that announces `READY <port>`, and a bounded command run.

use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Seek, SeekFrom};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc;
use std::thread;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use crate::HarnessError;

/// How long a server may take in all to print `READY <port>` before the harness gives
/// up. Split over two attempts: a start that hangs is killed and retried
/// once (normally a server is ready in well under a second).
pub const READY_TIMEOUT: Duration = Duration::from_secs(60);

/// How many times a server that does not get ready in time is started.
const START_ATTEMPTS: u32 = 2;

/// How long a server gets to exit after SIGTERM before it is killed.
const TERM_GRACE: Duration = Duration::from_secs(3);

/// A running server child process; stopped when dropped.
#[derive(Debug)]
pub(crate) struct ServerProcess {
    name: &'static str,
    child: Child,
    port: u16,
    /// Further ports the server announced after the first (`READY <port> <port>...`).
    more_ports: Vec<u16>,
    log_path: PathBuf,
}

impl ServerProcess {
    /// Spawns the command `make` builds and waits for `READY <port>`; if it does not
    /// come within its share of `timeout`, kills it and tries once more.
    pub(crate) fn start(
        name: &'static str,
        make: impl Fn() -> Command,
        timeout: Duration,
    ) -> Result<Self, HarnessError> {
        let per_attempt = timeout / START_ATTEMPTS;
        let mut attempt = 1;
        loop {
            match Self::spawn(name, make(), per_attempt) {
                Err(HarnessError::Timeout { log, .. }) if attempt < START_ATTEMPTS => {
                    eprintln!(
                        "interop-tests: {name} not ready after {per_attempt:?} (log {}), retrying",
                        log.display()
                    );
                    attempt += 1;
                }
                other => return other,
            }
        }
    }

    /// Spawns `command` and waits until it prints `READY <port>` on stdout.
    ///
    /// Its stderr goes to a fresh log file (or to ours with `INTEROP_INHERIT_STDERR=1`).
    pub(crate) fn spawn(
        name: &'static str,
        mut command: Command,
        timeout: Duration,
    ) -> Result<Self, HarnessError> {
        let log_path = new_log_path(name)?;
        let stderr = if inherit_stderr() {
            Stdio::inherit()
        } else {
            let file = File::create(&log_path).map_err(|e| {
                HarnessError::io(format!("creating log file {}", log_path.display()), e)
            })?;
            Stdio::from(file)
        };
        command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(stderr);
        let mut child = command
            .spawn()
            .map_err(|e| HarnessError::io(format!("spawning {name} ({command:?})"), e))?;
        let Some(stdout) = child.stdout.take() else {
            kill_and_reap(&mut child);
            return Err(HarnessError::io(
                format!("{name}: no stdout pipe"),
                io::Error::other("stdout not captured"),
            ));
        };

        let (tx, rx) = mpsc::channel();
        let reader = thread::Builder::new()
            .name(format!("{name}-stdout"))
            .spawn(move || {
                let mut reader = BufReader::new(stdout);
                let mut first = String::new();
                let read = reader.read_line(&mut first).map(|_| first);
                let _ = tx.send(read);
                // Keep draining so the child never blocks on a full pipe.
                let _ = io::copy(&mut reader, &mut io::sink());
            });
        if let Err(e) = reader {
            kill_and_reap(&mut child);
            return Err(HarnessError::io(format!("{name}: stdout reader thread"), e));
        }

        let first_line = match rx.recv_timeout(timeout) {
            Ok(Ok(line)) => line,
            Ok(Err(e)) => {
                kill_and_reap(&mut child);
                return Err(HarnessError::io(format!("{name}: reading stdout"), e));
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                kill_and_reap(&mut child);
                return Err(HarnessError::Timeout {
                    name,
                    after: timeout,
                    log_tail: log_tail(&log_path),
                    log: log_path,
                });
            }
            Err(mpsc::RecvTimeoutError::Disconnected) => String::new(),
        };

        if first_line.is_empty() {
            // End of stdout without a line: the process is exiting.
            let status = wait_for_exit(&mut child, Duration::from_secs(5));
            return Err(HarnessError::Exited {
                name,
                status,
                log_tail: log_tail(&log_path),
                log: log_path,
            });
        }
        let ports: Option<Vec<u16>> = first_line
            .trim_end()
            .strip_prefix("READY ")
            .map(|rest| {
                rest.split(' ')
                    .map(|p| p.parse::<u16>().ok().filter(|p| *p != 0))
                    .collect::<Option<Vec<u16>>>()
            })
            .and_then(|ports| ports.filter(|p| !p.is_empty()));
        let Some((port, more_ports)) = ports.map(|p| (p[0], p[1..].to_vec())) else {
            kill_and_reap(&mut child);
            return Err(HarnessError::BadReadyLine {
                name,
                line: first_line,
                log_tail: log_tail(&log_path),
                log: log_path,
            });
        };
        Ok(Self {
            name,
            child,
            port,
            more_ports,
            log_path,
        })
    }

    pub(crate) fn port(&self) -> u16 {
        self.port
    }

    /// The `n`th port announced after the first one.
    pub(crate) fn more_port(&self, n: usize) -> Option<u16> {
        self.more_ports.get(n).copied()
    }

    pub(crate) fn log_path(&self) -> &Path {
        &self.log_path
    }

    pub(crate) fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGTERM, a grace period, then SIGKILL; always reaps the child.
    pub(crate) fn stop(&mut self) {
        if let Ok(Some(_)) = self.child.try_wait() {
            return;
        }
        if send_sigterm(self.child.id()) {
            let deadline = Instant::now() + TERM_GRACE;
            while Instant::now() < deadline {
                match self.child.try_wait() {
                    Ok(Some(_)) => return,
                    Ok(None) => thread::sleep(Duration::from_millis(20)),
                    Err(_) => break,
                }
            }
            eprintln!("interop-tests: {} ignored SIGTERM, killing it", self.name);
        }
        kill_and_reap(&mut self.child);
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        self.stop();
    }
}

/// SIGTERM without `unsafe`: through kill(1). The child is not reaped yet, so its pid
/// cannot have been reused.
#[cfg(unix)]
fn send_sigterm(pid: u32) -> bool {
    Command::new("kill")
        .arg("-TERM")
        .arg(pid.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

#[cfg(not(unix))]
fn send_sigterm(_pid: u32) -> bool {
    false
}

/// SIGKILL to the process group `leader` leads (see [`run_with_timeout`]), through bash's
/// `kill` builtin (bash is needed for `setup.sh` anyway; kill(1) comes with procps, which a
/// minimal system may lack). The leader is not reaped yet, so the group id cannot have been
/// reused.
#[cfg(unix)]
fn kill_group(leader: u32) {
    let _ = Command::new("bash")
        .arg("-c")
        .arg("kill -KILL -- \"-$1\"")
        .arg("kill-group")
        .arg(leader.to_string())
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status();
}

#[cfg(not(unix))]
fn kill_group(_leader: u32) {}

fn kill_and_reap(child: &mut Child) {
    let _ = child.kill();
    let _ = child.wait();
}

fn wait_for_exit(child: &mut Child, limit: Duration) -> String {
    let deadline = Instant::now() + limit;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return status.to_string(),
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
            _ => {
                kill_and_reap(child);
                return "closed stdout, killed".to_owned();
            }
        }
    }
}

fn inherit_stderr() -> bool {
    std::env::var_os("INTEROP_INHERIT_STDERR").is_some_and(|v| v != "0" && !v.is_empty())
}

/// `$INTEROP_LOG_DIR`, else `<tmp>/tower-oauth-interop`.
pub(crate) fn scratch_dir() -> Result<PathBuf, HarnessError> {
    let dir = std::env::var_os("INTEROP_LOG_DIR")
        .map(PathBuf::from)
        .unwrap_or_else(|| std::env::temp_dir().join("tower-oauth-interop"));
    std::fs::create_dir_all(&dir)
        .map_err(|e| HarnessError::io(format!("creating {}", dir.display()), e))?;
    Ok(dir)
}

/// A file name unique across processes and calls: `<stem>-<pid>-<millis>-<n>.<ext>`.
pub(crate) fn unique_path(stem: &str, ext: &str) -> Result<PathBuf, HarnessError> {
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let millis = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_millis());
    Ok(scratch_dir()?.join(format!("{stem}-{}-{millis}-{n}.{ext}", std::process::id())))
}

fn new_log_path(name: &str) -> Result<PathBuf, HarnessError> {
    let path = unique_path(name, "log")?;
    static CLEANED: std::sync::Once = std::sync::Once::new();
    if let Some(dir) = path.parent() {
        CLEANED.call_once(|| remove_stale_scratch_files(dir, STALE_AFTER, SystemTime::now()));
    }
    Ok(path)
}

/// Scratch files (server logs, configs) older than this are removed at the first server
/// start of a test process, so a machine that runs the suite often does not pile them
/// up; the logs of a recent failed run stay for reading.
const STALE_AFTER: Duration = Duration::from_secs(24 * 60 * 60);

/// Removes from `dir` the files [`unique_path`] made (`.log` and `.json` only) that were
/// last modified more than `age` before `now`; best effort, errors are ignored. Other
/// files are left alone: `$INTEROP_LOG_DIR` may be a directory shared with other things.
fn remove_stale_scratch_files(dir: &Path, age: Duration, now: SystemTime) {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return;
    };
    for entry in entries.flatten() {
        let name = entry.file_name();
        if !name.to_str().is_some_and(is_scratch_file_name) {
            continue;
        }
        let stale = entry
            .metadata()
            .ok()
            .filter(std::fs::Metadata::is_file)
            .and_then(|m| m.modified().ok())
            .and_then(|modified| now.duration_since(modified).ok())
            .is_some_and(|elapsed| elapsed > age);
        if stale {
            let _ = std::fs::remove_file(entry.path());
        }
    }
}

/// Whether `name` has the shape [`unique_path`] gives a log or config:
/// `<stem>-<pid>-<millis>-<n>.log` or `.json`.
fn is_scratch_file_name(name: &str) -> bool {
    let Some(base) = name
        .strip_suffix(".log")
        .or_else(|| name.strip_suffix(".json"))
    else {
        return false;
    };
    let mut parts = base.rsplitn(4, '-');
    let numbers_ok = (0..3).all(|_| {
        parts
            .next()
            .is_some_and(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
    });
    numbers_ok && parts.next().is_some_and(|stem| !stem.is_empty())
}

/// The last few kilobytes of a log file, for error messages.
pub(crate) fn log_tail(path: &Path) -> String {
    const TAIL: u64 = 4096;
    let Ok(mut file) = File::open(path) else {
        return "(no log)".to_owned();
    };
    let len = file.metadata().map_or(0, |m| m.len());
    let _ = file.seek(SeekFrom::Start(len.saturating_sub(TAIL)));
    let mut bytes = Vec::new();
    let _ = file.read_to_end(&mut bytes);
    String::from_utf8_lossy(&bytes).into_owned()
}

/// Runs `command` to completion with its stdout and stderr captured, killing it if it
/// takes longer than `timeout`.
///
/// On Unix the command runs in a process group of its own, and a timeout kills the whole
/// group: what it started (pip and npm under `setup.sh`, say) goes with it instead of
/// running on unsupervised.
///
/// # Errors
///
/// [`HarnessError::Io`] if it cannot be spawned, [`HarnessError::Timeout`] if it ran
/// out of time (its output is not kept: `log_tail` is empty, `log` is the program).
pub fn run_with_timeout(mut command: Command, timeout: Duration) -> Result<Output, HarnessError> {
    command
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    #[cfg(unix)]
    std::os::unix::process::CommandExt::process_group(&mut command, 0);
    let mut child = command
        .spawn()
        .map_err(|e| HarnessError::io(format!("spawning {command:?}"), e))?;
    let stdout = child.stdout.take().map(drain);
    let stderr = child.stderr.take().map(drain);
    let deadline = Instant::now() + timeout;
    let status: Option<ExitStatus> = loop {
        match child.try_wait() {
            Ok(Some(status)) => break Some(status),
            Ok(None) if Instant::now() < deadline => thread::sleep(Duration::from_millis(20)),
            Ok(None) => break None,
            Err(e) => {
                kill_group(child.id());
                kill_and_reap(&mut child);
                return Err(HarnessError::io(format!("waiting for {command:?}"), e));
            }
        }
    };
    let Some(status) = status else {
        kill_group(child.id());
        kill_and_reap(&mut child);
        // Not joining the readers: a grandchild may still hold the pipes open.
        return Err(HarnessError::Timeout {
            name: "command",
            after: timeout,
            log: PathBuf::from(command.get_program()),
            log_tail: String::new(),
        });
    };
    let join =
        |h: Option<thread::JoinHandle<Vec<u8>>>| h.and_then(|h| h.join().ok()).unwrap_or_default();
    Ok(Output {
        status,
        stdout: join(stdout),
        stderr: join(stderr),
    })
}

fn drain(mut pipe: impl Read + Send + 'static) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = pipe.read_to_end(&mut buf);
        buf
    })
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    /// Whether `pid` is a live process, from `/proc` (a zombie waiting to be reaped counts as
    /// gone).
    fn alive(pid: u32) -> bool {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).is_ok_and(|stat| {
            // The state follows the parenthesised command name.
            stat.rsplit_once(')')
                .is_some_and(|(_, rest)| !rest.trim_start().starts_with(['Z', 'X']))
        })
    }

    /// Day-old logs and configs of earlier runs are removed; fresh ones (a failure being
    /// looked at, a run in progress) and files the harness did not make are kept.
    #[test]
    fn stale_scratch_files_are_removed_and_nothing_else() {
        let dir = unique_path("cleanup-test", "dir").unwrap();
        std::fs::create_dir_all(&dir).unwrap();
        let now = SystemTime::now();
        let old = now - Duration::from_secs(2 * 24 * 60 * 60);
        let make = |name: &str, modified: SystemTime| {
            let file = File::create(dir.join(name)).unwrap();
            file.set_modified(modified).unwrap();
        };
        make("oidc-provider-123-1796447701833-0.log", old);
        make("oauthlib-config-7-1796447701833-12.json", old);
        make("oauthlib-provider-9-1796447701833-1.log", now);
        make("notes.log", old);
        make("my-own-file.log", old);
        make("oidc-provider-123-1796447701833-0.pid", old);
        remove_stale_scratch_files(&dir, STALE_AFTER, now);
        let mut left: Vec<String> = std::fs::read_dir(&dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(
            left,
            [
                "my-own-file.log",
                "notes.log",
                "oauthlib-provider-9-1796447701833-1.log",
                "oidc-provider-123-1796447701833-0.pid",
            ]
        );
    }

    /// A malformed `READY` line is reported with the server's log, like the other start-up
    /// failures: what the server wrote to stderr is usually why it printed something else.
    #[test]
    fn a_bad_ready_line_error_carries_the_log_tail() {
        if inherit_stderr() {
            return; // No log file to show.
        }
        let mut command = Command::new("bash");
        command
            .arg("-c")
            .arg("echo 'config missing: frobnicate' >&2; echo 'READY soon'; exec sleep 5");
        let error = ServerProcess::spawn("bad-ready", command, Duration::from_secs(10))
            .expect_err("a malformed READY line is an error");
        assert!(
            matches!(error, HarnessError::BadReadyLine { .. }),
            "{error:?}"
        );
        let text = error.to_string();
        assert!(text.contains("READY soon"), "{text}");
        assert!(text.contains("config missing: frobnicate"), "{text}");
        assert!(text.contains("bad-ready-"), "names the log file: {text}");
    }

    /// A command that outlives its time takes everything it started with it: `setup.sh`
    /// runs pip and npm, which must not go on writing into `.venv` and `node_modules` after
    /// the harness gave up (and released the setup lock to the next test binary).
    #[test]
    fn a_timed_out_command_is_stopped_with_its_children() {
        let pid_file = unique_path("grandchild", "pid").unwrap();
        let mut command = Command::new("bash");
        command.arg("-c").arg(format!(
            "sleep 60 & echo $! > '{}'; wait",
            pid_file.display()
        ));
        let result = run_with_timeout(command, Duration::from_millis(1500));
        assert!(
            matches!(result, Err(HarnessError::Timeout { .. })),
            "{result:?}"
        );
        let pid: u32 = std::fs::read_to_string(&pid_file)
            .unwrap()
            .trim()
            .parse()
            .unwrap();
        let _ = std::fs::remove_file(&pid_file);
        let deadline = Instant::now() + Duration::from_secs(5);
        while alive(pid) && Instant::now() < deadline {
            thread::sleep(Duration::from_millis(20));
        }
        let still_alive = alive(pid);
        if still_alive {
            let _ = Command::new("kill")
                .arg("-KILL")
                .arg(pid.to_string())
                .status();
        }
        assert!(
            !still_alive,
            "the command's child {pid} outlived the timeout"
        );
    }
}
