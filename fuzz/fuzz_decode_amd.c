/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: the amd decoder (see fuzz_decode.h). */
#include "fuzz_decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t n)
{
	fuzz_decode(IOMMUDIRTY_HW_INFO_AMD, IOMMUDIRTY_VENDOR_AMD_VI, in, n);
	return 0;
}
