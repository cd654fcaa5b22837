/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The simulated legacy VFIO (type1 container, groups, group device fds),
 * the sim's kernel-config flags and its sysfs, driven through the sys seam
 * with raw uAPI structs as the library drives the real kernel. Values are
 * the 6.12 kernel's (drivers/vfio/container.c, group.c, vfio_iommu_type1.c,
 * iommufd/vfio_compat.c); every trap is pinned with exact values.
 */
#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "internal.h"
#include "sys.h"
#include "uapi.h"

#define SZ_4K (4ull << 10)
#define SZ_8K (8ull << 10)
#define SZ_2K (2ull << 10)
#define SZ_1M (1ull << 20)
#define SZ_2M (2ull << 20)
#define SZ_1G (1ull << 30)
#define SZ_1T (1ull << 40)
#define MAX_BITMAP (256ull << 20)
#define SZ_4M_END (4ull << 20)

#define T1 VFIO_TYPE1v2_IOMMU
#define EXT(x) ((void *)(uintptr_t)(x))
#define GET_BITMAP UAPI_VFIO_DIRTY_PAGES_FLAG_GET_BITMAP
#define UNMAP_GET UAPI_VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP
#define UNMAP_ALL UAPI_VFIO_DMA_UNMAP_FLAG_ALL
#define RW (UAPI_VFIO_DMA_MAP_FLAG_READ | UAPI_VFIO_DMA_MAP_FLAG_WRITE)

/* ---- a host with one type1 container ---------------------------------- */

struct t1 {
	struct iommudirty_sim *sim;
	int iommu;
	int dev;          /* sim device index */
	int cfd;          /* container */
	int gfd;          /* group of dev */
	int dfd;          /* device fd from the group, or -1 */
	uint8_t *mem;     /* guest RAM the mappings point at */
	size_t memsz;
};

static int sopen(struct iommudirty_sim *sim, const char *path)
{
	return iommudirty_sys_sim.open(sim, path, O_RDWR);
}

static int sclose(struct iommudirty_sim *sim, int fd)
{
	return iommudirty_sys_sim.close(sim, fd);
}

static int sioctl(struct iommudirty_sim *sim, int fd, unsigned long req, void *arg)
{
	return iommudirty_sys_sim.ioctl(sim, fd, req, arg);
}

static struct iommudirty_sim *new_sim(unsigned int flags, uint64_t max_bitmap)
{
	IOMMUDIRTY_OPTS(iommudirty_sim_opts, o, .flags = flags,
			.type1_max_bitmap = max_bitmap);
	struct iommudirty_sim *sim = iommudirty_sim_new(&o);

	assert_non_null(sim);
	return sim;
}

static int add_iommu(struct iommudirty_sim *sim, uint64_t pgsizes,
		     uint64_t ap_start, uint64_t ap_last)
{
	IOMMUDIRTY_OPTS(iommudirty_sim_iommu_opts, o, .pgsize_bitmap = pgsizes,
			.aperture_start = ap_start, .aperture_last = ap_last);
	int i = iommudirty_sim_add_iommu(sim, &o);

	assert_true(i >= 0);
	return i;
}

static int set_container(struct iommudirty_sim *sim, int gfd, int cfd)
{
	return sioctl(sim, gfd, VFIO_GROUP_SET_CONTAINER, &cfd);
}

static char *bdf_of(struct iommudirty_sim *sim, int dev)
{
	static char buf[4][16];
	static int n;
	char *b = buf[n++ % 4];

	assert_int_equal(iommudirty_sim_device_bdf(sim, dev, b, 16), 0);
	return b;
}

static char *group_path(int dev)
{
	static char buf[32];

	snprintf(buf, sizeof(buf), "/dev/vfio/%d", dev + 1);
	return buf;
}

/* Container + group + TYPE1v2 + the device fd, with flags for the sim. */
static void t1_setup_flags(struct t1 *t, unsigned int flags, uint64_t max_bitmap)
{
	memset(t, 0, sizeof(*t));
	t->sim = new_sim(flags, max_bitmap);
	t->iommu = add_iommu(t->sim, SZ_4K | SZ_2M | SZ_1G, 0, (1ull << 48) - 1);
	t->dev = iommudirty_sim_add_device(t->sim, t->iommu);
	assert_int_equal(t->dev, 0);
	t->cfd = sopen(t->sim, "/dev/vfio/vfio");
	assert_true(t->cfd >= 0);
	t->gfd = sopen(t->sim, group_path(t->dev));
	assert_true(t->gfd >= 0);
	assert_int_equal(set_container(t->sim, t->gfd, t->cfd), 0);
	assert_int_equal(sioctl(t->sim, t->cfd, VFIO_SET_IOMMU, EXT(T1)), 0);
	t->dfd = sioctl(t->sim, t->gfd, VFIO_GROUP_GET_DEVICE_FD,
			bdf_of(t->sim, t->dev));
	assert_true(t->dfd >= 0);
	t->memsz = 64 * SZ_4K;
	t->mem = aligned_alloc(SZ_4K, t->memsz);
	assert_non_null(t->mem);
	memset(t->mem, 0, t->memsz);
}

static void t1_setup(struct t1 *t)
{
	t1_setup_flags(t, 0, 0);
}

static uint64_t open_fds(struct iommudirty_sim *sim)
{
	IOMMUDIRTY_OPTS(iommudirty_sim_stats, s);

	assert_int_equal(iommudirty_sim_get_stats(sim, &s), 0);
	return s.open_fds;
}

static struct iommudirty_sim_stats stats(struct iommudirty_sim *sim)
{
	IOMMUDIRTY_OPTS(iommudirty_sim_stats, s);

	assert_int_equal(iommudirty_sim_get_stats(sim, &s), 0);
	return s;
}

/* Close everything and check nothing is left open. */
static void t1_teardown(struct t1 *t)
{
	if (t->dfd >= 0)
		assert_int_equal(sclose(t->sim, t->dfd), 0);
	assert_int_equal(sclose(t->sim, t->gfd), 0);
	assert_int_equal(sclose(t->sim, t->cfd), 0);
	assert_int_equal(open_fds(t->sim), 0);
	iommudirty_sim_free(t->sim);
	free(t->mem);
}

static int map_dma(struct t1 *t, uint64_t iova, uint64_t size, uint64_t off,
		   uint32_t flags)
{
	struct uapi_vfio_dma_map m = {
		.argsz = sizeof(m), .flags = flags,
		.vaddr = (uint64_t)(uintptr_t)t->mem + off,
		.iova = iova, .size = size,
	};

	return sioctl(t->sim, t->cfd, VFIO_IOMMU_MAP_DMA, &m);
}

static int unmap_dma(struct t1 *t, uint64_t iova, uint64_t size,
		     uint32_t flags, uint64_t *out)
{
	struct uapi_vfio_dma_unmap u = {
		.argsz = sizeof(u), .flags = flags, .iova = iova, .size = size,
	};
	int rc = sioctl(t->sim, t->cfd, VFIO_IOMMU_UNMAP_DMA, &u);

	if (out)
		*out = u.size;
	return rc;
}

static int unmap_bitmap(struct t1 *t, uint64_t iova, uint64_t size,
			uint64_t pgsize, uint64_t *bm, uint64_t bmsize,
			uint64_t *out)
{
	struct uapi_vfio_dma_unmap_bitmap u = {
		.unmap = { .argsz = sizeof(u), .flags = UNMAP_GET,
			   .iova = iova, .size = size },
		.bitmap = { .pgsize = pgsize, .size = bmsize,
			    .data = (uint64_t)(uintptr_t)bm },
	};
	int rc = sioctl(t->sim, t->cfd, VFIO_IOMMU_UNMAP_DMA, &u);

	if (out)
		*out = u.unmap.size;
	return rc;
}

static int dirty_op(struct t1 *t, uint32_t flags)
{
	struct uapi_vfio_dirty_bitmap d = { .argsz = sizeof(d), .flags = flags };

	return sioctl(t->sim, t->cfd, VFIO_IOMMU_DIRTY_PAGES, &d);
}

static int get_bitmap(struct t1 *t, uint64_t iova, uint64_t size,
		      uint64_t pgsize, uint64_t *bm, uint64_t bmsize)
{
	struct uapi_vfio_dirty_pages_get g = {
		.hdr = { .argsz = sizeof(g), .flags = GET_BITMAP },
		.get = { .iova = iova, .size = size,
			 .bitmap = { .pgsize = pgsize, .size = bmsize,
				     .data = (uint64_t)(uintptr_t)bm } },
	};

	return sioctl(t->sim, t->cfd, VFIO_IOMMU_DIRTY_PAGES, &g);
}

/* ---- opts and kernel configurations ----------------------------------- */

