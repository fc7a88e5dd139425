//! The signature base string (RFC 5849 §3.4.1) and its base string URI (§3.4.1.2).
//!
//! The base string is written straight into a [`Sink`], usually the keyed HMAC or the RSA
//! digest, so signing never materialises it.

use std::borrow::Cow;

use hmac::digest::Update;
use http::Uri;

use super::error::RequestError;
use super::fast::{HEX_UPPER, UNRESERVED, encode_to_slice};
use super::params::EncodedParam;

/// Scheme and host of a request whose URI is in origin form (`/path?query`), as a server sees it:
/// the scheme it was received on and the `Host` header (RFC 5849 §3.4.1.2).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Origin<'a> {
    /// `http` or `https`.
    pub scheme: &'a str,
    /// The `Host` header value: a host name or IP literal (`[::1]` for IPv6), with an optional
    /// `:port`.
    pub host: &'a str,
}

impl<'a> Origin<'a> {
    /// An origin from a scheme and a `Host` value.
    #[must_use]
    pub fn new(scheme: &'a str, host: &'a str) -> Self {
        Self { scheme, host }
    }
}

/// The parts of the base string URI (RFC 5849 §3.4.1.2).
#[derive(Debug, Clone)]
pub(crate) struct BaseUri<'a> {
    /// Lower-case `http` or `https`.
    pub(crate) scheme: &'static str,
    /// Lower-cased host (with brackets for IPv6).
    pub(crate) host: Cow<'a, str>,
    /// A port other than the scheme's default.
    pub(crate) port: Option<u16>,
    /// The path as sent; `/` when empty.
    pub(crate) path: &'a str,
}

impl<'a> BaseUri<'a> {
    /// Splits `uri` (absolute, or origin-form with `origin`) into base string URI parts.
    ///
    /// When both are given (an absolute-form request target, as HTTP/1.1 allows and HTTP/2
    /// builds from `:scheme` and `:authority`), they must name the same scheme, host and port:
    /// the origin is where the request really arrived, and a URI that claims `https` or another
    /// host must not decide the transport check or the signed host (RFC 5849 §3.4.1.2, §3.4.4).
    pub(crate) fn new(uri: &'a Uri, origin: Option<Origin<'a>>) -> Result<Self, RequestError> {
        let origin = match origin {
            Some(origin) => {
                let (host, port) = split_host_port(origin.host)?;
                Some(normalize(origin.scheme, host, port)?)
            }
            None => None,
        };
        let (scheme, host, port) = match (uri.scheme_str(), uri.authority()) {
            (Some(scheme), Some(authority)) => {
                let (host_port, host, port) = split_authority(authority.as_str());
                // `http` reads a port it cannot parse (`:99999`) as none: not the default one.
                if port.is_none()
                    && host_port
                        .get(host.len()..)
                        .and_then(|rest| rest.strip_prefix(':'))
                        .is_some_and(|p| !p.is_empty())
                {
                    return Err(invalid("invalid port"));
                }
                let from_uri = normalize(scheme, host, port)?;
                if let Some(origin) = &origin
                    && *origin != from_uri
                {
                    return Err(invalid(
                        "the absolute request URI names another scheme, host or port than the origin the request arrived with",
                    ));
                }
                from_uri
            }
            (Some(_), None) => return Err(invalid("the URI has no host")),
            (None, _) => {
                if uri.authority().is_some() {
                    return Err(invalid("the URI has an authority but no scheme"));
                }
                origin.ok_or_else(|| invalid(
                    "origin-form URI (a path, as servers receive it) without the scheme and Host it arrived with: give them with IncomingRequest::origin",
                ))?
            }
        };
        let path = match uri.path() {
            "" => "/",
            path => path,
        };
        Ok(Self {
            scheme,
            host,
            port,
            path,
        })
    }

    /// Whether the request goes over TLS.
    pub(crate) fn is_https(&self) -> bool {
        self.scheme == "https"
    }

