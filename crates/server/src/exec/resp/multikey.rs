//! MGET, DEL and EXISTS over many keys, served in slices as a memcache multiget is:
//! each turn serves up to the turn's budget of keys, drops the bytes of the keys it
//! served from the input, and the next turn goes on from the next key, so a
//! 64 Ki-key MGET delays other clients by one slice and its reply needs no more
//! memory than a slice. The request was validated whole by the parser before its
//! first key was served; what is left of it in the input is read back with
//! [`Args::resume_multibulk`], never parsed again.

use std::time::Instant;

use tailcache_protocol::resp::{encode, Args, ProtocolVersion};
use tailcache_runtime::TurnBudget;

use crate::context::ServerContext;
use crate::exec::conn_loop::Step;
use crate::exec::{delete_counted, record};
use crate::observability::metrics::CommandKind;

/// Which many-key command.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MultiKey {
    /// MGET: one bulk (or null) per key, after the array header.
    Get,
    /// DEL: the number deleted, once every key is done.
    Del,
    /// EXISTS: how many exist, once every key is done.
    Exists,
}

/// A many-key command whose first keys were served and dropped from the input.
#[derive(Debug, Clone, Copy)]
pub struct MultiKeyInProgress {
    kind: MultiKey,
    keys_left: usize,
    /// DEL and EXISTS: keys counted so far.
    counted: usize,
    started: Instant,
}

/// Starts `kind` over `keys` (of the multibulk request at the front of `rest`);
/// `Some` progress when keys are left for later turns.
pub fn start(
    ctx: &ServerContext,
    kind: MultiKey,
    keys: Args<'_>,
    rest: &[u8],
    out: &mut Vec<u8>,
    version: ProtocolVersion,
    budget: &mut TurnBudget,
) -> (Step, Option<MultiKeyInProgress>) {
    if kind == MultiKey::Get {
        encode::array_header(out, keys.len());
    }
    let progress = MultiKeyInProgress {
        kind,
        keys_left: keys.len(),
        counted: 0,
        started: Instant::now(),
    };
    serve_slice(ctx, progress, keys, rest, out, version, budget)
}

/// Goes on with the keys left of `progress`, which start `rest`.
pub fn go_on(
    ctx: &ServerContext,
    progress: MultiKeyInProgress,
    rest: &[u8],
    out: &mut Vec<u8>,
    version: ProtocolVersion,
    budget: &mut TurnBudget,
) -> (Step, Option<MultiKeyInProgress>) {
    let keys = Args::resume_multibulk(rest, progress.keys_left);
    serve_slice(ctx, progress, keys, rest, out, version, budget)
}

/// Serves keys until the turn's budget (keys, reply bytes) or the high-water mark
/// says stop, at least one, and consumes the bytes through the last one served
/// (a multibulk request ends with its last key and CRLF, so the last slice
/// consumes the rest of the request).
fn serve_slice(
    ctx: &ServerContext,
    mut progress: MultiKeyInProgress,
    keys: Args<'_>,
    rest: &[u8],
    out: &mut Vec<u8>,
    version: ProtocolVersion,
    budget: &mut TurnBudget,
) -> (Step, Option<MultiKeyInProgress>) {
    let stop_bytes = ctx
        .config
        .write_buffer_high_water_bytes
        .min(out.len().saturating_add(budget.output_bytes_left));
    let max_keys = budget.requests_left.max(1);
    let mut served = 0;
    let mut last_key: &[u8] = &[];
    for key in keys {
        match progress.kind {
            MultiKey::Get => super::commands::get(ctx, key, out, version),
            MultiKey::Del => progress.counted += usize::from(delete_counted(ctx, key)),
            MultiKey::Exists => {
                progress.counted += usize::from(super::commands::peek(ctx, key).is_some());
            }
        }
        served += 1;
        last_key = key;
        if served >= max_keys || out.len() >= stop_bytes {
            break;
        }
    }
    if served == 0 {
        // The parser validated every key; a request that ran out is a bug here.
        debug_assert!(false, "a many-key request lost its keys");
        return (Step::Close(0), None);
    }
    // The request loop charges one request; each further key is one more.
    budget.charge(served - 1, 0);
    progress.keys_left -= served.min(progress.keys_left);
    // Bytes through the last key served and its CRLF.
    let through_last = last_key.as_ptr() as usize - rest.as_ptr() as usize + last_key.len() + 2;
    if progress.keys_left > 0 {
        return (Step::Next(through_last), Some(progress));
    }
    match progress.kind {
        MultiKey::Get => {}
        MultiKey::Del | MultiKey::Exists => encode::integer(out, progress.counted as i64),
    }
    let kind = match progress.kind {
        MultiKey::Get | MultiKey::Exists => CommandKind::Get,
        MultiKey::Del => CommandKind::Delete,
    };
    record(ctx, kind, progress.started);
    (Step::Next(through_last), None)
}
