//! [`TokenSource`]: the current token, and the single refresh that replaces it.
//!
//! However many requests need a new token at once, one fetch is in flight; every waiter gets its
//! result (the same failure too, shared through an `Arc`). The fetch runs as its own tokio task,
//! so a waiter that is dropped cancels nothing and wedges nobody. A failed fetch keeps the old
//! token and is followed by a back-off, not a storm; `invalid_grant` is terminal until a new
//! token is set, here or, with a store, by another process sharing it (the user logged in again
//! there): a refused source (as one whose token expired with no refresh token, or one that has
//! no token yet because the store was empty at start) reads its store
//! again while requests come, at most once per [`RefreshPolicy::min_interval`] (and a second),
//! and takes up a token another process saved, refreshing it if it has expired (a live one
//! with no refresh token is used as it is); the refused refresh token is never sent again, and
//! the request that started a look waits for it at most 5 s (a store that hangs). (A
//! client-credentials source refused, for its client or its grant, asks again
//! after the longest back-off: nothing is spent by asking, and a long-running service recovers
//! once the client is fixed at the server.) A source with a store and no fetcher follows the
//! store, where another process saves the tokens it refreshes: it looks there in the same way
//! from the refresh margin on (see [`TokenSourceBuilder::store`]). A fetched token is saved to
//! the store before any request uses it; if the save fails it is used all the same, since the
//! old refresh token may be spent already (a warning, and [`TokenSource::has_unsaved_token`],
//! say so), and saved again in the background, with the refresh policy's back-off, until the
//! store takes it (never over a token another process saved meanwhile: see
//! [`TokenSource::has_unsaved_token`]).
//!
//! On the fast path no clock is read: each token entry carries a flag that a tokio timer raises
//! when the refresh margin begins, and at least a second before expiry (or when a newer token
//! replaces it), so checking freshness is one atomic load (two, with the check that the timer
//! is still alive: a timer whose runtime was dropped, or that has no time driver, never fires,
//! and the clock is read instead).

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, SystemTime};

use http::HeaderValue;
use oauth_core::clock::{Clock, deadline_after};
use oauth_core::oauth2::{
    Action, DpopKey, ErrorCode, IssuedTo, RefreshFailure, RefreshPolicy, RefreshState, Terminal,
    Token, TokenResponseError, TokenType,
};
use oauth_core::secret::{AccessToken, RefreshToken};
use tokio::sync::watch;
use tokio::task::JoinHandle;
use tower::BoxError;

use crate::clock::TokenClock;
use crate::store::{REFRESH_LOCK_WAIT, STORE_CALL_WAIT, TokenStore, bounded};

/// How many tokens whose save failed a source remembers as possibly its own in the store.
const MAX_UNCONFIRMED: usize = 8;

/// How many refresh tokens the server refused (`invalid_grant`) a source remembers.
const MAX_REFUSED: usize = 8;

/// The shortest wait between two looks at the store by a source whose grant was refused.
const MIN_STORE_PROBE_WAIT: Duration = Duration::from_secs(1);

/// How long a request on a source whose grant was refused waits for the look at the store it
/// started; past it, the refusal is its answer and the look goes on (a store that hangs).
const STORE_PROBE_CALLER_WAIT: Duration = Duration::from_secs(5);

/// How long before its token expires an entry goes stale at the latest, whatever the refresh
/// margin: the fast path trusts the flag a timer raises, and a timer task can run late.
const STALE_LEAD: Duration = Duration::from_secs(1);

/// The shortest wait between two background saves of a token whose save failed.
const MIN_SAVE_RETRY_WAIT: Duration = Duration::from_secs(1);

/// The wait for [`TokenStore::lock_refresh`]: the stores' own wait for another refresh, and
/// then a store call's.
const LOCK_CALL_WAIT: Duration = REFRESH_LOCK_WAIT.saturating_add(STORE_CALL_WAIT);

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

    /// The clock this fetcher dates its tokens by (their `expires_at` is its time of receipt
    /// plus `expires_in`): a source built with no clock of its own judges their expiry by the
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

impl<F, Fut> TokenFetcher for F
where
    F: Fn(Option<&Token>) -> Fut + Send + Sync + 'static,
    Fut: Future<Output = Result<Token, TokenError>> + Send + 'static,
{
    fn fetch(&self, current: Option<&Token>) -> FetchFuture {
        Box::pin(self(current))
    }
}

/// Why no token could be had. Its `Display` never contains a token or a secret.
#[derive(Debug, thiserror::Error)]
#[error("{}", self.headline())]
pub struct TokenError {
    kind: TokenErrorKind,
    code: Option<ErrorCode>,
    retry_after: Option<Duration>,
    #[source]
    source: Option<BoxError>,
}

/// What kind of failure a [`TokenError`] is, and so what the application should do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum TokenErrorKind {
    /// The token endpoint failed or could not be reached (network, DNS or TLS failure,
    /// timeout, 5xx, 408, 429, `temporarily_unavailable`), or the source is backing off after
    /// such a failure: try again later; the old token was kept.
    #[error(
        "no new token for now (token endpoint failing or unreachable, or backing off): try again later"
    )]
    Transient,
    /// The grant is dead (`invalid_grant`): the user must authorize again. (A
    /// client-credentials source, which has no user, asks again after
    /// [`RefreshPolicy::max_backoff`], as for [`Configuration`](Self::Configuration).)
    #[error("the grant can no longer be used: authorization is needed again")]
    Reauthorize,
    /// The client's configuration does not work with this server, and sending the same
    /// request again will not change that: it was refused (`invalid_client`,
    /// `unauthorized_client`, `invalid_scope`, ...), or the server's token responses are not
    /// valid tokens (fix with a compliance hook), or its tokens are not DPoP-bound as asked
    /// (or are, to a source with no DPoP key), or the request cannot be made at all (a client
    /// assertion its key cannot sign). From [`TokenSourceBuilder::build`]: the source's
    /// `issued_to` or DPoP key is not its fetcher's.
    /// A client-credentials source asks again after [`RefreshPolicy::max_backoff`], in case
    /// the client was fixed at the server; a user grant's refresh is not tried again.
    #[error("the client's configuration does not work with the authorization server")]
    Configuration,
    /// The token endpoint answered with something that is not a usable token.
    #[error("the token endpoint's response is not a usable token")]
    InvalidResponse,
    /// There is no token and no way to fetch one. (A source with a store and a refreshing
    /// fetcher, or with a store and no fetcher, looks at its store again while requests come,
    /// at most once per [`RefreshPolicy::min_interval`], and takes up a token saved there by
    /// another process: see [`TokenSourceBuilder::store`].)
    #[error(
        "no token is available, and none can be fetched without one (no fetcher, or one that refreshes): authorize first"
    )]
    NoToken,
    /// The token store failed: loading it when the source was built (with no token given),
    /// or saving a token.
    #[error("the token store failed")]
    Store,
    /// Refreshing needs a tokio runtime with timers (`enable_all` or `enable_time`), and the
    /// current one has none, or there is no runtime at all. Nothing was sent; the next call
    /// from a runtime that has them refreshes.
    #[error("refreshing tokens needs a tokio runtime with timers")]
    NoRuntime,
}

impl TokenError {
    /// A failure of the given kind, with an optional cause (which must not contain secrets).
    pub fn new(kind: TokenErrorKind, source: Option<BoxError>) -> Self {
        Self {
            kind,
            code: None,
            retry_after: None,
            source,
        }
    }

