#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# qemu-kunit.sh run|check|smoke|bench|soak KDIR MODDIR
#
# Boots the kernel built in KDIR under QEMU with an initramfs of busybox and this project's
# modules, as built in MODDIR (scripts/build-modules.sh).
#   run:   loads the sample, shows its log lines, unloads it.
#   check: loads the test modules (their KUnit suites run at insmod), unloads them, scans
#          for leaks, then parses the console with the kernel's own kunit.py.
#   smoke: loads the benchmark module for a few iterations of every path and checks that
#          each reported (the production kernel in `make check`).
#   bench: loads the benchmark module for the full run, prints the table and writes
#          .build/bench/results.json.
#   soak:  loads the test module for long runs of the race and model suites (`make soak`),
#          with their module parameters from WQ_MODEL_SEED, WQ_MODEL_OPS and WQ_RACE_ROUNDS,
#          and prints their counts.
# WQ_KUNIT_FILTER (a kunit.filter_glob) picks the suites that run; the check then expects
# exactly the suites that it matches.
# Every mode fails on any kernel report (WARNING, BUG, Oops, KASAN, lockdep, kmemleak,
# debug-objects, hung task) anywhere in the console, and every boot has a time limit.
set -euo pipefail
. "$(dirname "$0")/env.sh"

MODE=$1
KDIR=$(cd "$2" && pwd)
MODDIR=$(cd "$3" && pwd)
# The kernel's flavour, from its cache directory's name (scripts/build-kernel.sh): the debug and
# production boots keep .build/MODE, the detector flavours' boots get their own.
FLAVOUR=$(basename "$KDIR" | sed -nE 's/.*-(debug|prod|kcsan|rt)-[0-9a-f]+$/\1/p')
case "$FLAVOUR" in
kcsan | rt) OUT="$WQ_ROOT/.build/$MODE-$FLAVOUR" ;;
*) OUT="$WQ_ROOT/.build/$MODE" ;;
esac
BOOT_TIMEOUT=${WQ_BOOT_TIMEOUT:-600}
# A soak's cases run for as long as it asks: KUnit's limit per case (kunit.timeout, which
# 6.12 lacks: there it stays 300 s), the hung-task detector's, which would otherwise report
# insmod waiting for the case, and the boot's all follow from its length.
SOAK_CASE_S=${WQ_SOAK_CASE_S:-7200}
[ "$MODE" = soak ] && BOOT_TIMEOUT=${WQ_BOOT_TIMEOUT:-$((3 * SOAK_CASE_S))}
CPUS=${WQ_CPUS:-4}
rm -rf "$OUT" && mkdir -p "$OUT"

# An out-of-tree (O=) build directory links its source tree as `source`.
KSRC=$KDIR
[ -e "$KDIR/source" ] && KSRC=$(cd "$KDIR/source" && pwd -P)

case "$MODE" in
run) MODULES=(samples/rust_wq_sample) ;;
check) MODULES=(tests/rust_wq_test samples/rust_wq_sample) ;;
soak) MODULES=(tests/rust_wq_test) ;;
smoke | bench) MODULES=(bench/rust_wq_bench) ;;
*) die "usage: $0 run|check|smoke|bench|soak KDIR MODDIR" ;;
esac
# Module parameters, by module name: the benchmark's mode, and the model test's seed and
# number of operations (`make check MODEL_SEED=0x... MODEL_OPS=...`; 0 draws a seed).
declare -A PARAMS=(
	[rust_wq_bench]="mode=$([ "$MODE" = bench ] && echo full || echo smoke) seed=${WQ_BENCH_SEED:-0}"
	[rust_wq_test]="model_seed=${WQ_MODEL_SEED:-0} model_ops=${WQ_MODEL_OPS:-100000} race_rounds=${WQ_RACE_ROUNDS:-300}"
)
# The KUnit suites to run (all of ours by default; a glob, as kunit.filter_glob takes it).
FILTER=${WQ_KUNIT_FILTER:-workqueue*}

