// SPDX-License-Identifier: GPL-2.0

//! Delayed items that may be armed on an [`OwnedQueue`](super::OwnedQueue), and how the queue
//! finds them when it is dropped or drained.
//!
//! `destroy_workqueue()` waits for queued and running items, but knows nothing of a delayed
//! item whose timer is armed: the timer would later queue work onto freed memory. And
//! `drain_workqueue()` refuses a timer that fires while it runs (with a warning), dropping the
//! item and leaking its owner (on 6.12, `__queue_work()` even leaves the refused item PENDING
//! with nothing queued, so every later cancel of it spins forever). So every item armed with
//! a delay on an owned queue is *linked* to that queue's registry, and the queue cancels every
//! linked item, releasing its owner, before C destroys or drains it.
//!
//! # State
//!
//! - Per item, under the item's own lock: `home`, the registry its link is in, or none.
//! - Per owned queue: its `Registry`, a list of links under the registry's own lock.
//!
//! Both locks are raw spinlocks, taken with interrupts off. The lock order is item, then
//! registry; one who holds a registry's lock only *tries* an item's lock. No lock is shared
//! between queues or between items, and nothing is global. Nothing is inferred from the C
//! work's PENDING bit: `home` records the last arming, and only this module arms.
//!
//! # Invariants
//!
//! - **A. Only arming queues a tracked item.** Tracked items do not implement
//!   [`HasUntrackedWork`](super::HasUntrackedWork) nor
//!   [`HasDelayedWork`](super::HasDelayedWork), so
//!   [`Queue::enqueue`](super::Queue::enqueue) and `Queue::enqueue_delayed` refuse them; they
//!   are queued only by `arm` and `rearm`, each of which calls C with the item's lock
//!   held. The *latest arming* of an item is thus the latest successful one of those calls.
//! - **B. `home` follows the latest arming.** An arming that succeeds sets `home` to its
//!   queue's registry if it had a delay, and to none if not, before the item's lock is
//!   released. Otherwise `home` only becomes none: in a cancel pass or the item's drop.
//! - **C. A pending instance is the latest arming's.** C queues an item only by taking its
//!   PENDING bit, which stays set until the instance starts running (`process_one_work()`
//!   clears it just before calling the work function) or is cancelled. So no arming succeeds
//!   while an instance is pending, and a pending instance was created by the latest arming.
//! - **D. A timer for Q means linked to Q.** If an instance of the item is armed on a timer
//!   for owned queue Q, or in that timer's callback, or queued by it and not started, then
//!   `home` is Q's registry: by C that instance is pending, so by C and B it is the latest
//!   arming's, which had a delay and set `home` to Q; `home` has not moved since, as that
//!   needs a newer arming (impossible while the instance is pending), Q's cancel pass (which
//!   takes the instance, see below) or the item's drop (impossible while the instance holds
//!   an owner).
//! - **E. Linked means alive.** `Tracked`'s drop unlinks the item under both locks before
//!   its memory goes, and pinning guarantees that the drop runs before pinned memory is
//!   reused (for an `ARef` item, whose `AlwaysRefCounted::dec_ref` frees it, this is that
//!   implementation's duty: it must drop the object before freeing it, as the pinning of the
//!   object requires anyway). So an item found in a registry with the registry's lock held is
//!   alive, and it stays alive while one holds its lock, which its drop needs.
//! - **F. `home` is alive.** A registry is freed only in its queue's drop, after a cancel
//!   pass has unlinked every item from it. The pass needs each item's lock, so an item that
//!   reads `home` under its lock finds it alive.
//!
//! # Operations
//!
//! - **Arm** (`arm`: `OwnedQueue::enqueue_delayed`, `enqueue_delayed_on`): item lock;
//!   `queue_delayed_work_on()`; if it queued, move the link to the queue's registry (delay) or
//!   out of any (no delay: the instance is on the worklist at once, and destroy or drain will
//!   run it). Moving takes the old registry's lock to unlink, then the new one's to link.
//! - **Re-arm** (`rearm`: `OwnedQueue::mod_delayed`), on the same or another queue: item
//!   lock; `cancel_delayed_work()`, which takes a pending instance (its owner goes back to the
//!   caller); `queue_delayed_work_on()`; then as for arm.
//! - **Timer fire, run**: C alone. Tracked items use the plain work function; nothing changes
//!   here. A link left behind (`home` is Q with nothing armed) is harmless: Q's cancel pass
//!   then cancels nothing, and the next arming elsewhere or the item's drop moves it.
//! - **Cancel, disable, enable, flush**: C alone, with no lock of ours: the waiting forms
//!   (`cancel_delayed_work_sync()`; `disable_delayed_work()` then
//!   `cancel_delayed_work_sync()`, and then `enable_work()` if the disable is refused, for
//!   [`super::Disabled`]), the non-waiting forms of any context (`cancel_delayed_work()`,
//!   `disable_delayed_work()`), `enable_work()` and `flush_delayed_work()`. They take or wait
//!   for instances and may leave a stale link. Of them only flush queues:
//!   `flush_delayed_work()` deletes a pending timer and queues the instance on `dwork->wq` at
//!   once, with interrupts off. By D that queue is `home`'s, alive.
//! - **Cancel pass** (`cancel_armed`: queue drop, `OwnedQueue::drain`,
//!   `OwnedQueue::destroy`): until the registry is empty: registry lock; first link; try its
//!   item's lock, and if it is taken drop both and start again; unlink, `home` := none;
//!   registry unlock; `cancel_delayed_work()`; item unlock; if the cancel took an instance,
//!   release its owner. `cancel_delayed_work()` (`__cancel_work()`) deletes an armed timer,
//!   spins while a timer callback or a flush is queueing the instance, and takes a queued
//!   instance off the worklist; it returns false for an idle item or a started one. What it
//!   takes is the latest arming's (C), which is Q's: `home` was Q (B). After the pass no
//!   instance is in a timer for Q, in its callback or queued by it: each such item was linked
//!   to Q (D) and has been passed. None can appear later: arming on Q needs `&OwnedQueue` or
//!   an entry of Q's gate (through a [`QueueHandle`](super::QueueHandle)), and the pass runs
//!   under `&mut` or in the drop, after the gate was closed and every entry left.
//! - **Item drop** (`Tracked`'s `PinnedDrop`): item lock; if linked, `home`'s lock; unlink.
//! - **Queue drop**: cancel pass; `destroy_workqueue()`, which runs what is queued and waits
//!   for what started; free the (empty) registry. **Drain**: cancel pass;
//!   `drain_workqueue()`, which no timer can disturb, by the pass.
//!
//! # Any two at once, on different CPUs
//!
//! - *Arm and arm* (same item, same or different queues): serialised by the item's lock; C
//!   lets at most one queue a pending item; `home` follows the one that did.
//! - *Arm on B and fire (or run, cancel, disable, flush) of an instance armed on A*: the
//!   arm fails while that instance is pending (C); it may succeed once it started or was
//!   cancelled, and then moves the link from A to B. A's instance, if running, is destroy's
//!   to wait for; the link it leaves behind is gone.
//! - *Arm on B and A's cancel pass* (the item linked to A): serialised by the item's lock.
//!   If the pass comes first, it cancels A's instance and unlinks; the arm then finds `home`
//!   none. If the arm comes first, it succeeds only if nothing was pending, and moves the link
//!   to B: the pass no longer sees the item.
//! - *Re-arm on B and A's timer firing*: the cancel inside the re-arm spins until the callback
//!   has queued the instance, then takes it off A's worklist: the owner goes back to the
//!   caller, and the new instance is B's.
//! - *Fire or run and the cancel pass*: the pass's cancel takes an instance that has not
//!   started (spinning while the callback queues it) and releases its owner, and the run never
//!   happens; if it started, the cancel returns false and destroy waits for the run.
//! - *Cancel (or disable) and the cancel pass*: C hands a pending instance to exactly one of
//!   the two cancels; that one returns or releases the owner. `cancel_delayed_work_sync()`
//!   disables the item while it waits, which makes arms fail meanwhile (handing the pointer
//!   back), not the pass.
//! - *Non-waiting cancel or disable, in any context, and anything*: it is `__cancel_work()`,
//!   the cancel pass's own C call, without the item's lock. It takes the pending instance (the
//!   latest arming's, by C) or nothing, and C hands a pending instance to exactly one taker:
//!   against the pass, a re-arm's cancel or another cancel, exactly one returns or releases
//!   the owner. It never queues and changes no `home`, so A to D stand; a link it leaves
//!   behind is harmless (see Timer fire). Its spin is bounded as below, in hard-IRQ context
//!   too: everyone who holds PENDING does so with interrupts off, so the holder is never the
//!   interrupted code on the same CPU. The owner it returns is dropped by its caller, whose
//!   context the item's destructor then runs in (`Tracked`'s drop takes only raw spinlocks).
//! - *Arm through a handle and the queue's drop or drain*: the arming holds an entry of the
//!   queue's gate (see `gate.rs`). The drop and the drain close the gate first and wait until
//!   every entry has left, so such an arming either completes before the cancel pass begins,
//!   and is then like an arming with `&OwnedQueue`, or is refused and queues nothing.
//! - *Enable and anything*: a [`super::Disabled`] guard enables only an item it
//!   disabled, and its disable was counted by C (the library refuses a guard past half of
//!   C's count, see `Disabled`), so nothing is pending (C refuses to queue a disabled item)
//!   and `enable_work()` takes nothing. The same holds for the enable that undoes a refused
//!   disable. While an enable holds PENDING, a
//!   concurrent cancel spins briefly, and a concurrent arming is refused (C).
//! - *Flush and the cancel pass*: if the flush deleted the timer first, the pass's cancel
//!   spins until the flush has queued the instance (interrupts off, not preempted), then takes
//!   it; if the pass came first, the flush finds no timer and queues nothing. Either way the
//!   flush queues only before the pass has passed the item, so never onto a draining or
//!   destroyed queue.
//! - *Item drop and the cancel pass*: the pass holds the registry's lock and only tries the
//!   item's; the drop holds the item's and waits for the registry's. Whoever gets both
//!   unlinks; the other finds the item gone (pass) or unlinked (drop).
//! - *Drops of two queues*: an item is in at most one registry; each pass sees only its own.
//!
//! The spin inside `cancel_delayed_work()` while holding the item's lock is bounded: C
//! returns `-EAGAIN` from `try_to_grab_pending()` only while another CPU holds the PENDING
//! bit with interrupts off (a timer callback queueing, a flush between its two steps, or
//! another C cancel or queueing in progress), none of which waits for a lock of ours.

