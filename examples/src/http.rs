//! A plain hyper client for the examples, and the few things they do with responses.
//!
//! The client never follows redirects: a token request carries the client's credentials and the
//! code, which must not be sent on to wherever a redirect points; and the simulated user consent
//! *reads* the authorization server's `Location` instead of following it, as a browser would
//! hand it to the redirect URI.

use bytes::Bytes;
use http::header::LOCATION;
use http::{HeaderMap, Request, Response, StatusCode};
use http_body_util::{BodyExt, Full, Limited};
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;

use crate::Result;

/// The connector: `https` with rustls and Mozilla's root certificates (for the real providers),
/// and plain `http` (for the demo provider on loopback; the OAuth crates send nothing over plain
/// `http`, loopback included, unless told to allow it).
pub type Connector = HttpsConnector<HttpConnector>;

/// The examples' HTTP client: hyper-util's pooled client with `Full<Bytes>` bodies. It is a
/// tower `Service`, so every layer of this workspace wraps it.
pub type HttpClient = Client<Connector, Full<Bytes>>;

/// The largest response body the helpers read: 1 MiB.
pub const MAX_BODY: usize = 1 << 20;

/// A new pooled HTTP/1.1 client.
pub fn client() -> HttpClient {
    client_for()
}

fn connector() -> Connector {
    HttpsConnectorBuilder::new()
        .with_webpki_roots()
        .https_or_http()
        .enable_http1()
        .build()
}

/// A client whose request body type is `B` (for example `tower_oauth1::SignedBody<Full<Bytes>>`
/// under the OAuth 1 signing layer).
pub fn client_for<B>() -> Client<Connector, B>
where
    B: http_body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    Client::builder(TokioExecutor::new()).build(connector())
}

/// A whole response: status, headers and body.
#[derive(Debug)]
pub struct Collected {
    /// The status.
    pub status: StatusCode,
    /// The headers.
    pub headers: HeaderMap,
    /// The body, at most [`MAX_BODY`] bytes.
    pub body: Bytes,
}

impl Collected {
    /// The body as (lossy) UTF-8 text.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    /// The body as JSON.
    pub fn json(&self) -> Result<serde_json::Value> {
        Ok(serde_json::from_slice(&self.body)?)
    }

    /// A header as text, if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// Reads a response whole, up to [`MAX_BODY`] bytes.
pub async fn collect<B>(response: Response<B>) -> Result<Collected>
where
    B: http_body::Body,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (parts, body) = response.into_parts();
    let body = Limited::new(body, MAX_BODY).collect().await?.to_bytes();
    Ok(Collected {
        status: parts.status,
        headers: parts.headers,
        body,
    })
}

/// A `GET` with an empty body.
pub fn get(url: &str) -> Result<Request<Full<Bytes>>> {
    Ok(Request::get(url).body(Full::default())?)
}

/// The simulated user: visits `authorization_url` (the provider approves at once, as if the user
/// clicked "Allow") and returns the redirect's `Location` without following it.
pub async fn consent(client: &HttpClient, authorization_url: &str) -> Result<String> {
    let response = collect(client.request(get(authorization_url)?).await?).await?;
    if !response.status.is_redirection() {
        return Err(format!(
            "the authorization endpoint answered {} instead of redirecting",
            response.status
        )
        .into());
    }
    let location = response
        .header(LOCATION.as_str())
        .ok_or("the authorization redirect has no Location")?;
    Ok(location.to_owned())
}
