// SPDX-License-Identifier: GPL-2.0

//! A workqueue that its owner creates and destroys.
//!
//! C header: [`include/linux/workqueue.h`](srctree/include/linux/workqueue.h)

use core::{
    marker::PhantomData,
    mem::ManuallyDrop,
    ops::Deref,
    ptr::{
        self,
        NonNull, //
    },
    sync::atomic::{
        AtomicBool,
        Ordering, //
    },
};

use kernel::{
    alloc::AllocError,
    bindings,
    ffi::c_int,
    prelude::*,
    sync::Arc,
    time::Jiffies, //
};

use super::{
    control,
    gate::{
        Gate,
        LazyGate, //
    },
    handle::QueueHandle,
    kind::{
        Known,
        MaxActive,
        TimerOnCpu, //
    },
    queue::{
        self,
        CpuUse, //
    },
    rcu,
    registry::Registry,
    tracked::{
        self,
        PassReport,
        RawTrackedDelayedWorkItem, //
    },
    Delay,
    LockdepMap,
    Queue,
    RawRcuWorkItem,
    WorkItemReclaim, //
};

/// Lets the kernel choose the CPU (`WORK_CPU_UNBOUND`).
const ANY_CPU: c_int = bindings::wq_misc_consts_WORK_CPU_UNBOUND as c_int;

/// What an [`OwnedQueue`] keeps at a fixed address: tracked items link into its registry, and
/// its handles point at it.
#[pin_data]
pub(crate) struct OwnedInner {
    queue: NonNull<bindings::workqueue_struct>,
    /// The tracked items armed on the queue with a delay (see [`super::tracked`]).
    #[pin]
    armed: Registry,
    /// What the queue's handles enter to queue on it (see [`super::gate`]), made with the
    /// first handle.
    gate: LazyGate,
    /// The map the queue's work runs under, if the builder gave one: kept until the queue is
    /// destroyed (its flushes take it).
    _lockdep_map: Option<Arc<LockdepMap>>,
    /// Whether an RCU item was ever queued on the queue: then its drop and drain first wait
    /// for every RCU callback, which may still be about to queue one.
    rcu_used: AtomicBool,
}

impl OwnedInner {
    /// The queue, as a `Queue<K>`.
    ///
    /// # Safety
    ///
    /// The queue must be of kind `K`, and stay alive for `'a`.
    #[inline]
    pub(crate) unsafe fn queue<'a, K: Known>(&self) -> &'a Queue<K> {
        // SAFETY: The caller's promise.
        unsafe { Queue::from_raw_kind(self.queue.as_ptr()) }
    }

    /// Arms the tracked `w` on CPU `cpu` after `delay` jiffies.
    ///
    /// # Safety
    ///
    /// The queue must stay alive, and not be drained, until its cancel pass: the caller holds
    /// the `OwnedQueue` borrowed, or an entry of its gate.
    #[inline]
    pub(crate) unsafe fn arm_on<W, const ID: u64>(
        &self,
        cpu: c_int,
        w: W,
        delay: Jiffies,
    ) -> W::EnqueueOutput
    where
        W: RawTrackedDelayedWorkItem<ID> + Send + 'static,
    {
        let (queue, armed) = (self.queue.as_ptr(), &self.armed);
        // SAFETY: `tracked::arm` returns `true` exactly when it armed or queued the work. By
        // `RawTrackedDelayedWorkItem` the work belongs to a live tracked item, valid as long
        // as the work. The queue and its registry live until the queue's cancel pass, and
        // nobody drains the queue meanwhile (the caller's promise).
        unsafe { w.__enqueue(move |work| tracked::arm(armed, queue, cpu, work, delay)) }
    }

    /// A holder of the gate of the queue's handles, made if there is none yet.
    pub(crate) fn share_gate(&self) -> Result<Gate, AllocError> {
        self.gate.share()
    }
}

