// SPDX-License-Identifier: GPL-2.0
/*
 * C helpers for the workqueue library: one per macro or inline function that Rust cannot
 * call, declared on the Rust side in helpers.rs. Each consumer module compiles its own copy
 * (the symbols are not exported), so several modules can embed the library side by side.
 */

#include <linux/cpumask.h>
#include <linux/spinlock.h>
#include <linux/version.h>
#include <linux/workqueue.h>

#include "workqueue_helpers.h"

/*
 * Kernel-version compatibility, C side. 6.17 split the per-CPU and default system queues
 * out of the deprecated system_wq/system_unbound_wq and added WQ_PERCPU; before that a
 * queue without WQ_UNBOUND was per-CPU.
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 17, 0)
#define WQ_RS_PERCPU		WQ_PERCPU
#define WQ_RS_SYSTEM_PERCPU	system_percpu_wq
#define WQ_RS_SYSTEM_DFL	system_dfl_wq
#else
#define WQ_RS_PERCPU		0
#define WQ_RS_SYSTEM_PERCPU	system_wq
#define WQ_RS_SYSTEM_DFL	system_unbound_wq
#endif

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 16, 0)
#define wq_rs_timer_init_key	timer_init_key
#else
#define wq_rs_timer_init_key	init_timer_key
#endif

/* INIT_WORK() with a caller-chosen lockdep name and class. */
void wq_rs_init_work(struct work_struct *work, work_func_t func,
		     const char *name, struct lock_class_key *key)
{
	__init_work(work, 0);
	work->data = (atomic_long_t)WORK_DATA_INIT();
	lockdep_init_map(&work->lockdep_map, name, key, 0);
	INIT_LIST_HEAD(&work->entry);
	work->func = func;
}

/* INIT_DELAYED_WORK() with lockdep names and classes for the work and its timer. */
void wq_rs_init_delayed_work(struct delayed_work *dwork, work_func_t func,
			     const char *name, struct lock_class_key *key,
			     const char *timer_name,
			     struct lock_class_key *timer_key)
{
	wq_rs_init_work(&dwork->work, func, name, key);
	wq_rs_timer_init_key(&dwork->timer, delayed_work_timer_fn,
			     TIMER_IRQSAFE, timer_name, timer_key);
}

/* alloc_workqueue() is a macro over alloc_workqueue_noprof(). */
struct workqueue_struct *wq_rs_alloc_workqueue(const char *name,
					       unsigned int flags,
					       int max_active)
{
	return alloc_workqueue("%s", flags, max_active, name);
}

unsigned int wq_rs_percpu_flag(void)
{
	return WQ_RS_PERCPU;
}

struct workqueue_struct *wq_rs_system_percpu(void)
{
	return WQ_RS_SYSTEM_PERCPU;
}

struct workqueue_struct *wq_rs_system_dfl(void)
{
	return WQ_RS_SYSTEM_DFL;
}

/* work_pending() and delayed_work_pending() are macros. */
bool wq_rs_work_pending(struct work_struct *work)
{
	return work_pending(work);
}

/* cpu_online() is a macro. */
bool wq_rs_cpu_online(int cpu)
{
	return cpu_online(cpu);
}

/*
 * The lock of the registries of delayed items armed on owned queues (see tracked.rs). One
 * lock for all of them, so an item can move from one queue's registry to another's; it is
 * taken from task and softirq context, hence the irqsave.
 */
static DEFINE_SPINLOCK(wq_rs_track_lock_);

unsigned long wq_rs_track_lock(void)
{
	unsigned long flags;

	spin_lock_irqsave(&wq_rs_track_lock_, flags);
	return flags;
}

void wq_rs_track_unlock(unsigned long flags)
{
	spin_unlock_irqrestore(&wq_rs_track_lock_, flags);
}
