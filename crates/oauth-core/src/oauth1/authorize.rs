//! Resource owner authorization (RFC 5849 §2.2): the URL the resource owner is sent to, and the
//! callback the provider redirects back to.
//!
//! [`authorization_url`] adds the temporary token to the provider's authorization endpoint;
//! [`parse_callback`] reads the `oauth_verifier` from the callback, believing nothing it says
//! (a denial, a problem, a verifier) unless it names the pending temporary token.

use http::Uri;

use super::response::sanitize_problem;
use crate::encode::{form_decode, percent_decode, percent_encode_into};
use crate::oauth2::Transport;
use crate::secret::{Verifier, constant_time_eq};

/// Why the authorization callback cannot be used (RFC 5849 §2.2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum CallbackError {
    /// The callback has no `oauth_token`.
    #[error("the callback has no oauth_token")]
    MissingToken,
    /// The callback names another temporary token than the pending one (in `oauth_token`, or
    /// in `denied=<token>`), or the pending token is empty: a callback for another
    /// authorization (possible CSRF), rejected whatever else it says.
    #[error("the callback's oauth_token does not match the pending authorization")]
    TokenMismatch,
    /// The callback has no `oauth_verifier` (RFC 5849 §2.2: required for OAuth 1.0a).
    #[error("the callback has no oauth_verifier")]
    MissingVerifier,
    /// The resource owner denied the authorization (`denied=<the pending token>`, or
    /// `oauth_problem=user_refused` / `permission_denied` with the pending `oauth_token`).
    #[error("the resource owner denied the authorization")]
    Denied,
    /// The callback reports a denial or a problem (`denied`, `oauth_problem`) but names no
    /// temporary token, so it cannot be told from a forged link that anyone could open. Tell
    /// the user, but keep the pending authorization: the real callback may still come.
    #[error("the callback reports a denial or problem without naming the pending authorization")]
    UnboundDenial,
    /// The provider reported a problem in the callback (`oauth_problem`, with the pending
    /// `oauth_token`).
    #[error("the provider reported a problem in the callback: {problem}")]
    Problem {
        /// The `oauth_problem` value: a token of `[A-Za-z0-9_.-]`, at most 64 bytes, or
        /// `unrecognised` for any other value.
        problem: String,
    },
    /// A parameter appears twice, or the query is not valid percent-encoded UTF-8.
    #[error("the callback query is malformed")]
    Malformed,
}

/// Why an authorization URL cannot be built from an endpoint (RFC 5849 §2.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum AuthorizationUrlError {
    /// The endpoint has a fragment: the parameter would land in it, and `Uri` drops it.
    #[error("the authorization endpoint has a fragment")]
    Fragment,
    /// The endpoint's query already has an `oauth_token`: the URL would carry two, and the
    /// provider would choose which one the resource owner authorizes.
    #[error("the authorization endpoint already has an oauth_token parameter")]
    TokenAlreadyPresent,
    /// The endpoint (with the token added) is not a valid URI.
    #[error("the authorization endpoint is not a valid URI")]
    InvalidUri,
    /// The endpoint is not `https` (nor loopback `http` under
    /// [`Transport::AllowLoopbackHttp`]): the resource owner signs in there.
    #[error("the authorization endpoint is not https")]
    InsecureTransport,
    /// The temporary token is empty: the provider would not know which request to authorize.
    #[error("the temporary credentials identifier is empty")]
    EmptyToken,
}

