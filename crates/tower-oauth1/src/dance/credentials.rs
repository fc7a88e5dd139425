//! [`TokenCredentials`]: what the dance ends with (RFC 5849 §2.3).

use oauth_core::secret::TokenSecret;

/// Token credentials (RFC 5849 §2.3), with any other parameters the provider returned.
///
/// `Debug` shows the token and how many other parameters there are, never the secret.
#[derive(Debug)]
pub struct TokenCredentials(pub(super) oauth_core::oauth1::CredentialsResponse);

impl From<TokenCredentials> for oauth_core::oauth1::TokenCredentials {
    /// The credentials to sign requests with (`Signer::builder(..).token(..)`), without the
    /// provider's extra parameters.
    fn from(credentials: TokenCredentials) -> Self {
        let (token, secret, _) = credentials.0.into_parts();
        Self::new(token, secret)
    }
}

impl TokenCredentials {
    /// The token identifier (`oauth_token`).
    pub fn token(&self) -> &str {
        self.0.token()
    }

    /// The token shared-secret (`oauth_token_secret`).
    pub fn secret(&self) -> &TokenSecret {
        self.0.secret()
    }

    /// Other parameters of the response (for example a user id), in order.
    pub fn extra(&self) -> &[(String, String)] {
        self.0.extra()
    }
}
