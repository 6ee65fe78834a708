//! Zipf-distributed ranks by rejection-inversion (Hörmann and Derflinger, 1996).
//!
//! Exact for any exponent `theta >= 0`, O(1) per sample and without a table, so a key
//! space of a billion costs nothing to set up. Rank 1 is the most popular.

use rand::Rng;

/// Samples ranks in `1..=n` with P(k) proportional to `1 / k^theta`.
#[derive(Clone, Debug)]
pub struct Zipf {
    n: f64,
    theta: f64,
    h_integral_x1: f64,
    h_integral_n: f64,
    s: f64,
}

impl Zipf {
    /// A sampler over `n >= 1` ranks; `theta` is the skew (0 = uniform, 0.99 = YCSB's default).
    pub fn new(n: u64, theta: f64) -> Self {
        assert!(n >= 1 && theta >= 0.0 && theta.is_finite());
        let mut z = Self {
            n: n as f64,
            theta,
            h_integral_x1: 0.0,
            h_integral_n: 0.0,
            s: 0.0,
        };
        z.h_integral_x1 = z.h_integral(1.5) - 1.0;
        z.h_integral_n = z.h_integral(n as f64 + 0.5);
        z.s = 2.0 - z.h_integral_inverse(z.h_integral(2.5) - z.h(2.0));
        z
    }

    /// One rank in `1..=n`.
    pub fn sample<R: Rng>(&self, rng: &mut R) -> u64 {
        // The acceptance probability is above 0.5 for every theta, so the expected number
        // of rounds is below 2; the bound only guards against a broken generator.
        for _ in 0..1_000 {
            let u = self.h_integral_n + rng.gen::<f64>() * (self.h_integral_x1 - self.h_integral_n);
            let x = self.h_integral_inverse(u);
            let k = (x + 0.5).floor().clamp(1.0, self.n);
            if k - x <= self.s || u >= self.h_integral(k + 0.5) - self.h(k) {
                return k as u64;
            }
        }
        1
    }

    fn h(&self, x: f64) -> f64 {
        (-self.theta * x.ln()).exp()
    }

    fn h_integral(&self, x: f64) -> f64 {
        let log_x = x.ln();
        helper2((1.0 - self.theta) * log_x) * log_x
    }

    fn h_integral_inverse(&self, x: f64) -> f64 {
        let t = (x * (1.0 - self.theta)).max(-1.0);
        (helper1(t) * x).exp()
    }
}

/// `ln(1 + x) / x`, accurate near 0.
fn helper1(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.ln_1p() / x
    } else {
        1.0 - x * (0.5 - x * (1.0 / 3.0 - 0.25 * x))
    }
}

/// `(e^x - 1) / x`, accurate near 0.
fn helper2(x: f64) -> f64 {
    if x.abs() > 1e-8 {
        x.exp_m1() / x
    } else {
        1.0 + x * 0.5 * (1.0 + x / 3.0 * (1.0 + 0.25 * x))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::SeedableRng;

    fn frequencies(n: u64, theta: f64, samples: usize) -> Vec<f64> {
        let z = Zipf::new(n, theta);
        let mut rng = SmallRng::seed_from_u64(3);
        let mut counts = vec![0u64; n as usize + 1];
        for _ in 0..samples {
            let k = z.sample(&mut rng);
            assert!((1..=n).contains(&k));
            counts[k as usize] += 1;
        }
        counts.iter().map(|&c| c as f64 / samples as f64).collect()
    }

    fn expected(n: u64, theta: f64) -> Vec<f64> {
        let norm: f64 = (1..=n).map(|k| 1.0 / (k as f64).powf(theta)).sum();
        let mut e = vec![0.0];
        e.extend((1..=n).map(|k| 1.0 / (k as f64).powf(theta) / norm));
        e
    }

    #[test]
    fn head_frequencies_match_theta() {
        for theta in [0.5, 0.99, 1.0, 1.2] {
            let f = frequencies(1000, theta, 400_000);
            let e = expected(1000, theta);
            for k in 1..=20 {
                let rel = (f[k] - e[k]).abs() / e[k];
                assert!(
                    rel < 0.08,
                    "theta {theta} rank {k}: got {} want {}",
                    f[k],
                    e[k]
                );
            }
        }
    }

    #[test]
    fn fitted_slope_recovers_theta() {
        // Least squares of log f(k) on log k over ranks 1..=50 estimates -theta.
        for theta in [0.7, 0.99] {
            let f = frequencies(10_000, theta, 500_000);
            let pts: Vec<(f64, f64)> = (1..=50).map(|k| ((k as f64).ln(), f[k].ln())).collect();
            let mx = pts.iter().map(|p| p.0).sum::<f64>() / pts.len() as f64;
            let my = pts.iter().map(|p| p.1).sum::<f64>() / pts.len() as f64;
            let sxy: f64 = pts.iter().map(|p| (p.0 - mx) * (p.1 - my)).sum();
            let sxx: f64 = pts.iter().map(|p| (p.0 - mx).powi(2)).sum();
            let slope = sxy / sxx;
            assert!((slope + theta).abs() < 0.05, "theta {theta}: slope {slope}");
        }
    }

    #[test]
    fn theta_zero_is_uniform() {
        let f = frequencies(10, 0.0, 100_000);
        for p in &f[1..] {
            assert!((p - 0.1).abs() < 0.01, "{p}");
        }
    }

    #[test]
    fn single_rank_always_returns_one() {
        let z = Zipf::new(1, 0.99);
        let mut rng = SmallRng::seed_from_u64(1);
        assert!((0..100).all(|_| z.sample(&mut rng) == 1));
    }
}
