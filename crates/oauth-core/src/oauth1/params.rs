//! Request parameters: collection (RFC 5849 §3.4.1.3.1) and normalisation (§3.4.1.3.2).

use std::borrow::Cow;

use http::HeaderValue;

use super::error::{RequestError, bounded_name};
use crate::encode::{DecodeError, form_decode_component, percent_encode};

/// The media type of a form body whose parameters are signed (RFC 5849 §3.4.1.3.1).
pub const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

/// One parameter, name and value both already §3.6-encoded.
pub(crate) type EncodedParam<'a> = (Cow<'a, str>, Cow<'a, str>);

/// Whether a `Content-Type` value announces a single-part `application/x-www-form-urlencoded`
/// body, whose parameters RFC 5849 §3.4.1.3.1 includes in the signature.
///
/// The media type is compared case-insensitively; parameters such as `; charset=UTF-8` are
/// allowed, whatever bytes they hold. `multipart/form-data`, JSON and everything else give
/// `false`: those bodies are not signed (RFC 5849 §4.12; use the body-hash option to cover
/// them).
///
/// ```
/// use http::HeaderValue;
/// use oauth_core::oauth1::is_form_content_type;
///
/// assert!(is_form_content_type(&HeaderValue::from_static("application/x-www-form-urlencoded; charset=UTF-8")));
/// assert!(!is_form_content_type(&HeaderValue::from_static("multipart/form-data; boundary=x")));
/// ```
pub fn is_form_content_type(value: &HeaderValue) -> bool {
    // (On the bytes: a parameter may hold obs-text, RFC 9110 §5.5, and the media type is
    // still a form's; a provider that reads the essence would sign the body's parameters.)
    let essence = value
        .as_bytes()
        .split(|&b| b == b';')
        .next()
        .unwrap_or_default()
        .trim_ascii();
    essence.eq_ignore_ascii_case(FORM_CONTENT_TYPE.as_bytes())
}

/// Whether form data (a query or a form body) has a parameter named `oauth_...` once decoded:
/// such a request cannot be signed, its protocol parameters would be doubled (RFC 5849 §3.1).
/// [`Signer::sign`](super::Signer::sign) refuses it too; this lets a middleware refuse it before
/// reading a body.
///
/// A name without `%` decodes to itself (but for `+`, which cannot make `oauth_`), so only names
/// with escapes are decoded.
///
/// ```
/// use oauth_core::oauth1::has_protocol_parameter;
///
/// assert!(has_protocol_parameter("a=1&%6Fauth_token=x"));
/// assert!(!has_protocol_parameter("a=oauth_token&xoauth_=1"));
/// ```
pub fn has_protocol_parameter(form: &str) -> bool {
    form.as_bytes().split(|&b| b == b'&').any(|segment| {
        let name = segment.split(|&b| b == b'=').next().unwrap_or_default();
        if name.starts_with(b"oauth_") {
            return true;
        }
        name.contains(&b'%')
            && std::str::from_utf8(name).is_ok_and(|name| {
                form_decode_component(name).is_ok_and(|n| n.starts_with("oauth_"))
            })
    })
}

/// RFC 3986 unreserved: the bytes §3.6 leaves as they are.
#[inline]
fn is_unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// §3.6-encodes `s`, borrowing when nothing needs encoding. A quick scan settles the common case
/// (identifiers, numbers, nonces) before falling back to [`percent_encode`].
#[inline]
pub(crate) fn encode(s: &str) -> Cow<'_, str> {
    if super::fast::all_unreserved(s.as_bytes()) {
        Cow::Borrowed(s)
    } else {
        percent_encode(s)
    }
}

