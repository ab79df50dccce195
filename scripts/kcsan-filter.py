#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""kcsan-filter.py CONSOLE FILTERS OUT: copies a kernel console log to OUT without the KCSAN
data-race reports whose exact function pair FILTERS lists (scripts/kcsan-filters.txt), and
prints how many of each it took out. Every other line, and every other report, is kept."""
import re
import sys


def main():
    console, filters, out = sys.argv[1:]
    pairs = {}
    for line in open(filters):
        line = line.split("#", 1)[0].strip()
        if line:
            a, b = (f.strip() for f in line.split("/"))
            pairs[frozenset((a, b))] = f"{a} / {b}"
    lines = open(console, errors="replace").read().split("\n")
    # "BUG: KCSAN: data-race in func_a / func_b", a module's functions followed by "[module]".
    side = r"(\S+)(?: \[\S+\])?"
    bug = re.compile(rf"BUG: KCSAN: data-race in {side} / {side}\s*$")
    rule = re.compile(r"^(\[[ 0-9.]+\] )?={20,}\s*$")
    keep, hits, i = [], {}, 0
    while i < len(lines):
        m = bug.search(lines[i])
        key = frozenset(m.groups()) if m else None
        if key in pairs:
            # A report runs from the rule above its BUG line to the next rule.
            if keep and rule.match(keep[-1]):
                keep.pop()
            i += 1
            while i < len(lines) and not rule.match(lines[i]):
                i += 1
            i += 1
            hits[pairs[key]] = hits.get(pairs[key], 0) + 1
            continue
        keep.append(lines[i])
        i += 1
    with open(out, "w") as f:
        f.write("\n".join(keep))
    for pair, n in sorted(hits.items()):
        print(f"filtered {n} KCSAN report(s) of {pair}: scripts/kcsan-filters.txt says why")


if __name__ == "__main__":
    main()
