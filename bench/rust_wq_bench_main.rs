// SPDX-License-Identifier: GPL-2.0

//! Benchmarks: each path of this library against the kernel crate's `kernel::workqueue` (where
//! it has the path), bare C, and C doing the reference counting that the Rust ownership model
//! does (`kref_get()` before queueing, `kref_put()` after the run or the cancel), all in the
//! same boot (see README.md, "Performance").
//!
//! Each path runs each implementation in turn, in rounds that rotate which goes first, and
//! reports the median over the rounds. Results go to the console as `WQ-BENCH {json}` lines,
//! from which `scripts/bench-report.py` prints the table and writes `results.json`. Loaded
//! with `mode=smoke`, it runs every path a few times only, so that `make check` keeps it
//! working.

use core::{
    ffi::c_void,
    fmt::Write,
    ptr::NonNull,
    sync::atomic::{
        fence,
        AtomicU64,
        AtomicUsize,
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
            refs: AtomicUsize,
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
                    refs: AtomicUsize::new(1),
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

// SAFETY: Counted atomically, inline (what a driver's own count does, and what `kref` does in
// C); the last reference frees the box it was made in, once.
unsafe impl AlwaysRefCounted for RItem {
    #[inline]
    fn inc_ref(&self) {
        self.refs.fetch_add(1, Ordering::Relaxed);
    }

    #[inline]
    unsafe fn dec_ref(obj: NonNull<Self>) {
        // SAFETY: The caller gives up a reference to a live object.
        if unsafe { obj.as_ref() }.refs.fetch_sub(1, Ordering::Release) == 1 {
            fence(Ordering::Acquire);
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

/// One measurement: a figure for the run (nanoseconds per operation, or operations per
/// second), and for latency paths the 50th and 99th percentiles of its operations.
#[derive(Clone, Copy, Default)]
struct Sample {
    value: u64,
    p50: u64,
    p99: u64,
}

impl Sample {
    fn per_op(total_ns: u64, n: u32) -> Sample {
        Sample {
            value: total_ns / u64::from(n.max(1)),
            ..Sample::default()
        }
    }

    /// The sample of a set of latencies: their mean as the value, and their percentiles.
    fn of_latencies(mut lat: KVVec<u64>) -> Sample {
        let n = lat.len().max(1);
        lat.sort_unstable();
        let sum: u64 = lat.iter().sum();
        let at = |pct: usize| lat.get(((n * pct) / 100).min(n - 1)).copied().unwrap_or(0);
        Sample {
            value: sum / n as u64,
            p50: at(50),
            p99: at(99),
        }
    }
}

/// A line of text being written, for the console.
struct Line(KVec<u8>);

impl Line {
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

/// An implementation of a path: its column in the table, and a run of `n` operations.
type Runner<'a> = (&'static str, &'a mut dyn FnMut(u32) -> Result<Sample>);

/// How many rounds and operations the benchmarks run.
struct Plan {
    rounds: usize,
    /// Operations per run of a single-thread path.
    ops: u32,
    /// Items per thread of the throughput runs.
    items: u32,
    /// Queue creations per run.
    queues: u32,
    threads: usize,
}

fn median(mut v: KVec<u64>) -> u64 {
    v.sort_unstable();
    v.get(v.len() / 2).copied().unwrap_or(0)
}

/// Runs every implementation of a path in rotating order for `plan.rounds` rounds (after a
/// short warm-up run each, unless `ops` is 0: runs that are long enough alone), and prints the
/// medians as one `WQ-BENCH` line.
fn compare(plan: &Plan, path: &str, unit: &str, ops: u32, impls: &mut [Runner<'_>]) -> Result {
    let k = impls.len();
    if ops > 0 {
        for (_, run) in impls.iter_mut() {
            run((ops / 10).max(1))?;
        }
    }
    let mut samples: KVec<KVec<Sample>> = KVec::new();
    for _ in 0..k {
        samples.push(KVec::new(), GFP_KERNEL)?;
    }
    for round in 0..plan.rounds {
        for i in 0..k {
            let j = (i + round) % k;
            let sample = (impls[j].1)(ops)?;
            samples[j].push(sample, GFP_KERNEL)?;
        }
    }
    let mut json = Line(KVec::new());
    write!(json, "{{\"path\":\"{path}\",\"unit\":\"{unit}\",\"cols\":{{")?;
    for (i, (column, _)) in impls.iter().enumerate() {
        let pick = |f: fn(&Sample) -> u64| -> Result<u64> {
            let mut v = KVec::new();
            for s in samples[i].iter() {
                v.push(f(s), GFP_KERNEL)?;
            }
            Ok(median(v))
        };
        let (value, p50, p99) = (pick(|s| s.value)?, pick(|s| s.p50)?, pick(|s| s.p99)?);
        let sep = if i == 0 { "" } else { "," };
        write!(
            json,
            "{sep}\"{column}\":{{\"value\":{value},\"p50\":{p50},\"p99\":{p99}}}"
        )?;
    }
    write!(json, "}}}}")?;
    let text = json.as_str()?;
    pr_info!("WQ-BENCH {text}\n");
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
    let item = Item::new(None)?;
    let ritem = RItem::new(None)?;
    let (bare, counted) = (CItem::new(false, None)?, CItem::new(true, None)?);
    let wq = q.as_raw();
    compare(
        plan,
        "enqueue + cancel",
        "ns/op",
        plan.ops,
        &mut [
            ("rust", &mut |n| {
                let start = now();
                for _ in 0..n {
                    let _ = q.enqueue::<_, 0>(item.clone());
                    drop(item.work.cancel());
                }
                Ok(Sample::per_op(now() - start, n))
            }),
            ("rust_aref", &mut |n| {
                let start = now();
                for _ in 0..n {
                    let _ = q.enqueue::<_, 0>(ritem.clone());
                    drop(ritem.work.cancel());
                }
                Ok(Sample::per_op(now() - start, n))
            }),
            ("c", &mut |n| {
                let start = now();
                // SAFETY: A live item and queue; the loop cancels what it queues.
                unsafe { c::wq_bench_c_enqueue_cancel(bare.0, wq, n) };
                Ok(Sample::per_op(now() - start, n))
            }),
            ("c_kref", &mut |n| {
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
        "enqueue -> run round trip",
        "ns",
        plan.ops / 4,
        &mut [
            ("rust", &mut |n| {
                round_trips(n, || {
                    item.done().reinit();
                    let start = now();
                    let _ = q.enqueue::<_, 0>(item.clone());
                    item.done().wait();
                    item.ran_at.load(Ordering::Acquire) - start
                })
            }),
            ("rust_aref", &mut |n| {
                round_trips(n, || {
                    ritem.done().reinit();
                    let start = now();
                    let _ = q.enqueue::<_, 0>(ritem.clone());
                    ritem.done().wait();
                    ritem.ran_at.load(Ordering::Acquire) - start
                })
            }),
            ("kernel", &mut |n| {
                round_trips(n, || {
                    kitem.done.reinit();
                    let start = now();
                    let _ = kq.enqueue(kitem.clone());
                    kitem.done.wait();
                    kitem.ran_at.load(Ordering::Acquire) - start
                })
            }),
            ("c", &mut |n| {
                // SAFETY: A live item with a completion, and a live queue.
                round_trips(n, || unsafe { c::wq_bench_c_round_trip(bare.0, wq) })
            }),
            ("c_kref", &mut |n| {
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
        plan.ops,
        &mut [
            ("rust", &mut |n| {
                let start = now();
                for _ in 0..n {
                    let _ = system().enqueue_delayed::<_, 1>(item.clone(), minute);
                    drop(item.dwork.cancel());
                }
                Ok(Sample::per_op(now() - start, n))
            }),
            ("rust_aref", &mut |n| {
                let start = now();
                for _ in 0..n {
                    let _ = system().enqueue_delayed::<_, 1>(ritem.clone(), minute);
                    drop(ritem.dwork.cancel());
                }
                Ok(Sample::per_op(now() - start, n))
            }),
            ("c", &mut |n| {
                let start = now();
                // SAFETY: A live item and a system queue; the loop cancels what it arms.
                unsafe { c::wq_bench_c_arm_cancel(bare.0, wq, n) };
                Ok(Sample::per_op(now() - start, n))
            }),
            ("c_kref", &mut |n| {
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
        plan.ops,
        &mut [
            ("rust", &mut |n| {
                let start = now();
                for _ in 0..n {
                    let _ = q.enqueue_delayed::<_, 2>(item.clone(), minute);
                    drop(item.tracked.cancel());
                }
                Ok(Sample::per_op(now() - start, n))
            }),
            ("rust_aref", &mut |n| {
                let start = now();
                for _ in 0..n {
                    let _ = q.enqueue_delayed::<_, 2>(ritem.clone(), minute);
                    drop(ritem.tracked.cancel());
                }
                Ok(Sample::per_op(now() - start, n))
            }),
            ("c", &mut |n| {
                let start = now();
                // SAFETY: A live item and queue; the loop cancels what it arms.
                unsafe { c::wq_bench_c_arm_cancel(bare.0, wq, n) };
                Ok(Sample::per_op(now() - start, n))
            }),
            ("c_kref", &mut |n| {
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
        "try_spawn (C: kmalloc + INIT_WORK + queue)",
        "ns/op",
        plan.ops / 2,
        &mut [
            ("rust", &mut |n| {
                let start = now();
                for _ in 0..n {
                    q.try_spawn(GFP_KERNEL, || {})?;
                }
                q.flush();
                Ok(Sample::per_op(now() - start, n))
            }),
            ("kernel", &mut |n| {
                let start = now();
                for _ in 0..n {
                    kq.try_spawn(GFP_KERNEL, || {})?;
                }
                q.flush();
                Ok(Sample::per_op(now() - start, n))
            }),
            ("c", &mut |n| {
                let start = now();
                // SAFETY: A live queue; the C loop flushes it.
                unsafe { c::wq_bench_c_spawn(wq, n) };
                Ok(Sample::per_op(now() - start, n))
            }),
        ],
    )
}

fn build_drop(plan: &Plan) -> Result {
    compare(
        plan,
        "OwnedQueue build + drop (C: alloc_workqueue + destroy_workqueue)",
        "ns/op",
        plan.queues,
        &mut [
            ("rust", &mut |n| {
                let start = now();
                for _ in 0..n {
                    drop(Builder::unbound().build(c"wq_bench_rs")?);
                }
                Ok(Sample::per_op(now() - start, n))
            }),
            ("c", &mut |n| {
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
    which: u8,
}

// SAFETY: The raw queues are live for the whole run and used through thread-safe C calls; each
// thread touches only its own items and latency slots.
unsafe impl Sync for Threads {}

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
            0 => {
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
            1 => {
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
            which => {
                let (_, bare, counted) = &ctx.citems[t];
                let item = if which == 2 { bare } else { counted };
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
    match ctx.which {
        0 => {
            let (q, item) = (ctx.owned_queue(t), &ctx.items[t]);
            for _ in 0..ctx.items_per_thread {
                let _ = q.enqueue_delayed::<_, 2>(item.clone(), minute);
                drop(item.tracked.cancel());
            }
        }
        which => {
            let (_, bare, counted) = &ctx.citems[t];
            let item = if which == 2 { bare } else { counted };
            // SAFETY: A live item and queue; the loop cancels what it arms.
            unsafe { c::wq_bench_c_arm_cancel(item.0, ctx.c_queue(t), ctx.items_per_thread) };
        }
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
        which: 0,
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

fn throughput_one_queue(plan: &Plan) -> Result {
    let q = Builder::unbound().build(c"wq_bench_tput")?;
    let mut ctx = threads_ctx(plan, q.as_raw())?;
    let total = u64::from(plan.items) * plan.threads as u64;
    let mut path = Line(KVec::new());
    write!(
        path,
        "{} threads x {} items, one unbound queue (queueing latency)",
        plan.threads, plan.items
    )?;
    let mut run = |which: u8| -> Result<Sample> {
        ctx.which = which;
        let took = on_threads(plan.threads, &ctx, queue_and_wait_thread)?;
        let lat = Sample::of_latencies(ctx.latencies()?);
        Ok(Sample {
            value: total * 1_000_000_000 / took.max(1),
            ..lat
        })
    };
    let run = &mut run;
    // The closures share `run`, which holds `ctx` mutably: they go one at a time anyway.
    let cell = core::cell::RefCell::new(run);
    compare(
        plan,
        path.as_str()?,
        "items/s",
        0,
        &mut [
            ("rust", &mut |_| (cell.borrow_mut())(0)),
            ("kernel", &mut |_| (cell.borrow_mut())(1)),
            ("c", &mut |_| (cell.borrow_mut())(2)),
            ("c_kref", &mut |_| (cell.borrow_mut())(3)),
        ],
    )
}

fn throughput_tracked(plan: &Plan, shared: bool) -> Result {
    let queues = if shared { 1 } else { plan.threads };
    let mut ctx = threads_ctx(plan, core::ptr::null_mut())?;
    for i in 0..queues {
        ctx.owned
            .push(Builder::unbound().build_fmt(format_args!("wq_bench_own{i}"))?, GFP_KERNEL)?;
        // SAFETY: Creates a queue, destroyed below.
        let cq = unsafe { c::wq_bench_c_alloc_unbound() };
        if cq.is_null() {
            return Err(ENOMEM);
        }
        ctx.cwq.push(cq, GFP_KERNEL)?;
    }
    let total = u64::from(plan.items) * plan.threads as u64;
    let mut path = Line(KVec::new());
    write!(
        path,
        "tracked arm + cancel, {} threads, {}",
        plan.threads,
        if shared { "one shared queue" } else { "a queue each" }
    )?;
    let result = {
        let cell = core::cell::RefCell::new(&mut ctx);
        let mut run = |which: u8| -> Result<Sample> {
            let mut ctx = cell.borrow_mut();
            ctx.which = which;
            let took = on_threads(plan.threads, &**ctx, arm_cancel_thread)?;
            Ok(Sample {
                value: total * 1_000_000_000 / took.max(1),
                ..Sample::default()
            })
        };
        let run = core::cell::RefCell::new(&mut run);
        compare(
            plan,
            path.as_str()?,
            "ops/s",
            0,
            &mut [
                ("rust", &mut |_| (run.borrow_mut())(0)),
                ("c", &mut |_| (run.borrow_mut())(2)),
                ("c_kref", &mut |_| (run.borrow_mut())(3)),
            ],
        )
    };
    for &cq in ctx.cwq.iter() {
        // SAFETY: Created above; nothing is queued on it any more.
        unsafe { bindings::destroy_workqueue(cq) };
    }
    result
}

struct Bench;

impl kernel::Module for Bench {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        // SAFETY: Reads a module parameter.
        let smoke = unsafe { c::wq_bench_smoke() };
        let plan = if smoke {
            Plan {
                rounds: 1,
                ops: 200,
                items: 500,
                queues: 4,
                threads: 4,
            }
        } else {
            Plan {
                rounds: 7,
                ops: 20_000,
                items: 50_000,
                queues: 100,
                threads: 4,
            }
        };
        pr_info!("WQ-BENCH-START {}\n", if smoke { "smoke" } else { "full" });
        enqueue_cancel(&plan)?;
        round_trip(&plan)?;
        arm_cancel_system(&plan)?;
        arm_cancel_tracked(&plan)?;
        spawn(&plan)?;
        build_drop(&plan)?;
        throughput_one_queue(&plan)?;
        throughput_tracked(&plan, false)?;
        throughput_tracked(&plan, true)?;
        pr_info!("WQ-BENCH-DONE\n");
        Ok(Bench)
    }
}
