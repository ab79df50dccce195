/* SPDX-License-Identifier: GPL-2.0 */
/* The C loops of the benchmarks; bench.rs declares the same. */
#ifndef WORKQUEUE_RS_BENCH_C_H
#define WORKQUEUE_RS_BENCH_C_H

#include <linux/types.h>

struct workqueue_struct;

u64 wq_bench_c_enqueue(struct workqueue_struct *wq, unsigned int n);
u64 wq_bench_c_enqueue_delayed(struct workqueue_struct *wq, unsigned int n);

#endif /* WORKQUEUE_RS_BENCH_C_H */
