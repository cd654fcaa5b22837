/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * iommudirty-probe: what sysfs and the device nodes say about a device.
 * The devices bound to VFIO drivers, their group and cdev; the cdev bound
 * to an iommufd through the library (VFIO features, the IOMMU's dirty
 * tracking); the type1 container as the fallback. Every kernel call the
 * tool makes itself goes through the sys_* wrappers below, which refuse
 * anything but a character device, so fixture trees (plain files, no
 * nodes) are probed safely.
 */
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include "iommudirty.h"
#include "uapi.h"
#include "probe.h"

/* ---- the tool's only kernel calls --------------------------------------- */

/* open(2) of a device node; anything but a character device is refused
 * with -ENODEV before any ioctl can reach it. */
static int sys_open_node(const char *path)
{
	struct stat st;
	int fd = open(path, O_RDWR | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	if (fstat(fd, &st) || !S_ISCHR(st.st_mode)) {
		close(fd);
		return -ENODEV;
	}
	return fd;
}

static int sys_ioctl(int fd, unsigned long req, void *arg)
{
	int ret = ioctl(fd, req, arg);

	return ret < 0 ? -errno : ret;
}

static void sys_close(int fd)
{
	if (fd >= 0)
		close(fd);
}

/* 1 if path is a character device, 0 if it is something else, -errno if
 * it cannot be looked at. */
static int sys_is_chr(const char *path)
{
	struct stat st;

	if (stat(path, &st))
		return -errno;
	return S_ISCHR(st.st_mode) ? 1 : 0;
}

/* Copy a name; false (dst empty) if it does not fit: never a cut name. */
bool set_name(char *dst, size_t len, const char *src)
{
	size_t n = strlen(src);

	dst[0] = 0;
	if (n >= len)
		return false;
	memcpy(dst, src, n + 1);
	return true;
}

/* The last part of the link at path: a driver's or group's name. */
int sys_readlink_base(const char *path, char *buf, size_t len)
{
	char tmp[PATH_MAX];
	ssize_t n = readlink(path, tmp, sizeof(tmp) - 1);
	const char *b;

	if (n < 0)
		return -errno;
	tmp[n] = 0;
	b = strrchr(tmp, '/');
	return set_name(buf, len, b ? b + 1 : tmp) ? 0 : -ENAMETOOLONG;
}

/* ---- notes: what a device lacks, for the report and the verdict --------- */

__attribute__((format(printf, 2, 3)))
static void note(struct report *r, const char *fmt, ...)
{
	va_list ap;

	if (r->nnotes >= MAX_NOTES)
		return;
	va_start(ap, fmt);
	vsnprintf(r->notes[r->nnotes++], sizeof(r->notes[0]), fmt, ap);
	va_end(ap);
}

static void note_err(struct report *r, const char *what, const char *path, int err)
{
	if (err == -EACCES || err == -EPERM)
		r->perm_denied = true;
	if (err == -ENODEV)
		note(r, "cannot open %s %s: not a character device", what, path);
	else
		note(r, "cannot open %s %s: %s", what, path, strerror(-err));
}

/* ---- sysfs -------------------------------------------------------------- */

static bool is_vfio_driver(const char *drv)
{
	return !strcmp(drv, "vfio-pci") || strstr(drv, "vfio_pci") ||
	       strstr(drv, "vfio-pci");
}

static int cmp_report(const void *a, const void *b)
{
	return strcmp(((const struct report *)a)->bdf, ((const struct report *)b)->bdf);
}

/* Fill reports[] from <sysfs>/bus/pci/devices. Returns 0 or -errno when
 * the directory cannot be read. */
int scan_sysfs(void)
{
	char dir[PATH_MAX], path[PATH_MAX + 300], drv[64];
	struct dirent *e;
	DIR *d;

	snprintf(dir, sizeof(dir), "%s/bus/pci/devices", sysfs_root);
	d = opendir(dir);
	if (!d)
		return -errno;
	while ((e = readdir(d)) && nreports < MAX_DEVICES) {
		struct report *r;

		if (e->d_name[0] == '.')
			continue;
		snprintf(path, sizeof(path), "%s/%s/driver", dir, e->d_name);
		if (sys_readlink_base(path, drv, sizeof(drv)) || !is_vfio_driver(drv))
			continue;
		if (only_device && strcmp(e->d_name, only_device))
			continue;
		r = &reports[nreports];
		memset(r, 0, sizeof(*r));
		if (!set_name(r->bdf, sizeof(r->bdf), e->d_name))
			continue;
		set_name(r->driver, sizeof(r->driver), drv);
		nreports++;
	}
	closedir(d);
	qsort(reports, nreports, sizeof(reports[0]), cmp_report);
	return 0;
}

void find_nodes(struct report *r)
{
	char path[PATH_MAX + 300];
	struct dirent *e;
	DIR *d;

	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/iommu_group",
		 sysfs_root, r->bdf);
	if (sys_readlink_base(path, r->group, sizeof(r->group)))
		r->group[0] = 0;

	snprintf(path, sizeof(path), "%s/bus/pci/devices/%s/vfio-dev",
		 sysfs_root, r->bdf);
	d = opendir(path);
	if (d) {
		while ((e = readdir(d)))
			if (!strncmp(e->d_name, "vfio", 4) &&
			    set_name(r->cdev, sizeof(r->cdev), e->d_name))
				break;
		closedir(d);
	}
	if (r->cdev[0])
		snprintf(r->cdev_path, sizeof(r->cdev_path), "%s/vfio/devices/%s",
			 dev_root, r->cdev);
	snprintf(path, sizeof(path), "%s/iommu", dev_root);
	r->iommu_node = sys_is_chr(path);
}

