//! The OAuth 1 dance's parsers (RFC 5849 §2): `parse_credentials_response` on an arbitrary
//! status, headers and body; `parse_callback` on a raw or assembled callback query against a
//! pending temporary token; `authorization_url` on an arbitrary endpoint.
//!
//! Invariants: no panic;
//! - credentials are accepted only from a 2xx form body with exactly one non-empty
//!   `oauth_token` and one `oauth_token_secret`, which are the ones returned (the token
//!   round-trips); `callback_confirmed` only for exactly `oauth_callback_confirmed=true`; a
//!   provider's problem is a short safe token; `Retry-After` is at most an hour;
//! - a callback is accepted for pending token T only if it names T, exactly once, in
//!   `oauth_token`, with one non-empty `oauth_verifier` (the one returned) and no `denied` or
//!   `oauth_problem`; a callback built for T is accepted; a denial is believed only when it
//!   names T;
//! - an authorization URL carries exactly one `oauth_token`, T, and obeys the transport rule;
//! - no secret (token secret, verifier) appears in a `Debug` or an error.
#![no_main]

use std::time::{Duration, UNIX_EPOCH};

use http::{HeaderMap, HeaderValue, StatusCode};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use oauth_core::encode::{form_decode, percent_decode, percent_encode};
use oauth_core::oauth1::{
    CallbackError, CredentialsResponseError, authorization_url, parse_callback,
    parse_credentials_response,
};
use oauth_core::oauth2::Transport;

const TOKEN: &str = "hh5s93j4hdidpola";

/// Characters that no error text or `Debug` of ours contains (nor an HTTP reason phrase, nor a
/// sanitised `oauth_problem`): a secret holding one can be searched for in printed output.
const MARKERS: &[char] = &['!', '~', '*', '@', '$', '^', '|'];

#[derive(Debug, Arbitrary)]
enum ContentType<'a> {
    None,
    Form,
    Text,
    Html,
    Json,
    Raw(&'a [u8]),
}

#[derive(Debug, Arbitrary)]
enum Status {
    Ok,
    Created,
    Unauthorized,
    Unavailable,
    Raw(u16),
}

#[derive(Debug, Arbitrary)]
enum Field<'a> {
    Token,
    Secret,
    Confirmed,
    Problem,
    Raw(&'a str),
}

#[derive(Debug, Arbitrary)]
enum Body<'a> {
    Raw(&'a [u8]),
    Built(Vec<(Field<'a>, Value<'a>)>),
}

#[derive(Debug, Arbitrary)]
enum Pending<'a> {
    Fixed,
    Empty,
    Raw(&'a str),
}

#[derive(Debug, Arbitrary)]
enum Name<'a> {
    Token,
    Verifier,
    Problem,
    Denied,
    Raw(&'a str),
}

#[derive(Debug, Arbitrary)]
enum Value<'a> {
    Pending,
    Plain(&'a str),
    Encoded(&'a str),
    Empty,
}

#[derive(Debug, Arbitrary)]
enum Query<'a> {
    Raw(&'a str),
    Built(Vec<(Name<'a>, Value<'a>)>),
}

#[derive(Debug, Arbitrary)]
struct Input<'a> {
    status: Status,
    content_type: ContentType<'a>,
    www_authenticate: Option<&'a [u8]>,
    retry_after: Option<&'a [u8]>,
    now_secs: u32,
    body: Body<'a>,
    pending: Pending<'a>,
    query: Query<'a>,
    verifier: &'a str,
    endpoint: &'a str,
    loopback: bool,
}

fuzz_target!(|input: Input<'_>| {
    credentials(&input);
    let pending = match input.pending {
        Pending::Fixed => TOKEN,
        Pending::Empty => "",
        Pending::Raw(raw) => raw,
    };
    callback(&input.query, pending);
    genuine_callback(pending, input.verifier);
    authorization(input.endpoint, pending, input.loopback);
});

fn headers(input: &Input<'_>) -> HeaderMap {
    let mut headers = HeaderMap::new();
    let content_type = match input.content_type {
        ContentType::None => None,
        ContentType::Form => Some(&b"application/x-www-form-urlencoded"[..]),
        ContentType::Text => Some(&b"text/plain; charset=utf-8"[..]),
        ContentType::Html => Some(&b"text/html"[..]),
        ContentType::Json => Some(&b"application/json"[..]),
        ContentType::Raw(raw) => Some(raw),
    };
    for (name, value) in [
        (http::header::CONTENT_TYPE, content_type),
        (http::header::WWW_AUTHENTICATE, input.www_authenticate),
        (http::header::RETRY_AFTER, input.retry_after),
    ] {
        if let Some(value) = value.and_then(|v| HeaderValue::from_bytes(v).ok()) {
            headers.insert(name, value);
        }
    }
    headers
}

