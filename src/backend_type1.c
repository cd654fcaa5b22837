/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The legacy VFIO type1 backend. Type1 has no hardware dirty bits: with any
 * IOMMU-backed device in the container, every mapped page is reported dirty
 * on every read. The data is honest but conservative (info.precise = 0).
 * Its rules: reads only at the smallest IO page size, never bisecting a
 * mapping, at most max_dirty_bitmap_size bytes of bitmap per call; an
 * unmapped range reads as zeros without an error, so the library only ever
 * asks for mapped ranges.
 */
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>

#include "tracker.h"
#include "uapi.h"

static int t1_ioctl(struct iommudirty_tracker *t, int fd, unsigned long req, void *arg)
{
	return sys_ioctl(t->ctx, fd, req, arg);
}

static int type1_map(struct iommudirty_tracker *t, void *va, uint64_t len,
		     uint64_t iova, unsigned int flags)
{
	struct uapi_vfio_dma_map m = {
		.argsz = sizeof(m),
		.flags = ((flags & IOMMUDIRTY_MAP_READ) ? UAPI_VFIO_DMA_MAP_FLAG_READ : 0) |
			 ((flags & IOMMUDIRTY_MAP_WRITE) ? UAPI_VFIO_DMA_MAP_FLAG_WRITE : 0),
		.vaddr = (uintptr_t)va,
		.iova = iova,
		.size = len,
	};

	return t1_ioctl(t, t->container, VFIO_IOMMU_MAP_DMA, &m);
}

static int type1_unmap(struct iommudirty_tracker *t, uint64_t iova, uint64_t len)
{
	struct uapi_vfio_dma_unmap u = { .argsz = sizeof(u), .iova = iova, .size = len };

	return t1_ioctl(t, t->container, VFIO_IOMMU_UNMAP_DMA, &u);
}

static int dirty_pages(struct iommudirty_tracker *t, uint32_t flag)
{
	struct uapi_vfio_dirty_bitmap d = { .argsz = sizeof(d), .flags = flag };
	int ret = t1_ioctl(t, t->container, VFIO_IOMMU_DIRTY_PAGES, &d);

	if (ret)
		log_err(t->ctx, "type1: DIRTY_PAGES %s: %s",
			flag == UAPI_VFIO_DIRTY_PAGES_FLAG_START ? "START" : "STOP",
			strerror(-ret));
	return ret;
}

/* The container's tracking is needed unless every device logs on its
 * own (an adopted container may hold writers we do not know). */
static bool container_needed(const struct iommudirty_tracker *t)
{
	if (!t->own_container || !t->natts)
		return true;
	for (size_t i = 0; i < t->natts; i++)
		if (t->atts[i].source == IOMMUDIRTY_SOURCE_TYPE1)
			return true;
	return false;
}

static int type1_start(struct iommudirty_tracker *t)
{
	int ret;

	if (!container_needed(t))
		return 0;
	ret = dirty_pages(t, UAPI_VFIO_DIRTY_PAGES_FLAG_START);
	t->t1_tracking = !ret;
	return ret;
}

static int type1_stop(struct iommudirty_tracker *t)
{
	int ret;

	if (!t->t1_tracking)
		return 0;
	ret = dirty_pages(t, UAPI_VFIO_DIRTY_PAGES_FLAG_STOP);
	if (!ret)
		t->t1_tracking = false;
	return ret;
}

static bool type1_tracking(const struct iommudirty_tracker *t)
{
	return t->t1_tracking;
}

static uint64_t bitmap_bytes(uint64_t nbits)
{
	return (nbits + 63) / 64 * 8;
}

static int type1_kread(const struct read_req *r, uint64_t s, uint64_t e,
		       uint64_t ps, void *buf)
{
	struct uapi_vfio_dirty_pages_get g = {
		.hdr = { .argsz = sizeof(g), .flags = UAPI_VFIO_DIRTY_PAGES_FLAG_GET_BITMAP },
		.get = {
			.iova = s,
			.size = e - s,
			.bitmap = { .pgsize = ps, .size = bitmap_bytes((e - s) / ps),
				    .data = (uintptr_t)buf },
		},
	};
	int ret = t1_ioctl(r->t, r->t->container, VFIO_IOMMU_DIRTY_PAGES, &g);

	if (ret)
		log_err(r->t->ctx, "type1: GET_BITMAP [%#llx, +%#llx): %s",
			(unsigned long long)s, (unsigned long long)(e - s),
			strerror(-ret));
	return ret;
}

