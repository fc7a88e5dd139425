//! `AuthorizationHeader::parse` (RFC 5849 §3.5.1) on arbitrary strings.
//!
//! Invariants: no panic; whatever parses formats back (`to_header_string`) into a header that
//! parses to the same value; errors never carry the raw value of a parameter.
#![no_main]

use libfuzzer_sys::fuzz_target;
use oauth_core::oauth1::{AuthorizationHeader, MAX_HEADER_PARAMS};

fuzz_target!(|value: &str| {
    match AuthorizationHeader::parse(value) {
        Ok(header) => {
            assert!(
                header.params().len() + usize::from(header.realm().is_some()) <= MAX_HEADER_PARAMS
            );
            for (name, value) in header.params() {
                assert_eq!(header.get(name), Some(value.as_str()));
            }
            let formatted = header.to_header_string();
            let again = AuthorizationHeader::parse(&formatted)
                .unwrap_or_else(|e| panic!("formatted header does not parse: {e}: {formatted:?}"));
            // A realm with `"` or `\` (sent as quoted-pairs) is written percent-encoded, so that
            // no provider's parser can read its end early, and reads back encoded (documented
            // on `AuthorizationHeader::new`); everything else reads back the same.
            if header.realm().is_some_and(|r| r.contains(['"', '\\'])) {
                assert_eq!(again.params(), header.params(), "{formatted:?}");
            } else {
                assert_eq!(
                    again, header,
                    "round trip changed the header: {formatted:?}"
                );
            }
        }
        Err(error) => {
            // Only a bounded name may be echoed, never a whole quoted value.
            let printed = format!("{error} {error:?}");
            assert!(printed.len() < 512, "error too long: {printed}");
        }
    }
});
