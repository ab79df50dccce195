// SPDX-License-Identifier: GPL-2.0

//! A randomized model test: every CPU runs random operations on shared items of all three
//! pointer kinds, over three owned queues (drained, dropped and rebuilt now and then) and the
//! system queues, and a model predicts the result of each operation.
//!
//! The model holds, per work field of each shared item, how many instances were created
//! (successful queueings), how many ended without running (came back to a caller, or were
//! released by a queue's cancel pass), and where the latest one went (which queue, with a
//! delay or not); the item counts its runs. The difference is the item's *outstanding*
//! instance: 0 or 1 between operations. The model also holds, per tracked field, the owned
//! queue it is linked to. Operations on one item are serialised by the item's lock; drains
//! and rebuilds exclude all other operations. So, where C makes it deterministic, the result
//! is predicted exactly:
//!
//! - an item with nothing outstanding is queued, by any queueing, arming or re-arming;
//! - a re-arm always queues, and returns nothing if nothing was outstanding;
//! - a disabled item is refused by every queueing, and a cancel of it returns nothing;
//! - a nested disable's guard enables to "still disabled", the outer one to "enabled";
//! - a cancel or disable returns nothing if nothing was outstanding, and leaves nothing
//!   outstanding; so does a flush;
//! - a pass releases exactly the shared items whose instance was armed with a delay on its
//!   queue and had not started, plus the boxes it released, and leaves none of them pending;
//!   what was queued on the queue at once has run when the drain or destroy returns;
//! - a tracked item is linked to a queue exactly when the model says so.
//!
//! Where timing legitimately decides (the timer may have fired and the run begun), the model
//! accepts exactly the legal set: queued or refused, taken or not, waited or not. When a
//! queueing shows that the outstanding instance had started, the model waits until both it
//! and the new instance have run: the two may run on different queues, and C's cancel and
//! flush wait only for the instance queued last.
//!
//! At the end everything is dropped: per item and field, the runs equal the predicted runs
//! (created less ended), every `Arc` is unique, every `ARef` back to one reference, and every
//! box was freed exactly once.
//!
//! The seed is printed; the `model_seed` module parameter replays a run's operations (each
//! CPU's sequence follows from it; how they interleave does not), and `model_ops` sets their
//! number (100,000 by default, over all CPUs).

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
            AtomicBool,
            AtomicI32,
            AtomicU32,
            AtomicUsize,
            Ordering, //
        },
    };

    use kernel::{
        new_mutex,
        prelude::*,
        sync::{Arc, Mutex},
    };

    use crate::{
        common::{
            into_aref,
            model_params,
            release_boxed,
            run_on_cpus,
            time::{fsleep, now_ns, Delta},
            Outcome,
            Rng,
            TEST_CPUS, //
        },
        gpu::wq::{
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
            Disabled,
            OwnedQueue,
            Queue,
            TrackedDelayedWork,
            Work,
            WorkItem, //
        },
    };

    /// Items of each shared kind.
    const ITEMS: usize = 6;
    /// The work fields of an item.
    const TRACKED: u64 = 0;
    const PLAIN: u64 = 1;
    const DELAYED: u64 = 2;
    /// The owned queues.
    const SLOTS: usize = 3;

    /// Where an instance was queued: a system queue, or an owned queue (slot, generation).
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum Target {
        System,
        Owned(usize, u32),
    }

    /// The model of one work field of a shared item.
    #[derive(Clone, Copy)]
    struct Field {
        /// Instances queued.
        created: usize,
        /// Instances that ended without running: returned to a caller, or released by a pass.
        ended: usize,
        /// Where the latest instance went, whether it had a delay, and whether that delay was
        /// parked ([`PARKED_MS`]): then, while outstanding, it is known to be pending.
        on: Target,
        delayed: bool,
        parked: bool,
    }

    /// The most disables the model holds on a field at once.
    const MAX_DEPTH: usize = 3;

    /// The model of a shared item: its fields, the owned queue its tracked field is linked
    /// to, and the disables held on each field, across operations.
    struct Model {
        fields: [Field; 3],
        linked: Option<(usize, u32)>,
        /// The guards of the disables in force, per field, innermost last. They borrow the
        /// item that holds this model, which outlives them (see `Model::disable`).
        disabled: [[Option<Disabled<'static>>; MAX_DEPTH]; 3],
    }

    impl Model {
        fn new() -> Self {
            let field = Field {
                created: 0,
                ended: 0,
                on: Target::System,
                delayed: false,
                parked: false,
            };
            Self {
                fields: [field; 3],
                linked: None,
                disabled: Default::default(),
            }
        }

        /// The disables in force on `field`.
        fn depth(&self, field: u64) -> usize {
            let guards = &self.disabled[field as usize];
            guards.iter().filter(|g| g.is_some()).count()
        }

        /// Keeps the guard of a new disable of `field`, which must be below [`MAX_DEPTH`].
        ///
        /// # Safety
        ///
        /// The guard must be of the item whose model this is: the item holds the model, and
        /// the test drops every guard ([`Model::enable`]) before it lets go of its items.
        unsafe fn disable(&mut self, field: u64, guard: Disabled<'_>) {
            let depth = self.depth(field);
            // SAFETY: By the caller's promise the guard's item outlives the guard, which
            // `'static` only stands for here.
            let guard = unsafe { core::mem::transmute::<Disabled<'_>, Disabled<'static>>(guard) };
            self.disabled[field as usize][depth] = Some(guard);
        }

        /// Takes the guard of the innermost disable of `field`, if any.
        fn enable(&mut self, field: u64) -> Option<Disabled<'static>> {
            let depth = self.depth(field);
            depth
                .checked_sub(1)
                .and_then(|top| self.disabled[field as usize][top].take())
        }
    }

    /// Declares a shared item type whose owner is `$ptr`: a tracked, a plain and a delayed
    /// work field, each counting its runs, and the item's model under its lock.
    macro_rules! shared_item {
        ($name:ident, $ptr:ident) => {
            #[pin_data]
            struct $name {
                refs: AtomicUsize,
                runs: [AtomicUsize; 3],
                #[pin]
                model: Mutex<Model>,
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
                    this.runs[TRACKED as usize].fetch_add(1, Ordering::AcqRel);
                }
            }

            impl WorkItem<PLAIN> for $name {
                type Pointer = $ptr<$name>;

                fn run(this: $ptr<$name>) {
                    this.runs[PLAIN as usize].fetch_add(1, Ordering::AcqRel);
                }
            }

            impl WorkItem<DELAYED> for $name {
                type Pointer = $ptr<$name>;

                fn run(this: $ptr<$name>) {
                    this.runs[DELAYED as usize].fetch_add(1, Ordering::AcqRel);
                }
            }

            impl $name {
                fn init() -> impl PinInit<Self> {
                    pin_init!($name {
                        refs: AtomicUsize::new(1),
                        runs: Default::default(),
                        model <- new_mutex!(Model::new()),
                        tracked <- new_tracked_delayed_work!(),
                        plain <- new_work!(),
                        delayed <- new_delayed_work!(),
                    })
                }

                /// The instances of `field` created and neither ended nor run: 0 or 1
                /// between operations. Right after a queueing, before the model books it,
                /// it is -1 if the new instance has run already.
                fn outstanding(&self, model: &Model, field: u64) -> isize {
                    let f = &model.fields[field as usize];
                    let runs = self.runs[field as usize].load(Ordering::Acquire);
                    f.created as isize - f.ended as isize - runs as isize
                }

                fn is_pending(&self, field: u64) -> bool {
                    match field {
                        TRACKED => self.tracked.is_pending(),
                        PLAIN => self.plain.is_pending(),
                        _ => self.delayed.is_pending(),
                    }
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

    /// What boxes did, by the queue slot they were armed on (the last index: elsewhere).
    struct Boxes {
        made: AtomicUsize,
        queued: AtomicUsize,
        runs: AtomicUsize,
        freed: AtomicUsize,
        /// Queued boxes freed without running: released by a pass of that slot's queue.
        released: [AtomicUsize; SLOTS + 1],
    }

    /// A boxed item, made for one queueing: it runs, or a queue's cancel pass frees it.
    #[pin_data(PinnedDrop)]
    struct BoxItem {
        boxes: &'static Boxes,
        armed_on: usize,
        queued: AtomicBool,
        ran: AtomicBool,
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

    impl BoxItem {
        fn ran(&self) {
            self.ran.store(true, Ordering::Release);
            self.boxes.runs.fetch_add(1, Ordering::AcqRel);
        }
    }

    impl WorkItem<TRACKED> for BoxItem {
        type Pointer = Pin<KBox<BoxItem>>;

        fn run(this: Pin<KBox<BoxItem>>) {
            this.ran();
        }
    }

    impl WorkItem<PLAIN> for BoxItem {
        type Pointer = Pin<KBox<BoxItem>>;

        fn run(this: Pin<KBox<BoxItem>>) {
            this.ran();
        }
    }

    #[pinned_drop]
    impl PinnedDrop for BoxItem {
        fn drop(self: Pin<&mut Self>) {
            let b = self.boxes;
            b.freed.fetch_add(1, Ordering::AcqRel);
            if self.queued.load(Ordering::Acquire) && !self.ran.load(Ordering::Acquire) {
                b.released[self.armed_on].fetch_add(1, Ordering::AcqRel);
            }
        }
    }

    /// Lets operations run side by side (each under its item's lock) or a drain or rebuild
    /// run alone: a sleeping reader-writer gate, since a drain takes no item lock.
    struct Gate {
        /// Operations inside, or -1 while a drain or rebuild is.
        inside: AtomicI32,
        /// Drains and rebuilds waiting: operations wait for them to pass.
        waiting: AtomicU32,
    }

    impl Gate {
        fn enter(&self) -> Entered<'_> {
            loop {
                let n = self.inside.load(Ordering::Acquire);
                if self.waiting.load(Ordering::Acquire) == 0
                    && n >= 0
                    && self
                        .inside
                        .compare_exchange(n, n + 1, Ordering::AcqRel, Ordering::Relaxed)
                        .is_ok()
                {
                    return Entered(self, false);
                }
                fsleep(Delta::from_micros(20));
            }
        }

        fn alone(&self) -> Entered<'_> {
            self.waiting.fetch_add(1, Ordering::AcqRel);
            while self
                .inside
                .compare_exchange(0, -1, Ordering::AcqRel, Ordering::Relaxed)
                .is_err()
            {
                fsleep(Delta::from_micros(20));
            }
            self.waiting.fetch_sub(1, Ordering::AcqRel);
            Entered(self, true)
        }
    }

    struct Entered<'a>(&'a Gate, bool);

    impl Drop for Entered<'_> {
        fn drop(&mut self) {
            if self.1 {
                self.0.inside.store(0, Ordering::Release);
            } else {
                self.0.inside.fetch_sub(1, Ordering::AcqRel);
            }
        }
    }

    /// An owned queue and its generation (bumped at each rebuild).
    struct Slot {
        queue: Option<OwnedQueue<Unbound>>,
        generation: u32,
    }

    /// What the threads share.
    #[pin_data]
    struct World {
        arcs: KVec<Arc<ArcItem>>,
        arefs: KVec<ARef<ArefItem>>,
        #[pin]
        slot0: Mutex<Slot>,
        #[pin]
        slot1: Mutex<Slot>,
        #[pin]
        slot2: Mutex<Slot>,
        gate: Gate,
        boxes: &'static Boxes,
        seed: u64,
        ops_per_thread: u32,
        /// Predictions checked, and of them the exact ones.
        checked: AtomicUsize,
        exact: AtomicUsize,
        /// Set by a failed prediction.
        diverged: AtomicBool,
        /// Operations done (fewer than asked if a prediction failed).
        done: AtomicUsize,
        outcomes: [Outcome; OUTCOMES],
    }

    /// The outcomes the test claims to cover, each of which must happen.
    const OUTCOMES: usize = 17;
    const QUEUED_IDLE: usize = 0;
    const REFUSED_PENDING: usize = 1;
    const REFUSED_PARKED: usize = 2;
    const REFUSED_DISABLED: usize = 3;
    const CANCEL_TOOK: usize = 4;
    const CANCEL_TOOK_PARKED: usize = 5;
    const CANCEL_NOTHING_OUTSTANDING: usize = 6;
    const CANCEL_FOUND_IT_STARTED: usize = 7;
    const FLUSH_WAITED: usize = 8;
    const FLUSH_RAN_PARKED: usize = 9;
    const REARM_TOOK: usize = 10;
    const NESTED_DISABLE: usize = 11;
    const PASS_RELEASED_SHARED: usize = 12;
    const PASS_RELEASED_PARKED: usize = 13;
    const PASS_RELEASED_BOX: usize = 14;
    const DRAINS: usize = 15;
    const REBUILDS: usize = 16;
    const OUTCOME_NAMES: [&str; OUTCOMES] = [
        "an item with nothing outstanding was queued (predicted)",
        "a queueing was refused, an instance outstanding",
        "a queueing was refused, a parked instance pending (predicted)",
        "a queueing was refused, the item disabled (predicted)",
        "a cancel or disable took the outstanding instance",
        "a cancel or disable took a parked instance (predicted)",
        "a cancel or disable found nothing outstanding (predicted)",
        "a cancel or disable found the instance started, and waited",
        "a flush waited for an outstanding instance",
        "a flush ran a parked instance at once (predicted: it ran)",
        "a re-arm took the outstanding instance (predicted when parked)",
        "a disable nested in another one",
        "a pass released a shared item's instance",
        "a pass released a parked instance (predicted)",
        "a pass released a box",
        "drains",
        "drops and rebuilds",
    ];

    impl World {
        fn slot(&self, i: usize) -> &Mutex<Slot> {
            match i {
                0 => &self.slot0,
                1 => &self.slot1,
                _ => &self.slot2,
            }
        }

        fn hit(&self, outcome: usize) {
            self.outcomes[outcome].hit();
        }
    }

    /// Checks a prediction; `exact` says whether C made it deterministic (rather than one of
    /// a set of legal results).
    macro_rules! predict {
        ($world:expr, exact, $cond:expr) => {{
            $world.exact.fetch_add(1, Ordering::Relaxed);
            predict!($world, set, $cond)
        }};
        ($world:expr, set, $cond:expr) => {{
            $world.checked.fetch_add(1, Ordering::Relaxed);
            let held: bool = $cond;
            if !held {
                // The model no longer knows the state: the threads stop (see `thread`).
                $world.diverged.store(true, Ordering::Release);
                crate::kunit::assert_failed(
                    crate::gpu::wq::compat::wq_c_str!(::core::file!()),
                    ::core::line!() as i32,
                    crate::gpu::wq::compat::wq_c_str!(::core::stringify!($cond)),
                );
            }
        }};
    }

    fn build_queue(slot: usize) -> Option<OwnedQueue<Unbound>> {
        // Three differently limited queues: one at a time, four, and the default.
        let b = Builder::unbound().max_active([1, 4, 0][slot]);
        b.build_fmt(format_args!("wq_rs_model{slot}")).ok()
    }

    /// A delay that no test boot outlives (a day; `make check`'s boots stop at 600 s, a
    /// soak's at hours): an instance armed with it is known to be pending until it is
    /// cancelled, re-armed, flushed or released by a pass.
    const PARKED_MS: u32 = 86_400_000;

    /// A delay: none a quarter of the time, parked an eighth, else up to 16 ms.
    fn delay(rng: &mut Rng) -> Delay {
        match rng.below(8) {
            0 | 1 => Delay::ZERO,
            2 => Delay::from_millis(PARKED_MS),
            _ => Delay::from_millis(1 + rng.below(16)),
        }
    }

    /// Whether `d` parks the instance (see [`PARKED_MS`]).
    fn parks(d: Delay) -> bool {
        d == Delay::from_millis(PARKED_MS)
    }

    /// Prints the model's and C's view of `$field` of `$item`, to explain a failed prediction.
    macro_rules! report_field {
        ($item:expr, $model:expr, $field:expr, $what:expr) => {{
            let f = &$model.fields[$field as usize];
            let (slot, generation) = match f.on {
                Target::System => (-1, 0),
                Target::Owned(s, g) => (s as i64, g),
            };
            pr_err!(
                "model: field {} {}: {} created, {} ended, {} ran; last on slot {slot} \
                 (generation {generation}, -1: a system queue), delayed {}, pending {}\n",
                $field,
                $what,
                f.created,
                f.ended,
                $item.runs[$field as usize].load(Ordering::Acquire),
                f.delayed,
                $item.is_pending($field)
            );
        }};
    }

    /// Waits until the runs of the item's `field` account for all but `left` of its instances
    /// booked so far: a result showed that an instance started, and its run is about to be
    /// counted. (The instance just queued, not booked yet, may have run too.)
    macro_rules! await_runs {
        ($world:expr, $item:expr, $model:expr, $field:expr, $left:expr) => {{
            // Sleeps (below 11 us `fsleep()` would spin): the run's worker needs the CPU,
            // and the other threads that want this item's lock then sleep too.
            let deadline = now_ns() + 10_000_000_000;
            while $item.outstanding($model, $field) > $left && now_ns() < deadline {
                fsleep(Delta::from_micros(200));
            }
            let left = $item.outstanding($model, $field);
            if left > $left {
                report_field!($item, $model, $field, "still outstanding after 10 s");
                $world.diverged.store(true, Ordering::Release);
            }
            assert!(left <= $left);
        }};
    }

    /// Books the answer of a queueing of `$field` on `$target` with `$delayed`, against the
    /// prediction: queued if nothing was outstanding (`$before`), either if one was.
    macro_rules! book_queueing {
        ($world:expr, $item:expr, $model:expr, $field:expr, $before:expr, $result:expr,
         $target:expr, $delayed:expr, $parked:expr) => {{
            let queued = $result.is_ok();
            if $model.depth($field) > 0 {
                // C refuses to queue a disabled item.
                predict!($world, exact, !queued);
                $world.hit(REFUSED_DISABLED);
            } else if $before == 0 {
                predict!($world, exact, queued);
                $world.hit(QUEUED_IDLE);
            } else {
                predict!($world, set, $before == 1);
                if $model.fields[$field as usize].parked {
                    // Known to be pending.
                    predict!($world, exact, !queued);
                    $world.hit(REFUSED_PARKED);
                } else if !queued {
                    $world.hit(REFUSED_PENDING);
                }
            }
            if queued {
                let f = &mut $model.fields[$field as usize];
                f.created += 1;
                f.on = $target;
                f.delayed = $delayed;
                f.parked = $parked;
                if $before == 1 {
                    // The outstanding instance has started (C queues only an item not
                    // pending), maybe on another queue, where C's later cancels and flushes
                    // would not wait for it. Which of the two runs is counted first is
                    // timing's: wait for both, or for the old one if the new one is parked.
                    await_runs!($world, $item, $model, $field, isize::from($parked));
                }
            }
            queued
        }};
    }

    /// Books the answer of a re-arm of `$field` on `$target`: it always queues (its cancel
    /// frees the item first), and returns the owner of the outstanding instance if it took it,
    /// never if nothing was outstanding (`$before`).
    macro_rules! book_rearm {
        ($world:expr, $item:expr, $model:expr, $field:expr, $before:expr, $previous:expr,
         $queued:expr, $target:expr, $delayed:expr, $parked:expr) => {{
            let took = $previous.is_some();
            drop($previous);
            let queued = $queued.is_ok();
            if $model.depth($field) > 0 {
                // Disabled: nothing to take, and the queueing is refused.
                predict!($world, exact, !took && !queued);
                $world.hit(REFUSED_DISABLED);
            } else {
                predict!($world, exact, queued);
                if $before == 0 {
                    predict!($world, exact, !took);
                } else if $model.fields[$field as usize].parked {
                    // Known to be pending: the re-arm takes it.
                    predict!($world, exact, took);
                }
                if took {
                    $model.fields[$field as usize].ended += 1;
                    $world.hit(REARM_TOOK);
                }
                let f = &mut $model.fields[$field as usize];
                f.created += 1;
                f.on = $target;
                f.delayed = $delayed;
                f.parked = $parked;
                if $before == 1 && !took {
                    // It had started: wait for both runs, as in `book_queueing!`.
                    await_runs!($world, $item, $model, $field, isize::from($parked));
                }
            }
            queued
        }};
    }

    /// Books what a cancel or disable of `$field` returned, and checks that nothing is
    /// outstanding afterwards: it waited for a run in progress.
    macro_rules! book_cancel {
        ($world:expr, $item:expr, $model:expr, $field:expr, $before:expr, $owner:expr) => {{
            let took = $owner.is_some();
            drop($owner);
            let parked = $model.fields[$field as usize].parked;
            if $before == 0 {
                predict!($world, exact, !took);
                $world.hit(CANCEL_NOTHING_OUTSTANDING);
            } else {
                if parked {
                    // Known to be pending: the cancel takes it.
                    predict!($world, exact, took);
                }
                if took {
                    $model.fields[$field as usize].ended += 1;
                    $world.hit(if parked {
                        CANCEL_TOOK_PARKED
                    } else {
                        CANCEL_TOOK
                    });
                } else {
                    $world.hit(CANCEL_FOUND_IT_STARTED);
                }
            }
            if $item.outstanding($model, $field) != 0 {
                report_field!($item, $model, $field, "outstanding after a cancel");
            }
            predict!($world, exact, $item.outstanding($model, $field) == 0);
        }};
    }

    /// Runs `$body` with `$q`, a queue that takes plain work at once: a system queue, or an
    /// owned one (under its slot's lock, released before this returns). Evaluates to
    /// `Some((what $body returned, where it queued))`, or `None` if the slot had no queue.
    macro_rules! with_any_queue {
        ($world:expr, $rng:expr, |$q:ident| $body:expr) => {{
            let which = $rng.below(6) as usize;
            if which < 3 {
                let $q: &Queue = match which {
                    0 => system(),
                    1 => system_unbound(),
                    _ => system_highpri(),
                };
                Some(($body, Target::System))
            } else {
                let slot = $world.slot(which - 3).lock();
                let target = Target::Owned(which - 3, slot.generation);
                slot.queue.as_ref().map(|q| {
                    let $q: &Queue = q;
                    ($body, target)
                })
            }
        }};
    }

    /// Runs `$body` with `$q`, one of the owned queues chosen at random, under its slot's
    /// lock (released before this returns). Evaluates as [`with_any_queue!`] does.
    macro_rules! with_owned_queue {
        ($world:expr, $rng:expr, |$q:ident| $body:expr) => {{
            let s = $rng.below(SLOTS as u32) as usize;
            let slot = $world.slot(s).lock();
            let target = Target::Owned(s, slot.generation);
            slot.queue.as_ref().map(|$q| ($body, target))
        }};
    }

    /// One random operation on a shared item `$item` (an `Arc` or an `ARef`), under its lock.
    macro_rules! shared_op {
        ($world:expr, $rng:expr, $item:expr) => {{
            let (world, rng, item) = ($world, $rng, $item);
            let mut model = item.model.lock();
            let m = &mut *model;
            match rng.below(16) {
                0..=2 => {
                    let before = item.outstanding(m, PLAIN);
                    // The slot's lock is released before the booking, which may wait.
                    let queued =
                        with_any_queue!(world, rng, |q| { q.enqueue::<_, PLAIN>(item.clone()) });
                    if let Some((result, target)) = queued {
                        book_queueing!(world, item, m, PLAIN, before, result, target, false, false);
                    }
                }
                3..=6 => {
                    let before = item.outstanding(m, TRACKED);
                    let d = delay(rng);
                    let with_delay = d != Delay::ZERO;
                    let armed = with_owned_queue!(world, rng, |q| {
                        q.enqueue_delayed::<_, TRACKED>(item.clone(), d)
                    });
                    if let Some((result, target)) = armed {
                        let queued = book_queueing!(
                            world,
                            item,
                            m,
                            TRACKED,
                            before,
                            result,
                            target,
                            with_delay,
                            parks(d)
                        );
                        if let (true, Target::Owned(s, g)) = (queued, target) {
                            m.linked = with_delay.then_some((s, g));
                        }
                    }
                }
                7 => {
                    let before = item.outstanding(m, TRACKED);
                    let d = delay(rng);
                    let with_delay = d != Delay::ZERO;
                    let rearmed = with_owned_queue!(world, rng, |q| {
                        q.mod_delayed::<_, TRACKED>(item.clone(), d)
                    });
                    if let Some(((previous, queued), target)) = rearmed {
                        let parked = parks(d);
                        let queued = book_rearm!(
                            world, item, m, TRACKED, before, previous, queued, target, with_delay,
                            parked
                        );
                        if let (true, Target::Owned(s, g)) = (queued, target) {
                            m.linked = with_delay.then_some((s, g));
                        }
                    }
                }
                8 => {
                    let q: &'static Queue = if rng.one_in(2) {
                        system()
                    } else {
                        system_unbound()
                    };
                    let before = item.outstanding(m, DELAYED);
                    let d = delay(rng);
                    let (target, parked) = (Target::System, parks(d));
                    if rng.one_in(2) {
                        let result = q.enqueue_delayed::<_, DELAYED>(item.clone(), d);
                        book_queueing!(
                            world, item, m, DELAYED, before, result, target, true, parked
                        );
                    } else {
                        let (previous, queued) = q.mod_delayed::<_, DELAYED>(item.clone(), d);
                        book_rearm!(
                            world, item, m, DELAYED, before, previous, queued, target, true, parked
                        );
                    }
                }
                9..=10 => {
                    let field = u64::from(rng.below(3));
                    let before = item.outstanding(m, field);
                    match field {
                        TRACKED => {
                            let owner = item.tracked.cancel();
                            book_cancel!(world, item, m, TRACKED, before, owner);
                        }
                        PLAIN => {
                            let owner = item.plain.cancel();
                            book_cancel!(world, item, m, PLAIN, before, owner);
                        }
                        _ => {
                            let owner = item.delayed.cancel();
                            book_cancel!(world, item, m, DELAYED, before, owner);
                        }
                    }
                }
                11..=12 => {
                    let field = u64::from(rng.below(3));
                    let before = item.outstanding(m, field);
                    let waited = match field {
                        TRACKED => item.tracked.flush(),
                        PLAIN => item.plain.flush(),
                        _ => item.delayed.flush(),
                    };
                    // Whether it found something to wait for is timing's: an outstanding
                    // instance may finish between the model's look and the flush's (a parked
                    // one too: the flush queues it, and it may be done before the flush looks
                    // for it). What is exact is that nothing is outstanding afterwards: a
                    // parked instance has run, now.
                    predict!(world, set, before == 1 || before == 0);
                    if before == 1 && m.fields[field as usize].parked {
                        world.hit(FLUSH_RAN_PARKED);
                    } else if waited && before == 1 {
                        world.hit(FLUSH_WAITED);
                    }
                    predict!(world, exact, item.outstanding(m, field) == 0);
                }
                _ => {
                    // Disable (nesting up to `MAX_DEPTH`), or undo the innermost disable: the
                    // guards stay in the model, so other operations meet the item disabled.
                    // Weighted so that a field is disabled about a quarter of the time.
                    let field = u64::from(rng.below(3));
                    let depth = m.depth(field);
                    if depth == 0 && !rng.one_in(3) {
                        // Leaves the field as it is.
                    } else if depth == MAX_DEPTH || (depth > 0 && !rng.one_in(8)) {
                        let guard = m.enable(field);
                        // It enables the item only if it was the last disable.
                        predict!(
                            world,
                            exact,
                            guard.is_some_and(|g| g.enable() == (depth == 1))
                        );
                    } else {
                        let before = item.outstanding(m, field);
                        let (owner, guard) = match field {
                            TRACKED => item.tracked.disable(),
                            PLAIN => item.plain.disable(),
                            _ => item.delayed.disable(),
                        };
                        book_cancel!(world, item, m, field, before, owner);
                        predict!(world, exact, guard.is_ok());
                        if let Ok(guard) = guard {
                            // SAFETY: The guard is of this item, whose model keeps it; the test
                            // takes every guard out of the models before it lets go of the
                            // items.
                            unsafe { m.disable(field, guard) };
                        }
                        if depth > 0 {
                            world.hit(NESTED_DISABLE);
                        }
                    }
                }
            }
            // Invariant B of `src/tracked.rs`, as the model sees it.
            predict!(
                world,
                exact,
                item.tracked.is_tracked() == m.linked.is_some()
            );
        }};
    }

    /// One random operation on a new box: queue it at once anywhere, or arm it on an owned
    /// queue. A new box is neither pending nor disabled: it is queued.
    fn box_op(world: &World, rng: &mut Rng) {
        let boxes = world.boxes;
        let arm_on = rng.one_in(2).then(|| rng.below(SLOTS as u32) as usize);
        let Ok(b) = KBox::pin_init(
            pin_init!(BoxItem {
                boxes,
                armed_on: arm_on.unwrap_or(SLOTS),
                queued: AtomicBool::new(false),
                ran: AtomicBool::new(false),
                tracked <- new_tracked_delayed_work!(),
                plain <- new_work!(),
            }),
            GFP_KERNEL,
        ) else {
            return;
        };
        boxes.made.fetch_add(1, Ordering::AcqRel);
        // Marked before the queueing: once queued, the box is the queue's.
        b.queued.store(true, Ordering::Release);
        match arm_on {
            None => {
                let mut b = Some(b);
                let queued = with_any_queue!(world, rng, |q| {
                    b.take().map(|b| q.enqueue::<_, PLAIN>(b).is_ok())
                });
                if let Some((Some(ok), _)) = queued {
                    predict!(world, exact, ok);
                    boxes.queued.fetch_add(1, Ordering::AcqRel);
                }
                // Not queued (no queue in that slot): dropped, never having been queued.
                if let Some(b) = b {
                    b.queued.store(false, Ordering::Release);
                }
            }
            Some(s) => {
                let slot = world.slot(s).lock();
                if let Some(q) = slot.queue.as_ref() {
                    let armed = q.enqueue_delayed::<_, TRACKED>(b, delay(rng));
                    predict!(world, exact, armed.is_ok());
                    boxes.queued.fetch_add(1, Ordering::AcqRel);
                } else {
                    b.queued.store(false, Ordering::Release);
                }
            }
        }
    }

    /// What a pass of the queue at `target` is predicted to do to one shared item, read
    /// before it; `check_after` checks it and books a release.
    struct Before {
        runs: [usize; 3],
        /// Armed with a delay on the queue, outstanding: it runs or the pass releases it.
        armed_here: bool,
        /// Of those, parked: known to be pending, so the pass releases it.
        parked_here: bool,
        /// Queued there at once (plain, or tracked without delay): it runs.
        queued_here: [bool; 2],
        linked_here: bool,
    }

    macro_rules! before_pass {
        ($item:expr, $target:expr) => {{
            let m = $item.model.lock();
            // The runs first, and what is outstanding from them: a run counted later is then
            // seen as a run by `after_pass!`, never booked as a release.
            let runs: [usize; 3] = core::array::from_fn(|f| $item.runs[f].load(Ordering::Acquire));
            let outstanding = |field: u64| {
                let f = &m.fields[field as usize];
                f.created as isize - f.ended as isize - runs[field as usize] as isize
            };
            let t = &m.fields[TRACKED as usize];
            let p = &m.fields[PLAIN as usize];
            let tracked_here = outstanding(TRACKED) == 1 && t.on == $target;
            Before {
                runs,
                armed_here: tracked_here && t.delayed,
                parked_here: tracked_here && t.parked,
                queued_here: [
                    tracked_here && !t.delayed,
                    outstanding(PLAIN) == 1 && p.on == $target,
                ],
                linked_here: matches!($target, Target::Owned(s, g) if m.linked == Some((s, g))),
            }
        }};
    }

    /// Checks a shared item after the pass, books a release; returns whether it released.
    macro_rules! after_pass {
        ($world:expr, $item:expr, $before:expr) => {{
            let mut m = $item.model.lock();
            let b = $before;
            let mut released = false;
            if b.armed_here {
                // Cancelled, or it had started and the drain or destroy waited for it.
                predict!($world, exact, !$item.tracked.is_pending());
                if $item.runs[TRACKED as usize].load(Ordering::Acquire) == b.runs[0] {
                    m.fields[TRACKED as usize].ended += 1;
                    released = true;
                }
                if b.parked_here {
                    // It could not have started: the pass released it.
                    predict!($world, exact, released);
                    $world.hit(PASS_RELEASED_PARKED);
                }
            }
            for (field, here) in [(TRACKED, b.queued_here[0]), (PLAIN, b.queued_here[1])] {
                if here {
                    predict!($world, exact, !$item.is_pending(field));
                    predict!($world, exact, $item.outstanding(&m, field) == 0);
                }
            }
            if b.linked_here {
                m.linked = None;
            }
            predict!(
                $world,
                exact,
                $item.tracked.is_tracked() == m.linked.is_some()
            );
            released
        }};
    }

    /// What [`queue_op`] does to an owned queue.
    #[derive(Clone, Copy, PartialEq, Eq)]
    enum QueueOp {
        Drain,
        Rebuild,
        /// Drop it for good, at the end.
        Drop,
    }

    /// Drains a queue, or drops it (and builds a new one), alone; checks its pass against the
    /// model.
    fn queue_op(world: &World, slot_index: usize, op: QueueOp) {
        let _alone = world.gate.alone();
        // Alone, nothing changes between these steps but what runs or fires. The item locks
        // are taken with no slot lock held, as the operations take them (item, then slot).
        let target = Target::Owned(slot_index, world.slot(slot_index).lock().generation);
        let mut before_arcs = KVec::new();
        let mut before_arefs = KVec::new();
        let mut linked = 0;
        for item in &world.arcs {
            let b = before_pass!(item, target);
            linked += usize::from(b.linked_here);
            assert!(before_arcs.push(b, GFP_KERNEL).is_ok());
        }
        for item in &world.arefs {
            let b = before_pass!(item, target);
            linked += usize::from(b.linked_here);
            assert!(before_arefs.push(b, GFP_KERNEL).is_ok());
        }
        let released_boxes = &world.boxes.released[slot_index];
        let boxes_before = released_boxes.load(Ordering::Acquire);
        let pass = {
            let mut slot = world.slot(slot_index).lock();
            if op == QueueOp::Drain {
                world.hit(DRAINS);
                slot.queue.as_mut().map(|q| q.drain_report())
            } else {
                world.hit(REBUILDS);
                let report = slot.queue.take().map(|q| q.destroy_report());
                if op == QueueOp::Rebuild {
                    slot.queue = build_queue(slot_index);
                }
                slot.generation += 1;
                report
            }
        };
        let boxes_released = released_boxes.load(Ordering::Acquire) - boxes_before;
        let mut released = 0;
        for (item, b) in world.arcs.iter().zip(before_arcs) {
            released += usize::from(after_pass!(world, item, b));
        }
        for (item, b) in world.arefs.iter().zip(before_arefs) {
            released += usize::from(after_pass!(world, item, b));
        }
        world.outcomes[PASS_RELEASED_SHARED].add(released);
        world.outcomes[PASS_RELEASED_BOX].add(boxes_released);
        let Some(pass) = pass else {
            // No queue in the slot (a failed rebuild): nothing can have been armed on it.
            predict!(world, exact, released == 0 && boxes_released == 0);
            return;
        };
        // Exactly the shared items the model says, and the boxes that it freed unrun.
        predict!(world, exact, pass.released == released + boxes_released);
        // Every shared item linked to the queue, and each box it released, were unlinked
        // (boxes that were running when it passed are unlinked too).
        predict!(world, set, pass.unlinked >= linked + boxes_released);
    }

    fn thread(world: &World, index: u32) {
        // Each CPU's operations follow from the seed and the CPU.
        let mut rng = Rng::from_seed(
            world
                .seed
                .wrapping_add(u64::from(index).wrapping_mul(0x9e37_79b9_7f4a_7c15)),
        );
        for _ in 0..world.ops_per_thread {
            // A failed prediction (already reported) leaves the model wrong about the items:
            // going on would only pile up failures and waits.
            if world.diverged.load(Ordering::Acquire) {
                return;
            }
            world.done.fetch_add(1, Ordering::Relaxed);
            match rng.below(4000) {
                0..=1 => {
                    let slot = rng.below(SLOTS as u32) as usize;
                    let op = if rng.one_in(2) {
                        QueueOp::Drain
                    } else {
                        QueueOp::Rebuild
                    };
                    queue_op(world, slot, op);
                }
                2..=599 => {
                    let _in = world.gate.enter();
                    box_op(world, &mut rng);
                }
                600..=2299 => {
                    let _in = world.gate.enter();
                    let item = &world.arcs[rng.below(ITEMS as u32) as usize];
                    shared_op!(world, &mut rng, item);
                }
                _ => {
                    let _in = world.gate.enter();
                    let item = &world.arefs[rng.below(ITEMS as u32) as usize];
                    shared_op!(world, &mut rng, item);
                }
            }
        }
    }

    /// Drops the guards of the disables the model holds on an item (its items are let go of
    /// only after this): each field is enabled by its last one.
    fn enable_all(m: &mut Model) {
        for field in [TRACKED, PLAIN, DELAYED] {
            while let Some(guard) = m.enable(field) {
                let last = m.depth(field) == 0;
                assert_eq!(guard.enable(), last);
            }
        }
    }

    /// Checks an item's fields at the end: every instance created ran or ended, and nothing
    /// is pending. Returns the runs the model predicted and the runs counted.
    macro_rules! check_final {
        ($item:expr) => {{
            let m = $item.model.lock();
            let mut predicted = 0;
            let mut counted = 0;
            for field in [TRACKED, PLAIN, DELAYED] {
                let f = &m.fields[field as usize];
                let runs = $item.runs[field as usize].load(Ordering::Acquire);
                assert!(!$item.is_pending(field));
                let left = f.created.wrapping_sub(f.ended);
                assert_eq!(left, runs);
                predicted += left;
                counted += runs;
            }
            assert!(m.linked.is_none() && !$item.tracked.is_tracked());
            (predicted, counted)
        }};
    }

    pub(crate) fn random_operations_on_every_cpu_match_the_model_and_release_every_owner() -> Result
    {
        static BOXES: Boxes = Boxes {
            made: AtomicUsize::new(0),
            queued: AtomicUsize::new(0),
            runs: AtomicUsize::new(0),
            freed: AtomicUsize::new(0),
            released: [const { AtomicUsize::new(0) }; SLOTS + 1],
        };
        let (seed, ops) = model_params();
        let seed = if seed == 0 { Rng::random_seed() } else { seed };
        pr_info!(
            "model: seed {seed:#x}, {ops} operations on {TEST_CPUS} CPUs \
             (replay: rust_wq_test.model_seed={seed:#x} model_ops={ops})\n"
        );
        let mut arcs = KVec::new();
        let mut arefs = KVec::new();
        for _ in 0..ITEMS {
            arcs.push(Arc::pin_init(ArcItem::init(), GFP_KERNEL)?, GFP_KERNEL)?;
            arefs.push(
                into_aref(KBox::pin_init(ArefItem::init(), GFP_KERNEL)?),
                GFP_KERNEL,
            )?;
        }
        let new_slot = |s| Slot {
            queue: build_queue(s),
            generation: 0,
        };
        let world = Arc::pin_init(
            pin_init!(World {
                arcs,
                arefs,
                slot0 <- new_mutex!(new_slot(0)),
                slot1 <- new_mutex!(new_slot(1)),
                slot2 <- new_mutex!(new_slot(2)),
                gate: Gate {
                    inside: AtomicI32::new(0),
                    waiting: AtomicU32::new(0),
                },
                boxes: &BOXES,
                seed,
                ops_per_thread: ops / TEST_CPUS,
                checked: AtomicUsize::new(0),
                exact: AtomicUsize::new(0),
                diverged: AtomicBool::new(false),
                done: AtomicUsize::new(0),
                outcomes: OUTCOME_NAMES.map(Outcome::new),
            }),
            GFP_KERNEL,
        )?;
        let start = now_ns();
        run_on_cpus(TEST_CPUS, &world, thread)?;
        let ms = ((now_ns() - start) / 1_000_000).max(1);

        // Drop everything: the owned queues through the same checked pass (running what is
        // queued, releasing what is armed), then what the system queues hold.
        for s in 0..SLOTS {
            queue_op(&world, s, QueueOp::Drop);
        }
        for item in &world.arcs {
            let mut m = item.model.lock();
            enable_all(&mut m);
            if item.delayed.cancel().is_some() {
                m.fields[DELAYED as usize].ended += 1;
            }
            item.plain.flush();
        }
        for item in &world.arefs {
            let mut m = item.model.lock();
            enable_all(&mut m);
            if item.delayed.cancel().is_some() {
                m.fields[DELAYED as usize].ended += 1;
            }
            item.plain.flush();
        }
        system().flush();
        system_unbound().flush();
        system_highpri().flush();

        let (mut predicted, mut counted) = (0, 0);
        for item in &world.arcs {
            let (p, c) = check_final!(item);
            predicted += p;
            counted += c;
        }
        for item in &world.arefs {
            let (p, c) = check_final!(item);
            predicted += p;
            counted += c;
        }
        let done = world.done.load(Ordering::Acquire) as u64;
        let checked = world.checked.load(Ordering::Acquire);
        let exact = world.exact.load(Ordering::Acquire);
        pr_info!(
            "model: {done} ops in {ms} ms ({} ops/s); {checked} predictions checked, {exact} \
             of them exact; shared items: {predicted} runs predicted, {counted} counted\n",
            done * 1000 / ms
        );
        let b = &BOXES;
        let (made, queued) = (
            b.made.load(Ordering::Acquire),
            b.queued.load(Ordering::Acquire),
        );
        let (runs, freed) = (
            b.runs.load(Ordering::Acquire),
            b.freed.load(Ordering::Acquire),
        );
        let released: usize = b.released.iter().map(|r| r.load(Ordering::Acquire)).sum();
        pr_info!(
            "model: boxes: {made} made, {queued} queued, {runs} ran, {released} released by \
             passes, {freed} freed\n"
        );
        assert_eq!(predicted, counted);
        // Every queued box ran or was released by a pass, and every box was freed once.
        assert_eq!(queued, runs + released);
        assert_eq!(freed, made);
        for outcome in &world.outcomes {
            assert!(outcome.reached("model", 1));
        }

        let Some(mut world) = Arc::into_unique_or_drop(world) else {
            return Err(EBUSY);
        };
        for item in &world.arefs {
            assert_eq!(item.refs.load(Ordering::Acquire), 1);
        }
        // SAFETY: Nothing of `world` is moved out of its pinned place: the vector is emptied
        // where it is.
        let world = unsafe { Pin::get_unchecked_mut(world.as_mut()) };
        for item in core::mem::take(&mut world.arcs) {
            assert!(Arc::into_unique_or_drop(item).is_some());
        }
        Ok(())
    }
}
