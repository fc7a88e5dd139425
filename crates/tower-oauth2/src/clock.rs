//! [`TokioClock`]: wall-clock time that advances with tokio's monotonic clock.

use std::time::SystemTime;

use oauth_core::clock::Clock;

/// Wall-clock time read once, then advanced by tokio's monotonic clock.
///
/// Expiry is therefore immune to the system clock being stepped (RFC 6749 expiry is relative to
/// receipt, SECURITY.md §4.10), and tests drive it with `tokio::time::pause` and `advance`.
///
/// Clones share the reading. Two clocks made at different times each hold their own, so a
/// step of the system clock between making them puts them apart by the step: a token source
/// built with no clock therefore uses its fetcher's ([`TokenFetcher::clock`]), the one that
/// dated the tokens.
///
/// [`TokenFetcher::clock`]: crate::source::TokenFetcher::clock
#[derive(Debug, Clone)]
pub struct TokioClock {
    wall: SystemTime,
    mono: tokio::time::Instant,
}

impl TokioClock {
    /// A clock anchored at the current system time.
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
