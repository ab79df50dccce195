// SPDX-License-Identifier: GPL-2.0

//! Cancel, disable and flush: the one implementation behind the methods of the three kinds
//! of work, [`Work`](super::Work), [`DelayedWork`](super::DelayedWork) and
//! [`TrackedDelayedWork`](super::TrackedDelayedWork). Each kind only says where its
//! `work_struct` is and whether that sits in a `delayed_work`; the C calls, their contexts and
//! how the owner a queue held comes back are decided here.
//!
//! C header: [`include/linux/workqueue.h`](srctree/include/linux/workqueue.h)

use core::{
    marker::PhantomData,
    ptr::NonNull, //
};

use kernel::{
    bindings,
    prelude::*, //
};

use super::{
    compat,
    helpers,
    WorkItemReclaim, //
};

/// Whether an operation waits for a running instance of the item.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum Wait {
    /// `*_sync()`: waits for the running instance; the caller may sleep.
    ForRunning,
    /// Takes a pending instance and returns: any context, hard IRQ included.
    No,
}

/// The `work_struct` of an item, and whether it is the work of a `delayed_work` (which the
/// C calls for delayed items take).
///
/// # Invariants
///
/// `work` is an initialised `work_struct`, inside a `delayed_work` if `delayed`, that only
/// `P`'s [`RawWorkItem::__enqueue`](super::RawWorkItem::__enqueue) queues.
pub(crate) struct ItemWork<P, const ID: u64> {
    work: *mut bindings::work_struct,
    delayed: bool,
    _owner: PhantomData<P>,
}

impl<P, const ID: u64> ItemWork<P, ID> {
    /// # Safety
    ///
    /// `work` must be an initialised `work_struct`, inside a `delayed_work` if `delayed`,
    /// valid for as long as the returned value is used, and queued only through `P`'s
    /// `__enqueue`.
    #[inline]
    pub(crate) unsafe fn new(work: *mut bindings::work_struct, delayed: bool) -> Self {
        // INVARIANT: The caller's promise.
        Self {
            work,
            delayed,
            _owner: PhantomData,
        }
    }

    #[inline]
    fn dwork(&self) -> *mut bindings::delayed_work {
        // SAFETY: Only called when `delayed`, when `work` is inside a `delayed_work`.
        unsafe { compat::wq_container_of!(self.work, bindings::delayed_work, work) }
    }
}

impl<P, const ID: u64> ItemWork<P, ID>
where
    P: WorkItemReclaim<ID>,
{
    /// Cancels a pending instance and returns the owner the queue held for it; with
    /// [`Wait::ForRunning`], waits for a running instance too.
    ///
    /// # Safety
    ///
    /// With [`Wait::ForRunning`] the caller must be allowed to sleep.
    #[inline]
    pub(crate) unsafe fn cancel(&self, wait: Wait) -> Option<P> {
        // SAFETY: The work is initialised (invariants). The non-waiting forms may be called in
        // any context: `__cancel_work()` retries (interrupts off in each attempt, on between
        // them) only while another CPU holds the PENDING bit, which everyone holds with
        // interrupts off, briefly. The waiting ones sleep, which the caller allows.
        let taken = unsafe {
            match (self.delayed, wait) {
                (false, Wait::ForRunning) => bindings::cancel_work_sync(self.work),
                (false, Wait::No) => bindings::cancel_work(self.work),
                (true, Wait::ForRunning) => bindings::cancel_delayed_work_sync(self.dwork()),
                (true, Wait::No) => bindings::cancel_delayed_work(self.dwork()),
            }
        };
        // SAFETY: `taken` is the cancel's answer for a work queued only through `P`.
        unsafe { take_owner(taken, self.work) }
    }

    /// Disables the item, cancelling a pending instance, whose owner is returned; with
    /// [`Wait::ForRunning`], then waits for a running one. Returns the guard of the disable,
    /// or `EBUSY` if the item already carries the most disables a guard may stand for (see
    /// [`Disabled`]): then the disable was undone, and the item is only cancelled.
    ///
    /// # Safety
    ///
    /// The work must stay valid for `'a`. With [`Wait::ForRunning`] the caller must be allowed
    /// to sleep.
    pub(crate) unsafe fn disable<'a>(&self, wait: Wait) -> (Option<P>, Result<Disabled<'a>>) {
        let mut taken = false;
        // SAFETY: The work is initialised (invariants); the helper may be called in any
        // context, and writes `taken`.
        let kept = unsafe { helpers::wq_rs_disable_bounded(self.work, self.delayed, &mut taken) };
        if wait == Wait::ForRunning {
            // Wait for a running instance as `disable_work_sync()` does after its disable: by
            // C's cancel path, whose lockdep annotation (unlike a flush's) does not take a
            // disabled item to wait for its queue. Disabled, nothing is pending to take.
            // SAFETY: As in `cancel`; the caller may sleep.
            let again = unsafe {
                if self.delayed {
                    bindings::cancel_delayed_work_sync(self.dwork())
                } else {
                    bindings::cancel_work_sync(self.work)
                }
            };
            debug_assert!(!again);
        }
        let guard = if kept {
            // INVARIANT: The disable was counted by C (see `Disabled`) and is handed to this
            // guard alone; the caller keeps the work valid for `'a`.
            Ok(Disabled {
                // SAFETY: The work is valid (invariants), hence non-null.
                work: unsafe { NonNull::new_unchecked(self.work) },
                _item: PhantomData,
            })
        } else {
            // SAFETY: Undoes the disable of `wq_rs_disable_bounded()`, which C counted: the
            // count is below C's maximum (see `Disabled`). Disabled until now, the item has no
            // pending instance for `enable_work()` to take. It may be called in any context.
            unsafe { bindings::enable_work(self.work) };
            Err(EBUSY)
        };
        // SAFETY: `taken` is the disable's answer for a work queued only through `P`.
        (unsafe { take_owner(taken, self.work) }, guard)
    }
}

