// SPDX-License-Identifier: GPL-2.0

//! Work items: a `work_struct` embedded in a Rust struct, and the pointer kinds that own it
//! while it is queued.
//!
//! C header: [`include/linux/workqueue.h`](srctree/include/linux/workqueue.h)

use core::{
    marker::PhantomData,
    ptr::NonNull, //
};

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
        Disabled,
        ItemWork,
        Wait, //
    },
    helpers,
};

/// Creates a [`Work`] initialiser with a lockdep class of its own for this call site.
///
/// The optional name is what lockdep reports; it defaults to `file:line` of the call.
///
/// # Examples
///
/// ```
/// use crate::workqueue::{
///     impl_has_work,
///     new_work,
///     Work,
///     WorkItem, //
/// };
/// use kernel::sync::Arc;
///
/// #[pin_data]
/// struct Job {
///     #[pin]
///     work: Work<Job>,
/// }
///
/// impl_has_work! {
///     impl HasWork<Self> for Job { self.work }
/// }
///
/// impl WorkItem for Job {
///     type Pointer = Arc<Job>;
///
///     fn run(_this: Arc<Job>) {}
/// }
///
/// let job = Arc::pin_init(pin_init!(Job { work <- new_work!("Job::work") }), GFP_KERNEL)?;
/// assert!(!job.work.is_pending());
/// # Ok::<(), Error>(())
/// ```
// The library is built into the driver's crate, where its macros are crate-visible, not
// exported; its documentation shows them as the driver's crate sees them.
#[cfg_attr(doc, macro_export)]
// Driver API: a driver need not use every macro.
#[allow(unused_macros)]
macro_rules! new_work {
    ($($name:literal)?) => {
        $crate::workqueue_lib::Work::new(
            $crate::workqueue_lib::compat::wq_optional_name!($($name)?),
            ::kernel::static_lock_class!(),
        )
    };
}
pub(crate) use new_work;

/// A `struct work_struct` embedded in a `T`, which the work runs on.
///
/// `ID` tells apart several `Work` fields of one struct; each needs its own [`HasWork`] and
/// [`WorkItem`] implementation with that `ID`.
///
/// `Work<T, ID>` has exactly the size and alignment of `struct work_struct`: the Rust item
/// costs what the C item costs.
///
/// # Invariants
///
/// `work` was initialised by [`Work::new`], with `T::Pointer::run` as its function.
///
/// # Examples
///
/// See [`new_work!`] and the [module documentation](crate::workqueue).
#[pin_data]
#[repr(transparent)]
pub struct Work<T: ?Sized, const ID: u64 = 0> {
    #[pin]
    work: Opaque<bindings::work_struct>,
    _item: PhantomData<T>,
}

// SAFETY: A `work_struct` is used from whichever thread queues, runs or cancels it; the C side
// synchronises every access. `Work` holds no `T`, so `T` needs no bound.
unsafe impl<T: ?Sized, const ID: u64> Send for Work<T, ID> {}

// SAFETY: Every operation through `&Work` goes to the C workqueue code, which is thread-safe.
unsafe impl<T: ?Sized, const ID: u64> Sync for Work<T, ID> {}

const _: () = {
    assert!(size_of::<Work<()>>() == size_of::<bindings::work_struct>());
    assert!(align_of::<Work<()>>() == align_of::<bindings::work_struct>());
};

