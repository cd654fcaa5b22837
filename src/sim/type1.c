/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The simulated legacy VFIO: the type1 container (/dev/vfio/vfio), IOMMU
 * groups (/dev/vfio/<g>), device fds from VFIO_GROUP_GET_DEVICE_FD, and
 * device DMA through a container. Follows 6.12 drivers/vfio/container.c,
 * group.c and vfio_iommu_type1.c, traps included: type1 has no dirty bits,
 * so every mapped page reads dirty on every read, and a read over an
 * unmapped range succeeds with nothing written. With IOMMUDIRTY_SIM_TYPE1_COMPAT
 * the container is iommufd's emulation (iommufd/vfio_compat.c): no
 * CAP_MIGRATION and no dirty ioctls.
 */
#include <stdlib.h>

#include "sim_internal.h"

/* Constants of include/uapi/linux/vfio.h that only the sim needs. */
#define VFIO_TYPE1_IOMMU 1
#define VFIO_DMA_CC_IOMMU 4
#define VFIO_TYPE1_NESTING_IOMMU 6
#define VFIO_UNMAP_ALL 9
#define VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL 3
#define SIM_DMA_ENTRY_LIMIT 65535u /* type1's dma_entry_limit default */
#define SIM_HOST_PAGE 4096ull

struct sim_cap_dma_avail {
	struct uapi_vfio_info_cap_header header;
	uint32_t avail;
	uint32_t pad;                /* caps are padded to 8 bytes */
};

static bool compat(const struct iommudirty_sim *sim)
{
	return sim->flags & IOMMUDIRTY_SIM_TYPE1_COMPAT;
}

bool sim_group_opened(const struct sim_dev *dev)
{
	return dev->group_fd >= 0 || dev->group_dev_fds;
}

/* ---- the container's IOMMU: page sizes, aperture, mappings ---- */

/*
 * vfio_update_pgsize_bitmap(): the sizes every group's IOMMU has, with
 * sizes below the host page hidden behind the host page.
 */
static uint64_t c_pgsizes(const struct iommudirty_sim *sim,
			  const struct sim_container *c, const struct sim_dev *extra)
{
	uint64_t bm = UINT64_MAX;

	for (int i = 0; i < sim->nr_devs; i++)
		if (sim->devs[i]->container == c || sim->devs[i] == extra)
			bm &= sim->iommus[sim->devs[i]->iommu]->pgsize_bitmap;
	if (bm & (SIM_HOST_PAGE - 1)) {
		bm &= ~(SIM_HOST_PAGE - 1);
		bm |= SIM_HOST_PAGE;
	}
	return bm;
}

static uint64_t c_pgsize(const struct iommudirty_sim *sim,
			 const struct sim_container *c)
{
	uint64_t bm = c_pgsizes(sim, c, NULL);

	return bm & -bm;
}

/* The one usable IOVA range: the intersection of the groups' apertures. */
static bool c_range(const struct iommudirty_sim *sim,
		    const struct sim_container *c, const struct sim_dev *extra,
		    uint64_t *lo, uint64_t *hi)
{
	*lo = 0;
	*hi = UINT64_MAX;
	for (int i = 0; i < sim->nr_devs; i++) {
		const struct sim_dev *d = sim->devs[i];

		if (d->container != c && d != extra)
			continue;
		*lo = MAX(*lo, sim->iommus[d->iommu]->aperture_start);
		*hi = MIN(*hi, sim->iommus[d->iommu]->aperture_last);
	}
	return *lo <= *hi;
}

