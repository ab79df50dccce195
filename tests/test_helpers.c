// SPDX-License-Identifier: GPL-2.0
/* Helpers for the tests only: C macros the tests observe the kernel through. */

#include <kunit/test.h>
#include <kunit/test-bug.h>
#include <linux/bottom_half.h>
#include <linux/bug.h>
#include <linux/completion.h>
#include <linux/cpu.h>
#include <linux/cpumask.h>
#include <linux/delay.h>
#include <linux/err.h>
#include <linux/fs.h>
#include <linux/jiffies.h>
#include <linux/mount.h>
#include <linux/preempt.h>
#include <linux/random.h>
#include <linux/sched.h>
#include <linux/smp.h>
#include <linux/timekeeping.h>

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

/*
 * What the tests need that the kernel crate of every supported kernel does not have: time,
 * sleeping and spinning, the current CPU, randomness, CPU hotplug, completions.
 */
u64 wq_test_now_ns(void)
{
	return ktime_get_ns();
}

void wq_test_fsleep(unsigned long usecs)
{
	fsleep(usecs);
}

void wq_test_udelay(unsigned long usecs)
{
	udelay(usecs);
}

unsigned int wq_test_current_cpu(void)
{
	return raw_smp_processor_id();
}

u64 wq_test_random_u64(void)
{
	return get_random_u64();
}

int wq_test_cpu_down(unsigned int cpu)
{
	return remove_cpu(cpu);
}

int wq_test_cpu_up(unsigned int cpu)
{
	return add_cpu(cpu);
}

void wq_test_completion_init(struct completion *done)
{
	init_completion(done);
}

/*
 * Reads up to @len - 1 bytes of the sysfs file at @path (relative to the sysfs root, e.g.
 * "devices/virtual/workqueue/NAME/max_active") into @buf; returns the length or -errno.
 *
 * It reads through a private kernel mount of sysfs, so it does not depend on anyone having
 * mounted /sys, or on whose root the calling thread sees: the module loaded by the test
 * boot's init and the built-in suites of `make kunit` (which run before any file system is
 * mounted) see the same attributes.
 */
ssize_t wq_test_read_sysfs(const char *path, char *buf, size_t len)
{
	struct file_system_type *sysfs = get_fs_type("sysfs");
	struct vfsmount *mnt;
	struct file *file;
	loff_t pos = 0;
	ssize_t n;

	/*
	 * sysfs is always built in (its owner is NULL), so get_fs_type() took no module
	 * reference that would need dropping.
	 */
	if (!sysfs)
		return -ENODEV;
	mnt = kern_mount(sysfs);
	if (IS_ERR(mnt))
		return PTR_ERR(mnt);
	file = file_open_root_mnt(mnt, path, O_RDONLY, 0);
	if (IS_ERR(file)) {
		n = PTR_ERR(file);
	} else {
		n = kernel_read(file, buf, len - 1, &pos);
		filp_close(file, NULL);
		if (n >= 0)
			buf[n] = '\0';
	}
	kern_unmount(mnt);
	return n;
}

unsigned int wq_test_num_online_cpus(void)
{
	return num_online_cpus();
}

/*
 * Makes the current task's slab allocations fail (failslab is set up by the test boot to
 * fail every allocation of tasks that ask for it), or stops it. Returns false, doing
 * nothing, in a kernel without fault injection.
 */
bool wq_test_fail_allocations(bool fail)
{
#ifdef CONFIG_FAULT_INJECTION
	current->make_it_fail = fail;
	return true;
#else
	return false;
#endif
}

/*
 * A failed assertion at @file:@line of a Rust test, reported as KUnit reports its own (with
 * that location), ending the case. Outside a KUnit case it is only printed.
 */
void wq_test_assert_failed(const char *file, int line, const char *what)
{
	struct kunit *test = kunit_get_current_test();
	const struct kunit_loc loc = { .file = file, .line = line };
	const struct kunit_fail_assert assert = {};

	if (!test) {
		pr_err("ASSERTION FAILED at %s:%d: %s (not in a KUnit case)\n", file, line, what);
		return;
	}
	__kunit_do_failed_assertion(test, &loc, KUNIT_ASSERTION, &assert.assert,
				    kunit_fail_assert_format, "%s", what);
	__kunit_abort(test);
}

/* Marks the running KUnit case skipped, with @reason; the case then returns as passed. */
void wq_test_skip(const char *reason)
{
	struct kunit *test = kunit_get_current_test();

	if (test)
		kunit_mark_skipped(test, "%s", reason);
}

/* Only for `make check DEMO=warn` (tests/demo/warn.rs): a kernel warning, on purpose. */
void wq_test_demo_warn(void)
{
	WARN_ON(1);
}
