//! `parse_metadata` (RFC 8414, OpenID Connect Discovery) on fuzzed documents fetched for one of
//! a few issuers (or a fuzzed one), and `metadata_request` for that issuer.
//!
//! Input: an issuer choice, a status choice, patch bits, then the document text. The patch bits
//! set `issuer` to the expected issuer (so that the endpoint checks after it are reached),
//! append a second `issuer` member, or set the endpoints to ones under the issuer's origin. (A
//! seed in `seeds/metadata` starts with `00 00 00 00 I S P` for the known issuer `I`, status
//! byte `S` and patch bits `P`, then the document.)
//!
//! Invariants: no panic; a request for any valid issuer builds, for the issuer's own scheme and
//! authority; a document is accepted only with status 200, as a JSON object whose `issuer` is
//! the expected one byte for byte; then every endpoint is there exactly when the document has it
//! as a string, and is allowed under the issuer's transport rule (`https` only for an `https`
//! issuer); an `mtls_endpoint_aliases` entry is `https`; `mtls_token_endpoint` is the alias,
//! else `token_endpoint`, and nothing when the aliases are malformed; `supports_pkce_s256` and
//! the booleans read as the document says; an error is short and names at most 200 characters of
//! the document's issuer.
#![no_main]

use http::StatusCode;
use libfuzzer_sys::arbitrary::{self, Arbitrary};
use libfuzzer_sys::fuzz_target;
use oauth_core::oauth2::{
    Endpoint, Issuer, MetadataError, Transport, WellKnown, metadata_request, parse_metadata,
};
use serde_json::{Map, Value};

const ISSUERS: [&str; 6] = [
    "https://server.example.com",
    "https://server.example.com/tenant-1",
    "https://server.example.com/realms/a/",
    "http://127.0.0.1:8080",
    "HTTP://localhost/issuer",
    "https://[::1]:8443/x",
];

const ENDPOINTS: [&str; 8] = [
    "authorization_endpoint",
    "token_endpoint",
    "device_authorization_endpoint",
    "revocation_endpoint",
    "introspection_endpoint",
    "pushed_authorization_request_endpoint",
    "userinfo_endpoint",
    "jwks_uri",
];

#[derive(Debug, Arbitrary)]
enum IssuerChoice<'a> {
    Known(u8),
    Raw(&'a str),
}

#[derive(Debug, Arbitrary)]
struct Input<'a> {
    issuer: IssuerChoice<'a>,
    /// 0-3: 200; else another status.
    status: u8,
    /// 0x01 `issuer` set to the expected one; 0x02 a second `issuer` member after it (0x04: the
    /// expected one, else with a trailing slash); 0x08 endpoints under the issuer's origin.
    patch: u8,
    body: &'a [u8],
}

fn endpoint(
    metadata: &oauth_core::oauth2::AuthorizationServerMetadata,
    name: &str,
) -> Option<Endpoint> {
    match name {
        "authorization_endpoint" => metadata.authorization_endpoint(),
        "token_endpoint" => metadata.token_endpoint(),
        "device_authorization_endpoint" => metadata.device_authorization_endpoint(),
        "revocation_endpoint" => metadata.revocation_endpoint(),
        "introspection_endpoint" => metadata.introspection_endpoint(),
        "pushed_authorization_request_endpoint" => metadata.pushed_authorization_request_endpoint(),
        "userinfo_endpoint" => metadata.userinfo_endpoint(),
        _ => metadata.jwks_uri(),
    }
    .cloned()
}

/// The document with the patches applied: JSON text whose members are written one by one, so
/// that a duplicate `issuer` stays a duplicate.
fn patched(input: &Input<'_>, issuer: &str) -> Vec<u8> {
    if input.patch & 0x0b == 0 {
        return input.body.to_vec();
    }
    let Ok(Value::Object(mut members)) = serde_json::from_slice::<Value>(input.body) else {
        return input.body.to_vec();
    };
    if input.patch & 0x01 != 0 {
        members.insert("issuer".into(), issuer.into());
    }
    if input.patch & 0x08 != 0 {
        let base = issuer.trim_end_matches('/');
        for (i, name) in ENDPOINTS.iter().enumerate() {
            if input.body.len() % 8 <= i {
                members.insert((*name).into(), format!("{base}/{name}").into());
            }
        }
    }
    let mut text: Vec<String> = members
        .iter()
        .map(|(name, value)| format!("{}:{value}", Value::from(name.as_str())))
        .collect();
    if input.patch & 0x02 != 0 {
        let second = if input.patch & 0x04 != 0 {
            issuer.to_owned()
        } else {
            format!("{issuer}/")
        };
        text.push(format!("\"issuer\":{}", Value::from(second)));
    }
    format!("{{{}}}", text.join(",")).into_bytes()
}

