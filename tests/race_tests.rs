// SPDX-License-Identifier: GPL-2.0

//! Races of tracked delayed items, one test per interleaving that `src/tracked.rs` argues
//! about, each many rounds with one thread pinned to each of the four CPUs.
//!
//! Every test keeps a ledger: each successful arming creates one instance, and each instance
//! ends exactly once, by running, by coming back to a caller (cancel, disable, re-arm) or by
//! being released by a queue's cancel pass (drain, destroy). At the end every queue is gone
//! and the test checks `armed == runs + returned + released`, that no item is pending or
//! still linked to a queue, and that each `Arc` is unique again: every owner the queues held
//! was released exactly once.
//!
//! Every test also counts the outcomes it claims to cover (the cancel took the instance, it
//! ran, the pass found the item's lock held, ...) and requires each to have happened a stated
//! number of times: a race that did not happen was not tested.

// KUnit suite: workqueue_races
pub(crate) mod tests {
    #[allow(unused_imports)]
    use crate::kunit::{
        kassert as assert,
        kassert_eq as assert_eq,
        kassert_ne as assert_ne, //
    };

    use core::sync::atomic::{
        AtomicBool,
        AtomicPtr,
        AtomicU32,
        AtomicUsize,
        Ordering, //
    };

    use kernel::{
        ffi::c_void,
        prelude::*,
        sync::Arc, //
    };

    use crate::{
        common::{
            race_rounds,
            run_on_cpus,
            time::{fsleep, now_ns, udelay, Delta},
            Barrier,
            Outcome,
            Rng,
            Task,
            TEST_CPUS, //
        },
        gpu::wq::{
            impl_has_tracked_delayed_work,
            kind::Unbound,
            new_tracked_delayed_work,
            tracked::DROP_UNLINKS,
            Builder,
            Delay,
            Disabled,
            OwnedQueue,
            TrackedDelayedWork,
            WorkItem, //
        },
    };

    #[pin_data]
    struct Racer {
        runs: AtomicU32,
        /// Set while `run` runs, so a canceller can see that it caught the run in progress.
        running: AtomicBool,
        /// The task about to cancel the item, or null (see [`cancel`]).
        canceller: AtomicPtr<c_void>,
        /// Set by a run that saw its canceller blocked, waiting for it.
        run_saw_canceller_wait: AtomicBool,
        #[pin]
        dwork: TrackedDelayedWork<Racer>,
    }

    impl_has_tracked_delayed_work! {
        impl HasTrackedDelayedWork<Self> for Racer { self.dwork }
    }

    /// How long a run waits for a cancel to come (see [`cancel`]).
    const RUN_WAITS_FOR_CANCEL_US: u64 = 3000;

    impl WorkItem for Racer {
        type Pointer = Arc<Racer>;

        fn run(this: Arc<Racer>) {
            this.running.store(true, Ordering::Release);
            this.runs.fetch_add(1, Ordering::AcqRel);
            // The handshake that opens the "cancel while it runs" window: a run stays in
            // progress (for a while at most) until a canceller has announced itself and is
            // seen blocked, which in a cancel means waiting for this run.
            let deadline = now_ns() + RUN_WAITS_FOR_CANCEL_US * 1000;
            while now_ns() < deadline {
                // SAFETY: A canceller clears its pointer before it returns from `cancel`, and a
                // thread outlives its cancels.
                let canceller = unsafe { Task::from_ptr(this.canceller.load(Ordering::Acquire)) };
                if canceller.is_some_and(|task| task.is_blocked()) {
                    this.run_saw_canceller_wait.store(true, Ordering::Release);
                    break;
                }
                udelay(Delta::from_micros(10));
            }
            this.running.store(false, Ordering::Release);
        }
    }

    fn racer() -> Result<Arc<Racer>> {
        Arc::pin_init(
            pin_init!(Racer {
                runs: AtomicU32::new(0),
                running: AtomicBool::new(false),
                canceller: AtomicPtr::new(core::ptr::null_mut()),
                run_saw_canceller_wait: AtomicBool::new(false),
                dwork <- new_tracked_delayed_work!("Racer::dwork"),
            }),
            GFP_KERNEL,
        )
    }

    /// What happened to the instances of a test's items.
    #[derive(Default)]
    struct Ledger {
        armed: AtomicUsize,
        refused: AtomicUsize,
        returned: AtomicUsize,
        released: AtomicUsize,
    }

