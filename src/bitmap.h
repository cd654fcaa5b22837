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
	BITMAP_RUNS_X86_VBMI2,  /* that with AVX-512 BW, VBMI, VBMI2, VPOPCNTDQ */
	BITMAP_RUNS_NR_IMPL,
};

/* 1 if this build and CPU can run impl, else 0. */
int bitmap_runs_impl_available(enum bitmap_runs_impl impl);

/* iommudirty_bitmap_runs() with the given build; -EOPNOTSUPP if it is not
 * available (bitmap_runs_impl_available()). */
int bitmap_runs_with(enum bitmap_runs_impl impl, const uint64_t *bitmap,
		     uint64_t nbits, uint64_t *pos, struct iommudirty_run *runs,
		     size_t n);

/* The builds of iommudirty_bitmap_count()'s word loop, likewise. */
enum bitmap_count_impl {
	BITMAP_COUNT_GENERIC,   /* __builtin_popcountll as the target has it */
	BITMAP_COUNT_X86_POPCNT,
	BITMAP_COUNT_X86_AVX512, /* AVX-512 BW nibble table, a cache line a step */
	BITMAP_COUNT_X86_VPOPCNTDQ, /* AVX-512 VPOPCNTDQ, a cache line an instruction */
	BITMAP_COUNT_NR_IMPL,
};

/* Set bits in nwords whole words with the given build; -1 (as UINT64_MAX)
 * if this build and CPU cannot run it. */
uint64_t bitmap_count_words_with(enum bitmap_count_impl impl, const uint64_t *map,
				 uint64_t nwords);

#endif
