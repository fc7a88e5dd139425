//! Percent-encoding as RFC 5849 §3.6 (and RFC 3986 §2.3) define it, and strict decoding.
//!
//! Encoding leaves only ALPHA, DIGIT and `-._~` as they are, encodes everything else from its
//! UTF-8 bytes with upper-case hex, and writes a space as `%20`, never `+`.
//!
//! Decoding is strict: a `%` not followed by two hex digits, or bytes that are not UTF-8 after
//! decoding, are a [`DecodeError`], never a silent pass-through. [`form_decode`] reads
//! `application/x-www-form-urlencoded` data (RFC 5849 §3.4.1.3.1, W3C HTML), where `+` is a space.
//!
//! ```
//! use oauth_core::encode::{form_decode, percent_encode};
//!
//! assert_eq!(percent_encode("Hello Ladies + Gentlemen"), "Hello%20Ladies%20%2B%20Gentlemen");
//! let pairs = form_decode("a3=2+q&c2").unwrap();
//! assert_eq!(pairs, [("a3".to_string(), "2 q".to_string()), ("c2".to_string(), String::new())]);
//! ```

use std::borrow::Cow;

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

/// Every byte except the RFC 3986 unreserved characters (ALPHA, DIGIT, `-`, `.`, `_`, `~`).
pub const RESERVED: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// Percent-encodes `s` per RFC 5849 §3.6. Borrows when nothing needs encoding.
pub fn percent_encode(s: &str) -> Cow<'_, str> {
    utf8_percent_encode(s, RESERVED).into()
}

/// Appends the RFC 5849 §3.6 encoding of `s` to `out` without an intermediate allocation.
pub fn percent_encode_into(out: &mut String, s: &str) {
    out.extend(utf8_percent_encode(s, RESERVED));
}

/// Input that is not valid percent-encoded or form-encoded UTF-8.
///
/// The error says where and what, never the input itself (it may hold a secret).
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum DecodeError {
    /// A `%` at this byte offset is not followed by two hexadecimal digits.
    #[error("invalid percent-encoding at byte {offset}: `%` must be followed by two hex digits")]
    InvalidPercentEncoding {
        /// Byte offset of the `%` in the decoded component.
        offset: usize,
    },
    /// The decoded bytes are not UTF-8.
    #[error("percent-decoded bytes are not valid UTF-8")]
    InvalidUtf8,
}

/// Decodes a percent-encoded component strictly. `+` stays a `+`.
///
/// # Errors
///
/// Fails with [`DecodeError::InvalidPercentEncoding`] for a `%` not followed by two hexadecimal
/// digits, and [`DecodeError::InvalidUtf8`] when the decoded bytes are not UTF-8.
pub fn percent_decode(s: &str) -> Result<Cow<'_, str>, DecodeError> {
    decode(s, false)
}

/// Decodes one `application/x-www-form-urlencoded` name or value: `+` is a space.
///
/// # Errors
///
/// Fails like [`percent_decode`]: [`DecodeError::InvalidPercentEncoding`] for a `%` not followed
/// by two hexadecimal digits, [`DecodeError::InvalidUtf8`] when the decoded bytes are not UTF-8.
pub fn form_decode_component(s: &str) -> Result<Cow<'_, str>, DecodeError> {
    decode(s, true)
}

/// Decodes `application/x-www-form-urlencoded` data (or a URL query) into name/value pairs, in
/// order, duplicates kept.
///
/// Empty segments (`a=1&&b=2`) are skipped; a segment without `=` is a name with an empty value
/// (RFC 5849 §3.4.1.3.2: `c2` becomes `c2=`).
///
/// # Errors
///
/// Fails with the first [`DecodeError`] of any name or value, as [`form_decode_component`] does.
pub fn form_decode(s: &str) -> Result<Vec<(String, String)>, DecodeError> {
    s.split('&')
        .filter(|segment| !segment.is_empty())
        .map(|segment| {
            let (name, value) = segment.split_once('=').unwrap_or((segment, ""));
            Ok((
                form_decode_component(name)?.into_owned(),
                form_decode_component(value)?.into_owned(),
            ))
        })
        .collect()
}

