//! `parse_token_response` with an arbitrary status, `Content-Type`, compliance profile, `now`
//! (the time its expiry counts from: the request's sending) and body; and the other parsers of
//! token-endpoint-shaped responses on the same input (introspection, PAR, revocation, device
//! authorization, CIBA backchannel authentication).
//!
//! Invariants: no panic; a success has a non-empty access token and a `token_type`; neither the
//! access token nor the refresh token of the body appears in the `Debug` of the result or in the
//! `Debug`/`Display` of an error. A CIBA request read from the body expires no earlier than
//! `now`, polls at 1 s to 10 min, and its `auth_req_id` appears in nothing printed. The same
//! body and headers as a CIBA ping callback (`verify_ping_notification`), with the expected
//! bearer token or another: a wrong token is refused before the body is read, an accepted ping
//! names the body's `auth_req_id`, and neither token nor the id is printed.
#![no_main]

mod shared;

use std::time::{Duration, UNIX_EPOCH};

use oauth_core::oauth2::{
    ClientNotificationToken, PingNotificationError, parse_backchannel_authentication_response,
    verify_ping_notification,
};

use http::{HeaderMap, HeaderValue, StatusCode};
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use oauth_core::oauth2::introspection::parse_introspection_response;
use oauth_core::oauth2::par::parse_par_response;
use oauth_core::oauth2::revocation::parse_revocation_response;
use oauth_core::oauth2::{Compliance, parse_device_authorization_response, parse_token_response};

use shared::{plain_members, plain_secrets};

#[derive(Debug, Arbitrary)]
enum ContentType {
    None,
    Json,
    JsonCharset,
    Form,
    Text,
    Html,
    Two,
    Raw(Vec<u8>),
}

#[derive(Debug, Arbitrary)]
struct Input<'a> {
    status: u16,
    content_type: ContentType,
    profile: u8,
    now_secs: u64,
    body: &'a [u8],
}

fn compliance(profile: u8) -> Compliance {
    match profile % 8 {
        0 => Compliance::strict(),
        1 => Compliance::github(),
        2 => Compliance::facebook(),
        3 => Compliance::linkedin(),
        4 => Compliance::slack(),
        5 => Compliance::strict().max_body_bytes(64),
        6 => Compliance::strict()
            .accept_form_encoded_responses()
            .assume_bearer_when_token_type_missing()
            .accept_expires_alias()
            .lenient_expires_in()
            .accept_scope_lists(),
        _ => Compliance::strict().lenient_expires_in(),
    }
}

