/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The vendor layer: pick the decoder for a hw_info type, then reconcile
 * what the registers say with the kernel's capability bit, which wins. */
#include "vendor/vendor.h"

static const struct vendor_ops *const vendors[] = {
	&vendor_vtd, &vendor_amd, &vendor_smmuv3, &vendor_mock,
};

void caps_add_reason(struct iommudirty_caps *caps, uint32_t reason)
{
	for (uint32_t i = 0; i < caps->nr_reasons; i++)
		if (caps->reasons[i] == reason)
			return;
	if (caps->nr_reasons < IOMMUDIRTY_CAPS_MAX_REASONS)
		caps->reasons[caps->nr_reasons++] = reason;
}

/* 0.1's struct ended at __reserved2. */
#define CAPS_MIN_SZ (offsetof(struct iommudirty_caps, __reserved2) + sizeof(uint32_t))

static void decode(uint32_t type, const void *data, uint32_t len,
		   uint64_t kernel_caps, struct iommudirty_caps *caps)
{
	const struct vendor_ops *ops = NULL;

	memset(caps, 0, sizeof(*caps));
	caps->sz = sizeof(*caps);
	caps->decoded_dirty = -1;
	caps->dma_logging = -1;
	caps->devlink_migratable = -1;
	caps->dirty = !!(kernel_caps & IOMMUDIRTY_HW_CAP_DIRTY_TRACKING);
	for (size_t i = 0; i < ARRAY_SIZE(vendors); i++)
		if (vendors[i]->hw_info_type == type && type != IOMMUDIRTY_HW_INFO_NONE)
			ops = vendors[i];
	if (ops) {
		caps->vendor = ops->vendor;
		ops->decode(data, len, caps);
	} else if (type == IOMMUDIRTY_HW_INFO_NONE) {
		caps_add_reason(caps, IOMMUDIRTY_REASON_NO_VENDOR_DATA);
	} else {
		caps_add_reason(caps, IOMMUDIRTY_REASON_UNKNOWN_VENDOR);
	}
	if (!caps->dirty)
		caps_add_reason(caps, IOMMUDIRTY_REASON_KERNEL_NO_CAP);
	if (caps->decoded_dirty >= 0 && caps->decoded_dirty != caps->dirty)
		caps_add_reason(caps, IOMMUDIRTY_REASON_DECODE_DISAGREES);
}

/* Fill the caller's struct up to its size (an older, shorter one too). */
static void copy_caps(const struct iommudirty_caps *from, struct iommudirty_caps *to)
{
	size_t sz = MIN(to->sz, sizeof(*to));

	memcpy((char *)to + sizeof(to->sz), (const char *)from + sizeof(to->sz),
	       sz - sizeof(to->sz));
}

IOMMUDIRTY_API int iommudirty_decode_hw_info(uint32_t type, const void *data,
					     uint32_t len, uint64_t kernel_caps,
					     struct iommudirty_caps *caps)
{
	struct iommudirty_caps c;

	if (!caps || caps->sz < CAPS_MIN_SZ || (!data && len))
		return ret_err(-EINVAL);
	decode(type, data, len, kernel_caps, &c);
	copy_caps(&c, caps);
	return 0;
}

IOMMUDIRTY_API int iommudirty_device_caps(const struct iommudirty_device *dev,
					  struct iommudirty_caps *caps)
{
	struct iommudirty_caps c;

	if (!dev || !caps || caps->sz < CAPS_MIN_SZ)
		return ret_err(-EINVAL);
	decode(dev->hw.type, dev->hw.data, dev->hw.data_len, dev->hw.capabilities, &c);
	if (dev->emulated) {
		/* No IOMMU to decode: say that, not "no registers". */
		c.nr_reasons = 0;
		c.emulated_iommu = 1;
		caps_add_reason(&c, IOMMUDIRTY_REASON_EMULATED_IOMMU);
	}
	c.dma_logging = dev->dma_logging;
	c.migration_flags = dev->migration_flags;
	c.devlink_migratable = dev->devlink_migratable;
	c.devlink_reason = dev->devlink_reason;
	copy_caps(&c, caps);
	return 0;
}

