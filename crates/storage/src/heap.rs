//! The heap: every segment's bytes, in one region reserved at start.
//!
//! Readers copy items without taking a lock while a writer may be reusing the same
//! bytes, and learn only afterwards, from the index's version check, whether what
//! they copied is whole. For that race to be defined behaviour every access here is
//! an atomic operation on an aligned 8-byte word (bytes are little-endian within a
//! word). Relaxed ordering is enough: when bytes become visible is the index's
//! business (`index`), not the heap's.
//!
//! A word can hold the end of one item and the start of the next, and the two may be
//! written at once by writers holding different chain locks, so a write that covers
//! only part of a word merges its bytes in with a compare-and-swap.

use crate::sync::{AtomicU64, Ordering::Relaxed};
use crate::words::AtomicWords;

/// Bytes in one heap word.
const WORD_BYTES: usize = 8;
/// Bytes copied per round when moving bytes within the heap.
const COPY_CHUNK_BYTES: usize = 512;

/// The byte region all segments live in.
pub(crate) struct Heap {
    words: AtomicWords,
}

impl std::fmt::Debug for Heap {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Heap({} bytes)", self.len_bytes())
    }
}

impl Heap {
    /// A zeroed heap of at least `len_bytes` bytes (rounded up to whole words).
    pub(crate) fn new(len_bytes: usize) -> Heap {
        Heap {
            words: AtomicWords::zeroed(len_bytes.div_ceil(WORD_BYTES), WORD_BYTES),
        }
    }

    /// A heap over `words` (a mapping of the heap file).
    #[cfg(not(loom))]
    pub(crate) fn from_words(words: AtomicWords) -> Heap {
        Heap { words }
    }

    /// Size in bytes.
    pub(crate) fn len_bytes(&self) -> usize {
        self.words.len() * WORD_BYTES
    }

    /// Copies `dst.len()` bytes starting at byte `at` into `dst`.
    pub(crate) fn read(&self, at: usize, dst: &mut [u8]) {
        assert!(at + dst.len() <= self.len_bytes(), "read past the heap");
        let mut word = at / WORD_BYTES;
        let head = at % WORD_BYTES;
        let mut rest = dst;
        if head != 0 && !rest.is_empty() {
            let bytes = self.load(word);
            let count = (WORD_BYTES - head).min(rest.len());
            copy_short(&mut rest[..count], &bytes[head..head + count]);
            rest = &mut rest[count..];
            word += 1;
        }
        // Whole words: one load and one 8-byte store each (no call per word).
        let mut chunks = rest.chunks_exact_mut(WORD_BYTES);
        for chunk in &mut chunks {
            chunk.copy_from_slice(&self.load(word));
            word += 1;
        }
        let tail = chunks.into_remainder();
        if !tail.is_empty() {
            let bytes = self.load(word);
            copy_short(tail, &bytes[..tail.len()]);
        }
    }

    /// Appends the `len` bytes starting at byte `at` to `out`.
    pub(crate) fn append_to(&self, at: usize, len: usize, out: &mut Vec<u8>) {
        let start = out.len();
        out.resize(start + len, 0);
        self.read(at, &mut out[start..]);
    }

    /// Whether the bytes starting at `at` equal `expected`. Compares whole words, the
    /// partial first and last ones under a mask, with no byte-slice compare (a call
    /// to `memcmp` per word cost more than the compare on a key lookup).
    pub(crate) fn equals(&self, at: usize, expected: &[u8]) -> bool {
        assert!(
            at + expected.len() <= self.len_bytes(),
            "read past the heap"
        );
        let mut word = at / WORD_BYTES;
        let head = at % WORD_BYTES;
        let mut rest = expected;
        if head != 0 && !rest.is_empty() {
            let count = (WORD_BYTES - head).min(rest.len());
            let stored = self.words[word].load(Relaxed) >> (8 * head);
            if (stored ^ short_le(&rest[..count])) & byte_mask(0, count) != 0 {
                return false;
            }
            rest = &rest[count..];
            word += 1;
        }
        let mut chunks = rest.chunks_exact(WORD_BYTES);
        for chunk in &mut chunks {
            let wanted = u64::from_le_bytes(chunk.try_into().expect("8 bytes"));
            if self.words[word].load(Relaxed) != wanted {
                return false;
            }
            word += 1;
        }
        let tail = chunks.remainder();
        tail.is_empty()
            || (self.words[word].load(Relaxed) ^ short_le(tail)) & byte_mask(0, tail.len()) == 0
    }

