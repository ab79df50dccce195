#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# kunit-run.sh [KUNIT.PY ARGS...]: the test module's suites built into the kernel and run by
# the kernel's own `tools/testing/kunit/kunit.py run`, as kernel developers run KUnit.
#
# kunit.py builds and boots a kernel from a source tree, so it gets an overlay of the cached
# pristine source (hard links, never written to): a new directory, lib/workqueue_rs/, with a
# Kconfig, a Makefile and this project's src/ and tests/ linked in, hooked into lib/Kconfig.debug
# and lib/Makefile (both replaced in the overlay by edited copies, so the pristine files are
# untouched). tests/.kunitconfig enables the suites and the same debug options as the test
# kernel of `make check`. Extra arguments go to kunit.py (KUNIT_ARGS in the Makefile), e.g.
# --filter_glob=workqueue_control.* to run one suite.
#
# The same kernel reports that fail `make check` (KASAN, lockdep, warnings...) fail this too.
set -euo pipefail
. "$(dirname "$0")/env.sh"

KSRC=$(cat "$WQ_CACHE/src/$WQ_KPKG.stamp" 2>/dev/null) || die "no kernel source: run make setup"
BASE="$WQ_CACHE/kunit/$(basename "$KSRC")"
OVERLAY="$BASE/src"
BUILD="$BASE/build"
OUT="$WQ_ROOT/.build/kunit"
mkdir -p "$OUT"

if [ ! -f "$OVERLAY/.wq-overlay" ]; then
	log "preparing a kunit.py overlay of $(basename "$KSRC") (hard links)"
	rm -rf "$OVERLAY"
	mkdir -p "$BASE"
	cp -al "$KSRC" "$OVERLAY"
	# Replace (never edit through a hard link) the two files that hook our directory in.
	for f in lib/Kconfig.debug lib/Makefile; do
		cp "$KSRC/$f" "$OVERLAY/$f.new"
		rm "$OVERLAY/$f"
		mv "$OVERLAY/$f.new" "$OVERLAY/$f"
	done
	printf '\nsource "lib/workqueue_rs/Kconfig"\n' >>"$OVERLAY/lib/Kconfig.debug"
	printf '\nobj-$(CONFIG_WORKQUEUE_RS_KUNIT) += workqueue_rs/\n' >>"$OVERLAY/lib/Makefile"
	touch "$OVERLAY/.wq-overlay"
fi

# Our directory: regenerated every run (it is small), with the sources linked in.
dir="$OVERLAY/lib/workqueue_rs"
rm -rf "$dir"
mkdir -p "$dir"
ln -s "$WQ_ROOT/src" "$dir/src"
ln -s "$WQ_ROOT/tests" "$dir/tests"
cat >"$dir/Kconfig" <<'KCONFIG'
# SPDX-License-Identifier: GPL-2.0
config WORKQUEUE_RS_KUNIT
	bool "KUnit tests of the Rust workqueue library" if !KUNIT_ALL_TESTS
	depends on KUNIT=y && RUST
	default KUNIT_ALL_TESTS
	help
	  The KUnit suites of the out-of-tree Rust workqueue library, built in.
KCONFIG
cat >"$dir/Makefile" <<'MAKEFILE'
# SPDX-License-Identifier: GPL-2.0
obj-$(CONFIG_WORKQUEUE_RS_KUNIT) += rust_wq_test.o
rust_wq_test-y := tests/rust_wq_test_main.o tests/workqueue_helpers.o tests/test_helpers.o \
	tests/generated/kunit_suites.o
include $(src)/src/workqueue.mk
MAKEFILE

cd "$OVERLAY"
set +e
python3 tools/testing/kunit/kunit.py run \
	--kunitconfig="$WQ_ROOT/tests/.kunitconfig" --arch=x86_64 --build_dir="$BUILD" \
	--make_options "LLVM=$WQ_LLVM_SUFFIX" --jobs="$(nproc)" \
	--qemu_args="-smp ${WQ_CPUS:-4}" --qemu_args="-m 1G" \
	--kernel_args="sysctl.kernel.hung_task_timeout_secs=${WQ_HUNG_TASK_SECS:-120}" \
	--timeout="${WQ_BOOT_TIMEOUT:-900}" --json="$OUT/kunit.json" "$@" 2>&1 |
	tee "$OUT/kunit.log"
rc=${PIPESTATUS[0]}
set -e
# kunit.py keeps the kernel's whole output in the build directory.
cp "$BUILD/test.log" "$OUT/console.log" 2>/dev/null || cp "$OUT/kunit.log" "$OUT/console.log"
bash "$WQ_ROOT/scripts/scan-reports.sh" "$OUT/console.log" "$OUT/reports.txt" || rc=1
exit "$rc"
