//! Reads another thread's stack: the watchdog asks a stalled worker for its
//! instruction pointers with a signal; a thread off its loop symbolizes them.
//!
//! No std API walks a different thread's stack, so the stalled thread walks
//! its own: a real-time signal interrupts it wherever it spins, and the
//! handler records raw instruction pointers into a static buffer. Everything
//! the handler touches is preallocated and lock-free, because it may interrupt
//! the thread inside `malloc` or while it holds any lock.
//!
//! One capture runs at a time, through a static state machine:
//!
//! ```text
//!   IDLE --watchdog--> CLAIMED --watchdog--> REQUESTED --handler--> CAPTURING
//!    ^                                           |                     |
//!    |<--------------watchdog, timeout-----------+                  handler
//!    |                                                                 v
//!    +<--------------watchdog, after copying the buffer------------- DONE
//! ```
//!
//! A signal that arrives in any state but REQUESTED (late, after the watchdog
//! gave up, or sent by someone else) leaves the buffer alone.
//!
//! Caveat: the unwinder (`_Unwind_Backtrace`) is not formally
//! async-signal-safe. On glibc it may take the loader lock the first time it
//! looks up an object's unwind tables, so a thread stopped inside `dlopen`
//! could deadlock in the handler. A cache worker does not load libraries at
//! run time, and captures are rate-limited, which is why the risk is taken.

// Elsewhere every capture reports Unsupported and the machinery sits unused.
#![cfg_attr(not(target_os = "linux"), allow(dead_code, unused_imports))]

use std::fmt::Write as _;
use std::sync::atomic::{AtomicBool, AtomicI32, AtomicU8, AtomicUsize, Ordering};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// Deepest stack recorded; a worker's stack is rarely deeper, and the handler
/// must not allocate, so the buffer is fixed.
pub(crate) const FRAMES_MAX: usize = 128;

/// How long the watchdog waits for the stalled thread to run the handler; a
/// thread stuck in an uninterruptible syscall may never run it.
pub(crate) const CAPTURE_WAIT: Duration = Duration::from_millis(200);

/// How long the watchdog waits for another capture to finish before giving up
/// on its own (several watchdogs share the one static buffer).
const SLOT_WAIT: Duration = Duration::from_millis(200);

/// Sleep between two looks at the state while waiting: short against
/// [`CAPTURE_WAIT`], long enough not to burn the watchdog's core.
const WAIT_STEP: Duration = Duration::from_micros(100);

const IDLE: u8 = 0;
const CLAIMED: u8 = 1;
const REQUESTED: u8 = 2;
const CAPTURING: u8 = 3;
const DONE: u8 = 4;

static STATE: AtomicU8 = AtomicU8::new(IDLE);
/// Set when a watchdog stopped waiting for a handler that was already
/// writing: whoever finds the slot DONE with this set may take it over.
static ABANDONED: AtomicBool = AtomicBool::new(false);
/// Kernel thread id the current request is for; the handler checks it so that
/// a stray signal on another thread records nothing.
static TARGET_TID: AtomicI32 = AtomicI32::new(0);
static FRAMES: [AtomicUsize; FRAMES_MAX] = [const { AtomicUsize::new(0) }; FRAMES_MAX];
static FRAMES_LEN: AtomicUsize = AtomicUsize::new(0);

/// Why no stack came back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum CaptureError {
    /// This platform has no capture, or the signal handler could not be
    /// installed (the signal is taken by someone else).
    Unsupported,
    /// The heartbeat was never bound to a thread.
    Unbound,
    /// Another capture held the buffer for longer than [`SLOT_WAIT`].
    Busy,
    /// The signal could not be sent (the thread has exited).
    SendFailed,
    /// The thread did not run the handler within [`CAPTURE_WAIT`].
    TimedOut,
}

