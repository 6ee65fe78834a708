//! Value sizes: fixed (`100`), uniform in a range (`10..1000`) or weighted (`100:8,4096:2`).

use rand::Rng;
use serde::Serialize;

/// Largest value the generator will send (memcached's default item limit is 1 MiB).
pub const MAX_VALUE_BYTES: usize = 1 << 20;

/// How large each stored value is.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum ValueSizes {
    /// Always this many bytes.
    Fixed(usize),
    /// Uniform in `min..=max`.
    Range {
        /// Smallest size.
        min: usize,
        /// Largest size.
        max: usize,
    },
    /// A list of (size, weight).
    Weighted(Vec<(usize, u32)>),
}

impl ValueSizes {
    /// Parses one of the three forms.
    pub fn parse(text: &str) -> Result<Self, String> {
        let size = |s: &str| -> Result<usize, String> {
            let v = usize::try_from(crate::units::parse_size_bytes(s)?).unwrap_or(usize::MAX);
            if v > MAX_VALUE_BYTES {
                return Err(format!("value size {v} exceeds {MAX_VALUE_BYTES}"));
            }
            Ok(v)
        };
        if let Some((a, b)) = text.split_once("..") {
            let (min, max) = (size(a)?, size(b)?);
            if min > max {
                return Err(format!("value size range {text:?} is empty"));
            }
            return Ok(Self::Range { min, max });
        }
        if text.contains(':') {
            let mut list = Vec::new();
            for part in text.split(',') {
                let (s, w) = part
                    .split_once(':')
                    .ok_or_else(|| format!("{part:?} is not SIZE:WEIGHT"))?;
                let w: u32 = w
                    .trim()
                    .parse()
                    .ok()
                    .filter(|w| *w <= 1_000_000)
                    .ok_or_else(|| format!("bad weight in {part:?}"))?;
                if w > 0 {
                    list.push((size(s)?, w));
                }
            }
            if list.is_empty() {
                return Err(format!("value sizes {text:?} have no positive weight"));
            }
            return Ok(Self::Weighted(list));
        }
        Ok(Self::Fixed(size(text)?))
    }

    /// The largest size this can produce.
    pub fn max(&self) -> usize {
        match self {
            Self::Fixed(n) => *n,
            Self::Range { max, .. } => *max,
            Self::Weighted(l) => l.iter().map(|e| e.0).max().unwrap_or(0),
        }
    }

    /// Draws one size.
    pub fn pick<R: Rng>(&self, rng: &mut R) -> usize {
        match self {
            Self::Fixed(n) => *n,
            Self::Range { min, max } => rng.gen_range(*min..=*max),
            Self::Weighted(list) => {
                let total: u32 = list.iter().map(|e| e.1).sum();
                let mut r = rng.gen_range(0..total);
                for &(size, weight) in list {
                    if r < weight {
                        return size;
                    }
                    r -= weight;
                }
                list[0].0
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::rngs::SmallRng;
    use rand::SeedableRng;

    #[test]
    fn the_three_forms_parse() {
        assert_eq!(ValueSizes::parse("100").unwrap(), ValueSizes::Fixed(100));
        assert_eq!(
            ValueSizes::parse("10..1k").unwrap(),
            ValueSizes::Range { min: 10, max: 1024 }
        );
        assert_eq!(
            ValueSizes::parse("100:8,4096:2").unwrap(),
            ValueSizes::Weighted(vec![(100, 8), (4096, 2)])
        );
        assert!(ValueSizes::parse("2M").is_err(), "over the largest value");
        assert!(ValueSizes::parse("1.5k").is_err());
        assert!(ValueSizes::parse("10..5").is_err());
        assert!(ValueSizes::parse("10:0").is_err());
    }

    #[test]
    fn weighted_sizes_follow_weights() {
        let v = ValueSizes::parse("100:8,4096:2").unwrap();
        let mut rng = SmallRng::seed_from_u64(9);
        let big = (0..10_000).filter(|_| v.pick(&mut rng) == 4096).count();
        assert!((1_800..2_200).contains(&big), "{big}");
        assert_eq!(v.max(), 4096);
    }
}
