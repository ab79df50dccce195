# SPDX-License-Identifier: GPL-2.0
#
# User-facing commands. Kbuild reads `Kbuild`; this file only drives it.
#
#   make run     set up, build the test kernel and the modules, boot QEMU, load the sample
#   make check   the same set-up, then every quality gate and every KUnit suite
#   make soak    the race and model suites, long, on the debug, KCSAN and PREEMPT_RT kernels
#   make bench   boot the production kernel with four CPUs and run the benchmarks
#   make doc     the library's rustdoc HTML, under .build/doc/
#   make kunit   the suites built into a kernel and run by kunit.py run
#
# KERNEL=7.3 (default), 7.2 or 6.12 selects the kernel version for each of them.
#
# Build against your own Rust-enabled kernel tree instead of the cached test kernels:
#   make modules KDIR=/path/to/linux LLVM=1

SHELL := /bin/bash
ROOT := $(CURDIR)
SCRIPTS := $(ROOT)/scripts
# The cached test kernels are built with Debian 12's LLVM 19.
LLVM ?= -19
KERNEL ?= 7.3
export WQ_KERNEL := $(KERNEL)
# Deliberate failures, each of which must make `make check` fail and name its cause:
#   DEMO=example           a doc example that fails
#   DEMO=compile-fail      a compile_fail example that compiles
#   DEMO=warn              a test that passes but triggers WARN_ON
#   DEMO=leak              a test that passes but leaks memory
#   DEMO=thread-assert     an assertion that fails in a test thread
#   DEMO=data-race         plain C accesses racing on four CPUs: the kcsan boot reports them
#   DEMO=lockdep-map       a lock held around a flush and taken by an item of another queue
#                          sharing the lockdep map: lockdep reports the cycle
#   DEMO=broken-core       the library with its cancel pass skipping every 16th item
#   DEMO=broken-core-link  the library with an arming that does not move the item's link
DEMO ?=
export WQ_DEMO := $(DEMO)
# The model test: MODEL_SEED replays a run (its seed is printed), MODEL_OPS sets its length.
MODEL_SEED ?= 0
MODEL_OPS ?= 100000
export WQ_MODEL_SEED := $(MODEL_SEED)
export WQ_MODEL_OPS := $(MODEL_OPS)
# make bench: SEED replays the rounds' orders of a run (its seed is printed); PUBLISH=1 makes
# the run the README's (bench/results.json, and the Performance section generated from it).
SEED ?= 0
export WQ_BENCH_SEED := $(SEED)
PUBLISH ?=
# HZ=1000 builds and uses test kernels with a 1 ms jiffy (cached apart from the default ones).
HZ ?=
export WQ_HZ := $(HZ)
# The detector flavours, kernels of their own: KCSAN (configs/kcsan.config) and PREEMPT_RT
# (configs/rt.config). `make check` boots the race and model suites on each that is cached;
# DETECTORS=build builds them first (CI does, on 7.3), DETECTORS=none skips them.
# DETECTOR_FILTER='workqueue*' runs every suite there instead (as a DEMO does, so that its
# suite runs there too).
DETECTOR_FLAVOURS := kcsan rt
DETECTORS ?= cached
# workqueue_races and workqueue_model, as a kunit.filter_glob.
RACE_MODEL_SUITES := workqueue_[mr]*
DETECTOR_FILTER ?= $(if $(DEMO),workqueue*,$(RACE_MODEL_SUITES))
# make soak: SOAK_OPS random operations of the model test and SOAK_ROUNDS rounds per thread of
# each race test, on each flavour; SOAK_SEED replays a soak (its seed is printed).
SOAK_OPS ?= 1000000
SOAK_ROUNDS ?= 1200
SOAK_SEED ?= 0
SOAK_FLAVOURS ?= debug $(DETECTOR_FLAVOURS)

# Per kernel version: the cached kernel builds (debug and production) and the module builds.
BUILD := $(ROOT)/.build/$(KERNEL)$(if $(HZ),-hz$(HZ))
kdir_debug = $$(cat $(BUILD)/kdir-debug)
kdir_prod = $$(cat $(BUILD)/kdir-prod)

.PHONY: all setup kernel kernel-debug kernel-prod kernel-kcsan kernel-rt doctests modules modules-prod \
	modules-kcsan modules-rt compile-fail benchdoc fmt fmtcheck checkpatch rust-analyzer doc kunit \
	run check check-detectors soak bench clean

ifdef KDIR
# Someone's own kernel tree: build in place, the way Kbuild builds any external module.
all modules: doctests
	+@$(MAKE) -C $(KDIR) M=$(ROOT) LLVM=$(LLVM) CLIPPY=1 KRUSTFLAGS=-Dwarnings W=1 modules
else
all: modules
endif

setup:
	@bash $(SCRIPTS)/setup.sh

# Each test kernel is built once per (version, flavour, config, toolchain); later runs reuse
# the cache.
kernel: kernel-debug kernel-prod

kernel-debug kernel-prod kernel-kcsan kernel-rt: kernel-%: setup
	@mkdir -p $(BUILD)
	@bash $(SCRIPTS)/build-kernel.sh $* > $(BUILD)/kdir-$*.tmp \
		2> >(tee $(BUILD)/kernel-$*.log | grep -E '^( *[0-9]+ )?(>>>|error|config:)' >&2) && \
		mv $(BUILD)/kdir-$*.tmp $(BUILD)/kdir-$*
	@echo ">>> $* kernel: $$(cat $(BUILD)/kdir-$*)"

# The KUnit tables of the test module (its suites and the doc examples), and the
# compile_fail examples.
doctests:
	@python3 $(SCRIPTS)/gen-kunit.py $(ROOT)/src $(ROOT)/tests $(ROOT)/tests/generated $(DEMO)

