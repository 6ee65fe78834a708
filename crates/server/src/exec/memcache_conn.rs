//! A memcache connection: parses the requests at the front of the input,
//! executes each, and handles parse errors as memcached does (reply, then
//! skip the bad request, swallow a too-large value, or close).

use tailcache_protocol::memcache::{self, ErrorAction, Limits, ParseErrorKind, Parsed, Request};
use tailcache_runtime::Processed;

use super::conn_loop::{run_requests, Step};
use super::{
    max_item_size_bytes, memcache_classic, memcache_meta, memcache_meta_arith, memcache_meta_get,
    memcache_meta_write, memcache_stats,
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
            max_value_bytes: max_item_size_bytes(ctx),
            ..Limits::default()
        };
        Self {
            limits,
            discard_bytes: 0,
        }
    }

    /// Executes the complete requests at the front of `input`, after
    /// swallowing what is left of a too-large value.
    pub fn process(
        &mut self,
        ctx: &ServerContext,
        input: &[u8],
        output: &mut Vec<u8>,
    ) -> Processed {
        let discarded = self.discard_bytes.min(input.len());
        self.discard_bytes -= discarded;
        let mut processed = run_requests(ctx, &input[discarded..], output, |rest, output| {
            self.step(ctx, rest, output)
        });
        processed.consumed += discarded;
        processed
    }

    /// Handles the request at the front of `rest`.
    fn step(&mut self, ctx: &ServerContext, rest: &[u8], output: &mut Vec<u8>) -> Step {
        match memcache::parse(rest, &self.limits) {
            Ok(Parsed::Complete {
                request,
                consumed_bytes,
            }) => match execute(ctx, request, output) {
                Flow::Continue => Step::Next(consumed_bytes),
                Flow::Close => Step::Close(consumed_bytes),
            },
            Ok(Parsed::Incomplete { .. }) => Step::NeedMore,
            Err(error) => {
                ctx.metrics.incr(Counter::ProtocolErrors);
                if error.kind() == ParseErrorKind::ObjectTooLarge {
                    forget_key_of_refused_set(ctx, rest);
                }
                output.extend_from_slice(error.reply());
                match error.action() {
                    ErrorAction::Close => Step::Close(0),
                    ErrorAction::Skip { bytes } => {
                        // A zero skip would never progress; treat it as one byte.
                        let bytes = bytes.max(1);
                        self.discard_bytes = bytes.saturating_sub(rest.len());
                        Step::Next(bytes.min(rest.len()))
                    }
                }
            }
        }
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
        let _ = ctx
            .engine
            .delete(key, tailcache_storage::DeleteOptions::default());
    }
}
