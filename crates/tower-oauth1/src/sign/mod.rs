//! Middleware that signs every request with OAuth 1.0a (RFC 5849 §3).
//!
//! [`SignLayer`] wraps any `Service<http::Request<SignedBody<B>>>` (a
//! `hyper_util::client::legacy::Client`, a `tower::service_fn`, another middleware) and signs each
//! request it is given with the configured credentials, signature method and placement:
//!
//! * **header** (the default, RFC 5849 §3.5.1): `Authorization: OAuth ...`, marked sensitive so
//!   that HTTP/2 never indexes it and tracing layers redact it;
//! * **query** (§3.5.3): the protocol parameters are appended to the query string;
//! * **body** (§3.5.2): the protocol parameters are appended to the form body, and
//!   `Content-Type` and `Content-Length` are set to match.
//!
//! Every request, and every redirect hop that reaches the signer, gets a fresh `oauth_nonce` and
//! `oauth_timestamp`.
//!
//! # Example
//!
//! ```
//! use bytes::Bytes;
//! use http::{Request, Response, header::AUTHORIZATION};
//! use http_body_util::Full;
//! use oauth_core::oauth1::{ClientCredentials, Signer, TokenCredentials};
//! use oauth_core::secret::{ConsumerSecret, TokenSecret};
//! use tower::{Service, ServiceBuilder, ServiceExt};
//! use tower_oauth1::{SignedBody, sign::SignLayer};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() -> Result<(), tower_oauth1::BoxError> {
//! # let client = tower::service_fn(|req: Request<SignedBody<Full<Bytes>>>| async move {
//! #     assert!(req.headers()[AUTHORIZATION].to_str()?.starts_with("OAuth "));
//! #     Ok::<_, tower_oauth1::BoxError>(Response::new(Full::<Bytes>::default()))
//! # });
//! let signer = Signer::builder(ClientCredentials::new("key", ConsumerSecret::new("secret")))
//!     .token(TokenCredentials::new("token", TokenSecret::new("token-secret")))
//!     .build()?;
//! // `client` is any `Service<Request<SignedBody<B>>>`, e.g. a hyper-util legacy `Client` with
//! // an HTTPS connector (hyper-rustls, say), built with `build::<_, SignedBody<Full<Bytes>>>`.
//! // (One made with `build_http()` cannot reach an https URL.)
//! let mut svc = ServiceBuilder::new().layer(SignLayer::new(signer)).service(client);
//! let request = Request::get("https://api.example.com/1/items").body(Full::<Bytes>::default())?;
//! let response = svc.ready().await?.call(request).await?;
//! # let _ = response;
//! # Ok(())
//! # }
//! ```
//!
//! # Bodies
//!
//! A single-part `application/x-www-form-urlencoded` body is part of the signature (RFC 5849
//! §3.4.1.3.1), so the middleware reads it, bounded by [`SignLayer::body_limit`] (1 MiB by
//! default; a larger body fails with [`BodyTooLarge`](crate::BodyTooLarge)), and sends the same
//! bytes on. Every other body (JSON, multipart, binary, a stream of unknown length) is **not**
//! covered by an OAuth 1.0a signature (RFC 5849 §4.12) and streams through untouched, unless
//! `oauth_body_hash` is turned on ([`SignLayer::body_hash`]): it is then buffered (bounded)
//! and hashed. A form body is signed whatever the method, as the RFC says, including a `GET`
//! that carries one.
//!
//! # A realm
//!
//! [`SignLayer::realm`] adds `realm="..."` to the `Authorization` header, first, on every
//! request (RFC 5849 §3.5.1; it is not signed), as requests-oauthlib's `OAuth1(..., realm=...)`
//! does. It is a header parameter only: with query or body placement every request is refused
//! ([`SignRequestErrorKind::RealmNeedsHeaderPlacement`]) rather than sent without it.
//!
//! # A `Host` header
//!
//! A provider builds the signature base string from the request's `Host` header (RFC 5849
//! §3.4.1.2), and HTTP clients send a `Host` the caller set. So a request sent to an address
//! for a virtual host (`https://203.0.113.7/...` with `Host: api.example.com`) is signed for
//! the `Host`'s authority and sent to its URI, in every placement. A `Host` that is not a
//! `host[:port]`, or a second `Host` header, is refused ([`SignRequestErrorKind::InvalidHost`]).
//!
//! Such a request needs [`SignLayer::allowed_origins`], naming the origins it is sent to
//! (`https://203.0.113.7` here), or it is refused
//! ([`SignRequestErrorKind::HostNeedsAllowedOrigins`]): a redirect-following layer copies the
//! `Host` onto every hop, so without the allowlist a hop to another site would be signed for
//! the `Host` and handed to that site, which could replay it at the real one.
//!
//! # Errors
//!
//! The middleware's own failures are boxed into [`BoxError`], like every tower
//! middleware's: [`SignRequestError`], whose [`SignRequestErrorKind`] says which (a request
//! that already carries `Authorization` or an `oauth_*` parameter, a disallowed origin, plain
//! `http` to anything but an allowed loopback host, a body placement on a non-form body or on
//! a `GET`, `HEAD`, `DELETE`, `TRACE` or `CONNECT`, two `Content-Type` headers, an invalid or second
//! `Host`, or one naming another origin without an allowlist,
//! PLAINTEXT in the query or with no origin allowlist, a realm without header placement, a
//! signing failure),
//! [`BodyTooLarge`](crate::BodyTooLarge) and [`BodyReadError`](crate::BodyReadError).
//! Downcast to tell them apart. The inner service's errors pass through as they are.
//!
//! # Redirects: put `FollowRedirect` **outside** the signer
//!
//! An OAuth 1.0a signature covers the method and the URL, so a redirect must be signed again for
//! its own URL. With tower-http's `FollowRedirectLayer` *outside* the signer
//! (`ServiceBuilder::new().layer(FollowRedirectLayer::new()).layer(sign_layer)`), every hop goes
//! through the signer and is signed afresh for its own URL, with a new nonce. Configure
//! [`SignLayer::allowed_origins`] as well (a request with its own `Host` header requires it):
//! a hop to another origin is then refused with [`SignRequestError`] instead of being signed,
//! so no OAuth parameter reaches that origin.
//!
//! The other order (`FollowRedirect` *inside* the signer) would replay the `Authorization`
//! header signed for the first URL on every hop: a signature for the wrong URL and a reused
//! nonce on the same origin, and (if the policy did not strip it) credentials sent to another
//! origin. The [`SignedBody`] the signer sends on does not implement `Default`, which
//! `FollowRedirect` requires, so that order does not compile:
//!
//! ```compile_fail
//! # use tower::ServiceBuilder;
//! # use tower_http::follow_redirect::FollowRedirectLayer;
//! # fn signer() -> tower_oauth1::sign::SignLayer { unimplemented!() }
//! # let client = tower::service_fn(|_req: http::Request<tower_oauth1::SignedBody<String>>| async {
//! #     Ok::<_, std::convert::Infallible>(http::Response::new(String::new()))
//! # });
//! use tower::{Service, ServiceExt};
//! let mut svc = ServiceBuilder::new()
//!     .layer(signer())
//!     .layer(FollowRedirectLayer::new()) // wrong: inside the signer
//!     .service(client);
//! let _ = svc.call(http::Request::new(String::new()));
//! ```
//!
//! If the body is mapped back to a `Default` type to force it, tower-http's standard policy
//! (`FilterCredentials`) still strips the stale `Authorization` header on a cross-origin hop, but
//! a same-origin hop carries a signature computed for another URL and is rejected by the
//! provider.
//!
//! # Caching
//!
//! With query or body placement the signature travels in the URL or body; do not let such
//! responses be cached by shared caches (RFC 5849 §4.4). Header placement is the default.

