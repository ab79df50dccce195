// SPDX-License-Identifier: GPL-2.0

//! The bookkeeping under the tracking of delayed items (see [`tracked`](super::tracked)):
//! raw spinlocks taken with interrupts off, and the intrusive list through which an owned
//! queue finds the items armed on it.
//!
//! Two kinds of lock exist, each with a lockdep class of its own: one per tracked item and
//! one per owned queue's [`Registry`]. Items are armed and dropped wherever their owners are,
//! which includes BH work items, timer callbacks and interrupt handlers, so the locks are raw
//! spinlocks (they do not sleep, on PREEMPT_RT either), and they are always taken with
//! interrupts off on the local CPU ([`IrqsOff`]), so that a softirq or interrupt on the same
//! CPU can never wait for a lock its own CPU holds.

use core::{
    cell::UnsafeCell,
    marker::PhantomData,
    ptr::{
        self,
        NonNull, //
    },
};

use kernel::{
    bindings,
    ffi::c_ulong,
    prelude::*,
    types::Opaque, //
};

use super::{
    compat,
    helpers, //
};

/// Proof that interrupts are off on this CPU, for as long as it is borrowed.
pub(crate) trait IrqsDisabled {}

/// Interrupts are off on this CPU until this is dropped, which restores them.
///
/// Locks taken under it borrow it, so the compiler releases them before interrupts return.
pub(crate) struct IrqsOff {
    flags: c_ulong,
    /// The flags must be restored on the CPU that saved them.
    _not_send: PhantomData<*mut ()>,
}

impl IrqsOff {
    /// Disables interrupts on this CPU (`local_irq_save()`).
    #[inline]
    pub(crate) fn save() -> Self {
        // SAFETY: Always allowed; `drop` restores the saved state.
        let flags = unsafe { helpers::wq_rs_local_irq_save() };
        Self {
            flags,
            _not_send: PhantomData,
        }
    }
}

impl IrqsDisabled for IrqsOff {}

impl Drop for IrqsOff {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: `flags` were saved by `save` on this CPU (the type is not `Send`), and every
        // lock taken under `self` was released before (its guard borrows `self`).
        unsafe { helpers::wq_rs_local_irq_restore(self.flags) };
    }
}

/// A `raw_spinlock_t`, taken only with interrupts off.
///
/// # Invariants
///
/// `lock` is initialised.
#[pin_data]
pub(crate) struct RawSpinLock {
    #[pin]
    lock: Opaque<bindings::raw_spinlock>,
}

// SAFETY: A spinlock is meant to be shared between CPUs; C synchronises every access.
unsafe impl Send for RawSpinLock {}
// SAFETY: As above.
unsafe impl Sync for RawSpinLock {}

impl RawSpinLock {
    /// A lock with the lockdep class of tracked items' locks.
    pub(crate) fn new_item_lock() -> impl PinInit<Self> {
        pin_init!(Self {
            // SAFETY: `slot` is valid for writes and pinned.
            // INVARIANT: Initialised here.
            lock <- Opaque::ffi_init(|slot| unsafe { helpers::wq_rs_item_lock_init(slot) }),
        })
    }

    /// A lock with the lockdep class of registries' locks.
    fn new_registry_lock() -> impl PinInit<Self> {
        pin_init!(Self {
            // SAFETY: `slot` is valid for writes and pinned.
            // INVARIANT: Initialised here.
            lock <- Opaque::ffi_init(|slot| unsafe { helpers::wq_rs_registry_lock_init(slot) }),
        })
    }

    /// Takes the lock with interrupts off (`raw_spin_lock_irqsave()`); dropping the guard
    /// releases it and restores them. The guard also proves that interrupts are off.
    #[inline]
    pub(crate) fn lock_irqsave(&self) -> IrqSaveGuard<'_> {
        // SAFETY: The lock is initialised (type invariants); the guard releases it.
        let flags = unsafe { helpers::wq_rs_raw_spin_lock_irqsave(compat::opaque_ptr(&self.lock)) };
        IrqSaveGuard {
            lock: self,
            flags,
            _not_send: PhantomData,
        }
    }

    /// Takes the lock, with interrupts already off; it is released when the guard is dropped,
    /// before `irqs` can be.
    #[inline]
    pub(crate) fn lock<'a>(&'a self, _irqs: &'a impl IrqsDisabled) -> RawGuard<'a> {
        // SAFETY: The lock is initialised (type invariants) and interrupts are off.
        unsafe { helpers::wq_rs_raw_spin_lock(compat::opaque_ptr(&self.lock)) };
        RawGuard {
            lock: self,
            _not_send: PhantomData,
        }
    }

    /// Takes the lock if it is free at once, with interrupts already off.
    #[inline]
    pub(crate) fn try_lock<'a>(&'a self, _irqs: &'a impl IrqsDisabled) -> Option<RawGuard<'a>> {
        // SAFETY: The lock is initialised (type invariants) and interrupts are off.
        let taken = unsafe { helpers::wq_rs_raw_spin_trylock(compat::opaque_ptr(&self.lock)) };
        // A guard exists only for a lock that is held: it is built only if the lock was taken.
        taken.then(|| RawGuard {
            lock: self,
            _not_send: PhantomData,
        })
    }
}

