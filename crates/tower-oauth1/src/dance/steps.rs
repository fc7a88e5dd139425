//! The dance's steps that talk to the provider, 1 and 3 (RFC 5849 §2.1, §2.3): each one signed
//! `POST` and its response, read within bounds.

use std::borrow::Borrow;
use std::time::SystemTime;

use bytes::Bytes;
use http::{Method, Request, Response, Uri, header};
use http_body::Body;
use oauth_core::secret::Verifier;
use tower_service::Service;

use super::{Callback, CallbackError, Dance, DanceError, PendingAuthorization, TokenCredentials};
use crate::BoxError;
use crate::body::{Collect, CollectError};

impl Dance {
    /// Step 1 (RFC 5849 §2.1): obtains temporary credentials, sending `oauth_callback`.
    ///
    /// A response without `oauth_callback_confirmed=true` is [`DanceError::CallbackNotConfirmed`].
    ///
    /// # Errors
    ///
    /// Fails with [`DanceError::CallbackNotConfirmed`] as above; [`DanceError::Provider`] for the
    /// provider's error answer; [`DanceError::Transport`], [`DanceError::Timeout`] or
    /// [`DanceError::NoTimer`] when the exchange fails; [`DanceError::ResponseTooLarge`],
    /// [`DanceError::ResponseBody`], [`DanceError::MalformedResponse`] or
    /// [`DanceError::NotCredentials`] for an unusable answer; and [`DanceError::Sign`],
    /// [`DanceError::InvalidRequest`] or [`DanceError::InsecureTransport`] when the request cannot
    /// be made (nothing sent).
    pub async fn request_temporary_credentials<S, ReqB, ResB>(
        &self,
        client: &mut S,
        callback: &Callback,
    ) -> Result<PendingAuthorization, DanceError>
    where
        S: Service<Request<ReqB>, Response = Response<ResB>>,
        S::Error: Into<BoxError>,
        ReqB: From<Bytes>,
        ResB: Body,
        ResB::Error: Into<BoxError>,
    {
        self.check_transport(&self.request_token_endpoint)?;
        if let Callback::Uri(uri) = callback
            && !oauth_core::oauth1::is_valid_callback(uri)
        {
            return Err(DanceError::InvalidRequest {
                reason: "the callback is not oob or an absolute URI without a fragment (with a host, for http and https)",
            });
        }
        let auth = self
            .signer
            .authorization(
                &self.request_token_endpoint,
                None,
                Some(callback.as_str()),
                None,
                self.realm_str(),
            )
            .map_err(DanceError::Sign)?;
        let reply = self
            .send(client, self.request_token_endpoint.clone(), auth)
            .await?;
        let parsed = reply.parse()?;
        if !parsed.callback_confirmed() {
            return Err(DanceError::CallbackNotConfirmed);
        }
        let (token, secret, _) = parsed.into_parts();
        Ok(PendingAuthorization {
            token,
            secret,
            allow_http_loopback: self.allow_http_loopback,
        })
    }

    /// Step 3 (RFC 5849 §2.3): exchanges the authorized temporary credentials and the verifier
    /// for token credentials. Takes the pending authorization by value or by reference (see
    /// [`PendingAuthorization`]).
    ///
    /// # Errors
    ///
    /// Fails, with nothing sent, with [`DanceError::InsecureTransport`] when the access-token
    /// endpoint is plain `http` that the dance does not allow, [`DanceError::Callback`]
    /// ([`CallbackError::MissingVerifier`]) for an empty verifier, and [`DanceError::Sign`] when
    /// signing fails; then with [`DanceError::Transport`], [`DanceError::Timeout`] or
    /// [`DanceError::NoTimer`] when the request does not complete,
    /// [`DanceError::ResponseTooLarge`] or [`DanceError::ResponseBody`] for the body,
    /// [`DanceError::Provider`] when the provider refuses, and
    /// [`DanceError::MalformedResponse`] or [`DanceError::NotCredentials`] for a success
    /// without usable token credentials.
    pub async fn request_token_credentials<S, ReqB, ResB>(
        &self,
        client: &mut S,
        pending: impl Borrow<PendingAuthorization>,
        verifier: Verifier,
    ) -> Result<TokenCredentials, DanceError>
    where
        S: Service<Request<ReqB>, Response = Response<ResB>>,
        S::Error: Into<BoxError>,
        ReqB: From<Bytes>,
        ResB: Body,
        ResB::Error: Into<BoxError>,
    {
        self.check_transport(&self.access_token_endpoint)?;
        // RFC 5849 §2.3: the verifier is required (one typed in by the user for `oob` too);
        // an empty one would only spend the temporary credentials on a refusal.
        if verifier.secret().trim().is_empty() {
            return Err(CallbackError::MissingVerifier.into());
        }
        let auth = self
            .signer
            .authorization(
                &self.access_token_endpoint,
                Some((&pending.borrow().token, &pending.borrow().secret)),
                None,
                Some(&verifier),
                self.realm_str(),
            )
            .map_err(DanceError::Sign)?;
        let reply = self
            .send(client, self.access_token_endpoint.clone(), auth)
            .await?;
        Ok(TokenCredentials(reply.parse()?))
    }

