// SPDX-License-Identifier: GPL-2.0

//! Behaviour of driver-owned queues: kinds, modifiers, names, and a drop that is sound with
//! delayed work still armed.

// KUnit suite: workqueue_owned
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
            AtomicUsize,
            Ordering, //
        },
    };

    use kernel::{bindings, prelude::*, str::CString, sync::Arc, time::msecs_to_jiffies};

    use crate::{
        common::{
            in_serving_softirq,
            into_aref,
            jiffies,
            random_below,
            read_sysfs,
            release_boxed,
            skip,
            time::{fsleep, Delta},
            wait_until,
            with_failing_allocations,
            Completion,
            Echo, //
        },
        gpu::wq::{
            compat::{
                self,
                ARef,
                AlwaysRefCounted, //
            },
            impl_has_tracked_delayed_work,
            kind::{
                self,
                Known, //
            },
            new_tracked_delayed_work,
            system,
            Builder,
            Delay,
            OwnedQueue,
            Queue,
            TrackedDelayedWork,
            WorkItem, //
        },
    };

    /// Runs a closure on `q` and waits for it; returns whether it ran in softirq context.
    fn run_one<K: Known>(q: &Queue<K>) -> Result<bool> {
        let done = Arc::pin_init(Completion::new(), GFP_KERNEL)?;
        let softirq = Arc::new(AtomicBool::new(false), GFP_KERNEL)?;
        let (d, s) = (done.clone(), softirq.clone());
        q.try_spawn(GFP_KERNEL, move || {
            s.store(in_serving_softirq(), Ordering::Relaxed);
            d.complete_all();
        })?;
        done.wait_for_completion();
        Ok(softirq.load(Ordering::Relaxed))
    }

    pub(crate) fn every_kind_with_every_valid_modifier_builds_and_runs() -> Result {
        let u = Builder::unbound().build(c"wq_rs_u")?;
        let u_all = Builder::unbound()
            .max_active(3)
            .freezable()
            .mem_reclaim()
            .sysfs()
            .highpri()
            .build(c"wq_rs_u_all")?;
        let p = Builder::percpu().build(c"wq_rs_p")?;
        let p_all = Builder::percpu()
            .max_active(2)
            .freezable()
            .mem_reclaim()
            .sysfs()
            .highpri()
            .cpu_intensive()
            .build(c"wq_rs_p_all")?;
        let o = Builder::ordered().build(c"wq_rs_o")?;
        let o_all = Builder::ordered()
            .freezable()
            .mem_reclaim()
            .highpri()
            .build(c"wq_rs_o_all")?;
        let pe = Builder::power_efficient().build(c"wq_rs_pe")?;
        let pe_all = Builder::power_efficient()
            .max_active(5)
            .freezable()
            .mem_reclaim()
            .sysfs()
            .highpri()
            .cpu_intensive()
            .build(c"wq_rs_pe_all")?;
        // Closures need a queue whose kind the type tells (it picks their lockdep class).
        let in_softirq = [
            run_one(&*u)?,
            run_one(&*u_all)?,
            run_one(&*p)?,
            run_one(&*p_all)?,
            run_one(&*o)?,
            run_one(&*o_all)?,
            run_one(&*pe)?,
            run_one(&*pe_all)?,
        ];
        for softirq in in_softirq {
            assert!(!softirq);
        }
        let bh = Builder::bh().build(c"wq_rs_bh")?;
        let bh_hi = Builder::bh().highpri().build(c"wq_rs_bh_hi")?;
        for q in [&bh, &bh_hi] {
            // The kind is in the type: the closure gets the BH lockdep class.
            assert!(run_one::<kind::Bh>(q)?);
        }
        Ok(())
    }

    /// Records how many items of a queue run at once, and in which order they start.
    struct Tally {
        running: AtomicU32,
        max_running: AtomicU32,
        next: AtomicU32,
        out_of_order: AtomicU32,
    }

    impl Tally {
        fn new() -> Result<Arc<Self>> {
            Ok(Arc::new(
                Tally {
                    running: AtomicU32::new(0),
                    max_running: AtomicU32::new(0),
                    next: AtomicU32::new(0),
                    out_of_order: AtomicU32::new(0),
                },
                GFP_KERNEL,
            )?)
        }

        /// The body of item number `i`: counts itself in, checks order, dawdles, leaves.
        fn visit(&self, i: u32) {
            let now = self.running.fetch_add(1, Ordering::AcqRel) + 1;
            self.max_running.fetch_max(now, Ordering::AcqRel);
            if self.next.fetch_add(1, Ordering::AcqRel) != i {
                self.out_of_order.fetch_add(1, Ordering::Relaxed);
            }
            fsleep(Delta::from_micros(500));
            self.running.fetch_sub(1, Ordering::AcqRel);
        }
    }

    fn spawn_numbered<K: Known>(q: &Queue<K>, tally: &Arc<Tally>, n: u32) -> Result {
        for i in 0..n {
            let t = tally.clone();
            q.try_spawn(GFP_KERNEL, move || t.visit(i))?;
        }
        Ok(())
    }

    pub(crate) fn ordered_queue_runs_one_item_at_a_time_in_fifo_order() -> Result {
        let q = Builder::ordered().build(c"wq_rs_fifo")?;
        let tally = Tally::new()?;
        spawn_numbered(&q, &tally, 64)?;
        drop(q);
        assert_eq!(tally.next.load(Ordering::Acquire), 64);
        assert_eq!(tally.max_running.load(Ordering::Acquire), 1);
        assert_eq!(tally.out_of_order.load(Ordering::Acquire), 0);
        Ok(())
    }

    pub(crate) fn max_active_one_never_runs_two_items_at_once() -> Result {
        let q = Builder::unbound().max_active(1).build(c"wq_rs_one")?;
        let tally = Tally::new()?;
        spawn_numbered(&q, &tally, 64)?;
        drop(q);
        assert_eq!(tally.next.load(Ordering::Acquire), 64);
        assert_eq!(tally.max_running.load(Ordering::Acquire), 1);
        Ok(())
    }

    /// The control for the two tests above: without a limit, the same items do overlap, so
    /// a max of 1 there is the queue's doing and not an artefact of the test.
    pub(crate) fn unlimited_queue_does_run_items_at_once() -> Result {
        let q = Builder::unbound().max_active(16).build(c"wq_rs_many")?;
        let tally = Tally::new()?;
        spawn_numbered(&q, &tally, 64)?;
        drop(q);
        assert!(tally.max_running.load(Ordering::Acquire) > 1);
        Ok(())
    }

    fn sysfs_attr(queue: &str, attr: &str) -> Result<Option<KVec<u8>>> {
        let path = CString::try_from_fmt(format_args!("devices/virtual/workqueue/{queue}/{attr}"))?;
        Ok(read_sysfs(compat::cstring_as_cstr(&path)))
    }

    /// A number in a sysfs attribute of a queue, if the attribute exists.
    fn sysfs_number(queue: &str, attr: &str) -> Result<Option<u32>> {
        let Some(text) = sysfs_attr(queue, attr)? else {
            return Ok(None);
        };
        let text = core::str::from_utf8(&text).map_err(|_| EINVAL)?;
        Ok(Some(text.trim().parse().map_err(|_| EINVAL)?))
    }

    pub(crate) fn sysfs_queue_appears_under_sys_devices_virtual_workqueue() -> Result {
        assert!(sysfs_attr("wq_rs_sysfs", "max_active")?.is_none());
        let q = Builder::unbound()
            .max_active(7)
            .sysfs()
            .build(c"wq_rs_sysfs")?;
        assert_eq!(
            sysfs_attr("wq_rs_sysfs", "max_active")?.as_deref(),
            Some(&b"7\n"[..])
        );
        drop(q);
        // Gone with the queue.
        assert!(sysfs_attr("wq_rs_sysfs", "max_active")?.is_none());
        // Without `sysfs()`, nothing appears.
        let _q = Builder::unbound().build(c"wq_rs_hidden")?;
        assert!(sysfs_attr("wq_rs_hidden", "max_active")?.is_none());
        Ok(())
    }

    pub(crate) fn build_fmt_names_the_queue() -> Result {
        let _q = Builder::unbound()
            .sysfs()
            .build_fmt(format_args!("wq_rs_dev{}_{}", 7, "tx"))?;
        assert!(sysfs_attr("wq_rs_dev7_tx", "max_active")?.is_some());
        Ok(())
    }

    /// As the C side documents: names are truncated to 31 bytes and `max_active` is clamped
    /// to `WQ_MAX_ACTIVE` (each with a line in the kernel log, not a warning splat).
    pub(crate) fn overlong_name_is_truncated_and_max_active_clamped() -> Result {
        let long = c"wq_rs_a_name_well_over_31_bytes_long";
        let _q = Builder::unbound().max_active(5000).sysfs().build(long)?;
        let truncated = "wq_rs_a_name_well_over_31_bytes";
        assert_eq!(truncated.len(), 31);
        // `WQ_MAX_ACTIVE`: 2048 on 7.x, 512 on 6.12.
        let max = bindings::wq_consts_WQ_MAX_ACTIVE;
        assert_eq!(sysfs_number(truncated, "max_active")?, Some(max));
        // `u32::MAX` does not wrap to a negative `int`: it is clamped to the maximum too.
        let _q2 = Builder::unbound()
            .max_active(u32::MAX)
            .sysfs()
            .build(c"wq_rs_huge")?;
        assert_eq!(sysfs_number("wq_rs_huge", "max_active")?, Some(max));
        Ok(())
    }

    pub(crate) fn failed_allocations_return_errors_and_run_nothing() -> Result {
        static DROPPED: AtomicU32 = AtomicU32::new(0);
        static RAN: AtomicU32 = AtomicU32::new(0);
        struct Witness;
        impl Drop for Witness {
            fn drop(&mut self) {
                DROPPED.fetch_add(1, Ordering::Relaxed);
            }
        }

        let witness = Witness;
        let Some(spawned) = with_failing_allocations(|| {
            system().try_spawn(GFP_KERNEL, move || {
                let _w = &witness;
                RAN.fetch_add(1, Ordering::Relaxed);
            })
        }) else {
            skip(c"no fault injection (CONFIG_FAULT_INJECTION) in this kernel");
            return Ok(());
        };
        assert!(spawned.is_err());
        system().flush();
        assert_eq!(RAN.load(Ordering::Relaxed), 0);
        // The closure, and what it captured, was dropped rather than leaked.
        assert_eq!(DROPPED.load(Ordering::Relaxed), 1);

        let built = with_failing_allocations(|| Builder::unbound().build(c"wq_rs_nomem"));
        assert!(built.is_some_and(|b| b.is_err()));
        Ok(())
    }

    /// The drop waits for what is queued and running, and for what those re-queued through
    /// their handles before the drop began; re-queues after that are refused. Every item is
    /// accounted for, and released.
    pub(crate) fn drop_waits_for_queued_running_and_requeued_items() -> Result {
        let q = Builder::unbound().max_active(2).build(c"wq_rs_drain")?;
        let mut workers = KVec::new();
        for i in 0..8u32 {
            let w = Echo::new(&q, u32::from(i % 2 == 0), 5)?;
            assert!(q.enqueue(w.clone()).is_ok());
            workers.push(w, GFP_KERNEL)?;
        }
        // Items are now queued or running (two at a time, 5 ms each): the drop must wait.
        drop(q);
        for (i, w) in workers.iter().enumerate() {
            assert!(w.runs() >= 1);
            assert!(w.accounted(u32::from(i % 2 == 0)));
        }
        for w in workers {
            assert!(Arc::into_unique_or_drop(w).is_some());
        }
        Ok(())
    }

    /// Counts of what happened to tracked test items, per test.
    struct Fate {
        ran: AtomicUsize,
        freed: AtomicUsize,
        freed_unrun: AtomicUsize,
    }

    impl Fate {
        const fn new() -> Self {
            Self {
                ran: AtomicUsize::new(0),
                freed: AtomicUsize::new(0),
                freed_unrun: AtomicUsize::new(0),
            }
        }
    }

    /// A tracked delayed item owned by a box, reporting its fate.
    #[pin_data(PinnedDrop)]
    struct Boxed {
        fate: &'static Fate,
        ran: AtomicBool,
        #[pin]
        dwork: TrackedDelayedWork<Boxed>,
    }

    impl_has_tracked_delayed_work! {
        impl HasTrackedDelayedWork<Self> for Boxed { self.dwork }
    }

    impl WorkItem for Boxed {
        type Pointer = Pin<KBox<Boxed>>;

        fn run(this: Pin<KBox<Boxed>>) {
            this.fate.ran.fetch_add(1, Ordering::AcqRel);
            this.ran.store(true, Ordering::Release);
        }
    }

    #[pinned_drop]
    impl PinnedDrop for Boxed {
        fn drop(self: Pin<&mut Self>) {
            if !self.ran.load(Ordering::Acquire) {
                self.fate.freed_unrun.fetch_add(1, Ordering::AcqRel);
            }
            self.fate.freed.fetch_add(1, Ordering::AcqRel);
        }
    }

    fn boxed(fate: &'static Fate) -> Result<Pin<KBox<Boxed>>> {
        KBox::pin_init(
            pin_init!(Boxed {
                fate,
                ran: AtomicBool::new(false),
                dwork <- new_tracked_delayed_work!("Boxed"),
            }),
            GFP_KERNEL,
        )
    }

    /// A tracked delayed item shared through `Arc`.
    #[pin_data(PinnedDrop)]
    struct Shared {
        fate: &'static Fate,
        ran: AtomicBool,
        #[pin]
        dwork: TrackedDelayedWork<Shared>,
    }

    impl_has_tracked_delayed_work! {
        impl HasTrackedDelayedWork<Self> for Shared { self.dwork }
    }

    impl WorkItem for Shared {
        type Pointer = Arc<Shared>;

        fn run(this: Arc<Shared>) {
            this.fate.ran.fetch_add(1, Ordering::AcqRel);
            this.ran.store(true, Ordering::Release);
        }
    }

    #[pinned_drop]
    impl PinnedDrop for Shared {
        fn drop(self: Pin<&mut Self>) {
            if !self.ran.load(Ordering::Acquire) {
                self.fate.freed_unrun.fetch_add(1, Ordering::AcqRel);
            }
            self.fate.freed.fetch_add(1, Ordering::AcqRel);
        }
    }

    /// A tracked delayed item owned through `ARef`, with its own count.
    #[pin_data]
    struct Counted {
        refs: AtomicUsize,
        fate: &'static Fate,
        ran: AtomicBool,
        #[pin]
        dwork: TrackedDelayedWork<Counted>,
    }

    impl_has_tracked_delayed_work! {
        impl HasTrackedDelayedWork<Self> for Counted { self.dwork }
    }

    impl WorkItem for Counted {
        type Pointer = ARef<Counted>;

        fn run(this: ARef<Counted>) {
            this.fate.ran.fetch_add(1, Ordering::AcqRel);
            this.ran.store(true, Ordering::Release);
        }
    }

    // SAFETY: Counted atomically; the last reference frees the box, once.
    unsafe impl AlwaysRefCounted for Counted {
        fn inc_ref(&self) {
            self.refs.fetch_add(1, Ordering::Relaxed);
        }

        unsafe fn dec_ref(obj: NonNull<Self>) {
            // SAFETY: The caller gives up a reference to a live object.
            let this = unsafe { obj.as_ref() };
            let (fate, ran) = (this.fate, this.ran.load(Ordering::Acquire));
            // SAFETY: The caller gives up a reference to an object made by `into_aref`.
            if unsafe { release_boxed(obj, |o| &o.refs) } {
                if !ran {
                    fate.freed_unrun.fetch_add(1, Ordering::AcqRel);
                }
                fate.freed.fetch_add(1, Ordering::AcqRel);
            }
        }
    }

    fn counted(fate: &'static Fate) -> Result<ARef<Counted>> {
        Ok(into_aref(KBox::pin_init(
            pin_init!(Counted {
                refs: AtomicUsize::new(1),
                fate,
                ran: AtomicBool::new(false),
                dwork <- new_tracked_delayed_work!("Counted"),
            }),
            GFP_KERNEL,
        )?))
    }

    /// Arms item `i` of a mixed batch (boxes, `Arc`s and `ARef`s) on `q` after `delay`; the
    /// queue takes the only reference of each.
    fn arm_mixed<K: Known>(
        q: &OwnedQueue<K>,
        fate: &'static Fate,
        i: usize,
        delay: Delay,
    ) -> Result {
        match i % 3 {
            0 => assert!(q.enqueue_delayed(boxed(fate)?, delay).is_ok()),
            1 => {
                let s = Arc::pin_init(
                    pin_init!(Shared {
                        fate,
                        ran: AtomicBool::new(false),
                        dwork <- new_tracked_delayed_work!("Shared"),
                    }),
                    GFP_KERNEL,
                )?;
                assert!(q.enqueue_delayed(s, delay).is_ok());
            }
            _ => assert!(q.enqueue_delayed(counted(fate)?, delay).is_ok()),
        }
        Ok(())
    }

    pub(crate) fn drop_with_1000_armed_items_returns_at_once_and_releases_each_once() -> Result {
        static FATE: Fate = Fate::new();
        let q = Builder::percpu().build(c"wq_rs_armed")?;
        for i in 0..1000 {
            arm_mixed(&q, &FATE, i, Delay::from_millis(60_000))?;
        }
        assert_eq!(FATE.freed.load(Ordering::Acquire), 0);
        let start = jiffies();
        drop(q);
        let took = jiffies().wrapping_sub(start);
        pr_info!("dropped a queue with 1000 armed items in {took} jiffies\n");
        assert!(took < msecs_to_jiffies(1000));
        assert_eq!(FATE.ran.load(Ordering::Acquire), 0);
        assert_eq!(FATE.freed.load(Ordering::Acquire), 1000);
        assert_eq!(FATE.freed_unrun.load(Ordering::Acquire), 1000);
        Ok(())
    }

    /// Timers fire while the queue is being dropped: every item must either run or be
    /// released unrun, exactly once.
    pub(crate) fn drop_racing_with_firing_timers_runs_or_releases_each_item_once() -> Result {
        static FATE: Fate = Fate::new();
        const ROUNDS: usize = 100;
        const ITEMS: usize = 48;
        for round in 0..ROUNDS {
            let q = Builder::unbound().max_active(4).build(c"wq_rs_race")?;
            for i in 0..ITEMS {
                arm_mixed(&q, &FATE, i, Delay::from_millis(random_below(16)))?;
            }
            if random_below(2) == 0 {
                fsleep(Delta::from_micros(i64::from(random_below(8000))));
            }
            drop(q);
            let total = (round + 1) * ITEMS;
            // Everything is settled when the drop returns: nothing still to run or free.
            assert_eq!(FATE.freed.load(Ordering::Acquire), total);
            let ran = FATE.ran.load(Ordering::Acquire);
            let unrun = FATE.freed_unrun.load(Ordering::Acquire);
            assert_eq!(ran + unrun, total);
        }
        let ran = FATE.ran.load(Ordering::Acquire);
        pr_info!(
            "race: {} items in {ROUNDS} drops: {ran} ran, {} released unrun\n",
            ROUNDS * ITEMS,
            ROUNDS * ITEMS - ran
        );
        // Both outcomes were exercised, so the race was real.
        assert!(ran > 0 && ran < ROUNDS * ITEMS);
        Ok(())
    }

    pub(crate) fn cancel_of_an_armed_tracked_item_returns_its_owner() -> Result {
        static FATE: Fate = Fate::new();
        let q = Builder::ordered().build(c"wq_rs_cancel")?;
        let s = Arc::pin_init(
            pin_init!(Shared {
                fate: &FATE,
                ran: AtomicBool::new(false),
                dwork <- new_tracked_delayed_work!("Shared"),
            }),
            GFP_KERNEL,
        )?;
        assert!(q
            .enqueue_delayed(s.clone(), Delay::from_millis(60_000))
            .is_ok());
        assert!(s.dwork.is_pending());
        // A pending item comes back on a second arming.
        assert!(q.enqueue_delayed(s.clone(), Delay::from_millis(1)).is_err());
        let owner = s.dwork.cancel();
        assert!(owner.is_some());
        assert!(!s.dwork.is_pending());
        assert!(s.dwork.cancel().is_none());
        drop(owner);
        // Re-arm after the cancel: it runs, and the queue's drop then has nothing to cancel.
        assert!(q.enqueue_delayed(s.clone(), Delay::from_jiffies(1)).is_ok());
        assert!(wait_until(2000, || FATE.ran.load(Ordering::Acquire) == 1));
        drop(q);
        assert!(Arc::into_unique_or_drop(s).is_some());
        assert_eq!(FATE.freed.load(Ordering::Acquire), 1);
        Ok(())
    }

    /// How many closures of a batch ran at once, at most.
    struct Concurrency {
        now: AtomicU32,
        most: AtomicU32,
    }

    /// Runs 8 closures of 5 ms each on `q` and returns the most that ran at once.
    fn most_at_once(q: &OwnedQueue<kind::Unbound>) -> Result<u32> {
        let c = Arc::new(
            Concurrency {
                now: AtomicU32::new(0),
                most: AtomicU32::new(0),
            },
            GFP_KERNEL,
        )?;
        for _ in 0..8 {
            let c = c.clone();
            q.try_spawn(GFP_KERNEL, move || {
                let now = c.now.fetch_add(1, Ordering::AcqRel) + 1;
                c.most.fetch_max(now, Ordering::AcqRel);
                fsleep(Delta::from_millis(5));
                c.now.fetch_sub(1, Ordering::AcqRel);
            })?;
        }
        q.flush();
        Ok(c.most.load(Ordering::Acquire))
    }

    /// `set_max_active(1)` on a live queue: afterwards no two of its items run at once;
    /// raised again to 4, two or more do, which the test asserts happened.
    pub(crate) fn set_max_active_throttles_a_live_queue_and_raising_it_lets_items_overlap() -> Result
    {
        let q = Builder::unbound()
            .max_active(4)
            .build(c"wq_rs_max_active")?;
        q.set_max_active(1);
        assert_eq!(most_at_once(&q)?, 1);
        q.set_max_active(4);
        let most = most_at_once(&q)?;
        pr_info!("set_max_active: at most 1 at once, then {most} at once after raising to 4\n");
        assert!(most >= 2);
        assert!(most <= 4);
        Ok(())
    }
}