/// The decoded values of `name` in a form body (`None` if the body does not decode).
fn values(pairs: &[(String, String)], name: &str) -> Vec<String> {
    pairs
        .iter()
        .filter(|(n, _)| n == name)
        .map(|(_, v)| v.clone())
        .collect()
}

fn credentials(input: &Input<'_>) {
    let status = match input.status {
        Status::Ok => StatusCode::OK,
        Status::Created => StatusCode::CREATED,
        Status::Unauthorized => StatusCode::UNAUTHORIZED,
        Status::Unavailable => StatusCode::SERVICE_UNAVAILABLE,
        Status::Raw(raw) => match StatusCode::from_u16(raw) {
            Ok(status) => status,
            Err(_) => return,
        },
    };
    let body = match &input.body {
        Body::Raw(raw) => raw.to_vec(),
        Body::Built(fields) => {
            let fields: Vec<_> = fields
                .iter()
                .map(|(field, value)| {
                    let name = match field {
                        Field::Token => Name::Token,
                        Field::Secret => Name::Raw("oauth_token_secret"),
                        Field::Confirmed => Name::Raw("oauth_callback_confirmed"),
                        Field::Problem => Name::Problem,
                        Field::Raw(raw) => Name::Raw(raw),
                    };
                    (name, value)
                })
                .collect();
            assemble(&fields, TOKEN).into_bytes()
        }
    };
    let now = UNIX_EPOCH + Duration::from_secs(u64::from(input.now_secs));
    let headers = headers(input);
    let result = parse_credentials_response(status, &headers, &body, now);
    // (An error may name the media type: a secret that is part of it is not searched for.)
    let content_type = headers
        .get(http::header::CONTENT_TYPE)
        .map(|v| String::from_utf8_lossy(v.as_bytes()).to_ascii_lowercase())
        .unwrap_or_default();
    let pairs = std::str::from_utf8(&body)
        .ok()
        .and_then(|text| form_decode(text.trim()).ok());
    // A secret that can be searched for in printed output.
    let secrets: Vec<String> = pairs
        .iter()
        .flat_map(|pairs| values(pairs, "oauth_token_secret"))
        .filter(|s| s.contains(MARKERS) && !content_type.contains(&s.to_ascii_lowercase()))
        .collect();
    match result {
        Ok(parsed) => {
            assert!(status.is_success(), "credentials from a {status}");
            let pairs = pairs.expect("credentials from a body that is not a form");
            assert!(!parsed.token().is_empty());
            assert_eq!(values(&pairs, "oauth_token"), [parsed.token()], "token");
            assert_eq!(
                values(&pairs, "oauth_token_secret"),
                [parsed.secret().secret()],
                "secret"
            );
            let confirmed = values(&pairs, "oauth_callback_confirmed");
            assert_eq!(parsed.callback_confirmed(), confirmed == ["true"]);
            let reserved = [
                "oauth_token",
                "oauth_token_secret",
                "oauth_callback_confirmed",
            ];
            let extra: Vec<_> = pairs
                .iter()
                .filter(|(n, _)| !reserved.contains(&n.as_str()))
                .cloned()
                .collect();
            assert_eq!(parsed.extra(), extra.as_slice());
            let debug = format!("{parsed:?}");
            let secret = parsed.secret().secret();
            if secret.contains(MARKERS)
                && !parsed.token().contains(secret)
                && !parsed.extra().iter().any(|(n, _)| n.contains(secret))
            {
                assert!(!debug.contains(secret), "secret printed: {debug}");
            }
        }
        Err(error) => {
            let printed = format!("{error} {error:?}");
            assert!(printed.len() < 512, "error too long: {printed}");
            for secret in &secrets {
                assert!(
                    !printed.contains(secret.as_str()),
                    "secret printed: {printed}"
                );
            }
            match &error {
                CredentialsResponseError::Provider(provider) => {
                    if let Some(problem) = provider.problem() {
                        assert!(problem.len() <= 64 && is_safe_token(problem), "{problem:?}");
                    }
                    assert!(
                        provider.retry_after() <= Some(Duration::from_secs(3600)),
                        "{:?}",
                        provider.retry_after()
                    );
                }
                CredentialsResponseError::Malformed { .. } => assert!(status.is_success()),
                CredentialsResponseError::NotCredentials(not) => {
                    assert!(status.is_success());
                    if let Some(media) = not.content_type() {
                        assert!(media.len() <= 64, "{media:?}");
                    }
                }
                _ => {}
            }
        }
    }
}

