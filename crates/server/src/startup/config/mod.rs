//! The effective configuration: defaults, then the TOML file, then flags.
//! Every value is checked here, before anything is bound, and an error
//! names the flag (and TOML key) to fix.

use std::fmt;
use std::net::{SocketAddr, ToSocketAddrs};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use tailcache_runtime::{GroupShares, RuntimeConfig};

use crate::security::tls::TlsSettings;
use crate::startup::cli::{AcceptModeName, EvictionName, Flags, ProtocolName};
use crate::startup::memcached_options::apply_memcached_options;

/// Default memcache port, memcached's.
pub const DEFAULT_PORT: i32 = 11211;
/// A memcache port (-p, -U) meaning "any free port", as in memcached; 0 means off.
pub const ANY_FREE_PORT: i32 = -1;
/// Default admin endpoint: off, so that several instances fit on one host.
pub const DEFAULT_ADMIN_ADDR: &str = "off";
/// Smallest segment that still fits an item of the default size limit.
const DEFAULT_SEGMENT_SIZE_BYTES: u64 = 1 << 20;
/// A chosen segment size leaves at least this many segments in `-m`: enough to write,
/// merge and keep a reserve. memcached runs with `-m 2`; so must we.
const MIN_AUTO_SEGMENTS: u64 = 8;
/// Segments never shrink below this for a small `-m`.
const MIN_AUTO_SEGMENT_SIZE_BYTES: u64 = 64 << 10;
/// The flag and TOML key of the expected item size, for errors.
pub const EXPECTED_ITEM_SIZE_SETTING: &str = "--expected-item-size (expected_item_size_bytes)";

/// Largest TOML file read, so a wrong path cannot make us read gigabytes.
const MAX_CONFIG_FILE_BYTES: u64 = 1 << 20;

