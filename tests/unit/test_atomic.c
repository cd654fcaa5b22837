/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * "Write-protect and clear dirties, then unmap": the atomic path against
 * the cheap one, with devices writing during the operation. The simulated
 * kernel's devices write through their current attachment only, and a
 * replace is atomic, so it can judge the guarantee.
 */
#include <errno.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fixture.h"
#include "uapi.h"

#define PG (4 * KiB)
#define NPAGES 2048 /* 8 MiB of IOVA */
#define RANGE_FIRST 512 /* the range taken away: [2 MiB, 4 MiB) */
#define RANGE_PAGES 512

static uint64_t *bm(void)
{
	uint64_t *m = calloc(NPAGES / 64, 8);

	assert_non_null(m);
	return m;
}

/* Two IOMMUs (the second with 2 MiB IOPTEs), three devices, mappings over
 * [0, 8 MiB): 1 MiB each, but one of 2 MiB at [2 MiB, 4 MiB) (the range
 * taken away, a huge IOPTE for the second IOMMU), a hole at [6, 7) MiB. */
/* With a fourth device that logs its own DMA (behind an IOMMU that cannot
 * track): the mixed setup. */
#define LOG_DEV 3

/* Tracker flags for the next setup (IOMMUDIRTY_TRACKER_STANDBY or 0). */
static unsigned int tracker_flags;