/// §3.6-encodes a decoded component, borrowing when possible (the two-step reference for
/// [`canonicalize`]).
#[cfg(test)]
pub(crate) fn encode_decoded(decoded: Cow<'_, str>) -> Cow<'_, str> {
    match decoded {
        Cow::Borrowed(s) => encode(s),
        Cow::Owned(s) => {
            if s.bytes().all(is_unreserved) {
                Cow::Owned(s)
            } else {
                let mut encoded = String::with_capacity(s.len() * 3);
                crate::encode::percent_encode_into(&mut encoded, &s);
                Cow::Owned(encoded)
            }
        }
    }
}

/// `encode(form_decode(raw))` in one pass, for the signing hot path: the canonical §3.6 form of
/// one raw form or query component.
///
/// It produces exactly what [`form_decode_component`] followed by [`percent_encode`] produce (a
/// unit test and a property test pin that), without the intermediate string: unreserved bytes
/// are kept, `+` becomes `%20`, an escape of an unreserved byte is decoded, other escapes get
/// upper-case hex, and any other byte is escaped. Errors (a bad escape, escapes that decode to
/// invalid UTF-8) are reported by the strict decoder itself, so they are the same too.
pub(crate) fn canonicalize(raw: &str) -> Result<Cow<'_, str>, DecodeError> {
    const HEX: &[u8; 16] = b"0123456789ABCDEF";
    let bytes = raw.as_bytes();
    if bytes.iter().all(|&b| is_unreserved(b)) {
        return Ok(Cow::Borrowed(raw));
    }
    let mut out = Vec::with_capacity(bytes.len() * 3);
    let mut escaped_non_ascii = false;
    let mut i = 0;
    while i < bytes.len() {
        let b = bytes[i];
        if b == b'%' {
            let hi = bytes.get(i + 1).and_then(|&h| (h as char).to_digit(16));
            let lo = bytes.get(i + 2).and_then(|&h| (h as char).to_digit(16));
            let (Some(hi), Some(lo)) = (hi, lo) else {
                // Let the strict decoder describe the error.
                form_decode_component(raw)?;
                return Err(DecodeError::InvalidPercentEncoding { offset: i });
            };
            let d = (hi << 4 | lo) as u8;
            escaped_non_ascii |= d >= 0x80;
            if is_unreserved(d) {
                out.push(d);
            } else {
                out.extend_from_slice(&[b'%', HEX[usize::from(d >> 4)], HEX[usize::from(d & 15)]]);
            }
            i += 3;
        } else {
            if b == b'+' {
                out.extend_from_slice(b"%20");
            } else if is_unreserved(b) {
                out.push(b);
            } else {
                out.extend_from_slice(&[b'%', HEX[usize::from(b >> 4)], HEX[usize::from(b & 15)]]);
            }
            i += 1;
        }
    }
    if escaped_non_ascii {
        // Escaped bytes above 0x7F must form UTF-8 with their neighbours: the strict decoder
        // checks that.
        form_decode_component(raw)?;
    }
    // Only ASCII was written.
    String::from_utf8(out)
        .map(Cow::Owned)
        .map_err(|_| DecodeError::InvalidUtf8)
}

/// Splits `application/x-www-form-urlencoded` data (a query or a form body) into encoded
/// parameters appended to `out`.
///
/// Each name and value is decoded exactly once (`+` is a space) and re-encoded per §3.6, so
/// `b5=%3D%253D` becomes `b5` / `%3D%253D`. With `reject_protocol`, a name starting with `oauth_`
/// is a [`RequestError::DuplicateProtocolParameter`] (the signer adds those itself).
pub(crate) fn collect_form<'a>(
    data: &'a str,
    reject_protocol: bool,
    out: &mut Vec<EncodedParam<'a>>,
) -> Result<(), RequestError> {
    for segment in data.split('&').filter(|s| !s.is_empty()) {
        let (name, value) = segment.split_once('=').unwrap_or((segment, ""));
        let name = canonicalize(name)?;
        // Canonical `oauth_` is the literal prefix, so the check sees through `oauth%5F`.
        if reject_protocol && name.starts_with("oauth_") {
            let decoded = form_decode_component(&name)?;
            return Err(RequestError::DuplicateProtocolParameter {
                name: bounded_name(&decoded),
            });
        }
        out.push((name, canonicalize(value)?));
    }
    Ok(())
}

