/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <stdlib.h>

#include "iommufd.h"
#include "tracker.h"

/* Write-protect by moving house: iommufd cannot take write permission away
 * from a mapping, but it can move a device to another page table at once.
 * A second IOAS gets every mapping but the range, a twin HWPT per IOMMU,
 * then every device moves onto the twins. From that moment the old HWPTs
 * receive no DMA: their bits are final, nothing can slip in between. */

int ioas_copy_mapping(struct iommudirty_tracker *t, uint32_t dst_ioas,
		      const struct mapping *m)
{
	struct uapi_ioas_copy c = {
		.size = sizeof(c),
		.flags = UAPI_IOAS_MAP_FIXED_IOVA |
			 ((m->flags & IOMMUDIRTY_MAP_READ) ? UAPI_IOAS_MAP_READABLE : 0) |
			 ((m->flags & IOMMUDIRTY_MAP_WRITE) ? UAPI_IOAS_MAP_WRITEABLE : 0),
		.dst_ioas_id = dst_ioas,
		.src_ioas_id = t->ioas_id,
		.length = m->len,
		.dst_iova = m->iova,
		.src_iova = m->iova,
	};
	int ret = sys_ioctl(t->ctx, t->ctx->fd, IOMMU_IOAS_COPY, &c);

	if (ret)
		log_err(t->ctx, "IOAS_COPY [%#llx, +%#llx) to IOAS %u: %s",
			(unsigned long long)m->iova, (unsigned long long)m->len,
			dst_ioas, strerror(-ret));
	return ret;
}

static size_t hwpt_index(const struct iommudirty_tracker *t, uint32_t id)
{
	for (size_t i = 0; i < t->nhwpts; i++)
		if (t->hwpts[i].id == id)
			return i;
	return SIZE_MAX;
}

/* Move devices (and the VMM's, through replace_fn) from the HWPTs in
 * from[] to the ones in to[]; entries with id 0 in to[] are skipped. On
 * failure, move back what moved. */
/* Where attachment a goes: its HWPT's twin, or the new IOAS itself. */
static uint32_t move_target(const struct iommudirty_tracker *t, size_t a,
			    const struct hwpt *to, uint32_t to_ioas)
{
	size_t i;

	if (!t->atts[a].hwpt_id)
		return to_ioas;
	i = hwpt_index(t, t->atts[a].hwpt_id);
	return i == SIZE_MAX ? 0 : to[i].id;
}

int move_devices(struct iommudirty_tracker *t, const struct hwpt *from,
		 const struct hwpt *to, uint32_t from_ioas, uint32_t to_ioas,
		 bool *stuck)
{
	size_t a = 0, v = 0;
	int ret = 0;

	for (; a < t->natts; a++) {
		uint32_t dst = move_target(t, a, to, to_ioas);

		if (t->atts[a].flags & IOMMUDIRTY_ATTACH_BY_VMM)
			continue;
		ret = dst ? vfio_attach_pt(t->ctx, t->atts[a].fd, dst, NULL) : -EPROTO;
		if (ret) {
			log_err(t->ctx, "device %u: move to %u: %s",
				t->atts[a].dev_id, dst, strerror(-ret));
			goto back;
		}
	}
	for (; v < t->nhwpts; v++) {
		if (!from[v].vmm_attach)
			continue;
		ret = t->replace_fn(t->replace_user, from[v].id, to[v].id);
		if (ret) {
			log_err(t->ctx, "VMM: move devices from HWPT %u to %u: %s",
				from[v].id, to[v].id, strerror(-ret));
			goto back;
		}
	}
	return 0;
back:
	while (v-- > 0)
		if (from[v].vmm_attach &&
		    t->replace_fn(t->replace_user, to[v].id, from[v].id)) {
			log_err(t->ctx, "VMM: could not move devices back to HWPT %u",
				from[v].id);
			if (stuck)
				*stuck = true;
		}
	while (a-- > 0) {
		uint32_t back = move_target(t, a, from, from_ioas);

		if (t->atts[a].flags & IOMMUDIRTY_ATTACH_BY_VMM)
			continue;
		if (vfio_attach_pt(t->ctx, t->atts[a].fd, back, NULL)) {
			log_err(t->ctx, "device %u: could not move back to %u",
				t->atts[a].dev_id, back);
			if (stuck)
				*stuck = true;
		}
	}
	return ret;
}

