/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A tracker: the mappings it knows, the dirty bits harvested but not yet
 * reported, and a backend (iommufd or type1) that talks to the kernel.
 *
 * The read path guards against the kernel's traps (../shared/UAPI.md §1.4):
 *  - a dirty read across a hole succeeds with partial data (iommufd) or
 *    reads zeros there (type1), so each kernel read covers one run of
 *    IOVA-adjacent mappings, never a hole;
 *  - the kernel only sets bits, so the caller's bitmap is zeroed first;
 *  - reads that would cut an IO page (iommufd) or a mapping (type1) are
 *    widened, and a clearing read's bits outside the caller's range are
 *    kept as pending bits that the next read covering them reports.
 */
#include <stdlib.h>

#include "tracker.h"

#define DEFAULT_MAX_IO_PAGE (1ull << 30)

int grow(void **arr, size_t *cap, size_t need, size_t elsz)
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

/* Range checks common to every call taking [iova, iova+length). */
int check_range(uint64_t iova, uint64_t length)
{
	if (!length)
		return -EINVAL;
	/* Ends are exclusive u64s: a range must end below 2^64. */
	if (iova + length <= iova)
		return -EOVERFLOW;
	return 0;
}

size_t map_lower_bound(const struct iommudirty_tracker *t, uint64_t iova)
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

void info_add_reason(struct iommudirty_tracker_info *info, uint32_t reason)
{
	for (uint32_t i = 0; i < info->nr_reasons; i++)
		if (info->reasons[i] == reason)
			return;
	if (info->nr_reasons < IOMMUDIRTY_INFO_MAX_REASONS)
		info->reasons[info->nr_reasons++] = reason;
}

static void log_reasons(struct iommudirty_tracker *t, enum iommudirty_log_level level,
			const char *what)
{
	for (uint32_t i = 0; i < t->info.nr_reasons; i++)
		ctx_log(t->ctx, level, "%s: %s", what,
			iommudirty_reason_str(t->info.reasons[i]));
}

static void copy_info(const struct iommudirty_tracker_info *from,
		      struct iommudirty_tracker_info *to)
{
	size_t sz = MIN(to->sz, sizeof(*to));

	memcpy((char *)to + sizeof(to->sz), (const char *)from + sizeof(to->sz),
	       sz - sizeof(to->sz));
}

static uint32_t pick_backend(const struct iommudirty_tracker_opts *opts)
{
	unsigned int flags = OPTS_GET(opts, iommudirty_tracker_opts, flags, 0);
	uint32_t be = OPTS_GET(opts, iommudirty_tracker_opts, backend, 0);

	if (flags & IOMMUDIRTY_TRACKER_ADOPT_CONTAINER)
		return be == IOMMUDIRTY_BACKEND_IOMMUFD ? UINT32_MAX
							: IOMMUDIRTY_BACKEND_TYPE1;
	if (flags & IOMMUDIRTY_TRACKER_ADOPT_IOAS)
		return be == IOMMUDIRTY_BACKEND_TYPE1 ? UINT32_MAX
						      : IOMMUDIRTY_BACKEND_IOMMUFD;
	return be;
}

/* Device-log windows: 4 KiB aligned, non-empty by construction
 * (inclusive ends), ending below 2^64 (a START range cannot reach it). */
static bool windows_ok(const struct iommudirty_tracker_opts *opts)
{
	uint32_t n = OPTS_GET(opts, iommudirty_tracker_opts, nr_log_windows, 0);
	const struct iommudirty_iova_range *w =
		OPTS_GET(opts, iommudirty_tracker_opts, log_windows, NULL);

	if (n && !w)
		return false;
	for (uint32_t i = 0; i < n; i++) {
		if (w[i].last < w[i].start || w[i].last == UINT64_MAX)
			return false;
		if (w[i].start % 4096 || (w[i].last + 1) % 4096)
			return false;
	}
	return true;
}

