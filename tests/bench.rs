// SPDX-License-Identifier: GPL-2.0

//! Benchmarks: each Rust path against the same loop in C (`bench_c.c`), in the same boot.
//!
//! Every iteration queues an item and cancels it, on a queue kept busy (or with a minute of
//! delay) so that nothing runs: what is measured is the queueing path, the Rust wrapper
//! against the bare C call, with identical C work on both sides, each on a heap item. Absolute
//! figures are software-emulated (QEMU TCG, KASAN, lockdep); the ratios are what to read.

use kernel::prelude::*;

#[kunit_tests(workqueue_bench)]
mod tests {
    use kernel::{
        bindings,
        prelude::*,
        sync::{
            Arc,
            Completion, //
        },
        time::{
            Instant,
            Monotonic, //
        },
    };

    use crate::workqueue::{
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
        TrackedDelayedWork,
        Work,
        WorkItem, //
    };

    extern "C" {
        fn wq_bench_c_enqueue(wq: *mut bindings::workqueue_struct, n: u32) -> u64;
        fn wq_bench_c_enqueue_delayed(wq: *mut bindings::workqueue_struct, n: u32) -> u64;
    }

    const N: u32 = 10_000;

    #[pin_data]
    struct Nop {
        #[pin]
        gate: Completion,
        #[pin]
        work: Work<Nop>,
        #[pin]
        dwork: DelayedWork<Nop, 1>,
        #[pin]
        tracked: TrackedDelayedWork<Nop, 2>,
    }

    impl_has_work! {
        impl HasWork<Nop> for Nop { self.work }
    }

    impl_has_delayed_work! {
        impl HasDelayedWork<Nop, 1> for Nop { self.dwork }
    }

    impl_has_tracked_delayed_work! {
        impl HasTrackedDelayedWork<Nop, 2> for Nop { self.tracked }
    }

    impl WorkItem for Nop {
        type Pointer = Arc<Nop>;

        fn run(this: Arc<Nop>) {
            // The blocker holds its queue until released.
            this.gate.wait_for_completion();
        }
    }

    impl WorkItem<1> for Nop {
        type Pointer = Arc<Nop>;

        fn run(_this: Arc<Nop>) {}
    }

    impl WorkItem<2> for Nop {
        type Pointer = Arc<Nop>;

        fn run(_this: Arc<Nop>) {}
    }

    fn nop() -> Result<Arc<Nop>> {
        Arc::pin_init(
            pin_init!(Nop {
                gate <- Completion::new(),
                work <- new_work!("Nop::work"),
                dwork <- new_delayed_work!("Nop::dwork"),
                tracked <- new_tracked_delayed_work!("Nop::tracked"),
            }),
            GFP_KERNEL,
        )
    }

    /// Nanoseconds that `f` takes.
    fn time(f: impl FnOnce()) -> u64 {
        let start = Instant::<Monotonic>::now();
        f();
        u64::try_from(start.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }

    /// Runs `rust` and `c` (each `n` iterations, returning nanoseconds) after a warm-up of
    /// both, interleaved twice, and reports the best of each.
    fn compare(what: &str, mut rust: impl FnMut(u32) -> u64, mut c: impl FnMut(u32) -> u64) {
        rust(N / 10);
        c(N / 10);
        let (r1, c1) = (rust(N), c(N));
        let (r2, c2) = (rust(N), c(N));
        report(what, r1.min(r2), c1.min(c2));
    }

    fn report(what: &str, rust_ns: u64, c_ns: u64) {
        // The C loops return 0 if they could not allocate their item.
        assert!(c_ns > 0);
        let n = u64::from(N);
        // Hundredths, to print a ratio without floating point.
        let ratio = rust_ns * 100 / c_ns.max(1);
        pr_info!(
            "bench {what}: Rust {} ns/op, C {} ns/op, ratio {}.{:02}\n",
            rust_ns / n,
            c_ns / n,
            ratio / 100,
            ratio % 100
        );
    }

    /// An ordered queue held busy by a blocker, so that what is queued behind it stays
    /// queued. Returns the queue and the gate that releases the blocker. The blocker is a
    /// closure, of a lockdep class of its own: sharing the measured item's class would make
    /// lockdep check the held class on every Rust cancel, and not on the C one.
    fn blocked_queue() -> Result<(OwnedQueue<kind::Ordered>, Arc<Completion>)> {
        let q = Builder::ordered().build(c"wq_rs_bench")?;
        let gate = Arc::pin_init(Completion::new(), GFP_KERNEL)?;
        let g = gate.clone();
        q.try_spawn(GFP_KERNEL, move || g.wait_for_completion())?;
        Ok((q, gate))
    }

    #[test]
    fn enqueue_costs_what_queue_work_on_costs() -> Result {
        let (q, blocker) = blocked_queue()?;
        let item = nop()?;
        compare(
            "enqueue + cancel",
            |n| {
                time(|| {
                    for _ in 0..n {
                        let _ = q.enqueue::<_, 0>(item.clone());
                        drop(item.work.cancel());
                    }
                })
            },
            // SAFETY: The queue is live; the C loop cancels what it queues.
            |n| unsafe { wq_bench_c_enqueue(q.as_raw(), n) },
        );
        blocker.complete_all();
        drop(q);
        assert!(Arc::into_unique_or_drop(item).is_some());
        Ok(())
    }

    #[test]
    fn delayed_enqueue_costs_what_queue_delayed_work_on_costs() -> Result {
        let item = nop()?;
        compare(
            "delayed enqueue + cancel (system queue)",
            |n| {
                time(|| {
                    for _ in 0..n {
                        let delay = Delay::from_millis(60_000);
                        let _ = system().enqueue_delayed::<_, 1>(item.clone(), delay);
                        drop(item.dwork.cancel());
                    }
                })
            },
            // SAFETY: The queue is a system queue; the C loop cancels what it arms.
            |n| unsafe { wq_bench_c_enqueue_delayed(system().as_raw(), n) },
        );
        assert!(Arc::into_unique_or_drop(item).is_some());
        Ok(())
    }

    /// The price of tracking: a delayed enqueue on an owned queue against the bare C call
    /// (which, in C, would leave the queue's destroy unsound).
    #[test]
    fn tracked_delayed_enqueue_costs_a_lock_more() -> Result {
        let q = Builder::unbound().build(c"wq_rs_bench_tracked")?;
        let item = nop()?;
        compare(
            "delayed enqueue + cancel (owned queue, tracked)",
            |n| {
                time(|| {
                    for _ in 0..n {
                        let delay = Delay::from_millis(60_000);
                        let _ = q.enqueue_delayed::<_, 2>(item.clone(), delay);
                        drop(item.tracked.cancel());
                    }
                })
            },
            // SAFETY: The queue is live; the C loop cancels what it arms before returning.
            |n| unsafe { wq_bench_c_enqueue_delayed(q.as_raw(), n) },
        );
        drop(q);
        assert!(Arc::into_unique_or_drop(item).is_some());
        Ok(())
    }
}
