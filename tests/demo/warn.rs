// SPDX-License-Identifier: GPL-2.0

//! Built only with `make check DEMO=warn`: a test that passes but makes the kernel warn, to
//! show that a kernel report fails the run even when every KUnit case passed.

// KUnit suite: workqueue_demo_warn
pub(crate) mod tests {
    #[allow(unused_imports)]
    use crate::kunit::{
        kassert as assert,
        kassert_eq as assert_eq,
        kassert_ne as assert_ne, //
    };

    extern "C" {
        fn wq_test_demo_warn();
    }

    pub(crate) fn passes_but_warns() {
        // SAFETY: Only warns (`WARN_ON(1)`).
        unsafe { wq_test_demo_warn() };
    }
}
