//! What every protocol's parser makes of the bytes at the front of a connection's
//! input, and what a connection does after a refused request: one shape for memcache
//! (text, meta and binary), RESP and HTTP, so that a server drives them the same way.

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

/// What the connection does after writing a refused request's reply.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorAction {
    /// Drop this many bytes from the front of the input and go on parsing. It can exceed
    /// the bytes buffered (memcache swallows a too-large value as it arrives): discard
    /// input until that many bytes are gone.
    Skip {
        /// Bytes to discard, counted from the start of the refused request.
        bytes: usize,
    },
    /// Flush the reply and close: the stream can no longer be framed.
    Close,
}
