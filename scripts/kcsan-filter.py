#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""kcsan-filter.py CONSOLE FILTERS OUT: copies a kernel console log to OUT without the KCSAN
data-race reports whose exact function pair FILTERS lists (scripts/kcsan-filters.txt), and
prints how many of each it took out.

Only a report's own lines go: its opening rule, its BUG line, then lines shaped like a KCSAN
report's body, up to its closing rule. A line of any other shape before the closing rule (a
warning another CPU printed meanwhile, say), or a missing closing rule, keeps the whole report
in the copy, so that the scan fails on it: a filter never hides anything but the report."""
import re
import sys

# A console line's prefixes: "[   48.251608] ", and "[ T43] " with PRINTK_CALLER.
PREFIX = re.compile(r"^(\[[^\]]*\] ?)+")
# A function as KCSAN names it, with its module's tag if it is in one: "func [module]".
SIDE = r"(\S+(?: \[\S+\])?)"
BUG = re.compile(rf"^BUG: KCSAN: data-race in {SIDE} / {SIDE}\s*$")
RULE = re.compile(r"^={20,}\s*$")
BODY = [re.compile(p) for p in (
    r"^$",
    r"^(read|write|read-write)\b.* by (task \d+|interrupt) on cpu \d+:$",
    r"^ +\S+\+0x[0-9a-f]+/0x[0-9a-f]+( \[\S+\])?$",
    r"^value changed: 0x[0-9a-f]+ -> 0x[0-9a-f]+$",
    r"^Reported by Kernel Concurrency Sanitizer on:$",
    r"^CPU: \d+ ",
    r"^Tainted: ",
    r"^Hardware name: ",
    r"^Workqueue: ",
    # KCSAN_VERBOSE: the locks held and the IRQ state of the other side.
    r"^(no )?locks? held by ",
    r"^ #\d+: ",
    r"^irq event stamp: \d+$",
    r"^(hard|soft)irqs last +(en|dis)abled at ",
)]
# A report is longer than this only if something else got into it.
MAX_REPORT_LINES = 200


def text(line):
    return PREFIX.sub("", line)


def main():
    console, filters, out = sys.argv[1:]
    pairs = {}
    for line in open(filters):
        line = line.split("#", 1)[0].strip()
        if line:
            a, b = (f.strip() for f in line.split(" / "))
            pairs[frozenset((a, b))] = f"{a} / {b}"
    lines = open(console, errors="replace").read().split("\n")
    keep, hits, i = [], {}, 0
    while i < len(lines):
        m = BUG.match(text(lines[i]))
        key = frozenset(m.groups()) if m else None
        if key in pairs:
            # The report's lines, up to and including its closing rule, if all are its own.
            j = i + 1
            while j < len(lines) and j - i < MAX_REPORT_LINES:
                t = text(lines[j])
                if RULE.match(t) or not any(b.match(t) for b in BODY):
                    break
                j += 1
            if j < len(lines) and RULE.match(text(lines[j])):
                if keep and RULE.match(text(keep[-1])):
                    keep.pop()
                i = j + 1
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
