/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The tracker's mapping table: map (with or without a guest address),
 * adopt, forget, unmap. One kernel unmap per run of IOVA-adjacent known
 * mappings; what a run's unmap took is marked gone at once, so a failure
 * half way leaves the table agreeing with the kernel.
 */
#include <stdlib.h>
#include <string.h>

#include "tracker.h"

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
		ret = t->be->map(t, va, length, iova, flags);
		if (ret) {
			log_err(t->ctx, "map [%#llx, +%#llx): %s",
				(unsigned long long)iova, (unsigned long long)length,
				strerror(-ret));
			return ret;
		}
	}
	memmove(&t->maps[i + 1], &t->maps[i], (t->nmaps - i) * sizeof(*t->maps));
	t->maps[i] = (struct mapping){
		.iova = iova, .len = length,
		.flags = adopt ? IOMMUDIRTY_MAP_READ | IOMMUDIRTY_MAP_WRITE : flags,
		.adopted = adopt,
	};
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

/* A guest address given with the mapping, under the same lock: no read
 * can see the mapping at its default (identity) guest address. */
IOMMUDIRTY_API int iommudirty_tracker_map_guest(struct iommudirty_tracker *t,
						void *va, uint64_t length,
						uint64_t iova, uint64_t gaddr,
						unsigned int flags)
{
	bool adopt = flags == IOMMUDIRTY_MAP_ADOPT;
	int ret;

	if (!t || (adopt ? va != NULL : !va || !flags) ||
	    (!adopt && (flags & ~(IOMMUDIRTY_MAP_READ | IOMMUDIRTY_MAP_WRITE))))
		return ret_err(-EINVAL);
	if (length && gaddr + length <= gaddr)
		return ret_err(-EOVERFLOW);
	pthread_rwlock_wrlock(&t->lock);
	ret = gaddr % t->iova_alignment ? -EINVAL
	      : insert_mapping(t, iova, length, va, adopt ? 0 : flags, adopt);
	if (!ret) {
		struct mapping *m = &t->maps[map_lower_bound(t, iova)];

		m->gaddr = gaddr;
		m->has_guest = true;
	}
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
int whole_mappings(const struct iommudirty_tracker *t, uint64_t iova,
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

/* The declarations [first, last) go; their pending bits are the
 * caller's to keep (forget) or drop (unmap). */
static void drop_mappings(struct iommudirty_tracker *t, size_t first, size_t last)
{
	memmove(&t->maps[first], &t->maps[last],
		(t->nmaps - last) * sizeof(*t->maps));
	t->nmaps -= last - first;
}

void forget_mappings(struct iommudirty_tracker *t, uint64_t iova,
			    uint64_t length, size_t first, size_t last)
{
	drop_mappings(t, first, last);
	pending_drop(t, iova, iova + length);
}

int for_each_mapped_run(struct iommudirty_tracker *t, size_t first, size_t last,
			run_fn fn, void *user)
{
	for (size_t i = first; i < last;) {
		size_t j = i + 1;
		uint64_t end = t->maps[i].iova + t->maps[i].len;
		int ret;

		if (t->maps[i].gone) {
			i++;
			continue;
		}
		while (j < last && !t->maps[j].gone && t->maps[j].iova == end) {
			end += t->maps[j].len;
			j++;
		}
		ret = fn(t, t->maps[i].iova, end, i, j, user);
		if (ret)
			return ret;
		i = j;
	}
	return 0;
}

/* One kernel unmap per run of known mappings: a VMM's own mappings that
 * the tracker was not told of (adopted IOAS or container) sit in the holes
 * between runs and stay. What is unmapped is marked gone at once, so a
 * failure half way leaves the tracker agreeing with the kernel. */
int unmap_run(struct iommudirty_tracker *t, uint64_t start, uint64_t end,
		     size_t i, size_t j, void *user)
{
	int ret = t->be->unmap(t, start, end - start);
	bool adopted = true;

	(void)user;
	for (size_t k = i; k < j; k++)
		adopted &= t->maps[k].adopted;
	/* The kernel has no such mapping: a VMM's own, declared to us, that
	 * it removed (or replaced) itself. A stale declaration must not hide
	 * what is there now: forget it, and leave the kernel's alone. */
	if (ret == -ENOENT && adopted) {
		log_warn(t->ctx, "unmap [%#llx, %#llx): the kernel has no such mapping; "
			 "forgetting the VMM's declaration", (unsigned long long)start,
			 (unsigned long long)end);
		ret = 0;
	}
	for (size_t k = i; !ret && k < j; k++)
		t->maps[k].gone = true;
	return ret;
}

static int unmap_locked(struct iommudirty_tracker *t, uint64_t iova,
			uint64_t length, size_t first, size_t last)
{
	int ret = for_each_mapped_run(t, first, last, unmap_run, NULL);

	if (ret) {
		log_err(t->ctx, "unmap [%#llx, +%#llx): %s", (unsigned long long)iova,
			(unsigned long long)length, strerror(-ret));
		return ret;
	}
	forget_mappings(t, iova, length, first, last);
	return 0;
}


/* A vIOMMU invalidation while tracking: what the mappings with a guest
 * address collected stays in guest space for the next guest-space read
 * (the others' bits are discarded, as unmap always did). */
static int unmap_keeping_guest(struct iommudirty_tracker *t, uint64_t iova,
			       uint64_t length, size_t first, size_t last)
{
	uint64_t ps = is_pow2(t->iova_alignment) ? MAX(t->iova_alignment, 4096) : 4096;
	struct mapping *snap;
	size_t n = guest_snapshot(t, first, last, &snap);
	uint64_t *bm;
	int ret;

	if (!n || length % ps || iova % ps)
		return unmap_locked(t, iova, length, first, last);
	if (n == SIZE_MAX)
		return -ENOMEM;
	bm = calloc(1, iommudirty_bitmap_size(length, ps));
	if (!bm) {
		free(snap);
		return -ENOMEM;
	}
	ret = unmap_dirty_locked(t, iova, length, ps, bm, first, last);
	if (!ret)
		guest_keep(t, snap, n, iova, length, ps, bm);
	free(bm);
	free(snap);
	return ret;
}

IOMMUDIRTY_API int iommudirty_tracker_forget_mapping(struct iommudirty_tracker *t,
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
	for (size_t i = first; !ret && i < last; i++)
		if (!t->maps[i].adopted)
			ret = -EINVAL; /* ours: unmap it */
	/* Bits already harvested for the range stay owed. */
	if (!ret)
		drop_mappings(t, first, last);
	pthread_rwlock_unlock(&t->lock);
	return ret_err(ret);
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
		ret = t->started ? unmap_keeping_guest(t, iova, length, first, last)
				 : unmap_locked(t, iova, length, first, last);
	pthread_rwlock_unlock(&t->lock);
	return ret_err(ret);
}

