//! tailcache runtime crate.
