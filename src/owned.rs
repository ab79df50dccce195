// SPDX-License-Identifier: GPL-2.0

//! A workqueue that its owner creates and destroys.
//!
//! C header: [`include/linux/workqueue.h`](srctree/include/linux/workqueue.h)

use core::{
    cell::Cell,
    mem::offset_of,
    ops::Deref,
    ptr::NonNull,
    sync::atomic::{
        AtomicUsize,
        Ordering, //
    }, //
};

use kernel::{
    alloc::AllocError,
    bindings,
    ffi::c_int,
    prelude::*,
    time::Jiffies, //
};

/// Lets the kernel choose the CPU (`WORK_CPU_UNBOUND`).
const ANY_CPU: c_int = bindings::wq_misc_consts_WORK_CPU_UNBOUND as c_int;

use super::{
    queue,
    registry::{
        Link,
        Registry,
        TrackGuard, //
    },
    tracked::{
        self,
        RawTrackedDelayedWorkItem, //
    },
    Delay,
    Queue,
    WorkItemReclaim, //
};

/// The owned queues that run items in softirq context, and how many there are.
///
/// Lockdep gives each work-item class one context: task or softirq. The closures of
/// [`Queue::try_spawn`] share a class, so it picks a second one on BH queues, and needs to
/// know which queues those are: the system BH queues, and the owned ones listed here.
static BH_QUEUES: Registry = Registry::new();
static BH_QUEUE_COUNT: AtomicUsize = AtomicUsize::new(0);

/// Returns whether `wq` is an owned BH queue.
pub(crate) fn is_owned_bh(wq: *mut bindings::workqueue_struct) -> bool {
    if BH_QUEUE_COUNT.load(Ordering::Acquire) == 0 {
        return false;
    }
    BH_QUEUES.any(&TrackGuard::lock(), |link| {
        // SAFETY: Links in `BH_QUEUES` are the `bh_link` of live `OwnedInner`s (they leave the
        // registry before they are freed), and the lock is held.
        let inner = unsafe {
            &*link
                .byte_sub(offset_of!(OwnedInner, bh_link))
                .cast::<OwnedInner>()
        };
        inner.queue.as_ptr().cast() == wq
    })
}

/// What an [`OwnedQueue`] keeps at a fixed address: its registries' links point into it.
struct OwnedInner {
    queue: NonNull<Queue>,
    /// The delayed items armed on the queue.
    armed: Registry,
    /// In [`BH_QUEUES`] if the queue is a BH queue.
    bh_link: Link,
}

/// A workqueue owned by a driver, destroyed when it is dropped.
///
/// Created by a [`Builder`](super::Builder). It dereferences to [`Queue`] for everything that
/// queues work at once, and takes delayed work through [`OwnedQueue::enqueue_delayed`].
///
/// Dropping it **blocks** until every item queued on it has finished, including items
/// that those items queue on it again. Delayed items whose timer is still armed do not make
/// it wait out their delay: they are cancelled and their owners released (dropped) at once.
/// Once the drop returns, no item queued on this queue runs or refers to it.
///
/// Dropping it from one of its own work items waits for that item, forever. This cannot be
/// ruled out by types (a work item may hold the last reference to the state that owns the
/// queue), and a module cannot tell from C which queue the current worker serves. It is
/// *detected* in debug kernels: `destroy_workqueue()` flushes the queue under its lockdep
/// map, so lockdep reports "possible recursive locking" on `(wq_completion)<name>` before
/// the hang, and the hung-task detector reports the blocked worker after it. Drop the queue
/// from process context outside its own items: module exit, device unbind, or another
/// queue's item.
///
/// # Invariants
///
/// `inner.queue` is a live workqueue that only this `OwnedQueue` destroys. Every delayed item
/// armed on it through [`OwnedQueue::enqueue_delayed`] is linked into `inner.armed` until its
/// work function runs, it is cancelled, or the drop unlinks it (see
/// [`tracked`](super::tracked)). `inner.bh_link` is in `BH_QUEUES`
/// exactly when the queue is a BH queue. `inner` is boxed so it never moves.
///
/// # Examples
///
/// ```
/// use crate::workqueue::Builder;
///
/// let queue = Builder::unbound().max_active(4).build(c"example")?;
/// queue.try_spawn(GFP_KERNEL, || pr_info!("on an owned queue\n"))?;
/// drop(queue); // Waits for the closure.
/// # Ok::<(), Error>(())
/// ```
pub struct OwnedQueue {
    inner: KBox<OwnedInner>,
}

