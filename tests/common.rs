// SPDX-License-Identifier: GPL-2.0

//! What several suites use: observing the kernel from a test, what the kernel crate of every
//! supported kernel does not offer (time spans and sleeping, completions, the current CPU,
//! randomness, CPU hotplug), and shared test items.

use core::{
    ptr::NonNull,
    sync::atomic::{
        AtomicU32,
        AtomicUsize,
        Ordering, //
    },
};

use kernel::{
    bindings,
    ffi::{
        c_char,
        c_int,
        c_long,
        c_uint,
        c_ulong,
        c_void, //
    },
    prelude::*,
    sync::Arc,
    time::Jiffies,
    types::Opaque, //
};

use crate::gpu::wq::{
    compat::{
        self,
        ARef,
        AlwaysRefCounted,
        CStr, //
    },
    impl_has_work,
    kind::Known,
    new_work,
    Builder,
    OwnedQueue,
    QueueHandle,
    Work,
    WorkItem, //
};

extern "C" {
    fn wq_test_in_serving_softirq() -> bool;
    fn wq_test_in_task() -> bool;
    fn wq_test_in_hardirq() -> bool;
    fn wq_test_rcu_read_lock();
    fn wq_test_rcu_read_unlock();
    fn wq_test_call_in_timer(
        cpu: c_uint,
        delay: Jiffies,
        f: unsafe extern "C" fn(*mut c_void),
        arg: *mut c_void,
    );
    fn wq_test_call_in_hardirq(f: unsafe extern "C" fn(*mut c_void), arg: *mut c_void) -> c_int;
    fn wq_test_jiffies() -> Jiffies;
    fn wq_test_now_ns() -> u64;
    fn wq_test_fsleep(usecs: c_ulong);
    fn wq_test_udelay(usecs: c_ulong);
    fn wq_test_current_cpu() -> c_uint;
    fn wq_test_random_u64() -> u64;
    fn wq_test_cpu_down(cpu: c_uint) -> c_int;
    fn wq_test_cpu_up(cpu: c_uint) -> c_int;
    fn wq_test_completion_init(done: *mut bindings::completion);
    fn wq_test_read_sysfs(path: *const c_char, buf: *mut c_char, len: usize) -> c_long;
    fn wq_test_fail_allocations(fail: bool) -> bool;
    fn wq_test_num_online_cpus() -> c_uint;
    fn wq_test_skip(reason: *const c_char);
    // A `struct task_struct *`, opaque here: `task_struct` holds structs that are empty in
    // some configurations, which an `extern` declaration cannot take.
    fn wq_test_current_task() -> *mut c_void;
    fn wq_test_model_seed() -> u64;
    fn wq_test_model_ops() -> c_uint;
    fn wq_test_race_rounds() -> c_uint;
    fn wq_test_task_blocked(task: *mut c_void) -> bool;
}

/// Time spans, sleeping and spinning, as the tests use them (`kernel::time` on newer kernels).
pub(crate) mod time {
    use super::{
        wq_test_fsleep,
        wq_test_now_ns,
        wq_test_udelay, //
    };

    /// A time span, in microseconds.
    #[derive(Clone, Copy)]
    pub(crate) struct Delta(u64);

    impl Delta {
        pub(crate) fn from_millis(ms: i64) -> Self {
            Self(u64::try_from(ms).unwrap_or(0).saturating_mul(1000))
        }

        pub(crate) fn from_micros(us: i64) -> Self {
            Self(u64::try_from(us).unwrap_or(0))
        }
    }

    /// Sleeps for about `d` (`fsleep()`).
    pub(crate) fn fsleep(d: Delta) {
        // SAFETY: Sleeps; the tests call it from process context.
        unsafe { wq_test_fsleep(d.0 as usize) }
    }

    /// Spins for `d` (`udelay()`).
    pub(crate) fn udelay(d: Delta) {
        // SAFETY: Spins; allowed in any context.
        unsafe { wq_test_udelay(d.0 as usize) }
    }

