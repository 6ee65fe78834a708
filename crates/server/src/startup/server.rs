//! Starting the server (engine, listeners, runtimes) and stopping it.

use std::sync::Arc;

use tailcache_runtime::{BoundListener, Runtime, RuntimeConfig, Stopper};

use crate::context::SharedState;
use crate::data_service::DataServiceFactory;
use crate::observability::admin::AdminFactory;
use crate::security::tls::TlsState;
use crate::startup::config::{Config, ConfigError};
use crate::startup::engine::{describe_warm_start, open_engine, Engine};
use crate::startup::listeners::{accept_mode, bind_admin, bind_data};

/// Read buffer headroom beyond the largest item: the command line and a
/// pipelined request or two around the value.
const READ_BUFFER_HEADROOM_BYTES: usize = 64 * 1024;
/// Read buffer a connection starts with.
const READ_BUFFER_INITIAL_BYTES: usize = 16 * 1024;

/// Why the server could not start.
#[derive(Debug)]
pub enum StartError {
    /// A setting is unusable (exit 64).
    Config(ConfigError),
    /// A listener or thread could not be set up (exit 71).
    Os(String),
}

/// A running server.
pub struct Server {
    data: Runtime,
    admin: Option<Runtime>,
    /// What listens where, for the start-up message: (what, address).
    pub listening: Vec<(String, String)>,
    /// How the engine came back from its heap file, for the start-up message.
    pub warm_start: Option<String>,
    tls: Option<Arc<TlsState>>,
    engine: Arc<Engine>,
}

impl Server {
    /// Builds the engine, binds every listener, runs `after_bind` (still
    /// on this thread alone: locking memory, switching user), then starts
    /// the workers.
    pub fn start(
        config: Config,
        after_bind: impl FnOnce() -> Result<(), StartError>,
    ) -> Result<Self, StartError> {
        // Restored before anything listens: the first request sees every item.
        let debug_clock = config
            .debug_commands
            .then(|| Arc::new(tailcache_storage::SteppedClock::new()));
        let engine_clock = debug_clock
            .clone()
            .map(|clock| clock as Arc<dyn tailcache_storage::Clock>);
        let (engine, warm_start) = open_engine(&config, engine_clock)?;
        let warm_start = warm_start.map(|warm_start| {
            let path = config
                .heap_file
                .as_deref()
                .unwrap_or(std::path::Path::new(""));
            let line = describe_warm_start(path, &warm_start);
            match warm_start {
                tailcache_storage::WarmStart::Empty(tailcache_storage::EmptyReason::NewFile)
                | tailcache_storage::WarmStart::Restored { .. } => tracing::info!("{line}"),
                tailcache_storage::WarmStart::Empty(_) => tracing::warn!("{line}"),
            }
            line
        });
        let engine = Arc::new(engine);
        let tls = config
            .tls
            .any_listener()
            .then(|| TlsState::load(&config.tls))
            .transpose()
            .map_err(|e| {
                StartError::Config(ConfigError::unreadable("--tls-cert/--tls-key/--tls-ca", e))
            })?
            .map(Arc::new);
        let acceptor = tls.as_ref().map(|t| t.acceptor());
        let data_listeners = bind_data(&config, acceptor.as_ref()).map_err(StartError::Os)?;
        if let Some(path) = std::env::var_os(crate::startup::port_file::PORT_FILE_VARIABLE) {
            let memcache = data_listeners
                .iter()
                .filter(|(protocol, _)| *protocol == crate::context::Protocol::Memcache)
                .map(|(_, listener)| listener.local_addr());
            let lines = crate::startup::port_file::port_lines(memcache);
            crate::startup::port_file::write(std::path::Path::new(&path), &lines)
                .map_err(StartError::Os)?;
        }
        let admin_addr = config.admin_socket_addr().map_err(StartError::Config)?;
        let admin_tls = acceptor.filter(|_| config.tls.admin);
        let admin_listener = admin_addr
            .map(|addr| bind_admin(addr, admin_tls))
            .transpose()
            .map_err(StartError::Os)?;
        let mut listening: Vec<(String, String)> = data_listeners
            .iter()
            .map(|(p, l)| (listener_label(p.name(), l), l.local_addr().to_string()))
            .collect();
        if let Some(admin) = &admin_listener {
            let label = listener_label("admin", admin);
            listening.push((label, admin.local_addr().to_string()));
        }
        after_bind()?;
        let config = Arc::new(config);
        let shared = Arc::new(SharedState::new(
            engine.clone(),
            config.clone(),
            config.threads,
        ));
        if let Some(tls) = &tls {
            shared.set_tls(tls.clone());
        }
        if let Some(clock) = debug_clock {
            shared.set_debug_clock(clock);
        }
        shared.conns.set_listeners(
            data_listeners
                .iter()
                .flat_map(|(_, listener)| {
                    let addr = listener.local_addr().conn_form();
                    listener.raw_fds().into_iter().map(move |fd| {
                        crate::conn_registry::ListeningSocket {
                            fd,
                            addr: addr.clone(),
                        }
                    })
                })
                .collect(),
        );
        let data = Runtime::start(
            data_runtime_config(&config),
            data_listeners.into_iter().map(|(_, l)| l).collect(),
            Arc::new(DataServiceFactory::new(shared.clone())),
            shared.conn_stats.clone(),
        )
        .map_err(|e| StartError::Os(format!("cannot start workers: {e}")))?;
        shared.set_runtime_figures(crate::context::RuntimeFigures {
            scheduler: data.scheduler_stats(),
            watchdog: data.watchdog_stats(),
            buffers: data.buffer_stats(),
        });
        let admin = match admin_listener {
            Some(listener) => Some(start_admin(&config, listener, shared)?),
            None => None,
        };
        Ok(Self {
            data,
            admin,
            listening,
            warm_start,
            tls,
            engine,
        })
    }

