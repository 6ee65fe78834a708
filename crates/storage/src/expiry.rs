//! When items stop being served, and the TTL buckets that group items by lifetime.
//!
//! The engine takes absolute expiry only ([`Expiry`]); each protocol turns its own
//! forms (memcached's exptime, Redis's EX/PX/EXAT) into one with the engine's clock.
//! An item's exact expiry (whole unix seconds) is stored in its header and checked on
//! every read, so grouping never changes when an item disappears: an item expiring at
//! second `t` is served through second `t - 1` and gone from `t` on. The TTL bucket
//! only decides which segments the item is appended to, so that a segment's items
//! expire close together and the whole segment can be dropped once its latest expiry
//! has passed.

/// When an item stops being served.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Expiry {
    /// Never.
    #[default]
    Never,
    /// At this unix second on the engine clock's timeline: served while `now < t`.
    /// A time not after now means already expired (a store then only removes the key).
    At(u32),
}

impl Expiry {
    /// The expiry `secs` seconds after `now_unix_secs`.
    pub fn after_secs(now_unix_secs: u32, secs: u32) -> Expiry {
        Expiry::At(now_unix_secs.saturating_add(secs))
    }

    /// Whether this expiry has passed at `now_unix_secs`.
    pub fn has_passed(self, now_unix_secs: u32) -> bool {
        matches!(self, Expiry::At(at) if at <= now_unix_secs)
    }

    /// Seconds left at `now_unix_secs` (0 once passed); `None` for never.
    pub fn remaining_secs(self, now_unix_secs: u32) -> Option<u32> {
        match self {
            Expiry::Never => None,
            Expiry::At(at) => Some(at.saturating_sub(now_unix_secs)),
        }
    }

    /// The form kept in item headers: 0 = never. Callers store only expiries that
    /// have not passed, which are never 0.
    pub(crate) fn stored(self) -> u32 {
        match self {
            Expiry::Never => 0,
            Expiry::At(at) => at,
        }
    }

    /// Reads the form kept in item headers.
    pub(crate) fn from_stored(unix_secs: u32) -> Expiry {
        match unix_secs {
            0 => Expiry::Never,
            at => Expiry::At(at),
        }
    }
}

/// Whether a stored expiry (0 = never) has passed at `now_unix_secs`.
pub(crate) fn has_expired(expiry_unix_secs: u32, now_unix_secs: u32) -> bool {
    expiry_unix_secs != 0 && expiry_unix_secs <= now_unix_secs
}

/// Number of TTL buckets. Bucket 0 holds items that never expire.
pub(crate) const TTL_BUCKET_COUNT: usize = 1024;

/// The TTL bucket for an item expiring at `expiry_unix_secs` (0 = never), as Segcache
/// groups them: 8 s wide below 2048 s, 128 s below 32768 s, 2048 s below 524288 s,
/// 32768 s beyond (the last bucket takes everything longer).
pub(crate) fn ttl_bucket(expiry_unix_secs: u32, now_unix_secs: u32) -> u32 {
    if expiry_unix_secs == 0 {
        return 0;
    }
    let ttl = expiry_unix_secs.saturating_sub(now_unix_secs).max(1) as usize;
    const STEPS: [(usize, u32); 4] = [(2048, 3), (32768, 7), (524288, 11), (usize::MAX, 15)];
    let mut base = 0;
    let mut previous_limit = 0;
    for (limit, shift) in STEPS {
        if ttl < limit {
            let bucket = 1 + base + ((ttl - previous_limit) >> shift);
            return bucket.min(TTL_BUCKET_COUNT - 1) as u32;
        }
        base += (limit - previous_limit) >> shift;
        previous_limit = limit;
    }
    (TTL_BUCKET_COUNT - 1) as u32
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u32 = 1_800_000_000;

    #[test]
    fn expiry_is_exact_to_the_second() {
        let at = Expiry::after_secs(NOW, 5);
        assert!(!at.has_passed(NOW + 4));
        assert!(at.has_passed(NOW + 5));
        assert!(!has_expired(at.stored(), NOW + 4));
        assert!(has_expired(at.stored(), NOW + 5));
        assert!(!has_expired(0, u32::MAX));
        assert!(!Expiry::Never.has_passed(u32::MAX));
        assert_eq!(at.remaining_secs(NOW + 2), Some(3));
        assert_eq!(at.remaining_secs(NOW + 9), Some(0));
        assert_eq!(Expiry::Never.remaining_secs(NOW), None);
        assert_eq!(Expiry::from_stored(at.stored()), at);
        assert_eq!(Expiry::from_stored(0), Expiry::Never);
    }

    #[test]
    fn buckets_are_monotonic_and_in_range() {
        let mut previous = 0;
        for ttl in (1..3_000_000u32).step_by(97) {
            let bucket = ttl_bucket(NOW + ttl, NOW);
            assert!(bucket >= previous && (bucket as usize) < TTL_BUCKET_COUNT);
            previous = bucket;
        }
        assert_eq!(ttl_bucket(0, NOW), 0);
        assert_eq!(ttl_bucket(NOW + 1, NOW), 1);
        assert_eq!(ttl_bucket(u32::MAX, NOW), (TTL_BUCKET_COUNT - 1) as u32);
    }
}
