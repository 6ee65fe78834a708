//! Command-line flags: memcached's where they mean the same, plus our own.
//! Every field is optional so that an absent flag leaves the TOML value.

use std::path::PathBuf;

use clap::{ArgAction, Parser, ValueEnum};

use crate::startup::size::parse_size;

/// Eviction policy names on the command line and in TOML.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum EvictionName {
    /// Merge-based (Segcache's default).
    Merge,
    /// Oldest segment first.
    Fifo,
    /// A random segment.
    Random,
    /// Never evict; writes fail when full (memcached -M).
    None,
}

/// How TCP connections reach workers.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum AcceptModeName {
    /// One SO_REUSEPORT socket per worker.
    Reuseport,
    /// One socket polled by every worker.
    Shared,
}

/// The protocol named by memcached's `-B`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, ValueEnum, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ProtocolName {
    /// memcached's default: each connection's first byte decides (0x80: binary).
    Auto,
    /// The text (classic and meta) protocol only.
    Ascii,
    /// memcached's binary protocol only.
    Binary,
}

/// tailcache: a memcached-compatible cache with low tail latency.
///
/// Every memcached 1.6 flag is accepted; one that has no effect here prints
/// one warning naming it (docs/compatibility.md lists them all).
#[derive(Parser, Debug, Default)]
#[command(
    name = "tailcache",
    version,
    about,
    max_term_width = 100,
    args_override_self = true
)]
pub struct Flags {
    /// TCP port of the memcache protocol (0: off, -1: any free port, as in memcached) [default: 11211]
    #[arg(short = 'p', long = "port", value_name = "PORT", allow_negative_numbers = true,
          value_parser = clap::value_parser!(i32).range(-1..=65535))]
    pub port: Option<i32>,

    /// Interface to listen on, ADDR or ADDR:PORT; repeat or separate with commas [default: 127.0.0.1]
    #[arg(short = 'l', long = "listen", value_name = "ADDR", action = ArgAction::Append, value_delimiter = ',')]
    pub listen: Vec<String>,

    /// Unix socket path for the memcache protocol (turns off its TCP listener, as in memcached)
    #[arg(short = 's', long = "unix-socket", value_name = "PATH")]
    pub unix_socket: Option<PathBuf>,

    /// Permission mask of the unix socket, octal [default: 700]
    #[arg(short = 'a', long = "unix-mask", value_name = "MASK", value_parser = parse_octal_mode)]
    pub unix_socket_mode: Option<u32>,

    /// Item memory in MiB, or with a suffix (64, 512m, 2g) [default: 64]
    #[arg(short = 'm', long = "memory-limit", value_name = "MB", value_parser = parse_memory_limit)]
    pub memory_limit_bytes: Option<u64>,

    /// Worker threads [default: one per core]
    #[arg(short = 't', long = "threads", value_name = "N", value_parser = clap::value_parser!(u16).range(1..=1024))]
    pub threads: Option<u16>,

    /// Most simultaneous connections [default: 1024]
    #[arg(short = 'c', long = "conn-limit", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub conn_limit: Option<u32>,

    /// Largest item, with optional k/m suffix (min 1k, max 256m) [default: 1m]
    #[arg(short = 'I', long = "max-item-size", value_name = "SIZE", value_parser = parse_item_size)]
    pub max_item_size_bytes: Option<u64>,

    /// Return an error when memory is full instead of evicting (same as --eviction none)
    #[arg(short = 'M', long = "disable-evictions")]
    pub disable_evictions: bool,

    /// Do not keep CAS values
    #[arg(short = 'C', long = "disable-cas")]
    pub disable_cas: bool,

    /// UDP port of the memcache protocol (0: off, -1: any free port; without -p it is also the TCP port, as in memcached) [default: 0]
    #[arg(short = 'U', long = "udp-port", value_name = "PORT", allow_negative_numbers = true,
          value_parser = clap::value_parser!(i32).range(-1..=65535))]
    pub udp_port: Option<i32>,

    /// Verbose logging; -vv for more
    #[arg(short = 'v', long = "verbose", action = ArgAction::Count)]
    pub verbose: u8,

    /// Extended options, comma separated: idle_timeout=SECS applies; memcached's other -o options warn
    #[arg(short = 'o', long = "extended", value_name = "OPT", action = ArgAction::Append, value_delimiter = ',')]
    pub extended: Vec<String>,

    /// When started as root, switch to USER once listeners are open (ignored when not root)
    #[arg(short = 'u', long = "user", value_name = "USER")]
    pub user: Option<String>,

    /// Write the process id to FILE at start; removed at exit
    #[arg(short = 'P', long = "pidfile", value_name = "FILE")]
    pub pid_file: Option<PathBuf>,

    /// Run in the background once every listener is open
    #[arg(short = 'd', long = "daemon")]
    pub daemon: bool,

    /// Raise the core file size limit as far as allowed
    #[arg(short = 'r', long = "enable-coredumps")]
    pub enable_coredumps: bool,

    /// Lock the process's memory in RAM (mlockall)
    #[arg(short = 'k', long = "lock-memory")]
    pub lock_memory: bool,

    /// Refuse flush_all (and RESP FLUSHALL/FLUSHDB)
    #[arg(short = 'F', long = "disable-flush-all")]
    pub disable_flush_all: bool,

    /// Serve the "shutdown [graceful]" command, which stops the server
    #[arg(short = 'A', long = "enable-shutdown")]
    pub enable_shutdown: bool,

    /// Serve memcached-debug's "debugtime" (moves the clock expiry reads; for tests, never production)
    #[arg(long = "debug-commands")]
    pub debug_commands: bool,

    /// Large memory pages; no effect here (warns)
    #[arg(short = 'L', long = "enable-largepages")]
    pub enable_largepages: bool,

    /// TCP accept queue length of the data ports [default: 1024]
    #[arg(short = 'b', long = "listen-backlog", value_name = "N", value_parser = clap::value_parser!(i32).range(1..))]
    pub listen_backlog: Option<i32>,

    /// Requests (multiget keys) served to one connection per turn before others [default: 32]
    #[arg(short = 'R', long = "max-reqs-per-event", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub max_reqs_per_event: Option<u32>,

    /// Protocol of the memcache port: auto (each connection's first byte decides), ascii or binary [default: auto]
    #[arg(short = 'B', long = "protocol", value_name = "NAME")]
    pub protocol: Option<ProtocolName>,

    /// Slab growth factor; no slabs here (warns)
    #[arg(short = 'f', long = "slab-growth-factor", value_name = "FACTOR")]
    pub slab_growth_factor: Option<f64>,

    /// Smallest slab chunk; no slabs here (warns)
    #[arg(short = 'n', long = "slab-min-size", value_name = "BYTES")]
    pub slab_min_size: Option<u32>,

    /// Key prefix delimiter of per-prefix stats (`stats detail`) [default: :]
    #[arg(short = 'D', value_name = "CHAR")]
    pub prefix_delimiter: Option<String>,

    /// Disable key dumps (stats cachedump, lru_crawler metadump)
    #[arg(short = 'X', long = "disable-dumping")]
    pub disable_dumping: bool,

    /// Disable watch commands (memcached's log streaming)
    #[arg(short = 'W', long = "disable-watch")]
    pub disable_watch: bool,

    /// memcached's ascii authentication file: `user:password` lines (docs/security.md)
    #[arg(short = 'Y', long = "auth-file", value_name = "FILE")]
    pub auth_file: Option<PathBuf>,

    /// Keep the cache in FILE (tmpfs, /dev/shm, DAX) and restore it after a clean restart (docs/operations.md)
    #[arg(
        short = 'e',
        long = "heap-file",
        visible_alias = "memory-file",
        value_name = "FILE"
    )]
    pub heap_file: Option<PathBuf>,

    /// NAPI id based thread selection; no effect here (warns)
    #[arg(short = 'N', long = "napi-ids", value_name = "N", value_parser = clap::value_parser!(u32).range(1..))]
    pub napi_ids: Option<u32>,

    // SASL and TLS are refused, and hidden from -h as in a memcached built
    // without them (memcached's own tests read -h to decide what to test).
    /// memcached's SASL authentication; not served, so refused
    #[arg(short = 'S', long = "enable-sasl", hide = true)]
    pub enable_sasl: bool,

    /// TLS flags (-Z, --tls-*)
    #[command(flatten)]
    pub tls: crate::security::tls::TlsFlags,

    /// Print the license and exit
    #[arg(short = 'i', long = "license")]
    pub license: bool,

    /// TCP port of the Redis (RESP) protocol on the same interfaces [default: off]
    #[arg(long = "resp-port", value_name = "PORT")]
    pub resp_port: Option<u16>,

    /// TCP port of the HTTP key-value API on the same interfaces [default: off]
    #[arg(long = "http-port", value_name = "PORT")]
    pub http_port: Option<u16>,

    /// Admin endpoint (/metrics, /stats, /health) ADDR:PORT, or "off" [default: off]
    #[arg(long = "admin-addr", value_name = "ADDR")]
    pub admin_addr: Option<String>,

    /// Eviction policy [default: merge]
    #[arg(long = "eviction", value_name = "POLICY")]
    pub eviction: Option<EvictionName>,

    /// Segment size, with optional k/m suffix [default: 1m, or larger to fit -I]
    #[arg(long = "segment-size", value_name = "SIZE", value_parser = parse_segment_size)]
    pub segment_size_bytes: Option<u64>,

    /// Typical key + value size, with optional k/m suffix; sizes the index at start [default: 64]
    #[arg(long = "expected-item-size", value_name = "SIZE", value_parser = parse_expected_item_size)]
    pub expected_item_size_bytes: Option<u64>,

    /// How connections reach workers [default: reuseport]
    #[arg(long = "accept-mode", value_name = "MODE")]
    pub accept_mode: Option<AcceptModeName>,

    /// Read settings from this TOML file; flags override it
    #[arg(long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Print the effective configuration as TOML and exit
    #[arg(long = "print-config")]
    pub print_config: bool,

    /// Check the TOML file FILE (with any other flags) as a start would, without starting: exit 0 if valid, 64 with the first problem
    #[arg(long = "check-config", value_name = "FILE", conflicts_with = "config")]
    pub check_config: Option<PathBuf>,

    /// Access control flags (access.rs).
    #[command(flatten)]
    pub access: crate::security::access::AccessFlags,
}

