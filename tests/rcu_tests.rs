// SPDX-License-Identifier: GPL-2.0

//! RCU work: runs after a grace period that began after its queueing; cancel returns its
//! owner; an owned queue's drop waits for it.

// KUnit suite: workqueue_rcu
pub(crate) mod tests {
    #[allow(unused_imports)]
    use crate::kunit::{
        kassert as assert,
        kassert_eq as assert_eq,
        kassert_ne as assert_ne, //
    };

    use core::sync::atomic::{
        AtomicU32,
        Ordering, //
    };

    use kernel::{
        prelude::*,
        sync::Arc, //
    };

    use crate::{
        common::{
            rcu_read_lock, rcu_read_unlock,
            time::{
                udelay,
                Delta, //
            },
            Completion,
        },
        gpu::wq::{
            impl_has_rcu_work,
            impl_has_work,
            new_rcu_work,
            new_work,
            system_unbound,
            Builder,
            RcuWork,
            Work,
            WorkItem, //
        },
    };

    /// An item with an RCU work and a plain one, counting the runs of each.
    #[pin_data]
    struct Retired {
        rcu_runs: AtomicU32,
        plain_runs: AtomicU32,
        #[pin]
        rwork: RcuWork<Retired>,
        #[pin]
        work: Work<Retired, 1>,
    }

    impl_has_rcu_work! {
        impl HasRcuWork<Retired> for Retired { self.rwork }
    }

    impl_has_work! {
        impl HasWork<Retired, 1> for Retired { self.work }
    }

    impl WorkItem for Retired {
        type Pointer = Arc<Retired>;

        fn run(this: Arc<Retired>) {
            this.rcu_runs.fetch_add(1, Ordering::AcqRel);
        }
    }

    impl WorkItem<1> for Retired {
        type Pointer = Arc<Retired>;

        fn run(this: Arc<Retired>) {
            this.plain_runs.fetch_add(1, Ordering::AcqRel);
        }
    }

    impl Retired {
        fn new() -> Result<Arc<Retired>> {
            Arc::pin_init(
                pin_init!(Retired {
                    rcu_runs: AtomicU32::new(0),
                    plain_runs: AtomicU32::new(0),
                    rwork <- new_rcu_work!("Retired::rwork"),
                    work <- new_work!("Retired::work"),
                }),
                GFP_KERNEL,
            )
        }
    }

    /// This thread is an RCU reader from before the queueing to after the check: the RCU item
    /// has not run when the check is made, although a plain item queued at the same moment
    /// has (so a queue that ran at once would have been seen). After the reader leaves, the
    /// item runs, once, and its reference comes back.
    pub(crate) fn rcu_work_waits_for_a_reader_that_began_before_the_queueing() -> Result {
        let item = Retired::new()?;
        rcu_read_lock();
        assert!(system_unbound().enqueue_rcu::<_, 0>(item.clone()).is_ok());
        assert!(system_unbound().enqueue::<_, 1>(item.clone()).is_ok());
        // Busy, not asleep: a reader may not sleep. 50 ms, in 1 ms steps, until the plain item
        // has run; it runs on another CPU.
        let mut waited = 0;
        while item.plain_runs.load(Ordering::Acquire) == 0 && waited < 50 {
            udelay(Delta::from_millis(1));
            waited += 1;
        }
        let (plain, rcu) = (
            item.plain_runs.load(Ordering::Acquire),
            item.rcu_runs.load(Ordering::Acquire),
        );
        let pending = item.rwork.is_pending();
        rcu_read_unlock();
        assert_eq!(plain, 1);
        assert_eq!(rcu, 0);
        assert!(pending);
        assert!(item.rwork.flush());
        assert_eq!(item.rcu_runs.load(Ordering::Acquire), 1);
        assert!(Arc::into_unique_or_drop(item).is_some());
        Ok(())
    }

    /// An RCU item queued on an ordered queue kept busy: its cancel waits out the grace
    /// period, finds the item queued behind the blocker, takes it and returns the queue's
    /// owner; it never runs. Cancelling an idle item returns nothing.
    pub(crate) fn cancel_of_a_pending_rcu_item_returns_the_owner_and_it_never_runs() -> Result {
        let q = Builder::ordered().build(c"wq_rs_rcu_cancel")?;
        let gate = Arc::pin_init(Completion::new(), GFP_KERNEL)?;
        let blocker = gate.clone();
        q.try_spawn(GFP_KERNEL, move || blocker.wait_for_completion())?;
        let item = Retired::new()?;
        rcu_read_lock();
        assert!(q.enqueue_rcu::<_, 0>(item.clone()).is_ok());
        // Pending, and queued again: refused, the pointer comes back.
        assert!(q.enqueue_rcu::<_, 0>(item.clone()).is_err());
        rcu_read_unlock();
        let owner = item.rwork.cancel();
        assert!(owner.is_some());
        drop(owner);
        assert!(!item.rwork.is_pending());
        gate.complete_all();
        drop(q);
        assert_eq!(item.rcu_runs.load(Ordering::Acquire), 0);
        assert!(item.rwork.cancel().is_none());
        assert!(Arc::into_unique_or_drop(item).is_some());
        Ok(())
    }

    /// An RCU item queued on an owned queue, which is dropped at once: the drop waits for the
    /// grace period and the run, and the queue's reference is dropped; so does a drain.
    pub(crate) fn an_owned_queues_drop_and_drain_wait_for_its_rcu_items() -> Result {
        let item = Retired::new()?;
        let mut q = Builder::unbound().build(c"wq_rs_rcu")?;
        assert!(q.enqueue_rcu::<_, 0>(item.clone()).is_ok());
        q.drain();
        assert_eq!(item.rcu_runs.load(Ordering::Acquire), 1);
        assert!(q.enqueue_rcu::<_, 0>(item.clone()).is_ok());
        drop(q);
        assert_eq!(item.rcu_runs.load(Ordering::Acquire), 2);
        assert!(Arc::into_unique_or_drop(item).is_some());
        Ok(())
    }
}
