//! `tailcache`: a memcached-compatible cache server with low tail latency.
//! The server is the `tailcache` library; this is its start-up.

use std::io::Write;
use std::process::ExitCode;
use std::time::Duration;

use clap::error::ErrorKind;
use clap::Parser;

use tailcache::startup::cli::Flags;
use tailcache::startup::config::Config;
use tailcache::startup::process::{Daemon, PidFile};
use tailcache::startup::server::{Server, StartError};

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
    if flags.license {
        println!(
            "tailcache {}, licensed under the {} license",
            env!("CARGO_PKG_VERSION"),
            env!("CARGO_PKG_LICENSE")
        );
        return ExitCode::SUCCESS;
    }
    let (config, warnings) = match Config::load_with_warnings(&flags) {
        Ok(loaded) => loaded,
        Err(e) => return usage_error(&e.to_string()),
    };
    for warning in &warnings {
        warn_line(warning);
    }
    if flags.print_config {
        print!("{}", config.to_toml());
        return ExitCode::SUCCESS;
    }
    if let Some(path) = &flags.check_config {
        return match tailcache::startup::check_config::check(&config) {
            Ok(()) => {
                println!("tailcache: {}: configuration is valid", path.display());
                ExitCode::SUCCESS
            }
            Err(e) => usage_error(&format!("{}: {e}", path.display())),
        };
    }
    warn_if_exposed(&config);
    tailcache::startup::logging::init(config.verbosity);
    run(config)
}

fn usage_error(message: &str) -> ExitCode {
    eprintln!("tailcache: {message}");
    ExitCode::from(EXIT_USAGE)
}

/// Redis's protected-mode notice: one warning when a non-loopback address
/// serves without any authentication (and one for an open admin endpoint).
/// TLS is not served yet, hence `false`; a TLS listener will pass its state.
fn warn_if_exposed(config: &Config) {
    use tailcache::security::access;
    let addrs = config.data_addrs().unwrap_or_default();
    let credentials = &config.access.credentials;
    if access::exposed_without_auth(credentials, &addrs) {
        warn_line(access::EXPOSED_WARNING);
    }
    let admin_addr = config.admin_socket_addr().ok().flatten();
    if access::admin_exposed_without_token(credentials, admin_addr, config.tls.admin) {
        warn_line(access::ADMIN_EXPOSED_WARNING);
    }
}

/// One warning line on stderr, before logging or the terminal may be gone.
fn warn_line(message: &str) {
    eprintln!("tailcache: warning: {message}");
}

/// Runs in the foreground, or (-d) in a child that the parent waits for
/// until it serves; returns the exit status.
fn run(config: Config) -> ExitCode {
    let mut daemon = None;
    if config.daemonize {
        match tailcache::startup::process::daemonize() {
            Ok(child) => daemon = Some(child),
            Err(e) => {
                eprintln!("tailcache: cannot run in the background: {e}");
                return ExitCode::from(EXIT_OS_ERROR);
            }
        }
    }
    let code = serve(config, &mut daemon);
    if let Some(daemon) = daemon {
        daemon.failed(code);
    }
    ExitCode::from(code)
}

