// SPDX-License-Identifier: GPL-2.0

//! Built only with `make check DEMO=data-race`: plain C accesses to one counter from four
//! CPUs at once, a data race that passes everywhere but the kcsan flavour's boot, where
//! KCSAN reports it and the console scan fails the run. It shows that the kcsan boot can fail.

// KUnit suite: workqueue_demo_data_race
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

    use crate::common::{
        run_on_cpus,
        TEST_CPUS, //
    };

    extern "C" {
        fn wq_test_demo_data_race(rounds: core::ffi::c_uint);
    }

    pub(crate) fn plain_c_accesses_racing_on_every_cpu() -> Result {
        let rounds = Arc::new(20_000u32, GFP_KERNEL)?;
        run_on_cpus(TEST_CPUS, &rounds, |rounds, _| {
            // SAFETY: Increments a counter that the function owns, racily on purpose: a data
            // race on an `unsigned long`, which is the demonstration, and no memory error.
            unsafe { wq_test_demo_data_race(*rounds) };
        })
    }
}
