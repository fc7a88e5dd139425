//! The OAuth 2.0 endpoints of the `oauthlib` provider (`oauthlib_provider/oauth2.py`), served by
//! the same process as the OAuth 1 ones ([`OauthlibProvider`]).
//!
//! Endpoints, relative to [`OauthlibProvider::base_url`] (which is also the issuer):
//!
//! | path | |
//! | --- | --- |
//! | `GET /.well-known/oauth-authorization-server` | RFC 8414 metadata ([`OauthlibProvider::oauth2_metadata_url`]) |
//! | `GET /oauth2/authorize` | auto-approves for [`USER`]: 302 to the `redirect_uri` with `code` and `state`; a request for the scope [`DENIED_SCOPE`] gets a 302 with `error=access_denied` |
//! | `POST /oauth2/token` | authorization code (PKCE), password, client credentials, refresh (rotating), device code |
//! | `POST /oauth2/revoke`, `POST /oauth2/introspect` | RFC 7009, RFC 7662 |
//! | `POST /oauth2/device_authorization` | RFC 8628 §3.1 |
//! | `GET /oauth2/device?user_code=U` | the user approves the device code (add `&deny=1` to deny) |
//! | `GET`/`POST /oauth2/resource`, `/oauth2/resource/...` | RFC 6750 bearer resource: 200 JSON `{client_id, user, scope, ...}`, or 401 with `WWW-Authenticate: Bearer realm="interop", error="invalid_token"` (no `error` without a token) |
//!
//! `/test/stats` counts them under names starting `oauth2_`: `oauth2_token_requests`,
//! `oauth2_grant_<grant>_ok`, `oauth2_grant_<grant>_error`, `oauth2_grant_<grant>_<error code>`
//! (`<grant>` is the `grant_type`, `device_code` for RFC 8628's), `oauth2_authorize_ok`,
//! `oauth2_authorize_denied`, `oauth2_resource_ok`, `oauth2_resource_invalid_token`,
//! `oauth2_resource_no_token`, `oauth2_revoke_ok`, `oauth2_introspect_ok`, `oauth2_metadata`, ...

use serde::{Deserialize, Serialize};

use crate::OauthlibProvider;

/// A confidential client that authenticates with `client_secret_basic` (and only that).
pub const BASIC_CLIENT_ID: &str = "interop2-basic";
/// [`BASIC_CLIENT_ID`]'s secret.
pub const BASIC_CLIENT_SECRET: &str = "interop2-basic-secret";
/// A confidential client that authenticates with `client_secret_post` (and only that).
pub const POST_CLIENT_ID: &str = "interop2-post";
/// [`POST_CLIENT_ID`]'s secret.
pub const POST_CLIENT_SECRET: &str = "interop2-post-secret";
/// A `client_secret_basic` client whose id (a `:`) and secret need the form-encoding of
/// RFC 6749 §2.3.1 before they go into the Basic credentials.
pub const SPECIAL_CLIENT_ID: &str = "interop2-special:client";
/// [`SPECIAL_CLIENT_ID`]'s secret: `%`, space, `&`, `+`, `=`, `/` and non-ASCII.
pub const SPECIAL_CLIENT_SECRET: &str = "s3cr%t &+=/\u{fc}\u{20ac}";
/// A public client (no secret, PKCE required); authorization code, refresh and device code.
pub const PUBLIC_CLIENT_ID: &str = "interop2-public";
/// The one redirect URI every client has registered (matched exactly).
pub const REDIRECT_URI: &str = "http://127.0.0.1:49152/callback";
/// The resource owner: the authorization endpoint approves for them, and the password grant
/// takes their [`PASSWORD`].
pub const USER: &str = "interop-user";
/// [`USER`]'s password (needs form-encoding).
pub const PASSWORD: &str = "p@ss w:rd&=+%\u{fc}";
/// The scope clients get when they ask for none.
pub const DEFAULT_SCOPE: &str = "read";
/// Every scope the provider knows.
pub const SCOPES: &[&str] = &["read", "write", "deny"];
/// The test user denies any authorization request asking for this scope.
pub const DENIED_SCOPE: &str = "deny";

/// The `oauth2` section of the provider's configuration ([`crate::OauthlibConfig::oauth2`]).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Oauth2Config {
    /// Resource owner the authorization endpoint approves for, and the password grant's user.
    pub user: String,
    /// [`Oauth2Config::user`]'s password.
    pub password: String,
    /// Scopes clients may ask for.
    pub scopes: Vec<String>,
    /// Lifetime of access tokens, in seconds (the `expires_in` sent, and when the resource
    /// starts refusing them).
    pub access_token_lifetime: u64,
    /// Lifetime of authorization codes, in seconds.
    pub code_lifetime: u64,
    /// Lifetime of device codes, in seconds.
    pub device_code_lifetime: u64,
    /// The device flow's polling `interval`, in seconds.
    pub device_interval: u64,
    /// Registered clients.
    pub clients: Vec<Oauth2Client>,
}

