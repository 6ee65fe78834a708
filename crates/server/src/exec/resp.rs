//! Redis's RESP: key commands, counters, multi-key commands, connection
//! commands, CONFIG, INFO and AUTH.

pub(super) mod auth;
pub(super) mod commands;
pub(super) mod config;
pub(super) mod conn;
pub(super) mod counter;
pub(super) mod info;
pub(super) mod multikey;
