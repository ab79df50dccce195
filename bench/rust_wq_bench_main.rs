// SPDX-License-Identifier: GPL-2.0

//! Benchmarks: each path of this library against the kernel crate's `kernel::workqueue` (where
//! it has the path), bare C, and C doing the reference counting that the Rust ownership model
//! does (`kref_get()` before queueing, `kref_put()` after the run or the cancel), all in the
//! same boot (see README.md, "Performance").
//!
//! Each path runs in paired rounds: every round runs each implementation once, in an order
//! drawn from a seeded generator (the seed is printed; the `seed` parameter replays it), until
//! the path has had its minimum of rounds and its time budget, or its maximum of rounds. Each
//! round's values, and for latency paths the per-operation percentiles, go to the console as
//! `WQ-BENCH-*` lines, from which `scripts/bench-report.py` computes per-round ratios with their
//! spread, prints the table and writes `results.json`. Loaded with `mode=smoke`, it runs every
//! path briefly, so that `make check` keeps it working.

use core::{
    cell::Cell,
    ffi::c_void,
    fmt::Write,
    ptr::NonNull,
    sync::atomic::{
        fence,
        AtomicI32,
        AtomicU64,
        Ordering, //
    },
};

use kernel::{
    bindings,
    ffi::c_int,
    prelude::*,
    sync::Arc, //
};

#[path = "../src/workqueue.rs"]
pub mod workqueue;

/// Where the library's macros find it (here, where README.md suggests mounting it).
use workqueue as workqueue_lib;

use workqueue::{
    compat::{
        ARef,
        AlwaysRefCounted, //
    },
    impl_has_delayed_work,
    impl_has_tracked_delayed_work,
    impl_has_work,
    kind,
    new_delayed_work,
    new_tracked_delayed_work,
    new_work,
    system,
    Builder,
    Delay,
    DelayedWork,
    OwnedQueue,
    Queue,
    QueueHandle,
    TrackedDelayedWork,
    Work,
    WorkItem, //
};

#[cfg(not(wq_kernel_6))]
module! {
    type: Bench,
    name: "rust_wq_bench",
    authors: ["The workqueue authors"],
    description: "Benchmarks of the Rust workqueue library against the kernel crate and C",
    license: "GPL",
}

// The 6.12 kernel crate's `module!` spells it `author`.
#[cfg(wq_kernel_6)]
module! {
    type: Bench,
    name: "rust_wq_bench",
    author: "The workqueue authors",
    description: "Benchmarks of the Rust workqueue library against the kernel crate and C",
    license: "GPL",
}

/// The C side, in `bench_c.c`. A `*mut c_void` item is a `struct wq_bench_item`.
mod c {
    use kernel::bindings::{
        completion,
        workqueue_struct, //
    };

    use core::ffi::c_void;

    use kernel::ffi::c_int;

    extern "C" {
        pub(crate) fn wq_bench_smoke() -> bool;
        pub(crate) fn wq_bench_seed() -> u64;
        pub(crate) fn wq_bench_now() -> u64;
        pub(crate) fn wq_bench_done_new() -> *mut completion;
        pub(crate) fn wq_bench_done_free(done: *mut completion);
        pub(crate) fn wq_bench_done_signal(done: *mut completion);
        pub(crate) fn wq_bench_done_wait(done: *mut completion);
        pub(crate) fn wq_bench_done_reinit(done: *mut completion);
        pub(crate) fn wq_bench_threads(
            n: c_int,
            body: unsafe extern "C" fn(ctx: *mut c_void, index: c_int),
            ctx: *mut c_void,
        ) -> u64;
        pub(crate) fn wq_bench_item_new(counted: bool, done: *mut completion) -> *mut c_void;
        pub(crate) fn wq_bench_item_put(item: *mut c_void);
        pub(crate) fn wq_bench_c_enqueue_cancel(item: *mut c_void, wq: *mut workqueue_struct, n: u32);
        pub(crate) fn wq_bench_c_arm_cancel(item: *mut c_void, wq: *mut workqueue_struct, n: u32);
        pub(crate) fn wq_bench_c_round_trip(item: *mut c_void, wq: *mut workqueue_struct) -> u64;
        pub(crate) fn wq_bench_c_queue_and_wait(item: *mut c_void, wq: *mut workqueue_struct)
            -> u64;
        pub(crate) fn wq_bench_c_spawn(wq: *mut workqueue_struct, n: u32);
        pub(crate) fn wq_bench_c_build_drop(n: u32);
        pub(crate) fn wq_bench_c_move_cancel(
            items: *const *mut c_void,
            k: u32,
            a: *mut workqueue_struct,
            b: *mut workqueue_struct,
            first: u32,
            n: u32,
        );
        pub(crate) fn wq_bench_c_alloc_unbound() -> *mut workqueue_struct;
    }
}

/// Now, in nanoseconds.
fn now() -> u64 {
    // SAFETY: Reads the clock.
    unsafe { c::wq_bench_now() }
}

/// A C completion, owned.
struct Done(*mut bindings::completion);

// SAFETY: A completion is signalled and waited for from any thread.
unsafe impl Send for Done {}
// SAFETY: As above.
unsafe impl Sync for Done {}

impl Done {
    fn new() -> Result<Self> {
        // SAFETY: Allocates and initialises a completion.
        let done = unsafe { c::wq_bench_done_new() };
        if done.is_null() {
            return Err(ENOMEM);
        }
        Ok(Self(done))
    }

    fn signal(&self) {
        // SAFETY: `self.0` is a live completion.
        unsafe { c::wq_bench_done_signal(self.0) }
    }

    fn wait(&self) {
        // SAFETY: `self.0` is a live completion.
        unsafe { c::wq_bench_done_wait(self.0) }
    }

    fn reinit(&self) {
        // SAFETY: `self.0` is a live completion.
        unsafe { c::wq_bench_done_reinit(self.0) }
    }
}

