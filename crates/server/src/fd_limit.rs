//! Raising the open-file limit so that `-c` connections fit, as memcached
//! does at start: many systems give processes a soft limit of 1024.

use std::io;

/// Descriptors beyond connections: listeners, epoll, wakers, logs, files.
const RESERVED_FDS: u64 = 64;

/// Raises the soft `RLIMIT_NOFILE` to hold `connections` plus a reserve,
/// never above the hard limit. Returns the soft limit now in force.
pub fn ensure_fd_limit(connections: u64) -> io::Result<u64> {
    let wanted = connections.saturating_add(RESERVED_FDS);
    let mut limit = libc::rlimit {
        rlim_cur: 0,
        rlim_max: 0,
    };
    // SAFETY: `limit` is a valid, writable rlimit for getrlimit to fill.
    if unsafe { libc::getrlimit(libc::RLIMIT_NOFILE, &mut limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let current: u64 = limit.rlim_cur;
    if current >= wanted {
        return Ok(current);
    }
    let raised = wanted.min(limit.rlim_max);
    limit.rlim_cur = raised;
    // SAFETY: `limit` is a valid rlimit whose soft value is at most its hard value.
    if unsafe { libc::setrlimit(libc::RLIMIT_NOFILE, &limit) } != 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(raised)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limit_covers_connections_up_to_the_hard_limit() {
        let soft = ensure_fd_limit(100).unwrap();
        assert!(soft >= 100 + RESERVED_FDS);
        // Asking again is a no-op and reports the same limit.
        assert_eq!(ensure_fd_limit(10).unwrap(), soft);
        // A huge request stops at the hard limit instead of failing.
        let capped = ensure_fd_limit(u64::MAX / 2).unwrap();
        assert!(capped >= soft);
    }
}
