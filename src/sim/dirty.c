/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Simulated dirty tracking: the IOPTE layout of an area in a HWPT, the
 * sparse per-IOPTE dirty bits, and SET_DIRTY_TRACKING / GET_DIRTY_BITMAP
 * with the real kernel's traps left in on purpose (see the header).
 */
#include <stdlib.h>

#include "sim_internal.h"

static uint64_t hwpt_pgsizes(const struct iommudirty_sim *sim,
			     const struct sim_hwpt *hwpt)
{
	uint64_t pg = sim->iommus[hwpt->iommu]->pgsize_bitmap;

	/* HUGE_PAGES off: the smallest IO page only. */
	return hwpt->ioas && hwpt->ioas->no_huge ? pg & -pg : pg;
}

/*
 * The IOPTE mapping x: the largest page size whose aligned block around x
 * lies inside the area and whose VA is equally aligned. That is what a
 * greedy iommu_map() of the area produces.
 */
static void iopte_of(const struct sim_area *a, uint64_t pgsizes, uint64_t x,
		     uint64_t *base, uint64_t *size)
{
	uint64_t delta = a->user_va - a->iova, bm = pgsizes, p;

	while (bm) {
		p = 1ull << (63 - __builtin_clzll(bm));
		bm &= ~p;
		*base = x & ~(p - 1);
		if (delta & (p - 1))
			continue;
		/* An aligned block never wraps, so base + p - 1 is safe. */
		if (*base < a->iova || *base + (p - 1) > a->last)
			continue;
		*size = p;
		return;
	}
	/* VA and IOVA disagree even below the smallest page: page by page. */
	p = pgsizes & -pgsizes;
	*base = x & ~(p - 1);
	*size = p;
}

/* ---- sparse bit storage ---- */

static void dmap_clear(struct sim_dmap *d)
{
	for (size_t i = 0; i < d->nr; i++)
		free(d->chunks[i].words);
	free(d->chunks);
	d->chunks = NULL;
	d->nr = d->cap = 0;
}

void sim_area_free(struct sim_area *area)
{
	for (size_t i = 0; i < area->nr_dmaps; i++)
		dmap_clear(&area->dmaps[i]);
	free(area->dmaps);
	free(area);
}

static struct sim_dmap *dmap_get(struct sim_area *a, struct sim_hwpt *hwpt,
				 bool create)
{
	struct sim_dmap *p;

	for (size_t i = 0; i < a->nr_dmaps; i++)
		if (a->dmaps[i].hwpt == hwpt)
			return &a->dmaps[i];
	if (!create)
		return NULL;
	p = realloc(a->dmaps, (a->nr_dmaps + 1) * sizeof(*p));
	if (!p)
		return NULL;
	a->dmaps = p;
	p = &a->dmaps[a->nr_dmaps++];
	*p = (struct sim_dmap){ .hwpt = hwpt };
	return p;
}

/* Drop every bit the HWPT gathered on the IOAS (ENABLE, or HWPT gone). */
void sim_dirty_drop_hwpt(struct sim_ioas *ioas, const struct sim_hwpt *hwpt)
{
	for (size_t i = 0; i < ioas->nr_areas; i++) {
		struct sim_area *a = ioas->areas[i];

		for (size_t k = 0; k < a->nr_dmaps; k++) {
			if (a->dmaps[k].hwpt != hwpt)
				continue;
			dmap_clear(&a->dmaps[k]);
			a->dmaps[k] = a->dmaps[--a->nr_dmaps];
			break;
		}
	}
}

/* Index of the first chunk with idx >= cidx. */
static size_t chunk_lb(const struct sim_dmap *d, uint64_t cidx)
{
	size_t lo = 0, hi = d->nr;

	while (lo < hi) {
		size_t mid = lo + (hi - lo) / 2;

		if (d->chunks[mid].idx < cidx)
			lo = mid + 1;
		else
			hi = mid;
	}
	return lo;
}

static uint64_t *chunk_get(struct sim_dmap *d, uint64_t cidx, bool create)
{
	size_t i = chunk_lb(d, cidx);
	uint64_t *words;

	if (i < d->nr && d->chunks[i].idx == cidx)
		return d->chunks[i].words;
	if (!create)
		return NULL;
	if (sim_grow(&d->chunks, &d->cap, d->nr + 1, sizeof(*d->chunks)))
		return NULL;
	words = calloc(SIM_CHUNK_WORDS, sizeof(*words));
	if (!words)
		return NULL;
	memmove(&d->chunks[i + 1], &d->chunks[i], (d->nr - i) * sizeof(*d->chunks));
	d->chunks[i] = (struct sim_chunk){ .idx = cidx, .words = words };
	d->nr++;
	return words;
}

