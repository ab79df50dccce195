// SPDX-License-Identifier: GPL-2.0
/*
 * C helpers for the workqueue library: one per macro or inline function that Rust cannot
 * call, declared on the Rust side in helpers.rs. Each consumer module compiles its own copy
 * (the symbols are not exported), so several modules can embed the library side by side.
 */

#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/irqflags.h>
#include <linux/kernel.h>
#include <linux/lockdep.h>
#include <linux/percpu-refcount.h>
#include <linux/preempt.h>
#include <linux/rcupdate.h>
#include <linux/refcount.h>
#include <linux/slab.h>
#include <linux/spinlock.h>
#include <linux/version.h>
#include <linux/workqueue.h>

#include "workqueue_helpers.h"

/*
 * Kernel-version compatibility, C side.
 *
 * 6.17 added WQ_PERCPU, which per-CPU queues must carry from then on; before, a queue
 * without WQ_UNBOUND was per-CPU (6.12 has the flag backported, but refuses it with WQ_BH).
 *
 * 6.17 also split system_percpu_wq and system_dfl_wq out of system_wq and system_unbound_wq,
 * which 7.2 deprecates (a warning on every enqueue). 6.12.y carries the new queues since
 * 6.12.77 (with the old ones not deprecated).
 */
#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 17, 0)
#define WQ_RS_PERCPU		WQ_PERCPU
#else
#define WQ_RS_PERCPU		0
#endif

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 17, 0) || \
	(LINUX_VERSION_CODE >= KERNEL_VERSION(6, 12, 77) && \
	 LINUX_VERSION_CODE < KERNEL_VERSION(6, 13, 0))
#define WQ_RS_SYSTEM_PERCPU	system_percpu_wq
#define WQ_RS_SYSTEM_DFL	system_dfl_wq
#else
#define WQ_RS_SYSTEM_PERCPU	system_wq
#define WQ_RS_SYSTEM_DFL	system_unbound_wq
#endif

#if LINUX_VERSION_CODE >= KERNEL_VERSION(6, 16, 0)
#define wq_rs_timer_init_key	timer_init_key
#else
#define wq_rs_timer_init_key	init_timer_key
#endif

/*
 * INIT_WORK() with a caller-chosen lockdep name and class. The key is a struct
 * lock_class_key, passed as void * because that struct is empty without CONFIG_LOCKDEP,
 * which a Rust declaration of it cannot express.
 */
void wq_rs_init_work(struct work_struct *work, work_func_t func,
		     const char *name, void *key)
{
	__init_work(work, 0);
	work->data = (atomic_long_t)WORK_DATA_INIT();
	lockdep_init_map(&work->lockdep_map, name, key, 0);
	INIT_LIST_HEAD(&work->entry);
	work->func = func;
}

/* INIT_DELAYED_WORK() with lockdep names and classes for the work and its timer. */
void wq_rs_init_delayed_work(struct delayed_work *dwork, work_func_t func,
			     const char *name, void *key,
			     const char *timer_name, void *timer_key)
{
	wq_rs_init_work(&dwork->work, func, name, key);
	wq_rs_timer_init_key(&dwork->timer, delayed_work_timer_fn,
			     TIMER_IRQSAFE, timer_name, timer_key);
}

/* alloc_workqueue() is a macro over alloc_workqueue_noprof() from 6.10 on, variadic always. */
struct workqueue_struct *wq_rs_alloc_workqueue(const char *name,
					       unsigned int flags,
					       int max_active)
{
	return alloc_workqueue("%s", flags, max_active, name);
}

/*
 * An ordered queue whose work runs under a map that the caller shares between queues (see
 * lockdep.rs). The map is a void * for the reason the keys are: empty without CONFIG_LOCKDEP.
 * Without lockdep there is no map to share, and the queue is a plain ordered one, as
 * drm_sched builds it.
 */
struct workqueue_struct *wq_rs_alloc_ordered_lockdep_map(const char *name,
							 unsigned int flags, void *map)
{
#ifdef CONFIG_LOCKDEP
	return alloc_workqueue_lockdep_map("%s", flags, 1, map, name);
#else
	return alloc_workqueue("%s", flags, 1, name);
#endif
}

void wq_rs_lockdep_map_init(void *map, const char *name, void *key)
{
#ifdef CONFIG_LOCKDEP
	lockdep_init_map(map, name, key, 0);
#endif
}

/* might_sleep() is a macro: scope.rs checks that its caller may sleep. */
void wq_rs_might_sleep(void)
{
	might_sleep();
}

/* init_completion() is inline; scope.rs waits on one for its closures. */
void wq_rs_completion_init(struct completion *done)
{
	init_completion(done);
}

unsigned int wq_rs_percpu_flag(void)
{
	return WQ_RS_PERCPU;
}

/*
 * The system queues whose names changed in 6.17, as the addresses of their globals: Rust
 * reads them there without calling a function on every enqueue.
 */
