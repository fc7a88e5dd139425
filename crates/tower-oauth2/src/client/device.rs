//! The device authorization grant (RFC 8628): the codes to show the user, then polling the
//! token endpoint until the user decides.

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use http_body_util::Full;
use oauth_core::clock::Clock;
use oauth_core::oauth2::device::MAX_POLL_INTERVAL;
use oauth_core::oauth2::{
    Client, DeviceAuthorization, DeviceAuthorizationRequest, Endpoint, ErrorCode, IssuedTo,
    PollAction, Scope, Token, TokenRequest, TokenResponseError,
    parse_device_authorization_response,
};
use tower::BoxError;
use tower_service::Service;

use super::{ForeignTokenRequest, GrantClient, GrantClientError, ServerEndpoint, transport};

impl<S, ResBody> GrantClient<S>
where
    S: Service<Request<Full<Bytes>>, Response = Response<ResBody>> + Clone + Send + Sync + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send,
    ResBody: Body + Send,
    ResBody::Data: Send,
    ResBody::Error: Into<BoxError>,
{
    /// Starts the device authorization grant (RFC 8628 §3.1, §3.2) at `device_endpoint` (the
    /// server's `device_authorization_endpoint`): the codes to show the user, who approves on
    /// another device. Then [`poll_device_token`](Self::poll_device_token).
    ///
    /// # Errors
    ///
    /// Fails with a [`GrantClientError`] as described under [`GrantClient`] (its
    /// [`endpoint`](GrantClientError::endpoint) is [`ServerEndpoint::DeviceAuthorization`]).
    #[doc(alias = "exchange_device_code")]
    pub async fn device_authorization(
        &self,
        device_endpoint: &Endpoint,
        scope: Option<&Scope>,
    ) -> Result<DeviceAuthorization, GrantClientError> {
        async {
            let mut request =
                DeviceAuthorizationRequest::new(device_endpoint, &self.client_elsewhere());
            if let Some(scope) = scope {
                request = request.scope(scope);
            }
            let request = request.build().map_err(GrantClientError::request)?;
            // (The device code's `expires_in` reckoned from the sending, as for tokens.)
            let sent_at = self.clock.now();
            let raw = transport::send(self.service.clone(), request, self.limits)
                .await
                .map_err(GrantClientError::transport)?;
            parse_device_authorization_response(
                raw.status,
                &raw.headers,
                &raw.body,
                sent_at,
                &self.compliance,
            )
            .map(|device| device.with_issued_to(Some(self.issued_to())))
            .map_err(|e| GrantClientError::response(e, &raw.headers))
        }
        .await
        .map_err(|e: GrantClientError| e.at(ServerEndpoint::DeviceAuthorization))
    }

    /// Polls the token endpoint for `device`'s token (RFC 8628 §3.4, §3.5) until the user has
    /// approved (the token), denied (`access_denied`), or the code expired (`expired_token`, or
    /// its `expires_in` passed). Waits the server's `interval` before each poll (5 s when it
    /// gave none), 5 s more after every `slow_down`, and twice as long as the last wait after
    /// a timeout or a server failure (§3.5; at least its `Retry-After`, at most 10 minutes).
    /// No poll is made after the code expires: a wait that would end later is cut to end at
    /// the expiry (if at least an interval, and any `Retry-After`, is left; else polling stops
    /// with the last answer). When the code has less than one interval left before the first
    /// poll (the server's `interval` is longer than its `expires_in`, or the code is polled
    /// for too late), no poll is made: [`DeviceCodeExpired`], nothing sent.
    /// Dropping the future stops polling. [`poll_device_token_with`](Self::poll_device_token_with)
    /// also says before each wait how long and why. A device code that another grant client
    /// (another token endpoint or client) asked for is refused with nothing sent
    /// ([`ForeignTokenRequest`]).
    ///
    /// # Errors
    ///
    /// Fails with a [`GrantClientError`] as
    /// [`poll_device_token_with`](Self::poll_device_token_with) does.
    #[doc(alias = "exchange_device_access_token")]
    pub async fn poll_device_token(
        &self,
        device: DeviceAuthorization,
    ) -> Result<Token, GrantClientError> {
        self.poll_device_token_with(device, |_| {}).await
    }

    /// [`poll_device_token`](Self::poll_device_token), calling `on_wait` before each wait
    /// with its length and its reason, so that a command-line tool can show progress ("still
    /// waiting", the interval after a `slow_down`).
    ///
    /// # Errors
    ///
    /// Fails as [`poll_device_token`](Self::poll_device_token) does: a
    /// [`GrantClientError`] as described under [`GrantClient`], of kind
    /// [`Request`](super::GrantClientErrorKind::Request) for [`DeviceCodeExpired`] and
    /// [`ForeignTokenRequest`]; `access_denied` and `expired_token` are
    /// [`Response`](super::GrantClientErrorKind::Response) errors.
    ///
    /// ```no_run
    /// # async fn run(grants: tower_oauth2::GrantClient<tower::util::BoxCloneSyncService<
    /// #     http::Request<http_body_util::Full<bytes::Bytes>>, http::Response<http_body_util::Full<bytes::Bytes>>, tower::BoxError>>,
    /// #     device: oauth_core::oauth2::DeviceAuthorization) -> Result<(), tower_oauth2::GrantClientError> {
    /// use tower_oauth2::client::PollWait;
    ///
    /// let token = grants
    ///     .poll_device_token_with(device, |wait| match wait {
    ///         PollWait::SlowDown(every) => eprintln!("the server asks to poll every {every:?}"),
    ///         wait => eprintln!("waiting for your approval ({:?})", wait.duration()),
    ///     })
    ///     .await?;
    /// # let _ = token;
    /// # Ok(()) }
    /// ```
    pub async fn poll_device_token_with(
        &self,
        device: DeviceAuthorization,
        on_wait: impl FnMut(PollWait),
    ) -> Result<Token, GrantClientError> {
        self.poll_until_done(device, on_wait).await
    }

    /// The polling loop the decoupled grants share (RFC 8628 §3.5, CIBA Core §7.3 and §11):
    /// see [`poll_device_token`](Self::poll_device_token) for its rules.
    pub(super) async fn poll_until_done<P: PolledGrant>(
        &self,
        mut grant: P,
        mut on_wait: impl FnMut(PollWait),
    ) -> Result<Token, GrantClientError> {
        // A code another grant client asked for is polled for at its own server only.
        if grant
            .issued_to()
            .is_some_and(|issued| !issued.is_same_as(&self.issued_to()))
        {
            return Err(GrantClientError::refused(Box::new(ForeignTokenRequest)));
        }
        // The rule below for later waits holds for the first one too: with less than one
        // interval left of the code's lifetime, a first poll would come too early for the
        // interval (§3.5) or too late for the code (§3.2), so none is made.
        let left = grant
            .expires_at()
            .duration_since(self.clock.now())
            .unwrap_or_default();
        if left < grant.interval() {
            return Err(GrantClientError::refused(P::expired_before_first_poll()));
        }
        let mut wait = grant.interval();
        let mut reason: fn(Duration) -> PollWait = PollWait::First;
        loop {
            if !crate::clock::timers_available() {
                return Err(GrantClientError::transport(
                    transport::TransportFailure::NoTimer,
                ));
            }
            on_wait(reason(wait));
            tokio::time::sleep(wait).await;
            let poll = grant.token_request(&self.endpoint, &self.client);
            let error = match self.send(poll).await {
                Ok(token) => return Ok(token),
                Err(error) => error,
            };
            let now = self.clock.now();
            let action = match error.response_error() {
                Some(response) => grant.on_poll_error(response, now),
                None if error.is_transient() && now < grant.expires_at() => {
                    PollAction::Wait(grant.interval())
                }
                None => PollAction::Stop,
            };
            let slow_down = error
                .oauth_error()
                .is_some_and(|e| e.code == ErrorCode::SlowDown);
            match action {
                // §3.5: after a timeout or a server failure, poll less often (doubling, capped;
                // at least what Retry-After asks); the next answer resets it.
                PollAction::Wait(_) if error.is_transient() => {
                    wait = (wait * 2)
                        .max(error.retry_after().unwrap_or_default())
                        .min(MAX_POLL_INTERVAL);
                    reason = PollWait::Trouble;
                }
                PollAction::Wait(next) => {
                    wait = next;
                    reason = if slow_down {
                        PollWait::SlowDown
                    } else {
                        PollWait::Pending
                    };
                }
                PollAction::Stop => return Err(error),
            }
            // §3.2: the device code is good for `expires_in` only, so no poll is made after it.
            // A wait that would end later is cut to end at the expiry (one last poll there),
            // unless that is sooner than the interval (§3.5) or the server's Retry-After.
            let left = grant.expires_at().duration_since(now).unwrap_or_default();
            if wait > left {
                let least = match error.retry_after() {
                    Some(after) if error.is_transient() => after.min(MAX_POLL_INTERVAL),
                    _ => Duration::ZERO,
                };
                if left < grant.interval().max(least) {
                    return Err(error);
                }
                wait = left;
            }
        }
    }
}

