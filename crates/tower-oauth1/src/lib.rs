//! OAuth 1.0a for tower: a Layer that signs every request (RFC 5849), and the three-legged dance
//! (temporary credentials, authorization URL, callback, token credentials) over any tower HTTP
//! service.
//!
//! The signatures themselves come from [`oauth_core::oauth1`]; this crate adds the tower
//! mechanics: reading form bodies so their parameters are signed, writing the signed parameters
//! into the header, query or body, and driving the dance's requests through a client.
//!
//! # Map
//!
//! | module | what it holds |
//! |---|---|
//! | [`sign`] | [`SignLayer`]: signs every request a client sends (with a runnable example) |
//! | [`dance`] | [`Dance`]: temporary credentials, authorization URL, callback, token credentials |
//! | [`body`] | [`SignedBody`]: the body the signer hands the client, and the buffering limits |
//! | (root) | [`Realm`]: the `Authorization` header's `realm`, for [`SignLayer::realm`] and [`Dance::realm`] |
//!
//! # Example
//!
//! ```
//! use bytes::Bytes;
//! use http_body_util::Full;
//! use oauth_core::oauth1::{ClientCredentials, Signer, TokenCredentials};
//! use oauth_core::secret::{ConsumerSecret, TokenSecret};
//! use tower::ServiceBuilder;
//! use tower_oauth1::{SignLayer, SignedBody};
//!
//! # fn main() -> Result<(), tower_oauth1::BoxError> {
//! let signer = Signer::builder(ClientCredentials::new("key", ConsumerSecret::new("secret")))
//!     .token(TokenCredentials::new("token", TokenSecret::new("token-secret")))
//!     .build()?;
//! # let client = tower::service_fn(|_: http::Request<SignedBody<Full<Bytes>>>| async {
//! #     Ok::<_, tower_oauth1::BoxError>(http::Response::new(Full::<Bytes>::default()))
//! # });
//! // `client`: a hyper-util `Client` built for `SignedBody<Full<Bytes>>`, say.
//! let api = ServiceBuilder::new()
//!     .layer(SignLayer::new(signer).allowed_origins(["https://api.example.com".parse()?]))
//!     .service(client);
//! # let _ = api;
//! # Ok(())
//! # }
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// Every public fallible function says when it fails (C-FAILURE).
#![warn(clippy::missing_errors_doc)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod body;
pub mod dance;
mod realm;
pub mod sign;

pub use body::{BodyReadError, BodyTooLarge, SignedBody};
pub use dance::Dance;
pub use oauth_core;
pub use realm::{InvalidRealm, Realm};
pub use sign::{Sign, SignLayer};

/// The boxed error type tower middleware returns (the same as `tower::BoxError`).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
