/* SPDX-License-Identifier: LGPL-2.1-or-later */
/*
 * Per-device dirty sources on the simulated kernel: a device's own DMA
 * log, beside IOMMU HWPTs, the type1 container and untracked writers.
 * Every test checks the bits against what the devices wrote and what the
 * sim holds afterwards, not only return codes.
 */
#include <errno.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "fixture.h"
#include "uapi.h"

#define PG 4096ull

static const struct iommudirty_sim_device_opts logging = {
	.sz = sizeof(logging),
	.flags = IOMMUDIRTY_SIM_DEV_DMA_LOGGING,
	.migration_flags = 1, /* STOP_COPY */
};

/* A tracker with one device whose only dirty source is its DMA log (its
 * IOMMU cannot track), attached. */
static void logging_tracker(struct fx *f)
{
	assert_int_equal(fx_init(f), 0);
	assert_int_equal(fx_add_iommu(f, 0, IOMMUDIRTY_SIM_IOMMU_NO_DIRTY), 0);
	assert_int_equal(fx_add_vfio_device(f, 0, &logging), 0);
	assert_int_equal(fx_tracker(f), 0);
	assert_int_equal(iommudirty_tracker_attach(f->t, f->dev[0]), 0);
}

static bool si_has(const struct iommudirty_source_info *si, uint32_t r)
{
	for (uint32_t i = 0; i < si->nr_reasons; i++)
		if (si->reasons[i] == r)
			return true;
	return false;
}

static struct iommudirty_source_info source(struct fx *f, unsigned int i)
{
	IOMMUDIRTY_OPTS(iommudirty_source_info, si);

	assert_true(iommudirty_tracker_source_info(f->t, i, &si) > (int)i);
	return si;
}

static int new_tracker(struct fx *f, uint32_t policy, unsigned int flags)
{
	IOMMUDIRTY_OPTS(iommudirty_tracker_opts, o, .policy = policy, .flags = flags);

	return iommudirty_tracker_new(f->ctx, &o, &f->t);
}

static uint64_t reads(struct fx *f)
{
	struct iommudirty_sim_stats st = { .sz = sizeof(st) };

	iommudirty_sim_get_stats(f->sim, &st);
	return st.ioctls;
}

/* A logging device behind an IOMMU that cannot track: the log is chosen,
 * the data is precise, the device caps say so. */