/// Everything the server is told, as it will run. Field names are the TOML keys.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Config {
    /// Interfaces (`ADDR` or `ADDR:PORT`) for the data protocols (-l).
    pub listen: Vec<String>,
    /// memcache protocol TCP port (-p); 0: off, -1: any free port (memcached's meanings).
    pub port: i32,
    /// memcache protocol UDP port (-U); 0: no UDP (memcached's default), -1: any free port.
    pub udp_port: i32,
    /// memcache protocol unix socket (-s); when set, no memcache TCP listener.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unix_socket: Option<PathBuf>,
    /// Unix socket permission bits as an octal string (-a).
    pub unix_socket_mode: String,
    /// RESP port on the same interfaces (--resp-port); absent: off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resp_port: Option<u16>,
    /// HTTP port on the same interfaces (--http-port); absent: off.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub http_port: Option<u16>,
    /// Admin endpoint address, or "off" (--admin-addr).
    pub admin_addr: String,
    /// Item memory in MiB (-m).
    pub memory_limit_mib: u64,
    /// Worker threads (-t); 0 means one per core.
    pub threads: usize,
    /// Most simultaneous connections (-c).
    pub conn_limit: usize,
    /// Largest item in bytes (-I).
    pub max_item_size_bytes: u64,
    /// Eviction policy (--eviction; -M means none).
    pub eviction: EvictionName,
    /// Keep CAS values (-C turns off).
    pub cas_enabled: bool,
    /// Segment size in bytes (--segment-size); 0 picks 1 MiB or the power of
    /// two that fits the largest item.
    pub segment_size_bytes: u64,
    /// Typical key + value size in bytes (--expected-item-size): the index is
    /// sized at start for `-m` of such items.
    pub expected_item_size_bytes: u64,
    /// Where a key's prefix ends for `stats detail` (-D).
    pub prefix_delimiter: char,
    /// Close connections idle this long (-o idle_timeout); 0 never.
    pub idle_timeout_secs: u64,
    /// Close a connection whose buffered input completes no request for this
    /// many seconds (slow or partial requests); 0 never.
    pub request_timeout_secs: u64,
    /// Log level: 0 warnings, 1 info (-v), 2 debug (-vv), 3 trace.
    pub verbosity: u8,
    /// How TCP connections reach workers (--accept-mode).
    pub accept_mode: AcceptModeName,
    /// Pending reply bytes above which a connection is no longer read.
    pub write_buffer_high_water_bytes: usize,
    /// Unsent reply bytes of one connection beyond which it is closed; 0:
    /// high water plus the largest item plus 64 KiB, which a client that
    /// reads, however slowly, never reaches.
    pub connection_output_cap_bytes: usize,
    /// MiB all data connections' read and write buffers may hold together
    /// (`-o resp_obj_mem_limit` plus `-o read_buf_mem_limit`); over it the
    /// connection holding the most is closed. 0: no budget.
    pub connection_buffer_budget_mib: u64,
    /// At `-c` connections, a connection without traffic for this many
    /// seconds is closed to admit a new one; 0: refuse the new one.
    pub idle_reclaim_secs: u64,
    /// Kernel send buffer (`SO_SNDBUF`) asked for each data connection, in KiB;
    /// 0: the kernel's autotuning.
    pub socket_send_buffer_kib: u64,
    /// Bytes read from one connection per turn before others are served.
    pub turn_budget_bytes: usize,
    /// Requests (keys of a multiget) served to one connection per turn
    /// before others are served (-R).
    pub turn_budget_requests: usize,
    /// Reply bytes produced for one connection per turn before others are served.
    pub turn_budget_output_bytes: usize,
    /// Time background steps may take in one worker turn, in microseconds
    /// (the task quota).
    #[serde(alias = "background_budget_us")]
    pub task_quota_us: u64,
    /// Two turns in a row at least this long, in microseconds, make a connection
    /// heavy: the others go before it.
    pub heavy_turn_us: u64,
    /// Percent of a worker's time background work gets even while requests
    /// always wait.
    pub background_min_share_percent: u8,
    /// Shares of the maintenance group (eviction ahead, expiry, flush reclaim).
    pub shares_maintenance: u32,
    /// Background maintenance keeps free segments ready for writes, sized from
    /// the write rate, and reclaims expired ones; off (-o no_lru_maintainer),
    /// writes evict inline and expired items wait for a write, a read or a crawl.
    pub evict_ahead: bool,
    /// Shares of the compaction group.
    pub shares_compaction: u32,
    /// Shares of the snapshot group.
    pub shares_snapshot: u32,
    /// Shares of the bulk group (key dumps).
    pub shares_bulk: u32,
    /// A worker that reaches no scheduling point for this many milliseconds is
    /// reported as stalled (log, `stalls_total`, a rate-limited backtrace); 0 off.
    pub stall_threshold_ms: u64,
    /// Longest time to flush replies at shutdown, in seconds.
    pub shutdown_timeout_secs: u64,
    /// Answer flush_all and RESP FLUSHALL/FLUSHDB (-F turns off).
    pub flush_enabled: bool,
    /// Serve memcached's `shutdown [graceful]` command, which stops the
    /// server as SIGINT or SIGUSR1 does (-A turns on).
    pub shutdown_command_enabled: bool,
    /// Serve memcached's debug-build commands (`debugtime`, which moves the clock
    /// every expiry reads); for tests only (--debug-commands).
    pub debug_commands: bool,
    /// Serve key dumps (`stats cachedump`, `lru_crawler metadump`); -X turns off.
    pub dump_enabled: bool,
    /// Serve memcached's `watch` (log lines streamed to a connection); -W turns off.
    pub watch_enabled: bool,
    /// Log lines one watcher may have waiting before new ones are skipped, in
    /// KiB (memcached's `-o watcher_logbuf_size`, default 256).
    pub watcher_buffer_kib: u64,
    /// Whether `lru_crawler crawl`/`metadump` are served at start (-o
    /// no_lru_crawler or no_modern turns off; `lru_crawler enable` turns on).
    pub lru_crawler_enabled: bool,
    /// TCP accept queue length of the data ports (-b).
    pub listen_backlog: i32,
    /// The protocol the memcache port speaks (-B): `auto` decides per connection from
    /// its first byte (0x80: binary), as memcached does; `ascii` is text and meta only,
    /// `binary` binary only.
    pub binding_protocol: ProtocolName,
    /// User to switch to after binding, when started as root (-u).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user: Option<String>,
    /// File the index and segments live in, restored after a clean restart (-e,
    /// --heap-file).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub heap_file: Option<PathBuf>,
    /// File the process id is written to, removed at exit (-P).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub pid_file: Option<PathBuf>,
    /// Run in the background once listening (-d).
    pub daemonize: bool,
    /// Raise the core file size limit (-r).
    pub enable_coredumps: bool,
    /// Lock memory with mlockall (-k).
    pub lock_memory: bool,
    /// TLS listeners and certificates (`[tls]`; -Z, --tls-*, -o ssl_*).
    pub tls: TlsSettings,
    /// Authentication of every protocol (the `[access]` table; access.rs).
    pub access: crate::security::access::AccessConfig,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            listen: vec!["127.0.0.1".to_owned()],
            port: DEFAULT_PORT,
            udp_port: 0,
            unix_socket: None,
            unix_socket_mode: "700".to_owned(),
            resp_port: None,
            http_port: None,
            admin_addr: DEFAULT_ADMIN_ADDR.to_owned(),
            memory_limit_mib: 64,
            threads: 0,
            conn_limit: 1024,
            max_item_size_bytes: 1 << 20,
            eviction: EvictionName::Merge,
            cas_enabled: true,
            segment_size_bytes: 0,
            expected_item_size_bytes: 64,
            prefix_delimiter: ':',
            idle_timeout_secs: 0,
            request_timeout_secs: 30,
            verbosity: 0,
            accept_mode: AcceptModeName::Reuseport,
            write_buffer_high_water_bytes: 1 << 20,
            connection_output_cap_bytes: 0,
            connection_buffer_budget_mib: 0,
            idle_reclaim_secs: 10,
            socket_send_buffer_kib: 0,
            turn_budget_bytes: 64 << 10,
            turn_budget_requests: RuntimeConfig::default().turn_budget_requests,
            turn_budget_output_bytes: RuntimeConfig::default().turn_budget_output_bytes,
            task_quota_us: 500,
            heavy_turn_us: 100,
            background_min_share_percent: RuntimeConfig::default().background_min_share_percent,
            shares_maintenance: GroupShares::default().maintenance,
            evict_ahead: true,
            shares_compaction: GroupShares::default().compaction,
            shares_snapshot: GroupShares::default().snapshot,
            shares_bulk: GroupShares::default().bulk,
            stall_threshold_ms: 25,
            shutdown_timeout_secs: 5,
            flush_enabled: true,
            shutdown_command_enabled: false,
            debug_commands: false,
            dump_enabled: true,
            watch_enabled: true,
            watcher_buffer_kib: 256,
            lru_crawler_enabled: true,
            listen_backlog: tailcache_runtime::DEFAULT_LISTEN_BACKLOG,
            binding_protocol: ProtocolName::Auto,
            user: None,
            heap_file: None,
            pid_file: None,
            daemonize: false,
            enable_coredumps: false,
            lock_memory: false,
            tls: TlsSettings::default(),
            access: crate::security::access::AccessConfig::default(),
        }
    }
}

