/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Failure injection over the standby (IOMMUDIRTY_TRACKER_STANDBY, see
 * test_faults.c): every kernel call of building it at start, of the swap
 * in write_protect (with devices moved back), of map and unmap keeping it
 * in step, and of an attach that needs a twin fails in turn. The error
 * must surface unchanged or the call succeed (the standby then dropped and
 * rebuilt later), nothing may leak, no written page may be lost, and the
 * atomic unmap must still work afterwards.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sweep.h"

static uint8_t *mem;

/* Two IOMMUs (one with 2 MiB IOPTEs), a device on each, four mappings. */
static void setup_stopped(struct fx *f)
{
	IOMMUDIRTY_OPTS(iommudirty_tracker_opts, o, .flags = IOMMUDIRTY_TRACKER_STANDBY);

	memset(written, 0, sizeof(written));
	memset(seen, 0, sizeof(seen));
	assert_int_equal(fx_add_iommu(f, 0, 0), 0);
	assert_int_equal(fx_add_iommu(f, PG | 2 * MiB, 0), 1);
	assert_int_equal(fx_add_device(f, 0), 0);
	assert_int_equal(fx_add_device(f, 1), 1);
	assert_int_equal(iommudirty_tracker_new(f->ctx, &o, &f->t), 0);
	assert_int_equal(iommudirty_tracker_attach(f->t, f->dev[0]), 0);
	assert_int_equal(iommudirty_tracker_attach(f->t, f->dev[1]), 0);
	mem = fx_mem(f, SPAN, 2 * MiB);
	assert_int_equal(iommudirty_tracker_map(f->t, mem, 64 * KiB, 0, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_map(f->t, mem + 64 * KiB, 64 * KiB, 64 * KiB,
						IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_map(f->t, mem + 2 * MiB, 2 * MiB, 2 * MiB,
						IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_map(f->t, mem + 4 * MiB, 64 * KiB, 4 * MiB,
						IOMMUDIRTY_MAP_WRITE), 0);
	objs_before = objects(f);
}

static void setup_started(struct fx *f)
{
	setup_stopped(f);
	assert_int_equal(iommudirty_tracker_start(f->t), 0);
	dev_write(f, 0, 3);
	dev_write(f, 1, 17);
	dev_write(f, 0, 1024 + 5);
	objs_before = objects(f);
}

/* Tracking works, nothing is lost, and an atomic unmap of the last
 * mapping (through a rebuilt standby if it was dropped) still keeps its
 * guarantee. */
static void check_works(struct fx *f)
{
	uint64_t m[1] = { 0 };

	assert_int_equal(iommudirty_tracker_started(f->t), 1);
	dev_write(f, 0, 1024 + 9);
	dev_write(f, 1, 1024 + 10);
	assert_int_equal(iommudirty_tracker_write_protect(f->t, 4 * MiB, 64 * KiB, PG, m,
							  sizeof(m), 0), 0);
	iommudirty_bitmap_or(seen + 1024 / 64, m, 16);
	assert_int_equal(fx_write(f, 0, 4 * MiB, 1), -EFAULT);
	assert_int_equal(fx_write(f, 1, 4 * MiB, 1), -EFAULT);
	read_into_seen(f, 0, 4 * MiB);
	expect_no_loss();
}

static int op_start(struct fx *f)
{
	return iommudirty_tracker_start(f->t);
}

static void post_start(struct fx *f, int ret)
{
	if (ret) {
		assert_int_equal(iommudirty_tracker_started(f->t), 0);
		assert_int_equal(objects(f), objs_before);
		assert_int_equal(op_start(f), 0);
	}
	check_works(f);
}

static int op_write_protect(struct fx *f)
{
	uint64_t m[8] = { 0 };
	int ret = iommudirty_tracker_write_protect(f->t, 0, 128 * KiB, PG, m, sizeof(m), 0);

	iommudirty_bitmap_or(seen, m, 32);
	return ret;
}

static void post_write_protect(struct fx *f, int ret)
{
	if (ret) {
		/* Nothing changed: still mapped for everyone. */
		assert_int_equal(fx_write(f, 0, 0, 1), 0);
		fx_set_bit(written, 0);
		assert_int_equal(op_write_protect(f), 0);
	}
	assert_int_equal(fx_write(f, 0, 0, 1), -EFAULT);
	assert_int_equal(fx_write(f, 1, 64 * KiB, 1), -EFAULT);
	check_works(f);
}

static int op_map(struct fx *f)
{
	return iommudirty_tracker_map(f->t, mem + 6 * MiB, 64 * KiB, 6 * MiB,
				      IOMMUDIRTY_MAP_WRITE);
}

static void post_map(struct fx *f, int ret)
{
	uint64_t m[1] = { 0 };

	if (ret)
		assert_int_equal(op_map(f), 0);
	/* The new mapping goes atomically too. */
	dev_write(f, 1, 1536 + 1);
	assert_int_equal(iommudirty_tracker_write_protect(f->t, 6 * MiB, 64 * KiB, PG, m,
							  sizeof(m), 0), 0);
	iommudirty_bitmap_or(seen + 1536 / 64, m, 16);
	assert_int_equal(fx_write(f, 1, 6 * MiB, 1), -EFAULT);
	check_works(f);
}

static int op_unmap(struct fx *f)
{
	return iommudirty_tracker_unmap(f->t, 2 * MiB, 2 * MiB);
}

static void post_unmap(struct fx *f, int ret)
{
	if (ret)
		assert_int_equal(op_unmap(f), 0);
	/* Its bits went with the plain unmap; the rest must not. */
	for (uint64_t p = 512; p < 1024; p++)
		if (fx_test_bit(written, p))
			fx_set_bit(seen, p);
	assert_int_equal(fx_write(f, 0, 2 * MiB, 1), -EFAULT);
	check_works(f);
}

/* A device behind a new IOMMU while started: a new HWPT and its twin. */
static void setup_one_more(struct fx *f)
{
	setup_started(f);
	assert_int_equal(fx_add_iommu(f, 0, 0), 2);
	assert_int_equal(fx_add_device(f, 2), 2);
	objs_before = objects(f);
}

static int op_attach(struct fx *f)
{
	return iommudirty_tracker_attach(f->t, f->dev[2]);
}

static void post_attach(struct fx *f, int ret)
{
	if (ret)
		assert_int_equal(op_attach(f), 0);
	dev_write(f, 2, 1024 + 13);
	check_works(f);
	assert_int_equal(fx_write(f, 2, 4 * MiB, 1), -EFAULT);
}

static const struct scenario scenarios[] = {
	{ "standby_start", setup_stopped, op_start, post_start },
	{ "standby_swap", setup_started, op_write_protect, post_write_protect },
	{ "standby_map", setup_started, op_map, post_map },
	{ "standby_unmap", setup_started, op_unmap, post_unmap },
	{ "standby_attach", setup_one_more, op_attach, post_attach },
};

static void test_sweep_standby(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		sweep(&scenarios[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sweep_standby),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
