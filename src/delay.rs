// SPDX-License-Identifier: GPL-2.0

//! How long a delayed item waits before it is queued.

#[cfg(not(wq_kernel_6))]
use kernel::time::Delta;
use kernel::time::{
    msecs_to_jiffies,
    Jiffies, //
};

/// A delay before a delayed work item is queued, held in jiffies, the timer's unit.
///
/// Every API that takes a delay takes `impl Into<Delay>`, so a delay can be given as
/// [`Jiffies`] (as in the kernel's own `workqueue` module), as milliseconds through
/// [`Delay::from_millis`], or, on kernels whose crate has `kernel::time::Delta` (6.13 and
/// later), as a `Delta` time span. Time spans are rounded up to whole jiffies, so an item
/// never runs before the span has passed; negative spans count as zero.
///
/// # Examples
///
/// ```
/// use crate::workqueue::Delay;
/// use kernel::time::msecs_to_jiffies;
///
/// assert_eq!(Delay::from(5 as kernel::time::Jiffies).as_jiffies(), 5);
/// assert_eq!(Delay::from_millis(20).as_jiffies(), msecs_to_jiffies(20));
/// assert_eq!(Delay::ZERO.as_jiffies(), 0);
/// ```
///
/// From a time span:
///
/// ```
/// # #[cfg(not(wq_kernel_6))]
/// # {
/// use crate::workqueue::Delay;
/// use kernel::time::{
///     msecs_to_jiffies,
///     Delta, //
/// };
///
/// assert_eq!(Delay::from(Delta::from_millis(20)).as_jiffies(), msecs_to_jiffies(20));
/// // A nanosecond still waits for one jiffy; nothing waits for less than nothing.
/// assert_eq!(Delay::from(Delta::from_nanos(1)).as_jiffies(), 1);
/// assert_eq!(Delay::from(Delta::from_millis(-3)).as_jiffies(), 0);
/// # }
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Delay(Jiffies);

impl Delay {
    /// No delay: the item is queued at once.
    pub const ZERO: Self = Self(0);

    /// A delay of `jiffies` timer ticks.
    #[inline]
    pub const fn from_jiffies(jiffies: Jiffies) -> Self {
        Self(jiffies)
    }

    /// A delay of at least `ms` milliseconds.
    #[inline]
    pub fn from_millis(ms: u32) -> Self {
        Self(msecs_to_jiffies(ms))
    }

    /// The delay in jiffies.
    #[inline]
    pub const fn as_jiffies(self) -> Jiffies {
        self.0
    }
}

impl From<Jiffies> for Delay {
    #[inline]
    fn from(jiffies: Jiffies) -> Self {
        Self(jiffies)
    }
}

/// Time spans (6.13 and later: 6.12's kernel crate has no `Delta`).
#[cfg(not(wq_kernel_6))]
impl From<Delta> for Delay {
    #[inline]
    fn from(span: Delta) -> Self {
        // Whole milliseconds, rounded up (7.2's `Delta` has no `as_millis_ceil`).
        let ns = span.as_nanos();
        let ms = if ns <= 0 { 0 } else { (ns - 1) / 1_000_000 + 1 };
        // The clamp keeps `ms` in range.
        Self::from_millis(ms.clamp(0, i64::from(u32::MAX)) as u32)
    }
}