    /// The storage engine (to save its heap file once every worker has stopped).
    pub fn engine(&self) -> Arc<Engine> {
        self.engine.clone()
    }

    /// The TLS certificates' state, when any listener speaks TLS.
    pub fn tls(&self) -> Option<Arc<TlsState>> {
        self.tls.clone()
    }

    /// Handles that stop the data and admin runtimes.
    pub fn stoppers(&self) -> Vec<Stopper> {
        let mut stoppers = vec![self.data.stopper()];
        stoppers.extend(self.admin.as_ref().map(Runtime::stopper));
        stoppers
    }

    /// Waits for every worker; true if none panicked.
    pub fn join(self) -> bool {
        let data_clean = self.data.join();
        let admin_clean = self.admin.map(Runtime::join).unwrap_or(true);
        data_clean && admin_clean
    }
}

/// What the start-up line calls a listener: `memcache`, or `memcache+tls`.
fn listener_label(name: &str, listener: &BoundListener) -> String {
    if listener.speaks_tls() {
        format!("{name}+tls")
    } else {
        name.to_owned()
    }
}

fn data_runtime_config(config: &Config) -> RuntimeConfig {
    let read_max = usize::try_from(config.max_item_size_bytes).unwrap_or(usize::MAX)
        + READ_BUFFER_HEADROOM_BYTES;
    RuntimeConfig {
        workers: config.threads,
        thread_name: "tc-worker".to_owned(),
        max_connections: config.conn_limit,
        read_buffer_initial_bytes: READ_BUFFER_INITIAL_BYTES,
        read_buffer_max_bytes: read_max,
        write_buffer_high_water_bytes: config.write_buffer_high_water_bytes,
        output_cap_bytes: config.output_cap_bytes(),
        buffer_budget_bytes: (config.connection_buffer_budget_mib > 0).then(|| {
            usize::try_from(config.connection_buffer_budget_mib << 20).unwrap_or(usize::MAX)
        }),
        socket_send_buffer_bytes: (config.socket_send_buffer_kib > 0)
            .then(|| usize::try_from(config.socket_send_buffer_kib << 10).unwrap_or(usize::MAX)),
        idle_reclaim_after: (config.idle_reclaim_secs > 0)
            .then(|| std::time::Duration::from_secs(config.idle_reclaim_secs)),
        exit_process_on_worker_failure: true,
        turn_budget_bytes: config.turn_budget_bytes,
        turn_budget_requests: config.turn_budget_requests,
        turn_budget_output_bytes: config.turn_budget_output_bytes,
        idle_timeout: (config.idle_timeout_secs > 0)
            .then(|| std::time::Duration::from_secs(config.idle_timeout_secs)),
        request_timeout: (config.request_timeout_secs > 0)
            .then(|| std::time::Duration::from_secs(config.request_timeout_secs)),
        task_quota: std::time::Duration::from_micros(config.task_quota_us),
        heavy_turn: std::time::Duration::from_micros(config.heavy_turn_us),
        background_min_share_percent: config.background_min_share_percent,
        group_shares: tailcache_runtime::GroupShares {
            maintenance: config.shares_maintenance,
            compaction: config.shares_compaction,
            snapshot: config.shares_snapshot,
            bulk: config.shares_bulk,
        },
        stall_threshold: (config.stall_threshold_ms > 0)
            .then(|| std::time::Duration::from_millis(config.stall_threshold_ms)),
        accept_mode: accept_mode(config),
        shutdown_timeout: std::time::Duration::from_secs(config.shutdown_timeout_secs),
        ..RuntimeConfig::default()
    }
}

