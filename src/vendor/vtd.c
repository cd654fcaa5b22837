/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* placeholder: the vtd decoder is being written */
#include "vendor/vendor.h"

static void decode(const void *data, uint32_t len, struct iommudirty_caps *caps)
{
	(void)data;
	(void)len;
	(void)caps;
}
const struct vendor_ops vendor_vtd = { IOMMUDIRTY_VENDOR_INTEL_VTD, IOMMUDIRTY_HW_INFO_INTEL_VTD, decode };
