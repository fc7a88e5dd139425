//! Sans-I/O OAuth: everything an OAuth client (and a test provider) must compute, decide and
//! parse, with no sockets, no async runtime and no tower.
//!
//! The tower crates (`tower-oauth1`, `tower-oauth2`) move bytes; this crate decides what the bytes
//! are. Time comes from an injected [`clock::Clock`] and randomness from an injected
//! [`clock::RandomSource`], so every signature (but an ES256 one: ECDSA draws a fresh nonce from
//! the system) and every token decision is reproducible in tests.
//!
//! # Map
//!
//! | module | what it holds |
//! |---|---|
//! | [`secret`] | secret newtypes: redacted `Debug`, no `Display`, zeroized on drop, constant-time comparison |
//! | [`clock`] | the [`clock::Clock`] and [`clock::RandomSource`] traits, their system implementations and test fakes |
//! | [`encode`] | RFC 3986 / RFC 5849 §3.6 percent-encoding, strict percent and form decoding |
//! | [`oauth1`] | RFC 5849: parameters, base string, signature methods, header/query/body placement, verification; the dance's credentials responses, authorization URL and callback |
//! | [`oauth2`] | RFC 6749 and friends: tokens, token responses, authorization URLs with state and PKCE, callbacks, grant requests, refresh decisions |
//! | [`retry`] | `Retry-After` (RFC 9110 §10.2.3): how long a server asked the client to wait |
//!
//! # Features
//!
//! - `legacy` (off by default): the grants RFC 9700 retires, `TokenRequest::password` (the
//!   resource owner password grant, §2.4: MUST NOT) and `AuthorizationRequest::implicit` with
//!   `PendingAuthorization::token_from_fragment` (the implicit grant, §2.1.2: SHOULD NOT).
//!   They are `#[deprecated]` even then.
#![forbid(unsafe_code)]
#![deny(missing_docs)]
// Every public fallible function says when it fails (C-FAILURE).
#![warn(clippy::missing_errors_doc)]
#![cfg_attr(test, allow(clippy::unwrap_used, clippy::expect_used))]

mod auth_syntax;
pub mod clock;
pub mod encode;
pub mod oauth1;
pub mod oauth2;
pub mod retry;
pub mod secret;
