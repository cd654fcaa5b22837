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
	bool adopted; /* declared by the VMM: iommudirty_tracker_forget_mapping() */
	bool has_guest; /* gaddr set by iommudirty_tracker_set_guest() */
	uint64_t gaddr;   /* the VMM's address of iova */
};

struct hwpt {
	uint32_t id;
	bool owned;      /* allocated by us: destroyed by us */
	bool vmm_attach; /* owned, but the VMM attaches devices to it */
	bool tracking;   /* ENABLE was sent and not undone */
	unsigned int ndev; /* devices we attached to it */
	uint32_t dev_id;   /* a device behind it: its IOMMU, for a twin */
	uint32_t twin;     /* its twin on the standby IOAS, or 0 */
	bool found_on;     /* adopted with tracking on: left on at free */
};

struct devlog;

/* A device of the tracker (opened from opts.pci_devices or attached) and
 * its dirty source. */
struct attachment {
	uint32_t dev_id;     /* iommufd device id; 0 on type1 */
	int fd;              /* cdev or group device fd; -1: none known */
	uint32_t hwpt_id;    /* iommufd: its HWPT; 0: the IOAS itself, or BY_VMM */
	int pci_index;       /* in opts.pci_devices; -1: attached by the caller */
	unsigned int flags;  /* IOMMUDIRTY_ATTACH_* */
	uint32_t want;       /* enum iommudirty_source asked for (AUTO: policy) */
	uint32_t source;     /* enum iommudirty_source in use */
	bool can_iommu;      /* its IOMMU can track (iommufd) */
	bool can_log;        /* it offers DMA logging and we have its fd */
	bool emulated;
	bool log_failed;     /* START refused: not tried again until a new start */
	uint64_t migration_flags;
	uint32_t iommu_reasons[8]; /* why its IOMMU cannot track */
	uint32_t nr_iommu_reasons;
	uint32_t reasons[IOMMUDIRTY_SOURCE_MAX_REASONS];
	uint32_t nr_reasons;
	struct devlog *log;  /* while its device log is started */
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

/* A dirty source (see enum iommudirty_source). Shared sources (the HWPTs,
 * the container, none) are read once for all devices using them;
 * per-device ones (a device log) once per device. Sources never take the
 * tracker's locks: the tracker holds them. */
struct source_ops {
	uint32_t kind;   /* enum iommudirty_source */
	bool per_device;
	bool precise;
	/* What it recorded survives an unmap: a fence (unmap, write_protect)
	 * reads it after taking the range away. Else it is read before, or
	 * fenced by the backend itself. */
	bool after_fence;
	/* Shared only: whether a read must consult it. */
	bool (*active)(const struct iommudirty_tracker *t);
	/* Per-device only; start may fail, stop never leaves it started. */
	int (*start)(struct iommudirty_tracker *t, struct attachment *a);
	void (*stop)(struct iommudirty_tracker *t, struct attachment *a);
	/* OR the dirty pages of the mapped parts of [r->iova, r->end) into
	 * r->bitmap (a = NULL for shared sources). */
	int (*read)(const struct read_req *r, struct attachment *a);
};

extern const struct source_ops source_hwpt, source_type1, source_devlog, source_none;
const struct source_ops *source_of(uint32_t kind);

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
	/* Whether the backend's own dirty tracking is on (a HWPT tracks,
	 * the container's DIRTY_PAGES started). */
	bool (*tracking)(const struct iommudirty_tracker *t);
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
	unsigned int flags;      /* IOMMUDIRTY_TRACKER_* */
	bool freeing;            /* tracker_free: leave the VMM's objects as found */
	uint32_t policy;         /* enum iommudirty_policy */
	bool all_log;            /* all-or-nothing: every device logs */
	struct extent *windows;  /* device-log windows; NULL: the mappings */
	size_t nwindows;
	const uint32_t *pci_sources; /* only during iommudirty_tracker_new() */

	/* iommufd */
	uint32_t ioas_id;
	bool own_ioas;
	/* The standby (IOMMUDIRTY_TRACKER_STANDBY, while started): an IOAS
	 * holding the same mappings, a twin per HWPT (hwpt.twin). The twins
	 * may hold bits no read has drained over the owed extents (under
	 * pending_lock). */
	uint32_t sb_ioas;
	struct extent *owed;
	size_t nowed, cap_owed;
	/* Guest-space extents that unmaps of mappings with a guest address
	 * collected, for the next guest-space read (under pending_lock). */
	struct extent *gpending;
	size_t ngpending, cap_gpending;
	bool gpending_lost; /* could not record some: report everything once */
	/* A device could not be moved back after a failed move: every
	 * writable page is reported dirty from then on. */
	bool stuck;
	struct hwpt *hwpts;
	size_t nhwpts, cap_hwpts;
	struct attachment *atts;
	size_t natts, cap_atts;

	/* type1 */
	int container;
	bool own_container;
	uint64_t t1_pgsize;
	uint64_t t1_max_bits; /* per call */
	bool t1_tracking;     /* DIRTY_PAGES START sent */
	struct type1_group *groups;
	size_t ngroups;
};

