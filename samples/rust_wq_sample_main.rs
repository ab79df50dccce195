// SPDX-License-Identifier: GPL-2.0

//! A first look at the workqueue library, as a driver would use it.
//!
//! On load it queues a job on the system queue, arms a delayed "heartbeat" on the unbound
//! system queue, and runs a closure; each reports in the kernel log. On unload nothing is
//! left pending.

use core::sync::atomic::{
    AtomicU32,
    Ordering, //
};

use kernel::{
    prelude::*,
    sync::{
        Arc,
        Completion, //
    },
    time::Delta,
};

#[path = "../src/workqueue.rs"]
mod workqueue;

use workqueue::{
    impl_has_delayed_work,
    impl_has_work,
    new_delayed_work,
    new_work,
    system,
    system_unbound,
    DelayedWork,
    Work,
    WorkItem, //
};

module! {
    type: WqSample,
    name: "rust_wq_sample",
    authors: ["The workqueue authors"],
    description: "Sample use of the Rust workqueue library",
    license: "GPL",
}

/// A job the driver hands to a queue.
#[pin_data]
struct Job {
    id: u32,
    #[pin]
    done: Completion,
    #[pin]
    work: Work<Job>,
}

impl_has_work! {
    impl HasWork<Self> for Job { self.work }
}

impl WorkItem for Job {
    type Pointer = Arc<Job>;

    fn run(this: Arc<Job>) {
        pr_info!("job {} runs in a worker thread\n", this.id);
        this.done.complete_all();
    }
}

/// A heartbeat that fires after a delay.
#[pin_data]
struct Heartbeat {
    beats: AtomicU32,
    #[pin]
    done: Completion,
    #[pin]
    dwork: DelayedWork<Heartbeat>,
}

impl_has_delayed_work! {
    impl HasDelayedWork<Self> for Heartbeat { self.dwork }
}

impl WorkItem for Heartbeat {
    type Pointer = Arc<Heartbeat>;

    fn run(this: Arc<Heartbeat>) {
        let n = this.beats.fetch_add(1, Ordering::Relaxed) + 1;
        pr_info!("heartbeat {n} after its 20 ms delay\n");
        this.done.complete_all();
    }
}

struct WqSample;

impl kernel::Module for WqSample {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        pr_info!("loaded: queueing a job, a heartbeat and a closure\n");

        let job = Arc::pin_init(
            pin_init!(Job { id: 1, done <- Completion::new(), work <- new_work!("Job::work") }),
            GFP_KERNEL,
        )?;
        system().enqueue(job.clone()).map_err(|_| EBUSY)?;
        if system().enqueue(job.clone()).is_err() {
            pr_info!("job 1 was still pending: the second enqueue handed it back\n");
        }

        let heart = Arc::pin_init(
            pin_init!(Heartbeat {
                beats: AtomicU32::new(0),
                done <- Completion::new(),
                dwork <- new_delayed_work!("Heartbeat::dwork"),
            }),
            GFP_KERNEL,
        )?;
        system_unbound()
            .enqueue_delayed(heart.clone(), Delta::from_millis(20))
            .map_err(|_| EBUSY)?;

        let greeting = KVec::from_elem(b'!', 3, GFP_KERNEL)?;
        system().try_spawn(GFP_KERNEL, move || {
            pr_info!("a closure ran, carrying {} moved bytes\n", greeting.len());
        })?;

        job.done.wait_for_completion();
        heart.done.wait_for_completion();
        system().flush();
        system_unbound().flush();
        pr_info!("all work done\n");
        Ok(WqSample)
    }
}

impl Drop for WqSample {
    fn drop(&mut self) {
        pr_info!("unloaded\n");
    }
}
