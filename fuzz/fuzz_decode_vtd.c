/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: the vtd decoder (see fuzz_decode.h). */
#include "fuzz_decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t n)
{
	fuzz_decode(IOMMUDIRTY_HW_INFO_INTEL_VTD, IOMMUDIRTY_VENDOR_INTEL_VTD, in, n);
	return 0;
}