struct read_req {
	struct iommudirty_tracker *t;
	uint64_t iova, end;    /* the caller's range */
	uint64_t page_size;
	uint64_t *bitmap;
	bool no_clear;
	/* Also read mappings already taken from the kernel (gone): a fence
	 * (unmap, write_protect) reads the range's device logs after it. */
	bool include_gone;
	/* Everything read goes to the pending bits, none to bitmap. */
	bool to_pending;
	/* The bitmap already holds bits of this window: OR through scratch. */
	bool bounce;
	/* NULL: the tracker's HWPTs; else these (the old ones of a move). */
	const struct hwpt *hwpts;
	size_t nhwpts;
};

int grow(void **arr, size_t *cap, size_t need, size_t elsz);
/* Index of the first mapping that ends after iova. */
size_t map_lower_bound(const struct iommudirty_tracker *t, uint64_t iova);
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

/* mappings.c: the mapping table. [iova, iova+length) ends below 2^64. */
int check_range(uint64_t iova, uint64_t length);
/* The mappings [*first, *last) lie inside [iova, end); -ENOENT if the range
 * cuts a mapping or holds none (the kernel's rule, checked up front). */
int whole_mappings(const struct iommudirty_tracker *t, uint64_t iova, uint64_t end,
		   size_t *first, size_t *last);
/* Drop [first, last) from the table and their pending bits. */
void forget_mappings(struct iommudirty_tracker *t, uint64_t iova, uint64_t length,
		     size_t first, size_t last);
/* A run_fn: the kernel unmap of one run, marking its mappings gone. */
int unmap_run(struct iommudirty_tracker *t, uint64_t start, uint64_t end, size_t i,
	      size_t j, void *user);
/* tracker.c: unmap-with-dirty under the write lock (started). */
int unmap_dirty_locked(struct iommudirty_tracker *t, uint64_t iova, uint64_t length,
		       uint64_t page_size, uint64_t *bitmap, size_t first, size_t last);
/* Sort and merge the pending extents; past a bound, merge the closest
 * neighbours (over-reporting is safe, memory is not free). */
void pending_normalize(struct iommudirty_tracker *t);
void pending_add_range(struct iommudirty_tracker *t, uint64_t start, uint64_t end);
/* Forget pending bits of [start, end). */
void pending_drop(struct iommudirty_tracker *t, uint64_t start, uint64_t end);
/* Mark pending bits of [iova, end) in the caller's bitmap; with clear,
 * forget them. */
void pending_report(struct iommudirty_tracker *t, uint64_t iova, uint64_t end,
		    uint64_t page_size, uint64_t *bitmap, bool clear);
/* Note a capability or choice reason in t->info (no duplicates). */
void info_add_reason(struct iommudirty_tracker_info *info, uint32_t reason);
void refresh_alignment(struct iommudirty_tracker *t);

/* For each run of IOVA-adjacent mappings (writable ones only if asked)
 * clipped to [r->iova, r->end): fn(r, start, end, user). Mappings gone
 * count only with r->include_gone. */
typedef int (*part_fn)(const struct read_req *r, uint64_t start, uint64_t end,
		       void *user);
int for_each_mapped_part(const struct read_req *r, bool writable_only,
			 part_fn fn, void *user);
/* Mark caller pages covering [x, y) dirty. */
void mark_bytes(uint64_t *bitmap, uint64_t iova, uint64_t page_size,
		uint64_t x, uint64_t y);
/* Extent lists (read.c): take [start, end) out (splitting; kept whole
 * when the array cannot grow), mark their pages covering [base, end) in a
 * bitmap of pages from base (whether any did), sort and merge those
 * closer than gap (the new count). */
void extents_drop(struct extent **arr, size_t *n, size_t *cap, uint64_t start,
		  uint64_t end);
bool extents_mark(const struct extent *arr, size_t n, uint64_t base, uint64_t end,
		  uint64_t page_size, uint64_t *bitmap);
size_t extents_merge(struct extent *e, size_t n, uint64_t gap);
/* Caller holds pending_lock. */
int pending_add_locked(struct iommudirty_tracker *t, uint64_t start, uint64_t end);

/* tracker.c: read [iova, +length) of every source into bitmap (zeroed
 * first), the IOVA-pending bits included; caller holds t->lock. */
int read_window(struct iommudirty_tracker *t, uint64_t iova, uint64_t length,
		uint64_t page_size, uint64_t *bitmap, bool no_clear);

/* guest.c: mappings with a guest address among [first, last) (a new
 * array; SIZE_MAX: no memory), and keeping what an unmap of them
 * collected (bitmap of [iova, +length) at ps) as guest-pending. */
size_t guest_snapshot(const struct iommudirty_tracker *t, size_t first, size_t last,
		      struct mapping **out);
void guest_keep(struct iommudirty_tracker *t, const struct mapping *snap, size_t n,
		uint64_t iova, uint64_t length, uint64_t ps, const uint64_t *bitmap);

