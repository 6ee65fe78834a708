//! The heap file's header page: what shaped the file, where its regions are, whether
//! its last run shut down cleanly, and the checksums that prove it whole (see
//! `heap_file.rs` for the layout).

use crate::config::{Config, Layout};

/// Bytes of a page: every region starts on one.
pub(crate) const PAGE_BYTES: usize = 4096;
/// What the file starts with.
const MAGIC: [u8; 8] = *b"TCHEAPv1";
/// Bumped whenever the layout of anything in the file changes.
pub(crate) const FORMAT_VERSION: u32 = 1;
/// Header bytes covered by the header's own checksum (the checksum follows them).
const HEADER_BODY_BYTES: usize = 160;

/// The settings that decide where things are in the file and what they mean.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Shape {
    pub heap_size_bytes: u64,
    pub segment_size_bytes: u64,
    pub item_size_limit_bytes: u64,
    pub expected_item_size_bytes: u64,
    pub cas_enabled: bool,
    pub segment_count: u64,
    pub bucket_count: u64,
    pub ttl_bucket_count: u64,
    pub image_bytes: u64,
}

impl Shape {
    pub(crate) fn of(config: &Config, layout: &Layout) -> Shape {
        Shape {
            heap_size_bytes: config.heap_size_bytes as u64,
            segment_size_bytes: config.segment_size_bytes as u64,
            item_size_limit_bytes: config.item_size_limit_bytes as u64,
            expected_item_size_bytes: config.expected_item_size_bytes as u64,
            cas_enabled: config.cas_enabled,
            segment_count: layout.segment_count as u64,
            bucket_count: layout.bucket_count as u64,
            ttl_bucket_count: crate::expiry::TTL_BUCKET_COUNT as u64,
            image_bytes: crate::warm_restart::image_bytes(layout.segment_count) as u64,
        }
    }

    /// The first setting that differs from `other`, named as a user knows it.
    pub(crate) fn difference(&self, other: &Shape) -> Option<String> {
        let pairs = [
            (
                "memory limit (bytes)",
                self.heap_size_bytes,
                other.heap_size_bytes,
            ),
            (
                "segment size (bytes)",
                self.segment_size_bytes,
                other.segment_size_bytes,
            ),
            (
                "item size limit (bytes)",
                self.item_size_limit_bytes,
                other.item_size_limit_bytes,
            ),
            (
                "expected item size (bytes)",
                self.expected_item_size_bytes,
                other.expected_item_size_bytes,
            ),
            (
                "CAS enabled",
                u64::from(self.cas_enabled),
                u64::from(other.cas_enabled),
            ),
            ("segment count", self.segment_count, other.segment_count),
            ("index buckets", self.bucket_count, other.bucket_count),
            ("TTL buckets", self.ttl_bucket_count, other.ttl_bucket_count),
            ("image bytes", self.image_bytes, other.image_bytes),
        ];
        pairs
            .iter()
            .find(|(_, file, now)| file != now)
            .map(|(what, file, now)| format!("{what} was {file}, is now {now}"))
    }

    /// Where each region starts and how long it is.
    pub(crate) fn regions(&self) -> Regions {
        let image_offset = PAGE_BYTES as u64;
        let index_offset = image_offset + round_up_to_page(self.image_bytes);
        let index_bytes = self.bucket_count * crate::index::BUCKET_BYTES as u64;
        let heap_offset = index_offset + round_up_to_page(index_bytes);
        let heap_bytes = self.segment_count * self.segment_size_bytes;
        Regions {
            image_offset,
            index_offset,
            index_bytes,
            heap_offset,
            file_bytes: heap_offset + round_up_to_page(heap_bytes),
        }
    }
}

fn round_up_to_page(bytes: u64) -> u64 {
    bytes.div_ceil(PAGE_BYTES as u64) * PAGE_BYTES as u64
}

/// Offsets in the file, in bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Regions {
    pub image_offset: u64,
    pub index_offset: u64,
    pub index_bytes: u64,
    pub heap_offset: u64,
    pub file_bytes: u64,
}

/// What the header page says.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub format_version: u32,
    /// Written by a clean shutdown; cleared as soon as a run starts using the file.
    pub clean: bool,
    pub shape: Shape,
    /// The index's hash keys: the index only means something with them.
    pub hash_seeds: [u64; 4],
    /// Engine clock at the clean shutdown (unix ms), so time never runs backwards
    /// across a restart.
    pub saved_unix_ms: u64,
    /// Items live at the clean shutdown.
    pub saved_items: u64,
    /// CRC-32 (IEEE) checksum of the image, the index and the written segment bytes.
    pub checksum: u32,
}

/// Why a header cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum BadHeader {
    /// Not a tailcache heap file at all.
    Foreign,
    /// Ours, but its bytes do not match their checksum.
    Corrupt,
}

