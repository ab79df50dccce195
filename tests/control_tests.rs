// SPDX-License-Identifier: GPL-2.0

//! Lifecycle control: cancel (returning the owner), flush, drain, re-arm, per-CPU enqueue,
//! disable and enable.

// KUnit suite: workqueue_control
pub(crate) mod tests {
    #[allow(unused_imports)]
    use crate::kunit::{
        kassert as assert,
        kassert_eq as assert_eq,
        kassert_ne as assert_ne, //
    };

    use core::{
        ptr::NonNull,
        sync::atomic::{
            AtomicBool,
            AtomicU32,
            AtomicU64,
            AtomicUsize,
            Ordering, //
        },
    };

    use kernel::{
        prelude::*,
        sync::Arc,
        time::msecs_to_jiffies, //
    };

    use crate::{
        common::{
            current_cpu,
            into_aref,
            jiffies,
            nr_cpu_ids,
            online_cpus,
            random_below,
            release_boxed,
            time::{fsleep, now_ns, udelay, Delta},
            wait_until,
            wait_until_blocked,
            Completion,
            Echo,
            Task, //
        },
        gpu::wq::{
            compat::{
                ARef,
                AlwaysRefCounted, //
            },
            impl_has_delayed_work,
            impl_has_tracked_delayed_work,
            impl_has_work,
            new_delayed_work,
            new_tracked_delayed_work,
            new_work,
            system,
            Builder,
            Delay,
            DelayedWork,
            TrackedDelayedWork,
            Work,
            WorkItem, //
        },
    };

    /// An `Arc` item: counts its runs, records its CPU and its run time, and can be held at a
    /// gate until released.
    #[pin_data]
    struct Item {
        runs: AtomicU32,
        cpu: AtomicU32,
        /// When it last ran, in nanoseconds of the monotonic clock.
        ran_at: AtomicU64,
        /// Set once its run has started, before the gate.
        started: AtomicBool,
        gated: bool,
        #[pin]
        gate: Completion,
        #[pin]
        work: Work<Item>,
        #[pin]
        dwork: DelayedWork<Item, 1>,
    }

    impl_has_work! {
        impl HasWork<Item> for Item { self.work }
    }

    impl_has_delayed_work! {
        impl HasDelayedWork<Item, 1> for Item { self.dwork }
    }

    impl Item {
        fn new(gated: bool) -> Result<Arc<Item>> {
            Arc::pin_init(
                pin_init!(Item {
                    runs: AtomicU32::new(0),
                    cpu: AtomicU32::new(u32::MAX),
                    ran_at: AtomicU64::new(0),
                    started: AtomicBool::new(false),
                    gated,
                    gate <- Completion::new(),
                    work <- new_work!("Item::work"),
                    dwork <- new_delayed_work!("Item::dwork"),
                }),
                GFP_KERNEL,
            )
        }

        fn record(&self) {
            self.cpu.store(current_cpu(), Ordering::Relaxed);
            self.ran_at.store(now_ns(), Ordering::Relaxed);
            self.started.store(true, Ordering::Release);
            if self.gated {
                self.gate.wait_for_completion();
            }
            self.runs.fetch_add(1, Ordering::AcqRel);
        }

        fn runs(&self) -> u32 {
            self.runs.load(Ordering::Acquire)
        }
    }

    impl WorkItem for Item {
        type Pointer = Arc<Item>;

        fn run(this: Arc<Item>) {
            this.record();
        }
    }

    impl WorkItem<1> for Item {
        type Pointer = Arc<Item>;

        fn run(this: Arc<Item>) {
            this.record();
        }
    }

    fn sole_owner(item: Arc<Item>) -> bool {
        Arc::into_unique_or_drop(item).is_some()
    }

    pub(crate) fn cancel_before_the_run_returns_the_owner() -> Result {
        let q = Builder::ordered().build(c"wq_rs_ctl_cancel")?;
        let blocker = Item::new(true)?;
        let target = Item::new(false)?;
        assert!(q.enqueue::<_, 0>(blocker.clone()).is_ok());
        assert!(q.enqueue::<_, 0>(target.clone()).is_ok());
        let owner = target.work.cancel();
        assert!(owner.is_some());
        drop(owner);
        blocker.gate.complete_all();
        drop(q);
        assert_eq!(target.runs(), 0);
        assert_eq!(blocker.runs(), 1);
        assert!(sole_owner(target));
        assert!(sole_owner(blocker));
        Ok(())
    }

