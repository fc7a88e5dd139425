//! `WWW-Authenticate` challenges (RFC 9110 §11.6.1, RFC 6750 §3): what a protected resource says
//! when it rejects a token.
//!
//! The parser is strict about syntax and bounded in size: malformed or oversized input is a
//! [`ChallengeError`], never a panic, so a hostile server cannot crash or stall the client.
//!
//! ```
//! use oauth_core::oauth2::challenge::parse_challenges;
//!
//! let challenges = parse_challenges(
//!     r#"Bearer realm="example", error="invalid_token", error_description="The access token expired""#,
//! ).unwrap();
//! let bearer = &challenges[0];
//! assert!(bearer.is_scheme("bearer"));
//! assert_eq!(bearer.param("error"), Some("invalid_token"));
//! ```

use http::HeaderMap;
use http::header::WWW_AUTHENTICATE;

use crate::auth_syntax::{Cursor, Quoted};

/// The longest header value the parser reads, in bytes (longer values are an error).
pub const MAX_CHALLENGE_LEN: usize = 16 * 1024;

/// One authentication challenge: a scheme and its parameters (RFC 9110 §11.2).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Challenge {
    scheme: String,
    token68: Option<String>,
    params: Vec<(String, String)>,
}

impl Challenge {
    /// The authentication scheme as sent (`Bearer`, `DPoP`, `OAuth`, …).
    pub fn scheme(&self) -> &str {
        &self.scheme
    }

    /// Whether the scheme is `scheme`, compared case-insensitively (RFC 9110 §11.1).
    pub fn is_scheme(&self, scheme: &str) -> bool {
        self.scheme.eq_ignore_ascii_case(scheme)
    }

    /// The value of the parameter `name` (compared case-insensitively), unquoted.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    /// All parameters in order, names as sent and values unquoted.
    pub fn params(&self) -> impl Iterator<Item = (&str, &str)> {
        self.params.iter().map(|(n, v)| (n.as_str(), v.as_str()))
    }

    /// The `token68` form of credentials, if the challenge used it instead of parameters.
    pub fn token68(&self) -> Option<&str> {
        self.token68.as_deref()
    }
}

/// A `WWW-Authenticate` value that could not be parsed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ChallengeError {
    /// The value is longer than [`MAX_CHALLENGE_LEN`].
    #[error("WWW-Authenticate value longer than {MAX_CHALLENGE_LEN} bytes")]
    TooLong,
    /// The value does not follow the challenge grammar at this byte offset.
    #[error("malformed WWW-Authenticate value at byte {offset}")]
    Malformed {
        /// Byte offset of the first unexpected character.
        offset: usize,
    },
    /// A quoted string is not terminated.
    #[error("unterminated quoted string in WWW-Authenticate value")]
    UnterminatedQuote,
}

/// Every challenge in every `WWW-Authenticate` field of `headers`, in order. A field that does
/// not parse is skipped (it hides nothing in the other fields). Bytes past ASCII (`obs-text`,
/// valid in a quoted-string, RFC 9110 §5.6.4) are read, so a UTF-8 or Latin-1 `realm` does not
/// hide the error code next to it; outside a quoted string they are still malformed.
///
/// ```
/// use http::{HeaderMap, HeaderValue, header::WWW_AUTHENTICATE};
/// use oauth_core::oauth2::challenge::www_authenticate_challenges;
///
/// let mut headers = HeaderMap::new();
/// let value = "Bearer realm=\"Z\u{fc}rich\", error=\"invalid_token\"";
/// headers.insert(WWW_AUTHENTICATE, HeaderValue::from_bytes(value.as_bytes()).unwrap());
/// let bearer = www_authenticate_challenges(&headers).next().unwrap();
/// assert_eq!(bearer.param("error"), Some("invalid_token"));
/// ```
pub fn www_authenticate_challenges(headers: &HeaderMap) -> impl Iterator<Item = Challenge> + '_ {
    headers
        .get_all(WWW_AUTHENTICATE)
        .iter()
        .filter_map(|value| parse_challenges(&String::from_utf8_lossy(value.as_bytes())).ok())
        .flatten()
}