// SAFETY: The queue is usable from any thread, and the registries are only touched under their
// lock.
unsafe impl Send for OwnedQueue {}

// SAFETY: As above: every operation through `&OwnedQueue` is thread-safe.
unsafe impl Sync for OwnedQueue {}

impl OwnedQueue {
    /// Takes ownership of the C queue `wq`; `bh` says whether it is a BH queue.
    ///
    /// On allocation failure `wq` is destroyed and `AllocError` returned.
    ///
    /// # Safety
    ///
    /// `wq` must be a live workqueue that nobody else destroys or has queued anything on.
    pub(crate) unsafe fn from_raw(
        wq: NonNull<bindings::workqueue_struct>,
        bh: bool,
    ) -> Result<Self, AllocError> {
        let inner = OwnedInner {
            queue: wq.cast(),
            armed: Registry::new(),
            bh_link: Link::new(),
        };
        let Ok(inner) = KBox::new(inner, GFP_KERNEL) else {
            // SAFETY: The caller gave us the queue and it is still empty.
            unsafe { bindings::destroy_workqueue(wq.as_ptr()) };
            return Err(AllocError);
        };
        if bh {
            let lock = TrackGuard::lock();
            BH_QUEUES.push(&inner.bh_link, &lock);
            BH_QUEUE_COUNT.fetch_add(1, Ordering::Release);
        }
        // INVARIANT: The caller hands over the only right to destroy `wq`; nothing is armed;
        // the BH registration matches `bh`.
        Ok(Self { inner })
    }

    /// Queues the tracked delayed item `w` on this queue after `delay`.
    ///
    /// If the item was already pending, it is not queued again and the pointer comes back as
    /// `Err` (never for a `Pin<KBox<_>>`, the item's only owner). If this queue is dropped
    /// before the delay has passed, the item is cancelled and its owner dropped without
    /// waiting.
    ///
    /// Cost over [`Queue::enqueue_delayed`]: one global spinlock (interrupts off) around the
    /// C call and two pointer writes, and the same lock once when the item runs.
    ///
    /// Only [`TrackedDelayedWork`](super::TrackedDelayedWork) items can be armed here; a
    /// plain [`DelayedWork`](super::DelayedWork) has no link for the queue to find it by:
    ///
    /// ```compile_fail
    /// # use crate::workqueue::{impl_has_delayed_work, new_delayed_work, Builder, Delay, DelayedWork, WorkItem};
    /// # use kernel::sync::Arc;
    /// # #[pin_data]
    /// # struct Plain {
    /// #     #[pin]
    /// #     dwork: DelayedWork<Plain>,
    /// # }
    /// # impl_has_delayed_work! { impl HasDelayedWork<Self> for Plain { self.dwork } }
    /// # impl WorkItem for Plain {
    /// #     type Pointer = Arc<Plain>;
    /// #     fn run(_this: Arc<Plain>) {}
    /// # }
    /// let q = Builder::unbound().build(c"q")?;
    /// let p = Arc::pin_init(pin_init!(Plain { dwork <- new_delayed_work!() }), GFP_KERNEL)?;
    /// let _ = q.enqueue_delayed(p, Delay::from_millis(10));
    /// ```
    ///
    /// # Examples
    ///
    /// ```
    /// use crate::workqueue::{
    ///     impl_has_tracked_delayed_work,
    ///     new_tracked_delayed_work,
    ///     Builder,
    ///     Delay,
    ///     TrackedDelayedWork,
    ///     WorkItem, //
    /// };
    /// use core::sync::atomic::{
    ///     AtomicBool,
    ///     Ordering, //
    /// };
    /// use kernel::sync::Arc;
    ///
    /// #[pin_data]
    /// struct Watchdog {
    ///     fired: AtomicBool,
    ///     #[pin]
    ///     timeout: TrackedDelayedWork<Watchdog>,
    /// }
    ///
    /// impl_has_tracked_delayed_work! {
    ///     impl HasTrackedDelayedWork<Self> for Watchdog { self.timeout }
    /// }
    ///
    /// impl WorkItem for Watchdog {
    ///     type Pointer = Arc<Watchdog>;
    ///
    ///     fn run(this: Arc<Watchdog>) {
    ///         this.fired.store(true, Ordering::Relaxed);
    ///     }
    /// }
    ///
    /// let queue = Builder::ordered().build(c"watchdogs")?;
    /// let dog = Arc::pin_init(
    ///     pin_init!(Watchdog { fired: AtomicBool::new(false), timeout <- new_tracked_delayed_work!() }),
    ///     GFP_KERNEL,
    /// )?;
    /// assert!(queue.enqueue_delayed(dog.clone(), Delay::from_millis(60_000)).is_ok());
    /// // Dropping the queue does not wait a minute: the armed item is cancelled, and the
    /// // queue's reference to `dog` is dropped.
    /// drop(queue);
    /// assert!(!dog.fired.load(Ordering::Relaxed));
    /// assert!(Arc::into_unique_or_drop(dog).is_some());
    /// # Ok::<(), Error>(())
    /// ```
    pub fn enqueue_delayed<W, const ID: u64>(
        &self,
        w: W,
        delay: impl Into<Delay>,
    ) -> W::EnqueueOutput
    where
        W: RawTrackedDelayedWorkItem<ID> + Send + 'static,
    {
        self.arm_on(ANY_CPU, w, delay.into().as_jiffies())
    }

