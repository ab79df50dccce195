// SPDX-License-Identifier: GPL-2.0
/* This module's own copy of the library's C helpers (see README.md). */
#include "../src/workqueue_helpers.c"
