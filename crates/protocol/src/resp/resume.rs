//! Resuming the search for a request's end: a request that arrives a few bytes
//! at a time is checked only in its new bytes, instead of parsed again from its
//! start at every read (which makes a 64 Ki-argument request sent slowly cost
//! quadratic time). The check is conservative: it answers "still arriving" only
//! when that is certain, and leaves everything else (complete, malformed, over a
//! limit) to [`super::parse`], so errors are exactly the parser's.

use super::limits::Limits;

/// Longest `$<len>\r\n` header this looks at; a longer one is left to the parser.
const MAX_BULK_HEADER_BYTES: usize = 32;

/// How far the request at the front of the input has been checked.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct FrameProgress {
    /// Bytes from the front already known to hold no end of request: for an
    /// inline request or a multibulk header, bytes searched for `\n`; inside a
    /// multibulk, where the next argument starts.
    checked_bytes: usize,
    /// Arguments of the multibulk not yet seen whole; `None` before its header.
    args_left: Option<usize>,
}

impl FrameProgress {
    /// Whether the request at the front of `input` is certainly incomplete; if
    /// so, remembers how far it checked, so that the next call looks only at
    /// what arrived since. `false` means: run the parser. A progress belongs to
    /// one request: start a new one when the front of the input moves.
    pub fn still_arriving(&mut self, input: &[u8], limits: &Limits) -> bool {
        match input.first() {
            None => true,
            Some(b'*') => self.multibulk_still_arriving(input, limits),
            Some(_) => self.line_still_arriving(input, limits.max_inline_len_bytes),
        }
    }

    fn line_still_arriving(&mut self, input: &[u8], max_line_bytes: usize) -> bool {
        let from = self.checked_bytes.min(input.len());
        if memchr::memchr(b'\n', &input[from..]).is_some() {
            return false;
        }
        self.checked_bytes = input.len();
        input.len() <= max_line_bytes
    }

    fn multibulk_still_arriving(&mut self, input: &[u8], limits: &Limits) -> bool {
        let mut args_left = match self.args_left {
            Some(args_left) => args_left,
            None => {
                let from = self.checked_bytes.min(input.len());
                let Some(offset) = memchr::memchr(b'\n', &input[from..]) else {
                    self.checked_bytes = input.len();
                    return input.len() <= limits.max_inline_len_bytes;
                };
                let line_end = from + offset + 1;
                let Some(count) = header_number(&input[1..line_end]) else {
                    return false;
                };
                if count == 0 || count > limits.max_arg_count {
                    return false;
                }
                self.checked_bytes = line_end;
                count
            }
        };
        let mut position = self.checked_bytes;
        while args_left > 0 {
            let Some(&first) = input.get(position) else {
                self.args_left = Some(args_left);
                self.checked_bytes = position;
                return true;
            };
            if first != b'$' {
                return false;
            }
            let window_end = input.len().min(position + MAX_BULK_HEADER_BYTES);
            let Some(offset) = memchr::memchr(b'\n', &input[position..window_end]) else {
                self.args_left = Some(args_left);
                self.checked_bytes = position;
                return window_end - position < MAX_BULK_HEADER_BYTES;
            };
            let header_end = position + offset + 1;
            let Some(len) = header_number(&input[position + 1..header_end]) else {
                return false;
            };
            let arg_end = header_end.saturating_add(len).saturating_add(2);
            if len > limits.max_bulk_len_bytes || arg_end > limits.max_request_bytes {
                return false;
            }
            if input.len() < arg_end {
                self.args_left = Some(args_left);
                self.checked_bytes = position;
                return true;
            }
            position = arg_end;
            args_left -= 1;
        }
        false
    }
}

/// The number in a header line's text (`3\r\n`): plain digits only, without a
/// leading zero; anything else is for the parser to judge.
fn header_number(line: &[u8]) -> Option<usize> {
    let digits = line.strip_suffix(b"\r\n")?;
    if digits.is_empty() || digits.len() > 18 || (digits.len() > 1 && digits[0] == b'0') {
        return None;
    }
    digits.iter().try_fold(0usize, |value, &byte| {
        byte.is_ascii_digit()
            .then(|| value * 10 + usize::from(byte - b'0'))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resp::{parse, Parsed};

    /// Feeds `request` `piece_bytes` at a time; at every prefix the check must
    /// agree with the parser whenever it says "still arriving".
    fn agrees_at_every_prefix(request: &[u8], piece_bytes: usize) -> usize {
        let limits = Limits::default();
        let mut progress = FrameProgress::default();
        let mut skipped = 0;
        let mut end = 0;
        while end < request.len() {
            end = (end + piece_bytes).min(request.len());
            let input = &request[..end];
            // Parsing every prefix of a long request would make this test quadratic.
            if progress.still_arriving(input, &limits) {
                skipped += 1;
                assert!(
                    request.len() > 4096
                        || matches!(parse(input, &limits), Ok(Parsed::Incomplete { .. })),
                    "said incomplete at {end} bytes of {request:?}"
                );
            }
        }
        skipped
    }

    #[test]
    fn a_request_arriving_in_pieces_is_skipped_until_whole() {
        let mut big = b"*65536\r\n".to_vec();
        for i in 0..65_536 {
            let arg = format!("k{i}");
            big.extend_from_slice(format!("${}\r\n{arg}\r\n", arg.len()).as_bytes());
        }
        for request in [
            b"*2\r\n$3\r\nGET\r\n$5\r\nhello\r\n".as_slice(),
            b"GET hello\r\n",
            b"*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\n0123456789\r\n",
            &big,
        ] {
            for piece in [1, 2, 3, 7, 100, 4096] {
                let skipped = agrees_at_every_prefix(request, piece);
                let pieces = request.len().div_ceil(piece);
                assert!(skipped + 1 >= pieces, "{skipped} of {pieces} skipped");
            }
        }
    }

    #[test]
    fn malformed_or_oversized_requests_go_to_the_parser() {
        let limits = Limits::default();
        for input in [
            b"*x\r\n".as_slice(),
            b"*2\r\n%3\r\n",
            b"*2\r\n$-1\r\n",
            b"*2\r\n$99999999999\r\n",
            b"*1\r\n$1\r\nab\r\n",
            b"*1\r\n$01\r\n",
        ] {
            let mut progress = FrameProgress::default();
            assert!(!progress.still_arriving(input, &limits), "{input:?}");
        }
        let long_line = vec![b'a'; limits.max_inline_len_bytes + 1];
        assert!(!FrameProgress::default().still_arriving(&long_line, &limits));
    }

    #[test]
    fn checking_in_pieces_is_linear() {
        // 64 Ki arguments, one byte at a time: each call looks at the new byte,
        // or at most at one argument's header again.
        let mut request = b"*65536\r\n".to_vec();
        for _ in 0..65_536 {
            request.extend_from_slice(b"$1\r\nx\r\n");
        }
        let limits = Limits::default();
        let mut progress = FrameProgress::default();
        let started = std::time::Instant::now();
        for end in 1..request.len() {
            assert!(progress.still_arriving(&request[..end], &limits));
        }
        assert!(!progress.still_arriving(&request, &limits));
        // Quadratic re-parsing takes minutes here; linear takes milliseconds.
        assert!(started.elapsed() < std::time::Duration::from_secs(5));
    }
}
