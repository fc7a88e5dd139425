//! `oauth_nonce` generation (RFC 5849 §3.3): 24 ASCII alphanumerics drawn uniformly by
//! rejection sampling, about 143 bits.
//!
//! A signer with the default [`SystemRandom`](crate::clock::SystemRandom) does not ask the
//! operating system for every nonce: each thread keeps a ChaCha12 stream ([`NonceStream`]),
//! seeded with 256 bits from the source and reseeded every [`RESEED_AFTER`] nonces. That takes the
//! system call, the kernel's own ChaCha and a lock off the signing path. A random source set
//! with [`SignerBuilder::random`](super::SignerBuilder::random) is called once per nonce, as
//! before ([`generate_nonce`]).
//!
//! Each stream word is XORed with a SplitMix64 word derived from the request's clock reading.
//! That keeps the draw uniform (the stream is independent of the clock) and makes a process
//! that forks after signing diverge from its child, which starts with a copy of the stream:
//! they repeat a nonce only if they sign within the same nanosecond.

use std::cell::RefCell;
use std::time::SystemTime;

use rand_chacha::ChaCha12Rng;
use rand_chacha::rand_core::{RngCore, SeedableRng};

use crate::clock::{ClockBeforeEpoch, RandomError, RandomSource};

/// Length of a generated `oauth_nonce`.
pub const NONCE_LEN: usize = 24;

const NONCE_ALPHABET: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// `NONCE_ALPHABET[b % 62]` for `b < 248` (each character exactly four times, so the draw is
/// uniform) and `0` (rejected) for `b >= 248`.
static NONCE_CHARS: [u8; 256] = {
    let mut table = [0u8; 256];
    let mut i = 0;
    while i < 248 {
        table[i] = NONCE_ALPHABET[i % 62];
        i += 1;
    }
    table
};

/// Fills `out` with ASCII alphanumerics drawn uniformly from `random` by rejection sampling,
/// asking it for 32 bytes at a time.
///
/// Alphanumerics only because Python oauthlib's provider accepts only 20–30 of them by default.
pub(crate) fn generate_nonce(
    random: &dyn RandomSource,
    out: &mut [u8; NONCE_LEN],
) -> Result<(), RandomError> {
    let mut filled = 0;
    let mut buf = [0u8; 32];
    // A healthy source almost never needs a second round; a stuck one must not loop forever.
    for _ in 0..16 {
        random.fill(&mut buf)?;
        for &b in &buf {
            let c = NONCE_CHARS[usize::from(b)];
            if c != 0 {
                out[filled] = c;
                filled += 1;
                if filled == NONCE_LEN {
                    return Ok(());
                }
            }
        }
    }
    Err(RandomError)
}

/// Nonces drawn by one [`NonceStream`] before it is reseeded from the random source.
pub(crate) const RESEED_AFTER: u32 = 1 << 16;

/// A ChaCha12 keystream that nonces are drawn from, reseeded from a [`RandomSource`].
#[derive(Clone)]
pub(crate) struct NonceStream {
    rng: ChaCha12Rng,
    /// Nonces left before the next reseed.
    left: u32,
}

impl NonceStream {
    /// A stream seeded with 256 bits from `random`.
    pub(crate) fn seeded(random: &dyn RandomSource) -> Result<Self, RandomError> {
        let mut seed = [0u8; 32];
        random.fill(&mut seed)?;
        let rng = ChaCha12Rng::from_seed(seed);
        seed.fill(0);
        Ok(Self {
            rng,
            left: RESEED_AFTER,
        })
    }

    /// [`generate_nonce`] from the stream, each word XORed with SplitMix64 of `mix`; reseeds
    /// from `random` first when due.
    ///
    /// Stream bytes are mapped through [`NONCE_CHARS`] 32 at a time (rejection sampling
    /// without a branch per byte).
    pub(crate) fn generate(
        &mut self,
        random: &dyn RandomSource,
        mix: u64,
        out: &mut [u8; NONCE_LEN],
    ) -> Result<(), RandomError> {
        if self.left == 0 {
            *self = Self::seeded(random)?;
        }
        self.left -= 1;
        // One mix word for the whole nonce: XORing the same value into independent uniform
        // words keeps them uniform and independent, and is enough to diverge after a fork.
        let mix = SplitMix(mix).next();
        let mut chars = [0u8; 64];
        let mut filled = 0;
        // 32 bytes give 24 accepted ones but for about one nonce in two million; a bound keeps a
        // broken generator from looping forever.
        for _ in 0..8 {
            for _ in 0..4 {
                for b in (self.rng.next_u64() ^ mix).to_ne_bytes() {
                    // `filled` stays below 24 + 32 here; the mask only spares a bounds check.
                    let c = NONCE_CHARS[usize::from(b)];
                    chars[filled & 63] = c;
                    filled += usize::from(c != 0);
                }
            }
            if filled >= NONCE_LEN {
                out.copy_from_slice(&chars[..NONCE_LEN]);
                return Ok(());
            }
            // Keep what was accepted; `filled` is below 24, so another block fits.
        }
        Err(RandomError)
    }
}

thread_local! {
    /// This thread's stream, seeded on first use.
    static STREAM: RefCell<Option<NonceStream>> = const { RefCell::new(None) };
}

/// A fresh nonce from this thread's [`NonceStream`] (seeded from `random` on first use), or
/// straight from `random` while the thread is being torn down.
pub(crate) fn generate_pooled(
    random: &dyn RandomSource,
    mix: u64,
    out: &mut [u8; NONCE_LEN],
) -> Result<(), RandomError> {
    STREAM
        .try_with(|cell| {
            let mut slot = cell.try_borrow_mut().map_err(|_| RandomError)?;
            let stream = match &mut *slot {
                Some(stream) => stream,
                None => slot.insert(NonceStream::seeded(random)?),
            };
            stream.generate(random, mix, out)
        })
        .unwrap_or_else(|_| generate_nonce(random, out))
}