impl<T: ?Sized, const ID: u64> Work<T, ID> {
    /// Creates an initialiser for a work item that runs `T::run` with the item's pointer.
    ///
    /// Prefer [`new_work!`], which provides a name and a lockdep class for the call site.
    #[inline]
    pub fn new(name: &'static CStr, key: ClassKey) -> impl PinInit<Self>
    where
        T: WorkItem<ID>,
    {
        pin_init!(Self {
            work <- Opaque::ffi_init(|slot| {
                // SAFETY: `slot` is valid for writes and pinned. `T::Pointer::run` may be the
                // function of this `work_struct` by the contract of `WorkItemPointer`, and the
                // name and key are `'static`.
                // INVARIANT: The work is initialised with `T::Pointer::run`.
                unsafe {
                    helpers::wq_rs_init_work(
                        slot,
                        Some(T::Pointer::run),
                        compat::cstr_ptr(name),
                        compat::class_key_ptr(key),
                    )
                }
            }),
            _item: PhantomData,
        })
    }

    /// Returns the `work_struct` inside the `Work` that `ptr` points at.
    ///
    /// # Safety
    ///
    /// `ptr` must point at a valid `Work<T, ID>`.
    #[inline]
    pub unsafe fn raw_get(ptr: *const Self) -> *mut bindings::work_struct {
        // SAFETY: The caller promises `ptr` is valid, so projecting to a field is in bounds.
        compat::opaque_ptr(unsafe { &raw const (*ptr).work })
    }

    /// Returns the raw `work_struct`.
    #[inline]
    pub fn as_raw(&self) -> *mut bindings::work_struct {
        compat::opaque_ptr(&self.work)
    }

    /// Returns whether the item is queued (or its delay is running), that is, pending.
    ///
    /// The answer can be stale by the time the caller looks at it.
    #[inline]
    pub fn is_pending(&self) -> bool {
        // SAFETY: The `work_struct` is initialised by the type invariants.
        unsafe { helpers::wq_rs_work_pending(self.as_raw()) }
    }
}

impl<T, const ID: u64> Work<T, ID>
where
    T: WorkItem<ID>,
    T::Pointer: WorkItemReclaim<ID>,
{
    /// Cancels the item if it is queued, and returns the owner the queue held for it.
    ///
    /// Waits for a running instance to finish: when it returns, the item is neither pending
    /// nor running (until queued again). `None` means nothing was pending. It may sleep.
    /// Called from the item's own `run`, it waits for itself, forever (lockdep reports it in
    /// debug kernels).
    ///
    /// "Running" is C's: the instance queued last. C keeps an item from running twice at once
    /// on one queue, not across queues: if an instance still runs on queue A when the item is
    /// queued on queue B, a cancel (or flush) afterwards waits only for B's. Queue an item on
    /// one queue at a time, or flush A's first, if that matters.
    ///
    /// While it runs, C holds the item's PENDING bit for a moment, and disables the item
    /// until the running instance is done: an enqueue of the item on another CPU meanwhile is
    /// refused, and hands its pointer back.
    ///
    /// A `Pin<KBox<T>>` item is not cancelled this way in practice: while it is queued the
    /// queue owns the box, so no one else holds a reference to call `cancel` with. Share the
    /// item (`Arc`, `ARef`) if it must be cancellable.
    ///
    /// # Examples
    ///
    /// ```
    /// use crate::workqueue::{
    ///     impl_has_work,
    ///     new_work,
    ///     Builder,
    ///     Work,
    ///     WorkItem, //
    /// };
    /// use core::sync::atomic::{
    ///     AtomicBool,
    ///     Ordering, //
    /// };
    /// use kernel::sync::Arc;
    ///
    /// #[pin_data]
    /// struct Task {
    ///     go: AtomicBool,
    ///     #[pin]
    ///     work: Work<Task>,
    /// }
    ///
    /// impl_has_work! {
    ///     impl HasWork<Self> for Task { self.work }
    /// }
    ///
    /// impl WorkItem for Task {
    ///     type Pointer = Arc<Task>;
    ///
    ///     fn run(this: Arc<Task>) {
    ///         // Holds the queue until told to go.
    ///         while !this.go.load(Ordering::Acquire) {
    ///             core::hint::spin_loop();
    ///         }
    ///     }
    /// }
    ///
    /// let q = Builder::ordered().build(c"cancel-example")?;
    /// let new_task = || Arc::pin_init(
    ///     pin_init!(Task { go: AtomicBool::new(false), work <- new_work!() }),
    ///     GFP_KERNEL,
    /// );
    /// let (first, second) = (new_task()?, new_task()?);
    /// assert!(q.enqueue(first.clone()).is_ok());
    /// assert!(q.enqueue(second.clone()).is_ok());
    /// // `second` waits behind `first` on the ordered queue: cancel it, get the queue's `Arc`.
    /// let owner = second.work.cancel();
    /// assert!(owner.is_some());
    /// first.go.store(true, Ordering::Release);
    /// // After the run, there is nothing to cancel.
    /// q.flush();
    /// assert!(first.work.cancel().is_none());
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn cancel(&self) -> Option<T::Pointer> {
        // SAFETY: Cancelling may sleep, which `cancel` documents.
        unsafe { self.control().cancel(Wait::ForRunning) }
    }

    /// Cancels the item if it is queued, and returns the owner the queue held for it, without
    /// waiting for a running instance: `cancel_work()`.
    ///
    /// Usable where sleeping is not: with a spinlock held, in a timer or in a hard-IRQ
    /// handler. It spins only while another CPU holds the item's PENDING bit with interrupts
    /// off (queueing it, or in C's own cancel), which is short and waits for nothing else.
    /// `Some` means it took a queued instance, which will not run for that queueing; `None`
    /// means nothing was queued, and an instance may still be running (or about to start: C
    /// clears PENDING just before the run).
    ///
    /// The owner comes back in the caller's context. If it is the last reference, dropping it
    /// there runs the item's destructor and frees it there, so an item whose destructor
    /// sleeps must be kept alive (or its owner sent on) in atomic context; on PREEMPT_RT, where
    /// even `kfree()` may not be called in hard-IRQ context or under a raw spinlock, do not
    /// drop a last owner there at all.
    ///
    /// # Examples
    ///
    /// ```
    /// use crate::workqueue::{
    ///     impl_has_work,
    ///     new_work,
    ///     Builder,
    ///     Work,
    ///     WorkItem, //
    /// };
    /// use core::sync::atomic::{
    ///     AtomicBool,
    ///     Ordering, //
    /// };
    /// use kernel::{
    ///     new_spinlock,
    ///     sync::Arc, //
    /// };
    ///
    /// #[pin_data]
    /// struct Fence {
    ///     #[pin]
    ///     signal: Work<Fence>,
    /// }
    ///
    /// impl_has_work! {
    ///     impl HasWork<Self> for Fence { self.signal }
    /// }
    ///
    /// impl WorkItem for Fence {
    ///     type Pointer = Arc<Fence>;
    ///
    ///     fn run(_this: Arc<Fence>) {}
    /// }
    ///
    /// // An ordered queue kept busy, so that the fence's work waits behind the blocker.
    /// let q = Builder::ordered().build(c"cancel-nowait-example")?;
    /// let go = Arc::new(AtomicBool::new(false), GFP_KERNEL)?;
    /// let blocker = go.clone();
    /// q.try_spawn(GFP_KERNEL, move || {
    ///     while !blocker.load(Ordering::Acquire) {
    ///         core::hint::spin_loop();
    ///     }
    /// })?;
    /// let fence = Arc::pin_init(pin_init!(Fence { signal <- new_work!() }), GFP_KERNEL)?;
    /// assert!(q.enqueue(fence.clone()).is_ok());
    /// let lock = Arc::pin_init(new_spinlock!(()), GFP_KERNEL)?;
    /// let owner = {
    ///     let _guard = lock.lock(); // Atomic context: `cancel` would sleep here.
    ///     fence.signal.cancel_nowait()
    /// };
    /// assert!(owner.is_some());
    /// go.store(true, Ordering::Release);
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn cancel_nowait(&self) -> Option<T::Pointer> {
        // SAFETY: `Wait::No`: any context.
        unsafe { self.control().cancel(Wait::No) }
    }

    /// The one implementation of cancel and disable, for this item's work.
    #[inline]
    fn control(&self) -> ItemWork<T::Pointer, ID> {
        // SAFETY: The work is initialised (type invariants), a plain `work_struct`, valid
        // while `self` is, and only `T::Pointer`'s `__enqueue` queues it (through `T`'s
        // `HasWork` field).
        unsafe { ItemWork::new(self.as_raw(), false) }
    }

    /// Disables the item: until the returned guard is dropped, queueing it is refused and
    /// hands the pointer back. A queued instance is cancelled (its owner is returned with the
    /// guard) and a running one waited for. It may sleep; called from the item's own `run`,
    /// it waits for itself, forever.
    ///
    /// Disabling nests, and each guard undoes exactly its own disable, so an item is never
    /// enabled more often than it was disabled. To leave an item disabled for good (on unbind,
    /// say), consume the guard with [`Disabled::forever`].
    ///
    /// The guard is refused with `EBUSY` (the item is then cancelled as by `cancel`, and not
    /// disabled) if the item's disable count would exceed 32,768: C counts at most 65,535, and
    /// the library keeps the rest for the disables that cancels and disables hold while they
    /// wait, so that every guard stands for a disable that C counted (see [`Disabled`]). The
    /// count includes those passing disables, so a guard can be refused with fewer guards
    /// held, while tens of thousands of tasks cancel the item at once.
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
    /// struct Poll {
    ///     #[pin]
    ///     work: Work<Poll>,
    /// }
    ///
    /// impl_has_work! {
    ///     impl HasWork<Self> for Poll { self.work }
    /// }
    ///
    /// impl WorkItem for Poll {
    ///     type Pointer = Arc<Poll>;
    ///
    ///     fn run(_this: Arc<Poll>) {}
    /// }
    ///
    /// let p = Arc::pin_init(pin_init!(Poll { work <- new_work!() }), GFP_KERNEL)?;
    /// let (owner, disabled) = p.work.disable();
    /// let disabled = disabled?;
    /// assert!(owner.is_none()); // Nothing was queued.
    /// assert!(system().enqueue(p.clone()).is_err()); // Refused: the `Arc` comes back.
    /// assert!(disabled.enable());
    /// assert!(system().enqueue(p.clone()).is_ok());
    /// # Ok::<(), Error>(())
    /// ```
    ///
    /// The guard borrows the item, so it cannot enable an item that is gone, nor another one:
    ///
    /// ```compile_fail,E0597
    /// # use crate::workqueue::{impl_has_work, new_work, Work, WorkItem};
    /// # use kernel::sync::Arc;
    /// # #[pin_data]
    /// # struct Poll {
    /// #     #[pin]
    /// #     work: Work<Poll>,
    /// # }
    /// # impl_has_work! { impl HasWork<Self> for Poll { self.work } }
    /// # impl WorkItem for Poll {
    /// #     type Pointer = Arc<Poll>;
    /// #     fn run(_this: Arc<Poll>) {}
    /// # }
    /// let disabled = {
    ///     let p = Arc::pin_init(pin_init!(Poll { work <- new_work!() }), GFP_KERNEL)?;
    ///     p.work.disable().1?
    /// }; // `p` is dropped here while the guard still borrows it.
    /// disabled.enable();
    /// # Ok::<(), Error>(())
    /// ```
    pub fn disable(&self) -> (Option<T::Pointer>, Result<Disabled<'_>>) {
        // SAFETY: The work stays valid while `self` is borrowed, which the guard is; this may
        // sleep, as documented.
        unsafe { self.control().disable(Wait::ForRunning) }
    }

    /// Disables the item as [`Work::disable`] does, without waiting for a running instance:
    /// `disable_work()`. Usable in any context, as [`Work::cancel_nowait`] is; the owner of a
    /// queued instance comes back in the caller's context.
    pub fn disable_nowait(&self) -> (Option<T::Pointer>, Result<Disabled<'_>>) {
        // SAFETY: As in `disable`; `Wait::No` may be used in any context.
        unsafe { self.control().disable(Wait::No) }
    }
}

impl<T: ?Sized, const ID: u64> Work<T, ID> {
    /// Waits for the last queued instance of the item to finish running.
    ///
    /// Returns whether there was one to wait for (an instance may also finish just before
    /// the flush looks). It may sleep; called from the item's own `run`, it waits for itself,
    /// forever. An earlier instance still running on another queue is not waited for (see
    /// [`Work::cancel`]).
    pub fn flush(&self) -> bool {
        // SAFETY: The work is initialised by the type invariants, a plain `work_struct`; this
        // may sleep, as documented.
        unsafe { control::flush(self.as_raw(), false) }
    }
}

/// Declares that a struct holds a [`Work<T, ID>`] field.
///
/// # Safety
///
/// `raw_get_work` and `work_container_of` must be inverses: the first returns the address of
/// the same `Work<T, ID>` field for every call with the same `ptr`, and the second, given
/// that field's address, returns the address of the struct that holds it. Use
/// [`impl_has_work!`], which writes them from the field name.
pub unsafe trait HasWork<T, const ID: u64 = 0> {
    /// Returns the `Work` field of the struct that `ptr` points at.
    ///
    /// # Safety
    ///
    /// `ptr` must point at a valid `Self`.
    unsafe fn raw_get_work(ptr: *mut Self) -> *mut Work<T, ID>;