    /// Writes `scheme://host[:port]path`, §3.6-encoded, into `sink`.
    pub(crate) fn write_encoded<S: Sink>(&self, sink: &mut S) {
        sink.put(if self.is_https() {
            b"https%3A%2F%2F"
        } else {
            b"http%3A%2F%2F"
        });
        sink.put_encoded(self.host.as_bytes());
        if let Some(port) = self.port {
            sink.put(b"%3A");
            let mut buf = [0u8; 20];
            sink.put(format_u64(port.into(), &mut buf).as_bytes());
        }
        sink.put_encoded(self.path.as_bytes());
    }
}

impl std::fmt::Display for BaseUri<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}://{}", self.scheme, self.host)?;
        if let Some(port) = self.port {
            write!(f, ":{port}")?;
        }
        f.write_str(self.path)
    }
}

/// The `host[:port]` part (after the last `@`), the host and the port of an authority
/// (`[userinfo@]host[:port]`), host and port exactly as [`http::uri::Authority::host`] and
/// [`http::uri::Authority::port_u16`] read them, in one scan instead of their several searches
/// (and of a separate `rsplit('@')`, which cost a `memrchr` call per request).
fn split_authority(authority: &str) -> (&str, &str, Option<u16>) {
    let bytes = authority.as_bytes();
    let mut host_start = 0;
    let mut first_colon = None;
    let mut last_colon = None;
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'@' {
            host_start = i + 1;
            first_colon = None;
        } else if b == b':' {
            last_colon = Some(i);
            if first_colon.is_none() {
                first_colon = Some(i);
            }
        }
    }
    let host_port = &authority[host_start..];
    let host = if host_port.starts_with('[') {
        host_port
            .find(']')
            .map_or(host_port, |end| &host_port[..=end])
    } else {
        first_colon.map_or(host_port, |i| &authority[host_start..i])
    };
    let port = last_colon.and_then(|i| authority[i + 1..].parse::<u16>().ok());
    (host_port, host, port)
}

/// Scheme, host and port as the base string URI writes them: the scheme lower-cased (`http` or
/// `https` only), the host lower-cased, and the scheme's default port dropped.
fn normalize<'h>(
    scheme: &str,
    host: &'h str,
    port: Option<u16>,
) -> Result<(&'static str, Cow<'h, str>, Option<u16>), RequestError> {
    // `eq_ignore_ascii_case` on a word rather than byte by byte: setting bit 5 lower-cases an
    // ASCII letter and turns no other byte into one, and every byte of `http` and `https` is
    // a letter, so `b | 0x20 == letter` holds exactly for the letter in either case.
    let http = |b: [u8; 4]| u32::from_le_bytes(b) | 0x2020_2020 == u32::from_le_bytes(*b"http");
    let (scheme, default_port) = match *scheme.as_bytes() {
        [a, b, c, d, s] if http([a, b, c, d]) && s | 0x20 == b's' => ("https", 443),
        [a, b, c, d] if http([a, b, c, d]) => ("http", 80),
        _ => return Err(invalid("the scheme is not http or https")),
    };
    let host = if has_upper(host.as_bytes()) {
        Cow::Owned(host.to_ascii_lowercase())
    } else {
        Cow::Borrowed(host)
    };
    Ok((scheme, host, port.filter(|&p| p != default_port)))
}

/// Whether `s` has an upper-case ASCII letter; eight bytes at a time (the vectorised fold it
/// replaces cost more than the test on hosts of a few words).
fn has_upper(s: &[u8]) -> bool {
    const LOW7: u64 = u64::from_ne_bytes([0x7F; 8]);
    const HIGH: u64 = u64::from_ne_bytes([0x80; 8]);
    // In each byte, on its low seven bits (so no carry crosses into the next byte): adding
    // 0x3F sets the high bit from 'A' (0x41) up, adding 0x25 from past 'Z' (0x5B) up; a byte
    // whose own high bit is set is not ASCII.
    let word = |w: &[u8; 8]| {
        let w = u64::from_ne_bytes(*w);
        let low = w & LOW7;
        let from_a = low + u64::from_ne_bytes([0x80 - b'A'; 8]);
        let past_z = low + u64::from_ne_bytes([0x80 - b'Z' - 1; 8]);
        from_a & !past_z & !w & HIGH != 0
    };
    match s.last_chunk::<8>() {
        // The words, and the last eight bytes (overlapping the last word: harmless for `any`).
        Some(last) => s.chunks_exact(8).fold(word(last), |any, chunk| {
            any | chunk.first_chunk::<8>().is_some_and(word)
        }),
        None => s.iter().any(u8::is_ascii_uppercase),
    }
}

