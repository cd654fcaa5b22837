/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The tracker and its backends. tracker.c holds what every backend shares
 * (arguments, mappings, locking, pending bits, the read driver);
 * backend_iommufd.c and backend_type1.c hold what differs.
 */
#ifndef IOMMUDIRTY_TRACKER_H
#define IOMMUDIRTY_TRACKER_H

#include <pthread.h>

#include "internal.h"

struct mapping {
	uint64_t iova;
	uint64_t len;
	unsigned int flags; /* IOMMUDIRTY_MAP_*, to copy it elsewhere */
	/* Taken away by write_protect: no longer in the kernel, reads skip
	 * it (a hole), unmap only forgets it. */
	bool gone;
};

struct hwpt {
	uint32_t id;
	bool owned;      /* allocated by us: destroyed by us */
	bool vmm_attach; /* owned, but the VMM attaches devices to it */
	bool tracking;   /* ENABLE was sent and not undone */
	unsigned int ndev; /* devices we attached to it */
	uint32_t dev_id;   /* a device behind it: its IOMMU, for a twin */
};

struct attachment {
	uint32_t dev_id;
	int fd;
	uint32_t hwpt_id;
};

struct extent {
	uint64_t start, end; /* [start, end) */
};

/* A device the library opened from opts.pci_devices. */
struct pci_dev {
	char bdf[32];
	int fd;          /* cdev fd (iommufd) or group device fd (type1) */
	struct iommudirty_device *dev; /* iommufd only */
};

struct type1_group {
	char name[16];
	int fd;
};

struct read_req;

struct backend_ops {
	uint32_t kind; /* enum iommudirty_backend */
	int (*map)(struct iommudirty_tracker *t, void *va, uint64_t len,
		   uint64_t iova, unsigned int flags);
	int (*unmap)(struct iommudirty_tracker *t, uint64_t iova, uint64_t len);
	int (*start)(struct iommudirty_tracker *t); /* only when stopped */
	int (*stop)(struct iommudirty_tracker *t);  /* only when started */
	/* Read [a, b) of the caller's range, inside the run of adjacent
	 * mappings [rs, re) (mappings [mi, mj) of t->maps). */
	int (*read_run)(const struct read_req *r, uint64_t a, uint64_t b,
			size_t mi, size_t mj);
	/* One kernel read of [s, e) at page size ps into buf (OR-ed). */
	int (*kread)(const struct read_req *r, uint64_t s, uint64_t e,
		     uint64_t ps, void *buf);
	/* Report and unmap whole mappings [first, last); NULL: generic
	 * read without clearing, then unmap. */
	int (*unmap_dirty)(struct iommudirty_tracker *t, uint64_t iova,
			   uint64_t len, uint64_t ps, uint64_t *bitmap,
			   size_t first, size_t last);
	/* Take whole mappings [first, last) away from every device and put
	 * their final bits in the (zeroed) bitmap. Nothing changes on error. */
	int (*write_protect)(struct iommudirty_tracker *t, uint64_t iova,
			     uint64_t len, uint64_t ps, uint64_t *bitmap,
			     size_t first, size_t last);
	void (*destroy)(struct iommudirty_tracker *t);
};

extern const struct backend_ops backend_iommufd, backend_type1;

struct iommudirty_tracker {
	struct iommudirty_ctx *ctx;
	const struct backend_ops *be;
	bool started;
	uint64_t max_io_page;
	uint64_t iova_alignment; /* map/read pre-check; the kernel enforces */
	struct iommudirty_tracker_info info;
	/* Writers: everything that changes maps/hwpts/attachments/started.
	 * Readers: dirty reads, which may run in parallel. */
	pthread_rwlock_t lock;
	/* Pending bits are also changed by (parallel) clearing reads. */
	pthread_mutex_t pending_lock;

	struct mapping *maps; /* sorted by iova, non-overlapping */
	size_t nmaps, cap_maps;
	struct extent *pending;
	size_t npending, cap_pending;
	size_t pending_mark; /* count after the last normalize */
	struct pci_dev *pci;
	size_t npci;
	int (*replace_fn)(void *user, uint32_t old_hwpt, uint32_t new_hwpt);
	void *replace_user;

	/* iommufd */
	uint32_t ioas_id;
	bool own_ioas;
	struct hwpt *hwpts;
	size_t nhwpts, cap_hwpts;
	struct attachment *atts;
	size_t natts, cap_atts;

	/* type1 */
	int container;
	bool own_container;
	uint64_t t1_pgsize;
	uint64_t t1_max_bits; /* per call */
	struct type1_group *groups;
	size_t ngroups;
};

struct read_req {
	struct iommudirty_tracker *t;
	uint64_t iova, end;    /* the caller's range */
	uint64_t page_size;
	uint64_t *bitmap;
	bool no_clear;
	/* NULL: the tracker's HWPTs; else these (the old ones of a move). */
	const struct hwpt *hwpts;
	size_t nhwpts;
};

int grow(void **arr, size_t *cap, size_t need, size_t elsz);
#define GROW(t, name, need)                                                    \
	grow((void **)&(t)->name, &(t)->cap_##name, (need), sizeof(*(t)->name))

static inline uint64_t align_down(uint64_t x, uint64_t a)
{
	return x & ~(a - 1);
}

/* Read [s, e) (page-aligned, inside the caller's range) straight into the
 * caller's bitmap. */
int read_direct(const struct read_req *r, uint64_t s, uint64_t e);
/* Read [ws, we) at page size fps through a scratch bitmap; fold into the
 * caller's pages, keep a clearing read's bits outside the range pending. */
int read_bounce(const struct read_req *r, uint64_t ws, uint64_t we, uint64_t fps);
/* For each run of IOVA-adjacent mappings among [first, last) still in the
 * kernel (not gone): fn(t, start, end, i, j, user) with the run's
 * mappings [i, j). Stops at, and returns, the first error. */
typedef int (*run_fn)(struct iommudirty_tracker *t, uint64_t start, uint64_t end,
		      size_t i, size_t j, void *user);
int for_each_mapped_run(struct iommudirty_tracker *t, size_t first, size_t last,
			run_fn fn, void *user);
/* Sort and merge the pending extents; past a bound, merge the closest
 * neighbours (over-reporting is safe, memory is not free). */
void pending_normalize(struct iommudirty_tracker *t);
void pending_add_range(struct iommudirty_tracker *t, uint64_t start, uint64_t end);
/* Note a capability or choice reason in t->info (no duplicates). */
void info_add_reason(struct iommudirty_tracker_info *info, uint32_t reason);
void refresh_alignment(struct iommudirty_tracker *t);

/* Backend setup, called by iommudirty_tracker_new() with t->info filled
 * as it goes. On failure they undo all they did. */
int iommufd_backend_init(struct iommudirty_tracker *t,
			 const struct iommudirty_tracker_opts *opts);
int type1_backend_init(struct iommudirty_tracker *t,
		       const struct iommudirty_tracker_opts *opts);

/* PCI devices named by BDF (src/pci.c). */
int pci_cdev_path(struct iommudirty_ctx *ctx, const char *bdf, char *path,
		  size_t len);
int pci_group_name(struct iommudirty_ctx *ctx, const char *bdf, char *name,
		   size_t len);

#endif
