# SPDX-License-Identifier: GPL-2.0
# Shared settings for the project's scripts; sourced, never run.
#
# Everything built or downloaded lives under $WQ_CACHE (outside the checkout) so that a
# fresh clone reuses it and `git clean` never throws away a half-hour kernel build.

WQ_CACHE=${WQ_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/workqueue-rs}
WQ_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# The kernel to build and test against (`make ... KERNEL=`): each comes from Debian's source
# package for that series, from the suite that carries it. 7.3 is the default.
WQ_KERNEL=${WQ_KERNEL:-7.3}
case "$WQ_KERNEL" in
7.3) WQ_KSUITE=trixie-backports ;;
7.2) WQ_KSUITE=sid ;;
6.12) WQ_KSUITE=trixie ;;
*)
	echo "error: unsupported KERNEL=$WQ_KERNEL (supported: 7.3, 7.2, 6.12)" >&2
	exit 1
	;;
esac
WQ_KPKG=linux-source-$WQ_KERNEL

# Toolchain: Debian 12's LLVM 19, the machine's rustup toolchain, bindgen from crates.io.
WQ_LLVM_SUFFIX=${WQ_LLVM_SUFFIX:--19}
WQ_BINDGEN_VERSION=${WQ_BINDGEN_VERSION:-0.72.1}
export LIBCLANG_PATH=${LIBCLANG_PATH:-/usr/lib/llvm${WQ_LLVM_SUFFIX}/lib}
export PATH="$HOME/.cargo/bin:$PATH"

die() {
	echo "error: $*" >&2
	exit 1
}

log() {
	echo ">>> $*" >&2
}
