//! `oauth_nonce` generation (RFC 5849 §3.3): 24 ASCII alphanumerics, about 143 bits, drawn
//! uniformly by rejection sampling from a random source, or as base-62 digits of the thread's
//! ChaCha stream (uniform to within a relative 2^-26, see [`NonceStream::generate`]).
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
use rand_chacha::rand_core::{Rng, SeedableRng};

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

    /// A nonce from the stream, each word XORed with SplitMix64 of `mix`; reseeds from
    /// `random` first when due.
    ///
    /// Four stream words (256 bits), six characters from each, by multiplication rather than
    /// rejection: the six characters drawn from a word `x` are the first six base-62 digits of
    /// the fraction `x / 2^64`, i.e. `floor(x * 62^6 / 2^64)` written in base 62. Each of the
    /// 62^6 six-character strings is the image of either `floor(2^64 / 62^6)` or one more
    /// words (about 3.2e8, 2^28.3), so its probability is within a relative 2^-28.3 of
    /// 62^-6: the nonce is uniform up to a factor `1 ± 2^-26` (min-entropy 142.9 bits, the
    /// full `24 * log2(62)`). No branch per byte and no retry loop, unlike the rejection
    /// sampling of [`generate_nonce`], which saved about 110 instructions per nonce.
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
        for chunk in out.chunks_exact_mut(DIGITS_PER_WORD) {
            let mut x = self.rng.next_u64() ^ mix;
            for c in chunk {
                // The next base-62 digit of `x / 2^64`: the high word of `x * 62` (below 62).
                let t = u128::from(x) * 62;
                *c = NONCE_DIGITS[(t >> 64) as usize & 63];
                x = t as u64;
            }
        }
        Ok(())
    }
}

/// Base-62 digits drawn from each stream word by [`NonceStream::generate`].
const DIGITS_PER_WORD: usize = 6;
const _: () = assert!(NONCE_LEN.is_multiple_of(DIGITS_PER_WORD));

/// [`NONCE_ALPHABET`] padded to 64 entries, so that indexing with `& 63` needs no bounds check
/// (the index is always below 62).
static NONCE_DIGITS: [u8; 64] = {
    let mut table = [b'A'; 64];
    let mut i = 0;
    while i < 62 {
        table[i] = NONCE_ALPHABET[i];
        i += 1;
    }
    table
};

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

    /// Fills with a fixed byte sequence, repeated.
    #[derive(Debug)]
    struct Fixed(&'static [u8]);

    impl RandomSource for Fixed {
        fn fill(&self, dest: &mut [u8]) -> Result<(), RandomError> {
            for (d, s) in dest.iter_mut().zip(self.0.iter().cycle()) {
                *d = *s;
            }
            Ok(())
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

    /// The six digits taken from a word are `floor(x * 62^6 / 2^64)` in base 62, which is
    /// what the uniformity bound in `NonceStream::generate` rests on.
    #[test]
    fn digits_are_the_base_62_expansion_of_the_word() {
        let digits = |mut x: u64| {
            let mut v = 0u64;
            for _ in 0..DIGITS_PER_WORD {
                let t = u128::from(x) * 62;
                v = v * 62 + (t >> 64) as u64;
                x = t as u64;
            }
            v
        };
        for x in [
            0,
            1,
            u64::MAX,
            1 << 63,
            0x9E37_79B9_7F4A_7C15,
            12_345_678_901_234,
        ] {
            let expected = (u128::from(x) * 62u128.pow(6)) >> 64;
            assert_eq!(u128::from(digits(x)), expected, "{x}");
        }
        assert_eq!(&NONCE_DIGITS[..62], NONCE_ALPHABET);
    }

    /// Rejection sampling keeps the draw uniform only if each of the 62 characters stands for
    /// the same number of byte values (four) and the 8 bytes left over are rejected.
    #[test]
    fn the_rejection_table_maps_four_bytes_to_each_character_and_rejects_the_rest() {
        let mut counts = [0u32; 256];
        for (b, &c) in NONCE_CHARS.iter().enumerate() {
            if b < 248 {
                assert_eq!(c, NONCE_ALPHABET[b % 62], "byte {b}");
                counts[usize::from(c)] += 1;
            } else {
                assert_eq!(c, 0, "byte {b} must be rejected");
            }
        }
        for &c in NONCE_ALPHABET {
            assert_eq!(counts[usize::from(c)], 4, "{}", char::from(c));
        }
        // Bytes 248..=255 are skipped: the nonce starts at the first byte below 248.
        let mut nonce = [0u8; NONCE_LEN];
        generate_nonce(&Fixed(&[255, 248, 0, 61, 62, 247]), &mut nonce).unwrap();
        assert_eq!(&nonce[..4], b"A9A9");
    }

    /// The mix is SplitMix64 itself (Steele, Lea, Flood 2014; the reference `splitmix64.c`):
    /// its published outputs for the seeds 0 and 1234567.
    #[test]
    fn splitmix_gives_the_reference_sequence() {
        let mut zero = SplitMix(0);
        assert_eq!(zero.next(), 0xE220_A839_7B1D_CDAF);
        assert_eq!(zero.next(), 0x6E78_9E6A_A1B9_65F4);
        assert_eq!(zero.next(), 0x06C4_5D18_8009_454F);
        let mut seeded = SplitMix(1_234_567);
        assert_eq!(seeded.next(), 6_457_827_717_110_365_317);
        assert_eq!(seeded.next(), 3_203_168_211_198_807_973);
        assert_eq!(seeded.next(), 9_817_491_932_198_370_423);
    }

    /// Forked copies of a stream diverge only through their clock readings, so readings a
    /// nanosecond apart must give different mixes (whatever the second).
    #[test]
    fn readings_a_nanosecond_apart_mix_differently() {
        for secs in [1, 1_300_000_000, 1_700_000_123] {
            let mut seen = std::collections::HashSet::new();
            for nanos in 0..1000 {
                let (seconds, mix) =
                    read_clock(std::time::UNIX_EPOCH + std::time::Duration::new(secs, nanos));
                assert_eq!(seconds, Ok(secs));
                assert!(seen.insert(mix), "{secs} s {nanos} ns");
            }
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
