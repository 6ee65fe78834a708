//! What the load consists of: keys, their popularity, value sizes and the command mix.

pub mod mix;
pub mod value_size;
pub mod zipf;

pub use mix::{Mix, OpKind};
pub use value_size::ValueSizes;

use rand::rngs::SmallRng;
use rand::{Rng, SeedableRng};
use serde::Serialize;
use zipf::Zipf;

/// Most keys one multiget may ask for; bounds request size and reply parsing.
pub const MAX_MULTIGET_KEYS: usize = 1_000;
/// Largest key space; keys are formatted as prefix + index.
pub const MAX_KEYS: u64 = 1 << 40;
/// Longest key prefix: memcached keys are at most 250 bytes, indexes up to 13 digits.
pub const MAX_KEY_PREFIX_BYTES: usize = 200;

/// How often each key is chosen.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Popularity {
    /// Every key equally often.
    Uniform,
    /// Key of rank k chosen with probability proportional to 1/k^theta.
    Zipf {
        /// The skew.
        theta: f64,
    },
}

/// The full description of a workload.
#[derive(Clone, Debug, Serialize)]
pub struct Workload {
    /// Number of distinct keys.
    pub keys: u64,
    /// Prepended to the key index.
    pub key_prefix: String,
    /// How keys are chosen.
    pub popularity: Popularity,
    /// Sizes of stored values.
    pub value_sizes: ValueSizes,
    /// Share of each command.
    pub mix: Mix,
    /// Keys per multiget.
    pub multiget_keys: usize,
    /// TTL given with each set, in seconds (0 = none).
    pub ttl_s: u32,
}

impl Workload {
    /// Checks every limit; returns what is wrong.
    pub fn validate(&self) -> Result<(), String> {
        if self.keys == 0 || self.keys > MAX_KEYS {
            return Err(format!("--keys must be in 1..={MAX_KEYS}"));
        }
        if self.key_prefix.len() > MAX_KEY_PREFIX_BYTES
            || self
                .key_prefix
                .bytes()
                .any(|b| b <= b' ' || b == 0x7f || b == b'/')
        {
            return Err(format!(
                "--key-prefix must be at most {MAX_KEY_PREFIX_BYTES} printable bytes without spaces or '/'"
            ));
        }
        if self.multiget_keys == 0 || self.multiget_keys > MAX_MULTIGET_KEYS {
            return Err(format!(
                "--multiget-keys must be in 1..={MAX_MULTIGET_KEYS}"
            ));
        }
        if let Popularity::Zipf { theta } = self.popularity {
            if !(0.0..=10.0).contains(&theta) {
                return Err("zipf theta must be in 0..=10".into());
            }
        }
        Ok(())
    }
}

/// One request to send.
#[derive(Clone, Debug, PartialEq)]
pub struct Op {
    /// Which command.
    pub kind: OpKind,
    /// Key indexes (one, or several for a multiget).
    pub keys: Vec<u64>,
    /// Length of the value for a set.
    pub value_len: usize,
}

/// Draws operations for one connection; deterministic for a given seed.
#[derive(Debug)]
pub struct OpGenerator {
    workload: Workload,
    zipf: Option<Zipf>,
    rng: SmallRng,
}

impl OpGenerator {
    /// A generator for one connection.
    pub fn new(workload: &Workload, seed: u64) -> Self {
        let zipf = match workload.popularity {
            Popularity::Zipf { theta } => Some(Zipf::new(workload.keys, theta)),
            Popularity::Uniform => None,
        };
        Self {
            workload: workload.clone(),
            zipf,
            rng: SmallRng::seed_from_u64(seed),
        }
    }

    /// Fills `op` with the next operation (reusing its key vector).
    pub fn next_into(&mut self, op: &mut Op) {
        op.kind = self.workload.mix.pick(&mut self.rng);
        op.keys.clear();
        let count = if op.kind == OpKind::MultiGet {
            self.workload.multiget_keys
        } else {
            1
        };
        for _ in 0..count {
            let key = self.key();
            op.keys.push(key);
        }
        op.value_len = self.workload.value_sizes.pick(&mut self.rng);
    }

    fn key(&mut self) -> u64 {
        match &self.zipf {
            // Ranks are scattered over the key space so popular keys do not share a prefix.
            Some(z) => scatter(z.sample(&mut self.rng) - 1, self.workload.keys),
            None => self.rng.gen_range(0..self.workload.keys),
        }
    }
}

/// A fixed permutation of `0..n` (multiplication by an odd constant modulo the next
/// power of two, cycle-walking back into range), so rank order does not follow key order.
pub fn scatter(rank: u64, n: u64) -> u64 {
    let bits = 64 - (n.max(2) - 1).leading_zeros();
    let mask = (1u64 << bits) - 1;
    let mut x = rank;
    // Each step lands in range with probability over one half; 128 steps bound the walk.
    for _ in 0..128 {
        x = (x
            .wrapping_mul(0x9E37_79B9_7F4A_7C15 | 1)
            .wrapping_add(0x632B_E59B))
            & mask;
        if x < n {
            return x;
        }
    }
    rank
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scatter_is_a_permutation() {
        for n in [1u64, 2, 7, 100, 1000] {
            let mut seen: Vec<u64> = (0..n).map(|r| scatter(r, n)).collect();
            seen.sort_unstable();
            assert_eq!(seen, (0..n).collect::<Vec<_>>(), "n={n}");
        }
    }

    #[test]
    fn generator_respects_mix_and_multiget_size() {
        let w = Workload {
            keys: 100,
            key_prefix: "k".into(),
            popularity: Popularity::Zipf { theta: 0.99 },
            value_sizes: ValueSizes::Fixed(10),
            mix: Mix::parse("get=50,multiget=50").unwrap(),
            multiget_keys: 5,
            ttl_s: 0,
        };
        let mut g = OpGenerator::new(&w, 1);
        let mut op = Op {
            kind: OpKind::Get,
            keys: vec![],
            value_len: 0,
        };
        let mut multigets = 0;
        for _ in 0..1000 {
            g.next_into(&mut op);
            assert!(op.keys.iter().all(|&k| k < 100));
            if op.kind == OpKind::MultiGet {
                multigets += 1;
                assert_eq!(op.keys.len(), 5);
            } else {
                assert_eq!(op.keys.len(), 1);
            }
        }
        assert!((400..600).contains(&multigets), "{multigets}");
    }

    #[test]
    fn validation_rejects_bad_limits() {
        let mut w = Workload {
            keys: 0,
            key_prefix: "k".into(),
            popularity: Popularity::Uniform,
            value_sizes: ValueSizes::Fixed(10),
            mix: Mix::parse("get=1").unwrap(),
            multiget_keys: 1,
            ttl_s: 0,
        };
        assert!(w.validate().is_err());
        w.keys = 10;
        assert!(w.validate().is_ok());
        w.key_prefix = "a b".into();
        assert!(w.validate().is_err());
    }
}
