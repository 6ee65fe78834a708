//! Zeroed, aligned arrays of atomic words: the memory of the heap and the index.
//!
//! Both are reserved at start and may be tens of gigabytes, so they are allocated
//! zeroed (pages the kernel maps on first touch) instead of built word by word, and
//! index buckets start on a cache line. For a warm restart they live in a shared
//! mapping of the heap file instead (`heap_file.rs`). This is the crate's only
//! `unsafe` code.

use crate::sync::AtomicU64;
use std::ops::Deref;

/// A fixed-length array of `AtomicU64`, all zero at start, aligned to `align_bytes`.
pub(crate) struct AtomicWords {
    #[cfg(not(loom))]
    memory: Memory,
    #[cfg(loom)]
    words: Box<[AtomicU64]>,
}

/// Where the words live.
#[cfg(not(loom))]
enum Memory {
    /// An allocation of this process.
    Block(Block),
    /// A stretch of a shared file mapping.
    Mapped(Mapped),
}

impl AtomicWords {
    /// `count` zeroed words starting on an `align_bytes` boundary (a power of two, at
    /// least 8). Aborts, as `Vec` does, if the memory cannot be had.
    pub(crate) fn zeroed(count: usize, align_bytes: usize) -> AtomicWords {
        #[cfg(not(loom))]
        return AtomicWords {
            memory: Memory::Block(Block::zeroed(count, align_bytes)),
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
        return match &self.memory {
            Memory::Block(block) => block.words(),
            Memory::Mapped(mapped) => mapped.words(),
        };
        #[cfg(loom)]
        return &self.words;
    }
}

#[cfg(not(loom))]
impl AtomicWords {
    /// The `count` words starting `offset_bytes` into `map` (a multiple of
    /// `align_bytes`, which is at most the page size). What the file holds there is
    /// what the words read; the caller must be the file's only user (it holds the
    /// file's lock).
    pub(crate) fn mapped(
        map: std::sync::Arc<memmap2::MmapRaw>,
        offset_bytes: usize,
        count: usize,
        align_bytes: usize,
    ) -> AtomicWords {
        AtomicWords {
            memory: Memory::Mapped(Mapped::new(map, offset_bytes, count, align_bytes)),
        }
    }
}

/// Words in a shared mapping of the heap file, which the mapping keeps alive.
#[cfg(not(loom))]
struct Mapped {
    map: std::sync::Arc<memmap2::MmapRaw>,
    offset_bytes: usize,
    count: usize,
}

#[cfg(not(loom))]
impl Mapped {
    fn new(
        map: std::sync::Arc<memmap2::MmapRaw>,
        offset_bytes: usize,
        count: usize,
        align_bytes: usize,
    ) -> Mapped {
        assert!(align_bytes.is_power_of_two() && align_bytes >= std::mem::align_of::<AtomicU64>());
        let len_bytes = count
            .checked_mul(std::mem::size_of::<AtomicU64>())
            .expect("word array fits in memory");
        assert!(
            offset_bytes
                .checked_add(len_bytes)
                .is_some_and(|end| end <= map.len()),
            "words past the end of the mapping"
        );
        let start = map.as_ptr() as usize + offset_bytes;
        assert_eq!(start % align_bytes, 0, "mapped words misaligned");
        Mapped {
            map,
            offset_bytes,
            count,
        }
    }

    fn words(&self) -> &[AtomicU64] {
        // SAFETY: `new` checked that the `count` words at `offset_bytes` lie inside the
        // mapping and are aligned for `AtomicU64`. The mapping is readable and
        // writable, shared, and lives as long as `self.map`, which the returned
        // borrow cannot outlive. Every bit pattern is a valid `AtomicU64`, and this
        // process touches the words only through atomics. Another process writing the
        // file at the same time could change them under us, which atomics tolerate;
        // the heap file's exclusive lock keeps other tailcache processes out.
        unsafe {
            std::slice::from_raw_parts(
                self.map.as_ptr().add(self.offset_bytes).cast::<AtomicU64>(),
                self.count,
            )
        }
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
    fn mapped_words_read_and_write_the_file() {
        let dir = std::env::temp_dir().join(format!("tc-words-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("words");
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        file.set_len(8192).unwrap();
        let map = std::sync::Arc::new(memmap2::MmapRaw::map_raw(&file).unwrap());
        {
            let words = AtomicWords::mapped(map.clone(), 4096, 16, 64);
            assert!(words.iter().all(|w| w.load(Relaxed) == 0));
            words[3].store(0x0102_0304_0506_0708, Relaxed);
        }
        map.flush().unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(
            &bytes[4096 + 24..4096 + 32],
            &0x0102_0304_0506_0708u64.to_le_bytes()
        );
        let again = AtomicWords::mapped(map, 4096, 16, 64);
        assert_eq!(again[3].load(Relaxed), 0x0102_0304_0506_0708);
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    #[should_panic(expected = "past the end")]
    fn mapped_words_stay_inside_the_mapping() {
        let file = tempfile_of(4096);
        let map = std::sync::Arc::new(memmap2::MmapRaw::map_raw(&file).unwrap());
        let _ = AtomicWords::mapped(map, 4096 - 8, 2, 8);
    }

    fn tempfile_of(len: u64) -> std::fs::File {
        let path = std::env::temp_dir().join(format!(
            "tc-words-short-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let file = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(true)
            .open(&path)
            .unwrap();
        std::fs::remove_file(&path).unwrap();
        file.set_len(len).unwrap();
        file
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