/// A setting that cannot be used, with the flag (and TOML key) that set it and what is
/// wrong with it; the variant says what kind of problem it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// A value that does not read as what the setting takes, or is out of its range.
    Invalid {
        /// The flag and key, e.g. `-m/--memory-limit (memory_limit_mib)`.
        setting: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Settings that do not go together.
    Conflict {
        /// The flag and key.
        setting: String,
        /// What it clashes with.
        reason: String,
    },
    /// A feature tailcache does not serve: running without it would expose what the
    /// operator meant to protect, or change what clients see.
    Unserved {
        /// The flag and key.
        setting: String,
        /// What is not served.
        reason: String,
    },
    /// A file the setting names (configuration, users, ACL, certificates) that cannot be
    /// read, or is larger than it may be.
    Unreadable {
        /// The flag and key.
        setting: String,
        /// Why it cannot be used.
        reason: String,
    },
}

impl ConfigError {
    /// A value that does not read as what `setting` takes, or is out of its range.
    pub fn invalid(setting: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigError::Invalid {
            setting: setting.into(),
            reason: reason.into(),
        }
    }

    /// `setting` does not go with another one.
    pub fn conflict(setting: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigError::Conflict {
            setting: setting.into(),
            reason: reason.into(),
        }
    }

    /// `setting` asks for a feature tailcache does not serve.
    pub fn unserved(setting: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigError::Unserved {
            setting: setting.into(),
            reason: reason.into(),
        }
    }

