// SPDX-License-Identifier: GPL-2.0

//! A borrowed workqueue and the operations that queue work on it.
//!
//! C header: [`include/linux/workqueue.h`](srctree/include/linux/workqueue.h)

use kernel::{
    alloc::{
        AllocError,
        Flags, //
    },
    bindings,
    ffi::c_int,
    prelude::*,
    types::Opaque, //
};

use super::{
    impl_has_work,
    owned,
    Delay,
    RawDelayedWorkItem,
    RawWorkItem,
    Work,
    WorkItem, //
};

/// Lets the kernel choose the CPU (`WORK_CPU_UNBOUND`).
const ANY_CPU: c_int = bindings::wq_misc_consts_WORK_CPU_UNBOUND as c_int;

/// A kernel workqueue, borrowed: `&Queue` is valid as long as the queue is.
///
/// The kernel's own queues are returned by [`system`](super::system) and its siblings as
/// `&'static Queue`. The same C object can be seen as the kernel crate's
/// [`kernel::workqueue::Queue`] and back, so a driver can mix both APIs.
///
/// # Invariants
///
/// The wrapped `workqueue_struct` is valid for as long as the `Queue` is borrowed.
///
/// # Examples
///
/// ```
/// use crate::workqueue::{
///     system,
///     Queue, //
/// };
///
/// let ours: &Queue = system();
/// let theirs: &kernel::workqueue::Queue = ours.as_kernel();
/// assert_eq!(<&Queue>::from(theirs).as_raw(), ours.as_raw());
/// ```
#[repr(transparent)]
pub struct Queue(Opaque<bindings::workqueue_struct>);

// SAFETY: A workqueue may be used from any thread; the C side synchronises every operation.
unsafe impl Send for Queue {}

// SAFETY: As above: every operation through `&Queue` is thread-safe in C.
unsafe impl Sync for Queue {}

impl Queue {
    /// Borrows the C workqueue at `ptr`.
    ///
    /// # Safety
    ///
    /// `ptr` must point at a live `workqueue_struct` that stays alive for `'a`.
    #[inline]
    pub unsafe fn from_raw<'a>(ptr: *const bindings::workqueue_struct) -> &'a Queue {
        // CAST: `Queue` is transparent over `workqueue_struct`.
        // SAFETY: The caller promises `ptr` is valid for `'a`.
        // INVARIANT: The same promise gives the type invariant.
        unsafe { &*ptr.cast::<Queue>() }
    }

    /// Returns the C workqueue.
    #[inline]
    pub fn as_raw(&self) -> *mut bindings::workqueue_struct {
        self.0.get()
    }

    /// Returns this queue as the kernel crate's [`kernel::workqueue::Queue`].
    #[inline]
    pub fn as_kernel(&self) -> &kernel::workqueue::Queue {
        // SAFETY: Same C object, valid for as long as `self` by the type invariants.
        unsafe { kernel::workqueue::Queue::from_raw(self.as_raw()) }
    }

    /// Queues `w`, handing its ownership to the queue until its `run` is called.
    ///
    /// A delayed item is queued at once. If the item was already pending, it is not queued
    /// again and the pointer comes back as `Err` (for a `Pin<KBox<_>>` that cannot happen: a
    /// box is the item's only owner, so an item still in a box is in no queue).
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
    /// use core::sync::atomic::{
    ///     AtomicU32,
    ///     Ordering, //
    /// };
    /// use kernel::sync::Arc;
    ///
    /// #[pin_data]
    /// struct Counter {
    ///     runs: AtomicU32,
    ///     #[pin]
    ///     work: Work<Counter>,
    /// }
    ///
    /// impl_has_work! {
    ///     impl HasWork<Self> for Counter { self.work }
    /// }
    ///
    /// impl WorkItem for Counter {
    ///     type Pointer = Arc<Counter>;
    ///
    ///     fn run(this: Arc<Counter>) {
    ///         this.runs.fetch_add(1, Ordering::Relaxed);
    ///     }
    /// }
    ///
    /// let c = Arc::pin_init(
    ///     pin_init!(Counter { runs: AtomicU32::new(0), work <- new_work!() }),
    ///     GFP_KERNEL,
    /// )?;
    /// assert!(system().enqueue(c.clone()).is_ok());
    /// system().flush();
    /// assert_eq!(c.runs.load(Ordering::Relaxed), 1);
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn enqueue<W, const ID: u64>(&self, w: W) -> W::EnqueueOutput
    where
        W: RawWorkItem<ID> + Send + 'static,
    {
        self.enqueue_on_cpu(ANY_CPU, w)
    }

    /// Queues `w` on CPU `cpu` (`WORK_CPU_UNBOUND` for any).
    #[inline]
    fn enqueue_on_cpu<W, const ID: u64>(&self, cpu: c_int, w: W) -> W::EnqueueOutput
    where
        W: RawWorkItem<ID> + Send + 'static,
    {
        let queue = self.as_raw();
        // SAFETY: `queue_work_on` returns `true` exactly when it queued the work and never runs
        // it in place. The queue is valid now by the type invariants, and stays valid while
        // the item is queued: a `Queue` only exists for a live workqueue, and one that can be
        // destroyed (an `OwnedQueue`) is drained before it is freed. `W` is `Send + 'static`,
        // so running it on a worker thread later is fine.
        unsafe { w.__enqueue(move |work| bindings::queue_work_on(cpu, queue, work)) }
    }