fn invalid(reason: &'static str) -> RequestError {
    RequestError::InvalidUri { reason }
}

/// Splits a `Host` header value into host and optional port.
fn split_host_port(value: &str) -> Result<(&str, Option<u16>), RequestError> {
    let (host, port) = if value.starts_with('[') {
        let end = value
            .find(']')
            .ok_or_else(|| invalid("unterminated IPv6 literal in Host"))?;
        let (host, rest) = value.split_at(end + 1);
        match rest {
            "" => (host, None),
            rest => match rest.strip_prefix(':') {
                Some(port) => (host, Some(port)),
                None => return Err(invalid("junk after the IPv6 literal in Host")),
            },
        }
    } else {
        match value.split_once(':') {
            Some((host, port)) => (host, Some(port)),
            None => (value, None),
        }
    };
    let host_ok = !host.is_empty()
        && host
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"-._~!$&'()*+,;=%[]:".contains(&b));
    if !host_ok {
        return Err(invalid("invalid Host"));
    }
    let port = match port {
        // An empty port is the scheme's default (RFC 3986 §3.2.3), as in an absolute URI.
        None | Some("") => None,
        Some(p) if p.bytes().all(|b| b.is_ascii_digit()) => {
            Some(p.parse().map_err(|_| invalid("invalid port in Host"))?)
        }
        Some(_) => return Err(invalid("invalid port in Host")),
    };
    Ok((host, port))
}

/// Where the base string goes: a digest, or a buffer.
pub(crate) trait Sink {
    /// Appends bytes.
    fn put(&mut self, bytes: &[u8]);

    /// Appends `s`, which is already §3.6-encoded (only unreserved characters and `%XX`), encoded
    /// a second time, as the base string requires for its parameter part. Encoding such a string
    /// again only turns each `%` into `%25`.
    fn put_reencoded(&mut self, s: &[u8]) {
        let mut rest = s;
        while let Some(i) = rest.iter().position(|&b| b == b'%') {
            self.put(&rest[..i]);
            self.put(b"%25");
            rest = &rest[i + 1..];
        }
        self.put(rest);
    }

    /// Appends the §3.6 encoding of `s`.
    fn put_encoded(&mut self, s: &[u8]) {
        for &b in s {
            if UNRESERVED[usize::from(b)] {
                self.put(&[b]);
            } else {
                self.put(&[
                    b'%',
                    HEX_UPPER[usize::from(b >> 4)],
                    HEX_UPPER[usize::from(b & 15)],
                ]);
            }
        }
    }
}

/// Something that writes a signature base string into a [`Sink`].
pub(crate) trait WriteBase {
    /// Writes the whole base string.
    fn write_to<S: Sink>(&self, sink: &mut S);
}

/// A base string from sorted, §3.6-encoded parameters (see [`write_base_string`]).
pub(crate) struct ParamsBase<'a> {
    pub(crate) method: &'a str,
    pub(crate) uri: &'a BaseUri<'a>,
    pub(crate) params: &'a [EncodedParam<'a>],
}

impl WriteBase for ParamsBase<'_> {
    fn write_to<S: Sink>(&self, sink: &mut S) {
        write_base_string(sink, self.method, self.uri, self.params);
    }
}

