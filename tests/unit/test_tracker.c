/* SPDX-License-Identifier: LGPL-2.1-or-later */
/* The tracker on the simulated kernel: every API call and every guard. */
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <sys/mman.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include <cmocka.h>

#include "fixture.h"
#include "tracker.h" /* the pending list, to see it stays small */
#include "uapi.h"

#define PG (4 * KiB)

static uint64_t *bm_alloc(uint64_t len, uint64_t ps)
{
	size_t n = iommudirty_bitmap_size(len, ps);
	uint64_t *m = malloc(n);

	assert_non_null(m);
	memset(m, 0xa5, n); /* the library must not trust what is there */
	return m;
}

static uint64_t dirty_reads(struct fx *f)
{
	struct iommudirty_sim_stats st = { .sz = sizeof(st) };

	assert_int_equal(iommudirty_sim_get_stats(f->sim, &st), 0);
	return st.dirty_reads;
}

/* One IOMMU (4 KiB pages), one device attached, a tracker. */
static int setup_one(void **state)
{
	struct fx *f = calloc(1, sizeof(*f));

	assert_int_equal(fx_init(f), 0);
	assert_int_equal(fx_add_iommu(f, 0, 0), 0);
	assert_int_equal(fx_add_device(f, 0), 0);
	assert_int_equal(fx_tracker(f), 0);
	assert_int_equal(iommudirty_tracker_attach(f->t, f->dev[0]), 0);
	*state = f;
	return 0;
}

static int teardown(void **state)
{
	fx_fini(*state);
	free(*state);
	return 0;
}

static void expect_bits(const uint64_t *m, uint64_t nbits, const uint64_t *pages,
			size_t npages)
{
	for (uint64_t i = 0; i < nbits; i++) {
		bool want = false;

		for (size_t j = 0; j < npages; j++)
			want |= pages[j] == i;
		if (fx_test_bit(m, i) != want)
			fail_msg("bit %llu is %d, want %d", (unsigned long long)i,
				 fx_test_bit(m, i), want);
	}
}

