// SPDX-License-Identifier: GPL-2.0

//! Scoped work: closures that borrow from the test's stack, all finished before the scope
//! returns; and ordered queues sharing a lockdep map.

// KUnit suite: workqueue_scope
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
        AtomicU64,
        Ordering, //
    };

    use kernel::{
        prelude::*,
        sync::Arc, //
    };

    use crate::{
        common::{
            current_cpu, online_cpus, race_rounds,
            time::{
                fsleep,
                Delta, //
            },
        },
        gpu::wq::{
            new_lockdep_map,
            scope,
            system_percpu,
            system_unbound,
            Builder, //
        },
    };

    /// Closures on a system queue and on an owned one each fill their own part of a stack
    /// array, sleeping first: when the scope returns every one has run, exactly once, and the
    /// array holds what they wrote.
    pub(crate) fn closures_borrowing_a_stack_array_all_finish_before_the_scope_returns() -> Result {
        let owned = Builder::unbound().max_active(2).build(c"wq_rs_scope")?;
        let mut squares = [0u64; 64];
        let runs = AtomicU32::new(0);
        scope(|s| -> Result {
            for (i, chunk) in squares.chunks_mut(8).enumerate() {
                let runs = &runs;
                let job = move || {
                    fsleep(Delta::from_millis(2));
                    for (j, slot) in chunk.iter_mut().enumerate() {
                        let n = (i * 8 + j) as u64;
                        *slot = n * n;
                    }
                    runs.fetch_add(1, Ordering::Relaxed);
                };
                if i % 2 == 0 {
                    s.spawn(system_unbound(), job)?;
                } else {
                    s.spawn(&owned, job)?;
                }
            }
            Ok(())
        })?;
        assert_eq!(runs.load(Ordering::Relaxed), 8);
        for (n, square) in squares.iter().enumerate() {
            assert_eq!(*square, (n * n) as u64);
        }
        Ok(())
    }

    /// Closures on every CPU's per-CPU queue race each other on shared stack counters, over
    /// many rounds: after each scope the counts are exact, and the closures ran on more than
    /// one CPU.
    pub(crate) fn closures_racing_on_every_cpu_give_exact_counts() -> Result {
        const PER_CLOSURE: u64 = 1000;
        let rounds = race_rounds() / 10;
        let closures = 4 * online_cpus();
        let mut cpus_seen = 0u64;
        for _ in 0..rounds {
            let total = AtomicU64::new(0);
            let seen = AtomicU64::new(0);
            scope(|s| -> Result {
                for _ in 0..closures {
                    let (total, seen) = (&total, &seen);
                    s.spawn(system_percpu(), move || {
                        seen.fetch_or(1 << current_cpu().min(63), Ordering::Relaxed);
                        for _ in 0..PER_CLOSURE {
                            total.fetch_add(1, Ordering::Relaxed);
                        }
                    })?;
                }
                Ok(())
            })?;
            assert_eq!(
                total.load(Ordering::Relaxed),
                u64::from(closures) * PER_CLOSURE
            );
            cpus_seen |= seen.load(Ordering::Relaxed);
        }
        pr_info!("scope race: {rounds} rounds of {closures} closures, on CPUs {cpus_seen:#x}\n");
        assert!(cpus_seen.count_ones() >= 2);
        Ok(())
    }

    /// Two ordered queues built with one lockdep map: each runs its closures one at a time,
    /// in the order they were queued.
    pub(crate) fn ordered_queues_sharing_a_lockdep_map_run_in_fifo_order() -> Result {
        let map = Arc::pin_init(new_lockdep_map!("wq_rs_test_submit"), GFP_KERNEL)?;
        let rings = [
            Builder::ordered()
                .lockdep_map(map.clone())
                .build(c"wq_rs_ring0")?,
            Builder::ordered().lockdep_map(map).build(c"wq_rs_ring1")?,
        ];
        for ring in &rings {
            let next = Arc::new(AtomicU32::new(0), GFP_KERNEL)?;
            let running = Arc::new(AtomicU32::new(0), GFP_KERNEL)?;
            let in_order = Arc::new(AtomicBool::new(true), GFP_KERNEL)?;
            for i in 0..32u32 {
                let (next, running, in_order) = (next.clone(), running.clone(), in_order.clone());
                ring.try_spawn(GFP_KERNEL, move || {
                    if running.fetch_add(1, Ordering::AcqRel) != 0 {
                        in_order.store(false, Ordering::Relaxed);
                    }
                    if next.fetch_add(1, Ordering::AcqRel) != i {
                        in_order.store(false, Ordering::Relaxed);
                    }
                    running.fetch_sub(1, Ordering::AcqRel);
                })?;
            }
            ring.flush();
            assert_eq!(next.load(Ordering::Acquire), 32);
            assert!(in_order.load(Ordering::Relaxed));
        }
        Ok(())
    }
}
