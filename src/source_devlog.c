/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The device-log source: VFIO device DMA logging (DMA_LOGGING_START /
 * REPORT / STOP). The device logs writes to the IOVA ranges given at START;
 * REPORT reads and clears, so a read that must not clear (NO_CLEAR), or
 * that takes bits outside the caller's range, keeps them as pending bits.
 *
 * What the kernel lets through and the library never sends: a zero-length
 * range, a second START, a page size that is not a power of two, more than
 * 256 ranges, overlapping ranges.
 */
#include <stdatomic.h>
#include <stdlib.h>

#include "iommufd.h"
#include "tracker.h"

#define LOG_PAGE 4096ull
/* Bits per REPORT: 32 KiB of scratch, 1 GiB at 4 KiB pages. */
#define REPORT_BITS (1ull << 18)

struct devlog {
	struct extent *ranges; /* given at START, sorted, disjoint */
	size_t nranges;
	uint64_t page_size;    /* the device's choice */
	uint64_t bytes;        /* sum of the ranges */
	bool merged;           /* fewer ranges than the mappings needed */
	bool started;          /* START succeeded (nranges > 0) */
	atomic_bool untracked; /* a read met a mapping outside the ranges */
	atomic_bool report_failed;
};

void devlog_free(struct devlog *log)
{
	if (log)
		free(log->ranges);
	free(log);
}

static uint64_t align_up(uint64_t x, uint64_t a)
{
	return (x + a - 1) & ~(a - 1);
}

static int cmp_gap_desc(const void *x, const void *y)
{
	const uint64_t *a = x, *b = y;

	return *a > *b ? -1 : *a < *b;
}

/* Cover the n sorted, disjoint extents with at most max ranges: keep the
 * max - 1 widest gaps, bridge the others (the device then also logs the
 * unmapped IOVA in between, which no one can write). */
static size_t devlog_cover(const struct extent *e, size_t n, size_t max, struct extent *out)
{
	uint64_t *gaps, cut = 0;
	size_t m = 0, keep, ties = 0;

	if (n <= max) {
		memcpy(out, e, n * sizeof(*e));
		return n;
	}
	gaps = malloc((n - 1) * sizeof(*gaps));
	if (!gaps) {
		/* One range over everything still logs every write. */
		out[0] = (struct extent){ e[0].start, e[n - 1].end };
		return 1;
	}
	for (size_t i = 1; i < n; i++)
		gaps[i - 1] = e[i].start - e[i - 1].end;
	qsort(gaps, n - 1, sizeof(*gaps), cmp_gap_desc);
	keep = max - 1;
	if (keep) {
		cut = gaps[keep - 1];
		/* Gaps equal to the cut: only as many as fit. */
		for (size_t i = 0; i < keep; i++)
			ties += gaps[i] == cut;
	}
	free(gaps);
	out[m++] = e[0];
	for (size_t i = 1; i < n; i++) {
		uint64_t gap = e[i].start - e[i - 1].end;
		bool split = keep && (gap > cut || (gap == cut && ties && ties--));

		if (split)
			out[m++] = e[i];
		else
			out[m - 1].end = e[i].end;
	}
	return m;
}

/* What START should cover: the declared windows, else the mappings. */
static int wanted_ranges(struct iommudirty_tracker *t, struct extent **out, size_t *n)
{
	size_t cnt = t->windows ? t->nwindows : t->nmaps;
	struct extent *e = calloc(cnt ? cnt : 1, sizeof(*e));
	size_t k = 0;

	if (!e)
		return -ENOMEM;
	if (t->windows) {
		memcpy(e, t->windows, cnt * sizeof(*e));
		k = cnt;
	} else {
		for (size_t i = 0; i < t->nmaps; i++) {
			if (t->maps[i].gone)
				continue;
			e[k].start = align_down(t->maps[i].iova, LOG_PAGE);
			e[k].end = align_up(t->maps[i].iova + t->maps[i].len, LOG_PAGE);
			if (!e[k].end) /* ends at 2^64: keep the last page out */
				e[k].end = align_down(UINT64_MAX, LOG_PAGE);
			k++;
		}
	}
	*n = extents_merge(e, k, 0);
	*out = e;
	return 0;
}

