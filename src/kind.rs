// SPDX-License-Identifier: GPL-2.0

//! The kinds of workqueue, as type-level markers: what a queue is decides where its items run
//! and what a CPU number means to it.
//!
//! A [`Builder`](super::Builder) of kind `K` builds an [`OwnedQueue<K>`](super::OwnedQueue),
//! which dereferences to [`Queue<K>`](super::Queue); the system queues are typed the same way
//! ([`system_unbound`](super::system_unbound) is a `&'static Queue<Unbound>`). A queue whose
//! kind is not known, such as one borrowed from the kernel crate or from C, is a
//! `Queue<Any>`, which is what plain `Queue` means; every typed queue dereferences to it.
//!
//! The kind decides, at compile time, where items run, what a CPU number means, and what is
//! offered:
//!
//! | kind | items run in | `enqueue_on(cpu, ..)` | `enqueue_delayed_on` | `try_spawn` |
//! | --- | --- | --- | --- | --- |
//! | [`Unbound`] | task context, on any CPU | a hint: any possible CPU, online or not | yes | yes |
//! | [`Ordered`] | task context, one at a time | a hint, as for `Unbound` | yes | yes |
//! | [`PerCpu`] | task context, on the CPU they were queued for | the CPU must be online | yes | yes |
//! | [`PowerEfficient`] | task context; per-CPU unless the kernel runs these queues unbound | the CPU must be online | yes | yes |
//! | [`Bh`] | softirq context, on the CPU they were queued for | the CPU must be online | no | yes |
//! | [`Any`] | task context assumed | the CPU must be online | no | no |
//!
//! **CPU hotplug.** The `*_on` functions check the CPU and queue (or arm) with preemption off,
//! so the CPU cannot go offline in between. If it goes offline afterwards:
//!
//! - an item queued for it but not started runs on another CPU: a per-CPU pool whose CPU
//!   went down hands its items to workers that are no longer bound, and a BH pool's items are
//!   run by the CPU that takes the dead one down (`workqueue_softirq_dead()`);
//! - a timer armed on it moves to another CPU and fires there, and C queues the item for the
//!   CPU it was armed for: on every kind but BH the queue's pool for that CPU (for unbound and
//!   ordered queues, whichever C keeps for it) runs it elsewhere, as above;
//!   on a BH queue it would be stranded until the CPU returns (C warns, in
//!   `irq_work_queue_on()`), which is why BH queues, and queues of unknown kind, which may be
//!   BH, do not offer `enqueue_delayed_on` ([`TimerOnCpu`]).
//!
//! Delayed items always need an online CPU for `enqueue_delayed_on`: the timer is put on that
//! CPU, and C warns when it is offline.
//!
//! A BH queue's closures (`try_spawn`) run in softirq context and need a lockdep class of
//! their own, which only the type can tell: a queue of unknown kind does not offer it.
//!
//! # Examples
//!
//! ```
//! use crate::workqueue::{
//!     kind,
//!     system_unbound,
//!     Builder,
//!     OwnedQueue,
//!     Queue, //
//! };
//!
//! let io: OwnedQueue<kind::PerCpu> = Builder::percpu().build(c"kind-example")?;
//! let _typed: &Queue<kind::PerCpu> = &io;
//! // Every typed queue is also a queue of unknown kind.
//! let _any: &Queue = &io;
//! let _unbound: &'static Queue<kind::Unbound> = system_unbound();
//! # Ok::<(), Error>(())
//! ```

/// Not bound to any CPU (`WQ_UNBOUND`).
pub struct Unbound;
/// Bound to the CPU that queues the item (`WQ_PERCPU`).
pub struct PerCpu;
/// One item at a time, in queueing order (`alloc_ordered_workqueue()`).
pub struct Ordered;
/// Runs items in softirq context, which must not sleep (`WQ_BH`).
pub struct Bh;
/// Per-CPU, unless the kernel runs power-efficient queues unbound (`WQ_POWER_EFFICIENT`).
pub struct PowerEfficient;
/// A queue whose kind is not known: borrowed from the kernel crate or from C.
pub struct Any;

/// What a kind means to the operations of a queue. Sealed: only the kinds above have it.
pub trait Kind: private::Sealed + Send + Sync + 'static {
    /// Whether the queue runs its items in softirq context, as far as the type tells.
    const SOFTIRQ: bool;
    /// Whether a CPU given to `enqueue_on` is only a hint, so an offline one will do.
    const CPU_IS_A_HINT: bool;
    /// Whether the type tells the kind at all (everything but [`Any`]).
    const KNOWN: bool;
}

