//! OpenID Connect CIBA (Client-Initiated Backchannel Authentication): ask the provider to
//! authenticate a user on their own device, then poll the token endpoint until they decide
//! (poll mode), or make one token request when the provider pings the client's notification
//! endpoint (ping mode: see the [module docs](super#ciba-ping-mode)). The push mode is not
//! offered.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use http_body_util::Full;
use oauth_core::clock::Clock;
use oauth_core::oauth2::{
    BackchannelAuthentication, BackchannelAuthenticationRequest, Client, Endpoint, IssuedTo,
    PollAction, Token, TokenRequest, TokenResponseError, parse_backchannel_authentication_response,
};
use tower::BoxError;
use tower_service::Service;

use super::device::PolledGrant;
use super::{
    ForeignTokenRequest, GrantClient, GrantClientError, PollWait, ServerEndpoint, transport,
};

impl<S, ResBody> GrantClient<S>
where
    S: Service<Request<Full<Bytes>>, Response = Response<ResBody>> + Clone + Send + Sync + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send,
    ResBody: Body + Send,
    ResBody::Data: Send,
    ResBody::Error: Into<BoxError>,
{
    /// Sends a backchannel authentication request (OpenID Connect CIBA Core §7.1, §7.3) to
    /// `endpoint` (the provider's `backchannel_authentication_endpoint`) with this client's
    /// authentication: the provider starts authenticating the user on their device and
    /// answers with an `auth_req_id`. Then, in poll mode,
    /// [`poll_backchannel_token`](Self::poll_backchannel_token); in ping mode (the request
    /// carries a [`client_notification_token`](BackchannelAuthenticationRequest::client_notification_token)),
    /// one [`poll_backchannel_token_once`](Self::poll_backchannel_token_once) once the provider
    /// has pinged (see the [module docs](super#ciba-ping-mode)).
    ///
    /// # Errors
    ///
    /// Fails with a [`GrantClientError`] as described under [`GrantClient`] (its
    /// [`endpoint`](GrantClientError::endpoint) is
    /// [`ServerEndpoint::BackchannelAuthentication`]): a request that cannot be built (no
    /// `openid` scope, say) is kind [`Request`](super::GrantClientErrorKind::Request), nothing
    /// sent; the provider's refusal (`unknown_user_id`, `invalid_binding_message`, ...) is
    /// kind [`Response`](super::GrantClientErrorKind::Response), its code in
    /// [`error_code`](GrantClientError::error_code).
    ///
    /// ```no_run
    /// # async fn run(grants: tower_oauth2::GrantClient<tower::util::BoxCloneSyncService<
    /// #     http::Request<http_body_util::Full<bytes::Bytes>>, http::Response<http_body_util::Full<bytes::Bytes>>, tower::BoxError>>,
    /// #     metadata: oauth_core::oauth2::AuthorizationServerMetadata) -> Result<(), Box<dyn std::error::Error>> {
    /// use oauth_core::oauth2::{BackchannelAuthenticationRequest, Scope, UserHint};
    ///
    /// let endpoint = metadata.backchannel_authentication_endpoint().ok_or("no CIBA")?;
    /// let request = BackchannelAuthenticationRequest::new(
    ///     &Scope::parse("openid"),
    ///     UserHint::login_hint("pippin@example.com"),
    /// )
    /// .binding_message("W4SCT");
    /// let pending = grants.backchannel_authentication(endpoint, request).await?;
    /// eprintln!("approve the request showing W4SCT on your phone");
    /// let token = grants.poll_backchannel_token(pending).await?;
    /// # let _ = token;
    /// # Ok(()) }
    /// ```
    pub async fn backchannel_authentication(
        &self,
        endpoint: &Endpoint,
        request: BackchannelAuthenticationRequest,
    ) -> Result<BackchannelAuthentication, GrantClientError> {
        async {
            let request = request
                .build(endpoint, &self.client_elsewhere())
                .map_err(GrantClientError::request)?;
            // (`expires_in` reckoned from the sending, as for tokens.)
            let sent_at = self.clock.now();
            let raw = transport::send(self.service.clone(), request, self.limits)
                .await
                .map_err(GrantClientError::transport)?;
            parse_backchannel_authentication_response(
                raw.status,
                &raw.headers,
                &raw.body,
                sent_at,
                &self.compliance,
            )
            .map(|pending| pending.with_issued_to(Some(self.issued_to())))
            .map_err(|e| GrantClientError::response(e, &raw.headers))
        }
        .await
        .map_err(|e: GrantClientError| e.at(ServerEndpoint::BackchannelAuthentication))
    }

    /// Polls the token endpoint once for `pending`'s tokens (CIBA Core §10.1), without
    /// waiting: in ping mode, the one token request after the provider's ping. The tokens when
    /// the user has approved, else the provider's answer as an error
    /// (`authorization_pending`, `slow_down`, `access_denied`, `expired_token`,
    /// `transaction_failed`: see [`GrantClientError::error_code`]). Mind the provider's
    /// interval ([`BackchannelAuthentication::interval`]) between calls, or use
    /// [`poll_backchannel_token`](Self::poll_backchannel_token), which does.
    ///
    /// A request another grant client (another token endpoint or client) sent is refused with
    /// nothing sent ([`ForeignTokenRequest`]).
    ///
    /// # Errors
    ///
    /// Fails with a [`GrantClientError`] as described under [`GrantClient`].
    pub async fn poll_backchannel_token_once(
        &self,
        pending: &BackchannelAuthentication,
    ) -> Result<Token, GrantClientError> {
        if pending
            .issued_to()
            .is_some_and(|issued| !issued.is_same_as(&self.issued_to()))
        {
            return Err(GrantClientError::refused(Box::new(ForeignTokenRequest)));
        }
        self.send(TokenRequest::ciba(
            &self.endpoint,
            &self.client,
            pending.auth_req_id(),
        ))
        .await
    }

    /// Polls the token endpoint for `pending`'s tokens (CIBA Core §7.3, §10.1, §11) until the
    /// user has approved (the tokens, with an ID token to check with
    /// [`IdTokenValidator`](super::IdTokenValidator); no nonce was sent), denied
    /// (`access_denied`), failed (`transaction_failed`), or the request expired
    /// (`expired_token`, or its `expires_in` passed), with the rules of
    /// [`poll_device_token`](Self::poll_device_token): the provider's `interval` before each
    /// poll (5 s when it gave none), 5 s more after every `slow_down`, doubling after a
    /// timeout or a server failure, no poll after the expiry. When the request has less than
    /// one interval left before its first poll, nothing is sent: [`BackchannelRequestExpired`].
    /// Dropping the future stops polling.
    ///
    /// # Errors
    ///
    /// Fails with a [`GrantClientError`] as described under [`GrantClient`]: kind
    /// [`Request`](super::GrantClientErrorKind::Request) for [`BackchannelRequestExpired`] and
    /// [`ForeignTokenRequest`]; the provider's final answers are
    /// [`Response`](super::GrantClientErrorKind::Response) errors.
    pub async fn poll_backchannel_token(
        &self,
        pending: BackchannelAuthentication,
    ) -> Result<Token, GrantClientError> {
        self.poll_backchannel_token_with(pending, |_| {}).await
    }

    /// [`poll_backchannel_token`](Self::poll_backchannel_token), calling `on_wait` before each
    /// wait with its length and its reason.
    ///
    /// # Errors
    ///
    /// Fails as [`poll_backchannel_token`](Self::poll_backchannel_token) does.
    pub async fn poll_backchannel_token_with(
        &self,
        pending: BackchannelAuthentication,
        on_wait: impl FnMut(PollWait),
    ) -> Result<Token, GrantClientError> {
        self.poll_until_done(pending, on_wait).await
    }
}

impl PolledGrant for BackchannelAuthentication {
    fn issued_to(&self) -> Option<&IssuedTo> {
        BackchannelAuthentication::issued_to(self)
    }
    fn expires_at(&self) -> SystemTime {
        BackchannelAuthentication::expires_at(self)
    }
    fn interval(&self) -> Duration {
        BackchannelAuthentication::interval(self)
    }
    fn token_request(&self, endpoint: &Endpoint, client: &Client) -> TokenRequest {
        TokenRequest::ciba(endpoint, client, self.auth_req_id())
    }
    fn on_poll_error(&mut self, error: &TokenResponseError, now: SystemTime) -> PollAction {
        BackchannelAuthentication::on_poll_error(self, error, now)
    }
    fn expired_before_first_poll() -> BoxError {
        Box::new(BackchannelRequestExpired)
    }
}

/// The backchannel authentication request given to [`GrantClient::poll_backchannel_token`]
/// expires before its first poll is due (the provider's `interval` is longer than what is left
/// of its `expires_in`, CIBA Core §7.3): nothing was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "the backchannel authentication request expires before its first poll is due (its polling interval is longer than the time it has left); nothing was sent: start the request again"
)]
#[non_exhaustive]
pub struct BackchannelRequestExpired;
