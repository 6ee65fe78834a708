//! The share of each command in the load (`get=90,set=10`).

use rand::Rng;
use serde::Serialize;

/// A command the generator can send.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum OpKind {
    /// Read one key.
    Get,
    /// Store one key.
    Set,
    /// Remove one key.
    Delete,
    /// Read several keys in one request.
    MultiGet,
}

/// Weights of each command; picks one per request.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Mix {
    /// (command, weight) with positive weights.
    pub weights: Vec<(OpKind, u32)>,
    total: u32,
}

impl Mix {
    /// Parses `get=90,set=10,delete=0,multiget=0`; weights are relative.
    pub fn parse(text: &str) -> Result<Self, String> {
        let mut weights = Vec::new();
        for part in text.split(',').filter(|p| !p.trim().is_empty()) {
            let (name, weight) = part
                .split_once('=')
                .ok_or_else(|| format!("mix entry {part:?} is not NAME=WEIGHT"))?;
            let kind = match name.trim() {
                "get" => OpKind::Get,
                "set" => OpKind::Set,
                "delete" => OpKind::Delete,
                "multiget" | "mget" => OpKind::MultiGet,
                other => {
                    return Err(format!(
                        "unknown command {other:?} in mix (get, set, delete, multiget)"
                    ))
                }
            };
            let weight: u32 = weight
                .trim()
                .parse()
                .ok()
                .filter(|w| *w <= 1_000_000)
                .ok_or_else(|| format!("weight in {part:?} must be 0..=1000000"))?;
            if weight > 0 {
                weights.push((kind, weight));
            }
        }
        let total = weights.iter().map(|w| w.1).sum();
        if total == 0 {
            return Err(format!(
                "mix {text:?} has no command with a positive weight"
            ));
        }
        Ok(Self { weights, total })
    }

    /// True when the mix can send this command.
    pub fn contains(&self, kind: OpKind) -> bool {
        self.weights.iter().any(|w| w.0 == kind)
    }

    /// Draws one command by weight.
    pub fn pick<R: Rng>(&self, rng: &mut R) -> OpKind {
        let mut r = rng.gen_range(0..self.total);
        for &(kind, weight) in &self.weights {
            if r < weight {
                return kind;
            }
            r -= weight;
        }
        self.weights[0].0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::SeedableRng;

    #[test]
    fn mix_follows_weights() {
        let m = Mix::parse("get=90,set=10").unwrap();
        let mut rng = SmallRng::seed_from_u64(1);
        let sets = (0..100_000)
            .filter(|_| m.pick(&mut rng) == OpKind::Set)
            .count();
        assert!((9_000..11_000).contains(&sets), "{sets}");
    }

    #[test]
    fn bad_mixes_are_refused() {
        assert!(Mix::parse("get=0").is_err());
        assert!(Mix::parse("fetch=1").is_err());
        assert!(Mix::parse("get").is_err());
        assert!(Mix::parse("get=-1").is_err());
    }
}