struct workqueue_struct *const *const wq_rs_system_percpu_wq = &WQ_RS_SYSTEM_PERCPU;
struct workqueue_struct *const *const wq_rs_system_dfl_wq = &WQ_RS_SYSTEM_DFL;

/* work_pending() and delayed_work_pending() are macros. */
bool wq_rs_work_pending(struct work_struct *work)
{
	return work_pending(work);
}

/*
 * The most disables a Disabled guard may stand for on one item: half of what C counts
 * (WORK_OFFQ_DISABLE_BITS). C stops counting at its maximum (with a warning), and the
 * enable of a disable it did not count would underflow the count or take a pending instance
 * from its owner. The other half is headroom for disables that are not guards: the one that
 * cancel_*_sync() and disable_*_sync() hold while they wait (C), a refused bounded disable
 * while it waits (below), and one bounded disable per CPU between its disable and its check.
 */
#define WQ_RS_DISABLE_LIMIT	(1ul << (WORK_OFFQ_DISABLE_BITS - 1))

/*
 * disable_work(), or disable_delayed_work() when @delayed. Returns whether it leaves the
 * item's disable count at most WQ_RS_DISABLE_LIMIT, so that a guard may stand for it; if
 * not, the caller must undo it with enable_work() once it has waited for the item. *@pending
 * says whether it took a pending instance (whose owner is the caller's either way).
 *
 * The count is read with preemption off right after the disable, so at most one disable per
 * CPU is counted but not yet checked. Every guard's disable was checked with all earlier
 * guards' counted, so guards never exceed the limit, and the count stays below C's maximum
 * unless some 32,767 - nr_cpu_ids tasks wait in a cancel or disable of the one item at once:
 * every disable counts.
 */
bool wq_rs_disable_bounded(struct work_struct *work, bool delayed, bool *pending)
{
	unsigned long count;

	preempt_disable();
	if (delayed)
		*pending = disable_delayed_work(to_delayed_work(work));
	else
		*pending = disable_work(work);
	/*
	 * Disabled, so not queued: data holds the off-queue fields. Only C's grab of PENDING (a
	 * cancel, disable or enable) and a refused queueing rewrite them, whole, and keep the
	 * count of the disables they do not add or remove.
	 */
	count = (atomic_long_read(&work->data) >> WORK_OFFQ_DISABLE_SHIFT) &
		((1ul << WORK_OFFQ_DISABLE_BITS) - 1);
	preempt_enable();
	return count <= WQ_RS_DISABLE_LIMIT;
}

/*
 * Hold every online CPU online: stop_machine(), which takes a CPU down, cannot run while
 * this CPU has preemption off (include/linux/stop_machine.h: its "read" side is anything
 * that disables preemption).
 */
void wq_rs_cpus_hold(void)
{
	preempt_disable();
}

void wq_rs_cpus_release(void)
{
	preempt_enable();
}

/* nr_cpu_ids is a macro where the number of CPUs is fixed at build time. */
unsigned int wq_rs_nr_cpu_ids(void)
{
	return nr_cpu_ids;
}

/* cpu_online() and cpu_possible() are inline; callers check cpu < nr_cpu_ids first. */
bool wq_rs_cpu_online(unsigned int cpu)
{
	return cpu_online(cpu);
}

bool wq_rs_cpu_possible(unsigned int cpu)
{
	return cpu_possible(cpu);
}

/*
 * The locks of the delayed-item tracking (see tracked.rs and registry.rs): each tracked item
 * has one, each owned queue's registry has one. raw_spin_lock_init() gives each call site
 * its own lockdep class, so items and registries get a class each.
 */
void wq_rs_item_lock_init(raw_spinlock_t *item_lock)
{
	raw_spin_lock_init(item_lock);
}

void wq_rs_registry_lock_init(raw_spinlock_t *registry_lock)
{
	raw_spin_lock_init(registry_lock);
}

/*
 * The tracking locks are taken with interrupts off on this CPU (BH work, timers and
 * interrupt handlers take them too). An item's lock alone is taken with raw_spin_lock_irqsave();
 * the cancel pass saves the interrupt state separately, so that the item's lock it takes
 * second can be held after the registry's lock is released.
 */
unsigned long wq_rs_raw_spin_lock_irqsave(raw_spinlock_t *lock)
	__acquires(lock)
{
	unsigned long flags;

	raw_spin_lock_irqsave(lock, flags);
	return flags;
}

void wq_rs_raw_spin_unlock_irqrestore(raw_spinlock_t *lock, unsigned long flags)
	__releases(lock)
{
	raw_spin_unlock_irqrestore(lock, flags);
}

unsigned long wq_rs_local_irq_save(void)
{
	unsigned long flags;

	local_irq_save(flags);
	return flags;
}

void wq_rs_local_irq_restore(unsigned long flags)
{
	local_irq_restore(flags);
}

void wq_rs_raw_spin_lock(raw_spinlock_t *lock)
	__acquires(lock)
{
	raw_spin_lock(lock);
}

