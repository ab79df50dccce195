// SPDX-License-Identifier: GPL-2.0
/*
 * The C side of the benchmarks (rust_wq_bench_main.rs): every path written against the C
 * API, bare and with the reference counting that the Rust ownership model does (kref_get()
 * before queueing, kref_put() after the run or the cancel), plus what the Rust side needs
 * from C: the clock, completions, and threads bound to CPUs. The items live on the heap, as a
 * driver's do and as the Rust ones do.
 */

#include <linux/completion.h>
#include <linux/cpumask.h>
#include <linux/err.h>
#include <linux/jiffies.h>
#include <linux/kref.h>
#include <linux/kthread.h>
#include <linux/moduleparam.h>
#include <linux/random.h>
#include <linux/sched.h>
#include <linux/slab.h>
#include <linux/string.h>
#include <linux/timekeeping.h>
#include <linux/workqueue.h>

#include "bench_c.h"
#include "../src/workqueue_helpers.h"

/* "full" (make bench) or "smoke" (make check: few iterations, so the benchmarks cannot rot). */
static char *mode = "full";
module_param(mode, charp, 0444);
MODULE_PARM_DESC(mode, "full or smoke");

bool wq_bench_smoke(void)
{
	return !strcmp(mode, "smoke");
}

/*
 * The seed of the order in which each round runs the implementations of a path (0 draws one;
 * the module prints it): `make bench SEED=0x...` replays the orders of a run.
 */
static unsigned long long seed;
module_param(seed, ullong, 0444);
MODULE_PARM_DESC(seed, "seed of the rounds' random orders (0: a random one)");

u64 wq_bench_seed(void)
{
	return seed ? seed : get_random_u64();
}

u64 wq_bench_now(void)
{
	return ktime_get_ns();
}

/* Completions, for the Rust side, which may run on kernels whose crate has none. */
struct completion *wq_bench_done_new(void)
{
	struct completion *done = kmalloc(sizeof(*done), GFP_KERNEL);

	if (done)
		init_completion(done);
	return done;
}

void wq_bench_done_free(struct completion *done)
{
	kfree(done);
}

void wq_bench_done_signal(struct completion *done)
{
	complete(done);
}

void wq_bench_done_wait(struct completion *done)
{
	wait_for_completion(done);
}

void wq_bench_done_reinit(struct completion *done)
{
	reinit_completion(done);
}

/* Threads bound to CPUs 0..n-1, started together. */
struct wq_bench_thread {
	struct completion *start;
	void (*body)(void *ctx, int index);
	void *ctx;
	int index;
	struct completion done;
};

static int wq_bench_thread_fn(void *data)
{
	struct wq_bench_thread *t = data;

	wait_for_completion(t->start);
	t->body(t->ctx, t->index);
	complete(&t->done);
	/* kthread_stop() wants the thread alive until it is called. */
	while (!kthread_should_stop())
		schedule_timeout_interruptible(1);
	return 0;
}

/*
 * Runs @body(@ctx, i) for i in 0..@n at once, thread i bound to the i-th online CPU, and
 * returns the nanoseconds from their common start to the end of the last; 0 on failure.
 */
u64 wq_bench_threads(int n, void (*body)(void *ctx, int index), void *ctx)
{
	struct task_struct **tasks;
	struct wq_bench_thread *t;
	struct completion start;
	int cpu, i = 0, made;
	u64 begin, took = 0;

	t = kcalloc(n, sizeof(*t), GFP_KERNEL);
	tasks = kcalloc(n, sizeof(*tasks), GFP_KERNEL);
	if (!t || !tasks)
		goto out;
	init_completion(&start);
	for_each_online_cpu(cpu) {
		if (i == n)
			break;
		t[i] = (struct wq_bench_thread){ &start, body, ctx, i };
		init_completion(&t[i].done);
		tasks[i] = kthread_create(wq_bench_thread_fn, &t[i], "wq_bench/%d", cpu);
		if (IS_ERR(tasks[i]))
			break;
		kthread_bind(tasks[i], cpu);
		wake_up_process(tasks[i]);
		i++;
	}
	made = i;
	begin = ktime_get_ns();
	complete_all(&start);
	for (i = 0; i < made; i++)
		wait_for_completion(&t[i].done);
	if (made == n)
		took = ktime_get_ns() - begin;
	for (i = 0; i < made; i++)
		kthread_stop(tasks[i]);
out:
	kfree(tasks);
	kfree(t);
	return took;
}

