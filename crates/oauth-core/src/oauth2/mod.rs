//! OAuth 2 (RFC 6749 and its companions): the client-side protocol logic.

pub mod challenge;
