// SPDX-License-Identifier: GPL-2.0

//! Kernel-version compatibility, Rust side: the one place that knows where kernel items
//! live in each supported kernel. The C side of it is at the top of `workqueue_helpers.c`.
//!
//! Targets: Linux 7.3 (default) and, next, the 6.12 LTS. Code elsewhere imports these names
//! from here instead of from their kernel paths.

/// Reference-counted objects and their owning pointer (in `kernel::types` before 6.18).
pub use kernel::sync::aref::{
    ARef,
    AlwaysRefCounted, //
};

/// The number of CPU ids the kernel may use: every CPU number is below it.
#[inline]
pub(crate) fn nr_cpu_ids() -> u32 {
    kernel::cpu::nr_cpu_ids()
}

/// The C object inside an `Opaque`, by a cast that always inlines. The kernel crate's
/// `Opaque::get` is a shared generic: the compiler calls the kernel crate's copy rather than
/// inlining it, and under emulation every call on a hot path shows. (It is also spelled
/// differently on each kernel: `raw_get` on 6.12, `cast_into` on 7.x.)
#[inline(always)]
pub(crate) const fn opaque_ptr<T>(opaque: *const kernel::types::Opaque<T>) -> *mut T {
    // CAST: `Opaque<T>` is `repr(transparent)` over `UnsafeCell<MaybeUninit<T>>`, which has the
    // layout of `T`.
    opaque.cast_mut().cast()
}
