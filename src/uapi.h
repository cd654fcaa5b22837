/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Our own definitions of the iommufd and VFIO uAPI we use. Debian 12's
 * <linux/iommufd.h> predates dirty tracking, so we never include it. Layouts
 * are facts of the kernel ABI; the asserts below pin every size and offset.
 * iommufd ioctls are _IO(';', nr): the size is not encoded, the first u32 of
 * each struct is its size.
 */
#ifndef IOMMUDIRTY_UAPI_H
#define IOMMUDIRTY_UAPI_H

#include <stddef.h>
#include <stdint.h>

#define UAPI_IO(type, nr) ((unsigned long)(((type) << 8) | (nr)))
#define IOMMUFD_TYPE ';'
#define VFIO_TYPE ';'
#define VFIO_BASE 100

#define IOMMU_DESTROY UAPI_IO(IOMMUFD_TYPE, 0x80)
#define IOMMU_IOAS_ALLOC UAPI_IO(IOMMUFD_TYPE, 0x81)
#define IOMMU_IOAS_ALLOW_IOVAS UAPI_IO(IOMMUFD_TYPE, 0x82)
#define IOMMU_IOAS_COPY UAPI_IO(IOMMUFD_TYPE, 0x83)
#define IOMMU_IOAS_IOVA_RANGES UAPI_IO(IOMMUFD_TYPE, 0x84)
#define IOMMU_IOAS_MAP UAPI_IO(IOMMUFD_TYPE, 0x85)
#define IOMMU_IOAS_UNMAP UAPI_IO(IOMMUFD_TYPE, 0x86)
#define IOMMU_OPTION UAPI_IO(IOMMUFD_TYPE, 0x87)
#define IOMMU_HWPT_ALLOC UAPI_IO(IOMMUFD_TYPE, 0x89)
#define IOMMU_GET_HW_INFO UAPI_IO(IOMMUFD_TYPE, 0x8a)
#define IOMMU_HWPT_SET_DIRTY_TRACKING UAPI_IO(IOMMUFD_TYPE, 0x8b)
#define IOMMU_HWPT_GET_DIRTY_BITMAP UAPI_IO(IOMMUFD_TYPE, 0x8c)

#define VFIO_DEVICE_BIND_IOMMUFD UAPI_IO(VFIO_TYPE, VFIO_BASE + 18)
#define VFIO_DEVICE_ATTACH_IOMMUFD_PT UAPI_IO(VFIO_TYPE, VFIO_BASE + 19)
#define VFIO_DEVICE_DETACH_IOMMUFD_PT UAPI_IO(VFIO_TYPE, VFIO_BASE + 20)

_Static_assert(IOMMU_DESTROY == 0x3b80, "ioctl number");
_Static_assert(IOMMU_HWPT_GET_DIRTY_BITMAP == 0x3b8c, "ioctl number");
_Static_assert(VFIO_DEVICE_BIND_IOMMUFD == 0x3b76, "ioctl number");
_Static_assert(VFIO_DEVICE_DETACH_IOMMUFD_PT == 0x3b78, "ioctl number");

#define UAPI_ALIGNED_U64 uint64_t __attribute__((aligned(8)))

struct uapi_destroy {
	uint32_t size;
	uint32_t id;
};

struct uapi_ioas_alloc {
	uint32_t size;
	uint32_t flags;
	uint32_t out_ioas_id;
};

struct uapi_iova_range {
	UAPI_ALIGNED_U64 start;
	UAPI_ALIGNED_U64 last;
};

struct uapi_ioas_iova_ranges {
	uint32_t size;
	uint32_t ioas_id;
	uint32_t num_iovas;
	uint32_t __reserved;
	UAPI_ALIGNED_U64 allowed_iovas; /* user pointer to uapi_iova_range[] */
	UAPI_ALIGNED_U64 out_iova_alignment;
};

#define UAPI_IOAS_MAP_FIXED_IOVA (1u << 0)
#define UAPI_IOAS_MAP_WRITEABLE (1u << 1)
#define UAPI_IOAS_MAP_READABLE (1u << 2)

