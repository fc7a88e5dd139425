//! Token endpoint response parsing: SECURITY.md §4.2 (#11–26), §4.3 (#27–34), the RFC 6749
//! §5.1/§5.2 examples, and each built-in compliance hook.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use http::header::CONTENT_TYPE;
use http::{HeaderMap, HeaderValue, StatusCode};
use oauth_core::oauth2::token::MAX_EXPIRES_IN;
use oauth_core::oauth2::{
    AppliedFixes, Compliance, ComplianceFix, ComplianceHook, ErrorCode, Token, TokenResponseError,
    TokenType, TokenUseError, parse_token_response, parse_token_response_with_fixes,
};

fn now() -> SystemTime {
    UNIX_EPOCH + Duration::from_secs(1_700_000_000)
}

fn headers(content_type: &str) -> HeaderMap {
    let mut h = HeaderMap::new();
    h.insert(CONTENT_TYPE, HeaderValue::from_str(content_type).unwrap());
    h
}

fn json(status: u16, body: &str) -> Result<Token, TokenResponseError> {
    json_with(status, body, &Compliance::strict())
}

fn json_with(status: u16, body: &str, c: &Compliance) -> Result<Token, TokenResponseError> {
    parse_token_response(
        StatusCode::from_u16(status).unwrap(),
        &headers("application/json"),
        body.as_bytes(),
        now(),
        c,
    )
}

fn ok(body: &str) -> Token {
    json(200, body).unwrap()
}

fn expires_in_secs(t: &Token) -> Option<u64> {
    t.expires_at()
        .map(|at| at.duration_since(now()).unwrap().as_secs())
}

fn with_expires(value: &str) -> Result<Token, TokenResponseError> {
    json(
        200,
        &format!(r#"{{"access_token":"a","token_type":"Bearer","expires_in":{value}}}"#),
    )
}

// ---- RFC examples ----

#[test]
fn rfc6749_s5_1_successful_response() {
    let body = r#"{
       "access_token":"2YotnFZFEjr1zCsicMWpAA",
       "token_type":"example",
       "expires_in":3600,
       "refresh_token":"tGzv3JOkF0XG5Qx2TlKWIA",
       "example_parameter":"example_value"
     }"#;
    let t = parse_token_response(
        StatusCode::OK,
        &headers("application/json;charset=UTF-8"),
        body.as_bytes(),
        now(),
        &Compliance::strict(),
    )
    .unwrap();
    assert_eq!(t.access_token().secret(), "2YotnFZFEjr1zCsicMWpAA");
    assert_eq!(t.token_type(), &TokenType::Other("example".into()));
    assert_eq!(expires_in_secs(&t), Some(3600));
    assert_eq!(
        t.refresh_token().unwrap().secret(),
        "tGzv3JOkF0XG5Qx2TlKWIA"
    );
    assert_eq!(t.extra()["example_parameter"], "example_value");
    // "example" is not a type we understand: never sent as Bearer (RFC 6749 §7.1).
    assert!(matches!(
        t.authorization_header_value(),
        Err(TokenUseError::UnsupportedTokenType { .. })
    ));
}