/// Parses a `WWW-Authenticate` header value into its challenges.
///
/// # Errors
///
/// Fails with [`ChallengeError::TooLong`] for a value longer than [`MAX_CHALLENGE_LEN`],
/// [`ChallengeError::UnterminatedQuote`] for a quoted string without its closing quote, and
/// [`ChallengeError::Malformed`] (with the byte offset) for anything else outside the RFC 9110
/// §11.6.1 challenge grammar.
pub fn parse_challenges(value: &str) -> Result<Vec<Challenge>, ChallengeError> {
    if value.len() > MAX_CHALLENGE_LEN {
        return Err(ChallengeError::TooLong);
    }
    let mut p = Parser {
        c: Cursor::new(value, 0),
    };
    let mut out = Vec::new();
    loop {
        p.skip_list_separators();
        if p.at_end() {
            return Ok(out);
        }
        let scheme = p.token().ok_or(p.malformed())?;
        let mut challenge = Challenge {
            scheme,
            token68: None,
            params: Vec::new(),
        };
        let had_space = p.skip_ws();
        if had_space && !p.at_end() && p.peek() != Some(b',') {
            if let Some(t68) = p.try_token68() {
                challenge.token68 = Some(t68);
            } else {
                p.params_into(&mut challenge.params)?;
            }
        } else if had_space && p.param_after_separators() {
            // `Bearer , error="invalid_token"`: empty list elements before the first
            // auth-param (RFC 9110 §5.6.1: recipients accept them). A `,` followed by a
            // scheme still starts the next challenge.
            p.skip_list_separators();
            p.params_into(&mut challenge.params)?;
        }
        out.push(challenge);
    }
}

struct Parser<'a> {
    c: Cursor<'a>,
}

impl<'a> Parser<'a> {
    fn at_end(&self) -> bool {
        self.c.at_end()
    }

    fn peek(&self) -> Option<u8> {
        self.c.peek()
    }

    fn malformed(&self) -> ChallengeError {
        ChallengeError::Malformed {
            offset: self.c.pos(),
        }
    }

    fn skip_ws(&mut self) -> bool {
        self.c.skip_bws()
    }

    fn skip_list_separators(&mut self) {
        self.c.skip_while(|b| matches!(b, b' ' | b'\t' | b','));
    }

    /// Whether list separators and then `token BWS "="` come next: an auth-param, not the
    /// next challenge's scheme. Moves nothing.
    fn param_after_separators(&self) -> bool {
        let mut ahead = Parser { c: self.c };
        ahead.skip_list_separators();
        if ahead.c.token().is_none() {
            return false;
        }
        ahead.skip_ws();
        ahead.peek() == Some(b'=')
    }

    fn token(&mut self) -> Option<String> {
        self.c.token().map(str::to_owned)
    }

    /// `token68` is only recognised when it is the whole rest of the challenge
    /// (followed by the end or a comma) and is not the start of `name=value`.
    fn try_token68(&mut self) -> Option<String> {
        let start = self.c.pos();
        let mut ahead = self.c;
        if !ahead.skip_while(is_token68_char) {
            return None;
        }
        ahead.skip_while(|b| b == b'=');
        let end = ahead.pos();
        ahead.skip_bws();
        // `name=value` continues after the `=`; token68 ends with only `=` padding.
        if !ahead.at_end() && ahead.peek() != Some(b',') {
            return None;
        }
        self.c.set_pos(end);
        Some(self.c.text()[start..end].to_owned())
    }