/// A workqueue of kind `K` (see [`kind`](super::kind)) owned by a driver, destroyed when it is
/// dropped.
///
/// Created by a [`Builder`](super::Builder). It dereferences to [`Queue<K>`](Queue) for
/// everything that queues work at once, and takes delayed work, as
/// [`TrackedDelayedWork`](super::TrackedDelayedWork) items, through
/// [`OwnedQueue::enqueue_delayed`].
///
/// Dropping it **blocks** until every item queued on it has finished, including items
/// that those items queue on it again. Tracked items armed on it whose delay has not run out,
/// or whose instance was queued by their timer but has not started, do not make it wait:
/// they are cancelled and their owners released (dropped) at once. Once the drop returns, no
/// item queued or armed on this queue runs or refers to it. [`OwnedQueue::destroy`] does the
/// same and says how many armed items it cancelled.
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
/// `inner.queue` is a live workqueue of kind `K` that only this `OwnedQueue` destroys, and
/// `inner.armed` is its registry: every tracked item whose latest arming was a delayed one on
/// this queue, and which no cancel pass has unlinked since, is linked to it (see
/// [`super::tracked`]).
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
pub struct OwnedQueue<K: Known> {
    inner: Pin<KBox<OwnedInner>>,
    _kind: PhantomData<K>,
}

// SAFETY: The queue is usable from any thread, and the registry is only touched under its lock.
unsafe impl<K: Known> Send for OwnedQueue<K> {}

// SAFETY: As above: every operation through `&OwnedQueue` is thread-safe.
unsafe impl<K: Known> Sync for OwnedQueue<K> {}

impl<K: Known> OwnedQueue<K> {
    /// Takes ownership of the C queue `wq`, of kind `K`.
    ///
    /// On allocation failure `wq` is destroyed and `AllocError` returned.
    ///
    /// # Safety
    ///
    /// `wq` must be a live workqueue of kind `K` that nobody else destroys or has queued
    /// anything on.
    pub(crate) unsafe fn from_raw(
        wq: NonNull<bindings::workqueue_struct>,
        lockdep_map: Option<Arc<LockdepMap>>,
    ) -> Result<Self, AllocError> {
        // A failed allocation drops the initialiser, and the map with it, before the queue is
        // destroyed below; the destroy's flush takes the map, which must still be alive.
        let keep_map = lockdep_map.clone();
        let inner = KBox::pin_init(
            pin_init!(OwnedInner {
                queue: wq,
                armed <- Registry::new(),
                gate: LazyGate::new(),
                _lockdep_map: lockdep_map,
                rcu_used: AtomicBool::new(false),
            }),
            GFP_KERNEL,
        );
        let Ok(inner) = inner else {
            // SAFETY: The caller gave us the queue and it is still empty; its map, if any, is
            // alive (`keep_map`).
            unsafe { bindings::destroy_workqueue(wq.as_ptr()) };
            drop(keep_map);
            return Err(AllocError);
        };
        drop(keep_map);
        // INVARIANT: The caller hands over the only right to destroy `wq`, of kind `K`;
        // nothing is armed on it, and the registry is empty.
        Ok(Self {
            inner,
            _kind: PhantomData,
        })
    }

    /// Queues the tracked delayed item `w` on this queue after `delay`.
    ///
    /// If the item was already pending, or is disabled, it is not queued and the pointer
    /// comes back as `Err`; so it does, for a moment, while another CPU cancels, disables or
    /// enables the item (C holds its PENDING bit meanwhile; see [`Queue::enqueue`]). With [`Delay::ZERO`] it is queued at once. If this queue is
    /// dropped or drained before the delay has passed (or before the instance its timer queued
    /// has started), the item is cancelled and its owner dropped without waiting.
    ///
    /// Cost over [`Queue::enqueue_delayed`]: the item's own lock (a raw spinlock, interrupts
    /// off) around the C call. The first arming on this queue, or the first after the item was
    /// armed elsewhere, also links the item into the queue's registry under the registry's
    /// lock. Running, cancelling and flushing cost what they cost in C.
    ///
    /// Only [`TrackedDelayedWork`](super::TrackedDelayedWork) items can be armed here; a
    /// plain [`DelayedWork`](super::DelayedWork) has no link for the queue to find it by:
    ///
    /// ```compile_fail,E0277
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
    #[inline]
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

    /// Arms the tracked delayed item `w` with its timer on CPU `cpu`, which must be online;
    /// see [`OwnedQueue::enqueue_delayed`] and, for the CPU, [`Queue::enqueue_delayed_on`],
    /// which explains why a BH queue does not offer it.
    pub fn enqueue_delayed_on<W, const ID: u64>(
        &self,
        cpu: u32,
        w: W,
        delay: impl Into<Delay>,
    ) -> Result<W::EnqueueOutput, (Error, W)>
    where
        W: RawTrackedDelayedWorkItem<ID> + Send + 'static,
        K: TimerOnCpu,
    {
        let delay = delay.into().as_jiffies();
        queue::on_cpu::<K, _, _>(cpu, CpuUse::Timer, w, |cpu, w| self.arm_on(cpu, w, delay))
    }

