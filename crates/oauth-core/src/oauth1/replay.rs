//! [`ReplayGuard`]: the timestamp window and nonce check RFC 5849 §3.3 leaves to the server.

use std::collections::HashSet;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use super::verify::ProtocolParameters;

/// Refuses replayed requests, for a server that verifies them (RFC 5849 §3.3): a request's
/// `oauth_timestamp` must be within [`window`](Self::window) of the server's clock, and its
/// `oauth_nonce` not seen before with the same client, token and timestamp.
///
/// Check a request only after its signature verified
/// ([`UnverifiedRequest::verify`](super::UnverifiedRequest::verify)), so that unsigned requests
/// cannot use up nonces. Nonces are kept in memory while their timestamp is within the
/// window, then forgotten, and their timestamps refused from then on (so a replay is refused
/// even by a caller whose clock is behind): the set is swept once a window, or sooner when it
/// has doubled, so memory is bounded by about twice the requests of two windows. (A server
/// clock that jumps forward past a sweep and back again has requests refused for their
/// timestamps until it catches up.) A server with several processes needs a
/// shared store instead, with the same rule.
///
/// Each nonce costs about 250 bytes (up to about 500 for [`MAX_NONCE_LEN`]-byte nonces):
/// a client with valid credentials sending 10,000 requests a second holds about 1.5 GB for a
/// five-minute window. Rate-limit per consumer key in front of the guard, and set
/// [`max_entries`](Self::max_entries) to cap it: a full guard refuses new requests
/// ([`ReplayError::Full`]) rather than forget a nonce early. [`len`](Self::len) is the number
/// held, for a metric.
///
/// ```
/// use std::time::{Duration, UNIX_EPOCH};
/// use http::{Method, Uri};
/// use oauth_core::oauth1::{IncomingRequest, ReplayError, ReplayGuard, UnverifiedRequest};
/// use oauth_core::oauth1::{SigningSecrets, VerifyKey};
/// use oauth_core::secret::ConsumerSecret;
///
/// let guard = ReplayGuard::new(Duration::from_secs(300));
/// let (method, uri): (Method, Uri) = (Method::GET, "https://api.example.com/r".parse()?);
/// let header = r#"OAuth oauth_consumer_key="key", oauth_nonce="n1", oauth_signature_method="PLAINTEXT", oauth_timestamp="1700000000", oauth_signature="secret%26""#;
/// let now = UNIX_EPOCH + Duration::from_secs(1_700_000_010);
/// for expected in [Ok(()), Err(ReplayError::NonceReused)] {
///     let request = UnverifiedRequest::parse(IncomingRequest::new(&method, &uri).authorization(header))?;
///     let secret = ConsumerSecret::new("secret");
///     let params = request.verify(VerifyKey::Secrets(SigningSecrets {
///         consumer_secret: &secret,
///         token_secret: None,
///     }))?;
///     assert_eq!(guard.check(&params, now), expected);
/// }
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct ReplayGuard {
    window: Duration,
    max_entries: Option<usize>,
    seen: Mutex<Seen>,
}

#[derive(Debug, Default)]
struct Seen {
    /// (client, token, nonce, timestamp).
    nonces: HashSet<(String, String, String, u64)>,
    /// Size after the last sweep: a sweep runs when the set has doubled since.
    swept_at: usize,
    /// Time of the last sweep (server clock, Unix seconds): a sweep also runs a window later.
    swept_at_time: u64,
    /// Timestamps below this were swept: refused from now on, whatever a caller's clock says
    /// (their nonces are forgotten).
    forgotten_below: u64,
}

/// The longest `oauth_nonce` a [`ReplayGuard`] accepts, in bytes. Clients send 16 to 64
/// characters (RFC 5849 sets no limit; Python's oauthlib accepts 20 to 30 by default).
pub const MAX_NONCE_LEN: usize = 256;

/// Why [`ReplayGuard::check`] refused a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum ReplayError {
    /// The request has no `oauth_nonce` or no `oauth_timestamp` (PLAINTEXT may omit them,
    /// RFC 5849 §3.4.4; a server that guards against replay needs them).
    #[error("the request has no oauth_nonce or no oauth_timestamp")]
    Missing,
    /// `oauth_timestamp` is outside the window around the server's clock.
    #[error("oauth_timestamp is outside the accepted window")]
    TimestampOutOfWindow,
    /// The nonce was used before with the same client, token and timestamp.
    #[error("oauth_nonce was used before")]
    NonceReused,
    /// The nonce is longer than [`MAX_NONCE_LEN`] bytes: it would not be remembered (a client
    /// could otherwise fill the guard's memory with nonces as long as a header allows).
    #[error("oauth_nonce is longer than {MAX_NONCE_LEN} bytes")]
    NonceTooLong,
    /// The parameters are not those of a verified request
    /// ([`UnverifiedRequest::parameters`](super::UnverifiedRequest::parameters)): unsigned
    /// requests must not use up nonces.
    #[error("the request's signature was not verified before its nonce was checked")]
    Unverified,
    /// The guard holds [`ReplayGuard::max_entries`] nonces that are still within the window:
    /// the request is refused (answer 503 and let the client retry later), since forgetting a
    /// nonce early would let its request be replayed.
    #[error("the replay guard is full: too many requests within the window")]
    Full,
}

