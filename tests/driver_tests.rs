// SPDX-License-Identifier: GPL-2.0

//! What GPU drivers do: a heartbeat re-arming itself through a queue handle while its queue
//! goes away, non-sleeping cancels from timers, IPIs and under spinlocks, a lasting disable,
//! and kernel-crate items on an owned queue.

// KUnit suite: workqueue_driver
pub(crate) mod tests {
    #[allow(unused_imports)]
    use crate::kunit::{
        kassert as assert,
        kassert_eq as assert_eq,
        kassert_ne as assert_ne, //
    };

    use core::sync::atomic::{
        AtomicBool,
        AtomicU32,
        Ordering, //
    };

    use kernel::{
        new_spinlock,
        prelude::*,
        sync::Arc, //
    };

    use crate::{
        common::{
            current_cpu,
            in_hardirq,
            in_hardirq_elsewhere,
            in_serving_softirq,
            in_timer_on,
            online_cpus,
            race_rounds,
            random_below,
            time::{
                fsleep,
                udelay,
                Delta, //
            },
            Completion, //
        },
        gpu::wq::{
            impl_has_delayed_work,
            impl_has_tracked_delayed_work,
            impl_has_work,
            kind,
            new_delayed_work,
            new_tracked_delayed_work,
            new_work,
            shutdown_error,
            system,
            Builder,
            Delay,
            DelayedWork,
            QueueHandle,
            TrackedDelayedWork,
            Work,
            WorkItem, //
        },
    };

    /// A heartbeat that re-arms itself through a handle to its queue, and counts
    /// what happened to each re-arming.
    #[pin_data]
    struct Heartbeat {
        queue: QueueHandle<kind::Unbound>,
        beats: AtomicU32,
        /// Re-armings refused because the queue was closing (`ESHUTDOWN`).
        refused: AtomicU32,
        /// Re-armings refused for any other reason (the item was pending: never, here).
        other: AtomicU32,
        /// Set once the queue's drop has returned.
        closed: AtomicBool,
        /// Runs that began after that.
        late: AtomicU32,
        #[pin]
        dwork: TrackedDelayedWork<Heartbeat>,
    }

    impl_has_tracked_delayed_work! {
        impl HasTrackedDelayedWork<Self> for Heartbeat { self.dwork }
    }

    impl WorkItem for Heartbeat {
        type Pointer = Arc<Heartbeat>;

        fn run(this: Arc<Heartbeat>) {
            if this.closed.load(Ordering::Acquire) {
                this.late.fetch_add(1, Ordering::Relaxed);
            }
            this.beats.fetch_add(1, Ordering::Relaxed);
            // A little work, so that the queue's drop meets running beats too.
            udelay(Delta::from_micros(i64::from(random_below(100))));
            // Every jiffy mostly, sometimes later: closing the gate waits a grace period, in
            // which the short ones are refused, and the long ones are still armed for the
            // drop's cancel pass.
            let delay = if random_below(4) == 0 {
                Delay::from_millis(random_below(40))
            } else {
                Delay::from_jiffies(1)
            };
            match QueueHandle::requeue_delayed(this, |hb| &hb.queue, delay) {
                Ok(Ok(())) => {}
                Ok(Err(this)) => {
                    this.other.fetch_add(1, Ordering::Relaxed);
                }
                Err((e, this)) => {
                    assert_eq!(e, shutdown_error());
                    this.refused.fetch_add(1, Ordering::Relaxed);
                }
            }
        }
    }

