//! Endpoint URLs, redirect URIs and issuer identifiers, with the transport rule.
//!
//! Tokens, codes and secrets travel only over TLS (RFC 6749 §10.3, §10.4, §10.9; RFC 6750 §5.3).
//! An [`Endpoint`] therefore requires `https` unless the caller opts in, per endpoint, to plain
//! HTTP for a loopback host with [`Transport::AllowLoopbackHttp`]. No environment variable can
//! change this (contrast oauthlib's process-wide `OAUTHLIB_INSECURE_TRANSPORT`).
//!
//! ```
//! use oauth_core::oauth2::{Endpoint, EndpointError, Transport};
//!
//! let token = Endpoint::new("https://as.example.com/token?tenant=a").unwrap();
//! let url = token.with_query([("x", "1 2")]).unwrap();
//! assert_eq!(url.to_string(), "https://as.example.com/token?tenant=a&x=1+2");
//!
//! assert_eq!(Endpoint::new("http://as.example.com/token"), Err(EndpointError::InsecureTransport));
//! assert!(Endpoint::with_transport("http://127.0.0.1:8080/token", Transport::AllowLoopbackHttp).is_ok());
//! ```

use std::fmt;
use std::net::IpAddr;

use http::Uri;

/// Which transport an endpoint may use.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Transport {
    /// `https` only (the default).
    #[default]
    HttpsOnly,
    /// `https`, or plain `http` when the host is a loopback address (`127.0.0.0/8`, `::1`) or
    /// `localhost`. Meant for tests and local development servers.
    AllowLoopbackHttp,
}

/// A URL that cannot be used as an OAuth endpoint, redirect URI or issuer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum EndpointError {
    /// The string is not a valid URI.
    #[error("not a valid URI")]
    Invalid,
    /// The URI is not absolute (it needs a scheme and a host).
    #[error("the URI must be absolute, with a scheme and a host")]
    NotAbsolute,
    /// The URI has a `#fragment` (RFC 6749 §3.1, §3.1.2, §3.2).
    #[error("the URI must not contain a fragment")]
    Fragment,
    /// The URI has user information (`user:password@`), which would put credentials in a URL.
    #[error("the URI must not contain user information")]
    UserInfo,
    /// The scheme is neither `https` nor `http`.
    #[error(
        "unsupported URI scheme: https or http only (a native app's private-use scheme redirect, such as com.example.app:/cb, is made with RedirectUri::private_use_scheme)"
    )]
    UnsupportedScheme,
    /// Plain `http` to a host that is not allowed (RFC 6749 §10.9, RFC 8252 §7.3).
    #[error(
        "plain http is refused here: use https, or a loopback host (127.0.0.0/8, [::1] or localhost) made with `with_transport(url, Transport::AllowLoopbackHttp)`"
    )]
    InsecureTransport,
    /// The URI has a query, which an issuer identifier must not have (RFC 9207 §2).
    #[error("the URI must not contain a query")]
    Query,
    /// A parameter added to the endpoint URL is in the endpoint's own query already: the URL
    /// would carry it twice (RFC 6749 §3.1), and a server that reads the first would not see
    /// the one sent.
    #[error("a parameter added to the endpoint URL is already in the endpoint's own query")]
    DuplicateQueryParameter,
    /// The endpoint URL's query has a `client_secret` parameter: a client secret is never sent
    /// in a URI (RFC 6749 §2.3.1), and an endpoint's URL is shown in logs, errors and `Debug`.
    /// Give the secret to [`Client`](super::Client) instead.
    #[error(
        "the endpoint URL's query holds a client_secret: client secrets never go in a URI (give it to the Client)"
    )]
    SecretInQuery,
}

/// `url`'s scheme and the rest, when it is an absolute URI of any scheme (RFC 3986 §4.3: a
/// scheme, `:`, then something) with no fragment and no space, control or non-ASCII byte.
pub(crate) fn split_absolute(url: &str) -> Result<(&str, &str), EndpointError> {
    if url.contains('#') {
        return Err(EndpointError::Fragment);
    }
    if url
        .bytes()
        .any(|b| b.is_ascii_control() || b == b' ' || !b.is_ascii())
    {
        return Err(EndpointError::Invalid);
    }
    let (scheme, rest) = url.split_once(':').ok_or(EndpointError::NotAbsolute)?;
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
    if !scheme_ok {
        return Err(EndpointError::UnsupportedScheme);
    }
    if rest.is_empty() {
        return Err(EndpointError::NotAbsolute);
    }
    Ok((scheme, rest))
}

