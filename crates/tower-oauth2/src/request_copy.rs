//! [`RequestCopy`]: what is kept of a request so it can be sent again after a 401.

use http::{Extensions, HeaderMap, Method, Request, Uri, Version};

/// What is kept of a request to send it again after a 401: its method, URI, version, headers
/// and extensions (tracing context, request ids, per-request client settings: every value in
/// them is `Clone`), and a copy of its body.
pub(crate) struct RequestCopy<B> {
    method: Method,
    uri: Uri,
    version: Version,
    /// `None` when the request had no headers (nothing to drop then).
    headers: Option<HeaderMap>,
    /// Empty (no map allocated, nothing cloned) when the request had none.
    extensions: Extensions,
    body: B,
}

impl<B> RequestCopy<B> {
    /// Copies `request`'s head; `body` is the copy of its body.
    #[inline]
    pub(crate) fn new(request: &Request<B>, body: B) -> Self {
        let headers = request.headers();
        let extensions = request.extensions();
        Self {
            method: request.method().clone(),
            uri: request.uri().clone(),
            version: request.version(),
            headers: (!headers.is_empty()).then(|| headers.clone()),
            // (An empty map, one whose values were all removed, is not cloned either.)
            extensions: match extensions.is_empty() {
                true => Extensions::new(),
                false => extensions.clone(),
            },
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
        if !self.extensions.is_empty() {
            *request.extensions_mut() = self.extensions;
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
        let bare_copy = RequestCopy::new(&bare, ()).into_request();
        assert!(bare_copy.headers().is_empty());
        assert!(bare_copy.extensions().is_empty());
    }

    #[test]
    fn extensions_are_copied() {
        #[derive(Debug, Clone, PartialEq)]
        struct RequestId(&'static str);
        let mut request = Request::get("https://api.example.com/").body(()).unwrap();
        request.extensions_mut().insert(RequestId("req-1"));
        request.extensions_mut().insert(7u32);
        let copy = RequestCopy::new(&request, ()).into_request();
        assert_eq!(copy.extensions().len(), 2);
        assert_eq!(copy.extensions().get(), Some(&RequestId("req-1")));
        assert_eq!(copy.extensions().get(), Some(&7u32));
        // A copy, not a move: the original keeps its own.
        assert_eq!(request.extensions().get(), Some(&RequestId("req-1")));
        // A map whose values were all removed is copied as no map at all.
        request.extensions_mut().clear();
        assert!(RequestCopy::new(&request, ()).extensions.is_empty());
    }
}
