//! The boundary between the event loop and whatever speaks on a connection.

use std::time::{Duration, Instant};

use crate::scheduler::TaskGroup;

/// What one call of [`Service::process`] did.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Processed {
    /// Input bytes fully handled; 0 means "need more input".
    pub consumed: usize,
    /// Close the connection once the output written so far is flushed.
    pub close_after_flush: bool,
}

/// Whether a background step left work behind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BackgroundProgress {
    /// Nothing left; the worker may sleep until the next interval.
    Idle,
    /// More to do; the worker polls with timeout 0 and calls again.
    MoreWork,
}

/// What a connection may still do in its turn; a service spends it as it
/// goes and stops when either part runs out, so that one client's deep
/// pipeline or huge multiget is served in slices between the others' requests.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct TurnBudget {
    /// Requests (or, for a multi-key request, keys) left this turn.
    pub requests_left: usize,
    /// Reply bytes that may still be produced this turn.
    pub output_bytes_left: usize,
}

impl TurnBudget {
    /// Whether nothing is left: the service should stop before the next request.
    pub fn is_spent(&self) -> bool {
        self.requests_left == 0 || self.output_bytes_left == 0
    }

    /// Charges `requests` requests (or keys) and `output_bytes` reply bytes.
    pub fn charge(&mut self, requests: usize, output_bytes: usize) {
        self.requests_left = self.requests_left.saturating_sub(requests);
        self.output_bytes_left = self.output_bytes_left.saturating_sub(output_bytes);
    }
}

/// Where an accepted connection comes from, in memcached's `stats conns` form.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConnOrigin {
    /// The connection's file descriptor.
    pub fd: i32,
    /// The peer: `tcp:ADDR:PORT`, or `unix:PATH` (the listener's path: unix
    /// clients have no address of their own).
    pub peer: String,
    /// The listener it came in on, in the same form (shared by its connections).
    pub listener: std::sync::Arc<str>,
}

/// Whether a connection's job has more steps to run.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JobProgress {
    /// Call [`Service::job_step`] again later.
    More,
    /// Finished: the connection's next requests are served again.
    Done,
    /// Finished, and the connection closes once its output is flushed (a
    /// response whose end is the close).
    DoneAndClose,
    /// Nothing to do until something happens elsewhere (a log watcher waiting
    /// for lines): call again after about this long, or sooner when the
    /// socket reports something. A sleeping job ends, and its connection
    /// closes, when the client hangs up or the server shuts down.
    Sleep(Duration),
}

/// Why a connection closed, as [`Service::on_close`] is told (memcached's
/// `conn_close` reasons).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CloseCause {
    /// The client hung up, or the service closed it after its last reply.
    Normal,
    /// A broken socket, a request or output past a limit, or a stalled request.
    Error,
    /// No traffic for the idle timeout, or reclaimed as the longest idle.
    IdleTimeout,
    /// The server is shutting down.
    Shutdown,
}

/// Per-worker protocol handler. Lives on its worker thread only.
pub trait Service {
    /// Per-connection state.
    type Conn;

    /// A connection was accepted on the listener with this tag.
    fn new_conn(&mut self, listener_tag: usize) -> Self::Conn;

    /// [`Service::new_conn`], told where the connection comes from; the
    /// worker calls this one (the default forgets the origin).
    fn new_conn_from(&mut self, listener_tag: usize, origin: ConnOrigin) -> Self::Conn {
        let _ = origin;
        self.new_conn(listener_tag)
    }

    /// Handles complete requests at the start of `input`, appending replies
    /// to `output`. Called again while it makes progress, input remains and
    /// the pending output is under the high-water mark, so it may stop after
    /// any request. Must not consume more than `input.len()`.
    fn process(&mut self, conn: &mut Self::Conn, input: &[u8], output: &mut Vec<u8>) -> Processed;

    /// [`Service::process`] within what is left of the connection's turn:
    /// a service that overrides it charges every request (or key) and the
    /// reply bytes it produced to `budget`, and stops once it is spent. The
    /// default charges one request per call.
    fn process_within(
        &mut self,
        conn: &mut Self::Conn,
        input: &[u8],
        output: &mut Vec<u8>,
        budget: &mut TurnBudget,
    ) -> Processed {
        let before = output.len();
        let processed = self.process(conn, input, output);
        budget.charge(1, output.len().saturating_sub(before));
        processed
    }

    /// The service's own background work of `group` for at most about
    /// `budget`; the scheduler calls it between polls when that group's turn comes.
    fn background_step(&mut self, group: TaskGroup, budget: Duration) -> BackgroundProgress {
        let _ = (group, budget);
        BackgroundProgress::Idle
    }

    /// Whether `conn` has a job (a key dump, say) to run as background steps of
    /// this group before its next request is served; asked after each
    /// [`Service::process_within`] call.
    fn job_group(&self, conn: &Self::Conn) -> Option<TaskGroup> {
        let _ = conn;
        None
    }

    /// One step of `conn`'s job for at most about `budget`, appending what it
    /// produces to `output`. Called only while `job_group` says there is a job
    /// and the connection's unsent output is under the high-water mark, so a
    /// client that does not read pauses its job instead of growing its buffer.
    fn job_step(
        &mut self,
        conn: &mut Self::Conn,
        output: &mut Vec<u8>,
        budget: Duration,
    ) -> JobProgress {
        let _ = (conn, output, budget);
        JobProgress::Done
    }

    /// When `conn` must be closed if it is still open (say, a client that has
    /// not authenticated in time), whether or not it sends anything; the
    /// worker checks at its idle scan, about once a second, against its clock.
    fn conn_deadline(&self, conn: &Self::Conn) -> Option<Instant> {
        let _ = conn;
        None
    }

    /// The connection is gone (closed by either side, for `cause`); its state is
    /// dropped after.
    fn on_close(&mut self, conn: Self::Conn, cause: CloseCause) {
        let _ = cause;
        drop(conn);
    }
}

/// Makes one [`Service`] per worker, on that worker's thread.
pub trait ServiceFactory: Send + Sync + 'static {
    /// The per-worker service.
    type Service: Service;

    /// Builds the service of worker `worker_index` (0-based).
    fn new_worker(&self, worker_index: usize) -> Self::Service;
}
