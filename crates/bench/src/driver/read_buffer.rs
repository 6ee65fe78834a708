//! A connection's buffer of received, not yet framed bytes. Zeroed once when it grows,
//! never per read: re-zeroing 64 KiB before every read cost microseconds per reply.

/// Received bytes `buf[start..end]`; `buf[end..]` is free space for the next read.
#[derive(Debug)]
pub struct ReadBuffer {
    buf: Vec<u8>,
    start: usize,
    end: usize,
    max_bytes: usize,
}

impl ReadBuffer {
    /// A buffer of `initial_bytes` that may grow to `max_bytes`.
    pub fn new(initial_bytes: usize, max_bytes: usize) -> Self {
        assert!(initial_bytes > 0 && initial_bytes <= max_bytes);
        Self {
            buf: vec![0; initial_bytes],
            start: 0,
            end: 0,
            max_bytes,
        }
    }

    /// The bytes received and not yet consumed.
    pub fn data(&self) -> &[u8] {
        &self.buf[self.start..self.end]
    }

    /// Free space to read into, after compacting or growing; `None` when the unconsumed
    /// bytes already fill `max_bytes` (the peer sent something that cannot be framed).
    pub fn spare(&mut self) -> Option<&mut [u8]> {
        if self.end == self.buf.len() {
            if self.start > 0 {
                self.buf.copy_within(self.start..self.end, 0);
                self.end -= self.start;
                self.start = 0;
            } else if self.buf.len() < self.max_bytes {
                let grown = (self.buf.len() * 2).min(self.max_bytes);
                self.buf.resize(grown, 0);
            } else {
                return None;
            }
        }
        Some(&mut self.buf[self.end..])
    }

    /// Marks `n` bytes of the spare space as received.
    pub fn commit(&mut self, n: usize) {
        assert!(self.end + n <= self.buf.len());
        self.end += n;
    }

    /// Drops the first `n` unconsumed bytes.
    pub fn consume(&mut self, n: usize) {
        assert!(self.start + n <= self.end);
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
        }
    }

    /// Forgets everything received.
    pub fn clear(&mut self) {
        self.start = 0;
        self.end = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn receive(b: &mut ReadBuffer, bytes: &[u8]) {
        let spare = b.spare().unwrap();
        spare[..bytes.len()].copy_from_slice(bytes);
        b.commit(bytes.len());
    }

    #[test]
    fn compacts_then_grows_then_refuses() {
        let mut b = ReadBuffer::new(4, 8);
        receive(&mut b, b"abcd");
        b.consume(2);
        // Full at the end: the unconsumed "cd" moves to the front.
        assert_eq!(b.spare().unwrap().len(), 2);
        receive(&mut b, b"ef");
        assert_eq!(b.data(), b"cdef");
        // Full from the front: grows to the limit.
        receive(&mut b, b"ghij");
        assert_eq!(b.data(), b"cdefghij");
        // Full at the limit with nothing consumed: refused.
        assert!(b.spare().is_none());
        b.consume(8);
        assert_eq!(b.data(), b"");
        assert_eq!(b.spare().unwrap().len(), 8);
    }
}