impl ReplayGuard {
    /// A guard accepting timestamps up to `window` away from the server's clock, either way
    /// (five minutes is usual).
    #[must_use]
    pub fn new(window: Duration) -> Self {
        Self {
            window,
            max_entries: None,
            seen: Mutex::default(),
        }
    }

    /// Holds at most `max` nonces: when that many are still within the window, new requests
    /// are refused with [`ReplayError::Full`] (fail closed) until older ones leave it. No cap
    /// by default.
    #[must_use]
    pub fn max_entries(mut self, max: usize) -> Self {
        self.max_entries = Some(max);
        self
    }

    /// The number of nonces held now (the ones within the window, and some older ones until
    /// the next sweep).
    pub fn len(&self) -> usize {
        self.seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .nonces
            .len()
    }

    /// Whether no nonce is held.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The accepted distance between `oauth_timestamp` and the server's clock.
    pub fn window(&self) -> Duration {
        self.window
    }

    /// Checks the timestamp and nonce of a verified request at `now`, and remembers the nonce.
    ///
    /// Parameters that did not come out of a successful verification are refused
    /// ([`ReplayError::Unverified`]).
    ///
    /// # Errors
    ///
    /// Fails with [`ReplayError::Unverified`] for parameters that were not verified,
    /// [`ReplayError::Missing`] without a timestamp or nonce, [`ReplayError::TimestampOutOfWindow`]
    /// for a timestamp too far from `now`, [`ReplayError::NonceTooLong`],
    /// [`ReplayError::NonceReused`] for a nonce already seen in the window, and
    /// [`ReplayError::Full`] when the guard cannot remember another nonce.
    pub fn check(&self, params: &ProtocolParameters, now: SystemTime) -> Result<(), ReplayError> {
        if !params.is_verified() {
            return Err(ReplayError::Unverified);
        }
        let (Some(nonce), Some(timestamp)) = (params.nonce(), params.timestamp()) else {
            return Err(ReplayError::Missing);
        };
        if nonce.len() > MAX_NONCE_LEN {
            return Err(ReplayError::NonceTooLong);
        }
        // (A clock before 1970 accepts nothing but timestamps within the window of 0.)
        let now = crate::clock::unix_seconds(now).unwrap_or(0);
        if now.abs_diff(timestamp) > self.window.as_secs() {
            return Err(ReplayError::TimestampOutOfWindow);
        }
        let key = (
            params.consumer_key().to_owned(),
            params.token().unwrap_or_default().to_owned(),
            nonce.to_owned(),
            timestamp,
        );
        let mut seen = self.seen.lock().unwrap_or_else(PoisonError::into_inner);
        if timestamp < seen.forgotten_below {
            return Err(ReplayError::TimestampOutOfWindow);
        }
        if seen.nonces.contains(&key) {
            return Err(ReplayError::NonceReused);
        }
        if let Some(max) = self.max_entries
            && seen.nonces.len() >= max
        {
            // Full: forget what the window has left behind, and refuse if that was not enough.
            self.sweep(&mut seen, now);
            if seen.nonces.len() >= max {
                return Err(ReplayError::Full);
            }
        }
        seen.nonces.insert(key);
        let window = self.window.as_secs();
        if seen.nonces.len() > (2 * seen.swept_at).max(1024)
            || now >= seen.swept_at_time.saturating_add(window.max(1))
        {
            self.sweep(&mut seen, now);
        }
        Ok(())
    }

