// SPDX-License-Identifier: GPL-2.0

//! Where this crate keeps its GPU plumbing, and mounts the workqueue library: not at the
//! crate root, to show that any module path works.

#[path = "../src/workqueue.rs"]
pub mod wq;
