//! [`TokioClock`]: wall-clock time that advances with tokio's monotonic clock.

use std::time::SystemTime;

use oauth_core::clock::Clock;

/// Wall-clock time read once, then advanced by tokio's monotonic clock.
///
/// Expiry is therefore immune to the system clock being stepped (RFC 6749 expiry is relative to
/// receipt, SECURITY.md §4.10), and tests drive it with `tokio::time::pause` and `advance`.
#[derive(Debug, Clone)]
pub struct TokioClock {
    wall: SystemTime,
    mono: tokio::time::Instant,
}

impl TokioClock {
    /// A clock anchored at the current system time.
    pub fn new() -> Self {
        Self {
            wall: SystemTime::now(),
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
