// SPDX-License-Identifier: GPL-2.0

//! A randomized model test: every CPU runs random operations on shared items of all three
//! pointer kinds, over three owned queues (drained, dropped and rebuilt now and then) and the
//! system queues, then everything is dropped and every instance is accounted for.
//!
//! The model: each successful queueing or arming of a work field creates one instance, and
//! each instance ends exactly once, by running (counted by the item), by coming back to the
//! caller of a cancel, a disable or a re-arm (counted by the thread), or by being released by
//! an owned queue's cancel pass (counted from `drain` and `destroy`). So, per item and field,
//! `created == runs + returned + released`, where only tracked fields can have been
//! released. Every owner is released exactly once: each `Arc` is unique at the end, each
//! `ARef` is back to its one reference, and every box allocated was freed.

// KUnit suite: workqueue_model
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
            AtomicUsize,
            Ordering, //
        },
    };

    use kernel::{
        new_mutex,
        prelude::*,
        sync::{Arc, Mutex},
        time::Jiffies, //
    };

    use crate::{
        common::{
            into_aref,
            online_cpus,
            release_boxed,
            run_threads,
            time::{now_ns, udelay, Delta},
            Rng, //
        },
        workqueue::{
            compat::{
                ARef,
                AlwaysRefCounted, //
            },
            impl_has_delayed_work,
            impl_has_tracked_delayed_work,
            impl_has_work,
            kind::Unbound,
            new_delayed_work,
            new_tracked_delayed_work,
            new_work,
            system,
            system_highpri,
            system_unbound,
            Builder,
            Delay,
            DelayedWork,
            OwnedQueue,
            Queue,
            TrackedDelayedWork,
            Work,
            WorkItem, //
        },
    };

    /// Random operations per thread: with four CPUs, 100,000 in all.
    const OPS_PER_THREAD: u32 = 25_000;
    /// Items of each shared kind.
    const ITEMS: usize = 6;
    /// The work fields of an item.
    const TRACKED: u64 = 0;
    const PLAIN: u64 = 1;
    const DELAYED: u64 = 2;

    /// Per work field of an item: instances created, run and returned to a caller.
    #[derive(Default)]
    struct Tally {
        created: AtomicUsize,
        runs: AtomicUsize,
        returned: AtomicUsize,
    }

    impl Tally {
        fn count(counter: &AtomicUsize) {
            counter.fetch_add(1, Ordering::AcqRel);
        }

        fn get(counter: &AtomicUsize) -> usize {
            counter.load(Ordering::Acquire)
        }
    }

    /// Totals over all items, and what only the totals can tell.
    #[derive(Default)]
    struct Totals {
        refused: AtomicUsize,
        released: AtomicUsize,
        boxes_made: AtomicUsize,
        boxes_freed: AtomicUsize,
        box_runs: AtomicUsize,
        box_created: AtomicUsize,
        ops: AtomicUsize,
        drains: AtomicUsize,
        rebuilds: AtomicUsize,
    }

    /// Declares a shared item type whose owner is `$ptr`: a tracked, a plain and a delayed
    /// work field, each with its tally.
    macro_rules! shared_item {
        ($name:ident, $ptr:ident) => {
            #[pin_data]
            struct $name {
                refs: AtomicUsize,
                tally: [Tally; 3],
                #[pin]
                tracked: TrackedDelayedWork<$name, TRACKED>,
                #[pin]
                plain: Work<$name, PLAIN>,
                #[pin]
                delayed: DelayedWork<$name, DELAYED>,
            }

            impl_has_tracked_delayed_work! {
                impl HasTrackedDelayedWork<$name, TRACKED> for $name { self.tracked }
            }

            impl_has_work! {
                impl HasWork<$name, PLAIN> for $name { self.plain }
            }

            impl_has_delayed_work! {
                impl HasDelayedWork<$name, DELAYED> for $name { self.delayed }
            }

            impl WorkItem<TRACKED> for $name {
                type Pointer = $ptr<$name>;

                fn run(this: $ptr<$name>) {
                    Tally::count(&this.tally[TRACKED as usize].runs);
                }
            }

            impl WorkItem<PLAIN> for $name {
                type Pointer = $ptr<$name>;

                fn run(this: $ptr<$name>) {
                    Tally::count(&this.tally[PLAIN as usize].runs);
                }
            }

            impl WorkItem<DELAYED> for $name {
                type Pointer = $ptr<$name>;

                fn run(this: $ptr<$name>) {
                    Tally::count(&this.tally[DELAYED as usize].runs);
                }
            }

            impl $name {
                fn init() -> impl PinInit<Self> {
                    pin_init!($name {
                        refs: AtomicUsize::new(1),
                        tally: Default::default(),
                        tracked <- new_tracked_delayed_work!(),
                        plain <- new_work!(),
                        delayed <- new_delayed_work!(),
                    })
                }
            }
        };
    }

    shared_item!(ArcItem, Arc);
    shared_item!(ArefItem, ARef);

    // SAFETY: Counted atomically; the last reference frees the box, once.
    unsafe impl AlwaysRefCounted for ArefItem {
        fn inc_ref(&self) {
            self.refs.fetch_add(1, Ordering::Relaxed);
        }

        unsafe fn dec_ref(obj: NonNull<Self>) {
            // SAFETY: The caller gives up a reference to an object made by `into_aref`.
            unsafe { release_boxed(obj, |o| &o.refs) };
        }
    }

    /// A boxed item, made for one queueing: it runs, or a queue's cancel pass frees it.
    #[pin_data(PinnedDrop)]
    struct BoxItem {
        totals: &'static Totals,
        #[pin]
        tracked: TrackedDelayedWork<BoxItem, TRACKED>,
        #[pin]
        plain: Work<BoxItem, PLAIN>,
    }

    impl_has_tracked_delayed_work! {
        impl HasTrackedDelayedWork<BoxItem, TRACKED> for BoxItem { self.tracked }
    }

    impl_has_work! {
        impl HasWork<BoxItem, PLAIN> for BoxItem { self.plain }
    }

    impl WorkItem<TRACKED> for BoxItem {
        type Pointer = Pin<KBox<BoxItem>>;

        fn run(this: Pin<KBox<BoxItem>>) {
            Tally::count(&this.totals.box_runs);
        }
    }

    impl WorkItem<PLAIN> for BoxItem {
        type Pointer = Pin<KBox<BoxItem>>;

        fn run(this: Pin<KBox<BoxItem>>) {
            Tally::count(&this.totals.box_runs);
        }
    }

    #[pinned_drop]
    impl PinnedDrop for BoxItem {
        fn drop(self: Pin<&mut Self>) {
            Tally::count(&self.totals.boxes_freed);
        }
    }

    /// What the threads share.
    #[pin_data]
    struct World {
        arcs: KVec<Arc<ArcItem>>,
        arefs: KVec<ARef<ArefItem>>,
        #[pin]
        slot0: Mutex<Option<OwnedQueue<Unbound>>>,
        #[pin]
        slot1: Mutex<Option<OwnedQueue<Unbound>>>,
        #[pin]
        slot2: Mutex<Option<OwnedQueue<Unbound>>>,
        totals: &'static Totals,
    }

    fn build_queue(slot: usize) -> Option<OwnedQueue<Unbound>> {
        // Three differently limited queues: one at a time, four, and the default.
        let b = Builder::unbound().max_active([1, 4, 0][slot]);
        b.build_fmt(format_args!("wq_rs_model{slot}")).ok()
    }

    impl World {
        fn slot(&self, i: usize) -> &Mutex<Option<OwnedQueue<Unbound>>> {
            match i {
                0 => &self.slot0,
                1 => &self.slot1,
                _ => &self.slot2,
            }
        }
    }

    /// A delay of at most a few jiffies, often none.
    fn delay(rng: &mut Rng) -> Delay {
        Delay::from_jiffies(rng.below(5) as Jiffies)
    }

    /// A queue that takes plain work at once: a system queue, or one of the owned ones.
    fn with_any_queue(world: &World, rng: &mut Rng, f: impl FnOnce(&Queue)) {
        match rng.below(5) {
            0 => f(system()),
            1 => f(system_unbound()),
            2 => f(system_highpri()),
            s => {
                let guard = world.slot(s as usize - 2).lock();
                if let Some(q) = guard.as_ref() {
                    f(q);
                }
            }
        }
    }

    /// Books the answer of a queueing of field `field` of an item with tally `tally`.
    fn book<E>(world: &World, tally: &[Tally; 3], field: u64, result: Result<(), E>) {
        match result {
            Ok(()) => Tally::count(&tally[field as usize].created),
            Err(_) => Tally::count(&world.totals.refused),
        }
    }

    fn back<P>(tally: &[Tally; 3], field: u64, owner: Option<P>) {
        if owner.is_some() {
            Tally::count(&tally[field as usize].returned);
        }
    }

    /// One random operation on a shared item `$item` (an `Arc` or an `ARef`).
    macro_rules! shared_op {
        ($world:expr, $rng:expr, $item:expr) => {{
            let (world, rng, item) = ($world, $rng, $item);
            let tally = &item.tally;
            match rng.below(14) {
                0..=2 => with_any_queue(world, rng, |q| {
                    book(world, tally, PLAIN, q.enqueue::<_, PLAIN>(item.clone()));
                }),
                3..=5 => {
                    let guard = world.slot(rng.below(3) as usize).lock();
                    if let Some(q) = guard.as_ref() {
                        let armed = q.enqueue_delayed::<_, TRACKED>(item.clone(), delay(rng));
                        book(world, tally, TRACKED, armed);
                    }
                }
                6 => {
                    let guard = world.slot(rng.below(3) as usize).lock();
                    if let Some(q) = guard.as_ref() {
                        let (previous, queued) =
                            q.mod_delayed::<_, TRACKED>(item.clone(), delay(rng));
                        back(tally, TRACKED, previous);
                        book(world, tally, TRACKED, queued);
                    }
                }
                7 => {
                    let q: &'static Queue = if rng.one_in(2) {
                        system()
                    } else {
                        system_unbound()
                    };
                    let armed = if rng.one_in(2) {
                        q.enqueue_delayed::<_, DELAYED>(item.clone(), delay(rng))
                    } else {
                        let (previous, queued) =
                            q.mod_delayed::<_, DELAYED>(item.clone(), delay(rng));
                        back(tally, DELAYED, previous);
                        queued
                    };
                    book(world, tally, DELAYED, armed);
                }
                8..=9 => match rng.below(3) {
                    0 => back(tally, TRACKED, item.tracked.cancel()),
                    1 => back(tally, PLAIN, item.plain.cancel()),
                    _ => back(tally, DELAYED, item.delayed.cancel()),
                },
                10..=11 => {
                    match rng.below(3) {
                        0 => item.tracked.flush(),
                        1 => item.plain.flush(),
                        _ => item.delayed.flush(),
                    };
                }
                _ => {
                    let pause = Delta::from_micros(rng.below(50).into());
                    match rng.below(3) {
                        0 => {
                            let (owner, disabled) = item.tracked.disable();
                            back(tally, TRACKED, owner);
                            udelay(pause);
                            drop(disabled);
                        }
                        1 => {
                            let (owner, disabled) = item.plain.disable();
                            back(tally, PLAIN, owner);
                            udelay(pause);
                            drop(disabled);
                        }
                        _ => {
                            let (owner, disabled) = item.delayed.disable();
                            back(tally, DELAYED, owner);
                            udelay(pause);
                            drop(disabled);
                        }
                    }
                }
            }
        }};
    }

    /// One random operation on a new box: queue it at once anywhere, or arm it on an owned
    /// queue.
    fn box_op(world: &World, rng: &mut Rng) {
        let totals = world.totals;
        let Ok(b) = KBox::pin_init(
            pin_init!(BoxItem {
                totals,
                tracked <- new_tracked_delayed_work!(),
                plain <- new_work!(),
            }),
            GFP_KERNEL,
        ) else {
            return;
        };
        Tally::count(&totals.boxes_made);
        if rng.one_in(2) {
            // A new box is neither pending nor disabled: it is queued.
            with_any_queue(world, rng, |q| {
                assert!(q.enqueue::<_, PLAIN>(b).is_ok());
                Tally::count(&totals.box_created);
            });
        } else {
            let guard = world.slot(rng.below(3) as usize).lock();
            if let Some(q) = guard.as_ref() {
                assert!(q.enqueue_delayed::<_, TRACKED>(b, delay(rng)).is_ok());
                Tally::count(&totals.box_created);
            }
        }
    }

    /// Drains a queue, or drops it and builds a new one.
    fn queue_op(world: &World, rng: &mut Rng) {
        let slot = rng.below(3) as usize;
        let mut guard = world.slot(slot).lock();
        let released = if rng.one_in(2) {
            Tally::count(&world.totals.drains);
            (*guard).as_mut().map_or(0, |q| q.drain())
        } else {
            Tally::count(&world.totals.rebuilds);
            let old = guard.take();
            *guard = build_queue(slot);
            old.map_or(0, |q| q.destroy())
        };
        world.totals.released.fetch_add(released, Ordering::AcqRel);
    }

    fn thread(world: &World, _index: u32) {
        let mut rng = Rng::new();
        for _ in 0..OPS_PER_THREAD {
            match rng.below(4000) {
                0 => queue_op(world, &mut rng),
                1..=599 => box_op(world, &mut rng),
                600..=2299 => {
                    let item = &world.arcs[rng.below(ITEMS as u32) as usize];
                    shared_op!(world, &mut rng, item);
                }
                _ => {
                    let item = &world.arefs[rng.below(ITEMS as u32) as usize];
                    shared_op!(world, &mut rng, item);
                }
            }
            Tally::count(&world.totals.ops);
        }
    }

    /// Checks one shared item's fields against the model; returns what its tracked field had
    /// released by queues.
    fn check(tally: &[Tally; 3]) -> usize {
        let mut released = 0;
        for (field, t) in tally.iter().enumerate() {
            let (created, runs) = (Tally::get(&t.created), Tally::get(&t.runs));
            let returned = Tally::get(&t.returned);
            assert!(runs + returned <= created);
            let gone = created - runs - returned;
            if field == TRACKED as usize {
                released += gone;
            } else {
                // Plain and delayed instances are never released by a queue.
                assert_eq!(gone, 0);
            }
        }
        released
    }

    pub(crate) fn random_operations_on_every_cpu_account_for_every_instance_and_owner() -> Result {
        static TOTALS: Totals = Totals {
            refused: AtomicUsize::new(0),
            released: AtomicUsize::new(0),
            boxes_made: AtomicUsize::new(0),
            boxes_freed: AtomicUsize::new(0),
            box_runs: AtomicUsize::new(0),
            box_created: AtomicUsize::new(0),
            ops: AtomicUsize::new(0),
            drains: AtomicUsize::new(0),
            rebuilds: AtomicUsize::new(0),
        };
        let mut arcs = KVec::new();
        let mut arefs = KVec::new();
        for _ in 0..ITEMS {
            arcs.push(Arc::pin_init(ArcItem::init(), GFP_KERNEL)?, GFP_KERNEL)?;
            arefs.push(
                into_aref(KBox::pin_init(ArefItem::init(), GFP_KERNEL)?),
                GFP_KERNEL,
            )?;
        }
        let world = Arc::pin_init(
            pin_init!(World {
                arcs,
                arefs,
                slot0 <- new_mutex!(build_queue(0)),
                slot1 <- new_mutex!(build_queue(1)),
                slot2 <- new_mutex!(build_queue(2)),
                totals: &TOTALS,
            }),
            GFP_KERNEL,
        )?;
        let threads = online_cpus();
        assert!(threads >= 4);
        let start = now_ns();
        run_threads(threads, &world, thread)?;
        let ms = ((now_ns() - start) / 1_000_000).max(1) as i64;

        // Drop everything: the owned queues (running what is queued, releasing what is
        // armed), then wait for what the system queues hold.
        for slot in 0..3 {
            if let Some(q) = world.slot(slot).lock().take() {
                TOTALS.released.fetch_add(q.destroy(), Ordering::AcqRel);
            }
        }
        for item in &world.arcs {
            back(&item.tally, DELAYED, item.delayed.cancel());
            item.plain.flush();
        }
        for item in &world.arefs {
            back(&item.tally, DELAYED, item.delayed.cancel());
            item.plain.flush();
        }
        system().flush();
        system_unbound().flush();
        system_highpri().flush();

        let mut released_by_items = 0;
        for item in &world.arcs {
            released_by_items += check(&item.tally);
        }
        for item in &world.arefs {
            released_by_items += check(&item.tally);
        }
        let boxes_made = Tally::get(&TOTALS.boxes_made);
        let box_runs = Tally::get(&TOTALS.box_runs);
        let box_created = Tally::get(&TOTALS.box_created);
        let boxes_released = box_created - box_runs;
        let released = Tally::get(&TOTALS.released);
        let ops = Tally::get(&TOTALS.ops);
        let ops_per_s = ops as i64 * 1000 / ms;
        let drains = Tally::get(&TOTALS.drains);
        let rebuilds = Tally::get(&TOTALS.rebuilds);
        let refused = Tally::get(&TOTALS.refused);
        pr_info!("model: {ops} ops on {threads} CPUs in {ms} ms ({ops_per_s} ops/s)\n");
        pr_info!("model: {drains} drains, {rebuilds} drops and rebuilds, {refused} refused\n");
        pr_info!("model: shared items: {released_by_items} instances released by queues\n");
        pr_info!(
            "model: boxes: {boxes_made} made, {box_runs} ran, {boxes_released} released by queues\n"
        );
        assert_eq!(ops, (OPS_PER_THREAD * threads) as usize);
        // What the queues' cancel passes said they released is what the model says.
        assert_eq!(released, released_by_items + boxes_released);
        // Every box was freed exactly once: by its run or by a cancel pass.
        assert_eq!(Tally::get(&TOTALS.boxes_freed), boxes_made);

        let Some(mut world) = Arc::into_unique_or_drop(world) else {
            return Err(EBUSY);
        };
        for item in &world.arcs {
            assert!(!item.tracked.is_pending() && !item.tracked.is_tracked());
        }
        for item in &world.arefs {
            assert!(!item.tracked.is_pending() && !item.tracked.is_tracked());
            assert_eq!(item.refs.load(Ordering::Acquire), 1);
        }
        // SAFETY: Nothing of `world` is moved out of its pinned place: the vectors are
        // emptied where they are.
        let world = unsafe { Pin::get_unchecked_mut(world.as_mut()) };
        for item in core::mem::take(&mut world.arcs) {
            assert!(Arc::into_unique_or_drop(item).is_some());
        }
        Ok(())
    }
}
