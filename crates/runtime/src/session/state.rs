//! Where a session is in its life, how a turn ends, and why a session closed.

use std::time::Instant;

use crate::scheduler::TaskGroup;
use crate::service::CloseCause;

/// What the worker should do with a session after its turn.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum TurnEnd {
    /// Wait for the next readiness event.
    Wait,
    /// Read budget spent, or more to do after a job: serve again next turn.
    Requeue,
    /// Request budget spent with input still waiting: the others' turn first.
    Yield,
    /// Its job is ready for another step: queue it in this group.
    Job(TaskGroup),
    /// Its job waits for something to happen: step it again at this instant
    /// (or sooner, when its socket reports something).
    JobSleep(Instant),
    /// Close it now.
    Close(CloseReason),
}

/// Why a session closed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CloseReason {
    /// Peer closed, or the service asked to close, and all output went out.
    Done,
    /// A request outgrew the read buffer.
    Overflow,
    /// The service panicked on this connection's input.
    ServicePanic,
    /// The socket failed.
    Io,
    /// No traffic for the idle timeout.
    Idle,
    /// A request stayed incomplete for the request timeout.
    Stalled,
    /// The service's deadline for it passed ([`crate::Service::conn_deadline`]).
    Deadline,
    /// Its unsent output passed the per-connection cap (a client not reading).
    OutputCap,
    /// The connections' buffers together passed the global budget and this
    /// one held the most.
    OverBudget,
    /// At the connection limit, the longest-idle connection made room for a new one.
    Reclaimed,
    /// The server is shutting down.
    Shutdown,
}

impl CloseReason {
    /// How the service is told of it.
    pub(crate) fn cause(self) -> CloseCause {
        match self {
            CloseReason::Done => CloseCause::Normal,
            CloseReason::Idle | CloseReason::Reclaimed => CloseCause::IdleTimeout,
            CloseReason::Shutdown => CloseCause::Shutdown,
            CloseReason::Overflow
            | CloseReason::ServicePanic
            | CloseReason::Io
            | CloseReason::Stalled
            | CloseReason::Deadline
            | CloseReason::OutputCap
            | CloseReason::OverBudget => CloseCause::Error,
        }
    }

    /// Whether closing waits to read what the peer still sends (a gentle
    /// close); a broken socket or a client shed for its memory is dropped at once.
    pub(crate) fn lingers(self) -> bool {
        !matches!(
            self,
            CloseReason::Io | CloseReason::OutputCap | CloseReason::OverBudget
        )
    }
}

/// Where a session is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum SessionState {
    /// Serving requests.
    Open,
    /// Shutting down: read until the socket is empty, answer every complete
    /// request, flush, close.
    Draining,
    /// Nothing more is processed: flush what is pending, then close.
    Closing(CloseReason),
}
