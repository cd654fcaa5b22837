/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Bitmap walker internals (src/bitmap.c), for the unit tests; never
 * installed. */
#ifndef IOMMUDIRTY_BITMAP_H
#define IOMMUDIRTY_BITMAP_H

#include <stddef.h>
#include <stdint.h>

#include "iommudirty.h"

/* The builds of the batch walker's word loop. iommudirty_bitmap_runs()
 * takes the last one the CPU runs; the tests run each. */
enum bitmap_runs_impl {
	BITMAP_RUNS_GENERIC,    /* plain C with GCC/Clang builtins, any arch */
	BITMAP_RUNS_X86_BMI,    /* x86-64 with POPCNT and BMI1 */
	BITMAP_RUNS_X86_AVX512, /* the same, BMI2, AVX-512 F and CD: 8 words a step */
	BITMAP_RUNS_NR_IMPL,
};

/* 1 if this build and CPU can run impl, else 0. */
int bitmap_runs_impl_available(enum bitmap_runs_impl impl);

/* iommudirty_bitmap_runs() with the given build; -EOPNOTSUPP if it is not
 * available (bitmap_runs_impl_available()). */
int bitmap_runs_with(enum bitmap_runs_impl impl, const uint64_t *bitmap,
		     uint64_t nbits, uint64_t *pos, struct iommudirty_run *runs,
		     size_t n);

#endif
