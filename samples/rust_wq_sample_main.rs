// SPDX-License-Identifier: GPL-2.0

//! A driver-shaped tour of the workqueue library.
//!
//! The "device" runs jobs one at a time, in order, on its own ordered queue. Every job gets
//! a watchdog on a second owned queue: when the job finishes, its completion is signalled
//! under a spinlock, as a fence is, and cancels the watchdog there without sleeping; if the
//! job is late, the watchdog fires first and reports it. A heartbeat re-arms itself on the
//! watchdog queue every jiffy through a handle to it, without owning the queue. On unload,
//! the module still has a job queued and the heartbeat beating: dropping the queues waits for
//! the job and refuses (or cancels) the heartbeat's next beat, so nothing outlives the
//! module.

use core::sync::atomic::{
    AtomicBool,
    AtomicU32,
    Ordering, //
};

use kernel::{
    bindings, new_spinlock,
    prelude::*,
    sync::{
        Arc,
        SpinLock, //
    },
};

/// The library is mounted at `gpu::wq`; any module path works.
pub mod gpu;

/// Where the library's macros find it: the one line a crate that builds it in writes.
use gpu::wq as workqueue_lib;

use gpu::wq::{
    impl_has_tracked_delayed_work,
    impl_has_work,
    kind,
    new_tracked_delayed_work,
    new_work,
    Builder,
    Delay,
    OwnedQueue,
    QueueHandle,
    TrackedDelayedWork,
    Work,
    WorkItem, //
};

#[cfg(not(wq_kernel_6))]
module! {
    type: WqSample,
    name: "rust_wq_sample",
    authors: ["The workqueue authors"],
    description: "Sample use of the Rust workqueue library: jobs with watchdogs",
    license: "GPL",
}

// The 6.12 kernel crate's `module!` spells it `author`.
#[cfg(wq_kernel_6)]
module! {
    type: WqSample,
    name: "rust_wq_sample",
    author: "The workqueue authors",
    description: "Sample use of the Rust workqueue library: jobs with watchdogs",
    license: "GPL",
}

/// The `ID`s of a job's two work fields.
const RUN: u64 = 0;
const WATCHDOG: u64 = 1;

/// A job for the device: it takes `cost_ms` to run, and is late after `timeout_ms`.
#[pin_data]
struct Job {
    id: u32,
    cost_ms: u32,
    timeout_ms: u32,
    timed_out: AtomicBool,
    /// Held while the job's completion is signalled, as a fence's lock is.
    #[pin]
    fence_lock: SpinLock<()>,
    #[pin]
    work: Work<Job, RUN>,
    #[pin]
    watchdog: TrackedDelayedWork<Job, WATCHDOG>,
}

impl_has_work! {
    impl HasWork<Job, RUN> for Job { self.work }
}

impl_has_tracked_delayed_work! {
    impl HasTrackedDelayedWork<Job, WATCHDOG> for Job { self.watchdog }
}

impl WorkItem<RUN> for Job {
    type Pointer = Arc<Job>;

    fn run(this: Arc<Job>) {
        // The "hardware" is busy for a while.
        // SAFETY: A work item runs in process context, where sleeping is allowed.
        unsafe { bindings::msleep(this.cost_ms) };
        // Signal completion as a fence does, under its spinlock, where nothing may sleep: the
        // non-sleeping cancel returns the reference the watchdog's queue held, if the
        // watchdog had not fired yet. It is dropped after the lock.
        let watchdog = {
            let _signalling = this.fence_lock.lock();
            this.watchdog.cancel_nowait()
        };
        if watchdog.is_some() {
            pr_info!(
                "job {}: done in {} ms, within {} ms: watchdog cancelled\n",
                this.id,
                this.cost_ms,
                this.timeout_ms
            );
        } else {
            pr_info!(
                "job {}: done, {} ms late\n",
                this.id,
                this.cost_ms - this.timeout_ms
            );
        }
    }
}

impl WorkItem<WATCHDOG> for Job {
    type Pointer = Arc<Job>;

    fn run(this: Arc<Job>) {
        this.timed_out.store(true, Ordering::Relaxed);
        pr_info!(
            "job {}: watchdog fired after {} ms: the job is late\n",
            this.id,
            this.timeout_ms
        );
    }
}

/// The device: a queue for jobs and one for their watchdogs.
struct Device {
    jobs: OwnedQueue<kind::Ordered>,
    timeouts: OwnedQueue<kind::Unbound>,
}

