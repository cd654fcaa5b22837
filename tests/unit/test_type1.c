/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The backend choice and the legacy VFIO type1 backend, on the simulated
 * kernel configured as the hosts a VMM meets. */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "fixture.h"
#include "sys.h"
#include "uapi.h"

#define PG (4 * KiB)

struct host {
	struct iommudirty_sim *sim;
	struct iommudirty_ctx *ctx;
	int dev;
	char bdf[16];
	const char *bdfs[1];
	struct iommudirty_tracker *t;
	struct iommudirty_tracker_info info;
	uint8_t *mem;
	uint64_t memlen;
};

static uint64_t stat_reads(struct host *h)
{
	struct iommudirty_sim_stats st = { .sz = sizeof(st) };

	assert_int_equal(iommudirty_sim_get_stats(h->sim, &st), 0);
	return st.dirty_reads;
}

static uint64_t stat_fds(struct host *h)
{
	struct iommudirty_sim_stats st = { .sz = sizeof(st) };

	assert_int_equal(iommudirty_sim_get_stats(h->sim, &st), 0);
	return st.open_fds;
}

/* A host with one device behind one IOMMU, the given kernel config. */
static void host_init(struct host *h, unsigned int sim_flags, unsigned int iommu_flags,
		      uint64_t type1_max)
{
	IOMMUDIRTY_OPTS(iommudirty_sim_opts, so, .flags = sim_flags,
			.type1_max_bitmap = type1_max);
	IOMMUDIRTY_OPTS(iommudirty_sim_iommu_opts, io, .flags = iommu_flags);
	int iommu;

	memset(h, 0, sizeof(*h));
	h->sim = iommudirty_sim_new(&so);
	assert_non_null(h->sim);
	iommu = iommudirty_sim_add_iommu(h->sim, &io);
	assert_true(iommu >= 0);
	h->dev = iommudirty_sim_add_device(h->sim, iommu);
	assert_true(h->dev >= 0);
	assert_int_equal(iommudirty_sim_device_bdf(h->sim, h->dev, h->bdf, sizeof(h->bdf)), 0);
	h->bdfs[0] = h->bdf;
	IOMMUDIRTY_OPTS(iommudirty_ctx_opts, co, .sim = h->sim,
			.flags = IOMMUDIRTY_CTX_IOMMUFD_OPTIONAL);
	h->ctx = iommudirty_ctx_new(&co);
	assert_non_null(h->ctx);
	h->memlen = 64 * MiB;
	h->mem = mmap(NULL, h->memlen, PROT_READ | PROT_WRITE,
		      MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	assert_true(h->mem != MAP_FAILED);
	h->info.sz = sizeof(h->info);
}

static int host_tracker_flags(struct host *h, uint32_t backend, unsigned int flags)
{
	IOMMUDIRTY_OPTS(iommudirty_tracker_opts, o, .backend = backend, .flags = flags,
			.pci_devices = h->bdfs, .nr_pci_devices = 1, .info = &h->info);

	return iommudirty_tracker_new(h->ctx, &o, &h->t);
}

static int host_tracker(struct host *h, uint32_t backend)
{
	return host_tracker_flags(h, backend, 0);
}

static bool has_reason(const struct iommudirty_tracker_info *info, uint32_t r)
{
	for (uint32_t i = 0; i < info->nr_reasons; i++)
		if (info->reasons[i] == r)
			return true;
	return false;
}

static void host_fini(struct host *h)
{
	iommudirty_tracker_free(h->t);
	iommudirty_ctx_free(h->ctx);
	/* The tracker opened the devices, the group, the container: all gone. */
	assert_int_equal(stat_fds(h), 0);
	iommudirty_sim_free(h->sim);
	munmap(h->mem, h->memlen);
}

static void test_auto_picks_iommufd_when_it_can_track(void **state)
{
	struct host h;
	uint64_t m[1];

	host_init(&h, 0, 0, 0);
	assert_int_equal(host_tracker(&h, IOMMUDIRTY_BACKEND_AUTO), 0);
	assert_int_equal(h.info.backend, IOMMUDIRTY_BACKEND_IOMMUFD);
	assert_int_equal(h.info.precise, 1);
	assert_true(iommudirty_tracker_device_fd(h.t, 0) >= 0);
	assert_int_equal(iommudirty_tracker_device_fd(h.t, 1), -ENOENT);
	assert_true(iommudirty_tracker_ioas_id(h.t) != 0);
	assert_int_equal(iommudirty_tracker_map(h.t, h.mem, MiB, 0, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_start(h.t), 0);
	assert_int_equal(iommudirty_sim_dma_write(h.sim, h.dev, 3 * PG, 1, NULL), 0);
	assert_int_equal(iommudirty_tracker_read(h.t, 0, 64 * PG, PG, m, sizeof(m), 0), 0);
	assert_int_equal(m[0], 1ull << 3); /* precise */
	host_fini(&h);
}

/* The device's IOMMU cannot track and there is no VFIO cdev (so no
 * iommufd): type1, conservative, and why. */
static void test_auto_falls_back_to_type1(void **state)
{
	struct host h;
	struct iommudirty_tracker_info info = { .sz = sizeof(info) };
	IOMMUDIRTY_OPTS(iommudirty_source_info, si);
	uint64_t m[4];

	host_init(&h, IOMMUDIRTY_SIM_NO_CDEV, IOMMUDIRTY_SIM_IOMMU_NO_DIRTY, 0);
	assert_int_equal(host_tracker(&h, IOMMUDIRTY_BACKEND_AUTO), 0);
	assert_int_equal(iommudirty_tracker_info(h.t, &info), 0);
	assert_int_equal(info.backend, IOMMUDIRTY_BACKEND_TYPE1);
	assert_int_equal(info.precise, 0);
	assert_int_equal(info.nr_devices, 1);
	assert_int_equal(info.nr_conservative, 1);
	assert_true(has_reason(&info, IOMMUDIRTY_REASON_NO_VFIO_CDEV));
	assert_true(has_reason(&info, IOMMUDIRTY_REASON_TYPE1_CONSERVATIVE));
	/* Per device: the container, and why not the others. */
	assert_int_equal(iommudirty_tracker_source_info(h.t, 0, &si), 1);
	assert_int_equal(si.source, IOMMUDIRTY_SOURCE_TYPE1);
	assert_int_equal(si.precise, 0);
	assert_int_equal(si.pci_index, 0);
	assert_int_equal(si.dev_id, 0);
	assert_int_equal(iommudirty_tracker_source_info(h.t, 1, &si), -ENOENT);
	assert_int_equal(info.type1_pgsize, PG);
	assert_int_equal(info.type1_max_bitmap_bytes, 256 * MiB);
	assert_int_equal(iommudirty_tracker_ioas_id(h.t), 0);
	assert_true(iommudirty_tracker_device_fd(h.t, 0) >= 0);

	/* iommufd-only calls say so. */
	assert_int_equal(iommudirty_tracker_adopt_hwpt(h.t, 1, 0), -EOPNOTSUPP);
	assert_int_equal(iommudirty_tracker_iova_ranges(h.t, NULL, 0, NULL), -EOPNOTSUPP);

	assert_int_equal(iommudirty_tracker_map(h.t, h.mem, 64 * KiB, MiB, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_map(h.t, h.mem + MiB, 64 * KiB, 2 * MiB,
						IOMMUDIRTY_MAP_READ | IOMMUDIRTY_MAP_WRITE), 0);
	/* Before start: refused by the library (and by type1). */
	assert_int_equal(iommudirty_tracker_read(h.t, MiB, 64 * KiB, PG, m, sizeof(m), 0), -EINVAL);
	assert_int_equal(iommudirty_tracker_start(h.t), 0);
	/* The device writes through the container. */
	assert_int_equal(iommudirty_sim_dma_write(h.sim, h.dev, MiB + 5, 3, "xyz"), 0);
	assert_memory_equal(h.mem + 5, "xyz", 3);
	/* Every mapped page, every time: 16 pages, twice. */
	for (int round = 0; round < 2; round++) {
		assert_int_equal(iommudirty_tracker_read(h.t, MiB, 64 * KiB, PG, m, sizeof(m), 0), 0);
		assert_int_equal(iommudirty_bitmap_count(m, 16), 16);
	}
	/* Holes read clean without a kernel read: [MiB+64K, 2MiB). */
	{
		uint64_t before = stat_reads(&h);
		uint64_t *big = calloc(1, iommudirty_bitmap_size(2 * MiB, PG));

		assert_int_equal(iommudirty_tracker_read(h.t, MiB, 2 * MiB, PG, big,
							 iommudirty_bitmap_size(2 * MiB, PG), 0), 0);
		assert_int_equal(iommudirty_bitmap_count(big, 512), 32);
		assert_int_equal(big[0], 0xffff);
		assert_int_equal(big[4], 0xffff);
		assert_int_equal(stat_reads(&h) - before, 2); /* one per mapping run */
		free(big);
	}
	host_fini(&h);
}

/* Caller page sizes other than type1's: OR-fold to larger, replicate to
 * smaller, and cut mappings through a scratch bitmap. */
static void test_type1_page_size_conversion(void **state)
{
	struct host h;
	uint64_t m[64];

	host_init(&h, 0, IOMMUDIRTY_SIM_IOMMU_NO_DIRTY, 0);
	assert_int_equal(host_tracker(&h, IOMMUDIRTY_BACKEND_TYPE1), 0);
	assert_int_equal(iommudirty_tracker_map(h.t, h.mem, 3 * PG, 2 * MiB + 8 * PG,
						IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_start(h.t), 0);
	/* 64 KiB pages: pages 8..10 of 4 KiB are in 64 KiB page 0. */
	assert_int_equal(iommudirty_tracker_read(h.t, 2 * MiB, 256 * KiB, 64 * KiB, m,
						 sizeof(m), 0), 0);
	assert_int_equal(m[0], 1);
	/* 2 KiB pages: each 4 KiB page is two bits. */
	assert_int_equal(iommudirty_tracker_read(h.t, 2 * MiB + 8 * PG, 3 * PG, PG / 2, m,
						 sizeof(m), 0), 0);
	assert_int_equal(m[0], 0x3f);
	/* Part of the mapping only: its pages, nothing past the range. */
	m[0] = ~0ull;
	assert_int_equal(iommudirty_tracker_read(h.t, 2 * MiB + 9 * PG, PG, PG, m, 8, 0), 0);
	assert_int_equal(m[0], 1);
	host_fini(&h);
}

static void test_type1_unmap_dirty_is_atomic(void **state)
{
	struct host h;
	uint64_t m[4], before;

	host_init(&h, 0, IOMMUDIRTY_SIM_IOMMU_NO_DIRTY, 0);
	assert_int_equal(host_tracker(&h, IOMMUDIRTY_BACKEND_TYPE1), 0);
	assert_int_equal(iommudirty_tracker_map(h.t, h.mem, 32 * PG, 0, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_map(h.t, h.mem + MiB, 32 * PG, 32 * PG,
						IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_start(h.t), 0);
	before = stat_reads(&h);
	/* One kernel call: the read and the unmap are one. */
	assert_int_equal(iommudirty_tracker_unmap_dirty(h.t, 32 * PG, 32 * PG, PG, m,
							sizeof(m), 0), 0);
	assert_int_equal(stat_reads(&h) - before, 1);
	assert_int_equal(iommudirty_bitmap_count(m, 32), 32);
	assert_int_equal(iommudirty_sim_dma_write(h.sim, h.dev, 32 * PG, 1, NULL), -EFAULT);
	assert_int_equal(iommudirty_sim_dma_write(h.sim, h.dev, 0, 1, NULL), 0);
	/* At a larger page size the bits fold. */
	assert_int_equal(iommudirty_tracker_unmap_dirty(h.t, 0, 32 * PG, 64 * KiB, m,
							sizeof(m), 0), 0);
	assert_int_equal(m[0], 3);
	host_fini(&h);
}

/* Past type1's per-call bitmap limit, reads go in chunks of whole mappings;
 * one mapping bigger than a call can take is refused, not cut. */
static void test_type1_chunks(void **state)
{
	struct host h;
	uint64_t *m = calloc(1, iommudirty_bitmap_size(8 * MiB, PG));
	uint64_t before;

	/* 64 bytes per call: 512 pages, 2 MiB. */
	host_init(&h, 0, IOMMUDIRTY_SIM_IOMMU_NO_DIRTY, 64);
	assert_int_equal(host_tracker(&h, IOMMUDIRTY_BACKEND_TYPE1), 0);
	assert_int_equal(h.info.type1_max_bitmap_bytes, 64);
	for (int i = 0; i < 4; i++)
		assert_int_equal(iommudirty_tracker_map(h.t, h.mem + i * MiB, MiB, i * MiB,
							IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_map(h.t, h.mem + 8 * MiB, 4 * MiB, 8 * MiB,
						IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_start(h.t), 0);
	before = stat_reads(&h);
	assert_int_equal(iommudirty_tracker_read(h.t, 0, 4 * MiB, PG, m,
						 iommudirty_bitmap_size(4 * MiB, PG), 0), 0);
	assert_int_equal(stat_reads(&h) - before, 2);
	assert_int_equal(iommudirty_bitmap_count(m, 1024), 1024);
	assert_int_equal(iommudirty_tracker_read(h.t, 8 * MiB, 4 * MiB, PG, m,
						 iommudirty_bitmap_size(4 * MiB, PG), 0), -E2BIG);
	assert_int_equal(iommudirty_tracker_unmap_dirty(h.t, 8 * MiB, 4 * MiB, PG, m,
							iommudirty_bitmap_size(4 * MiB, PG), 0),
			 -E2BIG);
	free(m);
	host_fini(&h);
}

static void expect_type1_with(unsigned int sim_flags, uint32_t reason)
{
	struct host h;

	host_init(&h, sim_flags, 0, 0);
	assert_int_equal(host_tracker(&h, IOMMUDIRTY_BACKEND_AUTO), 0);
	assert_int_equal(h.info.backend, IOMMUDIRTY_BACKEND_TYPE1);
	assert_true(has_reason(&h.info, reason));
	host_fini(&h);
}

static void test_auto_without_iommufd_or_cdev(void **state)
{
	expect_type1_with(IOMMUDIRTY_SIM_NO_IOMMUFD, IOMMUDIRTY_REASON_NO_IOMMUFD);
	expect_type1_with(IOMMUDIRTY_SIM_NO_CDEV, IOMMUDIRTY_REASON_NO_VFIO_CDEV);
}

/* Nothing can track: a clear error with every reason, nothing left open. */
static void test_no_backend_can_track(void **state)
{
	struct host h;

	host_init(&h, IOMMUDIRTY_SIM_NO_IOMMUFD | IOMMUDIRTY_SIM_NO_TYPE1, 0, 0);
	assert_int_equal(host_tracker(&h, IOMMUDIRTY_BACKEND_AUTO), -EOPNOTSUPP);
	assert_null(h.t);
	assert_true(has_reason(&h.info, IOMMUDIRTY_REASON_NO_IOMMUFD));
	assert_true(has_reason(&h.info, IOMMUDIRTY_REASON_NO_TYPE1_CONTAINER));
	host_fini(&h);

	/* iommufd's compat container: type1 without dirty tracking, and a
	 * tracker that takes precise sources only. */
	host_init(&h, IOMMUDIRTY_SIM_TYPE1_COMPAT, IOMMUDIRTY_SIM_IOMMU_NO_DIRTY, 0);
	assert_int_equal(host_tracker_flags(&h, IOMMUDIRTY_BACKEND_AUTO,
					    IOMMUDIRTY_TRACKER_PRECISE_ONLY), -EOPNOTSUPP);
	assert_null(h.t);
	assert_true(has_reason(&h.info, IOMMUDIRTY_REASON_DEVICE_CANNOT_TRACK));
	assert_true(has_reason(&h.info, IOMMUDIRTY_REASON_NO_DMA_LOGGING));
	assert_true(has_reason(&h.info, IOMMUDIRTY_REASON_PRECISE_ONLY));
	assert_true(has_reason(&h.info, IOMMUDIRTY_REASON_TYPE1_NO_MIGRATION));
	host_fini(&h);

	/* Forced iommufd on a device that cannot track, precise only. */
	host_init(&h, 0, IOMMUDIRTY_SIM_IOMMU_NO_DIRTY, 0);
	assert_int_equal(host_tracker_flags(&h, IOMMUDIRTY_BACKEND_IOMMUFD,
					    IOMMUDIRTY_TRACKER_PRECISE_ONLY), -EOPNOTSUPP);
	assert_null(h.t);
	assert_int_equal(h.info.precise, 0);
	host_fini(&h);

	/* Forced type1, precise only: the container is conservative. */
	host_init(&h, 0, IOMMUDIRTY_SIM_IOMMU_NO_DIRTY, 0);
	assert_int_equal(host_tracker_flags(&h, IOMMUDIRTY_BACKEND_TYPE1,
					    IOMMUDIRTY_TRACKER_PRECISE_ONLY), -EOPNOTSUPP);
	assert_true(has_reason(&h.info, IOMMUDIRTY_REASON_PRECISE_ONLY));
	assert_null(h.t);
	host_fini(&h);

	/* Forced iommufd on a host without /dev/iommu. */
	host_init(&h, IOMMUDIRTY_SIM_NO_IOMMUFD, 0, 0);
	assert_int_equal(iommudirty_ctx_fd(h.ctx), -ENODEV);
	assert_int_equal(host_tracker(&h, IOMMUDIRTY_BACKEND_IOMMUFD), -ENODEV);
	{
		struct iommudirty_device *d;

		assert_int_equal(iommudirty_device_bind(h.ctx, 3, &d), -ENODEV);
	}
	host_fini(&h);
}

/* The VMM owns the container and its group; the library adopts it. */
static void test_adopt_container(void **state)
{
	struct host h;
	int cfd, gfd, dfd, container_arg;
	uint64_t m[1];
	char path[64];

	host_init(&h, 0, IOMMUDIRTY_SIM_IOMMU_NO_DIRTY, 0);
	cfd = iommudirty_sys_sim.open(h.sim, "/dev/vfio/vfio", 0);
	assert_true(cfd >= 0);
	/* The sim names group g = device + 1. */
	{
		char link[256];

		snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", h.bdf);
		assert_true(iommudirty_sys_sim.readlink(h.sim, path, link, sizeof(link)) > 0);
		snprintf(path, sizeof(path), "/dev/vfio/%s", strrchr(link, '/') + 1);
	}
	gfd = iommudirty_sys_sim.open(h.sim, path, 0);
	assert_true(gfd >= 0);
	container_arg = cfd;
	assert_int_equal(iommudirty_sim_ioctl(h.sim, gfd, VFIO_GROUP_SET_CONTAINER, &container_arg), 0);
	assert_int_equal(iommudirty_sim_ioctl(h.sim, cfd, VFIO_SET_IOMMU,
					      (void *)(uintptr_t)VFIO_TYPE1v2_IOMMU), 0);
	dfd = iommudirty_sim_ioctl(h.sim, gfd, VFIO_GROUP_GET_DEVICE_FD, h.bdf);
	assert_true(dfd >= 0);
	struct uapi_vfio_dma_map mp = { .argsz = sizeof(mp), .flags = UAPI_VFIO_DMA_MAP_FLAG_WRITE,
					.vaddr = (uintptr_t)h.mem, .iova = 0, .size = 64 * KiB };
	assert_int_equal(iommudirty_sim_ioctl(h.sim, cfd, VFIO_IOMMU_MAP_DMA, &mp), 0);

	IOMMUDIRTY_OPTS(iommudirty_tracker_opts, o, .flags = IOMMUDIRTY_TRACKER_ADOPT_CONTAINER,
			.type1_container_fd = cfd);
	assert_int_equal(iommudirty_tracker_new(h.ctx, &o, &h.t), 0);
	assert_int_equal(iommudirty_tracker_adopt_mapping(h.t, 0, 64 * KiB), 0);
	assert_int_equal(iommudirty_tracker_start(h.t), 0);
	assert_int_equal(iommudirty_tracker_read(h.t, 0, 64 * KiB, PG, m, sizeof(m), 0), 0);
	assert_int_equal(m[0], 0xffff);
	iommudirty_tracker_free(h.t);
	h.t = NULL;
	/* The VMM's container still works. */
	assert_int_equal(iommudirty_sim_dma_write(h.sim, h.dev, 0, 1, NULL), 0);
	assert_int_equal(iommudirty_sim_close(h.sim, dfd), 0);
	assert_int_equal(iommudirty_sim_close(h.sim, gfd), 0);
	assert_int_equal(iommudirty_sim_close(h.sim, cfd), 0);
	host_fini(&h);
}

/* The VMM's own container; the library adopts it (no device of its own). */
static int vmm_container(struct host *h, int *gfd, int *dfd)
{
	char path[64], link[256];
	int cfd, container_arg;

	cfd = iommudirty_sys_sim.open(h->sim, "/dev/vfio/vfio", 0);
	assert_true(cfd >= 0);
	snprintf(path, sizeof(path), "/sys/bus/pci/devices/%s/iommu_group", h->bdf);
	assert_true(iommudirty_sys_sim.readlink(h->sim, path, link, sizeof(link)) > 0);
	snprintf(path, sizeof(path), "/dev/vfio/%s", strrchr(link, '/') + 1);
	*gfd = iommudirty_sys_sim.open(h->sim, path, 0);
	assert_true(*gfd >= 0);
	container_arg = cfd;
	assert_int_equal(iommudirty_sim_ioctl(h->sim, *gfd, VFIO_GROUP_SET_CONTAINER,
					      &container_arg), 0);
	assert_int_equal(iommudirty_sim_ioctl(h->sim, cfd, VFIO_SET_IOMMU,
					      (void *)(uintptr_t)VFIO_TYPE1v2_IOMMU), 0);
	*dfd = iommudirty_sim_ioctl(h->sim, *gfd, VFIO_GROUP_GET_DEVICE_FD, h->bdf);
	assert_true(*dfd >= 0);
	return cfd;
}

/* An unmap over two runs fails on the second; the VMM then maps its own
 * memory at the first run's IOVA. The retry must unmap only what is left:
 * the VMM's new mapping survives, and the tracker agrees with the kernel. */
static void test_type1_unmap_retry_spares_the_vmm(void **state)
{
	struct host h;
	int cfd, gfd, dfd;
	uint64_t m[1];

	(void)state;
	host_init(&h, 0, IOMMUDIRTY_SIM_IOMMU_NO_DIRTY, 0);
	cfd = vmm_container(&h, &gfd, &dfd);
	IOMMUDIRTY_OPTS(iommudirty_tracker_opts, o, .flags = IOMMUDIRTY_TRACKER_ADOPT_CONTAINER,
			.type1_container_fd = cfd);
	assert_int_equal(iommudirty_tracker_new(h.ctx, &o, &h.t), 0);
	assert_int_equal(iommudirty_tracker_map(h.t, h.mem, 16 * PG, 0, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_map(h.t, h.mem + 32 * PG, 16 * PG, 32 * PG,
						IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_start(h.t), 0);
	assert_int_equal(iommudirty_sim_fail_call(h.sim, 2, -EIO), 0);
	assert_int_equal(iommudirty_tracker_unmap(h.t, 0, 64 * PG), -EIO);
	assert_int_equal(iommudirty_sim_dma_write(h.sim, h.dev, 0, 1, NULL), -EFAULT);
	assert_int_equal(iommudirty_sim_dma_write(h.sim, h.dev, 32 * PG, 1, NULL), 0);

	/* The VMM reuses the freed IOVA for memory of its own. */
	struct uapi_vfio_dma_map mp = { .argsz = sizeof(mp), .flags = UAPI_VFIO_DMA_MAP_FLAG_WRITE,
					.vaddr = (uintptr_t)h.mem + 16 * PG, .iova = 0,
					.size = 8 * PG };
	assert_int_equal(iommudirty_sim_ioctl(h.sim, cfd, VFIO_IOMMU_MAP_DMA, &mp), 0);

	/* The tracker reads only its second run, dirty as type1 reports. */
	assert_int_equal(iommudirty_tracker_read(h.t, 0, 64 * PG, PG, m, sizeof(m), 0), 0);
	assert_int_equal(m[0], 0xffffull << 32);
	assert_int_equal(iommudirty_tracker_unmap(h.t, 0, 64 * PG), 0);
	assert_int_equal(iommudirty_sim_dma_write(h.sim, h.dev, 32 * PG, 1, NULL), -EFAULT);
	/* The VMM's mapping is intact: its device still reaches it. */
	assert_int_equal(iommudirty_sim_dma_write(h.sim, h.dev, 0, 1, NULL), 0);
	assert_int_equal(iommudirty_sim_dma_write(h.sim, h.dev, 7 * PG, 1, NULL), 0);
	assert_int_equal(iommudirty_tracker_unmap(h.t, 0, 64 * PG), -ENOENT);
	iommudirty_tracker_free(h.t);
	h.t = NULL;
	/* And after free too: the library leaves the VMM's mappings alone. */
	assert_int_equal(iommudirty_sim_dma_write(h.sim, h.dev, 0, 1, NULL), 0);
	assert_int_equal(iommudirty_sim_close(h.sim, dfd), 0);
	assert_int_equal(iommudirty_sim_close(h.sim, gfd), 0);
	assert_int_equal(iommudirty_sim_close(h.sim, cfd), 0);
	host_fini(&h);
}

/* A counted read of a type1 mapping larger than read_counted's window
 * (2^22 caller pages): type1 reads whole mappings only, so it must stay
 * one kernel read, not one whole-mapping read per window. */
static void test_type1_counted_read_of_a_large_mapping(void **state)
{
	const uint64_t len = 32 * GiB;
	uint64_t nbits = len / PG, *m = calloc(nbits / 64, 8), n, before;
	void *va = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	struct host h;

	(void)state;
	assert_non_null(m);
	assert_true(va != MAP_FAILED);
	host_init(&h, 0, IOMMUDIRTY_SIM_IOMMU_NO_DIRTY, 0);
	assert_int_equal(host_tracker(&h, IOMMUDIRTY_BACKEND_TYPE1), 0);
	assert_int_equal(iommudirty_tracker_map(h.t, va, len, 0, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_start(h.t), 0);
	before = stat_reads(&h);
	assert_int_equal(iommudirty_tracker_read_counted(h.t, 0, len, PG, m, nbits / 8, 0, &n), 0);
	assert_int_equal(stat_reads(&h) - before, 1);
	/* type1 reports every mapped page. */
	assert_int_equal(n, nbits);
	assert_int_equal(iommudirty_tracker_unmap(h.t, 0, len), 0);
	host_fini(&h);
	munmap(va, len);
	free(m);
}

/* Defect 5 of issue 12: the sim took mappings no kernel could pin (2^63
 * bytes), and an atomic unmap beside one ran for hours. Memory past the
 * user address space now faults as on the kernel, on both backends. */
static void test_unpinnable_mappings_fault(void **state)
{
	static const unsigned int backends[] = { IOMMUDIRTY_BACKEND_IOMMUFD,
						  IOMMUDIRTY_BACKEND_TYPE1 };

	(void)state;
	for (size_t b = 0; b < 2; b++) {
		const uint64_t end = 0x00007ffffffff000ull; /* x86-64 TASK_SIZE */
		void *low = (void *)(uintptr_t)(1ull << 30);
		void *top = (void *)(uintptr_t)(end - TiB);
		struct host h;

		host_init(&h, 0, 0, 0);
		assert_int_equal(host_tracker(&h, backends[b]), 0);
		assert_int_equal(iommudirty_tracker_map(h.t, low, 1ull << 62, 0,
							IOMMUDIRTY_MAP_WRITE), -EFAULT);
		/* One page past the last user page. */
		assert_int_equal(iommudirty_tracker_map(h.t, top, TiB + PG, 0,
							IOMMUDIRTY_MAP_WRITE), -EFAULT);
		/* Up to it: fine. */
		assert_int_equal(iommudirty_tracker_map(h.t, top, TiB, 0, IOMMUDIRTY_MAP_WRITE), 0);
		assert_int_equal(iommudirty_tracker_unmap(h.t, 0, TiB), 0);
		host_fini(&h);
	}
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_auto_picks_iommufd_when_it_can_track),
		cmocka_unit_test(test_auto_falls_back_to_type1),
		cmocka_unit_test(test_type1_page_size_conversion),
		cmocka_unit_test(test_type1_unmap_dirty_is_atomic),
		cmocka_unit_test(test_type1_chunks),
		cmocka_unit_test(test_auto_without_iommufd_or_cdev),
		cmocka_unit_test(test_no_backend_can_track),
		cmocka_unit_test(test_adopt_container),
		cmocka_unit_test(test_type1_unmap_retry_spares_the_vmm),
		cmocka_unit_test(test_unpinnable_mappings_fault),
		cmocka_unit_test(test_type1_counted_read_of_a_large_mapping),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
