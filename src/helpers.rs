// SPDX-License-Identifier: GPL-2.0

//! Declarations of the C helpers in `workqueue_helpers.c`, the only place Rust names them.
//!
//! Each wraps a C macro or inline function that Rust cannot call directly.

use kernel::{
    bindings,
    ffi::{
        c_char,
        c_int,
        c_uint,
        c_ulong, //
    },
};

extern "C" {
    /// `INIT_WORK()` with the given lockdep name and class.
    pub(crate) fn wq_rs_init_work(
        work: *mut bindings::work_struct,
        func: bindings::work_func_t,
        name: *const c_char,
        key: *mut bindings::lock_class_key,
    );

    /// `INIT_DELAYED_WORK()` with lockdep names and classes for the work and its timer.
    pub(crate) fn wq_rs_init_delayed_work(
        dwork: *mut bindings::delayed_work,
        func: bindings::work_func_t,
        name: *const c_char,
        key: *mut bindings::lock_class_key,
        timer_name: *const c_char,
        timer_key: *mut bindings::lock_class_key,
    );

    /// `alloc_workqueue("%s", flags, max_active, name)`.
    pub(crate) fn wq_rs_alloc_workqueue(
        name: *const c_char,
        flags: c_uint,
        max_active: c_int,
    ) -> *mut bindings::workqueue_struct;

    /// `WQ_PERCPU` where the kernel has it, else 0.
    pub(crate) fn wq_rs_percpu_flag() -> c_uint;

    /// `system_percpu_wq` where the kernel has it, else `system_wq`.
    pub(crate) fn wq_rs_system_percpu() -> *mut bindings::workqueue_struct;

    /// `system_dfl_wq` where the kernel has it, else `system_unbound_wq`.
    pub(crate) fn wq_rs_system_dfl() -> *mut bindings::workqueue_struct;

    /// `work_pending()`.
    pub(crate) fn wq_rs_work_pending(work: *mut bindings::work_struct) -> bool;

    /// `cpu_online()`.
    pub(crate) fn wq_rs_cpu_online(cpu: c_int) -> bool;

    /// Takes the lock of the armed-item registries; returns the saved interrupt flags.
    pub(crate) fn wq_rs_track_lock() -> c_ulong;

    /// Releases the lock of the armed-item registries.
    pub(crate) fn wq_rs_track_unlock(flags: c_ulong);
}
