// SPDX-License-Identifier: GPL-2.0

//! RCU work: an item queued only after an RCU grace period that begins after the queueing
//! (`queue_rcu_work()`), for the deferred free of objects that readers may still see.
//!
//! C header: [`include/linux/workqueue.h`](srctree/include/linux/workqueue.h)

use core::marker::PhantomData;

use kernel::{
    bindings,
    prelude::*,
    sync::Arc,
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
        ItemWork,
        Wait, //
    },
    helpers,
    HasWork,
    RawWorkItem,
    Work,
    WorkItem,
    WorkItemPointer,
    WorkItemReclaim, //
};

/// Creates an [`RcuWork`] initialiser with a lockdep class of its own for this call site.
///
/// # Examples
///
/// See [`RcuWork`].
// The library is built into the driver's crate, where its macros are crate-visible, not
// exported; its documentation shows them as the driver's crate sees them.
#[cfg_attr(doc, macro_export)]
// Driver API: a driver need not use every macro.
#[allow(unused_macros)]
macro_rules! new_rcu_work {
    ($($name:literal)?) => {
        $crate::workqueue_lib::RcuWork::new(
            $crate::workqueue_lib::compat::wq_optional_name!($($name)?),
            ::kernel::static_lock_class!(),
        )
    };
}
pub(crate) use new_rcu_work;

/// A `struct rcu_work` embedded in a `T`: queued with
/// [`Queue::enqueue_rcu`](super::Queue::enqueue_rcu) or
/// [`OwnedQueue::enqueue_rcu`](super::OwnedQueue::enqueue_rcu), it runs `T::run` once an RCU
/// grace period that began after the queueing has ended: every RCU reader that could see what
/// the item frees has left.
///
/// It has the same ownership as every item: the queue holds the owner from the queueing to
/// the run, [`RcuWork::cancel`] hands it back, and an owned queue's drop waits for the grace
/// period and the run (it never leaks the owner). No API of this library disables it (C
/// forbids queueing a disabled one), and it can only be queued through RCU.
///
/// # Invariants
///
/// `rwork.work` was initialised by [`RcuWork::new`], with `T::Pointer::run` as its function,
/// and is only ever queued by `queue_rcu_work()`.
///
/// # Examples
///
/// ```
/// use crate::workqueue::{
///     impl_has_rcu_work,
///     new_rcu_work,
///     system_unbound,
///     RcuWork,
///     WorkItem, //
/// };
/// use core::sync::atomic::{
///     AtomicBool,
///     Ordering, //
/// };
/// use kernel::sync::Arc;
///
/// #[pin_data]
/// struct Retired {
///     freed: AtomicBool,
///     #[pin]
///     rwork: RcuWork<Retired>,
/// }
///
/// impl_has_rcu_work! {
///     impl HasRcuWork<Self> for Retired { self.rwork }
/// }
///
/// impl WorkItem for Retired {
///     type Pointer = Arc<Retired>;
///
///     fn run(this: Arc<Retired>) {
///         // No reader that began before the queueing can still see it.
///         this.freed.store(true, Ordering::Release);
///     }
/// }
///
/// let old = Arc::pin_init(
///     pin_init!(Retired { freed: AtomicBool::new(false), rwork <- new_rcu_work!() }),
///     GFP_KERNEL,
/// )?;
/// assert!(system_unbound().enqueue_rcu(old.clone()).is_ok());
/// // Waits for the grace period, then for the run.
/// assert!(old.rwork.flush());
/// assert!(old.freed.load(Ordering::Acquire));
/// # Ok::<(), Error>(())
/// ```
#[pin_data]
#[repr(transparent)]
pub struct RcuWork<T: ?Sized, const ID: u64 = 0> {
    #[pin]
    rwork: Opaque<bindings::rcu_work>,
    _item: PhantomData<T>,
}

// SAFETY: As for `Work`: the C side synchronises every access, and no `T` is held.
unsafe impl<T: ?Sized, const ID: u64> Send for RcuWork<T, ID> {}