    /// The kind's message, or, for a server whose token responses are not valid tokens, one
    /// that does not blame the client's configuration.
    fn headline(&self) -> std::borrow::Cow<'static, str> {
        let malformed_token = self.kind == TokenErrorKind::Configuration
            && self
                .source
                .as_deref()
                .and_then(|source| source.downcast_ref::<TokenResponseError>())
                .is_some_and(TokenResponseError::is_malformed_token);
        if malformed_token {
            return "the token endpoint's responses are not valid tokens (see the cause; a \
                    compliance hook may accept this server's format): not retried"
                .into();
        }
        match &self.code {
            Some(code) => format!("{} ({code})", self.kind).into(),
            None => self.kind.to_string().into(),
        }
    }

    /// The same failure, with the server's `Retry-After`: a [`TokenSource`] does not try
    /// again before it has passed (within its maximum back-off).
    pub fn with_retry_after(mut self, retry_after: Option<Duration>) -> Self {
        self.retry_after = retry_after;
        self
    }

    /// The server's `Retry-After`, if it sent one.
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// Classifies a token endpoint's failure (RFC 6749 §5.2): `invalid_grant` is
    /// [`TokenErrorKind::Reauthorize`]; client errors (see
    /// [`RefreshFailure::from_response_error`]) are [`TokenErrorKind::Configuration`], and so
    /// is a success response that is JSON but not a valid token (a member missing or of the
    /// wrong type): the server answers that way every time, needs a
    /// [`ComplianceHook`](oauth_core::oauth2::ComplianceHook), and on a refresh it may already
    /// have rotated the refresh token, which must not be spent again. Other server errors are
    /// [`TokenErrorKind::Transient`], and a body that is not a token response at all (an HTML
    /// page, a proxy's error) is [`TokenErrorKind::InvalidResponse`]; both back off and keep
    /// the old token.
    pub fn from_response(error: TokenResponseError) -> Self {
        let code = error.oauth_error().map(|e| e.code.clone());
        let kind = match RefreshFailure::from_response_error(&error) {
            RefreshFailure::InvalidGrant => TokenErrorKind::Reauthorize,
            RefreshFailure::ClientMisconfigured(_) => TokenErrorKind::Configuration,
            RefreshFailure::Transient if error.is_malformed_token() => {
                TokenErrorKind::Configuration
            }
            RefreshFailure::Transient if error.is_transient() || code.is_some() => {
                TokenErrorKind::Transient
            }
            RefreshFailure::Transient => TokenErrorKind::InvalidResponse,
        };
        Self {
            kind,
            code,
            retry_after: None,
            source: Some(Box::new(error)),
        }
    }

    /// The OAuth error code the token endpoint sent, if any; `unsendable_token` for a token
    /// this library cannot send ([`UnsendableToken`]), which no server sends.
    pub fn error_code(&self) -> Option<&ErrorCode> {
        self.code.as_ref()
    }

    fn failure(&self) -> RefreshFailure {
        match self.kind {
            TokenErrorKind::Reauthorize => RefreshFailure::InvalidGrant,
            TokenErrorKind::Configuration => RefreshFailure::ClientMisconfigured(
                self.code.clone().unwrap_or(ErrorCode::InvalidClient),
            ),
            _ => RefreshFailure::Transient,
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> TokenErrorKind {
        self.kind
    }

    /// Whether the failure ends the grant: no further refresh will be tried (for a
    /// client-credentials source, none before [`RefreshPolicy::max_backoff`] has passed).
    pub fn is_terminal(&self) -> bool {
        matches!(
            self.kind,
            TokenErrorKind::Reauthorize | TokenErrorKind::Configuration
        )
    }
}

/// The current access token and the single-flight refresh that replaces it; cheap to clone
/// (clones share everything).
///
/// When to refresh is decided by oauth-core's [`RefreshState`] machine; this type adds the
/// locking, the background fetch task, the store, and the freshness flag the middleware reads.
///
/// # Example
///
/// A user's token, refreshed with its refresh token and saved to a store before use:
///
/// ```
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::{Duration, SystemTime};
/// use bytes::Bytes;
/// use http::{Request, Response};
/// use http_body_util::Full;
/// use oauth_core::oauth2::{Client, Endpoint, Token, TokenType};
/// use oauth_core::secret::{AccessToken, RefreshToken};
/// use tower_oauth2::store::MemoryStore;
/// use tower_oauth2::{GrantClient, TokenSource};
///
/// # let token_http_client = tower::service_fn(|_req: Request<Full<Bytes>>| async move {
/// #     let body = r#"{"access_token":"new-token","token_type":"Bearer","expires_in":3600}"#;
/// #     Ok::<_, std::convert::Infallible>(Response::builder()
/// #         .header("content-type", "application/json")
/// #         .body(Full::new(Bytes::from(body))).unwrap())
/// # });
/// let grants = GrantClient::new(
///     token_http_client,
///     Endpoint::new("https://server.example.com/token")?,
///     Client::public("my-app"),
/// );
/// let expired = Token::new(AccessToken::new("old-token"), TokenType::Bearer)
///     .with_expires_at(Some(SystemTime::now() - Duration::from_secs(1)))
///     .with_refresh_token(Some(RefreshToken::new("tGzv3JOkF0XG5Qx2TlKWIA")));
/// let store = MemoryStore::new();
/// let source = TokenSource::builder()
///     .token(expired)
///     .fetcher(grants.refresh_fetcher())
///     .store(store.clone())
///     .build()
///     .await?;
///
/// // However many callers ask at once, one refresh is sent; the response had no refresh token,
/// // so the old one is kept (RFC 6749 §6), and the store had the new token before we did.
/// let token = source.token().await?;
/// assert_eq!(token.access_token().secret(), "new-token");
/// assert_eq!(token.refresh_token().unwrap().secret(), "tGzv3JOkF0XG5Qx2TlKWIA");
/// assert_eq!(store.get().unwrap().access_token().secret(), "new-token");
/// assert_eq!(source.fetch_count(), 1);
/// # Ok(()) }
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(demo()).unwrap();
/// ```
#[derive(Clone)]
pub struct TokenSource {
    inner: Arc<Inner>,
}

struct Inner {
    state: Mutex<State>,
    done: watch::Sender<u64>,
    fetcher: Option<Arc<dyn TokenFetcher>>,
    store: Option<Arc<dyn TokenStore>>,
    /// Held from "is this still the token in use?" to the end of the store write it decides
    /// on (a refresh's save, `replace_token`'s save and switch, telling the store a grant was
    /// revoked), so that this source's own writes never interleave, even with a store whose
    /// [`TokenStore::lock_refresh`] takes no lock.
    store_writes: tokio::sync::Mutex<()>,
    clock: TokenClock,
    timers: bool,
    policy: RefreshPolicy,
    dpop: Option<DpopKey>,
    /// The token endpoint and client this source's tokens are issued by and to, if known:
    /// [`TokenSourceBuilder::issued_to`], or else the fetcher's.
    issued_to: Option<IssuedTo>,
}

#[derive(Default)]
struct State {
    machine: Option<RefreshState>,
    entry: Option<Arc<Entry>>,
    generation: u64,
    in_flight: bool,
    /// Number of finished fetches, and the result of the last one.
    epoch: u64,
    last: Option<Result<Arc<Entry>, Arc<TokenError>>>,
    fetches: u64,
    /// For a source with no token yet (client credentials): no new fetch before this, after
    /// `failures` failed ones in a row (doubling back-off, at least the server's Retry-After).
    retry_not_before: Option<SystemTime>,
    failures: u32,
    /// The stored token this source has accounted for: the one it last read from or wrote
    /// to its store, or built a refresh on that the server answered (`None` until it has
    /// looked; `Some(None)`: the store was empty). Another one in the store means another
    /// process wrote it meanwhile.
    store_view: Option<Option<StoredIdentity>>,
    /// This source's tokens whose save failed (the newest [`MAX_UNCONFIRMED`]): a failed save
    /// may have landed all the same (cut off by its deadline, or a store that wrote and then
    /// reported an error), so the store may hold one of them. Such a stored token is this
    /// source's own, older than the one it replaced it with, and its refresh token may be spent:
    /// never another process's token to take up, nor one to keep a newer token from.
    unconfirmed: Vec<StoredIdentity>,
    /// The refresh tokens the server refused for good (the newest [`MAX_REFUSED`]): a stored
    /// token carrying one (another access token with the refused refresh token: a server that
    /// does not rotate them, and another process's save that landed, or was retried, after the
    /// refusal) is never taken up, so the refused refresh token is never sent again.
    refused: Vec<RefreshToken>,
    /// The token in use is not in the store: its save failed, or `set_token` installed it (see
    /// `TokenSource::has_unsaved_token`).
    unsaved: bool,
    /// When a source whose grant was refused last looked for another process's token in its
    /// store (`Inner::start_store_probe`).
    probed_at: Option<SystemTime>,
    /// Until when requests wait for the look at the store in flight (5 s after it started,
    /// on tokio's clock): a look at a store that hangs keeps no request waiting past it,
    /// however late the request comes. (A request with no tokio timers waits for the look.)
    look_deadline: Option<tokio::time::Instant>,
}

impl State {
    /// Remembers that `token`'s save failed: the store may hold it all the same.
    fn save_failed(&mut self, token: &Token) {
        remember(
            &mut self.unconfirmed,
            StoredIdentity::of(token),
            MAX_UNCONFIRMED,
        );
    }

    /// Whether `stored` is a token of this source's whose save failed (and landed).
    fn saved_unconfirmed(&self, stored: &StoredIdentity) -> bool {
        self.unconfirmed.contains(stored)
    }

    /// Remembers that the server refused `token`'s refresh token for good (see
    /// `Inner::refresh_refused`).
    fn refresh_refused(&mut self, token: Option<&Token>) {
        let Some(refresh_token) = token.and_then(Token::refresh_token) else {
            return;
        };
        remember(&mut self.refused, refresh_token.clone(), MAX_REFUSED);
    }

    /// Whether `stored` is not to be taken up from the store as another process's token: one
    /// of this source's whose save failed, or one whose refresh token the server refused.
    fn not_to_take_up(&self, stored: &Token) -> bool {
        self.saved_unconfirmed(&StoredIdentity::of(stored))
            || stored
                .refresh_token()
                .is_some_and(|refresh_token| self.refused.contains(refresh_token))
    }
}

/// Adds `item` to `recent` unless it is there, dropping the oldest entry past `max`.
fn remember<T: PartialEq>(recent: &mut Vec<T>, item: T, max: usize) {
    if !recent.contains(&item) {
        if recent.len() == max {
            recent.remove(0);
        }
        recent.push(item);
    }
}

/// A token as the middleware uses it: the ready-made header, and the freshness flag.
pub(crate) struct Entry {
    token: Token,
    /// `Bearer <token>`, or `DPoP <token>` for a token that needs a proof with each request.
    header: HeaderValue,
    needs_proof: bool,
    generation: u64,
    refresh_at: Option<SystemTime>,
    stale: AtomicBool,
    /// Read for freshness when there is no timer (custom clock, or no runtime yet), or when
    /// the timer ended without raising `stale` (its runtime was dropped, or has no time
    /// driver). `Some` whenever `refresh_at` is.
    clock: Option<TokenClock>,
    timer: Option<JoinHandle<()>>,
}

impl Entry {
    #[inline]
    pub(crate) fn header(&self) -> &HeaderValue {
        &self.header
    }

    /// Whether the token is DPoP-bound: [`header`](Self::header) goes out only with a proof.
    #[inline]
    pub(crate) fn needs_proof(&self) -> bool {
        self.needs_proof
    }

    pub(crate) fn token(&self) -> &Token {
        &self.token
    }

    #[inline]
    pub(crate) fn generation(&self) -> u64 {
        self.generation
    }

    /// Fresh: not replaced, not rejected, not inside the refresh margin.
    #[inline]
    pub(crate) fn is_fresh(&self) -> bool {
        if self.stale.load(Ordering::Acquire) {
            return false;
        }
        // A running timer raises `stale` in time. One that finished without raising it died
        // with its runtime (a source built in one runtime and used in another), or panicked
        // (a runtime without timers): then the clock decides.
        if self
            .timer
            .as_ref()
            .is_some_and(|timer| !timer.is_finished())
        {
            return true;
        }
        match (&self.clock, self.refresh_at) {
            (Some(clock), Some(at)) => clock.now() < at,
            _ => true,
        }
    }
}

impl Drop for Entry {
    fn drop(&mut self) {
        if let Some(timer) = self.timer.take() {
            timer.abort();
        }
    }
}

impl fmt::Debug for Entry {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Entry")
            .field("token", &self.token)
            .field("generation", &self.generation)
            .field("stale", &self.stale)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for TokenSource {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = self.inner.lock();
        f.debug_struct("TokenSource")
            .field("token", &state.machine.as_ref().map(|m| m.token()))
            .field("generation", &state.generation)
            .field("in_flight", &state.in_flight)
            .field(
                "terminal",
                &state.machine.as_ref().and_then(|m| m.terminal()),
            )
            .finish_non_exhaustive()
    }
}

/// Builds a [`TokenSource`]: a starting token, a fetcher, a store, a refresh policy (each
/// optional). [`TokenSource`]'s example refreshes a user's token into a store.
///
/// # Example
///
/// A service's own token (client credentials), refreshed two minutes before it expires, and
/// asked for again at most a minute after the token endpoint failed:
///
/// ```
/// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
/// use std::time::Duration;
/// use bytes::Bytes;
/// use http::{Request, Response};
/// use http_body_util::Full;
/// use oauth_core::oauth2::{Client, Endpoint, RefreshPolicy, Scope};
/// use oauth_core::secret::ClientSecret;
/// use tower_oauth2::{GrantClient, TokenSource};
///
/// # let token_http_client = tower::service_fn(|_req: Request<Full<Bytes>>| async move {
/// #     let body = r#"{"access_token":"service-token","token_type":"Bearer","expires_in":3600}"#;
/// #     Ok::<_, std::convert::Infallible>(Response::builder()
/// #         .header("content-type", "application/json")
/// #         .body(Full::new(Bytes::from(body))).unwrap())
/// # });
/// let grants = GrantClient::new(
///     token_http_client,
///     Endpoint::new("https://server.example.com/token")?,
///     Client::secret_basic("my-service", ClientSecret::new("gX1fBat3bV")),
/// );
/// let source = TokenSource::builder()
///     .fetcher(grants.client_credentials_fetcher(Some(Scope::parse("reports:read"))))
///     .policy(RefreshPolicy {
///         margin: Duration::from_secs(120),
///         max_backoff: Duration::from_secs(60),
///         ..RefreshPolicy::default()
///     })
///     .build()
///     .await?;
///
/// // `build` fetches nothing: the first token is fetched when it is first needed. Asking for
/// // it at start-up makes wrong credentials fail here rather than at the first request.
/// assert_eq!(source.fetch_count(), 0);
/// assert_eq!(source.token().await?.access_token().secret(), "service-token");
/// assert_eq!(source.fetch_count(), 1);
/// # Ok(()) }
/// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(demo()).unwrap();
/// ```
#[must_use]
pub struct TokenSourceBuilder {
    token: Option<Token>,
    fetcher: Option<Arc<dyn TokenFetcher>>,
    store: Option<Arc<dyn TokenStore>>,
    clock: Option<TokenClock>,
    policy: RefreshPolicy,
    dpop: Option<DpopKey>,
    issued_to: Option<IssuedTo>,
}

impl fmt::Debug for TokenSourceBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TokenSourceBuilder")
            .field("token", &self.token)
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl TokenSourceBuilder {
    /// Starts with this token (otherwise the store's, or the first fetch's). With a
    /// [`store`](Self::store) too, [`build`](Self::build) saves it there (unless the store
    /// holds it already, or is a [`CallbackStore`](crate::store::CallbackStore); see
    /// [`TokenStore::saves_starting_token`]), as [`TokenSource::replace_token`] does: a token
    /// just exchanged for an authorization code outlives the process (a failed save is logged,
    /// and the token used all the same). The given token is used as it is: unlike a stored
    /// one, it is not checked against the fetcher's token endpoint and client, nor against the
    /// DPoP key (a token bound to another key fails each request with a DPoP proof error, and
    /// a [`GrantClient`](crate::GrantClient) refuses to refresh it, a configuration error).
    pub fn token(mut self, token: Token) -> Self {
        self.token = Some(token);
        self
    }

    /// Fetches new tokens with `fetcher`.
    pub fn fetcher(mut self, fetcher: impl TokenFetcher) -> Self {
        self.fetcher = Some(Arc::new(fetcher));
        self
    }

    /// Saves every new token to `store` before it is used (the one given to
    /// [`token`](Self::token) too), and starts with the stored token when none is given. A
    /// token whose save fails is used all the same (see [`TokenSource::has_unsaved_token`]).
    ///
    /// A source with a store and **no fetcher follows the store**: another process (one with
    /// a fetcher, sharing the store) refreshes the token and saves it there, and this source
    /// takes it up. From the refresh margin on (and once its token has expired, or when the
    /// store was empty at start), it reads the store again while requests come, at most once
    /// per [`RefreshPolicy::min_interval`] (and a second), and takes up a token it has not
    /// seen there before that has not expired (a request that needs it waits for the read at
    /// most 5 s). Until then it uses its token while that is valid; past expiry a request fails
    /// with [`TokenErrorKind::NoToken`]. A 401 from a resource server (with
    /// [`OAuth2Layer`](crate::OAuth2Layer)'s retry policy) or [`TokenSource::refresh`] makes it
    /// look too, and the request is sent again with a newer stored token; with none, the
    /// refused token stays in use. It writes to the store only the tokens the application
    /// gives it ([`token`](Self::token), [`TokenSource::replace_token`]).
    ///
    /// ```
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use std::time::{Duration, SystemTime};
    /// use oauth_core::oauth2::{Token, TokenType};
    /// use oauth_core::secret::AccessToken;
    /// use tower_oauth2::store::{MemoryStore, TokenStore};
    /// use tower_oauth2::TokenSource;
    ///
    /// let expiring = |value: &str, secs| {
    ///     Token::new(AccessToken::new(value), TokenType::Bearer)
    ///         .with_expires_at(Some(SystemTime::now() + Duration::from_secs(secs)))
    /// };
    /// // Shared with the process that refreshes (a `FileStore`, or a database, in practice).
    /// let store = MemoryStore::with_token(expiring("first", 3600));
    /// let follower = TokenSource::builder().store(store.clone()).build().await?;
    /// assert_eq!(follower.token().await?.access_token().secret(), "first");
    ///
    /// // The other process refreshes and saves its new token. The follower takes it up from
    /// // its refresh margin on (the last 60 s by default); a 401, or `refresh`, makes it look
    /// // at once.
    /// store.save(&expiring("second", 7200)).await?;
    /// assert_eq!(follower.refresh().await?.access_token().secret(), "second");
    /// assert_eq!(follower.token().await?.access_token().secret(), "second");
    /// # Ok(()) }
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(demo()).unwrap();
    /// ```
    pub fn store(mut self, store: impl TokenStore) -> Self {
        self.store = Some(Arc::new(store));
        self
    }

    /// Reads time from `clock` instead of tokio's clock. Freshness is then checked against the
    /// clock on every request instead of by a timer, unless `clock` is a [`TokioClock`] (see
    /// [`TokenClock::new`]).
    ///
    /// Without it, the source uses its fetcher's clock ([`TokenFetcher::clock`]), or else a
    /// new [`TokioClock`].
    ///
    /// [`TokioClock`]: crate::clock::TokioClock
    pub fn clock(mut self, clock: impl Clock + 'static) -> Self {
        self.clock = Some(TokenClock::new(clock));
        self
    }

    /// When to refresh, how to back off (oauth-core's [`RefreshPolicy`]).
    pub fn policy(mut self, policy: RefreshPolicy) -> Self {
        self.policy = policy;
        self
    }

    /// The DPoP key the tokens are bound to (RFC 9449), for a source whose fetcher does not
    /// name one (a [`GrantClient::dpop`](crate::GrantClient::dpop) fetcher does; with one that
    /// does, it must be the same key, or [`build`](Self::build) fails with
    /// [`TokenErrorKind::Configuration`]): the
    /// middleware sends DPoP tokens with a proof made with it, and refuses tokens bound to
    /// another key. A stored token bound to another key (or a DPoP-bound one, for a source with
    /// no key) is not loaded, nor taken up later: it could be neither sent nor refreshed. (Nor
    /// does a source with no key use a DPoP token its fetcher gets: see [`UnsendableToken`].)
    pub fn dpop(mut self, key: DpopKey) -> Self {
        self.dpop = Some(key);
        self
    }

    /// The token endpoint and client this source's tokens are issued by and to, for a source
    /// whose fetcher does not say ([`TokenFetcher::issued_to`]; a
    /// [`GrantClient`](crate::GrantClient)'s fetchers do), or that has none: a source that
    /// follows a store another process refreshes (see [`store`](Self::store)). A stored token
    /// recorded as issued by another endpoint or to another client (a store shared with another
    /// configuration) is then not loaded, nor taken up later: its access token would go to
    /// the wrong API (RFC 6749 §10.4). With a fetcher that says, it must be the same
    /// ([`IssuedTo::is_same_as`]): [`build`](Self::build) fails with
    /// [`TokenErrorKind::Configuration`] otherwise (the source would refuse its own tokens).
    ///
    /// ```
    /// # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
    /// use oauth_core::oauth2::{IssuedTo, Token, TokenType};
    /// use oauth_core::secret::AccessToken;
    /// use tower_oauth2::store::MemoryStore;
    /// use tower_oauth2::{TokenErrorKind, TokenSource};
    ///
    /// let elsewhere = Token::new(AccessToken::new("theirs"), TokenType::Bearer)
    ///     .with_issued_to(Some(IssuedTo::new("https://other.example/token", "other-app")));
    /// let worker = TokenSource::builder()
    ///     .store(MemoryStore::with_token(elsewhere))
    ///     .issued_to(IssuedTo::new("https://server.example.com/token", "my-app"))
    ///     .build()
    ///     .await?;
    /// assert_eq!(worker.token().await.unwrap_err().kind(), TokenErrorKind::NoToken);
    /// # Ok(()) }
    /// # tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap().block_on(demo()).unwrap();
    /// ```
    pub fn issued_to(mut self, issued_to: IssuedTo) -> Self {
        self.issued_to = Some(issued_to);
        self
    }

    /// Builds the source, loading the store's token when no token was given, and saving the
    /// given one when the store does not hold it. Fails with [`TokenErrorKind::Store`] when
    /// no token was given and the store cannot be read, and with
    /// [`TokenErrorKind::Configuration`] when [`issued_to`](Self::issued_to) or
    /// [`dpop`](Self::dpop) is not the fetcher's. A given token is never dropped: when
    /// the store cannot be read (a corrupt token file, say), or the token cannot be saved, it
    /// is used all the same, with a warning (as a refreshed one is); a store that can be
    /// written again gets it (but, when it could not be read at build, not over a token that
    /// expires later than the given one: another process saved that one since).
    ///
    /// Nothing is fetched here: a source with no token yet (client credentials, say) fetches
    /// its first one for the first request, so wrong credentials show up there. To fail at
    /// start-up instead, call [`TokenSource::token`] once after building.
    pub async fn build(self) -> Result<TokenSource, TokenError> {
        // A source that would refuse the tokens its own fetcher gets (once stored) is a
        // configuration error, not a grant to lose at the next start.
        if let (Some(given), Some(fetchers)) = (
            &self.issued_to,
            self.fetcher.as_ref().and_then(|f| f.issued_to()),
        ) && !given.is_same_as(&fetchers)
        {
            return Err(TokenError::new(
                TokenErrorKind::Configuration,
                Some(
                    "TokenSourceBuilder::issued_to names another token endpoint or client than \
                     the fetcher's"
                        .into(),
                ),
            ));
        }
        // Nor a key other than the one its fetcher binds the tokens to.
        if let (Some(given), Some(fetchers)) =
            (&self.dpop, self.fetcher.as_ref().and_then(|f| f.dpop_key()))
            && given.thumbprint() != fetchers.thumbprint()
        {
            return Err(TokenError::new(
                TokenErrorKind::Configuration,
                Some("TokenSourceBuilder::dpop names another key than the fetcher's".into()),
            ));
        }
        let mut token = self.token.clone();
        let mut store_view = None;
        let mut to_save = None;
        let mut in_store = false;
        if let Some(store) = &self.store {
            let stored = match bounded("load", STORE_CALL_WAIT, || store.load()).await {
                Ok(stored) => {
                    store_view = Some(stored.as_ref().map(StoredIdentity::of));
                    stored
                }
                Err(error) if token.is_some() => {
                    // The given token (just exchanged for a single-use code, say) is newer
                    // than anything the store held: it replaces what cannot be read.
                    let cause = causes(&error);
                    tracing::warn!(%error, %cause, "the token store cannot be read; using the given token and saving it over the store's");
                    None
                }
                Err(error) => {
                    return Err(TokenError::new(TokenErrorKind::Store, Some(error.into())));
                }
            };
            // A stored token another server or client issued is not this source's: its
            // access token would go to the wrong API, its refresh token to the wrong server.
            // Nor is one bound to another DPoP key: it could be neither sent nor refreshed.
            let here = self
                .issued_to
                .clone()
                .or_else(|| self.fetcher.as_ref()?.issued_to());
            let dpop = self
                .dpop
                .as_ref()
                .or_else(|| self.fetcher.as_ref()?.dpop_key());
            let stored = match stored {
                Some(stored) if !stored.usable_by(here.as_ref(), dpop) => {
                    tracing::warn!(
                        "the token store holds a token issued by another token endpoint, to \
                         another client, or bound to another DPoP key (or to one, for a source \
                         with none); not using it (authorize again to replace it)"
                    );
                    None
                }
                stored => stored,
            };
            // (A token the store holds is not an unsaved one.)
            in_store = stored.is_some()
                && token
                    .as_ref()
                    .is_none_or(|given| stored.as_ref() == Some(given));
            match token.take() {
                None => token = stored,
                // A given token the store does not hold yet is saved (below) before use.
                Some(given) if store.saves_starting_token() && stored.as_ref() != Some(&given) => {
                    to_save = Some(given)
                }
                given => token = given,
            }
        }
        let source = self.build_with(token);
        {
            let mut state = source.inner.lock();
            state.store_view = store_view;
            if in_store {
                state.unsaved = false;
            }
        }
        if let Some(given) = to_save
            && let Err(error) = source.replace_token(given).await
        {
            // As after a refresh: the token stays in use, in memory.
            let cause = causes(&error);
            tracing::warn!(%error, %cause, "saving the given token failed; keeping it in memory");
        }
        Ok(source)
    }

    fn build_with(self, token: Option<Token>) -> TokenSource {
        let clock = self
            .clock
            .or_else(|| self.fetcher.as_ref()?.clock())
            .unwrap_or_default();
        let timers = clock.is_tokio();
        let dpop = self
            .dpop
            .or_else(|| self.fetcher.as_ref()?.dpop_key().cloned());
        let issued_to = self
            .issued_to
            .or_else(|| self.fetcher.as_ref()?.issued_to());
        let source = TokenSource {
            inner: Arc::new(Inner {
                state: Mutex::new(State::default()),
                done: watch::channel(0).0,
                dpop,
                issued_to,
                fetcher: self.fetcher,
                store: self.store,
                store_writes: tokio::sync::Mutex::new(()),
                clock,
                timers,
                policy: self.policy,
            }),
        };
        if let Some(token) = token {
            source.set_token(token);
        }
        source
    }
}

impl TokenSource {
    /// A source holding one token that is never refreshed (useful for tests and static tokens).
    pub fn from_token(token: Token) -> Self {
        Self::builder().build_with(Some(token))
    }

    /// A builder: set a token, a fetcher, a store and the refresh policy.
    pub fn builder() -> TokenSourceBuilder {
        TokenSourceBuilder {
            token: None,
            fetcher: None,
            store: None,
            clock: None,
            policy: RefreshPolicy::default(),
            dpop: None,
            issued_to: None,
        }
    }

    /// The token in use now, if any (fresh or not; also after a terminal failure, since a
    /// token is never deleted).
    pub fn current(&self) -> Option<Token> {
        self.inner
            .lock()
            .machine
            .as_ref()
            .map(|m| m.token().clone())
    }

    /// Whether the token in use failed to reach the store: its last save (after a refresh, or
    /// by [`replace_token`](Self::replace_token) or [`TokenSourceBuilder::build`]) failed or
    /// panicked (or the `replace_token` call was dropped during it), and a later one has not
    /// succeeded; or it was installed with
    /// [`set_token`](Self::set_token), which does not save, on a source with a store (as is a
    /// token given to the builder with a store that does not take the starting token, a
    /// [`CallbackStore`](crate::store::CallbackStore): until its first save). The
    /// token is used all the same (after a refresh the server may already have rotated the old
    /// refresh token away, so the new one is the only good copy), with a warning in the log;
    /// a process that stops now loses it, and the next start reloads the store's older token.
    ///
    /// After a failed save (or a `replace_token` dropped during it; not after `set_token`) the
    /// source saves the token again in the
    /// background, after [`RefreshPolicy::initial_backoff`], doubled after each failure up to
    /// [`RefreshPolicy::max_backoff`] (but at least a second apart), under the store's
    /// refresh lock, until a save succeeds, the token is replaced, or the server refuses its
    /// grant for good. It does not save over a token another process stored meanwhile: then
    /// this stays true until the next save. (The retries need a tokio
    /// runtime with timers, and stop when the source is dropped.) A health check can report
    /// this, or the application can save [`current`](Self::current) somewhere else.
    pub fn has_unsaved_token(&self) -> bool {
        self.inner.lock().unsaved
    }

    /// Replaces the token in memory only, clearing any failure: it is **not saved** to the
    /// source's store (this call does no I/O). After a login, on a source with a store, use
    /// [`replace_token`](Self::replace_token), which saves it. On a source
    /// with a store, [`has_unsaved_token`](Self::has_unsaved_token) is true until a save.
    pub fn set_token(&self, token: Token) {
        let mut state = self.inner.lock();
        self.install_token(&mut state, token);
        state.unsaved = self.inner.store.is_some();
    }

    fn install_token(&self, state: &mut State, token: Token) {
        // The application gave this token: its refresh token is tried (again) when it is due.
        if let Some(refresh_token) = token.refresh_token() {
            state.refused.retain(|refused| refused != refresh_token);
        }
        let now = self.inner.clock.now();
        let machine = self.inner.new_machine(token, now);
        self.inner.install(state, machine);
    }

    /// Replaces the token and saves it to the source's store, under the store's refresh lock
    /// ([`TokenStore::lock_refresh`]): a refresh running meanwhile (here, or in another
    /// process sharing the store) ends first, and this token is saved after its token, so the
    /// store ends with this one (this source's refresh result is not used either). Within one
    /// source that holds also for a store whose `lock_refresh` takes no lock: the source
    /// orders its own writes. The token is in use from the moment the store's lock is held,
    /// before it is saved, and stays in use even if saving it fails (the error says so) or the
    /// call is dropped during the save: [`has_unsaved_token`](Self::has_unsaved_token) is then
    /// true, and the save is done again in the background.
    ///
    /// Never call it from a fetcher: it would wait for the refresh that fetcher is part of.
    /// (The stores here give up waiting after [`REFRESH_LOCK_WAIT`].)
    pub async fn replace_token(&self, token: Token) -> Result<(), crate::store::StoreError> {
        let Some(store) = &self.inner.store else {
            self.set_token(token);
            return Ok(());
        };
        let _lock = lock_refresh(store.as_ref(), "replacing the token").await;
        let _writes = self.inner.store_writes.lock().await;
        // In use before it is in the store: a refresh that runs without the store's lock (it
        // failed, or the store takes none) and finds this token there has seen it replace the
        // one it refreshes, and does not spend its refresh token on a result it would drop.
        let generation = {
            let mut state = self.inner.lock();
            self.install_token(&mut state, token.clone());
            state.unsaved = true;
            state.generation
        };
        // A caller that gives up during the save leaves the token in use and unsaved: it is
        // then saved again in the background, as after a failed save.
        let mut dropped_during_save = SaveIfDropped {
            inner: &self.inner,
            token: Some(&token),
        };
        let saved = bounded("save", STORE_CALL_WAIT, || store.save(&token)).await;
        dropped_during_save.token = None;
        let mut state = self.inner.lock();
        match &saved {
            Ok(()) => {
                state.store_view = Some(Some(StoredIdentity::of(&token)));
                if state.generation == generation {
                    state.unsaved = false;
                }
            }
            Err(_) => {
                state.save_failed(&token);
                self.inner.save_later(&token);
            }
        }
        saved
    }

    /// The DPoP key this source's tokens are bound to: [`TokenSourceBuilder::dpop`], or else
    /// the fetcher's.
    pub fn dpop_key(&self) -> Option<&DpopKey> {
        self.inner.dpop.as_ref()
    }

    /// Whether this source can get a new token by itself (it has a fetcher). Without one, a
    /// token the server rejects cannot be replaced but by [`set_token`](Self::set_token), or,
    /// for a source with a store, by a token another process saves there (see
    /// [`TokenSourceBuilder::store`]).
    pub fn can_fetch(&self) -> bool {
        self.inner.fetcher.is_some()
    }

    /// Whether a token the resource server refuses may be replaced: the source can fetch one,
    /// or follows its store (another process may have saved a newer one there).
    pub(crate) fn can_replace_refused(&self) -> bool {
        self.inner.fetcher.is_some() || self.inner.follows_store()
    }

    /// How many fetches this source has started, counting one that ended without a request
    /// because, after waiting for the store's refresh lock, it found a token another source had
    /// just saved (or, after its refresh token was refused, could not read the store's newer
    /// one, and waits for it rather than send the refused one again), and a look at the store
    /// (after a refused grant, or by a source that follows its store) that found a token to
    /// take up. The token endpoint's own count is the one to watch for refresh storms.
    pub fn fetch_count(&self) -> u64 {
        self.inner.lock().fetches
    }

    /// A valid token, fetching one first if needed (and waiting for a fetch in flight).
    ///
    /// A token a resource server refused is replaced first, but not within
    /// [`RefreshPolicy::min_interval`] of the last refresh: until then this is the refused token
    /// (as on the requests the layer sends meanwhile).
    pub async fn token(&self) -> Result<Token, Arc<TokenError>> {
        self.acquire().await.map(|e| e.token.clone())
    }

    /// Forces a refresh past the current token (as after a 401) and returns the new token.
    ///
    /// Refreshes are at least [`RefreshPolicy::min_interval`] apart: within it of the last one,
    /// this is an error ([`TokenErrorKind::Transient`], or the last refresh's failure) rather
    /// than another refresh.
    ///
    /// A source that follows its store (a store and no fetcher: see
    /// [`TokenSourceBuilder::store`]) looks there instead (at most once per `min_interval`, and
    /// a second, waiting for the look at most 5 s): the newer token another process saved, or,
    /// with none, [`TokenErrorKind::Transient`] ([`TokenErrorKind::NoToken`] for a source with
    /// no token yet), and the token in use stays.
    pub async fn refresh(&self) -> Result<Token, Arc<TokenError>> {
        let generation = self.inner.lock().generation;
        match self.refresh_after(generation).await? {
            Some(entry) => Ok(entry.token.clone()),
            // (A source that follows an empty store.)
            None if self.inner.lock().machine.is_none() => Err(no_token()),
            None => Err(transient()),
        }
    }

    /// The current entry if it can be used now; starts a background refresh when the token is
    /// inside its refresh margin.
    pub(crate) fn fresh_entry(&self) -> Option<Arc<Entry>> {
        let (entry, task) = {
            let mut state = self.inner.lock();
            let now = self.inner.clock.now();
            match state.machine.as_ref()?.next_action(now) {
                Action::UseToken => (state.entry.clone(), None),
                Action::RefreshMayUseOld | Action::FetchNewToken { may_use_old: true } => {
                    let task = self.inner.start_fetch(&mut state, now);
                    (state.entry.clone(), task)
                }
                _ => (None, None),
            }
        };
        if let Some(task) = task {
            task.spawn();
        }
        entry
    }

    /// A usable entry, waiting for a fetch when there is none.
    pub(crate) async fn acquire(&self) -> Result<Arc<Entry>, Arc<TokenError>> {
        if let Some(entry) = self.fresh_entry() {
            return Ok(entry);
        }
        self.wait_for_fetch(None).await?.ok_or_else(transient)
    }

    /// Records that the resource server refused the token of generation `rejected`, without
    /// waiting for a new one: the next request refreshes first. (For a request that could not
    /// be sent again, so no retry waits for the refresh.)
    pub(crate) fn token_rejected(&self, rejected: u64) {
        let mut state = self.inner.lock();
        if state.generation > rejected {
            return;
        }
        // A source that follows its store looks there for a newer token; the refused one
        // stays in use meanwhile (there is no other; see `look_past`).
        if self.inner.follows_store() {
            let now = self.inner.clock.now();
            let look = self
                .inner
                .start_store_probe(&mut state, now, TokenErrorKind::NoToken);
            drop(state);
            if let Some(look) = look {
                look.spawn();
            }
            return;
        }
        if let Some(machine) = state.machine.as_mut() {
            machine.token_rejected();
            if let Some(entry) = &state.entry {
                entry.stale.store(true, Ordering::Release);
            }
        }
    }

    /// A token newer than `rejected` (which the resource server refused): refreshes unless a
    /// newer one is already there. `None` when refreshes are rate-limited (the token was
    /// refreshed moments ago, [`RefreshPolicy::min_interval`]) and there is no newer token:
    /// the caller answers with the server's refusal itself.
    pub(crate) async fn refresh_after(
        &self,
        rejected: u64,
    ) -> Result<Option<Arc<Entry>>, Arc<TokenError>> {
        if self.inner.follows_store() {
            return Ok(self.look_past(rejected).await);
        }
        self.wait_for_fetch(Some(rejected)).await
    }

    /// For a source that follows its store (a store and no fetcher), past the token of
    /// generation `rejected` (refused by a resource server, or asked to be replaced by
    /// [`refresh`](Self::refresh)): the newer token another process saved in the store, if
    /// there is one (a look, at most once per [`RefreshPolicy::min_interval`], and a second;
    /// the caller waits for it at most 5 s). `None` when there is none: the refused token
    /// stays in use, since there is no other to use and it may not be the token's fault (a
    /// resource server that refuses every token); the process that refreshes replaces it.
    async fn look_past(&self, rejected: u64) -> Option<Arc<Entry>> {
        let mut done = self.inner.done.subscribe();
        let (look, epoch, deadline) = {
            let mut state = self.inner.lock();
            if state.generation > rejected {
                return state.entry.clone();
            }
            let now = self.inner.clock.now();
            let look = self
                .inner
                .start_store_probe(&mut state, now, TokenErrorKind::NoToken);
            if !state.in_flight {
                return None;
            }
            (look, state.epoch, state.look_deadline)
        };
        if let Some(look) = look {
            look.spawn();
        }
        wait_past(&mut done, epoch, deadline).await;
        let state = self.inner.lock();
        state
            .entry
            .clone()
            .filter(|entry| state.generation > rejected && entry.generation > rejected)
    }

    /// A usable entry, fetching one first if needed; `None` only past a `rejected` token whose
    /// refresh is rate-limited.
    async fn wait_for_fetch(
        &self,
        rejected: Option<u64>,
    ) -> Result<Option<Arc<Entry>>, Arc<TokenError>> {
        let mut done = self.inner.done.subscribe();
        let mut task = None;
        // The refusal a look at the store (after a refused grant) stands on, for a caller
        // that stops waiting for the look.
        let mut refusal = None;
        let (epoch, look_deadline) = {
            let mut state = self.inner.lock();
            let now = self.inner.clock.now();
            if let Some(rejected) = rejected {
                if state.generation > rejected {
                    if let Some(entry) = state.entry.clone() {
                        return Ok(Some(entry));
                    }
                } else if let Some(machine) = state.machine.as_mut() {
                    machine.token_rejected();
                    if let Some(entry) = &state.entry {
                        entry.stale.store(true, Ordering::Release);
                    }
                }
            }
            let action = match &state.machine {
                Some(machine) => machine.next_action(now),
                None if self.inner.fetches_new_tokens() => match &state.last {
                    // No machine records a failure of the first fetch: it backs off here, or
                    // every call would send the request again. A transient failure backs off
                    // like any other, a refused client for the longest back-off (see `finish`).
                    // (A wait longer than the longest back-off means the clock stepped back.)
                    Some(Err(error))
                        if state.retry_not_before.is_some_and(|at| {
                            at.duration_since(now).is_ok_and(|wait| {
                                !wait.is_zero() && wait <= self.inner.policy.max_backoff
                            })
                        }) =>
                    {
                        return Err(error.clone());
                    }
                    _ => Action::FetchNewToken { may_use_old: false },
                },
                // No token yet (the store was empty at start): another process sharing the
                // store may have saved one since (the user logged in there).
                None => match self
                    .inner
                    .start_store_probe(&mut state, now, TokenErrorKind::NoToken)
                {
                    Some(probe) => {
                        task = Some(probe);
                        refusal = Some(no_token());
                        Action::AwaitRefresh
                    }
                    None => return Err(no_token()),
                },
            };
            match action {
                Action::UseToken => return state.entry.clone().map(Some).ok_or_else(unusable),
                Action::RefreshThenUse
                | Action::RefreshMayUseOld
                | Action::FetchNewToken { .. } => {
                    task = self.inner.start_fetch(&mut state, now);
                    // With no fetcher, that is a look at the store (this one, or one already
                    // in flight), which may hang.
                    if state.in_flight && self.inner.follows_store() {
                        refusal = Some(no_token());
                    }
                }
                Action::AwaitRefresh => {}
                // Rate-limited or backing off: share the last outcome rather than fetch again
                // (a token born expired is used rather than refreshed in a loop).
                Action::Wait { .. } => {
                    return match state.last.clone() {
                        // Never send the token the resource server just rejected again.
                        Some(Ok(entry)) if rejected.is_some_and(|r| entry.generation <= r) => {
                            Ok(None)
                        }
                        Some(last) => last.map(Some),
                        None => Err(transient()),
                    };
                }
                Action::Reauthorize | Action::ClientMisconfigured(_) => {
                    // A user grant refused for good: another process sharing the store may
                    // have saved a new one since (the user logged in again there).
                    let refused = match &state.last {
                        Some(Err(error)) if error.is_terminal() => error.clone(),
                        _ => Arc::new(TokenError::new(TokenErrorKind::Reauthorize, None)),
                    };
                    let probe = matches!(action, Action::Reauthorize)
                        .then(|| {
                            self.inner.start_store_probe(
                                &mut state,
                                now,
                                TokenErrorKind::Reauthorize,
                            )
                        })
                        .flatten();
                    if probe.is_none() {
                        return Err(refused);
                    }
                    task = probe;
                    refusal = Some(refused);
                }
            }
            if !state.in_flight {
                return state
                    .last
                    .clone()
                    .map_or_else(|| Err(no_token()), |l| l.map(Some));
            }
            (state.epoch, state.look_deadline)
        };
        // Spawned with the lock released: a runtime that is shutting down drops the task at
        // once, and its guard then takes the lock to record the failure.
        if let Some(task) = task {
            task.spawn();
        }
        // A caller waiting for a look has the refusal the look stands on at most 5 s after the
        // look started.
        let deadline = refusal.as_ref().map(|_| {
            look_deadline.unwrap_or_else(|| tokio::time::Instant::now() + STORE_PROBE_CALLER_WAIT)
        });
        match (wait_past(&mut done, epoch, deadline).await, refusal) {
            (Some(true), _) => {}
            (None, Some(refused)) => return Err(refused),
            _ => return Err(no_token()),
        }
        self.inner
            .lock()
            .last
            .clone()
            .map_or_else(|| Err(no_token()), |last| last.map(Some))
    }
}

/// Waits until the fetch or look in flight after `epoch` ends: `Some(true)` when it has,
/// `Some(false)` when the source is gone, `None` when `deadline` came first (a look at a store
/// that hangs goes on without this caller). With no deadline, or no tokio timers here (a caller
/// on another runtime than the look's, or on none, where a tokio timer would panic), it waits
/// for the end.
async fn wait_past(
    done: &mut watch::Receiver<u64>,
    epoch: u64,
    deadline: Option<tokio::time::Instant>,
) -> Option<bool> {
    let finished = done.wait_for(|e| *e > epoch);
    match deadline.filter(|_| crate::clock::timers_available()) {
        Some(deadline) => tokio::time::timeout_at(deadline, finished)
            .await
            .ok()
            .map(|finished| finished.is_ok()),
        None => Some(finished.await.is_ok()),
    }
}

/// The store's refresh lock (within [`LOCK_CALL_WAIT`]); `None`, with a warning that `doing`
/// goes on without it, when the store fails to give it.
async fn lock_refresh(store: &dyn TokenStore, doing: &str) -> Option<crate::store::RefreshLock> {
    match bounded("lock_refresh", LOCK_CALL_WAIT, || store.lock_refresh()).await {
        Ok(lock) => Some(lock),
        Err(error) => {
            let cause = causes(&error);
            tracing::warn!(%error, %cause, "{doing} without the token store's lock");
            None
        }
    }
}

/// `error`'s causes, for a log line (a store's errors hold no token).
fn causes(error: &dyn std::error::Error) -> String {
    let mut text = String::new();
    let mut next = error.source();
    while let Some(cause) = next {
        if !text.is_empty() {
            text.push_str(": ");
        }
        text.push_str(&cause.to_string());
        next = cause.source();
    }
    text
}

fn no_token() -> Arc<TokenError> {
    Arc::new(TokenError::new(TokenErrorKind::NoToken, None))
}

fn transient() -> Arc<TokenError> {
    Arc::new(TokenError::new(TokenErrorKind::Transient, None))
}

fn unusable() -> Arc<TokenError> {
    Arc::new(TokenError::new(TokenErrorKind::InvalidResponse, None))
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether this source follows its store: it has one and no fetcher, so new tokens come
    /// from another process that saves them there.
    fn follows_store(&self) -> bool {
        self.fetcher.is_none() && self.store.is_some()
    }

    fn fetches_new_tokens(&self) -> bool {
        self.fetcher
            .as_ref()
            .is_some_and(|f| f.fetches_new_tokens())
    }

    /// The refresh state of `token`. A source that follows its store (a store and no fetcher)
    /// renews every token as a client-credentials source does, whether it has a refresh token
    /// or not: by looking for a newer one, in the store, ahead of expiry.
    fn new_machine(&self, token: Token, now: SystemTime) -> RefreshState {
        if self.fetches_new_tokens() || self.follows_store() {
            RefreshState::client_credentials(token, now, self.policy)
        } else {
            RefreshState::new(token, now, self.policy)
        }
    }

    /// Makes `machine` current, with a fresh entry for its token; the old entry goes stale.
    fn install(self: &Arc<Self>, state: &mut State, machine: RefreshState) -> Option<Arc<Entry>> {
        state.generation += 1;
        let token = machine.token();
        let needs_proof = *token.token_type() == TokenType::DPoP;
        let header = authorization_header(token);
        let entry = match header {
            Ok(header) => Some(self.new_entry(&machine, header, needs_proof, state.generation)),
            Err(error) => {
                tracing::warn!(%error, "the token cannot be sent");
                None
            }
        };
        state.machine = Some(machine);
        if let Some(old) = std::mem::replace(&mut state.entry, entry.clone()) {
            old.stale.store(true, Ordering::Release);
        }
        entry
    }

    fn new_entry(
        &self,
        machine: &RefreshState,
        header: HeaderValue,
        needs_proof: bool,
        generation: u64,
    ) -> Arc<Entry> {
        let now = self.clock.now();
        // The flag goes up at the refresh margin, and at least `STALE_LEAD` before expiry
        // (a margin of 0, say): a request that comes while the timer task has yet to run (a
        // busy runtime) must not send a token that has just expired. Past the flag, the
        // slow path reads the clock and decides.
        let refresh_at = machine
            .refresh_due_at()
            .map(|at| match machine.token().expires_at() {
                Some(expires_at) => at.min(expires_at.checked_sub(STALE_LEAD).unwrap_or(at)),
                None => at,
            });
        let born_stale = refresh_at.is_some_and(|at| at <= now);
        Arc::new_cyclic(|weak: &Weak<Entry>| {
            let timer = match (self.timers, refresh_at) {
                (true, Some(at)) if !born_stale => spawn_stale_timer(weak.clone(), at, now),
                _ => None,
            };
            let clock = refresh_at.is_some().then(|| self.clock.clone());
            Entry {
                token: machine.token().clone(),
                header,
                needs_proof,
                generation,
                refresh_at,
                stale: AtomicBool::new(born_stale),
                clock,
                timer,
            }
        })
    }

    /// Marks a fetch in flight, unless one is, and returns its task, to spawn once `state`'s
    /// lock is released.
    #[must_use]
    fn start_fetch(self: &Arc<Self>, state: &mut State, now: SystemTime) -> Option<FetchTask> {
        if state.in_flight {
            return None;
        }
        let Some(fetcher) = self.fetcher.clone() else {
            // A source with a store and no fetcher follows the store: another process (the
            // one that refreshes) saves the new token there.
            let look = self.start_store_probe(state, now, TokenErrorKind::NoToken);
            if look.is_none() {
                // (Outside a tokio runtime a follower cannot look: it says so, as a source
                // with a fetcher does, rather than "authorize first".)
                let no_runtime = self.follows_store()
                    && !state.in_flight
                    && tokio::runtime::Handle::try_current().is_err();
                state.last = Some(Err(if no_runtime {
                    Arc::new(TokenError::new(TokenErrorKind::NoRuntime, None))
                } else {
                    no_token()
                }));
            }
            return look;
        };
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            state.last = Some(Err(Arc::new(TokenError::new(
                TokenErrorKind::NoRuntime,
                None,
            ))));
            return None;
        };
        state.in_flight = true;
        state.fetches += 1;
        if let Some(machine) = state.machine.as_mut() {
            machine.refresh_started(now);
        }
        let current = state.machine.as_ref().map(|m| m.token().clone());
        let mut guard = FetchGuard {
            inner: Some(self.clone()),
            generation: state.generation,
        };
        let generation = state.generation;
        Some(FetchTask {
            runtime,
            future: Box::pin(async move {
                let Some(inner) = guard.inner.clone() else {
                    return;
                };
                let result = inner
                    .fetch_and_save(fetcher, current, generation, false)
                    .await;
                guard.inner = None;
                inner.finish(guard.generation, result);
            }),
        })
    }

    /// For a source with a store and a refreshing fetcher whose user grant was refused for
    /// good, or that has no token yet (its store was empty at start); or for a source with a
    /// store and no fetcher whose token needs replacing (it expires, or has expired): marks a
    /// look at the store in flight, unless one is or the last was less than `min_interval`
    /// (and a second) ago, and returns its task. The look takes up a token another process
    /// saved since (the user logged in again there, or the process that refreshes saved its
    /// new token), refreshing it if it has expired (with a fetcher); with none, the error of
    /// kind `nothing` stands (unless a terminal one does already) and nothing is sent.
    #[must_use]
    fn start_store_probe(
        self: &Arc<Self>,
        state: &mut State,
        now: SystemTime,
        nothing: TokenErrorKind,
    ) -> Option<FetchTask> {
        if state.in_flight || self.store.is_none() || self.fetches_new_tokens() {
            return None;
        }
        let fetcher = self.fetcher.clone();
        let interval = self.policy.min_interval.max(MIN_STORE_PROBE_WAIT);
        // (A clock stepped back since the last look allows another.)
        let recent = state
            .probed_at
            .is_some_and(|at| now.duration_since(at).is_ok_and(|since| since < interval));
        if recent {
            return None;
        }
        let runtime = tokio::runtime::Handle::try_current().ok()?;
        state.probed_at = Some(now);
        state.in_flight = true;
        // (Read from the runtime's clock, which needs no timers: a waiter with none waits for
        // the look instead.)
        state.look_deadline = Some(tokio::time::Instant::now() + STORE_PROBE_CALLER_WAIT);
        let current = state.machine.as_ref().map(|m| m.token().clone());
        let generation = state.generation;
        let mut guard = FetchGuard {
            inner: Some(self.clone()),
            generation,
        };
        Some(FetchTask {
            runtime,
            future: Box::pin(async move {
                let Some(inner) = guard.inner.clone() else {
                    return;
                };
                // A first read outside the store's refresh lock: most looks find nothing new.
                let found = inner.refreshed_elsewhere(current.as_ref(), true).await;
                let result = match (found, fetcher) {
                    (Some(_), Some(fetcher)) => {
                        inner.lock().fetches += 1;
                        inner
                            .fetch_and_save(fetcher, current, generation, true)
                            .await
                    }
                    (Some(stored), None) => inner.take_up(stored, generation),
                    (None, _) => Err(TokenError::new(TokenErrorKind::Reauthorize, None)),
                };
                guard.inner = None;
                match result {
                    Err(error) if error.kind == TokenErrorKind::Reauthorize => {
                        let error = match nothing {
                            TokenErrorKind::Reauthorize => error,
                            kind => TokenError::new(kind, None),
                        };
                        inner.store_probe_found_nothing(guard.generation, error);
                    }
                    result => inner.finish(guard.generation, result),
                }
            }),
        })
    }

    /// For a source with no fetcher: `stored`, another process's token found by a look at the
    /// store, as the new token in use, if it has not expired and can be sent (there is no
    /// refreshing it here). Otherwise the look found nothing (`Reauthorize`, as
    /// `fetch_and_save` answers a look).
    fn take_up(&self, stored: Token, generation: u64) -> Result<(RefreshState, bool), TokenError> {
        let now = self.clock.now();
        let nothing = || TokenError::new(TokenErrorKind::Reauthorize, None);
        if stored.is_expired(now) {
            return Err(nothing());
        }
        let identity = StoredIdentity::of(&stored);
        let machine = match sendable(self.new_machine(stored, now), self.dpop.as_ref()) {
            Ok(machine) => machine,
            Err(error) => {
                tracing::warn!(%error, "the token store holds a token that cannot be sent; not using it");
                return Err(nothing());
            }
        };
        let mut state = self.lock();
        state.store_view = Some(Some(identity));
        state.fetches += 1;
        // The token taken up is the store's (unless `set_token` replaced the one in use
        // meanwhile; `finish` then drops this one).
        if state.generation == generation {
            state.unsaved = false;
        }
        Ok((machine, false))
    }

    /// A look at the store after a refused grant found no token to take up (or the one it
    /// found was refused too): the refusal stands, and the waiters hear it.
    fn store_probe_found_nothing(self: &Arc<Self>, generation: u64, error: TokenError) {
        let mut state = self.lock();
        if state.generation != generation {
            // `set_token` replaced the token meanwhile: as after any fetch it overtook.
            drop(state);
            return self.finish(generation, Err(error));
        }
        state.in_flight = false;
        let refused = match &state.last {
            Some(Err(last)) if last.is_terminal() => last.clone(),
            // A source with no token yet: still none.
            _ if state.machine.is_none() => no_token(),
            _ => Arc::new(error),
        };
        state.last = Some(Err(refused));
        state.epoch += 1;
        let epoch = state.epoch;
        drop(state);
        self.done.send_replace(epoch);
    }

    /// Fetches, merges the result into the current state (on a copy of the machine) and saves
    /// it, so that the token is in the store before any request uses it. With the new state,
    /// whether its save failed: `finish` marks it unsaved when it installs it, not before (the
    /// `unsaved` flag is about the token in use, which a background save may clear meanwhile).
    /// With `stored_only` (a look at the store after a refused grant), it builds only on a token
    /// another process stored: the refused refresh token is never sent again.
    async fn fetch_and_save(
        &self,
        fetcher: Arc<dyn TokenFetcher>,
        current: Option<Token>,
        generation: u64,
        stored_only: bool,
    ) -> Result<(RefreshState, bool), TokenError> {
        // Token sources sharing the store (here or in another process) refresh one at a time:
        // the lock is held until the new token is saved.
        let _refresh_lock = match &self.store {
            Some(store) => lock_refresh(store.as_ref(), "refreshing").await,
            None => None,
        };
        // `set_token`/`replace_token` replaced the token while this fetch waited for the lock:
        // its result would be discarded (`finish`), so spend no refresh token on it.
        if self.lock().generation != generation {
            return Err(TokenError::new(TokenErrorKind::Transient, None));
        }
        let mut base = current;
        // The stored token this fetch builds on, if it does. It is accounted for
        // (`store_view`) once the server has answered for its refresh token, and not before:
        // after a transient failure the next attempt must pick it up again, never fall back
        // to the refresh token it replaced (which a server with reuse detection answers by
        // revoking the grant). And once spent, it is never adopted from the store again.
        let mut from_store = None;
        // Another source sharing the store may have refreshed since we last looked (while we
        // waited for the lock, say): use its token, or build on it rather than spend (and,
        // with reuse detection, burn) a rotated refresh token.
        if let Some(stored) = self.refreshed_elsewhere(base.as_ref(), stored_only).await {
            let now = self.clock.now();
            if !stored.is_expired(now) {
                self.lock().store_view = Some(Some(StoredIdentity::of(&stored)));
                let machine = match sendable(self.new_machine(stored, now), self.dpop.as_ref()) {
                    // A look after a refused grant that finds a token this library cannot send
                    // (another program's) found nothing to take up: the refusal stands, and
                    // the looks go on (it is not this client's configuration that failed).
                    Err(error) if stored_only => {
                        tracing::warn!(%error, "the token store holds a token that cannot be sent; not using it");
                        return Err(TokenError::new(TokenErrorKind::Reauthorize, None));
                    }
                    machine => machine?,
                };
                // The token taken up is the store's: the one in use is no longer unsaved
                // (unless `set_token` replaced it meanwhile; `finish` then drops this one).
                let mut state = self.lock();
                if state.generation == generation {
                    state.unsaved = false;
                }
                return Ok((machine, false));
            }
            // (A look's live token with no refresh token that has expired since it was read:
            // there is nothing to refresh it with.)
            if stored.refresh_token().is_some() {
                from_store = Some(StoredIdentity::of(&stored));
                base = Some(stored);
            }
        }
        if stored_only && from_store.is_none() {
            return Err(TokenError::new(TokenErrorKind::Reauthorize, None));
        }
        // A refresh token the server refused is not sent again. The token in use carries one
        // after a refusal whose retry with the store's newer token failed for now: that retry
        // is made again with the store's token (read as after the refusal: the source may not
        // have accounted for the store's token yet, `store_view`); when the store cannot be
        // read, the source waits for it rather than send the refused one (a second
        // `invalid_grant`, which would declare the grant dead while the store holds a live
        // one); when it holds nothing else to try, the refusal stands, as after the re-read.
        let refused = base
            .as_ref()
            .and_then(Token::refresh_token)
            .is_some_and(|refresh_token| self.lock().refused.contains(refresh_token));
        if refused {
            match self.read_rotated(base.as_ref()).await {
                Ok(Some(stored)) => {
                    from_store = Some(StoredIdentity::of(&stored));
                    base = Some(stored);
                }
                Ok(None) => {
                    self.tell_store_grant_revoked(base.as_ref(), generation)
                        .await;
                    return Err(TokenError::new(TokenErrorKind::Reauthorize, None));
                }
                Err(()) => {
                    return Err(TokenError::new(
                        TokenErrorKind::Transient,
                        Some(
                            "the refresh token was refused; waiting to read the token store".into(),
                        ),
                    ));
                }
            }
        }
        // The token was replaced while the store was read (by `replace_token` without the
        // store's lock): the stored token may be the replacing one, and this fetch's result
        // would be dropped (`finish`), its refresh token spent for nothing.
        if self.lock().generation != generation {
            return Err(TokenError::new(TokenErrorKind::Transient, None));
        }
        let fetched = match fetcher.fetch(base.as_ref()).await {
            Err(error) if error.kind == TokenErrorKind::Reauthorize => {
                self.refresh_refused(base.as_ref(), generation);
                // Another process sharing the store may have rotated the refresh token: re-read
                // once and try with the stored one before declaring the grant dead (unless the
                // token was replaced meanwhile, as above).
                match self.rotated_in_store(base.as_ref()).await {
                    Some(stored) if self.lock().generation == generation => {
                        let result = fetcher.fetch(Some(&stored)).await;
                        from_store = Some(StoredIdentity::of(&stored));
                        base = Some(stored);
                        result
                    }
                    _ => Err(error),
                }
            }
            other => other,
        };
        let answered = match &fetched {
            Ok(_) => true,
            Err(error) => error.kind == TokenErrorKind::Reauthorize,
        };
        if answered && let Some(spent) = from_store {
            self.lock().store_view = Some(Some(spent));
        }
        let fetched = match fetched {
            Err(error) if error.kind == TokenErrorKind::Reauthorize => {
                self.refresh_refused(base.as_ref(), generation);
                self.tell_store_grant_revoked(base.as_ref(), generation)
                    .await;
                return Err(error);
            }
            other => other?,
        };
        let now = self.clock.now();
        let machine = {
            let state = self.lock();
            match (&state.machine, base) {
                (Some(machine), Some(base)) => {
                    let mut machine = machine.clone();
                    if machine.token() != &base {
                        machine.reset(base, now);
                    }
                    machine.refresh_succeeded(fetched, now);
                    machine
                }
                _ => self.new_machine(fetched, now),
            }
        };
        // A token that cannot be sent (a token type this library does not send, an access
        // token with characters no header can hold) must not replace the one in use, in
        // memory or in the store.
        let machine = sendable(machine, self.dpop.as_ref())?;
        let mut save_failed = false;
        if let Some(store) = &self.store {
            let _writes = self.store_writes.lock().await;
            // `set_token` replaced the token while this fetch ran: the caller's token wins,
            // in the store too (`finish` discards this result).
            if self.lock().generation != generation {
                return Ok((machine, false));
            }
            match bounded("save", STORE_CALL_WAIT, || store.save(machine.token())).await {
                Ok(()) => {
                    let mut state = self.lock();
                    state.store_view = Some(Some(StoredIdentity::of(machine.token())));
                    state.unsaved = false;
                }
                // The new token stays in memory; the old grant may already be rotated away.
                Err(error) => {
                    save_failed = true;
                    self.lock().save_failed(machine.token());
                    let cause = causes(&error);
                    tracing::warn!(%error, %cause, "saving the new token failed; keeping it in memory")
                }
            }
        }
        Ok((machine, save_failed))
    }

    /// Saves `token` again in the background, after the policy's back-off (doubled after each
    /// failure, at most `max_backoff`), for as long as it is the token in use and unsaved: the
    /// server may have rotated the refresh token it replaced, so until it reaches the store a
    /// process that stops loses the grant. Gives up when the store holds a token another
    /// process wrote meanwhile (it is not overwritten), or when the source is dropped. Needs a
    /// tokio runtime with timers; without one the token waits for the next save.
    fn save_later(self: &Arc<Self>, token: &Token) {
        if self.store.is_none() || !crate::clock::timers_available() {
            return;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return;
        };
        let (source, saving, policy) =
            (Arc::downgrade(self), StoredIdentity::of(token), self.policy);
        drop(runtime.spawn(async move {
            let mut failures = 1u32;
            loop {
                // At least a second: a policy with no back-off would make this a busy loop
                // (a store call and a warning per timer tick) against a store that keeps failing.
                let wait = policy.backoff(failures, None).max(MIN_SAVE_RETRY_WAIT);
                tokio::time::sleep(wait).await;
                let Some(inner) = source.upgrade() else {
                    return;
                };
                if inner.save_again(&saving).await {
                    return;
                }
                failures = failures.saturating_add(1);
            }
        }));
    }

    /// One attempt of [`save_later`](Self::save_later): `true` when there is nothing more to
    /// do (saved, or no longer this source's to save).
    async fn save_again(&self, saving: &StoredIdentity) -> bool {
        let Some(store) = &self.store else {
            return true;
        };
        // (A token whose grant the server refused for good is dead: saving it would only
        // hand the store a token after it heard of the revocation. So is one whose refresh
        // token was refused while a retry with the store's token failed for now: saved, it
        // would replace that token, another process's live grant.)
        let still_unsaved = |state: &State| {
            state.unsaved
                && state.machine.as_ref().is_some_and(|m| {
                    StoredIdentity::of(m.token()) == *saving
                        && m.terminal() != Some(&Terminal::ReauthorizationRequired)
                        && !m
                            .token()
                            .refresh_token()
                            .is_some_and(|refresh_token| state.refused.contains(refresh_token))
                })
        };
        if !still_unsaved(&self.lock()) {
            return true;
        }
        let _lock = lock_refresh(store.as_ref(), "saving the token again").await;
        let _writes = self.store_writes.lock().await;
        let (token, known, unconfirmed) = {
            let state = self.lock();
            match &state.machine {
                Some(machine) if still_unsaved(&state) => (
                    machine.token().clone(),
                    state.store_view.clone(),
                    state.unconfirmed.clone(),
                ),
                _ => return true,
            }
        };
        let stored_token = match bounded("load", STORE_CALL_WAIT, || store.load()).await {
            Ok(stored) => stored,
            Err(error) => {
                let cause = causes(&error);
                tracing::warn!(%error, %cause, "saving the token again: the token store cannot be read");
                return false;
            }
        };
        let stored = stored_token.as_ref().map(StoredIdentity::of);
        // Ours (a store that kept it although the save failed, or an older token of ours whose
        // save failed too), or the one this source knew was there: nobody else wrote since.
        // Anything else is another process's newer token. When this source never read the
        // store (it could not at build, and was given its token), what the store holds was
        // there before (the given token replaces it) unless it expires later than ours: then
        // another process saved it since.
        let older_than_ours = |stored: &Token| match (stored.expires_at(), token.expires_at()) {
            (Some(stored), Some(ours)) => stored <= ours,
            _ => true,
        };
        let ours_or_known = stored.as_ref() == Some(saving)
            || stored.as_ref().is_some_and(|s| unconfirmed.contains(s))
            || match &known {
                Some(known) => *known == stored,
                None => stored_token.as_ref().is_none_or(older_than_ours),
            };
        if !ours_or_known {
            tracing::warn!(
                "the token store holds a token another process saved; not saving over it (the token in use stays unsaved)"
            );
            return true;
        }
        match bounded("save", STORE_CALL_WAIT, || store.save(&token)).await {
            Ok(()) => {
                let mut state = self.lock();
                state.store_view = Some(Some(saving.clone()));
                if still_unsaved(&state) {
                    state.unsaved = false;
                }
                tracing::info!("the token whose save had failed is saved now");
                true
            }
            Err(error) => {
                let cause = causes(&error);
                tracing::warn!(%error, %cause, "saving the token again failed; trying later");
                false
            }
        }
    }

    /// Remembers that the server refused `token`'s refresh token for good, for a fetcher that
    /// refreshes, unless `set_token` or `replace_token` replaced the token meanwhile (the
    /// application's token is the application's to try, even if it is the same one).
    fn refresh_refused(&self, token: Option<&Token>, generation: u64) {
        if self.fetches_new_tokens() {
            return;
        }
        let mut state = self.lock();
        if state.generation == generation {
            state.refresh_refused(token);
        }
    }

    /// Tells the store that `token`'s grant was refused for good, unless `set_token` replaced
    /// the token meanwhile (the refusal is then about a token no longer in use).
    async fn tell_store_grant_revoked(&self, token: Option<&Token>, generation: u64) {
        let (Some(store), Some(token)) = (&self.store, token) else {
            return;
        };
        let _writes = self.store_writes.lock().await;
        if self.lock().generation != generation {
            return;
        }
        if let Err(error) = bounded("grant_revoked", STORE_CALL_WAIT, || {
            store.grant_revoked(token)
        })
        .await
        {
            let cause = causes(&error);
            tracing::warn!(%error, %cause, "the token store failed to hear of the revoked grant");
        }
    }

    /// The store's token, if another process wrote one since this source last accounted for
    /// the store's (its access or refresh token differs from the one we know is there, and it
    /// is not a token of ours whose save failed but landed, nor one carrying a refresh token
    /// the server refused), and it can be refreshed; or, for a look after a refused grant
    /// (`probing`), used as it is (live, with no refresh token: a server that issues none).
    async fn refreshed_elsewhere(&self, current: Option<&Token>, probing: bool) -> Option<Token> {
        let store = self.store.as_ref()?;
        let known = match self.lock().store_view.clone() {
            Some(known) => known,
            // A source that follows its store, which it could not read at start (it was given
            // a token, whose save failed too): every live token there that is not its own is
            // another process's, and its only way to a new token.
            None if self.follows_store() => None,
            None => return None,
        };
        let stored = match bounded("load", STORE_CALL_WAIT, || store.load()).await {
            Ok(stored) => stored?,
            Err(error) => {
                // For a source that follows its store, the store is where its tokens come
                // from: a read that fails is why its requests fail, and must be heard.
                if self.follows_store() {
                    let cause = causes(&error);
                    tracing::warn!(%error, %cause, "looking for a new token: the token store cannot be read");
                }
                return None;
            }
        };
        let seen = StoredIdentity::of(&stored);
        let usable =
            stored.refresh_token().is_some() || (probing && !stored.is_expired(self.clock.now()));
        let changed = usable
            && known.as_ref() != Some(&seen)
            && !self.lock().not_to_take_up(&stored)
            && current.map(StoredIdentity::of).as_ref() != Some(&seen);
        if changed && !self.issued_here(&stored) {
            // (Or the source fails with nothing to say why, while the store holds a live
            // token: a mistyped `issued_to`, a refresher with another client or DPoP key.)
            tracing::warn!(
                "the token store holds a token issued by another token endpoint, to another \
                 client, or bound to another DPoP key (or to one, for a source with none); not \
                 taking it up"
            );
            return None;
        }
        changed.then_some(stored)
    }

    /// The store's token, if its refresh token is not the one `current` was just refused with
    /// and another process wrote it: not the stored token this source has accounted for
    /// (`store_view`), which it has read, or spent (a refresh whose save failed leaves the
    /// refresh token it rotated away in the store), nor one of its own whose save failed but
    /// landed (`unconfirmed`), nor one carrying a refresh token the server refused (`refused`),
    /// and never sends again.
    async fn rotated_in_store(&self, current: Option<&Token>) -> Option<Token> {
        self.read_rotated(current).await.ok().flatten()
    }

    /// [`rotated_in_store`](Self::rotated_in_store), telling a store that cannot be read
    /// (`Err`) from one that holds no such token.
    async fn read_rotated(&self, current: Option<&Token>) -> Result<Option<Token>, ()> {
        let Some(store) = self.store.as_ref() else {
            return Ok(None);
        };
        let known = self.lock().store_view.clone();
        let Some(stored) = bounded("load", STORE_CALL_WAIT, || store.load())
            .await
            .map_err(drop)?
        else {
            return Ok(None);
        };
        let used = current.and_then(|c| c.refresh_token());
        let seen = StoredIdentity::of(&stored);
        let accounted_for = known.is_some_and(|known| known == Some(seen.clone()))
            || self.lock().not_to_take_up(&stored);
        Ok((stored.refresh_token().is_some()
            && stored.refresh_token() != used
            && !accounted_for
            && self.issued_here(&stored))
        .then_some(stored))
    }

    /// Whether `token` may be this source's: not recorded as issued by another token endpoint
    /// or to another client than its own (`issued_to`: the builder's, or else its fetcher's;
    /// RFC 6749 §10.4), nor as bound to another DPoP key than its own (or, when it has none,
    /// to any key, or a DPoP token at all), which could neither send nor refresh it
    /// (RFC 9449 §5). A store shared with another configuration must not hand this source that
    /// configuration's tokens.
    fn issued_here(&self, token: &Token) -> bool {
        token.usable_by(self.issued_to.as_ref(), self.dpop.as_ref())
    }

    fn finish(self: &Arc<Self>, generation: u64, result: Result<(RefreshState, bool), TokenError>) {
        let mut state = self.lock();
        let now = self.clock.now();
        state.in_flight = false;
        if state.generation != generation {
            // `set_token` replaced the token while the fetch ran: the caller's token wins, and
            // this result (success or failure) belongs to the token it replaced. The waiters
            // want a token they can use: if the new one needs a fetch too (it came expired,
            // or a resource server has rejected it since), they wait for that fetch instead.
            let needs_fetch = state.machine.as_ref().is_some_and(|machine| {
                matches!(
                    machine.next_action(now),
                    Action::RefreshThenUse | Action::FetchNewToken { may_use_old: false }
                )
            });
            if needs_fetch && let Some(task) = self.start_fetch(&mut state, now) {
                drop(state);
                task.spawn();
                return;
            }
        }
        state.last = Some(match result {
            _ if state.generation != generation => state.entry.clone().ok_or_else(unusable),
            Ok((machine, save_failed)) => {
                (state.failures, state.retry_not_before) = (0, None);
                // Its save failed (`fetch_and_save`): try again in the background. (Marked
                // here, with the install: a background save of the token it replaces may have
                // cleared `unsaved` since, and must not count for this one.)
                if save_failed {
                    state.unsaved = true;
                    self.save_later(machine.token());
                }
                self.install(&mut state, machine).ok_or_else(unusable)
            }
            Err(error) => {
                if state.machine.is_none() {
                    // No token yet: back off here (there is no refresh state to do it). A
                    // refused client is asked again after the longest back-off, as
                    // `RefreshState` does once there is a token.
                    state.failures = state.failures.saturating_add(1);
                    let wait = if error.is_terminal() {
                        self.policy.max_backoff
                    } else {
                        self.policy.backoff(state.failures, error.retry_after)
                    };
                    state.retry_not_before = Some(deadline_after(now, wait));
                }
                if let Some(machine) = state.machine.as_mut() {
                    machine.refresh_failed(error.failure(), now);
                    if let Some(retry_after) = error.retry_after {
                        machine.retry_not_before(deadline_after(now, retry_after), now);
                    }
                }
                tracing::warn!(error = %error, "token fetch failed; the old token is kept");
                Err(Arc::new(error))
            }
        });
        state.epoch += 1;
        let epoch = state.epoch;
        drop(state);
        self.done.send_replace(epoch);
    }
}