    /// The file `setting` names cannot be used.
    pub fn unreadable(setting: impl Into<String>, reason: impl Into<String>) -> Self {
        ConfigError::Unreadable {
            setting: setting.into(),
            reason: reason.into(),
        }
    }

    /// The flag and key the error is about.
    pub fn setting(&self) -> &str {
        match self {
            ConfigError::Invalid { setting, .. }
            | ConfigError::Conflict { setting, .. }
            | ConfigError::Unserved { setting, .. }
            | ConfigError::Unreadable { setting, .. } => setting,
        }
    }

    /// What is wrong.
    pub fn reason(&self) -> &str {
        match self {
            ConfigError::Invalid { reason, .. }
            | ConfigError::Conflict { reason, .. }
            | ConfigError::Unserved { reason, .. }
            | ConfigError::Unreadable { reason, .. } => reason,
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {}: {}", self.setting(), self.reason())
    }
}

impl std::error::Error for ConfigError {}

/// One data listener to open.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DataAddr {
    /// Which protocol it speaks.
    pub protocol: crate::context::Protocol,
    /// Where.
    pub addr: crate::context::DataListenAddr,
    /// Speaks TLS.
    pub tls: bool,
}

mod addresses;
mod flags;
#[cfg(test)]
mod tests;
mod validate;

impl Config {
    /// Defaults, overlaid by `flags.config` (if any), overlaid by the flags.
    #[cfg(test)]
    pub fn load(flags: &Flags) -> Result<Self, ConfigError> {
        Self::load_with_warnings(flags).map(|(config, _)| config)
    }

    /// As `load`, plus one warning line for each flag or `-o` option given
    /// that has no effect here (each named once).
    pub fn load_with_warnings(flags: &Flags) -> Result<(Self, Vec<String>), ConfigError> {
        let mut config = match flags.config.as_ref().or(flags.check_config.as_ref()) {
            Some(path) => Self::from_toml_file(path)?,
            None => Self::default(),
        };
        let mut warnings = Vec::new();
        config.apply_flags(flags, &mut warnings)?;
        config.resolve(&mut warnings);
        config.validate()?;
        config.access.load()?;
        let mut seen = std::collections::HashSet::new();
        warnings.retain(|w| seen.insert(w.clone()));
        Ok((config, warnings))
    }

    fn from_toml_file(path: &Path) -> Result<Self, ConfigError> {
        let setting = format!("--config {}", path.display());
        let meta = std::fs::metadata(path)
            .map_err(|e| ConfigError::unreadable(&setting, e.to_string()))?;
        if meta.len() > MAX_CONFIG_FILE_BYTES {
            return Err(ConfigError::unreadable(
                setting,
                "file is larger than 1 MiB",
            ));
        }
        let text = std::fs::read_to_string(path)
            .map_err(|e| ConfigError::unreadable(&setting, e.to_string()))?;
        toml::from_str(&text).map_err(|e| ConfigError::invalid(setting, e.to_string()))
    }

    /// The per-connection output cap in force (`connection_output_cap_bytes`,
    /// or its default when 0).
    pub fn output_cap_bytes(&self) -> usize {
        if self.connection_output_cap_bytes != 0 {
            return self.connection_output_cap_bytes;
        }
        let item = usize::try_from(self.max_item_size_bytes).unwrap_or(usize::MAX);
        self.write_buffer_high_water_bytes
            .saturating_add(item)
            .saturating_add(64 << 10)
    }

    /// Unix socket mode bits.
    pub fn unix_mode(&self) -> Result<u32, ConfigError> {
        let setting = "-a/--unix-mask (unix_socket_mode)";
        match u32::from_str_radix(&self.unix_socket_mode, 8) {
            Ok(mode) if mode <= 0o777 => Ok(mode),
            _ => Err(ConfigError::invalid(
                setting,
                format!("'{}' is not an octal mode up to 777", self.unix_socket_mode),
            )),
        }
    }

    /// The config as TOML, loadable with `--config`.
    pub fn to_toml(&self) -> String {
        toml::to_string(self).expect("config always serializes")
    }
}
