//! HMAC-SHA1 (RFC 2104, FIPS 198-1) keyed once, over the SHA-1 block function (FIPS 180-4).
//!
//! The `hmac` crate keeps the same two keyed states, but each MAC then clones them with their
//! block buffers, copies the base string into the inner buffer and pads it byte by byte. Here
//! the base string is written into whole blocks on the stack ([`DigestSink`]), padded there, and
//! each hash is one call of the block function: the MAC costs the SHA-1 blocks and little else.
//! The tests pin it to RFC 2202's vectors and to the `hmac` crate.

use sha1::block_api::compress;
use sha1::{Digest, Sha1};
use zeroize::Zeroize;

use super::base_string::{Absorb, DigestSink, WriteBase};

/// SHA-1's initial hash value (FIPS 180-4 §5.3.1).
const H0: [u32; 5] = [
    0x6745_2301,
    0xEFCD_AB89,
    0x98BA_DCFE,
    0x1032_5476,
    0xC3D2_E1F0,
];

/// SHA-1's block size in bytes.
const BLOCK: usize = 64;

/// An HMAC-SHA1 key, kept as the SHA-1 states after the key's inner and outer pad blocks.
/// Zeroed on drop: either state is enough to forge MACs.
#[derive(Clone)]
pub(crate) struct HmacSha1 {
    inner: [u32; 5],
    outer: [u32; 5],
}

impl HmacSha1 {
    /// Keys the MAC (a key longer than a block is hashed first, as RFC 2104 §2 says).
    pub(crate) fn new(key: &[u8]) -> Self {
        let mut block = [0u8; BLOCK];
        if key.len() > BLOCK {
            let mut hash = Sha1::digest(key);
            block[..hash.len()].copy_from_slice(&hash);
            hash.zeroize();
        } else {
            block[..key.len()].copy_from_slice(key);
        }
        let keyed = |pad: u8| {
            let mut padded = block.map(|b| b ^ pad);
            let mut state = H0;
            compress(&mut state, &[padded]);
            padded.zeroize();
            state
        };
        let mac = Self {
            inner: keyed(0x36),
            outer: keyed(0x5C),
        };
        block.zeroize();
        mac
    }

    /// The MAC of the base string `base` writes.
    pub(crate) fn mac<B: WriteBase + ?Sized>(&self, base: &B) -> [u8; 20] {
        let mut inner = Blocks {
            state: self.inner,
            // The inner pad block.
            len: BLOCK as u64,
        };
        let mut sink = DigestSink::new(&mut inner);
        base.write_to(&mut sink);
        // SHA-1 padding (FIPS 180-4 §5.1.1): `0x80`, zeros up to 8 bytes before the end of a
        // block, then the message length in bits.
        let len = sink.digest().len + sink.buffered() as u64;
        let zeros = (BLOCK as u64 - (len + 9) % BLOCK as u64) % BLOCK as u64;
        let mut tail = [0u8; BLOCK + 9];
        tail[0] = 0x80;
        let end = 1 + zeros as usize;
        tail[end..end + 8].copy_from_slice(&(8 * len).to_be_bytes());
        super::base_string::Sink::put(&mut sink, &tail[..end + 8]);
        sink.finish();
        debug_assert_eq!(sink.buffered(), 0);

        // The outer hash: the outer pad block, then one block with the inner hash.
        let mut block = [0u8; BLOCK];
        write_be(&inner.state, &mut block);
        block[20] = 0x80;
        block[BLOCK - 8..].copy_from_slice(&(8 * (BLOCK as u64 + 20)).to_be_bytes());
        let mut outer = self.outer;
        compress(&mut outer, &[block]);
        let mut out = [0u8; 20];
        write_be(&outer, &mut out);
        out
    }
}

impl Drop for HmacSha1 {
    fn drop(&mut self) {
        self.inner.zeroize();
        self.outer.zeroize();
    }
}

/// The words of a SHA-1 state, big-endian, at the start of `out`.
fn write_be(state: &[u32; 5], out: &mut [u8]) {
    for (chunk, word) in out.chunks_exact_mut(4).zip(state) {
        chunk.copy_from_slice(&word.to_be_bytes());
    }
}

/// A SHA-1 computation fed whole blocks.
struct Blocks {
    state: [u32; 5],
    /// Bytes hashed so far.
    len: u64,
}

impl Absorb for Blocks {
    #[inline]
    fn absorb(&mut self, buf: &mut [u8], len: usize) -> usize {
        let (blocks, _) = buf[..len].as_chunks::<BLOCK>();
        let whole = blocks.len() * BLOCK;
        compress(&mut self.state, blocks);
        self.len += whole as u64;
        buf.copy_within(whole..len, 0);
        len - whole
    }
}

#[cfg(test)]
mod tests {
    use hmac::digest::{FixedOutput, KeyInit, Update};

    use super::*;
    use crate::oauth1::base_string::Sink;