    pub(crate) fn cancel_after_the_run_returns_nothing() -> Result {
        let item = Item::new(false)?;
        assert!(system().enqueue::<_, 0>(item.clone()).is_ok());
        // It may already have run (then there is nothing to wait for): either way it is done.
        item.work.flush();
        assert!(item.work.cancel().is_none());
        assert_eq!(item.runs(), 1);
        assert!(sole_owner(item));
        Ok(())
    }

    pub(crate) fn cancel_of_an_armed_delayed_item_returns_the_owner_and_it_never_runs() -> Result {
        let item = Item::new(false)?;
        assert!(system()
            .enqueue_delayed::<_, 1>(item.clone(), Delay::from_millis(100))
            .is_ok());
        let owner = item.dwork.cancel();
        assert!(owner.is_some());
        drop(owner);
        // Well past the delay: it would have run by now.
        fsleep(Delta::from_millis(300));
        assert_eq!(item.runs(), 0);
        assert!(item.dwork.cancel().is_none());
        assert!(sole_owner(item));
        Ok(())
    }

    /// An `ARef` item with its own reference count.
    #[pin_data]
    struct Counted {
        refs: AtomicUsize,
        runs: AtomicU32,
        #[pin]
        work: Work<Counted>,
    }

    impl_has_work! {
        impl HasWork<Self> for Counted { self.work }
    }

    impl WorkItem for Counted {
        type Pointer = ARef<Counted>;

        fn run(this: ARef<Counted>) {
            this.runs.fetch_add(1, Ordering::AcqRel);
        }
    }

    // SAFETY: Counted atomically; the last reference frees the box, once.
    unsafe impl AlwaysRefCounted for Counted {
        fn inc_ref(&self) {
            self.refs.fetch_add(1, Ordering::Relaxed);
        }

        unsafe fn dec_ref(obj: NonNull<Self>) {
            // SAFETY: The caller gives up a reference to an object made by `into_aref`.
            unsafe { release_boxed(obj, |o| &o.refs) };
        }
    }

    pub(crate) fn cancel_returns_the_owner_of_an_aref_item() -> Result {
        let item: ARef<Counted> = into_aref(KBox::pin_init(
            pin_init!(Counted {
                refs: AtomicUsize::new(1),
                runs: AtomicU32::new(0),
                work <- new_work!("Counted::work"),
            }),
            GFP_KERNEL,
        )?);

        let q = Builder::ordered().build(c"wq_rs_ctl_aref")?;
        let blocker = Item::new(true)?;
        assert!(q.enqueue::<_, 0>(blocker.clone()).is_ok());
        assert!(q.enqueue::<_, 0>(item.clone()).is_ok());
        assert_eq!(item.refs.load(Ordering::Acquire), 2);
        let owner = item.work.cancel();
        assert!(owner.is_some());
        drop(owner);
        assert_eq!(item.refs.load(Ordering::Acquire), 1);
        blocker.gate.complete_all();
        drop(q);
        assert_eq!(item.runs.load(Ordering::Acquire), 0);
        Ok(())
    }

    /// The item runs on another CPU while this one cancels it: in every round exactly one of
    /// "it ran" and "its owner came back" happens, and over the rounds both do, often.
    pub(crate) fn cancel_racing_with_the_run_on_another_cpu_is_exact() -> Result {
        const ROUNDS: u32 = 10_000;
        // With one CPU there would be no race to test. The test boot brings up CPUs 0..n.
        let cpus = online_cpus();
        assert!(cpus >= 2);
        let item = Item::new(false)?;
        let (mut cancelled, mut ran) = (0u32, 0u32);
        for round in 0..ROUNDS {
            let other = (current_cpu() + 1) % cpus;
            let before = item.runs();
            assert!(matches!(
                system().enqueue_on::<_, 0>(other, item.clone()),
                Ok(Ok(()))
            ));
            // Vary the head start of the run, so that both outcomes occur.
            udelay(Delta::from_micros(i64::from(random_below(200))));
            let owner = item.work.cancel();
            let returned = owner.is_some();
            drop(owner);
            // After the cancel nothing runs: the count is final for this round.
            let delta = item.runs() - before;
            if returned {
                cancelled += 1;
                assert_eq!(delta, 0);
            } else {
                ran += 1;
                assert_eq!(delta, 1);
                // On the other CPU: a per-CPU queue runs an item on the CPU it was queued for.
                assert_eq!(item.cpu.load(Ordering::Relaxed), other);
            }
            let _ = round;
        }
        pr_info!("cancel race: {ROUNDS} rounds, {cancelled} cancelled, {ran} ran\n");
        assert!(cancelled >= ROUNDS / 20);
        assert!(ran >= ROUNDS / 20);
        assert!(sole_owner(item));
        Ok(())
    }

