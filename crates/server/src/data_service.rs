//! The runtime service of the data ports: hands each connection to command
//! execution, counts bytes, and runs storage maintenance between polls.

use std::sync::Arc;
use std::time::Duration;

use tailcache_runtime::{
    BackgroundProgress, JobProgress, Processed, Service, ServiceFactory, TaskGroup, TurnBudget,
};

use crate::context::{Protocol, ServerContext, SharedState};
use crate::engine::run_maintenance;
use crate::exec;
use crate::metrics::Counter;

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

impl Service for DataService {
    type Conn = exec::ConnState;

    fn new_conn(&mut self, listener_tag: usize) -> exec::ConnState {
        // Tags come from `Protocol::tag` in listeners.rs; nothing else is bound.
        let protocol = Protocol::from_tag(listener_tag).unwrap_or(Protocol::Memcache);
        exec::new_conn(protocol, &self.ctx)
    }

    fn process(
        &mut self,
        conn: &mut exec::ConnState,
        input: &[u8],
        output: &mut Vec<u8>,
    ) -> Processed {
        let mut unbounded = TurnBudget {
            requests_left: usize::MAX,
            output_bytes_left: usize::MAX,
        };
        self.process_within(conn, input, output, &mut unbounded)
    }

    fn process_within(
        &mut self,
        conn: &mut exec::ConnState,
        input: &[u8],
        output: &mut Vec<u8>,
        budget: &mut TurnBudget,
    ) -> Processed {
        let before = output.len();
        let processed = exec::process(conn, &self.ctx, input, output, budget);
        let metrics = &self.ctx.metrics;
        metrics.add(Counter::BytesRead, processed.consumed as u64);
        metrics.add(
            Counter::BytesWritten,
            output.len().saturating_sub(before) as u64,
        );
        processed
    }

    fn conn_deadline(&self, conn: &exec::ConnState) -> Option<std::time::Instant> {
        exec::conn_deadline(conn)
    }

    fn job_group(&self, conn: &exec::ConnState) -> Option<TaskGroup> {
        exec::job_group(conn)
    }

    fn job_step(
        &mut self,
        conn: &mut exec::ConnState,
        output: &mut Vec<u8>,
        budget: Duration,
    ) -> JobProgress {
        let before = output.len();
        let progress = exec::job_step(conn, &self.ctx, output, budget);
        self.ctx.metrics.add(
            Counter::BytesWritten,
            output.len().saturating_sub(before) as u64,
        );
        progress
    }

    fn background_step(&mut self, group: TaskGroup, budget: Duration) -> BackgroundProgress {
        match group {
            TaskGroup::Maintenance => run_maintenance(&self.ctx.engine, budget),
            // Compaction (merge eviction) runs inside maintenance's jobs; there
            // is no snapshot yet; bulk work is per connection (key dumps).
            TaskGroup::Compaction | TaskGroup::Snapshot | TaskGroup::Bulk => {
                BackgroundProgress::Idle
            }
        }
    }
}