/// Waits for the last queued instance of the item whose work is `work` to finish; for a
/// delayed item (`delayed`) whose timer is armed, queues it at once first
/// (`flush_delayed_work()`). Returns whether there was an instance to wait for.
///
/// # Safety
///
/// `work` must be an initialised `work_struct`, inside a `delayed_work` if `delayed`. The
/// caller must be allowed to sleep, and for a delayed item, the queue it was last armed on
/// must still be alive and not draining (a [`DelayedWork`](super::DelayedWork) is only armed
/// on queues that live forever; for a tracked item, see [`super::tracked`]).
#[inline]
pub(crate) unsafe fn flush(work: *mut bindings::work_struct, delayed: bool) -> bool {
    // SAFETY: The caller's promises.
    unsafe {
        if delayed {
            bindings::flush_delayed_work(compat::wq_container_of!(
                work,
                bindings::delayed_work,
                work
            ))
        } else {
            bindings::flush_work(work)
        }
    }
}

/// Takes back the owner of the item whose work is `work` if `taken`, the answer of a C cancel
/// or disable of that work, says a pending instance was taken off its queue.
///
/// # Safety
///
/// `taken` must be what a C cancel or disable of `work` just returned, and `work` must only
/// ever be queued through `P`'s [`RawWorkItem::__enqueue`](super::RawWorkItem::__enqueue):
/// then `true` means the owner that `__enqueue` gave away is the caller's.
#[inline]
pub(crate) unsafe fn take_owner<P, const ID: u64>(
    taken: bool,
    work: *mut bindings::work_struct,
) -> Option<P>
where
    P: WorkItemReclaim<ID>,
{
    // SAFETY: By the caller's promise, a taken instance's owner is ours.
    taken.then(|| unsafe { P::reclaim(work) })
}

/// Cancels the pending instance of the delayed work at `work` without waiting, then queues it
/// with `queue`. Returns `queue`'s answer (whether the queue took the owner), and whether a
/// pending instance was cancelled (whose owner the caller then holds).
///
/// # Safety
///
/// `work` must be the work of a live `delayed_work`; `queue` as for `RawWorkItem::__enqueue`.
pub(crate) unsafe fn cancel_then_queue(
    work: *mut bindings::work_struct,
    queue: impl FnOnce(*mut bindings::delayed_work) -> bool,
) -> (bool, bool) {
    // SAFETY: By the caller's promise `work` is inside a live `delayed_work`.
    let dwork = unsafe { compat::wq_container_of!(work, bindings::delayed_work, work) };
    // SAFETY: `dwork` is live; cancelling without waiting is allowed in any context.
    let cancelled = unsafe { bindings::cancel_delayed_work(dwork) };
    (queue(dwork), cancelled)
}

/// Re-arms the delayed item of `w` with `rearm`, which cancels a pending instance and queues
/// the item again (with [`cancel_then_queue`], under whatever lock the queue kind needs) and
/// returns what that did. Returns what `w`'s `__enqueue` returns, and the owner of the
/// cancelled instance, if there was one: the body of `mod_delayed` on static and on owned
/// queues.
///
/// Whether something else may queue the item between the cancel and the queueing is the
/// caller's: an owned queue excludes it with the item's lock, a static queue documents the
/// window (whoever queues in it wins, and `w` comes back). Either way each owner is handed
/// back exactly once.
///
/// # Safety
///
/// `W`'s work must be the work of a `delayed_work`. `rearm` must return, first, the answer of
/// a C queueing of the work (`true` exactly when it armed or queued it), made after its
/// cancel, and second, the answer of that cancel.
#[inline]
pub(crate) unsafe fn rearm_with<W, const ID: u64>(
    w: W,
    rearm: impl FnOnce(*mut bindings::work_struct) -> (bool, bool),
) -> (Option<W>, W::EnqueueOutput)
where
    W: WorkItemReclaim<ID>,
{
    let mut cancelled = None;
    let queue = |work| {
        let (queued, was_pending) = rearm(work);
        if was_pending {
            cancelled = Some(work);
        }
        queued
    };
    // SAFETY: `queue` returns the answer of the queueing, by the caller's promise; cancelling
    // a pending instance before it does not touch the owner `w` hands over.
    let output = unsafe { w.__enqueue(queue) };
    // SAFETY: The cancelled instance was queued through `W`'s `__enqueue` (the work is only
    // queued that way), so its owner is ours.
    let previous = cancelled.map(|work| unsafe { W::reclaim(work) });
    (previous, output)
}