    /// A flush that starts while the item runs returns only after the run: the item is held
    /// at its gate until the flushing thread is seen blocked, and only then released.
    pub(crate) fn flush_waits_for_the_item() -> Result {
        let item = Item::new(true)?;
        assert!(system_long_enqueue(&item));
        // The run has started and waits at its gate.
        assert!(wait_until(5000, || item.started.load(Ordering::Acquire)));
        let releaser = item.clone();
        let me = Task::current();
        let released_while_blocked = Arc::new(AtomicBool::new(false), GFP_KERNEL)?;
        let report = released_while_blocked.clone();
        crate::gpu::wq::system_unbound().try_spawn(GFP_KERNEL, move || {
            // Opens the gate once the test's thread waits in the flush.
            report.store(wait_until_blocked(&me, 10_000), Ordering::Release);
            releaser.gate.complete_all();
        })?;
        assert!(item.work.flush());
        assert_eq!(item.runs(), 1);
        assert!(released_while_blocked.load(Ordering::Acquire));
        assert!(!item.work.flush());
        Ok(())
    }

    fn system_long_enqueue(item: &Arc<Item>) -> bool {
        crate::gpu::wq::system_long()
            .enqueue::<_, 0>(item.clone())
            .is_ok()
    }

    pub(crate) fn a_flushed_delayed_item_runs_at_once() -> Result {
        let item = Item::new(false)?;
        let start = jiffies();
        assert!(system()
            .enqueue_delayed::<_, 1>(item.clone(), Delay::from_millis(60_000))
            .is_ok());
        // `flush` answers whether it had to wait, which depends on whether the other CPU
        // already finished the item: what matters is that it ran, now.
        item.dwork.flush();
        assert_eq!(item.runs(), 1);
        assert!(jiffies().wrapping_sub(start) < msecs_to_jiffies(1000));
        assert!(sole_owner(item));
        Ok(())
    }

    /// Items re-queueing themselves through handles while the queue drains: the drain waits
    /// for what was queued, refuses the re-queues that come after it began, leaves nothing
    /// queued, and opens the handles again afterwards.
    pub(crate) fn drain_empties_the_queue_refusing_handle_requeues_until_it_is_done() -> Result {
        let mut q = Builder::unbound().max_active(2).build(c"wq_rs_ctl_drain")?;
        let mut echoes = KVec::new();
        for _ in 0..6 {
            let e = Echo::new(&q, 3, 1)?;
            assert!(q.enqueue::<_, 0>(e.clone()).is_ok());
            echoes.push(e, GFP_KERNEL)?;
        }
        q.drain();
        let refused: u32 = echoes.iter().map(|e| e.refused()).sum();
        for e in &echoes {
            assert!(!e.work.flush());
            assert!(e.accounted(3));
        }
        // Two at a time for 1 ms each: the drain began before all 24 runs could happen.
        assert!(refused > 0);
        // The queue, and its handles, work again after a drain.
        let again = Echo::new(&q, 1, 0)?;
        assert!(q.enqueue::<_, 0>(again.clone()).is_ok());
        assert!(wait_until(5000, || again.runs() == 2));
        drop(q);
        assert!(again.accounted(1) && again.refused() == 0);
        Ok(())
    }

    /// Milliseconds from `since_ns` to the item's last run.
    fn ran_after_ms(item: &Item, since_ns: u64) -> u64 {
        item.ran_at.load(Ordering::Acquire).saturating_sub(since_ns) / 1_000_000
    }

    /// The length of a jiffy, in milliseconds, rounded up: a timer armed for `d` fires no
    /// earlier than `d` less one jiffy after the arming (the jiffy may tick right after it).
    fn jiffy_ms() -> u64 {
        1000u64.div_ceil(msecs_to_jiffies(1000).max(1) as u64)
    }

