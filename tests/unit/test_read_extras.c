/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * A read that counts what it reported, and forgetting a declared mapping
 * the VMM removed itself (then a larger one declared there is read whole).
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

static void test_read_counted(void **state)
{
	struct fx f;
	uint64_t m[2], n = 77;
	uint8_t *mem;

	(void)state;
	assert_int_equal(fx_init(&f), 0);
	assert_int_equal(fx_add_iommu(&f, 0, 0), 0);
	assert_int_equal(fx_add_device(&f, 0), 0);
	assert_int_equal(fx_tracker(&f), 0);
	assert_int_equal(iommudirty_tracker_attach(f.t, f.dev[0]), 0);
	mem = fx_mem(&f, MiB, PG);
	assert_int_equal(iommudirty_tracker_map(f.t, mem, 512 * KiB, 0, IOMMUDIRTY_MAP_WRITE), 0);
	/* Not started: the read fails and the count is left alone. */
	assert_int_equal(iommudirty_tracker_read_counted(f.t, 0, 100 * PG, PG, m, sizeof(m), 0,
							 &n), -EINVAL);
	assert_int_equal(n, 77);
	assert_int_equal(iommudirty_tracker_start(f.t), 0);
	assert_int_equal(fx_write(&f, 0, 3 * PG, 1), 0);
	assert_int_equal(fx_write(&f, 0, 70 * PG, 3 * PG), 0);
	assert_int_equal(fx_write(&f, 0, 99 * PG, 1), 0);
	assert_int_equal(fx_write(&f, 0, 100 * PG, 1), 0); /* past the 100 pages read */
	/* 100 pages: the bits past them in the last word do not count. */
	assert_int_equal(iommudirty_tracker_read_counted(f.t, 0, 100 * PG, PG, m, sizeof(m),
							 IOMMUDIRTY_READ_NO_CLEAR, &n), 0);
	assert_int_equal(n, 5);
	assert_int_equal(n, iommudirty_bitmap_count(m, 100));
	assert_int_equal(iommudirty_tracker_read_counted(f.t, 0, 128 * PG, 8 * PG, m, sizeof(m), 0,
							 &n), 0);
	assert_int_equal(n, 4); /* 32 KiB pages 0, 8, 9 and 12 (99 and 100) */
	assert_int_equal(iommudirty_tracker_read_counted(f.t, 0, PG, PG, m, sizeof(m), 0, NULL),
			 -EINVAL);
	fx_fini(&f);
}

static void vmm_map(struct fx *f, uint32_t ioas, void *va, uint64_t len, uint64_t iova)
{
	struct uapi_ioas_map c = {
		.size = sizeof(c), .ioas_id = ioas, .user_va = (uintptr_t)va,
		.length = len, .iova = iova,
		.flags = UAPI_IOAS_MAP_FIXED_IOVA | UAPI_IOAS_MAP_READABLE |
			 UAPI_IOAS_MAP_WRITEABLE,
	};

	assert_int_equal(iommudirty_sim_ioctl(f->sim, iommudirty_ctx_fd(f->ctx),
					      IOMMU_IOAS_MAP, &c), 0);
}

static void vmm_unmap(struct fx *f, uint32_t ioas, uint64_t iova, uint64_t len)
{
	struct uapi_ioas_unmap c = { .size = sizeof(c), .ioas_id = ioas, .iova = iova,
				     .length = len };

	assert_int_equal(iommudirty_sim_ioctl(f->sim, iommudirty_ctx_fd(f->ctx),
					      IOMMU_IOAS_UNMAP, &c), 0);
}

/* The VMM unmaps a declared mapping and maps a larger one at the same
 * IOVA: without forget, re-declaring fails and writes past the old end go
 * unreported; with it, the new declaration is read whole. */