fn clone_name<'a>(name: &Name<'a>) -> Name<'a> {
    match name {
        Name::Token => Name::Token,
        Name::Verifier => Name::Verifier,
        Name::Problem => Name::Problem,
        Name::Denied => Name::Denied,
        Name::Raw(raw) => Name::Raw(raw),
    }
}

/// A form (body or query) of likely parameters; `Value::Pending` is `pending`.
fn assemble(params: &[(Name<'_>, &Value<'_>)], pending: &str) -> String {
    let mut out = String::new();
    for (i, (name, value)) in params.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(match name {
            Name::Token => "oauth_token",
            Name::Verifier => "oauth_verifier",
            Name::Problem => "oauth_problem",
            Name::Denied => "denied",
            Name::Raw(raw) => raw,
        });
        out.push('=');
        match value {
            Value::Pending => out.push_str(&percent_encode(pending)),
            Value::Plain(raw) => out.push_str(raw),
            Value::Encoded(raw) => out.push_str(&percent_encode(raw)),
            Value::Empty => {}
        }
    }
    out
}

fn is_safe_token(value: &str) -> bool {
    value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || b"_-.".contains(&b))
}

fn callback(query: &Query<'_>, pending: &str) {
    let query = match query {
        Query::Raw(raw) => (*raw).to_owned(),
        Query::Built(params) => {
            let params: Vec<_> = params.iter().map(|(n, v)| (clone_name(n), v)).collect();
            assemble(&params, pending)
        }
    };
    let result = parse_callback(&query, pending);
    let Ok(pairs) = form_decode(&query) else {
        assert_eq!(result.err(), Some(CallbackError::Malformed));
        return;
    };
    let names_pending = |name: &str| {
        let named = values(&pairs, name);
        !pending.is_empty() && named.len() == 1 && named[0] == pending
    };
    match result {
        Ok(verifier) => {
            assert!(
                names_pending("oauth_token"),
                "accepted for another token: {query}"
            );
            assert_eq!(values(&pairs, "oauth_verifier"), [verifier.secret()]);
            assert!(!verifier.secret().is_empty());
            assert!(
                values(&pairs, "denied").is_empty() && values(&pairs, "oauth_problem").is_empty()
            );
            if verifier.secret().contains(MARKERS) {
                assert!(!format!("{verifier:?}").contains(verifier.secret()));
            }
        }
        Err(error) => {
            match &error {
                CallbackError::Denied => assert!(
                    names_pending("oauth_token") || names_pending("denied"),
                    "a denial believed without the pending token: {query}"
                ),
                CallbackError::Problem { problem } => {
                    assert!(names_pending("oauth_token"), "{query}");
                    assert!(problem.len() <= 64 && is_safe_token(problem), "{problem:?}");
                }
                _ => {}
            }
            let printed = format!("{error} {error:?}");
            for verifier in values(&pairs, "oauth_verifier") {
                if verifier.contains(MARKERS) {
                    assert!(!printed.contains(&verifier), "verifier printed: {printed}");
                }
            }
        }
    }
}

/// The callback a provider sends for `pending` is accepted; its denial is a denial.
fn genuine_callback(pending: &str, verifier: &str) {
    let token = percent_encode(pending);
    let query = format!(
        "oauth_token={token}&oauth_verifier={}",
        percent_encode(verifier)
    );
    let result = parse_callback(&query, pending);
    match (pending.is_empty(), verifier.is_empty()) {
        (true, _) => assert!(result.is_err(), "an empty pending token matched"),
        (false, true) => assert_eq!(result.err(), Some(CallbackError::MissingVerifier)),
        (false, false) => assert_eq!(
            result.map(|v| v.secret().to_owned()).as_deref(),
            Ok(verifier)
        ),
    }
    if !pending.is_empty() {
        assert_eq!(
            parse_callback(&format!("denied={token}"), pending).err(),
            Some(CallbackError::Denied)
        );
    }
}

fn authorization(endpoint: &str, pending: &str, loopback: bool) {
    let transport = if loopback {
        Transport::AllowLoopbackHttp
    } else {
        Transport::HttpsOnly
    };
    let Ok(url) = authorization_url(endpoint, pending, transport) else {
        return;
    };
    assert!(transport.allows(&url), "{url}");
    let query = url.query().expect("an authorization URL without a query");
    let tokens: Vec<_> = query
        .split('&')
        .filter_map(|pair| {
            let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
            (percent_decode(name).ok()? == "oauth_token").then_some(value)
        })
        .collect();
    assert_eq!(tokens.len(), 1, "{url}");
    assert_eq!(
        percent_decode(tokens[0]).ok().as_deref(),
        Some(pending),
        "{url}"
    );
}