# --- initramfs -------------------------------------------------------------------------
root="$OUT/initramfs"
mkdir -p "$root"/{bin,dev,proc,sys,lib/modules}
cp /bin/busybox "$root/bin/busybox"
names=()
for m in "${MODULES[@]}"; do
	[ -f "$MODDIR/$m.ko" ] || die "$m.ko is not built in $MODDIR"
	cp "$MODDIR/$m.ko" "$root/lib/modules/"
	names+=("$(basename "$m")")
done

cat >"$root/init" <<INIT
#!/bin/busybox sh
/bin/busybox --install -s /bin
mount -t proc proc /proc
mount -t sysfs sysfs /sys
mount -t devtmpfs devtmpfs /dev 2>/dev/null
mount -t debugfs debugfs /sys/kernel/debug 2>/dev/null
# Fault injection for allocation-failure tests: fail every slab allocation of the tasks that
# ask for it (task-filter), including sleeping ones, and nothing else.
if [ -d /sys/kernel/debug/failslab ]; then
	cd /sys/kernel/debug/failslab
	echo Y > task-filter; echo N > ignore-gfp-wait; echo 100 > probability
	echo 1 > interval; echo -1 > times; echo 0 > verbose
	cd /
fi
echo "WQ-BEGIN"
$(for m in "${names[@]}"; do
	echo "insmod /lib/modules/$m.ko ${PARAMS[$m]:-} || echo \"WQ-ERROR: insmod $m failed\""
done)
for m in ${names[*]}; do
	rmmod \$m || echo "WQ-ERROR: rmmod \$m failed"
done
if [ -w /sys/kernel/debug/kmemleak ]; then
	# kmemleak reports only objects older than 5 s, and only when a scan finds them
	# unreferenced with the same contents as the scan before (a first scan merely records
	# their checksums): wait out the age, then scan twice.
	sleep 6
	echo scan > /sys/kernel/debug/kmemleak
	echo scan > /sys/kernel/debug/kmemleak
	cat /sys/kernel/debug/kmemleak
	echo "WQ-KMEMLEAK-SCANNED"
else
	echo "WQ-NOTE: this kernel has no kmemleak: no leak scan"
fi
echo "WQ-END"
reboot -f
INIT
chmod +x "$root/init"
(cd "$root" && find . | cpio -o -H newc --quiet | gzip -1) >"$OUT/initramfs.cpio.gz"

# --- boot ------------------------------------------------------------------------------
# The hung-task detector reports a task blocked for longer than this. KUnit's insmod waits
# for each test case uninterruptibly, and the randomized model test runs for most of a minute
# under emulation: two minutes still catch a real hang long before the boot's time limit.
HUNG=
[ "$MODE" = check ] && HUNG="sysctl.kernel.hung_task_timeout_secs=${WQ_HUNG_TASK_SECS:-120}"
[ "$MODE" = soak ] && HUNG="sysctl.kernel.hung_task_timeout_secs=$((SOAK_CASE_S + 60)) kunit.timeout=$SOAK_CASE_S"
# The guest CPU is QEMU's `max` without 5-level paging (la57): with LA57, KASAN may report
# a false wild-memory-access in an interrupt that arrives while identify_boot_cpu() rebuilds
# the CPU's feature flags (KASAN_SHADOW_START briefly assumes 4 levels; seen on 6.12, and
# reported upstream for 7.1 in "kasan: Fix false-positive wild-memory-access on x86 under
# 5-level paging", June 2026). Four levels leave every detector as it is.
CPU_MODEL=max,la57=off
console="$OUT/console.log"
log "booting $(basename "$KDIR") with ${names[*]} (limit ${BOOT_TIMEOUT}s)"
start=$(date +%s.%N)
set +e
timeout --foreground -k 5 "$BOOT_TIMEOUT" qemu-system-x86_64 \
	-accel tcg,thread=multi -cpu "$CPU_MODEL" -smp "$CPUS" -m 1G \
	-kernel "$KDIR/arch/x86/boot/bzImage" -initrd "$OUT/initramfs.cpio.gz" \
	-append "console=ttyS0 panic=-1 oops=panic loglevel=7 kunit.filter_glob=$FILTER $HUNG" \
	-nographic -no-reboot -monitor none </dev/null | tr -d '\r' >"$console"