use core::{
    cell::UnsafeCell,
    marker::PhantomData,
    mem::offset_of,
    ptr::{
        self,
        NonNull, //
    },
};

use kernel::{
    bindings,
    ffi::c_int,
    prelude::*,
    sync::Arc,
    time::Jiffies,
    types::Opaque, //
};

use super::{
    compat::{
        self,
        ARef,
        AlwaysRefCounted,
        CStr,
        ClassKey, //
    },
    control::{
        self,
        Disabled,
        ItemWork,
        Wait, //
    },
    helpers,
    registry::{
        IrqSaveGuard,
        IrqsOff,
        Link,
        RawSpinLock,
        Registry, //
    },
    HasWork,
    RawWorkItem,
    Work,
    WorkItem,
    WorkItemPointer,
    WorkItemReclaim, //
};

/// The part of a [`TrackedDelayedWork`] that does not depend on its item type.
///
/// # Invariants
///
/// `home` is only read or written with `lock` held; it is null or points at the live
/// registry whose list holds `link` (see the module documentation, E and F). `link` is in a
/// registry exactly when `home` is not null.
#[repr(C)]
#[pin_data(PinnedDrop)]
struct Tracked {
    #[pin]
    dwork: Opaque<bindings::delayed_work>,
    /// Serialises the item's armings and the moves of its link.
    #[pin]
    lock: RawSpinLock,
    /// The registry that holds `link`, or null.
    home: UnsafeCell<*const Registry>,
    link: Link,
    /// Drops the owner that a queue held for this item (typed by the item, erased here).
    release: unsafe fn(*mut bindings::work_struct),
}