mod core_engine;
mod future;
mod layer;
mod service;

use std::fmt;

use bytes::Bytes;
use http::header::{AUTHORIZATION, CONTENT_LENGTH, CONTENT_TYPE, HOST, TRANSFER_ENCODING};
use http::request::Parts;
use http::uri::Authority;
use http::{HeaderValue, Uri};
use oauth_core::oauth1::{FORM_CONTENT_TYPE, has_protocol_parameter, is_form_content_type};

use crate::body::{DEFAULT_BODY_LIMIT, SignedBody};
use crate::{BoxError, Realm};

pub use future::ResponseFuture;
pub use layer::SignLayer;
pub use service::Sign;

/// A request origin (RFC 6454): scheme, host and port.
///
/// ```
/// use tower_oauth1::sign::Origin;
///
/// let origin = Origin::from_uri(&"https://api.example.com/1.1/statuses".parse().unwrap()).unwrap();
/// assert_eq!(origin, Origin::from_uri(&"https://API.example.com:443/other".parse().unwrap()).unwrap());
/// // Or from an origin's text:
/// let api: Origin = "https://api.example.com".parse().unwrap();
/// assert_eq!(api, origin);
/// assert!("https://api.example.com/1.1".parse::<Origin>().is_err());
/// ```
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct Origin {
    scheme: String,
    host: String,
    port: u16,
}