static int take_windows(struct iommudirty_tracker *t,
			const struct iommudirty_tracker_opts *opts)
{
	uint32_t n = OPTS_GET(opts, iommudirty_tracker_opts, nr_log_windows, 0);
	const struct iommudirty_iova_range *w =
		OPTS_GET(opts, iommudirty_tracker_opts, log_windows, NULL);

	if (!n)
		return 0;
	t->windows = calloc(n, sizeof(*t->windows));
	if (!t->windows)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++)
		t->windows[i] = (struct extent){ w[i].start, w[i].last + 1 };
	t->nwindows = n;
	return 0;
}

static bool opts_ok(const struct iommudirty_tracker_opts *opts)
{
	unsigned int flags = OPTS_GET(opts, iommudirty_tracker_opts, flags, 0);
	uint64_t max_io = OPTS_GET(opts, iommudirty_tracker_opts, max_io_page, 0);
	uint32_t npci = OPTS_GET(opts, iommudirty_tracker_opts, nr_pci_devices, 0);
	struct iommudirty_tracker_info *info =
		OPTS_GET(opts, iommudirty_tracker_opts, info, NULL);

	if (!OPTS_VALID(opts, iommudirty_tracker_opts))
		return false;
	if (flags & ~(IOMMUDIRTY_TRACKER_ADOPT_IOAS | IOMMUDIRTY_TRACKER_ADOPT_CONTAINER |
		      IOMMUDIRTY_TRACKER_PRECISE_ONLY | IOMMUDIRTY_TRACKER_STANDBY |
		      IOMMUDIRTY_TRACKER_SMALL_IO_PAGES))
		return false;
	if (OPTS_GET(opts, iommudirty_tracker_opts, policy, 0) >
	    IOMMUDIRTY_POLICY_ALL_OR_NOTHING)
		return false;
	if (!windows_ok(opts))
		return false;
	if (OPTS_GET(opts, iommudirty_tracker_opts, __reserved, 0) ||
	    OPTS_GET(opts, iommudirty_tracker_opts, __reserved2, 0))
		return false;
	if (max_io && (!is_pow2(max_io) || max_io < 4096))
		return false;
	if (pick_backend(opts) > IOMMUDIRTY_BACKEND_TYPE1)
		return false;
	/* A flag naming a field the caller's (older, shorter) struct does
	 * not have is an error, never a read past its end. */
	if ((flags & IOMMUDIRTY_TRACKER_ADOPT_CONTAINER) &&
	    (!OPTS_HAS(opts, iommudirty_tracker_opts, type1_container_fd) ||
	     opts->type1_container_fd < 0))
		return false;
	if ((flags & IOMMUDIRTY_TRACKER_ADOPT_IOAS) &&
	    !OPTS_HAS(opts, iommudirty_tracker_opts, ioas_id))
		return false;
	if (npci && !opts->pci_devices)
		return false;
	for (uint32_t i = 0; i < npci; i++)
		if (!opts->pci_devices[i] || strlen(opts->pci_devices[i]) >= sizeof(((struct pci_dev *)0)->bdf))
			return false;
	if (OPTS_HAS(opts, iommudirty_tracker_opts, pci_sources) && opts->pci_sources)
		for (uint32_t i = 0; i < npci; i++)
			if (opts->pci_sources[i] > IOMMUDIRTY_SOURCE_NONE)
				return false;
	if (info && info->sz < offsetof(struct iommudirty_tracker_info, reasons))
		return false;
	return true;
}

IOMMUDIRTY_API int iommudirty_tracker_new(struct iommudirty_ctx *ctx,
					  const struct iommudirty_tracker_opts *opts,
					  struct iommudirty_tracker **out)
{
	struct iommudirty_tracker_info *info_out;
	struct iommudirty_tracker *t;
	uint32_t backend;
	int ret;

