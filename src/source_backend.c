/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The backend's own source: the dirty-tracking HWPTs (iommufd) or the
 * container (type1), one for all the devices that use it. Reads walk the
 * runs of IOVA-adjacent mappings and let the backend plan each run (huge
 * IOPTEs on iommufd, whole mappings and chunks on type1).
 */
#include "tracker.h"

static bool hwpt_active(const struct iommudirty_tracker *t)
{
	return backend_source(t) == IOMMUDIRTY_SOURCE_IOMMU && t->be->tracking(t);
}

static bool type1_active(const struct iommudirty_tracker *t)
{
	return backend_source(t) == IOMMUDIRTY_SOURCE_TYPE1 && t->be->tracking(t);
}

static int backend_read(const struct read_req *r, struct attachment *a)
{
	const struct iommudirty_tracker *t = r->t;
	size_t i = map_lower_bound(t, r->iova);

	(void)a;
	while (i < t->nmaps && t->maps[i].iova < r->end) {
		size_t j = i + 1;
		uint64_t rs = t->maps[i].iova, re = rs + t->maps[i].len;
		int ret;

		if (t->maps[i].gone) {
			i++;
			continue;
		}
		/* Extend over IOVA-adjacent mappings: one kernel read. */
		while (j < t->nmaps && t->maps[j].iova == re && !t->maps[j].gone) {
			re += t->maps[j].len;
			j++;
		}
		ret = t->be->read_run(r, MAX(rs, r->iova), MIN(re, r->end), i, j);
		if (ret)
			return ret;
		i = j;
	}
	return 0;
}

const struct source_ops source_hwpt = {
	.kind = IOMMUDIRTY_SOURCE_IOMMU,
	.precise = true,
	.active = hwpt_active,
	.read = backend_read,
};

const struct source_ops source_type1 = {
	.kind = IOMMUDIRTY_SOURCE_TYPE1,
	.precise = false,
	.active = type1_active,
	.read = backend_read,
};

const struct source_ops *source_of(uint32_t kind)
{
	switch (kind) {
	case IOMMUDIRTY_SOURCE_IOMMU: return &source_hwpt;
	case IOMMUDIRTY_SOURCE_TYPE1: return &source_type1;
	case IOMMUDIRTY_SOURCE_DEVICE_LOG: return &source_devlog;
	case IOMMUDIRTY_SOURCE_NONE: return &source_none;
	default: return NULL;
	}
}
