//! tailcache storage crate.
