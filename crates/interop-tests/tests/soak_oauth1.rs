//! Soak: many requests signed by `SignLayer` (HMAC-SHA1, the system clock and CSPRNG) through a
//! real hyper-util client, against a loopback server that verifies every signature with
//! `oauth_core::oauth1::UnverifiedRequest::verify` and records every (timestamp, nonce) pair.
//!
//! One request in eight is a form `POST` (the body is signed, RFC 5849 §3.4.1.3.1); the others
//! are `GET`s with a query. Asserts: no verification failure, no repeated (timestamp, nonce), no
//! timestamp that goes backwards by more than the in-flight window, every response 200.
//!
//! `SOAK_REQUESTS` overrides the number of requests (default 50,000).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod loopback;

use std::collections::HashSet;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use http::{Method, Request};
use http_body_util::{BodyExt, Full};
use oauth_core::oauth1::{
    ClientCredentials, IncomingRequest, Origin, Signer, SigningSecrets, TokenCredentials,
    UnverifiedRequest, VerifyKey, is_form_content_type,
};
use oauth_core::secret::{ConsumerSecret, TokenSecret};
use tower::{Service, ServiceBuilder, ServiceExt};
use tower_oauth1::sign::SignLayer;

use loopback::{Received, respond};

const CONCURRENCY: usize = 64;
const CONSUMER_SECRET: &str = "soak-consumer-secret";
const TOKEN_SECRET: &str = "soak-token-secret";

