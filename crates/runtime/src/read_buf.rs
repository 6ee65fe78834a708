//! A session's input buffer: grows on demand up to a bound, shrinks back
//! when empty, and keeps unconsumed bytes at its front.

use std::io::{self, Read};

/// Bytes read from a connection and not yet consumed.
pub(crate) struct ReadBuf {
    /// Initialised storage; `len()` is the current capacity. Empty until the
    /// first read, and again after [`ReadBuf::release`]: an idle connection
    /// holds no buffer.
    storage: Vec<u8>,
    start: usize,
    end: usize,
    initial_bytes: usize,
    max_bytes: usize,
}

/// Result of one [`ReadBuf::read_from`].
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum ReadOutcome {
    /// `bytes` arrived; `short` when fewer than asked, i.e. the socket had
    /// no more at that moment.
    Data {
        /// Bytes read.
        bytes: usize,
        /// Fewer bytes than there was room for.
        short: bool,
    },
    /// The peer closed its sending side.
    Eof,
    /// Nothing to read now.
    WouldBlock,
    /// The unconsumed bytes already fill the maximum size.
    Full,
}

impl ReadBuf {
    pub(crate) fn new(initial_bytes: usize, max_bytes: usize) -> Self {
        debug_assert!(initial_bytes > 0 && initial_bytes <= max_bytes);
        Self {
            storage: Vec::new(),
            start: 0,
            end: 0,
            initial_bytes,
            max_bytes,
        }
    }

    pub(crate) fn data(&self) -> &[u8] {
        &self.storage[self.start..self.end]
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.start == self.end
    }

    /// Bytes of memory the buffer holds now.
    pub(crate) fn capacity_bytes(&self) -> usize {
        self.storage.capacity()
    }

    /// Gives the whole buffer back when nothing waits in it (an idle
    /// connection); the next read allocates it again.
    pub(crate) fn release(&mut self) {
        if self.is_empty() {
            self.start = 0;
            self.end = 0;
            self.storage = Vec::new();
        }
    }

    /// Drops `n` bytes from the front.
    pub(crate) fn consume(&mut self, n: usize) {
        assert!(n <= self.end - self.start, "consumed more than was read");
        self.start += n;
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            self.shrink_if_large();
        }
    }

    /// Discards everything buffered.
    pub(crate) fn clear(&mut self) {
        self.start = 0;
        self.end = 0;
        self.shrink_if_large();
    }

    /// Reads at most `limit` bytes once.
    pub(crate) fn read_from(
        &mut self,
        src: &mut impl Read,
        limit: usize,
    ) -> io::Result<ReadOutcome> {
        if !self.make_room() {
            return Ok(ReadOutcome::Full);
        }
        let until = self.storage.len().min(self.end + limit.max(1));
        loop {
            return match src.read(&mut self.storage[self.end..until]) {
                Ok(0) => Ok(ReadOutcome::Eof),
                Ok(n) => {
                    let short = self.end + n < until;
                    self.end += n;
                    Ok(ReadOutcome::Data { bytes: n, short })
                }
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => Ok(ReadOutcome::WouldBlock),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => Err(e),
            };
        }
    }

    /// Ensures free space after `end`: compacts, then grows (doubling, up to
    /// the maximum). False when the unconsumed bytes fill the maximum.
    fn make_room(&mut self) -> bool {
        if self.storage.is_empty() {
            // Allocated on first use, not at accept.
            self.storage = vec![0; self.initial_bytes];
            return true;
        }
        if self.end < self.storage.len() {
            return true;
        }
        if self.start > 0 {
            self.storage.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
            return true;
        }
        if self.storage.len() >= self.max_bytes {
            return false;
        }
        let grown = (self.storage.len() * 2).min(self.max_bytes);
        self.storage.resize(grown, 0);
        true
    }

    /// Gives memory back after a large request so idle sessions stay small.
    fn shrink_if_large(&mut self) {
        if self.storage.len() > self.initial_bytes {
            self.storage.truncate(self.initial_bytes);
            self.storage.shrink_to_fit();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_to_max_then_reports_full() {
        let mut buf = ReadBuf::new(4, 10);
        let mut src: &[u8] = b"0123456789abcdef";
        let mut total = 0;
        loop {
            match buf.read_from(&mut src, 100).unwrap() {
                ReadOutcome::Data { bytes, .. } => total += bytes,
                ReadOutcome::Full => break,
                other => panic!("unexpected {other:?}"),
            }
        }
        assert_eq!(total, 10);
        assert_eq!(buf.data(), b"0123456789");
    }

    #[test]
    fn compacts_and_shrinks_when_consumed() {
        let mut buf = ReadBuf::new(4, 16);
        let mut src: &[u8] = b"abcdefgh";
        while let ReadOutcome::Data { .. } = buf.read_from(&mut src, 100).unwrap() {}
        assert_eq!(buf.data(), b"abcdefgh");
        buf.consume(3);
        assert_eq!(buf.data(), b"defgh");
        buf.consume(5);
        assert!(buf.is_empty());
        assert_eq!(buf.storage.len(), 4);
    }

    #[test]
    fn allocates_on_first_read_and_releases_when_empty() {
        let mut buf = ReadBuf::new(4, 16);
        assert_eq!(buf.capacity_bytes(), 0, "nothing allocated before a read");
        let mut src: &[u8] = b"ab";
        assert!(matches!(
            buf.read_from(&mut src, 100).unwrap(),
            ReadOutcome::Data { bytes: 2, .. }
        ));
        assert_eq!(buf.capacity_bytes(), 4);
        buf.release();
        assert_eq!(buf.capacity_bytes(), 4, "bytes waiting keep the buffer");
        buf.consume(2);
        buf.release();
        assert_eq!(buf.capacity_bytes(), 0);
        let mut more: &[u8] = b"c";
        assert!(matches!(
            buf.read_from(&mut more, 100).unwrap(),
            ReadOutcome::Data { bytes: 1, .. }
        ));
        assert_eq!(buf.data(), b"c");
    }

    #[test]
    fn respects_read_limit_and_eof() {
        let mut buf = ReadBuf::new(8, 8);
        let mut src: &[u8] = b"abc";
        let full = ReadOutcome::Data {
            bytes: 2,
            short: false,
        };
        assert_eq!(buf.read_from(&mut src, 2).unwrap(), full);
        let short = ReadOutcome::Data {
            bytes: 1,
            short: true,
        };
        assert_eq!(buf.read_from(&mut src, 2).unwrap(), short);
        assert_eq!(buf.read_from(&mut src, 2).unwrap(), ReadOutcome::Eof);
    }
}