impl Drop for Done {
    fn drop(&mut self) {
        // SAFETY: Nothing waits on it any more: its owner is going.
        unsafe { c::wq_bench_done_free(self.0) }
    }
}

/// A C item (`struct wq_bench_item`), bare or counting references, owned.
struct CItem(*mut c_void);

// SAFETY: The C item is used by one thread at a time, and by the queue.
unsafe impl Send for CItem {}
// SAFETY: As above.
unsafe impl Sync for CItem {}

impl CItem {
    fn new(counted: bool, done: Option<&Done>) -> Result<Self> {
        let done = done.map_or(core::ptr::null_mut(), |d| d.0);
        // SAFETY: Allocates an item; `done` outlives it (the callers keep it longer).
        let item = unsafe { c::wq_bench_item_new(counted, done) };
        if item.is_null() {
            return Err(ENOMEM);
        }
        Ok(Self(item))
    }
}

impl Drop for CItem {
    fn drop(&mut self) {
        // SAFETY: Drops our reference; the item is idle (every benchmark waits for its runs).
        unsafe { c::wq_bench_item_put(self.0) }
    }
}

/// Declares a benchmark item owned by `$ptr`: a work field, a system-queue delayed field and a
/// tracked field, each run noting the time and signalling whoever waits.
macro_rules! bench_item {
    ($name:ident, $ptr:ident) => {
        #[pin_data]
        struct $name {
            /// The reference count of `ARef` items (unused by `Arc` ones).
            refs: RefCount,
            done: Option<Done>,
            ran_at: AtomicU64,
            #[pin]
            work: Work<$name, 0>,
            #[pin]
            dwork: DelayedWork<$name, 1>,
            #[pin]
            tracked: TrackedDelayedWork<$name, 2>,
        }

        impl_has_work! {
            impl HasWork<$name, 0> for $name { self.work }
        }

        impl_has_delayed_work! {
            impl HasDelayedWork<$name, 1> for $name { self.dwork }
        }

        impl_has_tracked_delayed_work! {
            impl HasTrackedDelayedWork<$name, 2> for $name { self.tracked }
        }

        impl $name {
            fn init(done: Option<Done>) -> impl PinInit<Self> {
                pin_init!($name {
                    refs: RefCount::new(),
                    done,
                    ran_at: AtomicU64::new(0),
                    work <- new_work!("bench::item::work"),
                    dwork <- new_delayed_work!("bench::item::dwork"),
                    tracked <- new_tracked_delayed_work!("bench::item::tracked"),
                })
            }

            /// What every run does: note the time, and signal whoever waits.
            fn ran(&self) {
                self.ran_at.store(now(), Ordering::Release);
                if let Some(done) = &self.done {
                    done.signal();
                }
            }

            fn done(&self) -> &Done {
                self.done.as_ref().unwrap_or_else(|| unreachable!())
            }
        }

        impl WorkItem<0> for $name {
            type Pointer = $ptr<$name>;

            fn run(this: $ptr<$name>) {
                this.ran();
            }
        }

        impl WorkItem<1> for $name {
            type Pointer = $ptr<$name>;

            fn run(this: $ptr<$name>) {
                this.ran();
            }
        }

        impl WorkItem<2> for $name {
            type Pointer = $ptr<$name>;

            fn run(this: $ptr<$name>) {
                this.ran();
            }
        }
    };
}

bench_item!(Item, Arc);
bench_item!(RItem, ARef);

impl Item {
    fn new(done: Option<Done>) -> Result<Arc<Item>> {
        Arc::pin_init(Item::init(done), GFP_KERNEL)
    }
}

/// A reference count with `refcount_t`'s semantics, inline, as `kref` is in C
/// (`include/linux/refcount.h`): increments are relaxed, the decrement that reaches zero
/// orders with an acquire fence, and a count that would overflow, or is used after it reached
/// zero, saturates (and warns, once) instead of wrapping. What the `ARef` column's owner
/// pays, so that it compares with C + kref as an equal.
struct RefCount(AtomicI32);

/// `REFCOUNT_SATURATED`: where a broken count stays.
const REFCOUNT_SATURATED: i32 = i32::MIN / 2;

impl RefCount {
    fn new() -> Self {
        Self(AtomicI32::new(1))
    }

    #[cold]
    fn saturate(&self) {
        static WARNED: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);
        self.0.store(REFCOUNT_SATURATED, Ordering::Relaxed);
        if !WARNED.swap(true, Ordering::Relaxed) {
            pr_warn!("rust_wq_bench: reference count saturated\n");
        }
    }

    /// `refcount_inc()`.
    #[inline]
    fn inc(&self) {
        let old = self.0.fetch_add(1, Ordering::Relaxed);
        if old <= 0 || old.checked_add(1).is_none() {
            self.saturate();
        }
    }

    /// `refcount_dec_and_test()`: whether that was the last reference.
    #[inline]
    fn dec_and_test(&self) -> bool {
        let old = self.0.fetch_sub(1, Ordering::Release);
        if old == 1 {
            fence(Ordering::Acquire);
            return true;
        }
        if old <= 0 {
            self.saturate();
        }
        false
    }
}

// SAFETY: Counted with `refcount_t`'s semantics, inline (`RefCount`); the last reference frees
// the box it was made in, once, and a broken count saturates rather than frees.
unsafe impl AlwaysRefCounted for RItem {
    #[inline]
    fn inc_ref(&self) {
        self.refs.inc();
    }

    #[inline]
    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller gives up a reference to a live object.
        if unsafe { obj.as_ref() }.refs.dec_and_test() {
            // SAFETY: That was the last reference; the object was made in a box by `new`.
            drop(unsafe { KBox::from_raw(obj.as_ptr()) });
        }
    }
}

