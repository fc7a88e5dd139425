//! Building blocks of the signing hot path: byte-class tables, a one-pass collector that turns
//! form data straight into base-string fragments, §3.6 encoding into slices, base64, and a small
//! inline string so a signature needs no allocation of its own.
//!
//! Every function here has a slower, obviously-correct counterpart elsewhere in the crate, and
//! the tests pin the two equal (including on invalid input).

use super::error::{RequestError, bounded_name};
use crate::encode::{DecodeError, form_decode_component};

/// Upper-case hexadecimal digits, as §3.6 requires.
pub(crate) const HEX_UPPER: &[u8; 16] = b"0123456789ABCDEF";

/// RFC 3986 unreserved bytes (ALPHA, DIGIT, `-._~`): the bytes §3.6 leaves as they are.
pub(crate) static UNRESERVED: [bool; 256] = {
    let mut table = [false; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        table[i] = b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~');
        i += 1;
    }
    table
};

/// The value of a hexadecimal digit (either case), or `0xFF`.
static HEX_VALUE: [u8; 256] = {
    let mut table = [0xFF; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        table[i] = match b {
            b'0'..=b'9' => b - b'0',
            b'a'..=b'f' => b - b'a' + 10,
            b'A'..=b'F' => b - b'A' + 10,
            _ => 0xFF,
        };
        i += 1;
    }
    table
};

/// The length of the §3.6 encoding of `s` (counted without branches).
#[inline]
pub(crate) fn encoded_len(s: &[u8]) -> usize {
    s.len()
        + 2 * s
            .iter()
            .map(|&b| usize::from(!UNRESERVED[usize::from(b)]))
            .sum::<usize>()
}

/// Whether every byte of `s` is unreserved (no early exit: for short strings a branch-free
/// scan beats a mispredicted exit).
#[inline]
pub(crate) fn all_unreserved(s: &[u8]) -> bool {
    s.iter()
        .fold(true, |all, &b| all & UNRESERVED[usize::from(b)])
}

/// The §3.6 encoding of each byte packed little-endian with its length in the top byte:
/// `[b, 0, 0, 1]` for an unreserved byte, `[%, H, L, 3]` otherwise.
static ENCODED: [u32; 256] = {
    let mut table = [0u32; 256];
    let mut i = 0;
    while i < 256 {
        let b = i as u8;
        table[i] = if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            u32::from_le_bytes([b, 0, 0, 1])
        } else {
            u32::from_le_bytes([
                b'%',
                HEX_UPPER[(b >> 4) as usize],
                HEX_UPPER[(b & 15) as usize],
                3,
            ])
        };
        i += 1;
    }
    table
};

/// Writes the §3.6 encoding of `s` at the start of `out` without branching on the bytes and
/// returns its length. `out` needs `3 * s.len() + 1` bytes: each byte's encoding is stored as
/// one four-byte word (see [`ENCODED`]) that the next byte's overlaps.
///
/// Eight bytes at a time go through a fixed-size window of `out`, so the stores need one bounds
/// check per eight bytes instead of two per byte; so do the last (fewer than eight) bytes. Only
/// when `out` leaves less room than a window past the encoded bytes is the rest stored one by
/// one with its checks.
#[inline]
pub(crate) fn encode_to_slice(s: &[u8], out: &mut [u8]) -> usize {
    // Eight bytes encode to at most 24, and the last four-byte store reaches three past its
    // start: offsets within a block stay below 24, so masking them with 31 changes nothing and
    // only lets the compiler see that `at + 4 <= 35` fits the window.
    const WINDOW: usize = 32 + 3;
    #[inline(always)]
    fn block(bytes: &[u8], window: &mut [u8; WINDOW]) -> usize {
        let mut k = 0;
        for &b in bytes {
            let packed = ENCODED[usize::from(b)];
            let at = k & 31;
            window[at..at + 4].copy_from_slice(&packed.to_le_bytes());
            k += (packed >> 24) as usize;
        }
        k
    }
    #[inline(always)]
    fn window_at(out: &mut [u8], n: usize) -> Option<&mut [u8; WINDOW]> {
        out.get_mut(n..)?.first_chunk_mut::<WINDOW>()
    }
    let mut n = 0;
    let mut chunks = s.chunks_exact(8);
    for (i, chunk) in (&mut chunks).enumerate() {
        let Some(window) = window_at(out, n) else {
            // Not enough room for a window: this chunk and the rest one by one.
            return n + encode_checked(&s[8 * i..], &mut out[n..]);
        };
        n += block(chunk, window);
    }
    let rest = chunks.remainder();
    match window_at(out, n) {
        Some(window) => n + block(rest, window),
        None => n + encode_checked(rest, &mut out[n..]),
    }
}