    /// Returns the struct that holds the `Work` field that `ptr` points at.
    ///
    /// # Safety
    ///
    /// `ptr` must point at the `Work<T, ID>` field of a valid `Self`.
    unsafe fn work_container_of(ptr: *mut Work<T, ID>) -> *mut Self;
}

/// Declares that the [`Work`] of [`HasWork`] may be queued at once on any queue: it is a plain
/// [`Work`] or the work of a [`DelayedWork`](super::DelayedWork), not of a
/// [`TrackedDelayedWork`](super::TrackedDelayedWork), which only an owned queue may queue
/// (it keeps track of where it is armed). [`impl_has_work!`] and
/// [`impl_has_delayed_work!`](super::impl_has_delayed_work) implement it.
///
/// # Safety
///
/// The `Work<T, ID>` of `HasWork` must not be inside a `TrackedDelayedWork`.
pub unsafe trait HasUntrackedWork<T, const ID: u64 = 0>: HasWork<T, ID> {}

/// Implements [`HasWork`] for a struct from the name of its [`Work`] field.
///
/// # Examples
///
/// One struct with two work fields, told apart by their `ID`:
///
/// ```
/// use crate::workqueue::{
///     impl_has_work,
///     HasWork,
///     Work, //
/// };
///
/// struct Device {
///     reset: Work<Device, 1>,
///     poll: Work<Device, 2>,
/// }
///
/// impl_has_work! {
///     impl HasWork<Device, 1> for Device { self.reset }
///     impl HasWork<Device, 2> for Device { self.poll }
/// }
///
/// fn offset_of_poll(dev: *mut Device) -> usize {
///     // SAFETY: Only addresses are computed; nothing is dereferenced for real.
///     let work = unsafe { <Device as HasWork<Device, 2>>::raw_get_work(dev) };
///     work as usize - dev as usize
/// }
/// let dev = core::mem::MaybeUninit::<Device>::uninit();
/// assert_eq!(offset_of_poll(dev.as_ptr().cast_mut()), core::mem::offset_of!(Device, poll));
/// ```
// The library is built into the driver's crate, where its macros are crate-visible, not
// exported; its documentation shows them as the driver's crate sees them.
#[cfg_attr(doc, macro_export)]
// Driver API: a driver need not use every macro.
#[allow(unused_macros)]
macro_rules! impl_has_work {
    ($(impl$({$($generics:tt)*})?
       HasWork<$work_type:ty $(, $id:tt)?>
       for $self:ty
       { self.$field:ident }
    )*) => {$(
        // SAFETY: The field is a plain `Work`, which may be queued on any queue.
        unsafe impl$(<$($generics)+>)? $crate::workqueue_lib::HasUntrackedWork<$work_type $(, $id)?>
            for $self {}

        // SAFETY: Both functions use the same field, whose type is checked by the compiler to
        // be `Work<$work_type, $id>`, so they are inverses.
        unsafe impl$(<$($generics)+>)? $crate::workqueue_lib::HasWork<$work_type $(, $id)?>
            for $self
        {
            #[inline]
            unsafe fn raw_get_work(
                ptr: *mut Self,
            ) -> *mut $crate::workqueue_lib::Work<$work_type $(, $id)?> {
                // SAFETY: The caller promises `ptr` points at a valid `Self`.
                unsafe { &raw mut (*ptr).$field }
            }

            #[inline]
            unsafe fn work_container_of(
                ptr: *mut $crate::workqueue_lib::Work<$work_type $(, $id)?>,
            ) -> *mut Self {
                // SAFETY: The caller promises `ptr` is the `$field` field of a valid `Self`.
                unsafe { $crate::workqueue_lib::compat::wq_container_of!(ptr, Self, $field) }
            }
        }
    )*};
}
pub(crate) use impl_has_work;

/// Implements [`HasWork`] for `$self` through its field `$field` of type `$holder<..>`, a
/// type that holds a [`Work`]: `$holder::raw_as_work` goes from the field to its work, and
/// `$holder::from_work` back. The shared body of [`impl_has_delayed_work!`] and
/// [`impl_has_tracked_delayed_work!`](super::impl_has_tracked_delayed_work).
#[doc(hidden)]
// Used by the other macros, which a driver need not use.
#[allow(unused_macros)]
macro_rules! impl_has_work_in_field {
    ([$($generics:tt)*] $work_type:ty, [$($id:tt)?], $self:ty, $field:ident, $holder:ident) => {
        // SAFETY: Both functions go through the same field, whose type the compiler checks to
        // be `$holder<$work_type, $id>`, and `$holder`'s conversions, the second undoing the
        // first: they are inverses.
        unsafe impl<$($generics)*> $crate::workqueue_lib::HasWork<$work_type $(, $id)?> for $self {
            #[inline]
            unsafe fn raw_get_work(
                ptr: *mut Self,
            ) -> *mut $crate::workqueue_lib::Work<$work_type $(, $id)?> {
                // SAFETY: The caller promises `ptr` points at a valid `Self`.
                let holder = unsafe { &raw mut (*ptr).$field };
                // SAFETY: `holder` points at a valid `$holder`.
                unsafe { $crate::workqueue_lib::$holder::raw_as_work(holder) }
            }

            #[inline]
            unsafe fn work_container_of(
                ptr: *mut $crate::workqueue_lib::Work<$work_type $(, $id)?>,
            ) -> *mut Self {
                // SAFETY: The caller promises `ptr` is the work of the `$field` field of a
                // valid `Self`.
                let holder = unsafe { $crate::workqueue_lib::$holder::from_work(ptr) };
                // SAFETY: As above: `holder` is the `$field` field of that `Self`.
                unsafe { $crate::workqueue_lib::compat::wq_container_of!(holder, Self, $field) }
            }
        }
    };
}
pub(crate) use impl_has_work_in_field;

/// A struct that runs as a work item, owned by `Self::Pointer` while it is queued.
///
/// # Examples
///
/// See the [module documentation](crate::workqueue).
pub trait WorkItem<const ID: u64 = 0> {
    /// The pointer that owns the item while it is queued and is handed to [`WorkItem::run`].
    type Pointer: WorkItemPointer<ID>;

