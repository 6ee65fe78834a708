//! Framing: find where one request ends and validate its shape, in either form.
//!
//! Multibulk: `*<count>\r\n` then `count` times `$<len>\r\n<len bytes>\r\n`.
//! Inline: one line ending in `\n` (a `\r` before it is dropped), split on whitespace;
//! `"..."` and `'...'` group words. Escapes inside quotes and quotes in the middle of a
//! word (which Redis unescapes and concatenates) are refused with
//! [`ProtocolError::UnsupportedInlineQuoting`]: supporting them would need a copy.

use super::args::{is_inline_space, Args, ArgsBuilder};
use super::error::ProtocolError;
use super::limits::Limits;
use crate::number::parse_redis_i64;

/// One framed request: its arguments and the bytes it occupies in the input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame<'a> {
    /// The arguments, command name first; never empty.
    pub args: Args<'a>,
    /// How many input bytes the request occupies (drop them once it is handled).
    pub consumed: usize,
}

/// What the front of the input holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FrameParsed<'a> {
    /// A whole request.
    Complete(Frame<'a>),
    /// Something Redis ignores without a reply (`*0\r\n`, `*-1\r\n`, a blank line):
    /// drop `consumed` bytes and parse again.
    Empty {
        /// Bytes to drop.
        consumed: usize,
    },
    /// A prefix of a request: read more and parse again from the same start.
    Incomplete,
}

/// Frames the request at the front of `input`.
///
/// Errors are Redis protocol errors: reply with them, then close the connection.
pub fn parse_frame<'a>(input: &'a [u8], limits: &Limits) -> Result<FrameParsed<'a>, ProtocolError> {
    match input.first() {
        None => Ok(FrameParsed::Incomplete),
        Some(b'*') => parse_multibulk(input, limits),
        Some(_) => parse_inline(input, limits),
    }
}

/// A `\r\n`-terminated header line's content (without the type byte), and where the
/// line ends; `None` when the terminator has not arrived yet.
fn header_line<'a>(
    input: &'a [u8],
    start: usize,
    limits: &Limits,
    too_big: ProtocolError,
) -> Result<Option<(&'a [u8], usize)>, ProtocolError> {
    let window_end = input.len().min(start + limits.max_inline_len_bytes + 1);
    // Header lines are a few bytes long: a plain scan beats memchr's setup cost.
    let Some(offset) = input[start..window_end].iter().position(|&b| b == b'\r') else {
        return if input.len() - start > limits.max_inline_len_bytes {
            Err(too_big)
        } else {
            Ok(None)
        };
    };
    let cr = start + offset;
    match input.get(cr + 1) {
        None => Ok(None),
        Some(b'\n') => Ok(Some((&input[start + 1..cr], cr + 2))),
        Some(_) => Err(match too_big {
            ProtocolError::TooBigMbulkCountString => ProtocolError::InvalidMultibulkLength,
            _ => ProtocolError::InvalidBulkLength,
        }),
    }
}

/// The number in a `*N` or `$N` header starting at `start`, and where the line ends;
/// `None` when the line has not all arrived. Errors follow Redis (`string2ll`).
#[inline]
fn header_number(
    input: &[u8],
    start: usize,
    limits: &Limits,
    too_big: ProtocolError,
) -> Result<Option<(i64, usize)>, ProtocolError> {
    if let Some(found) = canonical_header_number(input, start) {
        return Ok(Some(found));
    }
    let invalid = match too_big {
        ProtocolError::TooBigMbulkCountString => ProtocolError::InvalidMultibulkLength,
        _ => ProtocolError::InvalidBulkLength,
    };
    match header_line(input, start, limits, too_big)? {
        None => Ok(None),
        Some((digits, end)) => Ok(Some((parse_redis_i64(digits).ok_or(invalid)?, end))),
    }
}

/// The common case, fast: 1 to 18 digits without a leading zero, then `\r\n`, all
/// present. `None` sends the caller down the exact, slower path.
#[inline]
fn canonical_header_number(input: &[u8], start: usize) -> Option<(i64, usize)> {
    const MAX_DIGITS: usize = 18; // cannot overflow an i64
    let digits_start = start + 1;
    let mut value: i64 = 0;
    let mut position = digits_start;
    while let Some(&byte) = input.get(position) {
        if !byte.is_ascii_digit() {
            break;
        }
        if position - digits_start == MAX_DIGITS {
            return None;
        }
        value = value * 10 + i64::from(byte - b'0');
        position += 1;
    }
    let digit_count = position - digits_start;
    let leading_zero = digit_count > 1 && input[digits_start] == b'0';
    if digit_count == 0 || leading_zero || input.get(position..position + 2) != Some(b"\r\n") {
        return None;
    }
    Some((value, position + 2))
}

