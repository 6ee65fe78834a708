//! memcached exptime rules and the TTL buckets that group items by lifetime.
//!
//! An item's exact expiry (whole unix seconds) is stored in its header and checked on
//! every read, so grouping never changes when an item disappears: an item with a 5 s
//! TTL set at second `t` is served through second `t + 4` and gone from `t + 5`, as in
//! memcached (expired when `expiry <= now`). The TTL bucket only decides which
//! segment the item is appended to, so that a segment's items expire close together
//! and the whole segment can be dropped once its latest expiry has passed.

/// Exptimes above this many seconds are absolute unix times (memcached: 30 days).
pub const RELATIVE_EXPTIME_MAX_SECS: i64 = 60 * 60 * 24 * 30;

/// Number of TTL buckets per shard. Bucket 0 holds items that never expire.
pub const TTL_BUCKET_COUNT: usize = 1024;

/// When an item set with this exptime expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// Never expires (exptime 0).
    Never,
    /// Expires at this unix second (gone when `now >= at`).
    At(u32),
    /// Already expired (negative exptime, or an absolute time in the past).
    Expired,
}

impl Expiry {
    /// Applies memcached's exptime rules at `now_unix_secs`.
    pub fn from_exptime(exptime: i64, now_unix_secs: u32) -> Expiry {
        let at = match exptime {
            0 => return Expiry::Never,
            e if e < 0 => return Expiry::Expired,
            e if e <= RELATIVE_EXPTIME_MAX_SECS => now_unix_secs as i64 + e,
            e => e,
        };
        if at <= now_unix_secs as i64 {
            Expiry::Expired
        } else {
            Expiry::At(u32::try_from(at).unwrap_or(u32::MAX))
        }
    }

    /// The stored form: 0 = never.
    pub fn unix_secs(self) -> u32 {
        match self {
            Expiry::Never => 0,
            Expiry::At(at) => at,
            Expiry::Expired => 1,
        }
    }
}

/// Whether a stored expiry (0 = never) has passed at `now_unix_secs`.
pub fn has_expired(expiry_unix_secs: u32, now_unix_secs: u32) -> bool {
    expiry_unix_secs != 0 && expiry_unix_secs <= now_unix_secs
}

/// The TTL bucket for an item expiring at `expiry_unix_secs` (0 = never), as Segcache
/// groups them: 8 s wide below 2048 s, 128 s below 32768 s, 2048 s below 524288 s,
/// 32768 s beyond (the last bucket takes everything longer).
pub fn ttl_bucket(expiry_unix_secs: u32, now_unix_secs: u32) -> u16 {
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
            return bucket.min(TTL_BUCKET_COUNT - 1) as u16;
        }
        base += (limit - previous_limit) >> shift;
        previous_limit = limit;
    }
    (TTL_BUCKET_COUNT - 1) as u16
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u32 = 1_800_000_000;

    #[test]
    fn exptime_rules_match_memcached() {
        assert_eq!(Expiry::from_exptime(0, NOW), Expiry::Never);
        assert_eq!(Expiry::from_exptime(-1, NOW), Expiry::Expired);
        assert_eq!(Expiry::from_exptime(5, NOW), Expiry::At(NOW + 5));
        let thirty_days = RELATIVE_EXPTIME_MAX_SECS;
        assert_eq!(
            Expiry::from_exptime(thirty_days, NOW),
            Expiry::At(NOW + thirty_days as u32)
        );
        // Just over 30 days is an absolute time, here long past.
        assert_eq!(Expiry::from_exptime(thirty_days + 1, NOW), Expiry::Expired);
        assert_eq!(
            Expiry::from_exptime(NOW as i64 + 10, NOW),
            Expiry::At(NOW + 10)
        );
        assert_eq!(Expiry::from_exptime(NOW as i64, NOW), Expiry::Expired);
        assert_eq!(Expiry::from_exptime(i64::MAX, NOW), Expiry::At(u32::MAX));
        assert_eq!(Expiry::from_exptime(i64::MIN, NOW), Expiry::Expired);
    }

    #[test]
    fn expiry_is_exact_to_the_second() {
        let at = Expiry::from_exptime(5, NOW).unix_secs();
        assert!(!has_expired(at, NOW + 4));
        assert!(has_expired(at, NOW + 5));
        assert!(!has_expired(0, u32::MAX));
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
        assert_eq!(ttl_bucket(u32::MAX, NOW), (TTL_BUCKET_COUNT - 1) as u16);
    }
}