/* Index of the first mapping ending at or after iova. */
static size_t dma_find(const struct sim_container *c, uint64_t iova)
{
	size_t lo = 0, hi = c->nr_dmas;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (c->dmas[mid].iova + (c->dmas[mid].size - 1) < iova)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

/* The mapping holding iova, or NULL (vfio_find_dma(iommu, iova, 1)). */
static const struct sim_dma *dma_at(const struct sim_container *c, uint64_t iova)
{
	size_t i = dma_find(c, iova);

	return i < c->nr_dmas && c->dmas[i].iova <= iova ? &c->dmas[i] : NULL;
}

/* Detaching the last group deprivileges the container: its IOMMU goes. */
static void c_release_iommu(struct sim_container *c)
{
	free(c->dmas);
	c->dmas = NULL;
	c->nr_dmas = c->cap_dmas = 0;
	c->type = 0;
	c->tracking = false;
}

static void c_put(struct sim_container *c)
{
	if (c->fd < 0 && !c->groups) {
		free(c->dmas);
		free(c);
	}
}

/* vfio_group_detach_container() */
static void group_detach(struct sim_dev *dev)
{
	struct sim_container *c = dev->container;

	dev->container = NULL;
	if (!--c->groups)
		c_release_iommu(c);
	c_put(c);
}

/* ---- opens and closes ---- */

int sim_open_container(struct iommudirty_sim *sim)
{
	struct sim_container *c;
	int fd;

	if (sim->flags & IOMMUDIRTY_SIM_NO_TYPE1)
		return -ENOENT;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	fd = sim_fd_new(sim, SIM_FD_CONTAINER, c);
	if (fd < 0) {
		free(c);
		return fd;
	}
	c->fd = fd;
	return fd;
}

int sim_open_group(struct iommudirty_sim *sim, int device)
{
	struct sim_dev *dev = sim->devs[device];
	int fd;

	/* One opener; and not while a cdev of the group is bound. */
	if (sim_group_opened(dev) || dev->idev)
		return -EBUSY;
	fd = sim_fd_new(sim, SIM_FD_GROUP, dev);
	if (fd >= 0)
		dev->group_fd = fd;
	return fd;
}

void sim_container_close(struct iommudirty_sim *sim, struct sim_container *c)
{
	(void)sim;
	/* Attached groups keep it, mappings and all, as the kernel's kref. */
	c->fd = -1;
	c_put(c);
}

/* The group file's release: only once no device fd holds it. */
static void group_release(struct sim_dev *dev)
{
	if (sim_group_opened(dev))
		return;
	if (dev->container)
		group_detach(dev);
}

void sim_group_close(struct iommudirty_sim *sim, struct sim_dev *dev)
{
	(void)sim;
	dev->group_fd = -1;
	group_release(dev);
}

void sim_group_dev_close(struct iommudirty_sim *sim, struct sim_dev *dev)
{
	(void)sim;
	/* The last device fd closes the device: the driver's close_device
	 * stops DMA logging. */
	if (!--dev->group_dev_fds)
		sim_devlog_stop(dev);
	group_release(dev);
}

/* ---- user memory helpers ---- */

/* VFIO structs: copy in the first minsz bytes; argsz is the first u32. */
static int copy_in(void *dst, const void *arg, size_t minsz)
{
	if (!arg)
		return -EFAULT;
	memcpy(dst, arg, minsz);
	return 0;
}

static uint64_t bitmap_bytes(uint64_t npages)
{
	/* DIRTY_BITMAP_BYTES(): whole u64 words. npages < 2^63 here. */
	return (npages + 63) / 64 * 8;
}

/* verify_bitmap_size(), with the sim's limit for DIRTY_BITMAP_SIZE_MAX. */
static int verify_bitmap_size(const struct iommudirty_sim *sim,
			      uint64_t npages, uint64_t bitmap_size)
{
	if (!npages || !bitmap_size || bitmap_size > sim->type1_max_bitmap ||
	    bitmap_size < bitmap_bytes(npages))
		return -EINVAL;
	return 0;
}

/* access_ok(): the bitmap must not wrap the address space. */
static bool access_ok(uint64_t data, uint64_t size)
{
	return data + size >= data;
}

static uint64_t ffs64(uint64_t x)
{
	return x ? (uint64_t)__builtin_ctzll(x) : 0;
}

/*
 * update_user_bitmap() for one mapping, all pages dirty: whole u64 words
 * from the one holding its first bit are written. The first word is OR-ed
 * with the user's only when the mapping starts mid-word; otherwise, and for
 * every later word, the user's bits are replaced, so bits past the mapping
 * in its last word read back as 0. The user is meant to pass zeroed memory.
 */
static void user_bitmap_set(uint64_t data, uint64_t bit, uint64_t nbits,
			    bool stale)
{
	uint8_t *ubm = (uint8_t *)(uintptr_t)data;
	uint64_t first = bit / 64, shift = bit % 64, end = bit + nbits;
	uint64_t nwords = (shift + nbits + 63) / 64;

	/* 6.12 keeps a bitmap per mapping, shifts it by the report's offset
	 * and clears only the mapping's own bits afterwards: once reported,
	 * bits past its end in its last word come back as leftovers, and
	 * whole words are copied out. The real values depend on history; the
	 * sim sets them all, the worst case. */
	if (stale)
		end = MIN(end | 63, first * 64 + nwords * 64 - 1) + 1;

	for (uint64_t k = 0; k < nwords; k++) {
		uint64_t lo = (first + k) * 64, w, old;
		uint64_t s = MAX(bit, lo) - lo, e = MIN(end, lo + 64) - lo;

		w = (e == 64 ? UINT64_MAX : (1ull << e) - 1) & ~((1ull << s) - 1);
		if (!k && shift) {
			memcpy(&old, ubm + (first + k) * 8, sizeof(old));
			w |= old;
		}
		memcpy(ubm + (first + k) * 8, &w, sizeof(w));
	}
}

/* ---- container ioctls ---- */

static int c_check_extension(const struct iommudirty_sim *sim,
			     const struct sim_container *c, unsigned long ext)
{
	switch (ext) {
	case VFIO_TYPE1_IOMMU:
	case VFIO_TYPE1v2_IOMMU:
	case VFIO_UNMAP_ALL:
		return 1;
	case VFIO_TYPE1_NESTING_IOMMU:
		/* Obsolete; iommufd's compat says no. */
		return !compat(sim);
	case VFIO_DMA_CC_IOMMU:
		/* Sim IOMMUs enforce coherency; needs a set IOMMU to know. */
		return c->type != 0;
	default:
		/* VFIO_UPDATE_VADDR and the rest: not modelled. */
		return 0;
	}
}

static int c_set_iommu(struct iommudirty_sim *sim, struct sim_container *c,
		       unsigned long type)
{
	uint64_t lo, hi;

	/* Groups give the privilege; no unset but by removing them all. */
	if (!c->groups || c->type)
		return -EINVAL;
	if (type != VFIO_TYPE1_IOMMU && type != VFIO_TYPE1v2_IOMMU &&
	    (type != VFIO_TYPE1_NESTING_IOMMU || compat(sim)))
		return -EINVAL;
	/* Groups whose IOMMUs share no page size or IOVA cannot share it. */
	if (!c_pgsizes(sim, c, NULL) || !c_range(sim, c, NULL, &lo, &hi))
		return -EINVAL;
	c->type = type;
	return 0;
}

static bool c_v2(const struct sim_container *c)
{
	return c->type != VFIO_TYPE1_IOMMU;
}

static int c_get_info(struct iommudirty_sim *sim, struct sim_container *c,
		      void *arg)
{
	const size_t hdr = sizeof(struct uapi_vfio_iommu_type1_info);
	struct uapi_vfio_iommu_type1_info info = { 0 };
	struct uapi_vfio_cap_migration mig = { 0 };
	struct sim_cap_dma_avail avail = { 0 };
	struct uapi_vfio_cap_iova_range iova = { 0 };
	struct uapi_vfio_iova_range range;
	/* u64 words: every cap starts 8-byte aligned, so headers may be
	 * written in place. */
	uint64_t capbuf[16];
	uint8_t *caps = (uint8_t *)capbuf;
	struct uapi_vfio_info_cap_header *last = NULL;
	size_t csz = 0, minsz;
	uint64_t bm = c_pgsizes(sim, c, NULL);

	if (copy_in(&info, arg, 16))
		return -EFAULT;
	if (info.argsz < 16)
		return -EINVAL;
	minsz = MIN(info.argsz, hdr);
	info.flags = UAPI_VFIO_IOMMU_INFO_PGSIZES | UAPI_VFIO_IOMMU_INFO_CAPS;
	info.iova_pgsizes = bm;
	info.cap_offset = 0;

	/* The kernel's chain order: migration, DMA avail, IOVA ranges;
	 * next is the offset from the start of the info struct. */
#define ADD_CAP(obj, extra)                                                    \
	do {                                                                   \
		if (last)                                                      \
			last->next = (uint32_t)(hdr + csz);                    \
		memcpy(caps + csz, &(obj), sizeof(obj));                       \
		last = (struct uapi_vfio_info_cap_header *)(void *)(caps + csz); \
		csz += sizeof(obj) + (extra);                                  \
	} while (0)
	if (!compat(sim)) {
		mig.header.id = UAPI_VFIO_IOMMU_TYPE1_INFO_CAP_MIGRATION;
		mig.header.version = 1;
		mig.pgsize_bitmap = bm & -bm;
		mig.max_dirty_bitmap_size = sim->type1_max_bitmap;
		ADD_CAP(mig, 0);
	}
	avail.header.id = VFIO_IOMMU_TYPE1_INFO_DMA_AVAIL;
	avail.header.version = 1;
	avail.avail = compat(sim) ? UINT32_MAX :
		      SIM_DMA_ENTRY_LIMIT - (uint32_t)c->nr_dmas;
	ADD_CAP(avail, 0);
	iova.header.id = UAPI_VFIO_IOMMU_TYPE1_INFO_CAP_IOVA_RANGE;
	iova.header.version = 1;
	iova.nr_iovas = c_range(sim, c, NULL, &range.start, &range.end) ? 1 : 0;
	ADD_CAP(iova, 0);
	if (iova.nr_iovas) {
		memcpy(caps + csz, &range, sizeof(range));
		csz += sizeof(range);
	}
#undef ADD_CAP
	if (info.argsz < hdr + csz) {
		info.argsz = (uint32_t)(hdr + csz);
	} else {
		memcpy((uint8_t *)arg + hdr, caps, csz);
		info.cap_offset = (uint32_t)hdr;
		/* iommufd's compat always reports the exact size. */
		if (compat(sim))
			info.argsz = (uint32_t)(hdr + csz);
	}
	memcpy(arg, &info, minsz);
	return 0;
}

static int c_map_dma(struct iommudirty_sim *sim, struct sim_container *c,
		     void *arg)
{
	const uint32_t prot = UAPI_VFIO_DMA_MAP_FLAG_READ |
			      UAPI_VFIO_DMA_MAP_FLAG_WRITE;
	struct uapi_vfio_dma_map m;
	uint64_t pg = c_pgsize(sim, c), lo, hi, last;
	size_t i;

	if (copy_in(&m, arg, sizeof(m)))
		return -EFAULT;
	/* VFIO_DMA_MAP_FLAG_VADDR is not modelled: an unknown flag. */
	if (m.argsz < sizeof(m) || (m.flags & ~prot))
		return -EINVAL;
	if (!(m.flags & prot))
		return -EINVAL;
	if (!m.size || ((m.size | m.iova | m.vaddr) & (pg - 1)))
		return -EINVAL;
	last = m.iova + (m.size - 1);
	if (last < m.iova || m.vaddr + (m.size - 1) < m.vaddr)
		return -EINVAL;
	/* type1 pins at map: memory past the user address space faults. */
	if (m.vaddr + m.size > SIM_USER_VA_END || m.vaddr + m.size < m.vaddr)
		return -EFAULT;
	i = dma_find(c, m.iova);
	if (i < c->nr_dmas && c->dmas[i].iova <= last)
		return -EEXIST;
	if (c->nr_dmas >= SIM_DMA_ENTRY_LIMIT)
		return -ENOSPC;
	/* Outside the IOMMUs' apertures: vfio_iommu_iova_dma_valid(). */
	if (!c_range(sim, c, NULL, &lo, &hi) || m.iova < lo || last > hi)
		return -EINVAL;
	if (sim_grow(&c->dmas, &c->cap_dmas, c->nr_dmas + 1, sizeof(*c->dmas)))
		return -ENOMEM;
	memmove(&c->dmas[i + 1], &c->dmas[i], (c->nr_dmas - i) * sizeof(*c->dmas));
	c->dmas[i] = (struct sim_dma){ .iova = m.iova, .size = m.size,
				       .vaddr = m.vaddr, .prot = m.flags & prot };
	c->nr_dmas++;
	return 0;
}

/* A v2 range must not bisect a mapping at either end. */
static bool bisects(const struct sim_container *c, uint64_t iova, uint64_t last)
{
	const struct sim_dma *d = dma_at(c, iova);

	if (d && d->iova != iova)
		return true;
	d = dma_at(c, last);
	return d && d->iova + (d->size - 1) != last;
}

static int c_unmap_dma(struct iommudirty_sim *sim, struct sim_container *c,
		       void *arg)
{
	const uint32_t get = UAPI_VFIO_DMA_UNMAP_FLAG_GET_DIRTY_BITMAP;
	const uint32_t all = UAPI_VFIO_DMA_UNMAP_FLAG_ALL;
	struct uapi_vfio_dma_unmap u;
	struct uapi_vfio_bitmap bm = { 0 };
	uint64_t pg = c_pgsize(sim, c), last, unmapped = 0;
	size_t i, j;

	if (copy_in(&u, arg, sizeof(u)))
		return -EFAULT;
	/* iommufd's compat: GET_DIRTY_BITMAP is obsolete, an unknown flag. */
	if (u.argsz < sizeof(u) || (u.flags & ~(compat(sim) ? all : get | all)))
		return -EINVAL;
	if ((u.flags & get) && (u.flags & all))
		return -EINVAL;
	if (u.flags & get) {
		if (u.argsz < sizeof(struct uapi_vfio_dma_unmap_bitmap))
			return -EINVAL;
		memcpy(&bm, (uint8_t *)arg + sizeof(u), sizeof(bm));
		if (!access_ok(bm.data, bm.size))
			return -EINVAL;
		if (!bm.pgsize ||
		    verify_bitmap_size(sim, u.size >> ffs64(bm.pgsize), bm.size))
			return -EINVAL;
	}
	/* vfio_dma_do_unmap() */
	if (u.iova & (pg - 1))
		return -EINVAL;
	if (u.flags & all) {
		if (u.iova || u.size)
			return -EINVAL;
		last = UINT64_MAX;
	} else {
		last = u.iova + (u.size - 1);
		if (!u.size || (u.size & (pg - 1)) || last < u.iova)
			return -EINVAL;
	}
	if ((u.flags & get) && (!c->tracking || bm.pgsize != pg))
		return -EINVAL;
	if (c_v2(c) && !(u.flags & all) && bisects(c, u.iova, last))
		return -EINVAL;

	i = dma_find(c, u.iova);
	/* v1: a request starting inside a mapping unmaps nothing. */
	if (!c_v2(c) && i < c->nr_dmas && c->dmas[i].iova < u.iova)
		j = i;
	else
		for (j = i; j < c->nr_dmas && c->dmas[j].iova <= last; j++)
			;
	if ((u.flags & get) && j > i && !bm.data)
		return -EFAULT;
	for (size_t k = i; k < j; k++) {
		if (u.flags & get)
			user_bitmap_set(bm.data, (c->dmas[k].iova - u.iova) / pg,
					c->dmas[k].size / pg, c->dmas[k].reported);
		unmapped += c->dmas[k].size;
	}
	/* No memmove on an empty (maybe NULL) array (UBSan). */
	if (j > i) {
		memmove(&c->dmas[i], &c->dmas[j],
			(c->nr_dmas - j) * sizeof(*c->dmas));
		c->nr_dmas -= j - i;
	}
	u.size = unmapped;
	memcpy(arg, &u, sizeof(u));
	return 0;
}

static int c_get_bitmap(struct iommudirty_sim *sim, struct sim_container *c,
			const struct uapi_vfio_dirty_bitmap *hdr, void *arg)
{
	struct uapi_vfio_dirty_bitmap_get r;
	uint64_t pg = c_pgsize(sim, c), last;
	size_t i;

	if (hdr->argsz < sizeof(struct uapi_vfio_dirty_pages_get))
		return -EINVAL;
	memcpy(&r, (uint8_t *)arg + sizeof(*hdr), sizeof(r));
	if (r.iova + r.size < r.iova)
		return -EINVAL;
	if (!access_ok(r.bitmap.data, r.bitmap.size))
		return -EINVAL;
	if (!r.bitmap.pgsize ||
	    verify_bitmap_size(sim, r.size >> ffs64(r.bitmap.pgsize),
			       r.bitmap.size))
		return -EINVAL;
	/* Only the smallest IOMMU page. */
	if (r.bitmap.pgsize != pg || (r.iova & (pg - 1)) || !r.size ||
	    (r.size & (pg - 1)))
		return -EINVAL;
	if (!c->tracking)
		return -EINVAL;
	last = r.iova + (r.size - 1);
	/* vfio_iova_dirty_bitmap(): whole mappings only. */
	if (bisects(c, r.iova, last))
		return -EINVAL;
	i = dma_find(c, r.iova);
	if (i < c->nr_dmas && c->dmas[i].iova <= last && !r.bitmap.data)
		return -EFAULT;
	/* Perpetually dirty: every page of every mapping inside, every read;
	 * holes are left alone, and the call still succeeds. */
	for (; i < c->nr_dmas && c->dmas[i].iova <= last; i++) {
		user_bitmap_set(r.bitmap.data, (c->dmas[i].iova - r.iova) / pg,
				c->dmas[i].size / pg, c->dmas[i].reported);
		c->dmas[i].reported = true;
	}
	return 0;
}

static int c_dirty_pages(struct iommudirty_sim *sim, struct sim_container *c,
			 void *arg)
{
	const uint32_t mask = UAPI_VFIO_DIRTY_PAGES_FLAG_START |
			      UAPI_VFIO_DIRTY_PAGES_FLAG_STOP |
			      UAPI_VFIO_DIRTY_PAGES_FLAG_GET_BITMAP;
	struct uapi_vfio_dirty_bitmap d;

	if (compat(sim))
		return -ENOTTY;
	if (!c_v2(c))
		return -EACCES;
	if (copy_in(&d, arg, sizeof(d)))
		return -EFAULT;
	if (d.argsz < sizeof(d) || (d.flags & ~mask))
		return -EINVAL;
	/* Exactly one operation. */
	if (!d.flags || (d.flags & (d.flags - 1)))
		return -EINVAL;
	if (d.flags & UAPI_VFIO_DIRTY_PAGES_FLAG_START)
		c->tracking = true;
	else if (d.flags & UAPI_VFIO_DIRTY_PAGES_FLAG_STOP)
		c->tracking = false;
	else
		return c_get_bitmap(sim, c, &d, arg);
	return 0;
}

int sim_container_ioctl(struct iommudirty_sim *sim, struct sim_container *c,
			unsigned long req, void *arg)
{
	switch (req) {
	case VFIO_GET_API_VERSION:
		return VFIO_API_VERSION;
	case VFIO_CHECK_EXTENSION:
		/* The extension is the argument itself, not a pointer. */
		return c_check_extension(sim, c, (unsigned long)(uintptr_t)arg);
	case VFIO_SET_IOMMU:
		return c_set_iommu(sim, c, (unsigned long)(uintptr_t)arg);
	}
	/* Everything else goes to the IOMMU driver: none yet, -EINVAL. */
	if (!c->type)
		return -EINVAL;
	switch (req) {
	case VFIO_IOMMU_GET_INFO:
		return c_get_info(sim, c, arg);
	case VFIO_IOMMU_MAP_DMA:
		return c_map_dma(sim, c, arg);
	case VFIO_IOMMU_UNMAP_DMA:
		return c_unmap_dma(sim, c, arg);
	case VFIO_IOMMU_DIRTY_PAGES:
		return c_dirty_pages(sim, c, arg);
	}
	return -ENOTTY;
}

/* ---- group ioctls ---- */

static int g_get_status(struct sim_dev *dev, void *arg)
{
	struct uapi_vfio_group_status st;

	if (copy_in(&st, arg, sizeof(st)))
		return -EFAULT;
	if (st.argsz < sizeof(st))
		return -EINVAL;
	/* The group is open, so no cdev holds its DMA ownership. */
	st.flags = UAPI_VFIO_GROUP_FLAGS_VIABLE;
	if (dev->container)
		st.flags |= UAPI_VFIO_GROUP_FLAGS_CONTAINER_SET;
	memcpy(arg, &st, sizeof(st));
	return 0;
}

static int g_set_container(struct iommudirty_sim *sim, struct sim_dev *dev,
			   void *arg)
{
	struct sim_container *c;
	struct sim_fd *f;
	uint64_t lo, hi;
	int cfd;

	if (copy_in(&cfd, arg, sizeof(cfd)))
		return -EFAULT;
	f = sim_fd_find(sim, cfd);
	if (!f)
		return -EBADF;
	if (dev->container)
		return -EINVAL;
	/* An fd that is neither a container nor (unmodelled) an iommufd. */
	if (f->kind != SIM_FD_CONTAINER)
		return -EBADFD;
	c = f->p;
	/* A set IOMMU must take the group in: vfio_iommu_aper_conflict(). */
	if (c->type) {
		if (!c_pgsizes(sim, c, dev) || !c_range(sim, c, dev, &lo, &hi))
			return -EINVAL;
		for (size_t i = 0; i < c->nr_dmas; i++)
			if (c->dmas[i].iova < lo ||
			    c->dmas[i].iova + (c->dmas[i].size - 1) > hi)
				return -EINVAL;
	}
	dev->container = c;
	c->groups++;
	return 0;
}

static int g_get_device_fd(struct iommudirty_sim *sim, struct sim_dev *dev,
			   void *arg)
{
	char bdf[32];
	int device = -1, fd;

	if (!arg)
		return -EFAULT;
	for (int i = 0; i < sim->nr_devs; i++)
		if (sim->devs[i] == dev)
			device = i;
	/* The group has one device; match its name exactly. */
	if (sim_dev_bdf(device, bdf, sizeof(bdf)) || strcmp(bdf, arg))
		return -ENODEV;
	if (!dev->container || !dev->container->type)
		return -EINVAL;
	/* Unreachable through the kernel's rules (a bound cdev keeps the
	 * group from opening), kept as a guard. */
	if (dev->idev)
		return -EBUSY;
	fd = sim_fd_new(sim, SIM_FD_GROUP_DEVICE, dev);
	if (fd >= 0)
		dev->group_dev_fds++;
	return fd;
}

int sim_group_ioctl(struct iommudirty_sim *sim, struct sim_dev *dev,
		    unsigned long req, void *arg)
{
	switch (req) {
	case VFIO_GROUP_GET_STATUS:
		return g_get_status(dev, arg);
	case VFIO_GROUP_SET_CONTAINER:
		return g_set_container(sim, dev, arg);
	case VFIO_GROUP_UNSET_CONTAINER:
		if (!dev->container)
			return -EINVAL;
		/* Open device fds use the container. */
		if (dev->group_dev_fds)
			return -EBUSY;
		group_detach(dev);
		return 0;
	case VFIO_GROUP_GET_DEVICE_FD:
		return g_get_device_fd(sim, dev, arg);
	}
	return -ENOTTY;
}

/* A group-opened device fd: no iommufd ioctls, the core's device
 * features, and vfio-pci's own ioctls are not modelled. */
int sim_group_dev_ioctl(struct iommudirty_sim *sim, struct sim_dev *dev,
			unsigned long req, void *arg)
{
	if (req == VFIO_DEVICE_BIND_IOMMUFD)
		return -EINVAL;
	if (req == VFIO_DEVICE_FEATURE)
		return sim_devlog_feature(sim, dev, arg);
	return -ENOTTY;
}

/* ---- DMA ---- */

/* Translate through the container; a fault aborts before anything lands.
 * No dirty bits: type1 has none to set. */
int sim_type1_dma_write(struct iommudirty_sim *sim, struct sim_dev *dev,
			uint64_t iova, uint64_t length, const void *data)
{
	struct sim_container *c = dev->container;
	uint64_t last = iova + (length - 1), x = iova;
	size_t first, i;
	int ret;

	(void)sim;
	if (!c || !c->type)
		return -ENODEV;
	if (last < iova)
		return -EFAULT;
	first = dma_find(c, iova);
	for (i = first;; i++) {
		const struct sim_dma *d;

		if (i == c->nr_dmas || c->dmas[i].iova > x)
			return -EFAULT;
		d = &c->dmas[i];
		if (!(d->prot & UAPI_VFIO_DMA_MAP_FLAG_WRITE))
			return -EFAULT;
		if (d->iova + (d->size - 1) >= last)
			break;
		x = d->iova + d->size;
	}
	ret = sim_devlog_prepare(dev);
	if (ret)
		return ret;
	for (size_t k = first; data && k <= i; k++) {
		const struct sim_dma *d = &c->dmas[k];
		uint64_t s = MAX(iova, d->iova);
		uint64_t e = MIN(last, d->iova + (d->size - 1));

		memcpy((void *)(uintptr_t)(d->vaddr + (s - d->iova)),
		       (const uint8_t *)data + (s - iova), e - s + 1);
	}
	sim_devlog_mark(dev, iova, last);
	return 0;
}
