//! Request parameters: collection (RFC 5849 §3.4.1.3.1) and normalisation (§3.4.1.3.2).

use std::borrow::Cow;

use http::HeaderValue;

use super::error::{RequestError, bounded_name};
use crate::encode::{form_decode_component, percent_encode};

/// The media type of a form body whose parameters are signed (RFC 5849 §3.4.1.3.1).
pub const FORM_CONTENT_TYPE: &str = "application/x-www-form-urlencoded";

/// One parameter, name and value both already §3.6-encoded.
pub(crate) type EncodedParam<'a> = (Cow<'a, str>, Cow<'a, str>);

/// Whether a `Content-Type` value announces a single-part `application/x-www-form-urlencoded`
/// body, whose parameters RFC 5849 §3.4.1.3.1 includes in the signature.
///
/// The media type is compared case-insensitively; parameters such as `; charset=UTF-8` are
/// allowed. `multipart/form-data`, JSON and everything else give `false`: those bodies are not
/// signed (RFC 5849 §4.12; use the body-hash option to cover them).
///
/// ```
/// use http::HeaderValue;
/// use oauth_core::oauth1::is_form_content_type;
///
/// assert!(is_form_content_type(&HeaderValue::from_static("application/x-www-form-urlencoded; charset=UTF-8")));
/// assert!(!is_form_content_type(&HeaderValue::from_static("multipart/form-data; boundary=x")));
/// ```
pub fn is_form_content_type(value: &HeaderValue) -> bool {
    let Ok(value) = value.to_str() else {
        return false;
    };
    let essence = value.split(';').next().unwrap_or("").trim();
    essence.eq_ignore_ascii_case(FORM_CONTENT_TYPE)
}

/// §3.6-encodes a decoded component, borrowing when possible.
pub(crate) fn encode_decoded(decoded: Cow<'_, str>) -> Cow<'_, str> {
    match decoded {
        Cow::Borrowed(s) => percent_encode(s),
        Cow::Owned(s) => Cow::Owned(percent_encode(&s).into_owned()),
    }
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
        let name = form_decode_component(name)?;
        if reject_protocol && name.starts_with("oauth_") {
            return Err(RequestError::DuplicateProtocolParameter {
                name: bounded_name(&name),
            });
        }
        let value = form_decode_component(value)?;
        out.push((encode_decoded(name), encode_decoded(value)));
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

    #[test]
    fn form_content_type_detection() {
        for yes in [
            "application/x-www-form-urlencoded",
            "Application/X-WWW-Form-URLEncoded",
            "application/x-www-form-urlencoded;charset=UTF-8",
            " application/x-www-form-urlencoded ; charset=utf-8",
        ] {
            assert!(is_form_content_type(&HeaderValue::from_static(yes)), "{yes}");
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
    }
}
