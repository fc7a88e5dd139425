//! Where the token goes: the origin allowlist, what to do with foreign origins and with requests
//! that already carry credentials, and which request bodies can be replayed after a 401.
//!
//! Sending a token only to the origins it was issued for is the defence against a counterfeit
//! resource server and against redirect leaks (RFC 9700 §4.9.1, §4.10.2).

use std::fmt;

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use http::Uri;
use http::uri::Scheme;
use http_body::Body;
use http_body_util::{BodyExt, Limited};
use tower::BoxError;

/// A web origin (RFC 6454): scheme, host and port.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Origin {
    https: bool,
    host: String,
    port: u16,
    /// `host` and `host:port`: the authority spellings that name this origin, so that matching a
    /// request is a string comparison rather than a parse.
    authorities: [String; 2],
}

impl Origin {
    /// The origin of an absolute `http` or `https` URI, or `None` for any other URI.
    #[must_use]
    #[doc(alias = "of")]
    pub fn from_uri(uri: &Uri) -> Option<Self> {
        let https = match uri.scheme() {
            Some(s) if *s == Scheme::HTTPS => true,
            Some(s) if *s == Scheme::HTTP => false,
            _ => return None,
        };
        let authority = uri.authority()?;
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        let host = authority.host().to_ascii_lowercase();
        let default_port = if https { 443 } else { 80 };
        let authorities = if port == default_port {
            [host.clone(), format!("{host}:{port}")]
        } else {
            [format!("{host}:{port}"), format!("{host}:{port}")]
        };
        Some(Self {
            https,
            host,
            port,
            authorities,
        })
    }

    /// Parses an origin such as `https://api.example.com` or `http://127.0.0.1:8080`.
    ///
    /// # Errors
    ///
    /// Fails with [`InvalidOrigin`] for a string that is not a URI, a scheme other than `http`
    /// or `https`, no host, user information (`user@`: `https://api.example.com@evil.example`
    /// names `evil.example`), or a path other than `/` or a query.
    pub fn parse(origin: &str) -> Result<Self, InvalidOrigin> {
        let uri: Uri = origin.parse().map_err(|_| InvalidOrigin(()))?;
        let path_ok = uri.path_and_query().is_none_or(|p| p.as_str() == "/");
        let no_userinfo = uri.authority().is_some_and(|a| !a.as_str().contains('@'));
        match Self::from_uri(&uri) {
            Some(o) if path_ok && no_userinfo => Ok(o),
            _ => Err(InvalidOrigin(())),
        }
    }

    /// Whether `uri` is on this origin.
    #[inline]
    pub fn matches(&self, uri: &Uri) -> bool {
        // `http` parses the scheme case-insensitively into an enum for http and https.
        let scheme = if self.https {
            &Scheme::HTTPS
        } else {
            &Scheme::HTTP
        };
        if uri.scheme() != Some(scheme) {
            return false;
        }
        // An authority with userinfo (`user@host`) never matches: it is not how APIs are named.
        let Some(authority) = uri.authority() else {
            return false;
        };
        let a = authority.as_str().as_bytes();
        let [short, long] = &self.authorities;
        // Exact first: hosts are almost always sent in lower case already.
        same_bytes(a, short.as_bytes())
            || same_bytes(a, long.as_bytes())
            || a.eq_ignore_ascii_case(short.as_bytes())
            || a.eq_ignore_ascii_case(long.as_bytes())
            || self.matches_empty_port(a)
    }

    /// Whether `authority` is `host:`, an empty port, which is the scheme's default one (RFC
    /// 3986 §3.2.3 `port = *DIGIT`, §6.2.3), and this origin is on that port.
    #[cold]
    #[inline(never)]
    fn matches_empty_port(&self, authority: &[u8]) -> bool {
        let [short, long] = &self.authorities;
        short != long
            && authority
                .strip_suffix(b":")
                .is_some_and(|host| host.eq_ignore_ascii_case(short.as_bytes()))
    }

