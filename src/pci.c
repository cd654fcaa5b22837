/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* PCI devices named by address: their VFIO cdev and IOMMU group, from
 * sysfs, read through the kernel seam (the sim answers for its devices). */
#include <stdio.h>

#include "tracker.h"

int pci_cdev_path(struct iommudirty_ctx *ctx, const char *bdf, char *path,
		  size_t len)
{
	char dir[128], name[64];
	int ret;

	snprintf(dir, sizeof(dir), "/sys/bus/pci/devices/%s/vfio-dev", bdf);
	ret = ctx->sys->dir_entry(ctx->sys_priv, dir, 0, name, sizeof(name));
	if (ret)
		return ret;
	if (snprintf(path, len, "/dev/vfio/devices/%s", name) >= (int)len)
		return -ENAMETOOLONG;
	return 0;
}

int sysfs_link_base(struct iommudirty_ctx *ctx, const char *path, char *buf,
		    size_t len)
{
	char target[256];
	const char *base;
	int ret = ctx->sys->readlink(ctx->sys_priv, path, target, sizeof(target));

	if (ret < 0)
		return ret;
	base = strrchr(target, '/');
	base = base ? base + 1 : target;
	if (!*base || snprintf(buf, len, "%s", base) >= (int)len)
		return -EINVAL;
	return 0;
}

int pci_group_name(struct iommudirty_ctx *ctx, const char *bdf, char *name,
		   size_t len)
{
	char link[128];

	snprintf(link, sizeof(link), "/sys/bus/pci/devices/%s/iommu_group", bdf);
	return sysfs_link_base(ctx, link, name, len);
}