/// A grant whose token is polled for until the user decides elsewhere: the device
/// authorization grant (RFC 8628) and CIBA's poll mode.
pub(super) trait PolledGrant {
    /// The token endpoint and client the grant was started for, when recorded.
    fn issued_to(&self) -> Option<&IssuedTo>;
    /// When the grant expires.
    fn expires_at(&self) -> SystemTime;
    /// The current polling interval.
    fn interval(&self) -> Duration;
    /// The token request for one poll.
    fn token_request(&self, endpoint: &Endpoint, client: &Client) -> TokenRequest;
    /// What to do after a failed poll (which may lengthen the interval).
    fn on_poll_error(&mut self, error: &TokenResponseError, now: SystemTime) -> PollAction;
    /// The error when the grant expires before its first poll is due.
    fn expired_before_first_poll() -> BoxError;
}

impl PolledGrant for DeviceAuthorization {
    fn issued_to(&self) -> Option<&IssuedTo> {
        DeviceAuthorization::issued_to(self)
    }
    fn expires_at(&self) -> SystemTime {
        DeviceAuthorization::expires_at(self)
    }
    fn interval(&self) -> Duration {
        DeviceAuthorization::interval(self)
    }
    fn token_request(&self, endpoint: &Endpoint, client: &Client) -> TokenRequest {
        TokenRequest::device_code(endpoint, client, self.device_code())
    }
    fn on_poll_error(&mut self, error: &TokenResponseError, now: SystemTime) -> PollAction {
        DeviceAuthorization::on_poll_error(self, error, now)
    }
    fn expired_before_first_poll() -> BoxError {
        Box::new(DeviceCodeExpired)
    }
}