    fn params_into(&mut self, params: &mut Vec<(String, String)>) -> Result<(), ChallengeError> {
        loop {
            let save = self.c.pos();
            let Some(name) = self.token() else {
                return Err(self.malformed());
            };
            self.skip_ws();
            if self.peek() != Some(b'=') {
                // Not a parameter: the start of the next challenge.
                self.c.set_pos(save);
                return Ok(());
            }
            self.c.bump();
            self.skip_ws();
            let value = if self.peek() == Some(b'"') {
                // Lenient: `obs-text` and whatever else a server puts in a quoted string.
                self.c
                    .quoted_string(Quoted::Lenient)
                    .map_err(|_| ChallengeError::UnterminatedQuote)?
                    .into_owned()
            } else {
                self.token().ok_or(self.malformed())?
            };
            params.push((name, value));
            self.skip_ws();
            match self.peek() {
                None => return Ok(()),
                Some(b',') => {
                    self.skip_list_separators();
                    if self.at_end() {
                        return Ok(());
                    }
                }
                Some(_) => return Err(self.malformed()),
            }
        }
    }
}

fn is_token68_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"-._~+/".contains(&b)
}

#[cfg(test)]
mod tests {
    /// RFC 9110 §5.6.1: empty list elements before the first auth-param are accepted; a
    /// comma and then a scheme still start the next challenge.
    #[test]
    fn empty_list_elements_after_the_scheme() {
        let c = parse_challenges(r#"Bearer , error="invalid_token""#).unwrap();
        assert_eq!(c.len(), 1);
        assert!(c[0].is_scheme("bearer"));
        assert_eq!(c[0].param("error"), Some("invalid_token"));
        let c = parse_challenges(r#"Basic , , Bearer error="invalid_token""#).unwrap();
        assert_eq!(c.len(), 2);
        assert_eq!(c[1].param("error"), Some("invalid_token"));
    }

    use super::*;

    #[test]
    fn rfc6750_examples() {
        let c = parse_challenges(r#"Bearer realm="example""#).unwrap();
        assert_eq!(c.len(), 1);
        assert_eq!(c[0].scheme(), "Bearer");
        assert_eq!(c[0].param("realm"), Some("example"));

        let c = parse_challenges(
            r#"Bearer realm="example", error="invalid_token", error_description="The access token expired""#,
        )
        .unwrap();
        assert_eq!(c[0].param("ERROR"), Some("invalid_token"));
        assert_eq!(
            c[0].param("error_description"),
            Some("The access token expired")
        );
    }

    #[test]
    fn several_challenges_and_schemes() {
        let c = parse_challenges(
            r#"Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple", DPoP algs="ES256 PS256", error="use_dpop_nonce""#,
        )
        .unwrap();
        assert_eq!(c.len(), 3);
        assert_eq!(c[0].param("title"), Some(r#"Login to "apps""#));
        assert_eq!(c[0].param("type"), Some("1"));
        assert!(c[1].is_scheme("basic"));
        assert!(c[2].is_scheme("dpop"));
        assert_eq!(c[2].param("error"), Some("use_dpop_nonce"));
    }

    #[test]
    fn bare_scheme_and_token68() {
        let c = parse_challenges("Bearer").unwrap();
        assert_eq!(c[0].scheme(), "Bearer");
        assert_eq!(c[0].params().count(), 0);
        let c = parse_challenges("Negotiate abc+/def==, Bearer").unwrap();
        assert_eq!(c[0].token68(), Some("abc+/def=="));
        assert!(c[1].is_scheme("bearer"));
    }

    #[test]
    fn s4_6_case52_malformed_values_are_errors_not_panics() {
        assert_eq!(
            parse_challenges(r#"Bearer error=""#),
            Err(ChallengeError::UnterminatedQuote)
        );
        assert_eq!(
            parse_challenges(r#"Bearer error="abc\"#),
            Err(ChallengeError::UnterminatedQuote)
        );
        assert!(matches!(
            parse_challenges("Bearer error=\"x\" junk"),
            Err(ChallengeError::Malformed { .. })
        ));
        assert!(matches!(
            parse_challenges("=oops"),
            Err(ChallengeError::Malformed { offset: 0 })
        ));
        let huge = format!("Bearer {}", "a=b, ".repeat(13_000));
        assert_eq!(parse_challenges(&huge), Err(ChallengeError::TooLong));
        assert_eq!(parse_challenges("").unwrap(), Vec::new());
    }

    /// `params()` gives every auth-param of the challenge, in the order sent, names as sent
    /// and values unquoted (RFC 6750 §3's example, with a quoted-pair and a bare token value).
    #[test]
    fn params_are_all_listed_in_order_and_unquoted() {
        let c = parse_challenges(
            r#"Bearer realm="example", Error="invalid_token", error_description="The \"access\" token expired", max_age=30"#,
        )
        .unwrap();
        assert_eq!(
            c[0].params().collect::<Vec<_>>(),
            [
                ("realm", "example"),
                ("Error", "invalid_token"),
                ("error_description", r#"The "access" token expired"#),
                ("max_age", "30"),
            ]
        );
        assert_eq!(c[0].token68(), None);
    }

    /// The size cap is 16 KiB ([`MAX_CHALLENGE_LEN`]): a value of 16 384 bytes (a long
    /// `error_description`, say) is read, one byte more is [`ChallengeError::TooLong`].
    #[test]
    fn values_up_to_16_kib_are_read_and_longer_ones_refused() {
        let prefix = r#"Bearer error="invalid_token", error_description=""#;
        let value = |len: usize| format!("{prefix}{}\"", "x".repeat(len - prefix.len() - 1));
        let at_cap = value(16_384);
        assert_eq!(at_cap.len(), 16_384);
        let c = parse_challenges(&at_cap).unwrap();
        assert_eq!(c[0].param("error"), Some("invalid_token"));
        assert_eq!(
            parse_challenges(&value(16_385)),
            Err(ChallengeError::TooLong)
        );
    }

    /// RFC 9110 §11.6.1: `challenge = auth-scheme [ 1*SP ( token68 / #auth-param ) ]`. The
    /// token68 or the parameters are separated from the scheme by at least one space; a
    /// scheme glued to what follows is malformed, not read as credentials or parameters.
    #[test]
    fn credentials_glued_to_the_scheme_are_malformed() {
        for value in [
            r#"Bearer,error="invalid_token""#,
            "Negotiate/abc==",
            "Bearer/x",
        ] {
            assert!(
                matches!(
                    parse_challenges(value),
                    Err(ChallengeError::Malformed { .. })
                ),
                "{value}: {:?}",
                parse_challenges(value)
            );
        }
        // With the space they are read.
        let c = parse_challenges("Negotiate /abc==").unwrap();
        assert_eq!(c[0].token68(), Some("/abc=="));
    }

    /// RFC 9110 §5.6.1: a recipient accepts empty list elements, at the end too: `Basic ,` is
    /// one challenge with no parameters.
    #[test]
    fn a_trailing_empty_list_element_is_accepted() {
        for value in ["Basic ,", "Basic ,,", "Basic realm=\"x\" ,"] {
            let c = parse_challenges(value).unwrap();
            assert_eq!(c.len(), 1, "{value}");
            assert!(c[0].is_scheme("basic"), "{value}");
        }
    }

    proptest::proptest! {
        #[test]
        fn parsing_never_panics(s in ".{0,512}") {
            let _ = parse_challenges(&s);
        }

        #[test]
        fn quoted_values_round_trip(v in "[ -~]{0,64}") {
            let escaped = v.replace('\\', "\\\\").replace('"', "\\\"");
            let header = format!("Bearer error=\"{escaped}\", scope=\"a b\"");
            let c = parse_challenges(&header).unwrap();
            proptest::prop_assert_eq!(c[0].param("error"), Some(v.as_str()));
            proptest::prop_assert_eq!(c[0].param("scope"), Some("a b"));
        }
    }
}