    /// Whether `host`, a `Host` header's value, names this origin's authority (up to case and
    /// a default or empty port; user information never matches).
    pub(crate) fn matches_host(&self, host: &[u8]) -> bool {
        let [short, long] = &self.authorities;
        host.eq_ignore_ascii_case(short.as_bytes())
            || host.eq_ignore_ascii_case(long.as_bytes())
            || self.matches_empty_port(host)
    }

    /// Whether the scheme is `https`.
    pub fn is_https(&self) -> bool {
        self.https
    }

    /// Whether the host is a loopback address (`127.0.0.0/8`, `[::1]`) or `localhost`.
    pub fn is_loopback(&self) -> bool {
        let host = self.host.trim_start_matches('[').trim_end_matches(']');
        host == "localhost"
            || host
                .parse::<std::net::IpAddr>()
                .is_ok_and(|ip| ip.is_loopback())
    }
}

/// The same as [`Origin::parse`]: `"https://api.example.com".parse::<Origin>()`.
impl std::str::FromStr for Origin {
    type Err = InvalidOrigin;

    fn from_str(origin: &str) -> Result<Self, Self::Err> {
        Self::parse(origin)
    }
}

impl fmt::Debug for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let scheme = if self.https { "https" } else { "http" };
        write!(f, "{scheme}://{}:{}", self.host, self.port)
    }
}

/// `a == b`, with the usual lengths of a host name (8 to 16 bytes) compared as two words
/// instead of through `memcmp`.
#[inline]
fn same_bytes(a: &[u8], b: &[u8]) -> bool {
    let n = a.len();
    if n != b.len() {
        return false;
    }
    if (8..=16).contains(&n) {
        let word = |s: &[u8], at: usize| {
            s.get(at..at + 8)
                .and_then(|w| <[u8; 8]>::try_from(w).ok())
                .map(u64::from_ne_bytes)
        };
        return word(a, 0) == word(b, 0) && word(a, n - 8) == word(b, n - 8);
    }
    a == b
}

/// A string that is not an `http(s)://host[:port]` origin.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "not an origin: expected `https://host[:port]` (or `http://host[:port]`) with no user information, path, query or fragment"
)]
pub struct InvalidOrigin(());

/// What the middleware does with a request to an origin that is not on the allowlist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ForeignOrigin {
    /// Send it on untouched, with no token (the default).
    #[default]
    PassThrough,
    /// Fail it with [`crate::Error`] `ForeignOrigin`, without sending it.
    Reject,
}

/// What the middleware does with a request that already carries credentials: an
/// `Authorization` header, or an `access_token` parameter in its query (RFC 6750 §2.3; a client
/// must not send a token by more than one method, §2). A token in a form body (§2.2) is not
/// looked for: the middleware does not read bodies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum ExistingAuthorization {
    /// Leave the caller's header alone and add no token (the default).
    #[default]
    Keep,
    /// Fail the request without sending it.
    Reject,
}

/// When a 401 from the resource server makes the middleware refresh and retry once.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
#[non_exhaustive]
pub enum RetryOn401 {
    /// Only when the response says `WWW-Authenticate: Bearer error="invalid_token"`
    /// (RFC 6750 §3.1), the default. For a DPoP-bound token, `DPoP error="invalid_token"`
    /// counts too (RFC 9449 §7.1); its `use_dpop_nonce` retry does not depend on this policy.
    #[default]
    InvalidToken,
    /// On any 401.
    Any,
    /// Never: the 401 is returned as it is.
    Never,
}

/// Makes a copy of a request body so that the request can be sent again after a 401.
///
/// The middleware retries only requests whose body it could copy before sending. [`ReplayEmpty`]
/// (the default) copies bodies that are known to be empty, which covers `GET`, `HEAD` and
/// `DELETE`; [`ReplayClone`] copies any `Clone` body (`Full<Bytes>`, `String`, ...);
/// [`ReplayBuffered`] also reads bodies of a known, small size (a streamed upload with a
/// `Content-Length`, say) into memory before sending them.
pub trait ReplayBody<B> {
    /// A copy of `body`, or `None` when it cannot be replayed as it is (a stream, say).
    fn replay(&self, body: &B) -> Option<B>;

