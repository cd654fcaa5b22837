/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* libFuzzer target: the selftest mock decoder (see fuzz_decode.h). */
#include "fuzz_decode.h"

int LLVMFuzzerTestOneInput(const uint8_t *in, size_t n)
{
	fuzz_decode(IOMMUDIRTY_HW_INFO_SELFTEST, IOMMUDIRTY_VENDOR_SELFTEST, in, n);
	return 0;
}
