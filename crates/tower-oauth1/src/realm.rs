//! [`Realm`]: the `realm` of the `Authorization` header, checked once when it is configured.

use std::fmt;
use std::sync::Arc;

/// The `realm` of the `Authorization` header (RFC 5849 §3.5.1), for
/// [`SignLayer::realm`](crate::SignLayer::realm) and [`Dance::realm`](crate::Dance::realm).
///
/// A realm is sent as a quoted string and is not signed (§3.4.1.3.1). It is checked here, so
/// that a realm that cannot be sent is refused when it is configured rather than on every
/// request: printable ASCII (`' '` to `'~'`) without `"` and `\`, the rule of oauth-core's
/// [`SignOptions::realm`](oauth_core::oauth1::SignOptions::realm)
/// ([`is_valid_realm`](oauth_core::oauth1::is_valid_realm)). An empty realm is allowed
/// (`realm=""`). The realm is not a secret: `Debug` and `Display` print it.
///
/// ```
/// use tower_oauth1::Realm;
///
/// let realm = Realm::new("123456_SB1")?;
/// assert_eq!(realm.as_str(), "123456_SB1");
/// let same: Realm = "123456_SB1".parse()?;
/// assert_eq!(realm, same);
/// assert!(Realm::new("say \"hi\"").is_err());
/// assert!(Realm::new("caf\u{e9}").is_err());
/// assert!(Realm::new("line\nbreak").is_err());
/// # Ok::<(), tower_oauth1::InvalidRealm>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Realm(Arc<str>);

impl Realm {
    /// The realm `realm`, or [`InvalidRealm`] if it has a byte a quoted string cannot hold
    /// as is (`"`, `\`, a control character, anything but ASCII).
    ///
    /// # Errors
    ///
    /// Fails with [`InvalidRealm`] for such a text.
    pub fn new(realm: impl Into<String>) -> Result<Self, InvalidRealm> {
        let realm = realm.into();
        if oauth_core::oauth1::is_valid_realm(&realm) {
            Ok(Self(realm.into()))
        } else {
            Err(InvalidRealm)
        }
    }

    /// The realm's text, as it is sent between the quotes.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Realm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("Realm").field(&self.as_str()).finish()
    }
}

impl fmt::Display for Realm {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl AsRef<str> for Realm {
    fn as_ref(&self) -> &str {
        self.as_str()
    }
}

impl std::str::FromStr for Realm {
    type Err = InvalidRealm;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::new(text)
    }
}

impl TryFrom<&str> for Realm {
    type Error = InvalidRealm;

    fn try_from(text: &str) -> Result<Self, Self::Error> {
        Self::new(text)
    }
}

impl TryFrom<String> for Realm {
    type Error = InvalidRealm;

    fn try_from(text: String) -> Result<Self, Self::Error> {
        Self::new(text)
    }
}

/// The text cannot be sent as a realm: it has a `"`, a `\`, a control character or a
/// character outside ASCII. (The text is not repeated: it may hold a line break.)
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "not a realm that can be sent: expected printable ASCII without '\"' or '\\' (RFC 5849 §3.5.1: the realm is a quoted string)"
)]
#[non_exhaustive]
pub struct InvalidRealm;

#[cfg(test)]
mod tests {
    use super::*;

    /// Every byte (and a non-ASCII character) against the rule, and the error's text.
    #[test]
    fn realms_are_printable_ascii_without_quote_or_backslash() {
        for b in 0u8..=0x7f {
            let text = format!("a{}b", b as char);
            let ok = (0x20..=0x7e).contains(&b) && b != b'"' && b != b'\\';
            assert_eq!(Realm::new(text.clone()).is_ok(), ok, "{b:#04x}");
        }
        for bad in ["\u{e9}", "\u{85}", "a\u{2028}b", "\u{1f600}"] {
            assert_eq!(Realm::new(bad), Err(InvalidRealm), "{bad:?}");
        }
        assert_eq!(Realm::new("").unwrap().as_str(), "");
        let realm: Realm = "http://sp.example.com/".parse().unwrap();
        assert_eq!(realm.to_string(), "http://sp.example.com/");
        assert_eq!(AsRef::<str>::as_ref(&realm), "http://sp.example.com/");
        assert_eq!(format!("{realm:?}"), "Realm(\"http://sp.example.com/\")");
        assert_eq!(
            Realm::try_from(String::from("Photos")),
            Realm::try_from("Photos")
        );
        // The conversions hold the text to the same rule as `Realm::new`.
        assert_eq!("say \"hi\"".parse::<Realm>(), Err(InvalidRealm));
        assert_eq!(Realm::try_from("a\\b"), Err(InvalidRealm));
        assert_eq!(
            Realm::try_from(String::from("line\nbreak")),
            Err(InvalidRealm)
        );
        assert_eq!(
            InvalidRealm.to_string(),
            "not a realm that can be sent: expected printable ASCII without '\"' or '\\' (RFC 5849 §3.5.1: the realm is a quoted string)"
        );
    }
}
