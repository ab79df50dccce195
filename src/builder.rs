// SPDX-License-Identifier: GPL-2.0

//! Creating workqueues: one entry point per kind, with the modifiers that kind accepts.
//!
//! C header: [`include/linux/workqueue.h`](srctree/include/linux/workqueue.h)

use core::{
    fmt,
    marker::PhantomData,
    ptr::NonNull, //
};

use kernel::{
    alloc::AllocError,
    bindings,
    ffi::c_int,
    prelude::*,
    str::CString,
    sync::Arc, //
};

use super::{
    compat::{
        self,
        CStr, //
    },
    helpers,
    kind::{
        Bh,
        CpuBound,
        HighPri,
        Known,
        MaxActive,
        Ordered,
        PerCpu,
        PowerEfficient,
        Sleepable,
        Tunable,
        Unbound, //
    },
    LockdepMap,
    OwnedQueue, //
};

/// Builds an [`OwnedQueue`] of kind `K`.
///
/// Each kind (see [`kind`](super::kind)) has its entry point, and offers only the modifiers
/// the C side accepts for it: a BH queue takes only [`highpri`](Builder::highpri), an ordered
/// queue has no [`max_active`](Builder::max_active) (it is 1) and takes only
/// [`freezable`](Builder::freezable), [`mem_reclaim`](Builder::mem_reclaim) and
/// [`highpri`](Builder::highpri). The queue built is an [`OwnedQueue<K>`](OwnedQueue) of the
/// builder's kind. Other combinations do not compile (each of these is checked to be
/// rejected):
///
/// ```compile_fail,E0599
/// # use crate::workqueue::Builder;
/// let _ = Builder::bh().freezable(); // BH queues take only `highpri`.
/// ```
///
/// ```compile_fail,E0599
/// # use crate::workqueue::Builder;
/// let _ = Builder::bh().max_active(1); // BH queues have no `max_active`.
/// ```
///
/// ```compile_fail,E0599
/// # use crate::workqueue::Builder;
/// let _ = Builder::ordered().max_active(2); // Ordered means one at a time.
/// ```
///
/// ```compile_fail,E0599
/// # use crate::workqueue::Builder;
/// let _ = Builder::ordered().sysfs(); // Ordered queues cannot be tuned through sysfs.
/// ```
///
/// ```compile_fail,E0599
/// # use crate::workqueue::Builder;
/// let _ = Builder::unbound().cpu_intensive(); // Meaningless without a CPU.
/// ```
///
/// # Examples
///
/// ```
/// use crate::workqueue::Builder;
///
/// let io = Builder::percpu().mem_reclaim().highpri().max_active(8).build(c"mydrv-io")?;
/// let jobs = Builder::ordered().freezable().build_fmt(format_args!("mydrv-jobs-{}", 3))?;
/// let reset = Builder::ordered().highpri().mem_reclaim().build(c"mydrv-reset")?;
/// let bottom = Builder::bh().highpri().build(c"mydrv-bh")?;
/// let lazy = Builder::power_efficient().build(c"mydrv-lazy")?;
/// let any = Builder::unbound().sysfs().build(c"mydrv-any")?;
/// # drop((io, jobs, reset, bottom, lazy, any));
/// # Ok::<(), Error>(())
/// ```
pub struct Builder<K> {
    flags: u32,
    max_active: c_int,
    /// The map the queue's work runs under, if not its own (ordered queues only).
    lockdep_map: Option<Arc<LockdepMap>>,
    _kind: PhantomData<K>,
}

impl<K: Known> Builder<K> {
    #[inline]
    fn with_flags(flags: u32, max_active: c_int) -> Self {
        Self {
            flags,
            max_active,
            lockdep_map: None,
            _kind: PhantomData,
        }
    }

    #[inline]
    fn flag(mut self, flag: u32) -> Self {
        self.flags |= flag;
        self
    }

    /// Creates the queue, named `name`.
    ///
    /// As in C, a name longer than 31 bytes (`WQ_NAME_LEN` - 1) is truncated, and the kernel
    /// logs "workqueue: name exceeds WQ_NAME_LEN".
    pub fn build(self, name: &CStr) -> Result<OwnedQueue<K>, AllocError> {
        let name = compat::cstr_ptr(name);
        // SAFETY: `name` is a valid C string, copied by the call; the flags are a valid
        // combination for the kind, by construction of the builder. A map is only set on an
        // ordered builder, whose flags are `WQ_UNBOUND | __WQ_ORDERED` and modifiers; the map
        // is initialised, and `from_raw` keeps its `Arc` until the queue is destroyed, on its
        // failure path too, so it outlives the queue.
        let wq = unsafe {
            match &self.lockdep_map {
                Some(map) => {
                    helpers::wq_rs_alloc_ordered_lockdep_map(name, self.flags, map.as_raw())
                }
                None => helpers::wq_rs_alloc_workqueue(name, self.flags, self.max_active),
            }
        };
        let wq = NonNull::new(wq).ok_or(AllocError)?;
        // SAFETY: The queue was just created, of kind `K` (each kind's entry point sets its
        // flags); nobody else has it. Its map, if any, is handed over with it.
        unsafe { OwnedQueue::from_raw(wq, self.lockdep_map) }
    }

