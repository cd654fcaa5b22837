/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The standby (IOMMUDIRTY_TRACKER_STANDBY): a second IOAS with the same
 * mappings and a twin dirty-tracking HWPT per HWPT, kept in step by every
 * map and unmap, so that the atomic unmap costs the range and the devices,
 * not every mapping the guest has:
 *   1. unmap the range from the standby;
 *   2. move every device onto the standby (one replace each);
 *   3. read the range from the old HWPTs, whose bits are now final;
 *   4. unmap the range from the old IOAS, which becomes the next standby.
 * The old HWPTs still hold bits outside the range: they are owed, and
 * every read consults the standby's twins over the owed extents until a
 * clearing read drains them.
 */
#include <stdlib.h>

#include "iommufd.h"
#include "tracker.h"

/* ---- owed extents (caller holds pending_lock) ---- */

static void owed_drop_locked(struct iommudirty_tracker *t, uint64_t s, uint64_t e)
{
	/* A split that cannot grow keeps it whole: reading a twin that
	 * holds nothing costs a call, loses nothing. */
	extents_drop(&t->owed, &t->nowed, &t->cap_owed, s, e);
}

/* The pieces of [s, e) that are owed (a new array, *n of them; NULL with
 * *n 0 when none, or -ENOMEM). */
static int owed_clip(struct iommudirty_tracker *t, uint64_t s, uint64_t e,
		     struct extent **out, size_t *n)
{
	size_t k = 0;
	int ret = 0;

	*out = NULL;
	pthread_mutex_lock(&t->pending_lock);
	for (size_t i = 0; i < t->nowed; i++)
		k += MAX(t->owed[i].start, s) < MIN(t->owed[i].end, e);
	if (k) {
		*out = malloc(k * sizeof(**out));
		if (!*out)
			ret = -ENOMEM;
	}
	*n = 0;
	for (size_t i = 0; *out && i < t->nowed; i++) {
		uint64_t a = MAX(t->owed[i].start, s), b = MIN(t->owed[i].end, e);

		if (a < b)
			(*out)[(*n)++] = (struct extent){ a, b };
	}
	pthread_mutex_unlock(&t->pending_lock);
	return ret;
}

/* The twins as a HWPT array the read planner takes (tracking ones only). */
static struct hwpt *twins(const struct iommudirty_tracker *t, size_t *n)
{
	struct hwpt *tw = calloc(t->nhwpts ? t->nhwpts : 1, sizeof(*tw));

	*n = 0;
	for (size_t i = 0; tw && i < t->nhwpts; i++)
		if (t->hwpts[i].twin && t->hwpts[i].tracking)
			tw[(*n)++] = (struct hwpt){ .id = t->hwpts[i].twin, .tracking = true };
	return tw;
}

int sb_read_owed(const struct read_req *r, uint64_t a, uint64_t b, size_t mi,
		 size_t mj)
{
	struct iommudirty_tracker *t = r->t;
	struct extent *piece;
	struct read_req tr = *r;
	size_t k, n;
	struct hwpt *tw;
	int ret;

	if (!t->sb_ioas)
		return 0;
	ret = owed_clip(t, a, b, &piece, &k);
	if (ret || !k)
		return ret;
	tw = twins(t, &n);
	if (!tw) {
		free(piece);
		return -ENOMEM;
	}
	/* The active HWPTs' bits of the window are in the bitmap already. */
	tr.hwpts = tw;
	tr.nhwpts = n;
	tr.bounce = true;
	for (size_t i = 0; !ret && n && i < k; i++)
		ret = iommufd_read_run(&tr, piece[i].start, piece[i].end, mi, mj);
	if (!ret && !r->no_clear) {
		pthread_mutex_lock(&t->pending_lock);
		for (size_t i = 0; i < k; i++)
			owed_drop_locked(t, piece[i].start, piece[i].end);
		pthread_mutex_unlock(&t->pending_lock);
	}
	free(piece);
	free(tw);
	return ret;
}