int read_to_pending(struct iommudirty_tracker *t, const struct hwpt *hw, size_t n,
		    uint64_t s, uint64_t e)
{
	/* No caller range: every bit read goes to pending. */
	struct read_req out = { .t = t, .page_size = 4096, .hwpts = hw, .nhwpts = n };
	/* Windows on max_io_page boundaries cut no IOPTE; 1 GiB or more
	 * each keeps the calls few and the scratch bitmap small (32 KiB at
	 * 4 KiB pages). */
	uint64_t w = MAX(t->max_io_page, 1ull << 30);
	int ret = 0;

	for (uint64_t x = s, y; !ret && x < e; x = y) {
		y = MIN(e, align_down(x, w) + w);
		if (!y) /* the top of the IOVA space */
			y = e;
		ret = read_bounce(&out, x, y, fit_page(4096, x, y));
	}
	return ret;
}

/* Read and clear the old HWPTs, now final: the range into the caller's
 * bitmap, everything else into pending bits. With no bitmap the range is
 * skipped: HWPTs that never mapped it (twins) are read everywhere else. */
static int harvest(struct iommudirty_tracker *t, const struct hwpt *old, size_t nold,
		   uint64_t iova, uint64_t len, uint64_t ps, uint64_t *bitmap,
		   size_t first, size_t last)
{
	struct read_req in = { .t = t, .iova = iova, .end = iova + len, .page_size = ps,
			       .bitmap = bitmap, .hwpts = old, .nhwpts = nold };
	int ret;

	for (size_t i = 0; i < t->nmaps;) {
		bool inside = i >= first && i < last;
		size_t j = i + 1;
		uint64_t rs = t->maps[i].iova, re = rs + t->maps[i].len;

		if (t->maps[i].gone) {
			i++;
			continue;
		}
		while (j < t->nmaps && t->maps[j].iova == re && !t->maps[j].gone &&
		       (j >= first && j < last) == inside) {
			re += t->maps[j].len;
			j++;
		}
		if (inside) {
			ret = bitmap ? iommufd_read_run(&in, rs, re, i, j) : 0;
		} else {
			ret = read_to_pending(t, old, nold, rs, re);
		}
		if (ret)
			return ret;
		i = j;
	}
	return 0;
}

