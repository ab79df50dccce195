// SPDX-License-Identifier: GPL-2.0

//! What several suites use: observing the kernel from a test.

use core::{
    ptr::NonNull,
    sync::atomic::{
        AtomicUsize,
        Ordering, //
    },
};

use kernel::{
    ffi::{
        c_char,
        c_long, //
    },
    prelude::*,
    sync::aref::{
        ARef,
        AlwaysRefCounted, //
    },
    time::{
        delay::fsleep,
        Delta,
        Jiffies, //
    },
};

extern "C" {
    fn wq_test_in_serving_softirq() -> bool;
    fn wq_test_in_task() -> bool;
    fn wq_test_jiffies() -> Jiffies;
    fn wq_test_read_file(path: *const c_char, buf: *mut c_char, len: usize) -> c_long;
    fn wq_test_fail_allocations(fail: bool);
}

/// Reads a (small) file, such as a sysfs attribute; `None` if it cannot be opened.
pub(crate) fn read_file(path: &CStr) -> Option<KVec<u8>> {
    let mut buf = [0u8; 128];
    // SAFETY: `path` is a C string and `buf` is writable for its length.
    let n = unsafe { wq_test_read_file(path.as_char_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
    let n = usize::try_from(n).ok()?;
    let mut v = KVec::new();
    v.extend_from_slice(&buf[..n], GFP_KERNEL).ok()?;
    Some(v)
}

/// Runs `f` with every slab allocation of this task failing (failslab, set up by the boot).
pub(crate) fn with_failing_allocations<R>(f: impl FnOnce() -> R) -> R {
    // SAFETY: Only flags the current task.
    unsafe { wq_test_fail_allocations(true) };
    let r = f();
    // SAFETY: As above.
    unsafe { wq_test_fail_allocations(false) };
    r
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

/// Turns a freshly allocated object into an `ARef` holding its one reference; the object's
/// `dec_ref` frees it with [`release_boxed`].
pub(crate) fn into_aref<T: AlwaysRefCounted>(boxed: Pin<KBox<T>>) -> ARef<T> {
    // SAFETY: The box is leaked, never moved out of; `release_boxed` rebuilds and frees it.
    let raw = KBox::into_raw(unsafe { Pin::into_inner_unchecked(boxed) });
    // SAFETY: `raw` is valid and non-null; its one reference goes to the `ARef`.
    unsafe { ARef::from_raw(NonNull::new_unchecked(raw)) }
}

/// The `dec_ref` of test objects made by [`into_aref`]: drops one of the references counted
/// by `refs`, and frees the object if it was the last. Returns whether it freed it.
///
/// # Safety
///
/// The caller gives up one reference to `obj`, an object made by [`into_aref`] whose count
/// `refs` returns.
pub(crate) unsafe fn release_boxed<T>(obj: NonNull<T>, refs: fn(&T) -> &AtomicUsize) -> bool {
    // SAFETY: The caller gives up a reference to a live object.
    if refs(unsafe { obj.as_ref() }).fetch_sub(1, Ordering::AcqRel) != 1 {
        return false;
    }
    // SAFETY: That was the last reference; the object was allocated as a box.
    drop(unsafe { KBox::from_raw(obj.as_ptr()) });
    true
}
