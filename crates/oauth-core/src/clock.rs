//! The injected environment: wall-clock time and randomness.
//!
//! Nothing in this crate reads the system clock or the operating system's random generator
//! directly, with two exceptions: an ES256 signature (a DPoP proof or client assertion signed
//! with an [`EcP256PrivateKey`](crate::oauth2::EcP256PrivateKey)) draws its ECDSA nonce from the
//! system through `ring`, so it differs on every run; and an OAuth 1 signer with the default
//! random source mixes a system clock reading into its nonce stream. Production code passes
//! [`SystemClock`] and [`SystemRandom`]; tests pass a [`ManualClock`] and a [`CountingRandom`]
//! so that timestamps, nonces, `state` values and PKCE verifiers are reproducible.
//!
//! ```
//! use std::time::Duration;
//! use oauth_core::clock::{Clock, ManualClock};
//!
//! let clock = ManualClock::at_unix_seconds(1_318_622_958);
//! clock.advance(Duration::from_secs(60));
//! assert_eq!(oauth_core::clock::unix_seconds(clock.now()).unwrap(), 1_318_623_018);
//! ```

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// A source of wall-clock time.
pub trait Clock: Send + Sync + fmt::Debug {
    /// The current wall-clock time.
    fn now(&self) -> SystemTime;
}

impl<C: Clock + ?Sized> Clock for Arc<C> {
    fn now(&self) -> SystemTime {
        (**self).now()
    }
}

impl<C: Clock + ?Sized> Clock for &C {
    fn now(&self) -> SystemTime {
        (**self).now()
    }
}

/// The operating system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> SystemTime {
        SystemTime::now()
    }
}

/// A clock that only moves when told to; clones share the same time.
#[derive(Debug, Clone)]
pub struct ManualClock {
    now: Arc<Mutex<SystemTime>>,
}

impl ManualClock {
    /// A clock that reads `now` until moved.
    #[must_use]
    pub fn new(now: SystemTime) -> Self {
        Self {
            now: Arc::new(Mutex::new(now)),
        }
    }

    /// A clock at `secs` seconds after the Unix epoch.
    pub fn at_unix_seconds(secs: u64) -> Self {
        Self::new(UNIX_EPOCH + Duration::from_secs(secs))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: Duration) {
        let mut now = self.now.lock().unwrap_or_else(PoisonError::into_inner);
        *now = now.checked_add(by).unwrap_or(*now);
    }

    /// Sets the clock to any time, including one before the Unix epoch or in the past.
    pub fn set(&self, to: SystemTime) {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner) = to;
    }
}

