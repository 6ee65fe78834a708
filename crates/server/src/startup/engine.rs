//! Building (or restoring) the storage engine from the configuration, and the
//! background step the workers run between polls.

use std::sync::Arc;
use std::time::{Duration, Instant};

use tailcache_runtime::BackgroundProgress;
use tailcache_storage::{
    Clock, ConfigError as StorageConfigError, EvictionPolicy, HeapFileError, StepBudget, WarmStart,
};

use crate::startup::cli::EvictionName;
use crate::startup::config::{Config, ConfigError};
use crate::startup::server::StartError;

/// The storage engine every worker shares.
pub type Engine = tailcache_storage::Cache;

/// Items one maintenance call may visit (each under its own short bucket hold):
/// about 30-60 us of work, so a request that arrives meanwhile waits no longer.
const ITEMS_PER_STEP: usize = 64;
/// Most maintenance calls in one background turn, whatever the clock says.
const MAX_STEPS_PER_TURN: usize = 64;

/// The engine `config` describes, in memory, reserving its memory now.
pub fn build_engine(config: &Config) -> Result<Engine, ConfigError> {
    Engine::new(storage_config(config))
        .map_err(|e| ConfigError::invalid(setting_of(&e), e.to_string()))
}

/// The engine `config` describes: on its heap file when it names one (restored from
/// it when the last run shut down cleanly with the same settings), else in memory;
/// on `clock` when given (--debug-commands), else the system clock.
pub fn open_engine(
    config: &Config,
    clock: Option<Arc<dyn Clock>>,
) -> Result<(Engine, Option<WarmStart>), StartError> {
    let config_error = |e: StorageConfigError| {
        StartError::Config(ConfigError::invalid(setting_of(&e), e.to_string()))
    };
    let Some(path) = &config.heap_file else {
        let engine = match clock {
            Some(clock) => Engine::with_clock(storage_config(config), clock),
            None => Engine::new(storage_config(config)),
        };
        return engine.map(|engine| (engine, None)).map_err(config_error);
    };
    let opened = match clock {
        Some(clock) => Engine::open_heap_file_with_clock(storage_config(config), path, clock),
        None => Engine::open_heap_file(storage_config(config), path),
    };
    match opened {
        Ok((engine, warm_start)) => Ok((engine, Some(warm_start))),
        Err(HeapFileError::Config(e)) => Err(config_error(e)),
        Err(e) => Err(StartError::Os(e.to_string())),
    }
}

/// One line on how an engine on a heap file started, for the log and stdout.
pub fn describe_warm_start(path: &std::path::Path, warm_start: &WarmStart) -> String {
    match warm_start {
        WarmStart::Restored { items, elapsed } => format!(
            "heap file {}: restored {items} items in {} ms",
            path.display(),
            elapsed.as_millis()
        ),
        WarmStart::Empty(reason) => {
            format!("heap file {}: starting empty: {reason}", path.display())
        }
    }
}

/// Checks the storage settings as building the engine would, without reserving memory.
pub fn check_engine(config: &Config) -> Result<(), ConfigError> {
    storage_config(config)
        .validate()
        .map_err(|e| ConfigError::invalid(setting_of(&e), e.to_string()))
}

fn storage_config(config: &Config) -> tailcache_storage::Config {
    tailcache_storage::Config {
        heap_size_bytes: to_usize(config.memory_limit_mib << 20),
        segment_size_bytes: to_usize(config.segment_size_bytes),
        item_size_limit_bytes: to_usize(config.max_item_size_bytes),
        eviction: match config.eviction {
            EvictionName::Merge => EvictionPolicy::Merge,
            EvictionName::Fifo => EvictionPolicy::Fifo,
            EvictionName::Random => EvictionPolicy::Random,
            EvictionName::None => EvictionPolicy::None,
        },
        cas_enabled: config.cas_enabled,
        evict_ahead: config.evict_ahead,
        expected_item_size_bytes: to_usize(config.expected_item_size_bytes),
    }
}

fn to_usize(bytes: u64) -> usize {
    usize::try_from(bytes).unwrap_or(usize::MAX)
}

/// The flag a storage config error is about.
fn setting_of(error: &StorageConfigError) -> &'static str {
    match error {
        StorageConfigError::SegmentSize { .. } => "--segment-size (segment_size_bytes)",
        StorageConfigError::ItemSizeLimit { .. } => "-I/--max-item-size (max_item_size_bytes)",
        StorageConfigError::HeapTooSmall { .. } | StorageConfigError::HeapTooLarge { .. } => {
            "-m/--memory-limit (memory_limit_mib)"
        }
        StorageConfigError::ExpectedItemSize { .. } => {
            crate::startup::config::EXPECTED_ITEM_SIZE_SETTING
        }
    }
}

/// Expiry and evict-ahead: one small step per turn, so requests are served between
/// steps; the whole `budget` only when the free pool is empty and writes are
/// evicting for themselves, which is slower for them than this.
pub fn run_maintenance(engine: &Engine, budget: Duration) -> BackgroundProgress {
    let started = Instant::now();
    for _ in 0..MAX_STEPS_PER_TURN {
        let progress = engine.maintenance_step(StepBudget {
            max_items: ITEMS_PER_STEP,
        });
        if !progress.more_work {
            return BackgroundProgress::Idle;
        }
        if !progress.urgent || started.elapsed() >= budget {
            break;
        }
    }
    BackgroundProgress::MoreWork
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[test]
    fn idle_maintenance_is_cheap_and_idle() {
        let flags = crate::startup::cli::Flags::try_parse_from(["tailcache", "-t", "2"]).unwrap();
        let config = Config::load(&flags).unwrap();
        let engine = build_engine(&config).unwrap();
        let started = Instant::now();
        let calls = 100u32;
        for _ in 0..calls {
            let progress = run_maintenance(&engine, Duration::from_micros(500));
            assert_eq!(
                progress,
                BackgroundProgress::Idle,
                "an empty cache has no work"
            );
        }
        let per_call = started.elapsed() / calls;
        eprintln!("idle maintenance: {per_call:?} per call");
    }
}
