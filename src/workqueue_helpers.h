/* SPDX-License-Identifier: GPL-2.0 */
/*
 * Prototypes of the workqueue library's C helpers; helpers.rs declares the same on the Rust
 * side.
 */
#ifndef WORKQUEUE_RS_HELPERS_H
#define WORKQUEUE_RS_HELPERS_H

#include <linux/workqueue.h>

void wq_rs_init_work(struct work_struct *work, work_func_t func,
		     const char *name, struct lock_class_key *key);
void wq_rs_init_delayed_work(struct delayed_work *dwork, work_func_t func,
			     const char *name, struct lock_class_key *key,
			     const char *timer_name,
			     struct lock_class_key *timer_key);
struct workqueue_struct *wq_rs_alloc_workqueue(const char *name,
					       unsigned int flags,
					       int max_active);
unsigned int wq_rs_percpu_flag(void);
struct workqueue_struct *wq_rs_system_percpu(void);
struct workqueue_struct *wq_rs_system_dfl(void);
bool wq_rs_work_pending(struct work_struct *work);
bool wq_rs_cpu_online(int cpu);
unsigned long wq_rs_track_lock(void);
void wq_rs_track_unlock(unsigned long flags);

#endif /* WORKQUEUE_RS_HELPERS_H */
