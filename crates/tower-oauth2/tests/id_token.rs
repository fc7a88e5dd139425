//! `IdTokenValidator`'s JWK set cache against a scripted `jwks_uri`, on tokio's paused clock:
//! fetched once, kept, and fetched again when a token needs a key the set does not have (key
//! rotation), at most once per cooldown. The claim
//! checks are oauth-core's (unit tests there); the real provider run is in `interop-tests`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::convert::Infallible;
use std::future::Future;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use bytes::Bytes;
use http::{Method, Request, Response};
use http_body_util::Full;
use oauth_core::oauth2::oidc::{IdTokenClaims, IdTokenError};
use oauth_core::oauth2::{Endpoint, Issuer, PrivateKeyJwt, Token, TokenType};
use oauth_core::secret::{AccessToken, IdToken};
use tower_oauth2::client::{IdTokenValidationError, IdTokenValidator};

mod common;
use common::{dpop_key, ec_p256_key, rs256_jws, rsa_jwks, validator};

/// An ES256 JWT made with `ec_p256_key`, dated by the system clock: a private_key_jwt client
/// assertion whose issuer is the provider and whose audience is the client, which is all an ID
/// token needs.
fn id_token() -> IdToken {
    IdToken::new(
        PrivateKeyJwt::es256(ec_p256_key())
            .audience("client")
            .assertion("https://server.example.com", "unused")
            .unwrap()
            .as_str(),
    )
}

#[tokio::test(start_paused = true)]
async fn the_key_set_is_cached_and_fetched_again_for_an_unknown_key() {
    let key = dpop_key();
    // The provider publishes no key at first, then (rotated) the key that signs.
    let fetches = Arc::new(AtomicUsize::new(0));
    let jwk = key.jwk();
    let counter = fetches.clone();
    let jwks_uri = tower::service_fn(move |req: Request<Full<Bytes>>| {
        assert_eq!(req.method(), Method::GET);
        assert_eq!(req.headers()["accept"], "application/json");
        let body = match counter.fetch_add(1, Ordering::SeqCst) {
            0 => r#"{"keys":[]}"#.to_owned(),
            _ => serde_json::json!({ "keys": [jwk] }).to_string(),
        };
        async move { Ok::<_, Infallible>(Response::new(Full::<Bytes>::from(body))) }
    });
    let validator = validator(jwks_uri)
        // Tokio's paused clock, which the test advances.
        .clock(tower_oauth2::clock::TokioClock::new());
    let token = id_token();
    let check = |expect_ok: bool, fetched: usize| {
        let validator = validator.clone();
        let token = token.clone();
        let fetches = fetches.clone();
        async move {
            let result = validator.validate(&token, None).await;
            if expect_ok {
                assert_eq!(result.unwrap().sub(), "https://server.example.com");
            } else {
                assert!(
                    matches!(
                        result,
                        Err(IdTokenValidationError::Invalid(IdTokenError::UnknownKey))
                    ),
                    "{result:?}"
                );
            }
            assert_eq!(fetches.load(Ordering::SeqCst), fetched);
        }
    };
    // First use: the set is fetched; it does not have the key.
    check(false, 1).await;
    // Within the cooldown: no new fetch, however many tokens name unknown keys.
    check(false, 1).await;
    tokio::time::advance(tower_oauth2::client::REFETCH_COOLDOWN).await;
    // After it: fetched again, and the rotated key verifies the token.
    check(true, 2).await;
    // The new set is kept.
    check(true, 2).await;

    // A token response: its ID token is validated (this one has no at_hash to check the
    // access token against); a response without one is refused as such.
    let response =
        Token::new(AccessToken::new("at"), TokenType::Bearer).with_id_token(Some(token.clone()));
    let claims = validator.validate_token(&response, None).await.unwrap();
    assert_eq!(claims.sub(), "https://server.example.com");
    let no_id_token = Token::new(AccessToken::new("at"), TokenType::Bearer);
    assert!(matches!(
        validator.validate_token(&no_id_token, None).await,
        Err(IdTokenValidationError::Missing)
    ));
    assert_eq!(fetches.load(Ordering::SeqCst), 2);

    // Older than the cache's maximum age: fetched again before use (with a new token: the
    // first one has expired by then).
    tokio::time::advance(tower_oauth2::client::DEFAULT_JWKS_MAX_AGE).await;
    let fresh = IdToken::new(
        PrivateKeyJwt::es256(ec_p256_key())
            .lifetime(std::time::Duration::from_secs(3600))
            .audience("client")
            .assertion("https://server.example.com", "unused")
            .unwrap()
            .as_str(),
    );
    validator.validate(&fresh, None).await.unwrap();
    assert_eq!(fetches.load(Ordering::SeqCst), 3);
}

