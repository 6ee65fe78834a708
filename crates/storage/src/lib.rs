//! tailcache's storage engine: Segcache's segment-structured design with memcached's
//! semantics.
//!
//! Items are appended to fixed-size segments reserved at start and grouped by TTL;
//! expired segments are dropped whole; eviction frees whole segments (merge, fifo,
//! random, or none). The engine is split into shards chosen by a keyed hash, each with
//! its own lock, index and active segments, drawing segments from a shared pool.
//!
//! ```
//! use tailcache_storage::{Cache, Config, StoreMode, StoreOptions};
//! let cache = Cache::new(Config { heap_size_bytes: 8 << 20, ..Config::default() }).unwrap();
//! let cas = cache.store(StoreMode::Set, b"greeting", b"hello", StoreOptions::default()).unwrap();
//! let mut out = Vec::new();
//! let meta = cache.get_into(b"greeting", &mut out).unwrap().unwrap();
//! assert_eq!((out.as_slice(), meta.cas), (&b"hello"[..], cas));
//! ```
//!
//! No `unsafe`: segments are owned buffers that move between the pool and the shards,
//! so a segment's bytes are only reachable through its owner's lock.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod cache;
mod clock;
mod config;
mod decimal;
mod error;
mod evict;
mod expiry;
mod index;
mod item;
mod meta;
mod segment;
mod shard;
mod slot;
mod stats;
mod write;

pub use cache::Cache;
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{Config, EvictionPolicy, MAX_KEY_LEN, MAX_SHARDS, MIN_SEGMENT_SIZE_BYTES};
pub use error::{CacheError, ConfigError};
pub use expiry::RELATIVE_EXPTIME_MAX_SECS;
pub use meta::{ItemMeta, MetaBitsUpdate, Progress, StepBudget, StoreMode, StoreOptions};
pub use stats::Stats;
