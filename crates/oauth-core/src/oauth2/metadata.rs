//! Authorization server metadata (RFC 8414; OpenID Connect Discovery 1.0): where the metadata
//! document lives for an issuer, and a strict reading of it.
//!
//! The document must name exactly the issuer it was fetched for (RFC 8414 §3.3: simple string
//! comparison, no normalisation), or it is refused: that is what keeps a compromised or
//! mistaken discovery document from steering a client to another server (RFC 9700 §2.6).
//!
//! ```
//! use http::StatusCode;
//! use oauth_core::oauth2::{Issuer, WellKnown, metadata_request, parse_metadata};
//!
//! let issuer = Issuer::new("https://server.example.com/tenant-1")?;
//! let request = metadata_request(&issuer, WellKnown::OAuthAuthorizationServer)?;
//! assert_eq!(
//!     request.uri(),
//!     "https://server.example.com/.well-known/oauth-authorization-server/tenant-1"
//! );
//! let body = br#"{
//!     "issuer": "https://server.example.com/tenant-1",
//!     "token_endpoint": "https://server.example.com/tenant-1/token",
//!     "code_challenge_methods_supported": ["S256"]
//! }"#;
//! let metadata = parse_metadata(StatusCode::OK, body, &issuer)?;
//! assert!(metadata.supports_pkce_s256());
//! assert_eq!(
//!     metadata.token_endpoint().map(|e| e.uri().to_string()).as_deref(),
//!     Some("https://server.example.com/tenant-1/token")
//! );
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

use std::collections::BTreeMap;

use http::header::ACCEPT;
use http::{Method, Request, StatusCode};

use super::endpoint::{Endpoint, EndpointError, Issuer, Transport};

/// Which well-known document to fetch.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum WellKnown {
    /// RFC 8414 §3: `/.well-known/oauth-authorization-server` inserted before the issuer's path.
    OAuthAuthorizationServer,
    /// OpenID Connect Discovery §4: `/.well-known/openid-configuration` appended to the issuer.
    OpenIdConfiguration,
}

/// Metadata could not be fetched or read. Holds no response body.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum MetadataError {
    /// The metadata URL could not be built from the issuer.
    #[error("cannot build the metadata URL: {0}")]
    Url(EndpointError),
    /// The server answered with a status other than 200.
    #[error("HTTP status {0}")]
    Status(StatusCode),
    /// The body is not a JSON object of the expected shape.
    #[error("the metadata document is not valid JSON metadata")]
    InvalidJson,
    /// The document names another issuer (or none) than the one it was fetched for (compared
    /// byte for byte, RFC 8414 §3.3: a trailing slash or another case is another issuer).
    #[error(
        "the metadata document is for another issuer: it names {}, the configured issuer is {expected:?} (compared byte for byte)",
        found.as_deref().map_or_else(|| "none".to_owned(), |f| format!("{f:?}"))
    )]
    IssuerMismatch {
        /// The issuer the document was fetched for.
        expected: String,
        /// The `issuer` the document names (at most 200 characters), if any.
        found: Option<String>,
    },
    /// An endpoint in the document is not a valid URL for this issuer's transport rule.
    #[error("metadata field {field} is not a valid endpoint: {error}")]
    InvalidEndpoint {
        /// The metadata member.
        field: &'static str,
        /// Why it was refused.
        error: EndpointError,
    },
}

/// The request for `issuer`'s metadata document: `GET`, `Accept: application/json`. Send it with
/// a client that does not follow redirects.
///
/// # Errors
///
/// Fails with [`MetadataError::Url`] ([`EndpointError::Invalid`]) only when the well-known URL
/// built from `issuer` is not a valid URI, which a validated [`Issuer`] should not produce.
pub fn metadata_request(
    issuer: &Issuer,
    well_known: WellKnown,
) -> Result<Request<Vec<u8>>, MetadataError> {
    let url = metadata_url(issuer, well_known);
    let uri: http::Uri = url
        .parse()
        .map_err(|_| MetadataError::Url(EndpointError::Invalid))?;
    Request::builder()
        .method(Method::GET)
        .uri(uri)
        .header(ACCEPT, "application/json")
        .body(Vec::new())
        .map_err(|_| MetadataError::Url(EndpointError::Invalid))
}

/// The metadata URL of `issuer` (issuers have no query or fragment).
fn metadata_url(issuer: &Issuer, well_known: WellKnown) -> String {
    let issuer = issuer.as_str();
    // `scheme://authority` and the path (possibly empty).
    let after_scheme = issuer.find("://").map_or(0, |i| i + 3);
    let path_start = issuer[after_scheme..]
        .find('/')
        .map_or(issuer.len(), |i| after_scheme + i);
    let (origin, path) = issuer.split_at(path_start);
    let path = path.trim_end_matches('/');
    match well_known {
        WellKnown::OAuthAuthorizationServer => {
            format!("{origin}/.well-known/oauth-authorization-server{path}")
        }
        WellKnown::OpenIdConfiguration => {
            format!("{origin}{path}/.well-known/openid-configuration")
        }
    }
}

