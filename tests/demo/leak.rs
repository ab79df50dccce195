// SPDX-License-Identifier: GPL-2.0

//! Built only with `make check DEMO=leak`: a test that passes but leaks an allocation, to show
//! that the leak scan at the end of the boot fails the run.

// KUnit suite: workqueue_demo_leak
pub(crate) mod tests {
    #[allow(unused_imports)]
    use crate::kunit::{
        kassert as assert,
        kassert_eq as assert_eq,
        kassert_ne as assert_ne, //
    };

    use kernel::prelude::*;

    pub(crate) fn passes_but_leaks() -> Result {
        // Many, so that stale copies of the last pointer (on a stack, in a register) cannot
        // hide them all from the scan.
        for i in 0..64u8 {
            let lost = KBox::new([i; 256], GFP_KERNEL)?;
            let _ = KBox::into_raw(lost);
        }
        Ok(())
    }
}
