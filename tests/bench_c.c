// SPDX-License-Identifier: GPL-2.0
/*
 * The C side of the benchmarks: the same loops as bench.rs, written against the C API, so
 * that each Rust figure is compared with C measured in the same boot. The C items live on
 * the heap, as a driver's do and as the Rust ones do: in a debug kernel an on-stack work
 * item is tracked differently (debug objects) and costs several times less to queue.
 */

#include <linux/jiffies.h>
#include <linux/slab.h>
#include <linux/timekeeping.h>
#include <linux/workqueue.h>

#include "bench_c.h"

static void wq_bench_nop(struct work_struct *work)
{
}

/*
 * @n times: queue a work item on @wq (blocked, so it stays queued), then cancel it.
 * Returns the nanoseconds taken, or 0 if the item could not be allocated.
 */
u64 wq_bench_c_enqueue(struct workqueue_struct *wq, unsigned int n)
{
	struct work_struct *work;
	unsigned int i;
	u64 start;

	work = kzalloc(sizeof(*work), GFP_KERNEL);
	if (!work)
		return 0;
	INIT_WORK(work, wq_bench_nop);
	start = ktime_get_ns();
	for (i = 0; i < n; i++) {
		queue_work_on(WORK_CPU_UNBOUND, wq, work);
		cancel_work_sync(work);
	}
	start = ktime_get_ns() - start;
	kfree(work);
	return start;
}

/*
 * @n times: arm a delayed item on @wq for a minute, then cancel it.
 * Returns the nanoseconds taken, or 0 if the item could not be allocated.
 */
u64 wq_bench_c_enqueue_delayed(struct workqueue_struct *wq, unsigned int n)
{
	struct delayed_work *dwork;
	unsigned int i;
	u64 start;

	dwork = kzalloc(sizeof(*dwork), GFP_KERNEL);
	if (!dwork)
		return 0;
	INIT_DELAYED_WORK(dwork, wq_bench_nop);
	start = ktime_get_ns();
	for (i = 0; i < n; i++) {
		queue_delayed_work_on(WORK_CPU_UNBOUND, wq, dwork, 60 * HZ);
		cancel_delayed_work_sync(dwork);
	}
	start = ktime_get_ns() - start;
	kfree(dwork);
	return start;
}