    /// The bytes of word `index`.
    fn load(&self, index: usize) -> [u8; WORD_BYTES] {
        self.words[index].load(Relaxed).to_le_bytes()
    }

    /// Writes `src` starting at byte `at`.
    pub(crate) fn write(&self, at: usize, src: &[u8]) {
        assert!(at + src.len() <= self.len_bytes(), "write past the heap");
        let mut writer = self.writer(at);
        writer.push(src);
        writer.finish();
    }

    /// Copies `len` bytes from `from` to `to`; the two ranges must not overlap.
    pub(crate) fn copy(&self, from: usize, to: usize, len: usize) {
        assert!(
            from + len <= to || to + len <= from,
            "heap copy ranges overlap"
        );
        let mut chunk = [0u8; COPY_CHUNK_BYTES];
        let mut done = 0;
        while done < len {
            let count = COPY_CHUNK_BYTES.min(len - done);
            self.read(from + done, &mut chunk[..count]);
            self.write(to + done, &chunk[..count]);
            done += count;
        }
    }
}

/// Bytes written in order from one heap address, gathered into whole words: each
/// word is stored once, with a plain store, except the first and last, which other
/// items may share and so are merged in. Writing a new item piece by piece (header,
/// key, value) this way needs no staging buffer to zero and copy, and no merge where
/// two pieces meet inside a word.
pub(crate) struct HeapWriter<'a> {
    heap: &'a Heap,
    /// The word being gathered.
    word: usize,
    /// Its bytes gathered so far (byte `i` of the word in bits `8 * i..8 * i + 8`).
    gathered: u64,
    /// The first byte of the word that is ours (non-zero only in the first word).
    start: usize,
    /// Bytes of the word up to the last one gathered.
    filled: usize,
}

impl<'a> HeapWriter<'a> {
    /// Appends `piece` to what is written.
    pub(crate) fn push(&mut self, piece: &[u8]) {
        let mut rest = piece;
        if self.filled != 0 {
            // Complete the word being gathered; the rest is then word-aligned.
            let count = (WORD_BYTES - self.filled).min(rest.len());
            self.gathered |= short_le(&rest[..count]) << (8 * self.filled);
            self.filled += count;
            rest = &rest[count..];
            if self.filled < WORD_BYTES {
                return;
            }
            self.store_gathered();
        }
        // Whole words go straight from the piece.
        let mut chunks = rest.chunks_exact(WORD_BYTES);
        let end = self.word + chunks.len();
        assert!(end <= self.heap.words.len(), "write past the heap");
        for (chunk, target) in (&mut chunks).zip(&self.heap.words[self.word..end]) {
            target.store(
                u64::from_le_bytes(chunk.try_into().expect("8 bytes")),
                Relaxed,
            );
        }
        self.word = end;
        self.gathered = short_le(chunks.remainder());
        self.filled = chunks.remainder().len();
    }

    /// Writes the last, partial word; returns the address after the last byte.
    pub(crate) fn finish(self) -> usize {
        if self.filled > self.start {
            let mask = byte_mask(self.start, self.filled);
            merge_masked(&self.heap.words[self.word], self.gathered, mask);
        }
        self.word * WORD_BYTES + self.filled
    }

    /// Stores the full word gathered and moves to the next.
    fn store_gathered(&mut self) {
        let target = &self.heap.words[self.word];
        if self.start == 0 {
            target.store(self.gathered, Relaxed);
        } else {
            merge_masked(target, self.gathered, byte_mask(self.start, WORD_BYTES));
            self.start = 0;
        }
        self.word += 1;
        self.gathered = 0;
        self.filled = 0;
    }
}

