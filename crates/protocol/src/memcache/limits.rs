//! Bounds on everything a client can send, with memcached's defaults.

/// Input bounds for the memcache parser; every one has a typed error when exceeded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Longest key on the wire (memcached: 250, `KEY_MAX_LENGTH`).
    pub max_key_bytes: usize,
    /// Longest command line before its `\n`; longer lines close the connection
    /// (memcached: 2048, except get/gets lines).
    pub max_line_bytes: usize,
    /// Longest `get`/`gets` line; memcached lets multigets grow without a bound, we cap them.
    pub max_get_line_bytes: usize,
    /// Most keys in one get/gets/gat/gats.
    pub max_keys_per_get: usize,
    /// Largest data block of a storage command (memcached `-I`, default 1 MiB).
    pub max_value_bytes: usize,
    /// Most whitespace-separated tokens on a meta command line, command included
    /// (memcached: 19; more answers `CLIENT_ERROR options flags ... too long`).
    pub max_meta_tokens: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_key_bytes: 250,
            max_line_bytes: 2048,
            max_get_line_bytes: 256 * 1024,
            max_keys_per_get: 16 * 1024,
            max_value_bytes: 1024 * 1024,
            max_meta_tokens: 19,
        }
    }
}

/// Why a [`Limits`] value cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LimitsError {
    /// `max_key_bytes` must be 1..=250: keys are stored with a one-byte length.
    KeyBytes(usize),
    /// `max_line_bytes` must fit the longest valid command line with the largest key
    /// (key + 128 bytes) and at most 1 MiB.
    LineBytes(usize),
    /// `max_get_line_bytes` must be at least `max_line_bytes` and at most 64 MiB.
    GetLineBytes(usize),
    /// `max_keys_per_get` must be at least 1.
    KeysPerGet(usize),
    /// `max_value_bytes` must be below 2 GiB - 2 (memcached's data block length is an i32).
    ValueBytes(usize),
    /// `max_meta_tokens` must be 3..=64.
    MetaTokens(usize),
}

impl std::fmt::Display for LimitsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            LimitsError::KeyBytes(n) => write!(f, "max_key_bytes {n} not in 1..=250"),
            LimitsError::LineBytes(n) => write!(f, "max_line_bytes {n} too small or too large"),
            LimitsError::GetLineBytes(n) => write!(f, "max_get_line_bytes {n} out of range"),
            LimitsError::KeysPerGet(n) => write!(f, "max_keys_per_get {n} must be >= 1"),
            LimitsError::ValueBytes(n) => write!(f, "max_value_bytes {n} must be < 2^31 - 2"),
            LimitsError::MetaTokens(n) => write!(f, "max_meta_tokens {n} not in 3..=64"),
        }
    }
}

impl std::error::Error for LimitsError {}

impl Limits {
    /// Checks that the limits are usable together; the server calls it on its config.
    pub fn validate(&self) -> Result<(), LimitsError> {
        if !(1..=250).contains(&self.max_key_bytes) {
            return Err(LimitsError::KeyBytes(self.max_key_bytes));
        }
        let min_line_bytes = self.max_key_bytes + 128;
        if !(min_line_bytes..=1024 * 1024).contains(&self.max_line_bytes) {
            return Err(LimitsError::LineBytes(self.max_line_bytes));
        }
        if !(self.max_line_bytes..=64 * 1024 * 1024).contains(&self.max_get_line_bytes) {
            return Err(LimitsError::GetLineBytes(self.max_get_line_bytes));
        }
        if self.max_keys_per_get == 0 {
            return Err(LimitsError::KeysPerGet(self.max_keys_per_get));
        }
        if self.max_value_bytes > i32::MAX as usize - 2 {
            return Err(LimitsError::ValueBytes(self.max_value_bytes));
        }
        if !(3..=64).contains(&self.max_meta_tokens) {
            return Err(LimitsError::MetaTokens(self.max_meta_tokens));
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_are_memcached_s_and_valid() {
        let limits = Limits::default();
        assert_eq!(
            (
                limits.max_key_bytes,
                limits.max_line_bytes,
                limits.max_value_bytes
            ),
            (250, 2048, 1 << 20)
        );
        assert_eq!(limits.validate(), Ok(()));
    }

    #[test]
    fn each_bad_limit_has_its_error() {
        let with = |change: fn(&mut Limits)| {
            let mut limits = Limits::default();
            change(&mut limits);
            limits.validate()
        };
        assert_eq!(with(|l| l.max_key_bytes = 0), Err(LimitsError::KeyBytes(0)));
        assert_eq!(
            with(|l| l.max_key_bytes = 251),
            Err(LimitsError::KeyBytes(251))
        );
        assert_eq!(
            with(|l| l.max_line_bytes = 300),
            Err(LimitsError::LineBytes(300))
        );
        assert_eq!(
            with(|l| l.max_get_line_bytes = 1000),
            Err(LimitsError::GetLineBytes(1000))
        );
        assert_eq!(
            with(|l| l.max_keys_per_get = 0),
            Err(LimitsError::KeysPerGet(0))
        );
        assert_eq!(
            with(|l| l.max_value_bytes = usize::MAX),
            Err(LimitsError::ValueBytes(usize::MAX))
        );
        assert_eq!(
            with(|l| l.max_meta_tokens = 2),
            Err(LimitsError::MetaTokens(2))
        );
        assert!(LimitsError::KeyBytes(0)
            .to_string()
            .contains("max_key_bytes"));
    }
}