/// Admin runs on one thread of its own with a small connection limit.
fn start_admin(
    config: &Config,
    listener: BoundListener,
    shared: Arc<SharedState>,
) -> Result<Runtime, StartError> {
    let runtime_config = RuntimeConfig {
        workers: 1,
        thread_name: "tc-admin".to_owned(),
        max_connections: 64,
        read_buffer_initial_bytes: 4 * 1024,
        read_buffer_max_bytes: crate::observability::admin::MAX_ADMIN_REQUEST_BYTES * 2,
        idle_timeout: Some(std::time::Duration::from_secs(60)),
        // No background work here: wake only for the idle scan.
        background_interval: std::time::Duration::from_secs(1),
        // Not on the request path; the data workers have the watchdog.
        stall_threshold: None,
        shutdown_timeout: std::time::Duration::from_secs(config.shutdown_timeout_secs.min(1)),
        ..RuntimeConfig::default()
    };
    let stats = Arc::new(tailcache_runtime::ConnStats::default());
    Runtime::start(
        runtime_config,
        vec![listener],
        Arc::new(AdminFactory::new(shared)),
        stats,
    )
    .map_err(|e| StartError::Os(format!("cannot start admin endpoint: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::startup::cli::Flags;
    use crate::startup::config::ConfigError;
    use clap::Parser;

    /// The config a TOML file with `text` and no flags loads to.
    fn config_from_toml(name: &str, text: &str) -> Result<Config, ConfigError> {
        let path = std::env::temp_dir().join(format!(
            "tailcache-server-{name}-{}.toml",
            std::process::id()
        ));
        std::fs::write(&path, text).expect("write config");
        let flags = Flags::try_parse_from(["tailcache", "--config", path.to_str().expect("path")])
            .expect("flags parse");
        let config = Config::load(&flags);
        std::fs::remove_file(&path).expect("remove config");
        config
    }

    #[test]
    fn socket_send_buffer_kib_reaches_the_data_runtime_and_is_bounded() {
        let default = config_from_toml("sndbuf-default", "").expect("defaults");
        assert_eq!(data_runtime_config(&default).socket_send_buffer_bytes, None);
        let set = config_from_toml("sndbuf-set", "socket_send_buffer_kib = 256\n").expect("256");
        assert_eq!(
            data_runtime_config(&set).socket_send_buffer_bytes,
            Some(256 * 1024)
        );
        for bad in [1, 1 << 21] {
            let err = config_from_toml("sndbuf-bad", &format!("socket_send_buffer_kib = {bad}\n"))
                .expect_err("out of range");
            assert!(err.setting().contains("socket_send_buffer_kib"), "{err}");
        }
    }
}
