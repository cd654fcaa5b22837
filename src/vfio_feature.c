/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VFIO_DEVICE_FEATURE wrappers: migration flags and device DMA logging.
 * Each returns 0 or the kernel's negative errno and logs nothing. */
#include "iommufd.h"

int vfio_feature_probe(struct iommudirty_ctx *ctx, int dev_fd, uint32_t feature,
		       uint32_t op)
{
	struct uapi_vfio_device_feature f = {
		.argsz = sizeof(f),
		.flags = feature | op | UAPI_VFIO_DEVICE_FEATURE_PROBE,
	};

	return sys_ioctl(ctx, dev_fd, VFIO_DEVICE_FEATURE, &f);
}

int vfio_migration_flags(struct iommudirty_ctx *ctx, int dev_fd, uint64_t *flags)
{
	struct uapi_vfio_feature_migration_get f = {
		.hdr = { .argsz = sizeof(f),
			 .flags = UAPI_VFIO_DEVICE_FEATURE_MIGRATION |
				  UAPI_VFIO_DEVICE_FEATURE_GET },
	};
	int ret = sys_ioctl(ctx, dev_fd, VFIO_DEVICE_FEATURE, &f);

	*flags = ret ? 0 : f.mig.flags;
	return ret;
}

int vfio_log_start(struct iommudirty_ctx *ctx, int dev_fd, uint64_t *page_size,
		   const struct uapi_vfio_dma_logging_range *ranges, uint32_t n)
{
	struct uapi_vfio_feature_dma_logging_control f = {
		.hdr = { .argsz = sizeof(f),
			 .flags = UAPI_VFIO_DEVICE_FEATURE_DMA_LOGGING_START |
				  UAPI_VFIO_DEVICE_FEATURE_SET },
		.ctl = { .page_size = *page_size, .num_ranges = n,
			 .ranges = (uintptr_t)ranges },
	};
	int ret = sys_ioctl(ctx, dev_fd, VFIO_DEVICE_FEATURE, &f);

	if (!ret)
		*page_size = f.ctl.page_size;
	return ret;
}

int vfio_log_stop(struct iommudirty_ctx *ctx, int dev_fd)
{
	struct uapi_vfio_device_feature f = {
		.argsz = sizeof(f),
		.flags = UAPI_VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP |
			 UAPI_VFIO_DEVICE_FEATURE_SET,
	};

	return sys_ioctl(ctx, dev_fd, VFIO_DEVICE_FEATURE, &f);
}

int vfio_log_report(struct iommudirty_ctx *ctx, int dev_fd, uint64_t iova,
		    uint64_t length, uint64_t page_size, void *bitmap)
{
	struct uapi_vfio_feature_dma_logging_report f = {
		.hdr = { .argsz = sizeof(f),
			 .flags = UAPI_VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT |
				  UAPI_VFIO_DEVICE_FEATURE_GET },
		.rep = { .iova = iova, .length = length, .page_size = page_size,
			 .bitmap = (uintptr_t)bitmap },
	};

	return sys_ioctl(ctx, dev_fd, VFIO_DEVICE_FEATURE, &f);
}
