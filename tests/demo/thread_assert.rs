// SPDX-License-Identifier: GPL-2.0

//! Built only with `make check DEMO=thread-assert`: an assertion that fails in a test thread
//! (a work item of `run_threads`), not in the case's own thread, to show that it fails the
//! case and the run.

// KUnit suite: workqueue_demo_thread_assert
pub(crate) mod tests {
    #[allow(unused_imports)]
    use crate::kunit::{
        kassert as assert,
        kassert_eq as assert_eq,
        kassert_ne as assert_ne, //
    };

    use kernel::{
        prelude::*,
        sync::Arc, //
    };

    use crate::common::run_on_cpus;

    pub(crate) fn an_assertion_failing_in_a_test_thread_fails_the_case() -> Result {
        let answer = Arc::new(41u32, GFP_KERNEL)?;
        run_on_cpus(2, &answer, |v, thread| {
            if thread == 1 {
                assert_eq!(*v, 42);
            }
        })
    }
}
