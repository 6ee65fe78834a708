//! memcache protocol (in progress).