    /// Arms the tracked delayed item `w` on CPU `cpu`; see [`OwnedQueue::enqueue_delayed`]
    /// and, for the CPU, [`Queue::enqueue_on`].
    pub fn enqueue_delayed_on<W, const ID: u64>(
        &self,
        cpu: u32,
        w: W,
        delay: impl Into<Delay>,
    ) -> Result<W::EnqueueOutput, (Error, W)>
    where
        W: RawTrackedDelayedWorkItem<ID> + Send + 'static,
    {
        let delay = delay.into().as_jiffies();
        queue::on_online_cpu(cpu, w, |cpu, w| self.arm_on(cpu, w, delay))
    }

    /// Re-arms the tracked item of `w` on this queue after `delay`; see
    /// [`Queue::mod_delayed`] for what the two returned values mean. Both steps happen under
    /// the registry lock, so no other re-arming on an owned queue can come in between.
    ///
    /// # Examples
    ///
    /// ```
    /// use crate::workqueue::Builder;
    /// # use crate::workqueue::{impl_has_tracked_delayed_work, new_tracked_delayed_work, Delay, TrackedDelayedWork, WorkItem};
    /// # use kernel::sync::Arc;
    /// # #[pin_data]
    /// # struct Watchdog {
    /// #     #[pin]
    /// #     dwork: TrackedDelayedWork<Watchdog>,
    /// # }
    /// # impl_has_tracked_delayed_work! { impl HasTrackedDelayedWork<Self> for Watchdog { self.dwork } }
    /// # impl WorkItem for Watchdog {
    /// #     type Pointer = Arc<Watchdog>;
    /// #     fn run(_this: Arc<Watchdog>) {}
    /// # }
    /// let q = Builder::unbound().build(c"rearm-example")?;
    /// let dog = Arc::pin_init(
    ///     pin_init!(Watchdog { dwork <- new_tracked_delayed_work!() }),
    ///     GFP_KERNEL,
    /// )?;
    /// assert!(q.enqueue_delayed(dog.clone(), Delay::from_millis(100)).is_ok());
    /// // Still pending: push the deadline back; the queue's previous `Arc` comes back.
    /// let (previous, queued) = q.mod_delayed(dog.clone(), Delay::from_millis(60_000));
    /// assert!(previous.is_some() && queued.is_ok());
    /// drop(q); // Cancels it without waiting a minute.
    /// # Ok::<(), Error>(())
    /// ```
    pub fn mod_delayed<W, const ID: u64>(
        &self,
        w: W,
        delay: impl Into<Delay>,
    ) -> (Option<W>, W::EnqueueOutput)
    where
        W: RawTrackedDelayedWorkItem<ID> + WorkItemReclaim<ID> + Send + 'static,
    {
        let (queue, armed) = (self.as_raw(), &self.inner.armed);
        let delay = delay.into().as_jiffies();
        let cancelled: Cell<Option<*mut bindings::work_struct>> = Cell::new(None);
        let rearm = |work| {
            // SAFETY: By `RawTrackedDelayedWorkItem` the work belongs to a live tracked item;
            // the queue is live and `armed` is its registry (as in `enqueue_delayed`).
            let (queued, was_pending) =
                unsafe { tracked::rearm(armed, queue, ANY_CPU, work, delay) };
            if was_pending {
                cancelled.set(Some(work));
            }
            queued
        };
        // SAFETY: `rearm` returns `true` exactly when the queue took the owner `w` hands over.
        let output = unsafe { w.__enqueue(rearm) };
        // SAFETY: The cancelled instance was queued through `W`'s `__enqueue`; its owner is
        // ours.
        let previous = cancelled.get().map(|work| unsafe { W::reclaim(work) });
        (previous, output)
    }

