//! Server-side verification rules of RFC 5849 that a request must pass before its signature is
//! even compared: where the request arrived (§3.4.1.2, §3.4.4), where its protocol parameters
//! travel (§3.5), how a custom method is signed (§3.4.1.1), and how long nonces are kept (§3.3).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, UNIX_EPOCH};

use http::{Method, Uri};
use oauth_core::oauth1::*;
use oauth_core::secret::{ConsumerSecret, TokenSecret, Verifier};

fn hmac_signer() -> Signer {
    Signer::builder(ClientCredentials::new("key", ConsumerSecret::new("cs")))
        .token(TokenCredentials::new("tok", TokenSecret::new("ts")))
        .build()
        .unwrap()
}

fn hmac_verify(req: UnverifiedRequest<'_>) -> Result<ProtocolParameters, VerifyError> {
    let cs = ConsumerSecret::new("cs");
    let ts = TokenSecret::new("ts");
    req.verify(VerifyKey::Secrets(SigningSecrets {
        consumer_secret: &cs,
        token_secret: Some(&ts),
    }))
}

fn signed_header(signer: &Signer, method: &Method, uri: &Uri) -> String {
    signer
        .sign(method, uri, None, &SignOptions::new(), Placement::Header)
        .unwrap()
        .authorization()
        .unwrap()
        .to_owned()
}

fn is_origin_mismatch(error: &VerifyError) -> bool {
    matches!(
        error,
        VerifyError::Request(RequestError::InvalidUri { reason }) if reason.contains("origin")
    )
}

/// A server on plain http passes `parts.uri` and `Origin::new("http", host)`. A client that
/// sends an absolute-form target (`POST https://api.example.com/initiate HTTP/1.1`) must not
/// make the request count as https: PLAINTEXT sends the shared secrets in clear text (§3.4.4).
#[test]
fn an_absolute_https_target_on_a_plain_http_listener_is_refused() {
    let plain = Signer::builder(ClientCredentials::new("key", ConsumerSecret::new("cs")))
        .method(SignatureMethod::Plaintext)
        .build()
        .unwrap();
    let target: Uri = "https://api.example.com/initiate".parse().unwrap();
    let header = signed_header(&plain, &Method::POST, &target);
    let error = UnverifiedRequest::parse(
        IncomingRequest::new(&Method::POST, &target)
            .origin(Origin::new("http", "api.example.com"))
            .authorization(&header),
    )
    .unwrap_err();
    assert!(is_origin_mismatch(&error), "{error:?}");
    assert!(
        error
            .to_string()
            .contains("origin the request arrived with")
    );

    // Given as origin-form, the same request is refused by the transport check.
    let path: Uri = "/initiate".parse().unwrap();
    let req = UnverifiedRequest::parse(
        IncomingRequest::new(&Method::POST, &path)
            .origin(Origin::new("http", "api.example.com"))
            .authorization(&header),
    )
    .unwrap();
    let cs = ConsumerSecret::new("cs");
    let result = req.verify(VerifyKey::Secrets(SigningSecrets {
        consumer_secret: &cs,
        token_secret: None,
    }));
    assert_eq!(result.unwrap_err(), VerifyError::InsecureTransport);
}

/// §3.4.1.2: the base string URI's host and port "MUST match the content of the HTTP request
/// Host header". A request signed for another host (another tenant sharing the credential
/// store) does not verify because its request target names that host.
#[test]
fn an_absolute_target_naming_another_host_or_port_is_refused() {
    let signer = hmac_signer();
    for (target, origin) in [
        (
            "https://tenant-b.example.com/r",
            ("https", "tenant-a.example.com"),
        ),
        (
            "https://tenant-a.example.com:8443/r",
            ("https", "tenant-a.example.com"),
        ),
        (
            "https://tenant-a.example.com/r",
            ("https", "tenant-a.example.com:8443"),
        ),
        (
            "http://tenant-a.example.com/r",
            ("https", "tenant-a.example.com"),
        ),
    ] {
        let target: Uri = target.parse().unwrap();
        let header = signed_header(&signer, &Method::GET, &target);
        let error = UnverifiedRequest::parse(
            IncomingRequest::new(&Method::GET, &target)
                .origin(Origin::new(origin.0, origin.1))
                .authorization(&header),
        )
        .unwrap_err();
        assert!(
            is_origin_mismatch(&error),
            "{target} at {origin:?}: {error:?}"
        );
    }
}

