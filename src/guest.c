/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Dirty data in the VMM's own address space (vIOMMU guests, where IOVA is
 * not the guest-physical address): a mapping can carry the VMM's address
 * for it, a read by that address fills a bitmap indexed by it, and what
 * unmaps of such mappings collect while tracking is kept in guest space
 * (guest-pending extents) for the next guest-space read, so nothing is
 * lost when the guest unmaps and remaps.
 */
#include <stdlib.h>

#include "tracker.h"

/* ---- guest-pending extents (caller holds pending_lock) ---- */

static int gpending_add_locked(struct iommudirty_tracker *t, uint64_t s, uint64_t e)
{
	int ret = grow((void **)&t->gpending, &t->cap_gpending, t->ngpending + 1,
		       sizeof(*t->gpending));

	if (ret) {
		if (!t->ngpending)
			return ret;
		/* No memory: widen the last one, never drop bits. */
		t->gpending[t->ngpending - 1].start = MIN(t->gpending[t->ngpending - 1].start, s);
		t->gpending[t->ngpending - 1].end = MAX(t->gpending[t->ngpending - 1].end, e);
		return 0;
	}
	t->gpending[t->ngpending++] = (struct extent){ s, e };
	return 0;
}

static void gpending_report_locked(struct iommudirty_tracker *t, uint64_t g,
				   uint64_t end, uint64_t ps, uint64_t *bitmap, bool clear)
{
	if (extents_mark(t->gpending, t->ngpending, g, end, ps, bitmap) && clear)
		extents_drop(&t->gpending, &t->ngpending, &t->cap_gpending, g, end);
}

/* ---- keeping what an unmap collected ---- */

size_t guest_snapshot(const struct iommudirty_tracker *t, size_t first, size_t last,
		      struct mapping **out)
{
	size_t n = 0;

	*out = NULL;
	for (size_t i = first; i < last; i++)
		n += t->maps[i].has_guest;
	if (!n)
		return 0;
	*out = malloc(n * sizeof(**out));
	if (!*out)
		return SIZE_MAX;
	n = 0;
	for (size_t i = first; i < last; i++)
		if (t->maps[i].has_guest)
			(*out)[n++] = t->maps[i];
	return n;
}

struct keep_ctx {
	struct iommudirty_tracker *t;
	const struct mapping *m;
	uint64_t iova, ps;
};

void guest_keep(struct iommudirty_tracker *t, const struct mapping *snap, size_t n,
		uint64_t iova, uint64_t length, uint64_t ps, const uint64_t *bitmap)
{
	struct iommudirty_run runs[64];

	pthread_mutex_lock(&t->pending_lock);
	for (size_t k = 0; k < n; k++) {
		const struct mapping *m = &snap[k];
		uint64_t lo = (MAX(m->iova, iova) - iova) / ps;
		uint64_t hi = (MIN(m->iova + m->len, iova + length) - 1 - iova) / ps + 1;
		uint64_t pos = lo;
		int got;

		while ((got = iommudirty_bitmap_runs(bitmap, hi, &pos, runs, 64)) > 0) {
			for (int r = 0; r < got; r++) {
				uint64_t s = MAX(iova + runs[r].first * ps, m->iova);
				uint64_t e = MIN(iova + (runs[r].first + runs[r].count) * ps,
						 m->iova + m->len);

				if (s < e && gpending_add_locked(t, m->gaddr + (s - m->iova),
								 m->gaddr + (e - m->iova)))
					/* Nothing recorded yet and no memory:
					 * the whole mapping is owed. */
					t->gpending_lost = true;
			}
		}
	}
	pthread_mutex_unlock(&t->pending_lock);
}

/* ---- the calls ---- */

IOMMUDIRTY_API int iommudirty_tracker_set_guest(struct iommudirty_tracker *t,
						uint64_t iova, uint64_t length,
						uint64_t gaddr)
{
	size_t i, first, last;
	int ret = 0;

	if (!t || !length)
		return ret_err(-EINVAL);
	if (iova + length <= iova || gaddr + length <= gaddr)
		return ret_err(-EOVERFLOW);
	pthread_rwlock_wrlock(&t->lock);
	first = map_lower_bound(t, iova);
	for (last = first; last < t->nmaps && t->maps[last].iova < iova + length; last++)
		;
	if (first == last || t->maps[first].iova < iova ||
	    t->maps[last - 1].iova + t->maps[last - 1].len > iova + length)
		ret = -ENOENT;
	else if (gaddr % t->iova_alignment)
		ret = -EINVAL;
	for (i = first; !ret && i < last; i++) {
		t->maps[i].gaddr = gaddr + (t->maps[i].iova - iova);
		t->maps[i].has_guest = true;
	}
	pthread_rwlock_unlock(&t->lock);
	return ret_err(ret);
}

/* Largest bits per kernel read of a guest window (2 MiB of scratch). */
#define GUEST_CHUNK_BITS (1ull << 24)

