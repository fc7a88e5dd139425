//! Second review of session 18's token-source changes: `issued_to` and the refusal of DPoP
//! tokens by a keyless source, the build's `in_store`, `save_again`'s `older_than_ours`, and
//! the entry's `STALE_LEAD`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use oauth_core::oauth2::{Token, TokenType};
use oauth_core::secret::{AccessToken, RefreshToken};
use tower_oauth2::TokenSource;
use tower_oauth2::source::{TokenError, TokenErrorKind, UnsendableToken};
use tower_oauth2::store::MemoryStore;

mod common;
use common::bearer_expiring_in;
use common::log_capture::capture;

/// A keyless source (no DPoP key, its fetcher's neither) whose token endpoint answers with
/// `token_type: DPoP`: it cannot send that token (no key to make the proof with; RFC 6749
/// §7.1, a client does not use a token type it cannot use), and since session 18 it refuses
/// such a token from its store, at build and on take-up. It used to take the fetched one all
/// the same: in use (every request through the layer failed with a DPoP proof error) and
/// saved, so the next build over the same store dropped it (no token: "authorize again",
/// its refresh token abandoned) and a sibling source over the store never took it up (it
/// refreshed with the refresh token the first one had already spent: reuse). The fetched
/// token is now refused like any other token that cannot be sent: a `Configuration` error
/// holding it, the old token kept, nothing saved.
#[tokio::test(start_paused = true)]
async fn a_keyless_source_refuses_a_dpop_token_its_endpoint_issues_as_it_refuses_a_stored_one() {
    let old = bearer_expiring_in("old-access", "old-refresh", -1);
    let store = MemoryStore::with_token(old.clone());
    let calls = Arc::new(AtomicUsize::new(0));
    let counter = calls.clone();
    let issued = Token::new(AccessToken::new("dpop-access"), TokenType::DPoP)
        .with_refresh_token(Some(RefreshToken::new("rotated-refresh")));
    let source = TokenSource::builder()
        .store(store.clone())
        .fetcher(move |_: Option<&Token>| {
            counter.fetch_add(1, Ordering::SeqCst);
            let issued = issued.clone();
            async move { Ok::<_, TokenError>(issued) }
        })
        .build()
        .await
        .unwrap();
    assert!(source.dpop_key().is_none());
    let result = source.token().await;
    // What the same configuration does with that token once it is in the store.
    let restarted = TokenSource::builder()
        .store(store.clone())
        .build()
        .await
        .unwrap();
    let error = result.expect_err("a keyless source took up a DPoP token it cannot send");
    assert_eq!(error.kind(), TokenErrorKind::Configuration);
    let unsendable = std::error::Error::source(&*error)
        .and_then(|e| e.downcast_ref::<UnsendableToken>())
        .expect("the issued token is reachable");
    assert_eq!(
        unsendable.token().refresh_token().unwrap().secret(),
        "rotated-refresh"
    );
    assert_eq!(source.current().unwrap(), old, "the old token is kept");
    assert_eq!(store.get().unwrap(), old, "and the store still holds it");
    assert_eq!(restarted.current().unwrap(), old);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// Checked (`STALE_LEAD`, with a fetcher): a client-credentials source whose tokens live a
/// second (their entries are born stale: the flag goes up a second before expiry) sends each
/// token while it is valid through a warm service, never one past its expiry, and fetches no
/// more often than its refresh margin (half the lifetime) and `min_interval` say.
#[tokio::test(start_paused = true)]
async fn one_second_tokens_are_sent_while_valid_with_no_fetch_storm() {
    use oauth_core::clock::Clock;
    use oauth_core::oauth2::RefreshPolicy;
    use std::time::Duration;
    use tower::{Layer, Service, ServiceExt};
    use tower_oauth2::OAuth2Layer;
    use tower_oauth2::clock::TokioClock;

    let clock = TokioClock::new();
    let issued = Arc::new(std::sync::Mutex::new(Vec::new()));
    let fetcher = {
        let (clock, issued) = (clock.clone(), issued.clone());
        move |_: Option<&Token>| {
            let mut issued = issued.lock().unwrap();
            let value = format!("cc-{}", issued.len());
            let expires_at = clock.now() + Duration::from_secs(1);
            issued.push((value.clone(), expires_at));
            let token = Token::new(AccessToken::new(value), TokenType::Bearer)
                .with_expires_at(Some(expires_at));
            async move { Ok::<_, TokenError>(token) }
        }
    };
    let source = TokenSource::builder()
        .fetcher(ClientCredentials(fetcher))
        .clock(clock.clone())
        .policy(RefreshPolicy::default().min_interval(Duration::from_millis(100)))
        .build()
        .await
        .unwrap();
    let (api, seen) = common::api_rejecting_token("never", "Bearer");
    let mut svc = OAuth2Layer::new(source.clone(), common::API)
        .unwrap()
        .layer(api);
    let mut sent_at = Vec::new();
    for _ in 0..300 {
        svc.ready().await.unwrap();
        let _ = svc
            .call(
                http::Request::get(format!("{}/x", common::API))
                    .body(http_body_util::Empty::<bytes::Bytes>::new())
                    .unwrap(),
            )
            .await;
        sent_at.push(clock.now());
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    let issued = issued.lock().unwrap().clone();
    let seen = seen.lock().unwrap().clone();
    for (header, at) in seen.iter().zip(&sent_at) {
        let header = header.as_deref().unwrap();
        let (_, expires_at) = issued
            .iter()
            .find(|(value, _)| header == format!("Bearer {value}"))
            .unwrap();
        assert!(*at < *expires_at, "{header} sent at or past its expiry");
    }
    // 3 s of requests, a token per half second at most (its margin), and a little.
    assert!(issued.len() <= 8, "{} fetches", issued.len());
}

/// `older_than_ours` (daa5609, `save_again`) tells another process's token saved since the
/// build from the one the store held before it by expiry; with no expiry on either side (a
/// server that sends no `expires_in`, RFC 6749 §5.1 makes it optional) it took the stored
/// token as the older one. So the defect of `store_follower.rs`
/// (`a_given_tokens_background_save_does_not_overwrite_a_newer_token_saved_since`) stood
/// for such tokens: a follower given a token, whose store could be neither read nor written at
/// build, wrote it over the token the process that refreshes saved a second later. With nothing
/// to compare, a follower now defers to the store (its given token stays in use, unsaved).
#[tokio::test(start_paused = true)]
async fn without_expiry_a_given_tokens_background_save_does_not_overwrite_a_token_saved_since() {
    use common::scripted_store::{Action, Op, ScriptedStore};
    use std::time::Duration;
    use tower_oauth2::store::TokenStore;

    let no_expiry = |access: &str, refresh: &str| {
        Token::new(AccessToken::new(access), TokenType::Bearer)
            .with_refresh_token(Some(RefreshToken::new(refresh)))
    };
    let store = ScriptedStore::new(MemoryStore::with_token(no_expiry("a0", "r0")));
    store.next(Op::Load, [Action::Fail("down")]);
    store.next(Op::Save, [Action::Fail("down")]);
    let source = TokenSource::builder()
        .token(no_expiry("a1", "r1"))
        .store(store.clone())
        .build()
        .await
        .unwrap();
    assert!(source.has_unsaved_token());
    tokio::time::sleep(Duration::from_secs(1)).await;
    TokenStore::save(store.inner(), &no_expiry("a2", "r2"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(60)).await;
    assert_eq!(
        store.inner().get().unwrap().access_token().secret(),
        "a2",
        "the token saved since the build is kept"
    );
}

/// `TokenSourceBuilder::issued_to` (5da762b) "wins over the fetcher's": a source given one
/// that is not its fetcher's (a [`GrantClient`](tower_oauth2::GrantClient)'s fetchers record
/// their own endpoint and client on every token) took the tokens its fetcher got, used them
/// and saved them, and then, built again over the same store (a restart), refused them as
/// another configuration's: no token, "authorize again", the refresh token it had saved
/// abandoned. Such a builder is now refused at build, with a `Configuration` error naming
/// the conflict, before any token is fetched or saved.
#[tokio::test(start_paused = true)]
async fn a_source_whose_issued_to_is_not_its_fetchers_is_refused_at_build() {
    use oauth_core::oauth2::IssuedTo;

    let fetchers = IssuedTo::new("https://as.example.com/token", "client-1");
    let fetcher = Stamping(fetchers.clone());
    let store = MemoryStore::with_token(
        bearer_expiring_in("a0", "r0", -1).with_issued_to(Some(fetchers.clone())),
    );
    let built = TokenSource::builder()
        .store(store.clone())
        .fetcher(fetcher)
        .issued_to(IssuedTo::new("https://other.example.com/token", "client-1"))
        .build()
        .await;
    let error = built.expect_err("a source refusing its own fetcher's tokens was built");
    assert_eq!(error.kind(), TokenErrorKind::Configuration);
    // The same endpoint spelled another way is the fetcher's (`IssuedTo::is_same_as`).
    let source = TokenSource::builder()
        .store(store.clone())
        .fetcher(Stamping(fetchers))
        .issued_to(IssuedTo::new(
            "HTTPS://AS.example.com:443/token",
            "client-1",
        ))
        .build()
        .await
        .unwrap();
    assert_eq!(common::access_token(&source).await, "from-r0");
}

/// A refreshing fetcher that, as a `GrantClient`'s does, says which endpoint and client it
/// fetches from and records them on each token: `r` is refreshed to `from-r`, an hour.
struct Stamping(oauth_core::oauth2::IssuedTo);

impl tower_oauth2::source::TokenFetcher for Stamping {
    fn fetch(&self, current: Option<&Token>) -> tower_oauth2::source::FetchFuture {
        let rt = current
            .and_then(|t| t.refresh_token())
            .map(|r| r.secret().to_owned())
            .unwrap_or_default();
        let token = bearer_expiring_in(&format!("from-{rt}"), &format!("next-{rt}"), 3600)
            .with_issued_to(Some(self.0.clone()));
        Box::pin(async move { Ok(token) })
    }

    fn issued_to(&self) -> Option<oauth_core::oauth2::IssuedTo> {
        Some(self.0.clone())
    }
}

/// The same for the DPoP key: `TokenSourceBuilder::dpop` wins over the fetcher's key, so a
/// source given another key than its `GrantClient::dpop` fetcher's sent every token the
/// fetcher bound to its own key with a proof by the other (every request failed with a DPoP
/// proof error, `DpopKeyMismatch`) and refused them from the store. Refused at build now.
#[tokio::test(start_paused = true)]
async fn a_source_whose_dpop_key_is_not_its_fetchers_is_refused_at_build() {
    use oauth_core::oauth2::EcP256PrivateKey;
    let other = oauth_core::oauth2::DpopKey::es256(
        EcP256PrivateKey::from_pem(&EcP256PrivateKey::generate_pkcs8_pem().unwrap()).unwrap(),
    );
    assert_ne!(other.thumbprint(), common::dpop_key().thumbprint());
    let built = TokenSource::builder()
        .fetcher(Bound(common::dpop_key()))
        .dpop(other)
        .build()
        .await;
    let error = built.expect_err("a source refusing its own fetcher's tokens was built");
    assert_eq!(error.kind(), TokenErrorKind::Configuration);
    // The fetcher's own key, given again, is fine.
    let source = TokenSource::builder()
        .token(common::dpop_token("tok-1"))
        .fetcher(Bound(common::dpop_key()))
        .dpop(common::dpop_key())
        .build()
        .await
        .unwrap();
    assert_eq!(common::access_token(&source).await, "tok-1");
}

/// A fetcher whose tokens are bound to its key, as a `GrantClient::dpop` fetcher's are.
struct Bound(oauth_core::oauth2::DpopKey);

impl tower_oauth2::source::TokenFetcher for Bound {
    fn fetch(&self, _: Option<&Token>) -> tower_oauth2::source::FetchFuture {
        Box::pin(async { Ok(common::dpop_token("tok-2")) })
    }

    fn dpop_key(&self) -> Option<&oauth_core::oauth2::DpopKey> {
        Some(&self.0)
    }
}

/// A follower told its issuer and client (`issued_to`), or with no DPoP key, leaves another
/// configuration's tokens alone (5da762b). But a look that found a live token it would not
/// take up for that reason said nothing: past expiry the follower fails with `NoToken`
/// ("authorize first") while the store holds a live token, and the log had no word of why
/// (a mistyped `issued_to`, a refresher configured with another client or a DPoP key). The
/// build says so for the token it finds then; a look now says so too (no token in the log).
#[tokio::test(start_paused = true)]
async fn a_look_that_finds_another_configurations_token_says_so_in_the_log() {
    use oauth_core::oauth2::IssuedTo;
    use std::time::Duration;
    use tower_oauth2::store::TokenStore;

    let (log, _guard) = capture();
    let here = IssuedTo::new("https://as.example.com/token", "worker");
    let store = MemoryStore::with_token(
        bearer_expiring_in("SENTINEL-a1", "SENTINEL-r1", 10).with_issued_to(Some(here.clone())),
    );
    let source = TokenSource::builder()
        .store(store.clone())
        .issued_to(here)
        .build()
        .await
        .unwrap();
    assert_eq!(common::access_token(&source).await, "SENTINEL-a1");
    assert!(log.text().is_empty());
    // The process that refreshes saves a token issued to another client.
    let elsewhere = IssuedTo::new("https://as.example.com/token", "refresher");
    TokenStore::save(
        &store,
        &bearer_expiring_in("SENTINEL-a2", "SENTINEL-r2", 3600).with_issued_to(Some(elsewhere)),
    )
    .await
    .unwrap();
    tokio::time::sleep(Duration::from_secs(11)).await;
    let error = source.token().await.unwrap_err();
    assert_eq!(error.kind(), TokenErrorKind::NoToken);
    let text = log.text();
    assert!(
        text.contains("WARN") && text.contains("another client"),
        "the log says nothing of the token the look would not take up: {text}"
    );
    assert!(!text.contains("SENTINEL"), "{text}");
}

/// A client-credentials fetcher: each fetch asks for a new token.
struct ClientCredentials<F>(F);

impl<F, Fut> tower_oauth2::source::TokenFetcher for ClientCredentials<F>
where
    F: Fn(Option<&Token>) -> Fut + Send + Sync + 'static,
    Fut: std::future::Future<Output = Result<Token, TokenError>> + Send + 'static,
{
    fn fetch(&self, current: Option<&Token>) -> tower_oauth2::source::FetchFuture {
        Box::pin((self.0)(current))
    }

    fn fetches_new_tokens(&self) -> bool {
        true
    }
}

/// Checked (`in_store`, daa5609), as `has_unsaved_token` now says: a token given to the
/// builder with a `CallbackStore` (which does not take the starting token) is reported
/// unsaved until the first save, as before session 18; one the store holds is not.
#[tokio::test(start_paused = true)]
async fn a_callback_stores_starting_token_is_unsaved_until_the_first_save() {
    let store = tower_oauth2::store::CallbackStore::new(|_: &Token| Ok(()));
    let source = TokenSource::builder()
        .token(bearer_expiring_in("a1", "r1", 3600))
        .store(store)
        .build()
        .await
        .unwrap();
    assert!(source.has_unsaved_token());
    let store = MemoryStore::with_token(bearer_expiring_in("a1", "r1", 3600));
    let given = store.get().unwrap();
    let source = TokenSource::builder()
        .token(given)
        .store(store)
        .build()
        .await
        .unwrap();
    assert!(!source.has_unsaved_token());
}

/// A `CallbackStore` that holds another token (one an earlier source over it saved) does not
/// hold the token given to the builder, which it is not told of: that token is unsaved until
/// the first save, as with an empty `CallbackStore` (`has_unsaved_token`'s doc). Only a given
/// token equal to the stored one counts as in the store.
#[tokio::test(start_paused = true)]
async fn a_callback_store_holding_another_token_leaves_the_given_one_unsaved() {
    use tower_oauth2::store::TokenStore as _;
    let store = tower_oauth2::store::CallbackStore::new(|_: &Token| Ok(()));
    store
        .save(&bearer_expiring_in("earlier", "r0", 3600))
        .await
        .unwrap();
    let source = TokenSource::builder()
        .token(bearer_expiring_in("a1", "r1", 3600))
        .store(store.clone())
        .build()
        .await
        .unwrap();
    assert_eq!(source.current().unwrap().access_token().secret(), "a1");
    assert!(source.has_unsaved_token());
    // (The store was not told of it.)
    let stored = store.load().await.unwrap().unwrap();
    assert_eq!(stored.access_token().secret(), "earlier");
}
