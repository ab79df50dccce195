// SPDX-License-Identifier: GPL-2.0

//! A borrowed workqueue and the operations that queue work on it.
//!
//! C header: [`include/linux/workqueue.h`](srctree/include/linux/workqueue.h)

use core::{
    marker::PhantomData,
    ops::Deref, //
};

use kernel::{
    alloc::{
        AllocError,
        Flags, //
    },
    bindings,
    ffi::c_int,
    prelude::*,
    time::Jiffies,
    types::Opaque, //
};

use super::{
    compat,
    control,
    helpers,
    impl_has_work,
    kind::{
        Any,
        Kind,
        Known,
        TimerOnCpu, //
    },
    rcu,
    Delay,
    RawDelayedWorkItem,
    RawRcuWorkItem,
    RawUntrackedWorkItem,
    Work,
    WorkItem,
    WorkItemReclaim, //
};

/// What a CPU given to an `*_on` function is used for.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum CpuUse {
    /// Queueing at once on a queue of kind `K`.
    Queue,
    /// Arming a timer on it.
    Timer,
}

/// Calls `f` with `cpu` (as a C `int`) and `w` if the CPU is valid for `what` on a queue of
/// kind `K` (see [`kind`](super::kind)); hands `w` back with `EINVAL` otherwise. The common
/// part of the `*_on` functions.
///
/// No CPU can go offline from the check until `f` returns: `f` runs with preemption off, so
/// it must not sleep (queueing and arming do not). What C then does with an item whose CPU
/// goes offline later is C's to honour, and [`kind`](super::kind) says what that is for each
/// kind.
pub(crate) fn on_cpu<K: Kind, W, R>(
    cpu: u32,
    what: CpuUse,
    w: W,
    f: impl FnOnce(c_int, W) -> R,
) -> Result<R, (Error, W)> {
    let _held = CpusHeld::new();
    match valid_cpu::<K>(cpu, what) {
        Ok(cpu) => Ok(f(cpu, w)),
        Err(e) => Err((e, w)),
    }
}

/// No online CPU goes offline while this lives: preemption is off on this CPU, and taking a
/// CPU down needs every online CPU to run `stop_machine()`'s thread.
struct CpusHeld {
    /// Preemption is enabled again on the CPU that disabled it.
    _not_send: PhantomData<*mut ()>,
}

impl CpusHeld {
    #[inline]
    fn new() -> Self {
        // SAFETY: Always allowed; the drop undoes it.
        unsafe { helpers::wq_rs_cpus_hold() };
        Self {
            _not_send: PhantomData,
        }
    }
}

impl Drop for CpusHeld {
    #[inline]
    fn drop(&mut self) {
        // SAFETY: Undoes the `wq_rs_cpus_hold()` of `new`, on the same CPU (not `Send`).
        unsafe { helpers::wq_rs_cpus_release() };
    }
}

/// Checks that `cpu` exists and, unless it is only a hint for queueing on this kind of queue,
/// that it is online: C warns about a timer armed on an offline CPU (`__queue_delayed_work()`),
/// which would not fire until the CPU came back, and a BH item queued for an offline CPU is
/// stranded there. The caller holds the CPUs online until it has queued.
fn valid_cpu<K: Kind>(cpu: u32, what: CpuUse) -> Result<c_int> {
    if cpu >= compat::nr_cpu_ids() {
        return Err(EINVAL);
    }
    let valid = if K::CPU_IS_A_HINT && what == CpuUse::Queue {
        // SAFETY: `cpu` is below `nr_cpu_ids`.
        unsafe { helpers::wq_rs_cpu_possible(cpu) }
    } else {
        // SAFETY: `cpu` is below `nr_cpu_ids`.
        unsafe { helpers::wq_rs_cpu_online(cpu) }
    };
    if !valid {
        return Err(EINVAL);
    }
    c_int::try_from(cpu).map_err(|_| EINVAL)
}

/// Lets the kernel choose the CPU (`WORK_CPU_UNBOUND`).
const ANY_CPU: c_int = bindings::wq_misc_consts_WORK_CPU_UNBOUND as c_int;