    /// Queues `w` after `delay` (jiffies, or a time span; see [`Delay`]).
    ///
    /// Only a queue that is never destroyed takes delayed work here (hence `&'static self`):
    /// an armed timer outlives whatever it was queued on, and `destroy_workqueue()` does not
    /// know about it. If the item was already pending, the pointer comes back as `Err` and
    /// the delay is not changed.
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
    /// use kernel::{
    ///     sync::{
    ///         Arc,
    ///         Completion, //
    ///     },
    ///     time::Delta, //
    /// };
    ///
    /// #[pin_data]
    /// struct Timeout {
    ///     #[pin]
    ///     fired: Completion,
    ///     #[pin]
    ///     dwork: DelayedWork<Timeout>,
    /// }
    ///
    /// impl_has_delayed_work! {
    ///     impl HasDelayedWork<Self> for Timeout { self.dwork }
    /// }
    ///
    /// impl WorkItem for Timeout {
    ///     type Pointer = Arc<Timeout>;
    ///
    ///     fn run(this: Arc<Timeout>) {
    ///         this.fired.complete_all();
    ///     }
    /// }
    ///
    /// let t = Arc::pin_init(
    ///     pin_init!(Timeout { fired <- Completion::new(), dwork <- new_delayed_work!() }),
    ///     GFP_KERNEL,
    /// )?;
    /// // The delay may be given in jiffies, in milliseconds or as a time span.
    /// assert!(system().enqueue_delayed(t.clone(), Delta::from_millis(10)).is_ok());
    /// // While its timer is armed the item is pending, and a second enqueue hands it back.
    /// assert!(system().enqueue_delayed(t.clone(), Delay::from_millis(10)).is_err());
    /// t.fired.wait_for_completion();
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn enqueue_delayed<W, const ID: u64>(
        &'static self,
        w: W,
        delay: impl Into<Delay>,
    ) -> W::EnqueueOutput
    where
        W: RawDelayedWorkItem<ID> + Send + 'static,
    {
        let queue = self.as_raw();
        let delay = delay.into().as_jiffies();
        // SAFETY: `queue_delayed_work_on` returns `true` exactly when it armed or queued the
        // work and never runs it in place. By `RawDelayedWorkItem` the `work_struct` sits in a
        // `delayed_work` that is valid as long as the work. The queue lives forever
        // (`'static`), so the timer can never queue onto freed memory.
        unsafe {
            w.__enqueue(move |work| {
                bindings::queue_delayed_work_on(
                    ANY_CPU,
                    queue,
                    kernel::container_of!(work, bindings::delayed_work, work),
                    delay,
                )
            })
        }
    }

    /// Runs `func` on this queue, in a work item allocated with `flags`.
    ///
    /// If the allocation fails, `func` is dropped without running and `AllocError` returns.
    ///
    /// # Examples
    ///
    /// ```
    /// use crate::workqueue::system;
    /// use kernel::sync::{
    ///     Arc,
    ///     Completion, //
    /// };
    ///
    /// let done = Arc::pin_init(Completion::new(), GFP_KERNEL)?;
    /// let signal = done.clone();
    /// let answer = KBox::new(42u32, GFP_KERNEL)?;
    /// system().try_spawn(GFP_KERNEL, move || {
    ///     // `answer` was moved into the closure.
    ///     if *answer == 42 {
    ///         signal.complete_all();
    ///     }
    /// })?;
    /// done.wait_for_completion();
    /// # Ok::<(), Error>(())
    /// ```
    pub fn try_spawn<T: 'static + Send + FnOnce()>(
        &self,
        flags: Flags,
        func: T,
    ) -> Result<(), AllocError> {
        // All closures share a lockdep class per context, and a class must run either in task
        // or in softirq context: closures for BH queues get their own.
        let (name, key) = if self.is_bh() {
            (c"Queue::try_spawn (BH)", kernel::static_lock_class!())
        } else {
            (c"Queue::try_spawn", kernel::static_lock_class!())
        };
        let item = KBox::pin_init(
            pin_init!(ClosureWork {
                work <- Work::new(name, key),
                func: Some(func),
            }),
            flags,
        )
        .map_err(|_| AllocError)?;
        self.enqueue(item);
        Ok(())
    }

    /// Returns whether the queue runs its items in softirq context: a system BH queue or an
    /// owned one built by [`Builder::bh`](super::Builder::bh).
    fn is_bh(&self) -> bool {
        let wq = self.as_raw();
        // SAFETY: Reads the addresses of the system queues, set at boot.
        let system_bh = unsafe { [bindings::system_bh_wq, bindings::system_bh_highpri_wq] };
        system_bh.contains(&wq) || owned::is_owned_bh(wq)
    }

    /// Waits until every item queued on this queue before the call has finished.
    ///
    /// Items queued while it waits may or may not be waited for; delayed items whose timer
    /// is still armed are not.
    pub fn flush(&self) {
        // SAFETY: The queue is valid by the type invariants.
        unsafe { bindings::__flush_workqueue(self.as_raw()) }
    }
}

impl<'a> From<&'a kernel::workqueue::Queue> for &'a Queue {
    #[inline]
    fn from(queue: &'a kernel::workqueue::Queue) -> Self {
        // CAST: Both types are transparent over `workqueue_struct`.
        let raw = core::ptr::from_ref(queue).cast::<bindings::workqueue_struct>();
        // SAFETY: `queue` is a live workqueue for `'a`.
        unsafe { Queue::from_raw(raw) }
    }
}

/// The work item behind [`Queue::try_spawn`]: a boxed closure.
#[pin_data]
struct ClosureWork<T> {
    #[pin]
    work: Work<ClosureWork<T>>,
    func: Option<T>,
}

impl_has_work! {
    impl{T} HasWork<Self> for ClosureWork<T> { self.work }
}

impl<T: FnOnce()> WorkItem for ClosureWork<T> {
    type Pointer = Pin<KBox<Self>>;

    fn run(mut this: Pin<KBox<Self>>) {
        if let Some(func) = this.as_mut().project().func.take() {
            func();
        }
    }
}