    /// Steps 2½ and 3 together: reads the verifier from the callback URL (checking its
    /// `oauth_token`), then exchanges for token credentials.
    ///
    /// A callback for another (or no) `oauth_token`, or without a verifier, fails with
    /// [`DanceError::Callback`] before any request. Pass `&pending` to keep it for the real
    /// callback in that case (a web application's callback URL can be opened by anyone):
    ///
    /// # Errors
    ///
    /// Fails with [`DanceError::Callback`] as above, then as
    /// [`request_token_credentials`](Self::request_token_credentials) does.
    ///
    /// ```no_run
    /// # async fn demo(
    /// #     dance: tower_oauth1::Dance,
    /// #     mut client: tower::util::BoxService<http::Request<bytes::Bytes>, http::Response<http_body_util::Full<bytes::Bytes>>, tower::BoxError>,
    /// #     session: &mut std::collections::HashMap<String, tower_oauth1::dance::PendingAuthorization>,
    /// #     callback: http::Uri,
    /// # ) -> Result<(), tower_oauth1::dance::DanceError> {
    /// let Some(pending) = session.get("oauth1") else { return Ok(()) };
    /// let credentials = dance.complete_from_callback(&mut client, pending, &callback).await?;
    /// session.remove("oauth1"); // used: the provider would refuse it now
    /// # let _ = credentials; Ok(()) }
    /// ```
    pub async fn complete_from_callback<S, ReqB, ResB>(
        &self,
        client: &mut S,
        pending: impl Borrow<PendingAuthorization>,
        callback: &Uri,
    ) -> Result<TokenCredentials, DanceError>
    where
        S: Service<Request<ReqB>, Response = Response<ResB>>,
        S::Error: Into<BoxError>,
        ReqB: From<Bytes>,
        ResB: Body,
        ResB::Error: Into<BoxError>,
    {
        let verifier = pending.borrow().verifier_from_callback(callback)?;
        self.request_token_credentials(client, pending, verifier)
            .await
    }

    async fn send<S, ReqB, ResB>(
        &self,
        client: &mut S,
        uri: Uri,
        authorization: http::HeaderValue,
    ) -> Result<Reply, DanceError>
    where
        S: Service<Request<ReqB>, Response = Response<ResB>>,
        S::Error: Into<BoxError>,
        ReqB: From<Bytes>,
        ResB: Body,
        ResB::Error: Into<BoxError>,
    {
        let exchange = self.exchange(client, uri, authorization);
        // (Outside a tokio runtime there is no timer to use: the client's own bounds apply.)
        match self
            .timeout
            .filter(|_| tokio::runtime::Handle::try_current().is_ok())
        {
            Some(after) => {
                // tokio panics when the timer is made in a runtime without timers; that is a
                // configuration error to report, not a reason to take the caller's task down.
                let bounded = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    tokio::time::timeout(after, exchange)
                }))
                .map_err(|_| DanceError::NoTimer)?;
                bounded.await.map_err(|_| DanceError::Timeout { after })?
            }
            None => exchange.await,
        }
    }

    /// One request and its whole response (of an error status, only the start of the body).
    async fn exchange<S, ReqB, ResB>(
        &self,
        client: &mut S,
        uri: Uri,
        authorization: http::HeaderValue,
    ) -> Result<Reply, DanceError>
    where
        S: Service<Request<ReqB>, Response = Response<ResB>>,
        S::Error: Into<BoxError>,
        ReqB: From<Bytes>,
        ResB: Body,
        ResB::Error: Into<BoxError>,
    {
        let mut request = Request::new(ReqB::from(Bytes::new()));
        *request.method_mut() = Method::POST;
        *request.uri_mut() = uri;
        request
            .headers_mut()
            .insert(header::AUTHORIZATION, authorization);
        request
            .headers_mut()
            .insert(header::CONTENT_LENGTH, http::HeaderValue::from_static("0"));
        std::future::poll_fn(|cx| client.poll_ready(cx))
            .await
            .map_err(|e| DanceError::Transport(e.into()))?;
        let response = client
            .call(request)
            .await
            .map_err(|e| DanceError::Transport(e.into()))?;
        let (parts, body) = response.into_parts();
        if !parts.status.is_success() {
            // Only an `oauth_problem` is taken from an error's body, so little of it is read,
            // and a large or broken one (a CDN's error page) does not hide the status.
            let limit = self.max_response_bytes.min(ERROR_BODY_LIMIT);
            let bytes = match Collect::check_hint(&body, limit) {
                Ok(()) => collect(body, limit).await.unwrap_or_default(),
                Err(_) => Bytes::new(),
            };
            // (The parser makes the provider's error of it.)
            return Ok(Reply {
                status: parts.status,
                headers: parts.headers,
                body: bytes,
            });
        }
        let limit = self.max_response_bytes;
        if Collect::check_hint(&body, limit).is_err() {
            return Err(DanceError::ResponseTooLarge { limit });
        }
        let body = collect(body, limit).await.map_err(|e| match e {
            CollectError::TooLarge(_) => DanceError::ResponseTooLarge { limit },
            CollectError::Body(e) => DanceError::ResponseBody(e),
        })?;
        Ok(Reply {
            status: parts.status,
            headers: parts.headers,
            body,
        })
    }
}

/// The most of an error response's body the dance reads, for its `oauth_problem`.
const ERROR_BODY_LIMIT: usize = 8 * 1024;

/// A provider's answer to a dance request, read.
struct Reply {
    status: http::StatusCode,
    headers: http::HeaderMap,
    body: Bytes,
}

impl Reply {
    /// The credentials in the answer, or the provider's error (oauth-core's parser).
    fn parse(&self) -> Result<oauth_core::oauth1::CredentialsResponse, DanceError> {
        let parsed = oauth_core::oauth1::parse_credentials_response(
            self.status,
            &self.headers,
            &self.body,
            SystemTime::now(),
        )?;
        Ok(parsed)
    }
}

/// Reads a whole response body, up to `limit` bytes.
async fn collect<B>(body: B, limit: usize) -> Result<Bytes, CollectError>
where
    B: Body,
    B::Error: Into<BoxError>,
{
    let mut collect = std::pin::pin!(Collect::new(body, limit));
    std::future::poll_fn(|cx| collect.as_mut().poll_collect(cx)).await
}