/* Whole mappings from index k on that fit one call: returns the index past
 * the last; 0 bytes read never happens (-E2BIG for a mapping too big). */
static size_t chunk_end(const struct iommudirty_tracker *t, size_t k, size_t mj,
			uint64_t b, bool cut)
{
	uint64_t start = t->maps[k].iova;
	size_t j = k + 1;

	if (cut)
		return j; /* a mapping the caller's range cuts goes alone */
	while (j < mj && t->maps[j].iova < b &&
	       t->maps[j].iova + t->maps[j].len <= b &&
	       (t->maps[j].iova + t->maps[j].len - start) / t->t1_pgsize <= t->t1_max_bits)
		j++;
	return j;
}

static int type1_read_run(const struct read_req *r, uint64_t a, uint64_t b,
			  size_t mi, size_t mj)
{
	const struct iommudirty_tracker *t = r->t;
	size_t k = mi;
	int ret;

	while (k < mj && t->maps[k].iova + t->maps[k].len <= a)
		k++;
	while (k < mj && t->maps[k].iova < b) {
		uint64_t ms = t->maps[k].iova, me = ms + t->maps[k].len;
		bool cut = ms < a || me > b;
		size_t j;
		uint64_t e;

		if (t->maps[k].len / t->t1_pgsize > t->t1_max_bits) {
			log_err(t->ctx, "type1: mapping [%#llx, +%#llx) needs more "
				"bitmap than one call may take", (unsigned long long)ms,
				(unsigned long long)t->maps[k].len);
			return -E2BIG;
		}
		j = chunk_end(t, k, mj, b, cut);
		e = t->maps[j - 1].iova + t->maps[j - 1].len;
		/* Type1 reads at its own page size only, whole mappings only:
		 * straight into the caller's bitmap when that is what it
		 * asked for (read_direct clears the leftover bits the kernel
		 * copies past the chunk's end), else through a scratch bitmap
		 * whose bits past the chunk are never looked at. */
		if (!cut && r->page_size == t->t1_pgsize)
			ret = read_direct(r, ms, e);
		else
			ret = read_bounce(r, ms, e, t->t1_pgsize);
		if (ret)
			return ret;
		k = j;
	}
	return 0;
}

struct unmap_bits {
	uint64_t *bitmap;
	uint64_t iova, ps; /* the caller's bitmap: bit 0 and page size */
	uint64_t base;     /* the run being folded in */
	uint64_t pgsize;
};

static int fold_run(uint64_t first, uint64_t count, void *user)
{
	const struct unmap_bits *u = user;
	uint64_t x = u->base + first * u->pgsize, y = x + count * u->pgsize;

	bitmap_set_range(u->bitmap, (x - u->iova) / u->ps,
			 (y - 1 - u->iova) / u->ps - (x - u->iova) / u->ps + 1);
	return 0;
}

static int too_big(struct iommudirty_tracker *t, uint64_t start, uint64_t end,
		   size_t i, size_t j, void *user)
{
	(void)i;
	(void)j;
	(void)user;
	return (end - start) / t->t1_pgsize > t->t1_max_bits ? -E2BIG : 0;
}

/* The kernel reads and unmaps a run under one lock: nothing can slip in
 * between. One call per run of known mappings, as the plain unmap. */