/// The kinds a queue can be built as: every kind but [`Any`]. Sealed.
pub trait Known: Kind {}

/// The kinds on which an item armed with a timer on a CPU still runs if that CPU goes
/// offline before the timer fires: every known kind but [`Bh`] (see the
/// [module documentation](self)). Sealed.
pub trait TimerOnCpu: Known {}

mod private {
    /// Keeps [`Kind`](super::Kind) to the kinds defined here.
    pub trait Sealed {}
    impl Sealed for super::Unbound {}
    impl Sealed for super::PerCpu {}
    impl Sealed for super::Ordered {}
    impl Sealed for super::Bh {}
    impl Sealed for super::PowerEfficient {}
    impl Sealed for super::Any {}
}

impl Kind for Unbound {
    const SOFTIRQ: bool = false;
    const CPU_IS_A_HINT: bool = true;
    const KNOWN: bool = true;
}

impl Kind for Ordered {
    const SOFTIRQ: bool = false;
    const CPU_IS_A_HINT: bool = true;
    const KNOWN: bool = true;
}

impl Kind for PerCpu {
    const SOFTIRQ: bool = false;
    const CPU_IS_A_HINT: bool = false;
    const KNOWN: bool = true;
}

impl Kind for PowerEfficient {
    const SOFTIRQ: bool = false;
    // Whether the kernel runs these queues unbound is a boot parameter: assume per-CPU.
    const CPU_IS_A_HINT: bool = false;
    const KNOWN: bool = true;
}

impl Kind for Bh {
    const SOFTIRQ: bool = true;
    const CPU_IS_A_HINT: bool = false;
    const KNOWN: bool = true;
}

impl Kind for Any {
    const SOFTIRQ: bool = false;
    const CPU_IS_A_HINT: bool = false;
    const KNOWN: bool = false;
}

impl Known for Unbound {}
impl Known for Ordered {}
impl Known for PerCpu {}
impl Known for PowerEfficient {}
impl Known for Bh {}

impl TimerOnCpu for Unbound {}
impl TimerOnCpu for Ordered {}
impl TimerOnCpu for PerCpu {}
impl TimerOnCpu for PowerEfficient {}

/// Kinds that take a `max_active` limit.
///
/// The modifier traits ([`MaxActive`], [`Sleepable`], [`Tunable`], [`CpuBound`],
/// [`HighPri`]) are sealed (each requires [`Known`], which is): they say which kinds accept which modifiers, and only this
/// library implements them. They let generic code ask for a capability.
///
/// # Examples
///
/// ```
/// use crate::workqueue::{
///     Builder,
///     MaxActive, //
/// };
///
/// fn at_most_two<K: MaxActive>(b: Builder<K>) -> Builder<K> {
///     b.max_active(2)
/// }
///
/// let _q = at_most_two(Builder::unbound()).build(c"example-two")?;
/// let _p = at_most_two(Builder::power_efficient()).build(c"example-two-pe")?;
/// # Ok::<(), Error>(())
/// ```
pub trait MaxActive: Known {}
/// Kinds that take `WQ_FREEZABLE` and `WQ_MEM_RECLAIM` (all but BH); see [`MaxActive`].
pub trait Sleepable: Known {}
/// Kinds that can be exposed in sysfs (not ordered, not BH); see [`MaxActive`].
pub trait Tunable: Known {}
/// Kinds for which `WQ_CPU_INTENSIVE` means something (the per-CPU ones); see
/// [`MaxActive`].
pub trait CpuBound: Known {}
/// Kinds that take `WQ_HIGHPRI` (all of them: `alloc_ordered_workqueue(name, WQ_HIGHPRI)` is
/// valid C too); see [`MaxActive`].
pub trait HighPri: Known {}

impl MaxActive for Unbound {}
impl MaxActive for PerCpu {}
impl MaxActive for PowerEfficient {}
impl Sleepable for Unbound {}
impl Sleepable for PerCpu {}
impl Sleepable for Ordered {}
impl Sleepable for PowerEfficient {}
impl Tunable for Unbound {}
impl Tunable for PerCpu {}
impl Tunable for PowerEfficient {}
impl CpuBound for PerCpu {}
impl CpuBound for PowerEfficient {}
impl HighPri for Unbound {}
impl HighPri for PerCpu {}
impl HighPri for Ordered {}
impl HighPri for PowerEfficient {}
impl HighPri for Bh {}
