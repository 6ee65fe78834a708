//! Listing the cache's keys in bounded steps (memcached's `lru_crawler metadump`).
//!
//! A dump walks the index, not the segments: every linked item has exactly one slot,
//! so on a quiet cache each item is listed exactly once. While others write, items
//! written or removed during the dump may or may not appear, and an insert that
//! moves an item to its other bucket (the cuckoo step) can make it appear twice or
//! not at all: a dump is not a snapshot, no more than memcached's crawler is. A step reads a bucket the way a get
//! does, without a lock: it copies the bucket's items' keys and metadata and keeps
//! them only if the bucket's version did not move; after a few lost races it takes
//! the bucket. A cursor is just the next bucket, so a step can stop anywhere and a
//! client that stops reading costs nothing.

use crate::cache::{Cache, Found};
use crate::index::{Pair, ITEM_SLOTS_PER_BUCKET};
use crate::meta::ItemMeta;
use crate::slot;

/// Lost races on one bucket before a dump step takes it.
const LOCK_FREE_ATTEMPTS: usize = 8;

/// Where a dump stands: the next index bucket to list. `Default` starts a dump.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DumpCursor {
    next_bucket: u32,
}

impl DumpCursor {
    /// The next bucket to visit, moving past it; `None` once past the last.
    pub(crate) fn take_bucket(&mut self, bucket_count: u32) -> Option<u32> {
        if self.next_bucket >= bucket_count {
            return None;
        }
        self.next_bucket += 1;
        Some(self.next_bucket - 1)
    }

    /// Whether every bucket has been visited.
    pub(crate) fn is_past(&self, bucket_count: u32) -> bool {
        self.next_bucket >= bucket_count
    }
}

/// One item listed by a dump.
#[derive(Debug, Clone, Copy)]
pub struct DumpedItem<'a> {
    /// The item's key.
    pub key: &'a [u8],
    /// Its metadata (flags, CAS, expiry, size, last access, whether it was read).
    pub meta: ItemMeta,
    /// Bytes it takes in its segment: header, key and value.
    pub size_bytes: usize,
}

/// The live items of one bucket, copied: at most a bucket's worth of slots.
struct BucketCopy {
    keys: [[u8; crate::MAX_KEY_LEN]; ITEM_SLOTS_PER_BUCKET],
    items: [(usize, ItemMeta, usize); ITEM_SLOTS_PER_BUCKET],
    count: usize,
}

impl Cache {
    /// Lists the live items of up to `max_buckets` index buckets from `cursor` on
    /// (expired and flushed ones are left out), and moves the cursor past them.
    /// Returns `true` once the whole index has been listed.
    pub fn dump_step(
        &self,
        cursor: &mut DumpCursor,
        max_buckets: usize,
        mut visit: impl FnMut(&DumpedItem<'_>),
    ) -> bool {
        self.apply_due_flush();
        let bucket_count = self.index.bucket_count();
        let mut copy = BucketCopy {
            keys: [[0; crate::MAX_KEY_LEN]; ITEM_SLOTS_PER_BUCKET],
            items: [(0, ItemMeta::default(), 0); ITEM_SLOTS_PER_BUCKET],
            count: 0,
        };
        for _ in 0..max_buckets.max(1) {
            let Some(bucket) = cursor.take_bucket(bucket_count) else {
                return true;
            };
            self.copy_bucket(bucket, &mut copy);
            for (n, &(key_len, meta, size_bytes)) in copy.items[..copy.count].iter().enumerate() {
                visit(&DumpedItem {
                    key: &copy.keys[n][..key_len],
                    meta,
                    size_bytes,
                });
            }
        }
        cursor.is_past(bucket_count)
    }

    /// Copies the live items linked from `bucket` into `copy`.
    fn copy_bucket(&self, bucket: u32, copy: &mut BucketCopy) {
        for _ in 0..LOCK_FREE_ATTEMPTS {
            let version = self.index.read_begin(bucket);
            if self.try_copy_bucket(bucket, copy) && self.index.read_valid(bucket, version) {
                return;
            }
        }
        let _held = self.index.lock(Pair {
            first: bucket,
            second: bucket,
        });
        let whole = self.try_copy_bucket(bucket, copy);
        debug_assert!(whole, "items under a held bucket are well formed");
    }

    /// One pass over `bucket`'s slots; `false` when it met bytes that are not an item
    /// (only a reader racing a writer can, and then its version check fails too).
    fn try_copy_bucket(&self, bucket: u32, copy: &mut BucketCopy) -> bool {
        let now = self.now();
        copy.count = 0;
        let mut whole = true;
        self.index.scan(bucket, |at, value| {
            let (segment, offset) = (slot::segment_id(value), slot::offset(value) as usize);
            let Some(header) = self.read_header(segment, offset) else {
                whole = false;
                return true;
            };
            let found: Found = self.found(at, value, header, &now);
            if found.is_live() {
                let key = &mut copy.keys[copy.count][..header.key_len];
                self.heap
                    .read(self.addr(segment, offset + header.header_len), key);
                copy.items[copy.count] = (header.key_len, found.meta(), header.total_len());
                copy.count += 1;
            }
            false
        });
        whole
    }
}