	if (!ctx || !out || !opts_ok(opts))
		return ret_err(-EINVAL);
	if (ctx->fd >= 0)
		ctx_reap(ctx);
	info_out = OPTS_GET(opts, iommudirty_tracker_opts, info, NULL);
	backend = pick_backend(opts);
	t = calloc(1, sizeof(*t));
	if (!t)
		return ret_err(-ENOMEM);
	t->ctx = ctx;
	t->container = -1;
	t->max_io_page = OPTS_GET(opts, iommudirty_tracker_opts, max_io_page, 0);
	if (!t->max_io_page)
		t->max_io_page = DEFAULT_MAX_IO_PAGE;
	t->iova_alignment = 1;
	t->info.sz = sizeof(t->info);
	t->replace_fn = OPTS_GET(opts, iommudirty_tracker_opts, replace_fn, NULL);
	t->replace_user = OPTS_GET(opts, iommudirty_tracker_opts, replace_user, NULL);
	t->flags = OPTS_GET(opts, iommudirty_tracker_opts, flags, 0);
	t->policy = OPTS_GET(opts, iommudirty_tracker_opts, policy, 0);
	t->pci_sources = OPTS_GET(opts, iommudirty_tracker_opts, pci_sources, NULL);
	if (take_windows(t, opts) || pthread_rwlock_init(&t->lock, NULL)) {
		free(t->windows);
		free(t);
		return ret_err(-ENOMEM);
	}
	if (pthread_mutex_init(&t->pending_lock, NULL)) {
		pthread_rwlock_destroy(&t->lock);
		free(t->windows);
		free(t);
		return ret_err(-ENOMEM);
	}

	switch (backend) {
	case IOMMUDIRTY_BACKEND_IOMMUFD:
		ret = iommufd_backend_init(t, opts);
		break;
	case IOMMUDIRTY_BACKEND_TYPE1:
		ret = type1_backend_init(t, opts);
		break;
	default:
		/* Precise tracking if every device allows it, else type1. */
		ret = iommufd_backend_init(t, opts);
		if (ret && OPTS_GET(opts, iommudirty_tracker_opts, nr_pci_devices, 0)) {
			log_reasons(t, IOMMUDIRTY_LOG_INFO, "iommufd rejected");
			ret = type1_backend_init(t, opts);
			/* Neither is there: say so. A failing kernel call says
			 * itself. */
			if (ret == -ENOENT || ret == -ENODEV)
				ret = -EOPNOTSUPP;
		}
		break;
	}
	t->pci_sources = NULL;
	if (!ret)
		refresh_info(t);
	else
		t->info.precise = 0; /* nothing tracks */
	if (info_out)
		copy_info(&t->info, info_out);
	if (ret) {
		log_reasons(t, IOMMUDIRTY_LOG_ERR, "no dirty tracking");
		pthread_mutex_destroy(&t->pending_lock);
		pthread_rwlock_destroy(&t->lock);
		free(t->windows);
		free(t);
		return ret_err(ret);
	}
	ctx_get(ctx);
	*out = t;
	return 0;
}

IOMMUDIRTY_API void iommudirty_tracker_free(struct iommudirty_tracker *t)
{
	if (!t)
		return;
	t->freeing = true;
	stop_sources(t);
	/* Also after a failed stop: HWPTs still tracking are turned off. */
	if (t->started || t->be->tracking(t))
		t->be->stop(t);
	t->be->destroy(t);
	if (t->ctx->fd >= 0)
		ctx_reap(t->ctx);
	pthread_rwlock_destroy(&t->lock);
	pthread_mutex_destroy(&t->pending_lock);
	ctx_put(t->ctx);
	free(t->maps);
	free(t->pending);
	free(t->windows);
	free(t->owed);
	free(t->gpending);
	free(t);
}

IOMMUDIRTY_API uint32_t iommudirty_tracker_ioas_id(const struct iommudirty_tracker *t)
{
	struct iommudirty_tracker *w = (struct iommudirty_tracker *)t;
	uint32_t id;

	if (!t)
		return 0;
	/* write_protect replaces the IOAS under the write lock. */
	pthread_rwlock_rdlock(&w->lock);
	id = t->ioas_id;
	pthread_rwlock_unlock(&w->lock);
	return id;
}

IOMMUDIRTY_API int iommudirty_tracker_info(struct iommudirty_tracker *t,
					   struct iommudirty_tracker_info *info)
{
	if (!t || !info || info->sz < offsetof(struct iommudirty_tracker_info, reasons))
		return ret_err(-EINVAL);
	pthread_rwlock_rdlock(&t->lock);
	copy_info(&t->info, info);
	pthread_rwlock_unlock(&t->lock);
	return 0;
}

