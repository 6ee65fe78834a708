//! Parsing the meta commands mg ms md ma mn me.

use super::error::{ParseError, ParseErrorKind};
use super::frame::{data_block, Line};
use super::limits::Limits;
use super::meta::{
    decode_key, ArithMode, MetaArithmetic, MetaDebug, MetaDelete, MetaGet, MetaKey, MetaSet,
    SetMode, MAX_DECODED_KEY_BYTES,
};
use super::meta_flags::{parse_flags, MetaFlags};
use super::request::{Parsed, Request};
use super::tokens::Tokens;
use crate::number::parse_memcache_i64;

/// Parses a meta command whose two-letter name is `m` + `letter`.
pub(crate) fn parse_meta<'a>(
    letter: u8,
    tokens: Tokens<'a>,
    input: &'a [u8],
    line: Line<'a>,
    limits: &Limits,
) -> Result<Parsed<'a>, ParseError> {
    let skip_line = |kind| ParseError::skip(kind, line.total_bytes);
    let complete = |request| {
        Ok(Parsed::Complete {
            request,
            consumed_bytes: line.total_bytes,
        })
    };
    match letter {
        b'n' => complete(Request::MetaNoop),
        b'e' => parse_debug(tokens, limits)
            .map_err(skip_line)
            .and_then(complete),
        b'g' | b'd' | b'a' => parse_keyed(letter, tokens, limits)
            .map_err(skip_line)
            .and_then(complete),
        b's' => parse_set(tokens, input, line, limits),
        _ => Err(skip_line(ParseErrorKind::UnknownCommand)),
    }
}

/// mg, md and ma: `<cm> <key> <flags>*`.
fn parse_keyed<'a>(
    letter: u8,
    mut tokens: Tokens<'a>,
    limits: &Limits,
) -> Result<Request<'a>, ParseErrorKind> {
    let key = tokens.next().ok_or(ParseErrorKind::UnknownCommand)?;
    if key.len() > limits.max_key_bytes {
        return Err(ParseErrorKind::BadCommandLine);
    }
    let (flags, flag_count) = parse_flags(tokens, key);
    // The command and the key are tokens too.
    if flag_count + 2 > limits.max_meta_tokens {
        return Err(match letter {
            b'g' => ParseErrorKind::MgFlagsTooLong,
            _ => ParseErrorKind::MetaFlagsTooLong,
        });
    }
    match letter {
        b'g' => {
            // An over-long opaque is the executor's to report, after the read.
            let flags = flags?;
            let key = MetaKey::new(key, flags.base64_key());
            Ok(Request::MetaGet(MetaGet { key, flags }))
        }
        b'd' => {
            // md reports every flag error with one message (opaque length aside).
            let flags = flags.map_err(generic_flag_error)?;
            if flags.opaque_too_long() {
                return Err(ParseErrorKind::OpaqueTooLong);
            }
            let key = MetaKey::new(key, flags.base64_key());
            Ok(Request::MetaDelete(MetaDelete { key, flags }))
        }
        _ => arithmetic(key, flags.map_err(generic_flag_error)?),
    }
}

/// md and ma answer `invalid or duplicate flag` for any flag error.
fn generic_flag_error(kind: ParseErrorKind) -> ParseErrorKind {
    match kind {
        ParseErrorKind::OpaqueTooLong => kind,
        _ => ParseErrorKind::InvalidOrDuplicateFlag,
    }
}

/// ma; an over-long opaque is the executor's to report, after the arithmetic.
fn arithmetic<'a>(key: &'a [u8], flags: MetaFlags<'a>) -> Result<Request<'a>, ParseErrorKind> {
    let mode = match flags.mode() {
        None | Some(b'I' | b'+') => ArithMode::Increment,
        Some(b'D' | b'-') => ArithMode::Decrement,
        Some(_) => return Err(ParseErrorKind::InvalidArithMode),
    };
    let key = MetaKey::new(key, flags.base64_key());
    Ok(Request::MetaArithmetic(MetaArithmetic {
        key,
        mode,
        delta: flags.delta().unwrap_or(1),
        initial_value: flags.initial_value().unwrap_or(0),
        flags,
    }))
}

fn parse_debug<'a>(mut tokens: Tokens<'a>, limits: &Limits) -> Result<Request<'a>, ParseErrorKind> {
    let Some(key) = tokens.next() else {
        return Err(ParseErrorKind::BadCommandLine);
    };
    if key.len() > limits.max_key_bytes {
        return Err(ParseErrorKind::BadCommandLine);
    }
    // memcached looks only at the first flag, and only for `b`.
    let base64 = tokens.next() == Some(b"b");
    if base64 && decode_key(key, &mut [0u8; MAX_DECODED_KEY_BYTES]).is_none() {
        return Err(ParseErrorKind::BadCommandLine);
    }
    Ok(Request::MetaDebug(MetaDebug {
        key: MetaKey::new(key, base64),
    }))
}

/// `ms <key> <datalen> <flags>*` + data block. Errors found before the length is known
/// skip only the line; later ones swallow the data block too, as memcached does.
fn parse_set<'a>(
    tokens: Tokens<'a>,
    input: &'a [u8],
    line: Line<'a>,
    limits: &Limits,
) -> Result<Parsed<'a>, ParseError> {
    let skip_line = |kind| ParseError::skip(kind, line.total_bytes);
    let Some(key) = tokens.clone().next() else {
        return Err(skip_line(ParseErrorKind::UnknownCommand));
    };
    let mut after_key = tokens.clone();
    after_key.next();
    let Some(length_token) = after_key.next() else {
        return Err(skip_line(ParseErrorKind::BadCommandLine));
    };
    if key.len() > limits.max_key_bytes {
        return Err(skip_line(ParseErrorKind::BadCommandLine));
    }
    let (flags, flag_count) = parse_flags(after_key, key);
    // The command, the key and the length are tokens too.
    if flag_count + 3 > limits.max_meta_tokens {
        return Err(skip_line(ParseErrorKind::MetaFlagsTooLong));
    }
    let value_bytes = parse_memcache_i64(length_token)
        .filter(|&n| (0..=i64::from(i32::MAX) - 2).contains(&n))
        .ok_or(skip_line(ParseErrorKind::BadCommandLine))? as usize;
    let total_bytes = line.total_bytes + value_bytes + 2;
    let swallow = |kind| ParseError::skip(kind, total_bytes);
    let flags = flags.map_err(swallow)?;
    let mode = match flags.mode() {
        None | Some(b'S') => SetMode::Set,
        Some(b'E') => SetMode::Add,
        Some(b'R') => SetMode::Replace,
        Some(b'A') => SetMode::Append,
        Some(b'P') => SetMode::Prepend,
        Some(_) => return Err(swallow(ParseErrorKind::InvalidSetMode)),
    };
    if flags.opaque_too_long() {
        return Err(swallow(ParseErrorKind::OpaqueTooLong));
    }
    if value_bytes > limits.max_value_bytes {
        return Err(swallow(ParseErrorKind::ObjectTooLarge));
    }
    let Some(value) = data_block(input, line.total_bytes, value_bytes).map_err(swallow)? else {
        return Ok(Parsed::Incomplete {
            needed_bytes_hint: total_bytes,
        });
    };
    let key = MetaKey::new(key, flags.base64_key());
    Ok(Parsed::Complete {
        request: Request::MetaSet(MetaSet {
            key,
            value,
            mode,
            flags,
        }),
        consumed_bytes: total_bytes,
    })
}
