//! The OAuth 2 / OpenID Connect server built on the npm `oidc-provider`
//! (`oidc_provider/server.mjs`).
//!
//! Issuer = [`OidcProvider::base_url`] = `http://127.0.0.1:<port>`; the same provider also
//! listens with mutual TLS on [`OidcProvider::mtls_base_url`] (RFC 8705). Endpoints (also in
//! `/.well-known/openid-configuration`): `/auth`, `/token`, `/token/introspection`,
//! `/token/revocation`, `/me`, `/jwks`; plus the test server's own:
//!
//! | path | |
//! | --- | --- |
//! | `GET /interaction/:uid` | logs in [`TEST_USER`] and grants every requested scope, no browser |
//! | `GET /api/resource` | `Authorization: Bearer`: 200 `{"sub", "client_id", "scope", "kind", "exp"}`; unknown, expired or revoked: 401 with `WWW-Authenticate: Bearer ... error="invalid_token"` |
//! | `GET /cb` | a redirect URI that answers 200 with its query as JSON |
//! | `GET /session/end` | oidc-provider's RP-initiated logout (discovery's `end_session_endpoint`): a page whose form posts to `/session/end/confirm`, which redirects to a registered `post_logout_redirect_uri` ([`POST_LOGOUT_REDIRECT_URI`] or `/cb`) |
//! | `POST /backchannel` | oidc-provider's CIBA backchannel authentication endpoint (poll and ping modes; discovery's `backchannel_authentication_endpoint`), for [`CIBA_CLIENT_ID`] (poll), [`CIBA_SIGNED_CLIENT_ID`] (poll, signed requests only, CIBA Core §7.1.1) [`CIBA_PING_CLIENT_ID`] (ping) and [`CIBA_PING_SIGNED_CLIENT_ID`] (ping, signed requests only) (both ping clients registered when [`OidcOptions::ciba_notification_endpoint`] is set): a `login_hint` of [`TEST_USER`] or [`CIBA_USER`] is known, any other is `unknown_user_id`; a `user_code`, when sent, must be [`CIBA_USER_CODE`] |
//! | `POST /test/ciba?login_hint=..&decision=approve\|deny` | the user's decision on the latest CIBA request for that hint, as their authentication device would report it ([`OidcProvider::ciba_decision_url`]); expired requests are kept 60 s, so a poll gets `expired_token`. For a ping-mode request the provider then pings the notification endpoint: 200 once it answered 200 or 204, 502 if it did not |
//! | `GET /test/stats`, `POST /test/stats/reset` | counters, e.g. `token_requests`, `grant_refresh_token_ok`, `grant_refresh_token_error`, `refresh_token_consumed` |
//!
//! An authorization request needs PKCE (S256) from every client. Following the
//! redirects from `GET /auth?...` (303 `/interaction/UID`, 303 `/auth/UID`, 303
//! `redirect_uri?code=..&state=..&iss=..`) needs no cookie jar: the server supplies the
//! interaction cookies itself. Every code grant of a client allowed `refresh_token`
//! gets a refresh token (no `offline_access` needed), rotated on every use; reusing a
//! consumed one is `invalid_grant`. Access tokens are opaque.

use std::process::Command;
use std::time::Duration;

use serde::Deserialize;

use crate::process::ServerProcess;
use crate::{HarnessError, READY_TIMEOUT, crate_dir, ensure_installed};

