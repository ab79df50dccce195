// SPDX-License-Identifier: GPL-2.0

//! Scoped work: closures that borrow from the caller, queued on any queue, all finished
//! before [`scope`] returns, in the spirit of `std::thread::scope`.
//!
//! # Why it is sound
//!
//! A closure given to [`Scope::spawn`] may borrow anything that outlives `'scope`, the
//! lifetime of the scope's body. `scope` counts the closures spawned and, after the body
//! returns, waits until every one of them has run and been dropped: only then does it
//! return, and only then can the borrowed data go. Nothing the caller holds can shorten
//! that wait:
//!
//! - The count lives in `scope`'s own frame, and the body only sees `&Scope`: it cannot move,
//!   drop or forget the scope, and `mem::forget` of anything it holds (there is no join
//!   guard) changes nothing that `scope` waits for.
//! - A spawned closure that is never run does not exist: `spawn` queues a new item, which C
//!   never refuses, on a queue that outlives `'scope` (it is borrowed for it), so it runs.
//! - A panic does not unwind in the kernel: it is a `BUG()`, an oops, so no code of the
//!   panicking task runs after it, `scope`'s return included. A scope whose closure oopsed
//!   waits forever (the hung-task detector reports it) rather than return. A body that
//!   oopses while closures are outstanding leaves them borrowing from a task whose stack the
//!   kernel frees: the same hazard as any C completion on the stack of a task that oopses,
//!   after which the kernel is tainted and, with `panic_on_oops`, stopped.
//!
//! The upstream `ScopedQueue`/`ScopedWork` proposal (2026) makes the caller promise, with an
//! `unsafe` constructor, that the queue is flushed before the borrowed data goes. Here the
//! promise is kept by `scope` itself, for closures on any queue, system or owned, and nothing
//! is `unsafe` for the caller. The price is that the wait is for the scope's own closures
//! only (not a flush of the whole queue), and that `scope` may sleep.

use core::{
    marker::PhantomData,
    sync::atomic::{
        AtomicUsize,
        Ordering, //
    },
};

use kernel::{
    bindings,
    ffi::c_int,
    prelude::*,
    types::Opaque, //
};

use super::{
    helpers,
    impl_has_work,
    kind::Known,
    Queue,
    RawWorkItem,
    Work,
    WorkItem, //
};

/// Lets the kernel choose the CPU (`WORK_CPU_UNBOUND`).
const ANY_CPU: c_int = bindings::wq_misc_consts_WORK_CPU_UNBOUND as c_int;

/// What [`scope`] waits on: how many closures are outstanding, plus one for the body.
///
/// # Invariants
///
/// Once [`scope`] has pinned and initialised it, `done` is an initialised completion,
/// completed once, when `pending` drops to zero.
struct ScopeState {
    pending: AtomicUsize,
    done: Opaque<bindings::completion>,
}

// SAFETY: Shared between the scope's task and the workers of its closures, which only touch
// the atomic count and `complete()`/`wait_for_completion()`, which synchronise themselves.
unsafe impl Sync for ScopeState {}

impl ScopeState {
    /// Gives up one count; the last one completes `done`. After it, the caller must not use
    /// `self`: the scope may return and free it at once.
    fn release(&self) {
        if self.pending.fetch_sub(1, Ordering::AcqRel) == 1 {
            // SAFETY: `done` is initialised (invariants); completed once, by the last count.
            // `complete()` is done with the completion before `wait_for_completion()` returns
            // (the waiter takes the same lock), so the state may go right after.
            unsafe { bindings::complete(self.done.get()) };
        }
    }
}

/// A scope in which closures borrowing data that outlives `'scope` can be queued; see
/// [`scope`].
pub struct Scope<'scope, 'env: 'scope> {
    state: &'scope ScopeState,
    // Invariant in both, as `std::thread::Scope` is: `'scope` may not be shortened to let a
    // closure borrow less than the body can see, nor `'env` lengthened.
    _scope: PhantomData<&'scope mut &'scope ()>,
    _env: PhantomData<&'env mut &'env ()>,
}