    /// Heartbeats on every CPU re-arm themselves through handles while their queue is dropped
    /// at a random moment. In every round, every heartbeat ends in exactly one of two ways:
    /// its re-arming is refused by the closing queue, or its armed instance is cancelled by
    /// the drop (which releases its owner); no run happens after the drop returns; and every
    /// owner is released exactly once (each `Arc` is unique again). Both ends occur.
    pub(crate) fn a_heartbeat_rearming_through_a_handle_stops_when_its_queue_drops() -> Result {
        let rounds = race_rounds();
        let beaters = online_cpus();
        let (mut refused, mut cancelled, mut beats) = (0u32, 0u32, 0u32);
        for _ in 0..rounds {
            let q = Builder::unbound().build(c"wq_rs_heartbeat")?;
            let mut hbs = KVec::new();
            for _ in 0..beaters {
                let handle = q.handle()?;
                let hb = Arc::pin_init(
                    pin_init!(Heartbeat {
                        queue: handle,
                        beats: AtomicU32::new(0),
                        refused: AtomicU32::new(0),
                        other: AtomicU32::new(0),
                        closed: AtomicBool::new(false),
                        late: AtomicU32::new(0),
                        dwork <- new_tracked_delayed_work!("Heartbeat::dwork"),
                    }),
                    GFP_KERNEL,
                )?;
                assert!(matches!(
                    hb.queue.enqueue_delayed(hb.clone(), Delay::ZERO),
                    Ok(Ok(()))
                ));
                hbs.push(hb, GFP_KERNEL)?;
            }
            fsleep(Delta::from_micros(i64::from(random_below(3000))));
            let released = u32::try_from(q.destroy()).unwrap_or(u32::MAX);
            for hb in &hbs {
                hb.closed.store(true, Ordering::Release);
            }
            // A heartbeat that outlived the drop would run within a jiffy or two.
            fsleep(Delta::from_millis(10));
            let mut round_refused = 0;
            for hb in hbs {
                assert_eq!(hb.late.load(Ordering::Relaxed), 0);
                assert_eq!(hb.other.load(Ordering::Relaxed), 0);
                round_refused += hb.refused.load(Ordering::Relaxed);
                beats += hb.beats.load(Ordering::Relaxed);
                assert!(Arc::into_unique_or_drop(hb).is_some());
            }
            // Each arming ends in a beat or in the drop's cancel, each beat in a re-arming or a
            // refusal: so each heartbeat ends in exactly one refusal or one cancel.
            assert_eq!(round_refused + released, beaters);
            refused += round_refused;
            cancelled += released;
        }
        pr_info!(
            "heartbeats: {rounds} rounds x {beaters}: {beats} beats, {refused} refused by the \
             closing queue, {cancelled} cancelled by its drop\n"
        );
        assert!(refused > 0);
        assert!(cancelled > 0);
        Ok(())
    }

    /// An item with a plain, a delayed and a tracked work, counting its runs.
    #[pin_data]
    struct Item {
        runs: AtomicU32,
        #[pin]
        work: Work<Item>,
        #[pin]
        dwork: DelayedWork<Item, 1>,
        #[pin]
        tracked: TrackedDelayedWork<Item, 2>,
    }

    impl_has_work! {
        impl HasWork<Item> for Item { self.work }
    }

    impl_has_delayed_work! {
        impl HasDelayedWork<Item, 1> for Item { self.dwork }
    }

    impl_has_tracked_delayed_work! {
        impl HasTrackedDelayedWork<Item, 2> for Item { self.tracked }
    }

    impl Item {
        fn new() -> Result<Arc<Item>> {
            Arc::pin_init(
                pin_init!(Item {
                    runs: AtomicU32::new(0),
                    work <- new_work!("driver::Item::work"),
                    dwork <- new_delayed_work!("driver::Item::dwork"),
                    tracked <- new_tracked_delayed_work!("driver::Item::tracked"),
                }),
                GFP_KERNEL,
            )
        }

        fn runs(&self) -> u32 {
            self.runs.load(Ordering::Acquire)
        }
    }

    impl WorkItem for Item {
        type Pointer = Arc<Item>;

        fn run(this: Arc<Item>) {
            this.runs.fetch_add(1, Ordering::AcqRel);
        }
    }

    impl WorkItem<1> for Item {
        type Pointer = Arc<Item>;

        fn run(this: Arc<Item>) {
            this.runs.fetch_add(1, Ordering::AcqRel);
        }
    }

    impl WorkItem<2> for Item {
        type Pointer = Arc<Item>;

