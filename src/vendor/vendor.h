/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* One decoder per IOMMU vendor, behind one table. */
#ifndef IOMMUDIRTY_VENDOR_H
#define IOMMUDIRTY_VENDOR_H

#include "internal.h"

struct vendor_ops {
	uint32_t vendor;        /* enum iommudirty_vendor */
	uint32_t hw_info_type;  /* IOMMUDIRTY_HW_INFO_* it decodes */
	/* Fill caps->decoded_dirty, reasons (via caps_add_reason), constraints
	 * and pgsize_bitmap from the vendor data. Never trust len. */
	void (*decode)(const void *data, uint32_t len, struct iommudirty_caps *caps);
};

extern const struct vendor_ops vendor_vtd, vendor_amd, vendor_smmuv3, vendor_mock;

void caps_add_reason(struct iommudirty_caps *caps, uint32_t reason);

#endif
