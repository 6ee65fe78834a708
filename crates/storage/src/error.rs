//! Typed errors for configuration and for cache operations.

use std::fmt;

/// Why a cache operation did not happen. Each maps to one memcached reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheError {
    /// The key is empty (memcached: keys are 1 to 250 bytes).
    KeyEmpty,
    /// The key is longer than [`crate::MAX_KEY_LEN`] bytes.
    KeyTooLong {
        /// Length of the rejected key in bytes.
        len: usize,
    },
    /// Key, value and the largest header are more than the configured item size limit.
    ValueTooLarge {
        /// Length of the rejected value (after append/prepend) in bytes.
        len: usize,
        /// The configured item size limit in bytes.
        limit: usize,
    },
    /// add found the key, or replace/append/prepend did not (memcached `NOT_STORED`).
    NotStored,
    /// cas found the item changed since the client's `gets` (memcached `EXISTS`).
    Exists,
    /// The key is not in the cache (memcached `NOT_FOUND`).
    NotFound,
    /// incr/decr on a value that is not a decimal u64.
    NonNumeric,
    /// No memory could be freed for the write (eviction policy `none`, or all memory busy).
    OutOfMemory,
}

impl fmt::Display for CacheError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CacheError::KeyEmpty => write!(f, "key is empty"),
            CacheError::KeyTooLong { len } => write!(f, "key of {len} bytes is too long"),
            CacheError::ValueTooLarge { len, limit } => {
                write!(f, "item of {len} bytes is over the {limit}-byte limit")
            }
            CacheError::NotStored => write!(f, "not stored"),
            CacheError::Exists => write!(f, "item changed since it was read"),
            CacheError::NotFound => write!(f, "not found"),
            CacheError::NonNumeric => {
                write!(f, "cannot increment or decrement non-numeric value")
            }
            CacheError::OutOfMemory => write!(f, "out of memory storing object"),
        }
    }
}

impl std::error::Error for CacheError {}

/// Why a heap file could not be opened or saved.
#[derive(Debug)]
pub enum HeapFileError {
    /// The storage configuration is unusable.
    Config(ConfigError),
    /// Another process has the file open (its lock is held).
    InUse {
        /// The heap file.
        path: std::path::PathBuf,
    },
    /// A system call on the file failed.
    Io {
        /// What was being done ("open", "map", "write the image of").
        what: &'static str,
        /// The heap file.
        path: std::path::PathBuf,
        /// The system's error.
        error: std::io::Error,
    },
    /// The engine has no heap file to save to.
    NoHeapFile,
    /// A writer or background job was still at work: saving now would record a
    /// half-done change.
    NotQuiet(&'static str),
}

impl fmt::Display for HeapFileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            HeapFileError::Config(error) => write!(f, "{error}"),
            HeapFileError::InUse { path } => write!(
                f,
                "heap file {} is in use by another process (two caches cannot share one heap file)",
                path.display()
            ),
            HeapFileError::Io { what, path, error } => {
                write!(f, "cannot {what} heap file {}: {error}", path.display())
            }
            HeapFileError::NoHeapFile => write!(f, "the engine has no heap file"),
            HeapFileError::NotQuiet(what) => {
                write!(f, "cannot save while the engine is in use: {what}")
            }
        }
    }
}

impl std::error::Error for HeapFileError {}

/// Why a [`crate::Config`] was refused at start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// Segment size outside the supported range.
    SegmentSize {
        /// The rejected size in bytes.
        bytes: usize,
        /// Smallest allowed size in bytes.
        min: usize,
        /// Largest allowed size in bytes.
        max: usize,
    },
    /// Item size limit is too small for any item, or too big to fit in one segment.
    ItemSizeLimit {
        /// The rejected limit in bytes.
        bytes: usize,
        /// Smallest limit: the largest header plus a 1-byte key.
        min: usize,
        /// Largest limit the segment size allows, in bytes.
        max: usize,
    },
    /// The heap cannot hold the index plus enough segments for every shard.
    HeapTooSmall {
        /// The configured heap in bytes.
        heap_bytes: usize,
        /// The smallest heap that works with this configuration, in bytes.
        min_bytes: usize,
    },
    /// The heap needs more segments than a slot can address.
    HeapTooLarge {
        /// The configured heap in bytes.
        heap_bytes: usize,
        /// The largest heap for this segment size, in bytes.
        max_bytes: usize,
    },
    /// Expected item size is zero or larger than the item size limit.
    ExpectedItemSize {
        /// The rejected size in bytes.
        bytes: usize,
    },
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::SegmentSize { bytes, min, max } => {
                write!(f, "segment size {bytes} bytes is outside {min}..={max}")
            }
            ConfigError::ItemSizeLimit { bytes, min, max } => {
                write!(
                    f,
                    "item size limit {bytes} bytes must be {min}..={max} for this segment size"
                )
            }
            ConfigError::HeapTooSmall {
                heap_bytes,
                min_bytes,
            } => {
                write!(
                    f,
                    "heap of {heap_bytes} bytes is too small; need at least {min_bytes}"
                )
            }
            ConfigError::HeapTooLarge {
                heap_bytes,
                max_bytes,
            } => {
                write!(
                    f,
                    "heap of {heap_bytes} bytes is too large; at most {max_bytes}"
                )
            }
            ConfigError::ExpectedItemSize { bytes } => {
                write!(
                    f,
                    "expected item size {bytes} bytes must be 1..=item size limit"
                )
            }
        }
    }
}

impl std::error::Error for ConfigError {}
