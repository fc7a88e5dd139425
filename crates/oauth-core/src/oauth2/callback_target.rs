//! Whether a callback arrived at the flow's redirect URI.
//!
//! A client that talks to several authorization servers tells their responses apart by giving
//! each its own redirect URI (RFC 9700 §4.4.2, mix-up defence). That only works if the client
//! checks where a response arrived: a code that reaches `/cb-b` belongs to the flow sent with
//! `/cb-b`, not to the one sent with `/cb-a`, whatever its `state` says.

use serde_json::{Map, Value};

use super::endpoint::RedirectUri;

/// Scheme, authority and path of a URI reference, normalised for comparison.
#[derive(Debug, PartialEq, Eq)]
struct Target<'a> {
    /// Lower-cased; `None` for an origin-form callback (`/path?query`, what a server receives).
    scheme: Option<String>,
    /// Lower-cased, without the scheme's default port; `None` when the URI has no authority
    /// (`com.example.app:/cb`) or is origin-form.
    authority: Option<String>,
    /// As written; `/` for an empty path after an authority.
    path: &'a str,
}

/// Splits `uri` (without its query and fragment) into its parts; `None` if it is neither an
/// absolute URI nor an absolute path.
fn target(uri: &str) -> Option<Target<'_>> {
    if uri.starts_with('/') && !uri.starts_with("//") {
        return Some(Target {
            scheme: None,
            authority: None,
            path: uri,
        });
    }
    let (scheme, rest) = uri.split_once(':')?;
    let scheme_ok = scheme.starts_with(|c: char| c.is_ascii_alphabetic())
        && scheme
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b));
    if !scheme_ok {
        return None;
    }
    let scheme = scheme.to_ascii_lowercase();
    let Some(rest) = rest.strip_prefix("//") else {
        return Some(Target {
            scheme: Some(scheme),
            authority: None,
            path: rest,
        });
    };
    let (authority, path) = match rest.find('/') {
        Some(i) => rest.split_at(i),
        None => (rest, "/"),
    };
    let authority = authority.to_ascii_lowercase();
    let default_port = match scheme.as_str() {
        "https" => Some(":443"),
        "http" => Some(":80"),
        _ => None,
    };
    let authority = match default_port.and_then(|port| authority.strip_suffix(port)) {
        Some(host) => host.to_owned(),
        None => authority.strip_suffix(':').unwrap_or(&authority).to_owned(),
    };
    Some(Target {
        scheme: Some(scheme),
        authority: Some(authority),
        path,
    })
}

/// Whether a callback whose URL up to the query is `callback`, and whose decoded query
/// parameters are `params`, arrived at `redirect`: the same scheme, authority (up to case and a
/// default port) and path, and every parameter of the redirect URI's own query with its value
/// (RFC 6749 §3.1.2 keeps that query in the redirection), but for one with an empty value,
/// which may be missing. An origin-form callback (`/cb?...`, as a server receives it) is
/// compared by path only.
pub(crate) fn arrived_at(
    redirect: &RedirectUri,
    callback: &str,
    params: &Map<String, Value>,
) -> bool {
    let (redirect_target, redirect_query) = match redirect.as_str().split_once('?') {
        Some((target, query)) => (target, query),
        None => (redirect.as_str(), ""),
    };
    let (Some(expected), Some(got)) = (target(redirect_target), target(callback)) else {
        return false;
    };
    let same_place = if got.scheme.is_none() {
        expected.path == got.path
    } else {
        expected == got
    };
    same_place
        && redirect_query
            .split('&')
            .filter(|s| !s.is_empty())
            .all(|pair| {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                let decode = |s| crate::encode::form_decode_component(s).ok();
                match (decode(name), decode(value)) {
                    (Some(_), Some(value)) if value.is_empty() => true,
                    (Some(name), Some(value)) => {
                        params.get(name.as_ref()).and_then(Value::as_str) == Some(&*value)
                    }
                    _ => false,
                }
            })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn arrives(redirect: &str, callback: &str, query: &[(&str, &str)]) -> bool {
        let redirect = RedirectUri::try_from(redirect.to_owned()).unwrap();
        let params = query
            .iter()
            .map(|(n, v)| ((*n).to_owned(), Value::String((*v).to_owned())))
            .collect();
        arrived_at(&redirect, callback, &params)
    }

    #[test]
    fn the_same_place_written_differently_matches() {
        let r = "https://client.example.com/cb";
        for callback in [
            "https://client.example.com/cb",
            "HTTPS://Client.Example.COM/cb",
            "https://client.example.com:443/cb",
            "/cb",
        ] {
            assert!(arrives(r, callback, &[]), "{callback}");
        }
        assert!(arrives(
            "https://client.example.com",
            "https://client.example.com/",
            &[]
        ));
        assert!(arrives("https://client.example.com", "/", &[]));
        assert!(arrives(
            "http://127.0.0.1:8080/cb",
            "http://127.0.0.1:8080/cb",
            &[]
        ));
        assert!(arrives("http://[::1]:80/cb", "http://[::1]/cb", &[]));
        assert!(arrives(
            "com.example.app:/oauth",
            "com.example.app:/oauth",
            &[]
        ));
        assert!(arrives(
            "com.example.app:/oauth",
            "COM.example.APP:/oauth",
            &[]
        ));
    }

    #[test]
    fn another_place_does_not_match() {
        let r = "https://client.example.com/cb-a";
        for callback in [
            "https://client.example.com/cb-b",
            "https://client.example.com/CB-A",
            "https://client.example.com/cb-a/",
            "https://evil.example/cb-a",
            "http://client.example.com/cb-a",
            "https://client.example.com:8443/cb-a",
            "https://user@client.example.com/cb-a",
            "/cb-b",
            "//client.example.com/cb-a",
            "cb-a",
            "",
            "1x:/cb-a",
        ] {
            assert!(!arrives(r, callback, &[]), "{callback}");
        }
        assert!(!arrives(
            "http://127.0.0.1:8080/cb",
            "http://localhost:8080/cb",
            &[]
        ));
        assert!(!arrives(
            "http://127.0.0.1:8080/cb",
            "http://127.0.0.1:8081/cb",
            &[]
        ));
        assert!(!arrives(
            "com.example.app:/oauth",
            "com.other.app:/oauth",
            &[]
        ));
    }

    #[test]
    fn the_redirect_uris_own_query_must_come_back() {
        let r = "https://client.example.com/cb?idp=a&x=";
        assert!(arrives(r, "/cb", &[("idp", "a"), ("code", "c")]));
        assert!(!arrives(r, "/cb", &[("idp", "b"), ("code", "c")]));
        assert!(!arrives(r, "/cb", &[("code", "c")]));
        let encoded = "https://client.example.com/cb?idp=a%20b";
        assert!(arrives(encoded, "/cb", &[("idp", "a b")]));
    }
}
