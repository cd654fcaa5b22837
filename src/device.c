/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* VFIO devices bound to the context's iommufd, and their IOMMU's info. */
#include <stdlib.h>

#include "iommufd.h"

void device_probe_features(struct iommudirty_ctx *ctx, int fd, int *dma_logging,
			   uint64_t *migration_flags)
{
	int ret;

	*dma_logging = -1;
	*migration_flags = 0;
	if (fd < 0)
		return;
	/* PROBE changes nothing; -ENOTTY is the kernel's "no log_ops". */
	ret = vfio_feature_probe(ctx, fd, UAPI_VFIO_DEVICE_FEATURE_DMA_LOGGING_START,
				 UAPI_VFIO_DEVICE_FEATURE_SET);
	*dma_logging = ret == 0;
	if (ret && ret != -ENOTTY)
		log_warn(ctx, "device fd %d: DMA logging probe: %s", fd, strerror(-ret));
	ret = vfio_migration_flags(ctx, fd, migration_flags);
	if (ret && ret != -ENOTTY)
		log_warn(ctx, "device fd %d: migration probe: %s", fd, strerror(-ret));
}

static int device_new(struct iommudirty_ctx *ctx, int fd, uint32_t dev_id,
		      bool bound_now, struct iommudirty_device **out)
{
	struct iommudirty_device *dev = calloc(1, sizeof(*dev));
	int ret;

	if (!dev)
		return -ENOMEM;
	ret = iommufd_get_hw_info(ctx, dev_id, &dev->hw);
	if (ret == -ENOENT && bound_now) {
		/* BIND just gave this id: an emulated-IOMMU device (mdev)
		 * gets an access object's id, not a device's. */
		log_info(ctx, "device %u: no IOMMU of its own (emulated IOMMU)", dev_id);
		memset(&dev->hw, 0, sizeof(dev->hw));
		dev->hw.sz = sizeof(dev->hw);
		dev->emulated = true;
		ret = 0;
	}
	if (ret) {
		log_err(ctx, "IOMMU_GET_HW_INFO(dev %u): %s", dev_id, strerror(-ret));
		free(dev);
		return ret;
	}
	device_probe_features(ctx, fd, &dev->dma_logging, &dev->migration_flags);
	device_probe_devlink(ctx, fd, &dev->devlink_migratable, &dev->devlink_reason);
	ctx_get(ctx);
	dev->ctx = ctx;
	dev->fd = fd;
	dev->dev_id = dev_id;
	log_dbg(ctx, "device %u: IOMMU type %#x, capabilities %#llx", dev_id,
		dev->hw.type, (unsigned long long)dev->hw.capabilities);
	*out = dev;
	return 0;
}

IOMMUDIRTY_API int iommudirty_device_bind(struct iommudirty_ctx *ctx,
					  int vfio_cdev_fd,
					  struct iommudirty_device **out)
{
	uint32_t dev_id;
	int ret;

	if (!ctx || vfio_cdev_fd < 0 || !out)
		return ret_err(-EINVAL);
	if (ctx->fd < 0)
		return ret_err(-ENODEV);
	ret = vfio_bind_iommufd(ctx, vfio_cdev_fd, &dev_id);
	if (ret) {
		log_err(ctx, "VFIO_DEVICE_BIND_IOMMUFD(fd %d): %s", vfio_cdev_fd,
			strerror(-ret));
		return ret_err(ret);
	}
	return ret_err(device_new(ctx, vfio_cdev_fd, dev_id, true, out));
}

IOMMUDIRTY_API int iommudirty_device_adopt(struct iommudirty_ctx *ctx,
					   int vfio_cdev_fd, uint32_t dev_id,
					   struct iommudirty_device **out)
{
	if (!ctx || !out || vfio_cdev_fd < -1)
		return ret_err(-EINVAL);
	if (ctx->fd < 0)
		return ret_err(-ENODEV);
	return ret_err(device_new(ctx, vfio_cdev_fd, dev_id, false, out));
}

IOMMUDIRTY_API void iommudirty_device_free(struct iommudirty_device *dev)
{
	if (!dev)
		return;
	ctx_put(dev->ctx);
	free(dev);
}

IOMMUDIRTY_API uint32_t iommudirty_device_id(const struct iommudirty_device *dev)
{
	return dev ? dev->dev_id : 0;
}

IOMMUDIRTY_API int iommudirty_device_hw_info(const struct iommudirty_device *dev,
					     struct iommudirty_hw_info *info)
{
	size_t min = offsetof(struct iommudirty_hw_info, capabilities) +
		     sizeof(info->capabilities);
	size_t sz;

	if (!dev || !info || info->sz < min)
		return ret_err(-EINVAL);
	sz = MIN(info->sz, sizeof(*info));
	memcpy((char *)info + sizeof(info->sz), (const char *)&dev->hw + sizeof(info->sz),
	       sz - sizeof(info->sz));
	return 0;
}

IOMMUDIRTY_API int iommudirty_device_dirty_capable(const struct iommudirty_device *dev)
{
	if (!dev)
		return ret_err(-EINVAL);
	return !!(dev->hw.capabilities & IOMMUDIRTY_HW_CAP_DIRTY_TRACKING);
}
