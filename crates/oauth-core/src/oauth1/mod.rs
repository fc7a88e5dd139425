//! OAuth 1.0a (RFC 5849): signing and verifying requests.
