//! Warm restart tests that need the file layout: corrupting the index and image,
//! and the image's record format.

use crate::cache::Cache;
use crate::expiry::TTL_BUCKET_COUNT;
use crate::heap_file::EmptyReason;
use crate::segment::{SegmentImage, NO_SEGMENT};
use crate::warm_restart::*;
use crate::Config;
use crate::{ManualClock, StoreMode, StoreOptions};
use std::path::Path;
use std::sync::Arc;

fn config() -> Config {
    Config {
        heap_size_bytes: 4 << 20,
        segment_size_bytes: 64 << 10,
        item_size_limit_bytes: 64 << 10,
        ..Config::default()
    }
}

/// Saves an engine of 300 items at `path` and returns where its regions are.
fn saved(path: &Path) -> crate::heap_header::Regions {
    let clock = Arc::new(ManualClock::new(1_800_000_000));
    let (cache, _) = Cache::open_heap_file_with_clock(config(), path, clock).unwrap();
    for i in 0..300u32 {
        let key = format!("k{i}");
        cache
            .store(
                StoreMode::Set,
                key.as_bytes(),
                &[i as u8; 40],
                StoreOptions::default(),
            )
            .unwrap();
    }
    cache.save_heap_file().unwrap();
    let regions = cache.heap_file.as_ref().unwrap().lock().regions;
    regions
}

fn reopened(path: &Path) -> WarmStart {
    let clock = Arc::new(ManualClock::new(1_800_000_000));
    let (cache, start) = Cache::open_heap_file_with_clock(config(), path, clock).unwrap();
    if !matches!(start, WarmStart::Restored { .. }) {
        assert_eq!(
            cache.item_count(),
            0,
            "an engine that did not restore is empty"
        );
    }
    start
}

fn temp_file(name: &str) -> std::path::PathBuf {
    let path = std::env::temp_dir().join(format!("tc-image-{}-{name}", std::process::id()));
    let _ = std::fs::remove_file(&path);
    path
}

fn flip_at(path: &Path, at: usize) {
    let mut bytes = std::fs::read(path).unwrap();
    bytes[at] ^= 0x01;
    std::fs::write(path, bytes).unwrap();
}

#[test]
fn a_flipped_index_byte_is_detected() {
    let path = temp_file("index");
    let regions = saved(&path);
    let bytes = std::fs::read(&path).unwrap();
    let index = &bytes[regions.index_offset as usize..][..regions.index_bytes as usize];
    // A slot word (not a version): an item's location.
    let slot = (0..index.len() / 8)
        .filter(|word| word % 8 != 0)
        .find(|word| index[word * 8..word * 8 + 8] != [0; 8])
        .expect("some slot is used");
    flip_at(&path, regions.index_offset as usize + slot * 8 + 2);
    assert_eq!(
        reopened(&path),
        WarmStart::Empty(EmptyReason::ChecksumMismatch)
    );
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_flipped_image_byte_is_detected() {
    for at in [
        0,
        IMAGE_HEAD_BYTES + 3,
        IMAGE_HEAD_BYTES + TTL_BUCKET_COUNT * TTL_RECORD_BYTES + 9,
    ] {
        let path = temp_file(&format!("image-{at}"));
        let regions = saved(&path);
        flip_at(&path, regions.image_offset as usize + at);
        assert_eq!(
            reopened(&path),
            WarmStart::Empty(EmptyReason::ChecksumMismatch),
            "byte {at}"
        );
        std::fs::remove_file(&path).unwrap();
    }
}

#[test]
fn an_untouched_file_restores() {
    let path = temp_file("untouched");
    saved(&path);
    assert!(matches!(
        reopened(&path),
        WarmStart::Restored { items: 300, .. }
    ));
    std::fs::remove_file(&path).unwrap();
}

#[test]
fn a_segment_record_is_64_bytes_and_reads_back() {
    let segment = SegmentImage {
        fill: 1 << 63 | 4000,
        live: 3 << 32 | 120,
        cas_base: 77,
        epoch: 5,
        order: 6,
        max_expiry_unix_secs: 1_800_000_000,
        time_base_unix_secs: 1_799_000_000,
        ttl_bucket: 12,
        state: 1,
        prev: NO_SEGMENT,
        next: 3,
    };
    let mut image = Vec::new();
    encode_segment(&segment, &mut image);
    assert_eq!(image.len(), SEGMENT_RECORD_BYTES);
    let mut reader = Reader {
        bytes: &image,
        at: 0,
    };
    assert_eq!(decode_segment(&mut reader), Some(segment));
    assert_eq!(decode_segment(&mut reader), None, "nothing left");
}
