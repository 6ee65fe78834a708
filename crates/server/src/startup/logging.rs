//! Log setup: warnings by default, -v info, -vv debug, -vvv trace; `RUST_LOG`
//! overrides. Nothing is logged per request below debug.

use tracing_subscriber::EnvFilter;

/// Installs the global subscriber on stderr; a second call is a no-op.
pub fn init(verbosity: u8) {
    let level = match verbosity {
        0 => "warn",
        1 => "info",
        2 => "debug",
        _ => "trace",
    };
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(level));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_target(false)
        .try_init();
}