    /// Creates the queue, with a formatted name (see [`Builder::build`] on its length).
    pub fn build_fmt(self, name: fmt::Arguments<'_>) -> Result<OwnedQueue<K>, AllocError> {
        let name = CString::try_from_fmt(name).map_err(|_| AllocError)?;
        self.build(compat::cstring_as_cstr(&name))
    }
}

fn percpu_flag() -> u32 {
    // SAFETY: Returns a constant.
    unsafe { helpers::wq_rs_percpu_flag() }
}

impl Builder<Unbound> {
    /// A queue whose items may run on any CPU (`WQ_UNBOUND`).
    #[inline]
    pub fn unbound() -> Self {
        Self::with_flags(bindings::wq_flags_WQ_UNBOUND, 0)
    }
}

impl Builder<PerCpu> {
    /// A queue whose items run on the CPU they were queued on (`WQ_PERCPU`).
    #[inline]
    pub fn percpu() -> Self {
        Self::with_flags(percpu_flag(), 0)
    }
}

impl Builder<Ordered> {
    /// A queue that runs one item at a time, in the order they were queued.
    #[inline]
    pub fn ordered() -> Self {
        Self::with_flags(
            bindings::wq_flags_WQ_UNBOUND | bindings::wq_flags___WQ_ORDERED,
            1,
        )
    }

    /// Runs the queue's work under `map` instead of a map of its own
    /// (`alloc_ordered_workqueue_lockdep_map()`): queues that share a map are one lock to
    /// lockdep. The queue keeps the `Arc`, so the map lives as long as the queue. Without
    /// `CONFIG_LOCKDEP` the map is empty and ignored.
    ///
    /// # Examples
    ///
    /// See [`LockdepMap`].
    #[inline]
    pub fn lockdep_map(mut self, map: Arc<LockdepMap>) -> Self {
        self.lockdep_map = Some(map);
        self
    }
}

impl Builder<Bh> {
    /// A queue that runs items in softirq (bottom-half) context: items must not sleep.
    #[inline]
    pub fn bh() -> Self {
        Self::with_flags(bindings::wq_flags_WQ_BH | percpu_flag(), 0)
    }
}

impl Builder<PowerEfficient> {
    /// A per-CPU queue that the kernel may run unbound to save power
    /// (`WQ_POWER_EFFICIENT`).
    #[inline]
    pub fn power_efficient() -> Self {
        Self::with_flags(bindings::wq_flags_WQ_POWER_EFFICIENT | percpu_flag(), 0)
    }
}

impl<K: MaxActive> Builder<K> {
    /// Allows at most `n` items of the queue to run at once (per CPU for per-CPU queues).
    ///
    /// 0 means the default (`WQ_DFL_ACTIVE`, half of `WQ_MAX_ACTIVE`). As in C, a value above
    /// `WQ_MAX_ACTIVE` (2048 on 7.x, 512 on 6.12) is clamped to it, and the kernel logs
    /// "max_active ... is out of range".
    #[inline]
    pub fn max_active(mut self, n: u32) -> Self {
        self.max_active = c_int::try_from(n).unwrap_or(c_int::MAX);
        self
    }
}

impl<K: Sleepable> Builder<K> {
    /// Freezes the queue during system suspend (`WQ_FREEZABLE`).
    #[inline]
    pub fn freezable(self) -> Self {
        self.flag(bindings::wq_flags_WQ_FREEZABLE)
    }

    /// Guarantees progress under memory pressure with a rescuer thread (`WQ_MEM_RECLAIM`):
    /// required for queues used on the memory-reclaim path.
    #[inline]
    pub fn mem_reclaim(self) -> Self {
        self.flag(bindings::wq_flags_WQ_MEM_RECLAIM)
    }
}

impl<K: Tunable> Builder<K> {
    /// Exposes the queue under `/sys/devices/virtual/workqueue/<name>/` (`WQ_SYSFS`).
    #[inline]
    pub fn sysfs(self) -> Self {
        self.flag(bindings::wq_flags_WQ_SYSFS)
    }
}

impl<K: HighPri> Builder<K> {
    /// Runs items on high-priority workers (`WQ_HIGHPRI`).
    #[inline]
    pub fn highpri(self) -> Self {
        self.flag(bindings::wq_flags_WQ_HIGHPRI)
    }
}

impl<K: CpuBound> Builder<K> {
    /// Keeps long, CPU-hungry items from delaying others on their CPU
    /// (`WQ_CPU_INTENSIVE`).
    #[inline]
    pub fn cpu_intensive(self) -> Self {
        self.flag(bindings::wq_flags_WQ_CPU_INTENSIVE)
    }
}