IOMMUDIRTY_API int iommudirty_tracker_device_fd(struct iommudirty_tracker *t,
						unsigned int index)
{
	if (!t)
		return ret_err(-EINVAL);
	if (index >= t->npci)
		return ret_err(-ENOENT);
	return t->pci[index].fd;
}

IOMMUDIRTY_API int iommudirty_tracker_started(const struct iommudirty_tracker *t)
{
	struct iommudirty_tracker *w = (struct iommudirty_tracker *)t;
	int started;

	if (!t)
		return ret_err(-EINVAL);
	pthread_rwlock_rdlock(&w->lock);
	started = t->started;
	pthread_rwlock_unlock(&w->lock);
	return started;
}

void stop_sources(struct iommudirty_tracker *t)
{
	for (size_t i = 0; i < t->natts; i++) {
		const struct source_ops *ops = source_of(t->atts[i].source);

		if (ops && ops->per_device)
			ops->stop(t, &t->atts[i]);
	}
}

int start_device_source(struct iommudirty_tracker *t, struct attachment *a)
{
	const struct source_ops *ops = source_of(a->source);
	int ret;

	if (!ops || !ops->per_device)
		return 0;
	ret = ops->start(t, a);
	if (!ret || a->want != IOMMUDIRTY_SOURCE_AUTO)
		return ret;
	a->log_failed = true;
	ret = choose_source(t, a);
	if (ret)
		return ret;
	log_warn(t->ctx, "device %u: falling back to source %s", a->dev_id,
		 iommudirty_source_str(a->source));
	return start_device_source(t, a);
}

static int start_locked(struct iommudirty_tracker *t)
{
	int ret;

	for (size_t i = 0; i < t->natts; i++)
		t->atts[i].log_failed = false;
	ret = choose_all(t);
	if (ret) {
		log_err(t->ctx, "start: a device has no source it may use "
			"(see iommudirty_tracker_source_info())");
		return ret;
	}
	for (size_t i = 0; !ret && i < t->natts; i++)
		ret = start_device_source(t, &t->atts[i]);
	/* The backend last: a device log that failed may need its HWPT. */
	if (!ret)
		ret = t->be->start(t);
	if (ret)
		stop_sources(t);
	refresh_info(t);
	return ret;
}

IOMMUDIRTY_API int iommudirty_tracker_start(struct iommudirty_tracker *t)
{
	int ret = 0;

	if (!t)
		return ret_err(-EINVAL);
	pthread_rwlock_wrlock(&t->lock);
	if (!t->started) {
		ret = start_locked(t);
		if (!ret) {
			pthread_mutex_lock(&t->pending_lock);
			t->npending = 0; /* a fresh start begins clean */
			t->pending_mark = 0;
			pthread_mutex_unlock(&t->pending_lock);
			t->started = true;
		}
	}
	pthread_rwlock_unlock(&t->lock);
	return ret_err(ret);
}

IOMMUDIRTY_API int iommudirty_tracker_stop(struct iommudirty_tracker *t)
{
	int ret = 0;

	if (!t)
		return ret_err(-EINVAL);
	pthread_rwlock_wrlock(&t->lock);
	if (t->started) {
		stop_sources(t);
		ret = t->be->stop(t);
		t->started = false;
	}
	pthread_rwlock_unlock(&t->lock);
	return ret_err(ret);
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
	if (iova % page_size || length % page_size)
		return -EINVAL;
	if (bitmap_bytes < iommudirty_bitmap_size(length, page_size))
		return -ERANGE;
	return 0;
}

