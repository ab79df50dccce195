// SPDX-License-Identifier: GPL-2.0

//! Intrusive registries of the library's objects, under one lock.
//!
//! Two registries use them: each owned queue's list of delayed items armed on it (see
//! [`tracked`](super::tracked)), and the set of owned BH queues (see
//! [`owned`](super::owned)). The lock is a C spinlock with a static initialiser, taken with
//! interrupts off because work functions take it in softirq context too.

use core::{
    cell::UnsafeCell,
    marker::PhantomData,
    ptr, //
};

use kernel::ffi::c_ulong;

use super::helpers;

/// Holds the lock of all registries and links; proof of it for the operations below.
pub(crate) struct TrackGuard {
    flags: c_ulong,
    /// The lock must be released on the CPU that took it.
    _not_send: PhantomData<*mut ()>,
}

impl TrackGuard {
    /// Takes the lock (disabling interrupts, as it is also taken in softirq context).
    pub(crate) fn lock() -> Self {
        // SAFETY: Takes a statically initialised spinlock; released in `drop`.
        let flags = unsafe { helpers::wq_rs_track_lock() };
        Self {
            flags,
            _not_send: PhantomData,
        }
    }
}

impl Drop for TrackGuard {
    fn drop(&mut self) {
        // SAFETY: The lock is held by this guard, with these saved flags.
        unsafe { helpers::wq_rs_track_unlock(self.flags) };
    }
}

/// A link of a registry (a singly headed, doubly linked list, like the C `hlist`).
///
/// # Invariants
///
/// The fields are only read or written with the [`TrackGuard`] lock held. `pprev` is null
/// exactly when the link is in no registry; otherwise `*pprev` points back at this link.
pub(crate) struct Link {
    next: UnsafeCell<*mut Link>,
    pprev: UnsafeCell<*mut *mut Link>,
}

impl Link {
    pub(crate) const fn new() -> Self {
        // INVARIANT: Null `pprev`: in no registry.
        Self {
            next: UnsafeCell::new(ptr::null_mut()),
            pprev: UnsafeCell::new(ptr::null_mut()),
        }
    }

    pub(crate) fn is_linked(&self, _lock: &TrackGuard) -> bool {
        // SAFETY: The lock is held, as the type invariants require.
        !unsafe { *self.pprev.get() }.is_null()
    }

    /// Takes the link out of its registry, if it is in one.
    pub(crate) fn unlink(&self, _lock: &TrackGuard) {
        // SAFETY: The lock is held. By the type invariants, a linked link's `pprev` and `next`
        // point at live links (or the registry head), which the lock lets us update.
        unsafe {
            let pprev = *self.pprev.get();
            if pprev.is_null() {
                return;
            }
            let next = *self.next.get();
            *pprev = next;
            if !next.is_null() {
                *(*next).pprev.get() = pprev;
            }
            // INVARIANT: Out of the registry: null `pprev`.
            *self.next.get() = ptr::null_mut();
            *self.pprev.get() = ptr::null_mut();
        }
    }
}

/// The registry of the delayed items armed on one owned queue.
///
/// # Invariants
///
/// `first` is only accessed with the [`TrackGuard`] lock held; it and the links it reaches
/// form a well-formed list of [`Link`]s embedded in live objects. The registry does not move
/// while it is non-empty (links point back into it).
pub(crate) struct Registry {
    first: UnsafeCell<*mut Link>,
}

// SAFETY: The registry is only touched with the lock held, from any thread.
unsafe impl Send for Registry {}

// SAFETY: As above.
unsafe impl Sync for Registry {}

impl Registry {
    pub(crate) const fn new() -> Self {
        Self {
            first: UnsafeCell::new(ptr::null_mut()),
        }
    }

    pub(crate) fn push(&self, link: &Link, lock: &TrackGuard) {
        link.unlink(lock);
        let link = ptr::from_ref(link).cast_mut();
        // SAFETY: The lock is held; `link` is live and in no registry now, `first` is null or
        // a live link of this registry.
        unsafe {
            let first = *self.first.get();
            *(*link).next.get() = first;
            if !first.is_null() {
                *(*first).pprev.get() = (*link).next.get();
            }
            *self.first.get() = link;
            // INVARIANT: `*pprev` (the head) points back at the link.
            *(*link).pprev.get() = self.first.get();
        }
    }

    pub(crate) fn pop(&self, lock: &TrackGuard) -> Option<*const Link> {
        // SAFETY: The lock is held.
        let first = unsafe { *self.first.get() };
        if first.is_null() {
            return None;
        }
        // SAFETY: By the type invariants `first` is a live link of this registry.
        unsafe { (*first).unlink(lock) };
        Some(first)
    }

    pub(crate) fn is_empty(&self, _lock: &TrackGuard) -> bool {
        // SAFETY: The lock is held.
        unsafe { *self.first.get() }.is_null()
    }

    /// Returns whether `pred` holds for some link of the registry.
    pub(crate) fn any(&self, _lock: &TrackGuard, pred: impl Fn(*const Link) -> bool) -> bool {
        // SAFETY: The lock is held, and by the type invariants every link reached is live.
        let mut link = unsafe { *self.first.get() };
        while !link.is_null() {
            if pred(link) {
                return true;
            }
            // SAFETY: As above.
            link = unsafe { *(*link).next.get() };
        }
        false
    }
}