/// A disabled work item: queueing it is refused, and the pointer handed back, until this guard
/// is dropped or [`enabled`](Disabled::enable), or for good after [`Disabled::forever`].
///
/// Returned by `disable` and `disable_nowait` on [`Work`](super::Work),
/// [`DelayedWork`](super::DelayedWork) and [`TrackedDelayedWork`](super::TrackedDelayedWork).
/// Each guard undoes the one disable that made it, so `enable_work()` is never called on an
/// item more often than `disable_work()`: it can neither underflow the C disable count nor,
/// with no instance pending while the item is disabled, take an instance from its owner. C
/// stops counting disables at 65,535 (with a warning); a guard is made only for a disable that
/// leaves the count at 32,768 or below (`wq_rs_disable_bounded()`), which keeps the count
/// below C's limit, so every guard's disable was counted.
///
/// # Invariants
///
/// `work` is an initialised `work_struct` that stays valid for `'a`, and this guard accounts
/// for one increment of its C disable count that no one else undoes.
#[must_use = "dropping the guard enables the item again at once"]
pub struct Disabled<'a> {
    work: NonNull<bindings::work_struct>,
    _item: PhantomData<&'a ()>,
}

// SAFETY: `enable_work()` may be called from any thread and context.
unsafe impl Send for Disabled<'_> {}
// SAFETY: A shared `&Disabled` allows nothing.
unsafe impl Sync for Disabled<'_> {}

impl Disabled<'_> {
    /// Undoes the disable; returns whether the item can be queued again (no other disable
    /// is still in force). Any context.
    pub fn enable(self) -> bool {
        let this = core::mem::ManuallyDrop::new(self);
        // SAFETY: By the type invariants the work is valid and this guard holds one disable,
        // given up here exactly once (`this` is not dropped). While the item is disabled no
        // instance of it can be queued, so `enable_work()` finds nothing pending to take.
        unsafe { bindings::enable_work(this.work.as_ptr()) }
    }

    /// Keeps the item disabled for the rest of its life: the teardown form, for a driver's
    /// unbind or reset path. Every later enqueue or arming of the item is refused and hands
    /// its pointer back, and the item may be dropped while disabled (C keeps the disable
    /// count in the `work_struct` itself, and holds nothing else for it).
    ///
    /// It consumes the guard, so the borrow of the item ends here.
    ///
    /// # Examples
    ///
    /// ```
    /// use crate::workqueue::{
    ///     impl_has_work,
    ///     new_work,
    ///     system,
    ///     Work,
    ///     WorkItem, //
    /// };
    /// use kernel::sync::Arc;
    ///
    /// #[pin_data]
    /// struct Irq {
    ///     #[pin]
    ///     bottom_half: Work<Irq>,
    /// }
    ///
    /// impl_has_work! {
    ///     impl HasWork<Self> for Irq { self.bottom_half }
    /// }
    ///
    /// impl WorkItem for Irq {
    ///     type Pointer = Arc<Irq>;
    ///
    ///     fn run(_this: Arc<Irq>) {}
    /// }
    ///
    /// let irq = Arc::pin_init(pin_init!(Irq { bottom_half <- new_work!() }), GFP_KERNEL)?;
    /// let (_, disabled) = irq.bottom_half.disable();
    /// disabled?.forever();
    /// assert!(system().enqueue(irq.clone()).is_err());
    /// // Disabled for good, and dropped so.
    /// assert!(Arc::into_unique_or_drop(irq).is_some());
    /// # Ok::<(), Error>(())
    /// ```
    pub fn forever(self) {
        // INVARIANT: The disable this guard stands for is never undone, which the invariants
        // allow: they only forbid undoing it twice.
        core::mem::forget(self);
    }
}

impl Drop for Disabled<'_> {
    fn drop(&mut self) {
        // SAFETY: As in `enable`: this guard's one disable is undone once.
        unsafe { bindings::enable_work(self.work.as_ptr()) };
    }
}
