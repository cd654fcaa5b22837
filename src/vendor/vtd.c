/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Intel VT-d: struct iommu_hw_info_vtd { u32 flags; u32 __reserved;
 * u64 cap_reg; u64 ecap_reg; } (24 bytes), registers as the VT-d spec
 * lays them (§11.4.2 Capability, §11.4.3 Extended Capability).
 *
 * Linux 6.12 reports IOMMU_CAP_DIRTY_TRACKING when scalable mode is in use
 * and ECAP.SMTS, ECAP.SLADS and ECAP.SMPWC are all set. It gives user
 * domains second-stage tables only, and setting those up fails without
 * ECAP.SLTS, so we require SLTS too. Whether the kernel booted in scalable
 * mode is not in the registers: we can only infer it.
 */
#include "vendor/vendor.h"

#define VTD_LEN 24u
#define VTD_FLAG_ERRATA_772415 (1u << 0)

/* cap_reg */
#define VTD_CAP_SLLPS_SHIFT 34 /* second-stage large pages: bit 0 2M, bit 1 1G */
#define VTD_CAP_SLLPS_MASK 0xfull

/* ecap_reg */
#define VTD_ECAP_SMTS (1ull << 43)
#define VTD_ECAP_SLADS (1ull << 45)
#define VTD_ECAP_SLTS (1ull << 46)
#define VTD_ECAP_SMPWC (1ull << 48)

static void decode(const void *data, uint32_t len, struct iommudirty_caps *caps)
{
	static const struct {
		uint64_t bit;
		uint32_t reason;
	} need[] = {
		{ VTD_ECAP_SMTS, IOMMUDIRTY_REASON_VTD_NO_SMTS },
		{ VTD_ECAP_SLTS, IOMMUDIRTY_REASON_VTD_NO_SLTS },
		{ VTD_ECAP_SLADS, IOMMUDIRTY_REASON_VTD_NO_SLADS },
		{ VTD_ECAP_SMPWC, IOMMUDIRTY_REASON_VTD_NO_SMPWC },
	};
	uint32_t flags;
	uint64_t cap, ecap, sllps;

	if (vendor_short(len, VTD_LEN, caps))
		return;
	flags = vendor_u32(data, 0);
	cap = vendor_u64(data, 8);
	ecap = vendor_u64(data, 16);

	caps->decoded_dirty = 1;
	for (size_t i = 0; i < ARRAY_SIZE(need); i++) {
		if (ecap & need[i].bit)
			continue;
		caps->decoded_dirty = 0;
		caps_add_reason(caps, need[i].reason);
	}
	/* Every register says yes, yet the kernel says no: the one term of its
	 * test we cannot see is scalable mode (intel_iommu=sm_on). Inferred. */
	if (caps->decoded_dirty == 1 && !caps->dirty)
		caps_add_reason(caps, IOMMUDIRTY_REASON_VTD_LEGACY_MODE);

	if (caps->dirty) {
		/* 6.12: DIRTY_TRACKING on a first-stage domain is -EOPNOTSUPP,
		 * and a dirty domain cannot be attached to a PASID. */
		caps->constraints |= IOMMUDIRTY_CONSTRAINT_SECOND_STAGE_ONLY |
				     IOMMUDIRTY_CONSTRAINT_NO_PASID;
	}
	/* 6.12 sets the erratum flag on every VT-d; it does not stop tracking,
	 * it forbids read-only mappings on a nesting parent. */
	if (flags & VTD_FLAG_ERRATA_772415)
		caps->constraints |= IOMMUDIRTY_CONSTRAINT_NO_RO_NEST_PARENT;

	/* 4 KiB always; SLLPS as the kernel reads it (highest bit set wins). */
	sllps = (cap >> VTD_CAP_SLLPS_SHIFT) & VTD_CAP_SLLPS_MASK;
	caps->pgsize_bitmap = 1ull << 12;
	if (sllps & 0x3)
		caps->pgsize_bitmap |= 1ull << 21;
	if (sllps & 0x2)
		caps->pgsize_bitmap |= 1ull << 30;
}

const struct vendor_ops vendor_vtd = {
	.vendor = IOMMUDIRTY_VENDOR_INTEL_VTD,
	.hw_info_type = IOMMUDIRTY_HW_INFO_INTEL_VTD,
	.decode = decode,
};