/// An authorization server's metadata (RFC 8414 §2, with the members of RFC 8628, 9126, 9207,
/// 9449 and OpenID Connect Discovery a client uses). Endpoints are validated when read.
#[derive(Debug, Clone)]
pub struct AuthorizationServerMetadata {
    issuer: Issuer,
    authorization_endpoint: Option<Endpoint>,
    token_endpoint: Option<Endpoint>,
    device_authorization_endpoint: Option<Endpoint>,
    backchannel_authentication_endpoint: Option<Endpoint>,
    revocation_endpoint: Option<Endpoint>,
    introspection_endpoint: Option<Endpoint>,
    pushed_authorization_request_endpoint: Option<Endpoint>,
    userinfo_endpoint: Option<Endpoint>,
    jwks_uri: Option<Endpoint>,
    end_session_endpoint: Option<Endpoint>,
    mtls_endpoint_aliases: MtlsAliases,
    document: Document,
}

/// `mtls_endpoint_aliases` as read (RFC 8705 §5).
#[derive(Debug, Clone)]
enum MtlsAliases {
    /// No such member (or `null`): every endpoint is its own alias.
    Absent,
    /// The entries; `None` for one that is present but not a valid `https` URL.
    Listed(BTreeMap<String, Option<Endpoint>>),
    /// Not a JSON object: no alias can be trusted.
    Malformed,
}

/// The members read as they are.
#[derive(Debug, Clone, serde::Deserialize)]
struct Document {
    issuer: Option<String>,
    authorization_endpoint: Option<String>,
    token_endpoint: Option<String>,
    device_authorization_endpoint: Option<String>,
    backchannel_authentication_endpoint: Option<String>,
    revocation_endpoint: Option<String>,
    introspection_endpoint: Option<String>,
    pushed_authorization_request_endpoint: Option<String>,
    userinfo_endpoint: Option<String>,
    jwks_uri: Option<String>,
    end_session_endpoint: Option<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    scopes_supported: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    response_types_supported: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    grant_types_supported: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    token_endpoint_auth_methods_supported: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    code_challenge_methods_supported: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    token_endpoint_auth_signing_alg_values_supported: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    id_token_signing_alg_values_supported: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    dpop_signing_alg_values_supported: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    backchannel_token_delivery_modes_supported: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    backchannel_authentication_request_signing_alg_values_supported: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    backchannel_user_code_parameter_supported: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    authorization_response_iss_parameter_supported: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    require_pushed_authorization_requests: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    request_parameter_supported: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    request_object_signing_alg_values_supported: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    require_signed_request_object: bool,
    #[serde(default, deserialize_with = "null_as_default")]
    response_modes_supported: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    authorization_signing_alg_values_supported: Vec<String>,
    #[serde(default, deserialize_with = "null_as_default")]
    tls_client_certificate_bound_access_tokens: bool,
    #[serde(default)]
    mtls_endpoint_aliases: Option<serde_json::Value>,
    /// Every other member.
    #[serde(flatten)]
    extra: BTreeMap<String, serde_json::Value>,
}

/// `null` read as the member's default (absent): servers write `"scopes_supported": null`.
fn null_as_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: serde::Deserializer<'de>,
    T: Default + serde::Deserialize<'de>,
{
    Ok(<Option<T> as serde::Deserialize>::deserialize(deserializer)?.unwrap_or_default())
}

/// Reads a metadata response fetched for `expected` (RFC 8414 §3.2, §3.3): status 200, a JSON
/// object, `issuer` equal to `expected` byte for byte, and every endpoint valid under the same
/// transport rule as the issuer (`https`, or loopback `http` when the issuer is one).
///
/// # Errors
///
/// Fails with [`MetadataError::Status`] for a status other than 200, [`MetadataError::InvalidJson`]
/// for a body that is not a JSON object of the right shape, [`MetadataError::IssuerMismatch`] when
/// `issuer` is not `expected`, and [`MetadataError::InvalidEndpoint`] for an endpoint that is not a
/// valid URL under the issuer's transport rule.
pub fn parse_metadata(
    status: StatusCode,
    body: &[u8],
    expected: &Issuer,
) -> Result<AuthorizationServerMetadata, MetadataError> {
    if status != StatusCode::OK {
        return Err(MetadataError::Status(status));
    }
    let document: Document =
        serde_json::from_slice(body).map_err(|_| MetadataError::InvalidJson)?;
    if document.issuer.as_deref() != Some(expected.as_str()) {
        return Err(MetadataError::IssuerMismatch {
            expected: expected.as_str().to_owned(),
            found: document
                .issuer
                .map(|found| found.chars().take(200).collect()),
        });
    }
    // The issuer was accepted under some transport rule; its endpoints get the same one.
    // (The scheme is case-insensitive, RFC 3986 §3.1: `HTTP://127.0.0.1` is a loopback one.)
    let plain_http = expected
        .as_str()
        .get(..7)
        .is_some_and(|scheme| scheme.eq_ignore_ascii_case("http://"));
    let transport = if plain_http {
        Transport::AllowLoopbackHttp
    } else {
        Transport::HttpsOnly
    };
    let endpoint = |field: &'static str, value: &Option<String>| {
        value
            .as_deref()
            .map(|url| Endpoint::with_transport(url, transport))
            .transpose()
            .map_err(|error| MetadataError::InvalidEndpoint { field, error })
    };
    Ok(AuthorizationServerMetadata {
        issuer: expected.clone(),
        authorization_endpoint: endpoint(
            "authorization_endpoint",
            &document.authorization_endpoint,
        )?,
        token_endpoint: endpoint("token_endpoint", &document.token_endpoint)?,
        device_authorization_endpoint: endpoint(
            "device_authorization_endpoint",
            &document.device_authorization_endpoint,
        )?,
        backchannel_authentication_endpoint: endpoint(
            "backchannel_authentication_endpoint",
            &document.backchannel_authentication_endpoint,
        )?,
        revocation_endpoint: endpoint("revocation_endpoint", &document.revocation_endpoint)?,
        introspection_endpoint: endpoint(
            "introspection_endpoint",
            &document.introspection_endpoint,
        )?,
        pushed_authorization_request_endpoint: endpoint(
            "pushed_authorization_request_endpoint",
            &document.pushed_authorization_request_endpoint,
        )?,
        userinfo_endpoint: endpoint("userinfo_endpoint", &document.userinfo_endpoint)?,
        jwks_uri: endpoint("jwks_uri", &document.jwks_uri)?,
        end_session_endpoint: endpoint("end_session_endpoint", &document.end_session_endpoint)?,
        mtls_endpoint_aliases: mtls_aliases(document.mtls_endpoint_aliases.as_ref()),
        document,
    })
}

