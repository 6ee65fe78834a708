//! The boundary between the event loop and whatever speaks on a connection.

use std::time::Duration;

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

/// Per-worker protocol handler. Lives on its worker thread only.
pub trait Service {
    /// Per-connection state.
    type Conn;

    /// A connection was accepted on the listener with this tag.
    fn new_conn(&mut self, listener_tag: usize) -> Self::Conn;

    /// Handles complete requests at the start of `input`, appending replies
    /// to `output`. Called again while it makes progress, input remains and
    /// the pending output is under the high-water mark, so it may stop after
    /// any request. Must not consume more than `input.len()`.
    fn process(&mut self, conn: &mut Self::Conn, input: &[u8], output: &mut Vec<u8>) -> Processed;

    /// Background work for at most about `budget`; called between polls.
    fn background_step(&mut self, budget: Duration) -> BackgroundProgress {
        let _ = budget;
        BackgroundProgress::Idle
    }

    /// The connection is gone (closed by either side); its state is dropped after.
    fn on_close(&mut self, conn: Self::Conn) {
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
