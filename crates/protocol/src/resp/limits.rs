//! Bounds on what one RESP request may ask the parser to hold.

/// Limits a RESP request must respect; each one has its own error.
///
/// Every limit is checked before the bytes it guards are waited for: a request that
/// would exceed one is refused as soon as its headers say so, so a session buffer never
/// has to grow past `max_request_bytes` (or `max_inline_len_bytes`) to frame a request.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// Longest bulk string (`$N`), so the largest value: `Protocol error: invalid bulk length`.
    pub max_bulk_len_bytes: usize,
    /// Most arguments in one multibulk request or inline line, the command name included:
    /// `Protocol error: invalid multibulk length`.
    pub max_arg_count: usize,
    /// Longest inline line and longest `*N`/`$N` header line:
    /// `Protocol error: too big inline request`.
    pub max_inline_len_bytes: usize,
    /// Longest key any command may name: `ERR key too long (max N bytes)`.
    pub max_key_len_bytes: usize,
    /// Largest whole multibulk request, headers included, so a session never buffers
    /// more than this for one request: `Protocol error: request too large`.
    pub max_request_bytes: usize,
}

/// Redis's `PROTO_INLINE_MAX_SIZE`.
pub const DEFAULT_MAX_INLINE_LEN_BYTES: usize = 64 * 1024;

impl Default for Limits {
    /// Keys as long as memcached's (250 bytes), values up to 1 MiB (memcached's default
    /// item size), 64 Ki arguments (a 32 Ki-pair MSET), Redis's 64 KiB inline limit,
    /// 16 MiB per request.
    fn default() -> Self {
        Limits {
            max_bulk_len_bytes: 1024 * 1024,
            max_arg_count: 64 * 1024,
            max_inline_len_bytes: DEFAULT_MAX_INLINE_LEN_BYTES,
            max_key_len_bytes: 250,
            max_request_bytes: 16 * 1024 * 1024,
        }
    }
}