impl Clock for ManualClock {
    fn now(&self) -> SystemTime {
        *self.now.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// The clock reads a time before the Unix epoch, which no OAuth timestamp can express.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the clock reads a time before the Unix epoch (1970-01-01)")]
#[non_exhaustive]
pub struct ClockBeforeEpoch;

/// Whole seconds since the Unix epoch, or an error for a clock set before 1970.
///
/// # Errors
///
/// Fails with [`ClockBeforeEpoch`] when `t` is before 1970-01-01.
pub fn unix_seconds(t: SystemTime) -> Result<u64, ClockBeforeEpoch> {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs())
        .map_err(|_| ClockBeforeEpoch)
}

/// The longest wait [`deadline_after`] adds (`i32::MAX` seconds, about 68 years): a longer one, which a
/// `SystemTime` may not hold, means "never" as well.
pub const LONGEST_WAIT: Duration = Duration::from_secs(i32::MAX as u64);

/// The time `wait` after `now`, for a deadline: a wait longer than [`LONGEST_WAIT`]
/// (`Duration::MAX` meant as "no limit", say) counts as that, so it never overflows and never
/// wraps round to "now", which would mean "at once". (Only a `now` within [`LONGEST_WAIT`] of
/// the latest time `SystemTime` can hold, a clock set some 290 billion years ahead, gets `now`
/// itself back.)
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use oauth_core::clock::{deadline_after, LONGEST_WAIT};
///
/// let now = UNIX_EPOCH + Duration::from_secs(1_700_000_000);
/// assert_eq!(deadline_after(now, Duration::from_secs(5)), now + Duration::from_secs(5));
/// assert_eq!(deadline_after(now, Duration::MAX), now + LONGEST_WAIT);
/// ```
pub fn deadline_after(now: SystemTime, wait: Duration) -> SystemTime {
    now.checked_add(wait.min(LONGEST_WAIT)).unwrap_or(now)
}

/// A source of cryptographically secure random bytes.
pub trait RandomSource: Send + Sync + fmt::Debug {
    /// Fills `dest` with random bytes.
    ///
    /// # Errors
    ///
    /// Fails with [`RandomError`] when the source cannot produce bytes (for [`SystemRandom`], when
    /// the operating system's generator fails); an implementation makes it with
    /// [`RandomError::new`].
    fn fill(&self, dest: &mut [u8]) -> Result<(), RandomError>;
}

impl<R: RandomSource + ?Sized> RandomSource for Arc<R> {
    fn fill(&self, dest: &mut [u8]) -> Result<(), RandomError> {
        (**self).fill(dest)
    }
}

impl<R: RandomSource + ?Sized> RandomSource for &R {
    fn fill(&self, dest: &mut [u8]) -> Result<(), RandomError> {
        (**self).fill(dest)
    }
}

/// The random source failed to produce bytes.
///
/// A [`RandomSource`] implementation outside this crate makes one with [`RandomError::new`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("the random number generator failed")]
#[non_exhaustive]
pub struct RandomError;

impl RandomError {
    /// The error a [`RandomSource`] returns when it cannot produce bytes.
    #[must_use]
    pub const fn new() -> Self {
        Self
    }
}

impl Default for RandomError {
    fn default() -> Self {
        Self::new()
    }
}

/// The operating system's CSPRNG (through `ring`).
#[derive(Clone)]
pub struct SystemRandom(ring::rand::SystemRandom);

impl SystemRandom {
    /// The operating system's CSPRNG.
    #[must_use]
    pub fn new() -> Self {
        Self(ring::rand::SystemRandom::new())
    }
}

impl Default for SystemRandom {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for SystemRandom {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SystemRandom")
    }
}

impl RandomSource for SystemRandom {
    fn fill(&self, dest: &mut [u8]) -> Result<(), RandomError> {
        ring::rand::SecureRandom::fill(&self.0, dest).map_err(|_| RandomError)
    }
}

/// A deterministic, **insecure** source for tests: every call yields bytes derived from an
/// incrementing counter, so successive values differ and runs repeat exactly.
#[derive(Debug, Default)]
pub struct CountingRandom {
    counter: AtomicU64,
}

impl CountingRandom {
    /// A source whose first call is derived from `start`.
    #[must_use]
    pub fn new(start: u64) -> Self {
        Self {
            counter: AtomicU64::new(start),
        }
    }
}

impl RandomSource for CountingRandom {
    fn fill(&self, dest: &mut [u8]) -> Result<(), RandomError> {
        let n = self.counter.fetch_add(1, Ordering::Relaxed).to_be_bytes();
        for (i, byte) in dest.iter_mut().enumerate() {
            *byte = n[i % 8] ^ (i as u8).wrapping_mul(31);
        }
        Ok(())
    }
}

/// `bytes` random bytes from `random`, as unpadded base64url (only RFC 3986 unreserved
/// characters, so the value needs no percent-encoding anywhere).
///
/// 16 bytes give 128 bits (22 characters); 32 bytes give 256 bits (43 characters, the shortest
/// PKCE verifier RFC 7636 §4.1 allows).
///
/// # Errors
///
/// Fails with [`RandomError`] when `random` fails to fill the buffer.
pub fn random_urlsafe(random: &dyn RandomSource, bytes: usize) -> Result<String, RandomError> {
    let mut buf = vec![0u8; bytes];
    random.fill(&mut buf)?;
    Ok(URL_SAFE_NO_PAD.encode(&buf))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_before_epoch_is_an_error_not_a_panic() {
        let clock = ManualClock::new(UNIX_EPOCH - Duration::from_secs(1));
        assert_eq!(unix_seconds(clock.now()), Err(ClockBeforeEpoch));
    }

    #[test]
    fn manual_clock_clones_share_time_and_saturate() {
        let a = ManualClock::at_unix_seconds(10);
        let b = a.clone();
        a.advance(Duration::from_secs(5));
        assert_eq!(unix_seconds(b.now()).unwrap(), 15);
        a.advance(Duration::MAX);
        assert_eq!(unix_seconds(b.now()).unwrap(), 15);
    }

    #[test]
    fn system_random_values_are_distinct_and_url_safe() {
        let random = SystemRandom::new();
        let a = random_urlsafe(&random, 16).unwrap();
        let b = random_urlsafe(&random, 16).unwrap();
        assert_ne!(a, b);
        assert_eq!(a.len(), 22);
        assert!(
            a.bytes()
                .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
        );
    }

    #[test]
    fn counting_random_is_deterministic_and_changes_per_call() {
        let a = CountingRandom::new(7);
        let b = CountingRandom::new(7);
        let a1 = random_urlsafe(&a, 16).unwrap();
        assert_eq!(a1, random_urlsafe(&b, 16).unwrap());
        assert_ne!(a1, random_urlsafe(&a, 16).unwrap());
    }

    /// A clock or random source behind an `Arc` or a reference is the one underneath: the
    /// forwarding impls read its time and fill from it, not a default.
    #[test]
    fn arc_and_reference_forward_to_the_clock_and_random_source_underneath() {
        fn read(clock: impl Clock) -> SystemTime {
            clock.now()
        }
        fn draw(random: impl RandomSource) -> String {
            random_urlsafe(&random, 16).unwrap()
        }
        let clock = ManualClock::at_unix_seconds(1_700_000_000);
        assert_eq!(read(Arc::new(clock.clone())), clock.now());
        assert_eq!(read(&clock), clock.now());

        let expected = draw(CountingRandom::new(7));
        assert_eq!(draw(Arc::new(CountingRandom::new(7))), expected);
        let counting = CountingRandom::new(7);
        assert_eq!(draw(&counting), expected);
        assert_ne!(draw(&counting), expected, "the counter underneath moved on");
    }
}
