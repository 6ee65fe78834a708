//! Lazy, borrowing iteration over the arguments of a framed request.
//!
//! The frame parser validates a whole request once; [`Args`] then re-walks the
//! validated bytes on demand, so a 10 000-key MGET costs no allocation and the keys are
//! yielded straight from the read buffer.

use std::fmt;

/// How many leading arguments the framer hands over already split, so the common
/// commands (name, key, value) never re-read their headers.
pub(crate) const HEAD_ARGS: usize = 3;

/// The arguments of one request (command name first), yielded as borrowed byte slices.
///
/// Built only by the frame parser over bytes it has validated; `Copy`, so it can be
/// walked any number of times. The first three come pre-split; the rest are
/// re-read from the validated bytes on demand.
#[derive(Clone, Copy)]
pub struct Args<'a> {
    head: [&'a [u8]; HEAD_ARGS],
    head_next: usize,
    head_len: usize,
    rest: &'a [u8],
    remaining: usize,
    form: Form,
}

/// Collects the framer's findings while it validates a request: the first arguments
/// split, and where the bytes of the others start.
pub(crate) struct ArgsBuilder<'a> {
    head: [&'a [u8]; HEAD_ARGS],
    count: usize,
    rest_start: usize,
}

impl<'a> ArgsBuilder<'a> {
    /// A builder whose arguments' bytes start at `start`.
    pub(crate) fn new(start: usize) -> Self {
        ArgsBuilder {
            head: [&[]; HEAD_ARGS],
            count: 0,
            rest_start: start,
        }
    }

    /// Records one validated argument whose bytes (header, quotes included) end at `end`.
    pub(crate) fn push(&mut self, arg: &'a [u8], end: usize) {
        if self.count < HEAD_ARGS {
            self.head[self.count] = arg;
            self.rest_start = end;
        }
        self.count += 1;
    }

    /// How many arguments so far.
    pub(crate) fn count(&self) -> usize {
        self.count
    }

    /// The arguments of a multibulk request whose bytes are `input[..end]`.
    pub(crate) fn multibulk(self, input: &'a [u8], end: usize) -> Args<'a> {
        Args::new(
            self.head,
            self.count,
            &input[self.rest_start..end],
            Form::Multibulk,
        )
    }

    /// The arguments of an inline line.
    pub(crate) fn inline(self, line: &'a [u8]) -> Args<'a> {
        Args::new(
            self.head,
            self.count,
            &line[self.rest_start..],
            Form::Inline,
        )
    }
}

/// Which request form the bytes are in.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Form {
    /// `$N\r\n<N bytes>\r\n` repeated.
    Multibulk,
    /// Whitespace-separated tokens of one line, possibly quoted without escapes.
    Inline,
}

impl<'a> Args<'a> {
    fn new(head: [&'a [u8]; HEAD_ARGS], count: usize, rest: &'a [u8], form: Form) -> Self {
        Args {
            head,
            head_next: 0,
            head_len: count.min(HEAD_ARGS),
            rest,
            remaining: count,
            form,
        }
    }

    /// An empty argument list.
    pub fn empty() -> Self {
        Self::new([&[]; HEAD_ARGS], 0, &[], Form::Multibulk)
    }

    /// The last `count` arguments of a multibulk request this parser validated, whose
    /// bytes (`$N\r\n<N bytes>\r\n` each) start `rest`: a server that served and
    /// dropped the first keys of a long MGET goes on from the next one without
    /// parsing the request again.
    pub fn resume_multibulk(rest: &'a [u8], count: usize) -> Self {
        Args {
            head: [&[]; HEAD_ARGS],
            head_next: 0,
            head_len: 0,
            rest,
            remaining: count,
            form: Form::Multibulk,
        }
    }

    /// Whether the request arrived as an inline line rather than a multibulk array.
    pub fn is_inline(&self) -> bool {
        self.form == Form::Inline
    }

    fn next_multibulk(&mut self) -> Option<&'a [u8]> {
        // Validated: `$`, digits, `\r\n`, data, `\r\n`.
        let mut len: usize = 0;
        let mut header_end = 1;
        while let Some(&byte) = self.rest.get(header_end) {
            if byte == b'\r' {
                break;
            }
            len = len
                .checked_mul(10)?
                .checked_add(usize::from(byte.wrapping_sub(b'0')))?;
            header_end += 1;
        }
        let data_start = header_end + 2;
        let data_end = data_start.checked_add(len)?;
        let data = self.rest.get(data_start..data_end)?;
        self.rest = self.rest.get(data_end + 2..).unwrap_or(&[]);
        Some(data)
    }

