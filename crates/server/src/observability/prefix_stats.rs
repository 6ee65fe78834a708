//! memcached's per-prefix statistics (`stats detail on|off|dump`): gets,
//! hits, sets and deletes counted by the part of the key before the prefix
//! delimiter (`-D`, default `:`). Off by default; when off a request pays one
//! relaxed load. At most [`MAX_PREFIXES`] prefixes are kept (memcached keeps
//! any number): a key with a new prefix past that is not counted, and
//! `prefixes_dropped` in `stats tailcache` says how many were not.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Mutex;

/// Most distinct prefixes kept, so that random keys cannot grow the table
/// without bound.
pub const MAX_PREFIXES: usize = 10_000;

/// One prefix's counts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Counts {
    gets: u64,
    hits: u64,
    sets: u64,
    deletes: u64,
}

/// The per-prefix table and its switch.
#[derive(Debug)]
pub struct PrefixStats {
    delimiter: u8,
    enabled: AtomicBool,
    table: Mutex<HashMap<Vec<u8>, Counts>>,
    dropped: AtomicU64,
}

impl PrefixStats {
    /// An empty, switched-off table splitting keys at `delimiter`.
    pub fn new(delimiter: u8) -> Self {
        PrefixStats {
            delimiter,
            enabled: AtomicBool::new(false),
            table: Mutex::new(HashMap::new()),
            dropped: AtomicU64::new(0),
        }
    }

    /// The delimiter (memcached's `stat_key_prefix`).
    pub fn delimiter(&self) -> u8 {
        self.delimiter
    }

    /// `stats detail on|off`.
    pub fn set_enabled(&self, enabled: bool) {
        self.enabled.store(enabled, Ordering::Relaxed);
    }

    /// Whether counting is on.
    pub fn enabled(&self) -> bool {
        self.enabled.load(Ordering::Relaxed)
    }

    /// A get of `key` (a hit or not).
    pub fn record_get(&self, key: &[u8], hit: bool) {
        self.record(key, |counts| {
            counts.gets += 1;
            counts.hits += u64::from(hit);
        });
    }

    /// A storage command on `key`, whatever its outcome (as memcached counts).
    pub fn record_set(&self, key: &[u8]) {
        self.record(key, |counts| counts.sets += 1);
    }

    /// A delete of `key`, found or not.
    pub fn record_delete(&self, key: &[u8]) {
        self.record(key, |counts| counts.deletes += 1);
    }

    fn record(&self, key: &[u8], update: impl FnOnce(&mut Counts)) {
        if !self.enabled() {
            return;
        }
        let Some(end) = key.iter().position(|&b| b == self.delimiter) else {
            return;
        };
        let prefix = &key[..end];
        let mut table = self.table.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(counts) = table.get_mut(prefix) {
            update(counts);
        } else if table.len() < MAX_PREFIXES {
            update(table.entry(prefix.to_vec()).or_default());
        } else {
            self.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Prefixes that were not counted because the table was full.
    pub fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// `stats reset`: forget every prefix (the switch stays as it is).
    pub fn clear(&self) {
        self.table.lock().unwrap_or_else(|p| p.into_inner()).clear();
        self.dropped.store(0, Ordering::Relaxed);
    }

    /// `stats detail dump`: one `PREFIX` line per prefix, sorted, then `END`.
    pub fn dump(&self, out: &mut Vec<u8>) {
        let mut rows: Vec<(Vec<u8>, Counts)> = self
            .table
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .iter()
            .map(|(prefix, counts)| (prefix.clone(), *counts))
            .collect();
        rows.sort_by(|a, b| a.0.cmp(&b.0));
        for (prefix, c) in rows {
            out.extend_from_slice(b"PREFIX ");
            out.extend_from_slice(&prefix);
            out.extend_from_slice(
                format!(
                    " get {} hit {} set {} del {}\r\n",
                    c.gets, c.hits, c.sets, c.deletes
                )
                .as_bytes(),
            );
        }
        out.extend_from_slice(b"END\r\n");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dump(stats: &PrefixStats) -> String {
        let mut out = Vec::new();
        stats.dump(&mut out);
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn counts_by_prefix_only_when_on() {
        let stats = PrefixStats::new(b':');
        stats.record_set(b"foo:1");
        assert_eq!(dump(&stats), "END\r\n");
        stats.set_enabled(true);
        stats.record_set(b"foo:1");
        stats.record_get(b"foo:1", true);
        stats.record_get(b"foo:2", false);
        stats.record_delete(b"bar:9");
        stats.record_get(b"nodelimiter", true);
        assert_eq!(
            dump(&stats),
            "PREFIX bar get 0 hit 0 set 0 del 1\r\nPREFIX foo get 2 hit 1 set 1 del 0\r\nEND\r\n"
        );
        stats.set_enabled(false);
        stats.record_get(b"foo:1", true);
        assert!(dump(&stats).contains("PREFIX foo get 2 "));
        stats.clear();
        assert_eq!(dump(&stats), "END\r\n");
    }

    #[test]
    fn the_table_is_bounded() {
        let stats = PrefixStats::new(b':');
        stats.set_enabled(true);
        for n in 0..MAX_PREFIXES + 5 {
            stats.record_set(format!("p{n}:k").as_bytes());
        }
        assert_eq!(stats.dropped(), 5);
        stats.record_set(b"p0:again");
        assert_eq!(stats.dropped(), 5, "a known prefix is still counted");
        assert_eq!(dump(&stats).lines().count(), MAX_PREFIXES + 1);
    }
}
