//! Splitting a command line into tokens the way memcached does: on spaces only (a tab
//! is part of a token), runs of spaces count as one.

/// Iterator over the space-separated tokens of a line; never yields an empty token.
#[derive(Debug, Clone)]
pub(crate) struct Tokens<'a> {
    rest: &'a [u8],
}

impl<'a> Tokens<'a> {
    /// Tokens of `line`.
    pub(crate) fn new(line: &'a [u8]) -> Self {
        Tokens { rest: line }
    }

    /// The unsplit remainder, leading spaces removed.
    pub(crate) fn remainder(&self) -> &'a [u8] {
        let start = self
            .rest
            .iter()
            .position(|&b| b != b' ')
            .unwrap_or(self.rest.len());
        &self.rest[start..]
    }
}

impl<'a> Iterator for Tokens<'a> {
    type Item = &'a [u8];

    #[inline]
    fn next(&mut self) -> Option<&'a [u8]> {
        let start = self.rest.iter().position(|&b| b != b' ')?;
        let rest = &self.rest[start..];
        let end = find_space(rest).unwrap_or(rest.len());
        self.rest = &rest[end..];
        Some(&rest[..end])
    }
}

const LOW_BITS: u64 = 0x0101_0101_0101_0101;
const HIGH_BITS: u64 = 0x8080_8080_8080_8080;

/// Index of the first space in `bytes`.
#[inline]
fn find_space(bytes: &[u8]) -> Option<usize> {
    find_byte(bytes, b' ')
}

/// Index of the first `needle` in `bytes`, eight bytes at a time: keys and command lines
/// are mostly 10-50 bytes, where this beats both a byte loop and memchr's setup cost.
#[inline]
pub(crate) fn find_byte(bytes: &[u8], needle: u8) -> Option<usize> {
    let pattern = LOW_BITS * u64::from(needle);
    let mut chunks = bytes.chunks_exact(8);
    let mut offset = 0;
    for chunk in chunks.by_ref() {
        let word = u64::from_le_bytes(chunk.try_into().expect("chunks_exact yields 8 bytes"));
        let zero_where_space = word ^ pattern;
        // Classic "has zero byte": the lowest set high bit marks the first zero byte.
        let found = zero_where_space.wrapping_sub(LOW_BITS) & !zero_where_space & HIGH_BITS;
        if found != 0 {
            return Some(offset + (found.trailing_zeros() / 8) as usize);
        }
        offset += 8;
    }
    chunks
        .remainder()
        .iter()
        .position(|&b| b == needle)
        .map(|index| offset + index)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_the_first_space_at_every_position() {
        for length in 0..40 {
            for space_at in 0..=length {
                let mut bytes = vec![b'k'; length];
                if space_at < length {
                    bytes[space_at] = b' ';
                    // A later space and bytes near 0x20 must not confuse the search.
                    if space_at + 2 < length {
                        bytes[space_at + 2] = b' ';
                    }
                }
                let expected = bytes.iter().position(|&b| b == b' ');
                assert_eq!(find_space(&bytes), expected, "{length} {space_at}");
            }
        }
        for length in 0..20 {
            let mut line = vec![b'x'; length];
            line.push(b'\n');
            assert_eq!(find_byte(&line, b'\n'), Some(length));
            assert_eq!(find_byte(&line[..length], b'\n'), None);
        }
        let tricky: Vec<u8> = (0u8..=255).filter(|&b| b != b' ').collect();
        assert_eq!(find_space(&tricky), None);
        let mut with_space = tricky.clone();
        with_space.push(b' ');
        assert_eq!(find_space(&with_space), Some(tricky.len()));
    }

    #[test]
    fn splits_like_memcached() {
        let tokens: Vec<&[u8]> = Tokens::new(b"  get  a\tb   c ").collect();
        assert_eq!(tokens, [&b"get"[..], b"a\tb", b"c"]);
        let mut partial = Tokens::new(b"get a b");
        partial.next();
        assert_eq!(partial.remainder(), b"a b");
    }
}
