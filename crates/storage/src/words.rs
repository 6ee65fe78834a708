//! Zeroed, aligned arrays of atomic words: the memory of the heap and the index.
//!
//! Both are reserved at start and may be tens of gigabytes, so they are allocated
//! zeroed (pages the kernel maps on first touch) instead of built word by word, and
//! index buckets start on a cache line. This is the crate's only `unsafe` code.

use crate::sync::AtomicU64;
use std::ops::Deref;

/// A fixed-length array of `AtomicU64`, all zero at start, aligned to `align_bytes`.
pub(crate) struct AtomicWords {
    #[cfg(not(loom))]
    block: Block,
    #[cfg(loom)]
    words: Box<[AtomicU64]>,
}

impl AtomicWords {
    /// `count` zeroed words starting on an `align_bytes` boundary (a power of two, at
    /// least 8). Aborts, as `Vec` does, if the memory cannot be had.
    pub(crate) fn zeroed(count: usize, align_bytes: usize) -> AtomicWords {
        #[cfg(not(loom))]
        return AtomicWords {
            block: Block::zeroed(count, align_bytes),
        };
        #[cfg(loom)]
        {
            let _ = align_bytes;
            AtomicWords {
                words: (0..count).map(|_| AtomicU64::new(0)).collect(),
            }
        }
    }
}

impl Deref for AtomicWords {
    type Target = [AtomicU64];

    fn deref(&self) -> &[AtomicU64] {
        #[cfg(not(loom))]
        return self.block.words();
        #[cfg(loom)]
        return &self.words;
    }
}

/// An allocation owned by one `AtomicWords`, freed with the layout it was made with.
#[cfg(not(loom))]
struct Block {
    /// Start of the words; dangling (but aligned) when `count` is 0.
    start: std::ptr::NonNull<AtomicU64>,
    count: usize,
    layout: std::alloc::Layout,
}

// SAFETY: a `Block` is an owned allocation of `AtomicU64`s, which are `Send + Sync`;
// it hands out only shared references to them, so sharing or moving it across
// threads is as safe as for `Box<[AtomicU64]>`.
#[cfg(not(loom))]
unsafe impl Send for Block {}
// SAFETY: see `Send` above.
#[cfg(not(loom))]
unsafe impl Sync for Block {}

#[cfg(not(loom))]
impl Block {
    fn zeroed(count: usize, align_bytes: usize) -> Block {
        assert!(align_bytes.is_power_of_two() && align_bytes >= std::mem::align_of::<AtomicU64>());
        let size = count
            .checked_mul(std::mem::size_of::<AtomicU64>())
            .expect("word array fits in memory");
        let layout =
            std::alloc::Layout::from_size_align(size, align_bytes).expect("word array layout");
        if size == 0 {
            return Block {
                start: std::ptr::NonNull::dangling(),
                count,
                layout,
            };
        }
        // SAFETY: `layout` has a non-zero size (checked above). The returned pointer is
        // null-checked before use.
        let start = unsafe { std::alloc::alloc_zeroed(layout) }.cast::<AtomicU64>();
        let Some(start) = std::ptr::NonNull::new(start) else {
            std::alloc::handle_alloc_error(layout);
        };
        Block {
            start,
            count,
            layout,
        }
    }

    fn words(&self) -> &[AtomicU64] {
        // SAFETY: `start` points to `count` words allocated with `layout` and owned by
        // this block until it drops (or is dangling and aligned with `count == 0`).
        // Their bytes were zeroed at allocation, and all-zero bytes are a valid
        // `AtomicU64` (same size, alignment and bit validity as `u64`); after that they
        // are only changed through the atomics, so every word stays a valid
        // `AtomicU64`. The returned borrow cannot outlive the block.
        unsafe { std::slice::from_raw_parts(self.start.as_ptr(), self.count) }
    }
}

#[cfg(not(loom))]
impl Drop for Block {
    fn drop(&mut self) {
        if self.layout.size() != 0 {
            // SAFETY: the block was allocated by `alloc_zeroed` with exactly this
            // layout, and no reference into it outlives `&self` (see `words`).
            unsafe { std::alloc::dealloc(self.start.as_ptr().cast(), self.layout) };
        }
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;
    use crate::sync::Ordering::Relaxed;

    #[test]
    fn words_start_zeroed_aligned_and_hold_what_is_stored() {
        for (count, align) in [(0, 8), (1, 8), (24, 64), (1000, 4096)] {
            let words = AtomicWords::zeroed(count, align);
            assert_eq!(words.len(), count);
            assert_eq!(words.as_ptr() as usize % align, 0);
            assert!(words.iter().all(|w| w.load(Relaxed) == 0));
            for (i, word) in words.iter().enumerate() {
                word.store(i as u64 * 3, Relaxed);
            }
            assert!(words
                .iter()
                .enumerate()
                .all(|(i, w)| w.load(Relaxed) == i as u64 * 3));
        }
    }

    #[test]
    fn words_are_shared_between_threads() {
        let words = AtomicWords::zeroed(16, 64);
        std::thread::scope(|scope| {
            for t in 0..2u64 {
                let words = &words;
                scope.spawn(move || {
                    for word in words.iter() {
                        word.fetch_add(t + 1, Relaxed);
                    }
                });
            }
        });
        assert!(words.iter().all(|w| w.load(Relaxed) == 3));
    }
}