impl Origin {
    /// The origin of an absolute `http` or `https` URI; `None` for anything else.
    pub fn from_uri(uri: &Uri) -> Option<Self> {
        let scheme = uri.scheme_str()?.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => 80,
            "https" => 443,
            _ => return None,
        };
        let host = uri.host()?.to_ascii_lowercase();
        Some(Self {
            port: uri.port_u16().unwrap_or(default_port),
            scheme,
            host,
        })
    }
}

/// `scheme://host[:port]` (a trailing `/` is allowed), `http` or `https`.
impl std::str::FromStr for Origin {
    type Err = InvalidOrigin;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let uri: Uri = text.parse().map_err(|_| InvalidOrigin)?;
        let bare = uri.path_and_query().is_none_or(|p| p.as_str() == "/");
        let no_userinfo = uri.authority().is_some_and(|a| !a.as_str().contains('@'));
        match Self::from_uri(&uri) {
            Some(origin) if bare && no_userinfo => Ok(origin),
            _ => Err(InvalidOrigin),
        }
    }
}

/// The text is not an origin: `http` or `https`, a host, an optional port, and no path,
/// query or user information.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("not an origin: expected scheme://host[:port] with scheme http or https, and no path")]
#[non_exhaustive]
pub struct InvalidOrigin;

/// A request the signing middleware refuses to sign, or fails to sign.
#[derive(Debug, thiserror::Error)]
#[error("{kind}")]
pub struct SignRequestError {
    kind: SignRequestErrorKind,
    #[source]
    source: Option<BoxError>,
}

