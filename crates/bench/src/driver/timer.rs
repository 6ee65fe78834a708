//! A timerfd registered with mio, so the event loop wakes at a schedule time with
//! microsecond precision instead of epoll's millisecond timeout (which would make every
//! request up to 1 ms late and put that lateness into the measured latency).

use mio::unix::SourceFd;
use mio::{Interest, Registry, Token};
use std::io;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::time::Duration;

/// A one-shot monotonic timer whose expiry makes its fd readable.
#[derive(Debug)]
pub struct WakeTimer {
    fd: OwnedFd,
}

impl WakeTimer {
    /// Creates the timer (disarmed).
    pub fn new() -> io::Result<Self> {
        // SAFETY: timerfd_create takes no pointers; a negative return is an error and
        // is checked before the value is used as a descriptor.
        let raw = unsafe {
            libc::timerfd_create(
                libc::CLOCK_MONOTONIC,
                libc::TFD_NONBLOCK | libc::TFD_CLOEXEC,
            )
        };
        if raw < 0 {
            return Err(io::Error::last_os_error());
        }
        // SAFETY: `raw` is a fresh descriptor we own and nothing else closes.
        Ok(Self {
            fd: unsafe { OwnedFd::from_raw_fd(raw) },
        })
    }

    /// Registers the timer with a poll.
    pub fn register(&self, registry: &Registry, token: Token) -> io::Result<()> {
        registry.register(
            &mut SourceFd(&self.fd.as_raw_fd()),
            token,
            Interest::READABLE,
        )
    }

    /// Fires once, `after` from now (at least 1 ns: a zero value would disarm it).
    pub fn arm(&self, after: Duration) -> io::Result<()> {
        let after = after.max(Duration::from_nanos(1));
        let spec = libc::itimerspec {
            it_interval: libc::timespec {
                tv_sec: 0,
                tv_nsec: 0,
            },
            it_value: libc::timespec {
                tv_sec: after.as_secs().min(i64::MAX as u64) as libc::time_t,
                tv_nsec: after.subsec_nanos() as libc::c_long,
            },
        };
        // SAFETY: `spec` is a valid itimerspec on our stack for the whole call, the old
        // value pointer is null (allowed), and the fd is our open timerfd.
        let rc =
            unsafe { libc::timerfd_settime(self.fd.as_raw_fd(), 0, &spec, std::ptr::null_mut()) };
        if rc < 0 {
            return Err(io::Error::last_os_error());
        }
        Ok(())
    }

    /// Consumes the expiry count so the next expiry raises a new edge.
    pub fn clear(&self) {
        let mut expirations = [0u8; 8];
        // SAFETY: reads at most 8 bytes into an 8-byte stack buffer from our own
        // non-blocking fd; EAGAIN (nothing expired) is harmless and ignored.
        unsafe {
            libc::read(
                self.fd.as_raw_fd(),
                expirations.as_mut_ptr().cast(),
                expirations.len(),
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use mio::{Events, Poll};
    use std::time::Instant;

    #[test]
    fn timer_wakes_poll_at_sub_millisecond_precision() {
        let mut poll = Poll::new().unwrap();
        let timer = WakeTimer::new().unwrap();
        timer.register(poll.registry(), Token(1)).unwrap();
        let mut events = Events::with_capacity(4);
        for _ in 0..3 {
            let start = Instant::now();
            timer.arm(Duration::from_micros(300)).unwrap();
            poll.poll(&mut events, Some(Duration::from_secs(2)))
                .unwrap();
            let waited = start.elapsed();
            assert!(
                events.iter().any(|e| e.token() == Token(1)),
                "timer did not fire"
            );
            assert!(waited >= Duration::from_micros(300), "{waited:?}");
            // A loaded CI box may be slow, but never a whole second late.
            assert!(waited < Duration::from_millis(500), "{waited:?}");
            timer.clear();
        }
    }
}
