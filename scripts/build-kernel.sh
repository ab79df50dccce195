#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# build-kernel.sh debug|prod|kcsan|rt [--cached-only]: builds a test kernel of $WQ_KERNEL out
# of tree into the cache and prints its build directory. With --cached-only it builds nothing,
# and fails unless the kernel is already there.
#
#   debug: tinyconfig + configs/base.config + configs/debug.config (KASAN, lockdep, ...)
#   prod:  tinyconfig + configs/base.config, no debug options: what drivers ship on
#   kcsan: the debug flavour + configs/kcsan.config (KCSAN instead of KASAN and kmemleak)
#   rt:    the debug flavour + configs/rt.config (PREEMPT_RT)
# Later fragments override earlier ones, as merge_config.sh merges them.
# With WQ_HZ=1000 (`make ... HZ=1000`), configs/hz1000.config is added to either.
#
# The directory name is the flavour and a hash of everything that decides the result —
# source version, config fragments, clang, rustc, bindgen — so an unchanged input never
# rebuilds, and a changed one never reuses a stale kernel.
set -euo pipefail
. "$(dirname "$0")/env.sh"

FLAVOUR=${1:?usage: build-kernel.sh debug|prod|kcsan|rt}
KSRC=$(cat "$WQ_CACHE/src/$WQ_KPKG.stamp" 2>/dev/null) || die "no kernel source: run scripts/setup.sh"
case "$FLAVOUR" in
debug) FRAGMENTS=("$WQ_ROOT/configs/base.config" "$WQ_ROOT/configs/debug.config") ;;
prod) FRAGMENTS=("$WQ_ROOT/configs/base.config") ;;
kcsan | rt)
	FRAGMENTS=("$WQ_ROOT/configs/base.config" "$WQ_ROOT/configs/debug.config"
		"$WQ_ROOT/configs/$FLAVOUR.config")
	;;
*) die "unknown kernel flavour '$FLAVOUR' (debug, prod, kcsan or rt)" ;;
esac
# `make ... HZ=1000`: both flavours with a 1 ms jiffy (the default is the kernel's, 250).
case "${WQ_HZ:-}" in
"") ;;
1000) FRAGMENTS+=("$WQ_ROOT/configs/hz1000.config") ;;
*) die "unsupported HZ=$WQ_HZ (1000, or unset for the default)" ;;
esac
LLVM_ARG="LLVM=$WQ_LLVM_SUFFIX"

key=$({
	basename "$KSRC"
	cat "${FRAGMENTS[@]}"
	"clang$WQ_LLVM_SUFFIX" --version | head -1
	rustc --version
	bindgen --version
} | sha256sum | cut -c1-16)
KOUT="$WQ_CACHE/build/$(basename "$KSRC")-$FLAVOUR-$key"

if [ -f "$KOUT/.wq-built" ]; then
	echo "$KOUT"
	exit 0
fi
[ "${2:-}" = --cached-only ] && exit 1

kmake() {
	make -C "$KSRC" O="$KOUT" "$LLVM_ARG" "$@"
}

# `make olddefconfig` silently drops options whose dependencies are missing (CONFIG_RUST
# when the toolchain is not found is the classic), so every requested line is checked, as the
# fragments merge: a later fragment's line for an option replaces an earlier one's.
verify_config() {
	local bad=0 line opt
	local -A want=()
	while IFS= read -r line; do
		case "$line" in
		CONFIG_*=*) want[${line%%=*}]=$line ;;
		"# CONFIG_"*" is not set")
			opt=${line#\# }
			want[${opt%% *}]=$line
			;;
		esac
	done < <(cat "${FRAGMENTS[@]}")
	for opt in "${!want[@]}"; do
		line=${want[$opt]}
		case "$line" in
		CONFIG_*)
			grep -qxF "$line" "$KOUT/.config" || {
				echo "config: asked for '$line', got '$(grep "^$opt=" "$KOUT/.config" || echo unset)'" >&2
				bad=1
			}
			;;
		*)
			if grep -q "^$opt=" "$KOUT/.config"; then
				echo "config: asked for $opt off, but it is on" >&2
				bad=1
			fi
			;;
		esac
	done
	[ $bad -eq 0 ] || die "the kernel configuration does not hold what configs/ asks for"
}

# The build log gets each line's time since the start, in seconds, so that a slow build
# shows which part of it was slow.
stamp() {
	while IFS= read -r line; do
		printf '%4d %s\n' "$SECONDS" "$line"
	done
}

log "building the $FLAVOUR kernel $(basename "$KSRC") into $KOUT (3-15 minutes on 2 cores)"
mkdir -p "$KOUT"
kmake rustavailable >&2 || die "the Rust toolchain is not usable for this kernel"
kmake tinyconfig >/dev/null
"$KSRC/scripts/kconfig/merge_config.sh" -m -O "$KOUT" "$KOUT/.config" "${FRAGMENTS[@]}" >/dev/null
kmake olddefconfig >/dev/null
verify_config
kmake -j"$(nproc)" 2>&1 | stamp >&2
touch "$KOUT/.wq-built"
log "kernel built in ${SECONDS}s: $KOUT"
echo "$KOUT"
