// SPDX-License-Identifier: GPL-2.0

//! Built only with `make check DEMO=leak`: a test that passes but leaks an allocation, to show
//! that the leak scan at the end of the boot fails the run.

#[kernel::prelude::kunit_tests(workqueue_demo_leak)]
mod tests {
    use kernel::prelude::*;

    #[test]
    fn passes_but_leaks() -> Result {
        // Many, so that stale copies of the last pointer (on a stack, in a register) cannot
        // hide them all from the scan.
        for i in 0..64u8 {
            let lost = KBox::new([i; 256], GFP_KERNEL)?;
            let _ = KBox::into_raw(lost);
        }
        Ok(())
    }
}