/// `n` validations of `token` at once, each in its own task.
async fn validate_concurrently<S>(
    validator: &IdTokenValidator<S>,
    token: &IdToken,
    n: usize,
) -> Vec<Result<IdTokenClaims, IdTokenValidationError>>
where
    S: tower::Service<Request<Full<Bytes>>, Response = Response<Full<Bytes>>, Error = Infallible>
        + Clone
        + Send
        + Sync
        + 'static,
    S::Future: Send,
{
    let mut tasks = tokio::task::JoinSet::new();
    for _ in 0..n {
        let (validator, token) = (validator.clone(), token.clone());
        tasks.spawn(async move { validator.validate(&token, None).await });
    }
    tasks.join_all().await
}

/// A `jwks_uri` that fails: asked once per cooldown however many tokens arrive (concurrent
/// callers share the fetch in flight), and a set too old to use is not used when it cannot be
/// fetched again.
#[tokio::test(start_paused = true)]
async fn failed_fetches_are_not_repeated_before_the_cooldown() {
    let key = dpop_key();
    let jwk = key.jwk();
    let fetches = Arc::new(AtomicUsize::new(0));
    let up = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let (counter, status) = (fetches.clone(), up.clone());
    let jwks_uri = tower::service_fn(move |_: Request<Full<Bytes>>| {
        counter.fetch_add(1, Ordering::SeqCst);
        let up = status.load(Ordering::SeqCst);
        let body = serde_json::json!({ "keys": [jwk] }).to_string();
        async move {
            // A slow provider, so that concurrent callers overlap the fetch.
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
            let status = if up { 200 } else { 503 };
            Ok::<_, Infallible>(
                Response::builder()
                    .status(status)
                    .body(Full::<Bytes>::from(body))
                    .unwrap(),
            )
        }
    });
    let validator = validator(jwks_uri)
        // Tokio's paused clock, which the test advances.
        .clock(tower_oauth2::clock::TokioClock::new());
    let token = id_token();
    // Ten callers at once while the provider is down: one fetch; the first caller gets its
    // status, the others (within the cooldown) that the set is unavailable.
    let results = validate_concurrently(&validator, &token, 10).await;
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
    assert!(results.iter().all(Result::is_err));
    assert!(
        results
            .iter()
            .any(|r| matches!(r, Err(IdTokenValidationError::Status(s)) if s.as_u16() == 503))
    );
    assert!(matches!(
        validator.validate(&token, None).await,
        Err(IdTokenValidationError::Unavailable)
    ));
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
    // After the cooldown, with the provider back: fetched, and the token verifies.
    up.store(true, Ordering::SeqCst);
    tokio::time::advance(tower_oauth2::client::REFETCH_COOLDOWN).await;
    let results = validate_concurrently(&validator, &token, 10).await;
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(
        fetches.load(Ordering::SeqCst),
        2,
        "concurrent callers share one fetch"
    );
    // The set grows old while the provider is down again: refused, not used stale.
    up.store(false, Ordering::SeqCst);
    tokio::time::advance(tower_oauth2::client::DEFAULT_JWKS_MAX_AGE).await;
    assert!(matches!(
        validator.validate(&token, None).await,
        Err(IdTokenValidationError::Status(_))
    ));
    assert!(matches!(
        validator.validate(&token, None).await,
        Err(IdTokenValidationError::Unavailable)
    ));
    assert_eq!(fetches.load(Ordering::SeqCst), 3);
}