/// The base string of `base` as a `String`.
pub(crate) fn to_base_string<B: WriteBase>(base: &B) -> String {
    let mut buf = Vec::with_capacity(256);
    base.write_to(&mut buf);
    // Every byte written is ASCII: the method is an HTTP token, the rest is percent-encoded.
    String::from_utf8(buf).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// A ready-made base string.
impl WriteBase for [u8] {
    fn write_to<S: Sink>(&self, sink: &mut S) {
        sink.put(self);
    }
}

impl Sink for Vec<u8> {
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
}

/// What a [`DigestSink`] feeds: a digest or MAC that takes bytes of any length, or a block
/// function that takes whole blocks and leaves the rest buffered.
pub(crate) trait Absorb {
    /// Takes `buf[..len]`, or its whole blocks, and returns how many bytes it left, which
    /// are then at the start of `buf`.
    fn absorb(&mut self, buf: &mut [u8], len: usize) -> usize;
}

impl<D: Update> Absorb for D {
    #[inline]
    fn absorb(&mut self, buf: &mut [u8], len: usize) -> usize {
        self.update(&buf[..len]);
        0
    }
}

/// Feeds a digest through a small stack buffer, so the many short pieces of a base string become
/// a few block-sized `update` calls.
///
/// After a flush fewer than 64 bytes stay buffered (see [`Absorb`]), so there is always room
/// for the largest piece the fast paths below write at once (`3 * 128 + 1` bytes).
pub(crate) struct DigestSink<'a, D: Absorb> {
    digest: &'a mut D,
    buf: [u8; 512],
    len: usize,
}

impl<'a, D: Absorb> DigestSink<'a, D> {
    pub(crate) fn new(digest: &'a mut D) -> Self {
        Self {
            digest,
            buf: [0; 512],
            len: 0,
        }
    }

    /// Flushes what is buffered into the digest. By reference: taking the sink by value
    /// copied its 528 bytes (a `memcpy` per signature) before the flush.
    pub(crate) fn finish(&mut self) {
        self.flush();
    }

    /// The bytes written but not yet given to the digest.
    pub(crate) fn buffered(&self) -> usize {
        self.len
    }

    /// The digest being fed.
    pub(crate) fn digest(&self) -> &D {
        self.digest
    }

    fn flush(&mut self) {
        if self.len > 0 {
            self.len = self.digest.absorb(&mut self.buf, self.len);
        }
    }

    /// [`Sink::put`] of more bytes than the buffer has room for: as much as fits, a flush,
    /// and again.
    #[cold]
    #[inline(never)]
    fn put_long(&mut self, mut bytes: &[u8]) {
        loop {
            let n = (self.buf.len() - self.len).min(bytes.len());
            let (now, rest) = bytes.split_at(n);
            self.buf[self.len..self.len + n].copy_from_slice(now);
            self.len += n;
            bytes = rest;
            if bytes.is_empty() {
                return;
            }
            self.flush();
        }
    }
}

/// Eight `%` bytes, for finding a `%` in eight bytes at once.
const PERCENTS: u64 = u64::from_ne_bytes([b'%'; 8]);
const LOW_BITS: u64 = u64::from_ne_bytes([0x01; 8]);
const HIGH_BITS: u64 = u64::from_ne_bytes([0x80; 8]);

impl<D: Absorb> Sink for DigestSink<'_, D> {
    /// Copies eight bytes at a time while none of them is a `%` (a SWAR test), so the long runs
    /// of nonces, tokens and values cost a load and a store per word.
    #[inline]
    fn put_reencoded(&mut self, s: &[u8]) {
        let mut rest = s;
        // Work on locals so the length stays in a register.
        let mut len = self.len;
        loop {
            if self.buf.len() - len < 24 {
                self.len = len;
                self.flush();
                len = self.len;
            }
            let buf = &mut self.buf;
            if let Some((chunk, tail)) = rest.split_first_chunk::<8>() {
                let x = u64::from_ne_bytes(*chunk) ^ PERCENTS;
                if x.wrapping_sub(LOW_BITS) & !x & HIGH_BITS == 0 {
                    buf[len..len + 8].copy_from_slice(chunk);
                    len += 8;
                    rest = tail;
                    continue;
                }
                // A `%` among these eight bytes: copy them one by one.
                for &b in chunk {
                    if b == b'%' {
                        buf[len..len + 3].copy_from_slice(b"%25");
                        len += 3;
                    } else {
                        buf[len] = b;
                        len += 1;
                    }
                }
                rest = tail;
                continue;
            }
            for &b in rest {
                if b == b'%' {
                    buf[len..len + 3].copy_from_slice(b"%25");
                    len += 3;
                } else {
                    buf[len] = b;
                    len += 1;
                }
            }
            self.len = len;
            return;
        }
    }

    /// Encodes straight into the buffer (see [`encode_to_slice`]), up to 128 input bytes at
    /// a time.
    #[inline]
    fn put_encoded(&mut self, s: &[u8]) {
        for chunk in s.chunks(128) {
            if self.buf.len() - self.len < 3 * chunk.len() + 1 {
                self.flush();
            }
            let len = self.len;
            self.len += encode_to_slice(chunk, &mut self.buf[len..]);
        }
    }

    #[inline(always)]
    fn put(&mut self, bytes: &[u8]) {
        if bytes.len() > self.buf.len() - self.len {
            self.put_long(bytes);
            return;
        }
        self.buf[self.len..self.len + bytes.len()].copy_from_slice(bytes);
        self.len += bytes.len();
    }
}

