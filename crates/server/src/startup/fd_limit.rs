//! Raising the open-file limit so that `-c` connections fit, as memcached
//! does at start: many systems give processes a soft limit of 1024.

use std::io;

/// Descriptors beyond connections: listeners, epoll, wakers, logs, files.
const RESERVED_FDS: u64 = 64;
/// Descriptors each worker keeps besides its connections: its poll, its
/// waker, its spare for refusing connections at EMFILE, and a listener or
/// two per protocol.
const FDS_PER_WORKER: u64 = 8;

/// Descriptors the server needs besides its data connections.
pub fn reserved_fds(workers: usize) -> u64 {
    RESERVED_FDS + FDS_PER_WORKER * workers as u64
}

/// `-c` that fits in `fd_limit` descriptors with `workers` workers: the
/// asked `connections`, or fewer (at least 1) when the limit cannot hold
/// them, so that the server refuses with its own reply (and the process
/// keeps descriptors for its own files) instead of running into EMFILE.
pub fn connections_that_fit(connections: u64, fd_limit: u64, workers: usize) -> u64 {
    connections.min(fd_limit.saturating_sub(reserved_fds(workers)).max(1))
}

/// Raises the soft `RLIMIT_NOFILE` to hold `connections` plus a reserve,
/// never above the hard limit. Returns the soft limit now in force.
pub fn ensure_fd_limit(connections: u64, workers: usize) -> io::Result<u64> {
    use nix::sys::resource::{getrlimit, setrlimit, Resource};
    let wanted = connections.saturating_add(reserved_fds(workers));
    let (current, hard) = getrlimit(Resource::RLIMIT_NOFILE)?;
    if current >= wanted {
        return Ok(current);
    }
    let raised = wanted.min(hard);
    setrlimit(Resource::RLIMIT_NOFILE, raised, hard)?;
    Ok(raised)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_covers_connections_up_to_the_hard_limit() {
        let soft = ensure_fd_limit(100, 2).unwrap();
        assert!(soft >= 100 + reserved_fds(2));
        // Asking again is a no-op and reports the same limit.
        assert_eq!(ensure_fd_limit(10, 2).unwrap(), soft);
        // A huge request stops at the hard limit instead of failing.
        let capped = ensure_fd_limit(u64::MAX / 2, 2).unwrap();
        assert!(capped >= soft);
    }

    #[test]
    fn connections_are_clamped_to_what_the_limit_holds() {
        assert_eq!(connections_that_fit(1024, 1_000_000, 4), 1024);
        let reserve = reserved_fds(4);
        assert_eq!(connections_that_fit(1024, 256, 4), 256 - reserve);
        // A limit below the reserve still allows one connection.
        assert_eq!(connections_that_fit(1024, 10, 4), 1);
    }
}