static int log_start(struct iommudirty_tracker *t, struct attachment *a)
{
	struct uapi_vfio_dma_logging_range *kr = NULL;
	struct extent *want = NULL, *cover = NULL;
	size_t n = 0, max, m = 0;
	uint64_t ps = LOG_PAGE;
	struct devlog *log;
	int ret;

	if (a->log)
		return 0;
	log = calloc(1, sizeof(*log));
	if (!log)
		return -ENOMEM;
	ret = wanted_ranges(t, &want, &n);
	if (ret)
		goto out;
	if (!n) {
		/* Nothing mapped and no windows: START takes no empty list.
		 * Mappings made later are reported dirty (untracked). */
		log_warn(t->ctx, "device %u: DMA log: nothing to log yet; later "
			 "mappings are reported dirty (declare log_windows)", a->dev_id);
		log->page_size = LOG_PAGE;
		goto done;
	}
	cover = calloc(n, sizeof(*cover));
	kr = calloc(MIN(n, UAPI_VFIO_DMA_LOGGING_MAX_RANGES), sizeof(*kr));
	if (!cover || !kr) {
		ret = -ENOMEM;
		goto out;
	}
	/* The core takes at most 256; a device may take fewer (-E2BIG):
	 * halve until it agrees. */
	for (max = MIN(n, UAPI_VFIO_DMA_LOGGING_MAX_RANGES);; max = (max + 1) / 2) {
		m = devlog_cover(want, n, max, cover);
		for (size_t i = 0; i < m; i++)
			kr[i] = (struct uapi_vfio_dma_logging_range){
				.iova = cover[i].start,
				.length = cover[i].end - cover[i].start,
			};
		ps = LOG_PAGE;
		ret = vfio_log_start(t->ctx, a->fd, &ps, kr, (uint32_t)m);
		if (ret != -E2BIG || m == 1)
			break;
		log_info(t->ctx, "device %u: DMA_LOGGING_START refused %zu ranges "
			 "(-E2BIG): trying fewer", a->dev_id, m);
	}
	if (ret) {
		log_err(t->ctx, "device %u: DMA_LOGGING_START (%zu ranges): %s",
			a->dev_id, m, strerror(-ret));
		goto out;
	}
	if (!is_pow2(ps) || ps < LOG_PAGE) {
		/* Bits at a page size we cannot convert: do not trust it. */
		log_err(t->ctx, "device %u: DMA log page size %#llx", a->dev_id,
			(unsigned long long)ps);
		vfio_log_stop(t->ctx, a->fd);
		ret = -EPROTO;
		goto out;
	}
	log->started = true;
	log->page_size = ps;
	log->merged = m < n;
	log->ranges = cover;
	log->nranges = m;
	cover = NULL;
	for (size_t i = 0; i < m; i++)
		log->bytes += log->ranges[i].end - log->ranges[i].start;
	log_info(t->ctx, "device %u: DMA log started: %zu ranges, %llu bytes, page %#llx",
		 a->dev_id, m, (unsigned long long)log->bytes, (unsigned long long)ps);
done:
	a->log = log;
	log = NULL;
out:
	free(kr);
	free(cover);
	free(want);
	devlog_free(log);
	return ret;
}

static void log_stop(struct iommudirty_tracker *t, struct attachment *a)
{
	if (!a->log)
		return;
	if (a->log->started) {
		int ret = vfio_log_stop(t->ctx, a->fd);

		/* STOP is idempotent in the kernel's contract: a later START
		 * still works if the driver agrees. */
		if (ret)
			log_warn(t->ctx, "device %u: DMA_LOGGING_STOP: %s", a->dev_id,
				 strerror(-ret));
	}
	devlog_free(a->log);
	a->log = NULL;
}

