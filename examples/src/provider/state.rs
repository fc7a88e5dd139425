//! The provider's memory: registrations, issued credentials, nonces and counters.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::SystemTime;

use oauth_core::clock::{SystemRandom, random_urlsafe};

use super::{ClientStats, OAuth2Client, ProviderConfig};

/// An authorization code waiting to be exchanged.
pub(crate) struct CodeGrant {
    pub(crate) client_id: String,
    pub(crate) redirect_uri: String,
    pub(crate) code_challenge: Option<String>,
    pub(crate) scope: Option<String>,
    pub(crate) expires_at: SystemTime,
}

/// A device authorization waiting for the user (RFC 8628).
pub(crate) struct DeviceGrant {
    pub(crate) client_id: String,
    pub(crate) user_code: String,
    pub(crate) scope: Option<String>,
    pub(crate) expires_at: SystemTime,
    pub(crate) approved: bool,
}

/// What an access or refresh token stands for.
#[derive(Clone)]
pub(crate) struct Grant {
    pub(crate) client_id: String,
    pub(crate) user: String,
    pub(crate) scope: Option<String>,
}

/// OAuth 1.0a temporary credentials.
pub(crate) struct TempCredentials {
    pub(crate) consumer_key: String,
    pub(crate) secret: String,
    pub(crate) callback: String,
    pub(crate) verifier: Option<String>,
}

/// OAuth 1.0a token credentials.
pub(crate) struct AccessCredentials {
    pub(crate) consumer_key: String,
    pub(crate) secret: String,
    pub(crate) user: String,
}

#[derive(Default)]
pub(crate) struct Db {
    pub(crate) codes: HashMap<String, CodeGrant>,
    /// By device code.
    pub(crate) devices: HashMap<String, DeviceGrant>,
    pub(crate) access_tokens: HashMap<String, (Grant, SystemTime)>,
    pub(crate) refresh_tokens: HashMap<String, Grant>,
    pub(crate) temp: HashMap<String, TempCredentials>,
    pub(crate) oauth1_tokens: HashMap<String, AccessCredentials>,
    pub(crate) stats: HashMap<String, ClientStats>,
}

pub(crate) struct Shared {
    pub(crate) base_url: String,
    pub(crate) config: ProviderConfig,
    random: SystemRandom,
    db: Mutex<Db>,
    /// The OAuth 1 timestamp window and nonces (RFC 5849 §3.3).
    pub(crate) replay: oauth_core::oauth1::ReplayGuard,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("base_url", &self.base_url)
            .finish_non_exhaustive()
    }
}

impl Shared {
    pub(crate) fn new(base_url: String, config: ProviderConfig) -> Self {
        Self {
            base_url,
            config,
            random: SystemRandom::new(),
            db: Mutex::new(Db::default()),
            replay: oauth_core::oauth1::ReplayGuard::new(super::TIMESTAMP_WINDOW),
        }
    }

    pub(crate) fn db(&self) -> MutexGuard<'_, Db> {
        self.db.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A fresh opaque value with `bytes` random bytes, prefixed for readability in traces.
    pub(crate) fn opaque(&self, prefix: &str, bytes: usize) -> String {
        let random = random_urlsafe(&self.random, bytes).unwrap_or_else(|_| {
            // The OS generator failing is not recoverable for a provider; a time-based value
            // keeps the demo alive and is never used outside loopback.
            format!("{:?}", SystemTime::now())
        });
        format!("{prefix}{random}")
    }

    pub(crate) fn client(&self, id: &str) -> Option<&OAuth2Client> {
        self.config.clients.get(id)
    }

    pub(crate) fn consumer_secret(&self, key: &str) -> Option<&str> {
        self.config.consumers.get(key).map(String::as_str)
    }

    pub(crate) fn stats(&self, client_id: &str) -> ClientStats {
        self.db().stats.get(client_id).copied().unwrap_or_default()
    }

    pub(crate) fn count(&self, client_id: &str, f: impl FnOnce(&mut ClientStats)) {
        f(self.db().stats.entry(client_id.to_owned()).or_default());
    }
}
