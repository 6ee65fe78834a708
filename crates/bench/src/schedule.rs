//! The fixed send schedule of one connection in open-loop mode.
//!
//! Times are nanoseconds from the start of the run. The schedule never looks at
//! replies: a slow server makes requests *late*, it never moves the schedule.

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};

/// How arrivals are spaced.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Arrival {
    /// Evenly spaced, as wrk2 does.
    Uniform,
    /// Exponential gaps: a Poisson process, closer to independent clients.
    Poisson,
}

/// An endless sequence of intended send times for one connection.
#[derive(Debug)]
pub struct Schedule {
    arrival: Arrival,
    interval_ns: f64,
    next_ns: f64,
    rng: SmallRng,
}

impl Schedule {
    /// A schedule for one of `connections` connections that together send `total_rate_per_s`.
    ///
    /// Uniform schedules are phase-shifted by connection index so the connections
    /// interleave instead of all sending at the same instant.
    pub fn new(
        arrival: Arrival,
        total_rate_per_s: f64,
        connections: usize,
        connection_index: usize,
        seed: u64,
    ) -> Self {
        assert!(total_rate_per_s > 0.0 && connections > 0 && connection_index < connections);
        let interval_ns = 1e9 * connections as f64 / total_rate_per_s;
        let mut rng = SmallRng::seed_from_u64(
            seed ^ (connection_index as u64).wrapping_mul(0x9E37_79B9_7F4A_7C15),
        );
        let next_ns = match arrival {
            Arrival::Uniform => interval_ns * connection_index as f64 / connections as f64,
            Arrival::Poisson => exponential(&mut rng, interval_ns),
        };
        Self {
            arrival,
            interval_ns,
            next_ns,
            rng,
        }
    }

    /// The next intended send time, in ns from the start of the run.
    pub fn peek_ns(&self) -> u64 {
        self.next_ns as u64
    }

    /// Moves to the following send time.
    pub fn advance(&mut self) {
        self.next_ns += match self.arrival {
            Arrival::Uniform => self.interval_ns,
            Arrival::Poisson => exponential(&mut self.rng, self.interval_ns),
        };
    }
}

/// An exponentially distributed gap with the given mean.
fn exponential(rng: &mut SmallRng, mean_ns: f64) -> f64 {
    // 1 - u lies in (0, 1], so the logarithm is finite.
    let u: f64 = rng.gen();
    -mean_ns * (1.0 - u).ln()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn times(s: &mut Schedule, n: usize) -> Vec<u64> {
        (0..n)
            .map(|_| {
                let t = s.peek_ns();
                s.advance();
                t
            })
            .collect()
    }

    #[test]
    fn uniform_is_evenly_spaced_and_interleaved() {
        // 4 connections at 4000/s in total: each sends every 1 ms, offset by 250 us.
        let mut a = Schedule::new(Arrival::Uniform, 4000.0, 4, 0, 1);
        let mut b = Schedule::new(Arrival::Uniform, 4000.0, 4, 1, 1);
        assert_eq!(times(&mut a, 3), vec![0, 1_000_000, 2_000_000]);
        assert_eq!(times(&mut b, 3), vec![250_000, 1_250_000, 2_250_000]);
    }

    #[test]
    fn uniform_rate_holds_over_many_intervals() {
        let mut s = Schedule::new(Arrival::Uniform, 3.0, 1, 0, 1);
        let t = times(&mut s, 3001);
        // 3000 gaps of 1/3 s: no drift from accumulated rounding.
        assert!((t[3000] as i64 - 1_000_000_000_000).abs() < 10);
    }

    #[test]
    fn poisson_has_the_right_mean_and_spread() {
        let mut s = Schedule::new(Arrival::Poisson, 10_000.0, 1, 0, 42);
        let t = times(&mut s, 100_001);
        let gaps: Vec<f64> = t.windows(2).map(|w| (w[1] - w[0]) as f64).collect();
        let mean = gaps.iter().sum::<f64>() / gaps.len() as f64;
        let var = gaps.iter().map(|g| (g - mean).powi(2)).sum::<f64>() / gaps.len() as f64;
        // Exponential gaps: mean 100 us and standard deviation equal to the mean.
        assert!((mean - 100_000.0).abs() < 2_000.0, "mean {mean}");
        assert!(
            (var.sqrt() / mean - 1.0).abs() < 0.03,
            "cv {}",
            var.sqrt() / mean
        );
    }

    #[test]
    fn same_seed_gives_same_schedule() {
        let mut a = Schedule::new(Arrival::Poisson, 1000.0, 2, 1, 7);
        let mut b = Schedule::new(Arrival::Poisson, 1000.0, 2, 1, 7);
        assert_eq!(times(&mut a, 100), times(&mut b, 100));
    }
}
