//! Parsing of the dance's provider responses and of the authorization callback.

use bytes::Bytes;
use http::{HeaderMap, StatusCode, header::WWW_AUTHENTICATE};
use oauth_core::encode::form_decode;
use oauth_core::secret::{TokenSecret, Verifier, constant_time_eq};

use super::error::{CallbackError, DanceError, ProviderError, sanitize_problem};

/// A token and secret pair parsed from a provider's form response (RFC 5849 §2.1, §2.3).
pub(crate) struct ParsedCredentials {
    pub(crate) token: String,
    pub(crate) secret: TokenSecret,
    pub(crate) callback_confirmed: bool,
    pub(crate) extra: Vec<(String, String)>,
}

/// Turns a non-success response into a [`ProviderError`], with the `oauth_problem` from the form
/// body or from `WWW-Authenticate: OAuth ...` when present.
pub(crate) fn provider_error(
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
) -> ProviderError {
    let problem = std::str::from_utf8(body)
        .ok()
        .and_then(|s| form_decode(s.trim()).ok())
        .and_then(|pairs| {
            pairs
                .into_iter()
                .find(|(n, _)| n == "oauth_problem")
                .map(|(_, v)| v)
        })
        .and_then(|v| sanitize_problem(&v))
        .or_else(|| {
            headers
                .get_all(WWW_AUTHENTICATE)
                .iter()
                .filter_map(|v| v.to_str().ok())
                .find_map(problem_from_www_authenticate)
        });
    let retry_after = oauth_core::retry::parse_retry_after(headers, std::time::SystemTime::now());
    ProviderError::new(status, problem, retry_after)
}

/// Finds `oauth_problem="..."` in a `WWW-Authenticate: OAuth realm="...", oauth_problem="..."`
/// challenge.
fn problem_from_www_authenticate(value: &str) -> Option<String> {
    let value = value.trim_start();
    let scheme_len = value
        .find(|c: char| c.is_ascii_whitespace())
        .unwrap_or(value.len());
    if !value[..scheme_len].eq_ignore_ascii_case("oauth") {
        return None;
    }
    value[scheme_len..].split(',').find_map(|param| {
        let (name, raw) = param.trim().split_once('=')?;
        if !name.trim().eq_ignore_ascii_case("oauth_problem") {
            return None;
        }
        let raw = raw.trim();
        let unquoted = raw
            .strip_prefix('"')
            .and_then(|r| r.strip_suffix('"'))
            .unwrap_or(raw);
        let decoded = oauth_core::encode::percent_decode(unquoted).ok()?;
        sanitize_problem(&decoded)
    })
}

/// Parses a successful credentials response: `oauth_token`, `oauth_token_secret`, and
/// `oauth_callback_confirmed`, each at most once; other parameters are kept as `extra`. A
/// body with an `oauth_problem` and no token is the provider's error, whatever the status.
pub(crate) fn parse_credentials(
    status: StatusCode,
    body: &Bytes,
) -> Result<ParsedCredentials, DanceError> {
    let text = std::str::from_utf8(body).map_err(|_| DanceError::MalformedResponse {
        reason: "the body is not UTF-8",
    })?;
    let pairs = form_decode(text.trim()).map_err(|_| DanceError::MalformedResponse {
        reason: "the body is not form-encoded",
    })?;
    let mut token = None;
    let mut secret = None;
    let mut confirmed = None;
    let mut extra = Vec::new();
    for (name, value) in pairs {
        let slot = match name.as_str() {
            "oauth_token" => &mut token,
            "oauth_token_secret" => &mut secret,
            "oauth_callback_confirmed" => &mut confirmed,
            _ => {
                extra.push((name, value));
                continue;
            }
        };
        if slot.replace(value).is_some() {
            return Err(DanceError::MalformedResponse {
                reason: "a credentials parameter appears more than once",
            });
        }
    }
    let Some(token) = token.filter(|t| !t.is_empty()) else {
        if let Some((_, problem)) = extra.iter().find(|(name, _)| name == "oauth_problem") {
            return Err(ProviderError::new(status, sanitize_problem(problem), None).into());
        }
        return Err(DanceError::MalformedResponse {
            reason: "oauth_token is missing",
        });
    };
    let secret = secret.ok_or(DanceError::MalformedResponse {
        reason: "oauth_token_secret is missing",
    })?;
    Ok(ParsedCredentials {
        token,
        secret: TokenSecret::new(secret),
        callback_confirmed: confirmed.as_deref() == Some("true"),
        extra,
    })
}