        fn run(this: Arc<Item>) {
            this.runs.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// A delayed item's timer and a timer that cancels it without waiting fire at the same
    /// jiffy on two CPUs. In every round exactly one of "it ran" and "its owner came back"
    /// happens, the cancel runs in softirq context, and over the rounds both outcomes occur.
    pub(crate) fn cancel_nowait_in_a_timer_racing_the_items_timer_is_exact() -> Result {
        let rounds = race_rounds();
        let cpus = online_cpus();
        assert!(cpus >= 2);
        // Known non-zero from here, so that no division can panic.
        let cpus = cpus.max(2);
        let item = Item::new()?;
        let (mut cancelled, mut ran) = (0u32, 0u32);
        for _ in 0..rounds {
            let other = (current_cpu() + 1 + random_below(cpus - 1)) % cpus;
            let before = item.runs();
            assert!(system()
                .enqueue_delayed::<_, 1>(item.clone(), Delay::from_jiffies(1))
                .is_ok());
            let (returned, softirq) = (AtomicBool::new(false), AtomicBool::new(false));
            in_timer_on(other, 1, || {
                softirq.store(in_serving_softirq(), Ordering::Relaxed);
                returned.store(item.dwork.cancel_nowait().is_some(), Ordering::Relaxed);
            });
            assert!(softirq.load(Ordering::Relaxed));
            // Not taken: it started, or is about to (C clears PENDING just before the run).
            item.dwork.flush();
            let delta = item.runs() - before;
            if returned.load(Ordering::Relaxed) {
                cancelled += 1;
                assert_eq!(delta, 0);
            } else {
                ran += 1;
                assert_eq!(delta, 1);
            }
        }
        pr_info!("cancel_nowait in a timer: {rounds} rounds, {cancelled} cancelled, {ran} ran\n");
        assert!(cancelled > 0);
        assert!(ran > 0);
        assert!(Arc::into_unique_or_drop(item).is_some());
        Ok(())
    }

    /// A tracked item queued at once on an owned queue is cancelled, without waiting, by a
    /// thread holding a spinlock, after a random head start of the run. Exact in every round;
    /// both outcomes occur.
    pub(crate) fn cancel_nowait_under_a_spinlock_racing_the_run_is_exact() -> Result {
        let rounds = race_rounds();
        let q = Builder::unbound().build(c"wq_rs_cancel_nowait")?;
        let lock = Arc::pin_init(new_spinlock!(()), GFP_KERNEL)?;
        let item = Item::new()?;
        let (mut cancelled, mut ran) = (0u32, 0u32);
        for _ in 0..rounds {
            let before = item.runs();
            assert!(q.enqueue_delayed::<_, 2>(item.clone(), Delay::ZERO).is_ok());
            udelay(Delta::from_micros(i64::from(random_below(100))));
            let owner = {
                let _guard = lock.lock();
                item.tracked.cancel_nowait()
            };
            let returned = owner.is_some();
            drop(owner);
            item.tracked.flush();
            let delta = item.runs() - before;
            if returned {
                cancelled += 1;
                assert_eq!(delta, 0);
            } else {
                ran += 1;
                assert_eq!(delta, 1);
            }
        }
        pr_info!(
            "cancel_nowait under a spinlock: {rounds} rounds, {cancelled} cancelled, {ran} ran\n"
        );
        assert!(cancelled > 0);
        assert!(ran > 0);
        drop(q);
        assert!(Arc::into_unique_or_drop(item).is_some());
        Ok(())
    }

    /// An IPI disables the three works of an item without waiting, each pending, and keeps
    /// them disabled for good: their owners come back in hard-IRQ context, every later
    /// enqueue and arming is refused (the pointer handed back), nothing runs, and the item is
    /// then dropped, disabled, with every owner released.
    pub(crate) fn a_lasting_disable_from_hard_irq_refuses_queueing_until_the_item_is_dropped(
    ) -> Result {
        assert!(online_cpus() >= 2);
        let q = Builder::ordered().build(c"wq_rs_lasting_disable")?;
        // Keep the ordered queue busy, so that what is queued on it stays pending.
        let gate = Arc::pin_init(Completion::new(), GFP_KERNEL)?;
        let blocker = gate.clone();
        q.try_spawn(GFP_KERNEL, move || blocker.wait_for_completion())?;
        let item = Item::new()?;
        assert!(q.enqueue::<_, 0>(item.clone()).is_ok());
        assert!(system()
            .enqueue_delayed::<_, 1>(item.clone(), Delay::from_millis(60_000))
            .is_ok());
        assert!(q
            .enqueue_delayed::<_, 2>(item.clone(), Delay::from_millis(60_000))
            .is_ok());
        let (taken, hardirq) = (AtomicU32::new(0), AtomicBool::new(false));
        assert!(in_hardirq_elsewhere(|| {
            hardirq.store(in_hardirq(), Ordering::Relaxed);
            let (owner, guard) = item.work.disable_nowait();
            taken.fetch_add(u32::from(owner.is_some()), Ordering::Relaxed);
            if let Ok(guard) = guard {
                guard.forever();
            }
            let (owner, guard) = item.dwork.disable_nowait();
            taken.fetch_add(u32::from(owner.is_some()), Ordering::Relaxed);
            if let Ok(guard) = guard {
                guard.forever();
            }
            let (owner, guard) = item.tracked.disable_nowait();
            taken.fetch_add(u32::from(owner.is_some()), Ordering::Relaxed);
            if let Ok(guard) = guard {
                guard.forever();
            }
        }));
        assert!(hardirq.load(Ordering::Relaxed));
        assert_eq!(taken.load(Ordering::Relaxed), 3);
        for _ in 0..3 {
            assert!(q.enqueue::<_, 0>(item.clone()).is_err());
            assert!(system().enqueue::<_, 0>(item.clone()).is_err());
            assert!(system().enqueue::<_, 1>(item.clone()).is_err());
            assert!(system()
                .enqueue_delayed::<_, 1>(item.clone(), Delay::ZERO)
                .is_err());
            assert!(q
                .enqueue_delayed::<_, 2>(item.clone(), Delay::ZERO)
                .is_err());
            let (previous, queued) = q.mod_delayed::<_, 2>(item.clone(), Delay::from_jiffies(1));
            assert!(previous.is_none() && queued.is_err());
        }
        gate.complete_all();
        q.flush();
        assert_eq!(item.runs(), 0);
        drop(q);
        assert!(Arc::into_unique_or_drop(item).is_some());
        Ok(())
    }

    /// An item of the kernel crate's `kernel::workqueue`, not of this library.
    #[pin_data]
    struct KernelItem {
        done: AtomicBool,
        #[pin]
        work: kernel::workqueue::Work<KernelItem>,
    }

    kernel::impl_has_work! {
        impl HasWork<Self> for KernelItem { self.work }
    }

    impl kernel::workqueue::WorkItem for KernelItem {
        type Pointer = Arc<KernelItem>;

        fn run(this: Arc<KernelItem>) {
            // Long enough that a drop which did not wait would be seen.
            fsleep(Delta::from_millis(20));
            this.done.store(true, Ordering::Release);
        }
    }

    /// A kernel-crate item queued on an owned queue runs there, and before the queue's drop
    /// returns; the queue's reference is then dropped.
    pub(crate) fn a_kernel_crate_item_on_an_owned_queue_runs_before_the_drop_returns() -> Result {
        let q = Builder::unbound().build(c"wq_rs_kernel_items")?;
        let item = Arc::pin_init(
            pin_init!(KernelItem {
                done: AtomicBool::new(false),
                work <- kernel::new_work!("KernelItem::work"),
            }),
            GFP_KERNEL,
        )?;
        assert!(q.enqueue_kernel(item.clone()).is_ok());
        drop(q);
        assert!(item.done.load(Ordering::Acquire));
        assert!(Arc::into_unique_or_drop(item).is_some());
        Ok(())
    }

    /// The test crate has a crate-root `workqueue` module of its own, and mounts the library
    /// at `crate::gpu::wq`: both are there, and the library's macros (used by every suite)
    /// found it through `crate::workqueue_lib`.
    pub(crate) fn the_library_works_beside_a_crate_root_workqueue_module() -> Result {
        assert_eq!(crate::workqueue::OWNER, "the driver");
        let item = Item::new()?;
        assert!(system().enqueue::<_, 0>(item.clone()).is_ok());
        item.work.flush();
        assert_eq!(item.runs(), 1);
        Ok(())
    }
}
