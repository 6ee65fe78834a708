use super::*;

#[test]
fn bucket_is_exactly_one_cache_line() {
    let index = Index::new(3);
    assert_eq!(BUCKET_BYTES, 64);
    assert_eq!(index.words.as_ptr() as usize % 64, 0);
}

/// A distinct slot per `n`, told apart by its offset.
fn item(n: u32) -> u64 {
    slot::pack(slot::tag_of(0), 0, 0, n as usize)
}

fn find(index: &Index, pair: Pair, n: u32) -> Option<SlotRef> {
    index
        .lock(pair)
        .find(slot::tag_of(0), |v| slot::offset(v) == n)
        .map(|(at, _)| at)
}

const PAIR: Pair = Pair {
    first: 2,
    second: 0,
};

#[test]
fn inserts_fill_the_emptier_bucket_then_refuse() {
    // Two buckets: every alternate is inside the pair, so nothing can move out.
    let index = Index::new(2);
    let pair = Pair {
        first: 1,
        second: 0,
    };
    for n in 0..14 {
        assert!(index.lock(pair).insert(item(n)).is_some(), "insert {n}");
    }
    assert_eq!(index.lock(pair).insert(item(99)), None, "both full");
    let mut per_bucket = [0; 2];
    index.for_each_slot(|bucket, _| per_bucket[bucket as usize] += 1);
    assert_eq!(per_bucket, [7, 7]);
    for n in 0..14 {
        assert!(find(&index, pair, n).is_some(), "find {n}");
    }
    let at = find(&index, pair, 3).unwrap();
    index.lock(pair).remove(at);
    assert!(find(&index, pair, 3).is_none());
    assert!(index.lock(pair).insert(item(100)).is_some());
}

/// A tag whose alternate of `from` is `to` in `index`.
fn tag_between(index: &Index, from: u32, to: u32) -> u16 {
    (1..4096u16)
        .find(|&tag| index.alternate(from, tag) == to)
        .expect("some tag links the two")
}

#[test]
fn alternates_are_symmetric() {
    let index = Index::new(1001);
    for tag in 1..4096u16 {
        for bucket in [0, 1, 500, 1000] {
            let alternate = index.alternate(bucket, tag);
            assert!(alternate < 1001);
            assert_eq!(index.alternate(alternate, tag), bucket);
        }
    }
}

#[test]
fn a_full_pair_moves_an_item_to_its_alternate_bucket() {
    let index = Index::new(3);
    let paired = tag_between(&index, 0, 1);
    let pair = Pair {
        first: 0,
        second: 1,
    };
    let with_tag = |tag: u16, n: u32| slot::pack(tag, 0, n, n as usize);
    // Bucket 0 holds one item that could also live in bucket 2.
    let mover = tag_between(&index, 0, 2);
    let mover_pair = Pair {
        first: 0,
        second: 2,
    };
    index.lock(mover_pair).insert(with_tag(mover, 500)).unwrap();
    for n in 0..13 {
        index.lock(pair).insert(with_tag(paired, n)).expect("room");
    }
    let at = index
        .lock(pair)
        .insert(with_tag(paired, 13))
        .expect("one item moves out");
    assert_eq!(index.lock(pair).get(at), with_tag(paired, 13));
    let mut in_two = Vec::new();
    index.for_each_slot(|bucket, value| {
        if bucket == 2 {
            in_two.push(value);
        }
    });
    assert_eq!(
        in_two,
        vec![with_tag(mover, 500)],
        "the mover went to its alternate"
    );
    assert_eq!(index.lock(pair).insert(with_tag(paired, 14)), None);
}

#[test]
fn a_pair_of_one_bucket_holds_seven() {
    let index = Index::new(1);
    let pair = Pair {
        first: 0,
        second: 0,
    };
    for n in 0..7 {
        index.lock(pair).insert(item(n)).expect("room");
    }
    assert_eq!(index.lock(pair).insert(item(7)), None);
    assert_eq!(index.holds().snapshot().count(), 8);
}

#[test]
fn pairs_spread_over_all_buckets() {
    let index = Index::new(1000);
    let mut seen = vec![0u32; 1000];
    for n in 0..100_000u64 {
        let pair = index.pair(n.wrapping_mul(0x9E37_79B9_7F4A_7C15));
        seen[pair.first as usize] += 1;
        seen[pair.second as usize] += 1;
    }
    assert!(seen.iter().all(|&count| (100..=300).contains(&count)));
}

#[test]
fn versions_move_by_two_per_hold_and_gate_try_lock() {
    let index = Index::new(3);
    let versions = (index.read_begin(2), index.read_begin(0));
    assert!(index.read_valid(2, versions.0));
    drop(index.lock(PAIR));
    assert!(!index.read_valid(2, versions.0), "a hold moves the version");
    assert!(!index.read_valid(0, versions.1));
    assert!(
        index.try_lock_at(PAIR, versions).is_none(),
        "stale versions"
    );
    let fresh = (index.read_begin(2), index.read_begin(0));
    assert_eq!(fresh, (versions.0 + 2, versions.1 + 2));
    let guard = index.try_lock_at(PAIR, fresh).expect("nothing changed");
    assert!(index.try_lock_at(PAIR, fresh).is_none(), "held");
    drop(guard);
    assert_eq!(index.read_begin(1), 0, "other buckets unaffected");
    // A failed try on the second bucket lets go of the first.
    let stale_second = (index.read_begin(2), 0);
    assert!(index.try_lock_at(PAIR, stale_second).is_none());
    assert_eq!(index.read_begin(0) % 2, 0);
    assert_eq!(index.read_begin(2) % 2, 0);
}

#[test]
fn bumps_count_up_to_the_maximum_and_lose_to_a_changed_slot() {
    let index = Index::new(3);
    let at = index.lock(PAIR).insert(item(5)).unwrap();
    for _ in 0..20 {
        let seen = index.lock(PAIR).get(at);
        index.bump_freq(at, seen);
    }
    assert_eq!(slot::freq(index.lock(PAIR).get(at)), slot::MAX_FREQ);
    index.bump_freq(at, item(7)); // not what the slot holds: no change
    assert_eq!(slot::location(index.lock(PAIR).get(at)), item(5));
}

/// A reader racing writers that fill and empty the pair's other slots never
/// accepts a read that missed a present item or saw a half-written one.
#[test]
fn validated_reads_never_miss_a_present_item() {
    use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
    let index = Index::new(3);
    let stable = item(1_000_000);
    index.lock(PAIR).insert(stable).unwrap();
    let done = AtomicBool::new(false);
    let rounds = if cfg!(miri) { 20 } else { 20_000 };
    std::thread::scope(|scope| {
        scope.spawn(|| {
            for round in 0..rounds {
                for n in 0..13 {
                    index.lock(PAIR).insert(item(round * 100 + n)).unwrap();
                }
                for n in 0..13 {
                    let at = find(&index, PAIR, round * 100 + n).unwrap();
                    index.lock(PAIR).remove(at);
                }
            }
            done.store(true, Relaxed);
        });
        scope.spawn(|| {
            // One more read once the writer is done, which always validates.
            let mut last = false;
            while !last {
                last = done.load(Relaxed);
                let versions = (index.read_begin(2), index.read_begin(0));
                let found = index.scan(2, |_, v| v == stable) || index.scan(0, |_, v| v == stable);
                let valid = index.read_valid(2, versions.0) && index.read_valid(0, versions.1);
                assert!(!valid || found, "validated read missed the item");
                assert!(!last || valid, "a read with no writer left validates");
            }
        });
    });
}