fn decode(s: &str, plus_is_space: bool) -> Result<Cow<'_, str>, DecodeError> {
    let bytes = s.as_bytes();
    if !bytes
        .iter()
        .any(|&b| b == b'%' || (plus_is_space && b == b'+'))
    {
        return Ok(Cow::Borrowed(s));
    }
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hi = bytes.get(i + 1).and_then(|&b| hex_value(b));
                let lo = bytes.get(i + 2).and_then(|&b| hex_value(b));
                match (hi, lo) {
                    (Some(hi), Some(lo)) => out.push(hi << 4 | lo),
                    _ => return Err(DecodeError::InvalidPercentEncoding { offset: i }),
                }
                i += 3;
            }
            b'+' if plus_is_space => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out)
        .map(Cow::Owned)
        .map_err(|_| DecodeError::InvalidUtf8)
}

fn hex_value(b: u8) -> Option<u8> {
    (b as char).to_digit(16).map(|d| d as u8)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// OAuth Core 1.0 test cases (wiki.oauth.net/TestCases), parameter encoding.
    #[test]
    fn wiki_parameter_encoding_table() {
        let table = [
            ("abcABC123", "abcABC123"),
            ("-._~", "-._~"),
            ("%", "%25"),
            ("+", "%2B"),
            ("&=*", "%26%3D%2A"),
            ("\n", "%0A"),
            (" ", "%20"),
            ("\x7F", "%7F"),
            ("\u{80}", "%C2%80"),
            ("\u{3001}", "%E3%80%81"),
        ];
        for (input, expected) in table {
            assert_eq!(percent_encode(input), expected, "input {input:?}");
            assert_eq!(percent_decode(expected).unwrap(), input);
        }
    }

    #[test]
    fn strict_decoding_rejects_bad_escapes() {
        for (bad, offset) in [("%zz", 0), ("abc%", 3), ("a%4", 1), ("%%41", 0)] {
            assert_eq!(
                percent_decode(bad),
                Err(DecodeError::InvalidPercentEncoding { offset }),
                "{bad}"
            );
        }
        assert_eq!(percent_decode("%FF"), Err(DecodeError::InvalidUtf8));
        assert_eq!(percent_decode("%00").unwrap(), "\0");
        assert_eq!(percent_decode("%2b%2B+").unwrap(), "+++");
        assert_eq!(form_decode_component("%2b%2B+%20").unwrap(), "++  ");
    }

    #[test]
    fn form_decoding_handles_plus_empty_and_duplicates() {
        let pairs = form_decode("a=1&a=1&&c%40=&c2&b=x+y%2Bz").unwrap();
        let expected = [
            ("a", "1"),
            ("a", "1"),
            ("c@", ""),
            ("c2", ""),
            ("b", "x y+z"),
        ];
        assert_eq!(pairs.len(), expected.len());
        for ((n, v), (en, ev)) in pairs.iter().zip(expected) {
            assert_eq!((n.as_str(), v.as_str()), (en, ev));
        }
        assert!(form_decode("a=%zz").is_err());
    }

    /// A value made only of `%` signs is no escape either: strict decoding refuses it rather
    /// than passing it through.
    #[test]
    fn a_value_of_only_percent_signs_is_an_error() {
        for bad in ["%", "%%", "%%%"] {
            let error = DecodeError::InvalidPercentEncoding { offset: 0 };
            assert_eq!(percent_decode(bad), Err(error), "{bad}");
            assert_eq!(form_decode_component(bad), Err(error), "{bad}");
        }
    }

    /// In form data a `+` is a space even when the value holds nothing else (W3C HTML
    /// `application/x-www-form-urlencoded` parsing; RFC 5849 §3.4.1.3.1 reads bodies so).
    #[test]
    fn form_values_of_only_plus_signs_are_spaces() {
        assert_eq!(form_decode_component("+").unwrap(), " ");
        assert_eq!(form_decode_component("++").unwrap(), "  ");
        let pairs = form_decode("q=+&r=++&+=x").unwrap();
        let expected = [("q", " "), ("r", "  "), (" ", "x")];
        assert_eq!(pairs.len(), expected.len());
        for ((n, v), (en, ev)) in pairs.iter().zip(expected) {
            assert_eq!((n.as_str(), v.as_str()), (en, ev));
        }
        // Outside form data a `+` stays a `+`.
        assert_eq!(percent_decode("++").unwrap(), "++");
    }

    proptest::proptest! {
        #[test]
        fn encode_then_decode_round_trips(s in "\\PC*") {
            let encoded = percent_encode(&s);
            proptest::prop_assert!(encoded.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)));
            proptest::prop_assert_eq!(percent_decode(&encoded).unwrap(), s.as_str());
            proptest::prop_assert_eq!(form_decode_component(&encoded).unwrap(), s.as_str());
        }

        #[test]
        fn decoding_never_panics(s in ".*") {
            let _ = percent_decode(&s);
            let _ = form_decode(&s);
        }
    }
}