impl Tracked {
    /// Returns the `Tracked` whose `delayed_work` holds `work`.
    ///
    /// # Safety
    ///
    /// `work` must be the `work_struct` of a live `Tracked`.
    unsafe fn from_work(work: *mut bindings::work_struct) -> *const Tracked {
        let offset = offset_of!(Tracked, dwork) + offset_of!(bindings::delayed_work, work);
        // CAST: By the caller's promise `work` sits `offset` bytes into a `Tracked`.
        // SAFETY: Stepping back inside the same allocation.
        unsafe { work.byte_sub(offset) }.cast::<Tracked>()
    }

    /// Returns the `Tracked` that holds `link`.
    ///
    /// # Safety
    ///
    /// `link` must be the `link` of a live `Tracked`.
    unsafe fn from_link(link: NonNull<Link>) -> *const Tracked {
        // CAST: By the caller's promise `link` is the `link` field of a `Tracked`.
        // SAFETY: Stepping back inside the same allocation.
        unsafe { link.as_ptr().byte_sub(offset_of!(Tracked, link)) }.cast::<Tracked>()
    }

    #[inline]
    fn dwork_ptr(&self) -> *mut bindings::delayed_work {
        compat::opaque_ptr(&self.dwork)
    }

    #[inline]
    fn work(&self) -> *mut bindings::work_struct {
        // SAFETY: `dwork` is a valid `delayed_work`; this only projects to a field.
        unsafe { &raw mut (*self.dwork_ptr()).work }
    }

    /// Links the item to `target` (or to no registry), moving it out of the one it is in.
    ///
    /// # Safety
    ///
    /// `item` must hold this item's `lock`, and `target` must stay alive until it is emptied
    /// by its cancel pass.
    #[inline]
    unsafe fn move_to(&self, target: Option<&Registry>, item: &IrqSaveGuard<'_>) {
        debug_assert!(item.holds(&self.lock));
        let target_ptr = target.map_or(ptr::null(), ptr::from_ref);
        // SAFETY: The item's lock is held (the caller's promise), as the invariants require.
        let home = unsafe { *self.home.get() };
        // `make check DEMO=broken-core-link` only: an arming on another queue leaves the link
        // where it is, breaking invariant D, to show that the tests catch it.
        #[cfg(wq_demo_broken_core_link)]
        if !home.is_null() && target.is_some() {
            return;
        }
        if home != target_ptr {
            // SAFETY: The caller's promise.
            unsafe { self.relink(target, item) };
        }
    }

    /// The rare part of [`Tracked::move_to`]: out of the old registry, into the new one.
    ///
    /// # Safety
    ///
    /// As for [`Tracked::move_to`].
    #[cold]
    unsafe fn relink(&self, target: Option<&Registry>, item: &IrqSaveGuard<'_>) {
        // SAFETY: The item's lock is held (the caller's promise), as the invariants require.
        let home = unsafe { *self.home.get() };
        // SAFETY: By the invariants (F) a non-null `home` is alive while we hold the lock.
        if let Some(old) = unsafe { home.as_ref() } {
            let guard = old.lock(item);
            old.remove(&self.link, &guard);
        }
        if let Some(new) = target {
            let guard = new.lock(item);
            new.push(&self.link, &guard);
        }
        // INVARIANT: `link` is in `target`'s list exactly when `target` is not none, and the
        // caller keeps `target` alive until its cancel pass unlinks the item.
        // SAFETY: The item's lock is held.
        unsafe { *self.home.get() = target.map_or(ptr::null(), ptr::from_ref) };
    }
}