/// A kernel workqueue of kind `K`, borrowed: `&Queue<K>` is valid as long as the queue is.
///
/// The kernel's own queues are returned by [`system`](super::system()) and its siblings as
/// `&'static Queue<K>`, and an [`OwnedQueue<K>`](super::OwnedQueue) dereferences to
/// `Queue<K>`. The kind (see [`kind`](super::kind)) decides the lockdep class of
/// [`Queue::try_spawn`]'s closures and what a CPU number means to [`Queue::enqueue_on`]; plain
/// `Queue` is a queue of unknown kind ([`kind::Any`](super::kind::Any)), to which every typed
/// queue dereferences.
///
/// A queue that lives forever can also be seen as the kernel crate's
/// [`kernel::workqueue::Queue`], and any of those as a `Queue`, so a driver can mix both APIs.
/// Only a `'static` queue is handed out that way: the kernel crate arms delayed work on any
/// queue it is given, and an armed timer outlives a queue that is destroyed. An owned queue is
/// not `'static`, so it is refused:
///
/// ```compile_fail,E0597
/// use crate::workqueue::Builder;
///
/// let owned = Builder::unbound().build(c"not-static")?;
/// let _ = owned.as_kernel(); // Could arm a timer that outlives `owned`.
/// # Ok::<(), Error>(())
/// ```
///
/// # Invariants
///
/// The wrapped `workqueue_struct` is valid for as long as the `Queue` is borrowed, and is a
/// queue of kind `K`.
///
/// # Examples
///
/// ```
/// use crate::workqueue::{
///     kind,
///     system,
///     Queue, //
/// };
///
/// let ours: &'static Queue<kind::PerCpu> = system();
/// let theirs: &kernel::workqueue::Queue = ours.as_kernel();
/// let back: &Queue = theirs.into();
/// assert_eq!(back.as_raw(), ours.as_raw());
/// ```
#[repr(transparent)]
pub struct Queue<K = Any>(Opaque<bindings::workqueue_struct>, PhantomData<K>);

// SAFETY: A workqueue may be used from any thread; the C side synchronises every operation.
unsafe impl<K> Send for Queue<K> {}

// SAFETY: As above: every operation through `&Queue` is thread-safe in C.
unsafe impl<K> Sync for Queue<K> {}

impl<K: Known> Deref for Queue<K> {
    type Target = Queue;

    /// Forgets the kind: every queue is a queue of unknown kind.
    #[inline]
    fn deref(&self) -> &Queue {
        // SAFETY: The same workqueue, valid as long as `self`; any queue is of kind `Any`.
        unsafe { Queue::from_raw(self.as_raw()) }
    }
}

impl Queue {
    /// Borrows the C workqueue at `ptr`, of unknown kind.
    ///
    /// # Safety
    ///
    /// `ptr` must point at a live `workqueue_struct` that stays alive for `'a`.
    #[inline]
    pub unsafe fn from_raw<'a>(ptr: *const bindings::workqueue_struct) -> &'a Queue {
        // SAFETY: The caller's promise, and every queue is of kind `Any`.
        unsafe { Queue::from_raw_kind(ptr) }
    }
}

impl<K: Kind> Queue<K> {
    /// Borrows the C workqueue at `ptr`, of kind `K`.
    ///
    /// # Safety
    ///
    /// `ptr` must point at a live `workqueue_struct` of kind `K` that stays alive for `'a`.
    #[inline]
    pub unsafe fn from_raw_kind<'a>(ptr: *const bindings::workqueue_struct) -> &'a Queue<K> {
        // CAST: `Queue` is transparent over `workqueue_struct`.
        // SAFETY: The caller promises `ptr` is valid for `'a`.
        // INVARIANT: The same promise gives the type invariants.
        unsafe { &*ptr.cast::<Queue<K>>() }
    }

    /// Returns the C workqueue.
    #[inline]
    pub fn as_raw(&self) -> *mut bindings::workqueue_struct {
        compat::opaque_ptr(&self.0)
    }

