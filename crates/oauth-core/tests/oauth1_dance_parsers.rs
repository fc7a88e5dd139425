//! The dance parsers in oauth-core: `AuthorizationHeader::new` refusing what `parse` would
//! refuse, a page-typed form that holds a token, a bounded `Debug`, and hostile inputs.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::SystemTime;

use http::{HeaderMap, HeaderValue, StatusCode, header::CONTENT_TYPE};
use oauth_core::oauth1::{
    AuthorizationHeader, CredentialsResponseError, MAX_HEADER_LEN, authorization_url,
    parse_callback, parse_credentials_response,
};
use oauth_core::oauth2::Transport;

fn with_type(content_type: &'static str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(CONTENT_TYPE, HeaderValue::from_static(content_type));
    headers
}

/// `AuthorizationHeader::new` promises an error "when parse would not read its
/// to_header_string back as the same header", but accepts an empty parameter name, whose
/// header (`OAuth ="v"`) `parse` refuses.
#[test]
fn header_new_accepts_an_empty_name_that_parse_refuses() {
    let made = AuthorizationHeader::new(None, vec![(String::new(), "v".to_owned())]);
    if let Ok(header) = made {
        let text = header.to_header_string();
        assert_eq!(
            AuthorizationHeader::parse(&text),
            Ok(header),
            "new accepted a header parse refuses: {text:?}"
        );
    }
}

/// The same promise, for length: `new` accepts parameters whose header is over
/// `MAX_HEADER_LEN`, which `parse` refuses as `TooLong`.
#[test]
fn header_new_accepts_a_header_too_long_for_parse() {
    let made = AuthorizationHeader::new(
        None,
        vec![("oauth_consumer_key".to_owned(), "k".repeat(MAX_HEADER_LEN))],
    );
    if let Ok(header) = made {
        let text = header.to_header_string();
        assert_eq!(
            AuthorizationHeader::parse(&text),
            Ok(header),
            "new accepted a {}-byte header parse refuses",
            text.len()
        );
    }
}

/// A `text/html` form (which the docs say providers send, and which is credentials "whatever its
/// Content-Type") that holds an `oauth_token` but has one bad escape, or one non-UTF-8 byte, in
/// another parameter, is reported as `NotCredentials`, whose message says "(no oauth_token)".
/// Before the change it was `Malformed` ("the body is not form-encoded" / "not UTF-8"); it
/// should still be, as for the same body under `text/plain`.
#[test]
fn a_text_html_form_with_a_token_and_a_bad_escape_is_not_called_not_credentials() {
    for body in [
        &b"oauth_token=t&oauth_token_secret=s&screen_name=100%"[..],
        b"oauth_token=t&oauth_token_secret=s&screen_name=Jos\xe9",
    ] {
        let plain = parse_credentials_response(
            StatusCode::OK,
            &with_type("text/plain"),
            body,
            SystemTime::now(),
        )
        .unwrap_err();
        assert!(
            matches!(plain, CredentialsResponseError::Malformed { .. }),
            "{plain:?}"
        );
        let html = parse_credentials_response(
            StatusCode::OK,
            &with_type("text/html"),
            body,
            SystemTime::now(),
        )
        .unwrap_err();
        assert!(
            matches!(html, CredentialsResponseError::Malformed { .. }),
            "a form holding an oauth_token reported as: {html}"
        );
    }
}