    /// For a body that [`replay`](Self::replay) could not copy: `Ok` with a future that reads
    /// it into memory and gives back two equal bodies (one sent now, one kept for the retry),
    /// or `Err(body)` to send it as it is, with no retry. The request waits for the future.
    ///
    /// The default sends every such body as it is.
    ///
    /// # Errors
    ///
    /// `Err(body)` gives the body back unread, to be sent as it is without a retry; it is not a
    /// failure.
    fn buffer(&self, body: B) -> Result<BufferBody<B>, B> {
        Err(body)
    }
}

/// Reads a request body into memory: see [`ReplayBody::buffer`].
pub type BufferBody<B> = Pin<Box<dyn Future<Output = Result<(B, B), BoxError>> + Send>>;

/// Replays bodies that are known to be empty (their size hint is exactly zero).
#[derive(Debug, Clone, Copy, Default)]
pub struct ReplayEmpty;

impl<B: Body + Default> ReplayBody<B> for ReplayEmpty {
    fn replay(&self, body: &B) -> Option<B> {
        (body.size_hint().exact() == Some(0)).then(B::default)
    }
}

/// Replays any body that is `Clone`.
#[derive(Debug, Clone, Copy, Default)]
pub struct ReplayClone;

impl<B: Clone> ReplayBody<B> for ReplayClone {
    fn replay(&self, body: &B) -> Option<B> {
        Some(body.clone())
    }
}

/// Replays empty bodies, and reads bodies known to be at most `limit` bytes long (their size
/// hint's upper bound, e.g. from `Content-Length`) into memory before sending them, so that they
/// can be sent again after a 401. Bodies of unknown or larger size are sent as they are, with
/// no retry.
///
/// Buffering delays the request until the whole body is read, and holds it in memory until the
/// response arrives; trailers are not kept. A body that yields more than `limit` bytes despite
/// its size hint fails the request. A body's own error fails the request with that error.
///
/// ```
/// use tower_oauth2::policy::ReplayBuffered;
/// # fn layer(layer: tower_oauth2::OAuth2Layer) {
/// // Retry uploads of up to 64 KiB after a 401.
/// let layer = layer.replay_bodies(ReplayBuffered::new(64 * 1024));
/// # let _ = layer;
/// # }
/// ```
#[derive(Debug, Clone, Copy)]
pub struct ReplayBuffered {
    limit: usize,
}

impl ReplayBuffered {
    /// Buffers bodies of at most `limit` bytes.
    #[must_use]
    pub const fn new(limit: usize) -> Self {
        Self { limit }
    }
}

impl<B> ReplayBody<B> for ReplayBuffered
where
    B: Body + From<Bytes> + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    fn replay(&self, body: &B) -> Option<B> {
        (body.size_hint().exact() == Some(0)).then(|| B::from(Bytes::new()))
    }

    fn buffer(&self, body: B) -> Result<BufferBody<B>, B> {
        let limit = self.limit;
        match body.size_hint().upper() {
            Some(len) if len <= limit as u64 => Ok(Box::pin(async move {
                let bytes = Limited::new(body, limit).collect().await?.to_bytes();
                Ok((B::from(bytes.clone()), B::from(bytes)))
            })),
            _ => Err(body),
        }
    }
}

/// Whether `response` came from the origin the request was sent to (`sent_to`). It did not
/// when a redirect-following layer between this one and the client ended on another origin:
/// tower-http's `FollowRedirect` says where, in the response's `RequestUri` extension (feature
/// `tower-http`). Another origin's 401 or `DPoP-Nonce` says nothing about the API's token.
pub(crate) fn answered_by<B>(response: &http::Response<B>, sent_to: &Uri) -> bool {
    #[cfg(feature = "tower-http")]
    if let Some(last) = response
        .extensions()
        .get::<tower_http::follow_redirect::RequestUri>()
    {
        return Origin::from_uri(&last.0).is_some()
            && Origin::from_uri(&last.0) == Origin::from_uri(sent_to);
    }
    let _ = (response, sent_to);
    true
}

