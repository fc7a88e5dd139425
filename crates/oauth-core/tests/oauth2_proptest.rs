//! Property tests: response, device-response and callback parsing never panic on arbitrary
//! input, and arbitrary Unicode `state` values round-trip.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, UNIX_EPOCH};

use http::{HeaderMap, HeaderValue, StatusCode, header::CONTENT_TYPE};
use oauth_core::clock::CountingRandom;
use oauth_core::oauth2::{
    AuthorizationRequest, Compliance, Endpoint, RedirectUri, parse_device_authorization_response,
    parse_token_response,
};
use proptest::prelude::*;

fn headers(ct: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
    h
}

fn profiles() -> Vec<Compliance> {
    vec![
        Compliance::strict(),
        Compliance::github(),
        Compliance::facebook(),
        Compliance::slack(),
        Compliance::linkedin(),
    ]
}

/// JSON-ish strings built from token-response fragments, more likely to reach deep code paths
/// than uniform bytes.
fn jsonish() -> impl Strategy<Value = String> {
    let atoms = prop::sample::select(vec![
        "{",
        "}",
        "[",
        "]",
        ",",
        ":",
        "\"access_token\"",
        "\"token_type\"",
        "\"expires_in\"",
        "\"scope\"",
        "\"refresh_token\"",
        "\"error\"",
        "\"authed_user\"",
        "\"expires\"",
        "\"Bearer\"",
        "\"3600\"",
        "3600",
        "-5",
        "1e309",
        "3.5",
        "null",
        "true",
        "\"\"",
        "\"a b\"",
        "18446744073709551616",
        "\"\\u0000\"",
    ]);
    prop::collection::vec(atoms, 0..40).prop_map(|v| v.concat())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn token_response_parsing_never_panics_on_bytes(
        body in prop::collection::vec(any::<u8>(), 0..512),
        status in prop::sample::select(vec![200u16, 201, 302, 400, 401, 429, 500, 503]),
        ct in prop::sample::select(vec!["application/json", "application/x-www-form-urlencoded", "text/plain", "text/html"]),
        secs in any::<u64>(),
    ) {
        let now = UNIX_EPOCH.checked_add(Duration::from_secs(secs % (1 << 40))).unwrap();
        let status = StatusCode::from_u16(status).unwrap();
        for c in profiles() {
            let _ = parse_token_response(status, &headers(ct), &body, now, &c);
            let _ = parse_device_authorization_response(status, &headers(ct), &body, now, &c);
        }
    }

    #[test]
    fn token_response_parsing_never_panics_on_jsonish(body in jsonish()) {
        for c in profiles() {
            let r = parse_token_response(StatusCode::OK, &headers("application/json"), body.as_bytes(), UNIX_EPOCH, &c);
            if let Ok(token) = r {
                let _ = token.authorization_header_value();
                let _ = serde_json::to_string(&token).unwrap();
            }
        }
    }

    #[test]
    fn token_response_parsing_never_panics_on_strings(body in "\\PC*") {
        for ct in ["application/json", "application/x-www-form-urlencoded"] {
            let _ = parse_token_response(StatusCode::OK, &headers(ct), body.as_bytes(), UNIX_EPOCH, &Compliance::facebook());
        }
    }

    #[test]
    fn callback_parsing_never_panics(url in ".{0,400}") {
        let e = Endpoint::new("https://as.example.com/authorize").unwrap();
        let r = RedirectUri::new("https://client.example.com/cb").unwrap();
        let (_, pending) = AuthorizationRequest::new(&e, "c", &r).build(&CountingRandom::new(1)).unwrap();
        let _ = pending.parse_callback(&url);
        #[cfg(feature = "legacy")]
        {
            #[allow(deprecated)]
            let (_, pending) = AuthorizationRequest::new(&e, "c", &r).implicit().build(&CountingRandom::new(1)).unwrap();
            #[allow(deprecated)]
            let _ = pending.token_from_fragment(&url, UNIX_EPOCH);
        }
    }

    #[test]
    fn callback_parsing_never_panics_on_query_shapes(
        parts in prop::collection::vec(
            prop::sample::select(vec!["code=", "state=", "iss=", "error=", "&", "=", "%", "%zz", "%FF", "%2B", "+", "#", "?", "x", "access_token=", "é"]),
            0..60,
        )
    ) {
        let e = Endpoint::new("https://as.example.com/authorize").unwrap();
        let r = RedirectUri::new("https://client.example.com/cb").unwrap();
        let (_, pending) = AuthorizationRequest::new(&e, "c", &r).build(&CountingRandom::new(1)).unwrap();
        let _ = pending.parse_callback(&format!("https://client.example.com/cb?{}", parts.concat()));
    }

    #[test]
    fn any_unicode_state_round_trips(state in "\\PC{1,200}") {
        let e = Endpoint::new("https://as.example.com/authorize").unwrap();
        let r = RedirectUri::new("https://client.example.com/cb").unwrap();
        let (_, pending) = AuthorizationRequest::new(&e, "c", &r)
            .dangerous_custom_state(state.clone())
            .build(&CountingRandom::new(1))
            .unwrap();
        let echoed: String = form_urlencoded::byte_serialize(state.as_bytes()).collect();
        let exchange = pending.parse_callback(&format!("https://client.example.com/cb?state={echoed}&code=c"));
        prop_assert!(exchange.is_ok());
    }
}