impl Heap {
    /// A writer of consecutive bytes starting at byte `at` (see [`HeapWriter`]).
    pub(crate) fn writer(&self, at: usize) -> HeapWriter<'_> {
        assert!(at <= self.len_bytes(), "write past the heap");
        HeapWriter {
            heap: self,
            word: at / WORD_BYTES,
            gathered: 0,
            start: at % WORD_BYTES,
            filled: at % WORD_BYTES,
        }
    }
}

/// Up to 7 bytes as the low bytes of a little-endian word, in at most three loads
/// (two overlapping ones and a byte) instead of a loop.
fn short_le(bytes: &[u8]) -> u64 {
    let len = bytes.len();
    debug_assert!(len < WORD_BYTES);
    let u16_at = |at: usize| u64::from(u16::from_le_bytes([bytes[at], bytes[at + 1]]));
    let u32_at = |at: usize| {
        u64::from(u32::from_le_bytes(
            bytes[at..at + 4].try_into().expect("4 bytes"),
        ))
    };
    match len {
        0 => 0,
        1 => u64::from(bytes[0]),
        2 | 3 => u16_at(0) | (u16_at(len - 2) << (8 * (len - 2))),
        _ => u32_at(0) | (u32_at(len - 4) << (8 * (len - 4))),
    }
}

/// The bits of bytes `start..end` of a word.
fn byte_mask(start: usize, end: usize) -> u64 {
    debug_assert!(start < end && end <= WORD_BYTES);
    let high = if end == WORD_BYTES {
        u64::MAX
    } else {
        (1u64 << (8 * end)) - 1
    };
    high & !((1u64 << (8 * start)) - 1)
}

/// Replaces the bits of `word` under `mask` with those of `value`, leaving the others
/// as they are even if another writer changes them at the same time.
fn merge_masked(word: &AtomicU64, value: u64, mask: u64) {
    let mut current = word.load(Relaxed);
    loop {
        let merged = (current & !mask) | (value & mask);
        match word.compare_exchange_weak(current, merged, Relaxed, Relaxed) {
            Ok(_) => return,
            Err(actual) => current = actual,
        }
    }
}

