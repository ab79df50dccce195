/* SPDX-License-Identifier: GPL-2.0 */
/* Prototypes of the test-only helpers; common.rs declares the same on the Rust side. */
#ifndef WORKQUEUE_RS_TEST_HELPERS_H
#define WORKQUEUE_RS_TEST_HELPERS_H

#include <linux/types.h>

u64 wq_test_model_seed(void);
unsigned int wq_test_model_ops(void);
unsigned int wq_test_race_rounds(void);
bool wq_test_in_serving_softirq(void);
bool wq_test_in_task(void);
unsigned long wq_test_jiffies(void);
u64 wq_test_now_ns(void);
void wq_test_fsleep(unsigned long usecs);
void wq_test_udelay(unsigned long usecs);
unsigned int wq_test_current_cpu(void);
u64 wq_test_random_u64(void);
int wq_test_cpu_down(unsigned int cpu);
int wq_test_cpu_up(unsigned int cpu);
struct completion;
void wq_test_completion_init(struct completion *done);
ssize_t wq_test_read_sysfs(const char *path, char *buf, size_t len);
void *wq_test_current_task(void);
bool wq_test_task_blocked(void *task);
unsigned int wq_test_num_online_cpus(void);
bool wq_test_fail_allocations(bool fail);
void wq_test_skip(const char *reason);
void wq_test_assert_failed(const char *file, int line, const char *what);
void wq_test_case_begin(void);
bool wq_test_case_end(void);
void wq_test_demo_warn(void);
void wq_test_demo_data_race(unsigned int rounds);

void wq_test_call_in_timer(unsigned int cpu, unsigned long delay, void (*fn)(void *arg),
			   void *arg);
int wq_test_call_in_hardirq(void (*fn)(void *arg), void *arg);
bool wq_test_in_hardirq(void);
void wq_test_rcu_read_lock(void);
void wq_test_rcu_read_unlock(void);

#endif /* WORKQUEUE_RS_TEST_HELPERS_H */