static int unmap_run_dirty(struct iommudirty_tracker *t, uint64_t start,
			   uint64_t end, size_t i, size_t j, void *user)
{
	struct unmap_bits *ub = user;
	uint64_t nbits = (end - start) / t->t1_pgsize;
	struct uapi_vfio_dma_unmap_bitmap u = {
		.unmap = { .argsz = sizeof(u),
			   .flags = UAPI_VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP,
			   .iova = start, .size = end - start },
		.bitmap = { .pgsize = t->t1_pgsize, .size = bitmap_bytes(nbits) },
	};
	uint64_t *scratch = calloc(1, u.bitmap.size);
	int ret;

	if (!scratch)
		return -ENOMEM;
	u.bitmap.data = (uintptr_t)scratch;
	ret = t1_ioctl(t, t->container, VFIO_IOMMU_UNMAP_DMA, &u);
	if (ret) {
		log_err(t->ctx, "type1: unmap with dirty bitmap [%#llx, +%#llx): %s",
			(unsigned long long)start, (unsigned long long)(end - start),
			strerror(-ret));
	} else {
		/* Bits past the run (the kernel's leftovers) are not read. */
		ub->base = start;
		iommudirty_bitmap_for_each_run(scratch, nbits, fold_run, ub);
		for (size_t k = i; k < j; k++)
			t->maps[k].gone = true;
	}
	free(scratch);
	return ret;
}

static int type1_unmap_dirty(struct iommudirty_tracker *t, uint64_t iova,
			     uint64_t len, uint64_t ps, uint64_t *bitmap,
			     size_t first, size_t last)
{
	struct unmap_bits ub = { .bitmap = bitmap, .iova = iova, .ps = ps,
				 .pgsize = t->t1_pgsize };
	/* All or nothing for size: check every run before unmapping any. */
	int ret = for_each_mapped_run(t, first, last, too_big, NULL);

	(void)len;
	return ret ? ret : for_each_mapped_run(t, first, last, unmap_run_dirty, &ub);
}

static void type1_destroy(struct iommudirty_tracker *t)
{
	const struct iommudirty_sys_ops *sys = t->ctx->sys;

	for (size_t i = 0; i < t->natts; i++)
		devlog_free(t->atts[i].log);
	free(t->atts);
	t->atts = NULL;
	t->natts = t->cap_atts = 0;
	for (size_t i = 0; i < t->npci; i++)
		if (t->pci[i].fd >= 0)
			sys->close(t->ctx->sys_priv, t->pci[i].fd);
	/* Closing a group takes it out of the container. */
	for (size_t i = 0; i < t->ngroups; i++)
		sys->close(t->ctx->sys_priv, t->groups[i].fd);
	if (t->own_container && t->container >= 0)
		sys->close(t->ctx->sys_priv, t->container);
	free(t->pci);
	free(t->groups);
	t->pci = NULL;
	t->groups = NULL;
	t->npci = t->ngroups = 0;
	t->container = -1;
	t->own_container = false;
}

const struct backend_ops backend_type1 = {
	.kind = IOMMUDIRTY_BACKEND_TYPE1,
	.map = type1_map,
	.unmap = type1_unmap,
	.start = type1_start,
	.stop = type1_stop,
	.read_run = type1_read_run,
	.kread = type1_kread,
	.unmap_dirty = type1_unmap_dirty,
	/* The kernel's unmap with a bitmap already is the atomic operation. */
	.write_protect = type1_unmap_dirty,
	.destroy = type1_destroy,
	.tracking = type1_tracking,
};

/* Put the device's group in the container (once per group). */
static int add_group(struct iommudirty_tracker *t, const char *bdf,
		     struct type1_group **out)
{
	struct uapi_vfio_group_status st = { .argsz = sizeof(st) };
	struct type1_group *g;
	char name[16], path[64];
	int ret;

	ret = pci_group_name(t->ctx, bdf, name, sizeof(name));
	if (ret) {
		log_err(t->ctx, "%s: no IOMMU group: %s", bdf, strerror(-ret));
		return ret;
	}
	for (size_t i = 0; i < t->ngroups; i++) {
		if (!strcmp(t->groups[i].name, name)) {
			*out = &t->groups[i];
			return 0;
		}
	}
	g = &t->groups[t->ngroups];
	snprintf(path, sizeof(path), "/dev/vfio/%s", name);
	g->fd = t->ctx->sys->open(t->ctx->sys_priv, path, O_RDWR);
	if (g->fd < 0) {
		log_err(t->ctx, "%s: open %s: %s", bdf, path, strerror(-g->fd));
		return g->fd;
	}
	snprintf(g->name, sizeof(g->name), "%s", name);
	t->ngroups++;
	ret = t1_ioctl(t, g->fd, VFIO_GROUP_GET_STATUS, &st);
	if (ret)
		return ret;
	if (!(st.flags & UAPI_VFIO_GROUP_FLAGS_VIABLE)) {
		log_err(t->ctx, "%s: IOMMU group %s is not viable (a device in it "
			"is not bound to a VFIO driver)", bdf, name);
		info_add_reason(&t->info, IOMMUDIRTY_REASON_GROUP_NOT_VIABLE);
		return -EOPNOTSUPP;
	}
	if (!(st.flags & UAPI_VFIO_GROUP_FLAGS_CONTAINER_SET)) {
		ret = t1_ioctl(t, g->fd, VFIO_GROUP_SET_CONTAINER, &t->container);
		if (ret) {
			log_err(t->ctx, "%s: group %s: SET_CONTAINER: %s", bdf, name,
				strerror(-ret));
			return ret;
		}
	}
	*out = g;
	return 0;
}

