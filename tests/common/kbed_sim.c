// SPDX-License-Identifier: LGPL-2.1-or-later
/*
 * The kernel bed on the library's simulated kernel. It mirrors the 6.12
 * selftest mock IOMMU: three IOMMU instances for the three kinds of mock
 * device (2 KiB IO pages; 2 KiB + 1 MiB; 2 KiB without dirty tracking),
 * the mock aperture, and VFIO cdev BIND + ATTACH where the real bed uses
 * IOMMU_TEST_OP_MOCK_DOMAIN(_REPLACE).
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

#include "iommudirty.h"
#include "kbed.h"
#include "uapi.h"

struct sim_mem {
	void *base;
	size_t len;
};

struct sim_bed {
	struct kbed b;
	struct iommudirty_sim *sim;
	int iommufd;
	int iommu[3]; /* plain, huge, no-dirty */
	struct sim_mem mem[16];
	int nr_mem;
};

#define SB(b) ((struct sim_bed *)(b)->priv)

static int sim_bed_ioctl(struct kbed *b, unsigned long req, void *arg)
{
	return iommudirty_sim_ioctl(SB(b)->sim, SB(b)->iommufd, req, arg);
}

static int sim_bed_attach(struct kbed *b, struct kbed_dev *d, uint32_t pt_id)
{
	struct uapi_vfio_attach_pt at = { .argsz = sizeof(at), .pt_id = pt_id };
	int rc;

	rc = iommudirty_sim_ioctl(SB(b)->sim, d->priv_fd,
				  VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at);
	if (rc < 0)
		return rc;
	d->pt_id = at.pt_id;
	return 0;
}

static int sim_bed_dev_new(struct kbed *b, uint32_t ioas_id,
			   unsigned int flags, struct kbed_dev *out)
{
	struct sim_bed *s = SB(b);
	struct uapi_vfio_bind_iommufd bind = { .argsz = sizeof(bind) };
	int iommu, idx, fd, rc;

	if (flags & ~(KBED_DEV_HUGE | KBED_DEV_NO_DIRTY))
		return -EINVAL;
	iommu = s->iommu[flags & KBED_DEV_NO_DIRTY ? 2 :
			 flags & KBED_DEV_HUGE ? 1 : 0];
	idx = iommudirty_sim_add_device(s->sim, iommu);
	if (idx < 0)
		return idx;
	fd = iommudirty_sim_open_device(s->sim, idx);
	if (fd < 0)
		return fd;
	bind.iommufd = s->iommufd;
	rc = iommudirty_sim_ioctl(s->sim, fd, VFIO_DEVICE_BIND_IOMMUFD, &bind);
	if (rc < 0)
		return rc;
	*out = (struct kbed_dev){ .dev_id = bind.out_devid, .priv_fd = fd,
				  .priv_idx = idx };
	return sim_bed_attach(b, out, ioas_id);
}

static int sim_bed_dma_write(struct kbed *b, struct kbed_dev *d,
			     uint64_t iova, uint64_t length)
{
	return iommudirty_sim_dma_write(SB(b)->sim, d->priv_idx, iova, length,
					NULL);
}

static void *sim_bed_mem_alloc(struct kbed *b, size_t length, bool huge)
{
	struct sim_bed *s = SB(b);
	size_t align = huge ? 2u << 20 : 4096, len = length + align;
	char *p;

	if (s->nr_mem == (int)(sizeof(s->mem) / sizeof(s->mem[0])))
		return NULL;
	/* The sim uses a huge IOPTE where iova, va and length line up. */
	p = mmap(NULL, len, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS,
		 -1, 0);
	if (p == MAP_FAILED)
		return NULL;
	s->mem[s->nr_mem++] = (struct sim_mem){ p, len };
	return (void *)(((uintptr_t)p + align - 1) & ~(uintptr_t)(align - 1));
}

static void sim_bed_destroy(struct kbed *b)
{
	struct sim_bed *s = SB(b);

	iommudirty_sim_free(s->sim);
	for (int i = 0; i < s->nr_mem; i++)
		munmap(s->mem[i].base, s->mem[i].len);
	free(s);
}

static const struct kbed_ops sim_bed_ops = {
	.ioctl = sim_bed_ioctl,
	.dev_new = sim_bed_dev_new,
	.dev_replace = sim_bed_attach,
	.dma_write = sim_bed_dma_write,
	.mem_alloc = sim_bed_mem_alloc,
	.destroy = sim_bed_destroy,
};

struct kbed *kbed_sim_new(void)
{
	IOMMUDIRTY_OPTS(iommudirty_sim_opts, so);
	static const uint64_t pgsizes[3] = {
		KBED_IO_PAGE, KBED_IO_PAGE | KBED_HUGE_IO_PAGE, KBED_IO_PAGE,
	};
	struct sim_bed *s;
	int err;

	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->b.name = "sim";
	s->b.ops = &sim_bed_ops;
	s->b.priv = s;
	s->sim = iommudirty_sim_new(&so);
	if (!s->sim)
		goto fail;
	for (int i = 0; i < 3; i++) {
		IOMMUDIRTY_OPTS(iommudirty_sim_iommu_opts, io,
				.flags = i == 2 ? IOMMUDIRTY_SIM_IOMMU_NO_DIRTY : 0,
				.hw_info_type = IOMMUDIRTY_HW_INFO_SELFTEST,
				.pgsize_bitmap = pgsizes[i],
				.aperture_start = KBED_APERTURE_START,
				.aperture_last = KBED_APERTURE_LAST);
		s->iommu[i] = iommudirty_sim_add_iommu(s->sim, &io);
		if (s->iommu[i] < 0) {
			errno = -s->iommu[i];
			goto fail;
		}
	}
	s->iommufd = iommudirty_sim_open_iommufd(s->sim);
	if (s->iommufd < 0) {
		errno = -s->iommufd;
		goto fail;
	}
	return &s->b;
fail:
	err = errno;
	iommudirty_sim_free(s->sim);
	free(s);
	errno = err;
	return NULL;
}
