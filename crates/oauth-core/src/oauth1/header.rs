//! The `Authorization: OAuth ...` header (RFC 5849 §3.5.1): strict, bounded parsing and
//! formatting.

use std::borrow::Cow;
use std::fmt::{self, Write as _};

use super::error::{HeaderError, bounded_name};
use crate::auth_syntax::{Cursor, Quoted};
use crate::encode::{percent_decode, percent_encode_into};

/// The longest header value [`AuthorizationHeader::parse`] accepts, in bytes.
pub const MAX_HEADER_LEN: usize = 16 * 1024;
/// The most parameters [`AuthorizationHeader::parse`] accepts.
pub const MAX_HEADER_PARAMS: usize = 64;

/// The parameters of an `Authorization: OAuth` header (RFC 5849 §3.5.1), decoded.
///
/// `realm` is kept apart: it is not a request parameter and is not signed (§3.4.1.3.1). Every
/// other parameter is kept in header order.
///
/// `Debug` prints the realm and the parameter names only: a PLAINTEXT `oauth_signature` is the
/// shared secret, and `oauth_verifier` is a single-use credential.
///
/// ```
/// use oauth_core::oauth1::AuthorizationHeader;
///
/// let header = AuthorizationHeader::parse(
///     r#"OAuth realm="Example", oauth_consumer_key="9djdj82h48djs9d2", oauth_signature="r6%2FTJjbCOr97%2F%2BUU0NsvSne7s5g%3D""#,
/// )?;
/// assert_eq!(header.realm(), Some("Example"));
/// assert_eq!(header.get("oauth_signature"), Some("r6/TJjbCOr97/+UU0NsvSne7s5g="));
/// assert_eq!(AuthorizationHeader::parse(&header.to_header_string())?, header);
/// # Ok::<(), oauth_core::oauth1::HeaderError>(())
/// ```
#[derive(Clone, PartialEq, Eq, Default)]
pub struct AuthorizationHeader {
    realm: Option<String>,
    params: Vec<(String, String)>,
}

impl fmt::Debug for AuthorizationHeader {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let names = crate::secret::names_only(&self.params);
        f.debug_struct("AuthorizationHeader")
            .field("realm", &self.realm)
            .field("params", &names)
            .finish()
    }
}