/// What went wrong in a [`SignRequestError`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, thiserror::Error)]
#[non_exhaustive]
pub enum SignRequestErrorKind {
    /// The request already carries an `Authorization` header; the signer does not overwrite it.
    #[error("the request already has an Authorization header")]
    AlreadyAuthorized,
    /// The request already carries an `oauth_*` parameter in its query or form body (RFC 5849
    /// §3.5: protocol parameters are sent once, and the signer adds them).
    #[error("the request already carries an oauth_* protocol parameter")]
    DuplicateProtocolParameter,
    /// The request's origin is not in [`SignLayer::allowed_origins`], or the URI is not an
    /// absolute http(s) URI while an allowlist is configured.
    #[error("the request's origin is not allowed for OAuth signing")]
    OriginNotAllowed,
    /// Body placement was asked for, but the request has a non-empty body that is not
    /// `application/x-www-form-urlencoded`.
    #[error("body placement needs an application/x-www-form-urlencoded or empty body")]
    NotFormBody,
    /// The signer failed (bad URI, bad encoding, clock, randomness, PLAINTEXT over http, ...).
    #[error("signing the request failed")]
    Signer,
    /// The signature method is PLAINTEXT, whose "signature" is the secrets themselves, and no
    /// [`SignLayer::allowed_origins`] is set: a redirect could carry them to any origin.
    #[error("PLAINTEXT signing needs allowed_origins")]
    AllowedOriginsRequired,
    /// The signature method is PLAINTEXT and the placement is the query: the secrets would be
    /// in the URL, which servers, proxies and browsers log.
    #[error("PLAINTEXT signing cannot use query placement")]
    SecretsInQuery,
    /// Body placement on a `GET`, `HEAD`, `DELETE`, `TRACE` or `CONNECT` request: the content
    /// of the first three has no defined semantics and servers may ignore or refuse it
    /// (RFC 9110 §9.3.1, §9.3.2, §9.3.5), a client must not send any with `TRACE` (§9.3.8),
    /// and `CONNECT`'s has no meaning (§9.3.6). The protocol parameters would not be seen.
    #[error("body placement on a GET, HEAD, DELETE, TRACE or CONNECT request")]
    BodyPlacementWithoutBody,
    /// The request is plain `http` (RFC 5849 §4.2: only TLS keeps the credentials and the
    /// response confidential); allowed to a loopback host with
    /// [`SignLayer::dangerous_allow_http_loopback`], to any host with
    /// [`SignLayer::dangerous_allow_http`].
    #[error(
        "the request is not https (plain http is signed only to a loopback host with SignLayer::dangerous_allow_http_loopback, or to any host with dangerous_allow_http; PLAINTEXT only to loopback)"
    )]
    InsecureTransport,
    /// The request's `Host` header names another origin than its URI (a virtual host reached
    /// by address), and no [`SignLayer::allowed_origins`] is set. The request would be signed
    /// for the `Host`'s origin; a redirect-following layer keeps the `Host` on every hop, so a
    /// hop to another site would carry a signature valid at this one.
    #[error("a Host header naming another origin than the URI needs allowed_origins")]
    HostNeedsAllowedOrigins,
    /// The request's `Host` header is not a valid authority (`host[:port]`), or the request
    /// has more than one `Host` header (RFC 9112 §3.2: a server refuses it).
    #[error("the request's Host header is not a single valid host[:port]")]
    InvalidHost,
    /// The request has more than one `Content-Type` header: whether its body is a form, whose
    /// parameters the signature covers (RFC 5849 §3.4.1.3.1), would be a guess, and the
    /// provider might guess otherwise.
    #[error("the request has more than one Content-Type header")]
    AmbiguousContentType,
    /// A realm is configured ([`SignLayer::realm`]) with query or body placement: RFC 5849
    /// defines the realm as a parameter of the `Authorization` header only (§3.5.1; §3.5.2
    /// and §3.5.3 have no place for it), so it would not be sent. Refused rather than
    /// dropped: a provider that wants a realm would refuse the request without saying why.
    #[error("a realm is sent only in the Authorization header: it needs header placement")]
    RealmNeedsHeaderPlacement,
    /// The future was polled after it completed.
    #[error("response future polled after completion")]
    PolledAfterCompletion,
}

impl SignRequestError {
    fn boxed(kind: SignRequestErrorKind) -> BoxError {
        Box::new(Self { kind, source: None })
    }

    fn signer(source: BoxError) -> BoxError {
        Box::new(Self {
            kind: SignRequestErrorKind::Signer,
            source: Some(source),
        })
    }

    pub(crate) fn polled_after_completion() -> BoxError {
        Self::boxed(SignRequestErrorKind::PolledAfterCompletion)
    }