/* ---- VFIO device features ----------------------------------------------- */

static int feature(int fd, uint32_t flags)
{
	struct uapi_vfio_device_feature f = { .argsz = sizeof(f), .flags = flags };

	return sys_ioctl(fd, VFIO_DEVICE_FEATURE, &f);
}

/* Migration (GET) and DMA logging (SET) on a device fd the kernel lets us
 * use: a bound cdev or a group's device fd. */
static void probe_features(struct report *r, int fd)
{
	int ret;

	ret = feature(fd, UAPI_VFIO_DEVICE_FEATURE_MIGRATION |
			  UAPI_VFIO_DEVICE_FEATURE_GET | UAPI_VFIO_DEVICE_FEATURE_PROBE);
	r->mig = ret == 0;
	r->mig_err = ret;
	if (!ret) {
		struct uapi_vfio_feature_migration_get g = {
			.hdr.argsz = sizeof(g),
			.hdr.flags = UAPI_VFIO_DEVICE_FEATURE_MIGRATION |
				     UAPI_VFIO_DEVICE_FEATURE_GET,
		};

		if (!sys_ioctl(fd, VFIO_DEVICE_FEATURE, &g))
			r->mig_flags = g.mig.flags;
	}
	ret = feature(fd, UAPI_VFIO_DEVICE_FEATURE_DMA_LOGGING_START |
			  UAPI_VFIO_DEVICE_FEATURE_SET | UAPI_VFIO_DEVICE_FEATURE_PROBE);
	r->dma_log = ret == 0;
	r->dma_log_err = ret;
}

/* ---- iommufd: the cdev bound through the library ------------------------ */

void report_device_caps(struct report *r, struct iommudirty_device *dev)
{
	struct iommudirty_hw_info hw = { .sz = sizeof(hw) };

	if (!iommudirty_device_hw_info(dev, &hw))
		r->hw_type = hw.type;
	r->caps.sz = sizeof(r->caps);
	r->have_caps = !iommudirty_device_caps(dev, &r->caps);
}

void probe_iommufd(struct report *r)
{
	char iommu_path[PATH_MAX];
	struct iommudirty_ctx *ctx;
	struct iommudirty_device *dev = NULL;
	int fd, ret;

	r->mig = r->dma_log = -1;
	r->cdev_err = r->ctx_err = r->bind_err = 1;
	if (!r->cdev[0]) {
		note(r, "no VFIO cdev (kernel without CONFIG_VFIO_DEVICE_CDEV?)");
		return;
	}
	snprintf(iommu_path, sizeof(iommu_path), "%s/iommu", dev_root);
	if (r->iommu_node != 1) {
		if (r->iommu_node == 0)
			note(r, "%s is not a character device", iommu_path);
		else
			note(r, "no %s (kernel without CONFIG_IOMMUFD?)", iommu_path);
		return;
	}
	fd = sys_open_node(r->cdev_path);
	r->cdev_err = fd < 0 ? fd : 0;
	if (fd < 0) {
		note_err(r, "VFIO cdev", r->cdev_path, fd);
		return;
	}
	{
		IOMMUDIRTY_OPTS(iommudirty_ctx_opts, o, .path = iommu_path);

		ctx = iommudirty_ctx_new(&o);
	}
	r->ctx_err = ctx ? 0 : -errno;
	if (!ctx) {
		note_err(r, "iommufd", iommu_path, r->ctx_err);
		sys_close(fd);
		return;
	}
	ret = iommudirty_device_bind(ctx, fd, &dev);
	r->bind_err = ret;
	if (ret) {
		if (ret == -EACCES || ret == -EPERM)
			r->perm_denied = true;
		note(r, "VFIO_DEVICE_BIND_IOMMUFD / IOMMU_GET_HW_INFO: %s",
		     strerror(-ret));
	} else {
		/* The kernel grants feature ioctls on a cdev once it is bound. */
		probe_features(r, fd);
		report_device_caps(r, dev);
	}
	iommudirty_device_free(dev);
	iommudirty_ctx_free(ctx);
	/* Closing unbinds, and frees the group for the type1 probe. */
	sys_close(fd);
}

