/* SPDX-License-Identifier: LGPL-2.1-or-later */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sweep.h"

uint64_t calls(struct fx *f)
{
	struct iommudirty_sim_stats st = { .sz = sizeof(st) };

	assert_int_equal(iommudirty_sim_get_stats(f->sim, &st), 0);
	return st.calls;
}

uint64_t objects(struct fx *f)
{
	struct iommudirty_sim_stats st = { .sz = sizeof(st) };

	assert_int_equal(iommudirty_sim_get_stats(f->sim, &st), 0);
	return st.objects;
}

/* Written pages, to check that none is ever lost. */
uint64_t written[NPAGES / 64];
uint64_t seen[NPAGES / 64];
uint64_t objs_before;

void dev_write(struct fx *f, int dev, uint64_t page)
{
	assert_int_equal(fx_write(f, dev, page * PG, 1), 0);
	fx_set_bit(written, page);
}

void read_into_seen(struct fx *f, uint64_t iova, uint64_t len)
{
	uint64_t m[NPAGES / 64];

	assert_int_equal(iommudirty_tracker_read(f->t, iova, len, PG, m, sizeof(m), 0), 0);
	iommudirty_bitmap_or(seen + iova / PG / 64, m, len / PG);
}

void expect_no_loss(void)
{
	for (uint64_t p = 0; p < NPAGES; p++)
		if (fx_test_bit(written, p) && !fx_test_bit(seen, p))
			fail_msg("dirty page %llu lost", (unsigned long long)p);
}

void sweep(const struct scenario *s)
{
	struct fx f;
	uint64_t n, c0;
	int ret;

	/* A clean run tells how many kernel calls the operation makes. */
	assert_int_equal(fx_init(&f), 0);
	s->setup(&f);
	c0 = calls(&f);
	assert_int_equal(s->op(&f), 0);
	n = calls(&f) - c0;
	s->post(&f, 0);
	fx_fini(&f);
	assert_true(n >= 1);

	for (uint64_t k = 1; k <= n; k++) {
		assert_int_equal(fx_init(&f), 0);
		s->setup(&f);
		assert_int_equal(iommudirty_sim_fail_call(f.sim, k, INJECTED), 0);
		errno = 0;
		ret = s->op(&f);
		assert_int_equal(iommudirty_sim_fail_call(f.sim, 0, 0), 0);
		if (ret && ret != INJECTED)
			fail_msg("%s: kernel call %llu/%llu failed with %d, the op returned %d",
				 s->name, (unsigned long long)k, (unsigned long long)n,
				 INJECTED, ret);
		if (ret)
			assert_int_equal(errno, -INJECTED);
		s->post(&f, ret);
		fx_fini(&f);
	}
	print_message("%-18s %llu kernel calls, each failed in turn\n", s->name,
		      (unsigned long long)n);
}