static void test_opts(void **state)
{
	struct iommudirty_sim *sim;
	(void)state;

	{
		IOMMUDIRTY_OPTS(iommudirty_sim_opts, o, .flags = 1u << 4);
		errno = 0;
		assert_null(iommudirty_sim_new(&o));
		assert_int_equal(errno, EINVAL);
	}
	{
		IOMMUDIRTY_OPTS(iommudirty_sim_opts, o, .__reserved = 1);
		errno = 0;
		assert_null(iommudirty_sim_new(&o));
		assert_int_equal(errno, EINVAL);
	}
	/* The compat container is iommufd's: it needs iommufd and a
	 * /dev/vfio/vfio. */
	{
		IOMMUDIRTY_OPTS(iommudirty_sim_opts, o,
				.flags = IOMMUDIRTY_SIM_TYPE1_COMPAT |
					 IOMMUDIRTY_SIM_NO_IOMMUFD);
		errno = 0;
		assert_null(iommudirty_sim_new(&o));
		assert_int_equal(errno, EINVAL);
	}
	{
		IOMMUDIRTY_OPTS(iommudirty_sim_opts, o,
				.flags = IOMMUDIRTY_SIM_TYPE1_COMPAT |
					 IOMMUDIRTY_SIM_NO_TYPE1);
		errno = 0;
		assert_null(iommudirty_sim_new(&o));
		assert_int_equal(errno, EINVAL);
	}
	sim = new_sim(IOMMUDIRTY_SIM_NO_IOMMUFD | IOMMUDIRTY_SIM_NO_TYPE1 |
		      IOMMUDIRTY_SIM_NO_CDEV, 0);
	iommudirty_sim_free(sim);
	sim = new_sim(IOMMUDIRTY_SIM_TYPE1_COMPAT | IOMMUDIRTY_SIM_NO_CDEV, 4096);
	iommudirty_sim_free(sim);
}

static void test_config_flags(void **state)
{
	struct iommudirty_sim *sim;
	char buf[32];
	int fd, dev;
	(void)state;

	/* Default: everything there. */
	sim = new_sim(0, 0);
	dev = iommudirty_sim_add_device(sim, add_iommu(sim, SZ_4K, 0, 0));
	fd = sopen(sim, "/dev/iommu");
	assert_true(fd >= 0);
	assert_int_equal(sclose(sim, fd), 0);
	fd = sopen(sim, "/dev/vfio/vfio");
	assert_true(fd >= 0);
	assert_int_equal(sclose(sim, fd), 0);
	fd = sopen(sim, "/dev/vfio/devices/vfio0");
	assert_true(fd >= 0);
	assert_int_equal(sclose(sim, fd), 0);
	assert_int_equal(open_fds(sim), 0);
	iommudirty_sim_free(sim);

	sim = new_sim(IOMMUDIRTY_SIM_NO_IOMMUFD, 0);
	dev = iommudirty_sim_add_device(sim, add_iommu(sim, SZ_4K, 0, 0));
	assert_int_equal(sopen(sim, "/dev/iommu"), -ENOENT);
	errno = 0;
	assert_int_equal(iommudirty_sim_open_iommufd(sim), -ENOENT);
	assert_int_equal(errno, ENOENT);
	fd = sopen(sim, "/dev/vfio/vfio");
	assert_true(fd >= 0);
	assert_int_equal(sclose(sim, fd), 0);
	assert_int_equal(open_fds(sim), 0);
	iommudirty_sim_free(sim);

	sim = new_sim(IOMMUDIRTY_SIM_NO_TYPE1, 0);
	dev = iommudirty_sim_add_device(sim, add_iommu(sim, SZ_4K, 0, 0));
	assert_int_equal(sopen(sim, "/dev/vfio/vfio"), -ENOENT);
	fd = sopen(sim, "/dev/iommu");
	assert_true(fd >= 0);
	assert_int_equal(sclose(sim, fd), 0);
	assert_int_equal(open_fds(sim), 0);
	iommudirty_sim_free(sim);

	sim = new_sim(IOMMUDIRTY_SIM_NO_CDEV, 0);
	dev = iommudirty_sim_add_device(sim, add_iommu(sim, SZ_4K, 0, 0));
	assert_int_equal(sopen(sim, "/dev/vfio/devices/vfio0"), -ENOENT);
	assert_int_equal(iommudirty_sim_open_device(sim, dev), -ENOENT);
	snprintf(buf, sizeof(buf), "%s", bdf_of(sim, dev));
	{
		char path[96], out[32];

		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/vfio-dev", buf);
		assert_int_equal(iommudirty_sys_sim.dir_entry(sim, path, 0, out,
							      sizeof(out)),
				 -ENOENT);
	}
	/* Groups are still there (CONFIG_VFIO_GROUP). */
	fd = sopen(sim, "/dev/vfio/1");
	assert_true(fd >= 0);
	assert_int_equal(sclose(sim, fd), 0);
	assert_int_equal(open_fds(sim), 0);
	iommudirty_sim_free(sim);
}

/* ---- sysfs ------------------------------------------------------------ */

static void test_sysfs(void **state)
{
	struct iommudirty_sim *sim = new_sim(0, 0);
	int iommu = add_iommu(sim, SZ_4K, 0, 0);
	char buf[64], path[96];
	(void)state;

	for (int i = 0; i < 33; i++)
		assert_int_equal(iommudirty_sim_add_device(sim, iommu), i);
	assert_string_equal(bdf_of(sim, 0), "0000:00:01.0");
	assert_string_equal(bdf_of(sim, 1), "0000:00:02.0");
	assert_string_equal(bdf_of(sim, 30), "0000:00:1f.0");
	assert_string_equal(bdf_of(sim, 31), "0000:01:00.0");
	assert_string_equal(bdf_of(sim, 32), "0000:01:01.0");
	assert_int_equal(iommudirty_sim_device_bdf(sim, 0, buf, 13), 0);
	errno = 0;
	assert_int_equal(iommudirty_sim_device_bdf(sim, 0, buf, 12), -ERANGE);
	assert_int_equal(errno, ERANGE);
	assert_int_equal(iommudirty_sim_device_bdf(sim, 33, buf, 13), -EINVAL);
	assert_int_equal(iommudirty_sim_device_bdf(sim, -1, buf, 13), -EINVAL);
	assert_int_equal(iommudirty_sim_device_bdf(NULL, 0, buf, 13), -EINVAL);

	/* iommu_group: each device its own group, index + 1. */
	assert_int_equal(iommudirty_sys_sim.readlink(sim,
		"/sys/bus/pci/devices/0000:00:01.0/iommu_group", buf, sizeof(buf)),
		(int)strlen("../../../../kernel/iommu_groups/1"));
	assert_string_equal(buf, "../../../../kernel/iommu_groups/1");
	assert_int_equal(iommudirty_sys_sim.readlink(sim,
		"/sys/bus/pci/devices/0000:01:00.0/iommu_group", buf, sizeof(buf)),
		(int)strlen("../../../../kernel/iommu_groups/32"));
	assert_string_equal(buf, "../../../../kernel/iommu_groups/32");
	/* driver: vfio-pci. */
	assert_int_equal(iommudirty_sys_sim.readlink(sim,
		"/sys/bus/pci/devices/0000:00:02.0/driver", buf, sizeof(buf)),
		(int)strlen("../../../../bus/pci/drivers/vfio-pci"));
	assert_string_equal(buf, "../../../../bus/pci/drivers/vfio-pci");
	/* Truncated as readlink: len - 1 bytes and a NUL. */
	assert_int_equal(iommudirty_sys_sim.readlink(sim,
		"/sys/bus/pci/devices/0000:00:02.0/driver", buf, 6), 5);
	assert_string_equal(buf, "../..");
	/* vfio-dev: one entry, the cdev name. */
	assert_int_equal(iommudirty_sys_sim.dir_entry(sim,
		"/sys/bus/pci/devices/0000:00:1f.0/vfio-dev", 0, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "vfio30");
	assert_int_equal(iommudirty_sys_sim.dir_entry(sim,
		"/sys/bus/pci/devices/0000:00:1f.0/vfio-dev", 1, buf, sizeof(buf)),
		-ENOENT);
	/* The group's devices directory. */
	assert_int_equal(iommudirty_sys_sim.dir_entry(sim,
		"/sys/kernel/iommu_groups/32/devices", 0, buf, sizeof(buf)), 0);
	assert_string_equal(buf, "0000:01:00.0");
	assert_int_equal(iommudirty_sys_sim.dir_entry(sim,
		"/sys/kernel/iommu_groups/34/devices", 0, buf, sizeof(buf)), -ENOENT);
	assert_int_equal(iommudirty_sys_sim.dir_entry(sim,
		"/sys/kernel/iommu_groups/0/devices", 0, buf, sizeof(buf)), -ENOENT);

	/* Only the sim's own devices answer. */
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group",
		 "0000:01:02.0");
	assert_int_equal(iommudirty_sys_sim.readlink(sim, path, buf, sizeof(buf)),
			 -ENOENT);
	assert_int_equal(iommudirty_sys_sim.readlink(sim,
		"/sys/bus/pci/devices/0000:00:01.0/vendor", buf, sizeof(buf)), -ENOENT);
	assert_int_equal(iommudirty_sys_sim.readlink(sim,
		"/sys/bus/pci/devices/0000:00:01.0/iommu_group/x", buf, sizeof(buf)),
		-ENOENT);
	assert_int_equal(iommudirty_sys_sim.readlink(sim, "/proc/self/exe", buf,
						     sizeof(buf)), -ENOENT);
	assert_int_equal(iommudirty_sys_sim.dir_entry(sim, "/", 0, buf,
						      sizeof(buf)), -ENOENT);
	assert_int_equal(iommudirty_sys_sim.dir_entry(sim,
		"/sys/bus/pci/devices/0000:00:01.0/driver", 0, buf, sizeof(buf)),
		-ENOENT);
	/* No kernel calls: sysfs is not an open or ioctl. */
	assert_int_equal(stats(sim).calls, 0);
	iommudirty_sim_free(sim);
}

/* ---- the container ---------------------------------------------------- */