/// Writes the upper-cased HTTP method, §3.6-encoded.
#[inline]
pub(crate) fn put_method<S: Sink>(sink: &mut S, method: &str) {
    if method.bytes().all(|b| b.is_ascii_uppercase()) {
        sink.put(method.as_bytes());
    } else {
        // A custom method (§3.4.1.1: "it MUST be encoded", §3.6): an HTTP token may hold `!`,
        // `&`, `%` and other reserved characters.
        for b in method.bytes() {
            sink.put_encoded(&[b.to_ascii_uppercase()]);
        }
    }
}

/// Writes the signature base string (RFC 5849 §3.4.1.1): the upper-cased method, `&`, the
/// encoded base string URI, `&`, the encoded normalised parameters. `params` must be sorted and
/// §3.6-encoded already.
pub(crate) fn write_base_string<S: Sink>(
    sink: &mut S,
    method: &str,
    uri: &BaseUri<'_>,
    params: &[EncodedParam<'_>],
) {
    put_method(sink, method);
    sink.put(b"&");
    uri.write_encoded(sink);
    sink.put(b"&");
    for (i, (name, value)) in params.iter().enumerate() {
        if i > 0 {
            sink.put(b"%26");
        }
        sink.put_reencoded(name.as_bytes());
        sink.put(b"%3D");
        sink.put_reencoded(value.as_bytes());
    }
}

/// The base string as a `String` (for custom methods, verification diagnostics and tests).
pub(crate) fn base_string(method: &str, uri: &BaseUri<'_>, params: &[EncodedParam<'_>]) -> String {
    to_base_string(&ParamsBase {
        method,
        uri,
        params,
    })
}

/// The base string URI (RFC 5849 §3.4.1.2) of `uri`: scheme and host lower-cased, the default
/// port dropped, the path as sent (`/` when empty), no query and no fragment.
///
/// An origin-form URI (`/path?query`, as a server receives it) needs `origin`.
///
/// # Errors
///
/// Fails with [`RequestError::InvalidUri`] for a URI with no scheme or host (an origin-form URI
/// without `origin`) or a scheme other than `http(s)`.
///
/// ```
/// use http::Uri;
/// use oauth_core::oauth1::{base_string_uri, Origin};
///
/// let uri: Uri = "HTTP://Example.com:80/r%20v/X?id=123".parse().unwrap();
/// assert_eq!(base_string_uri(&uri, None).unwrap(), "http://example.com/r%20v/X");
/// let uri: Uri = "/request?b5=%3D%253D".parse().unwrap();
/// let origin = Origin::new("https", "[::1]:8443");
/// assert_eq!(base_string_uri(&uri, Some(origin)).unwrap(), "https://[::1]:8443/request");
/// ```
pub fn base_string_uri(uri: &Uri, origin: Option<Origin<'_>>) -> Result<String, RequestError> {
    Ok(BaseUri::new(uri, origin)?.to_string())
}