/* choose.c: each device's source, the tracker's precision. */
/* Probe a device fd for DMA logging and migration (a->can_log, ...). */
void choose_probe(struct iommudirty_tracker *t, struct attachment *a,
		  const struct iommudirty_device *dev);
/* Pick a->source by force or policy, with reasons. -EOPNOTSUPP: the
 * source forced, or every precise one on a PRECISE_ONLY tracker, is not
 * there. */
int choose_source(struct iommudirty_tracker *t, struct attachment *a);
/* Re-pick every device (all-or-nothing looks at all of them). */
int choose_all(struct iommudirty_tracker *t);
void refresh_info(struct iommudirty_tracker *t);
bool any_source(const struct iommudirty_tracker *t, uint32_t kind);
/* The backend's source (IOMMU on iommufd, TYPE1 on type1). */
uint32_t backend_source(const struct iommudirty_tracker *t);

/* tracker.c: per-device sources (device logs) stop; never fails. */
void stop_sources(struct iommudirty_tracker *t);
/* Start a's per-device source; if it refuses and the VMM did not force
 * it, fall back to the next one the policy allows. */
int start_device_source(struct iommudirty_tracker *t, struct attachment *a);

/* source_devlog.c */
void devlog_free(struct devlog *log);
/* Read and clear every logged page of the device into pending, then stop
 * (detach). */
void devlog_drain(struct iommudirty_tracker *t, struct attachment *a);
void devlog_fill_info(const struct attachment *a, struct iommudirty_source_info *info);

/* Backend setup, called by iommudirty_tracker_new() with t->info filled
 * as it goes. On failure they undo all they did. */
int iommufd_backend_init(struct iommudirty_tracker *t,
			 const struct iommudirty_tracker_opts *opts);
/* iommufd: whether HWPT h must track (a device reads through it, or the
 * VMM's). */
bool hwpt_wanted(const struct iommudirty_tracker *t, const struct hwpt *h);
/* iommufd: owned, and no device (ours or the VMM's) on it. */
bool hwpt_unused(const struct hwpt *h);
/* iommufd: read [a, b) of the run of mappings [mi, mj), widened so that
 * no kernel read cuts an IOPTE. */
int iommufd_read_run(const struct read_req *r, uint64_t a, uint64_t b,
		     size_t mi, size_t mj);
/* The largest page size <= ps that both ends are aligned to. */
uint64_t fit_page(uint64_t ps, uint64_t s, uint64_t e);
/* iommufd_move.c: write-protect by moving the devices to twin HWPTs. */
int iommufd_write_protect(struct iommudirty_tracker *t, uint64_t iova,
			  uint64_t len, uint64_t ps, uint64_t *bitmap,
			  size_t first, size_t last);
int ioas_copy_mapping(struct iommudirty_tracker *t, uint32_t dst_ioas,
		      const struct mapping *m);

/* standby.c: the standby IOAS kept in step with the active one. */
int sb_build(struct iommudirty_tracker *t);
/* Keep what the twins owe (pending), then destroy the standby. */
void sb_drop(struct iommudirty_tracker *t);
/* Destroy it; what the twins hold is lost (stop, free). */
void sb_destroy(struct iommudirty_tracker *t);
int sb_map(struct iommudirty_tracker *t, const struct mapping *m);
int sb_unmap(struct iommudirty_tracker *t, uint64_t iova, uint64_t len);
/* A new HWPT of ours while the standby exists: give it a twin. */
int sb_add_twin(struct iommudirty_tracker *t, struct hwpt *h);
/* Enable h's twin (h was just enabled). */
int sb_enable_twin(struct iommudirty_tracker *t, struct hwpt *h);
/* Read the twins over the owed part of [a, b), inside mappings [mi, mj). */
int sb_read_owed(const struct read_req *r, uint64_t a, uint64_t b, size_t mi,
		 size_t mj);
/* Read and clear the twins' owed bits of [s, e) into pending. */
int sb_harvest_owed(struct iommudirty_tracker *t, uint64_t s, uint64_t e);
/* The atomic unmap through the standby: cost in the range and devices. */
int sb_write_protect(struct iommudirty_tracker *t, uint64_t iova, uint64_t len,
		     uint64_t ps, uint64_t *bitmap, size_t first, size_t last);
/* iommufd_move.c, for the standby. */
int move_devices(struct iommudirty_tracker *t, const struct hwpt *from,
		 const struct hwpt *to, uint32_t from_ioas, uint32_t to_ioas,
		 bool *stuck);
/* Read and clear [s, e) of the HWPTs hw into pending; s and e cut no
 * IOPTE (mapping boundaries). */
int read_to_pending(struct iommudirty_tracker *t, const struct hwpt *hw, size_t n,
		    uint64_t s, uint64_t e);
int type1_backend_init(struct iommudirty_tracker *t,
		       const struct iommudirty_tracker_opts *opts);

/* PCI devices named by BDF (src/pci.c). */
int pci_cdev_path(struct iommudirty_ctx *ctx, const char *bdf, char *path,
		  size_t len);
int pci_group_name(struct iommudirty_ctx *ctx, const char *bdf, char *name,
		   size_t len);

#endif
