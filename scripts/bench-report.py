#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Reads the benchmark module's WQ-BENCH-* lines from a console log, prints the tables and
writes results.json.

usage: bench-report.py CONSOLE smoke|bench OUTDIR

The module (bench/rust_wq_bench_main.rs) runs every path in paired rounds: each round runs
every implementation once, in a seeded random order, and prints their values. From those:
- per implementation: the median of its per-round values, with the interquartile range;
- per comparison ("this library" against another implementation): the per-round cost ratio
  (above 1.00, this library is slower; for operations per second, the other's value over
  ours), reported as the median of the rounds' ratios with its interquartile range and a
  bootstrap 95 % confidence interval of that median (2000 resamples, seeded, so a report is
  reproducible from its console);
- for latency paths: p50, p99 and mean over all the operations the module kept.

Implementations: "rust" (this library, Arc owners), "rust_aref" (this library, an ARef owner
whose count has refcount_t's semantics, inline as kref is), "rust_handle" (this library, Arc
owners, queueing through a QueueHandle), "kernel" (the kernel crate's
kernel::workqueue), "c" (bare C), "c_kref" (C doing the reference counting the Rust ownership
does). Fails if the module did not finish or a path is missing.
"""
import json
import random
import re
import sys

EXPECTED_PATHS = 10
NAMES = {"rust": "this library (Arc)", "rust_aref": "this library (ARef)",
         "rust_handle": "this library (Arc, through a queue handle)",
         "kernel": "kernel crate", "c": "C", "c_kref": "C + kref"}
COMPARISONS = [("rust", "kernel"), ("rust", "c"), ("rust", "c_kref"), ("rust_aref", "c_kref"),
               ("rust_handle", "rust")]
BOOTSTRAP = 2000


def quantile(sorted_v, q):
    """The q-quantile of sorted values, interpolated linearly."""
    if not sorted_v:
        return None
    pos = (len(sorted_v) - 1) * q
    lo = int(pos)
    hi = min(lo + 1, len(sorted_v) - 1)
    return sorted_v[lo] + (sorted_v[hi] - sorted_v[lo]) * (pos - lo)


def summary(values):
    v = sorted(values)
    return {"median": quantile(v, 0.5), "q1": quantile(v, 0.25), "q3": quantile(v, 0.75),
            "n": len(v)}


def bootstrap_ci(values, rng):
    """95 % bootstrap interval of the median of VALUES."""
    n = len(values)
    if n < 2:
        return None, None
    meds = sorted(quantile(sorted(rng.choice(values) for _ in range(n)), 0.5)
                  for _ in range(BOOTSTRAP))
    return quantile(meds, 0.025), quantile(meds, 0.975)


def parse(text):
    start = None
    paths = {}
    for m in re.finditer(r"WQ-BENCH-(START|PATH|ROUND|LAT|END) (\{.*\})\s*$", text, re.M):
        kind, d = m.group(1), json.loads(m.group(2))
        if kind == "START":
            start = d
        elif kind == "PATH":
            d.update(rounds=[], latency={}, ms=None)
            paths[d["id"]] = d
        elif kind == "ROUND":
            paths[d["id"]]["rounds"].append(d)
        elif kind == "LAT":
            paths[d["id"]]["latency"][d["impl"]] = {k: d[k] for k in ("n", "p50", "p99", "mean")}
        elif kind == "END":
            paths[d["id"]]["ms"] = d["ms"]
    return start, [paths[k] for k in sorted(paths)]


def analyse(p, rng):
    impls = p["impls"]
    values = {imp: [r["v"][i] for r in p["rounds"]] for i, imp in enumerate(impls)}
    out = {"id": p["id"], "path": p["path"], "unit": p["unit"], "higher": p["higher"],
           "rounds": len(p["rounds"]), "ms": p["ms"], "impls": impls, "values": values,
           "summary": {imp: summary(v) for imp, v in values.items()},
           "latency": p["latency"], "ratios": {}}
    for ours, other in COMPARISONS:
        if ours not in values or other not in values:
            continue
        ratios = []
        for a, b in zip(values[ours], values[other]):
            if a and b:
                ratios.append(b / a if p["higher"] else a / b)
        if not ratios:
            continue
        s = summary(ratios)
        s["ci_lo"], s["ci_hi"] = bootstrap_ci(ratios, rng)
        out["ratios"][f"{ours}/{other}"] = s
    return out


def fmt_value(s):
    if s is None or s["median"] is None:
        return "–"
    return f"{s['median']:,.0f} ({s['q1']:,.0f}–{s['q3']:,.0f})"


def fmt_ratio(r):
    if r is None:
        return "–"
    ci = "" if r["ci_lo"] is None else f" [{r['ci_lo']:.2f}–{r['ci_hi']:.2f}]"
    return f"{r['median']:.2f}×{ci}"


def tables(results):
    """The two markdown tables: values and ratios, and per-operation latencies."""
    cols = ["rust", "rust_aref", "rust_handle", "kernel", "c", "c_kref"]
    head = (["path", "unit", "rounds"] + [NAMES[c] for c in cols]
            + [f"{NAMES[a]} vs {NAMES[b]}" for a, b in COMPARISONS])
    lines = ["| " + " | ".join(head) + " |", "|" + " --- |" * len(head)]
    for p in results["paths"]:
        unit = p["unit"] + (" (higher is better)" if p["higher"] else "")
        cells = [p["path"], unit, str(p["rounds"])]
        cells += [fmt_value(p["summary"].get(c)) for c in cols]
        cells += [fmt_ratio(p["ratios"].get(f"{a}/{b}")) for a, b in COMPARISONS]
        lines.append("| " + " | ".join(cells) + " |")
    lat = ["| path | implementation | operations kept | p50 (ns) | p99 (ns) | mean (ns) |",
           "| --- | --- | --- | --- | --- | --- |"]
    for p in results["paths"]:
        for c in cols:
            l = p["latency"].get(c)
            if l:
                lat.append(f"| {p['path']} | {NAMES[c]} | {l['n']:,} | {l['p50']:,} | "
                           f"{l['p99']:,} | {l['mean']:,} |")
    return "\n".join(lines), "\n".join(lat)


def main():
    console, mode, outdir = sys.argv[1:4]
    text = open(console, errors="replace").read()
    start, paths = parse(text)
    done = "WQ-BENCH-DONE" in text
    rng = random.Random(0)
    results = {"mode": (start or {}).get("mode"), "seed": (start or {}).get("seed"),
               "paths": [analyse(p, rng) for p in paths]}
    values, latencies = tables(results)
    print(f"seed {results['seed']}: each value is the median over the rounds (interquartile "
          "range); each ratio the median of the per-round ratios [bootstrap 95 % interval]")
    print(values)
    print()
    print("Per-operation latencies, over every operation kept:")
    print(latencies)
    if mode == "bench":
        with open(f"{outdir}/results.json", "w") as f:
            json.dump(results, f, indent=1)
        print(f">>> results: {outdir}/results.json")
    ok = done and len(paths) == EXPECTED_PATHS and all(p["rounds"] for p in results["paths"])
    if not ok:
        print(f"FAIL: the benchmark module {'finished' if done else 'did not finish'}, "
              f"{len(paths)} of {EXPECTED_PATHS} paths reported", file=sys.stderr)
        sys.exit(1)
    print(f">>> benchmarks ({mode}, seed {results['seed']}): all {len(paths)} paths measured")


if __name__ == "__main__":
    main()