/// Runs `f` with a [`Scope`], in which closures that borrow from the caller can be queued on
/// any queue; returns what `f` returns once every closure spawned in the scope has run.
///
/// It may sleep (`might_sleep()` checks so in debug kernels, whether it waits or not).
/// Called from an item of an ordered queue, a closure spawned on that same queue waits behind
/// the caller, forever. A closure's worker still runs this module's code for a moment after
/// the scope is told it is done: a module that spawns in its exit should flush the queue
/// before it unloads.
///
/// # Examples
///
/// Setting up engines in parallel, each closure filling its own part of a local array:
///
/// ```
/// use crate::workqueue::{
///     scope,
///     system_unbound, //
/// };
///
/// let mut engines = [0u32; 8];
/// scope(|s| -> Result {
///     for (i, engine) in engines.iter_mut().enumerate() {
///         s.spawn(system_unbound(), move || *engine = 100 + i as u32)?;
///     }
///     Ok(())
/// })?;
/// // Every closure has run: the array is filled, and ours again.
/// assert_eq!(engines[7], 107);
/// # Ok::<(), Error>(())
/// ```
///
/// A borrow cannot escape the scope: a closure may not borrow what the scope's body owns.
///
/// ```compile_fail,E0373
/// use crate::workqueue::{
///     scope,
///     system, //
/// };
///
/// scope(|s| {
///     let local = 7u32;
///     let _ = s.spawn(system(), || pr_info!("{local}\n")); // `local` dies with the body.
/// });
/// ```
pub fn scope<'env, F, T>(f: F) -> T
where
    F: for<'scope> FnOnce(&'scope Scope<'scope, 'env>) -> T,
{
    // SAFETY: Always safe to call; it only checks, in debug kernels, that we may sleep.
    unsafe { helpers::wq_rs_might_sleep() };
    let state = core::pin::pin!(ScopeState {
        pending: AtomicUsize::new(1),
        done: Opaque::uninit(),
    });
    // SAFETY: The completion is pinned in this frame (`Opaque` is `!Unpin`) and initialised
    // once, here, before anyone uses it.
    // INVARIANT: Initialised, not completed.
    unsafe { helpers::wq_rs_completion_init(state.done.get()) };
    let state: &ScopeState = &state;
    let scope = Scope {
        state,
        _scope: PhantomData,
        _env: PhantomData,
    };
    let result = f(&scope);
    // The body's count: if closures are still outstanding, the last one completes `done`.
    if state.pending.fetch_sub(1, Ordering::AcqRel) != 1 {
        // SAFETY: `done` is initialised (invariants of `ScopeState`); we may sleep.
        unsafe { bindings::wait_for_completion(state.done.get()) };
    }
    result
}

impl<'scope, 'env> Scope<'scope, 'env> {
    /// Queues `f` on `queue`, to run before [`scope`] returns. `f` may borrow what outlives
    /// `'scope`. Fails only to allocate (with `ENOMEM`; `f` is dropped, not run).
    ///
    /// The queue is borrowed for `'scope`, so it outlives the scope (an owned queue cannot be
    /// dropped or drained meanwhile). On a BH queue, `f` runs in softirq context and must not
    /// sleep.
    ///
    /// # Examples
    ///
    /// See [`scope`].
    pub fn spawn<K: Known, F>(&'scope self, queue: &'scope Queue<K>, f: F) -> Result
    where
        F: FnOnce() + Send + 'scope,
    {
        let (name, key) = if K::SOFTIRQ {
            (c"Scope::spawn (BH)", kernel::static_lock_class!())
        } else {
            (c"Scope::spawn", kernel::static_lock_class!())
        };
        let job = KBox::pin_init(
            pin_init!(ScopedJob {
                work <- Work::new(name, key),
                func: Some(f),
                state: self.state,
            }),
            GFP_KERNEL,
        )?;
        self.state.pending.fetch_add(1, Ordering::Relaxed);
        let wq = queue.as_raw();
        // SAFETY: `queue_work_on` returns whether it queued, and never runs the work in
        // place. The job is new, so neither pending nor disabled: it is queued, and its box is
        // owned by the queue until it runs. In place of `Queue::enqueue`'s `'static`: the
        // queue outlives `'scope` (borrowed for it), and `scope` returns only after the job
        // has run and dropped `f` (the count taken above is given back by the run, last), so
        // whatever `f` borrows outlives its use. `F: Send`, and the shared `ScopeState` is
        // `Sync`, so the job may run on a worker.
        let refused =
            unsafe { job.__enqueue(move |work| bindings::queue_work_on(ANY_CPU, wq, work)) };
        if let Err(job) = refused {
            // Never happens (see above); if it did, the job is dropped unrun, and its count
            // given back.
            drop(job);
            self.state.release();
        }
        Ok(())
    }
}

/// A closure spawned in a scope, with the count it gives back when it is done.
#[pin_data]
struct ScopedJob<'scope, F> {
    #[pin]
    work: Work<ScopedJob<'scope, F>>,
    func: Option<F>,
    state: &'scope ScopeState,
}

impl_has_work! {
    impl{'scope, F} HasWork<Self> for ScopedJob<'scope, F> { self.work }
}

impl<'scope, F: FnOnce()> WorkItem for ScopedJob<'scope, F> {
    type Pointer = Pin<KBox<Self>>;

    fn run(mut this: Pin<KBox<Self>>) {
        let state = this.state;
        // SAFETY: Only `func` is touched, which is not structurally pinned (no `#[pin]`).
        let func = unsafe { Pin::get_unchecked_mut(this.as_mut()) }.func.take();
        if let Some(func) = func {
            func();
        }
        // Everything that may borrow from the scope goes before the count does: the box (and
        // the closure's captures, already consumed by the call) first.
        drop(this);
        state.release();
    }
}
