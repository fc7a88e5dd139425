//! [`SensitiveBody`]: a request body that may carry credentials.

use std::fmt;

/// The body of a token request: a form that may hold credentials (a client secret, a refresh
/// token, an authorization code and its PKCE verifier, a client assertion).
///
/// Like an `http::HeaderValue` marked sensitive, its `Debug` shows only its length, so that
/// logging a whole `http::Request` built by this crate leaks nothing. It is zeroized when
/// dropped; [`into_bytes`](Self::into_bytes) hands the bytes to the HTTP client.
///
/// ```
/// use oauth_core::oauth2::{Client, Endpoint, TokenRequest};
/// use oauth_core::secret::ClientSecret;
///
/// let endpoint = Endpoint::new("https://server.example.com/token").unwrap();
/// let client = Client::secret_post("s6BhdRkqt3", ClientSecret::new("gX1fBat3bV"));
/// let request = TokenRequest::client_credentials(&endpoint, &client).build().unwrap();
/// assert!(!format!("{request:?}").contains("gX1fBat3bV"));
/// assert!(request.body().as_bytes().ends_with(b"client_secret=gX1fBat3bV"));
/// ```
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SensitiveBody(Vec<u8>);

impl SensitiveBody {
    /// The body's bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Replaces the body (for a [`ComplianceHook`](super::ComplianceHook) that must rewrite
    /// the form); the old bytes are zeroized.
    pub fn replace(&mut self, bytes: Vec<u8>) {
        let mut old = std::mem::replace(&mut self.0, bytes);
        zeroize::Zeroize::zeroize(&mut old);
    }

    /// Appends `bytes` (a hook adding `&name=value`, say). When the buffer must grow, the
    /// bytes move to a new one and the old one is zeroized, so no copy of a secret is left
    /// behind in freed memory.
    pub fn extend_from_slice(&mut self, bytes: &[u8]) {
        if self.0.capacity() - self.0.len() < bytes.len() {
            let mut grown = Vec::with_capacity(self.0.len() + bytes.len());
            grown.extend_from_slice(&self.0);
            self.replace(grown);
        }
        self.0.extend_from_slice(bytes);
    }

    /// The bytes, to send (they are no longer zeroized by this type).
    pub fn into_bytes(mut self) -> Vec<u8> {
        std::mem::take(&mut self.0)
    }

    /// The length in bytes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// Whether the body is empty.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The buffer's capacity: a body written without a reallocation has no spare room.
    #[cfg(test)]
    pub(crate) fn capacity(&self) -> usize {
        self.0.capacity()
    }
}

impl From<Vec<u8>> for SensitiveBody {
    fn from(bytes: Vec<u8>) -> Self {
        Self(bytes)
    }
}

impl From<SensitiveBody> for Vec<u8> {
    fn from(body: SensitiveBody) -> Self {
        body.into_bytes()
    }
}

impl std::ops::Deref for SensitiveBody {
    type Target = [u8];

    fn deref(&self) -> &[u8] {
        &self.0
    }
}

impl<const N: usize> PartialEq<[u8; N]> for SensitiveBody {
    fn eq(&self, other: &[u8; N]) -> bool {
        self.0 == other
    }
}

impl PartialEq<[u8]> for SensitiveBody {
    fn eq(&self, other: &[u8]) -> bool {
        self.0 == other
    }
}

impl fmt::Debug for SensitiveBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SensitiveBody")
            .field("len", &self.0.len())
            .finish_non_exhaustive()
    }
}

impl Drop for SensitiveBody {
    fn drop(&mut self) {
        zeroize::Zeroize::zeroize(&mut self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_shows_the_length_only() {
        let body = SensitiveBody::from(b"client_secret=hunter2".to_vec());
        assert_eq!(format!("{body:?}"), "SensitiveBody { len: 21, .. }");
        assert_eq!(body, *b"client_secret=hunter2");
        assert_eq!(body.clone().into_bytes(), b"client_secret=hunter2");
    }

    #[test]
    fn len_and_is_empty_describe_the_bytes() {
        let empty = SensitiveBody::default();
        assert!(empty.is_empty());
        assert_eq!(empty.len(), 0);
        let body = SensitiveBody::from(b"grant_type=client_credentials".to_vec());
        assert!(!body.is_empty());
        assert_eq!(body.len(), 29);
    }

    #[test]
    fn comparisons_and_conversions_see_the_bytes() {
        let body = SensitiveBody::from(b"code=SplxlOBeZQQYbYS6WxSbIA".to_vec());
        assert_eq!(body, *b"code=SplxlOBeZQQYbYS6WxSbIA");
        assert_ne!(body, *b"code=SplxlOBeZQQYbYS6WxSbIB");
        assert_ne!(body, *b"code=");
        assert!(body == b"code=SplxlOBeZQQYbYS6WxSbIA"[..]);
        assert!(body != b"code=SplxlOBeZQQYbYS6WxSbIB"[..]);
        assert!(body != b""[..]);
        assert_eq!(&*body, b"code=SplxlOBeZQQYbYS6WxSbIA");
        assert_eq!(Vec::from(body), b"code=SplxlOBeZQQYbYS6WxSbIA");
    }

    #[test]
    fn edits_keep_the_bytes_right() {
        let mut body = SensitiveBody::from(b"a=1".to_vec());
        body.extend_from_slice(b"&b=2");
        body.extend_from_slice(b"");
        assert_eq!(body, *b"a=1&b=2");
        body.replace(b"c=3".to_vec());
        assert_eq!(body, *b"c=3");
    }

    /// An append that does not fit moves the bytes to a buffer of exactly the new length (the
    /// old one is zeroized), instead of letting `Vec` reallocate: that would free the old copy
    /// as it is and leave spare room. An append that fits, even exactly, stays in the same buffer.
    #[test]
    fn an_append_that_does_not_fit_moves_to_a_buffer_of_the_exact_length() {
        for (case, (start, appended)) in [
            (&b"client_secret=hunter2"[..], &b"&"[..]),
            (b"a=1", b"&refresh_token=tGzv3JOkF0XG5Qx2TlKWIA"),
            (b"", b"grant_type=client_credentials"),
        ]
        .into_iter()
        .enumerate()
        {
            let mut body = SensitiveBody::from(start.to_vec());
            assert_eq!(body.capacity(), body.len());
            body.extend_from_slice(appended);
            assert_eq!(body, *[start, appended].concat());
            assert_eq!(body.capacity(), body.len(), "case {case}");
        }

        // Room to spare, and room for exactly the appended bytes.
        for room in [64, 7] {
            let mut roomy = Vec::with_capacity(room);
            roomy.extend_from_slice(b"a=1");
            let mut body = SensitiveBody::from(roomy);
            let before = body.as_bytes().as_ptr();
            body.extend_from_slice(b"&b=2");
            assert_eq!(body, *b"a=1&b=2");
            assert_eq!(body.as_bytes().as_ptr(), before, "room {room}");
            assert_eq!(body.capacity(), room);
        }
    }
}