/// A fetch dropped half way (the caller went away) starts no cooldown: the next caller
/// fetches at once. And a clock that steps back does not keep an old set, nor hold back a
/// fetch.
#[tokio::test(start_paused = true)]
async fn a_dropped_fetch_and_a_clock_stepping_back_do_not_block_fetches() {
    use oauth_core::clock::ManualClock;
    use std::time::{Duration, UNIX_EPOCH};

    let key = dpop_key();
    let jwk = key.jwk();
    let fetches = Arc::new(AtomicUsize::new(0));
    let counter = fetches.clone();
    let jwks_uri = tower::service_fn(move |_: Request<Full<Bytes>>| {
        counter.fetch_add(1, Ordering::SeqCst);
        let body = serde_json::json!({ "keys": [jwk] }).to_string();
        async move {
            tokio::time::sleep(Duration::from_millis(100)).await;
            Ok::<_, Infallible>(Response::new(Full::<Bytes>::from(body)))
        }
    });
    let start = UNIX_EPOCH + Duration::from_secs(1_800_000_000);
    let clock = ManualClock::new(start);
    let validator = validator(jwks_uri).clock(clock.clone());
    let token = IdToken::new(
        PrivateKeyJwt::es256(ec_p256_key())
            .clock(clock.clone())
            .lifetime(Duration::from_secs(7200))
            .audience("client")
            .assertion("https://server.example.com", "unused")
            .unwrap()
            .as_str(),
    );
    let dropped =
        tokio::time::timeout(Duration::from_millis(10), validator.validate(&token, None)).await;
    assert!(dropped.is_err(), "the caller gave up during the fetch");
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
    validator.validate(&token, None).await.unwrap();
    assert_eq!(fetches.load(Ordering::SeqCst), 2, "fetched again at once");
    validator.validate(&token, None).await.unwrap();
    assert_eq!(fetches.load(Ordering::SeqCst), 2, "then cached");
    // The clock steps back (40 s, within the ID token's skew): the set's age is unknown, so
    // it is fetched again.
    clock.set(start - Duration::from_secs(40));
    validator.validate(&token, None).await.unwrap();
    assert_eq!(fetches.load(Ordering::SeqCst), 3);
}

/// ID token times are the provider's wall-clock instants, so the default clock is the system's
/// as it is now, not one read at start-up and moved on by tokio's: here tokio's clock runs two
/// hours ahead of the system's (as a clock read before a correction would), and a token just
/// issued still validates.
#[tokio::test(start_paused = true)]
async fn id_token_times_are_judged_by_the_system_clock_by_default() {
    let key = dpop_key();
    let jwk = key.jwk();
    let jwks_uri = tower::service_fn(move |_: Request<Full<Bytes>>| {
        let body = serde_json::json!({ "keys": [jwk] }).to_string();
        async move { Ok::<_, Infallible>(Response::new(Full::<Bytes>::from(body))) }
    });
    let validator = validator(jwks_uri);
    tokio::time::advance(std::time::Duration::from_secs(7200)).await;
    let token = id_token();
    validator.validate(&token, None).await.unwrap();
    // With tokio's clock, read when the validator was made, the same token has expired.
    let tokio_clocked = validator
        .clone()
        .clock(tower_oauth2::clock::TokioClock::starting_at(
            std::time::SystemTime::now() + std::time::Duration::from_secs(7200),
        ));
    assert!(matches!(
        tokio_clocked.validate(&token, None).await,
        Err(IdTokenValidationError::Invalid(IdTokenError::Expired))
    ));
}

