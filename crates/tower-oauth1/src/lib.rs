//! OAuth 1.0a for tower: a Layer that signs every request (RFC 5849), and the three-legged dance
//! (temporary credentials, authorization URL, callback, token credentials) over any tower HTTP
//! service.
//!
//! The signatures themselves come from [`oauth_core::oauth1`]; this crate adds the tower
//! mechanics: reading form bodies so their parameters are signed, writing the signed parameters
//! into the header, query or body, and driving the dance's requests through a client.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

pub mod body;
pub mod dance;
pub mod sign;

pub use body::{BodyReadError, BodyTooLarge, SignedBody};
pub use dance::Dance;
pub use oauth_core;
pub use sign::{Sign, SignLayer};

/// The boxed error type tower middleware returns (the same as `tower::BoxError`).
pub type BoxError = Box<dyn std::error::Error + Send + Sync>;
