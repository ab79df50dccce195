// SPDX-License-Identifier: GPL-2.0

//! Work queues: run work items later, in process (or softirq) context, on kernel threads.
//!
//! A work item is a struct with an embedded [`Work`] (or [`DelayedWork`]) field that
//! implements [`WorkItem`]. Queueing it hands its owning pointer (`Arc<T>`, `Pin<KBox<T>>`
//! or `ARef<T>`) to the queue; the queue hands it back to [`WorkItem::run`]. Queueing an item
//! that is already pending hands the pointer straight back to the caller.
//!
//! The names and semantics follow the kernel crate's `kernel::workqueue`, so code moves
//! between the two by changing an import. Beyond it, this library offers:
//!
//! - **Owned queues.** A [`Builder`] creates a queue of one kind (unbound, per-CPU,
//!   ordered, BH, power-efficient) with the modifiers that kind accepts; the
//!   [`OwnedQueue`] it returns destroys the queue when dropped, after everything queued on
//!   it has finished, so unbind or unload can rely on nothing of the driver running later.
//! - **Delayed work on owned queues, sound.** A [`DelayedWork`] may only be armed on queues
//!   that live forever (`&'static Queue`): `destroy_workqueue()` knows nothing of armed
//!   timers. A [`TrackedDelayedWork`] may be armed on an [`OwnedQueue`], which finds it when
//!   dropped, cancels it and releases its owner without waiting out the delay.
//! - **Lifecycle control.** Cancel that returns the owner the queue held, waiting for a
//!   running instance ([`Work::cancel`], [`DelayedWork::cancel`],
//!   [`TrackedDelayedWork::cancel`]) or, in atomic context, not ([`Work::cancel_nowait`]);
//!   flush of an item or a queue, [`OwnedQueue::drain`], re-arming ([`Queue::mod_delayed`]),
//!   per-CPU queueing ([`Queue::enqueue_on`]), and disabling with a guard that enables the
//!   item again, or never ([`Work::disable`], [`Work::disable_nowait`], [`Disabled`],
//!   [`Disabled::forever`]).
//! - **Self-requeueing work.** A [`QueueHandle`] lets an item re-arm itself on its owned
//!   queue without owning it; once the queue's drop has begun, the handle refuses.
//! - **Kernel-crate items** on any queue, owned ones included ([`Queue::enqueue_kernel`]).
//! - **Queue kinds in the types** ([`kind`]): a queue built as, or known to be, BH or
//!   unbound says so in its type, which decides what a CPU number means to it and which
//!   lockdep class its closures get.
//! - **Delays** as jiffies, milliseconds or a time span, through [`Delay`].
//!
//! # Using the library
//!
//! Build `workqueue_helpers.c` into your module, mount this file as a `pub` module at any
//! path of your crate (`pub` makes the API reachable, so the compiler does not call the parts
//! your driver leaves unused dead code), and name that path once at the crate root as
//! `workqueue_lib`, which the macros refer to:
//!
//! ```ignore
//! #[path = "workqueue/src/workqueue.rs"]
//! pub mod workqueue;
//! use workqueue as workqueue_lib;
//! ```
//!
//! The examples here name the library `crate::workqueue`.
//!
//! # Examples
//!
//! A reference-counted item, queued on the system queue:
//!
//! ```
//! use crate::workqueue::{
//!     impl_has_work,
//!     new_work,
//!     system,
//!     Work,
//!     WorkItem, //
//! };
//! use core::sync::atomic::{
//!     AtomicBool,
//!     Ordering, //
//! };
//! use kernel::sync::Arc;
//!
//! #[pin_data]
//! struct Greeter {
//!     name: &'static str,
//!     greeted: AtomicBool,
//!     #[pin]
//!     work: Work<Greeter>,
//! }
//!
//! impl_has_work! {
//!     impl HasWork<Self> for Greeter { self.work }
//! }
//!
//! impl WorkItem for Greeter {
//!     type Pointer = Arc<Greeter>;
//!
//!     fn run(this: Arc<Greeter>) {
//!         pr_info!("hello, {}\n", this.name);
//!         this.greeted.store(true, Ordering::Release);
//!     }
//! }
//!
//! let greeter = Arc::pin_init(
//!     pin_init!(Greeter { name: "world", greeted: AtomicBool::new(false), work <- new_work!() }),
//!     GFP_KERNEL,
//! )?;
//! system().enqueue(greeter.clone()).map_err(|_| EBUSY)?;
//! // Waits for the run, if it has not happened yet.
//! greeter.work.flush();
//! assert!(greeter.greeted.load(Ordering::Acquire));
//! // The queue's reference was dropped after `run`: ours is the only one left.
//! assert!(Arc::into_unique_or_drop(greeter).is_some());
//! # Ok::<(), Error>(())
//! ```
//!
//! A driver-owned, ordered queue with a watchdog armed on it; dropping the queue cancels the
//! watchdog and releases its reference without waiting out the delay:
//!
//! ```
//! use crate::workqueue::{
//!     impl_has_tracked_delayed_work,
//!     new_tracked_delayed_work,
//!     Builder,
//!     Delay,
//!     TrackedDelayedWork,
//!     WorkItem, //
//! };
//! use kernel::sync::Arc;
//!
//! #[pin_data]
//! struct Engine {
//!     #[pin]
//!     hang_check: TrackedDelayedWork<Engine>,
//! }
//!
//! impl_has_tracked_delayed_work! {
//!     impl HasTrackedDelayedWork<Self> for Engine { self.hang_check }
//! }
//!
//! impl WorkItem for Engine {
//!     type Pointer = Arc<Engine>;
//!
//!     fn run(_this: Arc<Engine>) {
//!         pr_warn!("engine hung\n");
//!     }
//! }
//!
//! let queue = Builder::ordered().mem_reclaim().build(c"engine")?;
//! let engine = Arc::pin_init(
//!     pin_init!(Engine { hang_check <- new_tracked_delayed_work!("Engine::hang_check") }),
//!     GFP_KERNEL,
//! )?;
//! assert!(queue.enqueue_delayed(engine.clone(), Delay::from_millis(30_000)).is_ok());
//! drop(queue);
//! assert!(Arc::into_unique_or_drop(engine).is_some());
//! # Ok::<(), Error>(())
//! ```
//!
//! C header: [`include/linux/workqueue.h`](srctree/include/linux/workqueue.h)