/// How many items' drops have unlinked them from a registry: the other side of a cancel
/// pass's [`PassReport::unlinked`], for the tests only (`--cfg wq_test_hooks`).
#[cfg(wq_test_hooks)]
pub(crate) static DROP_UNLINKS: core::sync::atomic::AtomicUsize =
    core::sync::atomic::AtomicUsize::new(0);

#[pinned_drop]
impl PinnedDrop for Tracked {
    fn drop(self: Pin<&mut Self>) {
        // A cancel pass of the registry may look at the item concurrently, through its link,
        // until it fails to take the item's lock: it reads `link` and `home` (in
        // `UnsafeCell`s, written only under the locks) and `release` (never written). That is
        // no aliasing violation: `Tracked` is not `Unpin` (it holds `Opaque`s), so `&mut Self`
        // is not assumed unique, and only a shared reference is used from here on.
        let this: &Self = &self;
        let item = this.lock.lock_irqsave();
        #[cfg(wq_test_hooks)]
        // SAFETY: The item's lock is held, as the invariants require.
        if !unsafe { *this.home.get() }.is_null() {
            DROP_UNLINKS.fetch_add(1, core::sync::atomic::Ordering::Relaxed);
        }
        // SAFETY: `item` holds our lock; with no target nothing needs to stay alive.
        unsafe { this.move_to(None, &item) };
    }
}

/// A delayed work item that may be armed on an [`OwnedQueue`](super::OwnedQueue).
///
/// It is a `struct delayed_work` plus a small lock, a registry link and a release function:
/// when the owned queue is dropped or drained while the item's timer is armed, the queue
/// finds the item, cancels it and releases its owner, instead of leaving a timer that would
/// queue onto a freed or draining queue. It is armed with
/// [`OwnedQueue::enqueue_delayed`](super::OwnedQueue::enqueue_delayed) (with
/// [`Delay::ZERO`](super::Delay::ZERO) to queue it at once), moved with
/// [`OwnedQueue::mod_delayed`](super::OwnedQueue::mod_delayed), and only so: the queue must
/// know where it is armed. A system queue takes a [`DelayedWork`](super::DelayedWork)
/// instead. Both of these are refused:
///
/// ```compile_fail,E0277
/// # use crate::workqueue::{impl_has_tracked_delayed_work, new_tracked_delayed_work, system, Delay, TrackedDelayedWork, WorkItem};
/// # use kernel::sync::Arc;
/// # #[pin_data]
/// # struct Job {
/// #     #[pin]
/// #     dwork: TrackedDelayedWork<Job>,
/// # }
/// # impl_has_tracked_delayed_work! { impl HasTrackedDelayedWork<Self> for Job { self.dwork } }
/// # impl WorkItem for Job {
/// #     type Pointer = Arc<Job>;
/// #     fn run(_this: Arc<Job>) {}
/// # }
/// let job = Arc::pin_init(pin_init!(Job { dwork <- new_tracked_delayed_work!() }), GFP_KERNEL)?;
/// let _ = system().enqueue_delayed(job, Delay::from_millis(10)); // A system queue.
/// ```
///
/// ```compile_fail,E0277
/// # use crate::workqueue::{impl_has_tracked_delayed_work, new_tracked_delayed_work, Builder, TrackedDelayedWork, WorkItem};
/// # use kernel::sync::Arc;
/// # #[pin_data]
/// # struct Job {
/// #     #[pin]
/// #     dwork: TrackedDelayedWork<Job>,
/// # }
/// # impl_has_tracked_delayed_work! { impl HasTrackedDelayedWork<Self> for Job { self.dwork } }
/// # impl WorkItem for Job {
/// #     type Pointer = Arc<Job>;
/// #     fn run(_this: Arc<Job>) {}
/// # }
/// let q = Builder::unbound().build(c"untracked")?;
/// let job = Arc::pin_init(pin_init!(Job { dwork <- new_tracked_delayed_work!() }), GFP_KERNEL)?;
/// let _ = q.enqueue(job); // Queued behind the queue's back: not tracked.
/// ```
///
/// An `ARef` item's `AlwaysRefCounted::dec_ref` must drop the object (running its
/// destructors) before it frees the memory, as for any pinned object: the item's drop takes
/// it out of the registry it is linked to.
///
/// # Invariants
///
/// `inner.dwork` was initialised with `T::Pointer::run` as its work function and the C
/// `delayed_work_timer_fn` as its timer function, and `inner.release` drops a `T::Pointer`
/// reclaimed from the work.
///
/// # Examples
///
/// See [`OwnedQueue::enqueue_delayed`](super::OwnedQueue::enqueue_delayed).
#[repr(transparent)]
#[pin_data]
pub struct TrackedDelayedWork<T: ?Sized, const ID: u64 = 0> {
    #[pin]
    inner: Tracked,
    _item: PhantomData<T>,
}

