//! When a token's `expires_in` starts counting. The server starts it when it issues the token,
//! somewhere between the request's sending and the response's arrival; the grant client counts
//! it from the sending, so a slow exchange never makes a token seem to live longer than the
//! server lets it (it used to count from the arrival: a 7-second exchange gave a token 7
//! seconds the server never granted).
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::{Duration, SystemTime};

use bytes::Bytes;
use http::{Request, Response};
use http_body_util::Full;
use oauth_core::clock::{Clock, ManualClock};
use oauth_core::oauth2::{Client, DpopKey, EcP256PrivateKey, Endpoint};
use oauth_core::secret::ClientSecret;
use tower::BoxError;
use tower::util::BoxCloneSyncService;
use tower_oauth2::GrantClient;

mod common;
use common::json_response;

type Svc = BoxCloneSyncService<Request<Full<Bytes>>, Response<Full<Bytes>>, BoxError>;

/// How long every exchange with the fake server takes, on the manual clock.
const EXCHANGE: Duration = Duration::from_secs(7);

/// A server that takes [`EXCHANGE`] (it moves `clock` on before answering) and answers 200
/// with `body`.
fn slow_server(clock: &ManualClock, body: &'static str) -> Svc {
    let clock = clock.clone();
    BoxCloneSyncService::new(tower::service_fn(move |_: Request<Full<Bytes>>| {
        clock.advance(EXCHANGE);
        async move { Ok::<_, BoxError>(json_response(200, body)) }
    }))
}

fn grant_client(clock: &ManualClock, body: &'static str) -> GrantClient<Svc> {
    GrantClient::new(
        slow_server(clock, body),
        Endpoint::new("https://as.example.com/token").unwrap(),
        Client::secret_basic("client", ClientSecret::new("SENTINEL-secret")),
    )
    .clock(clock.clone())
}

const TOKEN: &str = r#"{"access_token":"at","token_type":"Bearer","expires_in":60}"#;

#[tokio::test]
async fn a_tokens_lifetime_counts_from_the_sending_of_its_request() {
    let clock = ManualClock::at_unix_seconds(1_700_000_000);
    let sent_at: SystemTime = clock.now();
    let token = grant_client(&clock, TOKEN)
        .client_credentials(None)
        .await
        .unwrap();
    assert_eq!(clock.now(), sent_at + EXCHANGE);
    assert_eq!(token.expires_at(), Some(sent_at + Duration::from_secs(60)));
}

/// The same on the DPoP path, which builds and sends each try itself (RFC 9449 §5; a `Bearer`
/// answer is taken with `accept_unbound_tokens`).
#[tokio::test]
async fn a_dpop_clients_token_lifetime_counts_from_the_sending_too() {
    let clock = ManualClock::at_unix_seconds(1_700_000_000);
    let sent_at = clock.now();
    let key = DpopKey::es256(
        EcP256PrivateKey::from_pem(&EcP256PrivateKey::generate_pkcs8_pem().unwrap()).unwrap(),
    );
    let token = grant_client(&clock, TOKEN)
        .dpop(key)
        .accept_unbound_tokens()
        .client_credentials(None)
        .await
        .unwrap();
    assert_eq!(token.expires_at(), Some(sent_at + Duration::from_secs(60)));
}

/// RFC 8628 §3.2: the device code's `expires_in` too.
#[tokio::test]
async fn a_device_codes_lifetime_counts_from_the_sending_of_its_request() {
    let clock = ManualClock::at_unix_seconds(1_700_000_000);
    let sent_at = clock.now();
    let device = grant_client(
        &clock,
        r#"{"device_code":"dc","user_code":"WDJB-MJHT",
            "verification_uri":"https://as.example.com/device","expires_in":600}"#,
    )
    .device_authorization(
        &Endpoint::new("https://as.example.com/device").unwrap(),
        None,
    )
    .await
    .unwrap();
    assert_eq!(device.expires_at(), sent_at + Duration::from_secs(600));
}
