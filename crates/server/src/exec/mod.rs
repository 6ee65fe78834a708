//! Command execution: the boundary between the runtime (event loop,
//! listeners, sessions, limits; `tailcache-runtime`) and the protocol handlers.
//!
//! # Contract (the runtime calls exactly these)
//!
//! ```text
//! pub struct ConnState                      // per-connection state, defined here
//! pub fn new_conn(protocol: Protocol, ctx: &ServerContext,
//!                 entry: Option<Arc<ConnEntry>>) -> ConnState
//! pub fn process(state: &mut ConnState, ctx: &ServerContext,
//!                input: &[u8], output: &mut Vec<u8>,
//!                budget: &mut TurnBudget) -> Processed
//! pub fn job_group(state: &ConnState) -> Option<TaskGroup>
//! pub fn job_step(state: &mut ConnState, ctx: &ServerContext,
//!                 output: &mut Vec<u8>, budget: Duration) -> JobProgress
//! ```
//!
//! - `new_conn` runs on the worker that accepted the connection, once.
//! - `process` gets every unconsumed input byte of the connection (requests
//!   pipelined in one read arrive together) and appends replies to `output`.
//!   It returns `Processed { consumed, close_after_flush }`
//!   (`tailcache_runtime::Processed`): `consumed` bytes are dropped from the
//!   input; 0 means "need more bytes" (an incomplete request is never an
//!   error). The runtime calls it again while it consumed something, input
//!   remains and pending output is under `write_buffer_high_water_bytes`, so
//!   it may return after any number of complete requests. Each request (each
//!   key of a multiget) and the reply bytes it made are charged to `budget`,
//!   the rest of the connection's turn; once it is spent `process` returns,
//!   and a multiget goes on from its next key in a later turn. It must never
//!   consume more than `input.len()`. `close_after_flush: true` flushes what
//!   is in `output`, drops the rest of the input and closes (quit, or a
//!   request that can no longer be framed).
//! - Input is bounded by the runtime: a request that does not fit
//!   `max_item_size_bytes + 64 KiB` gets the listener's overflow reply and
//!   the connection closes; the parser's own limits should trigger first.
//! - Connection limit, idle timeout, request timeout (input waiting with no
//!   request completing for `request_timeout_secs`), backpressure, the
//!   per-turn read budget and shutdown are the runtime's; `process` never
//!   blocks and never sleeps. At shutdown the runtime calls `process` once
//!   more with what the socket already held, then flushes and closes.
//! - Bytes in and out are counted by the runtime. Per request, `process` bumps
//!   `ctx.metrics` counters (`Counter::CmdGet`, `GetHits`, ...: memcached's
//!   names) and records `ctx.metrics.record(CommandKind, service_time_ns)`.
//! - `stats` reads: `ctx.shared.connections()` (current/total/rejected),
//!   `ctx.shared.totals()` (counters summed over workers), `uptime_secs()`,
//!   `started_unix_secs()`, `threads()`, `verbosity()`/`set_verbosity()`,
//!   `ctx.engine.stats()` (storage), `ctx.config` (limits, -I, -m, ...).
//! - Background maintenance (`Engine::maintenance_step`) is run by the runtime
//!   between polls, as the scheduler's maintenance group; `process` need not
//!   call it.
//! - A request that starts a job (`lru_crawler metadump`) stops `process`;
//!   while `job_group` names a group, the runtime runs `job_step` as that
//!   group's background steps (only while the client reads its output), and
//!   serves the requests behind it once the job is done.
//!
//! Each protocol keeps its own connection state: `memcache::conn`,
//! `resp::conn` and `http::keys`, all driven by the one request loop in
//! `conn_loop`; they share the engine, so a key set through one protocol
//! reads back through the others.

mod conn_loop;
mod http;
pub(crate) mod memcache;
mod resp;
mod ttl;
mod watch_events;

use std::time::{Duration, Instant};

use tailcache_runtime::{JobProgress, Processed, TaskGroup, TurnBudget};

use self::conn_loop::run_requests;
use crate::context::{Protocol, ServerContext};
use crate::observability::metrics::{CommandKind, Counter};

/// Per-connection state of command execution.
#[derive(Debug)]
pub enum ConnState {
    /// A memcache text/meta connection.
    Memcache(memcache::conn::MemcacheConn),
    /// A RESP connection.
    Resp(resp::conn::RespConn),
    /// An HTTP key-value connection.
    Http(http::keys::HttpConn),
}

/// State for a new connection on a `protocol` listener.
pub fn new_conn(
    protocol: Protocol,
    ctx: &ServerContext,
    entry: Option<std::sync::Arc<crate::conn_registry::ConnEntry>>,
) -> ConnState {
    match protocol {
        Protocol::Memcache => ConnState::Memcache(memcache::conn::MemcacheConn::new(ctx)),
        Protocol::Resp => ConnState::Resp(resp::conn::RespConn::new(ctx, entry)),
        Protocol::Http => ConnState::Http(http::keys::HttpConn::new(ctx)),
    }
}

