#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# Runs the kernel's checkpatch.pl over the project's C sources and headers.
set -euo pipefail
. "$(dirname "$0")/env.sh"

KSRC=$(cat "$WQ_CACHE/src/$WQ_KPKG.stamp" 2>/dev/null) || die "no kernel source: run make setup"
cd "$WQ_ROOT"
# Sources only: Kbuild's generated *.mod.c files are not ours, nor is what scripts/ generates.
mapfile -t files < <(find src samples tests bench -path tests/generated -prune -o \
	-name '*.[ch]' ! -name '*.mod.c' -print | sort)
[ ${#files[@]} -gt 0 ] || die "no C files found"
# An out-of-tree module must build against several kernels: LINUX_VERSION_CODE tests in the
# compatibility section of workqueue_helpers.c are the point, not a mistake, and 7.x-only
# helpers such as kzalloc_obj() (ALLOC_WITH_SIZEOF) would not build on the 6.12 LTS.
"$KSRC/scripts/checkpatch.pl" --no-tree --quiet --strict --show-types \
	--ignore LINUX_VERSION_CODE,CONSTANT_COMPARISON,ALLOC_WITH_SIZEOF -f "${files[@]}" ||
	die "checkpatch found problems"
echo ">>> checkpatch: ${#files[@]} C files clean"
