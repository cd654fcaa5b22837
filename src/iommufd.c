/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* iommufd and VFIO cdev ioctls, one function each. Structs are zeroed so
 * fields newer than the running kernel are 0 and it accepts them. */
#include "iommufd.h"

int iommufd_destroy(struct iommudirty_ctx *ctx, uint32_t id)
{
	struct uapi_destroy cmd = { .size = sizeof(cmd), .id = id };

	return sys_ioctl(ctx, ctx->fd, IOMMU_DESTROY, &cmd);
}

int iommufd_ioas_alloc(struct iommudirty_ctx *ctx, uint32_t *ioas_id)
{
	struct uapi_ioas_alloc cmd = { .size = sizeof(cmd) };
	int ret = sys_ioctl(ctx, ctx->fd, IOMMU_IOAS_ALLOC, &cmd);

	if (!ret)
		*ioas_id = cmd.out_ioas_id;
	return ret;
}

int iommufd_ioas_map(struct iommudirty_ctx *ctx, uint32_t ioas_id, void *va,
		     uint64_t length, uint64_t iova, unsigned int map_flags)
{
	struct uapi_ioas_map cmd = {
		.size = sizeof(cmd),
		.flags = UAPI_IOAS_MAP_FIXED_IOVA |
			 ((map_flags & IOMMUDIRTY_MAP_READ) ? UAPI_IOAS_MAP_READABLE : 0) |
			 ((map_flags & IOMMUDIRTY_MAP_WRITE) ? UAPI_IOAS_MAP_WRITEABLE : 0),
		.ioas_id = ioas_id,
		.user_va = (uintptr_t)va,
		.length = length,
		.iova = iova,
	};

	return sys_ioctl(ctx, ctx->fd, IOMMU_IOAS_MAP, &cmd);
}

int iommufd_ioas_unmap(struct iommudirty_ctx *ctx, uint32_t ioas_id,
		       uint64_t iova, uint64_t length, uint64_t *unmapped)
{
	struct uapi_ioas_unmap cmd = {
		.size = sizeof(cmd), .ioas_id = ioas_id, .iova = iova, .length = length,
	};
	int ret = sys_ioctl(ctx, ctx->fd, IOMMU_IOAS_UNMAP, &cmd);

	if (!ret && unmapped)
		*unmapped = cmd.length;
	return ret;
}

int iommufd_ioas_iova_ranges(struct iommudirty_ctx *ctx, uint32_t ioas_id,
			     struct uapi_iova_range *ranges, uint32_t *num,
			     uint64_t *alignment)
{
	struct uapi_ioas_iova_ranges cmd = {
		.size = sizeof(cmd),
		.ioas_id = ioas_id,
		.num_iovas = *num,
		.allowed_iovas = (uintptr_t)ranges,
	};
	int ret = sys_ioctl(ctx, ctx->fd, IOMMU_IOAS_IOVA_RANGES, &cmd);

	/* -EMSGSIZE still reports the total, so the caller can grow. */
	if (!ret || ret == -EMSGSIZE)
		*num = cmd.num_iovas;
	if (!ret && alignment)
		*alignment = cmd.out_iova_alignment;
	return ret;
}

int iommufd_hwpt_alloc_dirty(struct iommudirty_ctx *ctx, uint32_t dev_id,
			     uint32_t ioas_id, uint32_t *hwpt_id)
{
	struct uapi_hwpt_alloc cmd = {
		.size = sizeof(cmd),
		.flags = UAPI_HWPT_ALLOC_DIRTY_TRACKING,
		.dev_id = dev_id,
		.pt_id = ioas_id,
	};
	int ret = sys_ioctl(ctx, ctx->fd, IOMMU_HWPT_ALLOC, &cmd);

	if (!ret)
		*hwpt_id = cmd.out_hwpt_id;
	return ret;
}

int iommufd_hwpt_set_dirty(struct iommudirty_ctx *ctx, uint32_t hwpt_id,
			   bool enable)
{
	struct uapi_hwpt_set_dirty_tracking cmd = {
		.size = sizeof(cmd),
		.flags = enable ? UAPI_HWPT_DIRTY_TRACKING_ENABLE : 0,
		.hwpt_id = hwpt_id,
	};

	return sys_ioctl(ctx, ctx->fd, IOMMU_HWPT_SET_DIRTY_TRACKING, &cmd);
}

int iommufd_hwpt_get_dirty(struct iommudirty_ctx *ctx, uint32_t hwpt_id,
			   uint64_t iova, uint64_t length, uint64_t page_size,
			   void *bitmap, bool no_clear)
{
	struct uapi_hwpt_get_dirty_bitmap cmd = {
		.size = sizeof(cmd),
		.hwpt_id = hwpt_id,
		.flags = no_clear ? UAPI_HWPT_GET_DIRTY_BITMAP_NO_CLEAR : 0,
		.iova = iova,
		.length = length,
		.page_size = page_size,
		.data = (uintptr_t)bitmap,
	};

	return sys_ioctl(ctx, ctx->fd, IOMMU_HWPT_GET_DIRTY_BITMAP, &cmd);
}

int iommufd_get_hw_info(struct iommudirty_ctx *ctx, uint32_t dev_id,
			struct iommudirty_hw_info *hw)
{
	struct uapi_hw_info cmd = {
		.size = sizeof(cmd),
		.dev_id = dev_id,
		.data_len = sizeof(hw->data),
		.data_uptr = (uintptr_t)hw->data,
	};
	int ret;

	memset(hw, 0, sizeof(*hw));
	hw->sz = sizeof(*hw);
	ret = sys_ioctl(ctx, ctx->fd, IOMMU_GET_HW_INFO, &cmd);
	if (ret)
		return ret;
	hw->type = cmd.out_data_type;
	hw->data_len = MIN(cmd.data_len, (uint32_t)sizeof(hw->data));
	hw->capabilities = cmd.out_capabilities;
	return 0;
}

int vfio_bind_iommufd(struct iommudirty_ctx *ctx, int dev_fd, uint32_t *dev_id)
{
	struct uapi_vfio_bind_iommufd cmd = {
		.argsz = sizeof(cmd), .iommufd = ctx->fd,
	};
	int ret = sys_ioctl(ctx, dev_fd, VFIO_DEVICE_BIND_IOMMUFD, &cmd);

	if (!ret)
		*dev_id = cmd.out_devid;
	return ret;
}

int vfio_attach_pt(struct iommudirty_ctx *ctx, int dev_fd, uint32_t pt_id,
		   uint32_t *out_hwpt)
{
	struct uapi_vfio_attach_pt cmd = { .argsz = sizeof(cmd), .pt_id = pt_id };
	int ret = sys_ioctl(ctx, dev_fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &cmd);

	if (!ret && out_hwpt)
		*out_hwpt = cmd.pt_id;
	return ret;
}

int vfio_detach_pt(struct iommudirty_ctx *ctx, int dev_fd)
{
	struct uapi_vfio_detach_pt cmd = { .argsz = sizeof(cmd) };

	return sys_ioctl(ctx, dev_fd, VFIO_DEVICE_DETACH_IOMMUFD_PT, &cmd);
}

int iommufd_ioas_huge_pages(struct iommudirty_ctx *ctx, uint32_t ioas_id, bool on)
{
	struct uapi_option cmd = {
		.size = sizeof(cmd), .option_id = UAPI_OPTION_HUGE_PAGES,
		.op = UAPI_OPTION_OP_SET, .object_id = ioas_id, .val64 = on,
	};

	return sys_ioctl(ctx, ctx->fd, IOMMU_OPTION, &cmd);
}