// SAFETY: The `delayed_work` is synchronised by the C side, the rest by the item's lock and the
// registries' locks; no `T` is held.
unsafe impl<T: ?Sized, const ID: u64> Send for TrackedDelayedWork<T, ID> {}

// SAFETY: As above: every access through `&TrackedDelayedWork` is synchronised.
unsafe impl<T: ?Sized, const ID: u64> Sync for TrackedDelayedWork<T, ID> {}

/// Creates a [`TrackedDelayedWork`] initialiser with lockdep classes for this call site.
///
/// Like [`new_delayed_work!`](super::new_delayed_work): the optional name (default
/// `file:line`) names the work, and its timer gets the name with a `_timer` suffix.
///
/// # Examples
///
/// ```
/// use crate::workqueue::{
///     impl_has_tracked_delayed_work,
///     new_tracked_delayed_work,
///     TrackedDelayedWork,
///     WorkItem, //
/// };
/// use kernel::sync::Arc;
///
/// #[pin_data]
/// struct Retry {
///     #[pin]
///     backoff: TrackedDelayedWork<Retry>,
/// }
///
/// impl_has_tracked_delayed_work! {
///     impl HasTrackedDelayedWork<Self> for Retry { self.backoff }
/// }
///
/// impl WorkItem for Retry {
///     type Pointer = Arc<Retry>;
///
///     fn run(_this: Arc<Retry>) {}
/// }
///
/// let r = Arc::pin_init(
///     pin_init!(Retry { backoff <- new_tracked_delayed_work!("Retry::backoff") }),
///     GFP_KERNEL,
/// )?;
/// assert!(!r.backoff.is_pending());
/// # Ok::<(), Error>(())
/// ```
// The library is built into the driver's crate, where its macros are crate-visible, not
// exported; its documentation shows them as the driver's crate sees them.
#[cfg_attr(doc, macro_export)]
// Driver API: a driver need not use every macro.
#[allow(unused_macros)]
macro_rules! new_tracked_delayed_work {
    () => {
        $crate::workqueue_lib::TrackedDelayedWork::new(
            $crate::workqueue_lib::compat::wq_optional_name!(),
            ::kernel::static_lock_class!(),
            $crate::workqueue_lib::compat::wq_c_str!(::core::concat!(
                ::core::file!(),
                ":",
                ::core::line!(),
                "_timer"
            )),
            ::kernel::static_lock_class!(),
        )
    };
    ($name:literal) => {
        $crate::workqueue_lib::TrackedDelayedWork::new(
            $crate::workqueue_lib::compat::wq_c_str!($name),
            ::kernel::static_lock_class!(),
            $crate::workqueue_lib::compat::wq_c_str!(::core::concat!($name, "_timer")),
            ::kernel::static_lock_class!(),
        )
    };
}
pub(crate) use new_tracked_delayed_work;
impl<T: ?Sized, const ID: u64> TrackedDelayedWork<T, ID> {
    /// Creates an initialiser; prefer [`new_tracked_delayed_work!`].
    #[inline]
    pub fn new(
        name: &'static CStr,
        key: ClassKey,
        timer_name: &'static CStr,
        timer_key: ClassKey,
    ) -> impl PinInit<Self>
    where
        T: WorkItem<ID> + HasTrackedDelayedWork<T, ID> + Sized,
        T::Pointer: WorkItemReclaim<ID>,
    {
        pin_init!(Self {
            inner <- pin_init!(Tracked {
                dwork <- Opaque::ffi_init(|slot| {
                    // SAFETY: `slot` is valid for writes and pinned; `T::Pointer::run` may be
                    // the work function by the contract of `WorkItemPointer`; names and keys
                    // are `'static`.
                    // INVARIANT: The work and timer functions are set as the invariants say.
                    unsafe {
                        helpers::wq_rs_init_delayed_work(
                            slot,
                            Some(T::Pointer::run),
                            compat::cstr_ptr(name),
                            compat::class_key_ptr(key),
                            compat::cstr_ptr(timer_name),
                            compat::class_key_ptr(timer_key),
                        )
                    }
                }),
                lock <- RawSpinLock::new_item_lock(),
                // INVARIANT: In no registry.
                home: UnsafeCell::new(ptr::null()),
                link: Link::new(),
                release: release_owner::<T, ID>,
            }),
            _item: PhantomData,
        })
    }

    /// Returns the `work_struct` of the `TrackedDelayedWork` at `ptr`, as a `Work`.
    ///
    /// # Safety
    ///
    /// `ptr` must point at a valid `TrackedDelayedWork<T, ID>`.
    #[inline]
    pub unsafe fn raw_as_work(ptr: *const Self) -> *mut Work<T, ID> {
        // SAFETY: The caller promises `ptr` is valid; this projects to fields.
        let dwork = compat::opaque_ptr(unsafe { &raw const (*ptr).inner.dwork });
        // CAST: `Work<T, ID>` is transparent over `work_struct`.
        // SAFETY: As above.
        unsafe { &raw mut (*dwork).work }.cast()
    }

