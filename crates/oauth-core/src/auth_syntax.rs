//! The pieces of HTTP authentication syntax (RFC 9110 §5.6, §11.2) that both header parsers of
//! this crate read: a token, bad whitespace, and a quoted string with its quoted-pairs. The
//! OAuth 1 `Authorization` parser reads quoted strings strictly, the `WWW-Authenticate` parser
//! leniently; each keeps its own list rules and errors.

use std::borrow::Cow;

/// An RFC 9110 §5.6.2 `tchar`: the characters of a token (a scheme, a parameter name, a
/// bare value).
pub(crate) fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

/// Which bytes a quoted string may hold.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Quoted {
    /// Printable ASCII and space; a quoted-pair escapes a printable character. Anything else
    /// (a control, a byte past ASCII) ends the string as an error.
    Strict,
    /// Any byte but `"` and `\`, and a quoted-pair escapes any byte (RFC 9110 §5.6.4 with
    /// `obs-text`, and what servers send besides).
    Lenient,
}

/// A position in a header value, read forwards.
#[derive(Clone, Copy)]
pub(crate) struct Cursor<'a> {
    text: &'a str,
    pos: usize,
}

impl<'a> Cursor<'a> {
    /// A cursor at byte `pos` of `text`.
    pub(crate) fn new(text: &'a str, pos: usize) -> Self {
        Self { text, pos }
    }

    /// The whole text.
    pub(crate) fn text(&self) -> &'a str {
        self.text
    }

    /// The byte offset reached.
    pub(crate) fn pos(&self) -> usize {
        self.pos
    }

    /// Moves back (or on) to byte `pos`.
    pub(crate) fn set_pos(&mut self, pos: usize) {
        self.pos = pos;
    }

    pub(crate) fn at_end(&self) -> bool {
        self.pos >= self.text.len()
    }

    pub(crate) fn peek(&self) -> Option<u8> {
        self.text.as_bytes().get(self.pos).copied()
    }

    /// Steps over one byte (an ASCII delimiter just peeked).
    pub(crate) fn bump(&mut self) {
        self.pos += 1;
    }

    /// Skips the bytes `skip` accepts; whether it moved.
    pub(crate) fn skip_while(&mut self, mut skip: impl FnMut(u8) -> bool) -> bool {
        let start = self.pos;
        while self.peek().is_some_and(&mut skip) {
            self.pos += 1;
        }
        self.pos > start
    }

    /// Skips bad whitespace (`BWS`, RFC 9110 §5.6.3: spaces and tabs); whether it moved.
    pub(crate) fn skip_bws(&mut self) -> bool {
        self.skip_while(|b| b == b' ' || b == b'\t')
    }

    /// A token (one or more `tchar`), or `None` without moving.
    pub(crate) fn token(&mut self) -> Option<&'a str> {
        let start = self.pos;
        // `tchar` is ASCII, so the slice ends on a character boundary.
        self.skip_while(is_tchar)
            .then(|| &self.text[start..self.pos])
    }

    /// The quoted string at the cursor (which is on its opening `"`), its quoted-pairs
    /// unescaped; the cursor ends after the closing `"`. On error, the offset of the first byte
    /// that does not belong (the end of the text when the string is not closed).
    pub(crate) fn quoted_string(&mut self, bytes: Quoted) -> Result<Cow<'a, str>, usize> {
        let s = self.text.as_bytes();
        let printable = |b: u8| (b' '..=b'~').contains(&b);
        let start = self.pos + 1;
        let mut i = start;
        let mut escaped = false;
        loop {
            match s.get(i) {
                Some(b'"') => break,
                Some(b'\\') => match s.get(i + 1) {
                    Some(&next) if bytes == Quoted::Lenient || printable(next) => {
                        escaped = true;
                        i += 2;
                    }
                    _ => return Err(i),
                },
                Some(&b) if bytes == Quoted::Lenient || printable(b) => i += 1,
                _ => return Err(i),
            }
        }
        self.pos = i + 1;
        // Ends at the ASCII `"`, and a quoted-pair escapes a whole character: the content
        // is UTF-8, and dropping each escaping `\` keeps it so.
        let raw = &self.text[start..i];
        if !escaped {
            return Ok(Cow::Borrowed(raw));
        }
        let mut out = String::with_capacity(raw.len());
        let mut chars = raw.chars();
        while let Some(c) = chars.next() {
            match c {
                '\\' => out.extend(chars.next()),
                c => out.push(c),
            }
        }
        Ok(Cow::Owned(out))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn quoted(text: &str, bytes: Quoted) -> (Result<Cow<'_, str>, usize>, usize) {
        let mut cursor = Cursor::new(text, 0);
        let read = cursor.quoted_string(bytes);
        (read, cursor.pos())
    }

    /// A quoted-pair before a character of several bytes: the lenient reader keeps the whole
    /// character (no slicing inside it), the strict one refuses the quoted-pair where it starts.
    #[test]
    fn quoted_pairs_before_multi_byte_characters() {
        let text = "\"a\\é\\\"b\" rest";
        let (read, pos) = quoted(text, Quoted::Lenient);
        assert_eq!(read, Ok(Cow::Owned("aé\"b".to_owned())));
        assert_eq!(&text[pos..], " rest");
        assert_eq!(quoted(text, Quoted::Strict).0, Err(2));
        // A character past ASCII unescaped: lenient keeps it, strict refuses it where it
        // starts.
        assert_eq!(quoted("\"x€\"", Quoted::Lenient).0, Ok(Cow::Borrowed("x€")));
        assert_eq!(quoted("\"x€\"", Quoted::Strict).0, Err(2));
        // Unclosed, or a `\` at the very end: the error is at the end of the text.
        assert_eq!(quoted("\"abc", Quoted::Lenient).0, Err(4));
        assert_eq!(quoted("\"ab\\", Quoted::Lenient).0, Err(3));
        assert_eq!(quoted("\"é\\", Quoted::Strict).0, Err(1));
        assert_eq!(quoted("\"\"", Quoted::Strict).0, Ok(Cow::Borrowed("")));
    }
}
