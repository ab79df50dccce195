// SPDX-License-Identifier: GPL-2.0

//! Scanned for examples only with `make check DEMO=compile-fail`: a `compile_fail` example
//! that compiles, to show that the gate rejects it.
//!
//! ```compile_fail,E0308
//! use crate::gpu::wq::Delay;
//!
//! let _ = Delay::from_millis(10); // Nothing wrong here: this compiles.
//! # Ok::<(), Error>(())
//! ```
