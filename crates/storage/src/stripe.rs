//! Per-thread stripes for figures bumped on the hot path, so that two cores never
//! write the same cache line to count: each thread gets a stripe number when it first
//! asks, and readers sum over all stripes.

use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};

/// Stripes per striped figure. Threads beyond this share stripes, which stays
/// correct (stripes are atomic) and only costs some cache-line sharing.
pub(crate) const COUNT: usize = 32;

static NEXT_STRIPE: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    static STRIPE: usize = NEXT_STRIPE.fetch_add(1, Relaxed) % COUNT;
}

/// The calling thread's stripe.
pub(crate) fn current() -> usize {
    STRIPE.with(|stripe| *stripe)
}