/// OpenID Connect Core §3.1.2.1, §3.1.3.7 #13 and §2: an authorization request sent with
/// `max_age` needs an ID token whose `auth_time` is at most that old (with the verifier's
/// clock skew), and `IdTokenValidator::exchange_code` checks it with the value the pending
/// flow kept (through its stored form too), refusing the response (`AuthenticationTooOld`)
/// when `auth_time` is missing or too old. Without `max_age`, a token without `auth_time`
/// passes as before. Fails before `max_age` was kept in the pending flow: the old
/// `auth_time` was accepted.
#[tokio::test]
async fn exchange_code_checks_auth_time_against_the_max_age_sent() {
    use std::time::Duration;

    use oauth_core::clock::{CountingRandom, ManualClock};
    use oauth_core::oauth2::{
        AuthorizationRequest, CodeExchange, PendingAuthorization, RedirectUri,
    };
    use tower_oauth2::client::CodeFlowError;

    const NOW: u64 = 1_700_000_000;
    let jwks = rsa_jwks();
    let jwks_uri = tower::service_fn(move |_: Request<Full<Bytes>>| {
        let body = jwks.clone();
        async move { Ok::<_, Infallible>(Response::new(Full::<Bytes>::from(body))) }
    });
    let validator = validator(jwks_uri).clock(ManualClock::at_unix_seconds(NOW));
    // A flow sent with `max_age` (set, given as a parameter, or none), kept in storage as
    // JSON between the redirect and the callback.
    let exchange = |max_age: Option<&str>| -> CodeExchange {
        let redirect = RedirectUri::new("https://client.example.com/cb").unwrap();
        let request = AuthorizationRequest::new(
            &Endpoint::new("https://server.example.com/authorize").unwrap(),
            "client",
            &redirect,
        )
        .oidc_nonce()
        .dangerous_custom_state("S");
        let request = match max_age {
            Some("set-300") => request.max_age(Duration::from_secs(300)),
            Some(value) => request.param("max_age", value),
            None => request,
        };
        let (_, pending) = request.build(&CountingRandom::new(1)).unwrap();
        let stored = serde_json::to_string(&pending).unwrap();
        serde_json::from_str::<PendingAuthorization>(&stored)
            .unwrap()
            .parse_callback("https://client.example.com/cb?code=c&state=S")
            .unwrap()
    };
    // The code exchange answers with an ID token for the flow's nonce, authenticated at
    // `auth_time` (none when `None`).
    let run = |exchange: CodeExchange, auth_time: Option<u64>| {
        let mut claims = serde_json::json!({
            "iss": "https://server.example.com", "sub": "alice", "aud": "client",
            "iat": NOW, "exp": NOW + 600, "nonce": exchange.nonce().unwrap(),
        });
        if let Some(auth_time) = auth_time {
            claims["auth_time"] = auth_time.into();
        }
        let body = serde_json::json!({
            "access_token": "at", "token_type": "Bearer", "id_token": rs256_jws(&claims),
        })
        .to_string();
        let grants = grants_answering(body);
        let validator = validator.clone();
        async move {
            match validator.exchange_code(&grants, exchange).await {
                Ok((_, claims)) => Ok(claims.sub().to_owned()),
                Err(CodeFlowError::IdToken(IdTokenValidationError::Invalid(e))) => Err(e),
                Err(other) => panic!("{other:?}"),
            }
        }
    };
    let too_old = Err(IdTokenError::AuthenticationTooOld);
    for max_age in ["set-300", "300"] {
        assert_eq!(
            run(exchange(Some(max_age)), None).await,
            too_old,
            "{max_age}"
        );
        assert_eq!(
            run(exchange(Some(max_age)), Some(NOW - 300 - 61)).await,
            too_old,
            "{max_age}"
        );
        for fresh in [NOW - 10, NOW - 300 - 60, NOW] {
            assert_eq!(
                run(exchange(Some(max_age)), Some(fresh)).await.as_deref(),
                Ok("alice"),
                "{max_age} {fresh}"
            );
        }
    }
    // max_age=0: authenticated just now (within the skew) only.
    assert_eq!(
        run(exchange(Some("0")), Some(NOW - 5)).await.as_deref(),
        Ok("alice")
    );
    assert_eq!(run(exchange(Some("0")), Some(NOW - 61)).await, too_old);
    assert_eq!(run(exchange(Some("0")), None).await, too_old);
    // No max_age: no auth_time needed, and an old one is none of the client's business.
    assert_eq!(run(exchange(None), None).await.as_deref(), Ok("alice"));
    assert_eq!(
        run(exchange(None), Some(NOW - 86_400)).await.as_deref(),
        Ok("alice")
    );
}

/// An ES256 ID token for `client` from `https://server.example.com` naming key `kid`.
fn id_token_with_kid(kid: &str) -> IdToken {
    IdToken::new(
        PrivateKeyJwt::es256(ec_p256_key())
            .key_id(kid)
            .audience("client")
            .assertion("https://server.example.com", "unused")
            .unwrap()
            .as_str(),
    )
}

