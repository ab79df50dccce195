#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Reads kunit.py's --json output, checks the expected suites ran, prints the totals line.

usage: kunit-totals.py KUNIT_JSON SUITE...
The last line printed is `N passed, N failed[, N skipped]` (counted over test cases).
"""
import json
import sys


def walk(node, suites):
    """Collects (suite, cases) for every node that has test cases."""
    cases = node.get("test_cases", [])
    if cases:
        suites[node.get("name", "?")] = cases
    for sub in node.get("sub_groups", []):
        walk(sub, suites)


def main():
    with open(sys.argv[1]) as f:
        data = json.load(f)
    suites = {}
    walk(data, suites)
    status = 0
    for name in sys.argv[2:]:
        if name not in suites:
            print(f"FAIL: suite {name} did not run", file=sys.stderr)
            status = 1
    counts = {"PASS": 0, "FAIL": 0, "SKIP": 0}
    for suite, cases in suites.items():
        for case in cases:
            s = case.get("status", "FAIL")
            if s not in counts:
                s = "FAIL"
            counts[s] += 1
            if s == "FAIL":
                print(f"FAIL: {suite}.{case.get('name')}", file=sys.stderr)
                status = 1
    if sum(counts.values()) == 0:
        print("FAIL: no test case ran", file=sys.stderr)
        status = 1
    line = f"{counts['PASS']} passed, {counts['FAIL']} failed"
    if counts["SKIP"]:
        line += f", {counts['SKIP']} skipped"
    print(line)
    sys.exit(status)


main()
