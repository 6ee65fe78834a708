//! memcached's ascii authentication (`-Y`), as `try_read_command_asciiauth`
//! in memcached 1.6.18's proto_text.c: until a connection authenticates, the
//! only request it may send is `set <any key> <flags> <exptime> <bytes>`
//! whose data is `user password`. Replies are memcached's:
//!
//! - not such a set line: `CLIENT_ERROR unauthenticated` (the line is dropped);
//! - data not ending in `\r\n`: `CLIENT_ERROR bad command line termination`;
//! - data without two words: `CLIENT_ERROR bad authentication token format`;
//! - a wrong pair: `CLIENT_ERROR authentication failure` (counted in `auth_errors`);
//! - a right pair: `STORED`, and the connection is served from then on.
//!
//! None of these closes the connection, as in memcached. Two bounds memcached
//! lacks keep an unauthenticated client from holding resources: its data
//! block is at most [`MAX_AUTH_DATA_BYTES`] (a larger one is a failure and
//! closes, since the stream can no longer be framed), and it is closed once
//! `auth_timeout_secs` have passed since it connected (checked whenever it
//! sends something: the runtime has no per-connection timer for the service).

use std::time::{Duration, Instant};

use crate::context::ServerContext;
use crate::exec::conn_loop::Step;
use crate::observability::metrics::Counter;
use crate::security::access_files::MemcacheUsers;

/// Largest data block of an authentication `set`: memcached's auth file lines
/// are at most 255 bytes, so `user password` always fits.
pub const MAX_AUTH_DATA_BYTES: usize = 1024;

/// memcached closes a connection that sent this many bytes without a `\n`
/// before authenticating.
const MAX_AUTH_LINE_BYTES: usize = 2048;

/// A memcache connection that has not authenticated yet.
#[derive(Debug, Clone, Copy)]
pub struct Unauthenticated {
    /// When it is closed if it has not authenticated by then.
    deadline: Instant,
}

impl Unauthenticated {
    /// A connection accepted now, closed after `timeout` unless it authenticates.
    pub fn new(timeout: Duration) -> Self {
        Self {
            deadline: Instant::now() + timeout,
        }
    }

    /// When the connection is closed if it has not authenticated by then.
    pub fn deadline(&self) -> Instant {
        self.deadline
    }

    /// Handles the front of `rest`; the bool says whether the connection has
    /// now authenticated.
    pub fn step(
        &self,
        ctx: &ServerContext,
        users: &MemcacheUsers,
        rest: &[u8],
        output: &mut Vec<u8>,
    ) -> (Step, bool) {
        if Instant::now() >= self.deadline {
            return (Step::Close(0), false);
        }
        // memcached: "impossible for the auth command to be this short".
        if rest.len() < 2 {
            return (Step::NeedMore, false);
        }
        let Some(line_end) = memchr::memchr(b'\n', rest) else {
            let step = if rest.len() > MAX_AUTH_LINE_BYTES {
                Step::Close(0)
            } else {
                Step::NeedMore
            };
            return (step, false);
        };
        let Some(data_bytes) = auth_set_data_bytes(&rest[..line_end]) else {
            output.extend_from_slice(b"CLIENT_ERROR unauthenticated\r\n");
            return (Step::Next(line_end + 1), false);
        };
        if data_bytes > MAX_AUTH_DATA_BYTES {
            count_attempt(ctx, false);
            output.extend_from_slice(b"CLIENT_ERROR authentication failure\r\n");
            return (Step::Close(line_end + 1), false);
        }
        let total_bytes = line_end + 1 + data_bytes + 2;
        let Some(data) = rest.get(line_end + 1..total_bytes) else {
            return (Step::NeedMore, false);
        };
        let Some(payload) = data.strip_suffix(b"\r\n") else {
            output.extend_from_slice(b"CLIENT_ERROR bad command line termination\r\n");
            return (Step::Next(total_bytes), false);
        };
        let mut words = payload.split(|&b| b == b' ').filter(|w| !w.is_empty());
        let (Some(user), Some(password)) = (words.next(), words.next()) else {
            output.extend_from_slice(b"CLIENT_ERROR bad authentication token format\r\n");
            return (Step::Next(total_bytes), false);
        };
        let accepted = users.check(user, password);
        count_attempt(ctx, accepted);
        output.extend_from_slice(if accepted {
            b"STORED\r\n"
        } else {
            b"CLIENT_ERROR authentication failure\r\n"
        });
        (Step::Next(total_bytes), accepted)
    }
}

/// memcached's `auth_cmds` and `auth_errors`.
fn count_attempt(ctx: &ServerContext, accepted: bool) {
    ctx.metrics.incr(Counter::AuthCmds);
    if !accepted {
        ctx.metrics.incr(Counter::AuthErrors);
    }
}

/// The `<bytes>` of a `set <key> <flags> <exptime> <bytes> ...` line, whose
/// other fields memcached ignores; `None` for any other line. Fields are
/// split on spaces only and a `\r` may end the number, as with memcached's
/// tokenizer and `safe_strtoul`.
fn auth_set_data_bytes(line: &[u8]) -> Option<usize> {
    let mut tokens = line.split(|&b| b == b' ').filter(|t| !t.is_empty());
    if tokens.next()? != b"set" {
        return None;
    }
    let bytes_token = tokens.nth(3)?;
    let digits = bytes_token.strip_suffix(b"\r").unwrap_or(bytes_token);
    if digits.is_empty() || digits.len() > 10 || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    let value: u64 = std::str::from_utf8(digits).ok()?.parse().ok()?;
    u32::try_from(value).ok().map(|v| v as usize)
}

#[cfg(test)]
mod tests {
    use super::auth_set_data_bytes;

    #[test]
    fn reads_the_length_of_a_set_line_only() {
        assert_eq!(auth_set_data_bytes(b"set foo 0 0 7\r"), Some(7));
        assert_eq!(auth_set_data_bytes(b"set  foo 1 2 10 noreply"), Some(10));
        assert_eq!(auth_set_data_bytes(b"get foo"), None);
        assert_eq!(auth_set_data_bytes(b"set foo 0 0"), None);
        assert_eq!(auth_set_data_bytes(b"set foo 0 0 x"), None);
        assert_eq!(auth_set_data_bytes(b"set foo 0 0 -1"), None);
        assert_eq!(auth_set_data_bytes(b"set foo 0 0 4294967296"), None);
    }
}