    pub(crate) fn mod_delayed_shortens_and_lengthens_and_queues_an_idle_item() -> Result {
        // Shorten: 60 s becomes 40 ms; the queue's previous owner comes back.
        let item = Item::new(false)?;
        assert!(system()
            .enqueue_delayed::<_, 1>(item.clone(), Delay::from_millis(60_000))
            .is_ok());
        let start = now_ns();
        let (previous, queued) = system().mod_delayed::<_, 1>(item.clone(), Delay::from_millis(40));
        assert!(previous.is_some() && queued.is_ok());
        drop(previous);
        assert!(wait_until(5000, || item.runs() == 1));
        let waited = ran_after_ms(&item, start);
        assert!(waited + jiffy_ms() >= 40 && waited < 5000);

        // Lengthen: 100 ms become 600 ms. The item must not run before the new deadline.
        let start = now_ns();
        assert!(system()
            .enqueue_delayed::<_, 1>(item.clone(), Delay::from_millis(100))
            .is_ok());
        let (previous, queued) =
            system().mod_delayed::<_, 1>(item.clone(), Delay::from_millis(600));
        assert!(previous.is_some() && queued.is_ok());
        drop(previous);
        assert!(wait_until(10_000, || item.runs() == 2));
        assert!(ran_after_ms(&item, start) + jiffy_ms() >= 600);

        // Idle: queued, nothing pending to return.
        let (previous, queued) = system().mod_delayed::<_, 1>(item.clone(), Delay::from_millis(1));
        assert!(previous.is_none() && queued.is_ok());
        assert!(wait_until(5000, || item.runs() == 3));
        system().flush();
        assert!(sole_owner(item));
        Ok(())
    }

    /// A tracked item: re-arming on an owned queue.
    #[pin_data]
    struct Tracked {
        runs: AtomicU32,
        #[pin]
        dwork: TrackedDelayedWork<Tracked>,
    }

    impl_has_tracked_delayed_work! {
        impl HasTrackedDelayedWork<Self> for Tracked { self.dwork }
    }

    impl WorkItem for Tracked {
        type Pointer = Arc<Tracked>;

        fn run(this: Arc<Tracked>) {
            this.runs.fetch_add(1, Ordering::AcqRel);
        }
    }

    pub(crate) fn mod_delayed_on_an_owned_queue_rearms_a_tracked_item() -> Result {
        let q = Builder::unbound().build(c"wq_rs_ctl_rearm")?;
        let t = Arc::pin_init(
            pin_init!(Tracked { runs: AtomicU32::new(0), dwork <- new_tracked_delayed_work!() }),
            GFP_KERNEL,
        )?;
        assert!(q
            .enqueue_delayed(t.clone(), Delay::from_millis(60_000))
            .is_ok());
        let (previous, queued) = q.mod_delayed(t.clone(), Delay::from_millis(8));
        assert!(previous.is_some() && queued.is_ok());
        drop(previous);
        assert!(wait_until(2000, || t.runs.load(Ordering::Acquire) == 1));
        // Re-armed far out, then dropped: cancelled without waiting.
        let (previous, queued) = q.mod_delayed(t.clone(), Delay::from_millis(60_000));
        assert!(previous.is_none() && queued.is_ok());
        drop(q);
        assert_eq!(t.runs.load(Ordering::Acquire), 1);
        assert!(Arc::into_unique_or_drop(t).is_some());
        Ok(())
    }

    pub(crate) fn enqueue_on_cpu_n_runs_on_cpu_n() -> Result {
        for cpu in 0..nr_cpu_ids() {
            let item = Item::new(false)?;
            assert!(matches!(
                system().enqueue_on::<_, 0>(cpu, item.clone()),
                Ok(Ok(()))
            ));
            item.work.flush();
            assert_eq!(item.runs(), 1);
            assert_eq!(item.cpu.load(Ordering::Relaxed), cpu);
            // Armed for a minute, so the flush finds the timer and runs the item now.
            let item2 = Item::new(false)?;
            let delay = Delay::from_millis(60_000);
            let armed = system().enqueue_delayed_on::<_, 1>(cpu, item2.clone(), delay);
            assert!(matches!(armed, Ok(Ok(()))));
            item2.dwork.flush();
            assert_eq!(item2.runs(), 1);
            assert_eq!(item2.cpu.load(Ordering::Relaxed), cpu);
        }
        Ok(())
    }

