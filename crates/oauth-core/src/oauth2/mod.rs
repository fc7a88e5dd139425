//! OAuth 2 (RFC 6749 and its companions): the client-side protocol logic.
//!
//! No I/O: requests are built as `http::Request<SensitiveBody>` (a `Vec<u8>` whose `Debug` is
//! redacted), responses are parsed from status, headers and body bytes, time comes from the
//! caller (`now`, read from a
//! [`Clock`](crate::clock::Clock)) and randomness from a [`RandomSource`](crate::clock::RandomSource).
//!
//! | module | what it holds |
//! |---|---|
//! | [`endpoint`] | endpoint URLs, redirect URIs and issuers, with the https-only transport rule |
//! | [`token`] | [`Token`] (RFC 6749 §5.1), token types, scopes, the Bearer header |
//! | [`response`] | [`parse_token_response`]: strict token responses and §5.2 errors |
//! | [`compliance`] | opt-in provider quirks ([`Compliance`]) |
//! | [`authorize`] | authorization URLs with state and PKCE, signed request objects (JAR, RFC 9101), [`PendingAuthorization`], callbacks, signed responses (JARM) |
//! | [`pending`] | [`PendingAuthorizations`]: flows in flight, per session, single-use, expiring |
//! | [`pkce`] | RFC 7636 verifiers and challenges |
//! | [`grant`] | token request builders ([`TokenRequest`]) and client authentication |
//! | [`metadata`] | authorization server metadata (RFC 8414, OpenID Connect Discovery) |
//! | [`dpop`] | DPoP proofs, JWK thumbprints and `ath` (RFC 9449, RFC 7638) |
//! | [`jws`] | signing the JWTs a client makes; the P-256 and Ed25519 key types |
//! | [`client_assertion`] | `private_key_jwt` client assertions (RFC 7523, [`PrivateKeyJwt`]) |
//! | [`device`] | RFC 8628 device authorization |
//! | [`ciba`] | OpenID Connect CIBA (backchannel authentication, poll and ping modes) |
//! | [`par`] | pushed authorization requests (RFC 9126) |
//! | [`revocation`] | token revocation (RFC 7009) |
//! | [`introspection`] | token introspection (RFC 7662) |
//! | [`oidc`] | OpenID Connect ID token validation with a JWK set |
//! | [`userinfo`] | the UserInfo endpoint's answer, held to the ID token's `sub` ([`parse_userinfo`]) |
//! | [`logout`] | signing out at the provider (OpenID Connect RP-Initiated Logout, [`LogoutRequest`]) |
//! | [`sensitive_body`] | [`SensitiveBody`]: request bodies that may hold credentials |
//! | [`refresh`] | the refresh state machine ([`RefreshState`]) |
//! | [`challenge`] | `WWW-Authenticate` challenges from a resource server (RFC 6750 §3) |
//!
//! A complete authorization code flow: [`AuthorizationRequest`] → [`PendingAuthorization`] →
//! [`PendingAuthorization::parse_callback`] → [`TokenRequest::authorization_code`] →
//! [`parse_token_response`] → [`RefreshState`].

pub mod authorize;
mod callback_target;
pub mod challenge;
pub mod ciba;
pub mod client_assertion;
pub mod compliance;
pub mod device;
pub mod dpop;
pub mod endpoint;
pub mod grant;
pub mod introspection;
mod jwk;
pub mod jws;
pub mod logout;
pub mod metadata;
pub mod oidc;
pub mod par;
pub mod pending;
pub mod pkce;
pub mod refresh;
pub mod response;
pub mod revocation;
pub mod sensitive_body;
pub mod token;
pub mod userinfo;

/// The RSA private key type for RS256 client assertions (the OAuth 1 RSA-SHA* key type).
pub use crate::oauth1::RsaPrivateKey;
pub use authorize::{
    AuthorizationRequest, AuthorizeError, CallbackError, CodeExchange,
    DEFAULT_REQUEST_OBJECT_LIFETIME, JWT_RESPONSE_MODE, PendingAuthorization, SignedResponseError,
};
pub use ciba::{
    BackchannelAuthentication, BackchannelAuthenticationRequest, ClientNotificationToken,
    InvalidClientNotificationToken, PingNotificationError, UserHint,
    parse_backchannel_authentication_response, verify_ping_notification,
};
pub use client_assertion::{AssertionError, ClientSecretJwt, PrivateKeyJwt};
pub use compliance::{AppliedFixes, Compliance, ComplianceFix, ComplianceHook};
pub use device::{
    DeviceAuthorization, DeviceAuthorizationRequest, PollAction,
    parse_device_authorization_response,
};
pub use dpop::{DpopKey, DpopKeyMismatch, InvalidDpopNonce};
pub use endpoint::{Endpoint, EndpointError, Issuer, RedirectUri, Transport};
pub use grant::{Client, ClientAuth, GrantError, TokenRequest};
pub use jws::{EcKeyError, EcP256PrivateKey, Ed25519KeyError, Ed25519PrivateKey};
pub use logout::{LogoutError, LogoutRequest};
pub use metadata::{
    AuthorizationServerMetadata, MetadataError, WellKnown, metadata_request, parse_metadata,
};
pub use pending::{PendingAuthorizations, PendingFlowError};
pub use pkce::PkceMethod;
pub use refresh::{
    Action, Freshness, RefreshFailure, RefreshOutcome, RefreshPolicy, RefreshState, Terminal,
};
pub use response::{
    ErrorCode, OAuthErrorResponse, TokenResponseError, parse_token_response,
    parse_token_response_with_fixes,
};
pub use sensitive_body::SensitiveBody;
pub use token::{IssuedTo, Scope, Token, TokenType, TokenUseError, query_has_access_token};
pub use userinfo::{UserInfo, UserInfoError, parse_userinfo};