static void test_container(void **state)
{
	struct iommudirty_sim *sim = new_sim(0, 0);
	struct uapi_vfio_iommu_type1_info info = { .argsz = sizeof(info) };
	int cfd, gfd;
	(void)state;

	iommudirty_sim_add_device(sim, add_iommu(sim, SZ_4K, 0, 0));
	cfd = sopen(sim, "/dev/vfio/vfio");
	assert_true(cfd >= 0);
	assert_int_equal(sioctl(sim, cfd, VFIO_GET_API_VERSION, NULL), 0);
	/* CHECK_EXTENSION takes the extension by value. */
	assert_int_equal(sioctl(sim, cfd, VFIO_CHECK_EXTENSION, EXT(1)), 1);
	assert_int_equal(sioctl(sim, cfd, VFIO_CHECK_EXTENSION, EXT(3)), 1);
	assert_int_equal(sioctl(sim, cfd, VFIO_CHECK_EXTENSION, EXT(9)), 1);
	assert_int_equal(sioctl(sim, cfd, VFIO_CHECK_EXTENSION, EXT(2)), 0);
	assert_int_equal(sioctl(sim, cfd, VFIO_CHECK_EXTENSION, EXT(7)), 0);
	assert_int_equal(sioctl(sim, cfd, VFIO_CHECK_EXTENSION, EXT(8)), 0);
	assert_int_equal(sioctl(sim, cfd, VFIO_CHECK_EXTENSION, EXT(10)), 0);
	assert_int_equal(sioctl(sim, cfd, VFIO_CHECK_EXTENSION, EXT(0)), 0);
	/* No group: no privilege to set an IOMMU. */
	assert_int_equal(sioctl(sim, cfd, VFIO_SET_IOMMU, EXT(T1)), -EINVAL);
	/* No IOMMU driver: everything else is -EINVAL. */
	assert_int_equal(sioctl(sim, cfd, VFIO_IOMMU_GET_INFO, &info), -EINVAL);
	assert_int_equal(sioctl(sim, cfd, 0x3b7f, NULL), -EINVAL);
	gfd = sopen(sim, "/dev/vfio/1");
	assert_true(gfd >= 0);
	assert_int_equal(set_container(sim, gfd, cfd), 0);
	assert_int_equal(sioctl(sim, cfd, VFIO_SET_IOMMU, EXT(2)), -EINVAL);
	assert_int_equal(sioctl(sim, cfd, VFIO_SET_IOMMU, EXT(8)), -EINVAL);
	assert_int_equal(sioctl(sim, cfd, VFIO_SET_IOMMU, EXT(0)), -EINVAL);
	assert_int_equal(sioctl(sim, cfd, VFIO_SET_IOMMU, EXT(T1)), 0);
	/* Once. */
	assert_int_equal(sioctl(sim, cfd, VFIO_SET_IOMMU, EXT(T1)), -EINVAL);
	assert_int_equal(sioctl(sim, cfd, VFIO_CHECK_EXTENSION, EXT(3)), 1);
	/* Unknown ioctls reach the driver now: -ENOTTY. */
	assert_int_equal(sioctl(sim, cfd, 0x3b7f, NULL), -ENOTTY);
	assert_int_equal(sioctl(sim, cfd, VFIO_IOMMU_GET_INFO, &info), 0);
	assert_int_equal(sioctl(sim, -1, VFIO_GET_API_VERSION, NULL), -EBADF);
	/* Closing the group deprivileges the container. */
	assert_int_equal(sclose(sim, gfd), 0);
	assert_int_equal(sioctl(sim, cfd, VFIO_IOMMU_GET_INFO, &info), -EINVAL);
	assert_int_equal(sclose(sim, cfd), 0);
	assert_int_equal(open_fds(sim), 0);
	iommudirty_sim_free(sim);
}

static void test_get_info(void **state)
{
	struct t1 t;
	uint64_t buf[32];
	struct uapi_vfio_iommu_type1_info *info = (void *)buf;
	struct uapi_vfio_cap_migration mig;
	struct uapi_vfio_cap_iova_range iova;
	struct uapi_vfio_iova_range r;
	struct uapi_vfio_info_cap_header h;
	uint32_t avail;
	(void)state;

	t1_setup_flags(&t, 0, 0);
	memset(buf, 0xa5, sizeof(buf));
	info->argsz = 15;
	assert_int_equal(sioctl(t.sim, t.cfd, VFIO_IOMMU_GET_INFO, info), -EINVAL);
	/* Too small for the caps: argsz grows, cap_offset stays 0. */
	memset(buf, 0, sizeof(buf));
	info->argsz = sizeof(*info);
	assert_int_equal(sioctl(t.sim, t.cfd, VFIO_IOMMU_GET_INFO, info), 0);
	assert_int_equal(info->argsz, 24 + 32 + 16 + 32);
	assert_int_equal(info->flags, UAPI_VFIO_IOMMU_INFO_PGSIZES |
				      UAPI_VFIO_IOMMU_INFO_CAPS);
	assert_int_equal(info->iova_pgsizes, SZ_4K | SZ_2M | SZ_1G);
	assert_int_equal(info->cap_offset, 0);
	/* 16 bytes: only those are written back. */
	memset(buf, 0xa5, sizeof(buf));
	info->argsz = 16;
	assert_int_equal(sioctl(t.sim, t.cfd, VFIO_IOMMU_GET_INFO, info), 0);
	assert_int_equal(info->argsz, 104);
	assert_int_equal(info->iova_pgsizes, SZ_4K | SZ_2M | SZ_1G);
	assert_int_equal(info->cap_offset, 0xa5a5a5a5);

	assert_int_equal(map_dma(&t, 0, SZ_4K, 0, RW), 0);
	memset(buf, 0xa5, sizeof(buf));
	info->argsz = sizeof(buf);
	assert_int_equal(sioctl(t.sim, t.cfd, VFIO_IOMMU_GET_INFO, info), 0);
	assert_int_equal(info->argsz, sizeof(buf));
	assert_int_equal(info->cap_offset, 24);
	/* migration, DMA avail, IOVA ranges, in the kernel's order. */
	memcpy(&mig, (uint8_t *)buf + 24, sizeof(mig));
	assert_int_equal(mig.header.id, UAPI_VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION);
	assert_int_equal(mig.header.version, 1);
	assert_int_equal(mig.header.next, 56);
	assert_int_equal(mig.flags, 0);
	assert_int_equal(mig.pgsize_bitmap, SZ_4K);
	assert_int_equal(mig.max_dirty_bitmap_size, MAX_BITMAP);
	memcpy(&h, (uint8_t *)buf + 56, sizeof(h));
	assert_int_equal(h.id, 3);
	assert_int_equal(h.version, 1);
	assert_int_equal(h.next, 72);
	memcpy(&avail, (uint8_t *)buf + 64, sizeof(avail));
	assert_int_equal(avail, 65534);
	memcpy(&iova, (uint8_t *)buf + 72, sizeof(iova));
	assert_int_equal(iova.header.id, UAPI_VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE);
	assert_int_equal(iova.header.version, 1);
	assert_int_equal(iova.header.next, 0);
	assert_int_equal(iova.nr_iovas, 1);
	memcpy(&r, (uint8_t *)buf + 88, sizeof(r));
	assert_int_equal(r.start, 0);
	assert_int_equal(r.end, (1ull << 48) - 1);
	/* Nothing past the chain is touched. */
	assert_int_equal(((uint8_t *)buf)[104], 0xa5);
	t1_teardown(&t);

	/* A small per-call limit is what CAP_MIGRATION reports. */
	t1_setup_flags(&t, 0, 4096);
	memset(buf, 0, sizeof(buf));
	info->argsz = sizeof(buf);
	assert_int_equal(sioctl(t.sim, t.cfd, VFIO_IOMMU_GET_INFO, info), 0);
	memcpy(&mig, (uint8_t *)buf + 24, sizeof(mig));
	assert_int_equal(mig.max_dirty_bitmap_size, 4096);
	t1_teardown(&t);
}

/* Page sizes are those every group's IOMMU has; the aperture is shared. */
static void test_two_groups(void **state)
{
	struct iommudirty_sim *sim = new_sim(0, 0);
	int a = add_iommu(sim, SZ_4K | SZ_2M | SZ_1G, SZ_1M, (1ull << 48) - 1);
	int b = add_iommu(sim, SZ_2K | SZ_1M | SZ_2M, 0, (1ull << 39) - 1);
	int d0 = iommudirty_sim_add_device(sim, a);
	int d1 = iommudirty_sim_add_device(sim, b);
	uint64_t buf[32];
	struct uapi_vfio_iommu_type1_info *info = (void *)buf;
	struct uapi_vfio_cap_migration mig;
	struct uapi_vfio_iova_range r;
	int cfd, g0, g1;
	(void)state;

	cfd = sopen(sim, "/dev/vfio/vfio");
	g0 = sopen(sim, group_path(d0));
	g1 = sopen(sim, group_path(d1));
	assert_true(cfd >= 0 && g0 >= 0 && g1 >= 0);
	assert_int_equal(set_container(sim, g0, cfd), 0);
	assert_int_equal(set_container(sim, g1, cfd), 0);
	assert_int_equal(sioctl(sim, cfd, VFIO_SET_IOMMU, EXT(T1)), 0);
	memset(buf, 0, sizeof(buf));
	info->argsz = sizeof(buf);
	assert_int_equal(sioctl(sim, cfd, VFIO_IOMMU_GET_INFO, info), 0);
	/* Only the sizes both have: b has no 4 KiB, so 2 MiB is the page. */
	assert_int_equal(info->iova_pgsizes, SZ_2M);
	memcpy(&mig, (uint8_t *)buf + 24, sizeof(mig));
	assert_int_equal(mig.pgsize_bitmap, SZ_2M);
	assert_int_equal(sioctl(sim, cfd, VFIO_IOMMU_MAP_DMA,
				&(struct uapi_vfio_dma_map){ .argsz = 32,
					.flags = UAPI_VFIO_DMA_MAP_FLAG_READ,
					.vaddr = SZ_1M, .iova = SZ_2M,
					.size = SZ_1M }), -EINVAL);
	memcpy(&r, (uint8_t *)buf + 88, sizeof(r));
	assert_int_equal(r.start, SZ_1M);
	assert_int_equal(r.end, (1ull << 39) - 1);
	/* Closing one group leaves the container set; the last one unsets. */
	assert_int_equal(sclose(sim, g0), 0);
	assert_int_equal(sioctl(sim, cfd, VFIO_IOMMU_GET_INFO, info), 0);
	/* b alone: its 2 KiB hides behind the host's 4 KiB page. */
	assert_int_equal(info->iova_pgsizes, SZ_4K | SZ_1M | SZ_2M);
	assert_int_equal(sclose(sim, g1), 0);
	assert_int_equal(sioctl(sim, cfd, VFIO_IOMMU_GET_INFO, info), -EINVAL);
	assert_int_equal(sclose(sim, cfd), 0);
	assert_int_equal(open_fds(sim), 0);
	iommudirty_sim_free(sim);
}

