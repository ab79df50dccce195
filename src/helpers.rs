// SPDX-License-Identifier: GPL-2.0

//! Declarations of the C helpers in `workqueue_helpers.c`, the only place Rust names them.
//!
//! Each wraps a C macro or inline function that Rust cannot call directly. Lockdep keys are
//! passed as `*mut c_void`: `struct lock_class_key` is empty without `CONFIG_LOCKDEP`, and an
//! `extern` declaration taking a pointer to an empty struct trips `improper_ctypes`.

use kernel::{
    bindings,
    ffi::{
        c_char,
        c_int,
        c_uint,
        c_ulong,
        c_void, //
    },
};

/// `struct wq_rs_gate`, the gate of an owned queue's handles (see `gate.rs`): only ever
/// behind a pointer.
#[repr(C)]
pub(crate) struct wq_rs_gate {
    _opaque: [u8; 0],
}

extern "C" {
    /// `INIT_WORK()` with the given lockdep name and class (a `struct lock_class_key *`).
    pub(crate) fn wq_rs_init_work(
        work: *mut bindings::work_struct,
        func: bindings::work_func_t,
        name: *const c_char,
        key: *mut c_void,
    );

    /// `INIT_DELAYED_WORK()` with lockdep names and classes for the work and its timer.
    pub(crate) fn wq_rs_init_delayed_work(
        dwork: *mut bindings::delayed_work,
        func: bindings::work_func_t,
        name: *const c_char,
        key: *mut c_void,
        timer_name: *const c_char,
        timer_key: *mut c_void,
    );

    /// `alloc_workqueue("%s", flags, max_active, name)`.
    pub(crate) fn wq_rs_alloc_workqueue(
        name: *const c_char,
        flags: c_uint,
        max_active: c_int,
    ) -> *mut bindings::workqueue_struct;

    /// `alloc_ordered_workqueue_lockdep_map("%s", flags, map, name)` with `CONFIG_LOCKDEP`,
    /// `alloc_ordered_workqueue("%s", flags, name)` without (`map` is a `struct lockdep_map *`,
    /// empty without it). `flags` include `WQ_UNBOUND | __WQ_ORDERED`.
    pub(crate) fn wq_rs_alloc_ordered_lockdep_map(
        name: *const c_char,
        flags: c_uint,
        map: *mut c_void,
    ) -> *mut bindings::workqueue_struct;

    /// `lockdep_init_map(map, name, key, 0)` with `CONFIG_LOCKDEP`, nothing without.
    pub(crate) fn wq_rs_lockdep_map_init(map: *mut c_void, name: *const c_char, key: *mut c_void);

    /// `might_sleep()`.
    pub(crate) fn wq_rs_might_sleep();

    /// `init_completion()`.
    pub(crate) fn wq_rs_completion_init(done: *mut bindings::completion);

    /// `WQ_PERCPU` where the kernel has it, else 0.
    pub(crate) fn wq_rs_percpu_flag() -> c_uint;

    /// The address of `system_percpu_wq` where the kernel has it, else of `system_wq`.
    pub(crate) static wq_rs_system_percpu_wq: *const *mut bindings::workqueue_struct;

    /// The address of `system_dfl_wq` where the kernel has it, else of `system_unbound_wq`.
    pub(crate) static wq_rs_system_dfl_wq: *const *mut bindings::workqueue_struct;

    /// `work_pending()`.
    pub(crate) fn wq_rs_work_pending(work: *mut bindings::work_struct) -> bool;

    /// `disable_work()` (`disable_delayed_work()` if `delayed`); returns whether it leaves the
    /// disable count within the library's limit (else the caller undoes it), and in `pending`
    /// whether it took a pending instance.
    pub(crate) fn wq_rs_disable_bounded(
        work: *mut bindings::work_struct,
        delayed: bool,
        pending: *mut bool,
    ) -> bool;

    /// `preempt_disable()`: no CPU can go offline until [`wq_rs_cpus_release`].
    pub(crate) fn wq_rs_cpus_hold();

    /// `preempt_enable()`.
    pub(crate) fn wq_rs_cpus_release();

    /// `nr_cpu_ids`.
    pub(crate) fn wq_rs_nr_cpu_ids() -> c_uint;

    /// `cpu_online()`; `cpu` must be below `nr_cpu_ids`.
    pub(crate) fn wq_rs_cpu_online(cpu: c_uint) -> bool;

    /// `cpu_possible()`; `cpu` must be below `nr_cpu_ids`.
    pub(crate) fn wq_rs_cpu_possible(cpu: c_uint) -> bool;

    /// `raw_spin_lock_init()` with the lockdep class of tracked items' locks.
    pub(crate) fn wq_rs_item_lock_init(lock: *mut bindings::raw_spinlock);

    /// `raw_spin_lock_init()` with the lockdep class of owned queues' registry locks.
    pub(crate) fn wq_rs_registry_lock_init(lock: *mut bindings::raw_spinlock);

    /// `raw_spin_lock_irqsave()`; returns the flags to restore.
    pub(crate) fn wq_rs_raw_spin_lock_irqsave(lock: *mut bindings::raw_spinlock) -> c_ulong;

    /// `raw_spin_unlock_irqrestore()`.
    pub(crate) fn wq_rs_raw_spin_unlock_irqrestore(
        lock: *mut bindings::raw_spinlock,
        flags: c_ulong,
    );

    /// `local_irq_save()`; returns the flags to restore.
    pub(crate) fn wq_rs_local_irq_save() -> c_ulong;

    /// `local_irq_restore()`.
    pub(crate) fn wq_rs_local_irq_restore(flags: c_ulong);

    /// `raw_spin_lock()`.
    pub(crate) fn wq_rs_raw_spin_lock(lock: *mut bindings::raw_spinlock);

    /// `raw_spin_trylock()`.
    pub(crate) fn wq_rs_raw_spin_trylock(lock: *mut bindings::raw_spinlock) -> bool;

    /// `raw_spin_unlock()`.
    pub(crate) fn wq_rs_raw_spin_unlock(lock: *mut bindings::raw_spinlock);

    /// Allocates an open gate with one holder; null if out of memory. Process context.
    pub(crate) fn wq_rs_gate_new() -> *mut wq_rs_gate;

    /// Adds a holder. Any context.
    pub(crate) fn wq_rs_gate_hold(gate: *mut wq_rs_gate);

    /// Drops a holder; the last frees the gate after an RCU grace period. Any context.
    pub(crate) fn wq_rs_gate_release(gate: *mut wq_rs_gate);

    /// Enters the gate if it is open: then the caller is in an RCU read-side section and
    /// holds an entry until [`wq_rs_gate_leave`]. Any context.
    pub(crate) fn wq_rs_gate_enter(gate: *mut wq_rs_gate) -> bool;

    /// Leaves an entry. Any context.
    pub(crate) fn wq_rs_gate_leave(gate: *mut wq_rs_gate);

    /// Closes the gate and waits until no entry is left. Process context.
    pub(crate) fn wq_rs_gate_close(gate: *mut wq_rs_gate);

    /// Opens a closed gate again. Process context.
    pub(crate) fn wq_rs_gate_reopen(gate: *mut wq_rs_gate);

    /// Frees a closed (or never shared) gate's per-CPU count, for good. Process context.
    pub(crate) fn wq_rs_gate_retire(gate: *mut wq_rs_gate);
}