/// A grant client for the public client "client" whose token endpoint answers every request
/// with the JSON `body`.
#[allow(clippy::type_complexity)] // (the service's type, spelled out)
fn grants_answering(
    body: String,
) -> tower_oauth2::GrantClient<
    impl tower::Service<
        Request<Full<Bytes>>,
        Response = Response<Full<Bytes>>,
        Error = Infallible,
        Future = impl Future<Output = Result<Response<Full<Bytes>>, Infallible>> + Send,
    > + Clone
    + Send
    + Sync
    + 'static,
> {
    let token_endpoint = tower::service_fn(move |_: Request<Full<Bytes>>| {
        let response = Response::builder()
            .header("content-type", "application/json")
            .body(Full::<Bytes>::from(body.clone()))
            .unwrap();
        async move { Ok::<_, Infallible>(response) }
    });
    tower_oauth2::GrantClient::new(
        token_endpoint,
        Endpoint::new("https://server.example.com/token").unwrap(),
        oauth_core::oauth2::Client::public("client"),
    )
}

/// A set with `ec_p256_key`'s public key under each of `kids`.
fn jwks_with_kids(kids: &[&str]) -> String {
    let keys: Vec<serde_json::Value> = kids
        .iter()
        .map(|kid| {
            let mut jwk = dpop_key().jwk();
            jwk["kid"] = (*kid).into();
            jwk
        })
        .collect();
    serde_json::json!({ "keys": keys }).to_string()
}

/// A token whose key the cached set has is checked with that set at once, while a fetch
/// started for another token's unknown key is still in flight: only callers that need a new
/// set wait for it (`IdTokenValidator`'s docs: the set is "kept for DEFAULT_JWKS_MAX_AGE" and
/// fetched again "when a token names a key the set does not have"). A slow `jwks_uri` does not
/// hold up the tokens it has nothing to do with. (Mutant: client/id_token.rs
/// `fresh_set -> None`: every validation went through the fetch lock and waited out the slow
/// fetch.)
#[tokio::test(start_paused = true)]
async fn a_cached_key_is_used_without_waiting_for_a_fetch_in_flight() {
    let fetches = Arc::new(AtomicUsize::new(0));
    let counter = fetches.clone();
    let refetching = Arc::new(tokio::sync::Notify::new());
    let refetch_started = refetching.clone();
    let jwks_uri = tower::service_fn(move |_: Request<Full<Bytes>>| {
        let n = counter.fetch_add(1, Ordering::SeqCst);
        if n == 1 {
            refetch_started.notify_one();
        }
        async move {
            if n == 0 {
                return Ok::<_, Infallible>(Response::new(Full::<Bytes>::from(jwks_with_kids(&[
                    "k1",
                ]))));
            }
            // The rotated set, from a slow provider.
            tokio::time::sleep(std::time::Duration::from_secs(10)).await;
            Ok(Response::new(Full::from(jwks_with_kids(&["k1", "k2"]))))
        }
    });
    let validator = validator(jwks_uri).clock(tower_oauth2::clock::TokioClock::new());
    let known = id_token_with_kid("k1");
    validator.validate(&known, None).await.unwrap();
    tokio::time::advance(tower_oauth2::client::REFETCH_COOLDOWN).await;

    // A token with a key the set does not have: the set is fetched again, slowly.
    let rotated = {
        let validator = validator.clone();
        tokio::spawn(async move { validator.validate(&id_token_with_kid("k2"), None).await })
    };
    // Bounded, so that a fetch that never starts fails the test instead of hanging it (at
    // once on the paused clock, with nothing else to wait for).
    tokio::time::timeout(std::time::Duration::from_secs(3600), refetching.notified())
        .await
        .expect("the token with an unknown key did not start a fetch");
    let start = tokio::time::Instant::now();
    validator.validate(&known, None).await.unwrap();
    assert_eq!(
        start.elapsed(),
        std::time::Duration::ZERO,
        "a token with a cached key waited for the fetch of another key"
    );
    assert!(rotated.await.unwrap().is_ok());
    assert_eq!(fetches.load(Ordering::SeqCst), 2);
}