/// The signature base string (RFC 5849 §3.4.1.1) of a request with these decoded parameters
/// (query, form body and protocol parameters, `oauth_signature` and `realm` left out).
///
/// [`Signer`](super::Signer) computes it internally; this is for tests and diagnostics.
///
/// # Errors
///
/// Fails as [`base_string_uri`] does ([`RequestError::InvalidUri`]); the parameters, given
/// decoded, cannot fail.
///
/// ```
/// use http::Uri;
/// use oauth_core::oauth1::signature_base_string;
///
/// let uri: Uri = "http://example.com".parse().unwrap();
/// let base = signature_base_string("GET", &uri, None, [("n", "v")]).unwrap();
/// assert_eq!(base, "GET&http%3A%2F%2Fexample.com%2F&n%3Dv");
/// ```
pub fn signature_base_string<I, N, V>(
    method: &str,
    uri: &Uri,
    origin: Option<Origin<'_>>,
    params: I,
) -> Result<String, RequestError>
where
    I: IntoIterator<Item = (N, V)>,
    N: AsRef<str>,
    V: AsRef<str>,
{
    let base_uri = BaseUri::new(uri, origin)?;
    let mut encoded: Vec<EncodedParam<'static>> = params
        .into_iter()
        .map(|(n, v)| {
            (
                Cow::Owned(crate::encode::percent_encode(n.as_ref()).into_owned()),
                Cow::Owned(crate::encode::percent_encode(v.as_ref()).into_owned()),
            )
        })
        .collect();
    super::params::sort_params(&mut encoded);
    Ok(base_string(method, &base_uri, &encoded))
}

/// Formats `n` in decimal into `buf`, returning the digits.
pub(crate) fn format_u64(n: u64, buf: &mut [u8; 20]) -> &str {
    // Only ASCII digits were written.
    std::str::from_utf8(format_u64_ascii(n, buf)).unwrap_or("0")
}

/// Formats `n` in decimal into `buf`, two digits at a time, returning the digits.
pub(crate) fn format_u64_ascii(mut n: u64, buf: &mut [u8; 20]) -> &[u8] {
    const PAIRS: &[u8; 200] = b"0001020304050607080910111213141516171819\
        2021222324252627282930313233343536373839\
        4041424344454647484950515253545556575859\
        6061626364656667686970717273747576777879\
        8081828384858687888990919293949596979899";
    let mut i = buf.len();
    while n >= 100 {
        let pair = (n % 100) as usize * 2;
        n /= 100;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    }
    if n >= 10 {
        let pair = n as usize * 2;
        i -= 2;
        buf[i..i + 2].copy_from_slice(&PAIRS[pair..pair + 2]);
    } else {
        i -= 1;
        buf[i] = b'0' + n as u8;
    }
    &buf[i..]
}

#[cfg(test)]
mod tests {
    use super::*;

    fn uri(s: &str) -> String {
        base_string_uri(&s.parse().unwrap(), None).unwrap()
    }

    /// OAuth Core 1.0 §9.1.2 and oauthlib's `base_string_uri` cases.
    #[test]
    fn base_string_uri_table() {
        let table = [
            (
                "HTTP://Example.com:80/resource?id=123",
                "http://example.com/resource",
            ),
            (
                "HTTPS://Example.com:443/resource",
                "https://example.com/resource",
            ),
            (
                "http://example.com:8080/resource",
                "http://example.com:8080/resource",
            ),
            (
                "https://example.com:8443/resource",
                "https://example.com:8443/resource",
            ),
            ("http://example.com:443/", "http://example.com:443/"),
            ("https://example.com:80/", "https://example.com:80/"),
            ("http://example.com", "http://example.com/"),
            ("http://example.com?q=1", "http://example.com/"),
            ("http://[::1]:8080/path", "http://[::1]:8080/path"),
            ("http://[::1]:80/path", "http://[::1]/path"),
            (
                "http://www.example.net:8080/?q=1",
                "http://www.example.net:8080/",
            ),
            ("http://example.com/r%20v/X", "http://example.com/r%20v/X"),
            ("http://user:pw@example.com/a", "http://example.com/a"),
        ];
        for (input, expected) in table {
            assert_eq!(uri(input), expected, "{input}");
        }
    }

