//! `PendingAuthorization::parse_callback` (and the implicit `token_from_fragment`) on arbitrary
//! callback URLs, raw or assembled from likely parameters (including the right `state` and
//! `iss`, so that the success path is reached).
//!
//! A pending authorization is built per input with a fixed `CountingRandom`, so its state is the
//! same every time. Invariants: no panic; success only when the query's `state` (decoded) is the
//! pending state, the URL is the redirect URI's (`https://client.example.com/cb` or `/cb`) and,
//! when an issuer is expected and advertised, its `iss` equals it; the code
//! is non-empty; the state and the code never appear in an error or in `Debug`.
#![no_main]
#![allow(deprecated)] // the implicit flow is fuzzed on purpose

use std::time::UNIX_EPOCH;

use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use oauth_core::clock::CountingRandom;
use oauth_core::encode::{form_decode, percent_encode};
use oauth_core::oauth2::{
    AuthorizationRequest, CallbackError, Endpoint, Issuer, PendingAuthorization, RedirectUri,
};

const ISSUER: &str = "https://as.example.com";

#[derive(Debug, Arbitrary)]
enum Name<'a> {
    Code,
    State,
    Iss,
    Error,
    ErrorDescription,
    AccessToken,
    IdToken,
    TokenType,
    Raw(&'a str),
}

#[derive(Debug, Arbitrary)]
enum Value<'a> {
    GoodState,
    GoodIss,
    IssWithSlash,
    Plain(&'a str),
    Encoded(&'a str),
    Empty,
}

#[derive(Debug, Arbitrary)]
enum Url<'a> {
    Raw(&'a str),
    Built {
        prefix: u8,
        query: Vec<(Name<'a>, Value<'a>)>,
        fragment: Option<Vec<(Name<'a>, Value<'a>)>>,
    },
}

#[derive(Debug, Arbitrary)]
struct Input<'a> {
    flow: u8,
    url: Url<'a>,
}

fn pending(flow: u8) -> PendingAuthorization {
    let endpoint = Endpoint::new("https://as.example.com/authorize").unwrap();
    let redirect = RedirectUri::new("https://client.example.com/cb").unwrap();
    let issuer = Issuer::new(ISSUER).unwrap();
    let request = AuthorizationRequest::new(&endpoint, "client", &redirect);
    let request = match flow % 6 {
        0 => request,
        1 => request.expect_issuer(issuer, true),
        2 => request.expect_issuer(issuer, false),
        3 => request.dangerous_disable_pkce().oidc_nonce(),
        4 => request.implicit(),
        _ => request.implicit().expect_issuer(issuer, true),
    };
    request.build(&CountingRandom::new(7)).unwrap().1
}

fn params(out: &mut String, params: &[(Name<'_>, Value<'_>)], state: &str) {
    for (i, (name, value)) in params.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(match name {
            Name::Code => "code",
            Name::State => "state",
            Name::Iss => "iss",
            Name::Error => "error",
            Name::ErrorDescription => "error_description",
            Name::AccessToken => "access_token",
            Name::IdToken => "id_token",
            Name::TokenType => "token_type",
            Name::Raw(raw) => raw,
        });
        out.push('=');
        match value {
            Value::GoodState => out.push_str(state),
            Value::GoodIss => out.push_str(&percent_encode(ISSUER)),
            Value::IssWithSlash => out.push_str(&percent_encode(&format!("{ISSUER}/"))),
            Value::Plain(raw) => out.push_str(raw),
            Value::Encoded(raw) => out.push_str(&percent_encode(raw)),
            Value::Empty => {}
        }
    }
}

fuzz_target!(|input: Input<'_>| {
    let pending = pending(input.flow);
    let state = pending.state().to_owned();
    let implicit = input.flow % 6 >= 4;
    let url = match &input.url {
        Url::Raw(raw) => (*raw).to_owned(),
        Url::Built {
            prefix,
            query,
            fragment,
        } => {
            let mut url = String::from(
                ["https://client.example.com/cb?", "/cb?", "?", ""][usize::from(prefix % 4)],
            );
            params(&mut url, query, &state);
            if let Some(fragment) = fragment {
                url.push('#');
                params(&mut url, fragment, &state);
            }
            url
        }
    };

    if implicit {
        match pending.token_from_fragment(&url, UNIX_EPOCH) {
            Ok(token) => {
                assert!(!token.access_token().secret().is_empty());
                assert!(token.refresh_token().is_none());
                // Unless the fragment repeats the state in another member (say token_type).
                if url.matches(&state).count() == 1 {
                    assert!(!format!("{token:?}").contains(&state));
                }
            }
            Err(error) => check_error(&error, &state, &url),
        }
        return;
    }

    let before_fragment = url.split('#').next().unwrap_or("");
    let query = before_fragment.split_once('?').map_or("", |(_, q)| q);
    match pending.parse_callback(&url) {
        Ok(exchange) => {
            let pairs = form_decode(query).expect("accepted a query that does not decode");
            // RFC 6749 §3.1: a parameter without a value counts as absent (`state=&state=S`).
            let find = |n: &str| {
                pairs
                    .iter()
                    .find(|(name, value)| name == n && !value.is_empty())
                    .map(|(_, v)| v)
            };
            assert_eq!(find("state"), Some(&state), "accepted the wrong state");
            // RFC 9700 §4.4.2: only a callback at the redirect URI (or its path) is read.
            // (Up to the case of scheme and host, and the default port.)
            let target = before_fragment.split('?').next().unwrap_or("");
            let (scheme_host, path) = match target.strip_prefix('/') {
                Some(path) => (String::new(), path),
                None => {
                    let at = target.find("//").map_or(0, |i| i + 2);
                    let slash = target[at..].find('/').map_or(target.len(), |i| at + i);
                    (target[..slash].to_ascii_lowercase(), &target[slash + 1..])
                }
            };
            assert!(
                matches!(
                    scheme_host.as_str(),
                    "" | "https://client.example.com" | "https://client.example.com:443"
                ) && path == "cb",
                "accepted a callback at another address: {url}"
            );
            if input.flow % 6 == 1 {
                assert_eq!(find("iss").map(String::as_str), Some(ISSUER));
            }
            // RFC 6749 §3.1: a parameter without a value counts as absent.
            if let Some(iss) = find("iss").filter(|iss| !iss.is_empty()) {
                if input.flow % 6 == 2 {
                    assert_eq!(iss, ISSUER);
                }
            }
            let code = exchange.code().secret();
            assert!(!code.is_empty());
            let debug = format!("{exchange:?}");
            assert!(!debug.contains(&state));
            if code.len() >= 8 && url.matches(code).count() == 1 {
                assert!(!debug.contains(code), "code printed: {debug}");
            }
        }
        Err(error) => check_error(&error, &state, &url),
    }
});

/// The state must not be printed, unless the callback itself repeats it in another parameter.
fn check_error(error: &CallbackError, state: &str, url: &str) {
    if url.matches(state).count() > 1 {
        return;
    }
    let printed = format!("{error} {error:?}");
    assert!(!printed.contains(state), "state printed: {printed}");
}