    /// What went wrong.
    pub fn kind(&self) -> SignRequestErrorKind {
        self.kind
    }
}

pub use oauth_core::oauth1::Placement;

/// What the signer produced for one request, in its placement (RFC 5849 §3.5).
pub(crate) enum Signed {
    /// The `Authorization` header value.
    Header(HeaderValue),
    /// The request URI with the protocol parameters appended to its query.
    Uri(Uri),
    /// The form body with the protocol parameters appended.
    Body(Bytes),
}

/// One request as the signer sees it.
pub(crate) struct ToSign<'a> {
    pub(crate) method: &'a http::Method,
    pub(crate) uri: &'a Uri,
    /// The form body, when the request has one.
    pub(crate) form: Option<&'a str>,
    /// The bytes to hash into `oauth_body_hash`, when configured and the body is not a form.
    pub(crate) body_for_hash: Option<&'a [u8]>,
    /// The `Authorization` header's `realm`, when configured (header placement only).
    pub(crate) realm: Option<&'a str>,
}

/// The signing engine behind the middleware: [`oauth_core::oauth1`]'s signer in production.
pub(crate) trait Engine: Send + Sync + fmt::Debug {
    fn sign(&self, req: ToSign<'_>, placement: Placement) -> Result<Signed, BoxError>;

    /// Whether the signature is the secrets themselves (PLAINTEXT).
    fn sends_secrets(&self) -> bool {
        false
    }
}

/// Which plain-`http` requests the middleware signs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum AllowHttp {
    No,
    Loopback,
    Any,
}

/// The middleware's configuration, shared by the layer and every service clone.
#[derive(Clone, Debug)]
pub(crate) struct Config {
    pub(crate) engine: std::sync::Arc<dyn Engine>,
    pub(crate) placement: Placement,
    pub(crate) body_hash: bool,
    pub(crate) body_limit: usize,
    pub(crate) allowed_origins: Option<Vec<Origin>>,
    pub(crate) allow_http: AllowHttp,
    pub(crate) realm: Option<Realm>,
}

fn is_form(parts: &Parts) -> bool {
    parts
        .headers
        .get(CONTENT_TYPE)
        .is_some_and(is_form_content_type)
}

impl Config {
    pub(crate) fn with_engine(engine: std::sync::Arc<dyn Engine>) -> Self {
        Self {
            engine,
            placement: Placement::Header,
            body_hash: false,
            body_limit: DEFAULT_BODY_LIMIT,
            allowed_origins: None,
            allow_http: AllowHttp::No,
            realm: None,
        }
    }

