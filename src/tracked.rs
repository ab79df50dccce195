// SPDX-License-Identifier: GPL-2.0

//! Delayed items that may be armed on an [`OwnedQueue`](super::OwnedQueue), and the registry
//! through which a dropped queue finds them.
//!
//! `destroy_workqueue()` waits for queued and running items, but knows nothing of a delayed
//! item whose timer is still armed: that timer would later queue work onto freed memory. So
//! every delayed item armed on an owned queue is linked into that queue's registry, and the
//! queue's drop cancels each one whose timer is still armed (releasing its owner) before it
//! destroys the queue; what already left its timer is queued or running, and the destroy
//! waits for it.
//!
//! # The protocol
//!
//! One lock ([`TrackGuard`], see [`registry`](super::registry)) protects every registry and
//! every item's link. An item is linked into a queue's registry when it is armed on that
//! queue (moving it from any registry it was still in). Its work function unlinks it before
//! `run` gets the owner, unless the item is pending again by then (a newer queueing, which
//! owns the link if it was an arming). A dropped queue unlinks every item and cancels each:
//! `cancel_delayed_work()` takes an instance whose timer is armed, whose timer callback is
//! on its way to queue it (it waits for that), or that is queued, and then the owner is
//! released; it fails only for an instance that has started, which the queue's destroy waits
//! for. Hence:
//!
//! - *While linked, an item is alive*: a pending instance owns it, or its work function is
//!   on its way to take the owner and must take the lock first.
//! - *After the cancel pass, nothing can queue onto the queue from a timer*: every instance
//!   armed on it was linked (tracked items cannot be armed on any other queue, as they do not
//!   implement [`HasDelayedWork`](super::HasDelayedWork), and only tracked items can be
//!   armed on an owned queue), and each was cancelled or has started.
//!
//! One corner is semantic, not a matter of memory safety: if, in the instant between an armed
//! instance starting and its work function taking the lock, someone queues the same item at
//! once (no delay) elsewhere, and the first queue is dropped in that instant, the drop may
//! cancel that immediate instance; its owner is still released exactly once.

use core::{
    marker::PhantomData,
    mem::offset_of,
    ptr, //
};

use kernel::{
    bindings,
    ffi::c_int,
    prelude::*,
    sync::{
        Arc,
        LockClassKey, //
    },
    time::Jiffies,
    types::Opaque, //
};

use super::{
    compat::{
        ARef,
        AlwaysRefCounted, //
    },
    helpers,
    queue::cancel_then_queue,
    registry::{
        Link,
        Registry,
        TrackGuard, //
    },
    work::take_owner,
    HasWork,
    RawWorkItem,
    Work,
    WorkItem,
    WorkItemPointer,
    WorkItemReclaim, //
};

/// The part of a [`TrackedDelayedWork`] that does not depend on its item type.
#[repr(C)]
#[pin_data]
struct Tracked {
    #[pin]
    dwork: Opaque<bindings::delayed_work>,
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
    unsafe fn from_link(link: *const Link) -> *const Tracked {
        // CAST: By the caller's promise `link` is the `link` field of a `Tracked`.
        // SAFETY: Stepping back inside the same allocation.
        unsafe { link.byte_sub(offset_of!(Tracked, link)) }.cast::<Tracked>()
    }

    fn work(&self) -> *mut bindings::work_struct {
        // SAFETY: `dwork` is a valid `delayed_work`; this only projects to a field.
        unsafe { &raw mut (*self.dwork.get()).work }
    }

    fn is_pending(&self) -> bool {
        // SAFETY: The work is initialised (by `TrackedDelayedWork::new`); reading its pending
        // bit is allowed from any context.
        unsafe { helpers::wq_rs_work_pending(self.work()) }
    }

    /// Unlinks the item unless it is pending again: a newer queueing owns the link then.
    fn unlink_if_stale(&self, lock: &TrackGuard) {
        if self.link.is_linked(lock) && !self.is_pending() {
            self.link.unlink(lock);
        }
    }
}

/// A delayed work item that may be armed on an [`OwnedQueue`](super::OwnedQueue).
///
/// It is a `struct delayed_work` plus a registry link and a release function (24 bytes more
/// than [`DelayedWork`](super::DelayedWork)): when the owned queue is dropped while the item's
/// timer is armed, the queue finds it, cancels it and releases its owner, instead of leaving
/// a timer that would queue onto freed memory. It is queued with
/// [`OwnedQueue::enqueue_delayed`](super::OwnedQueue::enqueue_delayed), and at once (no delay)
/// with [`Queue::enqueue`](super::Queue::enqueue) on any queue. It cannot be armed on a
/// system queue (a timer armed there would escape the registry): use
/// [`DelayedWork`](super::DelayedWork) there.
///
/// ```compile_fail
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
/// let _ = system().enqueue_delayed(job, Delay::from_millis(10));
/// ```
///
/// # Invariants
///
/// `inner.dwork` was initialised with [`run_tracked::<T, ID>`] as its work function and the C
/// `delayed_work_timer_fn` as its timer function, and `inner.release` drops a
/// `T::Pointer` reclaimed from the work.
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

