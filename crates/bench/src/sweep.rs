//! Rate sweeps: open-loop runs at rising rates until P99.9 exceeds a bound; reports the
//! highest rate that stayed within it and the latency curve along the way.

use crate::config::{Load, RunConfig};
use crate::driver::stats::IntervalReport;
use crate::driver::{run, RunResult};
use crate::error::BenchError;
use crate::units::parse_count;

/// Most steps one sweep may take.
pub const MAX_STEPS: usize = 200;

/// `start:end:step` rates per second.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SweepSpec {
    /// First rate.
    pub start_per_s: f64,
    /// Last rate (inclusive).
    pub end_per_s: f64,
    /// Increment.
    pub step_per_s: f64,
}

impl SweepSpec {
    /// Parses `10k:200k:10k`.
    pub fn parse(text: &str) -> Result<Self, String> {
        let parts: Vec<&str> = text.split(':').collect();
        let [a, b, c] = parts[..] else {
            return Err(format!("sweep {text:?} is not START:END:STEP"));
        };
        let spec = Self {
            start_per_s: parse_count(a)?,
            end_per_s: parse_count(b)?,
            step_per_s: parse_count(c)?,
        };
        if spec.start_per_s <= 0.0 || spec.step_per_s <= 0.0 || spec.end_per_s < spec.start_per_s {
            return Err(format!(
                "sweep {text:?} needs 0 < START <= END and STEP > 0"
            ));
        }
        if spec.rates().len() > MAX_STEPS {
            return Err(format!("sweep {text:?} has more than {MAX_STEPS} steps"));
        }
        Ok(spec)
    }

    /// The rates, in order.
    pub fn rates(&self) -> Vec<f64> {
        let n = ((self.end_per_s - self.start_per_s) / self.step_per_s + 1e-9).floor() as usize + 1;
        (0..n.min(MAX_STEPS + 1))
            .map(|i| self.start_per_s + i as f64 * self.step_per_s)
            .collect()
    }
}

/// What a sweep found.
#[derive(Debug)]
pub struct Sweep {
    /// One run per rate tried, in order.
    pub steps: Vec<RunResult>,
    /// The P99.9 bound, ns.
    pub p999_bound_ns: u64,
    /// Highest rate whose P99.9 stayed within the bound without errors.
    pub best_rate_per_s: Option<f64>,
}

/// True when a run met the bound: P99.9 within it and no errors.
pub fn within_bound(r: &RunResult, p999_bound_ns: u64) -> bool {
    r.histogram.percentile_ns(99.9) <= p999_bound_ns && r.counters.errors() == 0
}

/// Runs `base` in open loop at each rate of `spec`, stopping after the first failure.
pub fn run_sweep(
    base: &RunConfig,
    spec: SweepSpec,
    p999_bound_ns: u64,
    on_step: &mut dyn FnMut(f64),
    on_second: &mut dyn FnMut(&IntervalReport),
) -> Result<Sweep, BenchError> {
    let arrival = match base.load {
        Load::Open { arrival, .. } => arrival,
        Load::Closed { .. } => {
            return Err(BenchError::BadArgument(
                "--sweep needs open loop (a --rate above 0)".into(),
            ))
        }
    };
    let mut steps = Vec::new();
    let mut best = None;
    for (i, rate) in spec.rates().into_iter().enumerate() {
        let mut cfg = base.clone();
        cfg.load = Load::Open {
            rate_per_s: rate,
            arrival,
        };
        cfg.prefill = base.prefill && i == 0;
        cfg.label = format!("{} @ {rate:.0}/s", base.label);
        on_step(rate);
        let r = run(&cfg, on_second)?;
        let ok = within_bound(&r, p999_bound_ns);
        steps.push(r);
        if !ok {
            break;
        }
        best = Some(rate);
    }
    Ok(Sweep {
        steps,
        p999_bound_ns,
        best_rate_per_s: best,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn specs_parse_and_enumerate() {
        let s = SweepSpec::parse("10k:50k:10k").unwrap();
        assert_eq!(
            s.rates(),
            vec![10_000.0, 20_000.0, 30_000.0, 40_000.0, 50_000.0]
        );
        assert_eq!(SweepSpec::parse("1:1:5").unwrap().rates(), vec![1.0]);
        assert!(SweepSpec::parse("10k:1k:1k").is_err());
        assert!(SweepSpec::parse("1:2").is_err());
        assert!(SweepSpec::parse("1:1000000:1").is_err());
        assert!(SweepSpec::parse("0:10:1").is_err());
    }
}
