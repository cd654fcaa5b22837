/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Simulated VFIO device features, as Linux 6.12's vfio core answers
 * VFIO_DEVICE_FEATURE (drivers/vfio/vfio_main.c) on a cdev or a group's
 * device fd: MIGRATION (GET), and DMA_LOGGING_START / STOP / REPORT with
 * the core's checks in the core's order, then a well-behaved driver's
 * vfio_log_ops behind them. The core keeps no logging state (P7 of
 * DEVICE-LOGGING.md): everything after its checks is the driver's.
 *
 * The log: the log pages the device wrote inside its started ranges, kept
 * as a sorted list of extents of log page indices, so a huge sparse range
 * costs nothing and a huge write is one extent.
 */
#include <stdlib.h>

#include "sim_internal.h"

/* include/uapi/linux/vfio.h, features the sim answers but the library does
 * not use. */
#define SIM_FEATURE_MIG_DEVICE_STATE 2u
#define SIM_FEATURE_MIG_DATA_SIZE 9u

#define SIM_LOG_MIN_PAGE 4096ull /* SZ_4K: REPORT's floor, the driver's too */

#define FEAT_GET UAPI_VFIO_DEVICE_FEATURE_GET
#define FEAT_SET UAPI_VFIO_DEVICE_FEATURE_SET
#define FEAT_PROBE UAPI_VFIO_DEVICE_FEATURE_PROBE

/* ---- the log: extents of log page indices ---- */

