/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Prototypes of the workqueue library's C helpers; helpers.rs declares the same on the Rust
 * side.
 */
#ifndef WORKQUEUE_RS_HELPERS_H
#define WORKQUEUE_RS_HELPERS_H

#include <linux/completion.h>
#include <linux/spinlock_types.h>
#include <linux/workqueue.h>

void wq_rs_init_work(struct work_struct *work, work_func_t func,
		     const char *name, void *key);
void wq_rs_init_delayed_work(struct delayed_work *dwork, work_func_t func,
			     const char *name, void *key,
			     const char *timer_name, void *timer_key);
struct workqueue_struct *wq_rs_alloc_workqueue(const char *name,
					       unsigned int flags,
					       int max_active);
struct workqueue_struct *wq_rs_alloc_ordered_lockdep_map(const char *name,
							 unsigned int flags, void *map);
void wq_rs_lockdep_map_init(void *map, const char *name, void *key);
void wq_rs_might_sleep(void);
void wq_rs_completion_init(struct completion *done);
unsigned int wq_rs_percpu_flag(void);
extern struct workqueue_struct *const *const wq_rs_system_percpu_wq;
extern struct workqueue_struct *const *const wq_rs_system_dfl_wq;
bool wq_rs_work_pending(struct work_struct *work);
bool wq_rs_disable_bounded(struct work_struct *work, bool delayed, bool *pending);
void wq_rs_cpus_hold(void);
void wq_rs_cpus_release(void);
unsigned int wq_rs_nr_cpu_ids(void);
bool wq_rs_cpu_online(unsigned int cpu);
bool wq_rs_cpu_possible(unsigned int cpu);
void wq_rs_item_lock_init(raw_spinlock_t *lock);
void wq_rs_registry_lock_init(raw_spinlock_t *lock);
unsigned long wq_rs_raw_spin_lock_irqsave(raw_spinlock_t *lock);
void wq_rs_raw_spin_unlock_irqrestore(raw_spinlock_t *lock,
				      unsigned long flags);
unsigned long wq_rs_local_irq_save(void);
void wq_rs_local_irq_restore(unsigned long flags);
void wq_rs_raw_spin_lock(raw_spinlock_t *lock);
bool wq_rs_raw_spin_trylock(raw_spinlock_t *lock);
void wq_rs_raw_spin_unlock(raw_spinlock_t *lock);

struct wq_rs_gate;
struct wq_rs_gate *wq_rs_gate_new(void);
void wq_rs_gate_hold(struct wq_rs_gate *gate);
void wq_rs_gate_release(struct wq_rs_gate *gate);
bool wq_rs_gate_enter(struct wq_rs_gate *gate);
void wq_rs_gate_leave(struct wq_rs_gate *gate);
void wq_rs_gate_close(struct wq_rs_gate *gate);
void wq_rs_gate_reopen(struct wq_rs_gate *gate);
void wq_rs_gate_retire(struct wq_rs_gate *gate);

#endif /* WORKQUEUE_RS_HELPERS_H */