// SAFETY: The `delayed_work` is synchronised by the C side and the link by the registry lock;
// no `T` is held.
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
macro_rules! new_tracked_delayed_work {
    () => {
        $crate::workqueue::TrackedDelayedWork::new(
            ::kernel::optional_name!(),
            ::kernel::static_lock_class!(),
            ::kernel::c_str!(::core::concat!(
                ::core::file!(),
                ":",
                ::core::line!(),
                "_timer"
            )),
            ::kernel::static_lock_class!(),
        )
    };
    ($name:literal) => {
        $crate::workqueue::TrackedDelayedWork::new(
            ::kernel::c_str!($name),
            ::kernel::static_lock_class!(),
            ::kernel::c_str!(::core::concat!($name, "_timer")),
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
        key: Pin<&'static LockClassKey>,
        timer_name: &'static CStr,
        timer_key: Pin<&'static LockClassKey>,
    ) -> impl PinInit<Self>
    where
        T: WorkItem<ID> + HasTrackedDelayedWork<T, ID> + Sized,
        T::Pointer: WorkItemReclaim<ID>,
    {
        pin_init!(Self {
            inner <- pin_init!(Tracked {
                dwork <- Opaque::ffi_init(|slot| {
                    // SAFETY: `slot` is valid for writes and pinned; `run_tracked::<T, ID>`
                    // may be the work function of the `work_struct` of a tracked `T` (it
                    // forwards to `T::Pointer::run`); names and keys are `'static`.
                    // INVARIANT: The work and timer functions are set as the invariants say.
                    unsafe {
                        helpers::wq_rs_init_delayed_work(
                            slot,
                            Some(run_tracked::<T, ID>),
                            name.as_char_ptr(),
                            key.as_ptr(),
                            timer_name.as_char_ptr(),
                            timer_key.as_ptr(),
                        )
                    }
                }),
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
        let dwork = unsafe { Opaque::cast_into(&raw const (*ptr).inner.dwork) };
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
    #[inline]
    pub fn is_pending(&self) -> bool {
        // SAFETY: The work is initialised by the type invariants.
        unsafe { helpers::wq_rs_work_pending(self.inner.work()) }
    }

    /// Runs the item now if its timer is armed, then waits for it to finish; returns whether
    /// there was an instance to wait for. It may sleep.
    pub fn flush(&self) -> bool {
        // SAFETY: The `delayed_work` is initialised by the type invariants. Its work function
        // unlinks it when it runs; a queue dropped meanwhile cancels it even while the flush
        // moves it from its timer to the queue (the cancel waits for that).
        unsafe { bindings::flush_delayed_work(self.inner.dwork.get()) }
    }

    /// Disables the item until [`TrackedDelayedWork::enable`], cancelling a pending instance
    /// (whose owner is returned); see [`Work::disable`](super::Work::disable).
    pub fn disable(&self) -> Option<T::Pointer>
    where
        T: WorkItem<ID> + Sized,
        T::Pointer: WorkItemReclaim<ID> + RawWorkItem<ID, EnqueueOutput = Result<(), T::Pointer>>,
    {
        // SAFETY: The `delayed_work` is initialised; this may sleep.
        let taken = unsafe { bindings::disable_delayed_work_sync(self.inner.dwork.get()) };
        if taken {
            self.inner.unlink_if_stale(&TrackGuard::lock());
        }
        // SAFETY: As in `cancel`, with the disable's answer.
        unsafe { take_owner(taken, self.inner.work()) }
    }

    /// Undoes one [`TrackedDelayedWork::disable`]; returns whether the item can be queued
    /// again.
    pub fn enable(&self) -> bool {
        // SAFETY: The `delayed_work` is initialised by the type invariants.
        unsafe { bindings::enable_delayed_work(self.inner.dwork.get()) }
    }

    /// Cancels the item if it is pending and returns the owner the queue held for it.
    ///
    /// Waits for a running instance to finish: when it returns, the item is neither pending
    /// nor running (until queued again). Returns `None` if there was nothing pending. It
    /// sleeps, and must not be called from the item's own `run` (which would wait for
    /// itself).
    pub fn cancel(&self) -> Option<T::Pointer>
    where
        T: WorkItem<ID> + Sized,
        T::Pointer: WorkItemReclaim<ID>,
    {
        // SAFETY: The `delayed_work` is initialised; cancelling may sleep (documented).
        let taken = unsafe { bindings::cancel_delayed_work_sync(self.inner.dwork.get()) };
        if taken {
            self.inner.unlink_if_stale(&TrackGuard::lock());
        }
        // SAFETY: `taken` is the cancel's answer; the work is queued only through
        // `T::Pointer`'s `__enqueue` on `T`'s field.
        unsafe { take_owner(taken, self.inner.work()) }
    }
}

/// The work function of tracked items: unlinks the item, then runs it as usual.
///
/// # Safety
///
/// As for [`WorkItemPointer::run`]: `work` is the work of a tracked `T` queued through
/// `T::Pointer`, whose ownership the caller hands over.
unsafe extern "C" fn run_tracked<T, const ID: u64>(work: *mut bindings::work_struct)
where
    T: WorkItem<ID> + HasTrackedDelayedWork<T, ID>,
{
    // SAFETY: `work` belongs to a live tracked item, kept alive by the owner in flight.
    let tracked = unsafe { &*Tracked::from_work(work) };
    tracked.unlink_if_stale(&TrackGuard::lock());
    // SAFETY: The caller's promise is `run`'s.
    unsafe { T::Pointer::run(work) }
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
macro_rules! impl_has_tracked_delayed_work {
    ($(impl$({$($generics:tt)*})?
       HasTrackedDelayedWork<$work_type:ty $(, $id:tt)?>
       for $self:ty
       { self.$field:ident }
    )*) => {$(
        // SAFETY: `HasWork` below hands out the work of the `$field` field, whose type the
        // compiler checks to be `TrackedDelayedWork<$work_type, $id>`.
        unsafe impl$(<$($generics)+>)?
            $crate::workqueue::HasTrackedDelayedWork<$work_type $(, $id)?> for $self {}

        $crate::workqueue::impl_has_work_in_field!(
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

// SAFETY: As for `Arc`, inside the reference-counted object.
unsafe impl<T, const ID: u64> RawTrackedDelayedWorkItem<ID> for ARef<T> where
    T: AlwaysRefCounted + WorkItem<ID, Pointer = Self> + HasTrackedDelayedWork<T, ID>
{
}

/// Arms the tracked item whose work is `work` on `wq` and links it into `registry`.
///
/// Returns `false` (and changes nothing) if the item was already pending.
///
/// # Safety
///
/// `work` must be the work of a live tracked item, `wq` a live queue whose registry is
/// `registry`, and `registry` must stay in place until it is emptied.
pub(crate) unsafe fn arm(
    registry: &Registry,
    wq: *mut bindings::workqueue_struct,
    cpu: c_int,
    work: *mut bindings::work_struct,
    delay: Jiffies,
) -> bool {
    // SAFETY: By the caller's promise `work` belongs to a live tracked item.
    let tracked = unsafe { &*Tracked::from_work(work) };
    let lock = TrackGuard::lock();
    // SAFETY: The item's `delayed_work` is initialised with `delayed_work_timer_fn` and `wq`
    // is live. Under the lock, its work function cannot unlink it before it is linked below.
    let armed = unsafe { bindings::queue_delayed_work_on(cpu, wq, tracked.dwork.get(), delay) };
    if armed {
        registry.push(&tracked.link, &lock);
    }
    armed
}

/// Re-arms the tracked item whose work is `work` on `wq` after `delay`: cancels a pending
/// instance, queues it again and links it into `registry`. Returns whether the queue took the
/// caller's owner, and whether an instance was cancelled (whose owner the caller then holds).
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
    let lock = TrackGuard::lock();
    // SAFETY: `work` is inside the item's `delayed_work`; `wq` is live.
    let (queued, cancelled) = unsafe {
        cancel_then_queue(work, |dwork| {
            bindings::queue_delayed_work_on(cpu, wq, dwork, delay)
        })
    };
    if cancelled {
        // That instance is gone; its owner is the caller's.
        tracked.link.unlink(&lock);
    }
    if queued {
        registry.push(&tracked.link, &lock);
    }
    (queued, cancelled)
}

/// Unlinks every item of `registry`, cancels it and releases its owner if the cancel took an
/// instance; returns how many were released. Instances that have started are left for the
/// queue's destroy, which waits for them.
pub(crate) fn cancel_armed(registry: &Registry) -> usize {
    const BATCH: usize = 32;
    let mut released = 0;
    loop {
        let mut batch = [ptr::null_mut::<bindings::work_struct>(); BATCH];
        let mut n = 0;
        let more = {
            let lock = TrackGuard::lock();
            while n < BATCH {
                let Some(link) = registry.pop(&lock) else {
                    break;
                };
                // SAFETY: A linked item is alive (see the module documentation), and the lock
                // is still held.
                let tracked = unsafe { &*Tracked::from_link(link) };
                // SAFETY: The `delayed_work` is initialised; cancelling (without waiting for a
                // run) is allowed in atomic context. It takes an armed, in-flight or queued
                // instance, and fails only for one that has started.
                if unsafe { bindings::cancel_delayed_work(tracked.dwork.get()) } {
                    batch[n] = tracked.work();
                    n += 1;
                }
            }
            !registry.is_empty(&lock)
        };
        // Owners are dropped without the lock: a destructor may take other locks.
        for &work in &batch[..n] {
            // SAFETY: We cancelled this pending instance, so the owner is ours and keeps the
            // item alive until `release` drops it.
            unsafe {
                let release = (*Tracked::from_work(work)).release;
                release(work);
            }
        }
        released += n;
        if !more {
            return released;
        }
    }
}
