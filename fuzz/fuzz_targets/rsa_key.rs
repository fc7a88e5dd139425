//! `RsaPrivateKey::from_pem_with_min_bits` (and `RsaPublicKey`) on arbitrary text.
//!
//! Invariants: no panic; an error never echoes the input (it may be a real key); a loaded key has
//! at least the minimum size and its public half verifies what it signs.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oauth_core::oauth1::{RsaPrivateKey, RsaPublicKey, SignatureMethod};

fuzz_target!(|input: (u8, &str)| {
    let (choice, pem) = input;
    let min_bits = [0, 512, 1024, 2048][usize::from(choice % 4)];
    match RsaPrivateKey::from_pem_with_min_bits(pem, min_bits) {
        Ok(key) => {
            assert!(key.bits() >= min_bits);
            let debug = format!("{key:?}");
            check_not_echoed(pem, &debug);
            // Signing is slow for big keys; only exercise it for small ones.
            if key.bits() <= 2048 {
                if let Ok(sig) = key.sign_base_string(SignatureMethod::RsaSha1, "GET&x&y") {
                    let public = key.public_key();
                    assert!(public.verify_base_string(SignatureMethod::RsaSha1, "GET&x&y", &sig));
                }
            }
        }
        Err(error) => check_not_echoed(pem, &format!("{error} {error:?}")),
    }
    if let Err(error) = RsaPublicKey::from_pem_with_min_bits(pem, min_bits) {
        check_not_echoed(pem, &format!("{error} {error:?}"));
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
