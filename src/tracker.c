/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A tracker: one IOAS, the dirty-tracking HWPTs its devices sit behind, the
 * mappings it knows, and the dirty bits harvested but not yet reported.
 *
 * The read path guards against the kernel's traps (../shared/UAPI.md §1.4):
 *  - GET_DIRTY_BITMAP across a hole succeeds with partial data, so each
 *    kernel read covers one run of IOVA-adjacent mappings, never a hole;
 *  - the kernel only sets bits, so the caller's bitmap is zeroed first;
 *  - a clearing read that covers part of a huge IOPTE clears all of it, so
 *    clearing reads are widened to max_io_page boundaries inside a run and
 *    the pages outside the caller's range are kept as pending bits;
 *  - a second ENABLE wipes gathered bits, so each HWPT is enabled once.
 */
#include <pthread.h>
#include <stdlib.h>

#include "iommufd.h"

#define DEFAULT_MAX_IO_PAGE (1ull << 30)

struct mapping {
	uint64_t iova;
	uint64_t len;
};

struct hwpt {
	uint32_t id;
	bool owned;     /* allocated by us: destroyed by us */
	bool vmm_attach; /* owned, but the VMM attaches devices to it */
	bool tracking;  /* ENABLE was sent and not undone */
	unsigned int ndev; /* devices we attached to it */
};

struct attachment {
	uint32_t dev_id;
	int fd;
	uint32_t hwpt_id;
};

struct extent {
	uint64_t start, end; /* [start, end) */
};

struct iommudirty_tracker {
	struct iommudirty_ctx *ctx;
	uint32_t ioas_id;
	bool own_ioas;
	bool started;
	uint64_t max_io_page;
	uint64_t iova_alignment;
	/* Writers: everything that changes maps/hwpts/attachments/started.
	 * Readers: dirty reads, which may run in parallel. */
	pthread_rwlock_t lock;
	/* Pending bits are also changed by (parallel) clearing reads. */
	pthread_mutex_t pending_lock;

	struct mapping *maps; /* sorted by iova, non-overlapping */
	size_t nmaps, cap_maps;
	struct hwpt *hwpts;
	size_t nhwpts, cap_hwpts;
	struct attachment *atts;
	size_t natts, cap_atts;
	struct extent *pending;
	size_t npending, cap_pending;
};