    /// Returns the `TrackedDelayedWork` whose work is `work`.
    ///
    /// # Safety
    ///
    /// `work` must be the work of a valid `TrackedDelayedWork<T, ID>`.
    #[inline]
    pub unsafe fn from_work(work: *mut Work<T, ID>) -> *mut Self {
        // CAST: `TrackedDelayedWork` is transparent over `Tracked`, and `Work` over
        // `work_struct`.
        // SAFETY: The caller's promise is `Tracked::from_work`'s.
        unsafe { Tracked::from_work(work.cast()) }.cast_mut().cast()
    }

    /// Returns whether the item is pending: its timer is armed or it is queued.
    ///
    /// The answer can be stale by the time the caller looks at it.
    #[inline]
    pub fn is_pending(&self) -> bool {
        // SAFETY: The work is initialised by the type invariants.
        unsafe { helpers::wq_rs_work_pending(self.inner.work()) }
    }

    /// Returns whether the item is linked to an owned queue: its latest arming had a delay,
    /// and neither that queue's drop, drain or destroy nor a newer arming has unlinked it, so
    /// that queue's drop will look at it. For diagnostics; the answer can be stale by the
    /// time the caller looks at it.
    ///
    /// # Examples
    ///
    /// See [`OwnedQueue::drain`](super::OwnedQueue::drain).
    pub fn is_tracked(&self) -> bool {
        let _item = self.inner.lock.lock_irqsave();
        // SAFETY: The item's lock is held, as the invariants of `Tracked` require.
        !unsafe { *self.inner.home.get() }.is_null()
    }

    /// Runs the item now if its timer is armed, then waits for it to finish; returns whether
    /// there was an instance to wait for. It may sleep; called from the item's own `run`, it
    /// waits for itself, forever.
    pub fn flush(&self) -> bool {
        // SAFETY: The work is that of this initialised `delayed_work` (type invariants). If its
        // timer is pending, `flush_delayed_work()` queues it on the queue it was armed on,
        // which is alive and not draining (module documentation: operations, and "flush and
        // the cancel pass"). This may sleep, as documented.
        unsafe { control::flush(self.inner.work(), true) }
    }
}

impl<T, const ID: u64> TrackedDelayedWork<T, ID>
where
    T: WorkItem<ID>,
    T::Pointer: WorkItemReclaim<ID>,
{
    /// Cancels the item if it is pending and returns the owner the queue held for it.
    ///
    /// Waits for a running instance to finish: when it returns, the item is neither pending
    /// nor running (until armed again). Returns `None` if there was nothing pending. It may
    /// sleep; called from the item's own `run`, it waits for itself, forever. While it works
    /// an arming of the item on another CPU is refused and hands its pointer back (see
    /// [`Work::cancel`](super::Work::cancel)).
    ///
    /// # Examples
    ///
    /// See [`OwnedQueue::enqueue_delayed`](super::OwnedQueue::enqueue_delayed).
    #[inline]
    pub fn cancel(&self) -> Option<T::Pointer> {
        // SAFETY: Cancelling may sleep, which `cancel` documents.
        unsafe { self.control().cancel(Wait::ForRunning) }
    }

    /// Cancels the item if it is pending and returns the owner the queue held for it, without
    /// waiting for a running instance: `cancel_delayed_work()`. Usable in any context (a
    /// fence callback cancelling its timeout, say), with what the caller must know as for
    /// [`Work::cancel_nowait`](super::Work::cancel_nowait). It may leave the item linked to
    /// the queue it was armed on, which is harmless (see the [module documentation](self)).
    ///
    /// # Examples
    ///
    /// See [`OwnedQueue::enqueue_delayed`](super::OwnedQueue::enqueue_delayed).
    #[inline]
    pub fn cancel_nowait(&self) -> Option<T::Pointer> {
        // SAFETY: `Wait::No`: any context.
        unsafe { self.control().cancel(Wait::No) }
    }

    /// Disables the item until the returned guard is dropped, cancelling a pending instance
    /// (whose owner is returned with the guard); see [`Work::disable`](super::Work::disable).
    pub fn disable(&self) -> (Option<T::Pointer>, Result<Disabled<'_>>) {
        // SAFETY: The work stays valid while `self` is borrowed, which the guard is; this may
        // sleep, as documented.
        unsafe { self.control().disable(Wait::ForRunning) }
    }

    /// Disables the item without waiting for a running instance: `disable_delayed_work()`.
    /// Usable in any context; see [`Work::disable_nowait`](super::Work::disable_nowait).
    pub fn disable_nowait(&self) -> (Option<T::Pointer>, Result<Disabled<'_>>) {
        // SAFETY: As in `disable`; `Wait::No` may be used in any context.
        unsafe { self.control().disable(Wait::No) }
    }

    /// The one implementation of cancel and disable, for this item's work.
    #[inline]
    fn control(&self) -> ItemWork<T::Pointer, ID> {
        // SAFETY: The `delayed_work` is initialised (type invariants) and valid while `self`
        // is; only `T::Pointer`'s `__enqueue` queues its work (through `T`'s field), by the
        // arming functions of this module.
        unsafe { ItemWork::new(self.inner.work(), true) }
    }
}