IOMMUDIRTY_API const char *iommudirty_vendor_str(uint32_t vendor)
{
	switch (vendor) {
	case IOMMUDIRTY_VENDOR_INTEL_VTD: return "Intel VT-d";
	case IOMMUDIRTY_VENDOR_AMD_VI: return "AMD-Vi";
	case IOMMUDIRTY_VENDOR_ARM_SMMUV3: return "ARM SMMUv3";
	case IOMMUDIRTY_VENDOR_SELFTEST: return "selftest mock IOMMU";
	default: return "unknown";
	}
}

IOMMUDIRTY_API const char *iommudirty_reason_str(uint32_t reason)
{
	switch (reason) {
	case IOMMUDIRTY_REASON_NONE: return "no reason";
	case IOMMUDIRTY_REASON_KERNEL_NO_CAP: return "kernel: IOMMU_HW_CAP_DIRTY_TRACKING=0: this IOMMU cannot track dirty pages";
	case IOMMUDIRTY_REASON_UNKNOWN_VENDOR: return "unknown IOMMU vendor: only the kernel's capability bit is known";
	case IOMMUDIRTY_REASON_NO_VENDOR_DATA: return "the kernel reports no IOMMU registers for this device";
	case IOMMUDIRTY_REASON_SHORT_VENDOR_DATA: return "the kernel reported fewer register bytes than the vendor layout";
	case IOMMUDIRTY_REASON_DECODE_DISAGREES: return "the registers and the kernel's capability bit disagree: the kernel's bit wins";
	case IOMMUDIRTY_REASON_VTD_NO_SMTS: return "VT-d: ECAP.SMTS=0: no scalable-mode translation";
	case IOMMUDIRTY_REASON_VTD_NO_SLTS: return "VT-d: ECAP.SLTS=0: no second-stage translation";
	case IOMMUDIRTY_REASON_VTD_NO_SLADS: return "VT-d: ECAP.SLADS=0: no second-stage access/dirty bits";
	case IOMMUDIRTY_REASON_VTD_NO_SMPWC: return "VT-d: ECAP.SMPWC=0: no scalable-mode page-walk coherency";
	case IOMMUDIRTY_REASON_VTD_LEGACY_MODE: return "VT-d: scalable mode not in use (legacy mode; inferred): boot with intel_iommu=sm_on";
	case IOMMUDIRTY_REASON_VTD_ERRATUM_772415: return "VT-d: erratum 772415 (SPR17) flagged by the kernel";
	case IOMMUDIRTY_REASON_AMD_NO_HDSUP: return "AMD-Vi: EFR.HDSup=0: no hardware dirty bit support";
	case IOMMUDIRTY_REASON_SMMUV3_NO_HTTU_DIRTY: return "SMMUv3: IDR0.HTTU has no dirty-state update";
	case IOMMUDIRTY_REASON_SMMUV3_NOT_COHERENT: return "SMMUv3: IDR0.COHACC=0: table walks are not coherent";
	case IOMMUDIRTY_REASON_SMMUV3_NO_STAGE1: return "SMMUv3: IDR0.S1P=0: no stage 1, the only stage that can track";
	case IOMMUDIRTY_REASON_SMMUV3_FIRMWARE: return "SMMUv3: the registers allow it, so firmware (IORT / device tree) withholds coherency or HTTU (inferred)";
	case IOMMUDIRTY_REASON_MOCK_NO_DIRTY: return "mock IOMMU: device created with MOCK_FLAGS_DEVICE_NO_DIRTY";
	case IOMMUDIRTY_REASON_NO_IOMMUFD: return "iommufd: no /dev/iommu (kernel built without CONFIG_IOMMUFD, or the module is not loaded)";
	case IOMMUDIRTY_REASON_NO_VFIO_CDEV: return "iommufd: a device has no VFIO cdev (CONFIG_VFIO_DEVICE_CDEV off, or not bound to a VFIO driver)";
	case IOMMUDIRTY_REASON_DEVICE_CANNOT_TRACK: return "iommufd: a device's IOMMU cannot track dirty pages";
	case IOMMUDIRTY_REASON_IOMMUFD_FAILED: return "iommufd: a kernel call failed (see the log)";
	case IOMMUDIRTY_REASON_NO_TYPE1_CONTAINER: return "type1: no /dev/vfio/vfio container";
	case IOMMUDIRTY_REASON_NO_TYPE1V2: return "type1: the container offers no TYPE1v2 IOMMU";
	case IOMMUDIRTY_REASON_GROUP_NOT_VIABLE: return "type1: a device's IOMMU group is not viable (a member is not bound to a VFIO driver)";
	case IOMMUDIRTY_REASON_TYPE1_NO_MIGRATION: return "type1: no dirty page tracking (no CAP_MIGRATION; e.g. iommufd's compat container)";
	case IOMMUDIRTY_REASON_TYPE1_FAILED: return "type1: a kernel call failed (see the log)";
	case IOMMUDIRTY_REASON_TYPE1_CONSERVATIVE: return "type1: no hardware dirty bits: every mapped page is reported dirty on every read";
	case IOMMUDIRTY_REASON_NO_DMA_LOGGING: return "device: no VFIO device DMA logging (its driver has no log ops)";
	case IOMMUDIRTY_REASON_EMULATED_IOMMU: return "device: emulated IOMMU (an mdev): no IOMMU of its own, its only source is its DMA log";
	case IOMMUDIRTY_REASON_POLICY: return "source: usable, but the tracker's policy prefers the one chosen";
	case IOMMUDIRTY_REASON_NOT_ALL_LOG: return "source: all-or-nothing policy and some device has no DMA logging";
	case IOMMUDIRTY_REASON_UNTRACKED_WRITER: return "source: none: an untracked DMA writer, every page it can write is reported dirty on every read";
	case IOMMUDIRTY_REASON_LOG_START_FAILED: return "device log: the device refused DMA_LOGGING_START (see the log)";
	case IOMMUDIRTY_REASON_LOG_RANGES_MERGED: return "device log: ranges merged to fit the device's limit (unmapped gaps inside are logged too)";
	case IOMMUDIRTY_REASON_LOG_UNTRACKED_MAPPING: return "device log: a mapping lies outside the ranges given at START: it is reported dirty on every read";
	case IOMMUDIRTY_REASON_FORCED: return "source: the VMM forced another source for this device";
	case IOMMUDIRTY_REASON_NO_DEVICE_FD: return "device: no device fd: its DMA log cannot be reached";
	case IOMMUDIRTY_REASON_NEEDS_IOMMUFD: return "source: IOMMU dirty bits need an iommufd tracker";
	case IOMMUDIRTY_REASON_LOG_REPORT_FAILED: return "device log: a REPORT failed: the device's logged ranges were reported dirty";
	case IOMMUDIRTY_REASON_NEEDS_TYPE1: return "source: the type1 container's dirty tracking needs a type1 tracker";
	case IOMMUDIRTY_REASON_PRECISE_ONLY: return "source: refused, the tracker takes precise sources only";
	case IOMMUDIRTY_REASON_HUGE_PAGES_TOO_LATE: return "iommufd: huge IO pages cannot be turned off: the IOAS already has mappings in a domain";
	case IOMMUDIRTY_REASON_MOVE_BACK_FAILED: return "atomic unmap: a device could not be moved back after a failed move: every writable page is reported dirty from now on";
	case IOMMUDIRTY_REASON_DEVLINK_MIGRATABLE_OFF: return "devlink: the VF's port function `migratable` is off: VFIO migration needs it on before the VF is bound (see the hint)";
	case IOMMUDIRTY_REASON_DEVLINK_NOT_SWITCHDEV: return "devlink: the PF's eswitch is not in switchdev mode, so the VF has no devlink port (devlink dev eswitch set pci/<PF> mode switchdev)";
	case IOMMUDIRTY_REASON_DEVLINK_NO_MIGRATABLE_OP: return "devlink: the port's driver has no `migratable` operation";
	case IOMMUDIRTY_REASON_DEVLINK_UNAVAILABLE: return "devlink: not available (no devlink netlink family, or the PF has no devlink instance or port)";
	case IOMMUDIRTY_REASON_DEVLINK_NO_LIBNL: return "devlink: library built without libnl-genl-3: devlink cannot be asked";
	case IOMMUDIRTY_REASON_DEVLINK_NOT_A_VF: return "devlink: not a VF (no sysfs physfn), or the port's flavour is not PCI_VF";
	case IOMMUDIRTY_REASON_DEVLINK_NO_PORT: return "devlink: the PF has no PCI_VF port with this VF's number";
	case IOMMUDIRTY_REASON_DEVLINK_MIGRATABLE_ON: return "devlink: the VF's port function `migratable` is on";
	default: return "unknown reason";
	}
}