fn is_ws(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Characters of a quoted value: printable ASCII and space, without `"` and `\` (which only
/// come in quoted-pairs: §3.6-encoded values never need them, a realm may).
fn is_value_char(b: u8) -> bool {
    (b' '..=b'~').contains(&b) && b != b'"' && b != b'\\'
}

impl AuthorizationHeader {
    /// A header with these decoded parameters, or an error when [`parse`](Self::parse) would
    /// refuse its [`to_header_string`](Self::to_header_string): a parameter named `realm` (the
    /// realm is the first argument, and is not signed), an empty name, a name given twice, more
    /// than [`MAX_HEADER_PARAMS`] parameters counting the realm, or more than
    /// [`MAX_HEADER_LEN`] bytes written.
    ///
    /// A realm is written as is, except that bytes a quoted value cannot hold (`"`, `\`,
    /// controls, non-ASCII) are percent-encoded, so that no realm can close its quotes and add
    /// parameters; such a realm reads back in its encoded form (the parser takes a realm as
    /// is). Every other header reads back as the same header.
    ///
    /// # Errors
    ///
    /// Fails with [`HeaderError::RealmAsParameter`], [`HeaderError::EmptyParameterName`],
    /// [`HeaderError::DuplicateParameter`], [`HeaderError::TooManyParameters`] or
    /// [`HeaderError::TooLong`], for the cases listed above.
    ///
    /// ```
    /// use oauth_core::oauth1::{AuthorizationHeader, HeaderError};
    ///
    /// let header = AuthorizationHeader::new(
    ///     Some("Photos".into()),
    ///     vec![("oauth_consumer_key".into(), "dpf43f3p2l4k3l03".into())],
    /// )?;
    /// assert_eq!(
    ///     header.to_header_string(),
    ///     r#"OAuth realm="Photos", oauth_consumer_key="dpf43f3p2l4k3l03""#
    /// );
    /// assert!(matches!(
    ///     AuthorizationHeader::new(None, vec![("realm".into(), "Photos".into())]),
    ///     Err(HeaderError::RealmAsParameter)
    /// ));
    /// # Ok::<(), HeaderError>(())
    /// ```
    pub fn new(realm: Option<String>, params: Vec<(String, String)>) -> Result<Self, HeaderError> {
        if params.len() + usize::from(realm.is_some()) > MAX_HEADER_PARAMS {
            return Err(HeaderError::TooManyParameters {
                max: MAX_HEADER_PARAMS,
            });
        }
        for (i, (name, _)) in params.iter().enumerate() {
            if name == "realm" {
                return Err(HeaderError::RealmAsParameter);
            }
            if name.is_empty() {
                return Err(HeaderError::EmptyParameterName);
            }
            if params[..i].iter().any(|(earlier, _)| earlier == name) {
                return Err(HeaderError::DuplicateParameter {
                    name: bounded_name(name),
                });
            }
        }
        let header = Self { realm, params };
        if header.written_len() > MAX_HEADER_LEN {
            return Err(HeaderError::TooLong {
                max: MAX_HEADER_LEN,
            });
        }
        Ok(header)
    }

    /// The length of [`to_header_string`](Self::to_header_string), without writing it.
    fn written_len(&self) -> usize {
        let encoded = |s: &str| {
            s.bytes()
                .map(|b| {
                    if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
                        1
                    } else {
                        3
                    }
                })
                .sum::<usize>()
        };
        let realm = self.realm.as_ref().map_or(0, |realm| {
            let value: usize = realm
                .bytes()
                .map(|b| if is_value_char(b) { 1 } else { 3 })
                .sum();
            "realm=\"\"".len() + value
        });
        let params: usize = self
            .params
            .iter()
            .map(|(name, value)| encoded(name) + "=\"\"".len() + encoded(value))
            .sum();
        let items = self.params.len() + usize::from(self.realm.is_some());
        "OAuth ".len() + realm + params + ", ".len() * items.saturating_sub(1)
    }

    /// Parses an `Authorization` header value strictly.
    ///
    /// Accepted: the scheme `OAuth` (any case), then `name="value"` pairs separated by commas
    /// with optional whitespace (RFC 5849 §3.5.1), read as HTTP reads credentials (RFC 9110
    /// §11.2, §5.6): whitespace around `=` is removed, a value may also be a bare token, and
    /// quoted-pairs (`\"`) are unescaped. Values are then percent-decoded strictly, except
    /// `realm`, which is taken as is. Empty list elements (`a="1", , b="2"`, a trailing comma)
    /// are ignored, as RFC 9110 §5.6.1.2 asks of a recipient. Parameters not separated by a
    /// comma, bytes outside printable ASCII in a value, duplicate names, more than
    /// [`MAX_HEADER_PARAMS`] parameters and values over [`MAX_HEADER_LEN`] bytes are errors.
    /// Never panics.
    ///
    /// # Errors
    ///
    /// Fails with a [`HeaderError`] naming the rule broken: [`NotOAuth`](HeaderError::NotOAuth) for
    /// another scheme, [`TooLong`](HeaderError::TooLong),
    /// [`TooManyParameters`](HeaderError::TooManyParameters), [`Malformed`](HeaderError::Malformed)
    /// for the grammar, [`InvalidEncoding`](HeaderError::InvalidEncoding) for a value that does not
    /// percent-decode, and [`DuplicateParameter`](HeaderError::DuplicateParameter).
    pub fn parse(value: &str) -> Result<Self, HeaderError> {
        if value.len() > MAX_HEADER_LEN {
            return Err(HeaderError::TooLong {
                max: MAX_HEADER_LEN,
            });
        }
        let mut c = Cursor::new(value, 0);
        c.skip_while(is_ws);
        let scheme_start = c.pos();
        // Stops at whitespace or the end, so the scheme is a whole `str`.
        c.skip_while(|b| !is_ws(b));
        if !value[scheme_start..c.pos()].eq_ignore_ascii_case("OAuth") {
            return Err(HeaderError::NotOAuth);
        }
        let malformed = |offset, reason| HeaderError::Malformed { offset, reason };

        let mut header = Self::default();
        let mut first = true;
        loop {
            // Empty list elements (`, ,`) are skipped: a recipient parses and ignores them
            // (RFC 9110 §5.6.1.2; the `#rule` RFC 5849 §3.5.1 refers to through RFC 2617).
            // Between two parameters there must be at least one comma.
            let mut separated = first;
            c.skip_while(|b| {
                separated |= b == b',';
                b == b',' || is_ws(b)
            });
            if c.at_end() {
                break;
            }
            if !separated {
                return Err(malformed(c.pos(), "expected `,` between parameters"));
            }
            first = false;
            let raw_name = c
                .token()
                .ok_or_else(|| malformed(c.pos(), "expected a parameter name"))?;
            // `token BWS "=" BWS ( token / quoted-string )` (RFC 9110 §11.2): the whitespace
            // around `=` is removed (§5.6.3), and a value may be a bare token.
            c.skip_bws();
            if c.peek() != Some(b'=') {
                return Err(malformed(c.pos(), "expected `=` after the parameter name"));
            }
            c.bump();
            c.skip_bws();
            let raw_value = if c.peek() == Some(b'"') {
                // Printable ASCII only: §3.6-encoded values never need more, and a quoted-pair
                // (RFC 9110 §5.6.4) is unescaped.
                c.quoted_string(Quoted::Strict)
                    .map_err(|at| malformed(at, "unterminated or invalid quoted value"))?
            } else {
                Cow::Borrowed(
                    c.token()
                        .ok_or_else(|| malformed(c.pos(), "expected a quoted or token value"))?,
                )
            };
            header.push(raw_name, raw_value)?;
        }
        Ok(header)
    }

    /// Adds a parameter read by [`parse`](Self::parse): the name percent-decoded, the value
    /// taken as is for `realm` and percent-decoded otherwise; refuses a duplicate and more
    /// than [`MAX_HEADER_PARAMS`].
    fn push(&mut self, raw_name: &str, raw_value: Cow<'_, str>) -> Result<(), HeaderError> {
        if self.params.len() + usize::from(self.realm.is_some()) >= MAX_HEADER_PARAMS {
            return Err(HeaderError::TooManyParameters {
                max: MAX_HEADER_PARAMS,
            });
        }
        let name = percent_decode(raw_name).map_err(|error| HeaderError::InvalidEncoding {
            name: bounded_name(raw_name),
            error,
        })?;
        if name == "realm" {
            if self.realm.is_some() {
                return Err(HeaderError::DuplicateParameter {
                    name: "realm".into(),
                });
            }
            self.realm = Some(raw_value.into_owned());
            return Ok(());
        }
        if self.params.iter().any(|(n, _)| *n == name) {
            return Err(HeaderError::DuplicateParameter {
                name: bounded_name(&name),
            });
        }
        let decoded = percent_decode(&raw_value).map_err(|error| HeaderError::InvalidEncoding {
            name: bounded_name(&name),
            error,
        })?;
        self.params.push((name.into_owned(), decoded.into_owned()));
        Ok(())
    }

    /// The `realm`, if present.
    pub fn realm(&self) -> Option<&str> {
        self.realm.as_deref()
    }

    /// The parameters other than `realm`, decoded, in header order.
    pub fn params(&self) -> &[(String, String)] {
        &self.params
    }

    /// The decoded value of a parameter.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    /// Formats the header value: `OAuth realm="...", name="value", ...`, names and values
    /// §3.6-encoded, `realm` as is.
    ///
    /// # Security
    ///
    /// The result holds the signature, which for PLAINTEXT is the shared secret.
    pub fn to_header_string(&self) -> String {
        let mut out = String::from("OAuth ");
        let mut first = true;
        if let Some(realm) = &self.realm {
            out.push_str("realm=\"");
            for &byte in realm.as_bytes() {
                if is_value_char(byte) {
                    out.push(char::from(byte));
                } else {
                    // (Writing to a String cannot fail.)
                    let _ = write!(out, "%{byte:02X}");
                }
            }
            out.push('"');
            first = false;
        }
        for (name, value) in &self.params {
            if !first {
                out.push_str(", ");
            }
            first = false;
            percent_encode_into(&mut out, name);
            out.push_str("=\"");
            percent_encode_into(&mut out, value);
            out.push('"');
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_rfc_example_with_line_breaks() {
        let h = AuthorizationHeader::parse(
            "OAuth realm=\"Example\",\n    oauth_consumer_key=\"9djdj82h48djs9d2\",\n    \
             oauth_token=\"kkk9d7dh3k39sjv7\",\n    oauth_signature_method=\"HMAC-SHA1\",\n    \
             oauth_timestamp=\"137131201\",\n    oauth_nonce=\"7d8f3e4a\",\n    \
             oauth_signature=\"djosJKDKJSD8743243%2Fjdk33klY%3D\"",
        )
        .unwrap();
        assert_eq!(h.realm(), Some("Example"));
        assert_eq!(h.params().len(), 6);
        assert_eq!(
            h.get("oauth_signature"),
            Some("djosJKDKJSD8743243/jdk33klY=")
        );
    }

    #[test]
    fn scheme_is_case_insensitive_and_params_optional() {
        assert!(
            AuthorizationHeader::parse("oauth")
                .unwrap()
                .params()
                .is_empty()
        );
        assert!(AuthorizationHeader::parse("  OAUTH  a=\"b\" ").is_ok());
        assert_eq!(
            AuthorizationHeader::parse("Bearer abc"),
            Err(HeaderError::NotOAuth)
        );
        assert_eq!(
            AuthorizationHeader::parse("OAuthx a=\"b\""),
            Err(HeaderError::NotOAuth)
        );
        assert_eq!(AuthorizationHeader::parse(""), Err(HeaderError::NotOAuth));
    }

    #[test]
    fn rejects_malformed_input() {
        for bad in [
            "OAuth a=b c",
            "OAuth a=",
            "OAuth a= ,b=\"1\"",
            "OAuth a=\"b",
            "OAuth a=\"b\" c=\"d\"",
            "OAuth a=\"b\", c=\"d\" e=\"f\"",
            "OAuth ,a=\"b\" c=\"d\"",
            "OAuth =\"b\"",
            "OAuth a b=\"c\"",
            "OAuth a=\"b\\\"",
            "OAuth a=\"b\\\u{e9}\"",
            "OAuth a=\"\u{e9}\"",
            "OAuth a=\"\x01\"",
            "OAuth a\"b\"",
        ] {
            assert!(
                matches!(
                    AuthorizationHeader::parse(bad),
                    Err(HeaderError::Malformed { .. })
                ),
                "{bad:?}: {:?}",
                AuthorizationHeader::parse(bad)
            );
        }
        assert!(matches!(
            AuthorizationHeader::parse("OAuth a=\"%zz\""),
            Err(HeaderError::InvalidEncoding { .. })
        ));
        assert!(matches!(
            AuthorizationHeader::parse("OAuth a=\"1\", a=\"2\""),
            Err(HeaderError::DuplicateParameter { .. })
        ));
        assert!(matches!(
            AuthorizationHeader::parse("OAuth realm=\"1\", realm=\"2\""),
            Err(HeaderError::DuplicateParameter { .. })
        ));
        // `%61` decodes to `a`: still a duplicate.
        assert!(matches!(
            AuthorizationHeader::parse("OAuth a=\"1\", %61=\"2\""),
            Err(HeaderError::DuplicateParameter { .. })
        ));
    }

    /// RFC 9110 §5.6.1.2 (and the `#rule` of RFC 2616 §2.1 that RFC 5849 §3.5.1 refers to
    /// through RFC 2617): a recipient parses and ignores empty list elements, before, between
    /// and after the parameters.
    #[test]
    fn empty_list_elements_are_ignored() {
        for header in [
            "OAuth a=\"1\",,b=\"2\"",
            "OAuth a=\"1\", , b=\"2\"",
            "OAuth ,a=\"1\", b=\"2\"",
            "OAuth , , a=\"1\",b=\"2\"",
            "OAuth a=\"1\", b=\"2\",",
            "OAuth a=\"1\",b=\"2\" , ,",
        ] {
            let parsed = AuthorizationHeader::parse(header);
            assert_eq!(
                parsed.as_ref().map(|h| h.params().to_vec()),
                Ok(vec![("a".into(), "1".into()), ("b".into(), "2".into())]),
                "{header:?}"
            );
        }
        for header in ["OAuth ,", "OAuth , ,, "] {
            assert_eq!(
                AuthorizationHeader::parse(header).map(|h| h.params().len()),
                Ok(0),
                "{header:?}"
            );
        }
        // Empty elements do not make a duplicate parameter acceptable.
        assert!(matches!(
            AuthorizationHeader::parse("OAuth a=\"1\",, a=\"2\""),
            Err(HeaderError::DuplicateParameter { .. })
        ));
    }

    /// RFC 9110 §5.6.4: a recipient handles a quoted-pair (`\"`, `\\`, `\x`) as the
    /// octet after the backslash. A realm with a quote in it can only be sent so.
    #[test]
    fn quoted_pairs_are_unescaped() {
        let h =
            AuthorizationHeader::parse(r#"OAuth realm="Photos \"beta\" \\ 2", a="x\yz""#).unwrap();
        assert_eq!(h.realm(), Some(r#"Photos "beta" \ 2"#));
        assert_eq!(h.get("a"), Some("xyz"));
        // Written back, the realm's quote and backslash are percent-encoded (see `new`), so a
        // provider without quoted-pair support cannot read its end early.
        let written = h.to_header_string();
        assert_eq!(written, r#"OAuth realm="Photos %22beta%22 %5C 2", a="xyz""#);
        assert_eq!(
            AuthorizationHeader::parse(&written).unwrap().get("a"),
            Some("xyz")
        );
        // Unescaped first, then percent-decoded.
        let h = AuthorizationHeader::parse(r#"OAuth a="\%41\%2F""#).unwrap();
        assert_eq!(h.get("a"), Some("A/"));
    }

    /// RFC 9110 §11.2 (and RFC 2617, which RFC 5849 §3.5.1 refers to): `auth-param = token BWS
    /// "=" BWS ( token / quoted-string )`. Whitespace around `=` is removed (§5.6.3: recipients
    /// MUST), and a value may be a token.
    #[test]
    fn bad_whitespace_and_token_values_are_read() {
        for header in [
            "OAuth a = \"1\", b\t=\t\"%2F\"",
            "OAuth a=1, b=%2F",
            "OAuth a =1 ,b= \"%2F\"",
        ] {
            let parsed = AuthorizationHeader::parse(header);
            assert_eq!(
                parsed.as_ref().map(|h| h.params().to_vec()),
                Ok(vec![("a".into(), "1".into()), ("b".into(), "/".into())]),
                "{header:?}"
            );
        }
        let h = AuthorizationHeader::parse("OAuth realm=Photos, a=1").unwrap();
        assert_eq!(h.realm(), Some("Photos"));
    }

    /// `Debug` shows the realm and the parameter names, in order, and no value: a PLAINTEXT
    /// signature is the shared secret and a verifier a single-use credential.
    #[test]
    fn debug_shows_the_realm_and_names_only() {
        let h = AuthorizationHeader::parse(
            r#"OAuth realm="Photos", oauth_verifier="hfdp7dh39dks9884", oauth_signature="kd94hf93k423kf44%26pfkkdhi9sl3r4s00""#,
        )
        .unwrap();
        let debug = format!("{h:?}");
        assert_eq!(
            debug,
            r#"AuthorizationHeader { realm: Some("Photos"), params: ["oauth_verifier", "oauth_signature"] }"#
        );
        for secret in ["hfdp7dh39dks9884", "kd94hf93k423kf44", "pfkkdhi9sl3r4s00"] {
            assert!(!debug.contains(secret), "{debug}");
        }
    }

    #[test]
    fn bounded() {
        let long = format!("OAuth a=\"{}\"", "x".repeat(MAX_HEADER_LEN));
        assert!(matches!(
            AuthorizationHeader::parse(&long),
            Err(HeaderError::TooLong { .. })
        ));
        let many: Vec<String> = (0..=MAX_HEADER_PARAMS)
            .map(|i| format!("p{i}=\"v\""))
            .collect();
        assert!(matches!(
            AuthorizationHeader::parse(&format!("OAuth {}", many.join(","))),
            Err(HeaderError::TooManyParameters { .. })
        ));
        let ok: Vec<String> = (0..MAX_HEADER_PARAMS)
            .map(|i| format!("p{i}=\"v\""))
            .collect();
        assert!(AuthorizationHeader::parse(&format!("OAuth {}", ok.join(","))).is_ok());
    }
}