/// Hostile inputs to the new public functions: no panic, nothing echoed.
#[test]
fn hostile_inputs_do_not_panic_or_echo() {
    let statuses = [200u16, 201, 204, 302, 400, 401, 429, 500, 503, 599];
    let bodies: Vec<Vec<u8>> = vec![
        b"".to_vec(),
        b"\xff\xfe\x00SENTINEL".to_vec(),
        b"%".to_vec(),
        b"%%%%SENTINEL".to_vec(),
        b"oauth_token=%E2%82&oauth_token_secret=SENTINEL".to_vec(),
        b"oauth_problem=%C3%A9SENTINEL".to_vec(),
        b"oauth_problem=%00".to_vec(),
        b"&&&&&&&=&=&==".to_vec(),
        b"   \t\n<".to_vec(),
        "oauth_problem=\u{e9}\u{1F600}SENTINEL".as_bytes().to_vec(),
        b"a=b&".repeat(20_000),
        b"<".repeat(1 << 16),
        {
            let mut v = b"oauth_token=t&oauth_token_secret=SENTINEL&".to_vec();
            v.extend(b"x".repeat(1 << 16));
            v
        },
    ];
    let header_sets: Vec<HeaderMap> = {
        let mut sets = vec![HeaderMap::new()];
        for ct in [
            "text/html",
            "application/json",
            "application/SENTINEL+json",
            ";",
            "",
            " ; charset=x",
            "text/html\t;x",
            "*/*",
        ] {
            let mut h = HeaderMap::new();
            h.insert(CONTENT_TYPE, HeaderValue::from_str(ct).unwrap());
            sets.push(h);
        }
        let mut h = HeaderMap::new();
        h.insert(
            CONTENT_TYPE,
            HeaderValue::from_bytes(b"text/\xe9html").unwrap(),
        );
        h.append(CONTENT_TYPE, HeaderValue::from_static("text/html"));
        sets.push(h);
        for www in [
            "OAuth",
            "OAuth ",
            "OAuth oauth_problem",
            "OAuth oauth_problem=",
            "OAuth oauth_problem=\"",
            "OAuth oauth_problem=\"%\"",
            "OAuth oauth_problem=\"%E9\"",
            "oauth\toauth_problem=x",
            "  ",
            "OAuth ,,,,=,=",
        ] {
            let mut h = HeaderMap::new();
            h.insert(
                http::header::WWW_AUTHENTICATE,
                HeaderValue::from_str(www).unwrap(),
            );
            h.insert(
                http::header::RETRY_AFTER,
                HeaderValue::from_static("99999999999999999999"),
            );
            sets.push(h);
        }
        let mut h = HeaderMap::new();
        h.insert(
            http::header::WWW_AUTHENTICATE,
            HeaderValue::from_bytes(b"OAuth oauth_problem=\"\xe9\"").unwrap(),
        );
        h.insert(
            http::header::RETRY_AFTER,
            HeaderValue::from_static("Sun, 06 Nov 1994 08:49:37 GMT"),
        );
        sets.push(h);
        sets
    };
    for now in [SystemTime::UNIX_EPOCH, SystemTime::now()] {
        for &status in &statuses {
            let status = StatusCode::from_u16(status).unwrap();
            for headers in &header_sets {
                for body in &bodies {
                    let out = parse_credentials_response(status, headers, body, now);
                    let printed = match &out {
                        Ok(c) => format!("{c:?}"),
                        Err(e) => format!("{e} {e:?}"),
                    };
                    assert!(!printed.contains("SENTINEL"), "{printed}");
                }
            }
        }
    }

    for endpoint in [
        "",
        "?",
        "#",
        "https://",
        "https://p.example/a?%",
        "https://p.example/a?%zz=1",
        "https://p.example/a?oauth_token",
        "https://p.example/a?&&&",
        "https://p.example/a?oauth%5Ftoken",
        "https://p.example/a?oauth%5ftoken=1&x",
        "https://[::1]/a",
        "http://[::1]:8080/a",
        "\u{e9}",
        "https://p.example/\u{e9}",
    ] {
        for token in ["", "%", "\u{e9}\u{0}", "a&oauth_token=b"] {
            for transport in [Transport::HttpsOnly, Transport::AllowLoopbackHttp] {
                if let Ok(url) = authorization_url(endpoint, token, transport) {
                    let q = url.query().unwrap();
                    assert_eq!(q.matches("oauth_token=").count(), 1, "{url}");
                }
            }
        }
    }
    let long = "x".repeat(70_000);
    let _ = authorization_url(
        &format!("https://p.example/{long}"),
        "t",
        Transport::HttpsOnly,
    );
    let _ = authorization_url("https://p.example/a", &long, Transport::HttpsOnly);

    for query in [
        "",
        "&",
        "=",
        "%",
        "+",
        "oauth_token=%E9",
        "oauth_token=t&oauth_verifier=%",
        "oauth_token=t&oauth_verifier=SENTINEL&oauth_verifier=SENTINEL",
        "oauth_token=t&oauth_problem=SENTINEL%3Cscript%3E",
        "oauth_token=t&oauth_problem=",
        "denied=t&oauth_verifier=SENTINEL",
    ] {
        for pending in ["", "t", "\u{e9}"] {
            if let Err(e) = parse_callback(query, pending) {
                let printed = format!("{e} {e:?}");
                assert!(!printed.contains("SENTINEL"), "{printed}");
            }
        }
    }
    let _ = parse_callback(&"a=b&".repeat(500_000), "t");
}

