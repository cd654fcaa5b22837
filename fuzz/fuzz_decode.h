/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * One libFuzzer body for every decoder: the input's first 8 bytes are the
 * kernel's out_capabilities, the rest the vendor data. Whatever the bytes,
 * the report must hold its invariants; a broken one aborts (a crash for
 * libFuzzer), as do ASan/UBSan findings.
 */
#ifndef FUZZ_DECODE_H
#define FUZZ_DECODE_H

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "iommudirty.h"

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t n);

static inline void fuzz_check(int cond)
{
	if (!cond)
		abort();
}

static inline void fuzz_decode(uint32_t type, uint32_t vendor,
			       const uint8_t *in, size_t n)
{
	IOMMUDIRTY_OPTS(iommudirty_caps, c);
	uint64_t kcaps = 0;
	uint8_t *data;
	uint32_t len;

	if (n >= 8) {
		memcpy(&kcaps, in, 8);
		in += 8;
		n -= 8;
	}
	if (n > 4096)
		n = 4096;
	len = (uint32_t)n;
	/* An exact-size heap copy, so ASan sees any read past len. */
	data = malloc(len ? len : 1);
	if (!data)
		return;
	memcpy(data, in, len);

	fuzz_check(iommudirty_decode_hw_info(type, len ? data : NULL, len, kcaps, &c) == 0);
	fuzz_check(c.sz == sizeof(c));
	fuzz_check(c.vendor == vendor);
	fuzz_check(c.dirty == !!(kcaps & IOMMUDIRTY_HW_CAP_DIRTY_TRACKING));
	fuzz_check(c.decoded_dirty >= -1 && c.decoded_dirty <= 1);
	fuzz_check(c.nr_reasons <= IOMMUDIRTY_CAPS_MAX_REASONS);
	/* A "no" always says why. */
	fuzz_check(c.dirty || c.nr_reasons > 0);
	for (uint32_t i = 0; i < c.nr_reasons; i++) {
		fuzz_check(strcmp(iommudirty_reason_str(c.reasons[i]), "unknown reason"));
		for (uint32_t j = i + 1; j < c.nr_reasons; j++)
			fuzz_check(c.reasons[i] != c.reasons[j]);
	}
	/* Registers and kernel disagreeing is always said. */
	if (c.decoded_dirty >= 0 && c.decoded_dirty != c.dirty) {
		int found = 0;

		for (uint32_t i = 0; i < c.nr_reasons; i++)
			found |= c.reasons[i] == IOMMUDIRTY_REASON_DECODE_DISAGREES;
		fuzz_check(found);
	}
	/* Tracking constraints only for an IOMMU that tracks. */
	if (!c.dirty)
		fuzz_check(!(c.constraints & ~IOMMUDIRTY_CONSTRAINT_NO_RO_NEST_PARENT));
	free(data);
}

#endif
