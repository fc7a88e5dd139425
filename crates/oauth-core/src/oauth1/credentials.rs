//! Client and token credentials (RFC 5849 §1.1).

use std::fmt;

use crate::secret::{ConsumerSecret, TokenSecret};

/// Client credentials (RFC 5849 §1.1, historically "consumer key and secret").
///
/// For the RSA methods the shared secret is not used; pass `ConsumerSecret::new("")`.
#[derive(Clone)]
pub struct ClientCredentials {
    key: String,
    secret: ConsumerSecret,
}

impl ClientCredentials {
    /// The client identifier (`oauth_consumer_key`) and its shared secret.
    pub fn new(key: impl Into<String>, secret: ConsumerSecret) -> Self {
        Self {
            key: key.into(),
            secret,
        }
    }

    /// The client identifier, sent as `oauth_consumer_key`.
    pub fn key(&self) -> &str {
        &self.key
    }

    /// The client shared-secret.
    pub fn secret(&self) -> &ConsumerSecret {
        &self.secret
    }
}

impl fmt::Debug for ClientCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientCredentials")
            .field("key", &self.key)
            .field("secret", &self.secret)
            .finish()
    }
}

/// Token credentials, or temporary credentials (RFC 5849 §1.1, §2.1, §2.3).
#[derive(Clone)]
pub struct TokenCredentials {
    token: String,
    secret: TokenSecret,
}

impl TokenCredentials {
    /// The token identifier (`oauth_token`) and its shared secret.
    pub fn new(token: impl Into<String>, secret: TokenSecret) -> Self {
        Self {
            token: token.into(),
            secret,
        }
    }

    /// The token identifier, sent as `oauth_token`.
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The token shared-secret.
    pub fn secret(&self) -> &TokenSecret {
        &self.secret
    }
}

impl fmt::Debug for TokenCredentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenCredentials")
            .field("token", &self.token)
            .field("secret", &self.secret)
            .finish()
    }
}
