//! `parse_challenges` (RFC 9110 §11.6.1 `WWW-Authenticate`) on arbitrary strings.
//!
//! Invariants: no panic; every challenge has a non-empty scheme; a parsed parameter can be found
//! again by name.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oauth_core::oauth2::challenge::parse_challenges;

fuzz_target!(|value: &str| {
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