    /// Arms the tracked `w` on CPU `cpu` after `delay` jiffies.
    fn arm_on<W, const ID: u64>(&self, cpu: c_int, w: W, delay: Jiffies) -> W::EnqueueOutput
    where
        W: RawTrackedDelayedWorkItem<ID> + Send + 'static,
    {
        let (queue, armed) = (self.as_raw(), &self.inner.armed);
        // SAFETY: `tracked::arm` returns `true` exactly when it armed or queued the work. By
        // `RawTrackedDelayedWorkItem` the work belongs to a live tracked item, valid as long
        // as the work. The queue is live, and `armed` is its registry, boxed: by the type
        // invariants the drop cancels whatever is still armed before the queue goes.
        unsafe { w.__enqueue(move |work| tracked::arm(armed, queue, cpu, work, delay)) }
    }

    /// Waits until the queue is empty, including work that its items queue on it again.
    ///
    /// Delayed items whose timer is still armed are not waited for. It takes `&mut self`
    /// because the C side forbids others to queue work on the queue while it drains.
    pub fn drain(&mut self) {
        // SAFETY: The queue is live; `&mut self` keeps other users out.
        unsafe { bindings::drain_workqueue(self.as_raw()) }
    }
}

impl Deref for OwnedQueue {
    type Target = Queue;

    fn deref(&self) -> &Queue {
        // SAFETY: The queue is live as long as `self` by the type invariants.
        unsafe { self.inner.queue.as_ref() }
    }
}

impl Drop for OwnedQueue {
    fn drop(&mut self) {
        // Cancel what has not started first: `destroy_workqueue()` cannot see armed timers.
        tracked::cancel_armed(&self.inner.armed);
        {
            let lock = TrackGuard::lock();
            if self.inner.bh_link.is_linked(&lock) {
                self.inner.bh_link.unlink(&lock);
                BH_QUEUE_COUNT.fetch_sub(1, Ordering::Release);
            }
        }
        // SAFETY: By the type invariants we are the only one to destroy the queue. Nothing
        // armed on it is left: every item linked into `armed` was cancelled above or has
        // started running, which the destroy waits for; no timer can queue onto it any more;
        // and nothing can arm a new item, as that needs `&self`.
        unsafe { bindings::destroy_workqueue(self.as_raw()) };
        // `inner` is in no registry and its `armed` is empty, so freeing it breaks no link.
    }
}