int for_each_mapped_part(const struct read_req *r, bool writable_only,
			 part_fn fn, void *user)
{
	const struct iommudirty_tracker *t = r->t;

	for (size_t i = map_lower_bound(t, r->iova); i < t->nmaps &&
	     t->maps[i].iova < r->end;) {
		const struct mapping *m = &t->maps[i];
		uint64_t s = m->iova, e = s + m->len;
		size_t j = i + 1;
		int ret;

		if ((m->gone && !r->include_gone) ||
		    (writable_only && !(m->flags & IOMMUDIRTY_MAP_WRITE))) {
			i++;
			continue;
		}
		for (; j < t->nmaps && t->maps[j].iova == e; j++) {
			const struct mapping *n = &t->maps[j];

			if ((n->gone && !r->include_gone) ||
			    (writable_only && !(n->flags & IOMMUDIRTY_MAP_WRITE)))
				break;
			e += n->len;
		}
		ret = fn(r, MAX(s, r->iova), MIN(e, r->end), user);
		if (ret)
			return ret;
		i = j;
	}
	return 0;
}

/* Which sources a read consults. */
enum read_what {
	READ_ALL,
	READ_BEFORE_FENCE, /* those an unmap would wipe (the backend's) */
	READ_AFTER_FENCE,  /* those that keep their record past an unmap */
};

/* OR every source of the tracker's devices into r->bitmap: each shared
 * source once, each per-device one per device using it. */
static int read_sources(const struct read_req *r, enum read_what what)
{
	static const struct source_ops *const shared[] = {
		&source_hwpt, &source_type1, &source_none,
	};
	struct iommudirty_tracker *t = r->t;
	int ret;

	for (size_t k = 0; k < ARRAY_SIZE(shared); k++) {
		const struct source_ops *ops = shared[k];

		if ((what == READ_BEFORE_FENCE && ops->after_fence) ||
		    (what == READ_AFTER_FENCE && !ops->after_fence) ||
		    !ops->active(t))
			continue;
		ret = ops->read(r, NULL);
		if (ret)
			return ret;
	}
	for (size_t i = 0; i < t->natts; i++) {
		const struct source_ops *ops = source_of(t->atts[i].source);

		if (!ops || !ops->per_device ||
		    (what == READ_BEFORE_FENCE && ops->after_fence) ||
		    (what == READ_AFTER_FENCE && !ops->after_fence))
			continue;
		ret = ops->read(r, &t->atts[i]);
		if (ret)
			return ret;
	}
	return 0;
}

/* Caller holds t->lock (read or write). */
static int read_locked(struct iommudirty_tracker *t, uint64_t iova,
		       uint64_t length, uint64_t page_size, uint64_t *bitmap,
		       bool no_clear)
{
	return read_window(t, iova, length, page_size, bitmap, no_clear);
}

/* Checked under the lock: attach and write_protect change the alignment.
 * A refused read leaves the caller's bitmap as it was. */
static bool window_ok(const struct iommudirty_tracker *t, uint64_t iova,
		      uint64_t length)
{
	return t->started && !(iova % t->iova_alignment) &&
	       !(length % t->iova_alignment);
}

/* read_window() into a bitmap the caller zeroed; window_ok() holds. */
static int read_window_zeroed(struct iommudirty_tracker *t, uint64_t iova,
			      uint64_t length, uint64_t page_size, uint64_t *bitmap,
			      bool no_clear)
{
	struct read_req r = {
		.t = t, .iova = iova, .end = iova + length, .page_size = page_size,
		.bitmap = bitmap, .no_clear = no_clear,
	};
	int ret = read_sources(&r, READ_ALL);

	pending_report(t, iova, r.end, page_size, bitmap, !no_clear && !ret);
	return ret;
}