impl RItem {
    fn new(done: Option<Done>) -> Result<ARef<RItem>> {
        let boxed = KBox::pin_init(RItem::init(done), GFP_KERNEL)?;
        // SAFETY: The box is leaked, never moved out of; `dec_ref` rebuilds and frees it.
        let raw = KBox::into_raw(unsafe { Pin::into_inner_unchecked(boxed) });
        // SAFETY: `raw` is valid and non-null; its one reference goes to the `ARef`.
        Ok(unsafe { ARef::from_raw(NonNull::new_unchecked(raw)) })
    }
}

/// The kernel crate's item, for the paths it has.
#[pin_data]
struct KItem {
    done: Done,
    ran_at: AtomicU64,
    #[pin]
    work: kernel::workqueue::Work<KItem>,
}

kernel::impl_has_work! {
    impl HasWork<Self> for KItem { self.work }
}

impl kernel::workqueue::WorkItem for KItem {
    type Pointer = Arc<KItem>;

    fn run(this: Arc<KItem>) {
        this.ran_at.store(now(), Ordering::Release);
        this.done.signal();
    }
}

impl KItem {
    fn new() -> Result<Arc<KItem>> {
        let done = Done::new()?;
        Arc::pin_init(
            pin_init!(KItem {
                done,
                ran_at: AtomicU64::new(0),
                work <- kernel::new_work!("bench::KItem::work"),
            }),
            GFP_KERNEL,
        )
    }
}

/// Views `q` as the kernel crate's queue, to run its paths on the same queue as ours.
///
/// # Safety
///
/// Only immediate queueing may be done through the view (no delayed work: `q` is destroyed
/// when the benchmark ends, after its items have run), and only while `q` lives.
unsafe fn kernel_view<K: kind::Kind>(q: &Queue<K>) -> &kernel::workqueue::Queue {
    // SAFETY: The same live workqueue; the caller limits what is done with it.
    unsafe { kernel::workqueue::Queue::from_raw(q.as_raw()) }
}

/// The implementations a path is measured with: the columns of the table.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Impl {
    /// This library, with `Arc` owners.
    Rust,
    /// This library, with an `ARef` owner counted as `kref` is (`RefCount`).
    RustAref,
    /// This library, with `Arc` owners, queueing through a [`QueueHandle`] (its gate's
    /// `percpu_ref` and RCU section around each enqueue).
    RustHandle,
    /// The kernel crate's `kernel::workqueue`, where it has the path.
    Kernel,
    /// The same loop written against the C API.
    C,
    /// C doing the reference counting that the Rust ownership does (`kref`).
    CKref,
}

impl Impl {
    /// The name `scripts/bench-report.py` knows the column by.
    fn name(self) -> &'static str {
        match self {
            Impl::Rust => "rust",
            Impl::RustAref => "rust_aref",
            Impl::RustHandle => "rust_handle",
            Impl::Kernel => "kernel",
            Impl::C => "c",
            Impl::CKref => "c_kref",
        }
    }
}

/// One run of an implementation: its figure (nanoseconds per operation, the median latency of
/// its operations, or operations per second), and for latency paths every operation's latency.
#[derive(Default)]
struct Sample {
    value: u64,
    latencies: Option<KVVec<u64>>,
}

impl Sample {
    fn per_op(total_ns: u64, n: u32) -> Sample {
        Sample {
            value: total_ns / u64::from(n.max(1)),
            latencies: None,
        }
    }

    /// The sample of a run's latencies: their median as the run's figure, and all of them.
    fn of_latencies(mut lat: KVVec<u64>) -> Sample {
        lat.sort_unstable();
        Sample {
            value: lat.get(lat.len() / 2).copied().unwrap_or(0),
            latencies: Some(lat),
        }
    }
}

/// A line of text being written, for the console.
struct Line(KVec<u8>);

impl Line {
    fn new() -> Self {
        Line(KVec::new())
    }

    fn as_str(&self) -> Result<&str> {
        core::str::from_utf8(&self.0).map_err(|_| EINVAL)
    }
}

impl Write for Line {
    fn write_str(&mut self, s: &str) -> core::fmt::Result {
        self.0
            .extend_from_slice(s.as_bytes(), GFP_KERNEL)
            .map_err(|_| core::fmt::Error)
    }
}

/// An implementation of a path, and a run of `n` operations of it.
type Runner<'a> = (Impl, &'a mut dyn FnMut(u32) -> Result<Sample>);

/// How much the benchmarks run, and the generator of the rounds' orders.
struct Plan {
    /// Rounds of every path, at least and at most; between the two, a path goes on until it
    /// has run for `budget_ns`.
    min_rounds: u32,
    max_rounds: u32,
    budget_ns: u64,
    /// Operations per run of a single-thread path.
    ops: u32,
    /// Items per thread of the throughput runs.
    items: u32,
    /// Queue creations per run.
    queues: u32,
    threads: usize,
    /// The state of the xorshift64* generator of the orders, seeded from `seed`.
    rng: Cell<u64>,
    /// The number of the next path.
    next_path: Cell<u32>,
    /// The most latencies kept per implementation and path.
    max_latencies: usize,
}

impl Plan {
    /// A number below `n` (`n` > 0), from the seeded generator.
    fn below(&self, n: usize) -> usize {
        let mut x = self.rng.get();
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng.set(x);
        ((x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 32) % n.max(1) as u64) as usize
    }

    /// The order of a round: the implementations' indices, shuffled (Fisher-Yates).
    fn order(&self, k: usize) -> [usize; 5] {
        let mut order = [0, 1, 2, 3, 4];
        for i in (1..k).rev() {
            order.swap(i, self.below(i + 1));
        }
        order
    }
}

