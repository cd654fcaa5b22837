/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * ARM SMMUv3: struct iommu_hw_info_arm_smmuv3 { u32 flags; u32 __reserved;
 * u32 idr[6]; u32 iidr; u32 aidr; } (40 bytes; the kernel reports it from
 * 6.14 on). IDR0..IDR5 as the SMMUv3 spec lays them.
 *
 * Linux reports IOMMU_CAP_DIRTY_TRACKING when the SMMU has hardware dirty
 * state update (HTTU = access + dirty) and coherent table walks, and only a
 * stage-1 domain can track (a stage-2 one with DIRTY_TRACKING is
 * -EOPNOTSUPP), so an SMMU without stage 1 never can. Firmware has the last
 * word on both conditions (device tree "dma-coherent"; ACPI IORT overrides
 * HTTU and COHACC), so the registers can disagree with the kernel.
 */
#include "vendor/vendor.h"

#define SMMUV3_LEN 40u

/* IDR0 */
#define IDR0_S1P (1u << 1)
#define IDR0_COHACC (1u << 4)
#define IDR0_HTTU_SHIFT 6
#define IDR0_HTTU_MASK 0x3u
#define IDR0_HTTU_ACCESS_DIRTY 2u

/* IDR5 */
#define IDR5_OAS_MASK 0x7u
#define IDR5_OAS_52 6u
#define IDR5_GRAN4K (1u << 4)
#define IDR5_GRAN16K (1u << 5)
#define IDR5_GRAN64K (1u << 6)

static void decode(const void *data, uint32_t len, struct iommudirty_caps *caps)
{
	uint32_t idr0, idr5;

	if (vendor_short(len, SMMUV3_LEN, caps))
		return;
	idr0 = vendor_u32(data, 8);
	idr5 = vendor_u32(data, 8 + 5 * 4);

	caps->decoded_dirty = 1;
	if (((idr0 >> IDR0_HTTU_SHIFT) & IDR0_HTTU_MASK) != IDR0_HTTU_ACCESS_DIRTY) {
		caps->decoded_dirty = 0;
		caps_add_reason(caps, IOMMUDIRTY_REASON_SMMUV3_NO_HTTU_DIRTY);
	}
	if (!(idr0 & IDR0_COHACC)) {
		caps->decoded_dirty = 0;
		caps_add_reason(caps, IOMMUDIRTY_REASON_SMMUV3_NOT_COHERENT);
	}
	if (!(idr0 & IDR0_S1P)) {
		caps->decoded_dirty = 0;
		caps_add_reason(caps, IOMMUDIRTY_REASON_SMMUV3_NO_STAGE1);
	}
	/* The registers allow it and the kernel refuses: firmware withheld
	 * coherency or HTTU. Inferred: the firmware tables are not reported. */
	if (caps->decoded_dirty == 1 && !caps->dirty)
		caps_add_reason(caps, IOMMUDIRTY_REASON_SMMUV3_FIRMWARE);
	if (caps->dirty)
		caps->constraints |= IOMMUDIRTY_CONSTRAINT_STAGE1_ONLY;

	/* Each granule with its block sizes, as the driver builds the SMMU's
	 * page sizes (one granule is then used per domain). */
	if (idr5 & IDR5_GRAN4K)
		caps->pgsize_bitmap |= (1ull << 12) | (1ull << 21) | (1ull << 30);
	if (idr5 & IDR5_GRAN16K)
		caps->pgsize_bitmap |= (1ull << 14) | (1ull << 25);
	if (idr5 & IDR5_GRAN64K) {
		caps->pgsize_bitmap |= (1ull << 16) | (1ull << 29);
		if ((idr5 & IDR5_OAS_MASK) == IDR5_OAS_52)
			caps->pgsize_bitmap |= 1ull << 42;
	}
}

const struct vendor_ops vendor_smmuv3 = {
	.vendor = IOMMUDIRTY_VENDOR_ARM_SMMUV3,
	.hw_info_type = IOMMUDIRTY_HW_INFO_ARM_SMMUV3,
	.decode = decode,
};