    impl Ledger {
        /// Books the answer of an arming; returns whether it armed.
        fn arm<E>(&self, result: Result<(), E>) -> bool {
            let ok = result.is_ok();
            let counter = if ok { &self.armed } else { &self.refused };
            counter.fetch_add(1, Ordering::AcqRel);
            ok
        }

        /// Books an owner that came back to a caller; returns whether one did.
        fn back(&self, owner: Option<Arc<Racer>>) -> bool {
            let some = owner.is_some();
            if some {
                self.returned.fetch_add(1, Ordering::AcqRel);
            }
            some
        }

        fn release(&self, n: usize) {
            self.released.fetch_add(n, Ordering::AcqRel);
        }
    }

    /// What every test shares with its threads.
    struct Ctx {
        /// Queues that live through the whole test (taken out at the end to be destroyed).
        queues: KVec<Option<OwnedQueue<Unbound>>>,
        /// One item per thread, then one that all threads share.
        items: KVec<Arc<Racer>>,
        ledger: Ledger,
        stop: AtomicBool,
        barrier: Barrier,
        /// The outcomes the test claims to cover; which is which is the test's own.
        outcomes: [Outcome; 4],
        /// Per item, whether its instance is the one armed on a queue A this round (a test's
        /// own bookkeeping).
        on_a: KVec<AtomicBool>,
    }

    impl Ctx {
        fn new(queues: usize, outcomes: [&'static str; 4]) -> Result<Arc<Ctx>> {
            let mut qs = KVec::new();
            for i in 0..queues {
                let q = Builder::unbound().build_fmt(format_args!("wq_rs_race{i}"))?;
                qs.push(Some(q), GFP_KERNEL)?;
            }
            let mut items = KVec::new();
            let mut on_a = KVec::new();
            for _ in 0..=TEST_CPUS {
                items.push(racer()?, GFP_KERNEL)?;
                on_a.push(AtomicBool::new(false), GFP_KERNEL)?;
            }
            Ok(Arc::new(
                Ctx {
                    queues: qs,
                    items,
                    ledger: Ledger::default(),
                    stop: AtomicBool::new(false),
                    barrier: Barrier::new(TEST_CPUS),
                    outcomes: outcomes.map(Outcome::new),
                    on_a,
                },
                GFP_KERNEL,
            )?)
        }

        fn queue(&self, i: usize) -> &OwnedQueue<Unbound> {
            self.queues[i].as_ref().unwrap_or_else(|| unreachable!())
        }

        /// Thread `t`'s own item in even rounds, the shared one in odd rounds.
        fn item(&self, t: u32, round: u32) -> &Arc<Racer> {
            let shared = self.items.len() - 1;
            if round % 2 == 0 {
                &self.items[t as usize]
            } else {
                &self.items[shared]
            }
        }
    }

    /// A delay that fires within a few milliseconds, or none.
    fn short_delay(rng: &mut Rng) -> Delay {
        Delay::from_millis(rng.below(9))
    }

    /// Waits for up to `us_max` microseconds, so that the other side of a race wins sometimes:
    /// spinning half of the time, sleeping the other half, which leaves the CPU to the
    /// workers that run the items.
    fn dawdle(rng: &mut Rng, us_max: u32) {
        let d = Delta::from_micros(rng.below(us_max).into());
        if rng.one_in(2) {
            udelay(d);
        } else {
            fsleep(d);
        }
    }

    /// Cancels (or, with `disable`, disables) `item` and books the answer. A cancel that found
    /// the run in progress and waited for it, which the run saw by seeing this thread blocked
    /// in the cancel (see `Racer::run`), is counted as outcome `waited`; after it the run has
    /// finished. Pass `waited` only for the thread's own item: two threads may cancel the
    /// shared one at once, and the run sees only one of them.
    fn cancel_as<'a>(
        ctx: &Ctx,
        item: &'a Racer,
        waited: Option<usize>,
        disable: bool,
    ) -> (bool, Option<Disabled<'a>>) {
        let me = Task::current();
        item.run_saw_canceller_wait.store(false, Ordering::Release);
        item.canceller.store(me.as_ptr(), Ordering::Release);
        let (owner, guard) = if disable {
            let (owner, guard) = item.dwork.disable();
            assert!(guard.is_ok());
            (owner, guard.ok())
        } else {
            (item.dwork.cancel(), None)
        };
        item.canceller
            .store(core::ptr::null_mut(), Ordering::Release);
        let took = ctx.ledger.back(owner);
        if let Some(outcome) = waited {
            if !took && item.run_saw_canceller_wait.load(Ordering::Acquire) {
                // It waited for the run that saw it waiting: that run is over.
                assert!(!item.running.load(Ordering::Acquire));
                ctx.outcomes[outcome].hit();
            }
        }
        (took, guard)
    }