/// Sorts encoded parameters by name, then value, in byte order (RFC 5849 §3.4.1.3.2).
pub(crate) fn sort_params(params: &mut [EncodedParam<'_>]) {
    params.sort_unstable_by(|a, b| {
        (a.0.as_bytes(), a.1.as_bytes()).cmp(&(b.0.as_bytes(), b.1.as_bytes()))
    });
}

/// Appends `name=value&...` for sorted, encoded parameters.
pub(crate) fn write_normalized(out: &mut String, params: &[EncodedParam<'_>]) {
    for (i, (name, value)) in params.iter().enumerate() {
        if i > 0 {
            out.push('&');
        }
        out.push_str(name);
        out.push('=');
        out.push_str(value);
    }
}

/// The normalised request parameters string (RFC 5849 §3.4.1.3.2) of decoded name/value pairs:
/// each name and value §3.6-encoded, sorted by encoded name then encoded value (duplicates
/// kept), joined as `name=value` with `&`.
///
/// ```
/// use oauth_core::oauth1::normalize_parameters;
///
/// let pairs = [("a", "x!y"), ("a", "x y"), ("c2", "")];
/// assert_eq!(normalize_parameters(pairs), "a=x%20y&a=x%21y&c2=");
/// ```
pub fn normalize_parameters<I, N, V>(pairs: I) -> String
where
    I: IntoIterator<Item = (N, V)>,
    N: AsRef<str>,
    V: AsRef<str>,
{
    let mut params: Vec<EncodedParam<'static>> = pairs
        .into_iter()
        .map(|(n, v)| {
            (
                Cow::Owned(percent_encode(n.as_ref()).into_owned()),
                Cow::Owned(percent_encode(v.as_ref()).into_owned()),
            )
        })
        .collect();
    sort_params(&mut params);
    let mut out = String::new();
    write_normalized(&mut out, &params);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn protocol_parameters_are_found_by_their_decoded_names() {
        for (data, found) in [
            ("a=1&oauth_x=2", true),
            ("oauth_=1", true),
            ("a=1&%6Fauth_x=2", true),
            ("o%61uth_token", true),
            ("oauth%5Fnonce=1", true),
            ("a=1&&oauth_token", true),
            ("xoauth_=1", false),
            ("a=oauth_x", false),
            ("oauth=1&auth_x=2", false),
            ("%zz=1&b=2", false),
            ("", false),
            ("since_id=12345&count=20", false),
        ] {
            assert_eq!(has_protocol_parameter(data), found, "{data}");
        }
    }

    #[test]
    fn collects_rfc_example_query_and_body() {
        let mut out = Vec::new();
        collect_form("b5=%3D%253D&a3=a&c%40=&a2=r%20b", true, &mut out).unwrap();
        collect_form("c2&a3=2+q", true, &mut out).unwrap();
        sort_params(&mut out);
        let mut s = String::new();
        write_normalized(&mut s, &out);
        assert_eq!(s, "a2=r%20b&a3=2%20q&a3=a&b5=%3D%253D&c%40=&c2=");
    }

    #[test]
    fn rejects_protocol_parameters_and_bad_encoding() {
        let mut out = Vec::new();
        assert_eq!(
            collect_form("a=1&oauth_token=x", true, &mut out),
            Err(RequestError::DuplicateProtocolParameter {
                name: "oauth_token".into()
            })
        );
        // Decoded before the check: `oauth%5Fnonce` is `oauth_nonce`.
        assert!(collect_form("oauth%5Fnonce=x", true, &mut out).is_err());
        assert!(collect_form("oauth_token=x", false, &mut out).is_ok());
        assert!(matches!(
            collect_form("a=%zz", false, &mut out),
            Err(RequestError::InvalidEncoding(_))
        ));
    }

    fn slow(raw: &str) -> Result<String, DecodeError> {
        Ok(encode_decoded(form_decode_component(raw)?).into_owned())
    }

    #[test]
    fn canonicalize_matches_decode_then_encode() {
        for raw in [
            "",
            "abc",
            "a+b",
            "%2b%2C%21",
            "%7e%7E%41",
            "Hello%20Ladies%20%2b%20Gentlemen%2c",
            "caf%C3%A9",
            "caf\u{e9}",
            "%E3%80%81",
            "!*'();:@&=$,/?#[]",
            "%zz",
            "a%",
            "%4",
            "%FF",
            "%C3",
            "\u{e9}%A9",
            "%C3\u{e9}",
            "%%41",
            "~-._",
            " ",
        ] {
            let fast = canonicalize(raw).map(Cow::into_owned);
            assert_eq!(fast, slow(raw), "{raw:?}");
        }
    }

    proptest::proptest! {
        #[test]
        fn canonicalize_equals_decode_then_encode(raw in "(%[0-9a-fA-F]{2}|%|[+a-zA-Z0-9._~ !*%é€]){0,12}") {
            proptest::prop_assert_eq!(canonicalize(&raw).map(Cow::into_owned), slow(&raw));
        }

        #[test]
        fn canonicalize_equals_decode_then_encode_any(raw in "\\PC{0,16}") {
            proptest::prop_assert_eq!(canonicalize(&raw).map(Cow::into_owned), slow(&raw));
        }
    }

    #[test]
    fn form_content_type_detection() {
        for yes in [
            "application/x-www-form-urlencoded",
            "Application/X-WWW-Form-URLEncoded",
            "application/x-www-form-urlencoded;charset=UTF-8",
            " application/x-www-form-urlencoded ; charset=utf-8",
        ] {
            assert!(
                is_form_content_type(&HeaderValue::from_static(yes)),
                "{yes}"
            );
        }
        for no in [
            "multipart/form-data; boundary=abc",
            "application/json",
            "text/plain",
            "application/x-www-form-urlencodedx",
            "",
        ] {
            assert!(!is_form_content_type(&HeaderValue::from_static(no)), "{no}");
        }
        let non_ascii = HeaderValue::from_bytes(b"application/x-www-form-urlencoded\xff").unwrap();
        assert!(!is_form_content_type(&non_ascii));
        // A non-ASCII byte in a parameter leaves the media type a form's.
        let obs_text =
            HeaderValue::from_bytes(b"application/x-www-form-urlencoded; charset=\xe9").unwrap();
        assert!(is_form_content_type(&obs_text));
    }
}
