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
#include <sys/mman.h>

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
	/* Not started: the read fails, the count and the bitmap are left
	 * alone (the bitmap is zeroed only for a read that goes ahead). */
	m[0] = m[1] = 0xa5a5a5a5a5a5a5a5ull;
	assert_int_equal(iommudirty_tracker_read_counted(f.t, 0, 100 * PG, PG, m, sizeof(m), 0,
							 &n), -EINVAL);
	assert_int_equal(n, 77);
	assert_true(m[0] == 0xa5a5a5a5a5a5a5a5ull && m[1] == 0xa5a5a5a5a5a5a5a5ull);
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

/* Counted reads go in windows of 2^22 caller pages (the bitmap zeroed
 * once, up front): the bitmap and the count must be those of one read,
 * across window edges, with a hole and with a second (device-log)
 * source. */
static void test_read_counted_across_windows(void **state)
{
	const uint64_t len = 40 * GiB, W = 1ull << 22;
	static const struct iommudirty_sim_device_opts logging = {
		.sz = sizeof(logging), .flags = IOMMUDIRTY_SIM_DEV_DMA_LOGGING,
	};
	const uint64_t pages[] = { 0, 1, W - 1, W, W + 1, 2 * W - 1, 2 * W + 5,
				   len / PG - 1 };
	uint64_t nbits = len / PG, *m = calloc(nbits / 64, 8), *ref = calloc(nbits / 64, 8), n;
	void *va = mmap(NULL, len, PROT_NONE, MAP_PRIVATE | MAP_ANONYMOUS | MAP_NORESERVE, -1, 0);
	struct fx f;

	(void)state;
	assert_non_null(m);
	assert_non_null(ref);
	assert_true(va != MAP_FAILED);
	assert_int_equal(fx_init(&f), 0);
	assert_int_equal(fx_add_iommu(&f, 0, 0), 0);
	assert_int_equal(fx_add_device(&f, 0), 0);
	assert_int_equal(fx_add_iommu(&f, 0, IOMMUDIRTY_SIM_IOMMU_NO_DIRTY), 1);
	assert_int_equal(fx_add_vfio_device(&f, 1, &logging), 1);
	assert_int_equal(fx_tracker(&f), 0);
	assert_int_equal(iommudirty_tracker_attach(f.t, f.dev[0]), 0);
	assert_int_equal(iommudirty_tracker_attach(f.t, f.dev[1]), 0);
	/* A hole of 1 GiB across the second window edge's neighbourhood. */
	assert_int_equal(iommudirty_tracker_map(f.t, va, 9 * GiB, 0, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_map(f.t, (uint8_t *)va + 10 * GiB, 30 * GiB, 10 * GiB,
						IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_start(f.t), 0);
	for (int round = 0; round < 2; round++) {
		uint64_t want = 0;

		for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++) {
			uint64_t iova = pages[i] * PG;

			if (iova >= 9 * GiB && iova < 10 * GiB)
				continue;
			assert_int_equal(fx_write(&f, (int)(i % 2), iova, 1), 0);
			want++;
		}
		/* Whatever the bitmap held, every window of it is zeroed. */
		memset(m, 0xff, nbits / 8);
		assert_int_equal(iommudirty_tracker_read_counted(f.t, 0, len, PG, m, nbits / 8,
								 IOMMUDIRTY_READ_NO_CLEAR, &n), 0);
		assert_int_equal(n, want);
		/* The plain read of the same state gives the same bitmap. */
		assert_int_equal(iommudirty_tracker_read(f.t, 0, len, PG, ref, nbits / 8,
							 IOMMUDIRTY_READ_NO_CLEAR), 0);
		assert_memory_equal(m, ref, nbits / 8);
		for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++)
			if (pages[i] * PG < 9 * GiB || pages[i] * PG >= 10 * GiB)
				assert_true(m[pages[i] / 64] & (1ull << (pages[i] % 64)));
		/* Clearing: the same, then nothing. */
		assert_int_equal(iommudirty_tracker_read_counted(f.t, 0, len, PG, m, nbits / 8, 0,
								 &n), 0);
		assert_int_equal(n, want);
		assert_int_equal(iommudirty_tracker_read_counted(f.t, 0, len, PG, m, nbits / 8, 0,
								 &n), 0);
		assert_int_equal(n, 0);
		assert_int_equal(iommudirty_bitmap_count(m, nbits), 0);
	}
	/* At 2 MiB caller pages (windows of 8 TiB: one window). */
	assert_int_equal(fx_write(&f, 0, 0, 1), 0);
	assert_int_equal(fx_write(&f, 1, 19 * GiB, 1), 0);
	assert_int_equal(iommudirty_tracker_read_counted(f.t, 0, len, 2 * MiB, m, nbits / 8, 0,
							 &n), 0);
	assert_int_equal(n, 2);
	fx_fini(&f);
	munmap(va, len);
	free(m);
	free(ref);
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

/* Issue 11: the VMM replaces an adopted mapping behind the library's back
 * with a larger one. The library's unmap of the stale declaration finds
 * nothing in the kernel: it forgets the declaration, leaves the VMM's new
 * mapping alone, and the new one can be declared and is read whole. */
static void test_stale_adopted_mapping_forgotten_at_unmap(void **state)
{
	struct fx f;
	struct uapi_ioas_alloc a = { .size = sizeof(a) };
	uint64_t m[1];
	uint8_t *mem;

	(void)state;
	assert_int_equal(fx_init(&f), 0);
	assert_int_equal(fx_add_iommu(&f, 0, 0), 0);
	assert_int_equal(fx_add_device(&f, 0), 0);
	assert_int_equal(iommudirty_sim_ioctl(f.sim, iommudirty_ctx_fd(f.ctx), IOMMU_IOAS_ALLOC,
					      &a), 0);
	{
		IOMMUDIRTY_OPTS(iommudirty_tracker_opts, o, .flags = IOMMUDIRTY_TRACKER_ADOPT_IOAS,
				.ioas_id = a.out_ioas_id);

		assert_int_equal(iommudirty_tracker_new(f.ctx, &o, &f.t), 0);
	}
	assert_int_equal(iommudirty_tracker_attach(f.t, f.dev[0]), 0);
	mem = fx_mem(&f, MiB, PG);
	vmm_map(&f, a.out_ioas_id, mem, 16 * PG, MiB);
	assert_int_equal(iommudirty_tracker_adopt_mapping(f.t, MiB, 16 * PG), 0);
	assert_int_equal(iommudirty_tracker_start(f.t), 0);
	/* Behind the library's back: gone, and mapped again, larger. */
	vmm_unmap(&f, a.out_ioas_id, MiB, 16 * PG);
	vmm_map(&f, a.out_ioas_id, mem, 32 * PG, MiB);
	assert_int_equal(iommudirty_tracker_adopt_mapping(f.t, MiB, 32 * PG), -EEXIST);
	/* The kernel says the declared mapping is gone: forgotten. */
	assert_int_equal(iommudirty_tracker_unmap(f.t, MiB, 16 * PG), 0);
	assert_int_equal(fx_write(&f, 0, MiB + 20 * PG, 1), 0); /* still mapped */
	assert_int_equal(iommudirty_tracker_adopt_mapping(f.t, MiB, 32 * PG), 0);
	assert_int_equal(fx_write(&f, 0, MiB + 30 * PG, 1), 0);
	assert_int_equal(iommudirty_tracker_read(f.t, MiB, 32 * PG, PG, m, sizeof(m), 0), 0);
	assert_true(m[0] & (1ull << 30)); /* past the old declaration's end */
	/* A mapping the library made itself is never forgotten this way. */
	assert_int_equal(iommudirty_tracker_map(f.t, mem + 32 * PG, 4 * PG, 4 * MiB,
						IOMMUDIRTY_MAP_WRITE), 0);
	vmm_unmap(&f, a.out_ioas_id, 4 * MiB, 4 * PG);
	assert_int_equal(iommudirty_tracker_unmap(f.t, 4 * MiB, 4 * PG), -ENOENT);
	iommudirty_tracker_free(f.t);
	f.t = NULL;
	{
		struct uapi_destroy d = { .size = sizeof(d), .id = a.out_ioas_id };

		assert_int_equal(iommudirty_sim_ioctl(f.sim, iommudirty_ctx_fd(f.ctx),
						      IOMMU_DESTROY, &d), 0);
	}
	fx_fini(&f);
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
		cmocka_unit_test(test_read_counted_across_windows),
		cmocka_unit_test(test_stale_adopted_mapping_forgotten_at_unmap),
		cmocka_unit_test(test_forget_mapping),
		cmocka_unit_test(test_kept_bits_stay_fine),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
