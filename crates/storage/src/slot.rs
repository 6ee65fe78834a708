//! The 8-byte index slot: where an item lives, plus a tag and a read counter.
//!
//! ```text
//!  63          52 51    48 47                 28 27                         0
//! +--------------+--------+---------------------+----------------------------+
//! |   tag (12)   |freq (4)|  segment id (20)    |   byte offset (28)         |
//! +--------------+--------+---------------------+----------------------------+
//! ```
//!
//! An empty slot is 0; item tags are never 0, so an item slot is never 0 either.

const TAG_BITS: u32 = 12;
const FREQ_BITS: u32 = 4;
const SEGMENT_BITS: u32 = 20;
const OFFSET_BITS: u32 = 28;
const TAG_SHIFT: u32 = FREQ_SHIFT + FREQ_BITS;
const FREQ_SHIFT: u32 = SEGMENT_SHIFT + SEGMENT_BITS;
const SEGMENT_SHIFT: u32 = OFFSET_BITS;

/// Most segments a slot can address.
pub const MAX_SEGMENTS: usize = 1 << SEGMENT_BITS;
/// Largest segment a slot can address into, in bytes.
pub const MAX_SEGMENT_SIZE_BYTES: usize = 1 << OFFSET_BITS;
/// Highest value of the read counter.
pub const MAX_FREQ: u8 = (1 << FREQ_BITS) - 1;

/// Segment `index` of the segment table as the id slots, pools and cursors hold. The
/// layout never makes more than [`MAX_SEGMENTS`] segments, so every index fits.
pub(crate) fn segment_id_of(index: usize) -> u32 {
    assert!(
        index < MAX_SEGMENTS,
        "segment index {index} past MAX_SEGMENTS"
    );
    index as u32
}

/// The non-zero 12-bit tag of a key hash: its lowest bits, which barely sway the
/// bucket choices (multiply-shift reads the high bits of each half of the hash).
pub const fn tag_of(hash: u64) -> u16 {
    let tag = (hash & ((1 << TAG_BITS) - 1)) as u16;
    if tag == 0 {
        1
    } else {
        tag
    }
}

/// Packs an item slot. Panics on a value that does not fit its field (a zero tag, a
/// segment or an offset past what a slot addresses), which would otherwise land in
/// another field and point the key at the wrong bytes.
pub const fn pack(tag: u16, freq: u8, segment_id: u32, offset: usize) -> u64 {
    assert!(
        tag != 0 && (tag as u64) < (1 << TAG_BITS),
        "slot tag out of range"
    );
    assert!(
        (segment_id as usize) < MAX_SEGMENTS,
        "slot segment out of range"
    );
    assert!(offset < MAX_SEGMENT_SIZE_BYTES, "slot offset out of range");
    ((tag as u64) << TAG_SHIFT)
        | ((freq as u64 & MAX_FREQ as u64) << FREQ_SHIFT)
        | ((segment_id as u64) << SEGMENT_SHIFT)
        | offset as u64
}

/// The slot's tag (0 for an empty slot).
pub const fn tag(slot: u64) -> u16 {
    (slot >> TAG_SHIFT) as u16
}

/// The slot's read counter.
pub const fn freq(slot: u64) -> u8 {
    ((slot >> FREQ_SHIFT) & MAX_FREQ as u64) as u8
}

/// The slot's segment id.
pub const fn segment_id(slot: u64) -> u32 {
    ((slot >> SEGMENT_SHIFT) & ((1 << SEGMENT_BITS) - 1)) as u32
}

/// The slot's byte offset within its segment.
pub const fn offset(slot: u64) -> u32 {
    (slot & ((1 << OFFSET_BITS) - 1)) as u32
}

/// The slot without its read counter: what identifies the item it points to.
pub const fn location(slot: u64) -> u64 {
    slot & !((MAX_FREQ as u64) << FREQ_SHIFT)
}

/// The same slot with its read counter replaced.
pub const fn with_freq(slot: u64, freq: u8) -> u64 {
    (slot & !((MAX_FREQ as u64) << FREQ_SHIFT)) | ((freq as u64 & MAX_FREQ as u64) << FREQ_SHIFT)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_at_their_limits() {
        let slot = pack(
            0xfff,
            MAX_FREQ,
            (MAX_SEGMENTS - 1) as u32,
            MAX_SEGMENT_SIZE_BYTES - 1,
        );
        assert_eq!(tag(slot), 0xfff);
        assert_eq!(freq(slot), MAX_FREQ);
        assert_eq!(segment_id(slot), (MAX_SEGMENTS - 1) as u32);
        assert_eq!(offset(slot), (MAX_SEGMENT_SIZE_BYTES - 1) as u32);
        let slot = pack(7, 3, 5, 9);
        assert_eq!(
            (tag(slot), freq(slot), segment_id(slot), offset(slot)),
            (7, 3, 5, 9)
        );
        assert_eq!(freq(with_freq(slot, 11)), 11);
        assert_eq!(offset(with_freq(slot, 11)), 9);
    }

    #[test]
    fn tags_and_item_slots_are_never_zero() {
        assert_eq!(tag_of(0), 1);
        assert_ne!(pack(tag_of(0), 0, 0, 0), 0);
    }

    #[test]
    #[should_panic(expected = "slot offset out of range")]
    fn an_offset_past_a_slot_is_refused_not_folded_into_the_segment() {
        pack(1, 0, 0, MAX_SEGMENT_SIZE_BYTES);
    }

    #[test]
    #[should_panic(expected = "slot segment out of range")]
    fn a_segment_past_a_slot_is_refused() {
        pack(1, 0, MAX_SEGMENTS as u32, 0);
    }
}
