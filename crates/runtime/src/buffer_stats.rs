//! Memory held by connection buffers: one counter per worker, written only by
//! its worker, summed on read (no cache line shared on the request path).

use std::sync::atomic::{AtomicUsize, Ordering};

/// One worker's count, alone on its cache line.
#[derive(Debug, Default)]
#[repr(align(64))]
struct WorkerBytes(AtomicUsize);

/// Bytes the read and write buffers of all connections of one runtime hold.
#[derive(Debug)]
pub struct BufferStats {
    per_worker: Box<[WorkerBytes]>,
}

impl BufferStats {
    /// Counters for `workers` workers, all zero.
    pub fn new(workers: usize) -> Self {
        Self {
            per_worker: (0..workers.max(1))
                .map(|_| WorkerBytes::default())
                .collect(),
        }
    }

    /// Worker `worker`'s connections went from holding `before` to `after` bytes.
    pub(crate) fn adjust(&self, worker: usize, before: usize, after: usize) {
        let Some(slot) = self.per_worker.get(worker) else {
            return;
        };
        if after > before {
            slot.0.fetch_add(after - before, Ordering::Relaxed);
        } else if before > after {
            let previous = slot.0.fetch_sub(before - after, Ordering::Relaxed);
            debug_assert!(previous >= before - after, "buffer bytes underflow");
        }
    }

    /// Bytes worker `worker`'s connections hold.
    pub fn worker_bytes(&self, worker: usize) -> usize {
        self.per_worker
            .get(worker)
            .map_or(0, |slot| slot.0.load(Ordering::Relaxed))
    }

    /// Bytes all connections hold (each worker's count exact, the sum approximate).
    pub fn total_bytes(&self) -> usize {
        self.per_worker
            .iter()
            .map(|slot| slot.0.load(Ordering::Relaxed))
            .sum()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn adjustments_sum_over_workers() {
        let stats = BufferStats::new(2);
        stats.adjust(0, 0, 100);
        stats.adjust(1, 0, 50);
        stats.adjust(0, 100, 40);
        assert_eq!(stats.worker_bytes(0), 40);
        assert_eq!(stats.total_bytes(), 90);
        stats.adjust(1, 50, 0);
        assert_eq!(stats.total_bytes(), 40);
    }
}