fuzz_target!(|input: Input<'_>| {
    let Ok(status) = StatusCode::from_u16(100 + input.status % 500) else {
        return;
    };
    let mut headers = HeaderMap::new();
    let ct = |s: &'static str| HeaderValue::from_static(s);
    match &input.content_type {
        ContentType::None => {}
        ContentType::Json => {
            headers.insert("content-type", ct("application/json"));
        }
        ContentType::JsonCharset => {
            headers.insert("content-type", ct("application/json; charset=UTF-8"));
        }
        ContentType::Form => {
            headers.insert("content-type", ct("application/x-www-form-urlencoded"));
        }
        ContentType::Text => {
            headers.insert("content-type", ct("text/plain"));
        }
        ContentType::Html => {
            headers.insert("content-type", ct("text/html"));
        }
        ContentType::Two => {
            headers.append("content-type", ct("application/json"));
            headers.append("content-type", ct("text/html"));
        }
        ContentType::Raw(bytes) => {
            if let Ok(value) = HeaderValue::from_bytes(bytes) {
                headers.insert("content-type", value);
            }
        }
    }
    let Some(now) = UNIX_EPOCH.checked_add(Duration::from_secs(input.now_secs)) else {
        return;
    };
    let compliance = compliance(input.profile);
    let result = parse_token_response(status, &headers, input.body, now, &compliance);

    // Only a body read as JSON is searched: a form-encoded body can legitimately carry the
    // same text in, say, its scope.
    let json = matches!(
        input.content_type,
        ContentType::Json | ContentType::JsonCharset
    );
    let secrets = if json {
        plain_secrets(input.body)
    } else {
        Vec::new()
    };
    let printed = match &result {
        Ok(token) => {
            assert!(!token.access_token().secret().is_empty());
            assert!(!token.token_type().as_str().is_empty());
            if let Some(expires_at) = token.expires_at() {
                assert!(expires_at >= now, "expiry before receipt");
            }
            format!("{token:?} {token:#?}")
        }
        Err(error) => format!("{error} {error:?} {error:#?}"),
    };
    // The other responses shaped like a token endpoint's: no panic either, and the same
    // secrets stay out of what they print.
    let others = [
        format!(
            "{:?}",
            parse_introspection_response(status, &headers, input.body, &compliance)
        ),
        format!(
            "{:?}",
            parse_par_response(status, &headers, input.body, now, &compliance)
        ),
        format!(
            "{:?}",
            parse_revocation_response(status, &headers, input.body, &compliance)
        ),
        format!(
            "{:?}",
            parse_device_authorization_response(status, &headers, input.body, now, &compliance)
        ),
    ]
    .join(" ");
    for secret in secrets {
        assert!(!printed.contains(&secret), "secret printed: {printed}");
        assert!(!others.contains(&secret), "secret printed: {others}");
    }

    // CIBA (OpenID Connect CIBA Core §7.3): the `auth_req_id` is a credential too.
    let ciba =
        parse_backchannel_authentication_response(status, &headers, input.body, now, &compliance);
    let ciba_printed = match &ciba {
        Ok(pending) => {
            assert!(pending.expires_at() >= now, "expiry before receipt");
            assert!(pending.interval() >= Duration::from_secs(1));
            assert!(pending.interval() <= Duration::from_secs(600));
            format!("{pending:?} {pending:#?}")
        }
        Err(error) => format!("{error} {error:?} {error:#?}"),
    };
    if json {
        for secret in plain_members(input.body, &["auth_req_id"]) {
            assert!(
                !ciba_printed.contains(&secret),
                "auth_req_id printed: {ciba_printed}"
            );
        }
    }

    // A CIBA ping callback (CIBA Core §10.2) with this body: the right bearer token, or not.
    const EXPECTED: &str = "expected-notification-token-0123456789";
    let Ok(expected) = ClientNotificationToken::new(EXPECTED) else {
        return;
    };
    let right = input.profile & 8 == 0;
    let presented = if right {
        EXPECTED
    } else {
        "another-notification-token-0123456789"
    };
    if let Ok(value) = HeaderValue::from_str(&format!("Bearer {presented}")) {
        headers.insert("authorization", value);
    }
    let ping = verify_ping_notification(&headers, input.body, &expected);
    let ping_printed = match &ping {
        Ok(id) => {
            assert!(right, "a wrong token was accepted");
            assert!(!id.secret().is_empty());
            format!("{id:?}")
        }
        Err(error) => {
            assert!(
                right || *error == PingNotificationError::WrongToken,
                "{error:?}"
            );
            format!("{error} {error:?} {error:#?}")
        }
    };
    assert!(
        !ping_printed.contains(EXPECTED),
        "token printed: {ping_printed}"
    );
    assert!(
        !ping_printed.contains(presented),
        "token printed: {ping_printed}"
    );
    if let Ok(id) = &ping {
        // An accepted ping is a JSON object naming it (its members are unique: no doubt which).
        let body: serde_json::Value = serde_json::from_slice(input.body).expect("accepted: JSON");
        assert_eq!(body["auth_req_id"].as_str(), Some(id.secret()));
    }
    for secret in plain_members(input.body, &["auth_req_id"]) {
        assert!(
            !ping_printed.contains(&secret),
            "auth_req_id printed: {ping_printed}"
        );
    }
});