/// `from_metadata` makes a validator for the provider the metadata describes: keys from its
/// `jwks_uri`, tokens from its issuer for the given client; without a `jwks_uri`, none. (Mutant:
/// client/id_token.rs `from_metadata -> None`; its only example is `no_run`.)
#[tokio::test]
async fn a_validator_from_metadata_uses_its_jwks_uri_and_issuer() {
    use oauth_core::oauth2::parse_metadata;
    let issuer = Issuer::new("https://server.example.com").unwrap();
    let metadata = parse_metadata(
        http::StatusCode::OK,
        br#"{"issuer":"https://server.example.com","jwks_uri":"https://server.example.com/keys/v2"}"#,
        &issuer,
    )
    .unwrap();
    let fetched: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
    let log = fetched.clone();
    let jwks_uri = tower::service_fn(move |req: Request<Full<Bytes>>| {
        log.lock().unwrap().push(req.uri().to_string());
        async move { Ok::<_, Infallible>(Response::new(Full::<Bytes>::from(jwks_with_kids(&["k1"])))) }
    });
    let validator = IdTokenValidator::from_metadata(jwks_uri.clone(), &metadata, "client")
        .expect("the metadata has a jwks_uri");
    let claims = validator
        .validate(&id_token_with_kid("k1"), None)
        .await
        .unwrap();
    assert_eq!(claims.aud(), ["client"]);
    assert_eq!(
        *fetched.lock().unwrap(),
        ["https://server.example.com/keys/v2"]
    );
    // Another client's validator refuses the token (the audience is the client given).
    let other = IdTokenValidator::from_metadata(jwks_uri.clone(), &metadata, "other-client")
        .unwrap()
        .validate(&id_token_with_kid("k1"), None)
        .await;
    assert!(
        matches!(other, Err(IdTokenValidationError::Invalid(_))),
        "{other:?}"
    );

    let without = parse_metadata(
        http::StatusCode::OK,
        br#"{"issuer":"https://server.example.com"}"#,
        &issuer,
    )
    .unwrap();
    assert!(IdTokenValidator::from_metadata(jwks_uri, &without, "client").is_none());
}

/// A validator's `Debug` names its `jwks_uri` and the verifier (issuer, client). (Mutant:
/// client/id_token.rs `<Debug for IdTokenValidator>::fmt -> Ok(Default)`, which printed
/// nothing.)
#[test]
fn a_validators_debug_names_its_jwks_uri_and_issuer() {
    let jwks_uri = tower::service_fn(|_: Request<Full<Bytes>>| async {
        Ok::<_, Infallible>(Response::new(Full::<Bytes>::from("{}")))
    });
    let debug = format!("{:?}", validator(jwks_uri));
    assert!(debug.starts_with("IdTokenValidator"), "{debug}");
    assert!(debug.contains("https://server.example.com/jwks"), "{debug}");
    assert!(debug.contains("https://server.example.com\""), "{debug}");
    assert!(debug.contains("client"), "{debug}");
}

