/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The simulated kernel, driven as a VMM drives the real one: raw uAPI
 * structs through iommudirty_sim_ioctl(), device DMA through
 * iommudirty_sim_dma_write(). Every rule, errno and kernel trap the sim
 * promises is pinned here with exact values.
 */
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdatomic.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "internal.h"
#include "uapi.h"

#define SZ_2K (2ull << 10)
#define SZ_4K (4ull << 10)
#define SZ_1M (1ull << 20)
#define SZ_2M (2ull << 20)
#define SZ_1G (1ull << 30)
#define SZ_1T (1ull << 40)

/* ---- a small host: one iommufd, IOMMUs, devices bound to it ---------- */

struct host {
	struct iommudirty_sim *sim;
	int ifd;
	int iommu[4];
	int dev[4];       /* sim device index */
	int dfd[4];       /* its cdev fd */
	uint32_t dev_id[4];
	int ndev;
};

static int add_iommu(struct host *h, int slot, uint64_t pgsizes, unsigned int flags)
{
	IOMMUDIRTY_OPTS(iommudirty_sim_iommu_opts, o, .flags = flags,
			.pgsize_bitmap = pgsizes);

	h->iommu[slot] = iommudirty_sim_add_iommu(h->sim, &o);
	assert_true(h->iommu[slot] >= 0);
	return h->iommu[slot];
}

static int do_ioctl(struct host *h, int fd, unsigned long req, void *arg)
{
	return iommudirty_sim_ioctl(h->sim, fd, req, arg);
}

static int bind(struct host *h, int fd, int ifd, uint32_t *dev_id)
{
	struct uapi_vfio_bind_iommufd b = { .argsz = sizeof(b), .iommufd = ifd };
	int rc = do_ioctl(h, fd, VFIO_DEVICE_BIND_IOMMUFD, &b);

	if (dev_id)
		*dev_id = rc ? 0 : b.out_devid;
	return rc;
}

/* Add a device behind iommu slot, open it and bind it to h->ifd. */
static int add_dev(struct host *h, int iommu_slot)
{
	int i = h->ndev++;

	h->dev[i] = iommudirty_sim_add_device(h->sim, h->iommu[iommu_slot]);
	assert_true(h->dev[i] >= 0);
	h->dfd[i] = iommudirty_sim_open_device(h->sim, h->dev[i]);
	assert_true(h->dfd[i] >= 0);
	assert_int_equal(bind(h, h->dfd[i], h->ifd, &h->dev_id[i]), 0);
	return i;
}

static void host_init(struct host *h)
{
	memset(h, 0, sizeof(*h));
	h->sim = iommudirty_sim_new(NULL);
	assert_non_null(h->sim);
	h->ifd = iommudirty_sim_open_iommufd(h->sim);
	assert_true(h->ifd >= 0);
}

static struct iommudirty_sim_stats stats(struct host *h)
{
	struct iommudirty_sim_stats s = { .sz = sizeof(s) };

	assert_int_equal(iommudirty_sim_get_stats(h->sim, &s), 0);
	return s;
}

/* Close everything and check nothing leaked. */
static void host_fini(struct host *h)
{
	struct iommudirty_sim_stats s;

	for (int i = 0; i < h->ndev; i++)
		if (h->dfd[i] >= 0)
			assert_int_equal(iommudirty_sim_close(h->sim, h->dfd[i]), 0);
	assert_int_equal(iommudirty_sim_close(h->sim, h->ifd), 0);
	s = stats(h);
	assert_int_equal(s.open_fds, 0);
	assert_int_equal(s.objects, 0);
	iommudirty_sim_free(h->sim);
}

static uint32_t ioas_alloc(struct host *h)
{
	struct uapi_ioas_alloc a = { .size = sizeof(a) };

	assert_int_equal(do_ioctl(h, h->ifd, IOMMU_IOAS_ALLOC, &a), 0);
	return a.out_ioas_id;
}

static int map_flags(struct host *h, uint32_t ioas, const void *va, uint64_t len,
		     uint64_t *iova, uint32_t flags)
{
	struct uapi_ioas_map m = { .size = sizeof(m), .flags = flags,
				   .ioas_id = ioas, .user_va = (uintptr_t)va,
				   .length = len, .iova = *iova };
	int rc = do_ioctl(h, h->ifd, IOMMU_IOAS_MAP, &m);

	if (!rc)
		*iova = m.iova;
	return rc;
}

#define RW (UAPI_IOAS_MAP_READABLE | UAPI_IOAS_MAP_WRITEABLE)

static int map(struct host *h, uint32_t ioas, const void *va, uint64_t len,
	       uint64_t iova)
{
	return map_flags(h, ioas, va, len, &iova, RW | UAPI_IOAS_MAP_FIXED_IOVA);
}

static int unmap(struct host *h, uint32_t ioas, uint64_t iova, uint64_t len,
		 uint64_t *unmapped)
{
	struct uapi_ioas_unmap u = { .size = sizeof(u), .ioas_id = ioas,
				     .iova = iova, .length = len };
	int rc = do_ioctl(h, h->ifd, IOMMU_IOAS_UNMAP, &u);

	if (unmapped)
		*unmapped = rc ? 0 : u.length;
	return rc;
}

static int hwpt_alloc(struct host *h, uint32_t dev_id, uint32_t pt, uint32_t flags,
		      uint32_t *out)
{
	struct uapi_hwpt_alloc a = { .size = sizeof(a), .flags = flags,
				     .dev_id = dev_id, .pt_id = pt };
	int rc = do_ioctl(h, h->ifd, IOMMU_HWPT_ALLOC, &a);

	if (out)
		*out = rc ? 0 : a.out_hwpt_id;
	return rc;
}

static int set_dirty(struct host *h, uint32_t hwpt, bool on)
{
	struct uapi_hwpt_set_dirty_tracking s = {
		.size = sizeof(s), .hwpt_id = hwpt,
		.flags = on ? UAPI_HWPT_DIRTY_TRACKING_ENABLE : 0 };

	return do_ioctl(h, h->ifd, IOMMU_HWPT_SET_DIRTY_TRACKING, &s);
}

static int get_dirty(struct host *h, uint32_t hwpt, uint64_t iova, uint64_t len,
		     uint64_t pgsz, uint32_t flags, void *data)
{
	struct uapi_hwpt_get_dirty_bitmap g = {
		.size = sizeof(g), .hwpt_id = hwpt, .flags = flags,
		.iova = iova, .length = len, .page_size = pgsz,
		.data = (uintptr_t)data };

	return do_ioctl(h, h->ifd, IOMMU_HWPT_GET_DIRTY_BITMAP, &g);
}

static int attach(struct host *h, int i, uint32_t pt, uint32_t *out)
{
	struct uapi_vfio_attach_pt a = { .argsz = sizeof(a), .pt_id = pt };
	int rc = do_ioctl(h, h->dfd[i], VFIO_DEVICE_ATTACH_IOMMUFD_PT, &a);

	if (out)
		*out = rc ? 0 : a.pt_id;
	return rc;
}

static int detach(struct host *h, int i)
{
	struct uapi_vfio_detach_pt d = { .argsz = sizeof(d) };

	return do_ioctl(h, h->dfd[i], VFIO_DEVICE_DETACH_IOMMUFD_PT, &d);
}

static int destroy(struct host *h, uint32_t id)
{
	struct uapi_destroy d = { .size = sizeof(d), .id = id };

	return do_ioctl(h, h->ifd, IOMMU_DESTROY, &d);
}

static int dma(struct host *h, int i, uint64_t iova, uint64_t len)
{
	return iommudirty_sim_dma_write(h->sim, h->dev[i], iova, len, NULL);
}

static bool bit(const void *map, uint64_t i)
{
	return (((const uint8_t *)map)[i / 8] >> (i % 8)) & 1;
}

static uint64_t count_bits(const void *map, uint64_t nbits)
{
	uint64_t n = 0;

	for (uint64_t i = 0; i < nbits; i++)
		n += bit(map, i);
	return n;
}