/// An absolute `http(s)` endpoint URL (authorization, token, device authorization, revocation…)
/// that passed the transport rule (RFC 6749 §3.1, §3.2, §10.9).
///
/// An existing query component is kept when parameters are appended (RFC 6749 §3.1).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Endpoint {
    uri: Uri,
    /// `uri` as text, for [`Endpoint::as_str`].
    text: Box<str>,
}

impl Endpoint {
    /// Parses an `https` endpoint URL.
    ///
    /// # Errors
    ///
    /// Fails as [`Endpoint::with_transport`] does under [`Transport::HttpsOnly`] (so any plain
    /// `http` URL is [`EndpointError::InsecureTransport`]).
    pub fn new(url: &str) -> Result<Self, EndpointError> {
        Self::with_transport(url, Transport::HttpsOnly)
    }

    /// Parses an endpoint URL under an explicit transport rule.
    ///
    /// A query with a `client_secret` parameter is refused ([`EndpointError::SecretInQuery`]).
    /// It also fails with [`EndpointError::Fragment`] for a `#fragment`, [`EndpointError::Invalid`] for a string
    /// that is not a URI (or has a port out of range), [`EndpointError::NotAbsolute`] without a
    /// scheme or host, [`EndpointError::UserInfo`] with `user@`, [`EndpointError::UnsupportedScheme`]
    /// for a scheme other than `http(s)`, and [`EndpointError::InsecureTransport`] for plain `http`
    /// (allowed only to a loopback host under [`Transport::AllowLoopbackHttp`]).
    ///
    /// # Errors
    ///
    /// Fails with [`EndpointError::SecretInQuery`], [`EndpointError::Fragment`],
    /// [`EndpointError::Invalid`], [`EndpointError::NotAbsolute`], [`EndpointError::UserInfo`],
    /// [`EndpointError::UnsupportedScheme`] or [`EndpointError::InsecureTransport`], in the cases
    /// above.
    pub fn with_transport(url: &str, transport: Transport) -> Result<Self, EndpointError> {
        let uri = parse_absolute(url)?;
        let insecure_ok = transport == Transport::AllowLoopbackHttp && is_loopback_host(&uri, true);
        check_scheme(&uri, insecure_ok)?;
        if uri.query().is_some_and(|query| {
            form_urlencoded::parse(query.as_bytes()).any(|(name, _)| name == "client_secret")
        }) {
            return Err(EndpointError::SecretInQuery);
        }
        let text = uri.to_string().into_boxed_str();
        Ok(Self { uri, text })
    }

    /// The endpoint URL.
    pub fn uri(&self) -> &Uri {
        &self.uri
    }

    /// The endpoint URL as text (as [`uri`](Self::uri) prints it: `https://as.example` is
    /// `https://as.example/`).
    ///
    /// ```
    /// use oauth_core::oauth2::Endpoint;
    ///
    /// let endpoint = Endpoint::new("https://as.example.com/token?tenant=a")?;
    /// assert_eq!(endpoint.as_str(), "https://as.example.com/token?tenant=a");
    /// assert_eq!(Endpoint::new("https://as.example.com")?.as_str(), "https://as.example.com/");
    /// # Ok::<(), oauth_core::oauth2::EndpointError>(())
    /// ```
    pub fn as_str(&self) -> &str {
        &self.text
    }