    /// Runs the work, with the ownership the queue held.
    fn run(this: Self::Pointer);
}

/// A pointer kind that can own a queued work item.
///
/// # Safety
///
/// [`WorkItemPointer::run`] may only be used as the function of `work_struct`s that were
/// queued through this type's [`RawWorkItem::__enqueue`], and must then take back the
/// ownership that `__enqueue` gave away.
pub unsafe trait WorkItemPointer<const ID: u64 = 0>: RawWorkItem<ID> {
    /// The C work function: rebuilds the pointer and calls [`WorkItem::run`].
    ///
    /// # Safety
    ///
    /// `ptr` must be a `work_struct` queued by [`RawWorkItem::__enqueue`] of this type, whose
    /// ownership has not been taken back yet.
    unsafe extern "C" fn run(ptr: *mut bindings::work_struct);
}

/// A pointer kind whose ownership can be taken back from a queued `work_struct` without
/// running the item: what `run` does before calling [`WorkItem::run`], and what cancelling a
/// pending item does instead.
///
/// # Safety
///
/// [`WorkItemReclaim::reclaim`] must rebuild exactly the owner that [`RawWorkItem::__enqueue`]
/// gave away for that `work_struct`.
pub unsafe trait WorkItemReclaim<const ID: u64 = 0>: WorkItemPointer<ID> + Sized {
    /// Takes back the ownership a queue held for `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` must be a `work_struct` queued by [`RawWorkItem::__enqueue`] of this type whose
    /// ownership nobody else takes back: the caller has it, because the item ran (the work
    /// function was called) or because it cancelled the pending item.
    unsafe fn reclaim(ptr: *mut bindings::work_struct) -> Self;
}

/// A value that can be queued on a workqueue.
///
/// # Safety
///
/// [`RawWorkItem::__enqueue`] must give `queue_work_on` a pointer that stays valid for the
/// duration of the call and, if it returns `true`, until the work function runs (or the item
/// is cancelled and its ownership taken back). When it returns `false` nothing was queued
/// and the value must come back in `EnqueueOutput`. It must not sleep: the `*_on` functions
/// call it with preemption off, to hold the CPU they checked online.
pub unsafe trait RawWorkItem<const ID: u64> {
    /// What enqueueing returns: `Err(pointer)` when the item was already pending or is
    /// disabled.
    type EnqueueOutput;

