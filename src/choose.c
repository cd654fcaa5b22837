/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Each device's dirty source: which ones it has, which one the policy (or
 * the VMM) picks, and why every other one was not taken. The reasons are
 * stable codes, so a VMM can tell "no DMA logging" from "the policy
 * preferred the IOMMU" without parsing the log.
 */
#include "tracker.h"

uint32_t backend_source(const struct iommudirty_tracker *t)
{
	return t->info.backend == IOMMUDIRTY_BACKEND_TYPE1 ? IOMMUDIRTY_SOURCE_TYPE1
							   : IOMMUDIRTY_SOURCE_IOMMU;
}

bool any_source(const struct iommudirty_tracker *t, uint32_t kind)
{
	for (size_t i = 0; i < t->natts; i++)
		if (t->atts[i].source == kind)
			return true;
	return false;
}

static void add_reason(struct attachment *a, uint32_t reason)
{
	for (uint32_t i = 0; i < a->nr_reasons; i++)
		if (a->reasons[i] == reason)
			return;
	if (a->nr_reasons < IOMMUDIRTY_SOURCE_MAX_REASONS)
		a->reasons[a->nr_reasons++] = reason;
}

void choose_probe(struct iommudirty_tracker *t, struct attachment *a,
		  const struct iommudirty_device *dev)
{
	int log = -1;

	if (dev) {
		IOMMUDIRTY_OPTS(iommudirty_caps, caps);

		a->emulated = dev->emulated;
		a->can_iommu = !dev->emulated &&
			       (dev->hw.capabilities & IOMMUDIRTY_HW_CAP_DIRTY_TRACKING);
		a->nr_iommu_reasons = 0;
		if (!a->can_iommu && !dev->emulated &&
		    iommudirty_device_caps(dev, &caps) == 0) {
			for (uint32_t i = 0; i < caps.nr_reasons &&
			     a->nr_iommu_reasons < ARRAY_SIZE(a->iommu_reasons); i++)
				a->iommu_reasons[a->nr_iommu_reasons++] = caps.reasons[i];
		}
		log = dev->dma_logging;
		a->migration_flags = dev->migration_flags;
	} else {
		device_probe_features(t->ctx, a->fd, &log, &a->migration_flags);
	}
	a->can_log = log == 1 && a->fd >= 0;
}

/* Whether a can use kind; if not, note why. */
static bool usable(struct iommudirty_tracker *t, struct attachment *a,
		   uint32_t kind, bool record)
{
	uint32_t why[8 + ARRAY_SIZE(a->iommu_reasons)];
	uint32_t n = 0;
	bool precise_only = t->flags & IOMMUDIRTY_TRACKER_PRECISE_ONLY;

	switch (kind) {
	case IOMMUDIRTY_SOURCE_DEVICE_LOG:
		if (a->fd < 0)
			why[n++] = IOMMUDIRTY_REASON_NO_DEVICE_FD;
		else if (!a->can_log)
			why[n++] = IOMMUDIRTY_REASON_NO_DMA_LOGGING;
		else if (a->log_failed)
			why[n++] = IOMMUDIRTY_REASON_LOG_START_FAILED;
		break;
	case IOMMUDIRTY_SOURCE_IOMMU:
		if (backend_source(t) != IOMMUDIRTY_SOURCE_IOMMU) {
			why[n++] = IOMMUDIRTY_REASON_NEEDS_IOMMUFD;
		} else if (a->emulated) {
			why[n++] = IOMMUDIRTY_REASON_EMULATED_IOMMU;
		} else if (!a->can_iommu) {
			why[n++] = IOMMUDIRTY_REASON_DEVICE_CANNOT_TRACK;
			for (uint32_t i = 0; i < a->nr_iommu_reasons; i++)
				why[n++] = a->iommu_reasons[i];
		}
		break;
	case IOMMUDIRTY_SOURCE_TYPE1:
		if (backend_source(t) != IOMMUDIRTY_SOURCE_TYPE1)
			why[n++] = IOMMUDIRTY_REASON_NEEDS_TYPE1;
		else if (precise_only)
			why[n++] = IOMMUDIRTY_REASON_PRECISE_ONLY;
		break;
	case IOMMUDIRTY_SOURCE_NONE:
		if (precise_only)
			why[n++] = IOMMUDIRTY_REASON_PRECISE_ONLY;
		break;
	default:
		why[n++] = IOMMUDIRTY_REASON_NONE;
		break;
	}
	for (uint32_t i = 0; record && i < n; i++)
		add_reason(a, why[i]);
	return n == 0;
}

static bool all_log(const struct iommudirty_tracker *t)
{
	if (!t->natts)
		return false;
	for (size_t i = 0; i < t->natts; i++)
		if (!t->atts[i].can_log || t->atts[i].log_failed)
			return false;
	return true;
}

