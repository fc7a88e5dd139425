//! [`TokenFetcher`]: where a [`TokenSource`](super::TokenSource)'s new tokens come from.

use std::future::Future;
use std::pin::Pin;

use oauth_core::oauth2::{DpopKey, IssuedTo, Token};

use super::error::TokenError;
use crate::clock::TokenClock;

/// A boxed future returning a fetched token.
pub type FetchFuture = Pin<Box<dyn Future<Output = Result<Token, TokenError>> + Send + 'static>>;

/// Where new tokens come from: a refresh-token grant, a client-credentials grant, or anything
/// else (see [`crate::GrantClient`] for the standard ones).
pub trait TokenFetcher: Send + Sync + 'static {
    /// Fetches a token to replace `current` (the token in use, with its refresh token, if any).
    fn fetch(&self, current: Option<&Token>) -> FetchFuture;

    /// Whether each fetch asks for a brand-new token (client credentials) rather than
    /// refreshing the current one; such a source needs no initial token.
    fn fetches_new_tokens(&self) -> bool {
        false
    }

    /// The DPoP key the fetched tokens are bound to, if any (RFC 9449): the token source uses
    /// it to send them with a proof per request.
    fn dpop_key(&self) -> Option<&DpopKey> {
        None
    }

    /// The token endpoint and client this fetcher's tokens are issued by and to, if it knows
    /// ([`IssuedTo`]). A token source does not use a stored token recorded as issued elsewhere
    /// (a token file shared by two configurations). Default: none.
    fn issued_to(&self) -> Option<IssuedTo> {
        None
    }

    /// The clock this fetcher dates its tokens by (a [`GrantClient`](crate::GrantClient)'s
    /// `expires_at` is the time its request was sent plus `expires_in`): a source built with no clock of its own judges their expiry by the
    /// same one. Two [`TokioClock`]s read the system time when they are made, so a step of the
    /// system clock between making the fetcher and the source would otherwise put them apart.
    /// A [`GrantClient`](crate::GrantClient)'s fetchers offer its clock. Default: none (the
    /// source makes a new [`TokioClock`]).
    ///
    /// [`TokioClock`]: crate::clock::TokioClock
    fn clock(&self) -> Option<TokenClock> {
        None
    }
}

/// A closure is a fetcher that refreshes: it keeps the default
/// [`fetches_new_tokens`](TokenFetcher::fetches_new_tokens) (`false`), so a source that has no
/// token yet answers [`TokenErrorKind::NoToken`](crate::TokenErrorKind::NoToken) without calling
/// it. For a fetcher that needs no token (client credentials with an extra parameter, say),
/// implement the trait and return `true` from `fetches_new_tokens`.
impl<F, Fut> TokenFetcher for F
where
    F: Fn(Option<&Token>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Token, TokenError>> + Send + 'static,
{
    fn fetch(&self, current: Option<&Token>) -> FetchFuture {
        Box::pin(self(current))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::source::TokenErrorKind;

    /// A fetcher that says nothing of itself (here a closure) refreshes the current token, and
    /// offers no DPoP key, no `issued_to` and no clock, as the trait documents: a source built
    /// over it, or a wrapper fetcher that falls back to its own when the inner one offers none,
    /// relies on that.
    #[test]
    fn a_plain_fetcher_offers_none_of_the_optional_parts() {
        let fetcher =
            |_: Option<&Token>| async { Err(TokenError::new(TokenErrorKind::Transient, None)) };
        assert!(!fetcher.fetches_new_tokens());
        assert!(fetcher.dpop_key().is_none());
        assert!(fetcher.issued_to().is_none());
        assert!(fetcher.clock().is_none());
    }
}