/// What tells one stored token from another: its access and refresh tokens. (Not the whole
/// `Token`: a store may not give back every field exactly as it was saved.)
#[derive(Clone, PartialEq, Eq)]
struct StoredIdentity {
    access_token: AccessToken,
    refresh_token: Option<RefreshToken>,
}

impl StoredIdentity {
    fn of(token: &Token) -> Self {
        Self {
            access_token: token.access_token().clone(),
            refresh_token: token.refresh_token().cloned(),
        }
    }
}

impl fmt::Debug for StoredIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("StoredIdentity").finish_non_exhaustive()
    }
}

/// A fetch marked in flight, to spawn once the state lock is released.
struct FetchTask {
    runtime: tokio::runtime::Handle,
    future: Pin<Box<dyn Future<Output = ()> + Send + 'static>>,
}

impl FetchTask {
    fn spawn(self) {
        // (A runtime shutting down drops the future at once: its `FetchGuard` finishes the
        // fetch as failed.)
        drop(self.runtime.spawn(self.future));
    }
}

/// The `Authorization` value `token` goes out with: `DPoP <token>` for a DPoP-bound token
/// (with a proof per request), `Bearer <token>` otherwise.
fn authorization_header(token: &Token) -> Result<HeaderValue, oauth_core::oauth2::TokenUseError> {
    match token.token_type() {
        TokenType::DPoP => token.dpop_authorization_header(),
        _ => token.authorization_header(),
    }
}