    /// Now, in nanoseconds of the monotonic clock.
    pub(crate) fn now_ns() -> u64 {
        // SAFETY: Reads the clock.
        unsafe { wq_test_now_ns() }
    }
}

/// A C completion, as the tests use it (`kernel::sync::Completion` on newer kernels).
#[pin_data]
pub(crate) struct Completion {
    #[pin]
    done: Opaque<bindings::completion>,
}

// SAFETY: A completion is signalled and waited for from any thread; C synchronises it.
unsafe impl Send for Completion {}
// SAFETY: As above.
unsafe impl Sync for Completion {}

impl Completion {
    pub(crate) fn new() -> impl PinInit<Self> {
        pin_init!(Self {
            // SAFETY: `slot` is valid for writes and pinned.
            done <- Opaque::ffi_init(|slot| unsafe { wq_test_completion_init(slot) }),
        })
    }

    pub(crate) fn complete_all(&self) {
        // SAFETY: The completion is initialised.
        unsafe { bindings::complete_all(compat::opaque_ptr(&self.done)) }
    }

    pub(crate) fn wait_for_completion(&self) {
        // SAFETY: The completion is initialised.
        unsafe { bindings::wait_for_completion(compat::opaque_ptr(&self.done)) }
    }
}

/// The CPU the caller runs on (it may move right after).
pub(crate) fn current_cpu() -> u32 {
    // SAFETY: Reads the current CPU number.
    unsafe { wq_test_current_cpu() }
}

/// The number of CPU ids.
pub(crate) fn nr_cpu_ids() -> u32 {
    compat::nr_cpu_ids()
}

/// Takes `cpu` offline (`remove_cpu()`); returns the C answer.
pub(crate) fn cpu_down(cpu: u32) -> i32 {
    // SAFETY: Hotplug from process context.
    unsafe { wq_test_cpu_down(cpu) }
}

/// Brings `cpu` back online (`add_cpu()`); returns the C answer.
pub(crate) fn cpu_up(cpu: u32) -> i32 {
    // SAFETY: Hotplug from process context.
    unsafe { wq_test_cpu_up(cpu) }
}

/// A random number below `n` (0 for an `n` of 0).
///
/// No division here may panic: objtool (7.3) does not know that a division by zero's
/// `panic_const_rem_by_zero` does not return, and warns that the function falls through.
pub(crate) fn random_below(n: u32) -> u32 {
    // SAFETY: Always safe to call.
    (unsafe { wq_test_random_u64() } % u64::from(n.max(1))) as u32
}

/// Reads a (small) sysfs attribute, `path` being relative to the sysfs root; `None` if it
/// cannot be opened. It does not need /sys to be mounted (see `wq_test_read_sysfs()`).
pub(crate) fn read_sysfs(path: &CStr) -> Option<KVec<u8>> {
    let mut buf = [0u8; 128];
    // SAFETY: `path` is a C string and `buf` is writable for its length.
    let n =
        unsafe { wq_test_read_sysfs(compat::cstr_ptr(path), buf.as_mut_ptr().cast(), buf.len()) };
    let n = usize::try_from(n).ok()?;
    let mut v = KVec::new();
    v.extend_from_slice(&buf[..n], GFP_KERNEL).ok()?;
    Some(v)
}

/// Runs `f` with every slab allocation of this task failing (failslab, set up by the boot);
/// `None`, without running `f`, in a kernel without fault injection.
pub(crate) fn with_failing_allocations<R>(f: impl FnOnce() -> R) -> Option<R> {
    // SAFETY: Only flags the current task.
    if !unsafe { wq_test_fail_allocations(true) } {
        return None;
    }
    let r = f();
    // SAFETY: As above.
    unsafe { wq_test_fail_allocations(false) };
    Some(r)
}

/// Marks the running test case skipped, saying why; it must then return `Ok`.
pub(crate) fn skip(reason: &CStr) {
    pr_info!("skipped: {}\n", reason.to_str().unwrap_or("?"));
    // SAFETY: `reason` is a C string; the helper copies it.
    unsafe { wq_test_skip(compat::cstr_ptr(reason)) };
}

