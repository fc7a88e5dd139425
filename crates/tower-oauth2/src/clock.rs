//! [`TokioClock`]: wall-clock time that advances with tokio's monotonic clock; [`TokenClock`]:
//! a clock as token sources and grant clients hold it.

use std::any::Any;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use oauth_core::clock::Clock;

/// Wall-clock time read once, then advanced by tokio's monotonic clock.
///
/// Expiry is therefore immune to the system clock being stepped (RFC 6749 §5.1 `expires_in` is
/// a lifetime, counted from the moment the token request was sent), and tests drive it with
/// `tokio::time::pause` and `advance`.
///
/// On Linux and macOS the monotonic clock stops while the machine is suspended (on Windows it
/// keeps counting), so after a resume this clock is behind by the time spent asleep: a token
/// may be judged fresh past its expiry until the API answers 401, which the default
/// [`RetryOn401`](crate::policy::RetryOn401) meets with a refresh and one retry when the
/// source can fetch tokens and the request's body can be replayed. Times the other side sets
/// on its own wall clock (ID tokens, DPoP proofs) are read from the system clock instead.
///
/// Clones share the reading. Two clocks made at different times each hold their own, so a
/// step of the system clock between making them puts them apart by the step: a token source
/// built with no clock therefore uses its fetcher's ([`TokenFetcher::clock`]), the one that
/// dated the tokens. (Pass it by value, or in an `Arc`: see [`TokenClock::new`].)
///
/// [`TokenFetcher::clock`]: crate::source::TokenFetcher::clock
#[derive(Debug, Clone)]
pub struct TokioClock {
    wall: SystemTime,
    mono: tokio::time::Instant,
}

impl TokioClock {
    /// A clock anchored at the current system time.
    #[must_use]
    pub fn new() -> Self {
        Self::starting_at(SystemTime::now())
    }

    /// A clock that reads `wall` now, and moves on with tokio's clock from there: for tests,
    /// or to simulate a clock that is off.
    pub fn starting_at(wall: SystemTime) -> Self {
        Self {
            wall,
            mono: tokio::time::Instant::now(),
        }
    }
}

impl Default for TokioClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for TokioClock {
    fn now(&self) -> SystemTime {
        self.wall
            .checked_add(self.mono.elapsed())
            .unwrap_or(self.wall)
    }
}

/// A clock as a [`TokenSource`](crate::TokenSource) or a [`GrantClient`](crate::GrantClient)
/// holds it, knowing whether it is a [`TokioClock`]: a source keeps the freshness of tokens
/// with tokio's timers when it is, and reads the clock on every request when it is not. A
/// [`TokenFetcher`] offers the clock it dates tokens by in this form
/// ([`TokenFetcher::clock`]).
///
/// [`TokenFetcher`]: crate::source::TokenFetcher
/// [`TokenFetcher::clock`]: crate::source::TokenFetcher::clock
#[derive(Debug, Clone)]
pub struct TokenClock {
    clock: Arc<dyn Clock>,
    tokio: bool,
}

impl TokenClock {
    /// Holds `clock`. A [`TokioClock`] or an `Arc<TokioClock>` is recognised as tokio's, and
    /// a `TokenClock` is taken as it is; any other clock (an `Arc<dyn Clock>` included,
    /// whatever is behind it) is not tokio's.
    pub fn new(clock: impl Clock + 'static) -> Self {
        let any = &clock as &dyn Any;
        if let Some(held) = any.downcast_ref::<TokenClock>() {
            return held.clone();
        }
        let tokio = any.is::<TokioClock>() || any.is::<Arc<TokioClock>>();
        Self {
            clock: Arc::new(clock),
            tokio,
        }
    }

    /// Whether this is a [`TokioClock`], whose time tokio's timers keep.
    pub fn is_tokio(&self) -> bool {
        self.tokio
    }
}

impl Default for TokenClock {
    /// A new [`TokioClock`].
    fn default() -> Self {
        Self::new(TokioClock::new())
    }
}

impl Clock for TokenClock {
    fn now(&self) -> SystemTime {
        self.clock.now()
    }
}

/// Whether the current tokio runtime has timers (`enable_time`, or `enable_all`). With no
/// runtime at all the answer is no, asked without a panic. Tokio has no way to ask whether a
/// runtime has timers, and they panic without them: this makes one and catches the panic,
/// whose message the panic hook prints. So a runtime built without timers costs a token source
/// its deadlines on store calls, and a grant client gives a typed error, instead of a panic
/// that would drop a token just issued.
pub(crate) fn timers_available() -> bool {
    tokio::runtime::Handle::try_current().is_ok()
        && std::panic::catch_unwind(|| drop(tokio::time::sleep(Duration::ZERO))).is_ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn tokio_clocks_are_recognised_however_they_are_held() {
        let tokio = TokenClock::new(TokioClock::starting_at(SystemTime::UNIX_EPOCH));
        assert!(tokio.is_tokio());
        assert!(TokenClock::new(Arc::new(TokioClock::new())).is_tokio());
        // A TokenClock given again is taken as it is (the same reading, still tokio's).
        let again = TokenClock::new(tokio.clone());
        assert!(again.is_tokio());
        assert_eq!(again.now(), tokio.now());
        assert!(!TokenClock::new(oauth_core::clock::SystemClock).is_tokio());
        let erased: Arc<dyn Clock> = Arc::new(TokioClock::new());
        assert!(
            !TokenClock::new(erased).is_tokio(),
            "not seen through dyn Clock"
        );
    }
}
