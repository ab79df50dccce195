#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# kunit-run.sh FILTER [KUNIT.PY ARGS...]: the test module's suites built into the kernel and
# run by the kernel's own `tools/testing/kunit/kunit.py run`, as kernel developers run KUnit.
# kunit-run.sh --cached-only: whether that kernel is already built (for .ci/run).
#
# kunit.py builds and boots a kernel from a source tree, so it gets an overlay of the cached
# pristine source (hard links, never written to): a new directory, lib/workqueue_rs/, with a
# Kconfig, a Makefile and this project's src/ and tests/ linked in, hooked into lib/Kconfig.debug
# and lib/Makefile (both replaced in the overlay by edited copies, so the pristine files are
# untouched). tests/.kunitconfig enables the suites and the same debug options as the test
# kernel of `make check`. FILTER is kunit.py's filter glob: `workqueue*`, the library's
# suites, as `make check` runs (the kernel crate's own suites are built in too, and its
# spinlock test queues on system_wq, which 7.x reports as deprecated); `workqueue_control.*`
# runs one suite. Further arguments go to kunit.py run (KUNIT_ARGS in the Makefile), except
# `--filter_glob=GLOB`, which replaces FILTER: kunit.py takes the glob as its positional
# argument, and `--filter_glob` is how its kernel parameter (kunit.filter_glob) is known.
#
# The same kernel reports that fail `make check` (KASAN, lockdep, warnings...) fail this too.
set -euo pipefail
. "$(dirname "$0")/env.sh"

KSRC=$(cat "$WQ_CACHE/src/$WQ_KPKG.stamp" 2>/dev/null) || KSRC=
BASE="$WQ_CACHE/kunit/$(basename "${KSRC:-none}")"
OVERLAY="$BASE/src"
BUILD="$BASE/build"
OUT="$WQ_ROOT/.build/kunit"

# --cached-only: succeed if kunit.py's kernel is already built (then a run rebuilds only
# what changed, in a minute or two), without building or running anything.
if [ "${1:-}" = --cached-only ]; then
	[ -n "$KSRC" ] && [ -f "$BUILD/vmlinux" ]
	exit
fi
[ -n "$KSRC" ] || die "no kernel source: run make setup"

FILTER=${1:?usage: kunit-run.sh FILTER [KUNIT.PY ARGS...]}
shift
args=()
while [ $# -gt 0 ]; do
	case $1 in
	--filter_glob=*) FILTER=${1#--filter_glob=} ;;
	--filter_glob) FILTER=${2:?--filter_glob needs a glob}; shift ;;
	*) args+=("$1") ;;
	esac
	shift
done

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
# As tests/Kbuild: the library's counters that only the tests read.
rustflags-y += --cfg wq_test_hooks
MAKEFILE

# kunit.py would pick KVM, which cannot run a guest here (see scripts/qemu-tcg.sh).
mkdir -p "$OUT/bin"
ln -sf "$WQ_ROOT/scripts/qemu-tcg.sh" "$OUT/bin/qemu-system-x86_64"
export PATH="$OUT/bin:$PATH"

cd "$OVERLAY"
set +e
python3 tools/testing/kunit/kunit.py run \
	--kunitconfig="$WQ_ROOT/tests/.kunitconfig" --arch=x86_64 --build_dir="$BUILD" \
	--make_options "LLVM=$WQ_LLVM_SUFFIX" --jobs="$(nproc)" \
	--qemu_args="-smp ${WQ_CPUS:-4}" --qemu_args="-m 1G" \
	--timeout="${WQ_BOOT_TIMEOUT:-900}" --json="$OUT/kunit.json" \
	${args[@]+"${args[@]}"} "$FILTER" 2>&1 |
	tee "$OUT/kunit.log"
rc=${PIPESTATUS[0]}
set -e
# kunit.py keeps the kernel's whole output in the build directory.
cp "$BUILD/test.log" "$OUT/console.log" 2>/dev/null || cp "$OUT/kunit.log" "$OUT/console.log"
bash "$WQ_ROOT/scripts/scan-reports.sh" "$OUT/console.log" "$OUT/reports.txt" || rc=1
# The race tests need every CPU they were given.
cpus=${WQ_CPUS:-4}
if ! grep -q "smp: Brought up .*, $cpus CPUs" "$OUT/console.log"; then
	up=$(grep -m1 'smp: Brought up' "$OUT/console.log")
	echo "FAIL: the guest did not bring up $cpus CPUs: ${up:-no such line}" >&2
	rc=1
fi
exit "$rc"
