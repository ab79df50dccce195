// SPDX-License-Identifier: GPL-2.0

//! Built only with `make check DEMO=warn`: a test that passes but makes the kernel warn, to
//! show that a kernel report fails the run even when every KUnit case passed.

#[kernel::prelude::kunit_tests(workqueue_demo_warn)]
mod tests {
    #[test]
    fn passes_but_warns() {
        kernel::warn_on!(true);
    }
}
