// SPDX-License-Identifier: GPL-2.0

//! Delayed work items: a `delayed_work` (a `work_struct` plus the timer that queues it)
//! embedded in a Rust struct.
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
        Disabled,
        ItemWork,
        Wait, //
    },
    helpers,
    HasUntrackedWork,
    RawUntrackedWorkItem,
    Work,
    WorkItem,
    WorkItemPointer,
    WorkItemReclaim, //
};

/// Creates a [`DelayedWork`] initialiser with lockdep classes of its own for this call site.
///
/// The work and its timer each get a class; the optional name (default `file:line`) names
/// the work, and the timer is named after it with a `_timer` suffix.
///
/// # Examples
///
/// ```
/// use crate::workqueue::{
///     impl_has_delayed_work,
///     new_delayed_work,
///     DelayedWork,
///     WorkItem, //
/// };
/// use kernel::sync::Arc;
///
/// #[pin_data]
/// struct Watchdog {
///     #[pin]
///     timeout: DelayedWork<Watchdog>,
/// }
///
/// impl_has_delayed_work! {
///     impl HasDelayedWork<Self> for Watchdog { self.timeout }
/// }
///
/// impl WorkItem for Watchdog {
///     type Pointer = Arc<Watchdog>;
///
///     fn run(_this: Arc<Watchdog>) {}
/// }
///
/// let dog = Arc::pin_init(
///     pin_init!(Watchdog { timeout <- new_delayed_work!("Watchdog::timeout") }),
///     GFP_KERNEL,
/// )?;
/// assert!(!dog.timeout.is_pending());
/// # Ok::<(), Error>(())
/// ```
// The library is built into the driver's crate, where its macros are crate-visible, not
// exported; its documentation shows them as the driver's crate sees them.
#[cfg_attr(doc, macro_export)]
// Driver API: a driver need not use every macro.
#[allow(unused_macros)]
macro_rules! new_delayed_work {
    () => {
        $crate::workqueue_lib::DelayedWork::new(
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
        $crate::workqueue_lib::DelayedWork::new(
            $crate::workqueue_lib::compat::wq_c_str!($name),
            ::kernel::static_lock_class!(),
            $crate::workqueue_lib::compat::wq_c_str!(::core::concat!($name, "_timer")),
            ::kernel::static_lock_class!(),
        )
    };
}
pub(crate) use new_delayed_work;

/// A `struct delayed_work` embedded in a `T`: work that is queued when its timer expires.
///
/// It is queued with [`Queue::enqueue_delayed`](super::Queue::enqueue_delayed); a plain
/// [`Queue::enqueue`](super::Queue::enqueue) queues it at once (a delay of zero). It has
/// exactly the size and alignment of `struct delayed_work`.
///
/// # Invariants
///
/// `dwork` was initialised by [`DelayedWork::new`]: its work function is `T::Pointer::run`
/// and its timer function is the C `delayed_work_timer_fn`.
///
/// # Examples
///
/// See [`new_delayed_work!`] and [`Queue::enqueue_delayed`](super::Queue::enqueue_delayed).
#[pin_data]
#[repr(transparent)]
pub struct DelayedWork<T: ?Sized, const ID: u64 = 0> {
    #[pin]
    dwork: Opaque<bindings::delayed_work>,
    _item: PhantomData<T>,
}

// SAFETY: As for `Work`: the C side synchronises every access, and no `T` is held.
unsafe impl<T: ?Sized, const ID: u64> Send for DelayedWork<T, ID> {}

// SAFETY: As for `Work`: every operation through `&DelayedWork` goes to thread-safe C code.
unsafe impl<T: ?Sized, const ID: u64> Sync for DelayedWork<T, ID> {}

const _: () = {
    assert!(size_of::<DelayedWork<()>>() == size_of::<bindings::delayed_work>());
    assert!(align_of::<DelayedWork<()>>() == align_of::<bindings::delayed_work>());
};

impl<T: ?Sized, const ID: u64> DelayedWork<T, ID> {
    /// Creates an initialiser for a delayed item that runs `T::run` with the item's pointer.
    ///
    /// Prefer [`new_delayed_work!`], which provides names and lockdep classes.
    #[inline]
    pub fn new(
        name: &'static CStr,
        key: ClassKey,
        timer_name: &'static CStr,
        timer_key: ClassKey,
    ) -> impl PinInit<Self>
    where
        T: WorkItem<ID>,
    {
        pin_init!(Self {
            dwork <- Opaque::ffi_init(|slot| {
                // SAFETY: `slot` is valid for writes and pinned; `T::Pointer::run` may be the
                // work function by the contract of `WorkItemPointer`; names and keys are
                // `'static`. The helper sets `delayed_work_timer_fn` as the timer function.
                // INVARIANT: Both functions are set as the type invariants say.
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
            _item: PhantomData,
        })
    }

    /// Returns the `work_struct` inside the `DelayedWork` that `ptr` points at, as a `Work`.
    ///
    /// # Safety
    ///
    /// `ptr` must point at a valid `DelayedWork<T, ID>`.
    #[inline]
    pub unsafe fn raw_as_work(ptr: *const Self) -> *mut Work<T, ID> {
        // SAFETY: The caller promises `ptr` is valid, so projecting to fields is in bounds.
        let dwork = compat::opaque_ptr(unsafe { &raw const (*ptr).dwork });
        // CAST: `Work<T, ID>` is transparent over `work_struct`.
        // SAFETY: `dwork` is valid, so is its `work` field.
        unsafe { &raw mut (*dwork).work }.cast()
    }

    /// Returns the `DelayedWork` whose work is `work`.
    ///
    /// # Safety
    ///
    /// `work` must be the work of a valid `DelayedWork<T, ID>`.
    #[inline]
    pub unsafe fn from_work(work: *mut Work<T, ID>) -> *mut Self {
        // CAST: `Work` is transparent over `work_struct`.
        let work = work.cast::<bindings::work_struct>();
        // SAFETY: By the caller's promise `work` is the `work` field of a `delayed_work`.
        let dwork = unsafe { compat::wq_container_of!(work, bindings::delayed_work, work) };
        // CAST: `DelayedWork` is transparent over `delayed_work`.
        dwork.cast()
    }

    /// Returns the raw `delayed_work`.
    #[inline]
    pub fn as_raw(&self) -> *mut bindings::delayed_work {
        compat::opaque_ptr(&self.dwork)
    }

    /// Returns whether the item is pending: its timer is armed or it is queued.
    #[inline]
    pub fn is_pending(&self) -> bool {
        // SAFETY: The `delayed_work` is initialised by the type invariants.
        unsafe { helpers::wq_rs_work_pending(self.work_ptr()) }
    }
}

impl<T, const ID: u64> DelayedWork<T, ID>
where
    T: WorkItem<ID>,
    T::Pointer: WorkItemReclaim<ID>,
{
    /// Cancels the item if it is pending (its timer armed, or queued) and returns the owner
    /// the queue held for it; it never runs for that queueing.
    ///
    /// Like [`Work::cancel`](super::Work::cancel): waits for a running instance, may sleep,
    /// waits for itself forever if called from the item's own `run`, makes a concurrent
    /// enqueue of the item come back `Err` while it works, and a boxed item cannot be
    /// cancelled.
    ///
    /// # Examples
    ///
    /// ```
    /// use crate::workqueue::{
    ///     impl_has_delayed_work,
    ///     new_delayed_work,
    ///     system,
    ///     Delay,
    ///     DelayedWork,
    ///     WorkItem, //
    /// };
    /// use kernel::sync::Arc;
    ///
    /// #[pin_data]
    /// struct Reset {
    ///     #[pin]
    ///     dwork: DelayedWork<Reset>,
    /// }
    ///
    /// impl_has_delayed_work! {
    ///     impl HasDelayedWork<Self> for Reset { self.dwork }
    /// }
    ///
    /// impl WorkItem for Reset {
    ///     type Pointer = Arc<Reset>;
    ///
    ///     fn run(_this: Arc<Reset>) {}
    /// }
    ///
    /// let r = Arc::pin_init(pin_init!(Reset { dwork <- new_delayed_work!() }), GFP_KERNEL)?;
    /// assert!(system().enqueue_delayed(r.clone(), Delay::from_millis(10_000)).is_ok());
    /// // The timer is armed: cancelling returns the `Arc` the queue held.
    /// assert!(r.dwork.cancel().is_some());
    /// assert!(!r.dwork.is_pending());
    /// assert!(Arc::into_unique_or_drop(r).is_some());
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn cancel(&self) -> Option<T::Pointer> {
        // SAFETY: Cancelling may sleep, which `cancel` documents.
        unsafe { self.control().cancel(Wait::ForRunning) }
    }

    /// Cancels the item if it is pending (its timer armed, or queued) and returns the owner
    /// the queue held for it, without waiting for a running instance:
    /// `cancel_delayed_work()`. Usable in any context, with what the caller must know as for
    /// [`Work::cancel_nowait`](super::Work::cancel_nowait).
    #[inline]
    pub fn cancel_nowait(&self) -> Option<T::Pointer> {
        // SAFETY: `Wait::No`: any context.
        unsafe { self.control().cancel(Wait::No) }
    }

    /// Disables the item until the returned guard is dropped, cancelling a pending instance
    /// (whose owner is returned with the guard); see [`Work::disable`](super::Work::disable).
    ///
    /// # Examples
    ///
    /// ```
    /// use crate::workqueue::{
    ///     impl_has_delayed_work,
    ///     new_delayed_work,
    ///     system,
    ///     Delay,
    ///     DelayedWork,
    ///     WorkItem, //
    /// };
    /// use kernel::sync::Arc;
    ///
    /// #[pin_data]
    /// struct Heartbeat {
    ///     #[pin]
    ///     dwork: DelayedWork<Heartbeat>,
    /// }
    ///
    /// impl_has_delayed_work! {
    ///     impl HasDelayedWork<Self> for Heartbeat { self.dwork }
    /// }
    ///
    /// impl WorkItem for Heartbeat {
    ///     type Pointer = Arc<Heartbeat>;
    ///
    ///     fn run(_this: Arc<Heartbeat>) {}
    /// }
    ///
    /// let hb = Arc::pin_init(pin_init!(Heartbeat { dwork <- new_delayed_work!() }), GFP_KERNEL)?;
    /// assert!(system().enqueue_delayed(hb.clone(), Delay::from_millis(60_000)).is_ok());
    /// // Disabling cancels the armed instance and returns the queue's `Arc`.
    /// let (owner, disabled) = hb.dwork.disable();
    /// let disabled = disabled?;
    /// assert!(owner.is_some());
    /// assert!(system().enqueue_delayed(hb.clone(), Delay::from_millis(10)).is_err());
    /// drop(disabled);
    /// assert!(system().enqueue_delayed(hb.clone(), Delay::from_millis(60_000)).is_ok());
    /// assert!(hb.dwork.cancel().is_some());
    /// # Ok::<(), Error>(())
    /// ```
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
        // is; only `T::Pointer`'s `__enqueue` queues its work (through `T`'s field).
        unsafe { ItemWork::new(self.work_ptr(), true) }
    }
}

impl<T: ?Sized, const ID: u64> DelayedWork<T, ID> {
    #[inline]
    fn work_ptr(&self) -> *mut bindings::work_struct {
        // SAFETY: `dwork` is a valid `delayed_work`; this projects to a field.
        unsafe { &raw mut (*self.as_raw()).work }
    }

    /// Runs the item now if its timer is armed, then waits for it to finish.
    ///
    /// Returns whether there was an instance to wait for. It may sleep; called from the item's
    /// own `run`, it waits for itself, forever.
    pub fn flush(&self) -> bool {
        // SAFETY: The work is that of this initialised `delayed_work` (type invariants). It is
        // armed only on queues that live forever (`Queue::enqueue_delayed` takes
        // `&'static self`). This may sleep, as documented.
        unsafe { control::flush(self.work_ptr(), true) }
    }
}

/// Declares that the [`Work`] of [`HasWork`](super::HasWork) is the `work` of a [`DelayedWork`].
///
/// # Safety
///
/// The `Work<T, ID>` that [`HasWork::raw_get_work`](super::HasWork::raw_get_work) returns must be inside a
/// `DelayedWork<T, ID>`. Use [`impl_has_delayed_work!`].
pub unsafe trait HasDelayedWork<T, const ID: u64 = 0>: HasUntrackedWork<T, ID> {}

/// Implements [`HasDelayedWork`] (and [`HasWork`](super::HasWork)) from the name of a [`DelayedWork`] field.
///
/// # Examples
///
/// ```
/// use crate::workqueue::{
///     impl_has_delayed_work,
///     DelayedWork, //
/// };
///
/// struct Engine {
///     timeout: DelayedWork<Engine>,
/// }
///
/// impl_has_delayed_work! {
///     impl HasDelayedWork<Self> for Engine { self.timeout }
/// }
///
/// // Generic structs name their parameters in braces.
/// struct Retry<T> {
///     payload: T,
///     backoff: DelayedWork<Retry<T>>,
/// }
///
/// impl_has_delayed_work! {
///     impl{T} HasDelayedWork<Retry<T>> for Retry<T> { self.backoff }
/// }
/// ```
// The library is built into the driver's crate, where its macros are crate-visible, not
// exported; its documentation shows them as the driver's crate sees them.
#[cfg_attr(doc, macro_export)]
// Driver API: a driver need not use every macro.
#[allow(unused_macros)]
macro_rules! impl_has_delayed_work {
    ($(impl$({$($generics:tt)*})?
       HasDelayedWork<$work_type:ty $(, $id:tt)?>
       for $self:ty
       { self.$field:ident }
    )*) => {$(
        // SAFETY: `HasWork` below hands out the `work` of the `$field` field, whose type the
        // compiler checks to be `DelayedWork<$work_type, $id>`: not a tracked item.
        unsafe impl$(<$($generics)+>)?
            $crate::workqueue_lib::HasDelayedWork<$work_type $(, $id)?> for $self {}

        // SAFETY: As above.
        unsafe impl$(<$($generics)+>)?
            $crate::workqueue_lib::HasUntrackedWork<$work_type $(, $id)?> for $self {}

        $crate::workqueue_lib::impl_has_work_in_field!(
            [$($($generics)+)?] $work_type, [$($id)?], $self, $field, DelayedWork
        );
    )*};
}
pub(crate) use impl_has_delayed_work;

/// A work item whose `work_struct` is the `work` of a `delayed_work`.
///
/// # Safety
///
/// The `work_struct` that [`RawWorkItem::__enqueue`](super::RawWorkItem::__enqueue) passes on must be the `work` field of a
/// `delayed_work`, and the whole `delayed_work` must stay valid as long as the `work_struct`.
pub unsafe trait RawDelayedWorkItem<const ID: u64>: RawUntrackedWorkItem<ID> {}

// SAFETY: `HasDelayedWork` guarantees the `work_struct` sits in a `delayed_work` inside the
// same allocation, which the `Arc` keeps alive.
unsafe impl<T, const ID: u64> RawDelayedWorkItem<ID> for Arc<T> where
    T: WorkItem<ID, Pointer = Self> + HasDelayedWork<T, ID>
{
}

// SAFETY: As for `Arc`, inside the box's allocation.
unsafe impl<T, const ID: u64> RawDelayedWorkItem<ID> for Pin<KBox<T>> where
    T: WorkItem<ID, Pointer = Self> + HasDelayedWork<T, ID>
{
}

// SAFETY: As for `Arc`, inside the reference-counted object.
unsafe impl<T, const ID: u64> RawDelayedWorkItem<ID> for ARef<T> where
    T: AlwaysRefCounted + WorkItem<ID, Pointer = Self> + HasDelayedWork<T, ID>
{
}
