//! A line service the runtime's end-to-end tests share.

#![allow(dead_code)] // Each test file uses a different part.

use tailcache_runtime::{Processed, Service, ServiceFactory};

/// Echoes each `\n`-terminated line; `big N` replies N bytes of `x` (no newline).
pub struct Lines;

impl Service for Lines {
    type Conn = ();

    fn new_conn(&mut self, _tag: usize) {}

    fn process(&mut self, _conn: &mut (), input: &[u8], output: &mut Vec<u8>) -> Processed {
        let Some(end) = input.iter().position(|&b| b == b'\n') else {
            return Processed::default();
        };
        let line = &input[..end];
        match line.strip_prefix(b"big ") {
            Some(n) => {
                let n: usize = std::str::from_utf8(n).unwrap().trim().parse().unwrap();
                output.resize(output.len() + n, b'x');
            }
            None => output.extend_from_slice(&input[..=end]),
        }
        Processed {
            consumed: end + 1,
            close_after_flush: false,
        }
    }
}

/// Makes [`Lines`]; panics instead when `panic_on_start`.
pub struct LinesFactory {
    /// The worker fails as it starts (to test supervision).
    pub panic_on_start: bool,
}

impl ServiceFactory for LinesFactory {
    type Service = Lines;

    fn new_worker(&self, _index: usize) -> Lines {
        assert!(!self.panic_on_start, "the test asked the worker to fail");
        Lines
    }
}