    /// Gives up the ownership of `self` to a queue through `queue_work_on`.
    ///
    /// # Safety
    ///
    /// `queue_work_on` must return `true` only if it queued the `work_struct` (or armed its
    /// timer), `false` only if it queued nothing (the item was pending or disabled); it must
    /// not call the work function itself.
    unsafe fn __enqueue<F>(self, queue_work_on: F) -> Self::EnqueueOutput
    where
        F: FnOnce(*mut bindings::work_struct) -> bool;
}

/// A work item that may be queued at once on any queue (see [`HasUntrackedWork`]): what
/// [`Queue::enqueue`](super::Queue::enqueue) takes.
///
/// # Safety
///
/// The `work_struct` that [`RawWorkItem::__enqueue`] passes on must not be the work of a
/// `TrackedDelayedWork`.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot be queued directly on a queue",
    note = "a `TrackedDelayedWork` item is queued only by an `OwnedQueue`, which tracks it: use \
            `OwnedQueue::enqueue_delayed`, with `Delay::ZERO` to queue it at once"
)]
pub unsafe trait RawUntrackedWorkItem<const ID: u64>: RawWorkItem<ID> {}

// SAFETY: `HasUntrackedWork` keeps the work out of a `TrackedDelayedWork`.
unsafe impl<T, const ID: u64> RawUntrackedWorkItem<ID> for Arc<T> where
    T: WorkItem<ID, Pointer = Self> + HasUntrackedWork<T, ID>
{
}

