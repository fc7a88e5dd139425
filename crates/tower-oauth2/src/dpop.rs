//! DPoP-bound tokens on resource requests (RFC 9449 §7): a fresh proof with every request
//! (and every retry), the nonce each resource server asks for, kept per origin, and the one
//! retry that a `use_dpop_nonce` challenge calls for.
//!
//! The protocol rules (proofs, nonce syntax, challenges, key binding) are oauth-core's
//! [`dpop`](oauth_core::oauth2::dpop); this module sends requests with them.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, PoisonError};

use http::header::AUTHORIZATION;
use http::{Request, Response, StatusCode, Uri};
use oauth_core::oauth2::dpop::{
    self, DPOP_HEADER, DpopKeyMismatch, InvalidDpopNonce, ResourceChallenge,
};
use tower::{BoxError, ServiceExt};
use tower_service::Service;

use crate::error::{Error, ErrorKind};
use crate::future::RetryContext;
use crate::policy::{Origin, RetryOn401};
use crate::request_copy::RequestCopy;
use crate::source::Entry;

/// The last nonce each resource server origin gave (RFC 9449 §9). Resource server nonces are
/// kept apart from the authorization server's (which the grant client keeps).
#[derive(Default)]
pub(crate) struct DpopNonces {
    by_origin: Mutex<HashMap<String, String>>,
}

impl std::fmt::Debug for DpopNonces {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DpopNonces").finish_non_exhaustive()
    }
}

impl DpopNonces {
    fn get(&self, origin: &str) -> Option<String> {
        self.lock().get(origin).cloned()
    }