    /// [`cancel_as`], cancelling.
    fn cancel(ctx: &Ctx, item: &Racer, waited: Option<usize>) -> bool {
        cancel_as(ctx, item, waited, false).0
    }

    /// Destroys the test's queues, then checks the ledger, the items, and that each outcome
    /// happened at least `mins[i]` times.
    fn settle(what: &str, rounds: u32, ctx: Arc<Ctx>, mins: [usize; 4]) -> Result {
        let Some(mut ctx) = Arc::into_unique_or_drop(ctx) else {
            return Err(EBUSY);
        };
        for q in core::mem::take(&mut ctx.queues).into_iter().flatten() {
            ctx.ledger.release(q.destroy());
        }
        let mut runs = 0;
        for item in &ctx.items {
            assert!(!item.dwork.is_pending());
            assert!(!item.dwork.is_tracked());
            runs += item.runs.load(Ordering::Acquire) as usize;
        }
        let l = &ctx.ledger;
        let (armed, refused) = (
            l.armed.load(Ordering::Acquire),
            l.refused.load(Ordering::Acquire),
        );
        let returned = l.returned.load(Ordering::Acquire);
        let released = l.released.load(Ordering::Acquire);
        pr_info!(
            "{what}: {TEST_CPUS} CPUs, {rounds} rounds: {armed} armed ({refused} refused): \
             {runs} ran, {returned} came back, {released} released by queues\n"
        );
        assert_eq!(armed, runs + returned + released);
        for (outcome, min) in ctx.outcomes.iter().zip(mins) {
            assert!(outcome.reached(what, min));
        }
        for item in core::mem::take(&mut ctx.items) {
            assert!(Arc::into_unique_or_drop(item).is_some());
        }
        Ok(())
    }

    /// Every thread arms its item (or the shared one) with a short delay and cancels it while
    /// its timer fires and it runs on another CPU.
    pub(crate) fn cancel_racing_the_run_returns_or_runs_each_instance_once() -> Result {
        let ctx = Ctx::new(
            1,
            [
                "the cancel took the pending instance",
                "the instance ran",
                "the cancel waited for the run in progress",
                "the shared item was refused, pending for another thread",
            ],
        )?;
        run_on_cpus(TEST_CPUS, &ctx, |ctx, t| {
            let mut rng = Rng::new();
            for round in 0..race_rounds() {
                let item = ctx.item(t, round);
                let q = ctx.queue(0);
                if !ctx
                    .ledger
                    .arm(q.enqueue_delayed(item.clone(), short_delay(&mut rng)))
                {
                    ctx.outcomes[3].hit();
                }
                dawdle(&mut rng, 9000);
                if cancel(ctx, item, (round % 2 == 0).then_some(2)) {
                    ctx.outcomes[0].hit();
                }
                // Only the shared item can be armed again by another thread by now.
                if round % 2 == 0 {
                    assert!(!item.dwork.is_pending());
                }
            }
        })?;
        let runs = ctx.items.iter().map(|i| i.runs.load(Ordering::Acquire));
        ctx.outcomes[1].add(runs.sum::<u32>() as usize);
        settle("cancel vs run", race_rounds(), ctx, [250, 50, 10, 75])
    }

    /// As above with `disable`, whose guard then enables the item while others arm it.
    pub(crate) fn disable_and_enable_racing_the_run_and_arms_account_for_every_instance() -> Result
    {
        let ctx = Ctx::new(
            1,
            [
                "the disable took the pending instance",
                "the instance ran",
                "the disable waited for the run in progress",
                "an arming was refused while the item was disabled",
            ],
        )?;
        run_on_cpus(TEST_CPUS, &ctx, |ctx, t| {
            let mut rng = Rng::new();
            for round in 0..race_rounds() {
                let item = ctx.item(t, round);
                ctx.ledger.arm(
                    ctx.queue(0)
                        .enqueue_delayed(item.clone(), short_delay(&mut rng)),
                );
                dawdle(&mut rng, 9000);
                let (took, disabled) = cancel_as(ctx, item, (round % 2 == 0).then_some(2), true);
                if took {
                    ctx.outcomes[0].hit();
                }
                // Disabled: arming is refused, and the pointer comes back.
                let armed = ctx
                    .ledger
                    .arm(ctx.queue(0).enqueue_delayed(item.clone(), Delay::ZERO));
                assert!(!armed);
                if !armed {
                    ctx.outcomes[3].hit();
                }
                dawdle(&mut rng, 200);
                // Enabling races the arms of the other threads on the shared item.
                drop(disabled);
            }
        })?;
        let runs = ctx.items.iter().map(|i| i.runs.load(Ordering::Acquire));
        ctx.outcomes[1].add(runs.sum::<u32>() as usize);
        let rounds = (TEST_CPUS * race_rounds()) as usize;
        settle(
            "disable/enable vs run",
            race_rounds(),
            ctx,
            [250, 45, 10, rounds],
        )
    }

