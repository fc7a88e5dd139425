//! `EcP256PrivateKey::from_pem` (a DPoP or `private_key_jwt` key, read from configuration) on
//! arbitrary text.
//!
//! Invariants: no panic; the error never echoes the input (it may be a real key); a loaded key
//! prints as `EcP256PrivateKey([redacted])` and makes a DPoP key whose RFC 7638 thumbprint is 43
//! base64url characters and which prints nothing else.
#![no_main]

mod shared;

use libfuzzer_sys::fuzz_target;
use oauth_core::oauth2::{DpopKey, EcP256PrivateKey};

use shared::check_not_echoed;

fuzz_target!(|pem: &str| {
    match EcP256PrivateKey::from_pem(pem) {
        Ok(key) => {
            // The whole `Debug` is the library's own words (a window-by-window search would
            // also flag input that merely repeats them, such as `eKey([redacted])`).
            assert_eq!(format!("{key:?}"), "EcP256PrivateKey([redacted])");
            let dpop = DpopKey::es256(key);
            let thumbprint = dpop.thumbprint();
            assert_eq!(thumbprint.len(), 43);
            assert!(
                thumbprint
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
            );
            // Its own words and the thumbprint, a SHA-256 hash of the public key.
            assert_eq!(
                format!("{dpop:?}"),
                format!("DpopKey {{ key: EcP256PrivateKey([redacted]), jkt: {thumbprint:?}, .. }}")
            );
        }
        Err(error) => check_not_echoed(pem, &format!("{error} {error:?}")),
    }
});
