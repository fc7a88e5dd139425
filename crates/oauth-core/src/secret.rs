//! Secret newtypes: redacted `Debug`, no `Display`, zeroized on drop, compared in constant time.
//!
//! Every credential this workspace handles (consumer and token secrets, client secrets, access and
//! refresh tokens, authorization codes, PKCE verifiers) lives in one of these types, so that a
//! stray `{:?}` in a log line prints `AccessToken([redacted])` and never the value.
//!
//! ```
//! use oauth_core::secret::AccessToken;
//!
//! let token = AccessToken::new("2YotnFZFEjr1zCsicMWpAA");
//! assert_eq!(format!("{token:?}"), "AccessToken([redacted])");
//! // Reading the value is explicit:
//! assert_eq!(token.secret(), "2YotnFZFEjr1zCsicMWpAA");
//! ```

use subtle::ConstantTimeEq;

/// The names of `pairs`, for a `Debug` that shows which parameters a request carries but
/// none of their values (extension parameters may hold hints, codes or tokens).
pub(crate) fn names_only<V>(pairs: &[(String, V)]) -> Vec<&str> {
    pairs.iter().map(|(name, _)| name.as_str()).collect()
}

/// Compares two byte strings in time that depends only on their lengths.
///
/// Use it for every comparison that involves a secret or a value an attacker is trying to guess
/// (signatures, `state`, PKCE verifiers).
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.ct_eq(b).into()
}