    /// Every round arms an item on queue A with a short delay, then keeps trying to arm it on
    /// queue B while A's timer fires and the instance runs: refused while A's instance is
    /// pending, armed on B (and linked to B) once it started.
    pub(crate) fn arming_on_b_racing_the_fire_on_a_moves_the_item_once_it_ran() -> Result {
        let ctx = Ctx::new(
            2,
            [
                "armed on B after A's instance started",
                "refused on B while A's instance was pending",
                "armed on B while A's run was still in progress",
                "refused on A, still pending on B from the round before",
            ],
        )?;
        run_on_cpus(TEST_CPUS, &ctx, |ctx, t| {
            let mut rng = Rng::new();
            let (a, b) = (ctx.queue(0), ctx.queue(1));
            for round in 0..race_rounds() {
                let item = ctx.item(t, round);
                let delay = Delay::from_millis(1 + rng.below(4));
                if !ctx.ledger.arm(a.enqueue_delayed(item.clone(), delay)) {
                    ctx.outcomes[3].hit();
                }
                dawdle(&mut rng, 3000);
                for _ in 0..200 {
                    let delay = Delay::from_millis(1 + rng.below(8));
                    let running = item.running.load(Ordering::Acquire);
                    if ctx.ledger.arm(b.enqueue_delayed(item.clone(), delay)) {
                        // Linked to B now: A's drop must not see it, B's must.
                        ctx.outcomes[0].hit();
                        if running {
                            ctx.outcomes[2].hit();
                        }
                        break;
                    }
                    ctx.outcomes[1].hit();
                    dawdle(&mut rng, 500);
                }
                if rng.one_in(2) {
                    cancel(ctx, item, None);
                }
            }
        })?;
        settle(
            "arm on B vs fire on A",
            race_rounds(),
            ctx,
            [600, 1000, 50, 20],
        )
    }

    /// Thread 0 builds queue A and arms every item on it; then, in the same round, it drops A
    /// while the other threads re-arm the same items onto queue B (each thread its own share
    /// of the items, so that it knows whether the instance it took was A's) and cancel them.
    pub(crate) fn drop_racing_rearms_from_other_threads_releases_or_moves_each_instance_once(
    ) -> Result {
        let ctx = Ctx::new(
            1,
            [
                "A's drop released an instance",
                "a re-arm onto B took A's instance",
                "a re-arm found the item idle (A's instance released or run)",
                "an arming on A was refused, the item pending on B",
            ],
        )?;
        run_on_cpus(TEST_CPUS, &ctx, |ctx, t| {
            let mut rng = Rng::new();
            for _ in 0..race_rounds() / 2 {
                let a = if t == 0 {
                    let a = Builder::unbound().build(c"wq_rs_race_a");
                    assert!(a.is_ok());
                    if let Ok(a) = &a {
                        for (item, on_a) in ctx.items.iter().zip(&ctx.on_a) {
                            let delay = Delay::from_millis(5 + rng.below(20));
                            let armed = ctx.ledger.arm(a.enqueue_delayed(item.clone(), delay));
                            on_a.store(armed, Ordering::Release);
                            if !armed {
                                ctx.outcomes[3].hit();
                            }
                        }
                    }
                    a.ok()
                } else {
                    None
                };
                // Everyone starts the round with the items armed on A.
                ctx.barrier.wait();
                if let Some(a) = a {
                    dawdle(&mut rng, 300);
                    let released = a.destroy();
                    ctx.ledger.release(released);
                    ctx.outcomes[0].add(released);
                } else {
                    let b = ctx.queue(0);
                    let share = (t as usize - 1..ctx.items.len()).step_by(TEST_CPUS as usize - 1);
                    for i in share {
                        let item = &ctx.items[i];
                        let delay = Delay::from_millis(1 + rng.below(8));
                        // Only this thread re-arms item `i`: if A's instance is still there,
                        // it is what the re-arm takes.
                        let was_on_a = ctx.on_a[i].swap(false, Ordering::AcqRel);
                        let (previous, queued) = b.mod_delayed(item.clone(), delay);
                        let took = ctx.ledger.back(previous);
                        if took && was_on_a {
                            ctx.outcomes[1].hit();
                        } else if !took {
                            ctx.outcomes[2].hit();
                        }
                        ctx.ledger.arm(queued);
                        if rng.one_in(4) {
                            cancel(ctx, item, None);
                        }
                        dawdle(&mut rng, 100);
                    }
                }
                // Nobody arms on A once it is gone.
                ctx.barrier.wait();
            }
        })?;
        // The last outcome is rarest on PREEMPT_RT (16, 68 and 105 in three rt boots, 161 to
        // 438 on the other flavours): its minimum is a third of the lowest.
        settle("drop vs re-arm", race_rounds() / 2, ctx, [30, 50, 60, 5])
    }

