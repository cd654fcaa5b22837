/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* placeholder: the amd decoder is being written */
#include "vendor/vendor.h"

static void decode(const void *data, uint32_t len, struct iommudirty_caps *caps)
{
	(void)data;
	(void)len;
	(void)caps;
}
const struct vendor_ops vendor_amd = { IOMMUDIRTY_VENDOR_AMD_VI, IOMMUDIRTY_HW_INFO_AMD, decode };