/// `mtls_endpoint_aliases` (RFC 8705 §5): entries must be `https` URLs (mutual TLS needs TLS,
/// whatever the issuer's transport). An invalid entry does not fail the whole document (a
/// client that does not use mutual TLS, or not that endpoint, must not be stopped by it), but
/// it is remembered as invalid: a client that needs that alias then gets none, never the
/// conventional endpoint in its place, nor a plain-http one.
fn mtls_aliases(aliases: Option<&serde_json::Value>) -> MtlsAliases {
    match aliases {
        None | Some(serde_json::Value::Null) => MtlsAliases::Absent,
        Some(serde_json::Value::Object(entries)) => MtlsAliases::Listed(
            entries
                .iter()
                .map(|(name, url)| {
                    let endpoint = url
                        .as_str()
                        .and_then(|url| Endpoint::with_transport(url, Transport::HttpsOnly).ok());
                    (name.clone(), endpoint)
                })
                .collect(),
        ),
        Some(_) => MtlsAliases::Malformed,
    }
}

impl AuthorizationServerMetadata {
    /// The issuer (equal to the one the document was fetched for).
    pub fn issuer(&self) -> &Issuer {
        &self.issuer
    }

    /// `authorization_endpoint`.
    pub fn authorization_endpoint(&self) -> Option<&Endpoint> {
        self.authorization_endpoint.as_ref()
    }

    /// `token_endpoint`.
    pub fn token_endpoint(&self) -> Option<&Endpoint> {
        self.token_endpoint.as_ref()
    }

    /// `device_authorization_endpoint` (RFC 8628 §4).
    pub fn device_authorization_endpoint(&self) -> Option<&Endpoint> {
        self.device_authorization_endpoint.as_ref()
    }

    /// `revocation_endpoint` (RFC 8414 §2).
    pub fn revocation_endpoint(&self) -> Option<&Endpoint> {
        self.revocation_endpoint.as_ref()
    }

    /// `introspection_endpoint` (RFC 8414 §2).
    pub fn introspection_endpoint(&self) -> Option<&Endpoint> {
        self.introspection_endpoint.as_ref()
    }

    /// `pushed_authorization_request_endpoint` (RFC 9126 §5).
    pub fn pushed_authorization_request_endpoint(&self) -> Option<&Endpoint> {
        self.pushed_authorization_request_endpoint.as_ref()
    }

    /// `userinfo_endpoint` (OpenID Connect Discovery §3).
    pub fn userinfo_endpoint(&self) -> Option<&Endpoint> {
        self.userinfo_endpoint.as_ref()
    }

    /// `jwks_uri`.
    pub fn jwks_uri(&self) -> Option<&Endpoint> {
        self.jwks_uri.as_ref()
    }

    /// `end_session_endpoint` (OpenID Connect RP-Initiated Logout 1.0 §2.1): where
    /// [`LogoutRequest`](super::logout::LogoutRequest) sends the user's browser to sign out
    /// at the provider.
    pub fn end_session_endpoint(&self) -> Option<&Endpoint> {
        self.end_session_endpoint.as_ref()
    }

    /// `scopes_supported`.
    pub fn scopes_supported(&self) -> &[String] {
        &self.document.scopes_supported
    }

    /// `response_types_supported`.
    pub fn response_types_supported(&self) -> &[String] {
        &self.document.response_types_supported
    }

    /// `grant_types_supported` (empty when absent; RFC 8414 then implies
    /// `authorization_code` and `implicit`).
    pub fn grant_types_supported(&self) -> &[String] {
        &self.document.grant_types_supported
    }

    /// `token_endpoint_auth_methods_supported`.
    pub fn token_endpoint_auth_methods_supported(&self) -> &[String] {
        &self.document.token_endpoint_auth_methods_supported
    }

    /// `token_endpoint_auth_signing_alg_values_supported` (RFC 8414 §2): the algorithms the
    /// server takes for `private_key_jwt` and `client_secret_jwt` assertions (empty when
    /// absent).
    pub fn token_endpoint_auth_signing_alg_values_supported(&self) -> &[String] {
        &self
            .document
            .token_endpoint_auth_signing_alg_values_supported
    }

