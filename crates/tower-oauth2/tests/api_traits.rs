//! Pins the auto traits and the error contract of the public API (Rust API Guidelines
//! C-SEND-SYNC, C-GOOD-ERR): every public error type is `std::error::Error + Send + Sync +
//! 'static`, the layer, the service, the token source, the grant client and the stores are
//! `Send + Sync`, and the futures an application spawns or hands to hyper/axum are `Send`.
//! Losing one of these is a breaking change: this test fails to compile first.

use std::sync::Arc;

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use oauth_core::oauth2::{CodeExchange, Endpoint, Scope, Token};
use oauth_core::secret::{IdToken, RefreshToken};
use tower::BoxError;
use tower::util::BoxCloneSyncService;
use tower_oauth2::client::{self, GrantClient, IdTokenValidator};
use tower_oauth2::future::ResponseFuture;
use tower_oauth2::source::{self, TokenSource, TokenSourceBuilder};
use tower_oauth2::store::{self, CallbackStore, FileStore, MemoryStore, TokenStore};
use tower_oauth2::{OAuth2, OAuth2Layer, ReplayBuffered, ReplayClone, ReplayEmpty, policy};

fn assert_error<E: std::error::Error + Send + Sync + 'static>() {}
fn assert_send_sync<T: Send + Sync>() {}
fn assert_send<T: Send>() {}
fn require_send<T: Send>(_: &T) {}

/// An HTTP client as applications have one: cloneable, shareable, boxed.
type Http = BoxCloneSyncService<Request<Full<Bytes>>, Response<Full<Bytes>>, BoxError>;

#[test]
fn public_error_types_are_send_sync_static_errors() {
    assert_error::<tower_oauth2::Error>();
    assert_error::<tower_oauth2::OriginError>();
    assert_error::<client::CodeFlowError>();
    assert_error::<client::DeviceCodeExpired>();
    assert_error::<client::ForeignTokenRequest>();
    assert_error::<client::GrantClientError>();
    assert_error::<client::IdTokenValidationError>();
    assert_error::<client::IssuedElsewhere>();
    assert_error::<client::SignedCallbackError>();
    assert_error::<policy::InvalidOrigin>();
    assert_error::<source::TokenError>();
    assert_error::<source::TokenErrorKind>();
    assert_error::<source::UnsendableToken>();
    assert_error::<store::StoreError>();
    // The source hands its errors out shared.
    assert_error::<Arc<source::TokenError>>();
}

#[test]
fn main_types_are_send_sync() {
    assert_send_sync::<OAuth2Layer>();
    assert_send_sync::<OAuth2Layer<ReplayClone>>();
    assert_send_sync::<OAuth2Layer<ReplayBuffered>>();
    assert_send_sync::<OAuth2<Http>>();
    assert_send_sync::<OAuth2<Http, ReplayEmpty>>();
    assert_send_sync::<OAuth2<Http, ReplayBuffered>>();
    assert_send_sync::<TokenSource>();
    assert_send_sync::<TokenSourceBuilder>();
    assert_send_sync::<GrantClient<Http>>();
    assert_send_sync::<client::RefreshFetcher<Http>>();
    assert_send_sync::<client::ClientCredentialsFetcher<Http>>();
    assert_send_sync::<IdTokenValidator<Http>>();
    assert_send_sync::<MemoryStore>();
    assert_send_sync::<FileStore>();
    assert_send_sync::<CallbackStore>();
    assert_send_sync::<store::RefreshLock>();
    assert_send_sync::<Arc<dyn TokenStore>>();
    assert_send_sync::<Box<dyn source::TokenFetcher>>();
    assert_send_sync::<tower_oauth2::clock::TokioClock>();
    assert_send_sync::<tower_oauth2::clock::TokenClock>();
    assert_send_sync::<policy::Origin>();
    #[cfg(feature = "tower-http")]
    assert_send_sync::<tower_oauth2::redirect::StripDpopProof>();
}

#[test]
fn futures_are_send() {
    assert_send::<ResponseFuture<Http, Full<Bytes>>>();
    assert_send::<source::FetchFuture>();
    assert_send::<store::StoreFuture<'static, Option<Token>>>();

    // Type-checked, never run: the async methods' futures can be spawned on a multi-threaded
    // runtime.
    let _ = |grants: &GrantClient<Http>,
             source: &TokenSource,
             ids: &IdTokenValidator<Http>,
             exchange: CodeExchange,
             refresh_token: &RefreshToken,
             id_token: &IdToken,
             endpoint: &Endpoint,
             scope: Option<&Scope>,
             pending: oauth_core::oauth2::PendingAuthorization| {
        require_send(&grants.exchange_code(exchange));
        require_send(&grants.client_credentials(scope));
        require_send(&grants.refresh(refresh_token, scope));
        require_send(&grants.device_authorization(endpoint, scope));
        require_send(&source.token());
        require_send(&source.refresh());
        require_send(&ids.validate(id_token, None));
        require_send(&ids.parse_signed_callback(pending, "https://client.example.com/cb"));
    };
}