/*
 * Visit every IOPTE touching [first, last] of the area: with alloc, make
 * sure its bit has storage; without, set its bit (storage must exist).
 */
static int dirty_walk(struct iommudirty_sim *sim, struct sim_area *a,
		      struct sim_hwpt *hwpt, uint64_t first, uint64_t last,
		      bool alloc)
{
	uint64_t pgsizes = hwpt_pgsizes(sim, hwpt), base, size, idx, x = first;
	unsigned int shift = __builtin_ctzll(pgsizes);
	struct sim_dmap *d = dmap_get(a, hwpt, alloc);
	uint64_t *words;

	if (!d)
		return -ENOMEM;
	for (;;) {
		iopte_of(a, pgsizes, x, &base, &size);
		idx = (base - a->iova) >> shift;
		words = chunk_get(d, idx >> SIM_CHUNK_SHIFT, alloc);
		if (!words)
			return -ENOMEM;
		if (!alloc)
			words[(idx & (SIM_CHUNK_BITS - 1)) / 64] |= 1ull << (idx % 64);
		if (base + (size - 1) >= last)
			return 0;
		x = base + size;
	}
}

int sim_dirty_prepare(struct iommudirty_sim *sim, struct sim_area *area,
		      struct sim_hwpt *hwpt, uint64_t first, uint64_t last)
{
	return dirty_walk(sim, area, hwpt, first, last, true);
}

void sim_dirty_mark(struct iommudirty_sim *sim, struct sim_area *area,
		    struct sim_hwpt *hwpt, uint64_t first, uint64_t last)
{
	/* Cannot fail: sim_dirty_prepare() made the storage. */
	(void)dirty_walk(sim, area, hwpt, first, last, false);
}

/* ---- the ioctls ---- */

int sim_ioctl_set_dirty(struct iommudirty_sim *sim, struct sim_ictx *ictx, void *cmd)
{
	struct uapi_hwpt_set_dirty_tracking *c = cmd;
	struct sim_hwpt *hwpt;

	(void)sim;
	if ((c->flags & ~UAPI_HWPT_DIRTY_TRACKING_ENABLE) || c->__reserved)
		return -EOPNOTSUPP;
	hwpt = sim_obj_get(ictx, c->hwpt_id, SIM_OBJ_HWPT);
	if (!hwpt)
		return -ENOENT;
	if (!hwpt->dirty_capable)
		return -EOPNOTSUPP;
	/* The kernel clears on every ENABLE, even when already on: a
	 * redundant ENABLE wipes what was gathered. Disable keeps bits. */
	if (c->flags & UAPI_HWPT_DIRTY_TRACKING_ENABLE)
		sim_dirty_drop_hwpt(hwpt->ioas, hwpt);
	hwpt->tracking = c->flags & UAPI_HWPT_DIRTY_TRACKING_ENABLE;
	return 0;
}

/* Set bits [first, last] of a u8 bitmap: the kernel's view of user memory,
 * so any alignment works. Only ever sets. */
static void set_user_bits(uint8_t *map, uint64_t first, uint64_t last)
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

struct read_req {
	uint8_t *map;            /* NULL: bits are dropped */
	uint64_t last_bit;       /* the last bit the kernel can reach */
	uint64_t iova;           /* bit 0 of map */
	unsigned int shift;      /* ctz(page_size), as the kernel */
	bool clear;
};

/* Report the dirty IOPTEs of the area touching [lo, hi]; without NO_CLEAR
 * clear each reported IOPTE whole, including any part outside [lo, hi]. */