/// [`encode_to_slice`] with a bounds check per store.
fn encode_checked(s: &[u8], out: &mut [u8]) -> usize {
    let mut n = 0;
    for &b in s {
        let packed = ENCODED[usize::from(b)];
        out[n..n + 4].copy_from_slice(&packed.to_le_bytes());
        n += (packed >> 24) as usize;
    }
    n
}

/// Appends the §3.6 encoding of `s` to `out` (same output as [`crate::encode::percent_encode`],
/// which works on UTF-8 bytes too).
#[inline]
pub(crate) fn encode_into(out: &mut Vec<u8>, s: &[u8]) {
    let mut rest = s;
    while !rest.is_empty() {
        let run = rest
            .iter()
            .position(|&b| !UNRESERVED[usize::from(b)])
            .unwrap_or(rest.len());
        out.extend_from_slice(&rest[..run]);
        if let Some(&b) = rest.get(run) {
            out.extend_from_slice(&[
                b'%',
                HEX_UPPER[usize::from(b >> 4)],
                HEX_UPPER[usize::from(b & 15)],
            ]);
            rest = &rest[run + 1..];
        } else {
            break;
        }
    }
}

/// One query or form parameter collected by [`collect_params`]: `scratch[start..end]` is
/// `name%3Dvalue` with name and value §3.6-encoded twice (as the base string carries them), and
/// `scratch[start..name_end]` is the name.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Param {
    pub(crate) start: usize,
    pub(crate) name_end: usize,
    pub(crate) end: usize,
}

impl Param {
    #[inline]
    pub(crate) fn name<'s>(&self, scratch: &'s [u8]) -> &'s [u8] {
        &scratch[self.start..self.name_end]
    }

    #[inline]
    pub(crate) fn value<'s>(&self, scratch: &'s [u8]) -> &'s [u8] {
        &scratch[self.name_end + 3..self.end]
    }

    #[inline]
    pub(crate) fn pair<'s>(&self, scratch: &'s [u8]) -> &'s [u8] {
        &scratch[self.start..self.end]
    }
}

const INLINE_PARAMS: usize = 16;

/// A list of [`Param`]s that lives on the stack until it outgrows [`INLINE_PARAMS`].
#[derive(Debug)]
pub(crate) struct ParamList {
    inline: [Param; INLINE_PARAMS],
    len: usize,
    spilled: Vec<Param>,
}

impl ParamList {
    pub(crate) fn new() -> Self {
        Self {
            inline: [Param::default(); INLINE_PARAMS],
            len: 0,
            spilled: Vec::new(),
        }
    }

    #[inline]
    fn push(&mut self, param: Param) {
        if self.len < INLINE_PARAMS {
            self.inline[self.len] = param;
            self.len += 1;
        } else {
            if self.spilled.is_empty() {
                self.spilled.reserve(INLINE_PARAMS * 2);
                self.spilled.extend_from_slice(&self.inline);
            }
            self.spilled.push(param);
        }
    }

    pub(crate) fn as_mut_slice(&mut self) -> &mut [Param] {
        if self.spilled.is_empty() {
            &mut self.inline[..self.len]
        } else {
            &mut self.spilled
        }
    }
}

/// The scratch space [`collect_params`] may need for `data_len` bytes of form data: each input
/// byte becomes at most five (`%2520` for `+`, `%25XX` otherwise), a segment without `=` gains
/// three (`%3D`), and a delimiter pays for that except after the last segment.
pub(crate) fn scratch_len(data_len: usize) -> usize {
    5 * data_len + 8
}

/// A bad escape was found: the strict decoder describes it.
#[cold]
fn bad_escape(component: &str, offset: usize) -> RequestError {
    match form_decode_component(component) {
        Err(e) => e.into(),
        Ok(_) => DecodeError::InvalidPercentEncoding { offset }.into(),
    }
}

/// The end of the component starting at `start`: the next `&` (or `=` too, for a name).
fn component_end(bytes: &[u8], start: usize, is_name: bool) -> usize {
    bytes[start..]
        .iter()
        .position(|&b| b == b'&' || (is_name && b == b'='))
        .map_or(bytes.len(), |i| start + i)
}