/// `machine`, if its token can be sent by a source with DPoP key `dpop`; a terminal
/// `Configuration` error holding the token (see [`UnsendableToken`]) if not. A DPoP token
/// cannot go out from a source with no key (no proof can be made: RFC 6749 §7.1), which does
/// not take one up from its store either (`issued_here`).
fn sendable(machine: RefreshState, dpop: Option<&DpopKey>) -> Result<RefreshState, TokenError> {
    let header = match machine.token().token_type() {
        TokenType::DPoP if dpop.is_none() => {
            Err(oauth_core::oauth2::TokenUseError::UnsupportedTokenType {
                token_type: TokenType::DPoP.as_str().to_owned(),
            })
        }
        _ => authorization_header(machine.token()),
    };
    match header {
        Ok(_) => Ok(machine),
        Err(source) => Err(TokenError {
            kind: TokenErrorKind::Configuration,
            // Not the server's code (there is none): the refresh state records this one, not
            // a misleading `invalid_client`.
            code: Some(ErrorCode::Other("unsendable_token".into())),
            retry_after: None,
            source: Some(Box::new(UnsendableToken {
                token: machine.token().clone(),
                source,
            })),
        }),
    }
}

/// The token endpoint issued a token this library cannot send (an unknown token type, a DPoP
/// token to a source with no DPoP key, or an access token that no header can hold). The token
/// in use is kept; this one is neither used nor stored, but stays reachable here (the server
/// may have rotated the refresh token into it): downcast the [`TokenError`]'s source.
#[derive(Debug, thiserror::Error)]
#[error("the token endpoint issued a token that cannot be sent")]
pub struct UnsendableToken {
    token: Token,
    #[source]
    source: oauth_core::oauth2::TokenUseError,
}

