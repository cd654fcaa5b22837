/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The few iommufd and VFIO cdev uAPI definitions adopt.c issues itself, as
 * the VMM's own raw calls. They are the kernel's ABI (Linux 6.7 and later:
 * <linux/iommufd.h>, <linux/vfio.h>); Debian 12's kernel headers are 6.1
 * and lack them, so the example declares what it uses. A VMM built against
 * newer headers includes those instead and drops this file.
 */
#ifndef IOMMUDIRTY_EXAMPLE_VMM_UAPI_H
#define IOMMUDIRTY_EXAMPLE_VMM_UAPI_H

#include <stdint.h>
#include <sys/ioctl.h>

/* iommufd ioctls carry their size in the struct, not in the number. */
#define IOMMU_DESTROY _IO(';', 0x80)
#define IOMMU_IOAS_ALLOC _IO(';', 0x81)
#define IOMMU_IOAS_MAP _IO(';', 0x85)
#define IOMMU_IOAS_UNMAP _IO(';', 0x86)
#define IOMMU_HWPT_ALLOC _IO(';', 0x89)
#define IOMMU_HWPT_GET_DIRTY_BITMAP _IO(';', 0x8c)
#define VFIO_DEVICE_BIND_IOMMUFD _IO(';', 100 + 18)
#define VFIO_DEVICE_ATTACH_IOMMUFD_PT _IO(';', 100 + 19)
#define VFIO_DEVICE_DETACH_IOMMUFD_PT _IO(';', 100 + 20)

#define IOMMU_IOAS_MAP_FIXED_IOVA (1u << 0)
#define IOMMU_IOAS_MAP_WRITEABLE (1u << 1)
#define IOMMU_IOAS_MAP_READABLE (1u << 2)
#define IOMMU_HWPT_ALLOC_DIRTY_TRACKING (1u << 1)

struct iommu_destroy { uint32_t size, id; };
struct iommu_ioas_alloc { uint32_t size, flags, out_ioas_id; };
struct iommu_ioas_map {
	uint32_t size, flags, ioas_id, __reserved;
	uint64_t user_va, length, iova;
};
struct iommu_ioas_unmap { uint32_t size, ioas_id; uint64_t iova, length; };
struct iommu_hwpt_alloc {
	uint32_t size, flags, dev_id, pt_id, out_hwpt_id, __reserved;
	uint32_t data_type, data_len;
	uint64_t data_uptr;
};
struct iommu_hwpt_get_dirty_bitmap {
	uint32_t size, hwpt_id, flags, __reserved;
	uint64_t iova, length, page_size, data;
};
struct vfio_device_bind_iommufd { uint32_t argsz, flags; int32_t iommufd; uint32_t out_devid; };
struct vfio_device_attach_iommufd_pt { uint32_t argsz, flags, pt_id; };
struct vfio_device_detach_iommufd_pt { uint32_t argsz, flags; };

_Static_assert(sizeof(struct iommu_ioas_map) == 40, "iommu_ioas_map");
_Static_assert(sizeof(struct iommu_ioas_unmap) == 24, "iommu_ioas_unmap");
_Static_assert(sizeof(struct iommu_hwpt_alloc) == 40, "iommu_hwpt_alloc (6.7 layout)");
_Static_assert(sizeof(struct iommu_hwpt_get_dirty_bitmap) == 48, "get_dirty_bitmap");
_Static_assert(IOMMU_DESTROY == 0x3b80 && VFIO_DEVICE_BIND_IOMMUFD == 0x3b76, "ioctl numbers");

#endif
