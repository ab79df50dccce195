// SPDX-License-Identifier: GPL-2.0

//! A lockdep map that the work of ordered queues runs under, so that lockdep sees through the
//! queues what their items depend on: drm_sched's submit queues are built so, with one map
//! for them all, so that lockdep sees dma-fence signalling through any of them.
//!
//! C header: [`include/linux/workqueue.h`](srctree/include/linux/workqueue.h)

use kernel::{
    bindings,
    prelude::*,
    types::Opaque, //
};

use super::{
    compat::{
        self,
        CStr,
        ClassKey, //
    },
    helpers,
};

/// Creates a [`LockdepMap`] initialiser named `$name`, with a lockdep class of its own for this
/// call site.
///
/// # Examples
///
/// See [`LockdepMap`].
// The library is built into the driver's crate, where its macros are crate-visible, not
// exported; its documentation shows them as the driver's crate sees them.
#[cfg_attr(doc, macro_export)]
// Driver API: a driver need not use every macro.
#[allow(unused_macros)]
macro_rules! new_lockdep_map {
    ($name:literal) => {
        $crate::workqueue_lib::LockdepMap::new(
            $crate::workqueue_lib::compat::wq_c_str!($name),
            ::kernel::static_lock_class!(),
        )
    };
}
pub(crate) use new_lockdep_map;

/// A `struct lockdep_map`: a lock as lockdep sees it, taken by whoever runs or waits for the
/// work of the queues built with it ([`Builder::lockdep_map`](super::Builder::lockdep_map)).
///
/// Every item of such a queue runs under the map, and every flush of the queue (the drop's
/// too) takes it: a lock that an item takes and that is held around a flush is reported as a
/// possible deadlock, across all the queues that share the map. Without `CONFIG_LOCKDEP` it
/// is empty, and the queues are plain ordered queues.
///
/// A queue keeps an `Arc` of its map, so the map lives at least as long as the queue.
///
/// # Invariants
///
/// `map` was initialised by `lockdep_init_map()` with a `'static` name and class.
///
/// # Examples
///
/// Two submit queues sharing one map, as drm_sched's do:
///
/// ```
/// use crate::workqueue::{
///     new_lockdep_map,
///     Builder,
///     LockdepMap, //
/// };
/// use kernel::sync::Arc;
///
/// let map = Arc::pin_init(new_lockdep_map!("mydrv_submit"), GFP_KERNEL)?;
/// let ring0 = Builder::ordered().mem_reclaim().lockdep_map(map.clone()).build(c"ring0")?;
/// let ring1 = Builder::ordered().mem_reclaim().lockdep_map(map).build(c"ring1")?;
/// ring0.try_spawn(GFP_KERNEL, || pr_info!("job on ring 0\n"))?;
/// ring1.try_spawn(GFP_KERNEL, || pr_info!("job on ring 1\n"))?;
/// # Ok::<(), Error>(())
/// ```
#[pin_data]
pub struct LockdepMap {
    #[pin]
    map: Opaque<bindings::lockdep_map>,
}

// SAFETY: lockdep synchronises every use of a map itself; nothing here is thread-bound.
unsafe impl Send for LockdepMap {}
// SAFETY: As above: `&LockdepMap` only hands the map to C.
unsafe impl Sync for LockdepMap {}

impl LockdepMap {
    /// Creates an initialiser for a map named `name`, of lockdep class `key`. Prefer
    /// [`new_lockdep_map!`].
    pub fn new(name: &'static CStr, key: ClassKey) -> impl PinInit<Self> {
        pin_init!(Self {
            map <- Opaque::ffi_init(|slot: *mut bindings::lockdep_map| {
                // SAFETY: `slot` is valid for writes and pinned; the name and key are
                // `'static`, as lockdep keeps both.
                // INVARIANT: Initialised by `lockdep_init_map()`.
                unsafe {
                    helpers::wq_rs_lockdep_map_init(
                        slot.cast(),
                        compat::cstr_ptr(name),
                        compat::class_key_ptr(key),
                    )
                }
            }),
        })
    }

    /// The map, for C.
    pub(crate) fn as_raw(&self) -> *mut core::ffi::c_void {
        compat::opaque_ptr(&self.map).cast()
    }
}
