/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The none source: a device that can write by DMA and that nothing
 * tracks. Every page of every writable mapping is reported dirty on every
 * read, with no kernel call: conservative, never silent (the device's
 * source info says UNTRACKED_WRITER).
 */
#include "tracker.h"

static bool none_active(const struct iommudirty_tracker *t)
{
	return any_source(t, IOMMUDIRTY_SOURCE_NONE) || t->stuck;
}

static int none_part(const struct read_req *r, uint64_t s, uint64_t e, void *user)
{
	(void)user;
	if (r->to_pending)
		pending_add_range(r->t, s, e);
	else
		mark_bytes(r->bitmap, r->iova, r->page_size, s, e);
	return 0;
}

static int none_read(const struct read_req *r, struct attachment *a)
{
	(void)a;
	return for_each_mapped_part(r, true, none_part, NULL);
}

const struct source_ops source_none = {
	.kind = IOMMUDIRTY_SOURCE_NONE,
	.precise = false,
	.after_fence = true,
	.active = none_active,
	.read = none_read,
};