/* Index of the first extent whose last >= idx (nr_ext if none). */
static size_t ext_lb(const struct sim_devlog *l, uint64_t idx)
{
	size_t lo = 0, hi = l->nr_ext;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (l->ext[mid].last < idx)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* Add log pages [f, l], merging with overlapping and adjacent extents.
 * Needs one free slot at most (sim_devlog_prepare() made it). Indices are
 * below 2^52 (log pages are >= 4 KiB), so +1 and -1 never wrap. */
static void ext_add(struct sim_devlog *l, uint64_t f, uint64_t la)
{
	size_t i = ext_lb(l, f ? f - 1 : 0), j = i;

	while (j < l->nr_ext && l->ext[j].first <= la + 1)
		j++;
	if (j == i) {
		memmove(&l->ext[i + 1], &l->ext[i], (l->nr_ext - i) * sizeof(*l->ext));
		l->ext[i] = (struct sim_span){ f, la };
		l->nr_ext++;
		return;
	}
	l->ext[i].first = MIN(f, l->ext[i].first);
	l->ext[i].last = MAX(la, l->ext[j - 1].last);
	memmove(&l->ext[i + 1], &l->ext[j], (l->nr_ext - j) * sizeof(*l->ext));
	l->nr_ext -= j - i - 1;
}

/* Drop log pages [f, la]: one extent may split, so one free slot. */
static void ext_clear(struct sim_devlog *l, uint64_t f, uint64_t la)
{
	size_t i = ext_lb(l, f), j = i;

	if (i == l->nr_ext || l->ext[i].first > la)
		return;
	/* One extent sticking out on both sides: split it. */
	if (l->ext[i].first < f && l->ext[i].last > la) {
		memmove(&l->ext[i + 1], &l->ext[i], (l->nr_ext - i) * sizeof(*l->ext));
		l->nr_ext++;
		l->ext[i].last = f - 1;
		l->ext[i + 1].first = la + 1;
		return;
	}
	if (l->ext[i].first < f) {
		l->ext[i].last = f - 1;
		i++;
	}
	for (j = i; j < l->nr_ext && l->ext[j].last <= la; j++)
		;
	if (j < l->nr_ext && l->ext[j].first <= la)
		l->ext[j].first = la + 1;
	memmove(&l->ext[i], &l->ext[j], (l->nr_ext - j) * sizeof(*l->ext));
	l->nr_ext -= j - i;
}

/* The driver's log_stop: drop the ranges and whatever was not reported. */
void sim_devlog_stop(struct sim_dev *dev)
{
	struct sim_devlog *l = dev->log;

	if (!l)
		return;
	free(l->ranges);
	free(l->ext);
	l->ranges = NULL;
	l->ext = NULL;
	l->nr_ranges = l->nr_ext = l->cap_ext = 0;
	l->started = false;
}

void sim_devlog_free(struct sim_dev *dev)
{
	sim_devlog_stop(dev);
	free(dev->log);
	dev->log = NULL;
}

/* Before a write lands: room for what sim_devlog_mark() may add (one
 * extent per started range at most), so nothing fails once data moved. */
int sim_devlog_prepare(struct sim_dev *dev)
{
	struct sim_devlog *l = dev->log;

	if (!l || !l->started)
		return 0;
	return sim_grow(&l->ext, &l->cap_ext, l->nr_ext + l->nr_ranges,
			sizeof(*l->ext));
}

/* Bytes [first, last] reached memory: log their log pages inside the
 * started ranges. */
void sim_devlog_mark(struct sim_dev *dev, uint64_t first, uint64_t last)
{
	struct sim_devlog *l = dev->log;

	if (!l || !l->started)
		return;
	for (size_t i = 0; i < l->nr_ranges; i++) {
		const struct sim_span *r = &l->ranges[i];

		if (r->first > last)
			break;
		if (r->last < first)
			continue;
		ext_add(l, MAX(first, r->first) >> l->shift,
			MIN(last, r->last) >> l->shift);
	}
}

/* ---- user memory ---- */

/* Set bits [first, last] of a byte-addressed bitmap (iova_bitmap's view:
 * u8 units, so the layout is a little-endian u64 array's). Only sets. */
static void set_bits(uint8_t *map, uint64_t first, uint64_t last)
{
	uint64_t fb = first / 8, lb = last / 8;
	uint8_t head = (uint8_t)(0xffu << (first % 8));
	uint8_t tail = (uint8_t)(0xffu >> (7 - last % 8));

	if (fb == lb) {
		map[fb] |= head & tail;
		return;
	}
	map[fb] |= head;
	memset(map + fb + 1, 0xff, lb - fb - 1);
	map[lb] |= tail;
}

/* vfio_check_feature() (include/linux/vfio.h): 1 to go on, else the
 * answer (0 for PROBE). */
static int check_feature(uint32_t flags, uint32_t argsz, uint32_t supported,
			 uint32_t minsz)
{
	if ((flags & (FEAT_GET | FEAT_SET)) & ~supported)
		return -EINVAL;
	if (flags & FEAT_PROBE)
		return 0;
	if (!(flags & (FEAT_GET | FEAT_SET)))
		return -EINVAL;
	if (argsz < minsz)
		return -EINVAL;
	return 1;
}

/* ---- the features ---- */

static int feat_migration(struct sim_dev *dev, uint32_t flags, uint32_t argsz,
			  uint8_t *data)
{
	struct uapi_vfio_device_feature_migration mig = {
		.flags = dev->migration_flags,
	};
	int ret;

	if (!dev->migration_flags)
		return -ENOTTY;
	ret = check_feature(flags, argsz, FEAT_GET, sizeof(mig));
	if (ret != 1)
		return ret;
	memcpy(data, &mig, sizeof(mig));
	return 0;
}

/* The driver's page size: its own, or the one asked rounded up to a power
 * of two >= 4 KiB; 0 if it cannot (asked above 2^63). */
static uint64_t log_page(const struct sim_devlog *l, uint64_t asked)
{
	uint64_t p = SIM_LOG_MIN_PAGE;

	if (l->fixed_page)
		return l->fixed_page;
	if (asked > (1ull << 63))
		return 0;
	while (p < asked)
		p <<= 1;
	return p;
}

static int cmp_span(const void *a, const void *b)
{
	const struct sim_span *x = a, *y = b;

	return x->first < y->first ? -1 : x->first > y->first;
}

/* The driver's log_start: the core hands over its interval-tree nodes
 * (start, last inclusive; a zero-length range arrives as last = start - 1,
 * {0, 0} as [0, 2^64-1]) and frees them on return, so copy. */
static int log_start(struct sim_devlog *l, struct sim_span *nodes, uint32_t n,
		     uint64_t *page_size)
{
	uint64_t lo = UINT64_MAX, hi = 0, page;

	if (l->started)
		return -EBUSY;
	for (uint32_t i = 0; i < n; i++) {
		/* The core refuses iova + length == 2^64, so a real range
		 * never ends at 2^64 - 1. */
		if (nodes[i].last < nodes[i].first || nodes[i].last == UINT64_MAX)
			return -EINVAL;
		lo = MIN(lo, nodes[i].first);
		hi = MAX(hi, nodes[i].last);
	}
	if (n > l->max_ranges)
		return -E2BIG;
	if (l->max_span && hi - lo >= l->max_span)
		return -E2BIG;
	page = log_page(l, *page_size);
	if (!page)
		return -EINVAL;
	qsort(nodes, n, sizeof(*nodes), cmp_span);
	l->ranges = nodes;
	l->nr_ranges = n;
	l->shift = (unsigned int)__builtin_ctzll(page);
	l->started = true;
	*page_size = page;
	return 0;
}

/* vfio_ioctl_device_feature_logging_start() */
static int feat_log_start(struct sim_dev *dev, uint32_t flags, uint32_t argsz,
			  uint8_t *data)
{
	struct uapi_vfio_dma_logging_control ctl;
	const struct uapi_vfio_dma_logging_range *ranges;
	struct sim_span *nodes;
	int ret;

	if (!dev->log)
		return -ENOTTY;
	ret = check_feature(flags, argsz, FEAT_SET, sizeof(ctl));
	if (ret != 1)
		return ret;
	memcpy(&ctl, data, sizeof(ctl));
	if (!ctl.num_ranges)
		return -EINVAL;
	if (ctl.num_ranges > UAPI_VFIO_DMA_LOGGING_MAX_RANGES)
		return -E2BIG;
	nodes = calloc(ctl.num_ranges, sizeof(*nodes));
	if (!nodes)
		return -ENOMEM;
	ranges = (const void *)(uintptr_t)ctl.ranges;
	ret = -EFAULT;
	if (!ranges)
		goto err;
	for (uint32_t i = 0; i < ctl.num_ranges; i++) {
		struct uapi_vfio_dma_logging_range r;
		/* IS_ALIGNED(): a mask, so any page_size with the right
		 * zero bits passes, and page_size 0 needs iova = length = 0. */
		uint64_t mask = ctl.page_size - 1;

		memcpy(&r, &ranges[i], sizeof(r));
		ret = -EINVAL;
		if ((r.iova & mask) || (r.length & mask))
			goto err;
		ret = -EOVERFLOW;
		/* check_add_overflow(): iova + length must not carry, so a
		 * range never ends at 2^64 - 1. */
		if (r.iova + r.length < r.iova)
			goto err;
		nodes[i].first = r.iova;
		nodes[i].last = r.iova + r.length - 1;
		/* interval_tree_iter_first(): an earlier node with
		 * start <= last && last >= start, taken literally (so a
		 * zero-length node, last < start, can collide too). */
		ret = -EINVAL;
		for (uint32_t k = 0; k < i; k++)
			if (nodes[k].first <= nodes[i].last &&
			    nodes[k].last >= nodes[i].first)
				goto err;
	}
	ret = log_start(dev->log, nodes, ctl.num_ranges, &ctl.page_size);
	if (ret)
		goto err;
	/* The whole control goes back: page_size is in/out. */
	memcpy(data, &ctl, sizeof(ctl));
	return 0;
err:
	free(nodes);
	return ret;
}

/* vfio_ioctl_device_feature_logging_stop(): straight to the driver, which
 * takes a stop from any state. */
static int feat_log_stop(struct sim_dev *dev, uint32_t flags, uint32_t argsz)
{
	int ret;

	if (!dev->log)
		return -ENOTTY;
	ret = check_feature(flags, argsz, FEAT_SET, 0);
	if (ret != 1)
		return ret;
	sim_devlog_stop(dev);
	return 0;
}

/*
 * The driver's log_read_and_clear, called once for the whole range (6.12's
 * iova_bitmap_for_each()): each logged log page touching [iova, last] is
 * set, clipped to the range (iova_bitmap_set() would drop the whole call
 * for a page starting before it), one bit per report page holding any of
 * it, and cleared whole, also the part outside the range.
 */
static int log_read(struct sim_devlog *l, uint64_t iova, uint64_t length,
		    uint64_t page_size, uint8_t *map)
{
	unsigned int rshift = (unsigned int)__builtin_ctzll(page_size);
	uint64_t last = iova + (length - 1), lo, hi;
	uint64_t lpage = 1ull << l->shift;

	if (!l->started || !length)
		return -EINVAL;
	/* Room for a split before anything is reported. */
	if (sim_grow(&l->ext, &l->cap_ext, l->nr_ext + 1, sizeof(*l->ext)))
		return -ENOMEM;
	lo = iova >> l->shift;
	hi = last >> l->shift;
	/* NULL: the kernel pins the user bitmap only to set a bit, and
	 * iova_bitmap_set() drops what it cannot pin: 0, bits lost, log
	 * cleared all the same. */
	for (size_t i = ext_lb(l, lo); map && i < l->nr_ext && l->ext[i].first <= hi; i++) {
		uint64_t s = MAX(l->ext[i].first, lo) << l->shift;
		uint64_t e = (MIN(l->ext[i].last, hi) << l->shift) + (lpage - 1);

		s = MAX(s, iova);
		e = MIN(e, last);
		set_bits(map, (s - iova) >> rshift, (e - iova) >> rshift);
	}
	ext_clear(l, lo, hi);
	return 0;
}

/* vfio_ioctl_device_feature_logging_report() */
static int feat_log_report(struct sim_dev *dev, uint32_t flags, uint32_t argsz,
			   uint8_t *data)
{
	struct uapi_vfio_dma_logging_report rep;
	int ret;

	if (!dev->log)
		return -ENOTTY;
	ret = check_feature(flags, argsz, FEAT_GET, sizeof(rep));
	if (ret != 1)
		return ret;
	memcpy(&rep, data, sizeof(rep));
	if (rep.page_size < SIM_LOG_MIN_PAGE || !is_pow2(rep.page_size))
		return -EINVAL;
	if (rep.iova + rep.length < rep.iova)
		return -EOVERFLOW;
	return log_read(dev->log, rep.iova, rep.length, rep.page_size,
			(uint8_t *)(uintptr_t)rep.bitmap);
}

/* vfio_ioctl_device_feature(): the header's checks, then the feature. The
 * caller has checked that the fd has access to the device. */
int sim_devlog_feature(struct iommudirty_sim *sim, struct sim_dev *dev, void *arg)
{
	const uint32_t known = UAPI_VFIO_DEVICE_FEATURE_MASK | FEAT_GET |
			       FEAT_SET | FEAT_PROBE;
	struct uapi_vfio_device_feature hdr;
	uint8_t *data = (uint8_t *)arg + sizeof(hdr);
	uint32_t argsz;

	(void)sim;
	if (!arg)
		return -EFAULT;
	memcpy(&hdr, arg, sizeof(hdr));
	if (hdr.argsz < sizeof(hdr))
		return -EINVAL;
	if (hdr.flags & ~known)
		return -EINVAL;
	if (!(hdr.flags & FEAT_PROBE) && (hdr.flags & FEAT_SET) &&
	    (hdr.flags & FEAT_GET))
		return -EINVAL;
	argsz = hdr.argsz - (uint32_t)sizeof(hdr);
	switch (hdr.flags & UAPI_VFIO_DEVICE_FEATURE_MASK) {
	case UAPI_VFIO_DEVICE_FEATURE_MIGRATION:
		return feat_migration(dev, hdr.flags, argsz, data);
	case UAPI_VFIO_DEVICE_FEATURE_DMA_LOGGING_START:
		return feat_log_start(dev, hdr.flags, argsz, data);
	case UAPI_VFIO_DEVICE_FEATURE_DMA_LOGGING_STOP:
		return feat_log_stop(dev, hdr.flags, argsz);
	case UAPI_VFIO_DEVICE_FEATURE_DMA_LOGGING_REPORT:
		return feat_log_report(dev, hdr.flags, argsz, data);
	case SIM_FEATURE_MIG_DEVICE_STATE:
	case SIM_FEATURE_MIG_DATA_SIZE:
		/* Not modelled: no migration state machine. */
		return -ENOTTY;
	default:
		/* vfio_pci_core_ioctl_feature()'s power and VF token
		 * features are not modelled either; the rest is -ENOTTY. */
		return -ENOTTY;
	}
}

/* ---- the public call ---- */

IOMMUDIRTY_API int iommudirty_sim_add_vfio_device(struct iommudirty_sim *sim,
						  const struct iommudirty_sim_device_opts *opts)
{
	const unsigned int known = IOMMUDIRTY_SIM_DEV_DMA_LOGGING |
				   IOMMUDIRTY_SIM_DEV_EMULATED_IOMMU;
	const uint64_t mig_known = UAPI_VFIO_MIGRATION_STOP_COPY |
				   UAPI_VFIO_MIGRATION_P2P |
				   UAPI_VFIO_MIGRATION_PRE_COPY;
	struct sim_devlog *log = NULL;
	struct sim_dev *dev;
	unsigned int flags;
	uint32_t max_ranges;
	uint64_t mig, page, span;
	int ret;

	if (!sim || !opts || !OPTS_VALID(opts, iommudirty_sim_device_opts))
		return ret_err(-EINVAL);
	flags = OPTS_GET(opts, iommudirty_sim_device_opts, flags, 0);
	mig = OPTS_GET(opts, iommudirty_sim_device_opts, migration_flags, 0);
	max_ranges = OPTS_GET(opts, iommudirty_sim_device_opts, log_max_ranges, 0);
	page = OPTS_GET(opts, iommudirty_sim_device_opts, log_page_size, 0);
	span = OPTS_GET(opts, iommudirty_sim_device_opts, log_max_span, 0);
	if ((flags & ~known) ||
	    OPTS_GET(opts, iommudirty_sim_device_opts, __reserved, 0))
		return ret_err(-EINVAL);
	/* vfio_pci_core_register_device(): mig_ops need STOP_COPY. */
	if ((mig & ~mig_known) || (mig && !(mig & UAPI_VFIO_MIGRATION_STOP_COPY)))
		return ret_err(-EINVAL);
	/* Logging knobs mean nothing without logging. */
	if (!(flags & IOMMUDIRTY_SIM_DEV_DMA_LOGGING) && (max_ranges || page || span))
		return ret_err(-EINVAL);
	if (page && (page < SIM_LOG_MIN_PAGE || !is_pow2(page)))
		return ret_err(-EINVAL);

	dev = calloc(1, sizeof(*dev));
	if (!dev)
		return ret_err(-ENOMEM);
	if (flags & IOMMUDIRTY_SIM_DEV_DMA_LOGGING) {
		log = calloc(1, sizeof(*log));
		if (!log) {
			free(dev);
			return ret_err(-ENOMEM);
		}
		log->max_ranges = max_ranges && max_ranges < UAPI_VFIO_DMA_LOGGING_MAX_RANGES ?
				  max_ranges : UAPI_VFIO_DMA_LOGGING_MAX_RANGES;
		log->fixed_page = page;
		log->max_span = span;
	}
	dev->emulated = flags & IOMMUDIRTY_SIM_DEV_EMULATED_IOMMU;
	dev->iommu = dev->emulated ? -1 :
		     OPTS_GET(opts, iommudirty_sim_device_opts, iommu, 0);
	dev->fd = -1;
	dev->group_fd = -1;
	dev->migration_flags = mig;
	dev->log = log;
	ret = sim_dev_register(sim, dev);
	if (ret < 0) {
		free(log);
		free(dev);
		return ret_err(ret);
	}
	return ret;
}