/* The device's source: its log (through the group's device fd) or the
 * container. */
static int add_device(struct iommudirty_tracker *t, int pci_index, uint32_t want)
{
	struct attachment *a;
	int ret = GROW(t, atts, t->natts + 1);

	if (ret)
		return ret;
	a = &t->atts[t->natts];
	*a = (struct attachment){ .fd = t->pci[pci_index].fd, .pci_index = pci_index,
				  .want = want };
	choose_probe(t, a, NULL);
	t->natts++;
	ret = choose_all(t);
	if (ret) {
		log_err(t->ctx, "%s: no dirty source it may use", t->pci[pci_index].bdf);
		for (uint32_t i = 0; i < a->nr_reasons; i++)
			info_add_reason(&t->info, a->reasons[i]);
	}
	return ret;
}

/* CAP_MIGRATION from VFIO_IOMMU_GET_INFO's capability chain. */
static int read_migration_cap(struct iommudirty_tracker *t)
{
	struct uapi_vfio_iommu_type1_info probe = { .argsz = sizeof(probe) };
	struct uapi_vfio_iommu_type1_info *info;
	uint32_t off;
	int ret;

	ret = t1_ioctl(t, t->container, VFIO_IOMMU_GET_INFO, &probe);
	if (ret)
		return ret;
	if (!(probe.flags & UAPI_VFIO_IOMMU_INFO_CAPS) || probe.argsz <= sizeof(probe))
		return -EOPNOTSUPP;
	info = calloc(1, probe.argsz);
	if (!info)
		return -ENOMEM;
	info->argsz = probe.argsz;
	ret = t1_ioctl(t, t->container, VFIO_IOMMU_GET_INFO, info);
	ret = ret ? ret : -EOPNOTSUPP;
	for (off = info->cap_offset; ret == -EOPNOTSUPP && off &&
	     off + sizeof(struct uapi_vfio_info_cap_header) <= info->argsz;) {
		const struct uapi_vfio_info_cap_header *h =
			(const void *)((const char *)info + off);

		if (h->id == UAPI_VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION &&
		    off + sizeof(struct uapi_vfio_cap_migration) <= info->argsz) {
			const struct uapi_vfio_cap_migration *m = (const void *)h;

			if (m->pgsize_bitmap && m->max_dirty_bitmap_size) {
				t->t1_pgsize = m->pgsize_bitmap & -m->pgsize_bitmap;
				/* Bitmaps go in whole u64 words. */
				t->t1_max_bits = m->max_dirty_bitmap_size / 8 * 64;
				ret = 0;
			}
		}
		if (h->next <= off)
			break; /* a chain must move forward */
		off = h->next;
	}
	free(info);
	return ret;
}

