#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# compile-fail.sh KDIR: checks that every `compile_fail` doc example fails to compile with
# the error code it declares, at a line it shows (see scripts/compile-fail.py).
set -euo pipefail
. "$(dirname "$0")/env.sh"

exec python3 "$WQ_ROOT/scripts/compile-fail.py" "$WQ_ROOT" "$(cd "$1" && pwd)" \
	"LLVM=${LLVM:-$WQ_LLVM_SUFFIX}"
