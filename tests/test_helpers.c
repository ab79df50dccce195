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
#include <linux/moduleparam.h>
#include <linux/mount.h>
#include <linux/preempt.h>
#include <linux/random.h>
#include <linux/rcupdate.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/smp.h>
#include <linux/spinlock.h>
#include <linux/timekeeping.h>
#include <linux/timer.h>

#include "test_helpers.h"

/*
 * The model test's seed (0 draws one, which the test prints) and its number of operations over
 * all CPUs: `insmod rust_wq_test.ko model_seed=0x... model_ops=...` replays a run, or makes a
 * longer one.
 */
static unsigned long long model_seed;
module_param(model_seed, ullong, 0444);
MODULE_PARM_DESC(model_seed, "seed of the model test's random operations (0: a random one)");

static unsigned int model_ops = 100000;
module_param(model_ops, uint, 0444);
MODULE_PARM_DESC(model_ops, "random operations of the model test, over all CPUs");

u64 wq_test_model_seed(void)
{
	return model_seed;
}

unsigned int wq_test_model_ops(void)
{
	return model_ops;
}

/*
 * Rounds per thread of each race test: `make soak` raises it for longer runs; the tests' outcome
 * minimums are set for the default.
 */
static unsigned int race_rounds = 300;
module_param(race_rounds, uint, 0444);
MODULE_PARM_DESC(race_rounds, "rounds per thread of each race test (at least 300)");

unsigned int wq_test_race_rounds(void)
{
	return max(race_rounds, 300U);
}

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

void *wq_test_current_task(void)
{
	return current;
}

