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
            turn_budget_bytes: 64 << 10,
            turn_budget_requests: RuntimeConfig::default().turn_budget_requests,
            turn_budget_output_bytes: RuntimeConfig::default().turn_budget_output_bytes,
            task_quota_us: 500,
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

/// A value that cannot be used, with the flag (and TOML key) that set it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The flag and key, e.g. `-m/--memory-limit (memory_limit_mib)`.
    pub setting: String,
    /// What is wrong with it.
    pub reason: String,
}

impl ConfigError {
    /// An error about `setting`.
    pub fn new(setting: impl Into<String>, reason: impl Into<String>) -> Self {
        Self {
            setting: setting.into(),
            reason: reason.into(),
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "invalid {}: {}", self.setting, self.reason)
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
        let meta =
            std::fs::metadata(path).map_err(|e| ConfigError::new(&setting, e.to_string()))?;
        if meta.len() > MAX_CONFIG_FILE_BYTES {
            return Err(ConfigError::new(setting, "file is larger than 1 MiB"));
        }
        let text =
            std::fs::read_to_string(path).map_err(|e| ConfigError::new(&setting, e.to_string()))?;
        toml::from_str(&text).map_err(|e| ConfigError::new(setting, e.to_string()))
    }

    fn apply_flags(
        &mut self,
        flags: &Flags,
        warnings: &mut Vec<String>,
    ) -> Result<(), ConfigError> {
        refuse_unserved(flags)?;
        if !flags.listen.is_empty() {
            self.listen = flags.listen.clone();
        }
        set(&mut self.port, flags.port);
        set(&mut self.udp_port, flags.udp_port);
        if let Some(udp) = flags.udp_port.filter(|&p| p != 0) {
            // memcached: a UDP port without -p is also the TCP port.
            if flags.port.is_none() && self.port == DEFAULT_PORT {
                self.port = udp;
            }
        }
        if flags.unix_socket.is_some() {
            self.unix_socket = flags.unix_socket.clone();
        }
        if let Some(mode) = flags.unix_socket_mode {
            self.unix_socket_mode = format!("{mode:o}");
        }
        if flags.resp_port.is_some() {
            self.resp_port = flags.resp_port;
        }
        if flags.http_port.is_some() {
            self.http_port = flags.http_port;
        }
        set(&mut self.admin_addr, flags.admin_addr.clone());
        set(
            &mut self.memory_limit_mib,
            flags.memory_limit_bytes.map(|b| b.div_ceil(1 << 20)),
        );
        set(&mut self.threads, flags.threads.map(usize::from));
        set(&mut self.conn_limit, flags.conn_limit.map(|c| c as usize));
        set(&mut self.max_item_size_bytes, flags.max_item_size_bytes);
        set(&mut self.eviction, flags.eviction);
        if flags.disable_evictions {
            self.eviction = EvictionName::None;
        }
        if flags.disable_cas {
            self.cas_enabled = false;
        }
        set(&mut self.segment_size_bytes, flags.segment_size_bytes);
        set(
            &mut self.expected_item_size_bytes,
            flags.expected_item_size_bytes,
        );
        if let Some(text) = &flags.prefix_delimiter {
            let mut chars = text.chars();
            match (chars.next(), chars.next()) {
                (Some(delimiter), None) => self.prefix_delimiter = delimiter,
                _ => return Err(ConfigError::new("-D", "must be one character")),
            }
        }
        set(&mut self.accept_mode, flags.accept_mode);
        if flags.verbose > 0 {
            self.verbosity = flags.verbose;
        }
        if flags.disable_flush_all {
            self.flush_enabled = false;
        }
        self.shutdown_command_enabled |= flags.enable_shutdown;
        self.debug_commands |= flags.debug_commands;
        set(&mut self.listen_backlog, flags.listen_backlog);
        if let Some(requests) = flags.max_reqs_per_event {
            self.turn_budget_requests = requests as usize;
        }
        set(&mut self.binding_protocol, flags.protocol);
        if flags.disable_watch {
            self.watch_enabled = false;
        }
        if flags.disable_dumping {
            self.dump_enabled = false;
        }
        if flags.user.is_some() {
            self.user = flags.user.clone();
        }
        if flags.pid_file.is_some() {
            self.pid_file = flags.pid_file.clone();
        }
        if flags.heap_file.is_some() {
            self.heap_file = flags.heap_file.clone();
        }
        self.daemonize |= flags.daemon;
        self.enable_coredumps |= flags.enable_coredumps;
        self.lock_memory |= flags.lock_memory;
        self.tls.apply_flags(&flags.tls);
        self.access
            .apply_flags(&flags.access, flags.auth_file.as_deref());
        warn_no_effect(flags, warnings);
        apply_memcached_options(self, &flags.extended, warnings)
    }