    /// `id_token_signing_alg_values_supported` (OpenID Connect Discovery 1.0 §3, required
    /// there; empty when absent): the algorithms the provider may sign ID tokens with. To
    /// accept only one of them, pin it with
    /// [`IdTokenVerifier::expect_algorithm`](super::oidc::IdTokenVerifier::expect_algorithm).
    pub fn id_token_signing_alg_values_supported(&self) -> &[String] {
        &self.document.id_token_signing_alg_values_supported
    }

    /// `code_challenge_methods_supported` (RFC 8414 §2, RFC 7636).
    pub fn code_challenge_methods_supported(&self) -> &[String] {
        &self.document.code_challenge_methods_supported
    }

    /// Whether the server says it supports PKCE with `S256`: what a client must check before
    /// it relies on PKCE rather than `state` against CSRF (RFC 9700 §2.1.1, §4.7.1).
    pub fn supports_pkce_s256(&self) -> bool {
        self.document
            .code_challenge_methods_supported
            .iter()
            .any(|m| m == "S256")
    }

    /// `authorization_response_iss_parameter_supported` (RFC 9207 §3; `false` when absent).
    /// When `true`, a callback without `iss` must be refused: see
    /// [`AuthorizationRequest::expect_issuer`](super::AuthorizationRequest::expect_issuer).
    pub fn authorization_response_iss_parameter_supported(&self) -> bool {
        self.document.authorization_response_iss_parameter_supported
    }

    /// `require_pushed_authorization_requests` (RFC 9126 §5; `false` when absent).
    pub fn require_pushed_authorization_requests(&self) -> bool {
        self.document.require_pushed_authorization_requests
    }

    /// `request_parameter_supported` (OpenID Connect Discovery §3; `false` when absent):
    /// whether the server takes a request object in the URL
    /// ([`AuthorizationRequest::signed_request`](super::AuthorizationRequest::signed_request)).
    pub fn request_parameter_supported(&self) -> bool {
        self.document.request_parameter_supported
    }

    /// `request_object_signing_alg_values_supported` (RFC 8414 §2, OpenID Connect Discovery
    /// §3): the algorithms the server verifies request objects with.
    pub fn request_object_signing_alg_values_supported(&self) -> &[String] {
        &self.document.request_object_signing_alg_values_supported
    }

    /// `require_signed_request_object` (RFC 9101 §10.5; `false` when absent): the server takes
    /// authorization requests only as signed request objects.
    pub fn require_signed_request_object(&self) -> bool {
        self.document.require_signed_request_object
    }

    /// `response_modes_supported` (RFC 8414 §2; empty when absent, which means `query` and
    /// `fragment`): a server that takes signed responses lists `query.jwt` (JARM §3,
    /// [`AuthorizationRequest::signed_response`](super::AuthorizationRequest::signed_response)).
    pub fn response_modes_supported(&self) -> &[String] {
        &self.document.response_modes_supported
    }

    /// `authorization_signing_alg_values_supported` (JARM §4.1): the algorithms the server
    /// signs authorization responses with.
    pub fn authorization_signing_alg_values_supported(&self) -> &[String] {
        &self.document.authorization_signing_alg_values_supported
    }

    /// `dpop_signing_alg_values_supported` (RFC 9449 §5.1).
    pub fn dpop_signing_alg_values_supported(&self) -> &[String] {
        &self.document.dpop_signing_alg_values_supported
    }

    /// Whether the server accepts DPoP proofs signed with `key`'s algorithm: listed in
    /// `dpop_signing_alg_values_supported`, or that member is absent (RFC 9449 §5.1; nothing
    /// is known then). Check it before giving a key to tower-oauth2's `GrantClient::dpop`,
    /// so that a mismatch is a configuration error rather than a rejected token request.
    pub fn accepts_dpop_key(&self, key: &super::DpopKey) -> bool {
        let algs = &self.document.dpop_signing_alg_values_supported;
        algs.is_empty() || algs.iter().any(|alg| alg == key.algorithm())
    }

    /// `backchannel_authentication_endpoint` (OpenID Connect CIBA Core §4): where
    /// [`BackchannelAuthenticationRequest`](super::BackchannelAuthenticationRequest)s go.
    pub fn backchannel_authentication_endpoint(&self) -> Option<&Endpoint> {
        self.backchannel_authentication_endpoint.as_ref()
    }

    /// `backchannel_token_delivery_modes_supported` (CIBA Core §4): `poll`, `ping`, `push`.
    /// This crate supports `poll` only.
    pub fn backchannel_token_delivery_modes_supported(&self) -> &[String] {
        &self.document.backchannel_token_delivery_modes_supported
    }

    /// `backchannel_authentication_request_signing_alg_values_supported` (CIBA Core §4): the
    /// algorithms for signed authentication requests (empty when the provider accepts none).
    pub fn backchannel_authentication_request_signing_alg_values_supported(&self) -> &[String] {
        &self
            .document
            .backchannel_authentication_request_signing_alg_values_supported
    }

    /// `backchannel_user_code_parameter_supported` (CIBA Core §4; `false` when absent):
    /// whether the provider takes a `user_code`.
    pub fn backchannel_user_code_parameter_supported(&self) -> bool {
        self.document.backchannel_user_code_parameter_supported
    }

