//! The grant client: token requests over any tower HTTP service.

#[allow(dead_code)]
pub(crate) mod transport;
