//! INCR/DECR/INCRBY/DECRBY with Redis's semantics (signed 64-bit, an absent
//! key counts as 0, overflow is an error) over the engine's CAS, so two
//! clients incrementing at once never lose an update.

use tailcache_protocol::number::{parse_redis_i64, Decimal, MAX_DECIMAL_BYTES};
use tailcache_protocol::resp::ServerError;
use tailcache_storage::{CacheError, StoreMode, StoreOptions};

use super::commands::{storage_error, Failure};
use crate::context::ServerContext;
use crate::observability::metrics::Counter;

/// Read-modify-write rounds before giving up under heavy contention.
const MAX_CAS_ROUNDS: usize = 64;

/// Adds `delta` to the integer at `key`; returns the new value.
pub fn incr_by(ctx: &ServerContext, key: &[u8], delta: i64) -> Result<i64, Failure> {
    for _ in 0..MAX_CAS_ROUNDS {
        let mut current = Vec::with_capacity(MAX_DECIMAL_BYTES);
        let read = ctx.engine.get_into(key, &mut current);
        let (old, mode, compare_cas) = match read {
            Ok(Some(_)) if current.len() > MAX_DECIMAL_BYTES => {
                return Err(Failure::Server(ServerError::ValueNotInteger))
            }
            Ok(Some(meta)) => (
                parse_redis_i64(&current).ok_or(Failure::Server(ServerError::ValueNotInteger))?,
                StoreMode::Set,
                Some(meta.cas),
            ),
            Ok(None) => (0, StoreMode::Add, None),
            Err(error) => return Err(storage_error(error)),
        };
        let new = old
            .checked_add(delta)
            .ok_or(Failure::Server(ServerError::IncrementOverflow))?;
        let text = Decimal::from_i64(new);
        let options = StoreOptions {
            keep_ttl: true,
            compare_cas,
            ..StoreOptions::default()
        };
        match ctx.engine.store(mode, key, text.as_bytes(), options) {
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
