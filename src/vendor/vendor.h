/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One decoder per IOMMU vendor, behind one table. */
#ifndef IOMMUDIRTY_VENDOR_H
#define IOMMUDIRTY_VENDOR_H

#include "internal.h"

struct vendor_ops {
	uint32_t vendor;        /* enum iommudirty_vendor */
	uint32_t hw_info_type;  /* IOMMUDIRTY_HW_INFO_* it decodes */
	/* Fill caps->decoded_dirty, reasons (via caps_add_reason), constraints
	 * and pgsize_bitmap from the vendor data. Never trust len. caps->dirty
	 * (the kernel's bit) is already set, for reasons only it can reveal. */
	void (*decode)(const void *data, uint32_t len, struct iommudirty_caps *caps);
};

extern const struct vendor_ops vendor_vtd, vendor_amd, vendor_smmuv3, vendor_mock;

void caps_add_reason(struct iommudirty_caps *caps, uint32_t reason);

/* The kernel copies registers out in host byte order, at any alignment. */
static inline uint32_t vendor_u32(const void *data, size_t off)
{
	uint32_t v;

	memcpy(&v, (const uint8_t *)data + off, sizeof(v));
	return v;
}

static inline uint64_t vendor_u64(const void *data, size_t off)
{
	uint64_t v;

	memcpy(&v, (const uint8_t *)data + off, sizeof(v));
	return v;
}

/* Short vendor data: nothing can be decoded, the kernel's bit alone speaks. */
static inline bool vendor_short(uint32_t len, size_t need,
				struct iommudirty_caps *caps)
{
	if (len >= need)
		return false;
	caps_add_reason(caps, IOMMUDIRTY_REASON_SHORT_VENDOR_DATA);
	caps->decoded_dirty = -1;
	return true;
}

#endif
