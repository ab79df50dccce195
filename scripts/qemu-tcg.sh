#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# qemu-tcg.sh ARGS...: qemu-system-x86_64 with ARGS, but always under TCG. `make kunit` puts
# this first in PATH, as qemu-system-x86_64, for kunit.py run.
#
# kunit.py asks for `-accel kvm -accel hvf -accel tcg`, and QEMU takes the first that opens.
# On these machines /dev/kvm opens but cannot run a guest: with `-cpu max` QEMU aborts
# ("failed to set MSR 0x10a"), with the default CPU the guest hangs before printing a line
# until kunit.py's time limit. So the accelerators are replaced by TCG with one host thread
# per vCPU, and the CPU model by `-cpu max,la57=off`, as in the `make check` boot (see
# scripts/qemu-kunit.sh for why without 5-level paging).
set -euo pipefail
args=()
while [ $# -gt 0 ]; do
	if [ "$1" = -accel ] && [ $# -gt 1 ]; then
		shift 2
		continue
	fi
	args+=("$1")
	shift
done
self_dir=$(cd "$(dirname "$0")" && pwd)
# Find the real QEMU: the first one in PATH that is not this wrapper's directory.
IFS=: read -ra dirs <<<"$PATH"
for d in "${dirs[@]}"; do
	[ "$(cd "$d" 2>/dev/null && pwd)" = "$self_dir" ] && continue
	if [ -x "$d/qemu-system-x86_64" ]; then
		exec "$d/qemu-system-x86_64" -accel tcg,thread=multi -cpu max,la57=off "${args[@]}"
	fi
done
echo "qemu-tcg.sh: no qemu-system-x86_64 in PATH" >&2
exit 127