/// The same origin written differently (case, the default port, userinfo in the target) is the
/// same origin: such requests verify.
#[test]
fn an_absolute_target_at_its_own_origin_verifies() {
    let signer = hmac_signer();
    for (target, origin) in [
        (
            "https://api.example.com/r?a=1",
            ("https", "api.example.com"),
        ),
        (
            "HTTPS://API.example.com:443/r",
            ("https", "api.EXAMPLE.com"),
        ),
        (
            "https://api.example.com/r",
            ("HTTPS", "api.example.com:443"),
        ),
        ("http://[::1]:8080/r", ("http", "[::1]:8080")),
        // An empty port is the default one, in the URI and in the Host (RFC 3986 §3.2.3).
        ("https://api.example.com:/r", ("https", "api.example.com:")),
        ("https://api.example.com/r", ("https", "api.example.com:")),
    ] {
        let target: Uri = target.parse().unwrap();
        let header = signed_header(&signer, &Method::GET, &target);
        let req = UnverifiedRequest::parse(
            IncomingRequest::new(&Method::GET, &target)
                .origin(Origin::new(origin.0, origin.1))
                .authorization(&header),
        )
        .unwrap();
        hmac_verify(req).unwrap_or_else(|e| panic!("{target} at {origin:?}: {e}"));
    }
}

/// §3.5: protocol parameters are sent in one place. Here `oauth_signature` rides in the query
/// while the others are in the header (oauthlib refuses it too: "oauth_ params must come from
/// only 1 signaturetype").
#[test]
fn protocol_parameters_split_between_places_are_refused() {
    let signer = hmac_signer();
    let uri: Uri = "https://api.example.com/r?a=1".parse().unwrap();
    let header = AuthorizationHeader::parse(&signed_header(&signer, &Method::GET, &uri)).unwrap();
    let signature = header.get("oauth_signature").unwrap().to_owned();
    let rest: Vec<(String, String)> = header
        .params()
        .iter()
        .filter(|(n, _)| n != "oauth_signature")
        .cloned()
        .collect();
    let without_signature = AuthorizationHeader::new(None, rest)
        .unwrap()
        .to_header_string();
    let mut split = String::from("https://api.example.com/r?a=1&oauth_signature=");
    for b in signature.bytes() {
        split.push_str(&format!("%{b:02X}"));
    }
    let split: Uri = split.parse().unwrap();
    let error = UnverifiedRequest::parse(
        IncomingRequest::new(&Method::GET, &split).authorization(&without_signature),
    )
    .unwrap_err();
    assert_eq!(
        error,
        VerifyError::ProtocolParametersSplit {
            first: "query",
            second: "Authorization header"
        }
    );
    assert!(error.to_string().contains("RFC 5849 §3.5"), "{error}");

    // Any `oauth_` name counts, an extension's too; and the form body is a place.
    let with_extension: Uri = "https://api.example.com/r?oauth_extension=x"
        .parse()
        .unwrap();
    let header = signed_header(&signer, &Method::GET, &uri);
    assert!(matches!(
        UnverifiedRequest::parse(
            IncomingRequest::new(&Method::GET, &with_extension).authorization(&header)
        ),
        Err(VerifyError::ProtocolParametersSplit { .. })
    ));
    let post: Uri = "https://api.example.com/r".parse().unwrap();
    let header = signed_header(&signer, &Method::POST, &post);
    assert_eq!(
        UnverifiedRequest::parse(
            IncomingRequest::new(&Method::POST, &post)
                .authorization(&header)
                .form_body(b"a=1&oauth_callback=oob")
        )
        .unwrap_err(),
        VerifyError::ProtocolParametersSplit {
            first: "form body",
            second: "Authorization header"
        }
    );
    // Ordinary parameters anywhere are fine.
    let post_form = signer
        .sign(
            &Method::POST,
            &"https://api.example.com/r?q=1".parse().unwrap(),
            Some(b"a=1"),
            &SignOptions::new(),
            Placement::Header,
        )
        .unwrap();
    let uri: Uri = "https://api.example.com/r?q=1".parse().unwrap();
    let req = UnverifiedRequest::parse(
        IncomingRequest::new(&Method::POST, &uri)
            .authorization(post_form.authorization().unwrap())
            .form_body(b"a=1"),
    )
    .unwrap();
    hmac_verify(req).unwrap();
}

