/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Defects found by fuzzing the public API (issue "Hardening"), each as the
 * smallest sequence that reached it; the sanitizer builds of this test
 * (ASan + UBSan, TSan) are what fail when they come back.
 */
#include <errno.h>
#include <pthread.h>
#include <sched.h>
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

/* 1: one device, one mapping, start, atomic unmap: the pending set is
 * empty (a NULL array) when it is normalised. */
static void test_atomic_unmap_simplest(void **state)
{
	struct fx f;
	uint64_t m[1];
	uint8_t *mem;

	(void)state;
	assert_int_equal(fx_init(&f), 0);
	assert_int_equal(fx_add_iommu(&f, 0, 0), 0);
	assert_int_equal(fx_add_device(&f, 0), 0);
	assert_int_equal(fx_tracker(&f), 0);
	assert_int_equal(iommudirty_tracker_attach(f.t, f.dev[0]), 0);
	mem = fx_mem(&f, MiB, PG);
	assert_int_equal(iommudirty_tracker_map(f.t, mem, 64 * KiB, 0, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_start(f.t), 0);
	assert_int_equal(iommudirty_tracker_unmap_dirty(f.t, 0, 64 * KiB, PG, m, sizeof(m),
							IOMMUDIRTY_UNMAP_ATOMIC), 0);
	assert_int_equal(m[0], 0);
	assert_int_equal(fx_write(&f, 0, 0, 1), -EFAULT);
	fx_fini(&f);
}

/* 2: write_protect on a started tracker with mappings and no device (no
 * HWPT at all): the range is fenced by the unmap itself. */
static void test_write_protect_without_devices(void **state)
{
	struct fx f;
	uint64_t m[1];
	uint8_t *mem;

	(void)state;
	assert_int_equal(fx_init(&f), 0);
	assert_int_equal(fx_add_iommu(&f, 0, 0), 0);
	assert_int_equal(fx_tracker(&f), 0);
	mem = fx_mem(&f, MiB, PG);
	assert_int_equal(iommudirty_tracker_map(f.t, mem, 64 * KiB, 0, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_start(f.t), 0);
	assert_int_equal(iommudirty_tracker_write_protect(f.t, 0, 64 * KiB, PG, m, sizeof(m), 0),
			 0);
	assert_int_equal(m[0], 0);
	assert_int_equal(iommudirty_tracker_unmap(f.t, 0, 64 * KiB), 0);
	fx_fini(&f);
}

/* 3: options structs shorter than the field a flag names: refused, never
 * read past their end (ASan watches the exact-size allocation). */
/* An options struct of exactly sz bytes holding the first sz bytes of
 * full (sz already set in it). */
static void *exact(const void *full, size_t sz)
{
	void *p = malloc(sz);

	assert_non_null(p);
	memcpy(p, full, sz);
	return p;
}

static void test_short_options_with_flags(void **state)
{
	struct fx f;
	struct iommudirty_tracker *t = NULL;
	size_t ioas_sz = offsetof(struct iommudirty_tracker_opts, ioas_id);
	size_t fd_sz = offsetof(struct iommudirty_tracker_opts, type1_container_fd);
	size_t ctx_sz = offsetof(struct iommudirty_ctx_opts, iommufd);
	struct iommudirty_tracker_opts o = { .sz = ioas_sz, .flags = IOMMUDIRTY_TRACKER_ADOPT_IOAS };
	struct iommudirty_ctx_opts co = { .sz = ctx_sz, .flags = IOMMUDIRTY_CTX_ADOPT_FD };
	void *p;

	(void)state;
	assert_int_equal(fx_init(&f), 0);
	p = exact(&o, ioas_sz);
	assert_int_equal(iommudirty_tracker_new(f.ctx, p, &t), -EINVAL);
	free(p);
	o.sz = fd_sz;
	o.flags = IOMMUDIRTY_TRACKER_ADOPT_CONTAINER;
	p = exact(&o, fd_sz);
	assert_int_equal(iommudirty_tracker_new(f.ctx, p, &t), -EINVAL);
	free(p);
	assert_null(t);
	p = exact(&co, ctx_sz);
	assert_null(iommudirty_ctx_new(p));
	assert_int_equal(errno, EINVAL);
	free(p);
	fx_fini(&f);
}

/* 7: the getters of what the atomic path swaps (IOAS and HWPT ids, info,
 * sources) race write_protect; TSan reports an unlocked read. */
struct getters {
	struct iommudirty_tracker *t;
	atomic_bool stop;
	atomic_uint rounds;
	uint64_t seen;
};

static void *read_getters(void *arg)
{
	struct getters *g = arg;

	while (!atomic_load(&g->stop)) {
		struct iommudirty_tracker_info info = { .sz = sizeof(info) };
		struct iommudirty_source_info si = { .sz = sizeof(si) };
		uint32_t ids[4];

		g->seen += iommudirty_tracker_ioas_id(g->t);
		g->seen += (uint64_t)iommudirty_tracker_hwpt_ids(g->t, ids, 4);
		g->seen += (uint64_t)iommudirty_tracker_info(g->t, &info);
		g->seen += (uint64_t)iommudirty_tracker_source_info(g->t, 0, &si);
		g->seen += (uint64_t)iommudirty_tracker_started(g->t);
		atomic_fetch_add(&g->rounds, 1);
	}
	return NULL;
}

static void test_getters_race_write_protect(void **state)
{
	struct fx f;
	struct getters g = { 0 };
	pthread_t th;
	uint64_t m[1];
	uint8_t *mem;

	(void)state;
	for (unsigned int flags = 0; flags <= IOMMUDIRTY_TRACKER_STANDBY;
	     flags += IOMMUDIRTY_TRACKER_STANDBY) {
		IOMMUDIRTY_OPTS(iommudirty_tracker_opts, o, .flags = flags);

		assert_int_equal(fx_init(&f), 0);
		assert_int_equal(fx_add_iommu(&f, 0, 0), 0);
		assert_int_equal(fx_add_device(&f, 0), 0);
		assert_int_equal(iommudirty_tracker_new(f.ctx, &o, &f.t), 0);
		assert_int_equal(iommudirty_tracker_attach(f.t, f.dev[0]), 0);
		mem = fx_mem(&f, MiB, PG);
		assert_int_equal(iommudirty_tracker_map(f.t, mem, 64 * KiB, 0,
							IOMMUDIRTY_MAP_WRITE), 0);
		assert_int_equal(iommudirty_tracker_map(f.t, mem + 64 * KiB, 64 * KiB, 64 * KiB,
							IOMMUDIRTY_MAP_WRITE), 0);
		assert_int_equal(iommudirty_tracker_start(f.t), 0);
		g.t = f.t;
		atomic_store(&g.stop, false);
		atomic_store(&g.rounds, 0);
		assert_int_equal(pthread_create(&th, NULL, read_getters, &g), 0);
		for (int i = 0; i < 50; i++) {
			assert_int_equal(iommudirty_tracker_unmap_dirty(f.t, 0, 64 * KiB, PG, m,
									sizeof(m),
									IOMMUDIRTY_UNMAP_ATOMIC), 0);
			assert_int_equal(iommudirty_tracker_map(f.t, mem, 64 * KiB, 0,
								IOMMUDIRTY_MAP_WRITE), 0);
		}
		/* The race only counts if the getters ran during it. */
		while (atomic_load(&g.rounds) < 2)
			sched_yield();
		atomic_store(&g.stop, true);
		pthread_join(th, NULL);
		fx_fini(&f);
	}
}

static int raw(struct fx *f, unsigned long req, void *arg)
{
	return iommudirty_sim_ioctl(f->sim, iommudirty_ctx_fd(f->ctx), req, arg);
}

/* 4: an adopted HWPT id that names nothing: refused at once when it is 0;
 * otherwise the start that finds it gone forgets it, and the next start
 * works. 9: free leaves the VMM's objects as found: a HWPT adopted with
 * tracking on stays on, and the mappings the library made in the VMM's
 * IOAS are gone again. */
static void test_adopted_objects_as_found(void **state)
{
	struct fx f;
	struct uapi_ioas_alloc a = { .size = sizeof(a) };
	struct uapi_hwpt_alloc ha = { .size = sizeof(ha), .flags = UAPI_HWPT_ALLOC_DIRTY_TRACKING };
	struct uapi_hwpt_set_dirty_tracking on = { .size = sizeof(on),
						   .flags = UAPI_HWPT_DIRTY_TRACKING_ENABLE };
	struct uapi_ioas_unmap un = { .size = sizeof(un), .iova = MiB, .length = 64 * KiB };
	struct uapi_destroy d = { .size = sizeof(d) };
	uint64_t bm[1];
	struct uapi_hwpt_get_dirty_bitmap gd = {
		.size = sizeof(gd), .flags = UAPI_HWPT_GET_DIRTY_BITMAP_NO_CLEAR,
		.iova = 0, .length = 64 * KiB, .page_size = PG, .data = (uintptr_t)bm,
	};
	uint8_t *mem;

	(void)state;
	assert_int_equal(fx_init(&f), 0);
	assert_int_equal(fx_add_iommu(&f, 0, 0), 0);
	assert_int_equal(fx_add_device(&f, 0), 0);
	assert_int_equal(raw(&f, IOMMU_IOAS_ALLOC, &a), 0);
	{
		IOMMUDIRTY_OPTS(iommudirty_tracker_opts, o, .flags = IOMMUDIRTY_TRACKER_ADOPT_IOAS,
				.ioas_id = a.out_ioas_id);

		assert_int_equal(iommudirty_tracker_new(f.ctx, &o, &f.t), 0);
	}
	assert_int_equal(iommudirty_tracker_adopt_hwpt(f.t, 0, 0), -EINVAL);
	assert_int_equal(iommudirty_tracker_adopt_hwpt(f.t, 999, 0), 0);
	assert_int_equal(iommudirty_tracker_start(f.t), -ENOENT);
	assert_int_equal(iommudirty_tracker_start(f.t), 0);
	assert_int_equal(iommudirty_tracker_hwpt_ids(f.t, NULL, 0), 0);
	/* Said to be on already: no start would look, so refused at once,
	 * started or not, and reads still work afterwards. */
	assert_int_equal(iommudirty_tracker_adopt_hwpt(f.t, 999, IOMMUDIRTY_HWPT_TRACKING_ON),
			 -ENOENT);
	assert_int_equal(iommudirty_tracker_hwpt_ids(f.t, NULL, 0), 0);
	mem = fx_mem(&f, MiB, PG);
	assert_int_equal(iommudirty_tracker_map(f.t, mem, 64 * KiB, 2 * MiB, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_read(f.t, 2 * MiB, 64 * KiB, PG, bm, sizeof(bm), 0), 0);
	assert_int_equal(iommudirty_tracker_unmap(f.t, 2 * MiB, 64 * KiB), 0);
	assert_int_equal(iommudirty_tracker_stop(f.t), 0);
	assert_int_equal(iommudirty_tracker_adopt_hwpt(f.t, 999, IOMMUDIRTY_HWPT_TRACKING_ON),
			 -ENOENT);
	assert_int_equal(iommudirty_tracker_start(f.t), 0);
	assert_int_equal(iommudirty_tracker_stop(f.t), 0);
	/* The VMM's own HWPT, tracking already, with its device on it. */
	ha.dev_id = iommudirty_device_id(f.dev[0]);
	ha.pt_id = a.out_ioas_id;
	assert_int_equal(raw(&f, IOMMU_HWPT_ALLOC, &ha), 0);
	on.hwpt_id = ha.out_hwpt_id;
	assert_int_equal(raw(&f, IOMMU_HWPT_SET_DIRTY_TRACKING, &on), 0);
	assert_int_equal(iommudirty_tracker_adopt_hwpt(f.t, ha.out_hwpt_id,
						       IOMMUDIRTY_HWPT_TRACKING_ON), 0);
	assert_int_equal(iommudirty_tracker_map(f.t, mem, 64 * KiB, MiB, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_start(f.t), 0);
	iommudirty_tracker_free(f.t);
	f.t = NULL;
	/* Still tracking (a read of a HWPT that does not is refused)... */
	gd.hwpt_id = ha.out_hwpt_id;
	assert_int_equal(raw(&f, IOMMU_HWPT_GET_DIRTY_BITMAP, &gd), 0);
	/* ...and the library's mapping is gone from the VMM's IOAS. */
	un.ioas_id = a.out_ioas_id;
	assert_int_equal(raw(&f, IOMMU_IOAS_UNMAP, &un), -ENOENT);
	d.id = ha.out_hwpt_id;
	assert_int_equal(raw(&f, IOMMU_DESTROY, &d), 0);
	d.id = a.out_ioas_id;
	assert_int_equal(raw(&f, IOMMU_DESTROY, &d), 0);
	fx_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_atomic_unmap_simplest),
		cmocka_unit_test(test_write_protect_without_devices),
		cmocka_unit_test(test_short_options_with_flags),
		cmocka_unit_test(test_getters_race_write_protect),
		cmocka_unit_test(test_adopted_objects_as_found),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
