//! A token file's contents (what `FileStore` and any application store read back): `Token`'s
//! `Deserialize` on arbitrary bytes, as JSON.
//!
//! Invariants: no panic; a loaded token has a non-empty access token and an expiry no later
//! than the end of year 9999 (every platform's `SystemTime` holds it); saving it again and
//! loading that gives the same token; the plain access and refresh tokens of the file never
//! appear in the token's `Debug` or in the error's `Display`/`Debug`.
#![no_main]

mod shared;

use std::time::{Duration, UNIX_EPOCH};

use libfuzzer_sys::fuzz_target;
use oauth_core::oauth2::Token;

use shared::plain_secrets;

/// 9999-12-31T23:59:59Z in Unix seconds.
const LATEST: u64 = 253_402_300_799;

fuzz_target!(|file: &[u8]| {
    let result = serde_json::from_slice::<Token>(file);
    let printed = match &result {
        Ok(token) => {
            if let Some(expires_at) = token.expires_at() {
                assert!(expires_at <= UNIX_EPOCH + Duration::from_secs(LATEST));
            }
            let saved = serde_json::to_vec(token).expect("a loaded token saves");
            let reloaded: Token = serde_json::from_slice(&saved).expect("a saved token loads");
            assert!(reloaded == *token, "a save and load changed the token");
            format!("{token:?} {token:#?}")
        }
        Err(error) => format!("{error} {error:?}"),
    };
    for secret in plain_secrets(file) {
        assert!(!printed.contains(&secret), "a token was printed: {printed}");
    }
});
