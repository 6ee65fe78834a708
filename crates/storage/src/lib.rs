//! tailcache's storage engine: Segcache's segment-structured design with memcached's
//! semantics, built so that a full cache keeps its tail latency.
//!
//! Items are appended to fixed-size segments reserved at start and grouped by TTL;
//! expired segments are dropped whole; eviction frees whole segments (merge, fifo,
//! random, or none), in the background and in small steps. Reads take no lock: they
//! copy the value and then check that no writer touched the key's index buckets
//! meanwhile. Each write is one decision over the key's current item, applied under
//! one short hold of its two buckets, so compound requests never race.
//!
//! ```
//! use tailcache_storage::{Cache, Config, StoreMode, StoreOptions};
//! let cache = Cache::new(Config { heap_size_bytes: 8 << 20, ..Config::default() }).unwrap();
//! let stored = cache.store(StoreMode::Set, b"greeting", b"hello", StoreOptions::default()).unwrap();
//! let mut out = Vec::new();
//! let meta = cache.get_into(b"greeting", &mut out).unwrap().unwrap();
//! assert_eq!((out.as_slice(), meta.cas), (&b"hello"[..], stored.cas));
//! ```
//!
//! With a heap file ([`Cache::open_heap_file`]) the index and segments live in a
//! shared mapping of it, and a clean shutdown ([`Cache::save_heap_file`]) leaves
//! everything a restart needs to serve the same items (`warm_restart.rs`).
//!
//! The only `unsafe` code is in `words.rs` (allocating the heap and index zeroed, or
//! viewing the heap file's mapping as words); the workspace's lints refuse it elsewhere.

#![warn(missing_docs)]
// Under loom only the index and heap are model-checked; the rest stays unused.
#![cfg_attr(loom, allow(dead_code, unused_imports))]

mod cache;
mod clock;
mod config;
mod crawl;
mod decimal;
mod dump;
mod error;
mod evict;
mod eviction_listener;
mod expiry;
mod flush;
#[cfg(all(test, not(loom)))]
mod hash_flood_tests;
mod heap;
#[cfg(not(loom))]
mod heap_file;
#[cfg(not(loom))]
mod heap_header;
mod held_abort;
mod index;
#[cfg(not(loom))]
mod invariants;
mod item;
mod lock_hold;
mod maintenance;
mod meta;
mod mutate;
mod ops;
mod pool;
mod read;
mod segment;
mod slot;
mod stats;
mod stripe;
mod sync;
mod ttl;
#[cfg(not(loom))]
mod warm_restart;
#[cfg(all(test, not(loom)))]
mod warm_restart_tests;
#[allow(unsafe_code)]
mod words;

pub use cache::Cache;
pub use clock::{Clock, ManualClock, SteppedClock, SystemClock};
pub use config::{Config, EvictionPolicy, MAX_KEY_LEN, MIN_SEGMENT_SIZE_BYTES};
pub use crawl::CrawlProgress;
pub use dump::{DumpCursor, DumpedItem};
pub use error::{CacheError, ConfigError, HeapFileError};
pub use eviction_listener::EvictionListener;
pub use expiry::Expiry;
#[cfg(not(loom))]
pub use heap_file::EmptyReason;
pub use lock_hold::LockHoldSnapshot;
pub use meta::{
    ArithOutcome, Arithmetic, DeleteOptions, ItemMeta, Progress, ReadOptions, ReadOutcome,
    StepBudget, StoreMode, StoreOptions,
};
pub use stats::Stats;
#[cfg(not(loom))]
pub use warm_restart::{SaveReport, WarmStart};
