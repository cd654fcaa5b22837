/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <string.h>
#include <sys/mman.h>

#include <cmocka.h>

#include "fixture.h"

int fx_init(struct fx *f)
{
	memset(f, 0, sizeof(*f));
	f->sim = iommudirty_sim_new(NULL);
	if (!f->sim)
		return -errno;
	IOMMUDIRTY_OPTS(iommudirty_ctx_opts, o, .sim = f->sim);
	f->ctx = iommudirty_ctx_new(&o);
	if (!f->ctx)
		return -errno;
	return 0;
}

int fx_add_iommu(struct fx *f, uint64_t pgsize_bitmap, unsigned int sim_flags)
{
	IOMMUDIRTY_OPTS(iommudirty_sim_iommu_opts, o, .flags = sim_flags,
			.pgsize_bitmap = pgsize_bitmap);
	int ret = iommudirty_sim_add_iommu(f->sim, &o);

	if (ret < 0)
		return ret;
	f->iommu[f->niommu] = ret;
	return f->niommu++;
}

static int open_and_bind(struct fx *f, int i, int ret);

int fx_add_device(struct fx *f, int iommu)
{
	return open_and_bind(f, f->ndev, iommudirty_sim_add_device(f->sim, f->iommu[iommu]));
}

int fx_add_vfio_device(struct fx *f, int iommu, const struct iommudirty_sim_device_opts *opts)
{
	struct iommudirty_sim_device_opts o = *opts;

	o.iommu = iommu >= 0 ? f->iommu[iommu] : 0;
	return open_and_bind(f, f->ndev, iommudirty_sim_add_vfio_device(f->sim, &o));
}

static int open_and_bind(struct fx *f, int i, int ret)
{
	if (ret < 0)
		return ret;
	f->sdev[i] = ret;
	f->fd[i] = iommudirty_sim_open_device(f->sim, ret);
	if (f->fd[i] < 0)
		return f->fd[i];
	ret = iommudirty_device_bind(f->ctx, f->fd[i], &f->dev[i]);
	if (ret)
		return ret;
	return f->ndev++;
}

int fx_tracker(struct fx *f)
{
	if (f->t)
		return 0;
	return iommudirty_tracker_new(f->ctx, NULL, &f->t);
}

void *fx_mem(struct fx *f, uint64_t len, uint64_t align)
{
	uint8_t *p = mmap(NULL, len + align, PROT_READ | PROT_WRITE,
			  MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	uint64_t off;

	if (p == MAP_FAILED)
		return NULL;
	off = (align - ((uintptr_t)p % align)) % align;
	f->mem = p;
	f->memlen = len + align;
	return p + off;
}

int fx_write(struct fx *f, int dev, uint64_t iova, uint64_t len)
{
	return iommudirty_sim_dma_write(f->sim, f->sdev[dev], iova, len, NULL);
}

void fx_fini(struct fx *f)
{
	struct iommudirty_sim_stats st = { .sz = sizeof(st) };

	iommudirty_tracker_free(f->t);
	/* The tracker destroyed what it made: only device objects remain. */
	assert_int_equal(iommudirty_sim_get_stats(f->sim, &st), 0);
	assert_int_equal(st.objects, (uint64_t)f->ndev);
	for (int i = 0; i < f->ndev; i++)
		iommudirty_device_free(f->dev[i]);
	iommudirty_ctx_free(f->ctx);
	for (int i = 0; i < f->ndev; i++)
		if (f->fd[i] >= 0)
			assert_int_equal(iommudirty_sim_close(f->sim, f->fd[i]), 0);
	/* Everything the library opened or created is gone. */
	assert_int_equal(iommudirty_sim_get_stats(f->sim, &st), 0);
	assert_int_equal(st.open_fds, 0);
	assert_int_equal(st.objects, 0);
	iommudirty_sim_free(f->sim);
	if (f->mem)
		munmap(f->mem, f->memlen);
	memset(f, 0, sizeof(*f));
}