/// Drops the owner that a cancelled queue held for a tracked `T`.
///
/// # Safety
///
/// `work` is the work of a tracked `T` whose pending instance the caller cancelled.
unsafe fn release_owner<T, const ID: u64>(work: *mut bindings::work_struct)
where
    T: WorkItem<ID>,
    T::Pointer: WorkItemReclaim<ID>,
{
    // SAFETY: The caller owns what the queue held for `work`.
    drop(unsafe { T::Pointer::reclaim(work) });
}

/// Declares that the [`Work`] of [`HasWork`] is the work of a [`TrackedDelayedWork`].
///
/// # Safety
///
/// The `Work<T, ID>` that [`HasWork::raw_get_work`] returns must be inside a
/// `TrackedDelayedWork<T, ID>`. Use [`impl_has_tracked_delayed_work!`].
pub unsafe trait HasTrackedDelayedWork<T, const ID: u64 = 0>: HasWork<T, ID> {}

/// Implements [`HasTrackedDelayedWork`] (and [`HasWork`]) from a [`TrackedDelayedWork`] field.
///
/// # Examples
///
/// ```
/// use crate::workqueue::{
///     impl_has_tracked_delayed_work,
///     TrackedDelayedWork, //
/// };
///
/// struct Job {
///     watchdog: TrackedDelayedWork<Job>,
/// }
///
/// impl_has_tracked_delayed_work! {
///     impl HasTrackedDelayedWork<Self> for Job { self.watchdog }
/// }
/// ```
// The library is built into the driver's crate, where its macros are crate-visible, not
// exported; its documentation shows them as the driver's crate sees them.
#[cfg_attr(doc, macro_export)]
// Driver API: a driver need not use every macro.
#[allow(unused_macros)]
macro_rules! impl_has_tracked_delayed_work {
    ($(impl$({$($generics:tt)*})?
       HasTrackedDelayedWork<$work_type:ty $(, $id:tt)?>
       for $self:ty
       { self.$field:ident }
    )*) => {$(
        // SAFETY: `HasWork` below hands out the work of the `$field` field, whose type the
        // compiler checks to be `TrackedDelayedWork<$work_type, $id>`.
        unsafe impl$(<$($generics)+>)?
            $crate::workqueue_lib::HasTrackedDelayedWork<$work_type $(, $id)?> for $self {}

        $crate::workqueue_lib::impl_has_work_in_field!(
            [$($($generics)+)?] $work_type, [$($id)?], $self, $field, TrackedDelayedWork
        );
    )*};
}
pub(crate) use impl_has_tracked_delayed_work;
/// A work item whose `work_struct` is the work of a [`TrackedDelayedWork`].
///
/// # Safety
///
/// The `work_struct` that [`RawWorkItem::__enqueue`] passes on must be the work of a
/// `TrackedDelayedWork`, valid as long as the work is.
pub unsafe trait RawTrackedDelayedWorkItem<const ID: u64>: RawWorkItem<ID> {}

// SAFETY: `HasTrackedDelayedWork` puts the work in a `TrackedDelayedWork` inside the `Arc`.
unsafe impl<T, const ID: u64> RawTrackedDelayedWorkItem<ID> for Arc<T> where
    T: WorkItem<ID, Pointer = Self> + HasTrackedDelayedWork<T, ID>
{
}

// SAFETY: As for `Arc`, inside the box.
unsafe impl<T, const ID: u64> RawTrackedDelayedWorkItem<ID> for Pin<KBox<T>> where
    T: WorkItem<ID, Pointer = Self> + HasTrackedDelayedWork<T, ID>
{
}

// SAFETY: As for `Arc`, inside the reference-counted object, which by the pinning of its
// `TrackedDelayedWork` is dropped before its memory is freed (see `TrackedDelayedWork`).
unsafe impl<T, const ID: u64> RawTrackedDelayedWorkItem<ID> for ARef<T> where
    T: AlwaysRefCounted + WorkItem<ID, Pointer = Self> + HasTrackedDelayedWork<T, ID>
{
}

/// The registry an arming with `delay` links the item to: none for no delay, as the instance
/// is then on the worklist at once, out of any timer (`__queue_delayed_work()`).
fn home_for(registry: &Registry, delay: Jiffies) -> Option<&Registry> {
    (delay != 0).then_some(registry)
}

/// Arms the tracked item whose work is `work` on `wq` (the queue of `registry`), on CPU `cpu`,
/// after `delay`. Returns whether it queued; if not (the item was pending or is disabled),
/// nothing changed.
///
/// # Safety
///
/// `work` must be the work of a live tracked item, `wq` a live queue whose registry is
/// `registry`, and both must stay alive until the queue's cancel pass.
#[inline]
pub(crate) unsafe fn arm(
    registry: &Registry,
    wq: *mut bindings::workqueue_struct,
    cpu: c_int,
    work: *mut bindings::work_struct,
    delay: Jiffies,
) -> bool {
    // SAFETY: By the caller's promise `work` belongs to a live tracked item.
    let tracked = unsafe { &*Tracked::from_work(work) };
    let item = tracked.lock.lock_irqsave();
    // SAFETY: The item's `delayed_work` is initialised with `delayed_work_timer_fn`, and `wq`
    // is live. The item's lock makes this the latest arming until `home` records it (B).
    let armed = unsafe { bindings::queue_delayed_work_on(cpu, wq, tracked.dwork_ptr(), delay) };
    if armed {
        // SAFETY: `item` holds the item's lock; the caller keeps `registry` alive.
        unsafe { tracked.move_to(home_for(registry, delay), &item) };
    }
    armed
}