impl Oauth2Config {
    /// The client with this id.
    pub fn client(&self, client_id: &str) -> Option<&Oauth2Client> {
        self.clients.iter().find(|c| c.client_id == client_id)
    }
}

/// A registered OAuth 2 client.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Oauth2Client {
    /// `client_id`.
    pub client_id: String,
    /// The secret of a confidential client.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_secret: Option<String>,
    /// `client_secret_basic`, `client_secret_post`, or `none` (a public client).
    pub auth_method: String,
    /// Redirect URIs, matched exactly.
    #[serde(default)]
    pub redirect_uris: Vec<String>,
    /// Scopes granted when a request names none.
    #[serde(default)]
    pub default_scopes: Vec<String>,
    /// `grant_type`s it may use.
    #[serde(default)]
    pub grant_types: Vec<String>,
}

impl OauthlibProvider {
    /// The OAuth 2 issuer: [`OauthlibProvider::base_url`].
    pub fn oauth2_issuer(&self) -> String {
        self.base_url()
    }

    /// `/.well-known/oauth-authorization-server` (RFC 8414).
    pub fn oauth2_metadata_url(&self) -> String {
        self.url("/.well-known/oauth-authorization-server")
    }

    /// The authorization endpoint.
    pub fn oauth2_authorization_endpoint(&self) -> String {
        self.url("/oauth2/authorize")
    }

    /// The token endpoint.
    pub fn oauth2_token_endpoint(&self) -> String {
        self.url("/oauth2/token")
    }

    /// The revocation endpoint (RFC 7009).
    pub fn oauth2_revocation_endpoint(&self) -> String {
        self.url("/oauth2/revoke")
    }

    /// The introspection endpoint (RFC 7662).
    pub fn oauth2_introspection_endpoint(&self) -> String {
        self.url("/oauth2/introspect")
    }

    /// The device authorization endpoint (RFC 8628 §3.1).
    pub fn oauth2_device_authorization_endpoint(&self) -> String {
        self.url("/oauth2/device_authorization")
    }

    /// Where the test user decides on a device code: approves, or denies if `deny`.
    pub fn oauth2_device_decision_url(&self, user_code: &str, deny: bool) -> String {
        let query: String = form_urlencoded_pair("user_code", user_code);
        let deny = if deny { "&deny=1" } else { "" };
        self.url(&format!("/oauth2/device?{query}{deny}"))
    }

    /// The protected resource.
    pub fn oauth2_resource_url(&self) -> String {
        self.url("/oauth2/resource")
    }

    /// `/test/stats`: counters per endpoint and outcome (OAuth 1 and 2).
    pub fn stats_url(&self) -> String {
        self.url("/test/stats")
    }
}

/// `name=value`, the value percent-encoded (unreserved characters kept).
fn form_urlencoded_pair(name: &str, value: &str) -> String {
    let mut out = format!("{name}=");
    for b in value.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~".contains(&b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;
    use crate::OauthlibConfig;

    #[test]
    fn builtin_config_matches_the_constants() {
        let config = OauthlibConfig::builtin().oauth2;
        assert_eq!(config.user, USER);
        assert_eq!(config.password, PASSWORD);
        assert_eq!(config.scopes, SCOPES);
        let secret = |id: &str| config.client(id).unwrap().client_secret.clone();
        assert_eq!(secret(BASIC_CLIENT_ID).unwrap(), BASIC_CLIENT_SECRET);
        assert_eq!(secret(POST_CLIENT_ID).unwrap(), POST_CLIENT_SECRET);
        assert_eq!(secret(SPECIAL_CLIENT_ID).unwrap(), SPECIAL_CLIENT_SECRET);
        assert_eq!(secret(PUBLIC_CLIENT_ID), None);
        for client in &config.clients {
            assert_eq!(client.redirect_uris, [REDIRECT_URI], "{}", client.client_id);
            assert_eq!(
                client.default_scopes,
                [DEFAULT_SCOPE],
                "{}",
                client.client_id
            );
        }
        let method = |id: &str| config.client(id).unwrap().auth_method.clone();
        assert_eq!(method(BASIC_CLIENT_ID), "client_secret_basic");
        assert_eq!(method(POST_CLIENT_ID), "client_secret_post");
        assert_eq!(method(SPECIAL_CLIENT_ID), "client_secret_basic");
        assert_eq!(method(PUBLIC_CLIENT_ID), "none");
    }

    #[test]
    fn user_codes_are_percent_encoded() {
        assert_eq!(form_urlencoded_pair("c", "AB-c d&"), "c=AB-c%20d%26");
    }
}
