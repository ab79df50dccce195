#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# rustfmt.sh [--check]: formats (or checks) every Rust file of the project with the kernel's
# own rustfmt configuration, as `make rustfmt` does for the kernel tree.
set -euo pipefail
. "$(dirname "$0")/env.sh"

KSRC=$(cat "$WQ_CACHE/src/$WQ_KPKG.stamp" 2>/dev/null) || die "no kernel source: run make setup"
# rustfmt follows `mod` declarations, so it gets the crate roots (the files with `module!`) and
# the files no crate includes; everything else is reached from a root.
cd "$WQ_ROOT"
mapfile -t files < <({
	grep -l '^module! {' samples/*.rs tests/*.rs
	ls tests/demo/failing_example.rs
} | sort -u)
[ ${#files[@]} -gt 0 ] || die "no Rust files found"
if rustfmt --edition 2021 --config-path "$KSRC/.rustfmt.toml" "$@" "${files[@]}"; then
	[ "${1:-}" = --check ] && echo ">>> rustfmt: clean"
	exit 0
fi
echo "rustfmt: formatting differs from the kernel style; run 'make fmt'" >&2
exit 1
