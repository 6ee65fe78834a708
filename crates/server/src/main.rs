//! `tailcache`: a memcached-compatible cache server with low tail latency.

mod admin;
mod cli;
mod config;
mod context;
mod data_service;
mod engine;
mod exec;
mod extended;
mod fd_limit;
mod listeners;
mod logging;
mod metrics;
mod prometheus;
mod report;
mod server;
mod signals;
mod size;
mod stats_json;

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::Parser;

use crate::cli::Flags;
use crate::config::Config;
use crate::server::{Server, StartError};

/// sysexits.h EX_USAGE: a bad flag or setting.
const EXIT_USAGE: u8 = 64;
/// sysexits.h EX_OSERR: the system refused (address in use, no threads).
const EXIT_OS_ERROR: u8 = 71;

fn main() -> ExitCode {
    let flags = match Flags::try_parse() {
        Ok(flags) => flags,
        Err(e) => {
            let _ = e.print();
            return match e.kind() {
                ErrorKind::DisplayHelp | ErrorKind::DisplayVersion => ExitCode::SUCCESS,
                _ => ExitCode::from(EXIT_USAGE),
            };
        }
    };
    let config = match Config::load(&flags) {
        Ok(config) => config,
        Err(e) => return usage_error(&e.to_string()),
    };
    if flags.print_config {
        print!("{}", config.to_toml());
        return ExitCode::SUCCESS;
    }
    logging::init(config.verbosity);
    run(config)
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("tailcache: {message}");
    ExitCode::from(EXIT_USAGE)
}

fn run(config: Config) -> ExitCode {
    let signals = match signals::register() {
        Ok(signals) => signals,
        Err(e) => {
            eprintln!("tailcache: cannot install signal handlers: {e}");
            return ExitCode::from(EXIT_OS_ERROR);
        }
    };
    match fd_limit::ensure_fd_limit(config.conn_limit as u64) {
        Ok(limit) if limit < config.conn_limit as u64 => tracing::warn!(
            limit,
            conn_limit = config.conn_limit,
            "open-file limit is below -c; connections beyond it will be refused by the system"
        ),
        Ok(_) => {}
        Err(e) => tracing::warn!(error = %e, "cannot raise the open-file limit"),
    }
    let flush_timeout = Duration::from_secs(config.shutdown_timeout_secs);
    let server = match Server::start(config) {
        Ok(server) => server,
        Err(StartError::Config(e)) => return usage_error(&e.to_string()),
        Err(StartError::Os(message)) => {
            eprintln!("tailcache: {message}");
            return ExitCode::from(EXIT_OS_ERROR);
        }
    };
    announce(&server);
    match signals::wait_and_stop(signals, server, flush_timeout) {
        signals::Stopped::Clean => ExitCode::SUCCESS,
        signals::Stopped::Forced => ExitCode::FAILURE,
    }
}

/// Tells the user (and tests) where we listen, one line per listener.
fn announce(server: &Server) {
    let mut stdout = std::io::stdout().lock();
    for (what, addr) in &server.listening {
        let _ = writeln!(
            stdout,
            "tailcache {} listening: {what} {addr}",
            env!("CARGO_PKG_VERSION")
        );
        tracing::info!(%what, %addr, "listening");
    }
    // Scripts and tests wait for this line: every listener above is open.
    let _ = writeln!(stdout, "tailcache {} ready", env!("CARGO_PKG_VERSION"));
    let _ = stdout.flush();
}