    /// Forgets the nonces whose timestamps the window refuses at `now` (Unix seconds).
    fn sweep(&self, seen: &mut Seen, now: u64) {
        let oldest = now.saturating_sub(self.window.as_secs());
        if oldest > seen.forgotten_below {
            seen.forgotten_below = oldest;
            seen.nonces.retain(|(_, _, _, t)| *t >= oldest);
        }
        seen.swept_at = seen.nonces.len();
        seen.swept_at_time = now;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oauth1::{IncomingRequest, SigningSecrets, UnverifiedRequest, VerifyKey};
    use crate::secret::ConsumerSecret;
    use http::{Method, Uri};
    use std::time::UNIX_EPOCH;

    const NOW: u64 = 1_700_000_000;

    fn params(client: &str, nonce: Option<&str>, timestamp: Option<u64>) -> ProtocolParameters {
        let (method, uri): (Method, Uri) =
            (Method::GET, "https://api.example.com/r".parse().unwrap());
        let mut header = format!(
            r#"OAuth oauth_consumer_key="{client}", oauth_signature_method="PLAINTEXT", oauth_signature="s%26""#
        );
        if let Some(nonce) = nonce {
            header.push_str(&format!(r#", oauth_nonce="{nonce}""#));
        }
        if let Some(timestamp) = timestamp {
            header.push_str(&format!(r#", oauth_timestamp="{timestamp}""#));
        }
        let request =
            UnverifiedRequest::parse(IncomingRequest::new(&method, &uri).authorization(&header))
                .unwrap();
        let secret = ConsumerSecret::new("s");
        request
            .verify(VerifyKey::Secrets(SigningSecrets {
                consumer_secret: &secret,
                token_secret: None,
            }))
            .unwrap()
    }

    fn at(seconds: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(seconds)
    }

    #[test]
    fn a_nonce_is_accepted_once_per_client_and_timestamp() {
        let guard = ReplayGuard::new(Duration::from_secs(300));
        let now = at(NOW);
        assert_eq!(guard.check(&params("a", Some("n"), Some(NOW)), now), Ok(()));
        assert_eq!(
            guard.check(&params("a", Some("n"), Some(NOW)), now),
            Err(ReplayError::NonceReused)
        );
        // Another client, or another timestamp, may use the same nonce.
        assert_eq!(guard.check(&params("b", Some("n"), Some(NOW)), now), Ok(()));
        assert_eq!(
            guard.check(&params("a", Some("n"), Some(NOW - 1)), now),
            Ok(())
        );
    }

    #[test]
    fn the_timestamp_must_be_within_the_window_either_way() {
        let guard = ReplayGuard::new(Duration::from_secs(300));
        for (timestamp, ok) in [
            (NOW - 300, true),
            (NOW + 300, true),
            (NOW - 301, false),
            (NOW + 301, false),
            (1, false),
        ] {
            let result = guard.check(
                &params("a", Some(&timestamp.to_string()), Some(timestamp)),
                at(NOW),
            );
            assert_eq!(result.is_ok(), ok, "{timestamp}");
            if !ok {
                assert_eq!(result, Err(ReplayError::TimestampOutOfWindow));
            }
        }
        assert_eq!(
            guard.check(&params("a", None, Some(NOW)), at(NOW)),
            Err(ReplayError::Missing)
        );
        assert_eq!(
            guard.check(&params("a", Some("n"), None), at(NOW)),
            Err(ReplayError::Missing)
        );
    }

    /// A nonce longer than `MAX_NONCE_LEN` is refused and not remembered: a client could
    /// otherwise fill the guard with nonces as long as the header parser allows (16 KiB).
    #[test]
    fn a_nonce_longer_than_the_limit_is_refused_and_not_kept() {
        let guard = ReplayGuard::new(Duration::from_secs(300));
        let longest = "n".repeat(MAX_NONCE_LEN);
        assert_eq!(
            guard.check(&params("a", Some(&longest), Some(NOW)), at(NOW)),
            Ok(())
        );
        let too_long = "n".repeat(MAX_NONCE_LEN + 1);
        for _ in 0..2 {
            assert_eq!(
                guard.check(&params("a", Some(&too_long), Some(NOW)), at(NOW)),
                Err(ReplayError::NonceTooLong)
            );
        }
        assert_eq!(guard.seen.lock().unwrap().nonces.len(), 1);
    }

    /// `window()` is the distance the guard was made with.
    #[test]
    fn the_window_is_the_one_given() {
        for window in [
            Duration::ZERO,
            Duration::from_secs(300),
            Duration::from_secs(86_400),
        ] {
            assert_eq!(ReplayGuard::new(window).window(), window);
        }
    }

    /// A sweep forgets the timestamps that left the window, and only those: a timestamp at the
    /// window's edge is still accepted after the set was swept at the same clock.
    #[test]
    fn a_sweep_keeps_the_edge_of_the_window() {
        let guard = ReplayGuard::new(Duration::from_secs(300));
        // The first check sweeps (a window has passed since the start).
        assert_eq!(
            guard.check(&params("a", Some("n"), Some(NOW)), at(NOW)),
            Ok(())
        );
        assert_eq!(
            guard.check(&params("a", Some("m"), Some(NOW - 300)), at(NOW)),
            Ok(())
        );
        assert_eq!(
            guard.check(&params("a", Some("m"), Some(NOW - 300)), at(NOW)),
            Err(ReplayError::NonceReused)
        );
    }

    /// The set is swept once a window even when it is small: a nonce whose timestamp left the
    /// window is forgotten, and a replay of it is refused for its timestamp, also when checked
    /// with a clock that is behind.
    #[test]
    fn a_few_nonces_are_swept_once_a_window() {
        let guard = ReplayGuard::new(Duration::from_secs(300));
        assert_eq!(
            guard.check(&params("a", Some("n"), Some(NOW)), at(NOW)),
            Ok(())
        );
        let later = NOW + 301;
        assert_eq!(
            guard.check(&params("a", Some("m"), Some(later)), at(later)),
            Ok(())
        );
        assert_eq!(guard.seen.lock().unwrap().nonces.len(), 1);
        assert_eq!(
            guard.check(&params("a", Some("n"), Some(NOW)), at(NOW)),
            Err(ReplayError::TimestampOutOfWindow)
        );
    }

    /// Between the sweeps of each window, the set is swept only when it has doubled: requests
    /// whose nonces all stay in the window do not each pay for a sweep.
    #[test]
    fn a_growing_set_is_swept_when_it_has_doubled() {
        let guard = ReplayGuard::new(Duration::from_secs(300));
        let mut sweeps = 0;
        let mut swept_at = guard.seen.lock().unwrap().swept_at;
        for i in 0..5000 {
            let nonce = format!("n{i}");
            guard
                .check(&params("a", Some(&nonce), Some(NOW)), at(NOW))
                .unwrap();
            let now_swept_at = guard.seen.lock().unwrap().swept_at;
            if now_swept_at != swept_at {
                sweeps += 1;
                swept_at = now_swept_at;
            }
        }
        // The first request's sweep (a window since the start), then one per doubling (today
        // at 1025, 2051 and 4103, past a floor of 1024): at most about log2(5000) ~ 12 in all,
        // however low the floor, where a sweep per request would be thousands.
        assert!((1..=14).contains(&sweeps), "{sweeps} sweeps");
        assert_eq!(guard.seen.lock().unwrap().nonces.len(), 5000);
    }

    /// Nonces whose timestamps left the window are forgotten; a replay of such a request is
    /// refused for its timestamp, even when checked with a clock that is behind.
    #[test]
    fn old_nonces_are_swept() {
        let guard = ReplayGuard::new(Duration::from_secs(300));
        for i in 0..2000 {
            let nonce = format!("n{i}");
            guard
                .check(&params("a", Some(&nonce), Some(NOW)), at(NOW))
                .unwrap();
        }
        let later = NOW + 1000;
        for i in 0..3000 {
            let nonce = format!("m{i}");
            guard
                .check(&params("a", Some(&nonce), Some(later)), at(later))
                .unwrap();
        }
        let kept = guard.seen.lock().unwrap().nonces.len();
        assert!(kept <= 3000, "{kept}");
        assert_eq!(
            guard.check(&params("a", Some("n0"), Some(NOW)), at(later)),
            Err(ReplayError::TimestampOutOfWindow)
        );
        // A caller whose clock is behind (or a clock stepped back) cannot replay it either.
        assert_eq!(
            guard.check(&params("a", Some("n0"), Some(NOW)), at(NOW)),
            Err(ReplayError::TimestampOutOfWindow)
        );
    }

    /// A guard with `max_entries` fails closed: when it holds that many nonces still within the
    /// window, a new request is refused (`Full`), never accepted by forgetting a live nonce; a
    /// replay is still reported as a replay; once the window has moved past the old nonces,
    /// requests are accepted again. `len` counts what it holds.
    #[test]
    fn a_full_guard_refuses_new_requests_until_the_window_moves_on() {
        let guard = ReplayGuard::new(Duration::from_secs(300)).max_entries(3);
        assert!(guard.is_empty());
        for nonce in ["n1", "n2", "n3"] {
            assert_eq!(
                guard.check(&params("a", Some(nonce), Some(NOW)), at(NOW)),
                Ok(())
            );
        }
        assert_eq!(guard.len(), 3);
        assert_eq!(
            guard.check(&params("a", Some("n4"), Some(NOW)), at(NOW + 10)),
            Err(ReplayError::Full)
        );
        assert_eq!(
            guard.check(&params("a", Some("n1"), Some(NOW)), at(NOW + 10)),
            Err(ReplayError::NonceReused)
        );
        assert_eq!(guard.len(), 3);
        let later = NOW + 301;
        assert_eq!(
            guard.check(&params("a", Some("n4"), Some(later)), at(later)),
            Ok(())
        );
        assert_eq!(guard.len(), 1);
        // The forgotten nonces' timestamps stay refused.
        assert_eq!(
            guard.check(&params("a", Some("n1"), Some(NOW)), at(later)),
            Err(ReplayError::TimestampOutOfWindow)
        );
    }
}
