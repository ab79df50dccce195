# SPDX-License-Identifier: GPL-2.0
# Shared settings for the project's scripts; sourced, never run.
#
# Everything built or downloaded lives under $WQ_CACHE (outside the checkout) so that a
# fresh clone reuses it and `git clean` never throws away a half-hour kernel build.

WQ_CACHE=${WQ_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/workqueue-rs}
WQ_ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)

# The kernel we target by default: Debian's newest stable source package.
WQ_KPKG=${WQ_KPKG:-linux-source-7.3}
WQ_KSUITE=${WQ_KSUITE:-trixie-backports}

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