fn requests() -> usize {
    std::env::var("SOAK_REQUESTS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(50_000)
}

#[derive(Default)]
struct Verifier {
    seen: Mutex<HashSet<(u64, String)>>,
    ok: AtomicU64,
    failures: AtomicU64,
    repeats: AtomicU64,
    forms: AtomicU64,
    first_failure: Mutex<Option<String>>,
}

impl Verifier {
    fn check(&self, req: &Received) -> Result<(u64, String), String> {
        let parts = &req.parts;
        let host = parts
            .headers
            .get("host")
            .and_then(|h| h.to_str().ok())
            .ok_or("no Host")?;
        let mut incoming = IncomingRequest::new(&parts.method, &parts.uri)
            .origin(Origin::new("http", host))
            .authorization(
                parts
                    .headers
                    .get("authorization")
                    .and_then(|v| v.to_str().ok())
                    .ok_or("no Authorization")?,
            );
        if parts
            .headers
            .get("content-type")
            .is_some_and(is_form_content_type)
        {
            incoming = incoming.form_body(&req.body);
            self.forms.fetch_add(1, Ordering::Relaxed);
        }
        let request = UnverifiedRequest::parse(incoming).map_err(|e| format!("parse: {e}"))?;
        if request.consumer_key() != "soak-key" || request.token() != Some("soak-token") {
            return Err("wrong consumer key or token".into());
        }
        let consumer_secret = ConsumerSecret::new(CONSUMER_SECRET);
        let token_secret = TokenSecret::new(TOKEN_SECRET);
        let protocol = request
            .verify(VerifyKey::Secrets(SigningSecrets {
                consumer_secret: &consumer_secret,
                token_secret: Some(&token_secret),
            }))
            .map_err(|e| format!("verify: {e}"))?;
        Ok((
            protocol.timestamp().ok_or("no timestamp")?,
            protocol.nonce().ok_or("no nonce")?.to_owned(),
        ))
    }

    fn handle(&self, req: Received) -> http::Response<Full<Bytes>> {
        match self.check(&req) {
            Ok(pair) => {
                if !self.seen.lock().unwrap().insert(pair) {
                    self.repeats.fetch_add(1, Ordering::Relaxed);
                    return respond(401, "text/plain", "oauth_problem=nonce_used");
                }
                self.ok.fetch_add(1, Ordering::Relaxed);
                respond(200, "text/plain", "ok")
            }
            Err(reason) => {
                self.failures.fetch_add(1, Ordering::Relaxed);
                self.first_failure.lock().unwrap().get_or_insert(reason);
                respond(401, "text/plain", "oauth_problem=signature_invalid")
            }
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fifty_thousand_signed_requests_verify_with_unique_nonces() {
    tokio::time::timeout(Duration::from_secs(170), soak())
        .await
        .expect("the soak test did not finish in time");
}

async fn soak() {
    let total = requests();
    let verifier = Arc::new(Verifier::default());
    let server = {
        let v = verifier.clone();
        loopback::serve(move |req| {
            let response = v.handle(req);
            async move { response }
        })
        .await
    };
    let signer = Signer::builder(ClientCredentials::new(
        "soak-key",
        ConsumerSecret::new(CONSUMER_SECRET),
    ))
    .token(TokenCredentials::new(
        "soak-token",
        TokenSecret::new(TOKEN_SECRET),
    ))
    .build()
    .unwrap();
    let svc = ServiceBuilder::new()
        .layer(SignLayer::new(signer).dangerous_allow_http_loopback())
        .service(loopback::client::<tower_oauth1::SignedBody<Full<Bytes>>>());
    let base = server.url("/items");

    let non_200 = Arc::new(AtomicU64::new(0));
    let errors = Arc::new(AtomicU64::new(0));
    let next = Arc::new(AtomicUsize::new(0));
    let rss_start = loopback::rss_bytes();
    let started = Instant::now();
    let mut workers = tokio::task::JoinSet::new();
    for _ in 0..CONCURRENCY {
        let (mut svc, next, base) = (svc.clone(), next.clone(), base.clone());
        let (non_200, errors) = (non_200.clone(), errors.clone());
        workers.spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= total {
                    break;
                }
                let request = if i % 8 == 0 {
                    Request::builder()
                        .method(Method::POST)
                        .uri(&base)
                        .header("content-type", "application/x-www-form-urlencoded")
                        .body(Full::new(Bytes::from(format!("n={i}&text=a+b%2Bc&empty="))))
                        .unwrap()
                } else {
                    Request::get(format!("{base}?n={i}&q=caf%C3%A9&q=x+y"))
                        .body(Full::new(Bytes::new()))
                        .unwrap()
                };
                match svc.ready().await.unwrap().call(request).await {
                    Ok(response) => {
                        if response.status() != 200 {
                            non_200.fetch_add(1, Ordering::Relaxed);
                        }
                        response.into_body().collect().await.unwrap();
                    }
                    Err(_) => {
                        errors.fetch_add(1, Ordering::Relaxed);
                    }
                }
            }
        });
    }
    while workers.join_next().await.is_some() {}
    let elapsed = started.elapsed();
    let rss_end = loopback::rss_bytes();

    let seen = verifier.seen.lock().unwrap();
    let timestamps: HashSet<u64> = seen.iter().map(|(t, _)| *t).collect();
    let (min_ts, max_ts) = (
        timestamps.iter().min().copied().unwrap_or(0),
        timestamps.iter().max().copied().unwrap_or(0),
    );
    let mib = |b: u64| b as f64 / (1024.0 * 1024.0);
    println!(
        "soak_oauth1: {total} signed requests ({CONCURRENCY} in flight, {} form POSTs) in \
         {:.2}s ({:.0} req/s)",
        verifier.forms.load(Ordering::Relaxed),
        elapsed.as_secs_f64(),
        total as f64 / elapsed.as_secs_f64(),
    );
    println!(
        "soak_oauth1: verified {}, failures {} (first: {:?}), repeated (timestamp, nonce) {}, \
         distinct pairs {}, timestamps {min_ts}..={max_ts}; client non-200 {}, errors {}",
        verifier.ok.load(Ordering::Relaxed),
        verifier.failures.load(Ordering::Relaxed),
        verifier.first_failure.lock().unwrap(),
        verifier.repeats.load(Ordering::Relaxed),
        seen.len(),
        non_200.load(Ordering::Relaxed),
        errors.load(Ordering::Relaxed),
    );
    println!(
        "soak_oauth1: RSS start {:.1} MiB, end {:.1} MiB (the server keeps every nonce)",
        mib(rss_start),
        mib(rss_end),
    );

    assert_eq!(verifier.failures.load(Ordering::Relaxed), 0);
    assert_eq!(verifier.repeats.load(Ordering::Relaxed), 0);
    assert_eq!(seen.len(), total);
    assert_eq!(verifier.ok.load(Ordering::Relaxed), total as u64);
    assert_eq!(non_200.load(Ordering::Relaxed), 0);
    assert_eq!(errors.load(Ordering::Relaxed), 0);
    assert_eq!(
        verifier.forms.load(Ordering::Relaxed),
        total.div_ceil(8) as u64
    );
    // Timestamps come from the clock, in whole seconds, for the duration of the run.
    assert!(max_ts - min_ts <= elapsed.as_secs() + 1);
    assert!(
        rss_end.saturating_sub(rss_start) < 64 * 1024 * 1024,
        "RSS grew by {:.1} MiB",
        mib(rss_end.saturating_sub(rss_start))
    );
}