static void read_area(struct iommudirty_sim *sim, struct sim_area *a,
		      struct sim_hwpt *hwpt, uint64_t lo, uint64_t hi,
		      const struct read_req *r)
{
	uint64_t pgsizes = hwpt_pgsizes(sim, hwpt), base, size, i0, i1;
	unsigned int shift = __builtin_ctzll(pgsizes);
	struct sim_dmap *d = dmap_get(a, hwpt, false);

	if (!d)
		return;
	/* Bits sit at IOPTE starts: begin at the IOPTE holding lo. */
	iopte_of(a, pgsizes, lo, &base, &size);
	i0 = (base - a->iova) >> shift;
	i1 = (hi - a->iova) >> shift;
	for (size_t k = chunk_lb(d, i0 >> SIM_CHUNK_SHIFT);
	     k < d->nr && d->chunks[k].idx <= i1 >> SIM_CHUNK_SHIFT; k++) {
		struct sim_chunk *ch = &d->chunks[k];
		uint64_t cbase = ch->idx << SIM_CHUNK_SHIFT;
		uint64_t from = MAX(i0, cbase) - cbase;
		uint64_t to = MIN(i1, cbase + SIM_CHUNK_BITS - 1) - cbase;

		for (uint64_t w = from / 64; w <= to / 64; w++) {
			uint64_t word = ch->words[w];

			if (w == from / 64)
				word &= ~0ull << (from % 64);
			if (w == to / 64)
				word &= (2ull << (to % 64)) - 1;
			while (word) {
				unsigned int bit = __builtin_ctzll(word);
				uint64_t idx = cbase + w * 64 + bit, s, e;

				word &= word - 1;
				iopte_of(a, pgsizes, a->iova + (idx << shift),
					 &base, &size);
				/* The drivers record the whole IOPTE size from
				 * where their walk enters it: from lo when the
				 * read starts inside it, and past hi when it
				 * ends inside it (not clipped: the kernel's
				 * overrun of the user bitmap). */
				s = MAX(base, lo);
				e = s + (size - 1);
				if (r->map && ((s - r->iova) >> r->shift) <= r->last_bit)
					set_user_bits(r->map, (s - r->iova) >> r->shift,
						      MIN((e - r->iova) >> r->shift,
							  r->last_bit));
				if (r->clear)
					ch->words[w] &= ~(1ull << bit);
			}
		}
	}
}

int sim_ioctl_get_dirty(struct iommudirty_sim *sim, struct sim_ictx *ictx, void *cmd)
{
	struct uapi_hwpt_get_dirty_bitmap *c = cmd;
	struct read_req r = { 0 };
	struct sim_hwpt *hwpt;
	struct sim_ioas *ioas;
	uint64_t last, x, align;

	if ((c->flags & ~UAPI_HWPT_GET_DIRTY_BITMAP_NO_CLEAR) || c->__reserved)
		return -EOPNOTSUPP;
	hwpt = sim_obj_get(ictx, c->hwpt_id, SIM_OBJ_HWPT);
	if (!hwpt)
		return -ENOENT;
	/* The kernel checks the range before it asks the driver. */
	if (!c->length)
		return -EINVAL;
	last = c->iova + (c->length - 1);
	if (last < c->iova)
		return -EOVERFLOW;
	if (!c->page_size)
		return -EINVAL;
	ioas = hwpt->ioas;
	align = sim_ioas_alignment(sim, ioas);
	/* (page_size - 1) masks and no power-of-two check: the kernel's. */
	if ((c->iova | c->length) & (align - 1))
		return -EINVAL;
	if ((c->iova | c->length) & (c->page_size - 1))
		return -EINVAL;
	if (!hwpt->dirty_capable)
		return -EOPNOTSUPP;
	/* The driver refuses a read while tracking is off; the core drops
	 * that error and reports success with nothing set. */
	if (!hwpt->tracking)
		return 0;

	r.map = (uint8_t *)(uintptr_t)c->data;
	r.iova = c->iova;
	r.shift = __builtin_ctzll(c->page_size);
	/* The kernel pins the user pages holding the bitmap and sets bits
	 * anywhere in them: the last bit it can reach is at the end of the
	 * page holding the bitmap's last byte. NULL: nothing pinned, the bits
	 * are dropped, and a clearing read still clears. */
	if (r.map) {
		uintptr_t end = (uintptr_t)r.map + ((c->length >> r.shift) + 7) / 8;

		end = (end + 4095) & ~(uintptr_t)4095;
		r.last_bit = (uint64_t)(end - (uintptr_t)r.map) * 8 - 1;
	}
	r.clear = !(c->flags & UAPI_HWPT_GET_DIRTY_BITMAP_NO_CLEAR);
	/* Only the IOVA-contiguous run of areas from iova is read; the first
	 * hole silently ends the walk and the call still returns 0. */
	x = c->iova;
	for (size_t i = sim_ioas_find(ioas, x); i < ioas->nr_areas; i++) {
		struct sim_area *a = ioas->areas[i];

		if (a->iova > x)
			break;
		read_area(sim, a, hwpt, x, MIN(a->last, last), &r);
		if (a->last >= last)
			break;
		x = a->last + 1;
	}
	return 0;
}
