//! The OAuth 1.0a provider built on Python's `oauthlib` (`oauthlib_provider/provider.py`).
//! The same process serves OAuth 2.0 endpoints too: see [`crate::oauthlib2`].
//!
//! Endpoints, relative to [`OauthlibProvider::base_url`]:
//!
//! | path | |
//! | --- | --- |
//! | `POST /request_token` | temporary credentials (RFC 5849 §2.1) |
//! | `GET /authorize?oauth_token=T` | auto-approves for [`OauthlibConfig::user`]: 302 to the callback with `oauth_token` and `oauth_verifier`, or for `oob` a 200 form-encoded body; add `&deny=1` to get a 302 (or for `oob` a 403) with `oauth_problem=permission_denied` |
//! | `POST /access_token` | token credentials (RFC 5849 §2.3) |
//! | `GET`/`POST /resource`, `/resource/...` | 200 with a JSON echo of what was verified, 401 with a JSON body otherwise |
//! | `GET /health`, `GET /test/stats` | liveness; counters per endpoint and outcome |
//!
//! The 200 echo has `client_key`, `token`, `user`, `realms` (of the token), `realm`
//! (from the header), `signature_method`, `signature_type` (`auth_header`, `query` or
//! `body`), `method`, `path`, and the decoded non-`oauth_` parameters as `[name, value]`
//! pairs in `query`, `body` and `params` (both). A 401 body says which checks failed, as
//! `{"error": ..., "failed": ["signature", "nonce", ...]}`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use crate::oauthlib2::Oauth2Config;
use crate::process::{ServerProcess, run_with_timeout, unique_path};
use crate::{HarnessError, READY_TIMEOUT, crate_dir, ensure_installed};

/// The main built-in client: every signature method (HMAC-* with its secret, RSA-*
/// with the key pair in `keys/`).
pub const CLIENT_KEY: &str = "interop-client";
/// The main built-in client's secret.
pub const CLIENT_SECRET: &str = "interop-secret";
/// A built-in client whose secret needs percent-encoding (`%`, space, `&`, `+`, `=`,
/// `/`, non-ASCII); it also has the RSA key.
pub const SPECIAL_CLIENT_KEY: &str = "interop-client-special";
/// [`SPECIAL_CLIENT_KEY`]'s secret.
pub const SPECIAL_CLIENT_SECRET: &str = "s3cr%t &+=/\u{fc}\u{20ac}";
/// The RFC 5849 §1.2 example client (no RSA key).
pub const RFC5849_CLIENT_KEY: &str = "dpf43f3p2l4k3l03";
/// [`RFC5849_CLIENT_KEY`]'s secret.
pub const RFC5849_CLIENT_SECRET: &str = "kd94hf93k423kf44";
/// A pre-issued access token of [`CLIENT_KEY`] (realm `photos`), for resource requests
/// without the three-legged dance.
pub const ACCESS_TOKEN: &str = "interop-access-token";
/// [`ACCESS_TOKEN`]'s secret.
pub const ACCESS_TOKEN_SECRET: &str = "interop-access-secret";
/// A pre-issued access token of [`SPECIAL_CLIENT_KEY`].
pub const SPECIAL_ACCESS_TOKEN: &str = "interop-access-token-special";
/// [`SPECIAL_ACCESS_TOKEN`]'s secret, which needs percent-encoding.
pub const SPECIAL_ACCESS_TOKEN_SECRET: &str = "t%k3n s3cret/\u{e9}&=+";
/// The resource owner `/authorize` approves for.
pub const TEST_USER: &str = "interop-user";

/// The test RSA key pair's directory (`keys/` in this crate). Test-only keys.
pub fn keys_dir() -> PathBuf {
    crate_dir().join("keys")
}

/// The test RSA private key, PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`).
pub fn rsa_private_key_pkcs8_path() -> PathBuf {
    keys_dir().join("rsa_private_pkcs8.pem")
}

/// The same private key, PKCS#1 PEM (`-----BEGIN RSA PRIVATE KEY-----`).
pub fn rsa_private_key_pkcs1_path() -> PathBuf {
    keys_dir().join("rsa_private_pkcs1.pem")
}

/// The matching public key, SPKI PEM, registered for the built-in RSA clients.
pub fn rsa_public_key_path() -> PathBuf {
    keys_dir().join("rsa_public.pem")
}