    pub(crate) fn enqueue_on_a_missing_cpu_is_refused_and_an_offline_one_only_where_it_must_be_online(
    ) -> Result {
        let item = Item::new(false)?;
        let unbound = Builder::unbound().build(c"wq_rs_ctl_hint")?;
        for cpu in [nr_cpu_ids(), 4096, u32::MAX] {
            let refused = [
                system().enqueue_on::<_, 0>(cpu, item.clone()),
                unbound.enqueue_on::<_, 0>(cpu, item.clone()),
            ];
            for answer in refused {
                match answer {
                    Err((e, back)) => {
                        assert_eq!(e, EINVAL);
                        drop(back);
                    }
                    Ok(_) => assert!(false),
                }
            }
        }
        assert!(nr_cpu_ids() >= 2);
        // CPU 1 exists; a test may take it offline for a moment.
        assert_eq!(crate::common::cpu_down(1), 0);
        // Per-CPU: the CPU must be online. Unbound: it is a hint, and the item runs anyway.
        let percpu = system().enqueue_on::<_, 0>(1, item.clone());
        let hinted = unbound.enqueue_on::<_, 0>(1, item.clone());
        // A timer must be armed on an online CPU, whatever the queue.
        let delay = Delay::from_millis(60_000);
        let timer =
            crate::gpu::wq::system_unbound().enqueue_delayed_on::<_, 1>(1, item.clone(), delay);
        unbound.flush();
        assert_eq!(crate::common::cpu_up(1), 0);
        for answer in [percpu, timer] {
            match answer {
                Err((e, back)) => {
                    assert_eq!(e, EINVAL);
                    drop(back);
                }
                Ok(_) => assert!(false),
            }
        }
        assert!(matches!(hinted, Ok(Ok(()))));
        assert_eq!(item.runs(), 1);
        assert_ne!(item.cpu.load(Ordering::Relaxed), 1);
        drop(unbound);
        assert!(sole_owner(item));
        Ok(())
    }

    pub(crate) fn a_disabled_item_is_refused_until_enabled() -> Result {
        let item = Item::new(false)?;
        let (owner, disabled) = item.work.disable();
        let disabled = disabled?;
        assert!(owner.is_none());
        let back = system().enqueue::<_, 0>(item.clone());
        assert!(back.is_err());
        drop(back);
        assert!(disabled.enable());
        assert!(system().enqueue::<_, 0>(item.clone()).is_ok());
        item.work.flush();
        assert_eq!(item.runs(), 1);

        // Disabling a pending delayed item cancels it and returns its owner.
        assert!(system()
            .enqueue_delayed::<_, 1>(item.clone(), Delay::from_millis(60_000))
            .is_ok());
        let (owner, disabled) = item.dwork.disable();
        let disabled = disabled?;
        assert!(owner.is_some());
        drop(owner);
        assert!(system()
            .enqueue_delayed::<_, 1>(item.clone(), Delay::from_millis(4))
            .is_err());
        // Disabling nests: the item is queueable only once both guards are gone.
        let (none, inner) = item.dwork.disable();
        let inner = inner?;
        assert!(none.is_none());
        assert!(!inner.enable());
        drop(disabled);
        assert!(system()
            .enqueue_delayed::<_, 1>(item.clone(), Delay::from_millis(60_000))
            .is_ok());
        item.dwork.flush();
        assert_eq!(item.runs(), 2);
        assert!(sole_owner(item));
        Ok(())
    }

    /// The most `Disabled` guards one item may have (see `wq_rs_disable_bounded()`).
    const GUARD_LIMIT: usize = 1 << 15;

    /// Guards up to the library's limit are each counted by C: past it a disable is refused
    /// (and undone), and only the drop of the last guard enables the item again. Were one
    /// guard to stand for a disable C did not count, the item would be enabled a guard too
    /// early (and C would warn that the count underflowed).
    pub(crate) fn disables_past_the_guard_limit_are_refused_and_every_guard_was_counted() -> Result
    {
        let item = Item::new(false)?;
        let mut guards = KVec::with_capacity(GUARD_LIMIT, GFP_KERNEL)?;
        for _ in 0..GUARD_LIMIT {
            let (owner, guard) = item.work.disable();
            assert!(owner.is_none());
            guards.push(guard?, GFP_KERNEL)?;
        }
        // One more is refused, and undone: the item carries the limit's disables, no more.
        let (owner, refused) = item.work.disable();
        assert!(owner.is_none());
        assert!(matches!(refused, Err(e) if e == EBUSY));
        drop(refused);
        assert!(system().enqueue::<_, 0>(item.clone()).is_err());
        let mut left = guards.len();
        for guard in guards {
            left -= 1;
            if left == 0 {
                // All but this one have enabled: still disabled.
                assert!(system().enqueue::<_, 0>(item.clone()).is_err());
            }
            drop(guard);
        }
        // The last one enabled it.
        assert!(system().enqueue::<_, 0>(item.clone()).is_ok());
        item.work.flush();
        assert_eq!(item.runs(), 1);
        assert!(sole_owner(item));
        Ok(())
    }
}