fn parse_multibulk<'a>(input: &'a [u8], limits: &Limits) -> Result<FrameParsed<'a>, ProtocolError> {
    let Some((count, body_start)) =
        header_number(input, 0, limits, ProtocolError::TooBigMbulkCountString)?
    else {
        return Ok(FrameParsed::Incomplete);
    };
    if count <= 0 {
        return Ok(FrameParsed::Empty {
            consumed: body_start,
        });
    }
    if count as u64 > limits.max_arg_count as u64 {
        return Err(ProtocolError::InvalidMultibulkLength);
    }
    let count = count as usize;
    let mut args = ArgsBuilder::new(body_start);
    let mut position = body_start;
    for _ in 0..count {
        let Some((data_start, data_end)) = bulk_span(input, position, limits)? else {
            return Ok(FrameParsed::Incomplete);
        };
        position = data_end + 2;
        args.push(&input[data_start..data_end], position);
    }
    let args = args.multibulk(input, position);
    Ok(FrameParsed::Complete(Frame {
        args,
        consumed: position,
    }))
}

/// Validates the bulk string starting at `start`; returns where its data starts and
/// ends (a `\r\n` follows).
fn bulk_span(
    input: &[u8],
    start: usize,
    limits: &Limits,
) -> Result<Option<(usize, usize)>, ProtocolError> {
    match input.get(start) {
        None => return Ok(None),
        Some(b'$') => {}
        Some(&other) => return Err(ProtocolError::ExpectedDollar(other)),
    }
    let Some((len, data_start)) =
        header_number(input, start, limits, ProtocolError::TooBigBulkCountString)?
    else {
        return Ok(None);
    };
    if len < 0 || len as u64 > limits.max_bulk_len_bytes as u64 {
        return Err(ProtocolError::InvalidBulkLength);
    }
    let data_end = data_start + len as usize;
    if data_end + 2 > limits.max_request_bytes {
        return Err(ProtocolError::RequestTooLarge);
    }
    if input.len() < data_end + 2 {
        // What has arrived after the data must still be able to become `\r\n`.
        let tail = input.get(data_end..).unwrap_or(&[]);
        return if b"\r\n".starts_with(tail) {
            Ok(None)
        } else {
            Err(ProtocolError::ExpectedCrlfAfterBulk)
        };
    }
    if &input[data_end..data_end + 2] == b"\r\n" {
        Ok(Some((data_start, data_end)))
    } else {
        Err(ProtocolError::ExpectedCrlfAfterBulk)
    }
}

fn parse_inline<'a>(input: &'a [u8], limits: &Limits) -> Result<FrameParsed<'a>, ProtocolError> {
    let window_end = input.len().min(limits.max_inline_len_bytes + 1);
    let Some(newline) = memchr::memchr(b'\n', &input[..window_end]) else {
        return if input.len() > limits.max_inline_len_bytes {
            Err(ProtocolError::TooBigInlineRequest)
        } else {
            Ok(FrameParsed::Incomplete)
        };
    };
    let line = &input[..newline];
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let args = split_inline_args(line, limits)?;
    let consumed = newline + 1;
    if args.count() == 0 {
        return Ok(FrameParsed::Empty { consumed });
    }
    Ok(FrameParsed::Complete(Frame {
        args: args.inline(line),
        consumed,
    }))
}

/// Splits an inline line into words, checking its quoting.
fn split_inline_args<'a>(
    line: &'a [u8],
    limits: &Limits,
) -> Result<ArgsBuilder<'a>, ProtocolError> {
    let mut args = ArgsBuilder::new(0);
    let mut position = 0usize;
    loop {
        while position < line.len() && is_inline_space(line[position]) {
            position += 1;
        }
        if position == line.len() {
            return Ok(args);
        }
        let (word, end) = inline_word(line, position)?;
        args.push(word, end);
        position = end;
        if args.count() > limits.max_arg_count {
            return Err(ProtocolError::InvalidMultibulkLength);
        }
    }
}

/// The word starting at `start` (without its quotes) and where it ends (past any
/// closing quote).
fn inline_word(line: &[u8], start: usize) -> Result<(&[u8], usize), ProtocolError> {
    let quote = line[start];
    if quote == b'"' || quote == b'\'' {
        let close = memchr::memchr(quote, &line[start + 1..])
            .map(|offset| start + 1 + offset)
            .ok_or(ProtocolError::UnbalancedQuotes)?;
        let content = &line[start + 1..close];
        if quoted_escape(quote, content) {
            return Err(ProtocolError::UnsupportedInlineQuoting);
        }
        return match line.get(close + 1) {
            Some(&after) if !is_inline_space(after) => Err(ProtocolError::UnbalancedQuotes),
            _ => Ok((content, close + 1)),
        };
    }
    let end = line[start..]
        .iter()
        .position(|&b| is_inline_space(b))
        .map_or(line.len(), |offset| start + offset);
    let word = &line[start..end];
    if word.iter().any(|&b| b == b'"' || b == b'\'') {
        return Err(ProtocolError::UnsupportedInlineQuoting);
    }
    Ok((word, end))
}

/// Whether quoted content holds an escape Redis would rewrite: any backslash inside
/// double quotes, or `\'` inside single quotes (seen here as content ending in `\`).
fn quoted_escape(quote: u8, content: &[u8]) -> bool {
    if quote == b'"' {
        content.contains(&b'\\')
    } else {
        content.last() == Some(&b'\\')
    }
}