fuzz_target!(|input: Input<'_>| {
    let issuer = match input.issuer {
        IssuerChoice::Known(i) => ISSUERS[usize::from(i) % ISSUERS.len()],
        IssuerChoice::Raw(raw) => raw,
    };
    let Ok(expected) = Issuer::with_transport(issuer, Transport::AllowLoopbackHttp) else {
        return;
    };
    let issuer_uri: http::Uri = issuer.parse().expect("an issuer that is not a URI");

    // The request for the document.
    for well_known in [
        WellKnown::OAuthAuthorizationServer,
        WellKnown::OpenIdConfiguration,
    ] {
        let request = metadata_request(&expected, well_known)
            .unwrap_or_else(|e| panic!("no metadata request for {issuer:?}: {e}"));
        let uri = request.uri();
        assert_eq!(uri.scheme(), issuer_uri.scheme(), "{uri}");
        assert_eq!(uri.authority(), issuer_uri.authority(), "{uri}");
        assert!(uri.query().is_none(), "{uri}");
        assert!(uri.path().contains("/.well-known/"), "{uri}");
    }

    let status = match input.status {
        0..=3 => StatusCode::OK,
        s => StatusCode::from_u16(100 + u16::from(s) * 2).unwrap_or(StatusCode::OK),
    };
    let body = patched(&input, issuer);
    let result = parse_metadata(status, &body, &expected);
    let metadata = match result {
        Ok(metadata) => metadata,
        Err(error) => {
            let printed = format!("{error} {error:?}");
            assert!(
                printed.len() <= 6 * issuer.len() + 4000,
                "a long error: {printed}"
            );
            if let MetadataError::IssuerMismatch { expected: e, found } = &error {
                assert_eq!(e, issuer);
                assert!(found.as_ref().is_none_or(|f| f.chars().count() <= 200));
                assert_ne!(found.as_deref(), Some(issuer));
            }
            if status != StatusCode::OK {
                assert_eq!(error, MetadataError::Status(status));
            }
            return;
        }
    };

    assert_eq!(status, StatusCode::OK);
    assert_eq!(metadata.issuer().as_str(), issuer);
    // The document as a JSON parser reads it (the last of duplicate members).
    let doc: Map<String, Value> =
        serde_json::from_slice(&body).expect("accepted a document that is not a JSON object");
    assert_eq!(
        doc.get("issuer").and_then(Value::as_str),
        Some(issuer),
        "accepted a document for another issuer: {}",
        String::from_utf8_lossy(&body)
    );
    let https_issuer = issuer_uri.scheme_str() == Some("https");
    let transport = if https_issuer {
        Transport::HttpsOnly
    } else {
        Transport::AllowLoopbackHttp
    };
    for name in ENDPOINTS {
        let found = endpoint(&metadata, name);
        let member = doc.get(name).filter(|v| !v.is_null());
        assert_eq!(
            found.is_some(),
            member.is_some(),
            "{name}: {member:?} read as {found:?}"
        );
        assert!(member.is_none_or(Value::is_string), "{name}: {member:?}");
        if let Some(found) = found {
            assert!(
                transport.allows(found.uri()),
                "{name}: {found:?} for {issuer}"
            );
            if https_issuer {
                assert_eq!(found.uri().scheme_str(), Some("https"), "{name}");
            }
            // What was accepted reads back the same.
            let again = Endpoint::with_transport(&found.uri().to_string(), transport);
            assert_eq!(again.as_ref(), Ok(&found), "{name}: {found:?}");
        }
    }
    // RFC 8705 §5.
    let aliases = doc.get("mtls_endpoint_aliases").filter(|v| !v.is_null());
    for name in ENDPOINTS {
        if let Some(alias) = metadata.mtls_endpoint_alias(name) {
            assert_eq!(alias.uri().scheme_str(), Some("https"), "{name}");
            assert!(
                aliases
                    .and_then(|a| a.get(name))
                    .is_some_and(Value::is_string)
            );
        }
    }
    let mtls_token = metadata.mtls_token_endpoint().cloned();
    match aliases {
        None => assert_eq!(mtls_token.as_ref(), metadata.token_endpoint()),
        Some(Value::Object(entries)) if !entries.contains_key("token_endpoint") => {
            assert_eq!(mtls_token.as_ref(), metadata.token_endpoint());
        }
        Some(Value::Object(_)) => {
            assert_eq!(
                mtls_token.as_ref(),
                metadata.mtls_endpoint_alias("token_endpoint")
            );
        }
        Some(_) => assert!(mtls_token.is_none()),
    }
    let list = |name: &str| -> Vec<String> {
        doc.get(name)
            .and_then(Value::as_array)
            .map(|v| {
                v.iter()
                    .filter_map(Value::as_str)
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(
        metadata.code_challenge_methods_supported(),
        list("code_challenge_methods_supported")
    );
    assert_eq!(
        metadata.supports_pkce_s256(),
        list("code_challenge_methods_supported")
            .iter()
            .any(|m| m == "S256")
    );
    assert_eq!(metadata.scopes_supported(), list("scopes_supported"));
    let flag = |name: &str| doc.get(name).and_then(Value::as_bool).unwrap_or(false);
    assert_eq!(
        metadata.authorization_response_iss_parameter_supported(),
        flag("authorization_response_iss_parameter_supported")
    );
    assert_eq!(
        metadata.require_pushed_authorization_requests(),
        flag("require_pushed_authorization_requests")
    );
    let _ = format!("{metadata:?}");
});