/* ---- groups ----------------------------------------------------------- */

static void test_group_rules(void **state)
{
	struct iommudirty_sim *sim = new_sim(0, 0);
	struct uapi_vfio_group_status st = { .argsz = sizeof(st) };
	int dev, cfd, gfd, ifd, dfd, dfd2;
	(void)state;

	dev = iommudirty_sim_add_device(sim, add_iommu(sim, SZ_4K, 0, 0));
	assert_int_equal(sopen(sim, "/dev/vfio/0"), -ENOENT);
	assert_int_equal(sopen(sim, "/dev/vfio/2"), -ENOENT);
	assert_int_equal(sopen(sim, "/dev/vfio/01"), -ENOENT);
	assert_int_equal(sopen(sim, "/dev/vfio/1x"), -ENOENT);
	assert_int_equal(sopen(sim, "/dev/vfio/"), -ENOENT);
	gfd = sopen(sim, "/dev/vfio/1");
	assert_true(gfd >= 0);
	assert_int_equal(sopen(sim, "/dev/vfio/1"), -EBUSY);

	st.argsz = 7;
	assert_int_equal(sioctl(sim, gfd, VFIO_GROUP_GET_STATUS, &st), -EINVAL);
	st.argsz = sizeof(st);
	assert_int_equal(sioctl(sim, gfd, VFIO_GROUP_GET_STATUS, &st), 0);
	assert_int_equal(st.flags, UAPI_VFIO_GROUP_FLAGS_VIABLE);
	assert_int_equal(sioctl(sim, gfd, VFIO_GROUP_UNSET_CONTAINER, NULL), -EINVAL);

	cfd = sopen(sim, "/dev/vfio/vfio");
	ifd = sopen(sim, "/dev/iommu");
	assert_true(cfd >= 0 && ifd >= 0);
	/* The fd must be open, then a container. */
	assert_int_equal(set_container(sim, gfd, -1), -EBADF);
	assert_int_equal(set_container(sim, gfd, gfd), -EBADFD);
	assert_int_equal(set_container(sim, gfd, cfd), 0);
	assert_int_equal(sioctl(sim, gfd, VFIO_GROUP_GET_STATUS, &st), 0);
	assert_int_equal(st.flags, UAPI_VFIO_GROUP_FLAGS_VIABLE |
				   UAPI_VFIO_GROUP_FLAGS_CONTAINER_SET);
	assert_int_equal(set_container(sim, gfd, cfd), -EINVAL);
	assert_int_equal(set_container(sim, gfd, -1), -EBADF);

	/* A device fd needs the container's IOMMU. */
	assert_int_equal(sioctl(sim, gfd, VFIO_GROUP_GET_DEVICE_FD,
				bdf_of(sim, dev)), -EINVAL);
	assert_int_equal(sioctl(sim, gfd, VFIO_GROUP_GET_DEVICE_FD,
				"0000:00:02.0"), -ENODEV);
	assert_int_equal(sioctl(sim, cfd, VFIO_SET_IOMMU, EXT(T1)), 0);
	assert_int_equal(sioctl(sim, gfd, VFIO_GROUP_GET_DEVICE_FD,
				"0000:00:01.0 "), -ENODEV);
	assert_int_equal(sioctl(sim, gfd, VFIO_GROUP_GET_DEVICE_FD, NULL), -EFAULT);
	dfd = sioctl(sim, gfd, VFIO_GROUP_GET_DEVICE_FD, bdf_of(sim, dev));
	assert_true(dfd >= 0);
	/* The group path lets a device be opened more than once. */
	dfd2 = sioctl(sim, gfd, VFIO_GROUP_GET_DEVICE_FD, bdf_of(sim, dev));
	assert_true(dfd2 >= 0 && dfd2 != dfd);
	assert_int_equal(open_fds(sim), 5);
	/* A group device fd is no cdev. */
	{
		struct uapi_vfio_bind_iommufd b = { .argsz = sizeof(b), .iommufd = ifd };
		struct uapi_vfio_attach_pt a = { .argsz = sizeof(a), .pt_id = 1 };

		assert_int_equal(sioctl(sim, dfd, VFIO_DEVICE_BIND_IOMMUFD, &b), -EINVAL);
		assert_int_equal(sioctl(sim, dfd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &a),
				 -ENOTTY);
	}
	/* Device fds use the container. */
	assert_int_equal(sioctl(sim, gfd, VFIO_GROUP_UNSET_CONTAINER, NULL), -EBUSY);
	assert_int_equal(sclose(sim, dfd), 0);
	assert_int_equal(sioctl(sim, gfd, VFIO_GROUP_UNSET_CONTAINER, NULL), -EBUSY);
	assert_int_equal(sclose(sim, dfd2), 0);
	assert_int_equal(sioctl(sim, gfd, VFIO_GROUP_UNSET_CONTAINER, NULL), 0);
	assert_int_equal(sioctl(sim, gfd, VFIO_GROUP_GET_STATUS, &st), 0);
	assert_int_equal(st.flags, UAPI_VFIO_GROUP_FLAGS_VIABLE);
	assert_int_equal(sioctl(sim, gfd, VFIO_GROUP_UNSET_CONTAINER, NULL), -EINVAL);
	/* The last group gone: the container's IOMMU is unset again. */
	assert_int_equal(sioctl(sim, cfd, VFIO_IOMMU_GET_INFO,
				&(struct uapi_vfio_iommu_type1_info){ .argsz = 24 }),
			 -EINVAL);
	assert_int_equal(sioctl(sim, gfd, 0x3b7f, NULL), -ENOTTY);
	assert_int_equal(sclose(sim, gfd), 0);
	assert_int_equal(sclose(sim, cfd), 0);
	assert_int_equal(sclose(sim, ifd), 0);
	assert_int_equal(open_fds(sim), 0);
	iommudirty_sim_free(sim);
}

/* cdev and group exclude each other at BIND / group open, as in 6.12. */
static void test_cdev_vs_group(void **state)
{
	struct t1 t;
	struct uapi_vfio_bind_iommufd b = { .argsz = sizeof(b) };
	int ifd, cdev, gfd;
	(void)state;

	t1_setup(&t);
	ifd = sopen(t.sim, "/dev/iommu");
	assert_true(ifd >= 0);
	b.iommufd = ifd;
	/* The cdev opens, but cannot bind while the group is open. */
	cdev = sopen(t.sim, "/dev/vfio/devices/vfio0");
	assert_true(cdev >= 0);
	assert_int_equal(sioctl(t.sim, cdev, VFIO_DEVICE_BIND_IOMMUFD, &b), -EBUSY);
	/* Still held by the device fd after the group fd closes. */
	assert_int_equal(sclose(t.sim, t.gfd), 0);
	assert_int_equal(sioctl(t.sim, cdev, VFIO_DEVICE_BIND_IOMMUFD, &b), -EBUSY);
	assert_int_equal(sopen(t.sim, "/dev/vfio/1"), -EBUSY);
	assert_int_equal(sclose(t.sim, t.dfd), 0);
	t.dfd = -1;
	assert_int_equal(sioctl(t.sim, cdev, VFIO_DEVICE_BIND_IOMMUFD, &b), 0);
	/* A bound cdev keeps the group closed. */
	assert_int_equal(sopen(t.sim, "/dev/vfio/1"), -EBUSY);
	assert_int_equal(sclose(t.sim, cdev), 0);
	gfd = sopen(t.sim, "/dev/vfio/1");
	assert_true(gfd >= 0);
	t.gfd = gfd;
	assert_int_equal(sclose(t.sim, ifd), 0);
	t1_teardown(&t);
}

/* ---- MAP / UNMAP ------------------------------------------------------ */