bool wq_rs_raw_spin_trylock(raw_spinlock_t *lock)
{
	return raw_spin_trylock(lock);
}

void wq_rs_raw_spin_unlock(raw_spinlock_t *lock)
	__releases(lock)
{
	raw_spin_unlock(lock);
}

/*
 * The gate of an owned queue's handles (see gate.rs): a percpu_ref counts the enqueues in
 * flight through handles, so that the queue's drop (or drain) can close the gate and wait
 * until none is left, at the cost of two per-CPU counter updates per enqueue.
 *
 * @dead is set before the percpu_ref is killed and cleared after it is revived: a reader
 * that sees it set never touches the percpu_ref, which lets the queue's drop call
 * percpu_ref_exit() while handles live on. @holders counts the owned queue and its handles;
 * the last one frees the gate after an RCU grace period, because an enqueue through a handle
 * stored in the item it queues uses the gate after the item (and the handle) may be gone,
 * inside the RCU read-side section that wq_rs_gate_enter() opens.
 */
struct wq_rs_gate {
	struct percpu_ref users;
	bool dead;
	refcount_t holders;
	struct completion closed;
	struct completion idle;
	struct rcu_head rcu;
};

static void wq_rs_gate_idle(struct percpu_ref *users)
{
	complete(&container_of(users, struct wq_rs_gate, users)->idle);
}

static void wq_rs_gate_closed(struct percpu_ref *users)
{
	complete(&container_of(users, struct wq_rs_gate, users)->closed);
}

struct wq_rs_gate *wq_rs_gate_new(void)
{
	struct wq_rs_gate *gate = kzalloc(sizeof(*gate), GFP_KERNEL);

	if (!gate)
		return NULL;
	/* Reopened after each drain: the per-CPU counters must survive the kill. */
	if (percpu_ref_init(&gate->users, wq_rs_gate_idle, PERCPU_REF_ALLOW_REINIT,
			    GFP_KERNEL)) {
		kfree(gate);
		return NULL;
	}
	refcount_set(&gate->holders, 1);
	init_completion(&gate->closed);
	init_completion(&gate->idle);
	return gate;
}

void wq_rs_gate_hold(struct wq_rs_gate *gate)
{
	refcount_inc(&gate->holders);
}

/*
 * Any context: kfree_rcu() calls no code of this module later, so unloading is safe. An owned
 * queue retires its gate before it lets go of it, so the last holder finds the per-CPU count
 * freed, except for a gate whose queue failed to come into being, which nobody ever entered.
 */
void wq_rs_gate_release(struct wq_rs_gate *gate)
{
	if (!refcount_dec_and_test(&gate->holders))
		return;
	if (!READ_ONCE(gate->dead))
		percpu_ref_exit(&gate->users);
	kfree_rcu(gate, rcu);
}

/*
 * Any context. On success the caller is inside an RCU read-side section and holds one use,
 * until wq_rs_gate_leave(); on failure neither.
 */
bool wq_rs_gate_enter(struct wq_rs_gate *gate)
	__acquires(RCU)
{
	rcu_read_lock();
	if (!READ_ONCE(gate->dead) && percpu_ref_tryget_live(&gate->users))
		return true;
	rcu_read_unlock();
	return false;
}

void wq_rs_gate_leave(struct wq_rs_gate *gate)
	__releases(RCU)
{
	percpu_ref_put(&gate->users);
	rcu_read_unlock();
}

/*
 * Process context; once per opening. When it returns, no wq_rs_gate_enter() succeeds until
 * wq_rs_gate_reopen(), and every use it gave out has been left. The gate is open only in
 * per-CPU mode (reopening switches back to it), so the kill is confirmed after an RCU grace
 * period, after which no tryget_live succeeds (percpu-refcount.h); @dead, set before it, turns
 * later entries away by itself. wq_rs_gate_idle() runs when the last use is put.
 */
void wq_rs_gate_close(struct wq_rs_gate *gate)
{
	WRITE_ONCE(gate->dead, true);
	percpu_ref_kill_and_confirm(&gate->users, wq_rs_gate_closed);
	wait_for_completion(&gate->closed);
	wait_for_completion(&gate->idle);
}

/* Process context, after wq_rs_gate_close(): open again, for the queue's drain. */
void wq_rs_gate_reopen(struct wq_rs_gate *gate)
{
	reinit_completion(&gate->closed);
	reinit_completion(&gate->idle);
	percpu_ref_reinit(&gate->users);
	WRITE_ONCE(gate->dead, false);
}

/*
 * Process context, after wq_rs_gate_close() or on a gate that nobody else ever had: frees
 * the per-CPU counters. Readers see @dead set (it was set before the grace period that
 * confirmed the kill), so none touches them again.
 */
void wq_rs_gate_retire(struct wq_rs_gate *gate)
{
	WRITE_ONCE(gate->dead, true);
	percpu_ref_exit(&gate->users);
}
