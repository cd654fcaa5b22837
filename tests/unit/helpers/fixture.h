/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* A simulated host for unit tests: a sim, a context on it, IOMMUs, devices
 * bound to the context, a tracker, and guest memory. */
#ifndef IOMMUDIRTY_TEST_FIXTURE_H
#define IOMMUDIRTY_TEST_FIXTURE_H

#include <stdbool.h>
#include <stdint.h>

#include "iommudirty.h"

#define FX_MAX 4
#define KiB (1ull << 10)
#define MiB (1ull << 20)
#define GiB (1ull << 30)
#define TiB (1ull << 40)

struct fx {
	struct iommudirty_sim *sim;
	struct iommudirty_ctx *ctx;
	int iommu[FX_MAX];
	int niommu;
	int sdev[FX_MAX];  /* sim device index */
	int fd[FX_MAX];    /* its cdev fd */
	struct iommudirty_device *dev[FX_MAX];
	int ndev;
	struct iommudirty_tracker *t;
	uint8_t *mem;      /* guest RAM backing for mappings */
	uint64_t memlen;
};

/* A sim with no IOMMU yet and a context on it. Returns 0 or -errno. */
int fx_init(struct fx *f);
/* Add an IOMMU (pgsize_bitmap 0: 4 KiB only). Returns its index. */
int fx_add_iommu(struct fx *f, uint64_t pgsize_bitmap, unsigned int sim_flags);
/* Add a device behind fx iommu #i, open and bind it. Returns its index. */
int fx_add_device(struct fx *f, int iommu);
/* Add a sim device with opts (DMA logging, migration, emulated IOMMU)
 * behind fx iommu #iommu (-1: none needed), open and bind it. */
int fx_add_vfio_device(struct fx *f, int iommu, const struct iommudirty_sim_device_opts *opts);
/* Tracker with default opts (if none yet). */
int fx_tracker(struct fx *f);
/* Reserve len bytes of RAM aligned to align (mmap, touched lazily). */
void *fx_mem(struct fx *f, uint64_t len, uint64_t align);
/* Release everything; asserts the sim has no fds or objects left. */
void fx_fini(struct fx *f);
/* Device #i writes [iova, +len). */
int fx_write(struct fx *f, int dev, uint64_t iova, uint64_t len);

/* Bit helpers for expected maps. */
static inline bool fx_test_bit(const uint64_t *m, uint64_t i)
{
	return (m[i / 64] >> (i % 64)) & 1;
}
static inline void fx_set_bit(uint64_t *m, uint64_t i)
{
	m[i / 64] |= 1ull << (i % 64);
}

#endif