    /// Replaces "pick for me" values (0) with what will be used.
    fn resolve(&mut self, warnings: &mut Vec<String>) {
        if self.threads == 0 {
            self.threads = std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(1);
        }
        if self.segment_size_bytes == 0 {
            // -I counts the item's header, so the largest item fits a segment of -I.
            self.segment_size_bytes = self
                .max_item_size_bytes
                .next_power_of_two()
                .max(DEFAULT_SEGMENT_SIZE_BYTES);
            let memory_bytes = self.memory_limit_mib << 20;
            let chosen = self.segment_size_bytes;
            // Only a limit memcached would accept (at most half of -m) is adapted; a
            // larger one is refused by `validate`, as memcached refuses it.
            let memcached_valid = self.max_item_size_bytes <= memory_bytes / 2;
            while memcached_valid
                && self.segment_size_bytes > MIN_AUTO_SEGMENT_SIZE_BYTES
                && memory_bytes / self.segment_size_bytes < MIN_AUTO_SEGMENTS
            {
                self.segment_size_bytes /= 2;
            }
            if self.segment_size_bytes < chosen
                && self.max_item_size_bytes > self.segment_size_bytes
            {
                warnings.push(format!(
                    "-m {} is small: {} KiB segments, so the largest item (-I) is {} KiB",
                    self.memory_limit_mib,
                    self.segment_size_bytes >> 10,
                    self.segment_size_bytes >> 10
                ));
                self.max_item_size_bytes = self.segment_size_bytes;
            }
        }
    }

