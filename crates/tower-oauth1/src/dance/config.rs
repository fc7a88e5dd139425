//! The dance's construction and settings.

use std::sync::Arc;
use std::time::Duration;

use http::Uri;
use oauth_core::secret::TokenSecret;

use super::{
    DEFAULT_MAX_RESPONSE_BYTES, DEFAULT_TIMEOUT, Dance, DanceError, DanceSigner,
    PendingAuthorization, check_transport,
};
use crate::Realm;

impl Dance {
    /// The dance for the client in `signer` (its client credentials, signature method, clock and
    /// random source; any token credentials in it are ignored), with the provider's temporary
    /// credentials (request token) and token credentials (access token) endpoints.
    pub fn new(
        signer: oauth_core::oauth1::Signer,
        request_token_endpoint: Uri,
        access_token_endpoint: Uri,
    ) -> Self {
        let signer = signer.with_token(None);
        Self::with_signer(
            Arc::new(signer),
            request_token_endpoint,
            access_token_endpoint,
        )
    }

    pub(crate) fn with_signer(
        signer: Arc<dyn DanceSigner>,
        request_token_endpoint: Uri,
        access_token_endpoint: Uri,
    ) -> Self {
        Self {
            signer,
            request_token_endpoint,
            access_token_endpoint,
            max_response_bytes: DEFAULT_MAX_RESPONSE_BYTES,
            allow_http_loopback: false,
            timeout: Some(DEFAULT_TIMEOUT),
            realm: None,
        }
    }

    /// Allows plain `http://` endpoints on a loopback host (`127.0.0.0/8`, `::1`, `localhost`),
    /// for tests and local providers. Other `http://` endpoints are refused either way: the
    /// temporary and token credentials' secrets come back in the responses (RFC 5849 §4.2).
    #[must_use]
    pub fn dangerous_allow_http_loopback(mut self) -> Self {
        self.allow_http_loopback = true;
        self
    }

    pub(super) fn check_transport(&self, endpoint: &Uri) -> Result<(), DanceError> {
        check_transport(self.allow_http_loopback, endpoint)
    }

    /// Temporary credentials kept from [`request_temporary_credentials`](Self::request_temporary_credentials)
    /// (see [`PendingAuthorization::new`]), under this dance's transport rule (plain `http`
    /// authorization endpoints on loopback when it allows them).
    pub fn pending(&self, token: impl Into<String>, secret: TokenSecret) -> PendingAuthorization {
        PendingAuthorization {
            allow_http_loopback: self.allow_http_loopback,
            ..PendingAuthorization::new(token, secret)
        }
    }

    /// Caps the bytes read from a provider response ([`DEFAULT_MAX_RESPONSE_BYTES`] by default).
    #[must_use]
    #[doc(alias = "response_limit")]
    pub fn max_response_bytes(mut self, limit: usize) -> Self {
        self.max_response_bytes = limit;
        self
    }

    /// Bounds each exchange with the provider, from sending the request to the last byte of
    /// the response ([`DEFAULT_TIMEOUT`] by default): a provider that stops answering, or
    /// sends its response a byte at a time, fails the step with [`DanceError::Timeout`].
    ///
    /// The timer is tokio's: inside a tokio runtime it needs time enabled (`enable_all`, or
    /// `#[tokio::main]`); outside one no bound is applied. [`no_timeout`](Self::no_timeout)
    /// turns the bound off. The same shape as `tower_oauth2`'s `GrantClient::timeout`.
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = Some(timeout);
        self
    }

    /// No deadline for the exchanges with the provider (the default is [`DEFAULT_TIMEOUT`]):
    /// bound the client given to each step yourself then. No tokio timer is used, so a runtime
    /// without timers works too.
    #[must_use]
    pub fn no_timeout(mut self) -> Self {
        self.timeout = None;
        self
    }

    /// Sends `realm="<realm>"` first in the `Authorization` header of both of the dance's
    /// requests (temporary credentials and token credentials; RFC 5849 §3.5.1, not signed), as
    /// requests-oauthlib's `OAuth1Session(..., realm=...)` does. Some providers read it as the
    /// access asked for (oauthlib's `RequestTokenEndpoint` takes it as the space-separated
    /// realms of the request token, and refuses ones it does not know), others require it to
    /// name the account. A text that cannot be sent is refused by [`Realm::new`].
    ///
    /// For the requests made with the token credentials afterwards, set it on the layer too:
    /// [`SignLayer::realm`](crate::SignLayer::realm).
    ///
    /// ```
    /// # fn demo(signer: oauth_core::oauth1::Signer) -> Result<(), Box<dyn std::error::Error>> {
    /// use tower_oauth1::{Dance, Realm};
    ///
    /// let dance = Dance::new(
    ///     signer,
    ///     "https://photos.example.net/request_token".parse()?,
    ///     "https://photos.example.net/access_token".parse()?,
    /// )
    /// .realm(Realm::new("photos")?);
    /// # let _ = dance; Ok(()) }
    /// ```
    #[must_use]
    pub fn realm(mut self, realm: Realm) -> Self {
        self.realm = Some(realm);
        self
    }

    pub(super) fn realm_str(&self) -> Option<&str> {
        self.realm.as_ref().map(Realm::as_str)
    }
}
