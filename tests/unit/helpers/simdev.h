/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* Raw VFIO_DEVICE_FEATURE calls and a small host (one IOMMU, an iommufd, an
 * IOAS with 1 MiB of RAM at BASE) for the sim's device-feature tests. */
#ifndef IOMMUDIRTY_TEST_SIMDEV_H
#define IOMMUDIRTY_TEST_SIMDEV_H

#include <errno.h>
#include <fcntl.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
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
#define SZ_64K (64ull << 10)
#define SZ_1M (1ull << 20)
#define SZ_2M (2ull << 20)
#define SZ_1G (1ull << 30)
#define SZ_1T (1ull << 40)
#define BASE SZ_1M          /* guest RAM's IOVA */
#define MEMSZ SZ_1M

#define GET UAPI_VFIO_DEVICE_FEATURE_GET
#define SET UAPI_VFIO_DEVICE_FEATURE_SET
#define PROBE UAPI_VFIO_DEVICE_FEATURE_PROBE
#define F_MIG UAPI_VFIO_DEVICE_FEATURE_MIGRATION
#define F_START UAPI_VFIO_DEVICE_FEATURE_DMA_LOGGING_START
#define F_STOP UAPI_VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP
#define F_REPORT UAPI_VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT
#define LOG IOMMUDIRTY_SIM_DEV_DMA_LOGGING
#define EMU IOMMUDIRTY_SIM_DEV_EMULATED_IOMMU
#define RW (UAPI_IOAS_MAP_READABLE | UAPI_IOAS_MAP_WRITEABLE)
#define T1 VFIO_TYPE1v2_IOMMU

/* ---- raw calls ----------------------------------------------------------- */

static inline int sioctl(struct iommudirty_sim *sim, int fd, unsigned long req, void *arg)
{
	return iommudirty_sim_ioctl(sim, fd, req, arg);
}

/* VFIO_DEVICE_FEATURE with an explicit argsz; the payload is copied back. */
static inline int feature_sz(struct iommudirty_sim *sim, int fd, uint32_t flags,
			     uint32_t argsz, void *payload, size_t len)
{
	uint64_t buf[16] = { 0 };
	struct uapi_vfio_device_feature hdr = { .argsz = argsz, .flags = flags };
	int rc;

	assert_true(len <= sizeof(buf) - 8);
	memcpy(buf, &hdr, sizeof(hdr));
	if (len)
		memcpy(buf + 1, payload, len);
	rc = sioctl(sim, fd, VFIO_DEVICE_FEATURE, buf);
	if (len)
		memcpy(payload, buf + 1, len);
	return rc;
}

static inline int feature(struct iommudirty_sim *sim, int fd, uint32_t flags,
			  void *payload, size_t len)
{
	return feature_sz(sim, fd, flags, (uint32_t)(8 + len), payload, len);
}

static inline int mig_get(struct iommudirty_sim *sim, int fd, uint64_t *flags)
{
	struct uapi_vfio_device_feature_migration m = { .flags = 0xdead };
	int rc = feature(sim, fd, GET | F_MIG, &m, sizeof(m));

	*flags = m.flags;
	return rc;
}

static inline int start_ctl(struct iommudirty_sim *sim, int fd,
			    struct uapi_vfio_dma_logging_control *c)
{
	return feature(sim, fd, SET | F_START, c, sizeof(*c));
}

/* START over n ranges at page; *out gets the page size answered. */
static inline int start(struct iommudirty_sim *sim, int fd, uint64_t page,
			const struct uapi_vfio_dma_logging_range *r, uint32_t n,
			uint64_t *out)
{
	struct uapi_vfio_dma_logging_control c = {
		.page_size = page, .num_ranges = n,
		.ranges = (uint64_t)(uintptr_t)r,
	};
	int rc = start_ctl(sim, fd, &c);

	if (out)
		*out = c.page_size;
	return rc;
}

static inline int start1(struct iommudirty_sim *sim, int fd, uint64_t page,
			 uint64_t iova, uint64_t length)
{
	struct uapi_vfio_dma_logging_range r = { iova, length };

	return start(sim, fd, page, &r, 1, NULL);
}

static inline int stop(struct iommudirty_sim *sim, int fd)
{
	return feature(sim, fd, SET | F_STOP, NULL, 0);
}

static inline int report(struct iommudirty_sim *sim, int fd, uint64_t iova,
			 uint64_t length, uint64_t page, uint64_t *bm)
{
	struct uapi_vfio_dma_logging_report r = {
		.iova = iova, .length = length, .page_size = page,
		.bitmap = (uint64_t)(uintptr_t)bm,
	};

	return feature(sim, fd, GET | F_REPORT, &r, sizeof(r));
}

/* REPORT [iova, +length) into a fresh zeroed bitmap of nw words. */
static inline void report_into(struct iommudirty_sim *sim, int fd, uint64_t iova,
			       uint64_t length, uint64_t page, uint64_t *bm, size_t nw)
{
	memset(bm, 0, nw * 8);
	assert_int_equal(report(sim, fd, iova, length, page, bm), 0);
}

static inline void bit_set(uint64_t *bm, uint64_t bit)
{
	bm[bit / 64] |= 1ull << (bit % 64);
}

static inline uint64_t popcount(const uint64_t *bm, size_t nw)
{
	uint64_t n = 0;

	for (size_t i = 0; i < nw; i++)
		n += (uint64_t)__builtin_popcountll(bm[i]);
	return n;
}