int choose_source(struct iommudirty_tracker *t, struct attachment *a)
{
	static const uint32_t prefer_log[] = {
		IOMMUDIRTY_SOURCE_DEVICE_LOG, IOMMUDIRTY_SOURCE_IOMMU,
		IOMMUDIRTY_SOURCE_TYPE1, IOMMUDIRTY_SOURCE_NONE,
	};
	static const uint32_t prefer_iommu[] = {
		IOMMUDIRTY_SOURCE_IOMMU, IOMMUDIRTY_SOURCE_DEVICE_LOG,
		IOMMUDIRTY_SOURCE_TYPE1, IOMMUDIRTY_SOURCE_NONE,
	};
	const uint32_t *order = t->policy == IOMMUDIRTY_POLICY_PREFER_IOMMU ?
				prefer_iommu : prefer_log;
	bool no_logs = t->policy == IOMMUDIRTY_POLICY_ALL_OR_NOTHING && !t->all_log;
	uint32_t chosen = IOMMUDIRTY_SOURCE_AUTO;

	a->nr_reasons = 0;
	if (a->want != IOMMUDIRTY_SOURCE_AUTO) {
		if (usable(t, a, a->want, true))
			chosen = a->want;
		for (size_t i = 0; i < ARRAY_SIZE(prefer_log); i++)
			if (prefer_log[i] != a->want && usable(t, a, prefer_log[i], false))
				add_reason(a, IOMMUDIRTY_REASON_FORCED);
	} else {
		for (size_t i = 0; i < ARRAY_SIZE(prefer_log); i++) {
			uint32_t k = order[i];

			if (k == IOMMUDIRTY_SOURCE_DEVICE_LOG && no_logs) {
				if (usable(t, a, k, true))
					add_reason(a, IOMMUDIRTY_REASON_NOT_ALL_LOG);
				continue;
			}
			if (!usable(t, a, k, true))
				continue;
			if (chosen == IOMMUDIRTY_SOURCE_AUTO)
				chosen = k;
			else
				add_reason(a, IOMMUDIRTY_REASON_POLICY);
		}
	}
	if (chosen == IOMMUDIRTY_SOURCE_AUTO) {
		a->source = IOMMUDIRTY_SOURCE_AUTO;
		return -EOPNOTSUPP;
	}
	a->source = chosen;
	if (chosen == IOMMUDIRTY_SOURCE_TYPE1)
		add_reason(a, IOMMUDIRTY_REASON_TYPE1_CONSERVATIVE);
	if (chosen == IOMMUDIRTY_SOURCE_NONE)
		add_reason(a, IOMMUDIRTY_REASON_UNTRACKED_WRITER);
	return 0;
}

int choose_all(struct iommudirty_tracker *t)
{
	int first = 0;

	t->all_log = all_log(t);
	for (size_t i = 0; i < t->natts; i++) {
		int ret = choose_source(t, &t->atts[i]);

		if (ret && !first)
			first = ret;
	}
	refresh_info(t);
	return first;
}

void refresh_info(struct iommudirty_tracker *t)
{
	uint32_t cons = 0;

	for (size_t i = 0; i < t->natts; i++) {
		const struct attachment *a = &t->atts[i];

		if (!source_of(a->source) || source_of(a->source)->precise)
			continue;
		cons++;
		info_add_reason(&t->info, a->source == IOMMUDIRTY_SOURCE_TYPE1 ?
				IOMMUDIRTY_REASON_TYPE1_CONSERVATIVE :
				IOMMUDIRTY_REASON_UNTRACKED_WRITER);
	}
	t->info.nr_devices = (uint32_t)t->natts;
	t->info.nr_conservative = cons;
	/* A type1 container with writers the tracker does not know of (an
	 * adopted one) is read: conservative. */
	t->info.precise = !cons && !(backend_source(t) == IOMMUDIRTY_SOURCE_TYPE1 &&
				     !t->natts);
}

IOMMUDIRTY_API const char *iommudirty_source_str(uint32_t source)
{
	switch (source) {
	case IOMMUDIRTY_SOURCE_AUTO: return "auto";
	case IOMMUDIRTY_SOURCE_IOMMU: return "iommu";
	case IOMMUDIRTY_SOURCE_TYPE1: return "type1";
	case IOMMUDIRTY_SOURCE_DEVICE_LOG: return "device-log";
	case IOMMUDIRTY_SOURCE_NONE: return "none";
	default: return "unknown";
	}
}

IOMMUDIRTY_API int iommudirty_tracker_source_info(struct iommudirty_tracker *t,
						  unsigned int index,
						  struct iommudirty_source_info *info)
{
	struct iommudirty_source_info full;
	const struct attachment *a;
	size_t sz;
	int n;

	if (!t || !info || info->sz < offsetof(struct iommudirty_source_info, reasons))
		return ret_err(-EINVAL);
	pthread_rwlock_rdlock(&t->lock);
	n = (int)t->natts;
	if (index >= t->natts) {
		pthread_rwlock_unlock(&t->lock);
		return ret_err(-ENOENT);
	}
	a = &t->atts[index];
	memset(&full, 0, sizeof(full));
	full.dev_id = a->dev_id;
	full.pci_index = a->pci_index;
	full.source = a->source;
	full.precise = source_of(a->source) && source_of(a->source)->precise;
	full.nr_reasons = a->nr_reasons;
	memcpy(full.reasons, a->reasons, sizeof(full.reasons));
	full.flags = a->flags;
	full.migration_flags = a->migration_flags;
	devlog_fill_info(a, &full);
	pthread_rwlock_unlock(&t->lock);
	sz = MIN(info->sz, sizeof(full));
	memcpy((char *)info + sizeof(info->sz), (const char *)&full + sizeof(full.sz),
	       sz - sizeof(info->sz));
	return n;
}