int type1_backend_init(struct iommudirty_tracker *t,
		       const struct iommudirty_tracker_opts *opts)
{
	unsigned int flags = OPTS_GET(opts, iommudirty_tracker_opts, flags, 0);
	uint32_t npci = OPTS_GET(opts, iommudirty_tracker_opts, nr_pci_devices, 0);
	int ret;

	t->be = &backend_type1;
	t->info.backend = IOMMUDIRTY_BACKEND_TYPE1;
	t->info.precise = 0;
	t->ioas_id = 0;
	t->natts = 0;
	if (flags & IOMMUDIRTY_TRACKER_ADOPT_CONTAINER) {
		t->container = OPTS_GET(opts, iommudirty_tracker_opts, type1_container_fd, -1);
	} else {
		t->container = t->ctx->sys->open(t->ctx->sys_priv, "/dev/vfio/vfio", O_RDWR);
		if (t->container < 0) {
			ret = t->container;
			log_err(t->ctx, "type1: open /dev/vfio/vfio: %s", strerror(-ret));
			info_add_reason(&t->info, IOMMUDIRTY_REASON_NO_TYPE1_CONTAINER);
			t->container = -1;
			return ret;
		}
		t->own_container = true;
		ret = t1_ioctl(t, t->container, VFIO_GET_API_VERSION, NULL);
		if (ret >= 0 && ret != VFIO_API_VERSION)
			ret = -EOPNOTSUPP;
		if (ret >= 0)
			ret = t1_ioctl(t, t->container, VFIO_CHECK_EXTENSION,
				       (void *)(uintptr_t)VFIO_TYPE1v2_IOMMU);
		if (ret != 1) {
			if (ret >= 0 || ret == -EOPNOTSUPP) {
				log_err(t->ctx, "type1: the container has no TYPE1v2 IOMMU");
				info_add_reason(&t->info, IOMMUDIRTY_REASON_NO_TYPE1V2);
				ret = -EOPNOTSUPP;
			} else {
				info_add_reason(&t->info, IOMMUDIRTY_REASON_TYPE1_FAILED);
			}
			goto fail;
		}
		if (!npci) {
			/* VFIO_SET_IOMMU needs a group in the container. */
			log_err(t->ctx, "type1: no device to set the container up with");
			ret = -EINVAL;
			goto fail;
		}
	}
	if (npci) {
		t->pci = calloc(npci, sizeof(*t->pci));
		t->groups = calloc(npci, sizeof(*t->groups));
		if (!t->pci || !t->groups) {
			ret = -ENOMEM;
			goto fail;
		}
	}
	for (uint32_t i = 0; i < npci; i++) {
		struct type1_group *g = NULL;

		ret = add_group(t, opts->pci_devices[i], &g);
		if (ret)
			goto fail_reason;
		if (i == 0 && t->own_container) {
			ret = t1_ioctl(t, t->container, VFIO_SET_IOMMU,
				       (void *)(uintptr_t)VFIO_TYPE1v2_IOMMU);
			if (ret) {
				log_err(t->ctx, "type1: SET_IOMMU(TYPE1v2): %s",
					strerror(-ret));
				goto fail_reason;
			}
		}
		snprintf(t->pci[i].bdf, sizeof(t->pci[i].bdf), "%s",
			 opts->pci_devices[i]);
		t->pci[i].fd = t1_ioctl(t, g->fd, VFIO_GROUP_GET_DEVICE_FD,
					(void *)opts->pci_devices[i]);
		if (t->pci[i].fd < 0) {
			ret = t->pci[i].fd;
			log_err(t->ctx, "%s: GET_DEVICE_FD: %s", opts->pci_devices[i],
				strerror(-ret));
			goto fail_reason;
		}
		t->npci++;
	}
	ret = read_migration_cap(t);
	if (ret) {
		log_err(t->ctx, "type1: no dirty page tracking (no CAP_MIGRATION): %s",
			strerror(-ret));
		info_add_reason(&t->info, IOMMUDIRTY_REASON_TYPE1_NO_MIGRATION);
		goto fail;
	}
	for (uint32_t i = 0; i < npci; i++) {
		ret = add_device(t, (int)i, t->pci_sources ? t->pci_sources[i] : 0);
		if (ret)
			goto fail;
	}
	t->iova_alignment = t->t1_pgsize;
	t->info.type1_pgsize = t->t1_pgsize;
	t->info.type1_max_bitmap_bytes = t->t1_max_bits / 8;
	info_add_reason(&t->info, IOMMUDIRTY_REASON_TYPE1_CONSERVATIVE);
	return 0;
fail_reason:
	if (ret != -EOPNOTSUPP)
		info_add_reason(&t->info, IOMMUDIRTY_REASON_TYPE1_FAILED);
fail:
	type1_destroy(t);
	return ret;
}
