//! What the CIBA interop tests share: the provider with its discovered metadata, the
//! backchannel authentication endpoint, a grant client for a CIBA client, and the user's
//! decision (the test server's `/test/ciba`, standing in for their authentication device).

use http::StatusCode;
use interop_tests::OidcProvider;
use oauth_core::oauth2::oidc::IdTokenClaims;
use oauth_core::oauth2::{
    AuthorizationServerMetadata, Client, EcP256PrivateKey, Endpoint, PrivateKeyJwt, Token,
};
use oauth_core::secret::ClientSecret;
use tower_oauth2::GrantClient;
use tower_oauth2::client::IdTokenValidator;

use super::api::{Http, http, loopback_endpoint};
use super::code_flow;

/// A started provider and its discovery document.
pub struct CibaProvider {
    pub provider: OidcProvider,
    pub metadata: AuthorizationServerMetadata,
}

impl CibaProvider {
    /// Reads `provider`'s discovery document.
    pub async fn new(provider: OidcProvider) -> Self {
        let metadata = code_flow::metadata(&provider).await;
        Self { provider, metadata }
    }

    /// The backchannel authentication endpoint discovery names.
    pub fn endpoint(&self) -> &Endpoint {
        self.metadata.backchannel_authentication_endpoint().unwrap()
    }

    /// A grant client for the `client_secret_basic` client `id`.
    pub fn grants(&self, id: &str, secret: &str) -> GrantClient<Http> {
        GrantClient::new(
            http(),
            loopback_endpoint(&self.provider.token_endpoint()),
            Client::secret_basic(id, ClientSecret::new(secret)),
        )
    }

    /// A grant client for the `private_key_jwt` client `id`, signing with [`client_key`].
    pub fn signed_grants(&self, id: &str) -> GrantClient<Http> {
        GrantClient::new(
            http(),
            loopback_endpoint(&self.provider.token_endpoint()),
            Client::private_key_jwt(id, client_key(id)),
        )
    }

    /// The claims of `token`'s ID token, validated with the provider's published keys for
    /// `client_id` (no nonce: CIBA requests have none).
    pub async fn id_token_claims(&self, client_id: &str, token: &Token) -> IdTokenClaims {
        IdTokenValidator::from_metadata(http(), &self.metadata, client_id)
            .unwrap()
            .validate(token.id_token().expect("an ID token"), None)
            .await
            .unwrap()
    }

    /// The user named `login_hint` approves (or denies) their latest request. In ping mode the
    /// answer comes once the provider's ping was answered.
    pub async fn decide(&self, login_hint: &str, approve: bool) {
        let url = self.provider.ciba_decision_url(login_hint, approve);
        let response = super::post_form(&url, &[], String::new()).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    }
}

/// The ES256 key the `private_key_jwt` CIBA clients registered (`keys/ec_p256_pkcs8.pem`), with
/// the client's id as its `kid`, as `server.mjs` publishes it: for client assertions and
/// signed requests alike.
pub fn client_key(client_id: &str) -> PrivateKeyJwt {
    let pem = std::fs::read_to_string(format!(
        "{}/keys/ec_p256_pkcs8.pem",
        env!("CARGO_MANIFEST_DIR")
    ))
    .unwrap();
    PrivateKeyJwt::es256(EcP256PrivateKey::from_pem(&pem).unwrap()).key_id(client_id)
}