    fn validate(&self) -> Result<(), ConfigError> {
        self.data_addrs()?;
        if self.binding_protocol == ProtocolName::Binary && self.access.auth_file.is_some() {
            // memcached's rule: ascii authentication has no binary form.
            return Err(ConfigError::new(
                "-B/--protocol (binding_protocol)",
                "you cannot allow the BINARY protocol while using ascii authentication tokens",
            ));
        }
        for (setting, port) in [
            ("-p/--port (port)", self.port),
            ("-U/--udp-port (udp_port)", self.udp_port),
        ] {
            if !(ANY_FREE_PORT..=i32::from(u16::MAX)).contains(&port) {
                return Err(ConfigError::new(
                    setting,
                    format!("{port} is not a port (0 turns it off, -1 picks a free one)"),
                ));
            }
        }
        if bind_port(self.udp_port).is_some() && self.access.auth_file.is_some() {
            // memcached's rule: a datagram cannot carry the connection's login.
            return Err(ConfigError::new(
                "-U/--udp-port (udp_port)",
                "cannot use UDP with ascii authentication enabled (-U 0 to disable)",
            ));
        }
        if !(1..=crate::observability::log_watchers::MAX_BUFFER_KIB)
            .contains(&self.watcher_buffer_kib)
        {
            return Err(ConfigError::new(
                "-o watcher_logbuf_size (watcher_buffer_kib)",
                format!(
                    "{} is outside 1..={} kilobytes",
                    self.watcher_buffer_kib,
                    crate::observability::log_watchers::MAX_BUFFER_KIB
                ),
            ));
        }
        self.admin_socket_addr()?;
        self.tls.validate()?;
        self.unix_mode()?;
        check_range(
            "-m/--memory-limit (memory_limit_mib)",
            self.memory_limit_mib,
            1,
            1 << 30,
        )?;
        check_range("-t/--threads (threads)", self.threads as u64, 1, 1024)?;
        check_range(
            "-c/--conn-limit (conn_limit)",
            self.conn_limit as u64,
            1,
            1 << 24,
        )?;
        let item = "-I/--max-item-size (max_item_size_bytes)";
        // The largest segment an index slot can address is 256 MiB, and an item fits one.
        check_range(item, self.max_item_size_bytes, 1 << 10, 1 << 28)?;
        let segment = "--segment-size (segment_size_bytes)";
        check_range(segment, self.segment_size_bytes, 4 << 10, 1 << 28)?;
        if self.max_item_size_bytes > self.segment_size_bytes {
            return Err(ConfigError::new(
                segment,
                format!(
                    "{} bytes cannot hold an item of -I {} bytes",
                    self.segment_size_bytes, self.max_item_size_bytes
                ),
            ));
        }
        if self.max_item_size_bytes > self.memory_limit_mib << 19 {
            return Err(ConfigError::new(item, "must be at most half of -m"));
        }
        if !self.prefix_delimiter.is_ascii_graphic() {
            return Err(ConfigError::new(
                "-D (prefix_delimiter)",
                "must be one printable ASCII character",
            ));
        }
        check_range(
            EXPECTED_ITEM_SIZE_SETTING,
            self.expected_item_size_bytes,
            1,
            self.max_item_size_bytes,
        )?;
        let high_water = "write_buffer_high_water_bytes";
        check_range(
            high_water,
            self.write_buffer_high_water_bytes as u64,
            4 << 10,
            1 << 30,
        )?;
        if self.connection_output_cap_bytes != 0 {
            check_range(
                "connection_output_cap_bytes",
                self.connection_output_cap_bytes as u64,
                4 << 10,
                1 << 32,
            )?;
        }
        check_range(
            "connection_buffer_budget_mib (-o resp_obj_mem_limit, read_buf_mem_limit)",
            self.connection_buffer_budget_mib,
            0,
            1 << 30,
        )?;
        check_range("idle_reclaim_secs", self.idle_reclaim_secs, 0, 1 << 32)?;
        check_range(
            "turn_budget_bytes",
            self.turn_budget_bytes as u64,
            1 << 10,
            1 << 30,
        )?;
        check_range(
            "-R (turn_budget_requests)",
            self.turn_budget_requests as u64,
            1,
            1 << 30,
        )?;
        check_range(
            "turn_budget_output_bytes",
            self.turn_budget_output_bytes as u64,
            1 << 10,
            1 << 30,
        )?;
        check_range("task_quota_us", self.task_quota_us, 1, 1_000_000)?;
        check_range(
            "background_min_share_percent",
            u64::from(self.background_min_share_percent),
            0,
            50,
        )?;
        for (name, shares) in [
            ("shares_maintenance", self.shares_maintenance),
            ("shares_compaction", self.shares_compaction),
            ("shares_snapshot", self.shares_snapshot),
            ("shares_bulk", self.shares_bulk),
        ] {
            check_range(name, u64::from(shares), 1, 10_000)?;
        }
        if self.stall_threshold_ms != 0 {
            check_range("stall_threshold_ms", self.stall_threshold_ms, 1, 3_600_000)?;
        }
        check_range("shutdown_timeout_secs", self.shutdown_timeout_secs, 0, 3600)?;
        check_range("-v (verbosity)", u64::from(self.verbosity), 0, 3)?;
        check_range(
            "-o idle_timeout (idle_timeout_secs)",
            self.idle_timeout_secs,
            0,
            1 << 32,
        )?;
        Ok(())
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

    /// The data listeners this config asks for, every address resolved.
    pub fn data_addrs(&self) -> Result<Vec<DataAddr>, ConfigError> {
        use crate::context::{DataListenAddr, Protocol};
        let mut addrs = Vec::new();
        if let Some(path) = &self.unix_socket {
            let mode = self.unix_mode()?;
            let addr = DataListenAddr::Unix {
                path: path.clone(),
                mode,
            };
            addrs.push(DataAddr {
                protocol: Protocol::Memcache,
                addr,
                // A local socket's access is its file mode; TLS is for the network.
                tls: false,
            });
        }
        if self.listen.is_empty() {
            return Err(ConfigError::new(
                "-l/--listen (listen)",
                "no interface given",
            ));
        }
        let tls_only = self.tls.data_ports_tls_only;
        // (protocol, port, TLS port of its own, whether `-l ADDR:PORT`'s port replaces it);
        // the plain ports speak TLS under -Z.
        let ports = [
            (
                Protocol::Memcache,
                bind_port(self.port).filter(|_| self.unix_socket.is_none()),
                false,
                true,
            ),
            (Protocol::Resp, self.resp_port, false, false),
            (Protocol::Http, self.http_port, false, false),
            (Protocol::Memcache, self.tls.port, true, false),
            (Protocol::Resp, self.tls.resp_port, true, false),
            (Protocol::Http, self.tls.http_port, true, false),
        ];
        for (protocol, port, tls_port, interface_port_wins) in ports {
            let Some(port) = port else { continue };
            for interface in &self.listen {
                // memcached's `-l notls:ADDR:PORT`: this interface stays plain under -Z.
                let (interface, plain) = match interface.trim().strip_prefix("notls:") {
                    Some(_) if !tls_only => {
                        return Err(ConfigError::new(
                            "-l/--listen (listen)",
                            "'notls' option is valid only when SSL is enabled (-Z)",
                        ))
                    }
                    Some(rest) => (rest, true),
                    None => (interface.as_str(), false),
                };
                // Only -Z's TLS yields to notls; a TLS port was asked for by itself.
                let tls = tls_port || (tls_only && !plain);
                for addr in resolve_interface(interface, port, interface_port_wins)? {
                    addrs.push(DataAddr {
                        protocol,
                        addr: DataListenAddr::Tcp(addr),
                        tls,
                    });
                }
            }
        }
        if let Some(udp_port) = bind_port(self.udp_port) {
            // memcached's UDP: the memcache protocol on every -l interface, plain
            // (a datagram carries no TLS), never on a unix socket.
            for interface in &self.listen {
                let interface = interface.trim();
                let interface = interface.strip_prefix("notls:").unwrap_or(interface);
                for addr in resolve_interface(interface, udp_port, false)? {
                    addrs.push(DataAddr {
                        protocol: Protocol::Memcache,
                        addr: DataListenAddr::Udp(addr),
                        tls: false,
                    });
                }
            }
        }
        check_port_clash(&addrs)?;
        Ok(addrs)
    }

    /// The admin endpoint address; `None` when "off".
    pub fn admin_socket_addr(&self) -> Result<Option<SocketAddr>, ConfigError> {
        let text = self.admin_addr.trim();
        if text.eq_ignore_ascii_case("off") || text.eq_ignore_ascii_case("none") {
            return Ok(None);
        }
        let setting = "--admin-addr (admin_addr)";
        let mut resolved = text
            .to_socket_addrs()
            .map_err(|e| ConfigError::new(setting, format!("'{text}': {e}")))?;
        let addr = resolved
            .next()
            .ok_or_else(|| ConfigError::new(setting, format!("'{text}' resolves to nothing")))?;
        Ok(Some(addr))
    }

    /// Unix socket mode bits.
    pub fn unix_mode(&self) -> Result<u32, ConfigError> {
        let setting = "-a/--unix-mask (unix_socket_mode)";
        match u32::from_str_radix(&self.unix_socket_mode, 8) {
            Ok(mode) if mode <= 0o777 => Ok(mode),
            _ => Err(ConfigError::new(
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

/// Flags that ask for a security feature tailcache does not serve: running
/// without it would expose what the operator meant to protect.
fn refuse_unserved(flags: &Flags) -> Result<(), ConfigError> {
    if flags.enable_sasl {
        return Err(ConfigError::new(
            "-S/--enable-sasl",
            "SASL authentication (a binary-protocol feature) is not served by tailcache",
        ));
    }
    Ok(())
}

/// One line for each memcached flag given that changes nothing here.
fn warn_no_effect(flags: &Flags, warnings: &mut Vec<String>) {
    let mut warn = |flag: &str, why: &str| warnings.push(format!("{flag} {why}; ignored"));
    if flags.enable_largepages {
        warn("-L/--enable-largepages", "has no effect in tailcache");
    }
    if flags.slab_growth_factor.is_some() {
        warn(
            "-f/--slab-growth-factor",
            "has no effect: tailcache has no slab classes",
        );
    }
    if flags.slab_min_size.is_some() {
        warn(
            "-n/--slab-min-size",
            "has no effect: tailcache has no slab classes",
        );
    }
    if flags.napi_ids.is_some() {
        warn("-N/--napi-ids", "has no effect in tailcache");
    }
}

/// The port to bind for a memcache port setting: `None` when off (0), 0 (the
/// kernel picks) for -1.
fn bind_port(port: i32) -> Option<u16> {
    match port {
        0 => None,
        ANY_FREE_PORT => Some(0),
        port => u16::try_from(port).ok(),
    }
}

fn set<T>(slot: &mut T, value: Option<T>) {
    if let Some(value) = value {
        *slot = value;
    }
}

fn check_range(setting: &str, value: u64, min: u64, max: u64) -> Result<(), ConfigError> {
    if (min..=max).contains(&value) {
        return Ok(());
    }
    Err(ConfigError::new(
        setting,
        format!("{value} is outside {min}..={max}"),
    ))
}

/// `ADDR`, `ADDR:PORT`, `[v6]:PORT` or a host name; a port in the text
/// overrides `port` only for memcache (memcached's `-l addr:port`).
fn resolve_interface(
    interface: &str,
    port: u16,
    interface_port_wins: bool,
) -> Result<Vec<SocketAddr>, ConfigError> {
    let setting = "-l/--listen (listen)";
    let text = interface.trim();
    if let Ok(ip) = text
        .trim_matches(|c| c == '[' || c == ']')
        .parse::<std::net::IpAddr>()
    {
        return Ok(vec![SocketAddr::new(ip, port)]);
    }
    if let Ok(addr) = text.parse::<SocketAddr>() {
        let port = if interface_port_wins {
            addr.port()
        } else {
            port
        };
        return Ok(vec![SocketAddr::new(addr.ip(), port)]);
    }
    let resolved: Vec<SocketAddr> = (text, port)
        .to_socket_addrs()
        .map_err(|e| ConfigError::new(setting, format!("'{text}': {e}")))?
        .collect();
    if resolved.is_empty() {
        return Err(ConfigError::new(
            setting,
            format!("'{text}' resolves to nothing"),
        ));
    }
    // A host name with several addresses listens on the first of each family.
    let v4 = resolved.iter().find(|a| a.is_ipv4()).copied();
    let v6 = resolved.iter().find(|a| a.is_ipv6()).copied();
    Ok(v4.into_iter().chain(v6).collect())
}

fn check_port_clash(addrs: &[DataAddr]) -> Result<(), ConfigError> {
    use crate::context::DataListenAddr;
    for (i, a) in addrs.iter().enumerate() {
        for b in &addrs[i + 1..] {
            if let (DataListenAddr::Tcp(x), DataListenAddr::Tcp(y)) = (&a.addr, &b.addr) {
                if x == y && x.port() != 0 && (a.protocol != b.protocol || a.tls != b.tls) {
                    let name = |d: &DataAddr| {
                        format!("{:?}{}", d.protocol, if d.tls { " over TLS" } else { "" })
                    };
                    return Err(ConfigError::new(
                        "--resp-port/--http-port/--tls-port",
                        format!("{x} is given to both {} and {}", name(a), name(b)),
                    ));
                }
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    fn load(args: &[&str]) -> Result<Config, ConfigError> {
        let mut argv = vec!["tailcache"];
        argv.extend_from_slice(args);
        Config::load(&Flags::try_parse_from(argv).expect("flags parse"))
    }

    #[test]
    fn notls_keeps_an_interface_plain_under_minus_z_only() {
        let tls_of = |config: &Config| -> Vec<bool> {
            config.data_addrs().unwrap().iter().map(|a| a.tls).collect()
        };
        let config = load(&[
            "-Z",
            "-o",
            "ssl_chain_cert=/c.pem",
            "-l",
            "notls:127.0.0.1:11311,127.0.0.1:11411",
        ])
        .unwrap();
        assert_eq!(tls_of(&config), [false, true]);
        let error = load(&["-l", "notls:127.0.0.1:11311"]).unwrap_err();
        assert!(error.reason.contains("only when SSL is enabled"), "{error}");
    }

    #[test]
    fn defaults_resolve() {
        let config = load(&[]).unwrap();
        assert_eq!(config.port, 11211);
        assert!(config.threads >= 1);
        assert_eq!(config.segment_size_bytes, 1 << 20);
        assert_eq!(config.memory_limit_mib, 64);
        // Off by default, so a second instance on another port starts too.
        assert_eq!(config.admin_socket_addr().unwrap(), None);
        assert!(config.flush_enabled && config.dump_enabled);
        let off = load(&["-F", "-X"]).unwrap();
        assert!(!off.flush_enabled && !off.dump_enabled);
    }

    #[test]
    fn a_small_memory_limit_gets_smaller_segments_and_item_limit() {
        let small = load(&["-m", "2"]).unwrap();
        assert_eq!(small.segment_size_bytes, 256 << 10);
        assert_eq!(small.max_item_size_bytes, 256 << 10);
        let tiny = load(&["-m", "3"]).unwrap();
        assert_eq!(tiny.segment_size_bytes, 256 << 10);
        // Explicit segment sizes are left alone (and may then be refused).
        let explicit = load(&["-m", "2", "--segment-size", "1m"]).unwrap();
        assert_eq!(explicit.segment_size_bytes, 1 << 20);
        assert_eq!(load(&["-m", "8"]).unwrap().segment_size_bytes, 1 << 20);
        // An item limit over half of -m is refused, not adapted (memcached refuses it).
        assert!(load(&["-I", "256m"]).is_err());
        assert!(load(&["-m", "1"]).is_err(), "-I 1m is over half of -m 1");
    }

    #[test]
    fn memcached_flags_map() {
        let config = load(&["-m", "128", "-I", "512k", "-M", "-C", "-t", "3", "-c", "10"]).unwrap();
        assert_eq!(config.memory_limit_mib, 128);
        assert_eq!(config.max_item_size_bytes, 512 << 10);
        assert_eq!(config.eviction, EvictionName::None);
        assert!(!config.cas_enabled);
        assert_eq!(config.threads, 3);
        assert_eq!(config.conn_limit, 10);
        assert_eq!(config.segment_size_bytes, 1 << 20);
    }

    #[test]
    fn listen_forms() {
        let config = load(&[
            "-l",
            "127.0.0.1,::1",
            "-l",
            "127.0.0.2:7000",
            "--resp-port",
            "6400",
        ])
        .unwrap();
        let addrs = config.data_addrs().unwrap();
        let shown: Vec<String> = addrs
            .iter()
            .map(|a| format!("{:?} {:?}", a.protocol, a.addr))
            .collect();
        assert_eq!(addrs.len(), 6, "{shown:?}");
        assert!(shown
            .iter()
            .any(|s| s.contains("127.0.0.2:7000") && s.contains("Memcache")));
        assert!(shown
            .iter()
            .any(|s| s.contains("127.0.0.2:6400") && s.contains("Resp")));
        assert!(shown.iter().any(|s| s.contains("[::1]:11211")));
    }

    #[test]
    fn segment_too_small_for_item_names_the_flag() {
        let err = load(&["-I", "2m", "--segment-size", "1m"]).unwrap_err();
        assert!(err.setting.contains("--segment-size"), "{err}");
    }

    #[test]
    fn toml_round_trip_and_flags_override() {
        let config = load(&["-m", "100", "--http-port", "8080"]).unwrap();
        let text = config.to_toml();
        let back: Config = toml::from_str(&text).unwrap();
        assert_eq!(back, config);
        let dir = std::env::temp_dir().join(format!("tailcache-cfg-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("c.toml");
        std::fs::write(&path, "memory_limit_mib = 32\nport = 1234\n").unwrap();
        let path_text = path.to_str().unwrap();
        let merged = load(&["--config", path_text, "-p", "4321"]).unwrap();
        assert_eq!(merged.memory_limit_mib, 32);
        assert_eq!(merged.port, 4321);
        std::fs::write(&path, "memory_limit = 32\n").unwrap();
        let err = load(&["--config", path_text]).unwrap_err();
        assert!(err.to_string().contains("unknown field"), "{err}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn two_protocols_on_one_port_is_an_error() {
        let err = load(&["-p", "7000", "--resp-port", "7000"]).unwrap_err();
        assert!(err.setting.contains("--resp-port"), "{err}");
        // Port 0 means "any free port" for each, so it never clashes.
        assert!(load(&["-p", "-1", "--resp-port", "0", "--http-port", "0"]).is_ok());
    }

    #[test]
    fn bad_admin_addr_is_named() {
        let err = load(&["--admin-addr", "nonsense"]).unwrap_err();
        assert!(err.setting.contains("--admin-addr"));
        assert_eq!(
            load(&["--admin-addr", "off"])
                .unwrap()
                .admin_socket_addr()
                .unwrap(),
            None
        );
    }
}
