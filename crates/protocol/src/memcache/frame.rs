//! Framing: finding the end of a command line within the line-length limits, and the
//! data block that follows a storage command.

use super::error::{ParseError, ParseErrorKind};
use super::limits::Limits;
use super::tokens::find_byte;

/// A complete command line at the front of the input.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Line<'a> {
    /// The line without its `\n` and without one `\r` before it.
    pub text: &'a [u8],
    /// Bytes the line occupies in the input, terminator included.
    pub total_bytes: usize,
}

/// memcached lets a line over the limit live only if it starts with at most this many
/// spaces followed by `get ` or `gets `.
const GET_PREFIX_MAX_SPACES: usize = 100;

/// Returns the first line, `None` while it may still be arriving, or a closing error
/// once it cannot end within the limits.
///
/// The decision depends only on the bytes, never on how they were split into reads: a
/// line fits if its `\n` lies within the first `max_line_bytes + 1` bytes.
#[inline]
pub(crate) fn find_line<'a>(
    input: &'a [u8],
    limits: &Limits,
) -> Result<Option<Line<'a>>, ParseError> {
    if let Some(line) = line_within(input, limits.max_line_bytes) {
        return Ok(Some(line));
    }
    if input.len() <= limits.max_line_bytes {
        return Ok(None);
    }
    if !starts_like_get(input) {
        return Err(ParseError::close(ParseErrorKind::LineTooLong));
    }
    if let Some(line) = line_within(input, limits.max_get_line_bytes) {
        return Ok(Some(line));
    }
    if input.len() <= limits.max_get_line_bytes {
        return Ok(None);
    }
    Err(ParseError::close(ParseErrorKind::GetLineTooLong))
}

/// Lines up to this long are searched eight bytes at a time; longer ones with memchr.
const SHORT_LINE_BYTES: usize = 64;

#[inline]
fn line_within(input: &[u8], max_line_bytes: usize) -> Option<Line<'_>> {
    let window = &input[..input.len().min(max_line_bytes.saturating_add(1))];
    let short = &window[..window.len().min(SHORT_LINE_BYTES)];
    let newline = match find_byte(short, b'\n') {
        Some(newline) => newline,
        None if window.len() > short.len() => {
            short.len() + memchr::memchr(b'\n', &window[short.len()..])?
        }
        None => return None,
    };
    let mut text = &input[..newline];
    if let [rest @ .., b'\r'] = text {
        text = rest;
    }
    Some(Line {
        text,
        total_bytes: newline + 1,
    })
}

fn starts_like_get(input: &[u8]) -> bool {
    let spaces = input.iter().take_while(|&&b| b == b' ').count();
    if spaces > GET_PREFIX_MAX_SPACES {
        return false;
    }
    let rest = &input[spaces..];
    rest.starts_with(b"get ") || rest.starts_with(b"gets ")
}

/// The data block of `value_bytes` bytes starting at `start`: `None` while incomplete,
/// `BadDataChunk` if it is not followed by `\r\n`.
pub(crate) fn data_block(
    input: &[u8],
    start: usize,
    value_bytes: usize,
) -> Result<Option<&[u8]>, ParseErrorKind> {
    let end = start + value_bytes;
    let Some(trailer) = input.get(end..end + 2) else {
        return Ok(None);
    };
    if trailer != b"\r\n" {
        return Err(ParseErrorKind::BadDataChunk);
    }
    Ok(Some(&input[start..end]))
}