/// Writes `encode(encode(form_decode(raw)))` of the component starting at `bytes[i]` (up to
/// the next `&`, or `=` for a name) at `out[*pos..]`. Returns where the component ends and
/// whether an escape decoded to a non-ASCII byte (so the decoded bytes may not be UTF-8), or
/// `Err(offset)` of a bad escape within the component.
#[inline]
fn encode_component(
    bytes: &[u8],
    start: usize,
    is_name: bool,
    out: &mut [u8],
    pos: &mut usize,
    raw_non_ascii: &mut bool,
) -> Result<(usize, bool), usize> {
    let mut i = start;
    let mut p = *pos;
    let mut escaped_non_ascii = false;
    loop {
        // A run of unreserved bytes, copied as they are.
        let mut run = 0;
        for (dest, &b) in out[p..].iter_mut().zip(&bytes[i..]) {
            if !UNRESERVED[usize::from(b)] {
                break;
            }
            *dest = b;
            run += 1;
        }
        i += run;
        p += run;
        let Some(&b) = bytes.get(i) else {
            break;
        };
        // Tested in the order of their frequency (a `match` became a jump table, whose
        // indirect jump mispredicted).
        let escape = if b == b'%' {
            // Both digits under one bounds check; a missing digit is a bad escape, as is a
            // byte that is not a hexadecimal digit (`HEX_VALUE` gives `0xFF`, which the
            // single `hi | lo` test catches).
            let Some(&[h, l]) = bytes.get(i + 1..i + 3) else {
                return Err(i - start);
            };
            let (hi, lo) = (HEX_VALUE[usize::from(h)], HEX_VALUE[usize::from(l)]);
            if hi | lo > 15 {
                return Err(i - start);
            }
            i += 3;
            let d = hi << 4 | lo;
            escaped_non_ascii |= d >= 0x80;
            if UNRESERVED[usize::from(d)] {
                out[p] = d;
                p += 1;
                continue;
            }
            d
        } else if b == b'&' || (b == b'=' && is_name) {
            break;
        } else if b == b'+' {
            i += 1;
            b' '
        } else {
            i += 1;
            *raw_non_ascii |= b >= 0x80;
            b
        };
        // `%XX` encoded once more: `%25XX`.
        out[p..p + 5].copy_from_slice(&[
            b'%',
            b'2',
            b'5',
            HEX_UPPER[usize::from(escape >> 4)],
            HEX_UPPER[usize::from(escape & 15)],
        ]);
        p += 5;
    }
    *pos = p;
    Ok((i, escaped_non_ascii))
}

/// Splits form data (a query or a form body) into parameters, written to `out` from `*pos` as
/// `name%3Dvalue` with the canonical §3.6 form of each decoded name and value encoded once more,
/// which is exactly how the base string carries them (RFC 5849 §3.4.1.1, §3.4.1.3.2).
///
/// Same semantics and the same errors, in the same order, as
/// [`collect_form`](super::params::collect_form) with `reject_protocol` followed by the
/// base string's re-encoding: empty segments are skipped, a segment without `=` has an empty
/// value, a bad escape or escapes that decode to invalid UTF-8 are
/// [`RequestError::InvalidEncoding`], and a name that is `oauth_...` once decoded is
/// [`RequestError::DuplicateProtocolParameter`] (checked before its value is read).
///
/// Encoding twice keeps the order (a `%` stays the smallest byte that can differ), so sorting
/// these fragments sorts the parameters.
///
/// `bytes` should be UTF-8; `out` must have [`scratch_len`]`(bytes.len())` bytes free from
/// `*pos`. Bytes that are not ASCII are only scanned, not checked: `*non_ascii` is set when
/// `bytes` has any outside escapes, and then (as on an error) the caller must check that
/// `bytes` is UTF-8 before trusting the result, since a text that is not UTF-8 makes the
/// results of this function meaningless.
pub(crate) fn collect_params(
    bytes: &[u8],
    out: &mut [u8],
    pos: &mut usize,
    params: &mut ParamList,
    non_ascii: &mut bool,
) -> Result<(), RequestError> {
    // Only read on the error paths (components split at ASCII delimiters stay UTF-8).
    let text =
        |range: std::ops::Range<usize>| std::str::from_utf8(&bytes[range]).unwrap_or_default();
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'&' {
            i += 1;
            continue;
        }
        let start = *pos;
        let name_raw = i;
        let (end, escaped_non_ascii) = encode_component(bytes, i, true, out, pos, non_ascii)
            .map_err(|offset| {
                bad_escape(text(name_raw..component_end(bytes, name_raw, true)), offset)
            })?;
        i = end;
        let name_end = *pos;
        if escaped_non_ascii || out[start..name_end].starts_with(b"oauth_") {
            // The decoded name must be UTF-8; a protocol parameter is refused by its decoded name.
            let decoded = form_decode_component(text(name_raw..end))?;
            if out[start..name_end].starts_with(b"oauth_") {
                return Err(RequestError::DuplicateProtocolParameter {
                    name: bounded_name(&decoded),
                });
            }
        }
        out[name_end..name_end + 3].copy_from_slice(b"%3D");
        *pos += 3;
        if bytes.get(i) == Some(&b'=') {
            i += 1;
            let value_raw = i;
            let (end, escaped_non_ascii) = encode_component(bytes, i, false, out, pos, non_ascii)
                .map_err(|offset| {
                bad_escape(
                    text(value_raw..component_end(bytes, value_raw, false)),
                    offset,
                )
            })?;
            i = end;
            if escaped_non_ascii {
                form_decode_component(text(value_raw..end))?;
            }
        }
        params.push(Param {
            start,
            name_end,
            end: *pos,
        });
    }
    Ok(())
}