/* Reserve (not back) len bytes of VA aligned to align. */
static void *reserve(uint64_t len, uint64_t align)
{
	uint8_t *p = mmap(NULL, len + align, PROT_NONE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);

	assert_true(p != MAP_FAILED);
	return (void *)(((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1));
}

/* A host with one dirty-capable IOMMU (4K|2M), one device on a dirty HWPT
 * over a fresh IOAS, tracking enabled. */
struct dirty_host {
	struct host h;
	uint32_t ioas, hwpt;
};

static void dirty_host_init(struct dirty_host *d, uint64_t pgsizes)
{
	host_init(&d->h);
	add_iommu(&d->h, 0, pgsizes, 0);
	add_dev(&d->h, 0);
	d->ioas = ioas_alloc(&d->h);
	assert_int_equal(hwpt_alloc(&d->h, d->h.dev_id[0], d->ioas,
				    UAPI_HWPT_ALLOC_DIRTY_TRACKING, &d->hwpt), 0);
	assert_int_equal(attach(&d->h, 0, d->hwpt, NULL), 0);
	assert_int_equal(set_dirty(&d->h, d->hwpt, true), 0);
}

/* ---- lifetime, opts, fds ---------------------------------------------- */

static void test_new_and_opts(void **state)
{
	struct iommudirty_sim *sim;
	struct { struct iommudirty_sim_opts o; uint64_t extra; } big;
	(void)state;

	IOMMUDIRTY_OPTS(iommudirty_sim_opts, bad, .flags = 1u << 4);
	errno = 0;
	assert_null(iommudirty_sim_new(&bad));
	assert_int_equal(errno, EINVAL);
	memset(&big, 0, sizeof(big));
	big.o.sz = sizeof(big);
	sim = iommudirty_sim_new(&big.o);
	assert_non_null(sim);
	iommudirty_sim_free(sim);
	big.extra = 1;
	errno = 0;
	assert_null(iommudirty_sim_new(&big.o));
	assert_int_equal(errno, EINVAL);
	iommudirty_sim_free(NULL);

	sim = iommudirty_sim_new(NULL);
	assert_non_null(sim);
	{
		IOMMUDIRTY_OPTS(iommudirty_sim_iommu_opts, o, .flags = 2);
		errno = 0;
		assert_int_equal(iommudirty_sim_add_iommu(sim, &o), -EINVAL);
		assert_int_equal(errno, EINVAL);
	}
	{
		IOMMUDIRTY_OPTS(iommudirty_sim_iommu_opts, o, .__reserved = 1);
		assert_int_equal(iommudirty_sim_add_iommu(sim, &o), -EINVAL);
	}
	{
		IOMMUDIRTY_OPTS(iommudirty_sim_iommu_opts, o, .aperture_start = 10,
				.aperture_last = 9);
		assert_int_equal(iommudirty_sim_add_iommu(sim, &o), -EINVAL);
	}
	{
		IOMMUDIRTY_OPTS(iommudirty_sim_iommu_opts, o, .hw_info_len = 4);
		assert_int_equal(iommudirty_sim_add_iommu(sim, &o), -EINVAL);
	}
	assert_int_equal(iommudirty_sim_add_iommu(NULL, NULL), -EINVAL);
	assert_int_equal(iommudirty_sim_add_iommu(sim, NULL), 0);
	assert_int_equal(iommudirty_sim_add_iommu(sim, NULL), 1);
	assert_int_equal(iommudirty_sim_add_device(sim, 2), -EINVAL);
	assert_int_equal(iommudirty_sim_add_device(sim, -1), -EINVAL);
	assert_int_equal(iommudirty_sim_add_device(sim, 1), 0);
	assert_int_equal(iommudirty_sim_add_device(sim, 0), 1);
	assert_int_equal(iommudirty_sim_open_device(sim, 2), -EINVAL);
	assert_int_equal(iommudirty_sim_close(sim, 12345), -EBADF);
	assert_int_equal(errno, EBADF);
	iommudirty_sim_free(sim);
}

static bool fd_is_open(int fd)
{
	return fcntl(fd, F_GETFD) >= 0;
}

static void test_sys_open_close(void **state)
{
	const struct iommudirty_sys_ops *ops = &iommudirty_sys_sim;
	struct iommudirty_sim *sim = iommudirty_sim_new(NULL);
	int ifd, dfd, fd2;
	(void)state;

	assert_int_equal(iommudirty_sim_add_iommu(sim, NULL), 0);
	assert_int_equal(iommudirty_sim_add_device(sim, 0), 0);
	assert_int_equal(iommudirty_sim_add_device(sim, 0), 1);

	errno = 1234;
	ifd = ops->open(sim, "/dev/iommu", O_RDWR);
	assert_true(ifd >= 0);
	assert_true(fd_is_open(ifd));
	assert_int_equal(fcntl(ifd, F_GETFD) & FD_CLOEXEC, FD_CLOEXEC);
	dfd = ops->open(sim, "/dev/vfio/devices/vfio0", O_RDWR);
	assert_true(dfd >= 0 && dfd != ifd);
	assert_int_equal(ops->open(sim, "/dev/vfio/devices/vfio0", O_RDWR), -EBUSY);
	assert_int_equal(ops->open(sim, "/dev/vfio/devices/vfio2", O_RDWR), -ENOENT);
	assert_int_equal(ops->open(sim, "/dev/vfio/devices/vfio01", O_RDWR), -ENOENT);
	assert_int_equal(ops->open(sim, "/dev/vfio/devices/vfio", O_RDWR), -ENOENT);
	assert_int_equal(ops->open(sim, "/dev/vfio/devices/vfio1x", O_RDWR), -ENOENT);
	assert_int_equal(ops->open(sim, "/dev/null", O_RDWR), -ENOENT);
	/* The seam never touches errno; the public calls set it. */
	assert_int_equal(errno, 1234);
	assert_int_equal(iommudirty_sim_open_device(sim, 0), -EBUSY);
	assert_int_equal(errno, EBUSY);
	errno = 1234;
	fd2 = ops->open(sim, "/dev/vfio/devices/vfio1", O_RDWR);
	assert_true(fd2 >= 0);

	struct iommudirty_sim_stats s = { .sz = sizeof(s) };
	assert_int_equal(iommudirty_sim_get_stats(sim, &s), 0);
	assert_int_equal(s.open_fds, 3);
	assert_int_equal(s.calls, 9);
	assert_int_equal(s.ioctls, 0);

	assert_int_equal(ops->close(sim, dfd), 0);
	assert_false(fd_is_open(dfd));
	errno = 1234;
	assert_int_equal(ops->close(sim, dfd), -EBADF);
	assert_int_equal(errno, 1234);
	/* Closed: can be opened again. */
	dfd = iommudirty_sim_open_device(sim, 0);
	assert_true(dfd >= 0);

	/* An older, smaller stats struct gets only what it knows. */
	struct { size_t sz; uint64_t calls; uint64_t ioctls; uint64_t poison; } old;
	old.sz = offsetof(struct iommudirty_sim_stats, dirty_reads);
	old.poison = 0x5a5a;
	assert_int_equal(iommudirty_sim_get_stats(sim, (void *)&old), 0);
	assert_int_equal(old.calls, 9);
	assert_int_equal(old.poison, 0x5a5a);
	assert_int_equal(iommudirty_sim_get_stats(sim, NULL), -EINVAL);

	/* sim_free closes what is left. */
	iommudirty_sim_free(sim);
	assert_false(fd_is_open(ifd));
	assert_false(fd_is_open(dfd));
	assert_false(fd_is_open(fd2));
}

/* ---- generic ioctl rules ---------------------------------------------- */

static void test_size_rules(void **state)
{
	struct host h;
	uint8_t buf[128];
	struct uapi_ioas_alloc *a = (void *)buf;
	(void)state;

	host_init(&h);
	add_iommu(&h, 0, 0, 0);
	add_dev(&h, 0);

	/* Below the size at introduction: EINVAL, per ioctl. */
	static const struct { unsigned long req; uint32_t min; } mins[] = {
		{ IOMMU_DESTROY, 8 }, { IOMMU_IOAS_ALLOC, 12 },
		{ IOMMU_IOAS_IOVA_RANGES, 32 }, { IOMMU_IOAS_MAP, 40 },
		{ IOMMU_IOAS_UNMAP, 24 }, { IOMMU_HWPT_ALLOC, 24 },
		{ IOMMU_GET_HW_INFO, 32 }, { IOMMU_HWPT_SET_DIRTY_TRACKING, 16 },
		{ IOMMU_HWPT_GET_DIRTY_BITMAP, 48 },
	};
	for (size_t i = 0; i < ARRAY_SIZE(mins); i++) {
		memset(buf, 0, sizeof(buf));
		*(uint32_t *)buf = mins[i].min - 1;
		assert_int_equal(do_ioctl(&h, h.ifd, mins[i].req, buf), -EINVAL);
		assert_int_equal(errno, EINVAL);
		/* and E2BIG for a non-zero byte past our struct */
		memset(buf, 0, sizeof(buf));
		*(uint32_t *)buf = sizeof(buf);
		buf[sizeof(buf) - 1] = 1;
		assert_int_equal(do_ioctl(&h, h.ifd, mins[i].req, buf), -E2BIG);
	}

	/* Larger struct, zero tail: fine, and the tail stays untouched. */
	memset(buf, 0, sizeof(buf));
	a->size = sizeof(buf);
	assert_int_equal(do_ioctl(&h, h.ifd, IOMMU_IOAS_ALLOC, a), 0);
	assert_int_equal(a->out_ioas_id, 2); /* 1 is the device object */
	for (size_t i = sizeof(*a); i < sizeof(buf); i++)
		assert_int_equal(buf[i], 0);
	a->flags = 1;
	assert_int_equal(do_ioctl(&h, h.ifd, IOMMU_IOAS_ALLOC, a), -EOPNOTSUPP);

	/* Unknown ioctls, and ioctls on the wrong kind of fd. */
	assert_int_equal(do_ioctl(&h, h.ifd, UAPI_IO(0x3b, 0x9f), buf), -ENOTTY);
	assert_int_equal(do_ioctl(&h, h.ifd, UAPI_IO(';', 0x99), buf), -ENOTTY);
	a->size = sizeof(*a);
	a->flags = 0;
	assert_int_equal(do_ioctl(&h, h.dfd[0], IOMMU_IOAS_ALLOC, a), -ENOTTY);
	assert_int_equal(errno, ENOTTY);
	struct uapi_vfio_detach_pt dt = { .argsz = sizeof(dt) };
	assert_int_equal(do_ioctl(&h, h.ifd, VFIO_DEVICE_DETACH_IOMMUFD_PT, &dt),
			 -ENOTTY);
	assert_int_equal(do_ioctl(&h, 99999, IOMMU_IOAS_ALLOC, a), -EBADF);

	/* VFIO: argsz below minimum or flags set: EINVAL. */
	struct uapi_vfio_attach_pt at = { .argsz = 11, .pt_id = 2 };
	assert_int_equal(do_ioctl(&h, h.dfd[0], VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at),
			 -EINVAL);
	at.argsz = 12;
	at.flags = 1;
	assert_int_equal(do_ioctl(&h, h.dfd[0], VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at),
			 -EINVAL);
	dt.argsz = 7;
	assert_int_equal(do_ioctl(&h, h.dfd[0], VFIO_DEVICE_DETACH_IOMMUFD_PT, &dt),
			 -EINVAL);
	struct uapi_vfio_bind_iommufd b = { .argsz = 15, .iommufd = h.ifd };
	assert_int_equal(do_ioctl(&h, h.dfd[0], VFIO_DEVICE_BIND_IOMMUFD, &b), -EINVAL);
	host_fini(&h);
}

static void test_ids_and_destroy(void **state)
{
	struct host h;
	uint32_t ioas, ioas2, hwpt;
	(void)state;

	host_init(&h);
	add_iommu(&h, 0, 0, 0);
	ioas = ioas_alloc(&h);
	assert_int_equal(ioas, 1);
	add_dev(&h, 0);
	assert_int_equal(h.dev_id[0], 2);
	ioas2 = ioas_alloc(&h);
	assert_int_equal(ioas2, 3);
	assert_int_equal(stats(&h).objects, 3);

	assert_int_equal(destroy(&h, 0), -ENOENT);
	assert_int_equal(destroy(&h, 77), -ENOENT);
	/* Device objects go with the cdev, not with DESTROY. */
	assert_int_equal(destroy(&h, h.dev_id[0]), -EBUSY);

	assert_int_equal(hwpt_alloc(&h, h.dev_id[0], ioas, 0, &hwpt), 0);
	assert_int_equal(hwpt, 4);
	assert_int_equal(destroy(&h, ioas), -EBUSY);
	assert_int_equal(attach(&h, 0, hwpt, NULL), 0);
	assert_int_equal(destroy(&h, hwpt), -EBUSY);
	assert_int_equal(detach(&h, 0), 0);
	/* Detached already: 0 as 6.12 answers, and nothing changes (the
	 * HWPT has no user: it can go). */
	assert_int_equal(detach(&h, 0), 0);
	assert_int_equal(destroy(&h, hwpt), 0);
	assert_int_equal(destroy(&h, hwpt), -ENOENT);
	assert_int_equal(destroy(&h, ioas), 0);
	assert_int_equal(destroy(&h, ioas2), 0);
	assert_int_equal(stats(&h).objects, 1);
	host_fini(&h);
}

/* ---- IOAS --------------------------------------------------------------- */

static void test_map_rules(void **state)
{
	struct host h;
	uint32_t ioas, hwpt;
	uint64_t iova;
	char *va = reserve(SZ_1G, SZ_2M);
	(void)state;

	host_init(&h);
	add_iommu(&h, 0, SZ_4K | SZ_2M, 0);
	add_dev(&h, 0);
	ioas = ioas_alloc(&h);

	iova = 0x100000;
	assert_int_equal(map_flags(&h, ioas, va, SZ_4K, &iova, RW | 8), -EOPNOTSUPP);
	assert_int_equal(map_flags(&h, ioas, va, SZ_4K, &iova,
				   UAPI_IOAS_MAP_FIXED_IOVA), -EINVAL);
	assert_int_equal(map_flags(&h, 999, va, SZ_4K, &iova, RW), -ENOENT);
	assert_int_equal(map(&h, ioas, va, 0, 0x100000), -EINVAL);
	assert_int_equal(map(&h, ioas, va, SZ_4K, UINT64_MAX - 0xfff + 0x800),
			 -EOVERFLOW);
	/* Alignment is 1 until a HWPT sits on the IOAS. */
	assert_int_equal(map(&h, ioas, va, 3, 0x100001), 0);
	assert_int_equal(unmap(&h, ioas, 0x100001, 3, NULL), 0);

	assert_int_equal(hwpt_alloc(&h, h.dev_id[0], ioas, 0, &hwpt), 0);
	assert_int_equal(map(&h, ioas, va, SZ_4K, 0x100800), -EINVAL);
	assert_int_equal(map(&h, ioas, va, 0x800, 0x100000), -EINVAL);
	assert_int_equal(map(&h, ioas, va, SZ_2M, 0x200000), 0);
	assert_int_equal(map(&h, ioas, va, SZ_4K, 0x3ff000), -EEXIST);
	assert_int_equal(map(&h, ioas, va, 0x201000, 0x000000), -EEXIST);
	assert_int_equal(map(&h, ioas, va, SZ_4K, 0x400000), 0);

	/* Without FIXED_IOVA the sim picks an aligned, free IOVA. */
	iova = 0;
	assert_int_equal(map_flags(&h, ioas, va, SZ_2M, &iova,
				   UAPI_IOAS_MAP_READABLE), 0);
	assert_int_equal(iova % SZ_2M, 0);
	assert_true(iova + SZ_2M <= 0x200000 || iova > 0x400fff);
	uint64_t iova2 = 0;
	assert_int_equal(map_flags(&h, ioas, va + SZ_4K, SZ_4K, &iova2,
				   UAPI_IOAS_MAP_READABLE), 0);
	assert_int_equal(iova2 % SZ_4K, 0);
	assert_true(iova2 + SZ_4K <= iova || iova2 >= iova + SZ_2M);
	assert_true(iova2 + SZ_4K <= 0x200000 || iova2 > 0x400fff);
	assert_int_equal(map(&h, ioas, va, SZ_4K, iova2), -EEXIST);
	/* Bound, never attached: DETACH is a no-op answering 0 (6.12). */
	assert_int_equal(detach(&h, 0), 0);
	host_fini(&h);
}

static void test_map_aperture(void **state)
{
	struct host h;
	uint32_t ioas, hwpt;
	uint64_t iova = 0;
	char *va = reserve(SZ_1G, SZ_2M);
	(void)state;

	host_init(&h);
	{
		IOMMUDIRTY_OPTS(iommudirty_sim_iommu_opts, o,
				.pgsize_bitmap = SZ_2K | SZ_1M,
				.aperture_start = 1ull << 24,
				.aperture_last = (1ull << 31) - 1);
		h.iommu[0] = iommudirty_sim_add_iommu(h.sim, &o);
	}
	add_dev(&h, 0);
	ioas = ioas_alloc(&h);
	/* An existing area outside the new aperture refuses the HWPT. */
	assert_int_equal(map(&h, ioas, va, SZ_1M, 0), 0);
	assert_int_equal(hwpt_alloc(&h, h.dev_id[0], ioas, 0, &hwpt), -EADDRINUSE);
	assert_int_equal(unmap(&h, ioas, 0, SZ_1M, NULL), 0);
	assert_int_equal(hwpt_alloc(&h, h.dev_id[0], ioas, 0, &hwpt), 0);
	assert_int_equal(map(&h, ioas, va, SZ_1M, 0), -EINVAL);
	assert_int_equal(map(&h, ioas, va, SZ_2K, 1ull << 31), -EINVAL);
	assert_int_equal(map_flags(&h, ioas, va, SZ_1M, &iova, RW), 0);
	assert_true(iova >= 1ull << 24 && iova + SZ_1M - 1 <= (1ull << 31) - 1);
	/* Too big for the aperture: no space. */
	iova = 0;
	assert_int_equal(map_flags(&h, ioas, va, 1ull << 31, &iova, RW), -ENOSPC);
	host_fini(&h);
}

static void test_unmap_rules(void **state)
{
	struct host h;
	uint32_t ioas;
	uint64_t n;
	char *va = reserve(SZ_1G, SZ_2M);
	(void)state;

	host_init(&h);
	ioas = ioas_alloc(&h);
	assert_int_equal(unmap(&h, ioas, 0, UINT64_MAX, &n), 0);
	assert_int_equal(n, 0);
	assert_int_equal(map(&h, ioas, va, 0x2000, 0x10000), 0);
	assert_int_equal(map(&h, ioas, va, 0x1000, 0x12000), 0);
	assert_int_equal(map(&h, ioas, va, 0x3000, 0x20000), 0);

	assert_int_equal(unmap(&h, 77, 0x10000, 0x1000, NULL), -ENOENT);
	assert_int_equal(unmap(&h, ioas, 0x10000, 0, NULL), -EINVAL);
	assert_int_equal(unmap(&h, ioas, 0x10000, UINT64_MAX, NULL), -EOVERFLOW);
	/* Cutting an area: ENOENT and nothing removed, not even the whole
	 * areas the range also holds. */
	assert_int_equal(unmap(&h, ioas, 0x10000, 0x11000, NULL), -ENOENT);
	assert_int_equal(unmap(&h, ioas, 0x11000, 0x2000, NULL), -ENOENT);
	assert_int_equal(unmap(&h, ioas, 0x13000, 0x1000, NULL), -ENOENT);
	assert_int_equal(map(&h, ioas, va, 0x1000, 0x10000), -EEXIST);
	assert_int_equal(map(&h, ioas, va, 0x1000, 0x12000), -EEXIST);
	/* Holes inside the range are fine. */
	assert_int_equal(unmap(&h, ioas, 0x8000, 0x10000, &n), 0);
	assert_int_equal(n, 0x3000);
	assert_int_equal(map(&h, ioas, va, 0x1000, 0x10000), 0);
	assert_int_equal(unmap(&h, ioas, 0, UINT64_MAX, &n), 0);
	assert_int_equal(n, 0x4000);
	assert_int_equal(unmap(&h, ioas, 0x20000, 0x3000, NULL), -ENOENT);
	host_fini(&h);
}

static void test_iova_ranges(void **state)
{
	struct host h;
	struct uapi_iova_range r[2];
	struct uapi_ioas_iova_ranges q = { .size = sizeof(q) };
	uint32_t ioas, hwpt, hwpt2;
	(void)state;

	host_init(&h);
	{
		IOMMUDIRTY_OPTS(iommudirty_sim_iommu_opts, o,
				.pgsize_bitmap = SZ_2K | SZ_1M,
				.aperture_start = 1ull << 24,
				.aperture_last = (1ull << 31) - 1);
		h.iommu[0] = iommudirty_sim_add_iommu(h.sim, &o);
	}
	{
		IOMMUDIRTY_OPTS(iommudirty_sim_iommu_opts, o,
				.pgsize_bitmap = SZ_4K | SZ_2M,
				.aperture_start = 0,
				.aperture_last = (1ull << 30) - 1);
		h.iommu[1] = iommudirty_sim_add_iommu(h.sim, &o);
	}
	add_dev(&h, 0);
	add_dev(&h, 1);
	ioas = ioas_alloc(&h);

	q.ioas_id = ioas;
	q.num_iovas = 2;
	q.allowed_iovas = (uintptr_t)r;
	assert_int_equal(do_ioctl(&h, h.ifd, IOMMU_IOAS_IOVA_RANGES, &q), 0);
	assert_int_equal(q.num_iovas, 1);
	assert_int_equal(r[0].start, 0);
	assert_int_equal(r[0].last, UINT64_MAX);
	assert_int_equal(q.out_iova_alignment, 1);

	assert_int_equal(hwpt_alloc(&h, h.dev_id[0], ioas, 0, &hwpt), 0);
	assert_int_equal(do_ioctl(&h, h.ifd, IOMMU_IOAS_IOVA_RANGES, &q), 0);
	assert_int_equal(r[0].start, 1ull << 24);
	assert_int_equal(r[0].last, (1ull << 31) - 1);
	assert_int_equal(q.out_iova_alignment, SZ_2K);

	assert_int_equal(hwpt_alloc(&h, h.dev_id[1], ioas, 0, &hwpt2), 0);
	memset(r, 0xee, sizeof(r));
	q.num_iovas = 0;
	assert_int_equal(do_ioctl(&h, h.ifd, IOMMU_IOAS_IOVA_RANGES, &q), -EMSGSIZE);
	assert_int_equal(q.num_iovas, 1);
	assert_int_equal(r[0].start, 0xeeeeeeeeeeeeeeeeull); /* not copied */
	assert_int_equal(do_ioctl(&h, h.ifd, IOMMU_IOAS_IOVA_RANGES, &q), 0);
	assert_int_equal(r[0].start, 1ull << 24);
	assert_int_equal(r[0].last, (1ull << 30) - 1);
	assert_int_equal(q.out_iova_alignment, SZ_4K);

	assert_int_equal(destroy(&h, hwpt), 0);
	assert_int_equal(do_ioctl(&h, h.ifd, IOMMU_IOAS_IOVA_RANGES, &q), 0);
	assert_int_equal(r[0].start, 0);
	assert_int_equal(q.out_iova_alignment, SZ_4K);
	q.ioas_id = hwpt2;
	assert_int_equal(do_ioctl(&h, h.ifd, IOMMU_IOAS_IOVA_RANGES, &q), -ENOENT);
	host_fini(&h);
}

/* ---- HWPT_ALLOC, GET_HW_INFO ------------------------------------------ */

static void test_hwpt_alloc_rules(void **state)
{
	struct host h;
	uint32_t ioas, hwpt;
	char *va = reserve(SZ_1G, SZ_2M);
	(void)state;

	host_init(&h);
	add_iommu(&h, 0, SZ_4K, 0);
	add_iommu(&h, 1, SZ_4K, IOMMUDIRTY_SIM_IOMMU_NO_DIRTY);
	add_iommu(&h, 2, SZ_2M, 0);
	add_dev(&h, 0);
	add_dev(&h, 1);
	add_dev(&h, 2);
	ioas = ioas_alloc(&h);

	assert_int_equal(hwpt_alloc(&h, h.dev_id[0], ioas, 1u << 2, NULL), -EOPNOTSUPP);
	assert_int_equal(hwpt_alloc(&h, h.dev_id[0], ioas, 1u << 5, NULL), -EOPNOTSUPP);
	assert_int_equal(hwpt_alloc(&h, 99, ioas, 0, NULL), -ENOENT);
	assert_int_equal(hwpt_alloc(&h, ioas, ioas, 0, NULL), -ENOENT);
	assert_int_equal(hwpt_alloc(&h, h.dev_id[0], 99, 0, NULL), -ENOENT);
	assert_int_equal(hwpt_alloc(&h, h.dev_id[0], h.dev_id[1], 0, NULL), -ENOENT);
	assert_int_equal(hwpt_alloc(&h, h.dev_id[1], ioas,
				    UAPI_HWPT_ALLOC_DIRTY_TRACKING, NULL), -EOPNOTSUPP);
	assert_int_equal(hwpt_alloc(&h, h.dev_id[1], ioas, 0, NULL), 0);

	struct uapi_hwpt_alloc a = { .size = sizeof(a), .dev_id = h.dev_id[0],
				     .pt_id = ioas, .data_type = 1 };
	assert_int_equal(do_ioctl(&h, h.ifd, IOMMU_HWPT_ALLOC, &a), -EOPNOTSUPP);
	/* The 6.6 layout (24 bytes) still works. */
	a.data_type = 0;
	a.size = 24;
	a.flags = UAPI_HWPT_ALLOC_DIRTY_TRACKING | UAPI_HWPT_ALLOC_NEST_PARENT;
	assert_int_equal(do_ioctl(&h, h.ifd, IOMMU_HWPT_ALLOC, &a), 0);
	assert_true(a.out_hwpt_id > 0);
	/* A HWPT id is not a page-table parent here. */
	assert_int_equal(hwpt_alloc(&h, h.dev_id[0], a.out_hwpt_id, 0, NULL), -ENOENT);

	/* An area at 4K granularity cannot live in a 2M-only page table. */
	assert_int_equal(map(&h, ioas, va, SZ_4K, SZ_2M), 0);
	assert_int_equal(hwpt_alloc(&h, h.dev_id[2], ioas, 0, &hwpt), -EINVAL);
	host_fini(&h);
}

static void test_get_hw_info(void **state)
{
	struct host h;
	const uint8_t vendor[12] = { 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12 };
	uint8_t data[32];
	struct uapi_hw_info q;
	(void)state;

	host_init(&h);
	{
		IOMMUDIRTY_OPTS(iommudirty_sim_iommu_opts, o,
				.hw_info_type = IOMMUDIRTY_HW_INFO_INTEL_VTD,
				.hw_info_data = vendor, .hw_info_len = sizeof(vendor));
		h.iommu[0] = iommudirty_sim_add_iommu(h.sim, &o);
	}
	add_iommu(&h, 1, 0, IOMMUDIRTY_SIM_IOMMU_NO_DIRTY);
	add_dev(&h, 0);
	add_dev(&h, 1);

	/* A larger buffer: vendor bytes, then zeros up to data_len. */
	memset(data, 0xcc, sizeof(data));
	q = (struct uapi_hw_info){ .size = sizeof(q), .dev_id = h.dev_id[0],
				   .data_len = 20, .data_uptr = (uintptr_t)data };
	assert_int_equal(do_ioctl(&h, h.ifd, IOMMU_GET_HW_INFO, &q), 0);
	assert_memory_equal(data, vendor, 12);
	for (int i = 12; i < 20; i++)
		assert_int_equal(data[i], 0);
	assert_int_equal(data[20], 0xcc);
	assert_int_equal(q.data_len, 12);
	assert_int_equal(q.out_data_type, IOMMUDIRTY_HW_INFO_INTEL_VTD);
	assert_int_equal(q.out_capabilities, UAPI_HW_CAP_DIRTY_TRACKING);

	/* A smaller one: truncated, data_len still says the vendor length. */
	memset(data, 0xcc, sizeof(data));
	q.data_len = 5;
	assert_int_equal(do_ioctl(&h, h.ifd, IOMMU_GET_HW_INFO, &q), 0);
	assert_memory_equal(data, vendor, 5);
	assert_int_equal(data[5], 0xcc);
	assert_int_equal(q.data_len, 12);

	/* The 6.6 size: out_capabilities is not written. */
	q = (struct uapi_hw_info){ .size = 32, .dev_id = h.dev_id[1],
				   .out_capabilities = 0x77 };
	assert_int_equal(do_ioctl(&h, h.ifd, IOMMU_GET_HW_INFO, &q), 0);
	assert_int_equal(q.out_data_type, IOMMUDIRTY_HW_INFO_SELFTEST);
	assert_int_equal(q.data_len, 8); /* the mock's {flags, test_reg} */
	assert_int_equal(q.out_capabilities, 0x77);
	q.size = sizeof(q);
	q.data_len = 0; /* out: the kernel's length; no buffer given */
	assert_int_equal(do_ioctl(&h, h.ifd, IOMMU_GET_HW_INFO, &q), 0);
	assert_int_equal(q.out_capabilities, 0);

	q.flags = 1;
	assert_int_equal(do_ioctl(&h, h.ifd, IOMMU_GET_HW_INFO, &q), -EOPNOTSUPP);
	q.flags = 0;
	q.dev_id = 99;
	assert_int_equal(do_ioctl(&h, h.ifd, IOMMU_GET_HW_INFO, &q), -ENOENT);
	host_fini(&h);
}

/* ---- dirty ioctls: argument rules ------------------------------------- */

static void test_set_dirty_rules(void **state)
{
	struct dirty_host d;
	struct host *h = &d.h;
	uint32_t plain;
	(void)state;

	dirty_host_init(&d, SZ_4K);
	struct uapi_hwpt_set_dirty_tracking s = { .size = sizeof(s),
						  .hwpt_id = d.hwpt, .flags = 2 };
	assert_int_equal(do_ioctl(h, h->ifd, IOMMU_HWPT_SET_DIRTY_TRACKING, &s),
			 -EOPNOTSUPP);
	s.flags = 1;
	s.__reserved = 1;
	assert_int_equal(do_ioctl(h, h->ifd, IOMMU_HWPT_SET_DIRTY_TRACKING, &s),
			 -EOPNOTSUPP);
	assert_int_equal(set_dirty(h, d.ioas, true), -ENOENT);
	assert_int_equal(set_dirty(h, 99, true), -ENOENT);
	assert_int_equal(hwpt_alloc(h, h->dev_id[0], d.ioas, 0, &plain), 0);
	assert_int_equal(set_dirty(h, plain, true), -EOPNOTSUPP);
	assert_int_equal(set_dirty(h, plain, false), -EOPNOTSUPP);
	assert_int_equal(set_dirty(h, d.hwpt, false), 0);
	assert_int_equal(set_dirty(h, d.hwpt, false), 0);
	host_fini(h);
}

static void test_get_dirty_rules(void **state)
{
	struct dirty_host d;
	struct host *h = &d.h;
	uint8_t buf[64];
	uint32_t plain;
	char *va = reserve(SZ_1G, SZ_2M);
	(void)state;

	dirty_host_init(&d, SZ_4K);
	assert_int_equal(map(h, d.ioas, va, SZ_1M, 0), 0);
	assert_int_equal(get_dirty(h, d.hwpt, 0, SZ_1M, SZ_4K, 2, buf), -EOPNOTSUPP);
	struct uapi_hwpt_get_dirty_bitmap g = {
		.size = sizeof(g), .hwpt_id = d.hwpt, .__reserved = 1,
		.length = SZ_1M, .page_size = SZ_4K, .data = (uintptr_t)buf };
	assert_int_equal(do_ioctl(h, h->ifd, IOMMU_HWPT_GET_DIRTY_BITMAP, &g),
			 -EOPNOTSUPP);
	assert_int_equal(get_dirty(h, d.ioas, 0, SZ_1M, SZ_4K, 0, buf), -ENOENT);
	assert_int_equal(hwpt_alloc(h, h->dev_id[0], d.ioas, 0, &plain), 0);
	assert_int_equal(get_dirty(h, plain, 0, SZ_1M, SZ_4K, 0, buf), -EOPNOTSUPP);
	assert_int_equal(get_dirty(h, d.hwpt, 0, 0, SZ_4K, 0, buf), -EINVAL);
	assert_int_equal(get_dirty(h, d.hwpt, SZ_4K, UINT64_MAX, SZ_4K, 0, buf),
			 -EOVERFLOW);
	assert_int_equal(get_dirty(h, d.hwpt, 0, SZ_1M, 0, 0, buf), -EINVAL);
	/* IOAS alignment (4K) and page_size alignment. */
	assert_int_equal(get_dirty(h, d.hwpt, 0x800, SZ_4K, 0x800, 0, buf), -EINVAL);
	assert_int_equal(get_dirty(h, d.hwpt, 0, 0x1800, 0x800, 0, buf), -EINVAL);
	assert_int_equal(get_dirty(h, d.hwpt, SZ_4K, SZ_1M - SZ_4K, 0x2000, 0, buf),
			 -EINVAL);
	assert_int_equal(get_dirty(h, d.hwpt, 0, 0x3000, 0x2000, 0, buf), -EINVAL);
	/* A page size below the IO page is fine: bits are replicated. */
	memset(buf, 0, sizeof(buf));
	assert_int_equal(dma(h, 0, 0x1000, 1), 0);
	assert_int_equal(get_dirty(h, d.hwpt, 0, 0x4000, 0x800, 0, buf), 0);
	assert_int_equal(buf[0], 0x0c);
	assert_int_equal(stats(h).dirty_reads, 12);
	host_fini(h);
}

/* ---- dirty tracking and the kernel's traps ---------------------------- */

static void test_dirty_basic(void **state)
{
	struct dirty_host d;
	struct host *h = &d.h;
	uint64_t bm[4];
	char *va = reserve(SZ_1G, SZ_2M);
	(void)state;

	dirty_host_init(&d, SZ_4K);
	assert_int_equal(map(h, d.ioas, va, 64 * SZ_4K, SZ_1M), 0);
	assert_int_equal(dma(h, 0, SZ_1M + 3 * SZ_4K + 5, 2 * SZ_4K), 0);
	assert_int_equal(dma(h, 0, SZ_1M + 63 * SZ_4K, 1), 0);

	memset(bm, 0, sizeof(bm));
	assert_int_equal(get_dirty(h, d.hwpt, SZ_1M, 64 * SZ_4K, SZ_4K,
				   UAPI_HWPT_GET_DIRTY_BITMAP_NO_CLEAR, bm), 0);
	assert_int_equal(bm[0], (7ull << 3) | (1ull << 63));
	/* NO_CLEAR: the same bits again. */
	memset(bm, 0, sizeof(bm));
	assert_int_equal(get_dirty(h, d.hwpt, SZ_1M, 64 * SZ_4K, SZ_4K, 0, bm), 0);
	assert_int_equal(bm[0], (7ull << 3) | (1ull << 63));
	/* Cleared now. */
	memset(bm, 0, sizeof(bm));
	assert_int_equal(get_dirty(h, d.hwpt, SZ_1M, 64 * SZ_4K, SZ_4K, 0, bm), 0);
	assert_int_equal(bm[0], 0);
	/* Coarser page size ORs IO pages; a sub-range reads bits from 0. */
	assert_int_equal(dma(h, 0, SZ_1M + 9 * SZ_4K, 1), 0);
	assert_int_equal(get_dirty(h, d.hwpt, SZ_1M + 8 * SZ_4K, 8 * SZ_4K,
				   2 * SZ_4K, 0, bm), 0);
	assert_int_equal(bm[0], 1);

	/* Disabled: the read succeeds and reports nothing. */
	assert_int_equal(dma(h, 0, SZ_1M, 1), 0);
	assert_int_equal(set_dirty(h, d.hwpt, false), 0);
	assert_int_equal(dma(h, 0, SZ_1M + SZ_4K, 1), 0);
	bm[0] = 0;
	assert_int_equal(get_dirty(h, d.hwpt, SZ_1M, 64 * SZ_4K, SZ_4K, 0, bm), 0);
	assert_int_equal(bm[0], 0);
	/* Re-enable: a clean slate (whatever disable kept is wiped). */
	assert_int_equal(set_dirty(h, d.hwpt, true), 0);
	assert_int_equal(get_dirty(h, d.hwpt, SZ_1M, 64 * SZ_4K, SZ_4K, 0, bm), 0);
	assert_int_equal(bm[0], 0);

	/* Unmap drops the area's dirty state; a new area starts clean. */
	assert_int_equal(dma(h, 0, SZ_1M, 1), 0);
	assert_int_equal(unmap(h, d.ioas, SZ_1M, 64 * SZ_4K, NULL), 0);
	assert_int_equal(map(h, d.ioas, va, 64 * SZ_4K, SZ_1M), 0);
	assert_int_equal(get_dirty(h, d.hwpt, SZ_1M, 64 * SZ_4K, SZ_4K, 0, bm), 0);
	assert_int_equal(bm[0], 0);
	host_fini(h);
}

/* Trap: a read across a hole returns 0 with only the bits before it. */
static void test_trap_hole(void **state)
{
	struct dirty_host d;
	struct host *h = &d.h;
	uint8_t bm[8];
	char *va = reserve(SZ_1G, SZ_2M);
	(void)state;

	dirty_host_init(&d, SZ_4K);
	/* [0x10000,+4p) [0x14000,+4p) hole [0x1c000,+4p) */
	assert_int_equal(map(h, d.ioas, va, 4 * SZ_4K, 0x10000), 0);
	assert_int_equal(map(h, d.ioas, va, 4 * SZ_4K, 0x14000), 0);
	assert_int_equal(map(h, d.ioas, va, 4 * SZ_4K, 0x1c000), 0);
	assert_int_equal(dma(h, 0, 0x10000, 0x8000), 0);
	assert_int_equal(dma(h, 0, 0x1c000, 0x4000), 0);

	memset(bm, 0, sizeof(bm));
	assert_int_equal(get_dirty(h, d.hwpt, 0x10000, 0x10000, SZ_4K, 0, bm), 0);
	assert_int_equal(bm[0], 0xff); /* both adjacent areas */
	assert_int_equal(bm[1], 0x00); /* the hole stopped the walk */
	/* ... and the area past the hole kept its bits. */
	memset(bm, 0, sizeof(bm));
	assert_int_equal(get_dirty(h, d.hwpt, 0x1c000, 0x4000, SZ_4K, 0, bm), 0);
	assert_int_equal(bm[0], 0x0f);

	/* A read starting in a hole reads nothing at all. */
	assert_int_equal(dma(h, 0, 0x10000, 0x10), 0);
	memset(bm, 0, sizeof(bm));
	assert_int_equal(get_dirty(h, d.hwpt, 0xc000, 0x8000, SZ_4K, 0, bm), 0);
	assert_int_equal(bm[0], 0);
	assert_int_equal(get_dirty(h, d.hwpt, 0x10000, 0x1000, SZ_4K, 0, bm), 0);
	assert_int_equal(bm[0], 1);
	host_fini(h);
}

/* Trap: a second ENABLE wipes the bits gathered so far. */
static void test_trap_second_enable(void **state)
{
	struct dirty_host d;
	struct host *h = &d.h;
	uint8_t bm[8] = { 0 };
	char *va = reserve(SZ_1G, SZ_2M);
	(void)state;

	dirty_host_init(&d, SZ_4K);
	assert_int_equal(map(h, d.ioas, va, 8 * SZ_4K, 0), 0);
	assert_int_equal(dma(h, 0, 0, 8 * SZ_4K), 0);
	assert_int_equal(get_dirty(h, d.hwpt, 0, 8 * SZ_4K, SZ_4K,
				   UAPI_HWPT_GET_DIRTY_BITMAP_NO_CLEAR, bm), 0);
	assert_int_equal(bm[0], 0xff);
	/* Already enabled, enabled again: everything gathered is gone. */
	assert_int_equal(set_dirty(h, d.hwpt, true), 0);
	bm[0] = 0;
	assert_int_equal(get_dirty(h, d.hwpt, 0, 8 * SZ_4K, SZ_4K, 0, bm), 0);
	assert_int_equal(bm[0], 0);
	/* Tracking still works after it. */
	assert_int_equal(dma(h, 0, 5 * SZ_4K, 1), 0);
	assert_int_equal(get_dirty(h, d.hwpt, 0, 8 * SZ_4K, SZ_4K, 0, bm), 0);
	assert_int_equal(bm[0], 0x20);
	host_fini(h);
}

/* Trap: the kernel only sets bits; whatever was in the buffer stays. */
static void test_trap_only_sets(void **state)
{
	struct dirty_host d;
	struct host *h = &d.h;
	uint8_t bm[8];
	char *va = reserve(SZ_1G, SZ_1G);
	(void)state;

	dirty_host_init(&d, SZ_4K | SZ_2M);
	assert_int_equal(map(h, d.ioas, va, 16 * SZ_4K, 0), 0);
	assert_int_equal(dma(h, 0, 0, 1), 0);
	assert_int_equal(dma(h, 0, 9 * SZ_4K, 1), 0);
	memset(bm, 0xa4, sizeof(bm));
	assert_int_equal(get_dirty(h, d.hwpt, 0, 16 * SZ_4K, SZ_4K, 0, bm), 0);
	assert_int_equal(bm[0], 0xa5);
	assert_int_equal(bm[1], 0xa6);
	assert_int_equal(bm[2], 0xa4); /* past the range: untouched */
	assert_int_equal(bm[3], 0xa4);

	/* A run of bits over several bytes (a 2 MiB IOPTE read at 64 KiB
	 * from 256 KiB before it): bits 4..35, OR-ed into the pattern. */
	assert_int_equal(map(h, d.ioas, va, 2 * SZ_2M, 0x40000000), 0);
	assert_int_equal(dma(h, 0, 0x40000000 + SZ_2M + 77, 1), 0);
	memset(bm, 0xa4, sizeof(bm));
	assert_int_equal(get_dirty(h, d.hwpt, 0x40000000 + SZ_2M - 0x40000,
				   SZ_2M + 0x40000, 0x10000, 0, bm), 0);
	assert_int_equal(bm[0], 0xf4);
	assert_int_equal(bm[1], 0xff);
	assert_int_equal(bm[2], 0xff);
	assert_int_equal(bm[3], 0xff);
	assert_int_equal(bm[4], 0xaf);
	assert_int_equal(bm[5], 0xa4);
	host_fini(h);
}

/* Trap: page_size is not checked to be a power of two. */
static void test_trap_non_pow2(void **state)
{
	struct dirty_host d;
	struct host *h = &d.h;
	uint8_t bm[8] = { 0 };
	char *va = reserve(SZ_1G, SZ_2M);
	(void)state;

	dirty_host_init(&d, SZ_4K);
	assert_int_equal(map(h, d.ioas, va, 32 * SZ_4K, 0), 0);
	assert_int_equal(dma(h, 0, 2 * SZ_4K, 1), 0);
	/* 12 KiB: mask 0x2fff rejects a 12 KiB length ... */
	assert_int_equal(get_dirty(h, d.hwpt, 0, 0x3000, 0x3000, 0, bm), -EINVAL);
	/* ... accepts 16 KiB, and reports at 4 KiB granularity (ctz = 12). */
	assert_int_equal(get_dirty(h, d.hwpt, 0, 0x4000, 0x3000, 0, bm), 0);
	assert_int_equal(bm[0], 0x04);
	/* 24 KiB: shift 13 (8 KiB per bit). */
	memset(bm, 0, sizeof(bm));
	assert_int_equal(dma(h, 0, 5 * SZ_4K, 1), 0);
	assert_int_equal(get_dirty(h, d.hwpt, 0, 0x10000, 0x6000, 0, bm), 0);
	assert_int_equal(bm[0], 0x04);
	host_fini(h);
}

/* Huge IOPTEs: replication, and a partial clearing read loses the rest. */
static void test_trap_huge(void **state)
{
	struct dirty_host d;
	struct host *h = &d.h;
	uint8_t *bm = calloc(1, 2048);
	char *va = reserve(SZ_1G, SZ_1G);
	(void)state;

	dirty_host_init(&d, SZ_4K | SZ_2M);
	/* 4 MiB at a 2M-aligned IOVA and VA: two 2 MiB IOPTEs. */
	assert_int_equal(map(h, d.ioas, va, 2 * SZ_2M, 0x40000000), 0);
	assert_int_equal(dma(h, 0, 0x40000000 + SZ_4K, 1), 0);
	assert_int_equal(get_dirty(h, d.hwpt, 0x40000000, 2 * SZ_2M, SZ_4K,
				   UAPI_HWPT_GET_DIRTY_BITMAP_NO_CLEAR, bm), 0);
	assert_int_equal(count_bits(bm, 1024), 512);
	assert_true(bit(bm, 0) && bit(bm, 511) && !bit(bm, 512));

	/* A 1 MiB NO_CLEAR read sees its half and keeps the IOPTE dirty. As
	 * the 6.12 drivers, it records the whole IOPTE size from where it
	 * entered it: 256 bits past the 256 asked for. */
	memset(bm, 0, 2048);
	assert_int_equal(get_dirty(h, d.hwpt, 0x40000000 + SZ_1M, SZ_1M, SZ_4K,
				   UAPI_HWPT_GET_DIRTY_BITMAP_NO_CLEAR, bm), 0);
	assert_int_equal(count_bits(bm, 1024), 512);
	assert_true(bit(bm, 511) && !bit(bm, 512));
	/* A clearing read of the first 1 MiB clears the whole 2 MiB IOPTE:
	 * the second half's pages are lost. */
	memset(bm, 0, 2048);
	assert_int_equal(get_dirty(h, d.hwpt, 0x40000000, SZ_1M, SZ_4K, 0, bm), 0);
	assert_int_equal(count_bits(bm, 1024), 512); /* overrun again */
	memset(bm, 0, 2048);
	assert_int_equal(get_dirty(h, d.hwpt, 0x40000000 + SZ_1M, SZ_1M, SZ_4K, 0,
				   bm), 0);
	assert_int_equal(count_bits(bm, 256), 0);

	/* A huge page size ORs: one bit for 2 MiB. */
	assert_int_equal(dma(h, 0, 0x40000000 + SZ_2M + 5, 1), 0);
	memset(bm, 0, 2048);
	assert_int_equal(get_dirty(h, d.hwpt, 0x40000000, 2 * SZ_2M, SZ_2M, 0, bm), 0);
	assert_int_equal(bm[0], 2);

	/* VA not 2M-aligned relative to IOVA: 4K IOPTEs only. */
	assert_int_equal(map(h, d.ioas, va + SZ_4K, 2 * SZ_2M, 0x80000000), 0);
	assert_int_equal(dma(h, 0, 0x80000000 + 3 * SZ_4K, 1), 0);
	memset(bm, 0, 2048);
	assert_int_equal(get_dirty(h, d.hwpt, 0x80000000, 2 * SZ_2M, SZ_4K, 0, bm), 0);
	assert_int_equal(count_bits(bm, 1024), 1);
	assert_true(bit(bm, 3));

	/* An area of 2M + 4K: one huge IOPTE, then a 4K one. */
	assert_int_equal(map(h, d.ioas, va, SZ_2M + SZ_4K, 0xc0000000), 0);
	assert_int_equal(dma(h, 0, 0xc0000000 + SZ_2M, 1), 0);
	assert_int_equal(dma(h, 0, 0xc0000000 + SZ_2M - 1, 1), 0);
	memset(bm, 0, 2048);
	assert_int_equal(get_dirty(h, d.hwpt, 0xc0000000, SZ_2M + SZ_4K, SZ_4K, 0,
				   bm), 0);
	assert_int_equal(count_bits(bm, 1024), 513);
	free(bm);
	host_fini(h);
}

/* The bitmap is a u8 array: any alignment. */
static void test_unaligned_bitmap(void **state)
{
	struct dirty_host d;
	struct host *h = &d.h;
	uint8_t *buf = calloc(1, 0x2000);
	uint8_t *bm = buf + 0xff1;
	char *va = reserve(SZ_1G, SZ_2M);
	(void)state;

	dirty_host_init(&d, SZ_4K);
	assert_int_equal(map(h, d.ioas, va, 128 * SZ_4K, 0), 0);
	for (int i = 0; i < 128; i += 3)
		assert_int_equal(dma(h, 0, (uint64_t)i * SZ_4K, 1), 0);
	assert_int_equal(get_dirty(h, d.hwpt, 0, 128 * SZ_4K, SZ_4K, 0, bm), 0);
	for (int i = 0; i < 128; i++)
		assert_int_equal(bit(bm, i), i % 3 == 0);
	assert_int_equal(count_bits(buf, 0x2000 * 8), 43);
	free(buf);
	host_fini(h);
}

/* A 1 TiB area over reserved VA costs nothing until dirtied, and a read
 * of it is quick. */
static void test_big_sparse(void **state)
{
	struct dirty_host d;
	struct host *h = &d.h;
	uint64_t nbits = SZ_1T / SZ_4K;
	uint8_t *bm = calloc(1, nbits / 8);
	void *va = mmap(NULL, SZ_1T, PROT_NONE,
			MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	struct timespec t0, t1;
	(void)state;

	assert_non_null(bm);
	if (va == MAP_FAILED)
		va = (void *)(uintptr_t)(1ull << 44); /* never touched anyway */
	dirty_host_init(&d, SZ_4K);
	assert_int_equal(map(h, d.ioas, va, SZ_1T, SZ_1T), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	assert_int_equal(get_dirty(h, d.hwpt, SZ_1T, SZ_1T, SZ_4K, 0, bm), 0);
	assert_int_equal(dma(h, 0, SZ_1T + 7 * SZ_4K, 1), 0);
	assert_int_equal(dma(h, 0, 2 * SZ_1T - SZ_4K, SZ_4K), 0);
	assert_int_equal(get_dirty(h, d.hwpt, SZ_1T, SZ_1T, SZ_4K, 0, bm), 0);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	assert_int_equal(bm[0], 0x80);
	assert_int_equal(bm[nbits / 8 - 1], 0x80);
	assert_int_equal(bm[nbits / 16], 0);
	assert_true((t1.tv_sec - t0.tv_sec) < 2);
	host_fini(h);
	if (va != (void *)(uintptr_t)(1ull << 44))
		munmap(va, SZ_1T);
	free(bm);
}

/* ---- DMA ---------------------------------------------------------------- */

static void test_dma_write(void **state)
{
	struct dirty_host d;
	struct host *h = &d.h;
	uint8_t *mem = aligned_alloc(SZ_4K, 4 * SZ_4K);
	uint8_t src[3 * SZ_4K], bm[2];
	uint64_t iova = 0x800000;
	(void)state;

	memset(mem, 0, 4 * SZ_4K);
	for (size_t i = 0; i < sizeof(src); i++)
		src[i] = (uint8_t)(i * 7 + 1);
	dirty_host_init(&d, SZ_4K);
	add_dev(h, 0); /* bound, not attached */

	assert_int_equal(map(h, d.ioas, mem, 2 * SZ_4K, 0x10000), 0);
	assert_int_equal(map_flags(h, d.ioas, mem + 2 * SZ_4K, SZ_4K, &iova,
				   UAPI_IOAS_MAP_READABLE | UAPI_IOAS_MAP_FIXED_IOVA), 0);

	assert_int_equal(iommudirty_sim_dma_write(h->sim, 7, 0x10000, 1, src), -EINVAL);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(iommudirty_sim_dma_write(h->sim, h->dev[0], 0x10000, 0, src),
			 -EINVAL);
	assert_int_equal(iommudirty_sim_dma_write(h->sim, h->dev[1], 0x10000, 1, src),
			 -ENODEV);
	assert_int_equal(errno, ENODEV);
	/* Running off the end of a mapping: fault, nothing lands. */
	assert_int_equal(iommudirty_sim_dma_write(h->sim, h->dev[0], 0x10000,
						  3 * SZ_4K, src), -EFAULT);
	assert_int_equal(iommudirty_sim_dma_write(h->sim, h->dev[0], 0xf000,
						  2 * SZ_4K, src), -EFAULT);
	/* Read-only mapping: fault. */
	assert_int_equal(iommudirty_sim_dma_write(h->sim, h->dev[0], 0x800000, 4,
						  src), -EFAULT);
	assert_int_equal(iommudirty_sim_dma_write(h->sim, h->dev[0], UINT64_MAX, 2,
						  src), -EFAULT);
	for (size_t i = 0; i < 4 * SZ_4K; i++)
		assert_int_equal(mem[i], 0);
	memset(bm, 0, sizeof(bm));
	assert_int_equal(get_dirty(h, d.hwpt, 0x10000, 2 * SZ_4K, SZ_4K, 0, bm), 0);
	assert_int_equal(bm[0], 0);

	/* A write translated through the mapping lands in memory. */
	assert_int_equal(iommudirty_sim_dma_write(h->sim, h->dev[0], 0x10000 + 100,
						  SZ_4K, src), 0);
	assert_memory_equal(mem + 100, src, SZ_4K);
	assert_int_equal(mem[99], 0);
	assert_int_equal(mem[100 + SZ_4K], 0);
	assert_int_equal(get_dirty(h, d.hwpt, 0x10000, 2 * SZ_4K, SZ_4K, 0, bm), 0);
	assert_int_equal(bm[0], 3);
	free(mem);
	host_fini(h);
}

/* ---- VFIO bind / attach / replace ------------------------------------- */

static void test_bind_attach(void **state)
{
	struct host h;
	uint32_t ioas, ioas2, hwpt_a, hwpt_b, hwpt_other, out, dev_id;
	int ifd2, i3;
	char *va = reserve(SZ_1G, SZ_2M);
	uint8_t bm[1];
	(void)state;

	host_init(&h);
	add_iommu(&h, 0, 0, 0);
	add_iommu(&h, 1, 0, IOMMUDIRTY_SIM_IOMMU_NO_DIRTY);
	add_dev(&h, 0);
	add_dev(&h, 0);
	add_dev(&h, 1);
	ioas = ioas_alloc(&h);
	ioas2 = ioas_alloc(&h);
	assert_int_equal(map(&h, ioas, va, SZ_4K, 0), 0);

	/* BIND rules. */
	assert_int_equal(bind(&h, h.dfd[0], h.ifd, NULL), -EINVAL);
	ifd2 = iommudirty_sim_open_iommufd(h.sim);
	assert_int_equal(bind(&h, h.dfd[0], ifd2, NULL), -EINVAL);
	struct uapi_vfio_bind_iommufd b = { .argsz = sizeof(b), .flags = 1,
					    .iommufd = h.ifd };
	assert_int_equal(do_ioctl(&h, h.dfd[0], VFIO_DEVICE_BIND_IOMMUFD, &b), -EINVAL);
	i3 = h.ndev++;
	h.dev[i3] = iommudirty_sim_add_device(h.sim, h.iommu[0]);
	h.dfd[i3] = iommudirty_sim_open_device(h.sim, h.dev[i3]);
	assert_int_equal(bind(&h, h.dfd[i3], h.dfd[0], NULL), -EBADF);
	assert_int_equal(bind(&h, h.dfd[i3], 424242, NULL), -EBADF);
	/* Not bound: ATTACH and DETACH are refused. */
	assert_int_equal(attach(&h, i3, ioas, NULL), -EINVAL);
	assert_int_equal(detach(&h, i3), -EINVAL);
	/* Bound to the second iommufd: ids there, not here. */
	assert_int_equal(bind(&h, h.dfd[i3], ifd2, &dev_id), 0);
	assert_int_equal(dev_id, 1);
	assert_int_equal(attach(&h, i3, ioas, NULL), -ENOENT);

	/* Attach to an IOAS: an auto domain, shared per IOMMU, no tracking. */
	uint64_t objs = stats(&h).objects;
	assert_int_equal(attach(&h, 0, ioas, &out), 0);
	assert_true(out != ioas && out > 0);
	assert_int_equal(stats(&h).objects, objs + 1);
	assert_int_equal(attach(&h, 1, ioas, &hwpt_a), 0);
	assert_int_equal(hwpt_a, out);
	assert_int_equal(stats(&h).objects, objs + 1);
	assert_int_equal(set_dirty(&h, out, true), -EOPNOTSUPP);
	assert_int_equal(get_dirty(&h, out, 0, SZ_4K, SZ_4K, 0, bm), -EOPNOTSUPP);
	assert_int_equal(destroy(&h, out), -EBUSY);
	assert_int_equal(attach(&h, 2, ioas, &hwpt_other), 0);
	assert_true(hwpt_other != out);
	assert_int_equal(stats(&h).objects, objs + 2);
	/* Attaching to the same auto domain again is a no-op. */
	assert_int_equal(attach(&h, 0, ioas, &hwpt_b), 0);
	assert_int_equal(hwpt_b, out);
	assert_int_equal(dma(&h, 0, 0, 1), 0);
	/* The auto domain goes away with its last device. */
	assert_int_equal(detach(&h, 0), 0);
	assert_int_equal(dma(&h, 0, 0, 1), -ENODEV);
	assert_int_equal(stats(&h).objects, objs + 2);
	assert_int_equal(detach(&h, 1), 0);
	assert_int_equal(stats(&h).objects, objs + 1);
	assert_int_equal(destroy(&h, out), -ENOENT);

	/* HWPT attach rules. */
	assert_int_equal(hwpt_alloc(&h, h.dev_id[0], ioas,
				    UAPI_HWPT_ALLOC_DIRTY_TRACKING, &hwpt_a), 0);
	assert_int_equal(hwpt_alloc(&h, h.dev_id[0], ioas2,
				    UAPI_HWPT_ALLOC_DIRTY_TRACKING, &hwpt_b), 0);
	assert_int_equal(attach(&h, 2, hwpt_a, NULL), -EINVAL); /* other IOMMU, no dirty */
	assert_int_equal(attach(&h, 0, hwpt_other, NULL), -EINVAL); /* other IOMMU */
	assert_int_equal(attach(&h, 0, 999, NULL), -ENOENT);
	assert_int_equal(attach(&h, 0, h.dev_id[1], NULL), -ENOENT);
	assert_int_equal(attach(&h, 0, hwpt_a, &out), 0);
	assert_int_equal(out, hwpt_a);

	/* Replace: straight from A to B, A becomes free to destroy. */
	assert_int_equal(set_dirty(&h, hwpt_a, true), 0);
	assert_int_equal(set_dirty(&h, hwpt_b, true), 0);
	assert_int_equal(dma(&h, 0, 0, 1), 0);
	assert_int_equal(attach(&h, 0, hwpt_b, &out), 0);
	assert_int_equal(out, hwpt_b);
	assert_int_equal(dma(&h, 0, 0, 1), -EFAULT); /* ioas2 is empty */
	assert_int_equal(map(&h, ioas2, va, SZ_4K, 0), 0);
	assert_int_equal(dma(&h, 0, 0, 1), 0);
	bm[0] = 0;
	assert_int_equal(get_dirty(&h, hwpt_a, 0, SZ_4K, SZ_4K, 0, bm), 0);
	assert_int_equal(bm[0], 1);
	bm[0] = 0;
	assert_int_equal(get_dirty(&h, hwpt_b, 0, SZ_4K, SZ_4K, 0, bm), 0);
	assert_int_equal(bm[0], 1);
	assert_int_equal(destroy(&h, hwpt_a), 0);
	assert_int_equal(destroy(&h, hwpt_b), -EBUSY);

	/* Closing the cdev unbinds: the device object and attachment go. */
	objs = stats(&h).objects;
	assert_int_equal(iommudirty_sim_close(h.sim, h.dfd[0]), 0);
	h.dfd[0] = -1;
	assert_int_equal(stats(&h).objects, objs - 1);
	assert_int_equal(destroy(&h, hwpt_b), 0);
	assert_int_equal(dma(&h, 0, 0, 1), -ENODEV);
	/* Closing an iommufd unbinds what is still bound to it. */
	assert_int_equal(iommudirty_sim_close(h.sim, ifd2), 0);
	assert_int_equal(attach(&h, i3, ioas, NULL), -EINVAL);
	assert_int_equal(bind(&h, h.dfd[i3], h.ifd, NULL), 0);
	host_fini(&h);
}

/* Closing an iommufd with devices attached tears everything down. */
static void test_close_iommufd_with_devices(void **state)
{
	struct host h;
	uint32_t ioas, hwpt;
	char *va = reserve(SZ_1G, SZ_2M);
	(void)state;

	host_init(&h);
	add_iommu(&h, 0, 0, 0);
	add_dev(&h, 0);
	add_dev(&h, 0);
	ioas = ioas_alloc(&h);
	assert_int_equal(map(&h, ioas, va, SZ_2M, 0), 0);
	assert_int_equal(hwpt_alloc(&h, h.dev_id[0], ioas,
				    UAPI_HWPT_ALLOC_DIRTY_TRACKING, &hwpt), 0);
	assert_int_equal(attach(&h, 0, hwpt, NULL), 0);
	assert_int_equal(attach(&h, 1, ioas, NULL), 0);
	assert_int_equal(set_dirty(&h, hwpt, true), 0);
	assert_int_equal(dma(&h, 0, 0, SZ_2M), 0);
	assert_int_equal(stats(&h).objects, 5);
	assert_int_equal(iommudirty_sim_close(h.sim, h.ifd), 0);
	assert_int_equal(stats(&h).objects, 0);
	assert_int_equal(stats(&h).open_fds, 2);
	assert_int_equal(dma(&h, 0, 0, 1), -ENODEV);
	h.ifd = iommudirty_sim_open_iommufd(h.sim);
	assert_int_equal(bind(&h, h.dfd[0], h.ifd, NULL), 0);
	host_fini(&h);
}

/* ---- failure injection and stats -------------------------------------- */

static void test_fail_call(void **state)
{
	const struct iommudirty_sys_ops *ops = &iommudirty_sys_sim;
	struct host h;
	struct iommudirty_sim_stats s0, s1;
	struct uapi_ioas_alloc a = { .size = sizeof(a) };
	int fd;
	(void)state;

	host_init(&h);
	assert_int_equal(iommudirty_sim_fail_call(h.sim, 1, 5), -EINVAL);
	assert_int_equal(iommudirty_sim_fail_call(h.sim, 1, 0), -EINVAL);
	assert_int_equal(iommudirty_sim_fail_call(NULL, 1, -EIO), -EINVAL);
	s0 = stats(&h);

	/* The 2nd call fails with no effect; the 1st and 3rd work. */
	assert_int_equal(iommudirty_sim_fail_call(h.sim, 2, -EIO), 0);
	assert_int_equal(do_ioctl(&h, h.ifd, IOMMU_IOAS_ALLOC, &a), 0);
	assert_int_equal(a.out_ioas_id, 1);
	a.out_ioas_id = 0;
	assert_int_equal(ops->ioctl(h.sim, h.ifd, IOMMU_IOAS_ALLOC, &a), -EIO);
	assert_int_equal(a.out_ioas_id, 0);
	assert_int_equal(stats(&h).objects, 1);
	assert_int_equal(do_ioctl(&h, h.ifd, IOMMU_IOAS_ALLOC, &a), 0);
	assert_int_equal(a.out_ioas_id, 2);
	s1 = stats(&h);
	assert_int_equal(s1.calls - s0.calls, 3);
	assert_int_equal(s1.ioctls - s0.ioctls, 3);

	/* Opens count too; close is never failed. */
	assert_int_equal(iommudirty_sim_fail_call(h.sim, 1, -EACCES), 0);
	assert_int_equal(ops->open(h.sim, "/dev/iommu", O_RDWR), -EACCES);
	assert_int_equal(stats(&h).open_fds, 1);
	fd = ops->open(h.sim, "/dev/iommu", O_RDWR);
	assert_true(fd >= 0);
	assert_int_equal(iommudirty_sim_fail_call(h.sim, 1, -EIO), 0);
	assert_int_equal(ops->close(h.sim, fd), 0);
	/* ... so the pending failure hits the next ioctl, even a bad one. */
	assert_int_equal(do_ioctl(&h, 99999, IOMMU_IOAS_ALLOC, &a), -EIO);
	assert_int_equal(errno, EIO);

	/* nth 0 cancels. */
	assert_int_equal(iommudirty_sim_fail_call(h.sim, 1, -EIO), 0);
	assert_int_equal(iommudirty_sim_fail_call(h.sim, 0, 0), 0);
	assert_int_equal(do_ioctl(&h, h.ifd, IOMMU_IOAS_ALLOC, &a), 0);
	s1 = stats(&h);
	assert_int_equal(s1.calls - s0.calls, 7);
	assert_int_equal(s1.ioctls - s0.ioctls, 5);
	assert_int_equal(s1.dirty_reads, 0);
	host_fini(&h);
}

/* ---- concurrency ------------------------------------------------------- */

#define NTHREADS 3
#define PAGES_PER_THREAD 64
#define ROUNDS 300

struct writer {
	struct host *h;
	atomic_int *running;
	int errors;
	uint64_t base;
};

static void *writer_main(void *p)
{
	struct writer *w = p;

	for (int r = 0; r < ROUNDS; r++)
		for (int i = 0; i < PAGES_PER_THREAD; i++)
			if (dma(w->h, 0, w->base + (uint64_t)i * SZ_4K, 8))
				w->errors++;
	atomic_fetch_sub(w->running, 1);
	return NULL;
}

/* Writers never see a gap while the device is moved between HWPTs, and
 * every page they dirty is reported by one HWPT or the other. */
static void test_concurrency(void **state)
{
	struct host h;
	struct writer w[NTHREADS];
	pthread_t th[NTHREADS];
	uint32_t ioas, hw[2];
	const uint64_t len = NTHREADS * PAGES_PER_THREAD * SZ_4K;
	uint8_t *mem = aligned_alloc(SZ_4K, len);
	uint8_t acc[NTHREADS * PAGES_PER_THREAD / 8], tmp[sizeof(acc)];
	atomic_int running = NTHREADS;
	uint64_t rounds = 0;
	(void)state;

	host_init(&h);
	add_iommu(&h, 0, 0, 0);
	add_dev(&h, 0);
	ioas = ioas_alloc(&h);
	assert_int_equal(map(&h, ioas, mem, len, 0x100000), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(hwpt_alloc(&h, h.dev_id[0], ioas,
					    UAPI_HWPT_ALLOC_DIRTY_TRACKING, &hw[i]), 0);
		assert_int_equal(set_dirty(&h, hw[i], true), 0);
	}
	assert_int_equal(attach(&h, 0, hw[0], NULL), 0);
	memset(acc, 0, sizeof(acc));
	for (int i = 0; i < NTHREADS; i++) {
		w[i] = (struct writer){ .h = &h, .running = &running,
					.base = 0x100000 + (uint64_t)i *
						PAGES_PER_THREAD * SZ_4K };
		assert_int_equal(pthread_create(&th[i], NULL, writer_main, &w[i]), 0);
	}
	/* Move the device back and forth for as long as anyone writes. */
	for (; atomic_load(&running) || rounds < 2; rounds++) {
		assert_int_equal(attach(&h, 0, hw[rounds % 2], NULL), 0);
		assert_int_equal(get_dirty(&h, hw[(rounds + 1) % 2], 0x100000, len,
					   SZ_4K, 0, acc), 0);
	}
	for (int i = 0; i < NTHREADS; i++) {
		assert_int_equal(pthread_join(th[i], NULL), 0);
		assert_int_equal(w[i].errors, 0);
	}
	for (int i = 0; i < 2; i++)
		assert_int_equal(get_dirty(&h, hw[i], 0x100000, len, SZ_4K, 0, acc), 0);
	for (size_t i = 0; i < sizeof(acc); i++)
		assert_int_equal(acc[i], 0xff);
	/* Both clean now. */
	memset(tmp, 0, sizeof(tmp));
	for (int i = 0; i < 2; i++)
		assert_int_equal(get_dirty(&h, hw[i], 0x100000, len, SZ_4K, 0, tmp), 0);
	assert_int_equal(count_bits(tmp, sizeof(tmp) * 8), 0);
	assert_int_equal(stats(&h).dirty_reads, rounds + 4);
	free(mem);
	host_fini(&h);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_new_and_opts),
		cmocka_unit_test(test_sys_open_close),
		cmocka_unit_test(test_size_rules),
		cmocka_unit_test(test_ids_and_destroy),
		cmocka_unit_test(test_map_rules),
		cmocka_unit_test(test_map_aperture),
		cmocka_unit_test(test_unmap_rules),
		cmocka_unit_test(test_iova_ranges),
		cmocka_unit_test(test_hwpt_alloc_rules),
		cmocka_unit_test(test_get_hw_info),
		cmocka_unit_test(test_set_dirty_rules),
		cmocka_unit_test(test_get_dirty_rules),
		cmocka_unit_test(test_dirty_basic),
		cmocka_unit_test(test_trap_hole),
		cmocka_unit_test(test_trap_second_enable),
		cmocka_unit_test(test_trap_only_sets),
		cmocka_unit_test(test_trap_non_pow2),
		cmocka_unit_test(test_trap_huge),
		cmocka_unit_test(test_unaligned_bitmap),
		cmocka_unit_test(test_big_sparse),
		cmocka_unit_test(test_dma_write),
		cmocka_unit_test(test_bind_attach),
		cmocka_unit_test(test_close_iommufd_with_devices),
		cmocka_unit_test(test_fail_call),
		cmocka_unit_test(test_concurrency),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
