//! A browser as far as a provider's front channel needs one: requests one at a time, redirects
//! followed by the test, and a cookie jar, so that the provider's session cookie set at login
//! goes with later requests (a silent `prompt=none` authorization, a logout).
//!
//! The jar keeps what RFC 6265 asks of a client for one loopback host: cookies by name and path
//! (§5.3; the default path from the request's, §5.1.4), sent on requests whose path matches
//! (§5.1.4), replaced by a newer one of the same name and path, and removed when set again with
//! an empty value, `Max-Age` of zero or less, or an `Expires` in 1970 (how oidc-provider and
//! koa clear a cookie). `Domain`, `Secure` and `SameSite` are not needed on 127.0.0.1 over HTTP
//! and are ignored; so is the port, as RFC 6265 §8.5 says.

use http::{Method, Uri};

use super::code_flow::resolve;
use super::{Response, form, send};

/// Most redirects [`Browser::follow_to`] follows.
const MAX_HOPS: usize = 10;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Cookie {
    host: String,
    path: String,
    name: String,
    value: String,
}

/// A cookie jar and the requests that use it. Cookie values are never printed: a jar's `Debug`
/// shows only the cookies' names and paths.
#[derive(Default)]
pub struct Browser {
    cookies: Vec<Cookie>,
}

impl std::fmt::Debug for Browser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list()
            .entries(
                self.cookies
                    .iter()
                    .map(|c| format!("{}:{} {}", c.host, c.path, c.name)),
            )
            .finish()
    }
}

impl Browser {
    pub fn new() -> Self {
        Self::default()
    }

    /// Whether the jar holds a cookie called `name` (any path).
    pub fn has_cookie(&self, name: &str) -> bool {
        self.cookies.iter().any(|c| c.name == name)
    }

    /// `GET url` with the jar's cookies; keeps the cookies the response sets.
    pub async fn get(&mut self, url: &str) -> Response {
        self.send(Method::GET, url, &[], String::new()).await
    }

    /// POSTs `pairs` as an HTML form would (`application/x-www-form-urlencoded`), with the
    /// jar's cookies; keeps the cookies the response sets.
    pub async fn post_form(&mut self, url: &str, pairs: &[(&str, &str)]) -> Response {
        let content_type = ("content-type", "application/x-www-form-urlencoded");
        self.send(Method::POST, url, &[content_type], form(pairs))
            .await
    }

    /// Follows redirects from `url` (GET, with cookies) until one points at `target` (the
    /// URL before any query); returns that redirect's whole URL, unvisited.
    pub async fn follow_to(&mut self, url: &str, target: &str) -> String {
        let mut url = url.to_owned();
        for _ in 0..MAX_HOPS {
            let response = self.get(&url).await;
            assert!(
                response.status.is_redirection(),
                "{} answered {}: {}",
                path_of(&url),
                response.status,
                response.body
            );
            let location = resolve(&url, response.header("location").expect("Location"));
            if location.split('?').next() == Some(target) {
                return location;
            }
            url = location;
        }
        panic!("no redirect to {target} within {MAX_HOPS} hops");
    }

    async fn send(
        &mut self,
        method: Method,
        url: &str,
        headers: &[(&str, &str)],
        body: String,
    ) -> Response {
        let uri: Uri = url.parse().expect("URL");
        let host = uri.host().expect("host").to_owned();
        let path = uri.path().to_owned();
        let cookie = self.cookie_header(&host, &path);
        let mut all = headers.to_vec();
        if !cookie.is_empty() {
            all.push(("cookie", &cookie));
        }
        let response = send(method, url, &all, body).await;
        for set_cookie in response.headers.get_all("set-cookie") {
            if let Ok(set_cookie) = set_cookie.to_str() {
                self.store(&host, &path, set_cookie);
            }
        }
        response
    }

    /// The `Cookie` header for a request to `host` and `path` (RFC 6265 §5.4): longer paths
    /// first.
    pub fn cookie_header(&self, host: &str, path: &str) -> String {
        let mut matching: Vec<&Cookie> = self
            .cookies
            .iter()
            .filter(|c| c.host == host && path_matches(path, &c.path))
            .collect();
        matching.sort_by_key(|c| std::cmp::Reverse(c.path.len()));
        matching
            .iter()
            .map(|c| format!("{}={}", c.name, c.value))
            .collect::<Vec<_>>()
            .join("; ")
    }

    /// Stores one `Set-Cookie` (RFC 6265 §5.2, §5.3) from a response to `host` and
    /// `request_path`.
    pub fn store(&mut self, host: &str, request_path: &str, set_cookie: &str) {
        let mut parts = set_cookie.split(';');
        let Some((name, value)) = parts.next().and_then(|pair| pair.split_once('=')) else {
            return;
        };
        let (name, value) = (name.trim(), value.trim());
        if name.is_empty() {
            return;
        }
        let mut path = default_path(request_path);
        let mut expired = value.is_empty();
        for attribute in parts {
            let (key, val) = attribute.split_once('=').unwrap_or((attribute, ""));
            let (key, val) = (key.trim().to_ascii_lowercase(), val.trim());
            match key.as_str() {
                "path" if val.starts_with('/') => path = val.to_owned(),
                "max-age" => expired |= val.parse::<i64>().is_ok_and(|s| s <= 0),
                "expires" => expired |= val.contains(" 1970 "),
                _ => {}
            }
        }
        self.cookies
            .retain(|c| !(c.host == host && c.path == path && c.name == name));
        if !expired {
            self.cookies.push(Cookie {
                host: host.to_owned(),
                path,
                name: name.to_owned(),
                value: value.to_owned(),
            });
        }
    }
}

/// RFC 6265 §5.1.4: the directory of the request's path.
fn default_path(request_path: &str) -> String {
    match request_path.rfind('/') {
        Some(0) | None => "/".to_owned(),
        Some(i) => request_path[..i].to_owned(),
    }
}

/// RFC 6265 §5.1.4 path-match.
fn path_matches(request_path: &str, cookie_path: &str) -> bool {
    request_path == cookie_path
        || (request_path.starts_with(cookie_path)
            && (cookie_path.ends_with('/') || request_path[cookie_path.len()..].starts_with('/')))
}

/// A URL's path, for messages (a query may hold a code or an ID token).
fn path_of(url: &str) -> String {
    url.parse::<Uri>()
        .map(|u| u.path().to_owned())
        .unwrap_or_default()
}