/// The base64 (standard alphabet, padded) length of `n` bytes.
pub(crate) const fn base64_len(n: usize) -> usize {
    n.div_ceil(3) * 4
}

const BASE64_ALPHABET: &[u8; 64] =
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

/// Standard padded base64 of `input` into `out`, which must hold [`base64_len`] bytes.
fn base64_into(input: &[u8], out: &mut [u8]) {
    let sym = |x: u32| BASE64_ALPHABET[(x & 63) as usize];
    // Input and output walked in step as exact chunks: no bounds check per group. The input
    // goes first in the `zip`, so the output chunk for the padded remainder is not consumed.
    let mut chunks = input.chunks_exact(3);
    let mut outs = out.chunks_exact_mut(4);
    for (c, o) in (&mut chunks).zip(&mut outs) {
        let n = u32::from(c[0]) << 16 | u32::from(c[1]) << 8 | u32::from(c[2]);
        o.copy_from_slice(&[sym(n >> 18), sym(n >> 12), sym(n >> 6), sym(n)]);
    }
    match (chunks.remainder(), outs.next()) {
        (&[a], Some(o)) => {
            let n = u32::from(a) << 16;
            o.copy_from_slice(&[sym(n >> 18), sym(n >> 12), b'=', b'=']);
        }
        (&[a, b], Some(o)) => {
            let n = u32::from(a) << 16 | u32::from(b) << 8;
            o.copy_from_slice(&[sym(n >> 18), sym(n >> 12), sym(n >> 6), b'=']);
        }
        _ => {}
    }
}

/// A string of up to `N` bytes kept inline, or on the heap when longer.
#[derive(Clone)]
pub(crate) enum SmallString<const N: usize> {
    Inline { buf: [u8; N], len: usize },
    Heap(String),
}

impl<const N: usize> SmallString<N> {
    pub(crate) const fn new() -> Self {
        Self::Inline {
            buf: [0; N],
            len: 0,
        }
    }

    pub(crate) fn from_str(s: &str) -> Self {
        let mut out = Self::new();
        out.push_str(s);
        out
    }

    /// A copy of `ascii`, which must be ASCII (as a generated nonce is): no UTF-8 check.
    pub(crate) fn from_ascii(ascii: &[u8]) -> Self {
        let mut out = Self::new();
        out.push_ascii_with(ascii.len(), |dest| dest.copy_from_slice(ascii));
        out
    }

    /// Appends ASCII bytes written by `write` into a `n`-byte window. Only ever called with
    /// writers that produce ASCII, so the contents stay UTF-8.
    fn push_ascii_with(&mut self, n: usize, write: impl FnOnce(&mut [u8])) {
        match self {
            Self::Inline { buf, len } if *len + n <= N => {
                write(&mut buf[*len..*len + n]);
                *len += n;
            }
            _ => {
                let mut tmp = vec![0; n];
                write(&mut tmp);
                // ASCII by contract; a lossy conversion keeps this total.
                self.push_str(&String::from_utf8_lossy(&tmp));
            }
        }
    }