struct uapi_ioas_map {
	uint32_t size;
	uint32_t flags;
	uint32_t ioas_id;
	uint32_t __reserved;
	UAPI_ALIGNED_U64 user_va;
	UAPI_ALIGNED_U64 length;
	UAPI_ALIGNED_U64 iova;
};

struct uapi_ioas_copy {
	uint32_t size;
	uint32_t flags;
	uint32_t dst_ioas_id;
	uint32_t src_ioas_id;
	UAPI_ALIGNED_U64 length;
	UAPI_ALIGNED_U64 dst_iova;
	UAPI_ALIGNED_U64 src_iova;
};

struct uapi_ioas_unmap {
	uint32_t size;
	uint32_t ioas_id;
	UAPI_ALIGNED_U64 iova;
	UAPI_ALIGNED_U64 length; /* in: range; out: bytes unmapped */
};

#define UAPI_HWPT_ALLOC_NEST_PARENT (1u << 0)
#define UAPI_HWPT_ALLOC_DIRTY_TRACKING (1u << 1)
#define UAPI_HWPT_FAULT_ID_VALID (1u << 2)

struct uapi_hwpt_alloc {
	uint32_t size;
	uint32_t flags;
	uint32_t dev_id;
	uint32_t pt_id;
	uint32_t out_hwpt_id;
	uint32_t __reserved;
	uint32_t data_type;
	uint32_t data_len;
	UAPI_ALIGNED_U64 data_uptr;
	uint32_t fault_id;
	uint32_t __reserved2;
};
#define UAPI_HWPT_ALLOC_MIN_SIZE 24 /* the 6.6 layout, up to __reserved */

#define UAPI_HW_CAP_DIRTY_TRACKING (1ull << 0)

struct uapi_hw_info {
	uint32_t size;
	uint32_t flags;
	uint32_t dev_id;
	uint32_t data_len;
	UAPI_ALIGNED_U64 data_uptr;
	uint32_t out_data_type;
	uint8_t out_max_pasid_log2;
	uint8_t __reserved[3];
	UAPI_ALIGNED_U64 out_capabilities;
};
#define UAPI_HW_INFO_MIN_SIZE 32 /* the 6.6 layout, before capabilities */

#define UAPI_HWPT_DIRTY_TRACKING_ENABLE (1u << 0)

struct uapi_hwpt_set_dirty_tracking {
	uint32_t size;
	uint32_t flags;
	uint32_t hwpt_id;
	uint32_t __reserved;
};

#define UAPI_HWPT_GET_DIRTY_BITMAP_NO_CLEAR (1u << 0)

struct uapi_hwpt_get_dirty_bitmap {
	uint32_t size;
	uint32_t hwpt_id;
	uint32_t flags;
	uint32_t __reserved;
	UAPI_ALIGNED_U64 iova;
	UAPI_ALIGNED_U64 length;
	UAPI_ALIGNED_U64 page_size;
	UAPI_ALIGNED_U64 data; /* user pointer to the bitmap */
};

struct uapi_vfio_bind_iommufd {
	uint32_t argsz;
	uint32_t flags;
	int32_t iommufd;
	uint32_t out_devid;
};

struct uapi_vfio_attach_pt {
	uint32_t argsz;
	uint32_t flags;
	uint32_t pt_id; /* in: IOAS or HWPT; out: the HWPT attached */
};

struct uapi_vfio_detach_pt {
	uint32_t argsz;
	uint32_t flags;
};

