//! [`RequestCopy`]: what is kept of a request so it can be sent again after a 401.

use http::{HeaderMap, Method, Request, Uri, Version};

/// What is kept of a request to send it again after a 401: its method, URI, version and
/// headers (extensions are not copied), and a copy of its body.
pub(crate) struct RequestCopy<B> {
    method: Method,
    uri: Uri,
    version: Version,
    /// `None` when the request had no headers (nothing to drop then).
    headers: Option<HeaderMap>,
    body: B,
}

impl<B> RequestCopy<B> {
    /// Copies `request`'s head; `body` is the copy of its body.
    #[inline]
    pub(crate) fn new(request: &Request<B>, body: B) -> Self {
        let headers = request.headers();
        Self {
            method: request.method().clone(),
            uri: request.uri().clone(),
            version: request.version(),
            headers: (!headers.is_empty()).then(|| headers.clone()),
            body,
        }
    }

    /// The URI the request was sent to.
    pub(crate) fn uri(&self) -> &Uri {
        &self.uri
    }

    /// The request to send again.
    pub(crate) fn into_request(self) -> Request<B> {
        let mut request = Request::new(self.body);
        *request.method_mut() = self.method;
        *request.uri_mut() = self.uri;
        *request.version_mut() = self.version;
        if let Some(headers) = self.headers {
            *request.headers_mut() = headers;
        }
        request
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_whole_head_is_copied() {
        let request = Request::patch("https://api.example.com/doc?v=2")
            .version(Version::HTTP_2)
            .header("content-type", "application/json")
            .header("x-a", "1")
            .header("x-a", "2")
            .body("body-1")
            .unwrap();
        let copy = RequestCopy::new(&request, "body-2").into_request();
        assert_eq!(copy.method(), request.method());
        assert_eq!(copy.uri(), request.uri());
        assert_eq!(copy.version(), request.version());
        assert_eq!(copy.headers(), request.headers());
        assert_eq!(*copy.body(), "body-2");
        let bare = Request::get("https://api.example.com/").body(()).unwrap();
        assert!(
            RequestCopy::new(&bare, ())
                .into_request()
                .headers()
                .is_empty()
        );
    }
}