/// Confidential client using `client_secret_basic`.
pub const BASIC_CLIENT_ID: &str = "interop-basic";
/// [`BASIC_CLIENT_ID`]'s secret.
pub const BASIC_CLIENT_SECRET: &str = "interop-basic-secret";
/// Confidential `client_secret_basic` client whose secret must be form-encoded before
/// base64 (RFC 6749 §2.3.1).
pub const BASIC_SPECIAL_CLIENT_ID: &str = "interop-basic-special";
/// [`BASIC_SPECIAL_CLIENT_ID`]'s secret.
pub const BASIC_SPECIAL_CLIENT_SECRET: &str = "p@ss:w/rd+ &=%";
/// Confidential client using `client_secret_post`.
pub const POST_CLIENT_ID: &str = "interop-post";
/// [`POST_CLIENT_ID`]'s secret.
pub const POST_CLIENT_SECRET: &str = "interop-post-secret";
/// Public client (`token_endpoint_auth_method: none`, native: any loopback port).
pub const PUBLIC_CLIENT_ID: &str = "interop-public";
/// Confidential client using `private_key_jwt` (RFC 7523); its key pair is `keys/rsa_*.pem`
/// and its `kid` is the client id.
pub const PRIVATE_KEY_JWT_CLIENT_ID: &str = "interop-pkjwt";
/// Confidential client using `private_key_jwt` with ES256; its key is `keys/ec_p256_pkcs8.pem`
/// and its `kid` is the client id.
pub const PRIVATE_KEY_JWT_ES256_CLIENT_ID: &str = "interop-pkjwt-es256";
/// Confidential client using `private_key_jwt` with EdDSA (Ed25519, RFC 8037); its key is
/// `keys/ed25519_pkcs8.pem` (a test key) and its `kid` is the client id.
pub const PRIVATE_KEY_JWT_EDDSA_CLIENT_ID: &str = "interop-pkjwt-eddsa";
/// Confidential `client_secret_basic` clients whose ID tokens are signed with an algorithm
/// other than RS256 (their `id_token_signed_response_alg`): `(alg, client_id)`. The provider
/// signs each with a key generated per run and published in its JWK set (`kid`
/// `interop-<alg>`, lower case; the Ed25519 key, `interop-ed25519`, states no `alg` and
/// signs both `EdDSA` and `Ed25519` tokens). Authorization code grant only.
pub const ID_TOKEN_ALG_CLIENTS: &[(&str, &str)] = &[
    ("ES384", "interop-idtoken-es384"),
    ("PS384", "interop-idtoken-ps384"),
    ("RS512", "interop-idtoken-rs512"),
    ("EdDSA", "interop-idtoken-eddsa"),
    ("Ed25519", "interop-idtoken-ed25519"),
];
/// The secret of every [`ID_TOKEN_ALG_CLIENTS`] client.
pub const ID_TOKEN_ALG_CLIENT_SECRET: &str = "interop-idtoken-secret";
/// Confidential client using `client_secret_jwt` (OpenID Connect Core §9, HS256).
pub const CLIENT_SECRET_JWT_CLIENT_ID: &str = "interop-secret-jwt";
/// [`CLIENT_SECRET_JWT_CLIENT_ID`]'s secret (HS256 needs 32 bytes or more).
pub const CLIENT_SECRET_JWT_SECRET: &str = "interop-secret-jwt-secret-of-at-least-32-bytes";
/// Confidential client using `tls_client_auth` (RFC 8705 §2.1) with certificate-bound tokens:
/// its certificate is `keys/mtls/client.pem` (`CN=interop-mtls`, issued by `keys/mtls/ca.pem`).
pub const MTLS_CLIENT_ID: &str = "interop-mtls";
/// Confidential client using `self_signed_tls_client_auth` (RFC 8705 §2.2) with
/// certificate-bound tokens: its certificate is `keys/mtls/self_signed_client.pem`.
pub const MTLS_SELF_SIGNED_CLIENT_ID: &str = "interop-mtls-self-signed";
/// Confidential `client_secret_basic` client registered for OpenID Connect CIBA in poll mode
/// (grant `urn:openid:params:grant-type:ciba` only, `backchannel_token_delivery_mode` `poll`).
pub const CIBA_CLIENT_ID: &str = "interop-ciba";
/// [`CIBA_CLIENT_ID`]'s secret.
pub const CIBA_CLIENT_SECRET: &str = "interop-ciba-secret";
/// Confidential `client_secret_basic` client registered for OpenID Connect CIBA in ping mode
/// (grant `urn:openid:params:grant-type:ciba` only, `backchannel_token_delivery_mode` `ping`),
/// whose `backchannel_client_notification_endpoint` is
/// [`OidcOptions::ciba_notification_endpoint`]: registered only when that is set.
pub const CIBA_PING_CLIENT_ID: &str = "interop-ciba-ping";
/// [`CIBA_PING_CLIENT_ID`]'s secret.
pub const CIBA_PING_CLIENT_SECRET: &str = "interop-ciba-ping-secret";
/// `private_key_jwt` (ES256) client registered for OpenID Connect CIBA in poll mode whose
/// backchannel requests must be signed (CIBA Core §7.1.1:
/// `backchannel_authentication_request_signing_alg` `ES256`); its key is
/// `keys/ec_p256_pkcs8.pem` and its `kid` is the client id, for both its client assertions
/// and its request objects.
pub const CIBA_SIGNED_CLIENT_ID: &str = "interop-ciba-signed";
/// `private_key_jwt` (ES256) client registered for OpenID Connect CIBA in ping mode whose
/// backchannel requests must be signed (as [`CIBA_SIGNED_CLIENT_ID`]'s, with the same key and
/// its own client id as `kid`), so that its `client_notification_token` travels inside the
/// request object; registered only when [`OidcOptions::ciba_notification_endpoint`] is set.
pub const CIBA_PING_SIGNED_CLIENT_ID: &str = "interop-ciba-ping-signed";
/// `private_key_jwt` (ES256, `keys/ec_p256_pkcs8.pem`, `kid` = the client id) client under
/// the FAPI 2.0 Security Profile (oidc-provider's `features.fapi`, profile `2.0`, for this
/// client only): PKCE required, client assertions with the issuer as `aud`, pushed
/// authorization requests required (`require_pushed_authorization_requests`) and DPoP-bound
/// access tokens only (`dpop_bound_access_tokens`); code and refresh grants.
pub const FAPI2_CLIENT_ID: &str = "interop-fapi2";
/// [`FAPI2_CLIENT_ID`]'s twin with an RSA key (`keys/rsa_private_pkcs8.pem`, `kid` = the
/// client id) and `PS256` assertions, the RSA algorithm FAPI 2.0 allows.
pub const FAPI2_PS256_CLIENT_ID: &str = "interop-fapi2-ps256";
/// Confidential `client_secret_basic` client whose authorization responses must be signed
/// (JARM: `response_modes` `query.jwt` and `jwt` only; `authorization_signed_response_alg`
/// `RS256`).
pub const JARM_CLIENT_ID: &str = "interop-jarm";
/// [`JARM_CLIENT_ID`]'s secret.
pub const JARM_CLIENT_SECRET: &str = "interop-jarm-secret";
/// `private_key_jwt` (ES256) client whose authorization responses must be signed (JARM, as
/// [`JARM_CLIENT_ID`]'s, with `EdDSA`); its key is `keys/ec_p256_pkcs8.pem` and its `kid` is
/// the client id, for its client assertions and its request objects (JAR).
pub const JARM_PKJWT_CLIENT_ID: &str = "interop-jarm-pkjwt";
/// A `login_hint` that makes the user deny the authorization at the interaction: the provider
/// answers `access_denied` to the redirect URI, in the response mode asked for.
pub const DENY_LOGIN_HINT: &str = "interop-deny";
/// A second user a CIBA `login_hint` may name (besides [`TEST_USER`]).
pub const CIBA_USER: &str = "interop-ciba-user";
/// The `user_code` the CIBA users have set.
pub const CIBA_USER_CODE: &str = "interop-user-code";
/// A redirect URI every client has registered (nothing listens there: stop at the
/// redirect). [`OidcProvider::callback_url`] is the other one.
pub const LOOPBACK_REDIRECT_URI: &str = "http://127.0.0.1/callback";
/// A `post_logout_redirect_uri` every client has registered (OpenID Connect RP-Initiated
/// Logout 1.0; nothing listens there: stop at the redirect). [`OidcProvider::callback_url`] is
/// the other one.
pub const POST_LOGOUT_REDIRECT_URI: &str = "http://127.0.0.1/signed-out";
/// The account every interaction logs in (unless [`OidcOptions::test_user`] is set).
pub const TEST_USER: &str = "interop-user";
/// Scopes the server knows; clients may ask for any of them.
pub const SCOPES: &[&str] = &[
    "openid",
    "offline_access",
    "profile",
    "email",
    "api:read",
    "api:write",
];