/* VFIO type1 container and groups (legacy VFIO). */
#define VFIO_API_VERSION 0
#define VFIO_TYPE1v2_IOMMU 3
#define VFIO_GET_API_VERSION UAPI_IO(VFIO_TYPE, VFIO_BASE + 0)
#define VFIO_CHECK_EXTENSION UAPI_IO(VFIO_TYPE, VFIO_BASE + 1)
#define VFIO_SET_IOMMU UAPI_IO(VFIO_TYPE, VFIO_BASE + 2)
#define VFIO_GROUP_GET_STATUS UAPI_IO(VFIO_TYPE, VFIO_BASE + 3)
#define VFIO_GROUP_SET_CONTAINER UAPI_IO(VFIO_TYPE, VFIO_BASE + 4)
#define VFIO_GROUP_UNSET_CONTAINER UAPI_IO(VFIO_TYPE, VFIO_BASE + 5)
#define VFIO_GROUP_GET_DEVICE_FD UAPI_IO(VFIO_TYPE, VFIO_BASE + 6)
#define VFIO_IOMMU_GET_INFO UAPI_IO(VFIO_TYPE, VFIO_BASE + 12)
#define VFIO_IOMMU_MAP_DMA UAPI_IO(VFIO_TYPE, VFIO_BASE + 13)
#define VFIO_IOMMU_UNMAP_DMA UAPI_IO(VFIO_TYPE, VFIO_BASE + 14)
/* The same number as VFIO_DEVICE_FEATURE: container fd vs device fd. */
#define VFIO_IOMMU_DIRTY_PAGES UAPI_IO(VFIO_TYPE, VFIO_BASE + 17)

_Static_assert(VFIO_CHECK_EXTENSION == 0x3b65, "ioctl number");
_Static_assert(VFIO_IOMMU_UNMAP_DMA == 0x3b72, "ioctl number");
_Static_assert(VFIO_IOMMU_DIRTY_PAGES == 0x3b75, "ioctl number");

#define UAPI_VFIO_GROUP_FLAGS_VIABLE (1u << 0)
#define UAPI_VFIO_GROUP_FLAGS_CONTAINER_SET (1u << 1)

struct uapi_vfio_group_status {
	uint32_t argsz;
	uint32_t flags;
};

struct uapi_vfio_info_cap_header {
	uint16_t id;
	uint16_t version;
	uint32_t next; /* offset of the next capability from the struct start, 0: last */
};

#define UAPI_VFIO_IOMMU_INFO_PGSIZES (1u << 0)
#define UAPI_VFIO_IOMMU_INFO_CAPS (1u << 1)

struct uapi_vfio_iommu_type1_info {
	uint32_t argsz;
	uint32_t flags;
	UAPI_ALIGNED_U64 iova_pgsizes;
	uint32_t cap_offset;
	uint32_t pad;
};

#define UAPI_VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE 1
#define UAPI_VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION 2

struct uapi_vfio_iova_range {
	uint64_t start;
	uint64_t end; /* inclusive */
};

struct uapi_vfio_cap_iova_range {
	struct uapi_vfio_info_cap_header header;
	uint32_t nr_iovas;
	uint32_t reserved;
	struct uapi_vfio_iova_range iova_ranges[];
};

struct uapi_vfio_cap_migration {
	struct uapi_vfio_info_cap_header header;
	uint32_t flags;
	uint64_t pgsize_bitmap;
	uint64_t max_dirty_bitmap_size; /* bytes */
};

#define UAPI_VFIO_DMA_MAP_FLAG_READ (1u << 0)
#define UAPI_VFIO_DMA_MAP_FLAG_WRITE (1u << 1)

struct uapi_vfio_dma_map {
	uint32_t argsz;
	uint32_t flags;
	uint64_t vaddr;
	uint64_t iova;
	uint64_t size;
};

struct uapi_vfio_bitmap {
	uint64_t pgsize;
	uint64_t size; /* bytes */
	uint64_t data; /* user pointer */
};

#define UAPI_VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP (1u << 0)
#define UAPI_VFIO_DMA_UNMAP_FLAG_ALL (1u << 1)

struct uapi_vfio_dma_unmap {
	uint32_t argsz;
	uint32_t flags;
	uint64_t iova;
	uint64_t size; /* out: bytes unmapped */
	/* data[]: a uapi_vfio_bitmap with GET_DIRTY_BITMAP */
};

struct uapi_vfio_dma_unmap_bitmap {
	struct uapi_vfio_dma_unmap unmap;
	struct uapi_vfio_bitmap bitmap;
};

#define UAPI_VFIO_DIRTY_PAGES_FLAG_START (1u << 0)
#define UAPI_VFIO_DIRTY_PAGES_FLAG_STOP (1u << 1)
#define UAPI_VFIO_DIRTY_PAGES_FLAG_GET_BITMAP (1u << 2)

