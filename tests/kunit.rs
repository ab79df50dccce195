// SPDX-License-Identifier: GPL-2.0

//! The KUnit glue of the test module, the same on every supported kernel.
//!
//! The suites are registered from C (`scripts/gen-kunit.py` writes the tables and one
//! `extern "C"` function per case), because the kernel crate's `#[kunit_tests]` exists only on
//! newer kernels. Test modules use the assertions below, which report to KUnit with their file
//! and line and end the case, as the kernel crate's own do, instead of panicking.

use core::fmt::Debug;

use kernel::{
    ffi::{
        c_char,
        c_int, //
    },
    prelude::*,
};

use crate::gpu::wq::compat::{
    self,
    CStr, //
};

extern "C" {
    fn wq_test_assert_failed(file: *const c_char, line: c_int, what: *const c_char);
    fn wq_test_case_begin();
    fn wq_test_case_end() -> bool;
}

/// Reports a failed assertion at `file:line`. In the case's own thread it fails and ends the
/// case; in any other thread or context (a test thread, a work item, a timer) it is recorded,
/// and the running case fails when it ends (see `wq_test_assert_failed()`).
pub(crate) fn assert_failed(file: &'static CStr, line: i32, what: &'static CStr) {
    // SAFETY: Both strings are static C strings: the helper may keep them until the case ends.
    unsafe { wq_test_assert_failed(compat::cstr_ptr(file), line, compat::cstr_ptr(what)) }
}

/// `assert!` for test cases: a failure is reported to KUnit, with its location.
macro_rules! kassert {
    ($cond:expr $(,)?) => {
        if !$cond {
            $crate::kunit::assert_failed(
                $crate::gpu::wq::compat::wq_c_str!(::core::file!()),
                ::core::line!() as i32,
                $crate::gpu::wq::compat::wq_c_str!(::core::stringify!($cond)),
            );
        }
    };
}
pub(crate) use kassert;

/// `assert_eq!` for test cases; see [`kassert!`].
macro_rules! kassert_eq {
    ($left:expr, $right:expr $(,)?) => {
        match (&$left, &$right) {
            (left, right) => {
                if !(*left == *right) {
                    ::kernel::pr_err!("    left:  {:?}\n    right: {:?}\n", left, right);
                    $crate::kunit::assert_failed(
                        $crate::gpu::wq::compat::wq_c_str!(::core::file!()),
                        ::core::line!() as i32,
                        $crate::gpu::wq::compat::wq_c_str!(::core::concat!(
                            ::core::stringify!($left),
                            " == ",
                            ::core::stringify!($right)
                        )),
                    );
                }
            }
        }
    };
}
pub(crate) use kassert_eq;

/// `assert_ne!` for test cases; see [`kassert!`].
macro_rules! kassert_ne {
    ($left:expr, $right:expr $(,)?) => {
        $crate::kunit::kassert!($left != $right)
    };
}
pub(crate) use kassert_ne;

/// What a test case returns: nothing, or a `Result` whose `Err` fails it.
pub(crate) trait Outcome {
    /// Whether the case passed; prints why not.
    fn passed(self) -> bool;
}

impl Outcome for () {
    fn passed(self) -> bool {
        true
    }
}

impl<T, E: Debug> Outcome for core::result::Result<T, E> {
    fn passed(self) -> bool {
        match self {
            Ok(_) => true,
            Err(e) => {
                pr_err!("    the case returned {e:?}\n");
                false
            }
        }
    }
}

/// Runs a test case of the suite in `file`.
pub(crate) fn run<R: Outcome>(file: &'static CStr, case: fn() -> R) {
    run_at(file, 0, case)
}

/// Runs a test case written at `file:line` (a doc example).
///
/// The case fails if it returns an error, if an assertion fails in its thread, or if one
/// fails anywhere else while it runs (a thread or work item it started, a timer).
pub(crate) fn run_at<R: Outcome>(file: &'static CStr, line: i32, case: fn() -> R) {
    // SAFETY: Called from the case's thread, as the helper expects.
    unsafe { wq_test_case_begin() };
    let passed = case().passed();
    // SAFETY: As above; it fails the case if another thread's assertion failed meanwhile.
    unsafe { wq_test_case_end() };
    if !passed {
        assert_failed(file, line, c"the case returned an error");
    }
}
