//! `RsaPrivateKey::from_pem_with_min_bits` (and `RsaPublicKey`) on arbitrary text.
//!
//! Invariants: no panic; an error never echoes the input (it may be a real key); a loaded key has
//! at least the minimum size, prints as `RsaPrivateKey(N bits, [redacted])` and its public half
//! verifies what it signs.
#![no_main]

mod shared;

use libfuzzer_sys::fuzz_target;
use oauth_core::oauth1::{RsaPrivateKey, RsaPublicKey, SignatureMethod};

use shared::check_not_echoed;

fuzz_target!(|input: (u8, &str)| {
    let (choice, pem) = input;
    let min_bits = [0, 512, 1024, 2048][usize::from(choice % 4)];
    match RsaPrivateKey::from_pem_with_min_bits(pem, min_bits) {
        Ok(key) => {
            assert!(key.bits() >= min_bits);
            // The whole `Debug` is the library's own words and the size (a window-by-window
            // search would also flag input that merely repeats them).
            assert_eq!(
                format!("{key:?}"),
                format!("RsaPrivateKey({} bits, [redacted])", key.bits())
            );
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
