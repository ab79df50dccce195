// SPDX-License-Identifier: GPL-2.0

//! KUnit suites for the workqueue library; they run when this module is loaded.
//!
//! The library is built into this crate the way a driver builds it in, and the doc examples
//! of `src/` are compiled here too (by `scripts/gen-doctests.py`), next to the library.

use kernel::prelude::*;

#[path = "../src/workqueue.rs"]
mod workqueue;

// Generated: formatted by its generator, not by rustfmt.
#[rustfmt::skip]
#[path = "generated/doctests.rs"]
mod doctests;

mod common;
mod control_tests;
mod model_tests;
mod owned_tests;
mod race_tests;
mod work_tests;

// `make check DEMO=warn` only: a test that passes but makes the kernel warn.
#[cfg(wq_demo_warn)]
#[path = "demo/warn.rs"]
mod demo_warn;

// `make check DEMO=leak` only: a test that passes but leaks an allocation.
#[cfg(wq_demo_leak)]
#[path = "demo/leak.rs"]
mod demo_leak;

module! {
    type: WorkqueueTests,
    name: "rust_wq_test",
    authors: ["The workqueue authors"],
    description: "KUnit tests of the Rust workqueue library",
    license: "GPL",
}

struct WorkqueueTests;

impl kernel::Module for WorkqueueTests {
    fn init(_module: &'static ThisModule) -> Result<Self> {
        Ok(WorkqueueTests)
    }
}
