//! Command-line flags: memcached's where they mean the same, plus our own.
//! Every field is optional so that an absent flag leaves the TOML value.

use std::path::PathBuf;

use clap::{ArgAction, Parser, ValueEnum};

use crate::size::parse_size;

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

/// tailcache: a memcached-compatible cache with low tail latency.
#[derive(Parser, Debug, Default)]
#[command(name = "tailcache", version, about, max_term_width = 100)]
pub struct Flags {
    /// TCP port of the memcache protocol (0: any free port) [default: 11211]
    #[arg(short = 'p', long = "port", value_name = "PORT")]
    pub port: Option<u16>,

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

    /// UDP port; only 0 (off) is supported
    #[arg(short = 'U', long = "udp-port", value_name = "0", value_parser = parse_udp_port)]
    pub udp_port: Option<u16>,

    /// Verbose logging; -vv for more
    #[arg(short = 'v', long = "verbose", action = ArgAction::Count)]
    pub verbose: u8,

    /// Extended options, comma separated: idle_timeout=SECS (and memcached tuning options, ignored)
    #[arg(short = 'o', long = "extended", value_name = "OPT", action = ArgAction::Append, value_delimiter = ',')]
    pub extended: Vec<String>,

    /// TCP port of the Redis (RESP) protocol on the same interfaces [default: off]
    #[arg(long = "resp-port", value_name = "PORT")]
    pub resp_port: Option<u16>,

    /// TCP port of the HTTP key-value API on the same interfaces [default: off]
    #[arg(long = "http-port", value_name = "PORT")]
    pub http_port: Option<u16>,

    /// Admin endpoint (/metrics, /stats, /health) ADDR:PORT, or "off" [default: 127.0.0.1:9911]
    #[arg(long = "admin-addr", value_name = "ADDR")]
    pub admin_addr: Option<String>,

    /// Eviction policy [default: merge]
    #[arg(long = "eviction", value_name = "POLICY")]
    pub eviction: Option<EvictionName>,

    /// Segment size, with optional k/m suffix [default: 1m, or larger to fit -I]
    #[arg(long = "segment-size", value_name = "SIZE", value_parser = parse_segment_size)]
    pub segment_size_bytes: Option<u64>,

    /// How connections reach workers [default: reuseport]
    #[arg(long = "accept-mode", value_name = "MODE")]
    pub accept_mode: Option<AcceptModeName>,

    /// Read settings from this TOML file; flags override it
    #[arg(long = "config", value_name = "FILE")]
    pub config: Option<PathBuf>,

    /// Print the effective configuration as TOML and exit
    #[arg(long = "print-config")]
    pub print_config: bool,
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

fn parse_segment_size(text: &str) -> Result<u64, String> {
    let bytes = parse_size(text, 1)?;
    if !(4 << 10..=1 << 28).contains(&bytes) {
        return Err(format!("'{text}' is outside 4k..256m"));
    }
    Ok(bytes)
}

fn parse_udp_port(text: &str) -> Result<u16, String> {
    match text.trim() {
        "0" => Ok(0),
        _ => Err(format!(
            "UDP is not supported; only -U 0 (off) is accepted, got '{text}'"
        )),
    }
}
