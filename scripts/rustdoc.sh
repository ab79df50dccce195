#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# rustdoc.sh KDIR MODDIR: writes the library's HTML documentation to .build/doc/, next to the
# kernel crate's own (built once per cached kernel with the kernel's `make rustdoc`), so that
# links into `kernel::` work. Missing docs on public items and broken intra-doc links fail.
#
# The library is mounted by drivers as `crate::workqueue`, so it is documented the same way:
# a small crate, `workqueue_rs`, whose `workqueue` module is src/workqueue.rs. (Its macros,
# crate-visible in a driver's crate, are exported when documenting, `cfg(doc)`.) The rustdoc
# flags are those Kbuild gave rustc for the modules in MODDIR (target, features, cfgs),
# without what only matters to code generation and lints.
set -euo pipefail
. "$(dirname "$0")/env.sh"

KDIR=$(cd "$1" && pwd)
MODDIR=$(cd "$2" && pwd)
OUT="$WQ_ROOT/.build/doc"
KDOC="$KDIR/Documentation/output/rust/rustdoc"
LLVM_ARG="LLVM=${LLVM:-$WQ_LLVM_SUFFIX}"

if [ ! -f "$KDOC/kernel/index.html" ]; then
	log "building the kernel crate's documentation (once per cached kernel)"
	make -C "$KDIR" "$LLVM_ARG" rustdoc >"$WQ_ROOT/.build/kernel-rustdoc.log" 2>&1 ||
		die "make rustdoc failed (see .build/kernel-rustdoc.log)"
fi

# The flags of one of the project's module crates, as Kbuild recorded them.
cmd="$MODDIR/samples/.rust_wq_sample_main.o.cmd"
[ -f "$cmd" ] || die "no module build in $MODDIR (run make modules first)"
flags=$(python3 - "$cmd" <<'PY'
import shlex, sys
line = open(sys.argv[1]).readline()
words = shlex.split(line.split(":=", 1)[1])
words = words[words.index(next(w for w in words if w.endswith(("clippy-driver", "rustc")))) + 1:]
keep, skip_next = [], False
for w in words:
    if skip_next:
        skip_next = False
        continue
    if w in ("--out-dir", "--crate-type", "--crate-name"):
        skip_next = True
        continue
    # Lints (rustdoc knows no clippy), code generation and outputs are not documentation's.
    if w.startswith(("-W", "-D", "-A", "--emit", "-Zbinary_dep_depinfo", "-Cembed-bitcode",
                     "-Clto", "-Ccodegen-units", "-Cforce-unwind-tables", "-Cdebug-assertions",
                     "-Coverflow-checks", "-Copt-level", "-Zsanitizer")) or w.endswith(".rs"):
        continue
    keep.append(w)
print(shlex.join(keep))
PY
)

root="$WQ_ROOT/.build/doc-root"
mkdir -p "$root"
cat >"$root/workqueue_rs.rs" <<RS
// SPDX-License-Identifier: GPL-2.0

//! The \`workqueue\` library: a complete Rust API over the kernel's workqueues.
//!
//! A driver builds the library into its own crate and mounts it as \`crate::workqueue\`,
//! which is what the [\`workqueue\`] module here is. Start there.

#[path = "$WQ_ROOT/src/workqueue.rs"]
pub mod workqueue;

/// Where the library's macros find it.
use workqueue as workqueue_lib;
RS

rm -rf "$OUT"
mkdir -p "$OUT"
# A real copy: rustdoc rewrites the shared files (the crate list, the search index).
cp -a "$KDOC/." "$OUT/"
# shellcheck disable=SC2086 # $flags is a list of words, quoted by shlex.
eval "set -- $flags"
# From the kernel's build directory, where Kbuild's relative paths (6.12's) point.
cd "$KDIR"
RUSTC_BOOTSTRAP=1 OBJTREE="$KDIR" rustdoc "$@" \
	--crate-type rlib --crate-name workqueue_rs \
	-D missing_docs -D rustdoc::broken_intra_doc_links -D rustdoc::private_intra_doc_links \
	-D warnings \
	--output "$OUT" "$root/workqueue_rs.rs" 2>&1 | tee "$WQ_ROOT/.build/rustdoc.log"
[ "${PIPESTATUS[0]}" -eq 0 ] || die "rustdoc failed (see .build/rustdoc.log)"
if [ -s "$WQ_ROOT/.build/rustdoc.log" ]; then
	die "rustdoc printed diagnostics (see .build/rustdoc.log)"
fi
echo ">>> documentation: $OUT/workqueue_rs/workqueue/index.html"
