//! INCR/DECR/INCRBY/DECRBY with Redis's semantics (signed 64-bit, an absent
//! key counts as 0, overflow is an error) over the engine's CAS, so two
//! clients incrementing at once never lose an update.

use tailcache_protocol::resp::ServerError;
use tailcache_storage::{CacheError, StoreMode, StoreOptions};

use super::resp_exec::{storage_error, Failure};
use crate::context::ServerContext;
use crate::metrics::Counter;

/// Read-modify-write rounds before giving up under heavy contention.
const MAX_CAS_ROUNDS: usize = 64;
/// Longest decimal i64 ("-9223372036854775808").
const MAX_I64_DIGITS: usize = 20;

/// Adds `delta` to the integer at `key`; returns the new value.
pub fn incr_by(ctx: &ServerContext, key: &[u8], delta: i64) -> Result<i64, Failure> {
    for _ in 0..MAX_CAS_ROUNDS {
        let mut current = [0u8; MAX_I64_DIGITS];
        let read = ctx.engine.get_with(key, |value, meta| {
            let len = value.len().min(MAX_I64_DIGITS + 1);
            current[..len.min(MAX_I64_DIGITS)].copy_from_slice(&value[..len.min(MAX_I64_DIGITS)]);
            (len, meta.cas)
        });
        let (old, mode) = match read {
            Ok(Some((len, _))) if len > MAX_I64_DIGITS => {
                return Err(Failure::Server(ServerError::ValueNotInteger))
            }
            Ok(Some((len, cas))) => (
                parse_redis_i64(&current[..len])
                    .ok_or(Failure::Server(ServerError::ValueNotInteger))?,
                StoreMode::Cas(cas),
            ),
            Ok(None) => (0, StoreMode::Add),
            Err(error) => return Err(storage_error(error)),
        };
        let new = old
            .checked_add(delta)
            .ok_or(Failure::Server(ServerError::IncrementOverflow))?;
        let mut digits = itoa_buffer();
        let text = format_i64(new, &mut digits);
        let options = StoreOptions {
            keep_ttl: true,
            ..StoreOptions::default()
        };
        match ctx.engine.store(mode, key, text, options) {
            Ok(_) => {
                ctx.metrics.incr(if delta >= 0 {
                    Counter::IncrHits
                } else {
                    Counter::DecrHits
                });
                return Ok(new);
            }
            Err(CacheError::Exists | CacheError::NotStored | CacheError::NotFound) => continue,
            Err(error) => return Err(storage_error(error)),
        }
    }
    Err(Failure::Server(ServerError::OutOfMemory))
}

fn itoa_buffer() -> [u8; MAX_I64_DIGITS] {
    [0; MAX_I64_DIGITS]
}

/// `value` in decimal, written into the end of `buffer`.
fn format_i64(value: i64, buffer: &mut [u8; MAX_I64_DIGITS]) -> &[u8] {
    let mut magnitude = value.unsigned_abs();
    let mut start = buffer.len();
    loop {
        start -= 1;
        buffer[start] = b'0' + (magnitude % 10) as u8;
        magnitude /= 10;
        if magnitude == 0 {
            break;
        }
    }
    if value < 0 {
        start -= 1;
        buffer[start] = b'-';
    }
    &buffer[start..]
}

/// Redis's `string2ll`: optional `-`, no `+`, no spaces, no leading zeros.
fn parse_redis_i64(text: &[u8]) -> Option<i64> {
    let (negative, digits) = match text.split_first()? {
        (b'-', rest) => (true, rest),
        _ => (false, text),
    };
    let valid_start = digits.first().is_some_and(|&d| d != b'0') || digits == b"0" && !negative;
    if !valid_start || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let magnitude = std::str::from_utf8(digits).ok()?.parse::<u64>().ok()?;
    if negative {
        0i64.checked_sub_unsigned(magnitude)
            .or((magnitude == 1 << 63).then_some(i64::MIN))
    } else {
        i64::try_from(magnitude).ok()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_redis() {
        assert_eq!(parse_redis_i64(b"0"), Some(0));
        assert_eq!(parse_redis_i64(b"-12"), Some(-12));
        assert_eq!(parse_redis_i64(b"9223372036854775807"), Some(i64::MAX));
        assert_eq!(parse_redis_i64(b"-9223372036854775808"), Some(i64::MIN));
        for bad in [
            &b""[..],
            b"-",
            b"-0",
            b"01",
            b"+1",
            b" 1",
            b"1x",
            b"9223372036854775808",
        ] {
            assert_eq!(parse_redis_i64(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn formats_every_sign_and_extreme() {
        for value in [0, 7, -7, 1234567890, i64::MAX, i64::MIN] {
            let mut buffer = itoa_buffer();
            assert_eq!(format_i64(value, &mut buffer), value.to_string().as_bytes());
        }
    }
}
