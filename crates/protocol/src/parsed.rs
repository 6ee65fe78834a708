//! What every protocol's parser makes of the bytes at the front of a connection's
//! input: one shape for memcache (text, meta and binary), RESP and HTTP, so that a
//! server drives all of them the same way.

/// The outcome of a successful parse: a whole request, or a prefix of one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Parsed<R> {
    /// A whole request made of the first `consumed_bytes` bytes of the input; drop
    /// them from the buffer once it is answered.
    Complete {
        /// The request; it borrows the input.
        request: R,
        /// Bytes of input the request occupies.
        consumed_bytes: usize,
    },
    /// The input is a prefix of a request that may still be valid: read more and
    /// parse again from the same start. Never an error.
    Incomplete {
        /// The input must hold at least this many bytes in all before a retry can
        /// succeed: a lower bound, exact where the framing tells (a data block, a
        /// bulk string, a body); a retry with fewer bytes only finds the same prefix.
        needed_bytes_hint: usize,
    },
}