/// A registered client, as in `oidc_provider/clients.json`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct OidcClient {
    /// `client_id`.
    pub client_id: String,
    /// `client_secret`, for confidential clients.
    #[serde(default)]
    pub client_secret: Option<String>,
    /// `client_secret_basic`, `client_secret_post`, `private_key_jwt`, `tls_client_auth`,
    /// `self_signed_tls_client_auth` or `none`.
    pub token_endpoint_auth_method: String,
    /// Grants the client may use.
    pub grant_types: Vec<String>,
    /// `web` (default) or `native`.
    #[serde(default)]
    pub application_type: Option<String>,
}

#[derive(Deserialize)]
struct ClientsFile {
    clients: Vec<OidcClient>,
}

const CLIENTS_JSON: &str = include_str!("../oidc_provider/clients.json");

/// The registered clients (`oidc_provider/clients.json`).
///
/// # Panics
///
/// Never in practice: the file is part of this crate and a unit test parses it.
pub fn clients() -> Vec<OidcClient> {
    match serde_json::from_str::<ClientsFile>(CLIENTS_JSON) {
        Ok(file) => file.clients,
        Err(e) => panic!("oidc_provider/clients.json is invalid: {e}"),
    }
}

/// The registered client with this id.
pub fn client(client_id: &str) -> Option<OidcClient> {
    clients().into_iter().find(|c| c.client_id == client_id)
}