    /// `tls_client_certificate_bound_access_tokens` (RFC 8705 §3.3; `false` when absent).
    pub fn tls_client_certificate_bound_access_tokens(&self) -> bool {
        self.document.tls_client_certificate_bound_access_tokens
    }

    /// The `mtls_endpoint_aliases` entry for `name` (e.g. `"token_endpoint"`, RFC 8705 §5): the
    /// URL a client using mutual TLS must call instead of the conventional one. `None` when
    /// there is no such entry, or it is not a valid `https` URL.
    pub fn mtls_endpoint_alias(&self, name: &str) -> Option<&Endpoint> {
        match &self.mtls_endpoint_aliases {
            MtlsAliases::Listed(entries) => entries.get(name)?.as_ref(),
            MtlsAliases::Absent | MtlsAliases::Malformed => None,
        }
    }

    /// The token endpoint for a client using mutual TLS (RFC 8705 §5): its
    /// `mtls_endpoint_aliases` entry if there is one, else `token_endpoint`. `None` when the
    /// server lists an alias that is invalid (or a malformed `mtls_endpoint_aliases`): the
    /// conventional endpoint is then not a safe substitute.
    pub fn mtls_token_endpoint(&self) -> Option<&Endpoint> {
        match &self.mtls_endpoint_aliases {
            MtlsAliases::Absent => self.token_endpoint.as_ref(),
            MtlsAliases::Listed(entries) => match entries.get("token_endpoint") {
                Some(alias) => alias.as_ref(),
                None => self.token_endpoint.as_ref(),
            },
            MtlsAliases::Malformed => None,
        }
    }

