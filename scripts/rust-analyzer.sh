#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
#
# rust-analyzer.sh KDIR: writes rust-project.json for editors, covering the kernel crates and
# this project's crates (the sample and the tests, which include the library). The kernel's
# own `make M=... rust-analyzer` loses the external tree on 7.3, so its script is called
# directly.
set -euo pipefail
. "$(dirname "$0")/env.sh"

KDIR=$(cd "$1" && pwd)
KSRC=$KDIR
[ -e "$KDIR/source" ] && KSRC=$(cd "$KDIR/source" && pwd -P)
sysroot=$(rustc --print sysroot)
# The edition the kernel builds `core` with: 2024 from rustc 1.87 on.
edition=2024
"$(dirname "$0")/../scripts/rustc-at-least.sh" 1.87 || edition=2021
RUSTC=rustc python3 "$KSRC/scripts/generate_rust_analyzer.py" "$edition" "$KSRC" "$KDIR" \
	"$sysroot" "$sysroot/lib/rustlib/src/rust/library" "$WQ_ROOT" >"$WQ_ROOT/rust-project.json"
python3 - "$WQ_ROOT/rust-project.json" "$WQ_ROOT" <<'PY'
import json, sys
path, root = sys.argv[1], sys.argv[2]
project = json.load(open(path))
# The copies of the sources that each kernel's build gets (.build/) are not crates of their
# own for an editor. Ours come last and nothing depends on them, so dropping them keeps every
# other crate's index.
project["crates"] = [c for c in project["crates"]
                     if not c["root_module"].startswith(root + "/.build/")]
json.dump(project, open(path, "w"), indent=1)
crates = project["crates"]
ours = [c["display_name"] for c in crates if c["root_module"].startswith(root)]
if not ours:
    sys.exit("rust-project.json: none of this project's crates were found")
print(f">>> rust-project.json: {len(crates)} crates, ours: {', '.join(sorted(ours))}")
PY