#[cfg(test)]
mod tests {
    use super::*;
    use bytes::Bytes;
    use http_body_util::{Empty, Full};

    #[test]
    fn origins_compare_scheme_host_and_effective_port() {
        let o = Origin::parse("https://API.example.com").unwrap();
        assert!(o.matches(&"https://api.example.com/v1/me?x=1".parse().unwrap()));
        assert!(o.matches(&"https://api.example.com:443/".parse().unwrap()));
        assert!(!o.matches(&"http://api.example.com/".parse().unwrap()));
        assert!(!o.matches(&"https://api.example.com:8443/".parse().unwrap()));
        assert!(!o.matches(&"https://evil.example.com/".parse().unwrap()));
        assert!(!o.matches(&"https://api.example.com.evil.example/".parse().unwrap()));
        assert!(!o.matches(&"/relative".parse().unwrap()));
        assert!(!o.matches(&"https://user@api.example.com/".parse().unwrap()));
        let p = Origin::parse("http://127.0.0.1:8080").unwrap();
        assert!(p.matches(&"http://127.0.0.1:8080/x".parse().unwrap()));
        assert!(!p.matches(&"http://127.0.0.1/x".parse().unwrap()));
        // An empty port is the default one: the origin's when it is on it, never another's.
        assert!(o.matches(&"https://API.example.com:/v1".parse().unwrap()));
        assert!(o.matches_host(b"api.example.com:"));
        assert!(!p.matches(&"http://127.0.0.1:/x".parse().unwrap()));
        assert!(!p.matches_host(b"127.0.0.1:"));
        assert!(!p.matches_host(b"127.0.0.1:8080:"));
        assert!(!o.matches_host(b"api.example.com::"));
        assert_eq!(o.to_string(), "https://api.example.com:443");
    }

    #[test]
    fn origin_parsing_rejects_paths_and_non_http() {
        assert!(Origin::parse("https://a.example/path").is_err());
        assert!(Origin::parse("ftp://a.example").is_err());
        assert!(Origin::parse("a.example").is_err());
        assert!(Origin::parse("https://a.example/").is_ok());
        assert!(
            Origin::parse("http://127.0.0.1:8080")
                .unwrap()
                .is_loopback()
        );
        assert!(Origin::parse("http://[::1]:8080").unwrap().is_loopback());
        assert!(Origin::parse("http://localhost").unwrap().is_loopback());
        assert!(!Origin::parse("http://10.0.0.1").unwrap().is_loopback());
    }

    #[test]
    fn from_str_is_parse_and_from_uri_takes_any_path() {
        for text in [
            "https://API.example.com",
            "http://127.0.0.1:8080/",
            "https://a.example:8443",
        ] {
            assert_eq!(text.parse::<Origin>(), Origin::parse(text), "{text}");
            let with_path: Uri = format!("{}/v1/me?x=1", text.trim_end_matches('/'))
                .parse()
                .unwrap();
            assert_eq!(
                Origin::from_uri(&with_path),
                Origin::parse(text).ok(),
                "{text}"
            );
        }
        for text in [
            "https://a.example/path",
            "ftp://a.example",
            "a.example",
            "",
            "https://user@a.example",
            "https://a.example@evil.example",
        ] {
            assert_eq!(text.parse::<Origin>(), Err(InvalidOrigin(())), "{text}");
        }
        assert_eq!(Origin::from_uri(&"/relative".parse().unwrap()), None);
        assert_eq!(
            Origin::from_uri(&"ftp://a.example/x".parse().unwrap()),
            None
        );
    }

    #[test]
    fn replay_policies() {
        assert!(ReplayEmpty.replay(&Empty::<Bytes>::new()).is_some());
        assert!(ReplayEmpty.replay(&Full::<Bytes>::default()).is_some());
        assert!(ReplayEmpty.replay(&Full::new(Bytes::from("x"))).is_none());
        assert_eq!(
            ReplayClone.replay(&Full::new(Bytes::from("x"))).map(|_| ()),
            Some(())
        );
    }
}
