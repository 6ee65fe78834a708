//! tailcache runtime: a per-core event loop that knows nothing of caches.
//!
//! Each worker thread owns one `mio::Poll`, its own listening sockets (one
//! `SO_REUSEPORT` socket per worker for TCP, so the kernel spreads new
//! connections and no acceptor thread hands them off) and the sessions it
//! accepted; a connection stays on its worker for its whole life.
//!
//! The caller plugs in a [`Service`]: per connection it gets
//! `(&mut conn, input, &mut output, &mut budget)` and says how many bytes it
//! consumed and whether to close after flushing.
//!
//! One worker turn:
//! 1. poll (timeout 0 when a connection or background work is pending),
//! 2. accept, then serve ready connections in turn, each within a
//!    [`TurnBudget`] of requests (keys of a multiget), bytes read and reply
//!    bytes produced, so that a deep pipeline or a huge multiget is served in
//!    slices and delays the others by one slice at most,
//! 3. run background steps for at most the task quota (0.5 ms), the
//!    [`TaskGroup`] with the lowest runtime divided by its shares first
//!    (Seastar's virtual runtime); while connections have requests waiting,
//!    only as much as the groups' minimum share owes them,
//! 4. close idle connections, and go back to 1.
//!
//! Background work is resumable steps, never threads: the service's own work
//! per group ([`Service::background_step`]), and connections' jobs (a key
//! dump a client asked for: [`Service::job_group`], [`Service::job_step`]),
//! which pause while their client's unread output is above the high-water
//! mark. Per-group runtime, wait, steps, queue length and quota violations,
//! and histograms of scheduling delay and turn duration, are in
//! [`SchedulerStats`]. A [`Watchdog`] thread reports a worker that reaches no
//! scheduling point for the stall threshold, with the task it was running.
//! Time comes from an injectable [`Clock`], so timeouts are tested without
//! sleeping.
//!
//! # Example: a line-echo server
//!
//! ```
//! use std::io::{BufRead, BufReader, Write};
//! use std::sync::Arc;
//! use tailcache_runtime::{
//!     BoundListener, ConnStats, ListenAddr, ListenerSpec, LocalAddr, Processed,
//!     Runtime, RuntimeConfig, Service, ServiceFactory,
//! };
//!
//! /// Answers each line with itself.
//! struct Echo;
//!
//! impl Service for Echo {
//!     type Conn = ();
//!     fn new_conn(&mut self, _listener_tag: usize) {}
//!     fn process(&mut self, _conn: &mut (), input: &[u8], output: &mut Vec<u8>) -> Processed {
//!         match input.iter().position(|&b| b == b'\n') {
//!             Some(end) => {
//!                 output.extend_from_slice(&input[..=end]);
//!                 Processed { consumed: end + 1, close_after_flush: false }
//!             }
//!             None => Processed::default(), // wait for the rest of the line
//!         }
//!     }
//! }
//!
//! struct OnePerWorker;
//!
//! impl ServiceFactory for OnePerWorker {
//!     type Service = Echo;
//!     fn new_worker(&self, _worker_index: usize) -> Echo {
//!         Echo
//!     }
//! }
//!
//! let config = RuntimeConfig { workers: 2, ..RuntimeConfig::default() };
//! let spec = ListenerSpec {
//!     addr: ListenAddr::Tcp("127.0.0.1:0".parse().unwrap()),
//!     tag: 0,
//!     reject_reply: b"busy\n".to_vec(),
//!     overflow_reply: Vec::new(),
//!     backlog: tailcache_runtime::DEFAULT_LISTEN_BACKLOG,
//!     tls: None,
//! };
//! let listener = BoundListener::bind(spec, config.workers, config.accept_mode).unwrap();
//! let LocalAddr::Tcp(addr) = listener.local_addr().clone() else { unreachable!() };
//! let stats = Arc::new(ConnStats::default());
//! let runtime = Runtime::start(config, vec![listener], Arc::new(OnePerWorker), stats).unwrap();
//!
//! let mut client = std::net::TcpStream::connect(addr).unwrap();
//! client.write_all(b"hello\n").unwrap();
//! let mut line = String::new();
//! BufReader::new(&client).read_line(&mut line).unwrap();
//! assert_eq!(line, "hello\n");
//!
//! runtime.stopper().stop();
//! assert!(runtime.join(), "no worker panicked");
//! ```

#![warn(missing_docs)]

mod buffer_stats;
mod clock;
mod config;
mod conn_stats;
mod heartbeat;
mod histogram;
mod listener;
mod read_buf;
mod runtime;
mod scheduler;
mod service;
mod session;
mod slab;
// Reads a stalled worker's stack from a signal handler: no safe API does that.
#[allow(unsafe_code)]
mod stack_capture;
mod stream;
mod tls;
mod watchdog;
mod worker;

pub use buffer_stats::BufferStats;
pub use clock::{Clock, ManualClock, SystemClock};
pub use config::{AcceptMode, RuntimeConfig, RuntimeConfigError};
pub use conn_stats::{ConnStats, ConnStatsSnapshot};
pub use heartbeat::Heartbeat;
pub use histogram::{HistogramSnapshot, LatencyHistogram};
pub use listener::{
    BindError, BoundListener, ListenAddr, ListenerSpec, LocalAddr, DEFAULT_LISTEN_BACKLOG,
};
pub use runtime::{Runtime, Stopper, EXIT_WORKER_FAILED};
pub use scheduler::{GroupShares, GroupStatsSnapshot, SchedulerStats, TaskGroup};
pub use service::{
    BackgroundProgress, CloseCause, ConnOrigin, JobProgress, Processed, Service, ServiceFactory,
    TurnBudget,
};
pub use tls::{TlsAcceptor, TlsCounters};
pub use watchdog::{StallReport, Watchdog, WatchdogConfig, WatchdogStats};
