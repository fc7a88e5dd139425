//! OAuth 2 for tower: a Layer that injects the access token into every request to the API's
//! origins and refreshes it (ahead of expiry, and once on a 401), with a single refresh in flight
//! however many requests wait; a token store the application can persist; and a grant client for
//! every flow over any tower HTTP service.
//!
//! The protocol decisions come from [`oauth_core::oauth2`]; this crate adds the tower mechanics.
//!
//! Work in progress: the middleware, the token source and the grant client land next.
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub use oauth_core;
