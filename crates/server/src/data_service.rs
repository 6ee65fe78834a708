//! The runtime service of the data ports: hands each connection to command
//! execution, counts bytes, and runs storage maintenance between polls.

use std::sync::Arc;
use std::time::Duration;

use tailcache_runtime::{
    BackgroundProgress, CloseCause, ConnOrigin, JobProgress, Processed, Service, ServiceFactory,
    TaskGroup, TurnBudget,
};

use crate::conn_registry::{ConnHandle, ConnPhase};
use crate::context::{Protocol, ServerContext, SharedState};
use crate::exec;
use crate::observability::metrics::Counter;
use crate::startup::engine::run_maintenance;

/// Makes one [`DataService`] per worker.
pub struct DataServiceFactory {
    shared: Arc<SharedState>,
}

impl DataServiceFactory {
    /// A factory over the shared server state.
    pub fn new(shared: Arc<SharedState>) -> Self {
        Self { shared }
    }
}

impl ServiceFactory for DataServiceFactory {
    type Service = DataService;

    fn new_worker(&self, worker_index: usize) -> DataService {
        DataService {
            ctx: ServerContext::new(self.shared.clone(), worker_index),
        }
    }
}

/// One worker's data-port handler.
pub struct DataService {
    ctx: ServerContext,
}

/// A data connection: its protocol state, and its row in `stats conns`
/// (none for a connection made without an origin, as the fuzz target makes).
pub struct DataConn {
    state: exec::ConnState,
    registration: Option<ConnHandle>,
}

impl DataService {
    fn open(&self, listener_tag: usize, registration: Option<ConnHandle>) -> DataConn {
        // Tags come from `Protocol::tag` in listeners.rs; nothing else is bound.
        let protocol = Protocol::from_tag(listener_tag).unwrap_or(Protocol::Memcache);
        let entry = registration.as_ref().map(ConnHandle::shared_entry);
        DataConn {
            state: exec::new_conn(protocol, &self.ctx, entry),
            registration,
        }
    }
}

/// What a connection is doing once `consumed` bytes of `input` are handled:
/// a part of a request is left, with its first line whole (a storage
/// command's data is on its way) or not.
fn phase_after(input: &[u8], consumed: usize) -> ConnPhase {
    let rest = input.get(consumed..).unwrap_or_default();
    if rest.is_empty() {
        ConnPhase::NewCmd
    } else if memchr::memchr(b'\n', rest).is_some() {
        ConnPhase::NRead
    } else {
        ConnPhase::Waiting
    }
}

impl DataConn {
    /// Its fd (`cfd` in watch lines), or -1 for a connection made without an origin.
    fn fd(&self) -> i32 {
        self.registration
            .as_ref()
            .map_or(-1, |registration| registration.entry().origin().fd)
    }
}

/// memcached's name for why a connection closed.
fn close_reason_name(conn: &DataConn, cause: CloseCause) -> &'static str {
    if exec::closing_on_error(&conn.state) {
        return "error";
    }
    match cause {
        CloseCause::Normal => "normal",
        CloseCause::Error => "error",
        CloseCause::IdleTimeout => "idle_timeout",
        CloseCause::Shutdown => "shutdown",
    }
}

impl Service for DataService {
    type Conn = DataConn;

    fn new_conn(&mut self, listener_tag: usize) -> DataConn {
        self.open(listener_tag, None)
    }

    fn new_conn_from(&mut self, listener_tag: usize, origin: ConnOrigin) -> DataConn {
        let now = self.ctx.engine.now_unix_secs();
        self.ctx.shared.log_watchers.conn_opened(&origin);
        let registration = self.ctx.shared.conns.open(origin, now);
        self.open(listener_tag, Some(registration))
    }

    fn process(&mut self, conn: &mut DataConn, input: &[u8], output: &mut Vec<u8>) -> Processed {
        let mut unbounded = TurnBudget {
            requests_left: usize::MAX,
            output_bytes_left: usize::MAX,
        };
        self.process_within(conn, input, output, &mut unbounded)
    }

    fn process_within(
        &mut self,
        conn: &mut DataConn,
        input: &[u8],
        output: &mut Vec<u8>,
        budget: &mut TurnBudget,
    ) -> Processed {
        if let Some(registration) = &conn.registration {
            registration.entry().begin_commands();
        }
        self.ctx.set_conn_fd(conn.fd());
        let before = output.len();
        let processed = exec::process(&mut conn.state, &self.ctx, input, output, budget);
        if let Some(registration) = &conn.registration {
            let entry = registration.entry();
            entry.set_phase(phase_after(input, processed.consumed));
            if processed.consumed > 0 {
                entry.note_command(self.ctx.engine.now_unix_secs());
            }
        }
        let metrics = &self.ctx.metrics;
        metrics.add(Counter::BytesRead, processed.consumed as u64);
        metrics.add(
            Counter::BytesWritten,
            output.len().saturating_sub(before) as u64,
        );
        processed
    }

    fn conn_deadline(&self, conn: &DataConn) -> Option<std::time::Instant> {
        exec::conn_deadline(&conn.state)
    }

    fn job_group(&self, conn: &DataConn) -> Option<TaskGroup> {
        exec::job_group(&conn.state)
    }

    fn job_step(
        &mut self,
        conn: &mut DataConn,
        output: &mut Vec<u8>,
        budget: Duration,
    ) -> JobProgress {
        let before = output.len();
        self.ctx.set_conn_fd(conn.fd());
        let progress = exec::job_step(&mut conn.state, &self.ctx, output, budget);
        self.ctx.metrics.add(
            Counter::BytesWritten,
            output.len().saturating_sub(before) as u64,
        );
        progress
    }

    fn on_close(&mut self, conn: DataConn, cause: CloseCause) {
        let watchers = &self.ctx.shared.log_watchers;
        if let Some(watcher) = exec::watcher(&conn.state) {
            watchers.remove(watcher);
        }
        if let Some(registration) = &conn.registration {
            let origin = registration.entry().origin();
            watchers.conn_closed(origin, close_reason_name(&conn, cause));
        }
    }

    fn background_step(&mut self, group: TaskGroup, budget: Duration) -> BackgroundProgress {
        match group {
            TaskGroup::Maintenance => run_maintenance(&self.ctx.engine, budget),
            // `lru_crawler crawl`; the other bulk work is per connection (key dumps).
            TaskGroup::Bulk => self.ctx.shared.lru_crawl.step(&self.ctx.engine, budget),
            // Compaction (merge eviction) runs inside maintenance's jobs; there
            // is no snapshot yet.
            TaskGroup::Compaction | TaskGroup::Snapshot => BackgroundProgress::Idle,
        }
    }
}
