/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * AMD-Vi: struct iommu_hw_info_amd { u64 efr; u64 efr2; } (16 bytes, type
 * 4; kernels after 6.12 report it, 6.12 reports type NONE with no data and
 * the dispatcher says so). The Extended Feature Register as the AMD IOMMU
 * spec lays it.
 *
 * Linux reports IOMMU_CAP_DIRTY_TRACKING when EFR.HDSup is set. Only the v1
 * page table has dirty ops; PASID needs the v2 table, so a tracked domain
 * cannot serve PASIDs.
 */
#include "vendor/vendor.h"

#define AMD_LEN 16u
#define AMD_EFR_HDSUP (1ull << 52)

static void decode(const void *data, uint32_t len, struct iommudirty_caps *caps)
{
	uint64_t efr;

	if (vendor_short(len, AMD_LEN, caps))
		return;
	efr = vendor_u64(data, 0);

	caps->decoded_dirty = !!(efr & AMD_EFR_HDSUP);
	if (!caps->decoded_dirty)
		caps_add_reason(caps, IOMMUDIRTY_REASON_AMD_NO_HDSUP);
	if (caps->dirty)
		caps->constraints |= IOMMUDIRTY_CONSTRAINT_V1_TABLES |
				     IOMMUDIRTY_CONSTRAINT_NO_PASID;
	/* The v1 table's sizes are the driver's, not in EFR: left 0. */
}

const struct vendor_ops vendor_amd = {
	.vendor = IOMMUDIRTY_VENDOR_AMD_VI,
	.hw_info_type = IOMMUDIRTY_HW_INFO_AMD,
	.decode = decode,
};