    /// The endpoint URL with `params` form-urlencoded and appended to any existing query.
    ///
    /// A parameter whose name the endpoint's query has already is refused
    /// ([`EndpointError::DuplicateQueryParameter`]).
    ///
    /// # Errors
    ///
    /// Fails with [`EndpointError::DuplicateQueryParameter`] for a name the endpoint's query
    /// already has, and [`EndpointError::Invalid`] if the result is not a URI.
    pub fn with_query<'a>(
        &self,
        params: impl IntoIterator<Item = (&'a str, &'a str)>,
    ) -> Result<Uri, EndpointError> {
        let existing: Vec<_> = self
            .uri
            .query()
            .map(|query| {
                form_urlencoded::parse(query.as_bytes())
                    .map(|(n, _)| n)
                    .collect()
            })
            .unwrap_or_default();
        let mut serializer = form_urlencoded::Serializer::new(String::new());
        for (name, value) in params {
            if existing.iter().any(|n| n == name) {
                return Err(EndpointError::DuplicateQueryParameter);
            }
            serializer.append_pair(name, value);
        }
        let added = serializer.finish();
        let mut url = self.uri.to_string();
        if !added.is_empty() {
            match self.uri.query() {
                None => url.push('?'),
                Some(q) if q.is_empty() || q.ends_with('&') => {}
                Some(_) => url.push('&'),
            }
            url.push_str(&added);
        }
        url.parse().map_err(|_| EndpointError::Invalid)
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Endpoint").field(&self.text).finish()
    }
}

impl fmt::Display for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.text)
    }
}

/// The same as [`Endpoint::new`]: `https` only (plain `http` is
/// [`EndpointError::InsecureTransport`]; use [`Endpoint::with_transport`] for a loopback test
/// server).
///
/// ```
/// use oauth_core::oauth2::{Endpoint, EndpointError};
///
/// let token: Endpoint = "https://as.example.com/token".parse()?;
/// assert_eq!(token, Endpoint::new("https://as.example.com/token")?);
/// assert_eq!(
///     "http://127.0.0.1:8080/token".parse::<Endpoint>(),
///     Err(EndpointError::InsecureTransport)
/// );
/// # Ok::<(), EndpointError>(())
/// ```
impl std::str::FromStr for Endpoint {
    type Err = EndpointError;

    fn from_str(url: &str) -> Result<Self, Self::Err> {
        Self::new(url)
    }
}

/// A redirection endpoint (RFC 6749 §3.1.2), kept byte for byte as configured so that the token
/// request repeats the identical value (RFC 6749 §4.1.3).
///
/// Rules: absolute, no fragment, no user information; `https`, or `http` only when the host is a
/// loopback IP literal (`127.0.0.0/8`, `[::1]`; RFC 8252 §7.3). [`Transport::AllowLoopbackHttp`]
/// also admits `http://localhost` (RFC 8252 §8.3 calls that NOT RECOMMENDED). Native apps may use
/// a private-use scheme with [`RedirectUri::private_use_scheme`] (RFC 8252 §7.1).
#[derive(Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct RedirectUri(String);

impl RedirectUri {
    /// Validates an `https` or loopback-IP `http` redirect URI.
    ///
    /// # Errors
    ///
    /// Fails as [`RedirectUri::with_transport`] does under [`Transport::HttpsOnly`].
    pub fn new(url: &str) -> Result<Self, EndpointError> {
        Self::with_transport(url, Transport::HttpsOnly)
    }

    /// Validates a redirect URI; [`Transport::AllowLoopbackHttp`] also admits `http://localhost`.
    ///
    /// # Errors
    ///
    /// Fails with [`EndpointError::Fragment`] for a `#fragment`, [`EndpointError::Invalid`] for a string
    /// that is not a URI (or has a port out of range), [`EndpointError::NotAbsolute`] without a
    /// scheme or host, [`EndpointError::UserInfo`] with `user@`, [`EndpointError::UnsupportedScheme`]
    /// for a scheme other than `http(s)`, and [`EndpointError::InsecureTransport`] for plain `http`
    /// to a host other than a loopback IP literal (or `localhost` under
    /// [`Transport::AllowLoopbackHttp`]).
    pub fn with_transport(url: &str, transport: Transport) -> Result<Self, EndpointError> {
        let uri = parse_absolute(url).map_err(|error| match split_absolute(url) {
            // `myapp:/cb` is no http URI, but it is a URI: say which kind is wanted.
            Ok((scheme, _))
                if !scheme.eq_ignore_ascii_case("http")
                    && !scheme.eq_ignore_ascii_case("https") =>
            {
                EndpointError::UnsupportedScheme
            }
            _ => error,
        })?;
        let allow_name = transport == Transport::AllowLoopbackHttp;
        check_scheme(&uri, is_loopback_host(&uri, allow_name))?;
        Ok(Self(url.to_owned()))
    }