fn parse_octal_mode(text: &str) -> Result<u32, String> {
    let mode =
        u32::from_str_radix(text, 8).map_err(|_| format!("'{text}' is not an octal mode"))?;
    if mode > 0o777 {
        return Err(format!("'{text}' is more than 777"));
    }
    Ok(mode)
}

fn parse_memory_limit(text: &str) -> Result<u64, String> {
    let bytes = parse_size(text, 1 << 20)?;
    if bytes < 1 << 20 {
        return Err(format!("'{text}' is under 1 MiB"));
    }
    Ok(bytes)
}

/// memcached's bounds: 1 KiB to 1 GiB.
fn parse_item_size(text: &str) -> Result<u64, String> {
    let bytes = parse_size(text, 1)?;
    if !(1 << 10..=1 << 28).contains(&bytes) {
        return Err(format!("'{text}' is outside 1k..256m"));
    }
    Ok(bytes)
}

/// 1 byte up to the largest -I; the check against this run's -I comes later.
fn parse_expected_item_size(text: &str) -> Result<u64, String> {
    let bytes = parse_size(text, 1)?;
    if !(1..=1 << 28).contains(&bytes) {
        return Err(format!("'{text}' is outside 1..256m"));
    }
    Ok(bytes)
}

fn parse_segment_size(text: &str) -> Result<u64, String> {
    let bytes = parse_size(text, 1)?;
    if !(4 << 10..=1 << 28).contains(&bytes) {
        return Err(format!("'{text}' is outside 4k..256m"));
    }
    Ok(bytes)
}