/* OR scratch bits [a, b) (of a read starting at IOVA base) into the
 * guest bitmap, for mapping m. */
static void scatter(uint64_t *bitmap, uint64_t g0, uint64_t ps, const struct mapping *m,
		    const uint64_t *scratch, uint64_t base, uint64_t a, uint64_t b)
{
	struct iommudirty_run runs[64];
	uint64_t pos = a;
	int got;

	while ((got = iommudirty_bitmap_runs(scratch, b, &pos, runs, 64)) > 0) {
		for (int r = 0; r < got; r++) {
			uint64_t s = base + runs[r].first * ps;
			uint64_t gs = m->gaddr + (s - m->iova);

			bitmap_set_range(bitmap, (gs - g0) / ps, runs[r].count);
		}
	}
}

IOMMUDIRTY_API int iommudirty_tracker_read_guest(struct iommudirty_tracker *t,
						 uint64_t gaddr, uint64_t length,
						 uint64_t page_size, uint64_t *bitmap,
						 size_t bitmap_bytes, unsigned int flags)
{
	uint64_t gend = gaddr + length, *scratch = NULL;
	bool no_clear = flags & IOMMUDIRTY_READ_NO_CLEAR;
	int ret = 0;

	if (!t || !bitmap || !is_pow2(page_size) || (flags & ~IOMMUDIRTY_READ_NO_CLEAR))
		return ret_err(-EINVAL);
	if (!length || gaddr % page_size || length % page_size)
		return ret_err(-EINVAL);
	if (gend <= gaddr)
		return ret_err(-EOVERFLOW);
	if (bitmap_bytes < iommudirty_bitmap_size(length, page_size))
		return ret_err(-ERANGE);
	pthread_rwlock_rdlock(&t->lock);
	if (!t->started) {
		ret = -EINVAL;
		goto out;
	}
	memset(bitmap, 0, iommudirty_bitmap_size(length, page_size));
	/* Every mapping backing part of the window, in IOVA order: IOVA-
	 * contiguous parts are read together, each part scattered to where
	 * its mapping says in guest space (aliases OR-ed). */
	for (size_t i = 0; !ret && i < t->nmaps;) {
		const struct mapping *m = &t->maps[i];
		uint64_t mg = m->has_guest ? m->gaddr : m->iova;
		uint64_t s, e, j;

		if (m->gone || mg >= gend || mg + m->len <= gaddr) {
			i++;
			continue;
		}
		if ((m->iova - mg) % page_size) {
			ret = -EINVAL; /* the two spaces do not line up in pages */
			break;
		}
		s = m->iova + (MAX(mg, gaddr) - mg);
		e = m->iova + (MIN(mg + m->len, gend) - mg);
		/* IOVA-adjacent mappings that start inside the window join,
		 * as long as the one before ended inside it too. */
		for (j = i + 1; j < t->nmaps; j++) {
			const struct mapping *n = &t->maps[j];
			uint64_t ng = n->has_guest ? n->gaddr : n->iova;

			if (e != t->maps[j - 1].iova + t->maps[j - 1].len || n->gone ||
			    n->iova != e || ng < gaddr || ng >= gend || (n->iova - ng) % page_size)
				break;
			e = n->iova + (MIN(ng + n->len, gend) - ng);
		}
		/* A part inside one mapping, or whole inner mappings. */
		for (uint64_t cs = s, ce; !ret && cs < e; cs = ce) {
			ce = e - cs > GUEST_CHUNK_BITS * page_size ? cs + GUEST_CHUNK_BITS * page_size : e;
			if (!scratch) {
				scratch = malloc(GUEST_CHUNK_BITS / 8);
				if (!scratch) {
					ret = -ENOMEM;
					break;
				}
			}
			ret = read_window(t, cs, ce - cs, page_size, scratch, no_clear);
			if (ret)
				break;
			for (size_t k = i; k < j; k++) {
				const struct mapping *km = &t->maps[k];
				uint64_t a = MAX(km->iova, cs), b = MIN(km->iova + km->len, ce);
				struct mapping v = *km;

				if (!v.has_guest)
					v.gaddr = v.iova;
				if (a < b)
					scatter(bitmap, gaddr, page_size, &v, scratch, cs,
						(a - cs) / page_size,
						(b - cs - 1) / page_size + 1);
			}
		}
		i = j;
	}
	pthread_mutex_lock(&t->pending_lock);
	if (t->gpending_lost) {
		/* Bits of unmapped guest memory could not be recorded: the
		 * whole window once. */
		bitmap_set_range(bitmap, 0, length / page_size);
		if (!no_clear && !ret)
			t->gpending_lost = false;
	}
	gpending_report_locked(t, gaddr, gend, page_size, bitmap, !no_clear && !ret);
	pthread_mutex_unlock(&t->pending_lock);
out:
	pthread_rwlock_unlock(&t->lock);
	free(scratch);
	return ret_err(ret);
}