/// How to start the server.
#[derive(Debug, Clone, Default)]
#[non_exhaustive]
pub struct OidcOptions {
    /// Lifetime of access and client-credentials tokens (whole seconds, at least 1);
    /// the server's default is 3 s, so refresh can be tested live.
    pub access_token_ttl: Option<Duration>,
    /// Lifetime of refresh tokens (server default 3600 s).
    pub refresh_token_ttl: Option<Duration>,
    /// The account interactions log in (default [`TEST_USER`]).
    pub test_user: Option<String>,
    /// The `backchannel_client_notification_endpoint` of [`CIBA_PING_CLIENT_ID`] (which is
    /// registered only when this is set): an `https` URL on 127.0.0.1 whose server presents
    /// `keys/mtls/server.pem` (the provider trusts `keys/mtls/ca.pem` for it). oidc-provider
    /// registers only `https` notification endpoints, and the URL must be known when it
    /// starts: bind the listener first.
    pub ciba_notification_endpoint: Option<String>,
}

impl OidcOptions {
    /// Sets [`OidcOptions::access_token_ttl`].
    #[must_use]
    pub fn access_token_ttl(mut self, ttl: Duration) -> Self {
        self.access_token_ttl = Some(ttl);
        self
    }

    /// Sets [`OidcOptions::refresh_token_ttl`].
    #[must_use]
    pub fn refresh_token_ttl(mut self, ttl: Duration) -> Self {
        self.refresh_token_ttl = Some(ttl);
        self
    }

    /// Sets [`OidcOptions::test_user`].
    #[must_use]
    pub fn test_user(mut self, user: impl Into<String>) -> Self {
        self.test_user = Some(user.into());
        self
    }

    /// Sets [`OidcOptions::ciba_notification_endpoint`].
    #[must_use]
    pub fn ciba_notification_endpoint(mut self, url: impl Into<String>) -> Self {
        self.ciba_notification_endpoint = Some(url.into());
        self
    }
}