    pub(crate) fn push_str(&mut self, s: &str) {
        match self {
            Self::Inline { buf, len } if *len + s.len() <= N => {
                buf[*len..*len + s.len()].copy_from_slice(s.as_bytes());
                *len += s.len();
            }
            Self::Inline { .. } => {
                let mut heap = String::with_capacity(self.as_str().len() + s.len());
                heap.push_str(self.as_str());
                heap.push_str(s);
                *self = Self::Heap(heap);
            }
            Self::Heap(heap) => heap.push_str(s),
        }
    }

    /// Appends the standard padded base64 of `bytes`.
    pub(crate) fn push_base64(&mut self, bytes: &[u8]) {
        self.push_ascii_with(base64_len(bytes.len()), |out| base64_into(bytes, out));
    }

    pub(crate) fn as_bytes(&self) -> &[u8] {
        match self {
            Self::Inline { buf, len } => &buf[..*len],
            Self::Heap(s) => s.as_bytes(),
        }
    }

    pub(crate) fn as_str(&self) -> &str {
        match self {
            // Only whole `&str`s and ASCII were appended, so this never falls back.
            Self::Inline { buf, len } => std::str::from_utf8(&buf[..*len]).unwrap_or_default(),
            Self::Heap(s) => s,
        }
    }
}

#[cfg(test)]
mod tests {
    use base64::Engine as _;
    use base64::engine::general_purpose::STANDARD;

    use super::*;
    use crate::encode::percent_encode;
    use crate::oauth1::params::{EncodedParam, collect_form};

    #[test]
    fn tables_match_the_definitions() {
        for b in 0..=255u8 {
            assert_eq!(
                UNRESERVED[usize::from(b)],
                b.is_ascii_alphanumeric() || b"-._~".contains(&b)
            );
            assert_eq!(
                HEX_VALUE[usize::from(b)],
                (b as char).to_digit(16).map_or(0xFF, |d| d as u8)
            );
        }
    }

    /// What `collect_params` must produce: `collect_form`, then each name and value encoded
    /// again as the base string does.
    fn slow(data: &str) -> Result<Vec<(String, String)>, RequestError> {
        let mut params: Vec<EncodedParam<'_>> = Vec::new();
        collect_form(data, true, &mut params)?;
        Ok(params
            .into_iter()
            .map(|(n, v)| {
                (
                    percent_encode(&n).into_owned(),
                    percent_encode(&v).into_owned(),
                )
            })
            .collect())
    }

    fn fast(data: &str) -> Result<Vec<(String, String)>, RequestError> {
        let mut scratch = vec![0xAA; scratch_len(data.len()) + 7];
        let mut pos = 7;
        let mut params = ParamList::new();
        let mut non_ascii = false;
        collect_params(
            data.as_bytes(),
            &mut scratch,
            &mut pos,
            &mut params,
            &mut non_ascii,
        )?;
        assert!(pos <= scratch.len());
        Ok(params
            .as_mut_slice()
            .iter()
            .map(|p| {
                assert_eq!(&scratch[p.name_end..p.name_end + 3], b"%3D");
                (
                    String::from_utf8(p.name(&scratch).to_vec()).unwrap(),
                    String::from_utf8(p.value(&scratch).to_vec()).unwrap(),
                )
            })
            .collect())
    }

    #[test]
    fn collect_params_matches_collect_form() {
        let many = "a=1&".repeat(40);
        for data in [
            "",
            "&",
            "&&a",
            "a",
            "=",
            "==",
            "a=b=c",
            "b5=%3D%253D&a3=a&c%40=&a2=r%20b",
            "c2&a3=2+q",
            "status=Hello%20Ladies%20%2b%20Gentlemen%2c%20a%20signed%20OAuth%20request%21",
            "oauth_token=x",
            "oauth%5Ftoken=x",
            "x=1&oauth_nonce=%zz",
            "a=%zz&oauth_nonce=1",
            "%zz=1",
            "a%=1",
            "a=%4",
            "a=1&b=%FF",
            "%FF=1",
            "caf%C3%A9=caf\u{e9}",
            "\u{e9}%A9=%C3\u{e9}",
            "%%41=1",
            "~-._=!*'();:@$,/?#[]",
            " = ",
            "oauth=1&oauth_=2",
            &many,
        ] {
            assert_eq!(fast(data), slow(data), "{data:?}");
        }
    }