    fn next_inline(&mut self) -> Option<&'a [u8]> {
        let start = self.rest.iter().position(|&b| !is_inline_space(b))?;
        let rest = &self.rest[start..];
        let (token, after) = match rest[0] {
            quote @ (b'"' | b'\'') => {
                let close = memchr::memchr(quote, &rest[1..])? + 1;
                (&rest[1..close], close + 1)
            }
            _ => {
                let end = rest
                    .iter()
                    .position(|&b| is_inline_space(b))
                    .unwrap_or(rest.len());
                (&rest[..end], end)
            }
        };
        self.rest = rest.get(after..).unwrap_or(&[]);
        Some(token)
    }
}

/// Whitespace as Redis's `sdssplitargs` sees it (C `isspace`).
pub(crate) fn is_inline_space(byte: u8) -> bool {
    matches!(byte, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

impl<'a> Iterator for Args<'a> {
    type Item = &'a [u8];

    fn next(&mut self) -> Option<&'a [u8]> {
        if self.remaining == 0 {
            return None;
        }
        self.remaining -= 1;
        if self.head_next < self.head_len {
            self.head_next += 1;
            return Some(self.head[self.head_next - 1]);
        }
        let item = match self.form {
            Form::Multibulk => self.next_multibulk(),
            Form::Inline => self.next_inline(),
        };
        if item.is_none() {
            // Only reachable if the bytes were not validated; stop rather than lie.
            debug_assert!(false, "Args over unvalidated bytes");
            self.remaining = 0;
        }
        item
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        (self.remaining, Some(self.remaining))
    }
}

impl ExactSizeIterator for Args<'_> {}

#[cfg(test)]
mod resume_tests {
    use super::Args;

    #[test]
    fn the_rest_of_a_multibulk_request_is_walked_from_where_it_was_left() {
        let rest = b"$1\r\nb\r\n$3\r\nccc\r\n$0\r\n\r\n";
        let args: Vec<&[u8]> = Args::resume_multibulk(rest, 3).collect();
        assert_eq!(args, [&b"b"[..], b"ccc", b""]);
        assert_eq!(Args::resume_multibulk(rest, 1).count(), 1);
    }
}

impl PartialEq for Args<'_> {
    /// Two argument lists are equal when they yield the same bytes, whatever their form.
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.zip(*other).all(|(a, b)| a == b)
    }
}

impl Eq for Args<'_> {}

impl fmt::Debug for Args<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list()
            .entries(self.map(|arg| String::from_utf8_lossy(arg)))
            .finish()
    }
}

/// Key/value pairs of an MSET, yielded lazily from the request bytes.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
pub struct Pairs<'a> {
    args: Args<'a>,
}

impl<'a> Pairs<'a> {
    /// Pairs over `args`, which must hold an even number of items.
    pub(crate) fn new(args: Args<'a>) -> Self {
        debug_assert!(args.len().is_multiple_of(2));
        Pairs { args }
    }
}

impl<'a> Iterator for Pairs<'a> {
    type Item = (&'a [u8], &'a [u8]);

    fn next(&mut self) -> Option<Self::Item> {
        let key = self.args.next()?;
        let value = self.args.next()?;
        Some((key, value))
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        let pairs = self.args.len() / 2;
        (pairs, Some(pairs))
    }
}

impl ExactSizeIterator for Pairs<'_> {}
