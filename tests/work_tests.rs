// SPDX-License-Identifier: GPL-2.0

//! Behaviour of plain and delayed work items on the system queues.

// KUnit suite: workqueue_work
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

    use kernel::{
        bindings,
        prelude::*,
        sync::Arc,
        time::Jiffies, //
    };

    use crate::{
        common::{
            in_serving_softirq,
            in_task,
            into_aref,
            jiffies,
            release_boxed,
            time::{fsleep, Delta},
            wait_until, //
        },
        gpu::wq::{
            compat::{
                ARef,
                AlwaysRefCounted, //
            },
            impl_has_delayed_work,
            impl_has_work,
            new_delayed_work,
            new_work,
            system,
            system_bh,
            system_bh_highpri,
            system_dfl,
            system_freezable,
            system_freezable_power_efficient,
            system_highpri,
            system_long,
            system_percpu,
            system_power_efficient,
            system_unbound,
            Delay,
            DelayedWork,
            Queue,
            Work,
            WorkItem, //
        },
    };

    /// An `Arc` item that counts its runs and records how it ran.
    #[pin_data]
    struct Probe {
        runs: AtomicU32,
        in_softirq: AtomicBool,
        in_task: AtomicBool,
        /// Sleep this long in `run` (not in softirq) so a flush that returns early shows.
        sleep_ms: u32,
        #[pin]
        work: Work<Probe>,
    }

    impl_has_work! {
        impl HasWork<Self> for Probe { self.work }
    }

    impl WorkItem for Probe {
        type Pointer = Arc<Probe>;

        fn run(this: Arc<Probe>) {
            this.in_softirq
                .store(in_serving_softirq(), Ordering::Relaxed);
            this.in_task.store(in_task(), Ordering::Relaxed);
            if this.sleep_ms > 0 {
                fsleep(Delta::from_millis(this.sleep_ms.into()));
            }
            this.runs.fetch_add(1, Ordering::Release);
        }
    }

    fn probe(sleep_ms: u32) -> Result<Arc<Probe>> {
        Arc::pin_init(
            pin_init!(Probe {
                runs: AtomicU32::new(0),
                in_softirq: AtomicBool::new(false),
                in_task: AtomicBool::new(false),
                sleep_ms,
                work <- new_work!("Probe::work"),
            }),
            GFP_KERNEL,
        )
    }

    /// A `Probe` for BH queues. Lockdep tracks each `new_work!` site as one lock class, and
    /// a class must run either in softirq or in task context, never both (lockdep reports
    /// "inconsistent lock state" otherwise): BH items get their own site.
    fn bh_probe() -> Result<Arc<Probe>> {
        Arc::pin_init(
            pin_init!(Probe {
                runs: AtomicU32::new(0),
                in_softirq: AtomicBool::new(false),
                in_task: AtomicBool::new(false),
                sleep_ms: 0,
                work <- new_work!("Probe::work (BH)"),
            }),
            GFP_KERNEL,
        )
    }

    /// True if `arc` is the only reference left, i.e. the queue released its own.
    fn is_sole_owner<T>(arc: Arc<T>) -> bool {
        Arc::into_unique_or_drop(arc).is_some()
    }

    pub(crate) fn arc_item_runs_once_and_its_reference_comes_back() -> Result {
        let p = probe(0)?;
        assert!(system().enqueue(p.clone()).is_ok());
        system().flush();
        assert_eq!(p.runs.load(Ordering::Acquire), 1);
        assert!(p.in_task.load(Ordering::Relaxed));
        assert!(is_sole_owner(p));
        Ok(())
    }

    pub(crate) fn each_enqueue_runs_once() -> Result {
        let p = probe(0)?;
        for _ in 0..100 {
            // Wait for the previous run so that every enqueue finds the item idle.
            assert!(system().enqueue(p.clone()).is_ok());
            system().flush();
        }
        assert_eq!(p.runs.load(Ordering::Acquire), 100);
        assert!(is_sole_owner(p));
        Ok(())
    }

    /// Flushing the queue an item was given waits for it: it ran on that queue, not another.
    pub(crate) fn item_runs_on_the_queue_it_was_given() -> Result {
        let queues: [(&str, &'static Queue); 9] = [
            ("system", system()),
            ("system_highpri", system_highpri()),
            ("system_long", system_long()),
            ("system_unbound", system_unbound()),
            ("system_freezable", system_freezable()),
            ("system_power_efficient", system_power_efficient()),
            (
                "system_freezable_power_efficient",
                system_freezable_power_efficient(),
            ),
            ("system_percpu", system_percpu()),
            ("system_dfl", system_dfl()),
        ];
        for (name, q) in queues {
            let p = probe(30)?;
            assert!(q.enqueue(p.clone()).is_ok());
            q.flush();
            let runs = p.runs.load(Ordering::Acquire);
            if runs != 1 {
                pr_err!("{name}: flush returned before the item ran ({runs} runs)\n");
            }
            assert_eq!(runs, 1);
            assert!(p.in_task.load(Ordering::Relaxed));
            assert!(is_sole_owner(p));
        }
        Ok(())
    }

    pub(crate) fn bh_queues_run_items_in_softirq_context() -> Result {
        for q in [system_bh(), system_bh_highpri()] {
            let p = bh_probe()?;
            assert!(q.enqueue(p.clone()).is_ok());
            q.flush();
            assert_eq!(p.runs.load(Ordering::Acquire), 1);
            assert!(p.in_softirq.load(Ordering::Relaxed));
            assert!(!p.in_task.load(Ordering::Relaxed));
            assert!(is_sole_owner(p));
        }
        Ok(())
    }

    /// `system()` and `system_unbound()` avoid the deprecated C queues (the console scan
    /// fails the run on the "enqueued on deprecated workqueue" warning as well).
    pub(crate) fn system_queues_are_not_the_deprecated_ones() {
        // SAFETY: Reading the addresses of kernel globals set up at boot.
        let (deprecated, deprecated_unbound, percpu, dfl) = unsafe {
            (
                bindings::system_wq,
                bindings::system_unbound_wq,
                bindings::system_percpu_wq,
                bindings::system_dfl_wq,
            )
        };
        assert!(system().as_raw() == percpu);
        assert!(system().as_raw() != deprecated);
        assert!(system_unbound().as_raw() == dfl);
        assert!(system_unbound().as_raw() != deprecated_unbound);
    }

    pub(crate) fn queue_converts_to_and_from_the_kernel_crate_queue() {
        let theirs: &kernel::workqueue::Queue = system_long().as_kernel();
        let ours: &Queue = theirs.into();
        assert!(ours.as_raw() == system_long().as_raw());
    }

    /// An item with a delay is pending; enqueueing it again hands the `Arc` back, and it
    /// still runs only once.
    pub(crate) fn enqueue_of_a_pending_arc_item_hands_it_back() -> Result {
        #[pin_data]
        struct Late {
            runs: AtomicU32,
            #[pin]
            dwork: DelayedWork<Late>,
        }
        impl_has_delayed_work! {
            impl HasDelayedWork<Self> for Late { self.dwork }
        }
        impl WorkItem for Late {
            type Pointer = Arc<Late>;
            fn run(this: Arc<Late>) {
                this.runs.fetch_add(1, Ordering::Release);
            }
        }

        let late = Arc::pin_init(
            pin_init!(Late { runs: AtomicU32::new(0), dwork <- new_delayed_work!() }),
            GFP_KERNEL,
        )?;
        assert!(system()
            .enqueue_delayed(late.clone(), Delay::from_millis(100))
            .is_ok());
        let back = system().enqueue(late.clone());
        assert!(back.is_err());
        let back_delayed = system().enqueue_delayed(late.clone(), Delay::from_millis(1));
        assert!(back_delayed.is_err());
        // The handed-back pointers are ours to drop: no leak.
        drop(back);
        drop(back_delayed);
        assert!(wait_until(5000, || late.runs.load(Ordering::Acquire) == 1));
        system().flush();
        fsleep(Delta::from_millis(20));
        assert_eq!(late.runs.load(Ordering::Acquire), 1);
        assert!(is_sole_owner(late));
        Ok(())
    }

    /// Frees of `RefItem`s, to check each is released exactly once.
    static REF_ITEMS_FREED: AtomicUsize = AtomicUsize::new(0);

    /// An item owned through `ARef`, with its own reference count (as a device has).
    #[pin_data]
    struct RefItem {
        refs: AtomicUsize,
        runs: AtomicU32,
        #[pin]
        dwork: DelayedWork<RefItem>,
    }

    impl_has_delayed_work! {
        impl HasDelayedWork<Self> for RefItem { self.dwork }
    }

    impl WorkItem for RefItem {
        type Pointer = ARef<RefItem>;

        fn run(this: ARef<RefItem>) {
            this.runs.fetch_add(1, Ordering::Release);
        }
    }

    // SAFETY: References are counted atomically and the last one frees the box the object
    // was allocated as, exactly once.
    unsafe impl AlwaysRefCounted for RefItem {
        fn inc_ref(&self) {
            self.refs.fetch_add(1, Ordering::Relaxed);
        }

        unsafe fn dec_ref(obj: NonNull<Self>) {
            // SAFETY: The caller gives up a reference to an object made by `into_aref`.
            if unsafe { release_boxed(obj, |o| &o.refs) } {
                REF_ITEMS_FREED.fetch_add(1, Ordering::Release);
            }
        }
    }

    fn ref_item() -> Result<ARef<RefItem>> {
        Ok(into_aref(KBox::pin_init(
            pin_init!(RefItem {
                refs: AtomicUsize::new(1),
                runs: AtomicU32::new(0),
                dwork <- new_delayed_work!("RefItem::dwork"),
            }),
            GFP_KERNEL,
        )?))
    }

    pub(crate) fn aref_items_run_hand_back_and_release_exactly_once() -> Result {
        let freed_before = REF_ITEMS_FREED.load(Ordering::Acquire);
        let item = ref_item()?;
        assert!(system()
            .enqueue_delayed(item.clone(), Delay::from_millis(300))
            .is_ok());
        assert_eq!(item.refs.load(Ordering::Acquire), 2);
        // Pending: the reference comes back, and the count with it when it is dropped.
        let back = system().enqueue(item.clone());
        assert!(back.is_err());
        drop(back);
        assert_eq!(item.refs.load(Ordering::Acquire), 2);
        assert!(wait_until(5000, || item.runs.load(Ordering::Acquire) == 1));
        system().flush();
        assert_eq!(item.refs.load(Ordering::Acquire), 1);
        assert_eq!(item.runs.load(Ordering::Acquire), 1);
        drop(item);
        assert_eq!(REF_ITEMS_FREED.load(Ordering::Acquire), freed_before + 1);
        Ok(())
    }

    /// Frees of `Boxed` items.
    static BOXES_FREED: AtomicUsize = AtomicUsize::new(0);
    static BOX_RUNS: AtomicUsize = AtomicUsize::new(0);

    #[pin_data(PinnedDrop)]
    struct Boxed {
        payload: u64,
        #[pin]
        work: Work<Boxed>,
    }

    impl_has_work! {
        impl HasWork<Self> for Boxed { self.work }
    }

    impl WorkItem for Boxed {
        type Pointer = Pin<KBox<Boxed>>;

        fn run(this: Pin<KBox<Boxed>>) {
            if this.payload == 0xfeed {
                BOX_RUNS.fetch_add(1, Ordering::Release);
            }
        }
    }

    #[pinned_drop]
    impl PinnedDrop for Boxed {
        fn drop(self: Pin<&mut Self>) {
            BOXES_FREED.fetch_add(1, Ordering::Release);
        }
    }

    pub(crate) fn boxed_items_run_once_and_are_freed() -> Result {
        let runs = BOX_RUNS.load(Ordering::Acquire);
        let freed = BOXES_FREED.load(Ordering::Acquire);
        for _ in 0..10 {
            let b = KBox::pin_init(
                pin_init!(Boxed { payload: 0xfeed, work <- new_work!() }),
                GFP_KERNEL,
            )?;
            assert!(system_unbound().enqueue(b).is_ok());
        }
        system_unbound().flush();
        assert_eq!(BOX_RUNS.load(Ordering::Acquire), runs + 10);
        assert_eq!(BOXES_FREED.load(Ordering::Acquire), freed + 10);
        Ok(())
    }

    /// C refuses to queue a disabled item: the box comes back to the caller, unrun and not
    /// freed, instead of being dropped on the way.
    pub(crate) fn a_refused_box_enqueue_hands_the_box_back() -> Result {
        let runs = BOX_RUNS.load(Ordering::Acquire);
        let freed = BOXES_FREED.load(Ordering::Acquire);
        let b = KBox::pin_init(
            pin_init!(Boxed { payload: 0xfeed, work <- new_work!() }),
            GFP_KERNEL,
        )?;
        let (owner, disabled) = b.work.disable();
        let disabled = disabled?;
        assert!(owner.is_none());
        // Leave it disabled for good.
        core::mem::forget(disabled);
        let Err(back) = system().enqueue(b) else {
            return Err(EINVAL);
        };
        system().flush();
        assert_eq!(back.payload, 0xfeed);
        assert_eq!(BOX_RUNS.load(Ordering::Acquire), runs);
        assert_eq!(BOXES_FREED.load(Ordering::Acquire), freed);
        drop(back);
        assert_eq!(BOXES_FREED.load(Ordering::Acquire), freed + 1);
        Ok(())
    }

    /// One struct, two work fields: both can be queued at once and each runs its own `run`.
    pub(crate) fn two_work_fields_of_one_struct_run_independently() -> Result {
        #[pin_data]
        struct Twin {
            first: AtomicU32,
            second: AtomicU32,
            #[pin]
            a: Work<Twin, 1>,
            #[pin]
            b: Work<Twin, 2>,
        }
        impl_has_work! {
            impl HasWork<Twin, 1> for Twin { self.a }
            impl HasWork<Twin, 2> for Twin { self.b }
        }
        impl WorkItem<1> for Twin {
            type Pointer = Arc<Twin>;
            fn run(this: Arc<Twin>) {
                this.first.fetch_add(1, Ordering::Release);
            }
        }
        impl WorkItem<2> for Twin {
            type Pointer = Arc<Twin>;
            fn run(this: Arc<Twin>) {
                this.second.fetch_add(1, Ordering::Release);
            }
        }

        let t = Arc::pin_init(
            pin_init!(Twin {
                first: AtomicU32::new(0),
                second: AtomicU32::new(0),
                a <- new_work!("Twin::a"),
                b <- new_work!("Twin::b"),
            }),
            GFP_KERNEL,
        )?;
        // Both pending at the same time: the first does not make the second look queued.
        assert!(system().enqueue::<_, 1>(t.clone()).is_ok());
        assert!(system().enqueue::<_, 2>(t.clone()).is_ok());
        system().flush();
        assert_eq!(t.first.load(Ordering::Acquire), 1);
        assert_eq!(t.second.load(Ordering::Acquire), 1);
        assert!(is_sole_owner(t));
        Ok(())
    }

    /// Jiffies at which `Stamp` was queued and ran.
    #[pin_data]
    struct Stamp {
        ran_at: AtomicUsize,
        #[pin]
        dwork: DelayedWork<Stamp>,
    }

    impl_has_delayed_work! {
        impl HasDelayedWork<Self> for Stamp { self.dwork }
    }

    impl WorkItem for Stamp {
        type Pointer = Arc<Stamp>;

        fn run(this: Arc<Stamp>) {
            this.ran_at.store(jiffies() as usize, Ordering::Release);
        }
    }

    fn delayed_runs_after(delay: Delay) -> Result<Jiffies> {
        let s = Arc::pin_init(
            pin_init!(Stamp { ran_at: AtomicUsize::new(0), dwork <- new_delayed_work!() }),
            GFP_KERNEL,
        )?;
        let queued_at = jiffies();
        assert!(system().enqueue_delayed(s.clone(), delay).is_ok());
        let ms = 2000 + 10 * delay.as_jiffies() as u32;
        assert!(wait_until(ms, || s.ran_at.load(Ordering::Acquire) != 0));
        system().flush();
        let waited = (s.ran_at.load(Ordering::Acquire) as Jiffies).wrapping_sub(queued_at);
        assert!(is_sole_owner(s));
        Ok(waited)
    }

    pub(crate) fn delayed_item_does_not_run_before_its_delay() -> Result {
        // A time span, where the kernel crate has them (and milliseconds where not).
        #[cfg(not(wq_kernel_6))]
        let span = Delay::from(kernel::time::Delta::from_millis(150));
        #[cfg(wq_kernel_6)]
        let span = Delay::from_millis(150);
        for delay in [
            Delay::from_jiffies(1),
            Delay::from_jiffies(10),
            Delay::from_millis(100),
            span,
        ] {
            let waited = delayed_runs_after(delay)?;
            if waited < delay.as_jiffies() {
                pr_err!("ran after {waited} jiffies, asked {}\n", delay.as_jiffies());
            }
            assert!(waited >= delay.as_jiffies());
        }
        Ok(())
    }

    /// Flushes the `work_struct` of `s`'s delayed work as a plain work item: it waits only for
    /// an instance on a worklist or running, not for one whose timer is armed.
    fn flush_as_plain_work(s: &Stamp) -> bool {
        // SAFETY: The `delayed_work` of `s` is initialised and alive; its `work` field is a
        // `work_struct`, which `flush_work()` may wait for.
        unsafe { kernel::bindings::flush_work(&raw mut (*s.dwork.as_raw()).work) }
    }

    /// With no delay, a delayed item is put on the worklist at once, not on a timer: a plain
    /// flush of its work finds it and waits for its run, which it does not for an armed one.
    pub(crate) fn a_delayed_item_without_delay_is_queued_at_once() -> Result {
        let new_stamp = || {
            Arc::pin_init(
                pin_init!(Stamp { ran_at: AtomicUsize::new(0), dwork <- new_delayed_work!() }),
                GFP_KERNEL,
            )
        };
        let now = new_stamp()?;
        assert!(system().enqueue_delayed(now.clone(), Delay::ZERO).is_ok());
        // It may also have run before the flush looks (then the flush answers false): either
        // way it has run when the flush returns.
        flush_as_plain_work(&now);
        assert_ne!(now.ran_at.load(Ordering::Acquire), 0);

        // An armed one: the plain flush finds nothing to wait for, and it has not run.
        let later = new_stamp()?;
        assert!(system()
            .enqueue_delayed(later.clone(), Delay::from_millis(60_000))
            .is_ok());
        assert!(!flush_as_plain_work(&later));
        assert_eq!(later.ran_at.load(Ordering::Acquire), 0);
        assert!(later.dwork.cancel().is_some());
        system().flush();
        assert!(is_sole_owner(now));
        assert!(is_sole_owner(later));
        Ok(())
    }

    pub(crate) fn closures_run_with_their_moved_values() -> Result {
        static SEEN: AtomicU32 = AtomicU32::new(0);
        let before = SEEN.load(Ordering::Acquire);
        for i in 1..=5u32 {
            let value = KBox::new(i, GFP_KERNEL)?;
            system().try_spawn(GFP_KERNEL, move || {
                SEEN.fetch_add(*value, Ordering::AcqRel);
            })?;
        }
        system().flush();
        assert_eq!(SEEN.load(Ordering::Acquire), before + 15);
        Ok(())
    }
}