impl UnsendableToken {
    /// The token as issued.
    pub fn token(&self) -> &Token {
        &self.token
    }
}

/// Finishes the fetch as failed if its task ends without finishing it (a panic in the fetcher,
/// or the runtime shutting down), so that waiters are never wedged.
/// Hands the token of a [`TokenSource::replace_token`] dropped during its save to the
/// background saves (the save may have landed or not).
struct SaveIfDropped<'a> {
    inner: &'a Arc<Inner>,
    /// `None` once the save has an outcome.
    token: Option<&'a Token>,
}

impl Drop for SaveIfDropped<'_> {
    fn drop(&mut self) {
        if let Some(token) = self.token.take() {
            self.inner.lock().save_failed(token);
            self.inner.save_later(token);
        }
    }
}

struct FetchGuard {
    inner: Option<Arc<Inner>>,
    generation: u64,
}

impl Drop for FetchGuard {
    fn drop(&mut self) {
        if let Some(inner) = self.inner.take() {
            let error = TokenError::new(
                TokenErrorKind::Transient,
                Some("the token fetch task ended without a result".into()),
            );
            inner.finish(self.generation, Err(error));
        }
    }
}

/// Raises `stale` on the entry when its refresh margin begins.
fn spawn_stale_timer(
    entry: Weak<Entry>,
    at: SystemTime,
    now: SystemTime,
) -> Option<JoinHandle<()>> {
    let runtime = tokio::runtime::Handle::try_current().ok()?;
    // With no timers the task would panic at once: freshness reads the clock instead.
    if !crate::clock::timers_available() {
        return None;
    }
    // The deadline is fixed now, not when the task is first polled.
    let deadline = tokio::time::Instant::now() + at.duration_since(now).unwrap_or_default();
    Some(runtime.spawn(async move {
        tokio::time::sleep_until(deadline).await;
        if let Some(entry) = entry.upgrade() {
            entry.stale.store(true, Ordering::Release);
        }
    }))
}
