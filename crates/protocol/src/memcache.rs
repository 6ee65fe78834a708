//! memcache text and meta protocol, as memcached 1.6 speaks it, and its binary protocol
//! ([`binary`], [`binary_encode`]).
//!
//! [`parse`] turns the front of a connection's input buffer into one [`Request`] that
//! borrows the buffer (no copies, no allocation), says "need more bytes", or returns a
//! [`ParseError`] that carries the exact reply memcached would send and whether to skip
//! bytes or close the connection. The parser never executes anything: the server runs
//! the request against storage and answers with the encoders in [`classic_encode`] and
//! [`meta_encode`], which write straight into the caller's `Vec<u8>`. Clients (and
//! round-trip tests) write requests with [`request_encode`].
//!
//! # Answering requests (what the server does, as memcached 1.6 does it)
//!
//! - Classic commands with `noreply` get no reply at all, errors from execution included.
//!   [`ParseError::reply`] is already empty for parse errors under `noreply`.
//! - Meta `q` hides only the command's common code: `EN` for mg, `HD` for ms/md/ma;
//!   [`meta_encode::encode_meta_status`] applies it. Errors are always sent.
//! - Meta return flags echo in request order; on a miss only `k`, `O` (and `b`) are
//!   echoed: pass `MetaItem::default()`. ms returns `c`, `k`, `b`, `O` only.
//! - `gat`/`gats` may carry no key: answer `END`.
//! - `stats` with a [`StatsGroup::Other`] name: answer `ERROR`; `stats detail` without an
//!   argument: `Reply::StatsDetailUsage`.
//! - `quit`: flush replies to earlier requests, then close.
//! - A data block too large for storage's item limit (below `Limits::max_value_bytes`):
//!   reply `Reply::ObjectTooLarge`; memcached also deletes the key for `set`.
//! - `ErrorAction::Skip` may exceed the bytes buffered: a too-large value is discarded as
//!   it arrives, so the session keeps a "bytes still to skip" counter.
//!
//! ```
//! use tailcache_protocol::memcache::{parse, Limits, Parsed, Request};
//! let limits = Limits::default();
//! let Ok(Parsed::Complete { request, consumed_bytes }) = parse(b"get a b\r\n", &limits) else {
//!     panic!("a whole get parses");
//! };
//! assert_eq!(consumed_bytes, 9);
//! let Request::Get(get) = request else { panic!() };
//! assert_eq!(get.keys.collect::<Vec<_>>(), [b"a", b"b"]);
//! ```

pub mod binary;
pub mod binary_encode;
pub mod classic_encode;
mod classic_parse;
mod error;
mod frame;
mod limits;
mod meta;
pub mod meta_encode;
mod meta_flags;
mod meta_parse;
mod request;
pub mod request_encode;
mod tokens;

pub use error::{ParseError, ParseErrorKind};
pub use limits::{Limits, LimitsError};
pub use meta::{
    ArithMode, MetaArithmetic, MetaCommand, MetaDebug, MetaDelete, MetaGet, MetaKey, MetaSet,
    SetMode, MAX_DECODED_KEY_BYTES,
};
pub use meta_flags::{MetaFlags, MAX_OPAQUE_BYTES};
pub use request::{
    ClassIds, CrawlTarget, DebugTime, Delete, FlushAll, Get, GetKind, Incr, Keys, LruCrawler,
    Parsed, Request, ShutdownMode, Stats, StatsGroup, Store, StoreMode, Touch, Verbosity,
    WatchTopics,
};

/// Parses the request at the front of `input`.
///
/// - `Ok(Parsed::Complete { request, consumed_bytes })`: a whole request (line and, for
///   storage commands, its data block); drop `consumed_bytes` from the buffer afterwards.
/// - `Ok(Parsed::Incomplete { .. })`: `input` is a prefix of a request that may still be
///   valid; read more and call again with the longer buffer. Never an error for a prefix
///   of a valid request.
/// - `Err(e)`: write `e.reply()` (possibly empty, e.g. under `noreply`) and follow
///   `e.action()`: skip that many bytes (more than `input` holds for a value that is
///   swallowed as it arrives) or close after flushing.
pub fn parse<'a>(input: &'a [u8], limits: &Limits) -> Result<Parsed<'a>, ParseError> {
    let Some(line) = frame::find_line(input, limits)? else {
        return Ok(Parsed::Incomplete {
            needed_bytes_hint: input.len() + 1,
        });
    };
    let mut tokens = tokens::Tokens::new(line.text);
    let Some(command) = tokens.next() else {
        return Err(ParseError::skip(
            ParseErrorKind::UnknownCommand,
            line.total_bytes,
        ));
    };
    if command.len() == 2 && command[0] == b'm' {
        return meta_parse::parse_meta(command[1], tokens, input, line, limits);
    }
    classic_parse::parse_classic(command, tokens, input, line, limits)
}
