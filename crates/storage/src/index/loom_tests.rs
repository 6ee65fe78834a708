//! Model checks of the publish/validate protocol: run with
//! `RUSTFLAGS="--cfg loom" cargo test -p tailcache-storage --lib --release loom`
//! (scripts/check-concurrency.sh). A writer publishes an item, unlinks it and reuses
//! its bytes for another; a reader racing it must either see a whole item or find out
//! from the version that it may not have.

use super::*;
use crate::heap::Heap;

/// Two words of one repeated byte: a whole item of version `byte`.
fn item_bytes(byte: u8) -> [u8; 16] {
    [byte; 16]
}

const PAIR: Pair = Pair {
    first: 0,
    second: 0,
};

fn slot_at(offset: u32) -> u64 {
    slot::pack(slot::tag_of(0), 0, 0, offset as usize)
}

/// What a lock-free reader saw: `None` if its version check failed.
fn read(index: &Index, heap: &Heap) -> Option<Option<[u8; 16]>> {
    let version = index.read_begin(0);
    let mut found = None;
    index.scan(0, |_, value| {
        let mut bytes = [0u8; 16];
        heap.read(slot::offset(value) as usize, &mut bytes);
        found = Some(bytes);
        true
    });
    index.read_valid(0, version).then_some(found)
}

#[test]
fn loom_a_validated_read_never_sees_a_torn_or_reused_item() {
    loom::model(|| {
        let index = loom::sync::Arc::new(Index::new(1));
        let heap = loom::sync::Arc::new(Heap::new(16));
        heap.write(0, &item_bytes(1));
        index.lock(PAIR).insert(slot_at(0)).expect("room");
        let writer = {
            let (index, heap) = (index.clone(), heap.clone());
            loom::thread::spawn(move || {
                // Unlink, then reuse the bytes for another item, then link it.
                let mut guard = index.lock(PAIR);
                let (at, _) = guard.find(slot::tag_of(0), |_| true).expect("linked");
                guard.remove(at);
                drop(guard);
                heap.write(0, &item_bytes(2));
                index.lock(PAIR).insert(slot_at(0)).expect("room");
            })
        };
        if let Some(found) = read(&index, &heap) {
            match found {
                None => {}
                Some(bytes) => assert!(
                    bytes == item_bytes(1) || bytes == item_bytes(2),
                    "a validated read saw {bytes:?}"
                ),
            }
        }
        writer.join().unwrap();
        assert_eq!(read(&index, &heap), Some(Some(item_bytes(2))));
    });
}

#[test]
fn loom_a_reader_after_a_writer_sees_all_it_wrote() {
    loom::model(|| {
        let index = loom::sync::Arc::new(Index::new(1));
        let heap = loom::sync::Arc::new(Heap::new(16));
        let writer = {
            let (index, heap) = (index.clone(), heap.clone());
            loom::thread::spawn(move || {
                heap.write(0, &item_bytes(7));
                index.lock(PAIR).insert(slot_at(0)).expect("room");
            })
        };
        // Before or after the insert, never half of it.
        if let Some(Some(bytes)) = read(&index, &heap) {
            assert_eq!(bytes, item_bytes(7));
        }
        writer.join().unwrap();
    });
}
