#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# scan-reports.sh CONSOLE REPORTS_OUT: fails (exit 1, listing them) if the kernel console log
# CONSOLE holds any kernel report: a warning, BUG, Oops, KASAN, lockdep, kmemleak or
# debug-objects report, a hung task, a panic, a deprecated-workqueue warning. Used by every
# boot of the project (qemu-kunit.sh) and by `make kunit`.
set -euo pipefail

console=$1
out=$2
REPORTS='WARNING:|BUG:|Oops|KASAN|possible (circular|recursive) locking|inconsistent lock state|'
REPORTS+='lockdep|unreferenced object|ODEBUG|blocked for more than|hung_task|'
REPORTS+='Kernel panic|Call Trace:|general protection|enqueued on deprecated workqueue|'
REPORTS+='suspected memory leak'
# Boot banners that merely announce a detector is on. Boot-time KUnit runs only our suites
# (kunit.filter_glob), so the kernel's own tests cannot add reports of their own.
BENIGN='KernelAddressSanitizer initialized|kmemleak: Kernel memory leak detector initialized|'
BENIGN+='Lock dependency validator|lockdep: fixed|... MAX_LOCK|... MAX_LOCKDEP|'
BENIGN+='... CHAINHASH|... CLASSHASH|RCU lockdep checking is enabled|'
# The kernel echoes its command line, which names the hung-task setting.
BENIGN+='[Cc]ommand line:'
if grep -nE "$REPORTS" "$console" | grep -vE "$BENIGN" >"$out"; then
	echo "FAIL: kernel reports in the console:" >&2
	cat "$out" >&2
	exit 1
fi
exit 0