/// Executes the complete requests at the front of `input`, appending their
/// replies to `output` (see the contract above).
pub fn process(
    state: &mut ConnState,
    ctx: &ServerContext,
    input: &[u8],
    output: &mut Vec<u8>,
    budget: &mut TurnBudget,
) -> Processed {
    let processed = match state {
        ConnState::Memcache(conn) => conn.process(ctx, input, output, budget),
        ConnState::Resp(conn) => {
            run_requests(ctx, input, output, budget, |rest, output, budget| {
                conn.step(ctx, rest, output, budget)
            })
        }
        ConnState::Http(conn) => run_requests(ctx, input, output, budget, |rest, output, _| {
            conn.step(ctx, rest, output)
        }),
    };
    debug_assert!(processed.consumed <= input.len());
    processed
}

/// Key dump output one bulk step appends at most (about): far under the
/// high-water mark, so that a client's reading paces its dump, and about
/// 0.1 ms of work, the most a request arriving meanwhile waits for.
const DUMP_STEP_BYTES: usize = 16 * 1024;

/// How often a watcher with no lines waiting looks again (memcached's logger
/// thread polls its buffers too).
const WATCHER_POLL: Duration = Duration::from_millis(10);

/// The watcher of a `watch` connection, if it is one.
pub fn watcher(
    state: &ConnState,
) -> Option<&std::sync::Arc<crate::observability::log_watchers::Watcher>> {
    match state {
        ConnState::Memcache(conn) => conn.watcher.as_ref(),
        _ => None,
    }
}

/// Whether the connection closes because of a protocol error.
pub fn closing_on_error(state: &ConnState) -> bool {
    match state {
        ConnState::Memcache(conn) => conn.closing_on_error(),
        _ => false,
    }
}

/// The group of the job `state` is waiting on (a key dump, a watcher), if any.
pub fn job_group(state: &ConnState) -> Option<TaskGroup> {
    match state {
        ConnState::Memcache(conn) if conn.dump.is_some() || conn.watcher.is_some() => {
            Some(TaskGroup::Bulk)
        }
        _ => None,
    }
}

/// When `state`'s connection is closed unless it authenticates first, silent
/// or not (`auth_timeout_secs`); `None` once authenticated or without auth.
pub fn conn_deadline(state: &ConnState) -> Option<std::time::Instant> {
    match state {
        ConnState::Memcache(conn) => conn.auth_deadline(),
        ConnState::Resp(conn) => conn.auth_deadline(),
        // HTTP checks every request; it has no unauthenticated state.
        ConnState::Http(_) => None,
    }
}

/// One bulk step of the job of `state`, for about `budget`.
pub fn job_step(
    state: &mut ConnState,
    ctx: &ServerContext,
    output: &mut Vec<u8>,
    budget: Duration,
) -> JobProgress {
    let ConnState::Memcache(conn) = state else {
        return JobProgress::Done;
    };
    if let Some(watcher) = &conn.watcher {
        // Bounded like a dump's step: a large watcher buffer goes out in pieces,
        // paced by the client's reading.
        return match watcher.drain_into(output, DUMP_STEP_BYTES) {
            0 => JobProgress::Sleep(WATCHER_POLL),
            _ => JobProgress::More,
        };
    }
    let Some(job) = conn.dump.as_mut() else {
        return JobProgress::Done;
    };
    if job.run_for(ctx, output, budget, DUMP_STEP_BYTES) {
        conn.dump = None;
        return JobProgress::Done;
    }
    JobProgress::More
}

/// The configured item size limit, as a parser limit in bytes.
fn max_item_size_bytes(ctx: &ServerContext) -> usize {
    usize::try_from(ctx.config.max_item_size_bytes).unwrap_or(usize::MAX)
}

/// Puts a header in front of a value the engine already copied to
/// `out[value_start..]`: `write_header(out, value_len)` appends the header,
/// which is then rotated into place (this moves the value once, within the
/// buffer). Used where the header depends on what the read itself decided
/// (meta flags, a touch); plain gets write the header first instead
/// (`Engine::get_with_header`). The length is what was copied, so header and
/// body always agree.
fn prepend_header(
    out: &mut Vec<u8>,
    value_start: usize,
    write_header: impl FnOnce(&mut Vec<u8>, usize),
) {
    let value_len = out.len() - value_start;
    write_header(out, value_len);
    let header_len = out.len() - value_start - value_len;
    out[value_start..].rotate_right(header_len);
}

/// Deletes `key`, counting a hit or a miss; whether it was there.
fn delete_counted(ctx: &ServerContext, key: &[u8]) -> bool {
    let deleted = ctx
        .engine
        .delete(key, tailcache_storage::DeleteOptions::default())
        .is_ok();
    ctx.metrics.incr(if deleted {
        Counter::DeleteHits
    } else {
        Counter::DeleteMisses
    });
    deleted
}

/// Counts one executed request and records its service time.
fn record(ctx: &ServerContext, kind: CommandKind, started: Instant) {
    let elapsed_ns = u64::try_from(started.elapsed().as_nanos()).unwrap_or(u64::MAX);
    ctx.metrics.incr(Counter::Requests);
    ctx.metrics.record(kind, elapsed_ns);
}

#[cfg(test)]
mod tests;