/* Whether @task is in an uninterruptible wait (a flush or a completion), not running. */
bool wq_test_task_blocked(void *task)
{
	struct task_struct *t = task;

	return READ_ONCE(t->__state) & TASK_UNINTERRUPTIBLE;
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
 * Failed assertions outside the case's own thread.
 *
 * A case's assertions run in its thread, where KUnit can fail and end the case. Test threads,
 * work items and timer callbacks are other threads or contexts: KUnit's failure path
 * allocates (and may sleep), and ending the case from there would end the wrong thread. So a
 * failure there is recorded here, in any context, and the case that is running fails at its
 * end, with the location of the first such failure (wq_test_case_end()). Each is also
 * printed as "ASSERTION FAILED", which the console scan treats as a report, so a failure
 * that comes after its case ended still fails the run.
 */
static DEFINE_RAW_SPINLOCK(wq_test_deferred_lock);
static bool wq_test_case_running;
static unsigned int wq_test_deferred_failures;
static const char *wq_test_deferred_file;
static int wq_test_deferred_line;
static const char *wq_test_deferred_what;

/* Starts recording the failures of other threads for the case that calls it. */
void wq_test_case_begin(void)
{
	unsigned long flags;

	raw_spin_lock_irqsave(&wq_test_deferred_lock, flags);
	wq_test_case_running = true;
	wq_test_deferred_failures = 0;
	raw_spin_unlock_irqrestore(&wq_test_deferred_lock, flags);
}

/*
 * Ends the recording; fails the calling case if another thread failed an assertion since
 * wq_test_case_begin(). Returns whether none did.
 */
bool wq_test_case_end(void)
{
	struct kunit *test = kunit_get_current_test();
	const struct kunit_fail_assert assert = {};
	struct kunit_loc loc = {};
	const char *what = NULL;
	unsigned long flags;
	unsigned int failures;

	raw_spin_lock_irqsave(&wq_test_deferred_lock, flags);
	wq_test_case_running = false;
	failures = wq_test_deferred_failures;
	if (failures) {
		loc.file = wq_test_deferred_file;
		loc.line = wq_test_deferred_line;
		what = wq_test_deferred_what;
	}
	raw_spin_unlock_irqrestore(&wq_test_deferred_lock, flags);
	if (failures && test)
		__kunit_do_failed_assertion(test, &loc, KUNIT_ASSERTION, &assert.assert,
					    kunit_fail_assert_format,
					    "%s (failed outside the case's thread; %u such failures)",
					    what, failures);
	return !failures;
}

/* Records a failure outside the case's thread; any context. */
static void wq_test_defer_failure(const char *file, int line, const char *what)
{
	unsigned long flags;
	bool running;

	raw_spin_lock_irqsave(&wq_test_deferred_lock, flags);
	running = wq_test_case_running;
	if (running && !wq_test_deferred_failures++) {
		wq_test_deferred_file = file;
		wq_test_deferred_line = line;
		wq_test_deferred_what = what;
	}
	raw_spin_unlock_irqrestore(&wq_test_deferred_lock, flags);
	pr_err("ASSERTION FAILED at %s:%d: %s (%s)\n", file, line, what,
	       running ? "outside the case's thread: the case fails at its end" :
			 "while no case runs");
}

/*
 * A failed assertion at @file:@line of a Rust test. In a case's own thread, in task context,
 * it is reported as KUnit reports its own (with that location) and ends the case; anywhere
 * else it is recorded for the running case (see above). @file and @what are static strings.
 */
void wq_test_assert_failed(const char *file, int line, const char *what)
{
	struct kunit *test = kunit_get_current_test();
	const struct kunit_loc loc = { .file = file, .line = line };
	const struct kunit_fail_assert assert = {};

	/*
	 * A softirq or interrupt (a BH work item, a timer) can run on top of the case's own
	 * thread, which then is current: it must not allocate or end the thread either.
	 */
	if (!test || !in_task()) {
		wq_test_defer_failure(file, line, what);
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

/*
 * Only for `make check DEMO=data-race` (tests/demo/data_race.rs): a plain read-modify-write of
 * a shared counter, which the caller runs on several CPUs at once, so that KCSAN (in the kcsan
 * flavour's boot) reports a data race in this function.
 */
static unsigned long demo_racy_counter;

void wq_test_demo_data_race(unsigned int rounds)
{
	unsigned int i;

	for (i = 0; i < rounds; i++) {
		demo_racy_counter++;
		usleep_range(10, 20);
	}
}

/*
 * A call of @fn(@arg) from a timer callback (softirq context) on @cpu, @delay jiffies from
 * now, waited for.
 */
struct wq_test_timer_call {
	struct timer_list timer;
	void (*fn)(void *arg);
	void *arg;
	struct completion done;
};

static void wq_test_timer_call_fn(struct timer_list *timer)
{
	struct wq_test_timer_call *call = container_of(timer, struct wq_test_timer_call, timer);

	call->fn(call->arg);
	complete(&call->done);
}

void wq_test_call_in_timer(unsigned int cpu, unsigned long delay, void (*fn)(void *arg),
			   void *arg)
{
	/* Not on the stack: the timer API's on-stack helpers were renamed in 6.16. */
	struct wq_test_timer_call *call = kzalloc(sizeof(*call), GFP_KERNEL);

	if (WARN_ON(!call))
		return;
	call->fn = fn;
	call->arg = arg;
	init_completion(&call->done);
	timer_setup(&call->timer, wq_test_timer_call_fn, 0);
	call->timer.expires = jiffies + delay;
	add_timer_on(&call->timer, cpu);
	wait_for_completion(&call->done);
	timer_delete_sync(&call->timer);
	kfree(call);
}

/*
 * A call of @fn(@arg) in hard-IRQ context (an IPI) on another CPU than this one, chosen and
 * called with preemption off, so that the caller cannot move to it meanwhile (a call on its
 * own CPU would run in task context).
 */
int wq_test_call_in_hardirq(void (*fn)(void *arg), void *arg)
{
	int me = get_cpu();
	unsigned int cpu = cpumask_any_but(cpu_online_mask, me);
	int ret = cpu < nr_cpu_ids ? smp_call_function_single(cpu, fn, arg, 1) : -ENODEV;

	put_cpu();
	return ret;
}

bool wq_test_in_hardirq(void)
{
	return in_hardirq();
}

/* An RCU reader in a test thread: rcu_read_lock() and rcu_read_unlock() are inline. */
void wq_test_rcu_read_lock(void)
	__acquires(RCU)
{
	rcu_read_lock();
}

void wq_test_rcu_read_unlock(void)
	__releases(RCU)
{
	rcu_read_unlock();
}