int sb_harvest_owed(struct iommudirty_tracker *t, uint64_t s, uint64_t e)
{
	size_t k, n, first = map_lower_bound(t, s);
	struct extent *piece;
	struct hwpt *tw;
	int ret;

	if (!t->sb_ioas)
		return 0;
	ret = owed_clip(t, s, e, &piece, &k);
	free(piece);
	if (ret || !k)
		return ret;
	tw = twins(t, &n);
	if (!tw)
		return -ENOMEM;
	/* Per mapping: an owed piece never crosses into a hole. */
	for (size_t i = first; !ret && n && i < t->nmaps && t->maps[i].iova < e; i++) {
		uint64_t ms = MAX(t->maps[i].iova, s);
		uint64_t me = MIN(t->maps[i].iova + t->maps[i].len, e);

		if (t->maps[i].gone) /* in neither IOAS any more */
			continue;
		ret = owed_clip(t, ms, me, &piece, &k);
		for (size_t j = 0; !ret && j < k; j++)
			ret = read_to_pending(t, tw, n, piece[j].start, piece[j].end);
		free(piece);
	}
	if (!ret) {
		pthread_mutex_lock(&t->pending_lock);
		owed_drop_locked(t, s, e);
		pthread_mutex_unlock(&t->pending_lock);
	}
	free(tw);
	return ret;
}

/* ---- building, keeping, dropping ---- */

void sb_destroy(struct iommudirty_tracker *t)
{
	for (size_t i = 0; i < t->nhwpts; i++) {
		if (t->hwpts[i].twin)
			ctx_destroy_or_defer(t->ctx, t->hwpts[i].twin);
		t->hwpts[i].twin = 0;
	}
	if (t->sb_ioas)
		ctx_destroy_or_defer(t->ctx, t->sb_ioas);
	t->sb_ioas = 0;
	pthread_mutex_lock(&t->pending_lock);
	free(t->owed);
	t->owed = NULL;
	t->nowed = t->cap_owed = 0;
	pthread_mutex_unlock(&t->pending_lock);
}

void sb_drop(struct iommudirty_tracker *t)
{
	if (!t->sb_ioas)
		return;
	if (sb_harvest_owed(t, 0, UINT64_MAX)) {
		/* What could not be read is reported dirty: all of it. */
		log_warn(t->ctx, "standby: reading its twins failed: reporting every "
			 "owed page dirty");
		pthread_mutex_lock(&t->pending_lock);
		for (size_t i = 0; i < t->nowed; i++)
			if (pending_add_locked(t, t->owed[i].start, t->owed[i].end))
				break;
		pthread_mutex_unlock(&t->pending_lock);
	}
	sb_destroy(t);
}

int sb_add_twin(struct iommudirty_tracker *t, struct hwpt *h)
{
	int ret;

	if (!t->sb_ioas || h->twin || !h->dev_id)
		return 0;
	ret = iommufd_hwpt_alloc_dirty(t->ctx, h->dev_id, t->sb_ioas, &h->twin);
	if (ret) {
		h->twin = 0;
		log_err(t->ctx, "standby: twin of HWPT %u: %s", h->id, strerror(-ret));
		return ret;
	}
	return h->tracking ? sb_enable_twin(t, h) : 0;
}

int sb_enable_twin(struct iommudirty_tracker *t, struct hwpt *h)
{
	int ret;

	if (!h->twin)
		return 0;
	/* A twin never enabled holds no bits: nothing to wipe. */
	ret = iommufd_hwpt_set_dirty(t->ctx, h->twin, true);
	if (ret)
		log_err(t->ctx, "standby: enable twin %u: %s", h->twin, strerror(-ret));
	return ret;
}

