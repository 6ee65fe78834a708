//! Lazy access to a request's validated header block.

use std::fmt;

/// The header fields of a request, borrowed from the input and walked on demand.
///
/// Built only by the parser over a block it has validated: every line is
/// `name ":" OWS value OWS`, names are tokens, there are at most
/// [`Limits::max_header_count`](super::Limits) lines.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct Headers<'a> {
    block: &'a [u8],
}

impl<'a> Headers<'a> {
    /// Headers over a validated block (header lines, without the blank line).
    pub(crate) fn new(block: &'a [u8]) -> Self {
        Headers { block }
    }

    /// The value of the first field named `name` (ASCII case-insensitive).
    pub fn get(&self, name: &[u8]) -> Option<&'a [u8]> {
        self.iter()
            .find(|(field, _)| field.eq_ignore_ascii_case(name))
            .map(|(_, value)| value)
    }

    /// Every field as `(name, value)`, value trimmed of surrounding spaces and tabs.
    pub fn iter(&self) -> HeaderIter<'a> {
        HeaderIter { rest: self.block }
    }
}

impl fmt::Debug for Headers<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.iter().map(|(name, value)| {
                (
                    String::from_utf8_lossy(name),
                    String::from_utf8_lossy(value),
                )
            }))
            .finish()
    }
}

/// Iterator over [`Headers`].
#[derive(Debug, Clone)]
pub struct HeaderIter<'a> {
    rest: &'a [u8],
}

impl<'a> Iterator for HeaderIter<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        if self.rest.is_empty() {
            return None;
        }
        let (line, rest) = match memchr::memchr(b'\n', self.rest) {
            Some(newline) => (&self.rest[..newline], &self.rest[newline + 1..]),
            None => (self.rest, &[][..]),
        };
        self.rest = rest;
        split_field(strip_cr(line))
    }
}

/// `line` without a trailing `\r`.
pub(crate) fn strip_cr(line: &[u8]) -> &[u8] {
    line.strip_suffix(b"\r").unwrap_or(line)
}

/// Splits `name: value` and trims the value; `None` when there is no colon.
pub(crate) fn split_field(line: &[u8]) -> Option<(&[u8], &[u8])> {
    // Names are short: a plain scan beats memchr's setup cost.
    let colon = line.iter().position(|&b| b == b':')?;
    Some((&line[..colon], trim_ows(&line[colon + 1..])))
}

/// Trims spaces and tabs (HTTP's optional whitespace) from both ends.
pub(crate) fn trim_ows(mut value: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = value {
        value = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = value {
        value = rest;
    }
    value
}

/// RFC 9110 `tchar`: the bytes a token (method, header name) may contain.
static TOKEN_BYTES: [bool; 256] = {
    let mut table = [false; 256];
    let mut byte = 0;
    while byte < 256 {
        let b = byte as u8;
        table[byte] = b.is_ascii_alphanumeric()
            || matches!(
                b,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        byte += 1;
    }
    table
};

/// Whether `byte` may appear in a token (method, header name).
pub(crate) fn is_token_byte(byte: u8) -> bool {
    TOKEN_BYTES[usize::from(byte)]
}