/// The provider's configuration (the JSON file given to `provider.py --config`).
///
/// [`OauthlibConfig::builtin`] is what the provider uses without a file; change it and
/// pass it to [`OauthlibProvider::start`].
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct OauthlibConfig {
    /// Resource owner `/authorize` approves for.
    pub user: String,
    /// Realms a client may ask for on `/request_token`.
    pub realms: Vec<String>,
    /// Seconds a timestamp may differ from the server clock.
    pub timestamp_lifetime: u64,
    /// Registered clients.
    pub clients: Vec<Oauth1Client>,
    /// Access tokens issued up front.
    pub access_tokens: Vec<Oauth1AccessToken>,
    /// The OAuth 2 endpoints' clients, user and lifetimes (see [`crate::oauthlib2`]).
    pub oauth2: Oauth2Config,
}

/// A registered OAuth 1 client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Oauth1Client {
    /// `oauth_consumer_key`.
    pub key: String,
    /// Shared secret for HMAC-* and PLAINTEXT.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub secret: Option<String>,
    /// PEM public key file for RSA-*: a path, or a name looked up next to the config
    /// file and then in [`keys_dir`].
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rsa_public_key_file: Option<String>,
    /// PEM public key for RSA-*, inline (wins over the file).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rsa_public_key: Option<String>,
    /// Realms used when a request token request names none.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub default_realms: Vec<String>,
    /// Callback URI prefixes accepted besides `oob` (default: loopback http).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub callback_prefixes: Option<Vec<String>>,
}

/// An access token issued up front.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Oauth1AccessToken {
    /// The client it belongs to.
    pub client: String,
    /// `oauth_token`.
    pub token: String,
    /// The token secret.
    pub secret: String,
    /// Its resource owner.
    pub user: String,
    /// Realms it grants.
    #[serde(default)]
    pub realms: Vec<String>,
}

const BUILTIN_CONFIG: &str = include_str!("../oauthlib_provider/default_config.json");

impl OauthlibConfig {
    /// The built-in configuration (`oauthlib_provider/default_config.json`).
    ///
    /// # Panics
    ///
    /// Never in practice: the file is part of this crate and a unit test parses it.
    pub fn builtin() -> Self {
        match serde_json::from_str(BUILTIN_CONFIG) {
            Ok(config) => config,
            Err(e) => panic!("oauthlib_provider/default_config.json is invalid: {e}"),
        }
    }

    /// The client with this key.
    pub fn client(&self, key: &str) -> Option<&Oauth1Client> {
        self.clients.iter().find(|c| c.key == key)
    }

    /// The same configuration with OAuth 2 access tokens that live `seconds` (the default is an
    /// hour): short ones drive proactive and 401-driven refresh.
    #[must_use]
    pub fn with_oauth2_access_token_lifetime(mut self, seconds: u64) -> Self {
        self.oauth2.access_token_lifetime = seconds;
        self
    }

    /// The pre-issued access token with this value.
    pub fn access_token(&self, token: &str) -> Option<&Oauth1AccessToken> {
        self.access_tokens.iter().find(|t| t.token == token)
    }
}

/// A running `oauthlib` provider on 127.0.0.1; stopped when dropped.
#[derive(Debug)]
pub struct OauthlibProvider {
    process: ServerProcess,
    config_file: Option<PathBuf>,
}

impl OauthlibProvider {
    /// Starts the provider with `config`, or the built-in one for `None`, installing
    /// its dependencies first if needed (see [`crate::ensure_installed`]).
    ///
    /// # Errors
    ///
    /// If installing fails, the config cannot be written, or the provider does not
    /// print `READY <port>` within [`READY_TIMEOUT`].
    pub fn start(config: Option<&OauthlibConfig>) -> Result<Self, HarnessError> {
        let Some(config) = config else {
            return Self::spawn(None, None);
        };
        let path = unique_path("oauthlib-config", "json")?;
        let json = serde_json::to_vec_pretty(config)?;
        std::fs::write(&path, json)
            .map_err(|e| HarnessError::io(format!("writing {}", path.display()), e))?;
        let started = Self::spawn(Some(&path), Some(path.clone()));
        if started.is_err() {
            let _ = std::fs::remove_file(&path);
        }
        started
    }