    #[test]
    fn origin_form_needs_origin() {
        let u: Uri = "/request?a=1".parse().unwrap();
        assert!(base_string_uri(&u, None).is_err());
        let with = |scheme, host| base_string_uri(&u, Some(Origin::new(scheme, host)));
        assert_eq!(
            with("http", "Example.COM").unwrap(),
            "http://example.com/request"
        );
        assert_eq!(
            with("HTTP", "example.com:80").unwrap(),
            "http://example.com/request"
        );
        assert_eq!(
            with("https", "example.com:8080").unwrap(),
            "https://example.com:8080/request"
        );
        assert_eq!(
            with("http", "[::1]:8080").unwrap(),
            "http://[::1]:8080/request"
        );
        // An empty port is the default one (RFC 3986 §3.2.3, `port = *DIGIT`; RFC 9110 §7.2),
        // as in an absolute URI.
        assert_eq!(
            with("https", "example.com:").unwrap(),
            "https://example.com/request"
        );
        assert_eq!(with("http", "[::1]:").unwrap(), "http://[::1]/request");
        for (scheme, host) in [
            ("ftp", "example.com"),
            ("http", ""),
            ("http", ":"),
            ("http", "example.com:99999"),
            ("http", "example.com:8x"),
            ("http", "[::1"),
            ("http", "[::1]x"),
            ("http", "exa mple.com"),
            ("http", "example.com/path"),
        ] {
            assert!(with(scheme, host).is_err(), "{scheme} {host}");
        }
        let ftp: Uri = "ftp://example.com/".parse().unwrap();
        assert!(base_string_uri(&ftp, None).is_err());
    }

    /// The base string URI is defined for `http` and `https` only, in any case (RFC 5849
    /// §3.4.1.2; RFC 3986 §3.1: schemes are case-insensitive). A scheme of the same length as
    /// either, or sharing its `http` prefix or its final `s`, is refused, in an absolute URI
    /// and as the origin's scheme.
    #[test]
    fn only_the_http_and_https_schemes_are_accepted() {
        let path: Uri = "/r".parse().unwrap();
        for (scheme, expected) in [
            ("http", "http"),
            ("HTTP", "http"),
            ("hTtP", "http"),
            ("https", "https"),
            ("HTTPS", "https"),
            ("httpS", "https"),
        ] {
            assert_eq!(
                uri(&format!("{scheme}://Example.com/r")),
                format!("{expected}://example.com/r"),
                "{scheme}"
            );
            assert_eq!(
                base_string_uri(&path, Some(Origin::new(scheme, "example.com"))).unwrap(),
                format!("{expected}://example.com/r"),
                "{scheme}"
            );
        }
        for scheme in [
            "ftps", "file", "xttp", "httq", "httpx", "HTTPX", "xttps", "ftpes", "wss", "httpss",
        ] {
            let absolute: Uri = format!("{scheme}://example.com/r").parse().unwrap();
            assert!(
                matches!(
                    base_string_uri(&absolute, None),
                    Err(RequestError::InvalidUri { .. })
                ),
                "{scheme}"
            );
            assert!(
                matches!(
                    base_string_uri(&path, Some(Origin::new(scheme, "example.com"))),
                    Err(RequestError::InvalidUri { .. })
                ),
                "{scheme}"
            );
        }
    }

    /// A port in `Host` is `*DIGIT` (RFC 3986 §3.2.3, RFC 9110 §7.2): a sign, which Rust's
    /// integer parser would take, makes the `Host` invalid rather than naming port 80.
    #[test]
    fn a_host_port_is_digits_only() {
        let path: Uri = "/r".parse().unwrap();
        for host in [
            "example.com:+80",
            "example.com:+8080",
            "example.com:+0",
            "[::1]:+80",
        ] {
            assert!(
                matches!(
                    base_string_uri(&path, Some(Origin::new("http", host))),
                    Err(RequestError::InvalidUri { .. })
                ),
                "{host}"
            );
        }
        assert_eq!(
            base_string_uri(&path, Some(Origin::new("http", "example.com:0080"))).unwrap(),
            "http://example.com/r"
        );
    }

    #[test]
    fn digest_sink_matches_buffer() {
        use sha1::{Digest, Sha1};
        let pieces: Vec<Vec<u8>> = (0..100)
            .map(|i| vec![b'a' + (i % 26) as u8; i * 7 % 300])
            .collect();
        let mut direct = Sha1::new();
        let mut buffered = Sha1::new();
        let mut sink = DigestSink::new(&mut buffered);
        for p in &pieces {
            Digest::update(&mut direct, p);
            sink.put(p);
        }
        sink.finish();
        assert_eq!(direct.finalize(), buffered.finalize());
    }