// SAFETY: As for `Work`: every operation through `&RcuWork` goes to thread-safe C code.
unsafe impl<T: ?Sized, const ID: u64> Sync for RcuWork<T, ID> {}

impl<T: ?Sized, const ID: u64> RcuWork<T, ID> {
    /// Creates an initialiser for an RCU item that runs `T::run` with the item's pointer.
    /// Prefer [`new_rcu_work!`].
    #[inline]
    pub fn new(name: &'static CStr, key: ClassKey) -> impl PinInit<Self>
    where
        T: WorkItem<ID>,
    {
        pin_init!(Self {
            rwork <- Opaque::ffi_init(|slot: *mut bindings::rcu_work| {
                // SAFETY: `slot` is valid for writes and pinned; `T::Pointer::run` may be the
                // work function by the contract of `WorkItemPointer`; the name and key are
                // `'static`. `INIT_RCU_WORK()` is `INIT_WORK()` of the `work` field; the rest
                // is set by each queueing.
                // INVARIANT: The work function is set as the invariants say.
                unsafe {
                    helpers::wq_rs_init_work(
                        &raw mut (*slot).work,
                        Some(T::Pointer::run),
                        compat::cstr_ptr(name),
                        compat::class_key_ptr(key),
                    )
                }
            }),
            _item: PhantomData,
        })
    }

    /// Returns the `work_struct` inside the `RcuWork` that `ptr` points at, as a `Work`.
    ///
    /// # Safety
    ///
    /// `ptr` must point at a valid `RcuWork<T, ID>`.
    #[inline]
    pub unsafe fn raw_as_work(ptr: *const Self) -> *mut Work<T, ID> {
        // SAFETY: The caller promises `ptr` is valid, so projecting to fields is in bounds.
        let rwork = compat::opaque_ptr(unsafe { &raw const (*ptr).rwork });
        // CAST: `Work<T, ID>` is transparent over `work_struct`.
        // SAFETY: `rwork` is valid, so is its `work` field.
        unsafe { &raw mut (*rwork).work }.cast()
    }

    /// Returns the `RcuWork` whose work is `work`.
    ///
    /// # Safety
    ///
    /// `work` must be the work of a valid `RcuWork<T, ID>`.
    #[inline]
    pub unsafe fn from_work(work: *mut Work<T, ID>) -> *mut Self {
        // CAST: `Work` is transparent over `work_struct`.
        let work = work.cast::<bindings::work_struct>();
        // SAFETY: By the caller's promise `work` is the `work` field of an `rcu_work`.
        let rwork = unsafe { compat::wq_container_of!(work, bindings::rcu_work, work) };
        // CAST: `RcuWork` is transparent over `rcu_work`.
        rwork.cast()
    }

    #[inline]
    fn work_ptr(&self) -> *mut bindings::work_struct {
        // SAFETY: `rwork` is a valid `rcu_work`; this projects to a field.
        unsafe { &raw mut (*compat::opaque_ptr(&self.rwork)).work }
    }

    /// Returns whether the item is pending: waiting for its grace period, or queued.
    #[inline]
    pub fn is_pending(&self) -> bool {
        // SAFETY: The work is initialised by the type invariants.
        unsafe { helpers::wq_rs_work_pending(self.work_ptr()) }
    }

    /// Waits for the grace period of a pending instance, if any (`rcu_barrier()`), then for
    /// its run: `flush_rcu_work()`. Returns whether there was an instance to wait for. It may
    /// sleep; called from the item's own `run`, it waits for itself, forever.
    pub fn flush(&self) -> bool {
        // SAFETY: The `rcu_work` is initialised (type invariants). The queue its pending
        // instance will be queued on is alive and not draining until the RCU callback has
        // queued it: a `'static` queue, or an owned one, whose drop and drain wait for every
        // RCU callback (`rcu_barrier()`) before they destroy or drain it. This may sleep.
        unsafe { bindings::flush_rcu_work(compat::opaque_ptr(&self.rwork)) }
    }
}

impl<T, const ID: u64> RcuWork<T, ID>
where
    T: WorkItem<ID>,
    T::Pointer: WorkItemReclaim<ID>,
{
    /// Cancels the item if it is still queued and returns the owner the queue held for it; it
    /// never runs for that queueing. Waits for a running instance: when it returns, the item
    /// is neither pending nor running (until queued again). It may sleep.
    ///
    /// C cannot take an instance that waits for its grace period (`queue_rcu_work()`'s
    /// callback owns it until it queues it), so a pending item's cancel first waits for every
    /// RCU callback (`rcu_barrier()`), after which the instance is on its queue, and takes it
    /// from there if it has not started: on an idle queue it usually has, and then the cancel
    /// waits for its run and returns `None`. Either way the owner is handed back exactly once,
    /// by the cancel or by the run.
    ///
    /// If another thread queues the item again between the barrier and the cancel, the cancel
    /// spins in C until that grace period has ended. With preemptible RCU (every kernel this
    /// library is tested on) the spin ends; with non-preemptible RCU (`PREEMPT_NONE` without
    /// `PREEMPT_COUNT`) it could hold the grace period up: do not race `cancel` with
    /// `enqueue_rcu` of the same item there.
    ///
    /// # Examples
    ///
    /// ```
    /// use crate::workqueue::system_unbound;
    /// # use crate::workqueue::{impl_has_rcu_work, new_rcu_work, RcuWork, WorkItem};
    /// # use kernel::sync::Arc;
    /// # #[pin_data]
    /// # struct Retired {
    /// #     #[pin]
    /// #     rwork: RcuWork<Retired>,
    /// # }
    /// # impl_has_rcu_work! { impl HasRcuWork<Self> for Retired { self.rwork } }
    /// # impl WorkItem for Retired {
    /// #     type Pointer = Arc<Retired>;
    /// #     fn run(_this: Arc<Retired>) {}
    /// # }
    /// let old = Arc::pin_init(pin_init!(Retired { rwork <- new_rcu_work!() }), GFP_KERNEL)?;
    /// assert!(system_unbound().enqueue_rcu(old.clone()).is_ok());
    /// // Most likely still in its grace period: the cancel waits it out, then takes the
    /// // instance off the queue (or, had it started, waits for its run).
    /// let owner = old.rwork.cancel();
    /// assert!(!old.rwork.is_pending());
    /// drop(owner);
    /// assert!(Arc::into_unique_or_drop(old).is_some());
    /// # Ok::<(), Error>(())
    /// ```
    pub fn cancel(&self) -> Option<T::Pointer> {
        if self.is_pending() {
            // SAFETY: Process context (this may sleep, as documented).
            unsafe { bindings::rcu_barrier() };
        }
        // Not `cancel_work_sync()`: it disables the item while it waits, and a concurrent
        // `queue_rcu_work()` of a disabled item warns (C: "rcu_work can't be canceled or
        // disabled"). `cancel_work()` only holds PENDING for a moment, during which a
        // concurrent queueing is refused, as every cancel makes it.
        // SAFETY: The work is initialised (type invariants), a plain `work_struct` to the
        // cancel, valid while `self` is, and only `T::Pointer`'s `__enqueue` queues it. An
        // instance queued again after the barrier and waiting for its grace period makes C
        // retry until its callback has queued it (`-EAGAIN`), a grace period at most.
        let owner =
            unsafe { ItemWork::<T::Pointer, ID>::new(self.work_ptr(), false).cancel(Wait::No) };
        // Then wait for a running instance, as every `cancel` does.
        // SAFETY: As above; flushing may sleep, as documented.
        unsafe { control::flush(self.work_ptr(), false) };
        owner
    }
}

/// Declares that the [`Work`] of [`HasWork`] is the `work` of an [`RcuWork`].
///
/// # Safety
///
/// The `Work<T, ID>` that [`HasWork::raw_get_work`] returns must be inside an
/// `RcuWork<T, ID>`. Use [`impl_has_rcu_work!`].
pub unsafe trait HasRcuWork<T, const ID: u64 = 0>: HasWork<T, ID> {}

/// Implements [`HasRcuWork`] (and [`HasWork`]) from the name of an [`RcuWork`] field.
///
/// # Examples
///
/// See [`RcuWork`].
// The library is built into the driver's crate, where its macros are crate-visible, not
// exported; its documentation shows them as the driver's crate sees them.
#[cfg_attr(doc, macro_export)]
// Driver API: a driver need not use every macro.
#[allow(unused_macros)]
macro_rules! impl_has_rcu_work {
    ($(impl$({$($generics:tt)*})?
       HasRcuWork<$work_type:ty $(, $id:tt)?>
       for $self:ty
       { self.$field:ident }
    )*) => {$(
        // SAFETY: `HasWork` below hands out the `work` of the `$field` field, whose type the
        // compiler checks to be `RcuWork<$work_type, $id>`.
        unsafe impl$(<$($generics)+>)?
            $crate::workqueue_lib::HasRcuWork<$work_type $(, $id)?> for $self {}

        $crate::workqueue_lib::impl_has_work_in_field!(
            [$($($generics)+)?] $work_type, [$($id)?], $self, $field, RcuWork
        );
    )*};
}
pub(crate) use impl_has_rcu_work;

/// A work item whose `work_struct` is the `work` of an `rcu_work`: what `enqueue_rcu` takes.
///
/// # Safety
///
/// The `work_struct` that [`RawWorkItem::__enqueue`] passes on must be the `work` field of an
/// `rcu_work` that stays valid as long as the `work_struct`.
pub unsafe trait RawRcuWorkItem<const ID: u64>: RawWorkItem<ID> {}

// SAFETY: `HasRcuWork` puts the work in an `RcuWork` inside the `Arc`.
unsafe impl<T, const ID: u64> RawRcuWorkItem<ID> for Arc<T> where
    T: WorkItem<ID, Pointer = Self> + HasRcuWork<T, ID>
{
}

// SAFETY: As for `Arc`, inside the box.
unsafe impl<T, const ID: u64> RawRcuWorkItem<ID> for Pin<KBox<T>> where
    T: WorkItem<ID, Pointer = Self> + HasRcuWork<T, ID>
{
}

// SAFETY: As for `Arc`, inside the reference-counted object.
unsafe impl<T, const ID: u64> RawRcuWorkItem<ID> for ARef<T> where
    T: AlwaysRefCounted + WorkItem<ID, Pointer = Self> + HasRcuWork<T, ID>
{
}

/// Queues the RCU item `w` on `wq`.
///
/// # Safety
///
/// `wq` must stay alive, and not be drained, until the RCU callback that the queueing sets up
/// has run and the item with it: it lives forever, or it is an owned queue whose drop and
/// drain wait for every RCU callback first.
#[inline]
pub(crate) unsafe fn enqueue_rcu<W, const ID: u64>(
    wq: *mut bindings::workqueue_struct,
    w: W,
) -> W::EnqueueOutput
where
    W: RawRcuWorkItem<ID> + Send + 'static,
{
    // SAFETY: `queue_rcu_work()` returns `true` exactly when it took the item (its callback
    // queues it after the grace period), `false` when it was pending; it never runs it in
    // place. An `RcuWork` is never disabled (no API of this library disables one, and its
    // `cancel` does not either). By `RawRcuWorkItem` the work is
    // that of a live `rcu_work`; the caller keeps `wq` alive and undrained until it is queued.
    // `W` is `Send + 'static`, so it may run on a worker later.
    unsafe {
        w.__enqueue(move |work| {
            bindings::queue_rcu_work(wq, compat::wq_container_of!(work, bindings::rcu_work, work))
        })
    }
}