    /// Re-arms the tracked item of `w` on this queue after `delay`, wherever it was armed
    /// before; see [`Queue::mod_delayed`] for what the two returned values mean. Both steps
    /// happen under the item's lock, so no other arming of the item comes in between.
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
        let (queue, armed) = (self.as_raw(), self.registry());
        let delay = delay.into().as_jiffies();
        // SAFETY: By `RawTrackedDelayedWorkItem` the work belongs to a live tracked item;
        // `tracked::rearm` cancels, then queues, under the item's lock, and returns both
        // answers. The queue is live and `armed` is its registry, both kept until the drop's
        // cancel pass (type invariants).
        unsafe { control::rearm_with(w, |work| tracked::rearm(armed, queue, ANY_CPU, work, delay)) }
    }

    /// Queues the RCU item `w` (see [`RcuWork`](super::RcuWork)) on this queue, to run after
    /// an RCU grace period that begins after this call. If the item was already pending, the
    /// pointer comes back as `Err`.
    ///
    /// The queue's drop and [`drain`](OwnedQueue::drain) then wait for every RCU callback
    /// (`rcu_barrier()`) before they destroy or drain the queue, so the item is queued on the
    /// live queue and run (or, if cancelled first, its owner handed back): it never runs after
    /// the drop returns, and is never leaked. That costs those calls a wait of their own.
    ///
    /// # Examples
    ///
    /// ```
    /// use crate::workqueue::Builder;
    /// # use crate::workqueue::{impl_has_rcu_work, new_rcu_work, RcuWork, WorkItem};
    /// # use core::sync::atomic::{AtomicBool, Ordering};
    /// # use kernel::sync::Arc;
    /// # #[pin_data]
    /// # struct Retired {
    /// #     freed: AtomicBool,
    /// #     #[pin]
    /// #     rwork: RcuWork<Retired>,
    /// # }
    /// # impl_has_rcu_work! { impl HasRcuWork<Self> for Retired { self.rwork } }
    /// # impl WorkItem for Retired {
    /// #     type Pointer = Arc<Retired>;
    /// #     fn run(this: Arc<Retired>) {
    /// #         this.freed.store(true, Ordering::Release);
    /// #     }
    /// # }
    /// let q = Builder::unbound().build(c"deferred-frees")?;
    /// let old = Arc::pin_init(
    ///     pin_init!(Retired { freed: AtomicBool::new(false), rwork <- new_rcu_work!() }),
    ///     GFP_KERNEL,
    /// )?;
    /// assert!(q.enqueue_rcu(old.clone()).is_ok());
    /// drop(q); // Waits for the grace period, then for the run.
    /// assert!(old.freed.load(Ordering::Acquire));
    /// # Ok::<(), Error>(())
    /// ```
    pub fn enqueue_rcu<W, const ID: u64>(&self, w: W) -> W::EnqueueOutput
    where
        W: RawRcuWorkItem<ID> + Send + 'static,
    {
        // Before the queueing: a drop or drain, which `&self` orders after this, sees it.
        self.inner.rcu_used.store(true, Ordering::Relaxed);
        // SAFETY: The queue lives, undrained, until its drop or drain, which wait for every
        // RCU callback first because `rcu_used` is set.
        unsafe { rcu::enqueue_rcu(self.as_raw(), w) }
    }

    /// What the drop and the drain do first, in this order, so that afterwards nothing but the
    /// queue's own items can queue onto it, and C's destroy or drain can see all there is:
    ///
    /// 1. Refuse the handles, and wait for those in the middle of queueing (the gate).
    /// 2. Wait for every RCU callback if an RCU item was ever queued here: each has then
    ///    queued its item on the queue. C knows nothing of them, and would refuse (and leak)
    ///    one that queued while it drains.
    /// 3. Cancel what is armed (the cancel pass): C cannot see armed timers either.
    ///
    /// Returns what the cancel pass did. The drain opens the gate again afterwards.
    fn quiesce(&mut self) -> PassReport {
        // SAFETY: We own the gate (if a handle made one) and close it once per drain or drop;
        // we may sleep, and hold no entry.
        unsafe { self.inner.gate.close() };
        if self.inner.rcu_used.load(Ordering::Relaxed) {
            // SAFETY: Process context: the drop and drain may sleep.
            unsafe { bindings::rcu_barrier() };
        }
        // SAFETY: `&mut self` and the closed gate keep everyone from arming on the queue until
        // the caller has drained or destroyed it.
        unsafe { tracked::cancel_armed(self.registry()) }
    }

    /// Arms the tracked `w` on CPU `cpu` after `delay` jiffies.
    #[inline]
    fn arm_on<W, const ID: u64>(&self, cpu: c_int, w: W, delay: Jiffies) -> W::EnqueueOutput
    where
        W: RawTrackedDelayedWorkItem<ID> + Send + 'static,
    {
        // SAFETY: `&self` keeps the queue alive and undrained (type invariants: the drop and
        // drain need `&mut`).
        unsafe { self.inner.arm_on(cpu, w, delay) }
    }

    /// Returns a handle to this queue, for items that queue themselves (or others) on it.
    /// See [`QueueHandle`].
    ///
    /// The queue's first handle makes its gate (a `percpu_ref`), which can fail to allocate:
    /// then `ENOMEM`, and nothing else changed. It may sleep; clone a handle to get one in
    /// atomic context.
    pub fn handle(&self) -> Result<QueueHandle<K>> {
        // SAFETY: `inner` is of kind `K`, lives as long as the queue, and the gate refuses
        // every handle's entry before the queue's drop frees it.
        unsafe { QueueHandle::new(&self.inner) }.map_err(|_| ENOMEM)
    }
    /// The registry of the tracked items armed on this queue.
    #[inline]
    fn registry(&self) -> &Registry {
        &self.inner.armed
    }

    /// Waits until the queue is empty, including work that its items queue on it again, and
    /// returns how many armed tracked items it cancelled.
    ///
    /// Tracked items whose delay has not run out (or whose timer queued them, not yet started)
    /// are cancelled first and their owners released, as the drop does: were one to fire while
    /// C drains, C would refuse it (with a warning) and its owner would leak. What is queued,
    /// with [`Delay::ZERO`] included, runs. The queue is usable again afterwards.
    ///
    /// It takes `&mut self`: while it drains nothing else may queue on the queue. It sleeps;
    /// called from an item running on this queue (one that reaches the queue through a lock,
    /// say), it waits for that item, forever.
    ///
    /// # Examples
    ///
    /// ```
    /// use crate::workqueue::Builder;
    /// # use crate::workqueue::{impl_has_tracked_delayed_work, new_tracked_delayed_work, Delay, TrackedDelayedWork, WorkItem};
    /// # use kernel::sync::Arc;
    /// # #[pin_data]
    /// # struct Retry {
    /// #     #[pin]
    /// #     dwork: TrackedDelayedWork<Retry>,
    /// # }
    /// # impl_has_tracked_delayed_work! { impl HasTrackedDelayedWork<Self> for Retry { self.dwork } }
    /// # impl WorkItem for Retry {
    /// #     type Pointer = Arc<Retry>;
    /// #     fn run(_this: Arc<Retry>) {}
    /// # }
    /// let mut q = Builder::unbound().build(c"drain-example")?;
    /// let later = Arc::pin_init(pin_init!(Retry { dwork <- new_tracked_delayed_work!() }), GFP_KERNEL)?;
    /// let now = Arc::pin_init(pin_init!(Retry { dwork <- new_tracked_delayed_work!() }), GFP_KERNEL)?;
    /// assert!(q.enqueue_delayed(later.clone(), Delay::from_millis(60_000)).is_ok());
    /// assert!(q.enqueue_delayed(now.clone(), Delay::ZERO).is_ok());
    /// // Only the item with a delay is linked to the queue: the other is on its worklist.
    /// assert!(later.dwork.is_tracked() && !now.dwork.is_tracked());
    /// // `now` runs; `later` is cancelled, and the queue's `Arc` of it dropped.
    /// assert_eq!(q.drain(), 1);
    /// assert!(!later.dwork.is_tracked());
    /// assert!(Arc::into_unique_or_drop(later).is_some());
    /// assert!(Arc::into_unique_or_drop(now).is_some());
    /// # Ok::<(), Error>(())
    /// ```
    pub fn drain(&mut self) -> usize {
        self.drain_report().released
    }

    /// [`OwnedQueue::drain`], returning all that its cancel pass did.
    pub(crate) fn drain_report(&mut self) -> PassReport {
        let report = self.quiesce();
        // SAFETY: The queue is live. Nothing queues onto it from outside while it drains:
        // `quiesce` left no timer, no RCU callback and no handle's entry, and nothing can arm
        // anew without `&self` or an entry.
        unsafe { bindings::drain_workqueue(self.as_raw()) };
        // SAFETY: We closed it above.
        unsafe { self.inner.gate.reopen() };
        report
    }

    /// Drops the queue, as the drop does, and returns how many armed tracked items it
    /// cancelled (their owners released).
    ///
    /// # Examples
    ///
    /// ```
    /// use crate::workqueue::Builder;
    ///
    /// let q = Builder::ordered().build(c"destroy-example")?;
    /// assert_eq!(q.destroy(), 0);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn destroy(self) -> usize {
        self.destroy_report().released
    }

    /// [`OwnedQueue::destroy`], returning all that its cancel pass did.
    pub(crate) fn destroy_report(self) -> PassReport {
        let mut this = ManuallyDrop::new(self);
        let report = this.shut_down();
        // SAFETY: `this` is not used or dropped again; its only owning field is dropped here,
        // once.
        drop(unsafe { ptr::read(&this.inner) });
        report
    }

    /// Cancels what is armed, then destroys the queue; returns what its cancel pass did.
    /// Called once, by the drop or by `destroy`.
    fn shut_down(&mut self) -> PassReport {
        let report = self.quiesce();
        // SAFETY: By the type invariants we are the only one to destroy the queue. No timer can
        // queue onto it any more: every item armed on it with a delay was linked to the
        // registry and the cancel pass took its instance, or it had started, which the destroy
        // waits for; nothing can arm a new one without `&self` or an entry of the gate, which
        // was closed before the pass.
        unsafe { bindings::destroy_workqueue(self.inner.queue.as_ptr()) };
        // SAFETY: Closed above.
        unsafe { self.inner.gate.retire() };
        // `inner` is freed next; its registry is empty, so no link points into it, and every
        // handle's entry is refused, so none uses it.
        report
    }
}