    /// Any other member, as JSON.
    pub fn extra(&self, member: &str) -> Option<&serde_json::Value> {
        self.document.extra.get(member)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn issuer(s: &str) -> Issuer {
        Issuer::with_transport(s, Transport::AllowLoopbackHttp).unwrap()
    }

    #[test]
    fn well_known_urls_follow_rfc8414_and_oidc_discovery() {
        let cases = [
            (
                "https://example.com",
                "https://example.com/.well-known/oauth-authorization-server",
                "https://example.com/.well-known/openid-configuration",
            ),
            (
                "https://example.com/",
                "https://example.com/.well-known/oauth-authorization-server",
                "https://example.com/.well-known/openid-configuration",
            ),
            // RFC 8414 §3.1's example.
            (
                "https://example.com/issuer1",
                "https://example.com/.well-known/oauth-authorization-server/issuer1",
                "https://example.com/issuer1/.well-known/openid-configuration",
            ),
            // A host shorter than the scheme's own length: the path starts right after it.
            (
                "https://a.io/t1",
                "https://a.io/.well-known/oauth-authorization-server/t1",
                "https://a.io/t1/.well-known/openid-configuration",
            ),
            (
                "http://127.0.0.1:8080/realms/a/",
                "http://127.0.0.1:8080/.well-known/oauth-authorization-server/realms/a",
                "http://127.0.0.1:8080/realms/a/.well-known/openid-configuration",
            ),
        ];
        for (iss, oauth, oidc) in cases {
            let iss = issuer(iss);
            let req = metadata_request(&iss, WellKnown::OAuthAuthorizationServer).unwrap();
            assert_eq!(req.uri().to_string(), oauth);
            assert_eq!(req.method(), Method::GET);
            assert_eq!(req.headers()[ACCEPT], "application/json");
            let req = metadata_request(&iss, WellKnown::OpenIdConfiguration).unwrap();
            assert_eq!(req.uri().to_string(), oidc);
        }
    }

    #[test]
    fn dpop_keys_are_checked_against_the_listed_algorithms() {
        const PEM: &str = include_str!("../../tests/vectors/oauth1/test_ec_p256_pkcs8.pem");
        let key =
            super::super::DpopKey::es256(super::super::EcP256PrivateKey::from_pem(PEM).unwrap());
        let expected = issuer("https://as.example.com");
        for (body, accepted) in [
            (r#"{"issuer": "https://as.example.com"}"#, true),
            (
                r#"{"issuer": "https://as.example.com", "dpop_signing_alg_values_supported": ["PS256", "ES256"]}"#,
                true,
            ),
            (
                r#"{"issuer": "https://as.example.com", "dpop_signing_alg_values_supported": ["EdDSA"]}"#,
                false,
            ),
        ] {
            let metadata = parse_metadata(StatusCode::OK, body.as_bytes(), &expected).unwrap();
            assert_eq!(metadata.accepts_dpop_key(&key), accepted, "{body}");
        }
        // An Ed25519 key's proofs are `EdDSA` ones: the name the server must list (not
        // RFC 9864's `Ed25519`, which is not the `alg` the proofs carry).
        const ED25519_PEM: &str = include_str!("../../tests/vectors/oauth1/test_ed25519_pkcs8.pem");
        let ed25519 = super::super::DpopKey::ed25519(
            super::super::Ed25519PrivateKey::from_pem(ED25519_PEM).unwrap(),
        );
        for (algs, accepted) in [
            (r#"["ES256", "EdDSA"]"#, true),
            (r#"["ES256"]"#, false),
            (r#"["Ed25519"]"#, false),
        ] {
            let body = format!(
                r#"{{"issuer": "https://as.example.com", "dpop_signing_alg_values_supported": {algs}}}"#
            );
            let metadata = parse_metadata(StatusCode::OK, body.as_bytes(), &expected).unwrap();
            assert_eq!(metadata.accepts_dpop_key(&ed25519), accepted, "{body}");
        }
    }

    #[test]
    fn mtls_aliases_are_https_endpoints_rfc8705_s5() {
        let expected = issuer("https://as.example.com");
        let body = br#"{
            "issuer": "https://as.example.com",
            "token_endpoint": "https://as.example.com/token",
            "tls_client_certificate_bound_access_tokens": true,
            "mtls_endpoint_aliases": {
                "token_endpoint": "https://mtls.as.example.com/token",
                "revocation_endpoint": "https://mtls.as.example.com/revo"
            }
        }"#;
        let metadata = parse_metadata(StatusCode::OK, body, &expected).unwrap();
        assert!(metadata.tls_client_certificate_bound_access_tokens());
        assert_eq!(
            metadata.mtls_token_endpoint().unwrap().uri().to_string(),
            "https://mtls.as.example.com/token"
        );
        assert_eq!(
            metadata
                .mtls_endpoint_alias("revocation_endpoint")
                .unwrap()
                .uri()
                .to_string(),
            "https://mtls.as.example.com/revo"
        );
        assert!(metadata.mtls_endpoint_alias("userinfo_endpoint").is_none());
        // Without aliases, the conventional endpoint.
        let plain = parse_metadata(
            StatusCode::OK,
            br#"{"issuer": "https://as.example.com", "token_endpoint": "https://as.example.com/token"}"#,
            &expected,
        )
        .unwrap();
        assert!(!plain.tls_client_certificate_bound_access_tokens());
        assert_eq!(
            plain.mtls_token_endpoint().unwrap().uri().to_string(),
            "https://as.example.com/token"
        );
        // An alias over plain http (even on loopback), or not a string, is no alias, and the
        // conventional endpoint does not stand in for it; the rest of the document is read.
        let loopback = issuer("http://127.0.0.1:8080");
        for aliases in [
            r#"{"token_endpoint": "http://127.0.0.1:8443/token"}"#,
            r#"{"token_endpoint": 7}"#,
            r#"["https://127.0.0.1:8443/token"]"#,
        ] {
            let body = format!(
                r#"{{"issuer": "http://127.0.0.1:8080", "token_endpoint": "http://127.0.0.1:8080/token", "mtls_endpoint_aliases": {aliases}}}"#
            );
            let metadata = parse_metadata(StatusCode::OK, body.as_bytes(), &loopback).unwrap();
            assert!(metadata.token_endpoint().is_some(), "{body}");
            assert!(
                metadata.mtls_endpoint_alias("token_endpoint").is_none(),
                "{body}"
            );
            assert!(metadata.mtls_token_endpoint().is_none(), "{body}");
        }
        // `null` is no aliases at all.
        let null = parse_metadata(
            StatusCode::OK,
            br#"{"issuer": "https://as.example.com", "token_endpoint": "https://as.example.com/token", "mtls_endpoint_aliases": null}"#,
            &expected,
        )
        .unwrap();
        assert_eq!(
            null.mtls_token_endpoint().unwrap().uri().to_string(),
            "https://as.example.com/token"
        );
    }

    #[test]
    fn an_issuer_mismatch_says_both_issuers() {
        let error = parse_metadata(
            StatusCode::OK,
            br#"{"issuer": "https://as.example.com/"}"#,
            &issuer("https://as.example.com"),
        )
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "the metadata document is for another issuer: it names \"https://as.example.com/\", \
             the configured issuer is \"https://as.example.com\" (compared byte for byte)"
        );
        let none = parse_metadata(StatusCode::OK, b"{}", &issuer("https://as.example.com"))
            .unwrap_err()
            .to_string();
        assert!(none.contains("it names none"), "{none}");
    }

    #[test]
    fn the_issuer_must_match_exactly() {
        let expected = issuer("https://as.example.com");
        for body in [
            r#"{"issuer": "https://as.example.com/"}"#,
            r#"{"issuer": "https://AS.example.com"}"#,
            r#"{"issuer": "https://evil.example.com"}"#,
            r#"{"token_endpoint": "https://as.example.com/token"}"#,
            r#"{"issuer": null}"#,
        ] {
            let error = parse_metadata(StatusCode::OK, body.as_bytes(), &expected).unwrap_err();
            assert!(
                matches!(&error, MetadataError::IssuerMismatch { expected, .. } if expected == "https://as.example.com"),
                "{body}"
            );
        }
        let ok = parse_metadata(
            StatusCode::OK,
            br#"{"issuer": "https://as.example.com", "x-custom": [1]}"#,
            &expected,
        )
        .unwrap();
        assert_eq!(ok.issuer(), &expected);
        assert!(!ok.supports_pkce_s256());
        assert!(!ok.authorization_response_iss_parameter_supported());
        assert_eq!(ok.extra("x-custom"), Some(&serde_json::json!([1])));
    }

    /// A URL's scheme is case-insensitive (RFC 3986 §3.1): a loopback issuer written
    /// `HTTP://127.0.0.1` was accepted as one, and its endpoints get the same loopback rule.
    #[test]
    fn the_endpoints_follow_the_issuers_transport_whatever_its_case() {
        let expected = issuer("HTTP://127.0.0.1:8080");
        let metadata = parse_metadata(
            StatusCode::OK,
            br#"{"issuer": "HTTP://127.0.0.1:8080", "token_endpoint": "http://127.0.0.1:8080/token"}"#,
            &expected,
        )
        .unwrap();
        assert!(metadata.token_endpoint().is_some());
        // Still loopback only.
        let err = parse_metadata(
            StatusCode::OK,
            br#"{"issuer": "HTTP://127.0.0.1:8080", "token_endpoint": "http://as.example.com/token"}"#,
            &expected,
        )
        .unwrap_err();
        assert!(matches!(
            err,
            MetadataError::InvalidEndpoint {
                error: EndpointError::InsecureTransport,
                ..
            }
        ));
    }

    /// `null` members read as absent, not as a broken document.
    #[test]
    fn null_members_are_absent() {
        let expected = issuer("https://as.example.com");
        let body = br#"{"issuer": "https://as.example.com", "scopes_supported": null,
            "code_challenge_methods_supported": null,
            "authorization_response_iss_parameter_supported": null,
            "token_endpoint": null}"#;
        let metadata = parse_metadata(StatusCode::OK, body, &expected).unwrap();
        assert!(metadata.scopes_supported().is_empty());
        assert!(!metadata.supports_pkce_s256());
        assert!(!metadata.authorization_response_iss_parameter_supported());
        assert!(metadata.token_endpoint().is_none());
    }

    #[test]
    fn bad_documents_are_typed_errors() {
        let expected = issuer("https://as.example.com");
        let parse = |status, body: &str| parse_metadata(status, body.as_bytes(), &expected);
        assert_eq!(
            parse(StatusCode::NOT_FOUND, "{}").unwrap_err(),
            MetadataError::Status(StatusCode::NOT_FOUND)
        );
        for body in [
            "",
            "[]",
            "<html>",
            r#"{"issuer": 1}"#,
            r#"{"issuer": "https://as.example.com", "scopes_supported": "openid"}"#,
            r#"{"issuer": "https://as.example.com", "issuer": "https://as.example.com"}"#,
        ] {
            assert_eq!(
                parse(StatusCode::OK, body).unwrap_err(),
                MetadataError::InvalidJson,
                "{body}"
            );
        }
        // Endpoints follow the issuer's transport rule: no plain http for an https issuer.
        let err = parse(
            StatusCode::OK,
            r#"{"issuer": "https://as.example.com", "token_endpoint": "http://as.example.com/t"}"#,
        )
        .unwrap_err();
        assert_eq!(
            err,
            MetadataError::InvalidEndpoint {
                field: "token_endpoint",
                error: EndpointError::InsecureTransport
            }
        );
        let err = parse(
            StatusCode::OK,
            r#"{"issuer": "https://as.example.com", "jwks_uri": "https://as.example.com/k#x"}"#,
        )
        .unwrap_err();
        assert!(matches!(
            err,
            MetadataError::InvalidEndpoint {
                field: "jwks_uri",
                ..
            }
        ));
    }

    /// RFC 8414 §3.2's example response, with the members of RFC 7009, 7662, 8628, 9126, 9207
    /// and 9449 (and RP-Initiated Logout's `end_session_endpoint`) added: every member is read, and every endpoint is held to the issuer's
    /// transport rule under its own name.
    #[test]
    fn every_member_is_read_rfc8414_s3_2() {
        let expected = issuer("https://server.example.com");
        let body = br#"{
            "issuer": "https://server.example.com",
            "authorization_endpoint": "https://server.example.com/authorize",
            "token_endpoint": "https://server.example.com/token",
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt"],
            "token_endpoint_auth_signing_alg_values_supported": ["RS256", "ES256"],
            "id_token_signing_alg_values_supported": ["RS256", "EdDSA"],
            "userinfo_endpoint": "https://server.example.com/userinfo",
            "jwks_uri": "https://server.example.com/jwks.json",
            "end_session_endpoint": "https://server.example.com/logout",
            "registration_endpoint": "https://server.example.com/register",
            "scopes_supported": ["openid", "profile", "email", "address", "phone", "offline_access"],
            "response_types_supported": ["code", "code token"],
            "service_documentation": "http://server.example.com/service_documentation.html",
            "ui_locales_supported": ["en-US", "en-GB", "en-CA", "fr-FR", "fr-CA"],
            "device_authorization_endpoint": "https://server.example.com/device",
            "revocation_endpoint": "https://server.example.com/revoke",
            "introspection_endpoint": "https://server.example.com/introspect",
            "pushed_authorization_request_endpoint": "https://server.example.com/par",
            "grant_types_supported": ["authorization_code", "refresh_token"],
            "code_challenge_methods_supported": ["plain", "S256"],
            "dpop_signing_alg_values_supported": ["ES256", "PS256"],
            "authorization_response_iss_parameter_supported": true,
            "require_pushed_authorization_requests": true,
            "backchannel_authentication_endpoint": "https://server.example.com/bc-authorize",
            "backchannel_token_delivery_modes_supported": ["poll", "ping"],
            "backchannel_authentication_request_signing_alg_values_supported": ["PS256", "ES256"],
            "backchannel_user_code_parameter_supported": true,
            "request_parameter_supported": true,
            "request_object_signing_alg_values_supported": ["PS256", "EdDSA"],
            "require_signed_request_object": true,
            "response_modes_supported": ["query", "fragment", "form_post", "query.jwt", "jwt"],
            "authorization_signing_alg_values_supported": ["PS256", "ES256"]
        }"#;
        let m = parse_metadata(StatusCode::OK, body, &expected).unwrap();
        let url = |e: Option<&Endpoint>| e.map(|e| e.uri().to_string());
        let at = |path: &str| Some(format!("https://server.example.com/{path}"));
        assert_eq!(url(m.authorization_endpoint()), at("authorize"));
        assert_eq!(url(m.token_endpoint()), at("token"));
        assert_eq!(url(m.userinfo_endpoint()), at("userinfo"));
        assert_eq!(url(m.jwks_uri()), at("jwks.json"));
        assert_eq!(url(m.end_session_endpoint()), at("logout"));
        assert_eq!(url(m.device_authorization_endpoint()), at("device"));
        assert_eq!(url(m.revocation_endpoint()), at("revoke"));
        assert_eq!(url(m.introspection_endpoint()), at("introspect"));
        assert_eq!(url(m.pushed_authorization_request_endpoint()), at("par"));
        assert_eq!(
            m.token_endpoint_auth_methods_supported(),
            ["client_secret_basic", "private_key_jwt"]
        );
        assert_eq!(
            m.scopes_supported(),
            [
                "openid",
                "profile",
                "email",
                "address",
                "phone",
                "offline_access"
            ]
        );
        assert_eq!(m.response_types_supported(), ["code", "code token"]);
        assert_eq!(
            m.grant_types_supported(),
            ["authorization_code", "refresh_token"]
        );
        assert_eq!(m.code_challenge_methods_supported(), ["plain", "S256"]);
        assert_eq!(
            m.token_endpoint_auth_signing_alg_values_supported(),
            ["RS256", "ES256"]
        );
        assert_eq!(
            m.id_token_signing_alg_values_supported(),
            ["RS256", "EdDSA"]
        );
        assert!(m.supports_pkce_s256());
        assert_eq!(m.dpop_signing_alg_values_supported(), ["ES256", "PS256"]);
        assert!(m.authorization_response_iss_parameter_supported());
        assert!(m.require_pushed_authorization_requests());
        assert_eq!(
            url(m.backchannel_authentication_endpoint()),
            at("bc-authorize")
        );
        assert_eq!(
            m.backchannel_token_delivery_modes_supported(),
            ["poll", "ping"]
        );
        assert_eq!(
            m.backchannel_authentication_request_signing_alg_values_supported(),
            ["PS256", "ES256"]
        );
        assert!(m.backchannel_user_code_parameter_supported());
        assert!(m.request_parameter_supported());
        assert_eq!(
            m.request_object_signing_alg_values_supported(),
            ["PS256", "EdDSA"]
        );
        assert!(m.require_signed_request_object());
        assert_eq!(
            m.response_modes_supported(),
            ["query", "fragment", "form_post", "query.jwt", "jwt"]
        );
        assert_eq!(
            m.authorization_signing_alg_values_supported(),
            ["PS256", "ES256"]
        );
        assert_eq!(
            m.extra("registration_endpoint"),
            Some(&serde_json::json!("https://server.example.com/register"))
        );
        // `plain` alone is not S256.
        let plain_only = parse_metadata(
            StatusCode::OK,
            br#"{"issuer": "https://server.example.com", "code_challenge_methods_supported": ["plain"]}"#,
            &expected,
        )
        .unwrap();
        assert!(!plain_only.supports_pkce_s256());
        assert!(!plain_only.require_pushed_authorization_requests());
        assert!(plain_only.dpop_signing_alg_values_supported().is_empty());
        assert!(plain_only.backchannel_authentication_endpoint().is_none());
        assert!(
            plain_only
                .backchannel_token_delivery_modes_supported()
                .is_empty()
        );
        assert!(!plain_only.backchannel_user_code_parameter_supported());
        assert!(!plain_only.request_parameter_supported());
        assert!(
            plain_only
                .request_object_signing_alg_values_supported()
                .is_empty()
        );
        assert!(!plain_only.require_signed_request_object());
        assert!(plain_only.response_modes_supported().is_empty());
        assert!(
            plain_only
                .authorization_signing_alg_values_supported()
                .is_empty()
        );

        for field in [
            "authorization_endpoint",
            "token_endpoint",
            "device_authorization_endpoint",
            "backchannel_authentication_endpoint",
            "revocation_endpoint",
            "introspection_endpoint",
            "pushed_authorization_request_endpoint",
            "userinfo_endpoint",
            "jwks_uri",
            "end_session_endpoint",
        ] {
            let body = format!(
                r#"{{"issuer": "https://server.example.com", "{field}": "http://server.example.com/x"}}"#
            );
            assert_eq!(
                parse_metadata(StatusCode::OK, body.as_bytes(), &expected).unwrap_err(),
                MetadataError::InvalidEndpoint {
                    field,
                    error: EndpointError::InsecureTransport
                },
                "{field}"
            );
        }
    }
}