int sb_build(struct iommudirty_tracker *t)
{
	int ret;

	if (t->sb_ioas)
		return 0;
	/* The VMM's IOAS or HWPTs are not ours to replace. */
	if (!t->own_ioas)
		return -EOPNOTSUPP;
	for (size_t i = 0; i < t->nhwpts; i++)
		if (!t->hwpts[i].owned || (t->hwpts[i].vmm_attach && !t->replace_fn))
			return -EOPNOTSUPP;
	ret = iommufd_ioas_alloc(t->ctx, &t->sb_ioas);
	if (ret) {
		t->sb_ioas = 0;
		log_err(t->ctx, "standby: IOAS_ALLOC: %s", strerror(-ret));
		return ret;
	}
	if (t->flags & IOMMUDIRTY_TRACKER_SMALL_IO_PAGES)
		ret = iommufd_ioas_huge_pages(t->ctx, t->sb_ioas, false);
	for (size_t i = 0; !ret && i < t->nhwpts; i++)
		if (!hwpt_unused(&t->hwpts[i]))
			ret = sb_add_twin(t, &t->hwpts[i]);
	/* One COPY per mapping keeps area boundaries (a later unmap of one
	 * mapping must not cut a bigger area); the pinned pages are shared. */
	for (size_t i = 0; !ret && i < t->nmaps; i++)
		if (!t->maps[i].gone)
			ret = ioas_copy_mapping(t, t->sb_ioas, &t->maps[i]);
	if (ret)
		sb_destroy(t);
	return ret;
}

int sb_map(struct iommudirty_tracker *t, const struct mapping *m)
{
	return t->sb_ioas ? ioas_copy_mapping(t, t->sb_ioas, m) : 0;
}

int sb_unmap(struct iommudirty_tracker *t, uint64_t iova, uint64_t len)
{
	int ret;

	if (!t->sb_ioas)
		return 0;
	/* The unmap wipes the twins' bits there: keep what they owe. */
	ret = sb_harvest_owed(t, iova, iova + len);
	if (!ret)
		ret = iommufd_ioas_unmap(t->ctx, t->sb_ioas, iova, len, NULL);
	if (ret)
		log_err(t->ctx, "standby: unmap [%#llx, +%#llx): %s",
			(unsigned long long)iova, (unsigned long long)len, strerror(-ret));
	return ret;
}

/* ---- the atomic unmap ---- */

static int unmap_runs(struct iommudirty_tracker *t, uint32_t ioas, size_t first,
		      size_t last)
{
	for (size_t i = first; i < last;) {
		uint64_t s = t->maps[i].iova, e = s + t->maps[i].len;
		size_t j = i + 1;
		int ret;

		if (t->maps[i].gone) {
			i++;
			continue;
		}
		while (j < last && !t->maps[j].gone && t->maps[j].iova == e)
			e += t->maps[j++].len;
		ret = iommufd_ioas_unmap(t->ctx, ioas, s, e - s, NULL);
		if (ret) {
			log_err(t->ctx, "standby: unmap [%#llx, +%#llx) from IOAS %u: %s",
				(unsigned long long)s, (unsigned long long)(e - s), ioas,
				strerror(-ret));
			return ret;
		}
		i = j;
	}
	return 0;
}

/* Every device still writes somewhere no read looks after a failed
 * move-back: report every writable page conservatively from now on. */
static void mark_stuck(struct iommudirty_tracker *t)
{
	log_err(t->ctx, "standby: a device could not be moved back: its writes are "
		"reported conservatively (every writable page) from now on");
	t->stuck = true;
	info_add_reason(&t->info, IOMMUDIRTY_REASON_MOVE_BACK_FAILED);
	t->info.precise = 0;
}