// SAFETY: As for `Arc`.
unsafe impl<T, const ID: u64> RawUntrackedWorkItem<ID> for Pin<KBox<T>> where
    T: WorkItem<ID, Pointer = Self> + HasUntrackedWork<T, ID>
{
}

// SAFETY: As for `Arc`.
unsafe impl<T, const ID: u64> RawUntrackedWorkItem<ID> for ARef<T> where
    T: AlwaysRefCounted + WorkItem<ID, Pointer = Self> + HasUntrackedWork<T, ID>
{
}

/// Returns the `T` whose `Work<T, ID>` field is the `work_struct` at `ptr`.
///
/// # Safety
///
/// `ptr` must be the `work_struct` of the `Work<T, ID>` field of a valid `T`.
#[inline]
unsafe fn item_of<T: HasWork<T, ID>, const ID: u64>(ptr: *mut bindings::work_struct) -> *mut T {
    // CAST: `Work<T, ID>` is transparent over `work_struct`.
    // SAFETY: By the caller's promise `ptr` is that field.
    unsafe { T::work_container_of(ptr.cast::<Work<T, ID>>()) }
}

// SAFETY: `run` is the work function of `Work<T, ID>` fields only (set in `Work::new` through
// `T::Pointer = Arc<T>`) and takes back the `Arc` through `reclaim`.
unsafe impl<T, const ID: u64> WorkItemPointer<ID> for Arc<T>
where
    T: WorkItem<ID, Pointer = Self> + HasWork<T, ID>,
{
    #[inline]
    unsafe extern "C" fn run(ptr: *mut bindings::work_struct) {
        // SAFETY: The caller promises `ptr` was queued by `__enqueue` and hands its ownership
        // to us, exactly once.
        T::run(unsafe { Self::reclaim(ptr) })
    }
}

