//! What callers learn about an item, and what they may ask an operation to do.
//!
//! Each operation is one engine call that decides and writes under one hold of the
//! key's buckets, so compound requests (compare-and-increment, get-and-claim a win
//! token, invalidate-and-touch) never race another client between their steps.

use crate::Expiry;

/// An item's metadata, returned by reads and writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ItemMeta {
    /// The 32-bit client flags given at set time.
    pub client_flags: u32,
    /// The item's CAS value (0 when CAS is disabled).
    pub cas: u64,
    /// When the item expires.
    pub expiry: Expiry,
    /// Length of the value in bytes.
    pub value_len: usize,
    /// Whether the item had been read before this operation (memcached meta `h`).
    pub hit_before: bool,
    /// Whether the item is marked stale (meta invalidation, `X`).
    pub stale: bool,
    /// Whether a win token has been handed out for the item (meta `W`, later `Z`).
    pub win_token_sent: bool,
    /// When the item was last accessed (unix seconds; memcached's item time, meta
    /// `l`): set when it is written and on its second read, as memcached's segmented
    /// LRU does. To the second, and coarse past 18 hours after its segment opened.
    pub last_access_unix_secs: u32,
    /// The item was stored with a base64 key (meta `b`; see [`StoreOptions`]).
    pub key_binary: bool,
}

/// How a store treats an existing item.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreMode {
    /// Store unconditionally (with `compare_cas`: only over that version, memcached `cas`).
    Set,
    /// Store only if the key is absent (else [`crate::CacheError::NotStored`]).
    Add,
    /// Store only if the key is present (with `compare_cas`: as `Set` with it).
    Replace,
    /// Append to the existing value, keeping its flags and expiry.
    Append,
    /// Prepend to the existing value, keeping its flags and expiry.
    Prepend,
}

/// Options of a store; `Default` is flags 0, never expires, no conditions.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreOptions {
    /// Client flags (append/prepend keep the old ones).
    pub client_flags: u32,
    /// When the item expires (append/prepend keep the old expiry). An expiry that has
    /// passed stores nothing and removes the key once the store's condition holds.
    pub expiry: Expiry,
    /// Keep the existing item's expiry instead of `expiry` (Redis `KEEPTTL`).
    pub keep_ttl: bool,
    /// Store only over the version with this CAS: a present item with another CAS
    /// gives [`crate::CacheError::Exists`], an absent one
    /// [`crate::CacheError::NotFound`] (for `Set`/`Replace`), as memcached's `cas`.
    pub compare_cas: Option<u64>,
    /// With `compare_cas` (meta `ms I`): a CAS older than the item's still stores,
    /// marked stale, keeping the item's expiry and win-token state.
    pub stale_if_older: bool,
    /// The new item's CAS, instead of a fresh one (meta `E`).
    pub new_cas: Option<u64>,
    /// Append/prepend on a missing key creates it with this expiry (meta `ms MA N`
    /// in later memcached versions; 1.6.18 parses `N` on ms but never vivifies, so
    /// the server leaves this off).
    pub vivify_on_miss: Option<Expiry>,
    /// The key was given in base64 (meta `ms … b`): the item remembers it, as
    /// memcached does, except through append and prepend.
    pub key_binary: bool,
}

/// Options of a read; `Default` is a plain read that counts as a hit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReadOptions {
    /// Give a found item this expiry (memcached `gat`, meta `T`).
    pub touch: Option<Expiry>,
    /// On a miss, create an empty item with this expiry and hand this reader its win
    /// token (meta `N`).
    pub vivify_on_miss: Option<Expiry>,
    /// Win the token when the item's expiry is before this unix second (meta `R`).
    pub recache_before_unix_secs: Option<u32>,
    /// Take part in win tokens: a stale item's first such reader wins (meta `mg`), and
    /// a vivifying reader gets the new item's token. Without it, vivify creates the
    /// item and hands out no token.
    pub win_tokens: bool,
    /// Compare `recache_before_unix_secs` with the expiry `touch` sets, not the old
    /// one (meta `mg … T… R…`: memcached applies the flags in order).
    pub recache_after_touch: bool,
    /// Do not mark the item read (meta `u`).
    pub no_bump: bool,
}

/// What a read found and did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ReadOutcome {
    /// The item after the read (expiry after a touch, token after a win); `hit_before`
    /// is as it was before.
    pub meta: ItemMeta,
    /// Its expiry before the read (for a meta `t` that precedes `T`).
    pub expiry_before: Expiry,
    /// The item was created by this read (`vivify_on_miss`).
    pub created: bool,
    /// This reader won the token (meta `W`).
    pub won: bool,
    /// Another reader had already won it (meta `Z`).
    pub token_already_sent: bool,
}

/// Options of a delete; `Default` removes the item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct DeleteOptions {
    /// Only if the item's CAS is this (else [`crate::CacheError::Exists`]).
    pub compare_cas: Option<u64>,
    /// Keep the item, marked stale with a new CAS and its win token cleared (meta `I`).
    pub invalidate: bool,
    /// With `invalidate`: also give it this expiry (meta `T`).
    pub invalidate_expiry: Option<Expiry>,
    /// Keep the item with an empty value (meta `x`).
    pub drop_value: bool,
    /// The CAS the kept item gets, instead of a fresh one (meta `E`).
    pub new_cas: Option<u64>,
}

/// An increment or decrement of a decimal u64 value.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Arithmetic {
    /// Amount to add or subtract.
    pub delta: u64,
    /// Subtract (stopping at 0) instead of add (wrapping at 2^64).
    pub decrement: bool,
    /// Only if the item's CAS is this (else [`crate::CacheError::Exists`]).
    pub compare_cas: Option<u64>,
    /// On a miss, create the item with this value and expiry (meta `N`, `J`); the
    /// delta is not applied, as in memcached.
    pub vivify: Option<(u64, Expiry)>,
    /// On success, give an existing item this expiry (meta `T`).
    pub touch: Option<Expiry>,
    /// The new item's CAS, instead of a fresh one (meta `E`).
    pub new_cas: Option<u64>,
}

/// What an increment or decrement did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct ArithOutcome {
    /// The value now stored.
    pub value: u64,
    /// The item as stored.
    pub meta: ItemMeta,
    /// The item's expiry before the operation (for a meta `t` that precedes `T`).
    pub expiry_before: Expiry,
    /// The item was created by `vivify`.
    pub created: bool,
}

/// How much work one [`crate::Cache::maintenance_step`] may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StepBudget {
    /// Most items to visit (unlink, drop or move), each under its own short hold of
    /// its buckets; scanning a TTL bucket or a segment's state counts as one.
    pub max_items: usize,
}

/// What one maintenance step did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Progress {
    /// Items (and scan positions) visited.
    pub items_visited: usize,
    /// Segments reclaimed because their items all expired or were flushed.
    pub segments_expired: usize,
    /// Segments freed by eviction (merge or drop).
    pub segments_evicted: usize,
    /// Whether more work is waiting (call again soon).
    pub more_work: bool,
    /// Writes have been freeing memory themselves since the last step and the pool is
    /// still empty: background work should take more time now rather than less.
    pub urgent: bool,
}