/// The resource-owner authorization URL (RFC 5849 §2.2): `authorize_endpoint` with
/// `oauth_token=<temporary_token>` added to its query (percent-encoded, §3.6).
///
/// The endpoint must pass `transport` (`https`, or loopback `http` when allowed); it may have a
/// query of its own, but no fragment and no `oauth_token` already. The token must not be empty.
///
/// # Errors
///
/// Fails with [`AuthorizationUrlError::InvalidUri`] for an endpoint that is not an absolute URI,
/// [`AuthorizationUrlError::Fragment`] for one with a `#fragment`,
/// [`AuthorizationUrlError::InsecureTransport`] for one `transport` refuses,
/// [`AuthorizationUrlError::TokenAlreadyPresent`] when its query has an `oauth_token`, and
/// [`AuthorizationUrlError::EmptyToken`] for an empty `temporary_token`.
///
/// # Example
///
/// ```
/// use oauth_core::oauth1::{AuthorizationUrlError, authorization_url};
/// use oauth_core::oauth2::Transport;
///
/// let url = authorization_url(
///     "https://photos.example.net/authorize?lang=en",
///     "hh5s93j4hdidpola",
///     Transport::HttpsOnly,
/// )?;
/// assert_eq!(url, "https://photos.example.net/authorize?lang=en&oauth_token=hh5s93j4hdidpola");
///
/// let twice = authorization_url(
///     "https://photos.example.net/authorize?oauth_token=evil",
///     "hh5s93j4hdidpola",
///     Transport::HttpsOnly,
/// );
/// assert_eq!(twice, Err(AuthorizationUrlError::TokenAlreadyPresent));
/// # Ok::<(), AuthorizationUrlError>(())
/// ```
pub fn authorization_url(
    authorize_endpoint: &str,
    temporary_token: &str,
    transport: Transport,
) -> Result<Uri, AuthorizationUrlError> {
    if temporary_token.is_empty() {
        return Err(AuthorizationUrlError::EmptyToken);
    }
    if authorize_endpoint.contains('#') {
        return Err(AuthorizationUrlError::Fragment);
    }
    if let Some((_, query)) = authorize_endpoint.split_once('?')
        && query_has_oauth_token(query)
    {
        return Err(AuthorizationUrlError::TokenAlreadyPresent);
    }
    let mut url = String::with_capacity(authorize_endpoint.len() + temporary_token.len() + 16);
    url.push_str(authorize_endpoint);
    // No empty component (`?&`, `&&`) before the token.
    match authorize_endpoint.split_once('?') {
        None => url.push('?'),
        Some((_, query)) if query.is_empty() || query.ends_with('&') => {}
        Some(_) => url.push('&'),
    }
    url.push_str("oauth_token=");
    percent_encode_into(&mut url, temporary_token);
    let url: Uri = url.parse().map_err(|_| AuthorizationUrlError::InvalidUri)?;
    if !transport.allows(&url) {
        return Err(AuthorizationUrlError::InsecureTransport);
    }
    Ok(url)
}

/// Whether a query names `oauth_token` (percent-encoded or not; `+` is not a space here, and
/// a name that does not decode is not `oauth_token`).
fn query_has_oauth_token(query: &str) -> bool {
    query.split('&').any(|pair| {
        let name = pair.split_once('=').map_or(pair, |(name, _)| name);
        name == "oauth_token"
            || (name.contains('%') && percent_decode(name).is_ok_and(|n| n == "oauth_token"))
    })
}