/* Bits read from the device are gone from it: the caller's range goes to
 * the bitmap, the rest (and, without clearing, all of it) to pending. */
struct deliver {
	const struct read_req *r;
	uint64_t base, ps;
	uint64_t lost_start, lost_end;
};

static void keep(struct deliver *d, uint64_t s, uint64_t e)
{
	if (s >= e)
		return;
	if (pending_add_locked(d->r->t, s, e)) {
		d->lost_start = MIN(d->lost_start, s);
		d->lost_end = MAX(d->lost_end, e);
	}
}

static void deliver_bytes(struct deliver *d, uint64_t x, uint64_t y)
{
	const struct read_req *r = d->r;
	uint64_t in_s = MAX(x, r->iova), in_e = MIN(y, r->end);

	if (in_s < in_e) {
		if (r->to_pending || r->no_clear)
			keep(d, in_s, in_e);
		if (!r->to_pending)
			mark_bytes(r->bitmap, r->iova, r->page_size, in_s, in_e);
	}
	keep(d, x, MIN(y, r->iova));
	keep(d, MAX(x, r->end), y);
}

static int deliver_run(uint64_t first, uint64_t count, void *user)
{
	struct deliver *d = user;

	deliver_bytes(d, d->base + first * d->ps, d->base + (first + count) * d->ps);
	return 0;
}

static void settle_lost(struct deliver *d)
{
	struct iommudirty_tracker *t = d->r->t;

	/* The extent reserved up front takes whatever could not be kept. */
	if (d->lost_start < d->lost_end &&
	    pending_add_locked(t, d->lost_start, d->lost_end) && t->npending) {
		struct extent *e = &t->pending[t->npending - 1];

		e->start = MIN(e->start, d->lost_start);
		e->end = MAX(e->end, d->lost_end);
	}
}

/* The log is corrupt after a failed REPORT: every logged range the device
 * may have written is owed as dirty. */
static void report_all_dirty(struct deliver *d, const struct devlog *log)
{
	for (size_t i = 0; i < log->nranges; i++)
		keep(d, log->ranges[i].start, log->ranges[i].end);
}

/* REPORT [s, e) (inside one logged range) in chunks. */
static int report_window(const struct read_req *r, struct attachment *a,
			 uint64_t s, uint64_t e)
{
	uint64_t ps = MAX(r->page_size, LOG_PAGE);
	/* REPORT clears a log page it cuts whole but reports only the part
	 * inside: never cut one (the rest is kept pending). */
	uint64_t unit = MAX(ps, a->log->page_size);
	uint64_t ws = align_down(s, unit), we = align_up(e, unit);
	uint64_t *scratch;
	int ret = 0;

	if (we < e) /* the top of the IOVA space: as far as it goes */
		we = align_down(UINT64_MAX, ps);
	scratch = malloc(REPORT_BITS / 8);
	if (!scratch)
		return -ENOMEM;
	for (uint64_t cs = ws, ce; !ret && cs < we; cs = ce) {
		struct deliver d = { .r = r, .base = cs, .ps = ps,
				     .lost_start = UINT64_MAX };
		uint64_t nbits;

		ce = we - cs > REPORT_BITS * ps ? cs + REPORT_BITS * ps : we;
		nbits = (ce - cs) / ps;
		memset(scratch, 0, (nbits + 63) / 64 * 8);
		/* As a clearing IOMMU read: what REPORT takes is recorded
		 * before another reader looks at the pending bits. */
		pthread_mutex_lock(&r->t->pending_lock);
		ret = GROW(r->t, pending, r->t->npending + 1);
		if (!ret) {
			ret = vfio_log_report(r->t->ctx, a->fd, cs, ce - cs, ps, scratch);
			/* REPORT only sets bits: what it set counts even now. */
			iommudirty_bitmap_for_each_run(scratch, nbits, deliver_run, &d);
			if (ret) {
				log_err(r->t->ctx, "device %u: DMA_LOGGING_REPORT [%#llx, +%#llx): "
					"%s: reporting its logged ranges dirty", a->dev_id,
					(unsigned long long)cs,
					(unsigned long long)(ce - cs), strerror(-ret));
				atomic_store(&a->log->report_failed, true);
				deliver_bytes(&d, cs, ce);
				report_all_dirty(&d, a->log);
			}
			settle_lost(&d);
		}
		pthread_mutex_unlock(&r->t->pending_lock);
	}
	free(scratch);
	return ret;
}

