//! Time for every protocol: "now" is the engine's clock (anchored to the wall clock
//! once, then monotonic), and each protocol's expiry forms (memcached's exptime,
//! Redis's EX/PX/EXAT/PXAT, HTTP's TTL header) become the engine's absolute
//! [`Expiry`] here.

use tailcache_storage::Expiry;

use crate::context::ServerContext;

/// Exptimes above this many seconds are absolute unix times (memcached: 30 days).
pub const RELATIVE_EXPTIME_MAX_SECS: i64 = 60 * 60 * 24 * 30;

/// Unix time now in milliseconds, on the engine's clock.
pub fn now_unix_ms(ctx: &ServerContext) -> i64 {
    i64::try_from(ctx.engine.clock().now_unix_ms()).unwrap_or(i64::MAX)
}

/// Unix time now in whole seconds, on the engine's clock.
pub fn now_unix_secs(ctx: &ServerContext) -> u32 {
    ctx.engine.now_unix_secs()
}

/// memcached's reading of an exptime at `now_unix_secs`: 0 never, negative already
/// expired, up to 30 days relative seconds, beyond that a unix time.
pub fn expiry_from_exptime(exptime: i64, now_unix_secs: u32) -> Expiry {
    let now = i64::from(now_unix_secs);
    let at = match exptime {
        0 => return Expiry::Never,
        e if e < 0 => now,
        e if e <= RELATIVE_EXPTIME_MAX_SECS => now + e,
        e => e,
    };
    // A time at or before now has passed: the store removes the key.
    Expiry::At(u32::try_from(at.max(0)).unwrap_or(u32::MAX))
}

/// A relative TTL in seconds (0 = never), as HTTP's TTL header gives it.
pub fn expiry_after_secs(ttl_secs: u64, now_unix_secs: u32) -> Expiry {
    if ttl_secs == 0 {
        return Expiry::Never;
    }
    Expiry::after_secs(now_unix_secs, u32::try_from(ttl_secs).unwrap_or(u32::MAX))
}

/// An absolute deadline in unix milliseconds. The engine keeps whole seconds: a
/// deadline is rounded up so a key never vanishes before the client asked, and a
/// deadline already passed expires at once.
pub fn expiry_from_unix_ms(deadline_unix_ms: i64, now_unix_ms: i64) -> Expiry {
    if deadline_unix_ms <= now_unix_ms {
        let now_secs = u32::try_from(now_unix_ms.max(0) / 1000).unwrap_or(u32::MAX);
        return Expiry::At(now_secs);
    }
    // deadline > now >= 0 here, so this is the ceiling of a positive number.
    let deadline_secs = (deadline_unix_ms - 1) / 1000 + 1;
    Expiry::At(u32::try_from(deadline_secs).unwrap_or(u32::MAX))
}

/// Seconds left before `expiry`: -1 for never, as memcached's `t` flag and Redis's
/// TTL say.
pub fn remaining_secs(expiry: Expiry, now_unix_secs: u32) -> i64 {
    expiry.remaining_secs(now_unix_secs).map_or(-1, i64::from)
}

/// When a `flush_all <delay>` takes effect, with memcached's reading of the number:
/// <= 0 now (`None`), up to 30 days relative, else a unix time.
pub fn flush_at(delay: i64, now_unix_secs: u32) -> Option<u32> {
    let now = i64::from(now_unix_secs);
    let at = if delay <= 0 {
        return None;
    } else if delay <= RELATIVE_EXPTIME_MAX_SECS {
        now + delay
    } else {
        delay
    };
    (at > now).then(|| u32::try_from(at).unwrap_or(u32::MAX))
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: u32 = 1_800_000_000;
    const NOW_MS: i64 = NOW as i64 * 1000;

    #[test]
    fn exptime_rules_match_memcached() {
        assert_eq!(expiry_from_exptime(0, NOW), Expiry::Never);
        assert!(expiry_from_exptime(-1, NOW).has_passed(NOW));
        assert_eq!(expiry_from_exptime(5, NOW), Expiry::At(NOW + 5));
        let thirty_days = RELATIVE_EXPTIME_MAX_SECS;
        assert_eq!(
            expiry_from_exptime(thirty_days, NOW),
            Expiry::At(NOW + thirty_days as u32)
        );
        // Just over 30 days is an absolute time, here long past.
        assert!(expiry_from_exptime(thirty_days + 1, NOW).has_passed(NOW));
        assert_eq!(
            expiry_from_exptime(NOW as i64 + 10, NOW),
            Expiry::At(NOW + 10)
        );
        assert!(expiry_from_exptime(NOW as i64, NOW).has_passed(NOW));
        assert_eq!(expiry_from_exptime(i64::MAX, NOW), Expiry::At(u32::MAX));
        assert!(expiry_from_exptime(i64::MIN, NOW).has_passed(NOW));
    }

    #[test]
    fn remaining_is_minus_one_for_never() {
        assert_eq!(remaining_secs(Expiry::Never, 5), -1);
        assert_eq!(remaining_secs(Expiry::At(15), 5), 10);
        assert_eq!(remaining_secs(Expiry::At(3), 5), 0);
    }

    #[test]
    fn deadlines_round_up_and_past_ones_expire() {
        assert!(expiry_from_unix_ms(NOW_MS - 1, NOW_MS).has_passed(NOW));
        assert!(expiry_from_unix_ms(NOW_MS, NOW_MS).has_passed(NOW));
        assert_eq!(expiry_from_unix_ms(NOW_MS + 1, NOW_MS), Expiry::At(NOW + 1));
        assert_eq!(
            expiry_from_unix_ms(NOW_MS + 1500, NOW_MS),
            Expiry::At(NOW + 2)
        );
    }

    #[test]
    fn flush_delay_reads_like_memcached() {
        assert_eq!(flush_at(-5, 100), None);
        assert_eq!(flush_at(0, 100), None);
        assert_eq!(flush_at(10, 100), Some(110));
        assert_eq!(flush_at(i64::from(NOW) + 7, NOW), Some(NOW + 7));
        assert_eq!(flush_at(i64::from(NOW) - 7, NOW), None);
    }

    #[test]
    fn relative_ttls_never_overflow() {
        assert_eq!(expiry_after_secs(0, NOW), Expiry::Never);
        assert_eq!(expiry_after_secs(60, NOW), Expiry::At(NOW + 60));
        assert_eq!(expiry_after_secs(u64::MAX, NOW), Expiry::At(u32::MAX));
    }
}
