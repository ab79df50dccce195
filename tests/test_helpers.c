// SPDX-License-Identifier: GPL-2.0
/* Helpers for the tests only: C macros the tests observe the kernel through. */

#include <linux/bottom_half.h>
#include <linux/jiffies.h>
#include <linux/preempt.h>

#include "test_helpers.h"

bool wq_test_in_serving_softirq(void)
{
	return in_serving_softirq();
}

bool wq_test_in_task(void)
{
	return in_task();
}

unsigned long wq_test_jiffies(void)
{
	return jiffies;
}
