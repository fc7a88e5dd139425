//! Pins the auto traits and the error contract of the public API (Rust API Guidelines
//! C-SEND-SYNC, C-GOOD-ERR): every public error type is `std::error::Error + Send + Sync +
//! 'static`, and the layer, the service, its response future and the dance are `Send` (and
//! `Sync` where shared), so they work in multi-threaded runtimes and behind an `Arc`. Losing one
//! of these is a breaking change: this test fails to compile first.

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use tower::util::BoxCloneSyncService;
use tower_oauth1::body::SignedBody;
use tower_oauth1::sign::{self, ResponseFuture};
use tower_oauth1::{BoxError, Dance, Realm, Sign, SignLayer, body, dance};

fn assert_error<E: std::error::Error + Send + Sync + 'static>() {}
fn assert_send_sync<T: Send + Sync>() {}
fn assert_send<T: Send>() {}

/// An inner HTTP client as applications have one: cloneable, shareable, boxed.
type Inner = BoxCloneSyncService<Request<SignedBody<Full<Bytes>>>, Response<Full<Bytes>>, BoxError>;

#[test]
fn public_error_types_are_send_sync_static_errors() {
    assert_error::<body::BodyReadError>();
    assert_error::<body::BodyTooLarge>();
    assert_error::<dance::CallbackError>();
    assert_error::<dance::DanceError>();
    assert_error::<dance::NotCredentials>();
    assert_error::<dance::ProviderError>();
    assert_error::<sign::InvalidOrigin>();
    assert_error::<sign::SignRequestError>();
    assert_error::<sign::SignRequestErrorKind>();
    assert_error::<tower_oauth1::InvalidRealm>();
}

#[test]
fn main_types_are_send_sync() {
    assert_send_sync::<SignLayer>();
    assert_send_sync::<Sign<Inner>>();
    assert_send_sync::<sign::Origin>();
    assert_send_sync::<Realm>();
    assert_send_sync::<SignedBody<Full<Bytes>>>();
    assert_send_sync::<Dance>();
    assert_send_sync::<dance::PendingAuthorization>();
    assert_send_sync::<dance::TokenCredentials>();
    assert_send_sync::<dance::Callback>();
}

#[test]
fn response_future_is_send() {
    type Future = ResponseFuture<
        Full<Bytes>,
        Inner,
        <Inner as tower::Service<Request<SignedBody<Full<Bytes>>>>>::Future,
    >;
    assert_send::<Future>();
}

#[test]
fn dance_futures_are_send() {
    fn require_send<T: Send>(_: &T) {}
    type Client = BoxCloneSyncService<Request<Full<Bytes>>, Response<Full<Bytes>>, BoxError>;
    // Type-checked, never run: the dance's steps can run in a spawned task (a web handler on a
    // multi-threaded runtime).
    let _ = |dance: &Dance,
             client: &mut Client,
             callback: &dance::Callback,
             pending: &dance::PendingAuthorization,
             verifier: oauth_core::secret::Verifier,
             uri: &http::Uri| {
        require_send(&dance.request_temporary_credentials(client, callback));
        require_send(&dance.request_token_credentials(client, pending, verifier));
        require_send(&dance.complete_from_callback(client, pending, uri));
    };
}
