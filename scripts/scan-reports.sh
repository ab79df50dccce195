#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# scan-reports.sh CONSOLE REPORTS_OUT: fails (exit 1, listing them) if the kernel console log
# CONSOLE holds any kernel report: a warning, BUG, Oops, KASAN, UBSAN, lockdep, kmemleak or
# debug-objects report, a refcount_t warning, an RCU stall, a hung task, a panic, a
# deprecated-workqueue warning, or a test assertion that failed outside its case's thread.
# A console that is missing or empty fails too: nothing was scanned. Used by every boot of
# the project (qemu-kunit.sh) and by `make kunit`.
#
# The one exception is a KCSAN data-race report whose exact function pair is listed, with the
# reason it is not the library's, in scripts/kcsan-filters.txt: kcsan-filter.py takes its
# whole report out of the scan and says how many it took.
set -euo pipefail

console=$1
out=$2
if [ ! -s "$console" ]; then
	echo "FAIL: the console log $console is missing or empty: nothing to scan" >&2
	exit 1
fi
REPORTS='WARNING:|BUG:|Oops|KASAN|UBSAN:|possible (circular|recursive) locking|'
REPORTS+='inconsistent lock state|lockdep|unreferenced object|ODEBUG|refcount_t:|'
REPORTS+='rcu: INFO:|rcu_.* self-detected stall|RCU stall|detected stalls on CPUs|'
REPORTS+='blocked for more than|hung_task|soft lockup|hard LOCKUP|'
REPORTS+='Kernel panic|Call Trace:|general protection|enqueued on deprecated workqueue|'
REPORTS+='suspected memory leak|ASSERTION FAILED'
# Boot banners that merely announce a detector is on. Boot-time KUnit runs only our suites
# (kunit.filter_glob), so the kernel's own tests cannot add reports of their own.
BENIGN='KernelAddressSanitizer initialized|kmemleak: Kernel memory leak detector initialized|'
BENIGN+='Lock dependency validator|lockdep: fixed|... MAX_LOCK|... MAX_LOCKDEP|'
BENIGN+='... CHAINHASH|... CLASSHASH|RCU lockdep checking is enabled|'
# The kernel echoes its command line, which names the hung-task setting.
BENIGN+='[Cc]ommand line:|'
# KUnit's result and header lines name cases and suites (`src_lockdep_rs_64`), not reports.
# Lines come as NNN:[ time] text, or NNN:text where the console has no timestamps (kunit.py).
BENIGN+='^[0-9]+:(\[[ 0-9.]+\])? *((not )?ok [0-9]+|# Subtest:) [a-z0-9_]+$'
scanned="$out.console"
python3 "$(dirname "$0")/kcsan-filter.py" "$console" "$(dirname "$0")/kcsan-filters.txt" "$scanned"
# grep exits 2 on a read error: that is a failure, not a clean console.
set +e
grep -nE "$REPORTS" "$scanned" >"$out.all"
rc=$?
set -e
[ $rc -le 1 ] || { echo "FAIL: could not read $console" >&2; exit 1; }
if grep -vE "$BENIGN" "$out.all" >"$out"; then
	echo "FAIL: kernel reports in the console:" >&2
	cat "$out" >&2
	rm -f "$out.all" "$scanned"
	exit 1
fi
rm -f "$out.all" "$scanned"
exit 0
