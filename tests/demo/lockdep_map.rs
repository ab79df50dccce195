// SPDX-License-Identifier: GPL-2.0

//! Built only with `make check DEMO=lockdep-map`: a lock order that lockdep must report
//! through a lockdep map shared by two ordered queues, to show that the map reaches lockdep.

// KUnit suite: workqueue_demo_lockdep_map
pub(crate) mod tests {
    #[allow(unused_imports)]
    use crate::kunit::{
        kassert as assert,
        kassert_eq as assert_eq,
        kassert_ne as assert_ne, //
    };

    use kernel::{
        new_mutex,
        prelude::*,
        sync::Arc, //
    };

    use crate::gpu::wq::{
        new_lockdep_map,
        Builder, //
    };

    /// An item on ring 0 takes `fence_lock` (map, then lock); the thread then flushes ring 1
    /// while holding `fence_lock` (lock, then map). No deadlock happens: ring 0's item is done
    /// before. But the two orders make a cycle through the shared map, which lockdep reports
    /// ("possible circular locking dependency"), and a report fails the run.
    pub(crate) fn a_lock_held_around_a_flush_and_taken_by_an_item_is_reported() -> Result {
        let map = Arc::pin_init(new_lockdep_map!("wq_rs_demo_submit"), GFP_KERNEL)?;
        let ring0 = Builder::ordered()
            .lockdep_map(map.clone())
            .build(c"wq_rs_demo_ring0")?;
        let ring1 = Builder::ordered()
            .lockdep_map(map)
            .build(c"wq_rs_demo_ring1")?;
        let fence_lock = Arc::pin_init(new_mutex!((), "demo::fence_lock"), GFP_KERNEL)?;
        let lock = fence_lock.clone();
        ring0.try_spawn(GFP_KERNEL, move || drop(lock.lock()))?;
        ring0.flush();
        {
            let _held = fence_lock.lock();
            ring1.flush();
        }
        Ok(())
    }
}