/* Mapped but not logged: conservatively dirty. */
static void untracked(const struct read_req *r, struct attachment *a,
		      uint64_t s, uint64_t e)
{
	if (s >= e)
		return;
	atomic_store(&a->log->untracked, true);
	if (r->to_pending) {
		pending_add_range(r->t, s, e);
		return;
	}
	mark_bytes(r->bitmap, r->iova, r->page_size, s, e);
}

static int log_part(const struct read_req *r, uint64_t s, uint64_t e, void *user)
{
	struct attachment *a = user;
	const struct devlog *log = a->log;
	uint64_t x = s;
	int ret;

	for (size_t i = 0; i < log->nranges && x < e; i++) {
		uint64_t rs = MAX(log->ranges[i].start, x);
		uint64_t re = MIN(log->ranges[i].end, e);

		if (rs >= re)
			continue;
		untracked(r, a, x, rs);
		ret = report_window(r, a, rs, re);
		if (ret)
			return ret;
		x = re;
	}
	untracked(r, a, x, e);
	return 0;
}

static int log_read(const struct read_req *r, struct attachment *a)
{
	if (!a->log)
		return 0;
	return for_each_mapped_part(r, false, log_part, a);
}

void devlog_drain(struct iommudirty_tracker *t, struct attachment *a)
{
	struct read_req r = { .t = t, .iova = 0, .end = UINT64_MAX,
			      .page_size = LOG_PAGE, .to_pending = true,
			      .include_gone = true };

	if (a->log && log_read(&r, a))
		log_warn(t->ctx, "device %u: reading its log before it goes failed: "
			 "its ranges are kept dirty", a->dev_id);
	log_stop(t, a);
}

void devlog_fill_info(const struct attachment *a, struct iommudirty_source_info *info)
{
	const struct devlog *log = a->log;

	if (!log || a->source != IOMMUDIRTY_SOURCE_DEVICE_LOG)
		return;
	info->log_nr_ranges = (uint32_t)log->nranges;
	info->log_tracked_bytes = log->bytes;
	info->log_page_size = log->page_size;
	if (log->merged && info->nr_reasons < IOMMUDIRTY_SOURCE_MAX_REASONS)
		info->reasons[info->nr_reasons++] = IOMMUDIRTY_REASON_LOG_RANGES_MERGED;
	if (atomic_load(&((struct devlog *)log)->untracked) &&
	    info->nr_reasons < IOMMUDIRTY_SOURCE_MAX_REASONS) {
		info->reasons[info->nr_reasons++] = IOMMUDIRTY_REASON_LOG_UNTRACKED_MAPPING;
		info->precise = 0;
	}
	if (atomic_load(&((struct devlog *)log)->report_failed) &&
	    info->nr_reasons < IOMMUDIRTY_SOURCE_MAX_REASONS)
		info->reasons[info->nr_reasons++] = IOMMUDIRTY_REASON_LOG_REPORT_FAILED;
}

const struct source_ops source_devlog = {
	.kind = IOMMUDIRTY_SOURCE_DEVICE_LOG,
	.per_device = true,
	.precise = true,
	.after_fence = true,
	.start = log_start,
	.stop = log_stop,
	.read = log_read,
};
