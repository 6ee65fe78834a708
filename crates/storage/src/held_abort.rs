//! A panic while a bucket is held ends the process.
//!
//! A writer holding a bucket may be between two stores that only make sense
//! together (a slot set but its item's header not yet rewritten, an item half
//! moved to its alternate bucket). Unwinding would let the bucket go with its
//! version even again, and readers would then take what they read as whole;
//! the server's per-connection `catch_unwind` would go on serving from it. So
//! the guards' `Drop` aborts instead of letting go when it runs during a panic.

/// Aborts the process if this thread is unwinding from a panic; called first
/// in the `Drop` of every bucket guard.
pub(crate) fn abort_if_unwinding(what: &str) {
    if std::thread::panicking() {
        // Plain stderr: the panic message was just printed there by the hook;
        // this line says why the process goes down rather than going on.
        eprintln!(
            "tailcache: panicked while holding {what}; aborting rather than serve from a half-written index"
        );
        std::process::abort();
    }
}

#[cfg(all(test, not(loom)))]
mod tests {
    use crate::index::Index;

    /// What `abort` raises (Linux).
    const SIGABRT: i32 = 6;

    /// Env var that makes the child copy of the test panic under a lock.
    const CHILD: &str = "TAILCACHE_TEST_PANIC_UNDER_BUCKET_LOCK";

    #[test]
    fn a_panic_while_a_bucket_is_held_aborts_the_process() {
        if std::env::var_os(CHILD).is_some() {
            let index = Index::new(4);
            let held = index.lock(index.pair(42));
            // A panic caught further up (as the server's per-connection
            // catch_unwind would) must not let the process go on.
            let caught = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let _held = held;
                panic!("the test panics under a bucket lock");
            }));
            drop(caught);
            eprintln!("went on after the panic");
            std::process::exit(0);
        }
        let output = std::process::Command::new(std::env::current_exe().unwrap())
            .args([
                "--exact",
                "held_abort::tests::a_panic_while_a_bucket_is_held_aborts_the_process",
                "--nocapture",
                "--test-threads=1",
            ])
            .env(CHILD, "1")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&output.stderr);
        use std::os::unix::process::ExitStatusExt;
        assert_eq!(output.status.signal(), Some(SIGABRT), "{stderr}");
        assert!(stderr.contains("aborting rather than serve"), "{stderr}");
        assert!(!stderr.contains("went on after the panic"), "{stderr}");
    }
}