struct uapi_vfio_dirty_bitmap {
	uint32_t argsz;
	uint32_t flags;
	/* data[]: a uapi_vfio_dirty_bitmap_get with GET_BITMAP */
};

struct uapi_vfio_dirty_bitmap_get {
	uint64_t iova;
	uint64_t size;
	struct uapi_vfio_bitmap bitmap;
};

struct uapi_vfio_dirty_pages_get {
	struct uapi_vfio_dirty_bitmap hdr;
	struct uapi_vfio_dirty_bitmap_get get;
};

/* VFIO device features (6.12 include/uapi/linux/vfio.h), on a device fd:
 * a cdev bound to an iommufd, or a group's device fd. */
#define VFIO_DEVICE_FEATURE UAPI_IO(VFIO_TYPE, VFIO_BASE + 17)
_Static_assert(VFIO_DEVICE_FEATURE == 0x3b75, "ioctl number");

#define UAPI_VFIO_DEVICE_FEATURE_MASK 0xffffu
#define UAPI_VFIO_DEVICE_FEATURE_GET (1u << 16)
#define UAPI_VFIO_DEVICE_FEATURE_SET (1u << 17)
#define UAPI_VFIO_DEVICE_FEATURE_PROBE (1u << 18)
#define UAPI_VFIO_DEVICE_FEATURE_MIGRATION 1u
#define UAPI_VFIO_DEVICE_FEATURE_DMA_LOGGING_START 6u
#define UAPI_VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP 7u
#define UAPI_VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT 8u
/* LOG_MAX_RANGES on 4 KiB kernel pages (PAGE_SIZE / sizeof(range)). */
#define UAPI_VFIO_DMA_LOGGING_MAX_RANGES 256u

struct uapi_vfio_device_feature {
	uint32_t argsz;
	uint32_t flags; /* feature index | GET / SET / PROBE */
	/* data[]: the feature's struct */
};

#define UAPI_VFIO_MIGRATION_STOP_COPY (1u << 0)
#define UAPI_VFIO_MIGRATION_P2P (1u << 1)
#define UAPI_VFIO_MIGRATION_PRE_COPY (1u << 2)

struct uapi_vfio_device_feature_migration {
	UAPI_ALIGNED_U64 flags; /* UAPI_VFIO_MIGRATION_* */
};

struct uapi_vfio_feature_migration_get {
	struct uapi_vfio_device_feature hdr;
	struct uapi_vfio_device_feature_migration mig;
};

/* IOMMU_OPTION: RLIMIT_MODE (object 0) and HUGE_PAGES (an IOAS). */
#define UAPI_OPTION_RLIMIT_MODE 0u
#define UAPI_OPTION_HUGE_PAGES 1u
#define UAPI_OPTION_OP_SET 0u
#define UAPI_OPTION_OP_GET 1u

struct uapi_option {
	uint32_t size;
	uint32_t option_id;
	uint16_t op;
	uint16_t __reserved;
	uint32_t object_id;
	UAPI_ALIGNED_U64 val64;
};

/* DMA_LOGGING_START (SET): the ranges the device logs, at page_size
 * (in/out: the device may pick another). */
struct uapi_vfio_dma_logging_range {
	UAPI_ALIGNED_U64 iova;
	UAPI_ALIGNED_U64 length;
};

struct uapi_vfio_dma_logging_control {
	UAPI_ALIGNED_U64 page_size;
	uint32_t num_ranges;
	uint32_t __reserved;
	UAPI_ALIGNED_U64 ranges; /* user pointer to num_ranges ranges */
};

/* DMA_LOGGING_REPORT (GET): read and clear [iova, iova+length) into the
 * user bitmap at page_size; bits are only ever set. */
struct uapi_vfio_dma_logging_report {
	UAPI_ALIGNED_U64 iova;
	UAPI_ALIGNED_U64 length;
	UAPI_ALIGNED_U64 page_size;
	UAPI_ALIGNED_U64 bitmap; /* user pointer */
};

struct uapi_vfio_feature_dma_logging_control {
	struct uapi_vfio_device_feature hdr;
	struct uapi_vfio_dma_logging_control ctl;
};