/// Whether the caller runs as a softirq (a BH work item does).
pub(crate) fn in_serving_softirq() -> bool {
    // SAFETY: Reads the current preempt count only.
    unsafe { wq_test_in_serving_softirq() }
}

/// Whether the caller runs in task context (a normal work item does).
pub(crate) fn in_task() -> bool {
    // SAFETY: Reads the current preempt count only.
    unsafe { wq_test_in_task() }
}

/// The current jiffies.
pub(crate) fn jiffies() -> Jiffies {
    // SAFETY: Reads a global counter.
    unsafe { wq_test_jiffies() }
}

/// Polls `cond` every millisecond for up to `ms` milliseconds; returns its last value.
pub(crate) fn wait_until(ms: u32, cond: impl Fn() -> bool) -> bool {
    for _ in 0..ms {
        if cond() {
            return true;
        }
        time::fsleep(time::Delta::from_millis(1));
    }
    cond()
}

/// Turns a freshly allocated object into an `ARef` holding its one reference; the object's
/// `dec_ref` frees it with [`release_boxed`].
pub(crate) fn into_aref<T: AlwaysRefCounted>(boxed: Pin<KBox<T>>) -> ARef<T> {
    // SAFETY: The box is leaked, never moved out of; `release_boxed` rebuilds and frees it.
    let raw = KBox::into_raw(unsafe { Pin::into_inner_unchecked(boxed) });
    // SAFETY: `raw` is valid and non-null; its one reference goes to the `ARef`.
    unsafe { ARef::from_raw(NonNull::new_unchecked(raw)) }
}

/// The `dec_ref` of test objects made by [`into_aref`]: drops one of the references counted
/// by `refs`, and frees the object if it was the last. Returns whether it freed it.
///
/// # Safety
///
/// The caller gives up one reference to `obj`, an object made by [`into_aref`] whose count
/// `refs` returns.
pub(crate) unsafe fn release_boxed<T>(obj: NonNull<T>, refs: fn(&T) -> &AtomicUsize) -> bool {
    // SAFETY: The caller gives up a reference to a live object.
    if refs(unsafe { obj.as_ref() }).fetch_sub(1, Ordering::AcqRel) != 1 {
        return false;
    }
    // SAFETY: That was the last reference; the object was allocated as a box.
    drop(unsafe { KBox::from_raw(obj.as_ptr()) });
    true
}

/// An item that sleeps `sleep_ms`, counts its runs, and re-queues itself `left` more times,
/// through a handle to the owned queue it was made for: what a drain or a drop must wait for,
/// or refuse. Once the queue's drain or drop has begun, a re-queue is refused, and counted.
#[pin_data]
pub(crate) struct Echo<K: Known> {
    pub(crate) runs: AtomicU32,
    /// Re-queues refused because the queue was draining or closing.
    pub(crate) refused: AtomicU32,
    left: AtomicU32,
    sleep_ms: u32,
    queue: QueueHandle<K>,
    #[pin]
    pub(crate) work: Work<Echo<K>>,
}

impl_has_work! {
    impl{K: Known} HasWork<Self> for Echo<K> { self.work }
}

impl<K: Known> Echo<K> {
    /// Makes an item that re-queues itself `requeues` times on `queue`.
    pub(crate) fn new(queue: &OwnedQueue<K>, requeues: u32, sleep_ms: u32) -> Result<Arc<Self>> {
        let queue = queue.handle()?;
        Arc::pin_init(
            pin_init!(Echo {
                runs: AtomicU32::new(0),
                refused: AtomicU32::new(0),
                left: AtomicU32::new(requeues),
                sleep_ms,
                queue,
                work <- new_work!("Echo::work"),
            }),
            GFP_KERNEL,
        )
    }

    pub(crate) fn runs(&self) -> u32 {
        self.runs.load(Ordering::Acquire)
    }

    pub(crate) fn refused(&self) -> u32 {
        self.refused.load(Ordering::Acquire)
    }

