/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The sim's sysfs, as the library reads it through readlink / dir_entry:
 * each sim device is a PCI function bound to vfio-pci, alone in IOMMU group
 * index + 1, with its cdev under vfio-dev/ (unless the kernel has no cdevs).
 * Only the sim's own devices answer; every other path is -ENOENT. An
 * emulated-IOMMU device (an mdev) has no entry here: no BDF, no group.
 */
#include <stdio.h>

#include "sim_internal.h"

#define PCI_DEVICES "/sys/bus/pci/devices/"
#define IOMMU_GROUPS "/sys/kernel/iommu_groups/"

/* Device i is function 0 of slot (i + 1) % 32 on bus (i + 1) / 32, and on
 * PCI domains past bus 255. */
int sim_dev_bdf(int device, char *buf, size_t len)
{
	unsigned int n = (unsigned int)device + 1;
	int w;

	if (device < 0)
		return -EINVAL;
	w = snprintf(buf, len, "%04x:%02x:%02x.0", n / (32 * 256),
		     n / 32 % 256, n % 32);
	return w < 0 || (size_t)w >= len ? -ERANGE : 0;
}

/* The device whose BDF path is prefix/<bdf>/<leaf>, or -1. */
static int find_dev(const struct iommudirty_sim *sim, const char *path,
		    const char *prefix, const char *leaf)
{
	size_t plen = strlen(prefix);
	char bdf[16];
	const char *p, *slash;

	if (strncmp(path, prefix, plen))
		return -1;
	p = path + plen;
	slash = strchr(p, '/');
	if (!slash || (size_t)(slash - p) >= sizeof(bdf) || strcmp(slash + 1, leaf))
		return -1;
	memcpy(bdf, p, (size_t)(slash - p));
	bdf[slash - p] = 0;
	for (int i = 0; i < sim->nr_devs; i++) {
		char b[16];

		/* An mdev is no PCI function. */
		if (sim->devs[i]->emulated)
			continue;
		if (!sim_dev_bdf(i, b, sizeof(b)) && !strcmp(b, bdf))
			return i;
	}
	return -1;
}

/* A group directory /sys/kernel/iommu_groups/<g>/devices: the device, or -1. */
static int find_group(const struct iommudirty_sim *sim, const char *path)
{
	size_t plen = strlen(IOMMU_GROUPS);
	const char *p;
	long g = 0;

	if (strncmp(path, IOMMU_GROUPS, plen))
		return -1;
	p = path + plen;
	if (*p < '1' || *p > '9')
		return -1;
	for (; *p >= '0' && *p <= '9' && g <= sim->nr_devs; p++)
		g = g * 10 + (*p - '0');
	if (strcmp(p, "/devices") || g > sim->nr_devs ||
	    sim->devs[g - 1]->emulated)
		return -1;
	return (int)g - 1;
}

/* As readlink(2) through the seam: truncated to len - 1, NUL-terminated. */
static int put_link(char *buf, size_t len, const char *target)
{
	size_t n = strlen(target);

	if (!len)
		return -EINVAL;
	n = MIN(n, len - 1);
	memcpy(buf, target, n);
	buf[n] = 0;
	return (int)n;
}

int sim_sys_readlink(void *priv, const char *path, char *buf, size_t len)
{
	struct iommudirty_sim *sim = priv;
	int saved = errno, ret = -ENOENT, i;
	char target[64];

	if (!path || !buf)
		return -EFAULT;
	pthread_mutex_lock(&sim->lock);
	if ((i = find_dev(sim, path, PCI_DEVICES, "iommu_group")) >= 0) {
		snprintf(target, sizeof(target),
			 "../../../../kernel/iommu_groups/%d", i + 1);
		ret = put_link(buf, len, target);
	} else if (find_dev(sim, path, PCI_DEVICES, "driver") >= 0) {
		ret = put_link(buf, len, "../../../../bus/pci/drivers/vfio-pci");
	} else {
		ret = sim_devlink_readlink(sim, path, buf, len); /* physfn, virtfnN */
	}
	pthread_mutex_unlock(&sim->lock);
	errno = saved;
	return ret;
}

int sim_sys_dir_entry(void *priv, const char *path, unsigned int index,
		      char *buf, size_t len)
{
	struct iommudirty_sim *sim = priv;
	int saved = errno, ret = -ENOENT, i;

	if (!path || !buf)
		return -EFAULT;
	pthread_mutex_lock(&sim->lock);
	/* One entry per directory: the cdev, or the group's one device. */
	if (index == 0) {
		if (!(sim->flags & IOMMUDIRTY_SIM_NO_CDEV) &&
		    (i = find_dev(sim, path, PCI_DEVICES, "vfio-dev")) >= 0) {
			snprintf(buf, len, "vfio%d", i);
			ret = 0;
		} else if ((i = find_group(sim, path)) >= 0) {
			char bdf[16];

			sim_dev_bdf(i, bdf, sizeof(bdf));
			snprintf(buf, len, "%s", bdf);
			ret = 0;
		}
	}
	pthread_mutex_unlock(&sim->lock);
	errno = saved;
	return ret;
}

IOMMUDIRTY_API int iommudirty_sim_device_bdf(struct iommudirty_sim *sim,
					     int device, char *buf, size_t len)
{
	int ret;

	if (!sim || (!buf && len))
		return ret_err(-EINVAL);
	pthread_mutex_lock(&sim->lock);
	if (device < 0 || device >= sim->nr_devs)
		ret = -EINVAL;
	else if (sim->devs[device]->emulated)
		ret = -ENODEV; /* an mdev has no PCI address */
	else
		ret = sim_dev_bdf(device, buf, len);
	pthread_mutex_unlock(&sim->lock);
	return ret_err(ret);
}
