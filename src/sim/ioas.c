/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Simulated IOAS: its areas (mappings), the IOVA ranges and alignment its
 * HWPTs impose, MAP/UNMAP, and device DMA translated through it.
 */
#include <stdlib.h>

#include "sim_internal.h"

/* HWPTs are the IOAS's page tables; their IOMMUs constrain it. */
static struct sim_hwpt *next_hwpt(struct sim_ictx *ictx, const struct sim_ioas *ioas,
				  size_t *pos)
{
	for (; *pos < ictx->nr_slots; (*pos)++) {
		struct sim_hwpt *h = (struct sim_hwpt *)ictx->objs[*pos];

		if (h && h->obj.type == SIM_OBJ_HWPT && h->ioas == ioas) {
			(*pos)++;
			return h;
		}
	}
	return NULL;
}

bool sim_ioas_has_hwpts(struct sim_ictx *ictx, const struct sim_ioas *ioas)
{
	size_t pos = 0;

	return next_hwpt(ictx, ioas, &pos) != NULL;
}

/* An emulated device's access is attached to the IOAS. */
bool sim_ioas_has_access(const struct iommudirty_sim *sim, const struct sim_ioas *ioas)
{
	for (int i = 0; i < sim->nr_devs; i++)
		if (sim->devs[i]->access_ioas == ioas)
			return true;
	return false;
}

/*
 * iopt_calculate_iova_alignment(): the largest smallest-IO-page of the
 * IOAS's HWPTs, and PAGE_SIZE with an access attached; 1 with neither.
 */
uint64_t sim_ioas_alignment(struct iommudirty_sim *sim, const struct sim_ioas *ioas)
{
	struct sim_hwpt *h;
	uint64_t align = 1;
	size_t pos = 0;

	while ((h = next_hwpt(ioas->obj.ictx, ioas, &pos)))
		align = MAX(align, sim_iommu_min_page(sim->iommus[h->iommu]));
	if (sim_ioas_has_access(sim, ioas))
		align = MAX(align, SIM_ACCESS_ALIGN);
	return align;
}

/* iopt_check_iova_alignment() for an access joining: every area's IOVA,
 * length and offset into its first page PAGE_SIZE-aligned. */
int sim_ioas_check_access(const struct sim_ioas *ioas)
{
	const uint64_t mask = SIM_ACCESS_ALIGN - 1;

	for (size_t i = 0; i < ioas->nr_areas; i++) {
		const struct sim_area *a = ioas->areas[i];

		if ((a->iova | (a->last - a->iova + 1) | a->user_va) & mask)
			return -EADDRINUSE;
	}
	return 0;
}

/* The one allowed range: the intersection of the HWPTs' apertures. */
static bool ioas_range(struct iommudirty_sim *sim, const struct sim_ioas *ioas,
		       uint64_t *lo, uint64_t *hi)
{
	struct sim_hwpt *h;
	size_t pos = 0;

	*lo = 0;
	*hi = UINT64_MAX;
	while ((h = next_hwpt(ioas->obj.ictx, ioas, &pos))) {
		*lo = MAX(*lo, sim->iommus[h->iommu]->aperture_start);
		*hi = MIN(*hi, sim->iommus[h->iommu]->aperture_last);
	}
	return *lo <= *hi;
}

int sim_ioas_check_domain(struct iommudirty_sim *sim, const struct sim_ioas *ioas,
			  const struct sim_iommu *iommu)
{
	uint64_t mask = sim_iommu_min_page(iommu) - 1;

	(void)sim;
	for (size_t i = 0; i < ioas->nr_areas; i++) {
		const struct sim_area *a = ioas->areas[i];

		if ((a->iova | (a->last + 1)) & mask)
			return -EINVAL;
		if (a->iova < iommu->aperture_start || a->last > iommu->aperture_last)
			return -EADDRINUSE;
	}
	return 0;
}

void sim_ioas_free(struct sim_ioas *ioas)
{
	for (size_t i = 0; i < ioas->nr_areas; i++)
		sim_area_free(ioas->areas[i]);
	free(ioas->areas);
	free(ioas);
}

