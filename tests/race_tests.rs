// SPDX-License-Identifier: GPL-2.0

//! Races of tracked delayed items, one test per interleaving that `src/tracked.rs` argues
//! about, each many rounds on every CPU of the guest.
//!
//! Every test keeps a ledger: each successful arming creates one instance, and each instance
//! ends exactly once, by running, by coming back to a caller (cancel, disable, re-arm) or by
//! being released by a queue's cancel pass (drain, destroy). At the end every queue is gone
//! and the test checks `armed == runs + returned + released`, that no item is pending or
//! still linked to a registry, and that each `Arc` is unique again: every owner the queues
//! held was released exactly once.

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
        AtomicU32,
        AtomicUsize,
        Ordering, //
    };

    use kernel::{
        prelude::*,
        sync::Arc,
        time::Jiffies, //
    };

    use crate::{
        common::{
            online_cpus,
            run_threads,
            time::{udelay, Delta},
            Rng, //
        },
        workqueue::{
            impl_has_tracked_delayed_work,
            kind::Unbound,
            new_tracked_delayed_work,
            Builder,
            Delay,
            OwnedQueue,
            TrackedDelayedWork,
            WorkItem, //
        },
    };

    /// Rounds per thread; with 4 CPUs each test runs four times as many.
    const ROUNDS: u32 = 300;

    #[pin_data]
    struct Racer {
        runs: AtomicU32,
        #[pin]
        dwork: TrackedDelayedWork<Racer>,
    }

    impl_has_tracked_delayed_work! {
        impl HasTrackedDelayedWork<Self> for Racer { self.dwork }
    }

    impl WorkItem for Racer {
        type Pointer = Arc<Racer>;

        fn run(this: Arc<Racer>) {
            this.runs.fetch_add(1, Ordering::AcqRel);
        }
    }

    fn racer() -> Result<Arc<Racer>> {
        Arc::pin_init(
            pin_init!(Racer {
                runs: AtomicU32::new(0),
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
        /// Books the answer of an arming.
        fn arm<E>(&self, result: Result<(), E>) -> bool {
            let ok = result.is_ok();
            let counter = if ok { &self.armed } else { &self.refused };
            counter.fetch_add(1, Ordering::AcqRel);
            ok
        }

        /// Books an owner that came back to a caller.
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
    }

    impl Ctx {
        fn new(queues: usize) -> Result<Arc<Ctx>> {
            let threads = online_cpus();
            // The races need the other CPUs; the runner boots with four.
            assert!(threads >= 2);
            let mut qs = KVec::new();
            for i in 0..queues {
                let q = Builder::unbound().build_fmt(format_args!("wq_rs_race{i}"))?;
                qs.push(Some(q), GFP_KERNEL)?;
            }
            let mut items = KVec::new();
            for _ in 0..=threads {
                items.push(racer()?, GFP_KERNEL)?;
            }
            Ok(Arc::new(
                Ctx {
                    queues: qs,
                    items,
                    ledger: Ledger::default(),
                    stop: AtomicBool::new(false),
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

        fn threads(&self) -> u32 {
            (self.items.len() - 1) as u32
        }
    }

    /// A delay that fires within the next jiffy or two, or none.
    fn short_delay(rng: &mut Rng) -> Delay {
        Delay::from_jiffies(rng.below(3) as Jiffies)
    }

    /// Spins for up to `us_max` microseconds, so that the other side of a race wins sometimes.
    fn dawdle(rng: &mut Rng, us_max: u32) {
        udelay(Delta::from_micros(rng.below(us_max).into()));
    }

    /// Destroys the test's queues, then checks the ledger and the items, and prints the counts.
    fn settle(what: &str, ctx: Arc<Ctx>) -> Result {
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
            "{what}: {} threads x {ROUNDS} rounds: {armed} armed ({refused} refused): {runs} ran, \
             {returned} came back, {released} released by queues\n",
            ctx.threads()
        );
        assert_eq!(armed, runs + returned + released);
        for item in core::mem::take(&mut ctx.items) {
            assert!(Arc::into_unique_or_drop(item).is_some());
        }
        Ok(())
    }

    /// Every thread arms its item (or the shared one) with a short delay and cancels it while
    /// its timer fires and it runs on another CPU.
    pub(crate) fn cancel_racing_the_run_returns_or_runs_each_instance_once() -> Result {
        let ctx = Ctx::new(1)?;
        run_threads(ctx.threads(), &ctx, |ctx, t| {
            let mut rng = Rng::new();
            for round in 0..ROUNDS {
                let item = ctx.item(t, round);
                let q = ctx.queue(0);
                ctx.ledger
                    .arm(q.enqueue_delayed(item.clone(), short_delay(&mut rng)));
                dawdle(&mut rng, 9000);
                ctx.ledger.back(item.dwork.cancel());
                // Only the shared item can be armed again by another thread by now.
                if round % 2 == 0 {
                    assert!(!item.dwork.is_pending());
                }
            }
        })?;
        settle("cancel vs run", ctx)
    }

    /// As above with `disable`, whose guard then enables the item while others arm it.
    pub(crate) fn disable_and_enable_racing_the_run_and_arms_account_for_every_instance() -> Result
    {
        let ctx = Ctx::new(1)?;
        run_threads(ctx.threads(), &ctx, |ctx, t| {
            let mut rng = Rng::new();
            for round in 0..ROUNDS {
                let item = ctx.item(t, round);
                ctx.ledger.arm(
                    ctx.queue(0)
                        .enqueue_delayed(item.clone(), short_delay(&mut rng)),
                );
                dawdle(&mut rng, 9000);
                let (owner, disabled) = item.dwork.disable();
                ctx.ledger.back(owner);
                // Disabled: arming is refused, and the pointer comes back.
                assert!(ctx
                    .queue(0)
                    .enqueue_delayed(item.clone(), Delay::ZERO)
                    .is_err());
                ctx.ledger.refused.fetch_add(1, Ordering::AcqRel);
                dawdle(&mut rng, 200);
                // Enabling races the arms of the other threads on the shared item.
                drop(disabled);
            }
        })?;
        settle("disable/enable vs run", ctx)
    }

    /// Every round arms an item on queue A with a short delay, then keeps trying to arm it on
    /// queue B while A's timer fires and the instance runs.
    pub(crate) fn arming_on_b_racing_the_fire_on_a_moves_the_item_once_it_ran() -> Result {
        let ctx = Ctx::new(2)?;
        run_threads(ctx.threads(), &ctx, |ctx, t| {
            let mut rng = Rng::new();
            let (a, b) = (ctx.queue(0), ctx.queue(1));
            for round in 0..ROUNDS {
                let item = ctx.item(t, round);
                ctx.ledger
                    .arm(a.enqueue_delayed(item.clone(), Delay::from_jiffies(1)));
                dawdle(&mut rng, 3000);
                // Refused while A's instance (or another thread's) is pending.
                for _ in 0..50 {
                    let delay = Delay::from_jiffies(1 + rng.below(2) as Jiffies);
                    if ctx.ledger.arm(b.enqueue_delayed(item.clone(), delay)) {
                        break;
                    }
                    dawdle(&mut rng, 500);
                }
                if rng.one_in(2) {
                    ctx.ledger.back(item.dwork.cancel());
                }
            }
        })?;
        settle("arm on B vs fire on A", ctx)
    }

    /// A thread builds queue A, arms the items on it and drops it, round after round, while
    /// the other threads re-arm the same items onto queue B (taking A's instances) and cancel
    /// them.
    pub(crate) fn drop_racing_rearms_from_other_threads_releases_or_moves_each_instance_once(
    ) -> Result {
        let ctx = Ctx::new(1)?;
        run_threads(ctx.threads(), &ctx, |ctx, t| {
            let mut rng = Rng::new();
            if t == 0 {
                for _ in 0..ROUNDS / 4 {
                    let Ok(a) = Builder::unbound().build(c"wq_rs_race_a") else {
                        continue;
                    };
                    for item in &ctx.items {
                        ctx.ledger
                            .arm(a.enqueue_delayed(item.clone(), short_delay(&mut rng)));
                    }
                    dawdle(&mut rng, 6000);
                    ctx.ledger.release(a.destroy());
                }
                ctx.stop.store(true, Ordering::Release);
                return;
            }
            let b = ctx.queue(0);
            while !ctx.stop.load(Ordering::Acquire) {
                let item = &ctx.items[rng.below(ctx.items.len() as u32) as usize];
                let (previous, queued) = b.mod_delayed(item.clone(), short_delay(&mut rng));
                ctx.ledger.back(previous);
                ctx.ledger.arm(queued);
                if rng.one_in(4) {
                    ctx.ledger.back(item.dwork.cancel());
                }
                dawdle(&mut rng, 1500);
            }
        })?;
        settle("drop vs re-arm", ctx)
    }

    /// A thread arms the items on its queue and drains it, round after round, while the other
    /// threads flush and cancel the same items: no timer may fire into the drain.
    pub(crate) fn drain_with_armed_items_cancels_them_and_runs_the_queued_ones() -> Result {
        let ctx = Ctx::new(0)?;
        run_threads(ctx.threads(), &ctx, |ctx, t| {
            let mut rng = Rng::new();
            if t == 0 {
                let Ok(mut q) = Builder::unbound().build(c"wq_rs_race_drain") else {
                    ctx.stop.store(true, Ordering::Release);
                    return;
                };
                for _ in 0..ROUNDS {
                    for item in &ctx.items {
                        ctx.ledger
                            .arm(q.enqueue_delayed(item.clone(), short_delay(&mut rng)));
                    }
                    dawdle(&mut rng, 6000);
                    ctx.ledger.release(q.drain());
                    // Armed items were cancelled, queued ones ran: nothing is left on `q`.
                    for item in &ctx.items {
                        assert!(!item.dwork.is_tracked());
                    }
                }
                ctx.ledger.release(q.destroy());
                ctx.stop.store(true, Ordering::Release);
                return;
            }
            while !ctx.stop.load(Ordering::Acquire) {
                let item = &ctx.items[rng.below(ctx.items.len() as u32) as usize];
                if rng.one_in(2) {
                    item.dwork.flush();
                } else {
                    ctx.ledger.back(item.dwork.cancel());
                }
                dawdle(&mut rng, 2000);
            }
        })?;
        settle("drain vs flush and cancel", ctx)
    }
}