// SAFETY: `__enqueue` turned the `Arc` into the raw pointer to its `T`, whose `Work<T, ID>`
// field it queued; `reclaim` goes back from that field to the same `Arc`.
unsafe impl<T, const ID: u64> WorkItemReclaim<ID> for Arc<T>
where
    T: WorkItem<ID, Pointer = Self> + HasWork<T, ID>,
{
    #[inline]
    unsafe fn reclaim(ptr: *mut bindings::work_struct) -> Self {
        // SAFETY: `ptr` is the `Work<T, ID>` field of the `T` that `Arc::into_raw` returned in
        // `__enqueue`, whose reference the caller owns now.
        unsafe { Arc::from_raw(item_of::<T, ID>(ptr)) }
    }
}

// SAFETY: The `work_struct` lives in the `Arc`'s allocation, kept alive by the reference that
// `into_raw` leaks until `run` (or the `Err` path here) takes it back.
unsafe impl<T, const ID: u64> RawWorkItem<ID> for Arc<T>
where
    T: WorkItem<ID, Pointer = Self> + HasWork<T, ID>,
{
    type EnqueueOutput = Result<(), Self>;

    #[inline]
    unsafe fn __enqueue<F>(self, queue_work_on: F) -> Self::EnqueueOutput
    where
        F: FnOnce(*mut bindings::work_struct) -> bool,
    {
        let item = Arc::into_raw(self).cast_mut();
        // SAFETY: `item` points at a live `T`.
        let work = unsafe { Work::raw_get(T::raw_get_work(item)) };
        if queue_work_on(work) {
            Ok(())
        } else {
            // SAFETY: Nothing was queued, so the reference is still ours.
            Err(unsafe { Arc::from_raw(item) })
        }
    }
}

// SAFETY: As for `Arc`: `run` is only the function of `Work<T, ID>` fields of boxed `T`s and
// takes back the box through `reclaim`.
unsafe impl<T, const ID: u64> WorkItemPointer<ID> for Pin<KBox<T>>
where
    T: WorkItem<ID, Pointer = Self> + HasWork<T, ID>,
{
    #[inline]
    unsafe extern "C" fn run(ptr: *mut bindings::work_struct) {
        // SAFETY: As for `Arc`: the ownership is ours, exactly once.
        T::run(unsafe { Self::reclaim(ptr) })
    }
}

