//! Time conversions between the protocols' expiry forms and memcached's
//! exptime, which is what the engine takes.

use std::time::{SystemTime, UNIX_EPOCH};

use tailcache_storage::RELATIVE_EXPTIME_MAX_SECS;

/// Unix time now in milliseconds (the engine runs on the system clock).
pub fn now_unix_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
        .unwrap_or(0)
}

/// Unix time now in whole seconds.
pub fn now_unix_secs() -> i64 {
    now_unix_ms() / 1000
}

/// Seconds an item expiring at `expiry_unix_secs` (0 = never) has left:
/// -1 for never, as memcached's `t` flag and Redis's TTL say.
pub fn remaining_secs(expiry_unix_secs: u32, now_unix_secs: i64) -> i64 {
    if expiry_unix_secs == 0 {
        return -1;
    }
    (i64::from(expiry_unix_secs) - now_unix_secs).max(0)
}

/// memcached exptime for an absolute unix time in milliseconds. The engine
/// keeps whole seconds: a deadline is rounded up so a key never vanishes
/// before the client asked, and a deadline already passed expires at once.
pub fn exptime_from_unix_ms(deadline_unix_ms: i64, now_unix_ms: i64) -> i64 {
    if deadline_unix_ms <= now_unix_ms {
        return -1;
    }
    // deadline > now >= 0 here, so this is the ceiling of a positive number.
    let deadline_secs = (deadline_unix_ms - 1) / 1000 + 1;
    let relative_secs = deadline_secs - now_unix_ms / 1000;
    if relative_secs <= RELATIVE_EXPTIME_MAX_SECS {
        relative_secs.max(1)
    } else {
        deadline_secs
    }
}

/// Seconds from now a `flush_all <delay>` takes effect, with memcached's
/// reading of the number: <= 0 now, up to 30 days relative, else a unix time.
pub fn flush_delay_secs(delay: i64, now_unix_secs: i64) -> u32 {
    let relative = if delay <= 0 {
        0
    } else if delay <= RELATIVE_EXPTIME_MAX_SECS {
        delay
    } else {
        delay.saturating_sub(now_unix_secs).max(0)
    };
    u32::try_from(relative).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW_MS: i64 = 1_800_000_000_000;

    #[test]
    fn remaining_is_minus_one_for_never() {
        assert_eq!(remaining_secs(0, 5), -1);
        assert_eq!(remaining_secs(15, 5), 10);
        assert_eq!(remaining_secs(3, 5), 0);
    }

    #[test]
    fn deadlines_round_up_and_past_ones_expire() {
        assert_eq!(exptime_from_unix_ms(NOW_MS - 1, NOW_MS), -1);
        assert_eq!(exptime_from_unix_ms(NOW_MS, NOW_MS), -1);
        assert_eq!(exptime_from_unix_ms(NOW_MS + 1, NOW_MS), 1);
        assert_eq!(exptime_from_unix_ms(NOW_MS + 1500, NOW_MS), 2);
        let far = NOW_MS + (RELATIVE_EXPTIME_MAX_SECS + 10) * 1000;
        assert_eq!(exptime_from_unix_ms(far, NOW_MS), far / 1000);
    }

    #[test]
    fn flush_delay_reads_like_memcached() {
        assert_eq!(flush_delay_secs(-5, 100), 0);
        assert_eq!(flush_delay_secs(0, 100), 0);
        assert_eq!(flush_delay_secs(10, 100), 10);
        let now = 1_800_000_000;
        assert_eq!(flush_delay_secs(now + 7, now), 7);
        assert_eq!(flush_delay_secs(now - 7, now), 0);
    }
}
