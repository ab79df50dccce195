// SPDX-License-Identifier: GPL-2.0

//! A handle to an owned queue that work items may keep, to queue themselves (or others) on it
//! without owning it.

use core::{
    marker::PhantomData,
    ops::Deref,
    ptr::NonNull, //
};

use kernel::{
    alloc::AllocError,
    bindings,
    ffi::c_int,
    prelude::*, //
};

use super::{
    gate::{
        self,
        Gate, //
    },
    helpers::wq_rs_gate,
    kind::Known,
    owned::OwnedInner,
    tracked::RawTrackedDelayedWorkItem,
    Delay,
    RawUntrackedWorkItem, //
};

/// Lets the kernel choose the CPU (`WORK_CPU_UNBOUND`).
const ANY_CPU: c_int = bindings::wq_misc_consts_WORK_CPU_UNBOUND as c_int;

/// The error of an enqueue through a [`QueueHandle`] whose queue has begun to close (or is
/// draining): `ESHUTDOWN`. A function because not every supported kernel's
/// `kernel::error::code` names it.
pub fn shutdown_error() -> Error {
    Error::from_errno(-(bindings::ESHUTDOWN as c_int))
}

/// A handle to an [`OwnedQueue<K>`](super::OwnedQueue) that does not keep it alive: cheap to
/// clone, `Send + Sync`, and meant to be stored in work items, so that an item can re-arm
/// itself on the driver's queue (a heartbeat, a firmware ping) without owning the queue,
/// which would make a cycle: an item holding the last reference to its own queue would
/// destroy it from its own worker, and hang.
///
/// While the queue lives, everything queued or armed through a handle goes on it as through
/// the queue itself. Once the queue's drop (or [`drain`](super::OwnedQueue::drain)) has
/// begun, every enqueue through a handle is refused: it returns `Err((ESHUTDOWN, pointer))`,
/// the pointer handed back. That check and the queueing are atomic against the close: the
/// drop first closes the handles' gate and waits for every enqueue already past the check, so
/// what they queued is cancelled or waited for like everything else, and nothing is queued
/// after. A drain opens the gate again when it is done.
///
/// The gate is the kernel's idiom for this, a `percpu_ref`: an enqueue through a handle costs
/// two per-CPU counter updates and an RCU read-side section around the queueing (see
/// `make bench`). The queue's first handle makes the gate; closing it waits for an RCU grace
/// period, once per drop or drain of a queue that ever made a handle. A queue that never
/// made one pays for neither.
///
/// # Invariants
///
/// `gate` is the gate of the owned queue whose `OwnedInner` is `inner`. While an entry of
/// the gate is held, `inner` is alive, its queue is of kind `K` and is neither destroyed nor
/// drained.
///
/// # Examples
///
/// A heartbeat that re-arms itself every jiffy until its queue goes away:
///
/// ```
/// use crate::workqueue::{
///     impl_has_tracked_delayed_work,
///     kind,
///     new_tracked_delayed_work,
///     Builder,
///     Delay,
///     shutdown_error,
///     QueueHandle,
///     TrackedDelayedWork,
///     WorkItem, //
/// };
/// use core::sync::atomic::{
///     AtomicU32,
///     Ordering, //
/// };
/// use kernel::sync::Arc;
///
/// #[pin_data]
/// struct Heartbeat {
///     queue: QueueHandle<kind::Ordered>,
///     beats: AtomicU32,
///     #[pin]
///     dwork: TrackedDelayedWork<Heartbeat>,
/// }
///
/// impl_has_tracked_delayed_work! {
///     impl HasTrackedDelayedWork<Self> for Heartbeat { self.dwork }
/// }
///
/// impl WorkItem for Heartbeat {
///     type Pointer = Arc<Heartbeat>;
///
///     fn run(this: Arc<Heartbeat>) {
///         this.beats.fetch_add(1, Ordering::Relaxed);
///         // Refused once the queue is closing: the `Arc` comes back and is dropped here.
///         let _ = QueueHandle::requeue_delayed(this, |hb| &hb.queue, Delay::from_jiffies(1));
///     }
/// }
///
/// let queue = Builder::ordered().build(c"heartbeat")?;
/// let handle = queue.handle()?;
/// let hb = Arc::pin_init(
///     pin_init!(Heartbeat {
///         queue: handle,
///         beats: AtomicU32::new(0),
///         dwork <- new_tracked_delayed_work!(),
///     }),
///     GFP_KERNEL,
/// )?;
/// assert!(matches!(hb.queue.enqueue_delayed(hb.clone(), Delay::ZERO), Ok(Ok(()))));
/// hb.dwork.flush(); // Waits for a beat (which has re-armed the next).
/// assert!(hb.beats.load(Ordering::Relaxed) >= 1);
/// drop(queue); // The heartbeat stops: its next re-arming is refused.
/// let (handle, beats) = (hb.queue.clone(), hb.beats.load(Ordering::Relaxed));
/// let refused = handle.enqueue_delayed(hb.clone(), Delay::ZERO);
/// assert!(matches!(&refused, Err((e, _)) if *e == shutdown_error()));
/// drop(refused); // The `Arc` handed back.
/// assert_eq!(hb.beats.load(Ordering::Relaxed), beats);
/// assert!(Arc::into_unique_or_drop(hb).is_some());
/// # Ok::<(), Error>(())
/// ```
pub struct QueueHandle<K: Known> {
    gate: Gate,
    inner: NonNull<OwnedInner>,
    _kind: PhantomData<K>,
}

// SAFETY: The gate is thread-safe, and `inner` is only used through an entry of it, when the
// queue it points at is alive; queueing on a live queue is thread-safe.
unsafe impl<K: Known> Send for QueueHandle<K> {}
// SAFETY: As above: nothing through `&QueueHandle` needs more than a live queue.
unsafe impl<K: Known> Sync for QueueHandle<K> {}