/// SplitMix64 (Steele, Lea, Flood 2014): spreads a clock reading over the mix words. Not a
/// source of randomness here, only of divergence between forked processes.
struct SplitMix(u64);

impl SplitMix {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
}

/// A clock reading as whole Unix seconds (as [`unix_seconds`](crate::clock::unix_seconds) gives
/// them) and as a value that differs between readings, for the stream's mixing, from one
/// `duration_since`.
pub(crate) fn read_clock(now: SystemTime) -> (Result<u64, ClockBeforeEpoch>, u64) {
    match now.duration_since(std::time::UNIX_EPOCH) {
        Ok(d) => (
            Ok(d.as_secs()),
            d.as_secs().wrapping_mul(1_000_000_007) ^ u64::from(d.subsec_nanos()),
        ),
        Err(e) => (Err(ClockBeforeEpoch), !e.duration().as_nanos() as u64),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicU32, Ordering};

    use super::*;
    use crate::clock::{CountingRandom, SystemRandom};

    #[derive(Debug, Default)]
    struct CountingFills {
        inner: SystemRandom,
        calls: AtomicU32,
    }

    impl RandomSource for CountingFills {
        fn fill(&self, dest: &mut [u8]) -> Result<(), RandomError> {
            self.calls.fetch_add(1, Ordering::Relaxed);
            self.inner.fill(dest)
        }
    }

    #[derive(Debug)]
    struct Failing;

    impl RandomSource for Failing {
        fn fill(&self, _: &mut [u8]) -> Result<(), RandomError> {
            Err(RandomError)
        }
    }

    #[test]
    fn stream_is_seeded_once_and_draws_uniformly() {
        let source = CountingFills::default();
        let mut stream = NonceStream::seeded(&source).unwrap();
        let mut counts = [0u32; 256];
        let mut seen = std::collections::HashSet::new();
        for i in 0..4000u64 {
            let mut nonce = [0u8; NONCE_LEN];
            stream
                .generate(&source, i.wrapping_mul(0x9E37), &mut nonce)
                .unwrap();
            assert!(nonce.iter().all(u8::is_ascii_alphanumeric));
            assert!(seen.insert(nonce), "repeated nonce");
            for b in nonce {
                counts[usize::from(b)] += 1;
            }
        }
        assert_eq!(source.calls.load(Ordering::Relaxed), 1, "one seed");
        // 96000 characters over 62 symbols: about 1548 each.
        for &c in NONCE_ALPHABET {
            let n = counts[usize::from(c)];
            assert!(
                (1300..1800).contains(&n),
                "{} drawn {n} times",
                char::from(c)
            );
        }
    }

    #[test]
    fn stream_reseeds_after_its_quota() {
        let source = CountingFills::default();
        let mut stream = NonceStream::seeded(&source).unwrap();
        stream.left = 2;
        let mut nonce = [0u8; NONCE_LEN];
        for _ in 0..3 {
            stream.generate(&source, 0, &mut nonce).unwrap();
        }
        assert_eq!(source.calls.load(Ordering::Relaxed), 2);
        assert_eq!(stream.left, RESEED_AFTER - 1);
        // A failing reseed is an error, not a stale stream.
        stream.left = 0;
        assert_eq!(stream.generate(&Failing, 0, &mut nonce), Err(RandomError));
    }

    #[test]
    fn stream_copies_diverge_with_the_clock() {
        let stream = NonceStream::seeded(&CountingRandom::new(5)).unwrap();
        let draw = |mix| {
            let mut copy = stream.clone();
            let mut nonce = [0u8; NONCE_LEN];
            copy.generate(&Failing, mix, &mut nonce).unwrap();
            nonce
        };
        // The same stream state (as after a fork): same clock reading, same nonce; another
        // reading, another nonce.
        assert_eq!(draw(1), draw(1));
        assert_ne!(draw(1), draw(2));
        let at = |nanos| {
            read_clock(std::time::UNIX_EPOCH + std::time::Duration::new(1_300_000_000, nanos))
        };
        assert_ne!(at(1).1, at(2).1);
        assert_eq!(at(1).0, Ok(1_300_000_000));
        let before = read_clock(std::time::UNIX_EPOCH - std::time::Duration::from_secs(1));
        assert_eq!(before.0, Err(ClockBeforeEpoch));
    }

    #[test]
    fn failing_sources_are_errors() {
        let mut nonce = [0u8; NONCE_LEN];
        assert!(NonceStream::seeded(&Failing).is_err());
        assert_eq!(generate_nonce(&Failing, &mut nonce), Err(RandomError));
        // A thread whose stream is not seeded yet.
        let result = std::thread::spawn(|| {
            let mut nonce = [0u8; NONCE_LEN];
            generate_pooled(&Failing, 0, &mut nonce)
        })
        .join()
        .unwrap();
        assert_eq!(result, Err(RandomError));
    }

    #[test]
    fn threads_draw_from_their_own_streams() {
        let draw = || {
            let mut nonce = [0u8; NONCE_LEN];
            generate_pooled(&SystemRandom::new(), 7, &mut nonce).unwrap();
            nonce
        };
        let here = draw();
        let there = std::thread::spawn(draw).join().unwrap();
        assert_ne!(here, there);
        assert_ne!(draw(), here);
    }
}