int read_window(struct iommudirty_tracker *t, uint64_t iova, uint64_t length,
		uint64_t page_size, uint64_t *bitmap, bool no_clear)
{
	if (!window_ok(t, iova, length))
		return -EINVAL;
	memset(bitmap, 0, iommudirty_bitmap_size(length, page_size));
	return read_window_zeroed(t, iova, length, page_size, bitmap, no_clear);
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

/* Counted reads zero the whole bitmap in one go, then read and count it
 * window by window (512 KiB of bitmap), each window counted right after
 * the kernel wrote it: the count's stream over memory then overlaps the
 * reads. bench_precision (1 TiB, 0.1 % dirty): about 8 % over a plain
 * read, against about 20 % zeroing each window (its many short zeroing
 * streams between the kernel's reads cost more than one long one) and
 * 25-30 % for one count pass after the whole read. Windows are whole IO
 * pages (no IOPTE is cut, no read is widened). */
#define COUNT_WINDOW_BITS (1ull << 22)

IOMMUDIRTY_API int iommudirty_tracker_read_counted(struct iommudirty_tracker *t,
						   uint64_t iova, uint64_t length,
						   uint64_t page_size, uint64_t *bitmap,
						   size_t bitmap_bytes, unsigned int flags,
						   uint64_t *nr_dirty)
{
	uint64_t win, unit, total = 0;
	int ret;

	if (!nr_dirty)
		return ret_err(-EINVAL);
	ret = check_read_args(t, iova, length, page_size, bitmap, bitmap_bytes, flags);
	if (ret)
		return ret_err(ret);
	pthread_rwlock_rdlock(&t->lock);
	unit = MAX(MAX(t->max_io_page, t->iova_alignment), 64 * page_size);
	/* type1 reads whole mappings only: a window that cut one would read
	 * all of it again; one read, one count. */
	win = page_size > (1ull << 30) || t->be->kind == IOMMUDIRTY_BACKEND_TYPE1
	      ? length : (COUNT_WINDOW_BITS * page_size + unit - 1) / unit * unit;
	if (!window_ok(t, iova, length))
		ret = -EINVAL;
	else
		memset(bitmap, 0, iommudirty_bitmap_size(length, page_size));
	for (uint64_t off = 0; !ret && off < length; off += win) {
		uint64_t len = MIN(win, length - off);
		uint64_t *w = bitmap + off / page_size / 64;

		ret = read_window_zeroed(t, iova + off, len, page_size, w,
					 flags & IOMMUDIRTY_READ_NO_CLEAR);
		if (!ret)
			total += (uint64_t)iommudirty_bitmap_count(w, len / page_size);
		if (win >= length - off)
			break;
	}
	pthread_rwlock_unlock(&t->lock);
	if (ret)
		return ret_err(ret);
	*nr_dirty = total;
	return 0;
}

/* Caller holds the write lock; [first, last) are whole mappings of the
 * range and the tracker is started. */
static int write_protect_locked(struct iommudirty_tracker *t, uint64_t iova,
				uint64_t length, uint64_t page_size,
				uint64_t *bitmap, size_t first, size_t last)
{
	struct read_req after = {
		.t = t, .iova = iova, .end = iova + length, .page_size = page_size,
		.bitmap = bitmap, .include_gone = true,
	};
	int ret;

	memset(bitmap, 0, iommudirty_bitmap_size(length, page_size));
	/* The fence: with the backend's dirty tracking on, its own
	 * (devices move off the range, or type1's atomic unmap); else an
	 * unmap takes the range from every device at once. */
	if (t->be->tracking(t))
		ret = t->be->write_protect(t, iova, length, page_size, bitmap,
					   first, last);
	else
		ret = for_each_mapped_run(t, first, last, unmap_run, NULL);
	if (ret) {
		/* Runs already unmapped are gone: what their logs hold is
		 * owed, to the next reads. */
		after.to_pending = true;
		if (read_sources(&after, READ_AFTER_FENCE))
			log_warn(t->ctx, "write-protect failed and its logs could not "
				 "be read: their ranges stay pending");
		return ret;
	}
	for (size_t i = first; i < last; i++)
		t->maps[i].gone = true;
	/* Logs and untracked writers: the range can take no more writes. */
	ret = read_sources(&after, READ_AFTER_FENCE);
	/* Pending bits of the range are owed to the caller now. */
	pending_report(t, iova, iova + length, page_size, bitmap, !ret);
	return ret;
}

IOMMUDIRTY_API int iommudirty_tracker_write_protect(struct iommudirty_tracker *t,
						    uint64_t iova, uint64_t length,
						    uint64_t page_size,
						    uint64_t *bitmap,
						    size_t bitmap_bytes,
						    unsigned int flags)
{
	size_t first, last;
	int ret;

	if (flags)
		return ret_err(-EINVAL);
	ret = check_read_args(t, iova, length, page_size, bitmap, bitmap_bytes, 0);
	if (ret)
		return ret_err(ret);
	pthread_rwlock_wrlock(&t->lock);
	ret = whole_mappings(t, iova, iova + length, &first, &last);
	if (!ret && !t->started)
		ret = -EINVAL;
	if (!ret) {
		struct mapping *snap;
		size_t n = guest_snapshot(t, first, last, &snap);

		ret = n == SIZE_MAX ? -ENOMEM :
		      write_protect_locked(t, iova, length, page_size, bitmap, first, last);
		if (!ret && n)
			guest_keep(t, snap, n, iova, length, page_size, bitmap);
		if (n != SIZE_MAX)
			free(snap);
	}
	pthread_rwlock_unlock(&t->lock);
	return ret_err(ret);
}

/* The cheap way: the backend's bits before the unmap (type1 reads and
 * unmaps in one call), the logs' after it. */
int unmap_dirty_locked(struct iommudirty_tracker *t, uint64_t iova,
			      uint64_t length, uint64_t page_size,
			      uint64_t *bitmap, size_t first, size_t last)
{
	struct read_req r = {
		.t = t, .iova = iova, .end = iova + length, .page_size = page_size,
		.bitmap = bitmap, .no_clear = true,
	};
	int ret;

	memset(bitmap, 0, iommudirty_bitmap_size(length, page_size));
	if (t->be->tracking(t) && t->be->unmap_dirty) {
		ret = t->be->unmap_dirty(t, iova, length, page_size, bitmap,
					 first, last);
	} else {
		/* No clear: the unmap flushes the IOTLB anyway, and on
		 * failure the bits are still there for the next read. */
		ret = read_sources(&r, READ_BEFORE_FENCE);
		if (!ret)
			ret = for_each_mapped_run(t, first, last, unmap_run, NULL);
	}
	/* Whatever was unmapped: its logs are read now, clearing. */
	r.no_clear = false;
	r.include_gone = true;
	if (ret) {
		r.to_pending = true;
		read_sources(&r, READ_AFTER_FENCE);
		log_err(t->ctx, "unmap [%#llx, +%#llx): %s", (unsigned long long)iova,
			(unsigned long long)length, strerror(-ret));
		return ret;
	}
	ret = read_sources(&r, READ_AFTER_FENCE);
	/* Pending bits of the range are owed to the caller. */
	pending_report(t, iova, iova + length, page_size, bitmap, false);
	forget_mappings(t, iova, length, first, last);
	return ret;
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

	struct mapping *snap = NULL;
	size_t nsnap = 0;

	if (flags & ~IOMMUDIRTY_UNMAP_ATOMIC)
		return ret_err(-EINVAL);
	ret = check_read_args(t, iova, length, page_size, bitmap, bitmap_bytes, 0);
	if (ret)
		return ret_err(ret);
	pthread_rwlock_wrlock(&t->lock);
	ret = whole_mappings(t, iova, iova + length, &first, &last);
	if (!ret && !t->started)
		ret = -EINVAL;
	if (!ret)
		nsnap = guest_snapshot(t, first, last, &snap);
	if (!ret && nsnap == SIZE_MAX)
		ret = -ENOMEM;
	if (!ret && (flags & IOMMUDIRTY_UNMAP_ATOMIC)) {
		ret = write_protect_locked(t, iova, length, page_size, bitmap,
					   first, last);
		/* The kernel has dropped them already. */
		if (!ret)
			forget_mappings(t, iova, length, first, last);
	} else if (!ret) {
		ret = unmap_dirty_locked(t, iova, length, page_size, bitmap,
					 first, last);
	}
	/* Also kept in guest space, for the next guest-space read. */
	if (!ret && nsnap)
		guest_keep(t, snap, nsnap, iova, length, page_size, bitmap);
	free(snap);
	pthread_rwlock_unlock(&t->lock);
	return ret_err(ret);
}