static void test_forget_mapping(void **state)
{
	struct fx f;
	struct uapi_ioas_alloc a = { .size = sizeof(a) };
	struct uapi_destroy d = { .size = sizeof(d) };
	uint64_t m[1];
	uint8_t *mem;

	(void)state;
	assert_int_equal(fx_init(&f), 0);
	assert_int_equal(fx_add_iommu(&f, 0, 0), 0);
	assert_int_equal(fx_add_device(&f, 0), 0);
	assert_int_equal(iommudirty_sim_ioctl(f.sim, iommudirty_ctx_fd(f.ctx),
					      IOMMU_IOAS_ALLOC, &a), 0);
	{
		IOMMUDIRTY_OPTS(iommudirty_tracker_opts, o, .flags = IOMMUDIRTY_TRACKER_ADOPT_IOAS,
				.ioas_id = a.out_ioas_id);

		assert_int_equal(iommudirty_tracker_new(f.ctx, &o, &f.t), 0);
	}
	assert_int_equal(iommudirty_tracker_attach(f.t, f.dev[0]), 0);
	mem = fx_mem(&f, MiB, PG);
	vmm_map(&f, a.out_ioas_id, mem, 16 * PG, 0);
	assert_int_equal(iommudirty_tracker_adopt_mapping(f.t, 0, 16 * PG), 0);
	assert_int_equal(iommudirty_tracker_map(f.t, mem + 64 * PG, 16 * PG, 64 * PG,
						IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_start(f.t), 0);
	assert_int_equal(fx_write(&f, 0, 2 * PG, 1), 0);
	/* The VMM replaces it, behind the library's back. */
	vmm_unmap(&f, a.out_ioas_id, 0, 16 * PG);
	vmm_map(&f, a.out_ioas_id, mem, 32 * PG, 0);
	assert_int_equal(iommudirty_tracker_adopt_mapping(f.t, 0, 32 * PG), -EEXIST);
	/* Refused: cutting it, holding none, or a mapping of the library's. */
	assert_int_equal(iommudirty_tracker_forget_mapping(f.t, 0, 8 * PG), -ENOENT);
	assert_int_equal(iommudirty_tracker_forget_mapping(f.t, 32 * PG, 8 * PG), -ENOENT);
	assert_int_equal(iommudirty_tracker_forget_mapping(f.t, 64 * PG, 16 * PG), -EINVAL);
	assert_int_equal(iommudirty_tracker_forget_mapping(NULL, 0, PG), -EINVAL);
	assert_int_equal(iommudirty_tracker_forget_mapping(f.t, 0, 0), -EINVAL);
	assert_int_equal(iommudirty_tracker_forget_mapping(f.t, 0, 16 * PG), 0);
	assert_int_equal(iommudirty_tracker_adopt_mapping(f.t, 0, 32 * PG), 0);
	assert_int_equal(fx_write(&f, 0, 20 * PG, 1), 0); /* past the old end */
	assert_int_equal(iommudirty_tracker_read(f.t, 0, 32 * PG, PG, m, sizeof(m), 0), 0);
	assert_int_equal(m[0], 1ull << 20);
	/* The library's own mapping is untouched. */
	assert_int_equal(fx_write(&f, 0, 65 * PG, 1), 0);
	assert_int_equal(iommudirty_tracker_read(f.t, 64 * PG, 16 * PG, PG, m, sizeof(m), 0), 0);
	assert_int_equal(m[0], 2);
	iommudirty_tracker_free(f.t);
	f.t = NULL;
	vmm_unmap(&f, a.out_ioas_id, 0, 32 * PG);
	d.id = a.out_ioas_id;
	assert_int_equal(iommudirty_sim_ioctl(f.sim, iommudirty_ctx_fd(f.ctx), IOMMU_DESTROY,
					      &d), 0);
	fx_fini(&f);
}

/* Bits a widened clearing read keeps outside the caller's range are kept
 * at the finest page the IOAS maps, not the caller's: a later, finer read
 * reports the written page and no clean neighbour. */
static void test_kept_bits_stay_fine(void **state)
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
	assert_int_equal(iommudirty_tracker_map(f.t, mem, MiB, 0, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_start(f.t), 0);
	assert_int_equal(fx_write(&f, 0, 5 * PG, 1), 0);
	/* A 16 KiB-page read of [64, 128) KiB widens to the mapping: page 5
	 * is cleared in the kernel and kept. */
	assert_int_equal(iommudirty_tracker_read(f.t, 64 * KiB, 64 * KiB, 4 * PG, m, sizeof(m), 0),
			 0);
	assert_int_equal(m[0], 0);
	assert_int_equal(iommudirty_tracker_read(f.t, 0, 64 * KiB, PG, m, sizeof(m), 0), 0);
	assert_int_equal(m[0], 1ull << 5);
	fx_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_read_counted),
		cmocka_unit_test(test_forget_mapping),
		cmocka_unit_test(test_kept_bits_stay_fine),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