/// Re-arms the tracked item whose work is `work` on `wq` after `delay`: cancels a pending
/// instance, wherever it is armed, then arms it as [`arm`] does. Returns whether it queued,
/// and whether an instance was cancelled (whose owner the caller then holds).
///
/// # Safety
///
/// As for [`arm`].
pub(crate) unsafe fn rearm(
    registry: &Registry,
    wq: *mut bindings::workqueue_struct,
    cpu: c_int,
    work: *mut bindings::work_struct,
    delay: Jiffies,
) -> (bool, bool) {
    // SAFETY: By the caller's promise `work` belongs to a live tracked item.
    let tracked = unsafe { &*Tracked::from_work(work) };
    let item = tracked.lock.lock_irqsave();
    // SAFETY: `work` is inside the item's `delayed_work`; `wq` is live. Both steps happen under
    // the item's lock, so no other arming comes in between.
    let (queued, cancelled) = unsafe {
        control::cancel_then_queue(work, |dwork| {
            bindings::queue_delayed_work_on(cpu, wq, dwork, delay)
        })
    };
    if queued {
        // SAFETY: `item` holds the item's lock; the caller keeps `registry` alive.
        unsafe { tracked.move_to(home_for(registry, delay), &item) };
    }
    (queued, cancelled)
}

/// What a cancel pass did.
#[derive(Clone, Copy, Default)]
pub(crate) struct PassReport {
    /// Items it unlinked from the registry.
    // Read by the KUnit tests only.
    #[cfg_attr(not(wq_test_hooks), allow(dead_code))]
    pub(crate) unlinked: usize,
    /// Of those, the ones whose pending instance it took, and whose owner it released.
    pub(crate) released: usize,
    /// How often it found a linked item's lock held (by an arming, or by the item's drop
    /// waiting for the registry's lock) and let go to start again.
    // Read by the KUnit tests only.
    #[cfg_attr(not(wq_test_hooks), allow(dead_code))]
    pub(crate) contended: usize,
}

/// The cancel pass of an owned queue: unlinks every item of `registry`, cancels it, and
/// releases its owner if the cancel took an instance.
///
/// Afterwards no timer of an item armed on the queue is pending or in flight, and nothing is
/// queued by one; instances that had started are left for the queue's destroy or drain.
///
/// # Safety
///
/// The caller must keep anyone from arming on the queue of `registry` until it has destroyed
/// or drained it: it holds the `OwnedQueue` by value or `&mut`, and has closed its gate, with
/// every entry left (if the queue ever made a handle).
pub(crate) unsafe fn cancel_armed(registry: &Registry) -> PassReport {
    let mut report = PassReport::default();
    loop {
        let irqs = IrqsOff::save();
        let reg = registry.lock(&irqs);
        let Some(link) = registry.first(&reg) else {
            return report;
        };
        // SAFETY: A linked item is alive while its registry's lock is held (invariant E).
        let tracked = unsafe { &*Tracked::from_link(link) };
        let Some(item) = tracked.lock.try_lock(&irqs) else {
            // Its holder may be waiting for the registry's lock (lock order): let it in.
            report.contended += 1;
            drop(reg);
            drop(irqs);
            core::hint::spin_loop();
            continue;
        };
        registry.remove(&tracked.link, &reg);
        // INVARIANT: Out of the registry, and both locks are held.
        // SAFETY: The item's lock is held.
        unsafe { *tracked.home.get() = ptr::null() };
        drop(reg);
        report.unlinked += 1;
        // `make check DEMO=broken-core` only: every 16th item that any pass unlinks is not
        // cancelled, leaving its timer armed for a queue that is drained or freed, to show
        // that the tests catch it.
        #[cfg(wq_demo_broken_core)]
        {
            static UNLINKED: core::sync::atomic::AtomicUsize =
                core::sync::atomic::AtomicUsize::new(0);
            if UNLINKED.fetch_add(1, core::sync::atomic::Ordering::Relaxed) % 16 == 15 {
                continue;
            }
        }
        // The item stays alive while we hold its lock (E). By B and C, what this cancel takes
        // is the instance the latest arming queued on this queue. It is allowed with
        // interrupts off; it spins only while another CPU queues the instance (see the module
        // documentation), and it never waits for a running one.
        // SAFETY: The `delayed_work` is initialised.
        let taken = unsafe { bindings::cancel_delayed_work(tracked.dwork_ptr()) };
        let (work, release) = (tracked.work(), tracked.release);
        drop(item);
        drop(irqs);
        if taken {
            // Owners are dropped with no lock held: a destructor may take locks of its own.
            // SAFETY: We took this pending instance, so its owner is ours, and it keeps the
            // item alive until `release` drops it.
            unsafe { release(work) };
            report.released += 1;
        }
    }
}