static void test_log_is_chosen_and_precise(void **state)
{
	struct fx f;
	IOMMUDIRTY_OPTS(iommudirty_caps, caps);
	struct iommudirty_tracker_info info = { .sz = sizeof(info) };
	struct iommudirty_source_info si;
	uint64_t m[2];
	uint8_t *mem;

	(void)state;
	assert_int_equal(fx_init(&f), 0);
	assert_int_equal(fx_add_iommu(&f, 0, IOMMUDIRTY_SIM_IOMMU_NO_DIRTY), 0);
	assert_int_equal(fx_add_vfio_device(&f, 0, &logging), 0);
	assert_int_equal(iommudirty_device_caps(f.dev[0], &caps), 0);
	assert_int_equal(caps.dma_logging, 1);
	assert_int_equal(caps.migration_flags, 1);
	assert_int_equal(caps.dirty, 0);
	assert_int_equal(new_tracker(&f, 0, IOMMUDIRTY_TRACKER_PRECISE_ONLY), 0);
	assert_int_equal(iommudirty_tracker_attach(f.t, f.dev[0]), 0);
	si = source(&f, 0);
	assert_int_equal(si.source, IOMMUDIRTY_SOURCE_DEVICE_LOG);
	assert_int_equal(si.precise, 1);
	assert_int_equal(si.migration_flags, 1);
	assert_true(si_has(&si, IOMMUDIRTY_REASON_DEVICE_CANNOT_TRACK));
	assert_false(si_has(&si, IOMMUDIRTY_REASON_UNTRACKED_WRITER));
	assert_int_equal(si.log_nr_ranges, 0); /* not started */

	mem = fx_mem(&f, MiB, PG);
	assert_int_equal(iommudirty_tracker_map(f.t, mem, 64 * KiB, 0, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_map(f.t, mem + 64 * KiB, 64 * KiB, 64 * KiB,
						IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_start(f.t), 0);
	si = source(&f, 0);
	assert_int_equal(si.log_nr_ranges, 1); /* adjacent mappings: one range */
	assert_int_equal(si.log_tracked_bytes, 128 * KiB);
	assert_int_equal(si.log_page_size, PG);
	assert_int_equal(iommudirty_tracker_info(f.t, &info), 0);
	assert_int_equal(info.precise, 1);

	assert_int_equal(fx_write(&f, 0, 3 * PG + 100, 10), 0);
	assert_int_equal(fx_write(&f, 0, 17 * PG, 2 * PG), 0); /* across mappings */
	assert_int_equal(iommudirty_tracker_read(f.t, 0, 32 * PG, PG, m, sizeof(m), 0), 0);
	assert_int_equal(m[0], (1ull << 3) | (1ull << 17) | (1ull << 18));
	/* Read and clear: the next read is clean. */
	assert_int_equal(iommudirty_tracker_read(f.t, 0, 32 * PG, PG, m, sizeof(m), 0), 0);
	assert_int_equal(m[0], 0);
	fx_fini(&f);
}

/* REPORT clears, so NO_CLEAR keeps the bits in the library; reads at page
 * sizes below 4 KiB (the kernel's minimum) and above it; a partial read
 * keeps what the REPORT took outside the range. */
static void test_no_clear_and_page_sizes(void **state)
{
	struct fx f;
	uint64_t m[4];
	uint8_t *mem;

	(void)state;
	logging_tracker(&f);
	mem = fx_mem(&f, MiB, PG);
	assert_int_equal(iommudirty_tracker_map(f.t, mem, 256 * KiB, 0, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_start(f.t), 0);
	assert_int_equal(fx_write(&f, 0, 5 * PG, 1), 0);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(iommudirty_tracker_read(f.t, 0, 64 * PG, PG, m, sizeof(m),
							 IOMMUDIRTY_READ_NO_CLEAR), 0);
		assert_int_equal(m[0], 1ull << 5);
	}
	/* 2 KiB pages: the log's 4 KiB page sets both halves. */
	assert_int_equal(iommudirty_tracker_read(f.t, 0, 32 * PG, PG / 2, m, sizeof(m),
						 IOMMUDIRTY_READ_NO_CLEAR), 0);
	assert_int_equal(m[0], 3ull << 10);
	/* 16 KiB pages: page 1 holds 4 KiB page 5. */
	assert_int_equal(iommudirty_tracker_read(f.t, 0, 64 * PG, 4 * PG, m, sizeof(m), 0), 0);
	assert_int_equal(m[0], 1ull << 1);
	assert_int_equal(iommudirty_tracker_read(f.t, 0, 64 * PG, PG, m, sizeof(m), 0), 0);
	assert_int_equal(m[0], 0);

	/* A read of part of the logged range takes only that part. */
	assert_int_equal(fx_write(&f, 0, 9 * PG, 2 * PG), 0);
	assert_int_equal(iommudirty_tracker_read(f.t, 9 * PG, PG, PG / 2, m, sizeof(m), 0), 0);
	assert_int_equal(m[0], 3);
	assert_int_equal(iommudirty_tracker_read(f.t, 0, 64 * PG, PG, m, sizeof(m), 0), 0);
	assert_int_equal(m[0], 1ull << 10);
	fx_fini(&f);
}

/* One device of each kind: the union, each device's source queryable. */
static void test_mixed_sources_union(void **state)
{
	struct fx f;
	struct iommudirty_tracker_info info = { .sz = sizeof(info) };
	struct iommudirty_source_info si;
	uint64_t m[2];
	uint8_t *mem;

	(void)state;
	assert_int_equal(fx_init(&f), 0);
	assert_int_equal(fx_add_iommu(&f, 0, 0), 0);                            /* tracks */
	assert_int_equal(fx_add_iommu(&f, 0, IOMMUDIRTY_SIM_IOMMU_NO_DIRTY), 1); /* cannot */
	assert_int_equal(fx_add_device(&f, 0), 0);                 /* IOMMU */
	assert_int_equal(fx_add_vfio_device(&f, 1, &logging), 1);  /* its log */
	assert_int_equal(fx_add_device(&f, 1), 2);                 /* nothing */
	assert_int_equal(fx_tracker(&f), 0);
	for (int i = 0; i < 3; i++)
		assert_int_equal(iommudirty_tracker_attach(f.t, f.dev[i]), 0);
	assert_int_equal(source(&f, 0).source, IOMMUDIRTY_SOURCE_IOMMU);
	assert_int_equal(source(&f, 1).source, IOMMUDIRTY_SOURCE_DEVICE_LOG);
	si = source(&f, 2);
	assert_int_equal(si.source, IOMMUDIRTY_SOURCE_NONE);
	assert_true(si_has(&si, IOMMUDIRTY_REASON_NO_DMA_LOGGING));
	assert_true(si_has(&si, IOMMUDIRTY_REASON_DEVICE_CANNOT_TRACK));
	assert_int_equal(iommudirty_tracker_info(f.t, &info), 0);
	assert_int_equal(info.nr_devices, 3);
	assert_int_equal(info.nr_conservative, 1);
	assert_int_equal(info.precise, 0);

	mem = fx_mem(&f, MiB, PG);
	/* Pages 0-15 writable, 16-31 read-only. */
	assert_int_equal(iommudirty_tracker_map(f.t, mem, 64 * KiB, 0, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_map(f.t, mem + 64 * KiB, 64 * KiB, 64 * KiB,
						IOMMUDIRTY_MAP_READ), 0);
	assert_int_equal(iommudirty_tracker_start(f.t), 0);
	/* Without the untracked writer the union is the two precise ones. */
	assert_int_equal(iommudirty_tracker_detach(f.t, f.dev[2]), 0);
	assert_int_equal(iommudirty_tracker_read(f.t, 0, 32 * PG, PG, m, sizeof(m), 0), 0);
	assert_int_equal(m[0], 0xffff); /* what the untracked device owed */
	assert_int_equal(fx_write(&f, 0, 2 * PG, 1), 0);
	assert_int_equal(fx_write(&f, 1, 7 * PG, 1), 0);
	assert_int_equal(iommudirty_tracker_read(f.t, 0, 32 * PG, PG, m, sizeof(m), 0), 0);
	assert_int_equal(m[0], (1ull << 2) | (1ull << 7));
	assert_int_equal(iommudirty_tracker_info(f.t, &info), 0);
	assert_int_equal(info.precise, 1);
	/* Attached while started: every writable page, until it goes. */
	assert_int_equal(iommudirty_tracker_attach(f.t, f.dev[2]), 0);
	assert_int_equal(fx_write(&f, 1, 9 * PG, 1), 0);
	assert_int_equal(iommudirty_tracker_read(f.t, 0, 32 * PG, PG, m, sizeof(m), 0), 0);
	assert_int_equal(m[0], 0xffff);
	fx_fini(&f);
}

/* The policy decides among the sources a device has; forcing overrides. */
static void test_policies_and_forcing(void **state)
{
	struct fx f;
	struct iommudirty_source_info si;
	IOMMUDIRTY_OPTS(iommudirty_attach_opts, force_log,
			.source = IOMMUDIRTY_SOURCE_DEVICE_LOG);
	IOMMUDIRTY_OPTS(iommudirty_attach_opts, force_none, .source = IOMMUDIRTY_SOURCE_NONE);
	IOMMUDIRTY_OPTS(iommudirty_attach_opts, force_type1, .source = IOMMUDIRTY_SOURCE_TYPE1);

	(void)state;
	/* A device with both an IOMMU that tracks and a log. */
	assert_int_equal(fx_init(&f), 0);
	assert_int_equal(fx_add_iommu(&f, 0, 0), 0);
	assert_int_equal(fx_add_vfio_device(&f, 0, &logging), 0);
	assert_int_equal(fx_add_device(&f, 0), 1); /* IOMMU only */
	assert_int_equal(new_tracker(&f, IOMMUDIRTY_POLICY_PREFER_DEVICE_LOG, 0), 0);
	assert_int_equal(iommudirty_tracker_attach(f.t, f.dev[0]), 0);
	si = source(&f, 0);
	assert_int_equal(si.source, IOMMUDIRTY_SOURCE_DEVICE_LOG);
	assert_true(si_has(&si, IOMMUDIRTY_REASON_POLICY));
	iommudirty_tracker_free(f.t);
	f.t = NULL;

	assert_int_equal(new_tracker(&f, IOMMUDIRTY_POLICY_PREFER_IOMMU, 0), 0);
	assert_int_equal(iommudirty_tracker_attach(f.t, f.dev[0]), 0);
	si = source(&f, 0);
	assert_int_equal(si.source, IOMMUDIRTY_SOURCE_IOMMU);
	assert_true(si_has(&si, IOMMUDIRTY_REASON_POLICY));
	iommudirty_tracker_free(f.t);
	f.t = NULL;

	/* All or nothing: logs while every device has one, else none. */
	assert_int_equal(new_tracker(&f, IOMMUDIRTY_POLICY_ALL_OR_NOTHING, 0), 0);
	assert_int_equal(iommudirty_tracker_attach(f.t, f.dev[0]), 0);
	assert_int_equal(source(&f, 0).source, IOMMUDIRTY_SOURCE_DEVICE_LOG);
	assert_int_equal(iommudirty_tracker_attach(f.t, f.dev[1]), 0);
	si = source(&f, 0);
	assert_int_equal(si.source, IOMMUDIRTY_SOURCE_IOMMU);
	assert_true(si_has(&si, IOMMUDIRTY_REASON_NOT_ALL_LOG));
	assert_int_equal(source(&f, 1).source, IOMMUDIRTY_SOURCE_IOMMU);
	assert_int_equal(iommudirty_tracker_detach(f.t, f.dev[1]), 0);
	assert_int_equal(source(&f, 0).source, IOMMUDIRTY_SOURCE_DEVICE_LOG);
	iommudirty_tracker_free(f.t);
	f.t = NULL;

	/* Forced: what the device has, or -EOPNOTSUPP and not attached. */
	assert_int_equal(new_tracker(&f, 0, 0), 0);
	assert_int_equal(iommudirty_tracker_attach_device(f.t, f.dev[1], &force_log), -EOPNOTSUPP);
	assert_int_equal(iommudirty_tracker_attach_device(f.t, f.dev[1], &force_type1), -EOPNOTSUPP);
	assert_int_equal(fx_write(&f, 1, 0, 1), -ENODEV);
	assert_int_equal(iommudirty_tracker_attach_device(f.t, f.dev[1], &force_none), 0);
	si = source(&f, 0);
	assert_int_equal(si.source, IOMMUDIRTY_SOURCE_NONE);
	assert_true(si_has(&si, IOMMUDIRTY_REASON_FORCED));
	assert_int_equal(iommudirty_tracker_attach_device(f.t, f.dev[0], &force_log), 0);
	assert_int_equal(source(&f, 1).source, IOMMUDIRTY_SOURCE_DEVICE_LOG);
	fx_fini(&f);
}

/* The device takes 4 ranges at most: START is retried with fewer, wider
 * ranges; nothing written is lost, the merge is reported. */
static void test_range_limit_merges(void **state)
{
	struct fx f;
	struct iommudirty_sim_device_opts o = logging;
	struct iommudirty_source_info si;
	uint64_t m[4];
	uint8_t *mem;

	(void)state;
	o.log_max_ranges = 4;
	assert_int_equal(fx_init(&f), 0);
	assert_int_equal(fx_add_iommu(&f, 0, IOMMUDIRTY_SIM_IOMMU_NO_DIRTY), 0);
	assert_int_equal(fx_add_vfio_device(&f, 0, &o), 0);
	assert_int_equal(fx_tracker(&f), 0);
	assert_int_equal(iommudirty_tracker_attach(f.t, f.dev[0]), 0);
	mem = fx_mem(&f, MiB, PG);
	/* 10 one-page mappings, every other page. */
	for (int i = 0; i < 10; i++)
		assert_int_equal(iommudirty_tracker_map(f.t, mem + i * PG, PG, 2 * i * PG,
							IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_start(f.t), 0);
	si = source(&f, 0);
	assert_true(si.log_nr_ranges <= 4 && si.log_nr_ranges >= 1);
	assert_true(si_has(&si, IOMMUDIRTY_REASON_LOG_RANGES_MERGED));
	assert_int_equal(si.log_tracked_bytes % PG, 0);
	for (int i = 0; i < 10; i++)
		assert_int_equal(fx_write(&f, 0, 2 * i * PG, 1), 0);
	assert_int_equal(iommudirty_tracker_read(f.t, 0, 64 * PG, PG, m, sizeof(m), 0), 0);
	assert_int_equal(m[0], 0x55555);
	assert_int_equal(si.precise, 1);
	fx_fini(&f);
}

/* A device that refuses every START (span limit): the device falls back
 * to the next source, with the reason; forced, start fails. */
static void test_log_refused_falls_back(void **state)
{
	struct fx f;
	struct iommudirty_sim_device_opts o = logging;
	struct iommudirty_source_info si;
	IOMMUDIRTY_OPTS(iommudirty_attach_opts, force_log,
			.source = IOMMUDIRTY_SOURCE_DEVICE_LOG);
	uint64_t m[2];
	uint8_t *mem;

	(void)state;
	o.log_max_span = 16 * PG;
	assert_int_equal(fx_init(&f), 0);
	assert_int_equal(fx_add_iommu(&f, 0, 0), 0);
	assert_int_equal(fx_add_vfio_device(&f, 0, &o), 0);
	assert_int_equal(fx_tracker(&f), 0);
	assert_int_equal(iommudirty_tracker_attach(f.t, f.dev[0]), 0);
	mem = fx_mem(&f, MiB, PG);
	assert_int_equal(iommudirty_tracker_map(f.t, mem, 64 * KiB, 0, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_map(f.t, mem + 64 * KiB, 64 * KiB, 4 * MiB,
						IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_start(f.t), 0);
	si = source(&f, 0);
	assert_int_equal(si.source, IOMMUDIRTY_SOURCE_IOMMU);
	assert_true(si_has(&si, IOMMUDIRTY_REASON_LOG_START_FAILED));
	/* Its HWPT tracks now: still precise. */
	assert_int_equal(fx_write(&f, 0, 4 * PG, 1), 0);
	assert_int_equal(iommudirty_tracker_read(f.t, 0, 16 * PG, PG, m, sizeof(m), 0), 0);
	assert_int_equal(m[0], 1ull << 4);
	assert_int_equal(iommudirty_tracker_stop(f.t), 0);
	assert_int_equal(iommudirty_tracker_detach(f.t, f.dev[0]), 0);
	assert_int_equal(iommudirty_tracker_attach_device(f.t, f.dev[0], &force_log), 0);
	assert_int_equal(iommudirty_tracker_start(f.t), -E2BIG);
	assert_int_equal(iommudirty_tracker_started(f.t), 0);
	fx_fini(&f);
}

/* The device picks a 64 KiB log page: a 4 KiB write reports its whole
 * 64 KiB at 4 KiB pages (over-reporting by design, never losing). */
static void test_device_page_size(void **state)
{
	struct fx f;
	struct iommudirty_sim_device_opts o = logging;
	uint64_t m[1];
	uint8_t *mem;

	(void)state;
	o.log_page_size = 64 * KiB;
	assert_int_equal(fx_init(&f), 0);
	assert_int_equal(fx_add_iommu(&f, 0, IOMMUDIRTY_SIM_IOMMU_NO_DIRTY), 0);
	assert_int_equal(fx_add_vfio_device(&f, 0, &o), 0);
	assert_int_equal(fx_tracker(&f), 0);
	assert_int_equal(iommudirty_tracker_attach(f.t, f.dev[0]), 0);
	mem = fx_mem(&f, MiB, 64 * KiB);
	assert_int_equal(iommudirty_tracker_map(f.t, mem, 256 * KiB, 0, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_start(f.t), 0);
	assert_int_equal(source(&f, 0).log_page_size, 64 * KiB);
	assert_int_equal(fx_write(&f, 0, 17 * PG, 1), 0);
	assert_int_equal(iommudirty_tracker_read(f.t, 0, 64 * PG, PG, m, sizeof(m), 0), 0);
	assert_int_equal(m[0], 0xffffull << 16);
	/* A read of part of a log page: REPORT would clear all of it, so the
	 * library reads the whole log page and keeps the rest pending. */
	assert_int_equal(fx_write(&f, 0, 33 * PG, 1), 0);
	assert_int_equal(iommudirty_tracker_read(f.t, 32 * PG, 4 * PG, PG, m, sizeof(m), 0), 0);
	assert_int_equal(m[0], 0xf);
	assert_int_equal(iommudirty_tracker_read(f.t, 36 * PG, 4 * PG, PG, m, sizeof(m),
						 IOMMUDIRTY_READ_NO_CLEAR), 0);
	assert_int_equal(m[0], 0xf);
	assert_int_equal(iommudirty_tracker_read(f.t, 0, 64 * PG, PG, m, sizeof(m), 0), 0);
	assert_int_equal(m[0], 0xfff0ull << 32);
	assert_int_equal(iommudirty_tracker_read(f.t, 0, 64 * PG, PG, m, sizeof(m), 0), 0);
	assert_int_equal(m[0], 0);
	fx_fini(&f);
}

/* A mapping made after START lies outside the logged ranges: reported
 * dirty on every read, with the reason; declared windows cover it. */
static void test_untracked_mapping_and_windows(void **state)
{
	struct fx f;
	struct iommudirty_source_info si;
	const struct iommudirty_iova_range win[] = { { 0, 2 * MiB - 1 } };
	uint64_t m[1];
	uint8_t *mem;

	(void)state;
	logging_tracker(&f);
	mem = fx_mem(&f, 2 * MiB, PG);
	assert_int_equal(iommudirty_tracker_map(f.t, mem, 64 * KiB, 0, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_start(f.t), 0);
	assert_int_equal(iommudirty_tracker_map(f.t, mem + MiB, 64 * KiB, MiB,
						IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(fx_write(&f, 0, PG, 1), 0);
	assert_int_equal(iommudirty_tracker_read(f.t, 0, 16 * PG, PG, m, sizeof(m), 0), 0);
	assert_int_equal(m[0], 2);
	for (int i = 0; i < 2; i++) {
		assert_int_equal(iommudirty_tracker_read(f.t, MiB, 16 * PG, PG, m, sizeof(m), 0), 0);
		assert_int_equal(m[0], 0xffff);
	}
	si = source(&f, 0);
	assert_true(si_has(&si, IOMMUDIRTY_REASON_LOG_UNTRACKED_MAPPING));
	assert_int_equal(si.precise, 0);
	iommudirty_tracker_free(f.t);
	f.t = NULL;

	{
		IOMMUDIRTY_OPTS(iommudirty_tracker_opts, o, .log_windows = win,
				.nr_log_windows = 1);

		assert_int_equal(iommudirty_tracker_new(f.ctx, &o, &f.t), 0);
	}
	assert_int_equal(iommudirty_tracker_attach(f.t, f.dev[0]), 0);
	assert_int_equal(iommudirty_tracker_start(f.t), 0); /* nothing mapped yet */
	si = source(&f, 0);
	assert_int_equal(si.log_nr_ranges, 1);
	assert_int_equal(si.log_tracked_bytes, 2 * MiB);
	assert_int_equal(iommudirty_tracker_map(f.t, mem + MiB, 64 * KiB, MiB,
						IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(fx_write(&f, 0, MiB + 2 * PG, 1), 0);
	assert_int_equal(iommudirty_tracker_read(f.t, MiB, 16 * PG, PG, m, sizeof(m), 0), 0);
	assert_int_equal(m[0], 4);
	assert_false(si_has(&si, IOMMUDIRTY_REASON_LOG_UNTRACKED_MAPPING));
	fx_fini(&f);
}

/* unmap_dirty and write_protect with logging devices only: unmap, then
 * REPORT. A write just before the unmap is reported; none can follow. */
static void test_unmap_then_report(void **state)
{
	struct fx f;
	uint64_t m[1], before;
	uint8_t *mem;

	(void)state;
	logging_tracker(&f);
	mem = fx_mem(&f, MiB, PG);
	assert_int_equal(iommudirty_tracker_map(f.t, mem, 64 * KiB, 0, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_map(f.t, mem + 64 * KiB, 64 * KiB, 64 * KiB,
						IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_map(f.t, mem + 128 * KiB, 64 * KiB, 128 * KiB,
						IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_start(f.t), 0);
	assert_int_equal(fx_write(&f, 0, 2 * PG, 1), 0);
	assert_int_equal(fx_write(&f, 0, 16 * PG + 5 * PG, 1), 0);
	assert_int_equal(iommudirty_tracker_unmap_dirty(f.t, 0, 64 * KiB, PG, m, sizeof(m), 0), 0);
	assert_int_equal(m[0], 1ull << 2);
	assert_int_equal(fx_write(&f, 0, 2 * PG, 1), -EFAULT);
	/* write_protect: the mapping reads clean and cannot be written,
	 * with no IOAS copy (logs need no move). */
	before = reads(&f);
	assert_int_equal(iommudirty_tracker_write_protect(f.t, 64 * KiB, 64 * KiB, PG, m,
							  sizeof(m), 0), 0);
	assert_true(reads(&f) - before <= 3); /* unmap + REPORT(s) */
	assert_int_equal(m[0], 1ull << 5);
	assert_int_equal(fx_write(&f, 0, 64 * KiB, 1), -EFAULT);
	assert_int_equal(iommudirty_tracker_read(f.t, 64 * KiB, 64 * KiB, PG, m, sizeof(m), 0), 0);
	assert_int_equal(m[0], 0);
	assert_int_equal(iommudirty_tracker_unmap(f.t, 64 * KiB, 64 * KiB), 0);
	/* The atomic flag is accepted and the same. */
	assert_int_equal(fx_write(&f, 0, 128 * KiB + PG, 1), 0);
	assert_int_equal(iommudirty_tracker_unmap_dirty(f.t, 128 * KiB, 64 * KiB, PG, m,
							sizeof(m), IOMMUDIRTY_UNMAP_ATOMIC), 0);
	assert_int_equal(m[0], 2);
	fx_fini(&f);
}

/* The atomic unmap with a HWPT-tracked device beside a logging one on the
 * IOAS: both fenced (moved), both harvested. */
static void test_atomic_mixed(void **state)
{
	struct fx f;
	uint64_t m[1];
	uint8_t *mem;

	(void)state;
	assert_int_equal(fx_init(&f), 0);
	assert_int_equal(fx_add_iommu(&f, 0, 0), 0);
	assert_int_equal(fx_add_iommu(&f, 0, IOMMUDIRTY_SIM_IOMMU_NO_DIRTY), 1);
	assert_int_equal(fx_add_device(&f, 0), 0);
	assert_int_equal(fx_add_vfio_device(&f, 1, &logging), 1);
	assert_int_equal(fx_tracker(&f), 0);
	assert_int_equal(iommudirty_tracker_attach(f.t, f.dev[0]), 0);
	assert_int_equal(iommudirty_tracker_attach(f.t, f.dev[1]), 0);
	mem = fx_mem(&f, MiB, PG);
	assert_int_equal(iommudirty_tracker_map(f.t, mem, 64 * KiB, 0, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_map(f.t, mem + 64 * KiB, 64 * KiB, 64 * KiB,
						IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_start(f.t), 0);
	assert_int_equal(fx_write(&f, 0, PG, 1), 0);
	assert_int_equal(fx_write(&f, 1, 3 * PG, 1), 0);
	assert_int_equal(fx_write(&f, 1, 64 * KiB + 7 * PG, 1), 0);
	assert_int_equal(iommudirty_tracker_write_protect(f.t, 0, 64 * KiB, PG, m, sizeof(m), 0), 0);
	assert_int_equal(m[0], (1ull << 1) | (1ull << 3));
	assert_int_equal(fx_write(&f, 0, 0, 1), -EFAULT);
	assert_int_equal(fx_write(&f, 1, 0, 1), -EFAULT);
	/* The other mapping is still there for both, its bit still owed. */
	assert_int_equal(fx_write(&f, 0, 64 * KiB + 9 * PG, 1), 0);
	assert_int_equal(iommudirty_tracker_read(f.t, 64 * KiB, 64 * KiB, PG, m, sizeof(m), 0), 0);
	assert_int_equal(m[0], (1ull << 7) | (1ull << 9));
	fx_fini(&f);
}

/* A failed REPORT: the error is returned, the range read is reported
 * dirty, and the device's other logged pages stay owed. */
static void test_report_failure(void **state)
{
	struct fx f;
	uint64_t m[2];
	uint8_t *mem;

	(void)state;
	logging_tracker(&f);
	mem = fx_mem(&f, MiB, PG);
	assert_int_equal(iommudirty_tracker_map(f.t, mem, 128 * KiB, 0, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_start(f.t), 0);
	assert_int_equal(iommudirty_sim_fail_call(f.sim, 1, -EIO), 0);
	assert_int_equal(iommudirty_tracker_read(f.t, 0, 16 * PG, PG, m, sizeof(m), 0), -EIO);
	assert_int_equal(m[0], 0xffff);
	{
		struct iommudirty_source_info si = source(&f, 0);

		assert_true(si_has(&si, IOMMUDIRTY_REASON_LOG_REPORT_FAILED));
	}
	/* The rest of its logged range is owed once. */
	assert_int_equal(iommudirty_tracker_read(f.t, 0, 32 * PG, PG, m, sizeof(m), 0), 0);
	assert_int_equal(m[0], 0xffffffff);
	assert_int_equal(iommudirty_tracker_read(f.t, 0, 32 * PG, PG, m, sizeof(m), 0), 0);
	assert_int_equal(m[0], 0);
	fx_fini(&f);
}

/* Detach reads what the log still holds: reported by the next read. */
static void test_detach_drains_log(void **state)
{
	struct fx f;
	uint64_t m[1];
	uint8_t *mem;

	(void)state;
	logging_tracker(&f);
	mem = fx_mem(&f, MiB, PG);
	assert_int_equal(iommudirty_tracker_map(f.t, mem, 64 * KiB, 0, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_start(f.t), 0);
	assert_int_equal(fx_write(&f, 0, 6 * PG, 1), 0);
	assert_int_equal(iommudirty_tracker_detach(f.t, f.dev[0]), 0);
	assert_int_equal(fx_write(&f, 0, 6 * PG, 1), -ENODEV);
	assert_int_equal(iommudirty_tracker_read(f.t, 0, 16 * PG, PG, m, sizeof(m), 0), 0);
	assert_int_equal(m[0], 1ull << 6);
	assert_int_equal(iommudirty_tracker_read(f.t, 0, 16 * PG, PG, m, sizeof(m), 0), 0);
	assert_int_equal(m[0], 0);
	/* Attach while started: START at attach, logged at once. */
	assert_int_equal(iommudirty_tracker_attach(f.t, f.dev[0]), 0);
	assert_int_equal(source(&f, 0).log_nr_ranges, 1);
	assert_int_equal(fx_write(&f, 0, 8 * PG, 1), 0);
	assert_int_equal(iommudirty_tracker_read(f.t, 0, 16 * PG, PG, m, sizeof(m), 0), 0);
	assert_int_equal(m[0], 1ull << 8);
	fx_fini(&f);
}

/* The device writes up to the moment it is detached (here: right before
 * the kernel's detach): its log must be read after the detach, not
 * before, or that last write is lost. */
struct late_write {
	struct fx *f;
	int writes;
};

static void write_before_detach(void *user, int fd, unsigned long request)
{
	struct late_write *lw = user;

	(void)fd;
	if (request == VFIO_DEVICE_DETACH_IOMMUFD_PT &&
	    fx_write(lw->f, 0, 9 * PG, 1) == 0)
		lw->writes++;
}

static void test_detach_reads_log_after_the_last_write(void **state)
{
	struct fx f;
	struct late_write lw = { .f = &f };
	uint64_t m[1];
	uint8_t *mem;

	(void)state;
	logging_tracker(&f);
	mem = fx_mem(&f, MiB, PG);
	assert_int_equal(iommudirty_tracker_map(f.t, mem, 64 * KiB, 0, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_start(f.t), 0);
	assert_int_equal(iommudirty_sim_set_hook(f.sim, write_before_detach, &lw), 0);
	assert_int_equal(iommudirty_tracker_detach(f.t, f.dev[0]), 0);
	assert_int_equal(iommudirty_sim_set_hook(f.sim, NULL, NULL), 0);
	assert_int_equal(lw.writes, 1); /* it landed: the device was still on */
	assert_int_equal(iommudirty_tracker_read(f.t, 0, 16 * PG, PG, m, sizeof(m), 0), 0);
	assert_int_equal(m[0], 1ull << 9);
	fx_fini(&f);
}

/* An emulated-IOMMU device (an mdev): attached to the IOAS, its log is
 * its only source. */
static void test_emulated_iommu_device(void **state)
{
	struct fx f;
	struct iommudirty_sim_device_opts o = logging;
	IOMMUDIRTY_OPTS(iommudirty_caps, caps);
	IOMMUDIRTY_OPTS(iommudirty_attach_opts, force_iommu, .source = IOMMUDIRTY_SOURCE_IOMMU);
	struct iommudirty_source_info si;
	uint64_t m[1];
	uint8_t *mem;

	(void)state;
	o.flags |= IOMMUDIRTY_SIM_DEV_EMULATED_IOMMU;
	o.migration_flags = 7;
	assert_int_equal(fx_init(&f), 0);
	assert_int_equal(fx_add_vfio_device(&f, -1, &o), 0);
	assert_int_equal(iommudirty_device_caps(f.dev[0], &caps), 0);
	assert_int_equal(caps.emulated_iommu, 1);
	assert_int_equal(caps.dma_logging, 1);
	assert_int_equal(caps.migration_flags, 7);
	assert_int_equal(fx_tracker(&f), 0);
	assert_int_equal(iommudirty_tracker_attach_device(f.t, f.dev[0], &force_iommu),
			 -EOPNOTSUPP);
	assert_int_equal(iommudirty_tracker_attach(f.t, f.dev[0]), 0);
	si = source(&f, 0);
	assert_int_equal(si.source, IOMMUDIRTY_SOURCE_DEVICE_LOG);
	assert_true(si_has(&si, IOMMUDIRTY_REASON_EMULATED_IOMMU));
	assert_int_equal(iommudirty_tracker_hwpt_ids(f.t, NULL, 0), 0);
	mem = fx_mem(&f, MiB, PG);
	assert_int_equal(iommudirty_tracker_map(f.t, mem, 64 * KiB, 0, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_start(f.t), 0);
	assert_int_equal(fx_write(&f, 0, 11 * PG, 1), 0);
	assert_int_equal(iommudirty_tracker_read(f.t, 0, 16 * PG, PG, m, sizeof(m), 0), 0);
	assert_int_equal(m[0], 1ull << 11);
	fx_fini(&f);
}

/* A type1 tracker: the logging device reads its log through its group
 * device fd, the container tracks only for the device that has nothing
 * else (and is conservative, as type1 is). */
static void test_type1_with_a_log(void **state)
{
	struct fx f;
	struct iommudirty_tracker_info info = { .sz = sizeof(info) };
	char bdf[2][16];
	const char *bdfs[2] = { bdf[0], bdf[1] };
	int dev[2];
	uint64_t m[1];
	uint8_t *mem;

	(void)state;
	assert_int_equal(fx_init(&f), 0);
	assert_int_equal(fx_add_iommu(&f, 0, IOMMUDIRTY_SIM_IOMMU_NO_DIRTY), 0);
	{
		struct iommudirty_sim_device_opts o = logging;

		o.iommu = f.iommu[0];
		dev[0] = iommudirty_sim_add_vfio_device(f.sim, &o);
	}
	dev[1] = iommudirty_sim_add_device(f.sim, f.iommu[0]);
	for (int i = 0; i < 2; i++)
		assert_int_equal(iommudirty_sim_device_bdf(f.sim, dev[i], bdf[i], 16), 0);
	mem = fx_mem(&f, MiB, PG);
	for (int n = 1; n <= 2; n++) {
		IOMMUDIRTY_OPTS(iommudirty_tracker_opts, o, .backend = IOMMUDIRTY_BACKEND_TYPE1,
				.pci_devices = bdfs, .nr_pci_devices = (uint32_t)n);
		struct iommudirty_source_info si;

		assert_int_equal(iommudirty_tracker_new(f.ctx, &o, &f.t), 0);
		si = source(&f, 0);
		assert_int_equal(si.source, IOMMUDIRTY_SOURCE_DEVICE_LOG);
		assert_true(si_has(&si, IOMMUDIRTY_REASON_NEEDS_IOMMUFD));
		assert_int_equal(iommudirty_tracker_map(f.t, mem, 64 * KiB, 0,
							IOMMUDIRTY_MAP_WRITE), 0);
		assert_int_equal(iommudirty_tracker_start(f.t), 0);
		assert_int_equal(iommudirty_sim_dma_write(f.sim, dev[0], 4 * PG, 1, NULL), 0);
		assert_int_equal(iommudirty_tracker_read(f.t, 0, 16 * PG, PG, m, sizeof(m), 0), 0);
		assert_int_equal(iommudirty_tracker_info(f.t, &info), 0);
		if (n == 1) {
			/* The log alone: exact, and precise. */
			assert_int_equal(m[0], 1ull << 4);
			assert_int_equal(info.precise, 1);
		} else {
			assert_int_equal(source(&f, 1).source, IOMMUDIRTY_SOURCE_TYPE1);
			assert_int_equal(m[0], 0xffff);
			assert_int_equal(info.precise, 0);
			assert_int_equal(info.nr_conservative, 1);
		}
		/* The kernel's atomic unmap for type1, the log after it. */
		assert_int_equal(iommudirty_sim_dma_write(f.sim, dev[0], 9 * PG, 1, NULL), 0);
		assert_int_equal(iommudirty_tracker_unmap_dirty(f.t, 0, 64 * KiB, PG, m,
								sizeof(m), 0), 0);
		assert_int_equal(m[0], n == 1 ? 1ull << 9 : 0xffff);
		assert_int_equal(iommudirty_sim_dma_write(f.sim, dev[0], 9 * PG, 1, NULL), -EFAULT);
		iommudirty_tracker_free(f.t);
		f.t = NULL;
	}
	fx_fini(&f);
}

/* Sources forced per PCI device at creation; a device the VMM attached
 * itself, declared so its writes are not lost. */
static void test_pci_sources_and_by_vmm(void **state)
{
	struct fx f;
	struct iommudirty_source_info si;
	char bdf[16];
	const char *bdfs[1] = { bdf };
	const uint32_t none[1] = { IOMMUDIRTY_SOURCE_NONE };
	const uint32_t iommu[1] = { IOMMUDIRTY_SOURCE_IOMMU };
	IOMMUDIRTY_OPTS(iommudirty_attach_opts, by_vmm, .flags = IOMMUDIRTY_ATTACH_BY_VMM);
	struct iommudirty_sim_device_opts o = logging;
	uint64_t m[1];
	uint8_t *mem;
	int sdev;

	(void)state;
	assert_int_equal(fx_init(&f), 0);
	assert_int_equal(fx_add_iommu(&f, 0, IOMMUDIRTY_SIM_IOMMU_NO_DIRTY), 0);
	o.iommu = f.iommu[0];
	sdev = iommudirty_sim_add_vfio_device(f.sim, &o);
	assert_int_equal(iommudirty_sim_device_bdf(f.sim, sdev, bdf, sizeof(bdf)), 0);
	{
		IOMMUDIRTY_OPTS(iommudirty_tracker_opts, to, .pci_devices = bdfs,
				.nr_pci_devices = 1, .pci_sources = iommu);

		/* Its IOMMU cannot track: a forced IOMMU source is refused. */
		assert_int_equal(iommudirty_tracker_new(f.ctx, &to, &f.t), -EOPNOTSUPP);
		assert_null(f.t);
		to.pci_sources = none;
		assert_int_equal(iommudirty_tracker_new(f.ctx, &to, &f.t), 0);
	}
	si = source(&f, 0);
	assert_int_equal(si.source, IOMMUDIRTY_SOURCE_NONE);
	assert_int_equal(si.pci_index, 0);
	assert_true(si_has(&si, IOMMUDIRTY_REASON_FORCED));
	iommudirty_tracker_free(f.t);
	f.t = NULL;

	/* The VMM attaches a logging device to the tracker's IOAS itself. */
	assert_int_equal(fx_add_vfio_device(&f, 0, &logging), 0);
	assert_int_equal(fx_tracker(&f), 0);
	{
		struct uapi_vfio_attach_pt at = { .argsz = sizeof(at),
						  .pt_id = iommudirty_tracker_ioas_id(f.t) };

		assert_int_equal(iommudirty_sim_ioctl(f.sim, f.fd[0],
						      VFIO_DEVICE_ATTACH_IOMMUFD_PT, &at), 0);
	}
	assert_int_equal(iommudirty_tracker_attach_device(f.t, f.dev[0], &by_vmm), 0);
	si = source(&f, 0);
	assert_int_equal(si.source, IOMMUDIRTY_SOURCE_DEVICE_LOG);
	assert_int_equal(si.flags, IOMMUDIRTY_ATTACH_BY_VMM);
	mem = fx_mem(&f, MiB, PG);
	assert_int_equal(iommudirty_tracker_map(f.t, mem, 64 * KiB, 0, IOMMUDIRTY_MAP_WRITE), 0);
	assert_int_equal(iommudirty_tracker_start(f.t), 0);
	assert_int_equal(fx_write(&f, 0, 2 * PG, 1), 0);
	assert_int_equal(iommudirty_tracker_read(f.t, 0, 16 * PG, PG, m, sizeof(m), 0), 0);
	assert_int_equal(m[0], 4);
	/* Forgotten by detach, still attached in the kernel (the VMM's). */
	assert_int_equal(iommudirty_tracker_detach(f.t, f.dev[0]), 0);
	assert_int_equal(fx_write(&f, 0, 2 * PG, 1), 0);
	{
		struct uapi_vfio_detach_pt dt = { .argsz = sizeof(dt) };

		assert_int_equal(iommudirty_sim_ioctl(f.sim, f.fd[0],
						      VFIO_DEVICE_DETACH_IOMMUFD_PT, &dt), 0);
	}
	fx_fini(&f);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_log_is_chosen_and_precise),
		cmocka_unit_test(test_no_clear_and_page_sizes),
		cmocka_unit_test(test_mixed_sources_union),
		cmocka_unit_test(test_policies_and_forcing),
		cmocka_unit_test(test_range_limit_merges),
		cmocka_unit_test(test_log_refused_falls_back),
		cmocka_unit_test(test_device_page_size),
		cmocka_unit_test(test_untracked_mapping_and_windows),
		cmocka_unit_test(test_unmap_then_report),
		cmocka_unit_test(test_atomic_mixed),
		cmocka_unit_test(test_report_failure),
		cmocka_unit_test(test_detach_drains_log),
		cmocka_unit_test(test_detach_reads_log_after_the_last_write),
		cmocka_unit_test(test_emulated_iommu_device),
		cmocka_unit_test(test_type1_with_a_log),
		cmocka_unit_test(test_pci_sources_and_by_vmm),
	};

	return cmocka_run_group_tests(tests, NULL, NULL);
}