#[test]
fn rfc6749_s5_2_error_response() {
    let err = json(400, r#"{"error":"invalid_request"}"#).unwrap_err();
    let TokenResponseError::OAuth { status, error } = &err else {
        panic!("not an OAuth error response: {err:?}");
    };
    assert_eq!(*status, StatusCode::BAD_REQUEST);
    assert_eq!(error.code, ErrorCode::InvalidRequest);
    assert_eq!(error.description, None);
    assert_eq!(error.uri, None);
    assert!(!err.is_transient());
}

// ---- §4.2 malformed token responses ----

#[test]
fn s4_2_case11_broken_json_and_non_objects() {
    for body in ["broken json", "", "{\"access_token\":"] {
        assert!(
            matches!(json(200, body), Err(TokenResponseError::InvalidJson { .. })),
            "{body:?}"
        );
    }
    for body in ["null", "[]", "\"str\"", "42", "true"] {
        assert_eq!(
            json(200, body).unwrap_err(),
            TokenResponseError::NotAnObject,
            "{body}"
        );
    }
    // The error never repeats the body.
    let err = json(200, "broken json SENTINEL").unwrap_err();
    assert!(!format!("{err} {err:?}").contains("SENTINEL"));
}

#[test]
fn s4_2_case12_missing_or_empty_access_token() {
    assert_eq!(
        json(200, r#"{"token_type":"Bearer"}"#).unwrap_err(),
        TokenResponseError::MissingAccessToken
    );
    assert_eq!(
        json(200, r#"{"access_token":"","token_type":"Bearer"}"#).unwrap_err(),
        TokenResponseError::MissingAccessToken
    );
    assert_eq!(
        json(200, r#"{"access_token":null,"token_type":"Bearer"}"#).unwrap_err(),
        TokenResponseError::MissingAccessToken
    );
    assert_eq!(
        json(200, r#"{"access_token":5,"token_type":"Bearer"}"#).unwrap_err(),
        TokenResponseError::InvalidField {
            field: "access_token",
            expected: "a string"
        }
    );
}

#[test]
fn s4_2_case13_missing_token_type_strict_and_compat() {
    assert_eq!(
        json(200, r#"{"access_token":"x"}"#).unwrap_err(),
        TokenResponseError::MissingTokenType
    );
    let t = json_with(200, r#"{"access_token":"x"}"#, &Compliance::linkedin()).unwrap();
    assert_eq!(t.token_type(), &TokenType::Bearer);
}

#[test]
fn s4_2_case14_token_type_case_insensitive() {
    for tt in ["BEARER", "bearer", "Bearer", "bEaReR"] {
        let t = ok(&format!(r#"{{"access_token":"x","token_type":"{tt}"}}"#));
        assert_eq!(t.token_type(), &TokenType::Bearer);
        assert_eq!(t.authorization_header_value().unwrap(), "Bearer x");
    }
}

#[test]
fn s4_2_case15_unknown_token_types_never_bearer() {
    for tt in ["mac", "N_A", "pop"] {
        let t = ok(&format!(r#"{{"access_token":"x","token_type":"{tt}"}}"#));
        assert_eq!(t.token_type(), &TokenType::Other(tt.into()));
        assert!(matches!(
            t.authorization_header_value(),
            Err(TokenUseError::UnsupportedTokenType { .. })
        ));
    }
    assert_eq!(
        json(200, r#"{"access_token":"x","token_type":123}"#).unwrap_err(),
        TokenResponseError::InvalidField {
            field: "token_type",
            expected: "a string"
        }
    );
}

#[test]
fn s4_2_case16_error_with_http_200() {
    let err = json(
        200,
        r#"{"error":"invalid_grant","error_description":"refresh token revoked"}"#,
    )
    .unwrap_err();
    let e = err.oauth_error().unwrap();
    assert_eq!(e.code, ErrorCode::InvalidGrant);
    assert_eq!(e.description.as_deref(), Some("refresh token revoked"));
    assert!(matches!(err, TokenResponseError::OAuth { status, .. } if status == StatusCode::OK));
    // Even alongside an access token.
    let err = json(
        200,
        r#"{"access_token":"x","token_type":"Bearer","error":"server_error"}"#,
    )
    .unwrap_err();
    assert!(err.is_transient());
}

#[test]
fn s4_2_case17_unregistered_code_and_hostile_description() {
    let long = "x".repeat(1_000_000);
    let body = format!(
        r#"{{"error":"my_custom_error","error_description":"quote\" newline\n <script>é {long}"}}"#
    );
    let err = json(400, &body).unwrap_err();
    let e = err.oauth_error().unwrap();
    assert_eq!(e.code, ErrorCode::Other("my_custom_error".into()));
    assert!(e.description.as_ref().unwrap().chars().count() <= 256);
    let shown = err.to_string();
    assert!(!shown.contains('\n'), "{shown}");
    assert!(shown.contains("\\n") && shown.contains("\\\""));
    assert!(shown.len() < 2_000);
}

#[test]
fn s4_2_case18_html_content_type_rejected() {
    let err = parse_token_response(
        StatusCode::OK,
        &headers("text/html; charset=utf-8"),
        b"<html>captive portal</html>",
        now(),
        &Compliance::strict(),
    )
    .unwrap_err();
    assert_eq!(
        err,
        TokenResponseError::UnexpectedContentType {
            content_type: Some("text/html".into())
        }
    );
    let err = parse_token_response(
        StatusCode::OK,
        &HeaderMap::new(),
        br#"{"access_token":"x","token_type":"Bearer"}"#,
        now(),
        &Compliance::strict(),
    )
    .unwrap_err();
    assert_eq!(
        err,
        TokenResponseError::UnexpectedContentType { content_type: None }
    );
    assert_eq!(
        err.to_string(),
        "the token response has no single ASCII Content-Type, and is not JSON"
    );
    let form = TokenResponseError::UnexpectedContentType {
        content_type: Some("application/x-www-form-urlencoded".into()),
    };
    assert!(form.to_string().contains("Compliance::github()"), "{form}");
    // A 502 HTML page is an HttpStatus error, transient.
    let err = parse_token_response(
        StatusCode::BAD_GATEWAY,
        &headers("text/html"),
        b"<html>bad gateway</html>",
        now(),
        &Compliance::strict(),
    )
    .unwrap_err();
    assert_eq!(
        err,
        TokenResponseError::HttpStatus {
            status: StatusCode::BAD_GATEWAY
        }
    );
    assert!(err.is_transient());
}

#[test]
fn s4_2_case19_form_encoded_only_with_compat_hook() {
    let body = b"access_token=gho_abc&token_type=bearer&scope=repo";
    for ct in ["application/x-www-form-urlencoded", "text/plain"] {
        let strict = parse_token_response(
            StatusCode::OK,
            &headers(ct),
            body,
            now(),
            &Compliance::strict(),
        );
        assert!(
            matches!(
                strict,
                Err(TokenResponseError::UnexpectedContentType { .. })
            ),
            "{ct}"
        );
        let t = parse_token_response(
            StatusCode::OK,
            &headers(ct),
            body,
            now(),
            &Compliance::strict().accept_form_encoded_responses(),
        )
        .unwrap();
        assert_eq!(t.access_token().secret(), "gho_abc");
        assert_eq!(t.token_type(), &TokenType::Bearer);
    }
    // Duplicates are rejected in form bodies too.
    let err = parse_token_response(
        StatusCode::OK,
        &headers("application/x-www-form-urlencoded"),
        b"access_token=a&access_token=b&token_type=bearer",
        now(),
        &Compliance::github(),
    )
    .unwrap_err();
    assert!(matches!(err, TokenResponseError::DuplicateField { .. }));
}

#[test]
fn s4_2_case20_duplicate_json_keys_rejected() {
    let err = json(
        200,
        r#"{"access_token":"a","access_token":"b","token_type":"Bearer"}"#,
    )
    .unwrap_err();
    assert_eq!(
        err,
        TokenResponseError::DuplicateField {
            name: "access_token".into()
        }
    );
    // Also in error responses, and for unknown members.
    assert!(matches!(
        json(400, r#"{"error":"invalid_grant","error":"server_error"}"#).unwrap_err(),
        TokenResponseError::HttpStatus { .. } | TokenResponseError::DuplicateField { .. }
    ));
    assert!(matches!(
        json(
            200,
            r#"{"access_token":"a","token_type":"Bearer","x":1,"x":2}"#
        )
        .unwrap_err(),
        TokenResponseError::DuplicateField { .. }
    ));
    assert!(matches!(
        json(200, r#"{"error":"invalid_grant","error":"server_error"}"#).unwrap_err(),
        TokenResponseError::DuplicateField { .. }
    ));
}

#[test]
fn s4_2_case21_unknown_members_kept_in_extra() {
    let t =
        ok(r#"{"access_token":"a","token_type":"Bearer","id_token":"eyJ.x.y","foo":{"bar":1}}"#);
    assert_eq!(t.id_token().unwrap().secret(), "eyJ.x.y");
    assert_eq!(t.extra()["foo"]["bar"], 1);
    assert!(!t.extra().contains_key("id_token"));
}

#[test]
fn s4_2_case22_scope_types() {
    let t = ok(r#"{"access_token":"a","token_type":"Bearer","scope":"read write"}"#);
    assert_eq!(t.scope().unwrap().to_string(), "read write");
    for bad in ["null", "5", "[\"read\"]", "{}"] {
        assert!(
            matches!(
                json(
                    200,
                    &format!(r#"{{"access_token":"a","token_type":"Bearer","scope":{bad}}}"#)
                ),
                Err(TokenResponseError::InvalidField { field: "scope", .. })
            ),
            "{bad}"
        );
    }
    let compat = Compliance::strict().accept_scope_lists();
    let t = json_with(
        200,
        r#"{"access_token":"a","token_type":"Bearer","scope":["read","write"]}"#,
        &compat,
    )
    .unwrap();
    assert_eq!(t.scope().unwrap().to_string(), "read write");
    let t = json_with(
        200,
        r#"{"access_token":"a","token_type":"Bearer","scope":"read,write"}"#,
        &compat,
    )
    .unwrap();
    assert_eq!(t.scope().unwrap().to_string(), "read write");
}

#[test]
fn s4_2_case23_refresh_token_null_or_empty_is_absent() {
    for rt in ["null", "\"\""] {
        let t = ok(&format!(
            r#"{{"access_token":"a","token_type":"Bearer","refresh_token":{rt}}}"#
        ));
        assert!(t.refresh_token().is_none(), "{rt}");
    }
}

#[test]
fn s4_2_case24_deep_nesting_is_an_error_not_a_stack_overflow() {
    let deep = format!(
        r#"{{"access_token":"a","token_type":"Bearer","x":{}{}}}"#,
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    assert!(matches!(
        json(200, &deep),
        Err(TokenResponseError::InvalidJson { .. })
    ));
    let deep_objects = format!("{}{}", r#"{"a":"#.repeat(10_000), "}".repeat(10_000));
    assert!(matches!(
        json(200, &deep_objects),
        Err(TokenResponseError::InvalidJson { .. })
    ));
}

#[test]
fn s4_2_case25_invalid_utf8_and_bom() {
    let err = parse_token_response(
        StatusCode::OK,
        &headers("application/json"),
        b"\xff\xfe{}",
        now(),
        &Compliance::strict(),
    )
    .unwrap_err();
    assert_eq!(err, TokenResponseError::InvalidUtf8);
    // Decision: a UTF-8 BOM is not JSON (RFC 8259 §8.1); rejected as invalid JSON.
    let err = json(
        200,
        "\u{feff}{\"access_token\":\"a\",\"token_type\":\"Bearer\"}",
    )
    .unwrap_err();
    assert!(matches!(err, TokenResponseError::InvalidJson { .. }));
}

#[test]
fn s4_2_case26_access_token_with_header_breaking_characters() {
    for bad in ["a\\r\\nX-Injected: 1", "a b", "a,b", "é"] {
        let t = ok(&format!(
            r#"{{"access_token":"{bad}","token_type":"Bearer"}}"#
        ));
        assert_eq!(
            t.authorization_header_value(),
            Err(TokenUseError::InvalidTokenSyntax),
            "{bad}"
        );
        assert!(t.authorization_header().is_err());
    }
}

#[test]
fn response_too_large() {
    let body = format!(
        r#"{{"access_token":"a","token_type":"Bearer","pad":"{}"}}"#,
        "x".repeat(1 << 20)
    );
    assert_eq!(
        json(200, &body).unwrap_err(),
        TokenResponseError::ResponseTooLarge { limit: 1 << 20 }
    );
    let small = Compliance::strict().max_body_bytes(16);
    assert_eq!(
        json_with(200, r#"{"access_token":"a","token_type":"Bearer"}"#, &small).unwrap_err(),
        TokenResponseError::ResponseTooLarge { limit: 16 }
    );
}

#[test]
fn json_suffix_media_types_and_parameters_accepted() {
    for ct in [
        "application/json",
        "Application/JSON; charset=utf-8",
        "application/vnd.x+json",
    ] {
        let t = parse_token_response(
            StatusCode::OK,
            &headers(ct),
            br#"{"access_token":"a","token_type":"Bearer"}"#,
            now(),
            &Compliance::strict(),
        );
        assert!(t.is_ok(), "{ct}");
    }
}

#[test]
fn non_success_status_without_error_member() {
    assert_eq!(
        json(401, r#"{"message":"nope"}"#).unwrap_err(),
        TokenResponseError::HttpStatus {
            status: StatusCode::UNAUTHORIZED
        }
    );
    let redirect = json(302, "").unwrap_err();
    assert_eq!(
        redirect,
        TokenResponseError::HttpStatus {
            status: StatusCode::FOUND
        }
    );
    assert!(!redirect.is_transient());
    assert!(
        json(429, "{}").unwrap_err().is_transient(),
        "429 is transient"
    );
}

// ---- §4.3 expires_in ----

#[test]
fn s4_3_case27_missing_or_null_expires_in_means_unknown_expiry() {
    assert_eq!(
        ok(r#"{"access_token":"a","token_type":"Bearer"}"#).expires_at(),
        None
    );
    assert_eq!(with_expires("null").unwrap().expires_at(), None);
}

#[test]
fn s4_3_case28_strict_decimal_string_accepted() {
    assert_eq!(
        expires_in_secs(&with_expires("\"3600\"").unwrap()),
        Some(3600)
    );
    for bad in ["\"3600abc\"", "\" 3600\"", "\"3.6e3\"", "\"-1\""] {
        assert_eq!(
            with_expires(bad).unwrap_err(),
            TokenResponseError::InvalidExpiresIn,
            "{bad}"
        );
    }
}

#[test]
fn s4_3_case29_zero_is_already_expired() {
    let t = with_expires("0").unwrap();
    assert_eq!(t.expires_at(), Some(now()));
    assert!(t.is_expired(now()));
}

#[test]
fn s4_3_case30_negative_rejected() {
    assert_eq!(
        with_expires("-5").unwrap_err(),
        TokenResponseError::InvalidExpiresIn
    );
    assert_eq!(
        with_expires("-0.5").unwrap_err(),
        TokenResponseError::InvalidExpiresIn
    );
}

#[test]
fn s4_3_case31_floats_are_floored() {
    assert_eq!(
        expires_in_secs(&with_expires("3600.7").unwrap()),
        Some(3600)
    );
    assert_eq!(expires_in_secs(&with_expires("1e3").unwrap()), Some(1000));
}

#[test]
fn s4_3_case32_huge_values_clamped_without_panic() {
    let max = MAX_EXPIRES_IN.as_secs();
    for huge in [
        "18446744073709551616",
        "9223372036854775808",
        "1e300",
        "1e309",
        "1E+99999",
        "\"99999999999999999999999\"",
    ] {
        assert_eq!(
            expires_in_secs(&with_expires(huge).unwrap()),
            Some(max),
            "{huge}"
        );
    }
    // Beyond a float the other way: negative, so refused like any negative expires_in.
    assert_eq!(
        with_expires("-1e309").unwrap_err(),
        TokenResponseError::InvalidExpiresIn
    );
    // Receipt time close to SystemTime's maximum: no overflow panic.
    let far = UNIX_EPOCH + Duration::from_secs(i64::MAX as u64 / 2);
    let t = parse_token_response(
        StatusCode::OK,
        &headers("application/json"),
        br#"{"access_token":"a","token_type":"Bearer","expires_in":18446744073709551615}"#,
        far,
        &Compliance::strict(),
    )
    .unwrap();
    assert!(t.expires_at().is_some());
}

/// Saturating a number beyond a float (`1e999`) rewrites number tokens only: members are kept
/// as received (RFC 6749 §5.1), so a string in the same response that holds such a number
/// after its first character, or in a key, is left alone.
#[test]
fn s4_3_case32_saturating_a_huge_number_leaves_strings_as_received() {
    let t = ok(
        r#"{"access_token":"a","token_type":"Bearer","expires_in":1e999,
        "note":"x1e999","range":"0..-1e999","k1e999x":true}"#,
    );
    assert_eq!(expires_in_secs(&t), Some(MAX_EXPIRES_IN.as_secs()));
    assert_eq!(t.extra()["note"], "x1e999");
    assert_eq!(t.extra()["range"], "0..-1e999");
    assert_eq!(t.extra()["k1e999x"], true);
}

/// A decimal-integer string is a documented `expires_in` form whatever its size: a 40-digit
/// one (far beyond `u64`) clamps like the 23-digit one above, it is not refused.
#[test]
fn s4_3_case32_a_forty_digit_string_clamps() {
    let forty = format!("\"{}\"", "9".repeat(40));
    assert_eq!(
        expires_in_secs(&with_expires(&forty).unwrap()),
        Some(MAX_EXPIRES_IN.as_secs())
    );
}

/// Longer decimal strings clamp too, as the same digits do as a JSON number: refusing them
/// would cost the whole response (and with it a possibly rotated refresh token).
#[test]
fn s4_3_case32_any_length_of_decimal_string_clamps() {
    for digits in [41, 400] {
        let long = "9".repeat(digits);
        for value in [format!("\"{long}\""), long] {
            assert_eq!(
                expires_in_secs(&with_expires(&value).unwrap()),
                Some(MAX_EXPIRES_IN.as_secs()),
                "{digits} digits"
            );
        }
    }
}

#[test]
fn s4_3_case33_wrong_types_rejected() {
    for bad in ["true", "{}", "[]"] {
        assert_eq!(
            with_expires(bad).unwrap_err(),
            TokenResponseError::InvalidField {
                field: "expires_in",
                expected: "a number"
            },
            "{bad}"
        );
    }
    for bad in ["\"zzz\"", "\"\""] {
        assert_eq!(
            with_expires(bad).unwrap_err(),
            TokenResponseError::InvalidExpiresIn,
            "{bad}"
        );
    }
}

// #34 (expires_in: 5 with a 60 s margin) is a state-machine property: see
// oauth2_refresh.rs `s4_3_case34_short_lifetime_no_refresh_storm`.

// ---- compliance hooks ----

#[test]
fn compliance_github_legacy_form_response() {
    let t = parse_token_response(
        StatusCode::OK,
        &headers("application/x-www-form-urlencoded; charset=utf-8"),
        b"access_token=e72e16c7e42f292c6912e7710c838347ae178b4a&scope=repo%2Cgist&token_type=bearer",
        now(),
        &Compliance::github(),
    )
    .unwrap();
    assert_eq!(t.scope().unwrap().to_string(), "repo gist");
    assert_eq!(t.token_type(), &TokenType::Bearer);
}

#[test]
fn compliance_facebook_expires_alias() {
    let body = b"access_token=EAAB&expires=5183999";
    let strict = parse_token_response(
        StatusCode::OK,
        &headers("text/plain"),
        body,
        now(),
        &Compliance::strict(),
    );
    assert!(strict.is_err());
    let t = parse_token_response(
        StatusCode::OK,
        &headers("text/plain"),
        body,
        now(),
        &Compliance::facebook(),
    )
    .unwrap();
    assert_eq!(expires_in_secs(&t), Some(5_183_999));
    assert_eq!(t.token_type(), &TokenType::Bearer);
    // JSON too.
    let t = json_with(
        200,
        r#"{"access_token":"a","token_type":"bearer","expires":60}"#,
        &Compliance::strict().accept_expires_alias(),
    )
    .unwrap();
    assert_eq!(expires_in_secs(&t), Some(60));
    // Without the hook `expires` is just an extra member.
    let t = ok(r#"{"access_token":"a","token_type":"bearer","expires":60}"#);
    assert_eq!(t.expires_at(), None);
}

#[test]
fn compliance_expires_in_string_lenient() {
    let body = r#"{"access_token":"a","token_type":"Bearer","expires_in":" 3600.0 "}"#;
    assert_eq!(
        json(200, body).unwrap_err(),
        TokenResponseError::InvalidExpiresIn
    );
    let t = json_with(200, body, &Compliance::strict().lenient_expires_in()).unwrap();
    assert_eq!(expires_in_secs(&t), Some(3600));
    let bad = r#"{"access_token":"a","token_type":"Bearer","expires_in":"soon"}"#;
    assert_eq!(
        json_with(200, bad, &Compliance::strict().lenient_expires_in()).unwrap_err(),
        TokenResponseError::InvalidExpiresIn
    );
}

#[test]
fn compliance_linkedin_missing_token_type() {
    let body = r#"{"access_token":"AQX","expires_in":5184000}"#;
    assert_eq!(
        json(200, body).unwrap_err(),
        TokenResponseError::MissingTokenType
    );
    let t = json_with(200, body, &Compliance::linkedin()).unwrap();
    assert_eq!(t.token_type(), &TokenType::Bearer);
    // An error response stays an error.
    let err = json_with(200, r#"{"error":"invalid_grant"}"#, &Compliance::linkedin()).unwrap_err();
    assert!(err.oauth_error().is_some());
}

#[test]
fn compliance_scope_array_and_comma() {
    let c = Compliance::strict().accept_scope_lists();
    let t = json_with(
        200,
        r#"{"access_token":"a","token_type":"Bearer","scope":["a","b","a"]}"#,
        &c,
    )
    .unwrap();
    assert_eq!(t.scope().unwrap().to_string(), "a b");
    // A non-string array stays an error.
    assert!(
        json_with(
            200,
            r#"{"access_token":"a","token_type":"Bearer","scope":[1]}"#,
            &c
        )
        .is_err()
    );
}

#[test]
fn compliance_slack_nested_user_token() {
    let body = r#"{"ok":true,"app_id":"A0KRD7HC3","authed_user":{"id":"U1234",
        "scope":"chat:write,users:read","access_token":"xoxp-1234","token_type":"user"},
        "team":{"id":"T9TK3CUKW","name":"Slack Softball Team"}}"#;
    assert_eq!(
        json(200, body).unwrap_err(),
        TokenResponseError::MissingAccessToken
    );
    let t = json_with(200, body, &Compliance::slack()).unwrap();
    assert_eq!(t.access_token().secret(), "xoxp-1234");
    assert_eq!(t.token_type(), &TokenType::Bearer);
    assert_eq!(t.scope().unwrap().to_string(), "chat:write users:read");
    assert_eq!(t.extra()["authed_user"]["id"], "U1234");
    // Bot token at the top level.
    let bot = r#"{"ok":true,"access_token":"xoxb-17653672481","token_type":"bot",
        "scope":"commands,incoming-webhook","authed_user":{"id":"U1234"}}"#;
    let t = json_with(200, bot, &Compliance::slack()).unwrap();
    assert_eq!(t.access_token().secret(), "xoxb-17653672481");
    assert_eq!(t.token_type(), &TokenType::Bearer);
    // Slack errors come with HTTP 200.
    let err = json_with(
        200,
        r#"{"ok":false,"error":"invalid_code"}"#,
        &Compliance::slack(),
    )
    .unwrap_err();
    assert_eq!(
        err.oauth_error().unwrap().code,
        ErrorCode::Other("invalid_code".into())
    );
}

/// Slack's `oauth.v2.access` with bot and user scopes answers both tokens: the bot token at
/// the top level is the one read (with its own scope), and the user's stays in `authed_user`.
/// A top-level `access_token` of `null` is no token, so the nested one is read then. Reading
/// the nested token is reported as the Slack fix even when its `token_type` needs no mapping.
#[test]
fn compliance_slack_prefers_the_top_level_token_and_reports_the_hoist() {
    let both = r#"{"ok":true,"access_token":"xoxb-17653672481","token_type":"bot",
        "scope":"commands,incoming-webhook","bot_user_id":"U0KRQLJ9H",
        "authed_user":{"id":"U1234","scope":"chat:write","access_token":"xoxp-1234",
        "token_type":"user"}}"#;
    let t = json_with(200, both, &Compliance::slack()).unwrap();
    assert_eq!(t.access_token().secret(), "xoxb-17653672481");
    assert_eq!(t.scope().unwrap().to_string(), "commands incoming-webhook");
    assert_eq!(t.extra()["authed_user"]["scope"], "chat:write");

    let null_top = r#"{"ok":true,"access_token":null,
        "authed_user":{"id":"U1234","scope":"chat:write","access_token":"xoxp-1234",
        "token_type":"user"}}"#;
    let t = json_with(200, null_top, &Compliance::slack()).unwrap();
    assert_eq!(t.access_token().secret(), "xoxp-1234");
    assert_eq!(t.scope().unwrap().to_string(), "chat:write");

    let nested_bearer = r#"{"ok":true,"authed_user":{"id":"U1234","access_token":"xoxp-1234",
        "token_type":"Bearer"}}"#;
    let applied = fixes("application/json", nested_bearer, &Compliance::slack());
    assert_eq!(
        applied.iter().collect::<Vec<_>>(),
        [ComplianceFix::SlackNestedResponse]
    );
}

#[derive(Debug)]
struct RenameToken;

impl ComplianceHook for RenameToken {
    fn adjust_token_request(&self, request: &mut http::Request<oauth_core::oauth2::SensitiveBody>) {
        request
            .headers_mut()
            .insert("x-provider-quirk", HeaderValue::from_static("1"));
    }

    fn normalize_token_response(&self, members: &mut serde_json::Map<String, serde_json::Value>) {
        if let Some(v) = members.remove("accessToken") {
            members.insert("access_token".into(), v);
        }
    }
}

#[test]
fn compliance_custom_hook() {
    let c = Compliance::strict().with_hook(Arc::new(RenameToken));
    let t = json_with(200, r#"{"accessToken":"a","token_type":"Bearer"}"#, &c).unwrap();
    assert_eq!(t.access_token().secret(), "a");
    let mut req = http::Request::new(oauth_core::oauth2::SensitiveBody::default());
    c.adjust_token_request(&mut req);
    assert_eq!(req.headers()["x-provider-quirk"], "1");
}

fn fixes(content_type: &str, body: &str, c: &Compliance) -> AppliedFixes {
    let (_, fixes) = parse_token_response_with_fixes(
        StatusCode::OK,
        &headers(content_type),
        body.as_bytes(),
        now(),
        c,
    )
    .unwrap();
    fixes
}

/// SECURITY.md §4.2 #13 (compat mode assumes `Bearer` "with a log line"): the parser says which
/// fixes a response needed, so the grant client can log them; a response that follows RFC
/// 6749 needs none, even under a lenient preset.
#[test]
fn s4_2_case13_the_parser_says_which_compliance_fixes_a_response_needed() {
    let json = "application/json";
    let everything = Compliance::facebook()
        .accept_scope_lists()
        .with_hook(Arc::new(RenameToken));
    let rfc = r#"{"access_token":"a","token_type":"Bearer","expires_in":"3600","scope":"a b"}"#;
    assert!(fixes(json, rfc, &everything).is_empty());
    assert_eq!(format!("{:?}", fixes(json, rfc, &everything)), "{}");

    let cases: [(&str, &str, Compliance, ComplianceFix); 7] = [
        (
            json,
            r#"{"access_token":"AQX","expires_in":5184000}"#,
            Compliance::linkedin(),
            ComplianceFix::AssumedBearer,
        ),
        (
            "application/x-www-form-urlencoded",
            "access_token=gho_x&token_type=bearer",
            Compliance::github(),
            ComplianceFix::FormEncodedResponse,
        ),
        (
            json,
            r#"{"access_token":"a","token_type":"Bearer","expires":60}"#,
            Compliance::strict().accept_expires_alias(),
            ComplianceFix::ExpiresAlias,
        ),
        (
            json,
            r#"{"access_token":"a","token_type":"Bearer","expires_in":" 3600.0 "}"#,
            Compliance::strict().lenient_expires_in(),
            ComplianceFix::LenientExpiresIn,
        ),
        (
            json,
            r#"{"access_token":"a","token_type":"Bearer","scope":"a,b"}"#,
            Compliance::strict().accept_scope_lists(),
            ComplianceFix::ScopeList,
        ),
        (
            json,
            r#"{"ok":true,"access_token":"xoxb-1","token_type":"bot"}"#,
            Compliance::slack(),
            ComplianceFix::SlackNestedResponse,
        ),
        (
            json,
            r#"{"accessToken":"a","token_type":"Bearer"}"#,
            Compliance::strict().with_hook(Arc::new(RenameToken)),
            ComplianceFix::CustomHook,
        ),
    ];
    for (content_type, body, compliance, fix) in cases {
        let applied = fixes(content_type, body, &compliance);
        assert_eq!(applied.iter().collect::<Vec<_>>(), [fix], "{body}");
        assert_eq!(applied.to_string(), fix.name());
    }

    // Facebook's legacy answer needs four at once, named in a fixed order, with no value in
    // the text.
    let facebook = fixes(
        "text/plain",
        "access_token=EAAB-secret&expires=5183999.0",
        &Compliance::facebook(),
    );
    assert_eq!(
        facebook.to_string(),
        "form_encoded_response, assumed_bearer, expires_alias, lenient_expires_in"
    );
    assert!(!facebook.contains(ComplianceFix::ScopeList));
    assert!(!format!("{facebook:?}").contains("EAAB"));
}

/// A response that needed a fix reports a set that is not empty (the grant client logs the
/// fixes exactly when `!is_empty()`), and each fix displays as its documented log name.
#[test]
fn a_needed_fix_is_reported_and_each_fix_displays_as_its_log_name() {
    let applied = fixes(
        "application/json",
        r#"{"access_token":"AQX","expires_in":5184000}"#,
        &Compliance::linkedin(),
    );
    assert!(!applied.is_empty());
    assert!(applied.contains(ComplianceFix::AssumedBearer));

    for (fix, name) in [
        (ComplianceFix::FormEncodedResponse, "form_encoded_response"),
        (ComplianceFix::AssumedBearer, "assumed_bearer"),
        (ComplianceFix::ExpiresAlias, "expires_alias"),
        (ComplianceFix::LenientExpiresIn, "lenient_expires_in"),
        (ComplianceFix::ScopeList, "scope_list"),
        (ComplianceFix::SlackNestedResponse, "slack_nested_response"),
        (ComplianceFix::CustomHook, "custom_hook"),
    ] {
        assert_eq!(fix.name(), name);
        assert_eq!(fix.to_string(), name);
    }
}

/// A JSON success that is not a valid token is told apart from bodies that are no token
/// response at all and from server errors: the first will not change by retrying.
#[test]
fn malformed_tokens_are_told_apart() {
    for body in [
        r#"{"token_type":"Bearer"}"#,
        r#"{"access_token":"a"}"#,
        r#"{"access_token":"a","token_type":"Bearer","expires_in":"soon"}"#,
        r#"{"access_token":"a","access_token":"b","token_type":"Bearer"}"#,
    ] {
        assert!(json(200, body).unwrap_err().is_malformed_token(), "{body}");
    }
    for (status, body) in [
        (200, "not json"),
        (200, "[]"),
        (503, "{}"),
        (400, r#"{"error":"invalid_grant"}"#),
    ] {
        assert!(
            !json(status, body).unwrap_err().is_malformed_token(),
            "{status} {body}"
        );
    }
}

// ---- more SECURITY.md §4 cases ----

/// SECURITY.md §4.2 #12 with the table's literal inputs: `{"access_token":""}` (no
/// `token_type` either) is still `MissingAccessToken`, not a token-type error.
#[test]
fn s4_2_case12_literal_inputs_from_the_table() {
    assert_eq!(
        json(200, r#"{"token_type":"Bearer"}"#).unwrap_err(),
        TokenResponseError::MissingAccessToken
    );
    assert_eq!(
        json(200, r#"{"access_token":""}"#).unwrap_err(),
        TokenResponseError::MissingAccessToken
    );
}

/// SECURITY.md §4.10 #89: a persisted token reloaded with a far-future absolute `expires_at`
/// is clamped, to the end of year 9999 (every platform's `SystemTime` holds it), and a later
/// stored expiry never loads as an earlier one (`u64::MAX` used to load as 2038-01-19, before
/// a stored year 9999).
#[test]
fn s4_10_case89_far_future_persisted_expiry_is_clamped() {
    let load = |secs: &str| -> Token {
        serde_json::from_str(&format!(
            r#"{{"access_token":"a","token_type":"Bearer","expires_at":{secs}}}"#
        ))
        .unwrap()
    };
    let unix = |t: &Token| {
        t.expires_at()
            .unwrap()
            .duration_since(UNIX_EPOCH)
            .unwrap()
            .as_secs()
    };
    const END_OF_9999: u64 = 253_402_300_799;
    assert_eq!(unix(&load("253402300799")), END_OF_9999);
    assert_eq!(unix(&load("253402300800")), END_OF_9999);
    assert_eq!(unix(&load("18446744073709551615")), END_OF_9999);
    assert_eq!(unix(&load("1700000000")), 1_700_000_000);
    // In the past: loaded as it is, and expired.
    let past = load("1");
    assert!(past.expires_at().unwrap() < SystemTime::now());
}

/// SECURITY.md §4.2 #20: duplicates spelt differently (a `\u` escape in the key) are
/// the same member after decoding, so still `DuplicateField`; nested duplicates are refused too.
#[test]
fn s4_2_case20_escaped_and_nested_duplicates() {
    let err = json(
        200,
        r#"{"access_token":"a","acc\u0065ss_token":"b","token_type":"Bearer"}"#,
    )
    .unwrap_err();
    assert!(
        matches!(err, TokenResponseError::DuplicateField { .. }),
        "{err:?}"
    );
    let err = json(
        200,
        r#"{"access_token":"a","token_type":"Bearer","foo":{"x":1,"x":2}}"#,
    );
    assert!(
        matches!(err, Err(TokenResponseError::DuplicateField { .. })),
        "{err:?}"
    );
}

/// An error code prints as its wire value: escaped in `Display` (it comes from the network,
/// RFC 6749 §5.2), and in `Debug` as the value for a registered code and `Other("..")` for
/// any other.
#[test]
fn error_codes_print_as_their_wire_value_escaped() {
    assert_eq!(ErrorCode::InvalidGrant.to_string(), "invalid_grant");
    assert_eq!(format!("{:?}", ErrorCode::InvalidGrant), "invalid_grant");
    let odd = ErrorCode::parse("weird\"\ncode");
    assert_eq!(odd.to_string(), "weird\\\"\\ncode");
    assert_eq!(format!("{odd:?}"), r#"Other("weird\"\ncode")"#);
}

/// The hint to use a form-accepting `Compliance` profile is given for a form-encoded response
/// only, not for an HTML page or any other type.
#[test]
fn the_form_encoding_hint_is_given_for_form_responses_only() {
    let html = TokenResponseError::UnexpectedContentType {
        content_type: Some("text/html".into()),
    };
    assert_eq!(
        html.to_string(),
        "the token response is text/html, not JSON"
    );
    let form = TokenResponseError::UnexpectedContentType {
        content_type: Some("Application/X-WWW-Form-URLEncoded".into()),
    };
    assert!(form.to_string().contains("Compliance::github()"), "{form}");
}

/// Only errors that can pass are transient: `server_error`/`temporarily_unavailable`, or an
/// unknown code on a 408/429/5xx. A known final code (`invalid_grant`) stays final on a 5xx,
/// and an unknown code on a 400 is not retried.
#[test]
fn a_final_error_code_is_not_transient_whatever_the_status() {
    let oauth =
        |status: u16, code: &str| json(status, &format!(r#"{{"error":"{code}"}}"#)).unwrap_err();
    assert!(!oauth(503, "invalid_grant").is_transient());
    assert!(!oauth(500, "invalid_client").is_transient());
    assert!(!oauth(400, "weird_code").is_transient());
    assert!(oauth(503, "weird_code").is_transient());
    assert!(oauth(429, "weird_code").is_transient());
    assert!(oauth(400, "temporarily_unavailable").is_transient());
}

/// The body limit is inclusive: a body of exactly the limit is read.
#[test]
fn a_body_of_exactly_the_limit_is_read() {
    let body = r#"{"access_token":"x","token_type":"Bearer"}"#;
    let exact = Compliance::strict().max_body_bytes(body.len());
    assert!(json_with(200, body, &exact).is_ok());
    let short = Compliance::strict().max_body_bytes(body.len() - 1);
    assert_eq!(
        json_with(200, body, &short).unwrap_err(),
        TokenResponseError::ResponseTooLarge {
            limit: body.len() - 1
        }
    );
}

/// An `error` member that is not a non-empty string is no OAuth error (there is no code to
/// report): on a success status the response is malformed, on an error status it is an HTTP
/// error.
#[test]
fn an_error_member_without_a_code_is_malformed_or_an_http_error() {
    for body in [r#"{"error":""}"#, r#"{"error":42}"#, r#"{"error":["x"]}"#] {
        assert_eq!(
            json(200, body).unwrap_err(),
            TokenResponseError::InvalidField {
                field: "error",
                expected: "a non-empty string"
            },
            "{body}"
        );
        assert_eq!(
            json(400, body).unwrap_err(),
            TokenResponseError::HttpStatus {
                status: StatusCode::BAD_REQUEST
            },
            "{body}"
        );
    }
}

/// R6749-10 (RFC 6749 §5.1: "The client should avoid making assumptions about value sizes"):
/// a one-character token and 256 KiB ones (a large JWT, say) are read whole and sent whole.
#[test]
fn r6749_10_tokens_of_any_length_are_read_and_sent_whole() {
    let long = "eyJ".repeat(256 * 1024 / 3);
    for access in ["a", long.as_str()] {
        let t = ok(&format!(
            r#"{{"access_token":"{access}","token_type":"Bearer","refresh_token":"r{access}"}}"#
        ));
        assert_eq!(t.access_token().secret(), access);
        assert_eq!(t.refresh_token().unwrap().secret(), format!("r{access}"));
        assert_eq!(
            t.authorization_header_value().unwrap(),
            format!("Bearer {access}")
        );
        assert!(t.authorization_header().is_ok());
    }
}