/// Copies fewer than a word's bytes one at a time: a length-varying slice copy would
/// call `memcpy` for each.
fn copy_short(dst: &mut [u8], src: &[u8]) {
    for (to, from) in dst.iter_mut().zip(src) {
        *to = *from;
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use super::*;

    fn pattern(len: usize, seed: u8) -> Vec<u8> {
        (0..len)
            .map(|i| (i as u8).wrapping_mul(31).wrapping_add(seed))
            .collect()
    }

    #[test]
    fn a_new_heap_reads_as_zeros() {
        let heap = Heap::new(100);
        assert_eq!(heap.len_bytes(), 104);
        let mut out = [1u8; 104];
        heap.read(0, &mut out);
        assert!(out.iter().all(|&b| b == 0));
    }

    #[test]
    fn unaligned_writes_read_back_at_every_offset_and_length() {
        for at in 0..17 {
            for len in 0..40 {
                let heap = Heap::new(64);
                // Neighbours that differ from the bytes compared: a compare that
                // reads past either end of the range sees them.
                heap.write(0, &[0xAA; 64]);
                let bytes = pattern(len, at as u8);
                heap.write(at, &bytes);
                let mut out = vec![0u8; len];
                heap.read(at, &mut out);
                assert_eq!(out, bytes, "at {at} len {len}");
                let mut appended = vec![9u8];
                heap.append_to(at, len, &mut appended);
                assert_eq!(&appended[1..], &bytes[..]);
                assert!(heap.equals(at, &bytes));
                for changed in 0..len {
                    let mut other = bytes.clone();
                    other[changed] ^= 0x80;
                    assert!(!heap.equals(at, &other), "at {at} len {len} byte {changed}");
                }
            }
        }
    }

    #[test]
    fn reads_and_compares_that_end_at_the_end_of_the_heap_see_the_bytes() {
        for len in 0..=72 {
            let heap = Heap::new(72);
            let bytes = pattern(72, len as u8);
            heap.write(0, &bytes);
            let mut out = vec![0u8; len];
            heap.read(72 - len, &mut out);
            assert_eq!(out, bytes[72 - len..], "len {len}");
            assert!(heap.equals(72 - len, &bytes[72 - len..]), "len {len}");
        }
    }

    #[test]
    fn a_writer_writes_its_pieces_as_one_write_would_and_leaves_the_rest() {
        let splits: [&[usize]; 6] = [&[], &[0], &[1], &[3, 5], &[7, 8, 9, 16], &[2, 2, 30]];
        for at in 0..17 {
            for len in 0..40 {
                for cuts in splits {
                    let heap = Heap::new(72);
                    heap.write(0, &[0xAA; 72]);
                    let bytes = pattern(len, at as u8 + 1);
                    let mut writer = heap.writer(at);
                    let mut from = 0;
                    for &cut in cuts.iter().filter(|&&cut| cut <= len) {
                        writer.push(&bytes[from.min(cut)..cut]);
                        from = from.max(cut);
                    }
                    writer.push(&bytes[from..]);
                    assert_eq!(writer.finish(), at + len);
                    let mut out = [0u8; 72];
                    heap.read(0, &mut out);
                    assert_eq!(&out[..at], &[0xAA; 72][..at], "at {at} len {len}");
                    assert_eq!(&out[at..at + len], &bytes[..], "at {at} len {len} {cuts:?}");
                    assert!(out[at + len..].iter().all(|&b| b == 0xAA));
                }
            }
        }
    }

    #[test]
    fn a_write_leaves_its_neighbours_alone() {
        let heap = Heap::new(32);
        heap.write(0, &[0xAA; 32]);
        heap.write(3, &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        let mut out = [0u8; 32];
        heap.read(0, &mut out);
        assert_eq!(&out[..3], &[0xAA; 3]);
        assert_eq!(&out[3..13], &[1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
        assert_eq!(&out[13..], &[0xAA; 19]);
    }

    #[test]
    fn copy_moves_bytes_across_chunks() {
        let heap = Heap::new(4096);
        let bytes = pattern(1500, 7);
        heap.write(5, &bytes);
        heap.copy(5, 2001, 1500);
        let mut out = vec![0u8; 1500];
        heap.read(2001, &mut out);
        assert_eq!(out, bytes);
    }

    #[test]
    #[should_panic(expected = "overlap")]
    fn overlapping_copies_are_refused() {
        Heap::new(64).copy(0, 4, 8);
    }

    /// Two writers (a plain write and an item writer) fill the two halves of shared
    /// words at once while a reader watches: no write is lost and (under Miri) no
    /// access is a data race.
    #[test]
    fn writers_sharing_a_word_never_lose_bytes() {
        let rounds = if cfg!(miri) { 20 } else { 2_000 };
        let heap = Heap::new(64);
        std::thread::scope(|scope| {
            for half in 0..2usize {
                let heap = &heap;
                scope.spawn(move || {
                    for round in 0..rounds {
                        let byte = (round % 250) as u8 + half as u8;
                        for word in 0..4 {
                            let at = word * 8 + half * 4;
                            if half == 0 {
                                heap.write(at, &[byte; 4]);
                            } else {
                                // The item writer merges its partial words too.
                                let mut writer = heap.writer(at);
                                writer.push(&[byte; 3]);
                                writer.push(&[byte]);
                                writer.finish();
                            }
                        }
                    }
                });
            }
            scope.spawn(|| {
                let mut out = [0u8; 32];
                for _ in 0..rounds {
                    heap.read(0, &mut out);
                }
            });
        });
        let mut out = [0u8; 32];
        heap.read(0, &mut out);
        let last = ((rounds - 1) % 250) as u8;
        for word in 0..4 {
            assert_eq!(&out[word * 8..word * 8 + 4], &[last; 4]);
            assert_eq!(&out[word * 8 + 4..word * 8 + 8], &[last + 1; 4]);
        }
    }
}
