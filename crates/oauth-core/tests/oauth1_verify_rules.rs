//! Server-side verification rules of RFC 5849 that a request must pass before its signature is
//! even compared: where the request arrived (§3.4.1.2, §3.4.4), where its protocol parameters
//! travel (§3.5), how a custom method is signed (§3.4.1.1), and how long nonces are kept (§3.3).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use http::{Method, Uri};
use oauth_core::oauth1::*;
use oauth_core::secret::{ConsumerSecret, TokenSecret};

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
