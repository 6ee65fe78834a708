//! A memcache connection: parses the requests at the front of the input,
//! executes each, and handles parse errors as memcached does (reply, then
//! skip the bad request, swallow a too-large value, or close). Its first byte
//! decides whether it speaks text or binary (`binary`), as in memcached.

use std::time::Instant;

use tailcache_protocol::memcache::binary::{self, BinaryHeader, Status};
use tailcache_protocol::memcache::binary_encode::encode_error;
use tailcache_protocol::memcache::{self, GetKind, Limits, ParseErrorKind, Parsed, Request};
use tailcache_protocol::ErrorAction;
use tailcache_runtime::{Processed, TurnBudget};

use super::auth::Unauthenticated;
use super::classic::{GetServed, GetSlice};
use super::crawler::{lru_crawler, CrawlerOutcome, MetadumpJob};
use crate::context::ServerContext;
use crate::exec::conn_loop::{run_requests, Step};
use crate::exec::max_item_size_bytes;
use crate::observability::metrics::Counter;
use crate::startup::cli::ProtocolName;

/// What happens to the connection after a request.
#[derive(Debug)]
pub enum Flow {
    /// Go on with the next request.
    Continue,
    /// Flush the replies and close (quit).
    Close,
    /// Run this key dump as background steps before the next request.
    Dump(MetadumpJob),
    /// From now on only stream this watcher's log lines (`watch`).
    Watch(std::sync::Arc<crate::observability::log_watchers::Watcher>),
}

/// memcached closes a connection whose buffered input holds more than this
/// many bytes without a `\n`, unless the line starts like a get.
const MEMCACHED_LINE_BYTES: usize = 2048;

/// memcached's read buffer (`READ_BUFFER_SIZE`): a line other than a get
/// that arrived whole, `\n` included, is parsed up to this length.
const MEMCACHED_READ_BUFFER_BYTES: usize = 16 * 1024;

/// A get line never needs more than this (memcached has no bound; the
/// read buffer holds at least an item of `-I` anyway).
const MAX_GET_LINE_BYTES: usize = 64 * 1024 * 1024;

/// Per-connection state of the memcache protocol.
#[derive(Debug)]
pub struct MemcacheConn {
    limits: Limits,
    /// Bytes of a too-large value still to swallow as they arrive.
    discard_bytes: usize,
    /// A multiget served in part: the input then starts with the rest of
    /// its line (the keys not yet served).
    get_in_progress: Option<GetInProgress>,
    /// The input's first this many bytes hold no line end: a line arriving
    /// in pieces is searched only in its new bytes, not from its start again.
    scanned_without_line_end_bytes: usize,
    /// A key dump (`lru_crawler metadump`) the runtime runs in bulk steps;
    /// the requests behind it wait.
    pub dump: Option<MetadumpJob>,
    /// Set while the connection must still authenticate (-Y).
    unauthenticated: Option<Unauthenticated>,
    /// Text or binary; `None` until the first byte arrives (`-B auto`).
    wire: Option<Wire>,
    /// After `watch`: the connection streams these log lines and serves no
    /// more requests.
    pub watcher: Option<std::sync::Arc<crate::observability::log_watchers::Watcher>>,
    /// Closing because of a protocol error (memcached's `conn_close` reason).
    closing_on_error: bool,
}

/// The protocol a memcache connection speaks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Wire {
    /// Classic and meta text commands.
    Text,
    /// memcached's binary protocol.
    Binary,
}

/// What a multiget served in part needs to go on.
#[derive(Debug, Clone, Copy)]
struct GetInProgress {
    kind: GetKind,
    touch_exptime: Option<i64>,
    started: Instant,
    /// Bytes left of its line, line end included: known from the parse, so a
    /// long line is not searched for its end again at every piece.
    line_left_bytes: usize,
}

impl MemcacheConn {
    /// When it is closed unless it authenticates first (`-Y`).
    pub fn auth_deadline(&self) -> Option<std::time::Instant> {
        self.unauthenticated.as_ref().map(Unauthenticated::deadline)
    }

