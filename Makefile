# SPDX-License-Identifier: GPL-2.0
#
# User-facing commands. Kbuild reads `Kbuild`; this file only drives it.
#
#   make run     set up, build the test kernel and the modules, boot QEMU, load the sample
#   make check   the same set-up, then every quality gate and every KUnit suite
#
# Build against your own Rust-enabled kernel tree instead of the cached test kernel:
#   make modules KDIR=/path/to/linux LLVM=1

SHELL := /bin/bash
ROOT := $(CURDIR)
SCRIPTS := $(ROOT)/scripts
# The cached test kernel is built with Debian 12's LLVM 19.
LLVM ?= -19
# DEMO=example adds a failing doc example, DEMO=warn a test that triggers WARN_ON, DEMO=leak
# a test that leaks memory: each must make `make check` fail and name its cause.
DEMO ?=
export WQ_DEMO := $(DEMO)

ifdef KDIR
kdir = $(KDIR)
else
kdir = $$(cat $(ROOT)/.build/kdir)
endif
KMAKE = $(MAKE) -C $(kdir) M=$(ROOT) LLVM=$(LLVM)

.PHONY: all setup kernel doctests modules compile-fail fmt fmtcheck checkpatch rust-analyzer \
	run check clean

all: modules

setup:
	@bash $(SCRIPTS)/setup.sh

# Builds the test kernel once per (version, config, toolchain); later runs reuse the cache.
kernel: setup
ifndef KDIR
	@mkdir -p .build
	@bash $(SCRIPTS)/build-kernel.sh > .build/kdir.tmp 2> >(tee .build/kernel-build.log | \
		grep -E '^(>>>|error|config:)' >&2) && mv .build/kdir.tmp .build/kdir
	@echo ">>> test kernel: $$(cat .build/kdir)"
endif

doctests:
	@python3 $(SCRIPTS)/gen-doctests.py $(ROOT)/src $(ROOT)/tests/generated/doctests.rs \
		$(if $(filter example,$(DEMO)),$(ROOT)/tests/demo)

# The one module build: clippy-driver compiles the objects too, and warnings are errors.
modules: doctests
	+@$(KMAKE) CLIPPY=1 KRUSTFLAGS=-Dwarnings W=1 modules

# Every `compile_fail` doc example must be rejected by the compiler, at its own lines.
compile-fail: doctests
	@bash $(SCRIPTS)/compile-fail.sh $(kdir)

fmtcheck: doctests
	@bash $(SCRIPTS)/rustfmt.sh --check

fmt: doctests
	@bash $(SCRIPTS)/rustfmt.sh

checkpatch:
	@bash $(SCRIPTS)/checkpatch.sh

rust-analyzer: doctests
	@bash $(SCRIPTS)/rust-analyzer.sh $(kdir)

run: kernel modules
	@bash $(SCRIPTS)/qemu-kunit.sh run $(kdir)

check: kernel fmtcheck checkpatch modules compile-fail rust-analyzer
	@bash $(SCRIPTS)/qemu-kunit.sh check $(kdir)

clean:
	+@if [ -f .build/kdir ] || [ -n "$(KDIR)" ]; then $(KMAKE) clean; fi
	rm -rf .build tests/generated rust-project.json