    /// Whether every re-queue it was made for is accounted for: each one it attempted either
    /// ran or was refused, and it attempted one after every run until none was left or one
    /// was refused. With `requeues` as given to `new`, once it is idle.
    pub(crate) fn accounted(&self, requeues: u32) -> bool {
        let (runs, refused) = (self.runs(), self.refused());
        let left = self.left.load(Ordering::Acquire);
        runs + refused + left == requeues + 1 && (left == 0 || refused == 1)
    }
}

impl<K: Known> WorkItem for Echo<K> {
    type Pointer = Arc<Echo<K>>;

    fn run(this: Arc<Echo<K>>) {
        if this.sleep_ms > 0 {
            time::fsleep(time::Delta::from_millis(this.sleep_ms.into()));
        }
        this.runs.fetch_add(1, Ordering::AcqRel);
        if this.left.load(Ordering::Acquire) > 0 {
            this.left.fetch_sub(1, Ordering::AcqRel);
            if let Err((_, this)) = QueueHandle::requeue(this, |e| &e.queue) {
                // Refused by the draining or closing queue: it will not run again.
                this.refused.fetch_add(1, Ordering::AcqRel);
            }
        }
    }
}

/// A small, fast pseudo-random generator (xorshift64*), one per test thread, seeded from the
/// kernel's random pool.
pub(crate) struct Rng(u64);

impl Rng {
    pub(crate) fn new() -> Self {
        // SAFETY: Always safe to call.
        Self::from_seed(unsafe { wq_test_random_u64() })
    }

    /// A generator whose numbers follow from `seed` alone, for a run that can be replayed.
    pub(crate) fn from_seed(seed: u64) -> Self {
        Self(seed | 1)
    }

    /// A random seed, from the kernel's random pool.
    pub(crate) fn random_seed() -> u64 {
        // SAFETY: Always safe to call.
        unsafe { wq_test_random_u64() }
    }

    /// A number below `n` (0 for an `n` of 0; no panic, as in [`random_below`]).
    pub(crate) fn below(&mut self, n: u32) -> u32 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let r = self.0.wrapping_mul(0x2545_f491_4f6c_dd1d);
        ((r >> 32) % u64::from(n.max(1))) as u32
    }

    /// True with probability 1/`n`.
    pub(crate) fn one_in(&mut self, n: u32) -> bool {
        self.below(n) == 0
    }
}

/// One test thread: a work item, pinned to CPU `index`, that runs `body(ctx, index)`.
#[pin_data]
struct TestThread<C: Send + Sync + 'static> {
    ctx: Arc<C>,
    body: fn(&C, u32),
    index: u32,
    /// The CPU the body started on.
    cpu: AtomicU32,
    #[pin]
    done: Completion,
    #[pin]
    work: Work<TestThread<C>>,
}

impl_has_work! {
    impl{C: Send + Sync + 'static} HasWork<Self> for TestThread<C> { self.work }
}

impl<C: Send + Sync + 'static> WorkItem for TestThread<C> {
    type Pointer = Arc<TestThread<C>>;

    fn run(this: Arc<TestThread<C>>) {
        this.cpu.store(current_cpu(), Ordering::Release);
        (this.body)(&this.ctx, this.index);
        this.done.complete_all();
    }
}

/// The CPUs that the race and model tests claim, and that the test boot gives QEMU.
pub(crate) const TEST_CPUS: u32 = 4;

