//! Pins the auto traits and the error contract of the public API (Rust API Guidelines
//! C-SEND-SYNC, C-GOOD-ERR): every public error type is `std::error::Error + Send + Sync +
//! 'static` (so it boxes into a `BoxError` and crosses threads), and the main types are `Send +
//! Sync` (so they can be shared behind an `Arc` across tasks). Losing one of these is a breaking
//! change: this test fails to compile first.

use oauth_core::{clock, encode, oauth1, oauth2, secret};

fn assert_error<E: std::error::Error + Send + Sync + 'static>() {}
fn assert_send_sync<T: Send + Sync>() {}

#[test]
fn public_error_types_are_send_sync_static_errors() {
    assert_error::<encode::DecodeError>();
    assert_error::<clock::ClockBeforeEpoch>();
    assert_error::<clock::RandomError>();

    assert_error::<oauth1::AuthorizationUrlError>();
    assert_error::<oauth1::CallbackError>();
    assert_error::<oauth1::ConfigError>();
    assert_error::<oauth1::CredentialsResponseError>();
    assert_error::<oauth1::CustomMethodError>();
    assert_error::<oauth1::HeaderError>();
    assert_error::<oauth1::KeyError>();
    assert_error::<oauth1::NotCredentials>();
    assert_error::<oauth1::ProviderError>();
    assert_error::<oauth1::ReplayError>();
    assert_error::<oauth1::RequestError>();
    assert_error::<oauth1::SignError>();
    assert_error::<oauth1::VerifyError>();

    assert_error::<oauth2::AssertionError>();
    assert_error::<oauth2::AuthorizeError>();
    assert_error::<oauth2::CallbackError>();
    assert_error::<oauth2::DpopKeyMismatch>();
    assert_error::<oauth2::EcKeyError>();
    assert_error::<oauth2::Ed25519KeyError>();
    assert_error::<oauth2::EndpointError>();
    assert_error::<oauth2::GrantError>();
    assert_error::<oauth2::InvalidDpopNonce>();
    assert_error::<oauth2::LogoutError>();
    assert_error::<oauth2::MetadataError>();
    assert_error::<oauth2::PendingFlowError>();
    assert_error::<oauth2::TokenResponseError>();
    assert_error::<oauth2::TokenUseError>();
    assert_error::<oauth2::UserInfoError>();
    assert_error::<oauth2::challenge::ChallengeError>();
    assert_error::<oauth2::oidc::IdTokenError>();
    assert_error::<oauth2::oidc::InvalidJwks>();
    assert_error::<oauth2::pkce::InvalidPkceVerifier>();
    assert_error::<oauth2::token::InvalidScope>();
}

#[test]
fn main_types_are_send_sync() {
    assert_send_sync::<clock::SystemClock>();
    assert_send_sync::<clock::ManualClock>();
    assert_send_sync::<clock::SystemRandom>();
    assert_send_sync::<clock::CountingRandom>();
    assert_send_sync::<Box<dyn clock::Clock>>();
    assert_send_sync::<Box<dyn clock::RandomSource>>();

    assert_send_sync::<secret::AccessToken>();
    assert_send_sync::<secret::RefreshToken>();
    assert_send_sync::<secret::ClientSecret>();
    assert_send_sync::<secret::PkceCodeVerifier>();

    assert_send_sync::<oauth1::Signer>();
    assert_send_sync::<oauth1::SignerBuilder>();
    assert_send_sync::<oauth1::ClientCredentials>();
    assert_send_sync::<oauth1::TokenCredentials>();
    assert_send_sync::<oauth1::RsaPrivateKey>();
    assert_send_sync::<oauth1::RsaPublicKey>();
    assert_send_sync::<oauth1::ReplayGuard>();
    assert_send_sync::<oauth1::CredentialsResponse>();
    assert_send_sync::<oauth1::ProtocolParameters>();
    assert_send_sync::<Box<dyn oauth1::CustomSignatureMethod>>();

    assert_send_sync::<oauth2::Token>();
    assert_send_sync::<oauth2::Client>();
    assert_send_sync::<oauth2::ClientAuth>();
    assert_send_sync::<oauth2::TokenRequest>();
    assert_send_sync::<oauth2::AuthorizationRequest>();
    assert_send_sync::<oauth2::PendingAuthorization>();
    assert_send_sync::<oauth2::PendingAuthorizations>();
    assert_send_sync::<oauth2::CodeExchange>();
    assert_send_sync::<oauth2::RefreshState>();
    assert_send_sync::<oauth2::DpopKey>();
    assert_send_sync::<oauth2::PrivateKeyJwt>();
    assert_send_sync::<oauth2::ClientSecretJwt>();
    assert_send_sync::<oauth2::Compliance>();
    assert_send_sync::<oauth2::Endpoint>();
    assert_send_sync::<oauth2::AuthorizationServerMetadata>();
    assert_send_sync::<oauth2::SensitiveBody>();
    assert_send_sync::<oauth2::oidc::IdTokenVerifier>();
    assert_send_sync::<oauth2::oidc::Jwks>();
}