/// Why [`GrantClient::poll_device_token_with`] (or
/// [`GrantClient::poll_backchannel_token_with`], for CIBA) waits before its next poll, and for
/// how long.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
#[doc(alias = "DevicePollWait")]
pub enum PollWait {
    /// Before the first poll: the server's `interval` (RFC 8628 §3.2, CIBA Core §7.3).
    First(Duration),
    /// `authorization_pending`: the user has not decided yet.
    Pending(Duration),
    /// `slow_down`: the server asked for polls 5 s further apart (§3.5).
    SlowDown(Duration),
    /// A timeout or a server failure: the wait doubles (§3.5).
    Trouble(Duration),
}

impl PollWait {
    /// How long the wait is.
    pub fn duration(&self) -> Duration {
        match *self {
            Self::First(d) | Self::Pending(d) | Self::SlowDown(d) | Self::Trouble(d) => d,
        }
    }
}

/// The device code given to [`GrantClient::poll_device_token`] expires before its first poll
/// is due (the server's `interval` is longer than what is left of its `expires_in`, RFC 8628
/// §3.2, §3.5): nothing was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error(
    "the device code expires before its first poll is due (its polling interval is longer than the time it has left); nothing was sent: start the device authorization again"
)]
#[non_exhaustive]
pub struct DeviceCodeExpired;
