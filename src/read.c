/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The read driver's shared half: pending bits (dirty pages a clearing
 * read harvested outside the caller's range, kept as IOVA extents and
 * reported by the next read that covers them) and the two ways a kernel
 * read lands in the caller's bitmap (direct, or through a scratch bitmap).
 */
#include <stdlib.h>

#include "testpoint.h"
#include "tracker.h"

_Atomic(testpoint_fn) iommudirty_testpoint;
void *_Atomic iommudirty_testpoint_user;

/* ------------------------------------------------------------------------ */
/* Pending bits: dirty pages harvested by a widened clearing read outside
 * the caller's range. Kept as IOVA extents; reported (and, when clearing,
 * forgotten) by the next read that covers them. */

/* Extent lists (pending, owed, guest-pending) share these three. */

void extents_drop(struct extent **arr, size_t *n, size_t *cap, uint64_t start,
		  uint64_t end)
{
	for (size_t i = 0; i < *n;) {
		struct extent *e = &(*arr)[i];

		if (e->end <= start || e->start >= end) {
			i++;
		} else if (e->start < start && e->end > end) {
			/* Split; if that fails keep it whole: over-reporting
			 * is safe, losing bits is not. */
			if (grow((void **)arr, cap, *n + 1, sizeof(**arr)) == 0) {
				e = &(*arr)[i];
				(*arr)[(*n)++] = (struct extent){ end, e->end };
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
			*e = (*arr)[--*n];
		}
	}
}

bool extents_mark(const struct extent *arr, size_t n, uint64_t base, uint64_t end,
		  uint64_t page_size, uint64_t *bitmap)
{
	bool any = false;

	for (size_t i = 0; i < n; i++) {
		if (arr[i].end <= base || arr[i].start >= end)
			continue;
		mark_bytes(bitmap, base, page_size, MAX(arr[i].start, base),
			   MIN(arr[i].end, end));
		any = true;
	}
	return any;
}

static int cmp_extent(const void *a, const void *b)
{
	const struct extent *x = a, *y = b;

	return x->start < y->start ? -1 : x->start > y->start;
}

size_t extents_merge(struct extent *e, size_t n, uint64_t gap)
{
	size_t m = 0;

	/* qsort's array may not be NULL, even for no element. */
	if (n > 1)
		qsort(e, n, sizeof(*e), cmp_extent);
	for (size_t i = 0; i < n; i++) {
		if (m && e[i].start <= e[m - 1].end + gap)
			e[m - 1].end = MAX(e[m - 1].end, e[i].end);
		else
			e[m++] = e[i];
	}
	return m;
}

static void pending_drop_locked(struct iommudirty_tracker *t, uint64_t start,
				uint64_t end)
{
	extents_drop(&t->pending, &t->npending, &t->cap_pending, start, end);
}

void pending_drop(struct iommudirty_tracker *t, uint64_t start, uint64_t end)
{
	pthread_mutex_lock(&t->pending_lock);
	pending_drop_locked(t, start, end);
	pthread_mutex_unlock(&t->pending_lock);
}

/* Caller holds pending_lock. */
int pending_add_locked(struct iommudirty_tracker *t, uint64_t start, uint64_t end)
{
	int ret = GROW(t, pending, t->npending + 1);

	if (ret)
		return ret;
	t->pending[t->npending++] = (struct extent){ start, end };
	return 0;
}

void pending_add_range(struct iommudirty_tracker *t, uint64_t start, uint64_t end)
{
	pthread_mutex_lock(&t->pending_lock);
	if (pending_add_locked(t, start, end) && t->npending) {
		/* No memory: widen the last extent instead, never drop bits. */
		struct extent *e = &t->pending[t->npending - 1];

		e->start = MIN(e->start, start);
		e->end = MAX(e->end, end);
	}
	pthread_mutex_unlock(&t->pending_lock);
}

#define PENDING_MAX 65536

static void pending_normalize_locked(struct iommudirty_tracker *t)
{
	uint64_t gap = 0;

	/* Too many: report some clean pages as dirty instead. */
	while ((t->npending = extents_merge(t->pending, t->npending, gap)) > PENDING_MAX)
		gap = gap ? gap * 2 : 4096;
	t->pending_mark = t->npending;
}

void pending_normalize(struct iommudirty_tracker *t)
{
	pthread_mutex_lock(&t->pending_lock);
	pending_normalize_locked(t);
	pthread_mutex_unlock(&t->pending_lock);
}

void mark_bytes(uint64_t *bitmap, uint64_t iova, uint64_t page_size,
		uint64_t x, uint64_t y)
{
	uint64_t first = (x - iova) / page_size;
	uint64_t last = (y - 1 - iova) / page_size;

	bitmap_set_range(bitmap, first, last - first + 1);
}

void pending_report(struct iommudirty_tracker *t, uint64_t iova, uint64_t end,
		    uint64_t page_size, uint64_t *bitmap, bool clear)
{
	bool any;

	testpoint(TP_PENDING_REPORT);
	pthread_mutex_lock(&t->pending_lock);
	any = extents_mark(t->pending, t->npending, iova, end, page_size, bitmap);
	/* Under the same lock: a bit added after the report is not dropped. */
	if (any && clear)
		pending_drop_locked(t, iova, end);
	pthread_mutex_unlock(&t->pending_lock);
}

/* ------------------------------------------------------------------------ */
/* The read driver. */

/* Kernels write whole words: type1 copies leftover bits past a mapping's
 * end into the rest of its last word. Nothing of ours is there yet (pieces
 * are read in order), so clear from bit `from` to the end of its word. */
static void clear_word_tail(uint64_t *bitmap, uint64_t from)
{
	if (from % 64)
		bitmap[from / 64] &= (1ull << (from % 64)) - 1;
}

int read_direct(const struct read_req *r, uint64_t s, uint64_t e)
{
	uint64_t d = (s - r->iova) / r->page_size;
	uint64_t n = (e - s) / r->page_size;
	unsigned int k = d % 64;
	uint64_t *w = &r->bitmap[d / 64];
	uint64_t saved;
	int ret;

	if (!k) {
		ret = r->t->be->kread(r, s, e, r->page_size, w);
		clear_word_tail(r->bitmap, d + n);
		return ret;
	}
	/* The kernel writes from bit 0 of a word: let it write k bits low,
	 * then shift the run into place. Bits below d in that word belong to
	 * earlier runs: set them aside. Everything from d up is still zero. */
	saved = *w;
	*w = 0;
	ret = r->t->be->kread(r, s, e, r->page_size, w);
	clear_word_tail(r->bitmap, d - k + n);
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
	 * them; a read without clearing left them in the kernel. */
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

int read_bounce(const struct read_req *r, uint64_t ws, uint64_t we, uint64_t fps)
{
	struct bounce_ctx b = { .r = r, .ws = ws, .fps = fps,
				.lost_start = UINT64_MAX };
	uint64_t nbits = (we - ws) / fps, *scratch;
	/* Whole pages: should the kernel overrun (a too small max_io_page),
	 * it stays within our own allocation. */
	size_t bytes = ((nbits + 63) / 64 * 8 + 4095) & ~(size_t)4095;
	int ret;

	scratch = aligned_alloc(4096, bytes);
	if (!scratch)
		return -ENOMEM;
	memset(scratch, 0, bytes);
	if (r->no_clear) {
		/* Nothing is taken from the kernel: nothing to keep. */
		ret = r->t->be->kread(r, ws, we, fps, scratch);
		iommudirty_bitmap_for_each_run(scratch, nbits, bounce_run, &b);
		free(scratch);
		return ret;
	}
	/* A clearing window may take bits of pages another thread is reading
	 * right now: hold the pending lock from the kernel read until they
	 * are recorded, so that thread's look at the pending bits (after its
	 * own kernel read) waits for them. */
	pthread_mutex_lock(&r->t->pending_lock);
	/* Room for one extent up front: with it, a failed record never loses
	 * bits the kernel already cleared (see below). */
	ret = GROW(r->t, pending, r->t->npending + 1);
	if (!ret) {
		ret = r->t->be->kread(r, ws, we, fps, scratch);
		testpoint(TP_BOUNCE_RECORD);
		/* Even after an error: what was read (and maybe cleared)
		 * counts. */
		iommudirty_bitmap_for_each_run(scratch, nbits, bounce_run, &b);
		if (b.lost_start < b.lost_end) {
			/* Out of memory: one extent over all that could not be
			 * recorded, or widen the last one. */
			if (pending_add_locked(r->t, b.lost_start, b.lost_end)) {
				struct extent *e = &r->t->pending[r->t->npending - 1];

				e->start = MIN(e->start, b.lost_start);
				e->end = MAX(e->end, b.lost_end);
			}
		}
		if (r->t->npending >= 2 * r->t->pending_mark + 256)
			pending_normalize_locked(r->t);
	}
	pthread_mutex_unlock(&r->t->pending_lock);
	free(scratch);
	return ret;
}