    /// Validates a private-use URI scheme redirect such as `com.example.app:/oauth2redirect`
    /// (RFC 8252 §7.1: the scheme must contain a period, as a reversed domain name does).
    ///
    /// # Errors
    ///
    /// Fails with [`EndpointError::UnsupportedScheme`] for a scheme without a period or with a
    /// character RFC 3986 does not allow in a scheme, [`EndpointError::Fragment`] for a
    /// `#fragment`, [`EndpointError::Invalid`] for a space, control or non-ASCII character, and
    /// [`EndpointError::NotAbsolute`] when there is no scheme or nothing after it.
    pub fn private_use_scheme(url: &str) -> Result<Self, EndpointError> {
        let (scheme, _) = split_absolute(url)?;
        if !scheme.contains('.') {
            return Err(EndpointError::UnsupportedScheme);
        }
        Ok(Self(url.to_owned()))
    }

    /// The redirect URI exactly as configured.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

/// The most permissive of the constructors (`http://localhost` and private-use schemes
/// included), since this is how a stored [`RedirectUri`] is read back (`Deserialize`), whichever
/// constructor made it. Validate a redirect URI from configuration with [`RedirectUri::new`].
impl TryFrom<String> for RedirectUri {
    type Error = EndpointError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        match Self::with_transport(&value, Transport::AllowLoopbackHttp) {
            Ok(ok) => Ok(ok),
            Err(EndpointError::UnsupportedScheme | EndpointError::Invalid) => {
                Self::private_use_scheme(&value)
            }
            Err(e) => Err(e),
        }
    }
}

impl From<RedirectUri> for String {
    fn from(value: RedirectUri) -> Self {
        value.0.clone()
    }
}

impl fmt::Debug for RedirectUri {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("RedirectUri").field(&self.0).finish()
    }
}

/// An authorization server's issuer identifier (RFC 8414 §2, RFC 9207 §2): an `https` URL with
/// no query and no fragment. Compared by exact string equality, with no normalisation.
#[derive(Clone, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Issuer(String);

impl Issuer {
    /// Validates an issuer identifier.
    ///
    /// # Errors
    ///
    /// Fails as [`Issuer::with_transport`] does under [`Transport::HttpsOnly`].
    pub fn new(issuer: &str) -> Result<Self, EndpointError> {
        Self::with_transport(issuer, Transport::HttpsOnly)
    }

    /// Validates an issuer identifier; [`Transport::AllowLoopbackHttp`] admits a loopback
    /// `http` issuer for local test servers.
    ///
    /// # Errors
    ///
    /// Fails with [`EndpointError::Query`] for an issuer with a query, and with [`EndpointError::Fragment`] for a `#fragment`, [`EndpointError::Invalid`] for a string
    /// that is not a URI (or has a port out of range), [`EndpointError::NotAbsolute`] without a
    /// scheme or host, [`EndpointError::UserInfo`] with `user@`, [`EndpointError::UnsupportedScheme`]
    /// for a scheme other than `http(s)`, and [`EndpointError::InsecureTransport`] for plain `http`
    /// (allowed only to a loopback host under [`Transport::AllowLoopbackHttp`]).
    pub fn with_transport(issuer: &str, transport: Transport) -> Result<Self, EndpointError> {
        let uri = parse_absolute(issuer)?;
        let insecure_ok = transport == Transport::AllowLoopbackHttp && is_loopback_host(&uri, true);
        check_scheme(&uri, insecure_ok)?;
        if issuer.contains('?') {
            return Err(EndpointError::Query);
        }
        Ok(Self(issuer.to_owned()))
    }

    /// The issuer identifier exactly as configured.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Issuer {
    type Error = EndpointError;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Self::with_transport(&value, Transport::AllowLoopbackHttp)
    }
}

impl From<Issuer> for String {
    fn from(value: Issuer) -> Self {
        value.0.clone()
    }
}