/// OpenID Connect Core §3.1.3.7 #11 and §3.1.3.8 (§3.2.2.9, §3.3.2.11): the ID token's `nonce`
/// must be the authorization request's, and a token response's access token must be the one
/// its ID token's `at_hash` names (base64url of the left half of its SHA-256, computed here
/// with Python's hashlib for "at-1"). `validate` checks the nonce, also when the token's key is
/// found only in a set fetched again; `validate_token` both; `exchange_code` with the nonce the
/// flow kept, so a response for another login is refused. (Hand mutants of
/// client/id_token.rs, which cargo-mutants cannot make in async fns: the at_hash check skipped,
/// the nonce not passed on in `validate`, after a key rotation, or by `exchange_code`.)
#[tokio::test]
async fn the_nonce_and_at_hash_are_checked_on_every_path() {
    use oauth_core::clock::{CountingRandom, ManualClock};
    use oauth_core::oauth2::{AuthorizationRequest, RedirectUri};
    use tower_oauth2::client::CodeFlowError;

    const NOW: u64 = 1_700_000_000;
    const AT_HASH_OF_AT_1: &str = "R8PYaIQdcYEdkSc9TeGyiQ";
    // The provider's set: empty at first, then (rotated) the RSA key.
    let fetches = Arc::new(AtomicUsize::new(0));
    let counter = fetches.clone();
    let jwks_uri = tower::service_fn(move |_: Request<Full<Bytes>>| {
        let body = match counter.fetch_add(1, Ordering::SeqCst) {
            0 => r#"{"keys":[]}"#.to_owned(),
            _ => rsa_jwks(),
        };
        async move { Ok::<_, Infallible>(Response::new(Full::<Bytes>::from(body))) }
    });
    let clock = ManualClock::at_unix_seconds(NOW);
    let validator = validator(jwks_uri).clock(clock.clone());
    let id_token = |nonce: &str| {
        IdToken::new(rs256_jws(&serde_json::json!({
            "iss": "https://server.example.com", "sub": "alice", "aud": "client",
            "iat": NOW, "exp": NOW + 600, "nonce": nonce, "at_hash": AT_HASH_OF_AT_1,
        })))
    };
    let nonce_mismatch = |result: Result<IdTokenClaims, IdTokenValidationError>| {
        matches!(
            result,
            Err(IdTokenValidationError::Invalid(IdTokenError::NonceMismatch))
        )
    };
    // The first set lacks the key; the one fetched after the cooldown has it, and the token
    // found with it still needs the right nonce.
    assert!(matches!(
        validator.validate(&id_token("n-1"), Some("n-1")).await,
        Err(IdTokenValidationError::Invalid(IdTokenError::UnknownKey))
    ));
    clock.advance(tower_oauth2::client::REFETCH_COOLDOWN);
    assert!(nonce_mismatch(
        validator.validate(&id_token("n-other"), Some("n-1")).await
    ));
    assert_eq!(fetches.load(Ordering::SeqCst), 2);
    // With the set cached.
    assert!(nonce_mismatch(
        validator.validate(&id_token("n-other"), Some("n-1")).await
    ));
    assert_eq!(
        validator
            .validate(&id_token("n-1"), Some("n-1"))
            .await
            .unwrap()
            .sub(),
        "alice"
    );

    let response = |access: &str, nonce: &str| {
        Token::new(AccessToken::new(access), TokenType::Bearer).with_id_token(Some(id_token(nonce)))
    };
    let approved = response("at-1", "n-1");
    let claims = validator.validate_token(&approved, Some("n-1")).await;
    assert_eq!(claims.unwrap().sub(), "alice");
    assert!(matches!(
        validator
            .validate_token(&response("at-2", "n-1"), Some("n-1"))
            .await,
        Err(IdTokenValidationError::Invalid(
            IdTokenError::AccessTokenHashMismatch
        ))
    ));
    assert!(nonce_mismatch(
        validator
            .validate_token(&response("at-1", "n-other"), Some("n-1"))
            .await
    ));

    // The code flow: the token endpoint answers with an ID token for `nonce`.
    let exchange = |nonce: &'static str| {
        let redirect = RedirectUri::new("https://client.example.com/cb").unwrap();
        let (_, pending) = AuthorizationRequest::new(
            &Endpoint::new("https://server.example.com/authorize").unwrap(),
            "client",
            &redirect,
        )
        .oidc_nonce()
        .dangerous_custom_state("S")
        .build(&CountingRandom::new(1))
        .unwrap();
        let exchange = pending
            .parse_callback("https://client.example.com/cb?code=c&state=S")
            .unwrap();
        let nonce = match nonce {
            "the flow's" => exchange.nonce().unwrap().to_owned(),
            other => other.to_owned(),
        };
        let body = serde_json::json!({
            "access_token": "at-1", "token_type": "Bearer",
            "id_token": id_token(&nonce).secret(),
        })
        .to_string();
        let grants = grants_answering(body);
        let validator = validator.clone();
        async move { validator.exchange_code(&grants, exchange).await }
    };
    let (_, claims) = exchange("the flow's").await.unwrap();
    assert_eq!(claims.sub(), "alice");
    assert!(matches!(
        exchange("n-of-another-login").await,
        Err(CodeFlowError::IdToken(IdTokenValidationError::Invalid(
            IdTokenError::NonceMismatch
        )))
    ));
}