    /// A connection with the parser limits of the server's configuration.
    pub fn new(ctx: &ServerContext) -> Self {
        let max_value_bytes = max_item_size_bytes(ctx);
        let limits = Limits {
            max_value_bytes,
            // As memcached: a line that arrived whole is parsed up to its read
            // buffer's size (see `closes_like_memcached`), a get line further.
            max_line_bytes: MEMCACHED_READ_BUFFER_BYTES,
            max_get_line_bytes: max_value_bytes
                .clamp(MEMCACHED_READ_BUFFER_BYTES, MAX_GET_LINE_BYTES),
            max_keys_per_get: usize::MAX,
            ..Limits::default()
        };
        Self {
            limits,
            discard_bytes: 0,
            get_in_progress: None,
            scanned_without_line_end_bytes: 0,
            dump: None,
            watcher: None,
            closing_on_error: false,
            wire: match ctx.config.binding_protocol {
                ProtocolName::Auto => None,
                ProtocolName::Ascii => Some(Wire::Text),
                ProtocolName::Binary => Some(Wire::Binary),
            },
            unauthenticated: ctx.config.access.credentials.memcache.as_ref().map(|_| {
                Unauthenticated::new(std::time::Duration::from_secs(
                    ctx.config.access.auth_timeout_secs,
                ))
            }),
        }
    }

    /// Executes the complete requests at the front of `input`, after
    /// swallowing what is left of a too-large value.
    pub fn process(
        &mut self,
        ctx: &ServerContext,
        input: &[u8],
        output: &mut Vec<u8>,
        budget: &mut TurnBudget,
    ) -> Processed {
        let discarded = self.discard_bytes.min(input.len());
        self.discard_bytes -= discarded;
        if self.wire.is_none() {
            // memcached's negotiation: a first byte of 0x80 is the binary magic.
            self.wire = input.get(discarded).map(|&first| {
                if first == binary::REQUEST_MAGIC {
                    Wire::Binary
                } else {
                    Wire::Text
                }
            });
        }
        let mut processed = run_requests(
            ctx,
            &input[discarded..],
            output,
            budget,
            |rest, output, budget| {
                let step = self.step(ctx, rest, output, budget);
                if step != Step::NeedMore {
                    // The front of the input moves on: nothing scanned is known.
                    self.scanned_without_line_end_bytes = 0;
                }
                step
            },
        );
        processed.consumed += discarded;
        processed
    }