/// Defines a secret newtype around a `String`.
///
/// The type gets a redacted `Debug`, no `Display`, zeroize-on-drop, constant-time `PartialEq`, a
/// `new` constructor, a `secret()` accessor and transparent serde support (for persistence the
/// caller asked for). Add `clone` as the last argument for values that may be duplicated; leave it
/// out for single-use values such as a PKCE verifier.
macro_rules! secret_type {
    ($(#[$meta:meta])* $name:ident, clone) => {
        secret_type!($(#[$meta])* $name);
        impl Clone for $name {
            fn clone(&self) -> Self {
                Self(self.0.clone())
            }
        }
    };
    ($(#[$meta:meta])* $name:ident) => {
        $(#[$meta])*
        #[derive(serde::Serialize, serde::Deserialize)]
        #[serde(transparent)]
        pub struct $name(String);

        impl $name {
            /// Wraps a secret value.
            pub fn new(value: impl Into<String>) -> Self {
                Self(value.into())
            }

            /// Returns the secret value.
            ///
            /// # Security
            ///
            /// The returned string is the live credential. Do not log it, put it in an error
            /// message, or send it anywhere but to the party it belongs to.
            pub fn secret(&self) -> &str {
                &self.0
            }
        }

        impl core::fmt::Debug for $name {
            fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
                f.write_str(concat!(stringify!($name), "([redacted])"))
            }
        }

        impl PartialEq for $name {
            fn eq(&self, other: &Self) -> bool {
                $crate::secret::constant_time_eq(self.0.as_bytes(), other.0.as_bytes())
            }
        }

        impl Eq for $name {}

        impl Drop for $name {
            fn drop(&mut self) {
                zeroize::Zeroize::zeroize(&mut self.0);
            }
        }
    };
}
#[allow(unused_imports)] // for secret types defined next to their protocol code
pub(crate) use secret_type;

secret_type!(
    /// An OAuth 1.0a client shared-secret (RFC 5849 §1.1 "client credentials"; historically the
    /// consumer secret).
    ConsumerSecret,
    clone
);
secret_type!(
    /// An OAuth 1.0a token shared-secret (RFC 5849 §1.1), of temporary or token credentials.
    TokenSecret,
    clone
);
secret_type!(
    /// An OAuth 2 client secret (RFC 6749 §2.3.1).
    ClientSecret,
    clone
);
secret_type!(
    /// An OAuth 2 access token (RFC 6749 §1.4).
    AccessToken,
    clone
);
secret_type!(
    /// An OAuth 2 refresh token (RFC 6749 §1.5).
    RefreshToken,
    clone
);
secret_type!(
    /// An OpenID Connect ID token (a JWT), kept as received.
    IdToken,
    clone
);
secret_type!(
    /// An OAuth 2 authorization code (RFC 6749 §4.1.2). Single use: not `Clone`.
    AuthorizationCode
);
secret_type!(
    /// A PKCE code verifier (RFC 7636 §4.1). Single use: not `Clone`.
    PkceCodeVerifier
);
secret_type!(
    /// An OAuth 2 device verification code (RFC 8628 §3.2 `device_code`). Single use: not `Clone`.
    DeviceCode
);
secret_type!(
    /// An OpenID Connect CIBA authentication request id (CIBA Core §7.3 `auth_req_id`): whoever
    /// holds it (with the client's credentials) can collect the user's tokens. Not `Clone`.
    AuthReqId
);
secret_type!(
    /// A resource owner's password for the deprecated password grant (RFC 6749 §4.3; RFC 9700
    /// §2.4 says it MUST NOT be used). Not `Clone`.
    ResourceOwnerPassword
);
secret_type!(
    /// An OAuth 1.0a verification code (`oauth_verifier`, RFC 5849 §2.2). Single use: not `Clone`.
    Verifier
);

#[cfg(test)]
mod tests {
    use super::*;

    const SENTINEL: &str = "SENTINEL-s3cr3t-value";

    /// SECURITY.md §4.9 #86: every secret newtype prints `Name([redacted])` with `{:?}` and
    /// `{:#?}`, never its value.
    #[test]
    fn debug_is_redacted_for_every_secret_type() {
        let outputs = [
            format!("{:?}", ConsumerSecret::new(SENTINEL)),
            format!("{:?}", TokenSecret::new(SENTINEL)),
            format!("{:?}", ClientSecret::new(SENTINEL)),
            format!("{:?}", AccessToken::new(SENTINEL)),
            format!("{:?}", RefreshToken::new(SENTINEL)),
            format!("{:?}", IdToken::new(SENTINEL)),
            format!("{:?}", AuthorizationCode::new(SENTINEL)),
            format!("{:?}", PkceCodeVerifier::new(SENTINEL)),
            format!("{:?}", Verifier::new(SENTINEL)),
            format!("{:?}", DeviceCode::new(SENTINEL)),
            format!("{:#?}", AuthReqId::new(SENTINEL)),
            format!("{:?}", ResourceOwnerPassword::new(SENTINEL)),
            format!("{:#?}", Some(AccessToken::new(SENTINEL))),
            format!("{:#?}", DeviceCode::new(SENTINEL)),
            format!("{:#?}", ResourceOwnerPassword::new(SENTINEL)),
            format!(
                "{:#?}",
                (ConsumerSecret::new(SENTINEL), TokenSecret::new(SENTINEL))
            ),
            format!(
                "{:#?}",
                (ClientSecret::new(SENTINEL), RefreshToken::new(SENTINEL))
            ),
            format!(
                "{:#?}",
                (IdToken::new(SENTINEL), AuthorizationCode::new(SENTINEL))
            ),
            format!(
                "{:#?}",
                (PkceCodeVerifier::new(SENTINEL), Verifier::new(SENTINEL))
            ),
        ];
        for out in outputs {
            assert!(!out.contains(SENTINEL), "leaked: {out}");
            assert!(out.contains("[redacted]"), "not redacted: {out}");
        }
        assert_eq!(
            format!("{:?}", ClientSecret::new(SENTINEL)),
            "ClientSecret([redacted])"
        );
    }

    #[test]
    fn equality_compares_values() {
        assert_eq!(AccessToken::new("a"), AccessToken::new("a"));
        assert_ne!(AccessToken::new("a"), AccessToken::new("b"));
        assert_ne!(AccessToken::new("a"), AccessToken::new("aa"));
        assert!(constant_time_eq(b"", b""));
        assert!(!constant_time_eq(b"abc", b"abd"));
    }

    #[test]
    fn serde_is_transparent() {
        let json = serde_json::to_string(&RefreshToken::new("tGzv3JOkF0XG5Qx2TlKWIA")).unwrap();
        assert_eq!(json, "\"tGzv3JOkF0XG5Qx2TlKWIA\"");
        let back: RefreshToken = serde_json::from_str(&json).unwrap();
        assert_eq!(back.secret(), "tGzv3JOkF0XG5Qx2TlKWIA");
    }
}
