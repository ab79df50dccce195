// SPDX-License-Identifier: GPL-2.0

//! The gate of an owned queue's handles: who may still queue through a
//! [`QueueHandle`](super::QueueHandle), and how the queue's drop (or drain) waits until nobody
//! is in the middle of it.
//!
//! It is a `percpu_ref` in C (`wq_rs_gate_*()` in `workqueue_helpers.c`): entering takes a
//! per-CPU count with `percpu_ref_tryget_live()` inside an RCU read-side section, leaving
//! puts it and ends the section. Closing kills the `percpu_ref` and waits for the grace period
//! that confirms the kill (after it no entry succeeds) and for the count to reach zero (no
//! entry is left). The gate's memory is counted separately, by its holders (the queue and
//! each handle), and freed after a grace period once the last holder is gone, so that an
//! entry whose handle was dropped meanwhile (it lived in the item just queued, which may have
//! run and been dropped on another CPU) can still leave.

use core::{
    marker::PhantomData,
    ptr::{
        self,
        NonNull, //
    },
    sync::atomic::{
        AtomicPtr,
        Ordering, //
    },
};

use kernel::{
    alloc::AllocError,
    prelude::*, //
};

use super::helpers::{
    self,
    wq_rs_gate, //
};

/// One holder of a gate: the gate's memory lives at least as long as this value.
///
/// # Invariants
///
/// `ptr` was returned by `wq_rs_gate_new()`, and this value accounts for one of its holders.
pub(crate) struct Gate {
    ptr: NonNull<wq_rs_gate>,
}

// SAFETY: A gate's functions may be called from any thread; its holders are counted
// atomically.
unsafe impl Send for Gate {}
// SAFETY: Every function reachable through `&Gate` is thread-safe C.
unsafe impl Sync for Gate {}

impl Gate {
    /// Creates an open gate, with one holder: the returned value.
    pub(crate) fn new() -> Result<Self, AllocError> {
        // SAFETY: Process context; the helper returns null when it cannot allocate.
        let ptr = NonNull::new(unsafe { helpers::wq_rs_gate_new() }).ok_or(AllocError)?;
        // INVARIANT: A new gate has one holder, given to this value.
        Ok(Self { ptr })
    }

    /// The gate, for [`enter`]: valid while this holder lives.
    #[inline]
    pub(crate) fn as_ptr(&self) -> NonNull<wq_rs_gate> {
        self.ptr
    }
}

impl Clone for Gate {
    fn clone(&self) -> Self {
        // SAFETY: The gate is alive, held by `self`; any context.
        unsafe { helpers::wq_rs_gate_hold(self.ptr.as_ptr()) };
        // INVARIANT: The holder just added is this value's.
        Self { ptr: self.ptr }
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        // SAFETY: This value's holder is given up once; any context. The last one frees the
        // gate after a grace period.
        unsafe { helpers::wq_rs_gate_release(self.ptr.as_ptr()) };
    }
}

/// An owned queue's gate, made when the queue's first handle is: most queues never make one,
/// and then cost neither its per-CPU count nor, when dropped, the grace period of its close.
///
/// # Invariants
///
/// `ptr` is null, or a gate returned by `wq_rs_gate_new()` one of whose holders this value
/// accounts for; once not null, it never changes.
pub(crate) struct LazyGate {
    ptr: AtomicPtr<wq_rs_gate>,
}

impl LazyGate {
    /// No gate yet.
    pub(crate) const fn new() -> Self {
        // INVARIANT: Null.
        Self {
            ptr: AtomicPtr::new(ptr::null_mut()),
        }
    }