    /// Handles the request at the front of `rest`.
    fn step(
        &mut self,
        ctx: &ServerContext,
        rest: &[u8],
        output: &mut Vec<u8>,
        budget: &mut TurnBudget,
    ) -> Step {
        if self.wire == Some(Wire::Binary) {
            return self.binary_step(ctx, rest, output);
        }
        if let (Some(pending), Some(users)) = (
            self.unauthenticated,
            ctx.config.access.credentials.memcache.as_ref(),
        ) {
            let (step, authenticated) = pending.step(ctx, users, rest, output);
            if authenticated {
                self.unauthenticated = None;
            }
            return step;
        }
        if let Some(get) = self.get_in_progress.take() {
            return self.go_on_with_get(ctx, get, rest, output, budget);
        }
        // Only once a line was found incomplete: a whole request is parsed
        // without searching its line end twice.
        if self.scanned_without_line_end_bytes > 0 {
            if let Some(step) = self.line_still_arriving(rest) {
                return step;
            }
        }
        match memcache::parse(rest, &self.limits) {
            Ok(Parsed::Complete {
                request: Request::Get(get),
                consumed_bytes,
            }) => {
                let started = Instant::now();
                let (kind, touch_exptime) = (get.kind, get.touch_exptime);
                let served = super::classic::get_some(
                    ctx,
                    kind,
                    touch_exptime,
                    get.keys,
                    output,
                    get_slice(ctx, output, budget),
                );
                charge_extra_keys(budget, served);
                let Some(last_served) = served.rest_after else {
                    super::classic::record_get(ctx, kind, started);
                    return Step::Next(consumed_bytes);
                };
                let served_bytes = bytes_through(rest, last_served);
                self.get_in_progress = Some(GetInProgress {
                    kind,
                    touch_exptime,
                    started,
                    line_left_bytes: consumed_bytes - served_bytes,
                });
                Step::Next(served_bytes)
            }
            Ok(Parsed::Complete {
                request,
                consumed_bytes,
            }) => match execute(ctx, request, output) {
                Flow::Continue => Step::Next(consumed_bytes),
                Flow::Close => Step::Close(consumed_bytes),
                Flow::Dump(job) => {
                    self.dump = Some(job);
                    Step::Pause(consumed_bytes)
                }
                Flow::Watch(watcher) => {
                    self.watcher = Some(watcher);
                    Step::Pause(consumed_bytes)
                }
            },
            Ok(Parsed::Incomplete { .. }) if closes_like_memcached(rest, None) => {
                ctx.metrics.incr(Counter::ProtocolErrors);
                self.closing_on_error = true;
                Step::Close(0)
            }
            Ok(Parsed::Incomplete { .. }) => {
                if memchr::memchr(b'\n', rest).is_none() {
                    self.scanned_without_line_end_bytes = rest.len();
                }
                Step::NeedMore
            }
            Err(error) => {
                ctx.metrics.incr(Counter::ProtocolErrors);
                if error.kind() == ParseErrorKind::ObjectTooLarge {
                    forget_key_of_refused_set(ctx, rest);
                }
                output.extend_from_slice(error.reply());
                match error.action() {
                    ErrorAction::Close => {
                        self.closing_on_error = true;
                        Step::Close(0)
                    }
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

impl MemcacheConn {
    /// Whether it is closing because of a protocol error.
    pub fn closing_on_error(&self) -> bool {
        self.closing_on_error
    }

    /// A binary request. Under `-Y` a binary client cannot authenticate (the
    /// credentials are sent as a text `set`), so it is refused as memcached refuses
    /// an unauthenticated binary request: `Auth failure.`, then close.
    fn binary_step(&mut self, ctx: &ServerContext, rest: &[u8], output: &mut Vec<u8>) -> Step {
        if self.unauthenticated.is_some() {
            if rest.len() < binary::HEADER_BYTES {
                return Step::NeedMore;
            }
            let header = BinaryHeader {
                opcode: rest[1],
                opaque: u32::from_be_bytes([rest[12], rest[13], rest[14], rest[15]]),
                cas: 0,
            };
            encode_error(output, &header, Status::AuthError);
            return Step::Close(0);
        }
        super::binary::step(ctx, &self.limits, rest, output, &mut self.discard_bytes)
    }

    /// While the line at the front has no `\n` yet, decides without parsing:
    /// only the bytes that arrived since the last look are searched, so a
    /// long line sent a few bytes at a time costs linear, not quadratic,
    /// time. `None` when the parser must look (a line end arrived, or the
    /// line outgrew what may be buffered and the parser says how to refuse it).
    fn line_still_arriving(&mut self, rest: &[u8]) -> Option<Step> {
        let scanned = self.scanned_without_line_end_bytes.min(rest.len());
        if memchr::memchr(b'\n', &rest[scanned..]).is_some() {
            return None;
        }
        self.scanned_without_line_end_bytes = rest.len();
        if closes_like_memcached(rest, Some(false)) {
            self.closing_on_error = true;
            return Some(Step::Close(0));
        }
        (rest.len() <= self.limits.max_get_line_bytes).then_some(Step::NeedMore)
    }

    /// Serves more keys of a multiget whose first keys were served and
    /// consumed: `rest` starts with the rest of its line, already checked
    /// whole by the parser (every key fits), and the input buffer keeps
    /// unconsumed bytes, so all `line_left_bytes` of it are there.
    fn go_on_with_get(
        &mut self,
        ctx: &ServerContext,
        mut get: GetInProgress,
        rest: &[u8],
        output: &mut Vec<u8>,
        budget: &mut TurnBudget,
    ) -> Step {
        let Some(line_with_end) = rest.get(..get.line_left_bytes) else {
            // The runtime keeps unconsumed input, so this cannot happen; wait
            // rather than serve half a line.
            debug_assert!(false, "a streamed get lost the rest of its line");
            self.get_in_progress = Some(get);
            return Step::NeedMore;
        };
        let line = line_with_end
            .strip_suffix(b"\n")
            .map(|line| line.strip_suffix(b"\r").unwrap_or(line))
            .unwrap_or(line_with_end);
        // Split as the parser splits a get line: on spaces only.
        let keys = line.split(|&b| b == b' ').filter(|key| !key.is_empty());
        let served = super::classic::get_some(
            ctx,
            get.kind,
            get.touch_exptime,
            keys,
            output,
            get_slice(ctx, output, budget),
        );
        charge_extra_keys(budget, served);
        match served.rest_after {
            Some(key) => {
                let served_bytes = bytes_through(rest, key);
                get.line_left_bytes -= served_bytes;
                self.get_in_progress = Some(get);
                Step::Next(served_bytes)
            }
            None => {
                super::classic::record_get(ctx, get.kind, get.started);
                Step::Next(get.line_left_bytes)
            }
        }
    }
}

/// How much of a multiget one turn serves: up to the turn's keys and reply
/// bytes, and never past the high-water mark of pending replies.
fn get_slice(ctx: &ServerContext, output: &[u8], budget: &TurnBudget) -> GetSlice {
    GetSlice {
        stop_bytes: ctx
            .config
            .write_buffer_high_water_bytes
            .min(output.len().saturating_add(budget.output_bytes_left)),
        max_keys: budget.requests_left.max(1),
    }
}

/// The request loop charges a get one request; each further key is one more.
fn charge_extra_keys(budget: &mut TurnBudget, served: GetServed<'_>) {
    budget.charge(served.keys.saturating_sub(1), 0);
}

/// Bytes of `input` up to the end of `token`, a slice of it.
fn bytes_through(input: &[u8], token: &[u8]) -> usize {
    let offset = token.as_ptr() as usize - input.as_ptr() as usize;
    debug_assert!(offset + token.len() <= input.len());
    offset + token.len()
}

/// memcached's rule for a line still without its `\n` (in
/// `try_read_command_ascii`): once more than 2048 bytes are buffered, it
/// hangs up unless the line starts with at most 100 spaces and `get ` or
/// `gets `. Like memcached's, the outcome depends on what has arrived when
/// it looks: a longer line that came whole with its `\n` is parsed.
/// `has_line_end` is passed when the caller already knows it.
fn closes_like_memcached(input: &[u8], has_line_end: Option<bool>) -> bool {
    if input.len() <= MEMCACHED_LINE_BYTES || has_line_end.unwrap_or_else(|| input.contains(&b'\n'))
    {
        return false;
    }
    let spaces = input.iter().take_while(|&&b| b == b' ').count();
    let rest = &input[spaces..];
    spaces > 100 || !(rest.starts_with(b"get ") || rest.starts_with(b"gets "))
}

/// Runs one parsed request.
fn execute(ctx: &ServerContext, request: Request<'_>, output: &mut Vec<u8>) -> Flow {
    match request {
        Request::Store(store) => super::classic::store(ctx, &store, output),
        Request::Get(get) => super::classic::get(ctx, get, output),
        Request::Delete(delete) => super::classic::delete(ctx, &delete, output),
        Request::Incr(incr) => super::classic::incr(ctx, &incr, output),
        Request::Touch(touch) => super::classic::touch(ctx, &touch, output),
        Request::FlushAll(flush) => super::classic::flush_all(ctx, flush, output),
        Request::Version => super::classic::version(ctx, output),
        Request::Verbosity(verbosity) => super::classic::verbosity(ctx, verbosity, output),
        Request::Quit => return Flow::Close,
        Request::Shutdown(mode) => return super::classic::shutdown(ctx, mode, output),
        Request::DebugTime(debug) => super::classic::debugtime(ctx, debug, output),
        Request::RefreshCerts { noreply } => super::classic::refresh_certs(ctx, noreply, output),
        Request::Stats(stats) => super::stats::stats(ctx, stats, output),
        Request::MetaGet(get) => super::meta_get::meta_get(ctx, &get, output),
        Request::MetaSet(set) => super::meta_write::meta_set(ctx, &set, output),
        Request::MetaDelete(delete) => super::meta_write::meta_delete(ctx, &delete, output),
        Request::MetaArithmetic(arith) => super::meta_arith::meta_arithmetic(ctx, &arith, output),
        Request::MetaNoop => super::meta::meta_noop(ctx, output),
        Request::MetaDebug(debug) => super::meta::meta_debug(ctx, &debug, output),
        Request::Watch(topics) => return watch(ctx, topics, output),
        Request::LruCrawler(command) => {
            if let CrawlerOutcome::StartDump(job) = lru_crawler(ctx, command, output) {
                return Flow::Dump(job);
            }
        }
    }
    Flow::Continue
}

/// `watch`: `OK`, and the connection becomes a watcher; refused under -W or
/// past memcached's 20 watchers.
fn watch(ctx: &ServerContext, topics: memcache::WatchTopics, output: &mut Vec<u8>) -> Flow {
    if !ctx.config.watch_enabled {
        output.extend_from_slice(b"CLIENT_ERROR watch commands not allowed\r\n");
        return Flow::Continue;
    }
    match ctx.shared.log_watchers.add(topics) {
        Ok(watcher) => {
            output.extend_from_slice(b"OK\r\n");
            Flow::Watch(watcher)
        }
        Err(crate::observability::log_watchers::TooManyWatchers) => {
            output.extend_from_slice(b"WATCHER_TOO_MANY log watcher limit reached\r\n");
            Flow::Continue
        }
    }
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