static inline struct iommudirty_sim_stats stats(struct iommudirty_sim *sim)
{
	IOMMUDIRTY_OPTS(iommudirty_sim_stats, s);

	assert_int_equal(iommudirty_sim_get_stats(sim, &s), 0);
	return s;
}

/* ---- a host: one IOMMU, an iommufd, an IOAS with 1 MiB of RAM at BASE -- */

struct host {
	struct iommudirty_sim *sim;
	int iommu;
	int ifd;
	uint32_t ioas;
	int dev[4];           /* sim device index */
	int dfd[4];           /* cdev fd, or -1 */
	uint32_t devid[4];
	int n;
	uint8_t *mem;
};

static inline int bind(struct host *h, int fd, uint32_t *devid)
{
	struct uapi_vfio_bind_iommufd b = { .argsz = sizeof(b), .iommufd = h->ifd };
	int rc = sioctl(h->sim, fd, VFIO_DEVICE_BIND_IOMMUFD, &b);

	if (devid)
		*devid = b.out_devid;
	return rc;
}

static inline int attach(struct host *h, int fd, uint32_t pt, uint32_t *out)
{
	struct uapi_vfio_attach_pt a = { .argsz = sizeof(a), .pt_id = pt };
	int rc = sioctl(h->sim, fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &a);

	if (out)
		*out = a.pt_id;
	return rc;
}

static inline int detach(struct host *h, int fd)
{
	struct uapi_vfio_detach_pt d = { .argsz = sizeof(d) };

	return sioctl(h->sim, fd, VFIO_DEVICE_DETACH_IOMMUFD_PT, &d);
}

static inline uint32_t ioas_alloc(struct host *h)
{
	struct uapi_ioas_alloc a = { .size = sizeof(a) };

	assert_int_equal(sioctl(h->sim, h->ifd, IOMMU_IOAS_ALLOC, &a), 0);
	return a.out_ioas_id;
}

static inline int map_va(struct host *h, uint32_t ioas, uint64_t va, uint64_t len,
			 uint64_t iova, uint32_t prot)
{
	struct uapi_ioas_map m = {
		.size = sizeof(m), .flags = UAPI_IOAS_MAP_FIXED_IOVA | prot,
		.ioas_id = ioas, .user_va = va, .length = len, .iova = iova,
	};

	return sioctl(h->sim, h->ifd, IOMMU_IOAS_MAP, &m);
}

static inline int unmap(struct host *h, uint32_t ioas, uint64_t iova, uint64_t len)
{
	struct uapi_ioas_unmap u = { .size = sizeof(u), .ioas_id = ioas,
				     .iova = iova, .length = len };

	return sioctl(h->sim, h->ifd, IOMMU_IOAS_UNMAP, &u);
}

static inline int destroy(struct host *h, uint32_t id)
{
	struct uapi_destroy d = { .size = sizeof(d), .id = id };

	return sioctl(h->sim, h->ifd, IOMMU_DESTROY, &d);
}

static inline void host_init(struct host *h)
{
	IOMMUDIRTY_OPTS(iommudirty_sim_iommu_opts, io);

	memset(h, 0, sizeof(*h));
	h->sim = iommudirty_sim_new(NULL);
	assert_non_null(h->sim);
	h->iommu = iommudirty_sim_add_iommu(h->sim, &io);
	assert_int_equal(h->iommu, 0);
	h->ifd = iommudirty_sim_open_iommufd(h->sim);
	assert_true(h->ifd >= 0);
	h->ioas = ioas_alloc(h);
	h->mem = aligned_alloc(SZ_4K, MEMSZ);
	assert_non_null(h->mem);
	memset(h->mem, 0, MEMSZ);
	assert_int_equal(map_va(h, h->ioas, (uint64_t)(uintptr_t)h->mem, MEMSZ,
				BASE, RW), 0);
}

/* A device with these opts, its cdev opened and bound (and attached to
 * the IOAS with attach). Returns its slot. */
static inline int add_dev(struct host *h, const struct iommudirty_sim_device_opts *o,
			  bool do_attach)
{
	int i = h->n++;

	h->dev[i] = o ? iommudirty_sim_add_vfio_device(h->sim, o) :
			iommudirty_sim_add_device(h->sim, h->iommu);
	assert_true(h->dev[i] >= 0);
	h->dfd[i] = iommudirty_sim_open_device(h->sim, h->dev[i]);
	assert_true(h->dfd[i] >= 0);
	assert_int_equal(bind(h, h->dfd[i], &h->devid[i]), 0);
	if (do_attach)
		assert_int_equal(attach(h, h->dfd[i], h->ioas, NULL), 0);
	return i;
}

/* A logging device with the default knobs, attached. */
static inline int add_log_dev(struct host *h)
{
	IOMMUDIRTY_OPTS(iommudirty_sim_device_opts, o, .flags = LOG,
			.iommu = h->iommu);

	return add_dev(h, &o, true);
}

static inline int dev_write(struct host *h, int slot, uint64_t iova, uint64_t len)
{
	return iommudirty_sim_dma_write(h->sim, h->dev[slot], iova, len, NULL);
}

/* Close everything: no fd and no object may be left. */
static inline void host_fini(struct host *h)
{
	for (int i = 0; i < h->n; i++)
		if (h->dfd[i] >= 0)
			assert_int_equal(iommudirty_sim_close(h->sim, h->dfd[i]), 0);
	assert_int_equal(iommudirty_sim_close(h->sim, h->ifd), 0);
	assert_int_equal(stats(h->sim).open_fds, 0);
	assert_int_equal(stats(h->sim).objects, 0);
	iommudirty_sim_free(h->sim);
	free(h->mem);
}

#endif