/// §3.4.1.1 step 1: "If the request uses a custom HTTP method, it MUST be encoded (Section
/// 3.6)". A custom method is an HTTP token, which may hold `!`, `&`, `%` and other reserved
/// characters; signer and verifier agree on the encoded form.
#[test]
fn a_custom_http_method_is_percent_encoded_in_the_base_string() {
    let method = Method::from_bytes(b"PROP!FIND&x").unwrap();
    let uri: Uri = "https://example.com/r".parse().unwrap();
    let header = signed_header(&hmac_signer(), &method, &uri);
    let req = UnverifiedRequest::parse(IncomingRequest::new(&method, &uri).authorization(&header))
        .unwrap();
    let base = req.base_string();
    assert!(
        base.starts_with("PROP%21FIND%26X&https%3A%2F%2Fexample.com%2Fr&"),
        "{base}"
    );
    hmac_verify(req).unwrap();
    let base = signature_base_string("M-SEARCH.x~_", &uri, None, [("a", "1")]).unwrap();
    assert_eq!(base, "M-SEARCH.X~_&https%3A%2F%2Fexample.com%2Fr&a%3D1");
}

fn parsed_at(nonce: &str, timestamp: u64) -> String {
    format!(
        "OAuth oauth_consumer_key=\"key\", oauth_nonce=\"{nonce}\", oauth_timestamp=\"{timestamp}\", \
         oauth_signature_method=\"PLAINTEXT\", oauth_signature=\"cs%26\""
    )
}

fn replay_params(nonce: &str, timestamp: u64) -> ProtocolParameters {
    let uri: Uri = "https://api.example.com/r".parse().unwrap();
    let header = parsed_at(nonce, timestamp);
    let req =
        UnverifiedRequest::parse(IncomingRequest::new(&Method::GET, &uri).authorization(&header))
            .unwrap();
    let cs = ConsumerSecret::new("cs");
    req.verify(VerifyKey::Secrets(SigningSecrets {
        consumer_secret: &cs,
        token_secret: None,
    }))
    .unwrap()
}

/// §3.3 and the `ReplayGuard` docs: nonces are forgotten once their timestamps leave the
/// window, and those timestamps refused from then on. The set used to be swept only when it
/// had doubled since the last sweep, so after a burst the nonces stayed in memory for good:
/// here 2,000 nonces whose timestamps left the window a day ago.
#[test]
fn the_replay_guard_forgets_nonces_a_window_after_their_timestamps() {
    const T: u64 = 1_700_000_000;
    let at = |t: u64| UNIX_EPOCH + Duration::from_secs(t);
    let guard = ReplayGuard::new(Duration::from_secs(300));
    for i in 0..2000 {
        guard
            .check(&replay_params(&format!("n{i}"), T), at(T))
            .unwrap();
    }
    assert_eq!(
        guard.check(&replay_params("n1", T), at(T + 1)),
        Err(ReplayError::NonceReused)
    );
    let later = T + 86_400;
    guard
        .check(&replay_params("fresh", later), at(later))
        .unwrap();
    // A server clock stepped back a day: the old request is refused by its timestamp, its
    // nonce having been forgotten (were it still stored, this would read NonceReused).
    assert_eq!(
        guard.check(&replay_params("n0", T), at(T)),
        Err(ReplayError::TimestampOutOfWindow),
    );
}

/// Unsigned requests must not use up nonces: the guard takes only the parameters of a request
/// whose signature verified.
#[test]
fn the_replay_guard_refuses_parameters_that_were_not_verified() {
    const T: u64 = 1_700_000_000;
    let guard = ReplayGuard::new(Duration::from_secs(300));
    let uri: Uri = "https://api.example.com/r".parse().unwrap();
    let header = parsed_at("n", T);
    let req =
        UnverifiedRequest::parse(IncomingRequest::new(&Method::GET, &uri).authorization(&header))
            .unwrap();
    assert!(!req.parameters().is_verified());
    let now = UNIX_EPOCH + Duration::from_secs(T);
    assert_eq!(
        guard.check(req.parameters(), now),
        Err(ReplayError::Unverified)
    );
    let verified = replay_params("n", T);
    assert!(verified.is_verified());
    assert_eq!(guard.check(&verified, now), Ok(()));
}

