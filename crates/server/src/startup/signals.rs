//! SIGTERM/SIGINT/SIGUSR1: the first starts a graceful stop bounded in time
//! (memcached stops gracefully on SIGUSR1, saving its memory file); a second
//! one during the stop exits at once. SIGHUP reloads the TLS certificates (and
//! is otherwise ignored, so it never stops the server).

use std::io;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use signal_hook::consts::{SIGHUP, SIGINT, SIGTERM, SIGUSR1};
use signal_hook::iterator::Signals;

use crate::startup::server::Server;

/// Extra time beyond the workers' own flush timeout before giving up on them.
const JOIN_GRACE: Duration = Duration::from_secs(2);
/// How often a second signal is looked for while stopping.
const STOP_POLL: Duration = Duration::from_millis(50);

/// Registers the handlers; call before binding so no signal is missed.
pub fn register() -> io::Result<Signals> {
    Signals::new([SIGTERM, SIGINT, SIGUSR1, SIGHUP])
}

/// How the server ended.
#[derive(Debug, PartialEq, Eq)]
pub enum Stopped {
    /// Every connection flushed and closed in time.
    Clean,
    /// A worker panicked, timed out, or a second signal cut the stop short.
    Forced,
}

/// Blocks until a signal, then stops `server` within `flush_timeout` plus a grace.
pub fn wait_and_stop(mut signals: Signals, server: Server, flush_timeout: Duration) -> Stopped {
    let tls = server.tls();
    let signal = signals.forever().find(|&signal| {
        if signal != SIGHUP {
            return true;
        }
        match &tls {
            // A failed reload is logged and counted by `reload`; the old certificates stay.
            Some(tls) => drop(tls.reload()),
            None => tracing::info!("SIGHUP: no TLS certificates to reload"),
        }
        false
    });
    tracing::info!(?signal, "stopping: no new connections, flushing replies");
    for stopper in server.stoppers() {
        stopper.stop();
    }
    let (done_tx, done_rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done_tx.send(server.join());
    });
    let deadline = Instant::now() + flush_timeout + JOIN_GRACE;
    while Instant::now() < deadline {
        match done_rx.recv_timeout(STOP_POLL) {
            Ok(true) => return Stopped::Clean,
            Ok(false) => return Stopped::Forced,
            Err(mpsc::RecvTimeoutError::Timeout) => {}
            Err(mpsc::RecvTimeoutError::Disconnected) => return Stopped::Forced,
        }
        if signals.pending().any(|signal| signal != SIGHUP) {
            tracing::warn!("second signal: exiting without waiting");
            return Stopped::Forced;
        }
    }
    tracing::warn!("workers did not finish in time");
    Stopped::Forced
}