    /// Returns a new holder of the gate, making the gate first if there is none.
    pub(crate) fn share(&self) -> Result<Gate, AllocError> {
        let mut gate = self.ptr.load(Ordering::Acquire);
        if gate.is_null() {
            let new = Gate::new()?;
            match self.ptr.compare_exchange(
                ptr::null_mut(),
                new.ptr.as_ptr(),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    gate = new.ptr.as_ptr();
                    // INVARIANT: `new`'s holder is this value's from now on.
                    core::mem::forget(new);
                }
                // Another thread made it first: ours, never shared, goes (its count with it).
                Err(theirs) => gate = theirs,
            }
        }
        // SAFETY: Not null, so alive: this value holds it. Any context.
        unsafe { helpers::wq_rs_gate_hold(gate) };
        // INVARIANT: The holder just added is the new `Gate`'s.
        Ok(Gate {
            // SAFETY: Not null, checked or just made.
            ptr: unsafe { NonNull::new_unchecked(gate) },
        })
    }

    /// The gate, if it was made. The caller holds the owner exclusively (a drop or a drain),
    /// which orders this after every `share`.
    fn made(&self) -> Option<NonNull<wq_rs_gate>> {
        NonNull::new(self.ptr.load(Ordering::Acquire))
    }

    /// Closes the gate, if there is one, and waits until no entry is left: afterwards every
    /// [`enter`] fails, until [`LazyGate::reopen`]. Waits for an RCU grace period.
    ///
    /// # Safety
    ///
    /// Only the gate's owner (the owned queue) may close it, once per opening. The caller
    /// must be allowed to sleep, and must not hold an entry of this gate.
    pub(crate) unsafe fn close(&self) {
        if let Some(gate) = self.made() {
            // SAFETY: Alive (invariants); the caller's promises are the helper's.
            unsafe { helpers::wq_rs_gate_close(gate.as_ptr()) };
        }
    }

    /// Opens the gate, if there is one, again after [`LazyGate::close`].
    ///
    /// # Safety
    ///
    /// The gate must be closed, by the caller, and not retired. The caller must be allowed to
    /// sleep.
    pub(crate) unsafe fn reopen(&self) {
        if let Some(gate) = self.made() {
            // SAFETY: Alive, and closed by the caller.
            unsafe { helpers::wq_rs_gate_reopen(gate.as_ptr()) };
        }
    }

    /// Frees the gate's per-CPU count, if there is a gate, for good: every later [`enter`]
    /// fails.
    ///
    /// # Safety
    ///
    /// The gate must be closed, by the caller, and not reopened since: no entry touches its
    /// count again (a closed gate's `dead` mark keeps later entries off it). Process context.
    pub(crate) unsafe fn retire(&self) {
        if let Some(gate) = self.made() {
            // SAFETY: Alive, and closed by the caller.
            unsafe { helpers::wq_rs_gate_retire(gate.as_ptr()) };
        }
    }
}

impl Drop for LazyGate {
    fn drop(&mut self) {
        if let Some(gate) = self.made() {
            // SAFETY: This value's holder is given up once; any context.
            unsafe { helpers::wq_rs_gate_release(gate.as_ptr()) };
        }
    }
}

/// An entry through a gate: while it lives, the gate's owner has not finished closing it,
/// so the owned queue behind it is alive and not draining.
///
/// It is an RCU read-side section too, which keeps the gate's memory alive until the entry
/// is left, even if every holder is dropped meanwhile. It is left on the thread that entered
/// (it is not `Send`).
///
/// # Invariants
///
/// `gate` is a gate that `wq_rs_gate_enter()` entered, not left yet.
pub(crate) struct Entry {
    gate: NonNull<wq_rs_gate>,
    _not_send: PhantomData<*mut ()>,
}

/// Enters `gate` if it is open. Never sleeps: any context.
///
/// # Safety
///
/// `gate` must be alive during the call (a holder of it must live until this returns).
#[inline]
pub(crate) unsafe fn enter(gate: NonNull<wq_rs_gate>) -> Option<Entry> {
    // SAFETY: The gate is alive, by the caller's promise.
    let entered = unsafe { helpers::wq_rs_gate_enter(gate.as_ptr()) };
    // An `Entry` is built only when entered: dropping one leaves the gate.
    // INVARIANT: Entered, and left only by the drop.
    entered.then(|| Entry {
        gate,
        _not_send: PhantomData,
    })
}

impl Drop for Entry {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: Entered and not left (invariants). The gate's memory outlives the RCU
        // read-side section that this ends, so it is still valid here.
        unsafe { helpers::wq_rs_gate_leave(self.gate.as_ptr()) };
    }
}
