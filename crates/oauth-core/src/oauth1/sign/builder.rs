//! [`SignerBuilder`]: credentials, signature method, clock and random source for a [`Signer`](super::Signer).

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::AtomicU64;

use super::super::credentials::{ClientCredentials, TokenCredentials};
use super::super::engine::Engine;
use super::super::error::ConfigError;
use super::super::method::{
    CustomSignatureMethod, SignatureMethod, SigningSecrets, is_valid_method_name,
};
use super::super::rsa_key::RsaPrivateKey;
use super::Signer;
use super::parts::FixedParts;
use crate::clock::{Clock, RandomSource};

/// Configures a [`Signer`]; from [`Signer::builder`].
pub struct SignerBuilder {
    pub(super) client: ClientCredentials,
    pub(super) token: Option<TokenCredentials>,
    pub(super) method: SignatureMethod,
    pub(super) rsa_key: Option<RsaPrivateKey>,
    pub(super) custom: Option<Arc<dyn CustomSignatureMethod>>,
    pub(super) clock: Arc<dyn Clock>,
    pub(super) random: Arc<dyn RandomSource>,
    /// Whether `random` is still the default [`SystemRandom`].
    pub(super) default_random: bool,
    /// Whether `clock` is still the default [`SystemClock`].
    pub(super) system_clock: bool,
    pub(super) allow_plaintext_over_http: bool,
}

impl fmt::Debug for SignerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SignerBuilder")
            .field("client", &self.client)
            .field("token", &self.token)
            .field("method", &self.method)
            .field("rsa_key", &self.rsa_key)
            .field("custom", &self.custom)
            .field("allow_plaintext_over_http", &self.allow_plaintext_over_http)
            .finish_non_exhaustive()
    }
}

impl SignerBuilder {
    /// Token (or temporary) credentials. Leave out for a temporary-credential request.
    #[must_use]
    pub fn token(mut self, token: TokenCredentials) -> Self {
        self.token = Some(token);
        self
    }

    /// The signature method; HMAC-SHA1 by default. The RSA methods also need
    /// [`rsa_key`](Self::rsa_key).
    #[must_use]
    pub fn method(mut self, method: SignatureMethod) -> Self {
        self.method = method;
        self
    }

    /// The RSA private key for the RSA methods. Refused by [`build`](Self::build)
    /// ([`ConfigError::UnusedRsaKey`]) with a non-RSA method or a
    /// [`custom_method`](Self::custom_method), which never sees it.
    #[must_use]
    pub fn rsa_key(mut self, key: RsaPrivateKey) -> Self {
        self.rsa_key = Some(key);
        self
    }

    /// A custom signature method, replacing [`method`](Self::method); it cannot be combined
    /// with an [`rsa_key`](Self::rsa_key) (a custom method is given the shared secrets only,
    /// so the key would go unused: [`ConfigError::UnusedRsaKey`]). Its name must be a
    /// non-empty token ([`ConfigError::InvalidCustomMethodName`] from [`build`](Self::build)).
    #[must_use]
    pub fn custom_method(mut self, method: Arc<dyn CustomSignatureMethod>) -> Self {
        self.custom = Some(method);
        self
    }

    /// The clock for `oauth_timestamp`; [`SystemClock`](crate::clock::SystemClock) by default.
    #[must_use]
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Arc::new(clock);
        self.system_clock = false;
        self
    }

    /// The random source for `oauth_nonce`; [`SystemRandom`](crate::clock::SystemRandom) by default.
    ///
    /// With the default, each thread draws nonces from its own ChaCha12 stream seeded from
    /// [`SystemRandom`](crate::clock::SystemRandom) (and reseeded every 65,536 nonces), which keeps the operating system
    /// and a lock off the signing path. A source set here is called once per nonce.
    #[must_use]
    pub fn random(mut self, random: impl RandomSource + 'static) -> Self {
        self.random = Arc::new(random);
        self.default_random = false;
        self
    }

    /// Allows PLAINTEXT signatures over plain `http://`, which sends the shared secrets in
    /// clear text (RFC 5849 §3.4.4 requires TLS). For local test servers only.
    #[must_use]
    pub fn dangerous_allow_plaintext_over_http(mut self) -> Self {
        self.allow_plaintext_over_http = true;
        self
    }

    /// Checks the configuration and precomputes the signing state.
    ///
    /// # Errors
    ///
    /// Fails with [`ConfigError::MissingRsaKey`] for an RSA method without an RSA key,
    /// [`ConfigError::UnusedRsaKey`] for an RSA key with a non-RSA or custom method, and
    /// [`ConfigError::InvalidCustomMethodName`] for a custom method whose name is empty or not
    /// an RFC 7230 `token`.
    pub fn build(self) -> Result<Signer, ConfigError> {
        let secrets = SigningSecrets {
            consumer_secret: self.client.secret(),
            token_secret: self.token.as_ref().map(TokenCredentials::secret),
        };
        let engine = match (self.custom, self.method.is_rsa(), self.rsa_key) {
            // A custom method is given the shared secrets only: the key would go unused.
            (Some(_), _, Some(_)) => return Err(ConfigError::UnusedRsaKey),
            (Some(custom), _, None) => {
                if !is_valid_method_name(custom.name()) {
                    return Err(ConfigError::InvalidCustomMethodName);
                }
                Engine::Custom(custom)
            }
            (None, true, Some(key)) => Engine::Rsa(self.method, key),
            (None, true, None) => return Err(ConfigError::MissingRsaKey),
            (None, false, Some(_)) => return Err(ConfigError::UnusedRsaKey),
            (None, false, None) => {
                Engine::shared(self.method, secrets).ok_or(ConfigError::MissingRsaKey)?
            }
        };
        Ok(Signer {
            fixed: Arc::new(FixedParts::new(
                self.client.key(),
                self.token.as_ref().map(TokenCredentials::token),
                engine.name(),
            )),
            engine,
            client: self.client,
            token: self.token,
            clock: self.clock,
            random: self.random,
            pooled_nonces: self.default_random,
            system_clock: self.system_clock,
            last_timestamp: Arc::new(AtomicU64::new(0)),
            allow_plaintext_over_http: self.allow_plaintext_over_http,
        })
    }
}

#[cfg(test)]
mod tests {
    use crate::oauth1::{ClientCredentials, SignatureMethod, Signer, TokenCredentials};
    use crate::secret::{ConsumerSecret, TokenSecret};

    /// `Debug` shows the configuration (credentials by their public halves, the method, the
    /// plaintext switch) and never a secret.
    #[test]
    fn builder_debug_shows_the_configuration_but_no_secret() {
        let builder = Signer::builder(ClientCredentials::new(
            "dpf43f3p2l4k3l03",
            ConsumerSecret::new("kd94hf93k423kf44"),
        ))
        .token(TokenCredentials::new(
            "nnch734d00sl2jdk",
            TokenSecret::new("pfkkdhi9sl3r4s00"),
        ))
        .method(SignatureMethod::HmacSha256)
        .dangerous_allow_plaintext_over_http();
        let debug = format!("{builder:?}");
        for shown in [
            "SignerBuilder {",
            "dpf43f3p2l4k3l03",
            "nnch734d00sl2jdk",
            "method: HmacSha256",
            "rsa_key: None",
            "custom: None",
            "allow_plaintext_over_http: true",
            "..",
        ] {
            assert!(debug.contains(shown), "{shown} missing from {debug}");
        }
        for secret in ["kd94hf93k423kf44", "pfkkdhi9sl3r4s00"] {
            assert!(!debug.contains(secret), "{debug}");
        }
    }
}