/// Review finding (session 12): `http` reads a port it cannot parse as none, which must not
/// count as the default port: neither the signer nor the verifier takes such a URI.
#[test]
fn an_unreadable_port_is_an_invalid_uri_not_the_default_port() {
    let signer = hmac_signer();
    for target in [
        "http://api.example.com:99999/r",
        "https://api.example.com:65536/r",
        "https://user@api.example.com:70000/r",
    ] {
        let target: Uri = target.parse().unwrap();
        assert!(
            matches!(
                signer.sign(
                    &Method::GET,
                    &target,
                    None,
                    &SignOptions::new(),
                    Placement::Header
                ),
                Err(SignError::InvalidUri { .. })
            ),
            "{target}"
        );
        let header = "OAuth oauth_consumer_key=\"key\", oauth_nonce=\"n\", oauth_timestamp=\"1\", \
                      oauth_signature_method=\"HMAC-SHA1\", oauth_signature=\"x\"";
        let parsed = UnverifiedRequest::parse(
            IncomingRequest::new(&Method::GET, &target)
                .origin(Origin::new(target.scheme_str().unwrap(), "api.example.com"))
                .authorization(header),
        );
        assert!(
            matches!(
                parsed,
                Err(VerifyError::Request(RequestError::InvalidUri { .. }))
            ),
            "{target}"
        );
    }
    // An empty port is the default one (RFC 3986 §3.2.3).
    let empty: Uri = "https://api.example.com:/r".parse().unwrap();
    assert!(
        signer
            .sign(
                &Method::GET,
                &empty,
                None,
                &SignOptions::new(),
                Placement::Header
            )
            .is_ok()
    );
}

