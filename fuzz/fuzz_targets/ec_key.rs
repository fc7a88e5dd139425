//! `EcP256PrivateKey::from_pem` (a DPoP or `private_key_jwt` key, read from configuration) on
//! arbitrary text.
//!
//! Invariants: no panic; the error never echoes the input (it may be a real key); a loaded key
//! makes a DPoP key whose RFC 7638 thumbprint is 43 base64url characters.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oauth_core::oauth2::{DpopKey, EcP256PrivateKey};

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

/// No 16-byte window of the input (other than the PEM armour) may appear in `out`.
fn check_not_echoed(input: &str, out: &str) {
    let body: String = input
        .lines()
        .filter(|l| !l.starts_with("-----"))
        .collect::<Vec<_>>()
        .join("");
    let bytes = body.as_bytes();
    if bytes.len() < 16 {
        return;
    }
    for start in (0..=bytes.len() - 16).step_by(8) {
        if let Ok(window) = std::str::from_utf8(&bytes[start..start + 16]) {
            if window.trim().len() == 16 && !window.contains(char::is_whitespace) {
                assert!(!out.contains(window), "input echoed: {out}");
            }
        }
    }
}