impl<K: Known> Clone for QueueHandle<K> {
    fn clone(&self) -> Self {
        // INVARIANT: The same gate and queue.
        Self {
            gate: self.gate.clone(),
            inner: self.inner,
            _kind: PhantomData,
        }
    }
}

/// What a handle queues with: its gate and queue, copied out of it, so that the handle may
/// live inside the item being queued and go with it.
#[derive(Clone, Copy)]
struct Target {
    gate: NonNull<wq_rs_gate>,
    inner: NonNull<OwnedInner>,
}

impl Target {
    /// Runs `queue` with the queue, if the gate lets us in; otherwise hands `w` back.
    ///
    /// # Safety
    ///
    /// The handle this came from must be alive during the call, up to the entry (it may go
    /// once `queue` has handed `w` to C, as the entry keeps the gate's memory).
    #[inline]
    unsafe fn with_queue<W, R>(
        self,
        w: W,
        queue: impl FnOnce(&OwnedInner, W) -> R,
    ) -> Result<R, (Error, W)> {
        // SAFETY: The handle holds the gate alive until we have entered (the caller's promise).
        let Some(entry) = (unsafe { gate::enter(self.gate) }) else {
            return Err((shutdown_error(), w));
        };
        // SAFETY: While the entry is held, `inner` is alive (the handle's invariants).
        let output = queue(unsafe { self.inner.as_ref() }, w);
        drop(entry);
        Ok(output)
    }
}

impl<K: Known> QueueHandle<K> {
    /// # Safety
    ///
    /// `inner` must be the inner part of an `OwnedQueue<K>`, alive during the call.
    pub(crate) unsafe fn new(inner: &OwnedInner) -> Result<Self, AllocError> {
        // INVARIANT: The queue's own gate, which its drop and drain close before they free or
        // drain the queue; of kind `K` by the caller's promise.
        Ok(Self {
            gate: inner.share_gate()?,
            inner: NonNull::from(inner),
            _kind: PhantomData,
        })
    }

    #[inline]
    fn target(&self) -> Target {
        Target {
            gate: self.gate.as_ptr(),
            inner: self.inner,
        }
    }

    /// Queues `w` at once, as [`Queue::enqueue`](super::Queue::enqueue) on the queue does, if
    /// the queue has not begun to close: `Err((ESHUTDOWN, w))` if it has, else what the
    /// queueing returned. Never sleeps: any context.
    #[inline]
    pub fn enqueue<W, const ID: u64>(&self, w: W) -> Result<W::EnqueueOutput, (Error, W)>
    where
        W: RawUntrackedWorkItem<ID> + Send + 'static,
    {
        // SAFETY: `self` lives through the call. Within the entry the queue is alive, of
        // kind `K`, and not drained (invariants).
        unsafe {
            self.target()
                .with_queue(w, |inner, w| inner.queue::<K>().enqueue(w))
        }
    }

    /// Arms the tracked `w` on the queue after `delay`, as
    /// [`OwnedQueue::enqueue_delayed`](super::OwnedQueue::enqueue_delayed) does, if the queue
    /// has not begun to close: `Err((ESHUTDOWN, w))` if it has. Never sleeps: any context.
    #[inline]
    pub fn enqueue_delayed<W, const ID: u64>(
        &self,
        w: W,
        delay: impl Into<Delay>,
    ) -> Result<W::EnqueueOutput, (Error, W)>
    where
        W: RawTrackedDelayedWorkItem<ID> + Send + 'static,
    {
        let delay = delay.into().as_jiffies();
        // SAFETY: `self` lives through the call; within the entry the queue is alive and not
        // drained (invariants), as `arm_on` needs.
        unsafe {
            self.target()
                .with_queue(w, |inner, w| inner.arm_on(ANY_CPU, w, delay))
        }
    }

    /// Queues `this` at once through the handle that `handle` finds in it: the form for an
    /// item re-queueing itself from its `run`, which gives `this` away by value while the
    /// handle lives inside it. Otherwise as [`QueueHandle::enqueue`].
    #[inline]
    pub fn requeue<W, const ID: u64>(
        this: W,
        handle: impl FnOnce(&W::Target) -> &Self,
    ) -> Result<W::EnqueueOutput, (Error, W)>
    where
        W: RawUntrackedWorkItem<ID> + Deref + Send + 'static,
    {
        let target = handle(&*this).target();
        // SAFETY: The handle lives in `this` until `this` is handed to C, after the entry.
        // Within the entry the queue is alive, of kind `K`, and not drained (invariants).
        unsafe { target.with_queue(this, |inner, w| inner.queue::<K>().enqueue(w)) }
    }

    /// Arms the tracked `this` after `delay` through the handle that `handle` finds in it:
    /// the self-re-arming form of [`QueueHandle::enqueue_delayed`] (see
    /// [`QueueHandle::requeue`]).
    ///
    /// # Examples
    ///
    /// See [`QueueHandle`].
    #[inline]
    pub fn requeue_delayed<W, const ID: u64>(
        this: W,
        handle: impl FnOnce(&W::Target) -> &Self,
        delay: impl Into<Delay>,
    ) -> Result<W::EnqueueOutput, (Error, W)>
    where
        W: RawTrackedDelayedWorkItem<ID> + Deref + Send + 'static,
    {
        let delay = delay.into().as_jiffies();
        let target = handle(&*this).target();
        // SAFETY: As in `requeue`; `arm_on` needs the queue alive and not drained, which the
        // entry gives.
        unsafe { target.with_queue(this, |inner, w| inner.arm_on(ANY_CPU, w, delay)) }
    }
}
