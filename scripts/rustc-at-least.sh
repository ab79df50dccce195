#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-2.0
# rustc-at-least.sh X.Y: exits 0 if the rustc on PATH is at least version X.Y.
set -euo pipefail
have=$(rustc --version | awk '{print $2}')
[ "$(printf '%s\n%s\n' "$1" "$have" | sort -V | head -1)" = "$1" ]
