//! The harness's error type.

use std::io;
use std::path::PathBuf;
use std::time::Duration;

/// Why a test server could not be installed or started.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum HarnessError {
    /// `setup.sh` failed; the message holds the end of its output.
    #[error("installing the interop test servers (setup.sh) failed: {0}")]
    Setup(String),
    /// A file or process operation of the harness itself failed.
    #[error("{what}: {source}")]
    Io {
        /// What the harness was doing.
        what: String,
        /// The underlying error.
        #[source]
        source: io::Error,
    },
    /// The server exited before printing `READY <port>`.
    #[error("{name} exited ({status}) before it was ready; log {log}:\n{log_tail}")]
    Exited {
        /// Which server.
        name: &'static str,
        /// Its exit status.
        status: String,
        /// Its stderr log file.
        log: PathBuf,
        /// The end of that log.
        log_tail: String,
    },
    /// The server did not print `READY <port>` in time, or a command run by
    /// [`run_with_timeout`](crate::run_with_timeout) did not finish in time (it has been killed).
    #[error("{name} was not ready after {after:?}; log {log}:\n{log_tail}")]
    Timeout {
        /// Which server (or `"command"`).
        name: &'static str,
        /// How long the harness waited.
        after: Duration,
        /// Its stderr log file (for a command: the program it ran).
        log: PathBuf,
        /// The end of that log (empty for a command).
        log_tail: String,
    },
    /// The server's first stdout line was not `READY <port>`.
    #[error(
        "{name} printed {line:?} instead of `READY <port>` (it has been killed); log {log}:\n{log_tail}"
    )]
    BadReadyLine {
        /// Which server.
        name: &'static str,
        /// What it printed.
        line: String,
        /// Its stderr log file.
        log: PathBuf,
        /// The end of that log.
        log_tail: String,
    },
    /// A configuration could not be serialised.
    #[error("serialising the server configuration: {0}")]
    Config(#[from] serde_json::Error),
}

impl HarnessError {
    pub(crate) fn io(what: impl Into<String>, source: io::Error) -> Self {
        Self::Io {
            what: what.into(),
            source,
        }
    }
}