/* Index of the first area ending at or after iova (nr_areas if none). */
size_t sim_ioas_find(const struct sim_ioas *ioas, uint64_t iova)
{
	size_t lo = 0, hi = ioas->nr_areas;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (ioas->areas[mid]->last < iova)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static bool overlaps(const struct sim_ioas *ioas, uint64_t iova, uint64_t last)
{
	size_t i = sim_ioas_find(ioas, iova);

	return i < ioas->nr_areas && ioas->areas[i]->iova <= last;
}

/* IOMMU_OPTION (6.12 main.c iommufd_option, ioas.c): the memory
 * accounting mode of the iommufd, and whether an IOAS may use huge IO
 * pages (turned off only while no domain has pages mapped). */
int sim_ioctl_option(struct iommudirty_sim *sim, struct sim_ictx *ictx, void *cmd)
{
	struct uapi_option *c = cmd;
	struct sim_ioas *ioas;

	(void)sim;
	if (c->__reserved)
		return -EOPNOTSUPP;
	if (c->option_id == UAPI_OPTION_RLIMIT_MODE) {
		if (c->object_id)
			return -EOPNOTSUPP;
		if (c->op == UAPI_OPTION_OP_GET) {
			c->val64 = ictx->account_mm;
			return 0;
		}
		if (c->op != UAPI_OPTION_OP_SET)
			return -EOPNOTSUPP;
		/* The sim runs as root: CAP_SYS_RESOURCE holds. */
		for (size_t i = 0; i < ictx->nr_slots; i++)
			if (ictx->objs[i])
				return -EBUSY;
		if (c->val64 > 1)
			return -EINVAL;
		ictx->account_mm = c->val64;
		return 0;
	}
	if (c->option_id != UAPI_OPTION_HUGE_PAGES)
		return -EOPNOTSUPP;
	ioas = sim_obj_get(ictx, c->object_id, SIM_OBJ_IOAS);
	if (!ioas)
		return -ENOENT;
	if (c->op == UAPI_OPTION_OP_GET) {
		c->val64 = !ioas->no_huge;
		return 0;
	}
	if (c->op != UAPI_OPTION_OP_SET)
		return -EOPNOTSUPP;
	if (c->val64 == 1) {
		ioas->no_huge = false;
		return 0;
	}
	if (c->val64 != 0)
		return -EINVAL;
	/* Not once a domain has pages mapped: they may be huge already. */
	if (!ioas->no_huge && ioas->nr_areas && sim_ioas_has_hwpts(ictx, ioas))
		return -EINVAL;
	ioas->no_huge = true;
	return 0;
}

int sim_ioctl_ioas_alloc(struct iommudirty_sim *sim, struct sim_ictx *ictx, void *cmd)
{
	struct uapi_ioas_alloc *c = cmd;
	struct sim_ioas *ioas;
	int ret;

	if (c->flags)
		return -EOPNOTSUPP;
	ioas = calloc(1, sizeof(*ioas));
	if (!ioas)
		return -ENOMEM;
	ret = sim_obj_add(sim, ictx, &ioas->obj, SIM_OBJ_IOAS);
	if (ret) {
		free(ioas);
		return ret;
	}
	c->out_ioas_id = ioas->obj.id;
	return 0;
}

int sim_ioctl_iova_ranges(struct iommudirty_sim *sim, struct sim_ictx *ictx, void *cmd)
{
	struct uapi_ioas_iova_ranges *c = cmd;
	struct uapi_iova_range r;
	struct sim_ioas *ioas;
	uint32_t cap;

	ioas = sim_obj_get(ictx, c->ioas_id, SIM_OBJ_IOAS);
	if (!ioas)
		return -ENOENT;
	cap = c->num_iovas;
	c->num_iovas = ioas_range(sim, ioas, &r.start, &r.last) ? 1 : 0;
	c->out_iova_alignment = sim_ioas_alignment(sim, ioas);
	/* Too small: the caller learns the count and asks again. */
	if (cap < c->num_iovas)
		return -EMSGSIZE;
	if (c->num_iovas) {
		if (!c->allowed_iovas)
			return -EFAULT;
		memcpy((void *)(uintptr_t)c->allowed_iovas, &r, sizeof(r));
	}
	return 0;
}

static uint64_t align_mask(uint64_t a)
{
	return a - 1;
}

/* First a-aligned IOVA in [lo, hi] with room for length bytes. */
static bool place(const struct sim_ioas *ioas, uint64_t lo, uint64_t hi,
		  uint64_t length, uint64_t a, uint64_t *out)
{
	uint64_t cand = lo, last;

	for (;;) {
		size_t i;

		if (cand + align_mask(a) < cand)
			return false;
		cand = (cand + align_mask(a)) & ~align_mask(a);
		last = cand + length - 1;
		if (last < cand || last > hi)
			return false;
		i = sim_ioas_find(ioas, cand);
		if (i == ioas->nr_areas || ioas->areas[i]->iova > last) {
			*out = cand;
			return true;
		}
		if (ioas->areas[i]->last == UINT64_MAX)
			return false;
		cand = ioas->areas[i]->last + 1;
	}
}

/*
 * Without FIXED_IOVA the kernel picks the IOVA. Prefer an alignment that
 * matches the VA's so huge IOPTEs can be used, as the kernel tries to; fall
 * back to the plain IOAS alignment when that does not fit.
 */
static int alloc_iova(struct iommudirty_sim *sim, const struct sim_ioas *ioas,
		      uint64_t length, uint64_t user_va, uint64_t *out)
{
	uint64_t lo, hi, align = sim_ioas_alignment(sim, ioas), a = 1;

	if (!ioas_range(sim, ioas, &lo, &hi))
		return -ENOSPC;
	while (a < length && a < (1ull << 63))
		a <<= 1;
	if (user_va)
		a = MIN(a, user_va & -user_va);
	a = MAX(a, align);
	if (place(ioas, lo, hi, length, a, out))
		return 0;
	if (a != align && place(ioas, lo, hi, length, align, out))
		return 0;
	return -ENOSPC;
}

int sim_ioctl_ioas_map(struct iommudirty_sim *sim, struct sim_ictx *ictx, void *cmd)
{
	struct uapi_ioas_map *c = cmd;
	const uint32_t prot = UAPI_IOAS_MAP_WRITEABLE | UAPI_IOAS_MAP_READABLE;
	struct sim_area *area;
	struct sim_ioas *ioas;
	uint64_t align, lo, hi, iova = c->iova;
	size_t i;
	int ret;

	if ((c->flags & ~(UAPI_IOAS_MAP_FIXED_IOVA | prot)) || c->__reserved)
		return -EOPNOTSUPP;
	if (!(c->flags & prot))
		return -EINVAL;
	ioas = sim_obj_get(ictx, c->ioas_id, SIM_OBJ_IOAS);
	if (!ioas)
		return -ENOENT;
	if (!c->length)
		return -EINVAL;
	if (c->user_va + (c->length - 1) < c->user_va)
		return -EOVERFLOW;
	/* Memory no process can have cannot be pinned (the kernel pins when a
	 * domain is attached; the sim checks always). */
	if (c->user_va + c->length > SIM_USER_VA_END || c->user_va + c->length < c->user_va)
		return -EFAULT;
	align = sim_ioas_alignment(sim, ioas);
	if (c->flags & UAPI_IOAS_MAP_FIXED_IOVA) {
		/* As the kernel: the area may end at 2^64 - 1. */
		if (iova + (c->length - 1) < iova)
			return -EOVERFLOW;
		if ((iova | c->length) & (align - 1))
			return -EINVAL;
		if (overlaps(ioas, iova, iova + c->length - 1))
			return -EEXIST;
		/* Outside what the attached domains allow: reserved IOVA,
		 * which the kernel refuses with -EINVAL. */
		if (!ioas_range(sim, ioas, &lo, &hi) || iova < lo ||
		    iova + c->length - 1 > hi)
			return -EINVAL;
	} else {
		if (c->length & (align - 1))
			return -EINVAL;
		ret = alloc_iova(sim, ioas, c->length, c->user_va, &iova);
		if (ret)
			return ret;
	}

	if (sim_grow(&ioas->areas, &ioas->cap_areas, ioas->nr_areas + 1,
		     sizeof(*ioas->areas)))
		return -ENOMEM;
	area = calloc(1, sizeof(*area));
	if (!area)
		return -ENOMEM;
	area->iova = iova;
	area->last = iova + c->length - 1;
	area->user_va = c->user_va;
	area->prot = c->flags & prot;
	i = sim_ioas_find(ioas, iova);
	memmove(&ioas->areas[i + 1], &ioas->areas[i],
		(ioas->nr_areas - i) * sizeof(*ioas->areas));
	ioas->areas[i] = area;
	ioas->nr_areas++;
	c->iova = iova;
	return 0;
}

int sim_ioctl_ioas_unmap(struct iommudirty_sim *sim, struct sim_ictx *ictx, void *cmd)
{
	struct uapi_ioas_unmap *c = cmd;
	struct sim_ioas *ioas;
	uint64_t last, bytes = 0;
	size_t i, j;

	(void)sim;
	ioas = sim_obj_get(ictx, c->ioas_id, SIM_OBJ_IOAS);
	if (!ioas)
		return -ENOENT;
	if (c->iova == 0 && c->length == UINT64_MAX) {
		/* Unmap all; an empty IOAS is not an error here. */
		i = 0;
		j = ioas->nr_areas;
	} else {
		if (!c->length)
			return -EINVAL;
		last = c->iova + (c->length - 1);
		if (last < c->iova)
			return -EOVERFLOW;
		i = sim_ioas_find(ioas, c->iova);
		/* Whole areas only: a cut area fails the lot, nothing removed. */
		for (j = i; j < ioas->nr_areas && ioas->areas[j]->iova <= last; j++)
			if (ioas->areas[j]->iova < c->iova ||
			    ioas->areas[j]->last > last)
				return -ENOENT;
		if (j == i)
			return -ENOENT;
	}
	for (size_t k = i; k < j; k++) {
		bytes += ioas->areas[k]->last - ioas->areas[k]->iova + 1;
		sim_area_free(ioas->areas[k]);
	}
	if (j > i)
		memmove(&ioas->areas[i], &ioas->areas[j],
			(ioas->nr_areas - j) * sizeof(*ioas->areas));
	ioas->nr_areas -= j - i;
	c->length = bytes;
	return 0;
}

/*
 * IOMMU_IOAS_COPY: map into dst the pages src maps at [src_iova, +length),
 * which must be IOVA-contiguous areas (a hole is -ENOENT), sharing them as
 * the kernel shares its pinned pages. The kernel makes one dst area; the
 * sim makes one per source area (each keeps a linear user_va), which only
 * differs for a later UNMAP cutting between them.
 */
int sim_ioctl_ioas_copy(struct iommudirty_sim *sim, struct sim_ictx *ictx, void *cmd)
{
	struct uapi_ioas_copy *c = cmd;
	const uint32_t prot = UAPI_IOAS_MAP_WRITEABLE | UAPI_IOAS_MAP_READABLE;
	struct sim_ioas *src, *dst;
	struct sim_area **fresh;
	uint64_t last, x, align, lo, hi, dst_iova = c->dst_iova;
	size_t i, k, n = 0;

	if (c->flags & ~(UAPI_IOAS_MAP_FIXED_IOVA | prot))
		return -EOPNOTSUPP;
	if (!(c->flags & prot))
		return -EINVAL;
	src = sim_obj_get(ictx, c->src_ioas_id, SIM_OBJ_IOAS);
	dst = sim_obj_get(ictx, c->dst_ioas_id, SIM_OBJ_IOAS);
	if (!src || !dst)
		return -ENOENT;
	if (!c->length)
		return -EINVAL;
	last = c->src_iova + (c->length - 1);
	if (last < c->src_iova)
		return -EOVERFLOW;
	/* The source must be mapped all the way, without a hole. */
	i = sim_ioas_find(src, c->src_iova);
	for (x = c->src_iova, k = i; ; k++) {
		if (k >= src->nr_areas || src->areas[k]->iova > x)
			return -ENOENT;
		n++;
		if (src->areas[k]->last >= last)
			break;
		x = src->areas[k]->last + 1;
	}
	align = sim_ioas_alignment(sim, dst);
	if (c->flags & UAPI_IOAS_MAP_FIXED_IOVA) {
		if (dst_iova + (c->length - 1) < dst_iova)
			return -EOVERFLOW;
		if ((dst_iova | c->length) & (align - 1))
			return -EINVAL;
		if (overlaps(dst, dst_iova, dst_iova + c->length - 1))
			return -EEXIST;
		if (!ioas_range(sim, dst, &lo, &hi) || dst_iova < lo ||
		    dst_iova + c->length - 1 > hi)
			return -EINVAL;
	} else {
		int ret;

		if (c->length & (align - 1))
			return -EINVAL;
		ret = alloc_iova(sim, dst, c->length,
				 src->areas[i]->user_va + (c->src_iova - src->areas[i]->iova),
				 &dst_iova);
		if (ret)
			return ret;
	}
	if (sim_grow(&dst->areas, &dst->cap_areas, dst->nr_areas + n,
		     sizeof(*dst->areas)))
		return -ENOMEM;
	fresh = calloc(n, sizeof(*fresh));
	if (!fresh)
		return -ENOMEM;
	for (k = 0; k < n; k++) {
		const struct sim_area *s = src->areas[i + k];
		uint64_t from = MAX(s->iova, c->src_iova), to = MIN(s->last, last);

		fresh[k] = calloc(1, sizeof(**fresh));
		if (!fresh[k]) {
			while (k--)
				free(fresh[k]);
			free(fresh);
			return -ENOMEM;
		}
		fresh[k]->iova = dst_iova + (from - c->src_iova);
		fresh[k]->last = dst_iova + (to - c->src_iova);
		fresh[k]->user_va = s->user_va + (from - s->iova);
		fresh[k]->prot = c->flags & prot;
	}
	/* All or nothing: insert only once every area exists. */
	for (k = 0; k < n; k++) {
		size_t at = sim_ioas_find(dst, fresh[k]->iova);

		memmove(&dst->areas[at + 1], &dst->areas[at],
			(dst->nr_areas - at) * sizeof(*dst->areas));
		dst->areas[at] = fresh[k];
		dst->nr_areas++;
	}
	free(fresh);
	c->dst_iova = dst_iova;
	return 0;
}

/*
 * A device write, translated through its HWPT. An IOMMU fault aborts the
 * whole write before anything lands, so check everything first, then make
 * sure dirty storage exists (the only step that can fail), then act.
 */
int sim_dma_write(struct iommudirty_sim *sim, struct sim_dev *dev,
		  uint64_t iova, uint64_t length, const void *data)
{
	struct sim_hwpt *hwpt = dev->hwpt;
	struct sim_ioas *ioas;
	uint64_t last = iova + (length - 1), x = iova;
	bool track;
	size_t first, i;
	int ret;

	if (!hwpt)
		return -ENODEV;
	if (last < iova)
		return -EFAULT;
	ioas = hwpt->ioas;
	first = sim_ioas_find(ioas, iova);
	for (i = first;; i++) {
		const struct sim_area *a;

		if (i == ioas->nr_areas || ioas->areas[i]->iova > x)
			return -EFAULT;
		a = ioas->areas[i];
		if (!(a->prot & UAPI_IOAS_MAP_WRITEABLE))
			return -EFAULT;
		if (a->last >= last)
			break;
		x = a->last + 1;
	}
	track = hwpt->dirty_capable && hwpt->tracking;
	for (size_t k = first; track && k <= i; k++) {
		struct sim_area *a = ioas->areas[k];

		ret = sim_dirty_prepare(sim, a, hwpt, MAX(iova, a->iova),
					MIN(last, a->last));
		if (ret)
			return ret;
	}
	ret = sim_devlog_prepare(dev);
	if (ret)
		return ret;
	for (size_t k = first; k <= i; k++) {
		struct sim_area *a = ioas->areas[k];
		uint64_t s = MAX(iova, a->iova), e = MIN(last, a->last);

		if (track)
			sim_dirty_mark(sim, a, hwpt, s, e);
		if (data)
			memcpy((void *)(uintptr_t)(a->user_va + (s - a->iova)),
			       (const uint8_t *)data + (s - iova), e - s + 1);
	}
	/* All of it reached memory: the device logs it. */
	sim_devlog_mark(dev, iova, last);
	return 0;
}

/*
 * An emulated device's write: vfio_dma_rw() -> iommufd_access_rw(), no
 * IOMMU and so no dirty bits. As the kernel it copies area by area over
 * the contiguous areas from iova, so what precedes a hole or a read-only
 * area lands (and is logged) before the error.
 */
int sim_access_write(struct iommudirty_sim *sim, struct sim_dev *dev,
		     uint64_t iova, uint64_t length, const void *data)
{
	struct sim_ioas *ioas = dev->access_ioas;
	uint64_t last = iova + (length - 1), x = iova;
	int ret;

	(void)sim;
	if (!ioas)
		return -ENODEV;
	if (last < iova)
		return -EFAULT;
	ret = sim_devlog_prepare(dev);
	if (ret)
		return ret;
	ret = -EFAULT;
	for (size_t i = sim_ioas_find(ioas, iova); i < ioas->nr_areas; i++) {
		const struct sim_area *a = ioas->areas[i];
		uint64_t e = MIN(last, a->last);

		if (a->iova > x || !(a->prot & UAPI_IOAS_MAP_WRITEABLE))
			break;
		if (data)
			memcpy((void *)(uintptr_t)(a->user_va + (x - a->iova)),
			       (const uint8_t *)data + (x - iova), e - x + 1);
		if (e == last) {
			ret = 0;
			x = last;
			break;
		}
		x = e + 1;
	}
	/* [iova, x) landed, or all of it. */
	if (!ret)
		sim_devlog_mark(dev, iova, last);
	else if (x > iova)
		sim_devlog_mark(dev, iova, x - 1);
	return ret;
}