/// `value` percent-encoded for a query component (unreserved characters kept).
fn form_urlencoded_component(value: &str) -> String {
    value
        .bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn whole_seconds(ttl: Duration) -> String {
    ttl.as_secs_f64().ceil().max(1.0).to_string()
}

/// A running `oidc-provider` on 127.0.0.1; stopped when dropped.
#[derive(Debug)]
pub struct OidcProvider {
    process: ServerProcess,
}

impl OidcProvider {
    /// Starts the server, installing its dependencies first if needed (see
    /// [`crate::ensure_installed`]). Uses `node` from `PATH`, or `$INTEROP_NODE`.
    ///
    /// # Errors
    ///
    /// If installing fails or the server does not print `READY <port>` within
    /// [`READY_TIMEOUT`].
    pub fn start(options: OidcOptions) -> Result<Self, HarnessError> {
        ensure_installed()?;
        let node = std::env::var_os("INTEROP_NODE").unwrap_or_else(|| "node".into());
        let dir = crate_dir().join("oidc_provider");
        let make = || {
            let mut command = Command::new(&node);
            command
                .arg(dir.join("server.mjs"))
                .args(["--port", "0"])
                .current_dir(&dir)
                .env_remove("OIDC_ACCESS_TOKEN_TTL")
                .env_remove("OIDC_REFRESH_TOKEN_TTL")
                .env_remove("OIDC_TEST_USER")
                .env_remove("OIDC_CIBA_NOTIFICATION_ENDPOINT");
            if let Some(ttl) = options.access_token_ttl {
                command.env("OIDC_ACCESS_TOKEN_TTL", whole_seconds(ttl));
            }
            if let Some(ttl) = options.refresh_token_ttl {
                command.env("OIDC_REFRESH_TOKEN_TTL", whole_seconds(ttl));
            }
            if let Some(user) = &options.test_user {
                command.env("OIDC_TEST_USER", user);
            }
            if let Some(url) = &options.ciba_notification_endpoint {
                command.env("OIDC_CIBA_NOTIFICATION_ENDPOINT", url);
            }
            command
        };
        let process = ServerProcess::start("oidc-provider", make, READY_TIMEOUT)?;
        Ok(Self { process })
    }

    /// The port it listens on (127.0.0.1).
    pub fn port(&self) -> u16 {
        self.process.port()
    }

    /// The port of the mutual-TLS listener (HTTPS with the certificates in `keys/mtls`; it
    /// asks clients for a certificate): the same provider, for RFC 8705 clients.
    pub fn mtls_port(&self) -> u16 {
        self.process.more_port(0).unwrap_or_default()
    }

    /// `https://127.0.0.1:<mtls port>`: the origin of the `mtls_endpoint_aliases` in discovery.
    pub fn mtls_base_url(&self) -> String {
        format!("https://127.0.0.1:{}", self.mtls_port())
    }

    /// `http://127.0.0.1:<port>`, without a trailing slash.
    pub fn base_url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port())
    }

    /// The issuer identifier; the same as [`OidcProvider::base_url`].
    pub fn issuer(&self) -> String {
        self.base_url()
    }

    /// [`OidcProvider::base_url`] followed by `path` (which starts with `/`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url())
    }

    /// `/.well-known/openid-configuration`.
    pub fn discovery_url(&self) -> String {
        self.url("/.well-known/openid-configuration")
    }

    /// The authorization endpoint, `/auth`.
    pub fn authorization_endpoint(&self) -> String {
        self.url("/auth")
    }

    /// The token endpoint, `/token`.
    pub fn token_endpoint(&self) -> String {
        self.url("/token")
    }

    /// The introspection endpoint (RFC 7662), `/token/introspection`.
    pub fn introspection_endpoint(&self) -> String {
        self.url("/token/introspection")
    }

    /// The revocation endpoint (RFC 7009), `/token/revocation`.
    pub fn revocation_endpoint(&self) -> String {
        self.url("/token/revocation")
    }

    /// The bearer-protected resource, `/api/resource`.
    pub fn resource_url(&self) -> String {
        self.url("/api/resource")
    }

    /// A registered redirect URI on this server (`/cb`) that answers 200 with its
    /// query as JSON, for clients that follow every redirect.
    pub fn callback_url(&self) -> String {
        self.url("/cb")
    }

    /// `GET` for counters, see the module docs.
    pub fn stats_url(&self) -> String {
        self.url("/test/stats")
    }

    /// `POST` here to record the user's CIBA decision (approve or deny) on the latest
    /// backchannel authentication request for `login_hint`.
    pub fn ciba_decision_url(&self, login_hint: &str, approve: bool) -> String {
        let decision = if approve { "approve" } else { "deny" };
        let hint: String = form_urlencoded_component(login_hint);
        self.url(&format!("/test/ciba?login_hint={hint}&decision={decision}"))
    }

    /// The server's stderr log (one line per request, no tokens).
    pub fn log_path(&self) -> &std::path::Path {
        self.process.log_path()
    }

    /// The process id of the server.
    pub fn pid(&self) -> u32 {
        self.process.pid()
    }

    /// Stops the server now (SIGTERM, then SIGKILL); dropping it does the same.
    pub fn stop(mut self) {
        self.process.stop();
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]
    use super::*;

    #[test]
    fn clients_file_matches_the_constants() {
        let basic = client(BASIC_CLIENT_ID).unwrap();
        assert_eq!(basic.client_secret.as_deref(), Some(BASIC_CLIENT_SECRET));
        assert_eq!(basic.token_endpoint_auth_method, "client_secret_basic");
        let special = client(BASIC_SPECIAL_CLIENT_ID).unwrap();
        assert_eq!(
            special.client_secret.as_deref(),
            Some(BASIC_SPECIAL_CLIENT_SECRET)
        );
        let post = client(POST_CLIENT_ID).unwrap();
        assert_eq!(post.client_secret.as_deref(), Some(POST_CLIENT_SECRET));
        assert_eq!(post.token_endpoint_auth_method, "client_secret_post");
        let public = client(PUBLIC_CLIENT_ID).unwrap();
        assert_eq!(public.client_secret, None);
        assert_eq!(public.token_endpoint_auth_method, "none");
        let pkjwt = client(PRIVATE_KEY_JWT_CLIENT_ID).unwrap();
        assert_eq!(pkjwt.token_endpoint_auth_method, "private_key_jwt");
        assert_eq!(pkjwt.client_secret, None);
        for (_, id) in ID_TOKEN_ALG_CLIENTS {
            let c = client(id).unwrap();
            assert_eq!(c.client_secret.as_deref(), Some(ID_TOKEN_ALG_CLIENT_SECRET));
            assert_eq!(c.token_endpoint_auth_method, "client_secret_basic");
        }
        let eddsa = client(PRIVATE_KEY_JWT_EDDSA_CLIENT_ID).unwrap();
        assert_eq!(eddsa.token_endpoint_auth_method, "private_key_jwt");
        let ciba = client(CIBA_CLIENT_ID).unwrap();
        assert_eq!(ciba.client_secret.as_deref(), Some(CIBA_CLIENT_SECRET));
        assert_eq!(ciba.token_endpoint_auth_method, "client_secret_basic");
        assert_eq!(ciba.grant_types, ["urn:openid:params:grant-type:ciba"]);
        let signed = client(CIBA_SIGNED_CLIENT_ID).unwrap();
        assert_eq!(signed.token_endpoint_auth_method, "private_key_jwt");
        assert_eq!(signed.grant_types, ["urn:openid:params:grant-type:ciba"]);
        let ping = client(CIBA_PING_CLIENT_ID).unwrap();
        assert_eq!(ping.client_secret.as_deref(), Some(CIBA_PING_CLIENT_SECRET));
        assert_eq!(ping.grant_types, ["urn:openid:params:grant-type:ciba"]);
        let fapi = client(FAPI2_CLIENT_ID).unwrap();
        assert_eq!(fapi.token_endpoint_auth_method, "private_key_jwt");
        assert_eq!(fapi.grant_types, ["authorization_code", "refresh_token"]);
        let ps256 = client(FAPI2_PS256_CLIENT_ID).unwrap();
        assert_eq!(ps256.token_endpoint_auth_method, "private_key_jwt");
        let ping_signed = client(CIBA_PING_SIGNED_CLIENT_ID).unwrap();
        assert_eq!(ping_signed.token_endpoint_auth_method, "private_key_jwt");
        assert_eq!(
            ping_signed.grant_types,
            ["urn:openid:params:grant-type:ciba"]
        );
        for c in [basic, post, pkjwt, eddsa] {
            for g in ["client_credentials", "authorization_code", "refresh_token"] {
                assert!(c.grant_types.iter().any(|x| x == g), "{} {g}", c.client_id);
            }
        }
    }

    #[test]
    fn ttl_is_whole_seconds_at_least_one() {
        assert_eq!(whole_seconds(Duration::from_millis(1)), "1");
        assert_eq!(whole_seconds(Duration::from_millis(2500)), "3");
        assert_eq!(whole_seconds(Duration::from_secs(60)), "60");
    }
}
