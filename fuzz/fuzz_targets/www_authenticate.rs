//! `parse_challenges` (RFC 9110 §11.6.1 `WWW-Authenticate`) on arbitrary strings, and the DPoP
//! readers of a resource server's answer (`resource_challenge`, `server_nonce`) on the same
//! string as a header.
//!
//! Invariants: no panic; every challenge has a non-empty scheme; a parsed parameter can be found
//! again by name; an accepted nonce is the header's whole value.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oauth_core::oauth2::challenge::parse_challenges;
use oauth_core::oauth2::dpop;

fuzz_target!(|value: &str| {
    if let Ok(header) = http::HeaderValue::from_str(value) {
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::WWW_AUTHENTICATE, header.clone());
        headers.insert(dpop::DPOP_NONCE_HEADER, header);
        let _ = dpop::resource_challenge(&headers);
        if let Ok(Some(nonce)) = dpop::server_nonce(&headers) {
            assert_eq!(nonce, value);
        }
    }
    let Ok(challenges) = parse_challenges(value) else {
        return;
    };
    for challenge in &challenges {
        assert!(!challenge.scheme().is_empty());
        assert!(challenge.is_scheme(&challenge.scheme().to_ascii_uppercase()));
        for (name, _) in challenge.params() {
            assert!(challenge.param(name).is_some());
        }
        let _ = challenge.token68();
    }
});