impl Device {
    fn new() -> Result<Self> {
        Ok(Self {
            // One job at a time, in submission order.
            jobs: Builder::ordered().build(c"rust_wq_sample_jobs")?,
            timeouts: Builder::unbound().build(c"rust_wq_sample_timeouts")?,
        })
    }

    /// Arms the job's watchdog, then queues the job.
    fn submit(&self, id: u32, cost_ms: u32, timeout_ms: u32) -> Result<Arc<Job>> {
        let job = Arc::pin_init(
            pin_init!(Job {
                id,
                cost_ms,
                timeout_ms,
                timed_out: AtomicBool::new(false),
                fence_lock <- new_spinlock!((), "Job::fence_lock"),
                work <- new_work!("Job::work"),
                watchdog <- new_tracked_delayed_work!("Job::watchdog"),
            }),
            GFP_KERNEL,
        )?;
        let timeout = Delay::from_millis(timeout_ms);
        self.timeouts
            .enqueue_delayed::<_, WATCHDOG>(job.clone(), timeout)
            .map_err(|_| EBUSY)?;
        self.jobs
            .enqueue::<_, RUN>(job.clone())
            .map_err(|_| EBUSY)?;
        pr_info!("job {id}: submitted ({cost_ms} ms of work, {timeout_ms} ms watchdog)\n");
        Ok(job)
    }
}

/// A heartbeat that re-arms itself every jiffy on the watchdog queue, through a handle to it.
#[pin_data(PinnedDrop)]
struct Heartbeat {
    queue: QueueHandle<kind::Unbound>,
    beats: AtomicU32,
    /// Set when a re-arming was refused because the queue was closing.
    refused: AtomicBool,
    #[pin]
    dwork: TrackedDelayedWork<Heartbeat>,
}

impl_has_tracked_delayed_work! {
    impl HasTrackedDelayedWork<Self> for Heartbeat { self.dwork }
}

impl WorkItem for Heartbeat {
    type Pointer = Pin<KBox<Heartbeat>>;

    fn run(this: Pin<KBox<Heartbeat>>) {
        this.beats.fetch_add(1, Ordering::Relaxed);
        // The box goes back on the queue; once the queue's drop has begun, it comes back
        // instead, and is dropped here.
        if let Err((_closing, this)) =
            QueueHandle::requeue_delayed(this, |hb| &hb.queue, Delay::from_jiffies(1))
        {
            this.refused.store(true, Ordering::Relaxed);
        }
    }
}

#[pinned_drop]
impl PinnedDrop for Heartbeat {
    fn drop(self: Pin<&mut Self>) {
        let beats = self.beats.load(Ordering::Relaxed);
        if self.refused.load(Ordering::Relaxed) {
            pr_info!("heartbeat: {beats} beats; its next one was refused by the closing queue\n");
        } else {
            pr_info!("heartbeat: {beats} beats; its armed one was cancelled by the queue's drop\n");
        }
    }
}

struct WqSample {
    /// Held for its drop: the jobs queue waits for the last job (which cancels its own
    /// watchdog), then the timeouts queue cancels whatever is still armed.
    _device: Device,
}

impl kernel::Module for WqSample {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        pr_info!("loaded: an ordered job queue with a watchdog queue\n");
        let device = Device::new()?;

        let quick = device.submit(1, 10, 200)?;
        let slow = device.submit(2, 150, 40)?;
        // Waiting for a job is flushing its work item.
        quick.work.flush();
        slow.work.flush();
        pr_info!(
            "jobs 1 and 2 finished; late: {}, {}\n",
            quick.timed_out.load(Ordering::Relaxed),
            slow.timed_out.load(Ordering::Relaxed)
        );

        // Left pending for the unload to deal with.
        device.submit(3, 300, 1000)?;
        let queue = device.timeouts.handle()?;
        let heartbeat = KBox::pin_init(
            pin_init!(Heartbeat {
                queue,
                beats: AtomicU32::new(0),
                refused: AtomicBool::new(false),
                dwork <- new_tracked_delayed_work!("Heartbeat"),
            }),
            GFP_KERNEL,
        )?;
        device
            .timeouts
            .enqueue_delayed(heartbeat, Delay::ZERO)
            .map_err(|_| EBUSY)?;
        pr_info!("heartbeat started: it re-arms itself every jiffy\n");
        Ok(WqSample { _device: device })
    }
}

impl Drop for WqSample {
    fn drop(&mut self) {
        pr_info!("unloading with job 3 queued and the heartbeat beating\n");
    }
}