/// Reads the verifier from the query of the authorization callback (RFC 5849 §2.2), the part
/// of the callback URL after `?`, for the pending temporary token.
///
/// The callback must name the pending token before anything it says is believed: a link that
/// names another token (in `oauth_token`, or in Twitter's `denied=<token>`) is a
/// [`CallbackError::TokenMismatch`], whatever else it carries, so that a forged "denied" cannot
/// end someone else's authorization in progress. A denial or problem that names no token is a
/// [`CallbackError::UnboundDenial`]. An empty token never matches; tokens are compared in
/// constant time; a parameter given twice is [`CallbackError::Malformed`].
///
/// # Errors
///
/// Fails with a [`CallbackError`]: [`TokenMismatch`](CallbackError::TokenMismatch) and
/// [`UnboundDenial`](CallbackError::UnboundDenial) as above, [`Denied`](CallbackError::Denied) or
/// [`Problem`](CallbackError::Problem) when the provider reports a refusal for the pending token,
/// [`MissingToken`](CallbackError::MissingToken) or
/// [`MissingVerifier`](CallbackError::MissingVerifier) when a parameter is absent, and
/// [`Malformed`](CallbackError::Malformed) for a query that does not decode or repeats a parameter.
///
/// # Example
///
/// ```
/// use oauth_core::oauth1::{CallbackError, parse_callback};
///
/// let verifier = parse_callback("oauth_token=hh5s93j4hdidpola&oauth_verifier=hfdp7dh39dks9884", "hh5s93j4hdidpola")?;
/// assert_eq!(verifier.secret(), "hfdp7dh39dks9884");
///
/// // A forged link for another authorization, or a denial that names none.
/// assert_eq!(parse_callback("denied=ATTACKER", "hh5s93j4hdidpola"), Err(CallbackError::TokenMismatch));
/// assert_eq!(parse_callback("oauth_problem=user_refused", "hh5s93j4hdidpola"), Err(CallbackError::UnboundDenial));
/// # Ok::<(), CallbackError>(())
/// ```
pub fn parse_callback(query: &str, pending_token: &str) -> Result<Verifier, CallbackError> {
    let pairs = form_decode(query).map_err(|_| CallbackError::Malformed)?;
    let mut token = None;
    let mut verifier = None;
    let mut problem = None;
    let mut denied = None;
    for (name, value) in pairs {
        let slot = match name.as_str() {
            "oauth_token" => &mut token,
            "oauth_verifier" => &mut verifier,
            "oauth_problem" => &mut problem,
            "denied" => &mut denied,
            _ => continue,
        };
        if slot.replace(value).is_some() {
            return Err(CallbackError::Malformed);
        }
    }
    // (An empty name is no name: a restored pending authorization whose token went missing
    // must not match a callback whose token is empty too.)
    fn named(value: &Option<String>) -> Option<&str> {
        value.as_deref().filter(|v| !v.is_empty())
    }
    let names_pending = |name: &str| {
        !pending_token.is_empty() && constant_time_eq(name.as_bytes(), pending_token.as_bytes())
    };
    let token = named(&token);
    let denied_token = named(&denied);
    if token
        .into_iter()
        .chain(denied_token)
        .any(|name| !names_pending(name))
    {
        return Err(CallbackError::TokenMismatch);
    }
    // Whatever was named is the pending token; was anything?
    let bound = token.is_some() || denied_token.is_some();
    if denied.is_some() || problem.is_some() {
        if !bound {
            return Err(CallbackError::UnboundDenial);
        }
        if denied.is_some() {
            return Err(CallbackError::Denied);
        }
    }
    if let Some(problem) = problem {
        return Err(match problem.as_str() {
            "user_refused" | "permission_denied" => CallbackError::Denied,
            _ => CallbackError::Problem {
                problem: sanitize_problem(&problem).unwrap_or_else(|| "unrecognised".to_owned()),
            },
        });
    }
    if token.is_none() {
        return Err(CallbackError::MissingToken);
    }
    match verifier {
        Some(v) if !v.is_empty() => Ok(Verifier::new(v)),
        _ => Err(CallbackError::MissingVerifier),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn authorization_url_edge_cases() {
        let https = Transport::HttpsOnly;
        assert_eq!(
            authorization_url("https://p.example/authorize?x=1", "tmp", https).unwrap(),
            "https://p.example/authorize?x=1&oauth_token=tmp"
        );
        // No empty component before `oauth_token` after a bare `?` or a trailing `&`.
        assert_eq!(
            authorization_url("https://p.example/authorize?", "tmp", https).unwrap(),
            "https://p.example/authorize?oauth_token=tmp"
        );
        assert_eq!(
            authorization_url("https://p.example/authorize?x=1&", "tmp", https).unwrap(),
            "https://p.example/authorize?x=1&oauth_token=tmp"
        );
        assert_eq!(
            authorization_url("https://p.example/a", "a b/c", https).unwrap(),
            "https://p.example/a?oauth_token=a%20b%2Fc"
        );
        assert_eq!(
            authorization_url("https://p.example/a#x", "tmp", https),
            Err(AuthorizationUrlError::Fragment)
        );
        assert_eq!(
            authorization_url("https://p.example/a", "", https),
            Err(AuthorizationUrlError::EmptyToken)
        );
        assert_eq!(
            authorization_url("https://p.example/a?oauth%5ftoken=1", "tmp", https),
            Err(AuthorizationUrlError::TokenAlreadyPresent)
        );
        assert_eq!(
            authorization_url("https://p.example/a b", "tmp", https),
            Err(AuthorizationUrlError::InvalidUri)
        );
        assert_eq!(
            authorization_url("http://127.0.0.1:1/a", "tmp", https),
            Err(AuthorizationUrlError::InsecureTransport)
        );
        assert!(
            authorization_url("http://127.0.0.1:1/a", "tmp", Transport::AllowLoopbackHttp).is_ok()
        );
        assert_eq!(
            authorization_url("http://p.example/a", "tmp", Transport::AllowLoopbackHttp),
            Err(AuthorizationUrlError::InsecureTransport)
        );
    }

    #[test]
    fn callback_edge_cases() {
        let v = parse_callback("oauth_token=tmp&oauth_verifier=ver", "tmp").unwrap();
        assert_eq!(v.secret(), "ver");
        assert_eq!(
            parse_callback("oauth_token=other&oauth_verifier=v", "tmp").err(),
            Some(CallbackError::TokenMismatch)
        );
        assert_eq!(
            parse_callback("oauth_token=tm&oauth_verifier=v", "tmp").err(),
            Some(CallbackError::TokenMismatch)
        );
        assert_eq!(
            parse_callback("oauth_token=tmp", "tmp").err(),
            Some(CallbackError::MissingVerifier)
        );
        assert_eq!(
            parse_callback("oauth_token=tmp&oauth_verifier=", "tmp").err(),
            Some(CallbackError::MissingVerifier)
        );
        assert_eq!(
            parse_callback("oauth_verifier=v", "tmp").err(),
            Some(CallbackError::MissingToken)
        );
        assert_eq!(
            parse_callback("denied=tmp", "tmp").err(),
            Some(CallbackError::Denied)
        );
        assert_eq!(
            parse_callback("oauth_token=tmp&oauth_problem=user_refused", "tmp").err(),
            Some(CallbackError::Denied)
        );
        // A report that names no token cannot be told from a forged link.
        for unbound in [
            "oauth_problem=user_refused",
            "denied=",
            "oauth_token=&denied=",
        ] {
            assert_eq!(
                parse_callback(unbound, "tmp").err(),
                Some(CallbackError::UnboundDenial),
                "{unbound}"
            );
        }
        // One that names another token is a mismatch, whatever it says.
        for forged in [
            "oauth_token=other&oauth_problem=user_refused",
            "denied=other",
            "oauth_token=tmp&denied=other",
            "oauth_token=other&denied=tmp",
        ] {
            assert_eq!(
                parse_callback(forged, "tmp").err(),
                Some(CallbackError::TokenMismatch),
                "{forged}"
            );
        }
        // An empty pending token matches nothing, an empty oauth_token names nothing.
        assert_eq!(
            parse_callback("oauth_token=&oauth_verifier=v", "").err(),
            Some(CallbackError::MissingToken)
        );
        assert_eq!(
            parse_callback("oauth_token=x&oauth_verifier=v", "").err(),
            Some(CallbackError::TokenMismatch)
        );
        assert_eq!(
            parse_callback("denied=tmp&denied=tmp", "tmp").err(),
            Some(CallbackError::Malformed)
        );
        assert_eq!(
            parse_callback("oauth_token=tmp&oauth_problem=token_expired", "tmp").err(),
            Some(CallbackError::Problem {
                problem: "token_expired".into()
            })
        );
        assert_eq!(
            parse_callback("oauth_token=tmp&oauth_token=tmp&oauth_verifier=v", "tmp").err(),
            Some(CallbackError::Malformed)
        );
        assert_eq!(
            parse_callback("oauth_token=%zz", "tmp").err(),
            Some(CallbackError::Malformed)
        );
    }
}