mod builder;
pub(crate) mod compat;
mod control;
mod delay;
mod delayed;
mod gate;
mod handle;
mod helpers;
pub mod kind;
mod lockdep;
mod owned;
mod queue;
mod rcu;
mod registry;
mod scope;
mod system;
pub mod tracked;
mod work;

pub use builder::Builder;
pub use control::Disabled;
pub use delay::Delay;
// The macros of the driver API: a driver need not use each.
#[allow(unused_imports)]
pub(crate) use delayed::{
    impl_has_delayed_work,
    new_delayed_work, //
};
pub use delayed::{
    DelayedWork,
    HasDelayedWork,
    RawDelayedWorkItem, //
};
pub use handle::{
    shutdown_error,
    QueueHandle, //
};
// The macros of the driver API: a driver need not use each.
pub use kind::{
    CpuBound,
    HighPri,
    MaxActive,
    Sleepable,
    Tunable, //
};
#[allow(unused_imports)]
pub(crate) use lockdep::new_lockdep_map;
pub use lockdep::LockdepMap;
pub use owned::OwnedQueue;
pub use queue::Queue;
// The macros of the driver API: a driver need not use each.
#[allow(unused_imports)]
pub(crate) use rcu::{
    impl_has_rcu_work,
    new_rcu_work, //
};
pub use rcu::{
    HasRcuWork,
    RawRcuWorkItem,
    RcuWork, //
};
pub use scope::{
    scope,
    Scope, //
};
pub use system::{
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
    system_unbound, //
};
// The macros of the driver API: a driver need not use each.
#[allow(unused_imports)]
pub(crate) use tracked::{
    impl_has_tracked_delayed_work,
    new_tracked_delayed_work, //
};
pub use tracked::{
    HasTrackedDelayedWork,
    RawTrackedDelayedWorkItem,
    TrackedDelayedWork, //
};
// The macros of the driver API: a driver need not use each.
#[allow(unused_imports)]
pub(crate) use work::{
    impl_has_work,
    impl_has_work_in_field,
    new_work, //
};
pub use work::{
    HasUntrackedWork,
    HasWork,
    RawUntrackedWorkItem,
    RawWorkItem,
    Work,
    WorkItem,
    WorkItemPointer,
    WorkItemReclaim, //
};