struct uapi_vfio_feature_dma_logging_report {
	struct uapi_vfio_device_feature hdr;
	struct uapi_vfio_dma_logging_report rep;
};

#define UAPI_PIN(type, field, off) \
	_Static_assert(offsetof(struct type, field) == (off), #type "." #field)
#define UAPI_SIZE(type, sz) _Static_assert(sizeof(struct type) == (sz), #type)

UAPI_SIZE(uapi_destroy, 8);
UAPI_PIN(uapi_destroy, id, 4);
UAPI_SIZE(uapi_ioas_alloc, 12);
UAPI_PIN(uapi_ioas_alloc, out_ioas_id, 8);
UAPI_SIZE(uapi_iova_range, 16);
UAPI_PIN(uapi_iova_range, last, 8);
UAPI_SIZE(uapi_ioas_iova_ranges, 32);
UAPI_PIN(uapi_ioas_iova_ranges, num_iovas, 8);
UAPI_PIN(uapi_ioas_iova_ranges, allowed_iovas, 16);
UAPI_PIN(uapi_ioas_iova_ranges, out_iova_alignment, 24);
UAPI_SIZE(uapi_ioas_map, 40);
UAPI_PIN(uapi_ioas_map, ioas_id, 8);
UAPI_PIN(uapi_ioas_map, user_va, 16);
UAPI_PIN(uapi_ioas_map, length, 24);
UAPI_PIN(uapi_ioas_map, iova, 32);
UAPI_SIZE(uapi_ioas_copy, 40);
UAPI_PIN(uapi_ioas_copy, dst_ioas_id, 8);
UAPI_PIN(uapi_ioas_copy, src_ioas_id, 12);
UAPI_PIN(uapi_ioas_copy, length, 16);
UAPI_PIN(uapi_ioas_copy, dst_iova, 24);
UAPI_PIN(uapi_ioas_copy, src_iova, 32);
UAPI_SIZE(uapi_ioas_unmap, 24);
UAPI_PIN(uapi_ioas_unmap, iova, 8);
UAPI_PIN(uapi_ioas_unmap, length, 16);
UAPI_SIZE(uapi_hwpt_alloc, 48);
UAPI_PIN(uapi_hwpt_alloc, dev_id, 8);
UAPI_PIN(uapi_hwpt_alloc, pt_id, 12);
UAPI_PIN(uapi_hwpt_alloc, out_hwpt_id, 16);
UAPI_PIN(uapi_hwpt_alloc, data_type, 24);
UAPI_PIN(uapi_hwpt_alloc, data_len, 28);
UAPI_PIN(uapi_hwpt_alloc, data_uptr, 32);
UAPI_PIN(uapi_hwpt_alloc, fault_id, 40);
UAPI_SIZE(uapi_hw_info, 40);
UAPI_PIN(uapi_hw_info, dev_id, 8);
UAPI_PIN(uapi_hw_info, data_len, 12);
UAPI_PIN(uapi_hw_info, data_uptr, 16);
UAPI_PIN(uapi_hw_info, out_data_type, 24);
UAPI_PIN(uapi_hw_info, out_max_pasid_log2, 28);
UAPI_PIN(uapi_hw_info, out_capabilities, 32);
UAPI_SIZE(uapi_hwpt_set_dirty_tracking, 16);
UAPI_PIN(uapi_hwpt_set_dirty_tracking, hwpt_id, 8);
UAPI_SIZE(uapi_hwpt_get_dirty_bitmap, 48);
UAPI_PIN(uapi_hwpt_get_dirty_bitmap, hwpt_id, 4);
UAPI_PIN(uapi_hwpt_get_dirty_bitmap, flags, 8);
UAPI_PIN(uapi_hwpt_get_dirty_bitmap, iova, 16);
UAPI_PIN(uapi_hwpt_get_dirty_bitmap, length, 24);
UAPI_PIN(uapi_hwpt_get_dirty_bitmap, page_size, 32);
UAPI_PIN(uapi_hwpt_get_dirty_bitmap, data, 40);
UAPI_SIZE(uapi_vfio_bind_iommufd, 16);
UAPI_PIN(uapi_vfio_bind_iommufd, iommufd, 8);
UAPI_PIN(uapi_vfio_bind_iommufd, out_devid, 12);
UAPI_SIZE(uapi_vfio_attach_pt, 12);
UAPI_PIN(uapi_vfio_attach_pt, pt_id, 8);
UAPI_SIZE(uapi_vfio_detach_pt, 8);

UAPI_SIZE(uapi_vfio_group_status, 8);
UAPI_SIZE(uapi_vfio_info_cap_header, 8);
UAPI_PIN(uapi_vfio_info_cap_header, next, 4);
UAPI_SIZE(uapi_vfio_iommu_type1_info, 24);
UAPI_PIN(uapi_vfio_iommu_type1_info, iova_pgsizes, 8);
UAPI_PIN(uapi_vfio_iommu_type1_info, cap_offset, 16);
UAPI_SIZE(uapi_vfio_iova_range, 16);
UAPI_SIZE(uapi_vfio_cap_iova_range, 16);
UAPI_SIZE(uapi_vfio_cap_migration, 32);
UAPI_PIN(uapi_vfio_cap_migration, flags, 8);
UAPI_PIN(uapi_vfio_cap_migration, pgsize_bitmap, 16);
UAPI_PIN(uapi_vfio_cap_migration, max_dirty_bitmap_size, 24);
UAPI_SIZE(uapi_vfio_dma_map, 32);
UAPI_PIN(uapi_vfio_dma_map, vaddr, 8);
UAPI_PIN(uapi_vfio_dma_map, iova, 16);
UAPI_PIN(uapi_vfio_dma_map, size, 24);
UAPI_SIZE(uapi_vfio_bitmap, 24);
UAPI_PIN(uapi_vfio_bitmap, data, 16);
UAPI_SIZE(uapi_vfio_dma_unmap, 24);
UAPI_PIN(uapi_vfio_dma_unmap, iova, 8);
UAPI_PIN(uapi_vfio_dma_unmap, size, 16);
UAPI_SIZE(uapi_vfio_dma_unmap_bitmap, 48);
UAPI_SIZE(uapi_vfio_dirty_bitmap, 8);
UAPI_SIZE(uapi_vfio_dirty_bitmap_get, 40);
UAPI_PIN(uapi_vfio_dirty_bitmap_get, bitmap, 16);
UAPI_SIZE(uapi_vfio_dirty_pages_get, 48);
UAPI_SIZE(uapi_vfio_device_feature, 8);
UAPI_SIZE(uapi_vfio_device_feature_migration, 8);
UAPI_SIZE(uapi_vfio_feature_migration_get, 16);
UAPI_PIN(uapi_vfio_feature_migration_get, mig, 8);
UAPI_SIZE(uapi_option, 24);
UAPI_PIN(uapi_option, op, 8);
UAPI_PIN(uapi_option, object_id, 12);
UAPI_PIN(uapi_option, val64, 16);
UAPI_SIZE(uapi_vfio_dma_logging_range, 16);
UAPI_PIN(uapi_vfio_dma_logging_range, length, 8);
UAPI_SIZE(uapi_vfio_dma_logging_control, 24);
UAPI_PIN(uapi_vfio_dma_logging_control, num_ranges, 8);
UAPI_PIN(uapi_vfio_dma_logging_control, __reserved, 12);
UAPI_PIN(uapi_vfio_dma_logging_control, ranges, 16);
UAPI_SIZE(uapi_vfio_dma_logging_report, 32);
UAPI_PIN(uapi_vfio_dma_logging_report, length, 8);
UAPI_PIN(uapi_vfio_dma_logging_report, page_size, 16);
UAPI_PIN(uapi_vfio_dma_logging_report, bitmap, 24);
UAPI_SIZE(uapi_vfio_feature_dma_logging_control, 32);
UAPI_PIN(uapi_vfio_feature_dma_logging_control, ctl, 8);
UAPI_SIZE(uapi_vfio_feature_dma_logging_report, 40);
UAPI_PIN(uapi_vfio_feature_dma_logging_report, rep, 8);

#endif /* IOMMUDIRTY_UAPI_H */