    /// A base string given as pieces, each `put` on its own.
    struct Pieces<'a>(&'a [&'a [u8]]);

    impl WriteBase for Pieces<'_> {
        fn write_to<S: Sink>(&self, sink: &mut S) {
            for piece in self.0 {
                sink.put(piece);
            }
        }
    }

    fn mac(key: &[u8], data: &[u8]) -> [u8; 20] {
        HmacSha1::new(key).mac(&Pieces(&[data]))
    }

    fn reference(key: &[u8], data: &[u8]) -> [u8; 20] {
        let mut mac = <hmac::Hmac<Sha1> as KeyInit>::new_from_slice(key).unwrap();
        mac.update(data);
        mac.finalize_fixed().into()
    }

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// RFC 2202 §3, all seven HMAC-SHA1 test cases.
    #[test]
    fn rfc2202_vectors() {
        let cases: [(Vec<u8>, Vec<u8>, &str); 7] = [
            (
                vec![0x0b; 20],
                b"Hi There".to_vec(),
                "b617318655057264e28bc0b6fb378c8ef146be00",
            ),
            (
                b"Jefe".to_vec(),
                b"what do ya want for nothing?".to_vec(),
                "effcdf6ae5eb2fa2d27416d5f184df9c259a7c79",
            ),
            (
                vec![0xaa; 20],
                vec![0xdd; 50],
                "125d7342b9ac11cd91a39af48aa17b4f63f175d3",
            ),
            (
                (1..=25).collect(),
                vec![0xcd; 50],
                "4c9007f4026250c6bc8414f9bf50c86c2d7235da",
            ),
            (
                vec![0x0c; 20],
                b"Test With Truncation".to_vec(),
                "4c1a03424b55e07fe7f27be1d58bb9324a9a5a04",
            ),
            (
                vec![0xaa; 80],
                b"Test Using Larger Than Block-Size Key - Hash Key First".to_vec(),
                "aa4ae5e15272d00e95705637ce8a3b55ed402112",
            ),
            (
                vec![0xaa; 80],
                b"Test Using Larger Than Block-Size Key and Larger Than One Block-Size Data"
                    .to_vec(),
                "e8e99d0f45237d786d6bbaa7965c7808bbff1a91",
            ),
        ];
        for (key, data, expected) in cases {
            assert_eq!(hex(&mac(&key, &data)), expected);
        }
    }

    /// Every message length around the padding's edges (55/56 and 63/64 bytes past a block,
    /// counting the pad block) and the sink's buffer (512 bytes), and keys around a block.
    #[test]
    fn matches_the_hmac_crate_at_every_edge() {
        let data: Vec<u8> = (0..1200u32).map(|i| (i * 31 + 7) as u8).collect();
        for key_len in [0, 1, 20, 63, 64, 65, 200] {
            let key = &data[..key_len];
            for len in (0..140).chain(440..600).chain(1020..1200) {
                assert_eq!(
                    mac(key, &data[..len]),
                    reference(key, &data[..len]),
                    "{key_len} {len}"
                );
            }
        }
    }

    /// A base string written with every kind of `put` (0: `put`, 1: `put_encoded`, 2:
    /// `put_reencoded`), each in its own pieces.
    struct Mixed<'a>(&'a [(u8, Vec<u8>)]);

    impl WriteBase for Mixed<'_> {
        fn write_to<S: Sink>(&self, sink: &mut S) {
            for (kind, bytes) in self.0 {
                match kind {
                    0 => sink.put(bytes),
                    1 => sink.put_encoded(bytes),
                    _ => sink.put_reencoded(bytes),
                }
            }
        }
    }

    proptest::proptest! {
        /// Whatever the sink's fast paths write, across flushes that leave part of a block
        /// buffered, is what the MAC covers: the same as the `hmac` crate over the bytes a
        /// `Vec` collects.
        #[test]
        fn every_kind_of_put_across_flushes(
            pieces in proptest::collection::vec(
                (0..3u8, proptest::collection::vec(proptest::num::u8::ANY, 0..300)),
                0..12,
            ),
        ) {
            let mut written = Vec::new();
            Mixed(&pieces).write_to(&mut written);
            proptest::prop_assert_eq!(
                HmacSha1::new(b"key").mac(&Mixed(&pieces)),
                reference(b"key", &written)
            );
        }

        /// Any key, any message, written in any pieces.
        #[test]
        fn equals_the_hmac_crate(
            key in proptest::collection::vec(proptest::num::u8::ANY, 0..100),
            pieces in proptest::collection::vec(
                proptest::collection::vec(proptest::num::u8::ANY, 0..700),
                0..6,
            ),
        ) {
            let slices: Vec<&[u8]> = pieces.iter().map(Vec::as_slice).collect();
            let all = pieces.concat();
            proptest::prop_assert_eq!(
                HmacSha1::new(&key).mac(&Pieces(&slices)),
                reference(&key, &all)
            );
        }
    }
}