// SAFETY: `__enqueue` leaked the box as the raw pointer to its `T`; `reclaim` rebuilds it.
unsafe impl<T, const ID: u64> WorkItemReclaim<ID> for Pin<KBox<T>>
where
    T: WorkItem<ID, Pointer = Self> + HasWork<T, ID>,
{
    #[inline]
    unsafe fn reclaim(ptr: *mut bindings::work_struct) -> Self {
        // SAFETY: `ptr` is the `Work<T, ID>` field of the `T` that `KBox::into_raw` returned
        // in `__enqueue`, owned by the caller now.
        let boxed = unsafe { KBox::from_raw(item_of::<T, ID>(ptr)) };
        // SAFETY: The box was pinned before `__enqueue` and its contents never moved.
        unsafe { Pin::new_unchecked(boxed) }
    }
}

// SAFETY: The box is leaked into the queue until `run` (or a cancel) rebuilds it, so the
// `work_struct` stays valid; when nothing was queued the box comes back to the caller.
unsafe impl<T, const ID: u64> RawWorkItem<ID> for Pin<KBox<T>>
where
    T: WorkItem<ID, Pointer = Self> + HasWork<T, ID>,
{
    type EnqueueOutput = Result<(), Self>;

    #[inline]
    unsafe fn __enqueue<F>(self, queue_work_on: F) -> Self::EnqueueOutput
    where
        F: FnOnce(*mut bindings::work_struct) -> bool,
    {
        // SAFETY: The box is turned into a raw pointer, not moved out of.
        let item = KBox::into_raw(unsafe { Pin::into_inner_unchecked(self) });
        // SAFETY: `item` points at a live `T`.
        let work = unsafe { Work::raw_get(T::raw_get_work(item)) };
        if queue_work_on(work) {
            Ok(())
        } else {
            // SAFETY: Nothing was queued, so `item` is still the leaked box, unmoved since it
            // was pinned.
            Err(unsafe { Pin::new_unchecked(KBox::from_raw(item)) })
        }
    }
}

// SAFETY: As for `Arc`, with the reference count of an `AlwaysRefCounted` object.
unsafe impl<T, const ID: u64> WorkItemPointer<ID> for ARef<T>
where
    T: AlwaysRefCounted + WorkItem<ID, Pointer = Self> + HasWork<T, ID>,
{
    #[inline]
    unsafe extern "C" fn run(ptr: *mut bindings::work_struct) {
        // SAFETY: As for `Arc`: the ownership is ours, exactly once.
        T::run(unsafe { Self::reclaim(ptr) })
    }
}

// SAFETY: `__enqueue` turned the `ARef` into the raw pointer to its `T`; `reclaim` rebuilds it.
unsafe impl<T, const ID: u64> WorkItemReclaim<ID> for ARef<T>
where
    T: AlwaysRefCounted + WorkItem<ID, Pointer = Self> + HasWork<T, ID>,
{
    #[inline]
    unsafe fn reclaim(ptr: *mut bindings::work_struct) -> Self {
        // SAFETY: `ptr` is the `Work<T, ID>` field of a valid `T`, so the result is non-null.
        let item = unsafe { NonNull::new_unchecked(item_of::<T, ID>(ptr)) };
        // SAFETY: `item` came from `ARef::into_raw` in `__enqueue`, owned by the caller now.
        unsafe { ARef::from_raw(item) }
    }
}

// SAFETY: The reference that `into_raw` leaks keeps the object, and so the `work_struct`,
// alive until `run` (or the `Err` path here) takes it back.
unsafe impl<T, const ID: u64> RawWorkItem<ID> for ARef<T>
where
    T: AlwaysRefCounted + WorkItem<ID, Pointer = Self> + HasWork<T, ID>,
{
    type EnqueueOutput = Result<(), Self>;

    #[inline]
    unsafe fn __enqueue<F>(self, queue_work_on: F) -> Self::EnqueueOutput
    where
        F: FnOnce(*mut bindings::work_struct) -> bool,
    {
        let item = ARef::into_raw(self);
        // SAFETY: `item` points at a live `T`.
        let work = unsafe { Work::raw_get(T::raw_get_work(item.as_ptr())) };
        if queue_work_on(work) {
            Ok(())
        } else {
            // SAFETY: Nothing was queued, so the reference is still ours.
            Err(unsafe { ARef::from_raw(item) })
        }
    }
}
