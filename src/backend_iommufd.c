/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The iommufd backend: an IOAS, one dirty-tracking HWPT per IOMMU instance
 * its devices sit behind, hardware dirty bits.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>

#include "iommufd.h"
#include "tracker.h"

void refresh_alignment(struct iommudirty_tracker *t)
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
	if (h->twin)
		ctx_destroy_or_defer(t->ctx, h->twin);
	remove_hwpt(t, h);
}

bool hwpt_unused(const struct hwpt *h)
{
	return h->owned && !h->vmm_attach && !h->ndev;
}

static bool is_iommufd(const struct iommudirty_tracker *t)
{
	return backend_source(t) == IOMMUDIRTY_SOURCE_IOMMU;
}

bool hwpt_wanted(const struct iommudirty_tracker *t, const struct hwpt *h)
{
	if (!h->owned || h->vmm_attach)
		return true; /* the VMM's devices read through it */
	for (size_t i = 0; i < t->natts; i++)
		if (t->atts[i].hwpt_id == h->id &&
		    t->atts[i].source == IOMMUDIRTY_SOURCE_IOMMU)
			return true;
	return false;
}

static bool iommufd_tracking(const struct iommudirty_tracker *t)
{
	for (size_t i = 0; i < t->nhwpts; i++)
		if (t->hwpts[i].tracking)
			return true;
	return false;
}

