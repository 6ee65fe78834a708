//! memcached's protocols: classic text, meta and binary commands, stats,
//! the LRU crawler's commands, and ascii authentication.

pub(super) mod auth;
pub(super) mod binary;
pub(super) mod classic;
pub(super) mod conn;
pub(crate) mod crawler;
pub(super) mod meta;
pub(super) mod meta_arith;
pub(super) mod meta_flags;
pub(super) mod meta_get;
pub(super) mod meta_write;
pub(super) mod stats;
pub(super) mod stats_general;
