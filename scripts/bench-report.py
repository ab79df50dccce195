#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Reads the benchmark module's WQ-BENCH lines from a console log, prints one table and
writes results.json.

usage: bench-report.py CONSOLE smoke|bench OUTDIR

Each WQ-BENCH line is one path: {"path", "unit", "cols": {impl: {"value", "p50", "p99"}}}
with the medians over the rounds. Implementations: "rust" (this library, `Arc` owners),
"rust_aref" (this library, `ARef` owners counted inline, as `kref` is), "kernel" (the kernel
crate's kernel::workqueue), "c" (bare C), "c_kref" (C with the reference counting the Rust
ownership model does). Fails if the module did not finish or a path is missing.
"""
import json
import re
import sys

EXPECTED_PATHS = 9
COLUMNS = [("rust", "this library (Arc)"), ("rust_aref", "this library (ARef)"),
           ("kernel", "kernel crate"), ("c", "C"), ("c_kref", "C + kref")]


def ratio(a, b, higher_is_better):
    if not a or not b:
        return "–"
    # Always "this library relative to the other", as a cost: above 1.00 means slower.
    r = b / a if higher_is_better else a / b
    return f"{r:.2f}×"


def fmt(v):
    return "–" if v is None else f"{v:,}"


def main():
    console, mode, outdir = sys.argv[1:4]
    text = open(console, errors="replace").read()
    rows = [json.loads(m.group(1)) for m in re.finditer(r"WQ-BENCH (\{.*\})\s*$", text, re.M)]
    done = "WQ-BENCH-DONE" in text
    ok = done and len(rows) == EXPECTED_PATHS
    header = ["path", "unit"] + [name for _, name in COLUMNS] + [
        "Arc vs kernel crate", "Arc vs C", "Arc vs C + kref", "ARef vs C + kref"]
    lines = ["| " + " | ".join(header) + " |", "|" + " --- |" * len(header)]
    for row in rows:
        cols = row["cols"]
        higher = row["unit"].endswith("/s")
        value = {k: (cols[k]["value"] if k in cols else None) for k, _ in COLUMNS}
        cells = [row["path"], row["unit"] + (" (higher is better)" if higher else "")]
        for k, _ in COLUMNS:
            v = value[k]
            if v is not None and cols[k]["p99"]:
                cells.append(f"{fmt(v)} (p50 {fmt(cols[k]['p50'])}, p99 {fmt(cols[k]['p99'])})")
            else:
                cells.append(fmt(v))
        r = value["rust"]
        cells += [ratio(r, value["kernel"], higher), ratio(r, value["c"], higher),
                  ratio(r, value["c_kref"], higher),
                  ratio(value["rust_aref"], value["c_kref"], higher)]
        lines.append("| " + " | ".join(cells) + " |")
    print("\n".join(lines))
    if mode == "bench":
        with open(f"{outdir}/results.json", "w") as f:
            json.dump({"paths": rows}, f, indent=1)
        print(f">>> results: {outdir}/results.json")
    if not ok:
        print(f"FAIL: the benchmark module {'finished' if done else 'did not finish'}, "
              f"{len(rows)} of {EXPECTED_PATHS} paths reported", file=sys.stderr)
        sys.exit(1)
    print(f">>> benchmarks ({mode}): all {len(rows)} paths measured")


main()
