//! Shared code for the examples: the embedded demo provider and the small helpers every example
//! uses. The examples themselves are this package's `[[example]]` targets:
//! `cargo run --example NAME` (start with `cargo run --example tour`).
//!
//! | module | what it holds |
//! |---|---|
//! | [`provider`] | [`provider::DemoProvider`]: an OAuth 1.0a provider, an OAuth 2 authorization server and a protected API on `127.0.0.1`, in-process |
//! | [`http`] | a plain hyper client, reading responses, simulated user consent (read a redirect's `Location`) |
//! | [`transcript`] | numbered steps, checks, and redaction for the printed transcripts |
//! | [`real`] | running an example against a real provider: environment variables and the pasted redirect URL |
//! | [`flows`] | the demo provider's endpoints as oauth-core types, and the code flow driven end to end |
//! | [`tutorial`] | the per-provider examples' shared walk-through ([`tutorial::OAuth2Tutorial`], [`tutorial::OAuth1Tutorial`]) |
#![forbid(unsafe_code)]
#![deny(missing_docs)]

pub mod flows;
pub mod http;
pub mod provider;
pub mod real;
pub mod transcript;
pub mod tutorial;

/// The error type of the examples: anything, boxed.
pub type Error = Box<dyn std::error::Error + Send + Sync>;

/// The result type of the examples.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// The workspace README's Rust code blocks, compiled by `cargo test --doc` so they cannot rot.
/// This package is the one that depends on everything they use (both OAuth crates, hyper-util,
/// hyper-rustls, tokio).
#[doc = include_str!("../../README.md")]
#[cfg(doctest)]
pub struct ReadmeDoctests;

/// tower-oauth2's README (its migration guide from oauth2-rs), compiled the same way.
#[doc = include_str!("../../crates/tower-oauth2/README.md")]
#[cfg(doctest)]
pub struct TowerOauth2ReadmeDoctests;