/// Parses the authorization callback's query (RFC 5849 §2.2) against the pending temporary token.
///
/// The callback must name the pending token before anything it says is believed: a link that
/// names another token (in `oauth_token`, or in Twitter's `denied=<token>`) is a
/// [`CallbackError::TokenMismatch`], whatever else it carries, so that a forged "denied" cannot
/// end someone else's authorization in progress. An empty token never matches.
pub(crate) fn parse_callback(query: &str, pending_token: &str) -> Result<Verifier, CallbackError> {
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
    use http::HeaderValue;

    #[test]
    fn credentials_parse_and_confirmation() {
        let body = Bytes::from_static(
            b"oauth_token=hh5s93j4hdidpola&oauth_token_secret=hdhd0244k9j7ao03&oauth_callback_confirmed=true",
        );
        let c = parse_credentials(StatusCode::OK, &body).unwrap();
        assert_eq!(c.token, "hh5s93j4hdidpola");
        assert_eq!(c.secret.secret(), "hdhd0244k9j7ao03");
        assert!(c.callback_confirmed);

        let body = Bytes::from_static(b"oauth_token=a&oauth_token_secret=b");
        assert!(
            !parse_credentials(StatusCode::OK, &body)
                .unwrap()
                .callback_confirmed
        );
        let body =
            Bytes::from_static(b"oauth_token=a&oauth_token_secret=b&oauth_callback_confirmed=TRUE");
        assert!(
            !parse_credentials(StatusCode::OK, &body)
                .unwrap()
                .callback_confirmed
        );
    }

    #[test]
    fn credentials_missing_or_duplicate_fields_are_errors_without_the_body() {
        for body in [
            &b"oauth_token_secret=SENTINEL"[..],
            b"oauth_token=&oauth_token_secret=SENTINEL",
            b"oauth_token=a",
            b"oauth_token=a&oauth_token=b&oauth_token_secret=SENTINEL",
            b"oauth_token=%zz&oauth_token_secret=SENTINEL",
            b"\xff\xfe",
        ] {
            let err = parse_credentials(StatusCode::OK, &Bytes::copy_from_slice(body))
                .err()
                .unwrap();
            assert!(
                matches!(err, DanceError::MalformedResponse { .. }),
                "{err:?}"
            );
            assert!(!format!("{err} {err:?}").contains("SENTINEL"));
        }
    }

    #[test]
    fn provider_problem_from_body_or_www_authenticate() {
        let headers = HeaderMap::new();
        let e = provider_error(
            StatusCode::UNAUTHORIZED,
            &headers,
            b"oauth_problem=timestamp_refused&oauth_acceptable_timestamps=1-2",
        );
        assert_eq!(e.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(e.problem(), Some("timestamp_refused"));
        assert_eq!(
            e.to_string(),
            "the provider rejected the request with 401 Unauthorized (oauth_problem=timestamp_refused)"
        );

        let mut headers = HeaderMap::new();
        headers.insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("OAuth realm=\"api\", oauth_problem=\"nonce_used\""),
        );
        let e = provider_error(StatusCode::UNAUTHORIZED, &headers, b"<html>SENTINEL</html>");
        assert_eq!(e.problem(), Some("nonce_used"));
        assert!(!format!("{e} {e:?}").contains("SENTINEL"));

        // Arbitrary content is never repeated.
        let e = provider_error(
            StatusCode::BAD_REQUEST,
            &HeaderMap::new(),
            b"oauth_problem=<script>SENTINEL</script>",
        );
        assert_eq!(e.problem(), None);
        let e = provider_error(
            StatusCode::BAD_REQUEST,
            &HeaderMap::new(),
            b"Invalid signature SENTINEL",
        );
        assert_eq!(e.problem(), None);
        let mut headers = HeaderMap::new();
        headers.insert(
            WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer oauth_problem=\"x\""),
        );
        assert_eq!(
            provider_error(StatusCode::UNAUTHORIZED, &headers, b"").problem(),
            None
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