int sb_write_protect(struct iommudirty_tracker *t, uint64_t iova, uint64_t len,
		     uint64_t ps, uint64_t *bitmap, size_t first, size_t last)
{
	struct read_req in = { .t = t, .iova = iova, .end = iova + len, .page_size = ps,
			       .bitmap = bitmap };
	struct hwpt *old = NULL, *tw = NULL;
	size_t n = t->nhwpts;
	bool stuck = false;
	int ret;

	ret = sb_build(t);
	if (ret)
		return ret;
	for (size_t a = 0; a < t->natts; a++)
		if ((t->atts[a].flags & IOMMUDIRTY_ATTACH_BY_VMM) &&
		    t->atts[a].source != IOMMUDIRTY_SOURCE_IOMMU)
			return -EOPNOTSUPP;
	old = calloc(n ? n : 1, sizeof(*old));
	tw = calloc(n ? n : 1, sizeof(*tw));
	if (!old || !tw) {
		ret = -ENOMEM;
		goto out;
	}
	for (size_t k = 0; k < n; k++) {
		old[k] = t->hwpts[k];
		tw[k] = t->hwpts[k];
		tw[k].id = t->hwpts[k].twin;
	}
	/* Room to say what the old HWPTs will owe, before anything moves. */
	pthread_mutex_lock(&t->pending_lock);
	ret = grow((void **)&t->owed, &t->cap_owed, 2, sizeof(*t->owed));
	pthread_mutex_unlock(&t->pending_lock);
	if (ret)
		goto out;
	/* 0. What the twins owe in the range goes before the range does. */
	ret = sb_harvest_owed(t, iova, iova + len);
	/* 1. The standby loses the range. */
	if (!ret)
		ret = unmap_runs(t, t->sb_ioas, first, last);
	if (ret) {
		sb_drop(t);
		goto out;
	}
	/* 2. Every device moves onto the standby, atomically each. */
	ret = move_devices(t, old, tw, t->ioas_id, t->sb_ioas, &stuck);
	if (ret) {
		/* Moved back; what they wrote through the twins meanwhile is
		 * owed everywhere. The standby lacks the range: drop it. */
		pthread_mutex_lock(&t->pending_lock);
		t->nowed = 0;
		if (!grow((void **)&t->owed, &t->cap_owed, 1, sizeof(*t->owed)))
			t->owed[t->nowed++] = (struct extent){ 0, UINT64_MAX };
		pthread_mutex_unlock(&t->pending_lock);
		sb_drop(t);
		if (stuck)
			mark_stuck(t);
		goto out;
	}
	/* 3. The old HWPTs get no more writes: the range's bits are final.
	 * Outside it they stay owed (the old table is the next standby). */
	in.hwpts = old;
	in.nhwpts = n;
	for (size_t i = first; i < last && !ret;) {
		uint64_t s = t->maps[i].iova, e = s + t->maps[i].len;
		size_t j = i + 1;

		if (t->maps[i].gone) {
			i++;
			continue;
		}
		while (j < last && !t->maps[j].gone && t->maps[j].iova == e)
			e += t->maps[j++].len;
		ret = iommufd_read_run(&in, s, e, i, j);
		i = j;
	}
	if (ret) {
		log_warn(t->ctx, "standby: reading the range from the old HWPTs failed "
			 "(%s): reporting it all dirty", strerror(-ret));
		bitmap_set_range(bitmap, 0, len / ps);
		ret = 0;
	}
	/* 4. Swap: the old IOAS and HWPTs are the standby now. */
	for (size_t k = 0; k < n; k++) {
		uint32_t id = t->hwpts[k].id;

		t->hwpts[k].id = t->hwpts[k].twin;
		t->hwpts[k].twin = id;
	}
	for (size_t a = 0; a < t->natts; a++) {
		for (size_t k = 0; k < n; k++) {
			if (t->atts[a].hwpt_id == old[k].id) {
				t->atts[a].hwpt_id = old[k].twin;
				break;
			}
		}
	}
	{
		uint32_t id = t->ioas_id;

		t->ioas_id = t->sb_ioas;
		t->sb_ioas = id;
	}
	pthread_mutex_lock(&t->pending_lock);
	t->nowed = 0;
	if (iova)
		t->owed[t->nowed++] = (struct extent){ 0, iova };
	t->owed[t->nowed++] = (struct extent){ iova + len, UINT64_MAX };
	pthread_mutex_unlock(&t->pending_lock);
	if (unmap_runs(t, t->sb_ioas, first, last)) {
		/* The new standby still maps the range: not in step. */
		sb_drop(t);
	}
out:
	free(old);
	free(tw);
	return ret;
}
