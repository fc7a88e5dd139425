//! A minimal HTTP/1 client for the smoke tests: one request, no redirects, no cookies (a
//! [`browser::Browser`] keeps cookies).
#![allow(dead_code, unreachable_pub)]

pub mod api;
pub mod browser;
pub mod ciba;
pub mod code_flow;
pub mod scenarios;

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, Method, Request, StatusCode, header};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

/// Per-request limit; whole tests are bounded separately.
pub const REQUEST_TIMEOUT: Duration = Duration::from_secs(10);

/// A response, body read to the end.
#[derive(Debug)]
pub struct Response {
    pub status: StatusCode,
    pub headers: HeaderMap,
    pub body: String,
}

impl Response {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.body)
            .unwrap_or_else(|e| panic!("not JSON ({e}): {:?}", self.body))
    }

    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

pub fn client() -> Client<HttpConnector, Full<Bytes>> {
    Client::builder(TokioExecutor::new()).build_http()
}

/// Sends one request; `headers` are (name, value) pairs.
pub async fn send(
    method: Method,
    url: &str,
    headers: &[(&str, &str)],
    body: impl Into<Bytes>,
) -> Response {
    let mut builder = Request::builder().method(method).uri(url);
    for (name, value) in headers {
        builder = builder.header(*name, *value);
    }
    let request = builder.body(Full::new(body.into())).expect("request");
    let response = tokio::time::timeout(REQUEST_TIMEOUT, client().request(request))
        .await
        .expect("request timed out")
        .expect("request failed");
    let (parts, body) = response.into_parts();
    let bytes = tokio::time::timeout(REQUEST_TIMEOUT, body.collect())
        .await
        .expect("body timed out")
        .expect("body failed")
        .to_bytes();
    Response {
        status: parts.status,
        headers: parts.headers,
        body: String::from_utf8(bytes.to_vec()).expect("UTF-8 body"),
    }
}

pub async fn get(url: &str, headers: &[(&str, &str)]) -> Response {
    send(Method::GET, url, headers, Bytes::new()).await
}

/// POSTs `form` (already encoded) as application/x-www-form-urlencoded.
pub async fn post_form(url: &str, headers: &[(&str, &str)], form: String) -> Response {
    let mut all = vec![(
        header::CONTENT_TYPE.as_str(),
        "application/x-www-form-urlencoded",
    )];
    all.extend_from_slice(headers);
    send(Method::POST, url, &all, form).await
}

/// `application/x-www-form-urlencoded` serialisation of pairs.
pub fn form(pairs: &[(&str, &str)]) -> String {
    form_urlencoded::Serializer::new(String::new())
        .extend_pairs(pairs)
        .finish()
}

/// Runs a blocking harness call (start/stop) off the async runtime.
pub async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.expect("blocking task")
}

/// Asserts that a grant client call failed with the OAuth error `code` (RFC 6749 §5.2).
pub fn assert_oauth_error(error: &tower_oauth2::GrantClientError, code: &str) {
    assert_eq!(
        error.oauth_error().map(|e| e.code.as_str()),
        Some(code),
        "{error}"
    );
}

/// Panics when an error's message repeats its `source()`'s: a chain printer (`anyhow`'s
/// `{:#}`, `tracing`'s error chains) would then say the same thing twice.
pub fn assert_chain_says_each_thing_once(error: &(dyn std::error::Error + 'static)) {
    let mut current = error;
    while let Some(source) = current.source() {
        let (outer, inner) = (current.to_string(), source.to_string());
        assert!(
            inner.is_empty() || !outer.contains(&inner),
            "{outer:?} repeats its source {inner:?}"
        );
        current = source;
    }
}

/// `Display`, `Debug` and alternate `Debug` of `error` and of every source under it.
pub fn error_chain_text(error: &(dyn std::error::Error + 'static)) -> String {
    let mut text = String::new();
    let mut next = Some(error);
    while let Some(e) = next {
        text.push_str(&format!("{e}\n{e:?}\n{e:#?}\n"));
        next = e.source();
    }
    text
}
