/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The kernel's selftest mock IOMMU (CONFIG_IOMMUFD_TEST): type 0xfeedbeef,
 * struct iommu_test_hw_info { u32 flags; u32 test_reg; } with test_reg
 * always 0xdeadbeef. Nothing in it says whether the device tracks: the mock
 * reports no capability exactly for devices created with
 * MOCK_FLAGS_DEVICE_NO_DIRTY, so the kernel's bit tells us which.
 */
#include "vendor/vendor.h"

#define MOCK_LEN 8u

static void decode(const void *data, uint32_t len, struct iommudirty_caps *caps)
{
	(void)data;
	/* The reason does not depend on the data: the type names the mock. */
	if (!caps->dirty)
		caps_add_reason(caps, IOMMUDIRTY_REASON_MOCK_NO_DIRTY);
	if (vendor_short(len, MOCK_LEN, caps))
		return;
	caps->decoded_dirty = -1; /* the registers do not say */
}

const struct vendor_ops vendor_mock = {
	.vendor = IOMMUDIRTY_VENDOR_SELFTEST,
	.hw_info_type = IOMMUDIRTY_HW_INFO_SELFTEST,
	.decode = decode,
};