impl<K: MaxActive> OwnedQueue<K> {
    /// Allows at most `n` items of the live queue to run at once (per CPU for a per-CPU
    /// queue): `workqueue_set_max_active()`. Drivers throttle a queue so during a reset or a
    /// suspend, and raise it again afterwards. Items already running go on; the next ones
    /// wait for a free slot.
    ///
    /// `n` is clamped as C clamps it, to 1 ..= `WQ_MAX_ACTIVE` (2048 on 7.x, 512 on 6.12);
    /// C logs "max_active ... is out of range" when it does. Only the kinds whose
    /// `max_active` C lets one change take it: an ordered queue (always one at a time, C
    /// warns and ignores it) and a BH queue (where `max_active` means nothing) do not
    /// compile:
    ///
    /// ```compile_fail,E0599
    /// use crate::workqueue::Builder;
    ///
    /// let q = Builder::ordered().build(c"stays-ordered")?;
    /// q.set_max_active(2); // C would warn and keep it ordered.
    /// # Ok::<(), Error>(())
    /// ```
    ///
    /// It may sleep (it takes the queue's mutex).
    ///
    /// On an unbound queue C also lowers `min_active` to `n` and never raises it again: after
    /// `set_max_active(1)`, raising `max_active` again leaves the guaranteed minimum at 1 (the
    /// limit is what rises).
    ///
    /// # Examples
    ///
    /// ```
    /// use crate::workqueue::Builder;
    ///
    /// let q = Builder::unbound().max_active(8).build(c"throttled")?;
    /// q.set_max_active(1); // One at a time, while the device resets.
    /// q.try_spawn(GFP_KERNEL, || pr_info!("alone\n"))?;
    /// q.flush();
    /// q.set_max_active(8);
    /// # Ok::<(), Error>(())
    /// ```
    pub fn set_max_active(&self, n: u32) {
        let n = c_int::try_from(n).unwrap_or(c_int::MAX);
        // SAFETY: The queue is live (type invariants), neither ordered nor BH (`K: MaxActive`),
        // which is all C asks; the caller may sleep, as documented.
        unsafe { bindings::workqueue_set_max_active(self.as_raw(), n) };
    }
}

impl<K: Known> Deref for OwnedQueue<K> {
    type Target = Queue<K>;

    #[inline]
    fn deref(&self) -> &Queue<K> {
        // SAFETY: The queue is live as long as `self`, and of kind `K`, by the type invariants.
        unsafe { Queue::from_raw_kind(self.inner.queue.as_ptr()) }
    }
}

impl<K: Known> Drop for OwnedQueue<K> {
    fn drop(&mut self) {
        self.shut_down();
    }
}
