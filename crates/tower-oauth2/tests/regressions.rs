//! Regressions found by the interop tests against the real `oidc-provider`
//! (`crates/interop-tests/tests/oauth2_interop.rs`), reduced to closure mocks.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use oauth_core::oauth2::Token;
use tower_oauth2::TokenSource;
use tower_oauth2::source::{FetchFuture, TokenError, TokenErrorKind, TokenFetcher};

/// A client-credentials fetcher whose client is misconfigured (`invalid_client`).
struct RejectedClient(Arc<AtomicUsize>);

impl TokenFetcher for RejectedClient {
    fn fetch(&self, _current: Option<&Token>) -> FetchFuture {
        self.0.fetch_add(1, Ordering::SeqCst);
        Box::pin(async { Err(TokenError::new(TokenErrorKind::Configuration, None)) })
    }

    fn fetches_new_tokens(&self) -> bool {
        true
    }
}

/// With no token yet, a terminal failure of the first client-credentials fetch must stick:
/// the server saw one `invalid_client` per API call before the fix (a request storm with
/// bad credentials; SECURITY.md §4.4 #37, §4.5 #46).
#[tokio::test]
async fn a_terminal_failure_with_no_token_yet_is_not_refetched_on_every_call() {
    let fetches = Arc::new(AtomicUsize::new(0));
    let source = TokenSource::builder()
        .fetcher(RejectedClient(fetches.clone()))
        .build()
        .await
        .unwrap();
    for _ in 0..5 {
        let error = source.token().await.unwrap_err();
        assert_eq!(error.kind(), TokenErrorKind::Configuration);
    }
    assert_eq!(fetches.load(Ordering::SeqCst), 1);
    assert_eq!(source.fetch_count(), 1);
}
