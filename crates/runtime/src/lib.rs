//! tailcache runtime: a per-core event loop that knows nothing of caches.
//!
//! Each worker thread owns one `mio::Poll`, its own listening sockets (one
//! `SO_REUSEPORT` socket per worker for TCP, so the kernel spreads new
//! connections and no acceptor thread hands them off) and the sessions it
//! accepted; a connection stays on its worker for its whole life.
//!
//! The caller plugs in a [`Service`]: per connection it gets
//! `(&mut conn, input, &mut output)` and says how many bytes it consumed and
//! whether to close after flushing. Between polls the worker runs the
//! service's background step with a time budget.
//!
//! One worker turn:
//! 1. poll (timeout 0 when a connection or background work is pending),
//! 2. accept, then serve ready connections, each with a byte budget per turn,
//! 3. run one background step, close idle connections, and go back to 1.

#![warn(missing_docs)]

mod config;
mod conn_stats;
mod listener;
mod read_buf;
mod runtime;
mod service;
mod session;
mod slab;
mod stack_capture;
mod stream;
mod watchdog;
mod worker;

pub use config::{AcceptMode, RuntimeConfig};
pub use conn_stats::{ConnStats, ConnStatsSnapshot};
pub use listener::{
    BindError, BoundListener, ListenAddr, ListenerSpec, LocalAddr, DEFAULT_LISTEN_BACKLOG,
};
pub use runtime::{Runtime, Stopper};
pub use service::{BackgroundProgress, Processed, Service, ServiceFactory};
pub use watchdog::{Heartbeat, StallReport, Watchdog, WatchdogConfig, WatchdogStats};
