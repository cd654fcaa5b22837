/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* placeholder: the smmuv3 decoder is being written */
#include "vendor/vendor.h"

static void decode(const void *data, uint32_t len, struct iommudirty_caps *caps)
{
	(void)data;
	(void)len;
	(void)caps;
}
const struct vendor_ops vendor_smmuv3 = { IOMMUDIRTY_VENDOR_ARM_SMMUV3, IOMMUDIRTY_HW_INFO_ARM_SMMUV3, decode };