static int grow(void **arr, size_t *cap, size_t need, size_t elsz)
{
	size_t ncap;
	void *p;

	if (need <= *cap)
		return 0;
	ncap = MAX(need, *cap ? *cap * 2 : 8);
	p = realloc(*arr, ncap * elsz);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = ncap;
	return 0;
}
#define GROW(t, name, need)                                                    \
	grow((void **)&(t)->name, &(t)->cap_##name, (need), sizeof(*(t)->name))

static uint64_t align_down(uint64_t x, uint64_t a)
{
	return x & ~(a - 1);
}

/* Range checks common to every call taking [iova, iova+length). */
static int check_range(uint64_t iova, uint64_t length)
{
	if (!length)
		return -EINVAL;
	if (iova + length - 1 < iova)
		return -EOVERFLOW;
	return 0;
}

/* Index of the first mapping that ends after iova. */
static size_t map_lower_bound(const struct iommudirty_tracker *t, uint64_t iova)
{
	size_t lo = 0, hi = t->nmaps;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (t->maps[mid].iova + t->maps[mid].len <= iova)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static void refresh_alignment(struct iommudirty_tracker *t)
{
	uint32_t num = 0;
	uint64_t align;
	int ret = iommufd_ioas_iova_ranges(t->ctx, t->ioas_id, NULL, &num, &align);

	if (ret == -EMSGSIZE) {
		struct uapi_iova_range *r = calloc(num, sizeof(*r));

		ret = r ? iommufd_ioas_iova_ranges(t->ctx, t->ioas_id, r, &num, &align)
			: -ENOMEM;
		free(r);
	}
	if (ret) {
		/* The kernel still enforces alignment; we only pre-check. */
		log_warn(t->ctx, "IOAS %u: IOVA_RANGES: %s; keeping alignment %llu",
			 t->ioas_id, strerror(-ret),
			 (unsigned long long)t->iova_alignment);
		return;
	}
	t->iova_alignment = align ? align : 1;
}

IOMMUDIRTY_API int iommudirty_tracker_new(struct iommudirty_ctx *ctx,
					  const struct iommudirty_tracker_opts *opts,
					  struct iommudirty_tracker **out)
{
	unsigned int flags = OPTS_GET(opts, iommudirty_tracker_opts, flags, 0);
	uint64_t max_io = OPTS_GET(opts, iommudirty_tracker_opts, max_io_page, 0);
	struct iommudirty_tracker *t;
	int ret;

	if (!ctx || !out || !OPTS_VALID(opts, iommudirty_tracker_opts) ||
	    (flags & ~IOMMUDIRTY_TRACKER_ADOPT_IOAS) ||
	    OPTS_GET(opts, iommudirty_tracker_opts, __reserved, 0) ||
	    (max_io && (!is_pow2(max_io) || max_io < 4096)))
		return ret_err(-EINVAL);
	t = calloc(1, sizeof(*t));
	if (!t)
		return ret_err(-ENOMEM);
	t->ctx = ctx;
	t->max_io_page = max_io ? max_io : DEFAULT_MAX_IO_PAGE;
	t->iova_alignment = 1;
	if (pthread_rwlock_init(&t->lock, NULL)) {
		free(t);
		return ret_err(-ENOMEM);
	}
	if (pthread_mutex_init(&t->pending_lock, NULL)) {
		pthread_rwlock_destroy(&t->lock);
		free(t);
		return ret_err(-ENOMEM);
	}
	if (flags & IOMMUDIRTY_TRACKER_ADOPT_IOAS) {
		t->ioas_id = opts->ioas_id;
	} else {
		ret = iommufd_ioas_alloc(ctx, &t->ioas_id);
		if (ret) {
			log_err(ctx, "IOMMU_IOAS_ALLOC: %s", strerror(-ret));
			pthread_mutex_destroy(&t->pending_lock);
			pthread_rwlock_destroy(&t->lock);
			free(t);
			return ret_err(ret);
		}
		t->own_ioas = true;
	}
	ctx_get(ctx);
	if (!t->own_ioas)
		refresh_alignment(t);
	*out = t;
	return 0;
}

static struct hwpt *find_hwpt(struct iommudirty_tracker *t, uint32_t id)
{
	for (size_t i = 0; i < t->nhwpts; i++)
		if (t->hwpts[i].id == id)
			return &t->hwpts[i];
	return NULL;
}

static void remove_hwpt(struct iommudirty_tracker *t, struct hwpt *h)
{
	size_t i = (size_t)(h - t->hwpts);

	memmove(h, h + 1, (t->nhwpts - i - 1) * sizeof(*h));
	t->nhwpts--;
}

/* Destroy an owned HWPT nobody uses any more; on failure keep it (it is
 * still read, and destroy is retried at the next start or at free). */
static void destroy_unused_hwpt(struct iommudirty_tracker *t, struct hwpt *h)
{
	int ret;

	if (h->tracking) {
		ret = iommufd_hwpt_set_dirty(t->ctx, h->id, false);
		if (ret)
			log_warn(t->ctx, "HWPT %u: disable tracking: %s", h->id,
				 strerror(-ret));
		else
			h->tracking = false;
	}
	ret = iommufd_destroy(t->ctx, h->id);
	if (ret) {
		log_warn(t->ctx, "HWPT %u: destroy: %s", h->id, strerror(-ret));
		return;
	}
	remove_hwpt(t, h);
}

static bool hwpt_unused(const struct hwpt *h)
{
	return h->owned && !h->vmm_attach && !h->ndev;
}

static int stop_locked(struct iommudirty_tracker *t)
{
	int first = 0;

	for (size_t i = 0; i < t->nhwpts; i++) {
		struct hwpt *h = &t->hwpts[i];
		int ret;

		if (!h->tracking)
			continue;
		ret = iommufd_hwpt_set_dirty(t->ctx, h->id, false);
		if (ret) {
			/* Still tracking: never ENABLE it again (stale bits are
			 * reported, conservatively, rather than wiped). */
			log_err(t->ctx, "HWPT %u: disable tracking: %s", h->id,
				strerror(-ret));
			if (!first)
				first = ret;
			continue;
		}
		h->tracking = false;
	}
	t->started = false;
	return first;
}

IOMMUDIRTY_API void iommudirty_tracker_free(struct iommudirty_tracker *t)
{
	if (!t)
		return;
	if (t->started)
		stop_locked(t);
	for (size_t i = 0; i < t->natts; i++) {
		int ret = vfio_detach_pt(t->ctx, t->atts[i].fd);

		if (ret)
			log_warn(t->ctx, "device %u: detach: %s", t->atts[i].dev_id,
				 strerror(-ret));
	}
	for (size_t i = 0; i < t->nhwpts; i++) {
		int ret;

		if (!t->hwpts[i].owned)
			continue;
		ret = iommufd_destroy(t->ctx, t->hwpts[i].id);
		if (ret)
			log_warn(t->ctx, "HWPT %u: destroy: %s", t->hwpts[i].id,
				 strerror(-ret));
	}
	if (t->own_ioas) {
		int ret = iommufd_destroy(t->ctx, t->ioas_id);

		if (ret)
			log_warn(t->ctx, "IOAS %u: destroy: %s", t->ioas_id,
				 strerror(-ret));
	}
	pthread_rwlock_destroy(&t->lock);
	pthread_mutex_destroy(&t->pending_lock);
	ctx_put(t->ctx);
	free(t->maps);
	free(t->hwpts);
	free(t->atts);
	free(t->pending);
	free(t);
}

IOMMUDIRTY_API uint32_t iommudirty_tracker_ioas_id(const struct iommudirty_tracker *t)
{
	return t ? t->ioas_id : 0;
}

IOMMUDIRTY_API int iommudirty_tracker_hwpt_ids(struct iommudirty_tracker *t,
					       uint32_t *ids, size_t n)
{
	int total;

	if (!t || (!ids && n))
		return ret_err(-EINVAL);
	pthread_rwlock_rdlock(&t->lock);
	for (size_t i = 0; i < t->nhwpts && i < n; i++)
		ids[i] = t->hwpts[i].id;
	total = (int)t->nhwpts;
	pthread_rwlock_unlock(&t->lock);
	return total;
}

IOMMUDIRTY_API int iommudirty_tracker_started(const struct iommudirty_tracker *t)
{
	return t ? t->started : ret_err(-EINVAL);
}

static int check_can_track(struct iommudirty_tracker *t,
			   const struct iommudirty_device *dev)
{
	IOMMUDIRTY_OPTS(iommudirty_caps, caps);
	char why[400] = "";
	size_t n = 0;

	if (dev->hw.capabilities & IOMMUDIRTY_HW_CAP_DIRTY_TRACKING)
		return 0;
	if (iommudirty_device_caps(dev, &caps))
		caps.nr_reasons = 0;
	/* Every reason on the one line: a caller keeping only the last
	 * message still learns all of them. */
	for (uint32_t i = 0; i < caps.nr_reasons; i++) {
		const char *r = iommudirty_reason_str(caps.reasons[i]);
		size_t len = strlen(r);

		if (n + len + 3 > sizeof(why))
			break;
		if (i) {
			memcpy(why + n, "; ", 2);
			n += 2;
		}
		memcpy(why + n, r, len + 1);
		n += len;
	}
	log_err(t->ctx, "device %u: its IOMMU (%s, hw_info type %#x) cannot "
		"track dirty pages: %s", dev->dev_id,
		iommudirty_vendor_str(caps.vendor), dev->hw.type, why);
	return -EOPNOTSUPP;
}

/* Allocate a dirty HWPT for dev, enabled if the tracker is started. The
 * caller reserved room in t->hwpts. */
static int new_hwpt(struct iommudirty_tracker *t,
		    const struct iommudirty_device *dev, struct hwpt **out)
{
	struct hwpt *h = &t->hwpts[t->nhwpts];
	int ret;

	*h = (struct hwpt){ .owned = true };
	ret = iommufd_hwpt_alloc_dirty(t->ctx, dev->dev_id, t->ioas_id, &h->id);
	if (ret) {
		log_err(t->ctx, "device %u: HWPT_ALLOC(DIRTY_TRACKING): %s",
			dev->dev_id, strerror(-ret));
		return ret;
	}
	t->nhwpts++;
	if (t->started) {
		/* A new, never-enabled HWPT: the single ENABLE it will get. */
		ret = iommufd_hwpt_set_dirty(t->ctx, h->id, true);
		if (ret) {
			log_err(t->ctx, "HWPT %u: enable tracking: %s", h->id,
				strerror(-ret));
			destroy_unused_hwpt(t, h);
			return ret;
		}
		h->tracking = true;
	}
	*out = h;
	return 0;
}

IOMMUDIRTY_API int iommudirty_tracker_attach(struct iommudirty_tracker *t,
					     struct iommudirty_device *dev)
{
	struct hwpt *h = NULL;
	int ret;

	if (!t || !dev || dev->ctx != t->ctx)
		return ret_err(-EINVAL);
	if (dev->fd < 0)
		return ret_err(-EBADF);
	pthread_rwlock_wrlock(&t->lock);
	for (size_t i = 0; i < t->natts; i++) {
		if (t->atts[i].dev_id == dev->dev_id) {
			ret = -EALREADY;
			goto out;
		}
	}
	ret = check_can_track(t, dev);
	if (ret)
		goto out;
	ret = GROW(t, atts, t->natts + 1);
	if (!ret)
		ret = GROW(t, hwpts, t->nhwpts + 1);
	if (ret)
		goto out;

	/* The kernel says -EINVAL when a HWPT belongs to another IOMMU
	 * instance: try the next one. */
	for (size_t i = 0; i < t->nhwpts; i++) {
		if (t->hwpts[i].vmm_attach)
			continue;
		ret = vfio_attach_pt(t->ctx, dev->fd, t->hwpts[i].id, NULL);
		if (!ret) {
			h = &t->hwpts[i];
			break;
		}
		if (ret != -EINVAL)
			goto out;
	}
	if (!h) {
		ret = new_hwpt(t, dev, &h);
		if (ret)
			goto out;
		ret = vfio_attach_pt(t->ctx, dev->fd, h->id, NULL);
		if (ret) {
			log_err(t->ctx, "device %u: attach to HWPT %u: %s",
				dev->dev_id, h->id, strerror(-ret));
			destroy_unused_hwpt(t, h);
			goto out;
		}
	}
	h->ndev++;
	t->atts[t->natts++] = (struct attachment){
		.dev_id = dev->dev_id, .fd = dev->fd, .hwpt_id = h->id,
	};
	log_info(t->ctx, "device %u attached to dirty-tracking HWPT %u", dev->dev_id,
		 h->id);
	refresh_alignment(t);
out:
	pthread_rwlock_unlock(&t->lock);
	return ret_err(ret);
}

IOMMUDIRTY_API int iommudirty_tracker_alloc_hwpt(struct iommudirty_tracker *t,
						 struct iommudirty_device *dev,
						 uint32_t *hwpt_id)
{
	struct hwpt *h;
	int ret;

	if (!t || !dev || !hwpt_id || dev->ctx != t->ctx)
		return ret_err(-EINVAL);
	pthread_rwlock_wrlock(&t->lock);
	ret = check_can_track(t, dev);
	if (!ret)
		ret = GROW(t, hwpts, t->nhwpts + 1);
	if (!ret)
		ret = new_hwpt(t, dev, &h);
	if (!ret) {
		h->vmm_attach = true;
		*hwpt_id = h->id;
	}
	pthread_rwlock_unlock(&t->lock);
	return ret_err(ret);
}

IOMMUDIRTY_API int iommudirty_tracker_adopt_hwpt(struct iommudirty_tracker *t,
						 uint32_t hwpt_id,
						 unsigned int flags)
{
	struct hwpt h = { .id = hwpt_id };
	int ret;

	if (!t || (flags & ~IOMMUDIRTY_HWPT_TRACKING_ON))
		return ret_err(-EINVAL);
	pthread_rwlock_wrlock(&t->lock);
	if (find_hwpt(t, hwpt_id)) {
		ret = -EEXIST;
		goto out;
	}
	ret = GROW(t, hwpts, t->nhwpts + 1);
	if (ret)
		goto out;
	h.tracking = flags & IOMMUDIRTY_HWPT_TRACKING_ON;
	if (t->started && !h.tracking) {
		ret = iommufd_hwpt_set_dirty(t->ctx, hwpt_id, true);
		if (ret) {
			log_err(t->ctx, "adopted HWPT %u: enable tracking: %s",
				hwpt_id, strerror(-ret));
			goto out;
		}
		h.tracking = true;
	}
	t->hwpts[t->nhwpts++] = h;
	refresh_alignment(t);
out:
	pthread_rwlock_unlock(&t->lock);
	return ret_err(ret);
}

IOMMUDIRTY_API int iommudirty_tracker_detach(struct iommudirty_tracker *t,
					     struct iommudirty_device *dev)
{
	struct attachment *a = NULL;
	struct hwpt *h;
	int ret;

	if (!t || !dev)
		return ret_err(-EINVAL);
	pthread_rwlock_wrlock(&t->lock);
	for (size_t i = 0; i < t->natts; i++)
		if (t->atts[i].dev_id == dev->dev_id)
			a = &t->atts[i];
	if (!a) {
		ret = -ENOENT;
		goto out;
	}
	ret = vfio_detach_pt(t->ctx, a->fd);
	if (ret) {
		log_err(t->ctx, "device %u: detach: %s", a->dev_id, strerror(-ret));
		goto out;
	}
	h = find_hwpt(t, a->hwpt_id);
	memmove(a, a + 1, (size_t)(t->atts + t->natts - a - 1) * sizeof(*a));
	t->natts--;
	if (h) {
		h->ndev--;
		/* While started its bits are still owed to the caller. */
		if (hwpt_unused(h) && !t->started)
			destroy_unused_hwpt(t, h);
	}
	refresh_alignment(t);
out:
	pthread_rwlock_unlock(&t->lock);
	return ret_err(ret);
}

static int insert_mapping(struct iommudirty_tracker *t, uint64_t iova,
			  uint64_t length, void *va, unsigned int flags, bool adopt)
{
	size_t i;
	int ret = check_range(iova, length);

	if (ret)
		return ret;
	if (iova % t->iova_alignment || length % t->iova_alignment)
		return -EINVAL;
	i = map_lower_bound(t, iova);
	if (i < t->nmaps && t->maps[i].iova < iova + length)
		return -EEXIST;
	ret = GROW(t, maps, t->nmaps + 1);
	if (ret)
		return ret;
	if (!adopt) {
		ret = iommufd_ioas_map(t->ctx, t->ioas_id, va, length, iova, flags);
		if (ret) {
			log_err(t->ctx, "IOAS %u: map [%#llx, +%#llx): %s", t->ioas_id,
				(unsigned long long)iova, (unsigned long long)length,
				strerror(-ret));
			return ret;
		}
	}
	memmove(&t->maps[i + 1], &t->maps[i], (t->nmaps - i) * sizeof(*t->maps));
	t->maps[i] = (struct mapping){ .iova = iova, .len = length };
	t->nmaps++;
	return 0;
}

IOMMUDIRTY_API int iommudirty_tracker_map(struct iommudirty_tracker *t,
					  void *va, uint64_t length,
					  uint64_t iova, unsigned int flags)
{
	int ret;

	if (!t || !va || !flags ||
	    (flags & ~(IOMMUDIRTY_MAP_READ | IOMMUDIRTY_MAP_WRITE)))
		return ret_err(-EINVAL);
	pthread_rwlock_wrlock(&t->lock);
	ret = insert_mapping(t, iova, length, va, flags, false);
	pthread_rwlock_unlock(&t->lock);
	return ret_err(ret);
}

IOMMUDIRTY_API int iommudirty_tracker_adopt_mapping(struct iommudirty_tracker *t,
						    uint64_t iova,
						    uint64_t length)
{
	int ret;

	if (!t)
		return ret_err(-EINVAL);
	pthread_rwlock_wrlock(&t->lock);
	ret = insert_mapping(t, iova, length, NULL, 0, true);
	pthread_rwlock_unlock(&t->lock);
	return ret_err(ret);
}

/* The mappings [*first, *last) lie inside [iova, end); -ENOENT if the range
 * cuts a mapping or holds none (the kernel's rule, checked up front). */
static int whole_mappings(const struct iommudirty_tracker *t, uint64_t iova,
			  uint64_t end, size_t *first, size_t *last)
{
	size_t i = map_lower_bound(t, iova), j = i;

	while (j < t->nmaps && t->maps[j].iova < end)
		j++;
	if (i == j)
		return -ENOENT;
	if (t->maps[i].iova < iova || t->maps[j - 1].iova + t->maps[j - 1].len > end)
		return -ENOENT;
	*first = i;
	*last = j;
	return 0;
}

/* Forget pending bits inside [start, end). */
static void pending_drop(struct iommudirty_tracker *t, uint64_t start, uint64_t end);

static int unmap_locked(struct iommudirty_tracker *t, uint64_t iova,
			uint64_t length, size_t first, size_t last)
{
	int ret = iommufd_ioas_unmap(t->ctx, t->ioas_id, iova, length, NULL);

	if (ret) {
		log_err(t->ctx, "IOAS %u: unmap [%#llx, +%#llx): %s", t->ioas_id,
			(unsigned long long)iova, (unsigned long long)length,
			strerror(-ret));
		return ret;
	}
	memmove(&t->maps[first], &t->maps[last],
		(t->nmaps - last) * sizeof(*t->maps));
	t->nmaps -= last - first;
	pending_drop(t, iova, iova + length);
	return 0;
}

IOMMUDIRTY_API int iommudirty_tracker_unmap(struct iommudirty_tracker *t,
					    uint64_t iova, uint64_t length)
{
	size_t first, last;
	int ret;

	if (!t)
		return ret_err(-EINVAL);
	ret = check_range(iova, length);
	if (ret)
		return ret_err(ret);
	pthread_rwlock_wrlock(&t->lock);
	ret = whole_mappings(t, iova, iova + length, &first, &last);
	if (!ret)
		ret = unmap_locked(t, iova, length, first, last);
	pthread_rwlock_unlock(&t->lock);
	return ret_err(ret);
}

_Static_assert(sizeof(struct iommudirty_iova_range) == sizeof(struct uapi_iova_range),
	       "public range is the kernel's");

IOMMUDIRTY_API int iommudirty_tracker_iova_ranges(struct iommudirty_tracker *t,
						  struct iommudirty_iova_range *ranges,
						  size_t n, uint64_t *alignment)
{
	uint32_t num = n > UINT32_MAX ? UINT32_MAX : (uint32_t)n;
	uint64_t align = 0;
	int ret;

	if (!t || (!ranges && n))
		return ret_err(-EINVAL);
	ret = iommufd_ioas_iova_ranges(t->ctx, t->ioas_id,
				       (struct uapi_iova_range *)ranges, &num,
				       &align);
	if (ret == -EMSGSIZE) {
		/* Too small an array: report the total, as documented. */
		uint32_t total = num;
		struct uapi_iova_range *tmp = calloc(total, sizeof(*tmp));

		if (!tmp)
			return ret_err(-ENOMEM);
		ret = iommufd_ioas_iova_ranges(t->ctx, t->ioas_id, tmp, &num, &align);
		if (!ret && n)
			memcpy(ranges, tmp, MIN((size_t)num, n) * sizeof(*tmp));
		free(tmp);
	}
	if (ret)
		return ret_err(ret);
	if (alignment)
		*alignment = align ? align : 1;
	return num > INT32_MAX ? INT32_MAX : (int)num;
}

IOMMUDIRTY_API int iommudirty_tracker_start(struct iommudirty_tracker *t)
{
	int ret = 0;
	size_t i;

	if (!t)
		return ret_err(-EINVAL);
	pthread_rwlock_wrlock(&t->lock);
	if (t->started)
		goto out;
	/* HWPTs left over from detached devices: their bits are void now. */
	for (i = t->nhwpts; i-- > 0;)
		if (hwpt_unused(&t->hwpts[i]))
			destroy_unused_hwpt(t, &t->hwpts[i]);
	for (i = 0; i < t->nhwpts; i++) {
		struct hwpt *h = &t->hwpts[i];

		if (h->tracking)
			continue; /* ENABLE again would wipe its bits */
		ret = iommufd_hwpt_set_dirty(t->ctx, h->id, true);
		if (ret) {
			log_err(t->ctx, "HWPT %u: enable tracking: %s", h->id,
				strerror(-ret));
			break;
		}
		h->tracking = true;
	}
	if (ret) {
		/* Undo what this call enabled, newest first. */
		while (i-- > 0) {
			if (iommufd_hwpt_set_dirty(t->ctx, t->hwpts[i].id, false) == 0)
				t->hwpts[i].tracking = false;
		}
		goto out;
	}
	pthread_mutex_lock(&t->pending_lock);
	t->npending = 0;
	pthread_mutex_unlock(&t->pending_lock);
	t->started = true;
out:
	pthread_rwlock_unlock(&t->lock);
	return ret_err(ret);
}

IOMMUDIRTY_API int iommudirty_tracker_stop(struct iommudirty_tracker *t)
{
	int ret = 0;

	if (!t)
		return ret_err(-EINVAL);
	pthread_rwlock_wrlock(&t->lock);
	if (t->started)
		ret = stop_locked(t);
	pthread_rwlock_unlock(&t->lock);
	return ret_err(ret);
}

/* ------------------------------------------------------------------------ */
/* Pending bits: dirty pages harvested by a widened clearing read outside
 * the caller's range. Kept as IOVA extents; reported (and, when clearing,
 * forgotten) by the next read that covers them. */

static void pending_drop_locked(struct iommudirty_tracker *t, uint64_t start,
				uint64_t end)
{
	for (size_t i = 0; i < t->npending;) {
		struct extent *e = &t->pending[i];

		if (e->end <= start || e->start >= end) {
			i++;
		} else if (e->start < start && e->end > end) {
			/* Split; if that fails keep it whole: over-reporting
			 * is safe, losing bits is not. */
			if (GROW(t, pending, t->npending + 1) == 0) {
				e = &t->pending[i];
				t->pending[t->npending++] =
					(struct extent){ end, e->end };
				e->end = start;
			}
			i++;
		} else if (e->start < start) {
			e->end = start;
			i++;
		} else if (e->end > end) {
			e->start = end;
			i++;
		} else {
			*e = t->pending[--t->npending];
		}
	}
}

static void pending_drop(struct iommudirty_tracker *t, uint64_t start, uint64_t end)
{
	pthread_mutex_lock(&t->pending_lock);
	pending_drop_locked(t, start, end);
	pthread_mutex_unlock(&t->pending_lock);
}

/* Caller holds pending_lock. On -ENOMEM the caller falls back to a coarser
 * extent it reserved room for. */
static int pending_add_locked(struct iommudirty_tracker *t, uint64_t start,
			      uint64_t end)
{
	int ret = GROW(t, pending, t->npending + 1);

	if (ret)
		return ret;
	t->pending[t->npending++] = (struct extent){ start, end };
	return 0;
}

/* Mark caller pages covering [x, y) dirty. */
static void mark_bytes(uint64_t *bitmap, uint64_t iova, uint64_t page_size,
		       uint64_t x, uint64_t y)
{
	uint64_t first = (x - iova) / page_size;
	uint64_t last = (y - 1 - iova) / page_size;

	bitmap_set_range(bitmap, first, last - first + 1);
}

static void pending_report(struct iommudirty_tracker *t, uint64_t iova,
			   uint64_t end, uint64_t page_size, uint64_t *bitmap,
			   bool clear)
{
	bool any = false;

	pthread_mutex_lock(&t->pending_lock);
	for (size_t i = 0; i < t->npending; i++) {
		const struct extent *e = &t->pending[i];

		if (e->end <= iova || e->start >= end)
			continue;
		mark_bytes(bitmap, iova, page_size, MAX(e->start, iova),
			   MIN(e->end, end));
		any = true;
	}
	/* Under the same lock: a bit added after the report is not dropped. */
	if (any && clear)
		pending_drop_locked(t, iova, end);
	pthread_mutex_unlock(&t->pending_lock);
}

/* ------------------------------------------------------------------------ */
/* The read path. */

struct read_req {
	struct iommudirty_tracker *t;
	uint64_t iova, end;    /* the caller's range */
	uint64_t page_size;
	uint64_t *bitmap;
	bool no_clear;
};

/* One kernel read per HWPT of [s, e) at page size ps into buf. */
static int read_hwpts(const struct read_req *r, uint64_t s, uint64_t e,
		      uint64_t ps, void *buf)
{
	for (size_t i = 0; i < r->t->nhwpts; i++) {
		int ret = iommufd_hwpt_get_dirty(r->t->ctx, r->t->hwpts[i].id, s,
						 e - s, ps, buf, r->no_clear);

		if (ret) {
			log_err(r->t->ctx, "HWPT %u: GET_DIRTY_BITMAP [%#llx, +%#llx) "
				"page %#llx: %s", r->t->hwpts[i].id,
				(unsigned long long)s, (unsigned long long)(e - s),
				(unsigned long long)ps, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

/* [s, e) is inside the caller's range and page-aligned: the kernel writes
 * straight into the caller's bitmap. */
static int read_direct(const struct read_req *r, uint64_t s, uint64_t e)
{
	uint64_t d = (s - r->iova) / r->page_size;
	uint64_t n = (e - s) / r->page_size;
	unsigned int k = d % 64;
	uint64_t *w = &r->bitmap[d / 64];
	uint64_t saved;
	int ret;

	if (!k)
		return read_hwpts(r, s, e, r->page_size, w);
	/* The kernel writes from bit 0 of a word: let it write k bits low,
	 * then shift the run into place. Bits below d in that word belong to
	 * earlier runs: set them aside. Everything from d up is still zero. */
	saved = *w;
	*w = 0;
	ret = read_hwpts(r, s, e, r->page_size, w);
	bitmap_shift_up(r->bitmap, d - k, n, k);
	*w |= saved;
	return ret;
}

struct bounce_ctx {
	const struct read_req *r;
	uint64_t ws, fps;
	uint64_t lost_start, lost_end; /* span that could not be recorded */
};

static int bounce_run(uint64_t first, uint64_t count, void *user)
{
	struct bounce_ctx *b = user;
	const struct read_req *r = b->r;
	uint64_t x = b->ws + first * b->fps, y = x + count * b->fps;
	uint64_t in_s = MAX(x, r->iova), in_e = MIN(y, r->end);

	if (in_s < in_e)
		mark_bytes(r->bitmap, r->iova, r->page_size, in_s, in_e);
	/* Parts outside the caller's range: pending if this read cleared
	 * them; a read without clearing left them in the IOMMU. */
	for (int side = 0; side < 2 && !r->no_clear; side++) {
		uint64_t ps = side ? MAX(x, r->end) : x;
		uint64_t pe = side ? y : MIN(y, r->iova);

		if (ps >= pe)
			continue;
		if (pending_add_locked(r->t, ps, pe)) {
			b->lost_start = MIN(b->lost_start, ps);
			b->lost_end = MAX(b->lost_end, pe);
		}
	}
	return 0;
}

/* Read [ws, we) through a scratch bitmap at the largest page size <= the
 * caller's that its ends allow; then fold into the caller's pages and keep
 * what lies outside the caller's range as pending. */
static int read_bounce(const struct read_req *r, uint64_t ws, uint64_t we)
{
	struct bounce_ctx b = { .r = r, .ws = ws, .fps = r->page_size,
				.lost_start = UINT64_MAX };
	uint64_t nbits, *scratch;
	size_t bytes;
	int ret;

	while ((ws | we) & (b.fps - 1))
		b.fps >>= 1;
	nbits = (we - ws) / b.fps;
	/* Whole pages: if max_io_page was set too small, the kernel's
	 * overrun (up to the end of the bitmap's last page) stays ours. */
	bytes = ((nbits + 63) / 64 * 8 + 4095) & ~(size_t)4095;
	scratch = aligned_alloc(4096, bytes);
	if (!scratch)
		return -ENOMEM;
	memset(scratch, 0, bytes);
	/* Room for one coarse extent, so a failed fine-grained record never
	 * loses bits the kernel already cleared. */
	pthread_mutex_lock(&r->t->pending_lock);
	ret = GROW(r->t, pending, r->t->npending + 1);
	pthread_mutex_unlock(&r->t->pending_lock);
	if (ret) {
		free(scratch);
		return ret;
	}
	ret = read_hwpts(r, ws, we, b.fps, scratch);
	pthread_mutex_lock(&r->t->pending_lock);
	iommudirty_bitmap_for_each_run(scratch, nbits, bounce_run, &b);
	if (b.lost_start < b.lost_end) {
		/* Coalesce everything we could not record into one extent. */
		if (GROW(r->t, pending, r->t->npending + 1) == 0)
			r->t->pending[r->t->npending++] =
				(struct extent){ b.lost_start, b.lost_end };
	}
	pthread_mutex_unlock(&r->t->pending_lock);
	free(scratch);
	return ret;
}

/* Read the part [a, b) of the caller's range that lies in the run of
 * adjacent mappings [rs, re). */
static int read_piece(const struct read_req *r, uint64_t a, uint64_t b,
		      uint64_t rs, uint64_t re)
{
	uint64_t ps = r->page_size, H = r->t->max_io_page;
	uint64_t G = MAX(ps, H);
	uint64_t lo = a, hi = b, h1, t0;
	int ret;

	/* A kernel read must never start or end inside an IOPTE: a clearing
	 * one would clear pages outside it, and the drivers record a dirty
	 * IOPTE's whole size from where they enter it, writing bits past the
	 * end of the bitmap. IOPTEs never cross a mapping and never an H
	 * boundary: widen to those, within the run. */
	if (a > rs && a % H)
		lo = MAX(rs, align_down(a, H));
	if (b < re && b % H)
		hi = MIN(re, align_down(b, H) + H);
	if (lo == a && hi == b && !(a % ps) && !(b % ps))
		return read_direct(r, a, b);

	h1 = lo;
	if (lo < a || lo % ps)
		h1 = MIN(hi, align_down(lo, G) + G);
	t0 = hi;
	if (hi > b || hi % ps)
		t0 = MAX(h1, align_down(hi - 1, G));
	if (h1 > lo) {
		ret = read_bounce(r, lo, h1);
		if (ret)
			return ret;
	}
	if (t0 > h1) {
		ret = read_direct(r, h1, t0);
		if (ret)
			return ret;
	}
	if (hi > t0)
		return read_bounce(r, t0, hi);
	return 0;
}

static int check_read_args(struct iommudirty_tracker *t, uint64_t iova,
			   uint64_t length, uint64_t page_size,
			   const uint64_t *bitmap, size_t bitmap_bytes,
			   unsigned int flags)
{
	int ret;

	if (!t || !bitmap || !is_pow2(page_size) || (flags & ~IOMMUDIRTY_READ_NO_CLEAR))
		return -EINVAL;
	ret = check_range(iova, length);
	if (ret)
		return ret;
	if (iova % page_size || length % page_size || iova % t->iova_alignment ||
	    length % t->iova_alignment)
		return -EINVAL;
	if (bitmap_bytes < iommudirty_bitmap_size(length, page_size))
		return -ERANGE;
	return 0;
}

/* Caller holds t->lock (read or write). */
static int read_locked(struct iommudirty_tracker *t, uint64_t iova,
		       uint64_t length, uint64_t page_size, uint64_t *bitmap,
		       bool no_clear)
{
	struct read_req r = {
		.t = t, .iova = iova, .end = iova + length, .page_size = page_size,
		.bitmap = bitmap, .no_clear = no_clear,
	};
	size_t i = map_lower_bound(t, iova);
	int ret = 0;

	if (!t->started)
		return -EINVAL;
	memset(bitmap, 0, iommudirty_bitmap_size(length, page_size));
	while (i < t->nmaps && t->maps[i].iova < r.end) {
		uint64_t rs = t->maps[i].iova, re = rs + t->maps[i].len;

		/* Extend over IOVA-adjacent mappings: one kernel read. */
		while (i + 1 < t->nmaps && t->maps[i + 1].iova == re) {
			i++;
			re += t->maps[i].len;
		}
		i++;
		ret = read_piece(&r, MAX(rs, iova), MIN(re, r.end), rs, re);
		if (ret)
			break;
	}
	pending_report(t, iova, r.end, page_size, bitmap, !no_clear && !ret);
	return ret;
}

IOMMUDIRTY_API int iommudirty_tracker_read(struct iommudirty_tracker *t,
					   uint64_t iova, uint64_t length,
					   uint64_t page_size, uint64_t *bitmap,
					   size_t bitmap_bytes,
					   unsigned int flags)
{
	int ret = check_read_args(t, iova, length, page_size, bitmap,
				  bitmap_bytes, flags);

	if (ret)
		return ret_err(ret);
	pthread_rwlock_rdlock(&t->lock);
	ret = read_locked(t, iova, length, page_size, bitmap,
			  flags & IOMMUDIRTY_READ_NO_CLEAR);
	pthread_rwlock_unlock(&t->lock);
	return ret_err(ret);
}

IOMMUDIRTY_API int iommudirty_tracker_unmap_dirty(struct iommudirty_tracker *t,
						  uint64_t iova, uint64_t length,
						  uint64_t page_size,
						  uint64_t *bitmap,
						  size_t bitmap_bytes,
						  unsigned int flags)
{
	size_t first, last;
	int ret;

	if (flags & IOMMUDIRTY_UNMAP_ATOMIC)
		return ret_err(t ? -EOPNOTSUPP : -EINVAL);
	if (flags)
		return ret_err(-EINVAL);
	ret = check_read_args(t, iova, length, page_size, bitmap, bitmap_bytes, 0);
	if (ret)
		return ret_err(ret);
	pthread_rwlock_wrlock(&t->lock);
	ret = whole_mappings(t, iova, iova + length, &first, &last);
	/* No clear: the unmap flushes the IOTLB anyway, and on failure the
	 * bits are still there for the next read. */
	if (!ret)
		ret = read_locked(t, iova, length, page_size, bitmap, true);
	if (!ret)
		ret = unmap_locked(t, iova, length, first, last);
	pthread_rwlock_unlock(&t->lock);
	return ret_err(ret);
}
