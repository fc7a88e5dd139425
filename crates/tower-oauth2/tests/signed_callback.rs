//! `IdTokenValidator::parse_signed_callback`: signed authorization responses (JARM) verified
//! with the validator's cached JWK set, fetched again for a key the set lacks (at most once
//! per cooldown), against a scripted `jwks_uri` on tokio's paused clock. The checks themselves
//! are oauth-core's (tests/oauth2_jarm.rs there); the real provider run is in `interop-tests`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::convert::Infallible;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use bytes::Bytes;
use common::{rs256_jws, rsa_jwks};
use http::{Request, Response, StatusCode};
use http_body_util::Full;
use oauth_core::clock::CountingRandom;
use oauth_core::oauth2::{
    AuthorizationRequest, CallbackError, Endpoint, Issuer, PendingAuthorization, RedirectUri,
    SignedResponseError,
};
use tower_oauth2::client::{
    IdTokenValidationError, IdTokenValidator, REFETCH_COOLDOWN, SignedCallbackError,
};

const ISSUER: &str = "https://server.example.com";
fn flow(signed_response: bool) -> PendingAuthorization {
    let mut request = AuthorizationRequest::new(
        &Endpoint::new("https://server.example.com/authorize").unwrap(),
        "client",
        &RedirectUri::new("https://client.example.com/cb").unwrap(),
    )
    .expect_issuer(Issuer::new(ISSUER).unwrap(), true);
    if signed_response {
        request = request.signed_response();
    }
    request.build(&CountingRandom::new(3)).unwrap().1
}

/// The callback carrying a response to `pending`, signed now, valid ten minutes.
fn signed_callback(pending: &PendingAuthorization) -> String {
    let exp = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        + 600;
    let jwt = rs256_jws(
        &serde_json::json!({"iss": ISSUER, "aud": "client", "exp": exp,
        "code": "the-code", "state": pending.state()}),
    );
    format!("https://client.example.com/cb?response={jwt}")
}

/// A `jwks_uri` answering with no key at first, then with the key; counting its fetches.
fn rotating_jwks_uri(
    fetches: Arc<AtomicUsize>,
) -> impl tower::Service<
    Request<Full<Bytes>>,
    Response = Response<Full<Bytes>>,
    Error = Infallible,
    Future = impl Send,
> + Clone {
    tower::service_fn(move |_req: Request<Full<Bytes>>| {
        let body = match fetches.fetch_add(1, Ordering::SeqCst) {
            0 => r#"{"keys":[]}"#.to_owned(),
            _ => rsa_jwks(),
        };
        async move { Ok::<_, Infallible>(Response::new(Full::<Bytes>::from(body))) }
    })
}

/// [`common::validator`] on the tokio clock (the tests pause and advance it).
fn validator<S>(jwks_uri: S) -> IdTokenValidator<S>
where
    S: tower::Service<Request<Full<Bytes>>, Response = Response<Full<Bytes>>> + Clone,
    S::Error: Into<tower::BoxError>,
{
    common::validator(jwks_uri).clock(tower_oauth2::clock::TokioClock::new())
}

/// The set is fetched on first use; a response naming a key it lacks makes it fetched again,
/// but not within the cooldown (the response is refused, `UnknownKey`); after the cooldown the
/// rotated key verifies the response, and the set is kept for the next one. A flow that did not
/// ask for a signed response is refused before any fetch, and a changed response is refused
/// without one.
#[tokio::test(start_paused = true)]
async fn the_cached_set_verifies_responses_and_is_fetched_again_for_a_new_key() {
    let fetches = Arc::new(AtomicUsize::new(0));
    let validator = validator(rotating_jwks_uri(fetches.clone()));
    let count = || fetches.load(Ordering::SeqCst);

    let not_asked = flow(false);
    let url = signed_callback(&not_asked);
    let refused = validator.parse_signed_callback(not_asked, &url).await;
    assert!(
        matches!(
            refused,
            Err(SignedCallbackError::Callback(
                CallbackError::SignedResponseNotRequested
            ))
        ),
        "{refused:?}"
    );
    assert_eq!(count(), 0);

    let pending = flow(true);
    let url = signed_callback(&pending);
    let refused = validator.parse_signed_callback(pending, &url).await;
    assert!(
        matches!(
            refused,
            Err(SignedCallbackError::Callback(
                CallbackError::SignedResponse(SignedResponseError::UnknownKey)
            ))
        ),
        "{refused:?}"
    );
    assert_eq!(
        count(),
        1,
        "one fetch: the second is held back by the cooldown"
    );

    tokio::time::advance(REFETCH_COOLDOWN).await;
    let pending = flow(true);
    let url = signed_callback(&pending);
    let exchange = validator
        .parse_signed_callback(pending, &url)
        .await
        .unwrap();
    assert_eq!(exchange.code().secret(), "the-code");
    assert_eq!(count(), 2);

    // Kept: the next response needs no fetch.
    let pending = flow(true);
    let url = signed_callback(&pending);
    assert!(validator.parse_signed_callback(pending, &url).await.is_ok());
    // A changed response (the code swapped, the signature kept) is refused, and a bad
    // signature is no reason to fetch the set again.
    let pending = flow(true);
    let url = signed_callback(&pending);
    let jwt = url.split_once("response=").unwrap().1;
    let mut parts: Vec<&str> = jwt.split('.').collect();
    let claims = {
        use base64::Engine as _;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let mut claims: serde_json::Value =
            serde_json::from_slice(&URL_SAFE_NO_PAD.decode(parts[1]).unwrap()).unwrap();
        claims["code"] = serde_json::json!("another-code");
        URL_SAFE_NO_PAD.encode(claims.to_string())
    };
    parts[1] = &claims;
    let tampered = format!("https://client.example.com/cb?response={}", parts.join("."));
    let refused = validator.parse_signed_callback(pending, &tampered).await;
    assert!(
        matches!(
            refused,
            Err(SignedCallbackError::Callback(
                CallbackError::SignedResponse(SignedResponseError::BadSignature)
            ))
        ),
        "{refused:?}"
    );
    // A plain code instead of the signed response.
    let pending = flow(true);
    let plain = format!(
        "https://client.example.com/cb?code=the-code&state={}&iss={ISSUER}",
        pending.state()
    );
    let refused = validator.parse_signed_callback(pending, &plain).await;
    assert!(
        matches!(
            refused,
            Err(SignedCallbackError::Callback(
                CallbackError::SignedResponseRequired
            ))
        ),
        "{refused:?}"
    );
    assert_eq!(count(), 2);
}

/// A `jwks_uri` that fails: the callback is refused with the fetch error (`Keys`), and the
/// error prints neither the code nor the state.
#[tokio::test(start_paused = true)]
async fn a_set_that_cannot_be_fetched_is_a_keys_error() {
    let jwks_uri = tower::service_fn(|_req: Request<Full<Bytes>>| async {
        let mut response = Response::new(Full::<Bytes>::from("down"));
        *response.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
        Ok::<_, Infallible>(response)
    });
    let validator = validator(jwks_uri);
    let pending = flow(true);
    let state = pending.state().to_owned();
    let url = signed_callback(&pending);
    let refused = validator.parse_signed_callback(pending, &url).await;
    let Err(SignedCallbackError::Keys(IdTokenValidationError::Status(status))) = &refused else {
        panic!("{refused:?}");
    };
    assert_eq!(*status, StatusCode::SERVICE_UNAVAILABLE);
    let text = format!("{} {:?}", refused.as_ref().unwrap_err(), refused);
    assert!(
        !text.contains("the-code") && !text.contains(&state),
        "{text}"
    );
}
