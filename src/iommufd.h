/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Thin typed wrappers over the iommufd and VFIO cdev ioctls. Each returns
 * 0 or the kernel's negative errno and logs nothing: callers know context. */
#ifndef IOMMUDIRTY_IOMMUFD_H
#define IOMMUDIRTY_IOMMUFD_H

#include "internal.h"
#include "uapi.h"

int iommufd_destroy(struct iommudirty_ctx *ctx, uint32_t id);
int iommufd_ioas_alloc(struct iommudirty_ctx *ctx, uint32_t *ioas_id);
int iommufd_ioas_map(struct iommudirty_ctx *ctx, uint32_t ioas_id, void *va,
		     uint64_t length, uint64_t iova, unsigned int map_flags);
int iommufd_ioas_unmap(struct iommudirty_ctx *ctx, uint32_t ioas_id,
		       uint64_t iova, uint64_t length, uint64_t *unmapped);
/* ranges may be NULL with *num == 0; *num becomes the total. */
int iommufd_ioas_iova_ranges(struct iommudirty_ctx *ctx, uint32_t ioas_id,
			     struct uapi_iova_range *ranges, uint32_t *num,
			     uint64_t *alignment);
/* IOMMU_OPTION_HUGE_PAGES on an IOAS (off only before any domain has
 * pages mapped). */
int iommufd_ioas_huge_pages(struct iommudirty_ctx *ctx, uint32_t ioas_id, bool on);
int iommufd_hwpt_alloc_dirty(struct iommudirty_ctx *ctx, uint32_t dev_id,
			     uint32_t ioas_id, uint32_t *hwpt_id);
int iommufd_hwpt_set_dirty(struct iommudirty_ctx *ctx, uint32_t hwpt_id,
			   bool enable);
int iommufd_hwpt_get_dirty(struct iommudirty_ctx *ctx, uint32_t hwpt_id,
			   uint64_t iova, uint64_t length, uint64_t page_size,
			   void *bitmap, bool no_clear);
int iommufd_get_hw_info(struct iommudirty_ctx *ctx, uint32_t dev_id,
			struct iommudirty_hw_info *hw);
int vfio_bind_iommufd(struct iommudirty_ctx *ctx, int dev_fd, uint32_t *dev_id);
int vfio_attach_pt(struct iommudirty_ctx *ctx, int dev_fd, uint32_t pt_id,
		   uint32_t *out_hwpt);
int vfio_detach_pt(struct iommudirty_ctx *ctx, int dev_fd);

/* VFIO device features (src/vfio_feature.c), on a cdev or group device fd. */
/* 0: the device supports the feature for the op (GET or SET). */
int vfio_feature_probe(struct iommudirty_ctx *ctx, int dev_fd, uint32_t feature,
		       uint32_t op);
int vfio_migration_flags(struct iommudirty_ctx *ctx, int dev_fd, uint64_t *flags);
/* *page_size in/out: the device may pick another. */
int vfio_log_start(struct iommudirty_ctx *ctx, int dev_fd, uint64_t *page_size,
		   const struct uapi_vfio_dma_logging_range *ranges, uint32_t n);
int vfio_log_stop(struct iommudirty_ctx *ctx, int dev_fd);
/* Sets (never clears) bits of bitmap at page_size for [iova, +length). */
int vfio_log_report(struct iommudirty_ctx *ctx, int dev_fd, uint64_t iova,
		    uint64_t length, uint64_t page_size, void *bitmap);

#endif