static int iommufd_stop(struct iommudirty_tracker *t)
{
	int first = 0;

	/* Unread bits are lost at stop, the standby's too. */
	sb_destroy(t);
	for (size_t i = 0; i < t->nhwpts; i++) {
		struct hwpt *h = &t->hwpts[i];
		int ret;

		/* At free the VMM's HWPT stays as the VMM gave it. */
		if (!h->tracking || (t->freeing && h->found_on))
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
	return first;
}

static int iommufd_start(struct iommudirty_tracker *t)
{
	int ret = 0;
	size_t i;

	/* HWPTs left over from detached devices: their bits are void now. */
	for (i = t->nhwpts; i-- > 0;)
		if (hwpt_unused(&t->hwpts[i]))
			destroy_unused_hwpt(t, &t->hwpts[i]);
	bool *enabled = calloc(t->nhwpts ? t->nhwpts : 1, sizeof(*enabled));

	if (!enabled)
		return -ENOMEM;
	for (i = 0; i < t->nhwpts; i++) {
		struct hwpt *h = &t->hwpts[i];

		/* ENABLE again would wipe its bits; one whose devices all
		 * log is left off (no IOMMU overhead). */
		if (h->tracking || !hwpt_wanted(t, h))
			continue;
		ret = iommufd_hwpt_set_dirty(t->ctx, h->id, true);
		if (ret == -ENOENT && !h->owned) {
			/* The VMM's id names nothing (any more): forget it, so
			 * that the next start works. */
			log_err(t->ctx, "adopted HWPT %u: no such object: forgotten", h->id);
			remove_hwpt(t, h);
			break;
		}
		if (ret) {
			log_err(t->ctx, "HWPT %u: enable tracking: %s", h->id,
				strerror(-ret));
			break;
		}
		h->tracking = true;
		enabled[i] = true;
	}
	if (!ret && (t->flags & IOMMUDIRTY_TRACKER_STANDBY)) {
		ret = sb_build(t);
		if (ret)
			log_err(t->ctx, "start: the standby: %s", strerror(-ret));
		i = t->nhwpts;
	}
	/* Undo only what this call enabled: one that was already tracking
	 * (adopted with TRACKING_ON) keeps its bits and its state. */
	while (ret && i-- > 0) {
		if (enabled[i] &&
		    iommufd_hwpt_set_dirty(t->ctx, t->hwpts[i].id, false) == 0)
			t->hwpts[i].tracking = false;
	}
	free(enabled);
	return ret;
}

static void iommufd_destroy_all(struct iommudirty_tracker *t)
{
	sb_destroy(t);
	/* The VMM's IOAS as it was found: without the mappings we made. */
	for (size_t i = 0; !t->own_ioas && t->ioas_id && i < t->nmaps; i++) {
		const struct mapping *m = &t->maps[i];

		if (!m->adopted && !m->gone &&
		    iommufd_ioas_unmap(t->ctx, t->ioas_id, m->iova, m->len, NULL))
			log_warn(t->ctx, "adopted IOAS %u: unmap [%#llx, +%#llx) at free failed",
				 t->ioas_id, (unsigned long long)m->iova,
				 (unsigned long long)m->len);
	}
	for (size_t i = 0; i < t->natts; i++) {
		int ret;

		devlog_free(t->atts[i].log);
		if (t->atts[i].flags & IOMMUDIRTY_ATTACH_BY_VMM)
			continue;
		ret = vfio_detach_pt(t->ctx, t->atts[i].fd);
		if (ret)
			log_warn(t->ctx, "device %u: detach: %s", t->atts[i].dev_id,
				 strerror(-ret));
	}
	for (size_t i = 0; i < t->nhwpts; i++)
		if (t->hwpts[i].owned)
			ctx_destroy_or_defer(t->ctx, t->hwpts[i].id);
	if (t->own_ioas)
		ctx_destroy_or_defer(t->ctx, t->ioas_id);
	/* Devices we opened: closing the cdev unbinds them. */
	for (size_t i = 0; i < t->npci; i++) {
		iommudirty_device_free(t->pci[i].dev);
		t->ctx->sys->close(t->ctx->sys_priv, t->pci[i].fd);
	}
	free(t->pci);
	t->pci = NULL;
	t->npci = 0;
	free(t->hwpts);
	free(t->atts);
	t->hwpts = NULL;
	t->atts = NULL;
	t->nhwpts = t->natts = t->cap_hwpts = t->cap_atts = 0;
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

/* Every reason on one line: a caller keeping only the last message still
 * learns all of them. Each is also noted in t->info. */
static void log_reasons_line(struct iommudirty_tracker *t,
			     const struct iommudirty_device *dev, const char *what,
			     const uint32_t *reasons, uint32_t nr)
{
	IOMMUDIRTY_OPTS(iommudirty_caps, caps);
	char why[600] = "";
	size_t n = 0;

	if (iommudirty_device_caps(dev, &caps))
		caps.vendor = IOMMUDIRTY_VENDOR_UNKNOWN;
	for (uint32_t i = 0; i < nr; i++) {
		const char *r = iommudirty_reason_str(reasons[i]);
		size_t len = strlen(r);

		info_add_reason(&t->info, reasons[i]);
		if (n + len + 3 > sizeof(why))
			continue;
		if (n) {
			memcpy(why + n, "; ", 2);
			n += 2;
		}
		memcpy(why + n, r, len + 1);
		n += len;
	}
	log_err(t->ctx, "device %u (IOMMU %s, hw_info type %#x): %s: %s", dev->dev_id,
		iommudirty_vendor_str(caps.vendor), dev->hw.type, what, why);
}

static int check_can_track(struct iommudirty_tracker *t,
			   const struct iommudirty_device *dev)
{
	IOMMUDIRTY_OPTS(iommudirty_caps, caps);
	uint32_t why[IOMMUDIRTY_CAPS_MAX_REASONS + 1] = {
		IOMMUDIRTY_REASON_DEVICE_CANNOT_TRACK,
	};

	if (dev->hw.capabilities & IOMMUDIRTY_HW_CAP_DIRTY_TRACKING)
		return 0;
	if (iommudirty_device_caps(dev, &caps))
		caps.nr_reasons = 0;
	memcpy(why + 1, caps.reasons, caps.nr_reasons * sizeof(*why));
	log_reasons_line(t, dev, "its IOMMU cannot track dirty pages", why,
			 caps.nr_reasons + 1);
	return -EOPNOTSUPP;
}

/* Allocate a dirty HWPT for dev, enabled if the tracker is started. The
 * caller reserved room in t->hwpts. */
static int new_hwpt(struct iommudirty_tracker *t,
		    const struct iommudirty_device *dev, struct hwpt **out)
{
	struct hwpt *h = &t->hwpts[t->nhwpts];
	int ret;

	*h = (struct hwpt){ .owned = true, .dev_id = dev->dev_id };
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
	if (sb_add_twin(t, h)) {
		/* Rebuilt at the next atomic unmap. */
		sb_drop(t);
	}
	*out = h;
	return 0;
}

/* Put dev on a dirty-tracking HWPT of ours (an existing one the kernel
 * accepts, else a new one). */
static int attach_hwpt(struct iommudirty_tracker *t, struct iommudirty_device *dev,
		       struct hwpt **out)
{
	struct hwpt *h = NULL;
	int ret = GROW(t, hwpts, t->nhwpts + 1);

	if (ret)
		return ret;
	/* The kernel says -EINVAL when a HWPT belongs to another IOMMU
	 * instance: try the next one. */
	for (size_t i = 0; i < t->nhwpts; i++) {
		if (t->hwpts[i].vmm_attach || !t->hwpts[i].owned)
			continue;
		ret = vfio_attach_pt(t->ctx, dev->fd, t->hwpts[i].id, NULL);
		if (!ret) {
			h = &t->hwpts[i];
			break;
		}
		if (ret != -EINVAL)
			return ret;
	}
	if (!h) {
		ret = new_hwpt(t, dev, &h);
		if (ret)
			return ret;
		ret = vfio_attach_pt(t->ctx, dev->fd, h->id, NULL);
		if (ret) {
			log_err(t->ctx, "device %u: attach to HWPT %u: %s",
				dev->dev_id, h->id, strerror(-ret));
			destroy_unused_hwpt(t, h);
			return ret;
		}
	}
	/* A HWPT reused after its last device left (kept while started)
	 * has no device to allocate a twin through: this one. */
	if (!h->dev_id)
		h->dev_id = dev->dev_id;
	h->ndev++;
	*out = h;
	return 0;
}

/* Enable a's HWPT if it must track now and does not yet (it never did:
 * no bits to wipe). */
static int enable_for(struct iommudirty_tracker *t, const struct attachment *a)
{
	struct hwpt *h = a->hwpt_id ? find_hwpt(t, a->hwpt_id) : NULL;
	int ret;

	if (!t->started || !h || h->tracking || !hwpt_wanted(t, h))
		return 0;
	ret = iommufd_hwpt_set_dirty(t->ctx, h->id, true);
	if (ret) {
		log_err(t->ctx, "HWPT %u: enable tracking: %s", h->id, strerror(-ret));
		return ret;
	}
	h->tracking = true;
	if (sb_enable_twin(t, h))
		sb_drop(t);
	return 0;
}

static void undo_attach(struct iommudirty_tracker *t, struct attachment *a)
{
	struct hwpt *h = a->hwpt_id ? find_hwpt(t, a->hwpt_id) : NULL;

	if (!(a->flags & IOMMUDIRTY_ATTACH_BY_VMM) && vfio_detach_pt(t->ctx, a->fd))
		log_warn(t->ctx, "device %u: detach after a failed attach failed",
			 a->dev_id);
	if (h) {
		h->ndev--;
		if (hwpt_unused(h))
			destroy_unused_hwpt(t, h);
	}
}

static int attach_locked(struct iommudirty_tracker *t, struct iommudirty_device *dev,
			 unsigned int flags, uint32_t want, int pci_index)
{
	struct attachment *a;
	struct hwpt *h = NULL;
	int ret;

	for (size_t i = 0; i < t->natts; i++)
		if (t->atts[i].dev_id == dev->dev_id)
			return -EALREADY;
	ret = GROW(t, atts, t->natts + 1);
	if (ret)
		return ret;
	a = &t->atts[t->natts];
	*a = (struct attachment){
		.dev_id = dev->dev_id, .fd = dev->fd, .pci_index = pci_index,
		.flags = flags, .want = want,
	};
	choose_probe(t, a, dev);
	/* Chosen before placing, so a device that may not come is not
	 * attached at all. all_log as it stands: choose_all revisits. */
	ret = choose_source(t, a);
	if (ret) {
		log_reasons_line(t, dev, want ? "refused: the source asked for is not there" :
				 "refused: no dirty source it may use", a->reasons,
				 a->nr_reasons);
		return -EOPNOTSUPP;
	}
	if (!(flags & IOMMUDIRTY_ATTACH_BY_VMM)) {
		if (a->can_iommu) {
			/* On a HWPT that can track, whatever its source: the
			 * source may change at start without a move. */
			ret = attach_hwpt(t, dev, &h);
			if (!ret)
				a->hwpt_id = h->id;
		} else {
			/* The kernel's own domain (or an mdev's access). */
			ret = vfio_attach_pt(t->ctx, dev->fd, t->ioas_id, NULL);
			if (ret)
				log_err(t->ctx, "device %u: attach to IOAS %u: %s",
					dev->dev_id, t->ioas_id, strerror(-ret));
		}
		if (ret)
			return ret;
	}
	t->natts++;
	if (t->policy == IOMMUDIRTY_POLICY_ALL_OR_NOTHING && !t->started)
		choose_all(t);
	if (t->started) {
		ret = start_device_source(t, a);
		if (!ret)
			ret = enable_for(t, a);
		if (ret) {
			const struct source_ops *ops = source_of(a->source);

			if (ops && ops->per_device)
				ops->stop(t, a);
			undo_attach(t, a);
			t->natts--;
			refresh_info(t);
			return ret;
		}
	}
	log_info(t->ctx, "device %u attached (%s), dirty source: %s", dev->dev_id,
		 (flags & IOMMUDIRTY_ATTACH_BY_VMM) ? "by the VMM" :
		 h ? "dirty-capable HWPT" : "IOAS", iommudirty_source_str(a->source));
	refresh_info(t);
	if (!(flags & IOMMUDIRTY_ATTACH_BY_VMM))
		refresh_alignment(t);
	return 0;
}

IOMMUDIRTY_API int iommudirty_tracker_attach_device(struct iommudirty_tracker *t,
						    struct iommudirty_device *dev,
						    const struct iommudirty_attach_opts *opts)
{
	unsigned int flags = OPTS_GET(opts, iommudirty_attach_opts, flags, 0);
	uint32_t want = OPTS_GET(opts, iommudirty_attach_opts, source, 0);
	int ret;

	if (!t || !dev || dev->ctx != t->ctx || !OPTS_VALID(opts, iommudirty_attach_opts) ||
	    (flags & ~IOMMUDIRTY_ATTACH_BY_VMM) || want > IOMMUDIRTY_SOURCE_NONE)
		return ret_err(-EINVAL);
	if (!is_iommufd(t))
		return ret_err(-EOPNOTSUPP);
	if (dev->fd < 0 && (!(flags & IOMMUDIRTY_ATTACH_BY_VMM) ||
			    want == IOMMUDIRTY_SOURCE_DEVICE_LOG))
		return ret_err(-EBADF);
	pthread_rwlock_wrlock(&t->lock);
	ret = attach_locked(t, dev, flags, want, -1);
	pthread_rwlock_unlock(&t->lock);
	return ret_err(ret);
}

IOMMUDIRTY_API int iommudirty_tracker_attach(struct iommudirty_tracker *t,
					     struct iommudirty_device *dev)
{
	return iommudirty_tracker_attach_device(t, dev, NULL);
}

IOMMUDIRTY_API int iommudirty_tracker_alloc_hwpt(struct iommudirty_tracker *t,
						 struct iommudirty_device *dev,
						 uint32_t *hwpt_id)
{
	struct hwpt *h;
	int ret;

	if (!t || !dev || !hwpt_id || dev->ctx != t->ctx)
		return ret_err(-EINVAL);
	if (!is_iommufd(t))
		return ret_err(-EOPNOTSUPP);
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

	if (!t || !hwpt_id || (flags & ~IOMMUDIRTY_HWPT_TRACKING_ON))
		return ret_err(-EINVAL);
	if (!is_iommufd(t))
		return ret_err(-EOPNOTSUPP);
	pthread_rwlock_wrlock(&t->lock);
	if (find_hwpt(t, hwpt_id)) {
		ret = -EEXIST;
		goto out;
	}
	ret = GROW(t, hwpts, t->nhwpts + 1);
	if (ret)
		goto out;
	h.tracking = flags & IOMMUDIRTY_HWPT_TRACKING_ON;
	h.found_on = h.tracking;
	if (h.tracking) {
		/* No start will touch it (it is on already), so a bad id would
		 * only surface as reads failing for good: ask the kernel now,
		 * with a read that clears nothing. */
		uint64_t pg = t->iova_alignment > 4096 ? t->iova_alignment : 4096, bits = 0;

		ret = iommufd_hwpt_get_dirty(t->ctx, hwpt_id, 0, pg, pg, &bits, true);
		if (ret) {
			log_err(t->ctx, "adopted HWPT %u: %s", hwpt_id, strerror(-ret));
			goto out;
		}
	}
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

/* Keep what a's source still owes in the pending bits: the log's pages,
 * or every writable page for an untracked writer. Its HWPT stays while
 * started, so the IOMMU's bits need nothing. The log is stopped. */
static void drain_device(struct iommudirty_tracker *t, struct attachment *a)
{
	if (a->source == IOMMUDIRTY_SOURCE_DEVICE_LOG) {
		devlog_drain(t, a);
	} else if (a->source == IOMMUDIRTY_SOURCE_NONE) {
		struct read_req r = { .t = t, .iova = 0, .end = UINT64_MAX,
				      .page_size = 4096, .to_pending = true };

		source_none.read(&r, a);
	}
}

IOMMUDIRTY_API int iommudirty_tracker_detach(struct iommudirty_tracker *t,
					     struct iommudirty_device *dev)
{
	struct attachment *a = NULL;
	struct hwpt *h;
	int ret;

	/* Device ids are per iommufd: a device of another context is not
	 * ours even when its id matches. */
	if (!t || !dev || dev->ctx != t->ctx)
		return ret_err(-EINVAL);
	if (!is_iommufd(t))
		return ret_err(-EOPNOTSUPP);
	pthread_rwlock_wrlock(&t->lock);
	for (size_t i = 0; i < t->natts; i++)
		if (t->atts[i].dev_id == dev->dev_id)
			a = &t->atts[i];
	if (!a) {
		ret = -ENOENT;
		goto out;
	}
	/* Detach first, then read what its source owes: a device log read
	 * (and stopped) while the device can still reach the IOAS would miss
	 * its last writes. The log outlives the attachment; the HWPT stays
	 * while started. A VMM-attached device is the VMM's to detach. */
	if (!(a->flags & IOMMUDIRTY_ATTACH_BY_VMM)) {
		ret = vfio_detach_pt(t->ctx, a->fd);
		if (ret) {
			log_err(t->ctx, "device %u: detach: %s", a->dev_id, strerror(-ret));
			goto out;
		}
	}
	if (t->started)
		drain_device(t, a);
	devlog_free(a->log);
	h = a->hwpt_id ? find_hwpt(t, a->hwpt_id) : NULL;
	memmove(a, a + 1, (size_t)(t->atts + t->natts - a - 1) * sizeof(*a));
	t->natts--;
	if (h) {
		h->ndev--;
		/* A twin for write_protect is allocated through a device on
		 * it: not through one that is gone. */
		if (h->dev_id == dev->dev_id && !h->vmm_attach) {
			h->dev_id = 0;
			for (size_t i = 0; i < t->natts; i++)
				if (t->atts[i].hwpt_id == h->id)
					h->dev_id = t->atts[i].dev_id;
		}
		/* While started its bits are still owed to the caller. */
		if (hwpt_unused(h) && !t->started)
			destroy_unused_hwpt(t, h);
	}
	if (t->policy == IOMMUDIRTY_POLICY_ALL_OR_NOTHING && !t->started)
		choose_all(t);
	refresh_info(t);
	refresh_alignment(t);
out:
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
	if (!is_iommufd(t))
		return ret_err(-EOPNOTSUPP);
	/* write_protect replaces the IOAS: read the id under the lock. */
	pthread_rwlock_rdlock(&t->lock);
	ret = iommufd_ioas_iova_ranges(t->ctx, t->ioas_id,
				       (struct uapi_iova_range *)ranges, &num,
				       &align);
	if (ret == -EMSGSIZE) {
		/* Too small an array: report the total, as documented. */
		uint32_t total = num;
		struct uapi_iova_range *tmp = calloc(total, sizeof(*tmp));

		if (!tmp) {
			pthread_rwlock_unlock(&t->lock);
			return ret_err(-ENOMEM);
		}
		ret = iommufd_ioas_iova_ranges(t->ctx, t->ioas_id, tmp, &num, &align);
		if (!ret && n)
			memcpy(ranges, tmp, MIN((size_t)num, n) * sizeof(*tmp));
		free(tmp);
	}
	pthread_rwlock_unlock(&t->lock);
	if (ret)
		return ret_err(ret);
	if (alignment)
		*alignment = align ? align : 1;
	return num > INT32_MAX ? INT32_MAX : (int)num;
}

static int iommufd_map(struct iommudirty_tracker *t, void *va, uint64_t len,
		       uint64_t iova, unsigned int flags)
{
	struct mapping m = { .iova = iova, .len = len, .flags = flags };
	int ret = iommufd_ioas_map(t->ctx, t->ioas_id, va, len, iova, flags);

	/* The standby follows; if it cannot, it goes (rebuilt at the next
	 * atomic unmap): the map itself stands. */
	if (!ret && sb_map(t, &m))
		sb_drop(t);
	return ret;
}

static int iommufd_unmap(struct iommudirty_tracker *t, uint64_t iova, uint64_t len)
{
	if (sb_unmap(t, iova, len))
		sb_drop(t);
	return iommufd_ioas_unmap(t->ctx, t->ioas_id, iova, len, NULL);
}

/* One kernel read per HWPT, OR-ed into buf: the union. */
static int iommufd_kread(const struct read_req *r, uint64_t s, uint64_t e,
			 uint64_t ps, void *buf)
{
	const struct hwpt *hw = r->hwpts ? r->hwpts : r->t->hwpts;
	size_t n = r->hwpts ? r->nhwpts : r->t->nhwpts;

	for (size_t i = 0; i < n; i++) {
		int ret;

		/* Off: nothing recorded (its devices log on their own). */
		if (!hw[i].tracking)
			continue;
		ret = iommufd_hwpt_get_dirty(r->t->ctx, hw[i].id, s, e - s, ps, buf,
					     r->no_clear);
		if (ret) {
			log_err(r->t->ctx, "HWPT %u: GET_DIRTY_BITMAP [%#llx, +%#llx) "
				"page %#llx: %s", hw[i].id,
				(unsigned long long)s, (unsigned long long)(e - s),
				(unsigned long long)ps, strerror(-ret));
			return ret;
		}
	}
	return 0;
}

/* The largest page size <= ps that both ends are aligned to. */
uint64_t fit_page(uint64_t ps, uint64_t s, uint64_t e)
{
	while ((s | e) & (ps - 1))
		ps >>= 1;
	return ps;
}

/* The mapping of [mi, mj) holding x (they are sorted and cover x). */
static const struct mapping *mapping_at(const struct iommudirty_tracker *t,
					size_t mi, size_t mj, uint64_t x)
{
	while (mj - mi > 1) {
		size_t mid = mi + (mj - mi) / 2;

		if (t->maps[mid].iova <= x)
			mi = mid;
		else
			mj = mid;
	}
	return &t->maps[mi];
}

static int read_run_active(const struct read_req *r, uint64_t a, uint64_t b,
			   size_t mi, size_t mj);

/* [s, e), at the caller's page size and cutting no IOPTE: straight into
 * the bitmap, or (a second source over bits already there) through
 * scratch windows that OR in; max_io_page-aligned windows cut no IOPTE. */
static int read_middle(const struct read_req *r, uint64_t s, uint64_t e)
{
	uint64_t w = MAX(r->t->max_io_page, r->page_size << 18);
	int ret = 0;

	if (!r->bounce)
		return read_direct(r, s, e);
	for (uint64_t x = s, y; !ret && x < e; x = y) {
		y = MIN(e, align_down(x, w) + w);
		if (!y)
			y = e;
		ret = read_bounce(r, x, y, r->page_size);
	}
	return ret;
}

int iommufd_read_run(const struct read_req *r, uint64_t a, uint64_t b,
		     size_t mi, size_t mj)
{
	int ret = read_run_active(r, a, b, mi, mj);

	/* The standby's twins may still owe bits of [a, b). */
	if (!ret && !r->hwpts && r->t->sb_ioas)
		ret = sb_read_owed(r, a, b, mi, mj);
	return ret;
}

static int read_run_active(const struct read_req *r, uint64_t a, uint64_t b,
			   size_t mi, size_t mj)
{
	const struct iommudirty_tracker *t = r->t;
	uint64_t rs = t->maps[mi].iova;
	uint64_t re = t->maps[mj - 1].iova + t->maps[mj - 1].len;
	uint64_t ps = r->page_size, H = t->max_io_page;
	uint64_t G = MAX(ps, H);
	uint64_t lo = a, hi = b, h1, t0, fine;
	int ret;

	/* A kernel read must never start or end inside an IOPTE: a clearing
	 * one would clear pages outside it, and the drivers record a dirty
	 * IOPTE's whole size from where they enter it, writing bits past the
	 * end of the bitmap. IOPTEs never cross a mapping and never an H
	 * boundary: widen to the nearer of those. */
	if (a > rs && a % H) {
		const struct mapping *m = mapping_at(t, mi, mj, a);

		lo = MAX(m->iova, align_down(a, H));
	}
	if (b < re && b % H) {
		const struct mapping *m = mapping_at(t, mi, mj, b - 1);

		hi = MIN(m->iova + m->len, align_down(b, H) + H);
	}
	if (lo == a && hi == b && !(a % ps) && !(b % ps))
		return read_middle(r, a, b);

	h1 = lo;
	if (lo < a || lo % ps)
		h1 = MIN(hi, align_down(lo, G) + G);
	t0 = hi;
	if (hi > b || hi % ps)
		t0 = MAX(h1, align_down(hi - 1, G));
	/* The widened ends go through scratch at the finest page the IOAS
	 * maps: what lands outside the range is kept pending at that
	 * granularity, so a later, finer read reports no clean neighbour. */
	fine = is_pow2(t->iova_alignment) ? MIN(ps, t->iova_alignment) : ps;
	if (h1 > lo) {
		ret = read_bounce(r, lo, h1, fit_page(fine, lo, h1));
		if (ret)
			return ret;
	}
	if (t0 > h1) {
		ret = read_middle(r, h1, t0);
		if (ret)
			return ret;
	}
	if (hi > t0)
		return read_bounce(r, t0, hi, fit_page(fine, t0, hi));
	return 0;
}

const struct backend_ops backend_iommufd = {
	.kind = IOMMUDIRTY_BACKEND_IOMMUFD,
	.map = iommufd_map,
	.unmap = iommufd_unmap,
	.start = iommufd_start,
	.stop = iommufd_stop,
	.read_run = iommufd_read_run,
	.kread = iommufd_kread,
	.write_protect = iommufd_write_protect,
	.destroy = iommufd_destroy_all,
	.tracking = iommufd_tracking,
};

/* Open, bind and attach a PCI device named by its address. */
static int open_pci(struct iommudirty_tracker *t, const char *bdf, int pci_index,
		    uint32_t want)
{
	struct pci_dev *p = &t->pci[t->npci];
	char path[128];
	int ret;

	ret = pci_cdev_path(t->ctx, bdf, path, sizeof(path));
	if (ret) {
		log_err(t->ctx, "%s: no VFIO cdev: %s", bdf, strerror(-ret));
		info_add_reason(&t->info, IOMMUDIRTY_REASON_NO_VFIO_CDEV);
		return ret;
	}
	p->fd = t->ctx->sys->open(t->ctx->sys_priv, path, O_RDWR);
	if (p->fd < 0) {
		log_err(t->ctx, "%s: open %s: %s", bdf, path, strerror(-p->fd));
		info_add_reason(&t->info, IOMMUDIRTY_REASON_NO_VFIO_CDEV);
		return p->fd;
	}
	snprintf(p->bdf, sizeof(p->bdf), "%s", bdf);
	t->npci++;
	ret = iommudirty_device_bind(t->ctx, p->fd, &p->dev);
	if (ret) {
		info_add_reason(&t->info, IOMMUDIRTY_REASON_IOMMUFD_FAILED);
		return ret;
	}
	ret = attach_locked(t, p->dev, 0, want, pci_index);
	if (ret && ret != -EOPNOTSUPP)
		info_add_reason(&t->info, IOMMUDIRTY_REASON_IOMMUFD_FAILED);
	return ret;
}

int iommufd_backend_init(struct iommudirty_tracker *t,
			 const struct iommudirty_tracker_opts *opts)
{
	unsigned int flags = OPTS_GET(opts, iommudirty_tracker_opts, flags, 0);
	uint32_t npci = OPTS_GET(opts, iommudirty_tracker_opts, nr_pci_devices, 0);
	int ret;

	t->be = &backend_iommufd;
	t->info.backend = IOMMUDIRTY_BACKEND_IOMMUFD;
	t->info.precise = 1;
	t->natts = 0;
	if (t->ctx->fd < 0) {
		info_add_reason(&t->info, IOMMUDIRTY_REASON_NO_IOMMUFD);
		return -ENODEV;
	}
	if (flags & IOMMUDIRTY_TRACKER_ADOPT_IOAS) {
		t->ioas_id = OPTS_GET(opts, iommudirty_tracker_opts, ioas_id, 0);
	} else {
		ret = iommufd_ioas_alloc(t->ctx, &t->ioas_id);
		if (ret) {
			log_err(t->ctx, "IOMMU_IOAS_ALLOC: %s", strerror(-ret));
			info_add_reason(&t->info, IOMMUDIRTY_REASON_IOMMUFD_FAILED);
			return ret;
		}
		t->own_ioas = true;
	}
	if (t->flags & IOMMUDIRTY_TRACKER_SMALL_IO_PAGES) {
		ret = iommufd_ioas_huge_pages(t->ctx, t->ioas_id, false);
		if (ret) {
			log_err(t->ctx, "IOAS %u: IOMMU_OPTION_HUGE_PAGES=0: %s%s", t->ioas_id,
				strerror(-ret), ret == -EINVAL ?
				" (too late: its mappings are in a domain already)" : "");
			info_add_reason(&t->info, ret == -EINVAL ?
					IOMMUDIRTY_REASON_HUGE_PAGES_TOO_LATE :
					IOMMUDIRTY_REASON_IOMMUFD_FAILED);
			goto fail;
		}
	}
	if (npci) {
		t->pci = calloc(npci, sizeof(*t->pci));
		if (!t->pci) {
			ret = -ENOMEM;
			goto fail;
		}
	}
	for (uint32_t i = 0; i < npci; i++) {
		ret = open_pci(t, opts->pci_devices[i], (int)i,
			       t->pci_sources ? t->pci_sources[i] : 0);
		if (ret)
			goto fail;
	}
	if (flags & IOMMUDIRTY_TRACKER_ADOPT_IOAS || npci)
		refresh_alignment(t);
	return 0;
fail:
	iommufd_destroy_all(t);
	t->own_ioas = false;
	t->ioas_id = 0;
	return ret;
}