static void test_read_and_clear(void **state)
{
	struct fx *f = *state;
	uint8_t *mem = fx_mem(f, MiB, PG);
	uint64_t *m = bm_alloc(MiB, PG);
	const uint64_t pages[] = { 3, 5, 6, 7, 255 };

	assert_int_equal(iommudirty_tracker_map(f->t, mem, MiB, MiB,
						IOMMUDIRTY_MAP_READ | IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_started(f->t), 0);
	assert_int_equal(iommudirty_tracker_start(f->t), 0);
	assert_int_equal(iommudirty_tracker_started(f->t), 1);
	assert_int_equal(fx_write(f, 0, MiB + 3 * PG, 100), 0);
	assert_int_equal(fx_write(f, 0, MiB + 5 * PG, 3 * PG), 0);
	assert_int_equal(fx_write(f, 0, MiB + 255 * PG + 8, 8), 0);

	/* Without clearing, twice the same. */
	assert_int_equal(iommudirty_tracker_read(f->t, MiB, MiB, PG, m,
						 iommudirty_bitmap_size(MiB, PG),
						 IOMMUDIRTY_READ_NO_CLEAR), 0);
	expect_bits(m, 256, pages, 5);
	assert_int_equal(iommudirty_tracker_read(f->t, MiB, MiB, PG, m,
						 iommudirty_bitmap_size(MiB, PG), 0), 0);
	expect_bits(m, 256, pages, 5);
	/* Cleared now. */
	assert_int_equal(iommudirty_tracker_read(f->t, MiB, MiB, PG, m,
						 iommudirty_bitmap_size(MiB, PG), 0), 0);
	expect_bits(m, 256, NULL, 0);
	/* Device memory really written through the mapping. */
	assert_int_equal(iommudirty_sim_dma_write(f->sim, f->sdev[0], MiB + 9 * PG,
						  4, "abcd"), 0);
	assert_memory_equal(mem + 9 * PG, "abcd", 4);
	free(m);
}

/* Caller page sizes below and above the IO page. */
static void test_page_sizes(void **state)
{
	struct fx *f = *state;
	uint8_t *mem = fx_mem(f, MiB, PG);
	uint64_t m[64];

	assert_int_equal(iommudirty_tracker_map(f->t, mem, MiB, 0, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_start(f->t), 0);
	assert_int_equal(fx_write(f, 0, 17 * PG, 1), 0);
	/* 1 KiB pages: the 4 KiB IO page reports its four quarters. */
	assert_int_equal(iommudirty_tracker_read(f->t, 0, 128 * KiB, KiB, m, sizeof(m),
						 IOMMUDIRTY_READ_NO_CLEAR), 0);
	{
		const uint64_t want[] = { 68, 69, 70, 71 };
		expect_bits(m, 128, want, 4);
	}
	/* The range itself must still respect the IOAS alignment. */
	assert_int_equal(iommudirty_tracker_read(f->t, KiB, 64 * KiB, KiB, m, sizeof(m),
						 IOMMUDIRTY_READ_NO_CLEAR), -EINVAL);
	assert_int_equal(errno, EINVAL);
	assert_int_equal(iommudirty_tracker_read(f->t, 16 * PG, 16 * PG, PG / 2, m,
						 sizeof(m), IOMMUDIRTY_READ_NO_CLEAR), 0);
	{
		const uint64_t want[] = { 2, 3 };
		expect_bits(m, 32, want, 2);
	}
	/* 64 KiB pages: page 17 is in 64 KiB page 1. */
	assert_int_equal(iommudirty_tracker_read(f->t, 0, MiB, 64 * KiB, m, sizeof(m), 0), 0);
	{
		const uint64_t want[] = { 1 };
		expect_bits(m, 16, want, 1);
	}
}

/* No kernel read spans a hole; adjacent mappings are read at once. */
static void test_holes_and_runs(void **state)
{
	struct fx *f = *state;
	uint8_t *mem = fx_mem(f, 4 * MiB, PG);
	uint64_t *m = bm_alloc(4 * MiB, PG);
	uint64_t before;
	/* run A [0,192K) = three 64K maps; hole; run B [256K,2M) = two maps;
	 * hole; run C [3M, 3M+16K). */
	const uint64_t pages[] = { 0, 15, 47, 64, 65, 511, 769 };

	for (int i = 0; i < 3; i++)
		assert_int_equal(iommudirty_tracker_map(f->t, mem + i * 64 * KiB, 64 * KiB,
							i * 64 * KiB, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_map(f->t, mem + 256 * KiB, 768 * KiB,
						256 * KiB, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_map(f->t, mem + MiB, MiB, MiB,
						IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_map(f->t, mem + 3 * MiB, 4 * PG, 3 * MiB,
						IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_start(f->t), 0);
	for (size_t i = 0; i < sizeof(pages) / sizeof(pages[0]); i++)
		assert_int_equal(fx_write(f, 0, pages[i] * PG, PG), 0);
	/* A hole is not mapped: the device faults, nothing is dirtied. */
	assert_int_equal(fx_write(f, 0, 200 * KiB, 1), -EFAULT);
	assert_int_equal(fx_write(f, 0, 188 * KiB, 8 * KiB), -EFAULT);

	before = dirty_reads(f);
	assert_int_equal(iommudirty_tracker_read(f->t, 0, 4 * MiB, PG, m,
						 iommudirty_bitmap_size(4 * MiB, PG), 0), 0);
	assert_int_equal(dirty_reads(f) - before, 3); /* one per run */
	expect_bits(m, 1024, pages, sizeof(pages) / sizeof(pages[0]));
	free(m);
}

/* A run that starts at a bit offset that is not a multiple of 64. */
static void test_unaligned_bit_offset(void **state)
{
	struct fx *f = *state;
	uint8_t *mem = fx_mem(f, MiB, PG);
	uint64_t m[8];
	const uint64_t pages[] = { 5, 63, 70, 71, 133, 169, 269 };

	assert_int_equal(iommudirty_tracker_map(f->t, mem, 64 * PG, 0, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_map(f->t, mem + 70 * PG, 200 * PG, 70 * PG,
						IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_start(f->t), 0);
	for (size_t i = 0; i < 7; i++)
		assert_int_equal(fx_write(f, 0, pages[i] * PG, PG), 0);
	memset(m, 0xff, sizeof(m));
	assert_int_equal(iommudirty_tracker_read(f->t, 0, 300 * PG, PG, m, sizeof(m), 0), 0);
	expect_bits(m, 320, pages, 7); /* to the end of the last word */
	assert_int_equal(dirty_reads(f), 2);
}

/* A mapping boundary that is not a multiple of the caller's page size. */
static void test_run_unaligned_to_page_size(void **state)
{
	struct fx *f = *state;
	uint8_t *mem = fx_mem(f, MiB, PG);
	uint64_t m[2];

	assert_int_equal(iommudirty_tracker_map(f->t, mem, 3 * PG, PG, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_map(f->t, mem + 64 * KiB, 20 * PG,
						64 * KiB + 4 * PG, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_start(f->t), 0);
	assert_int_equal(fx_write(f, 0, 2 * PG, 1), 0);
	assert_int_equal(fx_write(f, 0, 64 * KiB + 23 * PG, 1), 0);
	assert_int_equal(iommudirty_tracker_read(f->t, 0, 256 * KiB, 64 * KiB, m,
						 sizeof(m), 0), 0);
	{
		const uint64_t want[] = { 0, 2 };
		expect_bits(m, 4, want, 2);
	}
	assert_int_equal(iommudirty_tracker_read(f->t, 0, 256 * KiB, 64 * KiB, m,
						 sizeof(m), 0), 0);
	expect_bits(m, 4, NULL, 0);
}

static void test_start_twice_keeps_bits(void **state)
{
	struct fx *f = *state;
	uint8_t *mem = fx_mem(f, MiB, PG);
	uint64_t m[4];
	const uint64_t want[] = { 9 };

	assert_int_equal(iommudirty_tracker_map(f->t, mem, MiB, 0, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_start(f->t), 0);
	assert_int_equal(fx_write(f, 0, 9 * PG, 1), 0);
	assert_int_equal(iommudirty_tracker_start(f->t), 0);
	assert_int_equal(iommudirty_tracker_read(f->t, 0, MiB, PG, m, sizeof(m), 0), 0);
	expect_bits(m, 256, want, 1);

	/* Stop: reads are refused; a fresh start begins clean. */
	assert_int_equal(fx_write(f, 0, 9 * PG, 1), 0);
	assert_int_equal(iommudirty_tracker_stop(f->t), 0);
	assert_int_equal(iommudirty_tracker_stop(f->t), 0);
	assert_int_equal(iommudirty_tracker_read(f->t, 0, MiB, PG, m, sizeof(m), 0), -EINVAL);
	assert_int_equal(fx_write(f, 0, 10 * PG, 1), 0); /* not tracked */
	assert_int_equal(iommudirty_tracker_start(f->t), 0);
	assert_int_equal(iommudirty_tracker_read(f->t, 0, MiB, PG, m, sizeof(m), 0), 0);
	expect_bits(m, 256, NULL, 0);
}

/* Two IOMMU instances: one HWPT each; a read is their union. */
static void test_two_hwpts_union(void **state)
{
	struct fx f;
	uint8_t *mem;
	uint64_t m[4];
	uint32_t ids[4];
	const uint64_t want[] = { 1, 2, 200 };

	assert_int_equal(fx_init(&f), 0);
	assert_int_equal(fx_add_iommu(&f, 0, 0), 0);
	assert_int_equal(fx_add_iommu(&f, 0, 0), 1);
	assert_int_equal(fx_add_device(&f, 0), 0);
	assert_int_equal(fx_add_device(&f, 1), 1);
	assert_int_equal(fx_add_device(&f, 0), 2);
	assert_int_equal(fx_tracker(&f), 0);
	mem = fx_mem(&f, MiB, PG);
	assert_int_equal(iommudirty_tracker_map(f.t, mem, MiB, 0, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_start(f.t), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(iommudirty_tracker_attach(f.t, f.dev[i]), 0);
	assert_int_equal(iommudirty_tracker_attach(f.t, f.dev[2]), -EALREADY);
	assert_int_equal(iommudirty_tracker_hwpt_ids(f.t, ids, 4), 2);
	assert_int_equal(iommudirty_tracker_hwpt_ids(f.t, NULL, 0), 2);
	assert_int_equal(fx_write(&f, 0, 1 * PG, 1), 0);
	assert_int_equal(fx_write(&f, 1, 2 * PG, 1), 0);
	assert_int_equal(fx_write(&f, 2, 200 * PG, 1), 0);
	assert_int_equal(iommudirty_tracker_read(f.t, 0, MiB, PG, m, sizeof(m), 0), 0);
	expect_bits(m, 256, want, 3);
	assert_int_equal(dirty_reads(&f), 2);

	/* Detach while started: that HWPT's bits are still reported. */
	assert_int_equal(fx_write(&f, 1, 3 * PG, 1), 0);
	assert_int_equal(iommudirty_tracker_detach(f.t, f.dev[1]), 0);
	assert_int_equal(iommudirty_tracker_detach(f.t, f.dev[1]), -ENOENT);
	assert_int_equal(fx_write(&f, 1, 4 * PG, 1), -ENODEV);
	assert_int_equal(iommudirty_tracker_read(f.t, 0, MiB, PG, m, sizeof(m), 0), 0);
	{
		const uint64_t w[] = { 3 };
		expect_bits(m, 256, w, 1);
	}
	/* Its HWPT goes at the next fresh start. */
	assert_int_equal(iommudirty_tracker_stop(f.t), 0);
	assert_int_equal(iommudirty_tracker_start(f.t), 0);
	assert_int_equal(iommudirty_tracker_hwpt_ids(f.t, ids, 4), 1);
	fx_fini(&f);
}

/* A precise-only tracker refuses a device whose IOMMU cannot track (and
 * which has no DMA log); nothing is left behind and the device cannot DMA. */
static void test_device_that_cannot_track(void **state)
{
	struct fx f;
	struct iommudirty_hw_info hw = { .sz = sizeof(hw) };
	struct iommudirty_sim_stats st = { .sz = sizeof(st) };
	struct iommudirty_tracker_info info = { .sz = sizeof(info) };
	IOMMUDIRTY_OPTS(iommudirty_tracker_opts, po, .flags = IOMMUDIRTY_TRACKER_PRECISE_ONLY);
	uint32_t id = 0;
	uint64_t objs;

	assert_int_equal(fx_init(&f), 0);
	assert_int_equal(fx_add_iommu(&f, 0, IOMMUDIRTY_SIM_IOMMU_NO_DIRTY), 0);
	assert_int_equal(fx_add_device(&f, 0), 0);
	assert_int_equal(iommudirty_tracker_new(f.ctx, &po, &f.t), 0);
	assert_int_equal(iommudirty_device_dirty_capable(f.dev[0]), 0);
	assert_int_equal(iommudirty_device_hw_info(f.dev[0], &hw), 0);
	assert_int_equal(hw.type, IOMMUDIRTY_HW_INFO_SELFTEST);
	assert_int_equal(hw.capabilities & IOMMUDIRTY_HW_CAP_DIRTY_TRACKING, 0);
	iommudirty_sim_get_stats(f.sim, &st);
	objs = st.objects;
	assert_int_equal(iommudirty_tracker_attach(f.t, f.dev[0]), -EOPNOTSUPP);
	assert_int_equal(errno, EOPNOTSUPP);
	assert_int_equal(iommudirty_tracker_alloc_hwpt(f.t, f.dev[0], &id), -EOPNOTSUPP);
	iommudirty_sim_get_stats(f.sim, &st);
	assert_int_equal(st.objects, objs); /* nothing left behind */
	/* Not attached anywhere: the device cannot DMA. */
	assert_int_equal(fx_write(&f, 0, 0, 1), -ENODEV);
	assert_int_equal(iommudirty_tracker_info(f.t, &info), 0);
	assert_int_equal(info.nr_devices, 0);
	fx_fini(&f);
}

static bool si_has(const struct iommudirty_source_info *si, uint32_t r)
{
	for (uint32_t i = 0; i < si->nr_reasons; i++)
		if (si->reasons[i] == r)
			return true;
	return false;
}

/* By default such a device is an untracked DMA writer: attached to the
 * IOAS, every page it can write reported dirty on every read, the tracker
 * not precise, and every reason queryable. A tracking device beside it
 * stays precise on its own. */
static void test_untracked_writer_is_conservative(void **state)
{
	struct fx f;
	struct iommudirty_tracker_info info = { .sz = sizeof(info) };
	IOMMUDIRTY_OPTS(iommudirty_source_info, si);
	uint64_t m[2];
	uint8_t *mem;

	assert_int_equal(fx_init(&f), 0);
	assert_int_equal(fx_add_iommu(&f, 0, 0), 0);
	assert_int_equal(fx_add_iommu(&f, 0, IOMMUDIRTY_SIM_IOMMU_NO_DIRTY), 1);
	assert_int_equal(fx_add_device(&f, 0), 0);
	assert_int_equal(fx_add_device(&f, 1), 1);
	assert_int_equal(fx_tracker(&f), 0);
	assert_int_equal(iommudirty_tracker_attach(f.t, f.dev[0]), 0);
	assert_int_equal(iommudirty_tracker_info(f.t, &info), 0);
	assert_int_equal(info.precise, 1);
	assert_int_equal(iommudirty_tracker_attach(f.t, f.dev[1]), 0);
	assert_int_equal(iommudirty_tracker_info(f.t, &info), 0);
	assert_int_equal(info.precise, 0);
	assert_int_equal(info.nr_devices, 2);
	assert_int_equal(info.nr_conservative, 1);
	assert_int_equal(iommudirty_tracker_source_info(f.t, 0, &si), 2);
	assert_int_equal(si.source, IOMMUDIRTY_SOURCE_IOMMU);
	assert_int_equal(si.precise, 1);
	assert_int_equal(si.dev_id, iommudirty_device_id(f.dev[0]));
	assert_true(si_has(&si, IOMMUDIRTY_REASON_NO_DMA_LOGGING));
	assert_int_equal(iommudirty_tracker_source_info(f.t, 1, &si), 2);
	assert_int_equal(si.source, IOMMUDIRTY_SOURCE_NONE);
	assert_int_equal(si.precise, 0);
	assert_int_equal(si.pci_index, -1);
	assert_true(si_has(&si, IOMMUDIRTY_REASON_DEVICE_CANNOT_TRACK));
	assert_true(si_has(&si, IOMMUDIRTY_REASON_KERNEL_NO_CAP));
	assert_true(si_has(&si, IOMMUDIRTY_REASON_NO_DMA_LOGGING));
	assert_true(si_has(&si, IOMMUDIRTY_REASON_UNTRACKED_WRITER));
	/* Only one HWPT: the untracked device sits on the IOAS itself. */
	assert_int_equal(iommudirty_tracker_hwpt_ids(f.t, NULL, 0), 1);

	mem = fx_mem(&f, MiB, PG);
	assert_int_equal(iommudirty_tracker_map(f.t, mem, 64 * KiB, 0, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_map(f.t, mem + MiB / 2, 64 * KiB, 128 * KiB,
						IOMMUDIRTY_MAP_READ), 0);
	assert_int_equal(iommudirty_tracker_start(f.t), 0);
	/* The untracked device can write (it is attached) ... */
	assert_int_equal(fx_write(&f, 1, 3 * PG, 1), 0);
	/* ... so every writable page is dirty, every time; the read-only
	 * mapping (pages 32..47) no device can write. */
	for (int round = 0; round < 2; round++) {
		assert_int_equal(iommudirty_tracker_read(f.t, 0, 64 * PG, PG, m, sizeof(m), 0), 0);
		assert_int_equal(m[0], 0xffff);
	}
	/* Detached: its owed pages stay pending, reported once more. */
	assert_int_equal(iommudirty_tracker_detach(f.t, f.dev[1]), 0);
	assert_int_equal(iommudirty_tracker_info(f.t, &info), 0);
	assert_int_equal(info.nr_devices, 1);
	assert_int_equal(info.nr_conservative, 0);
	assert_int_equal(info.precise, 1);
	assert_int_equal(iommudirty_tracker_read(f.t, 0, 64 * PG, PG, m, sizeof(m), 0), 0);
	assert_int_equal(m[0], 0xffff);
	assert_int_equal(fx_write(&f, 0, 5 * PG, 1), 0);
	assert_int_equal(iommudirty_tracker_read(f.t, 0, 64 * PG, PG, m, sizeof(m), 0), 0);
	assert_int_equal(m[0], 1ull << 5); /* precise again */
	fx_fini(&f);
}

static void test_unmap_dirty(void **state)
{
	struct fx *f = *state;
	uint8_t *mem = fx_mem(f, MiB, PG);
	uint64_t m[4];
	const uint64_t want[] = { 0, 31 };

	assert_int_equal(iommudirty_tracker_map(f->t, mem, 128 * KiB, 0, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_map(f->t, mem + 128 * KiB, 128 * KiB, 128 * KiB,
						IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_start(f->t), 0);
	assert_int_equal(fx_write(f, 0, 128 * KiB, 1), 0);
	assert_int_equal(fx_write(f, 0, 128 * KiB + 31 * PG, 1), 0);
	assert_int_equal(fx_write(f, 0, 0, 1), 0);
	assert_int_equal(iommudirty_tracker_unmap_dirty(f->t, 128 * KiB, 128 * KiB, PG, m,
							sizeof(m), 4), -EINVAL);
	/* Cutting a mapping: refused, nothing unmapped. */
	assert_int_equal(iommudirty_tracker_unmap_dirty(f->t, 128 * KiB, 64 * KiB, PG, m,
							sizeof(m), 0), -ENOENT);
	assert_int_equal(iommudirty_tracker_unmap_dirty(f->t, 128 * KiB, 128 * KiB, PG, m,
							sizeof(m), 0), 0);
	expect_bits(m, 32, want, 2);
	/* Gone: the device faults, the range reads clean, it can be mapped again. */
	assert_int_equal(fx_write(f, 0, 128 * KiB, 1), -EFAULT);
	assert_int_equal(iommudirty_tracker_unmap(f->t, 128 * KiB, 128 * KiB), -ENOENT);
	assert_int_equal(iommudirty_tracker_read(f->t, 0, 256 * KiB, PG, m, sizeof(m), 0), 0);
	{
		const uint64_t w[] = { 0 };
		expect_bits(m, 64, w, 1);
	}
	assert_int_equal(iommudirty_tracker_map(f->t, mem + 128 * KiB, 128 * KiB, 128 * KiB,
						IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_unmap(f->t, 0, 256 * KiB), 0);
	assert_int_equal(fx_write(f, 0, 0, 1), -EFAULT);
}

/* Huge IOPTEs: a clearing read of part of one must not lose the rest. */
static void huge_case(uint64_t max_io_page)
{
	struct fx f;
	uint8_t *mem;
	uint64_t m[8];
	const uint64_t base = 4 * MiB;
	IOMMUDIRTY_OPTS(iommudirty_tracker_opts, o, .max_io_page = max_io_page);

	assert_int_equal(fx_init(&f), 0);
	assert_int_equal(fx_add_iommu(&f, PG | 2 * MiB, 0), 0);
	assert_int_equal(fx_add_device(&f, 0), 0);
	assert_int_equal(iommudirty_tracker_new(f.ctx, &o, &f.t), 0);
	assert_int_equal(iommudirty_tracker_attach(f.t, f.dev[0]), 0);
	mem = fx_mem(&f, 4 * MiB, 2 * MiB);
	assert_int_equal(iommudirty_tracker_map(f.t, mem, 4 * MiB, base, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_start(f.t), 0);
	/* One 4 KiB write into the second 2 MiB IOPTE. */
	assert_int_equal(fx_write(&f, 0, base + 2 * MiB + 300 * PG, 1), 0);

	/* The first half of that IOPTE: reported (conservatively, all pages). */
	assert_int_equal(iommudirty_tracker_read(f.t, base + 2 * MiB, 256 * PG, PG, m,
						 sizeof(m), 0), 0);
	assert_int_equal(iommudirty_bitmap_count(m, 256), 256);
	/* The second half, where the write was: still reported. */
	assert_int_equal(iommudirty_tracker_read(f.t, base + 3 * MiB, 256 * PG, PG, m,
						 sizeof(m), 0), 0);
	assert_int_equal(iommudirty_bitmap_count(m, 256), 256);
	/* Reported once: clean now, also the first half and the other IOPTE. */
	assert_int_equal(iommudirty_tracker_read(f.t, base + 2 * MiB, 256 * PG, PG, m,
						 sizeof(m), 0), 0);
	assert_int_equal(iommudirty_bitmap_count(m, 256), 0);
	assert_int_equal(iommudirty_tracker_read(f.t, base + 3 * MiB, 256 * PG, PG, m,
						 sizeof(m), 0), 0);
	assert_int_equal(iommudirty_bitmap_count(m, 256), 0);

	/* Pending bits follow the rules: NO_CLEAR keeps them, unmap drops them. */
	assert_int_equal(fx_write(&f, 0, base + 2 * MiB, 1), 0);
	assert_int_equal(iommudirty_tracker_read(f.t, base + 3 * MiB, 256 * PG, PG, m,
						 sizeof(m), 0), 0);
	assert_int_equal(iommudirty_bitmap_count(m, 256), 256);
	assert_int_equal(iommudirty_tracker_read(f.t, base + 2 * MiB, 2 * MiB, 2 * MiB, m,
						 sizeof(m), IOMMUDIRTY_READ_NO_CLEAR), 0);
	assert_int_equal(m[0] & 1, 1);
	assert_int_equal(iommudirty_tracker_read(f.t, base + 2 * MiB, 2 * MiB, 2 * MiB, m,
						 sizeof(m), 0), 0);
	assert_int_equal(m[0] & 1, 1);
	assert_int_equal(iommudirty_tracker_read(f.t, base + 2 * MiB, 2 * MiB, 2 * MiB, m,
						 sizeof(m), 0), 0);
	assert_int_equal(m[0] & 1, 0);
	fx_fini(&f);
}

/* The 6.12 drivers record a dirty IOPTE's whole size from where a read
 * enters it, past the end of the bitmap: the library must never let a
 * kernel read start or end inside one, so nothing past the caller's bitmap
 * is touched. */
static void test_huge_iopte_no_overrun(void **state)
{
	struct fx f;
	uint8_t *mem;
	uint64_t buf[8];
	const uint64_t guard = 0x5a5a5a5a5a5a5a5aull, base = 4 * MiB;

	assert_int_equal(fx_init(&f), 0);
	assert_int_equal(fx_add_iommu(&f, PG | 2 * MiB, 0), 0);
	assert_int_equal(fx_add_device(&f, 0), 0);
	assert_int_equal(fx_tracker(&f), 0);
	assert_int_equal(iommudirty_tracker_attach(f.t, f.dev[0]), 0);
	mem = fx_mem(&f, 2 * MiB, 2 * MiB);
	assert_int_equal(iommudirty_tracker_map(f.t, mem, 2 * MiB, base, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_start(f.t), 0);
	assert_int_equal(fx_write(&f, 0, base + PG, 1), 0);
	for (unsigned int flags = IOMMUDIRTY_READ_NO_CLEAR;; flags = 0) {
		for (int i = 0; i < 8; i++)
			buf[i] = guard;
		/* 16 pages from the middle of the 2 MiB IOPTE: one word. */
		assert_int_equal(iommudirty_tracker_read(f.t, base + MiB, 16 * PG, PG, &buf[1],
							 8, flags), 0);
		assert_int_equal(buf[0], guard);
		assert_int_equal(buf[1], 0xffff); /* the range, nothing past it */
		for (int i = 2; i < 8; i++)
			assert_int_equal(buf[i], guard);
		if (!flags)
			break;
	}
	fx_fini(&f);
}

static void test_huge_iopte_partial_clear(void **state)
{
	huge_case(0);        /* default window, 1 GiB */
	huge_case(2 * MiB);  /* exactly the IOPTE size */
}

static void test_bad_input(void **state)
{
	struct fx *f = *state;
	uint8_t *mem = fx_mem(f, MiB, PG);
	uint64_t m[4];
	struct iommudirty_tracker *t2;

	assert_int_equal(iommudirty_tracker_map(f->t, mem, MiB, 0, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_start(f->t), 0);
#define RD(t, iova, len, ps, bm, sz, fl) iommudirty_tracker_read(t, iova, len, ps, bm, sz, fl)
	assert_int_equal(RD(NULL, 0, MiB, PG, m, sizeof(m), 0), -EINVAL);
	assert_int_equal(RD(f->t, 0, MiB, PG, NULL, sizeof(m), 0), -EINVAL);
	assert_int_equal(RD(f->t, 0, 0, PG, m, sizeof(m), 0), -EINVAL);
	assert_int_equal(RD(f->t, 0, MiB, 3 * KiB, m, sizeof(m), 0), -EINVAL);
	assert_int_equal(RD(f->t, 0, MiB, 0, m, sizeof(m), 0), -EINVAL);
	assert_int_equal(RD(f->t, PG / 2, MiB, PG / 2, m, sizeof(m) * 2, 0), -EINVAL);
	assert_int_equal(RD(f->t, PG, MiB, 8 * KiB, m, sizeof(m), 0), -EINVAL);
	assert_int_equal(RD(f->t, UINT64_MAX - PG + 1, 2 * PG, PG, m, sizeof(m), 0), -EOVERFLOW);
	assert_int_equal(errno, EOVERFLOW);
	assert_int_equal(RD(f->t, 0, MiB, PG, m, sizeof(m) - 1, 0), -ERANGE);
	assert_int_equal(errno, ERANGE);
	assert_int_equal(RD(f->t, 0, MiB, PG, m, sizeof(m), 2), -EINVAL);
	assert_int_equal(dirty_reads(f), 0); /* none reached the kernel */

	assert_int_equal(iommudirty_tracker_map(NULL, mem, PG, 2 * MiB, IOMMUDIRTY_MAP_WRITE), -EINVAL);
	assert_int_equal(iommudirty_tracker_map(f->t, NULL, PG, 2 * MiB, IOMMUDIRTY_MAP_WRITE), -EINVAL);
	assert_int_equal(iommudirty_tracker_map(f->t, mem, PG, 2 * MiB, 0), -EINVAL);
	assert_int_equal(iommudirty_tracker_map(f->t, mem, PG, 2 * MiB, 4), -EINVAL);
	assert_int_equal(iommudirty_tracker_map(f->t, mem, 0, 2 * MiB, IOMMUDIRTY_MAP_WRITE), -EINVAL);
	assert_int_equal(iommudirty_tracker_map(f->t, mem, PG, 2 * MiB + 1, IOMMUDIRTY_MAP_WRITE), -EINVAL);
	assert_int_equal(iommudirty_tracker_map(f->t, mem, 2 * PG, UINT64_MAX - PG + 1,
						IOMMUDIRTY_MAP_WRITE), -EOVERFLOW);
	assert_int_equal(iommudirty_tracker_map(f->t, mem, PG, MiB - PG, IOMMUDIRTY_MAP_WRITE), -EEXIST);
	assert_int_equal(iommudirty_tracker_unmap(f->t, 2 * MiB, PG), -ENOENT);
	assert_int_equal(iommudirty_tracker_unmap(f->t, 0, 0), -EINVAL);
	assert_int_equal(iommudirty_tracker_unmap(f->t, 0, PG), -ENOENT);
	assert_int_equal(iommudirty_tracker_unmap_dirty(f->t, 0, MiB, PG, m, sizeof(m), 8), -EINVAL);

	IOMMUDIRTY_OPTS(iommudirty_tracker_opts, bad_flags, .flags = 32);
	const struct iommudirty_iova_range w_unaligned[] = { { 0x1000, 0x17ff } };
	const struct iommudirty_iova_range w_backwards[] = { { 0x2000, 0xfff } };
	const struct iommudirty_iova_range w_top[] = { { 0xfffffffffffff000ull, UINT64_MAX } };
	const uint32_t bad_src[] = { 5 };
	const char *const one_bdf[] = { "0000:00:01.0" };
	IOMMUDIRTY_OPTS(iommudirty_tracker_opts, bad_policy, .policy = 3);
	IOMMUDIRTY_OPTS(iommudirty_tracker_opts, bad_win_null, .nr_log_windows = 1);
	IOMMUDIRTY_OPTS(iommudirty_tracker_opts, bad_win1, .nr_log_windows = 1,
			.log_windows = w_unaligned);
	IOMMUDIRTY_OPTS(iommudirty_tracker_opts, bad_win2, .nr_log_windows = 1,
			.log_windows = w_backwards);
	IOMMUDIRTY_OPTS(iommudirty_tracker_opts, bad_win3, .nr_log_windows = 1,
			.log_windows = w_top);
	IOMMUDIRTY_OPTS(iommudirty_tracker_opts, bad_srcs, .nr_pci_devices = 1,
			.pci_devices = one_bdf, .pci_sources = bad_src);
	IOMMUDIRTY_OPTS(iommudirty_attach_opts, bad_att_flags, .flags = 2);
	IOMMUDIRTY_OPTS(iommudirty_attach_opts, bad_att_src, .source = 5);
	struct iommudirty_attach_opts bad_att_sz = { .sz = 4 };
	IOMMUDIRTY_OPTS(iommudirty_source_info, si);

	assert_int_equal(iommudirty_tracker_new(f->ctx, &bad_policy, &t2), -EINVAL);
	assert_int_equal(iommudirty_tracker_new(f->ctx, &bad_win_null, &t2), -EINVAL);
	assert_int_equal(iommudirty_tracker_new(f->ctx, &bad_win1, &t2), -EINVAL);
	assert_int_equal(iommudirty_tracker_new(f->ctx, &bad_win2, &t2), -EINVAL);
	assert_int_equal(iommudirty_tracker_new(f->ctx, &bad_win3, &t2), -EINVAL);
	assert_int_equal(iommudirty_tracker_new(f->ctx, &bad_srcs, &t2), -EINVAL);
	assert_int_equal(iommudirty_tracker_attach_device(f->t, f->dev[0], &bad_att_flags), -EINVAL);
	assert_int_equal(iommudirty_tracker_attach_device(f->t, f->dev[0], &bad_att_src), -EINVAL);
	assert_int_equal(iommudirty_tracker_attach_device(f->t, f->dev[0], &bad_att_sz), -EINVAL);
	assert_int_equal(iommudirty_tracker_attach_device(NULL, f->dev[0], NULL), -EINVAL);
	assert_int_equal(iommudirty_tracker_attach_device(f->t, NULL, NULL), -EINVAL);
	assert_int_equal(iommudirty_tracker_source_info(NULL, 0, &si), -EINVAL);
	assert_int_equal(iommudirty_tracker_source_info(f->t, 0, NULL), -EINVAL);
	si.sz = 4;
	assert_int_equal(iommudirty_tracker_source_info(f->t, 0, &si), -EINVAL);
	si.sz = sizeof(si);
	assert_int_equal(iommudirty_tracker_source_info(f->t, 99, &si), -ENOENT);
	assert_string_equal(iommudirty_source_str(IOMMUDIRTY_SOURCE_DEVICE_LOG), "device-log");
	assert_string_equal(iommudirty_source_str(99), "unknown");
	IOMMUDIRTY_OPTS(iommudirty_tracker_opts, bad_fd, .flags = IOMMUDIRTY_TRACKER_ADOPT_CONTAINER,
			.type1_container_fd = -1);
	IOMMUDIRTY_OPTS(iommudirty_tracker_opts, bad_mix, .flags = IOMMUDIRTY_TRACKER_ADOPT_CONTAINER,
			.backend = IOMMUDIRTY_BACKEND_IOMMUFD);
	IOMMUDIRTY_OPTS(iommudirty_tracker_opts, bad_mix2, .flags = IOMMUDIRTY_TRACKER_ADOPT_IOAS,
			.backend = IOMMUDIRTY_BACKEND_TYPE1);
	IOMMUDIRTY_OPTS(iommudirty_tracker_opts, bad_backend, .backend = 3);
	IOMMUDIRTY_OPTS(iommudirty_tracker_opts, bad_pci, .nr_pci_devices = 1);
	IOMMUDIRTY_OPTS(iommudirty_tracker_opts, bad_res2, .__reserved2 = 1);
	IOMMUDIRTY_OPTS(iommudirty_tracker_opts, bad_res, .__reserved = 1);
	IOMMUDIRTY_OPTS(iommudirty_tracker_opts, bad_page, .max_io_page = 3 * MiB);
	struct {
		struct iommudirty_tracker_opts o;
		uint64_t future;
	} bigger = { .o = { .sz = sizeof(bigger) }, .future = 1 };
	assert_int_equal(iommudirty_tracker_new(f->ctx, &bad_flags, &t2), -EINVAL);
	assert_int_equal(iommudirty_tracker_new(f->ctx, &bad_fd, &t2), -EINVAL);
	assert_int_equal(iommudirty_tracker_new(f->ctx, &bad_mix, &t2), -EINVAL);
	assert_int_equal(iommudirty_tracker_new(f->ctx, &bad_mix2, &t2), -EINVAL);
	assert_int_equal(iommudirty_tracker_new(f->ctx, &bad_backend, &t2), -EINVAL);
	assert_int_equal(iommudirty_tracker_new(f->ctx, &bad_pci, &t2), -EINVAL);
	assert_int_equal(iommudirty_tracker_new(f->ctx, &bad_res2, &t2), -EINVAL);
	assert_int_equal(iommudirty_tracker_new(f->ctx, &bad_res, &t2), -EINVAL);
	assert_int_equal(iommudirty_tracker_new(f->ctx, &bad_page, &t2), -EINVAL);
	assert_int_equal(iommudirty_tracker_new(f->ctx, &bigger.o, &t2), -EINVAL);
	bigger.future = 0; /* a newer caller's zeroed extra fields are fine */
	assert_int_equal(iommudirty_tracker_new(f->ctx, &bigger.o, &t2), 0);
	iommudirty_tracker_free(t2);
	assert_int_equal(iommudirty_tracker_new(NULL, NULL, &t2), -EINVAL);
	assert_int_equal(iommudirty_tracker_start(NULL), -EINVAL);
	assert_int_equal(iommudirty_tracker_stop(NULL), -EINVAL);
	assert_int_equal(iommudirty_tracker_attach(f->t, NULL), -EINVAL);
	assert_int_equal(iommudirty_tracker_adopt_hwpt(f->t, 1, 2), -EINVAL);
	assert_int_equal(iommudirty_device_bind(f->ctx, -1, &f->dev[3]), -EINVAL);
	assert_int_equal(iommudirty_device_dirty_capable(NULL), -EINVAL);
	assert_int_equal(iommudirty_ctx_fd(NULL), -EINVAL);
	assert_null(iommudirty_ctx_new(&(struct iommudirty_ctx_opts){ .sz = 1 }));
	assert_int_equal(errno, EINVAL);
	{
		IOMMUDIRTY_OPTS(iommudirty_ctx_opts, o, .flags = IOMMUDIRTY_CTX_ADOPT_FD, .iommufd = -1);
		assert_null(iommudirty_ctx_new(&o));
		assert_int_equal(errno, EINVAL);
	}
	{
		IOMMUDIRTY_OPTS(iommudirty_ctx_opts, o, .path = "/nonexistent/iommu");
		assert_null(iommudirty_ctx_new(&o));
		assert_int_equal(errno, ENOENT);
	}
	{
		/* The sim's own node lookup too. */
		IOMMUDIRTY_OPTS(iommudirty_ctx_opts, o, .sim = f->sim, .path = "/dev/nothing");
		assert_null(iommudirty_ctx_new(&o));
		assert_int_equal(errno, ENOENT);
	}
}

static void test_iova_ranges(void **state)
{
	struct fx *f = *state;
	struct iommudirty_iova_range r[4];
	uint64_t align = 0;
	int n;

	n = iommudirty_tracker_iova_ranges(f->t, r, 4, &align);
	assert_true(n >= 1);
	assert_int_equal(align, PG);
	assert_int_equal(iommudirty_tracker_iova_ranges(f->t, NULL, 0, NULL), n);
	assert_int_equal(iommudirty_tracker_iova_ranges(f->t, NULL, 1, NULL), -EINVAL);
	assert_true(r[0].start <= r[0].last);
}

/* The VMM owns the iommufd, IOAS, HWPT and binding; the library adopts. */
static void test_adopt_everything(void **state)
{
	struct iommudirty_sim *sim = iommudirty_sim_new(NULL);
	struct iommudirty_sim_stats st = { .sz = sizeof(st) };
	struct iommudirty_ctx *ctx;
	struct iommudirty_device *dev;
	struct iommudirty_tracker *t;
	struct fx mf = { 0 };
	uint8_t *mem = fx_mem(&mf, MiB, PG);
	uint64_t m[4];
	int iommu, sdev, ifd, dfd;
	const uint64_t want[] = { 7, 8 };

	assert_non_null(sim);
	iommu = iommudirty_sim_add_iommu(sim, NULL);
	assert_true(iommu >= 0);
	sdev = iommudirty_sim_add_device(sim, iommu);
	ifd = iommudirty_sim_open_iommufd(sim);
	dfd = iommudirty_sim_open_device(sim, sdev);
	assert_true(ifd >= 0 && dfd >= 0);

	/* The VMM's own raw calls. */
	struct uapi_ioas_alloc ia = { .size = sizeof(ia) };
	assert_int_equal(iommudirty_sim_ioctl(sim, ifd, IOMMU_IOAS_ALLOC, &ia), 0);
	struct uapi_vfio_bind_iommufd b = { .argsz = sizeof(b), .iommufd = ifd };
	assert_int_equal(iommudirty_sim_ioctl(sim, dfd, VFIO_DEVICE_BIND_IOMMUFD, &b), 0);
	struct uapi_hwpt_alloc ha = { .size = sizeof(ha), .flags = UAPI_HWPT_ALLOC_DIRTY_TRACKING,
				      .dev_id = b.out_devid, .pt_id = ia.out_ioas_id };
	assert_int_equal(iommudirty_sim_ioctl(sim, ifd, IOMMU_HWPT_ALLOC, &ha), 0);
	struct uapi_vfio_attach_pt at = { .argsz = sizeof(at), .pt_id = ha.out_hwpt_id };
	assert_int_equal(iommudirty_sim_ioctl(sim, dfd, VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at), 0);
	struct uapi_ioas_map mp = { .size = sizeof(mp), .ioas_id = ia.out_ioas_id,
				    .flags = UAPI_IOAS_MAP_FIXED_IOVA | UAPI_IOAS_MAP_WRITEABLE |
					     UAPI_IOAS_MAP_READABLE,
				    .user_va = (uintptr_t)mem, .length = MiB, .iova = 0 };
	assert_int_equal(iommudirty_sim_ioctl(sim, ifd, IOMMU_IOAS_MAP, &mp), 0);
	/* The VMM already tracks, and the device already wrote. */
	struct uapi_hwpt_set_dirty_tracking en = { .size = sizeof(en), .hwpt_id = ha.out_hwpt_id,
						   .flags = UAPI_HWPT_DIRTY_TRACKING_ENABLE };
	assert_int_equal(iommudirty_sim_ioctl(sim, ifd, IOMMU_HWPT_SET_DIRTY_TRACKING, &en), 0);
	assert_int_equal(iommudirty_sim_dma_write(sim, sdev, 7 * PG, 1, NULL), 0);

	IOMMUDIRTY_OPTS(iommudirty_ctx_opts, co, .sim = sim, .flags = IOMMUDIRTY_CTX_ADOPT_FD,
			.iommufd = ifd);
	ctx = iommudirty_ctx_new(&co);
	assert_non_null(ctx);
	assert_int_equal(iommudirty_ctx_fd(ctx), ifd);
	assert_int_equal(iommudirty_device_adopt(ctx, dfd, b.out_devid, &dev), 0);
	assert_int_equal(iommudirty_device_dirty_capable(dev), 1);
	IOMMUDIRTY_OPTS(iommudirty_tracker_opts, to, .flags = IOMMUDIRTY_TRACKER_ADOPT_IOAS,
			.ioas_id = ia.out_ioas_id);
	assert_int_equal(iommudirty_tracker_new(ctx, &to, &t), 0);
	assert_int_equal(iommudirty_tracker_ioas_id(t), ia.out_ioas_id);
	assert_int_equal(iommudirty_tracker_adopt_mapping(t, 0, MiB), 0);
	assert_int_equal(iommudirty_tracker_adopt_mapping(t, 0, PG), -EEXIST);
	assert_int_equal(iommudirty_tracker_adopt_hwpt(t, ha.out_hwpt_id,
						       IOMMUDIRTY_HWPT_TRACKING_ON), 0);
	assert_int_equal(iommudirty_tracker_adopt_hwpt(t, ha.out_hwpt_id, 0), -EEXIST);
	/* Start must not send ENABLE to the VMM's tracking HWPT: bit 7 stays. */
	assert_int_equal(iommudirty_tracker_start(t), 0);
	assert_int_equal(iommudirty_sim_dma_write(sim, sdev, 8 * PG, 1, NULL), 0);
	assert_int_equal(iommudirty_tracker_read(t, 0, MiB, PG, m, sizeof(m), 0), 0);
	expect_bits(m, 256, want, 2);
	/* A device the VMM attached: the library cannot attach one with no fd. */
	{
		struct iommudirty_device *nofd;

		assert_int_equal(iommudirty_device_adopt(ctx, -1, b.out_devid, &nofd), 0);
		assert_int_equal(iommudirty_tracker_attach(t, nofd), -EBADF);
		iommudirty_device_free(nofd);
	}
	assert_int_equal(iommudirty_device_adopt(ctx, -1, 999, &dev), -ENOENT);

	iommudirty_tracker_free(t);
	iommudirty_device_free(dev);
	iommudirty_ctx_free(ctx);
	/* The VMM's objects and fds are intact: IOAS, HWPT, device object. */
	assert_int_equal(iommudirty_sim_get_stats(sim, &st), 0);
	assert_int_equal(st.objects, 3);
	assert_int_equal(st.open_fds, 2);
	assert_int_equal(iommudirty_sim_dma_write(sim, sdev, 9 * PG, 1, NULL), 0);
	assert_int_equal(iommudirty_sim_close(sim, dfd), 0);
	assert_int_equal(iommudirty_sim_close(sim, ifd), 0);
	assert_int_equal(iommudirty_sim_close(sim, ifd), -EBADF);
	iommudirty_sim_get_stats(sim, &st);
	assert_int_equal(st.objects, 0);
	assert_int_equal(st.open_fds, 0);
	iommudirty_sim_free(sim);
	if (mf.mem)
		munmap(mf.mem, mf.memlen);
}

/* The VMM attaches its device itself to a HWPT the library allocated. */
static void test_alloc_hwpt_for_vmm(void **state)
{
	struct fx f;
	uint8_t *mem;
	uint32_t hwpt = 0, ids[2];
	uint64_t m[4];
	const uint64_t want[] = { 4 };

	assert_int_equal(fx_init(&f), 0);
	assert_int_equal(fx_add_iommu(&f, 0, 0), 0);
	assert_int_equal(fx_add_device(&f, 0), 0);
	assert_int_equal(fx_tracker(&f), 0);
	assert_int_equal(iommudirty_tracker_alloc_hwpt(f.t, f.dev[0], &hwpt), 0);
	assert_int_equal(iommudirty_tracker_hwpt_ids(f.t, ids, 2), 1);
	assert_int_equal(ids[0], hwpt);
	struct uapi_vfio_attach_pt at = { .argsz = sizeof(at), .pt_id = hwpt };
	assert_int_equal(iommudirty_sim_ioctl(f.sim, f.fd[0], VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at), 0);
	mem = fx_mem(&f, MiB, PG);
	assert_int_equal(iommudirty_tracker_map(f.t, mem, MiB, 0, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_start(f.t), 0);
	assert_int_equal(fx_write(&f, 0, 4 * PG, 1), 0);
	assert_int_equal(iommudirty_tracker_read(f.t, 0, MiB, PG, m, sizeof(m), 0), 0);
	expect_bits(m, 256, want, 1);
	/* The VMM detaches before the tracker goes. */
	struct uapi_vfio_detach_pt dt = { .argsz = sizeof(dt) };
	assert_int_equal(iommudirty_sim_ioctl(f.sim, f.fd[0], VFIO_DEVICE_DETACH_IOMMUFD_PT, &dt), 0);
	fx_fini(&f);
}

/* Large ranges, sparse and dense, against a reference. */
static void big_case(double density, uint64_t seed)
{
	struct fx f;
	const uint64_t span = GiB, nmaps = 16, msz = span / nmaps;
	const uint64_t npages = span / PG;
	uint64_t *ref = calloc(npages / 64, 8), *m = calloc(npages / 64, 8);
	uint8_t *mem;

	assert_int_equal(fx_init(&f), 0);
	assert_int_equal(fx_add_iommu(&f, PG | 2 * MiB, 0), 0);
	assert_int_equal(fx_add_device(&f, 0), 0);
	assert_int_equal(fx_tracker(&f), 0);
	assert_int_equal(iommudirty_tracker_attach(f.t, f.dev[0]), 0);
	/* VA = IOVA + 4 KiB (mod 2 MiB): only 4 KiB IOPTEs, exact bits. */
	mem = fx_mem(&f, span, 2 * MiB);
	/* Every 5th mapping left out: holes. */
	for (uint64_t i = 0; i < nmaps; i++)
		if (i % 5 != 4)
			assert_int_equal(iommudirty_tracker_map(f.t, mem + PG + i * msz,
								msz - PG, i * msz, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_start(f.t), 0);
	srandom((unsigned)seed);
	for (uint64_t p = 0; p < npages; p++) {
		uint64_t off = (p * PG) % msz, i = (p * PG) / msz;

		if (i % 5 == 4 || off >= msz - PG)
			continue;
		if ((double)random() / RAND_MAX >= density)
			continue;
		assert_int_equal(fx_write(&f, 0, p * PG, PG), 0);
		fx_set_bit(ref, p);
	}
	assert_int_equal(iommudirty_tracker_read(f.t, 0, span, PG, m, npages / 8, 0), 0);
	assert_memory_equal(m, ref, npages / 8);
	assert_int_equal(iommudirty_tracker_read(f.t, 0, span, PG, m, npages / 8, 0), 0);
	assert_int_equal(iommudirty_bitmap_count(m, npages), 0);
	free(ref);
	free(m);
	fx_fini(&f);
}

static void test_sparse_and_dense_1g(void **state)
{
	big_case(0.001, 1);
	big_case(0.5, 2);
}

/* Readers of disjoint ranges in parallel with device writers: every
 * written page is reported at least once, and nothing else. */
#define CONC_PAGES 4096
#define CONC_READERS 4
struct conc {
	struct fx *f;
	uint8_t written[CONC_PAGES];
	uint8_t seen[CONC_PAGES];
	atomic_bool stop;
	int id;
};

static void *conc_writer(void *arg)
{
	struct conc *c = arg;
	unsigned int seed = 7;

	for (int n = 0; n < 20000; n++) {
		uint64_t p = (uint64_t)rand_r(&seed) % CONC_PAGES;

		/* Before the write: never reported unwritten. */
		__atomic_store_n(&c->written[p], 1, __ATOMIC_SEQ_CST);
		assert_int_equal(fx_write(c->f, 0, p * PG, 8), 0);
	}
	atomic_store(&c->stop, true);
	return NULL;
}

struct reader_arg {
	struct conc *c;
	int idx;
};

static void read_slice(struct conc *c, int idx)
{
	const uint64_t per = CONC_PAGES / CONC_READERS;
	uint64_t m[CONC_PAGES / CONC_READERS / 64];

	assert_int_equal(iommudirty_tracker_read(c->f->t, idx * per * PG, per * PG, PG, m,
						 sizeof(m), 0), 0);
	for (uint64_t i = 0; i < per; i++) {
		if (!fx_test_bit(m, i))
			continue;
		if (!__atomic_load_n(&c->written[idx * per + i], __ATOMIC_SEQ_CST))
			fail_msg("page %llu reported but never written",
				 (unsigned long long)(idx * per + i));
		c->seen[idx * per + i] = 1;
	}
}

static void *conc_reader(void *arg)
{
	struct reader_arg *ra = arg;

	while (!atomic_load(&ra->c->stop))
		read_slice(ra->c, ra->idx);
	return NULL;
}

static void test_concurrent_reads_and_writes(void **state)
{
	struct fx *f = *state;
	static struct conc c;
	struct reader_arg ra[CONC_READERS];
	pthread_t w, r[CONC_READERS];
	uint8_t *mem = fx_mem(f, CONC_PAGES * PG, PG);

	memset(&c, 0, sizeof(c));
	c.f = f;
	/* Mappings of varied sizes so reads cross several runs. */
	assert_int_equal(iommudirty_tracker_map(f->t, mem, 1000 * PG, 0, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_map(f->t, mem + 1000 * PG, (CONC_PAGES - 1000) * PG,
						1000 * PG, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_start(f->t), 0);
	for (int i = 0; i < CONC_READERS; i++) {
		ra[i] = (struct reader_arg){ &c, i };
		assert_int_equal(pthread_create(&r[i], NULL, conc_reader, &ra[i]), 0);
	}
	assert_int_equal(pthread_create(&w, NULL, conc_writer, &c), 0);
	pthread_join(w, NULL);
	for (int i = 0; i < CONC_READERS; i++)
		pthread_join(r[i], NULL);
	for (int i = 0; i < CONC_READERS; i++)
		read_slice(&c, i);
	for (int p = 0; p < CONC_PAGES; p++)
		if (c.written[p] != c.seen[p])
			fail_msg("page %d written %d seen %d", p, c.written[p], c.seen[p]);
}

static int nlogs;
static void count_log(enum iommudirty_log_level level, const char *msg, void *user)
{
	(void)level;
	assert_non_null(msg);
	assert_ptr_equal(user, &nlogs);
	nlogs++;
}

static void test_log_callback(void **state)
{
	struct fx *f = *state;

	nlogs = 0;
	assert_int_equal(iommudirty_set_log_fn(f->ctx, count_log, &nlogs, 8), -EINVAL);
	assert_int_equal(iommudirty_set_log_fn(f->ctx, count_log, &nlogs, IOMMUDIRTY_LOG_ERR), 0);
	assert_int_equal(iommudirty_sim_fail_call(f->sim, 1, -ENOMEM), 0);
	assert_int_equal(iommudirty_tracker_start(f->t), -ENOMEM);
	assert_true(nlogs > 0);
	assert_int_equal(iommudirty_set_log_fn(f->ctx, NULL, NULL, 0), 0);
	assert_int_equal(iommudirty_sim_fail_call(f->sim, 1, -ENOMEM), 0);
	nlogs = 0;
	assert_int_equal(iommudirty_tracker_start(f->t), -ENOMEM);
	assert_int_equal(nlogs, 0);
	assert_string_equal(iommudirty_version(), "0.2.0");
	assert_true(IOMMUDIRTY_CHECK_VERSION(0, 1));
	assert_false(IOMMUDIRTY_CHECK_VERSION(1, 0));
}

/* A failed start must not turn off a HWPT it found already tracking (the
 * retry would ENABLE it and wipe its bits). */
static void test_failed_start_keeps_adopted_tracking(void **state)
{
	struct fx f;
	uint8_t *mem;
	uint64_t m[8];
	struct uapi_hwpt_alloc ha = { .size = sizeof(ha),
				      .flags = UAPI_HWPT_ALLOC_DIRTY_TRACKING };

	assert_int_equal(fx_init(&f), 0);
	assert_int_equal(fx_add_iommu(&f, 0, 0), 0);
	assert_int_equal(fx_add_iommu(&f, 0, 0), 1);
	assert_int_equal(fx_add_device(&f, 0), 0);
	assert_int_equal(fx_add_device(&f, 1), 1);
	assert_int_equal(fx_tracker(&f), 0);
	/* The VMM's HWPT, already tracking, with its device on it. */
	ha.dev_id = iommudirty_device_id(f.dev[0]);
	ha.pt_id = iommudirty_tracker_ioas_id(f.t);
	assert_int_equal(iommudirty_sim_ioctl(f.sim, iommudirty_ctx_fd(f.ctx), IOMMU_HWPT_ALLOC,
					      &ha), 0);
	{
		struct uapi_hwpt_set_dirty_tracking en = {
			.size = sizeof(en), .hwpt_id = ha.out_hwpt_id,
			.flags = UAPI_HWPT_DIRTY_TRACKING_ENABLE };
		struct uapi_vfio_attach_pt at = { .argsz = sizeof(at), .pt_id = ha.out_hwpt_id };

		assert_int_equal(iommudirty_sim_ioctl(f.sim, iommudirty_ctx_fd(f.ctx),
						      IOMMU_HWPT_SET_DIRTY_TRACKING, &en), 0);
		assert_int_equal(iommudirty_sim_ioctl(f.sim, f.fd[0],
						      VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at), 0);
	}
	assert_int_equal(iommudirty_tracker_adopt_hwpt(f.t, ha.out_hwpt_id,
						       IOMMUDIRTY_HWPT_TRACKING_ON), 0);
	assert_int_equal(iommudirty_tracker_attach(f.t, f.dev[1]), 0);
	mem = fx_mem(&f, MiB, PG);
	assert_int_equal(iommudirty_tracker_map(f.t, mem, MiB, 0, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(fx_write(&f, 0, 5 * PG, 1), 0);
	/* The only ENABLE start sends (the library's own HWPT) fails. */
	assert_int_equal(iommudirty_sim_fail_call(f.sim, 1, -EIO), 0);
	assert_int_equal(iommudirty_tracker_start(f.t), -EIO);
	assert_int_equal(iommudirty_tracker_start(f.t), 0);
	assert_int_equal(iommudirty_tracker_read(f.t, 0, MiB, PG, m, sizeof(m), 0), 0);
	assert_int_equal(m[0], 1ull << 5);
	{
		struct uapi_vfio_detach_pt dt = { .argsz = sizeof(dt) };
		struct uapi_destroy d = { .size = sizeof(d), .id = ha.out_hwpt_id };

		assert_int_equal(iommudirty_sim_ioctl(f.sim, f.fd[0],
						      VFIO_DEVICE_DETACH_IOMMUFD_PT, &dt), 0);
		assert_int_equal(iommudirty_sim_ioctl(f.sim, iommudirty_ctx_fd(f.ctx),
						      IOMMU_DESTROY, &d), 0);
	}
	fx_fini(&f);
}

/* Device ids are per iommufd: a device of another context is refused. */
static void test_detach_device_of_another_context(void **state)
{
	struct fx *f = *state;
	struct fx g;

	assert_int_equal(fx_init(&g), 0);
	assert_int_equal(fx_add_iommu(&g, 0, 0), 0);
	assert_int_equal(fx_add_device(&g, 0), 0);
	assert_int_equal(iommudirty_device_id(g.dev[0]), iommudirty_device_id(f->dev[0]));
	assert_int_equal(iommudirty_tracker_detach(f->t, g.dev[0]), -EINVAL);
	assert_int_equal(fx_write(f, 0, 0, 1), -EFAULT); /* still attached: unmapped */
	fx_fini(&g);
}

/* Two clearing reads of disjoint ranges in one mapping, at once: A's read
 * is widened over B's page and clears it in the kernel. B must still
 * report it (A hands it over as pending before B looks), in every order. */
struct two_readers {
	struct fx *f;
	pthread_t a;
	pthread_mutex_t mu;
	pthread_cond_t cv;
	int a_gets, b_gets;
	bool b_go;
	uint64_t b_bits;
	int b_ret;
};

static void *reader_b(void *arg)
{
	struct two_readers *tr = arg;

	pthread_mutex_lock(&tr->mu);
	while (!tr->b_go)
		pthread_cond_wait(&tr->cv, &tr->mu);
	pthread_mutex_unlock(&tr->mu);
	tr->b_ret = iommudirty_tracker_read(tr->f->t, PG, PG, PG, &tr->b_bits, 8, 0);
	return NULL;
}

static void pause_a(void *user, int fd, unsigned long request)
{
	struct two_readers *tr = user;
	struct timespec until;

	(void)fd;
	if (request != IOMMU_HWPT_GET_DIRTY_BITMAP)
		return;
	pthread_mutex_lock(&tr->mu);
	if (!pthread_equal(pthread_self(), tr->a)) {
		tr->b_gets++;
		pthread_cond_broadcast(&tr->cv);
	} else if (++tr->a_gets == 2) {
		/* A cleared the first HWPT, B's page included: let B run its
		 * kernel reads now (if it can: the fix makes it wait). */
		tr->b_go = true;
		pthread_cond_broadcast(&tr->cv);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_nsec += 200 * 1000 * 1000;
		if (until.tv_nsec >= 1000000000) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000;
		}
		while (tr->b_gets < 2 &&
		       pthread_cond_timedwait(&tr->cv, &tr->mu, &until) == 0)
			;
	}
	pthread_mutex_unlock(&tr->mu);
}

static void test_concurrent_widened_reads(void **state)
{
	struct fx f;
	struct two_readers tr = { .f = &f };
	pthread_t b;
	uint64_t a_bits;
	uint8_t *mem;

	pthread_mutex_init(&tr.mu, NULL);
	pthread_cond_init(&tr.cv, NULL);
	assert_int_equal(fx_init(&f), 0);
	assert_int_equal(fx_add_iommu(&f, 0, 0), 0);
	assert_int_equal(fx_add_iommu(&f, 0, 0), 1);
	assert_int_equal(fx_add_device(&f, 0), 0);
	assert_int_equal(fx_add_device(&f, 1), 1);
	assert_int_equal(fx_tracker(&f), 0);
	assert_int_equal(iommudirty_tracker_attach(f.t, f.dev[0]), 0);
	assert_int_equal(iommudirty_tracker_attach(f.t, f.dev[1]), 0);
	mem = fx_mem(&f, 2 * MiB, PG);
	assert_int_equal(iommudirty_tracker_map(f.t, mem, 2 * MiB, 0, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_start(f.t), 0);
	assert_int_equal(fx_write(&f, 0, PG, 1), 0); /* B's page */
	tr.a = pthread_self();
	assert_int_equal(pthread_create(&b, NULL, reader_b, &tr), 0);
	assert_int_equal(iommudirty_sim_set_hook(f.sim, pause_a, &tr), 0);
	assert_int_equal(iommudirty_tracker_read(f.t, 0, PG, PG, &a_bits, 8, 0), 0);
	pthread_join(b, NULL);
	iommudirty_sim_set_hook(f.sim, NULL, NULL);
	assert_int_equal(a_bits, 0);
	assert_int_equal(tr.b_ret, 0);
	assert_int_equal(tr.b_bits, 1); /* B's page, reported by B's read */
	pthread_mutex_destroy(&tr.mu);
	pthread_cond_destroy(&tr.cv);
	fx_fini(&f);
}

/* A range must end below 2^64: exclusive ends do not wrap. */
static void test_range_at_the_top(void **state)
{
	struct fx *f = *state;
	uint8_t *mem = fx_mem(f, 2 * MiB, PG);
	uint64_t m[8];
	const uint64_t top = 0 - 2 * MiB;

	assert_int_equal(iommudirty_tracker_map(f->t, mem, 2 * MiB, top, IOMMUDIRTY_MAP_WRITE),
			 -EOVERFLOW);
	assert_int_equal(iommudirty_tracker_map(f->t, mem, MiB, top, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_start(f->t), 0);
	assert_int_equal(fx_write(f, 0, top + PG, 1), 0);
	assert_int_equal(iommudirty_tracker_read(f->t, top, 2 * MiB, PG, m, sizeof(m), 0),
			 -EOVERFLOW);
	assert_int_equal(iommudirty_tracker_read(f->t, top, MiB, PG, m, sizeof(m), 0), 0);
	assert_int_equal(m[0], 2);
	assert_int_equal(iommudirty_tracker_unmap(f->t, top, MiB), 0);
}

/* Pending bits do not pile up when the same widened read repeats. */
static void test_pending_stays_bounded(void **state)
{
	struct fx *f = *state;
	uint8_t *mem = fx_mem(f, MiB, PG);
	uint64_t m[1];

	assert_int_equal(iommudirty_tracker_map(f->t, mem, MiB, 0, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_start(f->t), 0);
	for (int i = 0; i < 20000; i++) {
		assert_int_equal(fx_write(f, 0, PG, 1), 0);
		assert_int_equal(iommudirty_tracker_read(f->t, 0, PG, PG, m, sizeof(m), 0), 0);
	}
	/* Merged as they come: not one extent per read. */
	assert_true(f->t->npending < 512);
	/* Every page-1 bit went to pending, merged: one read reports it. */
	assert_int_equal(iommudirty_tracker_read(f->t, PG, PG, PG, m, sizeof(m), 0), 0);
	assert_int_equal(m[0], 1);
	assert_int_equal(iommudirty_tracker_read(f->t, PG, PG, PG, m, sizeof(m), 0), 0);
	assert_int_equal(m[0], 0);
}

/* An adopted IOAS holds VMM mappings the tracker was not told of: an
 * unmap over them removes only what the tracker knows. */
static void test_unmap_spares_unknown_mappings(void **state)
{
	struct fx f;
	struct uapi_ioas_alloc ia = { .size = sizeof(ia) };
	uint8_t *mem;
	uint64_t m[12];

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
	mem = fx_mem(&f, 3 * MiB, PG);
	/* The VMM's own mapping in the middle, unknown to the tracker. */
	struct uapi_ioas_map mp = { .size = sizeof(mp), .ioas_id = ia.out_ioas_id,
				    .flags = UAPI_IOAS_MAP_FIXED_IOVA | UAPI_IOAS_MAP_WRITEABLE,
				    .user_va = (uintptr_t)mem + MiB, .length = MiB, .iova = MiB };
	assert_int_equal(iommudirty_sim_ioctl(f.sim, iommudirty_ctx_fd(f.ctx), IOMMU_IOAS_MAP,
					      &mp), 0);
	assert_int_equal(iommudirty_tracker_map(f.t, mem, MiB, 0, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_map(f.t, mem + 2 * MiB, MiB, 2 * MiB,
						IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_start(f.t), 0);
	assert_int_equal(iommudirty_tracker_unmap(f.t, 0, 3 * MiB), 0);
	assert_int_equal(fx_write(&f, 0, 0, 1), -EFAULT);
	assert_int_equal(fx_write(&f, 0, 2 * MiB, 1), -EFAULT);
	assert_int_equal(fx_write(&f, 0, MiB, 1), 0); /* the VMM's: still there */
	assert_int_equal(iommudirty_tracker_map(f.t, mem, MiB, 0, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_unmap_dirty(f.t, 0, 3 * MiB, PG, m, sizeof(m), 0), 0);
	assert_int_equal(fx_write(&f, 0, MiB, 1), 0);
	iommudirty_tracker_free(f.t);
	f.t = NULL;
	{
		struct uapi_destroy d = { .size = sizeof(d), .id = ia.out_ioas_id };

		assert_int_equal(iommudirty_sim_ioctl(f.sim, iommudirty_ctx_fd(f.ctx), IOMMU_DESTROY,
						      &d), 0);
	}
	fx_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test_setup_teardown(test_read_and_clear, setup_one, teardown),
		cmocka_unit_test_setup_teardown(test_page_sizes, setup_one, teardown),
		cmocka_unit_test_setup_teardown(test_holes_and_runs, setup_one, teardown),
		cmocka_unit_test_setup_teardown(test_unaligned_bit_offset, setup_one, teardown),
		cmocka_unit_test_setup_teardown(test_run_unaligned_to_page_size, setup_one, teardown),
		cmocka_unit_test_setup_teardown(test_start_twice_keeps_bits, setup_one, teardown),
		cmocka_unit_test(test_two_hwpts_union),
		cmocka_unit_test(test_device_that_cannot_track),
		cmocka_unit_test(test_untracked_writer_is_conservative),
		cmocka_unit_test_setup_teardown(test_unmap_dirty, setup_one, teardown),
		cmocka_unit_test(test_huge_iopte_partial_clear),
		cmocka_unit_test(test_huge_iopte_no_overrun),
		cmocka_unit_test_setup_teardown(test_bad_input, setup_one, teardown),
		cmocka_unit_test_setup_teardown(test_iova_ranges, setup_one, teardown),
		cmocka_unit_test(test_adopt_everything),
		cmocka_unit_test(test_alloc_hwpt_for_vmm),
		cmocka_unit_test(test_sparse_and_dense_1g),
		cmocka_unit_test_setup_teardown(test_concurrent_reads_and_writes, setup_one, teardown),
		cmocka_unit_test_setup_teardown(test_log_callback, setup_one, teardown),
		cmocka_unit_test(test_failed_start_keeps_adopted_tracking),
		cmocka_unit_test(test_concurrent_widened_reads),
		cmocka_unit_test(test_unmap_spares_unknown_mappings),
		cmocka_unit_test_setup_teardown(test_range_at_the_top, setup_one, teardown),
		cmocka_unit_test_setup_teardown(test_pending_stays_bounded, setup_one, teardown),
		cmocka_unit_test_setup_teardown(test_detach_device_of_another_context, setup_one,
						teardown),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