/* The C item: a work item (or a delayed one) in a reference-counted object. */
struct wq_bench_item {
	struct kref ref;
	struct delayed_work dwork;
	struct completion *done;
	u64 ran_at;
	bool counted;
};

static void wq_bench_item_free(struct kref *ref)
{
	kfree(container_of(ref, struct wq_bench_item, ref));
}

static void wq_bench_item_fn(struct work_struct *work)
{
	struct wq_bench_item *item = container_of(to_delayed_work(work),
						  struct wq_bench_item, dwork);
	struct completion *done = item->done;
	bool counted = item->counted;

	item->ran_at = ktime_get_ns();
	if (done)
		complete(done);
	/* The queue's reference is dropped at the end of the run, as the Rust owner is. */
	if (counted)
		kref_put(&item->ref, wq_bench_item_free);
}

struct wq_bench_item *wq_bench_item_new(bool counted, struct completion *done)
{
	struct wq_bench_item *item = kzalloc(sizeof(*item), GFP_KERNEL);

	if (!item)
		return NULL;
	kref_init(&item->ref);
	INIT_DELAYED_WORK(&item->dwork, wq_bench_item_fn);
	item->counted = counted;
	item->done = done;
	return item;
}

void wq_bench_item_put(struct wq_bench_item *item)
{
	kref_put(&item->ref, wq_bench_item_free);
}

/* Queues @item at once on @wq, on any CPU, taking a reference if it counts them. */
static bool wq_bench_queue(struct wq_bench_item *item, struct workqueue_struct *wq)
{
	if (item->counted)
		kref_get(&item->ref);
	if (queue_work(wq, &item->dwork.work))
		return true;
	if (item->counted)
		kref_put(&item->ref, wq_bench_item_free);
	return false;
}

/* @n times: queue @item on @wq (blocked, so it stays queued), then cancel it. */
void wq_bench_c_enqueue_cancel(struct wq_bench_item *item, struct workqueue_struct *wq,
			       unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		wq_bench_queue(item, wq);
		if (cancel_work_sync(&item->dwork.work) && item->counted)
			kref_put(&item->ref, wq_bench_item_free);
	}
}

/* @n times: arm @item on @wq for a minute, then cancel it. */
void wq_bench_c_arm_cancel(struct wq_bench_item *item, struct workqueue_struct *wq,
			   unsigned int n)
{
	unsigned int i;

	for (i = 0; i < n; i++) {
		if (item->counted)
			kref_get(&item->ref);
		if (!queue_delayed_work(wq, &item->dwork, 60 * HZ) && item->counted)
			kref_put(&item->ref, wq_bench_item_free);
		if (cancel_delayed_work_sync(&item->dwork) && item->counted)
			kref_put(&item->ref, wq_bench_item_free);
	}
}

/*
 * One round trip: queue @item on @wq and wait for its run; returns the nanoseconds from the
 * call to queue it to the start of the run. @item must have a completion.
 */
u64 wq_bench_c_round_trip(struct wq_bench_item *item, struct workqueue_struct *wq)
{
	u64 start;

	reinit_completion(item->done);
	start = ktime_get_ns();
	wq_bench_queue(item, wq);
	wait_for_completion(item->done);
	return item->ran_at - start;
}

/*
 * One queueing for the throughput run: queue @item on @wq, return how long the call took,
 * and wait for the run, as the kernel's own test_workqueue module does.
 */
