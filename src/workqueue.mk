# SPDX-License-Identifier: GPL-2.0
#
# The workqueue library's kernel-version switch for its Rust code (see src/compat.rs).
# Include it from the Kbuild of every module that builds the library in:
#
#   include $(src)/workqueue/src/workqueue.mk
#
# VERSION and PATCHLEVEL are the kernel's own, exported by its Makefile.
ifeq ($(VERSION),6)
rustflags-y += --cfg wq_kernel_6
endif