    /// Checks what can be checked before the body is read; says whether the body must be read.
    pub(crate) fn precheck(&self, parts: &Parts, body_empty: bool) -> Result<bool, BoxError> {
        // (The layer's own configuration first: no request can be signed with it.)
        if self.realm.is_some() && self.placement != Placement::Header {
            return Err(SignRequestError::boxed(
                SignRequestErrorKind::RealmNeedsHeaderPlacement,
            ));
        }
        // (Case-insensitively: a `Uri` built with `Uri::builder().scheme("HTTP")` keeps the
        // spelling, and is not `Scheme::HTTP`, but it is plain http all the same.)
        if parts
            .uri
            .scheme_str()
            .is_some_and(|s| s.eq_ignore_ascii_case("http"))
        {
            let allowed = match self.allow_http {
                AllowHttp::No => false,
                AllowHttp::Loopback => {
                    oauth_core::oauth2::Transport::AllowLoopbackHttp.allows(&parts.uri)
                }
                // Never the secrets themselves (PLAINTEXT) in clear text to another host.
                AllowHttp::Any => {
                    !self.engine.sends_secrets()
                        || oauth_core::oauth2::Transport::AllowLoopbackHttp.allows(&parts.uri)
                }
            };
            if !allowed {
                return Err(SignRequestError::boxed(
                    SignRequestErrorKind::InsecureTransport,
                ));
            }
        }
        if self.engine.sends_secrets() {
            if self.allowed_origins.is_none() {
                return Err(SignRequestError::boxed(
                    SignRequestErrorKind::AllowedOriginsRequired,
                ));
            }
            if self.placement == Placement::Query {
                return Err(SignRequestError::boxed(
                    SignRequestErrorKind::SecretsInQuery,
                ));
            }
        }
        if self.placement == Placement::Body
            && matches!(
                parts.method,
                http::Method::GET
                    | http::Method::HEAD
                    | http::Method::DELETE
                    | http::Method::TRACE
                    | http::Method::CONNECT
            )
        {
            return Err(SignRequestError::boxed(
                SignRequestErrorKind::BodyPlacementWithoutBody,
            ));
        }
        if let Some(allowed) = &self.allowed_origins {
            let ok = Origin::from_uri(&parts.uri).is_some_and(|o| allowed.contains(&o));
            if !ok {
                return Err(SignRequestError::boxed(
                    SignRequestErrorKind::OriginNotAllowed,
                ));
            }
        }
        if parts.headers.contains_key(AUTHORIZATION) {
            return Err(SignRequestError::boxed(
                SignRequestErrorKind::AlreadyAuthorized,
            ));
        }
        if parts.uri.query().is_some_and(has_protocol_parameter) {
            return Err(SignRequestError::boxed(
                SignRequestErrorKind::DuplicateProtocolParameter,
            ));
        }
        // RFC 9110 §8.3: one media type. With two, the provider may read the body as a form
        // (and check its parameters in the signature) when the signer did not, or the reverse.
        let mut content_types = parts.headers.get_all(CONTENT_TYPE).iter();
        let form = content_types.next().is_some_and(is_form_content_type);
        if content_types.next().is_some() {
            return Err(SignRequestError::boxed(
                SignRequestErrorKind::AmbiguousContentType,
            ));
        }
        if body_empty {
            return Ok(false);
        }
        if self.placement == Placement::Body && !form {
            return Err(SignRequestError::boxed(SignRequestErrorKind::NotFormBody));
        }
        Ok(form || self.body_hash)
    }

    /// Signs a request whose (empty, or non-form and unhashed) body is not read. Returns the
    /// new body for body placement.
    pub(crate) fn sign_unbuffered(&self, parts: &mut Parts) -> Result<Option<Bytes>, BoxError> {
        let form = (is_form(parts) || self.placement == Placement::Body).then_some("");
        // (`oauth_body_hash` is for bodies that are not forms: an empty form has none.)
        let body_for_hash = (self.body_hash && form.is_none()).then_some(&[][..]);
        self.sign_and_place(parts, form, body_for_hash)
    }

    /// Signs a request whose body was buffered, and returns the body to send.
    pub(crate) fn sign_buffered<B>(
        &self,
        parts: &mut Parts,
        bytes: Bytes,
    ) -> Result<SignedBody<B>, BoxError> {
        if is_form(parts) {
            let text =
                std::str::from_utf8(&bytes).map_err(|e| SignRequestError::signer(e.into()))?;
            if has_protocol_parameter(text) {
                return Err(SignRequestError::boxed(
                    SignRequestErrorKind::DuplicateProtocolParameter,
                ));
            }
            let new_body = self.sign_and_place(parts, Some(text), None)?;
            Ok(SignedBody::buffered(new_body.unwrap_or(bytes)))
        } else {
            self.sign_and_place(parts, None, Some(&bytes))?;
            Ok(SignedBody::buffered(bytes))
        }
    }

