//! The order a worker serves its ready connections in.
//!
//! A connection whose last two turns were each long (a multiget of large values, an
//! expensive request) is *heavy*; the others are *light* (one long turn alone may be
//! the machine preempting the worker). Each pass serves the light connections first,
//! in arrival order, then the heavy ones; after every long turn the worker polls
//! again, so that a connection that became ready meanwhile is queued at once, a light
//! one before every heavy one still waiting. A client with cheap requests then waits
//! for about one long turn of another client instead of a round of them (eight
//! clients whose turns take half a millisecond each would otherwise cost it four). A
//! heavy connection that becomes ready again during a pass waits for the next one, so
//! a pass ends once the heavy connections queued at its start have had their turn.

use std::collections::VecDeque;

/// The ready connections, by weight, and those put back during a pass.
#[derive(Debug, Default)]
pub(super) struct ReadyQueues {
    light: VecDeque<usize>,
    heavy: VecDeque<usize>,
    /// Put back by a turn that left work, or heavy and ready during a pass: served
    /// from the next pass on, so that a pass ends and the worker polls and runs
    /// background work in between.
    requeued: Vec<(usize, bool)>,
    /// A pass is under way.
    in_pass: bool,
}

impl ReadyQueues {
    /// Queues a connection to be served this pass, or the next if it is heavy and a
    /// pass is under way.
    pub(super) fn push(&mut self, index: usize, heavy: bool) {
        if heavy && self.in_pass {
            self.requeued.push((index, heavy));
        } else if heavy {
            self.heavy.push_back(index);
        } else {
            self.light.push_back(index);
        }
    }

    /// Queues a connection for the next pass.
    pub(super) fn push_next_pass(&mut self, index: usize, heavy: bool) {
        self.requeued.push((index, heavy));
    }

    /// Starts a pass: what was put back during the last one is queued now.
    pub(super) fn begin_pass(&mut self) {
        self.in_pass = false;
        for (index, heavy) in std::mem::take(&mut self.requeued) {
            self.push(index, heavy);
        }
        self.in_pass = true;
    }

    /// Ends a pass.
    pub(super) fn end_pass(&mut self) {
        self.in_pass = false;
    }

    /// The next connection to serve this pass: light ones first.
    pub(super) fn pop(&mut self) -> Option<usize> {
        self.light.pop_front().or_else(|| self.heavy.pop_front())
    }

    /// Heavy connections still waiting this pass.
    #[cfg(test)]
    fn heavy_waiting(&self) -> usize {
        self.heavy.len()
    }

    /// Whether connections still wait this pass.
    pub(super) fn any_waiting(&self) -> bool {
        !self.light.is_empty() || !self.heavy.is_empty()
    }

    /// Whether no connection waits, this pass or the next.
    pub(super) fn is_empty(&self) -> bool {
        self.light.is_empty() && self.heavy.is_empty() && self.requeued.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn drain(queues: &mut ReadyQueues) -> Vec<usize> {
        std::iter::from_fn(|| queues.pop()).collect()
    }

    #[test]
    fn light_connections_go_first_and_each_keeps_its_order() {
        let mut queues = ReadyQueues::default();
        for (index, heavy) in [(1, true), (2, false), (3, true), (4, false)] {
            queues.push(index, heavy);
        }
        assert_eq!(queues.heavy_waiting(), 2);
        assert_eq!(drain(&mut queues), vec![2, 4, 1, 3]);
        assert!(queues.is_empty());
    }

    #[test]
    fn what_is_put_back_waits_for_the_next_pass() {
        let mut queues = ReadyQueues::default();
        queues.push(1, false);
        queues.begin_pass();
        assert_eq!(queues.pop(), Some(1));
        queues.push_next_pass(1, true);
        queues.push_next_pass(2, false);
        assert_eq!(queues.pop(), None, "nothing more this pass");
        assert!(!queues.is_empty(), "but the next pass has work");
        queues.begin_pass();
        assert_eq!(drain(&mut queues), vec![2, 1]);
        queues.end_pass();
    }

    #[test]
    fn during_a_pass_a_light_arrival_is_served_and_a_heavy_one_waits() {
        let mut queues = ReadyQueues::default();
        queues.push(1, true);
        queues.push(2, true);
        queues.begin_pass();
        assert_eq!(queues.pop(), Some(1));
        queues.push(3, false);
        queues.push(1, true);
        assert_eq!(queues.heavy_waiting(), 1);
        assert_eq!(drain(&mut queues), vec![3, 2]);
        queues.end_pass();
        queues.push(4, true);
        queues.begin_pass();
        assert_eq!(drain(&mut queues), vec![4, 1]);
    }
}