/// Proof that a [`RawSpinLock`] is held, taken with `lock_irqsave`; dropping it releases the
/// lock and restores interrupts.
pub(crate) struct IrqSaveGuard<'a> {
    lock: &'a RawSpinLock,
    flags: c_ulong,
    /// A spinlock is released on the CPU that took it.
    _not_send: PhantomData<*mut ()>,
}

impl IrqSaveGuard<'_> {
    /// Whether this guard holds `lock`.
    #[inline]
    pub(crate) fn holds(&self, lock: &RawSpinLock) -> bool {
        ptr::eq(self.lock, lock)
    }
}

impl IrqsDisabled for IrqSaveGuard<'_> {}

impl Drop for IrqSaveGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: The guard exists only while its lock is held by this CPU, taken with these
        // saved flags; nothing taken under it outlives it (it is borrowed).
        unsafe {
            helpers::wq_rs_raw_spin_unlock_irqrestore(
                compat::opaque_ptr(&self.lock.lock),
                self.flags,
            )
        };
    }
}

/// Proof that a [`RawSpinLock`] is held; dropping it releases the lock.
pub(crate) struct RawGuard<'a> {
    lock: &'a RawSpinLock,
    /// A spinlock is released on the CPU that took it.
    _not_send: PhantomData<*mut ()>,
}

impl Drop for RawGuard<'_> {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: The guard exists only while its lock is held by this CPU.
        unsafe { helpers::wq_rs_raw_spin_unlock(compat::opaque_ptr(&self.lock.lock)) };
    }
}

/// A link of a [`Registry`], embedded in a tracked item (a doubly linked list with a single
/// head pointer, like the C `hlist`).
///
/// # Invariants
///
/// While the link is in a registry, its fields are only accessed with that registry's lock
/// held, `*pprev` points back at the link, and `next` is null or the next link. While it is
/// in none, `pprev` is null; it is then only put into a registry by one who also holds the
/// lock of the item that embeds it (see [`tracked`](super::tracked)).
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
}

/// The list of the tracked items linked to one owned queue, under that queue's own lock.
///
/// # Invariants
///
/// `first` is only accessed with `lock` held; it and the links it reaches form a well-formed
/// list of [`Link`]s of live tracked items. The registry is pinned: links point back at it.
#[pin_data]
pub(crate) struct Registry {
    #[pin]
    lock: RawSpinLock,
    first: UnsafeCell<*mut Link>,
}

// SAFETY: The list is only touched with its lock held, from any thread.
unsafe impl Send for Registry {}
// SAFETY: As above.
unsafe impl Sync for Registry {}

/// Proof that a registry's lock is held.
pub(crate) struct RegistryGuard<'a> {
    registry: &'a Registry,
    _lock: RawGuard<'a>,
}

impl Registry {
    /// An empty registry.
    pub(crate) fn new() -> impl PinInit<Self> {
        // INVARIANT: An empty list.
        pin_init!(Self {
            lock <- RawSpinLock::new_registry_lock(),
            first: UnsafeCell::new(ptr::null_mut()),
        })
    }

    /// Takes the registry's lock, with interrupts already off.
    #[inline]
    pub(crate) fn lock<'a>(&'a self, irqs: &'a impl IrqsDisabled) -> RegistryGuard<'a> {
        RegistryGuard {
            registry: self,
            _lock: self.lock.lock(irqs),
        }
    }

    /// Adds `link`, which must be in no registry.
    pub(crate) fn push(&self, link: &Link, guard: &RegistryGuard<'_>) {
        debug_assert!(ptr::eq(guard.registry, self));
        let link = ptr::from_ref(link).cast_mut();
        // SAFETY: The lock is held (`guard`). `link` is live and, by the caller's promise, in
        // no registry; `first` is null or a live link of this registry.
        unsafe {
            debug_assert!((*(*link).pprev.get()).is_null());
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

    /// Takes `link`, which must be in this registry, out of it.
    pub(crate) fn remove(&self, link: &Link, guard: &RegistryGuard<'_>) {
        debug_assert!(ptr::eq(guard.registry, self));
        // SAFETY: The lock is held. By the caller's promise the link is in this registry, so
        // by the invariants `pprev` and `next` point at live links of it (or at its head).
        unsafe {
            let pprev = *link.pprev.get();
            debug_assert!(!pprev.is_null());
            let next = *link.next.get();
            *pprev = next;
            if !next.is_null() {
                *(*next).pprev.get() = pprev;
            }
            // INVARIANT: Out of the registry: null `pprev`.
            *link.next.get() = ptr::null_mut();
            *link.pprev.get() = ptr::null_mut();
        }
    }

    /// The first link of the registry, if any.
    pub(crate) fn first(&self, guard: &RegistryGuard<'_>) -> Option<NonNull<Link>> {
        debug_assert!(ptr::eq(guard.registry, self));
        // SAFETY: The lock is held.
        NonNull::new(unsafe { *self.first.get() })
    }
}
