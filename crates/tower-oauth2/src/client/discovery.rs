//! [`discover`]: an authorization server's metadata (RFC 8414, OpenID Connect Discovery) over
//! any tower HTTP service, with the token endpoint client's rules.

use bytes::Bytes;
use http::{Request, Response};
use http_body::Body;
use http_body_util::Full;
use oauth_core::oauth2::{
    AuthorizationServerMetadata, Issuer, WellKnown, metadata_request, parse_metadata,
};
use tower::BoxError;
use tower_service::Service;

use super::transport::{self, Limits};
use super::{GrantClientError, ServerEndpoint};

/// Fetches and checks `issuer`'s metadata document: no redirects followed, a 30 s deadline, a
/// 1 MiB cap, and the document must name exactly `issuer` (RFC 8414 §3.3).
///
/// Plain `http` issuers need [`Issuer::with_transport`] with the loopback opt-in, and then
/// only loopback endpoints are accepted from the document.
///
/// # Errors
///
/// Fails with a [`GrantClientError`] at
/// [`ServerEndpoint::Metadata`](super::ServerEndpoint::Metadata): a transport failure, timeout or
/// redirect, a body over the cap, or a document
/// [`parse_metadata`](oauth_core::oauth2::parse_metadata) refuses
/// ([`GrantClientErrorKind::Response`](super::GrantClientErrorKind::Response)).
///
/// ```no_run
/// # async fn run(https: hyper_util::client::legacy::Client<
/// #     hyper_util::client::legacy::connect::HttpConnector, http_body_util::Full<bytes::Bytes>>)
/// # -> Result<(), Box<dyn std::error::Error>> {
/// use oauth_core::oauth2::{Issuer, WellKnown};
/// use tower_oauth2::client::discover;
///
/// // `https`: a hyper-util client with an HTTPS connector (hyper-rustls, say; one made with
/// // `build_http()` cannot reach an https issuer), without redirect-following.
/// let issuer = Issuer::new("https://accounts.example.com")?;
/// let metadata = discover(&https, &issuer, WellKnown::OpenIdConfiguration).await?;
/// let token_endpoint = metadata.token_endpoint().ok_or("no token endpoint")?.clone();
/// # let _ = token_endpoint;
/// # Ok(())
/// # }
/// ```
pub async fn discover<S, ResBody>(
    service: &S,
    issuer: &Issuer,
    well_known: WellKnown,
) -> Result<AuthorizationServerMetadata, GrantClientError>
where
    S: Service<Request<Full<Bytes>>, Response = Response<ResBody>> + Clone,
    S::Error: Into<BoxError>,
    ResBody: Body,
    ResBody::Error: Into<BoxError>,
{
    let request = metadata_request(issuer, well_known).map_err(GrantClientError::metadata)?;
    let raw = transport::send(service.clone(), request, Limits::default())
        .await
        .map_err(|failure| GrantClientError::transport(failure).at(ServerEndpoint::Metadata))?;
    parse_metadata(raw.status, &raw.body, issuer)
        .map_err(|error| GrantClientError::metadata(error).with_retry_after_from(&raw.headers))
}
