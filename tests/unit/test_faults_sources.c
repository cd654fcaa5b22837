/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Failure injection over the per-device source paths (see test_faults.c):
 * a device-log device, an IOMMU-tracked device and an untracked writer in
 * one tracker; every kernel call of start, read, NO_CLEAR read,
 * unmap_dirty, write_protect, detach and attach-while-started fails in
 * turn. The error must surface unchanged, nothing may leak, the tracker
 * must still work and no written page may be lost.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "sweep.h"

static const struct iommudirty_sim_device_opts logging = {
	.sz = sizeof(logging),
	.flags = IOMMUDIRTY_SIM_DEV_DMA_LOGGING,
	.migration_flags = 1,
	.log_max_ranges = 2, /* three runs of mappings: START is retried */
};

/* Device 0 logs (its IOMMU cannot track), device 1 is on a HWPT; three
 * runs of mappings; the device that logs writes last. */
static void setup_mixed_stopped(struct fx *f)
{
	uint8_t *mem;

	memset(written, 0, sizeof(written));
	memset(seen, 0, sizeof(seen));
	assert_int_equal(fx_add_iommu(f, 0, IOMMUDIRTY_SIM_IOMMU_NO_DIRTY), 0);
	assert_int_equal(fx_add_iommu(f, 0, 0), 1);
	assert_int_equal(fx_add_vfio_device(f, 0, &logging), 0);
	assert_int_equal(fx_add_device(f, 1), 1);
	assert_int_equal(fx_tracker(f), 0);
	assert_int_equal(iommudirty_tracker_attach(f->t, f->dev[0]), 0);
	assert_int_equal(iommudirty_tracker_attach(f->t, f->dev[1]), 0);
	mem = fx_mem(f, SPAN, 2 * MiB);
	assert_int_equal(iommudirty_tracker_map(f->t, mem, 64 * KiB, 0, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_map(f->t, mem + 2 * MiB, 64 * KiB, 2 * MiB,
						IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_map(f->t, mem + 4 * MiB, 64 * KiB, 4 * MiB,
						IOMMUDIRTY_MAP_WRITE), 0);
	objs_before = objects(f);
}

static void setup_mixed(struct fx *f)
{
	setup_mixed_stopped(f);
	assert_int_equal(iommudirty_tracker_start(f->t), 0);
	dev_write(f, 0, 3);
	dev_write(f, 1, 5);
	dev_write(f, 0, 512 + 7);
	dev_write(f, 0, 1024 + 9);
	dev_write(f, 1, 1024 + 11);
}

static void check_works(struct fx *f)
{
	assert_int_equal(iommudirty_tracker_started(f->t), 1);
	/* The last run: the ops take the first two away. */
	dev_write(f, 0, 1024 + 1);
	dev_write(f, 1, 1024 + 2);
	read_into_seen(f, 0, SPAN);
	expect_no_loss();
}

/* start ------------------------------------------------------------------ */
static int op_start(struct fx *f)
{
	return iommudirty_tracker_start(f->t);
}

static void post_start(struct fx *f, int ret)
{
	struct iommudirty_source_info si = { .sz = sizeof(si) };

	if (ret) {
		assert_int_equal(iommudirty_tracker_started(f->t), 0);
		assert_int_equal(op_start(f), 0);
	}
	assert_true(iommudirty_tracker_source_info(f->t, 0, &si) == 2);
	/* A refused START falls back to the untracked writer, never to
	 * silence. */
	assert_true(si.source == IOMMUDIRTY_SOURCE_DEVICE_LOG ||
		    si.source == IOMMUDIRTY_SOURCE_NONE);
	check_works(f);
}

/* read ------------------------------------------------------------------- */
static int op_read(struct fx *f)
{
	uint64_t m[NPAGES / 64] = { 0 };
	int ret = iommudirty_tracker_read(f->t, 0, SPAN, PG, m, sizeof(m), 0);

	/* A failed read's bits count too: the caller was told to treat the
	 * range as dirty, and those it did get are real. */
	iommudirty_bitmap_or(seen, m, NPAGES);
	return ret;
}

static int op_read_no_clear(struct fx *f)
{
	uint64_t m[NPAGES / 64];

	return iommudirty_tracker_read(f->t, 0, SPAN, PG, m, sizeof(m),
				       IOMMUDIRTY_READ_NO_CLEAR);
}

static void post_read(struct fx *f, int ret)
{
	(void)ret;
	check_works(f);
}

/* unmap_dirty and write_protect of the first run ---------------------------- */
static int op_unmap_dirty(struct fx *f)
{
	uint64_t m[1] = { 0 };
	int ret = iommudirty_tracker_unmap_dirty(f->t, 0, 64 * KiB, PG, m, sizeof(m), 0);

	iommudirty_bitmap_or(seen, m, 16);
	return ret;
}

static void post_unmap_dirty(struct fx *f, int ret)
{
	if (ret) {
		/* Bits of a failed unmap_dirty are owed to the next read. */
		read_into_seen(f, 0, SPAN);
		if (fx_write(f, 1, 0, 1) == 0)
			assert_int_equal(op_unmap_dirty(f), 0);
	}
	assert_int_equal(fx_write(f, 1, 0, 1), -EFAULT);
	assert_int_equal(fx_write(f, 0, 0, 1), -EFAULT);
	check_works(f);
}

static int op_write_protect(struct fx *f)
{
	uint64_t m[1] = { 0 };
	int ret = iommudirty_tracker_write_protect(f->t, 2 * MiB, 64 * KiB, PG, m,
						   sizeof(m), 0);

	iommudirty_bitmap_or(seen + 512 / 64, m, 16);
	return ret;
}

static void post_write_protect(struct fx *f, int ret)
{
	if (ret) {
		read_into_seen(f, 0, SPAN);
		if (fx_write(f, 1, 2 * MiB, 1) == 0)
			assert_int_equal(op_write_protect(f), 0);
	}
	assert_int_equal(fx_write(f, 0, 2 * MiB, 1), -EFAULT);
	assert_int_equal(fx_write(f, 1, 2 * MiB, 1), -EFAULT);
	check_works(f);
}

/* detach the logging device: its log is read first ------------------------ */
static int op_detach(struct fx *f)
{
	return iommudirty_tracker_detach(f->t, f->dev[0]);
}

static void post_detach(struct fx *f, int ret)
{
	if (ret)
		assert_int_equal(op_detach(f), 0);
	read_into_seen(f, 0, SPAN);
	expect_no_loss();
	assert_int_equal(iommudirty_tracker_attach(f->t, f->dev[0]), 0);
	check_works(f);
}

/* attach while started: START at attach ----------------------------------- */
static void setup_started_one(struct fx *f)
{
	setup_mixed(f);
	assert_int_equal(iommudirty_tracker_detach(f->t, f->dev[0]), 0);
	read_into_seen(f, 0, SPAN);
	objs_before = objects(f);
}

static int op_attach(struct fx *f)
{
	return iommudirty_tracker_attach(f->t, f->dev[0]);
}

static void post_attach(struct fx *f, int ret)
{
	struct iommudirty_tracker_info info = { .sz = sizeof(info) };

	if (ret) {
		/* Not attached, nothing left behind. */
		assert_int_equal(iommudirty_tracker_info(f->t, &info), 0);
		assert_int_equal(info.nr_devices, 1);
		assert_int_equal(objects(f), objs_before);
		assert_int_equal(fx_write(f, 0, 0, 1), -ENODEV);
		assert_int_equal(op_attach(f), 0);
	}
	check_works(f);
}

static const struct scenario scenarios[] = {
	{ "log_start", setup_mixed_stopped, op_start, post_start },
	{ "log_read", setup_mixed, op_read, post_read },
	{ "log_read_no_clear", setup_mixed, op_read_no_clear, post_read },
	{ "log_unmap_dirty", setup_mixed, op_unmap_dirty, post_unmap_dirty },
	{ "log_write_protect", setup_mixed, op_write_protect, post_write_protect },
	{ "log_detach", setup_mixed, op_detach, post_detach },
	{ "log_attach_started", setup_started_one, op_attach, post_attach },
};

static void test_sweep_sources(void **state)
{
	(void)state;
	for (size_t i = 0; i < sizeof(scenarios) / sizeof(scenarios[0]); i++)
		sweep(&scenarios[i]);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_sweep_sources),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
