/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The simulated VFIO device features: VFIO_DEVICE_FEATURE MIGRATION and
 * DMA_LOGGING_START / STOP / REPORT on a cdev and on a group's device fd,
 * with Linux 6.12's vfio core checks (drivers/vfio/vfio_main.c) in its
 * order and a well-behaved driver behind them, device writes landing in
 * the device's log, and emulated-IOMMU devices (an mdev such as mtty) on
 * iommufd. Exact errnos and exact bitmaps throughout.
 */
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

static int sioctl(struct iommudirty_sim *sim, int fd, unsigned long req, void *arg)
{
	return iommudirty_sim_ioctl(sim, fd, req, arg);
}

/* VFIO_DEVICE_FEATURE with an explicit argsz; the payload is copied back. */
static int feature_sz(struct iommudirty_sim *sim, int fd, uint32_t flags,
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

static int feature(struct iommudirty_sim *sim, int fd, uint32_t flags,
		   void *payload, size_t len)
{
	return feature_sz(sim, fd, flags, (uint32_t)(8 + len), payload, len);
}

static int mig_get(struct iommudirty_sim *sim, int fd, uint64_t *flags)
{
	struct uapi_vfio_device_feature_migration m = { .flags = 0xdead };
	int rc = feature(sim, fd, GET | F_MIG, &m, sizeof(m));

	*flags = m.flags;
	return rc;
}

static int start_ctl(struct iommudirty_sim *sim, int fd,
		     struct uapi_vfio_dma_logging_control *c)
{
	return feature(sim, fd, SET | F_START, c, sizeof(*c));
}

/* START over n ranges at page; *out gets the page size answered. */
static int start(struct iommudirty_sim *sim, int fd, uint64_t page,
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

static int start1(struct iommudirty_sim *sim, int fd, uint64_t page,
		  uint64_t iova, uint64_t length)
{
	struct uapi_vfio_dma_logging_range r = { iova, length };

	return start(sim, fd, page, &r, 1, NULL);
}

static int stop(struct iommudirty_sim *sim, int fd)
{
	return feature(sim, fd, SET | F_STOP, NULL, 0);
}

static int report(struct iommudirty_sim *sim, int fd, uint64_t iova,
		  uint64_t length, uint64_t page, uint64_t *bm)
{
	struct uapi_vfio_dma_logging_report r = {
		.iova = iova, .length = length, .page_size = page,
		.bitmap = (uint64_t)(uintptr_t)bm,
	};

	return feature(sim, fd, GET | F_REPORT, &r, sizeof(r));
}

/* REPORT [iova, +length) into a fresh zeroed bitmap of nw words. */
static void report_into(struct iommudirty_sim *sim, int fd, uint64_t iova,
			uint64_t length, uint64_t page, uint64_t *bm, size_t nw)
{
	memset(bm, 0, nw * 8);
	assert_int_equal(report(sim, fd, iova, length, page, bm), 0);
}

static void fx_set(uint64_t *bm, uint64_t bit)
{
	bm[bit / 64] |= 1ull << (bit % 64);
}

static uint64_t popcount(const uint64_t *bm, size_t nw)
{
	uint64_t n = 0;

	for (size_t i = 0; i < nw; i++)
		n += (uint64_t)__builtin_popcountll(bm[i]);
	return n;
}

static struct iommudirty_sim_stats stats(struct iommudirty_sim *sim)
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

static int bind(struct host *h, int fd, uint32_t *devid)
{
	struct uapi_vfio_bind_iommufd b = { .argsz = sizeof(b), .iommufd = h->ifd };
	int rc = sioctl(h->sim, fd, VFIO_DEVICE_BIND_IOMMUFD, &b);

	if (devid)
		*devid = b.out_devid;
	return rc;
}

static int attach(struct host *h, int fd, uint32_t pt, uint32_t *out)
{
	struct uapi_vfio_attach_pt a = { .argsz = sizeof(a), .pt_id = pt };
	int rc = sioctl(h->sim, fd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &a);

	if (out)
		*out = a.pt_id;
	return rc;
}

static int detach(struct host *h, int fd)
{
	struct uapi_vfio_detach_pt d = { .argsz = sizeof(d) };

	return sioctl(h->sim, fd, VFIO_DEVICE_DETACH_IOMMUFD_PT, &d);
}

static uint32_t ioas_alloc(struct host *h)
{
	struct uapi_ioas_alloc a = { .size = sizeof(a) };

	assert_int_equal(sioctl(h->sim, h->ifd, IOMMU_IOAS_ALLOC, &a), 0);
	return a.out_ioas_id;
}

static int map_va(struct host *h, uint32_t ioas, uint64_t va, uint64_t len,
		  uint64_t iova, uint32_t prot)
{
	struct uapi_ioas_map m = {
		.size = sizeof(m), .flags = UAPI_IOAS_MAP_FIXED_IOVA | prot,
		.ioas_id = ioas, .user_va = va, .length = len, .iova = iova,
	};

	return sioctl(h->sim, h->ifd, IOMMU_IOAS_MAP, &m);
}

static int unmap(struct host *h, uint32_t ioas, uint64_t iova, uint64_t len)
{
	struct uapi_ioas_unmap u = { .size = sizeof(u), .ioas_id = ioas,
				     .iova = iova, .length = len };

	return sioctl(h->sim, h->ifd, IOMMU_IOAS_UNMAP, &u);
}

static int destroy(struct host *h, uint32_t id)
{
	struct uapi_destroy d = { .size = sizeof(d), .id = id };

	return sioctl(h->sim, h->ifd, IOMMU_DESTROY, &d);
}

static void host_init(struct host *h)
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
static int add_dev(struct host *h, const struct iommudirty_sim_device_opts *o,
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
static int add_log_dev(struct host *h)
{
	IOMMUDIRTY_OPTS(iommudirty_sim_device_opts, o, .flags = LOG,
			.iommu = h->iommu);

	return add_dev(h, &o, true);
}

static int dev_write(struct host *h, int slot, uint64_t iova, uint64_t len)
{
	return iommudirty_sim_dma_write(h->sim, h->dev[slot], iova, len, NULL);
}

/* Close everything: no fd and no object may be left. */
static void host_fini(struct host *h)
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

/* ---- adding devices ------------------------------------------------------ */

static void test_add_opts(void **state)
{
	struct iommudirty_sim *sim = iommudirty_sim_new(NULL);
	IOMMUDIRTY_OPTS(iommudirty_sim_iommu_opts, io);
	struct {
		struct iommudirty_sim_device_opts o;
		uint64_t newer;
	} big = { .o = { .sz = sizeof(big) }, .newer = 1 };
	(void)state;

	assert_non_null(sim);
	assert_int_equal(iommudirty_sim_add_iommu(sim, &io), 0);
#define BAD(...)                                                               \
	do {                                                                   \
		IOMMUDIRTY_OPTS(iommudirty_sim_device_opts, o, __VA_ARGS__);   \
		errno = 0;                                                     \
		assert_int_equal(iommudirty_sim_add_vfio_device(sim, &o), -EINVAL); \
		assert_int_equal(errno, EINVAL);                               \
	} while (0)
	BAD(.flags = 1u << 2);
	BAD(.iommu = 1);
	BAD(.iommu = -1);
	BAD(.__reserved = 1);
	/* Migration needs STOP_COPY (vfio_pci_core_register_device()). */
	BAD(.migration_flags = UAPI_VFIO_MIGRATION_P2P);
	BAD(.migration_flags = UAPI_VFIO_MIGRATION_PRE_COPY);
	BAD(.migration_flags = 8 | UAPI_VFIO_MIGRATION_STOP_COPY);
	/* Logging knobs without logging. */
	BAD(.log_max_ranges = 4);
	BAD(.log_page_size = SZ_4K);
	BAD(.log_max_span = SZ_1G);
	/* The device's log page: a power of two >= 4 KiB. */
	BAD(.flags = LOG, .log_page_size = 2048);
	BAD(.flags = LOG, .log_page_size = 12288);
	BAD(.flags = LOG, .log_page_size = 1);
#undef BAD
	assert_int_equal(iommudirty_sim_add_vfio_device(sim, NULL), -EINVAL);
	assert_int_equal(iommudirty_sim_add_vfio_device(NULL, &big.o), -EINVAL);
	/* A newer caller's struct: its unknown tail must be zero. */
	assert_int_equal(iommudirty_sim_add_vfio_device(sim, &big.o), -EINVAL);
	big.newer = 0;
	assert_int_equal(iommudirty_sim_add_vfio_device(sim, &big.o), 0);
	/* An older caller's struct: only sz and flags known. */
	{
		struct iommudirty_sim_device_opts o = {
			.sz = offsetof(struct iommudirty_sim_device_opts, iommu),
			.flags = LOG, .iommu = 77, .migration_flags = 99,
		};

		assert_int_equal(iommudirty_sim_add_vfio_device(sim, &o), 1);
	}
	{
		IOMMUDIRTY_OPTS(iommudirty_sim_device_opts, o, .flags = LOG,
				.migration_flags = 7, .log_max_ranges = 1000,
				.log_page_size = 1ull << 63, .log_max_span = 1);

		assert_int_equal(iommudirty_sim_add_vfio_device(sim, &o), 2);
	}
	{
		/* Emulated: the IOMMU index is ignored. */
		IOMMUDIRTY_OPTS(iommudirty_sim_device_opts, o, .flags = EMU,
				.iommu = 1234);

		assert_int_equal(iommudirty_sim_add_vfio_device(sim, &o), 3);
	}
	assert_int_equal(iommudirty_sim_add_device(sim, 0), 4);
	assert_int_equal(stats(sim).open_fds, 0);
	iommudirty_sim_free(sim);
}

/* ---- the feature header -------------------------------------------------- */

/* add_device() devices and logging-less vfio devices: every feature is
 * -ENOTTY, PROBE included, on a cdev. The unbound cdev refuses first. */
static void test_plain_device(void **state)
{
	struct host h;
	struct uapi_vfio_dma_logging_control c = { .page_size = SZ_4K };
	struct uapi_vfio_dma_logging_report r = { .page_size = SZ_4K };
	uint64_t bm[1] = { 0 }, mig = 0;
	int fd, d, p, v;
	(void)state;

	host_init(&h);
	d = iommudirty_sim_add_device(h.sim, h.iommu);
	fd = iommudirty_sim_open_device(h.sim, d);
	/* vfio_device_fops_unl_ioctl(): no access before BIND, whatever it is. */
	assert_int_equal(mig_get(h.sim, fd, &mig), -EINVAL);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(sioctl(h.sim, fd, VFIO_DEVICE_FEATURE, NULL), -EINVAL);
	assert_int_equal(sioctl(h.sim, fd, UAPI_IO(';', 0x7f), NULL), -EINVAL);
	assert_int_equal(iommudirty_sim_close(h.sim, fd), 0);

	p = add_dev(&h, NULL, true);
	{
		IOMMUDIRTY_OPTS(iommudirty_sim_device_opts, o, .iommu = h.iommu);

		v = add_dev(&h, &o, true);
	}
	int slots[2] = { p, v };
	for (int k = 0; k < 2; k++) {
		fd = h.dfd[slots[k]];
		assert_int_equal(mig_get(h.sim, fd, &mig), -ENOTTY);
		assert_int_equal(mig, 0xdead);
		assert_int_equal(start_ctl(h.sim, fd, &c), -ENOTTY);
		assert_int_equal(feature(h.sim, fd, PROBE | SET | F_START, NULL, 0),
				 -ENOTTY);
		assert_int_equal(stop(h.sim, fd), -ENOTTY);
		r.bitmap = (uint64_t)(uintptr_t)bm;
		assert_int_equal(feature(h.sim, fd, GET | F_REPORT, &r, sizeof(r)),
				 -ENOTTY);
		assert_int_equal(sioctl(h.sim, fd, VFIO_DEVICE_FEATURE, NULL), -EFAULT);
		/* Unknown ioctls on a bound cdev reach the driver. */
		assert_int_equal(sioctl(h.sim, fd, UAPI_IO(';', 0x7f), NULL), -ENOTTY);
		/* Writes do nothing to a log that does not exist. */
		assert_int_equal(dev_write(&h, slots[k], BASE, SZ_4K), 0);
	}
	host_fini(&h);
}

/* vfio_ioctl_device_feature() then vfio_check_feature(), in that order. */
static void test_feature_header(void **state)
{
	struct host h;
	struct uapi_vfio_dma_logging_control c = { .page_size = SZ_4K };
	struct uapi_vfio_dma_logging_report r = { .page_size = SZ_4K };
	uint64_t mig[2] = { 0 }, bm[1];
	int fd;
	(void)state;

	host_init(&h);
	{
		IOMMUDIRTY_OPTS(iommudirty_sim_device_opts, o, .flags = LOG,
				.iommu = h.iommu, .migration_flags = 1);

		fd = h.dfd[add_dev(&h, &o, true)];
	}
	/* The header. */
	assert_int_equal(feature_sz(h.sim, fd, GET | F_MIG, 7, mig, 8), -EINVAL);
	assert_int_equal(feature(h.sim, fd, GET | F_MIG | (1u << 19), mig, 8), -EINVAL);
	assert_int_equal(feature(h.sim, fd, GET | SET | F_MIG, mig, 8), -EINVAL);
	/* Before the feature's own -ENOTTY. */
	assert_int_equal(feature(h.sim, fd, GET | SET | 3, NULL, 0), -EINVAL);
	assert_int_equal(feature(h.sim, fd, GET | 3, NULL, 0), -ENOTTY);
	assert_int_equal(feature(h.sim, fd, GET | 0xffff, NULL, 0), -ENOTTY);
	/* MIG_DEVICE_STATE and MIG_DATA_SIZE are not modelled. */
	assert_int_equal(feature(h.sim, fd, GET | 2, mig, 16), -ENOTTY);
	assert_int_equal(feature(h.sim, fd, GET | 9, mig, 8), -ENOTTY);

	/* MIGRATION: GET only, 8 bytes of payload. */
	assert_int_equal(feature(h.sim, fd, SET | F_MIG, mig, 8), -EINVAL);
	assert_int_equal(feature(h.sim, fd, F_MIG, mig, 8), -EINVAL);
	assert_int_equal(feature_sz(h.sim, fd, GET | F_MIG, 15, mig, 8), -EINVAL);
	mig[0] = 0x77;
	assert_int_equal(feature(h.sim, fd, PROBE | GET | F_MIG, mig, 8), 0);
	assert_int_equal(mig[0], 0x77); /* PROBE writes nothing */
	assert_int_equal(feature(h.sim, fd, PROBE | F_MIG, mig, 8), 0);
	assert_int_equal(feature(h.sim, fd, PROBE | SET | F_MIG, mig, 8), -EINVAL);
	/* GET|SET is fine with PROBE at the header; SET then fails here. */
	assert_int_equal(feature(h.sim, fd, PROBE | GET | SET | F_MIG, mig, 8), -EINVAL);
	mig[1] = 0x55;
	assert_int_equal(feature(h.sim, fd, GET | F_MIG, mig, 16), 0);
	assert_int_equal(mig[0], UAPI_VFIO_MIGRATION_STOP_COPY);
	assert_int_equal(mig[1], 0x55);

	/* START: SET only, 24 bytes; PROBE starts nothing. */
	assert_int_equal(feature(h.sim, fd, PROBE | SET | F_START, NULL, 0), 0);
	assert_int_equal(feature(h.sim, fd, PROBE | F_START, NULL, 0), 0);
	assert_int_equal(feature(h.sim, fd, PROBE | GET | F_START, NULL, 0), -EINVAL);
	assert_int_equal(feature(h.sim, fd, PROBE | GET | SET | F_START, NULL, 0), -EINVAL);
	assert_int_equal(feature(h.sim, fd, GET | F_START, &c, sizeof(c)), -EINVAL);
	assert_int_equal(feature(h.sim, fd, F_START, &c, sizeof(c)), -EINVAL);
	assert_int_equal(feature_sz(h.sim, fd, SET | F_START, 8 + 23, &c, sizeof(c)),
			 -EINVAL);
	assert_int_equal(report(h.sim, fd, BASE, SZ_4K, SZ_4K, bm), -EINVAL);

	/* STOP: SET only, no payload. */
	assert_int_equal(feature(h.sim, fd, PROBE | SET | F_STOP, NULL, 0), 0);
	assert_int_equal(feature(h.sim, fd, GET | F_STOP, NULL, 0), -EINVAL);
	assert_int_equal(feature(h.sim, fd, F_STOP, NULL, 0), -EINVAL);
	assert_int_equal(feature_sz(h.sim, fd, SET | F_STOP, 8, NULL, 0), 0);

	/* REPORT: GET only, 32 bytes. */
	r.bitmap = (uint64_t)(uintptr_t)bm;
	assert_int_equal(feature(h.sim, fd, PROBE | GET | F_REPORT, NULL, 0), 0);
	assert_int_equal(feature(h.sim, fd, PROBE | SET | F_REPORT, NULL, 0), -EINVAL);
	assert_int_equal(feature(h.sim, fd, SET | F_REPORT, &r, sizeof(r)), -EINVAL);
	assert_int_equal(feature_sz(h.sim, fd, GET | F_REPORT, 8 + 31, &r, sizeof(r)),
			 -EINVAL);
	host_fini(&h);
}

/* ---- START --------------------------------------------------------------- */

static void test_start_core_checks(void **state)
{
	static struct uapi_vfio_dma_logging_range many[257];
	struct uapi_vfio_dma_logging_range r[3];
	struct host h;
	uint64_t out, bm[1];
	int fd;
	(void)state;

	host_init(&h);
	fd = h.dfd[add_log_dev(&h)];
	for (int i = 0; i < 257; i++)
		many[i] = (struct uapi_vfio_dma_logging_range){ BASE + i * SZ_4K, SZ_4K };

	/* num_ranges: 0 -EINVAL, > 256 -E2BIG, both before the ranges. */
	assert_int_equal(start(h.sim, fd, SZ_4K, NULL, 0, NULL), -EINVAL);
	assert_int_equal(start(h.sim, fd, SZ_4K, NULL, 257, NULL), -E2BIG);
	assert_int_equal(start(h.sim, fd, SZ_4K, many, 257, NULL), -E2BIG);
	assert_int_equal(start(h.sim, fd, SZ_4K, NULL, 1, NULL), -EFAULT);
	assert_int_equal(start(h.sim, fd, SZ_4K, many, 256, &out), 0);
	assert_int_equal(out, SZ_4K);
	assert_int_equal(stop(h.sim, fd), 0);

	/* Alignment: a mask test on iova and length. */
	assert_int_equal(start1(h.sim, fd, SZ_4K, BASE + 0x800, SZ_4K), -EINVAL);
	assert_int_equal(start1(h.sim, fd, SZ_4K, BASE, SZ_4K + 0x800), -EINVAL);
	assert_int_equal(start1(h.sim, fd, SZ_8K, BASE + SZ_4K, SZ_8K), -EINVAL);
	/* page_size 0: the mask is all ones, so only {0, 0} passes the
	 * core, and the driver refuses it as zero-length. */
	assert_int_equal(start1(h.sim, fd, 0, BASE, SZ_4K), -EINVAL);
	assert_int_equal(start1(h.sim, fd, 0, 0, 0), -EINVAL);

	/* Overflow: iova + length must not carry (so 2^64 itself is out). */
	assert_int_equal(start1(h.sim, fd, SZ_4K, -SZ_4K, SZ_4K), -EOVERFLOW);
	assert_int_equal(start1(h.sim, fd, SZ_4K, -SZ_4K, SZ_8K), -EOVERFLOW);
	assert_int_equal(start1(h.sim, fd, SZ_4K, -SZ_8K, SZ_4K), 0);
	assert_int_equal(stop(h.sim, fd), 0);

	/* Overlap: -EINVAL; touching is fine. */
	r[0] = (struct uapi_vfio_dma_logging_range){ BASE, SZ_8K };
	r[1] = (struct uapi_vfio_dma_logging_range){ BASE + SZ_4K, SZ_8K };
	assert_int_equal(start(h.sim, fd, SZ_4K, r, 2, NULL), -EINVAL);
	r[1].iova = BASE - SZ_4K;
	assert_int_equal(start(h.sim, fd, SZ_4K, r, 2, NULL), -EINVAL);
	r[1].iova = BASE + SZ_8K;
	assert_int_equal(start(h.sim, fd, SZ_4K, r, 2, NULL), 0);
	assert_int_equal(stop(h.sim, fd), 0);
	/* One byte in common is an overlap (page_size 1 aligns anything). */
	r[1] = (struct uapi_vfio_dma_logging_range){ BASE - SZ_4K, SZ_4K + 1 };
	assert_int_equal(start(h.sim, fd, 1, r, 2, NULL), -EINVAL);
	r[1].length = SZ_4K;
	assert_int_equal(start(h.sim, fd, 1, r, 2, NULL), 0);
	assert_int_equal(stop(h.sim, fd), 0);
	/* Checked range by range: the first bad one decides. */
	r[1] = (struct uapi_vfio_dma_logging_range){ BASE, SZ_4K };
	r[2] = (struct uapi_vfio_dma_logging_range){ -SZ_4K, SZ_4K };
	assert_int_equal(start(h.sim, fd, SZ_4K, r, 3, NULL), -EINVAL);
	r[1] = (struct uapi_vfio_dma_logging_range){ -SZ_4K, SZ_4K };
	r[2] = (struct uapi_vfio_dma_logging_range){ BASE, SZ_4K };
	assert_int_equal(start(h.sim, fd, SZ_4K, r, 3, NULL), -EOVERFLOW);
	r[2] = (struct uapi_vfio_dma_logging_range){ BASE + 0x10, SZ_4K };
	assert_int_equal(start(h.sim, fd, SZ_4K, r, 3, NULL), -EOVERFLOW);

	/* Zero length passes the core; the driver refuses it. {0, 0} is
	 * the node [0, 2^64-1] and so also collides with anything else. */
	assert_int_equal(start1(h.sim, fd, SZ_4K, BASE, 0), -EINVAL);
	r[0] = (struct uapi_vfio_dma_logging_range){ SZ_8K, 0 };
	r[1] = (struct uapi_vfio_dma_logging_range){ SZ_4K, SZ_8K };
	assert_int_equal(start(h.sim, fd, SZ_4K, r, 2, NULL), -EINVAL);

	/* Nothing above started anything. */
	assert_int_equal(report(h.sim, fd, BASE, SZ_4K, SZ_4K, bm), -EINVAL);
	host_fini(&h);
}

static void test_start_driver_checks(void **state)
{
	struct uapi_vfio_dma_logging_range r[3] = {
		{ BASE, SZ_4K }, { BASE + SZ_64K, SZ_4K }, { BASE + SZ_1M - SZ_4K, SZ_4K },
	};
	struct uapi_vfio_dma_logging_control c;
	struct host h;
	uint64_t out, bm[1];
	int fd, lim;
	(void)state;

	host_init(&h);
	fd = h.dfd[add_log_dev(&h)];
	{
		IOMMUDIRTY_OPTS(iommudirty_sim_device_opts, o, .flags = LOG,
				.iommu = h.iommu, .log_max_ranges = 2,
				.log_max_span = SZ_1M);

		lim = h.dfd[add_dev(&h, &o, true)];
	}

	/* A second START: -EBUSY, and the first one's log stays. */
	assert_int_equal(start1(h.sim, fd, SZ_4K, BASE, SZ_64K), 0);
	assert_int_equal(dev_write(&h, 0, BASE + 5 * SZ_4K, 1), 0);
	assert_int_equal(start1(h.sim, fd, SZ_4K, BASE, SZ_64K), -EBUSY);
	assert_int_equal(start1(h.sim, fd, SZ_8K, BASE + SZ_64K, SZ_64K), -EBUSY);
	report_into(h.sim, fd, BASE, SZ_64K, SZ_4K, bm, 1);
	assert_int_equal(bm[0], 1ull << 5);
	/* STOP is idempotent. */
	assert_int_equal(stop(h.sim, fd), 0);
	assert_int_equal(stop(h.sim, fd), 0);

	/* log_max_ranges: more ranges -E2BIG. */
	assert_int_equal(start(h.sim, lim, SZ_4K, r, 3, NULL), -E2BIG);
	/* log_max_span: first iova to last end. */
	r[1].iova = BASE + SZ_1M;
	assert_int_equal(start(h.sim, lim, SZ_4K, r, 2, NULL), -E2BIG);
	r[1].iova = BASE + SZ_1M - SZ_4K;
	assert_int_equal(start(h.sim, lim, SZ_4K, r, 2, NULL), 0);
	assert_int_equal(stop(h.sim, lim), 0);
	/* page_size 1: the mask is 0, anything is aligned; a span of one
	 * byte more than the limit. */
	assert_int_equal(start1(h.sim, lim, 1, BASE, SZ_1M + 1), -E2BIG);
	assert_int_equal(start(h.sim, lim, 1,
			       &(struct uapi_vfio_dma_logging_range){ BASE + 1, SZ_1M },
			       1, &out), 0);
	assert_int_equal(out, SZ_4K);
	assert_int_equal(stop(h.sim, lim), 0);

	/* __reserved is never looked at; the whole control comes back with
	 * only page_size changed. */
	c = (struct uapi_vfio_dma_logging_control){
		.page_size = 3000, .num_ranges = 1, .__reserved = 0xabcd,
		.ranges = (uint64_t)(uintptr_t)r,
	};
	/* 3000 passes the core's mask test (P6); the driver answers 4 KiB. */
	assert_int_equal(start_ctl(h.sim, lim, &c), 0);
	assert_int_equal(c.page_size, SZ_4K);
	assert_int_equal(c.num_ranges, 1);
	assert_int_equal(c.__reserved, 0xabcd);
	assert_int_equal(c.ranges, (uint64_t)(uintptr_t)r);
	assert_int_equal(stop(h.sim, lim), 0);
	/* Asked above what a power of two can round to: the driver's -EINVAL
	 * (the core's mask test passes: bit 63 is clear in both). */
	assert_int_equal(start1(h.sim, fd, (1ull << 63) + 1, BASE, SZ_4K), -EINVAL);
	assert_int_equal(start(h.sim, fd, 1ull << 63,
			       &(struct uapi_vfio_dma_logging_range){ 0, 1ull << 63 },
			       1, &out), 0);
	assert_int_equal(out, 1ull << 63);
	assert_int_equal(stop(h.sim, fd), 0);
	/* Rounded up to a power of two (5000 - 1 = 0x1387: 8 KiB passes its
	 * mask test, 4 KiB would not). */
	assert_int_equal(start1(h.sim, lim, 5000, BASE, SZ_4K), -EINVAL);
	assert_int_equal(start(h.sim, lim, 5000,
			       &(struct uapi_vfio_dma_logging_range){ BASE, SZ_8K },
			       1, &out), 0);
	assert_int_equal(out, SZ_8K);
	assert_int_equal(stop(h.sim, lim), 0);
	host_fini(&h);
}

/* The ranges are the driver's own copy: the caller's array may change. */
static void test_ranges_copied(void **state)
{
	struct uapi_vfio_dma_logging_range *r = malloc(2 * sizeof(*r));
	struct host h;
	uint64_t bm[4];
	int fd;
	(void)state;

	host_init(&h);
	fd = h.dfd[add_log_dev(&h)];
	assert_non_null(r);
	r[0] = (struct uapi_vfio_dma_logging_range){ BASE + SZ_64K, SZ_64K };
	r[1] = (struct uapi_vfio_dma_logging_range){ BASE, SZ_8K };
	assert_int_equal(start(h.sim, fd, SZ_4K, r, 2, NULL), 0);
	r[0] = (struct uapi_vfio_dma_logging_range){ BASE + 4 * SZ_64K, SZ_64K };
	r[1].length = SZ_64K;
	free(r);
	/* Inside the original ranges: pages 1 and 17; outside: 3, 64. */
	assert_int_equal(dev_write(&h, 0, BASE + 1 * SZ_4K, 8), 0);
	assert_int_equal(dev_write(&h, 0, BASE + 3 * SZ_4K, 8), 0);
	assert_int_equal(dev_write(&h, 0, BASE + 17 * SZ_4K, 8), 0);
	assert_int_equal(dev_write(&h, 0, BASE + 64 * SZ_4K, 8), 0);
	report_into(h.sim, fd, BASE, 4 * SZ_64K + SZ_64K, SZ_4K, bm, 2);
	assert_int_equal(bm[0], (1ull << 1) | (1ull << 17));
	assert_int_equal(bm[1], 0);
	host_fini(&h);
}

/* ---- writes and REPORT --------------------------------------------------- */

static void test_report_basic(void **state)
{
	struct host h;
	uint64_t bm[4], out;
	uint8_t data[16];
	int fd;
	(void)state;

	host_init(&h);
	fd = h.dfd[add_log_dev(&h)];
	memset(data, 0x5a, sizeof(data));
	/* Before START: not logged. */
	assert_int_equal(dev_write(&h, 0, BASE + 2 * SZ_4K, SZ_4K), 0);
	assert_int_equal(start(h.sim, fd, SZ_4K,
			       &(struct uapi_vfio_dma_logging_range){ BASE, SZ_64K },
			       1, &out), 0);
	assert_int_equal(out, SZ_4K);
	/* REPORT's own checks come after the core's. */
	assert_int_equal(report(h.sim, fd, BASE, SZ_64K, 2048, bm), -EINVAL);
	assert_int_equal(report(h.sim, fd, BASE, SZ_64K, 12288, bm), -EINVAL);
	assert_int_equal(report(h.sim, fd, BASE, SZ_64K, 0, bm), -EINVAL);
	assert_int_equal(report(h.sim, fd, -SZ_4K, SZ_4K, SZ_4K, bm), -EOVERFLOW);
	assert_int_equal(report(h.sim, fd, BASE, 0, SZ_4K, bm), -EINVAL);

	report_into(h.sim, fd, BASE, SZ_64K, SZ_4K, bm, 1);
	assert_int_equal(bm[0], 0);
	/* Data lands and its page is logged. */
	assert_int_equal(iommudirty_sim_dma_write(h.sim, h.dev[0], BASE + 3 * SZ_4K + 8,
						  sizeof(data), data), 0);
	assert_int_equal(memcmp(h.mem + 3 * SZ_4K + 8, data, sizeof(data)), 0);
	/* A straddling write logs both pages. */
	assert_int_equal(dev_write(&h, 0, BASE + 7 * SZ_4K + 0x800, SZ_4K), 0);
	/* Outside the range (still mapped): not logged. */
	assert_int_equal(dev_write(&h, 0, BASE + SZ_64K, SZ_4K), 0);
	/* Straddling the range's end: only the inside page. */
	assert_int_equal(dev_write(&h, 0, BASE + SZ_64K - 8, 16), 0);
	/* A faulting write lands nothing and logs nothing. */
	assert_int_equal(dev_write(&h, 0, BASE + MEMSZ - SZ_4K, SZ_8K), -EFAULT);
	assert_int_equal(dev_write(&h, 0, BASE - 8, 16), -EFAULT);
	report_into(h.sim, fd, BASE, SZ_64K, SZ_4K, bm, 1);
	assert_int_equal(bm[0], (1ull << 3) | (1ull << 7) | (1ull << 8) | (1ull << 15));
	/* Read and cleared. */
	report_into(h.sim, fd, BASE, SZ_64K, SZ_4K, bm, 1);
	assert_int_equal(bm[0], 0);

	/* Sets only: the caller's bits stay. */
	assert_int_equal(dev_write(&h, 0, BASE + 1 * SZ_4K, 1), 0);
	bm[0] = 0xf0f0f0f0f0f0f0f0ull;
	bm[1] = 0x1234;
	assert_int_equal(report(h.sim, fd, BASE, SZ_64K, SZ_4K, bm), 0);
	assert_int_equal(bm[0], 0xf0f0f0f0f0f0f0f2ull);
	assert_int_equal(bm[1], 0x1234);

	/* Sub-range REPORT: only its part; the rest waits. */
	assert_int_equal(dev_write(&h, 0, BASE + 2 * SZ_4K, 1), 0);
	assert_int_equal(dev_write(&h, 0, BASE + 10 * SZ_4K, 1), 0);
	report_into(h.sim, fd, BASE, 4 * SZ_4K, SZ_4K, bm, 1);
	assert_int_equal(bm[0], 1ull << 2);
	report_into(h.sim, fd, BASE, SZ_64K, SZ_4K, bm, 1);
	assert_int_equal(bm[0], 1ull << 10);
	/* A sub-range out of the middle of one logged run. */
	assert_int_equal(dev_write(&h, 0, BASE, 11 * SZ_4K), 0);
	report_into(h.sim, fd, BASE + 3 * SZ_4K, 3 * SZ_4K, SZ_4K, bm, 1);
	assert_int_equal(bm[0], 0x7);
	report_into(h.sim, fd, BASE, SZ_64K, SZ_4K, bm, 1);
	assert_int_equal(bm[0], 0x7c7);

	/* A REPORT iova need not be page aligned: bits count from it. */
	assert_int_equal(dev_write(&h, 0, BASE + 3 * SZ_4K, 1), 0);
	report_into(h.sim, fd, BASE + 0x800, SZ_64K - SZ_4K, SZ_4K, bm, 1);
	assert_int_equal(bm[0], (1ull << 2) | (1ull << 3));

	/* NULL bitmap: iova_bitmap_set() cannot pin it and drops the bits;
	 * the call succeeds and the log is cleared all the same. */
	assert_int_equal(dev_write(&h, 0, BASE + 4 * SZ_4K, 1), 0);
	assert_int_equal(report(h.sim, fd, BASE, SZ_64K, SZ_4K, NULL), 0);
	report_into(h.sim, fd, BASE, SZ_64K, SZ_4K, bm, 1);
	assert_int_equal(bm[0], 0);
	host_fini(&h);
}

/* REPORT at a larger page than the log page: one bit per report page
 * holding any logged page. */
static void test_report_larger_page(void **state)
{
	struct host h;
	uint64_t bm[2];
	int fd;
	(void)state;

	host_init(&h);
	fd = h.dfd[add_log_dev(&h)];
	assert_int_equal(start1(h.sim, fd, SZ_4K, BASE, MEMSZ), 0);
	assert_int_equal(dev_write(&h, 0, BASE + 3 * SZ_4K, 1), 0);
	report_into(h.sim, fd, BASE, MEMSZ, SZ_8K, bm, 1);
	assert_int_equal(bm[0], 1ull << 1);
	/* Pages 2..17 written: 64 KiB report pages 0 and 1. */
	assert_int_equal(dev_write(&h, 0, BASE + 2 * SZ_4K, 16 * SZ_4K), 0);
	report_into(h.sim, fd, BASE, MEMSZ, SZ_64K, bm, 1);
	assert_int_equal(bm[0], 3);
	/* 2 MiB report pages over [0, 4 MiB): RAM at 1 MiB is bit 0. */
	assert_int_equal(dev_write(&h, 0, BASE + MEMSZ - 1, 1), 0);
	report_into(h.sim, fd, 0, 2 * SZ_2M, SZ_2M, bm, 1);
	assert_int_equal(bm[0], 1);
	report_into(h.sim, fd, 0, 2 * SZ_2M, SZ_2M, bm, 1);
	assert_int_equal(bm[0], 0);
	host_fini(&h);
}

/* The device's own log page, larger than asked: page_size comes back; a
 * REPORT at 4 KiB expands each log page (P9), clipped to the REPORT range;
 * a log page is cleared whole. */
static void test_report_smaller_page(void **state)
{
	IOMMUDIRTY_OPTS(iommudirty_sim_device_opts, o, .flags = LOG,
			.log_page_size = SZ_64K);
	struct host h;
	uint64_t bm[4], out;
	int fd;
	(void)state;

	host_init(&h);
	o.iommu = h.iommu;
	fd = h.dfd[add_dev(&h, &o, true)];
	assert_int_equal(start(h.sim, fd, SZ_4K,
			       &(struct uapi_vfio_dma_logging_range){ BASE, MEMSZ },
			       1, &out), 0);
	assert_int_equal(out, SZ_64K);
	assert_int_equal(dev_write(&h, 0, BASE + 0x13000, 4), 0);
	report_into(h.sim, fd, BASE, MEMSZ, SZ_4K, bm, 4);
	assert_int_equal(bm[0], 0xffff0000ull);
	assert_int_equal(bm[1] | bm[2] | bm[3], 0);

	/* Clipped to the REPORT range, and the whole log page is gone. */
	assert_int_equal(dev_write(&h, 0, BASE + 0x13000, 4), 0);
	report_into(h.sim, fd, BASE + 0x14000, 0x8000, SZ_4K, bm, 1);
	assert_int_equal(bm[0], 0xff);
	report_into(h.sim, fd, BASE, MEMSZ, SZ_4K, bm, 4);
	assert_int_equal(popcount(bm, 4), 0);

	/* A REPORT at the log page itself: one bit per log page. */
	assert_int_equal(dev_write(&h, 0, BASE + 0x13000, SZ_64K), 0);
	report_into(h.sim, fd, BASE, MEMSZ, SZ_64K, bm, 1);
	assert_int_equal(bm[0], 0x6);
	assert_int_equal(stop(h.sim, fd), 0);

	/* A range smaller than the log page: only writes inside the range
	 * are logged, but they show as the whole log page. */
	assert_int_equal(start1(h.sim, fd, SZ_4K, BASE + SZ_4K, SZ_4K), 0);
	assert_int_equal(dev_write(&h, 0, BASE + 3 * SZ_4K, 4), 0);
	report_into(h.sim, fd, BASE, SZ_64K, SZ_4K, bm, 1);
	assert_int_equal(bm[0], 0);
	assert_int_equal(dev_write(&h, 0, BASE + SZ_4K, 4), 0);
	report_into(h.sim, fd, BASE, SZ_64K, SZ_4K, bm, 1);
	assert_int_equal(bm[0], 0xffff);
	host_fini(&h);
}

static uint64_t rnd(uint32_t *seed, uint64_t n)
{
	*seed = *seed * 1103515245u + 12345u;
	return (*seed >> 8) % n;
}

/* The log against a plain model: random runs of writes, random sub-range
 * REPORTs at random report page sizes; every bit exact. Covers the extent
 * list's merges (left, right, bridging, adjacent, inside) and its clears
 * (whole, left, right, split). */
static void test_log_model(void **state)
{
	enum { NP = 256 };  /* 4 KiB pages of RAM, all tracked */
	bool dirty[NP] = { false };
	uint64_t bm[NP / 64], want[NP / 64];
	uint32_t seed = 12345;
	struct host h;
	int fd;
	(void)state;

	host_init(&h);
	fd = h.dfd[add_log_dev(&h)];
	assert_int_equal(start1(h.sim, fd, SZ_4K, BASE, MEMSZ), 0);
	for (int it = 0; it < 3000; it++) {
		uint64_t a = rnd(&seed, NP), n = rnd(&seed, 2) ? 4 : 40;

		n = 1 + rnd(&seed, n);
		if (a + n > NP)
			n = NP - a;
		if (rnd(&seed, 3)) {
			/* A write from mid-page a to mid-page a + n - 1. */
			assert_int_equal(dev_write(&h, 0, BASE + a * SZ_4K + 0x10,
						   (n - 1) * SZ_4K + 1), 0);
			for (uint64_t i = a; i < a + n; i++)
				dirty[i] = true;
			continue;
		}
		unsigned int ps = 1u << rnd(&seed, 4); /* report page, in pages */

		a &= ~(uint64_t)(ps - 1);
		n = ((n + ps - 1) & ~(uint64_t)(ps - 1));
		if (a + n > NP)
			n = NP - a;
		memset(want, 0, sizeof(want));
		for (uint64_t i = a; i < a + n; i++)
			if (dirty[i]) {
				fx_set(want, (i - a) / ps);
				dirty[i] = false;
			}
		report_into(h.sim, fd, BASE + a * SZ_4K, n * SZ_4K, ps * SZ_4K,
			    bm, ARRAY_SIZE(bm));
		for (size_t w = 0; w < ARRAY_SIZE(bm); w++)
			if (bm[w] != want[w])
				fail_msg("it %d: report [%llu, +%llu) at %u pages: word %zu "
					 "%#llx, want %#llx", it, (unsigned long long)a,
					 (unsigned long long)n, ps, w,
					 (unsigned long long)bm[w],
					 (unsigned long long)want[w]);
	}
	/* What is left, at once. */
	memset(want, 0, sizeof(want));
	for (uint64_t i = 0; i < NP; i++)
		if (dirty[i])
			fx_set(want, i);
	report_into(h.sim, fd, BASE, MEMSZ, SZ_4K, bm, ARRAY_SIZE(bm));
	assert_memory_equal(bm, want, sizeof(bm));
	report_into(h.sim, fd, BASE, MEMSZ, SZ_4K, bm, ARRAY_SIZE(bm));
	assert_int_equal(popcount(bm, ARRAY_SIZE(bm)), 0);
	host_fini(&h);
}

/* Huge sparse ranges cost nothing; a huge write is cheap. */
static void test_sparse_large(void **state)
{
	const uint64_t far = 1ull << 50, va = 1ull << 46; /* never touched */
	struct uapi_vfio_dma_logging_range r[2] = { { SZ_1T, SZ_1T }, { far, SZ_1T } };
	static uint64_t bm[SZ_1G / SZ_4K / 64];
	struct host h;
	int fd;
	(void)state;

	host_init(&h);
	fd = h.dfd[add_log_dev(&h)];
	assert_int_equal(map_va(&h, h.ioas, va, SZ_1T, SZ_1T, RW), 0);
	assert_int_equal(map_va(&h, h.ioas, va, SZ_1T, far, RW), 0);
	assert_int_equal(start(h.sim, fd, SZ_4K, r, 2, NULL), 0);
	assert_int_equal(dev_write(&h, 0, SZ_1T + 5 * SZ_1G, SZ_1G), 0);
	assert_int_equal(dev_write(&h, 0, far + 7 * SZ_4K, 1), 0);
	assert_int_equal(dev_write(&h, 0, far + SZ_1T - 1, 1), 0);
	/* 1 TiB at 1 GiB pages: one bit. */
	report_into(h.sim, fd, SZ_1T, SZ_1T, SZ_1G, bm, 16);
	assert_int_equal(bm[0], 1ull << 5);
	assert_int_equal(popcount(bm, 16), 1);
	assert_int_equal(dev_write(&h, 0, SZ_1T + 5 * SZ_1G, SZ_1G), 0);
	/* The same GiB at 4 KiB pages: all 262144 bits. */
	report_into(h.sim, fd, SZ_1T + 5 * SZ_1G, SZ_1G, SZ_4K, bm, ARRAY_SIZE(bm));
	assert_int_equal(popcount(bm, ARRAY_SIZE(bm)), SZ_1G / SZ_4K);
	report_into(h.sim, fd, far, SZ_1M, SZ_4K, bm, 4);
	assert_int_equal(bm[0], 1ull << 7);
	assert_int_equal(popcount(bm, 4), 1);
	report_into(h.sim, fd, far + SZ_1T - SZ_64K, SZ_64K, SZ_4K, bm, 1);
	assert_int_equal(bm[0], 1ull << 15);
	report_into(h.sim, fd, 0, -SZ_4K, 1ull << 40, bm, 16);
	assert_int_equal(popcount(bm, 16), 0);
	host_fini(&h);
}

/* Writes while stopped are lost; STOP then REPORT is -EINVAL; a restart
 * starts clean, with its own ranges and page size. */
static void test_stop_restart(void **state)
{
	struct host h;
	uint64_t bm[1], out;
	int fd;
	(void)state;

	host_init(&h);
	fd = h.dfd[add_log_dev(&h)];
	assert_int_equal(stop(h.sim, fd), 0);
	assert_int_equal(report(h.sim, fd, BASE, SZ_64K, SZ_4K, bm), -EINVAL);
	assert_int_equal(start1(h.sim, fd, SZ_4K, BASE, SZ_64K), 0);
	assert_int_equal(dev_write(&h, 0, BASE + SZ_4K, 1), 0);
	assert_int_equal(stop(h.sim, fd), 0);
	assert_int_equal(report(h.sim, fd, BASE, SZ_64K, SZ_4K, bm), -EINVAL);
	assert_int_equal(dev_write(&h, 0, BASE + 2 * SZ_4K, 1), 0);
	assert_int_equal(start(h.sim, fd, SZ_8K,
			       &(struct uapi_vfio_dma_logging_range){ BASE + SZ_64K, SZ_64K },
			       1, &out), 0);
	assert_int_equal(out, SZ_8K);
	report_into(h.sim, fd, BASE, 2 * SZ_64K, SZ_4K, bm, 1);
	assert_int_equal(bm[0], 0);
	assert_int_equal(dev_write(&h, 0, BASE + SZ_4K, 1), 0);
	assert_int_equal(dev_write(&h, 0, BASE + SZ_64K + 3 * SZ_4K, 1), 0);
	report_into(h.sim, fd, BASE, 2 * SZ_64K, SZ_4K, bm, 1);
	/* The 8 KiB log page [2, 3] of the second 64 KiB. */
	assert_int_equal(bm[0], 3ull << 18);
	host_fini(&h);
}

/* Closing the cdev (and so unbinding) is the last close: the driver stops
 * logging. So does the sim's unbind when the iommufd goes. */
static void test_close_while_started(void **state)
{
	struct host h;
	uint64_t bm[1], base_fds;
	int fd;
	(void)state;

	host_init(&h);
	base_fds = stats(h.sim).open_fds;
	add_log_dev(&h);
	fd = h.dfd[0];
	assert_int_equal(stats(h.sim).open_fds, base_fds + 1);
	assert_int_equal(start1(h.sim, fd, SZ_4K, BASE, SZ_64K), 0);
	assert_int_equal(dev_write(&h, 0, BASE, 1), 0);
	assert_int_equal(iommudirty_sim_close(h.sim, fd), 0);
	assert_int_equal(stats(h.sim).open_fds, base_fds);
	/* Closed: the device is not attached any more. */
	assert_int_equal(dev_write(&h, 0, BASE, 1), -ENODEV);
	fd = h.dfd[0] = iommudirty_sim_open_device(h.sim, h.dev[0]);
	assert_true(fd >= 0);
	assert_int_equal(report(h.sim, fd, BASE, SZ_64K, SZ_4K, bm), -EINVAL);
	assert_int_equal(bind(&h, fd, NULL), 0);
	assert_int_equal(attach(&h, fd, h.ioas, NULL), 0);
	assert_int_equal(report(h.sim, fd, BASE, SZ_64K, SZ_4K, bm), -EINVAL);
	assert_int_equal(start1(h.sim, fd, SZ_4K, BASE, SZ_64K), 0);
	report_into(h.sim, fd, BASE, SZ_64K, SZ_4K, bm, 1);
	assert_int_equal(bm[0], 0);

	/* Started and attached, the iommufd closes: unbound, stopped. */
	assert_int_equal(dev_write(&h, 0, BASE, 1), 0);
	assert_int_equal(iommudirty_sim_close(h.sim, h.ifd), 0);
	assert_int_equal(report(h.sim, fd, BASE, SZ_64K, SZ_4K, bm), -EINVAL);
	h.ifd = iommudirty_sim_open_iommufd(h.sim);
	assert_true(h.ifd >= 0);
	assert_int_equal(bind(&h, fd, NULL), 0);
	assert_int_equal(report(h.sim, fd, BASE, SZ_64K, SZ_4K, bm), -EINVAL);
	host_fini(&h);
	assert_int_equal(base_fds, 1);
}

/* An injected failure has no effect: START starts nothing, REPORT clears
 * nothing, STOP stops nothing. */
static void test_fault_injection(void **state)
{
	struct host h;
	uint64_t bm[1];
	int fd;
	(void)state;

	host_init(&h);
	fd = h.dfd[add_log_dev(&h)];
	assert_int_equal(iommudirty_sim_fail_call(h.sim, 1, -EIO), 0);
	assert_int_equal(start1(h.sim, fd, SZ_4K, BASE, SZ_64K), -EIO);
	assert_int_equal(report(h.sim, fd, BASE, SZ_64K, SZ_4K, bm), -EINVAL);
	assert_int_equal(start1(h.sim, fd, SZ_4K, BASE, SZ_64K), 0);
	assert_int_equal(dev_write(&h, 0, BASE + 6 * SZ_4K, 1), 0);
	assert_int_equal(iommudirty_sim_fail_call(h.sim, 1, -ENOMEM), 0);
	bm[0] = 0;
	assert_int_equal(report(h.sim, fd, BASE, SZ_64K, SZ_4K, bm), -ENOMEM);
	assert_int_equal(bm[0], 0);
	report_into(h.sim, fd, BASE, SZ_64K, SZ_4K, bm, 1);
	assert_int_equal(bm[0], 1ull << 6);
	assert_int_equal(dev_write(&h, 0, BASE + 6 * SZ_4K, 1), 0);
	assert_int_equal(iommudirty_sim_fail_call(h.sim, 2, -EIO), 0);
	assert_int_equal(stop(h.sim, fd), 0);   /* call 1 */
	assert_int_equal(start1(h.sim, fd, SZ_4K, BASE, SZ_64K), -EIO); /* 2 */
	assert_int_equal(start1(h.sim, fd, SZ_4K, BASE, SZ_64K), 0);
	assert_int_equal(dev_write(&h, 0, BASE + 6 * SZ_4K, 1), 0);
	assert_int_equal(iommudirty_sim_fail_call(h.sim, 1, -EIO), 0);
	assert_int_equal(stop(h.sim, fd), -EIO);
	report_into(h.sim, fd, BASE, SZ_64K, SZ_4K, bm, 1);
	assert_int_equal(bm[0], 1ull << 6);
	host_fini(&h);
}

/* ---- the group path ------------------------------------------------------ */

static void test_group_device_fd(void **state)
{
	IOMMUDIRTY_OPTS(iommudirty_sim_iommu_opts, io);
	IOMMUDIRTY_OPTS(iommudirty_sim_device_opts, o, .flags = LOG,
			.migration_flags = UAPI_VFIO_MIGRATION_STOP_COPY |
					   UAPI_VFIO_MIGRATION_PRE_COPY);
	struct iommudirty_sim *sim = iommudirty_sim_new(NULL);
	uint8_t *mem = aligned_alloc(SZ_4K, SZ_64K);
	uint64_t bm[1], mig;
	char bdf[16], gpath[32];
	int cfd, gfd, dfd, dfd2, plain, pfd, pgfd, dev;
	(void)state;

	assert_non_null(sim);
	assert_non_null(mem);
	memset(mem, 0, SZ_64K);
	assert_int_equal(iommudirty_sim_add_iommu(sim, &io), 0);
	dev = iommudirty_sim_add_vfio_device(sim, &o);
	assert_int_equal(dev, 0);
	plain = iommudirty_sim_add_device(sim, 0);
	cfd = iommudirty_sys_sim.open(sim, "/dev/vfio/vfio", O_RDWR);
	gfd = iommudirty_sys_sim.open(sim, "/dev/vfio/1", O_RDWR);
	assert_true(cfd >= 0 && gfd >= 0);
	assert_int_equal(sioctl(sim, gfd, VFIO_GROUP_SET_CONTAINER, &cfd), 0);
	assert_int_equal(sioctl(sim, cfd, VFIO_SET_IOMMU, (void *)(uintptr_t)T1), 0);
	assert_int_equal(iommudirty_sim_device_bdf(sim, dev, bdf, sizeof(bdf)), 0);
	dfd = sioctl(sim, gfd, VFIO_GROUP_GET_DEVICE_FD, bdf);
	dfd2 = sioctl(sim, gfd, VFIO_GROUP_GET_DEVICE_FD, bdf);
	assert_true(dfd >= 0 && dfd2 >= 0);
	{
		struct uapi_vfio_dma_map m = {
			.argsz = sizeof(m),
			.flags = UAPI_VFIO_DMA_MAP_FLAG_READ | UAPI_VFIO_DMA_MAP_FLAG_WRITE,
			.vaddr = (uint64_t)(uintptr_t)mem, .iova = BASE, .size = SZ_64K,
		};

		assert_int_equal(sioctl(sim, cfd, VFIO_IOMMU_MAP_DMA, &m), 0);
	}
	assert_int_equal(mig_get(sim, dfd, &mig), 0);
	assert_int_equal(mig, 5);
	assert_int_equal(feature(sim, dfd, PROBE | SET | F_START, NULL, 0), 0);
	assert_int_equal(start1(sim, dfd, SZ_4K, BASE, SZ_64K), 0);
	/* One device behind both fds: its log is shared. */
	assert_int_equal(start1(sim, dfd2, SZ_4K, BASE, SZ_64K), -EBUSY);
	assert_int_equal(iommudirty_sim_dma_write(sim, dev, BASE + 9 * SZ_4K, 2, "ab"), 0);
	assert_int_equal(memcmp(mem + 9 * SZ_4K, "ab", 2), 0);
	assert_int_equal(iommudirty_sim_dma_write(sim, dev, BASE + SZ_64K, 1, NULL), -EFAULT);
	report_into(sim, dfd2, BASE, SZ_64K, SZ_4K, bm, 1);
	assert_int_equal(bm[0], 1ull << 9);
	/* Not the last close: still started. */
	assert_int_equal(iommudirty_sys_sim.close(sim, dfd), 0);
	assert_int_equal(iommudirty_sim_dma_write(sim, dev, BASE + SZ_4K, 1, NULL), 0);
	report_into(sim, dfd2, BASE, SZ_64K, SZ_4K, bm, 1);
	assert_int_equal(bm[0], 1ull << 1);
	assert_int_equal(iommudirty_sim_dma_write(sim, dev, BASE + SZ_4K, 1, NULL), 0);
	/* The last close stops it. */
	assert_int_equal(iommudirty_sys_sim.close(sim, dfd2), 0);
	dfd = sioctl(sim, gfd, VFIO_GROUP_GET_DEVICE_FD, bdf);
	assert_true(dfd >= 0);
	assert_int_equal(report(sim, dfd, BASE, SZ_64K, SZ_4K, bm), -EINVAL);
	assert_int_equal(start1(sim, dfd, SZ_4K, BASE, SZ_64K), 0);
	report_into(sim, dfd, BASE, SZ_64K, SZ_4K, bm, 1);
	assert_int_equal(bm[0], 0);
	/* No BIND on a group device fd; ATTACH is the driver's -ENOTTY. */
	{
		struct uapi_vfio_bind_iommufd b = { .argsz = sizeof(b), .iommufd = cfd };

		assert_int_equal(sioctl(sim, dfd, VFIO_DEVICE_BIND_IOMMUFD, &b), -EINVAL);
	}
	assert_int_equal(sioctl(sim, dfd, VFIO_DEVICE_FEATURE, NULL), -EFAULT);

	/* A plain device's group fd: no features. */
	snprintf(gpath, sizeof(gpath), "/dev/vfio/%d", plain + 1);
	pgfd = iommudirty_sys_sim.open(sim, gpath, O_RDWR);
	assert_true(pgfd >= 0);
	assert_int_equal(sioctl(sim, pgfd, VFIO_GROUP_SET_CONTAINER, &cfd), 0);
	assert_int_equal(iommudirty_sim_device_bdf(sim, plain, bdf, sizeof(bdf)), 0);
	pfd = sioctl(sim, pgfd, VFIO_GROUP_GET_DEVICE_FD, bdf);
	assert_true(pfd >= 0);
	assert_int_equal(mig_get(sim, pfd, &mig), -ENOTTY);
	assert_int_equal(start1(sim, pfd, SZ_4K, BASE, SZ_64K), -ENOTTY);
	assert_int_equal(feature(sim, pfd, GET | SET | F_MIG, &mig, 8), -EINVAL);

	assert_int_equal(iommudirty_sys_sim.close(sim, pfd), 0);
	assert_int_equal(iommudirty_sys_sim.close(sim, pgfd), 0);
	assert_int_equal(iommudirty_sys_sim.close(sim, dfd), 0);
	assert_int_equal(iommudirty_sys_sim.close(sim, gfd), 0);
	assert_int_equal(iommudirty_sys_sim.close(sim, cfd), 0);
	assert_int_equal(stats(sim).open_fds, 0);
	iommudirty_sim_free(sim);
	free(mem);
}

/* ---- emulated-IOMMU devices (mdev) --------------------------------------- */

static void test_emulated_iommufd(void **state)
{
	IOMMUDIRTY_OPTS(iommudirty_sim_device_opts, eo, .flags = EMU | LOG,
			.migration_flags = 7);
	struct uapi_iova_range range;
	struct uapi_ioas_iova_ranges ir = { .size = sizeof(ir), .num_iovas = 1,
					    .allowed_iovas = (uint64_t)(uintptr_t)&range };
	(void)state;
	struct host h;
	uint64_t mig, bm[1];
	uint32_t hwpt, pt, ioas2;
	char buf[16], path[32];
	int e, efd, p;

	host_init(&h);
	p = add_dev(&h, NULL, false);
	e = h.n++;
	h.dev[e] = iommudirty_sim_add_vfio_device(h.sim, &eo);
	assert_int_equal(h.dev[e], 1);
	/* No PCI address, no group: only its cdev. */
	assert_int_equal(iommudirty_sim_device_bdf(h.sim, h.dev[e], buf, sizeof(buf)),
			 -ENODEV);
	snprintf(path, sizeof(path), "/dev/vfio/%d", h.dev[e] + 1);
	assert_int_equal(iommudirty_sys_sim.open(h.sim, path, O_RDWR), -ENOENT);
	assert_int_equal(iommudirty_sys_sim.dir_entry(h.sim, "/sys/kernel/iommu_groups/2/devices",
						      0, buf, sizeof(buf)), -ENOENT);
	assert_int_equal(iommudirty_sys_sim.dir_entry(h.sim, "/sys/kernel/iommu_groups/1/devices",
						      0, buf, sizeof(buf)), 0);
	snprintf(path, sizeof(path), "/dev/vfio/devices/vfio%d", h.dev[e]);
	efd = h.dfd[e] = iommudirty_sys_sim.open(h.sim, path, O_RDWR);
	assert_true(efd >= 0);
	/* BIND gives an access object's id (vfio_iommufd_emulated_bind()). */
	assert_int_equal(bind(&h, efd, &h.devid[e]), 0);
	assert_int_equal(h.devid[e], 3);
	assert_int_equal(mig_get(h.sim, efd, &mig), 0);
	assert_int_equal(mig, 7);

	/* It is no iommufd device: GET_HW_INFO and HWPT_ALLOC cannot find
	 * it (iommufd_get_device()); DESTROY is refused while bound. */
	{
		uint8_t data[64];
		struct uapi_hw_info hi = { .size = sizeof(hi), .dev_id = h.devid[e],
					   .data_len = sizeof(data),
					   .data_uptr = (uint64_t)(uintptr_t)data };
		struct uapi_hwpt_alloc ha = { .size = sizeof(ha), .dev_id = h.devid[e],
					      .pt_id = h.ioas };

		assert_int_equal(sioctl(h.sim, h.ifd, IOMMU_GET_HW_INFO, &hi), -ENOENT);
		hi.dev_id = h.devid[p];
		assert_int_equal(sioctl(h.sim, h.ifd, IOMMU_GET_HW_INFO, &hi), 0);
		assert_int_equal(sioctl(h.sim, h.ifd, IOMMU_HWPT_ALLOC, &ha), -ENOENT);
		ha.dev_id = h.devid[p];
		ha.flags = UAPI_HWPT_ALLOC_DIRTY_TRACKING;
		assert_int_equal(sioctl(h.sim, h.ifd, IOMMU_HWPT_ALLOC, &ha), 0);
		hwpt = ha.out_hwpt_id;
	}
	assert_int_equal(destroy(&h, h.devid[e]), -EBUSY);

	/* ATTACH: a HWPT (or any non-IOAS id) is -ENOENT; an IOAS works and
	 * pt_id stays the IOAS's (no domain). */
	assert_int_equal(attach(&h, efd, hwpt, NULL), -ENOENT);
	assert_int_equal(attach(&h, efd, h.devid[e], NULL), -ENOENT);
	assert_int_equal(attach(&h, efd, 999, NULL), -ENOENT);
	assert_int_equal(dev_write(&h, e, BASE, 1), -ENODEV);
	assert_int_equal(attach(&h, efd, h.ioas, &pt), 0);
	assert_int_equal(pt, h.ioas);
	assert_int_equal(attach(&h, efd, h.ioas, &pt), 0);
	assert_int_equal(attach(&h, efd, hwpt, NULL), -ENOENT);

	/* The physical device on the dirty-tracking HWPT of the same IOAS,
	 * tracking: the emulated device's writes set no IOMMU dirty bit,
	 * only its own log. */
	assert_int_equal(attach(&h, h.dfd[p], hwpt, NULL), 0);
	{
		struct uapi_hwpt_set_dirty_tracking sd = {
			.size = sizeof(sd), .flags = UAPI_HWPT_DIRTY_TRACKING_ENABLE,
			.hwpt_id = hwpt,
		};

		assert_int_equal(sioctl(h.sim, h.ifd, IOMMU_HWPT_SET_DIRTY_TRACKING, &sd), 0);
	}
	assert_int_equal(start1(h.sim, efd, SZ_4K, BASE, SZ_64K), 0);
	assert_int_equal(iommudirty_sim_dma_write(h.sim, h.dev[e], BASE + 2 * SZ_4K,
						  3, "xyz"), 0);
	assert_int_equal(memcmp(h.mem + 2 * SZ_4K, "xyz", 3), 0);
	assert_int_equal(dev_write(&h, p, BASE + 5 * SZ_4K, 1), 0);
	{
		struct uapi_hwpt_get_dirty_bitmap gd = {
			.size = sizeof(gd), .hwpt_id = hwpt, .iova = BASE,
			.length = SZ_64K, .page_size = SZ_4K,
			.data = (uint64_t)(uintptr_t)bm,
		};

		bm[0] = 0;
		assert_int_equal(sioctl(h.sim, h.ifd, IOMMU_HWPT_GET_DIRTY_BITMAP, &gd), 0);
		assert_int_equal(bm[0], 1ull << 5);
	}
	report_into(h.sim, efd, BASE, SZ_64K, SZ_4K, bm, 1);
	assert_int_equal(bm[0], 1ull << 2);

	/* The access pins: PAGE_SIZE alignment on its IOAS. */
	ir.ioas_id = h.ioas;
	assert_int_equal(sioctl(h.sim, h.ifd, IOMMU_IOAS_IOVA_RANGES, &ir), 0);
	assert_int_equal(ir.out_iova_alignment, SZ_4K);
	ioas2 = ioas_alloc(&h);
	assert_int_equal(ioas2, 5);
	ir.ioas_id = ioas2;
	assert_int_equal(sioctl(h.sim, h.ifd, IOMMU_IOAS_IOVA_RANGES, &ir), 0);
	assert_int_equal(ir.out_iova_alignment, 1);
	/* Joining an IOAS with unaligned areas: -EADDRINUSE, and it stays
	 * on the old IOAS. */
	assert_int_equal(map_va(&h, ioas2, (uint64_t)(uintptr_t)h.mem, 3, BASE, RW), 0);
	assert_int_equal(attach(&h, efd, ioas2, NULL), -EADDRINUSE);
	assert_int_equal(unmap(&h, ioas2, BASE, 3), 0);
	assert_int_equal(map_va(&h, ioas2, (uint64_t)(uintptr_t)h.mem + 0x800, SZ_4K,
				BASE, RW), 0);
	assert_int_equal(attach(&h, efd, ioas2, NULL), -EADDRINUSE);
	assert_int_equal(unmap(&h, ioas2, BASE, SZ_4K), 0);
	assert_int_equal(dev_write(&h, e, BASE + 4 * SZ_4K, 1), 0);
	/* Moved (iommufd_access_replace()): logging goes on. */
	assert_int_equal(map_va(&h, ioas2, (uint64_t)(uintptr_t)h.mem, 2 * SZ_4K,
				BASE, RW), 0);
	assert_int_equal(map_va(&h, ioas2, (uint64_t)(uintptr_t)h.mem + 3 * SZ_4K,
				SZ_4K, BASE + 3 * SZ_4K, UAPI_IOAS_MAP_READABLE), 0);
	assert_int_equal(attach(&h, efd, ioas2, &pt), 0);
	assert_int_equal(pt, ioas2);
	/* The old IOAS is free of it: with the HWPT gone, alignment 1. */
	assert_int_equal(detach(&h, h.dfd[p]), 0);
	assert_int_equal(destroy(&h, hwpt), 0);
	ir.ioas_id = h.ioas;
	assert_int_equal(sioctl(h.sim, h.ifd, IOMMU_IOAS_IOVA_RANGES, &ir), 0);
	assert_int_equal(ir.out_iova_alignment, 1);
	assert_int_equal(destroy(&h, h.ioas), 0);
	h.ioas = 0;
	ir.ioas_id = ioas2;
	assert_int_equal(sioctl(h.sim, h.ifd, IOMMU_IOAS_IOVA_RANGES, &ir), 0);
	assert_int_equal(ir.out_iova_alignment, SZ_4K);
	assert_int_equal(map_va(&h, ioas2, (uint64_t)(uintptr_t)h.mem, 0x800,
				BASE + 8 * SZ_4K, RW), -EINVAL);
	/* iommufd_access_rw(): area by area, so the part before a hole
	 * lands and is logged before the fault; a read-only area too. */
	memset(h.mem, 0, 4 * SZ_4K);
	{
		static uint8_t data[4 * SZ_4K];

		memset(data, 0xee, sizeof(data));
		assert_int_equal(iommudirty_sim_dma_write(h.sim, h.dev[e], BASE + 0x800,
							  3 * SZ_4K, data), -EFAULT);
		assert_int_equal(h.mem[0x7ff], 0);
		assert_int_equal(h.mem[0x800], 0xee);
		assert_int_equal(h.mem[2 * SZ_4K - 1], 0xee);
		assert_int_equal(h.mem[2 * SZ_4K], 0);
		report_into(h.sim, efd, BASE, SZ_64K, SZ_4K, bm, 1);
		/* Page 4 from the old IOAS, pages 0 and 1 from here. */
		assert_int_equal(bm[0], 0x13);
		assert_int_equal(unmap(&h, ioas2, BASE + 3 * SZ_4K, SZ_4K), 0);
		assert_int_equal(map_va(&h, ioas2, (uint64_t)(uintptr_t)h.mem + 2 * SZ_4K,
					SZ_4K, BASE + 2 * SZ_4K, RW), 0);
		assert_int_equal(map_va(&h, ioas2, (uint64_t)(uintptr_t)h.mem + 3 * SZ_4K,
					SZ_4K, BASE + 3 * SZ_4K,
					UAPI_IOAS_MAP_READABLE), 0);
		assert_int_equal(iommudirty_sim_dma_write(h.sim, h.dev[e], BASE + SZ_4K,
							  3 * SZ_4K, data), -EFAULT);
		report_into(h.sim, efd, BASE, SZ_64K, SZ_4K, bm, 1);
		assert_int_equal(bm[0], 0x6);
		/* Nothing mapped at all: nothing lands, nothing logged. */
		assert_int_equal(dev_write(&h, e, BASE + 9 * SZ_4K, 1), -EFAULT);
		report_into(h.sim, efd, BASE, SZ_64K, SZ_4K, bm, 1);
		assert_int_equal(bm[0], 0);
	}
	/* DETACH: off the IOAS (the sim refuses a second DETACH, as it does
	 * for physical devices). */
	assert_int_equal(destroy(&h, ioas2), -EBUSY);
	assert_int_equal(detach(&h, efd), 0);
	assert_int_equal(detach(&h, efd), -EINVAL);
	assert_int_equal(dev_write(&h, e, BASE, 1), -ENODEV);
	assert_int_equal(destroy(&h, ioas2), 0);
	/* Still bound and started until the cdev closes. */
	report_into(h.sim, efd, BASE, SZ_64K, SZ_4K, bm, 1);
	assert_int_equal(bm[0], 0);
	assert_int_equal(iommudirty_sim_close(h.sim, efd), 0);
	h.dfd[e] = -1;
	/* The access object went with it: its id is free again. */
	assert_int_equal(ioas_alloc(&h), 1);
	assert_int_equal(ioas_alloc(&h), 3);
	host_fini(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_add_opts),
		cmocka_unit_test(test_plain_device),
		cmocka_unit_test(test_feature_header),
		cmocka_unit_test(test_start_core_checks),
		cmocka_unit_test(test_start_driver_checks),
		cmocka_unit_test(test_ranges_copied),
		cmocka_unit_test(test_report_basic),
		cmocka_unit_test(test_report_larger_page),
		cmocka_unit_test(test_report_smaller_page),
		cmocka_unit_test(test_log_model),
		cmocka_unit_test(test_sparse_large),
		cmocka_unit_test(test_stop_restart),
		cmocka_unit_test(test_close_while_started),
		cmocka_unit_test(test_fault_injection),
		cmocka_unit_test(test_group_device_fd),
		cmocka_unit_test(test_emulated_iommufd),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
