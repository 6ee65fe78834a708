//! Segments: fixed-size byte buffers allocated once at start, and the shared free pool.
//!
//! Ownership moves, never sharing: a segment's buffer is owned by exactly one shard or
//! by the pool, so its bytes are only touched under its owner's lock, in safe Rust.

use parking_lot::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};

/// Bytes of bookkeeping per segment in each shard's table (counted in the budget).
pub const BOOKKEEPING_BYTES_PER_SEGMENT: usize =
    std::mem::size_of::<Option<Segment>>() + std::mem::size_of::<u32>();

/// A segment owned by a shard: its buffer and what the shard knows about it.
#[derive(Debug)]
pub struct Segment {
    /// The segment's bytes.
    pub data: Box<[u8]>,
    /// Global id, as stored in index slots.
    pub id: u32,
    /// Bytes written so far; items are appended.
    pub write_offset: usize,
    /// Items written here that the index still points to.
    pub live_items: u32,
    /// Bytes of those live items.
    pub live_bytes: usize,
    /// Age order across all shards: larger is newer (merge renews it).
    pub sequence: u64,
    /// First CAS of this incarnation: an item's CAS is `cas_base + offset`.
    pub cas_base: u64,
    /// Latest expiry of any item written here (0 = some item never expires).
    pub max_expiry_unix_secs: u32,
    /// The TTL bucket this segment belongs to.
    pub ttl_bucket: u16,
    /// Invalidated by flush_all: its items are gone, the bytes await reclaiming.
    pub flushed: bool,
}

impl Segment {
    /// Free bytes left for appending.
    pub fn free_bytes(&self) -> usize {
        self.data.len() - self.write_offset
    }
}

/// A free segment waiting in the pool.
#[derive(Debug)]
pub struct FreeSegment {
    data: Box<[u8]>,
    id: u32,
}

/// The shared pool of free segments. Its lock is taken once per segment's worth of writes.
#[derive(Debug)]
pub struct Pool {
    free: Mutex<Vec<FreeSegment>>,
    segment_size_bytes: usize,
    next_cas_base: AtomicU64,
    next_sequence: AtomicU64,
}

impl Pool {
    /// Allocates all `segment_count` segments up front (zeroed pages, committed on first write).
    pub fn new(segment_count: usize, segment_size_bytes: usize) -> Self {
        let free = (0..segment_count)
            .rev()
            .map(|id| FreeSegment {
                data: vec![0u8; segment_size_bytes].into_boxed_slice(),
                id: id as u32,
            })
            .collect();
        Pool {
            free: Mutex::new(free),
            segment_size_bytes,
            next_cas_base: AtomicU64::new(1),
            next_sequence: AtomicU64::new(0),
        }
    }

    /// Takes a free segment for `ttl_bucket`, giving it a CAS range no other incarnation used.
    pub fn take(&self, ttl_bucket: u16) -> Option<Segment> {
        let free = self.free.lock().pop()?;
        // Each incarnation reserves segment_size CAS values: offsets are below that,
        // so `cas_base + offset` is unique per written item for 2^64 / size incarnations.
        let cas_base = self
            .next_cas_base
            .fetch_add(self.segment_size_bytes as u64, Ordering::Relaxed);
        Some(Segment {
            data: free.data,
            id: free.id,
            write_offset: 0,
            live_items: 0,
            live_bytes: 0,
            cas_base,
            sequence: self.next_sequence(),
            max_expiry_unix_secs: 0,
            ttl_bucket,
            flushed: false,
        })
    }

    /// A new age stamp, newer than every segment's so far.
    pub fn next_sequence(&self) -> u64 {
        self.next_sequence.fetch_add(1, Ordering::Relaxed)
    }

    /// Returns a segment whose items have been unlinked from the index.
    pub fn give_back(&self, segment: Segment) {
        self.free.lock().push(FreeSegment {
            data: segment.data,
            id: segment.id,
        });
    }

    /// Free segments now.
    pub fn free_count(&self) -> usize {
        self.free.lock().len()
    }
}
