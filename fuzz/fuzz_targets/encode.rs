//! Strict percent and form decoding (`oauth_core::encode`) and the encode/decode round trips.
//!
//! Invariants: no panic; `decode(encode(s)) == s`; the encoding uses only unreserved characters
//! and `%XX`; whatever decodes re-encodes into something that decodes to the same value; form
//! pairs re-encoded and decoded again are the same pairs; an error offset is inside the input.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oauth_core::encode::{
    DecodeError, form_decode, form_decode_component, percent_decode, percent_encode,
};

fn check_error(error: DecodeError, input: &str) {
    if let DecodeError::InvalidPercentEncoding { offset } = error {
        assert!(offset < input.len());
        assert_eq!(input.as_bytes()[offset], b'%');
    }
}

fuzz_target!(|s: &str| {
    let encoded = percent_encode(s);
    assert!(
        encoded
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b))
    );
    assert_eq!(percent_decode(&encoded).unwrap(), s);
    assert_eq!(form_decode_component(&encoded).unwrap(), s);

    match percent_decode(s) {
        Ok(decoded) => {
            assert_eq!(percent_decode(&percent_encode(&decoded)).unwrap(), decoded);
            assert!(decoded.len() <= s.len());
        }
        Err(error) => check_error(error, s),
    }
    match form_decode_component(s) {
        Ok(decoded) => assert!(!decoded.contains('+') || s.contains("%2B") || s.contains("%2b")),
        Err(error) => check_error(error, s),
    }
    if let Ok(pairs) = form_decode(s) {
        let reencoded = pairs
            .iter()
            .map(|(n, v)| format!("{}={}", percent_encode(n), percent_encode(v)))
            .collect::<Vec<_>>()
            .join("&");
        let again = form_decode(&reencoded).unwrap();
        assert_eq!(again, pairs, "form round trip: {reencoded:?}");
    } else {
        assert!(form_decode_component(s).is_err() || s.contains('&') || s.contains('='));
    }
});