fn serve(mut config: Config, daemon: &mut Option<Daemon>) -> u8 {
    let signals = match tailcache::startup::signals::register() {
        Ok(signals) => signals,
        Err(e) => {
            eprintln!("tailcache: cannot install signal handlers: {e}");
            return EXIT_OS_ERROR;
        }
    };
    if config.enable_coredumps {
        if let Some(warning) = tailcache::startup::process::raise_core_limit() {
            warn_line(&warning);
        }
    }
    // -u applies only when started as root, as in memcached.
    let identity = match (&config.user, tailcache::startup::process::is_root()) {
        (Some(name), true) => match tailcache::startup::process::lookup_user(name) {
            Ok(identity) => Some(identity),
            Err(message) => {
                eprintln!("tailcache: {message}");
                return tailcache::startup::process::EXIT_NO_USER;
            }
        },
        (Some(name), false) => {
            tracing::info!(user = %name, "not started as root; -u ignored");
            None
        }
        (None, _) => None,
    };
    let asked = config.conn_limit as u64;
    match tailcache::startup::fd_limit::ensure_fd_limit(asked, config.threads) {
        Ok(limit) => {
            let fits =
                tailcache::startup::fd_limit::connections_that_fit(asked, limit, config.threads);
            if fits < asked {
                tracing::warn!(
                    open_file_limit = limit,
                    reserved = tailcache::startup::fd_limit::reserved_fds(config.threads),
                    "-c {asked} does not fit the open-file limit; -c {fits} in force"
                );
                config.conn_limit = usize::try_from(fits).unwrap_or(config.conn_limit);
            }
        }
        Err(e) => tracing::warn!(error = %e, "cannot raise the open-file limit"),
    }
    let flush_timeout = Duration::from_secs(config.shutdown_timeout_secs);
    let pid_path = config.pid_file.clone();
    let keep_stdio = config.verbosity > 0;
    let keep_cwd = config.enable_coredumps;
    let unix_socket = config.unix_socket.clone();
    let lock_memory = config.lock_memory;
    let after_bind = || {
        if lock_memory {
            if let Some(warning) = tailcache::startup::process::lock_memory() {
                warn_line(&warning);
            }
        }
        let Some(who) = &identity else { return Ok(()) };
        if let Some(path) = &unix_socket {
            tailcache::startup::process::chown_socket(path, who).map_err(|e| {
                StartError::Os(format!(
                    "cannot give the unix socket {} to {}: {e}",
                    path.display(),
                    who.name
                ))
            })?;
        }
        tailcache::startup::process::switch_user(who, keep_cwd).map_err(StartError::Os)?;
        tracing::info!(user = %who.name, uid = who.uid, "switched user");
        Ok(())
    };
    let server = match Server::start(config, after_bind) {
        Ok(server) => server,
        Err(StartError::Config(e)) => {
            eprintln!("tailcache: {e}");
            return EXIT_USAGE;
        }
        Err(StartError::Os(message)) => {
            eprintln!("tailcache: {message}");
            return EXIT_OS_ERROR;
        }
    };
    // Written after switching user, as memcached does, so the user can remove it.
    let pid_file = pid_path.and_then(|path| match PidFile::write(&path) {
        Ok(file) => Some(file),
        Err(e) => {
            warn_line(&format!(
                "could not write the pid file {}: {e}",
                path.display()
            ));
            None
        }
    });
    announce(&server);
    if let Some(daemon) = daemon.take() {
        daemon.serving(keep_stdio, keep_cwd);
    }
    let engine = server.engine();
    let stopped = tailcache::startup::signals::wait_and_stop(signals, server, flush_timeout);
    let saved = save_heap_file(&engine, &stopped);
    if let Some(file) = pid_file {
        let path = file.path().to_owned();
        if let Err(e) = file.remove() {
            tracing::warn!(error = %e, path = %path.display(), "could not remove the pid file");
        }
    }
    match (stopped, saved) {
        (tailcache::startup::signals::Stopped::Clean, true) => 0,
        _ => 1,
    }
}

/// Writes the heap file's image once every worker has stopped, so the next start
/// restores every item; false if that could not be done. A stop that was cut
/// short leaves the file marked in use: the next start is empty, never wrong.
fn save_heap_file(
    engine: &tailcache::startup::engine::Engine,
    stopped: &tailcache::startup::signals::Stopped,
) -> bool {
    let Some(path) = engine.heap_file_path() else {
        return true;
    };
    let path = path.display();
    if *stopped != tailcache::startup::signals::Stopped::Clean {
        tracing::warn!(
            "heap file {path}: not saved, the stop was cut short; the next start will be empty"
        );
        return false;
    }
    match engine.save_heap_file() {
        Ok(report) => {
            let line = format!(
                "heap file {path}: saved {} items ({} bytes checksummed) in {} ms",
                report.items,
                report.checksummed_bytes,
                report.elapsed.as_millis()
            );
            tracing::info!("{line}");
            let mut stdout = std::io::stdout().lock();
            let _ = writeln!(stdout, "tailcache {} {line}", env!("CARGO_PKG_VERSION"));
            let _ = stdout.flush();
            true
        }
        Err(e) => {
            tracing::error!("heap file {path}: not saved: {e}; the next start will be empty");
            false
        }
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
    if let Some(line) = &server.warm_start {
        let _ = writeln!(stdout, "tailcache {} {line}", env!("CARGO_PKG_VERSION"));
    }
    // Scripts and tests wait for this line: every listener above is open.
    let _ = writeln!(stdout, "tailcache {} ready", env!("CARGO_PKG_VERSION"));
    let _ = stdout.flush();
}