/// A signed request whose `Authorization` header another HTTP stack wrote in its own (valid,
/// RFC 9110 §11.2, §5.6) way still verifies: empty list elements, whitespace around `=`, bare
/// token values and a realm with a quoted-pair. The parameters and the signature are the same.
#[test]
fn a_header_written_in_other_valid_http_forms_verifies() {
    let signer = hmac_signer();
    let target: Uri = "https://api.example.com/r?a=1".parse().unwrap();
    let header = signed_header(&signer, &Method::GET, &target);
    let params = AuthorizationHeader::parse(&header).unwrap();
    let pairs: Vec<String> = params
        .params()
        .iter()
        .enumerate()
        .map(|(i, (name, value))| {
            let value = oauth_core::encode::percent_encode(value);
            match i % 3 {
                // A bare token (every §3.6-encoded value is one).
                0 => format!("{name}={value}"),
                1 => format!("{name} = \"{value}\""),
                _ => format!("{name}=\"{value}\""),
            }
        })
        .collect();
    let rewritten = format!(
        r#"OAuth , realm="Photos \"beta\"", {} ,"#,
        pairs.join(" , , ")
    );
    let req = UnverifiedRequest::parse(
        IncomingRequest::new(&Method::GET, &target).authorization(&rewritten),
    )
    .unwrap_or_else(|e| panic!("{rewritten}: {e}"));
    let verified = hmac_verify(req).unwrap_or_else(|e| panic!("{rewritten}: {e}"));
    assert_eq!(verified.realm(), Some(r#"Photos "beta""#));
}

/// OAuth Request Body Hash §4.1.1 and §4.2: a form-encoded request is covered by the signature
/// itself and must not carry `oauth_body_hash`; the provider checks that none is present
/// (failed before: such a request was accepted). The request here is validly signed: its form
/// parameter was signed from the query, which gives the same base string.
#[test]
fn a_form_encoded_request_with_oauth_body_hash_is_refused() {
    let signer = hmac_signer();
    let opts = SignOptions::new().body_hash(b"");
    for (signed_at, sent_to, form) in [
        (
            "https://api.example.com/r?a=1",
            "https://api.example.com/r",
            "a=1",
        ),
        ("https://api.example.com/r", "https://api.example.com/r", ""),
    ] {
        let signed_at: Uri = signed_at.parse().unwrap();
        let header = signer
            .sign(&Method::POST, &signed_at, None, &opts, Placement::Header)
            .unwrap()
            .authorization()
            .unwrap()
            .to_owned();
        let sent_to: Uri = sent_to.parse().unwrap();
        // The same signature, read without the form body, verifies: only the body hash is wrong.
        if form.is_empty() {
            let plain = UnverifiedRequest::parse(
                IncomingRequest::new(&Method::POST, &sent_to).authorization(&header),
            )
            .unwrap();
            assert!(hmac_verify(plain).unwrap().body_hash_matches(b""));
        }
        let result = UnverifiedRequest::parse(
            IncomingRequest::new(&Method::POST, &sent_to)
                .authorization(&header)
                .form_body(form.as_bytes()),
        );
        assert_eq!(
            result.err(),
            Some(VerifyError::BodyHashWithFormBody),
            "{form:?}"
        );
    }
}

/// OAuth Request Body Hash §4.2 leaves a non-form request without `oauth_body_hash` to the
/// provider (accept it for interoperability, or refuse it): the verifier accepts it, and
/// `body_hash_matches` is false, so a provider that requires the hash refuses on that.
#[test]
fn a_non_form_request_without_oauth_body_hash_verifies_but_its_body_is_unchecked() {
    let signer = hmac_signer();
    let uri: Uri = "https://api.example.com/r".parse().unwrap();
    let header = signed_header(&signer, &Method::PUT, &uri);
    let req =
        UnverifiedRequest::parse(IncomingRequest::new(&Method::PUT, &uri).authorization(&header))
            .unwrap();
    let verified = hmac_verify(req).unwrap();
    assert_eq!(verified.body_hash(), None);
    assert!(!verified.body_hash_matches(b"{\"a\":1}"));
    assert!(!verified.body_hash_matches(b""));
}

/// A verified request reports each protocol parameter exactly as the client sent it (RFC 5849
/// §3.1), decoded: the server looks up secrets, checks the nonce and timestamp and reads the
/// callback or verifier from these, so none may come back empty or made up.
#[test]
fn verified_parameters_report_each_protocol_parameter_as_sent() {
    let signer = hmac_signer();
    let uri: Uri = "https://api.example.com/r?a=1".parse().unwrap();
    let verifier = Verifier::new("hfdp7dh39dks9884");
    let body = br#"{"k":"v"}"#;
    let options = SignOptions::new()
        .realm("Photos")
        .callback("https://client.example.com/ready?x=1")
        .verifier(&verifier)
        .body_hash(body)
        .nonce("n0nce")
        .timestamp(137_131_201);
    let header = signer
        .sign(&Method::POST, &uri, None, &options, Placement::Header)
        .unwrap()
        .authorization()
        .unwrap()
        .to_owned();
    let req =
        UnverifiedRequest::parse(IncomingRequest::new(&Method::POST, &uri).authorization(&header))
            .unwrap();
    assert_eq!(req.consumer_key(), "key");
    assert_eq!(req.token(), Some("tok"));
    assert_eq!(req.signature_method(), "HMAC-SHA1");
    let unverified = req.parameters();
    assert!(!unverified.is_verified());
    assert_eq!(unverified.consumer_key(), "key");
    let p = hmac_verify(req).unwrap();
    assert!(p.is_verified());
    assert_eq!(p.consumer_key(), "key");
    assert_eq!(p.token(), Some("tok"));
    assert_eq!(p.signature_method(), "HMAC-SHA1");
    assert_eq!(p.nonce(), Some("n0nce"));
    assert_eq!(p.timestamp(), Some(137_131_201));
    assert_eq!(p.version(), Some("1.0"));
    assert_eq!(p.callback(), Some("https://client.example.com/ready?x=1"));
    assert_eq!(p.verifier().unwrap().secret(), "hfdp7dh39dks9884");
    assert_eq!(p.realm(), Some("Photos"));
    assert_eq!(p.body_hash(), Some("ptiEhD9X7hKmlZUtqqLMJAmas3I="));
    assert!(p.body_hash_matches(body));
    assert!(!p.body_hash_matches(b"{}"));

    // Without `oauth_version`, none is reported.
    let header = signer
        .sign(
            &Method::GET,
            &uri,
            None,
            &SignOptions::new().version(false),
            Placement::Header,
        )
        .unwrap()
        .authorization()
        .unwrap()
        .to_owned();
    let req =
        UnverifiedRequest::parse(IncomingRequest::new(&Method::GET, &uri).authorization(&header))
            .unwrap();
    assert_eq!(hmac_verify(req).unwrap().version(), None);
}

/// The `Debug` of the server-side types says what the request is (method, path, the public
/// protocol parameters) while redacting the `Authorization` header and the verifier.
#[test]
fn server_side_debug_shows_the_request_but_not_its_secrets() {
    let signer = hmac_signer();
    let uri: Uri = "https://api.example.com/photos?size=big".parse().unwrap();
    let verifier = Verifier::new("v-secret-123");
    let header = signer
        .sign(
            &Method::POST,
            &uri,
            None,
            &SignOptions::new().verifier(&verifier).nonce("n0nce"),
            Placement::Header,
        )
        .unwrap()
        .authorization()
        .unwrap()
        .to_owned();
    let incoming = IncomingRequest::new(&Method::POST, &uri)
        .authorization(&header)
        .form_body(b"");
    let debug = format!("{incoming:?}");
    assert!(debug.starts_with("IncomingRequest"), "{debug}");
    assert!(
        debug.contains("POST") && debug.contains("/photos"),
        "{debug}"
    );
    assert!(debug.contains("[redacted]"), "{debug}");
    assert!(!debug.contains("oauth_signature"), "{debug}");

    let req =
        UnverifiedRequest::parse(IncomingRequest::new(&Method::POST, &uri).authorization(&header))
            .unwrap();
    let debug = format!("{req:?}");
    assert!(debug.starts_with("UnverifiedRequest"), "{debug}");
    assert!(
        debug.contains("https://api.example.com/photos"),
        "the base string URI: {debug}"
    );
    assert!(debug.contains("signature: \"[redacted]\""), "{debug}");
    assert!(!debug.contains("v-secret-123"), "{debug}");

    let cs = ConsumerSecret::new("cs");
    let secrets = SigningSecrets {
        consumer_secret: &cs,
        token_secret: None,
    };
    assert_eq!(
        format!("{:?}", VerifyKey::Secrets(secrets)),
        "Secrets([redacted])"
    );

    let p = hmac_verify(req).unwrap();
    let debug = format!("{p:?}");
    assert!(debug.starts_with("ProtocolParameters"), "{debug}");
    assert!(
        debug.contains("\"key\"") && debug.contains("\"tok\""),
        "{debug}"
    );
    assert!(
        debug.contains("HMAC-SHA1") && debug.contains("n0nce"),
        "{debug}"
    );
    assert!(!debug.contains("v-secret-123"), "{debug}");
}

/// The request a server would build from `uri` (as received) and `headers`, through
/// `IncomingRequest::from_parts` at `scheme`.
fn from_parts_at(
    scheme: &str,
    method: Method,
    uri: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Result<ProtocolParameters, VerifyError> {
    let mut request = http::Request::builder().method(method).uri(uri);
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let (parts, ()) = request.body(()).unwrap().into_parts();
    hmac_verify(UnverifiedRequest::parse(IncomingRequest::from_parts(
        &parts, scheme, body,
    ))?)
}

/// `IncomingRequest::from_parts` reads what RFC 5849 §3.4.1 signs from a server's request
/// parts: the origin from the scheme and `Host` (origin form), the body only when it is a form
/// (§3.4.1.3.1), the header only when its scheme is `OAuth` (another, such as a gateway's
/// `Basic`, is not read, before or after the OAuth one).
#[test]
fn from_parts_reads_the_host_the_oauth_header_and_only_a_form_body() {
    let signer = hmac_signer();
    let absolute: Uri = "https://api.example.com/notes?x=1".parse().unwrap();
    let header = |body: Option<&[u8]>| {
        signer
            .sign(
                &Method::POST,
                &absolute,
                body,
                &SignOptions::new(),
                Placement::Header,
            )
            .unwrap()
            .authorization()
            .unwrap()
            .to_owned()
    };
    let host = ("host", "api.example.com");
    let form = (
        "content-type",
        "application/x-www-form-urlencoded; charset=utf-8",
    );

    let signed = header(Some(b"title=a+b"));
    let auth = ("authorization", signed.as_str());
    let verified = from_parts_at(
        "https",
        Method::POST,
        "/notes?x=1",
        &[host, form, auth],
        b"title=a+b",
    );
    assert_eq!(verified.unwrap().token(), Some("tok"));
    // The scheme is part of what was signed: the same request seen as plain http fails.
    assert!(matches!(
        from_parts_at(
            "http",
            Method::POST,
            "/notes?x=1",
            &[host, form, auth],
            b"title=a+b"
        ),
        Err(VerifyError::SignatureMismatch)
    ));
    // A form body is signed: another body fails.
    assert!(matches!(
        from_parts_at(
            "https",
            Method::POST,
            "/notes?x=1",
            &[host, form, auth],
            b"title=evil"
        ),
        Err(VerifyError::SignatureMismatch)
    ));

    // A JSON body is not signed (and not read as parameters): a signature without it verifies.
    let json = ("content-type", "application/json");
    let signed = header(None);
    let auth = ("authorization", signed.as_str());
    assert!(
        from_parts_at(
            "https",
            Method::POST,
            "/notes?x=1",
            &[host, json, auth],
            b"a=1"
        )
        .is_ok()
    );
    // The same body sent as a form is signed, so that signature no longer verifies.
    assert!(matches!(
        from_parts_at(
            "https",
            Method::POST,
            "/notes?x=1",
            &[host, form, auth],
            b"a=1"
        ),
        Err(VerifyError::SignatureMismatch)
    ));

    // A Basic header before or after the OAuth one is passed over; `oauth` is any case.
    let basic = ("authorization", "Basic Z2F0ZXdheTpwdw==");
    for headers in [[host, basic, auth], [host, auth, basic]] {
        assert!(from_parts_at("https", Method::POST, "/notes?x=1", &headers, b"").is_ok());
    }
    let lower = signed.replacen("OAuth ", "oauth ", 1);
    let lower = ("authorization", lower.as_str());
    assert!(from_parts_at("https", Method::POST, "/notes?x=1", &[host, lower], b"").is_ok());

    // A query-signed request behind a gateway that adds Basic: the Basic header is not read.
    let query_signed = signer
        .sign(
            &Method::GET,
            &absolute,
            None,
            &SignOptions::new(),
            Placement::Query,
        )
        .unwrap();
    let target = query_signed.uri().unwrap();
    let target = target.path_and_query().unwrap().as_str();
    assert!(from_parts_at("https", Method::GET, target, &[host, basic], b"").is_ok());
}

/// With no `Host` header (HTTP/2 gives the authority in the URI), the URI's authority is the
/// host, and its scheme must be the one the server says the request arrived on.
#[test]
fn from_parts_takes_an_http2_uri_authority_and_checks_its_scheme() {
    let signer = hmac_signer();
    let absolute: Uri = "https://api.example.com/notes".parse().unwrap();
    let signed = signed_header(&signer, &Method::GET, &absolute);
    let auth = ("authorization", signed.as_str());
    assert!(
        from_parts_at(
            "https",
            Method::GET,
            "https://api.example.com/notes",
            &[auth],
            b""
        )
        .is_ok()
    );
    let error = from_parts_at(
        "http",
        Method::GET,
        "https://api.example.com/notes",
        &[auth],
        b"",
    )
    .unwrap_err();
    assert!(is_origin_mismatch(&error), "{error:?}");
    // A Host header naming another host than the URI is refused too.
    let other = ("host", "evil.example.net");
    let error = from_parts_at(
        "https",
        Method::GET,
        "https://api.example.com/notes",
        &[other, auth],
        b"",
    )
    .unwrap_err();
    assert!(is_origin_mismatch(&error), "{error:?}");
    // Origin form with no Host at all cannot be verified: a typed error, no panic.
    let error = from_parts_at("https", Method::GET, "/notes", &[auth], b"").unwrap_err();
    assert!(
        matches!(error, VerifyError::Request(RequestError::InvalidUri { .. })),
        "{error:?}"
    );
}