ifndef KDIR
# The module builds: clippy-driver compiles the objects too, and warnings are errors.
modules: kernel-debug doctests
	+@bash $(SCRIPTS)/build-modules.sh $(kdir_debug) $(BUILD)/debug

modules-prod: kernel-prod doctests
	+@bash $(SCRIPTS)/build-modules.sh $(kdir_prod) $(BUILD)/prod

modules-kcsan modules-rt: modules-%: kernel-% doctests
	+@bash $(SCRIPTS)/build-modules.sh $$(cat $(BUILD)/kdir-$*) $(BUILD)/$*
endif

# Every `compile_fail` doc example must be rejected by the compiler, at its own lines.
compile-fail: kernel-debug doctests
	@bash $(SCRIPTS)/compile-fail.sh $(kdir_debug)

# rustfmt takes the kernel's .rustfmt.toml and checkpatch.pl comes from the kernel source,
# so both need the set-up first (a fresh machine has no source yet).
fmtcheck: setup doctests
	@bash $(SCRIPTS)/rustfmt.sh --check

fmt: setup doctests
	@bash $(SCRIPTS)/rustfmt.sh

checkpatch: setup
	@bash $(SCRIPTS)/checkpatch.sh

# The README's benchmark table and figures must be what bench/results.json gives.
benchdoc:
	@python3 $(SCRIPTS)/bench-readme.py --check $(ROOT)/bench/results.json $(ROOT)/README.md

rust-analyzer: kernel-debug doctests
	@bash $(SCRIPTS)/rust-analyzer.sh $(kdir_debug)

# The library's rustdoc HTML, under .build/doc/, linked to the kernel crate's.
doc: modules-prod
	@bash $(SCRIPTS)/rustdoc.sh $(kdir_prod) $(BUILD)/prod

# The suites built into the kernel and run by kunit.py, as kernel developers do
# (KUNIT_ARGS="--filter_glob=workqueue_control.*", or KUNIT_FILTER='workqueue_control.*',
# runs one suite; other KUNIT_ARGS go to kunit.py run).
KUNIT_FILTER ?= workqueue*
KUNIT_ARGS ?=
kunit: setup doctests
	@bash $(SCRIPTS)/kunit-run.sh '$(KUNIT_FILTER)' $(KUNIT_ARGS)

run: modules
	@bash $(SCRIPTS)/qemu-kunit.sh run $(kdir_debug) $(BUILD)/debug

# The functional suites run on the debug kernel; the production kernel builds everything
# too, and runs a short smoke of the benchmarks so that they cannot rot.
check: fmtcheck checkpatch benchdoc modules modules-prod compile-fail rust-analyzer doc
	@bash $(SCRIPTS)/qemu-kunit.sh check $(kdir_debug) $(BUILD)/debug
	@bash $(SCRIPTS)/qemu-kunit.sh smoke $(kdir_prod) $(BUILD)/prod
	+@$(MAKE) --no-print-directory check-detectors

# The race and model suites on the KCSAN and PREEMPT_RT kernels: those cached, or all of them
# with DETECTORS=build.
check-detectors:
	@for f in $(DETECTOR_FLAVOURS); do \
		case "$(DETECTORS)" in \
		none) continue ;; \
		build) ;; \
		cached) bash $(SCRIPTS)/build-kernel.sh $$f --cached-only >/dev/null 2>&1 || { \
			echo ">>> the $$f kernel is not cached: its boot is skipped" \
				"(make check DETECTORS=build builds it)"; continue; } ;; \
		*) echo "error: DETECTORS=$(DETECTORS) (cached, build or none)" >&2; exit 1 ;; \
		esac; \
		$(MAKE) --no-print-directory modules-$$f || exit 1; \
		WQ_KUNIT_FILTER='$(DETECTOR_FILTER)' bash $(SCRIPTS)/qemu-kunit.sh check \
			$$(cat $(BUILD)/kdir-$$f) $(BUILD)/$$f || exit 1; \
	done

# Long runs of the race and model suites on each flavour, with one seed for all of them.
soak: doctests
	@seed=$(SOAK_SEED); [ "$$seed" != 0 ] || seed=0x$$(od -An -N8 -tx8 /dev/urandom | tr -d ' '); \
	echo ">>> soak: seed $$seed (replay: make soak SOAK_SEED=$$seed), $(SOAK_OPS) model" \
		"operations and $(SOAK_ROUNDS) race rounds per thread on: $(SOAK_FLAVOURS)"; \
	for f in $(SOAK_FLAVOURS); do \
		$(MAKE) --no-print-directory $$([ $$f = debug ] && echo modules || echo modules-$$f) \
			|| exit 1; \
		WQ_KUNIT_FILTER='$(RACE_MODEL_SUITES)' WQ_MODEL_SEED=$$seed WQ_MODEL_OPS=$(SOAK_OPS) \
			WQ_RACE_ROUNDS=$(SOAK_ROUNDS) bash $(SCRIPTS)/qemu-kunit.sh soak \
			$$(cat $(BUILD)/kdir-$$f) $(BUILD)/$$f || exit 1; \
	done

bench: modules-prod
	@bash $(SCRIPTS)/qemu-kunit.sh bench $(kdir_prod) $(BUILD)/prod
ifneq ($(PUBLISH),)
	@cp $(ROOT)/.build/bench/results.json $(ROOT)/bench/results.json
	@python3 $(SCRIPTS)/bench-readme.py $(ROOT)/bench/results.json $(ROOT)/README.md
endif

clean:
	rm -rf .build tests/generated rust-project.json