static void test_map_rules(void **state)
{
	struct t1 t;
	struct uapi_vfio_dma_map m;
	(void)state;

	t1_setup(&t);
	m = (struct uapi_vfio_dma_map){ .argsz = 31, .flags = RW,
		.vaddr = (uintptr_t)t.mem, .iova = 0, .size = SZ_4K };
	assert_int_equal(sioctl(t.sim, t.cfd, VFIO_IOMMU_MAP_DMA, &m), -EINVAL);
	assert_int_equal(sioctl(t.sim, t.cfd, VFIO_IOMMU_MAP_DMA, NULL), -EFAULT);
	assert_int_equal(map_dma(&t, 0, SZ_4K, 0, 0), -EINVAL);
	assert_int_equal(map_dma(&t, 0, SZ_4K, 0, 4 /* VADDR */), -EINVAL);
	assert_int_equal(map_dma(&t, 0, SZ_4K, 0, RW | 8), -EINVAL);
	assert_int_equal(map_dma(&t, 0, 0, 0, RW), -EINVAL);
	assert_int_equal(map_dma(&t, 0x800, SZ_4K, 0, RW), -EINVAL);
	assert_int_equal(map_dma(&t, 0, SZ_4K + 0x800, 0, RW), -EINVAL);
	assert_int_equal(map_dma(&t, 0, SZ_4K, 0x800, RW), -EINVAL);
	/* Outside the aperture (2^48). */
	assert_int_equal(map_dma(&t, 1ull << 48, SZ_4K, 0, RW), -EINVAL);
	assert_int_equal(map_dma(&t, (1ull << 48) - SZ_4K, SZ_8K, 0, RW), -EINVAL);
	/* IOVA wrap. */
	assert_int_equal(map_dma(&t, UINT64_MAX - SZ_4K + 1, SZ_8K, 0, RW), -EINVAL);
	assert_int_equal(map_dma(&t, SZ_1M, 4 * SZ_4K, 0, RW), 0);
	assert_int_equal(map_dma(&t, SZ_1M, SZ_4K, 0, RW), -EEXIST);
	assert_int_equal(map_dma(&t, SZ_1M + 3 * SZ_4K, SZ_8K, 0, RW), -EEXIST);
	assert_int_equal(map_dma(&t, SZ_1M - SZ_4K, SZ_8K, 0, RW), -EEXIST);
	assert_int_equal(map_dma(&t, SZ_1M - SZ_4K, SZ_4K, 0,
				 UAPI_VFIO_DMA_MAP_FLAG_READ), 0);
	assert_int_equal(map_dma(&t, SZ_1M + 4 * SZ_4K, SZ_4K, 0,
				 UAPI_VFIO_DMA_MAP_FLAG_WRITE), 0);
	t1_teardown(&t);
}

static void test_unmap_rules(void **state)
{
	struct t1 t;
	struct uapi_vfio_dma_unmap u = { .argsz = 23, .iova = 0, .size = SZ_4K };
	uint64_t out;
	(void)state;

	t1_setup(&t);
	assert_int_equal(map_dma(&t, SZ_1M, 4 * SZ_4K, 0, RW), 0);
	assert_int_equal(map_dma(&t, SZ_1M + 4 * SZ_4K, 2 * SZ_4K, 0, RW), 0);
	assert_int_equal(map_dma(&t, SZ_2M, SZ_4K, 0, RW), 0);
	assert_int_equal(sioctl(t.sim, t.cfd, VFIO_IOMMU_UNMAP_DMA, &u), -EINVAL);
	assert_int_equal(unmap_dma(&t, SZ_1M, SZ_4K, 4 /* VADDR */, NULL), -EINVAL);
	assert_int_equal(unmap_dma(&t, SZ_1M, SZ_4K, 8, NULL), -EINVAL);
	assert_int_equal(unmap_dma(&t, SZ_1M, SZ_4K, UNMAP_ALL, NULL), -EINVAL);
	assert_int_equal(unmap_dma(&t, 0, SZ_4K, UNMAP_ALL, NULL), -EINVAL);
	assert_int_equal(unmap_dma(&t, 0, 0, UNMAP_ALL | UNMAP_GET, NULL), -EINVAL);
	assert_int_equal(unmap_dma(&t, SZ_1M, 0, 0, NULL), -EINVAL);
	assert_int_equal(unmap_dma(&t, SZ_1M + 1, SZ_4K, 0, NULL), -EINVAL);
	assert_int_equal(unmap_dma(&t, SZ_1M, SZ_4K + 1, 0, NULL), -EINVAL);
	/* Wrapping past 2^64; ending exactly at 2^64 - 1 is fine. */
	assert_int_equal(unmap_dma(&t, 2 * SZ_4K, UINT64_MAX - SZ_4K + 1, 0, NULL),
			 -EINVAL);
	assert_int_equal(unmap_dma(&t, SZ_4M_END, UINT64_MAX - SZ_4M_END + 1, 0,
				   &out), 0);
	assert_int_equal(out, 0);
	/* Bisecting a mapping, at either end. */
	assert_int_equal(unmap_dma(&t, SZ_1M, SZ_4K, 0, NULL), -EINVAL);
	assert_int_equal(unmap_dma(&t, SZ_1M + SZ_4K, 5 * SZ_4K, 0, NULL), -EINVAL);
	assert_int_equal(unmap_dma(&t, SZ_1M, 5 * SZ_4K, 0, NULL), -EINVAL);
	/* Nothing inside: success, 0 bytes. */
	out = 1;
	assert_int_equal(unmap_dma(&t, 0, SZ_1M, 0, &out), 0);
	assert_int_equal(out, 0);
	/* Two whole mappings in one call, holes around are fine. */
	assert_int_equal(unmap_dma(&t, SZ_1M - SZ_4K, 8 * SZ_4K, 0, &out), 0);
	assert_int_equal(out, 6 * SZ_4K);
	assert_int_equal(map_dma(&t, SZ_1M, 4 * SZ_4K, 0, RW), 0);
	assert_int_equal(unmap_dma(&t, 0, 0, UNMAP_ALL, &out), 0);
	assert_int_equal(out, 5 * SZ_4K);
	assert_int_equal(unmap_dma(&t, 0, 0, UNMAP_ALL, &out), 0);
	assert_int_equal(out, 0);
	t1_teardown(&t);
}

/* ---- dirty pages ------------------------------------------------------ */

static void test_dirty_rules(void **state)
{
	struct t1 t;
	uint64_t bm[8];
	struct uapi_vfio_dirty_bitmap d = { .argsz = 7, .flags = 1 };
	struct uapi_vfio_dirty_pages_get g;
	(void)state;

	t1_setup(&t);
	assert_int_equal(map_dma(&t, SZ_1M, 8 * SZ_4K, 0, RW), 0);
	assert_int_equal(sioctl(t.sim, t.cfd, VFIO_IOMMU_DIRTY_PAGES, &d), -EINVAL);
	assert_int_equal(dirty_op(&t, 0), -EINVAL);
	assert_int_equal(dirty_op(&t, 8), -EINVAL);
	assert_int_equal(dirty_op(&t, UAPI_VFIO_DIRTY_PAGES_FLAG_START |
				      UAPI_VFIO_DIRTY_PAGES_FLAG_STOP), -EINVAL);
	assert_int_equal(dirty_op(&t, UAPI_VFIO_DIRTY_PAGES_FLAG_START |
				      GET_BITMAP), -EINVAL);
	/* Trap: GET_BITMAP before START. */
	memset(bm, 0, sizeof(bm));
	assert_int_equal(get_bitmap(&t, SZ_1M, 8 * SZ_4K, SZ_4K, bm, 8), -EINVAL);
	assert_int_equal(bm[0], 0);
	/* STOP when stopped is fine; START twice too. */
	assert_int_equal(dirty_op(&t, UAPI_VFIO_DIRTY_PAGES_FLAG_STOP), 0);
	assert_int_equal(dirty_op(&t, UAPI_VFIO_DIRTY_PAGES_FLAG_START), 0);
	assert_int_equal(dirty_op(&t, UAPI_VFIO_DIRTY_PAGES_FLAG_START), 0);

	/* argsz must cover the range struct. */
	g = (struct uapi_vfio_dirty_pages_get){
		.hdr = { .argsz = 47, .flags = GET_BITMAP },
		.get = { .iova = SZ_1M, .size = 8 * SZ_4K,
			 .bitmap = { .pgsize = SZ_4K, .size = 8,
				     .data = (uintptr_t)bm } } };
	assert_int_equal(sioctl(t.sim, t.cfd, VFIO_IOMMU_DIRTY_PAGES, &g), -EINVAL);
	g.hdr.argsz = 48;
	assert_int_equal(sioctl(t.sim, t.cfd, VFIO_IOMMU_DIRTY_PAGES, &g), 0);
	assert_int_equal(bm[0], 0xff);
	/* Trap: only the smallest page; 8 KiB and 2 MiB are -EINVAL. */
	memset(bm, 0, sizeof(bm));
	assert_int_equal(get_bitmap(&t, SZ_1M, 8 * SZ_4K, SZ_8K, bm, 8), -EINVAL);
	assert_int_equal(get_bitmap(&t, SZ_1M, SZ_2M, SZ_2M, bm, 8), -EINVAL);
	assert_int_equal(get_bitmap(&t, SZ_1M, 8 * SZ_4K, 0, bm, 8), -EINVAL);
	assert_int_equal(get_bitmap(&t, SZ_1M, 8 * SZ_4K, SZ_2K, bm, 8), -EINVAL);
	assert_int_equal(get_bitmap(&t, SZ_1M + 0x800, 8 * SZ_4K, SZ_4K, bm, 8),
			 -EINVAL);
	assert_int_equal(get_bitmap(&t, SZ_1M, 8 * SZ_4K + 0x800, SZ_4K, bm, 8),
			 -EINVAL);
	assert_int_equal(get_bitmap(&t, SZ_1M, 0, SZ_4K, bm, 8), -EINVAL);
	assert_int_equal(get_bitmap(&t, SZ_4K, UINT64_MAX - SZ_4K + 1, SZ_4K, bm, 8),
			 -EINVAL);
	/* Bitmap: whole u64 words, none empty. */
	assert_int_equal(get_bitmap(&t, SZ_1M, 8 * SZ_4K, SZ_4K, bm, 7), -EINVAL);
	assert_int_equal(get_bitmap(&t, SZ_1M, 8 * SZ_4K, SZ_4K, bm, 0), -EINVAL);
	assert_int_equal(get_bitmap(&t, SZ_1M, 65 * SZ_4K, SZ_4K, bm, 8), -EINVAL);
	/* A bitmap that wraps the address space. */
	{
		struct uapi_vfio_dirty_pages_get w = {
			.hdr = { .argsz = sizeof(w), .flags = GET_BITMAP },
			.get = { .iova = SZ_1M, .size = 8 * SZ_4K,
				 .bitmap = { .pgsize = SZ_4K, .size = 16,
					     .data = UINT64_MAX - 7 } } };

		assert_int_equal(sioctl(t.sim, t.cfd, VFIO_IOMMU_DIRTY_PAGES, &w),
				 -EINVAL);
	}
	/* Trap: a range must not bisect a mapping. */
	assert_int_equal(get_bitmap(&t, SZ_1M, 4 * SZ_4K, SZ_4K, bm, 8), -EINVAL);
	assert_int_equal(get_bitmap(&t, SZ_1M + SZ_4K, 7 * SZ_4K, SZ_4K, bm, 8),
			 -EINVAL);
	assert_int_equal(get_bitmap(&t, SZ_1M + SZ_4K, 16 * SZ_4K, SZ_4K, bm, 8),
			 -EINVAL);
	assert_int_equal(bm[0], 0);
	/* NULL bitmap with a mapping to report. */
	assert_int_equal(get_bitmap(&t, SZ_1M, 8 * SZ_4K, SZ_4K, NULL, 8), -EFAULT);
	/* STOP ends it: GET_BITMAP is -EINVAL again. */
	assert_int_equal(dirty_op(&t, UAPI_VFIO_DIRTY_PAGES_FLAG_STOP), 0);
	assert_int_equal(get_bitmap(&t, SZ_1M, 8 * SZ_4K, SZ_4K, bm, 8), -EINVAL);
	t1_teardown(&t);
}