impl fmt::Debug for Issuer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Issuer").field(&self.0).finish()
    }
}

/// Parses an absolute URI, refusing fragments (which `http::Uri` would silently drop) and
/// user information.
fn parse_absolute(url: &str) -> Result<Uri, EndpointError> {
    if url.contains('#') {
        return Err(EndpointError::Fragment);
    }
    let uri: Uri = url.parse().map_err(|_| EndpointError::Invalid)?;
    let authority = uri.authority().ok_or(EndpointError::NotAbsolute)?;
    if uri.scheme().is_none() || authority.host().is_empty() {
        return Err(EndpointError::NotAbsolute);
    }
    if authority.as_str().contains('@') {
        return Err(EndpointError::UserInfo);
    }
    // `http` reads a port it cannot parse (`:99999`) as none, and a client would then connect
    // to the scheme's default port: refuse it. An empty port (`host:`) is the default one.
    let after_host = &authority.as_str()[authority.host().len()..];
    if let Some(port) = after_host.strip_prefix(':')
        && !port.is_empty()
        && authority.port_u16().is_none()
    {
        return Err(EndpointError::Invalid);
    }
    Ok(uri)
}

fn check_scheme(uri: &Uri, insecure_ok: bool) -> Result<(), EndpointError> {
    match uri.scheme_str() {
        Some("https") => Ok(()),
        Some("http") if insecure_ok => Ok(()),
        Some("http") => Err(EndpointError::InsecureTransport),
        _ => Err(EndpointError::UnsupportedScheme),
    }
}

impl Transport {
    /// Whether a request to `uri` may go out under this rule: `https`, or plain `http` to a
    /// loopback host (`127.0.0.0/8`, `::1`, `localhost`) with
    /// [`AllowLoopbackHttp`](Self::AllowLoopbackHttp). The rule every endpoint here follows,
    /// for endpoints of other kinds too (OAuth 1's temporary and token credentials).
    pub fn allows(self, uri: &Uri) -> bool {
        let insecure_ok = self == Self::AllowLoopbackHttp && is_loopback_host(uri, true);
        check_scheme(uri, insecure_ok).is_ok()
    }
}