/// Runs `body(ctx, i)` on CPU `i` for every `i` in `0..cpus`, all at once, and waits for all
/// of them. Fails unless those CPUs are online.
///
/// Each body is a work item queued on its CPU on a per-CPU queue of its own, so it is pinned
/// there. The queue is CPU-intensive: the bodies spin, and a per-CPU pool would otherwise hold
/// back the other items of that pool and CPU until they sleep. An assertion that fails in a
/// body fails the calling case (see `wq_test_assert_failed()`).
pub(crate) fn run_on_cpus<C: Send + Sync + 'static>(
    cpus: u32,
    ctx: &Arc<C>,
    body: fn(&C, u32),
) -> Result {
    let online = online_cpus();
    if online < cpus {
        pr_err!("this test needs {cpus} CPUs, and {online} are online\n");
        return Err(ENODEV);
    }
    let q = Builder::percpu()
        .cpu_intensive()
        .build(c"wq_rs_test_threads")?;
    let mut started = KVec::new();
    for index in 0..cpus {
        let t = Arc::pin_init(
            pin_init!(TestThread {
                ctx: ctx.clone(),
                body,
                index,
                cpu: AtomicU32::new(u32::MAX),
                done <- Completion::new(),
                work <- new_work!("TestThread::work"),
            }),
            GFP_KERNEL,
        )?;
        match q.enqueue_on(index, t.clone()) {
            Ok(Ok(())) => {}
            _ => return Err(EBUSY),
        }
        started.push(t, GFP_KERNEL)?;
    }
    for t in &started {
        t.done.wait_for_completion();
    }
    drop(q);
    for t in &started {
        let cpu = t.cpu.load(Ordering::Acquire);
        if cpu != t.index {
            pr_err!("test thread {} ran on CPU {cpu}\n", t.index);
            return Err(EINVAL);
        }
    }
    Ok(())
}

/// A barrier for the threads of [`run_on_cpus`]: `wait` returns once all `n` have arrived.
/// The handshake that lines racing threads up for each round, instead of a sleep.
pub(crate) struct Barrier {
    n: u32,
    arrived: AtomicU32,
    generation: AtomicU32,
}

impl Barrier {
    pub(crate) const fn new(n: u32) -> Self {
        Self {
            n,
            arrived: AtomicU32::new(0),
            generation: AtomicU32::new(0),
        }
    }

    /// Waits, spinning, until all `n` threads have called `wait` for this round.
    pub(crate) fn wait(&self) {
        let generation = self.generation.load(Ordering::Acquire);
        if self.arrived.fetch_add(1, Ordering::AcqRel) + 1 == self.n {
            // The last one in opens the next round; the others leave only after this.
            self.arrived.store(0, Ordering::Relaxed);
            self.generation.fetch_add(1, Ordering::AcqRel);
        } else {
            while self.generation.load(Ordering::Acquire) == generation {
                core::hint::spin_loop();
            }
        }
    }
}

/// Counts one outcome a race test claims to cover.
pub(crate) struct Outcome {
    pub(crate) name: &'static str,
    count: AtomicUsize,
}

impl Outcome {
    pub(crate) const fn new(name: &'static str) -> Self {
        Self {
            name,
            count: AtomicUsize::new(0),
        }
    }

    pub(crate) fn add(&self, n: usize) {
        self.count.fetch_add(n, Ordering::AcqRel);
    }

    pub(crate) fn hit(&self) {
        self.add(1);
    }

    pub(crate) fn get(&self) -> usize {
        self.count.load(Ordering::Acquire)
    }

    /// Prints the count under `test`, and whether it reached `min`; returns whether it did.
    pub(crate) fn reached(&self, test: &str, min: usize) -> bool {
        let n = self.get();
        let ok = n >= min;
        if ok {
            pr_info!("{test}: {}: {n} (at least {min})\n", self.name);
        } else {
            pr_err!(
                "{test}: {}: {n}, fewer than the {min} the test requires\n",
                self.name
            );
        }
        ok
    }
}

/// Sleeps until the task that published itself in `task` blocks (in an uninterruptible wait,
/// such as a flush's), or `ms` milliseconds pass; returns whether it blocked. The handshake
/// that lets a helper act only once the test's own thread is waiting.
pub(crate) fn wait_until_blocked(task: &Task, ms: u32) -> bool {
    wait_until(ms, || task.is_blocked())
}

/// A task, as [`wait_until_blocked`] watches it.
pub(crate) struct Task(NonNull<c_void>);

// SAFETY: A task pointer may be read from any thread; the tests keep the task alive.
unsafe impl Send for Task {}
// SAFETY: As above.
unsafe impl Sync for Task {}