    /// Starts the provider with a JSON config file of your own (same format as
    /// [`OauthlibConfig`]; top-level keys it has replace the built-in ones).
    ///
    /// # Errors
    ///
    /// As [`OauthlibProvider::start`].
    pub fn start_with_config_file(path: &Path) -> Result<Self, HarnessError> {
        Self::spawn(Some(path), None)
    }

    fn spawn(config: Option<&Path>, owned: Option<PathBuf>) -> Result<Self, HarnessError> {
        ensure_installed()?;
        let make = || {
            let mut command = Command::new(venv_python());
            command
                .arg("-u")
                .arg(crate_dir().join("oauthlib_provider").join("provider.py"))
                .args(["--host", "127.0.0.1", "--port", "0"]);
            if let Some(path) = config {
                command.arg("--config").arg(path);
            }
            command
        };
        let process = ServerProcess::start("oauthlib-provider", make, READY_TIMEOUT)?;
        Ok(Self {
            process,
            config_file: owned,
        })
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.process.port()
    }

    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port())
    }

    /// [`OauthlibProvider::base_url`] followed by `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url())
    }

    /// The provider's stderr log (one line per request, no secrets).
    pub fn log_path(&self) -> &Path {
        self.process.log_path()
    }

    /// The process id of the provider.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Runs `oauthlib_provider/selfcheck.py` against this provider (which must use the
    /// built-in config): oauthlib's own OAuth 1 client through every signature method and
    /// placement, and its OAuth 2 clients through every grant of [`crate::oauthlib2`]'s
    /// endpoints, plus the negative cases. Succeeds if the script ran; check
    /// `output.status` and see `output.stdout` for the failures.
    ///
    /// # Errors
    ///
    /// If the script cannot be spawned or runs longer than `timeout`.
    pub fn run_selfcheck(&self, timeout: Duration) -> Result<Output, HarnessError> {
        let mut command = Command::new(venv_python());
        command
            .arg("-u")
            .arg(crate_dir().join("oauthlib_provider").join("selfcheck.py"))
            .arg("--base-url")
            .arg(self.base_url());
        run_with_timeout(command, timeout)
    }

    /// Stops the provider now (SIGTERM, then SIGKILL); dropping it does the same.
    pub fn stop(mut self) {
        self.process.stop();
    }
}

impl Drop for OauthlibProvider {
    fn drop(&mut self) {
        self.process.stop();
        if let Some(path) = self.config_file.take() {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// The venv's Python interpreter.
pub fn venv_python() -> PathBuf {
    let venv = crate_dir().join(".venv");
    if cfg!(windows) {
        venv.join("Scripts").join("python.exe")
    } else {
        venv.join("bin").join("python")
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn builtin_config_matches_the_constants() {
        let config = OauthlibConfig::builtin();
        assert_eq!(config.user, TEST_USER);
        let secret = |key: &str| config.client(key).unwrap().secret.clone().unwrap();
        assert_eq!(secret(CLIENT_KEY), CLIENT_SECRET);
        assert_eq!(secret(SPECIAL_CLIENT_KEY), SPECIAL_CLIENT_SECRET);
        assert_eq!(secret(RFC5849_CLIENT_KEY), RFC5849_CLIENT_SECRET);
        let token = |t: &str| config.access_token(t).unwrap();
        assert_eq!(token(ACCESS_TOKEN).secret, ACCESS_TOKEN_SECRET);
        assert_eq!(token(ACCESS_TOKEN).client, CLIENT_KEY);
        assert_eq!(
            token(SPECIAL_ACCESS_TOKEN).secret,
            SPECIAL_ACCESS_TOKEN_SECRET
        );
        assert_eq!(token(SPECIAL_ACCESS_TOKEN).client, SPECIAL_CLIENT_KEY);
        assert!(
            config
                .client(CLIENT_KEY)
                .unwrap()
                .rsa_public_key_file
                .is_some()
        );
    }

    #[test]
    fn config_round_trips_through_json() {
        let config = OauthlibConfig::builtin();
        let json = serde_json::to_string(&config).unwrap();
        assert_eq!(
            serde_json::from_str::<OauthlibConfig>(&json).unwrap(),
            config
        );
    }

    #[test]
    fn key_files_exist() {
        for path in [
            rsa_private_key_pkcs8_path(),
            rsa_private_key_pkcs1_path(),
            rsa_public_key_path(),
        ] {
            let pem = std::fs::read_to_string(&path).unwrap();
            assert!(pem.starts_with("-----BEGIN "), "{}", path.display());
        }
    }
}
