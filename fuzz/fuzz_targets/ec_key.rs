//! `EcP256PrivateKey::from_pem` (a DPoP or `private_key_jwt` key, read from configuration) on
//! arbitrary text.
//!
//! Invariants: no panic; the error never echoes the input (it may be a real key); a loaded key
//! makes a DPoP key whose RFC 7638 thumbprint is 43 base64url characters.
#![no_main]

mod shared;

use libfuzzer_sys::fuzz_target;
use oauth_core::oauth2::{DpopKey, EcP256PrivateKey};

use shared::check_not_echoed;

fuzz_target!(|pem: &str| {
    match EcP256PrivateKey::from_pem(pem) {
        Ok(key) => {
            check_not_echoed(pem, &format!("{key:?}"));
            let dpop = DpopKey::es256(key);
            let thumbprint = dpop.thumbprint();
            assert_eq!(thumbprint.len(), 43);
            assert!(
                thumbprint
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            );
            check_not_echoed(pem, &format!("{dpop:?}"));
        }
        Err(error) => check_not_echoed(pem, &format!("{error} {error:?}")),
    }
});
