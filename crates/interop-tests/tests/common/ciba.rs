//! What the CIBA interop tests share: the provider with its discovered metadata, the
//! backchannel authentication endpoint, a grant client for a CIBA client, and the user's
//! decision (the test server's `/test/ciba`, standing in for their authentication device).

use http::StatusCode;
use interop_tests::OidcProvider;
use oauth_core::oauth2::{AuthorizationServerMetadata, Client, Endpoint};
use oauth_core::secret::ClientSecret;
use tower_oauth2::GrantClient;

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

    /// The user named `login_hint` approves (or denies) their latest request. In ping mode the
    /// answer comes once the provider's ping was answered.
    pub async fn decide(&self, login_hint: &str, approve: bool) {
        let url = self.provider.ciba_decision_url(login_hint, approve);
        let response = super::post_form(&url, &[], String::new()).await;
        assert_eq!(response.status, StatusCode::OK, "{}", response.body);
    }
}