/// SECURITY.md §4.9 #86: verified claims print `sub`, `aud`, `exp` and how many other claims
/// there are, never the nonce or another claim's value; a refused ID token's error prints
/// nothing of the token (`{}`, `{:?}`, `{:#?}` of the whole chain).
#[tokio::test]
async fn claims_and_refusals_print_no_nonce_claim_or_token() {
    use oauth_core::clock::ManualClock;

    const NOW: u64 = 1_700_000_000;
    let jwks_uri = tower::service_fn(|_: Request<Full<Bytes>>| async {
        Ok::<_, Infallible>(Response::new(Full::<Bytes>::from(rsa_jwks())))
    });
    let validator = validator(jwks_uri).clock(ManualClock::at_unix_seconds(NOW));
    let id_token = |nonce: &str| {
        IdToken::new(rs256_jws(&serde_json::json!({
            "iss": "https://server.example.com", "sub": "alice", "aud": "client",
            "iat": NOW, "exp": NOW + 600, "nonce": nonce,
            "email": "SENTINEL-claim@example.com", "SENTINEL-claim-name": "SENTINEL-claim-value",
        })))
    };
    let good = id_token("SENTINEL-nonce");
    let claims = validator
        .validate(&good, Some("SENTINEL-nonce"))
        .await
        .unwrap();
    let mut printed = vec![format!("{claims:?}\n{claims:#?}")];
    assert!(printed[0].contains("alice"), "{}", printed[0]);
    let mut chain = |error: &(dyn std::error::Error + 'static)| {
        let mut next = Some(error);
        while let Some(e) = next {
            printed.push(format!("{e}\n{e:?}\n{e:#?}"));
            next = e.source();
        }
    };
    let mismatch = validator
        .validate(&id_token("SENTINEL-other-nonce"), Some("SENTINEL-nonce"))
        .await
        .unwrap_err();
    chain(&mismatch);
    let forged = IdToken::new(format!("{}SENTINEL", good.secret()));
    chain(&validator.validate(&forged, None).await.unwrap_err());
    let malformed = IdToken::new("SENTINEL-header.SENTINEL-claims.SENTINEL-signature");
    chain(&validator.validate(&malformed, None).await.unwrap_err());
    let token = Token::new(AccessToken::new("SENTINEL-at"), TokenType::Bearer);
    chain(&validator.validate_token(&token, None).await.unwrap_err());
    for text in &printed {
        assert!(!text.contains("SENTINEL"), "{text}");
        assert!(!text.contains(good.secret()), "{text}");
    }
}

/// A token naming a key the set has, on a curve this crate cannot verify with (Ed448 here;
/// P-521 and secp256k1 alike), is refused as `UnsupportedKey` with the curve, and does not
/// make the validator fetch the set again (the key is there: a new copy of the set would not
/// help, unlike for an unknown key), before or after the cooldown.
#[tokio::test(start_paused = true)]
async fn a_key_on_an_unsupported_curve_is_refused_without_fetching_the_set_again() {
    let fetches = Arc::new(AtomicUsize::new(0));
    let counter = fetches.clone();
    let jwks_uri = tower::service_fn(move |_: Request<Full<Bytes>>| {
        counter.fetch_add(1, Ordering::SeqCst);
        let body = serde_json::json!({"keys": [
            {"kty": "OKP", "crv": "Ed448", "kid": "ed448", "x": "A".repeat(76)},
        ]})
        .to_string();
        async move { Ok::<_, Infallible>(Response::new(Full::<Bytes>::from(body))) }
    });
    let validator = validator(jwks_uri).clock(tower_oauth2::clock::TokioClock::new());
    let token = id_token_with_kid("ed448");
    for _ in 0..2 {
        let result = validator.validate(&token, None).await;
        assert!(
            matches!(
                result,
                Err(IdTokenValidationError::Invalid(
                    IdTokenError::UnsupportedKey { curve: "Ed448" }
                ))
            ),
            "{result:?}"
        );
        assert_eq!(fetches.load(Ordering::SeqCst), 1);
        tokio::time::advance(tower_oauth2::client::REFETCH_COOLDOWN).await;
    }
}
