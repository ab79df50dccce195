// SPDX-License-Identifier: GPL-2.0

//! What several suites use: observing the kernel from a test.

use kernel::time::{
    delay::fsleep,
    Delta,
    Jiffies, //
};

extern "C" {
    fn wq_test_in_serving_softirq() -> bool;
    fn wq_test_in_task() -> bool;
    fn wq_test_jiffies() -> Jiffies;
}

/// Whether the caller runs as a softirq (a BH work item does).
pub(crate) fn in_serving_softirq() -> bool {
    // SAFETY: Reads the current preempt count only.
    unsafe { wq_test_in_serving_softirq() }
}

/// Whether the caller runs in task context (a normal work item does).
pub(crate) fn in_task() -> bool {
    // SAFETY: Reads the current preempt count only.
    unsafe { wq_test_in_task() }
}

/// The current jiffies.
pub(crate) fn jiffies() -> Jiffies {
    // SAFETY: Reads a global counter.
    unsafe { wq_test_jiffies() }
}

/// Polls `cond` every millisecond for up to `ms` milliseconds; returns its last value.
pub(crate) fn wait_until(ms: u32, cond: impl Fn() -> bool) -> bool {
    for _ in 0..ms {
        if cond() {
            return true;
        }
        fsleep(Delta::from_millis(1));
    }
    cond()
}