    /// Thread 0 arms the items on its queue and drains it, round after round, while the other
    /// threads flush and cancel the same items: no timer may fire into the drain.
    pub(crate) fn drain_with_armed_items_cancels_them_and_runs_the_queued_ones() -> Result {
        let ctx = Ctx::new(
            0,
            [
                "the drain released an armed instance",
                "a flush ran an instance at once",
                "an instance ran while the drain waited for it",
                "a cancel took an instance",
            ],
        )?;
        run_on_cpus(TEST_CPUS, &ctx, |ctx, t| {
            let mut rng = Rng::new();
            if t == 0 {
                let Ok(mut q) = Builder::unbound().build(c"wq_rs_race_drain") else {
                    ctx.stop.store(true, Ordering::Release);
                    assert!(false);
                    return;
                };
                for _ in 0..race_rounds() {
                    for item in &ctx.items {
                        ctx.ledger
                            .arm(q.enqueue_delayed(item.clone(), short_delay(&mut rng)));
                    }
                    dawdle(&mut rng, 6000);
                    let runs = || ctx.items.iter().map(|i| i.runs.load(Ordering::Acquire));
                    let before: u32 = runs().sum();
                    let released = q.drain();
                    // The runs that happened meanwhile: the drain waited for each.
                    ctx.outcomes[2].add((runs().sum::<u32>() - before) as usize);
                    ctx.ledger.release(released);
                    ctx.outcomes[0].add(released);
                    // Armed items were cancelled, queued ones ran: nothing is left on `q`,
                    // and the other threads only flush (which queues before the pass passes
                    // the item, so the drain waits for it) and cancel.
                    for item in &ctx.items {
                        assert!(!item.dwork.is_tracked());
                    }
                    // Pending is C's bit, which another CPU's cancel sets for a moment on an
                    // idle item: only thread 0's own item, which no other thread touches,
                    // tells that nothing is pending.
                    assert!(!ctx.items[0].dwork.is_pending());
                }
                ctx.ledger.release(q.destroy());
                ctx.stop.store(true, Ordering::Release);
                return;
            }
            // The thread's own item and the shared one, in turns.
            let mut round = 0;
            while !ctx.stop.load(Ordering::Acquire) {
                let item = ctx.item(t, round);
                if rng.one_in(2) {
                    if item.dwork.flush() {
                        ctx.outcomes[1].hit();
                    }
                } else if cancel(ctx, item, None) {
                    ctx.outcomes[3].hit();
                }
                dawdle(&mut rng, 2000);
                round += 1;
            }
        })?;
        settle(
            "drain vs flush and cancel",
            race_rounds(),
            ctx,
            [200, 120, 10, 120],
        )
    }

    /// Items of this test: made fresh each round, linked to the queue and idle.
    const DROPPED_PER_THREAD: usize = 24;
    /// How often the pass must find a dropping item's lock held.
    const DROPS_MEETING_THE_PASS: usize = 20;

