// SPDX-License-Identifier: GPL-2.0

//! The kernel's system-wide workqueues.
//!
//! They live as long as the kernel, so they hand out `&'static Queue`, on which delayed work
//! may be queued freely. Where the kernel has `system_percpu_wq` and `system_dfl_wq` (6.17
//! and later), [`system`] and [`system_unbound`] use them: the older `system_wq` and
//! `system_unbound_wq` are deprecated and print a warning when work is queued on them.
//!
//! C header: [`include/linux/workqueue.h`](srctree/include/linux/workqueue.h)

use kernel::bindings;

use super::{
    helpers,
    kind::{
        Bh,
        Kind,
        PerCpu,
        PowerEfficient,
        Unbound, //
    },
    Queue, //
};

/// Returns the queue the C pointer `wq` names.
///
/// # Safety
///
/// `wq` must be one of the kernel's system queues, which are set up at boot and never freed,
/// and be of kind `K`.
#[inline]
unsafe fn system_queue<K: Kind>(wq: *mut bindings::workqueue_struct) -> &'static Queue<K> {
    // SAFETY: By the caller's promise `wq` is valid forever and of kind `K`.
    unsafe { Queue::from_raw_kind(wq) }
}

/// The system per-CPU queue, for short items (`system_percpu_wq`).
///
/// # Examples
///
/// ```
/// use crate::workqueue::system;
///
/// system().try_spawn(GFP_KERNEL, || pr_info!("ran on the system queue\n"))?;
/// system().flush();
/// # Ok::<(), Error>(())
/// ```
#[inline]
pub fn system() -> &'static Queue<PerCpu> {
    // SAFETY: The helper's pointer is the address of a system queue's global, set at boot: a
    // per-CPU queue (not the deprecated one where the kernel has both).
    unsafe { system_queue(*helpers::wq_rs_system_percpu_wq) }
}

/// The system queue for items that must run soon (`system_highpri_wq`).
#[inline]
pub fn system_highpri() -> &'static Queue<PerCpu> {
    // SAFETY: `system_highpri_wq` is a system queue, per-CPU.
    unsafe { system_queue(bindings::system_highpri_wq) }
}

/// The system queue for items that may run for a long time (`system_long_wq`).
#[inline]
pub fn system_long() -> &'static Queue<PerCpu> {
    // SAFETY: `system_long_wq` is a system queue, per-CPU.
    unsafe { system_queue(bindings::system_long_wq) }
}

/// The system queue not bound to any CPU (`system_dfl_wq`).
#[inline]
pub fn system_unbound() -> &'static Queue<Unbound> {
    // SAFETY: As for `system`, an unbound queue (not the deprecated one where possible).
    unsafe { system_queue(*helpers::wq_rs_system_dfl_wq) }
}

/// The system queue frozen during suspend (`system_freezable_wq`).
#[inline]
pub fn system_freezable() -> &'static Queue<PerCpu> {
    // SAFETY: `system_freezable_wq` is a system queue, per-CPU.
    unsafe { system_queue(bindings::system_freezable_wq) }
}

/// The system queue that trades locality for power (`system_power_efficient_wq`).
#[inline]
pub fn system_power_efficient() -> &'static Queue<PowerEfficient> {
    // SAFETY: `system_power_efficient_wq` is a system queue, power-efficient.
    unsafe { system_queue(bindings::system_power_efficient_wq) }
}

/// The freezable power-efficient system queue (`system_freezable_power_efficient_wq`).
#[inline]
pub fn system_freezable_power_efficient() -> &'static Queue<PowerEfficient> {
    // SAFETY: `system_freezable_power_efficient_wq` is a system queue, power-efficient.
    unsafe { system_queue(bindings::system_freezable_power_efficient_wq) }
}

/// The system queue that runs items in softirq context (`system_bh_wq`).
///
/// Its items must not sleep.
#[inline]
pub fn system_bh() -> &'static Queue<Bh> {
    // SAFETY: `system_bh_wq` is a system queue, BH.
    unsafe { system_queue(bindings::system_bh_wq) }
}

/// The high-priority softirq system queue (`system_bh_highpri_wq`).
#[inline]
pub fn system_bh_highpri() -> &'static Queue<Bh> {
    // SAFETY: `system_bh_highpri_wq` is a system queue, BH.
    unsafe { system_queue(bindings::system_bh_highpri_wq) }
}

/// The per-CPU system queue (`system_percpu_wq`); the same queue as [`system`].
#[inline]
pub fn system_percpu() -> &'static Queue<PerCpu> {
    system()
}

/// The default unbound system queue (`system_dfl_wq`); the same queue as [`system_unbound`].
#[inline]
pub fn system_dfl() -> &'static Queue<Unbound> {
    system_unbound()
}
