/* SPDX-License-Identifier: GPL-2.0 */
/* Prototypes of the test-only helpers; common.rs declares the same on the Rust side. */
#ifndef WORKQUEUE_RS_TEST_HELPERS_H
#define WORKQUEUE_RS_TEST_HELPERS_H

#include <linux/types.h>

bool wq_test_in_serving_softirq(void);
bool wq_test_in_task(void);
unsigned long wq_test_jiffies(void);
ssize_t wq_test_read_file(const char *path, char *buf, size_t len);
unsigned int wq_test_num_online_cpus(void);
bool wq_test_fail_allocations(bool fail);
void wq_test_skip(const char *reason);

#endif /* WORKQUEUE_RS_TEST_HELPERS_H */