/// `127.0.0.0/8`, `::1`, and (when `allow_name`) `localhost`.
fn is_loopback_host(uri: &Uri, allow_name: bool) -> bool {
    let Some(host) = uri.host() else {
        return false;
    };
    let literal = host.trim_start_matches('[').trim_end_matches(']');
    match literal.parse::<IpAddr>() {
        Ok(ip) => ip.is_loopback(),
        Err(_) => allow_name && host.eq_ignore_ascii_case("localhost"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transport_rules_for_any_uri() {
        let uri = |s: &str| s.parse::<Uri>().unwrap();
        for allowed in ["https://a.example/x", "HTTPS://a.example/x"] {
            assert!(Transport::HttpsOnly.allows(&uri(allowed)), "{allowed}");
        }
        for loopback in [
            "http://127.0.0.1:1/r",
            "http://[::1]:1/a",
            "http://localhost:1/r",
        ] {
            assert!(!Transport::HttpsOnly.allows(&uri(loopback)), "{loopback}");
            assert!(
                Transport::AllowLoopbackHttp.allows(&uri(loopback)),
                "{loopback}"
            );
        }
        for refused in ["http://photos.example.net/r", "ftp://127.0.0.1/a"] {
            assert!(
                !Transport::AllowLoopbackHttp.allows(&uri(refused)),
                "{refused}"
            );
        }
    }

    #[test]
    fn from_str_is_new() {
        for url in [
            "https://as.example.com/token",
            "https://as.example.com/token?tenant=a",
            "http://as.example.com/token",
            "http://127.0.0.1:8080/token",
            "https://as.example.com/token#f",
            "https://as.example.com/token?client_secret=s",
            "not a url",
        ] {
            assert_eq!(url.parse::<Endpoint>(), Endpoint::new(url), "{url}");
        }
    }

    #[test]
    fn https_required_by_default() {
        assert!(Endpoint::new("https://as.example.com/token").is_ok());
        for bad in [
            "http://as.example.com/token",
            "http://127.0.0.1/token",
            "http://localhost/token",
        ] {
            assert_eq!(
                Endpoint::new(bad),
                Err(EndpointError::InsecureTransport),
                "{bad}"
            );
        }
        assert_eq!(
            Endpoint::new("ftp://as.example.com/token"),
            Err(EndpointError::UnsupportedScheme)
        );
    }

    /// R6749-02 (RFC 6749 §2.3.1): a client secret never appears in a URI, so an endpoint URL
    /// that carries one in its query is refused (it would be sent, and printed with the URL),
    /// however its name is encoded; other parameters, and names that only look alike, are kept.
    #[test]
    fn a_client_secret_in_the_endpoint_query_is_refused() {
        for bad in [
            "https://as.example.com/token?client_secret=s3cr3t",
            "https://as.example.com/token?tenant=t1&client_secret=",
            "https://as.example.com/authorize?client%5Fsecret=s3cr3t",
        ] {
            assert_eq!(
                Endpoint::new(bad),
                Err(EndpointError::SecretInQuery),
                "{bad}"
            );
            assert_eq!(
                Endpoint::with_transport(bad, Transport::AllowLoopbackHttp),
                Err(EndpointError::SecretInQuery),
                "{bad}"
            );
        }
        assert_eq!(
            Endpoint::with_transport(
                "http://127.0.0.1:8080/token?client_secret=s",
                Transport::AllowLoopbackHttp
            ),
            Err(EndpointError::SecretInQuery)
        );
        for good in [
            "https://as.example.com/token?tenant=t1",
            "https://as.example.com/token?client_secret_hint=x&my_client_secret=y",
            "https://as.example.com/token?client_id=c",
        ] {
            assert!(Endpoint::new(good).is_ok(), "{good}");
        }
        let message = EndpointError::SecretInQuery.to_string();
        assert!(message.contains("client_secret"), "{message}");
    }

    #[test]
    fn loopback_opt_in_is_loopback_only() {
        let t = Transport::AllowLoopbackHttp;
        for ok in [
            "http://127.0.0.1:8080/token",
            "http://127.9.9.9/token",
            "http://[::1]:9000/token",
            "http://localhost:3000/token",
            "http://LOCALHOST/token",
        ] {
            assert!(Endpoint::with_transport(ok, t).is_ok(), "{ok}");
        }
        for bad in [
            "http://128.0.0.1/token",
            "http://localhost.evil.example/token",
            "http://10.0.0.1/token",
        ] {
            assert_eq!(
                Endpoint::with_transport(bad, t),
                Err(EndpointError::InsecureTransport),
                "{bad}"
            );
        }
    }

    /// The refusals a newcomer meets first name the setting that fixes them.
    #[test]
    fn refusals_name_the_fix() {
        for refused in [
            Endpoint::new("http://127.0.0.1:8080/token"),
            Endpoint::with_transport("http://as.example.com/token", Transport::AllowLoopbackHttp),
        ] {
            let message = refused.unwrap_err().to_string();
            assert!(
                message.contains("Transport::AllowLoopbackHttp"),
                "{message}"
            );
        }
        let localhost = RedirectUri::new("http://localhost:8765/cb").unwrap_err();
        assert!(
            localhost
                .to_string()
                .contains("Transport::AllowLoopbackHttp")
        );
        assert!(
            RedirectUri::with_transport("http://localhost:8765/cb", Transport::AllowLoopbackHttp)
                .is_ok()
        );
        for native in ["myapp:/cb", "com.example.app:/oauth2redirect"] {
            let error = RedirectUri::new(native).unwrap_err();
            assert_eq!(error, EndpointError::UnsupportedScheme, "{native}");
            assert!(
                error
                    .to_string()
                    .contains("RedirectUri::private_use_scheme")
            );
        }
        assert!(RedirectUri::private_use_scheme("com.example.app:/oauth2redirect").is_ok());
    }

    #[test]
    fn fragment_userinfo_and_relative_rejected() {
        assert_eq!(
            Endpoint::new("https://as.example.com/authorize#x"),
            Err(EndpointError::Fragment)
        );
        assert_eq!(
            Endpoint::new("https://u:p@as.example.com/token"),
            Err(EndpointError::UserInfo)
        );
        assert_eq!(Endpoint::new("/token"), Err(EndpointError::NotAbsolute));
        // A port `http` cannot read would send the request to the default port.
        for url in [
            "https://as.example.com:99999/token",
            "https://as.example.com:65536/token",
            "https://[::1]:70000/token",
        ] {
            assert_eq!(Endpoint::new(url), Err(EndpointError::Invalid), "{url}");
        }
        assert_eq!(
            RedirectUri::new("https://client.example.com:99999/cb"),
            Err(EndpointError::Invalid)
        );
        for url in [
            "https://as.example.com:65535/token",
            "https://as.example.com:/token",
            "https://[::1]:8443/token",
            "https://[::1]/token",
        ] {
            assert!(Endpoint::new(url).is_ok(), "{url}");
        }
        assert_eq!(Endpoint::new("https://a b/"), Err(EndpointError::Invalid));
    }

    #[test]
    fn query_appending_keeps_existing_query() {
        let e = Endpoint::new("https://as.example.com/authorize").unwrap();
        assert_eq!(
            e.with_query([("a", "b&c")]).unwrap().to_string(),
            "https://as.example.com/authorize?a=b%26c"
        );
        let e = Endpoint::new("https://as.example.com/authorize?p=1").unwrap();
        assert_eq!(
            e.with_query([("a", "b")]).unwrap().to_string(),
            "https://as.example.com/authorize?p=1&a=b"
        );
        let e = Endpoint::new("https://as.example.com/authorize?").unwrap();
        assert_eq!(
            e.with_query([("a", "b")]).unwrap().to_string(),
            "https://as.example.com/authorize?a=b"
        );
        let e = Endpoint::new("https://as.example.com/authorize?p=1&a%20b=2").unwrap();
        for name in ["p", "a b"] {
            assert_eq!(
                e.with_query([("x", "1"), (name, "3")]),
                Err(EndpointError::DuplicateQueryParameter),
                "{name}"
            );
        }
    }

    #[test]
    fn redirect_uri_rules() {
        assert!(RedirectUri::new("https://client.example.com/cb").is_ok());
        assert!(RedirectUri::new("http://127.0.0.1:51004/cb").is_ok());
        assert!(RedirectUri::new("http://[::1]:51004/cb").is_ok());
        assert_eq!(
            RedirectUri::new("http://localhost:51004/cb"),
            Err(EndpointError::InsecureTransport)
        );
        assert!(
            RedirectUri::with_transport("http://localhost:51004/cb", Transport::AllowLoopbackHttp)
                .is_ok()
        );
        assert_eq!(
            RedirectUri::new("http://client.example.com/cb"),
            Err(EndpointError::InsecureTransport)
        );
        assert_eq!(
            RedirectUri::new("https://client.example.com/cb#frag"),
            Err(EndpointError::Fragment)
        );
        assert_eq!(RedirectUri::new("/cb"), Err(EndpointError::NotAbsolute));
        let exact = "https://client.example.com/cb?x=%2Fy";
        assert_eq!(RedirectUri::new(exact).unwrap().as_str(), exact);
        assert!(RedirectUri::private_use_scheme("com.example.app:/oauth2redirect").is_ok());
        assert_eq!(
            RedirectUri::private_use_scheme("myapp:/cb"),
            Err(EndpointError::UnsupportedScheme)
        );
        assert_eq!(
            RedirectUri::private_use_scheme("com.example.app:/cb#x"),
            Err(EndpointError::Fragment)
        );
    }

    #[test]
    fn issuer_rules() {
        assert!(Issuer::new("https://as.example.com").is_ok());
        assert_eq!(
            Issuer::new("https://as.example.com?x=1"),
            Err(EndpointError::Query)
        );
        assert_eq!(
            Issuer::new("http://as.example.com"),
            Err(EndpointError::InsecureTransport)
        );
        assert_eq!(
            Issuer::new("https://as.example.com#f"),
            Err(EndpointError::Fragment)
        );
    }

    /// RFC 3986 §3.1: a scheme is a letter, then letters, digits, `+`, `-` or `.`; a URI has
    /// no space and no byte outside ASCII (§2). A private-use scheme redirect is held to both.
    #[test]
    fn private_use_schemes_follow_rfc3986() {
        for bad_scheme in [
            "1com.example.app:/cb",
            ".com.example.app:/cb",
            "com.exa_mple.app:/cb",
        ] {
            assert_eq!(
                RedirectUri::private_use_scheme(bad_scheme),
                Err(EndpointError::UnsupportedScheme),
                "{bad_scheme}"
            );
        }
        assert!(RedirectUri::private_use_scheme("com.example-app+v2:/cb").is_ok());
        for bad_byte in [
            "com.example.app:/c b",
            "com.example.app:/caf\u{e9}",
            "com.example.app:/c\tb",
        ] {
            assert_eq!(
                RedirectUri::private_use_scheme(bad_byte),
                Err(EndpointError::Invalid),
                "{bad_byte:?}"
            );
        }
        assert_eq!(
            RedirectUri::private_use_scheme("com.example.app:"),
            Err(EndpointError::NotAbsolute)
        );
    }

    /// A loopback issuer over plain http needs the explicit opt-in, as an endpoint does.
    #[test]
    fn a_loopback_http_issuer_needs_the_opt_in() {
        for loopback in [
            "http://127.0.0.1:8080",
            "http://[::1]:8080",
            "http://localhost",
        ] {
            assert_eq!(
                Issuer::new(loopback),
                Err(EndpointError::InsecureTransport),
                "{loopback}"
            );
            assert_eq!(
                Issuer::with_transport(loopback, Transport::AllowLoopbackHttp)
                    .map(|i| i.as_str().to_owned()),
                Ok(loopback.to_owned())
            );
        }
        assert_eq!(
            Issuer::with_transport("http://as.example.com", Transport::AllowLoopbackHttp),
            Err(EndpointError::InsecureTransport)
        );
    }

    /// `Display` and `Debug` show the URL as configured; serde reads and writes an issuer and
    /// a redirect URI as that string, and reading validates it again.
    #[test]
    fn urls_display_as_configured_and_serialize_as_strings() {
        let issuer = Issuer::new("https://as.example.com/tenant").unwrap();
        assert_eq!(issuer.to_string(), "https://as.example.com/tenant");
        assert_eq!(
            format!("{issuer:?}"),
            r#"Issuer("https://as.example.com/tenant")"#
        );
        let endpoint = Endpoint::new("https://as.example.com/token?x=1").unwrap();
        assert_eq!(endpoint.to_string(), "https://as.example.com/token?x=1");
        assert_eq!(
            format!("{endpoint:?}"),
            r#"Endpoint("https://as.example.com/token?x=1")"#
        );
        let redirect = RedirectUri::new("https://client.example.com/cb").unwrap();
        assert_eq!(
            format!("{redirect:?}"),
            r#"RedirectUri("https://client.example.com/cb")"#
        );

        let json = serde_json::to_string(&issuer).unwrap();
        assert_eq!(json, r#""https://as.example.com/tenant""#);
        assert_eq!(serde_json::from_str::<Issuer>(&json).unwrap(), issuer);
        assert!(serde_json::from_str::<Issuer>(r#""http://as.example.com""#).is_err());
        let json = serde_json::to_string(&redirect).unwrap();
        assert_eq!(json, r#""https://client.example.com/cb""#);
        assert_eq!(
            serde_json::from_str::<RedirectUri>(&json).unwrap(),
            redirect
        );
        let native = RedirectUri::private_use_scheme("com.example.app:/cb").unwrap();
        assert_eq!(
            serde_json::from_str::<RedirectUri>(&serde_json::to_string(&native).unwrap()).unwrap(),
            native
        );
        assert!(serde_json::from_str::<RedirectUri>(r#""http://client.example.com/cb""#).is_err());
    }

    /// A URI with an authority but no scheme (`host:port`) is not absolute.
    #[test]
    fn an_authority_without_a_scheme_is_not_absolute() {
        assert_eq!(
            Endpoint::new("as.example.com:443"),
            Err(EndpointError::NotAbsolute)
        );
    }
}
