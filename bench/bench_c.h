/* SPDX-License-Identifier: GPL-2.0 */
/* The C side of the benchmarks; rust_wq_bench_main.rs declares the same. */
#ifndef WORKQUEUE_RS_BENCH_C_H
#define WORKQUEUE_RS_BENCH_C_H

#include <linux/types.h>

struct completion;
struct workqueue_struct;
struct wq_bench_item;

bool wq_bench_smoke(void);
u64 wq_bench_seed(void);
u64 wq_bench_now(void);
struct completion *wq_bench_done_new(void);
void wq_bench_done_free(struct completion *done);
void wq_bench_done_signal(struct completion *done);
void wq_bench_done_wait(struct completion *done);
void wq_bench_done_reinit(struct completion *done);
u64 wq_bench_threads(int n, void (*body)(void *ctx, int index), void *ctx);
struct wq_bench_item *wq_bench_item_new(bool counted, struct completion *done);
void wq_bench_item_put(struct wq_bench_item *item);
void wq_bench_c_enqueue_cancel(struct wq_bench_item *item, struct workqueue_struct *wq,
			       unsigned int n);
void wq_bench_c_arm_cancel(struct wq_bench_item *item, struct workqueue_struct *wq,
			   unsigned int n);
u64 wq_bench_c_round_trip(struct wq_bench_item *item, struct workqueue_struct *wq);
u64 wq_bench_c_queue_and_wait(struct wq_bench_item *item, struct workqueue_struct *wq);
void wq_bench_c_spawn(struct workqueue_struct *wq, unsigned int n);
void wq_bench_c_build_drop(unsigned int n);
void wq_bench_c_move_cancel(struct wq_bench_item **items, unsigned int k,
			    struct workqueue_struct *a, struct workqueue_struct *b,
			    unsigned int first, unsigned int n);
struct workqueue_struct *wq_bench_c_alloc_unbound(void);

#endif /* WORKQUEUE_RS_BENCH_C_H */
