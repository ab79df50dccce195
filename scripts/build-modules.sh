#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# build-modules.sh KDIR OUT: builds the project's modules (sample, tests, benchmarks) against
# the kernel build KDIR, with the project's flags (warnings are errors, clippy, W=1), in OUT.
#
# Kbuild builds an external module where its sources are, and one tree is built against
# several kernels (debug and production, each version), so each build gets a copy of the
# sources in OUT. The copy only rewrites files whose contents changed, so that make stays
# incremental.
set -euo pipefail
. "$(dirname "$0")/env.sh"

[ $# -eq 2 ] || die "usage: build-modules.sh KDIR OUT"
KDIR=$(cd "$1" && pwd)
OUT=$2
# OUT receives a copy of the sources, and loses the sources that are not the project's: it
# must be a build directory of this project, never a kernel tree.
mkdir -p "$OUT"
case "$(cd "$OUT" && pwd)/" in
"$WQ_ROOT/.build/"*) ;;
*) die "build-modules.sh: OUT ($OUT) must be under $WQ_ROOT/.build" ;;
esac
LLVM_ARG="LLVM=${LLVM:-$WQ_LLVM_SUFFIX}"

mkdir -p "$OUT"
python3 - "$WQ_ROOT" "$OUT" <<'PY'
import filecmp, os, shutil, sys
root, out = sys.argv[1], os.path.abspath(sys.argv[2])
SOURCES = ("Kbuild", "src", "samples", "tests", "bench")
SUFFIXES = (".rs", ".c", ".h", ".mk", "Kbuild", ".json")
wanted = set()
for top in SOURCES:
    path = os.path.join(root, top)
    files = [path] if os.path.isfile(path) else [
        os.path.join(d, f) for d, _, fs in os.walk(path) for f in fs]
    for f in files:
        if not f.endswith(SUFFIXES) or ".mod." in f:
            continue
        rel = os.path.relpath(f, root)
        wanted.add(rel)
        dst = os.path.join(out, rel)
        if not (os.path.exists(dst) and filecmp.cmp(f, dst, shallow=False)):
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            shutil.copy2(f, dst)
# Sources deleted from the tree go from the copy too (build products stay).
for d, _, fs in os.walk(out):
    for f in fs:
        rel = os.path.relpath(os.path.join(d, f), out)
        if rel.endswith((".rs", ".c", ".h")) and ".mod." not in rel and rel not in wanted:
            os.remove(os.path.join(d, f))
PY
# The copy's path is not the sources': file!() (and so a failed assertion) names the file as
# it is in the tree, `tests/owned_tests.rs`.
#
# rustc and clippy warnings are errors (-Dwarnings); everything else that warns (C with W=1,
# objtool, modpost) fails the build here, and the objects are removed so that the next run
# builds them, and warns, again.
make -C "$KDIR" M="$OUT" "$LLVM_ARG" CLIPPY=1 \
	KRUSTFLAGS="-Dwarnings --remap-path-prefix=$(cd "$OUT" && pwd)/=" W=1 modules 2>&1 |
	tee "$OUT/build.log"
if grep -q 'warning:' "$OUT/build.log"; then
	find "$OUT" -name '*.o' -delete
	die "the build warned (see above; log in $OUT/build.log)"
fi