    /// Keeps the `DPoP-Nonce` of a response from `origin`, on any status (§8.2: a server may
    /// hand out the next nonce on a success too); whether there was one.
    fn update(
        &self,
        origin: &str,
        response_headers: &http::HeaderMap,
    ) -> Result<bool, InvalidDpopNonce> {
        let Some(nonce) = dpop::server_nonce(response_headers)? else {
            return Ok(false);
        };
        self.lock().insert(origin.to_owned(), nonce.to_owned());
        Ok(true)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, String>> {
        self.by_origin
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// The origin nonces are kept under: scheme, host and port, normalised as the allowlist
/// matches them (`host` and `host:443` are one origin).
fn origin_of(uri: &Uri) -> String {
    Origin::from_uri(uri)
        .map(|o| o.to_string())
        .unwrap_or_default()
}

/// Keeps the `DPoP-Nonce` of `response` to a request sent to `uri`, when it has a valid one
/// and came from `uri`'s origin.
pub(crate) fn remember_nonce<S, B>(context: &RetryContext<S>, uri: &Uri, response: &Response<B>) {
    if !crate::policy::answered_by(response, uri) {
        return;
    }
    if let Err(error) = context
        .dpop_nonces
        .update(&origin_of(uri), response.headers())
    {
        tracing::warn!(%error, "ignoring a resource server's DPoP-Nonce");
    }
}

/// Puts `entry`'s token on `request`: `Authorization: DPoP <token>` with a new proof for this
/// request (`ath` of the token, the origin's nonce), or the Bearer header for an unbound token.
pub(crate) fn authorize<S, B>(
    request: &mut Request<B>,
    entry: &Entry,
    context: &RetryContext<S>,
) -> Result<(), Error> {
    if entry.needs_proof() {
        let key = context
            .source
            .dpop_key()
            .ok_or_else(|| Error::with_source(ErrorKind::DpopProof, DpopKeyMismatch::new()))?;
        let token = entry.token();
        key.check_binding(token)
            .map_err(|e| Error::with_source(ErrorKind::DpopProof, e))?;
        let nonce = context.dpop_nonces.get(&origin_of(request.uri()));
        let proof = key
            .proof(
                request.method(),
                request.uri(),
                Some(token.access_token().secret()),
                nonce.as_deref(),
            )
            .map_err(|e| Error::with_source(ErrorKind::DpopProof, e))?;
        request.headers_mut().insert(DPOP_HEADER, proof);
    }
    request
        .headers_mut()
        .insert(AUTHORIZATION, entry.header().clone());
    Ok(())
}

/// Sends a request with a DPoP-bound token, and once more when the resource server answers
/// with a 401 that asks for it: `use_dpop_nonce` with a new nonce (same token, new proof), or
/// a rejected token under `policy` (refreshed token, new proof). Never more than one retry,
/// and only with a copy of the request (`replay`).
pub(crate) async fn send<S, B, ResBody>(
    context: Arc<RetryContext<S>>,
    mut service: S,
    mut request: Request<B>,
    replay: Option<RequestCopy<B>>,
    entry: Arc<Entry>,
    policy: RetryOn401,
) -> Result<Response<ResBody>, BoxError>
where
    S: Service<Request<B>, Response = Response<ResBody>> + Send + 'static,
    S::Error: Into<BoxError>,
    S::Future: Send + 'static,
    B: Send + 'static,
    ResBody: Send + 'static,
{
    let sent_to = request.uri().clone();
    let origin = origin_of(&sent_to);
    authorize(&mut request, &entry, &context)?;
    // `poll_ready` was called on this service before it was taken.
    let response = service.call(request).await.map_err(Into::into)?;
    // (Another origin's answer, at the end of redirects, neither sets a nonce nor asks for a
    // retry.)
    if !crate::policy::answered_by(&response, &sent_to) {
        return Ok(response);
    }
    let nonce = context.dpop_nonces.update(&origin, response.headers());
    if response.status() != StatusCode::UNAUTHORIZED {
        if let Err(error) = nonce {
            tracing::warn!(%error, "ignoring a resource server's DPoP-Nonce");
        }
        return Ok(response);
    }
    let Some(copy) = replay else {
        // No copy to send again: a nonce is kept for the next request (above), a refused token
        // is noted, and the 401 goes back, with a warning that says how to have it retried.
        match dpop::resource_challenge(response.headers()) {
            // (A nonce challenge never refuses the token, as on the path that can retry; an
            // invalid nonce is an error there too.)
            ResourceChallenge::UseDpopNonce => match nonce {
                Ok(true) => {
                    crate::future::warn_not_retried("asked for a DPoP nonce", "carries the nonce");
                }
                Ok(false) => {}
                Err(invalid) => {
                    return Err(Error::with_source(ErrorKind::InvalidDpopNonce, invalid).into());
                }
            },
            challenge if wants_refresh(policy, challenge) => {
                crate::future::note_refusal(
                    &context.source,
                    entry.generation(),
                    "refused the DPoP-bound access token",
                );
            }
            _ => {}
        }
        return Ok(response);
    };
    let entry = match dpop::resource_challenge(response.headers()) {
        ResourceChallenge::UseDpopNonce => match nonce {
            Ok(true) => entry,
            Ok(false) => return Ok(response),
            Err(invalid) => {
                return Err(Error::with_source(ErrorKind::InvalidDpopNonce, invalid).into());
            }
        },
        challenge if wants_refresh(policy, challenge) => {
            match context
                .source
                .refresh_after(entry.generation())
                .await
                .map_err(Error::no_token)?
            {
                Some(entry) => entry,
                // Refreshed moments ago: nothing newer to retry with.
                None => return Ok(response),
            }
        }
        _ => return Ok(response),
    };
    drop(response);
    let mut request = copy.into_request();
    authorize(&mut request, &entry, &context)?;
    let response = context
        .service()
        .oneshot(request)
        .await
        .map_err(Into::into)?;
    if crate::policy::answered_by(&response, &sent_to)
        && let Err(error) = context.dpop_nonces.update(&origin, response.headers())
    {
        tracing::warn!(%error, "ignoring a resource server's DPoP-Nonce");
    }
    Ok(response)
}

/// Whether a 401 with `challenge` (not `use_dpop_nonce`) calls for a refresh under `policy`.
fn wants_refresh(policy: RetryOn401, challenge: ResourceChallenge) -> bool {
    match policy {
        RetryOn401::Never => false,
        RetryOn401::Any => true,
        RetryOn401::InvalidToken => challenge == ResourceChallenge::InvalidToken,
    }
}
