/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * The standby (IOMMUDIRTY_TRACKER_STANDBY): the atomic unmap at a cost in
 * the range and the devices, not in the other mappings. Checked against
 * the sim's state: kernel calls per operation, where devices can write,
 * which bits come back, and that the owed bits of the old HWPTs are
 * reported exactly once.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fixture.h"
#include "uapi.h"

#define PG (4 * KiB)
#define MAPSZ (64 * KiB) /* 16 pages each */

static uint64_t ioctls(struct fx *f)
{
	struct iommudirty_sim_stats st = { .sz = sizeof(st) };

	assert_int_equal(iommudirty_sim_get_stats(f->sim, &st), 0);
	return st.ioctls;
}

/* n adjacent 64 KiB mappings, two devices on two IOMMUs, started. */
static void setup_n(struct fx *f, unsigned int n, unsigned int flags)
{
	IOMMUDIRTY_OPTS(iommudirty_tracker_opts, o, .flags = flags);
	uint8_t *mem;

	assert_int_equal(fx_init(f), 0);
	assert_int_equal(fx_add_iommu(f, 0, 0), 0);
	assert_int_equal(fx_add_iommu(f, 0, 0), 1);
	assert_int_equal(fx_add_device(f, 0), 0);
	assert_int_equal(fx_add_device(f, 1), 1);
	assert_int_equal(iommudirty_tracker_new(f->ctx, &o, &f->t), 0);
	assert_int_equal(iommudirty_tracker_attach(f->t, f->dev[0]), 0);
	assert_int_equal(iommudirty_tracker_attach(f->t, f->dev[1]), 0);
	mem = fx_mem(f, (uint64_t)n * MAPSZ, PG);
	for (unsigned int i = 0; i < n; i++)
		assert_int_equal(iommudirty_tracker_map(f->t, mem + (uint64_t)i * MAPSZ, MAPSZ,
							(uint64_t)i * MAPSZ,
							IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_start(f->t), 0);
}

/* Kernel calls of one atomic unmap of the middle mapping. */
static uint64_t atomic_calls(unsigned int n)
{
	struct fx f;
	uint64_t m[1], c;
	uint64_t k = (uint64_t)(n / 2) * MAPSZ;

	setup_n(&f, n, IOMMUDIRTY_TRACKER_STANDBY);
	assert_int_equal(fx_write(&f, 0, k + PG, 1), 0);
	c = ioctls(&f);
	assert_int_equal(iommudirty_tracker_unmap_dirty(f.t, k, MAPSZ, PG, m, sizeof(m),
							IOMMUDIRTY_UNMAP_ATOMIC), 0);
	c = ioctls(&f) - c;
	assert_int_equal(m[0], 2);
	fx_fini(&f);
	return c;
}

/* The same kernel calls for 10 and 1000 mappings (without the standby the
 * atomic unmap copies every mapping). */
static void test_cost_independent_of_mappings(void **state)
{
	uint64_t c10 = atomic_calls(10), c1000 = atomic_calls(1000);

	(void)state;
	print_message("atomic unmap with the standby: %llu kernel calls at 10 "
		      "mappings, %llu at 1000\n", (unsigned long long)c10,
		      (unsigned long long)c1000);
	assert_int_equal(c10, c1000);
	assert_true(c10 <= 12);
}

/* Bits of the old HWPTs outside the range are owed: the next read reports
 * them once, a NO_CLEAR read keeps them; the range is gone for every
 * device; the ids swap and swap back. */
static void test_owed_bits_reported_once(void **state)
{
	struct fx f;
	uint64_t m[2], ioas0, ioas1;
	uint32_t ids0[2], ids1[2];

	(void)state;
	setup_n(&f, 8, IOMMUDIRTY_TRACKER_STANDBY);
	ioas0 = iommudirty_tracker_ioas_id(f.t);
	assert_int_equal(iommudirty_tracker_hwpt_ids(f.t, ids0, 2), 2);
	assert_int_equal(fx_write(&f, 0, 2 * PG, 1), 0);        /* mapping 0 */
	assert_int_equal(fx_write(&f, 1, 16 * PG + PG, 1), 0);  /* mapping 1: the range */
	assert_int_equal(fx_write(&f, 1, 40 * PG, 1), 0);       /* mapping 2 */
	assert_int_equal(iommudirty_tracker_write_protect(f.t, MAPSZ, MAPSZ, PG, m, sizeof(m), 0),
			 0);
	assert_int_equal(m[0], 2);
	ioas1 = iommudirty_tracker_ioas_id(f.t);
	assert_int_not_equal(ioas0, ioas1);
	assert_int_equal(iommudirty_tracker_hwpt_ids(f.t, ids1, 2), 2);
	assert_int_not_equal(ids0[0], ids1[0]);
	/* Nobody can write the range; everything else still maps. */
	assert_int_equal(fx_write(&f, 0, MAPSZ, 1), -EFAULT);
	assert_int_equal(fx_write(&f, 1, MAPSZ, 1), -EFAULT);
	assert_int_equal(fx_write(&f, 0, 100 * PG, 1), 0);      /* mapping 6 */
	/* Owed bits (pages 2, 40) and the new one (100), NO_CLEAR twice. */
	for (int i = 0; i < 2; i++) {
		assert_int_equal(iommudirty_tracker_read(f.t, 0, 128 * PG, PG, m, sizeof(m),
							 IOMMUDIRTY_READ_NO_CLEAR), 0);
		assert_int_equal(m[0], (1ull << 2) | (1ull << 40));
		assert_int_equal(m[1], 1ull << (100 - 64));
	}
	assert_int_equal(iommudirty_tracker_read(f.t, 0, 128 * PG, PG, m, sizeof(m), 0), 0);
	assert_int_equal(m[0], (1ull << 2) | (1ull << 40));
	assert_int_equal(iommudirty_tracker_read(f.t, 0, 128 * PG, PG, m, sizeof(m), 0), 0);
	assert_int_equal(m[0] | m[1], 0);
	/* The second atomic unmap moves everyone back to the first IOAS. */
	assert_int_equal(iommudirty_tracker_unmap(f.t, MAPSZ, MAPSZ), 0);
	assert_int_equal(fx_write(&f, 0, 3 * MAPSZ + PG, 1), 0);
	assert_int_equal(fx_write(&f, 1, 5 * MAPSZ, 1), 0);
	assert_int_equal(iommudirty_tracker_unmap_dirty(f.t, 3 * MAPSZ, MAPSZ, PG, m, 8,
							IOMMUDIRTY_UNMAP_ATOMIC), 0);
	assert_int_equal(m[0], 2);
	assert_int_equal(iommudirty_tracker_ioas_id(f.t), ioas0);
	assert_int_equal(iommudirty_tracker_read(f.t, 0, 128 * PG, PG, m, sizeof(m), 0), 0);
	assert_int_equal(m[0], 0);
	assert_int_equal(m[1], 1ull << (5 * 16 - 64)); /* owed by the old tables */
	assert_int_equal(fx_write(&f, 0, 3 * MAPSZ, 1), -EFAULT);
	/* Maps and unmaps while started reach both IOASes. */
	assert_int_equal(iommudirty_tracker_map(f.t, fx_mem(&f, MAPSZ, PG), MAPSZ, MAPSZ,
						IOMMUDIRTY_MAP_WRITE), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(fx_write(&f, i, MAPSZ + 4 * PG, 1), 0);
		assert_int_equal(iommudirty_tracker_write_protect(f.t, MAPSZ, MAPSZ, PG, m,
								  sizeof(m), 0), 0);
		assert_int_equal(m[0], 1ull << 4);
		assert_int_equal(iommudirty_tracker_unmap(f.t, MAPSZ, MAPSZ), 0);
		assert_int_equal(fx_write(&f, i, MAPSZ, 1), -EFAULT);
		assert_int_equal(iommudirty_tracker_map(f.t, fx_mem(&f, MAPSZ, PG), MAPSZ, MAPSZ,
							IOMMUDIRTY_MAP_WRITE), 0);
	}
	fx_fini(&f);
}

/* Stop and start: the standby goes and comes back; a device attached
 * while started gets a twin. */
static void test_restart_and_attach(void **state)
{
	struct fx f;
	uint64_t m[1];

	(void)state;
	setup_n(&f, 4, IOMMUDIRTY_TRACKER_STANDBY);
	assert_int_equal(iommudirty_tracker_stop(f.t), 0);
	assert_int_equal(iommudirty_tracker_start(f.t), 0);
	assert_int_equal(iommudirty_tracker_detach(f.t, f.dev[1]), 0);
	assert_int_equal(fx_add_iommu(&f, 0, 0), 2);
	assert_int_equal(fx_add_device(&f, 2), 2);
	assert_int_equal(iommudirty_tracker_attach(f.t, f.dev[2]), 0);
	assert_int_equal(fx_write(&f, 2, 2 * MAPSZ + PG, 1), 0);
	assert_int_equal(iommudirty_tracker_write_protect(f.t, 2 * MAPSZ, MAPSZ, PG, m,
							  sizeof(m), 0), 0);
	assert_int_equal(m[0], 2);
	assert_int_equal(fx_write(&f, 2, 2 * MAPSZ, 1), -EFAULT);
	assert_int_equal(fx_write(&f, 2, 3 * MAPSZ, 1), 0);
	assert_int_equal(iommudirty_tracker_read(f.t, 3 * MAPSZ, MAPSZ, PG, m, sizeof(m), 0), 0);
	assert_int_equal(m[0], 1);
	fx_fini(&f);
}

struct double_fault {
	struct fx *f;
	int attaches;
};

/* The second device's move fails, then the first one's move back. */
static void fail_move_and_back(void *user, int fd, unsigned long request)
{
	struct double_fault *df = user;

	(void)fd;
	if (request != VFIO_DEVICE_ATTACH_IOMMUFD_PT)
		return;
	if (++df->attaches == 2) {
		/* Device 0 is on the standby now: it writes outside the range. */
		assert_int_equal(fx_write(df->f, 0, 5 * MAPSZ + PG, 1), 0);
		iommudirty_sim_fail_call(df->f->sim, 1, -EIO);
	} else if (df->attaches == 3) {
		iommudirty_sim_fail_call(df->f->sim, 1, -EIO);
	}
}

/* Two kernel failures in a row leave a device where no read looks: its
 * writes (and everyone's) are reported conservatively from then on, and
 * the tracker says so. Nothing written is lost. */
static void test_device_stuck_after_failed_move(void **state)
{
	struct fx f;
	struct double_fault df = { .f = &f };
	struct iommudirty_tracker_info info = { .sz = sizeof(info) };
	uint64_t m[2];
	bool stuck_reason = false;

	(void)state;
	setup_n(&f, 8, IOMMUDIRTY_TRACKER_STANDBY);
	assert_int_equal(iommudirty_sim_set_hook(f.sim, fail_move_and_back, &df), 0);
	assert_int_equal(iommudirty_tracker_write_protect(f.t, MAPSZ, MAPSZ, PG, m, sizeof(m), 0),
			 -EIO);
	iommudirty_sim_set_hook(f.sim, NULL, NULL);
	assert_int_equal(iommudirty_tracker_info(f.t, &info), 0);
	assert_int_equal(info.precise, 0);
	for (uint32_t i = 0; i < info.nr_reasons; i++)
		stuck_reason |= info.reasons[i] == IOMMUDIRTY_REASON_MOVE_BACK_FAILED;
	assert_true(stuck_reason);
	/* Device 0 writes on, wherever it is: every page is reported. */
	assert_int_equal(fx_write(&f, 0, 6 * MAPSZ, 1), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(iommudirty_tracker_read(f.t, 0, 128 * PG, PG, m, sizeof(m), 0), 0);
		assert_int_equal(m[0], ~0ull);
		assert_int_equal(m[1], ~0ull);
	}
	fx_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_cost_independent_of_mappings),
		cmocka_unit_test(test_owed_bits_reported_once),
		cmocka_unit_test(test_restart_and_attach),
		cmocka_unit_test(test_device_stuck_after_failed_move),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