    /// Per round, threads 1-3 each arm fresh items on the queue with a long delay and cancel
    /// them (each stays linked, idle); then thread 0 drains the queue, whose cancel pass walks
    /// the links, while the others drop their items, whose drops unlink them. Whoever gets
    /// both locks unlinks; the other must find the item gone or unlinked.
    pub(crate) fn item_drops_racing_the_cancel_pass_unlink_each_item_once() -> Result {
        #[pin_data]
        struct Drops {
            #[pin]
            queue: kernel::sync::Mutex<Option<OwnedQueue<Unbound>>>,
            barrier: Barrier,
            outcomes: [Outcome; 4],
            linked: AtomicUsize,
            rounds: AtomicU32,
            stop: AtomicBool,
        }
        let ctx = Arc::pin_init(
            pin_init!(Drops {
                queue <- kernel::new_mutex!(Builder::unbound().build(c"wq_rs_race_drops").ok()),
                barrier: Barrier::new(TEST_CPUS),
                outcomes: [
                    "the pass unlinked the item",
                    "the item's drop unlinked it",
                    "the pass found the item's lock held and let go",
                    "the pass released an owner (never: all were idle)",
                ]
                .map(Outcome::new),
                linked: AtomicUsize::new(0),
                rounds: AtomicU32::new(0),
                stop: AtomicBool::new(false),
            }),
            GFP_KERNEL,
        )?;
        assert!(ctx.queue.lock().is_some());
        let drops_before = DROP_UNLINKS.load(Ordering::Acquire);
        run_on_cpus(TEST_CPUS, &ctx, |ctx, t| {
            let mut rng = Rng::new();
            // At least a quarter of the race rounds, and more (up to four times as many) until
            // the pass has found a dropping item's lock held often enough: whether the two meet
            // depends on how the host runs the guest's CPUs.
            while !ctx.stop.load(Ordering::Acquire) {
                let mut mine: [Option<Arc<Racer>>; DROPPED_PER_THREAD] = Default::default();
                if t != 0 {
                    let guard = ctx.queue.lock();
                    let Some(q) = guard.as_ref() else {
                        return;
                    };
                    for slot in mine.iter_mut() {
                        let Ok(item) = racer() else {
                            assert!(false);
                            break;
                        };
                        assert!(q
                            .enqueue_delayed(item.clone(), Delay::from_millis(60_000))
                            .is_ok());
                        // The cancel takes the instance and leaves the link (lazily).
                        assert!(item.dwork.cancel().is_some());
                        assert!(item.dwork.is_tracked());
                        *slot = Some(item);
                        ctx.linked.fetch_add(1, Ordering::AcqRel);
                    }
                }
                // All items are linked and idle: the pass and the drops start together.
                ctx.barrier.wait();
                if t == 0 {
                    dawdle(&mut rng, 40);
                    let mut guard = ctx.queue.lock();
                    if let Some(q) = (*guard).as_mut() {
                        let pass = q.drain_report();
                        ctx.outcomes[0].add(pass.unlinked);
                        ctx.outcomes[2].add(pass.contended);
                        ctx.outcomes[3].add(pass.released);
                    }
                    let rounds = ctx.rounds.fetch_add(1, Ordering::AcqRel) + 1;
                    let met = ctx.outcomes[2].get() >= DROPS_MEETING_THE_PASS;
                    if (rounds >= race_rounds() / 4 && met) || rounds >= race_rounds() * 4 {
                        ctx.stop.store(true, Ordering::Release);
                    }
                } else {
                    dawdle(&mut rng, 40);
                    // Newest first: the pass starts at the newest link, so they meet.
                    for item in mine.iter_mut().rev() {
                        drop(item.take());
                    }
                }
                ctx.barrier.wait();
            }
        })?;
        // Every link was removed once: by the pass or by the drop.
        let queue = ctx.queue.lock().take();
        let last = queue.map(|q| q.destroy_report());
        assert!(last.is_some_and(|pass| pass.unlinked == 0));
        // Each link was removed exactly once, by the pass or by the item's drop, each counted
        // where it happened.
        let linked = ctx.linked.load(Ordering::Acquire);
        ctx.outcomes[1].add(DROP_UNLINKS.load(Ordering::Acquire) - drops_before);
        assert_eq!(ctx.outcomes[0].get() + ctx.outcomes[1].get(), linked);
        let rounds = ctx.rounds.load(Ordering::Acquire);
        pr_info!("item drop vs cancel pass: {rounds} rounds, {linked} linked items dropped\n");
        let mins = [1000, 500, DROPS_MEETING_THE_PASS, 0];
        for (outcome, min) in ctx.outcomes.iter().zip(mins) {
            assert!(outcome.reached("item drop vs cancel pass", min));
        }
        assert_eq!(ctx.outcomes[3].get(), 0);
        Ok(())
    }
}