impl Task {
    /// The calling task. It must outlive every use of the result (the tests only hand it to
    /// helpers that they wait for).
    pub(crate) fn current() -> Self {
        // SAFETY: Reads `current`, never null in task context.
        Self(unsafe { NonNull::new_unchecked(wq_test_current_task()) })
    }

    /// Whether the task is in an uninterruptible wait.
    pub(crate) fn is_blocked(&self) -> bool {
        // SAFETY: The task is alive (see `current`); the helper reads its state.
        unsafe { wq_test_task_blocked(self.0.as_ptr()) }
    }

    /// The task as a raw pointer, to publish it in an atomic.
    pub(crate) fn as_ptr(&self) -> *mut c_void {
        self.0.as_ptr()
    }

    /// The task that [`Task::as_ptr`] published, if any.
    ///
    /// # Safety
    ///
    /// `ptr` must be null or come from [`Task::as_ptr`] of a task that is still alive.
    pub(crate) unsafe fn from_ptr(ptr: *mut c_void) -> Option<Self> {
        NonNull::new(ptr).map(Self)
    }
}

/// The model test's `model_seed` and `model_ops` module parameters.
pub(crate) fn model_params() -> (u64, u32) {
    // SAFETY: Read module parameters, set at load.
    unsafe { (wq_test_model_seed(), wq_test_model_ops()) }
}

/// The race tests' rounds per thread: the `race_rounds` module parameter, at least 300.
pub(crate) fn race_rounds() -> u32 {
    // SAFETY: Reads a module parameter, set at load.
    unsafe { wq_test_race_rounds() }
}

/// The number of CPUs the guest brought up.
pub(crate) fn online_cpus() -> u32 {
    // SAFETY: Reads a counter the kernel keeps.
    unsafe { wq_test_num_online_cpus() }
}

/// Calls `f` through `arg`, a `*mut &mut dyn FnMut()`: the C side of the calls below.
///
/// # Safety
///
/// `arg` must point at a live `&mut dyn FnMut()` that nobody else uses during the call.
unsafe extern "C" fn call_closure(arg: *mut c_void) {
    // SAFETY: `arg` is the `&mut &mut dyn FnMut()` that the caller below lends C for the call.
    let f = unsafe { &mut *arg.cast::<&mut dyn FnMut()>() };
    f();
}

/// Runs `f` in a timer callback (softirq context) on CPU `cpu`, `delay` jiffies from now, and
/// waits for it.
pub(crate) fn in_timer_on(cpu: u32, delay: Jiffies, mut f: impl FnMut() + Send) {
    let mut f: &mut dyn FnMut() = &mut f;
    // SAFETY: `f` outlives the call, which waits for the callback; `call_closure` takes the
    // pointer as what it is.
    unsafe { wq_test_call_in_timer(cpu, delay, call_closure, (&raw mut f).cast()) }
}

/// Runs `f` in hard-IRQ context (an IPI) on another CPU than the caller's, and waits for it;
/// false if no other CPU could be reached.
pub(crate) fn in_hardirq_elsewhere(mut f: impl FnMut() + Send) -> bool {
    let mut f: &mut dyn FnMut() = &mut f;
    // SAFETY: As for `in_timer_on`: the IPI is waited for.
    unsafe { wq_test_call_in_hardirq(call_closure, (&raw mut f).cast()) == 0 }
}

/// Whether the caller runs in hard-IRQ context.
pub(crate) fn in_hardirq() -> bool {
    // SAFETY: Reads the preempt count only.
    unsafe { wq_test_in_hardirq() }
}

/// Enters an RCU read-side section (`rcu_read_lock()`); the caller must not sleep until
/// [`rcu_read_unlock`].
pub(crate) fn rcu_read_lock() {
    // SAFETY: Balanced by the caller with `rcu_read_unlock`, on this thread.
    unsafe { wq_test_rcu_read_lock() }
}

/// Leaves the RCU read-side section of [`rcu_read_lock`].
pub(crate) fn rcu_read_unlock() {
    // SAFETY: The caller entered one with `rcu_read_lock`, on this thread.
    unsafe { wq_test_rcu_read_unlock() }
}
