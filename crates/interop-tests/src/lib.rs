//! Helpers for the interoperability tests: starting and stopping the third-party servers
//! (Python's `oauthlib` provider, the npm `oidc-provider`) on 127.0.0.1.
//!
//! Each server is a child process that binds port 0 on 127.0.0.1 and prints one line,
//! `READY <port>`, once it is serving. [`OauthlibProvider::start`] and
//! [`OidcProvider::start`] spawn it, wait for that line (at most
//! [`READY_TIMEOUT`]), and stop it again when dropped (SIGTERM, then SIGKILL). The
//! servers' stderr goes to a log file ([`OauthlibProvider::log_path`]) whose tail is
//! put in any startup error; set `INTEROP_INHERIT_STDERR=1` to see it live instead.
//!
//! The first start in a process installs what the servers need (a Python venv and
//! `node_modules` inside this crate) by running `setup.sh` under a cross-process file
//! lock, so `cargo test --workspace` works on a fresh machine. See [`ensure_installed`].
//!
//! # Example
//!
//! ```no_run
//! use interop_tests::{OauthlibProvider, OidcOptions, OidcProvider};
//!
//! # fn main() -> Result<(), interop_tests::HarnessError> {
//! let oauth1 = OauthlibProvider::start(None)?; // built-in clients and keys
//! let request_token_url = oauth1.url("/request_token");
//!
//! let oauth2 = OidcProvider::start(OidcOptions::default())?;
//! assert_eq!(oauth2.issuer(), oauth2.base_url());
//! # let _ = request_token_url;
//! # Ok(())
//! # }
//! ```
//!
//! Start and stop are blocking (a few hundred milliseconds); call them from a
//! `#[tokio::test]` directly or through `spawn_blocking`, as you prefer.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod error;
pub mod oauthlib;
pub mod oauthlib2;
pub mod oidc;
mod process;
mod setup;

pub use error::HarnessError;
pub use oauthlib::{OauthlibConfig, OauthlibProvider};
pub use oidc::{OidcOptions, OidcProvider};
pub use process::{READY_TIMEOUT, run_with_timeout};
pub use setup::{crate_dir, ensure_installed};
