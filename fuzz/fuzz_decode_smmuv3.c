/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: the smmuv3 decoder (see fuzz_decode.h). */
#include "fuzz_decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t n)
{
	fuzz_decode(IOMMUDIRTY_HW_INFO_ARM_SMMUV3, IOMMUDIRTY_VENDOR_ARM_SMMUV3, in, n);
	return 0;
}