    /// A bad escape is an `InvalidEncoding` error at the offset of its `%` within its own
    /// name or value, wherever that component sits in the data: at the very start, cut off by
    /// the end of the data, or in a value followed by more parameters.
    #[test]
    fn a_bad_escape_is_reported_at_its_offset_in_its_component() {
        let invalid_at = |offset| {
            Err(RequestError::InvalidEncoding(
                DecodeError::InvalidPercentEncoding { offset },
            ))
        };
        for (data, offset) in [
            ("%", 0),
            ("ab%4", 2),
            ("ab=c%zz&d=1", 1),
            ("x=1&name=va%zzlue&y=2", 2),
            ("x=1&na%g1=v&y=2", 2),
        ] {
            assert_eq!(fast(data), invalid_at(offset), "{data:?}");
            assert_eq!(slow(data), invalid_at(offset), "{data:?}");
        }
    }

    /// RFC 5849 §3.6: only ALPHA, DIGIT, `-._~` stay as they are; every other byte takes three.
    #[test]
    fn encoded_len_counts_three_bytes_per_reserved_byte() {
        for s in [
            "",
            "abcXYZ019-._~",
            "Hello Ladies + Gentlemen, a signed OAuth request!",
            "%",
            "caf\u{e9}",
        ] {
            assert_eq!(encoded_len(s.as_bytes()), percent_encode(s).len(), "{s:?}");
        }
        assert_eq!(encoded_len(b"a b"), 5);
        assert_eq!(encoded_len(b"=&"), 6);
        assert!(all_unreserved(b""));
        assert!(all_unreserved(b"abcXYZ019-._~"));
        assert!(!all_unreserved(b"abc def"));
        assert!(!all_unreserved(b"\xe9"));
    }

    /// Every split between the windowed blocks and the checked fallback: inputs of every
    /// length up to 40, mixing escaped and unreserved bytes, into buffers from the minimum
    /// (`3 * len + 1`) to well past a window.
    #[test]
    fn encode_to_slice_with_any_room() {
        let text = "a b/c~d%e+f=gHIJ!kl&mn opq.rs-tu*vwxyz0123";
        for len in 0..=40 {
            let s = &text.as_bytes()[..len];
            let expected = percent_encode(&text[..len]);
            for extra in 0..48 {
                let mut out = vec![0; 3 * len + 1 + extra];
                let n = encode_to_slice(s, &mut out);
                assert_eq!(&out[..n], expected.as_bytes(), "{len} {extra}");
            }
        }
    }

    #[test]
    fn base64_matches_the_crate() {
        for n in 0..70 {
            let input: Vec<u8> = (0..n).map(|i| (i * 37 + 11) as u8).collect();
            let mut s = SmallString::<88>::new();
            s.push_base64(&input);
            assert_eq!(s.as_str(), STANDARD.encode(&input), "{n}");
        }
    }

    #[test]
    fn small_string_spills() {
        let mut s = SmallString::<4>::from_str("ab");
        s.push_str("cd");
        assert!(matches!(s, SmallString::Inline { .. }));
        s.push_str("é");
        assert_eq!(s.as_str(), "abcdé");
        s.push_base64(b"\xff");
        assert_eq!(s.as_str(), "abcdé/w==");
        assert_eq!(s.as_bytes(), "abcdé/w==".as_bytes());
    }

    proptest::proptest! {
        #[test]
        fn collect_params_equals_collect_form(data in "(%[0-9a-fA-F]{2}|%|[+=&a-zA-Z0-9._~ !*%é€]|oauth_){0,16}") {
            proptest::prop_assert_eq!(fast(&data), slow(&data));
        }

        #[test]
        fn collect_params_equals_collect_form_any(data in "\\PC{0,24}") {
            proptest::prop_assert_eq!(fast(&data), slow(&data));
        }

        #[test]
        fn encode_into_equals_percent_encode(s in "\\PC{0,24}") {
            let mut buf = vec![0; 3 * s.len() + 1];
            let n = encode_to_slice(s.as_bytes(), &mut buf);
            let expected = percent_encode(&s);
            proptest::prop_assert_eq!(&buf[..n], expected.as_bytes());
            proptest::prop_assert_eq!(all_unreserved(s.as_bytes()), n == s.len());
            let mut out = Vec::new();
            encode_into(&mut out, s.as_bytes());
            proptest::prop_assert_eq!(out.len(), encoded_len(s.as_bytes()));
            proptest::prop_assert_eq!(String::from_utf8(out).unwrap(), percent_encode(&s));
        }
    }
}