    fn sign_and_place(
        &self,
        parts: &mut Parts,
        form: Option<&str>,
        body_for_hash: Option<&[u8]>,
    ) -> Result<Option<Bytes>, BoxError> {
        let host_uri = uri_for_host_header(parts)?;
        // A redirect-following layer outside copies the `Host` onto every hop: without an
        // allowlist, a hop to another site would be signed for this host and handed to that
        // site, which could replay it here.
        if host_uri.is_some() && self.allowed_origins.is_none() {
            return Err(SignRequestError::boxed(
                SignRequestErrorKind::HostNeedsAllowedOrigins,
            ));
        }
        let signed = self
            .engine
            .sign(
                ToSign {
                    method: &parts.method,
                    uri: host_uri.as_ref().unwrap_or(&parts.uri),
                    form,
                    body_for_hash,
                    realm: self.realm.as_ref().map(Realm::as_str),
                },
                self.placement,
            )
            .map_err(SignRequestError::signer)?;
        match (self.placement, signed) {
            (Placement::Header, Signed::Header(mut value)) => {
                value.set_sensitive(true);
                parts.headers.insert(AUTHORIZATION, value);
                Ok(None)
            }
            (Placement::Query, Signed::Uri(uri)) if host_uri.is_some() => {
                // The signed query on the URI the request is sent to (not the Host's).
                let mut sent = std::mem::take(&mut parts.uri).into_parts();
                sent.path_and_query = uri.into_parts().path_and_query;
                parts.uri =
                    Uri::from_parts(sent).map_err(|e| SignRequestError::signer(e.into()))?;
                Ok(None)
            }
            (Placement::Query, Signed::Uri(uri)) => {
                parts.uri = uri;
                Ok(None)
            }
            (Placement::Body, Signed::Body(body)) => {
                parts
                    .headers
                    .insert(CONTENT_TYPE, HeaderValue::from_static(FORM_CONTENT_TYPE));
                // The body is now a known length: a caller's chunked framing would contradict
                // the Content-Length (RFC 9112 §6.2: a sender must not send both).
                parts.headers.remove(TRANSFER_ENCODING);
                parts
                    .headers
                    .insert(CONTENT_LENGTH, HeaderValue::from(body.len()));
                Ok(Some(body))
            }
            (_, _) => Err(SignRequestError::signer(
                "the signer produced output for another placement".into(),
            )),
        }
    }
}

/// The URI to sign when the request's `Host` header names another authority than its URI
/// (a request sent to an address for a virtual host): the provider builds the base string URI
/// from the `Host` header (RFC 5849 §3.4.1.2), and HTTP clients send a `Host` the caller set.
/// `None` when there is no `Host` header, or it names the URI's own authority.
fn uri_for_host_header(parts: &Parts) -> Result<Option<Uri>, BoxError> {
    // (`get` hashes the name even when there are no headers at all.)
    if parts.headers.is_empty() {
        return Ok(None);
    }
    let mut hosts = parts.headers.get_all(HOST).iter();
    let first = hosts.next();
    // RFC 9112 §3.2: a server must refuse a request with two `Host` lines, and a lax one may
    // route by the other: the signature for the first would be handed to that host.
    if hosts.next().is_some() {
        return Err(SignRequestError::boxed(SignRequestErrorKind::InvalidHost));
    }
    // (An origin-form URI has no authority to set: the signer refuses it.)
    let Some(host) = first.filter(|_| parts.uri.authority().is_some()) else {
        return Ok(None);
    };
    let named: Authority = host
        .to_str()
        .ok()
        .filter(|h| !h.contains('@'))
        .and_then(|h| h.parse().ok())
        .ok_or_else(|| SignRequestError::boxed(SignRequestErrorKind::InvalidHost))?;
    let mut signed = parts.uri.clone().into_parts();
    signed.authority = Some(named);
    let signed = Uri::from_parts(signed).map_err(|e| SignRequestError::signer(e.into()))?;
    // (Another case, or the default port spelt out, names the same origin.)
    Ok((Origin::from_uri(&signed) != Origin::from_uri(&parts.uri)).then_some(signed))
}

#[cfg(test)]
mod tests;