/* ---- type1: the container and the device's group ------------------------ */

/* Look for CAP_MIGRATION in VFIO_IOMMU_GET_INFO's capability chain. */
static void type1_info(struct report *r, int container)
{
	uint64_t buf[128] = { 0 };
	struct uapi_vfio_iommu_type1_info *info = (void *)buf;
	uint32_t off;
	int ret;

	info->argsz = sizeof(buf);
	ret = sys_ioctl(container, VFIO_IOMMU_GET_INFO, info);
	if (ret) {
		r->type1_err = ret;
		note(r, "type1: VFIO_IOMMU_GET_INFO: %s", strerror(-ret));
		return;
	}
	r->type1_dirty = 0;
	if (!(info->flags & UAPI_VFIO_IOMMU_INFO_CAPS))
		return;
	for (off = info->cap_offset; off && off + sizeof(struct uapi_vfio_cap_migration) <=
	     sizeof(buf) && off >= sizeof(*info);) {
		struct uapi_vfio_info_cap_header h;

		memcpy(&h, (uint8_t *)buf + off, sizeof(h));
		if (h.id == UAPI_VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION) {
			struct uapi_vfio_cap_migration m;

			memcpy(&m, (uint8_t *)buf + off, sizeof(m));
			r->type1_dirty = 1;
			r->type1_pgsize = m.pgsize_bitmap;
			return;
		}
		if (h.next <= off)
			break;
		off = h.next;
	}
}

void probe_type1(struct report *r)
{
	struct uapi_vfio_group_status st = { .argsz = sizeof(st) };
	int container, group = -1, ret;

	r->type1v2 = r->viable = r->type1_dirty = -1;
	r->group_err = 1;
	snprintf(r->container_path, sizeof(r->container_path), "%s/vfio/vfio", dev_root);
	container = sys_open_node(r->container_path);
	r->container_err = container < 0 ? container : 0;
	if (container < 0) {
		note_err(r, "type1 container", r->container_path, container);
		return;
	}
	ret = sys_ioctl(container, VFIO_GET_API_VERSION, NULL);
	if (ret < 0) {
		note(r, "type1: VFIO_GET_API_VERSION: %s", strerror(-ret));
		goto out;
	}
	if (ret != VFIO_API_VERSION) {
		note(r, "type1: VFIO API version %d, this tool knows %d", ret,
		     VFIO_API_VERSION);
		goto out;
	}
	ret = sys_ioctl(container, VFIO_CHECK_EXTENSION, (void *)(uintptr_t)VFIO_TYPE1v2_IOMMU);
	r->type1v2 = ret > 0;
	if (ret <= 0) {
		note(r, "type1: the container has no TYPE1v2 IOMMU");
		goto out;
	}
	if (!r->group[0]) {
		note(r, "type1: the device has no IOMMU group");
		goto out;
	}
	/* Whether type1 can track dirty pages shows only once a group is in
	 * the container (CAP_MIGRATION of VFIO_IOMMU_GET_INFO). */
	snprintf(r->group_path, sizeof(r->group_path), "%s/vfio/%s", dev_root, r->group);
	group = sys_open_node(r->group_path);
	r->group_err = group < 0 ? group : 0;
	if (group < 0) {
		note_err(r, "VFIO group", r->group_path, group);
		goto out;
	}
	ret = sys_ioctl(group, VFIO_GROUP_GET_STATUS, &st);
	if (ret) {
		note(r, "type1: VFIO_GROUP_GET_STATUS: %s", strerror(-ret));
		goto out;
	}
	r->viable = !!(st.flags & UAPI_VFIO_GROUP_FLAGS_VIABLE);
	if (!r->viable) {
		note(r, "type1: group %s is not viable (a device in it is bound to a host driver)",
		     r->group);
		goto out;
	}
	ret = sys_ioctl(group, VFIO_GROUP_SET_CONTAINER, &container);
	if (!ret)
		ret = sys_ioctl(container, VFIO_SET_IOMMU, (void *)(uintptr_t)VFIO_TYPE1v2_IOMMU);
	if (ret) {
		r->type1_err = ret;
		if (ret == -EACCES || ret == -EPERM)
			r->perm_denied = true;
		note(r, "type1: attaching group %s: %s", r->group, strerror(-ret));
		goto out;
	}
	type1_info(r, container);
	if (r->type1_dirty == 0)
		note(r, "type1: no dirty tracking (no CAP_MIGRATION: iommufd's compat container?)");
	if (r->mig < 0) {
		/* No cdev path: ask the device through its group. */
		int dfd = sys_ioctl(group, VFIO_GROUP_GET_DEVICE_FD, r->bdf);

		if (dfd >= 0) {
			probe_features(r, dfd);
			sys_close(dfd);
		}
	}
out:
	sys_close(group);
	sys_close(container);
}