static void test_perpetually_dirty(void **state)
{
	struct t1 t;
	uint64_t bm[4];
	(void)state;

	t1_setup(&t);
	/* Three mappings: pages 0-9, 20-21, 100-163 of the read below. */
	assert_int_equal(map_dma(&t, SZ_1M, 10 * SZ_4K, 0, RW), 0);
	assert_int_equal(map_dma(&t, SZ_1M + 20 * SZ_4K, 2 * SZ_4K, 0, RW), 0);
	assert_int_equal(map_dma(&t, SZ_1M + 100 * SZ_4K, 64 * SZ_4K, 0, RW), 0);
	assert_int_equal(dirty_op(&t, UAPI_VFIO_DIRTY_PAGES_FLAG_START), 0);
	/* No device wrote anything, yet every mapped page is dirty, on every
	 * read. The first read is exact; once reported, a mapping's leftover
	 * bits past its end fill the rest of its last word (as 6.12 does, at
	 * worst): a hole after it reads dirty. */
	for (int round = 0; round < 3; round++) {
		memset(bm, 0, sizeof(bm));
		assert_int_equal(get_bitmap(&t, SZ_1M, 192 * SZ_4K, SZ_4K, bm,
					    sizeof(bm)), 0);
		assert_int_equal(bm[0], round ? ~0ull : 0x3ffull | (3ull << 20));
		assert_int_equal(bm[1], ~0ull << 36);
		assert_int_equal(bm[2], round ? ~0ull : (1ull << 36) - 1);
		assert_int_equal(bm[3], 0);
	}
	/* Trap: a range with no mapping succeeds and leaves zeros. */
	memset(bm, 0, sizeof(bm));
	assert_int_equal(get_bitmap(&t, SZ_1G, 64 * SZ_4K, SZ_4K, bm, 8), 0);
	assert_int_equal(bm[0], 0);
	assert_int_equal(get_bitmap(&t, SZ_1M + 10 * SZ_4K, 10 * SZ_4K, SZ_4K,
				    bm, 8), 0);
	assert_int_equal(bm[0], 0);
	/* Even a NULL bitmap, when nothing is written. */
	assert_int_equal(get_bitmap(&t, SZ_1G, 64 * SZ_4K, SZ_4K, NULL, 8), 0);
	/* One mapping alone, bits relative to the range start (reported
	 * before: its leftovers fill the rest of the word). */
	memset(bm, 0, sizeof(bm));
	assert_int_equal(get_bitmap(&t, SZ_1M + 12 * SZ_4K, 10 * SZ_4K, SZ_4K,
				    bm, 8), 0);
	assert_int_equal(bm[0], ~0ull << 8);
	/*
	 * The user bitmap is written as update_user_bitmap() does: a mapping
	 * starting mid-word is OR-ed into the user's first word; one starting
	 * on a word boundary overwrites its words, and bits past its end in
	 * its last word come back 0. Callers must pass zeroed memory.
	 */
	bm[0] = 1ull << 5;
	assert_int_equal(get_bitmap(&t, SZ_1M + 12 * SZ_4K, 10 * SZ_4K, SZ_4K,
				    bm, 8), 0);
	assert_int_equal(bm[0], 1ull << 5 | ~0ull << 8);
	/* A fresh mapping: exact, and a word-aligned one overwrites. */
	assert_int_equal(map_dma(&t, SZ_1M + 256 * SZ_4K, 10 * SZ_4K, 0, RW), 0);
	bm[0] = 1ull << 63;
	assert_int_equal(get_bitmap(&t, SZ_1M + 256 * SZ_4K, 10 * SZ_4K, SZ_4K, bm, 8), 0);
	assert_int_equal(bm[0], 0x3ff);
	t1_teardown(&t);
}

static void test_max_bitmap(void **state)
{
	struct t1 t;
	uint64_t bm[16];
	(void)state;

	/* 64 bytes: 512 pages per call. */
	t1_setup_flags(&t, 0, 64);
	assert_int_equal(map_dma(&t, 0, 64 * SZ_4K, 0, RW), 0);
	assert_int_equal(dirty_op(&t, UAPI_VFIO_DIRTY_PAGES_FLAG_START), 0);
	memset(bm, 0, sizeof(bm));
	assert_int_equal(get_bitmap(&t, 0, 512 * SZ_4K, SZ_4K, bm, 64), 0);
	assert_int_equal(bm[0], UINT64_MAX);
	assert_int_equal(bm[1], 0);
	assert_int_equal(get_bitmap(&t, 0, 513 * SZ_4K, SZ_4K, bm, 72), -EINVAL);
	/* The buffer size itself is capped, even for a small range. */
	assert_int_equal(get_bitmap(&t, 0, 64 * SZ_4K, SZ_4K, bm, 72), -EINVAL);
	assert_int_equal(get_bitmap(&t, 0, 64 * SZ_4K, SZ_4K, bm, 64), 0);
	{
		uint64_t ub[16] = { 0 }, out;

		assert_int_equal(unmap_bitmap(&t, 0, 64 * SZ_4K, SZ_4K, ub, 72,
					      &out), -EINVAL);
		assert_int_equal(unmap_bitmap(&t, 0, 513 * SZ_4K, SZ_4K, ub, 64,
					      &out), -EINVAL);
	}
	t1_teardown(&t);

	/* The kernel's 256 MiB: 8 TiB at 4 KiB per call. Nothing is mapped
	 * there, so nothing is written: no need for the memory. */
	t1_setup(&t);
	assert_int_equal(dirty_op(&t, UAPI_VFIO_DIRTY_PAGES_FLAG_START), 0);
	assert_int_equal(get_bitmap(&t, 8 * SZ_1T, 8 * SZ_1T, SZ_4K, bm,
				    MAX_BITMAP), 0);
	assert_int_equal(get_bitmap(&t, 8 * SZ_1T, 8 * SZ_1T + 64 * SZ_4K, SZ_4K,
				    bm, MAX_BITMAP + 8), -EINVAL);
	assert_int_equal(get_bitmap(&t, 8 * SZ_1T, 8 * SZ_1T + 64 * SZ_4K, SZ_4K,
				    bm, MAX_BITMAP), -EINVAL);
	assert_int_equal(get_bitmap(&t, 8 * SZ_1T, SZ_4K, SZ_4K, bm,
				    MAX_BITMAP + 8), -EINVAL);
	t1_teardown(&t);
}

