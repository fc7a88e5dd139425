//! [`PendingAuthorization`]: the temporary credentials between steps 1 and 3, and the callback
//! that ends them (RFC 5849 §2.1–2.2).

use std::fmt;

use http::Uri;
use oauth_core::secret::{TokenSecret, Verifier};

use super::{CallbackError, DanceError, transport};

/// Temporary credentials waiting for the resource owner's authorization (RFC 5849 §2.1–2.2).
///
/// Not `Clone`: the provider accepts it once. [`Dance::complete_from_callback`] and
/// [`Dance::request_token_credentials`] take it by value or by reference: a web application
/// that keeps it in the user's session passes `&pending` and removes it once the exchange
/// succeeded, so that a forged or stale callback (refused with
/// [`CallbackError`] before any request) does not spend the user's login in progress.
///
/// Drop it on [`CallbackError::Denied`] or [`CallbackError::Problem`] (the callback named this
/// token), and keep it on [`CallbackError::TokenMismatch`] and
/// [`CallbackError::UnboundDenial`]: anyone can open a callback URL that names another token,
/// or none.
///
/// [`Dance::complete_from_callback`]: super::Dance::complete_from_callback
/// [`Dance::request_token_credentials`]: super::Dance::request_token_credentials
pub struct PendingAuthorization {
    pub(super) token: String,
    pub(super) secret: TokenSecret,
    /// Whether a plain-http loopback authorization endpoint is acceptable (the dance's setting).
    pub(super) allow_http_loopback: bool,
}

impl fmt::Debug for PendingAuthorization {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PendingAuthorization")
            .field("token", &self.token)
            .field("secret", &self.secret)
            .finish()
    }
}

impl PendingAuthorization {
    /// Temporary credentials kept from [`Dance::request_temporary_credentials`] (in a web
    /// application's session store, say, when the callback reaches another process): the
    /// `oauth_token` and its secret ([`token`](Self::token) and [`secret`](Self::secret)).
    ///
    /// Keep the secret as you keep token credentials: server side, never in a cookie the
    /// browser can read. Its authorization URL must be `https`; [`Dance::pending`] makes one
    /// under a dance's transport rule instead. An empty token (a session field gone missing)
    /// matches no callback.
    ///
    /// [`Dance::request_temporary_credentials`]: super::Dance::request_temporary_credentials
    /// [`Dance::pending`]: super::Dance::pending
    pub fn new(token: impl Into<String>, secret: TokenSecret) -> Self {
        Self {
            token: token.into(),
            secret,
            allow_http_loopback: false,
        }
    }

    /// The temporary credentials identifier (`oauth_token`).
    pub fn token(&self) -> &str {
        &self.token
    }

    /// The temporary credentials shared-secret (`oauth_token_secret`), to keep with
    /// [`token`](Self::token) until the callback comes (see [`new`](Self::new)).
    pub fn secret(&self) -> &TokenSecret {
        &self.secret
    }

    /// The resource-owner authorization URL (RFC 5849 §2.2): `authorize_endpoint` with
    /// `oauth_token` added to its query.
    ///
    /// The endpoint must be `https` (the resource owner signs in there), or loopback `http`
    /// when the dance allowed it ([`Dance::dangerous_allow_http_loopback`]); otherwise
    /// [`DanceError::InsecureTransport`]. An endpoint whose query already has an
    /// `oauth_token` is refused ([`DanceError::InvalidRequest`]): the URL would carry two, and
    /// the provider would choose which one the resource owner authorizes.
    ///
    /// [`Dance::dangerous_allow_http_loopback`]: super::Dance::dangerous_allow_http_loopback
    ///
    /// # Errors
    ///
    /// Fails with [`DanceError::InsecureTransport`] or [`DanceError::InvalidRequest`], as above.
    pub fn authorization_url(&self, authorize_endpoint: &str) -> Result<Uri, DanceError> {
        let url = oauth_core::oauth1::authorization_url(
            authorize_endpoint,
            &self.token,
            transport(self.allow_http_loopback),
        )?;
        Ok(url)
    }

    /// Reads the verifier from the callback URL the provider redirected the resource owner to
    /// (RFC 5849 §2.2). The callback's `oauth_token` must equal this pending token.
    ///
    /// # Errors
    ///
    /// Fails with [`CallbackError::TokenMismatch`] when the callback names another temporary
    /// token, [`CallbackError::MissingToken`] or [`CallbackError::MissingVerifier`] when a
    /// parameter is absent, [`CallbackError::Denied`], [`CallbackError::UnboundDenial`] or
    /// [`CallbackError::Problem`] when the provider reports a denial or problem, and
    /// [`CallbackError::Malformed`] for a repeated parameter or a query that is not valid
    /// percent-encoded UTF-8.
    pub fn verifier_from_callback(&self, callback: &Uri) -> Result<Verifier, CallbackError> {
        oauth_core::oauth1::parse_callback(callback.query().unwrap_or(""), &self.token)
    }
}
