//! Helpers for the interoperability tests: starting and stopping the third-party servers
//! (Python's `oauthlib` provider, the npm `oidc-provider`) on 127.0.0.1.
#![forbid(unsafe_code)]