static void test_unmap_with_bitmap(void **state)
{
	struct t1 t;
	struct iommudirty_sim_stats s0, s1;
	uint64_t bm[4], out;
	struct uapi_vfio_dma_unmap_bitmap u;
	(void)state;

	t1_setup(&t);
	assert_int_equal(map_dma(&t, SZ_1M + 2 * SZ_4K, 3 * SZ_4K, 0, RW), 0);
	assert_int_equal(map_dma(&t, SZ_1M + 70 * SZ_4K, 2 * SZ_4K, 0, RW), 0);
	memset(bm, 0, sizeof(bm));
	/* Tracking must be on. */
	assert_int_equal(unmap_bitmap(&t, SZ_1M, 128 * SZ_4K, SZ_4K, bm, 16,
				      &out), -EINVAL);
	assert_int_equal(dirty_op(&t, UAPI_VFIO_DIRTY_PAGES_FLAG_START), 0);
	/* argsz must cover the bitmap. */
	u = (struct uapi_vfio_dma_unmap_bitmap){
		.unmap = { .argsz = 47, .flags = UNMAP_GET, .iova = SZ_1M,
			   .size = 128 * SZ_4K },
		.bitmap = { .pgsize = SZ_4K, .size = 16, .data = (uintptr_t)bm } };
	assert_int_equal(sioctl(t.sim, t.cfd, VFIO_IOMMU_UNMAP_DMA, &u), -EINVAL);
	assert_int_equal(unmap_bitmap(&t, SZ_1M, 128 * SZ_4K, SZ_8K, bm, 16, &out),
			 -EINVAL);
	assert_int_equal(unmap_bitmap(&t, SZ_1M, 128 * SZ_4K, 0, bm, 16, &out),
			 -EINVAL);
	assert_int_equal(unmap_bitmap(&t, SZ_1M, 128 * SZ_4K, SZ_4K, bm, 8, &out),
			 -EINVAL);
	assert_int_equal(unmap_bitmap(&t, SZ_1M, 0, SZ_4K, bm, 16, &out), -EINVAL);
	assert_int_equal(unmap_bitmap(&t, SZ_1M + 0x800, 128 * SZ_4K, SZ_4K, bm,
				      16, &out), -EINVAL);
	assert_int_equal(unmap_bitmap(&t, SZ_1M + 3 * SZ_4K, 125 * SZ_4K, SZ_4K,
				      bm, 16, &out), -EINVAL);
	assert_int_equal(unmap_bitmap(&t, SZ_1M, 128 * SZ_4K, SZ_4K, NULL, 16,
				      &out), -EFAULT);
	assert_int_equal(bm[0], 0);
	assert_int_equal(bm[1], 0);

	s0 = stats(t.sim);
	assert_int_equal(unmap_bitmap(&t, SZ_1M, 128 * SZ_4K, SZ_4K, bm, 16, &out),
			 0);
	s1 = stats(t.sim);
	assert_int_equal(s1.dirty_reads - s0.dirty_reads, 1);
	assert_int_equal(out, 5 * SZ_4K);
	assert_int_equal(bm[0], 7ull << 2);
	assert_int_equal(bm[1], 3ull << 6);
	assert_int_equal(bm[2], 0);
	/* Gone. */
	assert_int_equal(unmap_dma(&t, SZ_1M, 128 * SZ_4K, 0, &out), 0);
	assert_int_equal(out, 0);
	t1_teardown(&t);
}

static void test_dirty_reads_counted(void **state)
{
	struct t1 t;
	struct iommudirty_sim_stats s0, s1;
	uint64_t bm[1] = { 0 };
	(void)state;

	t1_setup(&t);
	assert_int_equal(map_dma(&t, 0, SZ_4K, 0, RW), 0);
	s0 = stats(t.sim);
	/* A failed read is a read all the same, as the iommufd counter. */
	assert_int_equal(get_bitmap(&t, 0, SZ_4K, SZ_4K, bm, 8), -EINVAL);
	assert_int_equal(dirty_op(&t, UAPI_VFIO_DIRTY_PAGES_FLAG_START), 0);
	assert_int_equal(get_bitmap(&t, 0, SZ_4K, SZ_4K, bm, 8), 0);
	assert_int_equal(unmap_dma(&t, 0, SZ_4K, 0, NULL), 0);
	s1 = stats(t.sim);
	assert_int_equal(s1.dirty_reads - s0.dirty_reads, 2);
	assert_int_equal(s1.ioctls - s0.ioctls, 4);
	assert_int_equal(s1.calls - s0.calls, 4);
	t1_teardown(&t);
}

/* ---- DMA through the container ---------------------------------------- */

static void test_dma_write(void **state)
{
	struct t1 t;
	uint8_t data[3 * 4096];
	uint64_t bm[1];
	(void)state;

	t1_setup(&t);
	memset(data, 0x5a, sizeof(data));
	/* Two adjacent mappings backed by non-adjacent memory. */
	assert_int_equal(map_dma(&t, SZ_1M, 2 * SZ_4K, 0, RW), 0);
	assert_int_equal(map_dma(&t, SZ_1M + 2 * SZ_4K, 2 * SZ_4K, 8 * SZ_4K, RW), 0);
	assert_int_equal(map_dma(&t, SZ_2M, SZ_4K, 16 * SZ_4K,
				 UAPI_VFIO_DMA_MAP_FLAG_READ), 0);
	assert_int_equal(iommudirty_sim_dma_write(t.sim, t.dev, SZ_1M + SZ_4K + 16,
						  2 * SZ_4K, data), 0);
	assert_int_equal(t.mem[SZ_4K + 15], 0);
	assert_int_equal(t.mem[SZ_4K + 16], 0x5a);
	assert_int_equal(t.mem[2 * SZ_4K - 1], 0x5a);
	assert_int_equal(t.mem[2 * SZ_4K], 0);
	assert_int_equal(t.mem[8 * SZ_4K], 0x5a);
	assert_int_equal(t.mem[9 * SZ_4K + 15], 0x5a);
	assert_int_equal(t.mem[9 * SZ_4K + 16], 0);
	/* Faults: nothing lands. */
	memset(t.mem, 0, t.memsz);
	assert_int_equal(iommudirty_sim_dma_write(t.sim, t.dev, SZ_1M + 3 * SZ_4K,
						  2 * SZ_4K, data), -EFAULT);
	assert_int_equal(iommudirty_sim_dma_write(t.sim, t.dev, SZ_1M - 1, 2, data),
			 -EFAULT);
	assert_int_equal(iommudirty_sim_dma_write(t.sim, t.dev, SZ_2M, 8, data),
			 -EFAULT);
	assert_int_equal(iommudirty_sim_dma_write(t.sim, t.dev, UINT64_MAX, 2, data),
			 -EFAULT);
	for (size_t i = 0; i < t.memsz; i++)
		assert_int_equal(t.mem[i], 0);
	/* NULL data: translation only. */
	assert_int_equal(iommudirty_sim_dma_write(t.sim, t.dev, SZ_1M, 8, NULL), 0);
	/* No dirty bits to gather, and none needed: the read is all pages. */
	assert_int_equal(dirty_op(&t, UAPI_VFIO_DIRTY_PAGES_FLAG_START), 0);
	bm[0] = 0;
	assert_int_equal(get_bitmap(&t, SZ_1M, 4 * SZ_4K, SZ_4K, bm, 8), 0);
	assert_int_equal(bm[0], 0xf);
	/* The device fd closed: no DMA path at all. */
	assert_int_equal(sclose(t.sim, t.dfd), 0);
	t.dfd = -1;
	assert_int_equal(iommudirty_sim_dma_write(t.sim, t.dev, SZ_1M, 8, data),
			 -ENODEV);
	t1_teardown(&t);
}

/* ---- TYPE1 v1 and the iommufd compat container ------------------------ */

static void test_type1_v1(void **state)
{
	struct iommudirty_sim *sim = new_sim(0, 0);
	struct t1 t = { .sim = sim };
	uint64_t out;
	int gfd;
	(void)state;

	iommudirty_sim_add_device(sim, add_iommu(sim, SZ_4K, 0, 0));
	t.mem = aligned_alloc(SZ_4K, 16 * SZ_4K);
	assert_non_null(t.mem);
	t.cfd = sopen(sim, "/dev/vfio/vfio");
	gfd = sopen(sim, "/dev/vfio/1");
	assert_int_equal(set_container(sim, gfd, t.cfd), 0);
	assert_int_equal(sioctl(sim, t.cfd, VFIO_SET_IOMMU, EXT(1)), 0);
	/* No dirty tracking on v1. */
	assert_int_equal(dirty_op(&t, UAPI_VFIO_DIRTY_PAGES_FLAG_START), -EACCES);
	assert_int_equal(map_dma(&t, SZ_1M, 4 * SZ_4K, 0, RW), 0);
	/* v1: a range starting inside a mapping unmaps nothing... */
	assert_int_equal(unmap_dma(&t, SZ_1M + SZ_4K, SZ_4K, 0, &out), 0);
	assert_int_equal(out, 0);
	/* ...and one covering its start takes all of it. */
	assert_int_equal(unmap_dma(&t, SZ_1M, SZ_4K, 0, &out), 0);
	assert_int_equal(out, 4 * SZ_4K);
	assert_int_equal(sclose(sim, gfd), 0);
	assert_int_equal(sclose(sim, t.cfd), 0);
	assert_int_equal(open_fds(sim), 0);
	iommudirty_sim_free(sim);
	free(t.mem);
}

