//! Whole-session fuzz target: bytes in, bytes out, through the server's own
//! data service over a real storage engine, as the runtime drives it (in
//! pieces, within a turn budget, with background maintenance between turns).
//!
//! Checks: no panic; a call never consumes more than it was given; a turn's
//! reply stays within the output budget plus one item; a connection's live
//! memory (everything allocated after the engine was built) stays within a
//! fixed budget while the client reads its replies; the engine's invariants
//! hold at the end.
#![no_main]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use clap::Parser;
use libfuzzer_sys::fuzz_target;
use tailcache::startup::cli::Flags;
use tailcache::startup::config::Config;
use tailcache::context::{Protocol, SharedState};
use tailcache::data_service::DataServiceFactory;
use tailcache::startup::engine::build_engine;
use tailcache_runtime::{JobProgress, Service, ServiceFactory, TurnBudget};

/// Counts live heap bytes, so the target can bound a session's memory.
struct CountingAllocator;

static LIVE_BYTES: AtomicIsize = AtomicIsize::new(0);

// SAFETY: every call is forwarded to the system allocator unchanged; only a
// counter is updated beside it.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same layout contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        LIVE_BYTES.fetch_add(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: same layout contract as the caller's.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE_BYTES.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` came from this allocator with `layout`.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE_BYTES.fetch_add(new_size as isize - layout.size() as isize, Ordering::Relaxed);
        // SAFETY: `ptr` came from this allocator with `layout`.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static ALLOCATOR: CountingAllocator = CountingAllocator;

/// The fuzzed server's configuration, resolved by the server's own flag
/// reading once (parsing flags per run would be most of a run's time).
static CONFIG: OnceLock<Config> = OnceLock::new();

/// The server's per-turn budget (its defaults).
const TURN_REQUESTS: usize = 32;
const TURN_OUTPUT_BYTES: usize = 64 * 1024;
/// `-I` of the fuzzed server: one item may exceed a turn's output budget by this much.
const MAX_ITEM_BYTES: usize = 64 * 1024;
/// What a session may hold live beyond the engine: its buffers, one turn's
/// replies, parser and connection state.
const SESSION_MEMORY_BUDGET_BYTES: isize = 4 << 20;
/// Pieces between two background maintenance steps.
const MAINTENANCE_EVERY_PIECES: usize = 16;
/// Job steps (key dumps) run before the target gives up on a job.
const MAX_JOB_STEPS: usize = 10_000;

fuzz_target!(|data: &[u8]| {
    let Some((&head, stream)) = data.split_first() else {
        return;
    };
    // The first byte picks the protocol and how the bytes arrive.
    let protocol = match head % 3 {
        0 => Protocol::Memcache,
        1 => Protocol::Resp,
        _ => Protocol::Http,
    };
    let piece_bytes = usize::from(head / 3 % 64) + 1;

    let config = CONFIG
        .get_or_init(|| {
            let flags = Flags::try_parse_from(["tailcache", "-m", "2", "-I", "64k"]).unwrap();
            Config::load_with_warnings(&flags).unwrap().0
        })
        .clone();
    let engine = Arc::new(build_engine(&config).unwrap());
    let shared = Arc::new(SharedState::new(engine.clone(), Arc::new(config), 1));
    let mut service = DataServiceFactory::new(shared).new_worker(0);
    let mut conn = service.new_conn(protocol.tag());
    let read_buffer_max = MAX_ITEM_BYTES + 64 * 1024;
    let baseline = LIVE_BYTES.load(Ordering::Relaxed);

    let mut input: Vec<u8> = Vec::new();
    let mut output: Vec<u8> = Vec::new();
    'pieces: for (number, piece) in stream.chunks(piece_bytes).enumerate() {
        input.extend_from_slice(piece);
        loop {
            let mut budget = TurnBudget {
                requests_left: TURN_REQUESTS,
                output_bytes_left: TURN_OUTPUT_BYTES,
            };
            let processed = service.process_within(&mut conn, &input, &mut output, &mut budget);
            assert!(processed.consumed <= input.len(), "consumed past the input");
            assert!(
                output.len() <= TURN_OUTPUT_BYTES + MAX_ITEM_BYTES + 4096,
                "one call produced {} reply bytes",
                output.len()
            );
            input.drain(..processed.consumed);
            // The client reads everything: replies do not pile up.
            output.clear();
            if service.job_group(&conn).is_some() {
                run_job(&mut service, &mut conn, &mut output);
            }
            let live = LIVE_BYTES.load(Ordering::Relaxed) - baseline;
            assert!(
                live <= SESSION_MEMORY_BUDGET_BYTES,
                "a session holds {live} bytes beyond the engine"
            );
            if processed.close_after_flush {
                break 'pieces;
            }
            if processed.consumed == 0 {
                // The runtime closes a connection whose request outgrows this.
                if input.len() > read_buffer_max {
                    break 'pieces;
                }
                break;
            }
            if input.is_empty() {
                break;
            }
        }
        // Background maintenance between turns, as a worker runs it (every
        // few pieces: a step walks segment metadata, and a run may have thousands
        // of one-byte pieces).
        if number % MAINTENANCE_EVERY_PIECES != 0 {
            continue;
        }
        let _ = service.background_step(
            tailcache_runtime::TaskGroup::Maintenance,
            Duration::from_micros(200),
        );
    }
    service.on_close(conn, tailcache_runtime::CloseCause::Normal);
    engine.check_invariants().unwrap();
});

fn run_job(
    service: &mut tailcache::data_service::DataService,
    conn: &mut tailcache::data_service::DataConn,
    output: &mut Vec<u8>,
) {
    for _ in 0..MAX_JOB_STEPS {
        let progress = service.job_step(conn, output, Duration::from_micros(200));
        assert!(output.len() <= TURN_OUTPUT_BYTES + MAX_ITEM_BYTES + 4096);
        output.clear();
        if progress != JobProgress::More {
            return;
        }
    }
    panic!("a job did not finish in {MAX_JOB_STEPS} steps over a 2 MiB cache");
}
