//! What callers learn about an item, and what they may ask a write to do.

/// An item's metadata, returned by reads and some writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ItemMeta {
    /// The 32-bit client flags given at set time.
    pub client_flags: u32,
    /// The item's CAS value (0 when CAS is disabled).
    pub cas: u64,
    /// Absolute expiry in unix seconds; 0 means never.
    pub expiry_unix_secs: u32,
    /// Length of the value in bytes.
    pub value_len: usize,
    /// Whether the item was read before this read (memcached meta `h`).
    pub hit_before: bool,
    /// Whether the item was marked stale (meta invalidation).
    pub stale: bool,
    /// Whether a win token was issued for the item (meta `W`/`Z`).
    pub win_token_issued: bool,
}

/// How a store treats an existing item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreMode {
    /// Store unconditionally.
    Set,
    /// Store only if the key is absent (else [`crate::CacheError::NotStored`]).
    Add,
    /// Store only if the key is present (else [`crate::CacheError::NotStored`]).
    Replace,
    /// Append to the existing value, keeping its flags and expiry.
    Append,
    /// Prepend to the existing value, keeping its flags and expiry.
    Prepend,
    /// Store only if the item's CAS still equals this value
    /// (else [`crate::CacheError::Exists`], or [`crate::CacheError::NotFound`] when absent).
    Cas(u64),
}

/// Options of a store; `Default` is flags 0, never expires.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreOptions {
    /// Client flags (ignored by append/prepend, which keep the old ones).
    pub client_flags: u32,
    /// memcached exptime: 0 never, < 0 expired, <= 30 days relative seconds, else unix time.
    pub exptime: i64,
    /// Keep the existing item's expiry instead of `exptime` (Redis `KEEPTTL`).
    pub keep_ttl: bool,
    /// Use this as the new CAS value instead of a fresh one (meta `E`).
    pub new_cas: Option<u64>,
    /// Mark the stored item stale (meta `I` on ms).
    pub stale: bool,
}

/// Changes to an item's meta bits; `None` leaves a bit as it is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MetaBitsUpdate {
    /// Set or clear the stale bit.
    pub stale: Option<bool>,
    /// Set or clear the win-token-issued bit.
    pub win_token_issued: Option<bool>,
}

/// How much work one [`crate::Cache::maintenance_step`] may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepBudget {
    /// Most segments to reclaim or evict in this step.
    pub max_segments: usize,
}

/// What one maintenance step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    /// Segments whose items had all expired (or been flushed) and were reclaimed.
    pub segments_expired: usize,
    /// Segments evicted ahead of demand to keep the free watermark.
    pub segments_evicted: usize,
    /// Whether more work is waiting (call again soon).
    pub more_work: bool,
}