static void setup_with(struct fx *f, bool with_log)
{
	IOMMUDIRTY_OPTS(iommudirty_tracker_opts, o, .flags = tracker_flags);
	static const struct iommudirty_sim_device_opts logging = {
		.sz = sizeof(logging), .flags = IOMMUDIRTY_SIM_DEV_DMA_LOGGING,
	};
	uint8_t *mem;

	assert_int_equal(fx_init(f), 0);
	assert_int_equal(fx_add_iommu(f, 0, 0), 0);
	assert_int_equal(fx_add_iommu(f, PG | 2 * MiB, 0), 1);
	assert_int_equal(fx_add_device(f, 0), 0);
	assert_int_equal(fx_add_device(f, 1), 1);
	assert_int_equal(fx_add_device(f, 0), 2);
	if (with_log) {
		assert_int_equal(fx_add_iommu(f, 0, IOMMUDIRTY_SIM_IOMMU_NO_DIRTY), 2);
		assert_int_equal(fx_add_vfio_device(f, 2, &logging), LOG_DEV);
	}
	assert_int_equal(iommudirty_tracker_new(f->ctx, &o, &f->t), 0);
	for (int i = 0; i < f->ndev; i++)
		assert_int_equal(iommudirty_tracker_attach(f->t, f->dev[i]), 0);
	mem = fx_mem(f, 8 * MiB, 2 * MiB);
	for (int i = 0; i < 8; i++)
		if (i != 6 && i != 3)
			assert_int_equal(iommudirty_tracker_map(f->t, mem + i * MiB,
								i == 2 ? 2 * MiB : MiB, i * MiB,
								IOMMUDIRTY_MAP_READ |
								IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_start(f->t), 0);
}

static void setup(struct fx *f)
{
	setup_with(f, false);
}

static void test_write_protect_then_unmap(void **state)
{
	struct fx f;
	uint64_t *m = bm(), *rest = bm();
	uint32_t ioas, hw_before[4], hw_after[4];

	setup(&f);
	ioas = iommudirty_tracker_ioas_id(f.t);
	assert_int_equal(iommudirty_tracker_hwpt_ids(f.t, hw_before, 4), 2);
	/* Writes inside the range and outside it, by every device. */
	assert_int_equal(fx_write(&f, 0, (RANGE_FIRST + 3) * PG, 1), 0);
	assert_int_equal(fx_write(&f, 2, (RANGE_FIRST + 300) * PG, 1), 0);
	assert_int_equal(fx_write(&f, 0, 7 * PG, 1), 0);
	assert_int_equal(fx_write(&f, 2, 1800 * PG, 1), 0); /* [7M, 8M) */

	assert_int_equal(iommudirty_tracker_write_protect(f.t, 2 * MiB, 2 * MiB, PG, m,
							  iommudirty_bitmap_size(2 * MiB, PG), 0), 0);
	assert_int_equal(iommudirty_bitmap_count(m, RANGE_PAGES), 2);
	assert_true(fx_test_bit(m, 3) && fx_test_bit(m, 300));
	/* (1) no device can write the range any more. */
	for (int d = 0; d < 3; d++)
		assert_int_equal(fx_write(&f, d, (RANGE_FIRST + 1) * PG, 1), -EFAULT);
	/* The rest still works, through new objects. */
	assert_int_equal(fx_write(&f, 1, 5 * PG, 1), 0);
	assert_true(iommudirty_tracker_ioas_id(f.t) != ioas);
	assert_int_equal(iommudirty_tracker_hwpt_ids(f.t, hw_after, 4), 2);
	assert_true(hw_after[0] != hw_before[0] && hw_after[1] != hw_before[1]);
	/* Bits gathered outside the range before the move: reported once. */
	assert_int_equal(iommudirty_tracker_read(f.t, 0, 8 * MiB, PG, rest,
						 iommudirty_bitmap_size(8 * MiB, PG), 0), 0);
	assert_int_equal(iommudirty_bitmap_count(rest, NPAGES), 3);
	assert_true(fx_test_bit(rest, 5) && fx_test_bit(rest, 7) && fx_test_bit(rest, 1800));
	assert_int_equal(iommudirty_tracker_read(f.t, 0, 8 * MiB, PG, rest,
						 iommudirty_bitmap_size(8 * MiB, PG), 0), 0);
	assert_int_equal(iommudirty_bitmap_count(rest, NPAGES), 0);
	/* (3) then a normal unmap; the IOVA can be mapped again. */
	assert_int_equal(iommudirty_tracker_map(f.t, f.mem, PG, 2 * MiB, IOMMUDIRTY_MAP_WRITE),
			 -EEXIST);
	assert_int_equal(iommudirty_tracker_unmap(f.t, 2 * MiB, 2 * MiB), 0);
	assert_int_equal(iommudirty_tracker_map(f.t, f.mem + 2 * MiB, 2 * MiB, 2 * MiB,
						IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(fx_write(&f, 1, (RANGE_FIRST + 1) * PG, 1), 0);
	/* Unmapping one original mapping still works: area boundaries kept. */
	assert_int_equal(iommudirty_tracker_unmap(f.t, 4 * MiB, MiB), 0);
	free(m);
	free(rest);
	fx_fini(&f);
}

static void test_unmap_dirty_atomic(void **state)
{
	struct fx f;
	uint64_t *m = bm();

	setup(&f);
	assert_int_equal(fx_write(&f, 1, (RANGE_FIRST + 9) * PG, 1), 0);
	assert_int_equal(iommudirty_tracker_unmap_dirty(f.t, 2 * MiB, 2 * MiB, PG, m,
							iommudirty_bitmap_size(2 * MiB, PG),
							IOMMUDIRTY_UNMAP_ATOMIC), 0);
	/* Device 1's IOMMU uses 2 MiB IOPTEs: the whole one is dirty. */
	assert_int_equal(iommudirty_bitmap_count(m, RANGE_PAGES), 512);
	assert_int_equal(iommudirty_tracker_unmap(f.t, 2 * MiB, 2 * MiB), -ENOENT);
	assert_int_equal(fx_write(&f, 1, (RANGE_FIRST + 9) * PG, 1), -EFAULT);
	/* Bad calls. */
	assert_int_equal(iommudirty_tracker_write_protect(f.t, 0, MiB, PG, m, 256 / 8, 1),
			 -EINVAL);
	assert_int_equal(iommudirty_tracker_write_protect(f.t, 0, MiB / 2, PG, m, 256 / 8, 0),
			 -ENOENT);
	assert_int_equal(iommudirty_tracker_write_protect(f.t, 6 * MiB, MiB, PG, m, 256 / 8, 0),
			 -ENOENT);
	assert_int_equal(iommudirty_tracker_stop(f.t), 0);
	assert_int_equal(iommudirty_tracker_write_protect(f.t, 0, MiB, PG, m, 256 / 8, 0),
			 -EINVAL);
	free(m);
	fx_fini(&f);
}

/* ---- the race harness ---- */

static atomic_bool op_returned;

struct race {
	struct fx *f;
	atomic_bool stop;
	/* Writes to the range begun after the operation returned that
	 * still landed: must stay 0. */
	atomic_uint late;
	/* Per page: writes that returned 0, and writes attempted. */
	atomic_uint done[NPAGES];
	atomic_uint tried[NPAGES];
	unsigned int seed;
	int dev;
	bool in_range_only;
};

static void *writer(void *arg)
{
	struct race *r = arg;
	unsigned int seed = r->seed;

	while (!atomic_load(&r->stop)) {
		uint64_t p = r->in_range_only ? (uint64_t)RANGE_FIRST + rand_r(&seed) % RANGE_PAGES
					      : (uint64_t)rand_r(&seed) % NPAGES;

		if (p / 256 == 6)
			continue; /* the hole */
		bool after = atomic_load(&op_returned);

		atomic_fetch_add(&r->tried[p], 1);
		if (fx_write(r->f, r->dev, p * PG, 1) == 0) {
			atomic_fetch_add(&r->done[p], 1);
			if (after && p >= RANGE_FIRST && p < RANGE_FIRST + RANGE_PAGES)
				atomic_fetch_add(&r->late, 1);
		}
	}
	return NULL;
}

/* Run the operation while writers hammer the range and the rest; then
 * check the guarantee with exact per-page accounting. */
enum race_mode {
	RACE_ATOMIC,        /* write_protect, IOMMU devices writing */
	RACE_ATOMIC_MIXED,  /* write_protect, an IOMMU and a logging device */
	RACE_CHEAP_LOG,     /* plain unmap_dirty, the logging device writing */
	RACE_STANDBY,       /* write_protect through the standby, mixed devices */
};

static void race_once(unsigned int seed, enum race_mode mode)
{
	bool atomic_op = mode != RACE_CHEAP_LOG;
	struct fx f;
	struct race r[4];
	pthread_t th[4];
	uint64_t *m = bm(), *seen = bm(), *after = bm();
	int ret;

	tracker_flags = mode == RACE_STANDBY ? IOMMUDIRTY_TRACKER_STANDBY : 0;
	setup_with(&f, mode != RACE_ATOMIC);
	tracker_flags = 0;
	atomic_store(&op_returned, false);
	/* Reset the slate: read-and-clear everything. */
	assert_int_equal(iommudirty_tracker_read(f.t, 0, 8 * MiB, PG, seen,
						 iommudirty_bitmap_size(8 * MiB, PG), 0), 0);
	memset(seen, 0, NPAGES / 8);
	for (int i = 0; i < 4; i++) {
		memset(&r[i], 0, sizeof(r[i]));
		r[i].f = &f;
		r[i].seed = seed * 31 + i;
		r[i].dev = i % 3;
		r[i].in_range_only = i < 2;
		/* Device 1 sits behind 2 MiB IOPTEs: it reports whole IOPTEs,
		 * so keep it out of the exact accounting. */
		if (r[i].dev == 1)
			r[i].dev = 0;
		if (mode == RACE_CHEAP_LOG ||
		    ((mode == RACE_ATOMIC_MIXED || mode == RACE_STANDBY) && i % 2))
			r[i].dev = LOG_DEV;
		assert_int_equal(pthread_create(&th[i], NULL, writer, &r[i]), 0);
	}
	if (atomic_op)
		ret = iommudirty_tracker_write_protect(f.t, 2 * MiB, 2 * MiB, PG, m,
						       iommudirty_bitmap_size(2 * MiB, PG), 0);
	else
		ret = iommudirty_tracker_unmap_dirty(f.t, 2 * MiB, 2 * MiB, PG, m,
						     iommudirty_bitmap_size(2 * MiB, PG), 0);
	atomic_store(&op_returned, true);
	assert_int_equal(ret, 0);
	/* (1) from now on the range cannot be written. */
	for (int i = 0; i < f.ndev; i++)
		assert_int_equal(fx_write(&f, i, (RANGE_FIRST + 7) * PG, 1), -EFAULT);
	for (int i = 0; i < 4; i++)
		atomic_store(&r[i].stop, true);
	for (int i = 0; i < 4; i++)
		pthread_join(th[i], NULL);
	for (int p = RANGE_FIRST; p < RANGE_FIRST + RANGE_PAGES; p++) {
		uint32_t done = 0, tried = 0;

		for (int i = 0; i < 4; i++) {
			done += atomic_load(&r[i].done[p]);
			tried += atomic_load(&r[i].tried[p]);
		}
		/* (2) every completed write is reported (one begun after
		 * the return cannot complete: counted as late)... */
		if (done && !fx_test_bit(m, p - RANGE_FIRST))
			fail_msg("seed %u: a completed write to page %d was lost", seed, p);
		/* ...and nothing that was not even attempted. */
		if (!tried && fx_test_bit(m, p - RANGE_FIRST))
			fail_msg("seed %u: page %d reported, never written", seed, p);
	}
	/* Nothing landed in the range after the operation returned. */
	for (int i = 0; i < 4; i++)
		assert_int_equal(atomic_load(&r[i].late), 0);
	/* Outside the range: pending bits and new ones, reported once. */
	assert_int_equal(iommudirty_tracker_read(f.t, 0, 8 * MiB, PG, after,
						 iommudirty_bitmap_size(8 * MiB, PG), 0), 0);
	for (int p = 0; p < NPAGES; p++) {
		uint32_t done = 0, tried = 0;

		if (p >= RANGE_FIRST && p < RANGE_FIRST + RANGE_PAGES)
			continue;
		for (int i = 0; i < 4; i++) {
			done += atomic_load(&r[i].done[p]);
			tried += atomic_load(&r[i].tried[p]);
		}
		if (done && !fx_test_bit(after, p))
			fail_msg("seed %u: write to page %d outside the range lost", seed, p);
		if (!tried && fx_test_bit(after, p))
			fail_msg("seed %u: page %d outside reported, never written", seed, p);
	}
	assert_int_equal(iommudirty_tracker_read(f.t, 0, 8 * MiB, PG, after,
						 iommudirty_bitmap_size(8 * MiB, PG), 0), 0);
	assert_int_equal(iommudirty_bitmap_count(after, NPAGES), 0);
	free(m);
	free(seen);
	free(after);
	fx_fini(&f);
}

static void test_race_atomic_never_loses(void **state)
{
	for (unsigned int seed = 1; seed <= 25; seed++)
		race_once(seed, RACE_ATOMIC);
}

/* Mixed sources: the IOMMU device is moved, the logging one fenced by the
 * same move and its log read after it. */
static void test_race_atomic_mixed_never_loses(void **state)
{
	for (unsigned int seed = 1; seed <= 15; seed++)
		race_once(seed, RACE_ATOMIC_MIXED);
}

/* A device that logs needs no atomic path: the cheap unmap, then REPORT,
 * loses nothing it wrote. */
/* Through the standby: the same guarantee, twice in a row (the second
 * swap moves everyone back onto the first IOAS, whose bits are owed). */
static void test_race_standby_never_loses(void **state)
{
	for (unsigned int seed = 1; seed <= 15; seed++)
		race_once(seed, RACE_STANDBY);
}

static void test_race_cheap_log_never_loses(void **state)
{
	for (unsigned int seed = 1; seed <= 15; seed++)
		race_once(seed, RACE_CHEAP_LOG);
}

/* The cheap path, with a device write forced between its read and its
 * unmap: the write completes and is not reported. The same forced write
 * against the atomic path is reported or faults. */
struct forced {
	struct fx *f;
	unsigned long when; /* the request to act before */
	int wrote;          /* the write's result */
	bool armed;
	int dev;            /* the writer */
};

static void force_write(void *user, int fd, unsigned long request)
{
	struct forced *fw = user;

	(void)fd;
	if (!fw->armed || request != fw->when)
		return;
	fw->armed = false;
	fw->wrote = fx_write(fw->f, fw->dev, (RANGE_FIRST + 5) * PG, 1);
}

/* The same forced write by the logging device on the cheap path: the
 * unmap-then-REPORT order reports it. */
static void test_cheap_path_reports_a_logged_racing_write(void **state)
{
	struct fx f;
	uint64_t *m = bm();
	struct forced fw = { .f = &f, .when = IOMMU_IOAS_UNMAP, .armed = true, .wrote = 1,
			     .dev = LOG_DEV };

	setup_with(&f, true);
	assert_int_equal(iommudirty_sim_set_hook(f.sim, force_write, &fw), 0);
	assert_int_equal(iommudirty_tracker_unmap_dirty(f.t, 2 * MiB, 2 * MiB, PG, m,
							iommudirty_bitmap_size(2 * MiB, PG), 0), 0);
	assert_int_equal(fw.wrote, 0);
	assert_true(fx_test_bit(m, 5));
	iommudirty_sim_set_hook(f.sim, NULL, NULL);
	free(m);
	fx_fini(&f);
}

static void test_cheap_path_loses_a_racing_write(void **state)
{
	struct fx f;
	uint64_t *m = bm();
	struct forced fw = { .f = &f, .when = IOMMU_IOAS_UNMAP, .armed = true, .wrote = 1 };

	setup(&f);
	assert_int_equal(iommudirty_sim_set_hook(f.sim, force_write, &fw), 0);
	assert_int_equal(iommudirty_tracker_unmap_dirty(f.t, 2 * MiB, 2 * MiB, PG, m,
							iommudirty_bitmap_size(2 * MiB, PG), 0), 0);
	assert_int_equal(fw.wrote, 0);            /* the device's write completed */
	assert_false(fx_test_bit(m, 5));          /* and nobody reports it: lost */
	iommudirty_sim_set_hook(f.sim, NULL, NULL);
	free(m);
	fx_fini(&f);
}

static void atomic_path_reports(const unsigned long *when, size_t n, unsigned int flags)
{
	for (size_t i = 0; i < n; i++) {
		struct fx f;
		uint64_t *m = bm();
		struct forced fw = { .f = &f, .when = when[i], .armed = true, .wrote = 1 };

		tracker_flags = flags;
		setup(&f);
		tracker_flags = 0;
		assert_int_equal(iommudirty_sim_set_hook(f.sim, force_write, &fw), 0);
		assert_int_equal(iommudirty_tracker_unmap_dirty(f.t, 2 * MiB, 2 * MiB, PG, m,
								iommudirty_bitmap_size(2 * MiB, PG),
								IOMMUDIRTY_UNMAP_ATOMIC), 0);
		assert_false(fw.armed); /* the hook fired */
		if (fw.wrote == 0 && !fx_test_bit(m, 5))
			fail_msg("write before request %#lx completed but was lost", when[i]);
		if (fw.wrote != 0)
			assert_int_equal(fw.wrote, -EFAULT);
		iommudirty_sim_set_hook(f.sim, NULL, NULL);
		free(m);
		fx_fini(&f);
	}
}

static void test_atomic_path_reports_it(void **state)
{
	/* Before each kernel call of the atomic operation in turn. */
	const unsigned long when[] = { IOMMU_IOAS_ALLOC, IOMMU_HWPT_ALLOC,
		IOMMU_HWPT_SET_DIRTY_TRACKING, IOMMU_IOAS_COPY,
		VFIO_DEVICE_ATTACH_IOMMUFD_PT, IOMMU_HWPT_GET_DIRTY_BITMAP,
		IOMMU_DESTROY };
	/* Through the standby: unmap it, move, read, unmap the old. */
	const unsigned long when_sb[] = { IOMMU_IOAS_UNMAP, VFIO_DEVICE_ATTACH_IOMMUFD_PT,
		IOMMU_HWPT_GET_DIRTY_BITMAP };

	atomic_path_reports(when, sizeof(when) / sizeof(when[0]), 0);
	atomic_path_reports(when_sb, sizeof(when_sb) / sizeof(when_sb[0]),
			    IOMMUDIRTY_TRACKER_STANDBY);
}

/* A HWPT the VMM attaches its device to: moved through replace_fn. */
struct vmm {
	struct fx *f;
	int calls;
	int fail_first;
};

static int vmm_replace(void *user, uint32_t old_hwpt, uint32_t new_hwpt)
{
	struct vmm *v = user;
	struct uapi_vfio_attach_pt at = { .argsz = sizeof(at), .pt_id = new_hwpt };

	(void)old_hwpt;
	v->calls++;
	if (v->fail_first && v->calls == 1)
		return -EIO;
	return iommudirty_sim_ioctl(v->f->sim, v->f->fd[0], VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at);
}

static void test_vmm_attached_devices(void **state)
{
	struct fx f;
	struct vmm v = { .f = &f };
	uint64_t m[8];
	uint32_t hwpt;
	uint8_t *mem;

	assert_int_equal(fx_init(&f), 0);
	assert_int_equal(fx_add_iommu(&f, 0, 0), 0);
	assert_int_equal(fx_add_device(&f, 0), 0);
	{
		IOMMUDIRTY_OPTS(iommudirty_tracker_opts, o, .replace_fn = vmm_replace,
				.replace_user = &v);
		assert_int_equal(iommudirty_tracker_new(f.ctx, &o, &f.t), 0);
	}
	assert_int_equal(iommudirty_tracker_alloc_hwpt(f.t, f.dev[0], &hwpt), 0);
	{
		struct uapi_vfio_attach_pt at = { .argsz = sizeof(at), .pt_id = hwpt };

		assert_int_equal(iommudirty_sim_ioctl(f.sim, f.fd[0],
						      VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at), 0);
	}
	mem = fx_mem(&f, 2 * MiB, PG);
	assert_int_equal(iommudirty_tracker_map(f.t, mem, MiB, 0, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_map(f.t, mem + MiB, MiB, MiB, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_start(f.t), 0);
	assert_int_equal(fx_write(&f, 0, MiB + PG, 1), 0);
	/* The VMM fails the move: nothing changed, the device still writes. */
	v.fail_first = 1;
	assert_int_equal(iommudirty_tracker_write_protect(f.t, MiB, MiB, PG, m, sizeof(m), 0),
			 -EIO);
	assert_int_equal(fx_write(&f, 0, MiB + 2 * PG, 1), 0);
	v.fail_first = 0;
	assert_int_equal(iommudirty_tracker_write_protect(f.t, MiB, MiB, PG, m, sizeof(m), 0), 0);
	assert_int_equal(m[0], 0x6); /* pages 1 and 2 */
	assert_int_equal(fx_write(&f, 0, MiB, 1), -EFAULT);
	assert_int_equal(fx_write(&f, 0, 0, 1), 0);
	{
		struct uapi_vfio_detach_pt dt = { .argsz = sizeof(dt) };

		assert_int_equal(iommudirty_sim_ioctl(f.sim, f.fd[0],
						      VFIO_DEVICE_DETACH_IOMMUFD_PT, &dt), 0);
	}
	fx_fini(&f);
}

/* Objects the VMM owns are not replaced behind its back. */
static void test_adopted_objects_refused(void **state)
{
	struct fx f;
	uint64_t m[8];
	uint8_t *mem;
	struct uapi_ioas_alloc ia = { .size = sizeof(ia) };

	assert_int_equal(fx_init(&f), 0);
	assert_int_equal(fx_add_iommu(&f, 0, 0), 0);
	assert_int_equal(fx_add_device(&f, 0), 0);
	assert_int_equal(iommudirty_sim_ioctl(f.sim, iommudirty_ctx_fd(f.ctx), IOMMU_IOAS_ALLOC,
					      &ia), 0);
	{
		IOMMUDIRTY_OPTS(iommudirty_tracker_opts, o, .flags = IOMMUDIRTY_TRACKER_ADOPT_IOAS,
				.ioas_id = ia.out_ioas_id);
		assert_int_equal(iommudirty_tracker_new(f.ctx, &o, &f.t), 0);
	}
	assert_int_equal(iommudirty_tracker_attach(f.t, f.dev[0]), 0);
	mem = fx_mem(&f, MiB, PG);
	assert_int_equal(iommudirty_tracker_map(f.t, mem, MiB, 0, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_start(f.t), 0);
	assert_int_equal(iommudirty_tracker_write_protect(f.t, 0, MiB, PG, m, sizeof(m), 0),
			 -EOPNOTSUPP);
	assert_int_equal(fx_write(&f, 0, 0, 1), 0);
	iommudirty_tracker_free(f.t);
	f.t = NULL;
	{
		struct uapi_destroy d = { .size = sizeof(d), .id = ia.out_ioas_id };

		assert_int_equal(iommudirty_sim_ioctl(f.sim, iommudirty_ctx_fd(f.ctx), IOMMU_DESTROY,
						      &d), 0);
	}
	fx_fini(&f);
}

/* Review findings, kept as regressions. */

/* A move that fails half way: a device that wrote through its twin before
 * being moved back must have that write reported. */
struct half_move {
	struct fx *f;
	int attaches;
};

static void fail_second_move(void *user, int fd, unsigned long request)
{
	struct half_move *hm = user;

	(void)fd;
	if (request != VFIO_DEVICE_ATTACH_IOMMUFD_PT || ++hm->attaches != 2)
		return;
	/* Device 0 is on its twin now: it writes outside the range. */
	assert_int_equal(fx_write(hm->f, 0, 7 * MiB, 1), 0);
	/* And the next call, moving device 1, fails. */
	iommudirty_sim_fail_call(hm->f->sim, 1, -EIO);
}

static void test_failed_move_keeps_twin_writes(void **state)
{
	struct fx f;
	struct half_move hm = { .f = &f };
	uint64_t *m = bm();
	uint8_t *mem;

	assert_int_equal(fx_init(&f), 0);
	assert_int_equal(fx_add_iommu(&f, 0, 0), 0);
	assert_int_equal(fx_add_iommu(&f, 0, 0), 1);
	assert_int_equal(fx_add_device(&f, 0), 0);
	assert_int_equal(fx_add_device(&f, 1), 1);
	assert_int_equal(fx_tracker(&f), 0);
	assert_int_equal(iommudirty_tracker_attach(f.t, f.dev[0]), 0);
	assert_int_equal(iommudirty_tracker_attach(f.t, f.dev[1]), 0);
	mem = fx_mem(&f, 8 * MiB, PG);
	assert_int_equal(iommudirty_tracker_map(f.t, mem, 4 * MiB, 0, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_map(f.t, mem + 4 * MiB, 4 * MiB, 4 * MiB,
						IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_start(f.t), 0);
	assert_int_equal(iommudirty_sim_set_hook(f.sim, fail_second_move, &hm), 0);
	assert_int_equal(iommudirty_tracker_write_protect(f.t, 0, 4 * MiB, PG, m,
							  iommudirty_bitmap_size(4 * MiB, PG), 0),
			 -EIO);
	iommudirty_sim_set_hook(f.sim, NULL, NULL);
	/* Nothing changed: the range is still writable and tracked... */
	assert_int_equal(fx_write(&f, 1, 0, 1), 0);
	assert_int_equal(iommudirty_tracker_read(f.t, 0, 8 * MiB, PG, m,
						 iommudirty_bitmap_size(8 * MiB, PG), 0), 0);
	assert_true(fx_test_bit(m, 0));
	/* ...and the write made through the twin is not lost. */
	assert_true(fx_test_bit(m, 7 * MiB / PG));
	free(m);
	fx_fini(&f);
}

/* The device a HWPT was allocated through is gone; another still uses it:
 * the twin is allocated through that one. */
static void test_write_protect_after_first_device_left(void **state)
{
	struct fx f;
	uint64_t m[8];
	uint8_t *mem;

	assert_int_equal(fx_init(&f), 0);
	assert_int_equal(fx_add_iommu(&f, 0, 0), 0);
	assert_int_equal(fx_add_device(&f, 0), 0);
	assert_int_equal(fx_add_device(&f, 0), 1);
	assert_int_equal(fx_tracker(&f), 0);
	assert_int_equal(iommudirty_tracker_attach(f.t, f.dev[0]), 0);
	assert_int_equal(iommudirty_tracker_attach(f.t, f.dev[1]), 0);
	mem = fx_mem(&f, 2 * MiB, PG);
	assert_int_equal(iommudirty_tracker_map(f.t, mem, MiB, 0, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_map(f.t, mem + MiB, MiB, MiB, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_start(f.t), 0);
	assert_int_equal(iommudirty_tracker_detach(f.t, f.dev[0]), 0);
	iommudirty_device_free(f.dev[0]);
	assert_int_equal(iommudirty_sim_close(f.sim, f.fd[0]), 0);
	f.dev[0] = f.dev[1];
	f.fd[0] = f.fd[1];
	f.sdev[0] = f.sdev[1];
	f.ndev = 1;
	assert_int_equal(fx_write(&f, 0, MiB + PG, 1), 0);
	assert_int_equal(iommudirty_tracker_write_protect(f.t, MiB, MiB, PG, m, sizeof(m), 0), 0);
	assert_int_equal(m[0], 2);
	assert_int_equal(fx_write(&f, 0, MiB, 1), -EFAULT);
	fx_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_write_protect_then_unmap),
		cmocka_unit_test(test_unmap_dirty_atomic),
		cmocka_unit_test(test_cheap_path_loses_a_racing_write),
		cmocka_unit_test(test_atomic_path_reports_it),
		cmocka_unit_test(test_race_atomic_never_loses),
		cmocka_unit_test(test_race_atomic_mixed_never_loses),
		cmocka_unit_test(test_race_cheap_log_never_loses),
		cmocka_unit_test(test_race_standby_never_loses),
		cmocka_unit_test(test_cheap_path_reports_a_logged_racing_write),
		cmocka_unit_test(test_vmm_attached_devices),
		cmocka_unit_test(test_adopted_objects_refused),
		cmocka_unit_test(test_failed_move_keeps_twin_writes),
		cmocka_unit_test(test_write_protect_after_first_device_left),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