    /// Returns this queue, which lives forever, as the kernel crate's
    /// [`kernel::workqueue::Queue`].
    #[inline]
    pub fn as_kernel(&'static self) -> &'static kernel::workqueue::Queue {
        // SAFETY: Same C object, valid forever (`'static`, type invariants), so that anything
        // the kernel crate does with it, delayed work included, is sound.
        unsafe { kernel::workqueue::Queue::from_raw(self.as_raw()) }
    }

    /// Queues `w`, handing its ownership to the queue until its `run` is called.
    ///
    /// A delayed item is queued at once. If the item was already pending, it is not queued
    /// again and the pointer comes back as `Err` (for a `Pin<KBox<_>>` that cannot happen: a
    /// box is the item's only owner, so an item still in a box is in no queue). It also
    /// comes back if the item is disabled, or, for a moment, while another CPU cancels,
    /// disables or enables it: C holds the item's PENDING bit while it does, and refuses the
    /// enqueue as if the item were pending.
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
        W: RawUntrackedWorkItem<ID> + Send + 'static,
    {
        self.enqueue_on_cpu(ANY_CPU, w)
    }

    /// Queues the RCU item `w` (see [`RcuWork`](super::RcuWork)) to run after an RCU grace
    /// period that begins after this call: `queue_rcu_work()`. If the item was already
    /// pending, the pointer comes back as `Err`.
    ///
    /// Only a queue that is never destroyed takes it here (`&'static self`): the RCU callback
    /// queues the item later, onto whatever it was given. An
    /// [`OwnedQueue`](super::OwnedQueue) has its own
    /// [`enqueue_rcu`](super::OwnedQueue::enqueue_rcu), whose drop waits for the callback.
    ///
    /// # Examples
    ///
    /// See [`RcuWork`](super::RcuWork).
    #[inline]
    pub fn enqueue_rcu<W, const ID: u64>(&'static self, w: W) -> W::EnqueueOutput
    where
        W: RawRcuWorkItem<ID> + Send + 'static,
    {
        // SAFETY: The queue lives forever.
        unsafe { rcu::enqueue_rcu(self.as_raw(), w) }
    }

    /// Queues an item of the kernel crate's `kernel::workqueue` at once on this queue, owned
    /// or not: what [`kernel::workqueue::Queue::enqueue`] does on the queues it can see. A
    /// type that implements the kernel crate's `WorkItem` (7.3's `drm::Device<T>`, say) can
    /// so run on the driver's own queue; the owned queue's drop waits for it like for any
    /// item queued on it.
    ///
    /// Only at once: a kernel-crate delayed item armed on an owned queue would leave a timer
    /// that the queue's drop knows nothing of, so there is no delayed form, and the library's
    /// delayed forms do not take kernel-crate items:
    ///
    /// ```compile_fail,E0277
    /// # use kernel::sync::Arc;
    /// # #[pin_data]
    /// # struct Probe {
    /// #     #[pin]
    /// #     work: kernel::workqueue::Work<Probe>,
    /// # }
    /// # kernel::impl_has_work! { impl HasWork<Self> for Probe { self.work } }
    /// # impl kernel::workqueue::WorkItem for Probe {
    /// #     type Pointer = Arc<Probe>;
    /// #     fn run(_this: Arc<Probe>) {}
    /// # }
    /// use crate::workqueue::{Builder, Delay};
    ///
    /// let q = Builder::unbound().build(c"no-kernel-timers")?;
    /// let probe = Arc::pin_init(
    ///     pin_init!(Probe { work <- kernel::new_work!("Probe::work") }),
    ///     GFP_KERNEL,
    /// )?;
    /// let _ = q.enqueue_delayed(probe, Delay::from_millis(10)); // A timer the drop cannot see.
    /// # Ok::<(), Error>(())
    /// ```
    ///
    /// # Examples
    ///
    /// ```
    /// use crate::workqueue::Builder;
    /// use core::sync::atomic::{
    ///     AtomicBool,
    ///     Ordering, //
    /// };
    /// use kernel::sync::Arc;
    ///
    /// // A type written against the kernel crate's API, not this library's.
    /// #[pin_data]
    /// struct Reset {
    ///     done: AtomicBool,
    ///     #[pin]
    ///     work: kernel::workqueue::Work<Reset>,
    /// }
    ///
    /// kernel::impl_has_work! {
    ///     impl HasWork<Self> for Reset { self.work }
    /// }
    ///
    /// impl kernel::workqueue::WorkItem for Reset {
    ///     type Pointer = Arc<Reset>;
    ///
    ///     fn run(this: Arc<Reset>) {
    ///         this.done.store(true, Ordering::Relaxed);
    ///     }
    /// }
    ///
    /// let q = Builder::ordered().build(c"kernel-crate-items")?;
    /// let reset = Arc::pin_init(
    ///     pin_init!(Reset { done: AtomicBool::new(false), work <- kernel::new_work!("Reset::work") }),
    ///     GFP_KERNEL,
    /// )?;
    /// assert!(q.enqueue_kernel(reset.clone()).is_ok());
    /// drop(q); // Waits for the run.
    /// assert!(reset.done.load(Ordering::Relaxed));
    /// assert!(Arc::into_unique_or_drop(reset).is_some());
    /// # Ok::<(), Error>(())
    /// ```
    #[inline]
    pub fn enqueue_kernel<W, const ID: u64>(&self, w: W) -> W::EnqueueOutput
    where
        W: kernel::workqueue::RawWorkItem<ID> + Send + 'static,
    {
        let queue = self.as_raw();
        // SAFETY: The closure returns `true` exactly when `queue_work_on` queued the work, and
        // `false` only when the work was already pending (or is disabled, which the kernel
        // crate's items cannot be through this library), as the kernel crate's
        // `RawWorkItem::__enqueue` requires; it never runs the work in place. The queue is
        // alive now, and stays alive while the item is queued: a `Queue` only exists for a
        // live workqueue, and an `OwnedQueue` is destroyed only after what is queued on it has
        // run. `W` is `Send + 'static`, so running it on a worker later is fine. This is the
        // body of the kernel crate's own `Queue::enqueue`.
        unsafe { w.__enqueue(move |work| bindings::queue_work_on(ANY_CPU, queue, work)) }
    }

    /// Queues `w` on CPU `cpu` (`WORK_CPU_UNBOUND` for any).
    #[inline]
    fn enqueue_on_cpu<W, const ID: u64>(&self, cpu: c_int, w: W) -> W::EnqueueOutput
    where
        W: RawUntrackedWorkItem<ID> + Send + 'static,
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
    /// the delay is not changed. An [`OwnedQueue`](super::OwnedQueue) has its own
    /// [`enqueue_delayed`](super::OwnedQueue::enqueue_delayed); the `Queue` it dereferences
    /// to is not `'static`, so it cannot be used here:
    ///
    /// ```compile_fail,E0597
    /// # use crate::workqueue::{impl_has_delayed_work, new_delayed_work, Builder, Delay, DelayedWork, Queue, WorkItem};
    /// # use kernel::sync::Arc;
    /// # #[pin_data]
    /// # struct Late {
    /// #     #[pin]
    /// #     dwork: DelayedWork<Late>,
    /// # }
    /// # impl_has_delayed_work! { impl HasDelayedWork<Self> for Late { self.dwork } }
    /// # impl WorkItem for Late {
    /// #     type Pointer = Arc<Late>;
    /// #     fn run(_this: Arc<Late>) {}
    /// # }
    /// let owned = Builder::unbound().build(c"short-lived")?;
    /// let late = Arc::pin_init(pin_init!(Late { dwork <- new_delayed_work!() }), GFP_KERNEL)?;
    /// let queue: &Queue = &owned;
    /// let _ = queue.enqueue_delayed(late, Delay::from_millis(10)); // `owned` is not 'static.
    /// ```
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
    /// use core::sync::atomic::{
    ///     AtomicBool,
    ///     Ordering, //
    /// };
    /// use kernel::sync::Arc;
    ///
    /// #[pin_data]
    /// struct Timeout {
    ///     fired: AtomicBool,
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
    ///         this.fired.store(true, Ordering::Release);
    ///     }
    /// }
    ///
    /// let t = Arc::pin_init(
    ///     pin_init!(Timeout { fired: AtomicBool::new(false), dwork <- new_delayed_work!() }),
    ///     GFP_KERNEL,
    /// )?;
    /// // The delay may be given in jiffies, in milliseconds or as a time span (see `Delay`).
    /// assert!(system().enqueue_delayed(t.clone(), Delay::from_millis(200)).is_ok());
    /// // While its timer is armed the item is pending, and a second enqueue hands it back.
    /// assert!(system().enqueue_delayed(t.clone(), Delay::from_millis(10)).is_err());
    /// // Flushing runs it now and waits for it.
    /// t.dwork.flush();
    /// assert!(t.fired.load(Ordering::Acquire));
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
        self.enqueue_delayed_on_cpu(ANY_CPU, w, delay.into().as_jiffies())
    }

    /// Queues `w` on CPU `cpu`; like [`Queue::enqueue`] otherwise.
    ///
    /// What the CPU means depends on the kind of queue (see [`kind`](super::kind)). On an
    /// unbound or ordered queue it is a hint, and any possible CPU is taken, online or not. On
    /// other queues, and on a queue of unknown kind, the CPU must be online. A CPU that does not
    /// exist, or is offline where it must be online, is refused with `EINVAL`, and the pointer
    /// comes back with the error. No CPU goes offline between the check and the queueing
    /// (preemption is off for both, which is why this never sleeps); if the CPU goes offline
    /// later, before the item ran, C runs it on another CPU, for every kind.
    ///
    /// # Examples
    ///
    /// ```
    /// use crate::workqueue::system;
    /// # use crate::workqueue::{impl_has_work, new_work, Work, WorkItem};
    /// # use kernel::sync::Arc;
    /// # #[pin_data]
    /// # struct Ping {
    /// #     #[pin]
    /// #     work: Work<Ping>,
    /// # }
    /// # impl_has_work! { impl HasWork<Self> for Ping { self.work } }
    /// # impl WorkItem for Ping {
    /// #     type Pointer = Arc<Ping>;
    /// #     fn run(_this: Arc<Ping>) {}
    /// # }
    /// let ping = Arc::pin_init(pin_init!(Ping { work <- new_work!() }), GFP_KERNEL)?;
    /// assert!(matches!(system().enqueue_on(0, ping.clone()), Ok(Ok(()))));
    /// // No such CPU: refused, and the `Arc` comes back with the error.
    /// let Err((err, back)) = system().enqueue_on(100_000, ping.clone()) else {
    ///     return Err(EINVAL);
    /// };
    /// assert_eq!(err, EINVAL);
    /// drop(back);
    /// system().flush();
    /// # Ok::<(), Error>(())
    /// ```
    pub fn enqueue_on<W, const ID: u64>(
        &self,
        cpu: u32,
        w: W,
    ) -> Result<W::EnqueueOutput, (Error, W)>
    where
        W: RawUntrackedWorkItem<ID> + Send + 'static,
    {
        on_cpu::<K, _, _>(cpu, CpuUse::Queue, w, |cpu, w| self.enqueue_on_cpu(cpu, w))
    }

    /// Re-arms the item of `w` to run after `delay` (the C `mod_delayed_work()`).
    ///
    /// A pending instance is cancelled and its owner returned as the first value; then `w`
    /// is queued with the new delay, and the second value says so as [`Queue::enqueue`]
    /// does. So a pending item gets the new delay, and an idle one is queued. Between the
    /// two steps the item is briefly idle: an enqueue by someone else in that window wins,
    /// and `w` comes back in `Err`. (The C call cannot be used as is: on a disabled item it
    /// queues nothing yet answers as if it had, which would lose `w`.)
    ///
    /// # Examples
    ///
    /// ```
    /// use crate::workqueue::system;
    /// # use crate::workqueue::{impl_has_delayed_work, new_delayed_work, Delay, DelayedWork, WorkItem};
    /// # use kernel::sync::Arc;
    /// # #[pin_data]
    /// # struct Watchdog {
    /// #     #[pin]
    /// #     dwork: DelayedWork<Watchdog>,
    /// # }
    /// # impl_has_delayed_work! { impl HasDelayedWork<Self> for Watchdog { self.dwork } }
    /// # impl WorkItem for Watchdog {
    /// #     type Pointer = Arc<Watchdog>;
    /// #     fn run(_this: Arc<Watchdog>) {}
    /// # }
    /// let dog = Arc::pin_init(pin_init!(Watchdog { dwork <- new_delayed_work!() }), GFP_KERNEL)?;
    /// // Idle: queued, nothing was pending.
    /// let (previous, queued) = system().mod_delayed(dog.clone(), Delay::from_millis(5_000));
    /// assert!(previous.is_none() && queued.is_ok());
    /// // Pending: pushed back, and the queue's previous `Arc` is returned.
    /// let (previous, queued) = system().mod_delayed(dog.clone(), Delay::from_millis(10_000));
    /// assert!(previous.is_some() && queued.is_ok());
    /// assert!(dog.dwork.cancel().is_some());
    /// # Ok::<(), Error>(())
    /// ```
    pub fn mod_delayed<W, const ID: u64>(
        &'static self,
        w: W,
        delay: impl Into<Delay>,
    ) -> (Option<W>, W::EnqueueOutput)
    where
        W: RawDelayedWorkItem<ID> + WorkItemReclaim<ID> + Send + 'static,
    {
        let queue = self.as_raw();
        let delay = delay.into().as_jiffies();
        // SAFETY: By `RawDelayedWorkItem` the work is inside a live `delayed_work`. The queueing
        // follows the cancel (an enqueue by someone else in between wins, as documented), and
        // the queue lives forever (`'static`), so its timer can never outlive it.
        unsafe {
            control::rearm_with(w, |work| {
                control::cancel_then_queue(work, |dwork| {
                    bindings::queue_delayed_work_on(ANY_CPU, queue, dwork, delay)
                })
            })
        }
    }

    /// Queues the delayed `w` on CPU `cpu` after `delay` jiffies.
    #[inline]
    fn enqueue_delayed_on_cpu<W, const ID: u64>(
        &'static self,
        cpu: c_int,
        w: W,
        delay: Jiffies,
    ) -> W::EnqueueOutput
    where
        W: RawDelayedWorkItem<ID> + Send + 'static,
    {
        let queue = self.as_raw();
        // SAFETY: `queue_delayed_work_on` returns `true` exactly when it armed or queued the
        // work and never runs it in place. By `RawDelayedWorkItem` the `work_struct` sits in a
        // `delayed_work` that is valid as long as the work. The queue lives forever
        // (`'static`), so the timer can never queue onto freed memory.
        unsafe {
            w.__enqueue(move |work| {
                bindings::queue_delayed_work_on(
                    cpu,
                    queue,
                    compat::wq_container_of!(work, bindings::delayed_work, work),
                    delay,
                )
            })
        }
    }

    /// Waits until every item queued on this queue before the call has finished.
    ///
    /// Items queued while it waits may or may not be waited for; delayed items whose timer
    /// is still armed are not. It sleeps; called from an item running on this queue, it waits
    /// for that item, forever (lockdep reports it in debug kernels).
    pub fn flush(&self) {
        // SAFETY: The queue is valid by the type invariants.
        unsafe { bindings::__flush_workqueue(self.as_raw()) }
    }
}

impl<K: Known> Queue<K> {
    /// Runs `func` on this queue, in a work item allocated with `flags`.
    ///
    /// If the allocation fails, `func` is dropped without running and `AllocError` returns.
    ///
    /// Only a queue whose kind the type tells has it: the closures of a BH queue run in
    /// softirq context and need a lockdep class of their own, which a plain `&Queue` (of unknown
    /// kind) cannot choose. Type the queue (for a system queue, take it from [`system`](super::system()) and its
    /// siblings), or use the kernel crate's `try_spawn` for the kernel crate's queues:
    ///
    /// ```compile_fail,E0599
    /// use crate::workqueue::{system_bh, Queue};
    ///
    /// let q: &Queue = system_bh(); // The kind is forgotten here.
    /// q.try_spawn(GFP_KERNEL, || {})?;
    /// # Ok::<(), Error>(())
    /// ```
    ///
    /// # Examples
    ///
    /// ```
    /// use crate::workqueue::system;
    /// use core::sync::atomic::{
    ///     AtomicBool,
    ///     Ordering, //
    /// };
    /// use kernel::sync::Arc;
    ///
    /// let done = Arc::new(AtomicBool::new(false), GFP_KERNEL)?;
    /// let signal = done.clone();
    /// let answer = KBox::new(42u32, GFP_KERNEL)?;
    /// system().try_spawn(GFP_KERNEL, move || {
    ///     // `answer` was moved into the closure.
    ///     signal.store(*answer == 42, Ordering::Release);
    /// })?;
    /// system().flush();
    /// assert!(done.load(Ordering::Acquire));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn try_spawn<T: 'static + Send + FnOnce()>(
        &self,
        flags: Flags,
        func: T,
    ) -> Result<(), AllocError> {
        // All closures share a lockdep class per context, and a class must run either in task
        // or in softirq context: closures for BH queues get their own. The kind is known from
        // the type, which is why a queue of unknown kind has no `try_spawn`.
        let (name, key) = if K::SOFTIRQ {
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
        // A new item that only this function has seen is neither pending nor disabled, so it
        // is queued; were it refused, the box (with `func`) would come back and be dropped.
        let _ = self.enqueue(item);
        Ok(())
    }
}

impl<K: TimerOnCpu> Queue<K> {
    /// Queues `w` after `delay`, with its timer on CPU `cpu`, which must be online; see
    /// [`Queue::enqueue_delayed`] and [`Queue::enqueue_on`].
    ///
    /// Offered for the kinds whose items still run if the CPU goes offline before the timer
    /// fires ([`TimerOnCpu`]): the timer then fires on another CPU, and C queues the item
    /// for the offline one, whose pool runs it elsewhere. Not for BH queues, where C would
    /// strand the item on the offline CPU (with a warning), and not for a queue of unknown
    /// kind, which may be one:
    ///
    /// ```compile_fail,E0599
    /// # use crate::workqueue::{impl_has_delayed_work, new_delayed_work, system_bh, Delay, DelayedWork, WorkItem};
    /// # use kernel::sync::Arc;
    /// # #[pin_data]
    /// # struct Late {
    /// #     #[pin]
    /// #     dwork: DelayedWork<Late>,
    /// # }
    /// # impl_has_delayed_work! { impl HasDelayedWork<Self> for Late { self.dwork } }
    /// # impl WorkItem for Late {
    /// #     type Pointer = Arc<Late>;
    /// #     fn run(_this: Arc<Late>) {}
    /// # }
    /// let late = Arc::pin_init(pin_init!(Late { dwork <- new_delayed_work!() }), GFP_KERNEL)?;
    /// let _ = system_bh().enqueue_delayed_on(0, late, Delay::from_millis(10));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn enqueue_delayed_on<W, const ID: u64>(
        &'static self,
        cpu: u32,
        w: W,
        delay: impl Into<Delay>,
    ) -> Result<W::EnqueueOutput, (Error, W)>
    where
        W: RawDelayedWorkItem<ID> + Send + 'static,
    {
        let delay = delay.into().as_jiffies();
        on_cpu::<K, _, _>(cpu, CpuUse::Timer, w, |cpu, w| {
            self.enqueue_delayed_on_cpu(cpu, w, delay)
        })
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
        // SAFETY: Only `func` is touched, which is not structurally pinned (no `#[pin]`): taking
        // it moves nothing that is. (Pin projections are not generated on every kernel.)
        let this = unsafe { Pin::get_unchecked_mut(this.as_mut()) };
        if let Some(func) = this.func.take() {
            func();
        }
    }
}