static void test_compat(void **state)
{
	struct t1 t;
	uint64_t buf[32], bm[1] = { 0 }, out;
	struct uapi_vfio_iommu_type1_info *info = (void *)buf;
	struct uapi_vfio_info_cap_header h;
	uint32_t avail;
	(void)state;

	t1_setup_flags(&t, IOMMUDIRTY_SIM_TYPE1_COMPAT, 0);
	assert_int_equal(sioctl(t.sim, t.cfd, VFIO_CHECK_EXTENSION, EXT(3)), 1);
	assert_int_equal(sioctl(t.sim, t.cfd, VFIO_CHECK_EXTENSION, EXT(1)), 1);
	assert_int_equal(sioctl(t.sim, t.cfd, VFIO_CHECK_EXTENSION, EXT(6)), 0);
	assert_int_equal(map_dma(&t, SZ_1M, 2 * SZ_4K, 0, RW), 0);
	/* No CAP_MIGRATION: DMA avail, then IOVA ranges. */
	memset(buf, 0, sizeof(buf));
	info->argsz = sizeof(*info);
	assert_int_equal(sioctl(t.sim, t.cfd, VFIO_IOMMU_GET_INFO, info), 0);
	assert_int_equal(info->argsz, 24 + 16 + 32);
	assert_int_equal(info->cap_offset, 0);
	info->argsz = sizeof(buf);
	assert_int_equal(sioctl(t.sim, t.cfd, VFIO_IOMMU_GET_INFO, info), 0);
	assert_int_equal(info->argsz, 24 + 16 + 32);
	assert_int_equal(info->cap_offset, 24);
	memcpy(&h, (uint8_t *)buf + 24, sizeof(h));
	assert_int_equal(h.id, 3);
	assert_int_equal(h.next, 40);
	memcpy(&avail, (uint8_t *)buf + 32, sizeof(avail));
	assert_int_equal(avail, UINT32_MAX);
	memcpy(&h, (uint8_t *)buf + 40, sizeof(h));
	assert_int_equal(h.id, UAPI_VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE);
	assert_int_equal(h.next, 0);
	/* No dirty ioctls at all. */
	assert_int_equal(dirty_op(&t, UAPI_VFIO_DIRTY_PAGES_FLAG_START), -ENOTTY);
	assert_int_equal(get_bitmap(&t, SZ_1M, 2 * SZ_4K, SZ_4K, bm, 8), -ENOTTY);
	assert_int_equal(unmap_bitmap(&t, SZ_1M, 2 * SZ_4K, SZ_4K, bm, 8, &out),
			 -EINVAL);
	assert_int_equal(unmap_dma(&t, SZ_1M, 2 * SZ_4K, 0, &out), 0);
	assert_int_equal(out, 2 * SZ_4K);
	t1_teardown(&t);

	/* Nesting is refused by the compat container. */
	{
		struct iommudirty_sim *sim = new_sim(IOMMUDIRTY_SIM_TYPE1_COMPAT, 0);
		int cfd, gfd;

		iommudirty_sim_add_device(sim, add_iommu(sim, SZ_4K, 0, 0));
		cfd = sopen(sim, "/dev/vfio/vfio");
		gfd = sopen(sim, "/dev/vfio/1");
		assert_int_equal(set_container(sim, gfd, cfd), 0);
		assert_int_equal(sioctl(sim, cfd, VFIO_SET_IOMMU, EXT(6)), -EINVAL);
		assert_int_equal(sclose(sim, cfd), 0);
		assert_int_equal(sclose(sim, gfd), 0);
		assert_int_equal(open_fds(sim), 0);
		iommudirty_sim_free(sim);
	}
}

/* ---- lifetimes, failure injection, leaks ------------------------------ */

static void test_lifetimes(void **state)
{
	struct t1 t;
	uint8_t data[8] = { 1, 2, 3, 4, 5, 6, 7, 8 };
	uint64_t out;
	int cfd2, gfd;
	(void)state;

	t1_setup(&t);
	assert_int_equal(map_dma(&t, SZ_1M, SZ_4K, 0, RW), 0);
	assert_int_equal(open_fds(t.sim), 3);
	/* The container fd closed: the group keeps it, mappings and all. */
	assert_int_equal(sclose(t.sim, t.cfd), 0);
	assert_int_equal(open_fds(t.sim), 2);
	assert_int_equal(iommudirty_sim_dma_write(t.sim, t.dev, SZ_1M, 8, data), 0);
	assert_int_equal(t.mem[7], 8);
	/* The group fd closed too: the device fd still holds both. */
	assert_int_equal(sclose(t.sim, t.gfd), 0);
	assert_int_equal(iommudirty_sim_dma_write(t.sim, t.dev, SZ_1M, 8, data), 0);
	assert_int_equal(sclose(t.sim, t.dfd), 0);
	assert_int_equal(open_fds(t.sim), 0);
	assert_int_equal(iommudirty_sim_dma_write(t.sim, t.dev, SZ_1M, 8, data),
			 -ENODEV);
	/* Everything was released: a new container starts empty. */
	cfd2 = sopen(t.sim, "/dev/vfio/vfio");
	gfd = sopen(t.sim, "/dev/vfio/1");
	assert_true(cfd2 >= 0 && gfd >= 0);
	assert_int_equal(set_container(t.sim, gfd, cfd2), 0);
	assert_int_equal(sioctl(t.sim, cfd2, VFIO_SET_IOMMU, EXT(T1)), 0);
	t.cfd = cfd2;
	t.gfd = gfd;
	t.dfd = -1;
	assert_int_equal(unmap_dma(&t, 0, 0, UNMAP_ALL, &out), 0);
	assert_int_equal(out, 0);
	assert_int_equal(map_dma(&t, SZ_1M, SZ_4K, 0, RW), 0);
	/* A group joining a container whose mappings are outside its
	 * aperture is refused. */
	{
		IOMMUDIRTY_OPTS(iommudirty_sim_iommu_opts, o,
				.aperture_start = SZ_2M,
				.aperture_last = SZ_1G - 1);
		int small = iommudirty_sim_add_iommu(t.sim, &o);
		int d1 = iommudirty_sim_add_device(t.sim, small);
		int g1 = sopen(t.sim, group_path(d1));

		assert_true(g1 >= 0);
		assert_int_equal(set_container(t.sim, g1, t.cfd), -EINVAL);
		assert_int_equal(unmap_dma(&t, SZ_1M, SZ_4K, 0, &out), 0);
		assert_int_equal(set_container(t.sim, g1, t.cfd), 0);
		/* Now the aperture is the intersection. */
		assert_int_equal(map_dma(&t, SZ_1M, SZ_4K, 0, RW), -EINVAL);
		assert_int_equal(map_dma(&t, SZ_2M, SZ_4K, 0, RW), 0);
		assert_int_equal(sclose(t.sim, g1), 0);
	}
	/* sim_free closes what is left; ASan checks nothing leaks. */
	iommudirty_sim_free(t.sim);
	free(t.mem);
}

static void test_fail_call(void **state)
{
	struct t1 t;
	struct iommudirty_sim_stats s0, s1;
	int fd;
	(void)state;

	t1_setup(&t);
	s0 = stats(t.sim);
	assert_int_equal(iommudirty_sim_fail_call(t.sim, 1, -EIO), 0);
	assert_int_equal(sopen(t.sim, "/dev/vfio/vfio"), -EIO);
	assert_int_equal(open_fds(t.sim), 3);
	/* An injected ioctl failure has no effect. */
	assert_int_equal(iommudirty_sim_fail_call(t.sim, 2, -ENOMEM), 0);
	assert_int_equal(map_dma(&t, SZ_1M, SZ_4K, 0, RW), 0);
	assert_int_equal(map_dma(&t, SZ_2M, SZ_4K, 0, RW), -ENOMEM);
	assert_int_equal(map_dma(&t, SZ_2M, SZ_4K, 0, RW), 0);
	assert_int_equal(iommudirty_sim_fail_call(t.sim, 1, -EINTR), 0);
	assert_int_equal(sioctl(t.sim, t.gfd, VFIO_GROUP_GET_DEVICE_FD,
				bdf_of(t.sim, t.dev)), -EINTR);
	assert_int_equal(open_fds(t.sim), 3);
	assert_int_equal(iommudirty_sim_fail_call(t.sim, 1, -EIO), 0);
	assert_int_equal(dirty_op(&t, UAPI_VFIO_DIRTY_PAGES_FLAG_START), -EIO);
	assert_int_equal(get_bitmap(&t, SZ_1M, SZ_4K, SZ_4K,
				    (uint64_t[1]){ 0 }, 8), -EINVAL);
	s1 = stats(t.sim);
	assert_int_equal(s1.calls - s0.calls, 7);
	assert_int_equal(s1.ioctls - s0.ioctls, 6);
	fd = sopen(t.sim, "/dev/vfio/vfio");
	assert_true(fd >= 0);
	assert_int_equal(sclose(t.sim, fd), 0);
	assert_int_equal(sclose(t.sim, fd), -EBADF);
	t1_teardown(&t);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_opts),
		cmocka_unit_test(test_config_flags),
		cmocka_unit_test(test_sysfs),
		cmocka_unit_test(test_container),
		cmocka_unit_test(test_get_info),
		cmocka_unit_test(test_two_groups),
		cmocka_unit_test(test_group_rules),
		cmocka_unit_test(test_cdev_vs_group),
		cmocka_unit_test(test_map_rules),
		cmocka_unit_test(test_unmap_rules),
		cmocka_unit_test(test_dirty_rules),
		cmocka_unit_test(test_perpetually_dirty),
		cmocka_unit_test(test_max_bitmap),
		cmocka_unit_test(test_unmap_with_bitmap),
		cmocka_unit_test(test_dirty_reads_counted),
		cmocka_unit_test(test_dma_write),
		cmocka_unit_test(test_type1_v1),
		cmocka_unit_test(test_compat),
		cmocka_unit_test(test_lifetimes),
		cmocka_unit_test(test_fail_call),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