/// Kernel id of the calling thread: unlike a `pthread_t`, signalling a stale
/// one fails with `ESRCH` instead of touching freed memory.
pub(crate) fn current_tid() -> i32 {
    #[cfg(target_os = "linux")]
    {
        // SAFETY: gettid takes no arguments, cannot fail and touches no memory.
        let tid = unsafe { libc::syscall(libc::SYS_gettid) };
        i32::try_from(tid).unwrap_or(0)
    }
    #[cfg(not(target_os = "linux"))]
    {
        0
    }
}

/// Instruction pointers of thread `tid` (from [`current_tid`]), innermost
/// first, the handler's own frames included (see [`symbolize`]). Blocks the
/// caller for at most [`SLOT_WAIT`] + [`CAPTURE_WAIT`]; usually microseconds.
#[cfg(target_os = "linux")]
pub(crate) fn capture_ips(tid: i32) -> Result<Vec<usize>, CaptureError> {
    if tid == 0 {
        return Err(CaptureError::Unbound);
    }
    let signal = installed_signal().ok_or(CaptureError::Unsupported)?;
    acquire_slot()?;
    TARGET_TID.store(tid, Ordering::Relaxed);
    FRAMES_LEN.store(0, Ordering::Relaxed);
    // Release: the handler's Acquire CAS then sees TARGET_TID.
    STATE.store(REQUESTED, Ordering::Release);
    // A failed send that still reached a handler (a stray signal of ours)
    // means the buffer is being written: wait for it like a sent one.
    if !send_signal(tid, signal)
        && STATE
            .compare_exchange(REQUESTED, IDLE, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    {
        return Err(CaptureError::SendFailed);
    }
    if !wait_for_done() {
        return Err(CaptureError::TimedOut);
    }
    // Acquire (in wait_for_done) pairs with the handler's Release of DONE.
    let len = FRAMES_LEN.load(Ordering::Relaxed).min(FRAMES_MAX);
    let ips = FRAMES[..len]
        .iter()
        .map(|ip| ip.load(Ordering::Relaxed))
        .collect();
    STATE.store(IDLE, Ordering::Release);
    Ok(ips)
}

#[cfg(not(target_os = "linux"))]
pub(crate) fn capture_ips(_tid: i32) -> Result<Vec<usize>, CaptureError> {
    Err(CaptureError::Unsupported)
}

/// Takes the buffer for one request, waiting while another watchdog's
/// capture runs.
#[cfg(target_os = "linux")]
fn acquire_slot() -> Result<(), CaptureError> {
    let deadline = Instant::now() + SLOT_WAIT;
    loop {
        if STATE
            .compare_exchange(IDLE, CLAIMED, Ordering::Acquire, Ordering::Relaxed)
            .is_ok()
        {
            return Ok(());
        }
        if ABANDONED.load(Ordering::Acquire)
            && STATE
                .compare_exchange(DONE, CLAIMED, Ordering::Acquire, Ordering::Relaxed)
                .is_ok()
        {
            ABANDONED.store(false, Ordering::Release);
            return Ok(());
        }
        if Instant::now() >= deadline {
            return Err(CaptureError::Busy);
        }
        std::thread::sleep(WAIT_STEP);
    }
}

/// Waits for the handler's DONE; on timeout, withdraws the request, or, when
/// the handler is already writing, waits for it a little longer so the buffer
/// is never handed to the next request mid-write.
#[cfg(target_os = "linux")]
fn wait_for_done() -> bool {
    let deadline = Instant::now() + CAPTURE_WAIT;
    loop {
        match STATE.load(Ordering::Acquire) {
            DONE => return true,
            // When the CAS fails the handler took the request between the
            // load and the CAS: keep waiting, it finishes in microseconds.
            REQUESTED
                if Instant::now() >= deadline
                    && STATE
                        .compare_exchange(REQUESTED, IDLE, Ordering::AcqRel, Ordering::Acquire)
                        .is_ok() =>
            {
                return false;
            }
            CAPTURING if Instant::now() >= deadline + CAPTURE_WAIT => {
                // A handler that never finishes keeps the slot (later captures
                // report Busy rather than race with its writes); one that
                // finishes late leaves DONE, which the next claim takes over.
                ABANDONED.store(true, Ordering::Release);
                return false;
            }
            _ => {}
        }
        std::thread::sleep(WAIT_STEP);
    }
}

#[cfg(target_os = "linux")]
fn send_signal(tid: i32, signal: libc::c_int) -> bool {
    // SAFETY: tgkill only names a thread by its kernel id; a stale id fails
    // with ESRCH (or, after id reuse, signals another of our threads, whose
    // handler sees a different tid and records nothing).
    let rc = unsafe {
        libc::syscall(
            libc::SYS_tgkill,
            libc::getpid(),
            libc::c_long::from(tid),
            libc::c_long::from(signal),
        )
    };
    rc == 0
}

/// The capture signal, once its handler is installed; `None` when it cannot
/// be (then no capture is ever attempted).
#[cfg(target_os = "linux")]
fn installed_signal() -> Option<libc::c_int> {
    static INSTALLED: OnceLock<Option<libc::c_int>> = OnceLock::new();
    *INSTALLED.get_or_init(install_handler)
}

/// Offset above SIGRTMIN: glibc keeps the first real-time signals below
/// SIGRTMIN for itself, and profilers commonly take SIGRTMIN itself.
#[cfg(target_os = "linux")]
const SIGNAL_OFFSET: libc::c_int = 4;

#[cfg(target_os = "linux")]
fn install_handler() -> Option<libc::c_int> {
    let signal = libc::SIGRTMIN() + SIGNAL_OFFSET;
    if signal > libc::SIGRTMAX() {
        return None;
    }
    // SAFETY: sigaction with a null new action only reads the current
    // disposition into `old`, which is a valid, writable sigaction.
    let mut old: libc::sigaction = unsafe { std::mem::zeroed() };
    // SAFETY: as above; a null `act` changes nothing.
    if unsafe { libc::sigaction(signal, std::ptr::null(), &mut old) } != 0 {
        return None;
    }
    if old.sa_sigaction != libc::SIG_DFL {
        tracing::warn!(
            signal,
            "stack capture signal already has a handler; no backtraces"
        );
        return None;
    }
    // SAFETY: an all-zero sigaction is a valid value (empty mask, no flags);
    // the fields that matter are set below.
    let mut action: libc::sigaction = unsafe { std::mem::zeroed() };
    let handler: extern "C" fn(libc::c_int, *mut libc::siginfo_t, *mut libc::c_void) =
        on_capture_signal;
    action.sa_sigaction = handler as libc::sighandler_t;
    action.sa_flags = libc::SA_SIGINFO | libc::SA_RESTART;
    // SAFETY: sa_mask is a valid sigset_t owned by `action`.
    unsafe { libc::sigemptyset(&mut action.sa_mask) };
    // SAFETY: the handler has the three-argument SA_SIGINFO signature, is
    // async-signal-safe apart from the unwinder caveat in the module docs, and
    // stays installed for the life of the process (a late signal must never
    // meet the default action, which would kill the process).
    if unsafe { libc::sigaction(signal, &action, std::ptr::null_mut()) } != 0 {
        return None;
    }
    Some(signal)
}

/// Runs on the stalled thread, inside the signal: records instruction pointers
/// only. No allocation, no locks, no panics (a panic here would abort).
#[cfg(target_os = "linux")]
extern "C" fn on_capture_signal(
    _signal: libc::c_int,
    _info: *mut libc::siginfo_t,
    _context: *mut libc::c_void,
) {
    if STATE
        .compare_exchange(REQUESTED, CAPTURING, Ordering::Acquire, Ordering::Relaxed)
        .is_err()
    {
        return;
    }
    // Checked after the Acquire CAS, which makes the request's tid visible.
    if TARGET_TID.load(Ordering::Relaxed) != current_tid() {
        STATE.store(REQUESTED, Ordering::Release);
        return;
    }
    let errno = saved_errno();
    let mut len = 0;
    // SAFETY: trace_unsynchronized is unsafe because it skips the crate's
    // global lock; nothing else in this process takes that lock concurrently
    // with a walk of *this* thread, and the closure only stores integers into
    // static atomics.
    unsafe {
        backtrace::trace_unsynchronized(|frame| match FRAMES.get(len) {
            Some(slot) => {
                slot.store(frame.ip() as usize, Ordering::Relaxed);
                len += 1;
                true
            }
            None => false,
        });
    }
    FRAMES_LEN.store(len, Ordering::Relaxed);
    STATE.store(DONE, Ordering::Release);
    restore_errno(errno);
}

/// The interrupted code may be between a failing call and its read of
/// `errno`; the unwinder must not change what it reads.
#[cfg(target_os = "linux")]
fn saved_errno() -> libc::c_int {
    // SAFETY: __errno_location returns this thread's errno slot, always valid.
    unsafe { *libc::__errno_location() }
}

#[cfg(target_os = "linux")]
fn restore_errno(errno: libc::c_int) {
    // SAFETY: as in saved_errno.
    unsafe { *libc::__errno_location() = errno };
}

/// Symbol names and locations, one frame a line; slow the first time (it
/// reads the binary's debug info), so it runs off the watchdog's loop.
///
/// The signal handler's own frames are dropped, so that the first line is
/// where the thread was stuck: everything up to the last `on_capture_signal`
/// frame, and the one after it, the kernel's return trampoline (glibc's
/// `__restore_rt` or the vDSO's sigreturn, often without a symbol).
pub(crate) fn symbolize(ips: &[usize]) -> String {
    let frames: Vec<Vec<String>> = ips.iter().map(|&ip| resolve_frame(ip)).collect();
    let start = frames
        .iter()
        .rposition(|names| names.iter().any(|n| n.contains("on_capture_signal")))
        .map_or(0, |handler| handler + 2);
    let mut text = String::new();
    let stack = ips.iter().zip(&frames).skip(start);
    // A zero ip is the unwinder's end marker, not a frame.
    for (depth, (ip, names)) in stack.filter(|(&ip, _)| ip != 0).enumerate() {
        for name in names {
            let _ = writeln!(text, "{depth:>3}: {ip:#x} {name}");
        }
    }
    text
}

/// Every symbol at `ip` (several when functions were inlined into it), each
/// with its source location when the debug info has one.
fn resolve_frame(ip: usize) -> Vec<String> {
    let mut names = Vec::new();
    backtrace::resolve(ip as *mut std::ffi::c_void, |symbol| {
        let mut line = match symbol.name() {
            Some(name) => format!("{name:#}"),
            None => String::from("<unknown>"),
        };
        if let (Some(file), Some(lineno)) = (symbol.filename(), symbol.lineno()) {
            let _ = write!(line, " at {}:{lineno}", file.display());
        }
        names.push(line);
    });
    if names.is_empty() {
        names.push(String::from("<unknown>"));
    }
    names
}

#[cfg(all(test, target_os = "linux"))]
mod tests {
    use super::*;

    #[test]
    fn capture_of_an_unbound_thread_is_refused() {
        assert_eq!(capture_ips(0), Err(CaptureError::Unbound));
    }

    #[test]
    fn capture_of_an_exited_thread_fails_without_harm() {
        let tid = std::thread::spawn(current_tid).join().unwrap();
        // The tid may in principle be reused by another thread of this test
        // binary; then the capture succeeds, which is harmless too.
        // On a loaded machine a reusing thread may also not run the handler in
        // time (TimedOut); the buffer then stays reserved until it does.
        let first = capture_ips(tid);
        assert!(matches!(
            first,
            Err(CaptureError::SendFailed | CaptureError::TimedOut) | Ok(_)
        ));
        // The slot was released: a second try is not Busy.
        let second = capture_ips(tid);
        if first != Err(CaptureError::TimedOut) {
            assert!(matches!(
                second,
                Err(CaptureError::SendFailed | CaptureError::TimedOut) | Ok(_)
            ));
        }
    }
}