u64 wq_bench_c_queue_and_wait(struct wq_bench_item *item, struct workqueue_struct *wq)
{
	u64 start, took;

	reinit_completion(item->done);
	start = ktime_get_ns();
	wq_bench_queue(item, wq);
	took = ktime_get_ns() - start;
	wait_for_completion(item->done);
	return took;
}

/*
 * What Queue::try_spawn asks of C, call for call: a heap item laid out as the library's
 * closure item for a closure that captures nothing (a work_struct and the closure's one-byte
 * slot), its work initialised by the library's own helper with a lockdep class, queued on any
 * CPU, and freed by its run.
 */
struct wq_bench_spawned {
	struct work_struct work;
	u8 closure;
};

static void wq_bench_spawned_fn(struct work_struct *work)
{
	kfree(container_of(work, struct wq_bench_spawned, work));
}

/* @n times: allocate an item, initialise it and queue it on @wq; then flush @wq. */
void wq_bench_c_spawn(struct workqueue_struct *wq, unsigned int n)
{
	static struct lock_class_key key;
	struct wq_bench_spawned *s;
	unsigned int i;

	for (i = 0; i < n; i++) {
		s = kmalloc(sizeof(*s), GFP_KERNEL);
		if (!s)
			break;
		wq_rs_init_work(&s->work, wq_bench_spawned_fn, "wq_bench_c_spawn", &key);
		queue_work_on(WORK_CPU_UNBOUND, wq, &s->work);
	}
	__flush_workqueue(wq);
}

/*
 * What OwnedQueue keeps beside its queue (owned.rs: the queue pointer and the registry of its
 * tracked items, a raw spinlock and a list head).
 */
struct wq_bench_owned_inner {
	struct workqueue_struct *wq;
	raw_spinlock_t lock;
	void *first;
};

/*
 * @n times: create an unbound queue and destroy it, call for call as Builder::build and the
 * drop of an OwnedQueue do: the library's helper (alloc_workqueue("%s", ...)), a heap object
 * beside the queue, the destroy, then the object freed.
 */
void wq_bench_c_build_drop(unsigned int n)
{
	struct wq_bench_owned_inner *inner;
	struct workqueue_struct *wq;
	unsigned int i;

	for (i = 0; i < n; i++) {
		wq = wq_rs_alloc_workqueue("wq_bench_c", WQ_UNBOUND, 0);
		if (!wq)
			break;
		inner = kmalloc(sizeof(*inner), GFP_KERNEL);
		if (inner) {
			inner->wq = wq;
			raw_spin_lock_init(&inner->lock);
			inner->first = NULL;
		}
		destroy_workqueue(wq);
		kfree(inner);
	}
}

/*
 * @n times: re-arm an item of @items (in turn) on @a or @b (in turn) for a minute, then cancel
 * it. The C calls are the library's (OwnedQueue::mod_delayed: cancel_delayed_work(), then
 * queue_delayed_work_on(); then cancel_delayed_work_sync()), and so is the reference
 * counting: one reference for each arming, dropped when refused, and one dropped for each
 * instance a cancel takes. What a tracked item moved between two owned queues does, without
 * the tracking.
 */
void wq_bench_c_move_cancel(struct wq_bench_item **items, unsigned int k,
			    struct workqueue_struct *a, struct workqueue_struct *b,
			    unsigned int first, unsigned int n)
{
	struct wq_bench_item *item;
	unsigned int i;

	for (i = first; i < first + n; i++) {
		item = items[i % k];
		kref_get(&item->ref);
		if (cancel_delayed_work(&item->dwork))
			kref_put(&item->ref, wq_bench_item_free);
		if (!queue_delayed_work_on(WORK_CPU_UNBOUND, i & 1 ? a : b, &item->dwork,
					   60 * HZ))
			kref_put(&item->ref, wq_bench_item_free);
		if (cancel_delayed_work_sync(&item->dwork))
			kref_put(&item->ref, wq_bench_item_free);
	}
}

struct workqueue_struct *wq_bench_c_alloc_unbound(void)
{
	return alloc_workqueue("wq_bench_c_q", WQ_UNBOUND, 0);
}
