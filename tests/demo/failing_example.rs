// SPDX-License-Identifier: GPL-2.0

//! Scanned for examples only with `make check DEMO=example`: a doc example that fails, to
//! show that the doctest pipeline reports it with its file and line.
//!
//! ```
//! let answer = 6 * 7;
//! assert_eq!(answer, 43);
//! ```