    /// `put_encoded` into a digest sink at every fill of its buffer, with pieces whose bytes
    /// all take three (`/` is `%2F`, the most room an encoded byte takes) or one: what is hashed
    /// is the §3.6 encoding, whatever room the buffer has left when the piece comes.
    #[test]
    fn encoding_into_a_digest_sink_at_every_fill() {
        use sha1::{Digest, Sha1};
        for fill in 0..=512 {
            let prefix = vec![b'x'; fill];
            for piece in [1, 2, 7, 8, 9, 127, 128, 129, 300]
                .into_iter()
                .flat_map(|n| ["/".repeat(n), "a".repeat(n), "/a".repeat(n.div_ceil(2))])
            {
                let mut hashed = Sha1::new();
                let mut sink = DigestSink::new(&mut hashed);
                sink.put(&prefix);
                sink.put_encoded(piece.as_bytes());
                sink.finish();
                let encoded = crate::encode::percent_encode(&piece);
                assert_eq!(
                    hashed.finalize(),
                    Sha1::digest([&prefix[..], encoded.as_bytes()].concat()),
                    "{fill} {}",
                    piece.len()
                );
            }
        }
    }

    #[test]
    fn reencoding_matches_the_general_encoder() {
        use sha1::{Digest, Sha1};
        let long = "abcdefgh%20ijklmnopqrstuvwxyz%2F%2F%2F0123456789abcdefghijklmnop%".repeat(20);
        for s in [
            "",
            "abc",
            "%",
            "%20",
            "a%20b%2Fc",
            "%25%25",
            "x%E3%80%81",
            "-._~",
            "abcdefgh",
            "abcdefg%",
            &long,
        ] {
            let expected = crate::encode::percent_encode(s);
            let mut slow = Vec::new();
            slow.put_reencoded(s.as_bytes());
            assert_eq!(String::from_utf8(slow).unwrap(), expected, "{s}");
            let mut hashed = Sha1::new();
            let mut sink = DigestSink::new(&mut hashed);
            sink.put(b"x");
            sink.put_reencoded(s.as_bytes());
            sink.finish();
            assert_eq!(
                hashed.finalize(),
                Sha1::digest(format!("x{expected}")),
                "{s}"
            );
        }
    }

    proptest::proptest! {
        #[test]
        fn split_authority_matches_http(
            authority in "([a-zA-Z:@%]{0,5}@)?(\\[[0-9a-fA-F:.]{1,8}\\]|[a-zA-Z0-9.%~-]{0,8})(:[0-9+]{0,7})?",
        ) {
            if let Ok(parsed) = authority.parse::<http::uri::Authority>() {
                proptest::prop_assert_eq!(
                    split_authority(parsed.as_str()),
                    (
                        parsed.as_str().rsplit('@').next().unwrap_or_default(),
                        parsed.host(),
                        parsed.port_u16()
                    )
                );
            }
        }
    }

    proptest::proptest! {
        #[test]
        fn has_upper_matches_the_bytes(s in proptest::collection::vec(proptest::num::u8::ANY, 0..40)) {
            proptest::prop_assert_eq!(has_upper(&s), s.iter().any(u8::is_ascii_uppercase));
        }
    }

    #[test]
    fn has_upper_every_byte_at_every_place() {
        for len in 1..20 {
            for at in 0..len {
                for b in 0..=255u8 {
                    let mut s = vec![b'a'; len];
                    s[at] = b;
                    assert_eq!(has_upper(&s), b.is_ascii_uppercase(), "{len} {at} {b}");
                }
            }
        }
    }

    #[test]
    fn format_u64_edges() {
        let mut buf = [0; 20];
        assert_eq!(format_u64(0, &mut buf), "0");
        assert_eq!(format_u64(1318622958, &mut buf), "1318622958");
        assert_eq!(format_u64(u64::MAX, &mut buf), "18446744073709551615");
        for n in (0..2000).chain([9, 10, 99, 100, 101, 999, 1000, u64::MAX - 1]) {
            assert_eq!(format_u64(n, &mut buf), n.to_string());
        }
    }
}
