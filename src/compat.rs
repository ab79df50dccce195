// SPDX-License-Identifier: GPL-2.0

//! Kernel-version compatibility, Rust side: the one place that knows how the kernel crate
//! differs between the supported kernels. The C side of it is at the top of
//! `workqueue_helpers.c`.
//!
//! Supported: Linux 7.3 and 7.2 (one kernel crate, for what the library uses) and the 6.12
//! LTS, which `wq_kernel_6` selects (`src/workqueue.mk` sets it from the kernel's version).
//! Code elsewhere takes these names from here instead of from their kernel paths.

use core::ffi::c_void;

use kernel::{
    ffi::c_char,
    sync::LockClassKey,
    types::Opaque, //
};

/// Reference-counted objects and their owning pointer (`kernel::types` before 6.18).
#[cfg(not(wq_kernel_6))]
pub(crate) use kernel::sync::aref::{
    ARef,
    AlwaysRefCounted, //
};
/// Reference-counted objects and their owning pointer (`kernel::types` before 6.18).
#[cfg(wq_kernel_6)]
pub(crate) use kernel::types::{
    ARef,
    AlwaysRefCounted, //
};

/// The C strings of the API: what `c"..."` literals are. The kernel crate's own `CStr` is
/// this type from 6.13 on, and a type of its own on 6.12.
pub(crate) use core::ffi::CStr;

/// The pointer to hand C for a [`CStr`].
#[inline(always)]
pub(crate) fn cstr_ptr(s: &CStr) -> *const c_char {
    #[cfg(not(wq_kernel_6))]
    {
        use kernel::prelude::*;
        s.as_char_ptr()
    }
    #[cfg(wq_kernel_6)]
    {
        // CAST: The kernel's `c_char` and core's have the same size; only the sign differs.
        s.as_ptr().cast()
    }
}

/// The lockdep class keys that `static_lock_class!` makes: pinned from 6.13 on.
#[cfg(not(wq_kernel_6))]
pub(crate) type ClassKey = core::pin::Pin<&'static LockClassKey>;
/// The lockdep class keys that `static_lock_class!` makes: pinned from 6.13 on.
#[cfg(wq_kernel_6)]
pub(crate) type ClassKey = &'static LockClassKey;

/// The `struct lock_class_key *` to hand C for `key`, as a `void *` (see `helpers.rs`).
#[inline(always)]
pub(crate) fn class_key_ptr(key: ClassKey) -> *mut c_void {
    #[cfg(not(wq_kernel_6))]
    let key: &'static LockClassKey = key.get_ref();
    // CAST: `LockClassKey` is `repr(transparent)` over `Opaque<lock_class_key>`, and that over
    // the C struct, on every supported kernel; C only ever writes it through its own locking.
    core::ptr::from_ref(key).cast_mut().cast()
}

/// A kernel `CString` as a [`CStr`].
#[inline]
pub(crate) fn cstring_as_cstr(s: &kernel::str::CString) -> &CStr {
    #[cfg(not(wq_kernel_6))]
    {
        s
    }
    #[cfg(wq_kernel_6)]
    {
        // SAFETY: A `CString` holds one NUL, at its end.
        unsafe { CStr::from_bytes_with_nul_unchecked(s.as_bytes_with_nul()) }
    }
}

/// The C object inside an `Opaque`, by a cast that always inlines. The kernel crate's
/// `Opaque::get` is a shared generic: the compiler calls the kernel crate's copy rather than
/// inlining it, and under emulation every call on a hot path shows. (It is also spelled
/// differently on each kernel: `raw_get` on 6.12, `cast_into` on 7.x.)
#[inline(always)]
pub(crate) const fn opaque_ptr<T>(opaque: *const Opaque<T>) -> *mut T {
    // CAST: `Opaque<T>` is `repr(transparent)` over `UnsafeCell<MaybeUninit<T>>`, which has the
    // layout of `T`.
    opaque.cast_mut().cast()
}

/// A `&'static CStr` from a string literal (or `concat!`/`file!` of them), made at compile
/// time. The kernel crate's `c_str!` makes its own `CStr` type on 6.12.
#[doc(hidden)]
macro_rules! wq_c_str {
    ($s:expr) => {{
        const S: &::core::ffi::CStr =
            match ::core::ffi::CStr::from_bytes_with_nul(::core::concat!($s, "\0").as_bytes()) {
                Ok(s) => s,
                Err(_) => ::core::panic!("a C string literal with a NUL inside"),
            };
        S
    }};
}
pub(crate) use wq_c_str;

/// The name lockdep reports for a work item: the given literal, or `file:line` of the call.
#[doc(hidden)]
macro_rules! wq_optional_name {
    () => {
        $crate::workqueue_lib::compat::wq_c_str!(::core::concat!(
            ::core::file!(),
            ":",
            ::core::line!()
        ))
    };
    ($name:literal) => {
        $crate::workqueue_lib::compat::wq_c_str!($name)
    };
}
pub(crate) use wq_optional_name;

/// The struct holding the field `$field` at `$ptr`: `container_of!` that gives a `*mut` on
/// every kernel (6.12's gives a `*const`).
///
/// # Safety
///
/// Use within `unsafe`: `$ptr` must point at the `$field` of a `$type`.
#[doc(hidden)]
macro_rules! wq_container_of {
    ($ptr:expr, $type:ty, $field:ident) => {
        $ptr.byte_sub(::core::mem::offset_of!($type, $field))
            .cast::<$type>()
    };
}
pub(crate) use wq_container_of;

/// The number of CPU ids the kernel may use: every CPU number is below it.
#[inline]
pub(crate) fn nr_cpu_ids() -> u32 {
    // SAFETY: Reads a kernel variable (or constant).
    unsafe { super::helpers::wq_rs_nr_cpu_ids() }
}