impl Header {
    pub(crate) fn encode(&self) -> [u8; PAGE_BYTES] {
        let mut page = [0u8; PAGE_BYTES];
        let mut at = 0;
        let mut put = |bytes: &[u8]| {
            page[at..at + bytes.len()].copy_from_slice(bytes);
            at += bytes.len();
        };
        put(&MAGIC);
        put(&self.format_version.to_le_bytes());
        put(&u32::from(self.clean).to_le_bytes());
        let shape = &self.shape;
        for value in [
            shape.heap_size_bytes,
            shape.segment_size_bytes,
            shape.item_size_limit_bytes,
            shape.expected_item_size_bytes,
            u64::from(shape.cas_enabled),
            shape.segment_count,
            shape.bucket_count,
            shape.ttl_bucket_count,
            shape.image_bytes,
        ] {
            put(&value.to_le_bytes());
        }
        for seed in self.hash_seeds {
            put(&seed.to_le_bytes());
        }
        put(&self.saved_unix_ms.to_le_bytes());
        put(&self.saved_items.to_le_bytes());
        put(&self.checksum.to_le_bytes());
        debug_assert!(at <= HEADER_BODY_BYTES);
        let own = crc32fast::hash(&page[..HEADER_BODY_BYTES]);
        page[HEADER_BODY_BYTES..HEADER_BODY_BYTES + 4].copy_from_slice(&own.to_le_bytes());
        page
    }

    pub(crate) fn decode(page: &[u8]) -> Result<Header, BadHeader> {
        if page.len() < HEADER_BODY_BYTES + 4 || page[..8] != MAGIC {
            return Err(BadHeader::Foreign);
        }
        let own = u32::from_le_bytes(
            page[HEADER_BODY_BYTES..HEADER_BODY_BYTES + 4]
                .try_into()
                .expect("4"),
        );
        if crc32fast::hash(&page[..HEADER_BODY_BYTES]) != own {
            return Err(BadHeader::Corrupt);
        }
        let mut at = 8;
        let mut u32_at = || {
            let value = u32::from_le_bytes(page[at..at + 4].try_into().expect("4"));
            at += 4;
            value
        };
        let format_version = u32_at();
        let clean = u32_at() == 1;
        let mut u64_at = || {
            let value = u64::from_le_bytes(page[at..at + 8].try_into().expect("8"));
            at += 8;
            value
        };
        let shape = Shape {
            heap_size_bytes: u64_at(),
            segment_size_bytes: u64_at(),
            item_size_limit_bytes: u64_at(),
            expected_item_size_bytes: u64_at(),
            cas_enabled: u64_at() == 1,
            segment_count: u64_at(),
            bucket_count: u64_at(),
            ttl_bucket_count: u64_at(),
            image_bytes: u64_at(),
        };
        let hash_seeds = [u64_at(), u64_at(), u64_at(), u64_at()];
        let saved_unix_ms = u64_at();
        let saved_items = u64_at();
        let checksum = u32::from_le_bytes(page[at..at + 4].try_into().expect("4"));
        Ok(Header {
            format_version,
            clean,
            shape,
            hash_seeds,
            saved_unix_ms,
            saved_items,
            checksum,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn shape() -> Shape {
        let config = Config {
            heap_size_bytes: 8 << 20,
            segment_size_bytes: 64 << 10,
            item_size_limit_bytes: 64 << 10,
            ..Config::default()
        };
        Shape::of(&config, &config.layout().unwrap())
    }

    #[test]
    fn a_header_reads_back_and_refuses_any_flipped_byte() {
        let header = Header {
            format_version: FORMAT_VERSION,
            clean: true,
            shape: shape(),
            hash_seeds: [1, 2, 3, 4],
            saved_unix_ms: 1_800_000_000_123,
            saved_items: 42,
            checksum: 0xdead_beef,
        };
        let page = header.encode();
        assert_eq!(Header::decode(&page), Ok(header));
        for at in 0..HEADER_BODY_BYTES + 4 {
            let mut bad = page;
            bad[at] ^= 0x10;
            let expected = if at < 8 {
                BadHeader::Foreign
            } else {
                BadHeader::Corrupt
            };
            assert_eq!(Header::decode(&bad), Err(expected), "byte {at}");
        }
        assert_eq!(Header::decode(&page[..20]), Err(BadHeader::Foreign));
    }

    #[test]
    fn regions_start_on_pages_and_do_not_overlap() {
        let regions = shape().regions();
        for offset in [
            regions.image_offset,
            regions.index_offset,
            regions.heap_offset,
        ] {
            assert_eq!(offset % PAGE_BYTES as u64, 0);
        }
        assert!(regions.image_offset + shape().image_bytes <= regions.index_offset);
        assert!(regions.index_offset + regions.index_bytes <= regions.heap_offset);
        assert!(
            regions.heap_offset + shape().segment_count * shape().segment_size_bytes
                <= regions.file_bytes
        );
    }

    #[test]
    fn a_shape_names_what_changed() {
        let mut other = shape();
        other.heap_size_bytes *= 2;
        let difference = shape().difference(&other).unwrap();
        assert!(
            difference.starts_with("memory limit (bytes) was 8388608"),
            "{difference}"
        );
        assert_eq!(shape().difference(&shape()), None);
    }
}