qemu_rc=${PIPESTATUS[0]}
set -e
boot_s=$(echo "$(date +%s.%N) - $start" | bc)
log "QEMU exited ($qemu_rc) after ${boot_s%.*}s; console in $console"

failed=0
if [ "$qemu_rc" -eq 124 ] || [ "$qemu_rc" -eq 137 ]; then
	echo "FAIL: the boot hit its ${BOOT_TIMEOUT}s time limit" >&2
	failed=1
fi
grep -q '^WQ-END' "$console" || {
	echo "FAIL: the init script did not finish (see the console tail below)" >&2
	tail -40 "$console" >&2
	failed=1
}
if grep -n 'WQ-ERROR' "$console" >&2; then
	failed=1
fi
# The race tests need every CPU QEMU was given; a kernel that cannot enumerate them (no ACPI,
# no MP table) silently boots with one.
if ! grep -q "smp: Brought up .*, $CPUS CPUs" "$console"; then
	echo "FAIL: the guest did not bring up $CPUS CPUs: $(grep -m1 'smp: Brought up' "$console")" >&2
	failed=1
fi

# --- kernel reports --------------------------------------------------------------------
# Anything here fails the run, whatever KUnit said.
bash "$WQ_ROOT/scripts/scan-reports.sh" "$console" "$OUT/reports.txt" || failed=1

if [ "$MODE" = run ]; then
	echo "----- kernel log of the sample -----"
	grep -E 'rust_wq_sample' "$console" || true
	echo "------------------------------------"
	exit $failed
fi

if [ "$MODE" = soak ]; then
	# What the soak did: the model's seed, speed and outcome counts, and each race test's.
	echo "----- soak on the $FLAVOUR kernel ($(basename "$KDIR")) -----"
	grep -E 'rust_wq_test: ' "$console" | grep -v 'loading out-of-tree' | sed -E 's/^\[[ 0-9.]+\] //' || true
	echo "------------------------------------"
fi

if [ "$MODE" = smoke ] || [ "$MODE" = bench ]; then
	# The results: one table on stdout; the full run also writes .build/bench/results.json.
	python3 "$WQ_ROOT/scripts/bench-report.py" "$console" "$MODE" "$OUT" || failed=1
	exit $failed
fi

# --- KUnit -----------------------------------------------------------------------------
# The boot-time executor prints an empty KTAP block first; parse what our modules printed.
sed -n '/^WQ-BEGIN/,/^WQ-END/p' "$console" >"$OUT/ktap.log"
set +e
python3 "$KSRC/tools/testing/kunit/kunit.py" parse --json="$OUT/kunit.json" "$OUT/ktap.log" \
	>"$OUT/kunit-summary.txt" 2>&1
kunit_rc=$?
set -e
grep -vE '^\{|^ *"' "$OUT/kunit-summary.txt" | sed -n '/=====/,$p' || true
[ $kunit_rc -eq 0 ] || {
	echo "FAIL: kunit.py reported failures (exit $kunit_rc)" >&2
	failed=1
}

# Every suite that the filter matches, of those the module registers (scripts/gen-kunit.py
# lists them), must have run.
expected=()
for suite in $(cat "$WQ_ROOT/tests/generated/suites.txt"); do
	# shellcheck disable=SC2053 # FILTER is a glob, as kunit.filter_glob takes it.
	[[ $suite == ${FILTER%%.*} ]] && expected+=("$suite")
done
python3 "$WQ_ROOT/scripts/kunit-totals.py" "$OUT/kunit.json" "${expected[@]}" || failed=1
exit $failed