/// `CredentialsResponse`'s `Debug` prints every extra parameter *name*, unbounded and
/// unfiltered: body text. A 200 form followed by an HTML fragment (or a provider that
/// separates pairs with something other than `&`) is printed whole into logs.
#[test]
fn credentials_response_debug_prints_body_text_as_parameter_names() {
    let mut body = b"oauth_token=t&oauth_token_secret=s&".to_vec();
    body.extend(b"<html><p>SENTINEL ");
    body.extend(b"x".repeat(10_000));
    let parsed =
        parse_credentials_response(StatusCode::OK, &HeaderMap::new(), &body, SystemTime::now())
            .unwrap();
    let debug = format!("{parsed:?}");
    assert!(
        !debug.contains("SENTINEL") && debug.len() < 1024,
        "{} bytes of Debug, body text included",
        debug.len()
    );
}

/// `CredentialsResponse`'s `Debug` is useful in a log: it shows the token identifier (public,
/// RFC 5849 §2.1), whether the callback was confirmed and how many other parameters came, and
/// the secret as redacted.
#[test]
fn credentials_response_debug_shows_the_token_and_redacts_the_secret() {
    let body = b"oauth_token=hh5s93j4hdidpola&oauth_token_secret=SENTINELsecret&oauth_callback_confirmed=true&x=1&y=2";
    let parsed =
        parse_credentials_response(StatusCode::OK, &HeaderMap::new(), body, SystemTime::now())
            .unwrap();
    assert_eq!(
        format!("{parsed:?}"),
        "CredentialsResponse { token: \"hh5s93j4hdidpola\", secret: TokenSecret([redacted]), \
         callback_confirmed: true, extra_parameters: 2 }"
    );
}

/// A page after a UTF-8 byte order mark is still a page, and a form holding a token never is.
#[test]
fn a_page_after_a_byte_order_mark_is_not_credentials() {
    let parsed = parse_credentials_response(
        StatusCode::OK,
        &HeaderMap::new(),
        b"\xEF\xBB\xBF <html><p>sign in</p></html>",
        SystemTime::now(),
    );
    match parsed {
        Err(CredentialsResponseError::NotCredentials(not)) => assert!(not.starts_with_markup()),
        other => panic!("{other:?}"),
    }
}

/// A page served with 200 names its media type in the error (lowercase, without parameters),
/// but only a short one of plain token characters: a type too long, empty, or with other
/// characters (provider text, which goes into logs) is "no usable Content-Type".
#[test]
fn not_credentials_repeats_only_a_short_plain_media_type() {
    let page = b"<html><p>sign in</p></html>";
    let long = format!("text/{}", "x".repeat(60));
    for (content_type, expected) in [
        ("Text/HTML; charset=utf-8", Some("text/html")),
        ("application/xhtml+xml", Some("application/xhtml+xml")),
        (long.as_str(), None),
        ("; charset=utf-8", None),
        ("text/html\"<script>", None),
        ("text/html (a page)", None),
    ] {
        let mut headers = HeaderMap::new();
        headers.insert(CONTENT_TYPE, HeaderValue::from_str(content_type).unwrap());
        match parse_credentials_response(StatusCode::OK, &headers, page, SystemTime::now()) {
            Err(CredentialsResponseError::NotCredentials(not)) => {
                assert_eq!(not.content_type(), expected, "{content_type:?}");
                let shown = not.to_string();
                assert_eq!(
                    shown.contains("no usable Content-Type"),
                    expected.is_none(),
                    "{shown}"
                );
            }
            other => panic!("{content_type:?}: {other:?}"),
        }
    }
}