int iommufd_write_protect(struct iommudirty_tracker *t, uint64_t iova,
			  uint64_t len, uint64_t ps, uint64_t *bitmap,
			  size_t first, size_t last)
{
	size_t n = t->nhwpts, k;
	struct hwpt *twin, *old;
	uint32_t new_ioas;
	int ret;

	if (t->flags & IOMMUDIRTY_TRACKER_STANDBY)
		return sb_write_protect(t, iova, len, ps, bitmap, first, last);

	/* The VMM's objects are not ours to destroy or replace. */
	if (!t->own_ioas)
		return -EOPNOTSUPP;
	for (size_t i = 0; i < n; i++)
		if (!t->hwpts[i].owned ||
		    (!t->hwpts[i].dev_id && !hwpt_unused(&t->hwpts[i])) ||
		    (t->hwpts[i].vmm_attach && !t->replace_fn))
			return -EOPNOTSUPP;
	/* A device the VMM put on the IOAS itself would keep the range. */
	for (size_t a = 0; a < t->natts; a++)
		if ((t->atts[a].flags & IOMMUDIRTY_ATTACH_BY_VMM) &&
		    t->atts[a].source != IOMMUDIRTY_SOURCE_IOMMU)
			return -EOPNOTSUPP;
	twin = calloc(n ? n : 1, sizeof(*twin));
	old = calloc(n ? n : 1, sizeof(*old));
	if (!twin || !old) {
		ret = -ENOMEM;
		goto out_free;
	}
	if (n) /* t->hwpts may be NULL with none */
		memcpy(old, t->hwpts, n * sizeof(*old));
	ret = iommufd_ioas_alloc(t->ctx, &new_ioas);
	if (ret)
		goto out_free;
	if (t->flags & IOMMUDIRTY_TRACKER_SMALL_IO_PAGES) {
		ret = iommufd_ioas_huge_pages(t->ctx, new_ioas, false);
		if (ret) {
			ctx_destroy_or_defer(t->ctx, new_ioas);
			goto out_free;
		}
	}
	/* Twins first, on the empty IOAS: enabling is cheap there. HWPTs no
	 * device uses any more need none: they are only harvested. */
	for (k = 0; k < n; k++) {
		twin[k] = old[k];
		twin[k].id = 0;
		twin[k].tracking = false;
		if (hwpt_unused(&old[k]))
			continue;
		ret = iommufd_hwpt_alloc_dirty(t->ctx, old[k].dev_id, new_ioas, &twin[k].id);
		if (!ret && old[k].tracking) {
			ret = iommufd_hwpt_set_dirty(t->ctx, twin[k].id, true);
			twin[k].tracking = !ret;
		}
		if (ret) {
			log_err(t->ctx, "write-protect: twin of HWPT %u: %s", old[k].id,
				strerror(-ret));
			goto out_destroy;
		}
	}
	/* Every mapping but the range (and those already taken away). One
	 * COPY per mapping keeps area boundaries: a later unmap of one
	 * mapping must not cut a bigger area. */
	for (size_t i = 0; i < t->nmaps; i++) {
		if ((i >= first && i < last) || t->maps[i].gone)
			continue;
		ret = ioas_copy_mapping(t, new_ioas, &t->maps[i]);
		if (ret)
			goto out_destroy;
	}
	ret = move_devices(t, old, twin, t->ioas_id, new_ioas, NULL);
	if (ret) {
		/* Devices moved back, but some wrote through a twin in the
		 * meantime: those bits are owed before the twins go. */
		struct hwpt *live = calloc(n, sizeof(*live));
		size_t nlive = 0;

		for (k = 0; live && k < n; k++)
			if (twin[k].id)
				live[nlive++] = twin[k];
		if (!live || harvest(t, live, nlive, iova, len, ps, NULL, first, last)) {
			log_warn(t->ctx, "write-protect: could not read the twins: "
				 "reporting every page dirty");
			for (size_t i = 0; i < t->nmaps; i++)
				if (!t->maps[i].gone && (i < first || i >= last))
					pending_add_range(t, t->maps[i].iova,
							  t->maps[i].iova + t->maps[i].len);
		}
		free(live);
		pending_normalize(t);
		goto out_destroy;
	}

	/* No way back from here: the devices write through the twins. */
	ret = harvest(t, old, n, iova, len, ps, bitmap, first, last);
	if (ret) {
		/* What could not be read is reported as dirty: all of it. */
		log_warn(t->ctx, "write-protect: reading the old HWPTs failed (%s): "
			 "reporting every page dirty", strerror(-ret));
		bitmap_set_range(bitmap, 0, len / ps);
		for (size_t i = 0; i < t->nmaps; i++)
			if (!t->maps[i].gone && (i < first || i >= last))
				pending_add_range(t, t->maps[i].iova,
						  t->maps[i].iova + t->maps[i].len);
	}
	pending_normalize(t);
	for (k = 0; k < n; k++)
		ctx_destroy_or_defer(t->ctx, old[k].id);
	ctx_destroy_or_defer(t->ctx, t->ioas_id);

	t->ioas_id = new_ioas;
	for (size_t a = 0; a < t->natts; a++)
		if (t->atts[a].hwpt_id)
			t->atts[a].hwpt_id = move_target(t, a, twin, 0);
	t->nhwpts = 0;
	for (k = 0; k < n; k++)
		if (twin[k].id)
			t->hwpts[t->nhwpts++] = twin[k];
	ret = 0;
	goto out_free;

out_destroy:
	for (size_t i = 0; i < n; i++)
		if (twin[i].id)
			ctx_destroy_or_defer(t->ctx, twin[i].id);
	ctx_destroy_or_defer(t->ctx, new_ioas);
out_free:
	free(twin);
	free(old);
	return ret;
}