/// Percentiles and mean of latencies, sorted or not.
fn latency_stats(lat: &mut KVVec<u64>) -> (u64, u64, u64) {
    lat.sort_unstable();
    let n = lat.len();
    if n == 0 {
        return (0, 0, 0);
    }
    let at = |pct: usize| lat.get(((n * pct) / 100).min(n - 1)).copied().unwrap_or(0);
    let mean = lat.iter().sum::<u64>() / n as u64;
    (at(50), at(99), mean)
}

/// Runs the implementations of a path in paired rounds, each round in an order drawn from the
/// plan's generator (after a short warm-up run each, unless `ops` is 0: runs that are long
/// enough alone), and prints the path, each round's values and the latency statistics as
/// `WQ-BENCH-*` lines. `higher` says whether a higher value is better (operations per second).
fn compare(
    plan: &Plan,
    path: &str,
    unit: &str,
    higher: bool,
    ops: u32,
    impls: &mut [Runner<'_>],
) -> Result {
    let k = impls.len();
    if k > 5 {
        return Err(EINVAL);
    }
    let id = plan.next_path.get();
    plan.next_path.set(id + 1);
    let mut line = Line::new();
    write!(
        line,
        "WQ-BENCH-PATH {{\"id\":{id},\"path\":\"{path}\",\"unit\":\"{unit}\",\"higher\":{higher},\"impls\":["
    )?;
    for (i, (imp, _)) in impls.iter().enumerate() {
        write!(line, "{}\"{}\"", if i == 0 { "" } else { "," }, imp.name())?;
    }
    write!(line, "]}}")?;
    pr_info!("{}\n", line.as_str()?);
    if ops > 0 {
        for (_, run) in impls.iter_mut() {
            run((ops / 10).max(1))?;
        }
    }
    let mut pooled: KVec<Option<KVVec<u64>>> = KVec::new();
    for _ in 0..k {
        pooled.push(None, GFP_KERNEL)?;
    }
    let start = now();
    let mut round = 0;
    while round < plan.min_rounds
        || (round < plan.max_rounds && now() - start < plan.budget_ns)
    {
        let order = plan.order(k);
        let mut values = [0u64; 5];
        for &i in &order[..k] {
            let sample = (impls[i].1)(ops)?;
            values[i] = sample.value;
            if let Some(lat) = sample.latencies {
                let pool = pooled[i].get_or_insert_with(KVVec::new);
                for &l in lat.iter().take(plan.max_latencies.saturating_sub(pool.len())) {
                    pool.push(l, GFP_KERNEL)?;
                }
            }
        }
        let mut line = Line::new();
        write!(line, "WQ-BENCH-ROUND {{\"id\":{id},\"r\":{round},\"order\":[")?;
        for (n, &i) in order[..k].iter().enumerate() {
            write!(line, "{}\"{}\"", if n == 0 { "" } else { "," }, impls[i].0.name())?;
        }
        write!(line, "],\"v\":[")?;
        for (i, v) in values[..k].iter().enumerate() {
            write!(line, "{}{v}", if i == 0 { "" } else { "," })?;
        }
        write!(line, "]}}")?;
        pr_info!("{}\n", line.as_str()?);
        round += 1;
    }
    for (i, pool) in pooled.iter_mut().enumerate() {
        if let Some(lat) = pool {
            let (p50, p99, mean) = latency_stats(lat);
            pr_info!(
                "WQ-BENCH-LAT {{\"id\":{id},\"impl\":\"{}\",\"n\":{},\"p50\":{p50},\"p99\":{p99},\"mean\":{mean}}}\n",
                impls[i].0.name(),
                lat.len()
            );
        }
    }
    pr_info!(
        "WQ-BENCH-END {{\"id\":{id},\"rounds\":{round},\"ms\":{}}}\n",
        (now() - start) / 1_000_000
    );
    Ok(())
}

/// An ordered queue held busy by a closure until the returned completion is signalled, so
/// that what is queued behind it stays queued.
fn blocked_queue() -> Result<(OwnedQueue<kind::Ordered>, Arc<Done>)> {
    let q = Builder::ordered().build(c"wq_bench_blocked")?;
    let gate = Arc::new(Done::new()?, GFP_KERNEL)?;
    let g = gate.clone();
    q.try_spawn(GFP_KERNEL, move || g.wait())?;
    Ok((q, gate))
}

/// Runs `body(ctx, i)` on `n` threads bound to CPUs 0..n at once; returns the nanoseconds they
/// took together.
fn on_threads<C: Sync>(n: usize, ctx: &C, body: fn(&C, usize)) -> Result<u64> {
    struct Trampoline<'a, C> {
        ctx: &'a C,
        body: fn(&C, usize),
    }

    /// Calls the body for thread `index`.
    ///
    /// # Safety
    ///
    /// `t` must point at a live `Trampoline<'_, C>`.
    unsafe extern "C" fn trampoline<C>(t: *mut c_void, index: c_int) {
        // SAFETY: `t` is the `Trampoline` below, alive until every thread is done.
        let t = unsafe { &*t.cast::<Trampoline<'_, C>>() };
        (t.body)(t.ctx, index as usize)
    }

    let t = Trampoline { ctx, body };
    // SAFETY: The threads only use `t` (and `ctx`, which is `Sync`) until the call returns,
    // which it does when all of them are done.
    let took = unsafe {
        c::wq_bench_threads(
            n as c_int,
            trampoline::<C>,
            core::ptr::from_ref(&t).cast_mut().cast(),
        )
    };
    if took == 0 {
        return Err(ENOMEM);
    }
    Ok(took)
}

fn enqueue_cancel(plan: &Plan) -> Result {
    let (q, gate) = blocked_queue()?;
    let handle: QueueHandle<kind::Ordered> = q.handle()?;
    let item = Item::new(None)?;
    let ritem = RItem::new(None)?;
    let (bare, counted) = (CItem::new(false, None)?, CItem::new(true, None)?);
    let wq = q.as_raw();
    compare(
        plan,
        "enqueue + cancel",
        "ns/op",
        false,
        plan.ops,
        &mut [
            (Impl::Rust, &mut |n| {
                let start = now();
                for _ in 0..n {
                    let _ = q.enqueue::<_, 0>(item.clone());
                    drop(item.work.cancel());
                }
                Ok(Sample::per_op(now() - start, n))
            }),
            (Impl::RustAref, &mut |n| {
                let start = now();
                for _ in 0..n {
                    let _ = q.enqueue::<_, 0>(ritem.clone());
                    drop(ritem.work.cancel());
                }
                Ok(Sample::per_op(now() - start, n))
            }),
            (Impl::RustHandle, &mut |n| {
                let start = now();
                for _ in 0..n {
                    let _ = handle.enqueue::<_, 0>(item.clone());
                    drop(item.work.cancel());
                }
                Ok(Sample::per_op(now() - start, n))
            }),
            (Impl::C, &mut |n| {
                let start = now();
                // SAFETY: A live item and queue; the loop cancels what it queues.
                unsafe { c::wq_bench_c_enqueue_cancel(bare.0, wq, n) };
                Ok(Sample::per_op(now() - start, n))
            }),
            (Impl::CKref, &mut |n| {
                let start = now();
                // SAFETY: As above.
                unsafe { c::wq_bench_c_enqueue_cancel(counted.0, wq, n) };
                Ok(Sample::per_op(now() - start, n))
            }),
        ],
    )?;
    gate.signal();
    Ok(())
}

/// Latencies of `n` round trips of `one`, which returns one latency.
fn round_trips(n: u32, mut one: impl FnMut() -> u64) -> Result<Sample> {
    let mut lat = KVVec::with_capacity(n as usize, GFP_KERNEL)?;
    for _ in 0..n {
        lat.push(one(), GFP_KERNEL)?;
    }
    Ok(Sample::of_latencies(lat))
}

fn round_trip(plan: &Plan) -> Result {
    let q = Builder::unbound().build(c"wq_bench_rt")?;
    let wq = q.as_raw();
    // SAFETY: Only `enqueue` is used through it, and only here, while `q` lives.
    let kq = unsafe { kernel_view(&q) };
    let item = Item::new(Some(Done::new()?))?;
    let ritem = RItem::new(Some(Done::new()?))?;
    let kitem = KItem::new()?;
    let (bare_done, kref_done) = (Done::new()?, Done::new()?);
    let bare = CItem::new(false, Some(&bare_done))?;
    let counted = CItem::new(true, Some(&kref_done))?;
    compare(
        plan,
        "enqueue -> run round trip (per round: median latency)",
        "ns",
        false,
        plan.ops / 4,
        &mut [
            (Impl::Rust, &mut |n| {
                round_trips(n, || {
                    item.done().reinit();
                    let start = now();
                    let _ = q.enqueue::<_, 0>(item.clone());
                    item.done().wait();
                    item.ran_at.load(Ordering::Acquire) - start
                })
            }),
            (Impl::RustAref, &mut |n| {
                round_trips(n, || {
                    ritem.done().reinit();
                    let start = now();
                    let _ = q.enqueue::<_, 0>(ritem.clone());
                    ritem.done().wait();
                    ritem.ran_at.load(Ordering::Acquire) - start
                })
            }),
            (Impl::Kernel, &mut |n| {
                round_trips(n, || {
                    kitem.done.reinit();
                    let start = now();
                    let _ = kq.enqueue(kitem.clone());
                    kitem.done.wait();
                    kitem.ran_at.load(Ordering::Acquire) - start
                })
            }),
            (Impl::C, &mut |n| {
                // SAFETY: A live item with a completion, and a live queue.
                round_trips(n, || unsafe { c::wq_bench_c_round_trip(bare.0, wq) })
            }),
            (Impl::CKref, &mut |n| {
                // SAFETY: As above.
                round_trips(n, || unsafe { c::wq_bench_c_round_trip(counted.0, wq) })
            }),
        ],
    )
}

fn arm_cancel_system(plan: &Plan) -> Result {
    let item = Item::new(None)?;
    let ritem = RItem::new(None)?;
    let (bare, counted) = (CItem::new(false, None)?, CItem::new(true, None)?);
    let wq = system().as_raw();
    let minute = Delay::from_millis(60_000);
    compare(
        plan,
        "delayed arm + cancel, system queue",
        "ns/op",
        false,
        plan.ops,
        &mut [
            (Impl::Rust, &mut |n| {
                let start = now();
                for _ in 0..n {
                    let _ = system().enqueue_delayed::<_, 1>(item.clone(), minute);
                    drop(item.dwork.cancel());
                }
                Ok(Sample::per_op(now() - start, n))
            }),
            (Impl::RustAref, &mut |n| {
                let start = now();
                for _ in 0..n {
                    let _ = system().enqueue_delayed::<_, 1>(ritem.clone(), minute);
                    drop(ritem.dwork.cancel());
                }
                Ok(Sample::per_op(now() - start, n))
            }),
            (Impl::C, &mut |n| {
                let start = now();
                // SAFETY: A live item and a system queue; the loop cancels what it arms.
                unsafe { c::wq_bench_c_arm_cancel(bare.0, wq, n) };
                Ok(Sample::per_op(now() - start, n))
            }),
            (Impl::CKref, &mut |n| {
                let start = now();
                // SAFETY: As above.
                unsafe { c::wq_bench_c_arm_cancel(counted.0, wq, n) };
                Ok(Sample::per_op(now() - start, n))
            }),
        ],
    )
}

fn arm_cancel_tracked(plan: &Plan) -> Result {
    let q = Builder::unbound().build(c"wq_bench_tracked")?;
    let item = Item::new(None)?;
    let ritem = RItem::new(None)?;
    let (bare, counted) = (CItem::new(false, None)?, CItem::new(true, None)?);
    let wq = q.as_raw();
    let minute = Delay::from_millis(60_000);
    compare(
        plan,
        "tracked arm + cancel, owned queue",
        "ns/op",
        false,
        plan.ops,
        &mut [
            (Impl::Rust, &mut |n| {
                let start = now();
                for _ in 0..n {
                    let _ = q.enqueue_delayed::<_, 2>(item.clone(), minute);
                    drop(item.tracked.cancel());
                }
                Ok(Sample::per_op(now() - start, n))
            }),
            (Impl::RustAref, &mut |n| {
                let start = now();
                for _ in 0..n {
                    let _ = q.enqueue_delayed::<_, 2>(ritem.clone(), minute);
                    drop(ritem.tracked.cancel());
                }
                Ok(Sample::per_op(now() - start, n))
            }),
            (Impl::C, &mut |n| {
                let start = now();
                // SAFETY: A live item and queue; the loop cancels what it arms.
                unsafe { c::wq_bench_c_arm_cancel(bare.0, wq, n) };
                Ok(Sample::per_op(now() - start, n))
            }),
            (Impl::CKref, &mut |n| {
                let start = now();
                // SAFETY: As above.
                unsafe { c::wq_bench_c_arm_cancel(counted.0, wq, n) };
                Ok(Sample::per_op(now() - start, n))
            }),
        ],
    )
}

fn spawn(plan: &Plan) -> Result {
    let q = Builder::unbound().build(c"wq_bench_spawn")?;
    let wq = q.as_raw();
    // SAFETY: Only `try_spawn` (immediate queueing) is used through it, while `q` lives.
    let kq = unsafe { kernel_view(&q) };
    compare(
        plan,
        "try_spawn (C: the same kmalloc, init and queue_work_on)",
        "ns/op",
        false,
        plan.ops / 2,
        &mut [
            (Impl::Rust, &mut |n| {
                let start = now();
                for _ in 0..n {
                    q.try_spawn(GFP_KERNEL, || {})?;
                }
                q.flush();
                Ok(Sample::per_op(now() - start, n))
            }),
            (Impl::Kernel, &mut |n| {
                let start = now();
                for _ in 0..n {
                    kq.try_spawn(GFP_KERNEL, || {})?;
                }
                q.flush();
                Ok(Sample::per_op(now() - start, n))
            }),
            (Impl::C, &mut |n| {
                let start = now();
                // SAFETY: A live queue; the C loop flushes it.
                unsafe { c::wq_bench_c_spawn(wq, n) };
                Ok(Sample::per_op(now() - start, n))
            }),
        ],
    )
}

fn build_drop(plan: &Plan) -> Result {
    // An unbound queue of the same attributes, alive for the whole path, holds the worker pool
    // that the queues made here share. Without it, whether a creation must also create the
    // pool (and spawn its workers) depends on how far the previous queue's release, which C
    // does asynchronously (`pwq_release_workfn()`, then RCU), has got: a timing accident of
    // each loop, not a cost of either implementation.
    let _pool = Builder::unbound().build(c"wq_bench_pool")?;
    compare(
        plan,
        "OwnedQueue build + drop (C: the same alloc_workqueue, kmalloc, destroy_workqueue)",
        "ns/op",
        false,
        plan.queues,
        &mut [
            (Impl::Rust, &mut |n| {
                let start = now();
                for _ in 0..n {
                    drop(Builder::unbound().build(c"wq_bench_rs")?);
                }
                Ok(Sample::per_op(now() - start, n))
            }),
            (Impl::C, &mut |n| {
                let start = now();
                // SAFETY: Creates and destroys its own queues.
                unsafe { c::wq_bench_c_build_drop(n) };
                Ok(Sample::per_op(now() - start, n))
            }),
        ],
    )
}

/// Per-thread state of a throughput run: each thread's items, and the latencies it measured.
struct Threads {
    items: KVec<Arc<Item>>,
    kitems: KVec<Arc<KItem>>,
    citems: KVec<(Done, CItem, CItem)>,
    /// Latencies of every queueing of every thread, `items` each.
    lat: KVVec<AtomicU64>,
    items_per_thread: u32,
    wq: *mut bindings::workqueue_struct,
    /// One queue per thread, or one for all, for the tracked runs.
    owned: KVec<OwnedQueue<kind::Unbound>>,
    cwq: KVec<*mut bindings::workqueue_struct>,
    /// The implementation the threads run.
    which: Impl,
    /// The items that all threads share, for the contended path: Rust's, then C's.
    shared: KVec<Arc<Item>>,
    cshared: KVec<*mut c_void>,
}

// SAFETY: The raw queues are live for the whole run and used through thread-safe C calls; each
// thread touches only its own items and latency slots (or, for the shared items, only what C
// and the library synchronise).
unsafe impl Sync for Threads {}

impl Drop for Threads {
    fn drop(&mut self) {
        for &cq in self.cwq.iter() {
            // SAFETY: Created by `add_queues()`; every run waited for what it queued.
            unsafe { bindings::destroy_workqueue(cq) };
        }
    }
}

impl Threads {
    fn record(&self, thread: usize, i: u32, ns: u64) {
        let slot = thread * self.items_per_thread as usize + i as usize;
        if let Some(l) = self.lat.get(slot) {
            l.store(ns, Ordering::Relaxed);
        }
    }

    fn latencies(&self) -> Result<KVVec<u64>> {
        let mut v = KVVec::with_capacity(self.lat.len(), GFP_KERNEL)?;
        for l in self.lat.iter() {
            v.push(l.load(Ordering::Relaxed), GFP_KERNEL)?;
        }
        Ok(v)
    }

    /// The queue of thread `t` for the tracked runs: its own, or the shared first one.
    fn owned_queue(&self, t: usize) -> &OwnedQueue<kind::Unbound> {
        &self.owned[t.min(self.owned.len() - 1)]
    }

    fn c_queue(&self, t: usize) -> *mut bindings::workqueue_struct {
        self.cwq[t.min(self.cwq.len() - 1)]
    }
}

/// Thread `t` queues its item `items_per_thread` times, timing each call and waiting for each
/// run, with the implementation `ctx.which` selects.
fn queue_and_wait_thread(ctx: &Threads, t: usize) {
    for i in 0..ctx.items_per_thread {
        let ns = match ctx.which {
            // The handle is measured on one path only ("enqueue + cancel").
            Impl::Rust | Impl::RustAref | Impl::RustHandle => {
                let item = &ctx.items[t];
                let done = item.done();
                done.reinit();
                let start = now();
                // SAFETY: `wq` is the live unbound queue of the run.
                let q = unsafe { Queue::from_raw(ctx.wq) };
                let _ = q.enqueue::<_, 0>(item.clone());
                let took = now() - start;
                done.wait();
                took
            }
            Impl::Kernel => {
                let item = &ctx.kitems[t];
                item.done.reinit();
                let start = now();
                // SAFETY: As above, immediate queueing only.
                let q = unsafe { kernel::workqueue::Queue::from_raw(ctx.wq) };
                let _ = q.enqueue(item.clone());
                let took = now() - start;
                item.done.wait();
                took
            }
            Impl::C | Impl::CKref => {
                let (_, bare, counted) = &ctx.citems[t];
                let item = if ctx.which == Impl::C { bare } else { counted };
                // SAFETY: A live item with a completion, and the live queue of the run.
                unsafe { c::wq_bench_c_queue_and_wait(item.0, ctx.wq) }
            }
        };
        ctx.record(t, i, ns);
    }
}

/// Thread `t` arms and cancels its item `items_per_thread` times on its queue (or the shared
/// one), tracked or in C.
fn arm_cancel_thread(ctx: &Threads, t: usize) {
    let minute = Delay::from_millis(60_000);
    if ctx.which == Impl::Rust {
        let (q, item) = (ctx.owned_queue(t), &ctx.items[t]);
        for _ in 0..ctx.items_per_thread {
            let _ = q.enqueue_delayed::<_, 2>(item.clone(), minute);
            drop(item.tracked.cancel());
        }
    } else {
        let (_, bare, counted) = &ctx.citems[t];
        let item = if ctx.which == Impl::C { bare } else { counted };
        // SAFETY: A live item and queue; the loop cancels what it arms.
        unsafe { c::wq_bench_c_arm_cancel(item.0, ctx.c_queue(t), ctx.items_per_thread) };
    }
}

/// Thread `t` re-arms the shared items in turn, alternately on the two queues, and cancels
/// each: every arming moves the item's link to the other queue's registry, under both
/// registries' locks, which all threads contend for. C does the same calls with the same
/// reference counting, without the tracking.
fn move_cancel_thread(ctx: &Threads, t: usize) {
    let minute = Delay::from_millis(60_000);
    let first = t as u32 * 7;
    if ctx.which == Impl::Rust {
        let k = ctx.shared.len() as u32;
        for i in first..first + ctx.items_per_thread {
            let item = &ctx.shared[(i % k.max(1)) as usize];
            let q = &ctx.owned[(i & 1) as usize];
            let (previous, queued) = q.mod_delayed::<_, 2>(item.clone(), minute);
            drop(previous);
            drop(queued);
            drop(item.tracked.cancel());
        }
    } else {
        // SAFETY: Live counted items and queues; the loop cancels what it arms.
        unsafe {
            c::wq_bench_c_move_cancel(
                ctx.cshared.as_ptr(),
                ctx.cshared.len() as u32,
                ctx.cwq[0],
                ctx.cwq[1],
                first,
                ctx.items_per_thread,
            )
        };
    }
}

fn threads_ctx(plan: &Plan, wq: *mut bindings::workqueue_struct) -> Result<Threads> {
    let mut ctx = Threads {
        items: KVec::new(),
        kitems: KVec::new(),
        citems: KVec::new(),
        lat: KVVec::new(),
        items_per_thread: plan.items,
        wq,
        owned: KVec::new(),
        cwq: KVec::new(),
        which: Impl::Rust,
        shared: KVec::new(),
        cshared: KVec::new(),
    };
    for _ in 0..plan.threads {
        ctx.items.push(Item::new(Some(Done::new()?))?, GFP_KERNEL)?;
        ctx.kitems.push(KItem::new()?, GFP_KERNEL)?;
        let done = Done::new()?;
        let bare = CItem::new(false, Some(&done))?;
        let counted = CItem::new(true, Some(&done))?;
        ctx.citems.push((done, bare, counted), GFP_KERNEL)?;
    }
    for _ in 0..plan.threads * plan.items as usize {
        ctx.lat.push(AtomicU64::new(0), GFP_KERNEL)?;
    }
    Ok(ctx)
}

/// Runs `body` on the plan's threads with the implementation `which`: a run of a
/// multi-thread path, whose figure is operations per second, and whose latencies (for the
/// paths that record them) are every operation's.
fn run_threads(
    threads: usize,
    ctx: &core::cell::RefCell<Threads>,
    which: Impl,
    body: fn(&Threads, usize),
    with_latencies: bool,
) -> Result<Sample> {
    ctx.borrow_mut().which = which;
    let ctx = ctx.borrow();
    let took = on_threads(threads, &*ctx, body)?;
    let total = u64::from(ctx.items_per_thread) * threads as u64;
    let latencies = if with_latencies {
        let mut lat = ctx.latencies()?;
        lat.sort_unstable();
        Some(lat)
    } else {
        None
    };
    Ok(Sample {
        value: total * 1_000_000_000 / took.max(1),
        latencies,
    })
}

/// What every multi-thread path's name says of its figures.
const EMULATED: &str = "(4 vCPUs on 2 host cores: no scaling can show)";

fn throughput_one_queue(plan: &Plan) -> Result {
    let q = Builder::unbound().build(c"wq_bench_tput")?;
    let ctx = core::cell::RefCell::new(threads_ctx(plan, q.as_raw())?);
    let mut path = Line::new();
    write!(
        path,
        "{} threads x {} items, one unbound queue (latencies: the queueing call) {EMULATED}",
        plan.threads, plan.items
    )?;
    let run = |which| run_threads(plan.threads, &ctx, which, queue_and_wait_thread, true);
    compare(
        plan,
        path.as_str()?,
        "items/s",
        true,
        0,
        &mut [
            (Impl::Rust, &mut |_| run(Impl::Rust)),
            (Impl::Kernel, &mut |_| run(Impl::Kernel)),
            (Impl::C, &mut |_| run(Impl::C)),
            (Impl::CKref, &mut |_| run(Impl::CKref)),
        ],
    )
}

/// Adds `n` owned queues and as many C queues to `ctx` (which destroys the C ones).
fn add_queues(ctx: &mut Threads, n: usize) -> Result {
    for i in 0..n {
        ctx.owned
            .push(Builder::unbound().build_fmt(format_args!("wq_bench_own{i}"))?, GFP_KERNEL)?;
        // SAFETY: Creates a queue, destroyed by the drop of `ctx`.
        let cq = unsafe { c::wq_bench_c_alloc_unbound() };
        if cq.is_null() {
            return Err(ENOMEM);
        }
        ctx.cwq.push(cq, GFP_KERNEL)?;
    }
    Ok(())
}

/// Tracked arm + cancel on every thread, each with its own queue and item: the tracking's
/// locks are the item's and (once) its queue's registry, none shared between threads.
fn throughput_tracked(plan: &Plan) -> Result {
    let mut ctx = threads_ctx(plan, core::ptr::null_mut())?;
    add_queues(&mut ctx, plan.threads)?;
    let ctx = core::cell::RefCell::new(ctx);
    let mut path = Line::new();
    write!(
        path,
        "tracked arm + cancel, {} threads, a queue and an item each {EMULATED}",
        plan.threads
    )?;
    let run = |which| run_threads(plan.threads, &ctx, which, arm_cancel_thread, false);
    compare(
        plan,
        path.as_str()?,
        "ops/s",
        true,
        0,
        &mut [
            (Impl::Rust, &mut |_| run(Impl::Rust)),
            (Impl::C, &mut |_| run(Impl::C)),
            (Impl::CKref, &mut |_| run(Impl::CKref)),
        ],
    )
}

/// Items all threads share, re-armed alternately on two queues: every tracked arming moves
/// the item's link between the two queues' registries, so the registry locks are taken, and
/// contended, on every arming.
const SHARED_ITEMS: usize = 8;

/// The contended path with `threads` threads; with one, what moving an item between two
/// registries costs without contention.
fn throughput_moved(plan: &Plan, threads: usize) -> Result {
    let mut ctx = threads_ctx(plan, core::ptr::null_mut())?;
    let mut citems = KVec::new();
    for _ in 0..SHARED_ITEMS {
        ctx.shared.push(Item::new(None)?, GFP_KERNEL)?;
        let item = CItem::new(true, None)?;
        ctx.cshared.push(item.0, GFP_KERNEL)?;
        citems.push(item, GFP_KERNEL)?;
    }
    add_queues(&mut ctx, 2)?;
    let ctx = core::cell::RefCell::new(ctx);
    let mut path = Line::new();
    if threads == 1 {
        write!(
            path,
            "tracked re-arm between two queues + cancel, 1 thread, {SHARED_ITEMS} items \
             (registry locks uncontended)"
        )?;
    } else {
        write!(
            path,
            "tracked re-arm between two queues + cancel, {threads} threads sharing \
             {SHARED_ITEMS} items (registry locks contended) {EMULATED}"
        )?;
    }
    let run = |which| run_threads(threads, &ctx, which, move_cancel_thread, false);
    compare(
        plan,
        path.as_str()?,
        "ops/s",
        true,
        0,
        &mut [
            (Impl::Rust, &mut |_| run(Impl::Rust)),
            (Impl::CKref, &mut |_| run(Impl::CKref)),
        ],
    )?;
    // The C items go after the queues that may have held them (the drop of `ctx`).
    drop(ctx);
    drop(citems);
    Ok(())
}

struct Bench;

impl kernel::Module for Bench {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        // SAFETY: Reads a module parameter.
        let smoke = unsafe { c::wq_bench_smoke() };
        // SAFETY: Reads a module parameter, or draws a seed.
        let seed = unsafe { c::wq_bench_seed() };
        let mut plan = Plan {
            min_rounds: 15,
            max_rounds: 61,
            budget_ns: 20_000_000_000,
            ops: 10_000,
            items: 5_000,
            queues: 50,
            threads: 4,
            rng: Cell::new(seed | 1),
            next_path: Cell::new(0),
            max_latencies: 100_000,
        };
        if smoke {
            plan.min_rounds = 2;
            plan.max_rounds = 2;
            plan.ops = 200;
            plan.items = 200;
            plan.queues = 4;
        }
        pr_info!(
            "WQ-BENCH-START {{\"mode\":\"{}\",\"seed\":\"{seed:#x}\"}}\n",
            if smoke { "smoke" } else { "full" }
        );
        enqueue_cancel(&plan)?;
        round_trip(&plan)?;
        arm_cancel_system(&plan)?;
        arm_cancel_tracked(&plan)?;
        spawn(&plan)?;
        build_drop(&plan)?;
        throughput_one_queue(&plan)?;
        throughput_tracked(&plan)?;
        throughput_moved(&plan, 1)?;
        throughput_moved(&plan, plan.threads)?;
        pr_info!("WQ-BENCH-DONE\n");
        Ok(Bench)
    }
}
