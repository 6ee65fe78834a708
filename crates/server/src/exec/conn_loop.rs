//! The request loop every protocol's connection runs: take complete
//! requests from the front of the input until it runs out, the turn's
//! budget is spent or the replies reach the runtime's high-water mark, then
//! say how much was used and whether to close. Each protocol supplies only
//! how to handle one request.

use tailcache_runtime::{Processed, TurnBudget};

use crate::context::ServerContext;

/// What handling the request at the front of the input did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Used this many bytes (at least 1); go on with the next request.
    Next(usize),
    /// Used this many bytes (0 or more); flush the replies and close.
    Close(usize),
    /// Used this many bytes and started a job (a key dump): stop here, so the
    /// runtime runs the job before the requests behind it.
    Pause(usize),
    /// The front of the input is an incomplete request: wait for more bytes.
    NeedMore,
}

/// Runs `step` on the input left after each request, appending replies to
/// `output`, and returns what the runtime needs (see the contract in the
/// module above). Each step is charged one request and the bytes it
/// replied; a step that serves many keys charges the others itself.
/// Never reports more than `input.len()` bytes consumed.
pub fn run_requests(
    ctx: &ServerContext,
    input: &[u8],
    output: &mut Vec<u8>,
    budget: &mut TurnBudget,
    mut step: impl FnMut(&[u8], &mut Vec<u8>, &mut TurnBudget) -> Step,
) -> Processed {
    let output_start = output.len();
    let mut consumed = 0;
    while consumed < input.len()
        && !budget.is_spent()
        && output_room_left(ctx, output_start, output)
    {
        let before = output.len();
        let result = step(&input[consumed..], output, budget);
        if result != Step::NeedMore {
            budget.charge(1, output.len() - before);
        }
        match result {
            // A zero-byte step would never progress; count it as one byte.
            Step::Next(bytes) => consumed += bytes.max(1),
            Step::Close(bytes) => return processed(input, consumed + bytes, true),
            Step::Pause(bytes) => {
                consumed += bytes;
                break;
            }
            Step::NeedMore => break,
        }
    }
    processed(input, consumed, false)
}

fn processed(input: &[u8], consumed: usize, close_after_flush: bool) -> Processed {
    Processed {
        consumed: consumed.min(input.len()),
        close_after_flush,
    }
}

/// Whether a call may execute another request: the replies it produced
/// stay under the runtime's high-water mark, past which the runtime stops
/// reading and flushes first. Measured from the call's start, as `output`
/// may still hold replies already written to the socket.
fn output_room_left(ctx: &ServerContext, output_start: usize, output: &[u8]) -> bool {
    output.len() - output_start < ctx.config.write_buffer_high_water_bytes
}
