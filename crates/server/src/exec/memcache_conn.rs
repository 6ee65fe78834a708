//! A memcache connection: parses the requests at the front of the input,
//! executes each, and handles parse errors as memcached does (reply, then
//! skip the bad request, swallow a too-large value, or close).

use tailcache_protocol::memcache::{self, ErrorAction, Limits, ParseErrorKind, Parsed, Request};
use tailcache_runtime::Processed;

use super::{
    memcache_classic, memcache_meta, memcache_meta_arith, memcache_meta_get, memcache_meta_write,
    memcache_stats, output_room_left,
};
use crate::context::ServerContext;
use crate::metrics::Counter;

/// What happens to the connection after a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    /// Go on with the next request.
    Continue,
    /// Flush the replies and close (quit).
    Close,
}

/// Per-connection state of the memcache protocol.
#[derive(Debug)]
pub struct MemcacheConn {
    limits: Limits,
    /// Bytes of a too-large value still to swallow as they arrive.
    discard_bytes: usize,
}

impl MemcacheConn {
    /// A connection with the parser limits of the server's configuration.
    pub fn new(ctx: &ServerContext) -> Self {
        let limits = Limits {
            max_value_bytes: usize::try_from(ctx.config.max_item_size_bytes).unwrap_or(usize::MAX),
            ..Limits::default()
        };
        Self {
            limits,
            discard_bytes: 0,
        }
    }

    /// Executes the complete requests at the front of `input`.
    pub fn process(
        &mut self,
        ctx: &ServerContext,
        input: &[u8],
        output: &mut Vec<u8>,
    ) -> Processed {
        let output_start = output.len();
        let mut consumed = self.discard_bytes.min(input.len());
        self.discard_bytes -= consumed;
        while consumed < input.len() && output_room_left(ctx, output_start, output) {
            let rest = &input[consumed..];
            match memcache::parse(rest, &self.limits) {
                Ok(Parsed::Complete {
                    request,
                    consumed_bytes,
                }) => {
                    consumed += consumed_bytes;
                    if execute(ctx, request, output) == Flow::Close {
                        return close(consumed);
                    }
                }
                Ok(Parsed::Incomplete { .. }) => break,
                Err(error) => {
                    ctx.metrics.incr(Counter::ProtocolErrors);
                    if error.kind() == ParseErrorKind::ObjectTooLarge {
                        forget_key_of_refused_set(ctx, rest);
                    }
                    output.extend_from_slice(error.reply());
                    match error.action() {
                        ErrorAction::Close => return close(consumed),
                        ErrorAction::Skip { bytes } => {
                            // A zero skip would never progress; treat it as one byte.
                            let bytes = bytes.max(1);
                            let available = rest.len();
                            self.discard_bytes = bytes.saturating_sub(available);
                            consumed += bytes.min(available);
                        }
                    }
                }
            }
        }
        Processed {
            consumed,
            close_after_flush: false,
        }
    }
}

fn close(consumed: usize) -> Processed {
    Processed {
        consumed,
        close_after_flush: true,
    }
}

/// Runs one parsed request.
fn execute(ctx: &ServerContext, request: Request<'_>, output: &mut Vec<u8>) -> Flow {
    match request {
        Request::Store(store) => memcache_classic::store(ctx, &store, output),
        Request::Get(get) => memcache_classic::get(ctx, get, output),
        Request::Delete(delete) => memcache_classic::delete(ctx, &delete, output),
        Request::Incr(incr) => memcache_classic::incr(ctx, &incr, output),
        Request::Touch(touch) => memcache_classic::touch(ctx, &touch, output),
        Request::FlushAll(flush) => memcache_classic::flush_all(ctx, flush, output),
        Request::Version => memcache_classic::version(ctx, output),
        Request::Verbosity(verbosity) => memcache_classic::verbosity(ctx, verbosity, output),
        Request::Quit => return Flow::Close,
        Request::Stats(stats) => memcache_stats::stats(ctx, stats, output),
        Request::MetaGet(get) => memcache_meta_get::meta_get(ctx, &get, output),
        Request::MetaSet(set) => memcache_meta_write::meta_set(ctx, &set, output),
        Request::MetaDelete(delete) => memcache_meta_write::meta_delete(ctx, &delete, output),
        Request::MetaArithmetic(arith) => memcache_meta_arith::meta_arithmetic(ctx, &arith, output),
        Request::MetaNoop => memcache_meta::meta_noop(ctx, output),
        Request::MetaDebug(debug) => memcache_meta::meta_debug(ctx, &debug, output),
    }
    Flow::Continue
}

/// memcached drops the old item when a `set` is refused as too large, so a
/// stale value never outlives a failed overwrite. The parser's error does
/// not carry the key, so it is read back from the request line.
fn forget_key_of_refused_set(ctx: &ServerContext, request: &[u8]) {
    ctx.metrics.incr(Counter::StoreTooLarge);
    let line_end = request
        .iter()
        .position(|&b| b == b'\n')
        .unwrap_or(request.len());
    let mut tokens = request[..line_end]
        .split(|&b| b == b' ' || b == b'\r')
        .filter(|token| !token.is_empty());
    if tokens.next() != Some(b"set".as_slice()) {
        return;
    }
    if let Some(key) = tokens.next() {
        // Any error (bad key) means there is nothing to forget.
        let _ = ctx.engine.delete(key, None);
    }
}
